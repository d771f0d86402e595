/*
 * antifraud unit tests - the shared-memory state store.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "af_bytes.h"
#include "af_host.h"
#include "af_store.h"
#include "af_store_shm.h"
#include "host.h"
#include "store_ops.h"
#include "forget_scenario.h"
#include "dry_scenario.h"

/* a time aligned to whole seconds, far from 0 (0 means the real clock) */
#define T0 1700000000000ULL

#include "store_scenarios.h"

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

static af_store_stats_t stats(af_store_t *s)
{
	af_store_stats_t st;

	s->ops->stats(s, &st);
	return st;
}

/* a scenario of store_scenarios.h on an empty shm store */
static void test_scenario(void **state)
{
	const scn_t *scn = *state;
	af_store_t *s = new_store(0, 0);

	scn->run(s);
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

/* a read_only HIST_PUSH returns the sources and records nothing: no
 * history created, none changed, no expiry moved */
static void test_history_read_only(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_op_t op, ro, ops[3];

	test_host_set_now(T0);
	/* a missing history: nothing returned, nothing created */
	hist_read(s, "carol", 1, "DE", 100, &ro);
	assert_int_equal(ro.u.hist.n_prev, 0);
	assert_int_equal(stats(s).entries, 0);
	hist_read(s, "carol", 1, "DE", 100, &ro);
	assert_int_equal(ro.u.hist.n_prev, 0);
	assert_int_equal(stats(s).entries, 0);
	/* which a recording push then finds empty */
	hist_push(s, "carol", 1, "DE", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 0);
	assert_int_equal(stats(s).entries, 1);

	/* after pushes: newest first; a read naming 1, the oldest, does not
	 * bring it to the front as a push would */
	hist_push(s, "alice", 1, "DE", 100, &op);
	test_host_advance(1000);
	hist_push(s, "alice", 2, "FR", 100, &op);
	test_host_advance(1000);
	hist_push(s, "alice", 3, "IT", 100, &op);
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
	/* the next push sees what the reads saw */
	test_host_advance(1000);
	hist_push(s, "alice", 4, "ES", 100, &op);
	hist_same(&ro, &op);
	assert_int_equal(stats(s).entries, 2);

	/* a shorter ttl_s hides the older records, and drops none: a push
	 * with the longer ttl_s still returns them */
	test_host_advance(1000);
	hist_read(s, "alice", 1, "DE", 2, &ro);
	assert_int_equal(ro.u.hist.n_prev, 1);
	assert_int_equal(ro.u.hist.prev[0].ip.addr[3], 4);
	hist_push(s, "alice", 5, "PT", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 4);
	assert_int_equal(op.u.hist.prev[3].ip.addr[3], 1);

	/* expiry: ttl_s after the last recording push, whatever the reads.
	 * A record from the future is never too old for a read's ttl_s, so
	 * only the history's own expiry can hide it. */
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
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 1); /* carol, alice gone */
	test_host_set_now(T0 + 210000);
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 0);
	hist_read(s, "bob", 2, "FR", 10, &ro);
	assert_int_equal(ro.u.hist.n_prev, 0);
	assert_int_equal(stats(s).entries, 0);

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
	assert_int_equal(stats(s).entries, 1);
	/* ttl_s 0 is invalid, read_only or not */
	hist_op(&op, "dave", 1, "DE", 0);
	op.u.hist.read_only = 1;
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), -1);
	assert_int_equal(op.status, -1);
	assert_int_equal(op.u.hist.n_prev, 0);
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
	assert_int_equal(st.bans_evicted, 1); /* b3 or b4, by b5 */
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
	uint64_t n;
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
	/* a budget bounds what is freed, and what is looked at (16 entries
	 * per entry of budget): rounds of 30 free them all, a few at a time */
	for(i = 0; i < 5; i++) {
		n = stats(s).entries;
		s->ops->gc(s, af_now_ms(), 30);
		st = stats(s);
		assert_true(n - st.entries <= 30);
		assert_int_equal(st.expired, 150 - st.entries);
	}
	assert_int_equal(stats(s).entries, 50);
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

/* the interface names its results, each apart */
static void test_strerror(void **state)
{
	const char *ok = af_store_strerror(AF_STORE_OK);
	const char *failed = af_store_strerror(AF_STORE_FAILED);
	const char *down = af_store_strerror(AF_STORE_UNAVAILABLE);

	assert_string_equal(ok, "done");
	assert_non_null(strstr(down, "reached"));
	assert_string_not_equal(failed, down);
	assert_string_not_equal(failed, ok);
	assert_string_equal(af_store_strerror(7), "unknown result");
}

/* the size is what new takes, and all of it is given back */
static void test_size(void **state)
{
	af_store_shm_cfg_t cfg = {0};
	size_t sz = af_store_shm_size(&cfg);
	af_store_t *s;

	/* the default: 131072 entries, AF_SHM_ENTRY_BYTES (120) of arena and
	 * half a bucket each */
	assert_true(sz > 131072 * 122);
	assert_true(sz < 131072 * 123);
	assert_int_equal(af_store_shm_size(NULL), sz);
	s = af_store_shm_new(&cfg);
	assert_non_null(s);
	assert_string_equal(s->ops->name, "shm");
	assert_int_equal(test_host_shm_live(), 1);
	assert_int_equal(stats(s).capacity, 131072);
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

/* ---- concurrency sets, gates and distinct counting ---- */

/* CONC_ADD of mem to key (must succeed); returns admitted, the count in
 * *count (may be NULL). full must be the opposite of admitted. */
static int conc_add(af_store_t *s, const char *key, const char *mem,
		uint32_t limit, uint32_t ttl_s, uint32_t *count)
{
	af_op_t op;

	conc_op(&op, AF_OP_CONC_ADD, key, mem, limit, ttl_s);
	op.u.conc.found = 7; /* cleared */
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	assert_int_equal(op.status, 0);
	assert_int_equal(op.u.conc.full, !op.u.conc.admitted);
	assert_int_equal(op.u.conc.found, 0);
	if(count)
		*count = op.u.conc.count;
	return op.u.conc.admitted;
}

/* limit, refusal, DEL, re-adding, unknown members, no limit */
static void test_conc_limit(void **state)
{
	af_store_t *s = new_store(0, 0);
	char m[32], longa[200], longb[200];
	uint32_t c;
	int i;

	test_host_set_now(T0);
	assert_int_equal(conc_count(s, "g"), 0);
	for(i = 0; i < 5; i++) {
		snprintf(m, sizeof(m), "call%d", i);
		assert_true(conc_add(s, "g", m, 5, 60, &c));
		assert_int_equal(c, i + 1);
	}
	/* the 6th is refused, nothing changes */
	assert_false(conc_add(s, "g", "call5", 5, 60, &c));
	assert_int_equal(c, 5);
	assert_int_equal(conc_count(s, "g"), 5);
	assert_int_equal(stats(s).entries, 6);
	/* a member already in is admitted even at the limit, counted once */
	assert_true(conc_add(s, "g", "call3", 5, 60, &c));
	assert_int_equal(c, 5);
	/* a lower limit on a later add: members in are kept */
	assert_false(conc_add(s, "g", "call9", 2, 60, &c));
	assert_int_equal(c, 5);
	assert_true(conc_add(s, "g", "call4", 2, 60, &c));
	/* DEL makes room */
	assert_true(conc_del(s, "g", "call0", &c));
	assert_int_equal(c, 4);
	assert_false(conc_del(s, "g", "call0", &c));
	assert_int_equal(c, 4);
	assert_true(conc_add(s, "g", "call5", 5, 60, &c));
	assert_int_equal(c, 5);
	assert_false(conc_add(s, "g", "call6", 5, 60, &c));
	/* unknown members, unknown sets: found 0, never below 0 */
	for(i = 0; i < 20; i++) {
		snprintf(m, sizeof(m), "ghost%d", i);
		assert_false(conc_del(s, "g", m, &c));
		assert_int_equal(c, 5);
		assert_false(conc_del(s, "nowhere", m, &c));
		assert_int_equal(c, 0);
	}
	for(i = 0; i < 7; i++) {
		snprintf(m, sizeof(m), "call%d", i);
		conc_del(s, "g", m, &c);
		conc_del(s, "g", m, NULL);
	}
	assert_int_equal(c, 0);
	assert_int_equal(conc_count(s, "g"), 0);
	/* the set went with its last member */
	assert_int_equal(stats(s).entries, 0);

	/* limit 0: no limit; the empty member is a member */
	for(i = 0; i < 100; i++) {
		snprintf(m, sizeof(m), "c%d", i);
		assert_true(conc_add(s, "u", m, 0, 60, &c));
		assert_int_equal(c, i + 1);
	}
	assert_true(conc_add(s, "u", "", 0, 60, &c));
	assert_int_equal(c, 101);
	assert_true(conc_del(s, "u", "", &c));
	assert_int_equal(c, 100);

	/* same member, several sets and namespaces: independent */
	assert_true(conc_add(s, "a", "x", 1, 60, NULL));
	assert_true(conc_add(s, "b", "x", 1, 60, NULL));
	assert_int_equal(win_hit(s, "a", 60, 1), 1);
	assert_int_equal(ban_set(s, "a", 60, "x"), 0);
	assert_true(conc_del(s, "a", "x", NULL));
	assert_int_equal(conc_count(s, "b"), 1);
	assert_true(ban_get(s, "a", NULL));
	assert_int_equal(win_hit(s, "a", 60, 0), 1);
	/* a member is not a set and a set key is not a member of another */
	assert_int_equal(conc_count(s, "x"), 0);
	assert_false(conc_del(s, "b", "b", NULL));

	/* long set keys and members: whole bytes count, not the prefix */
	memset(longa, 'a', sizeof(longa) - 1);
	longa[sizeof(longa) - 1] = '\0';
	memcpy(longb, longa, sizeof(longa));
	longb[150] = 'b';
	assert_true(conc_add(s, longa, longa, 0, 60, &c));
	assert_true(conc_add(s, longa, longb, 0, 60, &c));
	assert_int_equal(c, 2);
	assert_true(conc_add(s, longb, longa, 0, 60, &c));
	assert_int_equal(c, 1);
	assert_true(conc_add(s, longa, longb, 0, 60, &c));
	assert_int_equal(c, 2);
	assert_true(conc_del(s, longa, longa, &c));
	assert_int_equal(c, 1);
	assert_int_equal(conc_count(s, longb), 1);
	free_store(s);
}

/* members leave at their ttl exactly; sets go with their last member */
static void test_conc_expiry(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_store_stats_t st;
	uint64_t n;
	uint32_t c;
	char m[32];
	int i;

	test_host_set_now(T0);
	assert_int_equal(ban_set(s, "base", 1000, "x"), 0);
	assert_true(conc_add(s, "g", "a", 0, 10, NULL));
	test_host_set_now(T0 + 5000);
	assert_true(conc_add(s, "g", "b", 0, 10, &c));
	assert_int_equal(c, 2);
	assert_int_equal(stats(s).entries, 4);
	test_host_set_now(T0 + 9999);
	assert_int_equal(conc_count(s, "g"), 2);
	test_host_set_now(T0 + 10000);
	assert_int_equal(conc_count(s, "g"), 1);
	assert_int_equal(stats(s).entries, 3);
	/* an expired member is not found, and not counted twice */
	assert_false(conc_del(s, "g", "a", &c));
	assert_int_equal(c, 1);
	/* refresh: the ttl starts again */
	test_host_set_now(T0 + 12000);
	assert_true(conc_add(s, "g", "b", 0, 10, &c));
	assert_int_equal(c, 1);
	test_host_set_now(T0 + 21999);
	assert_int_equal(conc_count(s, "g"), 1);
	test_host_set_now(T0 + 22000);
	assert_int_equal(conc_count(s, "g"), 0);
	/* the set is gone: back to the baseline */
	assert_int_equal(stats(s).entries, 1);

	/* a limit counts live members only */
	test_host_set_now(T0 + 30000);
	assert_true(conc_add(s, "l", "a", 2, 5, NULL));
	assert_true(conc_add(s, "l", "b", 2, 50, NULL));
	assert_false(conc_add(s, "l", "c", 2, 50, NULL));
	test_host_set_now(T0 + 35000);
	assert_true(conc_add(s, "l", "c", 2, 50, &c));
	assert_int_equal(c, 2);
	assert_true(conc_del(s, "l", "b", NULL));
	assert_true(conc_del(s, "l", "c", NULL));
	assert_int_equal(stats(s).entries, 1);

	/* gc reclaims members and sets nobody asks for again */
	test_host_set_now(T0 + 40000);
	for(i = 0; i < 50; i++) {
		snprintf(m, sizeof(m), "m%d", i);
		assert_true(conc_add(s, i % 2 ? "s1" : "s2", m, 0, 1 + i % 7, NULL));
	}
	snprintf(m, sizeof(m), "s%d", 3);
	assert_true(conc_add(s, m, "long", 0, 100, NULL));
	assert_int_equal(stats(s).entries, 1 + 3 + 51);
	st = stats(s);
	test_host_set_now(T0 + 40000 + 4000);
	s->ops->gc(s, af_now_ms(), 0);
	/* members with ttl 5..7 s are left, and the sets they are in */
	assert_int_equal(conc_count(s, "s1") + conc_count(s, "s2"), 21);
	test_host_set_now(T0 + 40000 + 7000);
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 1 + 2);
	assert_int_equal(stats(s).expired, st.expired + 52);
	assert_int_equal(conc_count(s, "s1"), 0);
	assert_int_equal(conc_count(s, "s3"), 1);
	/* a gc with a budget frees a set's members with it: a call that
	 * frees anything frees a set and its members (a budget of 1 looks at
	 * 16 entries: a few calls go round the store) */
	test_host_set_now(T0 + 200000);
	for(i = 0; i < 5000 && stats(s).entries > 1; i++) {
		n = stats(s).entries;
		s->ops->gc(s, af_now_ms(), 1);
		assert_true(stats(s).entries == n || stats(s).entries <= n - 2);
	}
	assert_int_equal(stats(s).entries, 1);
	assert_true(ban_get(s, "base", NULL));
	free_store(s);
}

