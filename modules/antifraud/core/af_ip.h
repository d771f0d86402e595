/*
 * antifraud - IPv4/IPv6 addresses and a longest-prefix-match CIDR trie.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_IP_H
#define AF_IP_H

#include <stddef.h>
#include <stdint.h>
#include "af_arena.h"

#define AF_IP_STRLEN 46 /* INET6_ADDRSTRLEN */

typedef struct af_ip {
	uint8_t family;   /* 4 or 6; 0 = unset */
	uint8_t addr[16]; /* network order; IPv4 uses addr[0..3] */
} af_ip_t;

/* parses "1.2.3.4", "2001:db8::1" or "[2001:db8::1]" (s need not be
 * NUL-terminated); an IPv4-mapped IPv6 address becomes IPv4;
 * returns 0 or -1 */
int af_ip_parse(const char *s, size_t len, af_ip_t *ip);

/* writes the text form into buf (>= AF_IP_STRLEN); returns its length or -1 */
int af_ip_format(const af_ip_t *ip, char *buf, size_t size);

int af_ip_equal(const af_ip_t *a, const af_ip_t *b);

/* parses "net/len" or a bare address (a host route); host bits beyond
 * len are cleared. Returns 0, or -1 with *why set to a static message */
int af_cidr_parse(const char *s, size_t len, af_ip_t *net, int *plen,
		const char **why);

/*
 * Path-compressed binary trie, one root per family, allocated in an
 * arena; read-only once built, so any number of readers may search it
 * without a lock.
 */
typedef struct af_trie af_trie_t;

af_trie_t *af_trie_new(af_arena_t *a);

/* adds net/plen carrying value; a second add of the same prefix replaces
 * the value. Returns 0, -1 when out of memory */
int af_trie_add(af_trie_t *t, const af_ip_t *net, int plen, uint32_t value);

/* longest prefix containing ip: returns its length (0..128) and stores
 * its value in *value (may be NULL); -1 when nothing matches */
int af_trie_lookup(const af_trie_t *t, const af_ip_t *ip, uint32_t *value);

/* number of prefixes stored */
uint32_t af_trie_count(const af_trie_t *t);

/* the shortest prefix length added for family 4 or 6; -1 when none */
int af_trie_shortest(const af_trie_t *t, int family);

/*
 * Loads a plain list file into t with the given value: one address or
 * CIDR a line; blank lines and comments ('#' or ';' to the end of the
 * line) are ignored, and so is anything after the first field, so that
 * feeds with extra columns load as they are. The file is read with
 * af_file_read() (a regular file within the list size limit). On error
 * returns -1 with "path:line: what is wrong" (the bad field as an escaped
 * excerpt) in err; returns the number of entries added.
 */
int af_trie_load_file(af_trie_t *t, const char *path, uint32_t value,
		char *err, size_t errlen);

#endif
