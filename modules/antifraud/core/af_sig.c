/*
 * antifraud - attack-tool signatures: the signature file read with
 * libyaml, checked node by node and built into the caller's arena with
 * the PCRE2 code of its patterns; and the per-request match.
 *
 * The code compiled into the arena (shared memory) is the validated
 * source of truth and what the interpreter runs. JIT code cannot be
 * shared between processes, so each process (each thread) keeps a cache:
 * for the set it last saw, a private copy of every pattern compiled from
 * its text with plain malloc and JIT-compiled, one match data, one match
 * context and one JIT stack. The cache is keyed by the set's address and
 * its load tag (pid, sequence number and time of the load), so a new set
 * at the address of a freed one is never mistaken for it; a forked child
 * drops what it inherited and builds its own. With the set, the cache
 * holds a memo of pattern results by feature value (256 values of up to
 * 240 bytes, direct-mapped, private to the process): the features that
 * recur from request to request (User-Agent, header order, display
 * names...) run PCRE2 once per distinct value, not once per request; a
 * new set (a rules reload) starts with an empty memo.
 *
 * The file:
 *   version: 1
 *   signatures:
 *     - name: sipvicious-svmap      # [A-Za-z0-9_.-]{1,64}, unique
 *       source: "where it comes from"
 *       action: block               # or alert; default block
 *       score: 5                    # 0..1000000, default 5
 *       match:                      # all must hold, at least one
 *         user_agent: '^friendly-scanner'
 *         ...
 * Pattern keys (PCRE2 over the feature of af_fp_msg_t, a missing one
 * being the empty string): user_agent, server, from_display, from_user,
 * from_tag, to_display, to_user, call_id, branch, contact, sdp_o_user,
 * sdp_s, request_line, method, header_order (af_fp_msg_t.order). Exact
 * keys: headers_present and headers_absent (lists of names, any case,
 * compact letters for their full names, looked up in the order),
 * content_length_mismatch and compact (true/false), fingerprint (an
 * af_fp_id() or a list of them), shape (af_fp_msg_t.shape, exactly).
 *
 * Patterns are searched, not anchored: a signature's author writes '^'
 * and '$' where they mean them ('$' matches only at the very end).
 * Matching runs the exact conditions first, then the patterns; a
 * pattern that starts with '^' and literal text is refused without
 * PCRE2 when the feature does not start with that text.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pcre2.h>
#include "af_host.h"
#include "af_regex.h"
#include "af_sig.h"
#include "af_yaml.h"

#define AF_SIG_VERSION 1
#define AF_SIG_NAME_MAX 64      /* bytes of a signature name */
#define AF_SIG_SCORE_MAX 1000000u
#define AF_SIG_SCORE_DEFAULT 5u
#define AF_SIG_HDR_NAMES 64     /* distinct names in headers_present/absent */
#define AF_SIG_HDR_NAME_MAX 64  /* bytes of such a name */
#define AF_SIG_HTAB 256         /* slots of the header name hash (2^n) */
/* the per-process memo of pattern results by feature value */
#define AF_SIG_MEMO_SLOTS 256   /* entries (2^n), direct-mapped */
#define AF_SIG_MEMO_KEY 240     /* bytes of a value it remembers */
#define AF_SIG_MEMO_BITS 64     /* patterns of one feature it remembers */
#define AF_SIG_MEMO_NONE 0xff
#define AF_SIG_HMASK_NONE UINT64_MAX /* header bits not made yet */

/* per match: backtracking steps, and KiB of interpreter frames */
#define AF_SIG_MATCH_LIMIT 100000
#define AF_SIG_HEAP_LIMIT 4096
/* per process: the JIT stack, first and largest size */
#define AF_SIG_JIT_STACK_MIN (32 * 1024)
#define AF_SIG_JIT_STACK_MAX (512 * 1024)

/*
 * The keys of a signature's 'match' mapping. The first AF_SIG_F__COUNT
 * are regular expressions over the feature of the same index.
 */
enum {
	AF_SIG_F_USER_AGENT = 0,
	AF_SIG_F_SERVER,
	AF_SIG_F_FROM_DISPLAY,
	AF_SIG_F_FROM_USER,
	AF_SIG_F_FROM_TAG,
	AF_SIG_F_TO_DISPLAY,
	AF_SIG_F_TO_USER,
	AF_SIG_F_CALL_ID,
	AF_SIG_F_BRANCH,
	AF_SIG_F_CONTACT,
	AF_SIG_F_SDP_O_USER,
	AF_SIG_F_SDP_S,
	AF_SIG_F_REQUEST_LINE,
	AF_SIG_F_METHOD,
	AF_SIG_F_HEADER_ORDER,
	AF_SIG_F__COUNT,
	K_HEADERS_PRESENT = AF_SIG_F__COUNT,
	K_HEADERS_ABSENT,
	K_CL_MISMATCH,
	K_COMPACT,
	K_FINGERPRINT,
	K_SHAPE,
	K_MATCH_N
};
static const char *const match_keys[K_MATCH_N] = {"user_agent", "server",
		"from_display", "from_user", "from_tag", "to_display", "to_user",
		"call_id", "branch", "contact", "sdp_o_user", "sdp_s",
		"request_line", "method", "header_order", "headers_present",
		"headers_absent", "content_length_mismatch", "compact",
		"fingerprint", "shape"};

/*
 * The features whose values recur from request to request (a device's
 * User-Agent, a stack's header order...): their pattern results are
 * remembered by value. Per-request tokens (Call-ID, branch, tags) and
 * numbers would only churn the memo.
 */
