/*
 * antifraud - IPv4/IPv6 addresses and a longest-prefix-match CIDR trie
 * built into an arena (the string set is in af_strset.c).
 *
 * Trie keys are 128 bits held as two host-order 64-bit words, the address
 * left-aligned (an IPv4 address fills the top 32 bits of the first word),
 * so that both families share one node layout and one search loop.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "af_file.h"
#include "af_host.h"
#include "af_ip.h"

/* longest text inet_pton may be handed, without brackets */
#define AF_IP_TEXT_MAX (AF_IP_STRLEN - 1)

static const uint8_t af_ip_v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/*
 * Parses the address in s[0..len) into ip: dotted IPv4, IPv6 text, or
 * IPv6 in brackets as in SIP URIs. An IPv4-mapped IPv6 address is stored
 * as IPv4. s need not be NUL-terminated; an embedded NUL, surrounding
 * blanks or a zone index make it invalid. Returns 0, or -1 with ip
 * cleared.
 */
int af_ip_parse(const char *s, size_t len, af_ip_t *ip)
{
	char buf[AF_IP_STRLEN];
	uint8_t a6[16];
	int bracket = 0, v6;

	memset(ip, 0, sizeof(*ip));
	if(!s)
		return -1;
	if(len >= 2 && s[0] == '[') {
		if(s[len - 1] != ']')
			return -1;
		s++;
		len -= 2;
		bracket = 1;
	}
	if(len == 0 || len > AF_IP_TEXT_MAX || memchr(s, '\0', len))
		return -1;
	v6 = memchr(s, ':', len) != NULL;
	/* dotted IPv4 starts with a digit: a host name ends here, cheaply */
	if(!v6 && (bracket || s[0] < '0' || s[0] > '9'))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if(!v6) {
		if(inet_pton(AF_INET, buf, ip->addr) != 1)
			return -1;
		ip->family = 4;
		return 0;
	}
	if(inet_pton(AF_INET6, buf, a6) != 1)
		return -1;
	if(memcmp(a6, af_ip_v4mapped, sizeof(af_ip_v4mapped)) == 0) {
		memcpy(ip->addr, a6 + 12, 4);
		ip->family = 4;
	} else {
		memcpy(ip->addr, a6, 16);
		ip->family = 6;
	}
	return 0;
}

/*
 * Writes the text form of ip into buf of size bytes (AF_IP_STRLEN is
 * always enough), NUL-terminated. Returns its length, or -1 when ip is
 * unset or buf too small.
 */
int af_ip_format(const af_ip_t *ip, char *buf, size_t size)
{
	int af, i, len = 0;

	if(!ip || !buf || size == 0)
		return -1;
	buf[0] = '\0';
	if(ip->family == 4) {
		/* by hand: on the per-request path, and inet_ntop costs 10x */
		if(size < 16)
			return -1;
		for(i = 0; i < 4; i++) {
			unsigned v = ip->addr[i];
			if(i)
				buf[len++] = '.';
			if(v >= 100)
				buf[len++] = (char)('0' + v / 100);
			if(v >= 10)
				buf[len++] = (char)('0' + v / 10 % 10);
			buf[len++] = (char)('0' + v % 10);
		}
		buf[len] = '\0';
		return len;
	}
	if(ip->family == 6)
		af = AF_INET6;
	else
		return -1;
	if(size > (size_t)AF_IP_STRLEN)
		size = AF_IP_STRLEN;
	if(!inet_ntop(af, ip->addr, buf, (socklen_t)size)) {
		buf[0] = '\0';
		return -1;
	}
	return (int)strlen(buf);
}

/*
 * Returns 1 when a and b are the same address of the same family, 0
 * otherwise; bytes beyond the family's length are not compared.
 */
int af_ip_equal(const af_ip_t *a, const af_ip_t *b)
{
	if(a->family != b->family)
		return 0;
	if(a->family == 4)
		return memcmp(a->addr, b->addr, 4) == 0;
	if(a->family == 6)
		return memcmp(a->addr, b->addr, 16) == 0;
	return 1;
}

