/*
 * antifraud unit tests - af_check_dest() through af_core_init() with the
 * shipped number plan (etc/antifraud-numplan.csv): classes of service,
 * plan policy (international, premium, classes, countries, ranges and
 * exceptions, risk), caller table, schedules in a time zone, rates and
 * repetition windows at their edges, concurrency sets with release and
 * expiry, and the statistics. Time runs on the injected clock.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "af_core.h"
#include "af_host.h"
#include "host.h"
#include "core_fixture.h"

#define MIN (60 * SEC)
/* Monday 2026-11-23 10:00 UTC (11:00 in Berlin) */
#define MON10 1795428000000ULL
/* Monday 06:59 and 07:00 UTC: 07:59 and 08:00 in Berlin */
#define MON0659 1795417140000ULL
#define MON0700 1795417200000ULL
#define MON1659 1795453140000ULL
#define MON1700 1795453200000ULL
/* Saturday 2026-11-28 10:00 UTC; Friday 2026-12-25 10:00 UTC */
#define SAT10 1795860000000ULL
#define XMAS10 1798192800000ULL

#define BIT(r) AF_REASON_BIT(r)

static af_verdict_t vd;
static int callno;

/* the common head of every rule file: plan, calendars, profiles' base */
static const char *head =
		"version: 1\n"
		"dest:\n"
		"  numplan: etc/antifraud-numplan.csv\n"
		"  calendars:\n"
		"    berlin:\n"
		"      timezone: Europe/Berlin\n"
		"      hours: {mon-fri: \"08:00-18:00\"}\n"
		"      holidays: [\"12-25\"]\n"
		"  calendar: berlin\n"
		"  max_duration: 600\n";

/* text with the repo-relative plan path made absolute (the rule file
 * lives in TMPDIR; tests run from the repository's top) */
static const char *plan_abs(const char *text)
{
	static char out[16384];
	static const char rel[] = "etc/antifraud-numplan.csv";
	char cwd[400];
	const char *at;
	size_t o = 0, n;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	while((at = strstr(text, rel))) {
		n = (size_t)(at - text);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s%s/%s",
				(int)n, text, cwd, rel);
		text = at + sizeof(rel) - 1;
	}
	snprintf(out + o, sizeof(out) - o, "%s", text);
	return out;
}

/* writes head + body as the rule file */
static void write_rules(const char *body)
{
	char text[16384];

	snprintf(text, sizeof(text), "%s%s", head, body);
	write_rules_text(plan_abs(text));
}

static void start(const char *body)
{
	write_rules(body);
	start_rules(0);
}

/* per test: the clock at MON10, inside the berlin calendar's hours */
static int setup_monday(void **state)
{
	return setup_at(MON10);
}

/* checks a call from caller to number (unique Call-ID); returns rc */
static int call_as(const char *profile, const char *caller,
		const char *number)
{
	static char callid[64];
	af_request_t r;

	memset(&r, 0, sizeof(r));
	r.method = AF_M_INVITE;
	r.initial = 1;
	r.from_user.s = caller;
	r.from_user.len = strlen(caller);
	r.from_host.s = "example.com";
	r.from_host.len = 11;
	r.ruri_user.s = number;
	r.ruri_user.len = strlen(number);
	snprintf(callid, sizeof(callid), "call-%d@test", ++callno);
	r.call_id.s = callid;
	r.call_id.len = strlen(callid);
	return af_check_dest(
			&r, profile, profile ? strlen(profile) : 0, &vd);
}

static int call(const char *caller, const char *number)
{
	return call_as(NULL, caller, number);
}

#define DOMAIN_BASE                                                      \
	"    domains: [example.com]\n"

