/*
 * antifraud - the Redis store's batches: the ops of one af_store_exec() call
 * checked (as the shm backend checks them) and laid out as the batch
 * script's KEYS and ARGV (lua/af_store_redis_exec.lua), and the script's
 * one-string answer read back into the ops' outputs and statuses (also in
 * three steps, af_rds_encode, af_rds_decode, af_rds_unavailable, for a
 * caller that sends the command itself).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "af_host.h"
#include "af_store_redis_int.h"

/* op codes in ARGV; 0: an invalid op, 9: a CONC_ADD of an invalid group */
enum rds_code {
	RDS_C_INVALID = 0,
	RDS_C_BAN_GET = 1,
	RDS_C_BAN_SET = 2,
	RDS_C_BAN_DEL = 3,
	RDS_C_WIN_HIT = 4,
	RDS_C_HIST_PUSH = 5,
	RDS_C_CONC_ADD = 6,
	RDS_C_CONC_DEL = 7,
	RDS_C_CONC_COUNT = 8,
	RDS_C_CONC_SKIP = 9,
	RDS_C_FIG_MULTI = 10,
	RDS_C_WIN_MULTI = 11,
	/* invalid, outputs left as they are (NULL key, unknown type); never
	 * sent: goes as RDS_C_INVALID */
	RDS_C_INVALID_KEEP = -1
};

/* the argument lists of the call being made, per process (callers
 * hold the connection table's mutex: af_rds_enter) */
static rds_argv_t rds_keys, rds_args, rds_strs;
const char **af_rds_av;
size_t *af_rds_avlen;
static int rds_avcap;
static signed char *rds_code;
static int rds_code_cap;

/* ---- argument lists ---- */

/* Empties a. */
static void av_reset(rds_argv_t *a)
{
	a->len = 0;
	a->n = 0;
	a->oom = 0;
}

/*
 * Appends an argument of len bytes to a and returns where to write them,
 * or NULL when out of memory (a->oom is then set: later calls fail too).
 */
static char *av_room(rds_argv_t *a, size_t len)
{
	size_t cap;
	char *nb;
	size_t *no, *nl;
	int nc;

	if(a->oom)
		return NULL;
	if(a->n == a->ncap) {
		nc = a->ncap ? a->ncap * 2 : 64;
		no = realloc(a->off, nc * sizeof(*no));
		if(!no)
			goto oom;
		a->off = no;
		nl = realloc(a->alen, nc * sizeof(*nl));
		if(!nl)
			goto oom;
		a->alen = nl;
		a->ncap = nc;
	}
	if(!a->buf || a->cap - a->len < len) {
		cap = a->cap ? a->cap : 1024;
		while(cap - a->len < len) {
			if(cap > SIZE_MAX / 2)
				goto oom;
			cap *= 2;
		}
		nb = realloc(a->buf, cap);
		if(!nb)
			goto oom;
		a->buf = nb;
		a->cap = cap;
	}
	a->off[a->n] = a->len;
	a->alen[a->n] = len;
	a->n++;
	a->len += len;
	return a->buf + a->off[a->n - 1];
oom:
	a->oom = 1;
	return NULL;
}

/*
 * Extends the last argument of a (there is one) by len bytes and returns
 * where to write them, or NULL when out of memory (a->oom set).
 */
static char *av_more(rds_argv_t *a, size_t len)
{
	char *p;

	if(a->oom)
		return NULL;
	a->n--;
	a->len -= a->alen[a->n];
	p = av_room(a, a->alen[a->n] + len);
	if(!p)
		return NULL;
	return p + a->alen[a->n - 1] - len;
}

/* Appends the bytes s[0..len) (s may be NULL when len is 0). */
static void av_add(rds_argv_t *a, const char *s, size_t len)
{
	char *p = av_room(a, len);

	if(p && len)
		memcpy(p, s, len);
}

/* Appends v in decimal. */
static void av_addu(rds_argv_t *a, uint64_t v)
{
	char num[24];
	int len = snprintf(num, sizeof(num), "%" PRIu64, v);

	av_add(a, num, (size_t)len);
}

/* Appends the key <prefix><layout><kind>:{<subject>} (RDS_LAYOUT). */
static void av_key(rds_argv_t *a, const af_store_redis_t *st,
		const char *kind, const char *subj, size_t len)
{
	size_t kl = strlen(kind), ll = sizeof(RDS_LAYOUT) - 1;
	char *p;

	if(len > SIZE_MAX - st->plen - ll - kl - 3) {
		a->oom = 1;
		return;
	}
	p = av_room(a, st->plen + ll + kl + 3 + len);
	if(!p)
		return;
	memcpy(p, st->cfg.prefix, st->plen);
	p += st->plen;
	memcpy(p, RDS_LAYOUT, ll);
	p += ll;
	memcpy(p, kind, kl);
	p += kl;
	*p++ = ':';
	*p++ = '{';
	if(len)
		memcpy(p, subj, len);
	p[len] = '}';
}

/*
 * Lays out the command head[0..nhead), then the keys, args and strs
 * lists, into af_rds_av/af_rds_avlen. Returns the argument count, -1 when out of
 * memory.
 */
