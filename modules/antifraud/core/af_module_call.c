/*
 * antifraud - calls held by their dialogs, for every glue whose dialog
 * callbacks report them (af_module.h, "What af_check_dest let
 * through"): a call's concurrency slots and outcome record in one
 * shared-memory object, the call waiting in its process for a dialog
 * created after the check, and the duration guard's table of answered
 * calls with a limit, walked by the timer.
 *
 * Locks: each hold has its own (its record, between the dialog's
 * callbacks in several processes); the guard's table has one, taken
 * before a hold's and never after it, so that the timer can judge a
 * call while no end can free its hold.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include "af_module.h"
#include "af_host.h"
#include "af_ip.h"
#include "af_lock.h"
#include "af_pool.h"
#include "af_outcome.h"
#include "af_rules.h"

/* what this process let through last, without a dialog yet */
static struct {
	int set;
	int warned;
	uint64_t msg_key;
	af_held_t x;
} af_mod_wait;

struct af_hold {
	af_lock_t lock; /* ended, id, x, between the dialog's callbacks */
	int ended;      /* the call ended: counted, slots back */
	int released;   /* its slots went back (the guard ended it) */
	int slot;       /* in the guard's table (its lock), -1 none */
	int has_id;
	af_dlg_id_t id; /* the dialog, for the guard to end it */
	af_held_t x;
};

/* answered held calls with a duration limit, for the guard (shm) */
static struct af_mod_guard {
	af_lock_t lock; /* the table and every hold's slot; taken before a
					 * hold's lock, never after */
	int n;
	int used;
	int next; /* where a free slot is looked for first */
	af_module_end_cb end;   /* the glue's, per process (the same code) */
	af_module_drop_cb drop;
	int full_warned;
	uint64_t *deadline; /* per slot, 0 free */
	af_hold_t **hold;   /* per slot */
} *af_mod_guard;

/* freed holds kept for the next calls: a hold is made and freed for
 * every call, and q_malloc's search grows with what churns in it */
static af_pool_t *af_mod_holds;

/* a call's end waiting for its batch */
typedef struct af_mod_end {
	int code;
	uint64_t end_ms;
	af_held_t x;
} af_mod_end_t;

/* the queue of call ends (end_batch_interval), a ring in shared memory */
static struct af_mod_ends {
	af_lock_t lock; /* head, n */
	uint32_t cap;
	uint32_t head; /* the oldest */
	uint32_t n;
	af_mod_end_t item[];
} *af_mod_ends;
static int af_mod_end_ms;

int af_module_ends_init(const af_params_t *p, char *err, size_t errlen)
{
	struct af_mod_ends *q;
	size_t size;

	af_module_ends_destroy();
	if(p->end_batch_interval < -1 || p->end_batch_interval > AF_END_INTERVAL_MAX
			|| p->end_batch_queue < 1 || p->end_batch_queue > AF_END_QUEUE_MAX) {
		snprintf(err, errlen,
				"end_batch_interval must be -1..%d ms and end_batch_queue"
				" 1..%d (got %d, %d)",
				AF_END_INTERVAL_MAX, AF_END_QUEUE_MAX, p->end_batch_interval,
				p->end_batch_queue);
		return -1;
	}
	af_mod_end_ms = p->end_batch_interval;
	if(af_mod_end_ms < 0)
		af_mod_end_ms = af_core_clustered() ? AF_END_INTERVAL_REDIS : 0;
	if(!af_mod_end_ms)
		return 0;
	size = sizeof(*q) + (size_t)p->end_batch_queue * sizeof(q->item[0]);
	q = af_host->shm_alloc(size);
	if(!q || af_lock_init(&q->lock) < 0) {
		if(q)
			af_host->shm_free(q);
		snprintf(err, errlen,
				"out of shared memory for end_batch_queue (%d calls, %zu"
				" bytes)",
				p->end_batch_queue, size);
		af_mod_end_ms = 0;
		return -1;
	}
	q->cap = (uint32_t)p->end_batch_queue;
	q->head = q->n = 0;
	af_mod_ends = q;
	return 0;
}

