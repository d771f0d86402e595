/*
 * antifraud - af-cdr: past CDRs through the same core as the proxy.
 *
 * af-cdr is one more host of the core (like the unit tests): it reads
 * CDRs (af_cdr_read.c), sorts them by time and replays them on the
 * record's own clock: each call's start goes through af_check_dest with
 * the rule file (number plan, classes of service, schedules, rates,
 * repetition, concurrency) and the call's ring, answer and end through
 * the call-outcome API (af_outcome.h), in time order through an event
 * queue, so that a call holds its concurrency slot until its end and the
 * duration guard fires at its deadline. The store is the shm store in
 * this process's memory. A call the proxy would have refused never
 * becomes a call in the replay, as on the proxy.
 *
 * Out: the alerts and blocks as JSON lines (the proxy's alert fields and
 * the CDR's identifiers), a summary, thresholds suggested from the
 * history (--suggest) and an HTML report (--html, rendered by
 * utils/af-cdr-report with matplotlib).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "af_core.h"
#include "af_alert.h"
#include "af_host.h"
#include "af_host_plain.h"
#include "af_numplan.h"
#include "af_outcome.h"
#include "af_text.h"
#include "af_cdr.h"

/* ---- the host: the core's plain host (malloc, stderr) on the record's
 * clock */

static int verbose;

/* the core's clock: the record's time (never 0: 0 is the real clock) */
static void set_clock(uint64_t t)
{
	af_host_plain_set_now(t ? t : 1);
}

/* ---- options */

static struct {
	const char *rules;
	const char *alerts_path;
	const char *summary_path;
	const char *rates_path;
	const char *html_path;
	const char *data_path;
	const char *report_tool;
	int suggest;
	int source_checks;
	double k;
	uint32_t entries;
	uint32_t alert_repeat;
	int top;
	int format;
} opt = {.k = 3.0, .entries = 1 << 18, .top = 20};

/* ---- statistics */

typedef struct welford {
	uint64_t n;
	double mean;
	double m2;
	double max;
} welford_t;

/* adds x to the running mean and variance of w (Welford) */
static void wf_add(welford_t *w, double x)
{
	double d = x - w->mean;

	w->n++;
	w->mean += d / (double)w->n;
	w->m2 += d * (x - w->mean);
	if(x > w->max)
		w->max = x;
}

/* the sample standard deviation of w */
static double wf_sd(const welford_t *w)
{
	return w->n > 1 ? sqrt(w->m2 / (double)(w->n - 1)) : 0.0;
}

typedef struct caller_st {
	uint32_t caller, host; /* pool offsets: the key */
	uint32_t calls, answered, alerts, blocks;
	double seconds, cost;
	af_reasons_t reasons;
	int64_t cur_hour, cur_min, cur_day;
	uint32_t hour_calls, min_calls;
	double day_intl_s; /* international seconds in cur_day */
} caller_st_t;

typedef struct country_st {
	uint32_t calls, answered, alerts, blocks;
	double seconds, cost;
} country_st_t;

typedef struct hour_st {
	uint32_t calls;
	uint32_t intl_max; /* most concurrent international calls */
	uint32_t alerts, blocks;
	uint32_t limit;    /* the total limit in force (AF_NO_LIMIT: none) */
	int holiday, hod;  /* the system calendar's slot */
	int slot_known;
	double class_seconds[AF_NC__COUNT];
} hour_st_t;

static struct {
	caller_st_t *callers;
	size_t cap, n;
	country_st_t country[26 * 26 + 1]; /* +1: unknown */
	hour_st_t *hours;
	size_t n_hours;
	int64_t first_hour;
	uint64_t calls, answered, alerts, blocks, errors, suppressed;
	uint64_t refused_calls;
	double seconds, cost, refused_seconds, refused_cost;
	uint64_t by_reason[AF_R__COUNT][2]; /* alerts, blocks */
	double class_seconds[AF_NC__COUNT];
	uint64_t class_calls[AF_NC__COUNT];
	welford_t per_caller_hour, per_caller_min, per_caller_day_intl;
	uint32_t intl_now;
	uint64_t first_ms, last_ms;
} st;

static cdr_ctx_t ctx;
static FILE *alerts_out;
static FILE *data_out; /* the alert timeline for the report */

/* the hash of a caller key (pool offsets of user and host) */
static size_t caller_hash(uint32_t c, uint32_t h)
{
	uint64_t x = ((uint64_t)c << 32 | h) * 0x9e3779b97f4a7c15ULL;
	return (size_t)(x >> 20);
}

/* the statistics of caller (pool offsets), created on first use */
static caller_st_t *caller_get(uint32_t c, uint32_t h)
{
	size_t i;

	if(st.n * 2 >= st.cap) {
		size_t cap = st.cap ? st.cap * 2 : 4096, j;
		caller_st_t *t = calloc(cap, sizeof(*t));
		if(!t)
			return NULL;
		for(j = 0; j < st.cap; j++) {
			if(!st.callers[j].calls && !st.callers[j].caller)
				continue;
			i = caller_hash(st.callers[j].caller, st.callers[j].host)
				& (cap - 1);
			while(t[i].calls || t[i].caller)
				i = (i + 1) & (cap - 1);
			t[i] = st.callers[j];
		}
		free(st.callers);
		st.callers = t;
		st.cap = cap;
	}
	i = caller_hash(c, h) & (st.cap - 1);
	while(st.callers[i].calls || st.callers[i].caller) {
		if(st.callers[i].caller == c && st.callers[i].host == h)
			return &st.callers[i];
		i = (i + 1) & (st.cap - 1);
	}
	st.callers[i].caller = c;
	st.callers[i].host = h;
	st.callers[i].cur_hour = -1;
	st.callers[i].cur_min = -1;
	st.callers[i].cur_day = -1;
	st.n++;
	return &st.callers[i];
}