static int av_final(const char **head, const size_t *headlen, int nhead,
		rds_argv_t *keys, rds_argv_t *args, rds_argv_t *strs)
{
	rds_argv_t *l[3] = {keys, args, strs};
	int total, i, j = 0, x;
	const char **nav;
	size_t *nlen;

	if(keys->oom || args->oom || strs->oom)
		return -1;
	total = nhead + keys->n + args->n + strs->n;
	if(total > rds_avcap) {
		nav = realloc(af_rds_av, total * sizeof(*nav));
		if(!nav)
			return -1;
		af_rds_av = nav;
		nlen = realloc(af_rds_avlen, total * sizeof(*nlen));
		if(!nlen)
			return -1;
		af_rds_avlen = nlen;
		rds_avcap = total;
	}
	for(i = 0; i < nhead; i++, j++) {
		af_rds_av[j] = head[i];
		af_rds_avlen[j] = headlen[i];
	}
	for(x = 0; x < 3; x++)
		for(i = 0; i < l[x]->n; i++, j++) {
			af_rds_av[j] = l[x]->buf + l[x]->off[i];
			af_rds_avlen[j] = l[x]->alen[i];
		}
	return total;
}

/* ---- the batch ---- */

/* Grows rds_code to n entries; 0, -1 when out of memory. */
static int rds_code_room(int n)
{
	signed char *p;

	if(n <= rds_code_cap)
		return 0;
	p = realloc(rds_code, (size_t)n);
	if(!p)
		return -1;
	rds_code = p;
	rds_code_cap = n;
	return 0;
}

/* Whether a window of WIN_MULTI op has a gate and its count is over it. */
static int rds_wm_gated(const af_op_t *op)
{
	int j;

	for(j = 0; j < op->u.wm.nwin && j < AF_WIN_MULTI_MAX; j++)
		if(op->u.wm.w[j].gate > 0 && op->u.wm.w[j].count > op->u.wm.w[j].gate)
			return 1;
	return 0;
}

/*
 * Checks ops[0..n) as shm does: code[i] gets the op's code, or
 * RDS_C_INVALID (outputs cleared as shm clears them) or
 * RDS_C_INVALID_KEEP (outputs left); the CONC_ADDs of an invalid group
 * (over RDS_CONC_MAX, a NULL key or member with a length, ttl_s 0) all get
 * RDS_C_CONC_SKIP and *group_bad is set. *pregated tells whether an
 * invalid WIN_HIT left with its count (a NULL key) is over its gate.
 * Returns whether any op needs the server.
 */
int af_rds_check(const af_op_t *ops, int n, signed char *code,
		int *group_bad, int *pregated)
{
	const af_op_t *op;
	int i, ref, nconc = 0, need = 0;

	*group_bad = 0;
	*pregated = 0;
	for(i = 0; i < n; i++) {
		op = &ops[i];
		if(op->type == AF_OP_CONC_ADD) {
			code[i] = RDS_C_CONC_ADD;
			if(++nconc > RDS_CONC_MAX || (op->key == NULL && op->key_len)
					|| (op->u.conc.member == NULL && op->u.conc.member_len)
					|| op->u.conc.ttl_s == 0)
				*group_bad = 1;
			continue;
		}
		if(op->key == NULL && op->key_len) {
			code[i] = RDS_C_INVALID_KEEP;
			if(op->type == AF_OP_WIN_HIT && op->u.win.gate > 0
					&& op->u.win.count > op->u.win.gate)
				*pregated = 1;
			if(op->type == AF_OP_WIN_MULTI && rds_wm_gated(op))
				*pregated = 1;
			continue;
		}
		code[i] = RDS_C_INVALID;
		switch(op->type) {
			case AF_OP_BAN_GET:
				code[i] = RDS_C_BAN_GET;
				break;
			case AF_OP_BAN_SET:
				if(op->u.ban_set.ttl_s)
					code[i] = RDS_C_BAN_SET;
				break;
			case AF_OP_BAN_DEL:
				code[i] = RDS_C_BAN_DEL;
				break;
			case AF_OP_WIN_HIT:
				ref = op->u.win.if_new;
				if(ref && (ref < 1 || ref > i
								  || ops[ref - 1].type != AF_OP_WIN_HIT))
					break;
				if(op->u.win.window_s == 0
						|| (op->u.win.ban_threshold && op->u.win.ban_s == 0))
					break;
				code[i] = RDS_C_WIN_HIT;
				break;
			case AF_OP_HIST_PUSH:
				if(op->u.hist.ttl_s)
					code[i] = RDS_C_HIST_PUSH;
				break;
			case AF_OP_CONC_DEL:
				if(op->u.conc.member || !op->u.conc.member_len)
					code[i] = RDS_C_CONC_DEL;
				break;
			case AF_OP_CONC_COUNT:
				code[i] = RDS_C_CONC_COUNT;
				break;
			case AF_OP_FIG_MULTI:
				if(af_store_fig_check(op) == 0)
					code[i] = RDS_C_FIG_MULTI;
				break;
			case AF_OP_WIN_MULTI:
				if(af_store_wm_check(ops, i) == 0)
					code[i] = RDS_C_WIN_MULTI;
				break;
			default:
				code[i] = RDS_C_INVALID_KEEP;
				break;
		}
		if(code[i] > 0)
			need = 1;
	}
	for(i = 0; i < n; i++) {
		if(code[i] == RDS_C_CONC_ADD) {
			if(*group_bad)
				code[i] = RDS_C_CONC_SKIP;
			else
				need = 1;
		}
	}
	return need;
}