static void test_plan_policy(void **state)
{
	start("profiles:\n"
		  "  default:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "      premium: false\n"
		  "      deny_classes: [satellite]\n"
		  "      max_risk: 2\n"
		  "      deny_countries: [CU]\n"
		  "      deny_prefixes: ['3315']\n"
		  "      allow_prefixes: ['33159999', '49900555']\n"
		  "      blocked_callers: ['+493099999999', gone]\n"
		  "      exempt_numbers: ['112']\n");
	/* national, with and without the trunk prefix, and E.164 forms */
	assert_int_equal(call("alice", "030123456"), AF_RC_ALLOW);
	assert_string_equal(vd.dest.number, "+4930123456");
	assert_string_equal(vd.dest.country, "DE");
	assert_int_equal(vd.dest.international, 0);
	assert_int_equal(vd.dest.cls, AF_NC_FIXED);
	assert_string_equal(vd.dest.profile, "default");
	assert_int_equal(call("alice", "+4930123456"), AF_RC_ALLOW);
	/* international is allowed here */
	assert_int_equal(call("alice", "0033123456789"), AF_RC_ALLOW);
	assert_string_equal(vd.dest.country, "FR");
	assert_string_equal(vd.dest.zone, "EU");
	assert_int_equal(vd.dest.international, 1);
	/* premium: refused, also as dialed nationally */
	assert_int_equal(call("alice", "09001234567"), AF_RC_BLOCK);
	assert_true(vd.reasons & BIT(AF_R_DEST_PREMIUM));
	assert_int_equal(vd.dest.cls, AF_NC_PREMIUM);
	assert_non_null(strstr(vd.detail, "+499001234567: premium rate not allowed"));
	/* an allowed range inside: the exception wins */
	assert_int_equal(call("alice", "+499005551234"), AF_RC_ALLOW);
	/* an operator's refused range in an allowed country, and its
	 * exception */
	assert_int_equal(call("alice", "+33151234567"), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_DEST_RANGE));
	assert_string_equal(vd.detail, "+33151234567: refused range");
	assert_int_equal(call("alice", "+33159999123"), AF_RC_ALLOW);
	/* denied country; satellite class (and its risk 3 > 2) */
	assert_int_equal(call("alice", "+5378123456"), AF_RC_BLOCK);
	assert_true(vd.reasons & BIT(AF_R_DEST_COUNTRY));
	assert_non_null(strstr(vd.detail, "+5378123456: country CU (NA) not allowed"));
	assert_int_equal(call("alice", "+881612345678"), AF_RC_BLOCK);
	assert_true(vd.reasons & BIT(AF_R_DEST_CLASS));
	assert_true(vd.reasons & BIT(AF_R_DEST_RISK));
	assert_string_equal(vd.dest.country, "XN");
	/* every reason is reported with its detail */
	assert_non_null(strstr(vd.detail, "class satellite"));
	assert_non_null(strstr(vd.detail, "risk 3 above 2"));
	/* each in its words, one after the other */
	assert_string_equal(vd.detail, "+881612345678: class satellite not"
								   " allowed; +881612345678: risk 3 above 2");
	/* not numbers */
	assert_int_equal(call("alice", "abc"), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_DEST_INVALID));
	assert_int_equal(call("alice", "+0123456"), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_DEST_INVALID));
	/* emergency exempt; a short code is national */
	assert_int_equal(call("alice", "112"), AF_RC_ALLOW);
	assert_int_equal(call("alice", "11833"), AF_RC_ALLOW);
	assert_int_equal(vd.dest.cls, AF_NC_SHORT);
	assert_string_equal(vd.dest.number, "11833");
	/* blocked callers, by +E.164 and by name */
	assert_int_equal(call("030 99999999", "030123456"), AF_RC_BLOCK);
	assert_true(vd.reasons & BIT(AF_R_CALLER_BLOCKED));
	assert_int_equal(call("gone", "030123456"), AF_RC_BLOCK);
	assert_true(vd.reasons & BIT(AF_R_CALLER_BLOCKED));
	assert_int_equal(call("+493099999998", "030123456"), AF_RC_ALLOW);
}

/* caller table and named profiles (a rule file of its own: the head has
 * its own dest section) */
