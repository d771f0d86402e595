/*
 * antifraud unit tests - the Redis store, against real redis-server and
 * redis-sentinel processes started by the test on free loopback ports
 * (no mocks): the same random batches as the shm store with the same
 * results op by op, targeted cases, a TTL on every key, concurrency
 * across processes, unavailability (nothing listening, a hung server, a
 * restart), AUTH and ACL users, Sentinel, pub/sub and URL parsing.
 * A missing redis-server fails the tests. Servers are killed at exit.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "af_host.h"
#include "af_store.h"
#include "af_store_shm.h"
#include "af_store_redis.h"
#include "af_store_redis_int.h"
#include "host.h"
#include "store_ops.h"
#include "forget_scenario.h"
#include "dry_scenario.h"

/* a time aligned to whole seconds, far from 0 (0 means the real clock) */
#define T0 1700000000000ULL

#include "store_scenarios.h"

#include "redis_srv.h"

static srv_t s_main;     /* most tests; with a unix socket */
static srv_t s_hang;     /* stopped and restarted */
static srv_t s_auth;     /* requirepass and an ACL user */
static srv_t s_master;   /* watched by s_sentinel */
static srv_t s_sentinel;
static srv_t s_replica;  /* a replica of s_master: read-only */

/* Starts the main server when it is not running; empties it. */
static void need_main(void)
{
	redisContext *c;

	if(s_main.pid <= 0)
		srv_start(&s_main, "main", NULL);
	c = raw(s_main.port);
	rcmd(c, 0, "FLUSHALL");
	redisFree(c);
}

/* A config for 127.0.0.1:port with prefix and timeouts. */
static af_redis_cfg_t tcp_cfg(int port, const char *prefix, uint32_t cmd_ms)
{
	af_redis_cfg_t cfg;

	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.host, "127.0.0.1");
	cfg.port = (uint16_t)port;
	snprintf(cfg.prefix, sizeof(cfg.prefix), "%s", prefix);
	cfg.connect_timeout_ms = 500;
	cfg.command_timeout_ms = cmd_ms;
	return cfg;
}

/* A store for the main server with prefix. */
static af_store_t *main_store(const char *prefix)
{
	af_redis_cfg_t cfg = tcp_cfg(s_main.port, prefix, 2000);
	af_store_t *s = af_store_redis_new(&cfg);

	assert_non_null(s);
	return s;
}

/* Destroys s and checks that its shared memory was given back. */
static void free_store(af_store_t *s)
{
	long live = test_host_shm_live();

	s->ops->destroy(s);
	assert_int_equal(test_host_shm_live(), live - 1);
}

/* Monotonic microseconds. */
static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- op helpers (the others are in store_ops.h) ---- */

static int conc_add(af_store_t *s, const char *key, const char *mem,
		uint32_t limit, uint32_t ttl_s, uint32_t *count)
{
	af_op_t op;

	conc_op(&op, AF_OP_CONC_ADD, key, mem, limit, ttl_s);
	op.u.conc.found = 7;
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	assert_int_equal(op.status, 0);
	assert_int_equal(op.u.conc.full, !op.u.conc.admitted);
	assert_int_equal(op.u.conc.found, 0);
	if(count)
		*count = op.u.conc.count;
	return op.u.conc.admitted;
}

/* Every key under prefix on port has a TTL; returns how many keys. */
static int check_ttls(int port, const char *prefix)
{
	redisContext *c = raw(port);
	redisReply *r, *t;
	char cursor[32] = "0";
	size_t i;
	int n = 0;

	do {
		r = rcmd(c, 1, "SCAN %s MATCH %s* COUNT 1000", cursor, prefix);
		assert_int_equal(r->type, REDIS_REPLY_ARRAY);
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for(i = 0; i < r->element[1]->elements; i++) {
			t = rcmd(c, 1, "PTTL %b", r->element[1]->element[i]->str,
					r->element[1]->element[i]->len);
			if(t->integer == -1)
				fail_msg("key %.*s has no TTL",
						(int)r->element[1]->element[i]->len,
						r->element[1]->element[i]->str);
			freeReplyObject(t);
			n++;
		}
		freeReplyObject(r);
	} while(strcmp(cursor, "0") != 0);
	redisFree(c);
	return n;
}

/* ---- equivalence with the shm store ---- */

#define EQ_KEYS 14
#define EQ_MEMS 10
#define EQ_HIST 8
#define EQ_MAXOPS 20
#define EQ_MARKS 64

typedef struct eq {
	af_store_t *shm, *rds;
	uint64_t rng;
	uint64_t now;
	uint64_t marks[EQ_MARKS];
	int nmarks;
	long batch;
	long n_ops, n_banned, n_admitted, n_refused, n_stopped, n_invalid;
	long n_found, n_hist_prev, n_new_skipped, n_chain, n_dup;
	long n_hist_ro; /* entries returned by read_only HIST_PUSHes */
	long n_multi;   /* WIN_MULTIs that counted */
	long n_fig;     /* FIG_MULTIs that answered a count */
} eq_t;

static char eq_key[EQ_KEYS][160];
static size_t eq_klen[EQ_KEYS];
static char eq_mem[EQ_MEMS][160];
static size_t eq_mlen[EQ_MEMS];
static af_hist_entry_t eq_hist[EQ_HIST];
static char eq_long_reason[120];

/* Fills the key, member, history and reason pools. */
static void eq_pools(void)
{
	int i;

	for(i = 0; i < 6; i++)
		snprintf(eq_key[i], sizeof(eq_key[i]), "203.0.113.%d", i + 1);
	strcpy(eq_key[6], "alice@example.com");
	eq_key[7][0] = '\0';                      /* the empty key */
	memcpy(eq_key[8], "a\0b{x}c\xff", 8);     /* binary, braces */
	eq_klen[8] = 8;
	memset(eq_key[9], 'x', 96);               /* verbatim in shm */
	memset(eq_key[10], 'x', 97);              /* long: hashed in shm */
	memset(eq_key[11], 'x', 150);
	eq_key[11][120] = 'y';                    /* same first 96 bytes */
	memset(eq_key[12], 'x', 150);
	strcpy(eq_key[13], "r60|alice@x");
	for(i = 0; i < EQ_KEYS; i++)
		if(!eq_klen[i])
			eq_klen[i] = strlen(eq_key[i]);
	for(i = 0; i < 6; i++)
		snprintf(eq_mem[i], sizeof(eq_mem[i]), "call-%d@10.0.0.1", i);
	eq_mem[6][0] = '\0';
	memset(eq_mem[7], 'M', 130);
	memset(eq_mem[8], 'M', 131);
	memcpy(eq_mem[9], "c\0}", 3);
	for(i = 0; i < EQ_MEMS; i++)
		eq_mlen[i] = i == 9 ? 3 : strlen(eq_mem[i]);
	memset(eq_hist, 0xa5, sizeof(eq_hist));
	for(i = 0; i < EQ_HIST; i++) {
		eq_hist[i].ts_ms = 0;
		memcpy(eq_hist[i].continent, i < 4 ? "EU" : "NA", 3);
		memcpy(eq_hist[i].country, i % 3 == 0 ? "DE" : i % 3 ? "FR" : "", 3);
	}
	for(i = 0; i < 4; i++) {
		eq_hist[i].ip.family = 4;
		eq_hist[i].ip.addr[0] = 10;
		eq_hist[i].ip.addr[1] = 0;
		eq_hist[i].ip.addr[2] = 0;
		eq_hist[i].ip.addr[3] = (uint8_t)(i + 1);
	}
	for(i = 4; i < 6; i++) {
		memset(eq_hist[i].ip.addr, 0, 16);
		eq_hist[i].ip.family = 6;
		eq_hist[i].ip.addr[0] = 0x20;
		eq_hist[i].ip.addr[1] = 0x01;
		eq_hist[i].ip.addr[15] = (uint8_t)i;
	}
	/* 10.0.0.1 again, other bytes after the address, another country */
	eq_hist[6] = eq_hist[0];
	memset(eq_hist[6].ip.addr + 4, 0x5a, 12);
	memcpy(eq_hist[6].country, "IT", 3);
	/* a country without its NUL (shm forces it) */
	eq_hist[7] = eq_hist[2];
	memcpy(eq_hist[7].country, "ESX", 3);
	memset(eq_long_reason, 'r', sizeof(eq_long_reason) - 1);
	eq_long_reason[sizeof(eq_long_reason) - 1] = '\0';
}

static uint64_t eq_rand64(eq_t *x)
{
	x->rng ^= x->rng << 13;
	x->rng ^= x->rng >> 7;
	x->rng ^= x->rng << 17;
	return x->rng;
}

static uint32_t eq_rand(eq_t *x, uint32_t n)
{
	return (uint32_t)(eq_rand64(x) % n);
}

/* Remembers t as a time worth landing on exactly. */
static void eq_mark(eq_t *x, uint64_t t)
{
	x->marks[x->nmarks++ % EQ_MARKS] = t;
}

static const char *eq_reason(eq_t *x)
{
	switch(eq_rand(x, 5)) {
		case 0:
			return NULL;
		case 1:
			return "";
		case 2:
			return eq_long_reason;
		case 3:
			return "manual";
		default:
			return "scanner";
	}
}

/* Fills op's output fields (and everything else) with garbage. */
static void eq_garbage(eq_t *x, af_op_t *op)
{
	unsigned char *p = (unsigned char *)op;
	uint64_t v;
	size_t i;

	for(i = 0; i < sizeof(*op); i += 8) {
		v = eq_rand64(x);
		memcpy(p + i, &v, sizeof(*op) - i < 8 ? sizeof(*op) - i : 8);
	}
	/* keep the small outputs small (as callers' zeroed structs are) */
	if(eq_rand(x, 2))
		memset(&op->u, 0, sizeof(op->u));
}

/* A random subject of the pool into op's key. */
static void eq_subject(eq_t *x, af_op_t *op)
{
	int k = (int)eq_rand(x, EQ_KEYS);

	op->key = eq_key[k];
	op->key_len = eq_klen[k];
}

/*
 * Makes op a WIN_MULTI over some of the windows every WIN_MULTI key shares
 * (at most AF_WIN_MULTI_MAX per key: beyond, a backend may keep or drop
 * the windows the op does not name), now and then an invalid one, with
 * gates, thresholds and an if_new naming an earlier WIN_MULTI of ops.
 */
static void eq_gen_multi(eq_t *x, af_op_t *ops, int i)
{
	static const uint32_t wins[AF_WIN_MULTI_MAX] = {2, 16, 3600};
	af_op_t *op = &ops[i];
	uint32_t w, t;
	int j, m, k, earlier[EQ_MAXOPS], ne = 0, order[3] = {0, 1, 2};

	op->type = AF_OP_WIN_MULTI;
	op->u.wm.nwin = 1 + (int)eq_rand(x, AF_WIN_MULTI_MAX);
	for(j = 2; j > 0; j--) {
		k = (int)eq_rand(x, (uint32_t)j + 1);
		m = order[j];
		order[j] = order[k];
		order[k] = m;
	}
	w = eq_rand(x, 100);
	op->u.wm.n = w < 15 ? 0 : w < 85 ? 1 : 2 + eq_rand(x, 4);
	op->u.wm.ban_s = eq_rand(x, 40) ? 1 + eq_rand(x, 20) : 0;
	if(eq_rand(x, 2)) {
		m = (int)eq_rand(x, EQ_KEYS);
		op->u.wm.ban_key = eq_key[m];
		op->u.wm.ban_key_len = eq_klen[m];
	} else {
		op->u.wm.ban_key = NULL;
	}
	op->u.wm.ban_reason = eq_reason(x);
	for(j = 0; j < op->u.wm.nwin; j++) {
		op->u.wm.w[j].window_s = wins[order[j]];
		op->u.wm.w[j].gate = eq_rand(x, 3) ? 0 : 1 + eq_rand(x, 8);
		op->u.wm.w[j].ban_threshold = eq_rand(x, 3) ? 0 : 1 + eq_rand(x, 10);
	}
	t = eq_rand(x, 80);
	if(t == 0)
		op->u.wm.nwin = eq_rand(x, 2) ? 0 : AF_WIN_MULTI_MAX + 1;
	else if(t == 1 && op->u.wm.nwin > 1)
		op->u.wm.w[1].window_s = eq_rand(x, 2) ? 0 : op->u.wm.w[0].window_s;
	op->u.wm.if_new = 0;
	for(j = 0; j < i; j++)
		if(ops[j].type == AF_OP_WIN_MULTI)
			earlier[ne++] = j;
	if(ne && eq_rand(x, 2) == 0)
		op->u.wm.if_new = earlier[eq_rand(x, (uint32_t)ne)] + 1;
	else if(eq_rand(x, 80) == 0)
		op->u.wm.if_new = (int)eq_rand(x, (uint32_t)i + 3) - 1;
}

