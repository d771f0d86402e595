/*
 * antifraud unit tests - the rule file: the sample loads, defaults,
 * every class of error with its "file:line:", list files, patterns,
 * domains, profiles, and no leak on any path.
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
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <pcre2.h>
#include "af_file.h"
#include "af_host.h"
#include "af_geo.h"
#include "af_rules.h"
#include "host.h"

/* the sample rule file, relative to the top of the tree (the runner's
 * working directory) */
#ifndef AF_SAMPLE_RULES
#define AF_SAMPLE_RULES "etc/antifraud.yaml"
#endif

static char path_buf[512];
static char err[512];

/* Writes text into the temporary file name and returns its path (a copy
 * that stays valid until the next call). */
static const char *write_rules(const char *name, const char *text)
{
	const char *p = test_write_file(name, text);

	assert_non_null(p);
	snprintf(path_buf, sizeof(path_buf), "%s", p);
	return path_buf;
}

/* Writes text as a rule file and loads it. */
static af_rules_t *load_text(const char *text)
{
	return af_rules_load(write_rules("rules.yaml", text), err, sizeof(err));
}

static const af_iplist_t *find_list(const af_rules_t *r, const char *name)
{
	uint32_t i;

	for(i = 0; i < r->n_lists; i++)
		if(strcmp(r->lists[i].name, name) == 0)
			return &r->lists[i];
	return NULL;
}

static int list_has(const af_iplist_t *l, const char *ip)
{
	af_ip_t a;

	assert_int_equal(af_ip_parse(ip, strlen(ip), &a), 0);
	return af_trie_lookup(l->trie, &a, NULL) >= 0;
}

static int has_code(const uint16_t *v, uint32_t n, const char *cc)
{
	uint32_t i;

	for(i = 0; i < n; i++)
		if(v[i] == af_cc_pack(cc))
			return 1;
	return 0;
}

static int has_str(const af_strset_t *s, const char *v)
{
	return af_strset_has(s, v, strlen(v));
}

static int re_match(const af_regex_t *re, const char *s)
{
	return af_regex_match(re, s, strlen(s));
}

