/*
 * antifraud - the rule file's parts for af_check_dest: the 'dest' section
 * (number plan, calendars, total concurrency limits, caller-to-profile
 * table) and the 'dest' mapping of each profile (its class of service).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_host.h"
#include "af_rules_int.h"

#define AF_DEST_LIMIT_MAX 1000000u
#define AF_DEST_WINDOW_MAX (7u * AF_RULES_DAY)
#define AF_DEST_DURATION_DEF 14400u /* 4 h */
#define AF_DEST_SHORT_MAX_DEF 6
#define AF_DIALED_MAX 32 /* characters of an exempt number as dialed */

enum {
	K_NUMPLAN,
	K_OVERLAYS,
	K_CALENDARS,
	K_CALENDAR,
	K_MAX_DURATION,
	K_CONCURRENCY,
	K_CALLERS,
	K_DEST_N
};
static const char *const dest_keys[K_DEST_N] = {"numplan", "overlays",
		"calendars", "calendar", "max_duration", "concurrency", "callers"};

enum { K_WORKDAY, K_HOLIDAY, K_CONC_N };
static const char *const conc_keys[K_CONC_N] = {"workday", "holiday"};

enum { K_BY_USER, K_BY_PREFIX, K_CALLERS_N };
static const char *const callers_keys[K_CALLERS_N] = {"users", "prefixes"};

enum {
	P_COUNTRY,
	P_NATIONAL,
	P_INTL,
	P_STRIP,
	P_SHORT_MAX,
	P_INTERNATIONAL,
	P_PREMIUM,
	P_DENY_CLASSES,
	P_MAX_RISK,
	P_ALLOW_CC,
	P_DENY_CC,
	P_ALLOW_ZONE,
	P_DENY_ZONE,
	P_ALLOW_PREFIX,
	P_DENY_PREFIX,
	P_BLOCKED,
	P_EXEMPT_CALLERS,
	P_EXEMPT_NUMBERS,
	P_CALENDAR,
	P_OUTSIDE,
	P_RATES,
	P_REPEAT,
	P_CONCURRENCY,
	P_N
};
static const char *const pdest_keys[P_N] = {"country", "national_prefix",
		"international_prefix", "strip", "short_max", "international",
		"premium", "deny_classes", "max_risk", "allow_countries",
		"deny_countries", "allow_zones", "deny_zones", "allow_prefixes",
		"deny_prefixes", "blocked_callers", "exempt_callers",
		"exempt_numbers", "calendar", "outside_hours", "rates", "repeat",
		"concurrency"};

enum { R_CPS, R_CPM, R_COUNTRY, R_N };
static const char *const rate_keys[R_N] = {
		"caller_per_second", "caller_per_minute", "country_per_minute"};

enum { RP_SCOPE, RP_SAME, RP_SIMILAR, RP_CALLERS, RP_N };
static const char *const repeat_keys[RP_N] = {
		"scope", "same_number", "similar_numbers", "many_callers"};

static const char *const limit_keys[2] = {"warn", "block"};

/* Pushes the key path of name, for messages. */
static size_t push(af_rl_t *c, const char *name)
{
	return af_yl_push(&c->y, name, strlen(name));
}

/* Returns the calendar named s[0..len), or NULL. */
static const af_calendar_t *find_calendar(af_rl_t *c, const char *s,
		size_t len)
{
	const af_dest_cfg_t *d = &c->r->dest;
	uint32_t i;

	for(i = 0; i < d->n_calendars; i++)
		if(strlen(d->calendars[i].name) == len
				&& memcmp(d->calendars[i].name, s, len) == 0)
			return &d->calendars[i];
	return NULL;
}

/* Reads calendar name node n into *out. Returns 0 or -1. */
static int calendar_ref(af_rl_t *c, const yaml_node_t *n,
		const af_calendar_t **out)
{
	const char *s;
	size_t len;

	if(af_yl_str(&c->y, n, &s, &len) < 0)
		return -1;
	*out = find_calendar(c, s, len);
	if(!*out)
		return af_yl_err(&c->y, n,
				"unknown calendar '%.*s' (not under dest.calendars)",
				AF_YL_SHOWN(len), s);
	return 0;
}

/*
 * Reads a limit: a number (the block threshold) or a mapping with warn
 * and/or block. A count above a threshold breaches it. Returns 0 or -1.
 */