static const uint8_t af_sig_memo_field[AF_SIG_F__COUNT] = {
		[AF_SIG_F_USER_AGENT] = 1,
		[AF_SIG_F_SERVER] = 1,
		[AF_SIG_F_FROM_DISPLAY] = 1,
		[AF_SIG_F_TO_DISPLAY] = 1,
		[AF_SIG_F_SDP_O_USER] = 1,
		[AF_SIG_F_SDP_S] = 1,
		[AF_SIG_F_METHOD] = 1,
		[AF_SIG_F_HEADER_ORDER] = 1,
};

enum { K_VERSION, K_SIGNATURES, K_TOP };
static const char *const top_keys[K_TOP] = {"version", "signatures"};

enum { K_NAME, K_SOURCE, K_ACTION, K_SCORE, K_MATCH, K_SIG_N };
static const char *const sig_keys[K_SIG_N] = {
		"name", "source", "action", "score", "match"};

/* a distinct (feature, pattern) of the set, matched once per request */
typedef struct af_sig_re {
	const char *src;   /* the pattern's text */
	size_t len;
	pcre2_code *code;  /* compiled into the arena */
	uint8_t field;     /* AF_SIG_F_ */
	uint8_t empty;     /* 1 when the pattern matches the empty string */
	af_re_filter_t filter; /* what a subject needs before PCRE2 runs */
} af_sig_re_t;

typedef struct af_sig {
	const char *name;
	const char *source;
	af_sig_action_t action;
	uint32_t score;
	int8_t cl_mismatch;  /* 0 or 1; -1: no condition */
	int8_t compact;      /* 0 or 1; -1: no condition */
	uint32_t n_fp;
	const uint64_t *fp;  /* fingerprint hashes, any of them */
	const char *shape;   /* NULL: no condition */
	size_t shape_len;
	uint64_t present;    /* header names (bits of the set's table) */
	uint64_t absent;
	uint32_t n_re;
	const uint32_t *re;  /* indices in the set's patterns, all must match */
	uint8_t exact;       /* 1 when it has a condition other than patterns */
} af_sig_t;

struct af_sigset {
	af_sig_t *sig;
	uint32_t n_sig;
	af_sig_re_t *re;
	uint32_t n_re;
	uint32_t cap_re;
	/* header names of headers_present/absent: bit i is name i */
	const char *hname[AF_SIG_HDR_NAMES];
	uint8_t hname_len[AF_SIG_HDR_NAMES];
	uint32_t n_hname;
	uint8_t htab[AF_SIG_HTAB]; /* hash slots: name index + 1, 0 empty */
	/* the load tag: what the per-process caches are keyed by */
	uint32_t pid;
	uint32_t seq;
	uint64_t loaded_ms;
};

/* what a load carries from node to node */
typedef struct af_sl {
	af_yl_t y; /* the signature file, its document, arena and errors */
	af_sigset_t *set;
	pcre2_match_data *md; /* plain malloc, for load-time matches */
} af_sl_t;

/*
 * The results of one feature value's patterns, remembered across
 * requests (see af_sig_memo()): bit k of known and val is the k-th
 * pattern of the feature (af_sig_cache_t.fpos).
 */
typedef struct af_sig_memo {
	uint64_t hash;  /* af_sig_memo_hash() of field and value */
	uint64_t known; /* patterns whose result is here */
	uint64_t val;   /* and their results */
	uint16_t len;   /* of the value */
	uint8_t field;  /* AF_SIG_F_ + 1; 0: empty slot */
	char key[AF_SIG_MEMO_KEY];
} af_sig_memo_t;

/* a process's (a thread's) matching state; see the top of the file */
typedef struct af_sig_cache {
	const af_sigset_t *set; /* compared, never read once stale */
	uint32_t pid, seq;
	uint64_t loaded_ms;
	uint32_t n;             /* patterns */
	uint32_t n_jit;         /* of which JIT-compiled */
	pcre2_code **code;      /* private copies; NULL: the arena's code */
	uint8_t *jit;           /* 1: code[i] is JIT-compiled */
	uint8_t *val;           /* this request's result of pattern i ... */
	uint32_t *stamp;        /* ... valid when stamp[i] == call */
	uint32_t call;
	uint8_t *fpos;          /* pattern i is bit fpos[i] of its feature's
							 * memo; AF_SIG_MEMO_NONE: not remembered */
	af_sig_memo_t *memo;    /* AF_SIG_MEMO_SLOTS, NULL: no memo */
	uint32_t mstamp[AF_SIG_F__COUNT]; /* mslot[f] is this request's ... */
	int32_t mslot[AF_SIG_F__COUNT];   /* ... memo of feature f, -1 none */
	uint64_t mhash[AF_SIG_F__COUNT];
	int stale;              /* set in a forked child: rebuild */
	int warned;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;
} af_sig_cache_t;

static __thread af_sig_cache_t af_sig_tc;
static pthread_once_t af_sig_once = PTHREAD_ONCE_INIT;
static pthread_key_t af_sig_key; /* frees a thread's cache when it ends */
static int af_sig_key_ok;
static uint32_t af_sig_seq;

/*
 * Reads scalar n as a decimal integer in 0..max into *v; an empty quoted
 * string ('') reads as 0. Returns 0, or -1 with the error set.
 */
static int sl_uint(af_sl_t *c, const yaml_node_t *n, uint64_t max,
		uint64_t *v)
{
	if(n->type == YAML_SCALAR_NODE && AF_YL_LEN(n) == 0
			&& !af_yl_is_null(n)) {
		*v = 0;
		return 0;
	}
	return af_yl_uint(&c->y, n, 0, max, v);
}

/*
 * Compiles pattern node n over feature field into the set, or finds the
 * same (feature, pattern) already there. Stores its index in *idx.
 * Returns 0, or -1 with the error set (PCRE2's message and offset).
 */
