/*
 * antifraud unit tests - forgetting subjects (af_forget.h), the same
 * scenario on both store backends (test_store.c, test_store_redis.c):
 * the keys the checks build for a caller, a number, a source and an
 * account, beside others that must stay.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_TEST_FORGET_SCENARIO_H
#define AF_TEST_FORGET_SCENARIO_H

#include "af_forget.h"

/* what is left of a window (its count) */
static inline uint32_t fs_win(af_store_t *s, const char *key)
{
	return win_hit(s, key, 3600, 0);
}

/* entries of a history */
static inline int fs_hist(af_store_t *s, const char *key)
{
	af_op_t op;

	hist_read(s, key, 1, "DE", 3600, &op);
	return op.u.hist.n_prev;
}

/* forgets subject kind k value v; returns the entries removed */
static inline uint64_t fs_forget(af_store_t *s, af_subject_t k, const char *v)
{
	af_forget_pat_t pats[AF_FORGET_PATS_MAX];
	char buf[4096], err[256];
	uint64_t removed = 0;
	int np;

	np = af_forget_patterns(k, v, strlen(v), pats, buf, sizeof(buf), err,
			sizeof(err));
	assert_true(np > 0);
	assert_int_equal(s->ops->forget(s, pats, np, af_now_ms(), &removed), 0);
	return removed;
}

static const char *const fs_windows[] = {
	/* source 192.0.2.1 and a neighbour */
	"192.0.2.1", "af|192.0.2.1", "as|alice@ex.org|192.0.2.1",
	"ag|alice@ex.org|192.0.2.1", "192.0.2.10", "as|alice@ex.org|192.0.2.10",
	/* caller alice@ex.org, number 4930123, and others */
	"r|w|alice@ex.org", "r|w|alice@ex.org|60", "rn|w|alice@ex.org|4930123",
	"rs|w|alice@ex.org|49301|3600", "r|w|bob@ex.org",
	"rn|w|bob@ex.org|4930123|3600", "rn|w1|bob@ex.org|4930124",
	"rk|w|4930123", "rk|w|4930124|86400",
	/* account alice@ex.org */
	"aa|alice@ex.org", "at|alice@ex.org", "aa|bob@ex.org",
	/* a caller whose name holds glob characters, and one it would match */
	"r|w|a*b@ex.org", "r|w|axb@ex.org",
};

static inline void fs_fill(af_store_t *s)
{
	uint32_t m[3];
	af_op_t op;
	size_t i;

	for(i = 0; i < sizeof(fs_windows) / sizeof(fs_windows[0]); i++)
		assert_int_equal(win_hit(s, fs_windows[i], 3600, 2), 2);
	/* a subject counted over several windows in one op */
	wm_hit(s, "rs|w|alice@ex.org|49302", 2, 3600, 86400, 0, m);
	assert_int_equal(m[1], 2);
	assert_int_equal(ban_set(s, "192.0.2.1", 600, "scanner"), 0);
	assert_int_equal(ban_set(s, "192.0.2.10", 600, "scanner"), 0);
	assert_int_equal(ban_set(s, "acct|alice@ex.org", 600, "attack"), 0);
	hist_push(s, "alice@ex.org", 1, "DE", 3600, &op);
	hist_push(s, "bob@ex.org", 2, "FR", 3600, &op);
	/* a live call of alice's */
	conc_op(&op, AF_OP_CONC_ADD, "cc|alice@ex.org", "call-1", 0, 600);
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	assert_int_equal(op.u.conc.admitted, 1);
}

/* the entries a WIN_MULTI of 2 windows takes in s: 1 where native,
 * else one per window */
static inline uint64_t fs_multi_entries(af_store_t *s)
{
	return (s->ops->caps & AF_STORE_CAP_WIN_MULTI) ? 1 : 2;
}

