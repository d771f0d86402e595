/*
 * antifraud - how calls end (af_outcome.h): figures per subject and
 * window, the rules of the 'analytics' section, enforcement marks, the
 * duration guard, the per-slot baselines and the top-N view.
 *
 * Figures are store figures (AF_OP_FIG_MULTI: the AF_FIG_N counters of
 * af_fig_counter_t and the international seconds, over every window of
 * analytics.windows, in one entry), one per subject, with the key
 *
 *   of|<subject letter>|<name>
 *
 * so that both backends keep them, bounded and expiring, and cluster mode
 * sees one figure. A call end is one batch of one op per subject (5 for
 * five subjects, whatever the windows). A breach in enforce mode sets a mark
 * (a ban-table entry "ob|<subject letter>|<name>" with the breach's
 * reason) for analytics.cooling; af_check_dest looks the marks of its
 * call up in its own batch (af_outcome_mark_ops).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_bytes.h"
#include "af_check.h"
#include "af_host.h"
#include "af_lock.h"
#include "af_outcome.h"
#include "af_outcome_int.h"
#include "af_text.h"

#define FIG_KEY_MAX 192
/* a figure op per subject, and the release's (af_dest_release_ops) */
#define FIG_OPS (AF_OUT__COUNT + 2)
/* the seconds of the calls in the minutes rule's scope (international,
 * or number classes) */
#define CNT_SCOPED AF_FIG__COUNT
#define TOP_WAYS 4
#define TOP_SETS 256
#define MARK_PREFIX "ob|"

static const char *const subject_names[AF_OUT__COUNT] = {
		"caller", "source", "country", "prefix", "profile"};
static const char subject_letter[AF_OUT__COUNT] = {'c', 's', 'k', 'p', 'f'};
_Static_assert(AF_FIG__COUNT + 1 <= AF_FIG_N,
		"the figure counters and the international seconds fit a figure");
_Static_assert(AF_AN_WINDOWS <= AF_FIG_WIN_MAX,
		"the windows of a subject fit one figure op");
static const char *const top_names[AF_TOP__COUNT] = {
		"attempts", "minutes", "asr", "acd", "short"};
static const af_reason_t rule_reason[AF_AN__COUNT] = {AF_R_ASR_LOW,
		AF_R_ACD_HIGH, AF_R_SHORT_CALLS, AF_R_MINUTES, AF_R_PDD};

/* one accumulator of a baseline: count, sum, sum of squares */
typedef struct acc {
	uint64_t n;
	double sum;
	double sq;
} acc_t;

typedef struct slot {
	acc_t attempts;
	acc_t asr;
	acc_t acd;
} slot_t;

/* node-wide state in shared memory */
typedef struct outcome_shared {
	af_lock_t lock; /* minute, slots, top */
	uint64_t minute;        /* the minute being summed */
	uint32_t m_attempts;    /* its calls */
	uint32_t m_answered;
	uint64_t m_seconds;
	slot_t slot[2][24];
	af_outcome_top_t top[TOP_SETS * TOP_WAYS];
} outcome_shared_t;

static outcome_shared_t *oshared;

/* a batch of call ends (af_calls_end): AF_CALLS_END_MAX calls, each a
 * figure op per subject and its release; a subject's figure op is
 * shared by the batch's calls of that subject (their additions summed) */
#define END_OPS (AF_CALLS_END_MAX * FIG_OPS)
#define END_HASH 512 /* figure ops by key hash (> END_OPS, a power of 2) */

/* what a batch of call ends builds (per thread: too big for a stack) */
typedef struct end_ctx {
	af_op_t ops[END_OPS];
	char keys[END_OPS][FIG_KEY_MAX];
	int nops;
	/* the windows */
	uint32_t n_win;
	uint32_t win_s[AF_AN_WINDOWS];
	/* per call: its figure op per subject (-1 none), the subject names */
	int at[AF_CALLS_END_MAX][AF_OUT__COUNT];
	char names[AF_CALLS_END_MAX][AF_OUT__COUNT][AF_CALL_SUBJECT_MAX + 1];
	size_t lens[AF_CALLS_END_MAX][AF_OUT__COUNT];
	uint32_t seconds[AF_CALLS_END_MAX];
	/* per op: the figures read back, derived once per window; put in the
	 * top-N view */
	af_figure_t fig[END_OPS][AF_AN_WINDOWS];
	uint8_t fig_done[END_OPS][AF_AN_WINDOWS];
	uint8_t topped[END_OPS];
	/* figure op + 1 by the hash of its key, 0 free (a batch of several
	 * calls) */
	uint16_t by_key[END_HASH];
} end_ctx_t;

const char *af_outcome_subject_name(af_outcome_subject_t s)
{
	return (unsigned)s < AF_OUT__COUNT ? subject_names[s] : "unknown";
}

int af_outcome_subject_parse(const char *s, size_t len)
{
	int i;

	for(i = 0; i < AF_OUT__COUNT; i++)
		if(strlen(subject_names[i]) == len
				&& memcmp(subject_names[i], s, len) == 0)
			return i;
	return -1;
}

const char *af_top_metric_name(af_top_metric_t m)
{
	return (unsigned)m < AF_TOP__COUNT ? top_names[m] : "unknown";
}

int af_top_metric_parse(const char *s, size_t len)
{
	int i;

	for(i = 0; i < AF_TOP__COUNT; i++)
		if(strlen(top_names[i]) == len && memcmp(top_names[i], s, len) == 0)
			return i;
	return -1;
}