static void test_profiles_and_callers(void **state)
{
	af_core_cfg_t cfg = {.shm_entries = 4096, .shm_stripes = 8};
	const char *p = test_write_file("callers.yaml", plan_abs(
			"version: 1\n"
			"dest:\n"
			"  numplan: etc/antifraud-numplan.csv\n"
			"  callers:\n"
			"    users: {alice: local}\n"
			"    prefixes: {'4930': local, '493055': open}\n"
			"profiles:\n"
			"  default:\n" DOMAIN_BASE
			"    dest: {country: DE}\n"
			"  local:\n" DOMAIN_BASE
			"    dest: {country: DE, international: false}\n"
			"  open:\n" DOMAIN_BASE
			"    dest: {country: DE, international: true}\n"
			"  nodest:\n" DOMAIN_BASE));
	af_request_t r;

	cfg.rules_path = p;
	start_cfg(&cfg);
	assert_int_equal(call("alice", "+33123456789"), AF_RC_BLOCK);
	assert_string_equal(vd.dest.profile, "local");
	assert_int_equal(vd.reasons, BIT(AF_R_DEST_INTL));
	assert_string_equal(
			vd.detail, "+33123456789: international (FR) not allowed");
	assert_int_equal(call("+4930123", "+33123456789"), AF_RC_BLOCK);
	assert_string_equal(vd.dest.profile, "local");
	assert_int_equal(call("4930551234", "+33123456789"), AF_RC_ALLOW);
	assert_string_equal(vd.dest.profile, "open");
	assert_int_equal(call("bob", "+33123456789"), AF_RC_ALLOW);
	assert_string_equal(vd.dest.profile, "default");
	/* named by the script */
	assert_int_equal(call_as("local", "bob", "+33123456789"), AF_RC_BLOCK);
	assert_int_equal(call_as("nodest", "bob", "+33123456789"), AF_RC_NORULE);
	assert_int_equal(call_as("nosuch", "bob", "+33123456789"), AF_RC_ERROR);
	/* only initial INVITEs */
	memset(&r, 0, sizeof(r));
	r.method = AF_M_MESSAGE;
	r.initial = 1;
	assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_NORULE);
	r.method = AF_M_INVITE;
	r.initial = 0;
	assert_int_equal(af_check_dest(&r, NULL, 0, &vd), AF_RC_NORULE);
}

static void test_schedule(void **state)
{
	start("profiles:\n"
		  "  default:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "      outside_hours: [international, premium]\n");
	/* Monday 11:00 Berlin: inside */
	assert_int_equal(call("alice", "+33123456789"), AF_RC_ALLOW);
	assert_int_equal(vd.dest.in_hours, 1);
	/* 07:59 out, 08:00 in, 17:59 in, 18:00 out (Berlin, UTC+1) */
	test_host_set_now(MON0659);
	assert_int_equal(call("alice", "+33123456789"), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_SCHEDULE));
	assert_string_equal(
			vd.detail, "+33123456789: not allowed outside business hours");
	/* national calls are not limited by the schedule */
	assert_int_equal(call("alice", "+4930123456"), AF_RC_ALLOW);
	test_host_set_now(MON0700);
	assert_int_equal(call("alice", "+33123456789"), AF_RC_ALLOW);
	test_host_set_now(MON1659);
	assert_int_equal(call("alice", "+33123456789"), AF_RC_ALLOW);
	test_host_set_now(MON1700);
	assert_int_equal(call("alice", "+33123456789"), AF_RC_BLOCK);
	/* Saturday and a holiday: the day is out */
	test_host_set_now(SAT10);
	assert_int_equal(call("alice", "+33123456789"), AF_RC_BLOCK);
	assert_int_equal(vd.dest.holiday, 1);
	test_host_set_now(XMAS10);
	assert_int_equal(call("alice", "+33123456789"), AF_RC_BLOCK);
	assert_non_null(strstr(vd.detail, "on a holiday"));
}

