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

/* A WIN_MULTI answers per window what a WIN_HIT of that window answers
 * (slices, edges, a read creating nothing), a window it lacks starts at
 * 0, and the counter lives as long as its longest window. */
static void scn_multi_windows(af_store_t *s)
{
	static const uint64_t at[] = {0, 999, 1000, 5500, 15999, 16000, 17000,
			20999, 21000, 31999, 32000, 47000, 63999, 64000, 70000, 200000};
	uint32_t m[3], c;
	size_t t;

	for(t = 0; t < sizeof(at) / sizeof(at[0]); t++) {
		test_host_set_now(T0 + at[t]);
		c = t % 3 == 2 ? 0 : 1 + (uint32_t)(t % 2);
		wm_hit(s, "m", c, 16, 32, 64, m);
		assert_int_equal(m[0], win_hit(s, "h16", 16, c));
		assert_int_equal(m[1], win_hit(s, "h32", 32, c));
		assert_int_equal(m[2], win_hit(s, "h64", 64, c));
	}
	/* the same key as a WIN_HIT is another counter */
	assert_int_equal(win_hit(s, "m", 16, 0), 0);
	/* a read creates nothing */
	wm_hit(s, "absent", 0, 16, 32, 0, m);
	assert_int_equal(m[0] + m[1], 0);
	wm_hit(s, "absent", 0, 16, 32, 0, m);
	assert_int_equal(m[0] + m[1], 0);
	/* another set of windows: the window kept keeps its count, the new
	 * one starts at 0 */
	test_host_set_now(T0 + 300000);
	wm_hit(s, "x", 2, 10, 20, 0, m);
	assert_int_equal(m[0], 2);
	assert_int_equal(m[1], 2);
	wm_hit(s, "x", 1, 20, 40, 0, m);
	assert_int_equal(m[0], 3);
	assert_int_equal(m[1], 1);
	/* the 10 s window's hit has left, the 40 s one still counts */
	test_host_set_now(T0 + 300000 + 30000);
	wm_hit(s, "x", 0, 40, 0, 0, m);
	assert_int_equal(m[0], 1);
	test_host_set_now(T0 + 300000 + 40000);
	wm_hit(s, "x", 0, 40, 0, 0, m);
	assert_int_equal(m[0], 0);
}

/*
 * Counts pair (over 16 s and 64 s) and, when it is new there, number
 * "d|n" (if_new), for real or as a dry run; the counts must be p16, p64
 * for the pair and d16, d64 for the number.
 */
static void scn_pair(af_store_t *s, const char *pair, int dry, uint32_t p16,
		uint32_t p64, uint32_t d16, uint32_t d64)
{
	const uint32_t w2[2] = {16, 64};
	af_op_t ops[2];

	wm_op(&ops[0], pair, 1, 2, w2);
	wm_op(&ops[1], "d|n", 1, 2, w2);
	ops[1].u.wm.if_new = 1;
	assert_int_equal(dry ? af_store_exec_dry(s, ops, 2, af_now_ms())
						 : af_store_exec(s, ops, 2, af_now_ms()),
			0);
	assert_int_equal(ops[0].u.wm.w[0].count, p16);
	assert_int_equal(ops[0].u.wm.w[1].count, p64);
	assert_int_equal(ops[1].u.wm.w[0].count, d16);
	assert_int_equal(ops[1].u.wm.w[1].count, d64);
}

/*
 * WIN_MULTI's if_new (distinct values per window), gates, bans and what
 * is invalid.
 */
