/*
 * antifraud - core benchmark: ns per af_check_source over a mix of
 * requests, with a plain malloc host (no server).
 *
 * usage: bench_core RULES.yaml [iterations [RAW.sip ...]]
 *   with raw requests (files of the capture corpus), also ns per
 *   af_check_fingerprint over them; --dest, --auth, --outcome: ns per
 *   af_check_dest, per authentication result, per outcome event
 *   (--outcome --batched: per call end, ended 32 per af_calls_end);
 *   --memory: bytes per tracked subject in a shm store of 128 MiB per
 *   million iterations
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "af_core.h"
#include "af_host.h"
#include "af_host_plain.h"
#include "af_store_cluster.h"
#include "af_store_redis.h"
#include "af_store_shm.h"
#include "af_outcome.h"

#define S(x) ((af_str_t){x, sizeof(x) - 1})
#define NREQ 4096

enum kind { K_CALL, K_SCAN, K_REG, K_INDIALOG, K__N };
static const char *const kind_name[K__N] = {
		"legit INVITE", "scanner INVITE", "REGISTER", "in-dialog"};

static char users[NREQ][16];

static void make_ip(af_ip_t *ip, uint32_t v)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = 4;
	ip->addr[0] = (uint8_t)(v >> 24);
	ip->addr[1] = (uint8_t)(v >> 16);
	ip->addr[2] = (uint8_t)(v >> 8);
	ip->addr[3] = (uint8_t)v;
}

/* a request mix like a carrier edge sees: mostly calls and
 * registrations of real users, a steady trickle of scanners */
static void make_requests(af_request_t *req, enum kind *kinds)
{
	int i;
	uint32_t rnd = 12345;

	for(i = 0; i < NREQ; i++) {
		af_request_t *r = &req[i];
		int k;
		rnd = rnd * 1103515245u + 12345u;
		k = (rnd >> 8) % 100;
		memset(r, 0, sizeof(*r));
		r->initial = 1;
		r->proto = AF_P_UDP;
		r->ruri_host = S("example.com");
		r->from_host = S("example.com");
		r->user_agent = S("Yealink SIP-T46S 66.86.0.15");
		r->call_id = S("a84b4c76e66710@pc33.example.com");
		if(k < 55) {
			kinds[i] = K_CALL;
			r->method = AF_M_INVITE;
			make_ip(&r->src_ip, 0x0a000000u | (rnd & 0xffff)); /* 10/16 */
			r->from_user = (rnd & 1) ? S("alice") : S("bob");
			r->ruri_user = (rnd & 2) ? S("carol") : S("+493012345678");
			r->sdp_ip[0] = r->src_ip;
			r->sdp_ip_count = 1;
		} else if(k < 75) {
			kinds[i] = K_SCAN;
			r->method = AF_M_INVITE;
			make_ip(&r->src_ip, 0xcb007100u ^ (rnd & 0xffffff));
			snprintf(users[i], sizeof(users[i]), "%u", 100 + (rnd >> 20) % 900);
			r->ruri_user.s = users[i];
			r->ruri_user.len = strlen(users[i]);
			r->ruri_host = S("198.18.0.1");
			r->from_user = r->ruri_user;
			r->user_agent = S("friendly-scanner");
		} else if(k < 90) {
			kinds[i] = K_REG;
			r->method = AF_M_REGISTER;
			make_ip(&r->src_ip, 0x0a000000u | (rnd & 0xffff));
			r->to_user = S("alice");
			r->from_user = S("alice");
			r->auth_user = S("alice");
		} else {
			kinds[i] = K_INDIALOG;
			r->method = (rnd & 1) ? AF_M_ACK : AF_M_BYE;
			r->initial = 0;
			make_ip(&r->src_ip, 0x0a000000u | (rnd & 0xffff));
			r->ruri_user = S("alice");
			r->ruri_host = S("10.1.2.3");
			r->from_user = S("bob");
		}
	}
}

/* rows of the number plan in force */
static unsigned bench_plan_rows(void)
{
	af_rules_t *r = af_core_acquire();
	unsigned n = r->dest.plan ? af_numplan_rows(r->dest.plan) : 0;

	af_core_release(r);
	return n;
}

static double ns_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e9
		   + (double)(b.tv_nsec - a->tv_nsec);
}

