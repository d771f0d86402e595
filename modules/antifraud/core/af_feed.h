/*
 * antifraud - live list files (honeypot feeds, blocklists).
 *
 * A list of the rule file with a 'file' is a feed: the timer looks at the
 * file every feed interval and, when it changed on disk, reads it into a
 * new trie (with the list's inline entries), validates it and swaps it in
 * for that list alone, without reloading the rules. A new file that does
 * not load (a bad line, unreadable, not a regular file, empty where the
 * old one was not, over the list files' size limit) is refused: the
 * list in use stays, and
 * the refusal is logged once per version of the file, counted
 * (AF_ST_FEED_ERRORS) and kept for antifraud.feeds.
 *
 * The trie in use is reference-counted: a lookup holds it for its
 * duration, the swap drops the feed's own reference, the last holder
 * frees it. Until a first swap, lookups go straight to the snapshot's trie.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_FEED_H
#define AF_FEED_H

#include <stddef.h>
#include <stdint.h>
#include "af_rules.h"

typedef struct af_feed_info {
	uint32_t entries;   /* prefixes of the list in use (inline + file) */
	uint32_t swaps;     /* new versions swapped in since the rules loaded */
	uint32_t refusals;  /* new versions refused since the rules loaded */
	uint64_t loaded_ms; /* when the version in use was read */
	char error[256];    /* why the last new version was refused; empty
						 * once a later one loaded */
} af_feed_info_t;

/*
 * Starts the feed of a list whose file is about to be read by the rule
 * load: records the file's identity (device, inode, size, mtime) first,
 * so that a change during the load is seen by the next check. Shared
 * memory; NULL when out of memory.
 */
struct af_feed *af_feed_new(const char *path);

/* records the entries of the version the rule load read */
void af_feed_loaded(struct af_feed *f, uint32_t entries);

/* frees the feed with its snapshot; f may be NULL */
void af_feed_free(struct af_feed *f);

/*
 * Longest prefix of the list l containing ip (the version of its file in
 * use): the prefix length, -1 when none.
 */
int af_iplist_lookup(const af_iplist_t *l, const af_ip_t *ip);

/*
 * Looks at l's file and swaps a new version in when it changed. Returns
 * 1 swapped, 0 unchanged (or changed while being read: next time), -1
 * refused (the old version stays; err says why, for a version of the
 * file not refused before). One process at a time (the timer).
 */
int af_feed_refresh(const af_iplist_t *l, char *err, size_t errlen);

/* what antifraud.feeds shows of l's feed; zeroed when l has no file */
void af_feed_info(const af_iplist_t *l, af_feed_info_t *out);

#endif