static void test_rates_window_edges(void **state)
{
	int i;

	start("profiles:\n"
		  "  default:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "      rates:\n"
		  "        caller_per_minute: {warn: 2, block: 3}\n"
		  "  persec:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "      rates: {caller_per_second: 5}\n");
	assert_int_equal(call("alice", "+4930123456"), AF_RC_ALLOW);
	assert_int_equal(call("alice", "+4930123457"), AF_RC_ALLOW);
	/* the third is above the warning: an alert, the call goes on */
	assert_int_equal(call("alice", "+4930123458"), AF_RC_ALERT);
	assert_int_equal(vd.reasons, BIT(AF_R_RATE_CALLER));
	assert_int_equal(vd.blocking, 0);
	/* the fourth is above the block threshold */
	test_host_advance(2 * SEC);
	assert_int_equal(call("alice", "+4930123459"), AF_RC_BLOCK);
	assert_non_null(strstr(vd.detail, "rate_caller 4 in 60s > 3"));
	/* another caller is not counted with alice */
	assert_int_equal(call("bob", "+4930123459"), AF_RC_ALLOW);
	/* a sliding window: 58 s after the last call it still counts... */
	test_host_advance(56 * SEC);
	assert_int_equal(call("alice", "+4930123459"), AF_RC_BLOCK);
	/* ...and once a minute has gone by since the calls, they are gone */
	test_host_advance(64 * SEC);
	assert_int_equal(call("alice", "+4930123459"), AF_RC_ALLOW);
	/* per second: the sixth within one second is refused */
	test_host_advance(2 * MIN);
	for(i = 0; i < 5; i++)
		assert_int_equal(
				call_as("persec", "carol", "+4930123456"), AF_RC_ALLOW);
	assert_int_equal(call_as("persec", "carol", "+4930123456"), AF_RC_BLOCK);
	assert_non_null(strstr(vd.detail, "in 1s > 5"));
	test_host_advance(1100);
	assert_int_equal(call_as("persec", "carol", "+4930123456"), AF_RC_ALLOW);
}

static void test_repetition(void **state)
{
	start("profiles:\n"
		  "  default:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "      repeat:\n"
		  "        same_number: {60m: 2, 8h: 3}\n"
		  "        similar_numbers: {digits: 2, 60m: 3}\n"
		  "        many_callers: {1d: 2}\n");
	assert_int_equal(call("alice", "+33123456701"), AF_RC_ALLOW);
	assert_int_equal(call("alice", "+33123456701"), AF_RC_ALLOW);
	assert_int_equal(call("alice", "+33123456701"), AF_RC_BLOCK);
	assert_true(vd.reasons & BIT(AF_R_REPEAT_NUMBER));
	/* after 61 minutes the 60m window forgets, the 8h one does not */
	test_host_advance(61 * MIN);
	assert_int_equal(call("alice", "+33123456701"), AF_RC_BLOCK);
	assert_non_null(strstr(vd.detail, "in 28800s > 3"));
	assert_null(strstr(vd.detail, "in 3600s"));
	/* similar numbers: distinct numbers under 331234567.. */
	test_host_advance(9 * 3600 * SEC);
	assert_int_equal(call("bob", "+33123456711"), AF_RC_ALLOW);
	assert_int_equal(call("bob", "+33123456712"), AF_RC_ALLOW);
	assert_int_equal(call("bob", "+33123456712"), AF_RC_ALLOW); /* same */
	assert_int_equal(call("bob", "+33123456713"), AF_RC_ALLOW);
	assert_int_equal(call("bob", "+33123456714"), AF_RC_BLOCK);
	assert_true(vd.reasons & BIT(AF_R_REPEAT_SIMILAR));
	assert_non_null(strstr(vd.detail, "repeat_similar 4 in 3600s > 3"));
	/* many callers: the third distinct caller of one number in a day */
	assert_int_equal(call("c1", "+4930555000"), AF_RC_ALLOW);
	assert_int_equal(call("c2", "+4930555000"), AF_RC_ALLOW);
	assert_int_equal(call("c2", "+4930555000"), AF_RC_ALLOW); /* c2 again */
	assert_int_equal(call("c3", "+4930555000"), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_REPEAT_CALLERS));
}

static void test_every_breach_reported(void **state)
{
	start("profiles:\n"
		  "  default:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "      premium: true\n"
		  "      rates: {caller_per_minute: 1}\n"
		  "      repeat: {same_number: {60m: 1}}\n");
	assert_int_equal(call("alice", "+499001234567"), AF_RC_ALLOW);
	assert_int_equal(call("alice", "+499001234567"), AF_RC_BLOCK);
	assert_int_equal(vd.reasons,
			BIT(AF_R_RATE_CALLER) | BIT(AF_R_REPEAT_NUMBER));
	assert_non_null(strstr(vd.detail, "rate_caller 2 in 60s > 1"));
	assert_non_null(strstr(vd.detail, "repeat_number 2 in 3600s > 1"));
}