/* Generates op i of the batch ops. */
static void eq_gen(eq_t *x, af_op_t *ops, int i)
{
	af_op_t *op = &ops[i];
	uint32_t r = eq_rand(x, 100), w;
	int j, m, wins[EQ_MAXOPS], nw = 0;
	static const uint32_t windows[] = {1, 2, 5, 16, 60, 3600};

	eq_garbage(x, op);
	op->status = (int)eq_rand(x, 5) - 2;
	eq_subject(x, op);
	if(r < 12) {
		op->type = AF_OP_BAN_GET;
		op->u.ban_get.stop = eq_rand(x, 4) == 0;
	} else if(r < 18) {
		op->type = AF_OP_BAN_SET;
		op->u.ban_set.ttl_s = eq_rand(x, 50) ? 1 + eq_rand(x, 20) : 0;
		op->u.ban_set.reason = eq_reason(x);
	} else if(r < 22) {
		op->type = AF_OP_BAN_DEL;
	} else if(r < 34) {
		eq_gen_multi(x, ops, i);
	} else if(r < 55) {
		op->type = AF_OP_WIN_HIT;
		op->u.win.window_s = windows[eq_rand(x, 6)];
		if(eq_rand(x, 60) == 0)
			op->u.win.window_s = 0;
		w = eq_rand(x, 100);
		op->u.win.n = w < 15 ? 0 : w < 85 ? 1 : w < 99 ? 2 + eq_rand(x, 4)
												: UINT32_MAX - 1;
		op->u.win.ban_threshold = eq_rand(x, 3) ? 0 : 1 + eq_rand(x, 10);
		op->u.win.ban_s = eq_rand(x, 40) ? 1 + eq_rand(x, 20) : 0;
		if(eq_rand(x, 2)) {
			m = (int)eq_rand(x, EQ_KEYS);
			op->u.win.ban_key = eq_key[m];
			op->u.win.ban_key_len = eq_klen[m];
		} else {
			op->u.win.ban_key = NULL;
			op->u.win.ban_key_len = eq_rand(x, 3); /* ignored when NULL */
		}
		op->u.win.ban_reason = eq_reason(x);
		op->u.win.gate = eq_rand(x, 3) ? 0 : 1 + eq_rand(x, 8);
		op->u.win.if_new = 0;
		for(j = 0; j < i; j++)
			if(ops[j].type == AF_OP_WIN_HIT)
				wins[nw++] = j;
		if(nw && eq_rand(x, 3) == 0)
			op->u.win.if_new = wins[eq_rand(x, (uint32_t)nw)] + 1;
		else if(eq_rand(x, 80) == 0)
			op->u.win.if_new = (int)eq_rand(x, (uint32_t)i + 3) - 1;
	} else if(r < 63) {
		op->type = AF_OP_HIST_PUSH;
		/* a read leaves its entry as garbage: both ignore it */
		op->u.hist.read_only = eq_rand(x, 4) == 0;
		if(!op->u.hist.read_only) {
			op->u.hist.entry = eq_hist[eq_rand(x, EQ_HIST)];
			w = eq_rand(x, 10);
			op->u.hist.entry.ts_ms = w < 7 ? 0
									 : w < 9 ? x->now - eq_rand(x, 30000)
											 : x->now + 5000;
		}
		op->u.hist.ttl_s = eq_rand(x, 50) ? 1 + eq_rand(x, 30) : 0;
	} else if(r < 81) {
		op->type = AF_OP_CONC_ADD;
		m = (int)eq_rand(x, EQ_MEMS);
		op->u.conc.member = eq_mem[m];
		op->u.conc.member_len = eq_mlen[m];
		op->u.conc.limit = eq_rand(x, 5);
		op->u.conc.ttl_s = eq_rand(x, 200) ? 1 + eq_rand(x, 20) : 0;
		if(eq_rand(x, 300) == 0) {
			/* invalid (a NULL member of length 0 is valid, the empty
			 * member, but shm's insert passes it to memcpy) */
			op->u.conc.member = NULL;
			op->u.conc.member_len = 1 + eq_rand(x, 3);
		}
	} else if(r < 91) {
		op->type = AF_OP_CONC_DEL;
		m = (int)eq_rand(x, EQ_MEMS);
		op->u.conc.member = eq_mem[m];
		op->u.conc.member_len = eq_mlen[m];
		if(eq_rand(x, 100) == 0) {
			op->u.conc.member = NULL; /* invalid (see CONC_ADD) */
			op->u.conc.member_len = 1 + eq_rand(x, 2);
		}
	} else if(r < 94) {
		op->type = AF_OP_CONC_COUNT;
	} else if(r < 97) {
		op->type = AF_OP_FIG_MULTI;
		/* 1 to AF_FIG_WIN_MAX distinct windows of the 6 (an entry's
		 * slots taken over by others), now and then invalid: no window,
		 * too many, a window of 0 or twice the same */
		op->u.fig.nwin = 1 + (int)eq_rand(x, AF_FIG_WIN_MAX);
		for(j = 0; j < op->u.fig.nwin; j++) {
			w = windows[eq_rand(x, 6)];
			for(m = 0; m < j; m++)
				if(op->u.fig.w[m].window_s == w) {
					w = windows[eq_rand(x, 6)];
					m = -1; /* again, from the first */
				}
			op->u.fig.w[j].window_s = w;
		}
		if(eq_rand(x, 60) == 0) {
			m = (int)eq_rand(x, 4);
			if(m == 0)
				op->u.fig.nwin = 0;
			else if(m == 1)
				op->u.fig.nwin = AF_FIG_WIN_MAX + 1;
			else if(m == 2)
				op->u.fig.w[eq_rand(x, op->u.fig.nwin)].window_s = 0;
			else if(op->u.fig.nwin > 1)
				op->u.fig.w[1].window_s = op->u.fig.w[0].window_s;
		}
		/* all 0 now and then: a read */
		m = eq_rand(x, 5) != 0;
		for(j = 0; j < AF_FIG_N; j++) {
			w = eq_rand(x, 100);
			op->u.fig.n[j] = !m || w < 40 ? 0 : w < 98 ? 1 + eq_rand(x, 30)
										  : UINT32_MAX - eq_rand(x, 3);
		}
	} else if(r < 98) {
		op->type = (af_op_type_t)99;
	} else {
		/* a NULL key with a length, of any type */
		op->type = (af_op_type_t)(1 + eq_rand(x, 8));
		op->key = NULL;
		op->key_len = 1 + eq_rand(x, 5);
		if(op->type == AF_OP_WIN_HIT) {
			op->u.win.gate = eq_rand(x, 3);
			op->u.win.count = eq_rand(x, 5);
			op->u.win.if_new = 0;
		}
		if(op->type == AF_OP_CONC_ADD || op->type == AF_OP_CONC_DEL) {
			op->u.conc.member = eq_mem[0];
			op->u.conc.member_len = eq_mlen[0];
			op->u.conc.ttl_s = 5;
		}
	}
}

