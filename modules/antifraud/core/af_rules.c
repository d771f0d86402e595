/*
 * antifraud - the rule file: read with libyaml into a document, checked
 * node by node, and built into one arena together with the list files it
 * names and the PCRE2 code of its patterns. Nothing is returned before
 * the whole file has been validated; any error frees the arena.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcre2.h>
#include "af_host.h"
#include "af_feed.h"
#include "af_geo.h"
#include "af_rules.h"
#include "af_sig.h"
#include "af_yaml.h"
#include "af_rules_int.h"

#define AF_RULES_VERSION 1
#define AF_RULES_WEIGHT_MAX 1000000u
/* the shortest prefixes a list that lets sources through (trusted,
 * allow, exempt_sources) may hold without 'broad: true' */
#define AF_RULES_V4_MIN 8
#define AF_RULES_V6_MIN 16

static const char *const af_check_names[AF_C__COUNT] = {
#define AF_CHECK(id, name, mode) [AF_C_##id] = name,
#include "af_table.def"
#undef AF_CHECK
};

/* the default mode of each check */
static const af_mode_t af_check_default_mode[AF_C__COUNT] = {
#define AF_CHECK(id, name, mode) [AF_C_##id] = AF_MODE_##mode,
#include "af_table.def"
#undef AF_CHECK
};

/* the keys of each mapping of the file */
enum {
	K_VERSION,
	K_LISTS,
	K_GEOIP,
	K_SCANNER,
	K_HISTORY,
	K_ACCOUNTS,
	K_FINGERPRINT,
	K_DEST,
	K_ANALYTICS,
	K_PROFILES,
	K_TOP
};
/* read in this order: what a later section names comes first */
static const char *const top_keys[K_TOP] = {"version", "lists", "geoip",
		"scanner", "history", "accounts", "fingerprint", "dest", "analytics",
		"profiles"};

enum { K_SIGNATURES, K_FINGERPRINT_N };
static const char *const fingerprint_keys[K_FINGERPRINT_N] = {"signatures"};

enum { K_ENTRIES, K_FILE, K_BROAD, K_LIST };
static const char *const list_keys[K_LIST] = {"entries", "file", "broad"};

enum { K_COUNTRY_DB, K_ASN_DB, K_REQUIRED, K_GEOIP_N };
static const char *const geoip_keys[K_GEOIP_N] = {
		"country_db", "asn_db", "required"};

enum { K_WINDOW, K_THRESHOLD, K_BAN_TIME, K_WEIGHTS, K_SCANNER_N };
static const char *const scanner_keys[K_SCANNER_N] = {
		"window", "threshold", "ban_time", "weights"};

enum {
	K_ACC_SOURCE_FAILURES,
	K_ACC_SOURCE_WINDOW,
	K_ACC_BAN_TIME,
	K_ACC_ACCOUNT_SOURCES,
	K_ACC_ACCOUNT_WINDOW,
	K_ACC_COOLING,
	K_ACC_KNOWN_TTL,
	K_ACC_ALERT_FAILURES,
	K_ACC_IDENTITY,
	K_ACCOUNTS_N
};
static const char *const accounts_keys[K_ACCOUNTS_N] = {"source_failures",
		"source_window", "ban_time", "account_sources", "account_window",
		"cooling", "known_ttl", "alert_failures", "identity"};

enum { K_TTL, K_HISTORY_N };
static const char *const history_keys[K_HISTORY_N] = {"ttl"};

enum {
	K_DOMAINS,
	K_USERS,
	K_USER_PATTERNS,
	K_TRUSTED,
	K_ROUTABLE,
	K_ALLOW,
	K_DENY,
	K_GEO,
	K_HOPPING,
	K_EXEMPT_CALLERS,
	K_EXEMPT_SOURCES,
	K_MODE,
	K_PDEST,
	K_PANALYTICS,
	K_PROFILE_N
};
static const char *const profile_keys[K_PROFILE_N] = {"domains", "users",
		"user_patterns", "trusted", "routable", "allow", "deny", "geo",
		"hopping", "exempt_callers", "exempt_sources", "mode", "dest",
		"analytics"};

enum {
	K_ALLOW_CC,
	K_DENY_CC,
	K_ALLOW_CONT,
	K_DENY_CONT,
	K_DENY_ASN,
	K_UNKNOWN,
	K_GEO_N
};
static const char *const geo_keys[K_GEO_N] = {"allow_countries",
		"deny_countries", "allow_continents", "deny_continents", "deny_asn",
		"unknown"};

enum { K_HOP_COUNTRY, K_HOP_CONTINENT, K_HOP_IDENTITY, K_HOP_N };
static const char *const hopping_keys[K_HOP_N] = {
		"country", "continent", "identity"};


/*
 * Returns the name of check c ("domain", "user", ...), the key of its
 * mode in the rule file, or "unknown".
 */
const char *af_check_name(af_check_t c)
{
	if((unsigned)c >= AF_C__COUNT)
		return "unknown";
	return af_check_names[c];
}

/*
 * Compiles pattern node n into re, the code in the snapshot's arena (as
 * is whatever PCRE2 takes while compiling), with its filter and load tag.
 * '$' matches only at the very end. Returns 0, or -1 with the error set
 * (PCRE2's message and offset).
 */