/* the live total of international calls */
static uint32_t total(void)
{
	uint32_t t = 99, lim;
	int hol, hour;

	assert_int_equal(af_dest_concurrency(&t, &lim, &hol, &hour), 0);
	return t;
}

static void test_concurrency(void **state)
{
	af_dest_ticket_t t[4];

	start("  concurrency:\n"
		  "    workday: {\"08:00-18:00\": 2, default: 3}\n"
		  "    holiday: {default: 1}\n"
		  "profiles:\n"
		  "  default:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "      rates: {caller_per_minute: 5}\n"
		  "      concurrency: {workday: {default: 1}, holiday: {default: 1}}\n"
		  "  monitor:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "    mode: {concurrency: monitor}\n");
	/* 17:54 in Berlin on a Monday: the total limit is 2 */
	test_host_set_now(MON1659 - 5 * MIN);
	assert_int_equal(call("a1", "+33123456789"), AF_RC_ALLOW);
	t[0] = vd.dest.ticket;
	assert_true(t[0].total && t[0].caller);
	assert_int_equal(vd.dest.conc_total, 1);
	/* the same caller's second call: its own limit is 1 */
	assert_int_equal(call("a1", "+33123456789"), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_CONC_CALLER));
	assert_false(vd.dest.ticket.total || vd.dest.ticket.caller);
	assert_int_equal(total(), 1); /* not added to the total either */
	assert_int_equal(call("a2", "+33123456789"), AF_RC_ALLOW);
	t[1] = vd.dest.ticket;
	assert_int_equal(call("a3", "+33123456789"), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_CONC_TOTAL));
	/* national calls do not count */
	assert_int_equal(call("a3", "+4930123456"), AF_RC_ALLOW);
	assert_int_equal(total(), 2);
	/* a call ends: its slots come back, once */
	af_dest_release(&t[0]);
	af_dest_release(&t[0]);
	assert_int_equal(total(), 1);
	assert_int_equal(call("a3", "+33123456789"), AF_RC_ALLOW);
	t[2] = vd.dest.ticket;
	/* after 18:00 the default slot (3) applies */
	test_host_set_now(MON1700 + 1 * MIN);
	assert_int_equal(call("a4", "+33123456789"), AF_RC_ALLOW);
	t[3] = vd.dest.ticket;
	assert_int_equal(total(), 3);
	/* monitor mode: over the limit is an alert, and the call counts */
	assert_int_equal(call_as("monitor", "m1", "+33123456789"), AF_RC_ALERT);
	assert_int_equal(vd.reasons, BIT(AF_R_CONC_TOTAL));
	assert_int_equal(total(), 4);
	/* a gated limit keeps a refused call out of the sets */
	assert_int_equal(call("a5", "+4930123456"), AF_RC_ALLOW);
	/* calls whose end is lost leave after max_duration (600 s) */
	test_host_advance(601 * SEC);
	assert_int_equal(total(), 0);
	af_dest_release(&t[1]);
	af_dest_release(&t[2]);
	af_dest_release(&t[3]);
	assert_int_equal(total(), 0);
}

static void test_rate_block_not_admitted(void **state)
{
	start("profiles:\n"
		  "  default:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "      rates: {caller_per_minute: 1}\n");
	assert_int_equal(call("a1", "+33123456789"), AF_RC_ALLOW);
	assert_int_equal(total(), 1);
	assert_int_equal(call("a1", "+33123456780"), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_RATE_CALLER));
	assert_int_equal(total(), 1);
	assert_false(vd.dest.ticket.total);
}

static int country_cb(const char *cc, uint64_t attempts, uint64_t allowed,
		uint64_t alerts, uint64_t blocked, const uint64_t *by_reason,
		void *arg)
{
	uint64_t *out = arg;

	if(strcmp(cc, "FR") == 0) {
		out[0] = attempts;
		out[1] = allowed;
		out[2] = blocked;
		out[3] = by_reason[AF_R_DEST_INTL];
	}
	return 0;
}