static void test_sample_loads(void **state)
{
	long live = test_host_shm_live();
	const af_profile_t *p;
	const af_iplist_t *l;
	af_rules_t *r;

	r = af_rules_load(AF_SAMPLE_RULES, err, sizeof(err));
	if(!r)
		fail_msg("%s", err);
	assert_string_equal(r->path, AF_SAMPLE_RULES);
	assert_true(r->loaded_ms > 0);

	assert_int_equal(r->n_lists, 3);
	l = find_list(r, "trusted");
	assert_non_null(l);
	assert_null(l->file);
	assert_true(list_has(l, "127.0.0.1"));
	assert_true(list_has(l, "::1"));
	assert_false(list_has(l, "127.0.0.2"));
	l = find_list(r, "office");
	assert_non_null(l);
	assert_int_equal(af_trie_count(l->trie), 0);
	l = find_list(r, "blocklist");
	assert_non_null(l);
	assert_string_equal(l->file, "etc/antifraud-blocklist.txt");
	assert_int_equal(af_trie_count(l->trie), 3);
	assert_true(list_has(l, "192.0.2.77"));
	assert_true(list_has(l, "198.51.100.7"));
	assert_false(list_has(l, "198.51.100.8"));
	assert_true(list_has(l, "2001:db8:dead:1::5"));

	assert_null(r->geo_country_db);
	assert_null(r->geo_asn_db);
	assert_int_equal(r->geo_required, 1);

	assert_int_equal(r->scanner.window_s, 60);
	assert_int_equal(r->scanner.threshold, 5);
	assert_int_equal(r->scanner.ban_s, 3600);
	assert_int_equal(r->scanner.weight[AF_R_UNKNOWN_DOMAIN], 1);
	assert_int_equal(r->scanner.weight[AF_R_UNKNOWN_USER], 1);
	assert_int_equal(r->scanner.weight[AF_R_IP_DENY], 5);
	assert_int_equal(r->scanner.weight[AF_R_GEO_COUNTRY], 1);
	assert_int_equal(r->scanner.weight[AF_R_GEO_CONTINENT], 1);
	assert_int_equal(r->scanner.weight[AF_R_GEO_ASN], 1);
	assert_int_equal(r->scanner.weight[AF_R_GEO_UNKNOWN], 0);
	assert_int_equal(r->scanner.weight[AF_R_BANNED], 0);
	assert_int_equal(r->history_ttl_s, 86400);

	assert_int_equal(r->n_profiles, 1);
	p = r->default_profile;
	assert_non_null(p);
	assert_string_equal(p->name, "default");
	assert_true(has_str(p->domains, "localhost"));
	assert_true(has_str(p->domains, "127.0.0.1"));
	assert_true(has_str(p->domains, "example.com"));
	assert_int_equal(af_strset_count(p->domains), 3);
	assert_true(has_str(p->users, "alice"));
	assert_true(has_str(p->users, "carol"));
	assert_false(has_str(p->users, "Alice"));
	assert_int_equal(p->n_user_re, 1);
	assert_string_equal(p->user_re[0].src, "^1[0-9]{3}$");
	assert_true(re_match(&p->user_re[0], "1234"));
	assert_false(re_match(&p->user_re[0], "12345"));
	assert_non_null(p->routable);
	assert_true(re_match(p->routable, "+4930123456"));
	assert_false(re_match(p->routable, "12345"));
	assert_int_equal(p->n_trusted, 1);
	assert_ptr_equal(p->trusted[0], find_list(r, "trusted"));
	assert_int_equal(p->n_allow, 1);
	assert_ptr_equal(p->allow[0], find_list(r, "office"));
	assert_int_equal(p->n_deny, 1);
	assert_ptr_equal(p->deny[0], find_list(r, "blocklist"));
	assert_int_equal(p->geo.n_allow_cc, 0);
	assert_int_equal(p->geo.n_deny_cc, 1);
	assert_true(has_code(p->geo.deny_cc, p->geo.n_deny_cc, "KP"));
	assert_int_equal(p->geo.n_allow_cont + p->geo.n_deny_cont, 0);
	assert_int_equal(p->geo.n_deny_asn, 0);
	assert_int_equal(p->geo.unknown_is_bad, 0);
	assert_int_equal(p->country_hop_s, 3600);
	assert_int_equal(p->continent_hop_s, 14400);
	assert_int_equal(af_strset_count(p->exempt_callers), 0);
	assert_int_equal(p->n_exempt_sources, 0);
	assert_int_equal(p->mode[AF_C_DOMAIN], AF_MODE_ENFORCE);
	assert_int_equal(p->mode[AF_C_USER], AF_MODE_ENFORCE);
	assert_int_equal(p->mode[AF_C_IPLIST], AF_MODE_ENFORCE);
	assert_int_equal(p->mode[AF_C_GEO], AF_MODE_ENFORCE);
	assert_int_equal(p->mode[AF_C_SDP], AF_MODE_MONITOR);
	assert_int_equal(p->mode[AF_C_HOPPING], AF_MODE_MONITOR);
	assert_int_equal(p->mode[AF_C_BAN], AF_MODE_ENFORCE);

	af_rules_free(r);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_defaults(void **state)
{
	long live = test_host_shm_live();
	char want[700];
	const af_profile_t *p;
	af_rules_t *r;
	int i;

	r = load_text("version: 1\nprofiles:\n  default:\n");
	if(!r)
		fail_msg("%s", err);
	assert_int_equal(r->n_lists, 0);
	assert_null(r->geo_country_db);
	assert_null(r->geo_asn_db);
	assert_int_equal(r->geo_required, 0);
	assert_int_equal(r->scanner.window_s, 60);
	assert_int_equal(r->scanner.threshold, 5);
	assert_int_equal(r->scanner.ban_s, 3600);
	for(i = 0; i < AF_R__COUNT; i++) {
		if(i == AF_R_UNKNOWN_DOMAIN || i == AF_R_UNKNOWN_USER)
			assert_int_equal(r->scanner.weight[i], 1);
		else if(i == AF_R_IP_DENY)
			assert_int_equal(r->scanner.weight[i], 5);
		else
			assert_int_equal(r->scanner.weight[i], 0);
	}
	assert_int_equal(r->history_ttl_s, 86400);
	p = r->default_profile;
	assert_non_null(p);
	assert_int_equal(af_strset_count(p->domains), 0);
	assert_int_equal(af_strset_count(p->users), 0);
	assert_int_equal(p->n_user_re, 0);
	assert_null(p->routable);
	assert_int_equal(p->n_trusted + p->n_allow + p->n_deny, 0);
	assert_int_equal(p->geo.n_allow_cc + p->geo.n_deny_cc, 0);
	assert_int_equal(p->geo.unknown_is_bad, 0);
	assert_int_equal(p->country_hop_s, 0);
	assert_int_equal(p->continent_hop_s, 0);
	for(i = 0; i < AF_C__COUNT; i++)
		assert_int_equal(p->mode[i],
				i == AF_C_SDP || i == AF_C_HOPPING || i == AF_C_ANALYTICS
						? AF_MODE_MONITOR
						: AF_MODE_ENFORCE);
	af_rules_free(r);

	/* a database makes GeoIP required unless told otherwise: one that
	 * is not there is an error at its line; paths are relative to the
	 * rule file */
	r = load_text("version: 1\ngeoip:\n  country_db: c.mmdb\n"
				  "  asn_db: /x/a.mmdb\nprofiles: {default: {}}\n");
	assert_null(r);
	snprintf(want, sizeof(want),
			"%s:3: geoip.country_db: GeoIP database '%.*s/c.mmdb': No such"
			" file or directory",
			path_buf, (int)(strrchr(path_buf, '/') - path_buf), path_buf);
	if(strncmp(err, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want \"%s...\"", err, want);

	/* not required: the rules load and run without GeoIP */
	r = load_text("version: 1\ngeoip: {country_db: c.mmdb, required: false}\n"
				  "profiles: {default: {}}\n");
	if(!r)
		fail_msg("%s", err);
	assert_int_equal(r->geo_required, 0);
	assert_null(r->geo_country_db);
	assert_null(r->geo_asn_db);
	af_rules_free(r);

	/* weights given: the reasons not named weigh 0 */
	r = load_text("version: 1\nscanner:\n  weights: {geo_asn: 7}\n"
				  "history: {ttl: 100}\nprofiles: {default: {mode: {sdp: off,"
				  " ban: monitor}, geo: {unknown: deny,"
				  " deny_asn: [AS64500, 13335, as64500]}}}\n");
	if(!r)
		fail_msg("%s", err);
	assert_int_equal(r->scanner.weight[AF_R_GEO_ASN], 7);
	assert_int_equal(r->scanner.weight[AF_R_IP_DENY], 0);
	assert_int_equal(r->scanner.weight[AF_R_UNKNOWN_USER], 0);
	assert_int_equal(r->history_ttl_s, 100);
	p = r->default_profile;
	assert_int_equal(p->mode[AF_C_SDP], AF_MODE_OFF);
	assert_int_equal(p->mode[AF_C_BAN], AF_MODE_MONITOR);
	assert_int_equal(p->mode[AF_C_GEO], AF_MODE_ENFORCE);
	assert_int_equal(p->geo.unknown_is_bad, 1);
	assert_int_equal(p->geo.n_deny_asn, 2);
	assert_int_equal(p->geo.deny_asn[0], 13335);
	assert_int_equal(p->geo.deny_asn[1], 64500);
	af_rules_free(r);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_geo_codes(void **state)
{
	const af_profile_t *p;
	af_rules_t *r;

	r = load_text("version: 1\nprofiles:\n  default:\n    geo:\n"
				  "      allow_countries: [us, DE, de, Fr]\n"
				  "      deny_continents: [af, AS]\n");
	if(!r)
		fail_msg("%s", err);
	p = r->default_profile;
	assert_int_equal(p->geo.n_allow_cc, 3);
	assert_true(p->geo.allow_cc[0] < p->geo.allow_cc[1]);
	assert_true(p->geo.allow_cc[1] < p->geo.allow_cc[2]);
	assert_int_equal(p->geo.allow_cc[0], af_cc_pack("DE"));
	assert_int_equal(p->geo.allow_cc[2], af_cc_pack("US"));
	assert_true(has_code(p->geo.allow_cc, p->geo.n_allow_cc, "FR"));
	assert_int_equal(p->geo.n_deny_cont, 2);
	assert_true(has_code(p->geo.deny_cont, p->geo.n_deny_cont, "AF"));
	assert_true(has_code(p->geo.deny_cont, p->geo.n_deny_cont, "AS"));
	af_rules_free(r);
}

/* a bad file: its text, the line the error names, and words it says */
typedef struct bad_case {
	const char *text;
	int line;
	const char *says;
} bad_case_t;

#define PROF "profiles: {default: {}}\n"
#define PLAN "dest:\n  numplan: plan.csv\n"

static const bad_case_t bad_cases[] = {
	/* YAML itself */
	{"version: 1\nprofiles:\n  default: {domains: [a, b}\n", 3,
			"YAML: "},
	{"version: 1\n" PROF "bad: *nope\n", 3, "YAML: "},
	{"", 1, "no rules in the file"},
	{"# only a comment\n", 1, "no rules in the file"},
	{"- version\n- 1\n", 1, "expected a mapping at the top, got a sequence"},
	{"version: 1\n" PROF "---\nversion: 1\n", 4, "second YAML document"},
	/* top level */
	{PROF, 1, "missing 'version: 1'"},
	{"version: 2\n" PROF, 1, "version: unsupported version 2"},
	{"version: 1.0\n" PROF, 1, "version: expected an integer, got '1.0'"},
	{"version: 1\nprofile:\n  default: {}\n", 2,
			"unknown key 'profile' (expected version, lists, geoip, "
			"scanner, history, accounts, fingerprint, dest, analytics,"
			" profiles)"},
	{"version: 1\n" PROF "version: 1\n", 3, "duplicate key 'version'"},
	{"version: 1\n", 1, "missing 'profiles'"},
	{"version: 1\nprofiles:\n  trunk: {}\n", 2, "no 'default' profile"},
	{"version: 1\nprofiles: {default: {}, 'a b': {}}\n", 2,
			"'a b' is not a valid profile name"},
	{"version: 1\nprofiles:\n  default: {}\n  default: {}\n", 4,
			"profiles: duplicate key 'default'"},
	/* account protection */
	{"version: 1\naccounts:\n  cooling: 0\n" PROF, 3,
			"accounts.cooling: 0 is out of range (1..31536000)"},
	{"version: 1\naccounts:\n  source_window: 2d\n" PROF, 3,
			"accounts.source_window: expected an integer, got '2d'"},
	{"version: 1\naccounts:\n  sources: 3\n" PROF, 3,
			"accounts: unknown key 'sources' (expected source_failures,"
			" source_window, ban_time, account_sources, account_window,"
			" cooling, known_ttl, alert_failures, identity)"},
	{"version: 1\naccounts:\n  identity: realm\n" PROF, 3,
			"accounts.identity: unknown identity 'realm' (expected"
			" user@domain or user)"},
	{"version: 1\nscanner:\n  weights: {auth_failures: 1}\n" PROF, 3,
			"scanner.weights: 'auth_failures' cannot weigh: it is learned"
			" from authentication results"},
	/* integers, ranges, booleans */
	{"version: 1\nscanner:\n  window: 1m\n" PROF, 3,
			"scanner.window: expected an integer, got '1m'"},
	{"version: 1\nscanner:\n  window: 0\n" PROF, 3,
			"scanner.window: 0 is out of range (1..86400)"},
	{"version: 1\nscanner:\n  threshold: -1\n" PROF, 3,
			"scanner.threshold: expected an integer, got '-1'"},
	{"version: 1\nscanner:\n  ban_time: 99999999999999999999999\n" PROF, 3,
			"scanner.ban_time: 99999999999999999999999 is out of range"},
	{"version: 1\nscanner:\n  ban_time:\n" PROF, 3,
			"scanner.ban_time: expected an integer, got nothing"},
	{"version: 1\nscanner:\n  windw: 5\n" PROF, 3,
			"scanner: unknown key 'windw' (expected window, threshold, "
			"ban_time, weights)"},
	{"version: 1\nhistory:\n  ttl: [1]\n" PROF, 3,
			"history.ttl: expected an integer, got a sequence"},
	{"version: 1\ngeoip:\n  required: yes\n" PROF, 3,
			"geoip.required: expected true or false, got 'yes'"},
	{"version: 1\ngeoip:\n  country_db: ''\n" PROF, 3,
			"geoip.country_db: empty file name"},
	/* reasons */
	{"version: 1\nscanner:\n  weights:\n    ip_deny: 5\n"
	 "    unknown_domian: 1\n" PROF,
			5, "scanner.weights: unknown reason 'unknown_domian'"},
	{"version: 1\nscanner:\n  weights:\n    ip_deny: {a: 1}\n" PROF, 4,
			"scanner.weights.ip_deny: expected an integer, got a mapping"},
	/* wrong shapes */
	{"version: 1\nlists:\n  - a\n" PROF, 3,
			"lists: expected a mapping, got a sequence"},
	{"version: 1\nprofiles:\n  default:\n    domains: example.com\n", 4,
			"profiles.default.domains: expected a sequence, got a scalar"},
	{"version: 1\nprofiles:\n  default:\n    users: [[a]]\n", 4,
			"profiles.default.users: expected a string, got a sequence"},
	{"version: 1\nprofiles:\n  default:\n    users: [\"\"]\n", 4,
			"profiles.default.users: empty user"},
	{"version: 1\nprofiles:\n  default:\n    users: [\"a\\0b\"]\n", 4,
			"NUL byte"},
	{"version: 1\nprofiles:\n  default:\n    user: [a]\n", 4,
			"profiles.default: unknown key 'user'"},
	/* modes */
	{"version: 1\nprofiles:\n  default:\n    mode:\n      geo: block\n", 5,
			"profiles.default.mode.geo: unknown mode 'block' (expected off,"
			" monitor or enforce)"},
	{"version: 1\nprofiles:\n  default:\n    mode:\n      fraud: off\n", 5,
			"profiles.default.mode: unknown key 'fraud' (expected domain, "
			"user, iplist, geo, sdp, hopping, ban, fingerprint, dest, schedule, rate, repeat,"
			" concurrency, accounts, analytics)"},
	/* geo */
	{"version: 1\nprofiles:\n  default:\n    geo:\n"
	 "      deny_countries:\n        - KP\n        - DEU\n",
			7, "profiles.default.geo.deny_countries: 'DEU' is not a "
			   "two-letter country code"},
	{"version: 1\nprofiles:\n  default:\n    geo: {allow_countries: [D1]}\n",
			4, "'D1' is not a two-letter country code"},
	{"version: 1\nprofiles:\n  default:\n    geo:\n"
	 "      deny_continents: [EU, XX]\n",
			5, "profiles.default.geo.deny_continents: 'XX' is not a "
			   "continent code (AF, AN, AS, EU, NA, OC, SA)"},
	{"version: 1\nprofiles:\n  default:\n    geo:\n      deny_asn: [AS0]\n",
			5, "'AS0' is not an AS number"},
	{"version: 1\nprofiles:\n  default:\n    geo:\n"
	 "      deny_asn: [4294967296]\n",
			5, "'4294967296' is not an AS number"},
	{"version: 1\nprofiles:\n  default:\n    geo:\n      unknown: block\n",
			5, "profiles.default.geo.unknown: expected allow or deny, got "
			   "'block'"},
	/* hopping */
	{"version: 1\nhistory: {ttl: 3600}\nprofiles:\n  default:\n"
	 "    hopping:\n      country: 7200\n",
			6, "profiles.default.hopping.country: 7200 is longer than "
			   "history.ttl (3600)"},
	/* lists */
	{"version: 1\nprofiles:\n  default:\n    deny: [nope]\n", 4,
			"profiles.default.deny: unknown list 'nope'"},
	{"version: 1\nlists: {a: {}}\nprofiles:\n  default:\n"
	 "    exempt_sources: [a, b]\n",
			5, "profiles.default.exempt_sources: unknown list 'b'"},
	{"version: 1\nlists:\n  x:\n    entries:\n      - 10.0.0.0/8\n"
	 "      - 10.0.0.0/33\n" PROF,
			6, "lists.x.entries: '10.0.0.0/33' is not an address or CIDR: "
			   "prefix length out of range (0..32)"},
	{"version: 1\nlists:\n  x:\n    entries: [host.example]\n" PROF, 4,
			"'host.example' is not an address or CIDR: invalid IP address"},
	{"version: 1\nlists:\n  x:\n    entrys: []\n" PROF, 4,
			"lists.x: unknown key 'entrys' (expected entries, file, broad)"},
	{"version: 1\nlists:\n  x y: {}\n" PROF, 3,
			"'x y' is not a valid list name"},
	/* patterns */
	{"version: 1\nprofiles:\n  default:\n    user_patterns: ['^1', '^(1']\n",
			4, "profiles.default.user_patterns: bad regular expression "
			   "'^(1': missing closing parenthesis at offset 3"},
	{"version: 1\nprofiles:\n  default:\n    routable: '[0-9'\n", 4,
			"profiles.default.routable: bad regular expression '[0-9': "
			"missing terminating ] for character class at offset 4"},
	{"version: 1\nprofiles:\n  default:\n    routable: ''\n", 4,
			"empty regular expression"},
	/* domains */
	{"version: 1\nprofiles:\n  default:\n    domains: [sip:example.com]\n",
			4, "'sip:example.com' is not a host name or IP address"},
	{"version: 1\nprofiles:\n  default:\n    domains: [127.000.0.1]\n", 4,
			"'127.000.0.1' is not a valid IPv4 address"},
};

static void test_bad_files(void **state)
{
	long live = test_host_shm_live();
	char prefix[600];
	af_rules_t *r;
	size_t i;

	for(i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		r = load_text(bad_cases[i].text);
		if(r)
			fail_msg("case %zu loaded:\n%s", i, bad_cases[i].text);
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path_buf,
				bad_cases[i].line);
		if(strncmp(err, prefix, strlen(prefix)) != 0
				|| !strstr(err, bad_cases[i].says))
			fail_msg("case %zu: got \"%s\", want \"%s...%s\"", i, err, prefix,
					bad_cases[i].says);
		assert_int_equal(test_host_shm_live(), live);
	}
}

static void test_missing_rule_file(void **state)
{
	char want[600];

	snprintf(want, sizeof(want), "%s",
			write_rules("exists.yaml", "version: 1\n"));
	strcpy(strrchr(want, '/') + 1, "absent.yaml");
	assert_null(af_rules_load(want, err, sizeof(err)));
	assert_true(strncmp(err, "rule file '", 11) == 0);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "': No such file or directory"));
	/* err may be NULL */
	assert_null(af_rules_load("/nonexistent/rules.yaml", NULL, 0));
}

