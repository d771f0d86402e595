/*
 * antifraud - calls through the dialog module: what af_check_dest
 * admitted into the concurrency sets (a ticket) and the call's outcome
 * record (af_outcome.h) live in one shared-memory object owned by the
 * call's dialog.
 *
 * The dialog's callbacks feed the record: a forwarded 18x rings
 * (post-dial delay), the 2xx answers (DLGCB_CONFIRMED_NA), a failure,
 * BYE or expiry ends the call: af_call_end_release() counts it into the
 * figures and gives the concurrency slots back in one store batch. The
 * slots go back at the latest when the dialog is destroyed. Without the
 * dialog module, or for a call whose dialog is never created, the slots
 * age out after dest.max_duration and the call is not counted.
 *
 * The dialog may exist when af_check_dest runs (dlg_manage() called
 * before it) or be created later in the script: then the call waits in
 * this process for the DLGCB_CREATED callback of the same message. A
 * profile with 'follow: all' also follows INVITEs af_check_dest did not
 * see, from their DLGCB_CREATED.
 *
 * Answered calls with a duration limit sit in a table of live calls
 * (analytics_calls entries, shared memory) that the timer walks: the
 * duration guard alerts when a call crosses its limit and, in enforce
 * mode, ends it through the dialog module (BYE both ways) and releases
 * its slots at once.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "core/dprint.h"
#include "core/fmsg.h"
#include "core/mem/shm_mem.h"
#include "core/parser/msg_parser.h"
#include "modules/dialog/dlg_load.h"
#include "af_kam.h"
#include "af_lock.h"
#include "af_outcome.h"

/* one call, in shared memory, owned by its dialog */
typedef struct af_kam_call {
	int released;        /* the ticket's slots went back */
	int has_ticket;
	int slot;            /* index in the live table, -1 none */
	struct dlg_cell *dlg; /* a reference to the dialog, held while an
						   * answered call with a limit is up, so that
						   * the guard can end it */
	af_dest_ticket_t t;
	af_call_t c;
} af_kam_call_t;

/* answered calls with a duration limit, for the timer */
typedef struct af_kam_live {
	af_lock_t lock; /* the table and every af_kam_call_t's fields */
	int n;
	int used;
	int next;       /* where a free slot is looked for first */
	uint64_t deadline[]; /* 0: free; per slot, then the calls */
} af_kam_live_t;

static struct dlg_binds dlgb;
static int dlg_loaded;
static int pending_warned;
static af_kam_live_t *live;
static af_kam_call_t **live_call; /* after live->deadline[] */
static int live_full_warned;

/* the call this process followed last from DLGCB_CREATED ('follow:
 * all'), which af_check_dest may check after dlg_manage() */
static struct {
	unsigned int msg_id;
	int msg_pid;
	af_kam_call_t *o;
} created;

/* the call of this process's last checked INVITE without a dialog yet */
static struct {
	int set;
	unsigned int msg_id;
	int msg_pid;
	af_kam_call_t k;
} pending;

int af_kam_dlg_live_init(int n)
{
	size_t size;

	if(n < 0)
		n = 0;
	size = sizeof(*live) + (size_t)n * sizeof(uint64_t)
		   + (size_t)n * sizeof(af_kam_call_t *);
	live = shm_malloc(size);
	if(!live) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(live, 0, size);
	if(af_lock_init(&live->lock) < 0) {
		shm_free(live);
		live = NULL;
		return -1;
	}
	live->n = n;
	live_call = (af_kam_call_t **)(live->deadline + n);
	return 0;
}

/* takes k out of the live table (under the lock) */
static void live_drop(af_kam_call_t *k)
{
	if(!live || k->slot < 0)
		return;
	live->deadline[k->slot] = 0;
	live_call[k->slot] = NULL;
	live->used--;
	k->slot = -1;
}

/* puts k (answered, with a limit) in the live table (under the lock) */
static void live_put(af_kam_call_t *k)
{
	uint64_t dl = af_call_deadline(&k->c);
	int i, j;

	if(!live || !dl || k->slot >= 0)
		return;
	for(j = 0; j < live->n; j++) {
		i = (live->next + j) % live->n;
		if(!live->deadline[i]) {
			live->deadline[i] = dl;
			live_call[i] = k;
			k->slot = i;
			live->used++;
			live->next = (i + 1) % live->n;
			return;
		}
	}
	if(!live_full_warned) {
		live_full_warned = 1;
		LM_WARN("analytics: %d calls with a duration limit are up: the"
				" duration guard does not watch more (raise"
				" analytics_calls; logged once)\n",
				live->n);
	}
}

/* announces v about k on a faked message that shows the caller's source
 * as $si (this may be any process, with another message at hand) */
static void call_announce(const af_kam_call_t *k, const af_verdict_t *v)
{
	af_request_t req;

	if(v->rc != AF_RC_ALERT && v->rc != AF_RC_BLOCK)
		return;
	af_call_request(&k->c, &req);
	af_kam_announce_from(&req.src_ip, 0, &req, v);
}

