/*
 * antifraud unit tests - the shared-memory state store.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "af_host.h"
#include "af_store.h"
#include "host.h"

/* a time aligned to whole seconds, far from 0 (0 means the real clock) */
#define T0 1700000000000ULL

/* New store with max_entries and stripes (0: defaults); fails the test
 * when it cannot be created. */
static af_store_t *new_store(uint32_t max_entries, uint32_t stripes)
{
	af_store_shm_cfg_t cfg = {.max_entries = max_entries, .stripes = stripes};
	af_store_t *s = af_store_shm_new(&cfg);

	assert_non_null(s);
	return s;
}

/* Destroys s and checks that no shared memory is left. */
static void free_store(af_store_t *s)
{
	s->ops->destroy(s);
	assert_int_equal(test_host_shm_live(), 0);
}

/* One WIN_HIT of n on key over window_s seconds; returns the total. */
static uint32_t win_hit(af_store_t *s, const char *key, uint32_t window_s,
		uint32_t n)
{
	af_op_t op = {.type = AF_OP_WIN_HIT, .key = key, .key_len = strlen(key)};

	op.u.win.window_s = window_s;
	op.u.win.n = n;
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	assert_int_equal(op.status, 0);
	return op.u.win.count;
}

/* WIN_HIT of 1 that bans key after thr hits; returns banned, count in
 * *count. */
static int win_hit_ban(af_store_t *s, const char *key, const char *ban_key,
		uint32_t thr, uint32_t *count)
{
	af_op_t op = {.type = AF_OP_WIN_HIT, .key = key, .key_len = strlen(key)};

	op.u.win.window_s = 60;
	op.u.win.n = 1;
	op.u.win.ban_threshold = thr;
	op.u.win.ban_s = 300;
	op.u.win.ban_key = ban_key;
	op.u.win.ban_key_len = ban_key ? strlen(ban_key) : 0;
	op.u.win.ban_reason = "scanner";
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	if(count)
		*count = op.u.win.count;
	return op.u.win.banned;
}

/* Bans key for ttl_s seconds; returns the exec result. */
static int ban_set(af_store_t *s, const char *key, uint32_t ttl_s,
		const char *reason)
{
	af_op_t op = {.type = AF_OP_BAN_SET, .key = key, .key_len = strlen(key)};

	op.u.ban_set.ttl_s = ttl_s;
	op.u.ban_set.reason = reason;
	return af_store_exec(s, &op, 1, af_now_ms());
}

/* Looks key up in the ban table; copies the ban into out (may be NULL). */
static int ban_get(af_store_t *s, const char *key, af_ban_t *out)
{
	af_op_t op = {.type = AF_OP_BAN_GET, .key = key, .key_len = strlen(key)};

	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	if(out && op.u.ban_get.found)
		*out = op.u.ban_get.ban;
	return op.u.ban_get.found;
}

/* Lifts the ban of key; returns whether there was one. */
static int ban_del(af_store_t *s, const char *key)
{
	af_op_t op = {.type = AF_OP_BAN_DEL, .key = key, .key_len = strlen(key)};

	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	return op.u.ban_del.found;
}

/* Pushes IPv4 a.b.c.d from country cc into key's history; the previous
 * entries go to op. */
static void hist_push(af_store_t *s, const char *key, uint8_t d,
		const char *cc, uint32_t ttl_s, af_op_t *op)
{
	memset(op, 0, sizeof(*op));
	op->type = AF_OP_HIST_PUSH;
	op->key = key;
	op->key_len = strlen(key);
	op->u.hist.entry.ip.family = 4;
	op->u.hist.entry.ip.addr[0] = 10;
	op->u.hist.entry.ip.addr[3] = d;
	memcpy(op->u.hist.entry.country, cc, 3);
	memcpy(op->u.hist.entry.continent, "EU", 3);
	op->u.hist.ttl_s = ttl_s;
	assert_int_equal(af_store_exec(s, op, 1, af_now_ms()), 0);
}

static af_store_stats_t stats(af_store_t *s)
{
	af_store_stats_t st;

	s->ops->stats(s, &st);
	return st;
}

