/*
 * antifraud - the management commands: arguments read and checked up
 * front, answers structured and escaped, the same for every server
 * (af_cmd.h).
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
#include "af_feed.h"
#include "af_forget.h"
#include "af_geo.h"
#include "af_outcome.h"
#include "af_host.h"
#include "af_rules.h"
#include "af_store_cluster.h"
#include "af_text.h"

#define CMD_ARGS_MAX 3  /* most arguments of a command */
#define CMD_ARG_MAX 255 /* longest argument of any command, bytes */

/* argument limits, bytes */
#define CMD_IP_MAX (AF_IP_STRLEN + 1)      /* 45 characters, and [ ] */
#define CMD_INT_MAX 10                     /* an integer as a string */
#define CMD_REASON_MAX (AF_BAN_REASON - 1) /* as the store keeps it */
#define CMD_PROFILE_MAX 64                 /* as the rule file's names */
#define CMD_NUMBER_MAX 128                 /* a dialed number as sent */
#define CMD_CALLER_MAX 128
#define CMD_CONC_MAX 100000 /* most callers the concurrency command lists */

_Static_assert(AF_ACCOUNT_MAX <= CMD_ARG_MAX && CMD_NUMBER_MAX <= CMD_ARG_MAX
					   && CMD_CALLER_MAX <= CMD_ARG_MAX,
		"an argument limit above CMD_ARG_MAX");

/* What a command takes: its usage after the command's name, and each
 * argument's name, type ('s' string, 'i' integer) and longest value
 * (bytes); the first 'required' are required. */
typedef struct cmd_spec {
	const char *usage;
	int n;
	int required;
	const char *name[CMD_ARGS_MAX];
	const char *type; /* n characters */
	size_t max[CMD_ARGS_MAX];
} cmd_spec_t;

/* The arguments read: n given, each a NUL-terminated copy, or for an
 * integer sent as one (is_int) its value. */
typedef struct cmd_args {
	int n;
	size_t len[CMD_ARGS_MAX];
	char v[CMD_ARGS_MAX][CMD_ARG_MAX + 1];
	int is_int[CMD_ARGS_MAX];
	int ival[CMD_ARGS_MAX];
} cmd_args_t;

