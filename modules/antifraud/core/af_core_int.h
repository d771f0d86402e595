/*
 * antifraud - internal: the core's state (af_core_state.c) as the
 * lifecycle (af_core.c) makes and replaces it. Not for the checks: they
 * use af_core.h.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_CORE_INT_H
#define AF_CORE_INT_H

#include "af_core.h"
#include "af_lock.h"

/*
 * Cluster mode: sources found not banned, so that a request of one of
 * them needs no ban lookup in Redis (the ACK and BYE of a call, the next
 * calls of a trunk). An entry holds for AF_CLEAR_TTL_MS (as before this
 * memory was node-wide); for up to AF_CLEAR_LIVE_TTL_MS while this
 * node's subscriber to the cluster's events is live (it hears every ban
 * made anywhere) and nothing was heard since its lookup that may have
 * banned it: a ban of a key of its slot (the slot's bans move on) or a
 * new subscription (epoch moves on: events may have been missed). Both
 * are read before the lookup, so that a ban heard while it runs makes
 * its answer stale. Node-wide: one lookup serves every process.
 */
#define AF_CLEAR_SLOTS 4096
#define AF_CLEAR_LOCKS 16
#define AF_CLEAR_TTL_MS 1000
#define AF_CLEAR_LIVE_TTL_MS 60000

typedef struct af_clear_slot {
	uint64_t hash;       /* FNV-1a of the source's key, 0 empty */
	uint64_t created_ms; /* its lookup's time */
	uint64_t token;      /* epoch and the slot's bans before its lookup */
	uint32_t bans;       /* bans heard of keys of this slot */
} af_clear_slot_t;

typedef struct af_core_shared {
	af_lock_t lock;          /* protects current and refs increments */
	af_rules_t *current;
	uint32_t generation;
	uint64_t last_reload_ms;
	uint64_t stats[AF_ST__COUNT];
	uint64_t reasons[AF_R__COUNT];
	uint64_t verdicts[AF_VK__COUNT][2][AF_R__COUNT]; /* alerts, blocks */
	uint64_t node_id; /* tells this node's own cluster events apart */
	uint32_t clear_epoch;      /* subscriptions made (atomic) */
	uint64_t events_live_ms;   /* the subscriber is live until (atomic) */
	af_lock_t clear_lock[AF_CLEAR_LOCKS];
	af_clear_slot_t clear[AF_CLEAR_SLOTS];
} af_core_shared_t;

extern af_core_shared_t *af_core_shm;
extern af_store_t *af_core_st;    /* what the checks use */
extern af_store_t *af_core_local; /* this node's shm store */

/* publishes r as the current snapshot, drops the old one and returns
 * r's generation */
uint32_t af_core_set_current(af_rules_t *r);

/* closes this process's GeoIP handle (af_core_destroy) */
void af_core_geo_reset(void);

#endif