/* slices are exact: counts at both sides of every edge */
static void test_window_edges(void **state)
{
	af_store_t *s = new_store(0, 0);

	/* 16 s window: 16 slices of 1000 ms */
	test_host_set_now(T0);
	assert_int_equal(win_hit(s, "w", 16, 1), 1);
	test_host_set_now(T0 + 999);
	assert_int_equal(win_hit(s, "w", 16, 1), 2);
	test_host_set_now(T0 + 1000);
	assert_int_equal(win_hit(s, "w", 16, 1), 3);
	test_host_set_now(T0 + 5500);
	assert_int_equal(win_hit(s, "w", 16, 2), 5);
	/* last ms of slice 15: slice 0 still counts */
	test_host_set_now(T0 + 15999);
	assert_int_equal(win_hit(s, "w", 16, 0), 5);
	/* slice 16: slice 0 (2 hits) has left */
	test_host_set_now(T0 + 16000);
	assert_int_equal(win_hit(s, "w", 16, 0), 3);
	test_host_set_now(T0 + 16999);
	assert_int_equal(win_hit(s, "w", 16, 0), 3);
	/* slice 17: slice 1 has left */
	test_host_set_now(T0 + 17000);
	assert_int_equal(win_hit(s, "w", 16, 0), 2);
	/* slice 5 (2 hits) leaves at slice 21 */
	test_host_set_now(T0 + 20999);
	assert_int_equal(win_hit(s, "w", 16, 1), 3);
	test_host_set_now(T0 + 21000);
	assert_int_equal(win_hit(s, "w", 16, 0), 1);
	/* a long pause empties it */
	test_host_set_now(T0 + 100000);
	assert_int_equal(win_hit(s, "w", 16, 1), 1);
	free_store(s);
}

/* a continuous rate gives a steady total: the window slides */
static void test_window_slides(void **state)
{
	af_store_t *s = new_store(0, 0);
	const uint64_t base = T0 / 62 * 62;
	uint32_t c = 0;
	int i;

	/* one hit every 250 ms into a 60 s window (3750 ms slices) */
	test_host_set_now(T0);
	for(i = 0; i < 1000; i++) {
		c = win_hit(s, "rate", 60, 1);
		if(i >= 300) {
			/* 15 full slices of 15 hits, plus 1..15 in the current one */
			assert_true(c >= 226 && c <= 240);
		}
		test_host_advance(250);
	}
	assert_true(c >= 226);
	/* a 1 s window: 62 ms slices, so 992 ms */
	test_host_set_now(base);
	assert_int_equal(win_hit(s, "short", 1, 1), 1);
	test_host_set_now(base + 991);
	assert_int_equal(win_hit(s, "short", 1, 0), 1);
	test_host_set_now(base + 992);
	assert_int_equal(win_hit(s, "short", 1, 0), 0);
	free_store(s);
}

/* a key keeps one window size: another size starts it again */
static void test_window_size_change(void **state)
{
	af_store_t *s = new_store(0, 0);

	test_host_set_now(T0);
	assert_int_equal(win_hit(s, "k", 60, 5), 5);
	assert_int_equal(win_hit(s, "k", 60, 1), 6);
	assert_int_equal(win_hit(s, "k", 30, 1), 1);
	assert_int_equal(win_hit(s, "k", 30, 0), 1);
	/* reading an absent key creates nothing */
	assert_int_equal(win_hit(s, "absent", 30, 0), 0);
	assert_int_equal(stats(s).entries, 1);
	free_store(s);
}

/* a counter saturates instead of wrapping */
static void test_window_saturates(void **state)
{
	af_store_t *s = new_store(0, 0);

	test_host_set_now(T0);
	assert_int_equal(win_hit(s, "k", 60, UINT32_MAX - 1), UINT32_MAX - 1);
	assert_int_equal(win_hit(s, "k", 60, 5), UINT32_MAX);
	test_host_advance(4000);
	assert_int_equal(win_hit(s, "k", 60, UINT32_MAX), UINT32_MAX);
	free_store(s);
}

/* every entry type expires, and lookups treat expired entries as absent */
static void test_expiry(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_op_t op;

	test_host_set_now(T0);
	assert_int_equal(ban_set(s, "b", 10, "x"), 0);
	assert_int_equal(win_hit(s, "w", 16, 1), 1);
	hist_push(s, "h", 1, "DE", 20, &op);
	assert_int_equal(stats(s).entries, 3);

	/* window: its only slice leaves the window at T0 + 16 s */
	test_host_set_now(T0 + 9999);
	assert_true(ban_get(s, "b", NULL));
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 3);
	test_host_set_now(T0 + 10000);
	assert_false(ban_get(s, "b", NULL));
	assert_int_equal(stats(s).entries, 2);
	/* history: 20 s after the newest push */
	test_host_set_now(T0 + 15000);
	hist_push(s, "h", 2, "DE", 20, &op);
	assert_int_equal(op.u.hist.n_prev, 1);
	test_host_set_now(T0 + 15999);
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 2);
	test_host_set_now(T0 + 16000);
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 1);
	test_host_set_now(T0 + 34999);
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 1);
	test_host_set_now(T0 + 35000);
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 0);
	assert_int_equal(stats(s).expired, 3);
	hist_push(s, "h", 3, "DE", 20, &op);
	assert_int_equal(op.u.hist.n_prev, 0);
	free_store(s);
}