static int read_limit(af_rl_t *c, const yaml_node_t *n, af_limit_t *out)
{
	yaml_node_t *v[2];
	size_t old;
	int i;

	memset(out, 0, sizeof(*out));
	if(n && n->type == YAML_SCALAR_NODE)
		return af_yl_u32(&c->y, n, 1, AF_DEST_LIMIT_MAX, &out->block);
	if(af_yl_map(&c->y, n, limit_keys, 2, v, NULL) < 0)
		return -1;
	for(i = 0; i < 2; i++) {
		if(!v[i])
			continue;
		old = push(c, limit_keys[i]);
		if(af_yl_u32(&c->y, v[i], 1, AF_DEST_LIMIT_MAX,
				   i == 0 ? &out->warn : &out->block)
				< 0)
			return -1;
		af_yl_pop(&c->y, old);
	}
	if(!out->warn && !out->block)
		return af_yl_err(&c->y, n, "a limit needs warn, block or both");
	if(out->warn && out->block && out->warn >= out->block)
		return af_yl_err(&c->y, n, "warn (%u) must be below block (%u)",
				out->warn, out->block);
	return 0;
}

/*
 * Reads a window length: "90s", "60m", "8h", "1d" or plain seconds, 1 s
 * to 7 days. Returns 0 or -1.
 */
static int read_window(af_rl_t *c, const yaml_node_t *n, uint32_t *out)
{
	const char *s;
	size_t len;
	uint64_t v, mul = 1;

	if(af_yl_str(&c->y, n, &s, &len) < 0)
		return -1;
	if(len > 1) {
		switch(s[len - 1]) {
			case 's':
				mul = 1;
				len--;
				break;
			case 'm':
				mul = 60;
				len--;
				break;
			case 'h':
				mul = 3600;
				len--;
				break;
			case 'd':
				mul = AF_RULES_DAY;
				len--;
				break;
		}
	}
	if(af_yl_digits(s, len, &v) < 0 || v == 0 || v * mul > AF_DEST_WINDOW_MAX)
		return af_yl_err(&c->y, n,
				"bad window '%.*s' (want 1s..7d: a number of seconds, or"
				" with s, m, h or d)",
				AF_YL_SHOWN(AF_YL_LEN(n)), AF_YL_TEXT(n));
	*out = (uint32_t)(v * mul);
	return 0;
}

/*
 * Reads a repetition counter: a mapping of windows to limits, plus the
 * extra keys named in extra (handled by the caller: skipped here).
 * Returns 0 or -1.
 */
static int read_repeat(af_rl_t *c, const yaml_node_t *n, const char *extra,
		af_repeat_t *out)
{
	yaml_node_t *k, *v;
	const char *s;
	size_t i, count, len, old;
	uint32_t j;

	memset(out, 0, sizeof(*out));
	if(af_yl_names(&c->y, n, &count) < 0)
		return -1;
	for(i = 0; i < count; i++) {
		af_yl_pair(&c->y, n, i, &k, &v);
		s = AF_YL_TEXT(k);
		len = AF_YL_LEN(k);
		if(extra && strlen(extra) == len && memcmp(s, extra, len) == 0)
			continue;
		if(out->n == AF_DEST_WINDOWS)
			return af_yl_err(&c->y, k, "at most %d windows",
					AF_DEST_WINDOWS);
		if(read_window(c, k, &out->window_s[out->n]) < 0)
			return -1;
		for(j = 0; j < out->n; j++)
			if(out->window_s[j] == out->window_s[out->n])
				return af_yl_err(&c->y, k, "window '%.*s' given twice",
						AF_YL_SHOWN(len), s);
		old = af_yl_push(&c->y, s, len);
		if(read_limit(c, v, &out->lim[out->n]) < 0)
			return -1;
		af_yl_pop(&c->y, old);
		out->n++;
	}
	return 0;
}

/* Reads workday/holiday slot limits into out[2]. Returns 0 or -1. */
static int read_day_slots(af_rl_t *c, const yaml_node_t *n, af_slots_t *out,
		int *has)
{
	yaml_node_t *v[K_CONC_N];
	size_t old;
	int i;

	if(af_yl_map(&c->y, n, conc_keys, K_CONC_N, v, NULL) < 0)
		return -1;
	for(i = 0; i < K_CONC_N; i++) {
		out[i].dflt = AF_NO_LIMIT;
		if(af_yl_is_null(v[i]))
			continue;
		old = push(c, conc_keys[i]);
		if(af_slots_parse(&c->y, v[i], &out[i]) < 0)
			return -1;
		af_yl_pop(&c->y, old);
		*has = 1;
	}
	return 0;
}

