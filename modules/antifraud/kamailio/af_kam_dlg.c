/*
 * antifraud - calls through Kamailio's dialog module: what af_check_dest
 * let through (its concurrency slots and the call's outcome record, one
 * shared-memory object of the core: af_module_hold, af_module_call.c)
 * belongs to the call's dialog.
 *
 * The dialog's callbacks report the call: a forwarded 18x rings
 * (post-dial delay), the 2xx answers (DLGCB_CONFIRMED_NA), a failure,
 * BYE or expiry ends it: it is counted into the figures and its slots go
 * back in one store batch; at the latest when the dialog is destroyed.
 * Without the dialog module, or for a call whose dialog is never
 * created, the slots age out after dest.max_duration and the call is not
 * counted.
 *
 * The dialog may exist when af_check_dest runs (dlg_manage() called
 * before it) or be created later in the script: then the call waits in
 * this process for the DLGCB_CREATED callback of the same message. A
 * profile with 'follow: all' also follows INVITEs af_check_dest did not
 * see, from their DLGCB_CREATED.
 *
 * Answered calls with a duration limit are watched by the core's
 * duration guard; to end one in enforce mode it needs the dialog: the
 * ACK's DLGCB_CONFIRMED takes a reference to it (its id for the core),
 * given back when the call ends, or used by the guard to end the call
 * (BYE both ways).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "core/dprint.h"
#include "core/fmsg.h"
#include "core/parser/msg_parser.h"
#include "modules/dialog/dlg_load.h"
#include "af_kam.h"

static struct dlg_binds dlgb;
static int dlg_loaded;

/* the call this process followed last from DLGCB_CREATED ('follow:
 * all'), which af_check_dest may check after dlg_manage() */
static struct {
	uint64_t msg_key;
	af_hold_t *h;
} created;

/* a message of this process: its number and the process */
static uint64_t msg_key(const struct sip_msg *msg)
{
	return ((uint64_t)(uint32_t)msg->pid << 32) | msg->id;
}

/* a dialog reference as the core's id, and back */
static af_dlg_id_t dlg_id(struct dlg_cell *dlg)
{
	af_dlg_id_t id = {(uint64_t)(uintptr_t)dlg, 0};

	return id;
}

static struct dlg_cell *id_dlg(const af_dlg_id_t *id)
{
	return (struct dlg_cell *)(uintptr_t)id->a;
}

/* the guard ends the call of id (the reference is the guard's) */
static int dlg_end_call(const af_dlg_id_t *id)
{
	struct dlg_cell *dlg = id_dlg(id);
	int rc = dlgb.terminate_dlg(dlg, NULL);

	dlgb.release_dlg(dlg);
	return rc < 0 ? -1 : 1;
}

/* a reference the hold will not use */
static void dlg_drop(const af_dlg_id_t *id)
{
	dlgb.release_dlg(id_dlg(id));
}

/* announces an alert raised about a held call (this may be any process,
 * with another message at hand: a faked message shows its source) */
static void call_announce(const af_request_t *req, const af_verdict_t *v)
{
	af_kam_announce_from(&req->src_ip, 0, req, v);
}

/* the code of a callback's reply, 0 when none (a faked one) */
static int reply_code(struct dlg_cb_params *params)
{
	struct sip_msg *rpl = params ? params->rpl : NULL;

	if(!rpl || rpl == FAKED_REPLY || rpl->first_line.type != SIP_REPLY)
		return 0;
	return (int)rpl->first_line.u.reply.statuscode;
}

/* dialog events of a held call */
static void dlg_event(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *params)
{
	af_hold_t *h = params && params->param ? (af_hold_t *)*params->param
										   : NULL;
	struct dlg_cell *d;
	af_request_t req;
	af_verdict_t v;
	af_dlg_id_t id;
	int code;

	if(!h)
		return;
	switch(type) {
		case DLGCB_RESPONSE_FWDED:
			code = reply_code(params);
			if(code >= 180 && code < 190)
				af_module_hold_ring(h, code);
			return;
		case DLGCB_CONFIRMED_NA:
			af_module_hold_answer(h, NULL);
			return;
		case DLGCB_CONFIRMED:
			af_module_hold_answer(h, NULL);
			/* the ACK: a reference to the dialog (its context is set)
			 * for the guard to end the call with */
			d = af_module_hold_wants_id(h) && params->req
						? dlgb.get_dlg(params->req)
						: NULL;
			if(d && d != dlg) {
				dlgb.release_dlg(d);
				d = NULL;
			}
			if(d) {
				id = dlg_id(d);
				af_module_hold_answer(h, &id);
			}
			return;
		case DLGCB_FAILED:
			code = reply_code(params);
			break;
		default:
			code = 200;
	}
	if(af_module_hold_end(h, code, &req, &v))
		call_announce(&req, &v);
}

