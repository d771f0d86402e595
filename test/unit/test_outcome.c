/*
 * antifraud unit tests - call outcomes (af_outcome.h) through
 * af_core_init(), on the shm store and on a real redis-server started by
 * the test on a free loopback port (the same tests, both backends): the
 * 'analytics' rules and their refusals, figures per subject and window,
 * minimum samples, enforcement marks in af_check_dest and their cooling,
 * the duration guard, expiry (no figure left behind), the signal mix and
 * its baseline, a legitimate mix that raises nothing. Time runs on the
 * injected clock.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "af_core.h"
#include "af_host.h"
#include "af_module.h"
#include "af_outcome_int.h"
#include "af_store_cluster.h"
#include "af_store_redis.h"
#include "host.h"
#include "core_fixture.h"
#include "redis_server.h"

#define BIT(r) AF_REASON_BIT(r)

static int use_redis; /* the tests of this group run on Redis */
static int callno;
static af_verdict_t vd, ve;

/* the head of every rule file: plan and a German default profile */
static const char *head =
		"version: 1\n"
		"dest:\n"
		"  numplan: %s/etc/antifraud-numplan.csv\n"
		"  max_duration: 7200\n";

/* starts redis-server once (group setup); a missing one fails */
static int redis_group_setup(void **state)
{
	if(redis_start("outcome") < 0)
		return -1;
	use_redis = 1;
	return 0;
}

static int redis_group_teardown(void **state)
{
	redis_stop();
	use_redis = 0;
	return 0;
}

/* writes head + body as the rule file and starts the core (on Redis
 * when the group runs there, fallback closed: Redis must answer) */
static void start(const char *body)
{
	static af_redis_cfg_t rc;
	af_core_cfg_t cfg = {.shm_entries = 8192, .shm_stripes = 8};
	char text[16384], cwd[400];

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(text, sizeof(text), head, cwd);
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s", body);
	write_rules_text(text);
	cfg.rules_path = rules_path;
	if(use_redis) {
		redis_fresh_cfg(&rc, 1000, 2000);
		cfg.redis = &rc;
		cfg.redis_fallback = AF_FALLBACK_CLOSED;
		cfg.redis_retry_ms = 1000;
	}
	start_cfg(&cfg);
}

/* an initial INVITE from caller@example.com at src to number */
static af_request_t invite(const char *caller, const char *src,
		const char *number)
{
	static char callid[64];
	af_request_t r;

	memset(&r, 0, sizeof(r));
	r.method = AF_M_INVITE;
	r.initial = 1;
	r.from_user = S(caller);
	r.from_host = S("example.com");
	r.ruri_user = S(number);
	r.src_ip = IP(src);
	snprintf(callid, sizeof(callid), "call-%d@test", ++callno);
	r.call_id = S(callid);
	return r;
}

/*
 * One call through af_check_dest and the outcome API: rings after
 * pdd_ms when pdd_ms > 0, is answered after answer_ms when answer_ms > 0
 * and lasts talk_s, else fails with code after 3 s. Returns the rc of
 * af_call_end (ve holds its verdict); dest_rc gets af_check_dest's rc.
 */
static int call_full(const char *caller, const char *src, const char *number,
		int pdd_ms, int answer_ms, int talk_s, int code, int *dest_rc)
{
	af_request_t r = invite(caller, src, number);
	af_call_t c;
	uint64_t t0 = af_now_ms();
	int rc;

	rc = af_check_dest(&r, NULL, 0, &vd);
	if(dest_rc)
		*dest_rc = rc;
	if(rc == AF_RC_BLOCK || rc == AF_RC_ERROR)
		return rc;
	if(af_call_start(&c, &r, &vd, NULL, 0, t0) != 1)
		return AF_RC_NORULE;
	/* the clock follows the call */
	if(pdd_ms > 0) {
		test_host_set_now(t0 + (uint64_t)pdd_ms);
		af_call_ring(&c, 180, af_now_ms());
	}
	if(answer_ms > 0) {
		test_host_set_now(t0 + (uint64_t)answer_ms);
		af_call_answer(&c, af_now_ms());
		test_host_advance((uint64_t)talk_s * SEC);
		rc = af_call_end(&c, 200, af_now_ms(), &ve);
	} else {
		test_host_set_now(t0 + (pdd_ms > 3000 ? (uint64_t)pdd_ms : 3 * SEC));
		rc = af_call_end(&c, code, af_now_ms(), &ve);
	}
	af_dest_release(&vd.dest.ticket);
	test_host_advance(SEC);
	return rc;
}

static const char *base_profiles =
		"profiles:\n"
		"  default:\n"
		"    domains: [example.com]\n"
		"    mode: {analytics: %s}\n"
		"    dest: {country: DE, international: true}\n";

/* the rule file: analytics section body, then the default profile in
 * mode */
static void start_an(const char *analytics, const char *mode)
{
	char body[8192];
	int n;

	n = snprintf(body, sizeof(body), "analytics:\n%s", analytics);
	snprintf(body + n, sizeof(body) - (size_t)n, base_profiles, mode);
	start(body);
}

/* bad rule values are refused with file:line and what is wrong */
static void test_rules_refused(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
			{"analytics:\n  windows: [60, 30]\n", "windows must grow"},
			{"analytics:\n  windows: [1, 60]\n", "out of range"},
			{"analytics:\n  windows: [60, 120, 180, 240]\n", "1 to 3 windows"},
			{"analytics:\n  windows: [60]\n  asr: {below: 20, window: 120}\n",
					"not one of analytics.windows"},
			{"analytics:\n  windows: [60]\n  asr: {below: 120, window: 60}\n",
					"out of range"},
			{"analytics:\n  windows: [60]\n  asr: {below: x, window: 60}\n",
					"is not a number"},
			{"analytics:\n  windows: [60]\n  asr: {above: 20, window: 60}\n",
					"above"},
			{"analytics:\n  windows: [60]\n  minutes: {above: 20, window: 60,"
			 " min_sample: 3}\n",
					"minutes has no min_sample"},
			{"analytics:\n  windows: [60]\n  acd: {above: 20, window: 60,"
			 " subjects: [planet]}\n",
					"'planet' is not a subject"},
			{"analytics:\n  windows: [60]\n  acd: {above: 20}\n",
					"a window is needed"},
			{"analytics:\n  short_call: 60\n  long_call: 30\n",
					"must be below long_call"},
			{"analytics:\n  duration: {classes: {lunar: 60}}\n",
					"unknown number class 'lunar'"},
			{"analytics:\n  duration: {risk: {7: 60}}\n", "not a risk tier"},
			{"analytics:\n  signal_mix: {threshold: 0}\n", "out of range"},
			{"analytics:\n  signal_mix: {subjects: [country]}\n",
					"'country' is not a subject here"},
			{"analytics:\n  minutes: {above: 5, window: 900, scope: moon}\n",
					"expected all, international or a list"},
			{"analytics:\n  follow: sometimes\n", "expected dest or all"},
			{"analytics:\n  minutes: {above: 5, window: 900, scope: [lunar]}\n",
					"unknown number class 'lunar'"},
	};
	char text[2048], line[32];
	size_t i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
				"version: 1\n%sprofiles:\n  default: {}\n", bad[i].text);
		write_rules_text(text);
		assert_null(af_rules_load(rules_path, err, sizeof(err)));
		if(!strstr(err, bad[i].want))
			fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].want);
		snprintf(line, sizeof(line), "rules.yaml:");
		assert_non_null(strstr(err, line));
	}
	/* a profile's own rules are read the same way */
	write_rules_text("version: 1\nanalytics:\n  windows: [60]\n"
					 "profiles:\n  default:\n    analytics:\n"
					 "      asr: {below: 10, window: 61}\n");
	assert_null(af_rules_load(rules_path, err, sizeof(err)));
	assert_non_null(strstr(err, "rules.yaml:7:"));
}