int af_outcome_init(void)
{
	oshared = af_host->shm_alloc(sizeof(*oshared));
	if(!oshared)
		return -1;
	memset(oshared, 0, sizeof(*oshared));
	if(af_lock_init(&oshared->lock) < 0) {
		af_host->shm_free(oshared);
		oshared = NULL;
		return -1;
	}
	if(af_signal_init() < 0) {
		af_lock_destroy(&oshared->lock);
		af_host->shm_free(oshared);
		oshared = NULL;
		return -1;
	}
	return 0;
}

void af_outcome_destroy(void)
{
	af_signal_destroy();
	if(!oshared)
		return;
	af_lock_destroy(&oshared->lock);
	af_host->shm_free(oshared);
	oshared = NULL;
}

/* copies s[0..len) into dst (size bytes), cut, NUL-terminated */
static void copy_str(char *dst, size_t size, const char *s, size_t len)
{
	if(len >= size)
		len = size - 1;
	if(len)
		memcpy(dst, s, len);
	dst[len] = '\0';
}

/* the duration limit of a call: the smallest that applies, 0 none */
static uint32_t call_limit(const af_an_profile_t *an, const af_call_t *c)
{
	uint32_t lim = c->international ? an->dur_international : an->dur_national;

	if(c->cls < AF_NC__COUNT && an->dur_class[c->cls]
			&& (!lim || an->dur_class[c->cls] < lim))
		lim = an->dur_class[c->cls];
	if(c->risk < 4 && an->dur_risk[c->risk]
			&& (!lim || an->dur_risk[c->risk] < lim))
		lim = an->dur_risk[c->risk];
	return lim;
}

/* the profile of snapshot r named name ("" default); default when gone */
static const af_profile_t *profile_of(const af_rules_t *r, const char *name)
{
	const af_profile_t *p = af_rules_profile(r, name, strlen(name));

	return p ? p : r->default_profile;
}

/* af_call_start; counted in calls_followed when count */
static int call_start(af_call_t *c, const af_request_t *req,
		const af_verdict_t *dv, const char *profile, size_t profile_len,
		uint64_t now_ms, int count)
{
	const af_profile_t *p;
	af_verdict_t ev;
	const af_dest_info_t *di = NULL;
	af_rules_t *r;
	char user[128];
	size_t n, i, o;

	if(!c || !req)
		return -1;
	memset(c, 0, sizeof(*c));
	if(req->method != AF_M_INVITE || !req->initial)
		return 0;
	r = af_core_acquire();
	if(!r->analytics.enabled) {
		af_core_release(r);
		return 0;
	}
	if(profile && profile_len)
		p = af_rules_profile(r, profile, profile_len);
	else if(dv && dv->dest.profile[0])
		p = af_rules_profile(r, dv->dest.profile, strlen(dv->dest.profile));
	else
		p = r->default_profile;
	if(!p || p->mode[AF_C_ANALYTICS] == AF_MODE_OFF) {
		af_core_release(r);
		return 0;
	}
	if(dv) {
		di = &dv->dest;
	} else {
		/* not seen by af_check_dest: where the number goes, from the
		 * local rules only */
		copy_str(user, sizeof(user), req->ruri_user.s, req->ruri_user.len);
		if(user[0]) {
			char caller[128];
			const af_str_t *u =
					req->auth_user.len ? &req->auth_user : &req->from_user;
			copy_str(caller, sizeof(caller), u->s, u->len);
			af_dest_explain(p->name, strlen(p->name), caller, user, &ev);
			di = &ev.dest;
		}
	}
	c->start_ms = now_ms;
	c->generation = r->generation;
	c->mode = (uint8_t)p->mode[AF_C_ANALYTICS];
	c->flags = AF_CALL_FOLLOWED;
	c->src_family = req->src_ip.family;
	memcpy(c->src_addr, req->src_ip.addr, sizeof(c->src_addr));
	copy_str(c->profile, sizeof(c->profile),
			strcmp(p->name, "default") == 0 ? "" : p->name,
			strcmp(p->name, "default") == 0 ? 0 : strlen(p->name));
	if(af_chk_caller_id(req, user, sizeof(user)))
		copy_str(c->caller, sizeof(c->caller), user, strlen(user));
	if(di) {
		c->cls = (uint8_t)(di->cls >= 0 && di->cls < AF_NC__COUNT ? di->cls
																  : 0);
		c->risk = (uint8_t)(di->risk >= 0 && di->risk <= 3 ? di->risk : 0);
		c->international = di->international ? 1 : 0;
		memcpy(c->country, di->country, sizeof(c->country));
		c->country[2] = '\0';
		copy_str(c->number, sizeof(c->number), di->number,
				strnlen(di->number, sizeof(di->number)));
		if(c->number[0] == '+') {
			n = strlen(c->number + 1);
			if(n > r->analytics.prefix_digits)
				n = r->analytics.prefix_digits;
			for(i = 0, o = 0; i < n; i++)
				c->prefix[o++] = c->number[1 + i];
			c->prefix[o] = '\0';
		}
	}
	c->limit_s = call_limit(p->an, c);
	af_core_release(r);
	if(count)
		af_core_count(AF_ST_CALLS_FOLLOWED);
	return 1;
}

int af_call_start(af_call_t *c, const af_request_t *req,
		const af_verdict_t *dv, const char *profile, size_t profile_len,
		uint64_t now_ms)
{
	return call_start(c, req, dv, profile, profile_len, now_ms, 1);
}

int af_call_refine(af_call_t *c, const af_request_t *req,
		const af_verdict_t *dv)
{
	af_call_t n;

	if(!c || !dv || !(c->flags & AF_CALL_FOLLOWED)
			|| (c->flags & (AF_CALL_RUNG | AF_CALL_ANSWERED | AF_CALL_ENDED)))
		return 0;
	if(call_start(&n, req, dv, NULL, 0, c->start_ms, 0) != 1)
		return 0;
	*c = n;
	return 1;
}

