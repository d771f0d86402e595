/*
 * antifraud - calls through OpenSIPS's dialog module: what af_check_dest
 * let through (its concurrency slots and the call's outcome record, one
 * shared-memory object of the core: af_module_hold) belongs to the
 * call's dialog. The dialog's callbacks report the call: a forwarded 18x
 * rings (post-dial delay), DLGCB_CONFIRMED (the 2xx) answers, a failure
 * (busy, CANCEL, timeout, any negative reply), BYE or expiry ends it: it
 * is counted into the figures (analytics) and its slots go back in one
 * store batch; at the latest when the dialog goes. An alert of the end
 * raises E_ANTIFRAUD_ALERT. An answered call with a duration limit is
 * watched by the core's duration guard, which ends it here in enforce
 * mode (af_os_dlg_end_call: the dialog module sends BYE both ways). Without the dialog module, or for a call
 * whose dialog is never created, the slots age out after
 * dest.max_duration and the call is not counted.
 *
 * create_dialog() may come before af_check_dest or after it in the
 * script: then the call waits in this process for the dialog's
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

/* the code of a callback's reply, 0 when none (one of OpenSIPS's own) */
static int af_os_reply_code(const struct dlg_cb_params *params)
{
	const struct sip_msg *rpl = params->msg;

	if(!rpl || rpl == FAKED_REPLY || rpl->first_line.type != SIP_REPLY)
		return 0;
	return (int)rpl->first_line.u.reply.statuscode;
}

/* the call rang, was answered, failed, ended or expired */
static void af_os_dlg_event(struct dlg_cell *dlg, int type,
		struct dlg_cb_params *params)
{
	af_hold_t *h = params && params->param ? *params->param : NULL;
	af_dlg_id_t id;
	af_request_t req;
	af_verdict_t v;
	int code;

	if(!h)
		return;
	switch(type) {
		case DLGCB_RESPONSE_FWDED:
			code = af_os_reply_code(params);
			if(code >= 180 && code < 190)
				af_module_hold_ring(h, code);
			return;
		case DLGCB_CONFIRMED:
			id.a = dlg->h_entry;
			id.b = dlg->h_id;
			af_module_hold_answer(h, &id);
			return;
		case DLGCB_FAILED:
			code = af_os_reply_code(params);
			break;
		default:
			code = 200;
	}
	if(af_module_hold_end(h, code, &req, &v))
		af_os_announce(&req, &v);
}

/* the dialog goes: whatever happened, the call ends and its slots go
 * back; then the hold is freed */
static void af_os_dlg_free(void *param)
{
	af_request_t req;
	af_verdict_t v;

	if(af_module_hold_end(param, 200, &req, &v))
		af_os_announce(&req, &v);
	af_module_hold_free(param);
}

/* the call in dlg holds h until it ends; 0, -1 (h freed) */
static int af_os_dlg_hold(struct dlg_cell *dlg, af_hold_t *h)
{
	int types = DLGCB_FAILED | DLGCB_TERMINATED | DLGCB_EXPIRED;

	if(af_module_hold_follows(h))
		types |= DLGCB_RESPONSE_FWDED | DLGCB_CONFIRMED;
	if(h
			&& af_os_dlgb.register_dlgcb(
					   dlg, types, af_os_dlg_event, h, af_os_dlg_free)
					   != 0) {
		LM_ERR("no dialog callback: the call's concurrency slots go back"
			   " now, its outcome is not learned\n");
		af_module_hold_free(h);
		return -1;
	}
	return h ? 0 : -1;
}

/* the call this process followed last from its dialog's creation
 * ('follow: all'), which af_check_dest may check after it */
static struct {
	uint64_t msg_key;
	af_hold_t *h;
} af_os_created;

/* the message whose dialog (made by create_dialog() before
 * af_check_dest) holds its call already: OpenSIPS runs DLGCB_CREATED
 * later, when the transaction is created */
static uint64_t af_os_held_key;

/* a dialog was created: the call this process let through just now, or
 * one to follow though af_check_dest did not see it? */
static void af_os_dlg_created(struct dlg_cell *dlg, int type,
		struct dlg_cb_params *params)
{
	struct sip_msg *msg = params ? params->msg : NULL;
	af_request_t req;
	af_held_t x;
	af_hold_t *h;

	if(!msg)
		return;
	h = af_module_hold_claim(af_os_msg_key(msg));
	if(h) {
		af_os_dlg_hold(dlg, h);
		return;
	}
	if(af_os_held_key == af_os_msg_key(msg)
			|| !af_module_follows_all(af_os_request_profile(msg))
			|| af_os_request(msg, &req) < 0 || !af_module_held_all(&req, &x))
		return;
	h = af_module_hold(&x);
	if(af_os_dlg_hold(dlg, h) == 0) {
		af_os_created.msg_key = af_os_msg_key(msg);
		af_os_created.h = h;
	}
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

void af_os_dest_checked(struct sip_msg *msg, const af_request_t *req,
		const af_verdict_t *v)
{
	struct dlg_cell *dlg;
	af_held_t x;

	/* without dialogs the slots age out (logged at start) */
	if(!af_os_dlg_bound)
		return;
	if(af_os_created.h && af_os_created.msg_key == af_os_msg_key(msg)) {
		/* followed from its dialog's creation: now with what the check
		 * found and admitted */
		af_module_hold_checked(af_os_created.h, req, v);
		af_os_created.h = NULL;
		return;
	}
	if(!af_module_held(req, v, &x))
		return;
	/* the dialog of the current request, when created already */
	dlg = af_os_dlgb.get_dlg();
	if(dlg) {
		af_os_dlg_hold(dlg, af_module_hold(&x));
		af_os_held_key = af_os_msg_key(msg);
	} else
		af_module_hold_later(af_os_msg_key(msg), &x);
}

int af_os_dlg_end_call(const af_dlg_id_t *id)
{
	static const str reason = str_init("antifraud duration guard");

	if(!af_os_dlg_bound)
		return 0;
	return af_os_dlgb.terminate_dlg(
			NULL, (unsigned int)id->a, (unsigned int)id->b, &reason);
}
