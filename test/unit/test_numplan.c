/*
 * antifraud unit tests - the number plan (loading, longest-prefix lookups,
 * overlays, file errors), dialplans and the normalization of dialed
 * numbers into E.164.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "af_numplan.h"
#include "af_arena.h"
#include "host.h"

#define PLAN "etc/antifraud-numplan.csv"
#define HIGHRISK "etc/antifraud-highrisk.csv"

/* the default plan, loaded once for the whole group */
static af_arena_t *plan_arena;
static af_numplan_t *plan;
static double plan_load_ms;
static size_t plan_bytes;

/* monotonic clock in nanoseconds */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* loads the default plan once, timing it */
static int group_setup(void **state)
{
	char err[512];
	uint64_t t0;

	plan_arena = af_arena_new(0);
	if(!plan_arena)
		return -1;
	t0 = now_ns();
	plan = af_numplan_load(plan_arena, PLAN, NULL, 0, err, sizeof(err));
	plan_load_ms = (double)(now_ns() - t0) / 1e6;
	if(!plan) {
		fprintf(stderr, "cannot load %s: %s\n", PLAN, err);
		return -1;
	}
	plan_bytes = af_arena_size(plan_arena);
	return 0;
}

static int group_teardown(void **state)
{
	af_arena_free(plan_arena);
	return 0;
}

/* counts the regions np has dialing data for */
static int count_regions(const af_numplan_t *np)
{
	char r[3] = {0, 0, 0};
	int n = 0;

	for(r[0] = 'A'; r[0] <= 'Z'; r[0]++) {
		for(r[1] = 'A'; r[1] <= 'Z'; r[1]++) {
			if(af_numplan_dialing(np, r))
				n++;
		}
	}
	return n;
}

static void test_class_names(void **state)
{
	int i;
	const char *name;

	for(i = 0; i < AF_NC__COUNT; i++) {
		name = af_numclass_name((af_numclass_t)i);
		assert_non_null(name);
		assert_int_equal(af_numclass_parse(name, strlen(name)), i);
	}
	assert_string_equal(af_numclass_name(AF_NC_UNKNOWN), "unknown");
	assert_string_equal(af_numclass_name(AF_NC_SHARED_COST), "shared_cost");
	assert_string_equal(af_numclass_name(AF_NC_TOLL_FREE), "toll_free");
	assert_string_equal(af_numclass_name(AF_NC_INTERNATIONAL),
			"international");
	assert_string_equal(af_numclass_name(AF_NC_SHORT), "short");
	assert_string_equal(af_numclass_name(AF_NC__COUNT), "unknown");
	assert_string_equal(af_numclass_name((af_numclass_t)200), "unknown");
	/* not NUL-terminated: only len counts */
	assert_int_equal(af_numclass_parse("premiumXYZ", 7), AF_NC_PREMIUM);
	assert_int_equal(af_numclass_parse("premium", 6), -1);
	assert_int_equal(af_numclass_parse("Premium", 7), -1);
	assert_int_equal(af_numclass_parse("", 0), -1);
	assert_int_equal(af_numclass_parse("tollfree", 8), -1);
	assert_int_equal(af_numclass_parse(NULL, 0), -1);
}

static void test_default_plan(void **state)
{
	const af_dialing_t *d;

	/* the generated file's header says 9984 rows */
	assert_int_equal(af_numplan_rows(plan), 9984);
	/* 246 '# dialing:' lines, one of them the header's REGION CC ... */
	assert_int_equal(count_regions(plan), 245);

	d = af_numplan_dialing(plan, "DE");
	assert_non_null(d);
	assert_string_equal(d->region, "DE");
	assert_string_equal(d->cc, "49");
	assert_string_equal(d->national_prefix, "0");
	assert_string_equal(d->intl_prefix, "00");
	d = af_numplan_dialing(plan, "IT");
	assert_non_null(d);
	assert_string_equal(d->national_prefix, "");
	d = af_numplan_dialing(plan, "US");
	assert_string_equal(d->cc, "1");
	assert_string_equal(d->national_prefix, "1");
	assert_string_equal(d->intl_prefix, "011");
	d = af_numplan_dialing(plan, "RU");
	assert_string_equal(d->intl_prefix, "8~10");
	d = af_numplan_dialing(plan, "BR");
	assert_string_equal(d->intl_prefix,
			"00(?:1[245]|2[1-35]|31|4[13]|[56]5|99)");
	d = af_numplan_dialing(plan, "HU");
	assert_string_equal(d->national_prefix, "06");
	d = af_numplan_dialing(plan, "ZW");
	assert_non_null(d);
	d = af_numplan_dialing(plan, "AA");
	assert_null(d);
	assert_null(af_numplan_dialing(plan, "de"));
	assert_null(af_numplan_dialing(plan, "D"));
	assert_null(af_numplan_dialing(plan, "DEU"));
	assert_null(af_numplan_dialing(plan, NULL));
	assert_null(af_numplan_dialing(NULL, "DE"));
	assert_int_equal(af_numplan_rows(NULL), 0);
}

typedef struct lookup_case {
	const char *digits;
	const char *country;
	const char *zone;
	af_numclass_t cls;
	int risk;
	int prefix_len;
} lookup_case_t;

/* checks one expected lookup on np */
static void check_lookup(const af_numplan_t *np, const lookup_case_t *c,
		int overlay)
{
	af_numinfo_t info;
	int found;

	found = af_numplan_lookup(np, c->digits, strlen(c->digits), &info);
	if(!found || strcmp(info.country, c->country) != 0
			|| strcmp(info.zone, c->zone) != 0 || info.cls != c->cls
			|| info.risk != c->risk || info.prefix_len != c->prefix_len
			|| info.overlay != overlay)
		fail_msg("%s: got %d %s %s %s risk %d len %d overlay %d", c->digits,
				found, info.country, info.zone,
				af_numclass_name((af_numclass_t)info.cls), info.risk,
				info.prefix_len, info.overlay);
}

