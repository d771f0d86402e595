/*
 * antifraud - time: a zone's UTC offsets as a table computed once with
 * glibc from the system's tzdata, local time by binary search and civil
 * arithmetic (no libc time call after the load), calendars of business
 * hours and holidays, and limits per time-of-day slot.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "af_sched.h"
#include "af_sorted.h"

#define AF_TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define AF_TZ_NAME_MAX 255 /* bytes of a zone name */
#define AF_TZ_MAX_CHANGES 512 /* offset changes in AF_TZ_YEARS years */
#define AF_DAY 86400
#define AF_DAY_MINUTES 1440
#define AF_SLOT_LIMIT_MAX 1000000u

/* one row of a zone's table: from UTC second at on, local = UTC + off */
typedef struct af_tz_change {
	int64_t at;
	int32_t off;
} af_tz_change_t;

struct af_tz {
	const char *name;
	uint32_t n;          /* rows, at least 1 */
	af_tz_change_t *chg; /* sorted by at */
};

static const char *const af_wday_short[7] = {
		"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
static const char *const af_wday_long[7] = {"sunday", "monday", "tuesday",
		"wednesday", "thursday", "friday", "saturday"};

enum { K_TIMEZONE, K_WORKDAYS, K_HOURS, K_HOLIDAYS, K_CAL_N };
static const char *const cal_keys[K_CAL_N] = {
		"timezone", "workdays", "hours", "holidays"};

#define AF_WDAY_HINT \
	"want sun, mon, tue, wed, thu, fri, sat or a range such as mon-fri"
#define AF_RANGE_HINT "want HH:MM-HH:MM"
#define AF_DATE_HINT "want YYYY-MM-DD, or MM-DD for every year"

/* 1 when year is a leap year of the Gregorian calendar */
static int af_leap(unsigned year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* days of month (1..12) of year */
static unsigned af_mdays(unsigned year, unsigned month)
{
	static const unsigned char mdays[12] = {
			31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if(month == 2 && af_leap(year))
		return 29;
	return mdays[month - 1];
}

/* the directory of the system's tzdata, as glibc picks it */
static const char *af_tz_dir(void)
{
	const char *d = getenv("TZDIR");

	return d && *d ? d : AF_TZ_DEFAULT_DIR;
}

/*
 * Checks that name is a zone of tzdata: a relative name of plain
 * characters without '.', '..' or empty parts, naming a regular file
 * under the tzdata directory that starts with the TZif magic. Returns 0,
 * or -1 with a message in err.
 */
static int af_tz_check(const char *name, char *err, size_t errlen)
{
	const char *dir = af_tz_dir();
	const char *p, *part;
	char path[4096], magic[4];
	struct stat st;
	size_t len, plen;
	ssize_t k;
	int fd;

	len = strlen(name);
	if(len == 0) {
		snprintf(err, errlen, "empty time zone name");
		return -1;
	}
	if(len > AF_TZ_NAME_MAX) {
		snprintf(err, errlen, "time zone name too long (%zu bytes, at most %d)",
				len, AF_TZ_NAME_MAX);
		return -1;
	}
	if(name[0] == '/') {
		snprintf(err, errlen,
				"time zone '%s' is a path: give a name under %s, such as "
				"Europe/Berlin",
				name, dir);
		return -1;
	}
	for(p = name; *p; p++) {
		if(!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
				   || (*p >= '0' && *p <= '9') || *p == '/' || *p == '_'
				   || *p == '-' || *p == '+' || *p == '.')) {
			snprintf(err, errlen,
					"'%s' is not a time zone name (letters, digits, '/', "
					"'_', '-', '+' and '.'; POSIX TZ strings are not "
					"accepted)",
					name);
			return -1;
		}
	}
	for(part = name;; part = p + 1) {
		p = strchr(part, '/');
		plen = p ? (size_t)(p - part) : strlen(part);
		if(plen == 0 || (plen == 1 && part[0] == '.')
				|| (plen == 2 && part[0] == '.' && part[1] == '.')) {
			snprintf(err, errlen,
					"time zone '%s' must be a name under %s (no '.', '..' or "
					"empty parts)",
					name, dir);
			return -1;
		}
		if(!p)
			break;
	}
	if(strncmp(name, "right/", 6) == 0) {
		snprintf(err, errlen,
				"time zone '%s' counts leap seconds: use the name without "
				"'right/'",
				name);
		return -1;
	}
	if((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name)
			>= sizeof(path)) {
		snprintf(err, errlen, "time zone '%s': path too long", name);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if(fd < 0) {
		if(errno == ENOENT || errno == ENOTDIR)
			snprintf(err, errlen, "unknown time zone '%s' (no %s)", name,
					path);
		else
			snprintf(err, errlen, "time zone '%s': %s: %s", name, path,
					strerror(errno));
		return -1;
	}
	if(fstat(fd, &st) < 0) {
		snprintf(err, errlen, "time zone '%s': %s: %s", name, path,
				strerror(errno));
		close(fd);
		return -1;
	}
	if(!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a time zone (%s is %s)", name, path,
				S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
		close(fd);
		return -1;
	}
	k = read(fd, magic, sizeof(magic));
	close(fd);
	if(k != (ssize_t)sizeof(magic) || memcmp(magic, "TZif", 4) != 0) {
		snprintf(err, errlen, "'%s' is not a time zone (%s is not a TZif file)",
				name, path);
		return -1;
	}
	return 0;
}

/* the UTC offset glibc gives for t in the zone TZ names; -1 on failure */
static int af_tz_probe(int64_t t, int32_t *off)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if(!localtime_r(&tt, &tm))
		return -1;
	*off = (int32_t)tm.tm_gmtoff;
	return 0;
}

/*
 * Fills chg with the offsets of the zone TZ names (tzset() done) from
 * start to end: the offset at start, then each change, found by probing
 * day by day and bisecting to the second. Returns the number of rows, or
 * -1 (glibc failed, or more than max rows).
 */
static int af_tz_scan(int64_t start, int64_t end, af_tz_change_t *chg,
		int max)
{
	int64_t cur, next, lo, hi, mid;
	int32_t off, o;
	int n = 0;

	if(af_tz_probe(start, &off) < 0)
		return -1;
	chg[n].at = start;
	chg[n++].off = off;
	for(cur = start; cur < end;) {
		next = cur + AF_DAY < end ? cur + AF_DAY : end;
		if(af_tz_probe(next, &o) < 0)
			return -1;
		if(o == off) {
			cur = next;
			continue;
		}
		/* off(lo) == off, off(hi) != off: bisect to adjacent seconds */
		lo = cur;
		hi = next;
		while(hi - lo > 1) {
			mid = lo + (hi - lo) / 2;
			if(af_tz_probe(mid, &o) < 0)
				return -1;
			if(o == off)
				lo = mid;
			else
				hi = mid;
		}
		if(af_tz_probe(hi, &o) < 0 || n == max)
			return -1;
		chg[n].at = hi;
		chg[n++].off = o;
		off = o;
		cur = hi;
	}
	return n;
}

/* Loads a zone: see af_sched.h. */
af_tz_t *af_tz_load(af_arena_t *a, const char *name, uint64_t now_ms,
		char *err, size_t errlen)
{
	af_tz_change_t chg[AF_TZ_MAX_CHANGES];
	char tzval[AF_TZ_NAME_MAX + 2];
	const char *old;
	char *saved = NULL;
	int64_t now_s, start, end;
	af_tz_t *tz;
	int n;

	if(!name)
		name = "";
	if(af_tz_check(name, err, errlen) < 0)
		return NULL;

	now_s = (int64_t)(now_ms / 1000);
	start = now_s - AF_DAY;
	end = now_s + (int64_t)AF_TZ_YEARS * 366 * AF_DAY;

	/* glibc: one zone per process; borrow TZ and give it back */
	old = getenv("TZ");
	if(old) {
		saved = strdup(old);
		if(!saved) {
			snprintf(err, errlen, "time zone '%s': out of memory", name);
			return NULL;
		}
	}
	snprintf(tzval, sizeof(tzval), ":%s", name);
	if(setenv("TZ", tzval, 1) < 0) {
		snprintf(err, errlen, "time zone '%s': setenv: %s", name,
				strerror(errno));
		free(saved);
		return NULL;
	}
	tzset();
	n = af_tz_scan(start, end, chg, AF_TZ_MAX_CHANGES);
	if(saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);

	if(n < 0) {
		snprintf(err, errlen,
				"time zone '%s': cannot compute its offsets (glibc failed, "
				"or more than %d changes)",
				name, AF_TZ_MAX_CHANGES);
		return NULL;
	}
	tz = af_arena_alloc(a, sizeof(*tz));
	if(tz) {
		tz->name = af_arena_strndup(a, name, strlen(name));
		tz->chg = af_arena_alloc(a, (size_t)n * sizeof(*chg));
	}
	if(!tz || !tz->name || !tz->chg) {
		snprintf(err, errlen, "time zone '%s': out of memory", name);
		return NULL;
	}
	memcpy(tz->chg, chg, (size_t)n * sizeof(*chg));
	tz->n = (uint32_t)n;
	return tz;
}

/* The zone's name, as loaded. */
const char *af_tz_name(const af_tz_t *tz)
{
	return tz->name;
}

/* The offset of UTC second t: the last row at or before t, else the first. */
static int32_t af_tz_offset(const af_tz_t *tz, int64_t t)
{
	uint32_t lo = 0, hi = tz->n, mid;

	/* invariant: rows before lo start at or before t, rows from hi after */
	while(lo < hi) {
		mid = lo + (hi - lo) / 2;
		if(tz->chg[mid].at <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return tz->chg[lo ? lo - 1 : 0].off;
}

/* Local time of now_ms in tz: see af_sched.h. */
void af_tz_local(const af_tz_t *tz, uint64_t now_ms, af_local_t *out)
{
	int64_t t, local, days, sod, z, era, doe, yoe, doy, mp, y, m, d;

	t = (int64_t)(now_ms / 1000);
	out->offset_s = af_tz_offset(tz, t);
	local = t + out->offset_s;
	days = local / AF_DAY;
	sod = local % AF_DAY;
	if(sod < 0) {
		sod += AF_DAY;
		days--;
	}
	out->minute = (uint16_t)(sod / 60);
	/* 1970-01-01 was a Thursday */
	out->wday = (uint8_t)(((days % 7) + 11) % 7);

	/* civil date: count in 400-year eras of 146097 days from 0000-03-01,
	 * so that the leap day ends each year */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;                                  /* 0..146096 */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);           /* 0..365 */
	mp = (5 * doy + 2) / 153;                                /* 0 = March */
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);

	out->year = (uint16_t)y;
	out->month = (uint8_t)m;
	out->day = (uint8_t)d;
	out->date = (uint32_t)(y * 10000 + m * 100 + d);
}

/* Reads "HH:MM" (00:00..24:00) at s into *min; 0 or -1. */
static int af_hhmm(const char *s, unsigned *min)
{
	unsigned h, m;

	if(s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':'
			|| s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	if(h > 24 || (h == 24 && m != 0))
		return -1;
	*min = h * 60 + m;
	return 0;
}

/* Parses "HH:MM-HH:MM": see af_sched.h. A range cannot start at 24:00. */
int af_minrange_parse(const char *s, size_t len, af_minrange_t *out)
{
	unsigned from, to;

	if(len != 11 || s[5] != '-' || af_hhmm(s, &from) < 0
			|| af_hhmm(s + 6, &to) < 0 || from == AF_DAY_MINUTES)
		return -1;
	out->from = (uint16_t)from;
	out->to = (uint16_t)to;
	return 0;
}

/* 1 when minute is in r: see af_sched.h. */
int af_minrange_has(const af_minrange_t *r, uint16_t minute)
{
	if(r->from == r->to)
		return 1;
	if(r->from < r->to)
		return minute >= r->from && minute < r->to;
	return minute >= r->from || minute < r->to;
}

/* Reads one weekday name s[0..len) (short or full, lower case); -1 if none. */
static int af_wday_one(const char *s, size_t len)
{
	int i;

	for(i = 0; i < 7; i++) {
		if((len == 3 && memcmp(s, af_wday_short[i], 3) == 0)
				|| (len == strlen(af_wday_long[i])
						&& memcmp(s, af_wday_long[i], len) == 0))
			return i;
	}
	return -1;
}

/*
 * Reads a weekday or a range of weekdays ("mon-fri", wrapping "fri-mon")
 * from s[0..len) into a bit mask (1 << wday). Returns 0 or -1.
 */
static int af_wdays(const char *s, size_t len, uint8_t *mask)
{
	const char *dash = memchr(s, '-', len);
	int a, b;

	*mask = 0;
	if(!dash) {
		a = af_wday_one(s, len);
		if(a < 0)
			return -1;
		*mask = (uint8_t)(1u << a);
		return 0;
	}
	a = af_wday_one(s, (size_t)(dash - s));
	b = af_wday_one(dash + 1, len - (size_t)(dash - s) - 1);
	if(a < 0 || b < 0)
		return -1;
	for(;; a = (a + 1) % 7) {
		*mask |= (uint8_t)(1u << a);
		if(a == b)
			break;
	}
	return 0;
}

/* Names the first weekday of mask among those of seen, for messages. */
static const char *af_wday_clash(uint8_t mask, uint8_t seen)
{
	int i;

	for(i = 0; i < 7; i++) {
		if(mask & seen & (1u << i))
			return af_wday_short[i];
	}
	return "?";
}

/*
 * Reads the workdays of node n (a sequence of weekdays or ranges of them,
 * or a single one) into *out. Returns 0, or -1 with the error set.
 */
static int af_cal_workdays(af_yl_t *c, const yaml_node_t *n, uint8_t *out)
{
	const yaml_node_t *it;
	const char *s;
	size_t i, count, len;
	uint8_t m;

	*out = 0;
	if(n->type == YAML_SCALAR_NODE && !af_yl_is_null(n))
		count = 1;
	else if(af_yl_seq(c, n, &count) < 0)
		return -1;
	for(i = 0; i < count; i++) {
		it = n->type == YAML_SCALAR_NODE ? n : af_yl_item(c, n, i);
		if(af_yl_str(c, it, &s, &len) < 0)
			return -1;
		if(af_wdays(s, len, &m) < 0)
			return af_yl_err(c, it, "unknown weekday '%.*s' (" AF_WDAY_HINT ")",
					AF_YL_SHOWN(len), s);
		if(m & *out)
			return af_yl_err(c, it, "weekday %s is named twice",
					af_wday_clash(m, *out));
		*out |= m;
	}
	return 0;
}

/*
 * Reads node n, a time range or a sequence of them, into a new array
 * sorted by start (*out, *nout; NULL and 0 when none). Returns 0, or -1
 * with the error set.
 */
static int af_cal_ranges(af_yl_t *c, const yaml_node_t *n,
		af_minrange_t **out, uint32_t *nout)
{
	const yaml_node_t *it;
	af_minrange_t *r, tmp;
	const char *s;
	size_t i, j, count, len;

	*out = NULL;
	*nout = 0;
	if(n->type == YAML_SCALAR_NODE && !af_yl_is_null(n))
		count = 1;
	else if(n->type == YAML_MAPPING_NODE)
		return af_yl_err(c, n,
				"expected a time range or a sequence of them, got a mapping");
	else if(af_yl_seq(c, n, &count) < 0)
		return -1;
	if(count == 0)
		return 0;
	r = af_arena_alloc(c->arena, count * sizeof(*r));
	if(!r)
		return af_yl_oom(c, n);
	for(i = 0; i < count; i++) {
		it = n->type == YAML_SCALAR_NODE ? n : af_yl_item(c, n, i);
		if(af_yl_str(c, it, &s, &len) < 0)
			return -1;
		if(af_minrange_parse(s, len, &r[i]) < 0)
			return af_yl_err(c, it,
					"bad time range '%.*s' (" AF_RANGE_HINT ")",
					AF_YL_SHOWN(len), s);
		/* insertion sort: a handful of ranges */
		for(j = i; j > 0 && r[j - 1].from > r[j].from; j--) {
			tmp = r[j - 1];
			r[j - 1] = r[j];
			r[j] = tmp;
		}
	}
	*out = r;
	*nout = (uint32_t)count;
	return 0;
}

/*
 * Reads the 'hours' mapping n (weekday or weekday range to time ranges)
 * into cal; every weekday at most once. Returns 0, or -1 with the error
 * set.
 */
static int af_cal_hours(af_yl_t *c, const yaml_node_t *n, af_calendar_t *cal)
{
	const char *named[7] = {NULL};
	yaml_node_t *k, *v;
	af_minrange_t *r;
	const char *s;
	size_t i, count, len, old;
	uint32_t nr;
	uint8_t m, seen = 0;
	int d;

	if(af_yl_names(c, n, &count) < 0)
		return -1;
	for(i = 0; i < count; i++) {
		af_yl_pair(c, n, i, &k, &v);
		s = AF_YL_TEXT(k);
		len = AF_YL_LEN(k);
		if(af_wdays(s, len, &m) < 0)
			return af_yl_err(c, k, "unknown weekday '%.*s' (" AF_WDAY_HINT ")",
					AF_YL_SHOWN(len), s);
		if(m & seen) {
			d = 0;
			while(!(m & seen & (1u << d)))
				d++;
			return af_yl_err(c, k,
					"weekday %s is named twice ('%s' and '%.*s')",
					af_wday_short[d], named[d], AF_YL_SHOWN(len), s);
		}
		seen |= m;
		old = af_yl_push(c, s, len);
		if(af_cal_ranges(c, v, &r, &nr) < 0)
			return -1;
		af_yl_pop(c, old);
		/* the days of a range share its array */
		for(d = 0; d < 7; d++) {
			if(m & (1u << d)) {
				named[d] = s;
				cal->hours[d] = r;
				cal->n_hours[d] = nr;
			}
		}
	}
	return 0;
}

/*
 * Reads a date: "YYYY-MM-DD" (a real date, year 0001..9999) into *ymd as
 * YYYYMMDD, or "MM-DD" (02-29 allowed) into *md as MMDD. Returns 1 for a
 * full date, 2 for a yearly one, -1 when s[0..len) is neither.
 */
static int af_date_parse(const char *s, size_t len, uint32_t *ymd,
		uint16_t *md)
{
	unsigned v[3], i, j, pos, y, m, d;
	static const unsigned width[3] = {4, 2, 2};
	unsigned first = len == 10 ? 0 : 1;

	if(len != 10 && len != 5)
		return -1;
	pos = 0;
	for(i = first; i < 3; i++) {
		if(i > first && s[pos++] != '-')
			return -1;
		v[i] = 0;
		for(j = 0; j < width[i]; j++, pos++) {
			if(s[pos] < '0' || s[pos] > '9')
				return -1;
			v[i] = v[i] * 10 + (unsigned)(s[pos] - '0');
		}
	}
	y = first ? 2000 : v[0]; /* a leap year: 02-29 comes every 4 years */
	m = v[1];
	d = v[2];
	if(y == 0 || m < 1 || m > 12 || d < 1 || d > af_mdays(y, m))
		return -1;
	if(first) {
		*md = (uint16_t)(m * 100 + d);
		return 2;
	}
	*ymd = y * 10000 + m * 100 + d;
	return 1;
}

/* qsort order of YYYYMMDD dates */
static int af_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* qsort order of MMDD dates */
static int af_cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

/*
 * Sorts the count items of v, size bytes each, by cmp and drops the
 * repeated ones. Returns how many are left.
 */
static uint32_t af_sort_unique(void *v, size_t count, size_t size,
		int (*cmp)(const void *, const void *))
{
	char *p = v;
	size_t i, j;

	if(count == 0)
		return 0;
	qsort(v, count, size, cmp);
	for(i = 1, j = 1; i < count; i++) {
		if(cmp(p + i * size, p + (j - 1) * size) != 0)
			memcpy(p + j++ * size, p + i * size, size);
	}
	return (uint32_t)j;
}

/*
 * Reads the 'holidays' sequence n into cal: full dates and yearly ones,
 * each sorted without repeats. Returns 0, or -1 with the error set.
 */
static int af_cal_holidays(af_yl_t *c, const yaml_node_t *n,
		af_calendar_t *cal)
{
	const yaml_node_t *it;
	const char *s;
	size_t i, count, len, nd = 0, ny = 0;
	uint32_t ymd;
	uint16_t md;
	int k;

	if(af_yl_seq(c, n, &count) < 0)
		return -1;
	if(count == 0)
		return 0;
	cal->dates = af_arena_alloc(c->arena, count * sizeof(*cal->dates));
	cal->yearly = af_arena_alloc(c->arena, count * sizeof(*cal->yearly));
	if(!cal->dates || !cal->yearly)
		return af_yl_oom(c, n);
	for(i = 0; i < count; i++) {
		it = af_yl_item(c, n, i);
		if(af_yl_str(c, it, &s, &len) < 0)
			return -1;
		k = af_date_parse(s, len, &ymd, &md);
		if(k < 0)
			return af_yl_err(c, it, "bad date '%.*s' (" AF_DATE_HINT ")",
					AF_YL_SHOWN(len), s);
		if(k == 1)
			cal->dates[nd++] = ymd;
		else
			cal->yearly[ny++] = md;
	}
	cal->n_dates = af_sort_unique(cal->dates, nd, sizeof(*cal->dates),
			af_cmp_u32);
	cal->n_yearly = af_sort_unique(cal->yearly, ny, sizeof(*cal->yearly),
			af_cmp_u16);
	return 0;
}

/* Reads a calendar: see af_sched.h. out->name is left as it is. */
int af_cal_parse(af_yl_t *c, const yaml_node_t *n, uint64_t now_ms,
		af_calendar_t *out)
{
	yaml_node_t *v[K_CAL_N];
	const char *name = out->name, *s;
	char tzerr[512];
	size_t len, old;
	int rc;

	memset(out, 0, sizeof(*out));
	out->name = name;
	out->workdays = 0x3e; /* mon..fri */
	if(af_yl_map(c, n, cal_keys, K_CAL_N, v, NULL) < 0)
		return -1;
	if(!v[K_TIMEZONE])
		return af_yl_err(c, n, "missing 'timezone' (such as Europe/Berlin)");

	old = af_yl_push(c, "timezone", 8);
	if(af_yl_str(c, v[K_TIMEZONE], &s, &len) < 0)
		return -1;
	out->tz = af_tz_load(c->arena, s, now_ms, tzerr, sizeof(tzerr));
	if(!out->tz)
		return af_yl_err(c, v[K_TIMEZONE], "%s", tzerr);
	af_yl_pop(c, old);

	if(v[K_WORKDAYS]) {
		old = af_yl_push(c, "workdays", 8);
		if(af_cal_workdays(c, v[K_WORKDAYS], &out->workdays) < 0)
			return -1;
		af_yl_pop(c, old);
	}
	if(v[K_HOURS]) {
		old = af_yl_push(c, "hours", 5);
		rc = af_cal_hours(c, v[K_HOURS], out);
		if(rc < 0)
			return -1;
		af_yl_pop(c, old);
	}
	if(v[K_HOLIDAYS]) {
		old = af_yl_push(c, "holidays", 8);
		if(af_cal_holidays(c, v[K_HOLIDAYS], out) < 0)
			return -1;
		af_yl_pop(c, old);
	}
	return 0;
}

/* 1 when the day (date YYYYMMDD, weekday wday) is a holiday of cal */
static int af_cal_day_off(const af_calendar_t *cal, uint32_t date, int wday)
{
	if(!(cal->workdays & (1u << wday)))
		return 1;
	return af_sorted_has_u32(cal->dates, cal->n_dates, date)
		   || af_sorted_has_u16(cal->yearly, cal->n_yearly,
				   (uint16_t)(date % 10000));
}

/* 1 when the day of lt is a holiday: see af_sched.h. */
int af_cal_holiday(const af_calendar_t *cal, const af_local_t *lt)
{
	return af_cal_day_off(cal, lt->date, lt->wday);
}

/* The date (YYYYMMDD) of the day before date. */
static uint32_t af_date_prev(uint32_t date)
{
	unsigned y = date / 10000, m = date / 100 % 100, d = date % 100;

	if(d > 1)
		return date - 1;
	if(m > 1) {
		m--;
	} else {
		m = 12;
		y--;
	}
	return y * 10000 + m * 100 + af_mdays(y, m);
}

/* 1 when lt is inside business hours: see af_sched.h. */
int af_cal_in_hours(const af_calendar_t *cal, const af_local_t *lt)
{
	const af_minrange_t *r;
	uint16_t m = lt->minute;
	uint32_t i;
	int wd = lt->wday, yd = (lt->wday + 6) % 7;

	if(!af_cal_day_off(cal, lt->date, wd)) {
		for(i = 0, r = cal->hours[wd]; i < cal->n_hours[wd]; i++, r++) {
			if(r->from == r->to
					|| (r->from < r->to && m >= r->from && m < r->to)
					|| (r->to < r->from && m >= r->from))
				return 1;
		}
	}
	/* the evening before runs into today, holiday or not */
	if(!af_cal_day_off(cal, af_date_prev(lt->date), yd)) {
		for(i = 0, r = cal->hours[yd]; i < cal->n_hours[yd]; i++, r++) {
			if(r->to < r->from && m < r->to)
				return 1;
		}
	}
	return 0;
}

/* Reads slots: see af_sched.h. */
int af_slots_parse(af_yl_t *c, const yaml_node_t *n, af_slots_t *out)
{
	uint16_t owner[AF_DAY_MINUTES]; /* pair index + 1 of each minute */
	yaml_node_t *k, *v, *k2, *v2;
	af_slot_t *sl, tmp;
	const char *s;
	size_t i, j, count, len, old;
	unsigned mn;

	out->slot = NULL;
	out->n = 0;
	out->dflt = AF_NO_LIMIT;
	if(af_yl_names(c, n, &count) < 0)
		return -1;
	if(count == 0)
		return 0;
	sl = af_arena_alloc(c->arena, count * sizeof(*sl));
	if(!sl)
		return af_yl_oom(c, n);
	memset(owner, 0, sizeof(owner));
	for(i = 0; i < count; i++) {
		af_yl_pair(c, n, i, &k, &v);
		s = AF_YL_TEXT(k);
		len = AF_YL_LEN(k);
		old = af_yl_push(c, s, len);
		if(len == 7 && memcmp(s, "default", 7) == 0) {
			if(af_yl_u32(c, v, 0, AF_SLOT_LIMIT_MAX, &out->dflt) < 0)
				return -1;
			af_yl_pop(c, old);
			continue;
		}
		af_yl_pop(c, old);
		if(af_minrange_parse(s, len, &sl[out->n].r) < 0)
			return af_yl_err(c, k,
					"bad time range '%.*s' (" AF_RANGE_HINT ", or default)",
					AF_YL_SHOWN(len), s);
		/* ranges do not overlap: no two own a minute (so at most 1440
		 * ranges get here, and the pair index fits) */
		for(mn = 0; mn < AF_DAY_MINUTES; mn++) {
			if(!af_minrange_has(&sl[out->n].r, (uint16_t)mn))
				continue;
			if(owner[mn]) {
				af_yl_pair(c, n, owner[mn] - 1u, &k2, &v2);
				return af_yl_err(c, k, "range '%.*s' overlaps '%.*s'",
						AF_YL_SHOWN(len), s, AF_YL_SHOWN(AF_YL_LEN(k2)),
						AF_YL_TEXT(k2));
			}
			owner[mn] = (uint16_t)(i + 1);
		}
		old = af_yl_push(c, s, len);
		if(af_yl_u32(c, v, 0, AF_SLOT_LIMIT_MAX, &sl[out->n].limit) < 0)
			return -1;
		af_yl_pop(c, old);
		/* insertion sort by start */
		for(j = out->n; j > 0 && sl[j - 1].r.from > sl[j].r.from; j--) {
			tmp = sl[j - 1];
			sl[j - 1] = sl[j];
			sl[j] = tmp;
		}
		out->n++;
	}
	out->slot = out->n ? sl : NULL;
	return 0;
}

/* The limit at minute: see af_sched.h. */
uint32_t af_slots_limit(const af_slots_t *s, uint16_t minute)
{
	uint32_t lo = 0, hi = s->n, mid;
	const af_slot_t *last;

	if(s->n == 0)
		return s->dflt;
	/* the last slot starting at or before minute holds it, if any does,
	 * but for the morning part of a range crossing midnight: that one
	 * starts latest of all (the others fit between its end and start) */
	while(lo < hi) {
		mid = lo + (hi - lo) / 2;
		if(s->slot[mid].r.from <= minute)
			lo = mid + 1;
		else
			hi = mid;
	}
	if(lo && af_minrange_has(&s->slot[lo - 1].r, minute))
		return s->slot[lo - 1].limit;
	last = &s->slot[s->n - 1];
	if(af_minrange_has(&last->r, minute))
		return last->limit;
	return s->dflt;
}
