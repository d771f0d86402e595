/*
 * antifraud - the rule file's 'analytics' section (how calls end, the
 * duration guard, the signal mix) and the 'analytics' mapping of a
 * profile, which overrides the section's rules for that profile.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "af_rules_int.h"
#include "af_outcome.h"

enum {
	K_WINDOWS,
	K_SUBJECTS,
	K_PREFIX_DIGITS,
	K_SHORT_CALL,
	K_LONG_CALL,
	K_COOLING,
	K_SIGNAL_MIX,
	K_AN_TOP
};
/* the keys of the section besides those of the rules (rule_keys) */
static const char *const top_keys[K_AN_TOP] = {"windows", "subjects",
		"prefix_digits", "short_call", "long_call", "cooling", "signal_mix"};

enum { K_ASR, K_ACD, K_SHORT, K_MINUTES, K_PDD, K_DURATION, K_FOLLOW,
	K_RULES_N };
static const char *const rule_keys[K_RULES_N] = {"asr", "acd",
		"short_calls", "minutes", "pdd", "duration", "follow"};

enum { K_R_LIMIT, K_R_MIN, K_R_WINDOW, K_R_SUBJECTS, K_R_SCOPE, K_R_N };
/* the name of the limit per rule: asr is a floor, the others ceilings */
static const char *const limit_names[AF_AN__COUNT] = {
		"below", "above", "above", "above", "above"};

enum { K_D_NATIONAL, K_D_INTL, K_D_CLASSES, K_D_RISK, K_D_N };
static const char *const duration_keys[K_D_N] = {
		"national", "international", "classes", "risk"};

enum {
	K_M_WINDOW,
	K_M_MIN,
	K_M_THRESHOLD,
	K_M_SMOOTHING,
	K_M_LEARN,
	K_M_SUBJECTS,
	K_M_N
};
static const char *const mix_keys[K_M_N] = {"window", "min_signals",
		"threshold", "smoothing", "learn", "subjects"};

/*
 * Reads scalar n as a decimal number in lo..hi into *v. Returns 0, or -1
 * with the error set.
 */
static int an_num(af_rl_t *c, const yaml_node_t *n, double lo, double hi,
		double *v)
{
	const char *s;
	char buf[32], *end;
	size_t len;
	double x;

	if(af_yl_str(&c->y, n, &s, &len) < 0)
		return -1;
	if(len == 0 || len >= sizeof(buf))
		return af_yl_err(&c->y, n, "'%.*s' is not a number",
				AF_YL_SHOWN(len), s);
	memcpy(buf, s, len);
	buf[len] = '\0';
	x = strtod(buf, &end);
	if(*end || !isfinite(x) || buf[0] == ' ' || buf[0] == '+')
		return af_yl_err(&c->y, n, "'%.*s' is not a number",
				AF_YL_SHOWN(len), s);
	if(x < lo || x > hi)
		return af_yl_err(&c->y, n, "%g is out of range (%g..%g)", x, lo, hi);
	*v = x;
	return 0;
}

/* one subject name s[0..len) of a list: its bit number in *item; arg
 * points to the subjects allowed (bits) */
static int an_subject(af_rl_t *c, const yaml_node_t *it, const char *s,
		size_t len, void *item, void *arg)
{
	int k = af_outcome_subject_parse(s, len);

	if(k < 0 || !(*(const uint32_t *)arg & (1u << k)))
		return af_yl_err(&c->y, it, "'%.*s' is not a subject here",
				AF_YL_SHOWN(len), s);
	*(int *)item = k;
	return 0;
}

/*
 * Reads a sequence of subject names into *bits; allowed: the subjects
 * that may appear (bits). Returns 0, or -1 with the error set.
 */
static int an_subjects(af_rl_t *c, const yaml_node_t *n, uint32_t allowed,
		uint32_t *bits)
{
	*bits = 0;
	if(af_rl_bits(c, n, an_subject, &allowed, bits) < 0)
		return -1;
	if(!*bits)
		return af_yl_err(&c->y, n, "at least one subject is needed");
	return 0;
}

/* 1 when window_s is one of the section's windows */
static int an_has_window(const af_analytics_cfg_t *a, uint32_t window_s)
{
	uint32_t i;

	for(i = 0; i < a->n_windows; i++)
		if(a->windows[i] == window_s)
			return 1;
	return 0;
}

/*
 * Reads the mapping n of figure rule k into ru (over what it holds).
 * Returns 0, or -1 with the error set.
 */
