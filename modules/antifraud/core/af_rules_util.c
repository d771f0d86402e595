/*
 * antifraud - what the readers of the rule file's sections share
 * (af_rules.c, af_rules_dest.c; af_rules_int.h): paths, string sets,
 * sequences, two-letter codes; and the lookup of a profile by name.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>
#include "af_file.h"
#include "af_geo.h"
#include "af_rules_int.h"

static const char *const af_continents[] = {
		"AF", "AN", "AS", "EU", "NA", "OC", "SA"};

/*
 * Copies path s[0..len) into the arena, relative to the rule file's
 * folder unless it is absolute. Returns the copy, or NULL when out of
 * memory.
 */
static char *af_rl_resolve(af_rl_t *c, const char *s, size_t len)
{
	char *p;

	if(s[0] == '/' || c->dirlen == 0)
		return af_arena_strndup(c->y.arena, s, len);
	p = af_arena_alloc(c->y.arena, c->dirlen + len + 1);
	if(!p)
		return NULL;
	memcpy(p, c->y.file, c->dirlen);
	memcpy(p + c->dirlen, s, len);
	p[c->dirlen + len] = '\0';
	return p;
}

/*
 * Reads path node n (a file of kind k the rules name) into *out,
 * resolved with af_rl_resolve(), and checks that the file can be read
 * (af_file_check(): a regular file within the limit of k), so that a
 * missing or unreadable file is reported at the line naming it. GeoIP
 * databases are checked by rl_geoip(), which knows whether they are
 * required. Returns 0, or -1 with the error set.
 */
int af_rl_path(af_rl_t *c, const yaml_node_t *n, af_file_kind_t k,
		const char **out)
{
	char why[512];
	const char *s;
	size_t len;

	if(af_yl_str(&c->y, n, &s, &len) < 0)
		return -1;
	if(len == 0)
		return af_yl_err(&c->y, n, "empty file name");
	*out = af_rl_resolve(c, s, len);
	if(!*out)
		return af_yl_oom(&c->y, n);
	if(k != AF_FILE_GEOIP
			&& af_file_check(*out, k, NULL, why, sizeof(why)) < 0)
		return af_yl_err(&c->y, n, "%s", why);
	return 0;
}

/*
 * Reads a sequence of strings from node n into a new set *out, each item
 * passed first to check (which may refuse it, or rewrite it into buf and
 * point *s there). Returns 0, or -1 with the error set.
 */
int af_rl_strset_of(af_rl_t *c, const yaml_node_t *n, af_rl_item_cb check,
		void *arg, af_strset_t **out)
{
	char buf[AF_RL_ITEM_MAX];
	yaml_node_t *it;
	const char *s;
	size_t i, count, len;

	if(af_yl_seq(&c->y, n, &count) < 0)
		return -1;
	*out = af_strset_new(c->y.arena, count);
	if(!*out)
		return af_yl_oom(&c->y, n);
	for(i = 0; i < count; i++) {
		it = af_yl_item(&c->y, n, i);
		if(af_yl_str(&c->y, it, &s, &len) < 0)
			return -1;
		if(check(c, it, &s, &len, buf, arg) < 0)
			return -1;
		if(af_strset_add(*out, s, len) < 0)
			return af_yl_oom(&c->y, it);
	}
	return 0;
}

/* what af_rl_strset asks of each item */
typedef struct rl_plain_arg {
	const char *what;
	int lower_host;
} rl_plain_arg_t;

/* an item of af_rl_strset: not empty; user@HOST with the host lowered
 * when asked */
static int rl_plain_item(af_rl_t *c, const yaml_node_t *it, const char **s,
		size_t *len, char *buf, void *arg)
{
	const rl_plain_arg_t *a = arg;
	const char *at;
	size_t j;

	if(*len == 0)
		return af_yl_err(&c->y, it, "empty %s", a->what);
	if(!a->lower_host || !(at = memchr(*s, '@', *len)))
		return 0;
	/* user@host: hosts compare case-insensitively */
	if(*len >= AF_RL_ITEM_MAX)
		return af_yl_err(&c->y, it, "%s too long", a->what);
	memcpy(buf, *s, *len);
	for(j = (size_t)(at - *s); j < *len; j++)
		if(buf[j] >= 'A' && buf[j] <= 'Z')
			buf[j] = (char)(buf[j] + 32);
	*s = buf;
	return 0;
}

/*
 * Reads a sequence of strings (users, callers) from node n into a new
 * set *out, byte for byte (lower_host: the host of user@host lowered).
 * Returns 0, or -1 with the error set.
 */
int af_rl_strset(af_rl_t *c, const yaml_node_t *n, const char *what,
		int lower_host, af_strset_t **out)
{
	rl_plain_arg_t a = {what, lower_host};

	return af_rl_strset_of(c, n, rl_plain_item, &a, out);
}

/*
 * Checks that n is a sequence (or a null: an empty one) and takes room
 * for its items, size bytes each, from the arena into *out (NULL when
 * there are none). Stores the number of items in *count. Returns 0, or -1
 * with the error set.
 */
int af_rl_seq_alloc(af_rl_t *c, const yaml_node_t *n, size_t size,
		size_t *count, void **out)
{
	*out = NULL;
	if(af_yl_seq(&c->y, n, count) < 0)
		return -1;
	if(*count == 0)
		return 0;
	*out = af_arena_alloc(c->y.arena, *count * size);
	return *out ? 0 : af_yl_oom(&c->y, n);
}