/* Clears the bits of ip beyond the first plen (0..128). */
static void af_ip_mask(af_ip_t *ip, int plen)
{
	int i;

	for(i = 0; i < 16; i++) {
		if(plen >= 8) {
			plen -= 8;
			continue;
		}
		ip->addr[i] &= (uint8_t)(0xff00 >> plen);
		plen = 0;
	}
}

/*
 * Parses "net/len" or a bare address (a host route) in s[0..len), s need
 * not be NUL-terminated, into net and *plen, with the host bits of net
 * cleared. A prefix on an IPv4-mapped IPv6 network ("::ffff:10.0.0.0/104")
 * must be at least 96 and becomes the IPv4 one (/8). Returns 0, or -1
 * with *why (if why is not NULL) set to a static message.
 */
int af_cidr_parse(const char *s, size_t len, af_ip_t *net, int *plen,
		const char **why)
{
	const char *slash, *p;
	size_t alen;
	int max, n, mapped;

	*plen = -1;
	slash = s ? memchr(s, '/', len) : NULL;
	alen = slash ? (size_t)(slash - s) : len;
	if(af_ip_parse(s, alen, net) < 0) {
		if(why)
			*why = "invalid IP address";
		return -1;
	}
	mapped = net->family == 4 && memchr(s, ':', alen) != NULL;
	max = net->family == 4 ? 32 : 128;
	if(!slash) {
		*plen = max;
		return 0;
	}
	p = slash + 1;
	if(p == s + len) {
		if(why)
			*why = "missing prefix length";
		goto error;
	}
	n = 0;
	for(; p < s + len; p++) {
		if(*p < '0' || *p > '9' || n > 128) {
			if(why)
				*why = "invalid prefix length";
			goto error;
		}
		n = n * 10 + (*p - '0');
	}
	if(mapped) {
		if(n < 96 || n > 128) {
			if(why)
				*why = "prefix length out of range (96..128 for "
					   "IPv4-mapped)";
			goto error;
		}
		n -= 96;
	} else if(n > max) {
		if(why)
			*why = max == 32 ? "prefix length out of range (0..32)"
							 : "prefix length out of range (0..128)";
		goto error;
	}
	af_ip_mask(net, n);
	*plen = n;
	return 0;

error:
	memset(net, 0, sizeof(*net));
	return -1;
}

/*
 * The trie. A node stands for a prefix; it carries a value when that
 * prefix was added, otherwise it only joins two subtries that part at
 * bit plen. Children of a node extend its prefix, child[b] holding those
 * whose bit plen is b. Nodes with one child and no value never exist.
 *
 * On a large trie every level of the search is a cache miss, so blocks
 * holding many prefixes get tables. A slot stands for a block, the
 * addresses starting with its first d bits (d a multiple of 8): it holds
 * the longest prefix shorter than d containing the block, and the node
 * where the search goes on, the first on the block's path at least d
 * long (NULL when none can match). Once AF_TRIE_HEAVY prefixes at least
 * d long fall in a block, its slot gets 256 sub-slots for the next 8
 * bits. A search follows slots down to one without sub-slots and walks
 * the trie from there. Each family has a top slot (d = 0, no prefix,
 * start = the root). Tables take at most about 100 bytes per prefix per
 * level and only where prefixes crowd. Every add refills the slots it
 * changes.
 */
#define AF_TRIE_HEAVY 64

typedef struct af_trie_node {
	uint64_t key[2]; /* the prefix, bits beyond plen zero */
	struct af_trie_node *child[2];
	uint32_t value;
	uint8_t plen;
	uint8_t has_value;
} af_trie_node_t;

typedef struct af_trie_slot {
	af_trie_node_t *start;    /* where the search goes on, or NULL */
	struct af_trie_slot *sub; /* 256 slots for the next 8 bits, or NULL */
	uint32_t value;           /* value of the prefix, if plen >= 0 */
	int16_t plen;             /* longest prefix shorter than d; -1 none */
	uint16_t heavy;           /* prefixes >= d long in the block, to HEAVY */
} af_trie_slot_t;