static int sl_regex(af_sl_t *c, const yaml_node_t *n, int field, uint32_t *idx)
{
	af_sigset_t *set = c->set;
	af_sig_re_t *re, *grown;
	pcre2_code *code;
	const char *s;
	size_t len;
	uint32_t i;
	int rc;

	if(af_yl_pattern(&c->y, n, &s, &len) < 0)
		return -1;
	for(i = 0; i < set->n_re; i++) {
		re = &set->re[i];
		if(re->field == field && re->len == len
				&& memcmp(re->src, s, len) == 0) {
			*idx = i;
			return 0;
		}
	}
	if(!c->md) {
		c->md = pcre2_match_data_create(1, NULL);
		if(!c->md)
			return af_yl_oom(&c->y, n);
	}
	if(af_yl_compile(&c->y, n, s, len, AF_RE_OPTIONS, &code) < 0)
		return -1;
	if(set->n_re == set->cap_re) {
		set->cap_re = set->cap_re ? set->cap_re * 2 : 16;
		grown = af_arena_alloc(c->y.arena, set->cap_re * sizeof(*grown));
		if(!grown)
			return af_yl_oom(&c->y, n);
		if(set->n_re)
			memcpy(grown, set->re, set->n_re * sizeof(*grown));
		set->re = grown;
	}
	re = &set->re[set->n_re];
	re->src = af_arena_strndup(c->y.arena, s, len);
	if(!re->src)
		return af_yl_oom(&c->y, n);
	re->len = len;
	re->code = code;
	re->field = (uint8_t)field;
	af_re_filter_init(&re->filter, code, s, len);
	/* a missing feature is the empty string: its answer is known now */
	rc = pcre2_match(code, (PCRE2_SPTR) "", 0, 0, 0, c->md, NULL);
	re->empty = rc >= 0;
	*idx = set->n_re++;
	return 0;
}

/*
 * Hashes header name s[0..len) (not empty) for the set's table: its
 * length and three of its bytes, enough to spread a few dozen names.
 */
static inline uint32_t af_sig_hash(const char *s, size_t len)
{
	return (uint32_t)len * 31u + (unsigned char)s[0] * 7u
		   + (unsigned char)s[len / 2] * 3u + (unsigned char)s[len - 1];
}

/*
 * Returns the index in the set's table of canonical header name
 * s[0..len), adding it when add is set and there is room; -1 when it is
 * not there (or the table is full).
 */
static int af_sig_hname(af_sigset_t *set, af_arena_t *a, const char *s,
		size_t len, int add)
{
	uint32_t slot = af_sig_hash(s, len) & (AF_SIG_HTAB - 1);
	unsigned i;

	while(set->htab[slot]) {
		i = set->htab[slot] - 1u;
		if(set->hname_len[i] == len && memcmp(set->hname[i], s, len) == 0)
			return (int)i;
		slot = (slot + 1) & (AF_SIG_HTAB - 1);
	}
	if(!add || set->n_hname == AF_SIG_HDR_NAMES)
		return -1;
	set->hname[set->n_hname] = af_arena_strndup(a, s, len);
	if(!set->hname[set->n_hname])
		return -1;
	set->hname_len[set->n_hname] = (uint8_t)len;
	set->htab[slot] = (uint8_t)(set->n_hname + 1);
	return (int)set->n_hname++;
}

/*
 * Reads the header names of sequence n (headers_present or
 * headers_absent) into the bits *mask: names of any case, compact
 * letters for their full names. A name among the bits of other (the
 * headers_present read before headers_absent) is refused. Returns 0, or
 * -1 with the error set.
 */
static int sl_headers(af_sl_t *c, const yaml_node_t *n, uint64_t *mask,
		uint64_t other)
{
	char name[AF_SIG_HDR_NAME_MAX];
	const yaml_node_t *it;
	const char *s, *full;
	size_t i, j, count, len;
	int bit;
	char ch;

	if(af_yl_seq(&c->y, n, &count) < 0)
		return -1;
	if(count == 0)
		return af_yl_err(&c->y, n, "empty list of headers (leave the key out)");
	for(i = 0; i < count; i++) {
		it = af_yl_item(&c->y, n, i);
		if(af_yl_str(&c->y, it, &s, &len) < 0)
			return -1;
		if(len == 0 || len > AF_SIG_HDR_NAME_MAX)
			goto bad;
		for(j = 0; j < len; j++) {
			ch = s[j];
			if(ch >= 'A' && ch <= 'Z')
				ch = (char)(ch + 32);
			if(!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
					   || strchr("-.!%*_+`'~", ch)))
				goto bad;
			name[j] = ch;
		}
		if(len == 1 && name[0] >= 'a' && name[0] <= 'z') {
			full = af_fp_compact_full(name[0]);
			if(!full)
				return af_yl_err(&c->y, it,
						"'%c' is not a compact header form (b, c, e, f, i, k,"
						" l, m, o, r, s, t, u, v, x, y)",
						s[0]);
			len = strlen(full);
			memcpy(name, full, len);
		}
		bit = af_sig_hname(c->set, c->y.arena, name, len, 1);
		if(bit < 0)
			return af_yl_err(&c->y, it,
					"too many distinct header names in headers_present and"
					" headers_absent (at most %d in a file)",
					AF_SIG_HDR_NAMES);
		if(other & ((uint64_t)1 << bit))
			return af_yl_err(&c->y, it,
					"header '%s' is both in headers_present and"
					" headers_absent",
					c->set->hname[bit]);
		*mask |= (uint64_t)1 << bit;
	}
	return 0;

bad:
	return af_yl_err(&c->y, it, "'%.*s' is not a header name",
			AF_YL_SHOWN(len), s);
}

