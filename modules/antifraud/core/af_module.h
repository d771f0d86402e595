/*
 * antifraud - what the module does whatever server loads it: its
 * parameters and start, the statistics it exports, the cluster's event
 * subscriber, and when a verdict is announced to the script. A glue
 * binds these to its server's mechanisms and translates nothing else.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_MODULE_H
#define AF_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include "af_core.h"
#include "af_host.h"
#include "af_request.h"
#include "af_alert.h"
#include "af_store_cluster.h"
#include "af_outcome.h"

/* the module parameters (af_module.def); strings are the server's */
typedef struct af_params {
#define AF_PARAM_STR(n) char *n;
#define AF_PARAM_INT(n) int n;
#define AF_PARAM_FN(n) char *n;
#include "af_module.def"
#undef AF_PARAM_STR
#undef AF_PARAM_INT
#undef AF_PARAM_FN
} af_params_t;

/* the defaults, with the server's usual place for the rule file */
#define AF_PARAMS_DEFAULT(config_path)                                    \
	{                                                                     \
		.config = (config_path), .shm_entries = 131072, .shm_stripes = 64, \
		.reload_min_interval = 1, .timer_interval = 1, .alert_event = 1,  \
		.alert_repeat_interval = AF_ALERT_REPEAT_S,                       \
		.alert_rate = AF_ALERT_RATE, .alert_burst = AF_ALERT_BURST,       \
		.redis = "", .redis_connect_timeout = 20,                         \
		.redis_command_timeout = 10, .redis_prefix = "af:",               \
		.redis_fallback = "local", .redis_retry_interval = 1000,          \
		.redis_release_queue = AF_CLUSTER_RELEASE_QUEUE,                  \
		.auth_learn = 1, .feed_interval = 5, .analytics_calls = 8192,     \
		.end_batch_interval = -1, .end_batch_queue = AF_END_QUEUE         \
	}

/*
 * Sets the AF_PARAM_FN parameter name of p to val: config (the rule
 * file; with check_host set, the server's configuration check, it is
 * validated at once with the module's loader on that host, one without
 * shared memory: err then holds its summary), file_size_limits
 * ("kind=MiB,...", af_file_limits_parse()). 0, or -1 with the reason in
 * err.
 */
int af_module_param(af_params_t *p, const char *name, const char *val,
		const af_host_t *check_host, char *err, size_t errlen);

/*
 * Checks the parameters and starts the core with them (host installed
 * first). In cluster mode it says whether Redis answers now (a node
 * that cannot reach it starts on its fallback) and watches the breaker
 * for af_module_redis_event(). 0, or -1 with the reason in err.
 */
int af_module_init(const af_host_t *host, const af_params_t *p, char *err,
		size_t errlen);

/* the module's periodic work (every timer_interval s, one process):
 * returns a breaker change to announce, as af_module_redis_event() */
int af_module_timer(void);

/* logs where the rules and the state are: the module started */
void af_module_started(const af_params_t *p);

/* logs where authentication results are learned from: stateless
 * replies (sl 1), stateful ones (tm 1) */
void af_module_auth_learning(int sl, int tm);

/* a breaker change not yet announced (any process): 1 down, 2 up again,
 * 0 none; taken once */
int af_module_redis_event(void);

/* "off", "up" or "down": the cluster store's state */
const char *af_module_redis_state(void);

/*
 * The cluster's event subscriber (bans, unbans and reloads of the other
 * nodes), for a process of its own: never returns.
 */
void af_module_events_loop(void) __attribute__((noreturn));

/*
 * The statistics a module exports: the core's counters (af_stat_t) and
 * then the breaker's; af_module_stat_name(i) for i below
 * af_module_stat_count(), value af_module_stat(i).
 */
int af_module_stat_count(void);
const char *af_module_stat_name(int i);
uint64_t af_module_stat(int i);

/*
 * Whether verdict v of check on req is raised to the script as an
 * alert: an alert or a block, not the repeated refusal of a banned
 * source, and admitted by the alert limits (af_alert.h). 1 raise it.
 */
int af_module_alert(af_verdict_t *v, const af_request_t *req);

