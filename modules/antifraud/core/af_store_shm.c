/*
 * antifraud - the shared-memory state store, for one node.
 *
 * Everything is taken from af_host->shm_alloc in one block when the store
 * is created, so memory depends on the configuration only:
 *
 *   header | stripes[S] | index[S * B] | arena[S * A]
 *
 * The N entries (max_entries) are split into S stripes of N/S; each
 * stripe has its own lock, slice of B hash buckets (one per two entries)
 * and slice of the arena: AF_SHM_ENTRY_BYTES (120) per entry, plus room
 * for one record of the largest size. A key's hash picks its stripe (low
 * bits) and its bucket (high bits). Only the key takes part in the hash,
 * not the entry type, so a subject's ban, windows and history share a
 * stripe and a window that bans its own key needs one lock. Keys are
 * namespaced by type: entries match on (type, key).
 *
 * An entry is a record in its stripe's arena, as long as it needs, in
 * units of 4 bytes: a 20-byte header (size, type, key length, the high
 * half of the key's hash, chain link, expiry), the key at its length,
 * then the value its type needs: a ban without padding (its reason at
 * its length), a history holding only the sources it has, a WIN_MULTI
 * counter one slot per window it was asked for, its counts of one byte
 * while they stay below 256. A record index is its place in the arena
 * (in units). Keys up to AF_KEY_MAX bytes are kept verbatim; longer ones
 * keep their first AF_KEY_MAX bytes and the 64-bit hash of the whole key,
 * and match on both. A record that must grow (a history's new source, a
 * counter's new window or wide counts, a ban's longer reason) moves to a
 * larger one in its place on its chain; only windows, figures, histories
 * and bans move, which nothing else points at.
 *
 * Free space is kept in blocks (boundary tags: a free block has its size
 * at both ends, a record says whether the block before it is free), in a
 * free list per size class (each size up to the largest record, one list
 * for larger blocks). A record takes a block of its size, else the start
 * of the smallest larger one (the rest stays free); a freed record merges
 * with the free blocks beside it, so a stripe whose records have all gone
 * is one free block again: no space is lost to fragmentation for good.
 * Sweeps (eviction, gc) walk the arena block by block; listings and
 * forget walk the buckets.
 *
 * A stripe holds at most N/S records and what fits in its arena: about N
 * records while they average AF_SHM_ENTRY_BYTES or less (the bench's mix
 * of callers, sources and bans does), fewer when they are larger. When either bound is reached, an insert makes room (below).
 *
 * A concurrency set is one set entry (member count, member list, earliest
 * and latest member expiry) plus one member entry per live member. A
 * member lives in the stripe of its set (its hash is the member's, seeded
 * with the set key's hash; its bucket comes from that hash) and matches on
 * (type, member bytes, set entry), so one stripe lock covers a set and all
 * its members. The count changes only when a member entry is linked into
 * or unlinked from its set, and every path that frees a member unlinks it
 * (shm_release): it can neither drift nor go below 0. Freeing a set frees
 * its members. A set expires with its latest member (its expiry is never
 * earlier than any member's, so a set is never reclaimed before one of its
 * members); expired members stop counting when CONC_ADD, CONC_DEL,
 * CONC_COUNT or conc_list prune the set (when its earliest member expiry
 * has come), or when gc or a chain walk reclaims them. A set that loses
 * its last member is freed (CONC_DEL, CONC_COUNT, a refused CONC_ADD) or
 * expires at once.
 *
 * The CONC_ADD ops of a batch run after all its other ops, as one group:
 * the stripe locks of all their sets are taken at once, in increasing
 * stripe index (every path that holds two or more locks takes them in
 * that order), then each set is pruned and the group is admitted into
 * every set or into none. Batches hold at most AF_SHM_CONC_MAX CONC_ADDs.
 *
 * Every entry expires: a ban at its until_ms, a window when its newest
 * non-empty slice leaves the window, a history ttl_s after its newest
 * push, a set member ttl_s after it was added (or refreshed). Expired
 * entries are absent to lookups (which free those they meet on their
 * chain), are reclaimed by gc() and, when a stripe is full (all its
 * entries in use, or no free block large enough), by the insert that
 * needs room, which looks at a sample of the stripe (AF_SHM_EVICT_SAMPLE
 * records from where the last one stopped; when it has no counter but the
 * stripe has, the counters the stripe made last, then on until it meets
 * one). When the sample has nothing expired, its live window, figure or
 * history with the nearest expiry goes (stats.evictions): the oldest
 * first, among the sample (the next eviction of a large stripe takes the
 * sample's next oldest, unchanged since, without a sample); when what is
 * missing is room rather than an entry, one whose freeing makes a block
 * large enough (with the free blocks beside it) goes before an older one
 * that does not, and the insert samples again until it has room. Only a
 * ban may evict a ban (when no counter is left in the whole stripe, which
 * counts them: then the sample's ban with the nearest expiry; counted in
 * stats.bans_evicted), so that traffic with new counter keys
 * can never push bans out. Sets and their members are never evicted:
 * dropping one would let a call in over its limit. Any insert that finds
 * no room this way fails (status -1, stats.failures): a window, history
 * or ban when the stripe holds only bans and sets, a CONC_ADD when it
 * holds only bans and sets (it may evict windows and histories, not
 * bans); a record that cannot grow keeps what it had (a history drops
 * its oldest source instead, a counter whose counts cannot widen fails
 * the op). As all the members of a set share its stripe, a set holds at
 * most max_entries / stripes members (fewer when other entries share the
 * stripe): size the store for the largest set.
 *
 * The figures of a subject (FIG_MULTI) are one entry: a slot per window
 * (up to AF_FIG_WIN_MAX, the record growing as windows come), each
 * AF_FIG_N counters in AF_FIG_SLICES slices of its window, evicted like
 * a window, expiring when the newest slice with an addition leaves its
 * window (the longest); a read of a missing entry creates nothing.
 *
 * A multi-window counter (WIN_MULTI) is one entry too: a slot per window
 * (window_s, newest slice, total, AF_WIN_BUCKETS counts of 8 bits, all
 * the counter's counts made 16 bits when one would pass 255, saturated at
 * 65535), one lookup and one lock for all the windows of a subject; it
 * expires one window (its longest added to) after its newest addition,
 * evicted like a window.
 *
 * A read_only HIST_PUSH writes nothing: it neither creates a history nor
 * moves its expiry, which counts from the newest push that recorded.
 *
 * Invalid operations also fail with status -1: an unknown type, a NULL
 * key or member with a length, window_s, ttl_s (BAN_SET, HIST_PUSH,
 * CONC_ADD) or, when ban_threshold is set, ban_s equal to 0, an if_new
 * that names no earlier WIN_HIT of the batch.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <fnmatch.h>
#include <string.h>
#include <stdint.h>
#include <sys/random.h>
#include "af_host.h"
#include "af_bytes.h"
#include "af_lock.h"
#include "af_store_shm.h"

#define AF_SHM_DEF_ENTRIES 131072
#define AF_SHM_DEF_STRIPES 64
#define AF_SHM_MAX_ENTRIES (1u << 26)
#define AF_SHM_NIL UINT32_MAX
#define AF_SHM_ALIGN 64
#define AF_SHM_KEY_LONG (AF_KEY_MAX + 1) /* klen of a hashed long key */
#define AF_SHM_UNIT 4         /* bytes of a unit of the arena */
#define AF_SHM_HDR 20         /* bytes of a record header */
#define AF_SHM_ENTRY_BYTES 120 /* arena bytes per entry of max_entries */
#define AF_SHM_CLASSES 136    /* exact size classes (units 0..135) */
#define AF_SHM_FMAP ((AF_SHM_CLASSES + 64) / 64) /* words of a class map */
#define AF_SHM_PREFETCH 272   /* bytes of a record prefetched */
#define AF_SHM_MIN_FREE 4     /* units of the smallest free block */
#define AF_SHM_QUICK 8        /* freed records a stripe keeps to reuse */
#define AF_SHM_GC_CHUNK 256   /* blocks gc looks at per lock hold */
#define AF_SHM_GC_SCAN 16     /* entries gc looks at per entry of budget */
#define AF_SHM_EVICT_SAMPLE 64 /* entries a full stripe's insert looks at */
#define AF_SHM_HINTS 4        /* counters a stripe remembers for eviction */
#define AF_SHM_LIST_CHUNK 16  /* bans ban_list copies out per lock hold */
#define AF_SHM_CONC_MAX 16    /* CONC_ADD ops in one batch */
#define AF_SHM_HASHED 64      /* ops of a batch hashed (and prefetched)
							   * up front; the others as they run */
/* the expiry of a set while a CONC_ADD group works on it: nothing frees it */
#define AF_SHM_PINNED UINT64_MAX

enum af_shm_type {
	AF_SHM_QUICKT = 0, /* a freed record in its stripe's quick[] */
	AF_SHM_BAN,
	AF_SHM_WIN,
	AF_SHM_HIST,
	AF_SHM_CSET, /* concurrency set */
	AF_SHM_CMEM, /* member of a concurrency set */
	AF_SHM_FIG,  /* the figures of one subject (AF_OP_FIG_MULTI) */
	AF_SHM_WMUL  /* the windows of one subject (AF_OP_WIN_MULTI) */
};

/* a 64-bit field of a record, which is aligned on AF_SHM_UNIT only */
typedef uint64_t af_shm_u64 __attribute__((aligned(4)));

/*
 * The header of a record (a block in use): its size, whether the block
 * before it is free, then the entry's hash, chain link and expiry. The
 * key follows (its stored bytes, AF_SHM_UNIT-aligned), then the value.
 */
typedef struct af_shm_meta {
	uint32_t free : 1;      /* 0: a record */
	uint32_t prev_free : 1; /* the block before is free (its size is in
							 * its last word) */
	uint32_t units : 10;    /* block size in units (AF_SHM_UNIT bytes) */
	uint32_t aux : 4;       /* history: records; WIN_MULTI: slots and
							 * width (AF_SHM_WM_*); figure: slots */
	uint32_t type : 8;      /* enum af_shm_type (a byte: read as one) */
	uint32_t klen : 8;      /* key length, or AF_SHM_KEY_LONG */
	uint32_t hash;          /* high half of the hash of the whole key */
	uint32_t next;          /* hash chain */
	af_shm_u64 expires_ms;  /* absent from this time on */
} af_shm_meta_t;

/* a free block: its first word as a record's, its size in units also in
 * its last word; linked in the free list of its size class */
typedef struct af_shm_fblk {
	uint32_t free : 1; /* 1 */
	uint32_t prev_free : 1;
	uint32_t units : 30;
	uint32_t fnext;
	uint32_t fprev;
} af_shm_fblk_t;

typedef struct af_shm_ban {
	af_shm_u64 since_ms; /* until_ms is the record's expiry */
	uint32_t hits;
	char reason[AF_BAN_REASON]; /* NUL-terminated, stored at its length */
} af_shm_ban_t;

/* a WIN_HIT counter; its slice is window_s * 1000 / AF_WIN_BUCKETS ms */
typedef struct af_shm_win {
	uint32_t last_slice; /* newest slice seen, modulo 2^32 (shm_slice) */
	uint32_t window_s;
	uint32_t counts[AF_WIN_BUCKETS]; /* counts[slice % AF_WIN_BUCKETS] */
} af_shm_win_t;

/* one window of a figure; a record holds aux of them */
typedef struct af_shm_fig {
	uint32_t window_s;     /* 0: a slot not used yet */
	af_shm_u64 last_slice; /* newest slice seen (absolute number) */
	uint32_t counts[AF_FIG_SLICES][AF_FIG_N]; /* [slice % AF_FIG_SLICES] */
} af_shm_fig_t;

/*
 * One window of a multi-window counter: its newest slice, its total
 * (kept as counts change: 16 counts of 16 bits fit in 32 bits), then
 * AF_WIN_BUCKETS counts ([slice % AF_WIN_BUCKETS]) of one byte while
 * they are all below 256 (narrow), else of two (wide, saturated at
 * UINT16_MAX): all the slots of a counter have the same width.
 */
typedef struct af_shm_wslot {
	uint32_t last_slice; /* newest slice seen, modulo 2^32 (shm_slice) */
	uint32_t window_s;
	uint32_t total;      /* the sum of the counts */
	uint8_t counts[];
} af_shm_wslot_t;

/* bytes of a slot of counts of 1 (narrow) or 2 bytes (wide) */
#define AF_SHM_WSLOT(wide) \
	(sizeof(af_shm_wslot_t) + AF_WIN_BUCKETS * ((wide) ? 2 : 1))
#define AF_SHM_WM_SLOTS 3u /* aux of a WIN_MULTI record: its slots */
#define AF_SHM_WM_WIDE 4u  /* aux of a WIN_MULTI record: wide counts */

/* a source of a history: af_hist_entry_t without padding */
typedef struct af_shm_hrec {
	af_shm_u64 ts_ms;
	uint8_t family;
	uint8_t addr[16];
	char country[2];   /* not NUL-terminated */
	char continent[2];
} af_shm_hrec_t;

/* the record holds aux of the records, newest first */
typedef struct af_shm_hist {
	af_shm_hrec_t e[AF_HIST_MAX];
} af_shm_hist_t;

typedef struct af_shm_cset {
	af_shm_u64 earliest_ms; /* no member expires before (may be too early) */
	af_shm_u64 latest_ms;   /* no member expires after; the set's expiry */
	uint32_t head;          /* member list */
	uint32_t count;         /* members in the list */
} af_shm_cset_t;

typedef struct af_shm_cmem {
	uint32_t set;  /* the set's record */
	uint32_t prev; /* the set's member list */
	uint32_t next;
} af_shm_cmem_t;

/* the value of a record, as long as its type needs (shm_vsize) */
typedef union af_shm_val {
	af_shm_ban_t ban;
	af_shm_win_t win;
	af_shm_fig_t fig[AF_FIG_WIN_MAX];
	uint8_t wmul[AF_WIN_MULTI_MAX * AF_SHM_WSLOT(1)]; /* slots */
	af_shm_hist_t hist;
	af_shm_cset_t cset;
	af_shm_cmem_t cmem;
} af_shm_val_t;

_Static_assert(sizeof(af_shm_meta_t) == AF_SHM_HDR, "record header size");
_Static_assert(AF_SHM_HDR + AF_KEY_MAX + 8 + sizeof(af_shm_val_t)
				<= AF_SHM_CLASSES * AF_SHM_UNIT,
		"the largest record has a size class");

typedef struct af_shm_stripe {
	af_lock_t lock;
	uint32_t used;      /* records */
	uint32_t counters;  /* of the records, windows, figures and histories
						 * (what an eviction takes before a ban) */
	uint32_t abase;     /* the stripe's arena: units [abase, aend) */
	uint32_t aend;
	uint32_t evict_pos; /* where the next eviction looks (a block) */
	uint32_t gc_pos;    /* where the next gc looks (a block) */
	uint64_t fmap[AF_SHM_FMAP]; /* size classes whose free list is not
								 * empty */
	uint64_t evictions;
	uint64_t bans_evicted; /* of the evictions, live bans */
	uint64_t expired;
	uint32_t flist[AF_SHM_CLASSES + 1]; /* free lists by size in units;
										 * the last: larger blocks */
	uint32_t quick[AF_SHM_QUICK]; /* freed records kept as they are */
	uint32_t nquick;
	uint32_t hint[AF_SHM_HINTS]; /* counters made lately (AF_SHM_NIL: none),
								  * for a stripe of few counters */
	uint32_t nhint;              /* hint[nhint % AF_SHM_HINTS] goes next */
	uint32_t spare;     /* the counter the last eviction would have taken
						 * next (AF_SHM_NIL: none) */
	uint64_t spare_exp; /* its expiry then */
} __attribute__((aligned(AF_SHM_ALIGN))) af_shm_stripe_t;

