/*
 * antifraud - the rule snapshot: everything loaded from the rule file and
 * the list files it names, validated as a whole and built into one arena.
 *
 * A snapshot is immutable once published. Readers hold a reference
 * (af_core.h); the last release frees the arena.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_RULES_H
#define AF_RULES_H

#include <stddef.h>
#include <stdint.h>
#include "af_common.h"
#include "af_ip.h"
#include "af_regex.h"
#include "af_strset.h"
#include "af_arena.h"
#include "af_numplan.h"
#include "af_sched.h"

/* the sub-checks of af_check_source, each with its own mode */
typedef enum af_check {
#define AF_CHECK(id, name, mode) AF_C_##id,
#include "af_table.def"
#undef AF_CHECK
	AF_C__COUNT
} af_check_t;

const char *af_check_name(af_check_t c);

/* an inline entry of a list: address or network and prefix length */
typedef struct af_list_entry {
	af_ip_t net;
	int plen;
} af_list_entry_t;

/* a named IP list (inline entries plus an optional file) */
typedef struct af_iplist {
	const char *name;
	const char *file; /* NULL when inline only */
	af_trie_t *trie;  /* as loaded; look up with af_iplist_lookup() */
	int broad;        /* may hold prefixes shorter than the minimum and
					   * still be trusted, allowed or exempt */
	const af_list_entry_t *entries; /* the inline entries (a feed's new
									 * version is built with them) */
	uint32_t n_entries;
	struct af_feed *feed; /* the file's live versions (af_feed.h); NULL
						   * when inline only */
} af_iplist_t;

typedef struct af_geo_policy {
	uint16_t *allow_cc; /* packed country codes, sorted; empty: any */
	uint32_t n_allow_cc;
	uint16_t *deny_cc;
	uint32_t n_deny_cc;
	uint16_t *allow_cont; /* packed continent codes */
	uint32_t n_allow_cont;
	uint16_t *deny_cont;
	uint32_t n_deny_cont;
	uint32_t *deny_asn; /* sorted */
	uint32_t n_deny_asn;
	int unknown_is_bad; /* an address not in the database fails */
} af_geo_policy_t;

/* a threshold pair: a count above warn alerts, above block blocks;
 * 0: none */
typedef struct af_limit {
	uint32_t warn;
	uint32_t block;
} af_limit_t;

#define AF_DEST_WINDOWS 4 /* windows per repetition counter */

/* a repetition counter: thresholds over up to AF_DEST_WINDOWS windows */
typedef struct af_repeat {
	uint32_t n;
	uint32_t window_s[AF_DEST_WINDOWS];
	af_limit_t lim[AF_DEST_WINDOWS];
} af_repeat_t;

/* day types of calendars and time-slot limits */
enum { AF_DAY_WORK = 0, AF_DAY_HOLIDAY = 1 };

/* what af_check_dest needs of a profile (its 'dest' section) */
typedef struct af_dest_profile {
	af_dialplan_t dial;          /* how its callers dial */
	char country[3];             /* the callers' country: others are
								  * international */
	int international;           /* may call other countries */
	int premium;                 /* may call premium-rate numbers */
	uint32_t deny_classes;       /* bit (1 << af_numclass_t) */
	uint32_t max_risk;           /* 0..3 */
	uint16_t *allow_cc;          /* sorted packed codes; empty: any */
	uint32_t n_allow_cc;
	uint16_t *deny_cc;
	uint32_t n_deny_cc;
	uint16_t *allow_zone;
	uint32_t n_allow_zone;
	uint16_t *deny_zone;
	uint32_t n_deny_zone;
	af_strset_t *allow_prefixes; /* E.164 digits: exceptions */
	af_strset_t *deny_prefixes;  /* E.164 digits: refused ranges */
	uint32_t prefix_max;         /* longest prefix in either set */
	af_strset_t *blocked_callers;
	af_strset_t *exempt_callers;
	af_strset_t *exempt_numbers; /* as dialed, or '+' E.164 */
	const af_calendar_t *calendar; /* NULL: the system calendar */
	uint32_t outside_classes;    /* refused outside hours: class bits */
	int outside_international;   /* ... and international numbers */
	af_limit_t rate_cps;         /* calls per second of a caller */
	af_limit_t rate_cpm;         /* calls per minute of a caller */
	af_limit_t rate_country_cpm; /* calls per minute to one country */
	int repeat_intl_only;        /* repetition counts international only */
	af_repeat_t same;            /* caller to the same number */
	af_repeat_t similar;         /* caller to numbers sharing a prefix */
	uint32_t similar_digits;     /* digits dropped to make that prefix */
	af_repeat_t callers;         /* distinct callers to one number */
	/* made at load: the union of the repetition windows (same's, then
	 * similar's and callers' not seen before), and per counter (same,
	 * similar, callers) and window of the union the index of its limit
	 * in lim[], -1 when it has none there */
	uint32_t rep_win[3 * AF_DEST_WINDOWS];
	int8_t rep_lim[3][3 * AF_DEST_WINDOWS];
	int n_rep_win;
	af_slots_t conc_caller[2];   /* per caller, by day type */
	int has_conc_caller;
} af_dest_profile_t;