/* expired members found by chain walks and sweeps leave the count */
static void test_conc_expiry_paths(void **state)
{
	af_store_t *s = new_store(16, 1);
	af_store_stats_t st;
	uint32_t c;
	char m[32];
	int i;

	test_host_set_now(T0);
	for(i = 0; i < 6; i++) {
		snprintf(m, sizeof(m), "m%d", i);
		assert_true(conc_add(s, "g", m, 0, i < 3 ? 5 : 50, NULL));
	}
	assert_int_equal(stats(s).entries, 7);
	/* windows fill the stripe; at 5 s the insert of a window frees the
	 * expired members: the sweep of the full stripe frees all three, or
	 * the chain walk of its lookup (hash seed) one or more first */
	for(i = 0; i < 9; i++) {
		snprintf(m, sizeof(m), "w%d", i);
		assert_int_equal(win_hit(s, m, 3600, 1), 1);
	}
	test_host_set_now(T0 + 5000);
	assert_int_equal(win_hit(s, "w-new", 3600, 1), 1);
	st = stats(s);
	assert_true(st.expired >= 1 && st.expired <= 3);
	assert_int_equal(st.entries, 17 - st.expired);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(conc_count(s, "g"), 3);
	st = stats(s);
	assert_int_equal(st.expired, 3);
	assert_int_equal(st.entries, 14);
	/* at 50 s: every member and the set, found by the sweep */
	test_host_set_now(T0 + 50000);
	for(i = 0; i < 3; i++) {
		snprintf(m, sizeof(m), "x%d", i);
		assert_int_equal(win_hit(s, m, 3600, 1), 1);
	}
	assert_int_equal(conc_count(s, "g"), 0);
	st = stats(s);
	assert_int_equal(st.expired, 7);
	/* the count starts again from 0 */
	assert_true(conc_add(s, "g", "m0", 1, 5, &c));
	assert_int_equal(c, 1);
	assert_false(conc_add(s, "g", "m1", 1, 5, &c));
	free_store(s);
}

#define CONC_MAX 16 /* AF_SHM_CONC_MAX: CONC_ADDs in one batch */