/* the call of k ended with code: counted, slots back, once */
static void call_end(af_kam_call_t *k, int code)
{
	af_call_t c;
	af_dest_ticket_t t;
	af_verdict_t v;
	int with_ticket;

	struct dlg_cell *d;

	af_lock(&live->lock);
	live_drop(k);
	d = k->dlg;
	k->dlg = NULL;
	c = k->c;
	k->c.flags |= AF_CALL_ENDED;
	with_ticket = k->has_ticket && !k->released;
	k->released = 1;
	t = k->t;
	af_unlock(&live->lock);
	if(d)
		dlgb.release_dlg(d);
	if(!(c.flags & AF_CALL_FOLLOWED) || (c.flags & AF_CALL_ENDED)) {
		if(with_ticket)
			af_dest_release(&t);
		return;
	}
	af_call_end_release(&c, code, af_now_ms(), with_ticket ? &t : NULL, &v);
	call_announce(k, &v);
}

/* the code of a callback's reply, 0 when none (a faked one) */
static int reply_code(struct dlg_cb_params *params)
{
	struct sip_msg *rpl = params ? params->rpl : NULL;

	if(!rpl || rpl == FAKED_REPLY || rpl->first_line.type != SIP_REPLY)
		return 0;
	return (int)rpl->first_line.u.reply.statuscode;
}

/* dialog events of a followed call */
static void dlg_event(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *params)
{
	af_kam_call_t *k =
			params && params->param ? (af_kam_call_t *)*params->param : NULL;
	struct dlg_cell *d;
	int code, want;

	if(!k)
		return;
	switch(type) {
		case DLGCB_RESPONSE_FWDED:
			code = reply_code(params);
			if(code >= 180 && code < 190) {
				af_lock(&live->lock);
				af_call_ring(&k->c, code, af_now_ms());
				af_unlock(&live->lock);
			}
			break;
		case DLGCB_CONFIRMED_NA:
		case DLGCB_CONFIRMED:
			af_lock(&live->lock);
			af_call_answer(&k->c, af_now_ms());
			want = type == DLGCB_CONFIRMED && !k->dlg
				   && !(k->c.flags & AF_CALL_ENDED) && af_call_deadline(&k->c);
			af_unlock(&live->lock);
			/* the ACK: a reference to the dialog (its context is set)
			 * for the guard to end the call with */
			d = want && params->req ? dlgb.get_dlg(params->req) : NULL;
			if(d && d != dlg) {
				dlgb.release_dlg(d);
				d = NULL;
			}
			af_lock(&live->lock);
			if(d && !k->dlg && !(k->c.flags & AF_CALL_ENDED)) {
				k->dlg = d;
				d = NULL;
			}
			live_put(k);
			af_unlock(&live->lock);
			if(d)
				dlgb.release_dlg(d);
			break;
		case DLGCB_FAILED:
			code = reply_code(params);
			call_end(k, code ? code : 487);
			break;
		case DLGCB_TERMINATED:
		case DLGCB_EXPIRED:
			call_end(k, 200);
			break;
	}
}

/* the dialog goes: whatever happened, the call ends and its slots go
 * back; then the object is freed */
static void call_free(void *p)
{
	af_kam_call_t *k = p;

	if(!k)
		return;
	call_end(k, 200);
	shm_free(k);
}

/* ties the call k (copied) to dlg; on failure the slots go back now.
 * Returns the object, NULL on failure */
static af_kam_call_t *attach(struct dlg_cell *dlg, const af_kam_call_t *k)
{
	af_kam_call_t *o = shm_malloc(sizeof(*o));
	int types = DLGCB_FAILED | DLGCB_TERMINATED | DLGCB_EXPIRED;

	if(!o) {
		SHM_MEM_ERROR;
		if(k->has_ticket)
			af_dest_release(&k->t);
		return NULL;
	}
	*o = *k;
	o->slot = -1;
	o->dlg = NULL;
	if(o->c.flags & AF_CALL_FOLLOWED)
		types |= DLGCB_RESPONSE_FWDED | DLGCB_CONFIRMED_NA
				 | DLGCB_CONFIRMED;
	if(dlgb.register_dlgcb(dlg, types, dlg_event, o, call_free) != 0) {
		LM_ERR("cannot register the dialog callback: releasing the call's"
			   " concurrency slots now\n");
		if(o->has_ticket)
			af_dest_release(&o->t);
		shm_free(o);
		return NULL;
	}
	return o;
}

/* 1 when the profile named by a check of msg (the default one when no
 * check named one) follows every INVITE ('follow: all'): looked up before
 * anything of msg is extracted */
static int follows_all(const struct sip_msg *msg)
{
	const af_request_t *seen = af_kam_request_seen(msg);
	const char *name = seen && seen->memo ? seen->memo->profile : "";
	const af_profile_t *p;
	af_rules_t *r;
	int all;

	r = af_core_acquire();
	p = name[0] ? af_rules_profile(r, name, strlen(name)) : r->default_profile;
	all = r->analytics.enabled && p && p->an->follow_all;
	af_core_release(r);
	return all;
}

