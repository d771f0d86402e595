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
	AF_R_BANNED = 0,        /* source is in the ban table */
	AF_R_UNKNOWN_DOMAIN,    /* R-URI host is not ours */
	AF_R_UNKNOWN_USER,      /* R-URI/To user does not exist */
	AF_R_IP_DENY,           /* source in a deny list */
	AF_R_GEO_COUNTRY,       /* source country denied / not allowed */
	AF_R_GEO_CONTINENT,     /* source continent denied / not allowed */
	AF_R_GEO_ASN,           /* source ASN denied */
	AF_R_GEO_UNKNOWN,       /* source not in the GeoIP db, policy says so */
	AF_R_SDP_IP_DENY,       /* an SDP address is in a deny list */
	AF_R_SDP_GEO,           /* an SDP address fails the GeoIP policy */
	AF_R_COUNTRY_HOP,       /* caller changed country too fast */
	AF_R_CONTINENT_HOP,     /* caller changed continent too fast */
	AF_R_SCANNER,           /* this request crossed the scanner threshold */
	AF_R_SIGNATURE,         /* an attack tool's signature matched */
	/* af_check_dest */
	AF_R_DEST_INVALID,      /* what was dialed is not a number */
	AF_R_DEST_INTL,         /* international, not allowed to this caller */
	AF_R_DEST_PREMIUM,      /* premium rate, not allowed to this caller */
	AF_R_DEST_CLASS,        /* a number class the profile refuses */
	AF_R_DEST_COUNTRY,      /* destination country/zone not allowed */
	AF_R_DEST_RANGE,        /* a refused number range (deny_prefixes) */
	AF_R_DEST_RISK,         /* the number's risk tier is above max_risk */
	AF_R_CALLER_BLOCKED,    /* the caller may not call at all */
	AF_R_SCHEDULE,          /* outside business hours / on a holiday */
	AF_R_RATE_CALLER,       /* calls per second/minute of the caller */
	AF_R_RATE_COUNTRY,      /* calls per minute to the destination country */
	AF_R_REPEAT_NUMBER,     /* the caller called this number too often */
	AF_R_REPEAT_SIMILAR,    /* the caller called too many similar numbers */
	AF_R_REPEAT_CALLERS,    /* too many callers called this number */
	AF_R_CONC_CALLER,       /* concurrent international calls of the caller */
	AF_R_CONC_TOTAL,        /* concurrent international calls of everyone */
	/* account protection (learned authentication results) */
	AF_R_AUTH_FAILURES,     /* the source failed authentication too often */
	AF_R_ACCOUNT_ATTACK,    /* account under attack, source not known good */
	AF_R_NEW_COUNTRY_LOGIN, /* first success from a new country after
							 * failures: a likely stolen password */
	/* analytics: how calls end (af_outcome.h) */
	AF_R_ASR_LOW,           /* answer-seizure ratio below the rule */
	AF_R_ACD_HIGH,          /* average call duration above the rule */
	AF_R_SHORT_CALLS,       /* share of short answered calls above */
	AF_R_MINUTES,           /* minutes in the window above the rule */
	AF_R_PDD,               /* average post-dial delay above the rule */
	AF_R_DURATION,          /* a call up past its duration limit */
	AF_R_SIGNAL_MIX,        /* the mix of requests and answers diverges
							 * from the baseline of the time slot */
	AF_R__COUNT
} af_reason_t;

typedef uint64_t af_reasons_t;

#define AF_REASON_BIT(r) ((af_reasons_t)1 << (r))

const char *af_reason_name(af_reason_t r);

/* reason by name; -1 when unknown */
int af_reason_parse(const char *s, size_t len);

/* writes "a,b,c" for the reasons set in mask into buf; returns length */
size_t af_reasons_format(af_reasons_t mask, char *buf, size_t size);

/* "off" / "monitor" / "enforce"; -1 when the name is not a mode */
int af_mode_parse(const char *s);
const char *af_mode_name(af_mode_t m);

#endif
