/*
 * antifraud - the state store: one interface, several backends.
 *
 * Checks describe the state they need as a batch of operations and run it
 * with one af_store_exec() call: the shm backend runs it under its stripe
 * locks, the Redis backend (cluster mode) as one server-side script, so a
 * check costs one round trip and every check-and-count is atomic.
 *
 * Every entry a backend keeps expires; memory is bounded by configuration.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_STORE_H
#define AF_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "af_ip.h"

#define AF_KEY_MAX 96     /* longest key kept verbatim; longer ones hashed */
#define AF_BAN_REASON 64  /* bytes of a ban reason, NUL included */
#define AF_HIST_MAX 4     /* sources remembered per caller */
#define AF_WIN_BUCKETS 16 /* a window is counted in this many slices */
#define AF_FIG_N 8        /* counters of a figure (AF_OP_FIG_MULTI) */
#define AF_FIG_SLICES 4   /* a figure's window is counted in this many
						   * slices */
#define AF_WIN_MULTI_MAX 3 /* windows of one AF_OP_WIN_MULTI */
#define AF_FIG_WIN_MAX 3   /* windows of one AF_OP_FIG_MULTI */

typedef struct af_ban {
	uint64_t since_ms;
	uint64_t until_ms;
	uint32_t hits; /* requests refused because of this ban */
	char reason[AF_BAN_REASON];
} af_ban_t;

typedef struct af_hist_entry {
	af_ip_t ip;
	char country[3];   /* ISO 3166 alpha-2, "" when unknown */
	char continent[3]; /* two-letter continent code, "" when unknown */
	uint64_t ts_ms;    /* last time seen from this source */
} af_hist_entry_t;

