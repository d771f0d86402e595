/*
 * antifraud unit tests - store scenarios that every backend must pass
 * with the same results, written once and run on each (test_store.c on
 * shm, test_store_redis.c on Redis). Each takes an empty store and uses
 * the test host's clock from T0 (the including file defines T0).
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_TEST_STORE_SCENARIOS_H
#define AF_TEST_STORE_SCENARIOS_H

/* Windows: slices are exact, counts at both sides of every edge; another
 * size starts again, a read creates nothing, a count saturates. */
static void scn_window_edges(af_store_t *s)
{
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
	/* another size starts again; a read creates nothing */
	assert_int_equal(win_hit(s, "w", 30, 1), 1);
	assert_int_equal(win_hit(s, "absent", 30, 0), 0);
	/* saturation */
	assert_int_equal(win_hit(s, "sat", 60, UINT32_MAX - 1), UINT32_MAX - 1);
	assert_int_equal(win_hit(s, "sat", 60, 5), UINT32_MAX);
}

/* The ban is set by exactly the Nth hit, atomically with the count; a
 * ban set again gets new times, hits from 0 and a truncated reason. */
static void scn_ban_threshold(af_store_t *s)
{
	af_ban_t b;
	uint32_t c;
	char longr[200];
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
	assert_int_equal(b.since_ms, T0);
	assert_int_equal(b.until_ms, T0 + 300000);
	assert_int_equal(b.hits, 1);
	/* already banned: the next hit does not set it again */
	assert_false(win_hit_ban(s, "scan:1.1.1.1", "1.1.1.1", 5, &c));
	assert_int_equal(c, 6);
	/* lifted by hand, still over the threshold: banned again */
	assert_true(ban_del(s, "1.1.1.1"));
	assert_false(ban_del(s, "1.1.1.1"));
	assert_true(win_hit_ban(s, "scan:1.1.1.1", "1.1.1.1", 5, &c));

	/* ban_key NULL bans the counter's own key */
	assert_false(win_hit_ban(s, "self", NULL, 2, &c));
	assert_true(win_hit_ban(s, "self", NULL, 2, &c));
	assert_true(ban_get(s, "self", NULL));
	/* replace: new times, hits from 0, reason truncated; expiry exact */
	memset(longr, 'r', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	test_host_advance(1000);
	assert_int_equal(ban_set(s, "self", 10, longr), 0);
	assert_true(ban_get(s, "self", &b));
	assert_int_equal(b.hits, 1);
	assert_int_equal(b.until_ms, T0 + 11000);
	assert_int_equal(strlen(b.reason), AF_BAN_REASON - 1);
	test_host_set_now(T0 + 10999);
	assert_true(ban_get(s, "self", NULL));
	test_host_set_now(T0 + 11000);
	assert_false(ban_get(s, "self", NULL));

	/* many ban keys, so that some hash to other stripes */
	for(i = 0; i < 200; i++) {
		char k[32], bk[32];

		snprintf(k, sizeof(k), "cnt%d", i);
		snprintf(bk, sizeof(bk), "ip%d", i);
		assert_false(win_hit_ban(s, k, bk, 2, NULL));
		assert_true(win_hit_ban(s, k, bk, 2, NULL));
		assert_true(ban_get(s, bk, NULL));
	}
}

/* History: newest first, the same address moved to the front, bounded,
 * records older than ttl_s left out, the history gone ttl_s after its
 * newest push. */
static void scn_history(af_store_t *s)
{
	af_op_t op;

	test_host_set_now(T0);
	hist_push(s, "alice", 1, "DE", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 0);
	test_host_advance(1000);
	hist_push(s, "alice", 2, "FR", 100, &op);
	assert_int_equal(op.u.hist.n_prev, 1);
	assert_int_equal(op.u.hist.prev[0].ip.addr[3], 1);
	assert_string_equal(op.u.hist.prev[0].country, "DE");
	assert_string_equal(op.u.hist.prev[0].continent, "EU");
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
	/* the history expires ttl_s after its newest push */
	test_host_set_now(T0);
	hist_push(s, "carl", 1, "DE", 10, &op);
	test_host_set_now(T0 + 5000);
	hist_push(s, "carl", 2, "DE", 10, &op);
	test_host_set_now(T0 + 10000);
	hist_push(s, "carl", 3, "DE", 10, &op);
	test_host_set_now(T0 + 19999);
	hist_push(s, "carl", 4, "DE", 10, &op);
	assert_int_equal(op.u.hist.n_prev, 1);
	test_host_set_now(T0 + 29999 + 1);
	hist_push(s, "carl", 5, "DE", 10, &op);
	assert_int_equal(op.u.hist.n_prev, 0);
}

/* a scenario as a cmocka test's initial state */
typedef struct scn {
	void (*run)(af_store_t *s);
} scn_t;

static const scn_t scn_window_edges_t = {scn_window_edges};
static const scn_t scn_ban_threshold_t = {scn_ban_threshold};
static const scn_t scn_history_t = {scn_history};

/* the cmocka test named name that runs scenario scn with runner, which
 * gives it an empty store of its backend */
#define SCN_TEST(name, runner, scn) \
	{name, runner, NULL, NULL, (void *)&scn##_t}

/* every scenario, for a backend's test list */
#define SCN_TESTS(runner)                                  \
	SCN_TEST("window_edges", runner, scn_window_edges),    \
			SCN_TEST("ban_threshold", runner, scn_ban_threshold), \
			SCN_TEST("history", runner, scn_history)

#endif
