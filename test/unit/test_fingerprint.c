/*
 * antifraud unit tests - af_check_fingerprint in the core: signatures,
 * modes, exceptions, scoring and bans, requests inside dialogs, reload.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "af_core.h"
#include "af_host.h"
#include "host.h"
#include "core_fixture.h"

#define B(r) AF_REASON_BIT(r)

/* an svmap probe as Debian's sipvicious 0.3.3 sends it */
static const char svmap[] =
		"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.1.1:5060;branch=z9hG4bK-3452353453;rport\r\n"
		"Max-Forwards: 70\r\n"
		"To: \"as\"<sip:100@127.0.0.1>\r\n"
		"From: \"as\"<sip:100@127.0.0.1>;tag=6630386537633931013131323638"
		"333037363531\r\n"
		"User-Agent: friendly-scanner\r\n"
		"Call-ID: 123456789012345678901234\r\n"
		"Contact: sip:100@127.0.1.1:5060\r\n"
		"CSeq: 1 OPTIONS\r\n"
		"Accept: application/sdp\r\n"
		"Content-Length: 0\r\n\r\n";

/* a desk phone's INVITE */
static const char phone[] =
		"INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK1893546714\r\n"
		"From: \"Alice\" <sip:alice@example.com>;tag=1358286375\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: 0_1763289372@10.0.0.5\r\n"
		"CSeq: 1 INVITE\r\n"
		"Contact: <sip:alice@10.0.0.5:5062>\r\n"
		"Max-Forwards: 70\r\n"
		"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
		"Content-Length: 0\r\n\r\n";

static const char sigs[] =
		"version: 1\n"
		"signatures:\n"
		"  - name: svmap-order\n"
		"    source: test\n"
		"    score: 10\n"
		"    match:\n"
		"      header_order: '^via,max-forwards,to,from,user-agent,call-id,'\n"
		"      branch: '^z9hG4bK-[0-9]{1,10}$'\n"
		"  - name: friendly\n"
		"    source: test\n"
		"    action: alert\n"
		"    score: 1\n"
		"    match: {user_agent: '^friendly-scanner$'}\n";

/* starts the core with a rule file whose profiles use signature file s */
static void start(const char *s, const char *profiles)
{
	char rules[2048], sigpath[512];
	af_core_cfg_t cfg = {.shm_entries = 1024, .shm_stripes = 4};

	snprintf(sigpath, sizeof(sigpath), "%s", test_write_file("sigs.yaml", s));
	snprintf(rules, sizeof(rules),
			"version: 1\n"
			"scanner: {window: 60, threshold: 10, ban_time: 300}\n"
			"fingerprint: {signatures: %s}\n"
			"lists: {ok: {entries: [127.0.0.9]}}\n"
			"profiles:\n%s",
			sigpath, profiles);
	write_rules_text(rules);
	cfg.rules_path = rules_path;
	start_cfg(&cfg);
}

static const char *const profiles =
		"  default:\n"
		"    domains: [example.com]\n"
		"    exempt_callers: [alice]\n"
		"    allow: [ok]\n"
		"  mon:\n"
		"    domains: [example.com]\n"
		"    mode: {fingerprint: monitor}\n"
		"  off:\n"
		"    domains: [example.com]\n"
		"    mode: {fingerprint: 'off'}\n";

static af_request_t req(const char *raw, const char *src, const char *from)
{
	af_request_t r;

	memset(&r, 0, sizeof(r));
	r.raw.s = raw;
	r.raw.len = strlen(raw);
	r.initial = 1;
	af_ip_parse(src, strlen(src), &r.src_ip);
	r.from_user.s = from;
	r.from_user.len = strlen(from);
	r.from_host.s = "example.com";
	r.from_host.len = 11;
	return r;
}

/* every matching signature is reported; block wins over alert */
static void test_tool_blocked(void **state)
{
	af_request_t r = req(svmap, "127.0.0.7", "100");
	af_verdict_t v;

	start(sigs, profiles);
	assert_int_equal(af_check_fingerprint(&r, NULL, 0, &v), AF_RC_BLOCK);
	assert_string_equal(v.check, "fingerprint");
	assert_string_equal(v.signatures, "svmap-order,friendly");
	assert_true(v.reasons & B(AF_R_SIGNATURE));
	assert_true(v.blocking & B(AF_R_SIGNATURE));
	assert_int_equal(strncmp(v.fp_id, "af1-", 4), 0);
	assert_int_equal(strlen(v.fp_id), 20);
	assert_non_null(strstr(v.shape, "OPTIONS|via,max-forwards,to,from"));
	/* the blocking signature's 10 reaches the threshold of 10: banned at
	 * once; the alert-only signature does not score under an enforced
	 * ban (monitor and alerts never block, not even through a ban) */
	assert_int_equal(v.score, 10);
	assert_int_equal(v.banned, 1);
	assert_true(v.reasons & B(AF_R_SCANNER));
	assert_int_equal(af_core_reason_count(AF_R_SIGNATURE), 1);
	/* the next request from there costs one lookup */
	assert_int_equal(af_check_fingerprint(&r, NULL, 0, &v), AF_RC_BLOCK);
	assert_int_equal(v.reasons, B(AF_R_BANNED));
	assert_string_equal(v.signatures, "");
}