static int rl_regex(af_rl_t *c, const yaml_node_t *n, af_regex_t *re)
{
	pcre2_code *code;
	const char *s;
	size_t len;

	if(af_yl_pattern(&c->y, n, &s, &len) < 0
			|| af_yl_compile(&c->y, n, s, len, AF_RE_OPTIONS, &code) < 0)
		return -1;
	re->code = code;
	af_re_filter_init(&re->filter, code, s, len);
	af_regex_tag(re);
	re->src = af_arena_strndup(c->y.arena, s, len);
	re->src_len = len;
	return re->src ? 0 : af_yl_oom(&c->y, n);
}

/*
 * A domain of a profile's 'domains' (af_rl_strset_of() item): IP
 * literals (bracketed IPv6 too) in their canonical text form, names in
 * lower case. Names may hold letters, digits, '-', '_' and '.', and are
 * not all digits and dots (that is an IPv4 address af_ip_parse() refuses,
 * such as "127.000.0.1", which could never match). Returns 0, or -1 with
 * the error set.
 */
static int rl_domain_item(af_rl_t *c, const yaml_node_t *it, const char **sp,
		size_t *lenp, char *buf, void *arg)
{
	const char *s = *sp;
	size_t j, len = *lenp;
	af_ip_t ip;
	int k;
	char ch;

	if(af_ip_parse(s, len, &ip) == 0) {
		k = af_ip_format(&ip, buf, AF_RULES_HOST_MAX + 1);
		if(k < 0)
			return af_yl_err(&c->y, it, "cannot format address '%.*s'",
					AF_YL_SHOWN(len), s);
		*lenp = (size_t)k;
	} else {
		if(len == 0 || len > AF_RULES_HOST_MAX)
			goto bad;
		if(strspn(s, "0123456789.") == len)
			return af_yl_err(&c->y, it,
					"'%.*s' is not a valid IPv4 address (four decimal "
					"numbers 0..255, no leading zeros)",
					AF_YL_SHOWN(len), s);
		for(j = 0; j < len; j++) {
			ch = s[j];
			if(ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			else if(!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
							|| ch == '-' || ch == '_' || ch == '.'))
				goto bad;
			buf[j] = ch;
		}
	}
	*sp = buf;
	return 0;
bad:
	return af_yl_err(&c->y, it, "'%.*s' is not a host name or IP address",
			AF_YL_SHOWN(len), s);
}

/* Returns the list of the snapshot named s[0..len), or NULL. */
static const af_iplist_t *rl_find_list(af_rl_t *c, const char *s, size_t len)
{
	uint32_t i;

	for(i = 0; i < c->r->n_lists; i++) {
		if(strncmp(c->r->lists[i].name, s, len) == 0
				&& c->r->lists[i].name[len] == '\0')
			return &c->r->lists[i];
	}
	return NULL;
}

/*
 * Reads a sequence of list names from node n into an array of pointers
 * to those lists (*out, *nout). When opens is set (trusted, allow,
 * exempt_sources: lists that let sources through), a list holding a
 * prefix shorter than /AF_RULES_V4_MIN (IPv4) or /AF_RULES_V6_MIN (IPv6)
 * is refused unless it says 'broad: true'. Returns 0, or -1 with the
 * error set (a name that no list has included).
 */
static int rl_listrefs(af_rl_t *c, const yaml_node_t *n, int opens,
		const af_iplist_t ***out, uint32_t *nout)
{
	const af_iplist_t *l;
	yaml_node_t *it;
	const char *s;
	size_t i, count, len;
	void *p;
	int rc, v4, v6;

	*nout = 0;
	rc = af_rl_seq_alloc(c, n, sizeof(**out), &count, &p);
	*out = p;
	if(rc < 0 || count == 0)
		return rc;
	for(i = 0; i < count; i++) {
		it = af_yl_item(&c->y, n, i);
		if(af_yl_str(&c->y, it, &s, &len) < 0)
			return -1;
		l = rl_find_list(c, s, len);
		if(!l)
			return af_yl_err(&c->y, it,
					"unknown list '%.*s' (not under 'lists')",
					AF_YL_SHOWN(len), s);
		v4 = af_trie_shortest(l->trie, 4);
		v6 = af_trie_shortest(l->trie, 6);
		if(opens && !l->broad
				&& ((v4 >= 0 && v4 < AF_RULES_V4_MIN)
						|| (v6 >= 0 && v6 < AF_RULES_V6_MIN)))
			return af_yl_err(&c->y, it,
					"list '%s' holds an IPv%d /%d prefix: a list that lets"
					" sources through may not cover more than a /%d (IPv4)"
					" or /%d (IPv6) per entry unless it says 'broad: true'",
					l->name, v4 >= 0 && v4 < AF_RULES_V4_MIN ? 4 : 6,
					v4 >= 0 && v4 < AF_RULES_V4_MIN ? v4 : v6,
					AF_RULES_V4_MIN, AF_RULES_V6_MIN);
		(*out)[i] = l;
	}
	*nout = (uint32_t)count;
	return 0;
}

/* qsort order of ASNs */
static int rl_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * An AS number (af_rl_sorted_of() item): 1..4294967295, optionally
 * written "AS64500". Returns 0, or -1 with the error set.
 */