/* Appends a ban reason: up to AF_BAN_REASON - 1 bytes, to the first NUL. */
static void rds_add_reason(rds_argv_t *a, const char *reason)
{
	av_add(a, reason ? reason : "",
			reason ? strnlen(reason, AF_BAN_REASON - 1) : 0);
}

/* Writes v at p as a big-endian IEEE double (exact below 2^53). */
static void put_double(char *p, uint64_t v)
{
	double d = (double)v;
	uint64_t bits;
	int j;

	memcpy(&bits, &d, sizeof(bits));
	for(j = 7; j >= 0; j--) {
		p[j] = (char)(bits & 0xff);
		bits >>= 8;
	}
}

/* Writes v at p as a big-endian 32-bit number. */
static void put_u32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

/*
 * Appends an op's packed argument: its head[0..hlen) (its code in a byte,
 * and for a WIN_MULTI or FIG_MULTI its window count), then the n numbers of v as
 * big-endian IEEE doubles (exact: every value is below 2^53).
 */
static void av_packh(
		rds_argv_t *a, const char *head, int hlen, const uint64_t *v, int n)
{
	char *p = av_more(a, (size_t)hlen + 8 * (size_t)n);
	int i;

	if(!p)
		return;
	memcpy(p, head, (size_t)hlen);
	p += hlen;
	for(i = 0; i < n; i++, p += 8)
		put_double(p, v[i]);
}

/* av_packh of an op whose head is its code */
static void av_pack(rds_argv_t *a, int code, const uint64_t *v, int n)
{
	char c = (char)code;

	av_packh(a, &c, 1, v, n);
}

/*
 * Appends to the strings the new multi-window counter of a WIN_MULTI
 * (v: its packed numbers) that adds n > 0, as the batch function stores
 * it (RDS_WM_LEN bytes: the expiry, a double, then AF_WIN_MULTI_MAX
 * slots of window_s, newest slice, a double, and AF_WIN_BUCKETS counts,
 * n in the newest's, all zero in a slot not used), then its TTL in ms in
 * decimal: when the key is absent and the op adds in every window, the
 * function sets it in one call instead of packing it (lua/).
 */
static void rds_wm_new(const af_op_t *op, const uint64_t *v, uint64_t now_ms)
{
	uint64_t top = 0;
	char *p = av_room(&rds_strs, RDS_WM_LEN), *s;
	int j;

	if(!p)
		return;
	memset(p, 0, RDS_WM_LEN);
	for(j = 0; j < op->u.wm.nwin; j++) {
		s = p + 8 + j * RDS_WM_SLOT;
		if(op->u.wm.w[j].window_s > top)
			top = op->u.wm.w[j].window_s;
		put_u32(s, op->u.wm.w[j].window_s);
		put_double(s + 4, v[5 + 5 * j]);
		put_u32(s + 12 + 4 * (v[5 + 5 * j] % AF_WIN_BUCKETS), op->u.wm.n);
	}
	put_double(p, now_ms + top * 1000);
	av_addu(&rds_strs, top * 1000);
}

/*
 * Serializes WIN_MULTI op: its key <prefix><layout>wm:{<key>} (and the
 * ban's when a window may ban); its code and nwin in a byte each, then
 * n, if_new, the ban's until, and per window window_s, slice_ms, now's
 * slice, gate, ban_threshold; the
 * ban reason; when it adds, its new counter and TTL (rds_wm_new).
 */
static void rds_build_wm(const af_store_redis_t *st, const af_op_t *op,
		uint64_t now_ms)
{
	uint64_t v[3 + 5 * AF_WIN_MULTI_MAX], slice_ms;
	const af_win_one_t *w;
	char head[2] = {RDS_C_WIN_MULTI, (char)op->u.wm.nwin};
	int j, thr = 0;

	av_key(&rds_keys, st, "wm", op->key, op->key_len);
	v[0] = op->u.wm.n;
	v[1] = (uint64_t)op->u.wm.if_new;
	for(j = 0; j < op->u.wm.nwin; j++) {
		w = &op->u.wm.w[j];
		thr |= w->ban_threshold != 0;
		slice_ms = (uint64_t)w->window_s * 1000 / AF_WIN_BUCKETS;
		if(slice_ms == 0)
			slice_ms = 1;
		v[3 + 5 * j] = w->window_s;
		v[4 + 5 * j] = slice_ms;
		v[5 + 5 * j] = now_ms / slice_ms;
		v[6 + 5 * j] = w->gate;
		v[7 + 5 * j] = w->ban_threshold;
	}
	v[2] = thr ? now_ms + (uint64_t)op->u.wm.ban_s * 1000 : 0;
	av_packh(&rds_args, head, 2, v, 3 + 5 * op->u.wm.nwin);
	if(thr) {
		rds_add_reason(&rds_strs, op->u.wm.ban_reason);
		av_key(&rds_keys, st, "ban",
				op->u.wm.ban_key ? op->u.wm.ban_key : op->key,
				op->u.wm.ban_key ? op->u.wm.ban_key_len : op->key_len);
	}
	if(op->u.wm.n > 0)
		rds_wm_new(op, v, now_ms);
}

