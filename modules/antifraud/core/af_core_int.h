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

typedef struct af_core_shared {
	af_lock_t lock;          /* protects current and refs increments */
	af_rules_t *current;
	uint32_t generation;
	uint64_t last_reload_ms;
	uint64_t stats[AF_ST__COUNT];
	uint64_t reasons[AF_R__COUNT];
	uint64_t node_id; /* tells this node's own cluster events apart */
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