int af_call_start_all(af_call_t *c, const af_request_t *req,
		const char *profile, size_t profile_len, uint64_t now_ms)
{
	const af_profile_t *p;
	af_rules_t *r;
	int all;

	if(!c || !req)
		return -1;
	memset(c, 0, sizeof(*c));
	r = af_core_acquire();
	p = profile && profile_len ? af_rules_profile(r, profile, profile_len)
							   : r->default_profile;
	all = r->analytics.enabled && p && p->an->follow_all;
	af_core_release(r);
	if(!all)
		return 0;
	return af_call_start(c, req, NULL, profile, profile_len, now_ms);
}

void af_call_ring(af_call_t *c, int code, uint64_t now_ms)
{
	if(!c || (c->flags & (AF_CALL_ANSWERED | AF_CALL_ENDED)))
		return;
	if(code >= 180 && code <= 189 && !(c->flags & AF_CALL_RUNG)) {
		c->ring_ms = now_ms < c->start_ms ? c->start_ms : now_ms;
		c->flags |= AF_CALL_RUNG;
	}
}

void af_call_answer(af_call_t *c, uint64_t now_ms)
{
	if(!c || (c->flags & (AF_CALL_ANSWERED | AF_CALL_ENDED)))
		return;
	c->answer_ms = now_ms < c->start_ms ? c->start_ms : now_ms;
	c->flags |= AF_CALL_ANSWERED;
}

void af_call_request(const af_call_t *c, af_request_t *req)
{
	const char *at = strchr(c->caller, '@');

	memset(req, 0, sizeof(*req));
	req->method = AF_M_INVITE;
	req->initial = 1;
	req->src_ip.family = c->src_family;
	memcpy(req->src_ip.addr, c->src_addr, sizeof(req->src_ip.addr));
	req->from_user.s = c->caller;
	req->from_user.len = at ? (size_t)(at - c->caller) : strlen(c->caller);
	if(at) {
		req->from_host.s = at + 1;
		req->from_host.len = strlen(at + 1);
	}
	req->ruri_user.s = c->number;
	req->ruri_user.len = strlen(c->number);
}

uint64_t af_call_deadline(const af_call_t *c)
{
	if(!c || !c->limit_s || !(c->flags & AF_CALL_FOLLOWED)
			|| !(c->flags & AF_CALL_ANSWERED)
			|| (c->flags & (AF_CALL_ENDED | AF_CALL_GUARDED)))
		return 0;
	return c->answer_ms + (uint64_t)c->limit_s * 1000;
}

/* the subject name of c of kind s into buf; its length, 0 none */
static size_t subject_of(const af_call_t *c, af_outcome_subject_t s, char *buf,
		size_t size)
{
	af_ip_t ip;

	switch(s) {
		case AF_OUT_CALLER:
			copy_str(buf, size, c->caller, strlen(c->caller));
			break;
		case AF_OUT_SOURCE:
			ip.family = c->src_family;
			memcpy(ip.addr, c->src_addr, sizeof(ip.addr));
			if(!ip.family || af_ip_format(&ip, buf, size) < 0)
				buf[0] = '\0';
			break;
		case AF_OUT_COUNTRY:
			copy_str(buf, size, c->country, strlen(c->country));
			break;
		case AF_OUT_PREFIX:
			copy_str(buf, size, c->prefix, strlen(c->prefix));
			break;
		case AF_OUT_PROFILE:
			copy_str(buf, size, c->profile[0] ? c->profile : "default",
					c->profile[0] ? strlen(c->profile) : 7);
			break;
		default:
			buf[0] = '\0';
	}
	return strlen(buf);
}

/* This thread's context of a batch of figures, emptied, for the windows
 * of a. */
static end_ctx_t *end_begin(const af_analytics_cfg_t *a)
{
	static __thread end_ctx_t *ctx; /* too big for a stack */
	end_ctx_t *e = ctx;

	if(!e) {
		e = ctx = calloc(1, sizeof(*e));
		if(!e)
			return NULL;
	}
	e->nops = 0;
	e->n_win = a->n_windows < AF_AN_WINDOWS ? a->n_windows : AF_AN_WINDOWS;
	memcpy(e->win_s, a->windows, e->n_win * sizeof(e->win_s[0]));
	return e;
}

/*
 * Writes the key pre[0..plen) s '|' name[0..len) into buf (size bytes,
 * name cut to fit) of subject s; returns its length, 0 when size is too
 * small.
 */
static size_t subject_key(char *buf, size_t size, const char *pre,
		size_t plen, af_outcome_subject_t s, const char *name, size_t len)
{
	size_t n = plen;

	if(size < n + 3)
		return 0;
	memcpy(buf, pre, n);
	buf[n++] = subject_letter[s];
	buf[n++] = '|';
	if(len > size - 1 - n)
		len = size - 1 - n;
	memcpy(buf + n, name, len);
	buf[n + len] = '\0';
	return n + len;
}

/* the slot of by_key for key[0..len), or of where it goes */
static uint16_t *fig_slot(end_ctx_t *e, const char *key, size_t len)
{
	uint32_t h = (uint32_t)af_fnv1a(AF_FNV_BASIS, key, len) & (END_HASH - 1);
	const af_op_t *op;

	while(e->by_key[h]) {
		op = &e->ops[e->by_key[h] - 1];
		if(op->key_len == len && memcmp(op->key, key, len) == 0)
			break;
		h = (h + 1) & (END_HASH - 1);
	}
	return &e->by_key[h];
}

