/*
 * antifraud - the number plan (longest E.164 prefix to country, zone,
 * class and risk) and the normalization of dialed numbers into E.164.
 *
 * Loading reads each file line by line into a temporary 10-ary trie on
 * the heap (one node a digit, 40 bytes of child indices), which finds a
 * prefix given twice in a file as soon as its line is read. The result is
 * then laid out into the arena as a compact trie: 8 bytes a node, the
 * children of a node stored next to each other in breadth-first order, so
 * that a node holds only a 10-bit mask of the digits it has children for
 * and the index of its first child; child d is at first + the number of
 * mask bits below d. The row of a prefix fits in 19 bits and is stored in
 * its node (country as two letters' ranks, zone, class, risk), so there is
 * no row table. The plan and the overlays get one such trie each.
 *
 * A lookup walks at most 15 nodes, remembering the last one holding a
 * row; it reads only the arena and allocates nothing.
 *
 * Dialing data ('# dialing:' lines) is kept as an array of af_dialing_t
 * sorted by region.
 *
 * Normalization works on a copy of the dialed string on the stack. Only
 * an international prefix given as a pattern (BR, KR, CO, ...) needs
 * PCRE2 at run time: its match data is one block per process (thread-local,
 * so per thread too), created on the first such match with PCRE2's
 * default (malloc) allocator and kept for the life of the process (a
 * forked worker has its own: a copy of its parent's, or one made on first
 * use); no call allocates after that.
 * The pattern itself is compiled into the arena.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcre2.h>
#include "af_file.h"
#include "af_host.h"
#include "af_numplan.h"

/* a node of the compact trie in the arena */
typedef struct af_np_node {
	uint32_t link; /* index of the first child << 10 | mask of digits */
	uint32_t val;  /* packed row (AF_NP_ROW), 0 when none ends here */
} af_np_node_t;

#define AF_NP_MASK_BITS 10
#define AF_NP_MAX_NODES (1u << (32 - AF_NP_MASK_BITS))

/*
 * A packed row: bit 31 set, country letters' ranks (26 * first + second)
 * in bits 0-9, zone in bits 10-12, class in bits 13-16, risk in 17-18.
 */
#define AF_NP_ROW (1u << 31)
#define AF_NP_PACK(cty, zone, cls, risk)                            \
	(AF_NP_ROW | (uint32_t)(cty) | (uint32_t)(zone) << 10            \
			| (uint32_t)(cls) << 13 | (uint32_t)(risk) << 17)

typedef struct af_np_trie {
	const af_np_node_t *nodes; /* node 0 is the root; NULL when empty */
	uint32_t n_nodes;
	uint32_t rows; /* prefixes holding a row */
} af_np_trie_t;

struct af_numplan {
	af_np_trie_t plan;
	af_np_trie_t overlay;
	const af_dialing_t *dialing; /* sorted by region */
	uint32_t n_dialing;
};

static const char *const af_np_zones[8] = {
		"AF", "AN", "AS", "EU", "NA", "OC", "SA", "XN"};

static const char *const af_numclass_names[AF_NC__COUNT] = {
		[AF_NC_UNKNOWN] = "unknown",
		[AF_NC_FIXED] = "fixed",
		[AF_NC_MOBILE] = "mobile",
		[AF_NC_PREMIUM] = "premium",
		[AF_NC_SHARED_COST] = "shared_cost",
		[AF_NC_TOLL_FREE] = "toll_free",
		[AF_NC_PERSONAL] = "personal",
		[AF_NC_UAN] = "uan",
		[AF_NC_VOIP] = "voip",
		[AF_NC_PAGER] = "pager",
		[AF_NC_VOICEMAIL] = "voicemail",
		[AF_NC_SATELLITE] = "satellite",
		[AF_NC_INTERNATIONAL] = "international",
		[AF_NC_SPECIAL] = "special",
		[AF_NC_SHORT] = "short",
};

/* Returns the name of class c, "unknown" for a value out of range. */
const char *af_numclass_name(af_numclass_t c)
{
	if((unsigned)c >= AF_NC__COUNT)
		return af_numclass_names[AF_NC_UNKNOWN];
	return af_numclass_names[c];
}

/* Returns the class named s[0..len), or -1 when no class has that name. */
int af_numclass_parse(const char *s, size_t len)
{
	int i;

	if(!s)
		return -1;
	for(i = 0; i < AF_NC__COUNT; i++) {
		if(strlen(af_numclass_names[i]) == len
				&& memcmp(af_numclass_names[i], s, len) == 0)
			return i;
	}
	return -1;
}

/* Returns 1 when s[0..len) is 1 to max decimal digits. */
static int af_np_digits(const char *s, size_t len, size_t max)
{
	size_t i;

	if(len == 0 || len > max)
		return 0;
	for(i = 0; i < len; i++) {
		if(s[i] < '0' || s[i] > '9')
			return 0;
	}
	return 1;
}

