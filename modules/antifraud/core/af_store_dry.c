/*
 * antifraud - dry runs over any store backend (af_store_exec_dry in
 * af_store.h): the batch's reads are run, its writes are computed, not
 * done.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "af_store.h"

/* what ban_list is asked to find */
typedef struct dry_find {
	const char *key;
	size_t len;
	int found;
	af_ban_t ban;
} dry_find_t;

static int dry_ban_cb(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	dry_find_t *f = arg;

	if(key_len != f->len || memcmp(key, f->key, key_len) != 0)
		return 0;
	f->found = 1;
	f->ban = *ban;
	return 1;
}

static int same_key(const af_op_t *a, const af_op_t *b)
{
	return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* whether op (a WIN_HIT or WIN_MULTI) would have set a ban */
static int op_banned(const af_op_t *op)
{
	int w;

	if(op->type == AF_OP_WIN_HIT)
		return op->u.win.banned;
	if(op->type != AF_OP_WIN_MULTI)
		return 0;
	for(w = 0; w < op->u.wm.nwin && w < AF_WIN_MULTI_MAX; w++)
		if(op->u.wm.w[w].banned)
			return 1;
	return 0;
}

/* the key a hit bans: its ban_key, else its own */
static void ban_target(const af_op_t *op, const char **k, size_t *len)
{
	const char *bk = op->type == AF_OP_WIN_HIT ? op->u.win.ban_key
											   : op->u.wm.ban_key;

	*k = bk ? bk : op->key;
	*len = !bk ? op->key_len
			   : op->type == AF_OP_WIN_HIT ? op->u.win.ban_key_len
										   : op->u.wm.ban_key_len;
}

/* 1 when an earlier hit of the batch would have banned f's key */
static int banned_key(const af_op_t *ops, int i, const dry_find_t *f)
{
	const char *k;
	size_t len;
	int j;

	for(j = 0; j < i; j++) {
		if(!op_banned(&ops[j]))
			continue;
		ban_target(&ops[j], &k, &len);
		if(len == f->len && memcmp(k, f->key, len) == 0)
			return 1;
	}
	return 0;
}

/*
 * Whether hit ops[i] would set a ban now (none live, none set by an
 * earlier hit of the batch): 1, 0, -1 when the store cannot list bans.
 */
static int would_ban(af_store_t *s, const af_op_t *ops, int i,
		uint64_t now_ms)
{
	dry_find_t f;

	memset(&f, 0, sizeof(f));
	ban_target(&ops[i], &f.key, &f.len);
	if(s->ops->ban_list(s, dry_ban_cb, &f, now_ms) < 0)
		return -1;
	return !f.found && !banned_key(ops, i, &f);
}

/*
 * The answer of WIN_MULTI ops[i] from its read ro: per window, what the
 * batch's earlier WIN_MULTIs on its key counted, plus n when it adds
 * there (see AF_OP_WIN_MULTI's if_new), and whether it would ban or
 * gate. Returns -1 when bans cannot be listed, else whether a gate was
 * passed.
 */
static int dry_wmul(af_store_t *s, af_op_t *ops, int i, const af_op_t *ro,
		uint64_t now_ms)
{
	af_op_t *op = &ops[i];
	const af_op_t *r = op->u.wm.if_new > 0 && op->u.wm.if_new <= i
							   ? &ops[op->u.wm.if_new - 1]
							   : NULL;
	af_win_one_t *w;
	int j, k, e, b, ban = -1, gated = 0;
	uint32_t base, add;

	for(j = 0; j < op->u.wm.nwin && j < AF_WIN_MULTI_MAX; j++) {
		w = &op->u.wm.w[j];
		base = ro->u.wm.w[j].count;
		for(e = 0; e < i; e++) {
			if(ops[e].type != AF_OP_WIN_MULTI || ops[e].status != 0
					|| !same_key(&ops[e], op))
				continue;
			k = af_store_wm_find(&ops[e], w->window_s);
			if(k >= 0)
				base = ops[e].u.wm.w[k].count;
		}
		add = op->u.wm.n;
		if(r) {
			k = af_store_wm_find(r, w->window_s);
			if(r->type != AF_OP_WIN_MULTI || r->status != 0 || k < 0
					|| !r->u.wm.w[k].added
					|| r->u.wm.w[k].count != r->u.wm.n)
				add = 0;
		}
		w->count = base + add;
		w->added = add > 0;
		w->banned = 0;
		if(w->ban_threshold && add && w->count >= w->ban_threshold
				&& ban < 0) {
			b = would_ban(s, ops, i, now_ms);
			if(b < 0)
				return -1;
			w->banned = b;
			ban = b;
		}
		if(w->gate && w->count > w->gate)
			gated = 1;
	}
	return gated;
}

int af_store_exec_dry(af_store_t *s, af_op_t *ops, int n, uint64_t now_ms)
{
	af_op_t ro[AF_STORE_DRY_MAX];
	int map[AF_STORE_DRY_MAX];
	uint32_t base[AF_STORE_DRY_MAX];
	dry_find_t f;
	int i, j, m = 0, rc = 0, stopped = 0, refuse = 0, ref;
	uint32_t add;

	if(n < 0 || n > AF_STORE_DRY_MAX)
		return -1;
	/* the reads, as one batch */
	for(i = 0; i < n; i++) {
		map[i] = -1;
		switch(ops[i].type) {
			case AF_OP_WIN_HIT:
				ro[m] = ops[i];
				ro[m].u.win.n = 0;
				ro[m].u.win.ban_threshold = 0;
				ro[m].u.win.gate = 0;
				ro[m].u.win.if_new = 0;
				map[i] = m++;
				break;
			case AF_OP_WIN_MULTI:
				ro[m] = ops[i];
				ro[m].u.wm.n = 0;
				ro[m].u.wm.if_new = 0;
				for(j = 0; j < AF_WIN_MULTI_MAX; j++) {
					ro[m].u.wm.w[j].ban_threshold = 0;
					ro[m].u.wm.w[j].gate = 0;
				}
				map[i] = m++;
				break;
			case AF_OP_HIST_PUSH:
				ro[m] = ops[i];
				ro[m].u.hist.read_only = 1;
				map[i] = m++;
				break;
			case AF_OP_CONC_ADD:
			case AF_OP_CONC_COUNT:
				ro[m] = ops[i];
				ro[m].type = AF_OP_CONC_COUNT;
				map[i] = m++;
				break;
			default:
				break;
		}
	}
	if(m)
		rc = af_store_exec(s, ro, m, now_ms);
	/* the answers, in the batch's order */
	for(i = 0; i < n; i++) {
		af_op_t *op = &ops[i];

		if(stopped) {
			op->status = 1;
			continue;
		}
		if(map[i] >= 0 && ro[map[i]].status != 0) {
			op->status = ro[map[i]].status;
			continue;
		}
		op->status = 0;
		switch(op->type) {
			case AF_OP_BAN_GET:
				memset(&f, 0, sizeof(f));
				f.key = op->key;
				f.len = op->key_len;
				if(s->ops->ban_list(s, dry_ban_cb, &f, now_ms) < 0) {
					op->status = -1;
					rc = -1;
					break;
				}
				op->u.ban_get.found = f.found;
				if(f.found)
					op->u.ban_get.ban = f.ban;
				if(f.found && op->u.ban_get.stop)
					stopped = 1;
				break;
			case AF_OP_WIN_HIT:
				base[i] = ro[map[i]].u.win.count;
				/* what the batch's earlier hits on this key added */
				for(j = 0; j < i; j++)
					if(ops[j].type == AF_OP_WIN_HIT && ops[j].status == 0
							&& same_key(&ops[j], op)
							&& ops[j].u.win.window_s == op->u.win.window_s)
						base[i] = ops[j].u.win.count;
				add = op->u.win.n;
				ref = op->u.win.if_new;
				if(ref > 0 && ref <= i && ops[ref - 1].type == AF_OP_WIN_HIT
						&& ops[ref - 1].u.win.count != ops[ref - 1].u.win.n)
					add = 0;
				op->u.win.count = base[i] + add;
				op->u.win.banned = 0;
				if(op->u.win.ban_threshold && add
						&& op->u.win.count >= op->u.win.ban_threshold) {
					/* a ban is written only where there is none */
					ref = would_ban(s, ops, i, now_ms);
					if(ref < 0) {
						op->status = -1;
						rc = -1;
						break;
					}
					op->u.win.banned = ref;
				}
				if(op->u.win.gate && op->u.win.count > op->u.win.gate)
					refuse = 1;
				break;
			case AF_OP_WIN_MULTI:
				ref = af_store_wm_check(ops, i) < 0
							  ? -1
							  : dry_wmul(s, ops, i, &ro[map[i]], now_ms);
				if(ref < 0) {
					op->status = -1;
					rc = -1;
				} else if(ref) {
					refuse = 1;
				}
				break;
			case AF_OP_HIST_PUSH:
				op->u.hist.n_prev = ro[map[i]].u.hist.n_prev;
				memcpy(op->u.hist.prev, ro[map[i]].u.hist.prev,
						sizeof(op->u.hist.prev));
				break;
			case AF_OP_CONC_ADD:
				op->u.conc.count = ro[map[i]].u.conc.count;
				op->u.conc.full = op->u.conc.limit
								  && op->u.conc.count >= op->u.conc.limit;
				if(op->u.conc.full)
					refuse = 1;
				break;
			case AF_OP_CONC_COUNT:
				op->u.conc.count = ro[map[i]].u.conc.count;
				break;
			case AF_OP_BAN_DEL:
				op->u.ban_del.found = 0;
				break;
			case AF_OP_CONC_DEL:
				op->u.conc.found = 0;
				break;
			default:
				break;
		}
	}
	/* the CONC_ADDs of a batch admit together, or none does */
	for(i = 0; i < n; i++) {
		if(ops[i].type != AF_OP_CONC_ADD || ops[i].status != 0)
			continue;
		ops[i].u.conc.admitted = !refuse;
		if(!refuse)
			ops[i].u.conc.count++;
	}
	return rc;
}
