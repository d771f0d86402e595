/*
 * antifraud unit tests - live list files (af_feed.h): a changed file is
 * swapped in for its list alone, with the list's inline entries; a bad,
 * empty or missing new version keeps the list in use, is reported once
 * per version, and the next good one loads; nothing leaks.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "af_host.h"
#include "af_feed.h"
#include "af_rules.h"
#include "host.h"

static char err[512];
static char list_path[512];
static char rules_path[512];
static long mtime_s = 1700000000;

/* Writes the list file through a new file renamed over the old one (as a
 * feed writer does), with its own mtime so that versions written within
 * one clock tick still differ. */
static void write_list(const char *text)
{
	char tmp[600];
	struct timespec ts[2];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", list_path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	ts[0].tv_sec = ts[1].tv_sec = ++mtime_s;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, tmp, ts, 0), 0);
	assert_int_equal(rename(tmp, list_path), 0);
}

static af_rules_t *load(void)
{
	char text[2048];
	const char *p;
	af_rules_t *r;

	p = test_write_file("feed.txt", "");
	snprintf(list_path, sizeof(list_path), "%s", p);
	write_list("# honeypot feed\n192.0.2.1\n192.0.2.2\n198.51.100.0/24\n");
	snprintf(text, sizeof(text),
			"version: 1\n"
			"lists:\n"
			"  honeypot:\n"
			"    entries: [203.0.113.7]\n"
			"    file: %s\n"
			"  office: {entries: [10.0.0.0/8]}\n"
			"profiles:\n"
			"  default:\n"
			"    deny: [honeypot]\n",
			list_path);
	p = test_write_file("rules.yaml", text);
	snprintf(rules_path, sizeof(rules_path), "%s", p);
	r = af_rules_load(rules_path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(r->n_lists, 2);
	return r;
}

static int has(const af_iplist_t *l, const char *ip)
{
	af_ip_t a;

	assert_int_equal(af_ip_parse(ip, strlen(ip), &a), 0);
	return af_iplist_lookup(l, &a) >= 0;
}

static void test_swap(void **state)
{
	long live = test_host_shm_live();
	af_rules_t *r = load();
	const af_iplist_t *l = &r->lists[0];
	af_feed_info_t fi;

	assert_true(has(l, "192.0.2.1"));
	assert_true(has(l, "198.51.100.9"));
	assert_true(has(l, "203.0.113.7"));
	assert_false(has(l, "192.0.2.3"));
	af_feed_info(l, &fi);
	assert_int_equal(fi.entries, 4);
	assert_int_equal(fi.swaps, 0);
	/* inline-only lists have no feed */
	assert_null(r->lists[1].feed);
	assert_int_equal(af_feed_refresh(&r->lists[1], err, sizeof(err)), 0);

	/* unchanged: nothing happens */
	assert_int_equal(af_feed_refresh(l, err, sizeof(err)), 0);

	write_list("192.0.2.3\n2001:db8::/32 extra column\n");
	assert_int_equal(af_feed_refresh(l, err, sizeof(err)), 1);
	assert_false(has(l, "192.0.2.1"));
	assert_false(has(l, "198.51.100.9"));
	assert_true(has(l, "192.0.2.3"));
	assert_true(has(l, "2001:db8::5"));
	/* the inline entry is part of every version */
	assert_true(has(l, "203.0.113.7"));
	af_feed_info(l, &fi);
	assert_int_equal(fi.entries, 3);
	assert_int_equal(fi.swaps, 1);
	assert_string_equal(fi.error, "");
	/* the snapshot's other parts are untouched */
	assert_true(has(&r->lists[1], "10.1.2.3"));

	/* a second swap frees the first new version */
	write_list("192.0.2.4\n");
	assert_int_equal(af_feed_refresh(l, err, sizeof(err)), 1);
	assert_true(has(l, "192.0.2.4"));
	assert_false(has(l, "192.0.2.3"));
	af_rules_free(r);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_bad_version_keeps_list(void **state)
{
	long live = test_host_shm_live();
	af_rules_t *r = load();
	const af_iplist_t *l = &r->lists[0];
	af_feed_info_t fi;

	write_list("192.0.2.9\nnot-an-address\n");
	assert_int_equal(af_feed_refresh(l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: "));
	assert_non_null(strstr(err, "not-an-address"));
	assert_non_null(strstr(err, "the list in use stays"));
	/* the old version answers */
	assert_true(has(l, "192.0.2.1"));
	assert_false(has(l, "192.0.2.9"));
	af_feed_info(l, &fi);
	assert_int_equal(fi.refusals, 1);
	assert_non_null(strstr(fi.error, ":2: "));
	/* reported once per version of the file */
	assert_int_equal(af_feed_refresh(l, err, sizeof(err)), 0);
	af_feed_info(l, &fi);
	assert_int_equal(fi.refusals, 1);

	/* empty where the list in use has entries: a truncated download */
	write_list("# nothing\n");
	assert_int_equal(af_feed_refresh(l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no entries"));
	assert_true(has(l, "192.0.2.1"));

	/* missing */
	assert_int_equal(unlink(list_path), 0);
	assert_int_equal(af_feed_refresh(l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_true(has(l, "192.0.2.1"));
	assert_int_equal(af_feed_refresh(l, err, sizeof(err)), 0);

	/* the next good version loads and clears the error */
	write_list("192.0.2.10\n");
	assert_int_equal(af_feed_refresh(l, err, sizeof(err)), 1);
	assert_true(has(l, "192.0.2.10"));
	assert_false(has(l, "192.0.2.1"));
	af_feed_info(l, &fi);
	assert_string_equal(fi.error, "");
	assert_int_equal(fi.refusals, 3);
	assert_int_equal(fi.swaps, 1);
	af_rules_free(r);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_load_error_frees_feeds(void **state)
{
	long live = test_host_shm_live();
	char text[2048];
	const char *p;

	p = test_write_file("feed.txt", "192.0.2.1\n");
	snprintf(list_path, sizeof(list_path), "%s", p);
	/* a list with a file, then an error further down */
	snprintf(text, sizeof(text),
			"version: 1\nlists:\n  a: {file: %s}\n  b: {file: %s}\n"
			"profiles:\n  default:\n    deny: [nosuchlist]\n",
			list_path, list_path);
	p = test_write_file("rules.yaml", text);
	assert_null(af_rules_load(p, err, sizeof(err)));
	assert_non_null(strstr(err, "nosuchlist"));
	assert_int_equal(test_host_shm_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_swap),
		cmocka_unit_test(test_bad_version_keeps_list),
		cmocka_unit_test(test_load_error_frees_feeds),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
