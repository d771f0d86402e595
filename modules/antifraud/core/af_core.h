/*
 * antifraud - the core: rule snapshots, GeoIP handle, state store,
 * statistics, and the checks. This is what a server's glue calls.
 *
 * Lifecycle (Kamailio names in brackets):
 *   af_core_init()        once, in the main process before workers fork
 *                         [mod_init]
 *   af_check_source() ... any process, any time after
 *   af_core_reload()      any process [RPC]; workers pick the new
 *                         snapshot up on their next check
 *   af_core_timer()       periodically from one process [timer]
 *   af_core_destroy()     once at shutdown [destroy]
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_CORE_H
#define AF_CORE_H

#include <stddef.h>
#include <stdint.h>
#include "af_common.h"
#include "af_geo.h"
#include "af_request.h"
#include "af_rules.h"
#include "af_store.h"

struct af_redis_cfg; /* af_store_redis.h */

#define AF_DETAIL_MAX 256

typedef struct af_core_cfg {
	const char *rules_path;   /* the rule file */
	uint32_t shm_entries;     /* store capacity (entries) */
	uint32_t shm_stripes;     /* store lock stripes */
	uint32_t reload_min_s;    /* reloads closer than this are refused */
	/* cluster mode: NULL for the embedded shm mode */
	const struct af_redis_cfg *redis;
	int redis_fallback;       /* af_fallback_t (af_store_cluster.h): when
							   * Redis cannot answer */
	uint32_t redis_retry_ms;      /* breaker probe interval */
	uint32_t redis_release_queue; /* releases kept for Redis while it
								   * cannot answer (af_store_cluster.h) */
	/* alert suppression (af_alert.h) */
	uint32_t alert_repeat_s;
	uint32_t alert_rate;
	uint32_t alert_burst;
	/* live list files (af_feed.h): seconds between looks at them, 0 never */
	uint32_t feed_interval_s;
} af_core_cfg_t;

#define AF_CALLID_MAX 255

/*
 * What af_check_dest admitted into the concurrency sets: the glue keeps a
 * copy with the call (Kamailio: a dialog callback) and hands it back to
 * af_dest_release() when the call ends, however it ends.
 */
typedef struct af_dest_ticket {
	uint8_t total;   /* in the set of all callers' calls */
	uint8_t caller;  /* in the caller's set (key) */
	uint16_t callid_len;
	uint16_t key_len;
	char callid[AF_CALLID_MAX + 1];
	char key[AF_KEY_MAX + 1];
} af_dest_ticket_t;

/* what af_check_dest found out about the call */
typedef struct af_dest_info {
	char profile[65];      /* the profile that applied */
	char number[AF_E164_MAX + 2]; /* "+E.164", or the short code */
	int kind;              /* af_numkind_t */
	char country[3];       /* of the number ("" unknown) */
	char zone[3];
	int cls;               /* af_numclass_t */
	int risk;
	int international;
	int holiday;           /* the day type used for the limits */
	int in_hours;          /* inside business hours (1 when no calendar) */
	uint32_t conc_total;   /* concurrent international calls, this one
							* included when admitted */
	uint32_t conc_caller;
	af_dest_ticket_t ticket; /* ticket.total/caller: something to release */
} af_dest_info_t;

/* what a check decided, with every reason that matched */
typedef struct af_verdict {
	int rc;                 /* AF_RC_* */
	const char *check;      /* "source", ... */
	af_reasons_t reasons;   /* all that matched, any mode */
	af_reasons_t blocking;  /* the subset from checks in enforce mode */
	af_geo_info_t geo;      /* the source's GeoIP data, when known */
	uint32_t score;         /* scanner score of the source in its window */
	int banned;             /* the source is (now) banned */
	af_ban_t ban;           /* the ban, when banned */
	char detail[AF_DETAIL_MAX]; /* first matches in words, for logs */
	uint32_t suppressed;    /* repeats of this alert suppressed before it
							 * (af_alert_admit) */
	int store_failed;       /* the store refused to answer (fallback
							 * "closed"): the verdict is AF_RC_ERROR */
	/* af_check_fingerprint only */
	char fp_id[21];             /* "af1-" + 16 hex digits */
	char signatures[128];       /* names of the matched signatures */
	char shape[256];            /* structural fingerprint text */
	/* af_check_dest only */
	af_dest_info_t dest;
} af_verdict_t;