/* Reads a sequence of path nodes. Returns 0 or -1. */
static int read_paths(af_rl_t *c, const yaml_node_t *n, const char ***out,
		uint32_t *nout)
{
	size_t i, count;
	void *p;

	if(af_rl_seq_alloc(c, n, sizeof(char *), &count, &p) < 0)
		return -1;
	*out = p;
	for(i = 0; i < count; i++)
		if(af_rl_path(c, af_yl_item(&c->y, n, i), AF_FILE_NUMPLAN,
				   &(*out)[i])
				< 0)
			return -1;
	*nout = (uint32_t)count;
	return 0;
}

/* qsort order of caller map entries */
static int cmp_map(const void *a, const void *b)
{
	const af_caller_map_t *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->key, y->key, n);

	return r ? r : (x->len > y->len) - (x->len < y->len);
}

/*
 * Reads a mapping of callers (users, or number prefixes when digits is
 * set) to profile names; the names are resolved by af_rl_dest_finish.
 */
static int read_caller_map(af_rl_t *c, const yaml_node_t *n, int digits,
		af_caller_map_t **out, uint32_t *nout, uint32_t *maxlen)
{
	yaml_node_t *k, *v;
	const char *s, *pn;
	size_t i, j, count, len, plen;
	af_caller_map_t *m;

	if(af_yl_names(&c->y, n, &count) < 0)
		return -1;
	if(!count)
		return 0;
	m = af_arena_alloc(c->y.arena, count * sizeof(*m));
	if(!m)
		return af_yl_oom(&c->y, n);
	for(i = 0; i < count; i++) {
		af_yl_pair(&c->y, n, i, &k, &v);
		s = AF_YL_TEXT(k);
		len = AF_YL_LEN(k);
		if(digits && len && s[0] == '+') {
			s++;
			len--;
		}
		for(j = 0; digits && j < len; j++)
			if(s[j] < '0' || s[j] > '9')
				break;
		if(len == 0 || (digits && (j < len || len > AF_E164_MAX)))
			return af_yl_err(&c->y, k, "'%.*s' is not a %s",
					AF_YL_SHOWN(AF_YL_LEN(k)), AF_YL_TEXT(k),
					digits ? "number prefix (1-15 digits)" : "user");
		if(af_yl_name(&c->y, v, "profile", AF_RULES_NAME_MAX, &pn, &plen) < 0)
			return -1;
		m[i].key = af_arena_strndup(c->y.arena, s, len);
		m[i].len = (uint32_t)len;
		m[i].profile_name = af_arena_strndup(c->y.arena, pn, plen);
		if(!m[i].key || !m[i].profile_name)
			return af_yl_oom(&c->y, k);
		if(maxlen && len > *maxlen)
			*maxlen = (uint32_t)len;
	}
	qsort(m, count, sizeof(*m), cmp_map);
	*out = m;
	*nout = (uint32_t)count;
	return 0;
}

/* Reads dest.callers. Returns 0 or -1. */
static int read_callers(af_rl_t *c, const yaml_node_t *n)
{
	af_dest_cfg_t *d = &c->r->dest;
	yaml_node_t *v[K_CALLERS_N];
	size_t old;

	if(af_yl_map(&c->y, n, callers_keys, K_CALLERS_N, v, NULL) < 0)
		return -1;
	old = push(c, "users");
	if(read_caller_map(c, v[K_BY_USER], 0, &d->by_user, &d->n_by_user, NULL)
			< 0)
		return -1;
	af_yl_pop(&c->y, old);
	old = push(c, "prefixes");
	if(read_caller_map(c, v[K_BY_PREFIX], 1, &d->by_prefix, &d->n_by_prefix,
			   &d->by_prefix_max)
			< 0)
		return -1;
	af_yl_pop(&c->y, old);
	return 0;
}