/* the CONC_ADDs of a batch admit into every set or none */
static void test_conc_batch(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_op_t ops[CONC_MAX + 2];
	char mem[CONC_MAX + 1][16];
	int i;

	test_host_set_now(T0);
	/* global limit 3, caller limit 1 */
	conc_op(&ops[0], AF_OP_CONC_ADD, "global", "c1", 3, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "caller:alice", "c1", 1, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_true(ops[0].u.conc.admitted && ops[1].u.conc.admitted);
	assert_int_equal(ops[0].u.conc.count, 1);
	assert_int_equal(ops[1].u.conc.count, 1);
	/* alice's second call: refused by her set, not added to global */
	conc_op(&ops[0], AF_OP_CONC_ADD, "global", "c2", 3, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "caller:alice", "c2", 1, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[0].status, 0);
	assert_int_equal(ops[1].status, 0);
	assert_false(ops[0].u.conc.admitted);
	assert_false(ops[1].u.conc.admitted);
	assert_false(ops[0].u.conc.full);
	assert_true(ops[1].u.conc.full);
	assert_int_equal(ops[0].u.conc.count, 1);
	assert_int_equal(ops[1].u.conc.count, 1);
	assert_int_equal(conc_count(s, "global"), 1);
	/* in the other order too */
	conc_op(&ops[1], AF_OP_CONC_ADD, "global", "c2", 3, 60);
	conc_op(&ops[0], AF_OP_CONC_ADD, "caller:alice", "c2", 1, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_false(ops[1].u.conc.admitted);
	assert_int_equal(conc_count(s, "global"), 1);
	/* bob's calls go in; the 4th call overall is refused by global */
	conc_op(&ops[0], AF_OP_CONC_ADD, "global", "c2", 3, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "caller:bob", "c2", 5, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_true(ops[0].u.conc.admitted && ops[1].u.conc.admitted);
	conc_op(&ops[0], AF_OP_CONC_ADD, "global", "c3", 3, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "caller:bob", "c3", 5, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[0].u.conc.count, 3);
	assert_int_equal(ops[1].u.conc.count, 2);
	conc_op(&ops[0], AF_OP_CONC_ADD, "global", "c4", 3, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "caller:bob", "c4", 5, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_true(ops[0].u.conc.full);
	assert_false(ops[1].u.conc.full);
	assert_false(ops[1].u.conc.admitted);
	assert_int_equal(conc_count(s, "caller:bob"), 2);

	/* a member in one set and refused by the other is not refreshed:
	 * c1 still leaves global at T0 + 60 s */
	test_host_set_now(T0 + 30000);
	conc_op(&ops[0], AF_OP_CONC_ADD, "global", "c1", 5, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "caller:bob", "c1", 2, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_false(ops[0].u.conc.full);
	assert_true(ops[1].u.conc.full);
	assert_false(ops[0].u.conc.admitted);
	/* members in both: admitted at the limits, and refreshed */
	conc_op(&ops[0], AF_OP_CONC_ADD, "global", "c2", 3, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "caller:bob", "c2", 2, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_true(ops[0].u.conc.admitted && ops[1].u.conc.admitted);
	assert_int_equal(ops[0].u.conc.count, 3);
	test_host_set_now(T0 + 60000);
	assert_int_equal(conc_count(s, "global"), 1); /* c2 */
	assert_int_equal(conc_count(s, "caller:alice"), 0);
	assert_int_equal(conc_count(s, "caller:bob"), 1);
	test_host_set_now(T0 + 90000);
	assert_int_equal(conc_count(s, "global"), 0);
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 0);

	/* a gated WIN_HIT over its gate lets nobody in; at the gate it does.
	 * The CONC_ADDs may come before it: they run last. */
	test_host_set_now(T0 + 100000);
	for(i = 0; i < 4; i++) {
		snprintf(mem[i], sizeof(mem[i]), "g%d", i);
		conc_op(&ops[0], AF_OP_CONC_ADD, "global", mem[i], 0, 60);
		win_op(&ops[1], "rate:alice", 1, 2, 0);
		conc_op(&ops[2], AF_OP_CONC_ADD, "caller:alice", mem[i], 0, 60);
		assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
		assert_int_equal(ops[1].u.win.count, i + 1);
		assert_int_equal(ops[0].u.conc.admitted, i < 2);
		assert_int_equal(ops[2].u.conc.admitted, i < 2);
		assert_false(ops[0].u.conc.full || ops[2].u.conc.full);
		assert_int_equal(ops[0].u.conc.count, i < 2 ? i + 1 : 2);
	}
	/* gate 0: no gate; a read-only gated hit gates too */
	win_op(&ops[0], "rate:alice", 1, 0, 0);
	conc_op(&ops[1], AF_OP_CONC_ADD, "global", "g9", 0, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_true(ops[1].u.conc.admitted);
	win_op(&ops[0], "rate:alice", 0, 4, 0);
	conc_op(&ops[1], AF_OP_CONC_ADD, "global", "g8", 0, 60);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[0].u.win.count, 5);
	assert_false(ops[1].u.conc.admitted);
	assert_int_equal(ops[1].u.conc.count, 3);
	assert_int_equal(conc_count(s, "global"), 3);

	/* several members of one batch into one set: counted against it */
	conc_op(&ops[0], AF_OP_CONC_ADD, "pair", "p1", 2, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "pair", "p2", 2, 60);
	conc_op(&ops[2], AF_OP_CONC_ADD, "pair", "p3", 2, 60);
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
	assert_false(ops[0].u.conc.full || ops[1].u.conc.full);
	assert_true(ops[2].u.conc.full);
	assert_false(ops[0].u.conc.admitted);
	assert_int_equal(conc_count(s, "pair"), 0);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_true(ops[1].u.conc.admitted);
	assert_int_equal(ops[0].u.conc.count, 2);
	assert_int_equal(ops[1].u.conc.count, 2);
	/* the same member twice counts once */
	conc_op(&ops[0], AF_OP_CONC_ADD, "twice", "t", 1, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "twice", "t", 1, 30);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_true(ops[0].u.conc.admitted && ops[1].u.conc.admitted);
	assert_int_equal(ops[1].u.conc.count, 1);
	/* refreshed in op order: the last ttl wins */
	test_host_advance(30000);
	assert_int_equal(conc_count(s, "twice"), 0);

	/* a BAN_GET stop skips the whole group, before or after it */
	assert_int_equal(ban_set(s, "1.2.3.4", 60, "x"), 0);
	for(i = 0; i < 2; i++) {
		conc_op(&ops[0], AF_OP_CONC_ADD, "global", "banned", 0, 60);
		memset(&ops[1], 0, sizeof(ops[1]));
		ops[1].type = AF_OP_BAN_GET;
		ops[1].key = "1.2.3.4";
		ops[1].key_len = 7;
		ops[1].u.ban_get.stop = 1;
		conc_op(&ops[2], AF_OP_CONC_ADD, "caller:x", "banned", 0, 60);
		if(i)
			ops[1].key = "1.2.3.5";
		assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
		assert_int_equal(ops[0].status, i ? 0 : 1);
		assert_int_equal(ops[2].status, i ? 0 : 1);
		assert_int_equal(ops[0].u.conc.admitted, i);
		assert_int_equal(conc_count(s, "caller:x"), i);
	}
	/* CONC_DEL and CONC_COUNT run in order, CONC_ADD at the end */
	conc_op(&ops[0], AF_OP_CONC_ADD, "order", "o", 0, 60);
	conc_op(&ops[1], AF_OP_CONC_COUNT, "order", NULL, 0, 0);
	conc_op(&ops[2], AF_OP_CONC_DEL, "order", "o", 0, 0);
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
	assert_int_equal(ops[1].u.conc.count, 0);
	assert_false(ops[2].u.conc.found);
	assert_int_equal(ops[0].u.conc.count, 1);
	assert_int_equal(af_store_exec(s, ops + 1, 2, af_now_ms()), 0);
	assert_int_equal(ops[1].u.conc.count, 1);
	assert_true(ops[2].u.conc.found);
	assert_int_equal(ops[2].u.conc.count, 0);

	/* an invalid CONC_ADD fails the group; other ops are done */
	conc_op(&ops[0], AF_OP_CONC_ADD, "inv", "a", 0, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, "inv2", "a", 0, 0); /* ttl 0 */
	win_op(&ops[2], "inv", 1, 0, 0);
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), -1);
	assert_int_equal(ops[0].status, -1);
	assert_int_equal(ops[1].status, -1);
	assert_int_equal(ops[2].status, 0);
	assert_false(ops[0].u.conc.admitted);
	assert_int_equal(conc_count(s, "inv"), 0);
	ops[1].u.conc.ttl_s = 60;
	ops[1].u.conc.member = NULL; /* NULL member with a length */
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), -1);
	assert_int_equal(ops[1].status, -1);
	conc_op(&ops[1], AF_OP_CONC_DEL, "inv", NULL, 0, 0);
	ops[1].u.conc.member_len = 1;
	assert_int_equal(af_store_exec(s, ops + 1, 1, af_now_ms()), -1);
	/* the NULL member of length 0 is the empty member */
	ops[1].u.conc.member_len = 0;
	assert_int_equal(af_store_exec(s, ops + 1, 1, af_now_ms()), 0);
	/* at most CONC_MAX CONC_ADDs in one batch */
	for(i = 0; i <= CONC_MAX; i++) {
		snprintf(mem[i], sizeof(mem[i]), "set%d", i);
		conc_op(&ops[i], AF_OP_CONC_ADD, mem[i], "m", 0, 60);
	}
	assert_int_equal(af_store_exec(s, ops, CONC_MAX + 1, af_now_ms()), -1);
	for(i = 0; i <= CONC_MAX; i++)
		assert_int_equal(ops[i].status, -1);
	assert_int_equal(af_store_exec(s, ops, CONC_MAX, af_now_ms()), 0);
	for(i = 0; i < CONC_MAX; i++) {
		assert_true(ops[i].u.conc.admitted);
		assert_true(conc_del(s, mem[i], "m", NULL));
	}
	free_store(s);
}

/* if_new: distinct counting with a pairs window and a distinct window */
static void test_win_if_new(void **state)
{
	af_store_t *s = new_store(0, 0);
	af_op_t ops[4];
	const char *pairs[][2] = {{"A", "B"}, {"A", "B"}, {"A", "C"}, {"A", "B"},
			{"A", "D"}, {"A", "C"}};
	const uint32_t want[] = {1, 1, 2, 2, 3, 3};
	char pk[32];
	int i;

	test_host_set_now(T0);
	for(i = 0; i < 6; i++) {
		snprintf(pk, sizeof(pk), "pair:%s:%s", pairs[i][0], pairs[i][1]);
		win_op(&ops[0], pk, 1, 0, 0);
		win_op(&ops[1], "dist:A", 1, 0, 1);
		assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
		assert_int_equal(ops[1].status, 0);
		assert_int_equal(ops[1].u.win.count, want[i]);
	}
	/* a new pair of another caller counts for that caller only */
	win_op(&ops[0], "pair:E:B", 1, 0, 0);
	win_op(&ops[1], "dist:E", 1, 0, 1);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[1].u.win.count, 1);
	assert_int_equal(win_hit(s, "dist:A", 60, 0), 3);
	/* n > 1 on the pair: new when its count is its n */
	win_op(&ops[0], "pair:big", 3, 0, 0);
	win_op(&ops[1], "dist:big", 1, 0, 1);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[1].u.win.count, 1);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[1].u.win.count, 1);
	/* a pair read (n 0) is never new */
	win_op(&ops[0], "pair:zero", 0, 0, 0);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[1].u.win.count, 1);
	/* when not new, the distinct counter only reads: no ban */
	win_op(&ops[0], "pair:A:B", 1, 0, 0);
	win_op(&ops[1], "dist:A", 1, 0, 1);
	ops[1].u.win.ban_threshold = 1;
	ops[1].u.win.ban_s = 60;
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_false(ops[1].u.win.banned);
	assert_false(ban_get(s, "dist:A", NULL));

	/* a chain: an op whose own if_new kept it from adding is not new,
	 * even when its count equals its n */
	assert_int_equal(win_hit(s, "chain:d", 60, 1), 1);
	assert_int_equal(win_hit(s, "chain:p", 60, 1), 1);
	win_op(&ops[0], "chain:p", 1, 0, 0); /* not new */
	win_op(&ops[1], "chain:d", 1, 0, 1); /* reads 1: its n */
	win_op(&ops[2], "chain:e", 1, 0, 2); /* so reads too */
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
	assert_int_equal(ops[0].u.win.count, 2);
	assert_int_equal(ops[1].u.win.count, 1);
	assert_int_equal(ops[2].status, 0);
	assert_int_equal(ops[2].u.win.count, 0);
	/* all new: all count */
	win_op(&ops[0], "chain:p2", 1, 0, 0);
	win_op(&ops[1], "chain:d2", 1, 0, 1);
	assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
	assert_int_equal(ops[1].u.win.count, 1);
	assert_int_equal(ops[2].u.win.count, 1);

	/* invalid if_new: -1 for that op only */
	{
		const int bad[] = {-1, 3, 4, 100, 1};

		for(i = 0; i < 5; i++) {
			win_op(&ops[0], "inv:p", 1, 0, 0);
			ban_set(s, "inv:b", 60, "x");
			memset(&ops[1], 0, sizeof(ops[1]));
			ops[1].type = AF_OP_BAN_GET; /* not a WIN_HIT */
			ops[1].key = "inv:b";
			ops[1].key_len = 5;
			win_op(&ops[2], "inv:d", 1, 0, bad[i] == 1 ? 2 : bad[i]);
			win_op(&ops[3], "inv:e", 1, 0, 0);
			assert_int_equal(af_store_exec(s, ops, 4, af_now_ms()), -1);
			assert_int_equal(ops[0].status, 0);
			assert_int_equal(ops[2].status, -1);
			assert_int_equal(ops[2].u.win.count, 0);
			assert_int_equal(ops[3].status, 0);
		}
		assert_int_equal(win_hit(s, "inv:d", 60, 0), 0);
	}
	/* a failed op named by if_new: this one reads */
	win_op(&ops[0], "fail:p", 1, 0, 0);
	ops[0].u.win.window_s = 0;
	win_op(&ops[1], "fail:d", 1, 0, 1);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), -1);
	assert_int_equal(ops[0].status, -1);
	assert_int_equal(ops[1].status, 0);
	assert_int_equal(ops[1].u.win.count, 0);
	free_store(s);
}

/*
 * A full store, filled with every kind: counters (WIN_MULTI like the
 * others) go oldest first (nearest expiry), live calls stay, bans go
 * only for bans and are counted in bans_evicted, and what finds no room
 * fails and is counted.
 */
