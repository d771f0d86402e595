/*
 * antifraud - sets of strings (domains, users, callers, number prefixes)
 * in an arena.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_STRSET_H
#define AF_STRSET_H

#include <stddef.h>
#include "af_arena.h"

/*
 * Set of strings in an arena (domains, users): open addressing, built
 * once, then read-only. Matching is exact; callers lowercase what must be
 * case-insensitive before adding and before searching.
 */
typedef struct af_strset af_strset_t;

/* capacity_hint: expected number of members (grows as needed while
 * building) */
af_strset_t *af_strset_new(af_arena_t *a, size_t capacity_hint);
/* returns 1 added, 0 already present, -1 out of memory */
int af_strset_add(af_strset_t *set, const char *s, size_t len);
int af_strset_has(const af_strset_t *set, const char *s, size_t len);
size_t af_strset_count(const af_strset_t *set);

#endif