void af_module_ends_destroy(void)
{
	if(!af_mod_ends)
		return;
	af_lock_destroy(&af_mod_ends->lock);
	af_host->shm_free(af_mod_ends);
	af_mod_ends = NULL;
	af_mod_end_ms = 0;
}

int af_module_end_batch_ms(void)
{
	return af_mod_ends ? af_mod_end_ms : 0;
}

/* queues the end of x (code) for the next batch: 1, 0 no queue or full
 * (counted) */
static int af_mod_end_queue(const af_held_t *x, int code)
{
	struct af_mod_ends *q = af_mod_ends;
	af_mod_end_t *it;
	int ok = 0;

	if(!q)
		return 0;
	af_lock(&q->lock);
	if(q->n < q->cap) {
		it = &q->item[(q->head + q->n) % q->cap];
		it->code = code;
		it->end_ms = af_now_ms();
		it->x = *x;
		q->n++;
		ok = 1;
	}
	af_unlock(&q->lock);
	af_core_count(ok ? AF_ST_ENDS_QUEUED : AF_ST_ENDS_UNQUEUED);
	return ok;
}

static void af_mod_ends_run(af_module_alert_cb cb, int last);

/* a queued call's verdict: announced when it is an alert */
static void af_mod_end_alert(af_call_t *c, af_verdict_t *v, void *arg)
{
	af_module_alert_cb cb = (af_module_alert_cb)arg;
	af_request_t req;

	if(!cb || !c || (v->rc != AF_RC_ALERT && v->rc != AF_RC_BLOCK))
		return;
	af_call_request(c, &req);
	cb(&req, v);
}

/*
 * Ends the queued calls, AF_CALLS_END_MAX at a time (copied out of the
 * queue first: the workers queue meanwhile), at most the queue's size
 * per run so that ends queued faster than they go cannot hold the
 * process. last: at shutdown, without waiting for the lock.
 */
void af_module_ends_flush(af_module_alert_cb cb)
{
	af_mod_ends_run(cb, 0);
}

void af_module_ends_last(void)
{
	af_mod_ends_run(NULL, 1);
}

static void af_mod_ends_run(af_module_alert_cb cb, int last)
{
	static af_mod_end_t buf[AF_CALLS_END_MAX]; /* this process's */
	struct af_mod_ends *q = af_mod_ends;
	af_call_end_item_t items[AF_CALLS_END_MAX];
	uint32_t done = 0, n, i;

	if(!q || !__atomic_load_n(&q->n, __ATOMIC_RELAXED))
		return;
	while(done < q->cap) {
		if(!last)
			af_lock(&q->lock);
		else if(!af_lock_try(&q->lock)) {
			/* a process that held it is gone */
			AF_WARN("call ends: %u queued ends left (the queue's lock"
					" is held)\n",
					q->n);
			return;
		}
		n = q->n < AF_CALLS_END_MAX ? q->n : AF_CALLS_END_MAX;
		for(i = 0; i < n; i++)
			buf[i] = q->item[(q->head + i) % q->cap];
		q->head = (q->head + n) % q->cap;
		q->n -= n;
		af_unlock(&q->lock);
		if(!n)
			break;
		for(i = 0; i < n; i++) {
			items[i].c = &buf[i].x.c;
			items[i].code = buf[i].code;
			items[i].end_ms = buf[i].end_ms;
			items[i].t = buf[i].x.has_ticket ? &buf[i].x.t : NULL;
		}
		af_calls_end(items, (int)n, af_now_ms(), af_mod_end_alert, (void *)cb);
		af_core_count(AF_ST_END_BATCHES);
		done += n;
	}
}

void af_module_guard_destroy(void)
{
	af_pool_destroy(af_mod_holds);
	af_mod_holds = NULL;
	if(!af_mod_guard)
		return;
	af_lock_destroy(&af_mod_guard->lock);
	af_host->shm_free(af_mod_guard);
	af_mod_guard = NULL;
}