/* low ASR over at least min_sample attempts alerts; fewer never */
static void test_asr_low(void **state)
{
	int i, rc, dest_rc;

	start_an("  windows: [900]\n"
			 "  asr: {below: 30, min_sample: 10, window: 900,"
			 " subjects: [caller, source]}\n",
			"monitor");
	/* nine unanswered calls: under the sample size */
	for(i = 0; i < 9; i++) {
		rc = call_full("pump", "192.0.2.7", "+33123456789", 0, 0, 0, 480,
				&dest_rc);
		assert_int_equal(dest_rc, AF_RC_ALLOW);
		assert_int_equal(rc, AF_RC_ALLOW);
	}
	/* the tenth: 0 % of 10 < 30 %, for the caller and the source */
	rc = call_full("pump", "192.0.2.7", "+33123456789", 0, 0, 0, 480, NULL);
	assert_int_equal(rc, AF_RC_ALERT);
	assert_true(ve.reasons & BIT(AF_R_ASR_LOW));
	assert_string_equal(ve.check, "analytics");
	assert_non_null(strstr(ve.detail, "asr_low caller pump@example.com"));
	assert_non_null(strstr(ve.detail, "asr_low source 192.0.2.7"));
	assert_int_equal(ve.blocking, 0);
	/* another caller with good calls from another source: nothing */
	for(i = 0; i < 12; i++)
		assert_int_equal(call_full("good", "192.0.2.8", "+4930123456", 500,
								 2000, 120, 0, NULL),
				AF_RC_ALLOW);
	assert_true(af_core_reason_count(AF_R_ASR_LOW) >= 1);
}

/* enforce: the breach refuses the caller's next calls in af_check_dest
 * for the cooling time, then lets them through again */
static void test_enforce_cooling(void **state)
{
	int i, rc, dest_rc;

	start_an("  windows: [60]\n"
			 "  cooling: 30\n"
			 "  subjects: [caller]\n"
			 "  asr: {below: 50, min_sample: 4, window: 60}\n",
			"enforce");
	for(i = 0; i < 3; i++)
		assert_int_equal(call_full("bob", "192.0.2.9", "+33123456789", 0, 0,
								 0, 486, NULL),
				AF_RC_ALLOW);
	rc = call_full("bob", "192.0.2.9", "+33123456789", 0, 0, 0, 486, NULL);
	assert_int_equal(rc, AF_RC_BLOCK);
	assert_true(ve.blocking & BIT(AF_R_ASR_LOW));
	/* refused now, with the breach's reason; nothing counted */
	rc = call_full("bob", "192.0.2.9", "+4930123456", 0, 0, 0, 486, &dest_rc);
	assert_int_equal(dest_rc, AF_RC_BLOCK);
	assert_true(vd.blocking & BIT(AF_R_ASR_LOW));
	assert_non_null(strstr(vd.detail, "refused for"));
	assert_int_equal(vd.dest.ticket.total, 0);
	/* another caller is not concerned */
	call_full("carol", "192.0.2.9", "+4930123456", 0, 1000, 60, 0, &dest_rc);
	assert_int_equal(dest_rc, AF_RC_ALLOW);
	/* after the cooling (and the window), bob calls again */
	test_host_advance(61 * SEC);
	call_full("bob", "192.0.2.9", "+4930123456", 0, 1000, 60, 0, &dest_rc);
	assert_int_equal(dest_rc, AF_RC_ALLOW);
}

/* short calls, ACD, international minutes and post-dial delay */
static void test_other_rules(void **state)
{
	int i, rc = 0;

	start_an("  windows: [300, 3600]\n"
			 "  short_call: 5\n"
			 "  long_call: 1800\n"
			 "  short_calls: {above: 50, min_sample: 5, window: 300}\n"
			 "  acd: {above: 600, min_sample: 3, window: 3600}\n"
			 "  minutes: {above: 20, window: 3600, scope: international}\n"
			 "  pdd: {above: 8, min_sample: 3, window: 300}\n",
			"monitor");
	/* one-second calls: short_calls from the fifth on */
	for(i = 0; i < 5; i++)
		rc = call_full("wang", "192.0.2.10", "+4930123456", 0, 500, 1, 0,
				NULL);
	assert_int_equal(rc, AF_RC_ALERT);
	assert_int_equal(ve.reasons, BIT(AF_R_SHORT_CALLS));
	assert_non_null(strstr(ve.detail, "short_calls caller wang@example.com:"
									  " 100% of 5"));
	/* long international calls: 20 international minutes after 2, acd
	 * over 600 s after 3 */
	assert_int_equal(call_full("pbx", "192.0.2.11", "+33123456789", 0, 1000,
							 700, 0, NULL),
			AF_RC_ALLOW);
	assert_int_equal(call_full("pbx", "192.0.2.11", "+33123456789", 0, 1000,
							 700, 0, NULL),
			AF_RC_ALERT);
	assert_int_equal(ve.reasons, BIT(AF_R_MINUTES));
	assert_int_equal(call_full("pbx", "192.0.2.11", "+33123456789", 0, 1000,
							 700, 0, NULL),
			AF_RC_ALERT);
	assert_int_equal(ve.reasons, BIT(AF_R_MINUTES) | BIT(AF_R_ACD_HIGH));
	/* national minutes do not count for an international scope */
	assert_int_equal(call_full("local", "192.0.2.12", "+4930123456", 0,
							 1000, 500, 0, NULL),
			AF_RC_ALLOW);
	assert_int_equal(call_full("local", "192.0.2.12", "+4930123456", 0,
							 1000, 500, 0, NULL),
			AF_RC_ALLOW);
	/* post-dial delay of 10 s over three calls */
	for(i = 0; i < 3; i++)
		rc = call_full("slow", "192.0.2.13", "+4930123456", 10000, 12000, 30,
				0, NULL);
	assert_int_equal(rc, AF_RC_ALERT);
	assert_int_equal(ve.reasons, BIT(AF_R_PDD));
}

/* minutes to some number classes only (per caller per destination
 * class) */