static inline void fs_run(af_store_t *s)
{
	uint32_t m[3];

	fs_fill(s);

	/* a number: the same-number pairs of every caller, its callers */
	assert_int_equal(fs_forget(s, AF_SUBJ_NUMBER, "+4930123"), 3);
	assert_int_equal(fs_win(s, "rn|w|alice@ex.org|4930123"), 0);
	assert_int_equal(fs_win(s, "rn|w|bob@ex.org|4930123|3600"), 0);
	assert_int_equal(fs_win(s, "rk|w|4930123"), 0);
	assert_int_equal(fs_win(s, "rk|w|4930124|86400"), 2);
	assert_int_equal(fs_win(s, "rn|w1|bob@ex.org|4930124"), 2);

	/* a caller (host case-insensitive): rates, similar numbers,
	 * history; its live call stays */
	assert_int_equal(fs_forget(s, AF_SUBJ_CALLER, "alice@EX.org"),
			4 + fs_multi_entries(s));
	assert_int_equal(fs_win(s, "r|w|alice@ex.org"), 0);
	assert_int_equal(fs_win(s, "r|w|alice@ex.org|60"), 0);
	assert_int_equal(fs_win(s, "rs|w|alice@ex.org|49301|3600"), 0);
	wm_hit(s, "rs|w|alice@ex.org|49302", 0, 3600, 86400, 0, m);
	assert_int_equal(m[0] + m[1], 0);
	assert_int_equal(fs_hist(s, "alice@ex.org"), 0);
	assert_int_equal(fs_hist(s, "bob@ex.org"), 1);
	assert_int_equal(fs_win(s, "r|w|bob@ex.org"), 2);
	assert_int_equal(conc_count(s, "cc|alice@ex.org"), 1);

	/* glob characters in a subject are literal */
	assert_int_equal(fs_forget(s, AF_SUBJ_CALLER, "a*b@ex.org"), 1);
	assert_int_equal(fs_win(s, "r|w|a*b@ex.org"), 0);
	assert_int_equal(fs_win(s, "r|w|axb@ex.org"), 2);

	/* a source: ban, score, failures, its account pairs */
	assert_int_equal(fs_forget(s, AF_SUBJ_SOURCE, "192.0.2.1"), 5);
	assert_int_equal(ban_get(s, "192.0.2.1", NULL), 0);
	assert_int_equal(fs_win(s, "192.0.2.1"), 0);
	assert_int_equal(fs_win(s, "af|192.0.2.1"), 0);
	assert_int_equal(fs_win(s, "as|alice@ex.org|192.0.2.1"), 0);
	assert_int_equal(fs_win(s, "ag|alice@ex.org|192.0.2.1"), 0);
	assert_int_equal(ban_get(s, "192.0.2.10", NULL), 1);
	assert_int_equal(fs_win(s, "192.0.2.10"), 2);

	/* an account: the attack mark and its windows */
	assert_int_equal(fs_forget(s, AF_SUBJ_ACCOUNT, "alice@ex.org"), 4);
	assert_int_equal(ban_get(s, "acct|alice@ex.org", NULL), 0);
	assert_int_equal(fs_win(s, "aa|alice@ex.org"), 0);
	assert_int_equal(fs_win(s, "at|alice@ex.org"), 0);
	assert_int_equal(fs_win(s, "as|alice@ex.org|192.0.2.10"), 0);
	assert_int_equal(fs_win(s, "aa|bob@ex.org"), 2);

	/* nothing left to forget */
	assert_int_equal(fs_forget(s, AF_SUBJ_ACCOUNT, "alice@ex.org"), 0);
	assert_int_equal(conc_del(s, "cc|alice@ex.org", "call-1", NULL), 1);
}

/* bad subjects are refused with a reason, never matched */
static inline void fs_bad_subjects(void)
{
	af_forget_pat_t pats[AF_FORGET_PATS_MAX];
	char buf[4096], err[256];
	static const struct {
		af_subject_t k;
		const char *v;
		const char *why;
	} bad[] = {
		{AF_SUBJ_SOURCE, "not-an-ip", "not an IP"},
		{AF_SUBJ_NUMBER, "+49 30", "spaces"},
		{AF_SUBJ_NUMBER, "49x30", "not a number"},
		{AF_SUBJ_NUMBER, "+", "not a number"},
		{AF_SUBJ_CALLER, "alice", "user@host"},
		{AF_SUBJ_CALLER, "@ex.org", "user@host"},
		{AF_SUBJ_CALLER, "a|b@ex.org", "'|'"},
		{AF_SUBJ_ACCOUNT, "", "1 to"},
	};
	size_t i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(af_forget_patterns(bad[i].k, bad[i].v,
								 strlen(bad[i].v), pats, buf, sizeof(buf),
								 err, sizeof(err)),
				-1);
		if(!strstr(err, bad[i].why))
			fail_msg("%s '%s': '%s' lacks '%s'", af_subject_name(bad[i].k),
					bad[i].v, err, bad[i].why);
	}
	assert_int_equal(af_subject_parse("caller", 6), AF_SUBJ_CALLER);
	assert_int_equal(af_subject_parse("callers", 7), -1);
}

#endif