/*
 * What af_check_dest let through, held in shared memory by the call's
 * dialog until the call ends: the concurrency slots it admitted the call
 * into and the call's outcome record (af_outcome.h) when analytics
 * follows it, in one shared-memory object; the glues' dialog callbacks
 * report the call (af_kam_dlg.c, af_os_dlg.c).
 *
 * af_module_held() fills x from the check's request and verdict and
 * returns 1 when there is anything to hold (slots taken, or a call to
 * follow: a refused call is never one), 0 when not. af_module_hold()
 * copies x into shared memory (NULL out of memory: the slots are given
 * back at once). af_module_hold_follows(): 1 when the call's ring and
 * answer are to be reported (af_module_hold_ring, _answer: with the id
 * of the call's dialog, so that the duration guard can end it; NULL:
 * the guard only alerts; an id the hold does not take, or holds when
 * the call ends, is given back through the guard's drop callback).
 * af_module_hold_wants_id(): 1 while an answered call with a limit has
 * no id yet (a glue whose id is a reference takes one only then).
 * af_module_hold_end() ends the call the first time it is called (the
 * dialog failed with final code, 0 unknown, or was terminated or
 * expired: 200): the call is counted into the figures and its slots go
 * back in one store batch; returns 1 when v (check "analytics") is to be
 * announced, req then standing for the call (its caller, source and
 * number; valid while h is). af_module_hold_free() ends it quietly if it
 * has not ended and frees it (the dialog goes).
 */
typedef struct af_held {
	int has_ticket;
	af_dest_ticket_t t;
	af_call_t c;
} af_held_t;
typedef struct af_hold af_hold_t;
/* how the glue names a call's dialog to end it (OpenSIPS: its hash
 * entry and id) */
typedef struct af_dlg_id {
	uint64_t a, b;
} af_dlg_id_t;
int af_module_held(const af_request_t *req, const af_verdict_t *v,
		af_held_t *x);
af_hold_t *af_module_hold(const af_held_t *x);

/*
 * 'follow: all': af_module_follows_all() says whether profile (NULL or
 * "": the default one) follows every INVITE (before anything of the
 * request is extracted); af_module_held_all() fills x for an initial
 * INVITE that
 * got a dialog without af_check_dest (yet): 1 when the profile of req's
 * checks (the default one when none named one) follows every INVITE,
 * else 0. When af_check_dest then checks the same request (verdict v),
 * af_module_hold_checked() gives that hold what the check found and
 * admitted (the call counted once).
 */
int af_module_follows_all(const char *profile);
int af_module_held_all(const af_request_t *req, af_held_t *x);
void af_module_hold_checked(af_hold_t *h, const af_request_t *req,
		const af_verdict_t *v);

/*
 * A call let through before its dialog exists: it waits in this process
 * for the dialog created for the same message (msg_key: how the glue
 * tells messages apart). af_module_hold_later() keeps it (one waiting
 * before, never claimed, is left to age out: logged once);
 * af_module_hold_claim() makes the hold when the dialog of msg_key is
 * created, NULL when nothing waits for it.
 */
void af_module_hold_later(uint64_t msg_key, const af_held_t *x);
af_hold_t *af_module_hold_claim(uint64_t msg_key);
int af_module_hold_follows(const af_hold_t *h);
int af_module_hold_wants_id(af_hold_t *h);
void af_module_hold_ring(af_hold_t *h, int code);
void af_module_hold_answer(af_hold_t *h, const af_dlg_id_t *id);
int af_module_hold_end(af_hold_t *h, int code, af_request_t *req,
		af_verdict_t *v);
void af_module_hold_free(af_hold_t *h);

/*
 * Learning authentication results from the replies. What a final answer
 * says of the credentials of a request of method: 0 failed (401/407
 * unless the challenge says stale=true, 403 to a REGISTER), 1 passed
 * (2xx, or 18x to an INVITE), -1 nothing. reply is the answer as sent
 * (may be NULL).
 */
int af_module_auth_outcome(int method, int code, const char *reply, size_t len);

/* 1 when a reply with code may say something of credentials: the rest
 * (100, 404, 483, ...) need no extraction */
int af_module_auth_code(int code);

/*
 * A stateless reply with code to req went out: counts its outcome once
 * per message (unless the script reported it). 1 with v filled when
 * counted, 0 when nothing was counted.
 */
int af_module_auth_reply(const af_request_t *req, int code, const char *reply,
		size_t len, af_verdict_t *v);

/*
 * What the replies of a transaction need of its request, in shared
 * memory: NULL when req carries no credentials, the script reported its
 * result already, or out of memory (logged).
 */
typedef struct af_auth_pending af_auth_pending_t;
af_auth_pending_t *af_module_auth_pending(const af_request_t *req);