/*
 * Serializes FIG_MULTI op: its key <prefix><layout>fm:{<key>}; its code
 * and nwin in a byte each, then n[], and per window window_s, slice_ms,
 * now's slice.
 */
static void rds_build_fig(const af_store_redis_t *st, const af_op_t *op,
		uint64_t now_ms)
{
	uint64_t v[AF_FIG_N + 3 * AF_FIG_WIN_MAX], slice_ms;
	char head[2] = {RDS_C_FIG_MULTI, (char)op->u.fig.nwin};
	int j;

	av_key(&rds_keys, st, "fm", op->key, op->key_len);
	for(j = 0; j < AF_FIG_N; j++)
		v[j] = op->u.fig.n[j];
	for(j = 0; j < op->u.fig.nwin; j++) {
		slice_ms = (uint64_t)op->u.fig.w[j].window_s * 1000 / AF_FIG_SLICES;
		if(slice_ms == 0)
			slice_ms = 1;
		v[AF_FIG_N + 3 * j] = op->u.fig.w[j].window_s;
		v[AF_FIG_N + 3 * j + 1] = slice_ms;
		v[AF_FIG_N + 3 * j + 2] = now_ms / slice_ms;
	}
	av_packh(&rds_args, head, 2, v, AF_FIG_N + 3 * op->u.fig.nwin);
}

/*
 * Serializes ops[0..n) (codes in code) into rds_keys, rds_args (now, then
 * pregated and every op's packed argument in one) and rds_strs (the
 * ops' strings: a reason only where a ban may be set) for the batch
 * function.
 */
static void rds_build(const af_store_redis_t *st, const af_op_t *ops, int n,
		const signed char *code, int pregated, uint64_t now_ms)
{
	rds_argv_t *k = &rds_keys, *a = &rds_args, *sv = &rds_strs;
	const af_op_t *op;
	uint64_t v[8], slice_ms;
	char rec[RDS_HIST_REC + 1], *stop;
	af_hist_entry_t e;
	int i, thr;

	av_reset(k);
	av_reset(a);
	av_reset(sv);
	av_addu(a, now_ms);
	/* pregated in a byte and now (read at once), then the ops' packed
	 * arguments, one after another, in one argument */
	av_add(a, pregated ? "\1" : "\0", 1);
	stop = av_more(a, 8);
	if(stop)
		put_double(stop, now_ms);
	for(i = 0; i < n; i++) {
		op = &ops[i];
		if(code[i] <= 0) {
			av_pack(a, RDS_C_INVALID, NULL, 0);
			continue;
		}
		switch(code[i]) {
			case RDS_C_BAN_GET:
				av_key(k, st, "ban", op->key, op->key_len);
				stop = av_more(a, 2);
				if(stop) {
					stop[0] = RDS_C_BAN_GET;
					stop[1] = op->u.ban_get.stop ? 1 : 0;
				}
				break;
			case RDS_C_BAN_SET:
				av_key(k, st, "ban", op->key, op->key_len);
				v[0] = now_ms + (uint64_t)op->u.ban_set.ttl_s * 1000;
				av_pack(a, RDS_C_BAN_SET, v, 1);
				rds_add_reason(sv, op->u.ban_set.reason);
				break;
			case RDS_C_BAN_DEL:
				av_key(k, st, "ban", op->key, op->key_len);
				av_pack(a, RDS_C_BAN_DEL, NULL, 0);
				break;
			case RDS_C_WIN_HIT:
				av_key(k, st, "win", op->key, op->key_len);
				thr = op->u.win.ban_threshold != 0;
				slice_ms = (uint64_t)op->u.win.window_s * 1000 / AF_WIN_BUCKETS;
				if(slice_ms == 0)
					slice_ms = 1;
				v[0] = op->u.win.window_s;
				v[1] = slice_ms;
				v[2] = now_ms / slice_ms;
				v[3] = op->u.win.n;
				v[4] = op->u.win.ban_threshold;
				v[5] = thr ? now_ms + (uint64_t)op->u.win.ban_s * 1000 : 0;
				v[6] = op->u.win.gate;
				v[7] = (uint64_t)op->u.win.if_new;
				av_pack(a, RDS_C_WIN_HIT, v, 8);
				if(thr) {
					rds_add_reason(sv, op->u.win.ban_reason);
					if(op->u.win.ban_key)
						av_key(k, st, "ban", op->u.win.ban_key,
								op->u.win.ban_key_len);
					else
						av_key(k, st, "ban", op->key, op->key_len);
				}
				break;
			case RDS_C_WIN_MULTI:
				rds_build_wm(st, op, now_ms);
				break;
			case RDS_C_FIG_MULTI:
				rds_build_fig(st, op, now_ms);
				break;
			case RDS_C_HIST_PUSH:
				av_key(k, st, "hist", op->key, op->key_len);
				v[0] = (uint64_t)op->u.hist.ttl_s * 1000;
				v[1] = op->u.hist.read_only ? 1 : 0;
				av_pack(a, RDS_C_HIST_PUSH, v, 2);
				if(op->u.hist.read_only) {
					/* the script takes a record still, and ignores it */
					av_add(sv, "", 0);
					break;
				}
				e = op->u.hist.entry;
				if(e.ts_ms == 0)
					e.ts_ms = now_ms;
				rec[0] = (char)e.ip.family;
				memcpy(rec + 1, e.ip.addr, 16);
				memcpy(rec + 17, e.country, 2);
				rec[19] = '\0';
				memcpy(rec + 20, e.continent, 2);
				rec[22] = '\0';
				snprintf(rec + RDS_HIST_IP, sizeof(rec) - RDS_HIST_IP,
						"%020" PRIu64, e.ts_ms);
				av_add(sv, rec, RDS_HIST_REC);
				break;
			case RDS_C_CONC_ADD:
				av_key(k, st, "conc", op->key, op->key_len);
				v[0] = op->u.conc.limit;
				v[1] = now_ms + (uint64_t)op->u.conc.ttl_s * 1000;
				av_pack(a, RDS_C_CONC_ADD, v, 2);
				av_add(sv, op->u.conc.member, op->u.conc.member_len);
				break;
			case RDS_C_CONC_DEL:
				av_key(k, st, "conc", op->key, op->key_len);
				av_pack(a, RDS_C_CONC_DEL, NULL, 0);
				av_add(sv, op->u.conc.member, op->u.conc.member_len);
				break;
			case RDS_C_CONC_COUNT:
				av_key(k, st, "conc", op->key, op->key_len);
				av_pack(a, RDS_C_CONC_COUNT, NULL, 0);
				break;
			default: /* RDS_C_CONC_SKIP */
				av_pack(a, RDS_C_CONC_SKIP, NULL, 0);
				break;
		}
	}
}