/* Reads dest.calendars. Returns 0 or -1. */
static int read_calendars(af_rl_t *c, const yaml_node_t *n)
{
	af_dest_cfg_t *d = &c->r->dest;
	yaml_node_t *k, *v;
	const char *s;
	size_t i, count, len, old;

	if(af_yl_names(&c->y, n, &count) < 0)
		return -1;
	if(!count)
		return 0;
	d->calendars = af_arena_alloc(c->y.arena, count * sizeof(*d->calendars));
	if(!d->calendars)
		return af_yl_oom(&c->y, n);
	for(i = 0; i < count; i++) {
		af_yl_pair(&c->y, n, i, &k, &v);
		if(af_yl_name(&c->y, k, "calendar", AF_RULES_NAME_MAX, &s, &len) < 0)
			return -1;
		old = af_yl_push(&c->y, s, len);
		if(af_cal_parse(&c->y, v, c->r->loaded_ms, &d->calendars[i]) < 0)
			return -1;
		d->calendars[i].name = af_arena_strndup(c->y.arena, s, len);
		if(!d->calendars[i].name)
			return af_yl_oom(&c->y, k);
		d->n_calendars++;
		af_yl_pop(&c->y, old);
	}
	return 0;
}

/*
 * Reads the 'dest' section: number plan (and overlays) loaded into the
 * snapshot, calendars, the system calendar, the longest call, total
 * concurrency limits and the caller-to-profile table. Returns 0 or -1.
 */
int af_rl_dest(af_rl_t *c, const yaml_node_t *n)
{
	af_dest_cfg_t *d = &c->r->dest;
	yaml_node_t *v[K_DEST_N];
	size_t old;
	int i, rc = 0;

	d->max_duration_s = AF_DEST_DURATION_DEF;
	d->conc_total[0].dflt = d->conc_total[1].dflt = AF_NO_LIMIT;
	if(af_yl_map(&c->y, n, dest_keys, K_DEST_N, v, NULL) < 0)
		return -1;
	for(i = 0; i < K_DEST_N && rc == 0; i++) {
		if(af_yl_is_null(v[i]))
			continue;
		old = push(c, dest_keys[i]);
		switch(i) {
			case K_NUMPLAN:
				rc = af_rl_path(c, v[i], AF_FILE_NUMPLAN, &d->numplan_path);
				break;
			case K_OVERLAYS:
				rc = read_paths(c, v[i], &d->overlay_paths, &d->n_overlays);
				break;
			case K_CALENDARS:
				rc = read_calendars(c, v[i]);
				break;
			case K_CALENDAR:
				rc = calendar_ref(c, v[i], &d->calendar);
				break;
			case K_MAX_DURATION:
				rc = af_yl_u32(&c->y, v[i], 60, 7 * AF_RULES_DAY,
						&d->max_duration_s);
				break;
			case K_CONCURRENCY:
				rc = read_day_slots(c, v[i], d->conc_total, &d->has_conc_total);
				break;
			case K_CALLERS:
				rc = read_callers(c, v[i]);
				break;
		}
		af_yl_pop(&c->y, old);
	}
	if(rc < 0)
		return -1;
	if(!d->numplan_path) {
		if(d->n_overlays)
			return af_yl_err(&c->y, n, "overlays without a numplan");
		return 0;
	}
	d->plan = af_numplan_load(c->y.arena, d->numplan_path,
			(const char *const *)d->overlay_paths, (int)d->n_overlays,
			c->y.err, c->y.errlen);
	if(!d->plan) {
		old = af_yl_push(&c->y, "numplan", 7);
		af_yl_cite(&c->y, v[K_NUMPLAN] ? v[K_NUMPLAN] : n);
		af_yl_pop(&c->y, old);
		return -1;
	}
	return 0;
}

/*
 * Reads a sequence of prefix strings: literal digits (and, for strip,
 * '*' and '#'), into an arena array of C strings. Returns the count, or
 * -1 with the error set.
 */