/* statistics, kept in shared memory, updated atomically */
typedef enum af_stat {
#define AF_STAT(id, name) AF_ST_##id,
#include "af_table.def"
#undef AF_STAT
	AF_ST__COUNT
} af_stat_t;

const char *af_stat_name(af_stat_t s);

/* starts the core with cfg; the strings cfg points to (rules_path, the
 * Redis settings) are kept, not copied: they must outlive the core */
int af_core_init(const af_core_cfg_t *cfg, char *err, size_t errlen);
void af_core_destroy(void);

/*
 * Validates and loads the rule file again (and reopens GeoIP). On error
 * the current rules stay and err says "file:line: what is wrong".
 */
int af_core_reload(char *err, size_t errlen);

/* the current snapshot, referenced; give it back with af_core_release */
af_rules_t *af_core_acquire(void);
void af_core_release(af_rules_t *r);

/* the process's GeoIP handle for snapshot r (reopened after a reload);
 * NULL when the rules use no GeoIP */
af_geo_t *af_core_geo(const af_rules_t *r);

af_store_t *af_core_store(void);

/* this node's shm store (the store itself in shm mode, the fallback in
 * cluster mode) */
af_store_t *af_core_local_store(void);

/* 1 in cluster mode */
int af_core_clustered(void);

/*
 * Cluster events (pub/sub): af_core_publish() sends "ban <ip> <s>
 * <reason>", "unban <ip>" or "reload" to every node (no-op in shm mode);
 * each node's subscriber hands what it receives to af_core_apply_event(),
 * which bans/unbans in the node's local store (so that its fallback has
 * the cluster's bans) or reloads the rules. af_core_sync_bans() copies the
 * bans kept in Redis into the local store (a node that starts or
 * reconnects). Return 0 or -1.
 */
int af_core_publish(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Cluster mode: the node's memory of sources found not banned (the
 * lookups a request needs no more). af_core_clear_token() before the
 * lookup, af_core_clear_set() with its answer and that token (clear 1:
 * not banned; 0: forget it), af_core_clear_cached(): may ipkey skip its
 * lookup now? An answer holds a second, or a minute while this node's
 * subscriber to the cluster's events is live and no ban was heard since
 * its lookup that may concern it. af_core_ban_heard(): a ban of key was
 * made here or heard of (NULL: anything may have been missed);
 * af_core_events_alive(): the subscriber heard from Redis, live until
 * until_ms (first: its subscription is new).
 */
uint64_t af_core_clear_token(const char *ipkey, size_t len);
int af_core_clear_cached(const char *ipkey, size_t len, uint64_t now);
void af_core_clear_set(const char *ipkey, size_t len, uint64_t now,
		uint64_t token, int clear);
void af_core_ban_heard(const char *key, size_t len);
void af_core_events_alive(uint64_t until_ms, int first);
int af_core_apply_event(const char *msg, size_t len);
int af_core_sync_bans(void);

/*
 * Dry runs (antifraud.check): while set in the calling thread, the checks
 * read the store without writing it (af_store_exec_dry), count no
 * statistic and publish nothing to the cluster.
 */
void af_core_set_dry(int on);
int af_core_dry(void);

/*
 * Alerts and blocks per check ("source", "fingerprint", "dest", "auth":
 * AF_VK_*), action (0 alert, 1 block) and reason, for labelled metrics.
 */
enum { AF_VK_SOURCE = 0, AF_VK_FINGERPRINT, AF_VK_DEST, AF_VK_AUTH,
	AF_VK__COUNT };