static void test_full_store(void **state)
{
	af_store_t *s = new_store(64, 1);
	const uint32_t win[2] = {60, 3600};
	af_store_stats_t st;
	af_op_t op;
	uint32_t m[3], c = 0;
	char k[32];
	int i, live = 0;

	test_host_set_now(T0);
	for(i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "call-%d", i);
		assert_true(conc_add(s, "cc|alice", k, 0, 7200, &c));
	}
	for(i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "ban%d", i);
		assert_int_equal(ban_set(s, k, 1000 + i, "x"), 0);
	}
	/* 200 subjects in 49 free entries: the newest stay */
	for(i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "rn|w|c%d|n", i);
		test_host_advance(10);
		wm_hit(s, k, 1, 60, 3600, 0, m);
		assert_int_equal(m[1], 1);
		assert_true(stats(s).entries <= 64);
	}
	st = stats(s);
	assert_int_equal(st.entries, 64);
	assert_int_equal(st.evictions, 200 - 49);
	assert_int_equal(st.bans_evicted, 0);
	for(i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "rn|w|c%d|n", i);
		wm_hit(s, k, 0, 60, 3600, 0, m);
		assert_int_equal(m[1], i >= 200 - 49);
	}
	assert_int_equal(conc_count(s, "cc|alice"), 4);
	/* bans: the counters go first, then the bans ending soonest */
	for(i = 0; i < 60; i++) {
		snprintf(k, sizeof(k), "new%d", i);
		assert_int_equal(ban_set(s, k, 2000, "x"), 0);
	}
	st = stats(s);
	assert_int_equal(st.entries, 64);
	assert_int_equal(st.bans_evicted, 10 + 60 - 59);
	assert_int_equal(st.evictions, 200 - 49 + 49 + st.bans_evicted);
	for(i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "ban%d", i);
		assert_false(ban_get(s, k, NULL));
	}
	for(i = 0; i < 60; i++) {
		snprintf(k, sizeof(k), "new%d", i);
		live += ban_get(s, k, NULL);
	}
	assert_int_equal(live, 59);
	assert_int_equal(conc_count(s, "cc|alice"), 4);
	/* only bans and live calls: a counter finds no room */
	wm_op(&op, "rn|w|late|n", 1, 2, win);
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), -1);
	assert_int_equal(op.status, -1);
	assert_int_equal(stats(s).failures, st.failures + 1);
	/* the calls' end and expiry make room again */
	for(i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "call-%d", i);
		assert_true(conc_del(s, "cc|alice", k, NULL));
	}
	wm_hit(s, "rn|w|late|n", 1, 60, 3600, 0, m);
	assert_int_equal(m[0], 1);
	free_store(s);
}

/*
 * An insert into a large full stripe looks at a sample of its entries,
 * not all: the oldest of the sample goes, never one of the newest
 * (counters of the same windows: a WIN_MULTI expires by the ms).
 */
static void test_evict_sample(void **state)
{
	af_store_t *s = new_store(4096, 1);
	af_store_stats_t st;
	uint32_t m[3];
	char k[32];
	int i, old = 0;

	test_host_set_now(T0);
	for(i = 0; i < 5096; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		test_host_advance(1);
		wm_hit(s, k, 1, 3600, 0, 0, m);
		assert_int_equal(m[0], 1);
	}
	st = stats(s);
	assert_int_equal(st.entries, 4096);
	assert_int_equal(st.evictions, 1000);
	for(i = 0; i < 5096; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		wm_hit(s, k, 0, 3600, 0, 0, m);
		if(i >= 4096)
			assert_int_equal(m[0], 1);
		else
			old += m[0];
	}
	assert_int_equal(old, 4096 - 1000);
	free_store(s);
}

/* WIN_MULTI slices count in 16 bits in shm: a slice saturates */
static void test_multi_saturates(void **state)
{
	af_store_t *s = new_store(0, 0);
	uint32_t m[3];

	test_host_set_now(T0);
	wm_hit(s, "sat", 65000, 16, 0, 0, m);
	assert_int_equal(m[0], 65000);
	wm_hit(s, "sat", 1000, 16, 0, 0, m);
	assert_int_equal(m[0], 65535);
	test_host_advance(1000);
	wm_hit(s, "sat", UINT32_MAX, 16, 0, 0, m);
	assert_int_equal(m[0], 2 * 65535);
	free_store(s);
}

/* sets and members are never evicted; no room fails cleanly */
static void test_conc_capacity(void **state)
{
	af_store_t *s = new_store(8, 1);
	af_op_t ops[2];
	af_store_stats_t st;
	char k[32];
	uint32_t c;
	int i;

	test_host_set_now(T0);
	for(i = 0; i < 8; i++) {
		snprintf(k, sizeof(k), "w%d", i);
		test_host_advance(1);
		assert_int_equal(win_hit(s, k, 3600, 1), 1);
	}
	/* a CONC_ADD may evict windows */
	for(i = 0; i < 3; i++) {
		snprintf(k, sizeof(k), "m%d", i);
		assert_true(conc_add(s, "g", k, 10, 3600, &c));
	}
	assert_int_equal(c, 3);
	assert_int_equal(stats(s).evictions, 4);
	/* windows evict windows only, however soon the members expire */
	assert_true(conc_add(s, "short", "x", 0, 1, NULL));
	for(i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "x%d", i);
		assert_int_equal(win_hit(s, k, 3600, 1), 1);
	}
	assert_int_equal(conc_count(s, "g"), 3);
	assert_int_equal(conc_count(s, "short"), 1);
	assert_true(conc_del(s, "short", "x", NULL));
	/* bans evict windows, then bans, never members */
	for(i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "b%d", i);
		assert_int_equal(ban_set(s, k, 100 + i, "x"), 0);
	}
	assert_int_equal(stats(s).entries, 8);
	assert_int_equal(ban_set(s, "b4", 1000, "x"), 0);
	assert_false(ban_get(s, "b0", NULL));
	assert_int_equal(conc_count(s, "g"), 3);
	/* only bans and members: a window fails, a CONC_ADD fails, status -1
	 * for each op of the group, nothing changed */
	st = stats(s);
	snprintf(k, sizeof(k), "wx");
	{
		af_op_t w = {.type = AF_OP_WIN_HIT, .key = "wx", .key_len = 2};

		w.u.win.window_s = 60;
		w.u.win.n = 1;
		assert_int_equal(af_store_exec(s, &w, 1, af_now_ms()), -1);
	}
	conc_op(&ops[0], AF_OP_CONC_ADD, "g", "m3", 10, 3600);
	assert_int_equal(af_store_exec(s, ops, 1, af_now_ms()), -1);
	assert_int_equal(ops[0].status, -1);
	assert_false(ops[0].u.conc.admitted);
	assert_int_equal(ops[0].u.conc.count, 3);
	conc_op(&ops[0], AF_OP_CONC_ADD, "g", "m3", 10, 3600);
	conc_op(&ops[1], AF_OP_CONC_ADD, "h", "m3", 10, 3600);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), -1);
	assert_int_equal(ops[0].status, -1);
	assert_int_equal(ops[1].status, -1);
	assert_int_equal(stats(s).entries, 8);
	assert_int_equal(stats(s).evictions, st.evictions);
	assert_int_equal(stats(s).failures, st.failures + 4);
	/* one free entry: the new set "h" is made, its member has no room;
	 * both go, and "g" is not added to */
	assert_true(ban_del(s, "b1"));
	conc_op(&ops[0], AF_OP_CONC_ADD, "h", "m3", 10, 3600);
	conc_op(&ops[1], AF_OP_CONC_ADD, "g", "m3", 10, 3600);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), -1);
	assert_int_equal(ops[0].status, -1);
	assert_int_equal(ops[0].u.conc.count, 0);
	assert_int_equal(ops[1].u.conc.count, 3);
	/* and the other way round: g's member taken back */
	conc_op(&ops[0], AF_OP_CONC_ADD, "g", "m3", 10, 3600);
	conc_op(&ops[1], AF_OP_CONC_ADD, "h", "m3", 10, 3600);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), -1);
	assert_int_equal(ops[0].u.conc.count, 3);
	assert_int_equal(ops[1].u.conc.count, 0);
	assert_int_equal(stats(s).entries, 7);
	assert_int_equal(conc_count(s, "g"), 3);
	assert_int_equal(conc_count(s, "h"), 0);
	/* the one entry is enough for a member of an existing set */
	assert_true(conc_add(s, "g", "m3", 10, 3600, &c));
	assert_int_equal(c, 4);
	assert_int_equal(stats(s).entries, 8);
	/* and nothing is lost: every member leaves, the set goes */
	for(i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "m%d", i);
		assert_true(conc_del(s, "g", k, NULL));
	}
	assert_int_equal(stats(s).entries, 3);
	free_store(s);
}

typedef struct conc_list_acc {
	int n;
	int stop_after;
	char seen[8][128];
	uint32_t count[8];
} conc_list_acc_t;

static int conc_list_cb(const char *key, size_t key_len, uint32_t count,
		void *arg)
{
	conc_list_acc_t *acc = arg;

	assert_true(key_len < sizeof(acc->seen[0]));
	if(acc->n < 8) {
		memcpy(acc->seen[acc->n], key, key_len);
		acc->seen[acc->n][key_len] = '\0';
		acc->count[acc->n] = count;
	}
	acc->n++;
	return acc->stop_after && acc->n >= acc->stop_after;
}

/* The count conc_list gave for key in acc, -1 when not listed. */
static int conc_listed(const conc_list_acc_t *acc, const char *key)
{
	int i;

	for(i = 0; i < acc->n && i < 8; i++)
		if(strcmp(acc->seen[i], key) == 0)
			return (int)acc->count[i];
	return -1;
}

