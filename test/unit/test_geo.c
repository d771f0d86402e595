/*
 * antifraud unit tests - GeoIP lookups (af_geo.c) on databases built at
 * run time from test/data/geo.map by test/data/mkgeo.pl.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "af_geo.h"
#include "host.h"

static char db_path[512];      /* country + ASN, from geo.map */
static char asn_path[512];     /* ASN only, from asn.map */
static char noasn_path[512];   /* country only, no ASN data */

/*
 * Builds out from the map file with mkgeo.pl (opts: "" or "--asn ").
 * Returns 0 or -1.
 */
static int build_db(const char *opts, const char *map, char *out,
		size_t outlen, const char *name)
{
	char cmd[1536];
	const char *tmp = getenv("TMPDIR");

	snprintf(out, outlen, "%s/%s", tmp ? tmp : "/tmp", name);
	snprintf(cmd, sizeof(cmd), "perl test/data/mkgeo.pl %s'%s' '%s'", opts,
			out, map);
	return system(cmd) == 0 ? 0 : -1;
}

/* fills ip from text, as IPv4 or IPv6 as written */
static af_ip_t mkip(const char *s)
{
	af_ip_t ip;

	memset(&ip, 0, sizeof(ip));
	if(inet_pton(AF_INET, s, ip.addr) == 1)
		ip.family = 4;
	else if(inet_pton(AF_INET6, s, ip.addr) == 1)
		ip.family = 6;
	else
		fail_msg("bad address in test: %s", s);
	return ip;
}

/* looks s up in g, checking the result against the expected values */
static void expect(af_geo_t *g, const char *s, int found, const char *cc,
		const char *cont, uint32_t asn)
{
	af_ip_t ip = mkip(s);
	af_geo_info_t gi;

	memset(&gi, 0xa5, sizeof(gi));
	assert_int_equal(af_geo_lookup(g, &ip, &gi), 0);
	if(gi.found != found || strcmp(gi.country, cc) != 0
			|| strcmp(gi.continent, cont) != 0 || gi.asn != asn)
		fail_msg("%s: got found=%d %s %s %u, want found=%d %s %s %u", s,
				gi.found, gi.country, gi.continent, gi.asn, found, cc, cont,
				asn);
}

/* builds the databases once for the whole group */
static int group_setup(void **state)
{
	const char *asn_map, *noasn_map;

	test_host_init();
	if(build_db("", "test/data/geo.map", db_path, sizeof(db_path),
			   "geo.mmdb")
			< 0)
		return -1;
	asn_map = test_write_file("asn.map", "# CIDR CC CONT ASN\n"
										 "127.0.0.2/32 XX XX 65002\n"
										 "127.0.0.9/32 XX XX 65009\n"
										 "2001:db8::/32 XX XX 65008\n");
	if(!asn_map
			|| build_db("--asn ", asn_map, asn_path, sizeof(asn_path),
					   "asn.mmdb")
					   < 0)
		return -1;
	noasn_map = test_write_file("noasn.map", "127.0.0.2/32 DE EU -\n"
											 "::1 US NA 0\n");
	if(!noasn_map
			|| build_db("", noasn_map, noasn_path, sizeof(noasn_path),
					   "noasn.mmdb")
					   < 0)
		return -1;
	return 0;
}

static void test_mapped_v4(void **state)
{
	char err[256];
	af_geo_t *g = af_geo_open(db_path, NULL, err, sizeof(err));

	assert_non_null(g);
	expect(g, "127.0.0.1", 1, "US", "NA", 64500);
	expect(g, "127.0.0.2", 1, "DE", "EU", 3320);
	expect(g, "127.0.0.3", 1, "KP", "AS", 131279);
	expect(g, "127.0.0.4", 1, "BR", "SA", 28573);
	expect(g, "127.0.0.5", 1, "FR", "EU", 3215);
	expect(g, "127.0.0.6", 1, "JP", "AS", 2516);
	expect(g, "198.51.100.0", 1, "CN", "AS", 4134);
	expect(g, "198.51.100.77", 1, "CN", "AS", 4134);
	expect(g, "198.51.100.255", 1, "CN", "AS", 4134);
	af_geo_close(g);
}