static void test_minutes_to_classes(void **state)
{
	start_an("  windows: [3600]\n"
			 "  minutes: {above: 10, window: 3600, scope: [mobile]}\n",
			"monitor");
	/* 20 minutes to fixed numbers: out of the scope */
	assert_int_equal(call_full("mob", "192.0.2.70", "+4930123456", 0, 1000,
							 1200, 0, NULL),
			AF_RC_ALLOW);
	/* 8 minutes to a mobile: under */
	assert_int_equal(call_full("mob", "192.0.2.70", "+4915123456789", 0, 1000,
							 480, 0, NULL),
			AF_RC_ALLOW);
	/* 4 more: 12 minutes to mobiles */
	assert_int_equal(call_full("mob", "192.0.2.70", "+4915123456789", 0, 1000,
							 240, 0, NULL),
			AF_RC_ALERT);
	assert_int_equal(ve.reasons, BIT(AF_R_MINUTES));
	assert_non_null(strstr(ve.detail, "12.0 to its classes"));
}

/* the figures of a subject, read back, then gone after their window */
static void test_figures_expire(void **state)
{
	af_figure_t f[AF_OUTCOME_WINDOWS];
	af_store_stats_t st0, st;
	af_request_t r;
	af_call_t c;
	int n;

	start_an("  windows: [60, 120]\n", "monitor");
	af_core_store()->ops->stats(af_core_store(), &st0);
	/* a started call touches no store: its end never seen, no figure */
	r = invite("ghost", "192.0.2.20", "+4930123456");
	assert_int_equal(af_call_start(&c, &r, NULL, NULL, 0, af_now_ms()), 1);
	af_call_answer(&c, af_now_ms() + 1000);
	if(!use_redis) {
		af_core_store()->ops->stats(af_core_store(), &st);
		assert_int_equal(st.entries, st0.entries);
	}
	assert_int_equal(af_outcome_figures(AF_OUT_CALLER,
							 "ghost@example.com", 17, f, err, sizeof(err)),
			2);
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 0);

	call_full("fig", "192.0.2.21", "+33123456789", 2000, 4000, 90, 0, NULL);
	call_full("fig", "192.0.2.21", "+33123456789", 1000, 0, 0, 486, NULL);
	n = af_outcome_figures(
			AF_OUT_CALLER, "fig@example.com", 15, f, err, sizeof(err));
	assert_int_equal(n, 2);
	assert_int_equal(f[0].window_s, 60);
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 2);
	assert_int_equal(f[0].c[AF_FIG_ANSWERED], 1);
	assert_int_equal(f[0].c[AF_FIG_SECONDS], 90);
	assert_int_equal(f[0].c[AF_FIG_RUNG], 2);
	assert_int_equal(f[0].c[AF_FIG_PDD_DS], 30);
	assert_true(f[0].asr > 0.49 && f[0].asr < 0.51);
	assert_true(f[0].pdd_s > 1.49 && f[0].pdd_s < 1.51);
	assert_int_equal(f[1].c[AF_FIG_ATTEMPTS], 2);
	/* the country, prefix and profile figures too */
	n = af_outcome_figures(AF_OUT_COUNTRY, "FR", 2, f, err, sizeof(err));
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 2);
	n = af_outcome_figures(AF_OUT_PREFIX, "33123", 5, f, err, sizeof(err));
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 2);
	n = af_outcome_figures(
			AF_OUT_PROFILE, "default", 7, f, err, sizeof(err));
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 2);
	/* past the longest window: nothing left, in memory too */
	test_host_advance(125 * SEC);
	n = af_outcome_figures(
			AF_OUT_CALLER, "fig@example.com", 15, f, err, sizeof(err));
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 0);
	assert_int_equal(f[1].c[AF_FIG_ATTEMPTS], 0);
	if(use_redis) {
		redisContext *rc = raw(redis_one.port);
		redisReply *rr = redisCommand(rc, "KEYS af:v2:fm:*");
		size_t i;
		assert_non_null(rr);
		/* the caller's, read after their windows, was dropped; the
		 * others (4 subjects, both windows in one key each) wait for
		 * their TTL */
		assert_int_equal(rr->elements, 4);
		for(i = 0; i < rr->elements; i++)
			assert_null(strstr(rr->element[i]->str, "fig@example.com"));
		/* every figure key has a TTL no longer than its window */
		for(i = 0; i < rr->elements; i++) {
			redisReply *t = redisCommand(rc, "PTTL %s", rr->element[i]->str);
			assert_true(t->integer > 0 && t->integer <= 125 * 1000);
			freeReplyObject(t);
		}
		freeReplyObject(rr);
		redisFree(rc);
	} else {
		af_core_store()->ops->gc(af_core_store(), af_now_ms(), 0);
		af_core_store()->ops->stats(af_core_store(), &st);
		assert_int_equal(st.entries, st0.entries);
	}
	/* the top view kept the caller until its first window passed */
	{
		af_outcome_top_t top[4];
		assert_int_equal(af_outcome_top(AF_OUT_CALLER, AF_TOP_ATTEMPTS, top,
								 4),
				0);
	}
}

/* one op over the windows w0 and w1 (0: w0 alone) adding a to the
 * first counter and b to the last */
static af_op_t fig_op(const char *key, uint32_t w0, uint32_t w1, uint32_t a,
		uint32_t b)
{
	af_op_t op;

	memset(&op, 0, sizeof(op));
	op.type = AF_OP_FIG_MULTI;
	op.key = key;
	op.key_len = strlen(key);
	op.u.fig.nwin = w1 ? 2 : 1;
	op.u.fig.w[0].window_s = w0;
	op.u.fig.w[1].window_s = w1;
	op.u.fig.n[0] = a;
	op.u.fig.n[AF_FIG_N - 1] = b;
	return op;
}

/* runs op alone, expecting rc; the first counter of its window j */
static uint32_t fig_run(af_op_t *op, int rc, int j)
{
	assert_int_equal(af_store_exec(af_core_store(), op, 1, af_now_ms()), rc);
	return op->u.fig.w[j].count[0];
}

/* the figure op of the store (both backends): every window of a subject
 * in one op, each in slices of a quarter of it, totals per counter and
 * window, reads that create nothing, a window alone found in its slot, a
 * new window taking the slot of one the op does not name (which starts
 * again), saturation, invalid windows refused, the entry gone when its
 * longest window has passed */