typedef enum af_op_type {
	/* is key banned? (key = subject, usually the source IP text);
	 * a found ban gets its hit count incremented */
	AF_OP_BAN_GET = 1,
	/* ban key for ttl_s seconds with a reason (replaces an older ban) */
	AF_OP_BAN_SET,
	/* lift a ban; found tells whether there was one */
	AF_OP_BAN_DEL,
	/*
	 * Sliding window counter: add n (may be 0 to only read) to the
	 * counter key over the last window_s seconds and return the total.
	 * When ban_threshold > 0 and the total reaches it, ban_key (or key
	 * when ban_key is NULL) is banned for ban_s seconds with ban_reason,
	 * atomically with the count.
	 */
	AF_OP_WIN_HIT,
	/*
	 * Caller history: return the sources remembered for key (newest
	 * first, entries older than ttl_s left out), then record entry (an
	 * entry from the same IP is refreshed in place; the oldest entry
	 * makes room). With read_only, only return them: nothing is
	 * recorded, a missing history is not created and the expiry of a
	 * present one stays ttl_s after its last recording push.
	 */
	AF_OP_HIST_PUSH,
	/*
	 * Concurrency set (the live calls of a subject): add member (a
	 * Call-ID) to the set key unless the set is full (limit live members,
	 * 0: no limit); the member leaves the set by CONC_DEL or ttl_s
	 * seconds after it was added (a call whose end was lost ages out).
	 * A member already in the set is refreshed (ttl restarts), is
	 * admitted and is not counted twice.
	 *
	 * All the CONC_ADD ops of one batch admit together: the member goes
	 * into every set or into none. None when any of the sets is full or
	 * when a WIN_HIT of the batch with a gate went over it (count > gate).
	 * A set never counts below 0 and expires with its last member.
	 */
	AF_OP_CONC_ADD,
	/* remove member from the set key; found tells whether it was there */
	AF_OP_CONC_DEL,
	/* live members of the set key (count), nothing changed */
	AF_OP_CONC_COUNT,
	/*
	 * Figures: AF_FIG_N counters of key over u.fig.nwin (1 to
	 * AF_FIG_WIN_MAX) sliding windows of distinct window_s at once, one
	 * entry and one operation for all the windows of a subject. Each
	 * window is counted in AF_FIG_SLICES slices (coarser than WIN_HIT's:
	 * one entry where AF_FIG_N WIN_HITs per window would take as many):
	 * n[] is added to every window (all 0 only reads: a missing entry is
	 * not created), w[j].count[] are the totals of window j, n[]
	 * included. The entry keeps one slot per window_s: a window it does
	 * not have starts at 0 (taking an empty slot, else the slot of a
	 * window_s the op does not name, which starts again). It expires
	 * when the newest slice with an addition leaves its window (the
	 * longest of them).
	 *
	 * Invalid (status -1, every count 0): nwin out of
	 * 1..AF_FIG_WIN_MAX, a window_s of 0 or twice the same.
	 */
	AF_OP_FIG_MULTI,
	/*
	 * Multi-window counter: one subject counted over u.wm.nwin (1 to
	 * AF_WIN_MULTI_MAX) sliding windows of distinct window_s at once, as
	 * one operation (the shm backend keeps them in one entry). Per
	 * window it answers exactly what a WIN_HIT of that window_s would:
	 * n is added to every window (0 only reads: a missing counter is not
	 * created), w[j].count is the total of window j with n included.
	 *
	 * - gate, per window: w[j].gate > 0 and w[j].count > w[j].gate: the
	 *   CONC_ADDs of this batch admit nothing (as WIN_HIT's gate).
	 * - ban, per window: w[j].ban_threshold > 0 and n added to window j
	 *   and w[j].count >= w[j].ban_threshold: ban_key (key when NULL)
	 *   is banned for ban_s seconds with ban_reason, unless a live ban
	 *   is there; w[j].banned says which window set it (windows are
	 *   judged in the order of w[], so at most one does).
	 * - if_new: 1-based index of an earlier WIN_MULTI of this batch (0:
	 *   none). n is added to window j only when that op has a window of
	 *   the same window_s in which it added its n (w[].added) and its
	 *   count there equals its n (the subject was new in that window);
	 *   otherwise window j only reads. An if_new naming no earlier
	 *   WIN_MULTI, or one without a window of window j's window_s,
	 *   fails the op (status -1).
	 * - w[j].added (out): n > 0 was added to window j.
	 *
	 * A WIN_MULTI key and a WIN_HIT key are two namespaces: the same key
	 * used by both names two counters. The counter of a key keeps one
	 * slot per window_s: a window of the op that the counter does not
	 * have starts at 0 (taking the slot of a window_s the op does not
	 * name); each window is counted in AF_WIN_BUCKETS slices like a
	 * WIN_HIT's (the shm backend counts a slice up to 65535, a window up
	 * to 16 times that). The counter lives until the newest slice with
	 * an addition leaves its longest window, or a little longer (the shm
	 * backend: one window after the addition): the answers are the same.
	 *
	 * Backends without AF_STORE_CAP_WIN_MULTI run it as one WIN_HIT per
	 * window on the key with "|<window_s>" appended (af_store_exec).
	 * Invalid (status -1): nwin out of 1..AF_WIN_MULTI_MAX, a window_s
	 * of 0 or twice the same, a ban_threshold with ban_s 0, a bad if_new.
	 */
	AF_OP_WIN_MULTI
} af_op_type_t;

/* one window of an AF_OP_WIN_MULTI */
typedef struct af_win_one {
	uint32_t window_s;      /* in */
	uint32_t gate;          /* in: 0 none (see AF_OP_WIN_MULTI) */
	uint32_t ban_threshold; /* in: 0 never ban */
	uint32_t count;         /* out: total in this window, n included */
	int banned;             /* out: this window's count set the ban */
	int added;              /* out: n > 0 was added to this window */
} af_win_one_t;