/*
 * Reads fingerprint node n ("af1-" and 16 hex digits, or a sequence of
 * them) into sig. Returns 0, or -1 with the error set.
 */
static int sl_fingerprints(af_sl_t *c, const yaml_node_t *n, af_sig_t *sig)
{
	const yaml_node_t *it;
	uint64_t *fp, h;
	const char *s;
	size_t i, j, count, len;
	char ch;

	if(n->type == YAML_SEQUENCE_NODE) {
		if(af_yl_seq(&c->y, n, &count) < 0)
			return -1;
		if(count == 0)
			return af_yl_err(&c->y, n,
					"empty list of fingerprints (leave the key out)");
	} else {
		count = 1;
	}
	fp = af_arena_alloc(c->y.arena, count * sizeof(*fp));
	if(!fp)
		return af_yl_oom(&c->y, n);
	for(i = 0; i < count; i++) {
		it = n->type == YAML_SEQUENCE_NODE ? af_yl_item(&c->y, n, i) : n;
		if(af_yl_str(&c->y, it, &s, &len) < 0)
			return -1;
		if(len != 20 || memcmp(s, "af1-", 4) != 0)
			goto bad;
		for(h = 0, j = 4; j < len; j++) {
			ch = s[j];
			if(ch >= '0' && ch <= '9')
				h = h << 4 | (uint64_t)(ch - '0');
			else if(ch >= 'a' && ch <= 'f')
				h = h << 4 | (uint64_t)(ch - 'a' + 10);
			else if(ch >= 'A' && ch <= 'F')
				h = h << 4 | (uint64_t)(ch - 'A' + 10);
			else
				goto bad;
		}
		fp[i] = h;
	}
	sig->fp = fp;
	sig->n_fp = (uint32_t)count;
	return 0;

bad:
	return af_yl_err(&c->y, it,
			"'%.*s' is not a fingerprint ('af1-' and 16 hex digits)",
			AF_YL_SHOWN(len), s);
}

/*
 * Reads the 'match' mapping n of signature sig: at least one condition.
 * Returns 0, or -1 with the error set.
 */
static int sl_match(af_sl_t *c, const yaml_node_t *n, af_sig_t *sig)
{
	yaml_node_t *v[K_MATCH_N];
	uint32_t re[AF_SIG_F__COUNT], *copy;
	const char *s;
	size_t len, old;
	int k, b = 0, rc = 0, conds = 0;

	sig->cl_mismatch = -1;
	sig->compact = -1;
	if(af_yl_map(&c->y, n, match_keys, K_MATCH_N, v, NULL) < 0)
		return -1;
	for(k = 0; k < K_MATCH_N && rc == 0; k++) {
		if(!v[k])
			continue;
		conds++;
		old = af_yl_push(&c->y, match_keys[k], strlen(match_keys[k]));
		if(k < AF_SIG_F__COUNT) {
			rc = sl_regex(c, v[k], k, &re[sig->n_re]);
			if(rc == 0)
				sig->n_re++;
		} else {
			switch(k) {
				case K_HEADERS_PRESENT:
					rc = sl_headers(c, v[k], &sig->present, 0);
					break;
				case K_HEADERS_ABSENT:
					rc = sl_headers(c, v[k], &sig->absent, sig->present);
					break;
				case K_CL_MISMATCH:
					rc = af_yl_bool(&c->y, v[k], &b);
					sig->cl_mismatch = (int8_t)b;
					break;
				case K_COMPACT:
					rc = af_yl_bool(&c->y, v[k], &b);
					sig->compact = (int8_t)b;
					break;
				case K_FINGERPRINT:
					rc = sl_fingerprints(c, v[k], sig);
					break;
				case K_SHAPE:
					rc = af_yl_str(&c->y, v[k], &s, &len);
					if(rc < 0)
						break;
					if(len == 0 || len >= AF_FP_SHAPE_MAX) {
						rc = af_yl_err(&c->y, v[k],
								"a shape has 1 to %d bytes, this one %zu",
								AF_FP_SHAPE_MAX - 1, len);
						break;
					}
					sig->shape = af_arena_strndup(c->y.arena, s, len);
					sig->shape_len = len;
					if(!sig->shape)
						rc = af_yl_oom(&c->y, v[k]);
					break;
			}
		}
		af_yl_pop(&c->y, old);
	}
	if(rc < 0)
		return -1;
	if(conds == 0)
		return af_yl_err(&c->y, n, "no condition (at least one is needed)");
	sig->exact = sig->n_fp || sig->shape || sig->compact >= 0
				 || sig->cl_mismatch >= 0 || (sig->present | sig->absent);
	if(sig->n_re) {
		copy = af_arena_alloc(c->y.arena, sig->n_re * sizeof(*copy));
		if(!copy)
			return af_yl_oom(&c->y, n);
		memcpy(copy, re, sig->n_re * sizeof(*copy));
		sig->re = copy;
	}
	return 0;
}

/*
 * Checks name node n of signature number i: 1 to 64 letters, digits,
 * '_', '-' or '.', not taken by an earlier signature. Gives its text in
 * *s and *len. Returns 0, or -1 with the error set.
 */
static int sl_name(af_sl_t *c, const yaml_node_t *n, uint32_t i,
		const char **s, size_t *len)
{
	uint32_t j;

	if(af_yl_name(&c->y, n, "signature", AF_SIG_NAME_MAX, s, len) < 0)
		return -1;
	for(j = 0; j < i; j++) {
		if(strlen(c->set->sig[j].name) == *len
				&& memcmp(c->set->sig[j].name, *s, *len) == 0)
			return af_yl_err(&c->y, n, "duplicate signature name '%.*s'",
					(int)*len, *s);
	}
	return 0;
}

