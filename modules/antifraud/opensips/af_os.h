/*
 * antifraud - OpenSIPS glue: shared declarations.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_OS_H
#define AF_OS_H

#include "parser/msg_parser.h"
#include "mi/mi.h"
#include "af_host.h"
#include "af_core.h"
#include "af_request.h"
#include "af_module.h"
#include "af_var.h"
#include "af_cmd.h"

/* the host implementation for OpenSIPS (shm, clock, log) */
extern const af_host_t af_os_host;
/* the same with heap memory, for opensips -c (no shared memory yet) */
extern const af_host_t af_os_check_host;

/* what the checks need of msg, once per message; 0, -1 when msg is not
 * a request */
int af_os_request(struct sip_msg *msg, af_request_t *req);

/* OpenSIPS's SIP parser for af_check, the dry run (af_os_check.c) */
extern const af_cmd_parser_t af_os_check_parser;

/* the profile a check of msg named ("": none, or msg not extracted) */
const char *af_os_request_profile(const struct sip_msg *msg);

/* the MI commands (af_bans, af_reload, ...) */
extern const mi_export_t af_os_mi_cmds[];

/* binds the dialog module when loaded (mod_init); 0, -1 on error */
int af_os_dlg_init(void);

/* ends the dialog id (the duration guard): 1, 0 gone, -1 failed */
int af_os_dlg_end_call(const af_dlg_id_t *id);

/* af_check_dest gave v for msg (req): the call it let through is
 * followed and its slots go back when it ends */
void af_os_dest_checked(struct sip_msg *msg, const af_request_t *req,
		const af_verdict_t *v);

/* keeps v as this process's last verdict ($antifraud) and raises
 * E_ANTIFRAUD_ALERT when it alerts or blocks; returns v->rc */
int af_os_announce(const af_request_t *req, const af_verdict_t *v);

/* learns authentication results from sl and tm replies (mod_init) */
int af_os_auth_init(int learn);

/* the script reports msg's authentication result (ok 1, failed 0) */
int af_os_auth_report(struct sip_msg *msg, int ok);

#endif
