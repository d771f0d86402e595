/*
 * antifraud unit tests - af_check_source() through af_core_init(): known
 * domains and users, IP literals, routable numbers, allow/deny lists,
 * exemptions, GeoIP on the source and the SDP, the scanner score and its
 * bans, country hopping, modes, reloads and statistics, and checks from
 * several threads while the rules are reloaded. Rule files are written by
 * the tests; the GeoIP databases are built at start from test/data/geo.map
 * by test/data/mkgeo.pl. Time-dependent cases run on the injected clock.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>
#include "af_core.h"
#include "af_host.h"
#include "host.h"
#include "core_fixture.h"

/* reason bits, short */
#define B_BANNED AF_REASON_BIT(AF_R_BANNED)
#define B_DOMAIN AF_REASON_BIT(AF_R_UNKNOWN_DOMAIN)
#define B_USER AF_REASON_BIT(AF_R_UNKNOWN_USER)
#define B_DENY AF_REASON_BIT(AF_R_IP_DENY)
#define B_CC AF_REASON_BIT(AF_R_GEO_COUNTRY)
#define B_CONT AF_REASON_BIT(AF_R_GEO_CONTINENT)
#define B_ASN AF_REASON_BIT(AF_R_GEO_ASN)
#define B_GEOUNK AF_REASON_BIT(AF_R_GEO_UNKNOWN)
#define B_SDPDENY AF_REASON_BIT(AF_R_SDP_IP_DENY)
#define B_SDPGEO AF_REASON_BIT(AF_R_SDP_GEO)
#define B_CHOP AF_REASON_BIT(AF_R_COUNTRY_HOP)
#define B_CONTHOP AF_REASON_BIT(AF_R_CONTINENT_HOP)
#define B_SCANNER AF_REASON_BIT(AF_R_SCANNER)

static char geo_db[512];  /* from test/data/geo.map */
static char geo_db2[512]; /* the same, but 127.0.0.3 is SE */
static af_verdict_t vd;   /* the verdict of the last CHECK */

/* the rules with the database of test/data/geo.map */
static void write_rules(const char *body)
{
	write_rules_db(geo_db, body);
}

/* Writes the rules (body NULL: those written last) and starts the core
 * on them. */
static void start_min(const char *body, uint32_t reload_min_s)
{
	start_db(geo_db, body, reload_min_s);
}

static void start(const char *body)
{
	start_min(body, 0);
}

static const char *method_name(af_method_t m)
{
	switch(m) {
		case AF_M_INVITE:
			return "INVITE";
		case AF_M_REGISTER:
			return "REGISTER";
		case AF_M_OPTIONS:
			return "OPTIONS";
		case AF_M_MESSAGE:
			return "MESSAGE";
		case AF_M_SUBSCRIBE:
			return "SUBSCRIBE";
		case AF_M_NOTIFY:
			return "NOTIFY";
		case AF_M_BYE:
			return "BYE";
		case AF_M_ACK:
			return "ACK";
		default:
			return "OTHER";
	}
}

/*
 * An out-of-dialog request m from src to sip:ruser@rhost, From
 * fuser@fhost, To the R-URI. NULL strings are empty.
 */
static af_request_t mkreq(af_method_t m, const char *src, const char *ruser,
		const char *rhost, const char *fuser, const char *fhost)
{
	return fixture_req(
			m, method_name(m), src, ruser, rhost, fuser, fhost);
}

/* INVITE from src to ruser@rhost without a From user (no caller: no
 * history) */
static af_request_t anon(const char *src, const char *ruser,
		const char *rhost)
{
	return mkreq(AF_M_INVITE, src, ruser, rhost, NULL, "example.com");
}

/* INVITE from src to ruser@rhost, From alice@example.com */
static af_request_t invite(const char *src, const char *ruser,
		const char *rhost)
{
	return mkreq(AF_M_INVITE, src, ruser, rhost, "alice", "example.com");
}

/* Adds SDP addresses (NULL-terminated) to r. */
static void sdp(af_request_t *r, ...)
{
	const char *s;
	va_list ap;

	va_start(ap, r);
	r->sdp_ip_count = 0;
	while((s = va_arg(ap, const char *)) != NULL) {
		assert_true(r->sdp_ip_count < AF_SDP_IP_MAX);
		r->sdp_ip[r->sdp_ip_count++] = IP(s);
	}
	va_end(ap);
}

/* Fails with a readable message when v is not rc with exactly these
 * reasons and blocking reasons. */
static void expect_at(int line, const af_verdict_t *v, int rc,
		af_reasons_t reasons, af_reasons_t blocking)
{
	char g1[256], g2[256], w1[256], w2[256];

	if(v->rc == rc && v->reasons == reasons && v->blocking == blocking)
		return;
	af_reasons_format(v->reasons, g1, sizeof(g1));
	af_reasons_format(v->blocking, g2, sizeof(g2));
	af_reasons_format(reasons, w1, sizeof(w1));
	af_reasons_format(blocking, w2, sizeof(w2));
	fail_msg("line %d: got rc %d [%s] blocking [%s], want rc %d [%s] "
			 "blocking [%s] (detail: %s)",
			line, v->rc, g1, g2, rc, w1, w2, v->detail);
}

/* Checks req with profile (NULL: default) into vd, and expects a result. */
static void check_at(int line, const af_request_t *req, const char *profile,
		int rc, af_reasons_t reasons, af_reasons_t blocking)
{
	int got;

	memset(&vd, 0xa5, sizeof(vd));
	got = af_check_source(req, profile, profile ? strlen(profile) : 0, &vd);
	if(got != vd.rc)
		fail_msg("line %d: returned %d, verdict says %d", line, got, vd.rc);
	assert_string_equal(vd.check, "source");
	expect_at(line, &vd, rc, reasons, blocking);
}

#define CHECK(req, profile, rc, reasons, blocking) \
	check_at(__LINE__, (req), (profile), (rc), (reasons), (blocking))
#define OK(req, profile) CHECK((req), (profile), AF_RC_ALLOW, 0, 0)
#define BLOCK(req, profile, reasons) \
	CHECK((req), (profile), AF_RC_BLOCK, (reasons), (reasons))
#define ALERT(req, profile, reasons) \
	CHECK((req), (profile), AF_RC_ALERT, (reasons), 0)

/* Checks that the verdict's GeoIP data is what the map says. */
static void expect_geo(int found, const char *cc, const char *cont,
		uint32_t asn)
{
	assert_int_equal(vd.geo.found, found);
	assert_string_equal(vd.geo.country, cc);
	assert_string_equal(vd.geo.continent, cont);
	assert_int_equal(vd.geo.asn, asn);
}

/* the profile the addressing tests use */
static const char *const addressing_rules =
		"lists:\n"
		"  trusted: {entries: [198.51.100.0/28, '2001:db8:7::/48']}\n"
		"scanner: {threshold: 0}\n"
		"profiles:\n"
		"  default:\n"
		"    domains: [Example.COM, 127.0.0.1, '[::1]', '2001:DB8:0:0::10',\n"
		"              '::ffff:192.0.2.5']\n"
		"    users: [alice, bob]\n"
		"    user_patterns: ['^1[0-9]{3}$', '^ext-[a-z]+$']\n"
		"    trusted: [trusted]\n"
		"    routable: '^\\+?[0-9]{6,15}$'\n"
		"  onlyuser:\n"
		"    users: [alice]\n"
		"    mode: {domain: 'off', iplist: 'off', geo: 'off', sdp: 'off',\n"
		"           hopping: 'off', ban: 'off'}\n";

/* known domain and user pass; unknown ones are flagged */
static void test_known_domain_user(void **state)
{
	af_request_t r;

	start(addressing_rules);
	r = invite("127.0.0.1", "alice", "example.com");
	OK(&r, NULL);
	assert_int_equal(vd.banned, 0);
	assert_string_equal(vd.detail, "");
	r = invite("127.0.0.1", "bob", "EXAMPLE.Com");
	OK(&r, "");
	r = invite("127.0.0.1", "alice", "evil.com");
	BLOCK(&r, NULL, B_DOMAIN);
	assert_string_equal(vd.detail, "R-URI host evil.com is not ours");
	r = invite("127.0.0.1", "mallory", "example.com");
	BLOCK(&r, NULL, B_USER);
	assert_string_equal(vd.detail, "no user mallory here");
	/* what the request holds reaches the detail (and the logs) as plain
	 * text only */
	r = invite("127.0.0.1", "mal\x1b[2J\\lory", "example.com");
	BLOCK(&r, NULL, B_USER);
	assert_string_equal(vd.detail, "no user mal\\x1b[2J\\\\lory here");
	r = invite("127.0.0.1", "mallory", "evil.com");
	BLOCK(&r, NULL, B_DOMAIN | B_USER);
	/* exact names are case-sensitive */
	r = invite("127.0.0.1", "Alice", "example.com");
	BLOCK(&r, NULL, B_USER);
	/* patterns, anchored */
	r = invite("127.0.0.1", "1234", "example.com");
	OK(&r, NULL);
	r = invite("127.0.0.1", "ext-sales", "example.com");
	OK(&r, NULL);
	r = invite("127.0.0.1", "12345", "example.com");
	BLOCK(&r, NULL, B_USER);
	r = invite("127.0.0.1", "x1234", "example.com");
	BLOCK(&r, NULL, B_USER);
	r = invite("127.0.0.1", "ext-sales2", "example.com");
	BLOCK(&r, NULL, B_USER);
	/* a prefix of a name or a name with a suffix is not the name */
	r = invite("127.0.0.1", "alic", "example.com");
	BLOCK(&r, NULL, B_USER);
	r = invite("127.0.0.1", "alice2", "example.com");
	BLOCK(&r, NULL, B_USER);
	/* an INVITE or MESSAGE must name a user */
	r = invite("127.0.0.1", NULL, "example.com");
	BLOCK(&r, NULL, B_USER);
	r = mkreq(AF_M_MESSAGE, "127.0.0.1", "mallory", "example.com", "alice",
			"example.com");
	BLOCK(&r, NULL, B_USER);
	r = mkreq(AF_M_MESSAGE, "127.0.0.1", NULL, "example.com", "alice",
			"example.com");
	BLOCK(&r, NULL, B_USER);
	/* a host name longer than any domain */
	{
		char longhost[400];

		memset(longhost, 'a', sizeof(longhost) - 1);
		longhost[sizeof(longhost) - 1] = '\0';
		r = invite("127.0.0.1", "alice", longhost);
		BLOCK(&r, NULL, B_DOMAIN);
	}
}

/* IP literals in the R-URI compare with the configured ones normalized */
static void test_ip_literal_domains(void **state)
{
	static const char *const ours[] = {"127.0.0.1", "::ffff:127.0.0.1",
			"[::ffff:7f00:1]", "::1", "[::1]", "0:0:0:0:0:0:0:1",
			"2001:db8::10", "[2001:0DB8:0000::0010]", "2001:db8:0:0:0:0:0:10",
			"192.0.2.5", "[::ffff:192.0.2.5]", "::FFFF:c000:205"};
	static const char *const others[] = {"127.0.0.2", "::2",
			"2001:db8::11", "127.1", "[127.0.0.1]", "::ffff:127.0.0.2",
			"[::1", "127.0.0.1.", "0x7f.0.0.1"};
	af_request_t r;
	size_t i;

	start(addressing_rules);
	for(i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		r = invite("127.0.0.1", "alice", ours[i]);
		OK(&r, NULL);
	}
	for(i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		r = invite("127.0.0.1", "alice", others[i]);
		BLOCK(&r, NULL, B_DOMAIN);
	}
}