/* the dialog goes: whatever happened, the call ends and its slots go
 * back; then the hold is freed */
static void call_free(void *p)
{
	af_request_t req;
	af_verdict_t v;

	if(af_module_hold_end(p, 200, &req, &v))
		call_announce(&req, &v);
	af_module_hold_free(p);
}

/* ties the hold h to dlg; on failure its slots go back now. 0, -1 */
static int attach(struct dlg_cell *dlg, af_hold_t *h)
{
	int types = DLGCB_FAILED | DLGCB_TERMINATED | DLGCB_EXPIRED;

	if(!h)
		return -1;
	if(af_module_hold_follows(h))
		types |= DLGCB_RESPONSE_FWDED | DLGCB_CONFIRMED_NA
				 | DLGCB_CONFIRMED;
	if(dlgb.register_dlgcb(dlg, types, dlg_event, h, call_free) != 0) {
		LM_ERR("cannot register the dialog callback: releasing the call's"
			   " concurrency slots now\n");
		af_module_hold_free(h);
		return -1;
	}
	return 0;
}

/* the profile a check of msg named, "" for none */
static const char *checked_profile(const struct sip_msg *msg)
{
	const af_request_t *seen = af_kam_request_seen(msg);

	return seen && seen->memo ? seen->memo->profile : "";
}

/* a dialog was created: is it the call this process just checked, or
 * one to follow though af_check_dest did not see it? */
static void dlg_created(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *params)
{
	struct sip_msg *msg = params ? params->req : NULL;
	af_request_t req;
	af_held_t x;
	af_hold_t *h;

	if(!msg)
		return;
	h = af_module_hold_claim(msg_key(msg));
	if(h) {
		attach(dlg, h);
		return;
	}
	/* the profile is looked up before anything of msg is extracted */
	if(!af_module_follows_all(checked_profile(msg))
			|| af_kam_request(msg, &req) < 0 || !af_module_held_all(&req, &x))
		return;
	h = af_module_hold(&x);
	if(attach(dlg, h) == 0) {
		created.msg_key = msg_key(msg);
		created.h = h;
	}
}

int af_kam_dlg_init(int calls)
{
	if(load_dlg_api(&dlgb) != 0) {
		LM_INFO("dialog module not loaded: calls admitted by af_check_dest"
				" leave the concurrency counts after dest.max_duration, and"
				" call outcomes are not learned\n");
		return 0;
	}
	if(faked_msg_init() < 0) {
		LM_ERR("cannot initialize the faked message\n");
		return -1;
	}
	if(af_module_guard_init(calls, dlg_end_call, dlg_drop) < 0) {
		LM_ERR("out of shared memory\n");
		return -1;
	}
	if(dlgb.register_dlgcb(NULL, DLGCB_CREATED, dlg_created, NULL, NULL)
			!= 0) {
		LM_ERR("cannot register the dialog creation callback\n");
		return -1;
	}
	dlg_loaded = 1;
	return 0;
}

void af_kam_dest_checked(struct sip_msg *msg, const af_request_t *req,
		const af_verdict_t *v)
{
	struct dlg_cell *dlg;
	af_held_t x;

	if(!dlg_loaded)
		return;
	if(created.h && created.msg_key == msg_key(msg)) {
		/* followed already from its dialog's creation: now with what
		 * af_check_dest found and admitted (counted once) */
		af_module_hold_checked(created.h, req, v);
		created.h = NULL;
		return;
	}
	if(!af_module_held(req, v, &x))
		return;
	dlg = dlgb.get_dlg(msg);
	if(dlg) {
		attach(dlg, af_module_hold(&x));
		dlgb.release_dlg(dlg);
		return;
	}
	af_module_hold_later(msg_key(msg), &x);
}
