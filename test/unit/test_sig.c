/*
 * antifraud unit tests - attack-tool signatures: the signature file
 * (good files, defaults, every class of error with its "file:line:"),
 * every condition kind matching and not matching, AND semantics, alert
 * and block, scores, many signatures, the per-process JIT cache (used,
 * rebuilt in a forked child, per thread, keyed by the load), and no
 * leak on any path.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <pcre2.h>
#include "af_host.h"
#include "af_arena.h"
#include "af_fp.h"
#include "af_sig.h"
#include "host.h"

/* a tool's INVITE: every feature a signature can look at is set */
static const char tool_invite[] =
		"INVITE sip:100@192.0.2.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-abc;rport\r\n"
		"From: \"Scanner\" <sip:1000@10.0.0.1>;tag=deadbeef\r\n"
		"To: \"Target\" <sip:100@192.0.2.1>\r\n"
		"Call-ID: 1234567890@10.0.0.1\r\n"
		"CSeq: 1 INVITE\r\n"
		"Contact: <sip:1000@10.0.0.1:5060>\r\n"
		"User-Agent: pplsip\r\n"
		"Server: srv/1\r\n"
		"Content-Type: application/sdp\r\n"
		"Content-Length: 999\r\n"
		"\r\n"
		"v=0\r\n"
		"o=root 1 1 IN IP4 10.0.0.1\r\n"
		"s=session\r\n"
		"c=IN IP4 10.0.0.1\r\n";

/* a phone's REGISTER: none of the tool's values, compact forms */
static const char phone_register[] =
		"REGISTER sip:example.com SIP/2.0\r\n"
		"v: SIP/2.0/TLS 192.168.1.20:5061;branch=z9hG4bK5f3e2a1b\r\n"
		"f: Alice <sip:alice@example.com>;tag=a1b2c3\r\n"
		"t: <sip:alice@example.com>\r\n"
		"i: 77e1c0f5-91b2@192.168.1.20\r\n"
		"CSeq: 2 REGISTER\r\n"
		"m: <sip:alice@192.168.1.20:5061;transport=tls>\r\n"
		"Max-Forwards: 70\r\n"
		"User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
		"l: 0\r\n"
		"\r\n";

static char err[1024];
static char path_buf[512];
static af_fp_msg_t tool_fm, phone_fm;

/* Writes text into the temporary file name; returns a copy of its path. */
static const char *write_sigs(const char *name, const char *text)
{
	const char *p = test_write_file(name, text);

	assert_non_null(p);
	snprintf(path_buf, sizeof(path_buf), "%s", p);
	return path_buf;
}

/* Loads text as a signature file into a new arena *a. */
static af_sigset_t *load_text(af_arena_t **a, const char *text)
{
	*a = af_arena_new(0);
	assert_non_null(*a);
	return af_sig_load(*a, write_sigs("sigs.yaml", text), err, sizeof(err));
}

/* Loads text, failing the test with the loader's message when refused. */
static af_sigset_t *load_ok(af_arena_t **a, const char *text)
{
	af_sigset_t *set = load_text(a, text);

	if(!set)
		fail_msg("%s", err);
	return set;
}

/* Returns 1 when name is among the first n of hits. */
static int hit(const af_sig_hit_t *hits, int n, const char *name)
{
	int i;

	for(i = 0; i < n && i < AF_SIG_HITS_MAX; i++)
		if(strcmp(hits[i].name, name) == 0)
			return 1;
	return 0;
}

/* Parses the two sample messages once. */
static int setup(void **state)
{
	assert_int_equal(
			af_fp_parse(tool_invite, strlen(tool_invite), &tool_fm), 0);
	assert_int_equal(
			af_fp_parse(phone_register, strlen(phone_register), &phone_fm), 0);
	return 0;
}