const char *af_verdict_kind_name(int k);
void af_core_count_verdict(const af_verdict_t *v);
uint64_t af_core_verdict_count(int kind, int block, af_reason_t r);

uint64_t af_core_stat(af_stat_t s);
uint64_t af_core_reason_count(af_reason_t r);
void af_core_count(af_stat_t s);
void af_core_count_reasons(af_reasons_t mask);

/*
 * Prepares the calling process for checks: opens its GeoIP handle and
 * JIT-compiles the signature patterns, so that the first requests do not
 * pay for it. Call once in each worker after the fork (a reload is paid
 * by the first check after it).
 */
void af_core_warmup(void);

/* housekeeping (store expiry, list files every feed_interval_s); call
 * about once a second */
void af_core_timer(void);

/*
 * Looks at the file of every list of the current rules now and swaps in
 * those that changed (af_feed.h); a refused version is logged and
 * counted. Returns the number swapped in, -1 when one was refused.
 */
int af_core_feeds_check(void);

/*
 * af_check_source: are the source and addressing of req acceptable?
 * profile (may be NULL/0) picks the rules profile. Fills v and returns
 * v->rc.
 */
int af_check_source(const af_request_t *req, const char *profile,
		size_t profile_len, af_verdict_t *v);

/*
 * af_check_fingerprint: does req look like a known attack tool (its
 * signatures), whatever its User-Agent says? Needs req->raw. Requests
 * inside a dialog (req->initial 0) are not checked (AF_RC_NORULE). Fills
 * v (fp_id, shape, signatures) and returns v->rc.
 */
int af_check_fingerprint(const af_request_t *req, const char *profile,
		size_t profile_len, af_verdict_t *v);

/*
 * af_check_dest: may this caller call this number now? For initial
 * INVITEs (anything else: AF_RC_NORULE). profile (may be NULL/0) names
 * the class of service; without one the caller table of the rules picks
 * it, else 'default'. A profile without 'dest' rules: AF_RC_NORULE.
 * Counts the call (rates, repetition, concurrency) unless it is refused
 * before that by the plan or the schedule. When v->dest.ticket has a set,
 * the call holds a concurrency slot until af_dest_release(ticket).
 */
int af_check_dest(const af_request_t *req, const char *profile,
		size_t profile_len, af_verdict_t *v);

/*
 * What af_check_dest would decide for caller (a user or number, may be
 * NULL) calling number with profile (NULL/0: the caller table, else
 * 'default'), from the local decisions only: profile, normalization, the
 * number plan, permissions and the schedule now. Rates, repetition and
 * concurrency are not evaluated; nothing is counted. Fills v, returns
 * v->rc.
 */
int af_dest_explain(const char *profile, size_t profile_len,
		const char *caller, const char *number, af_verdict_t *v);

/* the call of ticket t ended: frees its concurrency slots (any process,
 * any number of times: the store ignores members that are gone) */
void af_dest_release(const af_dest_ticket_t *t);

/*
 * Statistics of af_check_dest (this node): concurrent international
 * calls sampled once a second per day type and hour of the system
 * calendar, and attempts per destination country and reason.
 */
typedef struct af_dest_slot_stat {
	uint64_t samples;
	double mean;
	double stddev;
	uint32_t max;
} af_dest_slot_stat_t;

void af_dest_slot_stat(int holiday, int hour, af_dest_slot_stat_t *out);

/* per destination country: called for each with attempts; non-zero stops */
typedef int (*af_dest_country_cb)(const char *cc, uint64_t attempts,
		uint64_t allowed, uint64_t alerts, uint64_t blocked,
		const uint64_t *by_reason /* [AF_R__COUNT] */, void *arg);
void af_dest_country_stats(af_dest_country_cb cb, void *arg);

/* forgets the statistics */
void af_dest_stats_reset(void);

/*
 * Concurrency now: total international calls, and the limits in force
 * for the total (AF_NO_LIMIT: none) with the day type and hour used.
 * Returns 0, -1 when the store could not answer.
 */