typedef struct af_store_shm {
	af_store_t base;
	void *raw;         /* what shm_alloc returned */
	uint64_t seed;     /* hash seed, random per store */
	uint32_t nstripes;
	uint32_t smask;    /* nstripes - 1 */
	uint32_t per;      /* records per stripe, at most */
	uint32_t bmask;    /* buckets per stripe - 1 */
	uint32_t gc_stripe; /* the stripe gc goes on with (atomic) */
	uint64_t failures; /* atomic */
	af_shm_stripe_t *stripes;
	uint32_t *arena;   /* records and free blocks, in units */
	uint32_t *index;
} __attribute__((aligned(AF_SHM_ALIGN))) af_store_shm_t;

/* a key prepared outside the lock */
typedef struct af_shm_key {
	const char *s;
	size_t len;
	uint64_t hash;
	uint32_t stripe;
	uint8_t klen;
} af_shm_key_t;

typedef struct af_shm_layout {
	uint32_t nstripes;
	uint32_t per;
	uint32_t nbuck;
	uint32_t sunits;   /* arena units per stripe */
	size_t off_stripes;
	size_t off_index;
	size_t off_arena;
	size_t total;
} af_shm_layout_t;

/* an entry copied out by ban_list or conc_list (shm_list) */
typedef struct af_shm_copy {
	char key[AF_KEY_MAX];
	size_t key_len;
	af_ban_t ban;   /* ban_list */
	uint32_t count; /* conc_list */
} af_shm_copy_t;

/* what shm_list asks of a listing: take copies entry pos of stripe sidx
 * (key_len set) into a copy and returns 1, or 0 to leave it out (lock:
 * the stripe's); emit hands a copy to the caller (no lock) and returns
 * non-zero to stop */
typedef struct af_shm_lister {
	int type; /* AF_SHM_BAN or AF_SHM_CSET */
	int (*take)(af_store_shm_t *st, uint32_t sidx, uint32_t pos,
			af_shm_copy_t *copy, void *arg);
	int (*emit)(const af_shm_copy_t *copy, void *arg);
	void *arg;
} af_shm_lister_t;

/* one CONC_ADD of a group (shm_conc_add_group) */
typedef struct af_shm_cadd {
	af_op_t *op;
	af_shm_key_t sk; /* the set's key */
	af_shm_key_t mk; /* the member's key, in the set's stripe */
	uint32_t set;    /* set entry, AF_SHM_NIL while there is none */
	uint32_t mem;    /* member entry, AF_SHM_NIL while there is none */
	int present;     /* the member was in the set before the group */
	int dup;         /* earlier op of the group adding the same member to
					  * the same set, or -1 */
	int added;       /* the member entry was made by this group */
} af_shm_cadd_t;

#define AF_SHM_K1 0x9e3779b97f4a7c15ULL
#define AF_SHM_K2 0xd6e8feb86659fd93ULL

/* Final avalanche of the 64-bit hash h. */
static inline uint64_t shm_mix(uint64_t h)
{
	h ^= h >> 32;
	h *= AF_SHM_K2;
	h ^= h >> 29;
	h *= AF_SHM_K2;
	h ^= h >> 32;
	return h;
}

/*
 * Hashes len bytes of s with seed, eight bytes at a time; the seed is
 * random per store so that chosen keys cannot pile up in one chain. The
 * last n < 8 bytes of a key of 8 or more are read as one word ending at
 * its end, shifted to what copying them alone would give (on a
 * little-endian machine: the same hash, without a copy byte by byte); a
 * key shorter than 8 is read by af_bytes_word, also without a copy.
 */
static uint64_t shm_hash(uint64_t seed, const char *s, size_t len)
{
	uint64_t h = seed ^ ((uint64_t)len * AF_SHM_K1);
	uint64_t w;
	size_t n = len;

	while(n >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * AF_SHM_K1;
		h ^= h >> 31;
		s += 8;
		n -= 8;
	}
	if(n) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		if(len >= 8) {
			memcpy(&w, s + n - 8, 8);
			w >>= 8 * (8 - n);
		} else
#endif
			w = af_bytes_word(s, n);
		h = (h ^ w) * AF_SHM_K1;
		h ^= h >> 31;
	}
	return shm_mix(h);
}

/* The hash of op's key (an invalid NULL key: of ""). */
static inline uint64_t shm_op_hash(const struct af_store_shm *st,
		const af_op_t *op);

/* Rounds n up to a multiple of AF_SHM_ALIGN. */
static size_t shm_align(size_t n)
{
	return (n + AF_SHM_ALIGN - 1) & ~(size_t)(AF_SHM_ALIGN - 1);
}

/*
 * Computes the layout for cfg into lay: defaults for zero fields, fewer
 * stripes when there are more stripes than entries, capacity rounded down
 * to a multiple of the stripe count. A stripe's arena has
 * AF_SHM_ENTRY_BYTES per entry, and room for one record of the largest
 * size more (a store of a few entries holds any record); its index a
 * bucket per two entries. Returns 0, or -1 when cfg is invalid (stripes
 * not a power of two, too many entries).
 */
static int shm_layout(const af_store_shm_cfg_t *cfg, af_shm_layout_t *lay)
{
	uint32_t entries = AF_SHM_DEF_ENTRIES;
	uint32_t stripes = AF_SHM_DEF_STRIPES;
	uint64_t sbytes;
	size_t off;

	if(cfg && cfg->max_entries)
		entries = cfg->max_entries;
	if(cfg && cfg->stripes)
		stripes = cfg->stripes;
	if(entries > AF_SHM_MAX_ENTRIES || (stripes & (stripes - 1)) != 0)
		return -1;
	while(stripes > entries)
		stripes >>= 1;
	lay->nstripes = stripes;
	lay->per = entries / stripes;
	lay->nbuck = 1;
	while(lay->nbuck * 2 < lay->per)
		lay->nbuck <<= 1;
	sbytes = (uint64_t)lay->per * AF_SHM_ENTRY_BYTES
			 + AF_SHM_CLASSES * AF_SHM_UNIT;
	if(sbytes / AF_SHM_UNIT >= (1u << 30)) /* af_shm_fblk_t.units */
		return -1;
	lay->sunits = (uint32_t)(sbytes / AF_SHM_UNIT);
	off = shm_align(sizeof(af_store_shm_t));
	lay->off_stripes = off;
	off += shm_align(sizeof(af_shm_stripe_t) * stripes);
	lay->off_index = off;
	off += shm_align(sizeof(uint32_t) * lay->nbuck * stripes);
	lay->off_arena = off;
	off += shm_align((size_t)lay->sunits * AF_SHM_UNIT * stripes);
	/* room to align the block the host gives us */
	lay->total = off + AF_SHM_ALIGN;
	return 0;
}

static inline uint64_t shm_op_hash(const struct af_store_shm *st,
		const af_op_t *op)
{
	return shm_hash(st->seed, op->key ? op->key : "",
			op->key ? op->key_len : 0);
}

/* Prepares key k for s[0..len) of hash h (shm_hash) in store st:
 * stripe, stored length. */
static inline void shm_key_set(const af_store_shm_t *st, af_shm_key_t *k,
		const char *s, size_t len, uint64_t h)
{
	k->s = s;
	k->len = len;
	k->hash = h;
	k->stripe = (uint32_t)h & st->smask;
	k->klen = len > AF_KEY_MAX ? AF_SHM_KEY_LONG : (uint8_t)len;
}

/* Prepares key k for s[0..len) in store st: hash, stripe, stored length. */
static void shm_key_init(const af_store_shm_t *st, af_shm_key_t *k,
		const char *s, size_t len)
{
	shm_key_set(st, k, s, len, shm_hash(st->seed, s, len));
}

/* The head of the chain for a key whose hash has hi as high half, in
 * stripe s. */
static inline uint32_t *shm_bucket(af_store_shm_t *st, uint32_t s, uint32_t hi)
{
	return &st->index[(size_t)s * (st->bmask + 1) + (hi & st->bmask)];
}

/* The header of the record (or free block) at unit idx of the arena. */
static inline af_shm_meta_t *shm_m(const af_store_shm_t *st, uint32_t idx)
{
	return (af_shm_meta_t *)(st->arena + idx);
}

/* Bytes a key of stored length klen takes in a record: a long key keeps
 * its first AF_KEY_MAX bytes and the hash of the whole key. */
static inline size_t shm_kbytes(unsigned klen)
{
	return klen == AF_SHM_KEY_LONG ? AF_KEY_MAX + 8 : klen;
}

/* The key bytes of record idx. */
static inline char *shm_key(const af_store_shm_t *st, uint32_t idx)
{
	return (char *)(st->arena + idx) + AF_SHM_HDR;
}

/* Units of a record of a key of stored length klen, before its value. */
static inline uint32_t shm_voff(unsigned klen)
{
	return (uint32_t)((AF_SHM_HDR + shm_kbytes(klen) + AF_SHM_UNIT - 1)
					  / AF_SHM_UNIT);
}

/* The value of record idx. */
static inline af_shm_val_t *shm_v(const af_store_shm_t *st, uint32_t idx)
{
	return (af_shm_val_t *)(st->arena + idx + shm_voff(shm_m(st, idx)->klen));
}

/* Units of a record of a key of stored length klen and a value of vbytes
 * bytes. */
static inline uint32_t shm_units(unsigned klen, size_t vbytes)
{
	return shm_voff(klen)
		   + (uint32_t)((vbytes + AF_SHM_UNIT - 1) / AF_SHM_UNIT);
}

/* Size in units of the block at idx, free or not. */
static inline uint32_t shm_bunits(const af_store_shm_t *st, uint32_t idx)
{
	const af_shm_fblk_t *f = (const af_shm_fblk_t *)(st->arena + idx);

	return f->free ? f->units : shm_m(st, idx)->units;
}

/* The free list of blocks of units. */
static inline uint32_t shm_class(uint32_t units)
{
	return units < AF_SHM_CLASSES ? units : AF_SHM_CLASSES;
}

/* Takes free block idx out of its free list in stripe sp. */
static void shm_fl_unlink(
		af_store_shm_t *st, af_shm_stripe_t *sp, uint32_t idx)
{
	af_shm_fblk_t *f = (af_shm_fblk_t *)(st->arena + idx);
	uint32_t c = shm_class(f->units);

	if(f->fprev != AF_SHM_NIL)
		((af_shm_fblk_t *)(st->arena + f->fprev))->fnext = f->fnext;
	else
		sp->flist[c] = f->fnext;
	if(f->fnext != AF_SHM_NIL)
		((af_shm_fblk_t *)(st->arena + f->fnext))->fprev = f->fprev;
	if(sp->flist[c] == AF_SHM_NIL)
		sp->fmap[c / 64] &= ~(1ull << (c % 64));
}

/*
 * Makes units [to, to + units) of stripe sp the free block that takes
 * the place in its free list of free block from (of the same size
 * class, from being gone into it or moved): no list is searched or
 * relinked. Its footer is written; the flags of the blocks beside it are
 * the caller's.
 */
static void shm_fl_move(af_store_shm_t *st, af_shm_stripe_t *sp,
		uint32_t from, uint32_t to, uint32_t units)
{
	af_shm_fblk_t *f = (af_shm_fblk_t *)(st->arena + from);
	af_shm_fblk_t *t = (af_shm_fblk_t *)(st->arena + to);
	uint32_t next = f->fnext, prev = f->fprev;

	t->free = 1;
	t->prev_free = 0;
	t->units = units;
	t->fnext = next;
	t->fprev = prev;
	if(prev != AF_SHM_NIL)
		((af_shm_fblk_t *)(st->arena + prev))->fnext = to;
	else
		sp->flist[shm_class(units)] = to;
	if(next != AF_SHM_NIL)
		((af_shm_fblk_t *)(st->arena + next))->fprev = to;
	st->arena[to + units - 1] = units;
}

/*
 * Makes units [idx, idx + units) of stripe sp one free block (its block
 * before is not free) and puts it in its free list; the block after it
 * learns that its block before is free.
 */
static void shm_fl_put(af_store_shm_t *st, af_shm_stripe_t *sp, uint32_t idx,
		uint32_t units)
{
	af_shm_fblk_t *f = (af_shm_fblk_t *)(st->arena + idx);
	uint32_t c = shm_class(units);

	f->free = 1;
	f->prev_free = 0;
	f->units = units;
	f->fprev = AF_SHM_NIL;
	f->fnext = sp->flist[c];
	if(f->fnext != AF_SHM_NIL)
		((af_shm_fblk_t *)(st->arena + f->fnext))->fprev = idx;
	sp->flist[c] = idx;
	sp->fmap[c / 64] |= 1ull << (c % 64);
	st->arena[idx + units - 1] = units;
	if(idx + units < sp->aend)
		shm_m(st, idx + units)->prev_free = 1;
}

/* A cursor of stripe sp at block from, which is merged into the block at
 * to, moves to it. */
static inline void shm_cursor_merge(
		af_shm_stripe_t *sp, uint32_t from, uint32_t to)
{
	if(sp->evict_pos == from)
		sp->evict_pos = to;
	if(sp->gc_pos == from)
		sp->gc_pos = to;
}

/*
 * Frees the block of record idx (unlinked from everything, no longer
 * counted) in stripe sp, merged with the free blocks beside it, so that
 * all free space of a stripe whose records all went is one block again.
 * A free block before or after it that stays in its size class takes it
 * in its place in its list.
 */
static void shm_blk_free(
		af_store_shm_t *st, af_shm_stripe_t *sp, uint32_t idx)
{
	af_shm_meta_t *m = shm_m(st, idx);
	uint32_t start = idx, units = m->units, nb = idx + units, pu;
	af_shm_fblk_t *f;

	if(nb < sp->aend) {
		f = (af_shm_fblk_t *)(st->arena + nb);
		if(f->free) {
			shm_cursor_merge(sp, nb, idx);
			if(!m->prev_free
					&& shm_class(f->units) == shm_class(f->units + units)) {
				/* the record joins the block after it, in its place */
				shm_fl_move(st, sp, nb, idx, f->units + units);
				return;
			}
			shm_fl_unlink(st, sp, nb);
			units += f->units;
		}
	}
	if(m->prev_free) {
		pu = st->arena[idx - 1];
		start = idx - pu;
		shm_cursor_merge(sp, idx, start);
		f = (af_shm_fblk_t *)(st->arena + start);
		if(shm_class(pu) == shm_class(pu + units)) {
			f->units = pu + units;
			st->arena[start + f->units - 1] = f->units;
			if(start + f->units < sp->aend)
				shm_m(st, start + f->units)->prev_free = 1;
			return;
		}
		shm_fl_unlink(st, sp, start);
		units += pu;
	}
	shm_fl_put(st, sp, start, units);
}

/* Whether a record of type may be evicted before a ban (a counter). */
static inline int shm_counter(uint8_t type)
{
	return type == AF_SHM_WIN || type == AF_SHM_HIST || type == AF_SHM_FIG
		   || type == AF_SHM_WMUL;
}

/* Counts record idx, a counter new in stripe sp, and remembers it in
 * hint[] in place of the oldest there. */