static void test_lookup_default(void **state)
{
	static const lookup_case_t cases[] = {
			/* Germany: 0900 premium, Berlin fixed, mobiles */
			{"49900123456", "DE", "EU", AF_NC_PREMIUM, 3, 5},
			{"4930123456", "DE", "EU", AF_NC_FIXED, 0, 3},
			{"491721234567", "DE", "EU", AF_NC_MOBILE, 1, 3},
			{"49800123456", "DE", "EU", AF_NC_TOLL_FREE, 0, 5},
			{"491377123456", "DE", "EU", AF_NC_PREMIUM, 3, 6},
			{"49", "DE", "EU", AF_NC_UNKNOWN, 2, 2},
			/* UK: 09 premium, London fixed, 070 personal */
			{"449091234567", "GB", "EU", AF_NC_PREMIUM, 3, 3},
			{"442079460000", "GB", "EU", AF_NC_FIXED, 0, 3},
			{"447012345678", "GB", "EU", AF_NC_PERSONAL, 3, 4},
			{"447700900123", "GB", "EU", AF_NC_MOBILE, 1, 3},
			{"441481123456", "GG", "EU", AF_NC_FIXED, 0, 6},
			/* NANP: Jamaica has its own region, zone NA */
			{"18765550123", "JM", "NA", AF_NC_MOBILE, 1, 4},
			{"18766123456", "JM", "NA", AF_NC_FIXED, 0, 5},
			{"12125551234", "US", "NA", AF_NC_FIXED, 0, 2},
			/* non-geographic codes */
			{"881612345678", "XN", "XN", AF_NC_SATELLITE, 3, 3},
			{"870123456789", "XN", "XN", AF_NC_SATELLITE, 3, 3},
			{"882161234567", "XN", "XN", AF_NC_INTERNATIONAL, 3, 3},
			{"88312345678", "XN", "XN", AF_NC_INTERNATIONAL, 3, 3},
			{"80012345678", "XN", "XN", AF_NC_TOLL_FREE, 0, 3},
			{"979123456789", "XN", "XN", AF_NC_PREMIUM, 3, 3},
			/* others */
			{"390612345678", "IT", "EU", AF_NC_FIXED, 0, 3},
			{"393123456789", "IT", "EU", AF_NC_MOBILE, 1, 3},
			{"61412345678", "AU", "OC", AF_NC_MOBILE, 1, 3},
			{"5511987654321", "BR", "SA", AF_NC_MOBILE, 1, 5},
			{"819012345678", "JP", "AS", AF_NC_MOBILE, 1, 4},
	};
	af_numinfo_t info;
	size_t i;

	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_lookup(plan, &cases[i], 0);

	/* no row: out is zeroed */
	memset(&info, 0x55, sizeof(info));
	assert_int_equal(af_numplan_lookup(plan, "2812345", 7, &info), 0);
	assert_int_equal(info.prefix_len, 0);
	assert_int_equal(info.country[0], 0);
	assert_int_equal(af_numplan_lookup(plan, "0301234567", 10, &info), 0);
	assert_int_equal(af_numplan_lookup(plan, "", 0, &info), 0);
	assert_int_equal(af_numplan_lookup(plan, "+4930", 5, &info), 0);
	assert_int_equal(af_numplan_lookup(NULL, "4930", 4, &info), 0);
	/* only len counts: "49900" with len 2 is just +49 */
	assert_int_equal(af_numplan_lookup(plan, "49900", 2, &info), 1);
	assert_int_equal(info.cls, AF_NC_UNKNOWN);
	assert_int_equal(info.prefix_len, 2);
	/* a non-digit ends the number */
	assert_int_equal(af_numplan_lookup(plan, "49900x", 6, &info), 1);
	assert_int_equal(info.cls, AF_NC_PREMIUM);
	/* longer than 15 digits: the first 15 are looked at */
	assert_int_equal(
			af_numplan_lookup(plan, "4990012345678901234", 19, &info), 1);
	assert_int_equal(info.cls, AF_NC_PREMIUM);
}