/*
 * Reads signature node n, number i of the file, into c->set->sig[i].
 * Returns 0, or -1 with the error set.
 */
static int sl_sig(af_sl_t *c, const yaml_node_t *n, uint32_t i)
{
	af_sig_t *sig = &c->set->sig[i];
	yaml_node_t *v[K_SIG_N];
	char where[32];
	const char *s;
	size_t len, old;
	uint64_t score;
	int rc = 0;

	snprintf(where, sizeof(where), "signatures[%u]", i);
	old = af_yl_push(&c->y, where, strlen(where));
	if(n->type != YAML_MAPPING_NODE)
		return af_yl_err(&c->y, n,
				"expected a mapping (name, source, match...), got %s",
				af_yl_kind(n));
	if(af_yl_map(&c->y, n, sig_keys, K_SIG_N, v, NULL) < 0)
		return -1;
	if(!v[K_NAME])
		return af_yl_err(&c->y, n, "missing 'name'");
	if(sl_name(c, v[K_NAME], i, &s, &len) < 0)
		return -1;
	sig->name = af_arena_strndup(c->y.arena, s, len);
	if(!sig->name)
		return af_yl_oom(&c->y, v[K_NAME]);
	af_yl_pop(&c->y, old);
	old = af_yl_push(&c->y, s, len);

	if(!v[K_SOURCE])
		return af_yl_err(&c->y, n,
				"missing 'source' (where the signature comes from)");
	if(af_yl_str(&c->y, v[K_SOURCE], &s, &len) < 0)
		return -1;
	if(len == 0)
		return af_yl_err(&c->y, v[K_SOURCE], "empty 'source'");
	sig->source = af_arena_strndup(c->y.arena, s, len);
	if(!sig->source)
		return af_yl_oom(&c->y, v[K_SOURCE]);

	sig->action = AF_SIG_BLOCK;
	if(v[K_ACTION]) {
		if(af_yl_str(&c->y, v[K_ACTION], &s, &len) < 0)
			return -1;
		if(len == 5 && memcmp(s, "block", 5) == 0)
			sig->action = AF_SIG_BLOCK;
		else if(len == 5 && memcmp(s, "alert", 5) == 0)
			sig->action = AF_SIG_ALERT;
		else
			return af_yl_err(&c->y, v[K_ACTION],
					"unknown action '%.*s' (expected block or alert)",
					AF_YL_SHOWN(len), s);
	}
	sig->score = AF_SIG_SCORE_DEFAULT;
	if(v[K_SCORE]) {
		if(sl_uint(c, v[K_SCORE], AF_SIG_SCORE_MAX, &score) < 0)
			return -1;
		sig->score = (uint32_t)score;
	}
	if(!v[K_MATCH])
		return af_yl_err(&c->y, n, "missing 'match' (at least one condition)");
	af_yl_push(&c->y, "match", 5);
	rc = sl_match(c, v[K_MATCH], sig);
	af_yl_pop(&c->y, old);
	return rc;
}

/*
 * Validates the document of load y and builds c->set (c is the sl
 * context around y) in the load's arena. Returns 0, or -1 with the error
 * set.
 */
static int sl_build(af_yl_t *y, void *arg)
{
	af_sl_t *c = arg;
	yaml_node_t *root, *v[K_TOP];
	size_t i, count, old;
	uint64_t version;

	root = yaml_document_get_root_node(y->doc);
	if(!root || af_yl_is_null(root))
		return af_yl_err(&c->y, NULL,
				"no signatures in the file (expected 'version: 1' and"
				" 'signatures')");
	if(root->type != YAML_MAPPING_NODE)
		return af_yl_err(&c->y, root,
				"expected a mapping at the top, got %s", af_yl_kind(root));
	if(af_yl_map(&c->y, root, top_keys, K_TOP, v, NULL) < 0)
		return -1;
	if(!v[K_VERSION])
		return af_yl_err(
				&c->y, root, "missing 'version: %d'", AF_SIG_VERSION);
	if(!v[K_SIGNATURES])
		return af_yl_err(&c->y, root, "missing 'signatures'");
	old = af_yl_push(&c->y, "version", 7);
	if(sl_uint(c, v[K_VERSION], UINT64_MAX, &version) < 0)
		return -1;
	if(version != AF_SIG_VERSION)
		return af_yl_err(&c->y, v[K_VERSION],
				"unsupported version %llu (this module reads %d)",
				(unsigned long long)version, AF_SIG_VERSION);
	af_yl_pop(&c->y, old);
	old = af_yl_push(&c->y, "signatures", 10);
	if(af_yl_seq(&c->y, v[K_SIGNATURES], &count) < 0)
		return -1;
	if(count > UINT32_MAX / 2)
		return af_yl_err(&c->y, v[K_SIGNATURES], "too many signatures");
	af_yl_pop(&c->y, old);
	c->set = af_arena_alloc(c->y.arena, sizeof(*c->set));
	if(!c->set)
		return af_yl_oom(&c->y, root);
	if(count) {
		c->set->sig = af_arena_alloc(c->y.arena, count * sizeof(af_sig_t));
		if(!c->set->sig)
			return af_yl_oom(&c->y, v[K_SIGNATURES]);
	}
	for(i = 0; i < count; i++) {
		if(sl_sig(c, af_yl_item(&c->y, v[K_SIGNATURES], i), (uint32_t)i) < 0)
			return -1;
		c->set->n_sig++;
	}
	return 0;
}

/*
 * Reads and validates the signature file at path and builds its set in
 * arena a. Returns the set, or NULL with "file:line: what is wrong" in
 * err (err may be NULL). On failure what was taken from a stays until a
 * is freed (the snapshot being built is dropped as a whole); nothing
 * else is left allocated.
 */