static void test_stats(void **state)
{
	af_dest_slot_stat_t st;
	uint64_t fr[4] = {0};
	af_dest_ticket_t t[2];

	start("profiles:\n"
		  "  default:\n" DOMAIN_BASE
		  "    dest: {country: DE}\n"
		  "  local:\n" DOMAIN_BASE
		  "    dest: {country: DE, international: false}\n");
	assert_int_equal(call("a", "+33123456789"), AF_RC_ALLOW);
	t[0] = vd.dest.ticket;
	assert_int_equal(call_as("local", "b", "+33123456789"), AF_RC_BLOCK);
	assert_int_equal(call_as("local", "b", "+33123456789"), AF_RC_BLOCK);
	af_dest_country_stats(country_cb, fr);
	assert_int_equal(fr[0], 3);
	assert_int_equal(fr[1], 1);
	assert_int_equal(fr[2], 2);
	assert_int_equal(fr[3], 2);
	/* samples: 1 call, then 3, then 2 live: mean 2, stddev sqrt(2/3) */
	af_core_timer();
	test_host_advance(SEC);
	assert_int_equal(call("c", "+33123456789"), AF_RC_ALLOW);
	t[1] = vd.dest.ticket;
	assert_int_equal(call("d", "+33123456789"), AF_RC_ALLOW);
	af_core_timer();
	af_core_timer(); /* within the same second: not sampled again */
	test_host_advance(SEC);
	af_dest_release(&t[1]);
	af_core_timer();
	/* Monday 11:00 in Berlin: workday, hour 11 */
	af_dest_slot_stat(0, 11, &st);
	assert_int_equal(st.samples, 3);
	assert_true(st.mean > 1.999 && st.mean < 2.001);
	assert_true(st.stddev > 0.8164 && st.stddev < 0.8166);
	assert_int_equal(st.max, 3);
	af_dest_slot_stat(1, 11, &st);
	assert_int_equal(st.samples, 0);
	af_dest_stats_reset();
	af_dest_slot_stat(0, 11, &st);
	assert_int_equal(st.samples, 0);
	af_dest_release(&t[0]);
}

static void test_explain(void **state)
{
	uint64_t fr[4] = {0};

	start("profiles:\n"
		  "  default:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "      rates: {caller_per_minute: 1}\n");
	/* the local decisions, as af_check_dest would make them */
	assert_int_equal(
			af_dest_explain(NULL, 0, "alice", "09001234567", &vd), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_DEST_PREMIUM));
	assert_string_equal(vd.dest.number, "+499001234567");
	/* limits are not evaluated and nothing is counted */
	assert_int_equal(
			af_dest_explain(NULL, 0, "alice", "+33123456789", &vd), AF_RC_ALLOW);
	assert_int_equal(
			af_dest_explain(NULL, 0, "alice", "+33123456789", &vd), AF_RC_ALLOW);
	assert_int_equal(total(), 0);
	af_dest_country_stats(country_cb, fr);
	assert_int_equal(fr[0], 0);
	assert_int_equal(af_core_stat(AF_ST_CHECKS), 0);
	assert_int_equal(call("alice", "+33123456789"), AF_RC_ALLOW);
	assert_int_equal(call("alice", "+33123456789"), AF_RC_BLOCK);
	assert_int_equal(
			af_dest_explain("nosuch", 6, "alice", "+331", &vd), AF_RC_ERROR);
}

/*
 * Numbers longer than the normalization keeps are invalid, never cut to
 * what fits: "112" + 150 dashes + a premium number is not the emergency
 * number 112 (the RPC once cut it at 127 characters).
 */