static void test_overlay(void **state)
{
	static const lookup_case_t with_sample[] = {
			/* the sample names the +881 networks: the overlay row wins */
			{"881612345678", "XN", "XN", AF_NC_SATELLITE, 3, 4},
			{"88216123456", "XN", "XN", AF_NC_SATELLITE, 3, 5},
			/* Ofcom's drama range raised to risk 3 */
			{"447700900123", "GB", "EU", AF_NC_MOBILE, 3, 9},
	};
	static const lookup_case_t plan_only[] = {
			{"881512345678", "XN", "XN", AF_NC_SATELLITE, 3, 3},
			{"88217123456", "XN", "XN", AF_NC_INTERNATIONAL, 3, 3},
			{"447700123456", "GB", "EU", AF_NC_MOBILE, 1, 3},
	};
	static const lookup_case_t local[] = {
			/* a whole country at risk 0 beats +49 900 premium (5 digits) */
			{"49900123456", "DE", "EU", AF_NC_FIXED, 0, 2},
			{"4930123456", "DE", "EU", AF_NC_FIXED, 0, 2},
			/* raised above the plan */
			{"442079460000", "GB", "EU", AF_NC_PREMIUM, 3, 4},
			/* the second overlay redefines +43 of the first */
			{"43123456", "AT", "EU", AF_NC_MOBILE, 1, 2},
			/* overlay-only prefix */
			{"2812345", "ZZ", "XN", AF_NC_SPECIAL, 2, 2},
	};
	const char *ov[3];
	char err[512], p1[512], p2[512];
	af_arena_t *a;
	af_numplan_t *np;
	size_t i;

	a = af_arena_new(0);
	ov[0] = HIGHRISK;
	np = af_numplan_load(a, PLAN, ov, 1, err, sizeof(err));
	assert_non_null(np);
	/* 9984 plan rows + 6 sample rows */
	assert_int_equal(af_numplan_rows(np), 9984 + 6);
	for(i = 0; i < sizeof(with_sample) / sizeof(with_sample[0]); i++)
		check_lookup(np, &with_sample[i], 1);
	for(i = 0; i < sizeof(plan_only) / sizeof(plan_only[0]); i++)
		check_lookup(np, &plan_only[i], 0);
	af_arena_free(a);

	/* the operator's files: a short overlay row wins over longer plan
	 * rows, and a later overlay file replaces an earlier one's row */
	snprintf(p1, sizeof(p1), "%s",
			test_write_file("ov1.csv", "# local overrides\n"
									   "49,DE,EU,fixed,0\n"
									   "4420,GB,EU,premium,3\n"
									   "43,AT,EU,premium,3\n"
									   "# dialing: DE 49 0 000\n"));
	snprintf(p2, sizeof(p2), "%s",
			test_write_file("ov2.csv", "43,AT,EU,mobile,1\n"
									   "28,ZZ,XN,special,2\n"
									   "# dialing: DE 49 0 00\n"
									   "# dialing: ZZ 28 - 99\n"));
	a = af_arena_new(0);
	ov[0] = p1;
	ov[1] = NULL; /* skipped */
	ov[2] = p2;
	np = af_numplan_load(a, PLAN, ov, 3, err, sizeof(err));
	assert_non_null(np);
	for(i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		check_lookup(np, &local[i], 1);
	/* +43 counted once */
	assert_int_equal(af_numplan_rows(np), 9984 + 4);
	/* dialing lines of a later file win; overlays may add regions */
	assert_string_equal(af_numplan_dialing(np, "DE")->intl_prefix, "00");
	assert_string_equal(af_numplan_dialing(np, "ZZ")->cc, "28");
	assert_string_equal(af_numplan_dialing(np, "ZZ")->national_prefix, "");
	assert_int_equal(count_regions(np), 246);
	af_arena_free(a);

	/* overlays without a plan */
	a = af_arena_new(0);
	ov[0] = p1;
	np = af_numplan_load(a, NULL, ov, 1, err, sizeof(err));
	assert_non_null(np);
	assert_int_equal(af_numplan_rows(np), 3);
	check_lookup(np, &local[0], 1);
	assert_int_equal(af_numplan_lookup(np, "4412", 4, &(af_numinfo_t){0}), 0);
	assert_string_equal(af_numplan_dialing(np, "DE")->intl_prefix, "000");
	af_arena_free(a);
}

static void test_good_files(void **state)
{
	char err[512];
	af_arena_t *a;
	af_numplan_t *np;
	af_numinfo_t info;
	const char *path;

	a = af_arena_new(0);
	/* an empty file is a valid (empty) plan */
	path = test_write_file("empty.csv", "");
	np = af_numplan_load(a, path, NULL, 0, err, sizeof(err));
	assert_non_null(np);
	assert_int_equal(af_numplan_rows(np), 0);
	assert_int_equal(af_numplan_lookup(np, "4930", 4, &info), 0);
	assert_null(af_numplan_dialing(np, "DE"));
	/* so is one of comments and blank lines only */
	path = test_write_file("comments.csv", "# nothing\n\n   \n\t\n#x,y\n");
	np = af_numplan_load(a, path, NULL, 0, err, sizeof(err));
	assert_non_null(np);
	assert_int_equal(af_numplan_rows(np), 0);
	/* no plan and no overlays at all */
	np = af_numplan_load(a, NULL, NULL, 0, err, sizeof(err));
	assert_non_null(np);
	assert_int_equal(af_numplan_rows(np), 0);
	/* CRLF line ends, a byte order mark, no final line end, dialing
	 * lines with tabs; the header's "REGION CC" line is a comment */
	path = test_write_file("crlf.csv",
			"\xef\xbb\xbf# plan\r\n"
			"# dialing: REGION CC NATIONAL_PREFIX INTERNATIONAL_PREFIX ('-' "
			"none; the international\r\n"
			"#dialing:\tXA 999 - 00(?:1|2)\r\n"
			"  # dialing: notaregion\r\n"
			"# dialing: xx 1 2 3 4 5 6\r\n"
			"999,XA,XN,premium,3\r\n"
			"\r\n"
			"9991,XA,XN,fixed,0\r\n"
			"123456789012345,XB,AF,voicemail,1");
	np = af_numplan_load(a, path, NULL, 0, err, sizeof(err));
	assert_non_null(np);
	assert_int_equal(af_numplan_rows(np), 3);
	assert_int_equal(count_regions(np), 1);
	assert_string_equal(af_numplan_dialing(np, "XA")->intl_prefix,
			"00(?:1|2)");
	assert_string_equal(af_numplan_dialing(np, "XA")->national_prefix, "");
	assert_int_equal(af_numplan_lookup(np, "99912", 5, &info), 1);
	assert_int_equal(info.cls, AF_NC_FIXED);
	assert_int_equal(info.prefix_len, 4);
	assert_int_equal(af_numplan_lookup(np, "99921", 5, &info), 1);
	assert_int_equal(info.cls, AF_NC_PREMIUM);
	assert_int_equal(af_numplan_lookup(np, "123456789012345", 15, &info), 1);
	assert_string_equal(info.zone, "AF");
	assert_int_equal(info.prefix_len, 15);
	assert_int_equal(af_numplan_lookup(np, "12345678901234", 14, &info), 0);
	/* err may be NULL */
	assert_non_null(af_numplan_load(a, path, NULL, 0, NULL, 0));
	assert_null(af_numplan_load(a, "/nonexistent/x.csv", NULL, 0, NULL, 0));
	af_arena_free(a);
}

typedef struct bad_case {
	const char *text;
	const char *msg; /* what follows "path:" in err */
} bad_case_t;

static void test_bad_files(void **state)
{
	static const bad_case_t cases[] = {
			{"x49,DE,EU,fixed,0\n", "1: prefix must be 1 to 15 digits: 'x49'"},
			{"# c\n+49,DE,EU,fixed,0\n",
					"2: prefix must be 1 to 15 digits: '+49'"},
			{"4 9,DE,EU,fixed,0\n", "1: prefix must be 1 to 15 digits: '4 9'"},
			{",DE,EU,fixed,0\n", "1: prefix must be 1 to 15 digits: ''"},
			{"1234567890123456,DE,EU,fixed,0\n",
					"1: prefix must be 1 to 15 digits: '1234567890123456'"},
			{"49,de,EU,fixed,0\n",
					"1: country must be two capital letters: 'de'"},
			{"49,DEU,EU,fixed,0\n",
					"1: country must be two capital letters: 'DEU'"},
			{"49,D,EU,fixed,0\n", "1: country must be two capital letters: 'D'"},
			{"49,DE,EUR,fixed,0\n",
					"1: zone must be one of AF AN AS EU NA OC SA XN: 'EUR'"},
			{"49,DE,XX,fixed,0\n",
					"1: zone must be one of AF AN AS EU NA OC SA XN: 'XX'"},
			{"49,DE,eu,fixed,0\n",
					"1: zone must be one of AF AN AS EU NA OC SA XN: 'eu'"},
			{"49,DE,EU,landline,0\n", "1: unknown class 'landline'"},
			{"49,DE,EU,Fixed,0\n", "1: unknown class 'Fixed'"},
			{"49,DE,EU,,0\n", "1: unknown class ''"},
			{"112,DE,EU,short,0\n",
					"1: class 'short' is not allowed in a plan file"},
			{"49,DE,EU,fixed,4\n", "1: risk must be 0..3: '4'"},
			{"49,DE,EU,fixed,-1\n", "1: risk must be 0..3: '-1'"},
			{"49,DE,EU,fixed,01\n", "1: risk must be 0..3: '01'"},
			{"49,DE,EU,fixed,\n", "1: risk must be 0..3: ''"},
			{"49,DE,EU,fixed,0 \n", "1: risk must be 0..3: '0 '"},
			{"49,DE,EU,fixed\n",
					"1: expected 5 columns prefix,country,zone,class,risk, "
					"found 4"},
			{"49\n", "1: expected 5 columns prefix,country,zone,class,risk, "
					 "found 1"},
			{"49,DE,EU,fixed,0,\n",
					"1: expected 5 columns prefix,country,zone,class,risk, "
					"found 6"},
			{"49,DE,EU,fixed,0,extra\n",
					"1: expected 5 columns prefix,country,zone,class,risk, "
					"found 6"},
			{"49;DE;EU;fixed;0\n",
					"1: expected 5 columns prefix,country,zone,class,risk, "
					"found 1"},
			{"prefix,country,zone,class,risk\n",
					"1: prefix must be 1 to 15 digits: 'prefix'"},
			{"49,DE,EU,fixed,0\n4930,DE,EU,fixed,0\n\n# x\n49,DE,EU,mobile,1\n",
					"5: prefix 49 already on line 1"},
			{"# dialing: DE 49 0 00\n# dialing: AT 43 0 00\n"
			 "# dialing: DE 49 0 000\n",
					"3: dialing: region DE already on line 1"},
			{"# dialing: DE 49 0\n",
					"1: dialing: expected REGION CC NATIONAL_PREFIX "
					"INTERNATIONAL_PREFIX, found 3 words"},
			{"# dialing: DE 49 0 00 00\n",
					"1: dialing: expected REGION CC NATIONAL_PREFIX "
					"INTERNATIONAL_PREFIX, found 5 words"},
			{"# dialing: DE 4949 0 00\n",
					"1: dialing: country code must be 1 to 3 digits: '4949'"},
			{"# dialing: DE 49 O 00\n",
					"1: dialing: national prefix must be '-' or 1 to 7 digits: "
					"'O'"},
			{"# dialing: DE 49 01234567 00\n",
					"1: dialing: national prefix must be '-' or 1 to 7 digits: "
					"'01234567'"},
			{"49,DE,EU,fixed,0\r\n49\r\n",
					"2: expected 5 columns prefix,country,zone,class,risk, "
					"found 1"},
	};
	char err[512], want[1024], path[512];
	af_arena_t *a;
	size_t i;
	char long_intl[300];

	a = af_arena_new(0);
	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s",
				test_write_file("bad.csv", cases[i].text));
		err[0] = '\0';
		if(af_numplan_load(a, path, NULL, 0, err, sizeof(err)))
			fail_msg("case %zu loaded: %s", i, cases[i].text);
		snprintf(want, sizeof(want), "%s:%s", path, cases[i].msg);
		if(strcmp(err, want) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, err, want);
	}

	/* an international prefix longer than the field */
	snprintf(long_intl, sizeof(long_intl), "# dialing: DE 49 0 %0200d\n", 0);
	snprintf(path, sizeof(path), "%s", test_write_file("bad.csv", long_intl));
	assert_null(af_numplan_load(a, path, NULL, 0, err, sizeof(err)));
	snprintf(want, sizeof(want),
			"%s:1: dialing: international prefix longer than 127 "
			"characters",
			path);
	assert_string_equal(err, want);

	/* a missing file */
	assert_null(af_numplan_load(
			a, "/nonexistent/plan.csv", NULL, 0, err, sizeof(err)));
	assert_string_equal(err,
			"number plan '/nonexistent/plan.csv': No such file or directory");
	/* a directory */
	snprintf(path, sizeof(path), "%s", test_write_file("x.csv", ""));
	*strrchr(path, '/') = '\0';
	assert_null(af_numplan_load(a, path, NULL, 0, err, sizeof(err)));
	snprintf(want, sizeof(want),
			"number plan '%s': a directory, not a regular file", path);
	assert_string_equal(err, want);

	/* errors in an overlay name the overlay; a missing overlay fails */
	{
		const char *ov[2];
		char p1[512];

		snprintf(p1, sizeof(p1), "%s",
				test_write_file("ovbad.csv", "# overlay\n\n"
											 "88,XN,XN,satellite,9\n"));
		ov[0] = p1;
		assert_null(af_numplan_load(a, PLAN, ov, 1, err, sizeof(err)));
		snprintf(want, sizeof(want), "%s:3: risk must be 0..3: '9'", p1);
		assert_string_equal(err, want);
		ov[0] = HIGHRISK;
		ov[1] = "/nonexistent/overlay.csv";
		assert_null(af_numplan_load(a, PLAN, ov, 2, err, sizeof(err)));
		assert_string_equal(err,
				"number plan '/nonexistent/overlay.csv': No such file or"
				" directory");
		/* a duplicate inside one overlay file is an error, across
		 * files it is not (the later wins, see test_overlay) */
		snprintf(p1, sizeof(p1), "%s",
				test_write_file("ovdup.csv", "88,XN,XN,satellite,3\n"
											 "# dialing: DE 49 0 00\n"
											 "88,XN,XN,satellite,2\n"));
		ov[0] = p1;
		assert_null(af_numplan_load(a, PLAN, ov, 1, err, sizeof(err)));
		snprintf(want, sizeof(want), "%s:3: prefix 88 already on line 1", p1);
		assert_string_equal(err, want);
	}

	/* a short err buffer is cut, not overrun */
	snprintf(path, sizeof(path), "%s",
			test_write_file("bad.csv", "49,DE,EU,fixed,7\n"));
	assert_null(af_numplan_load(a, path, NULL, 0, err, 8));
	assert_int_equal(strlen(err), 7);
	af_arena_free(a);
}