/* conc_list lists the live sets under a prefix, with their counts */
static void test_conc_list(void **state)
{
	af_store_t *s = new_store(0, 4);
	conc_list_acc_t acc;
	char longk[150];

	test_host_set_now(T0);
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
	/* not sets */
	assert_int_equal(ban_set(s, "conc:caller:ban", 60, "x"), 0);
	assert_int_equal(win_hit(s, "conc:caller:win", 60, 1), 1);
	test_host_advance(5000); /* eve's call is over */

	memset(&acc, 0, sizeof(acc));
	assert_int_equal(s->ops->conc_list(s, "conc:caller:", 12, conc_list_cb,
							 &acc, af_now_ms()),
			0);
	assert_int_equal(acc.n, 2);
	assert_int_equal(conc_listed(&acc, "conc:caller:alice"), 2);
	assert_int_equal(conc_listed(&acc, "conc:caller:bob"), 1);
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(
			s->ops->conc_list(s, NULL, 0, conc_list_cb, &acc, af_now_ms()),
			0);
	assert_int_equal(acc.n, 4);
	assert_int_equal(conc_listed(&acc, "conc:global"), 1);
	longk[AF_KEY_MAX] = '\0'; /* listed as its first AF_KEY_MAX bytes */
	assert_int_equal(conc_listed(&acc, longk), 1);
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(s->ops->conc_list(s, longk, AF_KEY_MAX, conc_list_cb,
							 &acc, af_now_ms()),
			0);
	assert_int_equal(acc.n, 1);
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(s->ops->conc_list(s, "conc:caller:alicex", 18,
							 conc_list_cb, &acc, af_now_ms()),
			0);
	assert_int_equal(acc.n, 0);
	memset(&acc, 0, sizeof(acc));
	acc.stop_after = 1;
	assert_int_equal(
			s->ops->conc_list(s, "", 0, conc_list_cb, &acc, af_now_ms()), 0);
	assert_int_equal(acc.n, 1);
	assert_int_equal(s->ops->conc_list(s, NULL, 3, conc_list_cb, &acc,
							 af_now_ms()),
			-1);
	/* eve's set was pruned on the way: it is gone after gc */
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 3 + 2 + 2 + 2 + 2);
	free_store(s);
}

/* ---- a randomized test against a reference model ---- */

#define M_SETS 6
#define M_MEMS 24

typedef struct model {
	uint64_t exp[M_SETS][M_MEMS]; /* member expiry, 0: not in */
	char set_key[M_SETS][160];
	char mem_key[M_MEMS][160];
	uint64_t rng;
} model_t;

static uint32_t m_rand(model_t *md, uint32_t n)
{
	md->rng ^= md->rng << 13;
	md->rng ^= md->rng >> 7;
	md->rng ^= md->rng << 17;
	return (uint32_t)(md->rng % n);
}

/* live members of set in the model at now */
static uint32_t m_count(const model_t *md, int set, uint64_t now)
{
	uint32_t c = 0;
	int i;

	for(i = 0; i < M_MEMS; i++)
		c += md->exp[set][i] > now;
	return c;
}

/* Checks every set of the model against conc_list and, when exact, the
 * store's entry count (after a full gc) against the live sets and
 * members, and the gate window when it is live. */
static void m_check_all(af_store_t *s, model_t *md, uint64_t now, int exact)
{
	conc_list_acc_t acc;
	uint64_t entries = win_hit(s, "gate", 3600, 0) > 0;
	uint32_t c;
	int i;

	memset(&acc, 0, sizeof(acc));
	assert_int_equal(
			s->ops->conc_list(s, "set", 3, conc_list_cb, &acc, now), 0);
	for(i = 0; i < M_SETS; i++) {
		c = m_count(md, i, now);
		entries += c ? c + 1 : 0;
		if(strlen(md->set_key[i]) < sizeof(acc.seen[0]) - 1
				&& strlen(md->set_key[i]) <= AF_KEY_MAX)
			assert_int_equal(conc_listed(&acc, md->set_key[i]),
					c ? (int)c : -1);
		assert_int_equal(conc_count(s, md->set_key[i]), c);
	}
	if(exact) {
		s->ops->gc(s, now, 0);
		assert_int_equal(stats(s).entries, entries);
	}
}

/* One random run of nops ops on a store of max_entries in stripes, with
 * filler windows and bans when filler is set. */
static void m_run(uint64_t seed, uint32_t max_entries, uint32_t stripes,
		int filler, int nops)
{
	af_store_t *s = new_store(max_entries, stripes);
	model_t *md = calloc(1, sizeof(*md));
	af_op_t ops[3];
	uint64_t now = T0;
	uint32_t want, lim[2], ttl[2];
	int i, j, a, b, m, r, present, full[2], admit, refused = 0, failed = 0;
	char fk[32];

	assert_non_null(md);
	md->rng = seed;
	for(i = 0; i < M_SETS; i++) {
		if(i == M_SETS - 1) {
			memset(md->set_key[i], 'L', 150);
			memcpy(md->set_key[i], "set-long", 8);
		} else {
			snprintf(md->set_key[i], sizeof(md->set_key[i]), "set%d", i);
		}
	}
	for(i = 0; i < M_MEMS; i++) {
		if(i == M_MEMS - 1) {
			memset(md->mem_key[i], 'M', 130);
		} else if(i == M_MEMS - 2) {
			memset(md->mem_key[i], 'M', 129);
		} else {
			snprintf(md->mem_key[i], sizeof(md->mem_key[i]),
					"%d-call@10.0.0.1", i);
		}
	}
	test_host_set_now(now);
	for(i = 0; i < nops; i++) {
		r = m_rand(md, 100);
		a = m_rand(md, M_SETS);
		m = m_rand(md, M_MEMS);
		if(r < 35) {
			/* ADD to one set */
			lim[0] = m_rand(md, 7);
			ttl[0] = 1 + m_rand(md, 20);
			conc_op(&ops[0], AF_OP_CONC_ADD, md->set_key[a], md->mem_key[m],
					lim[0], ttl[0]);
			r = af_store_exec(s, ops, 1, now);
			present = md->exp[a][m] > now;
			want = m_count(md, a, now);
			full[0] = !present && lim[0] && want >= lim[0];
			if(r < 0) {
				assert_true(filler);
				assert_int_equal(ops[0].status, -1);
				assert_false(full[0]);
				failed++;
			} else {
				assert_int_equal(ops[0].u.conc.full, full[0]);
				assert_int_equal(ops[0].u.conc.admitted, !full[0]);
				if(!full[0]) {
					md->exp[a][m] = now + ttl[0] * 1000ULL;
					want = m_count(md, a, now);
				} else {
					refused++;
				}
			}
			assert_false(ops[0].u.conc.admitted && r < 0);
			assert_int_equal(ops[0].u.conc.count, want);
		} else if(r < 50) {
			/* ADD one member to two sets, sometimes gated */
			b = (a + 1 + m_rand(md, M_SETS - 1)) % M_SETS;
			for(j = 0; j < 2; j++) {
				lim[j] = m_rand(md, 7);
				ttl[j] = 1 + m_rand(md, 20);
				conc_op(&ops[j], AF_OP_CONC_ADD, md->set_key[j ? b : a],
						md->mem_key[m], lim[j], ttl[j]);
				present = md->exp[j ? b : a][m] > now;
				full[j] = !present && lim[j]
						  && m_count(md, j ? b : a, now) >= lim[j];
			}
			win_op(&ops[2], "gate", 0, 0, 0);
			ops[2].u.win.window_s = 3600;
			if(m_rand(md, 4) == 0) {
				ops[2].u.win.gate = 1 + m_rand(md, 1000);
				ops[2].u.win.n = 1;
			}
			r = af_store_exec(s, ops, 3, now);
			admit = !full[0] && !full[1]
					&& !(ops[2].u.win.gate
							&& ops[2].u.win.count > ops[2].u.win.gate);
			if(r < 0 && ops[0].status == -1) {
				assert_true(filler);
				assert_int_equal(ops[1].status, -1);
				admit = 0;
				failed++;
			} else {
				assert_int_equal(ops[0].status, 0);
				assert_int_equal(ops[0].u.conc.full, full[0]);
				assert_int_equal(ops[1].u.conc.full, full[1]);
			}
			assert_int_equal(ops[0].u.conc.admitted, admit);
			assert_int_equal(ops[1].u.conc.admitted, admit);
			if(admit) {
				md->exp[a][m] = now + ttl[0] * 1000ULL;
				md->exp[b][m] = now + ttl[1] * 1000ULL;
			} else {
				refused++;
			}
			assert_int_equal(ops[0].u.conc.count, m_count(md, a, now));
			assert_int_equal(ops[1].u.conc.count, m_count(md, b, now));
		} else if(r < 70) {
			conc_op(&ops[0], AF_OP_CONC_DEL, md->set_key[a], md->mem_key[m],
					0, 0);
			assert_int_equal(af_store_exec(s, ops, 1, now), 0);
			assert_int_equal(ops[0].u.conc.found, md->exp[a][m] > now);
			md->exp[a][m] = 0;
			assert_int_equal(ops[0].u.conc.count, m_count(md, a, now));
		} else if(r < 78) {
			conc_op(&ops[0], AF_OP_CONC_COUNT, md->set_key[a], NULL, 0, 0);
			assert_int_equal(af_store_exec(s, ops, 1, now), 0);
			assert_int_equal(ops[0].u.conc.count, m_count(md, a, now));
		} else if(r < 90) {
			now += m_rand(md, 3) == 0 ? 1000 * m_rand(md, 4)
									   : m_rand(md, 1500);
			test_host_set_now(now);
		} else if(r < 94) {
			s->ops->gc(s, now, m_rand(md, 4));
		} else if(filler) {
			snprintf(fk, sizeof(fk), "f%u", m_rand(md, 1000));
			if(m_rand(md, 4) == 0) {
				ban_set(s, fk, 1 + m_rand(md, 10), "f");
			} else {
				win_op(&ops[0], fk, 1, 0, 0);
				ops[0].u.win.window_s = 1 + m_rand(md, 30);
				af_store_exec(s, ops, 1, now);
			}
		} else if(m_rand(md, 10) == 0) {
			m_check_all(s, md, now, 1);
		}
	}
	m_check_all(s, md, now, !filler);
	/* the run saw refusals (and failures when filled) */
	assert_true(refused > 0);
	if(filler)
		print_message("model run (filled store): %d refused, %d failed\n",
				refused, failed);
	/* all members leave: nothing is left */
	for(a = 0; a < M_SETS; a++)
		for(m = 0; m < M_MEMS; m++)
			conc_del(s, md->set_key[a], md->mem_key[m], NULL);
	memset(md->exp, 0, sizeof(md->exp));
	m_check_all(s, md, now, !filler);
	free(md);
	free_store(s);
}

/* random ops against a simple model: counts, admissions, expiry, gc */
static void test_conc_model(void **state)
{
	m_run(0x9e3779b97f4a7c15ULL, 4096, 8, 0, 20000);
	m_run(12345, 4096, 1, 0, 20000);
	/* a small store churned by windows and bans: sweeps, no room */
	m_run(777, 64, 2, 1, 20000);
	m_run(4242, 32, 1, 1, 20000);
}

/* ---- concurrency: threads and processes on one set ---- */