static int rl_asn_item(af_rl_t *c, const yaml_node_t *it, const char *s,
		size_t len, void *item, void *arg)
{
	size_t j = (len > 2 && (s[0] == 'A' || s[0] == 'a')
					   && (s[1] == 'S' || s[1] == 's'))
					   ? 2
					   : 0;
	uint64_t x;

	if(af_yl_digits(s + j, len - j, &x) < 0 || x == 0 || x > UINT32_MAX)
		return af_yl_err(&c->y, it,
				"'%.*s' is not an AS number (1..4294967295)",
				AF_YL_SHOWN(len), s);
	*(uint32_t *)item = (uint32_t)x;
	return 0;
}

/* Reads a sequence of AS numbers (rl_asn_item) from node n into a sorted
 * array without duplicates (*out, *nout). Returns 0, or -1 with the
 * error set. */
static int rl_asns(af_rl_t *c, const yaml_node_t *n, uint32_t **out,
		uint32_t *nout)
{
	void *p;
	int rc = af_rl_sorted_of(
			c, n, sizeof(**out), rl_asn_item, NULL, rl_cmp_u32, &p, nout);

	*out = p;
	return rc;
}

/*
 * Reads the 'geo' mapping n of a profile into g. Returns 0, or -1 with
 * the error set.
 */
static int rl_geo(af_rl_t *c, const yaml_node_t *n, af_geo_policy_t *g)
{
	yaml_node_t *v[K_GEO_N];
	const char *s;
	size_t len, old;
	int i, rc = 0;

	if(af_yl_map(&c->y, n, geo_keys, K_GEO_N, v, NULL) < 0)
		return -1;
	for(i = 0; i < K_GEO_N && rc == 0; i++) {
		if(!v[i])
			continue;
		old = af_yl_push(&c->y, geo_keys[i], strlen(geo_keys[i]));
		switch(i) {
			case K_ALLOW_CC:
				rc = af_rl_codes(c, v[i], 0, &g->allow_cc, &g->n_allow_cc);
				break;
			case K_DENY_CC:
				rc = af_rl_codes(c, v[i], 0, &g->deny_cc, &g->n_deny_cc);
				break;
			case K_ALLOW_CONT:
				rc = af_rl_codes(c, v[i], 1, &g->allow_cont, &g->n_allow_cont);
				break;
			case K_DENY_CONT:
				rc = af_rl_codes(c, v[i], 1, &g->deny_cont, &g->n_deny_cont);
				break;
			case K_DENY_ASN:
				rc = rl_asns(c, v[i], &g->deny_asn, &g->n_deny_asn);
				break;
			case K_UNKNOWN:
				rc = af_yl_str(&c->y, v[i], &s, &len);
				if(rc == 0 && len == 5 && memcmp(s, "allow", 5) == 0)
					g->unknown_is_bad = 0;
				else if(rc == 0 && len == 4 && memcmp(s, "deny", 4) == 0)
					g->unknown_is_bad = 1;
				else if(rc == 0)
					rc = af_yl_err(&c->y, v[i],
							"expected allow or deny, got '%.*s'",
							AF_YL_SHOWN(len), s);
				break;
		}
		af_yl_pop(&c->y, old);
	}
	return rc;
}

/*
 * Reads the 'hopping' mapping n of a profile into p; a time longer than
 * history.ttl could never be seen and is refused. Returns 0, or -1 with
 * the error set.
 */
static int rl_hopping(af_rl_t *c, const yaml_node_t *n, af_profile_t *p)
{
	yaml_node_t *v[K_HOP_N];
	uint32_t *dst;
	size_t old;
	int i, rc = 0;

	if(af_yl_map(&c->y, n, hopping_keys, K_HOP_N, v, NULL) < 0)
		return -1;
	if(v[K_HOP_IDENTITY]) {
		const char *s;
		size_t len;
		if(af_yl_str(&c->y, v[K_HOP_IDENTITY], &s, &len) < 0)
			return -1;
		if(len == 11 && memcmp(s, "credentials", 11) == 0)
			p->hop_identity_from = 0;
		else if(len == 4 && memcmp(s, "from", 4) == 0)
			p->hop_identity_from = 1;
		else
			return af_yl_err(&c->y, v[K_HOP_IDENTITY],
					"identity must be credentials or from, got '%.*s'",
					AF_YL_SHOWN(len), s);
	}
	for(i = 0; i < K_HOP_IDENTITY && rc == 0; i++) {
		if(!v[i])
			continue;
		dst = i == K_HOP_COUNTRY ? &p->country_hop_s : &p->continent_hop_s;
		old = af_yl_push(&c->y, hopping_keys[i], strlen(hopping_keys[i]));
		rc = af_yl_u32(&c->y, v[i], 0, AF_RULES_YEAR, dst);
		if(rc == 0 && *dst > c->r->history_ttl_s)
			rc = af_yl_err(&c->y, v[i], "%u is longer than history.ttl (%u)",
					*dst, c->r->history_ttl_s);
		af_yl_pop(&c->y, old);
	}
	return rc;
}

/*
 * Reads the 'mode' mapping n of a profile into p->mode (checks not named
 * keep their default). Returns 0, or -1 with the error set.
 */