/* a dialog was created: is it the call this process just checked, or
 * one to follow though af_check_dest did not see it? */
static void dlg_created(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *params)
{
	struct sip_msg *msg = params ? params->req : NULL;
	af_kam_call_t k;
	af_request_t req;

	if(!msg)
		return;
	if(pending.set && msg->id == pending.msg_id
			&& msg->pid == pending.msg_pid) {
		pending.set = 0;
		attach(dlg, &pending.k);
		return;
	}
	if(!follows_all(msg) || af_kam_request(msg, &req) < 0)
		return;
	memset(&k, 0, sizeof(k));
	if(af_call_start_all(&k.c, &req, req.memo ? req.memo->profile : NULL,
			   req.memo ? strlen(req.memo->profile) : 0, af_now_ms())
			!= 1)
		return;
	created.o = attach(dlg, &k);
	created.msg_id = msg->id;
	created.msg_pid = msg->pid;
}

int af_kam_dlg_init(void)
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
	af_kam_call_t k;

	if(!dlg_loaded)
		return;
	memset(&k, 0, sizeof(k));
	if(v->dest.ticket.total || v->dest.ticket.caller) {
		k.has_ticket = 1;
		k.t = v->dest.ticket;
	}
	if(created.o && created.msg_id == msg->id && created.msg_pid == msg->pid) {
		/* followed already from its dialog's creation: now with what
		 * af_check_dest found and admitted (counted once) */
		af_lock(&live->lock);
		if(k.has_ticket) {
			created.o->has_ticket = 1;
			created.o->t = k.t;
		}
		if(v->rc == AF_RC_ALLOW || v->rc == AF_RC_ALERT)
			af_call_refine(&created.o->c, req, v);
		af_unlock(&live->lock);
		created.o = NULL;
		return;
	}
	/* a call the check let through is followed (a refused one never
	 * becomes a call) */
	if(v->rc == AF_RC_ALLOW || v->rc == AF_RC_ALERT)
		af_call_start(&k.c, req, v, NULL, 0, af_now_ms());
	if(!k.has_ticket && !(k.c.flags & AF_CALL_FOLLOWED))
		return;
	dlg = dlgb.get_dlg(msg);
	if(dlg) {
		pending.set = 0;
		attach(dlg, &k);
		dlgb.release_dlg(dlg);
		return;
	}
	if(pending.set && !pending_warned
			&& (pending.msg_id != msg->id || pending.msg_pid != msg->pid)) {
		pending_warned = 1;
		LM_WARN("af_check_dest let a call through whose dialog was never"
				" created: its concurrency slots stay until"
				" dest.max_duration and its outcome is not learned. Call"
				" dlg_manage() for every call af_check_dest admits (logged"
				" once)\n");
	}
	pending.set = 1;
	pending.msg_id = msg->id;
	pending.msg_pid = msg->pid;
	pending.k = k;
}

/*
 * The duration guard, from the timer: calls past their deadline alert
 * once; in enforce mode the dialog module ends them (BYE both ways) and
 * their slots go back now.
 */
void af_kam_dlg_guard(void)
{
	uint64_t now = af_now_ms();
	af_verdict_t v;
	af_kam_call_t *k, copy;
	af_dest_ticket_t t;
	struct dlg_cell *dlg;
	int i, end, rel;

	if(!live || !live->used)
		return;
	for(i = 0; i < live->n; i++) {
		if(!live->deadline[i] || live->deadline[i] > now)
			continue;
		af_lock(&live->lock);
		k = live_call[i];
		if(!k || !live->deadline[i] || live->deadline[i] > now) {
			af_unlock(&live->lock);
			continue;
		}
		af_call_guard(&k->c, now, &v);
		live->deadline[i] = 0;
		live_call[i] = NULL;
		live->used--;
		k->slot = -1;
		copy = *k;
		end = v.rc == AF_RC_BLOCK && k->dlg;
		if(!end) {
			af_unlock(&live->lock);
			call_announce(&copy, &v);
			continue;
		}
		/* the reference is the guard's now */
		dlg = k->dlg;
		k->dlg = NULL;
		rel = k->has_ticket && !k->released;
		k->released = 1;
		t = k->t;
		af_unlock(&live->lock);
		call_announce(&copy, &v);
		LM_NOTICE("analytics: ending the call of %s to %s: %s\n",
				copy.c.caller, copy.c.number, v.detail);
		/* without the lock: the dialog module runs this call's
		 * callbacks from inside (DLGCB_TERMINATED) */
		if(dlgb.terminate_dlg(dlg, NULL) < 0)
			LM_ERR("analytics: the dialog module could not end the call"
				   " of %s\n",
					copy.c.caller);
		else
			af_core_count(AF_ST_CALLS_TERMINATED);
		dlgb.release_dlg(dlg);
		/* its slots go back now, not when the BYEs are answered */
		if(rel)
			af_dest_release(&t);
	}
}
