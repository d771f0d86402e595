/*
 * antifraud - where a number goes: the number plan (longest E.164 prefix
 * to country, zone, class and risk) and the normalization of what callers
 * dial into E.164.
 *
 * Plan files are CSV, one row a prefix (etc/antifraud-numplan.csv is the
 * generated default, etc/antifraud-highrisk.csv a sample overlay):
 *
 *   prefix,country,zone,class,risk
 *
 * plus '# dialing: REGION CC NATIONAL_PREFIX INTERNATIONAL_PREFIX' comment
 * lines that tell how each region dials. A number takes the longest
 * matching row of the overlays when one matches (an overlay line wins
 * over the plan whatever their lengths), else the plan's longest row.
 *
 * Everything is built into the rule snapshot's arena: immutable once
 * loaded, read by any process without locks, no allocation per lookup.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_NUMPLAN_H
#define AF_NUMPLAN_H

#include <stddef.h>
#include <stdint.h>
#include "af_arena.h"

#define AF_E164_MAX 15 /* digits of an E.164 number, country code included */

/* number classes; the names are those of the plan files */
typedef enum af_numclass {
	AF_NC_UNKNOWN = 0,   /* "unknown" */
	AF_NC_FIXED,         /* "fixed" */
	AF_NC_MOBILE,        /* "mobile" */
	AF_NC_PREMIUM,       /* "premium" */
	AF_NC_SHARED_COST,   /* "shared_cost" */
	AF_NC_TOLL_FREE,     /* "toll_free" */
	AF_NC_PERSONAL,      /* "personal" */
	AF_NC_UAN,           /* "uan" */
	AF_NC_VOIP,          /* "voip" */
	AF_NC_PAGER,         /* "pager" */
	AF_NC_VOICEMAIL,     /* "voicemail" */
	AF_NC_SATELLITE,     /* "satellite" */
	AF_NC_INTERNATIONAL, /* "international": +800/+808/+979... networks */
	AF_NC_SPECIAL,       /* "special" */
	AF_NC_SHORT,         /* "short": a short code (never in a plan file;
						  * what normalization says of 112, 116xxx...) */
	AF_NC__COUNT
} af_numclass_t;

const char *af_numclass_name(af_numclass_t c);
/* class by name; -1 when unknown */
int af_numclass_parse(const char *s, size_t len);

/* what the plan says of a number */
typedef struct af_numinfo {
	char country[3];     /* ISO 3166 alpha-2, "XN" non-geographic */
	char zone[3];        /* AF AN AS EU NA OC SA, "XN" */
	uint8_t cls;         /* af_numclass_t */
	uint8_t risk;        /* 0..3 */
	uint8_t prefix_len;  /* digits of the row that matched */
	uint8_t overlay;     /* 1: the row came from an overlay file */
} af_numinfo_t;

/* how a region dials, from the plan's '# dialing:' lines */
typedef struct af_dialing {
	char region[3];           /* ISO 3166 alpha-2 */
	char cc[4];               /* country calling code digits, "49" */
	char national_prefix[8];  /* "0"; "" none */
	char intl_prefix[128];    /* "00", or libphonenumber's pattern
							   * ("0(?:0|1[0-9])", '~' = second tone) */
} af_dialing_t;

typedef struct af_numplan af_numplan_t;

/*
 * Loads plan_path and the overlay files (any may be NULL/0) into arena a.
 * Rows are validated: prefix 1-15 digits, country two capital letters,
 * zone one of the codes above, class a known name other than "short",
 * risk 0..3, a prefix once per file. Returns the plan, or NULL with
 * "file:line: what is wrong" in err.
 */
af_numplan_t *af_numplan_load(af_arena_t *a, const char *plan_path,
		const char *const *overlays, int n_overlays, char *err,
		size_t errlen);

/*
 * Longest prefix of the E.164 digits d[0..len) (no '+'): fills out and
 * returns 1, or returns 0 when no row matches (out zeroed).
 */
int af_numplan_lookup(const af_numplan_t *np, const char *d, size_t len,
		af_numinfo_t *out);

/* dialing data of region ("DE"), NULL when the plan has none */
const af_dialing_t *af_numplan_dialing(const af_numplan_t *np,
		const char *region);

/* rows loaded (plan + overlays), for logs and RPC */
uint32_t af_numplan_rows(const af_numplan_t *np);

/*
 * How callers of one profile dial (built once per profile at load).
 * Literal prefixes are tried longest first; when intl_re is set (the
 * plan's pattern for the region and no literal list given) it is matched
 * anchored at the start instead.
 */
typedef struct af_dialplan {
	char cc[4];                  /* the callers' country code, "49" */
	char region[3];              /* "DE" */
	const char **national;       /* trunk prefixes, "0" */
	uint32_t n_national;
	const char **intl;           /* international prefixes, "00" */
	uint32_t n_intl;
	void *intl_re;               /* pcre2_code_8 in the arena, or NULL */
	const char **strip;          /* technical prefixes removed first */
	uint32_t n_strip;
	uint32_t short_max;          /* digits up to which a number without
								  * any prefix is a short code */
} af_dialplan_t;

/*
 * Builds the dialplan of region from the plan's dialing data, with the
 * profile's overrides (NULL/0: take the plan's; an override list may be
 * empty: n 0 with a non-NULL pointer means "none"). Returns 0, or -1 with
 * a message (no "file:line:", the caller adds it) in err.
 */
int af_dialplan_build(af_arena_t *a, const af_numplan_t *np,
		const char *region, const char *const *national, int n_national,
		const char *const *intl, int n_intl, const char *const *strip,
		int n_strip, uint32_t short_max, af_dialplan_t *out, char *err,
		size_t errlen);

typedef enum af_numkind {
	AF_NUM_INVALID = 0, /* not a number: why says what is wrong */
	AF_NUM_E164,        /* dialed as +CC..., or with an international prefix */
	AF_NUM_NATIONAL,    /* dialed nationally, made E.164 with the cc */
	AF_NUM_SHORT        /* a short code: digits kept as dialed */
} af_numkind_t;

typedef struct af_number {
	af_numkind_t kind;
	char digits[AF_E164_MAX + 1]; /* E.164 without '+' (or the short
								   * code), NUL-terminated */
	uint8_t len;
	const char *why;              /* AF_NUM_INVALID: a static text */
} af_number_t;

/*
 * Normalizes what was dialed (an R-URI user part: user parameters after
 * ';' ignored; RFC 3966 visual separators - . ( ) and spaces dropped;
 * %23 and %2A read as '#' and '*', any other %-escape is invalid) into
 * out. Strip prefixes first, then '+', international prefix,
 * short code (digits up to short_max, before the national prefix so that
 * AU 000 or a NANP 112 is not read as trunk prefix + digits), national
 * prefix, else a national number without trunk prefix. An E.164 result
 * has 4..15 digits and does not start with 0.
 * Returns out->kind. Allocates nothing, except that the first match of
 * an international prefix pattern (intl_re) in a process (or thread)
 * creates PCRE2 match data (malloc) that it keeps for its lifetime; safe
 * in any process.
 */
af_numkind_t af_normalize(const af_dialplan_t *dp, const char *s, size_t len,
		af_number_t *out);

#endif