static int rl_modes(af_rl_t *c, const yaml_node_t *n, af_profile_t *p)
{
	yaml_node_t *v[AF_C__COUNT];
	const char *s;
	size_t len, old;
	int i, m;

	if(af_yl_map(&c->y, n, af_check_names, AF_C__COUNT, v, NULL) < 0)
		return -1;
	for(i = 0; i < AF_C__COUNT; i++) {
		if(!v[i])
			continue;
		old = af_yl_push(&c->y, af_check_names[i], strlen(af_check_names[i]));
		if(af_yl_str(&c->y, v[i], &s, &len) < 0)
			return -1;
		m = af_mode_parse(s);
		if(m < 0)
			return af_yl_err(&c->y, v[i],
					"unknown mode '%.*s' (expected off, monitor or enforce)",
					AF_YL_SHOWN(len), s);
		p->mode[i] = (af_mode_t)m;
		af_yl_pop(&c->y, old);
	}
	return 0;
}

/*
 * Reads profile node n into p, whose name is set. Checks not configured
 * take their defaults. Returns 0, or -1 with the error set.
 */
static int rl_profile(af_rl_t *c, const yaml_node_t *n, af_profile_t *p)
{
	yaml_node_t *v[K_PROFILE_N];
	size_t i, count, old;
	int k, rc = 0;

	for(k = 0; k < AF_C__COUNT; k++)
		p->mode[k] = af_check_default_mode[k];
	p->an = &c->r->analytics.defaults;
	if(af_yl_map(&c->y, n, profile_keys, K_PROFILE_N, v, NULL) < 0)
		return -1;
	for(k = 0; k < K_PROFILE_N && rc == 0; k++) {
		old = af_yl_push(&c->y, profile_keys[k], strlen(profile_keys[k]));
		switch(k) {
			case K_DOMAINS:
				rc = af_rl_strset_of(c, v[k], rl_domain_item, NULL, &p->domains);
				break;
			case K_USERS:
				rc = af_rl_strset(c, v[k], "user", 0, &p->users);
				break;
			case K_EXEMPT_CALLERS:
				rc = af_rl_strset(c, v[k], "caller", 1, &p->exempt_callers);
				break;
			case K_USER_PATTERNS:
				rc = af_yl_seq(&c->y, v[k], &count);
				if(rc < 0 || count == 0)
					break;
				p->user_re = af_arena_alloc(
						c->y.arena, count * sizeof(*p->user_re));
				if(!p->user_re) {
					rc = af_yl_oom(&c->y, v[k]);
					break;
				}
				for(i = 0; i < count && rc == 0; i++)
					rc = rl_regex(
							c, af_yl_item(&c->y, v[k], i), &p->user_re[i]);
				p->n_user_re = (uint32_t)count;
				break;
			case K_ROUTABLE:
				if(af_yl_is_null(v[k]))
					break;
				p->routable = af_arena_alloc(c->y.arena, sizeof(*p->routable));
				if(!p->routable)
					rc = af_yl_oom(&c->y, v[k]);
				else
					rc = rl_regex(c, v[k], p->routable);
				break;
			case K_TRUSTED:
				rc = rl_listrefs(c, v[k], 1, &p->trusted, &p->n_trusted);
				break;
			case K_ALLOW:
				rc = rl_listrefs(c, v[k], 1, &p->allow, &p->n_allow);
				break;
			case K_DENY:
				rc = rl_listrefs(c, v[k], 0, &p->deny, &p->n_deny);
				break;
			case K_EXEMPT_SOURCES:
				rc = rl_listrefs(c, v[k], 1, &p->exempt_sources,
						&p->n_exempt_sources);
				break;
			case K_GEO:
				rc = rl_geo(c, v[k], &p->geo);
				break;
			case K_HOPPING:
				rc = rl_hopping(c, v[k], p);
				break;
			case K_MODE:
				rc = rl_modes(c, v[k], p);
				break;
			case K_PDEST:
				if(!af_yl_is_null(v[k]))
					rc = af_rl_profile_dest(c, v[k], p);
				break;
			case K_PANALYTICS:
				if(!af_yl_is_null(v[k]))
					rc = af_rl_profile_analytics(c, v[k], p);
				break;
		}
		af_yl_pop(&c->y, old);
	}
	return rc;
}

/*
 * Reads the 'profiles' mapping n (key node key) into the snapshot; a
 * 'default' profile is required. Returns 0, or -1 with the error set.
 */
static int rl_profiles(af_rl_t *c, const yaml_node_t *key,
		const yaml_node_t *n)
{
	af_rules_t *r = c->r;
	yaml_node_t *k, *v;
	af_profile_t *p;
	const char *s;
	size_t i, count, len, old;

	if(af_yl_names(&c->y, n, &count) < 0)
		return -1;
	if(count) {
		r->profiles = af_arena_alloc(c->y.arena, count * sizeof(*r->profiles));
		if(!r->profiles)
			return af_yl_oom(&c->y, n);
	}
	for(i = 0; i < count; i++) {
		af_yl_pair(&c->y, n, i, &k, &v);
		if(af_yl_name(&c->y, k, "profile", AF_RULES_NAME_MAX, &s, &len) < 0)
			return -1;
		p = &r->profiles[i];
		p->name = af_arena_strndup(c->y.arena, s, len);
		if(!p->name)
			return af_yl_oom(&c->y, k);
		r->n_profiles++;
		old = af_yl_push(&c->y, s, len);
		if(rl_profile(c, v, p) < 0)
			return -1;
		af_yl_pop(&c->y, old);
		if(strcmp(p->name, "default") == 0)
			r->default_profile = p;
	}
	if(!r->default_profile)
		return af_yl_err(&c->y, key, "no 'default' profile (it is required)");
	return 0;
}