/* a profile: how one group of callers dials */
typedef struct profile {
	const char *name;
	const char *region;
	const char *const *national; /* NULL: the plan's */
	int n_national;
	const char *const *intl; /* NULL: the plan's */
	int n_intl;
	const char *const *strip;
	int n_strip;
	uint32_t short_max;
} profile_t;

static const char *const strip_de[] = {"*31#", "#31#", "1010"};
static const char *const strip_us[] = {"*67", "*82"};
static const char *const strip_gb[] = {"141"};
static const char *const intl_000[] = {"00", "000"};
static const char *const none[] = {""};

static const profile_t profiles[] = {
		{"DE", "DE", NULL, 0, NULL, 0, strip_de, 3, 6},
		{"US", "US", NULL, 0, NULL, 0, strip_us, 2, 3},
		{"GB", "GB", NULL, 0, NULL, 0, strip_gb, 1, 6},
		{"FR", "FR", NULL, 0, NULL, 0, NULL, 0, 6},
		{"IT", "IT", NULL, 0, NULL, 0, NULL, 0, 5},
		{"AU", "AU", NULL, 0, NULL, 0, NULL, 0, 6},
		{"BR", "BR", NULL, 0, NULL, 0, NULL, 0, 4},
		{"RU", "RU", NULL, 0, NULL, 0, NULL, 0, 3},
		{"JP", "JP", NULL, 0, NULL, 0, NULL, 0, 3},
		{"CH", "CH", NULL, 0, NULL, 0, NULL, 0, 6},
		{"HU", "HU", NULL, 0, NULL, 0, NULL, 0, 5},
		{"KR", "KR", NULL, 0, NULL, 0, NULL, 0, 3},
		{"UA", "UA", NULL, 0, NULL, 0, NULL, 0, 3},
		{"CL", "CL", NULL, 0, NULL, 0, NULL, 0, 3},
		/* overrides: intl 00 and 000; no intl prefix; no trunk prefix */
		{"DE000", "DE", NULL, 0, intl_000, 2, NULL, 0, 6},
		{"DEnointl", "DE", NULL, 0, none, 0, NULL, 0, 6},
		{"DEnonat", "DE", none, 0, NULL, 0, NULL, 0, 6},
		{"DEnoshort", "DE", NULL, 0, NULL, 0, NULL, 0, 0},
};

#define N_PROFILES (sizeof(profiles) / sizeof(profiles[0]))

static af_arena_t *dp_arena;
static af_dialplan_t dps[N_PROFILES];

/* builds the dialplans of every profile on the default plan */
static void build_profiles(void)
{
	char err[256];
	size_t i;

	if(dp_arena)
		return;
	dp_arena = af_arena_new(0);
	assert_non_null(dp_arena);
	for(i = 0; i < N_PROFILES; i++) {
		if(af_dialplan_build(dp_arena, plan, profiles[i].region,
				   profiles[i].national, profiles[i].n_national,
				   profiles[i].intl, profiles[i].n_intl, profiles[i].strip,
				   profiles[i].n_strip, profiles[i].short_max, &dps[i], err,
				   sizeof(err))
				< 0)
			fail_msg("profile %s: %s", profiles[i].name, err);
	}
}

/* the dialplan of the profile named name */
static const af_dialplan_t *dp_of(const char *name)
{
	size_t i;

	build_profiles();
	for(i = 0; i < N_PROFILES; i++) {
		if(strcmp(profiles[i].name, name) == 0)
			return &dps[i];
	}
	fail_msg("no profile %s", name);
	return NULL;
}

