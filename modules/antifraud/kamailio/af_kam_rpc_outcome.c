/*
 * antifraud - RPC commands of call outcomes: a subject's figures against
 * the rules and the baseline (antifraud.analytics), the top-N view
 * (antifraud.analytics_top) and the per-slot baselines with suggested
 * thresholds (antifraud.analytics_stats).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/dprint.h"
#include "core/rpc.h"
#include "af_kam.h"
#include "af_outcome.h"
#include "af_text.h"

static const char *const rule_names[AF_AN__COUNT] = {
		"asr", "acd", "short_calls", "minutes", "pdd"};

/* a decimal as text (the RPC's numbers are integers) */
static const char *dec(char *buf, size_t size, double x)
{
	snprintf(buf, size, "%.3f", x);
	return buf;
}

/* adds the fields of figure f to the struct h */
static int figure_fields(rpc_t *rpc, void *h, const af_figure_t *f)
{
	char asr[32], acd[32], sh[32], mn[32], pdd[32];

	return rpc->struct_add(h, "dddddddsssss", "window", (int)f->window_s,
			"attempts", (int)f->c[AF_FIG_ATTEMPTS], "answered",
			(int)f->c[AF_FIG_ANSWERED], "short", (int)f->c[AF_FIG_SHORT],
			"long", (int)f->c[AF_FIG_LONG], "seconds",
			(int)f->c[AF_FIG_SECONDS], "rung", (int)f->c[AF_FIG_RUNG], "asr",
			dec(asr, sizeof(asr), f->asr), "acd",
			dec(acd, sizeof(acd), f->acd_s), "short_share",
			dec(sh, sizeof(sh), f->short_share), "minutes",
			dec(mn, sizeof(mn), f->minutes), "pdd",
			dec(pdd, sizeof(pdd), f->pdd_s));
}

/* adds figure f to the array list */
static int add_figure(rpc_t *rpc, void *list, const af_figure_t *f)
{
	void *h;

	if(rpc->array_add(list, "{", &h) < 0)
		return -1;
	return figure_fields(rpc, h, f);
}

const char *af_kam_rpc_analytics_doc[] = {
		"Call outcomes of a subject: 'antifraud.analytics <kind> <name>',"
		" kind caller, source, country, prefix or profile. Its figures over"
		" every window (cluster-wide in Redis mode: attempts, answered,"
		" short, long, seconds, rung, asr, acd, short_share, minutes,"
		" pdd), the default profile's rules that judge it, the baseline of"
		" this hour and whether it is refused now (enforce mode). Without"
		" arguments: the windows, this hour's baseline and the top callers"
		" by attempts.",
		0};

/* the rules of the default profile that judge kind s */
static void add_rules(rpc_t *rpc, void *h, af_outcome_subject_t s)
{
	const af_an_profile_t *an;
	af_rules_t *r = af_core_acquire();
	char lim[32];
	void *list, *item;
	int k;

	an = r->default_profile->an;
	if(rpc->struct_add(h, "[", "rules", &list) >= 0)
		for(k = 0; k < AF_AN__COUNT; k++) {
			const af_an_rule_t *ru = &an->rule[k];
			if(ru->limit <= 0 || !(ru->subjects & (1u << s)))
				continue;
			if(rpc->array_add(list, "{", &item) < 0)
				break;
			rpc->struct_add(item, "ssdd", "rule", rule_names[k], "limit",
					dec(lim, sizeof(lim),
							k == AF_AN_ASR || k == AF_AN_SHORT
									? ru->limit * 100
									: ru->limit),
					"min_sample", (int)ru->min, "window", (int)ru->window_s);
		}
	af_core_release(r);
}

/* this hour's baseline */
static void add_baseline(rpc_t *rpc, void *h)
{
	af_outcome_slot_stat_t st;
	int holiday, hour;
	char a[32], b[32], c[32], d[32], e[32], f[32];
	uint64_t now = af_now_ms();
	void *bh;

	af_outcome_slot_now(now, &holiday, &hour);
	af_outcome_slot_stat(holiday, hour, &st);
	if(rpc->struct_add(h, "{", "baseline", &bh) < 0)
		return;
	rpc->struct_add(bh, "sddsssssss", "day", holiday ? "holiday" : "workday",
			"hour", hour, "samples", (int)st.samples, "attempts_mean",
			dec(a, sizeof(a), st.attempts_mean), "attempts_sd",
			dec(b, sizeof(b), st.attempts_sd), "asr_mean",
			dec(c, sizeof(c), st.asr_mean), "asr_sd",
			dec(d, sizeof(d), st.asr_sd), "acd_mean",
			dec(e, sizeof(e), st.acd_mean), "acd_sd",
			dec(f, sizeof(f), st.acd_sd), "mix_windows",
			st.mix_windows ? "learned" : "none");
}

