/*
 * antifraud - RPC commands (kamcmd antifraud.*).
 *
 * Every argument is hostile until checked: each command declares its
 * arguments with a maximum length (README, RPC commands), reads them all
 * up front with rpc_args() (too few, too many, too long, control
 * characters: a fault naming the argument), and quotes input in a fault
 * only as a short escaped excerpt. Text read back from the store (ban
 * reasons, keys: they may come from Redis, written by other nodes or by
 * anyone with access to it) is escaped on output. A fault never exceeds
 * RPC_FAULT_MAX bytes: the ctl module sends nothing at all for a fault
 * of 256 bytes or more.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/rpc.h"
#include "core/rpc_lookup.h"
#include "af_kam.h"
#include "af_feed.h"
#include "af_forget.h"
#include "af_outcome.h"
#include "af_text.h"

#define RPC_FAULT_MAX 240 /* bytes of a fault's text, NUL included */
#define RPC_ARGS_MAX 3    /* most arguments of a command */
#define RPC_ARG_MAX 255   /* longest argument of any command, bytes */

/* argument limits, bytes */
#define RPC_IP_MAX (AF_IP_STRLEN + 1)      /* 45 characters, and [ ] */
#define RPC_INT_MAX 10                     /* an integer written s:... */
#define RPC_REASON_MAX (AF_BAN_REASON - 1) /* as the store keeps it */
#define RPC_PROFILE_MAX 64                 /* as the rule file's names */
#define RPC_NUMBER_MAX 128                 /* a dialed number as sent */
#define RPC_CALLER_MAX 128
#define RPC_CONC_MAX 100000 /* most callers antifraud.concurrency lists */

_Static_assert(AF_ACCOUNT_MAX <= RPC_ARG_MAX && RPC_NUMBER_MAX <= RPC_ARG_MAX
					   && RPC_CALLER_MAX <= RPC_ARG_MAX,
		"an argument limit above RPC_ARG_MAX");

/* What a command takes: its usage line, and each argument's name, type
 * ('s' string, 'i' integer) and longest value (bytes); the first
 * 'required' are required. */
typedef struct rpc_spec {
	const char *usage;
	int n;
	int required;
	const char *name[RPC_ARGS_MAX];
	const char *type; /* n characters */
	size_t max[RPC_ARGS_MAX];
} rpc_spec_t;

/* The arguments read: n given, each a NUL-terminated copy, or for an
 * integer sent as one (is_int) its value. */
typedef struct rpc_args {
	int n;
	size_t len[RPC_ARGS_MAX];
	char v[RPC_ARGS_MAX][RPC_ARG_MAX + 1];
	int is_int[RPC_ARGS_MAX];
	int ival[RPC_ARGS_MAX];
} rpc_args_t;

/*
 * Sends a fault of code with the printf-style text, cut to
 * RPC_FAULT_MAX - 1 bytes (whatever the arguments).
 */
