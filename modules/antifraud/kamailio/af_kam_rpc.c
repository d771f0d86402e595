/*
 * antifraud - RPC commands (kamcmd antifraud.*).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/rpc.h"
#include "core/rpc_lookup.h"
#include "af_kam.h"
#include "af_outcome.h"

static const char *rpc_reload_doc[] = {
		"Validate and load the rule file and the files it names again;"
		" on error the current rules stay. No parameters.",
		0};

static void rpc_reload(rpc_t *rpc, void *ctx)
{
	char err[512];

	if(af_core_reload(err, sizeof(err)) < 0) {
		rpc->fault(ctx, 500, "%s", err);
		return;
	}
	if(af_core_clustered() && af_core_publish("reload") < 0) {
		rpc->rpl_printf(ctx, "Ok. Rules reloaded here; the other nodes"
							 " could not be told (redis unavailable).");
		return;
	}
	rpc->rpl_printf(ctx, af_core_clustered()
								 ? "Ok. Rules reloaded (all nodes told)."
								 : "Ok. Rules reloaded.");
}

typedef struct ban_list_ctx {
	rpc_t *rpc;
	void *ctx;
	uint64_t now;
	int n;
} ban_list_ctx_t;

static int ban_list_item(
		const char *key, size_t key_len, const af_ban_t *ban, void *arg)
{
	ban_list_ctx_t *c = arg;
	void *h;
	char ip[AF_IP_STRLEN + 1];

	if(af_account_key(key, key_len))
		return 0; /* an account under attack: antifraud.accounts */
	if(af_outcome_mark_is(key, key_len))
		return 0; /* an analytics refusal: antifraud.analytics */

	snprintf(ip, sizeof(ip), "%.*s", (int)key_len, key);
	if(c->rpc->add(c->ctx, "{", &h) < 0)
		return 1;
	c->rpc->struct_add(h, "ssddd", "ip", ip, "reason", ban->reason,
			"expires", (int)((ban->until_ms - c->now + 999) / 1000), "age",
			(int)((c->now - ban->since_ms) / 1000), "hits", (int)ban->hits);
	c->n++;
	return 0;
}

static const char *rpc_bans_doc[] = {
		"List the banned sources: ip, reason, seconds to expiry, age in"
		" seconds, refused requests since the ban.",
		0};

static void rpc_bans(rpc_t *rpc, void *ctx)
{
	ban_list_ctx_t c = {rpc, ctx, af_now_ms(), 0};

	if(af_core_ban_list(ban_list_item, &c) < 0)
		rpc->fault(ctx, 500, "The state store is unavailable");
}

static const char *rpc_ban_doc[] = {
		"Ban a source: ip seconds [reason].", 0};

static void rpc_ban(rpc_t *rpc, void *ctx)
{
	str ip = STR_NULL, reason = STR_NULL;
	int seconds = 0;
	char r[AF_BAN_REASON];
	char err[256];

	if(rpc->scan(ctx, "Sd", &ip, &seconds) < 2) {
		rpc->fault(ctx, 400, "Usage: antifraud.ban ip seconds [reason]");
		return;
	}
	if(rpc->scan(ctx, "*S", &reason) < 1)
		reason.len = 0;
	if(seconds <= 0) {
		rpc->fault(ctx, 400, "The ban time must be at least 1 second");
		return;
	}
	snprintf(r, sizeof(r), "%.*s", reason.len, reason.len ? reason.s : "");
	if(af_core_ban(ip.s, (size_t)ip.len, (uint32_t)seconds, r, err,
			   sizeof(err))
			< 0) {
		rpc->fault(ctx, 400, "%s", err);
		return;
	}
	rpc->rpl_printf(ctx, "Ok. %.*s banned for %d s.", ip.len, ip.s, seconds);
}

static const char *rpc_unban_doc[] = {"Lift the ban of a source: ip.", 0};

static void rpc_unban(rpc_t *rpc, void *ctx)
{
	str ip = STR_NULL;
	char err[256];
	int rc;

	if(rpc->scan(ctx, "S", &ip) < 1) {
		rpc->fault(ctx, 400, "Usage: antifraud.unban ip");
		return;
	}
	rc = af_core_unban(ip.s, (size_t)ip.len, err, sizeof(err));
	if(rc < 0) {
		rpc->fault(ctx, 400, "%s", err);
		return;
	}
	if(rc == 0) {
		rpc->fault(ctx, 404, "Not banned: %.*s", ip.len, ip.s);
		return;
	}
	rpc->rpl_printf(ctx, "Ok. %.*s unbanned.", ip.len, ip.s);
}

