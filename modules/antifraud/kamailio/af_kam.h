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

#endif