#define EQ_FAIL(fmt, ...)                                                     \
	fail_msg("batch %ld op %d (type %d): " fmt, x->batch, i, (int)a->type,   \
			##__VA_ARGS__)
#define EQ_INT(f)                                                             \
	do {                                                                      \
		if((long long)(a->f) != (long long)(b->f))                            \
			EQ_FAIL(#f ": shm %lld, redis %lld", (long long)(a->f),           \
					(long long)(b->f));                                       \
	} while(0)

/* Compares op i as the shm store (a) and the Redis store (b) left it. */
static void eq_cmp(eq_t *x, const af_op_t *a, const af_op_t *b, int i)
{
	int j, k;

	EQ_INT(status);
	switch((int)a->type) {
		case AF_OP_BAN_GET:
			EQ_INT(u.ban_get.found);
			EQ_INT(u.ban_get.ban.since_ms);
			EQ_INT(u.ban_get.ban.until_ms);
			EQ_INT(u.ban_get.ban.hits);
			if(memcmp(a->u.ban_get.ban.reason, b->u.ban_get.ban.reason,
					   AF_BAN_REASON)
					!= 0)
				EQ_FAIL("reason: shm '%.64s', redis '%.64s'",
						a->u.ban_get.ban.reason, b->u.ban_get.ban.reason);
			break;
		case AF_OP_BAN_DEL:
			EQ_INT(u.ban_del.found);
			break;
		case AF_OP_WIN_HIT:
			EQ_INT(u.win.count);
			EQ_INT(u.win.banned);
			break;
		case AF_OP_WIN_MULTI:
			for(j = 0; j < AF_WIN_MULTI_MAX; j++) {
				EQ_INT(u.wm.w[j].count);
				EQ_INT(u.wm.w[j].banned);
				EQ_INT(u.wm.w[j].added);
			}
			if(a->status == 0 && a->u.wm.w[0].added)
				x->n_multi++;
			break;
		case AF_OP_FIG_MULTI:
			for(k = 0; k < AF_FIG_WIN_MAX; k++)
				for(j = 0; j < AF_FIG_N; j++)
					EQ_INT(u.fig.w[k].count[j]);
			if(a->status == 0 && a->u.fig.w[0].count[0])
				x->n_fig++;
			break;
		case AF_OP_HIST_PUSH:
			EQ_INT(u.hist.n_prev);
			for(j = 0; j < AF_HIST_MAX; j++) {
				EQ_INT(u.hist.prev[j].ip.family);
				EQ_INT(u.hist.prev[j].ts_ms);
				if(memcmp(a->u.hist.prev[j].ip.addr, b->u.hist.prev[j].ip.addr,
						   16)
								!= 0
						|| memcmp(a->u.hist.prev[j].country,
								   b->u.hist.prev[j].country, 3)
								   != 0
						|| memcmp(a->u.hist.prev[j].continent,
								   b->u.hist.prev[j].continent, 3)
								   != 0)
					EQ_FAIL("hist prev[%d] differs", j);
			}
			break;
		case AF_OP_CONC_ADD:
		case AF_OP_CONC_DEL:
		case AF_OP_CONC_COUNT:
			EQ_INT(u.conc.count);
			EQ_INT(u.conc.admitted);
			EQ_INT(u.conc.full);
			EQ_INT(u.conc.found);
			break;
		default:
			break;
	}
}

/* a ban or a set as listed, for comparing lists */
typedef struct eq_item {
	char key[AF_KEY_MAX];
	size_t key_len;
	af_ban_t ban;
	uint32_t count;
} eq_item_t;

typedef struct eq_list {
	eq_item_t it[256];
	int n;
} eq_list_t;

static int eq_ban_cb(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	eq_list_t *l = arg;
	eq_item_t *it;

	assert_true(l->n < 256);
	it = &l->it[l->n++];
	memset(it, 0, sizeof(*it));
	/* shm lists a long key as its first AF_KEY_MAX bytes */
	it->key_len = key_len > AF_KEY_MAX ? AF_KEY_MAX : key_len;
	memcpy(it->key, key, it->key_len);
	it->ban.since_ms = ban->since_ms;
	it->ban.until_ms = ban->until_ms;
	it->ban.hits = ban->hits;
	memcpy(it->ban.reason, ban->reason, AF_BAN_REASON);
	return 0;
}

static int eq_conc_cb(const char *key, size_t key_len, uint32_t count,
		void *arg)
{
	eq_list_t *l = arg;
	eq_item_t *it;

	assert_true(l->n < 256);
	it = &l->it[l->n++];
	memset(it, 0, sizeof(*it));
	it->key_len = key_len > AF_KEY_MAX ? AF_KEY_MAX : key_len;
	memcpy(it->key, key, it->key_len);
	it->count = count;
	return 0;
}

static int eq_item_cmp(const void *pa, const void *pb)
{
	const eq_item_t *a = pa, *b = pb;
	size_t l = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = memcmp(a->key, b->key, l);

	if(c)
		return c;
	if(a->key_len != b->key_len)
		return a->key_len < b->key_len ? -1 : 1;
	if(a->count != b->count)
		return a->count < b->count ? -1 : 1;
	return memcmp(&a->ban, &b->ban, sizeof(a->ban));
}

/* ban_list and conc_list of both stores list the same. */
static void eq_lists(eq_t *x)
{
	static eq_list_t la, lb;
	static const struct {
		const char *p;
		size_t len;
	} pre[] = {{"", 0}, {"203.0.113.", 10}, {eq_key[9], 96}, {"zz", 2}};
	int k;

	memset(&la, 0, sizeof(la));
	memset(&lb, 0, sizeof(lb));
	assert_int_equal(x->shm->ops->ban_list(x->shm, eq_ban_cb, &la, x->now), 0);
	assert_int_equal(x->rds->ops->ban_list(x->rds, eq_ban_cb, &lb, x->now), 0);
	qsort(la.it, la.n, sizeof(la.it[0]), eq_item_cmp);
	qsort(lb.it, lb.n, sizeof(lb.it[0]), eq_item_cmp);
	if(la.n != lb.n)
		fail_msg("batch %ld: ban_list: shm %d bans, redis %d", x->batch,
				la.n, lb.n);
	for(k = 0; k < la.n; k++)
		if(eq_item_cmp(&la.it[k], &lb.it[k]) != 0)
			fail_msg("batch %ld: ban_list differs at %d", x->batch, k);
	for(k = 0; k < (int)(sizeof(pre) / sizeof(pre[0])); k++) {
		memset(&la, 0, sizeof(la));
		memset(&lb, 0, sizeof(lb));
		assert_int_equal(x->shm->ops->conc_list(x->shm, pre[k].p, pre[k].len,
								 eq_conc_cb, &la, x->now),
				0);
		assert_int_equal(x->rds->ops->conc_list(x->rds, pre[k].p, pre[k].len,
								 eq_conc_cb, &lb, x->now),
				0);
		qsort(la.it, la.n, sizeof(la.it[0]), eq_item_cmp);
		qsort(lb.it, lb.n, sizeof(lb.it[0]), eq_item_cmp);
		if(la.n != lb.n)
			fail_msg("batch %ld: conc_list '%.10s': shm %d sets, redis %d",
					x->batch, pre[k].p, la.n, lb.n);
		for(int j = 0; j < la.n; j++)
			if(eq_item_cmp(&la.it[j], &lb.it[j]) != 0)
				fail_msg("batch %ld: conc_list differs at %d", x->batch, j);
	}
}

/* Moves the clock: not at all, a little, a lot, or onto an edge. */
static void eq_advance(eq_t *x)
{
	uint32_t r = eq_rand(x, 100);
	uint64_t best = 0;
	int k, tries;

	if(r < 20)
		return;
	if(r < 45) {
		x->now += eq_rand(x, 300);
	} else if(r < 65) {
		x->now += eq_rand(x, 2500);
	} else if(r < 85) {
		/* onto a remembered slice or expiry edge, or 1 ms before */
		for(tries = 0; tries < 8 && !best; tries++) {
			k = (int)eq_rand(x, EQ_MARKS);
			if(x->marks[k] > x->now)
				best = x->marks[k];
		}
		if(best)
			x->now = best - (eq_rand(x, 3) == 0 ? 1 : 0);
		else
			x->now += 1000;
	} else if(r < 95) {
		x->now += 1000 * eq_rand(x, 6);
	} else {
		x->now += eq_rand(x, 40000);
	}
}

/* Runs one random batch on both stores and compares. */
static void eq_batch(eq_t *x)
{
	af_op_t a[EQ_MAXOPS], b[EQ_MAXOPS];
	uint64_t sms;
	int i, n, ra, rb;

	if(eq_rand(x, 300) == 0) {
		/* a group of 17 CONC_ADDs (one too many) or exactly 16 */
		n = 16 + (int)eq_rand(x, 2);
		for(i = 0; i < n; i++) {
			eq_gen(x, a, i);
			a[i].type = AF_OP_CONC_ADD;
			a[i].key = eq_key[i % EQ_KEYS];
			a[i].key_len = eq_klen[i % EQ_KEYS];
			a[i].u.conc.member = eq_mem[0];
			a[i].u.conc.member_len = eq_mlen[0];
			a[i].u.conc.limit = 0;
			a[i].u.conc.ttl_s = 5;
		}
	} else {
		n = 1 + (int)eq_rand(x, 12);
		for(i = 0; i < n; i++)
			eq_gen(x, a, i);
	}
	memcpy(b, a, sizeof(a[0]) * n);
	for(i = 0; i < n; i++) {
		int j, r;

		if(a[i].type == AF_OP_WIN_HIT && a[i].key && a[i].u.win.if_new > 0
				&& a[i].u.win.if_new <= i) {
			r = a[i].u.win.if_new - 1;
			if(a[r].type == AF_OP_WIN_HIT && a[r].u.win.if_new)
				x->n_chain++;
		}
		for(j = 0; a[i].type == AF_OP_CONC_ADD && j < i; j++)
			if(a[j].type == AF_OP_CONC_ADD && a[j].key == a[i].key
					&& a[j].u.conc.member == a[i].u.conc.member)
				x->n_dup++;
	}
	ra = af_store_exec(x->shm, a, n, x->now);
	rb = af_store_exec(x->rds, b, n, x->now);
	for(i = 0; i < n; i++)
		eq_cmp(x, &a[i], &b[i], i);
	if(ra != rb)
		fail_msg("batch %ld: exec: shm %d, redis %d", x->batch, ra, rb);
	for(i = 0; i < n; i++) {
		x->n_ops++;
		if(a[i].status == 1)
			x->n_stopped++;
		if(a[i].status < 0)
			x->n_invalid++;
		if(a[i].status != 0)
			continue;
		switch(a[i].type) {
			case AF_OP_BAN_GET:
				x->n_found += a[i].u.ban_get.found;
				break;
			case AF_OP_WIN_HIT:
				x->n_banned += a[i].u.win.banned;
				sms = (uint64_t)a[i].u.win.window_s * 1000 / AF_WIN_BUCKETS;
				eq_mark(x, (x->now / sms + 1) * sms);
				eq_mark(x, (x->now / sms + AF_WIN_BUCKETS) * sms);
				if(a[i].u.win.if_new && a[i].u.win.n
						&& a[i].u.win.count != 0)
					x->n_new_skipped++;
				break;
			case AF_OP_CONC_ADD:
				if(a[i].u.conc.admitted)
					x->n_admitted++;
				else
					x->n_refused++;
				eq_mark(x, x->now + (uint64_t)a[i].u.conc.ttl_s * 1000);
				break;
			case AF_OP_BAN_SET:
				eq_mark(x, x->now + (uint64_t)a[i].u.ban_set.ttl_s * 1000);
				break;
			case AF_OP_HIST_PUSH:
				x->n_hist_prev += a[i].u.hist.n_prev;
				if(a[i].u.hist.read_only)
					x->n_hist_ro += a[i].u.hist.n_prev;
				else /* a read moves no expiry */
					eq_mark(x, x->now + (uint64_t)a[i].u.hist.ttl_s * 1000);
				break;
			default:
				break;
		}
	}
}

#define EQ_BATCHES 5000

/* One run of EQ_BATCHES random batches with seed. */
static void eq_run(uint64_t seed, eq_t *tot)
{
	af_store_shm_cfg_t scfg = {.max_entries = 65536, .stripes = 16};
	af_store_stats_t sa, sb;
	eq_t x;

	need_main(); /* empty */
	memset(&x, 0, sizeof(x));
	x.rng = seed;
	x.now = T0 + seed % 1000;
	x.shm = af_store_shm_new(&scfg);
	assert_non_null(x.shm);
	x.rds = main_store("eq:");
	for(x.batch = 0; x.batch < EQ_BATCHES; x.batch++) {
		eq_batch(&x);
		eq_advance(&x);
		if(eq_rand(&x, 20) == 0)
			x.shm->ops->gc(x.shm, x.now, eq_rand(&x, 8));
		if(x.batch % 250 == 249)
			eq_lists(&x);
	}
	eq_lists(&x);
	x.shm->ops->stats(x.shm, &sa);
	x.rds->ops->stats(x.rds, &sb);
	assert_int_equal(sa.evictions, 0);
	assert_int_equal(sa.failures, sb.failures);
	assert_true(check_ttls(s_main.port, "eq:") > 0);
	tot->n_ops += x.n_ops;
	tot->batch += x.batch;
	tot->n_banned += x.n_banned;
	tot->n_admitted += x.n_admitted;
	tot->n_refused += x.n_refused;
	tot->n_stopped += x.n_stopped;
	tot->n_invalid += x.n_invalid;
	tot->n_found += x.n_found;
	tot->n_hist_prev += x.n_hist_prev;
	tot->n_hist_ro += x.n_hist_ro;
	tot->n_new_skipped += x.n_new_skipped;
	tot->n_chain += x.n_chain;
	tot->n_dup += x.n_dup;
	tot->n_multi += x.n_multi;
	tot->n_fig += x.n_fig;
	x.shm->ops->destroy(x.shm);
	free_store(x.rds);
}

/* random batches give the same statuses and outputs on shm and Redis */
static void test_equivalence(void **state)
{
	eq_t tot;
	uint64_t t = mono_us();

	need_main();
	eq_pools();
	memset(&tot, 0, sizeof(tot));
	eq_run(0x9e3779b97f4a7c15ULL, &tot);
	eq_run(12345, &tot);
	eq_run(0xdeadbeefcafeULL, &tot);
	eq_run(77, &tot);
	eq_run(0x5eed5eed5eedULL, &tot);
	print_message("equivalence: %ld batches, %ld ops in %.1f s: %ld bans by"
				  " threshold, %ld BAN_GET found, %ld skipped after stop,"
				  " %ld admitted / %ld refused CONC_ADDs, %ld duplicate"
				  " CONC_ADDs, %ld if_new chains, %ld hist entries returned"
				  " (%ld by read_only ops), %ld invalid ops, %ld WIN_MULTIs"
				  " counted, %ld FIG_MULTIs with a count\n",
			tot.batch, tot.n_ops, (double)(mono_us() - t) / 1e6, tot.n_banned,
			tot.n_found, tot.n_stopped, tot.n_admitted, tot.n_refused,
			tot.n_dup, tot.n_chain, tot.n_hist_prev, tot.n_hist_ro,
			tot.n_invalid, tot.n_multi, tot.n_fig);
	/* the runs went through the interesting paths */
	assert_true(tot.n_banned > 50);
	assert_true(tot.n_found > 100);
	assert_true(tot.n_stopped > 20);
	assert_true(tot.n_admitted > 100 && tot.n_refused > 100);
	assert_true(tot.n_hist_prev > 100);
	assert_true(tot.n_hist_ro > 50);
	assert_true(tot.n_invalid > 20);
	assert_true(tot.n_dup > 20);
	assert_true(tot.n_chain > 20);
	assert_true(tot.n_multi > 1000);
	assert_true(tot.n_fig > 1000);
}

/* ---- targeted cases ---- */

/* a scenario of store_scenarios.h on an empty Redis store */
static void test_scenario(void **state)
{
	const scn_t *scn = *state;
	af_store_t *s;

	need_main();
	s = main_store("t:");
	scn->run(s);
	free_store(s);
}

/* the script answers in one string of numbers and length-prefixed
 * strings: a reason and a history record that look like its separators
 * and numbers come back byte for byte, in a batch with other ops */
static void test_reply_bytes(void **state)
{
	static const char reason[] = "3:a,-1,12:,:";
	af_store_t *s;
	af_op_t ops[3];
	af_hist_entry_t e;
	int i;

	need_main();
	s = main_store("t:");
	test_host_set_now(T0);
	assert_int_equal(ban_set(s, "rb", 60, reason), 0);
	memset(&e, 0, sizeof(e));
	e.ip.family = 6;
	memcpy(e.ip.addr, ",:-0123456789\0\xff,", 16);
	memcpy(e.country, ":,", 3);
	memcpy(e.continent, "1,", 3);
	hist_op(&ops[0], "rb", 1, "DE", 100);
	ops[0].u.hist.entry = e;
	assert_int_equal(af_store_exec(s, ops, 1, af_now_ms()), 0);
	test_host_advance(1000);
	memset(ops, 0, sizeof(ops));
	hist_op(&ops[0], "rb", 2, "DE", 100);
	ops[1].type = AF_OP_BAN_GET;
	ops[1].key = "rb";
	ops[1].key_len = 2;
	hist_op(&ops[2], "rb", 3, "FR", 100);
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
	for(i = 0; i < 3; i++)
		assert_int_equal(ops[i].status, 0);
	assert_int_equal(ops[0].u.hist.n_prev, 1);
	assert_int_equal(ops[0].u.hist.prev[0].ip.family, 6);
	assert_memory_equal(ops[0].u.hist.prev[0].ip.addr, e.ip.addr, 16);
	assert_memory_equal(ops[0].u.hist.prev[0].country, e.country, 3);
	assert_memory_equal(ops[0].u.hist.prev[0].continent, e.continent, 3);
	assert_int_equal(ops[0].u.hist.prev[0].ts_ms, T0);
	assert_int_equal(ops[1].u.ban_get.found, 1);
	assert_string_equal(ops[1].u.ban_get.ban.reason, reason);
	assert_int_equal(ops[1].u.ban_get.ban.since_ms, T0);
	assert_int_equal(ops[1].u.ban_get.ban.until_ms, T0 + 60000);
	assert_int_equal(ops[1].u.ban_get.ban.hits, 1);
	assert_int_equal(ops[2].u.hist.n_prev, 2);
	assert_int_equal(ops[2].u.hist.prev[0].ip.addr[3], 2);
	assert_memory_equal(ops[2].u.hist.prev[1].ip.addr, e.ip.addr, 16);
	free_store(s);
}

/* a read_only HIST_PUSH returns the sources and writes nothing: no key
 * created, the value and the TTL of a present one left as they are */
static void test_history_read_only(void **state)
{
	af_store_t *s;
	af_op_t op, ro, ops[3];
	redisContext *c;
	redisReply *r, *r2;
	long long pttl;

	need_main();
	s = main_store("t:");
	c = raw(s_main.port);
	test_host_set_now(T0);
	/* a missing history: nothing returned, no key */
	hist_read(s, "carol", 1, "DE", 100, &ro);
	assert_int_equal(ro.u.hist.n_prev, 0);
	hist_read(s, "carol", 1, "DE", 100, &ro);
	assert_int_equal(ro.u.hist.n_prev, 0);
	r = rcmd(c, 1, "DBSIZE");
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	/* which a recording push then finds empty */
	hist_push(s, "carol", 1, "DE", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 0);
	r = rcmd(c, 1, "EXISTS t:v2:hist:{carol}");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);

	/* after pushes: newest first; a read naming 1, the oldest, does not
	 * bring it to the front as a push would; the value stays byte for
	 * byte (its expiry included) and the TTL only runs down */
	hist_push(s, "alice", 1, "DE", 100, &op);
	test_host_advance(1000);
	hist_push(s, "alice", 2, "FR", 100, &op);
	test_host_advance(1000);
	hist_push(s, "alice", 3, "IT", 100, &op);
	r = rcmd(c, 1, "GET t:v2:hist:{alice}");
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	r2 = rcmd(c, 1, "PTTL t:v2:hist:{alice}");
	pttl = r2->integer;
	assert_true(pttl > 0);
	freeReplyObject(r2);
	usleep(20000);
	test_host_advance(1000);
	hist_read(s, "alice", 1, "ES", 100, &ro);
	assert_int_equal(ro.u.hist.n_prev, 3);
	assert_int_equal(ro.u.hist.prev[0].ip.addr[3], 3);
	assert_string_equal(ro.u.hist.prev[0].country, "IT");
	assert_int_equal(ro.u.hist.prev[0].ts_ms, T0 + 2000);
	assert_int_equal(ro.u.hist.prev[1].ip.addr[3], 2);
	assert_int_equal(ro.u.hist.prev[1].ts_ms, T0 + 1000);
	assert_int_equal(ro.u.hist.prev[2].ip.addr[3], 1);
	assert_string_equal(ro.u.hist.prev[2].country, "DE");
	assert_int_equal(ro.u.hist.prev[2].ts_ms, T0);
	hist_read(s, "alice", 9, "PT", 100, &op);
	hist_same(&ro, &op);
	r2 = rcmd(c, 1, "GET t:v2:hist:{alice}");
	assert_int_equal(r2->type, REDIS_REPLY_STRING);
	assert_int_equal(r2->len, r->len);
	assert_memory_equal(r2->str, r->str, r->len);
	freeReplyObject(r2);
	freeReplyObject(r);
	r = rcmd(c, 1, "PTTL t:v2:hist:{alice}");
	assert_true(r->integer > 0 && r->integer < pttl);
	freeReplyObject(r);
	/* the next push sees what the reads saw */
	test_host_advance(1000);
	hist_push(s, "alice", 4, "ES", 100, &op);
	hist_same(&ro, &op);

	/* a shorter ttl_s hides the older records, and drops none: a push
	 * with the longer ttl_s still returns them */
	test_host_advance(1000);
	hist_read(s, "alice", 1, "DE", 2, &ro);
	assert_int_equal(ro.u.hist.n_prev, 1);
	assert_int_equal(ro.u.hist.prev[0].ip.addr[3], 4);
	hist_push(s, "alice", 5, "PT", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 4);
	assert_int_equal(op.u.hist.prev[3].ip.addr[3], 1);

	/* expiry: ttl_s after the last recording push, whatever the reads
	 * (the key's own TTL runs on the server's clock: the expiry in the
	 * value is what counts here). A record from the future is never too
	 * old for a read's ttl_s, so only that expiry can hide it. */
	test_host_set_now(T0 + 200000);
	hist_op(&op, "bob", 1, "DE", 10);
	op.u.hist.entry.ts_ms = T0 + 3600000;
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	assert_int_equal(op.status, 0);
	test_host_set_now(T0 + 205000);
	hist_read(s, "bob", 2, "FR", 10, &ro);
	assert_int_equal(ro.u.hist.n_prev, 1);
	assert_int_equal(ro.u.hist.prev[0].ts_ms, T0 + 3600000);
	test_host_set_now(T0 + 209999);
	hist_read(s, "bob", 2, "FR", 10, &ro);
	assert_int_equal(ro.u.hist.n_prev, 1);
	test_host_set_now(T0 + 210000);
	hist_read(s, "bob", 2, "FR", 10, &ro);
	assert_int_equal(ro.u.hist.n_prev, 0);
	/* as after a push that did not record: the next push finds nothing */
	hist_push(s, "bob", 3, "DE", 10, &op);
	assert_int_equal(op.u.hist.n_prev, 0);

	/* in a batch, a read sees the ops before it on its key */
	hist_op(&ops[0], "dave", 1, "DE", 60);
	ops[0].u.hist.read_only = 1;
	hist_op(&ops[1], "dave", 2, "FR", 60);
	ops[2] = ops[0];
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
	assert_int_equal(ops[0].u.hist.n_prev, 0);
	assert_int_equal(ops[1].u.hist.n_prev, 0);
	assert_int_equal(ops[2].u.hist.n_prev, 1);
	assert_int_equal(ops[2].u.hist.prev[0].ip.addr[3], 2);
	/* ttl_s 0 is invalid, read_only or not (no round trip) */
	hist_op(&op, "erin", 1, "DE", 0);
	op.u.hist.read_only = 1;
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), -1);
	assert_int_equal(op.status, -1);
	assert_int_equal(op.u.hist.n_prev, 0);
	r = rcmd(c, 1, "EXISTS t:v2:hist:{erin}");
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	redisFree(c);
	free_store(s);
}