static void test_dialplan_build(void **state)
{
	const af_dialplan_t *dp;
	af_dialplan_t x;
	char err[256];
	const char *bad[2];
	af_arena_t *a;

	dp = dp_of("DE");
	assert_string_equal(dp->cc, "49");
	assert_string_equal(dp->region, "DE");
	assert_int_equal(dp->n_national, 1);
	assert_string_equal(dp->national[0], "0");
	assert_int_equal(dp->n_intl, 1);
	assert_string_equal(dp->intl[0], "00");
	assert_null(dp->intl_re);
	/* strip prefixes longest first, equal lengths in the given order */
	assert_int_equal(dp->n_strip, 3);
	assert_string_equal(dp->strip[0], "*31#");
	assert_string_equal(dp->strip[1], "#31#");
	assert_string_equal(dp->strip[2], "1010");
	assert_int_equal(dp->short_max, 6);

	dp = dp_of("IT");
	assert_int_equal(dp->n_national, 0);
	assert_string_equal(dp->cc, "39");
	dp = dp_of("US");
	assert_string_equal(dp->cc, "1");
	assert_string_equal(dp->national[0], "1");
	assert_string_equal(dp->intl[0], "011");
	/* patterns: compiled; RU's 8~10 and UA's 0~0 are literals once the
	 * second dial tone is dropped */
	dp = dp_of("BR");
	assert_int_equal(dp->n_intl, 0);
	assert_non_null(dp->intl_re);
	dp = dp_of("KR");
	assert_non_null(dp->intl_re);
	dp = dp_of("RU");
	assert_int_equal(dp->n_intl, 1);
	assert_string_equal(dp->intl[0], "810");
	assert_null(dp->intl_re);
	assert_string_equal(dp->national[0], "8");
	dp = dp_of("UA");
	assert_string_equal(dp->intl[0], "00");
	/* overrides sorted longest first; an empty list means none */
	dp = dp_of("DE000");
	assert_int_equal(dp->n_intl, 2);
	assert_string_equal(dp->intl[0], "000");
	assert_string_equal(dp->intl[1], "00");
	dp = dp_of("DEnointl");
	assert_int_equal(dp->n_intl, 0);
	assert_null(dp->intl_re);
	dp = dp_of("DEnonat");
	assert_int_equal(dp->n_national, 0);

	a = af_arena_new(0);
	/* a literal override replaces the plan's pattern */
	bad[0] = "0015";
	assert_int_equal(af_dialplan_build(a, plan, "BR", NULL, 0, bad, 1, NULL,
							 0, 4, &x, err, sizeof(err)),
			0);
	assert_null(x.intl_re);
	assert_string_equal(x.intl[0], "0015");

	/* errors */
	assert_int_equal(af_dialplan_build(a, plan, "XX", NULL, 0, NULL, 0, NULL,
							 0, 4, &x, err, sizeof(err)),
			-1);
	assert_string_equal(err, "no dialing data for region XX in the number plan");
	assert_int_equal(af_dialplan_build(a, plan, "de", NULL, 0, NULL, 0, NULL,
							 0, 4, &x, err, sizeof(err)),
			-1);
	assert_string_equal(err, "no dialing data for region de in the number plan");
	assert_int_equal(af_dialplan_build(a, plan, NULL, NULL, 0, NULL, 0, NULL,
							 0, 4, &x, err, sizeof(err)),
			-1);
	assert_string_equal(err, "no dialing data for region  in the number plan");
	assert_int_equal(af_dialplan_build(a, NULL, "DE", NULL, 0, NULL, 0, NULL,
							 0, 4, &x, err, sizeof(err)),
			-1);
	assert_string_equal(err, "no dialing data for region DE in the number plan");
	bad[0] = "0";
	bad[1] = "0a";
	assert_int_equal(af_dialplan_build(a, plan, "DE", bad, 2, NULL, 0, NULL,
							 0, 4, &x, err, sizeof(err)),
			-1);
	assert_string_equal(err, "national prefix '0a' must be 1 to 15 digits");
	bad[0] = "+";
	assert_int_equal(af_dialplan_build(a, plan, "DE", NULL, 0, bad, 1, NULL,
							 0, 4, &x, err, sizeof(err)),
			-1);
	assert_string_equal(
			err, "international prefix '+' must be 1 to 15 digits");
	bad[0] = "";
	assert_int_equal(af_dialplan_build(a, plan, "DE", NULL, 0, bad, 1, NULL,
							 0, 4, &x, err, sizeof(err)),
			-1);
	assert_string_equal(err, "international prefix '' must be 1 to 15 digits");
	bad[0] = "*31x";
	assert_int_equal(af_dialplan_build(a, plan, "DE", NULL, 0, NULL, 0, bad,
							 1, 4, &x, err, sizeof(err)),
			-1);
	assert_string_equal(err, "strip prefix '*31x' must be 1 to 16 of 0-9 * #");
	bad[0] = "12345678901234567";
	assert_int_equal(af_dialplan_build(a, plan, "DE", NULL, 0, NULL, 0, bad,
							 1, 4, &x, err, sizeof(err)),
			-1);
	assert_string_equal(err,
			"strip prefix '12345678901234567' must be 1 to 16 of 0-9 * #");
	bad[0] = NULL;
	assert_int_equal(af_dialplan_build(a, plan, "DE", NULL, 0, NULL, 0, bad,
							 1, 4, &x, err, sizeof(err)),
			-1);
	assert_string_equal(err, "strip prefix '' must be 1 to 16 of 0-9 * #");
	assert_int_equal(af_dialplan_build(a, plan, "DE", NULL, 0, NULL, 0, NULL,
							 0, 16, &x, err, sizeof(err)),
			-1);
	assert_string_equal(err, "short codes have at most 15 digits, not 16");
	/* err may be NULL */
	assert_int_equal(af_dialplan_build(a, plan, "XX", NULL, 0, NULL, 0, NULL,
							 0, 4, &x, NULL, 0),
			-1);
	af_arena_free(a);
}

static void test_dialplan_bad_pattern(void **state)
{
	char err[512];
	af_arena_t *a;
	af_numplan_t *np;
	af_dialplan_t dp;
	af_number_t num;
	const char *path;

	a = af_arena_new(0);
	path = test_write_file("pat.csv", "# dialing: XA 999 - 00(?:1\n"
									  "# dialing: XB 998 - 0~0[12]\n");
	np = af_numplan_load(a, path, NULL, 0, err, sizeof(err));
	assert_non_null(np);
	assert_int_equal(af_dialplan_build(a, np, "XA", NULL, 0, NULL, 0, NULL, 0,
							 3, &dp, err, sizeof(err)),
			-1);
	assert_string_equal(err,
			"bad international prefix pattern '00(?:1' for region XA in the "
			"number plan: missing closing parenthesis at offset 6");
	/* a pattern with '~': the tone is dropped before compiling */
	assert_int_equal(af_dialplan_build(a, np, "XB", NULL, 0, NULL, 0, NULL, 0,
							 3, &dp, err, sizeof(err)),
			0);
	assert_non_null(dp.intl_re);
	assert_int_equal(af_normalize(&dp, "002491234", 9, &num), AF_NUM_E164);
	assert_string_equal(num.digits, "491234");
	assert_int_equal(af_normalize(&dp, "003491234", 9, &num), AF_NUM_NATIONAL);
	assert_string_equal(num.digits, "998003491234");
	af_arena_free(a);
}

typedef struct norm_case {
	const char *profile;
	const char *in;
	af_numkind_t kind;
	const char *out; /* digits, or why when invalid */
} norm_case_t;