/*
 * Adds a FIG_MULTI of add[] (NULL: a read) on subject s over every
 * window; its op index, -1 when none fits. With shared (a batch of
 * several calls), the op already made for the same subject takes add[]
 * too (summed: one row of one slice, as separate ops would).
 */
static int add_fig(end_ctx_t *e, af_outcome_subject_t s, const char *name,
		size_t len, const uint32_t *add, int shared)
{
	af_op_t *op;
	uint16_t *slot = NULL;
	int i = e->nops, wi, k;
	uint64_t x;

	if(i >= END_OPS || !e->n_win)
		return -1;
	op = &e->ops[i];
	op->key = e->keys[i];
	op->key_len = subject_key(e->keys[i], FIG_KEY_MAX, "of|", 3, s, name, len);
	if(shared) {
		slot = fig_slot(e, op->key, op->key_len);
		if(*slot) {
			op = &e->ops[*slot - 1];
			for(k = 0; add && k < AF_FIG_N; k++) {
				x = (uint64_t)op->u.fig.n[k] + add[k];
				op->u.fig.n[k] = x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
			}
			return *slot - 1;
		}
		*slot = (uint16_t)(i + 1);
	}
	/* only what a FIG_MULTI reads and writes */
	op->type = AF_OP_FIG_MULTI;
	op->status = 0;
	op->u.fig.nwin = (int)e->n_win;
	for(wi = 0; wi < (int)e->n_win; wi++)
		op->u.fig.w[wi].window_s = e->win_s[wi];
	if(add)
		memcpy(op->u.fig.n, add, sizeof(op->u.fig.n));
	else
		memset(op->u.fig.n, 0, sizeof(op->u.fig.n));
	memset(e->fig_done[i], 0, sizeof(e->fig_done[i]));
	e->topped[i] = 0;
	e->nops++;
	return i;
}

/* counter k of figure op i in window slot wi, 0 when there is none or
 * its op failed */
static uint32_t op_count(const end_ctx_t *e, int i, int wi, int k)
{
	if(i < 0 || e->ops[i].status != 0)
		return 0;
	return e->ops[i].u.fig.w[wi].count[k];
}

/* 1 when call c is in the scope of minutes rule ru */
static int in_scope(const af_an_rule_t *ru, const af_call_t *c)
{
	if(ru->intl_only)
		return c->international;
	if(ru->classes)
		return c->cls < 32 && (ru->classes & (1u << c->cls)) != 0;
	return 1;
}

/* fills f from the counts of figure op i (-1: none) in window slot wi */
static void fig_from(const end_ctx_t *e, int i, int wi, uint32_t w,
		af_figure_t *f)
{
	memset(f, 0, sizeof(*f));
	f->window_s = w;
	if(i >= 0 && e->ops[i].status == 0)
		memcpy(f->c, e->ops[i].u.fig.w[wi].count, sizeof(f->c));
	af_figure_derive(f);
}

/* the figure of figure op i (not -1) in window slot wi, derived on
 * first use */
static const af_figure_t *fig_of(end_ctx_t *e, int i, int wi)
{
	if(!e->fig_done[i][wi]) {
		fig_from(e, i, wi, e->win_s[wi], &e->fig[i][wi]);
		e->fig_done[i][wi] = 1;
	}
	return &e->fig[i][wi];
}

void af_figure_derive(af_figure_t *f)
{
	const uint32_t *c = f->c;

	f->asr = c[AF_FIG_ATTEMPTS]
					 ? (double)c[AF_FIG_ANSWERED] / c[AF_FIG_ATTEMPTS]
					 : 0;
	f->acd_s = c[AF_FIG_ANSWERED]
					   ? (double)c[AF_FIG_SECONDS] / c[AF_FIG_ANSWERED]
					   : 0;
	f->short_share = c[AF_FIG_ANSWERED]
							 ? (double)c[AF_FIG_SHORT] / c[AF_FIG_ANSWERED]
							 : 0;
	f->minutes = c[AF_FIG_SECONDS] / 60.0;
	f->pdd_s = c[AF_FIG_RUNG] ? c[AF_FIG_PDD_DS] / 10.0 / c[AF_FIG_RUNG] : 0;
}

#define SHOWN_MAX 100

/* name, which came from a request, as plain text in shown (SHOWN_MAX
 * bytes); written only for a rule that hits: most call ends judge
 * several rules and none hits */
static const char *shown_name(const char *name, char *shown)
{
	af_text_escape(name, strlen(name), shown, SHOWN_MAX);
	return shown;
}