static void test_fig_op(void **state)
{
	af_store_t *st;
	af_store_stats_t s0, s1;
	af_op_t op;
	int j;

	start_an("  windows: [60]\n", "monitor");
	st = af_core_store();
	st->ops->stats(st, &s0);
	op = fig_op("t|a", 60, 240, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), 0);
	assert_int_equal(op.u.fig.w[1].count[0], 0);
	st->ops->stats(st, &s1);
	if(!use_redis)
		assert_int_equal(s1.entries, s0.entries); /* a read created nothing */
	op = fig_op("t|a", 60, 240, 2, 100);
	assert_int_equal(fig_run(&op, 0, 0), 2);
	assert_int_equal(op.u.fig.w[0].count[AF_FIG_N - 1], 100);
	assert_int_equal(op.u.fig.w[1].count[0], 2);
	assert_int_equal(op.u.fig.w[1].count[AF_FIG_N - 1], 100);
	st->ops->stats(st, &s1);
	if(!use_redis) /* both windows in one entry */
		assert_int_equal(s1.entries, s0.entries + 1);
	test_host_advance(20 * SEC);
	op = fig_op("t|a", 60, 240, 3, 0);
	assert_int_equal(fig_run(&op, 0, 0), 5);
	assert_int_equal(op.u.fig.w[0].count[AF_FIG_N - 1], 100);
	assert_int_equal(op.u.fig.w[0].count[3], 0);
	assert_int_equal(op.u.fig.w[1].count[0], 5);
	/* 45 s later the first slice of 15 s has left the 60 s window, the
	 * second not; the 240 s window (slices of 60 s) keeps both */
	test_host_advance(45 * SEC);
	op = fig_op("t|a", 60, 240, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), 3);
	assert_int_equal(op.u.fig.w[0].count[AF_FIG_N - 1], 0);
	assert_int_equal(op.u.fig.w[1].count[0], 5);
	assert_int_equal(op.u.fig.w[1].count[AF_FIG_N - 1], 100);
	/* a window alone, in any order: its own slot */
	op = fig_op("t|a", 240, 0, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), 5);
	op = fig_op("t|a", 240, 60, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), 5);
	assert_int_equal(op.u.fig.w[1].count[0], 3);
	/* another window length takes a new slot (the entry grows to
	 * AF_FIG_WIN_MAX) and starts at 0; the others stay */
	op = fig_op("t|a", 120, 0, 1, 0);
	assert_int_equal(fig_run(&op, 0, 0), 1);
	op = fig_op("t|a", 60, 240, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), 3);
	assert_int_equal(op.u.fig.w[1].count[0], 5);
	/* one more takes the slot of the first window the op does not name
	 * (60 s); a read of that window then starts it again in the slot
	 * of the first it does not name (30 s), the others untouched */
	op = fig_op("t|a", 30, 0, 1, 0);
	assert_int_equal(fig_run(&op, 0, 0), 1);
	op = fig_op("t|a", 60, 240, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), 0);
	assert_int_equal(op.u.fig.w[1].count[0], 5);
	op = fig_op("t|a", 120, 30, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), 1);
	assert_int_equal(op.u.fig.w[1].count[0], 0);
	/* saturation, in every window */
	op = fig_op("t|b", 60, 30, UINT32_MAX, 0);
	fig_run(&op, 0, 0);
	op = fig_op("t|b", 60, 30, 5, 0);
	assert_int_equal(fig_run(&op, 0, 0), UINT32_MAX);
	assert_int_equal(op.u.fig.w[1].count[0], UINT32_MAX);
	/* refused, every count 0: a window of 0, twice the same window, no
	 * window, more than AF_FIG_WIN_MAX */
	op = fig_op("t|c", 0, 0, 1, 0);
	op.u.fig.w[0].count[0] = 7;
	assert_int_equal(fig_run(&op, -1, 0), 0);
	assert_int_equal(op.status, -1);
	op = fig_op("t|b", 60, 60, 1, 0);
	assert_int_equal(fig_run(&op, -1, 0), 0);
	for(j = 0; j <= AF_FIG_WIN_MAX + 1; j += AF_FIG_WIN_MAX + 1) {
		op = fig_op("t|b", 60, 30, 1, 0);
		op.u.fig.nwin = j;
		op.u.fig.w[1].count[0] = 7;
		assert_int_equal(fig_run(&op, -1, 1), 0);
		assert_int_equal(op.status, -1);
	}
	op = fig_op("t|b", 60, 30, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), UINT32_MAX); /* untouched */
	/* the entry lives as long as its longest window: the first
	 * additions' slice of 60 s began 20 s before them (T0), so at 215 s
	 * the 240 s window still has them and at 225 s nothing is left */
	test_host_advance(150 * SEC);
	op = fig_op("t|a", 240, 0, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), 5);
	test_host_advance(10 * SEC);
	op = fig_op("t|a", 240, 0, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), 0);
	op = fig_op("t|b", 60, 30, 0, 0);
	assert_int_equal(fig_run(&op, 0, 0), 0);
	if(!use_redis) {
		st->ops->gc(st, af_now_ms(), 0);
		st->ops->stats(st, &s1);
		assert_int_equal(s1.entries, s0.entries);
	}
}

/* the duration guard fires once, when the call crosses its limit */
static void test_duration_guard(void **state)
{
	af_request_t r;
	af_call_t c;
	uint64_t t0;
	int rc;

	start_an("  windows: [60]\n"
			 "  duration: {international: 120, national: 0,"
			 " classes: {mobile: 600}, risk: {1: 60}}\n",
			"enforce");
	r = invite("long", "192.0.2.30", "+33123456789");
	assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_ALLOW);
	t0 = af_now_ms();
	assert_int_equal(af_call_start(&c, &r, &vd, NULL, 0, t0), 1);
	assert_int_equal(c.limit_s, 120);
	/* not answered: no deadline yet */
	assert_int_equal(af_call_deadline(&c), 0);
	af_call_answer(&c, t0 + 5 * SEC);
	assert_int_equal(af_call_deadline(&c), t0 + 125 * SEC);
	assert_int_equal(af_call_guard(&c, t0 + 124 * SEC, &ve), AF_RC_NORULE);
	rc = af_call_guard(&c, t0 + 125 * SEC, &ve);
	assert_int_equal(rc, AF_RC_BLOCK);
	assert_int_equal(ve.reasons, BIT(AF_R_DURATION));
	assert_non_null(strstr(ve.detail, "limit 120s"));
	/* once */
	assert_int_equal(af_call_guard(&c, t0 + 200 * SEC, &ve), AF_RC_NORULE);
	assert_int_equal(af_call_deadline(&c), 0);
	assert_int_equal(
			af_call_end(&c, 200, t0 + 126 * SEC, &ve), AF_RC_ALLOW);
	af_dest_release(&vd.dest.ticket);
	/* a national call has no limit */
	r = invite("local", "192.0.2.30", "+4930123456");
	af_check_dest(&r, NULL, 0, &vd);
	assert_int_equal(af_call_start(&c, &r, &vd, NULL, 0, t0), 1);
	assert_int_equal(c.limit_s, 0);
	af_call_answer(&c, t0);
	assert_int_equal(af_call_deadline(&c), 0);
	/* a risk-1 number takes the lower limit; a call af_check_dest did
	 * not see is classified from the rules */
	r = invite("risky", "192.0.2.30", "+33999999999");
	assert_int_equal(af_call_start(&c, &r, NULL, NULL, 0, t0), 1);
	assert_int_equal(c.risk, 1);
	assert_int_equal(c.limit_s, 60);
	/* monitor mode alerts only */
	stop();
	start_an("  windows: [60]\n  duration: {international: 10}\n",
			"monitor");
	r = invite("long", "192.0.2.30", "+33123456789");
	assert_int_equal(af_call_start(&c, &r, NULL, NULL, 0, t0), 1);
	af_call_answer(&c, t0);
	assert_int_equal(af_call_guard(&c, t0 + 10 * SEC, &ve), AF_RC_ALERT);
}

/* af_call_end_release frees the call's concurrency slots in the batch of
 * its figures; a call not followed still gives them back */