af_sigset_t *af_sig_load(af_arena_t *a, const char *path, char *err,
		size_t errlen)
{
	char local[256];
	af_sl_t c;
	int rc;

	if(!err || errlen == 0) {
		err = local;
		errlen = sizeof(local);
	}
	err[0] = '\0';
	if(!a || !path) {
		snprintf(err, errlen, "signatures: no arena or no file name");
		return NULL;
	}
	memset(&c, 0, sizeof(c));
	c.y.file = path;
	c.y.kind = AF_FILE_SIGNATURES;
	c.y.err = err;
	c.y.errlen = errlen;
	c.y.arena = a;

	rc = af_yl_load(&c.y, "signatures", sl_build, &c);
	pcre2_match_data_free(c.md);
	if(rc < 0)
		return NULL;
	c.set->pid = (uint32_t)getpid();
	c.set->seq = __atomic_add_fetch(&af_sig_seq, 1, __ATOMIC_RELAXED);
	c.set->loaded_ms = af_now_ms();
	AF_DBG("signatures %s: %u signatures, %u patterns\n", path,
			c.set->n_sig, c.set->n_re);
	return c.set;
}

/* Returns the number of signatures of set (0 for NULL). */
uint32_t af_sig_count(const af_sigset_t *set)
{
	return set ? set->n_sig : 0;
}

/* In a forked child: what the cache holds was built by the parent. */
static void af_sig_atfork_child(void)
{
	af_sig_tc.stale = 1;
}

static void af_sig_cache_drop(af_sig_cache_t *tc);

/*
 * At the end of a thread that matched: frees its cache, match data,
 * match context and JIT stack (tc is the thread's cache).
 */
static void af_sig_thread_end(void *tc)
{
	af_sig_cache_t *c = tc;

	af_sig_cache_drop(c);
	pcre2_match_data_free(c->md);
	pcre2_match_context_free(c->mctx);
	pcre2_jit_stack_free(c->jstack);
	c->md = NULL;
	c->mctx = NULL;
	c->jstack = NULL;
}

/*
 * Registers af_sig_atfork_child() and the key whose destructor is
 * af_sig_thread_end(), once per process.
 */
static void af_sig_once_init(void)
{
	if(pthread_atfork(NULL, NULL, af_sig_atfork_child) != 0)
		AF_WARN("signatures: pthread_atfork failed\n");
	af_sig_key_ok = pthread_key_create(&af_sig_key, af_sig_thread_end) == 0;
}

/* Frees the patterns of cache tc (this process's copies). */
static void af_sig_cache_drop(af_sig_cache_t *tc)
{
	uint32_t i;

	for(i = 0; tc->code && i < tc->n; i++)
		pcre2_code_free(tc->code[i]);
	free(tc->code);
	free(tc->memo);
	tc->code = NULL;
	tc->memo = NULL;
	tc->fpos = NULL;
	tc->jit = NULL;
	tc->val = NULL;
	tc->stamp = NULL;
	tc->n = 0;
	tc->n_jit = 0;
	tc->set = NULL;
}

/*
 * Makes cache tc hold set: drops what it held, makes the match data,
 * match context and JIT stack if not done yet, and compiles a private
 * copy of each pattern from its text (plain malloc: pcre2_code_copy()
 * would allocate with the arena's allocator), JIT-compiled when the JIT
 * is available. A pattern whose copy fails is run from the arena's code
 * with the interpreter.
 */
static void af_sig_cache_build(af_sig_cache_t *tc, const af_sigset_t *set)
{
	const af_sig_re_t *re;
	PCRE2_SIZE off;
	size_t each;
	uint32_t i;
	uint8_t per[AF_SIG_F__COUNT]; /* patterns of each feature so far */
	char *block;
	int ec;

	pthread_once(&af_sig_once, af_sig_once_init);
	af_sig_cache_drop(tc);
	tc->stale = 0;
	if(!tc->md) {
		tc->md = pcre2_match_data_create(1, NULL);
		tc->mctx = pcre2_match_context_create(NULL);
		if(!tc->md || !tc->mctx) {
			pcre2_match_data_free(tc->md);
			pcre2_match_context_free(tc->mctx);
			tc->md = NULL;
			tc->mctx = NULL;
			AF_ERR("signatures: out of memory\n");
			return;
		}
		pcre2_set_match_limit(tc->mctx, AF_SIG_MATCH_LIMIT);
		pcre2_set_heap_limit(tc->mctx, AF_SIG_HEAP_LIMIT);
		tc->jstack = pcre2_jit_stack_create(
				AF_SIG_JIT_STACK_MIN, AF_SIG_JIT_STACK_MAX, NULL);
		if(tc->jstack)
			pcre2_jit_stack_assign(tc->mctx, NULL, tc->jstack);
		if(af_sig_key_ok)
			pthread_setspecific(af_sig_key, tc);
	}
	tc->set = set;
	tc->pid = set->pid;
	tc->seq = set->seq;
	tc->loaded_ms = set->loaded_ms;
	tc->call = 0;
	if(set->n_re == 0)
		return;
	each = sizeof(pcre2_code *) + sizeof(uint32_t) + 3;
	block = calloc(set->n_re, each);
	if(!block) {
		AF_ERR("signatures: out of memory, matching without JIT\n");
		return;
	}
	tc->code = (pcre2_code **)block;
	tc->stamp = (uint32_t *)(block + set->n_re * sizeof(pcre2_code *));
	tc->jit = (uint8_t *)(tc->stamp + set->n_re);
	tc->val = tc->jit + set->n_re;
	tc->fpos = tc->val + set->n_re;
	tc->n = set->n_re;
	/* a failed memo only costs the matches it would have saved */
	tc->memo = calloc(AF_SIG_MEMO_SLOTS, sizeof(*tc->memo));
	memset(tc->mstamp, 0, sizeof(tc->mstamp));
	memset(per, 0, sizeof(per));
	for(i = 0; i < set->n_re; i++) {
		re = &set->re[i];
		tc->fpos[i] = af_sig_memo_field[re->field]
							  && per[re->field] < AF_SIG_MEMO_BITS
							  ? per[re->field]++
							  : AF_SIG_MEMO_NONE;
		tc->code[i] = pcre2_compile((PCRE2_SPTR)re->src, re->len,
				AF_RE_OPTIONS, &ec, &off, NULL);
		if(tc->code[i] && pcre2_jit_compile(tc->code[i], PCRE2_JIT_COMPLETE)
										  == 0) {
			tc->jit[i] = 1;
			tc->n_jit++;
		}
	}
	if(tc->n_jit < tc->n)
		AF_DBG("signatures: %u of %u patterns JIT-compiled\n", tc->n_jit,
				tc->n);
}