typedef struct af_op {
	af_op_type_t type;
	const char *key; /* subject; not necessarily NUL-terminated */
	size_t key_len;
	int status; /* out: 0 done, 1 skipped, -1 failed (see af_store_exec) */
	union {
		struct {
			int stop;     /* in: when found, skip the ops after this one
						   * (their status is 1) */
			int found;    /* out */
			af_ban_t ban; /* out, when found */
		} ban_get;
		struct {
			uint32_t ttl_s;
			const char *reason; /* NUL-terminated, truncated to fit */
		} ban_set;
		struct {
			int found; /* out */
		} ban_del;
		struct {
			uint32_t window_s;
			uint32_t n;
			uint32_t ban_threshold; /* 0: never ban */
			uint32_t ban_s;
			const char *ban_key; /* NULL: key */
			size_t ban_key_len;
			const char *ban_reason;
			/* in: > 0: when count > gate, the CONC_ADDs of this batch
			 * admit nothing (a limit that blocks the call must not let
			 * it into a concurrency set) */
			uint32_t gate;
			/* in: 1-based index of an earlier WIN_HIT of this batch
			 * (0: none): n is added only when that op's key was new
			 * in its window (its count == its n), which counts
			 * distinct values (numbers per caller, callers per
			 * number); otherwise n is 0 for this op (read only) */
			int if_new;
			uint32_t count;   /* out: total in window, n included */
			int banned;       /* out: this hit set the ban */
		} win;
		struct {
			uint32_t n;  /* in: added to every window (see if_new) */
			int nwin;    /* in: windows in w[] */
			int if_new;  /* in: 1-based index of an earlier WIN_MULTI */
			uint32_t ban_s;
			const char *ban_key; /* NULL: key */
			size_t ban_key_len;
			const char *ban_reason;
			af_win_one_t w[AF_WIN_MULTI_MAX];
		} wm;
		struct {
			const char *member; /* the call; not NUL-terminated */
			size_t member_len;
			uint32_t limit;     /* in, ADD: 0 no limit */
			uint32_t ttl_s;     /* in, ADD: longest a member stays */
			uint32_t count;     /* out: live members after the op
								 * (a refused ADD: as they are) */
			int admitted;       /* out, ADD: member is in the set */
			int full;           /* out, ADD: this set was at its limit */
			int found;          /* out, DEL: member was in the set */
		} conc;
		struct {
			int nwin;             /* in: windows in w[] */
			uint32_t n[AF_FIG_N]; /* in: added to every window */
			struct {
				uint32_t window_s;        /* in */
				uint32_t count[AF_FIG_N]; /* out: totals in the window */
			} w[AF_FIG_WIN_MAX];
		} fig;
		struct {
			af_hist_entry_t entry; /* in */
			uint32_t ttl_s;
			int read_only; /* in: 1: only return the sources, record
							* nothing (entry ignored; no entry is created,
							* the expiry is not refreshed) */
			af_hist_entry_t prev[AF_HIST_MAX]; /* out, newest first */
			int n_prev;                        /* out */
		} hist;
	} u;
} af_op_t;

typedef struct af_store_stats {
	uint64_t entries;   /* live entries now */
	uint64_t capacity;  /* the most it will hold */
	uint64_t evictions; /* live entries dropped for room */
	uint64_t bans_evicted; /* of the evictions, live bans (before their
							* expiry: only a ban evicts a ban) */
	uint64_t expired;   /* entries reclaimed after expiry */
	uint64_t failures;  /* operations that could not be done */
} af_store_stats_t;

/* called once per live ban by af_store_ban_list; return non-zero to stop */
typedef int (*af_ban_cb)(const char *key, size_t key_len,
		const af_ban_t *ban, void *arg);

/* called once per live concurrency set by conc_list; non-zero stops */
typedef int (*af_conc_cb)(const char *key, size_t key_len, uint32_t count,
		void *arg);

/*
 * What forget removes: the entries of the kinds in 'kinds' (AF_FORGET_*
 * bits) whose key matches 'glob' (fnmatch(3) syntax without flags: '*',
 * '?', '[...]', '\\' escapes), e.g. "rn|*|alice@example.com|*". A key
 * longer than AF_KEY_MAX is matched on its first AF_KEY_MAX bytes in the
 * shm backend. Concurrency sets are never forgotten (a live call leaves
 * its sets when it ends).
 */
#define AF_FORGET_BAN 1u
#define AF_FORGET_WIN 2u
#define AF_FORGET_HIST 4u

typedef struct af_forget_pat {
	unsigned kinds;
	const char *glob; /* NUL-terminated */
} af_forget_pat_t;

typedef struct af_store af_store_t;

/* what a backend runs natively (af_store_ops_t.caps) */
#define AF_STORE_CAP_WIN_MULTI 1u /* AF_OP_WIN_MULTI */

