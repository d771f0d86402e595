/*
 * antifraud unit tests - time: zone offsets against known changes and
 * against glibc itself, local dates across midnight, New Year and leap
 * days, refused zone names, TZ left as it was, calendars (business hours,
 * holidays, ranges crossing midnight, DST days), time-of-day slots, and
 * every class of error with its "file:line: key.path: message".
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "af_host.h"
#include "af_arena.h"
#include "af_sched.h"
#include "af_yaml.h"
#include "host.h"

#define ZI "/usr/share/zoneinfo"
#define MS(s) ((uint64_t)(s) * 1000)

static char err[1024];
static char path_buf[512];

/* UTC seconds of a civil UTC time */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm);
}

/* a local time built by hand, for calendar checks (weekday from libc) */
static af_local_t civil(int y, int mo, int d, int h, int mi)
{
	af_local_t lt;
	struct tm tm;
	time_t t = (time_t)utc(y, mo, d, h, mi, 0);

	gmtime_r(&t, &tm);
	memset(&lt, 0, sizeof(lt));
	lt.year = (uint16_t)y;
	lt.month = (uint8_t)mo;
	lt.day = (uint8_t)d;
	lt.wday = (uint8_t)tm.tm_wday;
	lt.minute = (uint16_t)(h * 60 + mi);
	lt.date = (uint32_t)(y * 10000 + mo * 100 + d);
	return lt;
}

/* the offset of UTC second t in tz */
static int32_t off_at(const af_tz_t *tz, int64_t t)
{
	af_local_t lt;

	af_tz_local(tz, MS(t), &lt);
	return lt.offset_s;
}

/* loads name with the table starting around now_s; fails the test if not */
static const af_tz_t *zone(af_arena_t *a, const char *name, int64_t now_s)
{
	const af_tz_t *tz = af_tz_load(a, name, MS(now_s), err, sizeof(err));

	if(!tz)
		fail_msg("%s: %s", name, err);
	assert_string_equal(af_tz_name(tz), name);
	return tz;
}

