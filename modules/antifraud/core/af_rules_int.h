/*
 * antifraud - internal: what the readers of the rule file's sections
 * share (af_rules.c, af_rules_dest.c; made in af_rules_util.c).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_RULES_INT_H
#define AF_RULES_INT_H

#include "af_rules.h"
#include "af_yaml.h"

#define AF_RULES_DAY 86400u
#define AF_RULES_YEAR (365u * AF_RULES_DAY)
#define AF_RULES_NAME_MAX 64 /* list, profile and calendar names */
#define AF_RULES_HOST_MAX 253 /* domain names */

/* what a load carries from node to node */
typedef struct af_rl {
	af_yl_t y;     /* the rule file, its document, arena and errors */
	size_t dirlen; /* length of the file's folder part, '/' included */
	af_rules_t *r;
} af_rl_t;

/* path node n (relative to the rule file's folder) of a file of kind k
 * into *out; the file is checked (af_file_check()) unless it is GeoIP */
int af_rl_path(af_rl_t *c, const yaml_node_t *n, af_file_kind_t k,
		const char **out);

/* checks one string item it of a set, s[0..*len): 0, or -1 with the
 * error set; may rewrite it into buf (AF_RL_ITEM_MAX bytes) and point *s
 * there */
#define AF_RL_ITEM_MAX (AF_RULES_HOST_MAX * 2 + 2)
typedef int (*af_rl_item_cb)(af_rl_t *c, const yaml_node_t *it,
		const char **s, size_t *len, char *buf, void *arg);

/* a sequence of strings into a new set, each item through check */
int af_rl_strset_of(af_rl_t *c, const yaml_node_t *n, af_rl_item_cb check,
		void *arg, af_strset_t **out);

/* a sequence of strings into a new set (lower_host: user@HOST lowered) */
int af_rl_strset(af_rl_t *c, const yaml_node_t *n, const char *what,
		int lower_host, af_strset_t **out);

/* a sequence into an arena array of size-byte items (*out NULL if none) */
int af_rl_seq_alloc(af_rl_t *c, const yaml_node_t *n, size_t size,
		size_t *count, void **out);

/* sorts the count (at least 1) items of v by cmp and drops repeats;
 * returns how many are left */
uint32_t af_rl_sort_unique(void *v, size_t count, size_t size,
		int (*cmp)(const void *, const void *));

/* makes one item of a sorted array from string s[0..len) (node it):
 * 0, or -1 with the error set */
typedef int (*af_rl_parse_cb)(af_rl_t *c, const yaml_node_t *it,
		const char *s, size_t len, void *item, void *arg);

/* a sequence of names into the bit mask *bits (added to it): parse
 * makes each name's bit number (an int in item; left -1: no bit), or an
 * error. Returns 0, or -1 with the error set. */
int af_rl_bits(af_rl_t *c, const yaml_node_t *n, af_rl_parse_cb parse,
		void *arg, uint32_t *bits);

/* a sequence of strings into a sorted arena array of size-byte items
 * without repeats, each item made by parse */
int af_rl_sorted_of(af_rl_t *c, const yaml_node_t *n, size_t size,
		af_rl_parse_cb parse, void *arg,
		int (*cmp)(const void *, const void *), void **out, uint32_t *nout);

/* qsort order of packed codes */
int af_rl_cmp_u16(const void *a, const void *b);

/* two-letter codes: kind 0 countries, 1 continents, 2 zones (continents
 * and XN); sorted packed codes without duplicates */
int af_rl_codes(af_rl_t *c, const yaml_node_t *n, int kind, uint16_t **out,
		uint32_t *nout);

/* the 'dest' section (before 'profiles') */
int af_rl_dest(af_rl_t *c, const yaml_node_t *n);

/* the 'dest' mapping of profile p */
int af_rl_profile_dest(af_rl_t *c, const yaml_node_t *n, af_profile_t *p);

/* Reads a sequence of number class names into the bit mask *mask (added
 * to it); 'international' sets *intl and 'all' every class when intl is
 * not NULL (outside_hours). Returns 0, or -1 with the error set. */
int af_rl_classes(af_rl_t *c, const yaml_node_t *n, uint32_t *mask, int *intl);

/* after every section: resolves dest.callers' profile names; checks that
 * profiles with dest rules have a number plan */
int af_rl_dest_finish(af_rl_t *c, const yaml_node_t *root);

/* the 'analytics' section (before 'profiles'), its defaults (set before
 * any section is read), and the 'analytics' mapping of profile p */
int af_rl_analytics(af_rl_t *c, const yaml_node_t *n);
void af_rl_analytics_defaults(af_rules_t *r);
int af_rl_profile_analytics(af_rl_t *c, const yaml_node_t *n,
		af_profile_t *p);

#endif