int af_module_guard_init(int n, af_module_end_cb end, af_module_drop_cb drop)
{
	size_t size = sizeof(*af_mod_guard)
				  + (size_t)n * (sizeof(uint64_t) + sizeof(af_hold_t *));
	struct af_mod_guard *g = af_host->shm_alloc(size);

	af_module_guard_destroy();
	if(!g)
		return -1;
	memset(g, 0, size);
	if(af_lock_init(&g->lock) < 0) {
		af_host->shm_free(g);
		return -1;
	}
	g->n = n;
	g->end = end;
	g->drop = drop;
	g->deadline = (uint64_t *)(g + 1);
	g->hold = (af_hold_t **)(g->deadline + n);
	af_mod_guard = g;
	/* without it, holds come from shared memory each time */
	af_mod_holds = af_pool_create(sizeof(af_hold_t), AF_POOL_KEEP);
	return 0;
}

/* puts h in the guard's table until deadline dl */
static void af_mod_guard_put(af_hold_t *h, uint64_t dl)
{
	struct af_mod_guard *g = af_mod_guard;
	int i, j;

	if(!g)
		return;
	af_lock(&g->lock);
	for(j = 0; j < g->n && h->slot < 0; j++) {
		i = (g->next + j) % g->n;
		if(g->deadline[i])
			continue;
		g->deadline[i] = dl;
		g->hold[i] = h;
		h->slot = i;
		g->used++;
		g->next = (i + 1) % g->n;
	}
	if(h->slot < 0 && !g->full_warned) {
		g->full_warned = 1;
		AF_WARN("analytics: %d calls with a duration limit are up: the"
				" duration guard does not watch more (raise"
				" analytics_calls; logged once)\n",
				g->n);
	}
	af_unlock(&g->lock);
}

/* takes slot i out of the table (under its lock) */
static void af_mod_guard_drop(struct af_mod_guard *g, int i)
{
	g->hold[i]->slot = -1;
	g->deadline[i] = 0;
	g->hold[i] = NULL;
	g->used--;
}

/* takes h out of the table if it is there */
static void af_mod_guard_leave(af_hold_t *h)
{
	if(!af_mod_guard)
		return;
	af_lock(&af_mod_guard->lock);
	if(h->slot >= 0)
		af_mod_guard_drop(af_mod_guard, h->slot);
	af_unlock(&af_mod_guard->lock);
}

int af_module_held(const af_request_t *req, const af_verdict_t *v,
		af_held_t *x)
{
	memset(x, 0, sizeof(*x));
	if(v->dest.ticket.total || v->dest.ticket.caller) {
		x->has_ticket = 1;
		x->t = v->dest.ticket;
	}
	/* a call the check let through is followed (a refused one never
	 * becomes a call) */
	if(v->rc == AF_RC_ALLOW || v->rc == AF_RC_ALERT)
		af_call_start(&x->c, req, v, NULL, 0, af_now_ms());
	return x->has_ticket || (x->c.flags & AF_CALL_FOLLOWED);
}

af_hold_t *af_module_hold(const af_held_t *x)
{
	af_hold_t *h = af_pool_get(af_mod_holds, sizeof(*h));

	af_mod_wait.set = 0; /* a call waiting before is left to age out */
	if(h && af_lock_init(&h->lock) < 0) {
		af_pool_put(af_mod_holds, h);
		h = NULL;
	}
	if(!h) {
		AF_ERR("out of shared memory: the call's concurrency slots are"
			   " given back now, its outcome is not learned\n");
		if(x->has_ticket)
			af_dest_release(&x->t);
		return NULL;
	}
	h->ended = 0;
	h->released = 0;
	h->slot = -1;
	h->has_id = 0;
	h->x = *x;
	return h;
}

int af_module_follows_all(const char *profile)
{
	const af_profile_t *p;
	af_rules_t *r = af_core_acquire();
	int all;

	p = profile && profile[0] ? af_rules_profile(r, profile, strlen(profile))
							  : r->default_profile;
	all = r->analytics.enabled && p && p->an->follow_all;
	af_core_release(r);
	return all;
}

int af_module_held_all(const af_request_t *req, af_held_t *x)
{
	const char *profile = req->memo ? req->memo->profile : "";

	memset(x, 0, sizeof(*x));
	return af_call_start_all(&x->c, req, profile, strlen(profile),
				   af_now_ms())
		   == 1;
}

