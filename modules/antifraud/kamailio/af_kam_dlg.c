/*
 * antifraud - calls end through the dialog module: a call that
 * af_check_dest admitted into the concurrency sets gives its slots back
 * when its dialog fails (busy, CANCEL, timeout, any negative reply), is
 * terminated (BYE) or expires, and at the latest when the dialog is
 * destroyed. Without the dialog module, or for a call whose dialog is
 * never created, the slots age out after dest.max_duration.
 *
 * The dialog may exist when af_check_dest runs (dlg_manage() called
 * before it) or be created later in the script: then the ticket waits in
 * this process for the DLGCB_CREATED callback of the same message.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "core/dprint.h"
#include "modules/dialog/dlg_load.h"
#include "af_kam.h"

static struct dlg_binds dlgb;
static int dlg_loaded;

/* a message of this process (af_module_hold_later) */
#define MSG_KEY(msg) (((uint64_t)(uint32_t)(msg)->pid << 32) | (msg)->id)

/* the call ended (failed, terminated, expired) */
static void dlg_ended(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *params)
{
	if(params && params->param && *params->param)
		af_module_hold_end((af_hold_t *)*params->param);
}

/* the dialog goes: whatever happened, the slots go back */
static void hold_free(void *p)
{
	af_module_hold_free((af_hold_t *)p);
}

/* ties hold h to dlg; on failure the slots are given back at once */
static void attach(struct dlg_cell *dlg, af_hold_t *h)
{
	if(!h)
		return;
	if(dlgb.register_dlgcb(dlg, DLGCB_FAILED | DLGCB_TERMINATED | DLGCB_EXPIRED,
			   dlg_ended, h, hold_free)
			!= 0) {
		LM_ERR("cannot register the dialog callback: releasing the call's"
			   " concurrency slots now\n");
		af_module_hold_free(h);
	}
}

/* a dialog was created: is it the call this process just admitted? */
static void dlg_created(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *params)
{
	if(params && params->req)
		attach(dlg, af_module_hold_claim(MSG_KEY(params->req)));
}

int af_kam_dlg_init(void)
{
	if(load_dlg_api(&dlgb) != 0) {
		LM_INFO("dialog module not loaded: calls admitted by af_check_dest"
				" leave the concurrency counts after dest.max_duration\n");
		return 0;
	}
	if(dlgb.register_dlgcb(NULL, DLGCB_CREATED, dlg_created, NULL, NULL)
			!= 0) {
		LM_ERR("cannot register the dialog creation callback\n");
		return -1;
	}
	dlg_loaded = 1;
	return 0;
}

void af_kam_dest_admitted(struct sip_msg *msg, const af_dest_ticket_t *t)
{
	struct dlg_cell *dlg;

	if(!dlg_loaded)
		return;
	dlg = dlgb.get_dlg(msg);
	if(!dlg) {
		af_module_hold_later(MSG_KEY(msg), t);
		return;
	}
	attach(dlg, af_module_hold(t));
	dlgb.release_dlg(dlg);
}