static int an_rule(af_rl_t *c, const yaml_node_t *n, int k, af_an_rule_t *ru)
{
	const af_analytics_cfg_t *a = &c->r->analytics;
	const char *keys[K_R_N];
	yaml_node_t *v[K_R_N];
	const char *s;
	size_t len, old;
	double x;
	int rc = 0, i;

	memset(v, 0, sizeof(v));
	keys[K_R_LIMIT] = limit_names[k];
	keys[K_R_MIN] = "min_sample";
	keys[K_R_WINDOW] = "window";
	keys[K_R_SUBJECTS] = "subjects";
	keys[K_R_SCOPE] = "scope";
	if(af_yl_map(&c->y, n, keys, k == AF_AN_MINUTES ? K_R_N : K_R_SCOPE, v,
			   NULL)
			< 0)
		return -1;
	if(k == AF_AN_MINUTES && v[K_R_MIN])
		return af_yl_err(&c->y, v[K_R_MIN],
				"minutes has no min_sample (the limit is a total)");
	for(i = 0; i < K_R_N && rc == 0; i++) {
		if(!v[i])
			continue;
		old = af_yl_push(&c->y, keys[i], strlen(keys[i]));
		switch(i) {
			case K_R_LIMIT:
				if(k == AF_AN_ASR || k == AF_AN_SHORT) {
					rc = an_num(c, v[i], 0, 100, &x);
					ru->limit = x / 100.0; /* percent in the file */
				} else {
					rc = an_num(c, v[i], 0, 1e9, &x);
					ru->limit = x;
				}
				break;
			case K_R_MIN:
				rc = af_yl_u32(&c->y, v[i], 1, 1000000000u, &ru->min);
				break;
			case K_R_WINDOW:
				rc = af_yl_u32(&c->y, v[i], 1, AF_RULES_YEAR, &ru->window_s);
				if(rc == 0 && !an_has_window(a, ru->window_s))
					rc = af_yl_err(&c->y, v[i],
							"%u is not one of analytics.windows",
							ru->window_s);
				break;
			case K_R_SUBJECTS:
				rc = an_subjects(c, v[i], a->subjects, &ru->subjects);
				break;
			case K_R_SCOPE:
				ru->intl_only = 0;
				ru->classes = 0;
				if(v[i]->type == YAML_SEQUENCE_NODE) {
					/* number classes: the minutes to them */
					rc = af_rl_classes(c, v[i], &ru->classes, NULL);
					if(rc == 0 && !ru->classes)
						rc = af_yl_err(&c->y, v[i], "no number class");
					break;
				}
				rc = af_yl_str(&c->y, v[i], &s, &len);
				if(rc == 0 && len == 3 && memcmp(s, "all", 3) == 0)
					ru->intl_only = 0;
				else if(rc == 0 && len == 13
						&& memcmp(s, "international", 13) == 0)
					ru->intl_only = 1;
				else if(rc == 0)
					rc = af_yl_err(&c->y, v[i],
							"expected all, international or a list of"
							" number classes, got '%.*s'",
							AF_YL_SHOWN(len), s);
				break;
		}
		af_yl_pop(&c->y, old);
	}
	/* a rule without a sample size judges from 20 calls on, and the
	 * caller when it names no subject */
	if(rc == 0 && !ru->min && k != AF_AN_MINUTES)
		ru->min = 20;
	if(rc == 0 && !ru->subjects)
		ru->subjects = (1u << AF_OUT_CALLER) & a->subjects
							   ? 1u << AF_OUT_CALLER
							   : a->subjects;
	return rc;
}

/*
 * Reads a mapping of class names (or risk tiers when risk) to seconds
 * into dst. Returns 0, or -1 with the error set.
 */
static int an_dur_map(af_rl_t *c, const yaml_node_t *n, int risk,
		uint32_t *dst)
{
	yaml_node_t *k, *v;
	const char *s;
	size_t i, count, len, old;
	uint64_t t;
	int idx;

	if(af_yl_names(&c->y, n, &count) < 0)
		return -1;
	for(i = 0; i < count; i++) {
		af_yl_pair(&c->y, n, i, &k, &v);
		s = AF_YL_TEXT(k);
		len = AF_YL_LEN(k);
		if(risk) {
			if(af_yl_digits(s, len, &t) < 0 || t > 3)
				return af_yl_err(&c->y, k,
						"'%.*s' is not a risk tier (0..3)", AF_YL_SHOWN(len),
						s);
			idx = (int)t;
		} else {
			idx = af_numclass_parse(s, len);
			if(idx < 0)
				return af_yl_err(&c->y, k, "unknown number class '%.*s'",
						AF_YL_SHOWN(len), s);
		}
		old = af_yl_push(&c->y, s, len);
		if(af_yl_u32(&c->y, v, 0, AF_RULES_YEAR, &dst[idx]) < 0)
			return -1;
		af_yl_pop(&c->y, old);
	}
	return 0;
}