/* ban set, get (hits), replace, delete, expiry */
static void test_ban(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_ban_t b;
	char longr[200];

	test_host_set_now(T0);
	assert_false(ban_get(s, "1.2.3.4", NULL));
	assert_int_equal(ban_set(s, "1.2.3.4", 60, "manual"), 0);
	assert_true(ban_get(s, "1.2.3.4", &b));
	assert_int_equal(b.hits, 1);
	assert_int_equal(b.since_ms, T0);
	assert_int_equal(b.until_ms, T0 + 60000);
	assert_string_equal(b.reason, "manual");
	assert_true(ban_get(s, "1.2.3.4", &b));
	assert_true(ban_get(s, "1.2.3.4", &b));
	assert_int_equal(b.hits, 3);
	assert_false(ban_get(s, "1.2.3.5", NULL));

	/* replacing: new times, hits again from 0, reason truncated */
	memset(longr, 'r', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	test_host_advance(1000);
	assert_int_equal(ban_set(s, "1.2.3.4", 10, longr), 0);
	assert_true(ban_get(s, "1.2.3.4", &b));
	assert_int_equal(b.hits, 1);
	assert_int_equal(b.since_ms, T0 + 1000);
	assert_int_equal(b.until_ms, T0 + 11000);
	assert_int_equal(strlen(b.reason), AF_BAN_REASON - 1);
	assert_int_equal(stats(s).entries, 1);

	/* NULL reason */
	assert_int_equal(ban_set(s, "n", 10, NULL), 0);
	assert_true(ban_get(s, "n", &b));
	assert_string_equal(b.reason, "");

	assert_true(ban_del(s, "1.2.3.4"));
	assert_false(ban_del(s, "1.2.3.4"));
	assert_false(ban_get(s, "1.2.3.4", NULL));

	/* expiry: absent from until_ms on */
	assert_int_equal(ban_set(s, "e", 5, "t"), 0);
	test_host_advance(4999);
	assert_true(ban_get(s, "e", NULL));
	test_host_advance(1);
	assert_false(ban_get(s, "e", NULL));
	assert_false(ban_del(s, "e"));
	free_store(s);
}

/* the ban is set by exactly the Nth hit, atomically with the count */
static void test_ban_threshold(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_ban_t b;
	uint32_t c;
	int i;

	test_host_set_now(T0);
	for(i = 1; i < 5; i++) {
		assert_false(win_hit_ban(s, "scan:1.1.1.1", "1.1.1.1", 5, &c));
		assert_int_equal(c, i);
		assert_false(ban_get(s, "1.1.1.1", NULL));
	}
	assert_true(win_hit_ban(s, "scan:1.1.1.1", "1.1.1.1", 5, &c));
	assert_int_equal(c, 5);
	assert_true(ban_get(s, "1.1.1.1", &b));
	assert_string_equal(b.reason, "scanner");
	assert_int_equal(b.until_ms, T0 + 300000);
	/* already banned: the next hit does not set it again */
	assert_false(win_hit_ban(s, "scan:1.1.1.1", "1.1.1.1", 5, &c));
	assert_int_equal(c, 6);
	/* lifted by hand, still over the threshold: banned again */
	assert_true(ban_del(s, "1.1.1.1"));
	assert_true(win_hit_ban(s, "scan:1.1.1.1", "1.1.1.1", 5, &c));

	/* ban_key NULL bans the counter's own key */
	assert_false(win_hit_ban(s, "self", NULL, 2, &c));
	assert_true(win_hit_ban(s, "self", NULL, 2, &c));
	assert_true(ban_get(s, "self", NULL));

	/* many ban keys, so that some hash to other stripes */
	for(i = 0; i < 200; i++) {
		char k[32], bk[32];

		snprintf(k, sizeof(k), "cnt%d", i);
		snprintf(bk, sizeof(bk), "ip%d", i);
		assert_false(win_hit_ban(s, k, bk, 2, NULL));
		assert_true(win_hit_ban(s, k, bk, 2, NULL));
		assert_true(ban_get(s, bk, NULL));
	}
	free_store(s);
}

/* history: newest first, same IP refreshed in place, ttl, bounded */
static void test_history(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_op_t op;

	test_host_set_now(T0);
	hist_push(s, "alice", 1, "DE", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 0);
	test_host_advance(1000);
	hist_push(s, "alice", 2, "FR", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 1);
	assert_int_equal(op.u.hist.prev[0].ip.addr[3], 1);
	assert_string_equal(op.u.hist.prev[0].country, "DE");
	assert_int_equal(op.u.hist.prev[0].ts_ms, T0);
	test_host_advance(1000);
	hist_push(s, "alice", 3, "IT", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 2);
	assert_int_equal(op.u.hist.prev[0].ip.addr[3], 2);
	assert_int_equal(op.u.hist.prev[1].ip.addr[3], 1);
	/* 1 again: moves to the front, no duplicate */
	test_host_advance(1000);
	hist_push(s, "alice", 1, "DE", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 3);
	assert_int_equal(op.u.hist.prev[0].ip.addr[3], 3);
	test_host_advance(1000);
	hist_push(s, "alice", 4, "ES", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 3);
	assert_int_equal(op.u.hist.prev[0].ip.addr[3], 1);
	assert_int_equal(op.u.hist.prev[0].ts_ms, T0 + 3000);
	assert_int_equal(op.u.hist.prev[1].ip.addr[3], 3);
	assert_int_equal(op.u.hist.prev[2].ip.addr[3], 2);
	/* full: the oldest (2) makes room */
	test_host_advance(1000);
	hist_push(s, "alice", 5, "PT", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 4);
	test_host_advance(1000);
	hist_push(s, "alice", 6, "PT", 100, &op);
	assert_int_equal(op.u.hist.n_prev, AF_HIST_MAX);
	assert_int_equal(op.u.hist.prev[0].ip.addr[3], 5);
	assert_int_equal(op.u.hist.prev[1].ip.addr[3], 4);
	assert_int_equal(op.u.hist.prev[2].ip.addr[3], 1);
	assert_int_equal(op.u.hist.prev[3].ip.addr[3], 3);

	/* ttl: entries older than ttl_s are left out (and dropped) */
	test_host_set_now(T0);
	hist_push(s, "bob", 1, "DE", 10, &op);
	test_host_set_now(T0 + 5000);
	hist_push(s, "bob", 2, "DE", 10, &op);
	test_host_set_now(T0 + 10000);
	hist_push(s, "bob", 3, "DE", 10, &op);
	assert_int_equal(op.u.hist.n_prev, 1);
	assert_int_equal(op.u.hist.prev[0].ip.addr[3], 2);
	/* a shorter ttl on read hides more */
	test_host_set_now(T0 + 12000);
	hist_push(s, "bob", 4, "DE", 3, &op);
	assert_int_equal(op.u.hist.n_prev, 1);
	assert_int_equal(op.u.hist.prev[0].ip.addr[3], 3);
	free_store(s);
}

/* the same subject has a ban, a window and a history at once */
static void test_namespaces(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_op_t op;

	test_host_set_now(T0);
	assert_int_equal(ban_set(s, "10.0.0.1", 60, "x"), 0);
	assert_int_equal(win_hit(s, "10.0.0.1", 60, 3), 3);
	hist_push(s, "10.0.0.1", 1, "DE", 60, &op);
	assert_int_equal(stats(s).entries, 3);
	assert_true(ban_del(s, "10.0.0.1"));
	assert_int_equal(win_hit(s, "10.0.0.1", 60, 0), 3);
	hist_push(s, "10.0.0.1", 2, "DE", 60, &op);
	assert_int_equal(op.u.hist.n_prev, 1);
	assert_false(ban_get(s, "10.0.0.1", NULL));
	/* a prefix or an extension of a key is another key */
	assert_int_equal(win_hit(s, "10.0.0.", 60, 1), 1);
	assert_int_equal(win_hit(s, "10.0.0.10", 60, 1), 1);
	/* keys need not be NUL-terminated; an empty key is a key */
	{
		af_op_t o = {.type = AF_OP_WIN_HIT, .key = "10.0.0.1xyz",
				.key_len = 8};

		o.u.win.window_s = 60;
		o.u.win.n = 1;
		assert_int_equal(af_store_exec(s, &o, 1, af_now_ms()), 0);
		assert_int_equal(o.u.win.count, 4);
	}
	assert_int_equal(win_hit(s, "", 60, 1), 1);
	assert_int_equal(win_hit(s, "", 60, 1), 2);
	free_store(s);
}

/* keys longer than AF_KEY_MAX: the prefix and the hash of the whole */
static void test_long_keys(void **state)
{
	af_store_t *s = new_store(0, 0);
	char a[300], b[300], c[AF_KEY_MAX + 1];
	af_ban_t ban;

	test_host_set_now(T0);
	memset(a, 'a', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(a));
	b[250] = 'b';
	assert_int_equal(win_hit(s, a, 60, 1), 1);
	assert_int_equal(win_hit(s, b, 60, 1), 1);
	assert_int_equal(win_hit(s, a, 60, 1), 2);
	assert_int_equal(win_hit(s, b, 60, 1), 2);
	/* same prefix, other lengths */
	a[200] = '\0';
	assert_int_equal(win_hit(s, a, 60, 1), 1);
	a[200] = 'a';
	/* exactly AF_KEY_MAX bytes is kept verbatim; one more is long */
	memset(c, 'a', AF_KEY_MAX);
	c[AF_KEY_MAX] = '\0';
	assert_int_equal(win_hit(s, c, 60, 1), 1);
	a[AF_KEY_MAX + 1] = '\0';
	assert_int_equal(win_hit(s, a, 60, 1), 1);
	assert_int_equal(win_hit(s, c, 60, 1), 2);
	a[AF_KEY_MAX + 1] = 'a';

	assert_int_equal(ban_set(s, a, 60, "long"), 0);
	assert_false(ban_get(s, b, NULL));
	assert_true(ban_get(s, a, &ban));
	assert_string_equal(ban.reason, "long");
	assert_true(ban_del(s, a));
	free_store(s);
}

/* memory is bounded: more keys than entries evict, never exceed */
static void test_capacity(void **state)
{
	af_store_t *s = new_store(256, 4);
	af_store_stats_t st;
	char k[32];
	int i;

	test_host_set_now(T0);
	assert_int_equal(stats(s).capacity, 256);
	for(i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		test_host_advance(1);
		assert_int_equal(win_hit(s, k, 3600, 1), 1);
		assert_true(stats(s).entries <= 256);
	}
	st = stats(s);
	assert_int_equal(st.entries, 256);
	assert_int_equal(st.evictions, 5000 - 256);
	assert_int_equal(st.failures, 0);
	/* the most recent keys survive (nearest expiry goes first) */
	assert_int_equal(win_hit(s, "key4999", 3600, 0), 1);
	assert_int_equal(win_hit(s, "key0", 3600, 0), 0);
	free_store(s);

	/* max_entries is rounded down to a multiple of stripes */
	s = new_store(1000, 64);
	assert_int_equal(stats(s).capacity, 960);
	free_store(s);
	/* more stripes than entries: fewer stripes */
	s = new_store(3, 64);
	assert_int_equal(stats(s).capacity, 2);
	free_store(s);
}

/* bans go last, and only for another ban */
static void test_eviction_order(void **state)
{
	af_store_t *s = new_store(4, 1);
	af_op_t op = {.type = AF_OP_WIN_HIT, .key = "w9", .key_len = 2};
	af_store_stats_t st;

	test_host_set_now(T0);
	assert_int_equal(ban_set(s, "b1", 100, "x"), 0);
	assert_int_equal(ban_set(s, "b2", 50, "x"), 0);
	assert_int_equal(win_hit(s, "w1", 3600, 1), 1); /* expires later */
	assert_int_equal(win_hit(s, "w2", 60, 1), 1);
	/* a window evicts the window with the nearest expiry, not a ban */
	assert_int_equal(win_hit(s, "w3", 3600, 1), 1);
	assert_int_equal(win_hit(s, "w2", 60, 0), 0);
	assert_int_equal(win_hit(s, "w1", 3600, 0), 1);
	assert_int_equal(stats(s).evictions, 1);
	/* a ban evicts a window before any ban, even one ending sooner */
	assert_int_equal(ban_set(s, "b3", 10, "x"), 0);
	assert_true(ban_get(s, "b1", NULL));
	assert_true(ban_get(s, "b2", NULL));
	assert_int_equal(win_hit(s, "w1", 3600, 0) + win_hit(s, "w3", 3600, 0),
			1);
	assert_int_equal(ban_set(s, "b4", 10, "x"), 0);
	assert_int_equal(stats(s).evictions, 3);
	/* only bans left: a window cannot get in */
	op.u.win.window_s = 60;
	op.u.win.n = 1;
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), -1);
	assert_int_equal(op.status, -1);
	assert_int_equal(op.u.win.count, 0);
	/* a ban evicts the ban ending soonest */
	assert_int_equal(ban_set(s, "b5", 1000, "x"), 0);
	assert_true(ban_get(s, "b1", NULL));
	assert_true(ban_get(s, "b2", NULL));
	assert_true(ban_get(s, "b5", NULL));
	assert_int_equal(ban_get(s, "b3", NULL) + ban_get(s, "b4", NULL), 1);
	/* expired entries make room without evicting */
	test_host_advance(200000);
	assert_int_equal(win_hit(s, "w4", 60, 1), 1);
	s->ops->gc(s, af_now_ms(), 0);
	st = stats(s);
	assert_int_equal(st.evictions, 4);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.entries, 2);
	free_store(s);
}