/* a batch runs in order; a BAN_GET with stop that finds a ban skips the
 * rest and the whole CONC_ADD group */
static void test_batch_stop(void **state)
{
	af_store_t *s;
	af_op_t ops[4];
	int i;

	need_main();
	s = main_store("t:");
	test_host_set_now(T0);
	memset(ops, 0, sizeof(ops));
	ops[0].type = AF_OP_BAN_SET;
	ops[0].key = "x";
	ops[0].key_len = 1;
	ops[0].u.ban_set.ttl_s = 60;
	ops[1].type = AF_OP_BAN_GET;
	ops[1].key = "x";
	ops[1].key_len = 1;
	win_op(&ops[2], "x", 2, 0, 0);
	ops[3] = ops[2];
	assert_int_equal(af_store_exec(s, ops, 4, af_now_ms()), 0);
	assert_true(ops[1].u.ban_get.found);
	assert_int_equal(ops[1].u.ban_get.ban.hits, 1);
	assert_int_equal(ops[2].u.win.count, 2);
	assert_int_equal(ops[3].u.win.count, 4);
	assert_int_equal(af_store_exec(s, ops, 0, af_now_ms()), 0);
	ops[1].u.ban_get.stop = 1;
	ops[2].status = ops[3].status = 7;
	ops[2].u.win.count = 77;
	assert_int_equal(af_store_exec(s, ops + 1, 3, af_now_ms()), 0);
	assert_int_equal(ops[1].status, 0);
	assert_int_equal(ops[2].status, 1);
	assert_int_equal(ops[3].status, 1);
	assert_int_equal(ops[2].u.win.count, 77); /* left as it was */
	assert_int_equal(win_hit(s, "x", 60, 0), 4);
	ops[1].key = "y";
	assert_int_equal(af_store_exec(s, ops + 1, 3, af_now_ms()), 0);
	assert_false(ops[1].u.ban_get.found);
	assert_int_equal(ops[3].u.win.count, 8);
	/* the group is skipped whether it comes before or after the stop */
	assert_int_equal(ban_set(s, "1.2.3.4", 60, "x"), 0);
	for(i = 0; i < 2; i++) {
		conc_op(&ops[0], AF_OP_CONC_ADD, "global", "banned", 0, 60);
		memset(&ops[1], 0, sizeof(ops[1]));
		ops[1].type = AF_OP_BAN_GET;
		ops[1].key = i ? "1.2.3.5" : "1.2.3.4";
		ops[1].key_len = 7;
		ops[1].u.ban_get.stop = 1;
		conc_op(&ops[2], AF_OP_CONC_ADD, "caller:x", "banned", 0, 60);
		ops[2].u.conc.count = 9;
		assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
		assert_int_equal(ops[0].status, i ? 0 : 1);
		assert_int_equal(ops[2].status, i ? 0 : 1);
		assert_int_equal(ops[2].u.conc.count, i);
		assert_int_equal(conc_count(s, "caller:x"), i);
	}
	free_store(s);
}

/* invalid ops fail alone (-1); the others are done */
static void test_invalid(void **state)
{
	af_store_t *s;
	af_store_stats_t st;
	af_op_t ops[6];

	need_main();
	s = main_store("t:");
	test_host_set_now(T0);
	memset(ops, 0, sizeof(ops));
	ops[0].type = AF_OP_WIN_HIT; /* window_s 0 */
	ops[0].key = "a";
	ops[0].key_len = 1;
	ops[0].u.win.n = 1;
	ops[0].u.win.count = 5;
	ops[1].type = AF_OP_BAN_SET; /* ttl_s 0 */
	ops[1].key = "a";
	ops[1].key_len = 1;
	ops[2].type = 99;
	ops[3].type = AF_OP_BAN_GET; /* NULL key with a length */
	ops[3].key_len = 3;
	ops[3].u.ban_get.found = 3;
	ops[4].type = AF_OP_BAN_DEL;
	ops[4].key = "a";
	ops[4].key_len = 1;
	win_op(&ops[5], "b", 1, 0, 5); /* if_new names a BAN_DEL */
	assert_int_equal(af_store_exec(s, ops, 6, af_now_ms()), -1);
	assert_int_equal(ops[0].status, -1);
	assert_int_equal(ops[0].u.win.count, 0);
	assert_int_equal(ops[1].status, -1);
	assert_int_equal(ops[2].status, -1);
	assert_int_equal(ops[3].status, -1);
	assert_int_equal(ops[3].u.ban_get.found, 3);
	assert_int_equal(ops[4].status, 0);
	assert_int_equal(ops[5].status, -1);
	s->ops->stats(s, &st);
	assert_int_equal(st.failures, 5);
	assert_int_equal(st.capacity, 0);
	/* nothing valid: no round trip needed, same answer */
	assert_int_equal(af_store_exec(s, ops, 4, af_now_ms()), -1);
	assert_int_equal(af_store_exec(s, NULL, 2, af_now_ms()), -1);
	/* an invalid CONC_ADD fails the group; other ops are done */
	conc_op(&ops[0], AF_OP_CONC_ADD, "inv", "a", 0, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "inv2", "a", 0, 0);
	win_op(&ops[2], "inv", 1, 0, 0);
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), -1);
	assert_int_equal(ops[0].status, -1);
	assert_int_equal(ops[1].status, -1);
	assert_int_equal(ops[2].status, 0);
	assert_int_equal(conc_count(s, "inv"), 0);
	free_store(s);
}

