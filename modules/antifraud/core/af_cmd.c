/*
 * antifraud - the management commands: arguments checked, answers
 * structured, the same for every server (af_cmd.h).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_cmd.h"
#include "af_core.h"
#include "af_host.h"

/* a fault with a formatted message */
static void faultf(af_reply_t *r, int code, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

static void faultf(af_reply_t *r, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->ops->fault(r, code, msg);
}

/* an optional string argument as a NUL-terminated copy ("" if absent);
 * returns its length, -1 when it does not fit */
static int arg_copy(af_reply_t *r, int pos, const char *name, char *buf,
		size_t size)
{
	const char *s;
	size_t len;

	buf[0] = '\0';
	if(r->ops->arg_str(r, pos, name, &s, &len) < 1)
		return 0;
	if(len >= size)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return (int)len;
}

void af_cmd_reload(af_reply_t *r)
{
	char err[512];

	if(af_core_reload(err, sizeof(err)) < 0) {
		r->ops->fault(r, 500, err);
		return;
	}
	if(af_core_clustered() && af_core_publish("reload") < 0) {
		r->ops->text(r, "Ok. Rules reloaded here; the other nodes could not"
						" be told (redis unavailable).");
		return;
	}
	r->ops->text(r, af_core_clustered() ? "Ok. Rules reloaded (all nodes told)."
										: "Ok. Rules reloaded.");
}

typedef struct list_ctx {
	af_reply_t *r;
	void *list;
	uint64_t now;
} list_ctx_t;

/* seconds from now to until_ms, rounded up */
static int64_t secs_left(uint64_t until_ms, uint64_t now)
{
	return until_ms > now ? (int64_t)((until_ms - now + 999) / 1000) : 0;
}

static int ban_item(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	list_ctx_t *c = arg;
	char ip[AF_IP_STRLEN + 1];
	void *h;

	if(af_account_key(key, key_len))
		return 0; /* an account under attack: the accounts command */
	snprintf(ip, sizeof(ip), "%.*s", (int)key_len, key);
	h = c->r->ops->object(c->r, c->list, NULL);
	if(!h)
		return 1;
	c->r->ops->str(c->r, h, "ip", ip);
	c->r->ops->str(c->r, h, "reason", ban->reason);
	c->r->ops->num(c->r, h, "expires", secs_left(ban->until_ms, c->now));
	c->r->ops->num(c->r, h, "age",
			c->now > ban->since_ms ? (int64_t)((c->now - ban->since_ms) / 1000)
								   : 0);
	c->r->ops->num(c->r, h, "hits", ban->hits);
	return 0;
}

void af_cmd_bans(af_reply_t *r)
{
	list_ctx_t c = {r, NULL, af_now_ms()};

	c.list = r->ops->list(r, NULL, NULL);
	if(!c.list)
		return;
	if(af_core_ban_list(ban_item, &c) < 0)
		r->ops->fault(r, 500, "The state store is unavailable");
}

void af_cmd_ban(af_reply_t *r)
{
	const char *ip, *rs = NULL;
	size_t ip_len, rs_len;
	int seconds = 0;
	char reason[AF_BAN_REASON], err[256];

	if(r->ops->arg_str(r, 0, "ip", &ip, &ip_len) < 1
			|| r->ops->arg_int(r, 1, "seconds", &seconds) < 1) {
		faultf(r, 400, "Usage: %s ip seconds [reason]", r->cmd);
		return;
	}
	if(r->ops->arg_str(r, 2, "reason", &rs, &rs_len) < 1)
		rs_len = 0;
	/* a longer reason is cut */
	snprintf(reason, sizeof(reason), "%.*s", (int)rs_len, rs_len ? rs : "");
	if(seconds <= 0) {
		r->ops->fault(r, 400, "The ban time must be at least 1 second");
		return;
	}
	if(af_core_ban(ip, ip_len, (uint32_t)seconds, reason, err, sizeof(err))
			< 0) {
		r->ops->fault(r, 400, err);
		return;
	}
	snprintf(err, sizeof(err), "Ok. %.*s banned for %d s.", (int)ip_len, ip,
			seconds);
	r->ops->text(r, err);
}

void af_cmd_unban(af_reply_t *r)
{
	const char *ip;
	size_t ip_len;
	char err[256];
	int rc;

	if(r->ops->arg_str(r, 0, "ip", &ip, &ip_len) < 1) {
		faultf(r, 400, "Usage: %s ip", r->cmd);
		return;
	}
	rc = af_core_unban(ip, ip_len, err, sizeof(err));
	if(rc < 0) {
		r->ops->fault(r, 400, err);
		return;
	}
	if(rc == 0) {
		faultf(r, 404, "Not banned: %.*s", (int)(ip_len > 64 ? 64 : ip_len),
				ip);
		return;
	}
	snprintf(err, sizeof(err), "Ok. %.*s unbanned.", (int)ip_len, ip);
	r->ops->text(r, err);
}

void af_cmd_stats(af_reply_t *r)
{
	af_store_stats_t ss;
	af_store_t *s;
	void *h, *sub;
	int i;

	h = r->ops->object(r, NULL, NULL);
	if(!h)
		return;
	for(i = 0; i < AF_ST__COUNT; i++)
		r->ops->num(r, h, af_stat_name((af_stat_t)i),
				(int64_t)af_core_stat((af_stat_t)i));
	sub = r->ops->object(r, h, "reasons");
	if(!sub)
		return;
	for(i = 0; i < AF_R__COUNT; i++)
		r->ops->num(r, sub, af_reason_name((af_reason_t)i),
				(int64_t)af_core_reason_count((af_reason_t)i));
	s = af_core_store();
	memset(&ss, 0, sizeof(ss));
	s->ops->stats(s, &ss);
	sub = r->ops->object(r, h, "store");
	if(!sub)
		return;
	r->ops->str(r, sub, "backend", s->ops->name);
	r->ops->num(r, sub, "entries", (int64_t)ss.entries);
	r->ops->num(r, sub, "capacity", (int64_t)ss.capacity);
	r->ops->num(r, sub, "evictions", (int64_t)ss.evictions);
	r->ops->num(r, sub, "expired", (int64_t)ss.expired);
	r->ops->num(r, sub, "failures", (int64_t)ss.failures);
	if(af_core_clustered()) {
		af_cluster_stats_t cs;

		af_store_cluster_stats(s, &cs);
		sub = r->ops->object(r, h, "redis");
		if(!sub)
			return;
		r->ops->str(r, sub, "state", cs.up ? "up" : "down");
		r->ops->num(r, sub, "down_events", (int64_t)cs.down_events);
		r->ops->num(r, sub, "up_events", (int64_t)cs.up_events);
		r->ops->num(r, sub, "fallbacks", (int64_t)cs.fallback_execs);
	}
}

typedef struct ban_find_ctx {
	const char *key;
	af_ban_t ban;
} ban_find_ctx_t;

/* ban list callback: copies out the ban of c->key (without counting a hit) */
static int ban_find(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	ban_find_ctx_t *c = arg;

	if(strlen(c->key) == key_len && memcmp(key, c->key, key_len) == 0) {
		c->ban = *ban;
		return 1;
	}
	return 0;
}

void af_cmd_lookup(af_reply_t *r)
{
	const char *ip, *prof = NULL;
	size_t ip_len, prof_len = 0;
	af_ip_t a;
	af_geo_info_t gi;
	af_geo_t *g;
	af_rules_t *rules;
	ban_find_ctx_t find;
	char key[AF_IP_STRLEN];
	const char *list = "none";
	uint32_t i;
	int best = -1, plen;
	void *h;

	if(r->ops->arg_str(r, 0, "ip", &ip, &ip_len) < 1) {
		faultf(r, 400, "Usage: %s ip [profile]", r->cmd);
		return;
	}
	if(r->ops->arg_str(r, 1, "profile", &prof, &prof_len) < 1)
		prof_len = 0;
	if(af_ip_parse(ip, ip_len, &a) < 0) {
		faultf(r, 400, "Not an IP address: %.*s",
				(int)(ip_len > 64 ? 64 : ip_len), ip);
		return;
	}
	af_ip_format(&a, key, sizeof(key));
	rules = af_core_acquire();
	if(!af_rules_profile(rules, prof_len ? prof : NULL, prof_len)) {
		af_core_release(rules);
		faultf(r, 404, "No profile %.*s", (int)(prof_len > 64 ? 64 : prof_len),
				prof);
		return;
	}
	memset(&gi, 0, sizeof(gi));
	g = af_core_geo(rules);
	if(g)
		af_geo_lookup(g, &a, &gi);
	/* the most specific list entry, as af_check_source sees it */
	for(i = 0; i < rules->n_lists; i++) {
		plen = af_trie_lookup(rules->lists[i].trie, &a, NULL);
		if(plen > best) {
			best = plen;
			list = rules->lists[i].name;
		}
	}
	memset(&find, 0, sizeof(find));
	find.key = key;
	af_core_ban_list(ban_find, &find);
	h = r->ops->object(r, NULL, NULL);
	if(h) {
		r->ops->str(r, h, "ip", key);
		r->ops->str(r, h, "country", gi.country);
		r->ops->str(r, h, "continent", gi.continent);
		r->ops->num(r, h, "asn", gi.asn);
		r->ops->str(r, h, "list", list);
		r->ops->num(r, h, "banned", find.ban.until_ms ? 1 : 0);
		r->ops->str(r, h, "ban_reason", find.ban.reason);
	}
	af_core_release(rules);
}

/* one destination country of af_cmd_dest_stats */
static int dest_country_item(const char *cc, uint64_t attempts,
		uint64_t allowed, uint64_t alerts, uint64_t blocked,
		const uint64_t *by_reason, void *arg)
{
	list_ctx_t *c = arg;
	void *h, *rh;
	int i;

	h = c->r->ops->object(c->r, c->list, NULL);
	if(!h)
		return 1;
	c->r->ops->str(c->r, h, "country", cc[0] ? cc : "none");
	c->r->ops->num(c->r, h, "attempts", (int64_t)attempts);
	c->r->ops->num(c->r, h, "allowed", (int64_t)allowed);
	c->r->ops->num(c->r, h, "alerts", (int64_t)alerts);
	c->r->ops->num(c->r, h, "blocked", (int64_t)blocked);
	rh = c->r->ops->object(c->r, h, "reasons");
	if(!rh)
		return 1;
	for(i = AF_R_DEST_INVALID; i < AF_R__COUNT; i++)
		if(by_reason[i])
			c->r->ops->num(c->r, rh, af_reason_name((af_reason_t)i),
					(int64_t)by_reason[i]);
	return 0;
}

void af_cmd_dest_stats(af_reply_t *r)
{
	static const char *const day[2] = {"workday", "holiday"};
	af_dest_slot_stat_t st;
	list_ctx_t c = {r, NULL, 0};
	char all[8], num[32];
	void *h, *slots, *item;
	int d, hr, show_all;

	show_all = arg_copy(r, 0, "all", all, sizeof(all)) == 3
			   && strcmp(all, "all") == 0;
	h = r->ops->object(r, NULL, NULL);
	if(!h || !(slots = r->ops->list(r, h, "slots")))
		return;
	for(d = 0; d < 2; d++) {
		for(hr = 0; hr < 24; hr++) {
			af_dest_slot_stat(d, hr, &st);
			if(!st.samples && !show_all)
				continue;
			item = r->ops->object(r, slots, NULL);
			if(!item)
				return;
			r->ops->str(r, item, "day", day[d]);
			r->ops->num(r, item, "hour", hr);
			r->ops->num(r, item, "samples", (int64_t)st.samples);
			snprintf(num, sizeof(num), "%.3f", st.mean);
			r->ops->str(r, item, "mean", num);
			snprintf(num, sizeof(num), "%.3f", st.stddev);
			r->ops->str(r, item, "stddev", num);
			r->ops->num(r, item, "max", (int64_t)st.max);
			r->ops->num(r, item, "suggest",
					(int64_t)ceil(st.mean + 3 * st.stddev));
		}
	}
	c.list = r->ops->list(r, h, "countries");
	if(c.list)
		af_dest_country_stats(dest_country_item, &c);
}

void af_cmd_dest_stats_reset(af_reply_t *r)
{
	af_dest_stats_reset();
	r->ops->text(r, "Ok. Statistics reset.");
}

typedef struct conc_ctx {
	af_reply_t *r;
	void *list;
	int n;
	int max;
} conc_ctx_t;

/* one caller of af_cmd_concurrency */
static int conc_item(const char *key, size_t key_len, uint32_t count,
		void *arg)
{
	conc_ctx_t *c = arg;
	char caller[AF_KEY_MAX + 1];
	void *h;

	if(c->n >= c->max)
		return 1;
	snprintf(caller, sizeof(caller), "%.*s", (int)key_len, key);
	h = c->r->ops->object(c->r, c->list, NULL);
	if(!h)
		return 1;
	c->r->ops->str(c->r, h, "caller", caller);
	c->r->ops->num(c->r, h, "calls", count);
	c->n++;
	return 0;
}

void af_cmd_concurrency(af_reply_t *r)
{
	uint32_t total = 0, limit = 0;
	int holiday = 0, hour = 0;
	conc_ctx_t cc = {r, NULL, 0, 100};
	void *h;

	if(r->ops->arg_int(r, 0, "max", &cc.max) < 1 || cc.max < 0)
		cc.max = 100;
	if(af_dest_concurrency(&total, &limit, &holiday, &hour) < 0) {
		r->ops->fault(r, 500, "the state store could not answer");
		return;
	}
	h = r->ops->object(r, NULL, NULL);
	if(!h)
		return;
	r->ops->num(r, h, "total", total);
	r->ops->num(r, h, "limit", limit == AF_NO_LIMIT ? -1 : (int64_t)limit);
	r->ops->str(r, h, "day", holiday ? "holiday" : "workday");
	r->ops->num(r, h, "hour", hour);
	cc.list = r->ops->list(r, h, "callers");
	if(cc.list)
		af_dest_concurrency_list(conc_item, &cc);
}

void af_cmd_dest_explain(af_reply_t *r)
{
	static const char *const kinds[] = {"invalid", "e164", "national",
			"short"};
	char num[128], caller[128], prof[66], reasons[256];
	af_verdict_t *v;
	void *h;
	int plen;

	if(arg_copy(r, 0, "number", num, sizeof(num)) < 1) {
		faultf(r, 400, "Usage: %s number [caller] [profile]", r->cmd);
		return;
	}
	if(arg_copy(r, 1, "caller", caller, sizeof(caller)) < 0
			|| (plen = arg_copy(r, 2, "profile", prof, sizeof(prof))) < 0) {
		r->ops->fault(r, 400, "caller or profile too long");
		return;
	}
	v = malloc(sizeof(*v));
	if(!v) {
		r->ops->fault(r, 500, "out of memory");
		return;
	}
	af_dest_explain(plen ? prof : NULL, (size_t)plen,
			caller[0] ? caller : NULL, num, v);
	if(v->rc == AF_RC_ERROR)
		faultf(r, 404, "No profile %s", prof);
	else if(v->rc == AF_RC_NORULE)
		faultf(r, 404, "Profile %s has no dest rules", v->dest.profile);
	else if((h = r->ops->object(r, NULL, NULL))) {
		af_reasons_format(v->reasons, reasons, sizeof(reasons));
		r->ops->str(r, h, "profile", v->dest.profile);
		r->ops->str(r, h, "number", v->dest.number);
		r->ops->str(r, h, "kind",
				(unsigned)v->dest.kind < 4 ? kinds[v->dest.kind] : "?");
		r->ops->str(r, h, "country", v->dest.country);
		r->ops->str(r, h, "zone", v->dest.zone);
		r->ops->str(r, h, "class",
				v->dest.number[0]
						? af_numclass_name((af_numclass_t)v->dest.cls)
						: "");
		r->ops->str(r, h, "verdict",
				v->rc == AF_RC_BLOCK
						? "block"
						: (v->rc == AF_RC_ALERT ? "alert" : "allow"));
		r->ops->num(r, h, "risk", v->dest.risk);
		r->ops->num(r, h, "international", v->dest.international);
		r->ops->num(r, h, "holiday", v->dest.holiday);
		r->ops->num(r, h, "in_hours", v->dest.in_hours);
		r->ops->str(r, h, "reason", reasons);
		r->ops->str(r, h, "detail", v->detail);
		r->ops->str(r, h, "limits", "not evaluated");
	}
	free(v);
}

static int account_item(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	list_ctx_t *c = arg;
	char acct[256];
	void *h;

	snprintf(acct, sizeof(acct), "%.*s", (int)key_len, key);
	h = c->r->ops->object(c->r, c->list, NULL);
	if(!h)
		return 1;
	c->r->ops->str(c->r, h, "account", acct);
	c->r->ops->str(c->r, h, "reason", ban->reason);
	c->r->ops->num(c->r, h, "since", (int64_t)(ban->since_ms / 1000));
	c->r->ops->num(c->r, h, "expires", secs_left(ban->until_ms, c->now));
	c->r->ops->num(c->r, h, "attempts", ban->hits);
	return 0;
}

void af_cmd_accounts(af_reply_t *r)
{
	list_ctx_t c = {r, NULL, af_now_ms()};

	c.list = r->ops->list(r, NULL, NULL);
	if(!c.list)
		return;
	if(af_account_list(account_item, &c) < 0)
		r->ops->fault(r, 500, "The state store is unavailable");
}

void af_cmd_account(af_reply_t *r)
{
	af_account_info_t ai;
	char err[256], ip[AF_IP_STRLEN];
	uint64_t now = af_now_ms();
	const char *acct;
	size_t acct_len;
	void *h, *known, *e;
	int i;

	if(r->ops->arg_str(r, 0, "account", &acct, &acct_len) < 1) {
		faultf(r, 400, "Usage: %s user@domain", r->cmd);
		return;
	}
	if(af_account_info(acct, acct_len, &ai, err, sizeof(err)) < 0) {
		r->ops->fault(r, 500, err);
		return;
	}
	h = r->ops->object(r, NULL, NULL);
	if(!h)
		return;
	r->ops->str(r, h, "account", ai.account);
	r->ops->num(r, h, "under_attack", ai.under_attack);
	r->ops->num(r, h, "expires",
			ai.under_attack ? secs_left(ai.mark.until_ms, now) : 0);
	r->ops->str(r, h, "reason", ai.under_attack ? ai.mark.reason : "");
	r->ops->num(r, h, "failures", ai.failures);
	r->ops->num(r, h, "failing_sources", ai.failing_sources);
	known = r->ops->list(r, h, "known");
	for(i = 0; known && i < ai.n_known; i++) {
		af_ip_format(&ai.known[i].ip, ip, sizeof(ip));
		e = r->ops->object(r, known, NULL);
		if(!e)
			return;
		r->ops->str(r, e, "ip", ip);
		r->ops->str(r, e, "country",
				ai.known[i].country[0] ? ai.known[i].country : "none");
		r->ops->num(r, e, "seen", (int64_t)(ai.known[i].ts_ms / 1000));
	}
}

void af_cmd_account_release(af_reply_t *r)
{
	char acct[256], err[256];
	void *h;
	int rc, len;

	len = arg_copy(r, 0, "account", acct, sizeof(acct));
	if(len < 1) {
		faultf(r, 400, "Usage: %s user@domain", r->cmd);
		return;
	}
	rc = af_account_release(acct, (size_t)len, err, sizeof(err));
	if(rc < 0) {
		r->ops->fault(r, 500, err);
		return;
	}
	if(rc == 0) {
		faultf(r, 404, "%s is not under attack", acct);
		return;
	}
	h = r->ops->object(r, NULL, NULL);
	if(h) {
		r->ops->str(r, h, "account", acct);
		r->ops->num(r, h, "released", 1);
	}
}
