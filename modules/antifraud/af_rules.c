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

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcre2.h>
#include <yaml.h>
#include "af_host.h"
#include "af_geo.h"
#include "af_rules.h"
#include "af_sig.h"

#define AF_RULES_VERSION 1
#define AF_RULES_DAY 86400u
#define AF_RULES_YEAR (365u * AF_RULES_DAY)
#define AF_RULES_WEIGHT_MAX 1000000u
#define AF_RULES_NAME_MAX 64   /* list and profile names */
#define AF_RULES_HOST_MAX 253  /* domain names */
#define AF_RULES_SHOW 80       /* bytes of a value quoted in a message */

/* per match: backtracking steps, and KiB of backtracking frames */
#define AF_RE_MATCH_LIMIT 100000
#define AF_RE_HEAP_LIMIT 4096

static const char *const af_check_names[AF_C__COUNT] = {
	[AF_C_DOMAIN] = "domain",
	[AF_C_USER] = "user",
	[AF_C_IPLIST] = "iplist",
	[AF_C_GEO] = "geo",
	[AF_C_SDP] = "sdp",
	[AF_C_HOPPING] = "hopping",
	[AF_C_BAN] = "ban",
	[AF_C_FINGERPRINT] = "fingerprint",
};

/* the default mode of each check */
static const af_mode_t af_check_default_mode[AF_C__COUNT] = {
	[AF_C_DOMAIN] = AF_MODE_ENFORCE,
	[AF_C_USER] = AF_MODE_ENFORCE,
	[AF_C_IPLIST] = AF_MODE_ENFORCE,
	[AF_C_GEO] = AF_MODE_ENFORCE,
	[AF_C_SDP] = AF_MODE_MONITOR,
	[AF_C_HOPPING] = AF_MODE_MONITOR,
	[AF_C_BAN] = AF_MODE_ENFORCE,
	[AF_C_FINGERPRINT] = AF_MODE_ENFORCE,
};

static const char *const af_continents[] = {
		"AF", "AN", "AS", "EU", "NA", "OC", "SA"};

/* the keys of each mapping of the file */
enum {
	K_VERSION,
	K_LISTS,
	K_GEOIP,
	K_SCANNER,
	K_HISTORY,
	K_FINGERPRINT,
	K_PROFILES,
	K_TOP
};
static const char *const top_keys[K_TOP] = {"version", "lists", "geoip",
		"scanner", "history", "fingerprint", "profiles"};

enum { K_SIGNATURES, K_FINGERPRINT_N };
static const char *const fingerprint_keys[K_FINGERPRINT_N] = {"signatures"};

enum { K_ENTRIES, K_FILE, K_LIST };
static const char *const list_keys[K_LIST] = {"entries", "file"};

enum { K_COUNTRY_DB, K_ASN_DB, K_REQUIRED, K_GEOIP_N };
static const char *const geoip_keys[K_GEOIP_N] = {
		"country_db", "asn_db", "required"};

enum { K_WINDOW, K_THRESHOLD, K_BAN_TIME, K_WEIGHTS, K_SCANNER_N };
static const char *const scanner_keys[K_SCANNER_N] = {
		"window", "threshold", "ban_time", "weights"};

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
	K_PROFILE_N
};
static const char *const profile_keys[K_PROFILE_N] = {"domains", "users",
		"user_patterns", "trusted", "routable", "allow", "deny", "geo",
		"hopping", "exempt_callers", "exempt_sources", "mode"};

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

/* what a load carries from node to node */
typedef struct af_rl {
	const char *file;          /* the rule file, as named by the caller */
	size_t dirlen;             /* length of its folder part, '/' included */
	yaml_document_t *doc;
	af_arena_t *arena;
	af_rules_t *r;
	pcre2_compile_context *cctx; /* in the arena; NULL until needed */
	char *err;
	size_t errlen;
	char path[256]; /* key path of the node being read, for messages */
	size_t plen;
} af_rl_t;

/* per process: what af_regex_match needs, made once (plain malloc) */
static __thread pcre2_match_data *af_re_md;
static __thread pcre2_match_context *af_re_mctx;
static __thread int af_re_warned;

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
 * Writes "file:line: key.path: message" into the load's err, the line
 * being that of node n (the first line when n is NULL). Returns -1, so
 * that callers can return its result.
 */