struct af_trie {
	af_arena_t *arena;
	af_trie_slot_t top[2]; /* [0] IPv4, [1] IPv6; top[].start is the root */
	uint32_t fcount[2];    /* prefixes per family */
	int shortest[2];       /* shortest prefix length added, -1: none */
};

/* Returns a 64-bit mask of the n (0..64) leading bits. */
static inline uint64_t af_mask64(unsigned n)
{
	return n ? ~(uint64_t)0 << (64 - n) : 0;
}

/* Reads 8 bytes in network order. */
static inline uint64_t af_load_be64(const uint8_t *p)
{
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40
		   | (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16
		   | (uint64_t)p[6] << 8 | (uint64_t)p[7];
}

/*
 * Fills key from ip and returns the family's width in bits, or -1 for an
 * unset address.
 */
static inline int af_trie_key(const af_ip_t *ip, uint64_t key[2])
{
	if(ip->family == 4) {
		key[0] = (uint64_t)((uint32_t)ip->addr[0] << 24
							| (uint32_t)ip->addr[1] << 16
							| (uint32_t)ip->addr[2] << 8 | ip->addr[3])
				 << 32;
		key[1] = 0;
		return 32;
	}
	if(ip->family == 6) {
		key[0] = af_load_be64(ip->addr);
		key[1] = af_load_be64(ip->addr + 8);
		return 128;
	}
	return -1;
}

/* Returns bit i (0 = most significant, i < 128) of key. */
static inline unsigned af_key_bit(const uint64_t key[2], unsigned i)
{
	return (unsigned)(key[i >> 6] >> (63 - (i & 63))) & 1;
}

/* Returns the 8 bits of key from bit d on (d a multiple of 8, < 128). */
static inline unsigned af_key_byte(const uint64_t key[2], unsigned d)
{
	return (unsigned)(key[d >> 6] >> (56 - (d & 63))) & 0xff;
}

/* Returns 1 when the first n->plen bits of key are n's prefix. */
static inline int af_node_match(const af_trie_node_t *n, const uint64_t key[2])
{
	if(n->plen <= 64)
		return ((key[0] ^ n->key[0]) & af_mask64(n->plen)) == 0;
	return key[0] == n->key[0]
		   && ((key[1] ^ n->key[1]) & af_mask64(n->plen - 64u)) == 0;
}

/* Returns how many leading bits a and b share, at most max. */
static unsigned af_key_common(
		const uint64_t a[2], const uint64_t b[2], unsigned max)
{
	uint64_t x;
	unsigned n;

	x = a[0] ^ b[0];
	if(x) {
		n = (unsigned)__builtin_clzll(x);
	} else {
		x = a[1] ^ b[1];
		n = x ? 64 + (unsigned)__builtin_clzll(x) : 128;
	}
	return n < max ? n : max;
}

/* Copies the first plen bits of key into out, the rest zero. */
static void af_key_prefix(const uint64_t key[2], unsigned plen, uint64_t out[2])
{
	if(plen <= 64) {
		out[0] = key[0] & af_mask64(plen);
		out[1] = 0;
	} else {
		out[0] = key[0];
		out[1] = key[1] & af_mask64(plen - 64);
	}
}

/* Returns a new node for key/plen from t's arena, or NULL. */
static af_trie_node_t *af_trie_node_new(
		af_trie_t *t, const uint64_t key[2], unsigned plen)
{
	af_trie_node_t *n;

	n = af_arena_alloc(t->arena, sizeof(*n));
	if(!n)
		return NULL;
	af_key_prefix(key, plen, n->key);
	n->plen = (uint8_t)plen;
	return n;
}

/*
 * Creates an empty trie in arena a; it lives and dies with the arena.
 * Returns NULL when out of memory.
 */
af_trie_t *af_trie_new(af_arena_t *a)
{
	af_trie_t *t;

	t = af_arena_alloc(a, sizeof(*t));
	if(!t)
		return NULL;
	t->arena = a;
	t->top[0].plen = -1;
	t->top[1].plen = -1;
	t->shortest[0] = -1;
	t->shortest[1] = -1;
	return t;
}

static void af_trie_slot_fill(af_trie_slot_t *s, unsigned d,
		const uint64_t blk[2], const af_trie_slot_t *up);

/*
 * Refills the cnt sub-slots of s from index idx on; s stands for the
 * block of the first d bits of blk.
 */
static void af_trie_subs_fill(af_trie_slot_t *s, unsigned d,
		const uint64_t blk[2], unsigned idx, unsigned cnt)
{
	uint64_t b[2];

	for(; cnt > 0; cnt--, idx++) {
		af_key_prefix(blk, d, b);
		b[d >> 6] |= (uint64_t)idx << (56 - (d & 63));
		af_trie_slot_fill(&s->sub[idx], d + 8, b, s);
	}
}

/*
 * Recomputes slot s for the block of the first d bits of blk from the
 * slot above it, up, and then the slots below s.
 */
static void af_trie_slot_fill(af_trie_slot_t *s, unsigned d,
		const uint64_t blk[2], const af_trie_slot_t *up)
{
	af_trie_node_t *n;
	uint32_t value = up->value;
	int plen = up->plen;

	for(n = up->start; n && n->plen < d;
			n = n->child[af_key_bit(blk, n->plen)]) {
		if(!af_node_match(n, blk)) {
			n = NULL;
			break;
		}
		if(n->has_value) {
			plen = n->plen;
			value = n->value;
		}
	}
	/* a start outside the block would only fail there */
	if(n && af_key_common(n->key, blk, d) < d)
		n = NULL;
	/*
	 * An add changes the slots below s only through s: what it added is
	 * either above s->start (in plen and value here) or s->start itself.
	 */
	if(n == s->start && plen == s->plen && value == s->value)
		return;
	s->start = n;
	s->plen = (int16_t)plen;
	s->value = value;
	if(s->sub)
		af_trie_subs_fill(s, d, blk, 0, 256);
}

/*
 * Refills the slots below the top slot s that an add may have changed:
 * those at least min bits deep for addresses starting with the first r
 * bits of key (r <= min), key being the prefix added. Below the first
 * level refilled, af_trie_slot_fill() goes on where something changed.
 */
static void af_trie_slots_update(af_trie_slot_t *s, const uint64_t key[2],
		unsigned r, unsigned min)
{
	unsigned d, cnt;

	for(d = 0; s->sub; s = &s->sub[af_key_byte(key, d)], d += 8) {
		if(d + 8 < min)
			continue;
		cnt = r <= d ? 256 : 1u << (d + 8 - r);
		af_trie_subs_fill(s, d, key, af_key_byte(key, d) & ~(cnt - 1), cnt);
		return;
	}
}

/*
 * Gives slot s (block of the first d bits of blk) its sub-slots, counts
 * the prefixes falling in each and gives the crowded ones theirs in turn.
 * Returns 0, or -1 when out of memory (the trie stays usable).
 */
static int af_trie_slot_split(af_trie_t *t, af_trie_slot_t *s, unsigned d,
		const uint64_t blk[2], unsigned bits)
{
	const af_trie_node_t *stack[2 * 130], *n;
	af_trie_slot_t *sub;
	uint64_t b[2];
	unsigned j, sp = 0;

	sub = af_arena_alloc(t->arena, 256 * sizeof(*sub));
	if(!sub)
		return -1;
	s->sub = sub;
	af_trie_subs_fill(s, d, blk, 0, 256);
	if(s->start)
		stack[sp++] = s->start;
	while(sp > 0) {
		n = stack[--sp];
		if(n->has_value && n->plen >= d + 8
				&& sub[af_key_byte(n->key, d)].heavy < AF_TRIE_HEAVY)
			sub[af_key_byte(n->key, d)].heavy++;
		if(n->child[0])
			stack[sp++] = n->child[0];
		if(n->child[1])
			stack[sp++] = n->child[1];
	}
	if(d + 16 > bits)
		return 0;
	for(j = 0; j < 256; j++) {
		if(sub[j].heavy < AF_TRIE_HEAVY)
			continue;
		af_key_prefix(blk, d, b);
		b[d >> 6] |= (uint64_t)j << (56 - (d & 63));
		if(af_trie_slot_split(t, &sub[j], d + 8, b, bits) < 0)
			return -1;
	}
	return 0;
}

/*
 * Counts a new prefix key/len of family fam in the slots of the blocks
 * containing it, splitting one that becomes crowded. Returns 0, or -1
 * when out of memory.
 */
static int af_trie_slots_count(
		af_trie_t *t, int fam, const uint64_t key[2], unsigned len)
{
	af_trie_slot_t *s = &t->top[fam];
	unsigned d = 0, bits = fam ? 128 : 32;

	for(; d <= len; s = &s->sub[af_key_byte(key, d)], d += 8) {
		if(s->heavy < AF_TRIE_HEAVY)
			s->heavy++;
		if(!s->sub) {
			if(s->heavy < AF_TRIE_HEAVY || d + 8 > bits)
				return 0;
			return af_trie_slot_split(t, s, d, key, bits);
		}
	}
	return 0;
}

/*
 * Adds prefix net/plen to trie t carrying value; bits of net beyond plen
 * are ignored. Adding a prefix already present replaces its value.
 * Returns 0, or -1 when out of memory or when plen does not fit the
 * family of net.
 */
int af_trie_add(af_trie_t *t, const af_ip_t *net, int plen, uint32_t value)
{
	af_trie_node_t **link, *n, *m, *fork, *parent = NULL;
	uint64_t key[2];
	unsigned common = 0, len, r;
	int bits, fam;

	bits = af_trie_key(net, key);
	if(bits < 0 || plen < 0 || plen > bits) {
		AF_ERR("trie: bad prefix (family %d, length %d)\n", net->family,
				plen);
		return -1;
	}
	len = (unsigned)plen;
	af_key_prefix(key, len, key);
	fam = net->family == 6;
	if(t->shortest[fam] < 0 || plen < t->shortest[fam])
		t->shortest[fam] = plen;
	link = &t->top[fam].start;
	while((n = *link) != NULL) {
		common = af_key_common(n->key, key, n->plen < len ? n->plen : len);
		if(common < n->plen)
			break;
		if(n->plen == len) {
			/* already there: a new value, the links stay */
			if(n->has_value && n->value == value)
				return 0;
			n->value = value;
			/* the slots below len bits that may hold it */
			if(n->has_value) {
				af_trie_slots_update(&t->top[fam], key, len, len + 1);
				return 0;
			}
			n->has_value = 1;
			t->fcount[fam]++;
			af_trie_slots_update(&t->top[fam], key, len, len + 1);
			return af_trie_slots_count(t, fam, key, len);
		}
		parent = n;
		link = &n->child[af_key_bit(key, n->plen)];
	}
	m = af_trie_node_new(t, key, len);
	if(!m)
		return -1;
	m->value = value;
	m->has_value = 1;
	if(n && common == len) {
		/* key/len goes between parent and n */
		m->child[af_key_bit(n->key, len)] = n;
		*link = m;
	} else if(n) {
		/* a valueless fork where key and n part */
		fork = af_trie_node_new(t, key, common);
		if(!fork)
			return -1;
		fork->child[af_key_bit(n->key, common)] = n;
		fork->child[af_key_bit(key, common)] = m;
		*link = fork;
	} else {
		*link = m;
	}
	t->fcount[fam]++;
	/* the slots whose path crosses the changed link */
	r = parent ? parent->plen + 1u : 0;
	af_trie_slots_update(&t->top[fam], key, r, r);
	return af_trie_slots_count(t, fam, key, len);
}

/*
 * Finds the longest prefix in trie t containing ip. Returns its length
 * (0..128) and stores its value in *value when value is not NULL; returns
 * -1 when nothing matches, t is NULL or ip is unset. Takes no lock and
 * allocates nothing: t must not change while searched.
 */
int af_trie_lookup(const af_trie_t *t, const af_ip_t *ip, uint32_t *value)
{
	const af_trie_node_t *n, *best = NULL;
	const af_trie_slot_t *s;
	uint64_t key[2];
	unsigned d = 0;
	int bits, plen;

	if(!t)
		return -1;
	bits = af_trie_key(ip, key);
	if(bits < 0)
		return -1;
	for(s = &t->top[ip->family == 6]; s->sub; d += 8)
		s = &s->sub[af_key_byte(key, d)];
	for(n = s->start; n && af_node_match(n, key);
			n = n->child[af_key_bit(key, n->plen)]) {
		if(n->has_value)
			best = n;
		if(n->plen >= bits)
			break;
	}
	if(best) {
		if(value)
			*value = best->value;
		return best->plen;
	}
	plen = s->plen;
	if(plen >= 0 && value)
		*value = s->value;
	return plen;
}

/*
 * Returns the shortest prefix length ever added to trie t for family (4
 * or 6), -1 when none was.
 */
int af_trie_shortest(const af_trie_t *t, int family)
{
	return t ? t->shortest[family == 6] : -1;
}

/* Returns the number of distinct prefixes in trie t. */
uint32_t af_trie_count(const af_trie_t *t)
{
	return t ? t->fcount[0] + t->fcount[1] : 0;
}

/* Returns 1 for the blanks that end a field of a list file. */
static inline int af_list_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v'
		   || c == '\f';
}