static void test_offsets(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	int64_t now = utc(2026, 1, 1, 0, 0, 0), t;
	const af_tz_t *tz;

	test_host_set_now(MS(now));

	tz = zone(a, "Europe/Berlin", now);
	t = utc(2026, 3, 29, 1, 0, 0);
	assert_int_equal(off_at(tz, t - 1), 3600);
	assert_int_equal(off_at(tz, t), 7200);
	assert_int_equal(off_at(tz, t + 1), 7200);
	t = utc(2026, 10, 25, 1, 0, 0);
	assert_int_equal(off_at(tz, t - 1), 7200);
	assert_int_equal(off_at(tz, t), 3600);
	/* milliseconds: the change is at the second, not after it */
	{
		af_local_t lt;
		af_tz_local(tz, MS(t) - 1, &lt);
		assert_int_equal(lt.offset_s, 7200);
		af_tz_local(tz, MS(t) + 999, &lt);
		assert_int_equal(lt.offset_s, 3600);
	}
	/* years later, in the table */
	t = utc(2035, 3, 25, 1, 0, 0);
	assert_int_equal(off_at(tz, t - 1), 3600);
	assert_int_equal(off_at(tz, t), 7200);

	tz = zone(a, "America/New_York", now);
	t = utc(2026, 3, 8, 7, 0, 0);
	assert_int_equal(off_at(tz, t - 1), -18000);
	assert_int_equal(off_at(tz, t), -14400);
	t = utc(2026, 11, 1, 6, 0, 0);
	assert_int_equal(off_at(tz, t - 1), -14400);
	assert_int_equal(off_at(tz, t), -18000);

	/* southern hemisphere: summer time over New Year */
	tz = zone(a, "Australia/Sydney", now);
	assert_int_equal(off_at(tz, now), 39600);
	t = utc(2026, 4, 4, 16, 0, 0);
	assert_int_equal(off_at(tz, t - 1), 39600);
	assert_int_equal(off_at(tz, t), 36000);
	t = utc(2026, 10, 3, 16, 0, 0);
	assert_int_equal(off_at(tz, t - 1), 36000);
	assert_int_equal(off_at(tz, t), 39600);

	tz = zone(a, "Asia/Kolkata", now);
	for(t = now - 86400; t < now + 10 * 365 * 86400LL; t += 86400 * 7 + 3)
		assert_int_equal(off_at(tz, t), 19800);

	/* half-hour standard time, half-hour summer time */
	tz = zone(a, "Australia/Lord_Howe", now);
	assert_int_equal(off_at(tz, now), 39600);
	t = utc(2026, 4, 4, 15, 0, 0);
	assert_int_equal(off_at(tz, t - 1), 39600);
	assert_int_equal(off_at(tz, t), 37800);
	t = utc(2026, 10, 3, 15, 30, 0);
	assert_int_equal(off_at(tz, t - 1), 37800);
	assert_int_equal(off_at(tz, t), 39600);

	tz = zone(a, "Asia/Kathmandu", now);
	assert_int_equal(off_at(tz, now), 20700);
	assert_int_equal(off_at(tz, utc(2031, 7, 1, 0, 0, 0)), 20700);

	tz = zone(a, "UTC", now);
	assert_int_equal(off_at(tz, now), 0);
	assert_int_equal(off_at(tz, utc(2030, 7, 1, 0, 0, 0)), 0);

	/* a POSIX-looking name that is a real tzdata file */
	tz = zone(a, "EST5EDT", now);
	assert_int_equal(off_at(tz, utc(2026, 1, 15, 0, 0, 0)), -18000);
	assert_int_equal(off_at(tz, utc(2026, 7, 15, 0, 0, 0)), -14400);
	tz = zone(a, "Etc/GMT+5", now);
	assert_int_equal(off_at(tz, now), -18000);

	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

/* before the table: its first offset; after: its last one */
static void test_table_bounds(void **state)
{
	af_arena_t *a = af_arena_new(0);
	int64_t now = utc(2026, 6, 1, 0, 0, 0);
	const af_tz_t *tz = zone(a, "Europe/Berlin", now);

	assert_int_equal(off_at(tz, utc(2026, 5, 31, 0, 0, 0)), 7200);
	assert_int_equal(off_at(tz, utc(2026, 1, 15, 0, 0, 0)), 7200);
	assert_int_equal(off_at(tz, 0), 7200);
	/* the table reaches AF_TZ_YEARS: winter 2035/36 is known */
	assert_int_equal(off_at(tz, utc(2036, 1, 15, 0, 0, 0)), 3600);
	assert_int_equal(off_at(tz, utc(2036, 3, 30, 1, 0, 0)), 7200);
	/* past its end the last offset stays */
	assert_int_equal(off_at(tz, utc(2037, 1, 15, 0, 0, 0)), 7200);
	af_arena_free(a);
}

/* sets TZ to value (NULL: unset) and tells glibc */
static void set_tz(const char *value)
{
	if(value)
		setenv("TZ", value, 1);
	else
		unsetenv("TZ");
	tzset();
}

/*
 * Compares af_tz_local() with glibc's localtime_r() for the zone name,
 * every step seconds over the table of a load at now: offset, date,
 * weekday and minute.
 */
static void compare_glibc(const char *name, int64_t now, int64_t step)
{
	af_arena_t *a = af_arena_new(0);
	const af_tz_t *tz = zone(a, name, now);
	char tzval[300];
	af_local_t lt;
	struct tm tm;
	time_t tt;
	int64_t t, end = now + (AF_TZ_YEARS * 365 - 1) * 86400LL;
	long n = 0;

	snprintf(tzval, sizeof(tzval), ":%s", name);
	set_tz(tzval);
	for(t = now - 86400; t < end; t += step, n++) {
		tt = (time_t)t;
		assert_non_null(localtime_r(&tt, &tm));
		af_tz_local(tz, MS(t) + (uint64_t)(n % 1000), &lt);
		if(lt.offset_s != tm.tm_gmtoff || lt.year != tm.tm_year + 1900
				|| lt.month != tm.tm_mon + 1 || lt.day != tm.tm_mday
				|| lt.wday != tm.tm_wday
				|| lt.minute != tm.tm_hour * 60 + tm.tm_min
				|| lt.date
						   != (uint32_t)((tm.tm_year + 1900) * 10000
								   + (tm.tm_mon + 1) * 100 + tm.tm_mday))
			fail_msg("%s at %lld: got %+d %u-%02u-%02u wday %u minute %u "
					 "(%u), glibc %+ld %d-%02d-%02d wday %d minute %d",
					name, (long long)t, lt.offset_s, lt.year, lt.month, lt.day,
					lt.wday, lt.minute, lt.date, tm.tm_gmtoff,
					tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_wday,
					tm.tm_hour * 60 + tm.tm_min);
	}
	set_tz(NULL);
	af_arena_free(a);
}

/* the whole table of each zone agrees with glibc, at odd seconds */
static void test_against_glibc(void **state)
{
	static const char *const zones[] = {"Europe/Berlin", "America/New_York",
			"Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata",
			"Asia/Kathmandu", "UTC", "America/Santiago", "Africa/Casablanca",
			"Pacific/Chatham", "America/St_Johns", "Europe/London"};
	int64_t now = utc(2026, 2, 10, 12, 0, 0);
	size_t i;

	for(i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		compare_glibc(zones[i], now, 1799);
}

/* local date, weekday and minute across midnight, New Year, leap days */
static void test_local_dates(void **state)
{
	af_arena_t *a = af_arena_new(0);
	int64_t now = utc(2026, 1, 1, 0, 0, 0);
	const af_tz_t *ber = zone(a, "Europe/Berlin", now);
	const af_tz_t *ny = zone(a, "America/New_York", now);
	const af_tz_t *ktm = zone(a, "Asia/Kathmandu", now);
	af_local_t lt;

	/* New Year in Berlin comes an hour before UTC's */
	af_tz_local(ber, MS(utc(2026, 12, 31, 23, 30, 0)), &lt);
	assert_int_equal(lt.year, 2027);
	assert_int_equal(lt.month, 1);
	assert_int_equal(lt.day, 1);
	assert_int_equal(lt.wday, 5); /* Friday */
	assert_int_equal(lt.minute, 30);
	assert_int_equal(lt.date, 20270101);
	assert_int_equal(lt.offset_s, 3600);
	af_tz_local(ber, MS(utc(2026, 12, 31, 22, 59, 59)), &lt);
	assert_int_equal(lt.date, 20261231);
	assert_int_equal(lt.wday, 4);
	assert_int_equal(lt.minute, 23 * 60 + 59);

	/* behind UTC: still the old year */
	af_tz_local(ny, MS(utc(2027, 1, 1, 3, 0, 0)), &lt);
	assert_int_equal(lt.date, 20261231);
	assert_int_equal(lt.wday, 4);
	assert_int_equal(lt.minute, 22 * 60);
	assert_int_equal(lt.offset_s, -18000);

	/* leap day 2028 */
	af_tz_local(ber, MS(utc(2028, 2, 28, 23, 30, 0)), &lt);
	assert_int_equal(lt.date, 20280229);
	assert_int_equal(lt.month, 2);
	assert_int_equal(lt.day, 29);
	assert_int_equal(lt.wday, 2); /* Tuesday */
	assert_int_equal(lt.minute, 30);
	af_tz_local(ber, MS(utc(2028, 2, 29, 23, 0, 0)), &lt);
	assert_int_equal(lt.date, 20280301);
	assert_int_equal(lt.wday, 3);
	assert_int_equal(lt.minute, 0);
	/* no leap day in 2027 */
	af_tz_local(ber, MS(utc(2027, 2, 28, 23, 0, 0)), &lt);
	assert_int_equal(lt.date, 20270301);
	assert_int_equal(lt.wday, 1);

	/* the spring gap: 01:59 then 03:00 */
	af_tz_local(ber, MS(utc(2026, 3, 29, 0, 59, 59)), &lt);
	assert_int_equal(lt.minute, 119);
	af_tz_local(ber, MS(utc(2026, 3, 29, 1, 0, 0)), &lt);
	assert_int_equal(lt.minute, 180);
	assert_int_equal(lt.wday, 0);

	/* 45 minutes past midnight in Kathmandu: 18:15 UTC */
	af_tz_local(ktm, MS(utc(2026, 5, 31, 18, 15, 0)), &lt);
	assert_int_equal(lt.date, 20260601);
	assert_int_equal(lt.minute, 0);
	af_tz_local(ktm, MS(utc(2026, 5, 31, 18, 14, 59)), &lt);
	assert_int_equal(lt.date, 20260531);
	assert_int_equal(lt.minute, 1439);

	/* the epoch and a far date, in a zone without changes */
	{
		const af_tz_t *u = zone(a, "UTC", now);
		af_tz_local(u, 0, &lt);
		assert_int_equal(lt.date, 19700101);
		assert_int_equal(lt.wday, 4);
		af_tz_local(u, MS(utc(2100, 2, 28, 12, 0, 0)), &lt);
		assert_int_equal(lt.date, 21000228);
		af_tz_local(u, MS(utc(2100, 3, 1, 0, 0, 0)), &lt);
		assert_int_equal(lt.date, 21000301);
		assert_int_equal(lt.wday, 1);
		af_tz_local(u, MS(utc(2000, 2, 29, 0, 0, 0)), &lt);
		assert_int_equal(lt.date, 20000229);
		assert_int_equal(lt.wday, 2);
	}
	af_arena_free(a);
}

/* a zone name refused with exactly this message */
static void bad_zone(af_arena_t *a, const char *name, const char *msg)
{
	size_t before = af_arena_size(a);

	if(af_tz_load(a, name, MS(utc(2026, 1, 1, 0, 0, 0)), err, sizeof(err)))
		fail_msg("'%s' loaded", name);
	if(strcmp(err, msg) != 0)
		fail_msg("'%s':\n got  %s\n want %s", name, err, msg);
	assert_int_equal(af_arena_size(a), before);
}

static void test_bad_zones(void **state)
{
	af_arena_t *a = af_arena_new(0);
	const char *tzdir = getenv("TZDIR");
	char *saved = tzdir ? strdup(tzdir) : NULL;

	unsetenv("TZDIR");
	bad_zone(a, "Mars/Olympus",
			"unknown time zone 'Mars/Olympus' (no " ZI "/Mars/Olympus)");
	bad_zone(a, "../etc/passwd",
			"time zone '../etc/passwd' must be a name under " ZI
			" (no '.', '..' or empty parts)");
	bad_zone(a, "Europe/../../../etc/passwd",
			"time zone 'Europe/../../../etc/passwd' must be a name under " ZI
			" (no '.', '..' or empty parts)");
	bad_zone(a, "Europe/../UTC",
			"time zone 'Europe/../UTC' must be a name under " ZI
			" (no '.', '..' or empty parts)");
	bad_zone(a, "./UTC",
			"time zone './UTC' must be a name under " ZI
			" (no '.', '..' or empty parts)");
	bad_zone(a, "Europe//Berlin",
			"time zone 'Europe//Berlin' must be a name under " ZI
			" (no '.', '..' or empty parts)");
	bad_zone(a, "Europe/Berlin/",
			"time zone 'Europe/Berlin/' must be a name under " ZI
			" (no '.', '..' or empty parts)");
	bad_zone(a, ZI "/UTC",
			"time zone '" ZI "/UTC' is a path: give a name under " ZI
			", such as Europe/Berlin");
	bad_zone(a, "", "empty time zone name");
	bad_zone(a, NULL, "empty time zone name");
	bad_zone(a, "Europe",
			"'Europe' is not a time zone (" ZI "/Europe is a directory)");
	bad_zone(a, "zone.tab",
			"'zone.tab' is not a time zone (" ZI "/zone.tab is not a TZif "
			"file)");
	bad_zone(a, "EST5EDT,M3.2.0",
			"'EST5EDT,M3.2.0' is not a time zone name (letters, digits, '/', "
			"'_', '-', '+' and '.'; POSIX TZ strings are not accepted)");
	bad_zone(a, "<+03>-3",
			"'<+03>-3' is not a time zone name (letters, digits, '/', "
			"'_', '-', '+' and '.'; POSIX TZ strings are not accepted)");
	bad_zone(a, "Europe/Berlin ",
			"'Europe/Berlin ' is not a time zone name (letters, digits, '/', "
			"'_', '-', '+' and '.'; POSIX TZ strings are not accepted)");
	bad_zone(a, "UTC+3", "unknown time zone 'UTC+3' (no " ZI "/UTC+3)");
	bad_zone(a, "europe/berlin",
			"unknown time zone 'europe/berlin' (no " ZI "/europe/berlin)");
	bad_zone(a, "UTC/x", "unknown time zone 'UTC/x' (no " ZI "/UTC/x)");
	bad_zone(a, "right/UTC",
			"time zone 'right/UTC' counts leap seconds: use the name without "
			"'right/'");
	{
		char longname[300];
		memset(longname, 'A', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		bad_zone(a, longname,
				"time zone name too long (299 bytes, at most 255)");
	}
	if(saved) {
		setenv("TZDIR", saved, 1);
		free(saved);
	}
	af_arena_free(a);
}

/* a TZDIR of our own: the check and glibc both look there */
static void test_tzdir(void **state)
{
	af_arena_t *a = af_arena_new(0);
	char dir[512], sub[600], dst[700], msg[1024];
	const af_tz_t *tz;
	FILE *in, *out;
	char buf[4096];
	size_t k;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", test_write_file("notzif", "hello\n"));
	slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = '\0';
	snprintf(sub, sizeof(sub), "%s/My", dir);
	mkdir(sub, 0700);
	snprintf(dst, sizeof(dst), "%s/Zone", sub);
	in = fopen(ZI "/Asia/Kolkata", "rb");
	assert_non_null(in);
	out = fopen(dst, "wb");
	assert_non_null(out);
	while((k = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, k, out), k);
	fclose(in);
	fclose(out);

	setenv("TZDIR", dir, 1);
	tz = zone(a, "My/Zone", utc(2026, 1, 1, 0, 0, 0));
	assert_int_equal(off_at(tz, utc(2026, 7, 1, 0, 0, 0)), 19800);
	assert_null(af_tz_load(a, "Europe/Berlin", 0, err, sizeof(err)));
	snprintf(msg, sizeof(msg), "unknown time zone 'Europe/Berlin' (no %s/"
			"Europe/Berlin)", dir);
	assert_string_equal(err, msg);
	assert_null(af_tz_load(a, "notzif", 0, err, sizeof(err)));
	snprintf(msg, sizeof(msg), "'notzif' is not a time zone (%s/notzif is "
			"not a TZif file)", dir);
	assert_string_equal(err, msg);
	unsetenv("TZDIR");
	af_arena_free(a);
}

/* the gmtoff glibc gives now for the TZ of the process */
static long process_gmtoff(void)
{
	time_t t = (time_t)utc(2026, 7, 1, 0, 0, 0);
	struct tm tm;

	assert_non_null(localtime_r(&t, &tm));
	return tm.tm_gmtoff;
}

/* TZ is the caller's again after a load, set or not, ok or not */
static void test_tz_restored(void **state)
{
	af_arena_t *a = af_arena_new(0);
	uint64_t now = MS(utc(2026, 1, 1, 0, 0, 0));
	long sys;

	set_tz("Asia/Tokyo");
	assert_int_equal(process_gmtoff(), 32400);
	assert_non_null(af_tz_load(a, "Europe/Berlin", now, err, sizeof(err)));
	assert_non_null(getenv("TZ"));
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	assert_int_equal(process_gmtoff(), 32400);
	assert_null(af_tz_load(a, "Mars/Olympus", now, err, sizeof(err)));
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");

	set_tz(":America/New_York");
	assert_non_null(af_tz_load(a, "Asia/Kolkata", now, err, sizeof(err)));
	assert_string_equal(getenv("TZ"), ":America/New_York");
	assert_int_equal(process_gmtoff(), -14400);

	set_tz("");
	assert_non_null(af_tz_load(a, "Asia/Kolkata", now, err, sizeof(err)));
	assert_non_null(getenv("TZ"));
	assert_string_equal(getenv("TZ"), "");

	set_tz(NULL);
	sys = process_gmtoff(); /* /etc/localtime */
	assert_non_null(af_tz_load(a, "Australia/Lord_Howe", now, err,
			sizeof(err)));
	assert_null(getenv("TZ"));
	assert_int_equal(process_gmtoff(), sys);
	af_arena_free(a);
}

/* nanoseconds since some moment */
static double mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* load time per zone and lookup time, printed (sanitizer build: slow) */
static void test_speed(void **state)
{
	static const char *const zones[] = {"UTC", "Europe/Berlin",
			"America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"};
	uint64_t now = MS(utc(2026, 1, 1, 0, 0, 0)), t;
	const af_tz_t *tz = NULL;
	volatile uint32_t sink = 0;
	af_local_t lt;
	af_arena_t *a;
	double t0, ns;
	size_t i;
	int j, rounds = 20;
	long n = 2000000, k;

	for(i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		a = af_arena_new(0);
		t0 = mono_ns();
		for(j = 0; j < rounds; j++) {
			tz = af_tz_load(a, zones[i], now + (uint64_t)j * 86400000,
					err, sizeof(err));
			assert_non_null(tz);
		}
		ns = (mono_ns() - t0) / rounds;
		printf("af_tz_load %-20s %.3f ms\n", zones[i], ns / 1e6);
		/* a generous bound even for a sanitizer build */
		assert_true(ns < 200e6);
		af_arena_free(a);
	}

	a = af_arena_new(0);
	tz = zone(a, "Europe/Berlin", utc(2026, 1, 1, 0, 0, 0));
	t0 = mono_ns();
	for(k = 0, t = now; k < n; k++, t += 157079633) {
		af_tz_local(tz, t, &lt);
		sink += lt.date + lt.minute;
	}
	ns = (mono_ns() - t0) / (double)n;
	printf("af_tz_local Europe/Berlin %.1f ns\n", ns);
	(void)sink;
	af_arena_free(a);
}

static void test_minrange(void **state)
{
	static const struct {
		const char *s;
		int from, to;
	} good[] = {
			{"08:00-18:00", 480, 1080},
			{"00:00-24:00", 0, 1440},
			{"22:00-06:00", 1320, 360},
			{"23:59-00:00", 1439, 0},
			{"00:00-00:00", 0, 0},
			{"12:34-12:34", 754, 754},
			{"09:05-17:45", 545, 1065},
	};
	static const char *const bad[] = {"8-18", "8:00-18:00", "08:00-18:0",
			"08:00 18:00", "08:00-24:01", "08:00-25:00", "24:00-06:00",
			"24:00-24:00", "08:60-09:00", "08:00-18:00 ", " 08:00-18:00",
			"08:00-18:00-", "0a:00-18:00", "08.00-18.00", "", "-",
			"08:00--8:00", "+8:00-18:00"};
	af_minrange_t r;
	size_t i;

	for(i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if(af_minrange_parse(good[i].s, strlen(good[i].s), &r) != 0)
			fail_msg("'%s' refused", good[i].s);
		assert_int_equal(r.from, good[i].from);
		assert_int_equal(r.to, good[i].to);
	}
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if(af_minrange_parse(bad[i], strlen(bad[i]), &r) == 0)
			fail_msg("'%s' accepted", bad[i]);
	}
	/* the length is what counts, not a NUL */
	assert_int_equal(af_minrange_parse("08:00-18:00xyz", 11, &r), 0);
	assert_int_equal(r.to, 1080);

	r.from = 480;
	r.to = 1080;
	assert_false(af_minrange_has(&r, 479));
	assert_true(af_minrange_has(&r, 480));
	assert_true(af_minrange_has(&r, 1079));
	assert_false(af_minrange_has(&r, 1080));
	r.from = 1320;
	r.to = 360;
	assert_true(af_minrange_has(&r, 1320));
	assert_true(af_minrange_has(&r, 1439));
	assert_true(af_minrange_has(&r, 0));
	assert_true(af_minrange_has(&r, 359));
	assert_false(af_minrange_has(&r, 360));
	assert_false(af_minrange_has(&r, 1319));
	r.from = r.to = 600;
	assert_true(af_minrange_has(&r, 0));
	assert_true(af_minrange_has(&r, 1439));
	r.from = 0;
	r.to = 1440;
	assert_true(af_minrange_has(&r, 0));
	assert_true(af_minrange_has(&r, 1439));
}

/* what a test document holds: calendars and slot sets by name */
#define DOC_MAX 8
typedef struct doc {
	uint64_t now_ms;
	af_calendar_t cal[DOC_MAX];
	size_t n_cal;
	af_slots_t slots[DOC_MAX];
	const char *slot_name[DOC_MAX];
	size_t n_slots;
} doc_t;

/*
 * Reads a mapping of named items under key into d, as the rule loader
 * does: the key path is "<key>.<name>".
 */
static int build_group(af_yl_t *y, const yaml_node_t *n, const char *key,
		doc_t *d)
{
	yaml_node_t *k, *v;
	size_t i, count, old, old2;
	const char *s;
	size_t len;
	int rc;

	old = af_yl_push(y, key, strlen(key));
	if(af_yl_names(y, n, &count) < 0)
		return -1;
	if(count > DOC_MAX)
		return af_yl_err(y, n, "test: too many");
	for(i = 0; i < count; i++) {
		af_yl_pair(y, n, i, &k, &v);
		if(af_yl_name(y, k, key, 32, &s, &len) < 0)
			return -1;
		old2 = af_yl_push(y, s, len);
		if(key[0] == 'c') {
			d->cal[i].name = af_arena_strndup(y->arena, s, len);
			rc = af_cal_parse(y, v, d->now_ms, &d->cal[i]);
			d->n_cal = i + 1;
		} else {
			d->slot_name[i] = af_arena_strndup(y->arena, s, len);
			rc = af_slots_parse(y, v, &d->slots[i]);
			d->n_slots = i + 1;
		}
		if(rc < 0)
			return -1;
		af_yl_pop(y, old2);
	}
	af_yl_pop(y, old);
	return 0;
}

/* af_yl_load() callback: a top mapping of calendars and slots */
static int build_doc(af_yl_t *y, void *arg)
{
	static const char *const names[] = {"calendars", "slots"};
	yaml_node_t *root = yaml_document_get_root_node(y->doc);
	yaml_node_t *v[2];
	doc_t *d = arg;

	if(af_yl_map(y, root, names, 2, v, NULL) < 0)
		return -1;
	if(v[0] && build_group(y, v[0], "calendars", d) < 0)
		return -1;
	if(v[1] && build_group(y, v[1], "slots", d) < 0)
		return -1;
	return 0;
}

/*
 * Writes text to a file and reads it into d, in a new arena *a (to be
 * freed by the caller, also on failure). Returns what af_yl_load did.
 */
static int parse_doc(const char *text, doc_t *d, af_arena_t **a)
{
	af_yl_t y;
	const char *p = test_write_file("sched.yaml", text);

	assert_non_null(p);
	snprintf(path_buf, sizeof(path_buf), "%s", p);
	memset(d, 0, sizeof(*d));
	d->now_ms = af_now_ms();
	*a = af_arena_new(0);
	assert_non_null(*a);
	memset(&y, 0, sizeof(y));
	y.file = path_buf;
	y.arena = *a;
	y.err = err;
	y.errlen = sizeof(err);
	err[0] = '\0';
	return af_yl_load(&y, "test file", build_doc, d);
}

/* the calendar named name of d */
static const af_calendar_t *cal_of(const doc_t *d, const char *name)
{
	size_t i;

	for(i = 0; i < d->n_cal; i++)
		if(strcmp(d->cal[i].name, name) == 0)
			return &d->cal[i];
	fail_msg("no calendar %s", name);
	return NULL;
}

/* the slot set named name of d */
static const af_slots_t *slots_of(const doc_t *d, const char *name)
{
	size_t i;

	for(i = 0; i < d->n_slots; i++)
		if(strcmp(d->slot_name[i], name) == 0)
			return &d->slots[i];
	fail_msg("no slots %s", name);
	return NULL;
}

/* in business hours at a local time given by hand */
static int in_at(const af_calendar_t *c, int y, int mo, int d, int h, int mi)
{
	af_local_t lt = civil(y, mo, d, h, mi);

	return af_cal_in_hours(c, &lt);
}

/* a holiday on a local date given by hand */
static int off_on(const af_calendar_t *c, int y, int mo, int d)
{
	af_local_t lt = civil(y, mo, d, 12, 0);

	return af_cal_holiday(c, &lt);
}

/* in business hours at UTC second t, through the calendar's zone */
static int in_utc(const af_calendar_t *c, int64_t t)
{
	af_local_t lt;

	af_tz_local(c->tz, MS(t), &lt);
	return af_cal_in_hours(c, &lt);
}

static const char cal_text[] =
		"calendars:\n"
		"  biz:\n"
		"    timezone: Europe/Berlin\n"
		"    hours:\n"
		"      mon-fri: \"08:00-18:00\"\n"
		"    holidays: [\"2026-05-01\", \"12-25\", \"01-01\"]\n"
		"  split:\n"
		"    timezone: Europe/Berlin\n"
		"    workdays: [mon-fri, sat]\n"
		"    hours:\n"
		"      mon-fri: [\"13:30-18:00\", \"08:00-12:30\"]\n"
		"      sat: \"09:00-13:00\"\n"
		"  night:\n"
		"    timezone: Europe/Berlin\n"
		"    hours:\n"
		"      mon-wed: \"08:00-18:00\"\n"
		"      thu-fri: \"22:00-06:00\"\n"
		"    holidays:\n"
		"      - 2026-03-13\n"
		"      - 2026-04-03\n"
		"  weekend:\n"
		"    timezone: UTC\n"
		"    workdays: [saturday, sunday]\n"
		"    hours:\n"
		"      sat-sun: \"00:00-24:00\"\n"
		"      mon: \"10:00-10:00\"\n"
		"  sundays:\n"
		"    timezone: Europe/Berlin\n"
		"    workdays: sun-sat\n"
		"    hours:\n"
		"      sun: [\"01:00-04:00\", \"08:00-18:00\"]\n"
		"  leap:\n"
		"    timezone: America/New_York\n"
		"    workdays: [fri-mon]\n"
		"    hours: {sun: \"09:00-17:00\", fri: \"23:00-00:00\"}\n"
		"    holidays: [\"02-29\", \"2027-01-01\", \"2027-01-01\","
		" \"12-26\", \"01-01\", \"12-25\", \"2026-12-24\"]\n"
		"  bare:\n"
		"    timezone: Asia/Kolkata\n";

static void test_calendars(void **state)
{
	long live = test_host_shm_live();
	const af_calendar_t *c;
	af_arena_t *a;
	af_local_t lt;
	doc_t d;
	int h, m;

	test_host_set_now(MS(utc(2026, 1, 1, 0, 0, 0)));
	if(parse_doc(cal_text, &d, &a) != 0)
		fail_msg("%s", err);
	assert_int_equal(d.n_cal, 7);

	/* Mon-Fri 08:00-18:00, every edge minute */
	c = cal_of(&d, "biz");
	assert_string_equal(af_tz_name(c->tz), "Europe/Berlin");
	assert_int_equal(c->workdays, 0x3e);
	assert_false(in_at(c, 2026, 3, 2, 7, 59));
	assert_true(in_at(c, 2026, 3, 2, 8, 0));
	assert_true(in_at(c, 2026, 3, 2, 12, 0));
	assert_true(in_at(c, 2026, 3, 2, 17, 59));
	assert_false(in_at(c, 2026, 3, 2, 18, 0));
	assert_false(in_at(c, 2026, 3, 2, 0, 0));
	assert_false(in_at(c, 2026, 3, 2, 23, 59));
	assert_true(in_at(c, 2026, 3, 6, 17, 59)); /* Friday */
	assert_false(off_on(c, 2026, 3, 6));
	/* Saturday and Sunday: holidays, no hours */
	assert_true(off_on(c, 2026, 3, 7));
	assert_true(off_on(c, 2026, 3, 8));
	assert_false(in_at(c, 2026, 3, 7, 10, 0));
	assert_false(in_at(c, 2026, 3, 8, 10, 0));
	/* a listed date (a Friday), only that year */
	assert_true(off_on(c, 2026, 5, 1));
	assert_false(in_at(c, 2026, 5, 1, 10, 0));
	assert_false(off_on(c, 2026, 4, 30));
	assert_true(in_at(c, 2026, 4, 30, 10, 0));
	assert_false(off_on(c, 2030, 5, 1)); /* a Wednesday */
	assert_true(in_at(c, 2030, 5, 1, 10, 0));
	/* yearly 12-25 */
	assert_true(off_on(c, 2026, 12, 25));
	assert_false(in_at(c, 2026, 12, 25, 10, 0));
	assert_true(off_on(c, 2030, 12, 25));
	assert_false(in_at(c, 2030, 12, 25, 10, 0));
	assert_false(off_on(c, 2026, 12, 24));
	assert_true(in_at(c, 2026, 12, 24, 10, 0));
	assert_int_equal(c->n_dates, 1);
	assert_int_equal(c->dates[0], 20260501);
	assert_int_equal(c->n_yearly, 2);
	assert_int_equal(c->yearly[0], 101);
	assert_int_equal(c->yearly[1], 1225);
	/* through the zone: 08:00 local is 07:00 UTC in winter, 06:00 in
	 * summer */
	assert_false(in_utc(c, utc(2026, 3, 2, 6, 59, 59)));
	assert_true(in_utc(c, utc(2026, 3, 2, 7, 0, 0)));
	assert_true(in_utc(c, utc(2026, 3, 2, 16, 59, 59)));
	assert_false(in_utc(c, utc(2026, 3, 2, 17, 0, 0)));
	assert_false(in_utc(c, utc(2026, 7, 1, 5, 59, 59)));
	assert_true(in_utc(c, utc(2026, 7, 1, 6, 0, 0)));
	assert_true(in_utc(c, utc(2026, 7, 1, 15, 59, 59)));
	assert_false(in_utc(c, utc(2026, 7, 1, 16, 0, 0)));
	/* New Year: Friday 2027-01-01 00:30 in Berlin is a holiday */
	af_tz_local(c->tz, MS(utc(2026, 12, 31, 23, 30, 0)), &lt);
	assert_int_equal(lt.date, 20270101);
	assert_int_equal(lt.wday, 5);
	assert_true(af_cal_holiday(c, &lt));
	/* every minute of a Tuesday */
	for(h = 0; h < 24; h++)
		for(m = 0; m < 60; m++)
			assert_int_equal(in_at(c, 2026, 3, 3, h, m), h >= 8 && h < 18);

	/* two ranges a day, listed out of order; Saturday a workday */
	c = cal_of(&d, "split");
	assert_int_equal(c->workdays, 0x7e);
	assert_int_equal(c->n_hours[1], 2);
	assert_int_equal(c->hours[1][0].from, 480);
	assert_int_equal(c->hours[1][1].from, 810);
	assert_ptr_equal(c->hours[1], c->hours[5]); /* shared by mon-fri */
	assert_int_equal(c->n_hours[0], 0);
	assert_true(in_at(c, 2026, 3, 4, 12, 29));
	assert_false(in_at(c, 2026, 3, 4, 12, 30));
	assert_false(in_at(c, 2026, 3, 4, 13, 29));
	assert_true(in_at(c, 2026, 3, 4, 13, 30));
	assert_false(off_on(c, 2026, 3, 7));
	assert_false(in_at(c, 2026, 3, 7, 8, 59));
	assert_true(in_at(c, 2026, 3, 7, 9, 0));
	assert_true(in_at(c, 2026, 3, 7, 12, 59));
	assert_false(in_at(c, 2026, 3, 7, 13, 0));
	assert_true(off_on(c, 2026, 3, 8));

	/* ranges across midnight */
	c = cal_of(&d, "night");
	assert_false(in_at(c, 2026, 3, 6, 21, 59)); /* Friday */
	assert_true(in_at(c, 2026, 3, 6, 22, 0));
	assert_true(in_at(c, 2026, 3, 6, 23, 59));
	assert_true(off_on(c, 2026, 3, 7)); /* Saturday: holiday ... */
	assert_true(in_at(c, 2026, 3, 7, 0, 0)); /* ... Friday's night runs on */
	assert_true(in_at(c, 2026, 3, 7, 3, 0));
	assert_true(in_at(c, 2026, 3, 7, 5, 59));
	assert_false(in_at(c, 2026, 3, 7, 6, 0));
	assert_false(in_at(c, 2026, 3, 7, 7, 0));
	assert_false(in_at(c, 2026, 3, 7, 22, 0)); /* Saturday: none */
	assert_false(in_at(c, 2026, 3, 8, 3, 0));  /* Sunday morning */
	assert_false(in_at(c, 2026, 3, 9, 3, 0));  /* Monday morning */
	assert_true(in_at(c, 2026, 3, 9, 8, 0));
	assert_false(in_at(c, 2026, 3, 12, 3, 0)); /* Wednesday: day hours */
	assert_false(in_at(c, 2026, 3, 12, 10, 0)); /* Thursday: nights only */
	assert_true(in_at(c, 2026, 3, 12, 23, 0));
	/* Friday 13th is listed: Thursday's night still runs into it, but
	 * its own night does not start */
	assert_true(off_on(c, 2026, 3, 13));
	assert_true(in_at(c, 2026, 3, 13, 1, 0));
	assert_true(in_at(c, 2026, 3, 13, 5, 59));
	assert_false(in_at(c, 2026, 3, 13, 6, 0));
	assert_false(in_at(c, 2026, 3, 13, 22, 0));
	assert_false(in_at(c, 2026, 3, 14, 3, 0));
	/* Good Friday, the same */
	assert_false(in_at(c, 2026, 4, 3, 23, 0));
	assert_false(in_at(c, 2026, 4, 4, 3, 0));
	assert_true(in_at(c, 2026, 4, 3, 3, 0));

	/* whole days: 00:00-24:00, and from == to */
	c = cal_of(&d, "weekend");
	assert_int_equal(c->workdays, 0x41);
	assert_true(in_at(c, 2026, 3, 7, 0, 0));
	assert_true(in_at(c, 2026, 3, 7, 23, 59));
	assert_true(in_at(c, 2026, 3, 8, 12, 0));
	assert_false(off_on(c, 2026, 3, 8));
	assert_true(off_on(c, 2026, 3, 9));
	/* Monday's whole day is there, but Monday is not a workday */
	assert_false(in_at(c, 2026, 3, 9, 10, 0));
	assert_false(in_at(c, 2026, 3, 10, 0, 0));

	/* DST days: business hours are local hours */
	c = cal_of(&d, "sundays");
	assert_int_equal(c->workdays, 0x7f);
	/* 2026-03-29: 02:00 local does not exist */
	assert_false(in_utc(c, utc(2026, 3, 28, 23, 59, 59))); /* 00:59 */
	assert_true(in_utc(c, utc(2026, 3, 29, 0, 0, 0)));     /* 01:00 */
	assert_true(in_utc(c, utc(2026, 3, 29, 0, 59, 59)));   /* 01:59 */
	assert_true(in_utc(c, utc(2026, 3, 29, 1, 0, 0)));     /* 03:00 */
	assert_true(in_utc(c, utc(2026, 3, 29, 1, 59, 59)));   /* 03:59 */
	assert_false(in_utc(c, utc(2026, 3, 29, 2, 0, 0)));    /* 04:00 */
	assert_false(in_utc(c, utc(2026, 3, 29, 5, 59, 59)));  /* 07:59 */
	assert_true(in_utc(c, utc(2026, 3, 29, 6, 0, 0)));     /* 08:00 */
	assert_true(in_utc(c, utc(2026, 3, 29, 15, 59, 59)));  /* 17:59 */
	assert_false(in_utc(c, utc(2026, 3, 29, 16, 0, 0)));   /* 18:00 */
	/* the Sunday before, in winter time */
	assert_false(in_utc(c, utc(2026, 3, 22, 6, 59, 59)));
	assert_true(in_utc(c, utc(2026, 3, 22, 7, 0, 0)));
	assert_false(in_utc(c, utc(2026, 3, 22, 17, 0, 0)));
	/* 2026-10-25: 02:00-03:00 local twice */
	assert_true(in_utc(c, utc(2026, 10, 24, 23, 0, 0)));  /* 01:00 CEST */
	assert_true(in_utc(c, utc(2026, 10, 25, 0, 59, 59))); /* 02:59 CEST */
	assert_true(in_utc(c, utc(2026, 10, 25, 1, 0, 0)));   /* 02:00 CET */
	assert_true(in_utc(c, utc(2026, 10, 25, 2, 59, 59))); /* 03:59 CET */
	assert_false(in_utc(c, utc(2026, 10, 25, 3, 0, 0)));  /* 04:00 CET */
	assert_false(in_utc(c, utc(2026, 10, 25, 6, 59, 59)));
	assert_true(in_utc(c, utc(2026, 10, 25, 7, 0, 0)));
	assert_true(in_utc(c, utc(2026, 10, 25, 16, 59, 59)));
	assert_false(in_utc(c, utc(2026, 10, 25, 17, 0, 0)));

	/* New York: yearly 02-29, repeated dates, a Friday night to 24:00 */
	c = cal_of(&d, "leap");
	assert_int_equal(c->workdays, 0x63);
	assert_int_equal(c->n_dates, 2);
	assert_int_equal(c->dates[0], 20261224);
	assert_int_equal(c->dates[1], 20270101);
	assert_int_equal(c->n_yearly, 4);
	assert_int_equal(c->yearly[0], 101);
	assert_int_equal(c->yearly[1], 229);
	assert_int_equal(c->yearly[2], 1225);
	assert_int_equal(c->yearly[3], 1226);
	assert_true(off_on(c, 2032, 2, 29)); /* a Sunday */
	assert_false(off_on(c, 2032, 2, 28));
	assert_false(off_on(c, 2032, 3, 1)); /* a Monday */
	assert_false(in_at(c, 2032, 2, 29, 10, 0));
	assert_true(in_at(c, 2032, 3, 7, 10, 0));
	/* the switch day in New York: 09:00 EDT is 13:00 UTC */
	assert_false(in_utc(c, utc(2026, 3, 8, 12, 59, 59)));
	assert_true(in_utc(c, utc(2026, 3, 8, 13, 0, 0)));
	assert_true(in_utc(c, utc(2026, 3, 8, 20, 59, 59)));
	assert_false(in_utc(c, utc(2026, 3, 8, 21, 0, 0)));
	/* 23:00-00:00 crosses midnight without reaching into Saturday */
	assert_true(in_at(c, 2026, 3, 6, 23, 59));
	assert_false(in_at(c, 2026, 3, 7, 0, 0));

	/* only a zone: workdays Mon-Fri, no hours */
	c = cal_of(&d, "bare");
	assert_int_equal(c->workdays, 0x3e);
	assert_false(off_on(c, 2026, 3, 2));
	assert_false(in_at(c, 2026, 3, 2, 10, 0));
	assert_int_equal(c->n_dates + c->n_yearly, 0);

	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

/* the limit at minute m by looking at every range */
static uint32_t slow_limit(const af_slots_t *s, unsigned m)
{
	uint32_t i;

	for(i = 0; i < s->n; i++)
		if(af_minrange_has(&s->slot[i].r, (uint16_t)m))
			return s->slot[i].limit;
	return s->dflt;
}

static void test_slots(void **state)
{
	static const char text[] =
			"slots:\n"
			"  day: {\"08:00-18:00\": 20, \"18:00-08:00\": 5}\n"
			"  night: {default: 10, \"00:00-06:00\": 2}\n"
			"  none: {\"09:00-10:00\": 1}\n"
			"  empty: {}\n"
			"  many:\n"
			"    \"22:00-02:00\": 3\n"
			"    \"02:00-05:00\": 4\n"
			"    \"12:00-13:00\": 0\n"
			"    default: 7\n"
			"    \"13:00-13:01\": 1000000\n"
			"  whole: {\"00:00-00:00\": 9}\n"
			"  late: {\"23:00-24:00\": 1, \"00:00-01:00\": 2}\n"
			"  nil:\n";
	long live = test_host_shm_live();
	const af_slots_t *s;
	af_arena_t *a;
	doc_t d;
	size_t i;
	unsigned m;

	if(parse_doc(text, &d, &a) != 0)
		fail_msg("%s", err);
	assert_int_equal(d.n_slots, 8);

	s = slots_of(&d, "day");
	assert_int_equal(s->dflt, AF_NO_LIMIT);
	assert_int_equal(s->n, 2);
	assert_int_equal(af_slots_limit(s, 0), 5);
	assert_int_equal(af_slots_limit(s, 479), 5);
	assert_int_equal(af_slots_limit(s, 480), 20);
	assert_int_equal(af_slots_limit(s, 1079), 20);
	assert_int_equal(af_slots_limit(s, 1080), 5);
	assert_int_equal(af_slots_limit(s, 1439), 5);

	s = slots_of(&d, "night");
	assert_int_equal(s->dflt, 10);
	assert_int_equal(af_slots_limit(s, 0), 2);
	assert_int_equal(af_slots_limit(s, 359), 2);
	assert_int_equal(af_slots_limit(s, 360), 10);
	assert_int_equal(af_slots_limit(s, 1439), 10);

	s = slots_of(&d, "none");
	assert_int_equal(af_slots_limit(s, 539), AF_NO_LIMIT);
	assert_int_equal(af_slots_limit(s, 540), 1);
	assert_int_equal(af_slots_limit(s, 599), 1);
	assert_int_equal(af_slots_limit(s, 600), AF_NO_LIMIT);

	s = slots_of(&d, "empty");
	assert_int_equal(s->n, 0);
	assert_int_equal(af_slots_limit(s, 0), AF_NO_LIMIT);
	assert_int_equal(af_slots_limit(s, 1439), AF_NO_LIMIT);
	s = slots_of(&d, "nil");
	assert_int_equal(s->n, 0);
	assert_int_equal(af_slots_limit(s, 700), AF_NO_LIMIT);

	s = slots_of(&d, "many");
	assert_int_equal(s->n, 4);
	assert_int_equal(s->dflt, 7);
	for(i = 1; i < s->n; i++)
		assert_true(s->slot[i - 1].r.from < s->slot[i].r.from);
	assert_int_equal(af_slots_limit(s, 1319), 7);
	assert_int_equal(af_slots_limit(s, 1320), 3);
	assert_int_equal(af_slots_limit(s, 1439), 3);
	assert_int_equal(af_slots_limit(s, 0), 3);
	assert_int_equal(af_slots_limit(s, 119), 3);
	assert_int_equal(af_slots_limit(s, 120), 4);
	assert_int_equal(af_slots_limit(s, 299), 4);
	assert_int_equal(af_slots_limit(s, 300), 7);
	assert_int_equal(af_slots_limit(s, 719), 7);
	assert_int_equal(af_slots_limit(s, 720), 0);
	assert_int_equal(af_slots_limit(s, 779), 0);
	assert_int_equal(af_slots_limit(s, 780), 1000000);
	assert_int_equal(af_slots_limit(s, 781), 7);

	s = slots_of(&d, "whole");
	for(m = 0; m < 1440; m++)
		assert_int_equal(af_slots_limit(s, (uint16_t)m), 9);

	s = slots_of(&d, "late");
	assert_int_equal(af_slots_limit(s, 1379), AF_NO_LIMIT);
	assert_int_equal(af_slots_limit(s, 1380), 1);
	assert_int_equal(af_slots_limit(s, 1439), 1);
	assert_int_equal(af_slots_limit(s, 0), 2);
	assert_int_equal(af_slots_limit(s, 59), 2);
	assert_int_equal(af_slots_limit(s, 60), AF_NO_LIMIT);

	/* the binary search agrees with a plain scan at every minute */
	for(i = 0; i < d.n_slots; i++)
		for(m = 0; m < 1440; m++)
			assert_int_equal(af_slots_limit(&d.slots[i], (uint16_t)m),
					slow_limit(&d.slots[i], m));

	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

/* a bad document, the line of the error, and the message after it */
typedef struct bad_case {
	const char *text;
	int line;
	const char *msg;
} bad_case_t;

#define CAL "calendars:\n  de:\n    timezone: Europe/Berlin\n"
#define SL "slots:\n  s:\n"
#define WD "(want sun, mon, tue, wed, thu, fri, sat or a range such as mon-fri)"
#define DT "(want YYYY-MM-DD, or MM-DD for every year)"
#define TR "(want HH:MM-HH:MM)"

static const bad_case_t bad_cases[] = {
	/* time ranges */
	{CAL "    hours:\n      mon-fri: 8-18\n", 5,
			"calendars.de.hours.mon-fri: bad time range '8-18' " TR},
	{CAL "    hours:\n      mon-fri:\n        - \"08:00-12:00\"\n"
		 "        - \"13:00-18:60\"\n",
			7, "calendars.de.hours.mon-fri: bad time range '13:00-18:60' " TR},
	{CAL "    hours: {sat: \"08:00-24:30\"}\n", 4,
			"calendars.de.hours.sat: bad time range '08:00-24:30' " TR},
	{CAL "    hours: {sat: \"24:00-06:00\"}\n", 4,
			"calendars.de.hours.sat: bad time range '24:00-06:00' " TR},
	{CAL "    hours: {sat: [\"8:00-18:00\"]}\n", 4,
			"calendars.de.hours.sat: bad time range '8:00-18:00' " TR},
	{CAL "    hours: {sat: [[\"08:00-18:00\"]]}\n", 4,
			"calendars.de.hours.sat: expected a string, got a sequence"},
	{CAL "    hours:\n      mon: {from: \"08:00\"}\n", 5,
			"calendars.de.hours.mon: expected a time range or a sequence of "
			"them, got a mapping"},
	{CAL "    hours: [mon]\n", 4,
			"calendars.de.hours: expected a mapping, got a sequence"},
	/* weekdays */
	{CAL "    hours:\n      mon-fri: \"08:00-18:00\"\n"
		 "      fri: \"09:00-10:00\"\n",
			6, "calendars.de.hours: weekday fri is named twice ('mon-fri' "
			   "and 'fri')"},
	{CAL "    hours:\n      sat-mon: \"08:00-18:00\"\n"
		 "      sun-tue: \"09:00-10:00\"\n",
			6, "calendars.de.hours: weekday sun is named twice ('sat-mon' "
			   "and 'sun-tue')"},
	{CAL "    hours:\n      mon-fry: \"08:00-18:00\"\n", 5,
			"calendars.de.hours: unknown weekday 'mon-fry' " WD},
	{CAL "    hours:\n      Mon: \"08:00-18:00\"\n", 5,
			"calendars.de.hours: unknown weekday 'Mon' " WD},
	{CAL "    hours:\n      mon-: \"08:00-18:00\"\n", 5,
			"calendars.de.hours: unknown weekday 'mon-' " WD},
	{CAL "    workdays: [mon, tue, mon]\n", 4,
			"calendars.de.workdays: weekday mon is named twice"},
	{CAL "    workdays:\n      - mon-fri\n      - wed\n", 6,
			"calendars.de.workdays: weekday wed is named twice"},
	{CAL "    workdays: [funday]\n", 4,
			"calendars.de.workdays: unknown weekday 'funday' " WD},
	{CAL "    workdays: {mon: 1}\n", 4,
			"calendars.de.workdays: expected a sequence, got a mapping"},
	/* holidays */
	{CAL "    holidays: [\"2026-02-30\"]\n", 4,
			"calendars.de.holidays: bad date '2026-02-30' " DT},
	{CAL "    holidays:\n      - 2028-02-29\n      - 2027-02-29\n", 6,
			"calendars.de.holidays: bad date '2027-02-29' " DT},
	{CAL "    holidays: [2100-02-29]\n", 4,
			"calendars.de.holidays: bad date '2100-02-29' " DT},
	{CAL "    holidays: [02-30]\n", 4,
			"calendars.de.holidays: bad date '02-30' " DT},
	{CAL "    holidays: [13-01]\n", 4,
			"calendars.de.holidays: bad date '13-01' " DT},
	{CAL "    holidays: [2026-1-05]\n", 4,
			"calendars.de.holidays: bad date '2026-1-05' " DT},
	{CAL "    holidays: [0000-01-01]\n", 4,
			"calendars.de.holidays: bad date '0000-01-01' " DT},
	{CAL "    holidays: [2026-04-31]\n", 4,
			"calendars.de.holidays: bad date '2026-04-31' " DT},
	{CAL "    holidays: [\"2026/12/25\"]\n", 4,
			"calendars.de.holidays: bad date '2026/12/25' " DT},
	{CAL "    holidays: [12-00]\n", 4,
			"calendars.de.holidays: bad date '12-00' " DT},
	{CAL "    holidays: 12-25\n", 4,
			"calendars.de.holidays: expected a sequence, got a scalar"},
	/* keys and the zone */
	{CAL "    zone: UTC\n", 4,
			"calendars.de: unknown key 'zone' (expected timezone, workdays, "
			"hours, holidays)"},
	{CAL "    timezone: UTC\n", 4,
			"calendars.de: duplicate key 'timezone'"},
	{"calendars:\n  de:\n    hours: {}\n", 3,
			"calendars.de: missing 'timezone' (such as Europe/Berlin)"},
	{"calendars:\n  de:\n", 2,
			"calendars.de: missing 'timezone' (such as Europe/Berlin)"},
	{"calendars:\n  de:\n    timezone: Mars/Olympus\n", 3,
			"calendars.de.timezone: unknown time zone 'Mars/Olympus' (no " ZI
			"/Mars/Olympus)"},
	{"calendars:\n  de:\n    timezone: \"EST5EDT,M3.2.0\"\n", 3,
			"calendars.de.timezone: 'EST5EDT,M3.2.0' is not a time zone name "
			"(letters, digits, '/', '_', '-', '+' and '.'; POSIX TZ strings "
			"are not accepted)"},
	{"calendars:\n  de:\n    timezone: ../../etc/passwd\n", 3,
			"calendars.de.timezone: time zone '../../etc/passwd' must be a "
			"name under " ZI " (no '.', '..' or empty parts)"},
	{"calendars:\n  de:\n    timezone:\n", 3,
			"calendars.de.timezone: expected a string, got nothing"},
	{"calendars:\n  de:\n    timezone: [UTC]\n", 3,
			"calendars.de.timezone: expected a string, got a sequence"},
	{"calendars:\n  de:\n    timezone: ''\n", 3,
			"calendars.de.timezone: empty time zone name"},
	{"calendars:\n  de: [UTC]\n", 2,
			"calendars.de: expected a mapping, got a sequence"},
	/* slots */
	{SL "    \"08:00-18:00\": 20\n    \"17:00-19:00\": 5\n", 4,
			"slots.s: range '17:00-19:00' overlaps '08:00-18:00'"},
	{SL "    \"22:00-06:00\": 1\n    \"05:00-07:00\": 2\n", 4,
			"slots.s: range '05:00-07:00' overlaps '22:00-06:00'"},
	{SL "    \"01:00-02:00\": 1\n    \"23:00-01:30\": 2\n", 4,
			"slots.s: range '23:00-01:30' overlaps '01:00-02:00'"},
	{SL "    \"00:00-00:00\": 1\n    default: 4\n    \"10:00-11:00\": 2\n", 5,
			"slots.s: range '10:00-11:00' overlaps '00:00-00:00'"},
	{SL "    \"08:00-18:00\": 1000001\n", 3,
			"slots.s.08:00-18:00: 1000001 is out of range (0..1000000)"},
	{SL "    \"08:00-18:00\": -1\n", 3,
			"slots.s.08:00-18:00: expected an integer, got '-1'"},
	{SL "    \"08:00-18:00\": 2.5\n", 3,
			"slots.s.08:00-18:00: expected an integer, got '2.5'"},
	{SL "    \"08:00-18:00\":\n", 3,
			"slots.s.08:00-18:00: expected an integer, got nothing"},
	{SL "    default: abc\n", 3,
			"slots.s.default: expected an integer, got 'abc'"},
	{SL "    default: 2000000\n", 3,
			"slots.s.default: 2000000 is out of range (0..1000000)"},
	{SL "    8-18: 3\n", 3,
			"slots.s: bad time range '8-18' (want HH:MM-HH:MM, or default)"},
	{SL "    Default: 3\n", 3,
			"slots.s: bad time range 'Default' (want HH:MM-HH:MM, or "
			"default)"},
	{SL "    default: 1\n    default: 2\n", 4,
			"slots.s: duplicate key 'default'"},
	{SL "    - \"08:00-18:00\"\n", 3,
			"slots.s: expected a mapping, got a sequence"},
};

static void test_bad_yaml(void **state)
{
	long live = test_host_shm_live();
	char want[1200];
	const char *tzdir = getenv("TZDIR");
	char *saved = tzdir ? strdup(tzdir) : NULL;
	af_arena_t *a;
	doc_t d;
	size_t i;

	unsetenv("TZDIR");
	for(i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		if(parse_doc(bad_cases[i].text, &d, &a) == 0)
			fail_msg("case %zu loaded:\n%s", i, bad_cases[i].text);
		af_arena_free(a);
		snprintf(want, sizeof(want), "%s:%d: %s", path_buf, bad_cases[i].line,
				bad_cases[i].msg);
		if(strcmp(err, want) != 0)
			fail_msg("case %zu:\n%s\n got  %s\n want %s", i,
					bad_cases[i].text, err, want);
	}
	if(saved) {
		setenv("TZDIR", saved, 1);
		free(saved);
	}
	assert_int_equal(test_host_shm_live(), live);
}

/* dates that are fine: leap years, the bounds of months */
static void test_good_dates(void **state)
{
	af_arena_t *a;
	doc_t d;
	const af_calendar_t *c;

	if(parse_doc(CAL "    holidays: [2000-02-29, 2028-02-29, 2026-12-31,"
					 " 9999-12-31, 0001-01-01, 02-29, 12-31, 01-01]\n"
					 "    workdays: []\n",
				&d, &a)
			!= 0)
		fail_msg("%s", err);
	c = cal_of(&d, "de");
	assert_int_equal(c->workdays, 0);
	assert_int_equal(c->n_dates, 5);
	assert_int_equal(c->dates[0], 10101);
	assert_int_equal(c->dates[4], 99991231);
	assert_int_equal(c->n_yearly, 3);
	/* no workdays: every day a holiday, no hours */
	assert_true(off_on(c, 2026, 3, 4));
	af_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_table_bounds),
		cmocka_unit_test(test_against_glibc),
		cmocka_unit_test(test_local_dates),
		cmocka_unit_test(test_bad_zones),
		cmocka_unit_test(test_tzdir),
		cmocka_unit_test(test_tz_restored),
		cmocka_unit_test(test_speed),
		cmocka_unit_test(test_minrange),
		cmocka_unit_test(test_calendars),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_bad_yaml),
		cmocka_unit_test(test_good_dates),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