/* a counter that bans in a full single-entry stripe cannot evict itself */
static void test_ban_needs_room(void **state)
{
	af_store_t *s = new_store(1, 1);
	af_op_t op = {.type = AF_OP_WIN_HIT, .key = "c", .key_len = 1};

	test_host_set_now(T0);
	op.u.win.window_s = 60;
	op.u.win.n = 1;
	op.u.win.ban_threshold = 1;
	op.u.win.ban_s = 60;
	op.u.win.ban_key = "ip";
	op.u.win.ban_key_len = 2;
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), -1);
	assert_int_equal(op.status, -1);
	assert_int_equal(op.u.win.count, 1);
	assert_false(op.u.win.banned);
	assert_int_equal(stats(s).failures, 1);
	free_store(s);
}

/* gc frees expired entries within its budget, resuming where it was */
static void test_gc(void **state)
{
	af_store_t *s = new_store(1024, 8);
	af_store_stats_t st;
	char k[32];
	int i;

	test_host_set_now(T0);
	for(i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "b%d", i);
		assert_int_equal(ban_set(s, k, 10, "x"), 0);
	}
	for(i = 0; i < 50; i++) {
		snprintf(k, sizeof(k), "keep%d", i);
		assert_int_equal(ban_set(s, k, 1000, "x"), 0);
	}
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 150);
	test_host_advance(10000);
	s->ops->gc(s, af_now_ms(), 30);
	st = stats(s);
	assert_int_equal(st.entries, 120);
	assert_int_equal(st.expired, 30);
	s->ops->gc(s, af_now_ms(), 30);
	assert_int_equal(stats(s).entries, 90);
	s->ops->gc(s, af_now_ms(), 0);
	st = stats(s);
	assert_int_equal(st.entries, 50);
	assert_int_equal(st.expired, 100);
	/* nothing to do: bounded, no change */
	s->ops->gc(s, af_now_ms(), 5);
	assert_int_equal(stats(s).entries, 50);
	for(i = 0; i < 50; i++) {
		snprintf(k, sizeof(k), "keep%d", i);
		assert_true(ban_get(s, k, NULL));
	}
	free_store(s);
}