int af_dest_concurrency(uint32_t *total, uint32_t *limit, int *holiday,
		int *hour);

/* callers with live international calls: cb(caller, count, arg) */
int af_dest_concurrency_list(af_conc_cb cb, void *arg);

/*
 * Account protection (af_account.c). af_auth_result: req, a request that
 * carried credentials (or one the script vouches for), failed (ok 0) or
 * passed (ok 1) authentication. A failure counts against its source (a
 * ban past accounts.source_failures) and its account (under attack past
 * accounts.account_sources distinct failing sources); a success records
 * the source as a known good source of the account. profile (NULL/0:
 * default) gives the mode. Fills v (check "auth") with what the event
 * raised: AF_R_AUTH_FAILURES (the source was banned now), AF_R_ACCOUNT_
 * ATTACK (the account went under attack now), AF_R_NEW_COUNTRY_LOGIN.
 * Returns v->rc: AF_RC_ALERT when it raised something, AF_RC_ALLOW when
 * counted quietly, AF_RC_NORULE when not counted (mode off, exempt, no
 * identity; a UDP retransmission of a failure already counted: same
 * Call-ID, CSeq and digest response within 32 s), AF_RC_ERROR.
 */
int af_auth_result(const af_request_t *req, int ok, const char *profile,
		size_t profile_len, af_verdict_t *v);

/* 1 when a ban-table key is an account's attack mark, not an address */
int af_account_key(const char *key, size_t len);

/* accounts under attack: cb(account, len, mark, arg) */
int af_account_list(af_ban_cb cb, void *arg);

/* longest account id, bytes (as the checks build them: user@domain) */
#define AF_ACCOUNT_MAX 255

/*
 * Checks the syntax of an account id acct[0..len) named by an operator:
 * 1..AF_ACCOUNT_MAX bytes without a control character, neither starting
 * nor ending with '@', and with an '@' unless user_only (the rule file's
 * accounts.identity: user). A digest user name may carry its own '@'
 * ("alice@example.com@example.com"): the last one splits. Returns 0, or
 * -1 with *why set to a static message.
 */
int af_account_name_check(
		const char *acct, size_t len, int user_only, const char **why);

/* lifts the attack mark of account: 1 lifted, 0 none, -1 error (a bad
 * account id, see af_account_name_check, or the store) */
int af_account_release(const char *acct, size_t len, char *err,
		size_t errlen);

typedef struct af_account_info {
	char account[256];
	int under_attack;
	af_ban_t mark;             /* when under attack */
	uint32_t failures;         /* in accounts.account_window */
	uint32_t failing_sources;  /* distinct, in the same window */
	af_hist_entry_t known[AF_HIST_MAX]; /* recent known good sources */
	int n_known;
} af_account_info_t;

/* what the store holds about account; 0, -1 (err says why: a bad account
 * id, see af_account_name_check, or the store) */
int af_account_info(const char *acct, size_t len, af_account_info_t *out,
		char *err, size_t errlen);

/* longest manual ban, seconds: a year, as the rule file's ban_time */
#define AF_BAN_MAX_S (365u * 86400u)

/*
 * operator actions (RPC); ip is text. af_core_ban refuses an address that
 * is never a source (0.0.0.0/8, ::, 255.255.255.255, multicast), seconds
 * outside 1..AF_BAN_MAX_S and a reason that is longer than
 * AF_BAN_REASON - 1 bytes or not plain text (af_text_plain); NULL or ""
 * is "manual". Return 0, -1 on a bad argument or store failure (err says
 * which, quoting at most a short escaped excerpt of the input)
 */
int af_core_ban(const char *ip, size_t ip_len, uint32_t seconds,
		const char *reason, char *err, size_t errlen);
/* returns 1 lifted, 0 there was none, -1 error */
int af_core_unban(const char *ip, size_t ip_len, char *err, size_t errlen);
int af_core_ban_list(af_ban_cb cb, void *arg);

#endif
