/*
 * antifraud - what the store's interface (af_store.h) owns beside the
 * backends: the names of its results, the checks of a WIN_MULTI and a
 * FIG_MULTI, the WIN_MULTI's expansion into WIN_HITs for the backends
 * that do not run it natively.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "af_store.h"

#define EXPAND_KEYS 16384 /* bytes of derived keys per expanded batch */

/* why af_store_exec_expand keeps an op from the backend */
enum { INV_KEY = 1, INV_HIT, INV_MULTI };

/*
 * Puts in place of invalid op (kind why) a WIN_HIT the backend finds
 * invalid too, so that it answers it as it answers any invalid op: failed
 * and counted, or skipped after a stop.
 */
static void expand_invalid(af_op_t *h, const af_op_t *op, int why)
{
	memset(h, 0, sizeof(*h));
	h->type = AF_OP_WIN_HIT;
	if(why == INV_KEY) {
		h->key_len = op->key_len; /* a NULL key with a length */
		return;
	}
	h->key = ""; /* window_s 0 */
}

/* A sentence for rc, a result of af_store_exec. */
const char *af_store_strerror(int rc)
{
	switch(rc) {
		case AF_STORE_OK:
			return "done";
		case AF_STORE_FAILED:
			return "an operation failed";
		case AF_STORE_UNAVAILABLE:
			return "the store could not be reached in time";
	}
	return "unknown result";
}

int af_store_wm_find(const af_op_t *op, uint32_t window_s)
{
	int j;

	for(j = 0; j < op->u.wm.nwin && j < AF_WIN_MULTI_MAX; j++)
		if(op->u.wm.w[j].window_s == window_s)
			return j;
	return -1;
}

int af_store_wm_check(const af_op_t *ops, int i)
{
	const af_op_t *op = &ops[i], *r;
	int j, k, ref = op->u.wm.if_new;

	if(op->u.wm.nwin < 1 || op->u.wm.nwin > AF_WIN_MULTI_MAX)
		return -1;
	if(ref && (ref < 1 || ref > i || ops[ref - 1].type != AF_OP_WIN_MULTI))
		return -1;
	r = ref ? &ops[ref - 1] : NULL;
	for(j = 0; j < op->u.wm.nwin; j++) {
		if(op->u.wm.w[j].window_s == 0
				|| (op->u.wm.w[j].ban_threshold && op->u.wm.ban_s == 0))
			return -1;
		for(k = 0; k < j; k++)
			if(op->u.wm.w[k].window_s == op->u.wm.w[j].window_s)
				return -1;
		if(r && af_store_wm_find(r, op->u.wm.w[j].window_s) < 0)
			return -1;
	}
	return 0;
}

int af_store_fig_check(const af_op_t *op)
{
	int j, k;

	if(op->u.fig.nwin < 1 || op->u.fig.nwin > AF_FIG_WIN_MAX)
		return -1;
	for(j = 0; j < op->u.fig.nwin; j++) {
		if(op->u.fig.w[j].window_s == 0)
			return -1;
		for(k = 0; k < j; k++)
			if(op->u.fig.w[k].window_s == op->u.fig.w[j].window_s)
				return -1;
	}
	return 0;
}

void af_store_fig_clear(af_op_t *op)
{
	int j;

	for(j = 0; j < AF_FIG_WIN_MAX; j++)
		memset(op->u.fig.w[j].count, 0, sizeof(op->u.fig.w[j].count));
}

/* appends "|" and the decimal window_s to key[0..len) into buf (room
 * left: *room); returns the length, 0 when it does not fit */
static size_t expand_key(char *buf, size_t *room, const char *key,
		size_t len, uint32_t window_s)
{
	char t[10];
	int d = 10;

	do {
		t[--d] = (char)('0' + window_s % 10);
		window_s /= 10;
	} while(window_s);
	if(len + 1 + (size_t)(10 - d) > *room)
		return 0;
	if(len)
		memcpy(buf, key, len);
	buf[len] = '|';
	memcpy(buf + len + 1, t + d, (size_t)(10 - d));
	len += 1 + (size_t)(10 - d);
	*room -= len;
	return len;
}

void af_store_wm_clear(af_op_t *op)
{
	int j;

	for(j = 0; j < AF_WIN_MULTI_MAX; j++) {
		op->u.wm.w[j].count = 0;
		op->u.wm.w[j].banned = 0;
		op->u.wm.w[j].added = 0;
	}
}

/*
 * The answers of the WIN_HITs x[first..) that ran WIN_MULTI ops[i],
 * gathered back into it: counts, bans, what was added, the status (-1
 * when a part failed, 1 when all were skipped: the answers are left as
 * they were, as a backend leaves a skipped op's).
 */
static void expand_gather(af_op_t *ops, int i, const af_op_t *x,
		int first, const unsigned char *inv)
{
	af_op_t *op = &ops[i];
	const af_op_t *h, *r;
	int j, k, ref = op->u.wm.if_new, skipped = 0, failed = 0;

	for(j = 0; j < op->u.wm.nwin; j++)
		skipped += x[first + j].status == 1;
	if(skipped == op->u.wm.nwin) {
		op->status = 1;
		return;
	}
	af_store_wm_clear(op);
	for(j = 0; j < op->u.wm.nwin; j++) {
		h = &x[first + j];
		op->u.wm.w[j].count = h->u.win.count;
		op->u.wm.w[j].banned = h->u.win.banned;
		op->u.wm.w[j].added = h->status == 0 && op->u.wm.n > 0;
		if(ref && op->u.wm.w[j].added) {
			/* the window was new in the named op, or this one only read */
			r = &ops[ref - 1];
			k = af_store_wm_find(r, op->u.wm.w[j].window_s);
			op->u.wm.w[j].added = !inv[ref - 1] && k >= 0
								  && r->u.wm.w[k].added
								  && r->u.wm.w[k].count == r->u.wm.n;
		}
		failed |= h->status < 0;
	}
	op->status = failed ? -1 : 0;
}