#define C_WORKERS 4
#define C_ITERS 2000
#define C_LIMIT 3

typedef struct conc_arg {
	af_store_t *s;
	int id;
	long *live; /* members admitted and not yet deleted, all workers */
	int bad;
	int admitted;
	int refused;
} conc_arg_t;

/*
 * One worker: adds a call to "global" (limit C_LIMIT), every other time
 * with its caller's set (limit 1, two workers per caller) and a WIN_HIT
 * that may ban another key (two locks) in the same batch; checks the
 * counts, then deletes it. Counts problems in a->bad (no cmocka asserts
 * in threads or children).
 */
static void conc_work(conc_arg_t *a)
{
	char mem[32], caller[16];
	af_op_t ops[3];
	int i, both, n;
	long v;

	snprintf(caller, sizeof(caller), "caller%d", a->id % 2);
	for(i = 0; i < C_ITERS; i++) {
		snprintf(mem, sizeof(mem), "w%d-%d", a->id, i);
		both = i % 2;
		conc_op(&ops[0], AF_OP_CONC_ADD, "global", mem, C_LIMIT, 3600);
		conc_op(&ops[1], AF_OP_CONC_ADD, caller, mem, 1, 3600);
		win_op(&ops[2], "rate", 1, 0, 0);
		ops[2].u.win.ban_threshold = UINT32_MAX;
		ops[2].u.win.ban_s = 60;
		ops[2].u.win.ban_key = "rate-ban";
		ops[2].u.win.ban_key_len = 8;
		n = both ? 3 : 1;
		if(af_store_exec(a->s, ops, n, af_now_ms()) != 0)
			a->bad++;
		if(ops[0].u.conc.count > C_LIMIT || ops[1].u.conc.count > 1)
			a->bad++;
		if(both && ops[0].u.conc.admitted != ops[1].u.conc.admitted)
			a->bad++;
		if(!ops[0].u.conc.admitted) {
			a->refused++;
			continue;
		}
		a->admitted++;
		v = __atomic_add_fetch(a->live, 1, __ATOMIC_SEQ_CST);
		if(v > C_LIMIT)
			a->bad++;
		conc_op(&ops[2], AF_OP_CONC_COUNT, "global", NULL, 0, 0);
		if(af_store_exec(a->s, ops + 2, 1, af_now_ms()) != 0
				|| ops[2].u.conc.count < 1 || ops[2].u.conc.count > C_LIMIT)
			a->bad++;
		__atomic_sub_fetch(a->live, 1, __ATOMIC_SEQ_CST);
		conc_op(&ops[0], AF_OP_CONC_DEL, "global", mem, 0, 0);
		conc_op(&ops[1], AF_OP_CONC_DEL, caller, mem, 0, 0);
		if(af_store_exec(a->s, ops, 1 + both, af_now_ms()) != 0
				|| !ops[0].u.conc.found || (both && !ops[1].u.conc.found))
			a->bad++;
	}
}

static void *conc_thr(void *p)
{
	conc_work(p);
	return p;
}

/* Checks the store after the workers: every set empty and gone. */
static void conc_check_end(af_store_t *s)
{
	assert_int_equal(conc_count(s, "global"), 0);
	assert_int_equal(conc_count(s, "caller0"), 0);
	assert_int_equal(conc_count(s, "caller1"), 0);
	/* the rate window only */
	assert_int_equal(stats(s).entries, 1);
	assert_int_equal(stats(s).failures, 0);
}

/* threads on one set: never over the limit, 0 at the end */
static void test_conc_threads(void **state)
{
	af_store_t *s = new_store(4096, 64);
	pthread_t t[C_WORKERS];
	conc_arg_t a[C_WORKERS];
	long live = 0;
	int i, admitted = 0, refused = 0;

	test_host_set_now(T0);
	for(i = 0; i < C_WORKERS; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].s = s;
		a[i].id = i;
		a[i].live = &live;
		assert_int_equal(pthread_create(&t[i], NULL, conc_thr, &a[i]), 0);
	}
	for(i = 0; i < C_WORKERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].bad, 0);
		admitted += a[i].admitted;
		refused += a[i].refused;
	}
	assert_int_equal(admitted + refused, C_WORKERS * C_ITERS);
	assert_true(admitted > 0);
	print_message("conc threads: %d admitted, %d refused\n", admitted,
			refused);
	conc_check_end(s);
	free_store(s);
}

/* forked workers on one set: never over the limit, 0 at the end */
static void test_conc_fork(void **state)
{
	af_store_shm_cfg_t cfg = {.max_entries = 4096, .stripes = 64};
	af_store_t *s;
	long *sh = shared_page(); /* [0] live, [1 + i] admitted by child i */
	pid_t pid[C_WORKERS];
	int i, wst;
	long admitted = 0;

	af_host_set(&mm_host);
	s = af_store_shm_new(&cfg);
	assert_non_null(s);
	for(i = 0; i < C_WORKERS; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if(pid[i] == 0) {
			conc_arg_t a = {.s = s, .id = i, .live = &sh[0]};

			conc_work(&a);
			sh[1 + i] = a.admitted;
			_exit(a.bad ? 1 : 0);
		}
	}
	for(i = 0; i < C_WORKERS; i++) {
		assert_int_equal(waitpid(pid[i], &wst, 0), pid[i]);
		assert_true(WIFEXITED(wst));
		assert_int_equal(WEXITSTATUS(wst), 0);
		admitted += sh[1 + i];
	}
	assert_true(admitted > 0);
	conc_check_end(s);
	s->ops->destroy(s);
	assert_int_equal(mm_live, 0);
	munmap(sh, 4096);
	test_host_init();
	assert_int_equal(test_host_shm_live(), 0);
}

#define X_WORKERS 8
#define X_TRIES 40
#define X_LIMIT 37

typedef struct exact_arg {
	af_store_t *s;
	int id;
	volatile long *go;
	int admitted;
	int bad;
} exact_arg_t;

/* One worker of the exactness test: waits for go, then tries to add
 * X_TRIES distinct members to "exact", never deleting. */
static void exact_work(exact_arg_t *a)
{
	char mem[32];
	af_op_t op;
	int i;

	while(!__atomic_load_n(a->go, __ATOMIC_ACQUIRE))
		;
	for(i = 0; i < X_TRIES; i++) {
		snprintf(mem, sizeof(mem), "x%d-%d", a->id, i);
		conc_op(&op, AF_OP_CONC_ADD, "exact", mem, X_LIMIT, 3600);
		if(af_store_exec(a->s, &op, 1, af_now_ms()) != 0
				|| op.u.conc.count > X_LIMIT
				|| op.u.conc.full == op.u.conc.admitted)
			a->bad++;
		a->admitted += op.u.conc.admitted;
	}
}

static void *exact_thr(void *p)
{
	exact_work(p);
	return p;
}

/* racing workers with distinct members: exactly the limit gets in */
static void test_conc_exact(void **state)
{
	af_store_shm_cfg_t cfg = {.max_entries = 4096, .stripes = 8};
	af_store_t *s = new_store(4096, 8);
	pthread_t t[X_WORKERS];
	exact_arg_t a[X_WORKERS];
	long go = 0, *sh;
	pid_t pid[X_WORKERS];
	int i, wst, admitted = 0;

	/* threads */
	test_host_set_now(T0);
	for(i = 0; i < X_WORKERS; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].s = s;
		a[i].id = i;
		a[i].go = &go;
		assert_int_equal(pthread_create(&t[i], NULL, exact_thr, &a[i]), 0);
	}
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for(i = 0; i < X_WORKERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].bad, 0);
		admitted += a[i].admitted;
	}
	assert_int_equal(admitted, X_LIMIT);
	assert_int_equal(conc_count(s, "exact"), X_LIMIT);
	assert_int_equal(stats(s).entries, X_LIMIT + 1);
	free_store(s);

	/* processes */
	sh = shared_page(); /* [0] go, [1 + i] admitted by child i */
	af_host_set(&mm_host);
	s = af_store_shm_new(&cfg);
	assert_non_null(s);
	for(i = 0; i < X_WORKERS; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if(pid[i] == 0) {
			exact_arg_t c = {.s = s, .id = i, .go = &sh[0]};

			exact_work(&c);
			sh[1 + i] = c.admitted;
			_exit(c.bad ? 1 : 0);
		}
	}
	__atomic_store_n(&sh[0], 1, __ATOMIC_RELEASE);
	admitted = 0;
	for(i = 0; i < X_WORKERS; i++) {
		assert_int_equal(waitpid(pid[i], &wst, 0), pid[i]);
		assert_true(WIFEXITED(wst));
		assert_int_equal(WEXITSTATUS(wst), 0);
		admitted += sh[1 + i];
	}
	assert_int_equal(admitted, X_LIMIT);
	assert_int_equal(conc_count(s, "exact"), X_LIMIT);
	s->ops->destroy(s);
	assert_int_equal(mm_live, 0);
	munmap(sh, 4096);
	test_host_init();
	assert_int_equal(test_host_shm_live(), 0);
}

/* Monotonic nanoseconds. */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#define B_LIVE 100
#define B_ITERS 200000

/* prints ns per CONC_ADD + CONC_DEL with B_LIVE calls in the set (not
 * asserted; under ASan the figure is several times the real one) */
static void test_conc_bench(void **state)
{
	af_store_t *s = new_store(0, 0);
	char mem[B_LIVE][32];
	af_op_t op;
	uint64_t t;
	int i, j;

	test_host_set_now(T0);
	for(i = 0; i < B_LIVE; i++) {
		snprintf(mem[i], sizeof(mem[i]), "%08x-bench@192.0.2.1", i * 7919);
		assert_true(conc_add(s, "conc:global", mem[i], 0, 3600, NULL));
	}
	t = mono_ns();
	for(i = 0; i < B_ITERS; i++) {
		j = i % B_LIVE;
		conc_op(&op, AF_OP_CONC_DEL, "conc:global", mem[j], 0, 0);
		af_store_exec(s, &op, 1, T0);
		if(!op.u.conc.found)
			break;
		conc_op(&op, AF_OP_CONC_ADD, "conc:global", mem[j], 1000, 3600);
		af_store_exec(s, &op, 1, T0);
		if(!op.u.conc.admitted)
			break;
	}
	t = mono_ns() - t;
	assert_int_equal(i, B_ITERS);
	print_message("conc: %.0f ns per CONC_ADD + CONC_DEL (%d live)\n",
			(double)t / B_ITERS, B_LIVE);
	assert_int_equal(conc_count(s, "conc:global"), B_LIVE);
	free_store(s);
}