typedef struct list_acc {
	int n;
	int stop_after;
	char seen[8][16];
} list_acc_t;

static int list_cb(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	list_acc_t *acc = arg;

	assert_true(key_len < sizeof(acc->seen[0]));
	assert_string_equal(ban->reason, "listed");
	if(acc->n < 8) {
		memcpy(acc->seen[acc->n], key, key_len);
		acc->seen[acc->n][key_len] = '\0';
	}
	acc->n++;
	return acc->stop_after && acc->n >= acc->stop_after;
}

/* ban_list sees every live ban once, and stops when asked */
static void test_ban_list(void **state)
{
	af_store_t *s = new_store(0, 4);
	list_acc_t acc;
	char k[16];
	int i, j, found;

	test_host_set_now(T0);
	for(i = 0; i < 5; i++) {
		snprintf(k, sizeof(k), "ip%d", i);
		assert_int_equal(ban_set(s, k, i == 4 ? 1 : 60, "listed"), 0);
	}
	assert_int_equal(win_hit(s, "ip0", 60, 1), 1);
	test_host_advance(1000);
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(s->ops->ban_list(s, list_cb, &acc, af_now_ms()), 0);
	assert_int_equal(acc.n, 4);
	for(i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "ip%d", i);
		for(j = 0, found = 0; j < acc.n; j++)
			found += strcmp(acc.seen[j], k) == 0;
		assert_int_equal(found, 1);
	}
	memset(&acc, 0, sizeof(acc));
	acc.stop_after = 1;
	assert_int_equal(s->ops->ban_list(s, list_cb, &acc, af_now_ms()), 0);
	assert_int_equal(acc.n, 1);
	free_store(s);
}