#define E AF_NUM_E164
#define N AF_NUM_NATIONAL
#define S AF_NUM_SHORT
#define I AF_NUM_INVALID

static const norm_case_t norm_cases[] = {
		/* Germany: trunk 0, international 00 */
		{"DE", "0301234567", N, "49301234567"},
		{"DE", "030 1234567", N, "49301234567"},
		{"DE", "030-123 45-67", N, "49301234567"},
		{"DE", "(030) 1234567", N, "49301234567"},
		{"DE", "0172 1234567", N, "491721234567"},
		{"DE", "0049301234567", E, "49301234567"},
		{"DE", "0049 30 1234567", E, "49301234567"},
		{"DE", "004930123456", E, "4930123456"},
		{"DE", "+49301234567", E, "49301234567"},
		{"DE", "+49 30 1234567", E, "49301234567"},
		{"DE", "+49.30.1234567", E, "49301234567"},
		{"DE", "0012125551234", E, "12125551234"},
		{"DE", "112", S, "112"},
		{"DE", "110", S, "110"},
		{"DE", "11833", S, "11833"},
		{"DE", "116116", S, "116116"},
		{"DE", "1161160", N, "491161160"}, /* 7 digits: not short */
		{"DE", "301234567", N, "49301234567"}, /* no trunk prefix */
		/* "(0)" after +49 is not taken out: the plan sees 49 0... */
		{"DE", "+49 (0)30 1234567", E, "490301234567"},
		/* user parameters */
		{"DE", "0301234567;npdi;rn=+4930999", N, "49301234567"},
		{"DE", "+49301234567;npdi", E, "49301234567"},
		{"DE", "112;phone-context=+49", S, "112"},
		/* strip prefixes: CLIR codes and a technical prefix */
		{"DE", "*31#0301234567", N, "49301234567"},
		{"DE", "#31#0049301234567", E, "49301234567"},
		{"DE", "*31#+49301234567", E, "49301234567"},
		{"DE", "%2A31%230301234567", N, "49301234567"},
		{"DE", "%2a31%230301234567", N, "49301234567"},
		{"DE", "10100301234567", N, "49301234567"},
		{"DE", "*31#110", S, "110"},
		{"DE", "*31#*31#0301234567", I, "not a number"}, /* once only */
		/* invalid */
		{"DE", "abc", I, "not a number"},
		{"DE", "", I, "empty"},
		{"DE", "+", I, "empty"},
		{"DE", "+ ", I, "empty"},
		{"DE", ";npdi", I, "empty"},
		{"DE", "*31#", I, "empty"},
		{"DE", "--", I, "empty"},
		{"DE", "12a3", I, "not a number"},
		{"DE", "+0123", I, "country code starts with 0"},
		{"DE", "+0049301234567", I, "country code starts with 0"},
		{"DE", "000123456", I, "country code starts with 0"},
		{"DE", "+123", I, "too short"},
		{"DE", "+1234", E, "1234"},
		{"DE", "00", I, "empty"},
		{"DE", "0049", I, "too short"},
		{"DE", "+4930123456789012", I, "too long"},
		{"DE", "+493012345678901", E, "493012345678901"},
		{"DE", "00493012345678901", E, "493012345678901"},
		{"DE", "004930123456789012", I, "too long"},
		{"DE", "0301234567890123", I, "too long"}, /* 49 + 14 digits */
		{"DE", "03012345678901", N, "493012345678901"},
		{"DE", "%41", I, "not a number"},
		{"DE", "%20", I, "not a number"},
		{"DE", "%2", I, "not a number"},
		{"DE", "%", I, "not a number"},
		{"DE", "%zz", I, "not a number"},
		{"DE", "*100#", I, "not a number"},
		{"DE", "+49*30", I, "not a number"},
		{"DE", "49+30", I, "not a number"},
		{"DE", "030\t1234567", I, "not a number"},
		{"DE", "030/1234567", I, "not a number"},
		{"DE", "030\xc3\xa9" "1234567", I, "not a number"}, /* bytes >= 0x80 */
		{"DE", "030:1234567", I, "not a number"},
		{"DE", "sip:0301234567", I, "not a number"},
		{"DE", "0301234567@example.com", I, "not a number"},
		{"DE",
				"0000000000000000000000000000000000000000000000000000000000000"
				"0000000",
				I, "too long"},
		/* NANP: trunk 1, international 011, 10-digit local */
		{"US", "2125551234", N, "12125551234"},
		{"US", "12125551234", N, "12125551234"},
		{"US", "1 (212) 555-1234", N, "12125551234"},
		{"US", "+1 (212) 555-1234", E, "12125551234"},
		{"US", "+1-212-555-1234", E, "12125551234"},
		{"US", "0114930123456", E, "4930123456"},
		{"US", "011 44 20 7946 0000", E, "442079460000"},
		{"US", "18765550123", N, "18765550123"},
		{"US", "911", S, "911"},
		{"US", "411", S, "411"},
		{"US", "112", S, "112"},
		{"US", "*672125551234", N, "12125551234"},
		{"US", "*8212125551234", N, "12125551234"},
		{"US", "5551234", N, "15551234"}, /* 7-digit local: no area code */
		{"US", "011", I, "empty"},
		/* UK: 141 withholds the number */
		{"GB", "020 7946 0000", N, "442079460000"},
		{"GB", "02079460000", N, "442079460000"},
		{"GB", "00442079460000", E, "442079460000"},
		{"GB", "0044 20 7946 0000", E, "442079460000"},
		{"GB", "+44 20 7946 0000", E, "442079460000"},
		{"GB", "07700 900123", N, "447700900123"},
		{"GB", "09091234567", N, "449091234567"},
		{"GB", "141 020 7946 0000", N, "442079460000"},
		{"GB", "999", S, "999"},
		{"GB", "112", S, "112"},
		{"GB", "118118", S, "118118"},
		{"GB", "101", S, "101"},
		/* France */
		{"FR", "01 23 45 67 89", N, "33123456789"},
		{"FR", "06.12.34.56.78", N, "33612345678"},
		{"FR", "0033 1 23 45 67 89", E, "33123456789"},
		{"FR", "+33 6 12 34 56 78", E, "33612345678"},
		{"FR", "15", S, "15"},
		{"FR", "17", S, "17"},
		{"FR", "3949", S, "3949"},
		{"FR", "118712", S, "118712"},
		/* Italy: no trunk prefix, the 0 belongs to the number */
		{"IT", "0612345678", N, "390612345678"},
		{"IT", "06 1234 5678", N, "390612345678"},
		{"IT", "3123456789", N, "393123456789"},
		{"IT", "0039 06 12345678", E, "390612345678"},
		{"IT", "+39 312 345 6789", E, "393123456789"},
		{"IT", "112", S, "112"},
		{"IT", "00497", I, "too short"},
		/* Australia: international 0011; 000 is the emergency number */
		{"AU", "0011 49 30 123456", E, "4930123456"},
		{"AU", "001149301234567", E, "49301234567"},
		{"AU", "02 9876 5432", N, "61298765432"},
		{"AU", "0412 345 678", N, "61412345678"},
		{"AU", "000", S, "000"},
		{"AU", "112", S, "112"},
		{"AU", "+61 2 9876 5432", E, "61298765432"},
		/* Brazil: international 00 + carrier, a pattern */
		{"BR", "0015 49 30 123456", E, "4930123456"},
		{"BR", "00154930123456", E, "4930123456"},
		{"BR", "0021 1 212 555 1234", E, "12125551234"},
		{"BR", "00311 212 555 1234", E, "12125551234"},
		{"BR", "0099 44 20 7946 0000", E, "442079460000"},
		{"BR", "0012 44 20 7946 0000", E, "442079460000"},
		{"BR", "0 11 98765 4321", N, "5511987654321"},
		/* 00 + 11 is not one of the pattern's carriers: trunk 0 + digits */
		{"BR", "0011 98765 4321", N, "55011987654321"},
		{"BR", "11 98765 4321", N, "5511987654321"},
		{"BR", "190", S, "190"},
		{"BR", "0015", I, "empty"}, /* international before short */
		{"BR", "00150", I, "country code starts with 0"},
		{"BR", "001549", I, "too short"},
		/* Russia: 8~10 international, 8 trunk */
		{"RU", "8 10 49 30 123456", E, "4930123456"},
		{"RU", "81049301234567", E, "49301234567"},
		{"RU", "8 495 123-45-67", N, "74951234567"},
		{"RU", "8 (916) 123-45-67", N, "79161234567"},
		{"RU", "+7 495 123 45 67", E, "74951234567"},
		{"RU", "4951234567", N, "74951234567"},
		{"RU", "112", S, "112"},
		{"RU", "01", S, "01"},
		/* Japan: international 010 */
		{"JP", "010 49 30 123456", E, "4930123456"},
		{"JP", "03-1234-5678", N, "81312345678"},
		{"JP", "090-1234-5678", N, "819012345678"},
		{"JP", "110", S, "110"},
		{"JP", "119", S, "119"},
		/* Switzerland */
		{"CH", "044 668 18 00", N, "41446681800"},
		{"CH", "0041 44 668 18 00", E, "41446681800"},
		{"CH", "+41 44 668 18 00", E, "41446681800"},
		{"CH", "117", S, "117"},
		{"CH", "1811", S, "1811"},
		{"CH", "0900 123 456", N, "41900123456"},
		/* Hungary: trunk 06 */
		{"HU", "06 1 234 5678", N, "3612345678"},
		{"HU", "06 30 123 4567", N, "36301234567"},
		{"HU", "00 49 30 123456", E, "4930123456"},
		/* Korea: 00 + carrier pattern */
		{"KR", "001 1 212 555 1234", E, "12125551234"},
		{"KR", "00700 49 30 123456", E, "4930123456"},
		{"KR", "002 49 30 123456", E, "4930123456"},
		{"KR", "02-123-4567", N, "8221234567"},
		/* Ukraine 0~0, Chile's alternation pattern */
		{"UA", "00 49 30 123456", E, "4930123456"},
		{"UA", "044 123 4567", N, "380441234567"},
		{"CL", "00 49 30 123456", E, "4930123456"},
		{"CL", "1120 49 30 123456", E, "4930123456"},
		{"CL", "2 2123 4567", N, "56221234567"},
		/* overrides */
		{"DE000", "00049301234567", E, "49301234567"},
		{"DE000", "0049301234567", E, "49301234567"},
		{"DE000", "000", I, "empty"},
		{"DEnointl", "0049301234567", N, "49049301234567"},
		{"DEnointl", "0301234567", N, "49301234567"},
		{"DEnonat", "0301234567", N, "490301234567"},
		{"DEnonat", "+49301234567", E, "49301234567"},
		{"DEnoshort", "112", N, "49112"},
		{"DEnoshort", "0", I, "too short"}, /* 0 alone is not a trunk prefix */
};

