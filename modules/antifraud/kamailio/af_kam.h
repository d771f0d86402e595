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
#include "af_host.h"
#include "af_core.h"
#include "af_request.h"
#include "af_alert.h"

/* the host implementation for Kamailio (shm, clock, log) */
extern const af_host_t af_kam_host;
/* the same with heap memory, for kamailio -c (no shared memory yet) */
extern const af_host_t af_kam_check_host;

/* extracts what the checks need from msg; returns 0, -1 when msg is
 * not a request */
int af_kam_request(struct sip_msg *msg, af_request_t *req);

extern rpc_export_t af_kam_rpc_cmds[];

/* labelled metrics pushed into xhttp_prom every interval_s seconds by
 * the timer (af_kam_prom.c); 0: never */
void af_kam_prom_init(int interval_s);
void af_kam_prom_timer(uint64_t now_ms);

/* antifraud.check: a dry run of the checks (af_kam_check.c) */
extern const char *af_kam_rpc_check_doc[];
void af_kam_rpc_check(rpc_t *rpc, void *ctx);

/* binds the dialog module when loaded (mod_init); 0, -1 on error */
int af_kam_dlg_init(void);

/* af_check_dest admitted msg's call: release its slots when it ends */
void af_kam_dest_admitted(struct sip_msg *msg, const af_dest_ticket_t *t);

/* keeps v as this process's last verdict ($antifraud) and raises
 * event_route[antifraud:alert] for msg when v alerts or blocks */
int af_kam_announce(
		struct sip_msg *msg, const af_request_t *req, const af_verdict_t *v);

/* account protection: learns authentication results from the replies
 * (sl and tm callbacks) when learn is set (mod_init); 0, -1 on error */
int af_kam_auth_init(int learn);

/* the script reports msg's authentication result (ok 1 passed, 0
 * failed); returns the verdict's rc */
int af_kam_auth_report(struct sip_msg *msg, int ok);

#endif