static void __attribute__((format(printf, 4, 5)))
rpc_fail(rpc_t *rpc, void *ctx, int code, const char *fmt, ...)
{
	char buf[RPC_FAULT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rpc->fault(ctx, code, "%s", buf);
}

/*
 * Sends a fault with an error text of the core (err): escaped, and cut
 * to fit; the whole of it goes to the log when it had to be cut.
 */
static void rpc_fail_err(rpc_t *rpc, void *ctx, int code, const char *err)
{
	char buf[RPC_FAULT_MAX];
	size_t len = strlen(err), cut;
	int plain = af_text_plain(err, len);

	if(plain && len < sizeof(buf)) {
		/* the core's errors are plain already (what they quote is
		 * escaped there): not escaped twice */
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
		LM_ERR("%s\n", full);
	}
	rpc->fault(ctx, code, "%s", buf);
}

/*
 * Reads the next argument into *str (1), *ival (2) or as a float (3),
 * whichever type it has; 0 when there is none (or it is of a type no
 * command takes, a struct or an array). Each scan names one type without
 * conversion, and a scan of the wrong type consumes nothing.
 */
static int rpc_next(rpc_t *rpc, void *ctx, str *s, int *ival)
{
	double f;

	s->s = NULL;
	s->len = 0;
	if(rpc->scan(ctx, "*S", s) == 1 && s->s && s->len >= 0)
		return 1;
	if(rpc->scan(ctx, "*d", ival) == 1)
		return 2;
	if(rpc->scan(ctx, "*f", &f) == 1)
		return 3;
	return 0;
}

/*
 * Reads the arguments of a command as spec says into a, up front: sends
 * the fault and returns -1 when there are too few or too many, or one is
 * of the wrong type (kamcmd sends what looks like a number as one: a
 * text argument must then be written s:...), too long or holds a control
 * character; returns 0.
 */
static int rpc_args(rpc_t *rpc, void *ctx, const rpc_spec_t *sp,
		rpc_args_t *a)
{
	str s;
	int i, t, ival = 0;
	size_t j;

	memset(a, 0, sizeof(*a));
	for(i = 0; i <= sp->n; i++) {
		t = rpc_next(rpc, ctx, &s, &ival);
		if(t == 0)
			break;
		if(i == sp->n) {
			rpc_fail(rpc, ctx, 400, "Too many arguments. Usage: %s",
					sp->usage);
			return -1;
		}
		if(t == 3 || (t == 2 && sp->type[i] != 'i')) {
			rpc_fail(rpc, ctx, 400,
					sp->type[i] == 'i' ? "%s: an integer expected"
									   : "%s: a string expected (kamcmd"
										 " sends digits as an integer:"
										 " write s:...)",
					sp->name[i]);
			return -1;
		}
		a->n = i + 1;
		if(t == 2) {
			a->is_int[i] = 1;
			a->ival[i] = ival;
			continue;
		}
		if((size_t)s.len > sp->max[i]) {
			rpc_fail(rpc, ctx, 400, "%s: too long (%d bytes, at most %zu)",
					sp->name[i], s.len, sp->max[i]);
			return -1;
		}
		for(j = 0; j < (size_t)s.len; j++)
			if((unsigned char)s.s[j] < 0x20 || s.s[j] == 0x7f) {
				rpc_fail(rpc, ctx, 400,
						"%s: control characters are not accepted",
						sp->name[i]);
				return -1;
			}
		memcpy(a->v[i], s.s, (size_t)s.len);
		a->v[i][s.len] = '\0';
		a->len[i] = (size_t)s.len;
	}
	if(a->n < sp->required) {
		rpc_fail(rpc, ctx, 400, "Usage: %s", sp->usage);
		return -1;
	}
	return 0;
}

/*
 * Reads argument i of a into *out as an integer from min to max: sent
 * as one, or as a string of decimal digits (no sign, space or base
 * prefix). Sends the fault and returns -1 when it is not one; returns 0.
 */
static int rpc_uint(rpc_t *rpc, void *ctx, const rpc_spec_t *sp,
		const rpc_args_t *a, int i, unsigned min, unsigned max,
		unsigned *out)
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
	rpc_fail(rpc, ctx, 400, "%s: an integer from %u to %u expected",
			sp->name[i], min, max);
	return -1;
}

/* s escaped into buf (size bytes); returns buf */
static const char *esc(const char *s, size_t len, char *buf, size_t size)
{
	af_text_escape(s, len, buf, size);
	return buf;
}

/* NUL-terminated s escaped into buf (size bytes); returns buf */
static const char *escz(const char *s, char *buf, size_t size)
{
	return esc(s, s ? strlen(s) : 0, buf, size);
}

static const rpc_spec_t no_args_reload = {"antifraud.reload", 0, 0, {0}, ""};
static const rpc_spec_t no_args_bans = {"antifraud.bans", 0, 0, {0}, ""};
static const rpc_spec_t no_args_stats = {"antifraud.stats", 0, 0, {0}, ""};
static const rpc_spec_t no_args_accounts = {
		"antifraud.accounts", 0, 0, {0}, ""};
static const rpc_spec_t no_args_reset = {
		"antifraud.dest_stats_reset", 0, 0, {0}, ""};