void af_module_hold_checked(af_hold_t *h, const af_request_t *req,
		const af_verdict_t *v)
{
	int slots = v->dest.ticket.total || v->dest.ticket.caller, late;

	af_lock(&h->lock);
	late = h->ended;
	if(slots && !late) {
		h->x.has_ticket = 1;
		h->x.t = v->dest.ticket;
	}
	if(!late && (v->rc == AF_RC_ALLOW || v->rc == AF_RC_ALERT))
		af_call_refine(&h->x.c, req, v);
	af_unlock(&h->lock);
	/* ended meanwhile: the slots it took go back now */
	if(slots && late)
		af_dest_release(&v->dest.ticket);
}

void af_module_hold_later(uint64_t msg_key, const af_held_t *x)
{
	if(af_mod_wait.set && af_mod_wait.msg_key != msg_key
			&& !af_mod_wait.warned) {
		af_mod_wait.warned = 1;
		AF_WARN("af_check_dest let a call through whose dialog was never"
				" created: its concurrency slots stay until"
				" dest.max_duration and its outcome is not learned. Create"
				" the dialog of every call af_check_dest lets through"
				" (Kamailio: dlg_manage(), OpenSIPS: create_dialog())"
				" (logged once)\n");
	}
	af_mod_wait.set = 1;
	af_mod_wait.msg_key = msg_key;
	af_mod_wait.x = *x;
}

af_hold_t *af_module_hold_claim(uint64_t msg_key)
{
	if(!af_mod_wait.set || af_mod_wait.msg_key != msg_key)
		return NULL;
	af_mod_wait.set = 0;
	return af_module_hold(&af_mod_wait.x);
}

int af_module_hold_follows(const af_hold_t *h)
{
	return h && (h->x.c.flags & AF_CALL_FOLLOWED);
}

void af_module_hold_ring(af_hold_t *h, int code)
{
	if(!af_module_hold_follows(h))
		return;
	af_lock(&h->lock);
	af_call_ring(&h->x.c, code, af_now_ms());
	af_unlock(&h->lock);
}

/* the glue lets go of id (a reference the hold will not use) */
static void af_mod_drop(const af_dlg_id_t *id)
{
	if(af_mod_guard && af_mod_guard->drop)
		af_mod_guard->drop(id);
}

void af_module_hold_answer(af_hold_t *h, const af_dlg_id_t *id)
{
	uint64_t dl;
	int taken = 0;

	if(!af_module_hold_follows(h)) {
		if(id)
			af_mod_drop(id);
		return;
	}
	af_lock(&h->lock);
	af_call_answer(&h->x.c, af_now_ms());
	if(id && !h->has_id && !h->ended) {
		h->id = *id;
		h->has_id = 1;
		taken = 1;
	}
	dl = h->ended ? 0 : af_call_deadline(&h->x.c);
	af_unlock(&h->lock);
	if(id && !taken)
		af_mod_drop(id);
	if(dl)
		af_mod_guard_put(h, dl);
}

int af_module_hold_wants_id(af_hold_t *h)
{
	int want;

	if(!af_module_hold_follows(h))
		return 0;
	af_lock(&h->lock);
	want = !h->ended && !h->has_id && af_call_deadline(&h->x.c);
	af_unlock(&h->lock);
	return want;
}

int af_module_hold_end(af_hold_t *h, int code, af_request_t *req,
		af_verdict_t *v)
{
	af_held_t x;
	af_dlg_id_t id;
	int first, had_id;

	if(!h)
		return 0;
	af_lock(&h->lock);
	first = !h->ended;
	h->ended = 1;
	x = h->x;
	x.has_ticket = x.has_ticket && !h->released;
	h->released = 1;
	h->x.c.flags |= AF_CALL_ENDED; /* the guard leaves it */
	had_id = first && h->has_id;
	id = h->id;
	h->has_id = 0;
	af_unlock(&h->lock);
	if(!first)
		return 0;
	af_mod_guard_leave(h);
	if(had_id)
		af_mod_drop(&id);
	if(!(x.c.flags & AF_CALL_FOLLOWED)) {
		if(x.has_ticket && !af_mod_end_queue(&x, code))
			af_dest_release(&x.t);
		return 0;
	}
	if(af_mod_end_queue(&x, code ? code : 487))
		return 0;
	af_call_end_release(&x.c, code ? code : 487, af_now_ms(),
			x.has_ticket ? &x.t : NULL, v);
	if(v->rc != AF_RC_ALERT && v->rc != AF_RC_BLOCK)
		return 0;
	/* the request points into the hold's record, which stays as it is
	 * once ended */
	af_call_request(&h->x.c, req);
	return 1;
}

