/*
 * antifraud - labelled metrics for Prometheus through xhttp_prom.
 *
 * The statistics (group antifraud) reach Prometheus through xhttp_prom's
 * own export (modparam xhttp_prom_stats "antifraud:"). What a number alone
 * says too little of is pushed here, every prom_interval seconds from
 * the timer process, into metrics the cfg declares with xhttp_prom's
 * prom_counter/prom_gauge parameters, through xhttp_prom's KEMI functions
 * (it has no C API to bind):
 *
 *   antifraud_verdicts_total{check,action,reason}   counter
 *   antifraud_bans_active                           gauge
 *   antifraud_accounts_under_attack                 gauge
 *   antifraud_concurrent_calls                      gauge
 *   antifraud_concurrent_limit                      gauge (-1: none)
 *   antifraud_redis{state}                          gauge (1 the state now)
 *   antifraud_feed_entries{list}                    gauge
 *
 * Labels are bounded: checks, actions and reasons are fixed sets, states
 * three, lists those the rule file names.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include "core/dprint.h"
#include "core/fmsg.h"
#include "core/kemi.h"
#include "af_kam.h"
#include "af_feed.h"
#include "af_store_cluster.h"

typedef int (*af_prom_counter_l3_f)(
		sip_msg_t *, str *, int, str *, str *, str *);
typedef int (*af_prom_gauge_l0_f)(sip_msg_t *, str *, str *);
typedef int (*af_prom_gauge_l1_f)(sip_msg_t *, str *, str *, str *);

static int af_prom_interval;
static int af_prom_state; /* 0 not bound yet, 1 bound, -1 off */
static af_prom_counter_l3_f af_prom_counter_inc;
static af_prom_gauge_l0_f af_prom_gauge_set0;
static af_prom_gauge_l1_f af_prom_gauge_set1;
/* what was pushed of each counter (the timer process only) */
static uint64_t af_prom_pushed[AF_VK__COUNT][2][AF_R__COUNT];
static uint64_t af_prom_last_ms;

void af_kam_prom_init(int interval_s)
{
	af_prom_interval = interval_s;
}

/* the KEMI function fname of module mname, NULL when not loaded */
static void *kemi_func(const char *mname, const char *fname)
{
	sr_kemi_module_t *mods = sr_kemi_modules_get();
	int i, j, n = sr_kemi_modules_size_get();

	for(i = 0; i < n; i++) {
		if(mods[i].mname.len != (int)strlen(mname)
				|| strncmp(mods[i].mname.s, mname, mods[i].mname.len) != 0)
			continue;
		for(j = 0; mods[i].kexp[j].fname.s; j++)
			if(mods[i].kexp[j].fname.len == (int)strlen(fname)
					&& strncmp(mods[i].kexp[j].fname.s, fname,
							   mods[i].kexp[j].fname.len)
							   == 0)
				return mods[i].kexp[j].func;
	}
	return NULL;
}

static int bind_prom(void)
{
	af_prom_counter_inc =
			(af_prom_counter_l3_f)kemi_func("xhttp_prom", "counter_inc_l3");
	af_prom_gauge_set0 =
			(af_prom_gauge_l0_f)kemi_func("xhttp_prom", "gauge_set_l0");
	af_prom_gauge_set1 =
			(af_prom_gauge_l1_f)kemi_func("xhttp_prom", "gauge_set_l1");
	if(!af_prom_counter_inc || !af_prom_gauge_set0 || !af_prom_gauge_set1) {
		LM_INFO("xhttp_prom not loaded: no labelled antifraud metrics"
				" (the statistics export with xhttp_prom_stats anyway)\n");
		return -1;
	}
	return 0;
}

static void gauge0(sip_msg_t *m, const char *name, long long v)
{
	char num[32];
	str n, x;

	n.s = (char *)name;
	n.len = (int)strlen(name);
	x.s = num;
	x.len = snprintf(num, sizeof(num), "%lld", v);
	af_prom_gauge_set0(m, &n, &x);
}