/*
 * Loads the list file at path into trie t, every prefix carrying value.
 * One address or CIDR a line, its first field; blank lines, anything
 * after the first field and comments ('#' or ';' to the end of the line)
 * are ignored, CRLF line ends too. The file is read with af_file_read()
 * (a regular file within the list size limit). Returns the number of
 * prefixes the file added to t (one already in t only gets value). On
 * error returns -1 with "path:line: what is wrong" (the bad field as an
 * escaped excerpt), or af_file_read()'s message when the file cannot be
 * read, in err of errlen bytes; what was added before the bad line stays
 * in t.
 */
int af_trie_load_file(af_trie_t *t, const char *path, uint32_t value,
		char *err, size_t errlen)
{
	char shown[AF_EXCERPT_ROOM], where[300];
	char *data, *p, *end, *eol, *field;
	size_t len, flen;
	unsigned lineno = 0;
	uint32_t before;
	const char *why;
	af_ip_t net;
	int plen, ret = -1;

	if(err && errlen)
		err[0] = '\0';
	if(af_file_read(path, AF_FILE_LIST, &data, &len, err, errlen) < 0)
		return -1;
	af_text_escape_max(where, sizeof(where), path, strlen(path), 256);
	before = af_trie_count(t);
	for(p = data, end = data + len; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if(!eol)
			eol = end;
		lineno++;
		while(p < eol && af_list_blank(*p))
			p++;
		field = p;
		while(p < eol && !af_list_blank(*p) && *p != '#' && *p != ';')
			p++;
		flen = (size_t)(p - field);
		if(flen == 0)
			continue;
		if(af_cidr_parse(field, flen, &net, &plen, &why) < 0) {
			if(err && errlen)
				snprintf(err, errlen, "%s:%u: %s: '%s'", where, lineno, why,
						af_text_escape_max(shown, sizeof(shown), field, flen,
								AF_EXCERPT_MAX));
			goto done;
		}
		if(af_trie_add(t, &net, plen, value) < 0) {
			if(err && errlen)
				snprintf(err, errlen, "%s:%u: out of memory", where, lineno);
			goto done;
		}
	}
	ret = (int)(af_trie_count(t) - before);

done:
	free(data);
	return ret;
}