/*
 * Returns the value of feature field of fm (AF_SIG_F_), the empty
 * string when missing.
 */
static inline af_str_t af_sig_feature(const af_fp_msg_t *fm, int field)
{
	af_str_t v;

	switch(field) {
		case AF_SIG_F_USER_AGENT:
			return fm->user_agent;
		case AF_SIG_F_SERVER:
			return fm->server;
		case AF_SIG_F_FROM_DISPLAY:
			return fm->from_display;
		case AF_SIG_F_FROM_USER:
			return fm->from_user;
		case AF_SIG_F_FROM_TAG:
			return fm->from_tag;
		case AF_SIG_F_TO_DISPLAY:
			return fm->to_display;
		case AF_SIG_F_TO_USER:
			return fm->to_user;
		case AF_SIG_F_CALL_ID:
			return fm->call_id;
		case AF_SIG_F_BRANCH:
			return fm->branch;
		case AF_SIG_F_CONTACT:
			return fm->contact;
		case AF_SIG_F_SDP_O_USER:
			return fm->sdp_o_user;
		case AF_SIG_F_SDP_S:
			return fm->sdp_s;
		case AF_SIG_F_REQUEST_LINE:
			return fm->request_line;
		case AF_SIG_F_METHOD:
			return fm->method;
		default:
			v.s = fm->order;
			v.len = fm->order_len;
			return v;
	}
}