static int read_prefixes(af_rl_t *c, const yaml_node_t *n, int strip,
		const char ***out)
{
	static const char *none[1] = {NULL};
	yaml_node_t *it;
	const char *s;
	size_t i, j, count, len;
	void *p;

	if(n && n->type == YAML_SCALAR_NODE && !af_yl_is_null(n)) {
		/* one prefix without brackets */
		count = 1;
		p = af_arena_alloc(c->y.arena, sizeof(char *));
		if(!p)
			return af_yl_oom(&c->y, n);
	} else if(af_rl_seq_alloc(c, n, sizeof(char *), &count, &p) < 0) {
		return -1;
	}
	/* an empty list given is "none", not "take the plan's" */
	*out = count ? p : none;
	for(i = 0; i < count; i++) {
		it = n->type == YAML_SCALAR_NODE ? (yaml_node_t *)n
										 : af_yl_item(&c->y, n, i);
		if(af_yl_str(&c->y, it, &s, &len) < 0)
			return -1;
		for(j = 0; j < len; j++)
			if(!((s[j] >= '0' && s[j] <= '9')
					   || (strip && (s[j] == '*' || s[j] == '#'))))
				break;
		if(len == 0 || j < len || len > 7)
			return af_yl_err(&c->y, it, "'%.*s' is not a %s (1-7 %s)",
					AF_YL_SHOWN(len), s, strip ? "technical prefix" : "prefix",
					strip ? "digits, '*' or '#'" : "digits");
		(*out)[i] = af_arena_strndup(c->y.arena, s, len);
		if(!(*out)[i])
			return af_yl_oom(&c->y, it);
	}
	return (int)count;
}

/*
 * An E.164 prefix ('+' optional) of a prefix set (af_rl_strset_of()
 * item), kept without its '+'; raises *maxlen (arg) to the longest.
 * Returns 0, or -1 with the error set.
 */
static int e164_item(af_rl_t *c, const yaml_node_t *it, const char **sp,
		size_t *lenp, char *buf, void *arg)
{
	uint32_t *maxlen = arg;
	const char *s = *sp;
	size_t j, len = *lenp;

	if(len && s[0] == '+') {
		s++;
		len--;
	}
	for(j = 0; j < len; j++)
		if(s[j] < '0' || s[j] > '9')
			break;
	if(len == 0 || j < len || len > AF_E164_MAX)
		return af_yl_err(&c->y, it,
				"'%.*s' is not an E.164 prefix (1-15 digits, '+'"
				" optional)",
				AF_YL_SHOWN(AF_YL_LEN(it)), AF_YL_TEXT(it));
	if(len > *maxlen)
		*maxlen = (uint32_t)len;
	*sp = s;
	*lenp = len;
	return 0;
}

/*
 * An exempt number (af_rl_strset_of() item): as dialed (1 to
 * AF_DIALED_MAX digits, '*' or '#') or '+' and 1 to 15 digits, each
 * compared whole. Returns 0, or -1 with the error set.
 */
static int number_item(af_rl_t *c, const yaml_node_t *it, const char **sp,
		size_t *lenp, char *buf, void *arg)
{
	const char *s = *sp;
	size_t j, len = *lenp;
	int plus = len && s[0] == '+';

	for(j = (size_t)plus; j < len; j++)
		if(!((s[j] >= '0' && s[j] <= '9')
				   || (!plus && (s[j] == '*' || s[j] == '#'))))
			break;
	if(j < len || len == (size_t)plus
			|| len - (size_t)plus > (plus ? AF_E164_MAX : AF_DIALED_MAX))
		return af_yl_err(&c->y, it,
				"'%.*s' is not a number (as dialed: 1 to %d digits, '*'"
				" or '#'; or '+' and 1 to %d digits)",
				AF_YL_SHOWN(len), s, AF_DIALED_MAX, AF_E164_MAX);
	return 0;
}

/* what af_rl_classes reads into */
typedef struct rl_classes_arg {
	uint32_t *mask;
	int *intl; /* NULL: 'international' and 'all' are not allowed */
} rl_classes_arg_t;

/* one class name s[0..len) of a list: its bit number in *item */
static int rl_class(af_rl_t *c, const yaml_node_t *it, const char *s,
		size_t len, void *item, void *arg)
{
	const rl_classes_arg_t *a = arg;
	int cls;

	if(a->intl && len == 13 && memcmp(s, "international", 13) == 0) {
		*a->intl = 1;
		return 0;
	}
	if(a->intl && len == 3 && memcmp(s, "all", 3) == 0) {
		*a->mask = (1u << AF_NC__COUNT) - 1;
		return 0;
	}
	cls = af_numclass_parse(s, len);
	if(cls < 0)
		return af_yl_err(&c->y, it,
				"unknown number class '%.*s' (fixed, mobile, premium,"
				" shared_cost, toll_free, personal, uan, voip, pager,"
				" voicemail, satellite, international, special,"
				" unknown, short%s)",
				AF_YL_SHOWN(len), s,
				a->intl ? "; or 'international' for any number abroad,"
						  " 'all'"
						: "");
	*(int *)item = cls;
	return 0;
}