/*
 * Sorts the count (at least 1) items of v, size bytes each, by cmp and
 * drops the repeated ones. Returns how many are left.
 */
uint32_t af_rl_sort_unique(void *v, size_t count, size_t size,
		int (*cmp)(const void *, const void *))
{
	char *p = v;
	size_t i, j;

	qsort(v, count, size, cmp);
	for(i = 1, j = 1; i < count; i++) {
		if(cmp(p + i * size, p + (j - 1) * size) != 0)
			memcpy(p + j++ * size, p + i * size, size);
	}
	return (uint32_t)j;
}

/* qsort order of packed codes */
int af_rl_cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

/*
 * Reads a sequence of strings from node n into a sorted arena array of
 * size-byte items without repeats (*out, *nout; NULL and 0 when empty),
 * each item made by parse (arg passed on), ordered by cmp. Returns 0, or
 * -1 with the error set.
 */
int af_rl_sorted_of(af_rl_t *c, const yaml_node_t *n, size_t size,
		af_rl_parse_cb parse, void *arg,
		int (*cmp)(const void *, const void *), void **out, uint32_t *nout)
{
	yaml_node_t *it;
	const char *s;
	size_t i, count, len;
	char *v;
	void *p;
	int rc;

	*out = NULL;
	*nout = 0;
	rc = af_rl_seq_alloc(c, n, size, &count, &p);
	if(rc < 0 || count == 0)
		return rc;
	v = p;
	for(i = 0; i < count; i++) {
		it = af_yl_item(&c->y, n, i);
		if(af_yl_str(&c->y, it, &s, &len) < 0)
			return -1;
		if(parse(c, it, s, len, v + i * size, arg) < 0)
			return -1;
	}
	*nout = af_rl_sort_unique(v, count, size, cmp);
	*out = v;
	return 0;
}

/*
 * A two-letter code (af_rl_sorted_of() item) into a packed uint16_t:
 * *kind (arg) 0 a country, 1 a continent, 2 a zone (a continent or XN);
 * lower case is accepted. Returns 0, or -1 with the error set.
 */
static int rl_code_item(af_rl_t *c, const yaml_node_t *it, const char *s,
		size_t len, void *item, void *arg)
{
	int continent = *(const int *)arg;
	size_t j, k;
	char cc[3];

	for(j = 0; j < 2 && j < len; j++) {
		cc[j] = s[j];
		if(cc[j] >= 'a' && cc[j] <= 'z')
			cc[j] = (char)(cc[j] - 'a' + 'A');
		if(cc[j] < 'A' || cc[j] > 'Z')
			break;
	}
	cc[2] = '\0';
	if(len != 2 || j != 2)
		goto bad;
	if(continent == 2 && strcmp(cc, "XN") == 0) {
		/* zones: continents and the non-geographic codes */
	} else if(continent) {
		for(k = 0; k < sizeof(af_continents) / sizeof(af_continents[0]); k++) {
			if(strcmp(af_continents[k], cc) == 0)
				break;
		}
		if(k == sizeof(af_continents) / sizeof(af_continents[0]))
			goto bad;
	}
	*(uint16_t *)item = af_cc_pack(cc);
	return 0;
bad:
	if(continent)
		return af_yl_err(&c->y, it,
				"'%.*s' is not a %s code (AF, AN, AS, EU, NA, "
				"OC, SA%s)",
				AF_YL_SHOWN(len), s, continent == 2 ? "zone" : "continent",
				continent == 2 ? ", XN" : "");
	return af_yl_err(&c->y, it, "'%.*s' is not a two-letter country code",
			AF_YL_SHOWN(len), s);
}

/*
 * Reads a sequence of two-letter codes from node n (continents when
 * continent is set, else countries; lower case is accepted) into a sorted
 * array of packed codes without duplicates (*out, *nout). Returns 0, or
 * -1 with the error set.
 */
int af_rl_codes(af_rl_t *c, const yaml_node_t *n, int continent,
		uint16_t **out, uint32_t *nout)
{
	void *p;
	int rc = af_rl_sorted_of(c, n, sizeof(**out), rl_code_item, &continent,
			af_rl_cmp_u16, &p, nout);

	*out = p;
	return rc;
}

/*
 * Returns the profile of r named name[0..len), or the default profile
 * when name is NULL or len 0; NULL when r has no such profile.
 */
const af_profile_t *af_rules_profile(const af_rules_t *r, const char *name,
		size_t len)
{
	uint32_t i;

	if(!r)
		return NULL;
	if(!name || len == 0)
		return r->default_profile;
	for(i = 0; i < r->n_profiles; i++) {
		/* name comes from the script and may hold a NUL: compare
		 * lengths first, never read past the stored name */
		if(strlen(r->profiles[i].name) == len
				&& memcmp(r->profiles[i].name, name, len) == 0)
			return &r->profiles[i];
	}
	return NULL;
}

int af_rl_bits(af_rl_t *c, const yaml_node_t *n, af_rl_parse_cb parse,
		void *arg, uint32_t *bits)
{
	const yaml_node_t *it;
	const char *s;
	size_t i, count, len;
	int k;

	if(af_yl_seq(&c->y, n, &count) < 0)
		return -1;
	for(i = 0; i < count; i++) {
		it = af_yl_item(&c->y, n, i);
		if(af_yl_str(&c->y, it, &s, &len) < 0)
			return -1;
		k = -1;
		if(parse(c, it, s, len, &k, arg) < 0)
			return -1;
		if(k >= 0)
			*bits |= 1u << k;
	}
	return 0;
}