/*
 * Reads the next field of the batch script's string at *p (before end):
 * a number ('-'?, digits, ',') or a string (its length in digits, ':',
 * its bytes). Numbers of more than 18 digits are refused: every number
 * read is then range-checked far below that. Advances *p; 0, -1 when
 * the text is not a field.
 */
static int rp_next(const char **p, const char *end, rds_fld_t *f)
{
	const char *q = *p;
	unsigned long long x = 0;
	int neg = 0, nd = 0;

	if(q < end && *q == '-') {
		neg = 1;
		q++;
	}
	for(; q < end && *q >= '0' && *q <= '9' && nd <= 18; q++, nd++)
		x = x * 10 + (unsigned)(*q - '0');
	if(nd == 0 || nd > 18 || q == end)
		return -1;
	if(*q == ',') {
		f->type = RDS_F_INT;
		f->v = neg ? -(long long)x : (long long)x;
		*p = q + 1;
		return 0;
	}
	if(*q != ':' || neg || x > (unsigned long long)(end - q - 1))
		return -1;
	f->type = RDS_F_STR;
	f->s = q + 1;
	f->len = (size_t)x;
	*p = q + 1 + x;
	return 0;
}

/* Reads an integer field into *v; 0, -1 when f is not one. */
static int rp_int(const rds_fld_t *f, long long *v)
{
	if(f->type != RDS_F_INT)
		return -1;
	*v = f->v;
	return 0;
}

/* Reads an integer field in [lo, hi] into *v; 0, -1 when not so. */
int af_rds_field_range(const rds_fld_t *f, long long lo, long long hi,
		long long *v)
{
	if(rp_int(f, v) < 0 || *v < lo || *v > hi)
		return -1;
	return 0;
}

/* Reads a decimal string field into *v; 0, -1 when f is not one. */
static int rp_u64str(const rds_fld_t *f, uint64_t *v)
{
	char num[24], *end;
	unsigned long long x;

	if(f->type != RDS_F_STR || f->len == 0 || f->len >= sizeof(num))
		return -1;
	memcpy(num, f->s, f->len);
	num[f->len] = '\0';
	if(num[0] < '0' || num[0] > '9')
		return -1;
	errno = 0;
	x = strtoull(num, &end, 10);
	if(errno || *end)
		return -1;
	*v = x;
	return 0;
}

/* Fills ban from the fields since, until, hits and reason; 0 or -1. */
int af_rds_field_ban(const rds_fld_t *e, af_ban_t *ban)
{
	uint64_t hits;
	size_t len;

	if(rp_u64str(&e[0], &ban->since_ms) < 0
			|| rp_u64str(&e[1], &ban->until_ms) < 0)
		return -1;
	if(e[2].type == RDS_F_INT) {
		if(e[2].v < 0 || e[2].v > UINT32_MAX)
			return -1;
		hits = (uint64_t)e[2].v;
	} else if(rp_u64str(&e[2], &hits) < 0 || hits > UINT32_MAX) {
		return -1;
	}
	ban->hits = (uint32_t)hits;
	if(e[3].type != RDS_F_STR)
		return -1;
	len = e[3].len < AF_BAN_REASON - 1 ? e[3].len : AF_BAN_REASON - 1;
	memset(ban->reason, 0, sizeof(ban->reason));
	if(len)
		memcpy(ban->reason, e[3].s, len);
	return 0;
}