/*
 * Reads a sequence of class names into a bit mask; 'international' sets
 * *intl when intl is not NULL (outside_hours). Returns 0 or -1. Also the
 * scope of the analytics minutes rule.
 */
int af_rl_classes(af_rl_t *c, const yaml_node_t *n, uint32_t *mask, int *intl)
{
	rl_classes_arg_t a = {mask, intl};

	return af_rl_bits(c, n, rl_class, &a, mask);
}

/* Reads the profile's rates. Returns 0 or -1. */
static int read_rates(af_rl_t *c, const yaml_node_t *n, af_dest_profile_t *d)
{
	yaml_node_t *v[R_N];
	af_limit_t *dst[R_N] = {&d->rate_cps, &d->rate_cpm, &d->rate_country_cpm};
	size_t old;
	int i;

	if(af_yl_map(&c->y, n, rate_keys, R_N, v, NULL) < 0)
		return -1;
	for(i = 0; i < R_N; i++) {
		if(af_yl_is_null(v[i]))
			continue;
		old = push(c, rate_keys[i]);
		if(read_limit(c, v[i], dst[i]) < 0)
			return -1;
		af_yl_pop(&c->y, old);
	}
	return 0;
}

/* Reads the profile's repetition counters. Returns 0 or -1. */
static int read_repeats(af_rl_t *c, const yaml_node_t *n,
		af_dest_profile_t *d)
{
	yaml_node_t *v[RP_N], *dv[1];
	static const char *const digits_key[1] = {"digits"};
	const char *s;
	size_t len, old, i, count;
	yaml_node_t *k, *val;

	if(af_yl_map(&c->y, n, repeat_keys, RP_N, v, NULL) < 0)
		return -1;
	if(!af_yl_is_null(v[RP_SCOPE])) {
		old = push(c, "scope");
		if(af_yl_str(&c->y, v[RP_SCOPE], &s, &len) < 0)
			return -1;
		if(len == 3 && memcmp(s, "all", 3) == 0)
			d->repeat_intl_only = 0;
		else if(len == 13 && memcmp(s, "international", 13) == 0)
			d->repeat_intl_only = 1;
		else
			return af_yl_err(&c->y, v[RP_SCOPE],
					"scope must be all or international, got '%.*s'",
					AF_YL_SHOWN(len), s);
		af_yl_pop(&c->y, old);
	}
	old = push(c, "same_number");
	if(!af_yl_is_null(v[RP_SAME]) && read_repeat(c, v[RP_SAME], NULL, &d->same) < 0)
		return -1;
	af_yl_pop(&c->y, old);
	old = push(c, "many_callers");
	if(!af_yl_is_null(v[RP_CALLERS])
			&& read_repeat(c, v[RP_CALLERS], NULL, &d->callers) < 0)
		return -1;
	af_yl_pop(&c->y, old);
	old = push(c, "similar_numbers");
	if(!af_yl_is_null(v[RP_SIMILAR])) {
		if(read_repeat(c, v[RP_SIMILAR], "digits", &d->similar) < 0)
			return -1;
		d->similar_digits = 2;
		dv[0] = NULL;
		if(af_yl_names(&c->y, v[RP_SIMILAR], &count) < 0)
			return -1;
		for(i = 0; i < count; i++) {
			af_yl_pair(&c->y, v[RP_SIMILAR], i, &k, &val);
			if(AF_YL_LEN(k) == 6 && memcmp(AF_YL_TEXT(k), digits_key[0], 6) == 0)
				dv[0] = val;
		}
		if(dv[0]) {
			size_t old2 = push(c, "digits");
			if(af_yl_u32(&c->y, dv[0], 1, 6, &d->similar_digits) < 0)
				return -1;
			af_yl_pop(&c->y, old2);
		}
	}
	af_yl_pop(&c->y, old);
	return 0;
}