/*
 * Reads the 'lists' mapping n into the snapshot: one trie per list, its
 * inline entries and then its file, every prefix with value 1. An error
 * in the file is reported as the file's "path:line: ...". Returns 0, or
 * -1 with the error set.
 */
static int rl_lists(af_rl_t *c, const yaml_node_t *n)
{
	af_rules_t *r = c->r;
	yaml_node_t *k, *v, *lv[K_LIST], *it;
	af_iplist_t *l;
	af_list_entry_t *ent = NULL;
	const char *s, *why;
	size_t i, j, count, len, old, old2, nent;
	af_ip_t net;
	int plen;

	if(af_yl_names(&c->y, n, &count) < 0)
		return -1;
	if(count == 0)
		return 0;
	r->lists = af_arena_alloc(c->y.arena, count * sizeof(*r->lists));
	if(!r->lists)
		return af_yl_oom(&c->y, n);
	for(i = 0; i < count; i++) {
		af_yl_pair(&c->y, n, i, &k, &v);
		if(af_yl_name(&c->y, k, "list", AF_RULES_NAME_MAX, &s, &len) < 0)
			return -1;
		l = &r->lists[i];
		l->name = af_arena_strndup(c->y.arena, s, len);
		l->trie = af_trie_new(c->y.arena);
		if(!l->name || !l->trie)
			return af_yl_oom(&c->y, k);
		r->n_lists++;
		old = af_yl_push(&c->y, s, len);
		if(af_yl_map(&c->y, v, list_keys, K_LIST, lv, NULL) < 0)
			return -1;
		old2 = af_yl_push(&c->y, "entries", 7);
		if(af_yl_seq(&c->y, lv[K_ENTRIES], &nent) < 0)
			return -1;
		if(nent) {
			ent = af_arena_alloc(c->y.arena, nent * sizeof(*ent));
			if(!ent)
				return af_yl_oom(&c->y, k);
			l->entries = ent;
		}
		for(j = 0; j < nent; j++) {
			it = af_yl_item(&c->y, lv[K_ENTRIES], j);
			if(af_yl_str(&c->y, it, &s, &len) < 0)
				return -1;
			if(af_cidr_parse(s, len, &net, &plen, &why) < 0)
				return af_yl_err(&c->y, it,
						"'%.*s' is not an address or CIDR: %s",
						AF_YL_SHOWN(len), s, why);
			if(af_trie_add(l->trie, &net, plen, 1) < 0)
				return af_yl_oom(&c->y, it);
			ent[l->n_entries].net = net;
			ent[l->n_entries].plen = plen;
			l->n_entries++;
		}
		af_yl_pop(&c->y, old2);
		if(lv[K_BROAD]) {
			old2 = af_yl_push(&c->y, "broad", 5);
			if(af_yl_bool(&c->y, lv[K_BROAD], &l->broad) < 0)
				return -1;
			af_yl_pop(&c->y, old2);
		}
		if(!af_yl_is_null(lv[K_FILE])) {
			af_yl_push(&c->y, "file", 4);
			if(af_rl_path(c, lv[K_FILE], AF_FILE_LIST, &l->file) < 0)
				return -1;
			/* the file's identity before it is read */
			l->feed = af_feed_new(l->file);
			if(!l->feed)
				return af_yl_oom(&c->y, k);
			if(af_trie_load_file(
					   l->trie, l->file, 1, c->y.err, c->y.errlen) < 0)
				return -1;
			af_feed_loaded(l->feed, af_trie_count(l->trie));
		}
		af_yl_pop(&c->y, old);
	}
	return 0;
}

/*
 * Opens the GeoIP databases the snapshot names (nodes cn and an, either
 * NULL when not given) to prove them usable. A required one that fails is
 * an error at the line naming it (af_geo_open() says "ASN database" in
 * what it reports of the ASN one); an optional one is dropped with a
 * warning and the rules run without GeoIP. Returns 0, or -1 with the
 * error set.
 */
static int rl_geoip_open(af_rl_t *c, const yaml_node_t *cn,
		const yaml_node_t *an)
{
	af_rules_t *r = c->r;
	const yaml_node_t *bad;
	char why[512];
	af_geo_t *g;
	size_t old;
	int asn;

	g = af_geo_open(r->geo_country_db, r->geo_asn_db, why, sizeof(why));
	if(g) {
		af_geo_close(g);
		return 0;
	}
	asn = !r->geo_country_db || strstr(why, "ASN database") != NULL;
	bad = asn && r->geo_asn_db ? an : cn;
	if(r->geo_required) {
		old = af_yl_push(&c->y, asn ? "asn_db" : "country_db",
				asn ? 6 : 10);
		af_yl_err(&c->y, bad, "%s", why);
		af_yl_pop(&c->y, old);
		return -1;
	}
	AF_WARN("%s:%lu: geoip: %s; running without GeoIP (geoip.required is"
			" false)\n",
			c->y.file, (unsigned long)bad->start_mark.line + 1, why);
	r->geo_country_db = NULL;
	r->geo_asn_db = NULL;
	return 0;
}

/*
 * Reads the 'geoip' mapping n into the snapshot. 'required' defaults to
 * true when a database is named. Returns 0, or -1 with the error set.
 */
