/*
 * antifraud - how calls end: the public core API of call outcomes
 * (analytics). A host (the Kamailio glue from its tm/dialog callbacks,
 * af-cdr from CDR rows, the unit tests) reports what happens to each
 * call; the core owns the model: the figures per subject and window, the
 * rules of the 'analytics' section, the duration guard and the signal
 * mix. Every call takes the host's clock as now_ms, so a replay runs on
 * the record's clock.
 *
 * A call:
 *
 *   af_call_t c;                    plain data, no pointers: the host
 *                                   keeps it with the call (Kamailio: in
 *                                   shm with the dialog), copies it freely
 *   af_call_start(&c, req, dv, ...) the INVITE, after af_check_dest (dv:
 *                                   its verdict, or NULL); no store access
 *   af_call_ring(&c, code, now)     each provisional answer (the first
 *                                   18x sets the post-dial delay)
 *   af_call_answer(&c, now)         the 2xx
 *   af_call_guard(&c, now, &v)      any time while the call is up (a
 *                                   timer, at af_call_deadline()): alerts
 *                                   once when the call crosses its
 *                                   duration limit; AF_RC_BLOCK asks the
 *                                   host to end the call
 *   af_call_end(&c, code, now, &v)  the end, however it ended (final
 *                                   failure code, BYE, timeout): folds
 *                                   the call into the figures (one store
 *                                   batch: one Redis round trip) and
 *                                   judges them against the rules
 *
 * The request and final-answer signals of every transaction (not only
 * calls) feed the signal mix:
 *
 *   af_signal_count(req, code, now, &v)   code 0: the request itself;
 *                                   100..699: the final answer sent for
 *                                   it
 *   af_outcome_timer(now, cb, arg)  about once a second from one
 *                                   process: closes idle signal-mix
 *                                   windows, samples the baselines; cb
 *                                   gets the alerts raised there
 *
 * Verdicts have check "analytics" and reasons (af_common.h):
 *   asr_low      answered / attempts below analytics.asr.below
 *   acd_high     average answered duration above analytics.acd.above
 *   short_calls  share of answered calls shorter than short_s above
 *   minutes      minutes above analytics.minutes.above
 *   pdd          average post-dial delay above analytics.pdd.above
 *   duration     a call up past its duration limit (af_call_guard)
 *   signal_mix   the relative entropy of a subject's signal mix against
 *                the baseline above analytics.signal_mix.threshold
 *                (detection only: never blocks)
 * Every breach is listed in v->detail. In enforce mode a figure breach of
 * a caller refuses that caller's next calls in af_check_dest (reason as
 * the breach) for analytics.cooling seconds.
 *
 * Memory is bounded: the figures are store entries (AF_OP_FIG_MULTI: one
 * per subject, every window in it, expiring with its longest window), a
 * call's record is the host's and leaves the figures nothing until
 * af_call_end; a call whose end is never seen is never counted and its
 * record is the host's to drop (dest.max_duration). The signal mix, the top-N view and the
 * baselines are fixed tables in this node's shared memory.
 *
 * Costs: start, ring, answer and the guard touch no store (~0.1-0.4 us);
 * an end is one store batch (one Redis round trip, which can carry the
 * concurrency release: af_call_end_release), or a share of one when
 * several end together (af_calls_end); a signal ~0.5 us, no store.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_OUTCOME_H
#define AF_OUTCOME_H

#include <stddef.h>
#include <stdint.h>
#include "af_core.h"

/* what a call record follows (af_call_t.flags) */
#define AF_CALL_FOLLOWED 0x01 /* analytics mode is not off: figures count */
#define AF_CALL_RUNG 0x02     /* got a provisional 18x (ring_ms set) */
#define AF_CALL_ANSWERED 0x04 /* got a 2xx (answer_ms set) */
#define AF_CALL_ENDED 0x08    /* af_call_end ran: nothing counts again */
#define AF_CALL_GUARDED 0x10  /* the duration guard fired */

#define AF_CALL_SUBJECT_MAX 127 /* bytes of the caller identity kept */
#define AF_CALL_PREFIX_MAX 15   /* digits of the destination prefix */

