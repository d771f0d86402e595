/*
 * antifraud - the shared-memory backend of the store (af_store.h), for
 * one node: records of their own size in arenas allocated up front,
 * striped locks.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_STORE_SHM_H
#define AF_STORE_SHM_H

#include <stddef.h>
#include <stdint.h>
#include "af_store.h"

/* shared-memory backend, for one node */
typedef struct af_store_shm_cfg {
	uint32_t max_entries; /* hard bound on entries; memory: 122 bytes
						   * each (records of 120 on average) */
	uint32_t stripes;     /* lock stripes, power of two */
} af_store_shm_cfg_t;

/* allocates everything up front with af_host->shm_alloc; NULL on error */
af_store_t *af_store_shm_new(const af_store_shm_cfg_t *cfg);

/* bytes af_store_shm_new takes for cfg (for documentation and checks) */
size_t af_store_shm_size(const af_store_shm_cfg_t *cfg);

#endif