static void test_mapped_v6(void **state)
{
	char err[256];
	af_geo_t *g = af_geo_open(db_path, NULL, err, sizeof(err));

	assert_non_null(g);
	expect(g, "::1", 1, "US", "NA", 64500);
	expect(g, "2001:db8::", 1, "NL", "EU", 1136);
	expect(g, "2001:db8::1", 1, "NL", "EU", 1136);
	expect(g, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 1, "NL", "EU", 1136);
	af_geo_close(g);
}

/* IPv4 addresses written as IPv4-mapped IPv6 find the IPv4 entries */
static void test_v4_mapped_v6(void **state)
{
	char err[256];
	af_geo_t *g = af_geo_open(db_path, NULL, err, sizeof(err));

	assert_non_null(g);
	expect(g, "::ffff:127.0.0.2", 1, "DE", "EU", 3320);
	expect(g, "::ffff:127.0.0.6", 1, "JP", "AS", 2516);
	expect(g, "::ffff:198.51.100.9", 1, "CN", "AS", 4134);
	expect(g, "::ffff:127.0.0.9", 0, "", "", 0);
	af_geo_close(g);
}

static void test_unmapped(void **state)
{
	char err[256];
	af_geo_t *g = af_geo_open(db_path, NULL, err, sizeof(err));

	assert_non_null(g);
	expect(g, "127.0.0.7", 0, "", "", 0);
	expect(g, "127.0.0.0", 0, "", "", 0);
	expect(g, "10.0.0.1", 0, "", "", 0);
	expect(g, "198.51.101.1", 0, "", "", 0);
	expect(g, "255.255.255.255", 0, "", "", 0);
	expect(g, "::2", 0, "", "", 0);
	expect(g, "2001:db9::1", 0, "", "", 0);
	expect(g, "fe80::1", 0, "", "", 0);
	af_geo_close(g);
}

static void test_bad_args(void **state)
{
	char err[256];
	af_geo_t *g = af_geo_open(db_path, NULL, err, sizeof(err));
	af_ip_t ip;
	af_geo_info_t gi;

	assert_non_null(g);
	memset(&ip, 0, sizeof(ip));
	memset(&gi, 0xa5, sizeof(gi));
	assert_int_equal(af_geo_lookup(g, &ip, &gi), -1);
	assert_int_equal(gi.found, 0);
	assert_string_equal(gi.country, "");
	ip = mkip("127.0.0.2");
	memset(&gi, 0xa5, sizeof(gi));
	assert_int_equal(af_geo_lookup(NULL, &ip, &gi), -1);
	assert_int_equal(gi.asn, 0);
	af_geo_close(g);

	err[0] = 'x';
	assert_null(af_geo_open(NULL, NULL, err, sizeof(err)));
	assert_true(err[0] != '\0' && err[0] != 'x');
	assert_null(af_geo_open("", "", err, sizeof(err)));
}

static void test_missing_file(void **state)
{
	char err[256];
	const char *path = "/nonexistent/af-test/GeoLite2-Country.mmdb";

	assert_null(af_geo_open(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));

	/* a good country db and a missing ASN db fail as a whole */
	assert_null(af_geo_open(db_path, path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "ASN"));

	/* a tiny error buffer is not overrun and stays terminated */
	assert_null(af_geo_open(path, NULL, err, 8));
	assert_int_equal(strlen(err), 7);
}