static void test_long_numbers(void **state)
{
	char num[20000];
	size_t n;

	start("profiles:\n"
		  "  default:\n" DOMAIN_BASE
		  "    dest:\n"
		  "      country: DE\n"
		  "      premium: false\n"
		  "      exempt_numbers: ['112']\n");
	n = (size_t)snprintf(num, sizeof(num), "112");
	memset(num + n, '-', 150);
	snprintf(num + n + 150, sizeof(num) - n - 150, "4990012345678");
	assert_int_equal(call("alice", num), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_DEST_INVALID));
	assert_int_equal(vd.dest.kind, AF_NUM_INVALID);
	assert_string_equal(vd.dest.number, "");
	assert_non_null(strstr(vd.detail, "too long"));
	assert_int_equal(af_dest_explain(NULL, 0, "alice", num, &vd), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_DEST_INVALID));
	/* the same without separators: a premium number as dialed */
	assert_int_equal(call("alice", "11249001234567"), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_DEST_INVALID));
	/* 64 characters kept at most; 20 KB of digits is invalid */
	memset(num, '1', 64);
	num[64] = '\0';
	assert_int_equal(call("alice", num), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_DEST_INVALID));
	memset(num, '1', sizeof(num) - 1);
	num[sizeof(num) - 1] = '\0';
	assert_int_equal(call("alice", num), AF_RC_BLOCK);
	assert_int_equal(vd.reasons, BIT(AF_R_DEST_INVALID));
	assert_non_null(strstr(vd.detail, "too long"));
	assert_true(strlen(vd.detail) < 128);
	/* separators alone are dropped; parameters are not the number */
	n = (size_t)snprintf(num, sizeof(num), "112");
	memset(num + n, '-', 100);
	num[n + 100] = '\0';
	assert_int_equal(call("alice", num), AF_RC_ALLOW);
	assert_int_equal(call("alice", "112;phone-context=+4990012345678"),
			AF_RC_ALLOW);
}

static void test_rule_errors(void **state)
{
	static const struct {
		const char *body;
		const char *msg;
	} bad[] = {
			{"profiles:\n  default:\n    dest: {international: true}\n",
					"missing 'country'"},
			{"profiles:\n  default:\n    dest: {country: XX}\n",
					"no dialing data"},
			{"profiles:\n  default:\n    dest: {country: DE, rates: "
			 "{caller_per_minute: {warn: 5, block: 3}}}\n",
					"warn (5) must be below block (3)"},
			{"profiles:\n  default:\n    dest: {country: DE, repeat: "
			 "{same_number: {2w: 3}}}\n",
					"bad window '2w'"},
			{"profiles:\n  default:\n    dest: {country: DE, deny_classes: "
			 "[expensive]}\n",
					"unknown number class 'expensive'"},
			{"profiles:\n  default:\n    dest: {country: DE, calendar: "
			 "nosuch}\n",
					"unknown calendar 'nosuch'"},
			{"profiles:\n  default:\n    dest: {country: DE, deny_prefixes: "
			 "['+33a']}\n",
					"is not an E.164 prefix"},
			{"  callers: {users: {bob: nosuch}}\n"
			 "profiles:\n  default:\n    dest: {country: DE}\n",
					"names profile 'nosuch'"},
			{"profiles:\n  default:\n    dest: {country: DE, strip: "
			 "['x1']}\n",
					"is not a technical prefix"},
			{"profiles:\n  default:\n    dest: {country: DE, repeat: "
			 "{scope: some}}\n",
					"scope must be all or international"},
	};
	af_core_cfg_t cfg = {.shm_entries = 4096, .shm_stripes = 8};
	size_t i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_rules(bad[i].body);
		cfg.rules_path = rules_path;
		assert_int_equal(af_core_init(&cfg, err, sizeof(err)), -1);
		if(!strstr(err, bad[i].msg) || !strstr(err, "rules.yaml:"))
			fail_msg("case %zu: got '%s', want '%s'", i, err, bad[i].msg);
		assert_int_equal(test_host_shm_live(), shm_base);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_monday, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
			T(test_plan_policy),
			T(test_profiles_and_callers),
			T(test_schedule),
			T(test_rates_window_edges),
			T(test_repetition),
			T(test_every_breach_reported),
			T(test_concurrency),
			T(test_rate_block_not_admitted),
			T(test_stats),
			T(test_explain),
			T(test_long_numbers),
			T(test_rule_errors),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