static void scn_multi_rules(af_store_t *s)
{
	const uint32_t w2[2] = {16, 64}, w1[1] = {64};
	af_op_t ops[3];
	af_ban_t b;
	int i;

	/* callers per number over 16 s and 64 s: the pair counts each call,
	 * the number adds only when the pair is new in that window */
	test_host_set_now(T0);
	for(i = 0; i < 3; i++) {
		wm_op(&ops[0], i == 2 ? "p|b|n" : "p|a|n", 1, 2, w2);
		wm_op(&ops[1], "d|n", 1, 2, w2);
		ops[1].u.wm.if_new = 1;
		wm_op(&ops[2], "d1|n", 1, 1, w1);
		ops[2].u.wm.if_new = 1;
		assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()), 0);
		assert_int_equal(ops[0].u.wm.w[0].count, i == 1 ? 2 : 1);
		assert_int_equal(ops[0].u.wm.w[0].added, 1);
		assert_int_equal(ops[1].u.wm.w[0].count, i == 2 ? 2 : 1);
		assert_int_equal(ops[1].u.wm.w[1].count, i == 2 ? 2 : 1);
		assert_int_equal(ops[1].u.wm.w[0].added, i != 1);
		assert_int_equal(ops[2].u.wm.w[0].count, i == 2 ? 2 : 1);
	}
	/* 16 s later a's pair is new again in the 16 s window only */
	test_host_set_now(T0 + 16000);
	scn_pair(s, "p|a|n", 0, 1, 3, 1, 2);

	/* a gate passed in any window keeps the call out of the sets */
	wm_op(&ops[0], "g", 1, 2, w2);
	ops[0].u.wm.w[1].gate = 2;
	conc_op(&ops[1], AF_OP_CONC_ADD, "cs|g", "call-1", 0, 600);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[1].u.conc.admitted, 1);
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[1].u.conc.admitted, 1);
	ops[1].u.conc.member = "call-2";
	assert_int_equal(af_store_exec(s, ops, 2, af_now_ms()), 0);
	assert_int_equal(ops[0].u.wm.w[1].count, 3);
	assert_int_equal(ops[1].u.conc.admitted, 0);
	assert_int_equal(conc_count(s, "cs|g"), 1);

	/* the window whose count reaches its threshold sets the ban, once */
	for(i = 1; i <= 4; i++) {
		wm_op(&ops[0], "bn|x", 1, 2, w2);
		ops[0].u.wm.w[0].ban_threshold = 5;
		ops[0].u.wm.w[1].ban_threshold = 3;
		ops[0].u.wm.ban_s = 300;
		ops[0].u.wm.ban_key = "x";
		ops[0].u.wm.ban_key_len = 1;
		ops[0].u.wm.ban_reason = "repeat";
		assert_int_equal(af_store_exec(s, ops, 1, af_now_ms()), 0);
		assert_int_equal(ops[0].u.wm.w[0].banned, 0);
		assert_int_equal(ops[0].u.wm.w[1].banned, i == 3);
		assert_int_equal(ban_get(s, "x", &b), i >= 3);
	}
	assert_string_equal(b.reason, "repeat");
	assert_int_equal(b.until_ms, af_now_ms() + 300000);

	/* invalid: no window, too many, a window of 0 s or twice the same,
	 * a threshold without ban_s, an if_new naming no earlier WIN_MULTI
	 * or one without the window */
	for(i = 0; i < 7; i++) {
		wm_op(&ops[0], "inv|a", 1, 1, w1);
		win_op(&ops[1], "inv|b", 1, 0, 0);
		wm_op(&ops[2], "inv|c", 1, 2, w2);
		switch(i) {
			case 0:
				ops[2].u.wm.nwin = 0;
				break;
			case 1:
				ops[2].u.wm.nwin = AF_WIN_MULTI_MAX + 1;
				break;
			case 2:
				ops[2].u.wm.w[1].window_s = 0;
				break;
			case 3:
				ops[2].u.wm.w[1].window_s = 16;
				break;
			case 4:
				ops[2].u.wm.w[0].ban_threshold = 1;
				break;
			case 5:
				ops[2].u.wm.if_new = 2;
				break;
			case 6:
				ops[2].u.wm.if_new = 1;
				break;
		}
		assert_int_equal(af_store_exec(s, ops, 3, af_now_ms()),
				AF_STORE_FAILED);
		assert_int_equal(ops[0].status, 0);
		assert_int_equal(ops[1].status, 0);
		assert_int_equal(ops[2].status, -1);
	}
	/* a dry run answers what would be counted, and writes nothing */
	scn_pair(s, "p|a|n", 1, 2, 4, 1, 2);
	scn_pair(s, "p|z|n", 1, 1, 1, 2, 3);
	wm_hit(s, "p|z|n", 0, 16, 64, 0, (uint32_t[3]){0});
	wm_op(&ops[0], "d|n", 0, 2, w2);
	assert_int_equal(af_store_exec(s, ops, 1, af_now_ms()), 0);
	assert_int_equal(ops[0].u.wm.w[1].count, 2);
}

static const scn_t scn_window_edges_t = {scn_window_edges};
static const scn_t scn_multi_windows_t = {scn_multi_windows};
static const scn_t scn_multi_rules_t = {scn_multi_rules};
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
			SCN_TEST("history", runner, scn_history), \
			SCN_TEST("multi_windows", runner, scn_multi_windows), \
			SCN_TEST("multi_rules", runner, scn_multi_rules)

#endif