/* a phone passes, with its fingerprint exposed */
static void test_phone_passes(void **state)
{
	af_request_t r = req(phone, "127.0.0.2", "carol");
	af_verdict_t v;
	char id1[21];

	start(sigs, profiles);
	assert_int_equal(af_check_fingerprint(&r, NULL, 0, &v), AF_RC_ALLOW);
	assert_int_equal(v.reasons, 0);
	memcpy(id1, v.fp_id, sizeof(id1));
	assert_int_equal(strncmp(id1, "af1-", 4), 0);
	/* stable: the same request gives the same fingerprint */
	assert_int_equal(af_check_fingerprint(&r, NULL, 0, &v), AF_RC_ALLOW);
	assert_string_equal(v.fp_id, id1);
}

/* monitor alerts and never bans; off and in-dialog are not evaluated */
static void test_modes(void **state)
{
	af_request_t r = req(svmap, "127.0.0.7", "100");
	af_verdict_t v;
	int i;

	start(sigs, profiles);
	for(i = 0; i < 5; i++) {
		assert_int_equal(af_check_fingerprint(&r, "mon", 3, &v), AF_RC_ALERT);
		assert_int_equal(v.blocking, 0);
		assert_int_equal(v.banned, 0);
	}
	assert_int_equal(af_core_stat(AF_ST_BANS), 0);
	assert_int_equal(af_check_fingerprint(&r, "off", 3, &v), AF_RC_NORULE);
	r.initial = 0;
	assert_int_equal(af_check_fingerprint(&r, NULL, 0, &v), AF_RC_NORULE);
	assert_int_equal(af_check_fingerprint(&r, "nope", 4, &v), AF_RC_ERROR);
}

/* exempt callers and allow-listed sources are not checked */
static void test_exceptions(void **state)
{
	af_request_t r = req(svmap, "127.0.0.7", "alice");
	af_verdict_t v;

	start(sigs, profiles);
	assert_int_equal(af_check_fingerprint(&r, NULL, 0, &v), AF_RC_ALLOW);
	r = req(svmap, "127.0.0.9", "100");
	assert_int_equal(af_check_fingerprint(&r, NULL, 0, &v), AF_RC_ALLOW);
	assert_int_equal(v.reasons, 0);
}

/* not SIP at all: nothing applies, no crash */
static void test_garbage(void **state)
{
	af_request_t r = req("\x01\x02 not sip", "127.0.0.7", "x");
	af_verdict_t v;

	start(sigs, profiles);
	assert_int_equal(af_check_fingerprint(&r, NULL, 0, &v), AF_RC_NORULE);
	r.raw.len = 0;
	assert_int_equal(af_check_fingerprint(&r, NULL, 0, &v), AF_RC_NORULE);
}

/* a bad signature file is a load error with its own file:line */
static void test_bad_signature_file(void **state)
{
	char rules[1024];
	const char *sp;
	af_core_cfg_t cfg = {.shm_entries = 1024, .shm_stripes = 4};

	sp = test_write_file("bad-sigs.yaml",
			"version: 1\nsignatures:\n  - name: x\n    source: s\n"
			"    match: {branch: '(oops'}\n");
	snprintf(rules, sizeof(rules),
			"version: 1\nfingerprint: {signatures: %s}\n"
			"profiles: {default: {}}\n",
			sp);
	cfg.rules_path = test_write_file("rules.yaml", rules);
	assert_int_equal(af_core_init(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad-sigs.yaml:5:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test_setup_teardown(test_tool_blocked, setup, teardown),
			cmocka_unit_test_setup_teardown(test_phone_passes, setup, teardown),
			cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
			cmocka_unit_test_setup_teardown(test_exceptions, setup, teardown),
			cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
			cmocka_unit_test_setup_teardown(
					test_bad_signature_file, setup, teardown),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
