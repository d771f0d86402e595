/*
 * antifraud - live list files: a changed file is read, validated and
 * swapped in for its list alone (see af_feed.h).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "af_host.h"
#include "af_lock.h"
#include "af_arena.h"
#include "af_feed.h"

/* one version of a list: its trie in its own arena (holding this too) */
typedef struct af_feed_trie {
	int refs;
	af_arena_t *arena;
	af_trie_t *trie;
} af_feed_trie_t;

/* what tells a version of a file from another */
typedef struct af_file_id {
	uint64_t dev;
	uint64_t ino;
	int64_t size;
	int64_t mtime_ns;
	int missing; /* the file could not be looked at */
} af_file_id_t;

struct af_feed {
	af_lock_t lock;       /* protects cur and the reference taken on it */
	af_feed_trie_t *cur;  /* NULL: the snapshot's own trie */
	int swapped;          /* cur was set once (read without the lock) */
	af_file_id_t id;      /* of the version in use */
	af_file_id_t bad;     /* of the last version refused */
	int has_bad;
	af_feed_info_t info;
};

/* the identity of path; missing set (and errno kept) when stat fails */
static void file_id(const char *path, af_file_id_t *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if(stat(path, &st) < 0) {
		id->missing = 1;
		return;
	}
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	id->size = (int64_t)st.st_size;
	id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000
				   + st.st_mtim.tv_nsec;
}

static int file_id_equal(const af_file_id_t *a, const af_file_id_t *b)
{
	return a->missing == b->missing && a->dev == b->dev && a->ino == b->ino
		   && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

struct af_feed *af_feed_new(const char *path)
{
	struct af_feed *f;

	f = af_host->shm_alloc(sizeof(*f));
	if(!f)
		return NULL;
	memset(f, 0, sizeof(*f));
	if(af_lock_init(&f->lock) < 0) {
		af_host->shm_free(f);
		return NULL;
	}
	file_id(path, &f->id);
	f->info.loaded_ms = af_now_ms();
	return f;
}

void af_feed_loaded(struct af_feed *f, uint32_t entries)
{
	if(f)
		f->info.entries = entries;
}

/* drops a reference to t; the last one frees its arena (and t) */
static void feed_trie_release(af_feed_trie_t *t)
{
	if(t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
		af_arena_free(t->arena);
}

void af_feed_free(struct af_feed *f)
{
	if(!f)
		return;
	feed_trie_release(f->cur);
	af_lock_destroy(&f->lock);
	af_host->shm_free(f);
}

int af_iplist_lookup(const af_iplist_t *l, const af_ip_t *ip)
{
	struct af_feed *f = l->feed;
	af_feed_trie_t *t;
	int plen;

	if(!f || !__atomic_load_n(&f->swapped, __ATOMIC_ACQUIRE))
		return af_trie_lookup(l->trie, ip, NULL);
	af_lock(&f->lock);
	t = f->cur;
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
	af_unlock(&f->lock);
	plen = af_trie_lookup(t->trie, ip, NULL);
	feed_trie_release(t);
	return plen;
}

/*
 * Reads a new version of l's file into a trie of its own, with the list's
 * inline entries. Returns it, or NULL with err set.
 */
static af_feed_trie_t *feed_read(const af_iplist_t *l, char *err,
		size_t errlen)
{
	af_arena_t *a;
	af_feed_trie_t *t;
	uint32_t i;

	a = af_arena_new(0);
	if(!a) {
		snprintf(err, errlen, "%s: out of memory", l->file);
		return NULL;
	}
	t = af_arena_alloc(a, sizeof(*t));
	if(!t || !(t->trie = af_trie_new(a))) {
		snprintf(err, errlen, "%s: out of memory", l->file);
		goto error;
	}
	t->arena = a;
	t->refs = 1;
	for(i = 0; i < l->n_entries; i++) {
		if(af_trie_add(t->trie, &l->entries[i].net, l->entries[i].plen, 1)
				< 0) {
			snprintf(err, errlen, "%s: out of memory", l->file);
			goto error;
		}
	}
	if(af_trie_load_file(t->trie, l->file, 1, err, errlen) < 0)
		goto error;
	return t;

error:
	af_arena_free(a);
	return NULL;
}

/* records a refusal of the version id; returns -1 */
static int feed_refuse(struct af_feed *f, const af_file_id_t *id,
		const char *why)
{
	af_lock(&f->lock);
	f->bad = *id;
	f->has_bad = 1;
	f->info.refusals++;
	snprintf(f->info.error, sizeof(f->info.error), "%s", why);
	af_unlock(&f->lock);
	return -1;
}

int af_feed_refresh(const af_iplist_t *l, char *err, size_t errlen)
{
	struct af_feed *f = l->feed;
	af_file_id_t id, after;
	af_feed_trie_t *t, *old;
	uint32_t entries;

	if(err && errlen)
		err[0] = '\0';
	if(!f || !l->file)
		return 0;
	file_id(l->file, &id);
	if(file_id_equal(&id, &f->id)
			|| (f->has_bad && file_id_equal(&id, &f->bad)))
		return 0;
	if(id.missing) {
		snprintf(err, errlen, "%s: %s (the list in use stays)", l->file,
				strerror(errno));
		return feed_refuse(f, &id, err);
	}
	t = feed_read(l, err, errlen);
	if(!t) {
		if(err && errlen && strlen(err) + 24 < errlen)
			strcat(err, " (the list in use stays)");
		return feed_refuse(f, &id, err);
	}
	/* a writer still at work: its final version is read next time */
	file_id(l->file, &after);
	if(!file_id_equal(&id, &after)) {
		feed_trie_release(t);
		return 0;
	}
	entries = af_trie_count(t->trie);
	if(entries == l->n_entries && f->info.entries > l->n_entries) {
		snprintf(err, errlen,
				"%s: no entries, where the list in use has %u from its"
				" file (a truncated download?): the list in use stays",
				l->file, f->info.entries - l->n_entries);
		feed_trie_release(t);
		return feed_refuse(f, &id, err);
	}
	af_lock(&f->lock);
	old = f->cur;
	f->cur = t;
	f->id = id;
	f->has_bad = 0;
	f->info.entries = entries;
	f->info.swaps++;
	f->info.loaded_ms = af_now_ms();
	f->info.error[0] = '\0';
	__atomic_store_n(&f->swapped, 1, __ATOMIC_RELEASE);
	af_unlock(&f->lock);
	feed_trie_release(old);
	return 1;
}

void af_feed_info(const af_iplist_t *l, af_feed_info_t *out)
{
	memset(out, 0, sizeof(*out));
	if(!l->feed)
		return;
	af_lock(&l->feed->lock);
	*out = l->feed->info;
	af_unlock(&l->feed->lock);
}
