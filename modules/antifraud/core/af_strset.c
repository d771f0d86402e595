/*
 * antifraud - sets of strings in an arena (af_strset.h).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <string.h>
#include "af_strset.h"

/*
 * The string set: open addressing with linear probing over a power-of-two
 * table kept at most half full. A slot is empty when s is NULL; the empty
 * string is a valid member.
 */
typedef struct af_strset_slot {
	const char *s; /* NUL-terminated copy in the arena */
	uint32_t len;
	uint32_t hash;
} af_strset_slot_t;

struct af_strset {
	af_arena_t *arena;
	af_strset_slot_t *slots;
	size_t mask; /* number of slots - 1 */
	size_t count;
	size_t min_len; /* the shortest and the longest member: a string */
	size_t max_len; /* outside them is not looked up */
};

/* Returns the 32-bit FNV-1a hash of s[0..len). */
static uint32_t af_strset_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for(i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

/*
 * Returns the slot of set holding s[0..len) with hash h, or the empty
 * slot where it would go.
 */
static af_strset_slot_t *af_strset_find(
		const af_strset_t *set, const char *s, size_t len, uint32_t h)
{
	af_strset_slot_t *e;
	size_t i;

	for(i = h & set->mask;; i = (i + 1) & set->mask) {
		e = &set->slots[i];
		if(!e->s)
			return e;
		if(e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
			return e;
	}
}

/*
 * Creates an empty string set in arena a sized for capacity_hint members
 * (it grows past that while being built). Returns NULL when out of
 * memory.
 */
af_strset_t *af_strset_new(af_arena_t *a, size_t capacity_hint)
{
	af_strset_t *set;
	size_t n = 16;

	while(n / 2 < capacity_hint
			&& n < SIZE_MAX / sizeof(af_strset_slot_t) / 4)
		n <<= 1;
	set = af_arena_alloc(a, sizeof(*set));
	if(!set)
		return NULL;
	set->slots = af_arena_alloc(a, n * sizeof(af_strset_slot_t));
	if(!set->slots)
		return NULL;
	set->arena = a;
	set->mask = n - 1;
	return set;
}

/*
 * Doubles the table of set. The old table stays in the arena, unused:
 * all the old tables together are smaller than the last one. Returns 0
 * or -1 when out of memory.
 */
static int af_strset_grow(af_strset_t *set)
{
	af_strset_slot_t *old = set->slots;
	size_t i, j, n = (set->mask + 1) * 2;

	if(n > SIZE_MAX / sizeof(*old) / 2)
		return -1;
	set->slots = af_arena_alloc(set->arena, n * sizeof(*old));
	if(!set->slots) {
		set->slots = old;
		return -1;
	}
	set->mask = n - 1;
	for(i = 0; i < n / 2; i++) {
		if(!old[i].s)
			continue;
		j = old[i].hash & set->mask;
		while(set->slots[j].s)
			j = (j + 1) & set->mask;
		set->slots[j] = old[i];
	}
	return 0;
}

/*
 * Adds a copy of s[0..len) to set. Returns 1 when added, 0 when already
 * present, -1 when out of memory (or len over 4 GiB).
 */
int af_strset_add(af_strset_t *set, const char *s, size_t len)
{
	af_strset_slot_t *e;
	uint32_t h;
	char *copy;

	if(len > UINT32_MAX || (!s && len))
		return -1;
	if(!s)
		s = "";
	h = af_strset_hash(s, len);
	e = af_strset_find(set, s, len, h);
	if(e->s)
		return 0;
	if((set->count + 1) * 2 > set->mask + 1) {
		if(af_strset_grow(set) < 0)
			return -1;
		e = af_strset_find(set, s, len, h);
	}
	copy = af_arena_strndup(set->arena, s, len);
	if(!copy)
		return -1;
	e->s = copy;
	e->len = (uint32_t)len;
	e->hash = h;
	if(!set->count || len < set->min_len)
		set->min_len = len;
	if(len > set->max_len)
		set->max_len = len;
	set->count++;
	return 1;
}

/* Returns 1 when s[0..len) is in set, 0 otherwise or when set is NULL. */
int af_strset_has(const af_strset_t *set, const char *s, size_t len)
{
	if(!set || !set->count || len > set->max_len || len < set->min_len
			|| (!s && len))
		return 0;
	if(!s)
		s = "";
	return af_strset_find(set, s, len, af_strset_hash(s, len))->s != NULL;
}

/* Returns the number of members of set. */
size_t af_strset_count(const af_strset_t *set)
{
	return set ? set->count : 0;
}