/* a batch runs in order; ops on one key see each other */
static void test_batch(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_op_t ops[4];

	test_host_set_now(T0);
	memset(ops, 0, sizeof(ops));
	ops[0].type = AF_OP_BAN_SET;
	ops[0].key = "x";
	ops[0].key_len = 1;
	ops[0].u.ban_set.ttl_s = 60;
	ops[1].type = AF_OP_BAN_GET;
	ops[1].key = "x";
	ops[1].key_len = 1;
	ops[2].type = AF_OP_WIN_HIT;
	ops[2].key = "x";
	ops[2].key_len = 1;
	ops[2].u.win.window_s = 60;
	ops[2].u.win.n = 2;
	ops[3] = ops[2];
	assert_int_equal(af_store_exec(s, ops, 4, af_now_ms()), 0);
	assert_true(ops[1].u.ban_get.found);
	assert_int_equal(ops[1].u.ban_get.ban.hits, 1);
	assert_int_equal(ops[2].u.win.count, 2);
	assert_int_equal(ops[3].u.win.count, 4);
	assert_int_equal(af_store_exec(s, ops, 0, af_now_ms()), 0);

	/* a BAN_GET with stop that finds a ban skips the rest */
	ops[1].u.ban_get.stop = 1;
	ops[2].status = ops[3].status = 7;
	assert_int_equal(af_store_exec(s, ops + 1, 3, af_now_ms()), 0);
	assert_int_equal(ops[1].status, 0);
	assert_true(ops[1].u.ban_get.found);
	assert_int_equal(ops[2].status, 1);
	assert_int_equal(ops[3].status, 1);
	assert_int_equal(win_hit(s, "x", 60, 0), 4);
	/* not found: the rest runs */
	ops[1].key = "y";
	assert_int_equal(af_store_exec(s, ops + 1, 3, af_now_ms()), 0);
	assert_false(ops[1].u.ban_get.found);
	assert_int_equal(ops[2].status, 0);
	assert_int_equal(ops[3].u.win.count, 8);
	free_store(s);
}