void af_module_hold_free(af_hold_t *h)
{
	af_request_t req;
	af_verdict_t v;

	if(!h)
		return;
	af_module_hold_end(h, 200, &req, &v);
	/* an answer that raced with the end may have put it back */
	af_mod_guard_leave(h);
	af_lock_destroy(&h->lock);
	af_pool_put(af_mod_holds, h);
}

/* an alert of af_outcome_timer: its subject as a request */
static void af_mod_timer_alert(const af_verdict_t *v, const char *subject,
		void *arg)
{
	af_module_alert_cb cb = (af_module_alert_cb)arg;
	af_request_t req;
	const char *at;

	memset(&req, 0, sizeof(req));
	req.initial = 1;
	if(af_ip_parse(subject, strlen(subject), &req.src_ip) < 0) {
		memset(&req.src_ip, 0, sizeof(req.src_ip));
		at = strchr(subject, '@');
		req.from_user.s = subject;
		req.from_user.len = at ? (size_t)(at - subject) : strlen(subject);
		if(at) {
			req.from_host.s = at + 1;
			req.from_host.len = strlen(at + 1);
		}
	}
	cb(&req, v);
}

/*
 * The guard's walk: each call past its deadline leaves the table and is
 * judged (af_call_guard) under the table's lock, so that its hold cannot
 * be freed meanwhile (an end takes the hold out under that lock first);
 * its alert is announced and its dialog ended without a lock (the
 * dialog's callbacks end the hold from inside).
 */
static void af_mod_guard_walk(af_module_alert_cb cb)
{
	struct af_mod_guard *g = af_mod_guard;
	uint64_t now = af_now_ms();
	af_call_t c;
	af_request_t req;
	af_verdict_t v;
	af_dlg_id_t id;
	af_dest_ticket_t t;
	af_hold_t *h;
	int i, stop, rel;

	if(!g || !__atomic_load_n(&g->used, __ATOMIC_RELAXED))
		return;
	for(i = 0; i < g->n; i++) {
		if(!g->deadline[i] || g->deadline[i] > now)
			continue;
		af_lock(&g->lock);
		h = g->hold[i];
		if(!h || !g->deadline[i] || g->deadline[i] > now) {
			af_unlock(&g->lock);
			continue;
		}
		af_mod_guard_drop(g, i);
		af_lock(&h->lock);
		af_call_guard(&h->x.c, now, &v);
		c = h->x.c;
		id = h->id;
		stop = v.rc == AF_RC_BLOCK && h->has_id && g->end;
		rel = 0;
		if(stop) {
			/* the id is the guard's now (end() lets go of it); the
			 * slots go back now, not when the BYEs are answered */
			h->has_id = 0;
			rel = h->x.has_ticket && !h->released;
			h->released = 1;
			t = h->x.t;
		}
		af_unlock(&h->lock);
		af_unlock(&g->lock);
		if(rel)
			af_dest_release(&t);
		if(v.rc != AF_RC_ALERT && v.rc != AF_RC_BLOCK)
			continue;
		af_call_request(&c, &req);
		cb(&req, &v);
		if(!stop)
			continue;
		AF_NOTICE("analytics: ending the call of %s to %s: %s\n", c.caller,
				c.number, v.detail);
		if(g->end(&id) < 0)
			AF_ERR("analytics: the dialog module could not end the call of"
				   " %s\n",
					c.caller);
		else
			af_core_count(AF_ST_CALLS_TERMINATED);
	}
}

void af_module_outcome_timer(af_module_alert_cb cb)
{
	af_mod_guard_walk(cb);
	af_outcome_timer(af_now_ms(), af_mod_timer_alert, (void *)cb);
}