static void test_load_good(void **state)
{
	long live = test_host_shm_live();
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	af_sigset_t *set;
	af_arena_t *a;
	int n;

	set = load_ok(&a, "# comment\n"
					  "version: 1\n"
					  "signatures:\n"
					  "  - name: pplsip\n"
					  "    source: \"sippts (pplsip) default User-Agent\"\n"
					  "    match:\n"
					  "      user_agent: '^pplsip'\n"
					  "  - name: tool.shape_2\n"
					  "    source: capture of 2026-01-01\n"
					  "    action: alert\n"
					  "    score: 0\n"
					  "    match: {from_display: '^Scanner$', compact: false}\n"
					  "  - name: yealink\n"
					  "    source: a desk phone, for the test\n"
					  "    action: block\n"
					  "    score: 1000000\n"
					  "    match:\n"
					  "      user_agent: Yealink\n");
	assert_int_equal(af_sig_count(set), 3);
	assert_int_equal(af_sig_count(NULL), 0);

	n = af_sig_match(set, &tool_fm, hits, AF_SIG_HITS_MAX);
	assert_int_equal(n, 2);
	assert_string_equal(hits[0].name, "pplsip");
	assert_int_equal(hits[0].action, AF_SIG_BLOCK); /* the default */
	assert_int_equal(hits[0].score, 5);             /* the default */
	assert_string_equal(hits[1].name, "tool.shape_2");
	assert_int_equal(hits[1].action, AF_SIG_ALERT);
	assert_int_equal(hits[1].score, 0);

	n = af_sig_match(set, &phone_fm, hits, AF_SIG_HITS_MAX);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].name, "yealink");
	assert_int_equal(hits[0].action, AF_SIG_BLOCK);
	assert_int_equal(hits[0].score, 1000000);

	/* more matches than room: counted, the first stored */
	n = af_sig_match(set, &tool_fm, hits, 1);
	assert_int_equal(n, 2);
	assert_string_equal(hits[0].name, "pplsip");
	assert_int_equal(af_sig_match(set, &tool_fm, NULL, 0), 2);
	assert_int_equal(af_sig_match(NULL, &tool_fm, hits, 8), 0);
	assert_int_equal(af_sig_match(set, NULL, hits, 8), 0);
	af_arena_free(a);

	/* no signatures at all is a valid (empty) set */
	set = load_ok(&a, "version: 1\nsignatures: []\n");
	assert_int_equal(af_sig_count(set), 0);
	assert_int_equal(af_sig_match(set, &tool_fm, hits, 8), 0);
	af_arena_free(a);
	set = load_ok(&a, "version: 1\nsignatures:\n");
	assert_int_equal(af_sig_count(set), 0);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

/* a bad file: its text, the line the error names, and words it says */
typedef struct bad_case {
	const char *text;
	int line;
	const char *says;
} bad_case_t;

#define HEAD "version: 1\nsignatures:\n"
#define SIG "  - name: s\n    source: t\n"