/* Returns 1 when s[0..len) is two capital letters. */
static int af_np_region_ok(const char *s, size_t len)
{
	return len == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A'
		   && s[1] <= 'Z';
}

/* Returns the rank (0..675) of the two capital letters at s. */
static inline unsigned af_np_region_rank(const char *s)
{
	return (unsigned)(s[0] - 'A') * 26 + (unsigned)(s[1] - 'A');
}

/*
 * Loading: the temporary heap trie, one node a digit, child 0 meaning
 * none (the root is never a child).
 */
typedef struct af_np_bnode {
	uint32_t child[10];
	uint32_t val;  /* packed row, 0: none */
	uint32_t line; /* line of the row */
	uint32_t file; /* file of the row: 0 the plan, 1.. the overlays */
} af_np_bnode_t;

typedef struct af_np_btrie {
	af_np_bnode_t *n;
	uint32_t count;
	uint32_t cap;
	uint32_t rows;
} af_np_btrie_t;

/* a region's dialing data while loading */
typedef struct af_np_bdial {
	af_dialing_t d;
	uint32_t line;
	uint32_t file;
	int set;
} af_np_bdial_t;

/* what a load carries from line to line */
typedef struct af_np_load {
	af_np_btrie_t plan;
	af_np_btrie_t overlay;
	af_np_bdial_t *dial; /* 676 slots, by region rank */
	uint32_t n_dial;
	const char *path; /* file being read */
	uint32_t file;    /* its number: 0 the plan, 1.. the overlays */
	unsigned line;
	char *err;
	size_t errlen;
} af_np_load_t;

/*
 * Writes "path:line: message" into the load's err, every byte outside
 * printable ASCII escaped (af_text_escape_max()); returns -1.
 */