/* REGISTER: the To user is the account; OPTIONS keepalives; in-dialog */
static void test_register_options_in_dialog(void **state)
{
	af_request_t r;

	start(addressing_rules);
	/* REGISTER sip:example.com, To alice: no R-URI user is fine */
	r = mkreq(AF_M_REGISTER, "127.0.0.1", NULL, "example.com", "alice",
			"example.com");
	r.to_user = S("alice");
	OK(&r, NULL);
	/* the To user is checked, not the R-URI user */
	r.to_user = S("mallory");
	BLOCK(&r, NULL, B_USER);
	r.ruri_user = S("mallory");
	r.to_user = S("bob");
	OK(&r, NULL);
	r.ruri_user = S("bob");
	r.to_user = S("1001");
	OK(&r, NULL);
	/* a REGISTER without a To user names no account */
	r.ruri_user = S(NULL);
	r.to_user = S(NULL);
	BLOCK(&r, NULL, B_USER);
	/* a routable number is not an account, even from a trusted source */
	r = mkreq(AF_M_REGISTER, "198.51.100.1", NULL, "example.com",
			"+4930123456", "example.com");
	r.to_user = S("+4930123456");
	BLOCK(&r, NULL, B_USER);
	r.to_user = S("alice");
	r.ruri_host = S("evil.com");
	BLOCK(&r, NULL, B_DOMAIN);

	/* OPTIONS to the domain: the domain is checked, no user */
	r = mkreq(AF_M_OPTIONS, "127.0.0.1", NULL, "example.com", NULL,
			"example.com");
	OK(&r, NULL);
	r = mkreq(AF_M_OPTIONS, "127.0.0.1", NULL, "127.0.0.1", NULL, NULL);
	OK(&r, NULL);
	r = mkreq(AF_M_OPTIONS, "127.0.0.1", NULL, "evil.com", NULL, NULL);
	BLOCK(&r, NULL, B_DOMAIN);
	/* with a user, it is checked */
	r = mkreq(AF_M_OPTIONS, "127.0.0.1", "mallory", "example.com", NULL,
			NULL);
	BLOCK(&r, NULL, B_USER);
	r = mkreq(AF_M_NOTIFY, "127.0.0.1", NULL, "example.com", NULL, NULL);
	OK(&r, NULL);
	r = mkreq(AF_M_SUBSCRIBE, "127.0.0.1", NULL, "example.com", NULL, NULL);
	OK(&r, NULL);
	/* user check alone: an OPTIONS without a user is not evaluated */
	r = mkreq(AF_M_OPTIONS, "127.0.0.1", NULL, "evil.com", NULL, NULL);
	CHECK(&r, "onlyuser", AF_RC_NORULE, 0, 0);
	r = mkreq(AF_M_OPTIONS, "127.0.0.1", "alice", "evil.com", NULL, NULL);
	OK(&r, "onlyuser");
	r = mkreq(AF_M_REGISTER, "127.0.0.1", NULL, "evil.com", "mallory",
			"evil.com");
	r.to_user = S("mallory");
	BLOCK(&r, "onlyuser", B_USER);

	/* in-dialog requests are addressed to a contact: no domain/user */
	r = invite("127.0.0.1", "mallory", "evil.com");
	r.initial = 0;
	OK(&r, NULL);
	r = mkreq(AF_M_BYE, "127.0.0.1", "x", "192.0.2.99", "alice",
			"example.com");
	r.initial = 0;
	OK(&r, NULL);
	CHECK(&r, "onlyuser", AF_RC_NORULE, 0, 0);
	/* a request with nothing in it but a source */
	memset(&r, 0, sizeof(r));
	r.src_ip = IP("127.0.0.1");
	OK(&r, NULL);
	r.initial = 1;
	OK(&r, NULL); /* no R-URI host: nothing to compare; OTHER: no user */
	r.method = AF_M_INVITE;
	BLOCK(&r, NULL, B_USER);
	/* not even a source address */
	memset(&r, 0, sizeof(r));
	OK(&r, NULL);
	expect_geo(0, "", "", 0);
}

/* routable numbers: from trusted sources and from local callers only */
static void test_routable(void **state)
{
	af_request_t r;

	start(addressing_rules);
	/* trusted source, any caller */
	r = mkreq(AF_M_INVITE, "198.51.100.7", "+4930123456", "example.com",
			"someone", "elsewhere.net");
	OK(&r, NULL);
	r = mkreq(AF_M_INVITE, "2001:db8:7::99", "004930123456", "example.com",
			NULL, NULL);
	OK(&r, NULL);
	/* not routable: too short, letters */
	r = mkreq(AF_M_INVITE, "198.51.100.7", "12345", "example.com",
			"someone", "elsewhere.net");
	BLOCK(&r, NULL, B_USER);
	r = mkreq(AF_M_INVITE, "198.51.100.7", "+49301234x6", "example.com",
			"someone", "elsewhere.net");
	BLOCK(&r, NULL, B_USER);
	/* untrusted source: a local caller (user ours, host ours) may */
	r = mkreq(AF_M_INVITE, "127.0.0.2", "+4930123456", "example.com",
			"alice", "example.com");
	OK(&r, NULL);
	r.from_host = S("EXAMPLE.com");
	OK(&r, NULL);
	r.from_host = S("[::1]");
	OK(&r, NULL);
	r.from_host = S("::ffff:127.0.0.1");
	OK(&r, NULL);
	r.from_user = S("1234");
	OK(&r, NULL);
	/* ... anyone else may not */
	r.from_user = S("alice");
	r.from_host = S("evil.com");
	BLOCK(&r, NULL, B_USER);
	r.from_user = S("mallory");
	r.from_host = S("example.com");
	BLOCK(&r, NULL, B_USER);
	r.from_user = S(NULL);
	BLOCK(&r, NULL, B_USER);
	r.from_user = S("alice");
	r.from_host = S(NULL);
	BLOCK(&r, NULL, B_USER);
	/* a source just outside the trusted /28 */
	r = mkreq(AF_M_INVITE, "198.51.100.16", "+4930123456", "example.com",
			"someone", "elsewhere.net");
	BLOCK(&r, NULL, B_USER);
	/* an existing user from anywhere, of course */
	r = mkreq(AF_M_INVITE, "198.51.100.16", "alice", "example.com",
			"someone", "elsewhere.net");
	OK(&r, NULL);
}

/* allow and deny lists: longest prefix, allow wins a tie, exception */
static void test_allow_deny(void **state)
{
	af_request_t r;

	start("lists:\n"
		  "  deny16: {entries: [10.0.0.0/16, '2001:db8:bad::/48']}\n"
		  "  deny32: {entries: [10.0.1.5]}\n"
		  "  allow24: {entries: [10.0.1.0/24, '2001:db8:bad:1::/64']}\n"
		  "  tie_allow: {entries: [10.2.0.0/16]}\n"
		  "  tie_deny: {entries: [10.2.0.0/16, 10.2.3.0/24]}\n"
		  "  wide_allow: {entries: [10.3.0.0/16]}\n"
		  "  narrow_deny: {entries: [10.3.3.0/24]}\n"
		  "scanner: {threshold: 0}\n"
		  "profiles:\n"
		  "  default:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n"
		  "    allow: [allow24, tie_allow, wide_allow]\n"
		  "    deny: [deny16, deny32, tie_deny, narrow_deny]\n");
	r = invite("10.0.2.1", "alice", "example.com");
	BLOCK(&r, NULL, B_DENY);
	assert_string_equal(vd.detail, "source address in a deny list");
	/* the allow list is an exception to every source check */
	r = invite("10.0.1.1", "alice", "example.com");
	OK(&r, NULL);
	r = invite("10.0.1.1", "mallory", "evil.com");
	OK(&r, NULL);
	sdp(&r, "10.0.2.2", NULL);
	OK(&r, NULL);
	/* a more specific deny beats a shorter allow */
	r = invite("10.0.1.5", "alice", "example.com");
	BLOCK(&r, NULL, B_DENY);
	r = invite("10.3.3.3", "alice", "example.com");
	BLOCK(&r, NULL, B_DENY);
	r = invite("10.3.4.3", "alice", "example.com");
	OK(&r, NULL);
	/* allow wins a tie */
	r = invite("10.2.9.9", "alice", "example.com");
	OK(&r, NULL);
	r = invite("10.2.3.9", "alice", "example.com");
	BLOCK(&r, NULL, B_DENY);
	/* IPv6 */
	r = invite("2001:db8:bad::1", "alice", "example.com");
	BLOCK(&r, NULL, B_DENY);
	r = invite("2001:db8:bad:1::1", "mallory", "example.com");
	OK(&r, NULL);
	r = invite("2001:db8:bad:2::1", "mallory", "example.com");
	BLOCK(&r, NULL, B_DENY | B_USER);
	/* other reasons add up */
	r = invite("10.0.7.7", "mallory", "evil.com");
	BLOCK(&r, NULL, B_DENY | B_DOMAIN | B_USER);
	/* in-dialog requests are subject to the lists too */
	r.initial = 0;
	BLOCK(&r, NULL, B_DENY);
	/* IPv4-mapped source (glue may hand it so) is the IPv4 address */
	r = invite("::ffff:10.0.2.1", "alice", "example.com");
	BLOCK(&r, NULL, B_DENY);
	/* outside every list */
	r = invite("127.0.0.1", "alice", "example.com");
	OK(&r, NULL);
	/* an allowed source is not refused even when banned */
	assert_int_equal(af_core_ban("10.0.1.1", 8, 60, "x", err, sizeof(err)),
			0);
	r = invite("10.0.1.1", "alice", "example.com");
	OK(&r, NULL);
}

/* exempt callers and sources skip every check */
static void test_exempt(void **state)
{
	af_request_t r;

	start("lists:\n"
		  "  bad: {entries: [10.0.0.0/8]}\n"
		  "  pbx: {entries: [10.9.0.0/16]}\n"
		  "scanner: {threshold: 1}\n"
		  "profiles:\n"
		  "  default:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n"
		  "    deny: [bad]\n"
		  "    geo: {deny_countries: [KP], unknown: deny}\n"
		  "    exempt_callers: [carol, dave@example.org]\n"
		  "    exempt_sources: [pbx]\n");
	/* carol, by user, from any host */
	r = mkreq(AF_M_INVITE, "10.1.1.1", "mallory", "evil.com", "carol",
			"anywhere.net");
	OK(&r, NULL);
	assert_int_equal(vd.geo.found, 0);
	r.from_host = S(NULL);
	OK(&r, NULL);
	/* dave only at example.org; the host is case-insensitive */
	r = mkreq(AF_M_INVITE, "127.0.0.3", "mallory", "evil.com", "dave",
			"example.org");
	OK(&r, NULL);
	r.from_host = S("Example.ORG");
	OK(&r, NULL);
	r.from_host = S("example.com");
	BLOCK(&r, NULL, B_DOMAIN | B_USER | B_CC | B_SCANNER);
	assert_int_equal(vd.banned, 1);
	/* banned now, but dave@example.org and carol are still exempt */
	r.from_host = S("example.org");
	OK(&r, NULL);
	/* the authenticated user is the caller, not the From user */
	r = mkreq(AF_M_INVITE, "127.0.0.1", "mallory", "example.com", "mallory",
			"example.com");
	r.auth_user = S("carol");
	OK(&r, NULL);
	r.auth_user = S("eve");
	r.from_user = S("carol");
	BLOCK(&r, NULL, B_USER | B_SCANNER);
	/* exempt source, though in the deny list, not in the db, banned */
	r = invite("10.9.1.1", "mallory", "evil.com");
	OK(&r, NULL);
	assert_int_equal(af_core_ban("10.9.1.1", 8, 60, NULL, err, sizeof(err)),
			0);
	OK(&r, NULL);
	r = invite("10.8.1.1", "alice", "example.com");
	BLOCK(&r, NULL, B_DENY | B_GEOUNK | B_SCANNER);
}

