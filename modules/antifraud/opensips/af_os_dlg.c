/*
 * antifraud - calls end through OpenSIPS's dialog module: a call that
 * af_check_dest admitted gives its concurrency slots back when its
 * dialog fails (busy, CANCEL, timeout, any negative reply), is
 * terminated (BYE) or expires, and at the latest when the dialog goes.
 * Without the dialog module, or for a call whose dialog is never
 * created, the slots age out after dest.max_duration.
 *
 * create_dialog() may come before af_check_dest or after it in the
 * script: then the ticket waits in this process for the dialog's
 * DLGCB_CREATED callback on the same message.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "dprint.h"
#include "modules/dialog/dlg_load.h"
#include "af_os.h"

static struct dlg_binds af_os_dlgb;
static int af_os_dlg_bound;

/* a message of this process: its buffer and number */
static uint64_t af_os_msg_key(const struct sip_msg *msg)
{
	return (uint64_t)(uintptr_t)msg->buf ^ ((uint64_t)msg->id << 40);
}

/* the call failed, ended or expired */
static void af_os_dlg_end(struct dlg_cell *dlg, int type,
		struct dlg_cb_params *params)
{
	if(params && params->param)
		af_module_hold_end(*params->param);
}

static void af_os_dlg_free(void *param)
{
	af_module_hold_free(param);
}

/* the call in dlg holds h until it ends */
static void af_os_dlg_hold(struct dlg_cell *dlg, af_hold_t *h)
{
	const int ends = DLGCB_FAILED | DLGCB_TERMINATED | DLGCB_EXPIRED;

	if(h
			&& af_os_dlgb.register_dlgcb(
					   dlg, ends, af_os_dlg_end, h, af_os_dlg_free)
					   != 0) {
		LM_ERR("no dialog callback: the call's concurrency slots go back"
			   " now\n");
		af_module_hold_free(h);
	}
}

/* a dialog was created: the call this process admitted just now? */
static void af_os_dlg_created(struct dlg_cell *dlg, int type,
		struct dlg_cb_params *params)
{
	if(params && params->msg)
		af_os_dlg_hold(dlg, af_module_hold_claim(af_os_msg_key(params->msg)));
}

int af_os_dlg_init(void)
{
	af_os_dlg_bound = load_dlg_api(&af_os_dlgb) == 0;
	if(!af_os_dlg_bound)
		LM_INFO("no dialog module: calls admitted by af_check_dest leave"
				" the concurrency counts after dest.max_duration\n");
	else if(af_os_dlgb.register_dlgcb(
					NULL, DLGCB_CREATED, af_os_dlg_created, NULL, NULL)
			!= 0) {
		LM_ERR("cannot register the dialog creation callback\n");
		return -1;
	}
	return 0;
}

void af_os_dest_admitted(struct sip_msg *msg, const af_dest_ticket_t *t)
{
	/* the dialog of the current request, when created already */
	struct dlg_cell *dlg = af_os_dlg_bound ? af_os_dlgb.get_dlg() : NULL;

	if(dlg)
		af_os_dlg_hold(dlg, af_module_hold(t));
	else if(af_os_dlg_bound)
		af_module_hold_later(af_os_msg_key(msg), t);
}