static int rl_geoip(af_rl_t *c, const yaml_node_t *n)
{
	af_rules_t *r = c->r;
	yaml_node_t *v[K_GEOIP_N];
	size_t old;
	int rc = 0;

	if(af_yl_map(&c->y, n, geoip_keys, K_GEOIP_N, v, NULL) < 0)
		return -1;
	if(!af_yl_is_null(v[K_COUNTRY_DB])) {
		old = af_yl_push(&c->y, "country_db", 10);
		rc = af_rl_path(c, v[K_COUNTRY_DB], AF_FILE_GEOIP, &r->geo_country_db);
		af_yl_pop(&c->y, old);
	}
	if(rc == 0 && !af_yl_is_null(v[K_ASN_DB])) {
		old = af_yl_push(&c->y, "asn_db", 6);
		rc = af_rl_path(c, v[K_ASN_DB], AF_FILE_GEOIP, &r->geo_asn_db);
		af_yl_pop(&c->y, old);
	}
	r->geo_required = r->geo_country_db || r->geo_asn_db;
	if(rc == 0 && v[K_REQUIRED]) {
		old = af_yl_push(&c->y, "required", 8);
		rc = af_yl_bool(&c->y, v[K_REQUIRED], &r->geo_required);
		af_yl_pop(&c->y, old);
	}
	if(rc < 0 || (!r->geo_country_db && !r->geo_asn_db))
		return rc;
	return rl_geoip_open(c, v[K_COUNTRY_DB], v[K_ASN_DB]);
}

/*
 * Reads the 'fingerprint' mapping n: the signature file (relative to the
 * rule file), loaded and validated into the snapshot's arena. Its errors
 * carry its own file:line. Returns 0, or -1 with the error set.
 */
static int rl_fingerprint(af_rl_t *c, const yaml_node_t *n)
{
	yaml_node_t *v[K_FINGERPRINT_N];
	size_t old;
	int rc = 0;

	if(af_yl_map(&c->y, n, fingerprint_keys, K_FINGERPRINT_N, v, NULL) < 0)
		return -1;
	if(af_yl_is_null(v[K_SIGNATURES]))
		return 0;
	old = af_yl_push(&c->y, "signatures", 10);
	rc = af_rl_path(
			c, v[K_SIGNATURES], AF_FILE_SIGNATURES, &c->r->signatures_path);
	af_yl_pop(&c->y, old);
	if(rc < 0)
		return -1;
	c->r->signatures = af_sig_load(
			c->y.arena, c->r->signatures_path, c->y.err, c->y.errlen);
	if(!c->r->signatures) {
		old = af_yl_push(&c->y, "signatures", 10);
		af_yl_cite(&c->y, v[K_SIGNATURES]);
		af_yl_pop(&c->y, old);
		return -1;
	}
	return 0;
}

/*
 * Reads the 'scanner' mapping n into the snapshot, over the defaults set
 * by rl_build(). When 'weights' is given, reasons it does not name weigh
 * 0. Returns 0, or -1 with the error set.
 */
static int rl_scanner(af_rl_t *c, const yaml_node_t *n)
{
	af_scanner_cfg_t *sc = &c->r->scanner;
	yaml_node_t *v[K_SCANNER_N], *k, *w;
	const char *s;
	size_t i, count, len, old, old2;
	int reason, rc = 0;

	if(af_yl_map(&c->y, n, scanner_keys, K_SCANNER_N, v, NULL) < 0)
		return -1;
	if(v[K_WINDOW]) {
		old = af_yl_push(&c->y, "window", 6);
		rc = af_yl_u32(&c->y, v[K_WINDOW], 1, AF_RULES_DAY, &sc->window_s);
		af_yl_pop(&c->y, old);
	}
	if(rc == 0 && v[K_THRESHOLD]) {
		old = af_yl_push(&c->y, "threshold", 9);
		rc = af_yl_u32(&c->y, v[K_THRESHOLD], 0, AF_RULES_WEIGHT_MAX,
				&sc->threshold);
		af_yl_pop(&c->y, old);
	}
	if(rc == 0 && v[K_BAN_TIME]) {
		old = af_yl_push(&c->y, "ban_time", 8);
		rc = af_yl_u32(&c->y, v[K_BAN_TIME], 1, AF_RULES_YEAR, &sc->ban_s);
		af_yl_pop(&c->y, old);
	}
	if(rc < 0 || !v[K_WEIGHTS])
		return rc;
	old = af_yl_push(&c->y, "weights", 7);
	if(af_yl_names(&c->y, v[K_WEIGHTS], &count) < 0)
		return -1;
	memset(sc->weight, 0, sizeof(sc->weight));
	for(i = 0; i < count; i++) {
		af_yl_pair(&c->y, v[K_WEIGHTS], i, &k, &w);
		if(af_yl_str(&c->y, k, &s, &len) < 0)
			return -1;
		reason = af_reason_parse(s, len);
		if(reason < 0)
			return af_yl_err(&c->y, k, "unknown reason '%.*s'",
					AF_YL_SHOWN(len), s);
		if(reason == AF_R_BANNED || reason == AF_R_SCANNER
				|| reason == AF_R_COUNTRY_HOP || reason == AF_R_CONTINENT_HOP)
			return af_yl_err(&c->y, k,
					"'%.*s' cannot weigh: a score counts what a request"
					" itself shows (addressing, lists, GeoIP, SDP)",
					AF_YL_SHOWN(len), s);
		if(reason >= AF_R_AUTH_FAILURES)
			return af_yl_err(&c->y, k,
					"'%.*s' cannot weigh: it is learned from authentication"
					" results, with its own thresholds under 'accounts'",
					AF_YL_SHOWN(len), s);
		if(reason >= AF_R_DEST_INVALID)
			return af_yl_err(&c->y, k,
					"'%.*s' cannot weigh: it is about the caller and the"
					" number called, not the source",
					AF_YL_SHOWN(len), s);
		if(reason == AF_R_SIGNATURE)
			return af_yl_err(&c->y, k,
					"'signature' cannot weigh here: each signature has its"
					" own score in the signature file");
		old2 = af_yl_push(&c->y, s, len);
		if(af_yl_u32(&c->y, w, 0, AF_RULES_WEIGHT_MAX, &sc->weight[reason]) < 0)
			return -1;
		af_yl_pop(&c->y, old2);
	}
	af_yl_pop(&c->y, old);
	return 0;
}