static const char *const geo_rules =
		"scanner: {threshold: 0}\n"
		"profiles:\n"
		"  default:\n"
		"    domains: [example.com]\n"
		"    users: [alice]\n"
		"    geo:\n"
		"      deny_countries: [KP]\n"
		"      deny_continents: [SA]\n"
		"      deny_asn: [AS3215]\n"
		"      unknown: deny\n"
		"  whitelist:\n"
		"    domains: [example.com]\n"
		"    users: [alice]\n"
		"    geo: {allow_countries: [DE, fr]}\n"
		"  continents:\n"
		"    domains: [example.com]\n"
		"    users: [alice]\n"
		"    geo: {allow_continents: [EU, NA]}\n"
		"  all3:\n"
		"    domains: [example.com]\n"
		"    users: [alice]\n"
		"    geo: {deny_countries: [JP], deny_continents: [AS],\n"
		"          deny_asn: [2516]}\n";

/* GeoIP policy on the source */
static void test_geo(void **state)
{
	af_request_t r;

	start(geo_rules);
	r = invite("127.0.0.1", "alice", "example.com");
	OK(&r, NULL);
	expect_geo(1, "US", "NA", 64500);
	r = invite("127.0.0.2", "alice", "example.com");
	OK(&r, NULL);
	expect_geo(1, "DE", "EU", 3320);
	r = invite("127.0.0.3", "alice", "example.com");
	BLOCK(&r, NULL, B_CC);
	expect_geo(1, "KP", "AS", 131279);
	assert_string_equal(vd.detail, "country KP not allowed");
	r = invite("::ffff:127.0.0.3", "mallory", "example.com");
	BLOCK(&r, NULL, B_CC | B_USER);
	r = invite("127.0.0.4", "alice", "example.com");
	BLOCK(&r, NULL, B_CONT);
	expect_geo(1, "BR", "SA", 28573);
	assert_string_equal(vd.detail, "continent SA not allowed");
	r = invite("127.0.0.5", "alice", "example.com");
	BLOCK(&r, NULL, B_ASN);
	expect_geo(1, "FR", "EU", 3215);
	assert_string_equal(vd.detail, "AS3215 denied");
	r = invite("10.1.1.1", "alice", "example.com");
	BLOCK(&r, NULL, B_GEOUNK);
	expect_geo(0, "", "", 0);
	assert_string_equal(vd.detail, "not in the GeoIP database");
	r = invite("::1", "alice", "example.com");
	OK(&r, NULL);
	expect_geo(1, "US", "NA", 64500);
	r = invite("2001:db8::5", "alice", "example.com");
	OK(&r, NULL);
	expect_geo(1, "NL", "EU", 1136);
	r = invite("198.51.100.200", "alice", "example.com");
	OK(&r, NULL);
	expect_geo(1, "CN", "AS", 4134);
	/* GeoIP applies in dialogs too */
	r = invite("127.0.0.3", "x", "192.0.2.1");
	r.initial = 0;
	BLOCK(&r, NULL, B_CC);

	/* allow_countries: a whitelist; unknown allowed by default */
	r = invite("127.0.0.2", "alice", "example.com");
	OK(&r, "whitelist");
	r = invite("127.0.0.5", "alice", "example.com");
	OK(&r, "whitelist");
	r = invite("127.0.0.1", "alice", "example.com");
	BLOCK(&r, "whitelist", B_CC);
	assert_string_equal(vd.detail, "country US not allowed");
	r = invite("10.1.1.1", "alice", "example.com");
	OK(&r, "whitelist");
	expect_geo(0, "", "", 0);

	/* allow_continents */
	r = invite("127.0.0.6", "alice", "example.com");
	BLOCK(&r, "continents", B_CONT);
	assert_string_equal(vd.detail, "continent AS not allowed");
	r = invite("198.51.100.200", "alice", "example.com");
	BLOCK(&r, "continents", B_CONT);
	r = invite("127.0.0.1", "alice", "example.com");
	OK(&r, "continents");
	r = invite("127.0.0.2", "alice", "example.com");
	OK(&r, "continents");

	/* all three at once; the detail names the country */
	r = invite("127.0.0.6", "alice", "example.com");
	BLOCK(&r, "all3", B_CC | B_CONT | B_ASN);
	assert_string_equal(vd.detail, "country JP not allowed");
	expect_geo(1, "JP", "AS", 2516);
	r = invite("198.51.100.200", "alice", "example.com");
	BLOCK(&r, "all3", B_CONT);
}

/* lists and GeoIP policy on the SDP addresses */
static void test_sdp(void **state)
{
	static const char *const body =
			"    domains: [example.com]\n"
			"    users: [alice]\n"
			"    allow: [media_ok]\n"
			"    deny: [media_bad]\n"
			"    geo: {deny_countries: [KP], deny_continents: [SA]}\n";
	char text[2048];
	af_request_t r;

	snprintf(text, sizeof(text),
			"lists:\n"
			"  media_bad: {entries: [10.66.0.0/16, '2001:db8:66::/48',\n"
			"                       0.0.0.0/8, '::/8']}\n"
			"  media_ok: {entries: [10.66.1.0/24]}\n"
			"scanner: {threshold: 0}\n"
			"profiles:\n"
			"  default:\n%s"
			"  strict:\n%s"
			"    mode: {sdp: enforce}\n"
			"  nosdp:\n%s"
			"    mode: {sdp: 'off'}\n"
			"  unk:\n"
			"    domains: [example.com]\n"
			"    users: [alice]\n"
			"    geo: {unknown: deny}\n"
			"    mode: {sdp: enforce, geo: 'off'}\n",
			body, body, body);
	start(text);
	r = invite("127.0.0.1", "alice", "example.com");
	sdp(&r, "127.0.0.2", "127.0.0.1", NULL);
	OK(&r, NULL);
	OK(&r, "strict");
	/* deny list; sdp is in monitor mode by default */
	sdp(&r, "127.0.0.2", "10.66.0.9", NULL);
	ALERT(&r, NULL, B_SDPDENY);
	assert_string_equal(vd.detail, "SDP address 10.66.0.9 denied");
	BLOCK(&r, "strict", B_SDPDENY);
	CHECK(&r, "nosdp", AF_RC_ALLOW, 0, 0);
	/* the source's data is the source's */
	expect_geo(1, "US", "NA", 64500);
	sdp(&r, "2001:db8:66::1", NULL);
	BLOCK(&r, "strict", B_SDPDENY);
	/* a more specific allow */
	sdp(&r, "10.66.1.2", NULL);
	OK(&r, "strict");
	/* GeoIP policy */
	sdp(&r, "127.0.0.3", NULL);
	BLOCK(&r, "strict", B_SDPGEO);
	assert_string_equal(vd.detail,
			"SDP address 127.0.0.3: country KP not allowed");
	sdp(&r, "127.0.0.4", NULL);
	BLOCK(&r, "strict", B_SDPGEO);
	assert_string_equal(vd.detail,
			"SDP address 127.0.0.4: continent SA not allowed");
	sdp(&r, "127.0.0.5", "10.66.0.9", "127.0.0.3", NULL);
	BLOCK(&r, "strict", B_SDPDENY | B_SDPGEO);
	ALERT(&r, NULL, B_SDPDENY | B_SDPGEO);
	OK(&r, "nosdp");
	/* with the source's own reasons */
	r = invite("127.0.0.3", "mallory", "example.com");
	sdp(&r, "10.66.0.9", NULL);
	CHECK(&r, NULL, AF_RC_BLOCK, B_CC | B_USER | B_SDPDENY, B_CC | B_USER);
	/* in dialogs too (re-INVITE) */
	r = invite("127.0.0.1", "x", "192.0.2.1");
	r.initial = 0;
	sdp(&r, "127.0.0.3", NULL);
	BLOCK(&r, "strict", B_SDPGEO);
	/* unknown: deny, for the SDP alone (geo off on the source) */
	r = invite("10.1.1.1", "alice", "example.com");
	sdp(&r, "10.2.2.2", NULL);
	BLOCK(&r, "unk", B_SDPGEO);
	assert_string_equal(vd.detail,
			"SDP address 10.2.2.2: not in the GeoIP database");
	sdp(&r, "127.0.0.1", NULL);
	OK(&r, "unk");
	/* a re-INVITE for hold (c=0.0.0.0, RFC 2543) names no address: not
	 * judged by GeoIP nor by lists (bogon feeds hold 0.0.0.0/8) */
	r = invite("127.0.0.1", "x", "192.0.2.1");
	r.initial = 0;
	sdp(&r, "0.0.0.0", "127.0.0.1", NULL);
	OK(&r, "unk");
	OK(&r, "strict");
	sdp(&r, "::", NULL);
	OK(&r, "unk");
	OK(&r, "strict");
	sdp(&r, "0.1.2.3", NULL);
	BLOCK(&r, "unk", B_SDPGEO);
	BLOCK(&r, "strict", B_SDPDENY);
}