static const char *rpc_stats_doc[] = {
		"Counters: checks and verdicts, matches per reason, and the state"
		" store's use.",
		0};

static void rpc_stats(rpc_t *rpc, void *ctx)
{
	void *h, *rh, *sh;
	af_store_stats_t ss;
	af_store_t *s;
	int i;

	if(rpc->add(ctx, "{", &h) < 0)
		return;
	for(i = 0; i < AF_ST__COUNT; i++)
		rpc->struct_add(h, "d", af_stat_name((af_stat_t)i),
				(int)af_core_stat((af_stat_t)i));
	if(rpc->struct_add(h, "{", "reasons", &rh) < 0)
		return;
	for(i = 0; i < AF_R__COUNT; i++)
		rpc->struct_add(rh, "d", af_reason_name((af_reason_t)i),
				(int)af_core_reason_count((af_reason_t)i));
	s = af_core_store();
	memset(&ss, 0, sizeof(ss));
	s->ops->stats(s, &ss);
	if(rpc->struct_add(h, "{", "store", &sh) < 0)
		return;
	rpc->struct_add(sh, "sddddd", "backend", s->ops->name, "entries",
			(int)ss.entries, "capacity", (int)ss.capacity, "evictions",
			(int)ss.evictions, "expired", (int)ss.expired, "failures",
			(int)ss.failures);
	if(af_core_clustered()) {
		af_cluster_stats_t cs;
		void *ch;
		af_store_cluster_stats(s, &cs);
		if(rpc->struct_add(h, "{", "redis", &ch) < 0)
			return;
		rpc->struct_add(ch, "sddd", "state", cs.up ? "up" : "down",
				"down_events", (int)cs.down_events, "up_events",
				(int)cs.up_events, "fallbacks", (int)cs.fallback_execs);
	}
}

static const char *rpc_af_lookup_doc[] = {
		"What the module knows of an address: ip [profile]. GeoIP"
		" country, continent and ASN, list matches, ban.",
		0};

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

static void rpc_af_lookup(rpc_t *rpc, void *ctx)
{
	str ip = STR_NULL, prof = STR_NULL;
	af_ip_t a;
	af_geo_info_t gi;
	af_geo_t *g;
	af_rules_t *r;
	const af_profile_t *p;
	ban_find_ctx_t find;
	char key[AF_IP_STRLEN];
	void *h;
	uint32_t i;
	const char *list = "none";
	int best = -1, plen;

	if(rpc->scan(ctx, "S", &ip) < 1) {
		rpc->fault(ctx, 400, "Usage: antifraud.lookup ip [profile]");
		return;
	}
	if(rpc->scan(ctx, "*S", &prof) < 1)
		prof.len = 0;
	if(af_ip_parse(ip.s, (size_t)ip.len, &a) < 0) {
		rpc->fault(ctx, 400, "Not an IP address: %.*s", ip.len, ip.s);
		return;
	}
	af_ip_format(&a, key, sizeof(key));
	r = af_core_acquire();
	p = af_rules_profile(r, prof.len ? prof.s : NULL, (size_t)prof.len);
	if(!p) {
		af_core_release(r);
		rpc->fault(ctx, 404, "No profile %.*s", prof.len, prof.s);
		return;
	}
	memset(&gi, 0, sizeof(gi));
	g = af_core_geo(r);
	if(g)
		af_geo_lookup(g, &a, &gi);
	/* the most specific list entry, as af_check_source sees it */
	for(i = 0; i < r->n_lists; i++) {
		plen = af_trie_lookup(r->lists[i].trie, &a, NULL);
		if(plen > best) {
			best = plen;
			list = r->lists[i].name;
		}
	}
	memset(&find, 0, sizeof(find));
	find.key = key;
	af_core_ban_list(ban_find, &find);
	if(rpc->add(ctx, "{", &h) < 0) {
		af_core_release(r);
		return;
	}
	rpc->struct_add(h, "sssdsds", "ip", key, "country", gi.country,
			"continent", gi.continent, "asn", (int)gi.asn, "list", list,
			"banned", find.ban.until_ms ? 1 : 0, "ban_reason", find.ban.reason);
	af_core_release(r);
}

static const char *rpc_dest_stats_doc[] = {
		"af_check_dest statistics of this node. 'slots': concurrent"
		" international calls sampled every second, per day type (workday,"
		" holiday) and hour of the system calendar: samples, mean, stddev,"
		" max, and suggest = ceil(mean + 3 stddev), a starting point for a"
		" limit. 'countries': per destination country, attempts, allowed,"
		" alerts, blocked and the count of each reason. Parameter 'all'"
		" lists the hours without samples too.",
		0};