static int af_np_err(af_np_load_t *c, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

static int af_np_err(af_np_load_t *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	if(!c->err || c->errlen == 0)
		return -1;
	n = snprintf(msg, sizeof(msg), "%s:%u: ", c->path, c->line);
	if(n >= 0 && (size_t)n < sizeof(msg)) {
		va_start(ap, fmt);
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	af_text_escape_max(c->err, c->errlen, msg, strlen(msg), sizeof(msg));
	return -1;
}

/* bytes of a bad value quoted in a message */
#define AF_NP_SHOW(len) \
	((len) > AF_EXCERPT_MAX ? AF_EXCERPT_MAX : (int)(len))

/*
 * Appends a zeroed node to trie t; returns its index, or UINT32_MAX when
 * out of memory.
 */
static uint32_t af_np_bnode_new(af_np_btrie_t *t)
{
	af_np_bnode_t *n;
	uint32_t cap;

	if(t->count == t->cap) {
		if(t->cap >= AF_NP_MAX_NODES)
			return UINT32_MAX;
		cap = t->cap ? t->cap * 2 : 1024;
		n = realloc(t->n, (size_t)cap * sizeof(*n));
		if(!n)
			return UINT32_MAX;
		t->n = n;
		t->cap = cap;
	}
	memset(&t->n[t->count], 0, sizeof(t->n[0]));
	return t->count++;
}

/*
 * Sets the row of prefix p[0..len) (digits) in trie t to val, read at
 * line of file. Returns 0; 1 when the same file gave the prefix already
 * (*prev its line, nothing changed); -1 when out of memory. A prefix from
 * an earlier file is replaced.
 */
static int af_np_binsert(af_np_btrie_t *t, const char *p, size_t len,
		uint32_t val, uint32_t file, uint32_t line, uint32_t *prev)
{
	uint32_t at = 0, next;
	size_t i;
	unsigned d;

	if(t->count == 0 && af_np_bnode_new(t) == UINT32_MAX)
		return -1;
	for(i = 0; i < len; i++) {
		d = (unsigned)(p[i] - '0');
		next = t->n[at].child[d];
		if(!next) {
			next = af_np_bnode_new(t);
			if(next == UINT32_MAX)
				return -1;
			t->n[at].child[d] = next;
		}
		at = next;
	}
	if(t->n[at].val) {
		if(t->n[at].file == file) {
			*prev = t->n[at].line;
			return 1;
		}
	} else {
		t->rows++;
	}
	t->n[at].val = val;
	t->n[at].file = file;
	t->n[at].line = line;
	return 0;
}

/*
 * Lays heap trie b out into arena a as a compact trie in out:
 * breadth-first, so that the children of every node are consecutive.
 * Returns 0, or -1 when out of memory.
 */
static int af_np_compact(
		af_arena_t *a, const af_np_btrie_t *b, af_np_trie_t *out)
{
	af_np_node_t *nodes;
	const af_np_bnode_t *bn;
	uint32_t *order, next = 1, i, mask, first;
	unsigned d;

	memset(out, 0, sizeof(*out));
	if(b->count == 0)
		return 0;
	nodes = af_arena_alloc(a, (size_t)b->count * sizeof(*nodes));
	order = malloc((size_t)b->count * sizeof(*order));
	if(!nodes || !order) {
		free(order);
		return -1;
	}
	order[0] = 0;
	for(i = 0; i < next; i++) {
		bn = &b->n[order[i]];
		first = next;
		mask = 0;
		for(d = 0; d < 10; d++) {
			if(bn->child[d]) {
				order[next++] = bn->child[d];
				mask |= 1u << d;
			}
		}
		nodes[i].link = first << AF_NP_MASK_BITS | mask;
		nodes[i].val = bn->val;
	}
	free(order);
	out->nodes = nodes;
	out->n_nodes = b->count;
	out->rows = b->rows;
	return 0;
}

/*
 * Splits s[0..len) at commas into at most max fields (f, flen); returns
 * the number of fields the line has, which may be more than max.
 */
static unsigned af_np_split(const char *s, size_t len, const char **f,
		size_t *flen, unsigned max)
{
	unsigned n = 0;
	size_t i, start = 0;

	for(i = 0; i <= len; i++) {
		if(i < len && s[i] != ',')
			continue;
		if(n < max) {
			f[n] = s + start;
			flen[n] = i - start;
		}
		n++;
		start = i + 1;
	}
	return n;
}

/* Returns the zone index of s[0..len), or -1. */
static int af_np_zone(const char *s, size_t len)
{
	int i;

	if(len != 2)
		return -1;
	for(i = 0; i < 8; i++) {
		if(s[0] == af_np_zones[i][0] && s[1] == af_np_zones[i][1])
			return i;
	}
	return -1;
}

/*
 * Reads the data line s[0..len) of the file being loaded into the plan
 * or overlay trie. Returns 0, or -1 with the error set.
 */
static int af_np_row(af_np_load_t *c, const char *s, size_t len)
{
	const char *f[5];
	size_t fl[5];
	unsigned n;
	int zone, cls;
	uint32_t prev, val;
	af_np_btrie_t *t;

	n = af_np_split(s, len, f, fl, 5);
	if(n != 5)
		return af_np_err(c,
				"expected 5 columns prefix,country,zone,class,risk, found %u",
				n);
	if(!af_np_digits(f[0], fl[0], AF_E164_MAX))
		return af_np_err(c, "prefix must be 1 to %d digits: '%.*s'",
				AF_E164_MAX, AF_NP_SHOW(fl[0]), f[0]);
	if(!af_np_region_ok(f[1], fl[1]))
		return af_np_err(c, "country must be two capital letters: '%.*s'",
				AF_NP_SHOW(fl[1]), f[1]);
	zone = af_np_zone(f[2], fl[2]);
	if(zone < 0)
		return af_np_err(c,
				"zone must be one of AF AN AS EU NA OC SA XN: '%.*s'",
				AF_NP_SHOW(fl[2]), f[2]);
	cls = af_numclass_parse(f[3], fl[3]);
	if(cls == AF_NC_SHORT)
		return af_np_err(c, "class 'short' is not allowed in a plan file");
	if(cls < 0)
		return af_np_err(c, "unknown class '%.*s'", AF_NP_SHOW(fl[3]), f[3]);
	if(fl[4] != 1 || f[4][0] < '0' || f[4][0] > '3')
		return af_np_err(c, "risk must be 0..3: '%.*s'", AF_NP_SHOW(fl[4]),
				f[4]);
	val = AF_NP_PACK(af_np_region_rank(f[1]), zone, cls, f[4][0] - '0');
	t = c->file == 0 ? &c->plan : &c->overlay;
	switch(af_np_binsert(t, f[0], fl[0], val, c->file, c->line, &prev)) {
		case 0:
			return 0;
		case 1:
			return af_np_err(c, "prefix %.*s already on line %u",
					(int)fl[0], f[0], prev);
		default:
			return af_np_err(c, "out of memory");
	}
}

/* Returns 1 for the blanks between the words of a comment line. */
static inline int af_np_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Splits s[0..len) at blanks into at most max words (w, wlen); returns
 * the number of words, which may be more than max.
 */
static unsigned af_np_words(const char *s, size_t len, const char **w,
		size_t *wlen, unsigned max)
{
	unsigned n = 0;
	size_t i = 0, start;

	while(i < len) {
		while(i < len && af_np_blank(s[i]))
			i++;
		if(i == len)
			break;
		start = i;
		while(i < len && !af_np_blank(s[i]))
			i++;
		if(n < max) {
			w[n] = s + start;
			wlen[n] = i - start;
		}
		n++;
	}
	return n;
}

/*
 * Reads the comment line s[0..len) (after its '#'): a
 * "dialing: REGION CC NATIONAL_PREFIX INTERNATIONAL_PREFIX" line whose
 * REGION is two capital letters and CC digits sets the region's dialing
 * data; any other comment is ignored. Returns 0, or -1 with the error
 * set.
 */
static int af_np_comment(af_np_load_t *c, const char *s, size_t len)
{
	static const char tag[] = "dialing:";
	const char *w[5];
	size_t wl[5];
	unsigned n;
	af_np_bdial_t *b;
	af_dialing_t *d;

	while(len && af_np_blank(*s)) {
		s++;
		len--;
	}
	if(len < sizeof(tag) - 1 || memcmp(s, tag, sizeof(tag) - 1) != 0)
		return 0;
	n = af_np_words(s + sizeof(tag) - 1, len - (sizeof(tag) - 1), w, wl, 5);
	if(n < 2 || !af_np_region_ok(w[0], wl[0])
			|| !af_np_digits(w[1], wl[1], wl[1]))
		return 0;
	if(n != 4)
		return af_np_err(c, "dialing: expected REGION CC NATIONAL_PREFIX "
							"INTERNATIONAL_PREFIX, found %u words",
				n);
	if(wl[1] > 3)
		return af_np_err(c, "dialing: country code must be 1 to 3 digits: "
							"'%.*s'",
				AF_NP_SHOW(wl[1]), w[1]);
	if(!(wl[2] == 1 && w[2][0] == '-')
			&& !af_np_digits(w[2], wl[2], sizeof(d->national_prefix) - 1))
		return af_np_err(c, "dialing: national prefix must be '-' or 1 to "
							"%zu digits: '%.*s'",
				sizeof(d->national_prefix) - 1, AF_NP_SHOW(wl[2]), w[2]);
	if(wl[3] >= sizeof(d->intl_prefix))
		return af_np_err(c, "dialing: international prefix longer than %zu "
							"characters",
				sizeof(d->intl_prefix) - 1);
	b = &c->dial[af_np_region_rank(w[0])];
	if(b->set && b->file == c->file)
		return af_np_err(c, "dialing: region %.2s already on line %u", w[0],
				b->line);
	if(!b->set)
		c->n_dial++;
	memset(b, 0, sizeof(*b));
	b->set = 1;
	b->file = c->file;
	b->line = c->line;
	d = &b->d;
	memcpy(d->region, w[0], 2);
	memcpy(d->cc, w[1], wl[1]);
	if(w[2][0] != '-')
		memcpy(d->national_prefix, w[2], wl[2]);
	if(!(wl[3] == 1 && w[3][0] == '-'))
		memcpy(d->intl_prefix, w[3], wl[3]);
	return 0;
}

/*
 * Reads one line s[0..len) (its line end removed) of the file being
 * loaded. Returns 0, or -1 with the error set.
 */
static int af_np_line(af_np_load_t *c, const char *s, size_t len)
{
	size_t i = 0;

	while(i < len && af_np_blank(s[i]))
		i++;
	if(i == len)
		return 0;
	if(s[i] == '#')
		return af_np_comment(c, s + i + 1, len - i - 1);
	return af_np_row(c, s, len);
}

/*
 * Reads the file at path, number file of the load (0 the plan), with
 * af_file_read() (a regular file within the number plan size limit).
 * Returns 0, or -1 with the error set.
 */
static int af_np_file(af_np_load_t *c, const char *path, uint32_t file)
{
	char *data, *s, *end, *eol;
	size_t len, n;
	int ret = 0;

	c->path = path;
	c->file = file;
	c->line = 0;
	if(af_file_read(path, AF_FILE_NUMPLAN, &data, &n, c->err, c->errlen) < 0)
		return -1;
	for(s = data, end = data + n; s < end && ret == 0; s = eol + 1) {
		eol = memchr(s, '\n', (size_t)(end - s));
		if(!eol)
			eol = end;
		c->line++;
		len = (size_t)(eol - s);
		if(len && s[len - 1] == '\r')
			len--;
		/* a UTF-8 byte order mark, as spreadsheets write */
		if(c->line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			len -= 3;
		}
		if(af_np_line(c, s, len) < 0)
			ret = -1;
	}
	free(data);
	return ret;
}

/*
 * Copies the dialing data of the load into arena a as an array sorted by
 * region (the slots are in region order already). Returns 0, or -1 when
 * out of memory.
 */
static int af_np_dialing_out(af_arena_t *a, const af_np_load_t *c,
		af_numplan_t *np)
{
	af_dialing_t *out;
	uint32_t i, k = 0;

	if(c->n_dial == 0)
		return 0;
	out = af_arena_alloc(a, (size_t)c->n_dial * sizeof(*out));
	if(!out)
		return -1;
	for(i = 0; i < 26 * 26; i++) {
		if(c->dial[i].set)
			out[k++] = c->dial[i].d;
	}
	np->dialing = out;
	np->n_dialing = k;
	return 0;
}

/* Frees what a load took from the heap. */
static void af_np_load_free(af_np_load_t *c)
{
	free(c->plan.n);
	free(c->overlay.n);
	free(c->dial);
}

/*
 * Loads the plan file and the overlays into arena a (see the header).
 * Returns the plan, or NULL with the error in err.
 */
af_numplan_t *af_numplan_load(af_arena_t *a, const char *plan_path,
		const char *const *overlays, int n_overlays, char *err,
		size_t errlen)
{
	af_np_load_t c;
	af_numplan_t *np = NULL;
	int i;

	if(err && errlen)
		err[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.err = err;
	c.errlen = errlen;
	c.dial = calloc(26 * 26, sizeof(*c.dial));
	if(!a || !c.dial) {
		if(err && errlen)
			snprintf(err, errlen, "number plan: %s",
					a ? "out of memory" : "no arena");
		goto done;
	}
	if(plan_path && af_np_file(&c, plan_path, 0) < 0)
		goto done;
	for(i = 0; overlays && i < n_overlays; i++) {
		if(overlays[i] && af_np_file(&c, overlays[i], (uint32_t)i + 1) < 0)
			goto done;
	}
	np = af_arena_alloc(a, sizeof(*np));
	if(!np || af_np_compact(a, &c.plan, &np->plan) < 0
			|| af_np_compact(a, &c.overlay, &np->overlay) < 0
			|| af_np_dialing_out(a, &c, np) < 0) {
		if(err && errlen)
			snprintf(err, errlen, "number plan: out of memory");
		np = NULL;
	}

done:
	af_np_load_free(&c);
	return np;
}

/* the number of the digits below dig that link has a child for (a table
 * of nibbles: without a popcount instruction in the target, the builtin
 * is a library call) */
static inline unsigned af_np_below(uint32_t link, unsigned dig)
{
	static const uint8_t bits[16] = {
			0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
	uint32_t m = link & ((1u << dig) - 1);

	return (unsigned)bits[m & 15] + bits[(m >> 4) & 15] + bits[(m >> 8) & 3];
}

/*
 * Walks trie t along the digits d[0..len); returns the packed row of the
 * longest prefix holding one (0: none) and its length in *plen.
 */
static inline uint32_t af_np_walk(
		const af_np_trie_t *t, const char *d, size_t len, unsigned *plen)
{
	const af_np_node_t *n = t->nodes;
	uint32_t best = 0, link, bit;
	unsigned dig;
	size_t i;

	if(!n)
		return 0;
	if(len > AF_E164_MAX)
		len = AF_E164_MAX;
	for(i = 0;; i++) {
		if(n->val) {
			best = n->val;
			*plen = (unsigned)i;
		}
		if(i == len)
			break;
		dig = (unsigned)((unsigned char)d[i] - '0');
		if(dig > 9)
			break;
		link = n->link;
		bit = 1u << dig;
		if(!(link & bit))
			break;
		n = t->nodes + (link >> AF_NP_MASK_BITS) + af_np_below(link, dig);
	}
	return best;
}

/* Fills out from the packed row val. */
static void af_np_unpack(uint32_t val, unsigned plen, int overlay,
		af_numinfo_t *out)
{
	unsigned cty = val & 0x3ff, zone = (val >> 10) & 7;

	out->country[0] = (char)('A' + cty / 26);
	out->country[1] = (char)('A' + cty % 26);
	out->country[2] = '\0';
	out->zone[0] = af_np_zones[zone][0];
	out->zone[1] = af_np_zones[zone][1];
	out->zone[2] = '\0';
	out->cls = (uint8_t)((val >> 13) & 0xf);
	out->risk = (uint8_t)((val >> 17) & 3);
	out->prefix_len = (uint8_t)plen;
	out->overlay = (uint8_t)overlay;
}

/*
 * Longest prefix of d[0..len) in the overlays, else in the plan (see the
 * header). Returns 1 with out filled, or 0 with out zeroed.
 */
int af_numplan_lookup(const af_numplan_t *np, const char *d, size_t len,
		af_numinfo_t *out)
{
	uint32_t val;
	unsigned plen = 0;

	memset(out, 0, sizeof(*out));
	if(!np || !d)
		return 0;
	val = af_np_walk(&np->overlay, d, len, &plen);
	if(val) {
		af_np_unpack(val, plen, 1, out);
		return 1;
	}
	val = af_np_walk(&np->plan, d, len, &plen);
	if(val) {
		af_np_unpack(val, plen, 0, out);
		return 1;
	}
	return 0;
}

/* Returns the dialing data of region ("DE"), NULL when there is none. */
const af_dialing_t *af_numplan_dialing(
		const af_numplan_t *np, const char *region)
{
	uint32_t lo = 0, hi, mid;
	int cmp;

	if(!np || !region || !af_np_region_ok(region, strnlen(region, 3)))
		return NULL;
	hi = np->n_dialing;
	while(lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = memcmp(np->dialing[mid].region, region, 2);
		if(cmp == 0)
			return &np->dialing[mid];
		if(cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Returns the prefixes holding a row in the plan plus those in the
 * overlays (a prefix given by two overlay files counts once).
 */
uint32_t af_numplan_rows(const af_numplan_t *np)
{
	return np ? np->plan.rows + np->overlay.rows : 0;
}

/* longest strip prefix, in characters */
#define AF_NP_STRIP_MAX 16

/* Returns 1 when s is 1 to AF_NP_STRIP_MAX of the characters 0-9 * #. */
static int af_np_strip_ok(const char *s)
{
	size_t i, len = strnlen(s, AF_NP_STRIP_MAX + 1);

	if(len == 0 || len > AF_NP_STRIP_MAX)
		return 0;
	for(i = 0; i < len; i++) {
		if(!(s[i] >= '0' && s[i] <= '9') && s[i] != '*' && s[i] != '#')
			return 0;
	}
	return 1;
}

/* Sorts the n strings of v longest first, keeping the order of equals. */
static void af_np_sort_longest(const char **v, uint32_t n)
{
	uint32_t i, j;
	const char *s;

	for(i = 1; i < n; i++) {
		s = v[i];
		for(j = i; j > 0 && strlen(v[j - 1]) < strlen(s); j--)
			v[j] = v[j - 1];
		v[j] = s;
	}
}

/*
 * Copies the n strings of src into a list in arena a, sorted longest
 * first, in *out and *n_out. what names them in err when one is not
 * valid: digits (1 to AF_E164_MAX) unless strip, else af_np_strip_ok().
 * Returns 0, or -1 with err set.
 */
static int af_np_list(af_arena_t *a, const char *const *src, int n,
		int strip, const char *what, const char ***out, uint32_t *n_out,
		char *err, size_t errlen)
{
	const char **v;
	int i, ok;

	*out = NULL;
	*n_out = 0;
	if(n <= 0)
		return 0;
	v = af_arena_alloc(a, (size_t)n * sizeof(*v));
	if(!v)
		goto oom;
	for(i = 0; i < n; i++) {
		if(!src[i])
			ok = 0;
		else if(strip)
			ok = af_np_strip_ok(src[i]);
		else
			ok = af_np_digits(src[i], strnlen(src[i], AF_E164_MAX + 1),
					AF_E164_MAX);
		if(!ok) {
			snprintf(err, errlen, "%s prefix '%.*s' must be 1 to %d %s", what,
					src[i] ? AF_NP_SHOW(strlen(src[i])) : 0,
					src[i] ? src[i] : "",
					strip ? AF_NP_STRIP_MAX : AF_E164_MAX,
					strip ? "of 0-9 * #" : "digits");
			return -1;
		}
		v[i] = af_arena_strndup(a, src[i], strlen(src[i]));
		if(!v[i])
			goto oom;
	}
	af_np_sort_longest(v, (uint32_t)n);
	*out = v;
	*n_out = (uint32_t)n;
	return 0;

oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* PCRE2 allocator over the arena in data: the pattern lives with the plan */
static void *af_np_re_alloc(size_t size, void *data)
{
	return af_arena_alloc(data, size);
}

/* PCRE2 free over the arena: nothing, the arena goes as a whole */
static void af_np_re_free(void *p, void *data)
{
	(void)p;
	(void)data;
}

/*
 * Compiles the international prefix pattern re (libphonenumber's
 * notation, '~' already removed) of region, anchored, into arena a.
 * Returns the code, or NULL with err set.
 */
static pcre2_code *af_np_compile(af_arena_t *a, const char *re,
		const char *region, char *err, size_t errlen)
{
	pcre2_general_context *gctx;
	pcre2_compile_context *cctx = NULL;
	pcre2_code *code;
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	int ec;

	gctx = pcre2_general_context_create(af_np_re_alloc, af_np_re_free, a);
	if(gctx)
		cctx = pcre2_compile_context_create(gctx);
	if(!cctx) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
			PCRE2_ANCHORED, &ec, &off, cctx);
	if(!code) {
		if(pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", ec);
		snprintf(err, errlen,
				"bad international prefix pattern '%s' for region %s in the "
				"number plan: %s at offset %zu",
				re, region, (const char *)msg, (size_t)off);
	}
	return code;
}

/*
 * Takes the plan's international prefix of the region (dg) into out: none,
 * one literal when it is digits once any '~' (second dial tone) is
 * removed, else the compiled pattern in out->intl_re. Returns 0, or -1
 * with err set.
 */
static int af_np_plan_intl(af_arena_t *a, const af_dialing_t *dg,
		af_dialplan_t *out, char *err, size_t errlen)
{
	char re[sizeof(dg->intl_prefix)];
	const char **v;
	size_t i, k = 0;

	for(i = 0; i < sizeof(dg->intl_prefix) && dg->intl_prefix[i]; i++) {
		if(dg->intl_prefix[i] != '~')
			re[k++] = dg->intl_prefix[i];
	}
	re[k] = '\0';
	if(k == 0)
		return 0;
	if(af_np_digits(re, k, AF_E164_MAX)) {
		v = af_arena_alloc(a, sizeof(*v));
		if(!v || !(v[0] = af_arena_strndup(a, re, k))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		out->intl = v;
		out->n_intl = 1;
		return 0;
	}
	out->intl_re = af_np_compile(a, re, out->region, err, errlen);
	return out->intl_re ? 0 : -1;
}

/*
 * Builds the dialplan of region from the plan's dialing data and the
 * profile's overrides (see the header). Returns 0, or -1 with err set.
 */
int af_dialplan_build(af_arena_t *a, const af_numplan_t *np,
		const char *region, const char *const *national, int n_national,
		const char *const *intl, int n_intl, const char *const *strip,
		int n_strip, uint32_t short_max, af_dialplan_t *out, char *err,
		size_t errlen)
{
	const af_dialing_t *dg;
	const char *nat[1];
	char none[1];

	memset(out, 0, sizeof(*out));
	if(!err || errlen == 0) {
		err = none;
		errlen = sizeof(none);
	}
	err[0] = '\0';
	dg = af_numplan_dialing(np, region);
	if(!dg) {
		snprintf(err, errlen, "no dialing data for region %.*s in the "
							  "number plan",
				region ? AF_NP_SHOW(strnlen(region, 40)) : 0,
				region ? region : "");
		return -1;
	}
	if(short_max > AF_E164_MAX) {
		snprintf(err, errlen, "short codes have at most %d digits, not %u",
				AF_E164_MAX, short_max);
		return -1;
	}
	memcpy(out->cc, dg->cc, sizeof(out->cc));
	memcpy(out->region, dg->region, sizeof(out->region));
	out->short_max = short_max;
	if(!national) {
		nat[0] = dg->national_prefix;
		national = nat;
		n_national = dg->national_prefix[0] ? 1 : 0;
	}
	if(af_np_list(a, national, n_national, 0, "national", &out->national,
			   &out->n_national, err, errlen)
					< 0
			|| af_np_list(a, strip, n_strip, 1, "strip", &out->strip,
					   &out->n_strip, err, errlen)
					   < 0)
		return -1;
	if(intl)
		return af_np_list(a, intl, n_intl, 0, "international", &out->intl,
				&out->n_intl, err, errlen);
	return af_np_plan_intl(a, dg, out, err, errlen);
}

/* dialed characters kept for normalization, separators dropped */
#define AF_NP_DIAL_MAX 64

/* Returns the value of hex digit c, or -1. */
static inline int af_np_hex(char c)
{
	if(c >= '0' && c <= '9')
		return c - '0';
	if(c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if(c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* what af_np_clean does with a dialed character: kept (0-9 + * #),
 * dropped (a visual separator), the end (';'), %XX, else not a number */
enum { AF_NP_NAN = 0, AF_NP_KEEP, AF_NP_SEP, AF_NP_END, AF_NP_PCT };
static const uint8_t af_np_class[256] = {
		['0' ... '9'] = AF_NP_KEEP,
		['+'] = AF_NP_KEEP,
		['*'] = AF_NP_KEEP,
		['#'] = AF_NP_KEEP,
		['-'] = AF_NP_SEP,
		['.'] = AF_NP_SEP,
		['('] = AF_NP_SEP,
		[')'] = AF_NP_SEP,
		[' '] = AF_NP_SEP,
		[';'] = AF_NP_END,
		['%'] = AF_NP_PCT,
};

/*
 * Copies the dialed s[0..len) into buf (AF_NP_DIAL_MAX bytes) up to the
 * first ';', without visual separators ("-.() "), %23 and %2A decoded.
 * Returns the length, or -1 with *why set when a character is not one of
 * 0-9 + * # or the result is too long. One look-up in af_np_class per
 * character: this runs on every call.
 */
static int af_np_clean(const char *s, size_t len, char *buf, const char **why)
{
	size_t i;
	int k = 0, h, l;
	char c;

	for(i = 0; i < len; i++) {
		c = s[i];
		switch(af_np_class[(unsigned char)c]) {
			case AF_NP_KEEP:
				break;
			case AF_NP_SEP:
				continue;
			case AF_NP_END:
				return k;
			case AF_NP_PCT:
				if(len - i < 3 || (h = af_np_hex(s[i + 1])) < 0
						|| (l = af_np_hex(s[i + 2])) < 0)
					goto nan;
				c = (char)(h << 4 | l);
				if(c != '#' && c != '*')
					goto nan;
				i += 2;
				break;
			default:
				goto nan;
		}
		if(k == AF_NP_DIAL_MAX) {
			*why = "too long";
			return -1;
		}
		buf[k++] = c;
	}
	return k;

nan:
	*why = "not a number";
	return -1;
}

/* Sets out to the invalid number why; returns AF_NUM_INVALID. */
static af_numkind_t af_np_invalid(af_number_t *out, const char *why)
{
	out->kind = AF_NUM_INVALID;
	out->digits[0] = '\0';
	out->len = 0;
	out->why = why;
	return AF_NUM_INVALID;
}

/*
 * Sets out to the E.164 number cc[0..cl) d[0..n) of kind, when it has 4
 * to 15 digits and does not start with 0. Returns out->kind.
 */
static af_numkind_t af_np_e164(af_number_t *out, const char *cc, size_t cl,
		const char *d, size_t n, af_numkind_t kind)
{
	const char *first = cl ? cc : d;

	if(cl + n == 0)
		return af_np_invalid(out, "empty");
	if(first[0] == '0')
		return af_np_invalid(out, "country code starts with 0");
	if(cl + n > AF_E164_MAX)
		return af_np_invalid(out, "too long");
	if(cl + n < 4)
		return af_np_invalid(out, "too short");
	if(cl)
		memcpy(out->digits, cc, cl);
	memcpy(out->digits + cl, d, n);
	out->digits[cl + n] = '\0';
	out->len = (uint8_t)(cl + n);
	out->kind = kind;
	out->why = NULL;
	return kind;
}

/*
 * The match data for international prefix patterns: one per process (per
 * thread, should threads normalize), made on first use with PCRE2's
 * default allocator (malloc) and never freed; PCRE2 keeps its backtracking
 * frames in it, so later matches allocate nothing.
 */
static __thread pcre2_match_data *af_np_md;

/*
 * Returns the length of the international prefix of dp at the start of
 * d[0..n) (0: none), or -1 when the match data cannot be created.
 */
static int af_np_intl_len(const af_dialplan_t *dp, const char *d, size_t n)
{
	PCRE2_SIZE *ov;
	uint32_t i;
	size_t l;

	for(i = 0; i < dp->n_intl; i++) {
		l = strlen(dp->intl[i]);
		if(n >= l && memcmp(d, dp->intl[i], l) == 0)
			return (int)l;
	}
	if(!dp->intl_re || dp->n_intl)
		return 0;
	if(!af_np_md) {
		af_np_md = pcre2_match_data_create(1, NULL);
		if(!af_np_md)
			return -1;
	}
	if(pcre2_match(dp->intl_re, (PCRE2_SPTR)d, n, 0, 0, af_np_md, NULL) <= 0)
		return 0;
	ov = pcre2_get_ovector_pointer(af_np_md);
	return ov[0] == 0 ? (int)ov[1] : 0;
}

/*
 * Normalizes the dialed s[0..len) with dialplan dp into out (see the
 * header). Order: strip prefix, '+', international prefix, short code,
 * national prefix, else cc + the digits. Returns out->kind.
 */
af_numkind_t af_normalize(const af_dialplan_t *dp, const char *s, size_t len,
		af_number_t *out)
{
	char buf[AF_NP_DIAL_MAX];
	const char *why = NULL, *p = buf;
	size_t n, l, i;
	int k;

	memset(out, 0, sizeof(*out));
	if(!dp || (!s && len))
		return af_np_invalid(out, "not a number");
	k = af_np_clean(s, len, buf, &why);
	if(k < 0)
		return af_np_invalid(out, why);
	n = (size_t)k;
	for(i = 0; i < dp->n_strip; i++) {
		l = strlen(dp->strip[i]);
		if(n >= l && memcmp(p, dp->strip[i], l) == 0) {
			p += l;
			n -= l;
			break;
		}
	}
	if(n && p[0] == '+') {
		if(!af_np_digits(p + 1, n - 1, AF_NP_DIAL_MAX))
			return af_np_invalid(out, n == 1 ? "empty" : "not a number");
		return af_np_e164(out, NULL, 0, p + 1, n - 1, AF_NUM_E164);
	}
	if(n == 0)
		return af_np_invalid(out, "empty");
	if(!af_np_digits(p, n, AF_NP_DIAL_MAX))
		return af_np_invalid(out, "not a number");
	k = af_np_intl_len(dp, p, n);
	if(k < 0)
		return af_np_invalid(out, "out of memory");
	if(k > 0)
		return af_np_e164(out, NULL, 0, p + k, n - (size_t)k, AF_NUM_E164);
	if(n <= dp->short_max) {
		memcpy(out->digits, p, n);
		out->digits[n] = '\0';
		out->len = (uint8_t)n;
		out->kind = AF_NUM_SHORT;
		return AF_NUM_SHORT;
	}
	for(i = 0; i < dp->n_national; i++) {
		l = strlen(dp->national[i]);
		if(n > l && memcmp(p, dp->national[i], l) == 0) {
			p += l;
			n -= l;
			break;
		}
	}
	return af_np_e164(out, dp->cc, strlen(dp->cc), p, n, AF_NUM_NATIONAL);
}