/* judges rule k of an for subject s (window slot wi); flags v */
static void judge(end_ctx_t *e, const af_profile_t *p,
		const af_an_rule_t *ru, int k, af_outcome_subject_t s, int i, int wi,
		const char *name, af_verdict_t *v, uint32_t *marks)
{
	const af_figure_t *f = fig_of(e, i, wi);
	uint32_t intl;
	char why[200], shown[SHOWN_MAX];
	int hit = 0;

	switch(k) {
		case AF_AN_ASR:
			hit = f->c[AF_FIG_ATTEMPTS] >= ru->min && f->asr < ru->limit;
			if(hit)
				snprintf(why, sizeof(why),
						"asr_low %s %s: %.0f%% of %u in %us < %.0f%%",
						subject_names[s], shown_name(name, shown), f->asr * 100,
						f->c[AF_FIG_ATTEMPTS], ru->window_s, ru->limit * 100);
			break;
		case AF_AN_ACD:
			hit = f->c[AF_FIG_ANSWERED] >= ru->min && f->acd_s > ru->limit;
			if(hit)
				snprintf(why, sizeof(why),
						"acd_high %s %s: %.0fs over %u answered in %us > %gs",
						subject_names[s], shown_name(name, shown), f->acd_s,
						f->c[AF_FIG_ANSWERED], ru->window_s, ru->limit);
			break;
		case AF_AN_SHORT:
			hit = f->c[AF_FIG_ANSWERED] >= ru->min
				  && f->short_share > ru->limit;
			if(hit)
				snprintf(why, sizeof(why),
						"short_calls %s %s: %.0f%% of %u answered in %us >"
						" %.0f%%",
						subject_names[s], shown_name(name, shown), f->short_share * 100,
						f->c[AF_FIG_ANSWERED], ru->window_s, ru->limit * 100);
			break;
		case AF_AN_MINUTES:
			intl = ru->intl_only || ru->classes
						   ? op_count(e, i, wi, CNT_SCOPED)
						   : f->c[AF_FIG_SECONDS];
			hit = intl / 60.0 > ru->limit;
			if(hit)
				snprintf(why, sizeof(why),
						"minutes %s %s: %.1f%s in %us > %g", subject_names[s],
						shown_name(name, shown), intl / 60.0,
						ru->intl_only ? " international"
									  : (ru->classes ? " to its classes" : ""),
						ru->window_s,
						ru->limit);
			break;
		case AF_AN_PDD:
			hit = f->c[AF_FIG_RUNG] >= ru->min && f->pdd_s > ru->limit;
			if(hit)
				snprintf(why, sizeof(why),
						"pdd %s %s: %.1fs over %u in %us > %gs",
						subject_names[s], shown_name(name, shown), f->pdd_s, f->c[AF_FIG_RUNG],
						ru->window_s, ru->limit);
			break;
	}
	if(!hit)
		return;
	af_chk_flag_all(v, p, rule_reason[k], 1, why);
	if(p->mode[AF_C_ANALYTICS] == AF_MODE_ENFORCE && s != AF_OUT_PROFILE)
		marks[s] |= 1u << k;
}