static void test_end_releases_slots(void **state)
{
	af_request_t r;
	af_call_t c;
	uint32_t total, limit;
	int holiday, hour;

	start("  concurrency: {workday: {default: 5},"
		  " holiday: {default: 5}}\n"
		  "analytics:\n  windows: [60]\n"
		  "profiles:\n  default:\n    domains: [example.com]\n"
		  "    mode: {analytics: monitor}\n"
		  "    dest: {country: DE, international: true}\n");
	r = invite("slot", "192.0.2.60", "+33123456789");
	assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_ALLOW);
	assert_true(vd.dest.ticket.total);
	assert_int_equal(af_dest_concurrency(&total, &limit, &holiday, &hour), 0);
	assert_int_equal(total, 1);
	assert_int_equal(af_call_start(&c, &r, &vd, NULL, 0, af_now_ms()), 1);
	af_call_answer(&c, af_now_ms());
	test_host_advance(30 * SEC);
	assert_int_equal(af_call_end_release(&c, 200, af_now_ms(),
							 &vd.dest.ticket, &ve),
			AF_RC_ALLOW);
	assert_int_equal(af_dest_concurrency(&total, &limit, &holiday, &hour), 0);
	assert_int_equal(total, 0);
	/* ended already: nothing counted again, the slots (gone) ignored */
	assert_int_equal(af_call_end_release(&c, 200, af_now_ms(),
							 &vd.dest.ticket, &ve),
			AF_RC_NORULE);
	/* a call not followed (analytics off) gives its slots back too */
	stop();
	start("  concurrency: {workday: {default: 5},"
		  " holiday: {default: 5}}\n"
		  "profiles:\n  default:\n    domains: [example.com]\n"
		  "    dest: {country: DE, international: true}\n");
	r = invite("slot2", "192.0.2.60", "+33123456789");
	assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_ALLOW);
	assert_int_equal(af_call_start(&c, &r, &vd, NULL, 0, af_now_ms()), 0);
	af_dest_concurrency(&total, &limit, &holiday, &hour);
	assert_int_equal(total, 1);
	assert_int_equal(af_call_end_release(&c, 486, af_now_ms(),
							 &vd.dest.ticket, &ve),
			AF_RC_NORULE);
	af_dest_concurrency(&total, &limit, &holiday, &hour);
	assert_int_equal(total, 0);
}

/* af_calls_end: what each call's verdict was, in order */
static struct {
	int n;
	int rc[64];
	char detail[64][AF_DETAIL_MAX];
} ends_seen;

static void ends_cb(af_call_t *c, af_verdict_t *v, void *arg)
{
	int i = ends_seen.n++;

	/* NULL for a release alone */
	assert_true(c != NULL || v->rc == AF_RC_NORULE);
	assert_ptr_equal(arg, &ends_seen);
	if(i < 64) {
		ends_seen.rc[i] = v->rc;
		snprintf(ends_seen.detail[i], sizeof(ends_seen.detail[i]), "%s",
				v->detail);
	}
}

/*
 * af_calls_end: calls of one caller ended together count as many ends
 * (their additions summed into one op per subject), every ticket's
 * slots go back in the same batch, each call is judged on the figures
 * after the batch; 40 calls split into batches of AF_CALLS_END_MAX; a
 * call not followed or ended already only gives its slots back.
 */
static void test_calls_end_batch(void **state)
{
	static af_call_t c[40];
	static af_dest_ticket_t tk[40];
	af_call_end_item_t it[41];
	af_figure_t f[4];
	af_request_t r;
	uint32_t total, limit;
	int i, holiday, hour;
	char name[32];

	start("  concurrency: {workday: {default: 20},"
		  " holiday: {default: 20}}\n"
		  "analytics:\n  windows: [900]\n"
		  "  asr: {below: 30, min_sample: 10, window: 900,"
		  " subjects: [caller]}\n"
		  "profiles:\n  default:\n    domains: [example.com]\n"
		  "    mode: {analytics: monitor}\n"
		  "    dest: {country: DE, international: true}\n");
	/* 12 calls of one caller, 2 answered (30 s), 10 not */
	for(i = 0; i < 12; i++) {
		r = invite("batch", "192.0.2.70", "+33123456789");
		assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_ALLOW);
		assert_true(vd.dest.ticket.total);
		tk[i] = vd.dest.ticket;
		assert_int_equal(af_call_start(&c[i], &r, &vd, NULL, 0, af_now_ms()), 1);
		if(i < 2)
			af_call_answer(&c[i], af_now_ms());
	}
	af_dest_concurrency(&total, &limit, &holiday, &hour);
	assert_int_equal(total, 12);
	test_host_advance(30 * SEC);
	for(i = 0; i < 12; i++) {
		it[i].c = &c[i];
		it[i].code = i < 2 ? 200 : 480;
		it[i].end_ms = af_now_ms();
		it[i].t = &tk[i];
	}
	/* a release alone rides along */
	r = invite("alone", "192.0.2.71", "+33123456789");
	assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_ALLOW);
	it[12].c = NULL;
	it[12].code = 0;
	it[12].end_ms = af_now_ms();
	it[12].t = &vd.dest.ticket;
	af_dest_concurrency(&total, &limit, &holiday, &hour);
	assert_int_equal(total, 13);
	memset(&ends_seen, 0, sizeof(ends_seen));
	af_calls_end(it, 13, af_now_ms(), ends_cb, &ends_seen);
	af_dest_concurrency(&total, &limit, &holiday, &hour);
	assert_int_equal(total, 0);
	assert_int_equal(ends_seen.n, 13);
	/* 2 of 12 answered: 17 % < 30 % over 12 >= 10, for each call */
	for(i = 0; i < 12; i++) {
		assert_int_equal(ends_seen.rc[i], AF_RC_ALERT);
		assert_non_null(strstr(ends_seen.detail[i],
				"asr_low caller batch@example.com: 17% of 12"));
	}
	assert_int_equal(ends_seen.rc[12], AF_RC_NORULE);
	assert_int_equal(af_outcome_figures(AF_OUT_CALLER, "batch@example.com",
							 17, f, err, sizeof(err)),
			1);
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 12);
	assert_int_equal(f[0].c[AF_FIG_ANSWERED], 2);
	assert_int_equal(f[0].c[AF_FIG_SECONDS], 60);
	assert_int_equal(af_outcome_figures(AF_OUT_COUNTRY, "FR", 2, f, err,
							 sizeof(err)),
			1);
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 12);
	/* ended already: nothing counted again */
	memset(&ends_seen, 0, sizeof(ends_seen));
	af_calls_end(it, 2, af_now_ms(), ends_cb, &ends_seen);
	assert_int_equal(ends_seen.n, 2);
	assert_int_equal(ends_seen.rc[0], AF_RC_NORULE);
	assert_int_equal(ends_seen.rc[1], AF_RC_NORULE);
	/* 40 callers, one call each: two batches, each caller counted once */
	for(i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "many%d", i);
		r = invite(name, "192.0.2.72", "+4930123456");
		assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_ALLOW);
		assert_int_equal(af_call_start(&c[i], &r, &vd, NULL, 0, af_now_ms()), 1);
		it[i].c = &c[i];
		it[i].code = 486;
		it[i].end_ms = af_now_ms();
		it[i].t = NULL;
	}
	memset(&ends_seen, 0, sizeof(ends_seen));
	af_calls_end(it, 40, af_now_ms(), ends_cb, &ends_seen);
	assert_int_equal(ends_seen.n, 40);
	for(i = 0; i < 40; i++)
		assert_int_equal(ends_seen.rc[i], AF_RC_ALLOW);
	assert_int_equal(af_outcome_figures(AF_OUT_CALLER, "many39@example.com",
							 18, f, err, sizeof(err)),
			1);
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 1);
	assert_int_equal(af_outcome_figures(AF_OUT_SOURCE, "192.0.2.72", 10, f,
							 err, sizeof(err)),
			1);
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 40);
}