static const bad_case_t bad_cases[] = {
		{"version: 1\nsignatures: [\n", 3, "YAML"},
		{"version: 1\nsignatures:\n  - name: a\n   source: b\n", 4, "YAML"},
		{"", 1, "no signatures in the file"},
		{"- a\n- b\n", 1, "expected a mapping at the top"},
		{"signatures: []\n", 1, "missing 'version: 1'"},
		{"version: 2\nsignatures: []\n", 1, "version: unsupported version 2"},
		{"version: one\nsignatures: []\n", 1, "expected an integer, got 'one'"},
		{"version: 18446744073709551617\nsignatures: []\n", 1,
				"version: 18446744073709551617 is out of range"},
		{HEAD SIG "    score: 99999999999999999999999\n"
				  "    match: {method: x}\n",
				5, "s: 99999999999999999999999 is out of range (0..1000000)"},
		{"version: 1\n", 1, "missing 'signatures'"},
		{"version: 1\nsignatures: []\nrules: x\n", 3, "unknown key 'rules'"},
		{"version: 1\nsignatures: {a: 1}\n", 2,
				"signatures: expected a sequence, got a mapping"},
		{HEAD "  - just a string\n", 3, "signatures[0]: expected a mapping"},
		{HEAD "  - source: t\n    match: {method: x}\n", 3,
				"signatures[0]: missing 'name'"},
		{HEAD SIG "    match: {method: x}\n  - name: 'bad name'\n", 6,
				"signatures[1]: 'bad name' is not a valid signature name"},
		{HEAD "  - name: a234567890123456789012345678901234567890123456789012"
			  "3456789012345\n    source: t\n    match: {method: x}\n",
				3, "not a valid signature name"},
		{HEAD SIG "    match: {method: x}\n" SIG "    match: {method: y}\n", 6,
				"duplicate signature name 's'"},
		{HEAD "  - name: s\n    match: {method: x}\n", 3,
				"s: missing 'source'"},
		{HEAD "  - name: s\n    source: ''\n    match: {method: x}\n", 4,
				"empty 'source'"},
		{HEAD SIG "    action: drop\n    match: {method: x}\n", 5,
				"s: unknown action 'drop' (expected block or alert)"},
		{HEAD SIG "    score: 1000001\n    match: {method: x}\n", 5,
				"1000001 is out of range (0..1000000)"},
		{HEAD SIG "    score: -1\n    match: {method: x}\n", 5,
				"expected an integer, got '-1'"},
		{HEAD SIG "    weight: 3\n    match: {method: x}\n", 5,
				"unknown key 'weight' (expected name, source, action, score,"
				" match)"},
		{HEAD SIG, 3, "s: missing 'match'"},
		{HEAD SIG "    match:\n", 5, "s.match: no condition (at least one"},
		{HEAD SIG "    match: {}\n", 5, "s.match: no condition"},
		{HEAD SIG "    match: [user_agent]\n", 5, "expected a mapping, got a"
												   " sequence"},
		{HEAD SIG "    match:\n      useragent: x\n", 6,
				"s.match: unknown key 'useragent' (expected user_agent,"
				" server,"},
		{HEAD SIG "    match:\n      user_agent: x\n      user_agent: y\n", 7,
				"duplicate key 'user_agent'"},
		{HEAD SIG "    match:\n      method: INVITE\n      user_agent: '(ab'\n",
				7,
				"s.match.user_agent: bad regular expression '(ab': missing"
				" closing parenthesis at offset 3"},
		{HEAD SIG "    match:\n      call_id: '[z-a]'\n", 6,
				"range out of order in character class at offset 3"},
		{HEAD SIG "    match:\n      branch: ''\n", 6,
				"empty regular expression"},
		{HEAD SIG "    match:\n      contact: [a, b]\n", 6,
				"match.contact: expected a string, got a sequence"},
		{HEAD SIG "    match:\n      headers_present: via\n", 6,
				"expected a sequence, got a scalar"},
		{HEAD SIG "    match:\n      headers_present: []\n", 6,
				"empty list of headers"},
		{HEAD SIG "    match:\n      headers_absent: [via, 'user agent']\n", 6,
				"'user agent' is not a header name"},
		{HEAD SIG "    match:\n      headers_absent: [q]\n", 6,
				"'q' is not a compact header form"},
		{HEAD SIG "    match:\n      headers_present: [via, to]\n"
				  "      headers_absent:\n        - T\n",
				8, "s.match.headers_absent: header 'to' is both in"
				   " headers_present and headers_absent"},
		{HEAD SIG "    match:\n      content_length_mismatch: maybe\n", 6,
				"expected true or false, got 'maybe'"},
		{HEAD SIG "    match:\n      compact: 1\n", 6,
				"match.compact: expected true or false, got '1'"},
		{HEAD SIG "    match:\n      fingerprint: af1-0123\n", 6,
				"'af1-0123' is not a fingerprint"},
		{HEAD SIG "    match:\n      fingerprint:\n"
				  "        - af1-0123456789abcdef\n"
				  "        - af2-0123456789abcdef\n",
				8, "'af2-0123456789abcdef' is not a fingerprint"},
		{HEAD SIG "    match:\n      fingerprint: af1-0123456789abcdeg\n", 6,
				"is not a fingerprint"},
		{HEAD SIG "    match:\n      fingerprint: []\n", 6,
				"empty list of fingerprints"},
		{HEAD SIG "    match:\n      shape: ''\n", 6,
				"a shape has 1 to 255 bytes, this one 0"},
		{HEAD SIG "    match:\n      shape: {a: b}\n", 6, "expected a string"},
		{HEAD SIG "    match: {method: x}\n---\nversion: 1\n", 7,
				"a second YAML document"},
		{HEAD SIG "    match: {method: x}\n  - name: t\n    source: u\n"
				  "    match:\n      sdp_s: '\\'\n",
				9, "t.match.sdp_s: bad regular expression"},
};