typedef struct country_ctx {
	rpc_t *rpc;
	void *list;
} country_ctx_t;

/* one destination country of rpc_dest_stats */
static int dest_country_item(const char *cc, uint64_t attempts,
		uint64_t allowed, uint64_t alerts, uint64_t blocked,
		const uint64_t *by_reason, void *arg)
{
	country_ctx_t *c = arg;
	void *h, *rh;
	int i;

	if(c->rpc->array_add(c->list, "{", &h) < 0)
		return 1;
	c->rpc->struct_add(h, "sdddd", "country", cc[0] ? cc : "none",
			"attempts", (int)attempts, "allowed", (int)allowed, "alerts",
			(int)alerts, "blocked", (int)blocked);
	if(c->rpc->struct_add(h, "{", "reasons", &rh) < 0)
		return 1;
	for(i = AF_R_DEST_INVALID; i < AF_R__COUNT; i++)
		if(by_reason[i])
			c->rpc->struct_add(rh, "d", af_reason_name((af_reason_t)i),
					(int)by_reason[i]);
	return 0;
}

static void rpc_dest_stats(rpc_t *rpc, void *ctx)
{
	static const char *const day[2] = {"workday", "holiday"};
	af_dest_slot_stat_t st;
	country_ctx_t cc;
	str all = STR_NULL;
	void *h, *sl, *item;
	char mean[32], sd[32];
	int d, hr, show_all;

	show_all = rpc->scan(ctx, "*S", &all) == 1 && all.len == 3
			   && memcmp(all.s, "all", 3) == 0;
	if(rpc->add(ctx, "{", &h) < 0)
		return;
	if(rpc->struct_add(h, "[", "slots", &sl) < 0)
		return;
	for(d = 0; d < 2; d++) {
		for(hr = 0; hr < 24; hr++) {
			af_dest_slot_stat(d, hr, &st);
			if(!st.samples && !show_all)
				continue;
			snprintf(mean, sizeof(mean), "%.3f", st.mean);
			snprintf(sd, sizeof(sd), "%.3f", st.stddev);
			if(rpc->array_add(sl, "{", &item) < 0)
				return;
			rpc->struct_add(item, "sddssdd", "day", day[d], "hour", hr,
					"samples", (int)st.samples, "mean", mean, "stddev", sd,
					"max", (int)st.max, "suggest",
					(int)ceil(st.mean + 3 * st.stddev));
		}
	}
	cc.rpc = rpc;
	if(rpc->struct_add(h, "[", "countries", &cc.list) < 0)
		return;
	af_dest_country_stats(dest_country_item, &cc);
}

static const char *rpc_dest_stats_reset_doc[] = {
		"Forget the af_check_dest statistics of this node (slots and"
		" countries). Limits and counters in force are not touched.",
		0};

static void rpc_dest_stats_reset(rpc_t *rpc, void *ctx)
{
	af_dest_stats_reset();
	rpc->rpl_printf(ctx, "Ok. Statistics reset.");
}

typedef struct conc_ctx {
	rpc_t *rpc;
	void *list;
	int n;
	int max;
} conc_ctx_t;

/* one caller of rpc_concurrency */
static int conc_item(const char *key, size_t key_len, uint32_t count,
		void *arg)
{
	conc_ctx_t *c = arg;
	char caller[AF_KEY_MAX + 1];
	void *h;

	if(c->n >= c->max)
		return 1;
	snprintf(caller, sizeof(caller), "%.*s", (int)key_len, key);
	if(c->rpc->array_add(c->list, "{", &h) < 0)
		return 1;
	c->rpc->struct_add(h, "sd", "caller", caller, "calls", (int)count);
	c->n++;
	return 0;
}

static const char *rpc_concurrency_doc[] = {
		"Concurrent international calls now: the total (of the cluster in"
		" Redis mode), the limit in force for the total (-1: none) with the"
		" day type and hour of the system calendar, and the callers with"
		" live calls (at most [max] of them, default 100).",
		0};