/*
 * One call, as the host keeps it: fixed size, no pointers, so it can be
 * copied into shared memory and back. Filled by af_call_start; the host
 * reads it but changes it only through the functions below.
 */
typedef struct af_call {
	uint64_t start_ms;   /* the INVITE */
	uint64_t ring_ms;    /* the first 18x, 0 none */
	uint64_t answer_ms;  /* the 2xx, 0 none */
	uint64_t end_ms;     /* af_call_end, 0 not yet */
	uint32_t limit_s;    /* duration limit of the call (0: none) */
	uint32_t generation; /* rules the call started under */
	uint16_t final_code; /* the end's code (0 unknown) */
	uint8_t flags;       /* AF_CALL_* */
	uint8_t mode;        /* af_mode_t of analytics in its profile */
	uint8_t cls;         /* af_numclass_t of the number */
	uint8_t risk;        /* risk tier 0..3 of the number */
	uint8_t international; /* to another country than the profile's */
	uint8_t src_family;  /* 4 or 6 */
	uint8_t src_addr[16];
	char profile[65];    /* the profile ("" default) */
	char country[3];     /* destination country ("" unknown) */
	char prefix[AF_CALL_PREFIX_MAX + 1]; /* destination range: the first
										  * analytics.prefix_digits of
										  * the E.164 number */
	char number[AF_E164_MAX + 2];       /* "+E.164" or as dialed */
	char caller[AF_CALL_SUBJECT_MAX + 1]; /* user@host ("" unknown) */
} af_call_t;

/* subjects of the figures */
typedef enum af_outcome_subject {
	AF_OUT_CALLER = 0, /* caller identity user@host */
	AF_OUT_SOURCE,     /* source address (text) */
	AF_OUT_COUNTRY,    /* destination country (ISO alpha-2) */
	AF_OUT_PREFIX,     /* destination range (E.164 digits) */
	AF_OUT_PROFILE,    /* profile name */
	AF_OUT__COUNT
} af_outcome_subject_t;

/* "caller", "source", "country", "prefix", "profile"; parse: -1 unknown */
const char *af_outcome_subject_name(af_outcome_subject_t s);
int af_outcome_subject_parse(const char *s, size_t len);

/* counters of a figure (the first AF_FIG__COUNT of the store figure's
 * AF_FIG_N; the next holds the seconds of international calls) */
typedef enum af_fig_counter {
	AF_FIG_ATTEMPTS = 0, /* calls ended (any outcome) */
	AF_FIG_ANSWERED,     /* of which answered */
	AF_FIG_SHORT,        /* answered, shorter than analytics.short_s */
	AF_FIG_LONG,         /* answered, longer than analytics.long_s */
	AF_FIG_SECONDS,      /* answered seconds */
	AF_FIG_RUNG,         /* with a post-dial delay */
	AF_FIG_PDD_DS,       /* post-dial delays summed, in tenths of s */
	AF_FIG__COUNT
} af_fig_counter_t;

/* one subject's figure over one window, cluster-wide in cluster mode */
typedef struct af_figure {
	uint32_t window_s;
	uint32_t c[AF_FIG__COUNT];
	/* derived (0 when not defined) */
	double asr;       /* answered / attempts, 0..1 */
	double acd_s;     /* seconds / answered */
	double short_share; /* short / answered, 0..1 */
	double minutes;   /* seconds / 60 */
	double pdd_s;     /* pdd / rung */
} af_figure_t;

/*
 * A new call: fills c from req (an initial INVITE) and dv, the verdict
 * af_check_dest gave it (NULL when it did not see the call: the number
 * is then classified from the profile's rules and the number plan, as
 * af_dest_explain does). profile (NULL/0: dv's, else the default)
 * picks the analytics mode. No store access. Returns 1 when the call is
 * followed (analytics not off in its profile), 0 when not (the host may
 * drop c), -1 on bad arguments.
 */
int af_call_start(af_call_t *c, const af_request_t *req,
		const af_verdict_t *dv, const char *profile, size_t profile_len,
		uint64_t now_ms);