/* A file the rules name that cannot be read: the error names the rule
 * file's line and key as well as the file (mutated rule files found
 * "path: No such file or directory" alone). */
static void test_missing_named_files(void **state)
{
	static const struct {
		const char *text;
		const char *where;
	} cases[] = {
			{"version: 1\nlists:\n  bl:\n    file: absent.txt\n" PROF,
					":4: lists.bl.file: "},
			{"version: 1\nfingerprint:\n  signatures: absent.yaml\n" PROF,
					":3: fingerprint.signatures: "},
			{"version: 1\ndest:\n  numplan: absent.csv\n" PROF,
					":3: dest.numplan: "},
	};
	long live = test_host_shm_live();
	size_t i;

	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_null(load_text(cases[i].text));
		if(strncmp(err, path_buf, strlen(path_buf)) != 0
				|| strncmp(err + strlen(path_buf), cases[i].where,
						   strlen(cases[i].where))
						   != 0
				|| !strstr(err, "absent.")
				|| !strstr(err, "No such file or directory"))
			fail_msg("case %zu: got \"%s\", want \"%s%s...absent...\"", i,
					err, path_buf, cases[i].where);
		assert_int_equal(test_host_shm_live(), live);
	}
}

/* Deep nesting is refused at once (libyaml's scanner costs the square
 * of the depth: 100,000 nested '[' took about a minute before). */