static int rl_err(af_rl_t *c, const yaml_node_t *n, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

static int rl_err(af_rl_t *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	size_t len;
	int k;

	k = snprintf(c->err, c->errlen, "%s:%lu: ", c->file,
			n ? (unsigned long)n->start_mark.line + 1 : 1UL);
	len = k > 0 ? (size_t)k : 0;
	if(c->plen && len < c->errlen) {
		k = snprintf(c->err + len, c->errlen - len, "%s: ", c->path);
		len += k > 0 ? (size_t)k : 0;
	}
	if(len < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + len, c->errlen - len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Reports that memory ran out while reading node n; returns -1. */
static int rl_oom(af_rl_t *c, const yaml_node_t *n)
{
	return rl_err(c, n, "out of memory");
}

/*
 * Appends key[0..len) to the key path shown in messages and returns the
 * previous length of the path, for rl_pop().
 */
static size_t rl_push(af_rl_t *c, const char *key, size_t len)
{
	size_t old = c->plen;
	size_t room = sizeof(c->path) - 1 - c->plen;

	if(old && room) {
		c->path[c->plen++] = '.';
		room--;
	}
	if(len > room)
		len = room;
	memcpy(c->path + c->plen, key, len);
	c->plen += len;
	c->path[c->plen] = '\0';
	return old;
}

/* Cuts the key path back to the length rl_push() returned. */
static void rl_pop(af_rl_t *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

/* Returns the node at index idx of the document (NULL when none). */
static yaml_node_t *rl_node(af_rl_t *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

/* The text of a scalar node, and how much of it a message quotes. */
#define RL_TEXT(n) ((const char *)(n)->data.scalar.value)
#define RL_LEN(n) ((n)->data.scalar.length)
#define RL_SHOW(len) ((len) > AF_RULES_SHOW ? AF_RULES_SHOW : (int)(len))

/*
 * Returns 1 when n is missing or a null: a plain scalar that is empty,
 * "~" or "null" (as an empty value "key:" reads).
 */
static int rl_is_null(const yaml_node_t *n)
{
	const char *s;

	if(!n)
		return 1;
	if(n->type != YAML_SCALAR_NODE
			|| n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = RL_TEXT(n);
	return RL_LEN(n) == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0
		   || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* Names the kind of node n for messages ("a mapping", ...). */
static const char *rl_kind(const yaml_node_t *n)
{
	if(rl_is_null(n))
		return "nothing";
	switch(n->type) {
		case YAML_SCALAR_NODE:
			return "a scalar";
		case YAML_SEQUENCE_NODE:
			return "a sequence";
		case YAML_MAPPING_NODE:
			return "a mapping";
		default:
			return "nothing";
	}
}

/*
 * Checks that n is a non-null scalar without NUL bytes and gives its
 * text in *s and *len. Returns 0, or -1 with the error set.
 */
static int rl_str(af_rl_t *c, const yaml_node_t *n, const char **s,
		size_t *len)
{
	if(n->type != YAML_SCALAR_NODE || rl_is_null(n))
		return rl_err(c, n, "expected a string, got %s", rl_kind(n));
	if(memchr(RL_TEXT(n), '\0', RL_LEN(n)))
		return rl_err(c, n, "the value holds a NUL byte");
	*s = RL_TEXT(n);
	*len = RL_LEN(n);
	return 0;
}

/*
 * Reads the decimal digits s[0..len) into *v. Returns 0, -1 when s is not
 * a plain decimal number, -2 when it does not fit 64 bits.
 */
static int rl_digits(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;
	unsigned d;

	if(len == 0)
		return -1;
	for(i = 0; i < len; i++) {
		if(s[i] < '0' || s[i] > '9')
			return -1;
	}
	for(i = 0; i < len; i++) {
		d = (unsigned)(s[i] - '0');
		if(x > (UINT64_MAX - d) / 10)
			return -2;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/*
 * Reads scalar n as a decimal integer in min..max into *v. Returns 0, or
 * -1 with the error set.
 */
static int rl_uint(af_rl_t *c, const yaml_node_t *n, uint64_t min,
		uint64_t max, uint64_t *v)
{
	int rc;

	if(n->type != YAML_SCALAR_NODE || rl_is_null(n))
		return rl_err(c, n, "expected an integer, got %s", rl_kind(n));
	rc = rl_digits(RL_TEXT(n), RL_LEN(n), v);
	if(rc == -1)
		return rl_err(c, n, "expected an integer, got '%.*s'",
				RL_SHOW(RL_LEN(n)), RL_TEXT(n));
	if(rc < 0 || *v < min || *v > max)
		return rl_err(c, n, "%.*s is out of range (%llu..%llu)",
				RL_SHOW(RL_LEN(n)), RL_TEXT(n), (unsigned long long)min,
				(unsigned long long)max);
	return 0;
}

/* rl_uint() for a 32-bit field. */
static int rl_u32(af_rl_t *c, const yaml_node_t *n, uint32_t min,
		uint32_t max, uint32_t *v)
{
	uint64_t x;

	if(rl_uint(c, n, min, max, &x) < 0)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/*
 * Reads scalar n as a boolean (true/True/TRUE or false/False/FALSE) into
 * *v. Returns 0, or -1 with the error set.
 */
static int rl_bool(af_rl_t *c, const yaml_node_t *n, int *v)
{
	const char *s;

	if(n->type != YAML_SCALAR_NODE || rl_is_null(n))
		return rl_err(c, n, "expected true or false, got %s", rl_kind(n));
	s = RL_TEXT(n);
	if(!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		*v = 1;
		return 0;
	}
	if(!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		*v = 0;
		return 0;
	}
	return rl_err(c, n, "expected true or false, got '%.*s'",
			RL_SHOW(RL_LEN(n)), s);
}

/*
 * Checks that n is a sequence, or a null (an empty one). Stores the
 * number of items in *count. Returns 0, or -1 with the error set.
 */
static int rl_seq(af_rl_t *c, const yaml_node_t *n, size_t *count)
{
	*count = 0;
	if(rl_is_null(n))
		return 0;
	if(n->type != YAML_SEQUENCE_NODE)
		return rl_err(c, n, "expected a sequence, got %s", rl_kind(n));
	*count = (size_t)(n->data.sequence.items.top
					  - n->data.sequence.items.start);
	return 0;
}

/* Returns item i of sequence n (rl_seq() has checked n). */
static yaml_node_t *rl_item(af_rl_t *c, const yaml_node_t *n, size_t i)
{
	return rl_node(c, n->data.sequence.items.start[i]);
}

/*
 * Checks that n is a mapping with string keys, each at most once, or a
 * null (an empty one); the keys are names the file chooses (lists,
 * profiles, reasons). Stores the number of pairs in *count. Returns 0, or
 * -1 with the error set.
 */
static int rl_names(af_rl_t *c, const yaml_node_t *n, size_t *count)
{
	yaml_node_pair_t *p, *q;
	yaml_node_t *k, *k2;
	const char *s;
	size_t len;

	*count = 0;
	if(rl_is_null(n))
		return 0;
	if(n->type != YAML_MAPPING_NODE)
		return rl_err(c, n, "expected a mapping, got %s", rl_kind(n));
	for(p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
			p++) {
		k = rl_node(c, p->key);
		if(rl_str(c, k, &s, &len) < 0)
			return -1;
		for(q = n->data.mapping.pairs.start; q < p; q++) {
			k2 = rl_node(c, q->key);
			if(RL_LEN(k2) == len && memcmp(RL_TEXT(k2), s, len) == 0)
				return rl_err(c, k, "duplicate key '%.*s'", RL_SHOW(len), s);
		}
	}
	*count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	return 0;
}

/* Gives pair i of mapping n (rl_names() or rl_map() has checked n). */
static void rl_pair(af_rl_t *c, const yaml_node_t *n, size_t i,
		yaml_node_t **k, yaml_node_t **v)
{
	*k = rl_node(c, n->data.mapping.pairs.start[i].key);
	*v = rl_node(c, n->data.mapping.pairs.start[i].value);
}

/*
 * Checks that n is a mapping (or a null: an empty one) whose keys are
 * among names[0..count), each at most once. Stores the value of each
 * key in vals[i] and, when keys is not NULL, the key node in keys[i]
 * (NULL when absent). Returns 0, or -1 with the error set.
 */
static int rl_map(af_rl_t *c, const yaml_node_t *n, const char *const *names,
		int count, yaml_node_t **vals, yaml_node_t **keys)
{
	yaml_node_pair_t *p;
	yaml_node_t *k;
	const char *s;
	char hint[256];
	size_t len, used;
	int i;

	for(i = 0; i < count; i++) {
		vals[i] = NULL;
		if(keys)
			keys[i] = NULL;
	}
	if(rl_is_null(n))
		return 0;
	if(n->type != YAML_MAPPING_NODE)
		return rl_err(c, n, "expected a mapping, got %s", rl_kind(n));
	for(p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
			p++) {
		k = rl_node(c, p->key);
		if(rl_str(c, k, &s, &len) < 0)
			return -1;
		for(i = 0; i < count; i++) {
			if(strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
				break;
		}
		if(i == count) {
			used = 0;
			hint[0] = '\0';
			for(i = 0; i < count && used < sizeof(hint); i++)
				used += (size_t)snprintf(hint + used, sizeof(hint) - used,
						"%s%s", i ? ", " : "", names[i]);
			return rl_err(c, k, "unknown key '%.*s' (expected %s)",
					RL_SHOW(len), s, hint);
		}
		if(vals[i])
			return rl_err(c, k, "duplicate key '%s'", names[i]);
		vals[i] = rl_node(c, p->value);
		if(keys)
			keys[i] = k;
	}
	return 0;
}

/*
 * Checks name node n of a list or a profile (what says which): 1 to 64
 * letters, digits, '_', '-' or '.'. Gives its text in *s and *len.
 * Returns 0, or -1 with the error set.
 */
static int rl_name(af_rl_t *c, const yaml_node_t *n, const char *what,
		const char **s, size_t *len)
{
	size_t i;
	char ch;

	if(rl_str(c, n, s, len) < 0)
		return -1;
	if(*len == 0 || *len > AF_RULES_NAME_MAX)
		goto bad;
	for(i = 0; i < *len; i++) {
		ch = (*s)[i];
		if(!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
				   || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'
				   || ch == '.'))
			goto bad;
	}
	return 0;

bad:
	return rl_err(c, n,
			"'%.*s' is not a valid %s name (1 to %d letters, digits, '_', "
			"'-' or '.')",
			RL_SHOW(*len), *s, what, AF_RULES_NAME_MAX);
}

/*
 * Copies path s[0..len) into the arena, relative to the rule file's
 * folder unless it is absolute. Returns the copy, or NULL when out of
 * memory.
 */
static char *rl_resolve(af_rl_t *c, const char *s, size_t len)
{
	char *p;

	if(s[0] == '/' || c->dirlen == 0)
		return af_arena_strndup(c->arena, s, len);
	p = af_arena_alloc(c->arena, c->dirlen + len + 1);
	if(!p)
		return NULL;
	memcpy(p, c->file, c->dirlen);
	memcpy(p + c->dirlen, s, len);
	p[c->dirlen + len] = '\0';
	return p;
}

/*
 * Reads path node n (a file the rules name) into *out, resolved with
 * rl_resolve(). Returns 0, or -1 with the error set.
 */
static int rl_path(af_rl_t *c, const yaml_node_t *n, const char **out)
{
	const char *s;
	size_t len;

	if(rl_str(c, n, &s, &len) < 0)
		return -1;
	if(len == 0)
		return rl_err(c, n, "empty file name");
	*out = rl_resolve(c, s, len);
	return *out ? 0 : rl_oom(c, n);
}

/* PCRE2 allocator over the arena in data: code lives in shared memory */
static void *rl_re_alloc(size_t size, void *data)
{
	return af_arena_alloc(data, size);
}

/* PCRE2 free over the arena: nothing, the arena goes as a whole */
static void rl_re_free(void *p, void *data)
{
}

/*
 * Compiles pattern node n into re, the code in the snapshot's arena (as
 * is whatever PCRE2 takes while compiling). '$' matches only at the very
 * end. Returns 0, or -1 with the error set (PCRE2's message and offset).
 */
static int rl_regex(af_rl_t *c, const yaml_node_t *n, af_regex_t *re)
{
	pcre2_general_context *gctx;
	pcre2_code *code;
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	const char *s;
	size_t len;
	int ec;

	if(rl_str(c, n, &s, &len) < 0)
		return -1;
	if(len == 0)
		return rl_err(c, n, "empty regular expression");
	if(!c->cctx) {
		gctx = pcre2_general_context_create(rl_re_alloc, rl_re_free, c->arena);
		if(gctx)
			c->cctx = pcre2_compile_context_create(gctx);
		if(!c->cctx)
			return rl_oom(c, n);
	}
	code = pcre2_compile((PCRE2_SPTR)s, len, PCRE2_DOLLAR_ENDONLY, &ec, &off,
			c->cctx);
	if(!code) {
		if(pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", ec);
		return rl_err(c, n, "bad regular expression '%.*s': %s at offset %zu",
				RL_SHOW(len), s, (const char *)msg, (size_t)off);
	}
	re->code = code;
	re->src = af_arena_strndup(c->arena, s, len);
	return re->src ? 0 : rl_oom(c, n);
}

/*
 * Reads a sequence of strings (users, callers) from node n into a new
 * set *out, byte for byte. Returns 0, or -1 with the error set.
 */
static int rl_strset(af_rl_t *c, const yaml_node_t *n, const char *what,
		int lower_host, af_strset_t **out)
{
	yaml_node_t *it;
	const char *s;
	size_t i, count, len;

	if(rl_seq(c, n, &count) < 0)
		return -1;
	*out = af_strset_new(c->arena, count);
	if(!*out)
		return rl_oom(c, n);
	for(i = 0; i < count; i++) {
		it = rl_item(c, n, i);
		if(rl_str(c, it, &s, &len) < 0)
			return -1;
		if(len == 0)
			return rl_err(c, it, "empty %s", what);
		if(lower_host && memchr(s, '@', len)) {
			/* user@host: hosts compare case-insensitively */
			char buf[AF_RULES_HOST_MAX * 2 + 2];
			const char *at = memchr(s, '@', len);
			size_t j;
			if(len >= sizeof(buf))
				return rl_err(c, it, "%s too long", what);
			memcpy(buf, s, len);
			for(j = (size_t)(at - s); j < len; j++)
				if(buf[j] >= 'A' && buf[j] <= 'Z')
					buf[j] = (char)(buf[j] + 32);
			if(af_strset_add(*out, buf, len) < 0)
				return rl_oom(c, it);
		} else if(af_strset_add(*out, s, len) < 0) {
			return rl_oom(c, it);
		}
	}
	return 0;
}

/*
 * Reads the domains of node n into a new set *out: IP literals (bracketed
 * IPv6 too) in their canonical text form, names in lower case. Names may
 * hold letters, digits, '-', '_' and '.', and are not all digits and dots
 * (that is an IPv4 address af_ip_parse() refuses, such as "127.000.0.1",
 * which could never match). Returns 0, or -1 with the error set.
 */
static int rl_domains(af_rl_t *c, const yaml_node_t *n, af_strset_t **out)
{
	char buf[AF_RULES_HOST_MAX + 1];
	yaml_node_t *it;
	const char *s;
	size_t i, j, count, len;
	af_ip_t ip;
	int k;
	char ch;

	if(rl_seq(c, n, &count) < 0)
		return -1;
	*out = af_strset_new(c->arena, count);
	if(!*out)
		return rl_oom(c, n);
	for(i = 0; i < count; i++) {
		it = rl_item(c, n, i);
		if(rl_str(c, it, &s, &len) < 0)
			return -1;
		if(af_ip_parse(s, len, &ip) == 0) {
			k = af_ip_format(&ip, buf, sizeof(buf));
			if(k < 0)
				return rl_err(c, it, "cannot format address '%.*s'",
						RL_SHOW(len), s);
			len = (size_t)k;
		} else {
			if(len == 0 || len > AF_RULES_HOST_MAX)
				goto bad;
			if(strspn(s, "0123456789.") == len)
				return rl_err(c, it,
						"'%.*s' is not a valid IPv4 address (four decimal "
						"numbers 0..255, no leading zeros)",
						RL_SHOW(len), s);
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
		if(af_strset_add(*out, buf, len) < 0)
			return rl_oom(c, it);
		continue;
	bad:
		return rl_err(c, it, "'%.*s' is not a host name or IP address",
				RL_SHOW(len), s);
	}
	return 0;
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
 * to those lists (*out, *nout). Returns 0, or -1 with the error set (a
 * name that no list has included).
 */
static int rl_listrefs(af_rl_t *c, const yaml_node_t *n,
		const af_iplist_t ***out, uint32_t *nout)
{
	const af_iplist_t *l;
	yaml_node_t *it;
	const char *s;
	size_t i, count, len;

	*out = NULL;
	*nout = 0;
	if(rl_seq(c, n, &count) < 0)
		return -1;
	if(count == 0)
		return 0;
	*out = af_arena_alloc(c->arena, count * sizeof(**out));
	if(!*out)
		return rl_oom(c, n);
	for(i = 0; i < count; i++) {
		it = rl_item(c, n, i);
		if(rl_str(c, it, &s, &len) < 0)
			return -1;
		l = rl_find_list(c, s, len);
		if(!l)
			return rl_err(c, it, "unknown list '%.*s' (not under 'lists')",
					RL_SHOW(len), s);
		(*out)[i] = l;
	}
	*nout = (uint32_t)count;
	return 0;
}

/* qsort order of packed codes */
static int rl_cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

/* qsort order of ASNs */
static int rl_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * Reads a sequence of two-letter codes from node n (continents when
 * continent is set, else countries; lower case is accepted) into a sorted
 * array of packed codes without duplicates (*out, *nout). Returns 0, or
 * -1 with the error set.
 */
static int rl_codes(af_rl_t *c, const yaml_node_t *n, int continent,
		uint16_t **out, uint32_t *nout)
{
	yaml_node_t *it;
	const char *s;
	size_t i, j, count, len, k;
	char cc[3];
	uint16_t *v;

	*out = NULL;
	*nout = 0;
	if(rl_seq(c, n, &count) < 0)
		return -1;
	if(count == 0)
		return 0;
	v = af_arena_alloc(c->arena, count * sizeof(*v));
	if(!v)
		return rl_oom(c, n);
	for(i = 0; i < count; i++) {
		it = rl_item(c, n, i);
		if(rl_str(c, it, &s, &len) < 0)
			return -1;
		for(j = 0; j < 2 && j < len; j++) {
			cc[j] = s[j];
			if(cc[j] >= 'a' && cc[j] <= 'z')
				cc[j] = (char)(cc[j] - 'a' + 'A');
			if(cc[j] < 'A' || cc[j] > 'Z')
				break;
		}
		cc[2] = '\0';
		if(len != 2 || j != 2)
			goto bad;
		if(continent) {
			for(k = 0; k < sizeof(af_continents) / sizeof(af_continents[0]);
					k++) {
				if(strcmp(af_continents[k], cc) == 0)
					break;
			}
			if(k == sizeof(af_continents) / sizeof(af_continents[0]))
				goto bad;
		}
		v[i] = af_cc_pack(cc);
		continue;
	bad:
		if(continent)
			return rl_err(c, it,
					"'%.*s' is not a continent code (AF, AN, AS, EU, NA, "
					"OC, SA)",
					RL_SHOW(len), s);
		return rl_err(c, it, "'%.*s' is not a two-letter country code",
				RL_SHOW(len), s);
	}
	qsort(v, count, sizeof(*v), rl_cmp_u16);
	for(i = 1, j = 1; i < count; i++) {
		if(v[i] != v[j - 1])
			v[j++] = v[i];
	}
	*out = v;
	*nout = (uint32_t)j;
	return 0;
}

/*
 * Reads a sequence of AS numbers (1..4294967295, optionally written
 * "AS64500") from node n into a sorted array without duplicates (*out,
 * *nout). Returns 0, or -1 with the error set.
 */
static int rl_asns(af_rl_t *c, const yaml_node_t *n, uint32_t **out,
		uint32_t *nout)
{
	yaml_node_t *it;
	const char *s;
	size_t i, j, count, len;
	uint64_t x;
	uint32_t *v;
	int rc;

	*out = NULL;
	*nout = 0;
	if(rl_seq(c, n, &count) < 0)
		return -1;
	if(count == 0)
		return 0;
	v = af_arena_alloc(c->arena, count * sizeof(*v));
	if(!v)
		return rl_oom(c, n);
	for(i = 0; i < count; i++) {
		it = rl_item(c, n, i);
		if(rl_str(c, it, &s, &len) < 0)
			return -1;
		j = (len > 2 && (s[0] == 'A' || s[0] == 'a')
					&& (s[1] == 'S' || s[1] == 's'))
					? 2
					: 0;
		rc = rl_digits(s + j, len - j, &x);
		if(rc < 0 || x == 0 || x > UINT32_MAX)
			return rl_err(c, it,
					"'%.*s' is not an AS number (1..4294967295)",
					RL_SHOW(len), s);
		v[i] = (uint32_t)x;
	}
	qsort(v, count, sizeof(*v), rl_cmp_u32);
	for(i = 1, j = 1; i < count; i++) {
		if(v[i] != v[j - 1])
			v[j++] = v[i];
	}
	*out = v;
	*nout = (uint32_t)j;
	return 0;
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

	if(rl_map(c, n, geo_keys, K_GEO_N, v, NULL) < 0)
		return -1;
	for(i = 0; i < K_GEO_N && rc == 0; i++) {
		if(!v[i])
			continue;
		old = rl_push(c, geo_keys[i], strlen(geo_keys[i]));
		switch(i) {
			case K_ALLOW_CC:
				rc = rl_codes(c, v[i], 0, &g->allow_cc, &g->n_allow_cc);
				break;
			case K_DENY_CC:
				rc = rl_codes(c, v[i], 0, &g->deny_cc, &g->n_deny_cc);
				break;
			case K_ALLOW_CONT:
				rc = rl_codes(c, v[i], 1, &g->allow_cont, &g->n_allow_cont);
				break;
			case K_DENY_CONT:
				rc = rl_codes(c, v[i], 1, &g->deny_cont, &g->n_deny_cont);
				break;
			case K_DENY_ASN:
				rc = rl_asns(c, v[i], &g->deny_asn, &g->n_deny_asn);
				break;
			case K_UNKNOWN:
				rc = rl_str(c, v[i], &s, &len);
				if(rc == 0 && len == 5 && memcmp(s, "allow", 5) == 0)
					g->unknown_is_bad = 0;
				else if(rc == 0 && len == 4 && memcmp(s, "deny", 4) == 0)
					g->unknown_is_bad = 1;
				else if(rc == 0)
					rc = rl_err(c, v[i], "expected allow or deny, got '%.*s'",
							RL_SHOW(len), s);
				break;
		}
		rl_pop(c, old);
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

	if(rl_map(c, n, hopping_keys, K_HOP_N, v, NULL) < 0)
		return -1;
	if(v[K_HOP_IDENTITY]) {
		const char *s;
		size_t len;
		if(rl_str(c, v[K_HOP_IDENTITY], &s, &len) < 0)
			return -1;
		if(len == 11 && memcmp(s, "credentials", 11) == 0)
			p->hop_identity_from = 0;
		else if(len == 4 && memcmp(s, "from", 4) == 0)
			p->hop_identity_from = 1;
		else
			return rl_err(c, v[K_HOP_IDENTITY],
					"identity must be credentials or from, got '%.*s'",
					RL_SHOW(len), s);
	}
	for(i = 0; i < K_HOP_IDENTITY && rc == 0; i++) {
		if(!v[i])
			continue;
		dst = i == K_HOP_COUNTRY ? &p->country_hop_s : &p->continent_hop_s;
		old = rl_push(c, hopping_keys[i], strlen(hopping_keys[i]));
		rc = rl_u32(c, v[i], 0, AF_RULES_YEAR, dst);
		if(rc == 0 && *dst > c->r->history_ttl_s)
			rc = rl_err(c, v[i], "%u is longer than history.ttl (%u)", *dst,
					c->r->history_ttl_s);
		rl_pop(c, old);
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

	if(rl_map(c, n, af_check_names, AF_C__COUNT, v, NULL) < 0)
		return -1;
	for(i = 0; i < AF_C__COUNT; i++) {
		if(!v[i])
			continue;
		old = rl_push(c, af_check_names[i], strlen(af_check_names[i]));
		if(rl_str(c, v[i], &s, &len) < 0)
			return -1;
		m = af_mode_parse(s);
		if(m < 0)
			return rl_err(c, v[i],
					"unknown mode '%.*s' (expected off, monitor or enforce)",
					RL_SHOW(len), s);
		p->mode[i] = (af_mode_t)m;
		rl_pop(c, old);
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
	if(rl_map(c, n, profile_keys, K_PROFILE_N, v, NULL) < 0)
		return -1;
	for(k = 0; k < K_PROFILE_N && rc == 0; k++) {
		old = rl_push(c, profile_keys[k], strlen(profile_keys[k]));
		switch(k) {
			case K_DOMAINS:
				rc = rl_domains(c, v[k], &p->domains);
				break;
			case K_USERS:
				rc = rl_strset(c, v[k], "user", 0, &p->users);
				break;
			case K_EXEMPT_CALLERS:
				rc = rl_strset(c, v[k], "caller", 1, &p->exempt_callers);
				break;
			case K_USER_PATTERNS:
				rc = rl_seq(c, v[k], &count);
				if(rc < 0 || count == 0)
					break;
				p->user_re = af_arena_alloc(c->arena, count * sizeof(*p->user_re));
				if(!p->user_re) {
					rc = rl_oom(c, v[k]);
					break;
				}
				for(i = 0; i < count && rc == 0; i++)
					rc = rl_regex(c, rl_item(c, v[k], i), &p->user_re[i]);
				p->n_user_re = (uint32_t)count;
				break;
			case K_ROUTABLE:
				if(rl_is_null(v[k]))
					break;
				p->routable = af_arena_alloc(c->arena, sizeof(*p->routable));
				if(!p->routable)
					rc = rl_oom(c, v[k]);
				else
					rc = rl_regex(c, v[k], p->routable);
				break;
			case K_TRUSTED:
				rc = rl_listrefs(c, v[k], &p->trusted, &p->n_trusted);
				break;
			case K_ALLOW:
				rc = rl_listrefs(c, v[k], &p->allow, &p->n_allow);
				break;
			case K_DENY:
				rc = rl_listrefs(c, v[k], &p->deny, &p->n_deny);
				break;
			case K_EXEMPT_SOURCES:
				rc = rl_listrefs(
						c, v[k], &p->exempt_sources, &p->n_exempt_sources);
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
		}
		rl_pop(c, old);
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

	if(rl_names(c, n, &count) < 0)
		return -1;
	if(count) {
		r->profiles = af_arena_alloc(c->arena, count * sizeof(*r->profiles));
		if(!r->profiles)
			return rl_oom(c, n);
	}
	for(i = 0; i < count; i++) {
		rl_pair(c, n, i, &k, &v);
		if(rl_name(c, k, "profile", &s, &len) < 0)
			return -1;
		p = &r->profiles[i];
		p->name = af_arena_strndup(c->arena, s, len);
		if(!p->name)
			return rl_oom(c, k);
		r->n_profiles++;
		old = rl_push(c, s, len);
		if(rl_profile(c, v, p) < 0)
			return -1;
		rl_pop(c, old);
		if(strcmp(p->name, "default") == 0)
			r->default_profile = p;
	}
	if(!r->default_profile)
		return rl_err(c, key, "no 'default' profile (it is required)");
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
	const char *s, *why;
	size_t i, j, count, len, old, old2, nent;
	af_ip_t net;
	int plen;

	if(rl_names(c, n, &count) < 0)
		return -1;
	if(count == 0)
		return 0;
	r->lists = af_arena_alloc(c->arena, count * sizeof(*r->lists));
	if(!r->lists)
		return rl_oom(c, n);
	for(i = 0; i < count; i++) {
		rl_pair(c, n, i, &k, &v);
		if(rl_name(c, k, "list", &s, &len) < 0)
			return -1;
		l = &r->lists[i];
		l->name = af_arena_strndup(c->arena, s, len);
		l->trie = af_trie_new(c->arena);
		if(!l->name || !l->trie)
			return rl_oom(c, k);
		r->n_lists++;
		old = rl_push(c, s, len);
		if(rl_map(c, v, list_keys, K_LIST, lv, NULL) < 0)
			return -1;
		old2 = rl_push(c, "entries", 7);
		if(rl_seq(c, lv[K_ENTRIES], &nent) < 0)
			return -1;
		for(j = 0; j < nent; j++) {
			it = rl_item(c, lv[K_ENTRIES], j);
			if(rl_str(c, it, &s, &len) < 0)
				return -1;
			if(af_cidr_parse(s, len, &net, &plen, &why) < 0)
				return rl_err(c, it, "'%.*s' is not an address or CIDR: %s",
						RL_SHOW(len), s, why);
			if(af_trie_add(l->trie, &net, plen, 1) < 0)
				return rl_oom(c, it);
		}
		rl_pop(c, old2);
		if(!rl_is_null(lv[K_FILE])) {
			rl_push(c, "file", 4);
			if(rl_path(c, lv[K_FILE], &l->file) < 0)
				return -1;
			if(af_trie_load_file(l->trie, l->file, 1, c->err, c->errlen) < 0)
				return -1;
		}
		rl_pop(c, old);
	}
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

	if(rl_map(c, n, geoip_keys, K_GEOIP_N, v, NULL) < 0)
		return -1;
	if(!rl_is_null(v[K_COUNTRY_DB])) {
		old = rl_push(c, "country_db", 10);
		rc = rl_path(c, v[K_COUNTRY_DB], &r->geo_country_db);
		rl_pop(c, old);
	}
	if(rc == 0 && !rl_is_null(v[K_ASN_DB])) {
		old = rl_push(c, "asn_db", 6);
		rc = rl_path(c, v[K_ASN_DB], &r->geo_asn_db);
		rl_pop(c, old);
	}
	r->geo_required = r->geo_country_db || r->geo_asn_db;
	if(rc == 0 && v[K_REQUIRED]) {
		old = rl_push(c, "required", 8);
		rc = rl_bool(c, v[K_REQUIRED], &r->geo_required);
		rl_pop(c, old);
	}
	return rc;
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

	if(rl_map(c, n, fingerprint_keys, K_FINGERPRINT_N, v, NULL) < 0)
		return -1;
	if(rl_is_null(v[K_SIGNATURES]))
		return 0;
	old = rl_push(c, "signatures", 10);
	rc = rl_path(c, v[K_SIGNATURES], &c->r->signatures_path);
	rl_pop(c, old);
	if(rc < 0)
		return -1;
	c->r->signatures = af_sig_load(
			c->arena, c->r->signatures_path, c->err, c->errlen);
	return c->r->signatures ? 0 : -1;
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

	if(rl_map(c, n, scanner_keys, K_SCANNER_N, v, NULL) < 0)
		return -1;
	if(v[K_WINDOW]) {
		old = rl_push(c, "window", 6);
		rc = rl_u32(c, v[K_WINDOW], 1, AF_RULES_DAY, &sc->window_s);
		rl_pop(c, old);
	}
	if(rc == 0 && v[K_THRESHOLD]) {
		old = rl_push(c, "threshold", 9);
		rc = rl_u32(c, v[K_THRESHOLD], 0, AF_RULES_WEIGHT_MAX, &sc->threshold);
		rl_pop(c, old);
	}
	if(rc == 0 && v[K_BAN_TIME]) {
		old = rl_push(c, "ban_time", 8);
		rc = rl_u32(c, v[K_BAN_TIME], 1, AF_RULES_YEAR, &sc->ban_s);
		rl_pop(c, old);
	}
	if(rc < 0 || !v[K_WEIGHTS])
		return rc;
	old = rl_push(c, "weights", 7);
	if(rl_names(c, v[K_WEIGHTS], &count) < 0)
		return -1;
	memset(sc->weight, 0, sizeof(sc->weight));
	for(i = 0; i < count; i++) {
		rl_pair(c, v[K_WEIGHTS], i, &k, &w);
		if(rl_str(c, k, &s, &len) < 0)
			return -1;
		reason = af_reason_parse(s, len);
		if(reason < 0)
			return rl_err(c, k, "unknown reason '%.*s'", RL_SHOW(len), s);
		if(reason == AF_R_BANNED || reason == AF_R_SCANNER
				|| reason == AF_R_COUNTRY_HOP || reason == AF_R_CONTINENT_HOP)
			return rl_err(c, k,
					"'%.*s' cannot weigh: a score counts what a request"
					" itself shows (addressing, lists, GeoIP, SDP)",
					RL_SHOW(len), s);
		if(reason == AF_R_SIGNATURE)
			return rl_err(c, k,
					"'signature' cannot weigh here: each signature has its"
					" own score in the signature file");
		old2 = rl_push(c, s, len);
		if(rl_u32(c, w, 0, AF_RULES_WEIGHT_MAX, &sc->weight[reason]) < 0)
			return -1;
		rl_pop(c, old2);
	}
	rl_pop(c, old);
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

	if(rl_map(c, n, history_keys, K_HISTORY_N, v, NULL) < 0)
		return -1;
	if(v[K_TTL]) {
		old = rl_push(c, "ttl", 3);
		rc = rl_u32(c, v[K_TTL], 1, AF_RULES_YEAR, &c->r->history_ttl_s);
		rl_pop(c, old);
	}
	return rc;
}

/*
 * Validates the document and builds the snapshot c->r in c->arena, one
 * top-level section after the other (lists before the profiles that
 * name them). Returns 0, or -1 with the error set.
 */
static int rl_build(af_rl_t *c)
{
	yaml_node_t *root, *v[K_TOP], *k[K_TOP];
	af_rules_t *r;
	size_t old;
	uint64_t version;
	int i, rc;

	root = yaml_document_get_root_node(c->doc);
	if(!root || rl_is_null(root))
		return rl_err(c, NULL, "no rules in the file (expected 'version: 1',"
							   " 'profiles' and more)");
	if(root->type != YAML_MAPPING_NODE)
		return rl_err(c, root, "expected a mapping at the top, got %s",
				rl_kind(root));
	r = af_arena_alloc(c->arena, sizeof(*r));
	if(!r)
		return rl_oom(c, root);
	c->r = r;
	r->arena = c->arena;
	r->path = af_arena_strndup(c->arena, c->file, strlen(c->file));
	if(!r->path)
		return rl_oom(c, root);
	r->loaded_ms = af_now_ms();
	r->scanner.window_s = 60;
	r->scanner.threshold = 5;
	r->scanner.ban_s = 3600;
	r->scanner.weight[AF_R_UNKNOWN_DOMAIN] = 1;
	r->scanner.weight[AF_R_UNKNOWN_USER] = 1;
	r->scanner.weight[AF_R_IP_DENY] = 5;
	r->history_ttl_s = AF_RULES_DAY;

	if(rl_map(c, root, top_keys, K_TOP, v, k) < 0)
		return -1;
	if(!v[K_VERSION])
		return rl_err(c, root, "missing 'version: %d'", AF_RULES_VERSION);
	if(!v[K_PROFILES])
		return rl_err(c, root,
				"missing 'profiles' (a 'default' profile is required)");
	for(i = 0, rc = 0; i < K_TOP && rc == 0; i++) {
		if(!v[i])
			continue;
		old = rl_push(c, top_keys[i], strlen(top_keys[i]));
		switch(i) {
			case K_VERSION:
				rc = rl_uint(c, v[i], 0, UINT64_MAX, &version);
				if(rc == 0 && version != AF_RULES_VERSION)
					rc = rl_err(c, v[i],
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
			case K_FINGERPRINT:
				rc = rl_fingerprint(c, v[i]);
				break;
			case K_PROFILES:
				rc = rl_profiles(c, k[i], v[i]);
				break;
		}
		rl_pop(c, old);
	}
	return rc;
}

/*
 * Returns the line (from 1) of byte offset off of file f, for libyaml
 * errors that only give an offset.
 */
static unsigned long rl_line_at(FILE *f, size_t off)
{
	unsigned long line = 1;
	size_t i;
	int ch;

	if(fseek(f, 0, SEEK_SET) != 0)
		return 1;
	for(i = 0; i < off && (ch = getc(f)) != EOF; i++) {
		if(ch == '\n')
			line++;
	}
	return line;
}

/* Writes libyaml's error of parser p, reading file f, into the load's err. */
static void rl_yaml_error(af_rl_t *c, yaml_parser_t *p, FILE *f)
{
	unsigned long line;

	switch(p->error) {
		case YAML_MEMORY_ERROR:
			snprintf(c->err, c->errlen, "%s: out of memory", c->file);
			return;
		case YAML_READER_ERROR:
			line = rl_line_at(f, p->problem_offset);
			break;
		default:
			line = (unsigned long)p->problem_mark.line + 1;
			break;
	}
	if(p->context)
		snprintf(c->err, c->errlen, "%s:%lu: YAML: %s: %s", c->file, line,
				p->context, p->problem ? p->problem : "error");
	else
		snprintf(c->err, c->errlen, "%s:%lu: YAML: %s", c->file, line,
				p->problem ? p->problem : "error");
}

/*
 * Reads, validates and builds the rule file at path and every list file
 * it names. Returns the snapshot (its own arena, refs 0), or NULL with
 * "file:line: what is wrong" in err (err may be NULL); nothing is left
 * allocated on failure.
 */
af_rules_t *af_rules_load(const char *path, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root2;
	char local[256];
	const char *slash;
	af_rl_t c;
	FILE *f;
	int rc = -1;

	if(!err || errlen == 0) {
		err = local;
		errlen = sizeof(local);
	}
	err[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.file = path;
	c.err = err;
	c.errlen = errlen;
	slash = strrchr(path, '/');
	c.dirlen = slash ? (size_t)(slash - path) + 1 : 0;

	f = fopen(path, "rb");
	if(!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if(!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(f);
		return NULL;
	}
	yaml_parser_set_input_file(&parser, f);
	if(!yaml_parser_load(&parser, &doc)) {
		rl_yaml_error(&c, &parser, f);
		goto done_parser;
	}
	/* one document only: a second one is refused, not ignored */
	if(!yaml_parser_load(&parser, &extra)) {
		rl_yaml_error(&c, &parser, f);
		goto done_doc;
	}
	root2 = yaml_document_get_root_node(&extra);
	if(root2)
		rl_err(&c, root2, "a second YAML document ('---'): the rules must "
						  "be one document");
	yaml_document_delete(&extra);
	if(root2)
		goto done_doc;

	c.doc = &doc;
	c.arena = af_arena_new(0);
	if(!c.arena) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto done_doc;
	}
	rc = rl_build(&c);

done_doc:
	yaml_document_delete(&doc);
done_parser:
	yaml_parser_delete(&parser);
	fclose(f);
	if(rc < 0) {
		af_arena_free(c.arena);
		return NULL;
	}
	AF_DBG("rules %s: %u lists, %u profiles, %zu bytes\n", path,
			c.r->n_lists, c.r->n_profiles, af_arena_size(c.arena));
	return c.r;
}

/* Frees snapshot r and everything in it; r may be NULL. */
void af_rules_free(af_rules_t *r)
{
	if(r)
		af_arena_free(r->arena);
}

/*
 * Returns the profile of r named name[0..len), or the default profile
 * when name is NULL or len 0; NULL when r has no such profile.
 */
const af_profile_t *af_rules_profile(const af_rules_t *r, const char *name,
		size_t len)
{
	uint32_t i;

	if(!r)
		return NULL;
	if(!name || len == 0)
		return r->default_profile;
	for(i = 0; i < r->n_profiles; i++) {
		if(strncmp(r->profiles[i].name, name, len) == 0
				&& r->profiles[i].name[len] == '\0')
			return &r->profiles[i];
	}
	return NULL;
}

/*
 * Makes this process's match data and match context (plain malloc, kept
 * for the life of the process). Returns 0, or -1 when out of memory.
 */
static int af_regex_init(void)
{
	af_re_md = pcre2_match_data_create(1, NULL);
	af_re_mctx = pcre2_match_context_create(NULL);
	if(!af_re_md || !af_re_mctx) {
		pcre2_match_data_free(af_re_md);
		pcre2_match_context_free(af_re_mctx);
		af_re_md = NULL;
		af_re_mctx = NULL;
		AF_ERR("regex: out of memory\n");
		return -1;
	}
	pcre2_set_match_limit(af_re_mctx, AF_RE_MATCH_LIMIT);
	pcre2_set_heap_limit(af_re_mctx, AF_RE_HEAP_LIMIT);
	return 0;
}

/*
 * Returns 1 when s[0..len) matches re, 0 when it does not. A match that
 * hits the limits (a pathological pattern) or fails otherwise counts as
 * no match, with one warning per process. Allocates nothing after the
 * first calls of a process.
 */
int af_regex_match(const af_regex_t *re, const char *s, size_t len)
{
	int rc;

	if(!re || !re->code)
		return 0;
	if(!af_re_md && af_regex_init() < 0)
		return 0;
	if(!s) {
		s = "";
		len = 0;
	}
	rc = pcre2_match((const pcre2_code *)re->code, (PCRE2_SPTR)s, len, 0, 0,
			af_re_md, af_re_mctx);
	if(rc >= 0)
		return 1;
	if(rc != PCRE2_ERROR_NOMATCH && !af_re_warned) {
		af_re_warned = 1;
		AF_WARN("regex '%s': match failed (error %d), counted as no match;"
				" further failures are not logged\n",
				re->src, rc);
	}
	return 0;
}
