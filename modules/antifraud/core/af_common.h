/*
 * antifraud - return codes, reasons and the verdict every check returns.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_COMMON_H
#define AF_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* script return codes: never 0 (0 would end the Kamailio route) */
#define AF_RC_ALLOW 1   /* checked, acceptable */
#define AF_RC_NORULE 2  /* nothing applied to this request */
#define AF_RC_ALERT -1  /* something matched in monitor mode only */
#define AF_RC_BLOCK -2  /* something matched in enforce mode */
#define AF_RC_ERROR -3  /* internal error (no verdict) */

/* check modes, per sub-check */
typedef enum af_mode {
	AF_MODE_OFF = 0,     /* not evaluated */
	AF_MODE_MONITOR = 1, /* evaluated, alert only */
	AF_MODE_ENFORCE = 2  /* evaluated, blocks */
} af_mode_t;

/*
 * Reasons: one bit each, so a verdict carries all that matched.
 * af_reason_name() gives the stable machine-readable name.
 */
typedef enum af_reason {
#define AF_REASON(id, name, check) AF_R_##id,
#include "af_table.def"
#undef AF_REASON
	AF_R__COUNT
} af_reason_t;

typedef uint64_t af_reasons_t;

#define AF_REASON_BIT(r) ((af_reasons_t)1 << (r))

/* the lowest reason set in *m, cleared from it; -1 when none is left
 * (walks only the bits that are set: most verdicts have none or one) */
static inline int af_reasons_next(af_reasons_t *m)
{
	int i;

	if(!*m)
		return -1;
	i = __builtin_ctzll(*m);
	*m &= *m - 1;
	return i;
}

const char *af_reason_name(af_reason_t r);

/* reason by name; -1 when unknown */
int af_reason_parse(const char *s, size_t len);

/* writes "a,b,c" for the reasons set in mask into buf; returns length */
size_t af_reasons_format(af_reasons_t mask, char *buf, size_t size);

/* "off" / "monitor" / "enforce"; -1 when the name is not a mode */
int af_mode_parse(const char *s);
const char *af_mode_name(af_mode_t m);

#endif
