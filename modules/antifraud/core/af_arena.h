/*
 * antifraud - bump allocator for rule snapshots.
 *
 * A snapshot (rules, lists, tries) is built into one arena in shared memory
 * and freed as a whole when its last reference goes: no fragmentation, no
 * per-node frees, nothing half-built is ever visible.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_ARENA_H
#define AF_ARENA_H

#include <stddef.h>

typedef struct af_arena af_arena_t;

/* new arena taking chunks of chunk_size bytes (0: 64 KiB) from
 * af_host->shm_alloc; NULL when out of memory */
af_arena_t *af_arena_new(size_t chunk_size);

/* size bytes, zeroed, 16-byte aligned; larger than a chunk is fine;
 * NULL when out of memory */
void *af_arena_alloc(af_arena_t *a, size_t size);

/* copy of s[0..len) with a terminating NUL */
char *af_arena_strndup(af_arena_t *a, const char *s, size_t len);

/* bytes taken from the host so far */
size_t af_arena_size(const af_arena_t *a);

/* returns every chunk to the host; a may be NULL */
void af_arena_free(af_arena_t *a);

#endif
