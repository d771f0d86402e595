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

/* the ticket of the call this process admitted last, without a dialog */
static struct {
	int set;
	int warned;
	unsigned int msg_id;
	char *msg_buf;
	af_dest_ticket_t t;
} af_os_wait;

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

/* the call in dlg holds the slots of t */
static void af_os_dlg_hold(struct dlg_cell *dlg, const af_dest_ticket_t *t)
{
	af_hold_t *h = af_module_hold(t);

	if(h
			&& af_os_dlgb.register_dlgcb(dlg,
					   DLGCB_FAILED | DLGCB_TERMINATED | DLGCB_EXPIRED,
					   af_os_dlg_end, h, af_os_dlg_free)
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
	struct sip_msg *msg = params ? params->msg : NULL;

	if(af_os_wait.set && msg && msg->id == af_os_wait.msg_id
			&& msg->buf == af_os_wait.msg_buf) {
		af_os_wait.set = 0;
		af_os_dlg_hold(dlg, &af_os_wait.t);
	}
}

int af_os_dlg_init(void)
{
	if(load_dlg_api(&af_os_dlgb) != 0) {
		LM_INFO("no dialog module: calls admitted by af_check_dest leave"
				" the concurrency counts after dest.max_duration\n");
		return 0;
	}
	if(af_os_dlgb.register_dlgcb(
			   NULL, DLGCB_CREATED, af_os_dlg_created, NULL, NULL)
			!= 0) {
		LM_ERR("cannot register the dialog creation callback\n");
		return -1;
	}
	af_os_dlg_bound = 1;
	return 0;
}

void af_os_dest_admitted(struct sip_msg *msg, const af_dest_ticket_t *t)
{
	struct dlg_cell *dlg;

	if(!af_os_dlg_bound)
		return;
	dlg = af_os_dlgb.get_dlg();
	if(dlg) {
		af_os_wait.set = 0;
		af_os_dlg_hold(dlg, t);
		return;
	}
	if(af_os_wait.set && !af_os_wait.warned) {
		af_os_wait.warned = 1;
		LM_WARN("af_check_dest admitted a call whose dialog was never"
				" created: its concurrency slots stay until"
				" dest.max_duration. Call create_dialog() for every call"
				" af_check_dest admits (logged once)\n");
	}
	af_os_wait.set = 1;
	af_os_wait.msg_id = msg->id;
	af_os_wait.msg_buf = msg->buf;
	af_os_wait.t = *t;
}