typedef struct af_store_ops {
	const char *name;
	unsigned caps; /* AF_STORE_CAP_* bits */
	int (*exec)(af_store_t *s, af_op_t *ops, int n, uint64_t now_ms);
	int (*ban_list)(af_store_t *s, af_ban_cb cb, void *arg, uint64_t now_ms);
	/* every live concurrency set whose key starts with prefix */
	int (*conc_list)(af_store_t *s, const char *prefix, size_t prefix_len,
			af_conc_cb cb, void *arg, uint64_t now_ms);
	/* removes every entry matching one of pats[0..n) (af_forget_pat_t);
	 * adds the number removed to *removed; 0, -1 when the backend could
	 * not be used (some may be removed) */
	int (*forget)(af_store_t *s, const af_forget_pat_t *pats, int n,
			uint64_t now_ms, uint64_t *removed);
	/* reclaims expired entries, at most budget of them (0: all; with a
	 * budget a backend may look at part of its entries per call) */
	void (*gc)(af_store_t *s, uint64_t now_ms, unsigned budget);
	void (*stats)(af_store_t *s, af_store_stats_t *out);
	void (*destroy)(af_store_t *s);
} af_store_ops_t;

struct af_store {
	const af_store_ops_t *ops;
};

/* af_store_exec's results (an op's own status: see af_op_t) */
#define AF_STORE_OK 0
/* an op was invalid, or the backend failed some ops: each op's status
 * says which */
#define AF_STORE_FAILED -1
/* the backend could not be reached or did not answer in time: every op's
 * status is -1 */
#define AF_STORE_UNAVAILABLE -2

/* a sentence for a result of af_store_exec ("unknown result" for none) */
const char *af_store_strerror(int rc);

/*
 * af_store_exec for a backend without AF_STORE_CAP_WIN_MULTI: a batch
 * with WIN_MULTI ops runs with each of them expanded into one WIN_HIT per
 * window (key "<key>|<window_s>", if_new and gates mapped window by
 * window), the answers gathered back. At most AF_STORE_EXPAND_MAX ops
 * after expansion (else every op fails).
 */
#define AF_STORE_EXPAND_MAX 128

/*
 * Whether WIN_MULTI ops[i] is valid (see AF_OP_WIN_MULTI; its key is not
 * looked at): 0, or -1.
 */
int af_store_wm_check(const af_op_t *ops, int i);

/* Clears the outputs of every window of WIN_MULTI op (those past its
 * nwin too), as every backend does before it answers. */
void af_store_wm_clear(af_op_t *op);

/* the index in op's w[] of the window of window_s, -1 when none */
int af_store_wm_find(const af_op_t *op, uint32_t window_s);

/* Whether FIG_MULTI op is valid (see AF_OP_FIG_MULTI): 0, or -1. */
int af_store_fig_check(const af_op_t *op);

/* Clears the counts of every window of FIG_MULTI op (those past its nwin
 * too), as every backend does before it answers. */
void af_store_fig_clear(af_op_t *op);
int af_store_exec_expand(af_store_t *s, af_op_t *ops, int n,
		uint64_t now_ms);

/*
 * Runs ops[0..n) in order. Returns AF_STORE_OK when all were done,
 * AF_STORE_FAILED or AF_STORE_UNAVAILABLE when the backend failed (each
 * op's status says which): callers then fall back as configured. Within
 * one call, ops on the same key see each other's effects.
 */
static inline int af_store_exec(af_store_t *s, af_op_t *ops, int n,
		uint64_t now_ms)
{
	if(s->ops->caps & AF_STORE_CAP_WIN_MULTI)
		return s->ops->exec(s, ops, n, now_ms);
	return af_store_exec_expand(s, ops, n, now_ms);
}

/*
 * Runs ops[0..n) as af_store_exec() would answer them, without writing
 * anything (a dry run: antifraud.check): a WIN_HIT reads its window and
 * adds its n (and the n of the batch's earlier hits on the same key) to
 * the count it answers, and says whether it would ban (a WIN_MULTI: the
 * same, window by window); a HIST_PUSH only
 * reads; a CONC_ADD counts the set and says whether the group would be
 * admitted; a BAN_GET finds the ban through ban_list, without counting a
 * hit; BAN_SET, BAN_DEL and CONC_DEL do nothing. At most
 * AF_STORE_DRY_MAX ops. Returns as af_store_exec().
 */
#define AF_STORE_DRY_MAX 64
int af_store_exec_dry(af_store_t *s, af_op_t *ops, int n, uint64_t now_ms);

#endif
