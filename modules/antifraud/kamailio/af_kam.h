/*
 * antifraud - Kamailio glue: shared declarations.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_KAM_H
#define AF_KAM_H

#include "core/parser/msg_parser.h"
#include "core/rpc.h"
#include "core/pvar.h"
#include "af_host.h"
#include "af_core.h"
#include "af_store_cluster.h"
#include "af_store_redis.h"
#include "af_request.h"
#include "af_alert.h"
#include "af_module.h"
#include "af_cmd.h"
#include "af_var.h"

/* the host implementation for Kamailio (shm, clock, log) */
extern const af_host_t af_kam_host;
/* the same with heap memory, for kamailio -c (no shared memory yet) */
extern const af_host_t af_kam_check_host;

/* extracts what the checks need from msg; returns 0, -1 when msg is
 * not a request */
int af_kam_request(struct sip_msg *msg, af_request_t *req);
/* the extraction af_kam_request made of msg (a check ran on it), NULL
 * when none: nothing is parsed */
const af_request_t *af_kam_request_seen(const struct sip_msg *msg);
/* parses what a reply callback reads of tm's copy of msg: the From
 * header and its URI, the credentials (as af_kam_request does) */
void af_kam_parse_caller(struct sip_msg *msg);
/* the core's method of a Kamailio method value (METHOD_INVITE, ...) */
af_method_t af_kam_method(int m);

extern rpc_export_t af_kam_rpc_cmds[];

/* labelled metrics pushed into xhttp_prom every interval_s seconds by
 * the timer (af_kam_prom.c); 0: never */
void af_kam_prom_init(int interval_s);
void af_kam_prom_timer(uint64_t now_ms);

/* Kamailio's SIP parser for antifraud.check, the dry run (af_kam_check.c) */
extern const af_cmd_parser_t af_kam_check_parser;

/* af_kam_dlg.c: binds the dialog module when loaded, with the duration
 * guard's table of calls entries (mod_init); 0, -1 on error.
 * af_kam_dest_checked: af_check_dest checked msg's call (verdict v):
 * what it let through is held by the call's dialog until the call ends
 * (the call's outcome followed, its slots given back). */
int af_kam_dlg_init(int calls);
void af_kam_dest_checked(struct sip_msg *msg, const af_request_t *req,
		const af_verdict_t *v);

/* af_kam_outcome.c: the signal mix from requests (af_check_source) and
 * final answers, and the analytics timer. af_kam_outcome_init (mod_init)
 * registers the module's one sl reply callback and one tm request
 * callback, for the signal mix and, when learn is set, for the
 * authentication results (af_kam_auth_sl, af_kam_auth_tm); af_kam_tmb
 * is tm's API then (its register_tmcb watches a transaction) */
struct tm_binds;
struct cell;
struct sl_cbp;
extern struct tm_binds af_kam_tmb;
int af_kam_outcome_init(int learn);
void af_kam_signal_request(struct sip_msg *msg, const af_request_t *req);
/* the call ends' process (end_batch_interval): the queued ends */
void af_kam_ends_timer(unsigned int ticks, void *param);
void af_kam_outcome_timer(void);

/* af_kam_pv.c: the last verdict ($antifraud) and the events.
 * af_kam_verdict_init finds the alert route and keeps the KEMI event
 * callback (mod_init); af_kam_event_wanted says whether an event (route
 * rt, -1 none) would run anything and af_kam_run_event runs it (the
 * callback, else the route) on msg as a route of route_type; a check
 * writes its verdict in af_kam_verdict_slot() or anywhere;
 * af_kam_announce keeps it as this process's last verdict and raises
 * antifraud:alert for msg (request req) when the core says so
 * (af_module_alert(); returns its rc) */
void af_kam_verdict_init(const str *event_callback);
int af_kam_event_wanted(int rt);
void af_kam_run_event(
		int rt, struct sip_msg *msg, int route_type, const char *name);
af_verdict_t *af_kam_verdict_slot(void);
int af_kam_announce(
		struct sip_msg *msg, const af_request_t *req, const af_verdict_t *v);
/* af_kam_announce on a faked message showing ip:port as $si:$sp (ip NULL
 * or of family 0, port 0: the faked message's own) */
int af_kam_announce_from(const af_ip_t *ip, uint16_t port,
		const af_request_t *req, const af_verdict_t *v);
int af_kam_pv_parse_name(pv_spec_t *sp, str *in);
int af_kam_pv_get(struct sip_msg *msg, pv_param_t *param, pv_value_t *res);

/* account protection: learns authentication results from the replies:
 * af_kam_auth_sl gets each stateless reply, af_kam_auth_tm each new
 * transaction (af_kam_outcome.c's callbacks call them); af_kam_auth_init
 * tells the core where it learns (sl: the sl module is bound, tm: tm) */
void af_kam_auth_init(int sl, int tm);
void af_kam_auth_sl(struct sl_cbp *p);
void af_kam_auth_tm(struct cell *t, struct sip_msg *msg);

/* the script reports msg's authentication result (ok 1 passed, 0
 * failed); returns the verdict's rc */
int af_kam_auth_report(struct sip_msg *msg, int ok);

#endif