/* the statistics of country cc ("" or unknown: the last slot) */
static country_st_t *country_get(const char *cc)
{
	if(cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z')
		return &st.country[(cc[0] - 'A') * 26 + (cc[1] - 'A')];
	return &st.country[26 * 26];
}

/* the bucket of hour of time t (ms), created */
static hour_st_t *hour_get(uint64_t t)
{
	int64_t h = (int64_t)(t / 3600000);
	size_t idx, need, j;
	hour_st_t *nh;

	if(!st.hours) {
		st.first_hour = h;
	}
	if(h < st.first_hour)
		h = st.first_hour; /* the replay runs forward: cannot happen */
	idx = (size_t)(h - st.first_hour);
	if(idx > 24 * 366 * 5)
		return NULL; /* more than five years: not plotted per hour */
	if(idx >= st.n_hours) {
		need = idx + 1;
		nh = realloc(st.hours, need * sizeof(*nh));
		if(!nh)
			return NULL;
		for(j = st.n_hours; j < need; j++) {
			memset(&nh[j], 0, sizeof(nh[j]));
			nh[j].limit = AF_NO_LIMIT;
			/* the calls up when the hour begins */
			nh[j].intl_max = st.intl_now;
		}
		st.hours = nh;
		st.n_hours = need;
	}
	if(!st.hours[idx].slot_known) {
		uint32_t tot, lim;
		int hol, hr;
		af_outcome_slot_now((uint64_t)h * 3600000, &st.hours[idx].holiday,
				&st.hours[idx].hod);
		if(af_dest_concurrency(&tot, &lim, &hol, &hr) == 0)
			st.hours[idx].limit = lim;
		st.hours[idx].slot_known = 1;
	}
	return &st.hours[idx];
}

/* ---- the rate deck: prefix,rate_per_minute; longest prefix */

typedef struct rate_ent {
	char prefix[16];
	double rate;
} rate_ent_t;

static rate_ent_t *rates;
static size_t n_rates, cap_rates;

/* rate entries by prefix */
static int rate_cmp(const void *a, const void *b)
{
	return strcmp(((const rate_ent_t *)a)->prefix,
			((const rate_ent_t *)b)->prefix);
}

/* reads the rate deck (prefix,rate_per_minute); 0, -1 unreadable */
static int rates_load(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	unsigned long ln = 0;
	int bad = 0;

	if(!f) {
		fprintf(stderr, "af-cdr: %s: cannot open: %s\n", path, strerror(errno));
		return -1;
	}
	while(fgets(line, sizeof(line), f)) {
		char *p = line, *comma, *end;
		size_t i, n = 0;
		double r;
		rate_ent_t e;

		ln++;
		if(!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "af-cdr: %s:%lu: line too long\n", path, ln);
			bad++;
			while(fgets(line, sizeof(line), f) && !strchr(line, '\n'))
				;
			continue;
		}
		while(*p == ' ' || *p == '\t')
			p++;
		if(*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if(*p == '+')
			p++;
		comma = strchr(p, ',');
		if(!comma) {
			if(ln > 1 || (*p >= '0' && *p <= '9')) {
				fprintf(stderr, "af-cdr: %s:%lu: expected prefix,rate\n", path,
						ln);
				bad++;
			}
			continue;
		}
		memset(&e, 0, sizeof(e));
		for(i = 0; p + i < comma; i++) {
			if(p[i] < '0' || p[i] > '9' || n >= 15)
				break;
			e.prefix[n++] = p[i];
		}
		if(p + i != comma || !n) {
			if(ln > 1) {
				fprintf(stderr, "af-cdr: %s:%lu: the prefix is not 1 to 15"
								" digits\n",
						path, ln);
				bad++;
			}
			continue; /* a header line */
		}
		errno = 0;
		r = strtod(comma + 1, &end);
		while(*end == ' ' || *end == '\r' || *end == '\n' || *end == '\t')
			end++;
		if(errno || *end || !(r >= 0 && r < 1e6)) {
			fprintf(stderr, "af-cdr: %s:%lu: the rate is not a number >= 0\n",
					path, ln);
			bad++;
			continue;
		}
		e.rate = r;
		if(n_rates == cap_rates) {
			size_t cap = cap_rates ? cap_rates * 2 : 1024;
			rate_ent_t *t = realloc(rates, cap * sizeof(*t));
			if(!t) {
				fclose(f);
				return -1;
			}
			rates = t;
			cap_rates = cap;
		}
		rates[n_rates++] = e;
	}
	fclose(f);
	qsort(rates, n_rates, sizeof(*rates), rate_cmp);
	if(bad)
		fprintf(stderr, "af-cdr: %s: %d bad lines skipped\n", path, bad);
	return 0;
}

/* the rate per minute of number (digits, '+' allowed), -1 none */
static double rate_of(const char *number)
{
	char d[16];
	size_t n = 0, len;
	rate_ent_t key;

	if(*number == '+')
		number++;
	while(*number && n < 15) {
		if(*number < '0' || *number > '9')
			return -1;
		d[n++] = *number++;
	}
	for(len = n; len > 0; len--) {
		rate_ent_t *hit;
		memset(&key, 0, sizeof(key));
		memcpy(key.prefix, d, len);
		hit = bsearch(&key, rates, n_rates, sizeof(*rates), rate_cmp);
		if(hit)
			return hit->rate;
	}
	return -1;
}

/* ---- the event queue: a binary heap ordered by time, then kind, then
 * arrival */

enum { EV_RING = 0, EV_ANSWER, EV_GUARD, EV_END };

typedef struct ev {
	uint64_t t;
	uint32_t seq;
	uint8_t kind;
	uint32_t live;
} ev_t;

static ev_t *heap;
static size_t heap_n, heap_cap;
static uint32_t ev_seq;

/* 1 when a comes before b */
static int ev_before(const ev_t *a, const ev_t *b)
{
	if(a->t != b->t)
		return a->t < b->t;
	if(a->kind != b->kind)
		return a->kind < b->kind;
	return a->seq < b->seq;
}

/* queues an event of kind at t for live call live; 0, -1 no memory */
static int ev_push(uint64_t t, int kind, uint32_t live)
{
	size_t i;
	ev_t e = {t, ev_seq++, (uint8_t)kind, live};

	if(heap_n == heap_cap) {
		size_t cap = heap_cap ? heap_cap * 2 : 1024;
		ev_t *h = realloc(heap, cap * sizeof(*h));
		if(!h)
			return -1;
		heap = h;
		heap_cap = cap;
	}
	i = heap_n++;
	while(i > 0 && ev_before(&e, &heap[(i - 1) / 2])) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = e;
	return 0;
}

/* the first event, taken off the queue (the queue is not empty) */
static ev_t ev_pop(void)
{
	ev_t top = heap[0], last = heap[--heap_n];
	size_t i = 0, c;

	for(;;) {
		c = 2 * i + 1;
		if(c >= heap_n)
			break;
		if(c + 1 < heap_n && ev_before(&heap[c + 1], &heap[c]))
			c++;
		if(!ev_before(&heap[c], &last))
			break;
		heap[i] = heap[c];
		i = c;
	}
	if(heap_n)
		heap[i] = last;
	return top;
}

/* ---- live calls: only while up, in a pool with a free list */

typedef struct live {
	af_call_t c;
	af_dest_ticket_t t;
	uint32_t rec;
	uint32_t next_free;
	uint8_t has_ticket;
	uint8_t followed;
	uint8_t ended;
	uint8_t intl;
} live_t;

static live_t *lives;
static uint32_t n_lives, cap_lives, free_live = UINT32_MAX;
static uint32_t lives_up, lives_peak;

/* a live call slot, zeroed; UINT32_MAX out of memory */
static uint32_t live_new(void)
{
	uint32_t i;

	if(free_live != UINT32_MAX) {
		i = free_live;
		free_live = lives[i].next_free;
	} else {
		if(n_lives == cap_lives) {
			uint32_t cap = cap_lives ? cap_lives * 2 : 256;
			live_t *l = realloc(lives, (size_t)cap * sizeof(*l));
			if(!l)
				return UINT32_MAX;
			lives = l;
			cap_lives = cap;
		}
		i = n_lives++;
	}
	memset(&lives[i], 0, sizeof(lives[i]));
	if(++lives_up > lives_peak)
		lives_peak = lives_up;
	return i;
}

/* gives live call slot i back */
static void live_free(uint32_t i)
{
	lives[i].next_free = free_live;
	free_live = i;
	lives_up--;
}

/* ---- output of a verdict */

/* a JSON string of time ms (UTC, ISO 8601 with ms) */
static void put_time(FILE *out, uint64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char b[32];

	gmtime_r(&s, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(out, "\"%s.%03uZ\"", b, (unsigned)(ms % 1000));
}

/* ,"key":"s" with s escaped */
static void put_str(FILE *out, const char *key, const char *s)
{
	fprintf(out, ",\"%s\":\"", key);
	cdr_json_esc(out, s, strlen(s));
	fputc('"', out);
}

/* ,"key":[reason names of m] */
static void put_reasons(FILE *out, const char *key, af_reasons_t m)
{
	int r, first = 1;

	fprintf(out, ",\"%s\":[", key);
	for(r = 0; r < AF_R__COUNT; r++) {
		if(!(m & AF_REASON_BIT(r)))
			continue;
		fprintf(out, "%s\"%s\"", first ? "" : ",", af_reason_name(r));
		first = 0;
	}
	fputc(']', out);
}

/* what a verdict is about: from af_check_dest's info, or the call */
typedef struct about {
	const char *profile, *number, *country, *zone;
	int cls, risk, international;
	uint32_t conc_total, conc_caller;
} about_t;

/*
 * A verdict v (alert or block) at time t about the call of record r:
 * counted, admitted (alert_repeat) and written as one JSON line.
 */
static void report(af_verdict_t *v, const af_request_t *req,
		const cdr_rec_t *r, const about_t *a, uint64_t t)
{
	char caller[300];
	caller_st_t *cs;
	country_st_t *cn;
	hour_st_t *h;
	int block = v->rc == AF_RC_BLOCK, i;

	if(v->rc != AF_RC_ALERT && v->rc != AF_RC_BLOCK)
		return;
	if(opt.alert_repeat && !af_alert_admit(v, req, t)) {
		st.suppressed++;
		return;
	}
	if(block)
		st.blocks++;
	else
		st.alerts++;
	for(i = 0; i < AF_R__COUNT; i++)
		if(v->reasons & AF_REASON_BIT(i))
			st.by_reason[i][block]++;
	cs = caller_get(r->caller, r->host);
	if(cs) {
		if(block)
			cs->blocks++;
		else
			cs->alerts++;
		cs->reasons |= v->reasons;
	}
	cn = country_get(a->country);
	if(block)
		cn->blocks++;
	else
		cn->alerts++;
	h = hour_get(t);
	if(h) {
		if(block)
			h->blocks++;
		else
			h->alerts++;
	}
	snprintf(caller, sizeof(caller), "%s@%s", cdr_str(&ctx, r->caller),
			r->host ? cdr_str(&ctx, r->host)
					: (ctx.default_domain ? ctx.default_domain : ""));
	fputs("{\"time\":", alerts_out);
	put_time(alerts_out, t);
	put_str(alerts_out, "check", v->check ? v->check : "");
	fprintf(alerts_out, ",\"rc\":%d,\"action\":\"%s\"", v->rc,
			block ? "block" : "alert");
	put_reasons(alerts_out, "reasons", v->reasons);
	put_reasons(alerts_out, "blocking", v->blocking);
	put_str(alerts_out, "detail", v->detail);
	put_str(alerts_out, "profile", a->profile);
	put_str(alerts_out, "caller", caller);
	put_str(alerts_out, "source", cdr_str(&ctx, r->src));
	put_str(alerts_out, "country", v->geo.country);
	fprintf(alerts_out, ",\"asn\":%u,\"score\":%u", v->geo.asn, v->score);
	put_str(alerts_out, "number", a->number);
	put_str(alerts_out, "dest_country", a->country);
	put_str(alerts_out, "dest_zone", a->zone);
	put_str(alerts_out, "dest_class", af_numclass_name((af_numclass_t)a->cls));
	fprintf(alerts_out,
			",\"dest_risk\":%d,\"international\":%d,\"conc_total\":%u,"
			"\"conc_caller\":%u,\"suppressed\":%u",
			a->risk, a->international, a->conc_total, a->conc_caller,
			v->suppressed);
	fputs(",\"cdr\":{", alerts_out);
	fputs("\"file\":\"", alerts_out);
	cdr_json_esc(alerts_out, ctx.files[r->file], strlen(ctx.files[r->file]));
	fprintf(alerts_out, "\",\"line\":%u", r->line);
	put_str(alerts_out, "call_id", cdr_str(&ctx, r->callid));
	put_str(alerts_out, "callee", cdr_str(&ctx, r->callee));
	fputs(",\"start\":", alerts_out);
	put_time(alerts_out, r->start_ms);
	if(r->answer_ms) {
		fputs(",\"answer\":", alerts_out);
		put_time(alerts_out, r->answer_ms);
	}
	fputs(",\"end\":", alerts_out);
	put_time(alerts_out, r->end_ms);
	fprintf(alerts_out, ",\"code\":%u}}\n", r->code);
	if(data_out) {
		fprintf(data_out, "%s{\"t\":%llu,\"action\":\"%s\",\"reason\":\"",
				st.alerts + st.blocks > 1 ? "," : "",
				(unsigned long long)(t / 1000), block ? "block" : "alert");
		for(i = 0; i < AF_R__COUNT; i++)
			if(v->reasons & AF_REASON_BIT(i)) {
				fputs(af_reason_name(i), data_out);
				break;
			}
		fputs("\",\"caller\":\"", data_out);
		cdr_json_esc(data_out, caller, strlen(caller));
		fputs("\"}\n", data_out);
	}
}

/* what a dest verdict is about */
static void about_dest(about_t *a, const af_verdict_t *v)
{
	a->profile = v->dest.profile;
	a->number = v->dest.number;
	a->country = v->dest.country;
	a->zone = v->dest.zone;
	a->cls = v->dest.cls;
	a->risk = v->dest.risk;
	a->international = v->dest.international;
	a->conc_total = v->dest.conc_total;
	a->conc_caller = v->dest.conc_caller;
}

/* what an outcome verdict of call c is about */
static void about_call(about_t *a, const af_call_t *c)
{
	memset(a, 0, sizeof(*a));
	a->profile = c->profile;
	a->number = c->number;
	a->country = c->country;
	a->zone = "";
	a->cls = c->cls;
	a->risk = c->risk;
	a->international = c->international;
}

/* the request of record r (strings point into the pool) */
static void make_request(const cdr_rec_t *r, af_request_t *req, char *idbuf,
		size_t idsize)
{
	const char *s;

	memset(req, 0, sizeof(*req));
	req->method = AF_M_INVITE;
	req->method_name.s = "INVITE";
	req->method_name.len = 6;
	req->initial = 1;
	req->proto = AF_P_UDP;
	s = cdr_str(&ctx, r->callee);
	req->ruri_user.s = s;
	req->ruri_user.len = strlen(s);
	req->to_user = req->ruri_user;
	s = cdr_str(&ctx, r->caller);
	req->from_user.s = s;
	req->from_user.len = strlen(s);
	s = r->host ? cdr_str(&ctx, r->host)
				: (ctx.default_domain ? ctx.default_domain : "");
	req->from_host.s = s;
	req->from_host.len = strlen(s);
	req->ruri_host = req->from_host;
	req->to_host = req->from_host;
	if(r->callid) {
		s = cdr_str(&ctx, r->callid);
		req->call_id.s = s;
		req->call_id.len = strlen(s);
	} else {
		/* a unique id for the concurrency sets */
		req->call_id.len = (size_t)snprintf(idbuf, idsize, "af-cdr-%u-%u",
				r->file, r->line);
		req->call_id.s = idbuf;
	}
	if(r->src) {
		s = cdr_str(&ctx, r->src);
		if(af_ip_parse(s, strlen(s), &req->src_ip) == 0)
			req->src_port = 5060;
		else
			memset(&req->src_ip, 0, sizeof(req->src_ip));
	}
}

/* ---- the replay */

static uint64_t last_tick_s, last_gc_s;

/*
 * The core's housekeeping on the record's clock: the outcome timer (the
 * per-minute baselines; the signal mix has no signals from CDRs) once a
 * minute that has events, the store's expiry (af_core_timer, which walks
 * the whole store when little has expired) once an hour: the store also
 * reclaims expired entries itself when it fills, so this only bounds how
 * long they stay.
 */
#define AF_CDR_GC_S 3600

static void tick(uint64_t t)
{
	if(t / 60000 == last_tick_s)
		return;
	last_tick_s = t / 60000;
	set_clock(t);
	if(t / 1000 >= last_gc_s + AF_CDR_GC_S) {
		last_gc_s = t / 1000;
		af_core_timer();
	}
	af_outcome_timer(t, NULL, NULL);
}

/* the end of live call i at t (code: final code) */
static void call_end(uint32_t i, int code, uint64_t t)
{
	live_t *l = &lives[i];
	const cdr_rec_t *r = &ctx.rec[l->rec];
	af_verdict_t v;
	af_request_t req;
	about_t a;
	char idbuf[64];

	if(l->ended)
		return;
	l->ended = 1;
	set_clock(t);
	if(l->intl && st.intl_now)
		st.intl_now--;
	if(l->followed) {
		af_call_end_release(&l->c, code, t, l->has_ticket ? &l->t : NULL, &v);
		if(v.rc == AF_RC_ALERT || v.rc == AF_RC_BLOCK) {
			make_request(r, &req, idbuf, sizeof(idbuf));
			about_call(&a, &l->c);
			report(&v, &req, r, &a, t);
		} else if(v.rc == AF_RC_ERROR) {
			st.errors++;
		}
	} else if(l->has_ticket) {
		af_dest_release(&l->t);
	}
}

/* one event of a live call: ring, answer (with its guard), guard, end */
static void event(const ev_t *e)
{
	live_t *l = &lives[e->live];
	const cdr_rec_t *r = &ctx.rec[l->rec];
	af_verdict_t v;
	af_request_t req;
	about_t a;
	char idbuf[64];
	uint64_t dl;

	tick(e->t);
	set_clock(e->t);
	switch(e->kind) {
		case EV_RING:
			if(l->followed && !l->ended)
				af_call_ring(&l->c, 180, e->t);
			break;
		case EV_ANSWER:
			if(!l->followed || l->ended)
				break;
			af_call_answer(&l->c, e->t);
			dl = af_call_deadline(&l->c);
			if(dl && dl < r->end_ms)
				ev_push(dl, EV_GUARD, e->live);
			break;
		case EV_GUARD:
			if(l->ended)
				break;
			af_call_guard(&l->c, e->t, &v);
			if(v.rc == AF_RC_ALERT || v.rc == AF_RC_BLOCK) {
				make_request(r, &req, idbuf, sizeof(idbuf));
				about_call(&a, &l->c);
				report(&v, &req, r, &a, e->t);
			}
			/* enforce: the proxy ends the call now */
			if(v.rc == AF_RC_BLOCK)
				call_end(e->live, 200, e->t);
			break;
		case EV_END:
			call_end(e->live, r->answer_ms ? 200 : r->code, e->t);
			live_free(e->live);
			break;
	}
}

/* the events due up to t */
static void drain(uint64_t t)
{
	while(heap_n && heap[0].t <= t) {
		ev_t e = ev_pop();
		event(&e);
	}
}

/* one call attempt at its start */
static void attempt(uint32_t ri)
{
	const cdr_rec_t *r = &ctx.rec[ri];
	af_request_t req;
	af_verdict_t v;
	about_t a;
	char idbuf[64];
	caller_st_t *cs;
	country_st_t *cn;
	hour_st_t *h;
	double secs = 0, rate = -1, cost = 0;
	int64_t hr, mi;
	int followed = 0, has_ticket;
	uint32_t li;

	drain(r->start_ms);
	tick(r->start_ms);
	set_clock(r->start_ms);
	make_request(r, &req, idbuf, sizeof(idbuf));
	if(opt.source_checks && req.src_ip.family) {
		/* the proxy's af_check_source first: a block drops the call */
		af_check_source(&req, NULL, 0, &v);
		memset(&a, 0, sizeof(a));
		a.profile = a.country = a.zone = "";
		a.number = cdr_str(&ctx, r->callee);
		report(&v, &req, r, &a, r->start_ms);
		if(v.rc == AF_RC_ERROR)
			st.errors++;
		if(v.rc == AF_RC_BLOCK || v.rc == AF_RC_ERROR) {
			/* dropped (or answered 500) by the proxy */
			st.calls++;
			if(v.rc == AF_RC_BLOCK)
				st.refused_calls++;
			return;
		}
	}
	af_check_dest(&req, NULL, 0, &v);
	about_dest(&a, &v);
	if(v.rc == AF_RC_ERROR)
		st.errors++;
	/* figures of the history, as it happened */
	st.calls++;
	if(!st.first_ms)
		st.first_ms = r->start_ms;
	if(r->end_ms > st.last_ms)
		st.last_ms = r->end_ms;
	if(r->answer_ms) {
		st.answered++;
		secs = (double)(r->end_ms - r->answer_ms) / 1000.0;
		st.seconds += secs;
		if(n_rates) {
			rate = rate_of(v.dest.number[0] ? v.dest.number
											 : cdr_str(&ctx, r->callee));
			if(rate > 0)
				cost = secs / 60.0 * rate;
			st.cost += cost;
		}
	}
	if(v.dest.cls >= 0 && v.dest.cls < AF_NC__COUNT) {
		st.class_seconds[v.dest.cls] += secs;
		st.class_calls[v.dest.cls]++;
	}
	cs = caller_get(r->caller, r->host);
	if(cs) {
		cs->calls++;
		cs->seconds += secs;
		cs->cost += cost;
		if(r->answer_ms)
			cs->answered++;
		hr = (int64_t)(r->start_ms / 3600000);
		mi = (int64_t)(r->start_ms / 60000);
		if(cs->cur_hour != hr) {
			if(cs->hour_calls)
				wf_add(&st.per_caller_hour, cs->hour_calls);
			cs->cur_hour = hr;
			cs->hour_calls = 0;
		}
		cs->hour_calls++;
		if(cs->cur_min != mi) {
			if(cs->min_calls)
				wf_add(&st.per_caller_min, cs->min_calls);
			cs->cur_min = mi;
			cs->min_calls = 0;
		}
		cs->min_calls++;
		if(cs->cur_day != hr / 24) {
			if(cs->day_intl_s > 0)
				wf_add(&st.per_caller_day_intl, cs->day_intl_s / 60.0);
			cs->cur_day = hr / 24;
			cs->day_intl_s = 0;
		}
		if(v.dest.international)
			cs->day_intl_s += secs;
	}
	cn = country_get(v.dest.country);
	cn->calls++;
	cn->seconds += secs;
	cn->cost += cost;
	if(r->answer_ms)
		cn->answered++;
	h = hour_get(r->start_ms);
	if(h) {
		h->calls++;
		if(v.dest.cls >= 0 && v.dest.cls < AF_NC__COUNT)
			h->class_seconds[v.dest.cls] += secs;
	}
	report(&v, &req, r, &a, r->start_ms);
	if(v.rc == AF_RC_BLOCK) {
		/* refused by the proxy: never a call */
		st.refused_calls++;
		st.refused_seconds += secs;
		st.refused_cost += cost;
		if(v.dest.ticket.total || v.dest.ticket.caller)
			af_dest_release(&v.dest.ticket);
		return;
	}
	if(v.rc == AF_RC_ERROR) {
		/* the proxy answers 500: never a call either */
		if(v.dest.ticket.total || v.dest.ticket.caller)
			af_dest_release(&v.dest.ticket);
		return;
	}
	has_ticket = v.dest.ticket.total || v.dest.ticket.caller;
	li = live_new();
	if(li == UINT32_MAX) {
		if(has_ticket)
			af_dest_release(&v.dest.ticket);
		return;
	}
	if(v.rc == AF_RC_ALLOW || v.rc == AF_RC_ALERT)
		followed = af_call_start(&lives[li].c, &req, &v, NULL, 0,
						   r->start_ms)
				   == 1;
	else
		followed = af_call_start_all(&lives[li].c, &req, NULL, 0, r->start_ms)
				   == 1;
	if(!followed && !has_ticket && !v.dest.international) {
		live_free(li);
		return;
	}
	lives[li].rec = ri;
	lives[li].followed = (uint8_t)followed;
	lives[li].has_ticket = (uint8_t)has_ticket;
	if(has_ticket)
		lives[li].t = v.dest.ticket;
	if(v.dest.international) {
		lives[li].intl = 1;
		st.intl_now++;
		if(h && st.intl_now > h->intl_max)
			h->intl_max = st.intl_now;
	}
	if(r->ring_ms && r->ring_ms < r->end_ms)
		ev_push(r->ring_ms, EV_RING, li);
	if(r->answer_ms)
		ev_push(r->answer_ms, EV_ANSWER, li);
	ev_push(r->end_ms, EV_END, li);
}

/* the records in time order: start, then file and line */
static int rec_cmp(const void *a, const void *b)
{
	const cdr_rec_t *x = &ctx.rec[*(const uint32_t *)a];
	const cdr_rec_t *y = &ctx.rec[*(const uint32_t *)b];

	if(x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	if(x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* ---- the summary */

/* callers by verdicts, then minutes */
static int cs_cmp(const void *a, const void *b)
{
	const caller_st_t *x = *(caller_st_t *const *)a;
	const caller_st_t *y = *(caller_st_t *const *)b;
	uint32_t fx = x->alerts + x->blocks, fy = y->alerts + y->blocks;

	if(fx != fy)
		return fx > fy ? -1 : 1;
	if(x->seconds != y->seconds)
		return x->seconds > y->seconds ? -1 : 1;
	return 0;
}

/* callers by minutes */
static int cs_min_cmp(const void *a, const void *b)
{
	const caller_st_t *x = *(caller_st_t *const *)a;
	const caller_st_t *y = *(caller_st_t *const *)b;

	if(x->seconds != y->seconds)
		return x->seconds > y->seconds ? -1 : 1;
	return 0;
}

/* the callers sorted by cmp, NULL-terminated (malloc) */
static caller_st_t **callers_sorted(int (*cmp)(const void *, const void *))
{
	caller_st_t **v = malloc((st.n + 1) * sizeof(*v));
	size_t i, n = 0;

	if(!v)
		return NULL;
	for(i = 0; i < st.cap; i++)
		if(st.callers[i].calls)
			v[n++] = &st.callers[i];
	qsort(v, n, sizeof(*v), cmp);
	v[n] = NULL;
	return v;
}

/* "YYYY-MM-DD HH:MM" of ms (UTC) */
static void fmt_date(uint64_t ms, char *b, size_t n)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(b, n, "%Y-%m-%d %H:%M", &tm);
}

/* the caller's text, escaped as the core shows text from outside */
static void put_caller(FILE *out, const caller_st_t *c, int width)
{
	char b[300], e[200];
	int n = snprintf(b, sizeof(b), "%s@%s", cdr_str(&ctx, c->caller),
			c->host ? cdr_str(&ctx, c->host)
					: (ctx.default_domain ? ctx.default_domain : ""));

	if(n < 0)
		n = 0;
	if(n >= (int)sizeof(b))
		n = sizeof(b) - 1;
	af_text_escape(b, (size_t)n, e, sizeof(e));
	fprintf(out, "  %-*s", width, e);
}

/* the summary for an analyst: counts, verdicts, callers, countries */
static void summary(FILE *out, double run_s, double cpu_s, long rss_kb)
{
	char d0[32], d1[32];
	caller_st_t **v;
	int r, i, k;

	fmt_date(st.first_ms, d0, sizeof(d0));
	fmt_date(st.last_ms, d1, sizeof(d1));
	fprintf(out, "af-cdr summary\n");
	fprintf(out, "  records: %llu calls from %llu lines in %d files (%s .. %s"
				 " UTC)\n",
			(unsigned long long)st.calls, (unsigned long long)ctx.lines,
			ctx.n_files, st.calls ? d0 : "-", st.calls ? d1 : "-");
	fprintf(out, "  rows skipped: %llu", (unsigned long long)ctx.bad);
	for(k = 0, i = 0; i < CDR_E__COUNT; i++)
		if(ctx.bad_kind[i])
			fprintf(out, "%s%s %llu", k++ ? ", " : " (", cdr_err_kind_name(i),
					(unsigned long long)ctx.bad_kind[i]);
	fprintf(out, "%s\n", k ? ")" : "");
	if(ctx.unpaired_bye || ctx.no_bye)
		fprintf(out, "  acc pairing: %llu BYE without INVITE, %llu answered"
					 " INVITE without BYE (ended at the answer)\n",
				(unsigned long long)ctx.unpaired_bye,
				(unsigned long long)ctx.no_bye);
	fprintf(out, "  verdicts: %llu alerts, %llu blocks",
			(unsigned long long)st.alerts, (unsigned long long)st.blocks);
	if(st.suppressed)
		fprintf(out, ", %llu repeats suppressed", (unsigned long long)st.suppressed);
	if(st.errors)
		fprintf(out, ", %llu store errors", (unsigned long long)st.errors);
	fprintf(out, "\n  answered: %llu of %llu (ASR %.1f%%), %.1f minutes",
			(unsigned long long)st.answered, (unsigned long long)st.calls,
			st.calls ? 100.0 * (double)st.answered / (double)st.calls : 0.0,
			st.seconds / 60.0);
	if(n_rates)
		fprintf(out, ", cost %.2f", st.cost);
	fputc('\n', out);
	fprintf(out, "  refused by the rules: %llu calls, %.1f minutes",
			(unsigned long long)st.refused_calls, st.refused_seconds / 60.0);
	if(n_rates)
		fprintf(out, ", cost %.2f", st.refused_cost);
	fputc('\n', out);
	fprintf(out, "\nper reason            alerts  blocks\n");
	for(r = 0; r < AF_R__COUNT; r++)
		if(st.by_reason[r][0] || st.by_reason[r][1])
			fprintf(out, "  %-20s %6llu  %6llu\n", af_reason_name(r),
					(unsigned long long)st.by_reason[r][0],
					(unsigned long long)st.by_reason[r][1]);
	fprintf(out, "\nper caller (first %d by verdicts, then minutes)\n", opt.top);
	fprintf(out, "  %-32s %7s %7s %9s %9s %6s %6s  reasons\n", "caller", "calls",
			"answ", "minutes", "cost", "alerts", "blocks");
	v = callers_sorted(cs_cmp);
	for(i = 0; v && v[i] && i < opt.top; i++) {
		char rb[256];
		af_reasons_format(v[i]->reasons, rb, sizeof(rb));
		put_caller(out, v[i], 32);
		fprintf(out, " %7u %7u %9.1f %9.2f %6u %6u  %s\n", v[i]->calls,
				v[i]->answered, v[i]->seconds / 60.0, v[i]->cost, v[i]->alerts,
				v[i]->blocks, rb);
	}
	free(v);
	fprintf(out, "\nper destination country\n");
	fprintf(out, "  %-7s %8s %8s %6s %8s %10s %10s %6s %6s\n", "country",
			"calls", "answ", "ASR%", "ACD s", "minutes", "cost", "alerts",
			"blocks");
	for(i = 0; i <= 26 * 26; i++) {
		country_st_t *c = &st.country[i];
		char cc[8];
		if(!c->calls && !c->alerts && !c->blocks)
			continue;
		if(i == 26 * 26)
			strcpy(cc, "??");
		else
			snprintf(cc, sizeof(cc), "%c%c", 'A' + i / 26, 'A' + i % 26);
		fprintf(out, "  %-7s %8u %8u %6.1f %8.1f %10.1f %10.2f %6u %6u\n", cc,
				c->calls, c->answered,
				c->calls ? 100.0 * c->answered / c->calls : 0.0,
				c->answered ? c->seconds / c->answered : 0.0, c->seconds / 60.0,
				c->cost, c->alerts, c->blocks);
	}
	fprintf(out, "\nrun: %.2f s (CPU %.2f s), %.0f CDRs/s (%.0f per CPU s), peak"
				 " RSS %ld MB, %u calls up at once at most\n",
			run_s, cpu_s, run_s > 0 ? (double)st.calls / run_s : 0.0,
			cpu_s > 0 ? (double)st.calls / cpu_s : 0.0, rss_kb / 1024,
			lives_peak);
}

/* ---- --suggest: thresholds from the history */

/* --suggest: thresholds as a YAML fragment, mean + k sd per slot */
static void suggest(FILE *out)
{
	welford_t slot[2][24];
	welford_t cls_day[AF_NC__COUNT];
	double day_cls[AF_NC__COUNT];
	size_t i;
	int h, d, c;
	int64_t day = -1;
	double k = opt.k;
	static const char *const dt[2] = {"workday", "holiday"};

	memset(slot, 0, sizeof(slot));
	memset(cls_day, 0, sizeof(cls_day));
	memset(day_cls, 0, sizeof(day_cls));
	for(i = 0; i < st.n_hours; i++) {
		hour_st_t *hs = &st.hours[i];
		int64_t dd = (st.first_hour + (int64_t)i) / 24;
		if(hs->slot_known)
			wf_add(&slot[hs->holiday ? 1 : 0][hs->hod], hs->intl_max);
		if(dd != day) {
			if(day >= 0)
				for(c = 0; c < AF_NC__COUNT; c++)
					if(st.class_calls[c])
						wf_add(&cls_day[c], day_cls[c] / 60.0);
			day = dd;
			memset(day_cls, 0, sizeof(day_cls));
		}
		for(c = 0; c < AF_NC__COUNT; c++)
			day_cls[c] += hs->class_seconds[c];
	}
	if(day >= 0)
		for(c = 0; c < AF_NC__COUNT; c++)
			if(st.class_calls[c])
				wf_add(&cls_day[c], day_cls[c] / 60.0);
	fprintf(out, "# af-cdr --suggest: thresholds = mean + %.1f sd of %llu calls"
				 " (%zu hours); paste and review\n",
			k, (unsigned long long)st.calls, st.n_hours);
	fprintf(out, "dest:\n  concurrency:   # concurrent international calls,"
				 " per slot of the system calendar\n");
	for(d = 0; d < 2; d++) {
		int any = 0;
		for(h = 0; h < 24; h++)
			any |= slot[d][h].n > 0;
		if(!any)
			continue;
		fprintf(out, "    %s:\n", dt[d]);
		for(h = 0; h < 24; h++) {
			welford_t *w = &slot[d][h];
			double lim;
			if(!w->n)
				continue;
			lim = ceil(w->mean + k * wf_sd(w));
			if(lim < w->max)
				lim = w->max;
			if(lim < 1)
				lim = 1;
			fprintf(out, "      \"%02d:00-%02d:00\": %.0f   # mean %.2f sd %.2f"
						 " max %.0f over %llu h\n",
					h, h + 1, lim, w->mean, wf_sd(w), w->max,
					(unsigned long long)w->n);
		}
	}
	fprintf(out, "profiles:\n  default:   # or the profile of these callers\n"
				 "    dest:\n      rates:\n");
	if(st.per_caller_min.n)
		fprintf(out, "        caller_per_minute: %.0f   # calls per caller per"
					 " minute: mean %.2f sd %.2f max %.0f\n",
				fmax(ceil(st.per_caller_min.mean + k * wf_sd(&st.per_caller_min)),
						st.per_caller_min.max),
				st.per_caller_min.mean, wf_sd(&st.per_caller_min),
				st.per_caller_min.max);
	if(st.per_caller_hour.n)
		fprintf(out, "      # calls per caller per hour: mean %.2f sd %.2f max"
					 " %.0f -> %.0f (repeat windows count per number)\n",
				st.per_caller_hour.mean, wf_sd(&st.per_caller_hour),
				st.per_caller_hour.max,
				fmax(ceil(st.per_caller_hour.mean
							 + k * wf_sd(&st.per_caller_hour)),
						st.per_caller_hour.max));
	fprintf(out, "analytics:\n  # minutes per day per destination class:\n");
	for(c = 0; c < AF_NC__COUNT; c++) {
		welford_t *w = &cls_day[c];
		if(!w->n || !st.class_calls[c])
			continue;
		fprintf(out, "  #   %-12s mean %.1f sd %.1f max %.1f -> %.0f\n",
				af_numclass_name((af_numclass_t)c), w->mean, wf_sd(w), w->max,
				ceil(w->mean + k * wf_sd(w)));
	}
	for(i = 0; i < st.cap; i++) {
		caller_st_t *cs = &st.callers[i];
		if(cs->calls && cs->day_intl_s > 0) {
			wf_add(&st.per_caller_day_intl, cs->day_intl_s / 60.0);
			cs->day_intl_s = 0;
		}
	}
	if(st.per_caller_day_intl.n)
		fprintf(out, "  minutes: {above: %.0f, window: 86400, subjects: [caller],"
					 " scope: international}\n"
					 "  # international minutes per caller per day (days with"
					 " some): mean %.1f sd %.1f max %.1f\n",
				fmax(ceil(st.per_caller_day_intl.mean
							 + k * wf_sd(&st.per_caller_day_intl)),
						1),
				st.per_caller_day_intl.mean, wf_sd(&st.per_caller_day_intl),
				st.per_caller_day_intl.max);
}

/* ---- the data for the HTML report */

/* the report data: the head (the alerts follow as they come) */
static void write_data_head(FILE *out)
{
	fprintf(out, "{\"generated_by\":\"af-cdr\",\"k\":%.2f,\n\"alerts\":[\n", opt.k);
}

/* the report data: hours, slots, countries, callers, totals */
static void write_data_tail(FILE *out)
{
	size_t i;
	int c, n;
	caller_st_t **v;
	double mean[2][24], sd[2][24];
	welford_t slot[2][24], calls[2][24];

	fprintf(out, "],\n\"first_hour\":%lld,\n\"hours\":[\n",
			(long long)st.first_hour);
	memset(slot, 0, sizeof(slot));
	memset(calls, 0, sizeof(calls));
	for(i = 0; i < st.n_hours; i++) {
		hour_st_t *h = &st.hours[i];
		fprintf(out, "%s[%u,%u,%u,%u,%lld,%d,%d]\n", i ? "," : "", h->calls,
				h->intl_max, h->alerts, h->blocks,
				h->limit == AF_NO_LIMIT ? -1LL : (long long)h->limit,
				h->holiday, h->hod);
		if(h->slot_known) {
			wf_add(&slot[h->holiday ? 1 : 0][h->hod], h->intl_max);
			wf_add(&calls[h->holiday ? 1 : 0][h->hod], h->calls);
		}
	}
	fprintf(out, "],\n\"slots\":{\"intl_mean\":[");
	for(c = 0; c < 2; c++)
		for(n = 0; n < 24; n++) {
			mean[c][n] = slot[c][n].mean;
			sd[c][n] = wf_sd(&slot[c][n]);
			fprintf(out, "%s%.4f", c || n ? "," : "", mean[c][n]);
		}
	fprintf(out, "],\"intl_sd\":[");
	for(c = 0; c < 2; c++)
		for(n = 0; n < 24; n++)
			fprintf(out, "%s%.4f", c || n ? "," : "", sd[c][n]);
	fprintf(out, "],\"calls_mean\":[");
	for(c = 0; c < 2; c++)
		for(n = 0; n < 24; n++)
			fprintf(out, "%s%.4f", c || n ? "," : "", calls[c][n].mean);
	fprintf(out, "],\"calls_sd\":[");
	for(c = 0; c < 2; c++)
		for(n = 0; n < 24; n++)
			fprintf(out, "%s%.4f", c || n ? "," : "", wf_sd(&calls[c][n]));
	fprintf(out, "]},\n\"countries\":[\n");
	for(c = 0, n = 0; c <= 26 * 26; c++) {
		country_st_t *s = &st.country[c];
		if(!s->calls)
			continue;
		fprintf(out, "%s{\"cc\":\"%c%c\",\"calls\":%u,\"answered\":%u,"
					 "\"minutes\":%.2f,\"cost\":%.2f,\"alerts\":%u,\"blocks\":%u}\n",
				n++ ? "," : "", c == 26 * 26 ? '?' : 'A' + c / 26,
				c == 26 * 26 ? '?' : 'A' + c % 26, s->calls, s->answered,
				s->seconds / 60.0, s->cost, s->alerts, s->blocks);
	}
	fprintf(out, "],\n\"callers\":[\n");
	v = callers_sorted(cs_min_cmp);
	for(i = 0; v && v[i] && i < 30; i++) {
		char b[300];
		snprintf(b, sizeof(b), "%s@%s", cdr_str(&ctx, v[i]->caller),
				v[i]->host ? cdr_str(&ctx, v[i]->host)
						   : (ctx.default_domain ? ctx.default_domain : ""));
		fprintf(out, "%s{\"caller\":\"", i ? "," : "");
		cdr_json_esc(out, b, strlen(b));
		fprintf(out, "\",\"calls\":%u,\"minutes\":%.2f,\"alerts\":%u,"
					 "\"blocks\":%u}\n",
				v[i]->calls, v[i]->seconds / 60.0, v[i]->alerts, v[i]->blocks);
	}
	free(v);
	fprintf(out, "],\n\"totals\":{\"calls\":%llu,\"answered\":%llu,"
				 "\"minutes\":%.2f,\"cost\":%.2f,\"alerts\":%llu,\"blocks\":%llu,"
				 "\"skipped\":%llu,\"refused_minutes\":%.2f,\"refused_cost\":%.2f}}\n",
			(unsigned long long)st.calls, (unsigned long long)st.answered,
			st.seconds / 60.0, st.cost, (unsigned long long)st.alerts,
			(unsigned long long)st.blocks, (unsigned long long)ctx.bad,
			st.refused_seconds / 60.0, st.refused_cost);
}

/* the peak resident memory of this process in kB: VmHWM (ru_maxrss
 * keeps a forking parent's figure across exec) */
static long peak_rss_kb(const struct rusage *ru)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kb = -1;

	if(f) {
		while(fgets(line, sizeof(line), f))
			if(sscanf(line, "VmHWM: %ld kB", &kb) == 1)
				break;
		fclose(f);
	}
	return kb >= 0 ? kb : ru->ru_maxrss;
}

/* runs the report renderer: tool DATA HTML; 0 when it succeeded */
static int render_html(const char *data, const char *html)
{
	char self[PATH_MAX], tool[PATH_MAX + 64];
	const char *t = opt.report_tool;
	pid_t pid;
	int status;
	ssize_t n;

	if(!t)
		t = getenv("AF_CDR_REPORT");
	if(!t) {
		/* beside the source tree: build/af-cdr -> utils/af-cdr-report */
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if(n > 0) {
			char *slash;
			self[n] = '\0';
			slash = strrchr(self, '/');
			if(slash)
				*slash = '\0';
			snprintf(tool, sizeof(tool), "%s/../utils/af-cdr-report", self);
			if(access(tool, X_OK) == 0)
				t = tool;
			else {
				snprintf(tool, sizeof(tool), "%s/af-cdr-report", self);
				if(access(tool, X_OK) == 0)
					t = tool;
			}
		}
		if(!t)
			t = "af-cdr-report";
	}
	fflush(NULL);
	pid = fork();
	if(pid < 0)
		return -1;
	if(pid == 0) {
		execlp(t, t, data, html, (char *)NULL);
		fprintf(stderr, "af-cdr: cannot run %s: %s\n", t, strerror(errno));
		_exit(127);
	}
	if(waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* the options */
static void usage(FILE *out)
{
	fprintf(out,
			"usage: af-cdr --rules RULES.yaml [options] CDRFILE...\n"
			"Replays CDRs through the antifraud core (af_check_dest and the call\n"
			"outcomes) on the records' own clock; alerts and blocks as JSON lines.\n"
			"  -r, --rules FILE        the rule file (the proxy's)\n"
			"  -f, --format NAME       auto (default), kamailio-log,"
			" kamailio-flatstore,\n"
			"                          kamailio-dbtext, kamailio-cdrs, opensips,"
			" freeswitch,\n"
			"                          asterisk, csv\n"
			"  -c, --columns MAP       csv: start=COL,caller=COL,callee=COL[,ring=,"
			"answer=,end=,\n"
			"                          duration=,billsec=,disposition=,callid=,"
			"source=,domain=]\n"
			"                          COL: a header name or a 1-based number\n"
			"      --acc-extra LIST    flatstore: the db_extra names in order\n"
			"                          (default " "src_user,src_domain,src_ip,dst_ouser,"
			"dst_user,dst_domain)\n"
			"      --domain HOST       caller host when a CDR has none\n"
			"      --source-checks     af_check_source too, for CDRs with a source"
			" address\n"
			"                          (GeoIP, lists, country hopping), as the proxy\n"
			"      --tz-offset +HH:MM  zone of dates without one (default UTC)\n"
			"  -o, --alerts FILE       JSON lines of alerts and blocks (default"
			" stdout)\n"
			"  -s, --summary FILE      the summary (default stderr)\n"
			"      --rates FILE        prefix,rate_per_minute CSV: costs\n"
			"      --suggest           thresholds from the history as YAML (to the"
			" summary)\n"
			"  -k K                    suggest mean + K sd (default 3)\n"
			"      --html FILE         an HTML report with plots (utils/af-cdr-report)\n"
			"      --data FILE         the report's data as JSON\n"
			"      --report-tool PATH  the renderer (default: beside af-cdr)\n"
			"      --alert-repeat S    suppress repeats of an alert for S s, as the"
			" proxy's\n"
			"                          alert_repeat_interval (default 0: every one)\n"
			"      --entries N         state store entries (default 262144; as the"
			" proxy's\n"
			"                          shm_entries or more)\n"
			"      --max-line N        bytes of a line (default 65536)\n"
			"      --max-errors N      bad rows printed (default 50; all counted)\n"
			"      --max-records N     CDRs held (default 100000000, about 10 GB);"
			" more are\n"
			"                          counted as skipped\n"
			"      --top N             callers in the summary (default 20)\n"
			"  -v                      log the core's messages\n");
}

/* "+HH:MM" into seconds; 0, -1 when not one */
static int parse_offset(const char *s, int64_t *off)
{
	int sign = 1, h = 0, m = 0;

	if(*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if(sscanf(s, "%d:%d", &h, &m) < 1 || h > 14 || m < 0 || m > 59)
		return -1;
	*off = sign * (int64_t)(h * 3600 + m * 60);
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		O_ACC_EXTRA = 1000,
		O_DOMAIN,
		O_TZ,
		O_RATES,
		O_SUGGEST,
		O_HTML,
		O_DATA,
		O_TOOL,
		O_REPEAT,
		O_ENTRIES,
		O_MAXLINE,
		O_MAXERR,
		O_TOP,
		O_SOURCE,
		O_MAXREC
	};
	static const struct option lopts[] = {{"rules", 1, 0, 'r'},
			{"format", 1, 0, 'f'}, {"columns", 1, 0, 'c'},
			{"acc-extra", 1, 0, O_ACC_EXTRA}, {"domain", 1, 0, O_DOMAIN},
			{"tz-offset", 1, 0, O_TZ}, {"alerts", 1, 0, 'o'},
			{"summary", 1, 0, 's'}, {"rates", 1, 0, O_RATES},
			{"suggest", 0, 0, O_SUGGEST}, {"html", 1, 0, O_HTML},
			{"data", 1, 0, O_DATA}, {"report-tool", 1, 0, O_TOOL},
			{"alert-repeat", 1, 0, O_REPEAT}, {"entries", 1, 0, O_ENTRIES},
			{"max-line", 1, 0, O_MAXLINE}, {"max-errors", 1, 0, O_MAXERR},
			{"top", 1, 0, O_TOP}, {"source-checks", 0, 0, O_SOURCE},
			{"max-records", 1, 0, O_MAXREC},
			{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	af_core_cfg_t cfg;
	char err[512], data_tmp[PATH_MAX];
	const char *data_path = NULL;
	struct timespec t0, t1;
	struct rusage ru;
	uint32_t *order;
	FILE *sum;
	size_t i;
	int c, rc = 0, failed_files = 0;
	char *end;
	long lv;

	memset(&ctx, 0, sizeof(ctx));
	ctx.line_max = CDR_LINE_MAX_DEFAULT;
	ctx.max_records = 100000000;
	ctx.err_shown = CDR_ERR_SHOWN_DEFAULT;
	ctx.err = stderr;
	opt.format = CDR_F_AUTO;
	while((c = getopt_long(argc, argv, "r:f:c:o:s:k:vh", lopts, NULL)) != -1) {
		switch(c) {
			case 'r':
				opt.rules = optarg;
				break;
			case 'f':
				opt.format = cdr_format_parse(optarg);
				if(opt.format < 0) {
					fprintf(stderr, "af-cdr: unknown format (see --help)\n");
					return 2;
				}
				break;
			case 'c':
				ctx.columns_spec = optarg;
				if(opt.format == CDR_F_AUTO)
					opt.format = CDR_F_CSV;
				break;
			case O_ACC_EXTRA:
				ctx.acc_extra_spec = optarg;
				break;
			case O_DOMAIN:
				ctx.default_domain = optarg;
				break;
			case O_TZ:
				if(parse_offset(optarg, &ctx.tz_offset_s) < 0) {
					fprintf(stderr, "af-cdr: --tz-offset: expected +HH:MM\n");
					return 2;
				}
				break;
			case 'o':
				opt.alerts_path = optarg;
				break;
			case 's':
				opt.summary_path = optarg;
				break;
			case O_RATES:
				opt.rates_path = optarg;
				break;
			case O_SUGGEST:
				opt.suggest = 1;
				break;
			case O_SOURCE:
				opt.source_checks = 1;
				break;
			case O_MAXREC:
				errno = 0;
				lv = strtol(optarg, &end, 10);
				if(errno || *end || lv < 1 || lv > 4000000000L) {
					fprintf(stderr, "af-cdr: --max-records: a number"
									" 1..4000000000\n");
					return 2;
				}
				ctx.max_records = (uint64_t)lv;
				break;
			case 'k':
				opt.k = strtod(optarg, &end);
				if(*end || !(opt.k >= 0 && opt.k <= 20)) {
					fprintf(stderr, "af-cdr: -k: a number 0..20\n");
					return 2;
				}
				break;
			case O_HTML:
				opt.html_path = optarg;
				break;
			case O_DATA:
				opt.data_path = optarg;
				break;
			case O_TOOL:
				opt.report_tool = optarg;
				break;
			case O_REPEAT:
			case O_ENTRIES:
			case O_MAXLINE:
			case O_MAXERR:
			case O_TOP:
				errno = 0;
				lv = strtol(optarg, &end, 10);
				if(errno || *end || lv < 0 || lv > 100000000) {
					fprintf(stderr, "af-cdr: %s: a number 0..100000000\n",
							argv[optind - 1]);
					return 2;
				}
				if(c == O_REPEAT)
					opt.alert_repeat = (uint32_t)lv;
				else if(c == O_ENTRIES)
					opt.entries = lv < 1024 ? 1024 : (uint32_t)lv;
				else if(c == O_MAXLINE)
					ctx.line_max = lv < 256 ? 256 : (int)lv;
				else if(c == O_MAXERR)
					ctx.err_shown = (int)lv;
				else
					opt.top = (int)lv;
				break;
			case 'v':
				verbose++;
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if(!opt.rules || optind >= argc) {
		usage(stderr);
		return 2;
	}
	if(argc - optind > UINT16_MAX) {
		fprintf(stderr, "af-cdr: too many files\n");
		return 2;
	}
	ctx.files = (const char **)&argv[optind];
	ctx.n_files = argc - optind;
	af_host_plain_init(verbose > 1 ? AF_L_DBG : verbose ? AF_L_INFO : AF_L_WARN,
			"af-cdr: ");
	if(opt.rates_path && rates_load(opt.rates_path) < 0)
		return 2;
	alerts_out = stdout;
	if(opt.alerts_path && strcmp(opt.alerts_path, "-") != 0) {
		alerts_out = fopen(opt.alerts_path, "w");
		if(!alerts_out) {
			fprintf(stderr, "af-cdr: %s: %s\n", opt.alerts_path, strerror(errno));
			return 2;
		}
	}
	sum = stderr;
	if(opt.summary_path && strcmp(opt.summary_path, "-") != 0) {
		sum = fopen(opt.summary_path, "w");
		if(!sum) {
			fprintf(stderr, "af-cdr: %s: %s\n", opt.summary_path, strerror(errno));
			return 2;
		}
	} else if(opt.summary_path) {
		sum = stdout;
	}
	if(opt.html_path || opt.data_path) {
		data_path = opt.data_path;
		if(!data_path) {
			int fd;
			snprintf(data_tmp, sizeof(data_tmp), "%s/af-cdr-XXXXXX",
					getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
			fd = mkstemp(data_tmp);
			if(fd < 0) {
				fprintf(stderr, "af-cdr: cannot create a temporary file\n");
				return 2;
			}
			close(fd);
			data_path = data_tmp;
		}
		data_out = fopen(data_path, "w");
		if(!data_out) {
			fprintf(stderr, "af-cdr: %s: %s\n", data_path, strerror(errno));
			return 2;
		}
		write_data_head(data_out);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for(c = 0; c < ctx.n_files; c++)
		if(cdr_read_file(&ctx, c, (cdr_format_t)opt.format) < 0)
			failed_files++;
	cdr_pair_finish(&ctx);
	if(ctx.oom)
		fprintf(stderr, "af-cdr: out of memory while reading: the rows after"
						" it were not replayed (see the summary)\n");
	if(ctx.n_rec > UINT32_MAX - 1) {
		fprintf(stderr, "af-cdr: more than 4 billion records\n");
		return 2;
	}
	/* the rules, on the clock of the first record (schedules) */
	order = malloc((ctx.n_rec + 1) * sizeof(*order));
	if(!order) {
		fprintf(stderr, "af-cdr: out of memory\n");
		return 2;
	}
	for(i = 0; i < ctx.n_rec; i++)
		order[i] = (uint32_t)i;
	qsort(order, ctx.n_rec, sizeof(*order), rec_cmp);
	set_clock(ctx.n_rec ? ctx.rec[order[0]].start_ms : (uint64_t)time(NULL) * 1000);
	memset(&cfg, 0, sizeof(cfg));
	cfg.rules_path = opt.rules;
	cfg.shm_entries = opt.entries;
	cfg.shm_stripes = 64;
	cfg.alert_repeat_s = opt.alert_repeat;
	cfg.alert_rate = 0;
	cfg.alert_burst = 0;
	if(af_core_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "af-cdr: %s\n", err);
		return 2;
	}
	af_core_warmup();
	for(i = 0; i < ctx.n_rec; i++)
		attempt(order[i]);
	drain(UINT64_MAX);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &ru);
	fflush(alerts_out);
	summary(sum,
			(double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
			(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
					+ (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
			peak_rss_kb(&ru));
	if(opt.suggest) {
		fputc('\n', sum);
		suggest(sum);
	}
	if(data_out) {
		write_data_tail(data_out);
		if(fclose(data_out) != 0) {
			fprintf(stderr, "af-cdr: %s: write failed\n", data_path);
			rc = 1;
		}
		if(opt.html_path && render_html(data_path, opt.html_path) < 0) {
			fprintf(stderr, "af-cdr: the HTML report was not written\n");
			rc = 1;
		}
		if(!opt.data_path)
			unlink(data_path);
	}
	if(alerts_out != stdout)
		fclose(alerts_out);
	if(sum != stderr && sum != stdout)
		fclose(sum);
	af_core_destroy();
	free(order);
	free(heap);
	free(lives);
	free(st.callers);
	free(st.hours);
	free(rates);
	cdr_ctx_free(&ctx);
	if(failed_files || ctx.oom)
		return 1;
	return rc;
}
