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

/* the host implementation for Kamailio (shm, clock, log) */
extern const af_host_t af_kam_host;

/* extracts what the checks need from msg; returns 0, -1 when msg is
 * not a request */
int af_kam_request(struct sip_msg *msg, af_request_t *req);

extern rpc_export_t af_kam_rpc_cmds[];

/* binds the dialog module when loaded (mod_init); 0, -1 on error */
int af_kam_dlg_init(void);

/* af_check_dest admitted msg's call: release its slots when it ends */
void af_kam_dest_admitted(struct sip_msg *msg, const af_dest_ticket_t *t);

#endif