/* forget: a caller, a number, a source, an account; the rest stays */
static void test_forget(void **state)
{
	af_store_t *s = new_store(4096, 4);

	test_host_set_now(T0);
	fs_run(s);
	fs_bad_subjects();
	free_store(s);
	test_host_set_now(0);
}

/* dry runs answer what the real batch answers and change nothing */
static void test_dry_run(void **state)
{
	af_store_t *s = new_store(4096, 4);

	test_host_set_now(T0);
	ds_run(s);
	free_store(s);
	test_host_set_now(0);
}

/* Figures of n on key's first counter over windows of 60, 30 and 15 s
 * (the largest record: a slot per window); its first count in the
 * window of 60 s, which the others equal. */
static uint32_t fig_hit(af_store_t *s, const char *key, uint32_t n)
{
	af_op_t op = {.type = AF_OP_FIG_MULTI, .key = key, .key_len = strlen(key)};
	int j;

	op.u.fig.nwin = 3;
	op.u.fig.w[0].window_s = 60;
	op.u.fig.w[1].window_s = 30;
	op.u.fig.w[2].window_s = 15;
	op.u.fig.n[0] = n;
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	for(j = 1; j < 3; j++)
		assert_int_equal(op.u.fig.w[j].count[0], op.u.fig.w[0].count[0]);
	return op.u.fig.w[0].count[0];
}

/* Key i of a store test: "<tag><i>" padded with 'x' to len bytes (len
 * over AF_KEY_MAX: a long key, distinct after its first AF_KEY_MAX). */
static void arena_key(char *k, size_t size, const char *tag, int i,
		size_t len)
{
	size_t n = (size_t)snprintf(k, size, "%s%d", tag, i);

	if(len >= size)
		len = size - 1;
	if(n < len) {
		memmove(k + len - n, k, n);
		memset(k, 'x', len - n);
		k[len] = '\0';
	}
}

/*
 * Records take their own size: a store filled far beyond its room with
 * every kind (keys of 2 to 140 bytes, bans of short and long reasons,
 * windows, WIN_MULTI of 1 to 3 windows, histories growing to 4 sources,
 * figures) evicts the oldest counters and histories, keeps every ban
 * intact, reads back the newest of each kind and fails nothing.
 */
static void test_arena_mixed(void **state)
{
	af_store_t *s = new_store(512, 4);
	af_store_stats_t st;
	af_ban_t b;
	af_op_t op;
	char k[160], reason[AF_BAN_REASON];
	uint32_t m[3];
	int i, j;

	test_host_set_now(T0);
	for(i = 0; i < 4000; i++) {
		test_host_advance(1);
		arena_key(k, sizeof(k), "k", i, (size_t)(i % 8) * 20);
		switch(i % 5) {
			case 0:
				if(i % 40 == 0) {
					memset(reason, 'a' + i % 26, sizeof(reason));
					reason[(i / 40) % AF_BAN_REASON] = '\0';
					assert_int_equal(ban_set(s, k, 3600, reason), 0);
				} else {
					assert_int_equal(win_hit(s, k, 60, 1 + i % 3), 1 + i % 3);
				}
				break;
			case 1:
				wm_hit(s, k, 2, 60, i % 2 ? 3600 : 0, i % 4 == 1 ? 86400 : 0,
						m);
				assert_int_equal(m[0], 2);
				break;
			case 2:
				for(j = 0; j < 1 + i % 4; j++)
					hist_push(s, k, (uint8_t)j, "DE", 600, &op);
				assert_int_equal(op.u.hist.n_prev, i % 4);
				break;
			default:
				assert_int_equal(fig_hit(s, k, 5), 5);
				break;
		}
		assert_true(stats(s).entries <= 512);
	}
	st = stats(s);
	assert_true(st.evictions > 0);
	assert_int_equal(st.bans_evicted, 0);
	assert_int_equal(st.failures, 0);
	/* every ban, its reason at its length */
	for(i = 0; i < 4000; i += 40) {
		arena_key(k, sizeof(k), "k", i, (size_t)(i % 8) * 20);
		assert_int_equal(ban_get(s, k, &b), 1);
		assert_int_equal(strlen(b.reason), (size_t)(i / 40) % AF_BAN_REASON);
		assert_true(b.reason[0] == '\0' || b.reason[0] == 'a' + i % 26);
		assert_int_equal(b.until_ms - b.since_ms, 3600000);
	}
	/* the newest of each kind: evicted (nearest expiry first: the 60 s
	 * windows and figures before histories and longer windows) or
	 * intact */
	for(i = 3900, j = 0; i < 4000; i++) {
		arena_key(k, sizeof(k), "k", i, (size_t)(i % 8) * 20);
		switch(i % 5) {
			case 0:
				if(i % 40 == 0)
					continue;
				m[0] = win_hit(s, k, 60, 0);
				assert_true(m[0] == 0 || m[0] == 1 + (uint32_t)i % 3);
				j += m[0] != 0;
				break;
			case 1:
				wm_hit(s, k, 0, 60, i % 2 ? 3600 : 0,
						i % 4 == 1 ? 86400 : 0, m);
				assert_true(m[0] == 0 || m[0] == 2);
				assert_int_equal(m[1], i % 2 ? m[0] : 0);
				j += m[0] != 0;
				break;
			case 2:
				hist_read(s, k, 0, "DE", 600, &op);
				assert_true(op.u.hist.n_prev == 0
							|| op.u.hist.n_prev == 1 + i % 4);
				j += op.u.hist.n_prev != 0;
				break;
			default:
				m[0] = fig_hit(s, k, 0);
				assert_true(m[0] == 0 || m[0] == 5);
				j += m[0] != 0;
				break;
		}
	}
	assert_true(j > 20);
	free_store(s);
}

/* Fills s with figures of 140-byte keys (the largest records) from key
 * number from on until the first eviction; returns how many it held. */
static int arena_fill_figs(af_store_t *s, int from)
{
	char k[160];
	uint64_t ev = stats(s).evictions;
	int i;

	for(i = from; stats(s).evictions == ev; i++) {
		arena_key(k, sizeof(k), "f", i, 140);
		test_host_advance(1);
		assert_int_equal(fig_hit(s, k, 1), 1);
	}
	return i - from - 1;
}

/*
 * No arena space is lost: once everything has expired and gc has run,
 * the free blocks have merged back, and the store holds as many of the
 * largest records as a new one; stats count what expired.
 */
static void test_arena_reuse(void **state)
{
	af_store_t *s = new_store(64, 1);
	af_op_t op;
	char k[160];
	int n0, i, j;

	test_host_set_now(T0);
	n0 = arena_fill_figs(s, 0);
	assert_true(n0 > 8);
	assert_true(n0 < 64); /* bound by bytes, not by entries */
	/* small and large, in a mixed order, expiring at various times */
	for(i = 0; i < 300; i++) {
		test_host_advance(1);
		arena_key(k, sizeof(k), "m", i, (size_t)(i * 37) % 130);
		if(i % 3 == 0)
			win_hit(s, k, 1 + i % 50, 1);
		else if(i % 3 == 1 || i % 10)
			for(j = 0; j <= i % 4; j++)
				hist_push(s, k, (uint8_t)j, "FR", 1 + i % 40, &op);
		else
			assert_int_equal(ban_set(s, k, 1 + i % 30, "x"), 0);
	}
	test_host_advance(3600 * 1000);
	s->ops->gc(s, af_now_ms(), 0);
	assert_int_equal(stats(s).entries, 0);
	assert_true(stats(s).expired > 0);
	assert_int_equal(arena_fill_figs(s, 1000), n0);
	assert_int_equal(stats(s).failures, 0);
	/* calls of Call-IDs of many lengths come and go: their records are
	 * reused or merged back, no space is lost to them */
	test_host_advance(3600 * 1000);
	s->ops->gc(s, af_now_ms(), 0);
	for(i = 0; i < 2000; i++) {
		arena_key(k, sizeof(k), "call", i, (size_t)(i * 13) % 120);
		assert_int_equal(conc_add(s, "set", k, 0, 60, NULL), 1);
		if(i >= 5) {
			arena_key(k, sizeof(k), "call", i - 5, (size_t)((i - 5) * 13) % 120);
			assert_int_equal(conc_del(s, "set", k, NULL), 1);
		}
	}
	for(i = 1995; i < 2000; i++) {
		arena_key(k, sizeof(k), "call", i, (size_t)(i * 13) % 120);
		assert_int_equal(conc_del(s, "set", k, NULL), 1);
	}
	assert_int_equal(stats(s).entries, 0);
	assert_int_equal(arena_fill_figs(s, 2000), n0);
	assert_int_equal(stats(s).failures, 0);
	free_store(s);
}

/*
 * A large record in a stripe full of small ones evicts as many of the
 * oldest small counters as it needs, never a ban; a store holding only
 * bans has no room for a counter (a failure) but replaces its oldest ban
 * for a new one.
 */
static void test_arena_evict_sizes(void **state)
{
	af_store_t *s = new_store(64, 1);
	af_store_stats_t st;
	char k[160];
	int i, bans = 8, small;

	test_host_set_now(T0);
	for(i = 0; i < bans; i++) {
		arena_key(k, sizeof(k), "b", i, 4);
		assert_int_equal(ban_set(s, k, 3600, "b"), 0);
	}
	for(small = 0; stats(s).entries < 64; small++) {
		test_host_advance(1);
		arena_key(k, sizeof(k), "w", small, 4);
		win_hit(s, k, 60, 1);
	}
	assert_int_equal(stats(s).evictions, 0);
	for(i = 0; i < 10; i++) {
		test_host_advance(1);
		arena_key(k, sizeof(k), "f", i, 140);
		assert_int_equal(fig_hit(s, k, 1), 1);
	}
	st = stats(s);
	assert_true(st.evictions >= 10);
	assert_int_equal(st.bans_evicted, 0);
	assert_int_equal(st.failures, 0);
	/* the oldest small counters went first */
	arena_key(k, sizeof(k), "w", 0, 4);
	assert_int_equal(win_hit(s, k, 60, 0), 0);
	arena_key(k, sizeof(k), "w", small - 1, 4);
	assert_int_equal(win_hit(s, k, 60, 0), 1);
	for(i = 0; i < bans; i++) {
		arena_key(k, sizeof(k), "b", i, 4);
		assert_int_equal(ban_get(s, k, NULL), 1);
	}
	free_store(s);
}