/* Hashes value s[0..len) of feature field for the memo, a word at a time. */
static uint64_t af_sig_memo_hash(int field, const char *s, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = ((uint64_t)field << 32 | len) * k, w;
	size_t i;

	for(i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	if(i < len) {
		w = 0;
		memcpy(&w, s + i, len - i);
		h = (h ^ w) * k;
	}
	h ^= h >> 32;
	return h * k;
}

/*
 * Returns the memo entry of feature field's value v for this request:
 * found by value (the first time in a request), or a slot taken for it
 * with nothing known yet; NULL when the feature is not remembered, the
 * value is too long, or another feature of this request took the slot
 * since.
 */
static af_sig_memo_t *af_sig_memo(af_sig_cache_t *tc, int field, af_str_t v)
{
	af_sig_memo_t *e;
	uint64_t h;

	if(tc->mstamp[field] == tc->call) {
		if(tc->mslot[field] < 0)
			return NULL;
		e = &tc->memo[tc->mslot[field]];
		return e->field == field + 1 && e->hash == tc->mhash[field] ? e
																	: NULL;
	}
	tc->mstamp[field] = tc->call;
	tc->mslot[field] = -1;
	if(!tc->memo || v.len > AF_SIG_MEMO_KEY)
		return NULL;
	h = af_sig_memo_hash(field, v.s, v.len);
	e = &tc->memo[h & (AF_SIG_MEMO_SLOTS - 1)];
	if(e->hash != h || e->field != field + 1 || e->len != v.len
			|| memcmp(e->key, v.s, v.len) != 0) {
		e->hash = h;
		e->field = (uint8_t)(field + 1);
		e->len = (uint16_t)v.len;
		memcpy(e->key, v.s, v.len);
		e->known = 0;
		e->val = 0;
	}
	tc->mslot[field] = (int32_t)(h & (AF_SIG_MEMO_SLOTS - 1));
	tc->mhash[field] = h;
	return e;
}

/*
 * Returns 1 when pattern i of set matches its feature in fm: known at
 * load for a missing feature, remembered for the request when several
 * signatures share it, remembered by value across requests for the
 * features that recur (af_sig_memo_field), else run with the JIT (or
 * the interpreter). A failed match (a limit hit) counts as no match,
 * with one warning (and is not remembered across requests).
 */
static int af_sig_re_match(af_sig_cache_t *tc, const af_sigset_t *set,
		uint32_t i, const af_fp_msg_t *fm)
{
	const af_sig_re_t *re = &set->re[i];
	const pcre2_code *code;
	af_sig_memo_t *e = NULL;
	uint64_t bit = 0;
	af_str_t v;
	int rc;

	v = af_sig_feature(fm, re->field);
	if(v.len == 0)
		return re->empty;
	if(af_re_filter_refuses(&re->filter, v.s, v.len))
		return 0;
	if(tc->n) {
		if(tc->stamp[i] == tc->call)
			return tc->val[i];
		if(tc->fpos[i] != AF_SIG_MEMO_NONE) {
			e = af_sig_memo(tc, re->field, v);
			bit = (uint64_t)1 << tc->fpos[i];
			if(e && (e->known & bit))
				return (e->val & bit) != 0;
		}
		if(tc->jit[i])
			rc = pcre2_jit_match(tc->code[i], (PCRE2_SPTR)v.s, v.len, 0, 0,
					tc->md, tc->mctx);
		else
			rc = pcre2_match(tc->code[i] ? tc->code[i] : re->code,
					(PCRE2_SPTR)v.s, v.len, 0, 0, tc->md, tc->mctx);
	} else {
		if(!tc->md)
			return 0;
		code = re->code;
		rc = pcre2_match(code, (PCRE2_SPTR)v.s, v.len, 0, 0, tc->md, tc->mctx);
	}
	if(rc < 0 && rc != PCRE2_ERROR_NOMATCH && !tc->warned) {
		tc->warned = 1;
		AF_WARN("signature pattern '%s': match failed (error %d), counted as"
				" no match; further failures are not logged\n",
				re->src, rc);
	}
	if(tc->n) {
		tc->stamp[i] = tc->call;
		tc->val[i] = rc >= 0;
	}
	if(e && (rc >= 0 || rc == PCRE2_ERROR_NOMATCH)) {
		e->known |= bit;
		if(rc >= 0)
			e->val |= bit;
	}
	return rc >= 0;
}

/*
 * Returns the bits of the set's header name table that fm's header
 * order holds.
 */
static uint64_t af_sig_hmask(const af_sigset_t *set, const af_fp_msg_t *fm)
{
	const char *p = fm->order, *e = fm->order + fm->order_len, *comma;
	uint64_t mask = 0;
	uint32_t slot;
	size_t len;
	unsigned i;

	while(p < e) {
		comma = memchr(p, ',', (size_t)(e - p));
		if(!comma)
			comma = e;
		len = (size_t)(comma - p);
		if(len == 0) {
			p = comma + 1;
			continue;
		}
		slot = af_sig_hash(p, len) & (AF_SIG_HTAB - 1);
		while(set->htab[slot]) {
			i = set->htab[slot] - 1u;
			if(set->hname_len[i] == len
					&& memcmp(set->hname[i], p, len) == 0) {
				mask |= (uint64_t)1 << i;
				break;
			}
			slot = (slot + 1) & (AF_SIG_HTAB - 1);
		}
		p = comma + 1;
	}
	return mask;
}

/*
 * Returns 1 when fm meets the exact conditions of sig (fingerprint,
 * shape, flags, headers), 0 when not. *hmask is fm's header bits
 * (af_sig_hmask()), made at the first need: AF_SIG_HMASK_NONE until.
 */
static int af_sig_exact(const af_sigset_t *set, const af_sig_t *sig,
		const af_fp_msg_t *fm, uint64_t *hmask)
{
	uint32_t j;

	if(sig->n_fp) {
		for(j = 0; j < sig->n_fp && sig->fp[j] != fm->hash; j++)
			;
		if(j == sig->n_fp)
			return 0;
	}
	if(sig->shape
			&& (sig->shape_len != fm->shape_len
					|| memcmp(sig->shape, fm->shape, fm->shape_len) != 0))
		return 0;
	if(sig->compact >= 0 && sig->compact != (fm->compact != 0))
		return 0;
	if(sig->cl_mismatch >= 0 && sig->cl_mismatch != af_fp_cl_mismatch(fm))
		return 0;
	if(sig->present | sig->absent) {
		if(*hmask == AF_SIG_HMASK_NONE)
			*hmask = af_sig_hmask(set, fm);
		if((*hmask & sig->present) != sig->present || (*hmask & sig->absent))
			return 0;
	}
	return 1;
}

/*
 * Matches fm against every signature of set, in file order: first the
 * cheap exact conditions (fingerprint, shape, flags, headers), then the
 * patterns. Stores the first max hits in hits and returns how many
 * signatures matched. The first call of a process (thread) for a set
 * builds its cache (see af_sig_cache_build()); later calls allocate
 * nothing.
 */
int af_sig_match(const af_sigset_t *set, const af_fp_msg_t *fm,
		af_sig_hit_t *hits, int max)
{
	af_sig_cache_t *tc = &af_sig_tc;
	const af_sig_t *sig, *end;
	uint64_t hmask = AF_SIG_HMASK_NONE;
	uint32_t j;
	int n = 0;

	if(!set || !fm || set->n_sig == 0)
		return 0;
	if(tc->set != set || tc->stale || tc->seq != set->seq
			|| tc->pid != set->pid || tc->loaded_ms != set->loaded_ms)
		af_sig_cache_build(tc, set);
	if(++tc->call == 0) {
		if(tc->n)
			memset(tc->stamp, 0, tc->n * sizeof(*tc->stamp));
		memset(tc->mstamp, 0, sizeof(tc->mstamp));
		tc->call = 1;
	}
	for(sig = set->sig, end = set->sig + set->n_sig; sig < end; sig++) {
		if(sig->exact && !af_sig_exact(set, sig, fm, &hmask))
			continue;
		for(j = 0; j < sig->n_re; j++) {
			if(!af_sig_re_match(tc, set, sig->re[j], fm))
				break;
		}
		if(j < sig->n_re)
			continue;
		if(hits && n < max) {
			hits[n].name = sig->name;
			hits[n].action = sig->action;
			hits[n].score = sig->score;
		}
		n++;
	}
	return n;
}

/*
 * Returns how many patterns of set this process (thread) has
 * JIT-compiled in its cache, or -1 when its cache is not for set (no
 * match yet, another set, or inherited through fork()).
 */
int af_sig_jit_count(const af_sigset_t *set)
{
	af_sig_cache_t *tc = &af_sig_tc;

	if(!set || tc->set != set || tc->stale || tc->seq != set->seq
			|| tc->pid != set->pid || tc->loaded_ms != set->loaded_ms)
		return -1;
	return (int)tc->n_jit;
}