/*
 * af_call_start for an INVITE that af_check_dest does not check: the
 * call is followed only when its profile says 'follow: all' (else 0,
 * nothing to do). The number is classified as af_dest_explain does.
 */
int af_call_start_all(af_call_t *c, const af_request_t *req,
		const char *profile, size_t profile_len, uint64_t now_ms);

/*
 * A call followed from its dialog's creation ('follow: all', c from
 * af_call_start_all) that af_check_dest then checked (verdict dv): c
 * takes what the check found (the number's class, country, limit), its
 * start kept; not counted in calls_followed again. Nothing once it rang,
 * was answered or ended. Returns 1 when c changed, else 0.
 */
int af_call_refine(af_call_t *c, const af_request_t *req,
		const af_verdict_t *dv);

/* a provisional answer (code 100..199) at now_ms: the first 180..189
 * sets ring_ms. Nothing after the answer or the end changes c. */
void af_call_ring(af_call_t *c, int code, uint64_t now_ms);

/* the call was answered at now_ms (first 2xx; repeats are ignored) */
void af_call_answer(af_call_t *c, uint64_t now_ms);

/*
 * The call ended at now_ms. code: the final failure code (300..699) of
 * an unanswered call, 200 (or 0) for an answered one that hung up or
 * expired. Counts it into every figure of its subjects (one store batch)
 * and judges the figures against the rules of its profile; a breach in
 * enforce mode refuses the caller in af_check_dest for analytics.cooling
 * (a second batch, only then). Fills v (check "analytics"): rc
 * AF_RC_ALERT or AF_RC_BLOCK when a rule breached (the reasons, every
 * breach in v->detail), AF_RC_ALLOW counted quietly, AF_RC_NORULE not
 * followed or already ended, AF_RC_ERROR the store failed. Returns v->rc.
 */
int af_call_end(af_call_t *c, int code, uint64_t now_ms, af_verdict_t *v);

/*
 * af_call_end that also frees the concurrency slots of ticket t (what
 * af_check_dest admitted the call into; NULL: none) in the same store
 * batch, so that the end of a call costs one Redis round trip with its
 * release. The slots are freed even when c is not followed or has
 * ended already (as af_dest_release does).
 */
int af_call_end_release(af_call_t *c, int code, uint64_t now_ms,
		const af_dest_ticket_t *t, af_verdict_t *v);

/*
 * Several calls' ends at once (af_module.h, end_batch_interval): as
 * af_call_end_release of each, in one store batch per AF_CALLS_END_MAX
 * calls, where the additions of the calls that share a subject make one
 * figure op (its figures as read back after all of them: each call is
 * judged on those). cb gets each call's verdict (its end_ms and code
 * from the item), in the order of items.
 */
#define AF_CALLS_END_MAX 32
typedef struct af_call_end_item {
	af_call_t *c;             /* its record (NULL: a release alone) */
	int code;                 /* as af_call_end's */
	uint64_t end_ms;          /* when it ended */
	const af_dest_ticket_t *t; /* slots to free, NULL none */
} af_call_end_item_t;
typedef void (*af_calls_end_cb)(af_call_t *c, af_verdict_t *v, void *arg);
void af_calls_end(af_call_end_item_t *items, int n, uint64_t now_ms,
		af_calls_end_cb cb, void *arg);

/* a request standing for c in an alert raised after its INVITE: the
 * caller (From user@host), its source address and the number, pointing
 * into c */
void af_call_request(const af_call_t *c, af_request_t *req);

/*
 * When the duration guard of c fires (ms since the epoch): answer_ms +
 * limit_s; 0 when c has no limit, is not answered, has ended or the
 * guard fired already.
 */
uint64_t af_call_deadline(const af_call_t *c);

/*
 * The duration guard: when c is up at now_ms past its limit and the
 * guard has not fired yet, fills v with reason "duration" (rc
 * AF_RC_ALERT, or AF_RC_BLOCK in enforce mode: the host ends the call,
 * then calls af_call_end) and marks c. Otherwise AF_RC_NORULE. Returns
 * v->rc.
 */
int af_call_guard(af_call_t *c, uint64_t now_ms, af_verdict_t *v);