/* Reads the callers' country and builds their dialplan. Returns 0 or -1. */
static int read_dialing(af_rl_t *c, yaml_node_t **v, af_dest_profile_t *d,
		const yaml_node_t *n)
{
	const char **nat = NULL, **intl = NULL, **strip = NULL;
	int n_nat = 0, n_intl = 0, n_strip = 0;
	char why[192];
	const char *s;
	size_t len, old;
	uint32_t short_max = AF_DEST_SHORT_MAX_DEF;

	if(!v[P_COUNTRY])
		return af_yl_err(&c->y, n,
				"missing 'country' (the callers' country, e.g. DE: numbers"
				" of other countries are international)");
	old = push(c, "country");
	if(af_yl_str(&c->y, v[P_COUNTRY], &s, &len) < 0)
		return -1;
	if(len != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
		return af_yl_err(&c->y, v[P_COUNTRY],
				"'%.*s' is not a two-letter country code (capitals)",
				AF_YL_SHOWN(len), s);
	memcpy(d->country, s, 2);
	af_yl_pop(&c->y, old);
	if(v[P_NATIONAL]) {
		old = push(c, "national_prefix");
		if((n_nat = read_prefixes(c, v[P_NATIONAL], 0, &nat)) < 0)
			return -1;
		af_yl_pop(&c->y, old);
	}
	if(v[P_INTL]) {
		old = push(c, "international_prefix");
		if((n_intl = read_prefixes(c, v[P_INTL], 0, &intl)) < 0)
			return -1;
		af_yl_pop(&c->y, old);
	}
	if(v[P_STRIP]) {
		old = push(c, "strip");
		if((n_strip = read_prefixes(c, v[P_STRIP], 1, &strip)) < 0)
			return -1;
		af_yl_pop(&c->y, old);
	}
	if(v[P_SHORT_MAX]) {
		old = push(c, "short_max");
		if(af_yl_u32(&c->y, v[P_SHORT_MAX], 0, 8, &short_max) < 0)
			return -1;
		af_yl_pop(&c->y, old);
	}
	if(!c->r->dest.plan)
		return af_yl_err(&c->y, n,
				"a profile with 'dest' rules needs dest.numplan (the number"
				" plan)");
	if(af_dialplan_build(c->y.arena, c->r->dest.plan, d->country,
			   v[P_NATIONAL] ? nat : NULL, n_nat, v[P_INTL] ? intl : NULL,
			   n_intl, strip, n_strip, short_max, &d->dial, why, sizeof(why))
			< 0)
		return af_yl_err(&c->y, v[P_COUNTRY], "%s", why);
	return 0;
}

/*
 * The union of d's repetition windows and where each counter has its
 * limit in it (see af_dest_profile_t): what af_check_dest would
 * otherwise work out per call.
 */
static void rep_windows(af_dest_profile_t *d)
{
	const af_repeat_t *rp[3] = {&d->same, &d->similar, &d->callers};
	uint32_t i;
	int k, j, n = 0;

	for(k = 0; k < 3; k++)
		for(i = 0; i < rp[k]->n; i++) {
			for(j = 0; j < n; j++)
				if(d->rep_win[j] == rp[k]->window_s[i])
					break;
			if(j == n)
				d->rep_win[n++] = rp[k]->window_s[i];
		}
	d->n_rep_win = n;
	for(k = 0; k < 3; k++)
		for(j = 0; j < n; j++) {
			d->rep_lim[k][j] = -1;
			for(i = 0; i < rp[k]->n; i++)
				if(rp[k]->window_s[i] == d->rep_win[j]) {
					d->rep_lim[k][j] = (int8_t)i;
					break;
				}
		}
}

/*
 * Reads the 'dest' mapping of profile p: its class of service for
 * af_check_dest. Returns 0 or -1.
 */
int af_rl_profile_dest(af_rl_t *c, const yaml_node_t *n, af_profile_t *p)
{
	af_dest_profile_t *d;
	yaml_node_t *v[P_N];
	size_t old;
	int k, rc = 0;

	if(af_yl_map(&c->y, n, pdest_keys, P_N, v, NULL) < 0)
		return -1;
	d = af_arena_alloc(c->y.arena, sizeof(*d));
	if(!d)
		return af_yl_oom(&c->y, n);
	p->dest = d;
	d->international = 1;
	d->premium = 0;
	d->max_risk = 3;
	d->conc_caller[0].dflt = d->conc_caller[1].dflt = AF_NO_LIMIT;
	if(read_dialing(c, v, d, n) < 0)
		return -1;
	for(k = P_INTERNATIONAL; k < P_N && rc == 0; k++) {
		if(af_yl_is_null(v[k]))
			continue;
		old = push(c, pdest_keys[k]);
		switch(k) {
			case P_INTERNATIONAL:
				rc = af_yl_bool(&c->y, v[k], &d->international);
				break;
			case P_PREMIUM:
				rc = af_yl_bool(&c->y, v[k], &d->premium);
				break;
			case P_DENY_CLASSES:
				rc = af_rl_classes(c, v[k], &d->deny_classes, NULL);
				break;
			case P_MAX_RISK:
				rc = af_yl_u32(&c->y, v[k], 0, 3, &d->max_risk);
				break;
			case P_ALLOW_CC:
				rc = af_rl_codes(c, v[k], 0, &d->allow_cc, &d->n_allow_cc);
				break;
			case P_DENY_CC:
				rc = af_rl_codes(c, v[k], 0, &d->deny_cc, &d->n_deny_cc);
				break;
			case P_ALLOW_ZONE:
				rc = af_rl_codes(c, v[k], 2, &d->allow_zone, &d->n_allow_zone);
				break;
			case P_DENY_ZONE:
				rc = af_rl_codes(c, v[k], 2, &d->deny_zone, &d->n_deny_zone);
				break;
			case P_ALLOW_PREFIX:
				rc = af_rl_strset_of(c, v[k], e164_item, &d->prefix_max,
						&d->allow_prefixes);
				break;
			case P_DENY_PREFIX:
				rc = af_rl_strset_of(c, v[k], e164_item, &d->prefix_max,
						&d->deny_prefixes);
				break;
			case P_BLOCKED:
				rc = af_rl_strset(c, v[k], "caller", 0, &d->blocked_callers);
				break;
			case P_EXEMPT_CALLERS:
				rc = af_rl_strset(c, v[k], "caller", 0, &d->exempt_callers);
				break;
			case P_EXEMPT_NUMBERS:
				rc = af_rl_strset_of(
						c, v[k], number_item, NULL, &d->exempt_numbers);
				break;
			case P_CALENDAR:
				rc = calendar_ref(c, v[k], &d->calendar);
				break;
			case P_OUTSIDE:
				rc = af_rl_classes(c, v[k], &d->outside_classes,
						&d->outside_international);
				break;
			case P_RATES:
				rc = read_rates(c, v[k], d);
				break;
			case P_REPEAT:
				rc = read_repeats(c, v[k], d);
				break;
			case P_CONCURRENCY:
				rc = read_day_slots(c, v[k], d->conc_caller, &d->has_conc_caller);
				break;
		}
		af_yl_pop(&c->y, old);
	}
	if(rc == 0 && (d->outside_classes || d->outside_international)
			&& !d->calendar && !c->r->dest.calendar)
		rc = af_yl_err(&c->y, n,
				"outside_hours needs a calendar (here or dest.calendar)");
	if(rc == 0)
		rep_windows(d);
	return rc;
}

/* Resolves the profile names of map m[0..n). Returns 0 or -1. */
static int resolve_map(af_rl_t *c, const yaml_node_t *root,
		af_caller_map_t *m, uint32_t n)
{
	uint32_t i;

	for(i = 0; i < n; i++) {
		m[i].profile = af_rules_profile(
				c->r, m[i].profile_name, strlen(m[i].profile_name));
		if(!m[i].profile)
			return af_yl_err(&c->y, root,
					"dest.callers: '%s' names profile '%s', which does not"
					" exist",
					m[i].key, m[i].profile_name);
		if(!m[i].profile->dest)
			return af_yl_err(&c->y, root,
					"dest.callers: profile '%s' (for '%s') has no 'dest'"
					" rules",
					m[i].profile_name, m[i].key);
	}
	return 0;
}

/*
 * After the whole file: the caller table's profiles exist and have dest
 * rules. Returns 0 or -1.
 */
int af_rl_dest_finish(af_rl_t *c, const yaml_node_t *root)
{
	af_dest_cfg_t *d = &c->r->dest;

	if(resolve_map(c, root, d->by_user, d->n_by_user) < 0
			|| resolve_map(c, root, d->by_prefix, d->n_by_prefix) < 0)
		return -1;
	return 0;
}