/* Fills entry from a history record of RDS_HIST_REC bytes; 0 or -1. */
static int rp_hist(const rds_fld_t *f, af_hist_entry_t *entry)
{
	char num[21], *end;
	unsigned long long ts;

	if(f->type != RDS_F_STR || f->len != RDS_HIST_REC)
		return -1;
	memset(entry, 0, sizeof(*entry));
	entry->ip.family = (uint8_t)f->s[0];
	memcpy(entry->ip.addr, f->s + 1, 16);
	memcpy(entry->country, f->s + 17, 3);
	memcpy(entry->continent, f->s + 20, 3);
	memcpy(num, f->s + RDS_HIST_IP, 20);
	num[20] = '\0';
	errno = 0;
	ts = strtoull(num, &end, 10);
	if(errno || *end)
		return -1;
	entry->ts_ms = ts;
	return 0;
}

/* a big-endian 32-bit number at p */
static inline uint32_t rp_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
		   | p[3];
}

/*
 * Fills the counts of every window of FIG_MULTI op from the figures as
 * the script answers them, stored (f: the expiry, then slots of
 * RDS_FIG_SLOT bytes: window_s, newest slice, AF_FIG_SLICES rows of
 * AF_FIG_N big-endian 32-bit counts): each window's slot (one of its
 * window_s: the script gave every window one), each counter's sum over
 * its rows, at most UINT32_MAX as shm gives it; 0 or -1.
 */
static int rp_fig(const rds_fld_t *f, af_op_t *op)
{
	const unsigned char *slot;
	size_t ns, t;
	uint64_t sum;
	int i, j, r;

	if(f->type != RDS_F_STR || f->len < 8 + RDS_FIG_SLOT
			|| (f->len - 8) % RDS_FIG_SLOT != 0
			|| (ns = (f->len - 8) / RDS_FIG_SLOT) > AF_FIG_WIN_MAX)
		return -1;
	for(j = 0; j < op->u.fig.nwin; j++) {
		slot = NULL;
		for(t = 0; t < ns && !slot; t++) {
			slot = (const unsigned char *)f->s + 8 + t * RDS_FIG_SLOT;
			if(rp_u32(slot) != op->u.fig.w[j].window_s)
				slot = NULL;
		}
		if(!slot)
			return -1;
		slot += RDS_FIG_SLOT - RDS_FIG_ROWS;
		for(i = 0; i < AF_FIG_N; i++) {
			sum = 0;
			for(r = 0; r < AF_FIG_SLICES; r++)
				sum += rp_u32(slot + 4 * (r * AF_FIG_N + i));
			op->u.fig.w[j].count[i] = sum > UINT32_MAX ? UINT32_MAX
													   : (uint32_t)sum;
		}
	}
	return 0;
}

/*
 * Reads the batch script's reply (one string, see rds_lua_exec) into
 * ops[0..n): the outputs of the ops done, each op's status as the script
 * gave it (fixed by af_rds_finish). Reads in place, nothing allocated: an
 * op's fields are kept in e[] (those past RDS_FIELDS are read and
 * dropped: no op looks at them) and checked as they were when the reply
 * was an array per op. Returns 0 with *done and *stopped, -1 when the
 * reply is not what the script answers.
 */