static void test_deep_nesting(void **state)
{
	static const int depths[] = {65, 1000, 100000};
	long live = test_host_shm_live();
	struct timespec t0, t1;
	char *text, want[700];
	size_t i, n, d;

	for(i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		d = (size_t)depths[i];
		text = malloc(2 * d + 64);
		assert_non_null(text);
		n = (size_t)sprintf(text, "version: 1\ndeep: ");
		memset(text + n, '[', d);
		memset(text + n + d, ']', d);
		strcpy(text + n + 2 * d, "\n");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_null(load_text(text));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		free(text);
		snprintf(want, sizeof(want),
				"%s:2: collections nested deeper than 64 levels", path_buf);
		assert_string_equal(err, want);
		assert_true(t1.tv_sec - t0.tv_sec < 2);
		assert_int_equal(test_host_shm_live(), live);
	}
	/* 64 levels are read (and refused for what they are, not the depth) */
	text = malloc(256);
	assert_non_null(text);
	n = (size_t)sprintf(text, "version: 1\ndeep: ");
	memset(text + n, '[', 63);
	memset(text + n + 63, ']', 63);
	strcpy(text + n + 126, "\n" PROF);
	assert_null(load_text(text));
	free(text);
	assert_null(strstr(err, "nested"));
	assert_non_null(strstr(err, "deep"));
}

static void test_list_files(void **state)
{
	long live = test_host_shm_live();
	char list[512], want[1200];
	const af_iplist_t *l;
	af_rules_t *r;

	/* relative to the rule file's folder; entries and file together */
	snprintf(list, sizeof(list), "%s",
			test_write_file("good-list.txt",
					"10.0.0.0/8 feed-column\n; note\n2001:db8::/32\n"));
	r = load_text("version: 1\nlists:\n  bl:\n    entries: [192.0.2.1]\n"
				  "    file: good-list.txt\n"
				  "profiles: {default: {deny: [bl]}}\n");
	if(!r)
		fail_msg("%s", err);
	l = find_list(r, "bl");
	assert_string_equal(l->file, list);
	assert_int_equal(af_trie_count(l->trie), 3);
	assert_true(list_has(l, "10.1.2.3"));
	assert_true(list_has(l, "192.0.2.1"));
	assert_true(list_has(l, "2001:db8::1"));
	assert_false(list_has(l, "192.0.2.2"));
	assert_ptr_equal(r->default_profile->deny[0], l);
	af_rules_free(r);

	/* an absolute path */
	snprintf(want, sizeof(want),
			"version: 1\nlists: {bl: {file: '%s'}}\n" PROF, list);
	r = load_text(want);
	if(!r)
		fail_msg("%s", err);
	af_rules_free(r);

	/* an error in the list file is the list file's own "path:line:" */
	snprintf(list, sizeof(list), "%s",
			test_write_file("bad-list.txt", "10.0.0.0/8\n\n1.2.3.999 x\n"));
	r = load_text("version: 1\nlists:\n  bl:\n    file: bad-list.txt\n" PROF);
	assert_null(r);
	snprintf(want, sizeof(want), "%s:3: ", list);
	if(strncmp(err, want, strlen(want)) != 0 || !strstr(err, "1.2.3.999"))
		fail_msg("got \"%s\", want \"%s...\"", err, want);

	/* a list file that is not there */
	strcpy(strrchr(list, '/') + 1, "no-such-list.txt");
	r = load_text("version: 1\nlists:\n  bl:\n    file: no-such-list.txt\n"
				  PROF);
	assert_null(r);
	snprintf(want, sizeof(want),
			"%s:4: lists.bl.file: ip list '%s': No such file or directory",
			path_buf, list);
	assert_string_equal(err, want);
	assert_int_equal(test_host_shm_live(), live);
}