/* invalid ops fail alone; the others in the batch are done */
static void test_invalid(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_store_shm_cfg_t bad = {.max_entries = 100, .stripes = 3};
	af_op_t ops[5];

	assert_int_equal(af_store_shm_size(&bad), 0);
	assert_null(af_store_shm_new(&bad));
	test_host_set_now(T0);
	memset(ops, 0, sizeof(ops));
	ops[0].type = AF_OP_WIN_HIT; /* window_s 0 */
	ops[0].key = "a";
	ops[0].key_len = 1;
	ops[0].u.win.n = 1;
	ops[1].type = AF_OP_BAN_SET; /* ttl_s 0 */
	ops[1].key = "a";
	ops[1].key_len = 1;
	ops[2].type = 99;
	ops[3].type = AF_OP_BAN_GET; /* NULL key with a length */
	ops[3].key_len = 3;
	ops[4].type = AF_OP_BAN_DEL;
	ops[4].key = "a";
	ops[4].key_len = 1;
	assert_int_equal(af_store_exec(s, ops, 5, af_now_ms()), -1);
	assert_int_equal(ops[0].status, -1);
	assert_int_equal(ops[1].status, -1);
	assert_int_equal(ops[2].status, -1);
	assert_int_equal(ops[3].status, -1);
	assert_int_equal(ops[4].status, 0);
	assert_int_equal(stats(s).failures, 4);
	assert_int_equal(stats(s).entries, 0);
	free_store(s);
}

/* the size is what new takes, and all of it is given back */
static void test_size(void **state)
{
	af_store_shm_cfg_t cfg = {0};
	size_t sz = af_store_shm_size(&cfg);
	af_store_t *s;

	assert_true(sz > 65536 * 256);
	assert_true(sz < 65536 * 300);
	assert_int_equal(af_store_shm_size(NULL), sz);
	s = af_store_shm_new(&cfg);
	assert_non_null(s);
	assert_string_equal(s->ops->name, "shm");
	assert_int_equal(test_host_shm_live(), 1);
	assert_int_equal(stats(s).capacity, 65536);
	free_store(s);
}

#define N_THREADS 4
#define N_HITS 10000

typedef struct thr_arg {
	af_store_t *s;
	int banned;
} thr_arg_t;

static void *thr_main(void *p)
{
	thr_arg_t *a = p;
	static const char *const keys[] = {"k0", "k1", "k2", "k3"};
	af_op_t op;
	int i;

	for(i = 0; i < N_HITS; i++) {
		memset(&op, 0, sizeof(op));
		op.type = AF_OP_WIN_HIT;
		op.key = keys[i % 4];
		op.key_len = 2;
		op.u.win.window_s = 3600;
		op.u.win.n = 1;
		op.u.win.ban_threshold = 7777;
		op.u.win.ban_s = 60;
		op.u.win.ban_key = i % 4 == 0 ? "b0" : NULL;
		op.u.win.ban_key_len = i % 4 == 0 ? 2 : 0;
		if(af_store_exec(a->s, &op, 1, af_now_ms()) != 0)
			return NULL;
		a->banned += op.u.win.banned;
	}
	return a;
}