/*
 * Reads the 'history' mapping n into the snapshot. Returns 0, or -1 with
 * the error set.
 */
static int rl_history(af_rl_t *c, const yaml_node_t *n)
{
	yaml_node_t *v[K_HISTORY_N];
	size_t old;
	int rc = 0;

	if(af_yl_map(&c->y, n, history_keys, K_HISTORY_N, v, NULL) < 0)
		return -1;
	if(v[K_TTL]) {
		old = af_yl_push(&c->y, "ttl", 3);
		rc = af_yl_u32(&c->y, v[K_TTL], 1, AF_RULES_YEAR, &c->r->history_ttl_s);
		af_yl_pop(&c->y, old);
	}
	return rc;
}

/*
 * Reads the 'accounts' mapping n into the snapshot, over the defaults set
 * by rl_build(). Returns 0, or -1 with the error set.
 */
static int rl_accounts(af_rl_t *c, const yaml_node_t *n)
{
	af_accounts_cfg_t *a = &c->r->accounts;
	/* where each key goes, its least and greatest value */
	const struct {
		uint32_t *dst;
		uint32_t min, max;
	} f[K_ACCOUNTS_N] = {
		[K_ACC_SOURCE_FAILURES] = {&a->source_failures, 0, 1000000},
		[K_ACC_SOURCE_WINDOW] = {&a->source_window_s, 1, AF_RULES_DAY},
		[K_ACC_BAN_TIME] = {&a->ban_s, 1, AF_RULES_YEAR},
		[K_ACC_ACCOUNT_SOURCES] = {&a->account_sources, 0, 1000000},
		[K_ACC_ACCOUNT_WINDOW] = {&a->account_window_s, 1, AF_RULES_DAY},
		[K_ACC_COOLING] = {&a->cooling_s, 1, AF_RULES_YEAR},
		[K_ACC_KNOWN_TTL] = {&a->known_ttl_s, 1, AF_RULES_YEAR},
		[K_ACC_ALERT_FAILURES] = {&a->alert_failures, 0, 1000000},
		[K_ACC_IDENTITY] = {NULL, 0, 0},
	};
	static const char *const identities[] = {"user@domain", "user"};
	const char *s;
	size_t len;
	yaml_node_t *v[K_ACCOUNTS_N];
	size_t old;
	int i, rc = 0;

	if(af_yl_map(&c->y, n, accounts_keys, K_ACCOUNTS_N, v, NULL) < 0)
		return -1;
	for(i = 0; i < K_ACCOUNTS_N && rc == 0; i++) {
		if(!v[i] || i == K_ACC_IDENTITY)
			continue;
		old = af_yl_push(&c->y, accounts_keys[i], strlen(accounts_keys[i]));
		rc = af_yl_u32(&c->y, v[i], f[i].min, f[i].max, f[i].dst);
		af_yl_pop(&c->y, old);
	}
	if(rc == 0 && v[K_ACC_IDENTITY]) {
		old = af_yl_push(&c->y, "identity", 8);
		if(af_yl_str(&c->y, v[K_ACC_IDENTITY], &s, &len) < 0)
			return -1;
		if(len == strlen(identities[0]) && memcmp(s, identities[0], len) == 0)
			a->user_only = 0;
		else if(len == strlen(identities[1])
				&& memcmp(s, identities[1], len) == 0)
			a->user_only = 1;
		else
			return af_yl_err(&c->y, v[K_ACC_IDENTITY],
					"unknown identity '%.*s' (expected user@domain or user)",
					AF_YL_SHOWN(len), s);
		af_yl_pop(&c->y, old);
	}
	return rc;
}

/*
 * Validates the document of load y and builds the snapshot c->r (c is
 * the rl context around y) in a new arena, one top-level section after
 * the other (lists before the profiles that name them). Returns 0, or -1
 * with the error set.
 */