/*
 * Signal mix: counts one signal of req (code 0: its method; 100..699:
 * the final answer sent for it) for its source and its caller over the
 * short window analytics.signal_mix.window (this node's shared memory,
 * no store). A subject's window that closes is judged: v is filled
 * (reason "signal_mix", rc AF_RC_ALERT) when its divergence is over the
 * threshold, else the window teaches the baseline of its time slot.
 * Returns v->rc (AF_RC_NORULE when nothing was judged).
 */
int af_signal_count(const af_request_t *req, int code, uint64_t now_ms,
		af_verdict_t *v);

/* an alert raised by af_outcome_timer; subject is the source or caller */
typedef void (*af_outcome_alert_cb)(const af_verdict_t *v,
		const char *subject, void *arg);

/*
 * Housekeeping, about once a second from one process: judges the
 * signal-mix windows that closed without a later signal (cb gets each
 * alert, may be NULL) and samples the per-slot baselines of ASR, ACD and
 * attempts.
 */
void af_outcome_timer(uint64_t now_ms, af_outcome_alert_cb cb, void *arg);

/*
 * The figures of subject (kind s, text name[0..len)) over every window
 * of the rules into out[0..n), n at most AF_OUTCOME_WINDOWS; reads only
 * (nothing counted). Returns n, -1 with err set (unknown window, store
 * failure, bad subject).
 */
#define AF_OUTCOME_WINDOWS 3
int af_outcome_figures(af_outcome_subject_t s, const char *name, size_t len,
		af_figure_t *out, char *err, size_t errlen);

/*
 * Whether subject (kind s named name[0..len)) is refused now by an
 * enforcement mark: 1 with the mark in *out (reason, until), 0 none, -1
 * the store could not answer.
 */
int af_outcome_mark_get(af_outcome_subject_t s, const char *name, size_t len,
		af_ban_t *out);

/* 1 when a ban-table key is an enforcement mark, not an address (the
 * ban list shows them apart) */
int af_outcome_mark_is(const char *key, size_t len);

/* a subject of the top-N view: the figures it had at its last call end */
typedef struct af_outcome_top {
	af_outcome_subject_t kind;
	char name[AF_CALL_SUBJECT_MAX + 1];
	af_figure_t fig; /* the rules' first window */
	uint64_t updated_ms;
} af_outcome_top_t;

/* metrics of the top-N view */
typedef enum af_top_metric {
	AF_TOP_ATTEMPTS = 0,
	AF_TOP_MINUTES,
	AF_TOP_ASR_LOW,  /* lowest ASR first */
	AF_TOP_ACD,
	AF_TOP_SHORT,    /* highest short-call share */
	AF_TOP__COUNT
} af_top_metric_t;

/* "attempts", "minutes", "asr", "acd", "short"; parse: -1 unknown */
const char *af_top_metric_name(af_top_metric_t m);
int af_top_metric_parse(const char *s, size_t len);

/*
 * The n subjects (kind s, or AF_OUT__COUNT for all) ranked first by
 * metric m among those this node saw end a call in the first window,
 * into out; returns how many.
 */
int af_outcome_top(af_outcome_subject_t s, af_top_metric_t m, af_outcome_top_t *out,
		int n);

/* per time slot (day type, hour) baselines of this node's calls */
typedef struct af_outcome_slot_stat {
	uint64_t samples;     /* minutes sampled with calls */
	double attempts_mean; /* attempts per minute */
	double attempts_sd;
	double asr_mean;
	double asr_sd;
	double acd_mean;      /* seconds */
	double acd_sd;
	uint64_t mix_windows; /* signal-mix windows that taught the slot */
} af_outcome_slot_stat_t;

void af_outcome_slot_stat(int holiday, int hour, af_outcome_slot_stat_t *out);

/* the slot of now_ms: day type (1 holiday) and hour of the system
 * calendar (dest.calendar; UTC workdays without one); returns 0 */
int af_outcome_slot_now(uint64_t now_ms, int *holiday, int *hour);

/* forgets the baselines */
void af_outcome_stats_reset(void);

#endif