/* the command takes no argument: 0, or -1 with the fault sent */
static int rpc_no_args(rpc_t *rpc, void *ctx, const rpc_spec_t *sp)
{
	rpc_args_t a;

	return rpc_args(rpc, ctx, sp, &a);
}

static const char *rpc_reload_doc[] = {
		"Validate and load the rule file and the files it names again;"
		" on error the current rules stay. No parameters.",
		0};

static void rpc_reload(rpc_t *rpc, void *ctx)
{
	char err[512];

	if(rpc_no_args(rpc, ctx, &no_args_reload) < 0)
		return;
	if(af_core_reload(err, sizeof(err)) < 0) {
		rpc_fail_err(rpc, ctx, 500, err);
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

/* seconds from now to until_ms, rounded up; 0 when past */
static int secs_left(uint64_t until_ms, uint64_t now)
{
	uint64_t s = until_ms > now ? (until_ms - now + 999) / 1000 : 0;

	return s > INT32_MAX ? INT32_MAX : (int)s;
}

/* seconds from since_ms to now; 0 when in the future */
static int secs_since(uint64_t since_ms, uint64_t now)
{
	uint64_t s = now > since_ms ? (now - since_ms) / 1000 : 0;

	return s > INT32_MAX ? INT32_MAX : (int)s;
}

static int ban_list_item(
		const char *key, size_t key_len, const af_ban_t *ban, void *arg)
{
	ban_list_ctx_t *c = arg;
	char ip[AF_IP_STRLEN * 4 + 4], reason[AF_BAN_REASON * 4 + 4];
	void *h;

	if(af_account_key(key, key_len))
		return 0; /* an account under attack: antifraud.accounts */
	if(af_outcome_mark_is(key, key_len))
		return 0; /* an analytics refusal: antifraud.analytics */
	esc(key, key_len, ip, sizeof(ip));
	esc(ban->reason, strnlen(ban->reason, sizeof(ban->reason)), reason,
			sizeof(reason));
	if(c->rpc->add(c->ctx, "{", &h) < 0)
		return 1;
	c->rpc->struct_add(h, "ssddd", "ip", ip, "reason", reason, "expires",
			secs_left(ban->until_ms, c->now), "age",
			secs_since(ban->since_ms, c->now), "hits",
			ban->hits > INT32_MAX ? INT32_MAX : (int)ban->hits);
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

	if(rpc_no_args(rpc, ctx, &no_args_bans) < 0)
		return;
	if(af_core_ban_list(ban_list_item, &c) < 0)
		rpc->fault(ctx, 500, "The state store is unavailable");
}

static const char *rpc_ban_doc[] = {
		"Ban a source: ip seconds [reason]. seconds: 1 to 31536000;"
		" reason: plain text of at most 63 bytes.",
		0};

static const rpc_spec_t ban_spec = {"antifraud.ban ip seconds [reason]", 3,
		2, {"ip", "seconds", "reason"}, "sis",
		{RPC_IP_MAX, RPC_INT_MAX, RPC_REASON_MAX}};

static void rpc_ban(rpc_t *rpc, void *ctx)
{
	rpc_args_t a;
	unsigned seconds;
	char err[256];

	if(rpc_args(rpc, ctx, &ban_spec, &a) < 0
			|| rpc_uint(rpc, ctx, &ban_spec, &a, 1, 1, AF_BAN_MAX_S, &seconds)
					   < 0)
		return;
	if(af_core_ban(a.v[0], a.len[0], seconds, a.n > 2 ? a.v[2] : NULL, err,
			   sizeof(err))
			< 0) {
		rpc_fail_err(rpc, ctx, 400, err);
		return;
	}
	rpc->rpl_printf(ctx, "Ok. %s banned for %u s.", a.v[0], seconds);
}

static const char *rpc_unban_doc[] = {"Lift the ban of a source: ip.", 0};

static const rpc_spec_t unban_spec = {
		"antifraud.unban ip", 1, 1, {"ip"}, "s", {RPC_IP_MAX}};

static void rpc_unban(rpc_t *rpc, void *ctx)
{
	rpc_args_t a;
	char err[256];
	int rc;

	if(rpc_args(rpc, ctx, &unban_spec, &a) < 0)
		return;
	rc = af_core_unban(a.v[0], a.len[0], err, sizeof(err));
	if(rc < 0) {
		rpc_fail_err(rpc, ctx, 400, err);
		return;
	}
	if(rc == 0) {
		rpc_fail(rpc, ctx, 404, "Not banned: %s", a.v[0]);
		return;
	}
	rpc->rpl_printf(ctx, "Ok. %s unbanned.", a.v[0]);
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

	if(rpc_no_args(rpc, ctx, &no_args_stats) < 0)
		return;
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

static const rpc_spec_t lookup_spec = {"antifraud.lookup ip [profile]", 2,
		1, {"ip", "profile"}, "ss", {RPC_IP_MAX, RPC_PROFILE_MAX}};

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
	rpc_args_t a;
	af_ip_t ip;
	af_geo_info_t gi;
	af_geo_t *g;
	af_rules_t *r;
	const af_profile_t *p;
	ban_find_ctx_t find;
	char key[AF_IP_STRLEN], ex[AF_TEXT_EXCERPT_BUF];
	char reason[AF_BAN_REASON * 4 + 4], country[16], continent[16];
	void *h;
	uint32_t i;
	const char *list = "none";
	int best = -1, plen;

	if(rpc_args(rpc, ctx, &lookup_spec, &a) < 0)
		return;
	if(af_ip_parse(a.v[0], a.len[0], &ip) < 0) {
		rpc_fail(rpc, ctx, 400, "Not an IP address: '%s'",
				af_text_excerpt(a.v[0], a.len[0], ex));
		return;
	}
	af_ip_format(&ip, key, sizeof(key));
	r = af_core_acquire();
	p = af_rules_profile(r, a.n > 1 ? a.v[1] : NULL, a.n > 1 ? a.len[1] : 0);
	if(!p) {
		af_core_release(r);
		rpc_fail(rpc, ctx, 404, "No profile '%s'",
				af_text_excerpt(a.v[1], a.len[1], ex));
		return;
	}
	memset(&gi, 0, sizeof(gi));
	g = af_core_geo(r);
	if(g)
		af_geo_lookup(g, &ip, &gi);
	/* the most specific list entry, as af_check_source sees it */
	for(i = 0; i < r->n_lists; i++) {
		plen = af_iplist_lookup(&r->lists[i], &ip);
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
	rpc->struct_add(h, "sssdsds", "ip", key, "country",
			escz(gi.country, country, sizeof(country)), "continent",
			escz(gi.continent, continent, sizeof(continent)), "asn",
			(int)gi.asn, "list", list, "banned", find.ban.until_ms ? 1 : 0,
			"ban_reason",
			esc(find.ban.reason,
					strnlen(find.ban.reason, sizeof(find.ban.reason)),
					reason, sizeof(reason)));
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

static const rpc_spec_t dest_stats_spec = {
		"antifraud.dest_stats [all]", 1, 0, {"all"}, "s", {3}};

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
	char country[32];
	void *h, *rh;
	int i;

	if(c->rpc->array_add(c->list, "{", &h) < 0)
		return 1;
	c->rpc->struct_add(h, "sdddd", "country",
			cc[0] ? escz(cc, country, sizeof(country)) : "none", "attempts",
			(int)attempts, "allowed", (int)allowed, "alerts", (int)alerts,
			"blocked", (int)blocked);
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
	rpc_args_t a;
	void *h, *sl, *item;
	char mean[32], sd[32], ex[AF_TEXT_EXCERPT_BUF];
	int d, hr, show_all;

	if(rpc_args(rpc, ctx, &dest_stats_spec, &a) < 0)
		return;
	if(a.n && strcmp(a.v[0], "all") != 0) {
		rpc_fail(rpc, ctx, 400,
				"Unknown parameter '%s'. Usage: antifraud.dest_stats [all]",
				af_text_excerpt(a.v[0], a.len[0], ex));
		return;
	}
	show_all = a.n == 1;
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
	if(rpc_no_args(rpc, ctx, &no_args_reset) < 0)
		return;
	af_dest_stats_reset();
	rpc->rpl_printf(ctx, "Ok. Statistics reset.");
}

typedef struct conc_ctx {
	rpc_t *rpc;
	void *list;
	unsigned n;
	unsigned max;
} conc_ctx_t;

/* one caller of rpc_concurrency */
static int conc_item(const char *key, size_t key_len, uint32_t count,
		void *arg)
{
	conc_ctx_t *c = arg;
	char caller[AF_KEY_MAX * 4 + 4];
	void *h;

	if(c->n >= c->max)
		return 1;
	esc(key, key_len, caller, sizeof(caller));
	if(c->rpc->array_add(c->list, "{", &h) < 0)
		return 1;
	c->rpc->struct_add(h, "sd", "caller", caller, "calls",
			count > INT32_MAX ? INT32_MAX : (int)count);
	c->n++;
	return 0;
}

static const char *rpc_concurrency_doc[] = {
		"Concurrent international calls now: the total (of the cluster in"
		" Redis mode), the limit in force for the total (-1: none) with the"
		" day type and hour of the system calendar, and the callers with"
		" live calls (at most [max] of them, 0 to 100000, default 100).",
		0};

static const rpc_spec_t conc_spec = {
		"antifraud.concurrency [max]", 1, 0, {"max"}, "i", {RPC_INT_MAX}};

static void rpc_concurrency(rpc_t *rpc, void *ctx)
{
	uint32_t total = 0, limit = 0;
	int holiday = 0, hour = 0;
	unsigned max = 100;
	conc_ctx_t cc;
	rpc_args_t a;
	void *h;

	if(rpc_args(rpc, ctx, &conc_spec, &a) < 0
			|| (a.n
					&& rpc_uint(rpc, ctx, &conc_spec, &a, 0, 0, RPC_CONC_MAX,
							   &max)
							   < 0))
		return;
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

static const rpc_spec_t explain_spec = {
		"antifraud.dest_explain number [caller] [profile] (strings: kamcmd"
		" reads +123 or 0049... as an integer, write s:+4930...)",
		3, 1, {"number", "caller", "profile"}, "sss",
		{RPC_NUMBER_MAX, RPC_CALLER_MAX, RPC_PROFILE_MAX}};

static void rpc_dest_explain(rpc_t *rpc, void *ctx)
{
	static const char *const kinds[] = {"invalid", "e164", "national",
			"short"};
	char reasons[256], detail[AF_DETAIL_MAX * 4 + 4], ex[AF_TEXT_EXCERPT_BUF];
	af_verdict_t *v;
	rpc_args_t a;
	void *h;

	if(rpc_args(rpc, ctx, &explain_spec, &a) < 0)
		return;
	v = pkg_malloc(sizeof(*v));
	if(!v) {
		rpc->fault(ctx, 500, "out of memory");
		return;
	}
	af_dest_explain(a.n > 2 ? a.v[2] : NULL, a.n > 2 ? a.len[2] : 0,
			a.n > 1 && a.len[1] ? a.v[1] : NULL, a.v[0], v);
	if(v->rc == AF_RC_ERROR) {
		pkg_free(v);
		rpc_fail(rpc, ctx, 404, "No profile '%s'",
				af_text_excerpt(a.v[2], a.len[2], ex));
		return;
	}
	if(v->rc == AF_RC_NORULE) {
		rpc_fail(rpc, ctx, 404, "Profile %s has no dest rules",
				v->dest.profile);
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
				"reason", reasons, "detail",
				escz(v->detail, detail, sizeof(detail)), "limits",
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
	char acct[AF_ACCOUNT_MAX * 4 + 4], reason[AF_BAN_REASON * 4 + 4];
	void *h;

	esc(key, key_len, acct, sizeof(acct));
	esc(ban->reason, strnlen(ban->reason, sizeof(ban->reason)), reason,
			sizeof(reason));
	if(c->rpc->add(c->ctx, "{", &h) < 0)
		return 1;
	c->rpc->struct_add(h, "ssddd", "account", acct, "reason", reason,
			"since", (int)(ban->since_ms / 1000), "expires",
			secs_left(ban->until_ms, c->now), "attempts",
			ban->hits > INT32_MAX ? INT32_MAX : (int)ban->hits);
	c->n++;
	return 0;
}

static void rpc_accounts(rpc_t *rpc, void *ctx)
{
	ban_list_ctx_t c = {rpc, ctx, af_now_ms(), 0};

	if(rpc_no_args(rpc, ctx, &no_args_accounts) < 0)
		return;
	if(af_account_list(account_list_item, &c) < 0)
		rpc->fault(ctx, 500, "The state store is unavailable");
}

static const char *rpc_account_doc[] = {
		"What the module knows of an account (user@domain): under attack"
		" and until when, failed authentications and distinct failing"
		" addresses in accounts.account_window, recent known good"
		" sources.",
		0};

static const rpc_spec_t account_spec = {
		"antifraud.account user@domain", 1, 1, {"account"}, "s",
		{AF_ACCOUNT_MAX}};

static void rpc_account(rpc_t *rpc, void *ctx)
{
	af_account_info_t ai;
	char err[256], ip[AF_IP_STRLEN], country[16];
	char acct[AF_ACCOUNT_MAX * 4 + 4], reason[AF_BAN_REASON * 4 + 4];
	uint64_t now = af_now_ms();
	rpc_args_t a;
	void *h, *kh, *eh;
	int i;

	if(rpc_args(rpc, ctx, &account_spec, &a) < 0)
		return;
	if(af_account_info(a.v[0], a.len[0], &ai, err, sizeof(err)) < 0) {
		rpc_fail_err(rpc, ctx, strncmp(err, "not an", 6) ? 500 : 400, err);
		return;
	}
	if(rpc->add(ctx, "{", &h) < 0)
		return;
	rpc->struct_add(h, "sddsdd", "account",
			escz(ai.account, acct, sizeof(acct)), "under_attack",
			ai.under_attack, "expires",
			ai.under_attack ? secs_left(ai.mark.until_ms, now) : 0,
			"reason",
			ai.under_attack ? esc(ai.mark.reason,
									  strnlen(ai.mark.reason,
											  sizeof(ai.mark.reason)),
									  reason, sizeof(reason))
							: "",
			"failures", (int)ai.failures, "failing_sources",
			(int)ai.failing_sources);
	if(rpc->struct_add(h, "[", "known", &kh) < 0)
		return;
	for(i = 0; i < ai.n_known; i++) {
		af_ip_format(&ai.known[i].ip, ip, sizeof(ip));
		if(rpc->array_add(kh, "{", &eh) < 0)
			return;
		rpc->struct_add(eh, "ssd", "ip", ip, "country",
				ai.known[i].country[0]
						? esc(ai.known[i].country,
								  strnlen(ai.known[i].country,
										  sizeof(ai.known[i].country)),
								  country, sizeof(country))
						: "none",
				"seen", (int)(ai.known[i].ts_ms / 1000));
	}
}

static const char *rpc_account_release_doc[] = {
		"Release an account under attack (user@domain): new sources may"
		" try again.",
		0};

static const rpc_spec_t account_release_spec = {
		"antifraud.account_release user@domain", 1, 1, {"account"}, "s",
		{AF_ACCOUNT_MAX}};

static void rpc_account_release(rpc_t *rpc, void *ctx)
{
	char err[256], ex[AF_TEXT_EXCERPT_BUF], acct[AF_ACCOUNT_MAX * 4 + 4];
	rpc_args_t a;
	void *h;
	int rc;

	if(rpc_args(rpc, ctx, &account_release_spec, &a) < 0)
		return;
	rc = af_account_release(a.v[0], a.len[0], err, sizeof(err));
	if(rc < 0) {
		rpc_fail_err(rpc, ctx, strncmp(err, "not an", 6) ? 500 : 400, err);
		return;
	}
	if(rc == 0) {
		rpc_fail(rpc, ctx, 404, "%s is not under attack",
				af_text_excerpt(a.v[0], a.len[0], ex));
		return;
	}
	if(rpc->add(ctx, "{", &h) < 0)
		return;
	rpc->struct_add(h, "sd", "account",
			esc(a.v[0], a.len[0], acct, sizeof(acct)), "released", 1);
}

static const char *rpc_feeds_doc[] = {
		"The lists with a file: name, file, entries in use, versions"
		" swapped in and refused since the rules loaded, when the version"
		" in use was read (unix time), and why the last new version was"
		" refused (empty when a later one loaded).",
		0};

static const rpc_spec_t no_args_feeds = {"antifraud.feeds", 0, 0, {0}, ""};

/* antifraud.feeds: the live state of every list file (names, paths and
 * refusals escaped: a refusal quotes the file) */
static void rpc_feeds(rpc_t *rpc, void *ctx)
{
	char name[RPC_ARG_MAX + 1], file[512], error[1024];
	af_rules_t *r;
	af_feed_info_t fi;
	void *h;
	uint32_t i;

	if(rpc_no_args(rpc, ctx, &no_args_feeds) < 0)
		return;
	r = af_core_acquire();
	if(!r) {
		rpc_fail(rpc, ctx, 500, "No rules loaded");
		return;
	}
	for(i = 0; i < r->n_lists; i++) {
		if(!r->lists[i].file)
			continue;
		af_feed_info(&r->lists[i], &fi);
		if(rpc->add(ctx, "{", &h) < 0)
			break;
		rpc->struct_add(h, "ssuuuus", "name",
				escz(r->lists[i].name, name, sizeof(name)), "file",
				escz(r->lists[i].file, file, sizeof(file)), "entries",
				fi.entries, "swaps", fi.swaps, "refusals", fi.refusals,
				"loaded", (unsigned)(fi.loaded_ms / 1000), "error",
				escz(fi.error, error, sizeof(error)));
	}
	af_core_release(r);
}

static const char *rpc_forget_doc[] = {
		"Forget a subject: caller user@host | number E.164 | source ip |"
		" account user@domain. Its counters, windows, histories and bans"
		" go from the state store (Redis and the local store in cluster"
		" mode); live calls stay in the concurrency sets.",
		0};

static const rpc_spec_t forget_args = {
		"antifraud.forget caller|number|source|account subject", 2, 2,
		{"kind", "subject"}, "ss", {16, AF_KEY_MAX}};

/* antifraud.forget kind subject */
static void rpc_forget(rpc_t *rpc, void *ctx)
{
	char err[256], subj[AF_KEY_MAX * 4 + 4];
	uint64_t removed = 0;
	rpc_args_t a;
	void *h;
	int k;

	if(rpc_args(rpc, ctx, &forget_args, &a) < 0)
		return;
	k = af_subject_parse(a.v[0], a.len[0]);
	if(k < 0) {
		rpc_fail(rpc, ctx, 400,
				"Unknown subject kind (caller, number, source or account)");
		return;
	}
	if(af_forget((af_subject_t)k, a.v[1], a.len[1], &removed, err,
			   sizeof(err))
			< 0) {
		rpc_fail_err(rpc, ctx, removed || strstr(err, "store") ? 500 : 400,
				err);
		return;
	}
	if(rpc->add(ctx, "{", &h) < 0)
		return;
	rpc->struct_add(h, "ssd", "kind", af_subject_name((af_subject_t)k),
			"subject", esc(a.v[1], a.len[1], subj, sizeof(subj)), "removed",
			(int)removed);
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
	{"antifraud.feeds", rpc_feeds, rpc_feeds_doc, RET_ARRAY},
	{"antifraud.forget", rpc_forget, rpc_forget_doc, 0},
	{"antifraud.check", af_kam_rpc_check, af_kam_rpc_check_doc, 0},
	{"antifraud.analytics", af_kam_rpc_analytics, af_kam_rpc_analytics_doc,
		0},
	{"antifraud.analytics_top", af_kam_rpc_analytics_top,
		af_kam_rpc_analytics_top_doc, RET_ARRAY},
	{"antifraud.analytics_stats", af_kam_rpc_analytics_stats,
		af_kam_rpc_analytics_stats_doc, RET_ARRAY},
	{0, 0, 0, 0}
};
/* clang-format on */