void af_kam_rpc_analytics(rpc_t *rpc, void *ctx)
{
	af_figure_t f[AF_OUTCOME_WINDOWS];
	af_outcome_top_t top[10];
	str kind = STR_NULL, name = STR_NULL;
	char err[128], ts[AF_CALL_SUBJECT_MAX + 1], a[32];
	af_ban_t mark;
	void *h, *list, *item;
	int s, n, i, m;

	n = rpc->scan(ctx, "*SS", &kind, &name);
	/* arguments checked before use: plain text of bounded length */
	if(n >= 1 && (kind.len > 16 || !af_text_plain(kind.s, (size_t)kind.len))) {
		rpc->fault(ctx, 400, "kind: caller, source, country, prefix or"
							 " profile");
		return;
	}
	if(n >= 2 && (name.len <= 0 || name.len > AF_CALL_SUBJECT_MAX
						 || !af_text_plain(name.s, (size_t)name.len))) {
		rpc->fault(ctx, 400, "name: plain text of 1 to %d bytes",
				AF_CALL_SUBJECT_MAX);
		return;
	}
	if(rpc->add(ctx, "{", &h) < 0)
		return;
	if(n < 2) {
		af_rules_t *r = af_core_acquire();
		if(rpc->struct_add(h, "[", "windows", &list) >= 0)
			for(i = 0; i < (int)r->analytics.n_windows; i++)
				rpc->array_add(list, "d", (int)r->analytics.windows[i]);
		rpc->struct_add(h, "d", "enabled", r->analytics.enabled);
		af_core_release(r);
		add_baseline(rpc, h);
		m = af_outcome_top(AF_OUT_CALLER, AF_TOP_ATTEMPTS, top, 10);
		if(rpc->struct_add(h, "[", "top_callers", &list) < 0)
			return;
		for(i = 0; i < m; i++) {
			char esc[AF_CALL_SUBJECT_MAX * 4 + 4];
			af_text_escape(top[i].name, strlen(top[i].name), esc, sizeof(esc));
			if(rpc->array_add(list, "{", &item) < 0)
				return;
			rpc->struct_add(item, "sds", "caller", esc, "attempts",
					(int)top[i].fig.c[AF_FIG_ATTEMPTS], "asr",
					dec(a, sizeof(a), top[i].fig.asr));
		}
		return;
	}
	s = af_outcome_subject_parse(kind.s, (size_t)kind.len);
	if(s < 0 || name.len <= 0 || name.len > AF_CALL_SUBJECT_MAX) {
		rpc->fault(ctx, 400,
				"usage: antifraud.analytics <caller|source|country|prefix|"
				"profile> <name>");
		return;
	}
	n = af_outcome_figures((af_outcome_subject_t)s, name.s, (size_t)name.len, f, err,
			sizeof(err));
	if(n < 0) {
		rpc->fault(ctx, 500, "%s", err);
		return;
	}
	snprintf(ts, sizeof(ts), "%.*s", name.len, name.s);
	rpc->struct_add(h, "ss", "kind", af_outcome_subject_name((af_outcome_subject_t)s),
			"name", ts);
	if(rpc->struct_add(h, "[", "figures", &list) < 0)
		return;
	for(i = 0; i < n; i++)
		if(add_figure(rpc, list, &f[i]) < 0)
			return;
	add_rules(rpc, h, (af_outcome_subject_t)s);
	add_baseline(rpc, h);
	m = af_outcome_mark_get(
			(af_outcome_subject_t)s, name.s, (size_t)name.len, &mark);
	if(m == 1) {
		char esc[AF_BAN_REASON * 4 + 4];
		af_text_escape(mark.reason, strnlen(mark.reason, sizeof(mark.reason)),
				esc, sizeof(esc));
		rpc->struct_add(h, "sd", "refused", esc, "refused_for",
				(int)((mark.until_ms - af_now_ms() + 999) / 1000));
	} else
		rpc->struct_add(h, "s", "refused", m < 0 ? "unknown" : "no");
}

const char *af_kam_rpc_analytics_top_doc[] = {
		"Top-N view of call outcomes: 'antifraud.analytics_top [metric]"
		" [kind] [n]'; metric attempts (default), minutes, asr (lowest"
		" first), acd or short; kind caller (default), source, country,"
		" prefix, profile or all; n up to 100 (default 10). The subjects"
		" this node saw end a call in the first window, with their figures"
		" of that window (cluster-wide in Redis mode).",
		0};