/* Reads the 'duration' mapping n into p. Returns 0 or -1. */
static int an_duration(af_rl_t *c, const yaml_node_t *n, af_an_profile_t *p)
{
	yaml_node_t *v[K_D_N];
	size_t old;
	int i, rc = 0;

	if(af_yl_map(&c->y, n, duration_keys, K_D_N, v, NULL) < 0)
		return -1;
	for(i = 0; i < K_D_N && rc == 0; i++) {
		if(!v[i])
			continue;
		old = af_yl_push(&c->y, duration_keys[i], strlen(duration_keys[i]));
		switch(i) {
			case K_D_NATIONAL:
				rc = af_yl_u32(&c->y, v[i], 0, AF_RULES_YEAR, &p->dur_national);
				break;
			case K_D_INTL:
				rc = af_yl_u32(
						&c->y, v[i], 0, AF_RULES_YEAR, &p->dur_international);
				break;
			case K_D_CLASSES:
				rc = an_dur_map(c, v[i], 0, p->dur_class);
				break;
			case K_D_RISK:
				rc = an_dur_map(c, v[i], 1, p->dur_risk);
				break;
		}
		af_yl_pop(&c->y, old);
	}
	return rc;
}

/*
 * Reads the rule keys (asr ... follow) of mapping vals into p, over what
 * p holds. Returns 0, or -1 with the error set.
 */
static int an_rules(af_rl_t *c, yaml_node_t *const *v, af_an_profile_t *p)
{
	const char *s;
	size_t len, old;
	int i, rc = 0;

	for(i = 0; i < K_RULES_N && rc == 0; i++) {
		if(!v[i])
			continue;
		old = af_yl_push(&c->y, rule_keys[i], strlen(rule_keys[i]));
		if(i < AF_AN__COUNT) {
			rc = an_rule(c, v[i], i, &p->rule[i]);
			if(rc == 0 && p->rule[i].limit > 0 && !p->rule[i].window_s)
				rc = af_yl_err(&c->y, v[i], "a window is needed");
		} else if(i == K_DURATION) {
			rc = an_duration(c, v[i], p);
		} else if(i == K_FOLLOW) {
			rc = af_yl_str(&c->y, v[i], &s, &len);
			if(rc == 0 && len == 4 && memcmp(s, "dest", 4) == 0)
				p->follow_all = 0;
			else if(rc == 0 && len == 3 && memcmp(s, "all", 3) == 0)
				p->follow_all = 1;
			else if(rc == 0)
				rc = af_yl_err(&c->y, v[i],
						"expected dest or all, got '%.*s'", AF_YL_SHOWN(len),
						s);
		}
		af_yl_pop(&c->y, old);
	}
	return rc;
}

/* Reads the 'signal_mix' mapping n. Returns 0 or -1. */
static int an_mix(af_rl_t *c, const yaml_node_t *n)
{
	af_analytics_cfg_t *a = &c->r->analytics;
	yaml_node_t *v[K_M_N];
	size_t old;
	int i, rc = 0;

	if(af_yl_map(&c->y, n, mix_keys, K_M_N, v, NULL) < 0)
		return -1;
	a->mix_window_s = 60;
	for(i = 0; i < K_M_N && rc == 0; i++) {
		if(!v[i])
			continue;
		old = af_yl_push(&c->y, mix_keys[i], strlen(mix_keys[i]));
		switch(i) {
			case K_M_WINDOW:
				rc = af_yl_u32(&c->y, v[i], 1, 3600, &a->mix_window_s);
				break;
			case K_M_MIN:
				rc = af_yl_u32(&c->y, v[i], 1, 1000000000u,
						&a->mix_min_signals);
				break;
			case K_M_THRESHOLD:
				rc = an_num(c, v[i], 0.01, 64, &a->mix_threshold);
				break;
			case K_M_SMOOTHING:
				rc = an_num(c, v[i], 0.001, 1000, &a->mix_smoothing);
				break;
			case K_M_LEARN:
				rc = af_yl_u32(&c->y, v[i], 0, 1000000u, &a->mix_learn);
				break;
			case K_M_SUBJECTS:
				rc = an_subjects(c, v[i],
						(1u << AF_OUT_SOURCE) | (1u << AF_OUT_CALLER),
						&a->mix_subjects);
				break;
		}
		af_yl_pop(&c->y, old);
	}
	return rc;
}