/* analytics off, or no section: nothing followed */
static void test_not_followed(void **state)
{
	af_request_t r = invite("x", "192.0.2.40", "+4930123456");
	af_call_t c;

	start_an("  windows: [60]\n", "off");
	assert_int_equal(af_call_start(&c, &r, NULL, NULL, 0, af_now_ms()), 0);
	assert_int_equal(af_call_end(&c, 486, af_now_ms(), &ve), AF_RC_NORULE);
	stop();
	start("profiles:\n  default:\n    domains: [example.com]\n");
	assert_int_equal(af_call_start(&c, &r, NULL, NULL, 0, af_now_ms()), 0);
	/* a REGISTER is no call */
	r.method = AF_M_REGISTER;
	assert_int_equal(af_call_start(&c, &r, NULL, NULL, 0, af_now_ms()), 0);
}

/* n signals of src: requests of method m answered with code */
static int signals(const char *src, af_method_t m, int code, int n)
{
	af_request_t r;
	af_verdict_t v;
	int i, rc = AF_RC_NORULE;

	memset(&r, 0, sizeof(r));
	r.method = m;
	r.initial = 1;
	r.src_ip = IP(src);
	for(i = 0; i < 2 * n; i++)
		if(af_signal_count(&r, i % 2 ? code : 0, af_now_ms(), &v)
				== AF_RC_ALERT) {
			rc = AF_RC_ALERT;
			ve = v; /* the alert's verdict */
		}
	return rc;
}

static int alerts_seen;
static char alert_subject[64];

static void on_alert(const af_verdict_t *v, const char *subject, void *arg)
{
	alerts_seen++;
	snprintf(alert_subject, sizeof(alert_subject), "%s", subject);
}

/* the signal mix: a storm of 404 diverges from the learned mix; the
 * alerting windows teach nothing */
static void test_signal_mix(void **state)
{
	af_outcome_slot_stat_t ss;
	uint64_t learned;
	int i, holiday = 0, hour = (int)((af_now_ms() / 3600000) % 24);

	start_an("  windows: [60]\n"
			 "  signal_mix: {window: 10, min_signals: 20, threshold: 1.5,"
			 " learn: 3, subjects: [source]}\n",
			"monitor");
	/* three windows of calls: INVITE answered, BYE answered, a few
	 * busy */
	for(i = 0; i < 3; i++) {
		assert_int_equal(signals("192.0.2.50", AF_M_INVITE, 200, 10),
				AF_RC_NORULE);
		signals("192.0.2.50", AF_M_BYE, 200, 8);
		signals("192.0.2.50", AF_M_INVITE, 486, 2);
		test_host_advance(11 * SEC);
		af_outcome_timer(af_now_ms(), on_alert, NULL);
	}
	assert_int_equal(alerts_seen, 0);
	af_outcome_slot_stat(holiday, hour, &ss);
	assert_int_equal(ss.mix_windows, 3);
	/* the same mix again: no alert, it learns */
	signals("192.0.2.50", AF_M_INVITE, 200, 10);
	signals("192.0.2.50", AF_M_BYE, 200, 10);
	test_host_advance(11 * SEC);
	af_outcome_timer(af_now_ms(), on_alert, NULL);
	assert_int_equal(alerts_seen, 0);
	af_outcome_slot_stat(holiday, hour, &ss);
	learned = ss.mix_windows;
	assert_int_equal(learned, 4);
	/* a scan: OPTIONS and INVITE answered 404; judged when its window
	 * closes, by the next signal of the source */
	signals("192.0.2.51", AF_M_OPTIONS, 404, 20);
	signals("192.0.2.51", AF_M_INVITE, 404, 20);
	test_host_advance(11 * SEC);
	assert_int_equal(signals("192.0.2.51", AF_M_OPTIONS, 404, 1),
			AF_RC_ALERT);
	assert_true(ve.reasons & BIT(AF_R_SIGNAL_MIX));
	assert_int_equal(ve.blocking, 0);
	assert_non_null(strstr(ve.detail, "signal_mix source 192.0.2.51"));
	assert_non_null(strstr(ve.detail, "404"));
	/* a REGISTER flood answered 401, judged by the timer */
	signals("192.0.2.52", AF_M_REGISTER, 401, 30);
	test_host_advance(11 * SEC);
	af_outcome_timer(af_now_ms(), on_alert, NULL);
	assert_int_equal(alerts_seen, 1);
	assert_string_equal(alert_subject, "192.0.2.52");
	/* the alerting windows taught nothing */
	af_outcome_slot_stat(holiday, hour, &ss);
	assert_int_equal(ss.mix_windows, learned);
	assert_true(af_core_reason_count(AF_R_SIGNAL_MIX) >= 2);
}

/* a realistic legitimate mix over many callers raises nothing */
static void test_legit_mix(void **state)
{
	static const char *numbers[] = {"+4930123456", "+4940123456",
			"+33123456789", "+4989123456"};
	af_outcome_top_t top[8];
	af_outcome_slot_stat_t ss;
	char caller[32], src[32];
	unsigned seed = 12345;
	int i, rc, k, holiday, hour, got;

	start_an("  windows: [900, 3600]\n"
			 "  short_call: 6\n"
			 "  asr: {below: 30, min_sample: 10, window: 900,"
			 " subjects: [caller, source, country]}\n"
			 "  acd: {above: 900, min_sample: 5, window: 3600}\n"
			 "  short_calls: {above: 50, min_sample: 10, window: 900}\n"
			 "  minutes: {above: 240, window: 3600}\n"
			 "  pdd: {above: 10, min_sample: 10, window: 900}\n",
			"enforce");
	for(i = 0; i < 300; i++) {
		seed = seed * 1103515245u + 12345u;
		k = (int)((seed >> 8) % 100);
		snprintf(caller, sizeof(caller), "user%u", (seed >> 4) % 20);
		snprintf(src, sizeof(src), "198.51.100.%u", (seed >> 12) % 10 + 1);
		if(k < 60) /* answered, 2 to 4 min */
			rc = call_full(caller, src, numbers[(seed >> 16) % 4],
					2000 + (int)(seed % 3000), 8000,
					120 + (int)((seed >> 5) % 120), 0, NULL);
		else if(k < 80) /* busy */
			rc = call_full(caller, src, numbers[(seed >> 16) % 4], 1500, 0,
					0, 486, NULL);
		else /* rang, not answered */
			rc = call_full(caller, src, numbers[(seed >> 16) % 4], 3000, 0,
					0, 487, NULL);
		if(rc != AF_RC_ALLOW)
			fail_msg("call %d: rc %d: %s", i, rc, ve.detail);
		test_host_advance(5 * SEC);
		af_outcome_timer(af_now_ms(), NULL, NULL);
	}
	/* the top view ranks the callers of the first window (15 min) by
	 * attempts */
	got = af_outcome_top(AF_OUT_CALLER, AF_TOP_ATTEMPTS, top, 8);
	assert_true(got >= 3);
	for(i = 1; i < got; i++)
		assert_true(top[i - 1].fig.c[AF_FIG_ATTEMPTS]
					>= top[i].fig.c[AF_FIG_ATTEMPTS]);
	/* baselines: minutes sampled in the hours the calls ran, ASR about
	 * 60 %, ACD 2 to 4 min */
	af_outcome_slot_now(af_now_ms() - 3600 * SEC, &holiday, &hour);
	af_outcome_slot_stat(holiday, hour, &ss);
	assert_true(ss.samples > 5);
	assert_true(ss.asr_mean > 0.3 && ss.asr_mean < 0.9);
	assert_true(ss.acd_mean > 100 && ss.acd_mean < 260);
	assert_true(ss.attempts_mean > 0);
}