static void test_not_mmdb(void **state)
{
	char err[256];
	const char *path;

	path = test_write_file("text.mmdb", "this is not a MaxMind DB file\n");
	assert_non_null(path);
	assert_null(af_geo_open(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not a MaxMind DB file"));

	path = test_write_file("empty.mmdb", "");
	assert_non_null(path);
	assert_null(af_geo_open(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not a MaxMind DB file"));

	assert_null(af_geo_open("test/data", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "'test/data': "));
	assert_non_null(strstr(err, "directory"));

	/* the map file itself, given by mistake */
	assert_null(af_geo_open(NULL, "test/data/geo.map", err, sizeof(err)));
	assert_non_null(strstr(err, "test/data/geo.map"));
	assert_non_null(strstr(err, "not a MaxMind DB file"));
}

/* an ASN database is no country database, and the reverse */
static void test_wrong_type(void **state)
{
	char err[256];

	assert_null(af_geo_open(asn_path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, asn_path));
	assert_non_null(strstr(err, "GeoLite2-ASN"));
	assert_non_null(strstr(err, "country"));

	assert_null(af_geo_open(NULL, noasn_path, err, sizeof(err)));
	assert_non_null(strstr(err, noasn_path));
	assert_non_null(strstr(err, "autonomous_system_number"));

	assert_null(af_geo_open(noasn_path, noasn_path, err, sizeof(err)));
	assert_non_null(strstr(err, noasn_path));
	assert_non_null(strstr(err, "ASN"));
}

/* the AS number comes from the separate ASN db when there is one */
static void test_separate_asn_db(void **state)
{
	char err[256];
	af_geo_t *g = af_geo_open(db_path, asn_path, err, sizeof(err));

	if(!g)
		fail_msg("open: %s", err);
	expect(g, "127.0.0.2", 1, "DE", "EU", 65002);
	expect(g, "127.0.0.1", 1, "US", "NA", 0);
	expect(g, "127.0.0.9", 0, "", "", 65009);
	expect(g, "2001:db8::42", 1, "NL", "EU", 65008);
	expect(g, "::ffff:127.0.0.2", 1, "DE", "EU", 65002);
	expect(g, "10.0.0.1", 0, "", "", 0);
	af_geo_close(g);

	/* an ASN db alone */
	g = af_geo_open(NULL, asn_path, err, sizeof(err));
	if(!g)
		fail_msg("open: %s", err);
	expect(g, "127.0.0.2", 0, "", "", 65002);
	expect(g, "127.0.0.1", 0, "", "", 0);
	af_geo_close(g);

	/* a country db without AS numbers, and a separate ASN db */
	g = af_geo_open(noasn_path, asn_path, err, sizeof(err));
	if(!g)
		fail_msg("open: %s", err);
	expect(g, "127.0.0.2", 1, "DE", "EU", 65002);
	expect(g, "::1", 1, "US", "NA", 0);
	af_geo_close(g);
}

/* one file as both, by the same path: opened once */
static void test_same_file_both(void **state)
{
	char err[256];
	af_geo_t *g = af_geo_open(db_path, db_path, err, sizeof(err));

	if(!g)
		fail_msg("open: %s", err);
	expect(g, "127.0.0.3", 1, "KP", "AS", 131279);
	expect(g, "2001:db8::1", 1, "NL", "EU", 1136);
	expect(g, "127.0.0.8", 0, "", "", 0);
	af_geo_close(g);

	/* a country db without AS numbers yields none */
	g = af_geo_open(noasn_path, NULL, err, sizeof(err));
	if(!g)
		fail_msg("open: %s", err);
	expect(g, "127.0.0.2", 1, "DE", "EU", 0);
	af_geo_close(g);
}

static void test_close_null(void **state)
{
	af_geo_close(NULL);
}

/* a reload opens the new handle before closing the old one */
static void test_reopen(void **state)
{
	char err[256];
	af_geo_t *a, *b;
	int i;

	a = af_geo_open(db_path, NULL, err, sizeof(err));
	assert_non_null(a);
	b = af_geo_open(db_path, asn_path, err, sizeof(err));
	assert_non_null(b);
	expect(a, "127.0.0.2", 1, "DE", "EU", 3320);
	af_geo_close(a);
	expect(b, "127.0.0.2", 1, "DE", "EU", 65002);
	af_geo_close(b);
	for(i = 0; i < 20; i++) {
		a = af_geo_open(db_path, NULL, err, sizeof(err));
		assert_non_null(a);
		expect(a, "127.0.0.4", 1, "BR", "SA", 28573);
		af_geo_close(a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_mapped_v4),
			cmocka_unit_test(test_mapped_v6),
			cmocka_unit_test(test_v4_mapped_v6),
			cmocka_unit_test(test_unmapped),
			cmocka_unit_test(test_bad_args),
			cmocka_unit_test(test_missing_file),
			cmocka_unit_test(test_not_mmdb),
			cmocka_unit_test(test_wrong_type),
			cmocka_unit_test(test_separate_asn_db),
			cmocka_unit_test(test_same_file_both),
			cmocka_unit_test(test_close_null),
			cmocka_unit_test(test_reopen),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