/* remembers the figure of subject s for the top-N view */
static void top_put(af_outcome_subject_t s, const char *name, size_t len,
		const af_figure_t *f, uint64_t now)
{
	af_outcome_top_t *set, *t = NULL;
	uint64_t h = 1469598103934665603ull;
	size_t i;
	int w;

	if(!oshared)
		return;
	for(i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 1099511628211ull;
	h ^= (uint64_t)s * 0x9e3779b97f4a7c15ull;
	set = &oshared->top[(h % TOP_SETS) * TOP_WAYS];
	af_lock(&oshared->lock);
	for(w = 0; w < TOP_WAYS; w++) {
		if(set[w].updated_ms && set[w].kind == s
				&& strncmp(set[w].name, name, sizeof(set[w].name)) == 0) {
			t = &set[w];
			break;
		}
		if(!t || set[w].updated_ms < t->updated_ms)
			t = &set[w];
	}
	t->kind = s;
	copy_str(t->name, sizeof(t->name), name, len);
	t->fig = *f;
	t->updated_ms = now;
	af_unlock(&oshared->lock);
}

/* system calendar slot of now */
static void slot_of(const af_rules_t *r, uint64_t now, int *holiday,
		int *hour)
{
	const af_calendar_t *cal = r->dest.calendar;
	af_local_t lt;

	if(!cal) {
		*holiday = 0;
		*hour = (int)((now / 3600000) % 24);
		return;
	}
	af_tz_local(cal->tz, now, &lt);
	*holiday = af_cal_holiday(cal, &lt) ? 1 : 0;
	*hour = lt.minute / 60;
}

static void acc_add(acc_t *a, double x)
{
	a->n++;
	a->sum += x;
	a->sq += x * x;
}

/* samples the minutes that passed into their slots (under the lock) */
static void minute_sample(const af_rules_t *r, uint64_t now)
{
	uint64_t m = now / 60000;
	int holiday, hour;
	slot_t *sl;

	if(!oshared->minute || m <= oshared->minute)
		return;
	slot_of(r, oshared->minute * 60000, &holiday, &hour);
	sl = &oshared->slot[holiday][hour];
	acc_add(&sl->attempts, oshared->m_attempts);
	if(oshared->m_attempts)
		acc_add(&sl->asr, (double)oshared->m_answered / oshared->m_attempts);
	if(oshared->m_answered)
		acc_add(&sl->acd, (double)oshared->m_seconds / oshared->m_answered);
	oshared->minute = oshared->m_attempts ? m : 0;
	oshared->m_attempts = oshared->m_answered = 0;
	oshared->m_seconds = 0;
	if(oshared->minute == 0)
		oshared->minute = m;
}

/* this node's calls of the current minute, for the baselines */
static void minute_add(const af_rules_t *r, const af_call_t *c,
		uint32_t seconds, uint64_t now)
{
	if(!oshared)
		return;
	af_lock(&oshared->lock);
	/* a host without a timer (a replay) moves the minute on here */
	minute_sample(r, now);
	if(!oshared->minute)
		oshared->minute = now / 60000;
	oshared->m_attempts++;
	if(c->flags & AF_CALL_ANSWERED) {
		oshared->m_answered++;
		oshared->m_seconds += seconds;
	}
	af_unlock(&oshared->lock);
}

/* sets the enforcement marks of c's subjects (a second batch) */
static void set_marks(const af_call_t *c, const uint32_t *marks,
		uint32_t cooling_s, uint64_t now, af_verdict_t *v)
{
	af_op_t ops[AF_OUT__COUNT];
	char keys[AF_OUT__COUNT][FIG_KEY_MAX], name[AF_CALL_SUBJECT_MAX + 1];
	int s, k, n = 0;
	size_t len;

	for(s = 0; s < AF_OUT__COUNT; s++) {
		if(!marks[s])
			continue;
		len = subject_of(c, (af_outcome_subject_t)s, name, sizeof(name));
		if(!len)
			continue;
		for(k = 0; k < AF_AN__COUNT; k++)
			if(marks[s] & (1u << k))
				break;
		memset(&ops[n], 0, sizeof(ops[n]));
		ops[n].type = AF_OP_BAN_SET;
		ops[n].key = keys[n];
		ops[n].key_len = af_outcome_mark_key(keys[n], sizeof(keys[n]),
				(af_outcome_subject_t)s, name, len);
		ops[n].u.ban_set.ttl_s = cooling_s;
		ops[n].u.ban_set.reason = af_reason_name(rule_reason[k]);
		n++;
	}
	if(n)
		af_chk_exec(ops, n, now, v);
}

int af_call_end(af_call_t *c, int code, uint64_t now_ms, af_verdict_t *v)
{
	return af_call_end_release(c, code, now_ms, NULL, v);
}

/* the figures' additions of ended call c into add[] (AF_FIG_N); its
 * answered seconds */
static uint32_t end_add(const af_analytics_cfg_t *a, const af_profile_t *p,
		const af_call_t *c, uint32_t *add)
{
	uint32_t seconds = 0;

	memset(add, 0, AF_FIG_N * sizeof(*add));
	add[AF_FIG_ATTEMPTS] = 1;
	if(c->flags & AF_CALL_ANSWERED) {
		uint64_t d = c->end_ms > c->answer_ms ? c->end_ms - c->answer_ms : 0;
		seconds = (uint32_t)((d + 500) / 1000);
		add[AF_FIG_ANSWERED] = 1;
		add[AF_FIG_SHORT] = seconds < a->short_s;
		add[AF_FIG_LONG] = seconds > a->long_s;
		add[AF_FIG_SECONDS] = seconds;
		if(in_scope(&p->an->rule[AF_AN_MINUTES], c))
			add[CNT_SCOPED] = seconds;
	}
	if(c->flags & AF_CALL_RUNG) {
		add[AF_FIG_RUNG] = 1;
		add[AF_FIG_PDD_DS] = (uint32_t)((c->ring_ms - c->start_ms + 50) / 100);
	}
	return seconds;
}

/* judges call x of e (its figures read back) into v; counts it */
static void end_judge(end_ctx_t *e, int x, af_rules_t *r, const af_call_t *c,
		uint64_t now_ms, af_verdict_t *v)
{
	const af_analytics_cfg_t *a = &r->analytics;
	const af_profile_t *p = profile_of(r, c->profile);
	const af_an_rule_t *ru;
	uint32_t marks[AF_OUT__COUNT];
	int s, wi, k, i, evaluated = 0;

	af_core_count(AF_ST_CALLS_ENDED);
	minute_add(r, c, e->seconds[x], now_ms);
	/* judge every rule on every subject it names */
	memset(marks, 0, sizeof(marks));
	if(!v->store_failed && p->mode[AF_C_ANALYTICS] != AF_MODE_OFF) {
		evaluated = 1;
		for(k = 0; k < AF_AN__COUNT; k++) {
			ru = &p->an->rule[k];
			if(ru->limit <= 0)
				continue;
			for(wi = 0; wi < (int)a->n_windows; wi++)
				if(a->windows[wi] == ru->window_s)
					break;
			if(wi == (int)a->n_windows)
				continue;
			if(k == AF_AN_MINUTES && !in_scope(ru, c))
				continue;
			for(s = 0; s < AF_OUT__COUNT; s++)
				if((ru->subjects & (1u << s)) && (i = e->at[x][s]) >= 0)
					judge(e, p, ru, k, (af_outcome_subject_t)s, i, wi,
							e->names[x][s], v, marks);
		}
	}
	if(!v->store_failed && a->n_windows) {
		for(s = 0; s < AF_OUT__COUNT; s++) {
			i = e->at[x][s];
			if(i >= 0 && !e->topped[i]) {
				e->topped[i] = 1;
				top_put((af_outcome_subject_t)s, e->names[x][s],
						e->lens[x][s], fig_of(e, i, 0), now_ms);
			}
		}
	}
	if(v->blocking)
		set_marks(c, marks, a->cooling_s, now_ms, v);
	af_outcome_conclude(v, evaluated);
}

/*
 * Ends the n calls of items (1..AF_CALLS_END_MAX) in one store batch:
 * each call's figures (a subject's additions summed over the calls
 * when shared), and every ticket's release. With cb, v is each call's
 * verdict in turn, given to cb; else n is 1 and v is its verdict.
 */
static void calls_end(af_call_end_item_t *items, int n, uint64_t now_ms,
		af_calls_end_cb cb, void *arg, af_verdict_t *v)
{
	const af_analytics_cfg_t *a;
	af_rules_t *r;
	end_ctx_t *e;
	af_verdict_t bv;
	uint32_t add[AF_FIG_N];
	uint8_t counted[AF_CALLS_END_MAX];
	af_call_t *c;
	int x, s, live, nrel = 0, shared = n > 1;

	r = af_core_acquire();
	a = &r->analytics;
	e = a->enabled ? end_begin(a) : NULL;
	for(x = 0; x < n; x++) {
		c = items[x].c;
		live = c && (c->flags & AF_CALL_FOLLOWED) && !(c->flags & AF_CALL_ENDED);
		counted[x] = e && live;
		if(live) {
			c->flags |= AF_CALL_ENDED;
			c->end_ms = items[x].end_ms < c->start_ms ? c->start_ms
													  : items[x].end_ms;
			c->final_code = (uint16_t)(items[x].code > 0 && items[x].code < 700
											   ? items[x].code
											   : 0);
		}
		if(!counted[x])
			continue;
		e->seconds[x] = end_add(a, profile_of(r, c->profile), c, add);
		for(s = 0; s < AF_OUT__COUNT; s++) {
			e->at[x][s] = -1;
			e->lens[x][s] = 0;
			e->names[x][s][0] = '\0';
			if(!(a->subjects & (1u << s)))
				continue;
			e->lens[x][s] = subject_of(c, (af_outcome_subject_t)s,
					e->names[x][s], sizeof(e->names[x][s]));
			if(e->lens[x][s])
				e->at[x][s] = add_fig(e, (af_outcome_subject_t)s,
						e->names[x][s], e->lens[x][s], add, shared);
		}
	}
	/* the releases ride with the figures: one batch (END_OPS holds a
	 * figure op per subject and two releases per call) */
	memset(&bv, 0, sizeof(bv));
	if(e) {
		for(x = 0; x < n; x++)
			e->nops += af_dest_release_ops(items[x].t, e->ops + e->nops);
		if(e->nops)
			af_chk_exec(e->ops, e->nops, now_ms, &bv);
	} else {
		af_op_t ops[2 * AF_CALLS_END_MAX];

		for(x = 0; x < n; x++)
			nrel += af_dest_release_ops(items[x].t, ops + nrel);
		if(nrel && af_store_exec(af_core_store(), ops, nrel, now_ms) < 0)
			af_core_count(AF_ST_STORE_ERRORS);
	}
	for(x = 0; x < n; x++) {
		memset(v, 0, sizeof(*v));
		v->check = "analytics";
		if(counted[x]) {
			v->store_failed = bv.store_failed;
			end_judge(e, x, r, items[x].c, now_ms, v);
		} else {
			v->rc = AF_RC_NORULE;
		}
		if(cb)
			cb(items[x].c, v, arg);
	}
	if(shared && e)
		memset(e->by_key, 0, sizeof(e->by_key));
	af_core_release(r);
}

int af_call_end_release(af_call_t *c, int code, uint64_t now_ms,
		const af_dest_ticket_t *t, af_verdict_t *v)
{
	af_call_end_item_t it;

	it.c = c;
	it.code = code;
	it.end_ms = now_ms;
	it.t = t;
	calls_end(&it, 1, now_ms, NULL, NULL, v);
	return v->rc;
}

void af_calls_end(af_call_end_item_t *items, int n, uint64_t now_ms,
		af_calls_end_cb cb, void *arg)
{
	af_verdict_t v;
	int x;

	for(x = 0; x < n; x += AF_CALLS_END_MAX)
		calls_end(items + x, n - x < AF_CALLS_END_MAX ? n - x : AF_CALLS_END_MAX,
				now_ms, cb, arg, &v);
}

int af_outcome_conclude(af_verdict_t *v, int evaluated)
{
	if(af_chk_verdict_rc(v, evaluated) == AF_RC_ERROR)
		return AF_RC_ERROR;
	if(v->rc == AF_RC_BLOCK)
		af_core_count(AF_ST_BLOCKED);
	else if(v->rc == AF_RC_ALERT)
		af_core_count(AF_ST_ALERTS);
	af_core_count_reasons(v->reasons);
	return v->rc;
}

int af_call_guard(af_call_t *c, uint64_t now_ms, af_verdict_t *v)
{
	const af_profile_t *p;
	af_rules_t *r;
	uint64_t dl = af_call_deadline(c);
	char why[AF_DETAIL_MAX], caller[100], number[40];

	memset(v, 0, sizeof(*v));
	v->check = "analytics";
	if(!dl || now_ms < dl)
		return v->rc = AF_RC_NORULE;
	c->flags |= AF_CALL_GUARDED;
	r = af_core_acquire();
	p = profile_of(r, c->profile);
	af_text_escape(c->caller, strlen(c->caller), caller, sizeof(caller));
	af_text_escape(c->number, strlen(c->number), number, sizeof(number));
	snprintf(why, sizeof(why),
			"duration caller %.96s to %s: up %us, limit %us (%s%s, risk %u)",
			caller[0] ? caller : "?", number[0] ? number : "?",
			(unsigned)((now_ms - c->answer_ms) / 1000), c->limit_s,
			c->international ? "international " : "",
			af_numclass_name((af_numclass_t)c->cls), c->risk);
	/* the call's own mode (a reload may have changed the profile) */
	v->reasons |= AF_REASON_BIT(AF_R_DURATION);
	if(c->mode == AF_MODE_ENFORCE && p->mode[AF_C_ANALYTICS] == AF_MODE_ENFORCE)
		v->blocking |= AF_REASON_BIT(AF_R_DURATION);
	snprintf(v->detail, sizeof(v->detail), "%s", why);
	af_core_release(r);
	return af_outcome_conclude(v, 1);
}

size_t af_outcome_mark_key(char *buf, size_t size, af_outcome_subject_t s,
		const char *name, size_t len)
{
	return subject_key(buf, size, MARK_PREFIX, sizeof(MARK_PREFIX) - 1, s,
			name, len);
}

int af_outcome_mark_get(af_outcome_subject_t s, const char *name, size_t len,
		af_ban_t *out)
{
	char key[FIG_KEY_MAX];
	af_op_t op;

	if((unsigned)s >= AF_OUT__COUNT || !name || !len)
		return 0;
	memset(&op, 0, sizeof(op));
	op.type = AF_OP_BAN_GET;
	op.key = key;
	op.key_len = af_outcome_mark_key(key, sizeof(key), s, name, len);
	if(af_store_exec(af_core_store(), &op, 1, af_now_ms()) < 0
			|| op.status != 0)
		return -1;
	if(!op.u.ban_get.found)
		return 0;
	*out = op.u.ban_get.ban;
	return 1;
}

int af_outcome_mark_is(const char *key, size_t len)
{
	return len > sizeof(MARK_PREFIX) + 1
		   && memcmp(key, MARK_PREFIX, sizeof(MARK_PREFIX) - 1) == 0;
}

int af_outcome_figures(af_outcome_subject_t s, const char *name, size_t len,
		af_figure_t *out, char *err, size_t errlen)
{
	const af_analytics_cfg_t *a;
	af_rules_t *r;
	af_verdict_t v;
	end_ctx_t *e;
	int wi, n, i;

	if((unsigned)s >= AF_OUT__COUNT || !name || !len
			|| len > AF_CALL_SUBJECT_MAX) {
		snprintf(err, errlen, "bad subject");
		return -1;
	}
	r = af_core_acquire();
	a = &r->analytics;
	n = (int)a->n_windows;
	e = end_begin(a);
	if(!e) {
		af_core_release(r);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	i = add_fig(e, s, name, len, NULL, 0);
	memset(&v, 0, sizeof(v));
	af_chk_exec(e->ops, e->nops, af_now_ms(), &v);
	for(wi = 0; wi < n; wi++)
		fig_from(e, i, wi, a->windows[wi], &out[wi]);
	af_core_release(r);
	for(wi = 0; wi < e->nops; wi++)
		if(e->ops[wi].status < 0) {
			snprintf(err, errlen, "the state store could not answer");
			return -1;
		}
	return n;
}

/* the value of top entry t for metric m (larger ranks first) */
static double top_value(const af_outcome_top_t *t, af_top_metric_t m)
{
	switch(m) {
		case AF_TOP_ATTEMPTS:
			return t->fig.c[AF_FIG_ATTEMPTS];
		case AF_TOP_MINUTES:
			return t->fig.minutes;
		case AF_TOP_ASR_LOW:
			return t->fig.c[AF_FIG_ATTEMPTS] ? 1.0 - t->fig.asr : -1;
		case AF_TOP_ACD:
			return t->fig.acd_s;
		case AF_TOP_SHORT:
			return t->fig.c[AF_FIG_ANSWERED] ? t->fig.short_share : -1;
		default:
			return 0;
	}
}

int af_outcome_top(af_outcome_subject_t s, af_top_metric_t m, af_outcome_top_t *out,
		int n)
{
	af_rules_t *r;
	uint64_t now = af_now_ms(), keep;
	int i, j, got = 0;

	if(!oshared || n <= 0 || (unsigned)m >= AF_TOP__COUNT)
		return 0;
	r = af_core_acquire();
	keep = r->analytics.n_windows ? (uint64_t)r->analytics.windows[0] * 1000
								  : 0;
	af_core_release(r);
	af_lock(&oshared->lock);
	for(i = 0; i < TOP_SETS * TOP_WAYS; i++) {
		const af_outcome_top_t *t = &oshared->top[i];
		if(!t->updated_ms || t->updated_ms + keep < now)
			continue;
		if(s != AF_OUT__COUNT && t->kind != s)
			continue;
		/* insertion into the sorted out[0..got) */
		for(j = got; j > 0 && top_value(&out[j - 1], m) < top_value(t, m);
				j--)
			if(j < n)
				out[j] = out[j - 1];
		if(j < n) {
			out[j] = *t;
			if(got < n)
				got++;
		}
	}
	af_unlock(&oshared->lock);
	return got;
}

void af_outcome_slot_stat(int holiday, int hour, af_outcome_slot_stat_t *out)
{
	slot_t sl;

	memset(out, 0, sizeof(*out));
	if(!oshared || hour < 0 || hour > 23)
		return;
	af_lock(&oshared->lock);
	sl = oshared->slot[holiday ? 1 : 0][hour];
	af_unlock(&oshared->lock);
	out->samples = sl.attempts.n;
	af_acc_stat(sl.attempts.n, sl.attempts.sum, sl.attempts.sq,
			&out->attempts_mean, &out->attempts_sd);
	af_acc_stat(sl.asr.n, sl.asr.sum, sl.asr.sq, &out->asr_mean, &out->asr_sd);
	af_acc_stat(sl.acd.n, sl.acd.sum, sl.acd.sq, &out->acd_mean, &out->acd_sd);
	out->mix_windows = af_signal_slot_windows(holiday, hour);
}

void af_acc_stat(uint64_t n, double sum, double sq, double *mean, double *sd)
{
	double var;

	*mean = *sd = 0;
	if(!n)
		return;
	*mean = sum / (double)n;
	var = sq / (double)n - *mean * *mean;
	*sd = var > 0 ? sqrt(var) : 0;
}

void af_outcome_stats_reset(void)
{
	if(!oshared)
		return;
	af_lock(&oshared->lock);
	memset(oshared->slot, 0, sizeof(oshared->slot));
	af_unlock(&oshared->lock);
	af_signal_reset();
}

void af_outcome_timer(uint64_t now_ms, af_outcome_alert_cb cb, void *arg)
{
	af_rules_t *r;

	if(!oshared)
		return;
	r = af_core_acquire();
	af_lock(&oshared->lock);
	minute_sample(r, now_ms);
	af_unlock(&oshared->lock);
	af_core_release(r);
	af_signal_timer(now_ms, cb, arg);
}

int af_outcome_slot_now(uint64_t now_ms, int *holiday, int *hour)
{
	af_rules_t *r = af_core_acquire();

	slot_of(r, now_ms, holiday, hour);
	af_core_release(r);
	return 0;
}