void af_cmd_fail(af_reply_t *r, int code, const char *fmt, ...)
{
	char buf[AF_CMD_FAULT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->ops->fault(r, code, buf);
}

/* a fault with an error text of the core (err): cut to fit, escaped
 * unless plain already (what the core's errors quote is escaped there:
 * not twice); the whole of it goes to the log when it had to be cut */
static void fail_err(af_reply_t *r, int code, const char *err)
{
	char buf[AF_CMD_FAULT_MAX];
	size_t len = strlen(err), cut;
	int plain = af_text_plain(err, len);

	if(plain && len < sizeof(buf)) {
		memcpy(buf, err, len + 1);
	} else if(plain) {
		cut = sizeof(buf) - 4;
		while(cut > 0 && ((unsigned char)err[cut] & 0xc0) == 0x80)
			cut--; /* not inside a UTF-8 character */
		memcpy(buf, err, cut);
		memcpy(buf + cut, "...", 4);
	} else {
		af_text_escape(err, len, buf, sizeof(buf));
	}
	if(len >= sizeof(buf) || !plain) {
		char full[1024];
		af_text_escape(err, len, full, sizeof(full));
		AF_ERR("%s\n", full);
	}
	r->ops->fault(r, code, buf);
}

/*
 * Reads the arguments of a command as sp says into a, up front: sends
 * the fault and returns -1 when there are too few or too many, or one is
 * of the wrong type, too long or holds a control character; returns 0.
 */
static int cmd_args(af_reply_t *r, const cmd_spec_t *sp, cmd_args_t *a)
{
	af_arg_t arg;
	int i;
	size_t j;

	memset(a, 0, sizeof(*a));
	for(i = 0; i <= sp->n; i++) {
		memset(&arg, 0, sizeof(arg));
		if(r->ops->arg(r, i, i < sp->n ? sp->name[i] : NULL, &arg) < 1)
			break;
		if(i == sp->n) {
			af_cmd_fail(r, 400, "Too many arguments. Usage: %s%s", r->cmd,
					sp->usage);
			return -1;
		}
		if(arg.type == AF_ARG_OTHER
				|| (arg.type == AF_ARG_INT && sp->type[i] != 'i')) {
			if(sp->type[i] == 'i')
				af_cmd_fail(r, 400, "%s: an integer expected", sp->name[i]);
			else
				af_cmd_fail(r, 400, "%s: a string expected%s", sp->name[i],
						r->int_hint ? r->int_hint : "");
			return -1;
		}
		a->n = i + 1;
		if(arg.type == AF_ARG_INT) {
			a->is_int[i] = 1;
			a->ival[i] = arg.ival;
			continue;
		}
		if(arg.len > sp->max[i]) {
			af_cmd_fail(r, 400, "%s: too long (%zu bytes, at most %zu)", sp->name[i],
					arg.len, sp->max[i]);
			return -1;
		}
		for(j = 0; j < arg.len; j++)
			if((unsigned char)arg.s[j] < 0x20 || arg.s[j] == 0x7f) {
				af_cmd_fail(r, 400, "%s: control characters are not accepted",
						sp->name[i]);
				return -1;
			}
		memcpy(a->v[i], arg.s, arg.len);
		a->v[i][arg.len] = '\0';
		a->len[i] = arg.len;
	}
	if(a->n < sp->required) {
		af_cmd_fail(r, 400, "Usage: %s%s", r->cmd, sp->usage);
		return -1;
	}
	return 0;
}

/*
 * Reads argument i of a into *out as an integer from min to max: sent
 * as one, or as a string of decimal digits (no sign, space or base
 * prefix). Sends the fault and returns -1 when it is not one; returns 0.
 */
static int cmd_uint(af_reply_t *r, const cmd_spec_t *sp, const cmd_args_t *a,
		int i, unsigned min, unsigned max, unsigned *out)
{
	unsigned long long v = 0;
	size_t j = 0;

	if(a->is_int[i]) {
		if(a->ival[i] >= 0 && (unsigned)a->ival[i] >= min
				&& (unsigned)a->ival[i] <= max) {
			*out = (unsigned)a->ival[i];
			return 0;
		}
		goto bad;
	}
	for(j = 0; j < a->len[i]; j++) {
		if(a->v[i][j] < '0' || a->v[i][j] > '9' || v > max)
			break;
		v = v * 10 + (unsigned)(a->v[i][j] - '0');
	}
	if(a->len[i] && j == a->len[i] && v >= min && v <= max) {
		*out = (unsigned)v;
		return 0;
	}
bad:
	af_cmd_fail(r, 400, "%s: an integer from %u to %u expected", sp->name[i], min,
			max);
	return -1;
}

/* s escaped into buf (size bytes); returns buf */
static const char *esc(const char *s, size_t len, char *buf, size_t size)
{
	af_text_escape(s, len, buf, size);
	return buf;
}

/* NUL-terminated s (at most max bytes) escaped into buf; returns buf */
static const char *escn(const char *s, size_t max, char *buf, size_t size)
{
	return esc(s, s ? strnlen(s, max) : 0, buf, size);
}

/* the command takes no argument: 0, or -1 with the fault sent */
static int no_args(af_reply_t *r)
{
	static const cmd_spec_t none = {"", 0, 0, {0}, "", {0}};
	cmd_args_t a;

	return cmd_args(r, &none, &a);
}

/* seconds from now to until_ms, rounded up; 0 when past */
static int64_t secs_left(uint64_t until_ms, uint64_t now)
{
	uint64_t s = until_ms > now ? (until_ms - now + 999) / 1000 : 0;

	return s > INT32_MAX ? INT32_MAX : (int64_t)s;
}

/* seconds from since_ms to now; 0 when in the future */
static int64_t secs_since(uint64_t since_ms, uint64_t now)
{
	uint64_t s = now > since_ms ? (now - since_ms) / 1000 : 0;

	return s > INT32_MAX ? INT32_MAX : (int64_t)s;
}

/* a count as an answer shows it */
static int64_t count32(uint64_t n)
{
	return n > INT32_MAX ? INT32_MAX : (int64_t)n;
}

void af_cmd_reload(af_reply_t *r)
{
	char err[512];

	if(no_args(r) < 0)
		return;
	if(af_core_reload(err, sizeof(err)) < 0) {
		fail_err(r, 500, err);
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

/* one entry of the ban table: a source (bans) or an account (accounts) */
static int ban_entry(list_ctx_t *c, const char *what, const char *key,
		size_t key_len, const af_ban_t *ban, int account)
{
	char k[AF_ACCOUNT_MAX * 4 + 4], reason[AF_BAN_REASON * 4 + 4];
	af_reply_t *r = c->r;
	void *h = r->ops->object(r, c->list, NULL);

	if(!h)
		return 1;
	r->ops->str(r, h, what, esc(key, key_len, k, sizeof(k)));
	r->ops->str(r, h, "reason",
			escn(ban->reason, sizeof(ban->reason), reason, sizeof(reason)));
	if(account)
		r->ops->num(r, h, "since", (int64_t)(ban->since_ms / 1000));
	r->ops->num(r, h, "expires", secs_left(ban->until_ms, c->now));
	if(!account)
		r->ops->num(r, h, "age", secs_since(ban->since_ms, c->now));
	r->ops->num(r, h, account ? "attempts" : "hits", count32(ban->hits));
	return 0;
}

static int ban_item(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	if(af_account_key(key, key_len))
		return 0; /* an account under attack: the accounts command */
	if(af_outcome_mark_is(key, key_len))
		return 0; /* an analytics refusal: the analytics command */
	return ban_entry(arg, "ip", key, key_len, ban, 0);
}

void af_cmd_bans(af_reply_t *r)
{
	list_ctx_t c = {r, NULL, af_now_ms()};

	if(no_args(r) < 0 || !(c.list = r->ops->list(r, NULL, NULL)))
		return;
	if(af_core_ban_list(ban_item, &c) < 0)
		r->ops->fault(r, 500, "The state store is unavailable");
}

void af_cmd_ban(af_reply_t *r)
{
	static const cmd_spec_t spec = {" ip seconds [reason]", 3, 2,
			{"ip", "seconds", "reason"}, "sis",
			{CMD_IP_MAX, CMD_INT_MAX, CMD_REASON_MAX}};
	cmd_args_t a;
	unsigned seconds;
	char err[AF_CMD_FAULT_MAX + CMD_ARG_MAX];

	if(cmd_args(r, &spec, &a) < 0
			|| cmd_uint(r, &spec, &a, 1, 1, AF_BAN_MAX_S, &seconds) < 0)
		return;
	if(af_core_ban(a.v[0], a.len[0], seconds, a.n > 2 ? a.v[2] : NULL, err,
			   sizeof(err))
			< 0) {
		fail_err(r, 400, err);
		return;
	}
	snprintf(err, sizeof(err), "Ok. %s banned for %u s.", a.v[0], seconds);
	r->ops->text(r, err);
}

void af_cmd_unban(af_reply_t *r)
{
	static const cmd_spec_t spec = {" ip", 1, 1, {"ip"}, "s", {CMD_IP_MAX}};
	cmd_args_t a;
	char err[AF_CMD_FAULT_MAX + CMD_ARG_MAX];
	int rc;

	if(cmd_args(r, &spec, &a) < 0)
		return;
	rc = af_core_unban(a.v[0], a.len[0], err, sizeof(err));
	if(rc < 0) {
		fail_err(r, 400, err);
		return;
	}
	if(rc == 0) {
		af_cmd_fail(r, 404, "Not banned: %s", a.v[0]);
		return;
	}
	snprintf(err, sizeof(err), "Ok. %s unbanned.", a.v[0]);
	r->ops->text(r, err);
}

void af_cmd_stats(af_reply_t *r)
{
	af_store_stats_t ss;
	af_store_t *s;
	void *h, *sub;
	int i;

	if(no_args(r) < 0 || !(h = r->ops->object(r, NULL, NULL)))
		return;
	for(i = 0; i < AF_ST__COUNT; i++)
		r->ops->num(r, h, af_stat_name((af_stat_t)i),
				count32(af_core_stat((af_stat_t)i)));
	if(!(sub = r->ops->object(r, h, "reasons")))
		return;
	for(i = 0; i < AF_R__COUNT; i++)
		r->ops->num(r, sub, af_reason_name((af_reason_t)i),
				count32(af_core_reason_count((af_reason_t)i)));
	s = af_core_store();
	memset(&ss, 0, sizeof(ss));
	s->ops->stats(s, &ss);
	if(!(sub = r->ops->object(r, h, "store")))
		return;
	r->ops->str(r, sub, "backend", s->ops->name);
	r->ops->num(r, sub, "entries", count32(ss.entries));
	r->ops->num(r, sub, "capacity", count32(ss.capacity));
	r->ops->num(r, sub, "evictions", count32(ss.evictions));
	r->ops->num(r, sub, "bans_evicted", count32(ss.bans_evicted));
	r->ops->num(r, sub, "expired", count32(ss.expired));
	r->ops->num(r, sub, "failures", count32(ss.failures));
	if(af_core_clustered()) {
		af_cluster_stats_t cs;

		af_store_cluster_stats(s, &cs);
		if(!(sub = r->ops->object(r, h, "redis")))
			return;
		r->ops->str(r, sub, "state", cs.up ? "up" : "down");
		r->ops->num(r, sub, "down_events", count32(cs.down_events));
		r->ops->num(r, sub, "up_events", count32(cs.up_events));
		r->ops->num(r, sub, "fallbacks", count32(cs.fallback_execs));
		r->ops->num(r, sub, "releases_queued", count32(cs.releases_queued));
		r->ops->num(
				r, sub, "releases_replayed", count32(cs.releases_replayed));
		r->ops->num(r, sub, "releases_dropped", count32(cs.releases_dropped));
		r->ops->num(r, sub, "releases_pending", count32(cs.releases_pending));
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
	static const cmd_spec_t spec = {" ip [profile]", 2, 1, {"ip", "profile"},
			"ss", {CMD_IP_MAX, CMD_PROFILE_MAX}};
	cmd_args_t a;
	af_ip_t ip;
	af_geo_info_t gi;
	af_geo_t *g;
	af_rules_t *rules;
	ban_find_ctx_t find;
	char key[AF_IP_STRLEN], ex[AF_TEXT_EXCERPT_BUF];
	char reason[AF_BAN_REASON * 4 + 4], country[16], continent[16];
	const char *list = "none";
	uint32_t i;
	int best = -1, plen;
	void *h;

	if(cmd_args(r, &spec, &a) < 0)
		return;
	if(af_ip_parse(a.v[0], a.len[0], &ip) < 0) {
		af_cmd_fail(r, 400, "Not an IP address: '%s'",
				af_text_excerpt(a.v[0], a.len[0], ex));
		return;
	}
	af_ip_format(&ip, key, sizeof(key));
	rules = af_core_acquire();
	if(!af_rules_profile(rules, a.n > 1 ? a.v[1] : NULL, a.n > 1 ? a.len[1] : 0)) {
		af_core_release(rules);
		af_cmd_fail(r, 404, "No profile '%s'", af_text_excerpt(a.v[1], a.len[1], ex));
		return;
	}
	memset(&gi, 0, sizeof(gi));
	g = af_core_geo(rules);
	if(g)
		af_geo_lookup(g, &ip, &gi);
	/* the most specific list entry, as af_check_source sees it */
	for(i = 0; i < rules->n_lists; i++) {
		plen = af_iplist_lookup(&rules->lists[i], &ip);
		if(plen > best) {
			best = plen;
			list = rules->lists[i].name;
		}
	}
	memset(&find, 0, sizeof(find));
	find.key = key;
	af_core_ban_list(ban_find, &find);
	if((h = r->ops->object(r, NULL, NULL))) {
		r->ops->str(r, h, "ip", key);
		r->ops->str(r, h, "country",
				escn(gi.country, sizeof(gi.country), country, sizeof(country)));
		r->ops->str(r, h, "continent",
				escn(gi.continent, sizeof(gi.continent), continent,
						sizeof(continent)));
		r->ops->num(r, h, "asn", gi.asn);
		r->ops->str(r, h, "list", list);
		r->ops->num(r, h, "banned", find.ban.until_ms ? 1 : 0);
		r->ops->str(r, h, "ban_reason",
				escn(find.ban.reason, sizeof(find.ban.reason), reason,
						sizeof(reason)));
	}
	af_core_release(rules);
}

/* one destination country of af_cmd_dest_stats */
static int dest_country_item(const char *cc, uint64_t attempts,
		uint64_t allowed, uint64_t alerts, uint64_t blocked,
		const uint64_t *by_reason, void *arg)
{
	list_ctx_t *c = arg;
	af_reply_t *r = c->r;
	char country[32];
	void *h, *rh;
	int i;

	if(!(h = r->ops->object(r, c->list, NULL)))
		return 1;
	r->ops->str(r, h, "country",
			cc[0] ? escn(cc, 8, country, sizeof(country)) : "none");
	r->ops->num(r, h, "attempts", count32(attempts));
	r->ops->num(r, h, "allowed", count32(allowed));
	r->ops->num(r, h, "alerts", count32(alerts));
	r->ops->num(r, h, "blocked", count32(blocked));
	if(!(rh = r->ops->object(r, h, "reasons")))
		return 1;
	for(i = AF_R_DEST_INVALID; i < AF_R__COUNT; i++)
		if(by_reason[i])
			r->ops->num(r, rh, af_reason_name((af_reason_t)i),
					count32(by_reason[i]));
	return 0;
}

void af_cmd_dest_stats(af_reply_t *r)
{
	static const cmd_spec_t spec = {" [all]", 1, 0, {"all"}, "s", {3}};
	static const char *const day[2] = {"workday", "holiday"};
	af_dest_slot_stat_t st;
	list_ctx_t c = {r, NULL, 0};
	cmd_args_t a;
	char num[32], ex[AF_TEXT_EXCERPT_BUF];
	void *h, *slots, *item;
	int d, hr;

	if(cmd_args(r, &spec, &a) < 0)
		return;
	if(a.n && strcmp(a.v[0], "all") != 0) {
		af_cmd_fail(r, 400, "Unknown parameter '%s'. Usage: %s [all]",
				af_text_excerpt(a.v[0], a.len[0], ex), r->cmd);
		return;
	}
	if(!(h = r->ops->object(r, NULL, NULL))
			|| !(slots = r->ops->list(r, h, "slots")))
		return;
	for(d = 0; d < 2; d++) {
		for(hr = 0; hr < 24; hr++) {
			af_dest_slot_stat(d, hr, &st);
			if(!st.samples && a.n == 0)
				continue;
			if(!(item = r->ops->object(r, slots, NULL)))
				return;
			r->ops->str(r, item, "day", day[d]);
			r->ops->num(r, item, "hour", hr);
			r->ops->num(r, item, "samples", count32(st.samples));
			snprintf(num, sizeof(num), "%.3f", st.mean);
			r->ops->str(r, item, "mean", num);
			snprintf(num, sizeof(num), "%.3f", st.stddev);
			r->ops->str(r, item, "stddev", num);
			r->ops->num(r, item, "max", count32(st.max));
			r->ops->num(r, item, "suggest",
					(int64_t)ceil(st.mean + 3 * st.stddev));
		}
	}
	if((c.list = r->ops->list(r, h, "countries")))
		af_dest_country_stats(dest_country_item, &c);
}

void af_cmd_dest_stats_reset(af_reply_t *r)
{
	if(no_args(r) < 0)
		return;
	af_dest_stats_reset();
	r->ops->text(r, "Ok. Statistics reset.");
}

typedef struct conc_ctx {
	af_reply_t *r;
	void *list;
	unsigned n;
	unsigned max;
} conc_ctx_t;

/* one caller of af_cmd_concurrency */
static int conc_item(const char *key, size_t key_len, uint32_t count,
		void *arg)
{
	conc_ctx_t *c = arg;
	char caller[AF_KEY_MAX * 4 + 4];
	void *h;

	if(c->n >= c->max || !(h = c->r->ops->object(c->r, c->list, NULL)))
		return 1;
	c->r->ops->str(c->r, h, "caller", esc(key, key_len, caller, sizeof(caller)));
	c->r->ops->num(c->r, h, "calls", count32(count));
	c->n++;
	return 0;
}

void af_cmd_concurrency(af_reply_t *r)
{
	static const cmd_spec_t spec = {" [max]", 1, 0, {"max"}, "i",
			{CMD_INT_MAX}};
	uint32_t total = 0, limit = 0;
	int holiday = 0, hour = 0;
	conc_ctx_t cc = {r, NULL, 0, 100};
	cmd_args_t a;
	void *h;

	if(cmd_args(r, &spec, &a) < 0
			|| (a.n && cmd_uint(r, &spec, &a, 0, 0, CMD_CONC_MAX, &cc.max) < 0))
		return;
	if(af_dest_concurrency(&total, &limit, &holiday, &hour) < 0) {
		r->ops->fault(r, 500, "the state store could not answer");
		return;
	}
	if(!(h = r->ops->object(r, NULL, NULL)))
		return;
	r->ops->num(r, h, "total", total);
	r->ops->num(r, h, "limit", limit == AF_NO_LIMIT ? -1 : (int64_t)limit);
	r->ops->str(r, h, "day", holiday ? "holiday" : "workday");
	r->ops->num(r, h, "hour", hour);
	if((cc.list = r->ops->list(r, h, "callers")))
		af_dest_concurrency_list(conc_item, &cc);
}

void af_cmd_dest_explain(af_reply_t *r)
{
	static const cmd_spec_t spec = {" number [caller] [profile]", 3, 1,
			{"number", "caller", "profile"}, "sss",
			{CMD_NUMBER_MAX, CMD_CALLER_MAX, CMD_PROFILE_MAX}};
	static const char *const kinds[] = {"invalid", "e164", "national",
			"short"};
	char reasons[256], detail[AF_DETAIL_MAX * 4 + 4], ex[AF_TEXT_EXCERPT_BUF];
	af_verdict_t *v;
	cmd_args_t a;
	void *h;

	if(cmd_args(r, &spec, &a) < 0)
		return;
	v = malloc(sizeof(*v));
	if(!v) {
		r->ops->fault(r, 500, "out of memory");
		return;
	}
	af_dest_explain(a.n > 2 ? a.v[2] : NULL, a.n > 2 ? a.len[2] : 0,
			a.n > 1 && a.len[1] ? a.v[1] : NULL, a.v[0], v);
	if(v->rc == AF_RC_ERROR)
		af_cmd_fail(r, 404, "No profile '%s'", af_text_excerpt(a.v[2], a.len[2], ex));
	else if(v->rc == AF_RC_NORULE)
		af_cmd_fail(r, 404, "Profile %s has no dest rules", v->dest.profile);
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
		r->ops->str(r, h, "detail",
				escn(v->detail, sizeof(v->detail), detail, sizeof(detail)));
		r->ops->str(r, h, "limits", "not evaluated");
	}
	free(v);
}

static int account_item(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	return ban_entry(arg, "account", key, key_len, ban, 1);
}

void af_cmd_accounts(af_reply_t *r)
{
	list_ctx_t c = {r, NULL, af_now_ms()};

	if(no_args(r) < 0 || !(c.list = r->ops->list(r, NULL, NULL)))
		return;
	if(af_account_list(account_item, &c) < 0)
		r->ops->fault(r, 500, "The state store is unavailable");
}

/* the argument of the account commands */
static const cmd_spec_t account_spec = {" user@domain", 1, 1, {"account"},
		"s", {AF_ACCOUNT_MAX}};

void af_cmd_account(af_reply_t *r)
{
	af_account_info_t ai;
	char err[256], ip[AF_IP_STRLEN], country[16];
	char acct[AF_ACCOUNT_MAX * 4 + 4], reason[AF_BAN_REASON * 4 + 4];
	uint64_t now = af_now_ms();
	cmd_args_t a;
	void *h, *known, *e;
	int i;

	if(cmd_args(r, &account_spec, &a) < 0)
		return;
	if(af_account_info(a.v[0], a.len[0], &ai, err, sizeof(err)) < 0) {
		fail_err(r, strncmp(err, "not an", 6) ? 500 : 400, err);
		return;
	}
	if(!(h = r->ops->object(r, NULL, NULL)))
		return;
	r->ops->str(r, h, "account",
			escn(ai.account, sizeof(ai.account), acct, sizeof(acct)));
	r->ops->num(r, h, "under_attack", ai.under_attack);
	r->ops->num(r, h, "expires",
			ai.under_attack ? secs_left(ai.mark.until_ms, now) : 0);
	r->ops->str(r, h, "reason",
			ai.under_attack ? escn(ai.mark.reason, sizeof(ai.mark.reason),
									  reason, sizeof(reason))
							: "");
	r->ops->num(r, h, "failures", count32(ai.failures));
	r->ops->num(r, h, "failing_sources", count32(ai.failing_sources));
	known = r->ops->list(r, h, "known");
	for(i = 0; known && i < ai.n_known; i++) {
		af_ip_format(&ai.known[i].ip, ip, sizeof(ip));
		if(!(e = r->ops->object(r, known, NULL)))
			return;
		r->ops->str(r, e, "ip", ip);
		r->ops->str(r, e, "country",
				ai.known[i].country[0]
						? escn(ai.known[i].country,
								  sizeof(ai.known[i].country), country,
								  sizeof(country))
						: "none");
		r->ops->num(r, e, "seen", (int64_t)(ai.known[i].ts_ms / 1000));
	}
}

void af_cmd_account_release(af_reply_t *r)
{
	char err[256], ex[AF_TEXT_EXCERPT_BUF], acct[AF_ACCOUNT_MAX * 4 + 4];
	cmd_args_t a;
	void *h;
	int rc;

	if(cmd_args(r, &account_spec, &a) < 0)
		return;
	rc = af_account_release(a.v[0], a.len[0], err, sizeof(err));
	if(rc < 0) {
		fail_err(r, strncmp(err, "not an", 6) ? 500 : 400, err);
		return;
	}
	if(rc == 0) {
		af_cmd_fail(r, 404, "%s is not under attack",
				af_text_excerpt(a.v[0], a.len[0], ex));
		return;
	}
	if((h = r->ops->object(r, NULL, NULL))) {
		r->ops->str(r, h, "account", esc(a.v[0], a.len[0], acct, sizeof(acct)));
		r->ops->num(r, h, "released", 1);
	}
}

void af_cmd_feeds(af_reply_t *r)
{
	char name[CMD_ARG_MAX * 4 + 4], file[512], error[1024];
	af_rules_t *rules;
	af_feed_info_t fi;
	void *list, *h;
	uint32_t i;

	if(no_args(r) < 0)
		return;
	rules = af_core_acquire();
	if(!rules) {
		r->ops->fault(r, 500, "No rules loaded");
		return;
	}
	if(!(list = r->ops->list(r, NULL, NULL))) {
		af_core_release(rules);
		return;
	}
	for(i = 0; i < rules->n_lists; i++) {
		if(!rules->lists[i].file)
			continue;
		af_feed_info(&rules->lists[i], &fi);
		if(!(h = r->ops->object(r, list, NULL)))
			break;
		r->ops->str(r, h, "name",
				escn(rules->lists[i].name, CMD_ARG_MAX, name, sizeof(name)));
		r->ops->str(r, h, "file",
				escn(rules->lists[i].file, 4096, file, sizeof(file)));
		r->ops->num(r, h, "entries", fi.entries);
		r->ops->num(r, h, "swaps", fi.swaps);
		r->ops->num(r, h, "refusals", fi.refusals);
		r->ops->num(r, h, "loaded", (int64_t)(fi.loaded_ms / 1000));
		r->ops->str(r, h, "error",
				escn(fi.error, sizeof(fi.error), error, sizeof(error)));
	}
	af_core_release(rules);
}

void af_cmd_forget(af_reply_t *r)
{
	static const cmd_spec_t spec = {" caller|number|source|account subject",
			2, 2, {"kind", "subject"}, "ss", {16, AF_KEY_MAX}};
	char err[256], subj[AF_KEY_MAX * 4 + 4];
	uint64_t removed = 0;
	cmd_args_t a;
	void *h;
	int k;

	if(cmd_args(r, &spec, &a) < 0)
		return;
	k = af_subject_parse(a.v[0], a.len[0]);
	if(k < 0) {
		r->ops->fault(r, 400,
				"Unknown subject kind (caller, number, source or account)");
		return;
	}
	if(af_forget((af_subject_t)k, a.v[1], a.len[1], &removed, err,
			   sizeof(err))
			< 0) {
		fail_err(r, removed || strstr(err, "store") ? 500 : 400, err);
		return;
	}
	if(!(h = r->ops->object(r, NULL, NULL)))
		return;
	r->ops->str(r, h, "kind", af_subject_name((af_subject_t)k));
	r->ops->str(r, h, "subject", esc(a.v[1], a.len[1], subj, sizeof(subj)));
	r->ops->num(r, h, "removed", count32(removed));
}

static const char *const an_rule_names[AF_AN__COUNT] = {
		"asr", "acd", "short_calls", "minutes", "pdd"};

/* a decimal as text (the answers' numbers are integers) */
static const char *dec(char *buf, size_t size, double x)
{
	snprintf(buf, size, "%.3f", x);
	return buf;
}

/* the fields of figure f in object h */
static void figure_fields(af_reply_t *r, void *h, const af_figure_t *f)
{
	char b[32];

	r->ops->num(r, h, "window", f->window_s);
	r->ops->num(r, h, "attempts", count32(f->c[AF_FIG_ATTEMPTS]));
	r->ops->num(r, h, "answered", count32(f->c[AF_FIG_ANSWERED]));
	r->ops->num(r, h, "short", count32(f->c[AF_FIG_SHORT]));
	r->ops->num(r, h, "long", count32(f->c[AF_FIG_LONG]));
	r->ops->num(r, h, "seconds", count32(f->c[AF_FIG_SECONDS]));
	r->ops->num(r, h, "rung", count32(f->c[AF_FIG_RUNG]));
	r->ops->str(r, h, "asr", dec(b, sizeof(b), f->asr));
	r->ops->str(r, h, "acd", dec(b, sizeof(b), f->acd_s));
	r->ops->str(r, h, "short_share", dec(b, sizeof(b), f->short_share));
	r->ops->str(r, h, "minutes", dec(b, sizeof(b), f->minutes));
	r->ops->str(r, h, "pdd", dec(b, sizeof(b), f->pdd_s));
}

/* the rules of the default profile that judge subject kind s */
static void an_rules(af_reply_t *r, void *h, af_outcome_subject_t s)
{
	const af_an_profile_t *an;
	af_rules_t *rules = af_core_acquire();
	char lim[32];
	void *list, *item;
	int k;

	an = rules->default_profile->an;
	if((list = r->ops->list(r, h, "rules")))
		for(k = 0; k < AF_AN__COUNT; k++) {
			const af_an_rule_t *ru = &an->rule[k];
			if(ru->limit <= 0 || !(ru->subjects & (1u << s)))
				continue;
			if(!(item = r->ops->object(r, list, NULL)))
				break;
			r->ops->str(r, item, "rule", an_rule_names[k]);
			r->ops->str(r, item, "limit",
					dec(lim, sizeof(lim),
							k == AF_AN_ASR || k == AF_AN_SHORT
									? ru->limit * 100
									: ru->limit));
			r->ops->num(r, item, "min_sample", ru->min);
			r->ops->num(r, item, "window", ru->window_s);
		}
	af_core_release(rules);
}

/* this hour's baseline */
static void an_baseline(af_reply_t *r, void *h)
{
	af_outcome_slot_stat_t st;
	int holiday, hour;
	char b[32];
	void *bh;

	af_outcome_slot_now(af_now_ms(), &holiday, &hour);
	af_outcome_slot_stat(holiday, hour, &st);
	if(!(bh = r->ops->object(r, h, "baseline")))
		return;
	r->ops->str(r, bh, "day", holiday ? "holiday" : "workday");
	r->ops->num(r, bh, "hour", hour);
	r->ops->num(r, bh, "samples", count32(st.samples));
	r->ops->str(r, bh, "attempts_mean", dec(b, sizeof(b), st.attempts_mean));
	r->ops->str(r, bh, "attempts_sd", dec(b, sizeof(b), st.attempts_sd));
	r->ops->str(r, bh, "asr_mean", dec(b, sizeof(b), st.asr_mean));
	r->ops->str(r, bh, "asr_sd", dec(b, sizeof(b), st.asr_sd));
	r->ops->str(r, bh, "acd_mean", dec(b, sizeof(b), st.acd_mean));
	r->ops->str(r, bh, "acd_sd", dec(b, sizeof(b), st.acd_sd));
	r->ops->str(r, bh, "mix_windows", st.mix_windows ? "learned" : "none");
}

/* without a subject: the windows, this hour's baseline, the top callers */
static void an_overview(af_reply_t *r, void *h)
{
	af_outcome_top_t top[10];
	af_rules_t *rules = af_core_acquire();
	char a[32], name[AF_CALL_SUBJECT_MAX * 4 + 4];
	void *list, *item;
	int i, m;

	if((list = r->ops->list(r, h, "windows")))
		for(i = 0; i < (int)rules->analytics.n_windows; i++)
			if((item = r->ops->object(r, list, NULL)))
				r->ops->num(r, item, "seconds", rules->analytics.windows[i]);
	r->ops->num(r, h, "enabled", rules->analytics.enabled);
	af_core_release(rules);
	an_baseline(r, h);
	m = af_outcome_top(AF_OUT_CALLER, AF_TOP_ATTEMPTS, top, 10);
	if(!(list = r->ops->list(r, h, "top_callers")))
		return;
	for(i = 0; i < m; i++) {
		if(!(item = r->ops->object(r, list, NULL)))
			return;
		r->ops->str(r, item, "caller",
				escn(top[i].name, sizeof(top[i].name), name, sizeof(name)));
		r->ops->num(r, item, "attempts", count32(top[i].fig.c[AF_FIG_ATTEMPTS]));
		r->ops->str(r, item, "asr", dec(a, sizeof(a), top[i].fig.asr));
	}
}

void af_cmd_analytics(af_reply_t *r)
{
	static const cmd_spec_t spec = {
			" [caller|source|country|prefix|profile name]", 2, 0,
			{"kind", "name"}, "ss", {16, AF_CALL_SUBJECT_MAX}};
	af_figure_t f[AF_OUTCOME_WINDOWS];
	char err[128], name[AF_CALL_SUBJECT_MAX * 4 + 4];
	char reason[AF_BAN_REASON * 4 + 4];
	af_ban_t mark;
	cmd_args_t a;
	void *h, *list, *item;
	int s, n, i, m;

	if(cmd_args(r, &spec, &a) < 0)
		return;
	if(a.n == 1) {
		af_cmd_fail(r, 400, "Usage: %s%s", r->cmd, spec.usage);
		return;
	}
	if(a.n == 0) {
		if((h = r->ops->object(r, NULL, NULL)))
			an_overview(r, h);
		return;
	}
	s = af_outcome_subject_parse(a.v[0], a.len[0]);
	if(s < 0 || a.len[1] == 0) {
		af_cmd_fail(r, 400, "kind: caller, source, country, prefix or profile;"
					 " name: 1 to %d bytes",
				AF_CALL_SUBJECT_MAX);
		return;
	}
	n = af_outcome_figures((af_outcome_subject_t)s, a.v[1], a.len[1], f, err,
			sizeof(err));
	if(n < 0) {
		fail_err(r, 500, err);
		return;
	}
	if(!(h = r->ops->object(r, NULL, NULL)))
		return;
	r->ops->str(r, h, "kind", af_outcome_subject_name((af_outcome_subject_t)s));
	r->ops->str(r, h, "name", esc(a.v[1], a.len[1], name, sizeof(name)));
	if(!(list = r->ops->list(r, h, "figures")))
		return;
	for(i = 0; i < n; i++) {
		if(!(item = r->ops->object(r, list, NULL)))
			return;
		figure_fields(r, item, &f[i]);
	}
	an_rules(r, h, (af_outcome_subject_t)s);
	an_baseline(r, h);
	m = af_outcome_mark_get(
			(af_outcome_subject_t)s, a.v[1], a.len[1], &mark);
	if(m == 1) {
		r->ops->str(r, h, "refused",
				escn(mark.reason, sizeof(mark.reason), reason,
						sizeof(reason)));
		r->ops->num(r, h, "refused_for", secs_left(mark.until_ms, af_now_ms()));
	} else {
		r->ops->str(r, h, "refused", m < 0 ? "unknown" : "no");
	}
}

void af_cmd_analytics_top(af_reply_t *r)
{
	static const cmd_spec_t spec = {" [metric] [kind] [n]", 3, 0,
			{"metric", "kind", "n"}, "ssi", {16, 16, CMD_INT_MAX}};
	static af_outcome_top_t top[100];
	char name[AF_CALL_SUBJECT_MAX * 4 + 4];
	int m = AF_TOP_ATTEMPTS, s = AF_OUT_CALLER, got, i;
	unsigned n = 10;
	cmd_args_t a;
	void *list, *item;

	if(cmd_args(r, &spec, &a) < 0)
		return;
	if(a.n > 0 && a.len[0] > 0
			&& (m = af_top_metric_parse(a.v[0], a.len[0])) < 0) {
		af_cmd_fail(r, 400, "metric: attempts, minutes, asr, acd or short");
		return;
	}
	if(a.n > 1 && a.len[1] == 3 && memcmp(a.v[1], "all", 3) == 0)
		s = AF_OUT__COUNT;
	else if(a.n > 1 && a.len[1] > 0
			&& (s = af_outcome_subject_parse(a.v[1], a.len[1])) < 0) {
		af_cmd_fail(r, 400, "kind: caller, source, country, prefix, profile or all");
		return;
	}
	if(a.n > 2 && cmd_uint(r, &spec, &a, 2, 1, 100, &n) < 0)
		return;
	if(!(list = r->ops->list(r, NULL, NULL)))
		return;
	got = af_outcome_top((af_outcome_subject_t)s, (af_top_metric_t)m, top,
			(int)n);
	for(i = 0; i < got; i++) {
		if(!(item = r->ops->object(r, list, NULL)))
			return;
		r->ops->str(r, item, "kind", af_outcome_subject_name(top[i].kind));
		r->ops->str(r, item, "name",
				escn(top[i].name, sizeof(top[i].name), name, sizeof(name)));
		figure_fields(r, item, &top[i].fig);
	}
}

void af_cmd_analytics_stats(af_reply_t *r)
{
	static const cmd_spec_t spec = {" [all]", 1, 0, {"all"}, "s", {3}};
	static const char *const day[2] = {"workday", "holiday"};
	af_outcome_slot_stat_t st;
	char b[32], ex[AF_TEXT_EXCERPT_BUF];
	int dt, hr;
	cmd_args_t a;
	void *list, *item;

	if(cmd_args(r, &spec, &a) < 0)
		return;
	if(a.n && strcmp(a.v[0], "all") != 0) {
		af_cmd_fail(r, 400, "Unknown parameter '%s'. Usage: %s [all]",
				af_text_excerpt(a.v[0], a.len[0], ex), r->cmd);
		return;
	}
	if(!(list = r->ops->list(r, NULL, NULL)))
		return;
	for(dt = 0; dt < 2; dt++)
		for(hr = 0; hr < 24; hr++) {
			af_outcome_slot_stat(dt, hr, &st);
			if(!st.samples && !st.mix_windows && !a.n)
				continue;
			if(!(item = r->ops->object(r, list, NULL)))
				return;
			r->ops->str(r, item, "day", day[dt]);
			r->ops->num(r, item, "hour", hr);
			r->ops->num(r, item, "samples", count32(st.samples));
			r->ops->str(r, item, "attempts_mean",
					dec(b, sizeof(b), st.attempts_mean));
			r->ops->str(r, item, "attempts_sd",
					dec(b, sizeof(b), st.attempts_sd));
			r->ops->str(r, item, "asr_mean", dec(b, sizeof(b), st.asr_mean));
			r->ops->str(r, item, "asr_sd", dec(b, sizeof(b), st.asr_sd));
			r->ops->str(r, item, "asr_suggest",
					dec(b, sizeof(b), fmax(0, st.asr_mean - 3 * st.asr_sd)));
			r->ops->str(r, item, "acd_mean", dec(b, sizeof(b), st.acd_mean));
			r->ops->str(r, item, "acd_sd", dec(b, sizeof(b), st.acd_sd));
			r->ops->str(r, item, "acd_suggest",
					dec(b, sizeof(b), st.acd_mean + 3 * st.acd_sd));
			r->ops->num(r, item, "attempts_suggest",
					(int64_t)ceil(st.attempts_mean + 3 * st.attempts_sd));
			r->ops->num(r, item, "mix_windows", st.mix_windows);
		}
}
