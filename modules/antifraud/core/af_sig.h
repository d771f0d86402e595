/*
 * antifraud - attack-tool signatures: named sets of conditions over a
 * request's fingerprint features (af_fp.h), loaded from a YAML file.
 *
 * A signature set lives in the rule snapshot's arena (shared memory).
 * Its regular expressions are PCRE2; each process JIT-compiles its own
 * copy once per snapshot (JIT code cannot be shared between processes)
 * and matches without allocating.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_SIG_H
#define AF_SIG_H

#include <stddef.h>
#include <stdint.h>
#include "af_arena.h"
#include "af_fp.h"

#define AF_SIG_HITS_MAX 8

typedef enum af_sig_action {
	AF_SIG_BLOCK = 0, /* a match blocks (in enforce mode) */
	AF_SIG_ALERT      /* a match alerts only */
} af_sig_action_t;

typedef struct af_sigset af_sigset_t;

typedef struct af_sig_hit {
	const char *name;       /* the signature's name */
	af_sig_action_t action;
	uint32_t score;         /* added to the source's scanner score */
} af_sig_hit_t;

/*
 * Loads the signature file at path into arena a. Returns the set, or
 * NULL with "file:line: what is wrong" in err (what was taken from a
 * then stays until a is freed). The set carries a load tag (pid,
 * sequence number, time) that keys the per-process JIT caches, so a set
 * loaded at the address of a freed one is never taken for it.
 */
af_sigset_t *af_sig_load(af_arena_t *a, const char *path, char *err,
		size_t errlen);

/* number of signatures in the set */
uint32_t af_sig_count(const af_sigset_t *set);

/*
 * Every signature of set that fm matches, in file order, into
 * hits[0..max); returns how many matched (may exceed max: the rest are
 * counted, not stored). No allocation after the first call in a process
 * for a given set. A signature matches when all its conditions hold;
 * patterns are searched anywhere in their feature (anchor them with '^'
 * and '$'), a missing feature is the empty string; headers_present and
 * headers_absent look at fm->order.
 */
int af_sig_match(const af_sigset_t *set, const af_fp_msg_t *fm,
		af_sig_hit_t *hits, int max);

/*
 * How many patterns of set this process (thread) has JIT-compiled, or
 * -1 when its cache is not for set (no match yet, another set, or
 * inherited through fork()). For tests and diagnostics.
 */
int af_sig_jit_count(const af_sigset_t *set);

#endif