/* threads counting on shared keys: exact totals, one ban per key */
static void test_threads(void **state)
{
	af_store_t *s = new_store(1024, 2);
	pthread_t t[N_THREADS];
	thr_arg_t a[N_THREADS];
	int i, banned = 0;

	test_host_set_now(T0);
	for(i = 0; i < N_THREADS; i++) {
		a[i].s = s;
		a[i].banned = 0;
		assert_int_equal(pthread_create(&t[i], NULL, thr_main, &a[i]), 0);
	}
	for(i = 0; i < N_THREADS; i++) {
		void *rv;

		assert_int_equal(pthread_join(t[i], &rv), 0);
		assert_ptr_equal(rv, &a[i]);
		banned += a[i].banned;
	}
	for(i = 0; i < 4; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(win_hit(s, k, 3600, 0), N_THREADS * N_HITS / 4);
	}
	/* b0, k1, k2, k3 */
	assert_int_equal(banned, 4);
	assert_true(ban_get(s, "b0", NULL));
	assert_false(ban_get(s, "k0", NULL));
	assert_true(ban_get(s, "k3", NULL));
	free_store(s);
}

/* a host whose shared memory really is shared between processes */
static long mm_live;

static void *mm_alloc(size_t size)
{
	size_t total = size + 64;
	char *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if(p == MAP_FAILED)
		return NULL;
	memcpy(p, &total, sizeof(total));
	mm_live++;
	return p + 64;
}

static void mm_free(void *p)
{
	size_t total;

	if(!p)
		return;
	memcpy(&total, (char *)p - 64, sizeof(total));
	munmap((char *)p - 64, total);
	mm_live--;
}

static uint64_t mm_now(void)
{
	return T0;
}

static void mm_vlog(int level, const char *fmt, va_list ap)
{
	vfprintf(stderr, fmt, ap);
}

static int mm_log_enabled(int level)
{
	return level <= AF_L_ERR;
}

static const af_host_t mm_host = {
	.shm_alloc = mm_alloc,
	.shm_free = mm_free,
	.now_ms = mm_now,
	.vlog = mm_vlog,
	.log_enabled = mm_log_enabled,
};

#define N_CHILDREN 4
#define N_CHILD_HITS 5000

/* forked workers share the store through MAP_SHARED memory */
static void test_fork(void **state)
{
	af_store_shm_cfg_t cfg = {.max_entries = 4096, .stripes = 4};
	af_store_t *s;
	pid_t pid[N_CHILDREN];
	int i, j, wst, banned = 0;

	af_host_set(&mm_host);
	s = af_store_shm_new(&cfg);
	assert_non_null(s);
	for(i = 0; i < N_CHILDREN; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if(pid[i] == 0) {
			int rc = 0;

			for(j = 0; j < N_CHILD_HITS; j++) {
				af_op_t op = {.type = AF_OP_WIN_HIT, .key = "shared",
						.key_len = 6};

				op.u.win.window_s = 60;
				op.u.win.n = 1;
				op.u.win.ban_threshold = 12345;
				op.u.win.ban_s = 60;
				op.u.win.ban_key = "offender";
				op.u.win.ban_key_len = 8;
				if(af_store_exec(s, &op, 1, af_now_ms()) != 0)
					rc = 2;
				banned += op.u.win.banned;
			}
			_exit(rc + banned);
		}
	}
	for(i = 0; i < N_CHILDREN; i++) {
		assert_int_equal(waitpid(pid[i], &wst, 0), pid[i]);
		assert_true(WIFEXITED(wst));
		assert_true(WEXITSTATUS(wst) <= 1);
		banned += WEXITSTATUS(wst);
	}
	assert_int_equal(banned, 1);
	assert_int_equal(win_hit(s, "shared", 60, 0), N_CHILDREN * N_CHILD_HITS);
	assert_true(ban_get(s, "offender", NULL));
	s->ops->destroy(s);
	assert_int_equal(mm_live, 0);
	test_host_init();
	assert_int_equal(test_host_shm_live(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_edges),
		cmocka_unit_test(test_window_slides),
		cmocka_unit_test(test_window_size_change),
		cmocka_unit_test(test_window_saturates),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_ban),
		cmocka_unit_test(test_ban_threshold),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_long_keys),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_eviction_order),
		cmocka_unit_test(test_ban_needs_room),
		cmocka_unit_test(test_gc),
		cmocka_unit_test(test_ban_list),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fork),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