/* the short form of a kind, for messages */
static const char *kind_name(af_numkind_t k)
{
	switch(k) {
		case AF_NUM_E164:
			return "E164";
		case AF_NUM_NATIONAL:
			return "NATIONAL";
		case AF_NUM_SHORT:
			return "SHORT";
		default:
			return "INVALID";
	}
}

static void test_normalize(void **state)
{
	const norm_case_t *c;
	af_number_t num;
	const char *got;
	char *copy;
	size_t i, len;
	int bad = 0;

	for(i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
		c = &norm_cases[i];
		len = strlen(c->in);
		/* an exact-size heap copy: ASan catches a read past len */
		copy = malloc(len ? len : 1);
		assert_non_null(copy);
		memcpy(copy, c->in, len);
		memset(&num, 0x5a, sizeof(num));
		af_normalize(dp_of(c->profile), copy, len, &num);
		free(copy);
		got = num.kind == AF_NUM_INVALID ? num.why : num.digits;
		if(num.kind != c->kind || !got || strcmp(got, c->out) != 0
				|| (num.kind != AF_NUM_INVALID
						&& (num.len != strlen(num.digits) || num.why))
				|| (num.kind == AF_NUM_INVALID
						&& (num.len != 0 || num.digits[0]))) {
			print_error("%s '%s': got %s '%s' (len %u), want %s '%s'\n",
					c->profile, c->in, kind_name(num.kind), got ? got : "(null)",
					num.len, kind_name(c->kind), c->out);
			bad++;
		}
	}
	if(bad)
		fail_msg("%d of %zu normalization cases failed", bad,
				sizeof(norm_cases) / sizeof(norm_cases[0]));
}

static void test_normalize_edges(void **state)
{
	const af_dialplan_t *de = dp_of("DE");
	const char buf[] = "0301234567XYZ;junk";
	af_number_t num;
	char zero[4] = {'0', '3', '\0', '1'};

	/* only len counts: the rest of the buffer is not read */
	assert_int_equal(af_normalize(de, buf, 10, &num), AF_NUM_NATIONAL);
	assert_string_equal(num.digits, "49301234567");
	assert_int_equal(num.len, 11);
	assert_int_equal(af_normalize(de, buf, 3, &num), AF_NUM_SHORT);
	assert_string_equal(num.digits, "030");
	/* an embedded NUL is not a number */
	assert_int_equal(af_normalize(de, zero, 4, &num), AF_NUM_INVALID);
	assert_string_equal(num.why, "not a number");
	/* NULL */
	assert_int_equal(af_normalize(de, NULL, 0, &num), AF_NUM_INVALID);
	assert_string_equal(num.why, "empty");
	assert_int_equal(af_normalize(de, NULL, 5, &num), AF_NUM_INVALID);
	assert_int_equal(af_normalize(NULL, "0301234567", 10, &num),
			AF_NUM_INVALID);
	/* every result is NUL-terminated within digits */
	assert_int_equal(
			af_normalize(de, "+493012345678901", 16, &num), AF_NUM_E164);
	assert_int_equal(num.len, 15);
	assert_int_equal(num.digits[15], '\0');
}