static void gauge1(sip_msg_t *m, const char *name, const char *label,
		long long v)
{
	char num[32];
	str n, x, l;

	n.s = (char *)name;
	n.len = (int)strlen(name);
	x.s = num;
	x.len = snprintf(num, sizeof(num), "%lld", v);
	l.s = (char *)label;
	l.len = (int)strlen(label);
	af_prom_gauge_set1(m, &n, &x, &l);
}

typedef struct ban_count {
	long long sources, accounts;
} ban_count_t;

static int count_ban(const char *key, size_t len, const af_ban_t *ban,
		void *arg)
{
	ban_count_t *c = arg;

	if(af_account_key(key, len))
		c->accounts++;
	else
		c->sources++;
	return 0;
}

/* pushes every labelled metric once */
static void push(sip_msg_t *m)
{
	static str name = str_init("antifraud_verdicts_total");
	uint64_t v, delta;
	uint32_t total = 0, limit = AF_NO_LIMIT;
	int k, b, r, holiday, hour;
	ban_count_t bc = {0, 0};
	af_feed_info_t fi;
	af_rules_t *rules;
	const char *state;
	str lk, la, lr;
	uint32_t i;

	for(k = 0; k < AF_VK__COUNT; k++) {
		for(b = 0; b < 2; b++) {
			for(r = 0; r < AF_R__COUNT; r++) {
				v = af_core_verdict_count(k, b, (af_reason_t)r);
				delta = v - af_prom_pushed[k][b][r];
				if(!delta)
					continue;
				if(delta > 1000000000u)
					delta = 1000000000u;
				lk.s = (char *)af_verdict_kind_name(k);
				lk.len = (int)strlen(lk.s);
				la.s = b ? "block" : "alert";
				la.len = 5;
				lr.s = (char *)af_reason_name((af_reason_t)r);
				lr.len = (int)strlen(lr.s);
				if(af_prom_counter_inc(m, &name, (int)delta, &lk, &la, &lr)
						< 0)
					continue;
				af_prom_pushed[k][b][r] += delta;
			}
		}
	}
	if(af_core_ban_list(count_ban, &bc) == 0) {
		gauge0(m, "antifraud_bans_active", bc.sources);
		gauge0(m, "antifraud_accounts_under_attack", bc.accounts);
	}
	if(af_dest_concurrency(&total, &limit, &holiday, &hour) == 0) {
		gauge0(m, "antifraud_concurrent_calls", total);
		gauge0(m, "antifraud_concurrent_limit",
				limit == AF_NO_LIMIT ? -1 : (long long)limit);
	}
	state = !af_core_clustered()
					? "off"
					: (af_store_cluster_up(af_core_store()) ? "up" : "down");
	gauge1(m, "antifraud_redis", "up", !strcmp(state, "up"));
	gauge1(m, "antifraud_redis", "down", !strcmp(state, "down"));
	gauge1(m, "antifraud_redis", "off", !strcmp(state, "off"));
	rules = af_core_acquire();
	if(rules) {
		for(i = 0; i < rules->n_lists; i++) {
			if(!rules->lists[i].feed)
				continue;
			af_feed_info(&rules->lists[i], &fi);
			gauge1(m, "antifraud_feed_entries", rules->lists[i].name,
					fi.entries);
		}
		af_core_release(rules);
	}
}

void af_kam_prom_timer(uint64_t now_ms)
{
	sip_msg_t *m;

	if(af_prom_interval <= 0 || af_prom_state < 0)
		return;
	if(af_prom_last_ms && now_ms - af_prom_last_ms
			< (uint64_t)af_prom_interval * 1000)
		return;
	af_prom_last_ms = now_ms;
	if(af_prom_state == 0)
		af_prom_state = bind_prom() < 0 ? -1 : 1;
	if(af_prom_state < 0)
		return;
	m = faked_msg_next();
	if(m)
		push(m);
}