static inline void shm_counter_add(af_shm_stripe_t *sp, uint32_t idx)
{
	sp->counters++;
	sp->hint[sp->nhint++ % AF_SHM_HINTS] = idx;
}

/* Frees the records kept in stripe sp's quick[] (shm_blk_free). */
static void shm_quick_flush(af_store_shm_t *st, af_shm_stripe_t *sp)
{
	while(sp->nquick > 0)
		shm_blk_free(st, sp, sp->quick[--sp->nquick]);
}

/*
 * Frees record idx (unlinked from everything) of stripe sp: it is kept
 * as it is in quick[] (type AF_SHM_QUICKT, which sweeps pass over) for
 * the next record of its size, without the cost of merging it and
 * splitting a block again (the records of a call's concurrency sets come
 * and go by the thousand); when quick[] is full it is freed
 * (shm_blk_free). quick[] is freed whenever a record finds no block
 * large enough, and by gc, so it takes no space for good. A counter
 * leaves the stripe's hint[] and spare.
 */
static void shm_put_free(
		af_store_shm_t *st, af_shm_stripe_t *sp, uint32_t idx)
{
	uint32_t i;

	if(sp->used > 0)
		sp->used--;
	if(shm_counter(shm_m(st, idx)->type)) {
		if(sp->counters > 0)
			sp->counters--;
		for(i = 0; i < AF_SHM_HINTS; i++)
			if(sp->hint[i] == idx)
				sp->hint[i] = AF_SHM_NIL;
		if(sp->spare == idx)
			sp->spare = AF_SHM_NIL;
	}
	if(sp->nquick < AF_SHM_QUICK) {
		shm_m(st, idx)->type = AF_SHM_QUICKT;
		sp->quick[sp->nquick++] = idx;
		return;
	}
	shm_blk_free(st, sp, idx);
}

/*
 * The size class of the smallest free block of stripe sp of units or
 * more (no record is larger than the blocks of the last class): units
 * itself when its list has a block, else the first class above it with
 * one. Returns AF_SHM_NIL when there is none.
 */
static inline uint32_t shm_fl_class(const af_shm_stripe_t *sp, uint32_t units)
{
	uint32_t c = shm_class(units), w;
	uint64_t bits;

	if(sp->flist[c] != AF_SHM_NIL)
		return c;
	c++;
	for(w = c / 64; w < AF_SHM_FMAP; w++, c = w * 64) {
		bits = sp->fmap[w] & (~0ull << (c % 64));
		if(bits)
			return w * 64 + (uint32_t)__builtin_ctzll(bits);
	}
	return AF_SHM_NIL;
}

/*
 * Takes a free block of units from stripe sp: a record of quick[] of that
 * size (or up to AF_SHM_MIN_FREE - 1 units more), a free block of exactly
 * that size, else the smallest larger one, whose start it takes (the rest takes its place
 * in its list when its size class is the same), so that records fill a
 * stripe in the order they come; a rest too small to be a free block
 * stays in the record. Returns the record's unit index (its header's
 * size set, not free), or AF_SHM_NIL when no free block is large enough.
 */
static uint32_t shm_alloc(
		af_store_shm_t *st, af_shm_stripe_t *sp, uint32_t units)
{
	uint32_t c, idx, have, rest, i;
	af_shm_fblk_t *f;
	af_shm_meta_t *m;

	/* the latest freed first */
	for(i = sp->nquick; i-- > 0;) {
		idx = sp->quick[i];
		have = shm_m(st, idx)->units;
		if(have >= units && have - units < AF_SHM_MIN_FREE) {
			sp->quick[i] = sp->quick[--sp->nquick];
			return idx;
		}
	}
	c = shm_fl_class(sp, units);
	if(c == AF_SHM_NIL)
		return AF_SHM_NIL;
	idx = sp->flist[c];
	f = (af_shm_fblk_t *)(st->arena + idx);
	have = f->units;
	rest = have - units;
	if(rest < AF_SHM_MIN_FREE) {
		shm_fl_unlink(st, sp, idx);
		if(idx + have < sp->aend)
			shm_m(st, idx + have)->prev_free = 0;
		units = have;
	} else if(shm_class(rest) == c) {
		/* the rest takes the block's place in its list */
		shm_fl_move(st, sp, idx, idx + units, rest);
	} else {
		shm_fl_unlink(st, sp, idx);
		shm_fl_put(st, sp, idx + units, rest);
	}
	/* a cursor at the block stays at a block: the record */
	m = shm_m(st, idx);
	m->free = 0;
	m->prev_free = 0;
	m->units = units;
	return idx;
}

/* Units a free of record idx would give as one block (with the free
 * blocks beside it). Lock: its stripe's. */
static uint32_t shm_free_room(
		const af_store_shm_t *st, const af_shm_stripe_t *sp, uint32_t idx)
{
	const af_shm_meta_t *m = shm_m(st, idx);
	uint32_t units = m->units, nb = idx + units;

	if(nb < sp->aend && ((const af_shm_fblk_t *)(st->arena + nb))->free)
		units += ((const af_shm_fblk_t *)(st->arena + nb))->units;
	if(m->prev_free)
		units += st->arena[idx - 1];
	return units;
}

/*
 * Prepares the key k of member s[0..len) of the set with key sk: hashed
 * with sk's hash as seed, kept in sk's stripe. Lock: none.
 */
static void shm_mkey_init(const af_store_shm_t *st, af_shm_key_t *k,
		const af_shm_key_t *sk, const char *s, size_t len)
{
	k->s = s;
	k->len = len;
	k->hash = shm_hash(st->seed ^ sk->hash, s, len);
	k->stripe = sk->stripe;
	k->klen = len > AF_KEY_MAX ? AF_SHM_KEY_LONG : (uint8_t)len;
}

/*
 * Unlinks member idx from the member list of its set and counts it out;
 * the entry itself stays where it is. A set left empty expires no later
 * than idx did. Lock: the stripe of idx (and of its set).
 */
static void shm_cmem_detach(af_store_shm_t *st, uint32_t idx)
{
	af_shm_cmem_t *mb = &shm_v(st, idx)->cmem;
	af_shm_cset_t *cs;
	uint32_t set = mb->set;

	if(set == AF_SHM_NIL || shm_m(st, set)->type != AF_SHM_CSET)
		return;
	cs = &shm_v(st, set)->cset;
	if(mb->prev != AF_SHM_NIL)
		shm_v(st, mb->prev)->cmem.next = mb->next;
	else
		cs->head = mb->next;
	if(mb->next != AF_SHM_NIL)
		shm_v(st, mb->next)->cmem.prev = mb->prev;
	mb->set = mb->prev = mb->next = AF_SHM_NIL;
	if(cs->count > 0)
		cs->count--;
	if(cs->count == 0) {
		if(shm_m(st, set)->expires_ms > shm_m(st, idx)->expires_ms)
			shm_m(st, set)->expires_ms = shm_m(st, idx)->expires_ms;
		cs->latest_ms = shm_m(st, set)->expires_ms;
		cs->earliest_ms = UINT64_MAX;
	}
}

/*
 * Links member entry idx at the head of the member list of set and counts
 * it in; the set's expiry range takes in the member's. Lock: the stripe
 * of set.
 */
static void shm_cmem_link(af_store_shm_t *st, uint32_t set, uint32_t idx)
{
	af_shm_cset_t *cs = &shm_v(st, set)->cset;
	af_shm_cmem_t *mb = &shm_v(st, idx)->cmem;
	uint64_t exp = shm_m(st, idx)->expires_ms;

	mb->set = set;
	mb->prev = AF_SHM_NIL;
	mb->next = cs->head;
	if(cs->head != AF_SHM_NIL)
		shm_v(st, cs->head)->cmem.prev = idx;
	cs->head = idx;
	cs->count++;
	if(exp < cs->earliest_ms)
		cs->earliest_ms = exp;
	if(exp > cs->latest_ms)
		cs->latest_ms = exp;
}

static unsigned shm_release(af_store_shm_t *st, uint32_t s, uint32_t idx);

/*
 * Frees every member of set idx, which is left empty. Returns the number
 * of entries freed. Lock: stripe s, the set's.
 */
static unsigned shm_cset_clear(af_store_shm_t *st, uint32_t s, uint32_t idx)
{
	af_shm_cset_t *cs = &shm_v(st, idx)->cset;
	unsigned freed = 0;
	uint32_t steps;

	for(steps = 0; cs->head != AF_SHM_NIL && steps <= st->per; steps++)
		freed += shm_release(st, s, cs->head);
	cs->head = AF_SHM_NIL;
	cs->count = 0;
	return freed;
}

/*
 * Unlinks entry idx from its chain in stripe s and frees it: a member
 * leaves its set first, a set frees its members first. Returns the number
 * of entries freed. Lock: stripe s.
 */
static unsigned shm_release(af_store_shm_t *st, uint32_t s, uint32_t idx)
{
	uint32_t *link;
	uint32_t steps;
	unsigned freed = 1;

	if(shm_m(st, idx)->type == AF_SHM_CSET)
		freed += shm_cset_clear(st, s, idx);
	else if(shm_m(st, idx)->type == AF_SHM_CMEM)
		shm_cmem_detach(st, idx);
	link = shm_bucket(st, s, shm_m(st, idx)->hash);
	for(steps = 0; *link != AF_SHM_NIL && steps <= st->per; steps++) {
		if(*link == idx) {
			*link = shm_m(st, idx)->next;
			break;
		}
		link = &shm_m(st, *link)->next;
	}
	shm_put_free(st, &st->stripes[s], idx);
	return freed;
}

/*
 * Finds the live entry of type for key k in its stripe; a member must
 * also belong to set owner (AF_SHM_NIL for the other types). Expired
 * entries met on the chain are freed on the way; an expired set frees
 * its members, which may sit on this chain, so the walk starts again.
 * Returns the entry index or AF_SHM_NIL. Lock: the stripe of k.
 */
static inline uint32_t shm_find_owned(af_store_shm_t *st,
		const af_shm_key_t *k, uint8_t type, uint32_t owner, uint64_t now_ms)
{
	af_shm_stripe_t *sp = &st->stripes[k->stripe];
	uint32_t hi = (uint32_t)(k->hash >> 32);
	uint32_t *link = shm_bucket(st, k->stripe, hi);
	size_t cmp = k->klen == AF_SHM_KEY_LONG ? AF_KEY_MAX : k->klen;
	af_shm_meta_t *m;
	uint32_t idx, steps = 0;

	while(*link != AF_SHM_NIL && steps++ <= st->per) {
		idx = *link;
		m = shm_m(st, idx);
		if(now_ms >= m->expires_ms) {
			if(m->type == AF_SHM_CSET) {
				sp->expired += shm_release(st, k->stripe, idx);
				link = shm_bucket(st, k->stripe, hi);
				steps = 0;
				continue;
			}
			if(m->type == AF_SHM_CMEM)
				shm_cmem_detach(st, idx);
			*link = m->next;
			shm_put_free(st, sp, idx);
			sp->expired++;
			continue;
		}
		if(m->hash == hi && m->type == type && m->klen == k->klen
				&& af_bytes_eq(shm_key(st, idx), k->s, cmp)
				&& (k->klen != AF_SHM_KEY_LONG
						|| memcmp(shm_key(st, idx) + AF_KEY_MAX, &k->hash, 8)
								   == 0)
				&& (owner == AF_SHM_NIL || shm_v(st, idx)->cmem.set == owner))
			return idx;
		link = &m->next;
	}
	return AF_SHM_NIL;
}

/* shm_find_owned for the types without owner (all but members). */
static uint32_t shm_find(af_store_shm_t *st, const af_shm_key_t *k,
		uint8_t type, uint64_t now_ms)
{
	return shm_find_owned(st, k, type, AF_SHM_NIL, now_ms);
}

/*
 * Whether record idx of stripe sp, expiring at exp, is to be evicted
 * before the victim chosen so far (expiring at *vexp; *vfit: its freeing
 * makes a free block of units): when need is set (the stripe lacks a free
 * block of units, not a record), one whose freeing makes one (with the
 * free blocks beside it) first, then the nearest expiry. When it is, *vexp and *vfit
 * become its own. Lock: stripe sp.
 */
static inline int shm_victim_better(const af_store_shm_t *st,
		const af_shm_stripe_t *sp, uint32_t idx, uint32_t units, int need,
		uint64_t exp, uint64_t *vexp, int *vfit)
{
	int fit;

	if(exp >= *vexp && (*vfit || !need))
		return 0;
	fit = need && shm_free_room(st, sp, idx) >= units;
	if(fit < *vfit || (fit == *vfit && exp >= *vexp))
		return 0;
	*vexp = exp;
	*vfit = fit;
	return 1;
}

/*
 * One step of making room in full stripe s for a record of units. It
 * looks at AF_SHM_EVICT_SAMPLE records of the stripe from where the
 * previous step stopped: it frees the expired ones it met, else evicts
 * the live window, figure or history with the nearest expiry among them,
 * or when the stripe has none (it counts them) and evict_ban is set, the
 * ban with the nearest expiry among them. So the oldest go first, among a
 * sample, and a step costs about AF_SHM_EVICT_SAMPLE records, not the
 * stripe. A step that evicts a counter remembers the one of its sample
 * it would have taken next (spare): the next step of a stripe larger
 * than the sample takes it without a sample of its own, while it has not
 * changed (its expiry the same) and no free block is wanted: half the
 * samples of a flood of new keys. When the sample has no counter (a window, figure or history)
 * but the stripe has, the counters it made last (hint[]) are looked at
 * too, then on, record after record, until one is met (the whole stripe
 * at most): a ban never goes while a counter may. When the stripe has
 * records to spare but no free block of units, a record whose freeing
 * makes one (with the free blocks beside it) goes before an older one
 * that does not. (When a record is missing, the oldest goes: its block
 * often merges with others once quick[] is freed, and a younger one that
 * fits would cost more detection than the second eviction it may save.)
 * Sets and members are never
 * evicted; the record pinned (or AF_SHM_NIL) is never taken. Returns 0
 * when it freed something, -1 when it found nothing it may free (when
 * the stripe has no counter and evict_ban is not set, after its sample:
 * an expired record beyond it is gc's). Lock: stripe s.
 */