static int rds_parse(const redisReply *r, af_op_t *ops, int n,
		const signed char *code, int *done, int *stopped)
{
	rds_fld_t f, e[RDS_FIELDS];
	const char *p, *end;
	af_op_t *op;
	long long v, status, k, j;
	int i;

	if(!r || r->type != REDIS_REPLY_STRING)
		return -1;
	p = r->str;
	end = r->str + r->len;
	if(rp_next(&p, end, &f) < 0 || af_rds_field_range(&f, 0, n, &v) < 0)
		return -1;
	*done = (int)v;
	if(rp_next(&p, end, &f) < 0 || af_rds_field_range(&f, 0, 1, &v) < 0)
		return -1;
	*stopped = (int)v;
	if(!*stopped && *done != n)
		return -1;
	for(i = 0; i < *done; i++) {
		op = &ops[i];
		if(rp_next(&p, end, &f) < 0 || af_rds_field_range(&f, 1, LLONG_MAX, &k) < 0)
			return -1;
		for(j = 0; j < k; j++)
			if(rp_next(&p, end, j < RDS_FIELDS ? &e[j] : &f) < 0)
				return -1;
		if(af_rds_field_range(&e[0], -1, 1, &status) < 0)
			return -1;
		op->status = (int)status;
		if(code[i] <= 0) {
			if(status != -1)
				return -1;
			continue;
		}
		if(code[i] == RDS_C_CONC_SKIP
				|| (code[i] == RDS_C_CONC_ADD && *stopped)) {
			if(status != 1 || k != 1)
				return -1;
			continue;
		}
		if(status != 0)
			return -1;
		switch(code[i]) {
			case RDS_C_BAN_GET:
				if(k < 2 || af_rds_field_range(&e[1], 0, 1, &v) < 0)
					return -1;
				op->u.ban_get.found = (int)v;
				if(v && (k != 6 || af_rds_field_ban(e + 2, &op->u.ban_get.ban) < 0))
					return -1;
				break;
			case RDS_C_BAN_SET:
				break;
			case RDS_C_BAN_DEL:
				if(k != 2 || af_rds_field_range(&e[1], 0, 1, &v) < 0)
					return -1;
				op->u.ban_del.found = (int)v;
				break;
			case RDS_C_WIN_HIT:
				if(k != 3 || af_rds_field_range(&e[1], 0, UINT32_MAX, &v) < 0)
					return -1;
				op->u.win.count = (uint32_t)v;
				if(af_rds_field_range(&e[2], 0, 1, &v) < 0)
					return -1;
				op->u.win.banned = (int)v;
				break;
			case RDS_C_FIG_MULTI:
				af_store_fig_clear(op);
				if(k > 2 || (k == 2 && rp_fig(&e[1], op) < 0))
					return -1;
				break;
			case RDS_C_WIN_MULTI:
				if(k != 1 + 3 * op->u.wm.nwin)
					return -1;
				af_store_wm_clear(op);
				for(j = 0; j < op->u.wm.nwin; j++) {
					if(af_rds_field_range(&e[1 + 3 * j], 0, UINT32_MAX, &v) < 0)
						return -1;
					op->u.wm.w[j].count = (uint32_t)v;
					if(af_rds_field_range(&e[2 + 3 * j], 0, 1, &v) < 0)
						return -1;
					op->u.wm.w[j].banned = (int)v;
					if(af_rds_field_range(&e[3 + 3 * j], 0, 1, &v) < 0)
						return -1;
					op->u.wm.w[j].added = (int)v;
				}
				break;
			case RDS_C_HIST_PUSH:
				if(k < 2 || af_rds_field_range(&e[1], 0, AF_HIST_MAX, &v) < 0
						|| k != v + 2)
					return -1;
				op->u.hist.n_prev = (int)v;
				for(j = 0; j < v; j++)
					if(rp_hist(&e[2 + j], &op->u.hist.prev[j]) < 0)
						return -1;
				break;
			case RDS_C_CONC_ADD:
				if(k != 4 || af_rds_field_range(&e[1], 0, UINT32_MAX, &v) < 0)
					return -1;
				op->u.conc.count = (uint32_t)v;
				if(af_rds_field_range(&e[2], 0, 1, &v) < 0)
					return -1;
				op->u.conc.admitted = (int)v;
				if(af_rds_field_range(&e[3], 0, 1, &v) < 0)
					return -1;
				op->u.conc.full = (int)v;
				op->u.conc.found = 0;
				break;
			case RDS_C_CONC_DEL:
				if(k != 3 || af_rds_field_range(&e[1], 0, UINT32_MAX, &v) < 0)
					return -1;
				op->u.conc.count = (uint32_t)v;
				if(af_rds_field_range(&e[2], 0, 1, &v) < 0)
					return -1;
				op->u.conc.found = (int)v;
				break;
			case RDS_C_CONC_COUNT:
				if(k != 2 || af_rds_field_range(&e[1], 0, UINT32_MAX, &v) < 0)
					return -1;
				op->u.conc.count = (uint32_t)v;
				break;
			default:
				return -1;
		}
	}
	return p == end ? 0 : -1;
}

/* Clears the outputs of a CONC_ADD op. */
static void rds_conc_clear(af_op_t *op)
{
	op->u.conc.count = 0;
	op->u.conc.admitted = 0;
	op->u.conc.full = 0;
	op->u.conc.found = 0;
}

/* Clears the outputs of op as shm does for an invalid op of its type. */
static void rds_invalid_clear(af_op_t *op)
{
	switch(op->type) {
		case AF_OP_BAN_GET:
			op->u.ban_get.found = 0;
			break;
		case AF_OP_BAN_DEL:
			op->u.ban_del.found = 0;
			break;
		case AF_OP_WIN_HIT:
			op->u.win.count = 0;
			op->u.win.banned = 0;
			break;
		case AF_OP_HIST_PUSH:
			op->u.hist.n_prev = 0;
			break;
		case AF_OP_CONC_DEL:
			op->u.conc.count = 0;
			op->u.conc.found = 0;
			break;
		case AF_OP_CONC_COUNT:
			op->u.conc.count = 0;
			break;
		case AF_OP_FIG_MULTI:
			af_store_fig_clear(op);
			break;
		case AF_OP_WIN_MULTI:
			af_store_wm_clear(op);
			break;
		default:
			break;
	}
}

/*
 * Sets the final status of ops[0..n) after the script (or none) ran
 * done of them: ops after a stop are skipped (1), and so is the CONC_ADD
 * group (outputs cleared, unless no CONC_ADD came before the stop: then,
 * as in shm, they are left as they are); an invalid group fails (-1);
 * invalid ops fail. Returns 0, or -1 when an op failed (each counted in
 * failures).
 */