/* limits are exact, a group admits into every set or none, gates */
static void test_conc_groups(void **state)
{
	af_store_t *s;
	af_op_t ops[3];
	uint32_t c;
	char m[32];
	int i;

	need_main();
	s = main_store("t:");
	test_host_set_now(T0);
	for(i = 0; i < 5; i++) {
		snprintf(m, sizeof(m), "call%d", i);
		assert_true(conc_add(s, "g", m, 5, 60, &c));
		assert_int_equal(c, i + 1);
	}
	assert_false(conc_add(s, "g", "call5", 5, 60, &c));
	assert_int_equal(c, 5);
	assert_true(conc_add(s, "g", "call3", 5, 60, &c)); /* already in */
	assert_int_equal(c, 5);
	assert_true(conc_del(s, "g", "call0", &c));
	assert_int_equal(c, 4);
	assert_false(conc_del(s, "g", "call0", &c));
	assert_false(conc_del(s, "nowhere", "x", &c));
	assert_int_equal(c, 0);
	/* all or nothing */
	conc_op(&ops[0], AF_OP_CONC_ADD, "global", "c1", 3, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "caller:alice", "c1", 1, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_true(ops[0].u.conc.admitted && ops[1].u.conc.admitted);
	conc_op(&ops[0], AF_OP_CONC_ADD, "global", "c2", 3, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "caller:alice", "c2", 1, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_false(ops[0].u.conc.admitted || ops[1].u.conc.admitted);
	assert_false(ops[0].u.conc.full);
	assert_true(ops[1].u.conc.full);
	assert_int_equal(conc_count(s, "global"), 1);
	/* two members of one batch into one set count against it */
	conc_op(&ops[0], AF_OP_CONC_ADD, "pair", "p1", 2, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "pair", "p2", 2, 60);
	conc_op(&ops[2], AF_OP_CONC_ADD, "pair", "p3", 2, 60);
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
	assert_true(ops[2].u.conc.full);
	assert_int_equal(conc_count(s, "pair"), 0);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[0].u.conc.count, 2);
	/* the same member twice counts once; the last ttl wins */
	conc_op(&ops[0], AF_OP_CONC_ADD, "twice", "t", 1, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "twice", "t", 1, 30);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_true(ops[0].u.conc.admitted && ops[1].u.conc.admitted);
	assert_int_equal(ops[1].u.conc.count, 1);
	test_host_set_now(T0 + 29999);
	assert_int_equal(conc_count(s, "twice"), 1);
	test_host_set_now(T0 + 30000);
	assert_int_equal(conc_count(s, "twice"), 0);
	/* a gated WIN_HIT over its gate lets nobody in, at the gate it does */
	for(i = 0; i < 4; i++) {
		snprintf(m, sizeof(m), "g%d", i);
		conc_op(&ops[0], AF_OP_CONC_ADD, "gated", m, 0, 60);
		win_op(&ops[1], "rate:alice", 1, 2, 0);
		assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
		assert_int_equal(ops[1].u.win.count, i + 1);
		assert_int_equal(ops[0].u.conc.admitted, i < 2);
		assert_false(ops[0].u.conc.full);
	}
	/* members leave at their ttl exactly */
	test_host_set_now(T0 + 100000);
	assert_true(conc_add(s, "e", "a", 0, 10, NULL));
	test_host_set_now(T0 + 105000);
	assert_true(conc_add(s, "e", "b", 0, 10, &c));
	assert_int_equal(c, 2);
	test_host_set_now(T0 + 109999);
	assert_int_equal(conc_count(s, "e"), 2);
	test_host_set_now(T0 + 110000);
	assert_int_equal(conc_count(s, "e"), 1);
	assert_false(conc_del(s, "e", "a", &c));
	assert_int_equal(c, 1);
	/* a NULL member of length 0 is the empty member */
	conc_op(&ops[0], AF_OP_CONC_ADD, "empty", NULL, 0, 60);
	assert_int_equal(af_store_exec(s, ops, 1, af_now_ms()), 0);
	assert_true(ops[0].u.conc.admitted);
	assert_true(conc_add(s, "empty", "", 0, 60, &c));
	assert_int_equal(c, 1);
	conc_op(&ops[0], AF_OP_CONC_DEL, "empty", NULL, 0, 0);
	assert_int_equal(af_store_exec(s, ops, 1, af_now_ms()), 0);
	assert_true(ops[0].u.conc.found);
	assert_int_equal(ops[0].u.conc.count, 0);
	/* with a length it is invalid */
	ops[0].u.conc.member_len = 2;
	assert_int_equal(af_store_exec(s, ops, 1, af_now_ms()), -1);
	assert_int_equal(ops[0].status, -1);
	free_store(s);
}

/* if_new: distinct counting, chains */
static void test_win_if_new(void **state)
{
	af_store_t *s;
	af_op_t ops[3];
	const char *pairs[][2] = {{"A", "B"}, {"A", "B"}, {"A", "C"}, {"A", "B"},
			{"A", "D"}, {"A", "C"}};
	const uint32_t want[] = {1, 1, 2, 2, 3, 3};
	char pk[32];
	int i;

	need_main();
	s = main_store("t:");
	test_host_set_now(T0);
	for(i = 0; i < 6; i++) {
		snprintf(pk, sizeof(pk), "pair:%s:%s", pairs[i][0], pairs[i][1]);
		win_op(&ops[0], pk, 1, 0, 0);
		win_op(&ops[1], "dist:A", 1, 0, 1);
		assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
		assert_int_equal(ops[1].u.win.count, want[i]);
	}
	assert_int_equal(win_hit(s, "chain:d", 60, 1), 1);
	assert_int_equal(win_hit(s, "chain:p", 60, 1), 1);
	win_op(&ops[0], "chain:p", 1, 0, 0);
	win_op(&ops[1], "chain:d", 1, 0, 1);
	win_op(&ops[2], "chain:e", 1, 0, 2);
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
	assert_int_equal(ops[1].u.win.count, 1);
	assert_int_equal(ops[2].u.win.count, 0);
	free_store(s);
}

typedef struct list_acc {
	int n;
	int stop_after;
	char seen[8][200];
	uint32_t count[8];
	af_ban_t ban[8];
} list_acc_t;

static int ban_cb(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	list_acc_t *acc = arg;

	if(acc->n < 8 && key_len < sizeof(acc->seen[0])) {
		memcpy(acc->seen[acc->n], key, key_len);
		acc->seen[acc->n][key_len] = '\0';
		acc->ban[acc->n] = *ban;
	}
	acc->n++;
	return acc->stop_after && acc->n >= acc->stop_after;
}

static int conc_cb(const char *key, size_t key_len, uint32_t count,
		void *arg)
{
	list_acc_t *acc = arg;

	if(acc->n < 8 && key_len < sizeof(acc->seen[0])) {
		memcpy(acc->seen[acc->n], key, key_len);
		acc->seen[acc->n][key_len] = '\0';
		acc->count[acc->n] = count;
	}
	acc->n++;
	return acc->stop_after && acc->n >= acc->stop_after;
}

/* The entry of acc for key, -1 when not listed. */
static int listed(const list_acc_t *acc, const char *key)
{
	int i;

	for(i = 0; i < acc->n && i < 8; i++)
		if(strcmp(acc->seen[i], key) == 0)
			return i;
	return -1;
}

/* ban_list and conc_list; the callback may use the store */
static int ban_cb_reenter(const char *key, size_t key_len,
		const af_ban_t *ban, void *arg)
{
	af_store_t *s = arg;
	af_op_t op = {.type = AF_OP_BAN_GET, .key = key, .key_len = key_len};

	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	assert_true(op.u.ban_get.found);
	return 0;
}

static void test_lists(void **state)
{
	af_store_t *s;
	list_acc_t acc;
	char longk[150];
	int i;

	need_main();
	s = main_store("t:");
	test_host_set_now(T0);
	for(i = 0; i < 5; i++) {
		char k[16];

		snprintf(k, sizeof(k), "ip%d", i);
		assert_int_equal(ban_set(s, k, i == 4 ? 1 : 60, "listed"), 0);
	}
	test_host_advance(1000);
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(s->ops->ban_list(s, ban_cb, &acc, af_now_ms()), 0);
	assert_int_equal(acc.n, 4);
	i = listed(&acc, "ip2");
	assert_true(i >= 0);
	assert_string_equal(acc.ban[i].reason, "listed");
	assert_int_equal(acc.ban[i].until_ms, T0 + 60000);
	assert_int_equal(listed(&acc, "ip4"), -1);
	memset(&acc, 0, sizeof(acc));
	acc.stop_after = 1;
	assert_int_equal(s->ops->ban_list(s, ban_cb, &acc, af_now_ms()), 0);
	assert_int_equal(acc.n, 1);
	assert_int_equal(s->ops->ban_list(s, ban_cb_reenter, s, af_now_ms()), 0);

	assert_true(conc_add(s, "conc:caller:alice", "a1", 0, 60, NULL));
	assert_true(conc_add(s, "conc:caller:alice", "a2", 0, 60, NULL));
	assert_true(conc_add(s, "conc:caller:bob", "b1", 0, 60, NULL));
	assert_true(conc_add(s, "conc:caller:eve", "e1", 0, 5, NULL));
	assert_true(conc_add(s, "conc:global", "a1", 0, 60, NULL));
	assert_true(conc_add(s, "conc:caller:gone", "g1", 0, 60, NULL));
	assert_true(conc_del(s, "conc:caller:gone", "g1", NULL));
	memset(longk, 'k', sizeof(longk) - 1);
	longk[sizeof(longk) - 1] = '\0';
	memcpy(longk, "conc:long:", 10);
	assert_true(conc_add(s, longk, "l1", 0, 60, NULL));
	assert_int_equal(ban_set(s, "conc:caller:ban", 60, "x"), 0);
	assert_int_equal(win_hit(s, "conc:caller:win", 60, 1), 1);
	test_host_advance(5000);
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(s->ops->conc_list(s, "conc:caller:", 12, conc_cb, &acc,
							 af_now_ms()),
			0);
	assert_int_equal(acc.n, 2);
	assert_int_equal(acc.count[listed(&acc, "conc:caller:alice")], 2);
	assert_int_equal(acc.count[listed(&acc, "conc:caller:bob")], 1);
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(
			s->ops->conc_list(s, NULL, 0, conc_cb, &acc, af_now_ms()), 0);
	assert_int_equal(acc.n, 4);
	/* the whole key (shm gives its first AF_KEY_MAX bytes) */
	assert_true(listed(&acc, longk) >= 0);
	assert_int_equal(
			s->ops->conc_list(s, NULL, 3, conc_cb, &acc, af_now_ms()), -1);
	free_store(s);
}

/* stats: the db's keys, no capacity, failures; gc is harmless */
static void test_stats(void **state)
{
	af_store_t *s;
	af_store_stats_t st;
	redisContext *c;
	redisReply *r;

	need_main();
	s = main_store("st:");
	test_host_set_now(T0);
	assert_int_equal(win_hit(s, "a", 60, 1), 1);
	assert_int_equal(ban_set(s, "b", 60, "x"), 0);
	s->ops->gc(s, af_now_ms(), 0);
	s->ops->stats(s, &st);
	c = raw(s_main.port);
	r = rcmd(c, 1, "DBSIZE");
	assert_int_equal(st.entries, r->integer);
	assert_int_equal(st.entries, 2); /* window, ban: no index */
	freeReplyObject(r);
	redisFree(c);
	assert_int_equal(st.capacity, 0);
	assert_int_equal(st.failures, 0);
	assert_string_equal(s->ops->name, "redis");
	free_store(s);
}

/* a db of its own and a unix socket, through URLs */
static void test_unix_db(void **state)
{
	af_redis_cfg_t cfg;
	af_store_t *s;
	redisContext *c;
	redisReply *r;
	char url[512], err[256];

	need_main();
	memset(&cfg, 0, sizeof(cfg));
	snprintf(url, sizeof(url), "unix://%s?db=3", s_main.sock);
	assert_int_equal(af_redis_parse_url(url, &cfg, err, sizeof(err)), 0);
	s = af_store_redis_new(&cfg);
	assert_non_null(s);
	test_host_set_now(T0);
	assert_int_equal(ban_set(s, "u", 60, "x"), 0);
	assert_int_equal(af_store_redis_ping(s, err, sizeof(err)), 0);
	c = raw(s_main.port);
	rcmd(c, 0, "SELECT 3");
	r = rcmd(c, 1, "EXISTS af:v2:ban:{u}");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	rcmd(c, 0, "SELECT 0");
	r = rcmd(c, 1, "EXISTS af:v2:ban:{u}");
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	redisFree(c);
	free_store(s);
	/* redis:// with a db */
	memset(&cfg, 0, sizeof(cfg));
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/2", s_main.port);
	assert_int_equal(af_redis_parse_url(url, &cfg, err, sizeof(err)), 0);
	s = af_store_redis_new(&cfg);
	assert_int_equal(ban_set(s, "v", 60, "x"), 0);
	c = raw(s_main.port);
	rcmd(c, 0, "SELECT 2");
	r = rcmd(c, 1, "EXISTS af:v2:ban:{v}");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(c);
	/* the batch library flushed away: loaded again, no failure */
	c = raw(s_main.port);
	rcmd(c, 0, "FUNCTION FLUSH");
	redisFree(c);
	assert_int_equal(ban_set(s, "w", 60, "x"), 0);
	assert_true(ban_get(s, "w", NULL));
	free_store(s);
}

/* ---- TTLs ---- */

/* every key has a TTL; with the real clock and 1 s TTLs all are gone
 * 2.5 s later */
static void test_ttl(void **state)
{
	af_store_t *s;
	af_op_t ops[4], op;
	redisContext *c;
	redisReply *r;
	int n;

	need_main();
	s = main_store("ttl:");
	test_host_set_now(0); /* the real clock */
	assert_int_equal(ban_set(s, "b", 1, "x"), 0);
	assert_true(ban_get(s, "b", NULL));
	win_op(&ops[0], "w", 1, 0, 0);
	ops[0].u.win.window_s = 1;
	ops[0].u.win.ban_threshold = 1;
	ops[0].u.win.ban_s = 1;
	ops[0].u.win.ban_key = "wb";
	ops[0].u.win.ban_key_len = 2;
	conc_op(&ops[1], AF_OP_CONC_ADD, "c", "m1", 0, 1);
	conc_op(&ops[2], AF_OP_CONC_ADD, "d", "m1", 0, 1);
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
	assert_true(ops[0].u.win.banned);
	assert_true(ops[1].u.conc.admitted);
	/* a read and a size change of a live window keep its TTL */
	assert_int_equal(win_hit(s, "w", 1, 0), 1);
	assert_int_equal(win_hit(s, "w", 2, 0), 0);
	hist_push(s, "h", 1, "DE", 1, &op);
	assert_true(conc_del(s, "d", "m1", NULL));
	n = check_ttls(s_main.port, "ttl:");
	/* ban b, ban wb, window, hist, set c: no index */
	assert_int_equal(n, 5);
	usleep(2500000);
	c = raw(s_main.port);
	r = rcmd(c, 1, "SCAN 0 MATCH ttl:* COUNT 1000");
	assert_int_equal(r->element[1]->elements, 0);
	freeReplyObject(r);
	redisFree(c);
	test_host_set_now(T0);
	free_store(s);
}

/* One WIN_MULTI of windows 60 s, 1 h, 1 d adding 1 to key "k" at now;
 * its three counts into c. */
static void wm3(af_store_t *s, uint64_t now, uint32_t c[3])
{
	static const uint32_t ws[3] = {60, 3600, 86400};
	af_op_t op;
	int j;

	memset(&op, 0, sizeof(op));
	op.type = AF_OP_WIN_MULTI;
	op.key = "k";
	op.key_len = 1;
	op.u.wm.n = 1;
	op.u.wm.nwin = 3;
	for(j = 0; j < 3; j++)
		op.u.wm.w[j].window_s = ws[j];
	assert_int_equal(af_store_exec(s, &op, 1, now), 0);
	assert_int_equal(op.status, 0);
	for(j = 0; j < 3; j++) {
		assert_true(op.u.wm.w[j].added);
		c[j] = op.u.wm.w[j].count;
	}
}

/* The PTTL (ms) of the only key under prefix, and its value's length. */
static long long only_key_pttl(const char *prefix, size_t *len)
{
	redisContext *c = raw(s_main.port);
	redisReply *r, *t;
	long long ms;

	r = rcmd(c, 1, "SCAN 0 MATCH %s* COUNT 1000", prefix);
	assert_int_equal(r->element[1]->elements, 1);
	t = rcmd(c, 1, "PTTL %b", r->element[1]->element[0]->str,
			r->element[1]->element[0]->len);
	ms = t->integer;
	freeReplyObject(t);
	t = rcmd(c, 1, "STRLEN %b", r->element[1]->element[0]->str,
			r->element[1]->element[0]->len);
	*len = (size_t)t->integer;
	freeReplyObject(t);
	freeReplyObject(r);
	redisFree(c);
	return ms;
}

/* A multi-window counter whose windows are all at now's slice is changed
 * in place (its TTL kept: the first addition of the slice set one that
 * covers the slice); one with a window behind is moved and stored again;
 * the counts are those of the sliding windows either way */
static void test_win_multi_in_place(void **state)
{
	/* a multiple of every window's slice (3.75 s, 225 s, 5400 s) */
	const uint64_t t = 5400000ULL * 314815;
	af_store_t *s;
	uint32_t c[3];
	long long p1, p2;
	size_t len;

	need_main();
	s = main_store("wmp:");
	wm3(s, t, c);
	assert_true(c[0] == 1 && c[1] == 1 && c[2] == 1);
	p1 = only_key_pttl("wmp:", &len);
	assert_true(p1 > 86390000 && p1 <= 86400000);
	usleep(300000);
	wm3(s, t + 1000, c);
	wm3(s, t + 2000, c);
	assert_true(c[0] == 3 && c[1] == 3 && c[2] == 3);
	/* in place: the TTL went on running (stored again, it would be a
	 * day from the last addition again) */
	p2 = only_key_pttl("wmp:", &len);
	assert_int_equal(len, 236);
	assert_true(p2 <= p1 - 250);
	/* the 60 s window one slice on: moved, stored again, a day on */
	wm3(s, t + 3750, c);
	assert_true(c[0] == 4 && c[1] == 4 && c[2] == 4);
	p2 = only_key_pttl("wmp:", &len);
	assert_true(p2 > 86400000 - 200 && p2 <= 86400000);
	/* past 60 s: the first slice's 3 left the 60 s window only */
	wm3(s, t + 61000, c);
	assert_true(c[0] == 2 && c[1] == 5 && c[2] == 5);
	wm3(s, t + 61500, c);
	assert_true(c[0] == 3 && c[1] == 6 && c[2] == 6);
	free_store(s);
}

/* ---- processes ---- */

#define F_CHILDREN 4
#define F_TRIES 25
#define F_LIMIT 37

/* forked workers, each with its own connection, racing on one set:
 * exactly the limit gets in */
static void test_fork_exact(void **state)
{
	af_store_t *s;
	long *sh = shared_page(); /* [0] go, [1 + i] admitted, [8 + i] bad */
	pid_t pid[F_CHILDREN];
	int i, j, wst;
	long admitted = 0;

	need_main();
	s = main_store("f:");
	test_host_set_now(T0);
	/* the parent's connection exists before the fork */
	assert_int_equal(conc_count(s, "exact"), 0);
	for(i = 0; i < F_CHILDREN; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if(pid[i] == 0) {
			char mem[32];
			af_op_t op;

			while(!__atomic_load_n(&sh[0], __ATOMIC_ACQUIRE))
				;
			for(j = 0; j < F_TRIES; j++) {
				snprintf(mem, sizeof(mem), "x%d-%d", i, j);
				conc_op(&op, AF_OP_CONC_ADD, "exact", mem, F_LIMIT, 3600);
				if(af_store_exec(s, &op, 1, T0) != 0
						|| op.u.conc.count > F_LIMIT
						|| op.u.conc.full == op.u.conc.admitted)
					sh[8 + i]++;
				sh[1 + i] += op.u.conc.admitted;
			}
			_exit(0);
		}
	}
	__atomic_store_n(&sh[0], 1, __ATOMIC_RELEASE);
	for(i = 0; i < F_CHILDREN; i++) {
		assert_int_equal(waitpid(pid[i], &wst, 0), pid[i]);
		assert_true(WIFEXITED(wst));
		assert_int_equal(sh[8 + i], 0);
		admitted += sh[1 + i];
	}
	assert_int_equal(admitted, F_LIMIT);
	assert_int_equal(conc_count(s, "exact"), F_LIMIT);
	munmap(sh, 4096);
	free_store(s);
}

/* ---- failures ---- */

/* Runs a one-op batch; returns exec's result, the time in *us. */
static int timed_exec(af_store_t *s, uint64_t *us)
{
	af_op_t op;
	uint64_t t = mono_us();
	int rc;

	win_op(&op, "k", 1, 0, 0);
	op.u.win.count = 9;
	rc = af_store_exec(s, &op, 1, T0);
	*us = mono_us() - t;
	if(rc == AF_STORE_UNAVAILABLE) {
		assert_int_equal(op.status, -1);
		assert_int_equal(op.u.win.count, 0);
	}
	return rc;
}

/* nothing listening: unavailable within the connect timeout */
static void test_nobody_listens(void **state)
{
	af_redis_cfg_t cfg = tcp_cfg(free_port(), "n:", 100);
	af_store_t *s;
	af_store_stats_t st;
	af_op_t ops[3];
	uint64_t us;
	char err[256];
	list_acc_t acc;

	cfg.connect_timeout_ms = 200;
	s = af_store_redis_new(&cfg);
	assert_non_null(s);
	assert_int_equal(timed_exec(s, &us), AF_STORE_UNAVAILABLE);
	print_message("unavailable (nothing listening): %.1f ms\n", us / 1000.0);
	assert_true(us < 3 * 200 * 1000);
	win_op(&ops[0], "a", 1, 0, 0);
	conc_op(&ops[1], AF_OP_CONC_ADD, "c", "m", 0, 60);
	ops[2] = ops[0];
	ops[2].u.win.window_s = 0; /* invalid: still -1, still unavailable */
	assert_int_equal(af_store_exec(s, ops, 3, T0), AF_STORE_UNAVAILABLE);
	assert_int_equal(ops[0].status, -1);
	assert_int_equal(ops[1].status, -1);
	assert_int_equal(ops[2].status, -1);
	s->ops->stats(s, &st);
	assert_int_equal(st.failures, 4);
	assert_int_equal(st.entries, 0);
	assert_int_equal(af_store_redis_ping(s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "connect"));
	assert_int_equal(af_store_redis_publish(s, "x", 1), -1);
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(s->ops->ban_list(s, ban_cb, &acc, T0), -1);
	assert_int_equal(s->ops->conc_list(s, "", 0, conc_cb, &acc, T0), -1);
	assert_int_equal(af_store_redis_subscribe(s, NULL, NULL, NULL, 10), -1);
	free_store(s);
}

/* a hung server (SIGSTOP): unavailable within the command timeout; back
 * after SIGCONT; a restart on the same port: connects again */
static void test_hang_restart(void **state)
{
	af_redis_cfg_t cfg;
	af_store_t *s;
	uint64_t us;
	int i;

	if(s_hang.pid <= 0)
		srv_start(&s_hang, "hang", NULL);
	cfg = tcp_cfg(s_hang.port, "h:", 50);
	s = af_store_redis_new(&cfg);
	assert_int_equal(timed_exec(s, &us), 0);
	assert_int_equal(kill(s_hang.pid, SIGSTOP), 0);
	for(i = 0; i < 3; i++) {
		/* the connection's command, then a new connection's setup */
		assert_int_equal(timed_exec(s, &us), AF_STORE_UNAVAILABLE);
		print_message("unavailable (server stopped, 50 ms timeout): %.1f ms\n",
				us / 1000.0);
		assert_true(us < 150 * 1000);
	}
	assert_int_equal(kill(s_hang.pid, SIGCONT), 0);
	assert_int_equal(timed_exec(s, &us), 0);
	/* killed: unavailable; started again on the same port: works */
	srv_kill(&s_hang);
	assert_int_equal(timed_exec(s, &us), AF_STORE_UNAVAILABLE);
	assert_int_equal(timed_exec(s, &us), AF_STORE_UNAVAILABLE);
	srv_start(&s_hang, "hang", NULL);
	assert_int_equal(timed_exec(s, &us), 0);
	/* a restart under an open connection: one call fails, then it works */
	srv_kill(&s_hang);
	srv_start(&s_hang, "hang", NULL);
	i = timed_exec(s, &us);
	assert_true(i == 0 || i == AF_STORE_UNAVAILABLE);
	assert_int_equal(timed_exec(s, &us), 0);
	af_store_redis_disconnect(s);
	assert_int_equal(timed_exec(s, &us), 0);
	free_store(s);
}

/* requirepass and an ACL user */
static void test_auth(void **state)
{
	static const char *const extra[] = {"--requirepass", "secret", "--user",
			"alice", "on", ">wonder", "~*", "&*", "+@all", NULL};
	af_redis_cfg_t cfg;
	af_store_t *s;
	uint64_t us;
	char url[256], err[256];

	if(s_auth.pid <= 0)
		srv_start(&s_auth, "auth", extra);
	/* no password, a wrong one */
	cfg = tcp_cfg(s_auth.port, "a:", 500);
	s = af_store_redis_new(&cfg);
	assert_int_equal(timed_exec(s, &us), AF_STORE_UNAVAILABLE);
	assert_int_equal(af_store_redis_ping(s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NOAUTH"));
	free_store(s);
	strcpy(cfg.password, "wrong");
	s = af_store_redis_new(&cfg);
	assert_int_equal(timed_exec(s, &us), AF_STORE_UNAVAILABLE);
	assert_int_equal(af_store_redis_ping(s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AUTH"));
	free_store(s);
	/* the right one, by URL */
	memset(&cfg, 0, sizeof(cfg));
	snprintf(url, sizeof(url), "redis://:secret@127.0.0.1:%d/1", s_auth.port);
	assert_int_equal(af_redis_parse_url(url, &cfg, err, sizeof(err)), 0);
	s = af_store_redis_new(&cfg);
	assert_int_equal(timed_exec(s, &us), 0);
	free_store(s);
	/* an ACL user */
	snprintf(url, sizeof(url), "redis://alice:wonder@127.0.0.1:%d",
			s_auth.port);
	assert_int_equal(af_redis_parse_url(url, &cfg, err, sizeof(err)), 0);
	s = af_store_redis_new(&cfg);
	assert_int_equal(timed_exec(s, &us), 0);
	free_store(s);
	strcpy(cfg.password, "secret");
	s = af_store_redis_new(&cfg);
	assert_int_equal(timed_exec(s, &us), AF_STORE_UNAVAILABLE);
	free_store(s);
}

/* Starts the master, its sentinel and a replica (once). */
static void need_sentinel(void)
{
	char conf[512], text[1024], rof[16];
	const char *argv[3];
	const char *replica[4];
	redisContext *c;
	redisReply *r;
	FILE *f;
	int i;

	if(s_sentinel.pid > 0)
		return;
	if(s_master.pid <= 0)
		srv_start(&s_master, "master", NULL);
	snprintf(rof, sizeof(rof), "%d", s_master.port);
	replica[0] = "--replicaof";
	replica[1] = "127.0.0.1";
	replica[2] = rof;
	replica[3] = NULL;
	if(s_replica.pid <= 0)
		srv_start(&s_replica, "replica", replica);
	srv_register(&s_sentinel);
	s_sentinel.port = free_port();
	snprintf(s_sentinel.dir, sizeof(s_sentinel.dir), "%s/sentinel", tmp_root);
	mkdir(s_sentinel.dir, 0700);
	snprintf(conf, sizeof(conf), "%s/sentinel.conf", s_sentinel.dir);
	snprintf(text, sizeof(text),
			"port %d\nbind 127.0.0.1\ndir %s\n"
			"sentinel monitor mymaster 127.0.0.1 %d 1\n"
			"sentinel down-after-milliseconds mymaster 10000\n",
			s_sentinel.port, s_sentinel.dir, s_master.port);
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	argv[0] = "redis-sentinel";
	argv[1] = conf;
	argv[2] = NULL;
	s_sentinel.pid = spawn(s_sentinel.dir, (char *const *)argv);
	if(srv_wait(&s_sentinel) < 0)
		fail_msg("redis-sentinel did not start: is it installed? (log in %s)",
				s_sentinel.dir);
	c = raw(s_sentinel.port);
	for(i = 0; i < 250; i++) {
		r = redisCommand(c, "SENTINEL get-master-addr-by-name mymaster");
		if(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
			freeReplyObject(r);
			break;
		}
		if(r)
			freeReplyObject(r);
		usleep(20000);
	}
	redisFree(c);
	assert_true(i < 250);
}

/* the master found through Sentinel; a replica is read-only */
static void test_sentinel(void **state)
{
	af_redis_cfg_t cfg;
	af_store_t *s;
	redisContext *c;
	redisReply *r;
	uint64_t us;
	char url[256], err[256];

	need_sentinel();
	memset(&cfg, 0, sizeof(cfg));
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%d,127.0.0.1:%d/mymaster",
			free_port(), s_sentinel.port);
	assert_int_equal(af_redis_parse_url(url, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_sentinels, 2);
	s = af_store_redis_new(&cfg);
	assert_int_equal(af_store_redis_ping(s, err, sizeof(err)), 0);
	test_host_set_now(T0);
	assert_int_equal(ban_set(s, "sent", 60, "x"), 0);
	assert_true(ban_get(s, "sent", NULL));
	c = raw(s_master.port);
	r = rcmd(c, 1, "EXISTS af:v2:ban:{sent}");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(c);
	free_store(s);
	/* a master the sentinel does not know */
	strcpy(cfg.master_name, "other");
	s = af_store_redis_new(&cfg);
	assert_int_equal(timed_exec(s, &us), AF_STORE_UNAVAILABLE);
	assert_int_equal(af_store_redis_ping(s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown"));
	free_store(s);
	/* writing to a replica: -READONLY is a failure */
	cfg = tcp_cfg(s_replica.port, "r:", 500);
	s = af_store_redis_new(&cfg);
	assert_int_equal(af_store_redis_ping(s, err, sizeof(err)), 0);
	assert_int_equal(timed_exec(s, &us), AF_STORE_UNAVAILABLE);
	free_store(s);
}

/* ---- pub/sub ---- */

static long *ps_page;

static void ps_cb(const char *msg, size_t len, void *arg)
{
	long n = ps_page[1];

	if(len < 512 && n < 4) {
		memcpy((char *)&ps_page[16] + n * 512, msg, len);
		ps_page[2 + n] = (long)len;
	}
	ps_page[1] = n + 1;
}

static int ps_stop(void *arg)
{
	return ps_page[1] >= 2 || ps_page[0];
}

/* a forked subscriber receives what is published */
static void test_pubsub(void **state)
{
	af_store_t *s;
	pid_t pid;
	int i, wst, rc = 0;

	need_main();
	s = main_store("ps:");
	ps_page = shared_page();
	pid = fork();
	assert_true(pid >= 0);
	if(pid == 0)
		_exit(af_store_redis_subscribe(s, ps_cb, NULL, ps_stop, 20) == 0
						? 0
						: 1);
	for(i = 0; i < 500 && rc < 1; i++) {
		rc = af_store_redis_publish(s, "hello", 5);
		assert_true(rc >= 0);
		if(rc < 1)
			usleep(10000);
	}
	assert_int_equal(rc, 1);
	assert_int_equal(af_store_redis_publish(s, "bin\0ary", 7), 1);
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 0);
	assert_int_equal(ps_page[1], 2);
	assert_int_equal(ps_page[2], 5);
	assert_memory_equal((char *)&ps_page[16], "hello", 5);
	assert_int_equal(ps_page[3], 7);
	assert_memory_equal((char *)&ps_page[16] + 512, "bin\0ary", 7);
	/* stop() alone ends it */
	ps_page[0] = 1;
	assert_int_equal(af_store_redis_subscribe(s, ps_cb, NULL, ps_stop, 20), 0);
	munmap(ps_page, 4096);
	free_store(s);
}

/* the subscriber's liveness: ps_page[4] calls of alive, [5] of them
 * first, [6] the last until_ms */
static void ps_alive(uint64_t until_ms, int first, void *arg)
{
	ps_page[4]++;
	ps_page[5] += first;
	ps_page[6] = (long)until_ms;
}

/* stops once 6 alive calls were heard while nothing was published (the
 * PINGs of quiet polls are answered) */
static int ps_stop_alive(void *arg)
{
	return ps_page[4] >= 6 || ps_page[0];
}

/* a live subscription: alive at its confirmation (first) and after each
 * quiet poll's PING; a hung server (SIGSTOP): the subscription is given
 * up within RDS_SUB_DEAD_MS (-1), not waited on for ever */
static void test_pubsub_alive(void **state)
{
	af_redis_cfg_t cfg;
	af_store_t *s;
	uint64_t t0, t1, fixed = af_now_ms();

	/* liveness is wall-clock time */
	test_host_set_now(0);
	need_main();
	s = main_store("pa:");
	ps_page = shared_page();
	assert_int_equal(af_store_redis_subscribe_live(s, NULL, ps_alive, NULL,
							 ps_stop_alive, 20),
			0);
	assert_true(ps_page[4] >= 6);
	assert_int_equal(ps_page[5], 1);
	assert_true((uint64_t)ps_page[6] > af_now_ms() - 1000);
	free_store(s);

	if(s_hang.pid <= 0)
		srv_start(&s_hang, "hang", NULL);
	cfg = tcp_cfg(s_hang.port, "pa:", 50);
	s = af_store_redis_new(&cfg);
	memset(ps_page, 0, 64);
	/* stopped right after the subscription: nothing answers the PINGs */
	if(fork() == 0) {
		while(ps_page[4] < 1)
			usleep(1000);
		kill(s_hang.pid, SIGSTOP);
		ps_page[7] = 1;
		_exit(0);
	}
	t0 = af_now_ms();
	assert_int_equal(af_store_redis_subscribe_live(s, NULL, ps_alive, NULL,
							 ps_stop, 20),
			-1);
	t1 = af_now_ms();
	while(!ps_page[7])
		usleep(1000);
	assert_int_equal(kill(s_hang.pid, SIGCONT), 0);
	print_message("subscription given up %llu ms after it began\n",
			(unsigned long long)(t1 - t0));
	assert_int_equal(ps_page[5], 1);
	assert_true(t1 - t0 >= 1500 - 100); /* RDS_SUB_DEAD_MS */
	assert_true(t1 - t0 < 1500 + 1500);
	/* live for two polls past the last answer, no longer */
	assert_true((uint64_t)ps_page[6] <= t1);
	while(waitpid(-1, NULL, WNOHANG) > 0)
		;
	munmap(ps_page, 4096);
	free_store(s);
	test_host_set_now(fixed);
}

/* ---- URLs ---- */

static void test_parse_url(void **state)
{
	af_redis_cfg_t cfg, keep;
	char err[256];
	static const char *const bad[] = {
		"http://h",                         /* scheme */
		"rediss://h",                       /* TLS */
		"h:6379",                           /* not a URL */
		"redis://",                         /* no host */
		"redis:///0",                       /* no host */
		"redis://h:0",                      /* port */
		"redis://h:65536",                  /* port */
		"redis://h:12a",                    /* port */
		"redis://h:",                       /* port */
		"redis://h/x",                      /* db */
		"redis://h/1x",                     /* db */
		"redis://h/-1",                     /* db */
		"redis://h/99999999",               /* db */
		"redis://pass@h",                   /* user info without ':' */
		"redis://::1",                      /* IPv6 without brackets */
		"redis://[::1",                     /* bracket */
		"redis://h?db=1",                   /* query */
		"redis://:p%4@h",                   /* bad escape */
		"unix://relative.sock",             /* path */
		"unix:///s.sock?db=x",              /* db */
		"unix:///s.sock?foo=1",             /* parameter */
		"sentinel://h:26379",               /* master name */
		"sentinel://h:26379/",              /* master name */
		"sentinel://h:26379//0",            /* master name */
		"sentinel:///m",                    /* sentinel */
		"sentinel://h:1,,h:2/m",            /* sentinel */
		"sentinel://h:99999/m",             /* port */
		"sentinel://h/m/x",                 /* db */
		"sentinel://a,b,c,d,e,f,g,h,i/m",   /* too many */
		NULL};
	int i;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(af_redis_parse_url("redis://h", &cfg, err, sizeof(err)),
			0);
	assert_string_equal(cfg.host, "h");
	assert_int_equal(cfg.port, 6379);
	assert_int_equal(cfg.db, 0);
	assert_int_equal(af_redis_parse_url("REDIS://user%40x:p%3Aw@@10.0.0.1:7000"
										"/5",
							 &cfg, err, sizeof(err)),
			0);
	assert_string_equal(cfg.username, "user@x");
	assert_string_equal(cfg.password, "p:w@");
	assert_string_equal(cfg.host, "10.0.0.1");
	assert_int_equal(cfg.port, 7000);
	assert_int_equal(cfg.db, 5);
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(af_redis_parse_url("redis://:only@[2001:db8::1]:6380",
							 &cfg, err, sizeof(err)),
			0);
	assert_string_equal(cfg.username, "");
	assert_string_equal(cfg.password, "only");
	assert_string_equal(cfg.host, "2001:db8::1");
	assert_int_equal(cfg.port, 6380);
	/* fields not in the URL keep their values */
	cfg.db = 4;
	strcpy(cfg.prefix, "p:");
	cfg.command_timeout_ms = 77;
	assert_int_equal(af_redis_parse_url("redis://other/", &cfg, err,
							 sizeof(err)),
			0);
	assert_int_equal(cfg.db, 4);
	assert_int_equal(cfg.port, 6380);
	assert_string_equal(cfg.prefix, "p:");
	assert_int_equal(cfg.command_timeout_ms, 77);
	assert_int_equal(af_redis_parse_url("unix:///run/redis/redis.sock?db=2",
							 &cfg, err, sizeof(err)),
			0);
	assert_string_equal(cfg.unix_path, "/run/redis/redis.sock");
	assert_string_equal(cfg.host, "");
	assert_int_equal(cfg.db, 2);
	assert_int_equal(af_redis_parse_url("redis+unix:///tmp/r.sock", &cfg, err,
							 sizeof(err)),
			0);
	assert_string_equal(cfg.unix_path, "/tmp/r.sock");
	assert_int_equal(cfg.db, 2);
	assert_int_equal(
			af_redis_parse_url("sentinel://u:pw@s1:26380,[::1],s3"
							   "/my%20master/7",
					&cfg, err, sizeof(err)),
			0);
	assert_int_equal(cfg.n_sentinels, 3);
	assert_string_equal(cfg.sentinels[0], "s1:26380");
	assert_string_equal(cfg.sentinels[1], "[::1]:26379");
	assert_string_equal(cfg.sentinels[2], "s3:26379");
	assert_string_equal(cfg.master_name, "my master");
	assert_string_equal(cfg.username, "u");
	assert_string_equal(cfg.password, "pw");
	assert_int_equal(cfg.db, 7);
	assert_string_equal(cfg.host, "");
	assert_string_equal(cfg.unix_path, "");
	/* back to a plain server: no sentinels */
	assert_int_equal(af_redis_parse_url("redis://h2", &cfg, err, sizeof(err)),
			0);
	assert_int_equal(cfg.n_sentinels, 0);
	/* errors leave cfg as it was, with a message */
	keep = cfg;
	for(i = 0; bad[i]; i++) {
		err[0] = '\0';
		if(af_redis_parse_url(bad[i], &cfg, err, sizeof(err)) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(err[0] != '\0');
		assert_memory_equal(&cfg, &keep, sizeof(cfg));
	}
	assert_int_equal(af_redis_parse_url("http://h", &cfg, err, sizeof(err)),
			-1);
	assert_non_null(strstr(err, "scheme"));
	assert_int_equal(af_redis_parse_url("redis://h:x", &cfg, err, sizeof(err)),
			-1);
	assert_non_null(strstr(err, "port"));
	assert_int_equal(af_redis_parse_url("redis://h/x", &cfg, err, sizeof(err)),
			-1);
	assert_non_null(strstr(err, "db"));
	assert_int_equal(af_redis_parse_url("sentinel://h:1", &cfg, err,
							 sizeof(err)),
			-1);
	assert_non_null(strstr(err, "master name"));
	assert_int_equal(af_redis_parse_url(NULL, &cfg, err, sizeof(err)), -1);
}

/* ---- speed ---- */

#define B_ITERS 3000

/* prints µs per exec of a typical batch (9 WIN_HIT + 2 CONC_ADD) on
 * loopback (not asserted; the client runs under ASan) */
static void test_bench(void **state)
{
	af_store_t *s;
	af_op_t ops[11];
	char keys[9][32], mem[32];
	redisContext *c;
	redisReply *r;
	const char *p;
	uint64_t t;
	int i, j;

	need_main();
	s = main_store("bench:");
	test_host_set_now(T0);
	for(j = 0; j < 9; j++)
		snprintf(keys[j], sizeof(keys[j]), "r%d|alice@example.com", j);
	c = raw(s_main.port);
	rcmd(c, 0, "CONFIG RESETSTAT");
	t = mono_us();
	for(i = 0; i < B_ITERS; i++) {
		for(j = 0; j < 9; j++) {
			win_op(&ops[j], keys[j], 1, 0, j == 8 ? 8 : 0);
			ops[j].u.win.ban_threshold = j == 0 ? 1000000 : 0;
			ops[j].u.win.ban_s = 60;
			ops[j].u.win.gate = j == 1 ? 1000000 : 0;
		}
		snprintf(mem, sizeof(mem), "%08x@192.0.2.1", i);
		conc_op(&ops[9], AF_OP_CONC_ADD, "global", mem, 0, 60);
		conc_op(&ops[10], AF_OP_CONC_ADD, "caller:alice", mem, 0, 60);
		if(af_store_exec(s, ops, 11, T0 + i) != 0)
			break;
	}
	t = mono_us() - t;
	assert_int_equal(i, B_ITERS);
	assert_true(ops[9].u.conc.admitted);
	r = rcmd(c, 1, "INFO commandstats");
	p = strstr(r->str, "cmdstat_fcall:");
	p = p ? strstr(p, "usec_per_call=") : NULL;
	print_message("redis: %.1f us per exec of 9 WIN_HIT + 2 CONC_ADD"
				  " (loopback, one round trip; %.1f us of it in the"
				  " server's script)\n",
			(double)t / B_ITERS, p ? atof(p + 14) : -1.0);
	freeReplyObject(r);
	redisFree(c);

	free_store(s);
}

/* forget on Redis: the same scenario as shm, under a prefix with a
 * glob character; a store with a prefix it would match keeps its keys */
static void test_forget(void **state)
{
	af_store_t *s, *other;

	need_main();
	s = main_store("f*g:");
	other = main_store("fxg:");
	test_host_set_now(T0);
	assert_int_equal(win_hit(other, "r60|alice@ex.org", 3600, 2), 2);
	assert_int_equal(ban_set(other, "192.0.2.1", 600, "scanner"), 0);
	fs_run(s);
	assert_int_equal(win_hit(other, "r60|alice@ex.org", 3600, 0), 2);
	assert_int_equal(ban_get(other, "192.0.2.1", NULL), 1);
	free_store(other);
	free_store(s);
	test_host_set_now(0);
}

/* dry runs answer what the real batch answers and change nothing */
static void test_dry_run(void **state)
{
	af_store_t *s;

	need_main();
	s = main_store("dry:");
	test_host_set_now(T0);
	ds_run(s);
	free_store(s);
	test_host_set_now(0);
}

/*
 * The SIGPIPE guard of a round trip (af_rds_enter / af_rds_leave), in a
 * process of its own: the disposition is looked up once per process, so
 * test_sigpipe_guard runs this binary again with --sigpipe-probe and
 * "handler" or "default". With a handler of its own (as Kamailio's and
 * OpenSIPS's workers have) nothing is blocked and a SIGPIPE raised
 * inside reaches it; with the default action (terminate) SIGPIPE is
 * blocked inside and one raised there is consumed, the process alive.
 * Either way the mask is as before and nothing is left pending. 0 when
 * all holds, else the number of the first test that failed.
 */
static volatile sig_atomic_t probe_caught;

static void probe_handler(int sig)
{
	(void)sig;
	probe_caught++;
}

static int sigpipe_probe(const char *how)
{
	int handler = strcmp(how, "handler") == 0;
	struct sigaction sa;
	rds_guard_t g;
	sigset_t cur;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler ? probe_handler : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	if(sigaction(SIGPIPE, &sa, NULL) < 0)
		return 10;
	af_rds_enter(&g, 1);
	if(g.skip != handler)
		return 11;
	if(pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0
			|| sigismember(&cur, SIGPIPE) == handler)
		return 12;
	/* what a write to a connection the server closed raises */
	raise(SIGPIPE);
	af_rds_leave(&g, 1);
	if(pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0
			|| sigismember(&cur, SIGPIPE))
		return 13;
	if(probe_caught != (handler ? 1 : 0))
		return 14;
	if(sigpending(&cur) != 0 || sigismember(&cur, SIGPIPE))
		return 15;
	return 0;
}

static void test_sigpipe_guard(void **state)
{
	const char *how[] = {"handler", "default"};
	int i, st;
	pid_t pid;

	(void)state;
	for(i = 0; i < 2; i++) {
		pid = fork();
		assert_true(pid >= 0);
		if(pid == 0) {
			execl("/proc/self/exe", "test_store_redis", "--sigpipe-probe",
					how[i], (char *)NULL);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if(!WIFEXITED(st))
			fail_msg("%s: killed by signal %d", how[i], WTERMSIG(st));
		if(WEXITSTATUS(st) != 0)
			fail_msg("%s: check %d failed", how[i], WEXITSTATUS(st));
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		SCN_TESTS(test_scenario),
		cmocka_unit_test(test_sigpipe_guard),
		cmocka_unit_test(test_parse_url),
		cmocka_unit_test(test_history_read_only),
		cmocka_unit_test(test_reply_bytes),
		cmocka_unit_test(test_batch_stop),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_conc_groups),
		cmocka_unit_test(test_win_if_new),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_unix_db),
		cmocka_unit_test(test_equivalence),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_win_multi_in_place),
		cmocka_unit_test(test_fork_exact),
		cmocka_unit_test(test_nobody_listens),
		cmocka_unit_test(test_hang_restart),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_sentinel),
		cmocka_unit_test(test_pubsub),
		cmocka_unit_test(test_pubsub_alive),
		cmocka_unit_test(test_bench),
	};

	if(argc == 3 && strcmp(argv[1], "--sigpipe-probe") == 0)
		return sigpipe_probe(argv[2]);
	test_host_init();
	atexit(cleanup);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