/* section defaults, also when the section is absent */
void af_rl_analytics_defaults(af_rules_t *r)
{
	af_analytics_cfg_t *a = &r->analytics;

	memset(a, 0, sizeof(*a));
	a->windows[0] = 900;
	a->windows[1] = 3600;
	a->windows[2] = 86400;
	a->n_windows = 3;
	a->subjects = (1u << AF_OUT__COUNT) - 1;
	a->prefix_digits = 5;
	a->short_s = 6;
	a->long_s = 3600;
	a->cooling_s = 1800;
	a->mix_min_signals = 50;
	a->mix_learn = 10;
	a->mix_subjects = (1u << AF_OUT_SOURCE) | (1u << AF_OUT_CALLER);
	a->mix_threshold = 2.0;
	a->mix_smoothing = 0.5;
}

int af_rl_analytics(af_rl_t *c, const yaml_node_t *n)
{
	af_analytics_cfg_t *a = &c->r->analytics;
	const char *names[K_AN_TOP + K_RULES_N];
	yaml_node_t *v[K_AN_TOP + K_RULES_N];
	const yaml_node_t *it;
	size_t i, count, old;
	uint32_t w;
	int k, rc = 0;

	for(k = 0; k < K_AN_TOP; k++)
		names[k] = top_keys[k];
	for(k = 0; k < K_RULES_N; k++)
		names[K_AN_TOP + k] = rule_keys[k];
	if(af_yl_map(&c->y, n, names, K_AN_TOP + K_RULES_N, v, NULL) < 0)
		return -1;
	a->enabled = 1;
	/* windows and subjects first: the rules name them */
	for(k = 0; k < K_AN_TOP && rc == 0; k++) {
		if(!v[k])
			continue;
		old = af_yl_push(&c->y, top_keys[k], strlen(top_keys[k]));
		switch(k) {
			case K_WINDOWS:
				rc = af_yl_seq(&c->y, v[k], &count);
				if(rc == 0 && (count == 0 || count > AF_AN_WINDOWS))
					rc = af_yl_err(&c->y, v[k], "1 to %d windows, not %zu",
							AF_AN_WINDOWS, count);
				for(i = 0; i < count && rc == 0; i++) {
					it = af_yl_item(&c->y, v[k], i);
					rc = af_yl_u32(&c->y, it, 10, 30 * AF_RULES_DAY, &w);
					if(rc == 0 && i && w <= a->windows[i - 1])
						rc = af_yl_err(&c->y, it,
								"windows must grow (%u after %u)", w,
								a->windows[i - 1]);
					a->windows[i] = w;
				}
				if(rc == 0)
					a->n_windows = (uint32_t)count;
				break;
			case K_SUBJECTS:
				rc = an_subjects(
						c, v[k], (1u << AF_OUT__COUNT) - 1, &a->subjects);
				break;
			case K_PREFIX_DIGITS:
				rc = af_yl_u32(&c->y, v[k], 1, AF_CALL_PREFIX_MAX,
						&a->prefix_digits);
				break;
			case K_SHORT_CALL:
				rc = af_yl_u32(&c->y, v[k], 1, 3600, &a->short_s);
				break;
			case K_LONG_CALL:
				rc = af_yl_u32(&c->y, v[k], 1, AF_RULES_DAY, &a->long_s);
				break;
			case K_COOLING:
				rc = af_yl_u32(&c->y, v[k], 1, AF_RULES_DAY, &a->cooling_s);
				break;
			case K_SIGNAL_MIX:
				rc = an_mix(c, v[k]);
				break;
		}
		af_yl_pop(&c->y, old);
	}
	if(rc == 0 && a->short_s >= a->long_s)
		rc = af_yl_err(&c->y, n, "short_call (%u) must be below long_call"
								 " (%u)",
				a->short_s, a->long_s);
	if(rc == 0)
		rc = an_rules(c, v + K_AN_TOP, &a->defaults);
	return rc;
}

int af_rl_profile_analytics(af_rl_t *c, const yaml_node_t *n,
		af_profile_t *p)
{
	af_an_profile_t *an;
	yaml_node_t *v[K_RULES_N];

	if(af_yl_map(&c->y, n, rule_keys, K_RULES_N, v, NULL) < 0)
		return -1;
	an = af_arena_alloc(c->y.arena, sizeof(*an));
	if(!an)
		return af_yl_oom(&c->y, n);
	*an = c->r->analytics.defaults;
	p->an = an;
	return an_rules(c, v, an);
}