/* the figure rules of analytics (af_outcome.h), in the order of
 * af_an_rule_t's in af_an_profile_t */
enum {
	AF_AN_ASR = 0, /* asr: answered / attempts below */
	AF_AN_ACD,     /* acd: seconds / answered above */
	AF_AN_SHORT,   /* short_calls: short / answered above */
	AF_AN_MINUTES, /* minutes: seconds / 60 above */
	AF_AN_PDD,     /* pdd: post-dial delay / rung above */
	AF_AN__COUNT
};

#define AF_AN_WINDOWS 3 /* figure windows (AF_OUTCOME_WINDOWS) */

/* one figure rule; limit 0: off */
typedef struct af_an_rule {
	double limit;      /* asr, short_calls: share 0..1; acd, pdd: s;
						* minutes: minutes */
	uint32_t min;      /* smallest sample judged (its denominator:
						* attempts, answered or rung) */
	uint32_t window_s; /* one of the analytics windows */
	uint32_t subjects; /* judged subjects: bits 1 << af_outcome_subject_t */
	int intl_only;     /* minutes: international calls only */
	uint32_t classes;  /* minutes: calls of these number classes only
						* (bits 1 << af_numclass_t; 0: any) */
} af_an_rule_t;

/* what analytics needs of a profile (section defaults, or the
 * profile's own 'analytics' over them) */
typedef struct af_an_profile {
	af_an_rule_t rule[AF_AN__COUNT];
	uint32_t dur_national;       /* duration limits (s), 0: none */
	uint32_t dur_international;
	uint32_t dur_class[AF_NC__COUNT]; /* per af_numclass_t */
	uint32_t dur_risk[4];        /* per risk tier */
	int follow_all;              /* every INVITE, not only the calls
								  * af_check_dest saw */
} af_an_profile_t;

/* the rule file's 'analytics' section */
typedef struct af_analytics_cfg {
	int enabled;                 /* the section is there */
	uint32_t windows[AF_AN_WINDOWS]; /* s, ascending */
	uint32_t n_windows;
	uint32_t subjects;           /* counted subjects (bits) */
	uint32_t prefix_digits;      /* of the destination range */
	uint32_t short_s;            /* answered calls shorter: short */
	uint32_t long_s;             /* answered calls longer: long */
	uint32_t cooling_s;          /* enforce: refused this long */
	af_an_profile_t defaults;
	/* signal mix; window 0: off */
	uint32_t mix_window_s;
	uint32_t mix_min_signals;    /* a window with fewer is not judged */
	uint32_t mix_learn;          /* windows a slot learns before judging */
	uint32_t mix_subjects;       /* source and/or caller (bits) */
	double mix_threshold;        /* relative entropy, bits */
	double mix_smoothing;        /* pseudo-count added to every signal */
} af_analytics_cfg_t;

typedef struct af_profile {
	const char *name;
	af_mode_t mode[AF_C__COUNT];
	af_strset_t *domains; /* lower case; IP literals in their text form */
	af_strset_t *users;
	af_regex_t *user_re;
	uint32_t n_user_re;
	af_regex_t *routable; /* NULL: none */
	const af_iplist_t **trusted;
	uint32_t n_trusted;
	const af_iplist_t **allow;
	uint32_t n_allow;
	const af_iplist_t **deny;
	uint32_t n_deny;
	af_geo_policy_t geo;
	uint32_t country_hop_s;   /* 0: not checked */
	uint32_t continent_hop_s; /* 0: not checked */
	int hop_identity_from;    /* 0: only requests with digest credentials
							   * count (their user); 1: else the From user */
	af_strset_t *exempt_callers; /* caller identities exempt from checks */
	const af_iplist_t **exempt_sources;
	uint32_t n_exempt_sources;
	af_dest_profile_t *dest; /* NULL: af_check_dest has no rules here */
	const af_an_profile_t *an; /* analytics rules (never NULL once loaded) */
} af_profile_t;