/* the scanner score: weights, the threshold, the ban and its expiry */
static void test_scanner_ban(void **state)
{
	af_request_t r, bad_user, bad_domain, clean;

	start("scanner:\n"
		  "  window: 60\n"
		  "  threshold: 5\n"
		  "  ban_time: 600\n"
		  "  weights: {unknown_domain: 1, unknown_user: 2, geo_country: 3}\n"
		  "profiles:\n"
		  "  default:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n"
		  "    geo: {deny_countries: [KP, JP]}\n");
	bad_user = invite("127.0.0.2", "mallory", "example.com");
	bad_domain = invite("127.0.0.2", "alice", "evil.com");
	clean = invite("127.0.0.2", "alice", "example.com");

	BLOCK(&bad_user, NULL, B_USER);
	assert_int_equal(vd.score, 2);
	assert_int_equal(vd.banned, 0);
	BLOCK(&bad_domain, NULL, B_DOMAIN);
	assert_int_equal(vd.score, 3);
	assert_int_equal(vd.banned, 0);
	/* a clean request adds nothing */
	OK(&clean, NULL);
	assert_int_equal(vd.banned, 0);
	test_host_advance(10 * SEC);
	/* 3 + 2: exactly the threshold bans */
	BLOCK(&bad_user, NULL, B_USER | B_SCANNER);
	assert_int_equal(vd.score, 5);
	assert_int_equal(vd.banned, 1);
	assert_string_equal(vd.ban.reason, "unknown_user");
	assert_int_equal(vd.ban.since_ms, T0 + 10 * SEC);
	assert_int_equal(vd.ban.until_ms, T0 + 610 * SEC);
	assert_string_equal(vd.detail, "no user mallory here");
	assert_int_equal(af_core_stat(AF_ST_BANS), 1);
	assert_int_equal(af_core_stat(AF_ST_BAN_REFUSED), 0);

	/* banned: refused whatever it sends, the score left alone */
	CHECK(&clean, NULL, AF_RC_BLOCK, B_BANNED, B_BANNED);
	assert_int_equal(vd.banned, 1);
	assert_int_equal(vd.score, 0);
	assert_string_equal(vd.ban.reason, "unknown_user");
	assert_int_equal(vd.ban.hits, 1);
	assert_int_equal(vd.ban.until_ms, T0 + 610 * SEC);
	assert_string_equal(vd.detail, "banned: unknown_user");
	/* nothing else is evaluated for a banned source: one lookup */
	BLOCK(&bad_domain, NULL, B_BANNED);
	assert_int_equal(vd.ban.hits, 2);
	assert_int_equal(vd.score, 0);
	assert_string_equal(vd.detail, "banned: unknown_user");
	assert_int_equal(af_core_stat(AF_ST_BAN_REFUSED), 2);
	assert_int_equal(af_core_stat(AF_ST_BANS), 1);

	/* weights sum over the reasons of one request: 1 + 2 + 3 */
	r = invite("127.0.0.3", "mallory", "evil.com");
	BLOCK(&r, NULL, B_DOMAIN | B_USER | B_CC | B_SCANNER);
	assert_int_equal(vd.score, 6);
	assert_int_equal(vd.banned, 1);
	assert_string_equal(vd.ban.reason,
			"unknown_domain,unknown_user,geo_country");
	assert_int_equal(af_core_stat(AF_ST_BANS), 2);
	/* reasons weighing 0 add nothing (continent is not weighed) */
	r = invite("127.0.0.6", "alice", "example.com");
	BLOCK(&r, NULL, B_CC);
	assert_int_equal(vd.score, 3);
	/* other sources are not affected */
	r = invite("127.0.0.1", "alice", "example.com");
	OK(&r, NULL);

	/* the ban lasts ban_time, then the source is judged afresh; its
	 * old score has left the window */
	test_host_advance(600 * SEC - 1);
	CHECK(&clean, NULL, AF_RC_BLOCK, B_BANNED, B_BANNED);
	test_host_advance(1);
	OK(&clean, NULL);
	assert_int_equal(vd.banned, 0);
	BLOCK(&bad_user, NULL, B_USER);
	assert_int_equal(vd.score, 2);
	assert_int_equal(vd.banned, 0);
}

/* the window slides: N-1 flagged requests spread out never ban */
static void test_scanner_window(void **state)
{
	af_request_t r = invite("127.0.0.1", "mallory", "example.com");
	int i;

	start("scanner: {window: 60, threshold: 3, ban_time: 300,\n"
		  "          weights: {unknown_user: 1}}\n"
		  "profiles:\n"
		  "  default:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n");
	/* two flagged requests per 62 s, for a long time */
	for(i = 0; i < 40; i++) {
		BLOCK(&r, NULL, B_USER);
		assert_int_equal(vd.score, i == 0 ? 1 : 2);
		assert_int_equal(vd.banned, 0);
		test_host_advance(31 * SEC);
	}
	assert_int_equal(af_core_stat(AF_ST_BANS), 0);
	/* the window empties after window seconds */
	test_host_advance(61 * SEC);
	BLOCK(&r, NULL, B_USER);
	assert_int_equal(vd.score, 1);
	/* three within the window ban, on the third */
	test_host_advance(20 * SEC);
	BLOCK(&r, NULL, B_USER);
	assert_int_equal(vd.score, 2);
	test_host_advance(20 * SEC);
	BLOCK(&r, NULL, B_USER | B_SCANNER);
	assert_int_equal(vd.score, 3);
	assert_int_equal(vd.banned, 1);
	assert_int_equal(af_core_stat(AF_ST_BANS), 1);
}

typedef struct ban_seen {
	int n;
	char keys[8][AF_IP_STRLEN];
	af_ban_t bans[8];
} ban_seen_t;

static int collect_ban(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	ban_seen_t *s = arg;

	assert_true(key_len < AF_IP_STRLEN);
	if(s->n < 8) {
		memcpy(s->keys[s->n], key, key_len);
		s->keys[s->n][key_len] = '\0';
		s->bans[s->n] = *ban;
	}
	s->n++;
	return 0;
}

/* index of key in what ban_list reported, -1 when absent */
static int seen_index(const ban_seen_t *s, const char *key)
{
	int i;

	for(i = 0; i < s->n && i < 8; i++)
		if(strcmp(s->keys[i], key) == 0)
			return i;
	return -1;
}

static void list_bans(ban_seen_t *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(af_core_ban_list(collect_ban, s), 0);
}