int af_rds_finish(af_store_redis_t *st, af_op_t *ops, int n,
		const signed char *code, int done, int stopped, int group_bad)
{
	af_op_t *op;
	int i, rc = 0, clear = !stopped;

	for(i = 0; stopped && i < done; i++)
		if(ops[i].type == AF_OP_CONC_ADD)
			clear = 1;
	for(i = 0; i < n; i++) {
		op = &ops[i];
		if(op->type == AF_OP_CONC_ADD) {
			if(stopped || group_bad) {
				op->status = stopped ? 1 : -1;
				if(clear)
					rds_conc_clear(op);
			}
		} else if(i >= done) {
			op->status = 1;
		} else if(code[i] <= 0) {
			op->status = -1;
			if(code[i] == RDS_C_INVALID)
				rds_invalid_clear(op);
		}
		if(op->status < 0) {
			__atomic_add_fetch(&st->failures, 1, __ATOMIC_RELAXED);
			rc = -1;
		}
	}
	return rc;
}

/* Fails every op of ops[0..n) (the server could not be used); returns
 * AF_STORE_UNAVAILABLE. */
int af_rds_unavailable(af_store_redis_t *st, af_op_t *ops, int n)
{
	int i;

	for(i = 0; i < n; i++) {
		ops[i].status = -1;
		switch(ops[i].type) {
			case AF_OP_CONC_ADD:
				rds_conc_clear(&ops[i]);
				break;
			default:
				rds_invalid_clear(&ops[i]);
				break;
		}
	}
	__atomic_add_fetch(&st->failures, (uint64_t)n, __ATOMIC_RELAXED);
	return AF_STORE_UNAVAILABLE;
}

/*
 * Checks ops[0..n) (code: n entries, filled) and lays them out as the
 * batch function's FCALL in af_rds_av/af_rds_avlen (af_rds_eval fills
 * the first two arguments); pregated: the CONC_ADD group admits nothing
 * (the caller knows a gate went over), or'ed with what the check finds.
 * *group_bad tells af_rds_finish that the group was invalid. Returns the
 * argument count, 0 when no op needs the server, -1 when out of memory.
 * Lock: the connection table's (af_rds_enter).
 */
int af_rds_encode(af_store_redis_t *st, af_op_t *ops, int n, int pregated,
		uint64_t now_ms, signed char *code, int *group_bad)
{
	const char *head[3];
	size_t headlen[3];
	static char nkeys[16];
	int gated;

	if(!af_rds_check(ops, n, code, group_bad, &gated))
		return 0;
	rds_build(st, ops, n, code, pregated || gated, now_ms);
	head[0] = head[1] = NULL;
	headlen[0] = headlen[1] = 0;
	headlen[2] = (size_t)snprintf(nkeys, sizeof(nkeys), "%d", rds_keys.n);
	head[2] = nkeys;
	return av_final(head, headlen, 3, &rds_keys, &rds_args, &rds_strs);
}

/*
 * Reads the script's reply r into ops[0..n) (codes and group_bad from
 * af_rds_encode; r NULL: nothing was sent) and sets every op's status.
 * Returns 0, -1 when an op failed, AF_STORE_UNAVAILABLE when the reply
 * is not what the script answers (nothing set: the caller drops the
 * connection and calls af_rds_unavailable).
 */
int af_rds_decode(af_store_redis_t *st, const redisReply *r, af_op_t *ops,
		int n, const signed char *code, int group_bad)
{
	int done = n, stopped = 0;

	if(r && rds_parse(r, ops, n, code, &done, &stopped) < 0)
		return AF_STORE_UNAVAILABLE;
	return af_rds_finish(st, ops, n, code, done, stopped, group_bad);
}

/*
 * exec: checks ops[0..n), runs them as one FCALL of the batch function
 * and reads their outputs. Returns 0, -1 when an op was invalid (its
 * status is -1), AF_STORE_UNAVAILABLE when the server could not be used
 * (every status -1, the connection dropped).
 */
int af_rds_exec(af_store_t *s, af_op_t *ops, int n, uint64_t now_ms)
{
	af_store_redis_t *st = (af_store_redis_t *)s;
	char err[256];
	rds_conn_t *slot = NULL;
	rds_guard_t g;
	redisReply *r = NULL;
	int group_bad, argc, rc;

	if(n > 0 && ops == NULL)
		return -1;
	if(n <= 0)
		return 0;
	if(st->cfg.n_seeds > 0)
		return af_rds_cl_exec(st, ops, n, now_ms);
	af_rds_enter(&g, 1);
	argc = rds_code_room(n) < 0
				   ? -1
				   : af_rds_encode(st, ops, n, 0, now_ms, rds_code, &group_bad);
	if(argc < 0) {
		AF_ERR("store: redis: out of memory\n");
		rc = AF_STORE_UNAVAILABLE;
		goto done;
	}
	if(argc > 0) {
		slot = af_rds_get(st, err, sizeof(err));
		if(!slot) {
			rc = AF_STORE_UNAVAILABLE;
			goto done;
		}
		r = af_rds_eval(slot, argc, err, sizeof(err));
		if(!r) {
			af_rds_fail(slot, err);
			rc = AF_STORE_UNAVAILABLE;
			goto done;
		}
	}
	rc = af_rds_decode(st, r, ops, n, rds_code, group_bad);
	if(r)
		freeReplyObject(r);
	if(rc == AF_STORE_UNAVAILABLE)
		af_rds_fail(slot, "FCALL: unexpected reply");
done:
	af_rds_leave(&g, 1);
	if(rc == AF_STORE_UNAVAILABLE)
		return af_rds_unavailable(st, ops, n);
	return rc;
}