/* Fails the test when err holds a byte outside printable ASCII. */
static void assert_printable(const char *s)
{
	if(!af_text_plain(s, strlen(s)))
		fail_msg("not plain text: \"%s\"", s);
}

/* Loads text as a rule file and checks that it fails with an error that
 * starts with "<rule file>:line: " and holds says. */
static void expect_refused(const char *text, int line, const char *says)
{
	char prefix[600];
	af_rules_t *r;

	r = load_text(text);
	if(r)
		fail_msg("loaded:\n%s", text);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path_buf, line);
	if(strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, says))
		fail_msg("got \"%s\", want \"%s...%s\"", err, prefix, says);
	assert_printable(err);
}

/* the folder of the temporary files, in dir */
static void tmp_dir(char *dir, size_t len)
{
	snprintf(dir, len, "%s", test_write_file("probe.txt", ""));
	*strrchr(dir, '/') = '\0';
}

/*
 * Files the rules name that are no regular files (a device that never
 * ends, a FIFO without a writer, a directory), or too large, are refused
 * at once, at the line that names them; the rule file itself too.
 */
static void test_special_files(void **state)
{
	long live = test_host_shm_live();
	static const struct {
		const char *fmt; /* the rule file, %s the file named */
		int line;
		const char *kind;
	} refs[] = {
		{"version: 1\nlists:\n  bl:\n    file: '%s'\n" PROF, 4,
				"lists.bl.file: ip list '"},
		{"version: 1\nfingerprint:\n  signatures: '%s'\n" PROF, 3,
				"fingerprint.signatures: signature file '"},
		{"version: 1\ndest:\n  numplan: '%s'\n" PROF, 3,
				"dest.numplan: number plan '"},
		{"version: 1\ndest:\n  numplan: probe.txt\n"
		 "  overlays:\n    - '%s'\n" PROF,
				5, "dest.overlays: number plan '"},
		{"version: 1\ngeoip:\n  country_db: '%s'\n" PROF, 3,
				"geoip.country_db: GeoIP database '"},
		{"version: 1\ngeoip:\n  asn_db: '%s'\n" PROF, 3,
				"geoip.asn_db: GeoIP database '"},
	};
	char dir[512], fifo[600], empty[600], text[1400], says[800];
	const char *bad[4];
	const char *what[4] = {"a character device, not a regular file",
			"a FIFO, not a regular file", "a directory, not a regular file",
			"No such file or directory"};
	size_t i, j;
	time_t t0;

	tmp_dir(dir, sizeof(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(empty, sizeof(empty), "%s/absent", dir);
	bad[0] = "/dev/zero";
	bad[1] = fifo;
	bad[2] = dir;
	bad[3] = empty;
	/* a blocking open of the FIFO would hang: the alarm ends the test */
	alarm(20);
	t0 = time(NULL);
	for(i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		for(j = 0; j < 4; j++) {
			snprintf(text, sizeof(text), refs[i].fmt, bad[j]);
			snprintf(says, sizeof(says), "%s%s': %s", refs[i].kind, bad[j],
					what[j]);
			expect_refused(text, refs[i].line, says);
			assert_int_equal(test_host_shm_live(), live);
		}
	}
	/* the rule file itself */
	for(j = 0; j < 3; j++) {
		assert_null(af_rules_load(bad[j], err, sizeof(err)));
		snprintf(says, sizeof(says), "rule file '%s': %s", bad[j], what[j]);
		assert_string_equal(err, says);
	}
	assert_true(time(NULL) - t0 < 5);
	alarm(0);
	unlink(fifo);

	/* an empty GeoIP database */
	snprintf(empty, sizeof(empty), "%s", test_write_file("empty.mmdb", ""));
	snprintf(text, sizeof(text),
			"version: 1\ngeoip:\n  required: true\n  country_db: '%s'\n"
			PROF, empty);
	expect_refused(text, 4, "geoip.country_db: GeoIP database '");
	assert_non_null(strstr(err, "empty file, not a MaxMind DB file"));
	/* a GeoIP database that is not one: the line naming it */
	snprintf(text, sizeof(text),
			"version: 1\ngeoip:\n  country_db: '%s'\n" PROF,
			test_write_file("text.mmdb", "not a MaxMind DB\n"));
	expect_refused(text, 3, "geoip.country_db: ");
	assert_non_null(strstr(err, "not a MaxMind DB file"));
	assert_int_equal(test_host_shm_live(), live);
}

/* the size limits: per kind, settable, checked before reading */
static void test_size_limits(void **state)
{
	long live = test_host_shm_live();
	char text[1024], *big;
	const char *list;
	size_t i, n = (1u << 20) + 4096;

	assert_int_equal(af_file_limit(AF_FILE_RULES), 1u << 20);
	assert_int_equal(af_file_limit(AF_FILE_LIST), 64u << 20);
	assert_int_equal(af_file_limit(AF_FILE_NUMPLAN), 64u << 20);
	assert_int_equal(af_file_limit(AF_FILE_SIGNATURES), 1u << 20);
	assert_true(af_file_limit(AF_FILE_GEOIP) >= (1ull << 30));
	/* a list of 1 MiB and a bit: loads under the default limit */
	big = malloc(n + 1);
	assert_non_null(big);
	for(i = 0; i + 11 <= n; i += 11)
		memcpy(big + i, "10.0.0.1  \n", 11);
	memset(big + i, '\n', n - i);
	big[n] = '\0';
	list = test_write_file("big.txt", big);
	free(big);
	assert_non_null(list);
	snprintf(text, sizeof(text),
			"version: 1\nlists:\n  bl:\n    file: '%s'\n" PROF, list);
	af_rules_free(load_text(text));
	assert_true(err[0] == '\0');
	/* refused over a limit of 1 MiB, at the line naming it */
	assert_int_equal(af_file_limits_parse("list=1,numplan=2", err,
							 sizeof(err)),
			0);
	assert_int_equal(af_file_limit(AF_FILE_LIST), 1u << 20);
	assert_int_equal(af_file_limit(AF_FILE_NUMPLAN), 2u << 20);
	expect_refused(text, 4, "larger than the limit of 1 MiB");
	/* bad specs change nothing */
	assert_int_equal(af_file_limits_parse("list=0", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "kind=MiB"));
	assert_int_equal(af_file_limits_parse("list=2,lists=3", NULL, 0), -1);
	assert_int_equal(af_file_limits_parse("list=", NULL, 0), -1);
	assert_int_equal(af_file_limits_parse("list=-1", NULL, 0), -1);
	assert_int_equal(af_file_limits_parse("list=1x", NULL, 0), -1);
	assert_int_equal(af_file_limits_parse("geoip=1048577", NULL, 0), -1);
	assert_int_equal(af_file_limit(AF_FILE_LIST), 1u << 20);
	assert_int_equal(af_file_limits_parse("list=64,numplan=64", err,
							 sizeof(err)),
			0);
	assert_int_equal(af_file_limits_parse("", err, sizeof(err)), 0);
	assert_int_equal(af_file_limit(AF_FILE_LIST), 64u << 20);
	assert_int_equal(test_host_shm_live(), live);
}

/*
 * Errors quote what a file holds only as a short excerpt with every byte
 * outside printable ASCII escaped: a rule file naming /etc/shadow-like
 * files shows neither their lines nor raw control bytes.
 */
static void test_excerpts(void **state)
{
	static const char secret[] = "root:$y$j9T$SALTSALTSALTSALTSALT$"
								 "HASHHASHHASHHASHHASHHASHHASHHASHHASHHASH"
								 ":19000:0:99999:7:::\n";
	char text[1024], out[64];
	const char *f;

	f = test_write_file("shadow", secret);
	assert_non_null(f);
	snprintf(text, sizeof(text),
			"version: 1\nlists:\n  bl:\n    file: '%s'\n" PROF, f);
	assert_null(load_text(text));
	assert_non_null(strstr(err, ":1: invalid IP address: 'root:$y$j9T$"));
	assert_null(strstr(err, "HASH"));
	assert_null(strstr(err, ":19000:"));
	assert_non_null(strstr(err, "...'"));
	/* the same through a number plan and a signature file */
	snprintf(text, sizeof(text), "version: 1\ndest:\n  numplan: '%s'\n" PROF,
			f);
	assert_null(load_text(text));
	assert_null(strstr(err, "HASH"));
	assert_printable(err);
	snprintf(text, sizeof(text),
			"version: 1\nfingerprint:\n  signatures: '%s'\n" PROF, f);
	assert_null(load_text(text));
	assert_null(strstr(err, "HASH"));
	assert_printable(err);
	/* control bytes and escapes come out as \xNN; valid UTF-8 letters
	 * stay (af_text_plain) */
	f = test_write_file("ctl.txt", "\x1b[31mred\x7f\xc3\xa9\n");
	snprintf(text, sizeof(text),
			"version: 1\nlists:\n  bl:\n    file: '%s'\n" PROF, f);
	assert_null(load_text(text));
	assert_non_null(strstr(err, "'\\x1b[31mred\\x7f\xc3\xa9'"));
	assert_printable(err);
	f = test_write_file("ctl.csv", "49,DE,\x1b[2J\n");
	snprintf(text, sizeof(text), "version: 1\ndest:\n  numplan: '%s'\n" PROF,
			f);
	assert_null(load_text(text));
	assert_printable(err);
	/* values of the rule file itself */
	expect_refused("version: 1\nprofiles:\n  default:\n"
				   "    domains: [\"a\\eb\\u00e9\"]\n",
			4, "'a\\x1bb\xc3\xa9' is not a host name");
	expect_refused("version: 1\nprofiles:\n  default:\n    mode:\n"
				   "      geo: \"0123456789012345678901234567890123456789\"\n",
			5, "unknown mode '01234567890123456789012345678901' (");
	/* af_text_escape_max() itself: cut, escaped, never overrun */
	assert_string_equal(af_text_escape_max(out, sizeof(out), "a\nb", 3, 32), "a\\x0ab");
	assert_string_equal(af_text_escape_max(out, sizeof(out), "abcdef", 6, 3), "abc...");
	assert_string_equal(af_text_escape_max(out, 4, "\x01\x02", 2, 32), "...");
	assert_string_equal(af_text_escape_max(out, 6, "\x01\x02", 2, 32), "...");
	assert_string_equal(af_text_escape_max(out, 10, "\x01\x02", 2, 32), "\\x01\\x02");
	assert_string_equal(af_text_escape_max(out, sizeof(out), "", 0, 32), "");
}

/*
 * Aliases: sharing a collection between a few profiles loads; repeating
 * a large one so that a small file reads as a huge one is refused before
 * it fills memory.
 */
static void test_alias_expansion(void **state)
{
	long live = test_host_shm_live();
	size_t i, len, cap = 1u << 20;
	char *text;
	af_rules_t *r;

	r = load_text("version: 1\nprofiles:\n"
				  "  default: {domains: &d [a.example, b.example]}\n"
				  "  p1: {domains: *d}\n  p2: {domains: *d}\n");
	if(!r)
		fail_msg("%s", err);
	assert_int_equal(af_strset_count(r->profiles[2].domains), 2);
	af_rules_free(r);
	text = malloc(cap);
	assert_non_null(text);
	len = (size_t)snprintf(text, cap,
			"version: 1\nprofiles:\n  default: {users: &u [");
	for(i = 0; i < 20000; i++)
		len += (size_t)snprintf(text + len, cap - len, "u%zu,", i);
	len += (size_t)snprintf(text + len, cap - len, "x]}\n");
	for(i = 0; i < 1000; i++)
		len += (size_t)snprintf(
				text + len, cap - len, "  p%zu: {users: *u}\n", i);
	r = load_text(text);
	free(text);
	assert_null(r);
	assert_non_null(strstr(err, "aliases (*name) repeat large collections"));
	assert_int_equal(test_host_shm_live(), live);
}

/*
 * Over-broad values: a list that lets sources through (trusted, allow,
 * exempt_sources) covering more than a /8 or an IPv6 /16 needs 'broad:
 * true'; exempt numbers are numbers.
 */
static void test_broad_values(void **state)
{
	long live = test_host_shm_live();
	char text[1024];
	const char *f;
	af_rules_t *r;

	expect_refused("version: 1\nlists:\n  any: {entries: ['1.2.3.4/0']}\n"
				   "profiles:\n  default:\n    trusted: [any]\n",
			6, "profiles.default.trusted: list 'any' holds an IPv4 /0"
			   " prefix");
	expect_refused("version: 1\nlists:\n  any: {entries: ['::/0']}\n"
				   "profiles:\n  default:\n    allow: [any]\n",
			6, "list 'any' holds an IPv6 /0 prefix");
	expect_refused("version: 1\nlists:\n  l: {entries: ['10.0.0.0/8',"
				   " '::ffff:0.0.0.0/97']}\n"
				   "profiles:\n  default:\n    exempt_sources: [l]\n",
			6, "list 'l' holds an IPv4 /1 prefix");
	f = test_write_file("wide.txt", "192.0.2.0/24\n2000::/3\n");
	snprintf(text, sizeof(text),
			"version: 1\nlists:\n  w: {file: '%s'}\n"
			"profiles:\n  default:\n    trusted: [w]\n",
			f);
	expect_refused(text, 6, "list 'w' holds an IPv6 /3 prefix");
	/* a deny list may be broad; an allow list says so */
	r = load_text("version: 1\nlists:\n  any: {entries: ['0.0.0.0/0']}\n"
				  "  bogon: {entries: ['240.0.0.0/4', '10.0.0.0/8',"
				  " 'fc00::/7']}\n"
				  "  all: {entries: ['0.0.0.0/0', '::/0'], broad: true}\n"
				  "  ok: {entries: ['10.0.0.0/8', '2001:db8::/16']}\n"
				  "profiles:\n  default:\n    deny: [any, bogon]\n"
				  "    allow: [all]\n    trusted: [ok]\n");
	if(!r)
		fail_msg("%s", err);
	af_rules_free(r);
	expect_refused("version: 1\nlists:\n  l: {broad: 1}\n" PROF, 3,
			"lists.l.broad: expected true or false");

	/* exempt numbers */
	assert_non_null(test_write_file("plan.csv", "# dialing: DE 49 0 00\n"
												"49,DE,EU,unknown,2\n"));
	r = load_text("version: 1\n" PLAN "profiles:\n  default:\n    dest:\n"
				  "      country: DE\n"
				  "      exempt_numbers: ['112', '+4930123', '*100#']\n");
	if(!r)
		fail_msg("%s", err);
	assert_int_equal(af_strset_count(r->default_profile->dest->exempt_numbers),
			3);
	af_rules_free(r);
	expect_refused("version: 1\n" PLAN "profiles:\n  default:\n    dest:\n"
				   "      country: DE\n      exempt_numbers: ['112', '::/0']\n",
			8, "profiles.default.dest.exempt_numbers: '::/0' is not a"
			   " number");
	expect_refused("version: 1\n" PLAN "profiles:\n  default:\n    dest:\n"
				   "      country: DE\n      exempt_numbers: ['+']\n",
			8, "'+' is not a number");
	expect_refused("version: 1\n" PLAN "profiles:\n  default:\n    dest:\n"
				   "      country: DE\n      exempt_numbers: ['']\n",
			8, "'' is not a number");
	expect_refused("version: 1\n" PLAN "profiles:\n  default:\n    dest:\n"
				   "      country: DE\n      exempt_numbers: ['+1234567890123456']\n",
			8, "is not a number");
	expect_refused("version: 1\n" PLAN "profiles:\n  default:\n    dest:\n"
				   "      country: DE\n      exempt_numbers: ['+49*1']\n",
			8, "is not a number");
	expect_refused("version: 1\n" PLAN "profiles:\n  default:\n    dest:\n"
				   "      country: DE\n      exempt_numbers:\n"
				   "        - '123456789012345678901234567890123'\n",
			9, "is not a number");
	assert_int_equal(test_host_shm_live(), live);
}

/* Compiles pattern src into re (plain malloc) with a new load tag. */
static void set_regex(af_regex_t *re, const char *src)
{
	PCRE2_SIZE off;
	int ec;

	memset(re, 0, sizeof(*re));
	re->src = src;
	re->src_len = strlen(src);
	re->code = pcre2_compile((PCRE2_SPTR)src, re->src_len, AF_RE_OPTIONS,
			&ec, &off, NULL);
	assert_non_null(re->code);
	af_re_filter_init(&re->filter, re->code, src, re->src_len);
	/* a later load: the tag's time moves on */
	usleep(2000);
	af_regex_tag(re);
}

/* Loads rules of one user pattern; checks it matches yes, not no. */
static af_rules_t *load_user_pattern(
		const char *pattern, const char *yes, const char *no)
{
	char text[256];
	af_rules_t *r;

	snprintf(text, sizeof(text),
			"version: 1\nprofiles:\n  default:\n"
			"    user_patterns: ['%s']\n",
			pattern);
	r = load_text(text);
	if(!r)
		fail_msg("%s", err);
	assert_true(re_match(&r->default_profile->user_re[0], yes));
	assert_false(re_match(&r->default_profile->user_re[0], no));
	return r;
}

static void test_regex_reload(void **state)
{
	static af_regex_t same;
	long live = test_host_shm_live();
	af_rules_t *r;
	pid_t pid;
	int i, st;

	/* each process's JIT copies are keyed by the load: a new snapshot's
	 * pattern, even at the address of a freed one, is its own; a forked
	 * child matches the patterns it inherited just as well */
	for(i = 0; i < 4; i++) {
		r = load_user_pattern("^1[0-9]{3}$", "1234", "2345");
		af_rules_free(r);
		r = load_user_pattern("^2[0-9]{3}$", "2345", "1234");
		if(i == 3) {
			pid = fork();
			assert_true(pid >= 0);
			if(pid == 0)
				_exit(re_match(&r->default_profile->user_re[0], "2345") == 1
								&& !re_match(&r->default_profile->user_re[0],
										"1234")
						? 0
						: 1);
			assert_int_equal(waitpid(pid, &st, 0), pid);
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
		af_rules_free(r);
	}
	assert_int_equal(test_host_shm_live(), live);
	/* the same address for another pattern of a later load */
	for(i = 0; i < 3; i++) {
		set_regex(&same, i == 1 ? "^b" : "^a");
		assert_int_equal(re_match(&same, "abc"), i != 1);
		assert_int_equal(re_match(&same, "bcd"), i == 1);
		pcre2_code_free(same.code);
	}
}

static void test_regex(void **state)
{
	long live = test_host_shm_live();
	const af_profile_t *p;
	af_regex_t *re;
	af_rules_t *r;
	char evil[64];
	time_t t0;

	r = load_text("version: 1\nprofiles:\n  default:\n"
				  "    user_patterns: ['^1[0-9]{3}$', '^(alice|bob)\\.[a-z]+$',"
				  " 'sales', '^(a+)+$', '^sip:abc@example', '^abc*$']\n"
				  "    routable: '^\\+?[0-9]{6,15}$'\n");
	if(!r)
		fail_msg("%s", err);
	p = r->default_profile;
	assert_int_equal(p->n_user_re, 6);
	re = p->user_re;
	/* anchored */
	assert_true(re_match(&re[0], "1000"));
	assert_true(re_match(&re[0], "1999"));
	assert_false(re_match(&re[0], "2000"));
	assert_false(re_match(&re[0], "10000"));
	assert_false(re_match(&re[0], "x1000"));
	assert_false(re_match(&re[0], ""));
	/* '$' is the very end, not before a final newline */
	assert_false(re_match(&re[0], "1000\n"));
	/* only len bytes are the subject */
	assert_true(af_regex_match(&re[0], "1000999", 4));
	assert_false(af_regex_match(&re[0], "1000999", 5));
	assert_false(af_regex_match(&re[0], NULL, 0));
	assert_true(re_match(&re[1], "alice.smith"));
	assert_false(re_match(&re[1], "alice.Smith"));
	assert_false(re_match(&re[1], "carol.smith"));
	/* not anchored: a substring is enough */
	assert_true(re_match(&re[2], "presales-team"));
	assert_false(re_match(&re[2], "support"));
	/* catastrophic backtracking stops at the match limit: no match */
	memset(evil, 'a', 40);
	evil[40] = '!';
	evil[41] = '\0';
	t0 = time(NULL);
	assert_false(re_match(&re[3], evil));
	assert_false(re_match(&re[3], evil));
	assert_true(time(NULL) - t0 < 5);
	assert_true(re_match(&re[3], "aaaa"));
	assert_true(re_match(p->routable, "+4930123456"));
	assert_true(re_match(p->routable, "004930123456"));
	assert_false(re_match(p->routable, "+49301234567890123"));
	assert_false(re_match(p->routable, "12345"));
	assert_false(af_regex_match(NULL, "x", 1));
	/* the filter: PCRE2's minimum length, the anchored literal prefix */
	assert_int_equal(re[0].filter.min_len, 4);
	assert_int_equal(re[0].filter.pre_len, 1);
	assert_memory_equal(re[0].filter.pre, "1", 1);
	assert_int_equal(re[1].filter.pre_len, 0); /* '|' */
	assert_int_equal(re[2].filter.pre_len, 0); /* not anchored */
	assert_int_equal(re[2].filter.min_len, 5);
	assert_int_equal(p->routable->filter.min_len, 6);
	assert_int_equal(p->routable->filter.pre_len, 0); /* '+' is '\\+?' */
	assert_int_equal(re[4].filter.pre_len, 8);
	assert_memory_equal(re[4].filter.pre, "sip:abc@", 8);
	assert_int_equal(re[5].filter.pre_len, 2); /* "ab", 'c' has a '*' */
	assert_true(re_match(&re[4], "sip:abc@example.com"));
	assert_false(re_match(&re[4], "sip:abd@example.com"));
	assert_true(re_match(&re[5], "ab"));
	assert_true(re_match(&re[5], "abccc"));
	assert_false(re_match(&re[5], "a"));
	af_rules_free(r);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_domains(void **state)
{
	const af_strset_t *d;
	af_rules_t *r;

	r = load_text("version: 1\nprofiles:\n  default:\n"
				  "    domains: [Example.COM, '[2001:DB8:0::1]',"
				  " '::ffff:192.0.2.1', 127.0.0.1, 2001:db8::1,"
				  " SIP-1.example.net]\n");
	if(!r)
		fail_msg("%s", err);
	d = r->default_profile->domains;
	assert_int_equal(af_strset_count(d), 5);
	assert_true(has_str(d, "example.com"));
	assert_false(has_str(d, "Example.COM"));
	assert_true(has_str(d, "2001:db8::1"));
	assert_false(has_str(d, "[2001:db8::1]"));
	assert_true(has_str(d, "192.0.2.1"));
	assert_true(has_str(d, "127.0.0.1"));
	assert_true(has_str(d, "sip-1.example.net"));
	af_rules_free(r);
}

static void test_profiles(void **state)
{
	const af_profile_t *p;
	af_rules_t *r;

	r = load_text("version: 1\nlists: {pbx: {entries: [10.0.0.0/8]}}\n"
				  "profiles:\n  trunk:\n    exempt_sources: [pbx]\n"
				  "    exempt_callers: [admin]\n    mode: {user: off}\n"
				  "  default:\n    users: [alice]\n");
	if(!r)
		fail_msg("%s", err);
	assert_int_equal(r->n_profiles, 2);
	p = af_rules_profile(r, NULL, 0);
	assert_non_null(p);
	assert_ptr_equal(p, r->default_profile);
	assert_string_equal(p->name, "default");
	assert_true(has_str(p->users, "alice"));
	assert_ptr_equal(af_rules_profile(r, "trunk", 0), p);
	assert_ptr_equal(af_rules_profile(r, "default", 7), p);
	p = af_rules_profile(r, "trunk", 5);
	assert_non_null(p);
	assert_string_equal(p->name, "trunk");
	assert_int_equal(p->mode[AF_C_USER], AF_MODE_OFF);
	assert_int_equal(p->mode[AF_C_DOMAIN], AF_MODE_ENFORCE);
	assert_int_equal(p->n_exempt_sources, 1);
	assert_string_equal(p->exempt_sources[0]->name, "pbx");
	assert_true(has_str(p->exempt_callers, "admin"));
	assert_false(has_str(p->users, "alice"));
	/* the name is name[0..len) */
	assert_ptr_equal(af_rules_profile(r, "trunkX", 5), p);
	assert_null(af_rules_profile(r, "trun", 4));
	assert_null(af_rules_profile(r, "trunks", 6));
	assert_null(af_rules_profile(r, "other", 5));
	assert_null(af_rules_profile(NULL, "trunk", 5));
	af_rules_free(r);
	af_rules_free(NULL);
}

static void test_check_names(void **state)
{
	assert_string_equal(af_check_name(AF_C_DOMAIN), "domain");
	assert_string_equal(af_check_name(AF_C_USER), "user");
	assert_string_equal(af_check_name(AF_C_IPLIST), "iplist");
	assert_string_equal(af_check_name(AF_C_GEO), "geo");
	assert_string_equal(af_check_name(AF_C_SDP), "sdp");
	assert_string_equal(af_check_name(AF_C_HOPPING), "hopping");
	assert_string_equal(af_check_name(AF_C_BAN), "ban");
	assert_string_equal(af_check_name(AF_C__COUNT), "unknown");
	assert_string_equal(af_check_name((af_check_t)-1), "unknown");
}

/* a bigger file: the arena grows past one chunk; still no leak */
static void test_large(void **state)
{
	long live = test_host_shm_live();
	size_t cap = 1 << 20, len = 0;
	const af_profile_t *p;
	af_rules_t *r;
	char *text;
	int i;

	text = malloc(cap);
	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len,
			"version: 1\nprofiles:\n  default:\n    users:\n");
	for(i = 0; i < 5000; i++)
		len += (size_t)snprintf(text + len, cap - len, "      - u%d\n", i);
	len += (size_t)snprintf(text + len, cap - len, "    user_patterns:\n");
	for(i = 0; i < 200; i++)
		len += (size_t)snprintf(text + len, cap - len,
				"      - '^%d[0-9]{2,4}$'\n", i);
	r = load_text(text);
	if(!r)
		fail_msg("%s", err);
	p = r->default_profile;
	assert_int_equal(af_strset_count(p->users), 5000);
	assert_true(has_str(p->users, "u4999"));
	assert_int_equal(p->n_user_re, 200);
	assert_true(re_match(&p->user_re[199], "19912"));
	assert_true(af_arena_size(r->arena) > 64 * 1024);
	af_rules_free(r);

	/* the same, failing at its very end */
	snprintf(text + len, cap - len, "    mode: {geo: maybe}\n");
	assert_null(load_text(text));
	assert_non_null(strstr(err, "unknown mode 'maybe'"));
	free(text);
	assert_int_equal(test_host_shm_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_loads),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_geo_codes),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_missing_rule_file),
		cmocka_unit_test(test_list_files),
		cmocka_unit_test(test_special_files),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_excerpts),
		cmocka_unit_test(test_broad_values),
		cmocka_unit_test(test_alias_expansion),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_regex_reload),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_check_names),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_missing_named_files),
		cmocka_unit_test(test_deep_nesting),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