/*
 * A stripe with a record to spare but no free block for a large record:
 * one eviction makes the room, that of the oldest record whose block is
 * large enough, not that of an older small one (which would free no block
 * of the size and need a second eviction).
 */
static void test_arena_evict_fits(void **state)
{
	af_store_t *s = new_store(9, 1);
	char k[160];
	int i;

	/* 406 units of arena: a window of a 4-byte key (24 units), then 7 of
	 * long keys (kept in 104 bytes: 49 units): 8 of 9 entries, a free
	 * block of 39 */
	test_host_set_now(T0);
	arena_key(k, sizeof(k), "w", 0, 4);
	assert_int_equal(win_hit(s, k, 60, 1), 1);
	for(i = 1; i < 8; i++) {
		test_host_advance(1);
		arena_key(k, sizeof(k), "w", i, 140);
		assert_int_equal(win_hit(s, k, 60, 1), 1);
	}
	assert_int_equal(stats(s).entries, 8);
	assert_int_equal(stats(s).evictions, 0);
	test_host_advance(1);
	arena_key(k, sizeof(k), "w", 8, 140);
	assert_int_equal(win_hit(s, k, 60, 1), 1);
	assert_int_equal(stats(s).evictions, 1);
	assert_int_equal(stats(s).failures, 0);
	/* the oldest large one went; the older small one stays */
	arena_key(k, sizeof(k), "w", 1, 140);
	assert_int_equal(win_hit(s, k, 60, 0), 0);
	arena_key(k, sizeof(k), "w", 0, 4);
	assert_int_equal(win_hit(s, k, 60, 0), 1);
	free_store(s);
}

/*
 * In a stripe larger than the sample, an eviction takes the counter its
 * previous one would have taken next (of the same sample, the nearest
 * expiry after the victim's) without a sample of its own, unless that
 * counter was hit since (its expiry moved): then it samples again.
 */
static void test_evict_spare(void **state)
{
	af_store_t *s = new_store(200, 1);
	char k[160];
	int i;

	test_host_set_now(T0);
	for(i = 0; i < 200; i++) {
		test_host_advance(1000);
		arena_key(k, sizeof(k), "w", i, 4);
		assert_int_equal(win_hit(s, k, 600, 1), 1);
	}
	assert_int_equal(stats(s).evictions, 0);
	/* the first sample's oldest goes; w1 is its next */
	arena_key(k, sizeof(k), "x", 0, 4);
	assert_int_equal(win_hit(s, k, 600, 1), 1);
	assert_int_equal(stats(s).evictions, 1);
	arena_key(k, sizeof(k), "w", 0, 4);
	assert_int_equal(win_hit(s, k, 600, 0), 0);
	/* w1 is hit again: not taken, the next sample's oldest goes (w64),
	 * w65 its next */
	arena_key(k, sizeof(k), "w", 1, 4);
	assert_int_equal(win_hit(s, k, 600, 1), 2);
	arena_key(k, sizeof(k), "x", 1, 4);
	assert_int_equal(win_hit(s, k, 600, 1), 1);
	arena_key(k, sizeof(k), "w", 1, 4);
	assert_int_equal(win_hit(s, k, 600, 0), 2);
	arena_key(k, sizeof(k), "w", 64, 4);
	assert_int_equal(win_hit(s, k, 600, 0), 0);
	/* unchanged, w65 goes next */
	arena_key(k, sizeof(k), "x", 2, 4);
	assert_int_equal(win_hit(s, k, 600, 1), 1);
	arena_key(k, sizeof(k), "w", 65, 4);
	assert_int_equal(win_hit(s, k, 600, 0), 0);
	for(i = 2; i < 200; i++) {
		if(i == 64 || i == 65)
			continue;
		arena_key(k, sizeof(k), "w", i, 4);
		assert_int_equal(win_hit(s, k, 600, 0), 1);
	}
	assert_int_equal(stats(s).evictions, 3);
	assert_int_equal(stats(s).failures, 0);
	free_store(s);
}

/*
 * A ban into a full stripe of bans with one counter far beyond the
 * eviction's sample evicts that counter (the stripe remembers the
 * counters it made last), then, the counter gone, the ban with the
 * nearest expiry of its sample, counted in bans_evicted: the forgotten
 * counter's record, a ban now, is not taken for a counter.
 */
static void test_evict_hint(void **state)
{
	af_store_t *s = new_store(200, 1);
	af_store_stats_t st;
	char k[160];
	int i, gone;

	test_host_set_now(T0);
	for(i = 0; i < 199; i++) {
		if(i == 150) {
			arena_key(k, sizeof(k), "w", 0, 4);
			assert_int_equal(win_hit(s, k, 60, 1), 1);
		}
		arena_key(k, sizeof(k), "b", i, 4);
		assert_int_equal(ban_set(s, k, 3600 + (uint32_t)i, "b"), 0);
	}
	assert_int_equal(stats(s).entries, 200);
	arena_key(k, sizeof(k), "b", 199, 4);
	assert_int_equal(ban_set(s, k, 7200, "b"), 0);
	st = stats(s);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.bans_evicted, 0);
	arena_key(k, sizeof(k), "w", 0, 4);
	assert_int_equal(win_hit(s, k, 60, 0), 0);
	arena_key(k, sizeof(k), "b", 200, 4);
	assert_int_equal(ban_set(s, k, 7200, "b"), 0);
	st = stats(s);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(st.bans_evicted, 1);
	assert_int_equal(st.entries, 200);
	/* one ban went, an older one (of the sample, the one ending
	 * soonest), not one of the two new ones, which end last */
	for(i = 0, gone = 0; i < 199; i++) {
		arena_key(k, sizeof(k), "b", i, 4);
		gone += ban_get(s, k, NULL) == 0;
	}
	assert_int_equal(gone, 1);
	arena_key(k, sizeof(k), "b", 199, 4);
	assert_int_equal(ban_get(s, k, NULL), 1);
	arena_key(k, sizeof(k), "b", 200, 4);
	assert_int_equal(ban_get(s, k, NULL), 1);
	free_store(s);
}

/*
 * A WIN_MULTI counter keeps one-byte counts until one passes 255, then
 * two-byte counts (saturated at 65535), and takes more windows as it is
 * asked for them, the counts it had kept.
 */
static void test_arena_multi_grows(void **state)
{
	af_store_t *s = new_store(0, 0);
	uint32_t m[3];

	test_host_set_now(T0);
	wm_hit(s, "g", 5, 60, 0, 0, m);
	assert_int_equal(m[0], 5);
	wm_hit(s, "g", 1, 60, 3600, 86400, m);
	assert_int_equal(m[0], 6);
	assert_int_equal(m[1], 1);
	assert_int_equal(m[2], 1);
	wm_hit(s, "g", 250, 60, 3600, 86400, m);
	assert_int_equal(m[0], 256);
	assert_int_equal(m[1], 251);
	assert_int_equal(m[2], 251);
	test_host_advance(60 * 1000 / 16);
	wm_hit(s, "g", 255, 60, 3600, 86400, m);
	assert_int_equal(m[0], 511);
	assert_int_equal(m[1], 506);
	assert_int_equal(m[2], 506);
	assert_int_equal(stats(s).entries, 1);
	assert_int_equal(stats(s).failures, 0);
	free_store(s);
}

/* the key compare of a chain walk: equal bytes match at every length
 * (at any alignment), one byte changed anywhere never does */
static void test_bytes_eq(void **state)
{
	char a[48], b[48];
	size_t n, i, off;

	for(i = 0; i < sizeof(a); i++)
		a[i] = (char)('a' + i * 7 % 26);
	for(off = 0; off < 3; off++) {
		for(n = 0; n + off <= 40; n++) {
			memcpy(b, a + off, n);
			assert_true(af_bytes_eq(a + off, b, n));
			for(i = 0; i < n; i++) {
				b[i] ^= 0x20;
				assert_false(af_bytes_eq(a + off, b, n));
				assert_false(af_bytes_eq(b, a + off, n));
				b[i] ^= 0x20;
			}
			/* bytes past n play no part */
			b[n] = (char)(a[off + n] ^ 1);
			assert_true(af_bytes_eq(a + off, b, n));
		}
	}
}

/* a short key's word for the hash: what copying its bytes into a zeroed
 * word gives, at every length below 8 and any byte values */
static void test_bytes_word(void **state)
{
	unsigned char buf[16];
	uint64_t x = 0x9e3779b97f4a7c15ULL, want;
	size_t n, i;
	int round;

	for(round = 0; round < 2000; round++) {
		for(i = 0; i < sizeof(buf); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (unsigned char)(x >> 24);
		}
		for(n = 0; n < 8; n++) {
			want = 0;
			memcpy(&want, buf + round % 8, n);
			assert_true(af_bytes_word((const char *)buf + round % 8, n) == want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SCN_TESTS(test_scenario),
		cmocka_unit_test(test_bytes_eq),
		cmocka_unit_test(test_bytes_word),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_window_slides),
		cmocka_unit_test(test_window_size_change),
		cmocka_unit_test(test_window_saturates),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_ban),
		cmocka_unit_test(test_history_read_only),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_long_keys),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_eviction_order),
		cmocka_unit_test(test_full_store),
		cmocka_unit_test(test_evict_sample),
		cmocka_unit_test(test_multi_saturates),
		cmocka_unit_test(test_ban_needs_room),
		cmocka_unit_test(test_gc),
		cmocka_unit_test(test_ban_list),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_conc_limit),
		cmocka_unit_test(test_conc_expiry),
		cmocka_unit_test(test_conc_expiry_paths),
		cmocka_unit_test(test_conc_batch),
		cmocka_unit_test(test_win_if_new),
		cmocka_unit_test(test_conc_capacity),
		cmocka_unit_test(test_conc_list),
		cmocka_unit_test(test_conc_model),
		cmocka_unit_test(test_conc_threads),
		cmocka_unit_test(test_conc_fork),
		cmocka_unit_test(test_conc_exact),
		cmocka_unit_test(test_conc_bench),
		cmocka_unit_test(test_arena_mixed),
		cmocka_unit_test(test_arena_reuse),
		cmocka_unit_test(test_arena_evict_sizes),
		cmocka_unit_test(test_arena_evict_fits),
		cmocka_unit_test(test_evict_hint),
		cmocka_unit_test(test_evict_spare),
		cmocka_unit_test(test_arena_multi_grows),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