void af_kam_rpc_analytics_top(rpc_t *rpc, void *ctx)
{
	static af_outcome_top_t top[100];
	str metric = STR_NULL, kind = STR_NULL;
	int n = 10, m = AF_TOP_ATTEMPTS, s = AF_OUT_CALLER, got, i;
	rpc->scan(ctx, "*SSd", &metric, &kind, &n);
	if(metric.len > 16 || kind.len > 16
			|| (metric.len > 0 && !af_text_plain(metric.s, (size_t)metric.len))
			|| (kind.len > 0 && !af_text_plain(kind.s, (size_t)kind.len))) {
		rpc->fault(ctx, 400, "usage: antifraud.analytics_top [metric]"
							 " [kind] [n]");
		return;
	}
	if(metric.len > 0
			&& (m = af_top_metric_parse(metric.s, (size_t)metric.len)) < 0) {
		rpc->fault(ctx, 400, "metric: attempts, minutes, asr, acd or short");
		return;
	}
	if(kind.len == 3 && memcmp(kind.s, "all", 3) == 0)
		s = AF_OUT__COUNT;
	else if(kind.len > 0
			&& (s = af_outcome_subject_parse(kind.s, (size_t)kind.len)) < 0) {
		rpc->fault(ctx, 400,
				"kind: caller, source, country, prefix, profile or all");
		return;
	}
	if(n < 1 || n > 100) {
		rpc->fault(ctx, 400, "n: 1 to 100");
		return;
	}
	got = af_outcome_top((af_outcome_subject_t)s, (af_top_metric_t)m, top, n);
	for(i = 0; i < got; i++) {
		char esc[AF_CALL_SUBJECT_MAX * 4 + 4];
		void *item;
		af_text_escape(top[i].name, strlen(top[i].name), esc, sizeof(esc));
		if(rpc->add(ctx, "{", &item) < 0)
			return;
		rpc->struct_add(item, "ss", "kind", af_outcome_subject_name(top[i].kind),
				"name", esc);
		if(figure_fields(rpc, item, &top[i].fig) < 0)
			return;
	}
}

const char *af_kam_rpc_analytics_stats_doc[] = {
		"Baselines of this node's calls per day type and hour of the system"
		" calendar (minutes sampled): attempts per minute, ASR and ACD as"
		" mean and standard deviation, with suggested thresholds"
		" (asr_suggest = mean - 3 sd, acd_suggest = mean + 3 sd,"
		" attempts_suggest = ceil(mean + 3 sd)) and the signal-mix windows"
		" each slot learned. Parameter 'all' lists the empty hours too.",
		0};

void af_kam_rpc_analytics_stats(rpc_t *rpc, void *ctx)
{
	static const char *const day[2] = {"workday", "holiday"};
	af_outcome_slot_stat_t st;
	str all = STR_NULL;
	char a[32], b[32], c[32], d[32], e[32], f[32], g[32], k[32];
	int dt, hr, show_all;
	void *item;

	show_all = rpc->scan(ctx, "*S", &all) == 1 && all.len == 3
			   && memcmp(all.s, "all", 3) == 0;
	for(dt = 0; dt < 2; dt++)
		for(hr = 0; hr < 24; hr++) {
			af_outcome_slot_stat(dt, hr, &st);
			if(!st.samples && !st.mix_windows && !show_all)
				continue;
			if(rpc->add(ctx, "{", &item) < 0)
				return;
			rpc->struct_add(item, "sddssssssssdd", "day", day[dt], "hour", hr,
					"samples", (int)st.samples, "attempts_mean",
					dec(a, sizeof(a), st.attempts_mean), "attempts_sd",
					dec(b, sizeof(b), st.attempts_sd), "asr_mean",
					dec(c, sizeof(c), st.asr_mean), "asr_sd",
					dec(d, sizeof(d), st.asr_sd), "asr_suggest",
					dec(e, sizeof(e),
							fmax(0, st.asr_mean - 3 * st.asr_sd)),
					"acd_mean", dec(f, sizeof(f), st.acd_mean), "acd_sd",
					dec(g, sizeof(g), st.acd_sd), "acd_suggest",
					dec(k, sizeof(k), st.acd_mean + 3 * st.acd_sd),
					"attempts_suggest",
					(int)ceil(st.attempts_mean + 3 * st.attempts_sd),
					"mix_windows", (int)st.mix_windows);
		}
}
