/*
 * antifraud - bump allocator for rule snapshots.
 *
 * Chunks come from af_host->shm_alloc. Each starts with a small header
 * linking it to the others; the arena itself is the first allocation of
 * the first chunk. Requests too big to share a chunk get one of their own
 * so that the chunk being filled is not abandoned half empty.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <string.h>
#include "af_host.h"
#include "af_arena.h"

#define AF_ARENA_ALIGN 16
#define AF_ARENA_DEFAULT_CHUNK (64 * 1024)
#define AF_ARENA_MIN_CHUNK 1024

/* rounds n up to the alignment; the caller has checked for overflow */
#define AF_ARENA_ROUND(n) \
	(((n) + (AF_ARENA_ALIGN - 1)) & ~(size_t)(AF_ARENA_ALIGN - 1))

typedef struct af_arena_chunk {
	struct af_arena_chunk *next;
	void *raw; /* what shm_alloc returned, for shm_free */
} af_arena_chunk_t;

/* bytes before the first usable byte of an aligned chunk */
#define AF_ARENA_HDR AF_ARENA_ROUND(sizeof(af_arena_chunk_t))

struct af_arena {
	af_arena_chunk_t *chunks; /* every chunk, newest first */
	char *cur;                /* next free byte of the chunk being filled */
	char *end;                /* end of the chunk being filled */
	size_t chunk_size;        /* bytes asked of the host per chunk */
	size_t total;             /* bytes taken from the host */
};

/*
 * Takes size bytes from the host for a chunk holding at least
 * size - AF_ARENA_HDR - AF_ARENA_ALIGN usable bytes, aligned. Stores the
 * first usable byte in *data and the end of the chunk in *end; returns
 * the chunk header or NULL when out of memory.
 */
static af_arena_chunk_t *af_arena_chunk_new(
		size_t size, char **data, char **end)
{
	af_arena_chunk_t *c;
	void *raw;
	uintptr_t base;

	raw = af_host->shm_alloc(size);
	if(!raw)
		return NULL;
	base = ((uintptr_t)raw + (AF_ARENA_ALIGN - 1))
		   & ~(uintptr_t)(AF_ARENA_ALIGN - 1);
	c = (af_arena_chunk_t *)base;
	c->next = NULL;
	c->raw = raw;
	*data = (char *)base + AF_ARENA_HDR;
	*end = (char *)raw + size;
	return c;
}

/*
 * Creates an arena taking chunks of chunk_size bytes (0 for the default
 * of 64 KiB) from the host. The arena structure lives in its first chunk.
 * Returns NULL when out of memory.
 */
af_arena_t *af_arena_new(size_t chunk_size)
{
	af_arena_chunk_t *c;
	af_arena_t *a;
	char *data, *end;

	if(chunk_size == 0)
		chunk_size = AF_ARENA_DEFAULT_CHUNK;
	if(chunk_size < AF_ARENA_MIN_CHUNK)
		chunk_size = AF_ARENA_MIN_CHUNK;
	c = af_arena_chunk_new(chunk_size, &data, &end);
	if(!c) {
		AF_ERR("arena: out of shared memory (%zu bytes)\n", chunk_size);
		return NULL;
	}
	a = (af_arena_t *)data;
	memset(a, 0, sizeof(*a));
	a->chunks = c;
	a->cur = data + AF_ARENA_ROUND(sizeof(*a));
	a->end = end;
	a->chunk_size = chunk_size;
	a->total = chunk_size;
	return a;
}

/*
 * Returns size bytes of zeroed memory from arena a, aligned to 16 bytes.
 * A request that does not fit the current chunk opens a new one, or, when
 * it is more than a quarter of a chunk, gets a chunk of its own. Returns
 * NULL when out of memory.
 */
void *af_arena_alloc(af_arena_t *a, size_t size)
{
	af_arena_chunk_t *c;
	size_t need, raw, usable;
	char *data, *end, *p;

	if(size == 0)
		size = 1;
	if(size > SIZE_MAX - AF_ARENA_HDR - 2 * AF_ARENA_ALIGN)
		goto oom;
	need = AF_ARENA_ROUND(size);
	if(need <= (size_t)(a->end - a->cur)) {
		p = a->cur;
		a->cur += need;
		memset(p, 0, size);
		return p;
	}
	usable = a->chunk_size - AF_ARENA_HDR - AF_ARENA_ALIGN;
	if(need > usable / 4) {
		/* a chunk of its own, linked behind the one being filled */
		raw = AF_ARENA_HDR + need + AF_ARENA_ALIGN;
		c = af_arena_chunk_new(raw, &data, &end);
		if(!c)
			goto oom;
		c->next = a->chunks->next;
		a->chunks->next = c;
		a->total += raw;
		memset(data, 0, size);
		return data;
	}
	c = af_arena_chunk_new(a->chunk_size, &data, &end);
	if(!c)
		goto oom;
	c->next = a->chunks;
	a->chunks = c;
	a->total += a->chunk_size;
	a->cur = data + need;
	a->end = end;
	memset(data, 0, size);
	return data;

oom:
	AF_ERR("arena: out of shared memory (%zu bytes)\n", size);
	return NULL;
}

/*
 * Copies len bytes of s into arena a and adds a terminating NUL; s may
 * hold NULs of its own. Returns NULL when out of memory.
 */
char *af_arena_strndup(af_arena_t *a, const char *s, size_t len)
{
	char *p;

	if(len == SIZE_MAX)
		return NULL;
	p = af_arena_alloc(a, len + 1);
	if(!p)
		return NULL;
	if(len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Returns the bytes arena a has taken from the host so far. */
size_t af_arena_size(const af_arena_t *a)
{
	return a ? a->total : 0;
}

/*
 * Returns every chunk of arena a, the one holding a itself included, to
 * the host. a may be NULL.
 */
void af_arena_free(af_arena_t *a)
{
	af_arena_chunk_t *c, *next;

	if(!a)
		return;
	for(c = a->chunks; c; c = next) {
		next = c->next;
		af_host->shm_free(c->raw);
	}
}