int af_store_exec_expand(af_store_t *s, af_op_t *ops, int n,
		uint64_t now_ms)
{
	af_op_t x[AF_STORE_EXPAND_MAX], *op, *h;
	int first_of[AF_STORE_EXPAND_MAX];
	char keys[EXPAND_KEYS], *kp = keys;
	size_t room = sizeof(keys), len;
	unsigned char inv[AF_STORE_EXPAND_MAX];
	uint32_t wn;
	int i, j, k, m = 0, ref, rc;

	for(i = 0; ops && i < n; i++)
		if(ops[i].type == AF_OP_WIN_MULTI)
			break;
	if(!ops || i >= n)
		return s->ops->exec(s, ops, n, now_ms);
	if(n > AF_STORE_EXPAND_MAX) {
		for(i = 0; i < n; i++)
			ops[i].status = -1;
		return AF_STORE_FAILED;
	}
	for(i = 0; i < n; i++) {
		op = &ops[i];
		first_of[i] = -1;
		inv[i] = 0;
		if(op->type != AF_OP_WIN_MULTI) {
			ref = op->type == AF_OP_WIN_HIT ? op->u.win.if_new : 0;
			if(m == AF_STORE_EXPAND_MAX)
				goto overflow;
			if(ref
					&& (ref < 1 || ref > i
							|| ops[ref - 1].type != AF_OP_WIN_HIT)) {
				inv[i] = INV_HIT; /* a WIN_HIT names an earlier WIN_HIT */
				expand_invalid(&x[m], op, INV_HIT);
				first_of[i] = m++;
				continue;
			}
			first_of[i] = m;
			x[m] = *op;
			if(ref && !inv[ref - 1])
				x[m].u.win.if_new = first_of[ref - 1] + 1;
			else if(ref) {
				x[m].u.win.if_new = 0; /* the op named failed: only read */
				x[m].u.win.n = 0;
			}
			m++;
			continue;
		}
		if(m == AF_STORE_EXPAND_MAX)
			goto overflow;
		if(op->key == NULL && op->key_len)
			inv[i] = INV_KEY;
		else if(af_store_wm_check(ops, i) < 0
				|| m + op->u.wm.nwin > AF_STORE_EXPAND_MAX)
			inv[i] = INV_MULTI;
		if(inv[i]) {
			expand_invalid(&x[m], op, inv[i]);
			first_of[i] = m++;
			continue;
		}
		ref = op->u.wm.if_new;
		first_of[i] = m;
		for(j = 0; j < op->u.wm.nwin; j++) {
			len = expand_key(
					kp, &room, op->key, op->key_len, op->u.wm.w[j].window_s);
			if(!len) {
				inv[i] = INV_MULTI;
				m -= j;
				expand_invalid(&x[m], op, INV_MULTI);
				first_of[i] = m++;
				break;
			}
			h = &x[m++];
			memset(h, 0, sizeof(*h));
			h->type = AF_OP_WIN_HIT;
			h->key = kp;
			h->key_len = len;
			kp += len;
			h->u.win.window_s = op->u.wm.w[j].window_s;
			h->u.win.n = op->u.wm.n;
			h->u.win.gate = op->u.wm.w[j].gate;
			h->u.win.ban_threshold = op->u.wm.w[j].ban_threshold;
			h->u.win.ban_s = op->u.wm.ban_s;
			/* no ban_key: the subject's key, not the window's */
			h->u.win.ban_key = op->u.wm.ban_key ? op->u.wm.ban_key : op->key;
			h->u.win.ban_key_len =
					op->u.wm.ban_key ? op->u.wm.ban_key_len : op->key_len;
			h->u.win.ban_reason = op->u.wm.ban_reason;
			if(ref) {
				k = af_store_wm_find(&ops[ref - 1], h->u.win.window_s);
				if(!inv[ref - 1])
					h->u.win.if_new = first_of[ref - 1] + k + 1;
				else
					h->u.win.n = 0; /* the named op failed: only read */
			}
		}
	}
	rc = m ? s->ops->exec(s, x, m, now_ms) : AF_STORE_OK;
	for(i = 0; i < n; i++) {
		if(inv[i]) {
			/* answered as the backend answered its stand-in: skipped
			 * after a stop, else failed, its answers cleared */
			ops[i].status = x[first_of[i]].status;
			if(ops[i].status == 1)
				continue;
			ops[i].status = -1;
			if(inv[i] == INV_MULTI)
				af_store_wm_clear(&ops[i]);
			if(inv[i] == INV_HIT) {
				ops[i].u.win.count = 0;
				ops[i].u.win.banned = 0;
			}
			continue;
		}
		if(ops[i].type == AF_OP_WIN_MULTI) {
			expand_gather(ops, i, x, first_of[i], inv);
			continue;
		}
		/* the op as the backend answered it, with its own inputs */
		if(ops[i].type == AF_OP_WIN_HIT) {
			k = ops[i].u.win.if_new;
			wn = ops[i].u.win.n;
			ops[i] = x[first_of[i]];
			ops[i].u.win.if_new = k;
			ops[i].u.win.n = wn;
		} else {
			ops[i] = x[first_of[i]];
		}
	}
	return rc;
overflow:
	for(i = 0; i < n; i++)
		ops[i].status = -1;
	return AF_STORE_FAILED;
}