static void rpc_concurrency(rpc_t *rpc, void *ctx)
{
	uint32_t total = 0, limit = 0;
	int holiday = 0, hour = 0, max = 100;
	conc_ctx_t cc;
	void *h;

	if(rpc->scan(ctx, "*d", &max) < 1 || max < 0)
		max = 100;
	if(af_dest_concurrency(&total, &limit, &holiday, &hour) < 0) {
		rpc->fault(ctx, 500, "the state store could not answer");
		return;
	}
	if(rpc->add(ctx, "{", &h) < 0)
		return;
	rpc->struct_add(h, "ddsd", "total", (int)total, "limit",
			limit == AF_NO_LIMIT ? -1 : (int)limit, "day",
			holiday ? "holiday" : "workday", "hour", hour);
	cc.rpc = rpc;
	cc.n = 0;
	cc.max = max;
	if(rpc->struct_add(h, "[", "callers", &cc.list) < 0)
		return;
	af_dest_concurrency_list(conc_item, &cc);
}

static const char *rpc_dest_explain_doc[] = {
		"What af_check_dest would decide: number [caller] [profile]. The"
		" profile that applies, the number normalized, what the number plan"
		" says of it, and the verdict of the permissions and the schedule"
		" now (rates, repetition and concurrency are not evaluated; nothing"
		" is counted).",
		0};

static void rpc_dest_explain(rpc_t *rpc, void *ctx)
{
	static const char *const kinds[] = {"invalid", "e164", "national",
			"short"};
	str num = STR_NULL, caller = STR_NULL, prof = STR_NULL;
	char nbuf[128], cbuf[128], reasons[256];
	af_verdict_t *v;
	void *h;

	if(rpc->scan(ctx, "S", &num) < 1) {
		rpc->fault(ctx, 400,
				"Usage: antifraud.dest_explain number [caller] [profile]"
				" (strings: kamcmd reads +123 or 0049... as an integer, write"
				" s:+4930...)");
		return;
	}
	if(rpc->scan(ctx, "*S", &caller) < 1)
		caller.len = 0;
	if(rpc->scan(ctx, "*S", &prof) < 1)
		prof.len = 0;
	snprintf(nbuf, sizeof(nbuf), "%.*s", num.len, num.s);
	snprintf(cbuf, sizeof(cbuf), "%.*s", caller.len, caller.s);
	v = pkg_malloc(sizeof(*v));
	if(!v) {
		rpc->fault(ctx, 500, "out of memory");
		return;
	}
	af_dest_explain(prof.len ? prof.s : NULL, (size_t)prof.len,
			caller.len ? cbuf : NULL, nbuf, v);
	if(v->rc == AF_RC_ERROR) {
		pkg_free(v);
		rpc->fault(ctx, 404, "No profile %.*s", prof.len, prof.s);
		return;
	}
	if(v->rc == AF_RC_NORULE) {
		rpc->fault(ctx, 404, "Profile %s has no dest rules", v->dest.profile);
		pkg_free(v);
		return;
	}
	af_reasons_format(v->reasons, reasons, sizeof(reasons));
	if(rpc->add(ctx, "{", &h) >= 0)
		rpc->struct_add(h, "sssssssddddsss", "profile", v->dest.profile,
				"number", v->dest.number, "kind",
				(unsigned)v->dest.kind < 4 ? kinds[v->dest.kind] : "?",
				"country", v->dest.country, "zone", v->dest.zone, "class",
				v->dest.number[0] ? af_numclass_name(
											(af_numclass_t)v->dest.cls)
								  : "",
				"verdict",
				v->rc == AF_RC_BLOCK
						? "block"
						: (v->rc == AF_RC_ALERT ? "alert" : "allow"),
				"risk", v->dest.risk, "international", v->dest.international,
				"holiday", v->dest.holiday, "in_hours", v->dest.in_hours,
				"reason", reasons, "detail", v->detail, "limits",
				"not evaluated");
	pkg_free(v);
}

/* clang-format off */
static const char *rpc_accounts_doc[] = {
		"List the accounts under attack: account, reason, since (unix"
		" time), seconds to expiry, attempts since (requests that looked"
		" the mark up).",
		0};

static int account_list_item(
		const char *key, size_t key_len, const af_ban_t *ban, void *arg)
{
	ban_list_ctx_t *c = arg;
	char acct[256];
	void *h;

	snprintf(acct, sizeof(acct), "%.*s", (int)key_len, key);
	if(c->rpc->add(c->ctx, "{", &h) < 0)
		return 1;
	c->rpc->struct_add(h, "ssddd", "account", acct, "reason", ban->reason,
			"since", (int)(ban->since_ms / 1000), "expires",
			(int)((ban->until_ms - c->now + 999) / 1000), "attempts",
			(int)ban->hits);
	c->n++;
	return 0;
}

static void rpc_accounts(rpc_t *rpc, void *ctx)
{
	ban_list_ctx_t c = {rpc, ctx, af_now_ms(), 0};

	if(af_account_list(account_list_item, &c) < 0)
		rpc->fault(ctx, 500, "The state store is unavailable");
}