/* what the held calls' guard asked of the "glue" */
static int guard_alerts, guard_ends, guard_drops;
static af_verdict_t guard_v;
static af_dlg_id_t guard_id;
static af_hold_t *guard_dialog; /* the call the "dialog module" ends */

static void guard_alert(const af_request_t *req, const af_verdict_t *v)
{
	guard_alerts++;
	guard_v = *v;
	assert_int_equal(req->from_user.len, strlen("held"));
}

/* the dialog module ends the dialog: its callbacks end the held call
 * from inside, as OpenSIPS's terminate_dlg does */
static int guard_end(const af_dlg_id_t *id)
{
	af_request_t req;
	af_verdict_t v;

	guard_ends++;
	guard_id = *id;
	af_module_hold_end(guard_dialog, 200, &req, &v);
	return 1;
}

/* the hold lets go of an id it does not use (a reference on Kamailio) */
static void guard_drop(const af_dlg_id_t *id)
{
	guard_drops++;
}

/*
 * Calls held by their dialogs (af_module_call.c, the OpenSIPS glue's
 * model): slots and outcome in one hold, the duration guard's table
 * ending an enforced call through the glue and counting it once, a
 * hold freed while in the table, a full table, a refused call.
 */
static void test_held_calls(void **state)
{
	af_request_t r, req;
	af_held_t x;
	af_hold_t *h, *h2, *h3;
	af_dlg_id_t id = {7, 9};
	af_figure_t f[AF_OUTCOME_WINDOWS];
	uint32_t total, limit;
	int holiday, hour;
	char why[128];
	uint64_t terminated = af_core_stat(AF_ST_CALLS_TERMINATED);

	start("  concurrency: {workday: {default: 5},"
		  " holiday: {default: 5}}\n"
		  "analytics:\n  windows: [60]\n"
		  "  duration: {international: 120, national: 0}\n"
		  "profiles:\n  default:\n    domains: [example.com]\n"
		  "    mode: {analytics: enforce}\n"
		  "    dest: {country: DE, international: true}\n");
	assert_int_equal(af_module_guard_init(2, guard_end, guard_drop), 0);
	guard_alerts = guard_ends = guard_drops = 0;
	r = invite("held", "192.0.2.70", "+33123456789");
	assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_ALLOW);
	assert_int_equal(af_module_held(&r, &vd, &x), 1);
	assert_true(x.has_ticket && (x.c.flags & AF_CALL_FOLLOWED));
	h = af_module_hold(&x);
	assert_non_null(h);
	assert_true(af_module_hold_follows(h));
	af_module_hold_ring(h, 180);
	test_host_advance(2 * SEC);
	assert_false(af_module_hold_wants_id(h)); /* not answered yet */
	af_module_hold_answer(h, NULL);
	assert_true(af_module_hold_wants_id(h));
	af_module_hold_answer(h, &id);
	assert_false(af_module_hold_wants_id(h));
	/* a second id is not taken: given back */
	af_module_hold_answer(h, &id);
	assert_int_equal(guard_drops, 1);
	/* not yet past its limit */
	test_host_advance(100 * SEC);
	af_module_outcome_timer(guard_alert);
	assert_int_equal(guard_alerts, 0);
	/* past it: alerts once, the glue ends the dialog, which ends the
	 * call: counted, its slot back */
	test_host_advance(21 * SEC);
	guard_dialog = h;
	af_module_outcome_timer(guard_alert);
	assert_int_equal(guard_alerts, 1);
	assert_int_equal(guard_v.rc, AF_RC_BLOCK);
	assert_int_equal(guard_v.reasons, BIT(AF_R_DURATION));
	assert_int_equal(guard_ends, 1);
	assert_true(guard_id.a == 7 && guard_id.b == 9);
	/* the id was the guard's: not given back again at the end */
	assert_int_equal(guard_drops, 1);
	assert_int_equal(af_core_stat(AF_ST_CALLS_TERMINATED), terminated + 1);
	assert_int_equal(af_dest_concurrency(&total, &limit, &holiday, &hour), 0);
	assert_int_equal(total, 0);
	assert_int_equal(af_outcome_figures(AF_OUT_CALLER, "held@example.com",
							 strlen("held@example.com"), f, why, sizeof(why)),
			1);
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 1);
	assert_int_equal(f[0].c[AF_FIG_ANSWERED], 1);
	assert_int_equal(f[0].c[AF_FIG_RUNG], 1);
	/* the dialog's later callbacks and its end count nothing again */
	assert_int_equal(af_module_hold_end(h, 200, &req, &ve), 0);
	af_module_hold_free(h);
	af_module_outcome_timer(guard_alert);
	assert_int_equal(guard_alerts, 1);
	assert_int_equal(af_outcome_figures(AF_OUT_CALLER, "held@example.com",
							 strlen("held@example.com"), f, why, sizeof(why)),
			1);
	assert_int_equal(f[0].c[AF_FIG_ATTEMPTS], 1);

	/* a table of 2: the third answered call is not guarded; a hold
	 * freed while in the table leaves it (ASan: no use after free) */
	r = invite("held", "192.0.2.70", "+33123456780");
	assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_ALLOW);
	assert_int_equal(af_module_held(&r, &vd, &x), 1);
	h = af_module_hold(&x);
	h2 = af_module_hold(&x);
	h3 = af_module_hold(&x);
	af_module_hold_answer(h, &id);
	af_module_hold_answer(h2, NULL);
	af_module_hold_answer(h3, &id);
	af_module_hold_free(h);
	test_host_advance(200 * SEC);
	guard_dialog = NULL;
	af_module_outcome_timer(guard_alert);
	/* h2 alerts, without an id it is not ended; h3 was never guarded;
	 * h's id went back when it was freed, h3's when it ends */
	assert_int_equal(guard_alerts, 2);
	assert_int_equal(guard_ends, 1);
	assert_int_equal(guard_drops, 2);
	af_module_hold_free(h2);
	af_module_hold_free(h3);
	assert_int_equal(guard_drops, 3);
	assert_int_equal(af_dest_concurrency(&total, &limit, &holiday, &hour), 0);

	/* a refused call holds nothing */
	r = invite("held", "192.0.2.70", "+53123456789");
	memset(&vd, 0, sizeof(vd));
	vd.rc = AF_RC_BLOCK;
	assert_int_equal(af_module_held(&r, &vd, &x), 0);
	af_module_guard_destroy();
}