/*
 * ns per af_check_fingerprint over the raw requests in files (each from
 * its own source address, so that bans do not short-cut the tools).
 */
static void bench_fingerprint(int n, char **files, long iters)
{
	static char bufs[256][4096];
	static af_request_t req[256];
	af_verdict_t v;
	struct timespec t0;
	long i, blocked = 0;
	int k, m = 0;

	for(k = 0; k < n && m < 256; k++) {
		FILE *f = fopen(files[k], "rb");
		size_t len;
		if(!f)
			continue;
		len = fread(bufs[m], 1, sizeof(bufs[m]), f);
		fclose(f);
		memset(&req[m], 0, sizeof(req[m]));
		req[m].raw.s = bufs[m];
		req[m].raw.len = len;
		req[m].method = AF_M_INVITE;
		req[m].initial = 1;
		m++;
	}
	if(!m)
		return;
	for(i = 0; i < iters; i++) {
		af_request_t *r = &req[i % m];
		make_ip(&r->src_ip, 0x64400000u + (uint32_t)i); /* 100.64/10 */
		if(i == m) /* the first round warmed up caches and JIT */
			clock_gettime(CLOCK_MONOTONIC, &t0);
		if(af_check_fingerprint(r, NULL, 0, &v) == AF_RC_BLOCK && i >= m)
			blocked++;
	}
	printf("af_check_fingerprint: %.0f ns per check (%ld checks over %d"
		   " requests of the corpus, %ld blocked)\n",
			ns_since(&t0) / (double)(iters - m), iters - m, m, blocked);
}

/*
 * Writes the Call-ID "c<i in hex>@bench" into buf (32 bytes) without
 * printf, whose cost would count in the check's; returns its length.
 */
static size_t bench_callid(char *buf, unsigned long i)
{
	static const char hex[] = "0123456789abcdef";
	char t[16];
	size_t n = 0, k = 0;

	do {
		t[k++] = hex[i & 15];
		i >>= 4;
	} while(i);
	buf[n++] = 'c';
	while(k)
		buf[n++] = t[--k];
	memcpy(buf + n, "@bench", 6);
	return n + 6;
}

/*
 * ns per af_check_dest: 4096 callers of Germany calling a mix of national,
 * international (admitted into the concurrency sets, released after the
 * check as if the call had ended), premium (refused by the plan) and
 * invalid numbers; the number plan of the full default size. Every
 * counter and limit of the bench profile runs (limits high enough that
 * calls pass).
 */