static const char *rpc_account_doc[] = {
		"What the module knows of an account (user@domain): under attack"
		" and until when, failed authentications and distinct failing"
		" addresses in accounts.account_window, recent known good"
		" sources.",
		0};

static void rpc_account(rpc_t *rpc, void *ctx)
{
	af_account_info_t ai;
	char err[256], ip[AF_IP_STRLEN];
	uint64_t now = af_now_ms();
	str acct = STR_NULL;
	void *h, *kh, *eh;
	int i;

	if(rpc->scan(ctx, "S", &acct) < 1) {
		rpc->fault(ctx, 400, "Usage: antifraud.account user@domain");
		return;
	}
	if(af_account_info(acct.s, (size_t)acct.len, &ai, err, sizeof(err)) < 0) {
		rpc->fault(ctx, 500, "%s", err);
		return;
	}
	if(rpc->add(ctx, "{", &h) < 0)
		return;
	rpc->struct_add(h, "sddsdd", "account", ai.account, "under_attack",
			ai.under_attack, "expires",
			ai.under_attack ? (int)((ai.mark.until_ms - now + 999) / 1000) : 0,
			"reason", ai.under_attack ? ai.mark.reason : "", "failures",
			(int)ai.failures, "failing_sources", (int)ai.failing_sources);
	if(rpc->struct_add(h, "[", "known", &kh) < 0)
		return;
	for(i = 0; i < ai.n_known; i++) {
		af_ip_format(&ai.known[i].ip, ip, sizeof(ip));
		if(rpc->array_add(kh, "{", &eh) < 0)
			return;
		rpc->struct_add(eh, "ssd", "ip", ip, "country",
				ai.known[i].country[0] ? ai.known[i].country : "none",
				"seen", (int)(ai.known[i].ts_ms / 1000));
	}
}

static const char *rpc_account_release_doc[] = {
		"Release an account under attack (user@domain): new sources may"
		" try again.",
		0};

static void rpc_account_release(rpc_t *rpc, void *ctx)
{
	char err[256];
	str acct = STR_NULL;
	void *h;
	int rc;

	if(rpc->scan(ctx, "S", &acct) < 1) {
		rpc->fault(ctx, 400, "Usage: antifraud.account_release user@domain");
		return;
	}
	rc = af_account_release(acct.s, (size_t)acct.len, err, sizeof(err));
	if(rc < 0) {
		rpc->fault(ctx, 500, "%s", err);
		return;
	}
	if(rc == 0) {
		rpc->fault(ctx, 404, "%.*s is not under attack", acct.len, acct.s);
		return;
	}
	if(rpc->add(ctx, "{", &h) < 0)
		return;
	rpc->struct_add(h, "Sd", "account", &acct, "released", 1);
}

rpc_export_t af_kam_rpc_cmds[] = {
	{"antifraud.reload", rpc_reload, rpc_reload_doc, 0},
	{"antifraud.bans", rpc_bans, rpc_bans_doc, RET_ARRAY},
	{"antifraud.ban", rpc_ban, rpc_ban_doc, 0},
	{"antifraud.unban", rpc_unban, rpc_unban_doc, 0},
	{"antifraud.accounts", rpc_accounts, rpc_accounts_doc, RET_ARRAY},
	{"antifraud.account", rpc_account, rpc_account_doc, 0},
	{"antifraud.account_release", rpc_account_release,
		rpc_account_release_doc, 0},
	{"antifraud.stats", rpc_stats, rpc_stats_doc, 0},
	{"antifraud.lookup", rpc_af_lookup, rpc_af_lookup_doc, 0},
	{"antifraud.dest_stats", rpc_dest_stats, rpc_dest_stats_doc, 0},
	{"antifraud.dest_stats_reset", rpc_dest_stats_reset,
		rpc_dest_stats_reset_doc, 0},
	{"antifraud.concurrency", rpc_concurrency, rpc_concurrency_doc, 0},
	{"antifraud.dest_explain", rpc_dest_explain, rpc_dest_explain_doc, 0},
	{"antifraud.analytics", af_kam_rpc_analytics, af_kam_rpc_analytics_doc,
		0},
	{"antifraud.analytics_top", af_kam_rpc_analytics_top,
		af_kam_rpc_analytics_top_doc, RET_ARRAY},
	{"antifraud.analytics_stats", af_kam_rpc_analytics_stats,
		af_kam_rpc_analytics_stats_doc, RET_ARRAY},
	{0, 0, 0, 0}
};
/* clang-format on */