/* normalization then lookup: what af_check_dest will do */
static void test_normalize_lookup(void **state)
{
	static const struct {
		const char *profile, *in, *country;
		af_numclass_t cls;
		int risk;
	} cases[] = {
			{"DE", "0900 1234567", "DE", AF_NC_PREMIUM, 3},
			{"DE", "030 1234567", "DE", AF_NC_FIXED, 0},
			{"DE", "00 881 6 1234567", "XN", AF_NC_SATELLITE, 3},
			{"US", "011 882 16 1234567", "XN", AF_NC_INTERNATIONAL, 3},
			{"US", "1 876 555 0123", "JM", AF_NC_MOBILE, 1},
			{"GB", "09091234567", "GB", AF_NC_PREMIUM, 3},
			{"BR", "0021 1 876 555 0123", "JM", AF_NC_MOBILE, 1},
			{"RU", "8 10 870 123456789", "XN", AF_NC_SATELLITE, 3},
	};
	af_number_t num;
	af_numinfo_t info;
	size_t i;

	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		af_normalize(dp_of(cases[i].profile), cases[i].in,
				strlen(cases[i].in), &num);
		if(num.kind != AF_NUM_E164 && num.kind != AF_NUM_NATIONAL)
			fail_msg("%s: %s", cases[i].in, kind_name(num.kind));
		assert_int_equal(af_numplan_lookup(plan, num.digits, num.len, &info),
				1);
		if(strcmp(info.country, cases[i].country) != 0
				|| info.cls != cases[i].cls || info.risk != cases[i].risk)
			fail_msg("%s -> %s: %s %s %d", cases[i].in, num.digits,
					info.country, af_numclass_name((af_numclass_t)info.cls),
					info.risk);
	}
}

/*
 * Every row of the default plan is found as its own longest prefix, and
 * random numbers agree with a brute-force scan of the rows.
 */
static void test_lookup_every_row(void **state)
{
	FILE *f;
	char line[256], *p, num[32];
	af_numinfo_t info;
	unsigned n = 0, i, k, best, best_len;
	static char (*pref)[16];
	static char (*cls)[16];
	size_t plen, l0, len, j;
	int r;

	f = fopen(PLAN, "r");
	assert_non_null(f);
	pref = calloc(10000, sizeof(*pref));
	cls = calloc(10000, sizeof(*cls));
	assert_non_null(pref);
	assert_non_null(cls);
	while(fgets(line, sizeof(line), f)) {
		if(line[0] == '#' || line[0] == '\n')
			continue;
		assert_true(n < 10000);
		p = strchr(line, ',');
		assert_non_null(p);
		plen = (size_t)(p - line);
		memcpy(pref[n], line, plen);
		pref[n][plen] = '\0';
		/* class is the 4th column */
		p = strchr(p + 1, ',');
		p = strchr(p + 1, ',') + 1;
		k = (unsigned)(strchr(p, ',') - p);
		memcpy(cls[n], p, k);
		cls[n][k] = '\0';
		/* the row itself, and the row followed by digits */
		snprintf(num, sizeof(num), "%s", pref[n]);
		assert_int_equal(af_numplan_lookup(plan, num, plen, &info), 1);
		assert_int_equal(info.prefix_len, plen);
		r = af_numclass_parse(cls[n], k);
		assert_int_equal(info.cls, r);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 9984);

	/* random digit strings against a scan of all rows */
	for(i = 0; i < 20000; i++) {
		k = 1 + (unsigned)(test_rnd() % 17);
		/* start from a row's prefix half of the time */
		l0 = 0;
		if(i & 1) {
			snprintf(num, sizeof(num), "%s", pref[test_rnd() % n]);
			l0 = strlen(num);
		}
		len = l0 < k ? k : l0;
		for(j = l0; j < len; j++)
			num[j] = (char)('0' + test_rnd() % 10);
		num[len] = '\0';
		plen = len;
		if(plen > AF_E164_MAX)
			plen = AF_E164_MAX;
		best = n;
		best_len = 0;
		for(r = 0; r < (int)n; r++) {
			size_t l = strlen(pref[r]);
			if(l <= plen && l > best_len && memcmp(pref[r], num, l) == 0) {
				best = (unsigned)r;
				best_len = (unsigned)l;
			}
		}
		if(best == n) {
			assert_int_equal(af_numplan_lookup(plan, num, plen, &info), 0);
		} else {
			assert_int_equal(af_numplan_lookup(plan, num, plen, &info), 1);
			assert_int_equal(info.prefix_len, best_len);
			assert_int_equal(
					info.cls, af_numclass_parse(cls[best], strlen(cls[best])));
		}
	}
	free(pref);
	free(cls);
}

/* not asserted: figures for the report (this is an ASan/UBSan build) */
static void test_timing(void **state)
{
	static const char *const nums[] = {"49301234567", "491721234567",
			"49900123456", "12125551234", "18765550123", "442079460000",
			"881612345678", "5511987654321", "8613812345678", "2348031234567"};
	static const struct {
		const char *profile, *in;
	} dialed[] = {{"DE", "0301234567"}, {"DE", "0049301234567"},
			{"DE", "+49 30 1234567"}, {"US", "1 (212) 555-1234"},
			{"BR", "0015 49 30 123456"}, {"DE", "112"}};
	const int rounds = 200000;
	af_numinfo_t info;
	af_number_t num;
	uint64_t t0, t1, sink = 0;
	af_arena_t *a;
	af_numplan_t *np;
	char err[256];
	int i, j;

	a = af_arena_new(0);
	t0 = now_ns();
	np = af_numplan_load(a, PLAN, NULL, 0, err, sizeof(err));
	t1 = now_ns();
	assert_non_null(np);
	print_message("numplan: default plan: load %.2f ms (first load %.2f ms), "
				  "%zu arena bytes (%zu for the group's)\n",
			(double)(t1 - t0) / 1e6, plan_load_ms, af_arena_size(a),
			plan_bytes);
	af_arena_free(a);

	t0 = now_ns();
	for(i = 0; i < rounds; i++) {
		for(j = 0; j < 10; j++)
			sink += (uint64_t)af_numplan_lookup(
					plan, nums[j], strlen(nums[j]), &info);
	}
	t1 = now_ns();
	print_message("numplan: lookup %.1f ns\n",
			(double)(t1 - t0) / (rounds * 10.0));
	for(j = 0; j < 6; j++) {
		const af_dialplan_t *dp = dp_of(dialed[j].profile);
		size_t len = strlen(dialed[j].in);

		t0 = now_ns();
		for(i = 0; i < rounds; i++)
			sink += (uint64_t)af_normalize(dp, dialed[j].in, len, &num);
		t1 = now_ns();
		print_message("numplan: normalize %s '%s' %.1f ns\n",
				dialed[j].profile, dialed[j].in,
				(double)(t1 - t0) / rounds);
	}
	assert_true(sink > 0);
}

static int dp_teardown(void **state)
{
	af_arena_free(dp_arena);
	dp_arena = NULL;
	return group_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_class_names),
			cmocka_unit_test(test_default_plan),
			cmocka_unit_test(test_lookup_default),
			cmocka_unit_test(test_lookup_every_row),
			cmocka_unit_test(test_overlay),
			cmocka_unit_test(test_good_files),
			cmocka_unit_test(test_bad_files),
			cmocka_unit_test(test_dialplan_build),
			cmocka_unit_test(test_dialplan_bad_pattern),
			cmocka_unit_test(test_normalize),
			cmocka_unit_test(test_normalize_edges),
			cmocka_unit_test(test_normalize_lookup),
			cmocka_unit_test(test_timing),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, group_setup, dp_teardown);
}