static __attribute__((noinline)) int shm_evict(af_store_shm_t *st,
		uint32_t s, uint32_t units, uint64_t now_ms, int evict_ban,
		uint32_t pinned)
{
	af_shm_stripe_t *sp = &st->stripes[s];
	const af_shm_meta_t *m;
	uint32_t idx, pos, from, n, i, k = 0, walked = 0;
	uint32_t span = sp->aend - sp->abase;
	uint32_t victim_nb = AF_SHM_NIL, victim_b = AF_SHM_NIL, next = AF_SHM_NIL;
	/* the counters the walk may meet: a pinned one is not evicted */
	uint32_t others = sp->counters;
	uint64_t exp, exp_nb = UINT64_MAX, exp_b = UINT64_MAX, exp_next = UINT64_MAX;
	int need = sp->used < st->per && shm_fl_class(sp, units) == AF_SHM_NIL;
	int fit_nb = 0, fit_b = 0;
	int hinted = 0;
	unsigned freed = 0;

	if(pinned >= sp->abase && pinned < sp->aend
			&& shm_counter(shm_m(st, pinned)->type) && others > 0)
		others--;
	idx = sp->spare;
	sp->spare = AF_SHM_NIL;
	if(idx != AF_SHM_NIL && idx != pinned && !need
			&& sp->used > AF_SHM_EVICT_SAMPLE
			&& shm_m(st, idx)->expires_ms == sp->spare_exp) {
		/* the next of the last sample, as it was then */
		shm_release(st, s, idx);
		if(now_ms >= sp->spare_exp) {
			sp->expired++;
		} else {
			sp->evictions++;
		}
		return 0;
	}
	pos = sp->evict_pos;
	if(pos < sp->abase || pos >= sp->aend)
		pos = sp->abase;
	/* (the cursor is sp->evict_pos while a free may merge it away:
	 * shm_cursor_merge) */
	while(walked < span) {
		if(k >= AF_SHM_EVICT_SAMPLE) {
			if(freed || victim_nb != AF_SHM_NIL)
				break;
			if(!others && (!evict_ban || victim_b != AF_SHM_NIL))
				break;
			sp->evict_pos = pos;
			for(i = 0; others && !hinted && i < AF_SHM_HINTS; i++) {
				idx = sp->hint[i];
				if(idx == AF_SHM_NIL || idx == pinned)
					continue;
				exp = shm_m(st, idx)->expires_ms;
				if(now_ms >= exp) {
					n = shm_release(st, s, idx);
					sp->expired += n;
					freed += n;
				} else if(shm_victim_better(st, sp, idx, units, need, exp,
								  &exp_nb, &fit_nb)) {
					victim_nb = idx;
				}
			}
			pos = sp->evict_pos;
			hinted = 1;
			if(freed || victim_nb != AF_SHM_NIL)
				break;
		}
		m = shm_m(st, pos);
		if(m->free) {
			n = ((const af_shm_fblk_t *)m)->units;
		} else {
			n = m->units;
			if(m->type != AF_SHM_QUICKT && pos != pinned) {
				k++;
				exp = m->expires_ms;
				if(now_ms >= exp) {
					from = sp->evict_pos = pos;
					n = shm_release(st, s, pos);
					sp->expired += n;
					freed += n;
					pos = sp->evict_pos;
					n = shm_bunits(st, pos);
					/* (a merge may have taken pos back into walked
					 * units) */
					n = pos + n - from;
					pos = from;
				} else if(exp >= exp_nb && (fit_nb || !need)) {
					/* (neither it nor a ban can be the victim) */
					if(exp < exp_next && !need && shm_counter(m->type)) {
						exp_next = exp;
						next = pos;
					}
				} else if(shm_counter(m->type)) {
					if(!need && victim_nb != AF_SHM_NIL) {
						exp_next = exp_nb;
						next = victim_nb;
					}
					if(shm_victim_better(st, sp, pos, units, need, exp,
							   &exp_nb, &fit_nb))
						victim_nb = pos;
				} else if(m->type == AF_SHM_BAN) {
					if(shm_victim_better(st, sp, pos, units, need, exp,
							   &exp_b, &fit_b))
						victim_b = pos;
				}
			}
		}
		walked += n;
		pos = pos + n >= sp->aend ? sp->abase : pos + n;
	}
	sp->evict_pos = pos;
	if(freed)
		return 0;
	idx = victim_nb;
	if(idx == AF_SHM_NIL && evict_ban)
		idx = victim_b;
	if(idx == AF_SHM_NIL)
		return -1;
	shm_release(st, s, idx);
	sp->evictions++;
	if(idx == victim_b)
		sp->bans_evicted++;
	else if(next != AF_SHM_NIL && next != idx) {
		sp->spare = next;
		sp->spare_exp = exp_next;
	}
	return 0;
}

/*
 * Takes a record of units in stripe s: a free block when the stripe has
 * fewer than per records and a free block large enough, else after
 * making room (shm_evict, step after step). See shm_evict for evict_ban
 * and pinned. Returns the record's index (its header's size set), not
 * linked anywhere, or AF_SHM_NIL. Lock: stripe s.
 */
static uint32_t shm_take(af_store_shm_t *st, uint32_t s, uint32_t units,
		uint64_t now_ms, int evict_ban, uint32_t pinned)
{
	af_shm_stripe_t *sp = &st->stripes[s];
	uint32_t idx;

	for(;;) {
		if(sp->used < st->per) {
			idx = shm_alloc(st, sp, units);
			if(idx == AF_SHM_NIL && sp->nquick) {
				shm_quick_flush(st, sp);
				idx = shm_alloc(st, sp, units);
			}
			if(idx != AF_SHM_NIL) {
				sp->used++;
				return idx;
			}
		}
		if(shm_evict(st, s, units, now_ms, evict_ban, pinned) < 0)
			return AF_SHM_NIL;
	}
}

/*
 * Creates a record of type for key k with a value of vbytes (zeroed) and
 * aux, expiring at expires_ms, linked at the head of its chain. See
 * shm_evict for evict_ban and pinned. Returns the record's index or
 * AF_SHM_NIL.
 */
static uint32_t shm_insert(af_store_shm_t *st, const af_shm_key_t *k,
		uint8_t type, size_t vbytes, unsigned aux, uint64_t expires_ms,
		uint64_t now_ms, int evict_ban, uint32_t pinned)
{
	uint32_t idx, *head, voff = shm_voff(k->klen);
	af_shm_meta_t *m;
	char *key;

	idx = shm_take(st, k->stripe, shm_units(k->klen, vbytes), now_ms,
			evict_ban, pinned);
	if(idx == AF_SHM_NIL)
		return AF_SHM_NIL;
	m = shm_m(st, idx);
	m->hash = (uint32_t)(k->hash >> 32);
	m->expires_ms = expires_ms;
	m->type = type;
	m->klen = k->klen;
	m->aux = aux;
	if(shm_counter(type))
		shm_counter_add(&st->stripes[k->stripe], idx);
	key = shm_key(st, idx);
	if(k->klen) /* an empty key may come as NULL */
		memcpy(key, k->s, k->klen == AF_SHM_KEY_LONG ? AF_KEY_MAX : k->klen);
	if(k->klen == AF_SHM_KEY_LONG)
		memcpy(key + AF_KEY_MAX, &k->hash, 8);
	memset(st->arena + idx + voff, 0, (m->units - voff) * AF_SHM_UNIT);
	head = shm_bucket(st, k->stripe, m->hash);
	m->next = *head;
	*head = idx;
	return idx;
}

/* Bytes of value record idx has room for. */
static inline size_t shm_vroom(const af_store_shm_t *st, uint32_t idx)
{
	const af_shm_meta_t *m = shm_m(st, idx);

	return (size_t)(m->units - shm_voff(m->klen)) * AF_SHM_UNIT;
}

/*
 * Makes record idx of stripe s room for a value of vbytes: when it has
 * less, it moves to a larger record (taken as shm_take does, see
 * shm_evict for evict_ban; idx itself is never evicted), the value kept,
 * the rest zeroed, in its place on its chain. Only windows, figures,
 * histories and bans move: nothing else holds their index. Returns the
 * record's index, or AF_SHM_NIL when there is no room (idx is left as it
 * was). Lock: stripe s.
 */
static uint32_t shm_grow(af_store_shm_t *st, uint32_t s, uint32_t idx,
		size_t vbytes, uint64_t now_ms, int evict_ban)
{
	af_shm_meta_t *m, *n;
	uint32_t units, nidx, *link, steps, hdr = AF_SHM_HDR / AF_SHM_UNIT;

	if(shm_vroom(st, idx) >= vbytes)
		return idx;
	units = shm_units(shm_m(st, idx)->klen, vbytes);
	nidx = shm_take(st, s, units, now_ms, evict_ban, idx);
	if(nidx == AF_SHM_NIL)
		return AF_SHM_NIL;
	m = shm_m(st, idx);
	n = shm_m(st, nidx);
	n->hash = m->hash;
	n->next = m->next;
	n->expires_ms = m->expires_ms;
	n->type = m->type;
	n->klen = m->klen;
	n->aux = m->aux;
	if(shm_counter(n->type)) /* (idx's count goes when it is freed) */
		shm_counter_add(&st->stripes[s], nidx);
	memcpy(st->arena + nidx + hdr, st->arena + idx + hdr,
			(m->units - hdr) * AF_SHM_UNIT);
	memset(st->arena + nidx + m->units, 0,
			(n->units - m->units) * AF_SHM_UNIT);
	link = shm_bucket(st, s, m->hash);
	for(steps = 0; *link != idx && *link != AF_SHM_NIL && steps <= st->per;
			steps++)
		link = &shm_m(st, *link)->next;
	if(*link == idx)
		*link = nidx;
	shm_put_free(st, &st->stripes[s], idx);
	return nidx;
}

/* Copies ban record idx out to b. */
static void shm_ban_out(const af_store_shm_t *st, uint32_t idx, af_ban_t *b)
{
	const af_shm_ban_t *v = &shm_v(st, idx)->ban;
	size_t room = shm_vroom(st, idx) - offsetof(af_shm_ban_t, reason);

	b->since_ms = v->since_ms;
	b->until_ms = shm_m(st, idx)->expires_ms;
	b->hits = v->hits;
	memset(b->reason, 0, sizeof(b->reason));
	memcpy(b->reason, v->reason,
			strnlen(v->reason, room < AF_BAN_REASON ? room : AF_BAN_REASON - 1));
}

/*
 * Bans key k for ttl_s seconds with reason (may be NULL; kept at its
 * length, truncated to AF_BAN_REASON - 1 bytes) unless a live ban exists
 * (set_always = 0) or replacing it (set_always = 1). Returns 1 when a ban
 * was written, 0 when one was already there, -1 when there is no room.
 */
static int shm_ban_put(af_store_shm_t *st, const af_shm_key_t *k,
		uint64_t now_ms, uint32_t ttl_s, const char *reason, int set_always,
		uint32_t pinned)
{
	size_t len = reason ? strnlen(reason, AF_BAN_REASON - 1) : 0;
	size_t vbytes = offsetof(af_shm_ban_t, reason) + len + 1;
	uint64_t until = now_ms + (uint64_t)ttl_s * 1000;
	af_shm_ban_t *b;
	uint32_t idx;

	idx = shm_find(st, k, AF_SHM_BAN, now_ms);
	if(idx != AF_SHM_NIL && !set_always)
		return 0;
	if(idx == AF_SHM_NIL)
		idx = shm_insert(
				st, k, AF_SHM_BAN, vbytes, 0, until, now_ms, 1, pinned);
	else
		idx = shm_grow(st, k->stripe, idx, vbytes, now_ms, 1);
	if(idx == AF_SHM_NIL)
		return -1;
	shm_m(st, idx)->expires_ms = until;
	b = &shm_v(st, idx)->ban;
	b->since_ms = now_ms;
	b->hits = 0;
	if(len)
		memcpy(b->reason, reason, len);
	b->reason[len] = '\0';
	return 1;
}

/* Adds n to c without wrapping. */
static inline uint32_t shm_sat_add(uint32_t c, uint32_t n)
{
	return UINT32_MAX - c < n ? UINT32_MAX : c + n;
}

/*
 * The absolute number of a slice stored modulo 2^32 as s, seen at slice
 * now: a record lives far less than 2^31 of its slices after its newest
 * one, and the clock does not go back as far.
 */
static inline uint64_t shm_slice(uint32_t s, uint64_t now)
{
	return now - (uint64_t)(int64_t)(int32_t)((uint32_t)now - s);
}

/*
 * Moves window w to slice: the buckets of the slices skipped, now outside
 * the window, are emptied. A slice older than the newest seen (the clock
 * went back) leaves w as it is.
 */
static void shm_win_advance(af_shm_win_t *w, uint64_t slice)
{
	uint32_t d = (uint32_t)slice - w->last_slice, i;

	if((int32_t)d <= 0)
		return;
	if(d >= AF_WIN_BUCKETS) {
		memset(w->counts, 0, sizeof(w->counts));
	} else {
		for(i = 1; i <= d; i++)
			w->counts[(w->last_slice + i) % AF_WIN_BUCKETS] = 0;
	}
	w->last_slice = (uint32_t)slice;
}