/* caller -> profile for af_check_dest (dest.callers) */
typedef struct af_caller_map {
	const char *key;        /* user, or number prefix (digits) */
	uint32_t len;
	const char *profile_name;
	const af_profile_t *profile;
} af_caller_map_t;

/* the rule file's 'dest' section */
typedef struct af_dest_cfg {
	const char *numplan_path;
	const char **overlay_paths;
	uint32_t n_overlays;
	af_numplan_t *plan;          /* NULL: no af_check_dest rules */
	af_calendar_t *calendars;
	uint32_t n_calendars;
	const af_calendar_t *calendar; /* the system calendar (NULL: UTC,
									* every day a workday, no hours) */
	uint32_t max_duration_s;     /* a call leaves the counts after this */
	af_slots_t conc_total[2];    /* all callers, by day type */
	int has_conc_total;
	af_caller_map_t *by_user;    /* sorted by key */
	uint32_t n_by_user;
	af_caller_map_t *by_prefix;  /* sorted by key */
	uint32_t n_by_prefix;
	uint32_t by_prefix_max;
} af_dest_cfg_t;

typedef struct af_scanner_cfg {
	uint32_t window_s;  /* sliding window of scores */
	uint32_t threshold; /* score that bans; 0: never */
	uint32_t ban_s;     /* ban duration */
	uint32_t weight[AF_R__COUNT]; /* score per reason */
} af_scanner_cfg_t;

/* the rule file's 'accounts' section: account protection */
typedef struct af_accounts_cfg {
	uint32_t source_failures; /* failures from one address that ban it
							   * (0: never) */
	uint32_t source_window_s;
	uint32_t ban_s;
	uint32_t account_sources; /* distinct failing addresses that put an
							   * account under attack (0: never) */
	uint32_t account_window_s;
	uint32_t cooling_s;       /* how long an account stays under attack */
	uint32_t known_ttl_s;     /* a known good source is kept this long
							   * after its last success */
	uint32_t alert_failures;  /* failures before a success from a new
							   * country that alert (0: never) */
	int user_only;            /* an account is its user name alone, not
							   * user@domain (identity: user) */
} af_accounts_cfg_t;

typedef struct af_rules {
	af_arena_t *arena;
	const char *path;
	uint64_t loaded_ms;
	af_iplist_t *lists;
	uint32_t n_lists;
	af_profile_t *profiles;
	uint32_t n_profiles;
	const af_profile_t *default_profile;
	const char *geo_country_db; /* NULL: no GeoIP */
	const char *geo_asn_db;
	int geo_required; /* missing database is a load error */
	const char *signatures_path; /* NULL: no signature file */
	struct af_sigset *signatures;
	af_scanner_cfg_t scanner;
	uint32_t history_ttl_s;
	af_dest_cfg_t dest;
	af_accounts_cfg_t accounts;
	af_analytics_cfg_t analytics;
	/* reference count and generation: managed by af_core */
	int refs;
	uint32_t generation;
} af_rules_t;

/*
 * Reads, validates and builds the rule file at path and every list file
 * it names (relative paths are relative to the rule file's folder).
 * Returns the snapshot, or NULL with "file:line: what is wrong" in err.
 */
af_rules_t *af_rules_load(const char *path, char *err, size_t errlen);

/*
 * Writes a one-line summary of snapshot r into out (outlen bytes): its
 * lists and prefixes, profiles, signatures, number plan and GeoIP
 * databases. Returns out.
 */
char *af_rules_summary(const af_rules_t *r, char *out, size_t outlen);

/* frees a snapshot (its arena); r may be NULL */
void af_rules_free(af_rules_t *r);

/* profile by name; NULL name (or len 0) gives the default profile;
 * NULL when there is no such profile */
const af_profile_t *af_rules_profile(const af_rules_t *r, const char *name,
		size_t len);

#endif