/* operator bans: ban, unban, list; text normalized to the key */
static void test_manual_ban(void **state)
{
	af_request_t r = invite("203.0.113.9", "alice", "example.com");
	af_request_t r6 = invite("2001:db8::1", "alice", "example.com");
	ban_seen_t seen;
	int i;

	start("scanner: {threshold: 0}\n"
		  "profiles:\n"
		  "  default:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n");
	OK(&r, NULL);
	list_bans(&seen);
	assert_int_equal(seen.n, 0);

	assert_int_equal(af_core_ban("203.0.113.9", 11, 3600, "honeypot hit", err,
							 sizeof(err)),
			0);
	assert_int_equal(af_core_stat(AF_ST_BANS), 1);
	CHECK(&r, NULL, AF_RC_BLOCK, B_BANNED, B_BANNED);
	assert_int_equal(vd.banned, 1);
	assert_string_equal(vd.ban.reason, "honeypot hit");
	assert_int_equal(vd.ban.since_ms, T0);
	assert_int_equal(vd.ban.until_ms, T0 + 3600 * SEC);
	assert_int_equal(vd.ban.hits, 1);
	assert_string_equal(vd.detail, "banned: honeypot hit");

	/* bad arguments */
	err[0] = '\0';
	assert_int_equal(af_core_ban("203.0.113", 9, 60, NULL, err, sizeof(err)),
			-1);
	assert_string_equal(err, "not an IP address: '203.0.113'");
	err[0] = '\0';
	assert_int_equal(af_core_ban("", 0, 60, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an IP address"));
	err[0] = '\0';
	assert_int_equal(af_core_ban("10.0.0.0/8", 10, 60, NULL, err,
							 sizeof(err)),
			-1);
	assert_non_null(strstr(err, "not an IP address"));
	err[0] = '\0';
	assert_int_equal(af_core_ban("192.0.2.1", 9, 0, NULL, err, sizeof(err)),
			-1);
	assert_true(err[0] != '\0');
	err[0] = '\0';
	assert_int_equal(af_core_unban("nope", 4, err, sizeof(err)), -1);
	assert_string_equal(err, "not an IP address: 'nope'");
	/* only ip_len bytes are read */
	assert_int_equal(af_core_ban("192.0.2.12345", 9, 60, "", err,
							 sizeof(err)),
			0);
	assert_int_equal(af_core_stat(AF_ST_BANS), 2);

	/* IPv6: normalized key, bracketed too; reason defaults to manual */
	assert_int_equal(af_core_ban("[2001:DB8:0:0::1]", 17, 60, NULL, err,
							 sizeof(err)),
			0);
	CHECK(&r6, NULL, AF_RC_BLOCK, B_BANNED, B_BANNED);
	assert_string_equal(vd.ban.reason, "manual");
	list_bans(&seen);
	assert_int_equal(seen.n, 3);
	assert_true(seen_index(&seen, "203.0.113.9") >= 0);
	assert_true(seen_index(&seen, "192.0.2.1") >= 0);
	i = seen_index(&seen, "2001:db8::1");
	assert_true(i >= 0);
	assert_string_equal(seen.bans[i].reason, "manual");
	assert_int_equal(seen.bans[i].hits, 1);
	i = seen_index(&seen, "192.0.2.1");
	assert_string_equal(seen.bans[i].reason, "manual");

	/* unban: lifted, then nothing to lift; mapped form is the IPv4 */
	assert_int_equal(af_core_unban("2001:db8:0::1", 13, err, sizeof(err)), 1);
	assert_int_equal(af_core_unban("2001:db8::1", 11, err, sizeof(err)), 0);
	OK(&r6, NULL);
	assert_int_equal(af_core_unban("::ffff:203.0.113.9", 18, err,
							 sizeof(err)),
			1);
	OK(&r, NULL);
	assert_int_equal(vd.banned, 0);

	/* a ban replaces an older one; bans expire by themselves */
	assert_int_equal(af_core_ban("203.0.113.9", 11, 10, "short", err,
							 sizeof(err)),
			0);
	assert_int_equal(af_core_ban("203.0.113.9", 11, 20, "longer", err,
							 sizeof(err)),
			0);
	CHECK(&r, NULL, AF_RC_BLOCK, B_BANNED, B_BANNED);
	assert_string_equal(vd.ban.reason, "longer");
	test_host_advance(20 * SEC - 1);
	CHECK(&r, NULL, AF_RC_BLOCK, B_BANNED, B_BANNED);
	test_host_advance(1);
	OK(&r, NULL);
	test_host_advance(40 * SEC);
	list_bans(&seen);
	assert_int_equal(seen.n, 0);
}

/* ban in monitor mode scores but never bans; the stop flag in enforce */
/*
 * af_core_ban refuses what cannot be meant: addresses that are never a
 * source, durations out of range, reasons that are long or not plain
 * text; an error quotes the input only as a short escaped excerpt.
 */
static void test_manual_ban_refusals(void **state)
{
	static const char *const never[] = {"0.0.0.0", "0.1.2.3", "::",
			"[::]", "::ffff:0.0.0.0", "255.255.255.255", "224.0.0.1",
			"239.255.255.250", "ff02::1", "FF05::1:3"};
	static const char *const bad_reasons[] = {"red \x1b[31mALERT",
			"two\nlines", "tab\there", "bad \xff\xfe", "csi \xc2\x9b" "2J",
			"rtl \xe2\x80\xae" "x"};
	char big[70000], reason[AF_BAN_REASON + 1];
	ban_seen_t seen;
	size_t i;

	start("profiles:\n"
		  "  default:\n"
		  "    domains: [example.com]\n");
	for(i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		err[0] = '\0';
		assert_int_equal(af_core_ban(never[i], strlen(never[i]), 60, "x",
								 err, sizeof(err)),
				-1);
		if(!strstr(err, "cannot be banned"))
			fail_msg("%s: %s", never[i], err);
	}
	assert_string_equal(err, "ff05::1:3 cannot be banned: multicast address"
							 " (ff00::/8)");
	/* the edges of what may be banned */
	assert_int_equal(af_core_ban("1.0.0.0", 7, 60, NULL, err, sizeof(err)), 0);
	assert_int_equal(
			af_core_ban("223.255.255.255", 15, 60, NULL, err, sizeof(err)), 0);
	assert_int_equal(
			af_core_ban("240.0.0.1", 9, 60, NULL, err, sizeof(err)), 0);
	assert_int_equal(af_core_ban("::1", 3, 60, NULL, err, sizeof(err)), 0);
	assert_int_equal(af_core_ban("127.0.0.1", 9, 60, NULL, err, sizeof(err)),
			0);

	/* durations: 1 s to a year */
	assert_int_equal(af_core_ban("192.0.2.1", 9, 0, NULL, err, sizeof(err)),
			-1);
	assert_string_equal(err, "the ban time must be from 1 to 31536000 seconds");
	assert_int_equal(af_core_ban("192.0.2.1", 9, AF_BAN_MAX_S + 1, NULL, err,
							 sizeof(err)),
			-1);
	assert_int_equal(af_core_ban("192.0.2.1", 9, UINT32_MAX, NULL, err,
							 sizeof(err)),
			-1);
	assert_int_equal(af_core_ban("192.0.2.1", 9, AF_BAN_MAX_S, NULL, err,
							 sizeof(err)),
			0);

	/* reasons: refused, never cut or kept raw */
	for(i = 0; i < sizeof(bad_reasons) / sizeof(bad_reasons[0]); i++) {
		err[0] = '\0';
		assert_int_equal(af_core_ban("192.0.2.2", 9, 60, bad_reasons[i], err,
								 sizeof(err)),
				-1);
		if(!strstr(err, "reason must be plain text"))
			fail_msg("%zu: %s", i, err);
	}
	memset(reason, 'r', sizeof(reason));
	reason[AF_BAN_REASON] = '\0';
	assert_int_equal(af_core_ban("192.0.2.2", 9, 60, reason, err, sizeof(err)),
			-1);
	assert_string_equal(err, "the reason is too long (64 bytes, at most 63)");
	reason[AF_BAN_REASON - 1] = '\0';
	assert_int_equal(af_core_ban("192.0.2.2", 9, 60, reason, err, sizeof(err)),
			0);
	assert_int_equal(af_core_ban("192.0.2.3", 9, 60, "Z\xc3\xbcrich \xe2\x82\xac",
							 err, sizeof(err)),
			0);

	/* a 64 KB address: a short escaped excerpt */
	memset(big, '\x1b', sizeof(big));
	assert_int_equal(af_core_ban(big, sizeof(big), 60, NULL, err, sizeof(err)),
			-1);
	assert_true(strlen(err) < 160);
	assert_non_null(strstr(err, "'\\x1b\\x1b"));
	assert_null(strchr(err, '\x1b'));
	assert_int_equal(af_core_unban(big, sizeof(big), err, sizeof(err)), -1);
	assert_true(strlen(err) < 160);

	list_bans(&seen);
	assert_int_equal(seen.n, 8);
	assert_true(seen_index(&seen, "192.0.2.1") >= 0);
	assert_true(seen_index(&seen, "192.0.2.2") >= 0);
	assert_string_equal(seen.bans[seen_index(&seen, "192.0.2.3")].reason,
			"Z\xc3\xbcrich \xe2\x82\xac");
	assert_true(seen_index(&seen, "192.0.2.2") >= 0);
}

static void test_ban_modes(void **state)
{
	af_request_t r;
	ban_seen_t seen;
	int i;

	start("scanner: {window: 60, threshold: 3, ban_time: 300,\n"
		  "          weights: {unknown_user: 1}}\n"
		  "profiles:\n"
		  "  default:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n"
		  "    mode: {user: monitor, ban: monitor}\n"
		  "  enf:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n"
		  "  enfmon:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n"
		  "    mode: {user: monitor}\n"
		  "  noban:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n"
		  "    mode: {ban: 'off'}\n");
	/* monitor: the score counts, the threshold alerts, no ban */
	r = invite("127.0.0.1", "mallory", "example.com");
	for(i = 1; i <= 6; i++) {
		if(i < 3)
			ALERT(&r, NULL, B_USER);
		else
			ALERT(&r, NULL, B_USER | B_SCANNER);
		assert_int_equal(vd.score, i);
		assert_int_equal(vd.banned, 0);
	}
	r = invite("127.0.0.1", "alice", "example.com");
	OK(&r, NULL);
	list_bans(&seen);
	assert_int_equal(seen.n, 0);
	assert_int_equal(af_core_stat(AF_ST_BANS), 0);
	/* a ban seen in monitor mode alerts, and scoring goes on */
	assert_int_equal(af_core_ban("127.0.0.1", 9, 300, "op", err, sizeof(err)),
			0);
	ALERT(&r, NULL, B_BANNED);
	assert_int_equal(vd.banned, 1);
	r = invite("127.0.0.1", "mallory", "example.com");
	ALERT(&r, NULL, B_BANNED | B_USER | B_SCANNER);
	assert_int_equal(vd.score, 7);
	assert_int_equal(af_core_stat(AF_ST_BAN_REFUSED), 0);
	/* the same source with ban enforced: refused, no scoring */
	CHECK(&r, "enf", AF_RC_BLOCK, B_BANNED, B_BANNED);
	assert_int_equal(vd.score, 0);
	assert_int_equal(af_core_stat(AF_ST_BAN_REFUSED), 1);
	/* ban off: not looked up */
	CHECK(&r, "noban", AF_RC_BLOCK, B_USER, B_USER);
	assert_int_equal(vd.banned, 0);
	assert_int_equal(vd.score, 0);

	/* enforced ban, monitored user check: monitor never blocks, not even
	 * through a ban, so the reason does not score */
	r = invite("127.0.0.4", "mallory", "example.com");
	for(i = 0; i < 5; i++) {
		ALERT(&r, "enfmon", B_USER);
		assert_int_equal(vd.score, 0);
		assert_int_equal(vd.banned, 0);
	}

	/* enforce: requests refused while banned do not score */
	r = invite("127.0.0.2", "mallory", "example.com");
	BLOCK(&r, "enf", B_USER);
	assert_int_equal(vd.score, 1);
	assert_int_equal(af_core_ban("127.0.0.2", 9, 300, NULL, err, sizeof(err)),
			0);
	for(i = 0; i < 5; i++) {
		CHECK(&r, "enf", AF_RC_BLOCK, B_BANNED, B_BANNED);
		assert_int_equal(vd.score, 0);
	}
	assert_int_equal(af_core_unban("127.0.0.2", 9, err, sizeof(err)), 1);
	BLOCK(&r, "enf", B_USER);
	assert_int_equal(vd.score, 2);
	/* the third in the window bans */
	CHECK(&r, "enf", AF_RC_BLOCK, B_USER | B_SCANNER, B_USER | B_SCANNER);
	assert_int_equal(vd.score, 3);
	assert_int_equal(vd.banned, 1);
	CHECK(&r, "enf", AF_RC_BLOCK, B_BANNED, B_BANNED);
}

static const char *const hop_rules =
		"scanner: {threshold: 0}\n"
		"history: {ttl: 86400}\n"
		"profiles:\n"
		"  default:\n"
		"    domains: [example.com, example.org]\n"
		"    users: [alice]\n"
		"    hopping: {country: 3600, continent: 14400, identity: from}\n"
		/* the digest user's case sends made-up credentials: with account
		 * protection its history would hold only the sources whose
		 * authentication succeeded (test_hopping_identity does the same) */
		"    mode: {accounts: 'off'}\n"
		"  strict:\n"
		"    domains: [example.com, example.org]\n"
		"    users: [alice]\n"
		"    hopping: {country: 3600, continent: 14400, identity: from}\n"
		"    mode: {hopping: enforce}\n"
		"  nohop:\n"
		"    domains: [example.com, example.org]\n"
		"    users: [alice]\n"
		"    hopping: {country: 3600, continent: 14400, identity: from}\n"
		"    mode: {hopping: 'off'}\n";

/* an INVITE to alice@example.com from caller user@host at src */
static af_request_t call_from(const char *src, const char *user,
		const char *host)
{
	return mkreq(AF_M_INVITE, src, "alice", "example.com", user, host);
}

/*
 * By default only requests that carry digest credentials count for
 * hopping (the From header is anyone's to write): a spoofed From cannot
 * pollute a user's history.
 */
static void test_hopping_identity(void **state)
{
	af_request_t r;

	start("profiles:\n"
		  "  default:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n"
		  "    hopping: {country: 3600}\n"
		  /* with account protection the history holds the sources
		   * that authenticated (test_account.c) */
		  "    mode: {accounts: 'off'}\n");
	r = call_from("127.0.0.2", "u1", "example.com");
	OK(&r, NULL);
	r = call_from("127.0.0.6", "u1", "example.com");
	OK(&r, NULL); /* no credentials: not tracked */
	r = call_from("127.0.0.2", "u1", "example.com");
	r.auth_user = (af_str_t){"u1", 2};
	OK(&r, NULL);
	r = call_from("127.0.0.5", "someone", "example.com");
	r.auth_user = (af_str_t){"u1", 2};
	ALERT(&r, NULL, B_CHOP);
	assert_string_equal(vd.detail, "caller moved DE -> FR in 0 s");
}

/* country and continent hopping of a caller */
static void test_hopping(void **state)
{
	af_request_t r;

	start(hop_rules);
	/* DE, then JP 10 minutes later: both */
	r = call_from("127.0.0.2", "u1", "example.com");
	OK(&r, NULL);
	test_host_advance(600 * SEC);
	r = call_from("127.0.0.6", "u1", "example.com");
	ALERT(&r, NULL, B_CHOP | B_CONTHOP);
	assert_string_equal(vd.detail, "caller moved DE -> JP in 600 s");
	/* back to DE: a change again (from JP) */
	test_host_advance(60 * SEC);
	r = call_from("127.0.0.2", "u1", "example.com");
	ALERT(&r, NULL, B_CHOP | B_CONTHOP);
	/* the same source again: still near the JP call */
	r = call_from("127.0.0.2", "u1", "example.com");
	ALERT(&r, NULL, B_CHOP | B_CONTHOP);

	/* DE, then FR: country only */
	r = call_from("127.0.0.2", "u2", "example.com");
	OK(&r, NULL);
	test_host_advance(60 * SEC);
	r = call_from("127.0.0.5", "u2", "example.com");
	ALERT(&r, NULL, B_CHOP);
	assert_string_equal(vd.detail, "caller moved DE -> FR in 60 s");

	/* DE, then JP after the country limit: continent only */
	r = call_from("127.0.0.2", "u3", "example.com");
	OK(&r, NULL);
	test_host_advance(3600 * SEC);
	r = call_from("127.0.0.6", "u3", "example.com");
	ALERT(&r, NULL, B_CONTHOP);
	/* DE, then JP after both limits: nothing */
	r = call_from("127.0.0.2", "u4", "example.com");
	OK(&r, NULL);
	test_host_advance(14400 * SEC);
	r = call_from("127.0.0.6", "u4", "example.com");
	OK(&r, NULL);
	/* just inside the limits */
	r = call_from("127.0.0.2", "u5", "example.com");
	OK(&r, NULL);
	test_host_advance(3600 * SEC - 1);
	r = call_from("127.0.0.5", "u5", "example.com");
	ALERT(&r, NULL, B_CHOP);

	/* enforce */
	r = call_from("127.0.0.2", "u6", "example.com");
	OK(&r, "strict");
	test_host_advance(SEC);
	r = call_from("127.0.0.6", "u6", "example.com");
	BLOCK(&r, "strict", B_CHOP | B_CONTHOP);
	/* off: nothing recorded, nothing flagged */
	r = call_from("127.0.0.2", "u7", "example.com");
	OK(&r, "nohop");
	r = call_from("127.0.0.6", "u7", "example.com");
	OK(&r, "nohop");
	r = call_from("127.0.0.2", "u7", "example.com");
	OK(&r, NULL);
	test_host_advance(SEC);

	/* keyed by the digest user when there is one (From user ignored) */
	r = call_from("127.0.0.2", "x", "example.com");
	r.auth_user = S("frank");
	OK(&r, NULL);
	r = call_from("127.0.0.6", "y", "example.com");
	r.auth_user = S("frank");
	ALERT(&r, NULL, B_CHOP | B_CONTHOP);
	/* ... else by From user@host; the host case-insensitive */
	r = call_from("127.0.0.2", "gina", "example.com");
	OK(&r, NULL);
	r = call_from("127.0.0.6", "gina", "example.org");
	OK(&r, NULL);
	r = call_from("127.0.0.6", "Gina", "example.com");
	OK(&r, NULL);
	r = call_from("127.0.0.6", "gina", "EXAMPLE.COM");
	ALERT(&r, NULL, B_CHOP | B_CONTHOP);
	/* no caller, no history */
	r = call_from("127.0.0.2", NULL, "example.com");
	OK(&r, NULL);
	r = call_from("127.0.0.6", NULL, "example.com");
	OK(&r, NULL);

	/* INVITE and REGISTER only; not in dialogs; unknown sources not
	 * recorded */
	r = call_from("127.0.0.2", "henry", "example.com");
	OK(&r, NULL);
	r = mkreq(AF_M_OPTIONS, "127.0.0.6", NULL, "example.com", "henry",
			"example.com");
	OK(&r, NULL);
	r = call_from("127.0.0.6", "henry", "example.com");
	r.initial = 0;
	OK(&r, NULL);
	r = call_from("10.1.1.1", "henry", "example.com");
	OK(&r, NULL);
	r = call_from("127.0.0.2", "henry", "example.com");
	OK(&r, NULL);
	r = mkreq(AF_M_REGISTER, "127.0.0.5", NULL, "example.com", "henry",
			"example.com");
	r.to_user = S("alice");
	ALERT(&r, NULL, B_CHOP);
}

static const char *const mode_rules =
		"lists:\n"
		"  bad: {entries: [10.66.0.0/16]}\n"
		"scanner: {threshold: 0}\n"
		"profiles:\n"
		"  default:\n"
		"    domains: [example.com]\n"
		"    users: [alice]\n"
		"    deny: [bad]\n"
		"    geo: {deny_countries: [KP]}\n"
		"    hopping: {country: 3600, identity: from}\n"
		"  mon:\n"
		"    domains: [example.com]\n"
		"    users: [alice]\n"
		"    deny: [bad]\n"
		"    geo: {deny_countries: [KP]}\n"
		"    hopping: {country: 3600, identity: from}\n"
		"    mode: {domain: monitor, user: monitor, iplist: monitor,\n"
		"           geo: monitor, sdp: monitor, hopping: monitor,\n"
		"           ban: monitor}\n"
		"  mixed:\n"
		"    domains: [example.com]\n"
		"    users: [alice]\n"
		"    deny: [bad]\n"
		"    geo: {deny_countries: [KP]}\n"
		"    mode: {domain: enforce, user: monitor, iplist: monitor,\n"
		"           geo: 'off', sdp: enforce}\n"
		"  alloff:\n"
		"    domains: [example.com]\n"
		"    users: [alice]\n"
		"    deny: [bad]\n"
		"    geo: {deny_countries: [KP]}\n"
		"    hopping: {country: 3600, identity: from}\n"
		"    mode: {domain: 'off', user: 'off', iplist: 'off', geo: 'off',\n"
		"           sdp: 'off', hopping: 'off', ban: 'off'}\n"
		"  onlydomain:\n"
		"    domains: [example.com]\n"
		"    mode: {user: 'off', iplist: 'off', geo: 'off', sdp: 'off',\n"
		"           hopping: 'off', ban: 'off'}\n"
		"  onlysdp:\n"
		"    deny: [bad]\n"
		"    mode: {domain: 'off', user: 'off', iplist: 'off', geo: 'off',\n"
		"           hopping: 'off', ban: 'off'}\n";

/* monitor, enforce and off per sub-check; no rule; unknown profile */
static void test_modes(void **state)
{
	af_request_t r;

	start(mode_rules);
	/* everything at once */
	r = call_from("127.0.0.3", "u1", "example.com");
	r.ruri_user = S("mallory");
	r.ruri_host = S("evil.com");
	sdp(&r, "10.66.0.1", NULL);
	CHECK(&r, NULL, AF_RC_BLOCK, B_DOMAIN | B_USER | B_CC | B_SDPDENY,
			B_DOMAIN | B_USER | B_CC);
	ALERT(&r, "mon", B_DOMAIN | B_USER | B_CC | B_SDPDENY);
	expect_geo(1, "KP", "AS", 131279);
	CHECK(&r, "mixed", AF_RC_BLOCK, B_DOMAIN | B_USER | B_SDPDENY,
			B_DOMAIN | B_SDPDENY);
	CHECK(&r, "alloff", AF_RC_NORULE, 0, 0);
	/* off: not even looked up */
	expect_geo(0, "", "", 0);
	CHECK(&r, "onlydomain", AF_RC_BLOCK, B_DOMAIN, B_DOMAIN);
	CHECK(&r, "onlysdp", AF_RC_ALERT, B_SDPDENY, 0);
	r.sdp_ip_count = 0;
	CHECK(&r, "onlysdp", AF_RC_NORULE, 0, 0);

	/* one at a time in mixed */
	r = anon("127.0.0.1", "mallory", "example.com");
	ALERT(&r, "mixed", B_USER);
	r = anon("10.66.3.3", "alice", "example.com");
	ALERT(&r, "mixed", B_DENY);
	BLOCK(&r, NULL, B_DENY);
	ALERT(&r, "mon", B_DENY);
	CHECK(&r, "alloff", AF_RC_NORULE, 0, 0);
	r = anon("127.0.0.3", "alice", "example.com");
	OK(&r, "mixed");
	ALERT(&r, "mon", B_CC);

	/* hopping in monitor in both default and mon */
	r = call_from("127.0.0.2", "u2", "example.com");
	OK(&r, "mon");
	r = call_from("127.0.0.6", "u2", "example.com");
	ALERT(&r, "mon", B_CHOP);
	/* alloff never records */
	r = call_from("127.0.0.2", "u3", "example.com");
	CHECK(&r, "alloff", AF_RC_NORULE, 0, 0);
	r = call_from("127.0.0.6", "u3", "example.com");
	OK(&r, NULL);

	/* a ban: refused in enforce, alert in monitor, unseen when off */
	assert_int_equal(af_core_ban("127.0.0.1", 9, 60, NULL, err, sizeof(err)),
			0);
	r = anon("127.0.0.1", "alice", "example.com");
	BLOCK(&r, NULL, B_BANNED);
	ALERT(&r, "mon", B_BANNED);
	CHECK(&r, "alloff", AF_RC_NORULE, 0, 0);
	OK(&r, "onlydomain");

	/* in dialog, only the domain is on: not evaluated */
	r.initial = 0;
	CHECK(&r, "onlydomain", AF_RC_NORULE, 0, 0);
	CHECK(&r, "alloff", AF_RC_NORULE, 0, 0);

	/* profile names */
	r = anon("127.0.0.2", "mallory", "example.com");
	CHECK(&r, "nope", AF_RC_ERROR, 0, 0);
	CHECK(&r, "MON", AF_RC_ERROR, 0, 0);
	CHECK(&r, "mo", AF_RC_ERROR, 0, 0);
	CHECK(&r, "monitor", AF_RC_ERROR, 0, 0);
	/* the name is profile[0..len): "monXYZ" with length 3 is "mon" */
	memset(&vd, 0, sizeof(vd));
	assert_int_equal(af_check_source(&r, "monXYZ", 3, &vd), AF_RC_ALERT);
	expect_at(__LINE__, &vd, AF_RC_ALERT, B_USER, 0);
	assert_int_equal(af_check_source(&r, NULL, 0, &vd), AF_RC_BLOCK);
	expect_at(__LINE__, &vd, AF_RC_BLOCK, B_USER, B_USER);
}

/* the rules with a country to deny, on db */
static void write_country_rules(const char *db, const char *cc)
{
	char body[1024];

	snprintf(body, sizeof(body),
			"scanner: {threshold: 0}\n"
			"profiles:\n"
			"  default:\n"
			"    domains: [example.com]\n"
			"    users: [alice]\n"
			"    geo: {deny_countries: [%s]}\n",
			cc);
	write_rules_db(db, body);
}

/* Copies geo_db2 to a new file, names it in rules denying JP and reloads,
 * then removes the file before any check could open it. */
static void reload_vanishing_db(void)
{
	char cmd[1200], db3[512];
	const char *tmp = getenv("TMPDIR");

	snprintf(db3, sizeof(db3), "%s/src-geo3.mmdb", tmp ? tmp : "/tmp");
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", geo_db2, db3);
	assert_int_equal(system(cmd), 0);
	write_country_rules(db3, "JP");
	assert_int_equal(af_core_reload(err, sizeof(err)), 0);
	assert_int_equal(unlink(db3), 0);
}

/* reload: a bad file keeps the rules, a good one applies */
static void test_reload(void **state)
{
	af_request_t kp = invite("127.0.0.3", "alice", "example.com");
	af_request_t de = invite("127.0.0.2", "alice", "example.com");
	char want[600];
	af_rules_t *held;

	start("scanner: {threshold: 0}\n"
		  "profiles:\n"
		  "  default:\n"
		  "    domains: [example.com]\n"
		  "    users: [alice]\n"
		  "    geo: {deny_countries: [KP]}\n");
	BLOCK(&kp, NULL, B_CC);
	OK(&de, NULL);

	/* a bad file: refused with file:line, the rules stay */
	write_rules("scanner: {threshold: 0}\n"       /* line 5 */
				"profiles:\n"                     /* 6 */
				"  default:\n"                    /* 7 */
				"    domains: [example.com]\n"    /* 8 */
				"    geo: {deny_countries: [DEU]}\n"); /* 9 */
	err[0] = '\0';
	assert_int_equal(af_core_reload(err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:9: ", rules_path);
	if(strncmp(err, want, strlen(want)) != 0 || !strstr(err, "DEU"))
		fail_msg("reload error '%s', want '%s...DEU...'", err, want);
	assert_int_equal(af_core_stat(AF_ST_RELOAD_ERRORS), 1);
	assert_int_equal(af_core_stat(AF_ST_RELOADS), 0);
	BLOCK(&kp, NULL, B_CC);
	OK(&de, NULL);
	/* a YAML syntax error */
	write_rules("profiles:\n  default: {domains: [a\n");
	assert_int_equal(af_core_reload(err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:", rules_path);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	/* a list file with a bad line: named by its own file:line */
	{
		char body[1024], lpath[512];
		const char *p = test_write_file("bad.list", "10.0.0.1\nnot-an-ip\n");

		assert_non_null(p);
		snprintf(lpath, sizeof(lpath), "%s", p);
		snprintf(body, sizeof(body),
				"lists:\n  l: {file: '%s'}\n"
				"profiles:\n  default: {deny: [l]}\n",
				lpath);
		write_rules(body);
		assert_int_equal(af_core_reload(err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s:2: ", lpath);
		if(strncmp(err, want, strlen(want)) != 0)
			fail_msg("reload error '%s', want '%s...'", err, want);
	}
	/* a GeoIP database that is not there */
	write_country_rules("/nonexistent/geo.mmdb", "KP");
	assert_int_equal(af_core_reload(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "geoip"));
	assert_int_equal(af_core_stat(AF_ST_RELOAD_ERRORS), 4);
	BLOCK(&kp, NULL, B_CC);
	OK(&de, NULL);

	/* a good file: DE denied now, KP not; a check in flight keeps its
	 * snapshot until it is done */
	held = af_core_acquire();
	write_country_rules(geo_db, "DE");
	assert_int_equal(af_core_reload(err, sizeof(err)), 0);
	assert_int_equal(af_core_stat(AF_ST_RELOADS), 1);
	OK(&kp, NULL);
	BLOCK(&de, NULL, B_CC);
	assert_non_null(af_rules_profile(held, NULL, 0));
	assert_int_equal(af_rules_profile(held, NULL, 0)->geo.n_deny_cc, 1);
	assert_int_equal(af_rules_profile(held, NULL, 0)->geo.deny_cc[0],
			af_cc_pack("KP"));
	af_core_release(held);

	/* another GeoIP database: reopened for the new rules */
	write_country_rules(geo_db2, "KP");
	assert_int_equal(af_core_reload(err, sizeof(err)), 0);
	OK(&kp, NULL);
	expect_geo(1, "SE", "EU", 1299);
	OK(&de, NULL);
	/* and back */
	write_country_rules(geo_db, "KP");
	assert_int_equal(af_core_reload(err, sizeof(err)), 0);
	BLOCK(&kp, NULL, B_CC);
	expect_geo(1, "KP", "AS", 131279);
	/* a database that goes away between the reload and the next check:
	 * the one opened before stays in use */
	reload_vanishing_db();
	OK(&kp, NULL);
	expect_geo(1, "KP", "AS", 131279);
	kp.src_ip = IP("127.0.0.6");
	BLOCK(&kp, NULL, B_CC);
	kp.src_ip = IP("127.0.0.3");
	/* without GeoIP */
	write_country_rules(NULL, "KP");
	assert_int_equal(af_core_reload(err, sizeof(err)), 0);
	OK(&kp, NULL);
	expect_geo(0, "", "", 0);
	assert_int_equal(af_core_stat(AF_ST_RELOADS), 5);
	assert_int_equal(af_core_stat(AF_ST_RELOAD_ERRORS), 4);
}

/* a core started again (same process) opens its GeoIP afresh */
static void test_geo_after_restart(void **state)
{
	af_request_t r = invite("127.0.0.3", "alice", "example.com");

	write_country_rules(geo_db, "KP");
	start_min(NULL, 0);
	BLOCK(&r, NULL, B_CC);
	/* generation 2 fails to open here: the old database stays */
	reload_vanishing_db();
	OK(&r, NULL);
	expect_geo(1, "KP", "AS", 131279);
	stop();
	assert_int_equal(test_host_shm_live(), shm_base);

	/* a new core: its generation 2 is another snapshot, with a database
	 * that opens */
	write_country_rules(geo_db, "KP");
	start_min(NULL, 0);
	BLOCK(&r, NULL, B_CC);
	write_country_rules(geo_db2, "KP");
	assert_int_equal(af_core_reload(err, sizeof(err)), 0);
	OK(&r, NULL);
	expect_geo(1, "SE", "EU", 1299);
}

/* reloads closer than reload_min_s are refused */
static void test_reload_rate_limit(void **state)
{
	start_min("profiles:\n  default: {}\n", 10);
	assert_int_equal(af_core_reload(err, sizeof(err)), 0);
	test_host_advance(10 * SEC - 1);
	err[0] = '\0';
	assert_int_equal(af_core_reload(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "reload_min_interval"));
	test_host_advance(1);
	assert_int_equal(af_core_reload(err, sizeof(err)), 0);
	assert_int_equal(af_core_reload(err, sizeof(err)), -1);
	assert_int_equal(af_core_stat(AF_ST_RELOADS), 2);
}

/* init refuses bad rules and a missing database, leaving nothing */
static void test_init_errors(void **state)
{
	af_core_cfg_t cfg = {.shm_entries = 1024, .shm_stripes = 4};
	af_request_t r;
	char want[600];

	write_rules("profiles:\n  default: {mode: {geo: maybe}}\n");
	cfg.rules_path = rules_path;
	err[0] = '\0';
	assert_int_equal(af_core_init(&cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:6: ", rules_path);
	if(strncmp(err, want, strlen(want)) != 0 || !strstr(err, "maybe"))
		fail_msg("init error '%s', want '%s...maybe...'", err, want);
	assert_int_equal(test_host_shm_live(), shm_base);
	write_rules_db("/nonexistent/geo.mmdb", "profiles:\n  default: {}\n");
	assert_int_equal(af_core_init(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "geoip"));
	assert_int_equal(test_host_shm_live(), shm_base);
	/* not required: runs without GeoIP, so nothing is unknown to it */
	assert_non_null(test_write_file("rules.yaml",
			"version: 1\n"
			"geoip: {country_db: /nonexistent/geo.mmdb, required: false}\n"
			"profiles:\n"
			"  default: {domains: [example.com], users: [alice],\n"
			"            geo: {unknown: deny}}\n"));
	assert_int_equal(af_core_init(&cfg, err, sizeof(err)), 0);
	core_up = 1;
	r = invite("127.0.0.3", "alice", "example.com");
	OK(&r, NULL);
	expect_geo(0, "", "", 0);
}

/* statistics follow what was checked */
static void test_stats(void **state)
{
	af_request_t r;
	int i;

	start(mode_rules);
	for(i = 0; i < AF_ST__COUNT; i++)
		assert_int_equal(af_core_stat((af_stat_t)i), 0);
	for(i = 0; i < AF_R__COUNT; i++)
		assert_int_equal(af_core_reason_count((af_reason_t)i), 0);
	assert_string_equal(af_stat_name(AF_ST_BAN_REFUSED), "ban_refused");
	assert_string_equal(af_stat_name(AF_ST__COUNT), "unknown");

	r = anon("127.0.0.1", "alice", "example.com");
	OK(&r, NULL);
	OK(&r, NULL);
	OK(&r, "mixed");
	r = anon("127.0.0.1", "mallory", "example.com");
	BLOCK(&r, NULL, B_USER);
	r = anon("127.0.0.3", "mallory", "evil.com");
	BLOCK(&r, NULL, B_DOMAIN | B_USER | B_CC);
	ALERT(&r, "mon", B_DOMAIN | B_USER | B_CC);
	CHECK(&r, "alloff", AF_RC_NORULE, 0, 0);
	CHECK(&r, "nope", AF_RC_ERROR, 0, 0);
	assert_int_equal(af_core_ban("127.0.0.2", 9, 60, NULL, err, sizeof(err)),
			0);
	r = anon("127.0.0.2", "alice", "example.com");
	BLOCK(&r, NULL, B_BANNED);
	ALERT(&r, "mon", B_BANNED);

	assert_int_equal(af_core_stat(AF_ST_CHECKS), 10);
	assert_int_equal(af_core_stat(AF_ST_ALLOWED), 3);
	assert_int_equal(af_core_stat(AF_ST_BLOCKED), 3);
	assert_int_equal(af_core_stat(AF_ST_ALERTS), 2);
	assert_int_equal(af_core_stat(AF_ST_NORULE), 1);
	assert_int_equal(af_core_stat(AF_ST_ERRORS), 1);
	assert_int_equal(af_core_stat(AF_ST_BANS), 1);
	assert_int_equal(af_core_stat(AF_ST_BAN_REFUSED), 1);
	assert_int_equal(af_core_stat(AF_ST_STORE_ERRORS), 0);
	assert_int_equal(af_core_reason_count(AF_R_UNKNOWN_USER), 3);
	assert_int_equal(af_core_reason_count(AF_R_UNKNOWN_DOMAIN), 2);
	assert_int_equal(af_core_reason_count(AF_R_GEO_COUNTRY), 2);
	assert_int_equal(af_core_reason_count(AF_R_BANNED), 2);
	assert_int_equal(af_core_reason_count(AF_R_IP_DENY), 0);
	assert_int_equal(af_core_reason_count(AF_R_SCANNER), 0);
	/* a fresh core starts from zero */
	stop();
	start(mode_rules);
	assert_int_equal(af_core_stat(AF_ST_CHECKS), 0);
	assert_int_equal(af_core_reason_count(AF_R_UNKNOWN_USER), 0);
}

/* housekeeping keeps what is live and drops what expired */
static void test_timer(void **state)
{
	af_request_t r = invite("127.0.0.2", "alice", "example.com");
	af_store_stats_t st;

	start("profiles:\n  default: {domains: [example.com], users: [alice]}\n");
	assert_int_equal(af_core_ban("127.0.0.2", 9, 10, NULL, err, sizeof(err)),
			0);
	af_core_timer();
	af_core_store()->ops->stats(af_core_store(), &st);
	assert_int_equal(st.entries, 1);
	CHECK(&r, NULL, AF_RC_BLOCK, B_BANNED, B_BANNED);
	test_host_advance(10 * SEC);
	af_core_timer();
	af_core_store()->ops->stats(af_core_store(), &st);
	assert_int_equal(st.entries, 0);
	OK(&r, NULL);
}

#define N_THREADS 4
#define N_CHECKS 5000

static const char *const thr_rules_a =
		"lists:\n"
		"  bad: {entries: [10.66.0.0/16, '2001:db8:66::/48']}\n"
		"  trusted: {entries: [198.51.100.0/28]}\n"
		"scanner: {window: 60, threshold: 5, ban_time: 60}\n"
		"profiles:\n"
		"  default:\n"
		"    domains: [example.com, 127.0.0.1]\n"
		"    users: [alice, bob]\n"
		"    user_patterns: ['^1[0-9]{3}$']\n"
		"    trusted: [trusted]\n"
		"    routable: '^\\+?[0-9]{6,15}$'\n"
		"    deny: [bad]\n"
		"    geo: {deny_countries: [KP]}\n"
		"    hopping: {country: 3600, continent: 7200, identity: from}\n"
		"  alt:\n"
		"    domains: [example.com]\n"
		"    users: [alice]\n"
		"    mode: {user: monitor, ban: monitor, sdp: enforce}\n";

static const char *const thr_rules_b =
		"lists:\n"
		"  bad: {entries: [10.66.0.0/16]}\n"
		"scanner: {window: 30, threshold: 3, ban_time: 30}\n"
		"profiles:\n"
		"  default:\n"
		"    domains: [example.com]\n"
		"    users: [alice]\n"
		"    deny: [bad]\n"
		"    geo: {deny_countries: [DE], allow_continents: [EU, AS, NA]}\n"
		"    hopping: {country: 600, identity: from}\n"
		"  alt:\n"
		"    mode: {domain: 'off', user: 'off', iplist: 'off', geo: 'off',\n"
		"           sdp: 'off', hopping: 'off', ban: 'off'}\n";

typedef struct thr_arg {
	int id;
	int bad;        /* checks with an invalid result */
	long by_rc[5];  /* -2..2 */
} thr_arg_t;

static volatile int thr_stop;

/*
 * Checker threads stand for Kamailio worker processes: they keep their
 * per-process state (GeoIP handle, PCRE2 match data, both thread-local
 * here) until the process ends. So they do not exit when done: they say
 * so and wait, and leak checks at exit see that state as in use.
 */
static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
static int parked;

static void park(void)
{
	pthread_mutex_lock(&park_mu);
	parked++;
	pthread_cond_broadcast(&park_cv);
	for(;;)
		pthread_cond_wait(&park_cv, &park_mu);
}

/* waits until n threads are parked */
static void wait_parked(int n)
{
	pthread_mutex_lock(&park_mu);
	while(parked < n)
		pthread_cond_wait(&park_cv, &park_mu);
	pthread_mutex_unlock(&park_mu);
}

/* is v a consistent verdict with return code rc? */
static int verdict_valid(int rc, const af_verdict_t *v)
{
	if(rc != v->rc || (v->blocking & ~v->reasons))
		return 0;
	switch(rc) {
		case AF_RC_BLOCK:
			return v->blocking != 0;
		case AF_RC_ALERT:
			return v->reasons != 0 && v->blocking == 0;
		case AF_RC_ALLOW:
		case AF_RC_NORULE:
			return v->reasons == 0;
		default:
			return 0;
	}
}

/*
 * Request k of a thread's mix: scanners from many sources, calls and
 * registrations of real users from several countries (hopping), keepalives,
 * in-dialog requests, calls through a trunk with SDP, another profile.
 */
static af_request_t thr_request(int k, int id, char *src, char *caller,
		const char **profile)
{
	af_request_t r;

	*profile = NULL;
	snprintf(caller, 32, "c%d", k % 17);
	switch(k % 8) {
		case 0:
		case 1: /* scanners: unknown users and domains, ~5 tries a source */
			snprintf(src, AF_IP_STRLEN, "10.77.%d.%d", (k / 8) % 200, id);
			r = mkreq(AF_M_INVITE, src, k % 2 ? "100" : "mallory",
					k % 3 ? "127.0.0.1" : "evil.com", "sipvicious",
					"evil.com");
			break;
		case 2:
			r = mkreq(AF_M_INVITE, "127.0.0.1", "alice", "example.com",
					caller, "example.com");
			sdp(&r, "127.0.0.1", NULL);
			break;
		case 3:
			r = mkreq(AF_M_REGISTER, "::1", NULL, "example.com", caller,
					"example.com");
			r.to_user = S(k % 3 ? "bob" : "alice");
			r.auth_user = S(caller);
			break;
		case 4:
			r = mkreq(AF_M_OPTIONS, "198.51.100.3", NULL, "example.com",
					NULL, "example.com");
			break;
		case 5:
			r = mkreq(AF_M_BYE, "127.0.0.5", "alice", "192.0.2.7", caller,
					"example.com");
			r.initial = 0;
			break;
		case 6:
			r = mkreq(AF_M_INVITE, "198.51.100.3", "+4930123456",
					"example.com", caller, "trunk.example.net");
			sdp(&r, "10.66.1.1", k % 3 ? "127.0.0.2" : "127.0.0.3", NULL);
			*profile = "alt";
			break;
		default: /* the same callers from Japan and Germany */
			r = mkreq(AF_M_INVITE, k % 3 ? "127.0.0.6" : "127.0.0.2",
					"alice", "example.com", caller, "example.com");
			break;
	}
	return r;
}

static void *thr_check(void *p)
{
	thr_arg_t *a = p;
	af_request_t r;
	af_verdict_t v;
	char src[AF_IP_STRLEN], caller[32];
	const char *profile;
	int i, rc;

	for(i = 0; i < N_CHECKS; i++) {
		r = thr_request(i + 5 * a->id, a->id, src, caller, &profile);
		rc = af_check_source(
				&r, profile, profile ? strlen(profile) : 0, &v);
		if(!verdict_valid(rc, &v))
			a->bad++;
		else
			a->by_rc[rc + 2]++;
	}
	park();
	return a;
}

typedef struct reload_arg {
	int ok, failed;
	char err[512];
} reload_arg_t;

static void *thr_reload(void *p)
{
	reload_arg_t *a = p;
	char text[4096];
	const char *tmp;
	int n = 0;

	while(!__atomic_load_n(&thr_stop, __ATOMIC_ACQUIRE)) {
		snprintf(text, sizeof(text),
				"version: 1\ngeoip:\n  country_db: '%s'\n  asn_db: '%s'\n%s",
				n % 2 ? geo_db2 : geo_db, n % 2 ? geo_db2 : geo_db,
				n % 3 ? thr_rules_a : thr_rules_b);
		n++;
		/* replaced atomically, as an operator would */
		tmp = test_write_file("rules.new", text);
		if(!tmp || rename(tmp, rules_path) != 0) {
			a->failed++;
			continue;
		}
		if(af_core_reload(a->err, sizeof(a->err)) == 0)
			a->ok++;
		else
			a->failed++;
	}
	return a;
}

/* checks from 4 threads while another reloads the rules */
static void test_threads(void **state)
{
	pthread_t t[N_THREADS], rt;
	thr_arg_t a[N_THREADS];
	reload_arg_t ra;
	long total = 0;
	int i, j;

	start(thr_rules_a);
	memset(&ra, 0, sizeof(ra));
	thr_stop = 0;
	assert_int_equal(pthread_create(&rt, NULL, thr_reload, &ra), 0);
	for(i = 0; i < N_THREADS; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, thr_check, &a[i]), 0);
		assert_int_equal(pthread_detach(t[i]), 0);
	}
	wait_parked(N_THREADS);
	__atomic_store_n(&thr_stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(rt, NULL), 0);
	if(ra.failed)
		fail_msg("%d reloads failed: %s", ra.failed, ra.err);
	assert_true(ra.ok > 0);
	for(i = 0; i < N_THREADS; i++) {
		assert_int_equal(a[i].bad, 0);
		for(j = 0; j < 5; j++)
			total += a[i].by_rc[j];
	}
	assert_int_equal(total, N_THREADS * N_CHECKS);
	assert_int_equal(af_core_stat(AF_ST_CHECKS), N_THREADS * N_CHECKS);
	assert_int_equal(af_core_stat(AF_ST_ERRORS), 0);
	assert_int_equal(af_core_stat(AF_ST_RELOADS), (uint64_t)ra.ok);
	assert_int_equal(af_core_stat(AF_ST_ALLOWED) + af_core_stat(AF_ST_NORULE)
					+ af_core_stat(AF_ST_ALERTS)
					+ af_core_stat(AF_ST_BLOCKED),
			N_THREADS * N_CHECKS);
	/* blocks, alerts and passes all happened */
	assert_true(af_core_stat(AF_ST_BLOCKED) > 0);
	assert_true(af_core_stat(AF_ST_ALERTS) > 0);
	assert_true(af_core_stat(AF_ST_ALLOWED) > 0);
	assert_true(af_core_stat(AF_ST_BANS) > 0);
}

/* builds the GeoIP databases once */
static int group_setup(void **state)
{
	const char *map2;

	test_host_init();
	if(build_db("test/data/geo.map", geo_db, sizeof(geo_db), "src-geo.mmdb")
			< 0)
		return -1;
	map2 = test_write_file("geo2.map",
			"127.0.0.1/32 US NA 64500\n"
			"127.0.0.2/32 DE EU 3320\n"
			"127.0.0.3/32 SE EU 1299\n"
			"127.0.0.6/32 JP AS 2516\n");
	if(!map2
			|| build_db(map2, geo_db2, sizeof(geo_db2), "src-geo2.mmdb") < 0)
		return -1;
	return 0;
}

/*
 * Cluster mode's memory of sources found not banned (af_core_clear_*):
 * an answer holds a second; a minute while the events subscriber is
 * live and no ban of its slot nor a new subscription was heard since its
 * lookup; a ban heard while a lookup runs keeps its answer out.
 */
static void test_clear_memory(void **state)
{
	const uint64_t t = 1700000000000ULL;
	uint64_t tok, tok2;

	start("profiles:\n  default:\n    domains: [example.com]\n");
#define CLEAR(k) af_core_clear_set(k, strlen(k), t, \
		af_core_clear_token(k, strlen(k)), 1)
#define CACHED(k, at) af_core_clear_cached(k, strlen(k), at)
	/* no subscriber: a second */
	CLEAR("192.0.2.1");
	assert_true(CACHED("192.0.2.1", t + 999));
	assert_false(CACHED("192.0.2.1", t + 1000));
	assert_false(CACHED("192.0.2.2", t + 10));
	assert_false(CACHED("192.0.2.1", t - 1)); /* the clock went back */
	/* a live subscriber: a minute, not past its liveness */
	af_core_events_alive(t + 120000, 1);
	CLEAR("192.0.2.1");
	CLEAR("192.0.2.2");
	assert_true(CACHED("192.0.2.1", t + 59999));
	assert_false(CACHED("192.0.2.1", t + 60000));
	af_core_events_alive(t + 5000, 0);
	assert_true(CACHED("192.0.2.1", t + 4999));
	assert_false(CACHED("192.0.2.1", t + 5000));
	assert_true(CACHED("192.0.2.1", t + 999)); /* the second holds */
	af_core_events_alive(t + 120000, 0);
	/* a ban heard of: that source at once (inside its second too), the
	 * other ones of its slot past their second, other slots not */
	af_core_ban_heard("192.0.2.1", 9);
	assert_false(CACHED("192.0.2.1", t + 10));
	assert_true(CACHED("192.0.2.2", t + 30000));
	/* a new subscription: every answer past its second */
	af_core_events_alive(t + 120000, 1);
	assert_true(CACHED("192.0.2.2", t + 999));
	assert_false(CACHED("192.0.2.2", t + 1000));
	/* a ban heard while the lookup ran: its "clear" is not kept */
	tok = af_core_clear_token("192.0.2.3", 9);
	af_core_ban_heard("192.0.2.3", 9);
	af_core_clear_set("192.0.2.3", 9, t, tok, 1);
	assert_false(CACHED("192.0.2.3", t + 10));
	tok2 = af_core_clear_token("192.0.2.3", 9);
	assert_true(tok2 != tok);
	af_core_clear_set("192.0.2.3", 9, t, tok2, 1);
	assert_true(CACHED("192.0.2.3", t + 30000));
	/* forgotten (its ban found) */
	af_core_clear_set("192.0.2.3", 9, t, 0, 0);
	assert_false(CACHED("192.0.2.3", t + 10));
	/* a subscriber that stopped: its sources hold a second again */
	CLEAR("192.0.2.4");
	af_core_events_alive(0, 0);
	assert_true(CACHED("192.0.2.4", t + 999));
	assert_false(CACHED("192.0.2.4", t + 1000));
#undef CLEAR
#undef CACHED
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
			T(test_known_domain_user),
			T(test_ip_literal_domains),
			T(test_register_options_in_dialog),
			T(test_routable),
			T(test_allow_deny),
			T(test_exempt),
			T(test_geo),
			T(test_sdp),
			T(test_scanner_ban),
			T(test_scanner_window),
			T(test_manual_ban),
			T(test_manual_ban_refusals),
			T(test_ban_modes),
		T(test_hopping_identity),
		T(test_hopping),
			T(test_modes),
			T(test_reload),
			T(test_geo_after_restart),
			T(test_reload_rate_limit),
			T(test_init_errors),
			T(test_stats),
			T(test_timer),
			T(test_threads),
			T(test_clear_memory),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