/*
 * The queue of call ends (end_batch_interval): bad sizes refused; ends
 * queued by af_module_hold_end (nothing counted, slots still held) until
 * af_module_ends_flush ends them in one batch (their alerts to its
 * callback); a full queue ends the call at once; af_module_ends_last
 * ends what is left.
 */
/* an alert of the queued ends: the caller's request */
static void queue_alert(const af_request_t *req, const af_verdict_t *v)
{
	guard_alerts++;
	guard_v = *v;
	assert_int_equal(req->from_user.len, strlen("queued"));
	assert_memory_equal(req->from_user.s, "queued", 6);
}

static void test_end_queue(void **state)
{
	af_params_t p = AF_PARAMS_DEFAULT("/nonexistent/antifraud.yaml");
	af_request_t r, req;
	af_held_t x;
	af_hold_t *h[4];
	char why[256];
	uint32_t total, limit;
	int i, holiday, hour;
	uint64_t ended = af_core_stat(AF_ST_CALLS_ENDED),
			 queued = af_core_stat(AF_ST_ENDS_QUEUED),
			 batches = af_core_stat(AF_ST_END_BATCHES),
			 unqueued = af_core_stat(AF_ST_ENDS_UNQUEUED);

	start("  concurrency: {workday: {default: 5},"
		  " holiday: {default: 5}}\n"
		  "analytics:\n  windows: [60]\n"
		  "  asr: {below: 50, min_sample: 3, window: 60, subjects: [caller]}\n"
		  "profiles:\n  default:\n    domains: [example.com]\n"
		  "    mode: {analytics: monitor}\n"
		  "    dest: {country: DE, international: true}\n");
	p.end_batch_interval = AF_END_INTERVAL_MAX + 1;
	assert_int_equal(af_module_ends_init(&p, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "end_batch_interval must be -1..1000 ms"));
	p.end_batch_interval = 50;
	p.end_batch_queue = 0;
	assert_int_equal(af_module_ends_init(&p, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "end_batch_queue"));
	/* -1: none in shared-memory mode */
	p.end_batch_interval = -1;
	p.end_batch_queue = 2;
	assert_int_equal(af_module_ends_init(&p, why, sizeof(why)), 0);
	assert_int_equal(af_module_end_batch_ms(), 0);
	/* set: a queue of 2 */
	p.end_batch_interval = 50;
	assert_int_equal(af_module_ends_init(&p, why, sizeof(why)), 0);
	assert_int_equal(af_module_end_batch_ms(), 50);
	assert_int_equal(af_module_guard_init(8, NULL, NULL), 0);
	for(i = 0; i < 4; i++) {
		r = invite("queued", "192.0.2.80", "+33123456789");
		assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_ALLOW);
		assert_int_equal(af_module_held(&r, &vd, &x), 1);
		h[i] = af_module_hold(&x);
		assert_non_null(h[i]);
	}
	af_dest_concurrency(&total, &limit, &holiday, &hour);
	assert_int_equal(total, 4);
	/* two fit the queue: nothing counted, the slots still held */
	assert_int_equal(af_module_hold_end(h[0], 486, &req, &ve), 0);
	assert_int_equal(af_module_hold_end(h[1], 486, &req, &ve), 0);
	assert_int_equal(af_core_stat(AF_ST_ENDS_QUEUED), queued + 2);
	assert_int_equal(af_core_stat(AF_ST_CALLS_ENDED), ended);
	af_dest_concurrency(&total, &limit, &holiday, &hour);
	assert_int_equal(total, 4);
	/* the third finds the queue full: ended at once */
	assert_int_equal(af_module_hold_end(h[2], 486, &req, &ve), 0);
	assert_int_equal(af_core_stat(AF_ST_ENDS_UNQUEUED), unqueued + 1);
	assert_int_equal(af_core_stat(AF_ST_CALLS_ENDED), ended + 1);
	af_dest_concurrency(&total, &limit, &holiday, &hour);
	assert_int_equal(total, 3);
	/* the flush: both in one batch, judged on the figures after it
	 * (3 failed calls: 0 % < 50 %), their alerts to the callback */
	guard_alerts = 0;
	af_module_ends_flush(queue_alert);
	assert_int_equal(af_core_stat(AF_ST_END_BATCHES), batches + 1);
	assert_int_equal(af_core_stat(AF_ST_CALLS_ENDED), ended + 3);
	assert_int_equal(guard_alerts, 2);
	assert_true(guard_v.reasons & BIT(AF_R_ASR_LOW));
	af_dest_concurrency(&total, &limit, &holiday, &hour);
	assert_int_equal(total, 1);
	/* an end queued then left at shutdown is ended by ends_last */
	assert_int_equal(af_module_hold_end(h[3], 200, &req, &ve), 0);
	af_module_ends_last();
	assert_int_equal(af_core_stat(AF_ST_CALLS_ENDED), ended + 4);
	af_dest_concurrency(&total, &limit, &holiday, &hour);
	assert_int_equal(total, 0);
	for(i = 0; i < 4; i++)
		af_module_hold_free(h[i]);
	assert_int_equal(af_core_stat(AF_ST_CALLS_ENDED), ended + 4);
	af_module_ends_destroy();
	assert_int_equal(af_module_end_batch_ms(), 0);
	af_module_guard_destroy();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest shm_tests[] = {
			T(test_rules_refused),
			T(test_fig_op),
			T(test_asr_low),
			T(test_enforce_cooling),
			T(test_other_rules),
			T(test_minutes_to_classes),
			T(test_figures_expire),
			T(test_duration_guard),
			T(test_not_followed),
			T(test_end_releases_slots),
			T(test_calls_end_batch),
			T(test_end_queue),
			T(test_held_calls),
			T(test_signal_mix),
			T(test_legit_mix),
	};
	const struct CMUnitTest redis_tests[] = {
			T(test_fig_op),
			T(test_end_releases_slots),
			T(test_calls_end_batch),
			T(test_asr_low),
			T(test_enforce_cooling),
			T(test_other_rules),
			T(test_figures_expire),
			T(test_duration_guard),
			T(test_legit_mix),
	};
	int rc;

	test_host_init();
	rc = cmocka_run_group_tests_name("outcome_shm", shm_tests, NULL, NULL);
	rc += cmocka_run_group_tests_name("outcome_redis", redis_tests,
			redis_group_setup, redis_group_teardown);
	return rc;
}