static void test_bad_files(void **state)
{
	long live = test_host_shm_live();
	char want[64];
	af_arena_t *a;
	size_t i;

	for(i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		if(load_text(&a, bad_cases[i].text))
			fail_msg("case %zu loaded:\n%s", i, bad_cases[i].text);
		snprintf(want, sizeof(want), "/sigs.yaml:%d: ", bad_cases[i].line);
		if(!strstr(err, want) || !strstr(err, bad_cases[i].says))
			fail_msg("case %zu: got \"%s\", expected line %d and \"%s\"", i,
					err, bad_cases[i].line, bad_cases[i].says);
		af_arena_free(a);
	}
	/* a missing file */
	a = af_arena_new(0);
	assert_null(af_sig_load(a, "/nonexistent/sigs.yaml", err, sizeof(err)));
	assert_string_equal(err,
			"signature file '/nonexistent/sigs.yaml': No such file or"
			" directory");
	assert_null(af_sig_load(a, "/nonexistent/sigs.yaml", NULL, 0));
	assert_null(af_sig_load(NULL, "/nonexistent/sigs.yaml", err, sizeof(err)));
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

/* a regular expression condition: the key and a pattern matching the
 * tool's INVITE, not the phone's REGISTER */
static const struct {
	const char *key, *pattern;
} re_conds[] = {
		{"user_agent", "^pplsip$"},
		{"server", "^srv/"},
		{"from_display", "^Scanner$"},
		{"from_user", "^[0-9]{4}$"},
		{"from_tag", "^[0-9a-f]{8}$"},
		{"to_display", "Target"},
		{"to_user", "^100$"},
		{"call_id", "^[0-9]{10}@"},
		{"branch", "^z9hG4bK-"},
		{"contact", "^<sip:1000@"},
		{"sdp_o_user", "^root$"},
		{"sdp_s", "^session$"},
		{"request_line", "^INVITE sip:[0-9]+@[0-9.]+ SIP/2\\.0$"},
		{"method", "^INVITE$"},
		{"header_order", "^via,from,to,call-id,cseq,contact,user-agent,"},
};

static void test_regex_conditions(void **state)
{
	long live = test_host_shm_live();
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	char text[4096];
	af_sigset_t *set;
	af_arena_t *a;
	size_t i, len;
	int n;

	/* one signature per condition, each alone in its set */
	for(i = 0; i < sizeof(re_conds) / sizeof(re_conds[0]); i++) {
		snprintf(text, sizeof(text),
				HEAD "  - name: %s\n    source: t\n    match:\n"
					 "      %s: '%s'\n",
				re_conds[i].key, re_conds[i].key, re_conds[i].pattern);
		set = load_ok(&a, text);
		n = af_sig_match(set, &tool_fm, hits, AF_SIG_HITS_MAX);
		if(n != 1)
			fail_msg("%s: tool INVITE gave %d hits", re_conds[i].key, n);
		assert_string_equal(hits[0].name, re_conds[i].key);
		n = af_sig_match(set, &phone_fm, hits, AF_SIG_HITS_MAX);
		if(n != 0)
			fail_msg("%s: phone REGISTER gave %d hits", re_conds[i].key, n);
		af_arena_free(a);
	}

	/* all of them in one signature: AND; then one of them changed */
	len = (size_t)snprintf(text, sizeof(text),
			HEAD "  - name: all\n    source: t\n    match:\n");
	for(i = 0; i < sizeof(re_conds) / sizeof(re_conds[0]); i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
				"      %s: '%s'\n", re_conds[i].key, re_conds[i].pattern);
	set = load_ok(&a, text);
	assert_int_equal(af_sig_match(set, &tool_fm, hits, 8), 1);
	assert_int_equal(af_sig_match(set, &phone_fm, hits, 8), 0);
	af_arena_free(a);
	snprintf(strstr(text, "'^root$'"), sizeof(text) - (size_t)(strstr(text,
			"'^root$'") - text), "'^admin$'\n");
	set = load_ok(&a, text);
	assert_int_equal(af_sig_match(set, &tool_fm, hits, 8), 0);
	af_arena_free(a);

	/* patterns are searched, not anchored; a missing feature is the
	 * empty string */
	set = load_ok(&a, HEAD "  - name: inside\n    source: t\n    match:\n"
						   "      user_agent: lsi\n"
						   "  - name: no-server\n    source: t\n    match:\n"
						   "      server: '^$'\n"
						   "  - name: any-server\n    source: t\n    match:\n"
						   "      server: '.'\n"
						   "  - name: optional-sdp\n    source: t\n"
						   "    match:\n      sdp_s: '^(session)?$'\n");
	n = af_sig_match(set, &tool_fm, hits, 8);
	assert_int_equal(n, 3);
	assert_true(hit(hits, n, "inside"));
	assert_true(hit(hits, n, "any-server"));
	assert_true(hit(hits, n, "optional-sdp"));
	n = af_sig_match(set, &phone_fm, hits, 8);
	assert_int_equal(n, 2);
	assert_true(hit(hits, n, "no-server"));
	assert_true(hit(hits, n, "optional-sdp"));
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

/*
 * Patterns that must match the tool's User-Agent "pplsip" and patterns
 * that must not: the literal prefix a matcher may check before PCRE2
 * must never change an answer (quantifiers, alternation, options,
 * escapes).
 */
static void test_pattern_forms(void **state)
{
	static const char *const yes[] = {"^pplsip", "^pplsip$", "^pplsipx?",
			"^pplsipx*$", "^pplsipx{0,2}", "^pplsq?ip", "^x|pplsip",
			"pplsip|^x", "^(?i)PPLSIP", "^PP(?i)LSIP|^ppl", "^pp\\w",
			"^ppl.ip", "^[p]plsip", "^\\x70plsip", "sip$", "^pplsip\\b",
			"^pplsip(?#comment)"};
	static const char *const no[] = {"^Pplsip", "^pplsipx", "^ppl-",
			"^pplsip.", "^ pplsip", "^pplsi$", "^\\x71", "^pplsip{2}"};
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	size_t i, len = 0, cap = 8192;
	af_sigset_t *set;
	af_arena_t *a;
	char *text;
	int n;

	text = malloc(cap);
	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, HEAD);
	for(i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		len += (size_t)snprintf(text + len, cap - len,
				"  - {name: yes%zu, source: t, match: {user_agent: '%s'}}\n",
				i, yes[i]);
	for(i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		len += (size_t)snprintf(text + len, cap - len,
				"  - {name: no%zu, source: t, match: {user_agent: '%s'}}\n",
				i, no[i]);
	set = load_ok(&a, text);
	n = af_sig_match(set, &tool_fm, hits, AF_SIG_HITS_MAX);
	assert_int_equal(n, sizeof(yes) / sizeof(yes[0]));
	assert_string_equal(hits[0].name, "yes0");
	/* one at a time, to name the one that goes wrong */
	for(i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(text, cap, HEAD "  - {name: s, source: t, match:"
								 " {user_agent: '%s'}}\n",
				yes[i]);
		af_arena_free(a);
		set = load_ok(&a, text);
		if(af_sig_match(set, &tool_fm, NULL, 0) != 1)
			fail_msg("'%s' does not match", yes[i]);
	}
	for(i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(text, cap, HEAD "  - {name: s, source: t, match:"
								 " {user_agent: '%s'}}\n",
				no[i]);
		af_arena_free(a);
		set = load_ok(&a, text);
		if(af_sig_match(set, &tool_fm, NULL, 0) != 0)
			fail_msg("'%s' matches", no[i]);
	}
	af_arena_free(a);
	free(text);
}

static void test_exact_conditions(void **state)
{
	long live = test_host_shm_live();
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	char text[4096], tool_id[21], phone_id[21];
	af_sigset_t *set;
	af_arena_t *a;
	int n;

	af_fp_id(tool_fm.hash, tool_id);
	af_fp_id(phone_fm.hash, phone_id);
	/* the phone's id in upper case: hex digits in any case */
	phone_id[4] = phone_id[4] >= 'a' ? (char)(phone_id[4] - 32) : phone_id[4];
	snprintf(text, sizeof(text),
			HEAD "  - name: fp-tool\n    source: t\n    match:\n"
				 "      fingerprint: %s\n"
				 "  - name: fp-list\n    source: t\n    match:\n"
				 "      fingerprint: [af1-0000000000000000, %s]\n"
				 "  - name: shape-tool\n    source: t\n    match:\n"
				 "      shape: '%s'\n"
				 "  - name: cl-mismatch\n    source: t\n    match:\n"
				 "      content_length_mismatch: true\n"
				 "  - name: cl-ok\n    source: t\n    match:\n"
				 "      content_length_mismatch: false\n"
				 "  - name: compact\n    source: t\n    match:\n"
				 "      compact: true\n"
				 "  - name: not-compact\n    source: t\n    match:\n"
				 "      compact: false\n"
				 "  - name: present\n    source: t\n    match:\n"
				 "      headers_present: [server, content-type, Via]\n"
				 "  - name: present-compact\n    source: t\n    match:\n"
				 "      headers_present: [i, m, max-forwards]\n"
				 "  - name: absent\n    source: t\n    match:\n"
				 "      headers_absent: [max-forwards, l]\n"
				 "  - name: absent-unknown\n    source: t\n    match:\n"
				 "      headers_absent: [x-never]\n",
			tool_id, phone_id, tool_fm.shape);
	set = load_ok(&a, text);
	assert_int_equal(af_sig_count(set), 11);

	n = af_sig_match(set, &tool_fm, hits, AF_SIG_HITS_MAX);
	assert_true(hit(hits, n, "fp-tool"));
	assert_true(hit(hits, n, "shape-tool"));
	assert_true(hit(hits, n, "cl-mismatch"));
	assert_true(hit(hits, n, "not-compact"));
	assert_true(hit(hits, n, "present"));
	assert_true(hit(hits, n, "absent-unknown"));
	assert_int_equal(n, 6);
	/* file order */
	assert_string_equal(hits[0].name, "fp-tool");
	assert_string_equal(hits[5].name, "absent-unknown");

	n = af_sig_match(set, &phone_fm, hits, AF_SIG_HITS_MAX);
	assert_true(hit(hits, n, "fp-list"));
	assert_true(hit(hits, n, "cl-ok"));
	assert_true(hit(hits, n, "compact"));
	assert_true(hit(hits, n, "present-compact"));
	assert_true(hit(hits, n, "absent-unknown"));
	assert_int_equal(n, 5);
	af_arena_free(a);

	/* AND of cheap and costly conditions: each must hold */
	set = load_ok(&a, HEAD "  - name: both\n    source: t\n    match:\n"
						   "      user_agent: pplsip\n"
						   "      headers_absent: [max-forwards]\n"
						   "      content_length_mismatch: true\n"
						   "      compact: false\n"
						   "  - name: ua-but-present\n    source: t\n"
						   "    match:\n      user_agent: pplsip\n"
						   "      headers_present: [max-forwards]\n"
						   "  - name: ua-but-compact\n    source: t\n"
						   "    match:\n      user_agent: pplsip\n"
						   "      compact: true\n");
	n = af_sig_match(set, &tool_fm, hits, AF_SIG_HITS_MAX);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].name, "both");
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_many(void **state)
{
	long live = test_host_shm_live();
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	size_t cap = 256 * 1024, len = 0;
	char *text, msg[512];
	af_fp_msg_t fm;
	af_sigset_t *set;
	af_arena_t *a;
	int i, n;

	text = malloc(cap);
	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, HEAD);
	for(i = 0; i < 500; i++)
		len += (size_t)snprintf(text + len, cap - len,
				"  - name: tool-%d\n    source: generated\n    score: %d\n"
				"    action: %s\n    match:\n      user_agent: '^tool-%d/'\n"
				"      headers_present: [x-h%d]\n",
				i, i, i % 2 ? "alert" : "block", i, i % 60);
	set = load_ok(&a, text);
	assert_int_equal(af_sig_count(set), 500);
	for(i = 0; i < 500; i += 37) {
		snprintf(msg, sizeof(msg),
				"OPTIONS sip:x SIP/2.0\r\nUser-Agent: tool-%d/1.0\r\n"
				"X-H%d: 1\r\n\r\n",
				i, i % 60);
		assert_int_equal(af_fp_parse(msg, strlen(msg), &fm), 0);
		n = af_sig_match(set, &fm, hits, AF_SIG_HITS_MAX);
		assert_int_equal(n, 1);
		snprintf(msg, sizeof(msg), "tool-%d", i);
		assert_string_equal(hits[0].name, msg);
		assert_int_equal(hits[0].score, i);
		assert_int_equal(hits[0].action, i % 2 ? AF_SIG_ALERT : AF_SIG_BLOCK);
	}
	/* the right UA without the header: nothing */
	snprintf(msg, sizeof(msg),
			"OPTIONS sip:x SIP/2.0\r\nUser-Agent: tool-1/1.0\r\n\r\n");
	assert_int_equal(af_fp_parse(msg, strlen(msg), &fm), 0);
	assert_int_equal(af_sig_match(set, &fm, hits, AF_SIG_HITS_MAX), 0);
	af_arena_free(a);

	/* 65 distinct header names are more than a file may use */
	len = (size_t)snprintf(text, cap, HEAD SIG "    match:\n"
											   "      headers_absent:\n");
	for(i = 0; i < 65; i++)
		len += (size_t)snprintf(text + len, cap - len, "        - x-%d\n", i);
	assert_null(load_text(&a, text));
	assert_non_null(strstr(err, "sigs.yaml:71: s.match.headers_absent: too"
								" many distinct header names"));
	af_arena_free(a);
	free(text);
	assert_int_equal(test_host_shm_live(), live);
}

/* Returns 1 when this PCRE2 library has a working JIT. */
static int jit_available(void)
{
	uint32_t jit = 0;

	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	return jit != 0;
}

static const char jit_sigs[] =
		HEAD "  - name: a\n    source: t\n    match:\n"
			 "      user_agent: '^pplsip'\n"
			 "      header_order: 'user-agent'\n"
			 "  - name: b\n    source: t\n    match:\n"
			 "      user_agent: '^pplsip'\n"
			 "  - name: c\n    source: t\n    match:\n"
			 "      method: '^REGISTER$'\n"
			 "      user_agent: 'Yealink'\n";

static void test_jit(void **state)
{
	long live = test_host_shm_live();
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	af_sigset_t *set;
	af_arena_t *a;

	set = load_ok(&a, jit_sigs);
	/* no cache before the first match of this thread */
	assert_int_equal(af_sig_jit_count(set), -1);
	assert_int_equal(af_sig_match(set, &tool_fm, hits, 8), 2);
	/* 4 distinct patterns ('^pplsip' on user_agent is shared) */
	if(jit_available())
		assert_int_equal(af_sig_jit_count(set), 4);
	else
		assert_int_equal(af_sig_jit_count(set), 0);
	assert_int_equal(af_sig_match(set, &phone_fm, hits, 8), 1);
	assert_string_equal(hits[0].name, "c");
	assert_int_equal(af_sig_jit_count(NULL), -1);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_fork(void **state)
{
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	af_sigset_t *set;
	af_arena_t *a;
	int status, n, bad = 0;
	pid_t pid;

	set = load_ok(&a, jit_sigs);
	assert_int_equal(af_sig_match(set, &tool_fm, hits, 8), 2);
	assert_true(af_sig_jit_count(set) >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if(pid == 0) {
		/* the child: the parent's cache is not its own */
		if(af_sig_jit_count(set) != -1)
			bad |= 1;
		n = af_sig_match(set, &phone_fm, hits, 8);
		if(n != 1 || strcmp(hits[0].name, "c") != 0)
			bad |= 2;
		if(af_sig_jit_count(set) != (jit_available() ? 4 : 0))
			bad |= 4;
		n = af_sig_match(set, &tool_fm, hits, 8);
		if(n != 2 || strcmp(hits[0].name, "a") || strcmp(hits[1].name, "b"))
			bad |= 8;
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* the parent's cache is untouched */
	assert_int_equal(af_sig_jit_count(set), jit_available() ? 4 : 0);
	assert_int_equal(af_sig_match(set, &phone_fm, hits, 8), 1);
	af_arena_free(a);
}

/* a thread matching a set on its own: every answer right */
static void *thread_match(void *arg)
{
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	const af_sigset_t *set = arg;
	intptr_t bad = 0;
	int i;

	for(i = 0; i < 2000; i++) {
		if(af_sig_match(set, &tool_fm, hits, 8) != 2)
			bad++;
		if(af_sig_match(set, &phone_fm, hits, 8) != 1)
			bad++;
	}
	if(af_sig_jit_count(set) != (jit_available() ? 4 : 0))
		bad++;
	return (void *)bad;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	af_sigset_t *set;
	af_arena_t *a;
	void *bad;
	int i;

	set = load_ok(&a, jit_sigs);
	for(i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_match, set), 0);
	for(i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_null(bad);
	}
	af_arena_free(a);
}

static void test_reload(void **state)
{
	long live = test_host_shm_live();
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	af_sigset_t *set1, *set2;
	af_arena_t *a1, *a2;
	int i;

	/* a new set, even at the address of the freed one, is matched with
	 * its own patterns */
	for(i = 0; i < 4; i++) {
		set1 = load_ok(&a1, HEAD "  - name: one\n    source: t\n    match:\n"
								 "      user_agent: pplsip\n");
		assert_int_equal(af_sig_match(set1, &tool_fm, hits, 8), 1);
		assert_string_equal(hits[0].name, "one");
		af_arena_free(a1);
		set2 = load_ok(&a2, HEAD "  - name: two\n    source: t\n    match:\n"
								 "      user_agent: Yealink\n");
		assert_int_equal(af_sig_match(set2, &tool_fm, hits, 8), 0);
		assert_int_equal(af_sig_match(set2, &phone_fm, hits, 8), 1);
		assert_string_equal(hits[0].name, "two");
		af_arena_free(a2);
	}
	assert_int_equal(test_host_shm_live(), live);
}

/* 1 when s[0..len) holds "link" in any case */
static int has_link(const char *s, size_t len)
{
	size_t i;

	for(i = 0; i + 4 <= len; i++)
		if(strncasecmp(s + i, "link", 4) == 0)
			return 1;
	return 0;
}

static void test_memo(void **state)
{
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	char ua[700][300], disp[16];
	af_fp_msg_t fm;
	af_sigset_t *set;
	af_arena_t *a;
	int i, round, n, want;

	/* the per-process memo of results by value: right answers for
	 * values seen again, for more values than its slots (evicted and
	 * taken again), for values too long to remember, and for the same
	 * value in two features whose patterns differ */
	set = load_ok(&a, HEAD "  - name: link\n    source: t\n    match:\n"
						   "      user_agent: '(?i)link'\n"
						   "  - name: yea\n    source: t\n    match:\n"
						   "      user_agent: '^Yea'\n"
						   "  - name: from-link\n    source: t\n    match:\n"
						   "      from_display: '(?i)link'\n"
						   "  - name: to-b\n    source: t\n    match:\n"
						   "      to_display: '(?i)b'\n");
	for(i = 0; i < 700; i++) {
		memset(ua[i], 'x', sizeof(ua[i]));
		n = snprintf(ua[i], sizeof(ua[i]), "%s %d %s",
				i % 3 ? "Yealink" : "Alpha", i, i % 5 ? "" : "LINK");
		ua[i][n] = 'x';
		/* every seventh is longer than the memo keeps */
		ua[i][i % 7 ? n + 1 : 280] = '\0';
	}
	for(round = 0; round < 3; round++) {
		for(i = 0; i < 700; i++) {
			fm = tool_fm;
			fm.user_agent.s = ua[i];
			fm.user_agent.len = strlen(ua[i]);
			/* the same value in both display names */
			snprintf(disp, sizeof(disp), "%s", i % 2 ? "Alink" : "Bobby Brown");
			fm.from_display.s = disp;
			fm.from_display.len = strlen(disp);
			fm.to_display = fm.from_display;
			n = af_sig_match(set, &fm, hits, 8);
			want = has_link(ua[i], fm.user_agent.len)
				   + (strncmp(ua[i], "Yea", 3) == 0) + 1;
			assert_int_equal(n, want);
			assert_int_equal(hit(hits, n, "link"),
					has_link(ua[i], fm.user_agent.len));
			assert_int_equal(hit(hits, n, "yea"),
					strncmp(ua[i], "Yea", 3) == 0);
			assert_int_equal(hit(hits, n, "from-link"), i % 2);
			assert_int_equal(hit(hits, n, "to-b"), !(i % 2));
		}
	}
	af_arena_free(a);
}

static void test_match_limit(void **state)
{
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	char msg[512], ua[200];
	af_fp_msg_t fm;
	af_sigset_t *set;
	af_arena_t *a;

	/* catastrophic backtracking: stopped by the limit, no match */
	set = load_ok(&a, HEAD "  - name: slow\n    source: t\n    match:\n"
						   "      user_agent: '^(a+)+$'\n"
						   "  - name: fine\n    source: t\n    match:\n"
						   "      user_agent: '^a'\n");
	memset(ua, 'a', sizeof(ua) - 2);
	ua[sizeof(ua) - 2] = 'b';
	ua[sizeof(ua) - 1] = '\0';
	snprintf(msg, sizeof(msg),
			"OPTIONS sip:x SIP/2.0\r\nUser-Agent: %s\r\n\r\n", ua);
	assert_int_equal(af_fp_parse(msg, strlen(msg), &fm), 0);
	assert_int_equal(af_sig_match(set, &fm, hits, 8), 1);
	assert_string_equal(hits[0].name, "fine");
	/* the failed match is not remembered as an answer: the same again */
	assert_int_equal(af_sig_match(set, &fm, hits, 8), 1);
	assert_string_equal(hits[0].name, "fine");
	af_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_load_good),
			cmocka_unit_test(test_bad_files),
			cmocka_unit_test(test_regex_conditions),
			cmocka_unit_test(test_pattern_forms),
			cmocka_unit_test(test_exact_conditions),
			cmocka_unit_test(test_many),
			cmocka_unit_test(test_jit),
			cmocka_unit_test(test_fork),
			cmocka_unit_test(test_threads),
			cmocka_unit_test(test_reload),
			cmocka_unit_test(test_memo),
			cmocka_unit_test(test_match_limit),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, setup, NULL);
}