/* The total of window w, saturated to UINT32_MAX. */
static uint32_t shm_win_total(const af_shm_win_t *w)
{
	uint64_t sum = 0;
	int i;

	for(i = 0; i < AF_WIN_BUCKETS; i++)
		sum += w->counts[i];
	return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* Reads op's key (of hash h) into k and locks its stripe; returns the
 * stripe. */
static inline af_shm_stripe_t *shm_lock_op(af_store_shm_t *st,
		af_shm_key_t *k, const af_op_t *op, uint64_t h)
{
	af_shm_stripe_t *sp;

	shm_key_set(st, k, op->key, op->key_len, h);
	sp = &st->stripes[k->stripe];
	af_lock(&sp->lock);
	return sp;
}

/* AF_OP_BAN_GET on op: a found ban is counted as hit and copied out. */
static int shm_op_ban_get(
		af_store_shm_t *st, af_op_t *op, uint64_t h, uint64_t now_ms)
{
	af_shm_key_t k;
	af_shm_stripe_t *sp;
	af_shm_ban_t *b;
	uint32_t idx;

	sp = shm_lock_op(st, &k, op, h);
	idx = shm_find(st, &k, AF_SHM_BAN, now_ms);
	if(idx != AF_SHM_NIL) {
		b = &shm_v(st, idx)->ban;
		b->hits = shm_sat_add(b->hits, 1);
		shm_ban_out(st, idx, &op->u.ban_get.ban);
		op->u.ban_get.found = 1;
	}
	af_unlock(&sp->lock);
	return 0;
}

/* AF_OP_BAN_SET on op: (re)places the ban. */
static int shm_op_ban_set(
		af_store_shm_t *st, af_op_t *op, uint64_t h, uint64_t now_ms)
{
	af_shm_key_t k;
	af_shm_stripe_t *sp;
	int rc;

	if(op->u.ban_set.ttl_s == 0)
		return -1;
	sp = shm_lock_op(st, &k, op, h);
	rc = shm_ban_put(st, &k, now_ms, op->u.ban_set.ttl_s,
			op->u.ban_set.reason, 1, AF_SHM_NIL);
	af_unlock(&sp->lock);
	return rc < 0 ? -1 : 0;
}

/* AF_OP_BAN_DEL on op. */
static int shm_op_ban_del(
		af_store_shm_t *st, af_op_t *op, uint64_t h, uint64_t now_ms)
{
	af_shm_key_t k;
	af_shm_stripe_t *sp;
	uint32_t idx;

	sp = shm_lock_op(st, &k, op, h);
	idx = shm_find(st, &k, AF_SHM_BAN, now_ms);
	if(idx != AF_SHM_NIL) {
		shm_release(st, k.stripe, idx);
		op->u.ban_del.found = 1;
	}
	af_unlock(&sp->lock);
	return 0;
}

/*
 * Prepares op's key (of hash h) into k and the key a hit may ban into bk (ban_key
 * when other is set, else op's key) and locks their stripes, lower index
 * first (as wherever several are held). Returns the stripe of k; *sb is
 * the other one when the two differ, else NULL. Lock: none held on entry.
 */
static af_shm_stripe_t *shm_lock_pair(af_store_shm_t *st, const af_op_t *op,
		uint64_t h, af_shm_key_t *k, af_shm_key_t *bk, int other,
		const char *ban_key, size_t ban_key_len, af_shm_stripe_t **sb)
{
	af_shm_stripe_t *sa;

	shm_key_set(st, k, op->key, op->key_len, h);
	*bk = *k;
	if(other)
		shm_key_init(st, bk, ban_key, ban_key_len);
	sa = &st->stripes[k->stripe];
	*sb = NULL;
	if(bk->stripe == k->stripe) {
		af_lock(&sa->lock);
		return sa;
	}
	*sb = &st->stripes[bk->stripe];
	if(bk->stripe < k->stripe) {
		af_lock(&(*sb)->lock);
		af_lock(&sa->lock);
	} else {
		af_lock(&sa->lock);
		af_lock(&(*sb)->lock);
	}
	return sa;
}

/*
 * AF_OP_WIN_HIT on op. A key keeps one window size: a hit with another
 * window_s than the stored one starts the counter again. When the hit
 * may ban a key of another stripe, both stripe locks are taken up front,
 * lower index first (as wherever several are held), so that the
 * count and the ban are one atomic step. A hit with n > 0 that brings
 * the total to ban_threshold or above bans the key unless a live ban is
 * already there; banned tells whether this hit set it. n is what to add
 * (op's n, or 0 when its if_new says so). Lock: none held on entry.
 */
static int shm_op_win_hit(af_store_shm_t *st, af_op_t *op, uint32_t n,
		uint64_t h, uint64_t now_ms)
{
	af_shm_key_t k, bk;
	af_shm_stripe_t *sa, *sb = NULL;
	af_shm_win_t *w;
	uint64_t slice_ms, slice;
	uint32_t idx, thr = op->u.win.ban_threshold;
	int rc = 0, ban;

	if(op->u.win.window_s == 0 || (thr && op->u.win.ban_s == 0))
		return -1;
	slice_ms = (uint64_t)op->u.win.window_s * 1000 / AF_WIN_BUCKETS;
	if(slice_ms == 0)
		slice_ms = 1;
	slice = now_ms / slice_ms;
	sa = shm_lock_pair(st, op, h, &k, &bk, thr && op->u.win.ban_key,
			op->u.win.ban_key, op->u.win.ban_key_len, &sb);

	idx = shm_find(st, &k, AF_SHM_WIN, now_ms);
	if(idx == AF_SHM_NIL) {
		if(n == 0)
			goto done; /* nothing counted, nothing to keep */
		idx = shm_insert(st, &k, AF_SHM_WIN, sizeof(af_shm_win_t), 0, 0, now_ms,
				0, AF_SHM_NIL);
		if(idx == AF_SHM_NIL) {
			rc = -1;
			goto done;
		}
	}
	w = &shm_v(st, idx)->win;
	if(w->window_s != op->u.win.window_s) {
		memset(w, 0, sizeof(*w));
		w->window_s = op->u.win.window_s;
		w->last_slice = (uint32_t)slice;
	}
	shm_win_advance(w, slice);
	if(n) {
		w->counts[w->last_slice % AF_WIN_BUCKETS] =
				shm_sat_add(w->counts[w->last_slice % AF_WIN_BUCKETS], n);
		shm_m(st, idx)->expires_ms =
				(shm_slice(w->last_slice, slice) + AF_WIN_BUCKETS) * slice_ms;
	}
	op->u.win.count = shm_win_total(w);

	if(thr && n && op->u.win.count >= thr) {
		ban = shm_ban_put(st, &bk, now_ms, op->u.win.ban_s,
				op->u.win.ban_reason, 0, idx);
		if(ban < 0)
			rc = -1;
		else
			op->u.win.banned = ban;
	}

done:
	if(sb)
		af_unlock(&sb->lock);
	af_unlock(&sa->lock);
	return rc;
}

/*
 * Moves figure slot f to slice (the slices left behind emptied; one
 * behind its newest stays as it is) and adds n[] to its newest slice
 * when add; returns its newest slice.
 */
static uint64_t shm_fig_slot(
		af_shm_fig_t *f, uint64_t slice, const uint32_t *n, int add)
{
	uint64_t d, j;
	uint32_t *row;
	int i;

	if(slice > f->last_slice) {
		d = slice - f->last_slice;
		if(d >= AF_FIG_SLICES)
			memset(f->counts, 0, sizeof(f->counts));
		else
			for(j = 1; j <= d; j++)
				memset(f->counts[(f->last_slice + j) % AF_FIG_SLICES], 0,
						sizeof(f->counts[0]));
		f->last_slice = slice;
	}
	if(add) {
		row = f->counts[f->last_slice % AF_FIG_SLICES];
		for(i = 0; i < AF_FIG_N; i++)
			row[i] = shm_sat_add(row[i], n[i]);
	}
	return f->last_slice;
}

/*
 * AF_OP_FIG_MULTI on op: one record of a slot per window (aux of them),
 * one lookup and one lock for every window of the subject. Each window
 * of op takes the slot of its window_s; one without takes an empty slot,
 * else a new one (the record grows, up to AF_FIG_WIN_MAX), else the
 * first of a window_s op does not name: it starts again at now's slice.
 * Each slot moves to now's slice, n[] is added to its newest (unless all
 * 0), its totals are copied out. The record expires when the newest
 * slice added to leaves its window, the longest such (never earlier than
 * it did). A read of a missing record creates nothing.
 */
static int shm_op_fig_multi(
		af_store_shm_t *st, af_op_t *op, uint64_t h, uint64_t now_ms)
{
	af_shm_key_t k;
	af_shm_stripe_t *sa;
	af_shm_fig_t *f;
	uint64_t slice_ms[AF_FIG_WIN_MAX], slice, exp, sum;
	uint32_t idx;
	unsigned ns, t, slot[AF_FIG_WIN_MAX], empty = 0, miss = 0, need;
	int i, j, add = 0, rc = 0, used[AF_FIG_WIN_MAX] = {0};

	af_store_fig_clear(op);
	if(af_store_fig_check(op) < 0)
		return -1;
	for(i = 0; i < AF_FIG_N; i++)
		add |= op->u.fig.n[i] != 0;
	for(j = 0; j < op->u.fig.nwin; j++) {
		slice_ms[j] = (uint64_t)op->u.fig.w[j].window_s * 1000 / AF_FIG_SLICES;
		if(slice_ms[j] == 0)
			slice_ms[j] = 1;
	}
	shm_key_set(st, &k, op->key, op->key_len, h);
	sa = &st->stripes[k.stripe];
	af_lock(&sa->lock);
	idx = shm_find(st, &k, AF_SHM_FIG, now_ms);
	if(idx == AF_SHM_NIL) {
		if(!add)
			goto done;
		idx = shm_insert(st, &k, AF_SHM_FIG,
				(size_t)op->u.fig.nwin * sizeof(af_shm_fig_t),
				(unsigned)op->u.fig.nwin, 0, now_ms, 0, AF_SHM_NIL);
		if(idx == AF_SHM_NIL) {
			rc = -1;
			goto done;
		}
	}
	ns = shm_m(st, idx)->aux;
	f = shm_v(st, idx)->fig;
	for(j = 0; j < op->u.fig.nwin; j++) {
		for(t = 0; t < ns; t++)
			if(!used[t] && f[t].window_s == op->u.fig.w[j].window_s)
				break;
		if(t < ns) {
			used[t] = 1;
			slot[j] = t;
		} else {
			slot[j] = AF_FIG_WIN_MAX; /* none yet */
			miss++;
		}
	}
	if(miss) {
		for(t = 0; t < ns; t++)
			empty += f[t].window_s == 0;
		need = ns + (miss > empty ? miss - empty : 0);
		if(need > AF_FIG_WIN_MAX)
			need = AF_FIG_WIN_MAX;
		if(need > ns) {
			idx = shm_grow(st, k.stripe, idx, need * sizeof(af_shm_fig_t),
					now_ms, 0);
			if(idx == AF_SHM_NIL) {
				rc = -1;
				goto done;
			}
			shm_m(st, idx)->aux = need;
			ns = need;
			f = shm_v(st, idx)->fig;
		}
		/* an empty slot, else one of a window_s op does not name */
		for(j = 0; j < op->u.fig.nwin; j++) {
			if(slot[j] < AF_FIG_WIN_MAX)
				continue;
			for(t = 0; t < ns; t++)
				if(!used[t] && f[t].window_s == 0)
					break;
			if(t == ns)
				for(t = 0; used[t]; t++)
					;
			used[t] = 1;
			slot[j] = t;
			memset(&f[t], 0, sizeof(f[t]));
			f[t].window_s = op->u.fig.w[j].window_s;
			f[t].last_slice = now_ms / slice_ms[j];
		}
	}
	for(j = 0; j < op->u.fig.nwin; j++) {
		slice = shm_fig_slot(&f[slot[j]], now_ms / slice_ms[j], op->u.fig.n,
				add);
		if(add) {
			exp = (slice + AF_FIG_SLICES) * slice_ms[j];
			if(exp > shm_m(st, idx)->expires_ms)
				shm_m(st, idx)->expires_ms = exp;
		}
		for(i = 0; i < AF_FIG_N; i++) {
			sum = 0;
			for(t = 0; t < AF_FIG_SLICES; t++)
				sum += f[slot[j]].counts[t][i];
			op->u.fig.w[j].count[i] = sum > UINT32_MAX ? UINT32_MAX
													   : (uint32_t)sum;
		}
	}
done:
	af_unlock(&sa->lock);
	return rc;
}

/* Slot t of the slots at v (wide or narrow). */
static inline af_shm_wslot_t *shm_wslot(uint8_t *v, unsigned t, int wide)
{
	return (af_shm_wslot_t *)(v + t * AF_SHM_WSLOT(wide));
}

/* Count b of slot w. */
static inline uint32_t shm_wcount(const af_shm_wslot_t *w, uint32_t b, int wide)
{
	uint16_t c;

	if(!wide)
		return w->counts[b];
	memcpy(&c, w->counts + 2 * b, 2);
	return c;
}

/* Sets count b of slot w to c (which fits its width). */
static inline void shm_wcount_set(
		af_shm_wslot_t *w, uint32_t b, int wide, uint32_t c)
{
	uint16_t c16 = (uint16_t)c;

	if(!wide)
		w->counts[b] = (uint8_t)c;
	else
		memcpy(w->counts + 2 * b, &c16, 2);
}

/*
 * Moves slot w of a multi-window counter to slice (see shm_win_advance)
 * and returns its total.
 */
static uint32_t shm_wslot_advance(af_shm_wslot_t *w, uint64_t slice, int wide)
{
	uint32_t d = (uint32_t)slice - w->last_slice, i, b;

	if((int32_t)d > 0) {
		if(d >= AF_WIN_BUCKETS) {
			memset(w->counts, 0, AF_WIN_BUCKETS * (wide ? 2 : 1));
			w->total = 0;
		} else {
			for(i = 1; i <= d; i++) {
				b = (w->last_slice + i) % AF_WIN_BUCKETS;
				w->total -= shm_wcount(w, b, wide);
				shm_wcount_set(w, b, wide, 0);
			}
		}
		w->last_slice = (uint32_t)slice;
	}
	return w->total;
}

/*
 * Finds in counter v (of ns slots) the slot of each window of op with
 * its window_s: slot[j], found[j]; used[t] tells the slots taken.
 * Returns the slots the counter needs: one more for each window without
 * a slot beyond the empty ones, at most AF_WIN_MULTI_MAX (then the slot
 * of a window op does not name is taken).
 */
static unsigned shm_wmul_match(uint8_t *v, unsigned ns, int wide,
		const af_op_t *op, unsigned *slot, int *found, int *used)
{
	unsigned t, empty = 0, miss = 0, need;
	int j;

	for(j = 0; j < op->u.wm.nwin; j++) {
		found[j] = 0;
		for(t = 0; t < ns; t++)
			if(!used[t]
					&& shm_wslot(v, t, wide)->window_s
							   == op->u.wm.w[j].window_s) {
				used[t] = 1;
				found[j] = 1;
				slot[j] = t;
				break;
			}
		miss += !found[j];
	}
	if(!miss)
		return ns;
	for(t = 0; t < ns; t++)
		empty += shm_wslot(v, t, wide)->window_s == 0;
	need = ns + (miss > empty ? miss - empty : 0);
	return need > AF_WIN_MULTI_MAX ? AF_WIN_MULTI_MAX : need;
}

/*
 * Gives the windows of op without a slot in counter v (of ns slots,
 * enough for op: shm_wmul_match) one, in slot[]: an empty one, else one
 * of a window_s op does not name, emptied (the window starts at 0 at
 * slice[j]).
 */
static void shm_wmul_slots(uint8_t *v, unsigned ns, int wide,
		const af_op_t *op, const uint64_t *slice, unsigned *slot,
		const int *found, int *used)
{
	af_shm_wslot_t *w;
	unsigned t;
	int j;

	for(j = 0; j < op->u.wm.nwin; j++) {
		if(found[j])
			continue;
		/* an empty slot, else one of a window op does not name */
		for(t = 0; t < ns; t++)
			if(!used[t] && shm_wslot(v, t, wide)->window_s == 0)
				break;
		if(t == ns)
			for(t = 0; used[t]; t++)
				;
		used[t] = 1;
		slot[j] = t;
		w = shm_wslot(v, t, wide);
		memset(w, 0, AF_SHM_WSLOT(wide));
		w->window_s = op->u.wm.w[j].window_s;
		w->last_slice = (uint32_t)slice[j];
	}
}

/*
 * Makes the counts of WIN_MULTI record idx (narrow) wide: it moves to a
 * larger record (shm_grow). Returns its index, AF_SHM_NIL when there is
 * no room (it is left as it was). Lock: stripe s.
 */
static uint32_t shm_wmul_widen(
		af_store_shm_t *st, uint32_t s, uint32_t idx, uint64_t now_ms)
{
	uint8_t old[AF_WIN_MULTI_MAX * AF_SHM_WSLOT(0)];
	unsigned t, b, ns = shm_m(st, idx)->aux & AF_SHM_WM_SLOTS;
	af_shm_wslot_t *from, *to;

	memcpy(old, shm_v(st, idx)->wmul, ns * AF_SHM_WSLOT(0));
	idx = shm_grow(st, s, idx, ns * AF_SHM_WSLOT(1), now_ms, 0);
	if(idx == AF_SHM_NIL)
		return AF_SHM_NIL;
	for(t = 0; t < ns; t++) {
		from = shm_wslot(old, t, 0);
		to = shm_wslot(shm_v(st, idx)->wmul, t, 1);
		memcpy(to, from, sizeof(*to));
		for(b = 0; b < AF_WIN_BUCKETS; b++)
			shm_wcount_set(to, b, 1, from->counts[b]);
	}
	shm_m(st, idx)->aux |= AF_SHM_WM_WIDE;
	return idx;
}

/*
 * Whether WIN_MULTI ops[i] adds its n to its window j: n > 0, and with
 * an if_new, the op named added its n in the window of the same window_s
 * and counted its key new there. Lock: any.
 */
static int shm_wmul_adds(const af_op_t *ops, int i, int j)
{
	const af_op_t *op = &ops[i], *r;
	int k;

	if(op->u.wm.n == 0)
		return 0;
	if(!op->u.wm.if_new)
		return 1;
	r = &ops[op->u.wm.if_new - 1];
	k = af_store_wm_find(r, op->u.wm.w[j].window_s);
	return r->status == 0 && k >= 0 && r->u.wm.w[k].added
		   && r->u.wm.w[k].count == r->u.wm.n;
}

/*
 * AF_OP_WIN_MULTI on ops[i]: every window of the subject in one entry,
 * under one lock (two when a ban may go to a key of another stripe).
 * Each window is a WIN_HIT's (see shm_op_win_hit), its slices counted in
 * 16 bits (saturated). The entry expires one window after the newest
 * addition to it (the longest window added to): no earlier than a
 * WIN_HIT's, whose slices are empty by then, and by the millisecond, so
 * that the eviction of the nearest expiry takes the subjects of the same
 * windows oldest first. Lock: none held on entry.
 */
static int shm_op_win_multi(af_store_shm_t *st, af_op_t *ops, int i,
		uint64_t h, uint64_t now_ms)
{
	af_op_t *op = &ops[i];
	af_win_one_t *w = op->u.wm.w;
	af_shm_key_t k, bk;
	af_shm_stripe_t *sa, *sb;
	af_shm_wslot_t *ws;
	uint8_t *v;
	unsigned slot[AF_WIN_MULTI_MAX], ns, need;
	uint64_t slice_ms[AF_WIN_MULTI_MAX], slice[AF_WIN_MULTI_MAX], exp, sum;
	uint32_t idx, g, b, c, thr = 0;
	int j, add[AF_WIN_MULTI_MAX], any = 0, rc = 0, ban, wide;
	int found[AF_WIN_MULTI_MAX], used[AF_WIN_MULTI_MAX] = {0};

	af_store_wm_clear(op);
	if(af_store_wm_check(ops, i) < 0)
		return -1;
	for(j = 0; j < op->u.wm.nwin; j++) {
		add[j] = shm_wmul_adds(ops, i, j);
		any |= add[j];
		thr |= w[j].ban_threshold;
		slice_ms[j] = (uint64_t)w[j].window_s * 1000 / AF_WIN_BUCKETS;
		if(slice_ms[j] == 0)
			slice_ms[j] = 1;
		slice[j] = now_ms / slice_ms[j];
	}
	sa = shm_lock_pair(st, op, h, &k, &bk, thr && op->u.wm.ban_key,
			op->u.wm.ban_key, op->u.wm.ban_key_len, &sb);
	idx = shm_find(st, &k, AF_SHM_WMUL, now_ms);
	if(idx == AF_SHM_NIL) {
		if(!any)
			goto done; /* nothing counted, nothing to keep */
		idx = shm_insert(st, &k, AF_SHM_WMUL,
				op->u.wm.nwin * AF_SHM_WSLOT(0), (unsigned)op->u.wm.nwin, 0,
				now_ms, 0, AF_SHM_NIL);
		if(idx == AF_SHM_NIL) {
			rc = -1;
			goto done;
		}
	}
	wide = (shm_m(st, idx)->aux & AF_SHM_WM_WIDE) != 0;
	ns = shm_m(st, idx)->aux & AF_SHM_WM_SLOTS;
	v = shm_v(st, idx)->wmul;
	/* the usual case: the counter's slots are op's windows, in order */
	for(j = 0; j < op->u.wm.nwin && (unsigned)j < ns
				&& shm_wslot(v, j, wide)->window_s == w[j].window_s;
			j++)
		slot[j] = j;
	if(j == op->u.wm.nwin)
		goto count;
	need = shm_wmul_match(v, ns, wide, op, slot, found, used);
	if(need > ns) {
		idx = shm_grow(st, k.stripe, idx, need * AF_SHM_WSLOT(wide), now_ms,
				0);
		if(idx == AF_SHM_NIL) {
			rc = -1;
			goto done;
		}
		shm_m(st, idx)->aux = need | (wide ? AF_SHM_WM_WIDE : 0);
		ns = need;
	}
	v = shm_v(st, idx)->wmul;
	shm_wmul_slots(v, ns, wide, op, slice, slot, found, used);
count:
	for(j = 0; j < op->u.wm.nwin; j++) {
		ws = shm_wslot(v, slot[j], wide);
		w[j].count = shm_wslot_advance(ws, slice[j], wide);
		if(add[j]) {
			b = ws->last_slice % AF_WIN_BUCKETS;
			c = shm_wcount(ws, b, wide);
			sum = (uint64_t)c + op->u.wm.n;
			if(!wide && sum > UINT8_MAX) {
				g = shm_wmul_widen(st, k.stripe, idx, now_ms);
				if(g == AF_SHM_NIL) {
					rc = -1; /* no room to count on */
					continue;
				}
				idx = g;
				wide = 1;
				v = shm_v(st, idx)->wmul;
				ws = shm_wslot(v, slot[j], wide);
			}
			if(sum > UINT16_MAX)
				sum = UINT16_MAX;
			w[j].count += (uint32_t)sum - c;
			ws->total = w[j].count;
			shm_wcount_set(ws, b, wide, (uint32_t)sum);
			w[j].added = 1;
			exp = now_ms + (uint64_t)w[j].window_s * 1000;
			if(exp > shm_m(st, idx)->expires_ms)
				shm_m(st, idx)->expires_ms = exp;
		}
		if(w[j].ban_threshold && add[j] && w[j].count >= w[j].ban_threshold) {
			ban = shm_ban_put(st, &bk, now_ms, op->u.wm.ban_s,
					op->u.wm.ban_reason, 0, idx);
			if(ban < 0)
				rc = -1;
			else
				w[j].banned = ban;
		}
	}
done:
	if(sb)
		af_unlock(&sb->lock);
	af_unlock(&sa->lock);
	return rc;
}

/* Whether stored source e is from address ip. */
static int shm_ip_same(const af_shm_hrec_t *e, const af_ip_t *ip)
{
	if(e->family != ip->family)
		return 0;
	return memcmp(e->addr, ip->addr, ip->family == 4 ? 4 : 16) == 0;
}

/* Whether history record e is older than ttl_ms (a future one is not). */
static inline int shm_hist_old(
		const af_shm_hrec_t *e, uint64_t ttl_ms, uint64_t now_ms)
{
	return e->ts_ms <= now_ms && now_ms - e->ts_ms >= ttl_ms;
}

/* Copies stored source e out to r. */
static void shm_hrec_out(const af_shm_hrec_t *e, af_hist_entry_t *r)
{
	memset(r, 0, sizeof(*r));
	r->ip.family = e->family;
	memcpy(r->ip.addr, e->addr, sizeof(r->ip.addr));
	memcpy(r->country, e->country, sizeof(e->country));
	memcpy(r->continent, e->continent, sizeof(e->continent));
	r->ts_ms = e->ts_ms;
}

/* Stores source r (its codes NUL-terminated) into e. */
static void shm_hrec_in(af_shm_hrec_t *e, const af_hist_entry_t *r)
{
	e->ts_ms = r->ts_ms;
	e->family = r->ip.family;
	memcpy(e->addr, r->ip.addr, sizeof(e->addr));
	memcpy(e->country, r->country, sizeof(e->country));
	memcpy(e->continent, r->continent, sizeof(e->continent));
}

/* Copies the n records of h younger than ttl_ms out to op, newest first,
 * leaving h as it is (a read_only push). */
static void shm_hist_copy(const af_shm_hist_t *h, uint32_t n, af_op_t *op,
		uint64_t ttl_ms, uint64_t now_ms)
{
	uint32_t i;

	for(i = 0; i < n && i < AF_HIST_MAX; i++)
		if(!shm_hist_old(&h->e[i], ttl_ms, now_ms))
			shm_hrec_out(&h->e[i], &op->u.hist.prev[op->u.hist.n_prev++]);
}

/*
 * AF_OP_HIST_PUSH on op: copies out the entries younger than ttl_s (and
 * drops the others), then records op's entry at the front (ts_ms 0 means
 * now). The history expires ttl_s after this push. Its record holds the
 * sources it has (its aux), made larger as they come.
 *
 * A read_only push only copies out: a missing history is not created and
 * the entry is left exactly as it is, expiry and older records included.
 * Dropping the records too old for this op's ttl_s would lose those a
 * later push with a longer ttl_s still returns, which Redis (where a read
 * writes nothing) keeps.
 */
static int shm_op_hist_push(
		af_store_shm_t *st, af_op_t *op, uint64_t kh, uint64_t now_ms)
{
	af_shm_key_t k;
	af_shm_stripe_t *sp;
	af_shm_hist_t *h;
	af_hist_entry_t rec = op->u.hist.entry;
	uint64_t ttl_ms = (uint64_t)op->u.hist.ttl_s * 1000;
	uint32_t idx, g, i, m, n;
	int rc = 0;

	if(ttl_ms == 0)
		return -1;
	if(rec.ts_ms == 0)
		rec.ts_ms = now_ms;
	rec.country[sizeof(rec.country) - 1] = '\0';
	rec.continent[sizeof(rec.continent) - 1] = '\0';
	sp = shm_lock_op(st, &k, op, kh);
	idx = shm_find(st, &k, AF_SHM_HIST, now_ms);
	if(op->u.hist.read_only) {
		if(idx != AF_SHM_NIL)
			shm_hist_copy(&shm_v(st, idx)->hist, shm_m(st, idx)->aux, op,
					ttl_ms, now_ms);
		goto done;
	}
	if(idx == AF_SHM_NIL) {
		idx = shm_insert(st, &k, AF_SHM_HIST, sizeof(af_shm_hrec_t), 0, 0,
				now_ms, 0, AF_SHM_NIL);
		if(idx == AF_SHM_NIL) {
			rc = -1;
			goto done;
		}
	}
	h = &shm_v(st, idx)->hist;
	n = shm_m(st, idx)->aux;
	if(n > AF_HIST_MAX)
		n = AF_HIST_MAX;
	for(i = 0, m = 0; i < n; i++) {
		if(shm_hist_old(&h->e[i], ttl_ms, now_ms))
			continue;
		shm_hrec_out(&h->e[i], &op->u.hist.prev[op->u.hist.n_prev++]);
		if(m != i)
			h->e[m] = h->e[i];
		m++;
	}
	n = m;
	for(i = 0; i < n; i++)
		if(shm_ip_same(&h->e[i], &rec.ip))
			break;
	if(i == n && n < AF_HIST_MAX) {
		/* no room for one more: the oldest makes room */
		g = shm_grow(st, k.stripe, idx, (n + 1) * sizeof(af_shm_hrec_t),
				now_ms, 0);
		if(g != AF_SHM_NIL) {
			idx = g;
			n++;
		}
		h = &shm_v(st, idx)->hist;
	}
	if(i == n)
		i = n - 1;
	shm_m(st, idx)->aux = n;
	memmove(&h->e[1], &h->e[0], i * sizeof(h->e[0]));
	shm_hrec_in(&h->e[0], &rec);
	shm_m(st, idx)->expires_ms = now_ms + ttl_ms;
done:
	af_unlock(&sp->lock);
	return rc;
}

/*
 * Frees the expired members of set idx when its earliest member expiry
 * has come, and computes its expiry range again. A set left empty expires
 * at once (see shm_cmem_detach). Lock: stripe s, the set's.
 */
static void shm_cset_prune(
		af_store_shm_t *st, uint32_t s, uint32_t idx, uint64_t now_ms)
{
	af_shm_cset_t *cs = &shm_v(st, idx)->cset;
	uint64_t exp, earliest = UINT64_MAX, latest = 0;
	uint32_t m, next, steps;

	if(now_ms < cs->earliest_ms)
		return;
	for(m = cs->head, steps = 0; m != AF_SHM_NIL && steps <= st->per;
			m = next, steps++) {
		next = shm_v(st, m)->cmem.next;
		exp = shm_m(st, m)->expires_ms;
		if(now_ms >= exp) {
			st->stripes[s].expired += shm_release(st, s, m);
			continue;
		}
		if(exp < earliest)
			earliest = exp;
		if(exp > latest)
			latest = exp;
	}
	if(cs->count == 0)
		return;
	cs->earliest_ms = earliest;
	cs->latest_ms = latest;
	shm_m(st, idx)->expires_ms = latest;
}

/*
 * Finds the live set for key k and prunes it; a set left empty is freed.
 * Returns the set's entry or AF_SHM_NIL. Lock: the stripe of k.
 */
static uint32_t shm_cset_get(
		af_store_shm_t *st, const af_shm_key_t *k, uint64_t now_ms)
{
	uint32_t idx = shm_find(st, k, AF_SHM_CSET, now_ms);

	if(idx == AF_SHM_NIL)
		return AF_SHM_NIL;
	shm_cset_prune(st, k->stripe, idx, now_ms);
	if(shm_v(st, idx)->cset.count == 0) {
		shm_release(st, k->stripe, idx);
		return AF_SHM_NIL;
	}
	return idx;
}

/* Whether op's member is invalid (NULL with a length). */
static inline int shm_conc_bad_member(const af_op_t *op)
{
	return op->u.conc.member == NULL && op->u.conc.member_len;
}

/*
 * AF_OP_CONC_DEL on op: the member leaves the set; the set goes with its
 * last member. Lock: none held on entry.
 */
static int shm_op_conc_del(
		af_store_shm_t *st, af_op_t *op, uint64_t h, uint64_t now_ms)
{
	af_shm_key_t k, mk;
	af_shm_stripe_t *sp;
	af_shm_cset_t *cs;
	uint32_t set, mem;

	if(shm_conc_bad_member(op))
		return -1;
	shm_key_set(st, &k, op->key, op->key_len, h);
	shm_mkey_init(st, &mk, &k, op->u.conc.member, op->u.conc.member_len);
	sp = &st->stripes[k.stripe];
	af_lock(&sp->lock);
	/* a live set has a live member, so the walk below cannot free it */
	set = shm_cset_get(st, &k, now_ms);
	if(set != AF_SHM_NIL) {
		cs = &shm_v(st, set)->cset;
		mem = shm_find_owned(st, &mk, AF_SHM_CMEM, set, now_ms);
		if(mem != AF_SHM_NIL) {
			shm_release(st, k.stripe, mem);
			op->u.conc.found = 1;
		}
		op->u.conc.count = cs->count;
		if(cs->count == 0)
			shm_release(st, k.stripe, set);
	}
	af_unlock(&sp->lock);
	return 0;
}

/* AF_OP_CONC_COUNT on op. Lock: none held on entry. */
static int shm_op_conc_count(
		af_store_shm_t *st, af_op_t *op, uint64_t h, uint64_t now_ms)
{
	af_shm_key_t k;
	af_shm_stripe_t *sp;
	uint32_t set;

	sp = shm_lock_op(st, &k, op, h);
	set = shm_cset_get(st, &k, now_ms);
	if(set != AF_SHM_NIL)
		op->u.conc.count = shm_v(st, set)->cset.count;
	af_unlock(&sp->lock);
	return 0;
}

/* Whether keys a and b are the same bytes (a key's hash is per store). */
static inline int shm_key_eq(const af_shm_key_t *a, const af_shm_key_t *b)
{
	return a->hash == b->hash && a->len == b->len
		   && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
}

/*
 * Locks the stripes of the sets of cs[0..nc), each once, in increasing
 * index; their indexes go to locks. Returns how many. Lock: none held on
 * entry; those in locks on return.
 */
static int shm_conc_lock(
		af_store_shm_t *st, const af_shm_cadd_t *cs, int nc, uint32_t *locks)
{
	int i, j, nl = 0;
	uint32_t s;

	for(i = 0; i < nc; i++) {
		s = cs[i].sk.stripe;
		for(j = nl; j > 0 && locks[j - 1] > s; j--)
			;
		if(j > 0 && locks[j - 1] == s)
			continue;
		memmove(&locks[j + 1], &locks[j], (nl - j) * sizeof(locks[0]));
		locks[j] = s;
		nl++;
	}
	for(i = 0; i < nl; i++)
		af_lock(&st->stripes[locks[i]].lock);
	return nl;
}

/*
 * Whether a WIN_HIT of ops[0..n) that ran has a gate and went over it.
 * Lock: any.
 */
static int shm_conc_gated(const af_op_t *ops, int n)
{
	int i, j;

	for(i = 0; i < n; i++) {
		if(ops[i].type == AF_OP_WIN_HIT && ops[i].status != 1
				&& ops[i].u.win.gate > 0
				&& ops[i].u.win.count > ops[i].u.win.gate)
			return 1;
		if(ops[i].type != AF_OP_WIN_MULTI || ops[i].status != 0)
			continue;
		for(j = 0; j < ops[i].u.wm.nwin && j < AF_WIN_MULTI_MAX; j++)
			if(ops[i].u.wm.w[j].gate > 0
					&& ops[i].u.wm.w[j].count > ops[i].u.wm.w[j].gate)
				return 1;
	}
	return 0;
}

/*
 * Decides whether the group cs[0..nc) (sets looked up and pruned) may be
 * admitted: no set full, no gate of ops[0..n) passed. Finds the ops that
 * add the same member to the same set as an earlier op (dup), and counts
 * the new members of earlier ops of the group against a set's limit.
 * Sets each op's full. Lock: the stripes of the group.
 */
static int shm_conc_decide(af_store_shm_t *st, af_shm_cadd_t *cs, int nc,
		const af_op_t *ops, int n)
{
	af_shm_cadd_t *c;
	uint64_t cnt;
	uint32_t limit;
	int i, j, admit = !shm_conc_gated(ops, n);

	for(i = 0; i < nc; i++) {
		c = &cs[i];
		if(c->present)
			continue;
		cnt = c->set != AF_SHM_NIL ? shm_v(st, c->set)->cset.count : 0;
		for(j = 0; j < i; j++) {
			if(cs[j].present || cs[j].dup >= 0
					|| !shm_key_eq(&cs[j].sk, &c->sk))
				continue;
			if(shm_key_eq(&cs[j].mk, &c->mk)) {
				c->dup = j;
				break;
			}
			cnt++;
		}
		limit = c->op->u.conc.limit;
		if(c->dup < 0 && limit && cnt >= limit) {
			c->op->u.conc.full = 1;
			admit = 0;
		}
	}
	return admit;
}

/*
 * Adds the members of the group cs[0..nc) that are not in their sets yet,
 * making the sets that do not exist. Returns 0, or -1 when an entry could
 * not be had: the members added are taken out again (the sets made stay,
 * empty, for shm_conc_add_group to free). Lock: the stripes of the group.
 */
static int shm_conc_insert(
		af_store_shm_t *st, af_shm_cadd_t *cs, int nc, uint64_t now_ms)
{
	af_shm_cadd_t *c;
	af_shm_cset_t *set;
	uint64_t exp;
	int i, j;

	for(i = 0; i < nc; i++) {
		c = &cs[i];
		for(j = 0; c->set == AF_SHM_NIL && j < i; j++)
			if(cs[j].set != AF_SHM_NIL && shm_key_eq(&cs[j].sk, &c->sk))
				c->set = cs[j].set;
		if(c->set == AF_SHM_NIL) {
			c->set = shm_insert(st, &c->sk, AF_SHM_CSET,
					sizeof(af_shm_cset_t), 0, AF_SHM_PINNED, now_ms, 0,
					AF_SHM_NIL);
			if(c->set == AF_SHM_NIL)
				goto fail;
			set = &shm_v(st, c->set)->cset;
			set->head = AF_SHM_NIL;
			set->earliest_ms = UINT64_MAX;
		}
		if(c->present)
			continue;
		if(c->dup >= 0) {
			c->mem = cs[c->dup].mem;
			continue;
		}
		exp = now_ms + (uint64_t)c->op->u.conc.ttl_s * 1000;
		c->mem = shm_insert(st, &c->mk, AF_SHM_CMEM, sizeof(af_shm_cmem_t), 0,
				exp, now_ms, 0, AF_SHM_NIL);
		if(c->mem == AF_SHM_NIL)
			goto fail;
		shm_cmem_link(st, c->set, c->mem);
		c->added = 1;
	}
	return 0;
fail:
	for(i = 0; i < nc; i++) {
		if(cs[i].added)
			shm_release(st, cs[i].sk.stripe, cs[i].mem);
		cs[i].added = 0;
		cs[i].mem = AF_SHM_NIL;
	}
	return -1;
}

/*
 * Sets the status of every CONC_ADD op of ops[0..n) to status; skipped
 * ops (status 1) get their outputs cleared. Lock: any.
 */
static void shm_conc_status(af_op_t *ops, int n, int status)
{
	int i;

	for(i = 0; i < n; i++) {
		if(ops[i].type != AF_OP_CONC_ADD)
			continue;
		ops[i].status = status;
		if(status == 1) {
			ops[i].u.conc.found = 0;
			ops[i].u.conc.count = 0;
			ops[i].u.conc.admitted = 0;
			ops[i].u.conc.full = 0;
		}
	}
}

/*
 * Runs the CONC_ADD ops of ops[0..n) as one group, after the other ops
 * of the batch: locks the stripes of all their sets (increasing index),
 * prunes the sets and admits the members into every set or into none
 * (a set full, a gate passed, no room). A member already in its set is
 * admitted, and refreshed only when the group is. The sets of the group
 * are pinned (AF_SHM_PINNED) while it works so that no chain walk or
 * sweep frees one, empty or not. Sets each op's status and outputs.
 * Lock: none held on entry; up to AF_SHM_CONC_MAX stripe locks inside.
 */
static void shm_conc_add_group(af_store_shm_t *st, af_op_t *ops, int n,
		const uint64_t *hv, uint64_t now_ms)
{
	af_shm_cadd_t cs[AF_SHM_CONC_MAX], *c;
	af_shm_cset_t *set;
	af_op_t *op;
	uint32_t locks[AF_SHM_CONC_MAX];
	uint64_t exp;
	int i, nc = 0, nl, admit, rc = 0;

	for(i = 0; i < n; i++) {
		op = &ops[i];
		if(op->type != AF_OP_CONC_ADD)
			continue;
		op->u.conc.count = 0;
		op->u.conc.admitted = 0;
		op->u.conc.full = 0;
		op->u.conc.found = 0;
		if(nc == AF_SHM_CONC_MAX || (op->key == NULL && op->key_len)
				|| shm_conc_bad_member(op) || op->u.conc.ttl_s == 0) {
			rc = -1;
			continue;
		}
		c = &cs[nc++];
		memset(c, 0, sizeof(*c));
		c->op = op;
		shm_key_set(st, &c->sk, op->key, op->key_len,
				i < AF_SHM_HASHED ? hv[i] : shm_op_hash(st, op));
		shm_mkey_init(
				st, &c->mk, &c->sk, op->u.conc.member, op->u.conc.member_len);
		c->set = c->mem = AF_SHM_NIL;
		c->dup = -1;
	}
	if(rc < 0) {
		shm_conc_status(ops, n, -1);
		return;
	}
	nl = shm_conc_lock(st, cs, nc, locks);
	for(i = 0; i < nc; i++) {
		c = &cs[i];
		c->set = shm_find(st, &c->sk, AF_SHM_CSET, now_ms);
		if(c->set == AF_SHM_NIL)
			continue;
		shm_cset_prune(st, c->sk.stripe, c->set, now_ms);
		shm_m(st, c->set)->expires_ms = AF_SHM_PINNED;
		/* the pruned set has no expired member the walk could free */
		c->mem = shm_find_owned(st, &c->mk, AF_SHM_CMEM, c->set, now_ms);
		c->present = c->mem != AF_SHM_NIL;
	}
	admit = shm_conc_decide(st, cs, nc, ops, n);
	if(admit && shm_conc_insert(st, cs, nc, now_ms) < 0) {
		admit = 0;
		rc = -1;
	}
	for(i = 0; admit && i < nc; i++) {
		c = &cs[i];
		set = &shm_v(st, c->set)->cset;
		exp = now_ms + (uint64_t)c->op->u.conc.ttl_s * 1000;
		shm_m(st, c->mem)->expires_ms = exp;
		if(exp < set->earliest_ms)
			set->earliest_ms = exp;
		if(exp > set->latest_ms)
			set->latest_ms = exp;
	}
	/* unpin: an empty set goes, the others expire with their last member */
	for(i = 0; i < nc; i++) {
		c = &cs[i];
		c->op->u.conc.admitted = admit;
		if(c->set == AF_SHM_NIL || shm_m(st, c->set)->type != AF_SHM_CSET)
			continue;
		set = &shm_v(st, c->set)->cset;
		c->op->u.conc.count = set->count;
		if(set->count == 0)
			shm_release(st, c->sk.stripe, c->set);
		else
			shm_m(st, c->set)->expires_ms = set->latest_ms;
	}
	while(nl-- > 0)
		af_unlock(&st->stripes[locks[nl]].lock);
	shm_conc_status(ops, n, rc);
}

/*
 * Resolves the if_new of WIN_HIT ops[i]: 1 when its n is to be added (no
 * if_new, or the op it names was applied and counted its key new: count
 * == n > 0), 0 when not, -1 when if_new names no earlier WIN_HIT. The ops
 * named were all resolved when they ran, so following the names back
 * says whether each one was applied. Lock: any.
 */
static int shm_win_if_new(const af_op_t *ops, int i)
{
	const af_op_t *r;
	int j, ref = ops[i].u.win.if_new;

	if(ref < 1 || ref > i || ops[ref - 1].type != AF_OP_WIN_HIT)
		return -1;
	for(j = i; ops[j].u.win.if_new; j = ref - 1) {
		ref = ops[j].u.win.if_new;
		if(ref < 1 || ref > j)
			return 0;
		r = &ops[ref - 1];
		if(r->type != AF_OP_WIN_HIT || r->status != 0 || r->u.win.n == 0
				|| r->u.win.count != r->u.win.n)
			return 0;
	}
	return 1;
}

/* Runs op ops[i] (not a CONC_ADD), whose key hashes to h; returns its
 * status. Lock: none held. */
static int shm_op(af_store_shm_t *st, af_op_t *ops, int i, uint64_t h,
		uint64_t now_ms)
{
	af_op_t *op = &ops[i];
	uint32_t n;
	int r;

	if(op->key == NULL && op->key_len)
		return -1;
	switch(op->type) {
		case AF_OP_BAN_GET:
			op->u.ban_get.found = 0;
			return shm_op_ban_get(st, op, h, now_ms);
		case AF_OP_BAN_SET:
			return shm_op_ban_set(st, op, h, now_ms);
		case AF_OP_BAN_DEL:
			op->u.ban_del.found = 0;
			return shm_op_ban_del(st, op, h, now_ms);
		case AF_OP_WIN_HIT:
			op->u.win.count = 0;
			op->u.win.banned = 0;
			n = op->u.win.n;
			if(op->u.win.if_new) {
				r = shm_win_if_new(ops, i);
				if(r < 0)
					return -1;
				if(r == 0)
					n = 0;
			}
			return shm_op_win_hit(st, op, n, h, now_ms);
		case AF_OP_HIST_PUSH:
			op->u.hist.n_prev = 0;
			return shm_op_hist_push(st, op, h, now_ms);
		case AF_OP_CONC_DEL:
			op->u.conc.count = 0;
			op->u.conc.found = 0;
			return shm_op_conc_del(st, op, h, now_ms);
		case AF_OP_CONC_COUNT:
			op->u.conc.count = 0;
			return shm_op_conc_count(st, op, h, now_ms);
		case AF_OP_FIG_MULTI:
			return shm_op_fig_multi(st, op, h, now_ms);
		case AF_OP_WIN_MULTI:
			return shm_op_win_multi(st, ops, i, h, now_ms);
		case AF_OP_CONC_ADD:
			break;
	}
	return -1;
}

/*
 * Hashes the keys of ops[0..n) into hv (the first AF_SHM_HASHED of
 * them): each is hashed once per batch. A batch of several ops touches
 * as many random places of a store larger than the caches: ask for all
 * their buckets first, then for the entries the buckets point to, so
 * that the misses overlap instead of following one another (the ops then
 * find their data on the way).
 */
static void shm_prefetch(
		af_store_shm_t *st, const af_op_t *ops, int n, uint64_t *hv)
{
	uint32_t *b[AF_SHM_HASHED], idx;
	int i, m = n < AF_SHM_HASHED ? n : AF_SHM_HASHED;

	for(i = 0; i < m; i++) {
		hv[i] = shm_op_hash(st, &ops[i]);
		b[i] = shm_bucket(
				st, (uint32_t)hv[i] & st->smask, (uint32_t)(hv[i] >> 32));
		if(n > 1)
			__builtin_prefetch(b[i]);
	}
	for(i = 0; n > 1 && i < m; i++) {
		idx = __atomic_load_n(b[i], __ATOMIC_RELAXED);
		if(idx != AF_SHM_NIL) {
			/* (its first lines: a record's header, key and the
			 * start of its value) */
			const char *rec = (const char *)shm_m(st, idx);
			size_t off;
#pragma GCC unroll 8
			for(off = 0; off < AF_SHM_PREFETCH; off += 64)
				__builtin_prefetch(rec + off);
		}
	}
}

/*
 * exec: runs ops[0..n) in order, each under the lock of its key's stripe,
 * except the CONC_ADD ops, which run last as one group (see
 * shm_conc_add_group; it may hold several stripe locks at once). A
 * BAN_GET with stop set that finds a ban skips the ops after it and the
 * whole CONC_ADD group (status 1). Returns 0, or -1 when an op failed
 * (its status is -1). Lock: none held on entry.
 */
static int shm_exec(af_store_t *s, af_op_t *ops, int n, uint64_t now_ms)
{
	af_store_shm_t *st = (af_store_shm_t *)s;
	uint64_t hv[AF_SHM_HASHED];
	int i, rc = 0, nconc = 0, stopped = 0;

	if(n > 0 && ops == NULL)
		return -1;
	shm_prefetch(st, ops, n, hv);
	for(i = 0; i < n; i++) {
		if(ops[i].type == AF_OP_CONC_ADD) {
			nconc++;
			continue;
		}
		ops[i].status = shm_op(st, ops, i,
				i < AF_SHM_HASHED ? hv[i] : shm_op_hash(st, &ops[i]), now_ms);
		if(ops[i].status < 0) {
			__atomic_add_fetch(&st->failures, 1, __ATOMIC_RELAXED);
			rc = -1;
		} else if(ops[i].type == AF_OP_BAN_GET && ops[i].u.ban_get.stop
				  && ops[i].u.ban_get.found) {
			while(++i < n)
				ops[i].status = 1;
			stopped = 1;
		}
	}
	if(nconc == 0)
		return rc;
	if(stopped) {
		shm_conc_status(ops, n, 1);
		return rc;
	}
	shm_conc_add_group(st, ops, n, hv, now_ms);
	for(i = 0; i < n; i++) {
		if(ops[i].type == AF_OP_CONC_ADD && ops[i].status < 0) {
			__atomic_add_fetch(&st->failures, 1, __ATOMIC_RELAXED);
			rc = -1;
		}
	}
	return rc;
}

/*
 * Lists the live entries of l->type, stripe by stripe, bucket by bucket
 * (a bucket's place stays put while the lock is not held, a record's
 * may not): those l->take accepts are copied out under the stripe lock,
 * a few at a time, and handed to l->emit without any lock held (it may
 * use the store), until it says stop. A bucket with more matches than a
 * copy buffer goes on at the next lock hold after the ones already
 * copied (an entry added to it meanwhile may be missed or listed twice).
 * A long key is passed as its first AF_KEY_MAX bytes.
 * Lock: none held on entry; one stripe lock at a time inside.
 */
static void shm_list(af_store_shm_t *st, const af_shm_lister_t *l,
		uint64_t now_ms)
{
	af_shm_copy_t buf[AF_SHM_LIST_CHUNK];
	uint32_t cand[AF_SHM_LIST_CHUNK];
	const af_shm_meta_t *m;
	af_shm_stripe_t *sp;
	uint32_t sidx, b, idx, skip, seen, steps;
	int n, nc, i, full;

	for(sidx = 0; sidx < st->nstripes; sidx++) {
		sp = &st->stripes[sidx];
		b = 0;
		skip = 0;
		while(b <= st->bmask) {
			n = 0;
			af_lock(&sp->lock);
			while(b <= st->bmask && n < AF_SHM_LIST_CHUNK) {
				/* the records of the bucket first: take may free
				 * members on its chain */
				nc = 0;
				seen = 0;
				full = 0;
				idx = st->index[(size_t)sidx * (st->bmask + 1) + b];
				for(steps = 0; idx != AF_SHM_NIL && steps <= st->per;
						idx = m->next, steps++) {
					m = shm_m(st, idx);
					if(m->type != l->type || now_ms >= m->expires_ms
							|| seen++ < skip)
						continue;
					if(n + nc == AF_SHM_LIST_CHUNK) {
						full = 1;
						break;
					}
					cand[nc++] = idx;
				}
				for(i = 0; i < nc; i++) {
					m = shm_m(st, cand[i]);
					buf[n].key_len =
							m->klen == AF_SHM_KEY_LONG ? AF_KEY_MAX : m->klen;
					if(!l->take(st, sidx, cand[i], &buf[n], l->arg))
						continue;
					memcpy(buf[n].key, shm_key(st, cand[i]), buf[n].key_len);
					n++;
				}
				if(full) {
					/* the rest of the bucket at the next hold */
					skip += nc;
					break;
				}
				skip = 0;
				b++;
			}
			af_unlock(&sp->lock);
			for(i = 0; i < n; i++)
				if(l->emit(&buf[i], l->arg))
					return;
		}
	}
}

/* what ban_list and conc_list pass through shm_list */
typedef struct af_shm_list_arg {
	af_ban_cb ban_cb;
	af_conc_cb conc_cb;
	void *arg;
	const char *prefix;
	size_t prefix_len;
	uint64_t now_ms;
} af_shm_list_arg_t;

/* ban_list's take: the ban as it is */
static int shm_ban_take(af_store_shm_t *st, uint32_t sidx, uint32_t pos,
		af_shm_copy_t *copy, void *arg)
{
	shm_ban_out(st, pos, &copy->ban);
	return 1;
}

/* ban_list's emit */
static int shm_ban_emit(const af_shm_copy_t *copy, void *arg)
{
	const af_shm_list_arg_t *a = arg;

	return a->ban_cb(copy->key, copy->key_len, &copy->ban, a->arg);
}

/*
 * ban_list: calls cb for every live ban (shm_list). A long key is passed
 * as its first AF_KEY_MAX bytes. Returns 0.
 */
static int shm_ban_list(
		af_store_t *s, af_ban_cb cb, void *arg, uint64_t now_ms)
{
	af_shm_list_arg_t a = {.ban_cb = cb, .arg = arg};
	af_shm_lister_t l = {AF_SHM_BAN, shm_ban_take, shm_ban_emit, &a};

	shm_list((af_store_shm_t *)s, &l, now_ms);
	return 0;
}

/* conc_list's take: a set under the prefix, pruned, when not empty */
static int shm_cset_take(af_store_shm_t *st, uint32_t sidx, uint32_t pos,
		af_shm_copy_t *copy, void *arg)
{
	const af_shm_list_arg_t *a = arg;

	if(copy->key_len < a->prefix_len
			|| (a->prefix_len
					&& memcmp(shm_key(st, pos), a->prefix, a->prefix_len)
							   != 0))
		return 0;
	shm_cset_prune(st, sidx, pos, a->now_ms);
	copy->count = shm_v(st, pos)->cset.count;
	return copy->count != 0;
}

/* conc_list's emit */
static int shm_cset_emit(const af_shm_copy_t *copy, void *arg)
{
	const af_shm_list_arg_t *a = arg;

	return a->conc_cb(copy->key, copy->key_len, copy->count, a->arg);
}

/*
 * conc_list: calls cb for every live set whose key starts with prefix,
 * with its count (shm_list); sets are pruned on the way. A long key is
 * passed, and matched, as its first AF_KEY_MAX bytes. Returns 0, -1 when
 * prefix is NULL with a length.
 */
static int shm_conc_list(af_store_t *s, const char *prefix,
		size_t prefix_len, af_conc_cb cb, void *arg, uint64_t now_ms)
{
	af_shm_list_arg_t a = {.conc_cb = cb, .arg = arg, .prefix = prefix,
			.prefix_len = prefix_len, .now_ms = now_ms};
	af_shm_lister_t l = {AF_SHM_CSET, shm_cset_take, shm_cset_emit, &a};

	if(prefix == NULL && prefix_len)
		return -1;
	shm_list((af_store_shm_t *)s, &l, now_ms);
	return 0;
}

/*
 * gc: frees expired entries, at most budget of them (0: no limit; an
 * expired set and its members count as they are freed together), going
 * on from where the previous call stopped. With a budget, one call looks
 * at no more than AF_SHM_GC_SCAN entries per entry of budget, so that a
 * store with little expired is swept over several calls, not all at each
 * one; any call walks the arena (records and free blocks) at most once
 * and holds a stripe lock for AF_SHM_GC_CHUNK blocks at most. Each lock
 * hold frees the stripe's quick[] for good (shm_quick_flush), first and
 * last, so that after gc an emptied store is free blocks only, merged. A member leaves
 * its set's count as it is freed. Lock: none held on entry; one stripe
 * lock at a time inside.
 */
static void shm_gc(af_store_t *s, uint64_t now_ms, unsigned budget)
{
	af_store_shm_t *st = (af_store_shm_t *)s;
	const uint64_t span = (uint64_t)st->nstripes * st->per;
	af_shm_stripe_t *sp;
	uint64_t left = span, walked = 0, all;
	uint32_t sidx, pos, from, chunk;
	unsigned freed = 0, n;

	if(budget && (uint64_t)budget * AF_SHM_GC_SCAN < span)
		left = (uint64_t)budget * AF_SHM_GC_SCAN;
	sidx = __atomic_load_n(&st->gc_stripe, __ATOMIC_RELAXED) & st->smask;
	all = (uint64_t)st->nstripes
		  * (st->stripes[0].aend - st->stripes[0].abase);
	/* records and free blocks, each at most once: all units once */
	while(left > 0 && walked < all && (budget == 0 || freed < budget)) {
		sp = &st->stripes[sidx];
		af_lock(&sp->lock);
		shm_quick_flush(st, sp);
		if(sp->gc_pos < sp->abase || sp->gc_pos >= sp->aend)
			sp->gc_pos = sp->abase;
		for(chunk = 0; chunk < AF_SHM_GC_CHUNK && left > 0 && walked < all
						&& (budget == 0 || freed < budget);
				chunk++) {
			pos = from = sp->gc_pos;
			if(!shm_m(st, pos)->free
					&& shm_m(st, pos)->type != AF_SHM_QUICKT) {
				left--;
				if(now_ms >= shm_m(st, pos)->expires_ms) {
					/* the cursor follows a merge (shm_cursor_merge) */
					n = shm_release(st, sidx, pos);
					sp->expired += n;
					freed += n;
					pos = sp->gc_pos;
				}
			}
			n = shm_bunits(st, pos);
			/* (a merge may have taken pos back into walked units) */
			walked += pos + n - from;
			if(pos + n >= sp->aend) {
				sp->gc_pos = sp->abase;
				sidx = (sidx + 1) & st->smask;
				break;
			}
			sp->gc_pos = pos + n;
		}
		/* what it freed, too: merged now, not kept for reuse */
		shm_quick_flush(st, sp);
		af_unlock(&sp->lock);
	}
	__atomic_store_n(&st->gc_stripe, sidx, __ATOMIC_RELAXED);
}

/* the AF_FORGET_* bit of an entry type, 0 for those never forgotten */
static unsigned shm_forget_kind(uint8_t type)
{
	switch(type) {
		case AF_SHM_BAN:
			return AF_FORGET_BAN;
		case AF_SHM_WIN:
		case AF_SHM_WMUL:
			return AF_FORGET_WIN;
		case AF_SHM_HIST:
			return AF_FORGET_HIST;
		default:
			return 0;
	}
}

/*
 * forget: frees every ban, window and history whose key matches one of
 * pats (with its kind), stripe by stripe, the chains of buckets holding
 * about AF_SHM_GC_CHUNK entries per lock hold. A long key is matched on its first AF_KEY_MAX bytes. Returns 0.
 * Lock: none held on entry; one stripe lock at a time inside.
 */
static int shm_forget(af_store_t *s, const af_forget_pat_t *pats, int n,
		uint64_t now_ms, uint64_t *removed)
{
	af_store_shm_t *st = (af_store_shm_t *)s;
	char key[AF_KEY_MAX + 1];
	af_shm_meta_t *m;
	af_shm_stripe_t *sp;
	uint32_t sidx, b, looked, *link, idx, steps;
	unsigned kind;
	size_t klen;
	int i, gone;

	for(sidx = 0; sidx < st->nstripes; sidx++) {
		sp = &st->stripes[sidx];
		b = 0;
		while(b <= st->bmask) {
			af_lock(&sp->lock);
			for(looked = 0; b <= st->bmask && looked < AF_SHM_GC_CHUNK; b++) {
				link = &st->index[(size_t)sidx * (st->bmask + 1) + b];
				/* a chain holds at most per records */
				for(steps = 0; *link != AF_SHM_NIL && steps <= st->per;
						steps++) {
					looked++;
					idx = *link;
					m = shm_m(st, idx);
					kind = shm_forget_kind(m->type);
					gone = 0;
					if(kind && now_ms < m->expires_ms) {
						klen = m->klen == AF_SHM_KEY_LONG ? AF_KEY_MAX : m->klen;
						memcpy(key, shm_key(st, idx), klen);
						key[klen] = '\0';
						for(i = 0; i < n && !gone; i++)
							gone = (pats[i].kinds & kind)
								   && fnmatch(pats[i].glob, key, 0) == 0;
					}
					if(!gone) {
						link = &m->next;
						continue;
					}
					/* a ban, window or history frees nothing else */
					shm_release(st, sidx, idx);
					if(removed)
						(*removed)++;
				}
			}
			af_unlock(&sp->lock);
		}
	}
	return 0;
}

/* stats: sums the stripes' counters, each read under its lock. */
static void shm_stats(af_store_t *s, af_store_stats_t *out)
{
	af_store_shm_t *st = (af_store_shm_t *)s;
	af_shm_stripe_t *sp;
	uint32_t i;

	memset(out, 0, sizeof(*out));
	out->capacity = (uint64_t)st->nstripes * st->per;
	for(i = 0; i < st->nstripes; i++) {
		sp = &st->stripes[i];
		af_lock(&sp->lock);
		out->entries += sp->used;
		out->evictions += sp->evictions;
		out->bans_evicted += sp->bans_evicted;
		out->expired += sp->expired;
		af_unlock(&sp->lock);
	}
	out->failures = __atomic_load_n(&st->failures, __ATOMIC_RELAXED);
}

/* destroy: releases the locks and the memory; no process may use s after. */
static void shm_destroy(af_store_t *s)
{
	af_store_shm_t *st = (af_store_shm_t *)s;
	uint32_t i;

	if(!st)
		return;
	for(i = 0; i < st->nstripes; i++)
		af_lock_destroy(&st->stripes[i].lock);
	af_host->shm_free(st->raw);
}

static const af_store_ops_t shm_ops = {
	.name = "shm",
	.caps = AF_STORE_CAP_WIN_MULTI,
	.exec = shm_exec,
	.ban_list = shm_ban_list,
	.conc_list = shm_conc_list,
	.forget = shm_forget,
	.gc = shm_gc,
	.stats = shm_stats,
	.destroy = shm_destroy,
};

/*
 * Bytes af_store_shm_new takes for cfg (NULL: defaults), 0 when cfg is
 * invalid: AF_SHM_ENTRY_BYTES of arena and 2 of index per entry, about
 * 800 per stripe.
 */
size_t af_store_shm_size(const af_store_shm_cfg_t *cfg)
{
	af_shm_layout_t lay;

	if(shm_layout(cfg, &lay) < 0)
		return 0;
	return lay.total;
}

/*
 * Creates a shm store for cfg (NULL or zero fields: 131072 entries in 64
 * stripes) with one af_host->shm_alloc call. Must run before the workers
 * fork. Returns NULL on an invalid cfg or when memory or locks fail.
 */
af_store_t *af_store_shm_new(const af_store_shm_cfg_t *cfg)
{
	af_shm_layout_t lay;
	af_store_shm_t *st;
	af_shm_stripe_t *sp;
	char *raw, *base;
	uint64_t seed;
	uint32_t i, c;

	if(shm_layout(cfg, &lay) < 0) {
		AF_ERR("store: invalid shm store config (max_entries <= %u and"
			   " 2^25 per stripe, stripes a power of two)\n",
				AF_SHM_MAX_ENTRIES);
		return NULL;
	}
	raw = af_host->shm_alloc(lay.total);
	if(!raw) {
		AF_ERR("store: out of shared memory (%zu bytes)\n", lay.total);
		return NULL;
	}
	base = (char *)(((uintptr_t)raw + AF_SHM_ALIGN - 1)
					& ~(uintptr_t)(AF_SHM_ALIGN - 1));
	st = (af_store_shm_t *)base;
	memset(st, 0, sizeof(*st));
	st->base.ops = &shm_ops;
	st->raw = raw;
	st->nstripes = lay.nstripes;
	st->smask = lay.nstripes - 1;
	st->per = lay.per;
	st->bmask = lay.nbuck - 1;
	st->stripes = (af_shm_stripe_t *)(base + lay.off_stripes);
	st->index = (uint32_t *)(base + lay.off_index);
	st->arena = (uint32_t *)(base + lay.off_arena);
	if(getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = af_now_ms() ^ (uint64_t)(uintptr_t)raw;
	st->seed = shm_mix(seed ^ AF_SHM_K1);

	memset(st->index, 0xff, sizeof(uint32_t) * lay.nbuck * lay.nstripes);
	for(i = 0; i < lay.nstripes; i++) {
		sp = &st->stripes[i];
		memset(sp, 0, sizeof(*sp));
		if(af_lock_init(&sp->lock) < 0) {
			AF_ERR("store: cannot create a shared lock\n");
			while(i-- > 0)
				af_lock_destroy(&st->stripes[i].lock);
			af_host->shm_free(raw);
			return NULL;
		}
		for(c = 0; c <= AF_SHM_CLASSES; c++)
			sp->flist[c] = AF_SHM_NIL;
		for(c = 0; c < AF_SHM_HINTS; c++)
			sp->hint[c] = AF_SHM_NIL;
		sp->spare = AF_SHM_NIL;
		sp->abase = i * lay.sunits;
		sp->aend = sp->abase + lay.sunits;
		sp->evict_pos = sp->gc_pos = sp->abase;
		/* the whole arena of the stripe is one free block */
		shm_fl_put(st, sp, sp->abase, lay.sunits);
	}
	AF_DBG("store: shm store of %u entries in %u stripes, %zu bytes\n",
			lay.per * lay.nstripes, lay.nstripes, lay.total);
	return &st->base;
}