/*
 * The same record for a glue that also counts the signal mix from a
 * transaction's final answer (OpenSIPS): made when req carries
 * credentials to learn (learn_auth) or when the rules count signals (a
 * signal_mix), NULL when neither. af_module_mix_reply() counts the final
 * answer (code >= 200) once: 1 when v is an alert to announce for req
 * (pointing into p), else 0. A record made by af_module_auth_pending
 * counts no signal.
 */
af_auth_pending_t *af_module_tx_pending(const af_request_t *req, int learn_auth);
int af_module_mix_reply(af_auth_pending_t *p, int code, af_request_t *req,
		af_verdict_t *v);

/* 1 when the rules count signals (analytics with a signal_mix) */
int af_module_mix_on(void);

/*
 * Signals of the signal mix: a request checked with af_check_source
 * (code 0) or a final answer sent statelessly (code >= 200) for req. 1
 * when v is an alert to announce, else 0.
 */
int af_module_signal(const af_request_t *req, int code, af_verdict_t *v);

/*
 * The outcome housekeeping, about once a second from one process
 * (af_outcome_timer): each alert it raises goes to cb with a request
 * standing for its subject (a source address, or a caller user@host).
 */
typedef void (*af_module_alert_cb)(const af_request_t *req,
		const af_verdict_t *v);

/*
 * The duration guard of held calls: an answered call with a limit sits
 * in a table of n (analytics_calls) entries in shared memory, made by
 * af_module_guard_init() at the glue's start (a table made before is
 * dropped; af_module_guard_destroy() frees it), until it ends.
 * af_module_outcome_timer() walks it first: a call up past its limit
 * alerts once (cb); in enforce mode its slots go back at once and
 * end(id) asks the glue to end its dialog (BYE both ways; 1 done, 0 no
 * such dialog, -1 failed; end lets go of id), whose callbacks then end
 * the held call (counted). end NULL: the guard only alerts. drop(id)
 * lets go of an id the hold will not use (NULL: ids hold nothing).
 * Returns 0, -1 out of memory.
 */
typedef int (*af_module_end_cb)(const af_dlg_id_t *id);
typedef void (*af_module_drop_cb)(const af_dlg_id_t *id);
int af_module_guard_init(int n, af_module_end_cb end, af_module_drop_cb drop);
void af_module_guard_destroy(void);
void af_module_outcome_timer(af_module_alert_cb cb);

/*
 * Call ends in batches (end_batch_interval ms, end_batch_queue calls):
 * with an interval, af_module_hold_end() queues a call's end (its
 * figures, its slots) in shared memory instead of running its store
 * batch in the dialog's callback, and the glue runs
 * af_module_ends_flush() every af_module_end_batch_ms() ms in one
 * process: the queued calls end AF_CALLS_END_MAX at a time, one store
 * batch each (af_calls_end), their alerts going to cb (NULL: none, at
 * shutdown). A full queue, or no interval: the end runs at once, as
 * before. af_module_ends_init() after af_module_init(): 0, -1 out of
 * shared memory (err says it).
 */
#define AF_END_QUEUE 4096      /* end_batch_queue's default */
#define AF_END_QUEUE_MAX 1000000
#define AF_END_INTERVAL_MAX 1000 /* ms */
#define AF_END_INTERVAL_REDIS 100 /* ms: end_batch_interval -1 in Redis mode */
int af_module_ends_init(const af_params_t *p, char *err, size_t errlen);
void af_module_ends_destroy(void);
int af_module_end_batch_ms(void);
void af_module_ends_flush(af_module_alert_cb cb);
/* at shutdown (the glue's destroy, before the core's): what is queued
 * ends without alerts; a queue whose lock a gone process held is left */
void af_module_ends_last(void);

/*
 * A reply of that transaction went out: counts its outcome once. 1 with
 * req (pointing into p) and v filled when counted, else 0.
 */
int af_module_auth_pending_reply(af_auth_pending_t *p, int code,
		const char *reply, size_t len, af_request_t *req, af_verdict_t *v);

/* the script reported the result: no reply counts it again */
void af_module_auth_pending_done(af_auth_pending_t *p);
void af_module_auth_pending_free(af_auth_pending_t *p);

/*
 * The script reports req's authentication result (ok 1 passed, 0
 * failed): counted, and no reply of req counts it again. Returns v->rc.
 */
int af_module_auth_report(const af_request_t *req, int ok, af_verdict_t *v);

#endif