static void bench_dest(long iters)
{
	enum { NC = 4096 };
	static const char *const fmt[] = {"0301234%04u", "0033123%05u",
			"+1212555%04u", "00447700%06u", "0900123%04u", "0049301234%03u",
			"0044207946%04u", "00861012345%03u"};
	static char callers[NC][24], numbers[NC][24], callids[NC][32];
	static af_request_t req[NC];
	af_verdict_t v;
	struct timespec t0;
	long i, rc_count[6] = {0}, admitted = 0;
	double total;

	for(i = 0; i < NC; i++) {
		unsigned k = (unsigned)(i * 2654435761u);
		snprintf(callers[i], sizeof(callers[i]), "4930%08u", (unsigned)i);
		snprintf(numbers[i], sizeof(numbers[i]), fmt[k % 8], k % 10000);
		memset(&req[i], 0, sizeof(req[i]));
		req[i].method = AF_M_INVITE;
		req[i].initial = 1;
		req[i].from_user.s = callers[i];
		req[i].from_user.len = strlen(callers[i]);
		req[i].from_host.s = "example.com";
		req[i].from_host.len = 11;
		req[i].ruri_user.s = numbers[i];
		req[i].ruri_user.len = strlen(numbers[i]);
		req[i].call_id.s = callids[i];
		make_ip(&req[i].src_ip, 0x0aff0000u + (uint32_t)i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for(i = 0; i < iters; i++) {
		af_request_t *r = &req[i % NC];
		r->call_id.len = bench_callid(callids[i % NC], (unsigned long)i);
		rc_count[af_check_dest(r, NULL, 0, &v) + 3]++;
		if(v.dest.ticket.total || v.dest.ticket.caller) {
			af_dest_release(&v.dest.ticket);
			admitted++;
		}
	}
	total = ns_since(&t0);
	printf("af_check_dest: %.0f ns per check (%ld checks of %d callers,"
		   " number plan of %u rows; %ld international calls admitted and"
		   " released, the release included)\n",
			total / (double)iters, iters, NC, bench_plan_rows(), admitted);
	printf("  verdicts: allow %ld, alert %ld, block %ld, norule %ld,"
		   " error %ld\n",
			rc_count[AF_RC_ALLOW + 3], rc_count[AF_RC_ALERT + 3],
			rc_count[AF_RC_BLOCK + 3], rc_count[AF_RC_NORULE + 3],
			rc_count[AF_RC_ERROR + 3]);
}

/*
 * The failures of bench_auth: account i % na from one of 65536 addresses
 * each; returns how many raised a ban or an account under attack. A
 * function of its own, so that callgrind can count it alone
 * (--toggle-collect=bench_auth_failures).
 */
static __attribute__((noinline)) long bench_auth_failures(
		af_request_t *req, int na, long iters)
{
	af_verdict_t v;
	long i, raised = 0;

	for(i = 0; i < iters; i++) {
		af_request_t *r = &req[i % na];
		make_ip(&r->src_ip, 0x0b000000u + (uint32_t)((i * 7) % 65536));
		if(af_auth_result(r, 0, NULL, 0, &v) == AF_RC_ALERT)
			raised++;
	}
	return raised;
}

/* The successes of bench_auth (--toggle-collect=bench_auth_successes). */
static __attribute__((noinline)) void bench_auth_successes(
		af_request_t *req, int na, long iters)
{
	af_verdict_t v;
	long i;

	for(i = 0; i < iters; i++)
		af_auth_result(&req[i % na], 1, NULL, 0, &v);
}

/*
 * ns per learned authentication result (af_auth_result): failures of
 * 4096 accounts from 65536 addresses (each address reaches the ban
 * threshold: a guessing campaign), then successes of the same accounts
 * from their own addresses (known good source, history, new-country
 * test).
 */
static void bench_auth(long iters)
{
	enum { NA = 4096 };
	static char names[NA][16];
	static af_request_t req[NA];
	struct timespec t0;
	long i, raised;
	double fail_ns, ok_ns;

	for(i = 0; i < NA; i++) {
		snprintf(names[i], sizeof(names[i]), "u%05ld", i);
		memset(&req[i], 0, sizeof(req[i]));
		req[i].method = AF_M_REGISTER;
		req[i].initial = 1;
		req[i].auth_user.s = names[i];
		req[i].auth_user.len = strlen(names[i]);
		req[i].from_user = req[i].auth_user;
		req[i].to_user = req[i].auth_user;
		req[i].from_host.s = "example.com";
		req[i].from_host.len = 11;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	raised = bench_auth_failures(req, NA, iters);
	fail_ns = ns_since(&t0) / (double)iters;
	for(i = 0; i < NA; i++)
		make_ip(&req[i].src_ip, 0x0a000000u + (uint32_t)i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bench_auth_successes(req, NA, iters);
	ok_ns = ns_since(&t0) / (double)iters;
	printf("af_auth_result: %.0f ns per failure, %.0f ns per success"
		   " (%ld of each, %d accounts; %ld failures raised a ban or an"
		   " account under attack)\n",
			fail_ns, ok_ns, iters, NA, raised);
}

/* an af_calls_end verdict that alerted, counted */
static void count_alert(af_call_t *c, af_verdict_t *v, void *arg)
{
	if(v->rc < 0)
		++*(long *)arg;
}

/*
 * ns per outcome event (af_outcome.h): 4096 callers' calls checked by
 * af_check_dest once (outside the timing), then per call: start, ring
 * (180), answer, the duration guard's deadline and check, and the end
 * (the figures' store batch with the concurrency release: in Redis mode
 * its one round trip); a third of the calls fail busy. Then ns per
 * signal of the signal mix (a request and its final answer).
 */
static void bench_outcome(long iters, int batched)
{
	enum { NC = 4096 };
	static af_call_t bc[AF_CALLS_END_MAX];
	af_call_end_item_t items[AF_CALLS_END_MAX];
	static char callers[NC][24], callids[NC][32];
	static af_request_t req[NC];
	static af_verdict_t dv[NC];
	af_verdict_t v;
	af_call_t c;
	struct timespec t0;
	uint64_t now = af_now_ms();
	double ev_ns = 0, end_ns = 0, sig_ns;
	long i, alerts = 0, followed = 0;

	for(i = 0; i < NC; i++) {
		snprintf(callers[i], sizeof(callers[i]), "4930%08u", (unsigned)i);
		snprintf(callids[i], sizeof(callids[i]), "o%ld@bench", i);
		memset(&req[i], 0, sizeof(req[i]));
		req[i].method = AF_M_INVITE;
		req[i].initial = 1;
		req[i].from_user.s = callers[i];
		req[i].from_user.len = strlen(callers[i]);
		req[i].from_host.s = "example.com";
		req[i].from_host.len = 11;
		req[i].ruri_user.s = i % 3 ? "0301234567" : "0033123456789";
		req[i].ruri_user.len = strlen(req[i].ruri_user.s);
		req[i].call_id.s = callids[i];
		req[i].call_id.len = strlen(callids[i]);
		make_ip(&req[i].src_ip, 0x0aff0000u + (uint32_t)(i % 512));
		af_check_dest(&req[i], NULL, 0, &dv[i]);
		af_dest_release(&dv[i].dest.ticket);
	}
	for(i = 0; i < iters; i++) {
		int k = (int)(i % NC);
		uint64_t t = now + (uint64_t)i * 10;
		af_call_t *cp = batched ? &bc[i % AF_CALLS_END_MAX] : &c;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		followed += af_call_start(cp, &req[k], &dv[k], NULL, 0, t) == 1;
		af_call_ring(cp, 180, t + 1500);
		if(i % 3)
			af_call_answer(cp, t + 6000);
		if(af_call_deadline(cp))
			af_call_guard(cp, t + 7000, &v);
		ev_ns += ns_since(&t0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if(!batched) {
			if(af_call_end(&c, i % 3 ? 200 : 486, t + 66000, &v) < 0)
				alerts++;
		} else {
			af_call_end_item_t *it = &items[i % AF_CALLS_END_MAX];

			it->c = cp;
			it->code = i % 3 ? 200 : 486;
			it->end_ms = t + 66000;
			it->t = NULL;
			if(i % AF_CALLS_END_MAX == AF_CALLS_END_MAX - 1 || i == iters - 1)
				af_calls_end(items, (int)(i % AF_CALLS_END_MAX) + 1,
						t + 66000, count_alert, &alerts);
		}
		end_ns += ns_since(&t0);
	}
	if(batched) {
		printf("outcome: %.0f ns per call end in batches of %d calls"
			   " (af_calls_end: one store batch each); %ld calls, %ld"
			   " followed, %ld ends alerted\n",
				end_ns / (double)iters, AF_CALLS_END_MAX, iters, followed,
				alerts);
		return;
	}
	printf("outcome: %.0f ns per event (start, ring, answer, guard:"
		   " %.0f ns for the four), %.0f ns per call end (figures in one"
		   " store batch); %ld calls, %ld followed, %ld ends alerted\n",
			ev_ns / (double)iters / 4, ev_ns / (double)iters,
			end_ns / (double)iters, iters, followed, alerts);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for(i = 0; i < iters; i++) {
		af_request_t *r = &req[i % NC];
		af_signal_count(r, 0, now + (uint64_t)i, &v);
		af_signal_count(r, i % 5 ? 200 : 486, now + (uint64_t)i, &v);
	}
	sig_ns = ns_since(&t0) / (double)iters / 2;
	printf("signal mix: %.0f ns per signal (%ld requests and their final"
		   " answers, %d callers from 512 sources)\n",
			sig_ns, iters, NC);
}

/*
 * Fills op with subject i of the mix bench_memory offers (key in key[64]):
 * per caller a repetition counter over 3 windows (one WIN_MULTI entry),
 * its rates (2 windows), its history of sources; per source a scanner
 * score window; some bans.
 */
static void memory_subject(af_op_t *op, char *key, uint32_t i)
{
	memset(op, 0, sizeof(*op));
	op->key = key;
	switch(i % 8) {
		case 0: case 1: case 2: /* caller-number pair, 60m/8h/1d */
			op->type = AF_OP_WIN_MULTI;
			op->key_len = (size_t)snprintf(key, 64,
					"rn|w|4930%08u@example.com|4933123%05u", i / 8, i);
			op->u.wm.n = 1;
			op->u.wm.nwin = 3;
			op->u.wm.w[0].window_s = 3600;
			op->u.wm.w[1].window_s = 28800;
			op->u.wm.w[2].window_s = 86400;
			break;
		case 3: /* the caller's rates, 1 s and 60 s */
			op->type = AF_OP_WIN_MULTI;
			op->key_len = (size_t)snprintf(key, 64,
					"r|w|4930%08u@example.com", i / 8);
			op->u.wm.n = 1;
			op->u.wm.nwin = 2;
			op->u.wm.w[0].window_s = 1;
			op->u.wm.w[1].window_s = 60;
			break;
		case 4: case 5: /* a caller's sources */
			op->type = AF_OP_HIST_PUSH;
			op->key_len = (size_t)snprintf(key, 64,
					"4930%08u@example.com", i / 8 + (i % 8) * 7919);
			op->u.hist.ttl_s = 86400;
			make_ip(&op->u.hist.entry.ip, 0x0a000000u + i);
			memcpy(op->u.hist.entry.country, "DE", 3);
			break;
		case 6: /* a source's scanner score */
			op->type = AF_OP_WIN_HIT;
			op->key_len = (size_t)snprintf(key, 64, "%u.%u.%u.%u",
					(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255);
			op->u.win.window_s = 60;
			op->u.win.n = 1;
			break;
		default: /* a ban */
			op->type = AF_OP_BAN_SET;
			op->key_len = (size_t)snprintf(key, 64, "203.%u.%u.%u",
					(i >> 16) & 255, (i >> 8) & 255, i & 255);
			op->u.ban_set.ttl_s = 3600;
			op->u.ban_set.reason = "scanner";
			break;
	}
}

/*
 * Bytes per tracked subject in the shm store: the largest store (its
 * whole shared-memory block, index included) that fits in 128 MiB per
 * million subjects is offered the mix of memory_subject, 1.5 times as
 * many subjects. A subject is one store entry: one key with its windows,
 * its history or its ban. What it held before its first eviction (looked
 * at every 256 subjects) is what it tracks at that size; then the rest of
 * the offer shows what a full store does.
 */
static void bench_memory(uint32_t subjects)
{
	uint64_t budget = (uint64_t)subjects * (128u << 20) / 1000000;
	af_store_shm_cfg_t cfg = {.max_entries = (uint32_t)(budget / 64),
			.stripes = 64};
	af_store_stats_t st;
	af_store_t *s;
	af_op_t op;
	char key[64];
	size_t bytes;
	uint64_t now = 1700000000000ULL, held = 0;
	uint32_t i, n = subjects + subjects / 2;
	int full = 0;

	while(cfg.max_entries > 1024 && af_store_shm_size(&cfg) > budget)
		cfg.max_entries -= 1024;
	bytes = af_store_shm_size(&cfg);
	s = af_store_shm_new(&cfg);
	if(!s) {
		printf("store memory: no room for %u entries\n", cfg.max_entries);
		return;
	}
	for(i = 0; i < n; i++) {
		memory_subject(&op, key, i);
		af_store_exec(s, &op, 1, now + i / 64);
		if(!full && i % 256 == 255) {
			s->ops->stats(s, &st);
			full = st.evictions || st.failures;
			if(!full)
				held = st.entries;
		}
	}
	s->ops->stats(s, &st);
	if(!full)
		held = st.entries;
	printf("store memory: %.0f bytes per tracked subject (a store of %zu"
		   " bytes of shared memory, max_entries %u, held %llu subjects"
		   " before its first eviction; 1 million take %.0f MB)\n",
			(double)bytes / (double)held, bytes, cfg.max_entries,
			(unsigned long long)held,
			(double)bytes / (double)held * 1e6 / 1048576.0);
	printf("  a subject is one store entry: one key with its windows (a"
		   " caller's 3 repetition windows or 2 rate windows, a source's"
		   " score), its history of sources, or its ban; %u offered, %llu"
		   " live at the end, %llu evicted (%llu of them bans), %llu"
		   " failed\n",
			n, (unsigned long long)st.entries,
			(unsigned long long)st.evictions,
			(unsigned long long)st.bans_evicted,
			(unsigned long long)st.failures);
	s->ops->destroy(s);
}

int main(int argc, char **argv)
{
	static af_request_t req[NREQ];
	static enum kind kinds[NREQ];
	af_core_cfg_t cfg;
	af_verdict_t v;
	struct timespec t0;
	double total, by_kind[K__N] = {0};
	long n_kind[K__N] = {0}, rc_count[6] = {0};
	long iters = argc > 2 ? atol(argv[2]) : 2000000, i;
	/* (iters is read before --redis is taken out: it stays argv[2]) */
	char err[512];
	int k;

	static af_redis_cfg_t rcfg;

	if(argc < 2) {
		fprintf(stderr, "usage: %s RULES.yaml [iterations] [--redis URL]"
						" [--dest | --auth | --outcome | --memory | FILE...]\n",
				argv[0]);
		return 2;
	}
	af_host_plain_init(AF_L_WARN, NULL);
	memset(&cfg, 0, sizeof(cfg));
	cfg.rules_path = argv[1];
	cfg.shm_entries = 65536;
	cfg.shm_stripes = 64;
	if(argc > 4 && strcmp(argv[3], "--redis") == 0) {
		/* cluster mode: the same checks with their state in Redis */
		if(af_redis_parse_url(argv[4], &rcfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_core: %s\n", err);
			return 1;
		}
		rcfg.connect_timeout_ms = 1000;
		rcfg.command_timeout_ms = 1000;
		strcpy(rcfg.prefix, "afbench:");
		cfg.redis = &rcfg;
		cfg.redis_fallback = AF_FALLBACK_OPEN;
		cfg.redis_retry_ms = 1000;
		printf("(state in Redis, %s)\n", argv[4]);
		/* drop "--redis URL" from the arguments */
		for(k = 3; k + 2 < argc; k++)
			argv[k] = argv[k + 2];
		argc -= 2;
	}
	if(af_core_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_core: %s\n", err);
		return 1;
	}
	if(argc > 3 && strcmp(argv[3], "--memory") == 0) {
		bench_memory((uint32_t)iters);
		af_core_destroy();
		return 0;
	}
	if(argc > 3 && strcmp(argv[3], "--dest") == 0) {
		bench_dest(iters);
		af_core_destroy();
		return 0;
	}
	if(argc > 3 && strcmp(argv[3], "--outcome") == 0) {
		bench_outcome(iters, argc > 4 && strcmp(argv[4], "--batched") == 0);
		af_core_destroy();
		return 0;
	}
	if(argc > 3 && strcmp(argv[3], "--auth") == 0) {
		bench_auth(iters);
		af_core_destroy();
		return 0;
	}
	make_requests(req, kinds);
	/* warm up: caches, store entries, bans */
	for(i = 0; i < NREQ * 4; i++)
		af_check_source(&req[i % NREQ], NULL, 0, &v);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for(i = 0; i < iters; i++)
		rc_count[af_check_source(&req[i % NREQ], NULL, 0, &v) + 3]++;
	total = ns_since(&t0);

	/* per kind, timed one at a time (includes clock overhead ~20 ns) */
	for(i = 0; i < iters / 4; i++) {
		k = kinds[i % NREQ];
		clock_gettime(CLOCK_MONOTONIC, &t0);
		af_check_source(&req[i % NREQ], NULL, 0, &v);
		by_kind[k] += ns_since(&t0);
		n_kind[k]++;
	}
	printf("af_check_source: %.0f ns per check (%ld checks, mix of %d"
		   " requests)\n",
			total / (double)iters, iters, NREQ);
	for(k = 0; k < K__N; k++)
		printf("  %-15s %6.0f ns  (%2.0f%% of the mix)\n", kind_name[k],
				n_kind[k] ? by_kind[k] / (double)n_kind[k] : 0.0,
				100.0 * (double)n_kind[k] / (double)(iters / 4));
	printf("  verdicts: allow %ld, alert %ld, block %ld, norule %ld,"
		   " error %ld\n",
			rc_count[AF_RC_ALLOW + 3], rc_count[AF_RC_ALERT + 3],
			rc_count[AF_RC_BLOCK + 3], rc_count[AF_RC_NORULE + 3],
			rc_count[AF_RC_ERROR + 3]);
	if(argc > 3)
		bench_fingerprint(argc - 3, argv + 3, iters / 4);
	af_core_destroy();
	return 0;
}
