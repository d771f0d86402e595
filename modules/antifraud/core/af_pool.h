/*
 * antifraud - freed shared-memory blocks of one size kept for the next
 * allocation of that size: objects made and freed for every call (a
 * held call, a watched transaction) stop churning the host's allocator,
 * whose search (Kamailio's q_malloc) grows with what churns in it.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_POOL_H
#define AF_POOL_H

#include <stddef.h>

typedef struct af_pool af_pool_t;

/* freed blocks a pool of per-call objects keeps: a peak of calls
 * starting and ending at once, a few hundred KB of shared memory */
#define AF_POOL_KEEP 512

/* a pool (in shared memory) of blocks of size bytes that keeps at most
 * keep freed ones; NULL when out of memory */
af_pool_t *af_pool_create(size_t size, unsigned int keep);
/* a block of the pool's size (not zeroed): a kept one, or a new one
 * from shared memory; NULL when out of memory. A NULL pool allocates
 * size bytes (the pool could not be made: same service, no reuse). */
void *af_pool_get(af_pool_t *p, size_t size);
/* gives b back: kept for the next af_pool_get, or freed when the pool
 * already keeps its maximum (or is NULL) */
void af_pool_put(af_pool_t *p, void *b);
/* frees the pool and every block it keeps (blocks given out stay
 * valid: each is freed by af_pool_put on a NULL pool) */
void af_pool_destroy(af_pool_t *p);

#endif