static int rl_build(af_yl_t *y, void *arg)
{
	af_rl_t *c = arg;
	yaml_node_t *root, *v[K_TOP], *k[K_TOP];
	af_rules_t *r;
	size_t old;
	uint64_t version;
	int i, rc;

	y->arena = af_arena_new(0);
	if(!y->arena) {
		snprintf(y->err, y->errlen, "%s: out of memory", y->file);
		return -1;
	}
	root = yaml_document_get_root_node(y->doc);
	if(!root || af_yl_is_null(root))
		return af_yl_err(&c->y, NULL,
				"no rules in the file (expected 'version: 1',"
				" 'profiles' and more)");
	if(root->type != YAML_MAPPING_NODE)
		return af_yl_err(&c->y, root, "expected a mapping at the top, got %s",
				af_yl_kind(root));
	r = af_arena_alloc(c->y.arena, sizeof(*r));
	if(!r)
		return af_yl_oom(&c->y, root);
	c->r = r;
	r->arena = c->y.arena;
	r->path = af_arena_strndup(c->y.arena, c->y.file, strlen(c->y.file));
	if(!r->path)
		return af_yl_oom(&c->y, root);
	r->loaded_ms = af_now_ms();
	r->scanner.window_s = 60;
	r->scanner.threshold = 5;
	r->scanner.ban_s = 3600;
	r->scanner.weight[AF_R_UNKNOWN_DOMAIN] = 1;
	r->scanner.weight[AF_R_UNKNOWN_USER] = 1;
	r->scanner.weight[AF_R_IP_DENY] = 5;
	r->history_ttl_s = AF_RULES_DAY;
	r->accounts.source_failures = 5;
	r->accounts.source_window_s = 600;
	r->accounts.ban_s = 3600;
	r->accounts.account_sources = 3;
	r->accounts.account_window_s = 600;
	r->accounts.cooling_s = 1800;
	r->accounts.known_ttl_s = 30 * AF_RULES_DAY;
	r->accounts.alert_failures = 3;
	af_rl_analytics_defaults(r);

	if(af_yl_map(&c->y, root, top_keys, K_TOP, v, k) < 0)
		return -1;
	if(!v[K_VERSION])
		return af_yl_err(
				&c->y, root, "missing 'version: %d'", AF_RULES_VERSION);
	if(!v[K_PROFILES])
		return af_yl_err(&c->y, root,
				"missing 'profiles' (a 'default' profile is required)");
	for(i = 0, rc = 0; i < K_TOP && rc == 0; i++) {
		if(!v[i])
			continue;
		old = af_yl_push(&c->y, top_keys[i], strlen(top_keys[i]));
		switch(i) {
			case K_VERSION:
				rc = af_yl_uint(&c->y, v[i], 0, UINT64_MAX, &version);
				if(rc == 0 && version != AF_RULES_VERSION)
					rc = af_yl_err(&c->y, v[i],
							"unsupported version %llu (this module reads %d)",
							(unsigned long long)version, AF_RULES_VERSION);
				break;
			case K_LISTS:
				rc = rl_lists(c, v[i]);
				break;
			case K_GEOIP:
				rc = rl_geoip(c, v[i]);
				break;
			case K_SCANNER:
				rc = rl_scanner(c, v[i]);
				break;
			case K_HISTORY:
				rc = rl_history(c, v[i]);
				break;
			case K_ACCOUNTS:
				rc = rl_accounts(c, v[i]);
				break;
			case K_FINGERPRINT:
				rc = rl_fingerprint(c, v[i]);
				break;
			case K_DEST:
				rc = af_rl_dest(c, v[i]);
				break;
			case K_ANALYTICS:
				rc = af_rl_analytics(c, v[i]);
				break;
			case K_PROFILES:
				rc = rl_profiles(c, k[i], v[i]);
				break;
		}
		af_yl_pop(&c->y, old);
	}
	if(rc == 0)
		rc = af_rl_dest_finish(c, root);
	return rc;
}

/*
 * Reads, validates and builds the rule file at path and every list file
 * it names. Returns the snapshot (its own arena, refs 0), or NULL with
 * "file:line: what is wrong" in err (err may be NULL); nothing is left
 * allocated on failure.
 */
af_rules_t *af_rules_load(const char *path, char *err, size_t errlen)
{
	char local[256];
	const char *slash;
	af_rl_t c;

	if(!err || errlen == 0) {
		err = local;
		errlen = sizeof(local);
	}
	err[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.y.file = path;
	c.y.kind = AF_FILE_RULES;
	c.y.err = err;
	c.y.errlen = errlen;
	slash = strrchr(path, '/');
	c.dirlen = slash ? (size_t)(slash - path) + 1 : 0;

	if(af_yl_load(&c.y, "rules", rl_build, &c) < 0) {
		if(c.r)
			af_rules_free(c.r);
		else
			af_arena_free(c.y.arena);
		return NULL;
	}
	AF_DBG("rules %s: %u lists, %u profiles, %zu bytes\n", path,
			c.r->n_lists, c.r->n_profiles, af_arena_size(c.y.arena));
	return c.r;
}

char *af_rules_summary(const af_rules_t *r, char *out, size_t outlen)
{
	uint64_t prefixes = 0;
	uint32_t i;

	for(i = 0; i < r->n_lists; i++)
		prefixes += af_trie_count(r->lists[i].trie);
	snprintf(out, outlen,
			"%u lists (%llu prefixes), %u profiles, %u signatures, number"
			" plan %s (%u overlays), %u calendars, GeoIP %s",
			r->n_lists, (unsigned long long)prefixes, r->n_profiles,
			af_sig_count(r->signatures), r->dest.plan ? "yes" : "no",
			r->dest.n_overlays, r->dest.n_calendars,
			r->geo_country_db || r->geo_asn_db ? "yes" : "no");
	return out;
}

/* Frees snapshot r and everything in it; r may be NULL. */
void af_rules_free(af_rules_t *r)
{
	uint32_t i;

	if(!r)
		return;
	for(i = 0; i < r->n_lists; i++)
		af_feed_free(r->lists[i].feed);
	af_arena_free(r->arena);
}

