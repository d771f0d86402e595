/*
 * antifraud - af_check_dest: may this caller call this number now?
 *
 * Local decisions first, without shared state: the class of service
 * (profile), what was dialed (normalized to E.164), where it goes (the
 * number plan), the caller's permissions for it and the schedule. A call
 * refused there is not counted. Then one store call counts the call and
 * checks every limit at once: rates, repetition (same number, similar
 * numbers, many callers) over their windows, and concurrent international
 * calls (total and per caller) as sets of live calls; the call enters the
 * sets only when no enforced limit refuses it. Every breach is reported.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_check.h"
#include "af_core.h"
#include "af_dest.h"
#include "af_host.h"
#include "af_lock.h"
#include "af_outcome_int.h"

#define ID_MAX 200
#define KEY_MAX 240
/* the rates (2), per group of AF_WIN_MULTI_MAX repetition windows 3,
 * the concurrency sets (2), the analytics marks */
#define WGROUPS ((3 * AF_DEST_WINDOWS + AF_WIN_MULTI_MAX - 1) / AF_WIN_MULTI_MAX)
#define OPS_MAX (2 + 3 * WGROUPS + 2 + AF_OUT__COUNT)
#define NCC (26 * 26)
#define CONC_TOTAL_KEY "ct|intl"
#define CONC_CALLER_PREFIX "cc|"
#define TAG(s) {s, sizeof(s) - 1} /* a key tag (af_str_t) */

/* slot statistics of one day type and hour */
typedef struct slot_acc {
	uint64_t n;
	double sum;
	double sumsq;
	uint32_t max;
} slot_acc_t;

/* node-wide statistics in shared memory */
typedef struct af_dest_shared {
	af_lock_t lock; /* the slot accumulators */
	uint64_t last_sample_ms;
	slot_acc_t slot[2][24];
	uint64_t attempts[NCC];
	uint64_t allowed[NCC];
	uint64_t alerts[NCC];
	uint64_t blocked[NCC];
	uint64_t reason[NCC][AF_R__COUNT];
} af_dest_shared_t;

static af_dest_shared_t *dshared;

/* everything one check builds: keys and ops live as long as the check */
typedef struct dest_ctx {
	const af_rules_t *r;
	const af_profile_t *p;
	const af_dest_profile_t *d;
	af_verdict_t *v;
	char caller[ID_MAX];
	size_t caller_len;
	af_number_t num;
	af_numinfo_t info;
	char keys[OPS_MAX][KEY_MAX];
	af_op_t ops[OPS_MAX];
	/* what each op counts, to judge it afterwards: per window of a
	 * WIN_MULTI (lim[i][0] for the other ops) */
	af_reason_t reason[OPS_MAX];
	uint8_t enforce[OPS_MAX]; /* its sub-check enforces: blocks gate */
	const af_limit_t *lim[OPS_MAX][AF_WIN_MULTI_MAX];
	int nops;
	int dry; /* explain only: no state, no statistics */
} dest_ctx_t;

/* index of a country code in the statistics ("ZZ" for none) */
static int cc_index(const char *cc)
{
	if(cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z')
		return NCC - 1;
	return (cc[0] - 'A') * 26 + (cc[1] - 'A');
}

int af_dest_init(void)
{
	dshared = af_host->shm_alloc(sizeof(*dshared));
	if(!dshared)
		return -1;
	memset(dshared, 0, sizeof(*dshared));
	if(af_lock_init(&dshared->lock) < 0) {
		af_host->shm_free(dshared);
		dshared = NULL;
		return -1;
	}
	return 0;
}

void af_dest_destroy(void)
{
	if(!dshared)
		return;
	af_lock_destroy(&dshared->lock);
	af_host->shm_free(dshared);
	dshared = NULL;
}

/* binary search of key[0..len) in a sorted caller map */
static const af_caller_map_t *map_find(const af_caller_map_t *m, uint32_t n,
		const char *key, size_t len)
{
	uint32_t lo = 0, hi = n;

	while(lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		size_t l = m[mid].len < len ? m[mid].len : len;
		int c = memcmp(m[mid].key, key, l);
		if(c == 0)
			c = (m[mid].len > len) - (m[mid].len < len);
		if(c == 0)
			return &m[mid];
		if(c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* the caller's user: the authenticated one, else the From user */
static const af_str_t *caller_user(const af_request_t *req)
{
	return req->auth_user.len ? &req->auth_user : &req->from_user;
}

/*
 * The profile: named by the script, else the caller table (user, then
 * the longest number prefix), else the default. NULL: no such name.
 */
static const af_profile_t *pick_profile(const af_rules_t *r,
		const char *name, size_t len, const af_request_t *req)
{
	const af_dest_cfg_t *d = &r->dest;
	const af_caller_map_t *m;
	const af_str_t *u;
	const char *s;
	size_t n, l;

	if(name && len)
		return af_rules_profile(r, name, len);
	u = caller_user(req);
	if(u->len && d->n_by_user
			&& (m = map_find(d->by_user, d->n_by_user, u->s, u->len)))
		return m->profile;
	if(u->len && d->n_by_prefix) {
		s = u->s;
		n = u->len;
		if(n && s[0] == '+') {
			s++;
			n--;
		}
		for(l = n < d->by_prefix_max ? n : d->by_prefix_max; l > 0; l--)
			if((m = map_find(d->by_prefix, d->n_by_prefix, s, l)))
				return m->profile;
	}
	return r->default_profile;
}

/* local time of the calendar (NULL: UTC, every day a workday) */
static void cal_state(const af_calendar_t *cal, uint64_t now, int *holiday,
		int *in_hours, uint16_t *minute)
{
	af_local_t lt;

	if(!cal) {
		*holiday = 0;
		*in_hours = 1;
		*minute = (uint16_t)((now / 60000) % 1440);
		return;
	}
	af_tz_local(cal->tz, now, &lt);
	*holiday = af_cal_holiday(cal, &lt);
	*in_hours = af_cal_in_hours(cal, &lt);
	*minute = lt.minute;
}

/* a cal_state answer remembered by cal_state_now */
typedef struct cal_memo {
	const af_calendar_t *cal;
	uint32_t generation; /* of the rules cal belongs to */
	uint64_t second;     /* now / 1000, 0: none */
	int holiday;
	int in_hours;
	uint16_t minute;
} cal_memo_t;

/*
 * cal_state for calendar cal of rules r, remembered per thread for the
 * second (two calendars: a profile's and the system's): the checks of
 * one second share one local-time computation. A reload is another
 * generation: its calendars are computed again.
 */
static void cal_state_now(const af_rules_t *r, const af_calendar_t *cal,
		uint64_t now, int *holiday, int *in_hours, uint16_t *minute)
{
	static __thread cal_memo_t memo[2];
	static __thread int next;
	cal_memo_t *m;
	int i;

	for(i = 0; i < 2; i++) {
		m = &memo[i];
		if(m->second == now / 1000 && m->second && m->cal == cal
				&& m->generation == r->generation)
			goto found;
	}
	m = &memo[next];
	next ^= 1;
	cal_state(cal, now, &m->holiday, &m->in_hours, &m->minute);
	m->cal = cal;
	m->generation = r->generation;
	m->second = now / 1000;
found:
	*holiday = m->holiday;
	*in_hours = m->in_hours;
	*minute = m->minute;
}

/*
 * Longest allow/deny prefix of digits: 1 allowed (an exception; allow
 * wins a tie), -1 refused, 0 neither.
 */
static int prefix_policy(const af_dest_profile_t *d, const char *digits,
		size_t len)
{
	size_t l = len < d->prefix_max ? len : d->prefix_max;

	for(; l > 0; l--) {
		if(af_strset_has(d->allow_prefixes, digits, l))
			return 1;
		if(af_strset_has(d->deny_prefixes, digits, l))
			return -1;
	}
	return 0;
}

/* is the string (as dialed, or +E.164) in set? */
static int number_in(const af_strset_t *set, const af_str_t *raw,
		const af_number_t *num)
{
	char buf[AF_E164_MAX + 2];

	if(!set)
		return 0;
	if(af_strset_has(set, raw->s, raw->len))
		return 1;
	if(num->kind == AF_NUM_INVALID)
		return 0;
	if(num->kind == AF_NUM_SHORT)
		return af_strset_has(set, num->digits, num->len);
	buf[0] = '+';
	memcpy(buf + 1, num->digits, num->len);
	return af_strset_has(set, buf, (size_t)num->len + 1)
		   || af_strset_has(set, num->digits, num->len);
}

/* is the caller (user as sent, or its +E.164) in set? */
static int caller_in(const af_strset_t *set, const af_dest_profile_t *d,
		const af_str_t *u)
{
	af_number_t n;

	if(!set || !u->len)
		return 0;
	if(af_strset_has(set, u->s, u->len))
		return 1;
	af_normalize(&d->dial, u->s, u->len, &n);
	return number_in(set, u, &n);
}

/*
 * Writes the strings of the NULL-terminated list that follows size into
 * buf (size > 0 bytes), cut at size - 1 as snprintf cuts: the details of
 * a refusal without printf, which costs ten times as much (a refused call
 * has several).
 */
static void why_join(char *buf, size_t size, ...)
{
	const char *s;
	size_t n = 0, l;
	va_list ap;

	va_start(ap, size);
	while((s = va_arg(ap, const char *)) != NULL) {
		l = strlen(s);
		if(l > size - 1 - n)
			l = size - 1 - n;
		memcpy(buf + n, s, l);
		n += l;
	}
	va_end(ap);
	buf[n] = '\0';
}

/* v in decimal, in b (24 bytes); returns b */
static const char *why_int(char *b, long long v)
{
	char t[24];
	unsigned long long u = (unsigned long long)v;
	size_t n = 0, i = 0;

	if(v < 0)
		u = 0 - u;

	do {
		t[n++] = (char)('0' + u % 10);
		u /= 10;
	} while(u);
	if(v < 0)
		b[i++] = '-';
	while(n)
		b[i++] = t[--n];
	b[i] = '\0';
	return b;
}

/*
 * The number plan's policy for the number in c: international, premium,
 * classes, countries and zones, ranges, risk. Flags what fails.
 */
static void plan_policy(dest_ctx_t *c)
{
	const af_dest_profile_t *d = c->d;
	const af_dest_info_t *di = &c->v->dest;
	char why[AF_DETAIL_MAX], n1[24], n2[24];
	uint16_t cc, zone;
	int pol;

	pol = c->num.kind == AF_NUM_SHORT
				  ? 0
				  : prefix_policy(d, c->num.digits, c->num.len);
	if(pol > 0)
		return; /* an allowed range: an exception to all of the plan */
	if(pol < 0) {
		why_join(why, sizeof(why), di->number, ": refused range", NULL);
		af_chk_flag_all(c->v, c->p, AF_R_DEST_RANGE, 1, why);
	}
	if(di->international && !d->international) {
		why_join(why, sizeof(why), di->number, ": international (",
				di->country, ") not allowed", NULL);
		af_chk_flag_all(c->v, c->p, AF_R_DEST_INTL, 1, why);
	}
	if(di->cls == AF_NC_PREMIUM && !d->premium) {
		why_join(why, sizeof(why), di->number, ": premium rate not allowed",
				NULL);
		af_chk_flag_all(c->v, c->p, AF_R_DEST_PREMIUM, 1, why);
	}
	if(d->deny_classes & (1u << di->cls)) {
		why_join(why, sizeof(why), di->number, ": class ",
				af_numclass_name((af_numclass_t)di->cls), " not allowed", NULL);
		af_chk_flag_all(c->v, c->p, AF_R_DEST_CLASS, 1, why);
	}
	if(di->international && di->country[0]) {
		cc = af_cc_pack(di->country);
		zone = di->zone[0] ? af_cc_pack(di->zone) : 0;
		if((d->n_allow_cc && !af_sorted_has_u16(d->allow_cc, d->n_allow_cc, cc))
				|| af_sorted_has_u16(d->deny_cc, d->n_deny_cc, cc)
				|| (d->n_allow_zone
						&& !af_sorted_has_u16(d->allow_zone, d->n_allow_zone, zone))
				|| af_sorted_has_u16(d->deny_zone, d->n_deny_zone, zone)) {
			why_join(why, sizeof(why), di->number, ": country ", di->country,
					" (", di->zone, ") not allowed", NULL);
			af_chk_flag_all(c->v, c->p, AF_R_DEST_COUNTRY, 1, why);
		}
	}
	if((uint32_t)di->risk > d->max_risk) {
		why_join(why, sizeof(why), di->number, ": risk ",
				why_int(n1, di->risk), " above ", why_int(n2, d->max_risk),
				NULL);
		af_chk_flag_all(c->v, c->p, AF_R_DEST_RISK, 1, why);
	}
}

/* appends s[0..len) to the key being built in buf (cut at KEY_MAX - 1) */
static size_t key_put(char *buf, size_t n, const char *s, size_t len)
{
	if(n + len > KEY_MAX - 1)
		len = KEY_MAX - 1 - n;
	memcpy(buf + n, s, len);
	return n + len;
}

/*
 * Builds the key of op i of c: tag (TAG: its length known), then a,
 * then '|' and b (when b is not NULL). Keys are built without printf:
 * this runs several times per call. Returns its length.
 */
static size_t build_key(dest_ctx_t *c, int i, const af_str_t *tag,
		const char *a, size_t alen, const char *b, size_t blen)
{
	char *k = c->keys[i];
	size_t n;

	n = key_put(k, 0, tag->s, tag->len);
	n = key_put(k, n, a, alen);
	if(b) {
		n = key_put(k, n, "|", 1);
		n = key_put(k, n, b, blen);
	}
	k[n] = '\0';
	return n;
}

/* whether the sub-check of reason enforces (its blocks gate) */
static inline int enforced(const dest_ctx_t *c, af_reason_t reason)
{
	return c->p->mode[af_chk_owner(reason)] == AF_MODE_ENFORCE;
}

/* the gate of a window: an enforced block threshold keeps the call out
 * of the concurrency sets */
static inline uint32_t win_gate(int enforce, const af_limit_t *lim)
{
	return enforce && lim && lim->block ? lim->block : 0;
}

/* Adds a WIN_HIT op of key tag a. Returns the op's index, -1 when c is
 * full. */
static int add_win(dest_ctx_t *c, af_reason_t reason, const af_limit_t *lim,
		uint32_t window_s, const af_str_t *tag, const char *a, size_t alen)
{
	af_op_t *op;
	int i = c->nops;

	if(i >= OPS_MAX)
		return -1;
	op = &c->ops[i];
	memset(op, 0, sizeof(*op));
	op->type = AF_OP_WIN_HIT;
	op->key = c->keys[i];
	op->key_len = build_key(c, i, tag, a, alen, NULL, 0);
	op->u.win.window_s = window_s;
	op->u.win.n = 1;
	op->u.win.gate = win_gate(enforced(c, reason), lim);
	c->reason[i] = reason;
	c->lim[i][0] = lim;
	c->nops++;
	return i;
}

/*
 * Adds a WIN_MULTI op of key tag a|b (see build_key) without windows
 * (add_window adds them); if_new as in af_op_t. Returns the op's index,
 * -1 when c is full.
 */
static int add_multi(dest_ctx_t *c, af_reason_t reason, int if_new,
		const af_str_t *tag, const char *a, size_t alen, const char *b,
		size_t blen)
{
	af_op_t *op;
	int i = c->nops;

	if(i >= OPS_MAX)
		return -1;
	/* the fields of a WIN_MULTI, not the whole op: w[] as windows come */
	op = &c->ops[i];
	op->type = AF_OP_WIN_MULTI;
	op->status = 0;
	op->key = c->keys[i];
	op->key_len = build_key(c, i, tag, a, alen, b, blen);
	op->u.wm.n = 1;
	op->u.wm.nwin = 0;
	op->u.wm.if_new = if_new;
	op->u.wm.ban_s = 0;
	op->u.wm.ban_key = NULL;
	op->u.wm.ban_key_len = 0;
	op->u.wm.ban_reason = NULL;
	c->reason[i] = reason;
	c->enforce[i] = (uint8_t)enforced(c, reason);
	c->nops++;
	return i;
}

/* adds window w with limit lim (NULL: counted, not judged) to WIN_MULTI
 * op i */
static void add_window(dest_ctx_t *c, int i, uint32_t w,
		const af_limit_t *lim)
{
	af_win_one_t *one = &c->ops[i].u.wm.w[c->ops[i].u.wm.nwin];

	c->lim[i][c->ops[i].u.wm.nwin++] = lim;
	one->window_s = w;
	one->gate = win_gate(c->enforce[i], lim);
	one->ban_threshold = 0;
	one->count = 0;
	one->banned = 0;
	one->added = 0;
}

/* the limit of repetition counter rp at index at of its limits (-1:
 * none, NULL) */
static inline const af_limit_t *repeat_limit(const af_repeat_t *rp, int at)
{
	return at < 0 ? NULL : &rp->lim[at];
}

/*
 * The repetition counters of the windows first..first+nwin of the
 * profile's union of them (at most AF_WIN_MULTI_MAX), group g: the
 * caller-number pair (the same-number count, and what tells whether the
 * number is new for the distinct counts), the similar numbers and the
 * many callers, one WIN_MULTI each over the windows it has limits for.
 * Group 0's keys are tagged "w", the next ones "w<g>".
 */
static void add_repeat_group(dest_ctx_t *c, int first, int nwin, int g,
		size_t plen)
{
	_Static_assert(WGROUPS == 4, "a key tag per group of windows");
	static const af_str_t tags[3][WGROUPS] = {
		{TAG("rn|w|"), TAG("rn|w1|"), TAG("rn|w2|"), TAG("rn|w3|")},
		{TAG("rs|w|"), TAG("rs|w1|"), TAG("rs|w2|"), TAG("rs|w3|")},
		{TAG("rk|w|"), TAG("rk|w1|"), TAG("rk|w2|"), TAG("rk|w3|")}};
	const af_dest_profile_t *d = c->d;
	const af_limit_t *lim;
	uint32_t w;
	int pair, sim = -1, cal = -1, j;

	pair = add_multi(c, AF_R_REPEAT_NUMBER, 0, &tags[0][g], c->caller,
			c->caller_len, c->num.digits, c->num.len);
	if(pair < 0)
		return;
	for(j = first; j < first + nwin; j++) {
		w = d->rep_win[j];
		add_window(c, pair, w, repeat_limit(&d->same, d->rep_lim[0][j]));
		if((lim = repeat_limit(&d->similar, d->rep_lim[1][j])) && plen) {
			if(sim < 0)
				sim = add_multi(c, AF_R_REPEAT_SIMILAR, pair + 1, &tags[1][g],
						c->caller, c->caller_len, c->num.digits, plen);
			if(sim >= 0)
				add_window(c, sim, w, lim);
		}
		if((lim = repeat_limit(&d->callers, d->rep_lim[2][j]))) {
			if(cal < 0)
				cal = add_multi(c, AF_R_REPEAT_CALLERS, pair + 1, &tags[2][g],
						c->num.digits, c->num.len, NULL, 0);
			if(cal >= 0)
				add_window(c, cal, w, lim);
		}
	}
}

/* the ops of the rates and the repetition counters (those whose
 * sub-check is not off) */
static void add_counters(dest_ctx_t *c, int rates, int repeats)
{
	static const af_str_t rate = TAG("r|w|"), country = TAG("rc|");
	const af_dest_profile_t *d = c->d;
	int nwin, g, i = -1;
	size_t plen;

	/* the caller's rates: one counter over 1 s and 60 s */
	if(rates
			&& (d->rate_cps.warn || d->rate_cps.block || d->rate_cpm.warn
					|| d->rate_cpm.block))
		i = add_multi(c, AF_R_RATE_CALLER, 0, &rate, c->caller,
				c->caller_len, NULL, 0);
	if(i >= 0 && (d->rate_cps.warn || d->rate_cps.block))
		add_window(c, i, 1, &d->rate_cps);
	if(i >= 0 && (d->rate_cpm.warn || d->rate_cpm.block))
		add_window(c, i, 60, &d->rate_cpm);
	if(rates && (d->rate_country_cpm.warn || d->rate_country_cpm.block)
			&& c->v->dest.country[0])
		add_win(c, AF_R_RATE_COUNTRY, &d->rate_country_cpm, 60, &country,
				c->v->dest.country, 2);
	if(!repeats || (d->repeat_intl_only && !c->v->dest.international))
		return;
	nwin = d->n_rep_win;
	plen = c->num.len > d->similar_digits ? c->num.len - d->similar_digits
										  : 0;
	for(g = 0; g * AF_WIN_MULTI_MAX < nwin; g++)
		add_repeat_group(c, g * AF_WIN_MULTI_MAX,
				nwin - g * AF_WIN_MULTI_MAX < AF_WIN_MULTI_MAX
						? nwin - g * AF_WIN_MULTI_MAX
						: AF_WIN_MULTI_MAX,
				g, plen);
}

/* adds a CONC_ADD op; limit 0 when the check only monitors */
static int add_conc(dest_ctx_t *c, const char *key, size_t key_len,
		uint32_t limit, const af_request_t *req)
{
	af_op_t *op;
	int i = c->nops;

	if(i >= OPS_MAX)
		return -1;
	op = &c->ops[i];
	memset(op, 0, sizeof(*op));
	op->type = AF_OP_CONC_ADD;
	op->key = key;
	op->key_len = key_len;
	op->u.conc.member = req->call_id.s;
	op->u.conc.member_len = req->call_id.len;
	op->u.conc.limit = limit == AF_NO_LIMIT
									   || c->p->mode[AF_C_CONCURRENCY]
												  != AF_MODE_ENFORCE
							   ? 0
							   : limit;
	op->u.conc.ttl_s = c->r->dest.max_duration_s;
	c->lim[i][0] = NULL;
	c->nops++;
	return i;
}

/* a time-of-day limit in force (AF_NO_LIMIT: none) */
static uint32_t slot_limit(const af_slots_t *s, int holiday, uint16_t minute)
{
	return af_slots_limit(&s[holiday ? 1 : 0], minute);
}

/* judges count in window_s of op i against lim (not NULL): every
 * breach is reported */
static void judge_count(dest_ctx_t *c, int i, const af_limit_t *lim,
		uint32_t count, uint32_t window_s)
{
	char why[96];

	if(lim->block && count > lim->block) {
		snprintf(why, sizeof(why), "%s %u in %us > %u",
				af_reason_name(c->reason[i]), count, window_s, lim->block);
		af_chk_flag_all(c->v, c->p, c->reason[i], 1, why);
	} else if(lim->warn && count > lim->warn) {
		snprintf(why, sizeof(why), "%s %u in %us > %u (warn)",
				af_reason_name(c->reason[i]), count, window_s, lim->warn);
		af_chk_flag_all(c->v, c->p, c->reason[i], 0, why);
	}
}

/* whether count breaks limit lim (NULL: none) */
static inline int over(const af_limit_t *lim, uint32_t count)
{
	return lim
		   && ((lim->block && count > lim->block)
				   || (lim->warn && count > lim->warn));
}

/* judges a counted op (WIN_HIT or WIN_MULTI) against its limits */
static void judge_win(dest_ctx_t *c, int i)
{
	const af_op_t *op = &c->ops[i];
	int j;

	if(op->status != 0)
		return;
	if(op->type == AF_OP_WIN_HIT) {
		if(over(c->lim[i][0], op->u.win.count))
			judge_count(c, i, c->lim[i][0], op->u.win.count,
					op->u.win.window_s);
		return;
	}
	for(j = 0; j < op->u.wm.nwin; j++)
		if(over(c->lim[i][j], op->u.wm.w[j].count))
			judge_count(c, i, c->lim[i][j], op->u.wm.w[j].count,
					op->u.wm.w[j].window_s);
}

/*
 * Adds the lookups of the analytics enforcement marks (af_outcome.c) of
 * the call's caller, source, destination country and range when the
 * profile enforces analytics.
 */
static void add_marks(dest_ctx_t *c, const af_request_t *req)
{
	const af_analytics_cfg_t *a = &c->r->analytics;
	char name[AF_IP_STRLEN + 1];
	const char *s;
	size_t len;
	af_op_t *op;
	int k, i;

	if(!a->enabled || c->p->mode[AF_C_ANALYTICS] != AF_MODE_ENFORCE)
		return;
	for(k = 0; k < AF_OUT__COUNT && c->nops < OPS_MAX; k++) {
		if(!(a->subjects & (1u << k)))
			continue;
		s = NULL;
		len = 0;
		switch(k) {
			case AF_OUT_CALLER:
				s = c->caller;
				len = c->caller[0] == '?' ? 0 : c->caller_len;
				break;
			case AF_OUT_SOURCE:
				if(req->src_ip.family
						&& af_ip_format(&req->src_ip, name, sizeof(name)) >= 0) {
					s = name;
					len = strlen(name);
				}
				break;
			case AF_OUT_COUNTRY:
				s = c->v->dest.country;
				len = strlen(s);
				break;
			case AF_OUT_PREFIX:
				if(c->num.kind != AF_NUM_SHORT) {
					s = c->num.digits;
					len = c->num.len < a->prefix_digits ? c->num.len
														: a->prefix_digits;
				}
				break;
		}
		if(!len)
			continue;
		i = c->nops;
		op = &c->ops[i];
		memset(op, 0, sizeof(*op));
		op->type = AF_OP_BAN_GET;
		op->key = c->keys[i];
		op->key_len = af_outcome_mark_key(
				c->keys[i], KEY_MAX, (af_outcome_subject_t)k, s, len);
		op->u.ban_get.stop = 1;
		c->lim[i][0] = NULL;
		c->nops++;
	}
}

/* a found analytics mark refuses the call, with the mark's reason */
static void judge_mark(dest_ctx_t *c, int i)
{
	const af_op_t *op = &c->ops[i];
	const af_ban_t *b = &op->u.ban_get.ban;
	uint64_t now = af_now_ms();
	char why[160];
	int r;

	if(op->status != 0 || !op->u.ban_get.found)
		return;
	r = af_reason_parse(b->reason, strnlen(b->reason, sizeof(b->reason)));
	if(r < AF_R_ASR_LOW || r > AF_R_PDD)
		r = AF_R_ASR_LOW;
	snprintf(why, sizeof(why), "analytics %.*s (%s): refused for %us more",
			(int)(op->key_len > 3 + 64 ? 64 : op->key_len - 3), op->key + 3,
			af_reason_name((af_reason_t)r),
			(unsigned)(b->until_ms > now ? (b->until_ms - now + 999) / 1000
										 : 0));
	af_chk_flag_all(c->v, c->p, (af_reason_t)r, 1, why);
}

/* judges a CONC_ADD op against the limit in force */
static void judge_conc(dest_ctx_t *c, int i, af_reason_t reason,
		uint32_t limit, uint32_t *count)
{
	const af_op_t *op = &c->ops[i];
	char why[96];

	if(op->status != 0)
		return;
	*count = op->u.conc.count;
	if(limit == AF_NO_LIMIT)
		return;
	if(op->u.conc.full || op->u.conc.count > limit) {
		snprintf(why, sizeof(why), "%s %u%s, limit %u",
				af_reason_name(reason), op->u.conc.count,
				op->u.conc.full ? " (full)" : "", limit);
		af_chk_flag_all(c->v, c->p, reason, 1, why);
	}
}

/* counts the outcome per destination country */
static void count_outcome(const af_verdict_t *v)
{
	unsigned long long bits;
	int i, k;

	if(!dshared || v->rc == AF_RC_NORULE || v->rc == AF_RC_ERROR
			|| af_core_dry())
		return;
	k = cc_index(v->dest.country);
	__atomic_add_fetch(&dshared->attempts[k], 1, __ATOMIC_RELAXED);
	if(v->rc == AF_RC_ALLOW)
		__atomic_add_fetch(&dshared->allowed[k], 1, __ATOMIC_RELAXED);
	else if(v->rc == AF_RC_ALERT)
		__atomic_add_fetch(&dshared->alerts[k], 1, __ATOMIC_RELAXED);
	else if(v->rc == AF_RC_BLOCK)
		__atomic_add_fetch(&dshared->blocked[k], 1, __ATOMIC_RELAXED);
	for(bits = v->reasons; bits; bits &= bits - 1) {
		i = __builtin_ctzll(bits);
		if(i < AF_R__COUNT)
			__atomic_add_fetch(&dshared->reason[k][i], 1, __ATOMIC_RELAXED);
	}
}

/* the number as shown: "+E.164", or the short code */
static void set_number(af_dest_info_t *di, const af_number_t *n)
{
	size_t l = n->len > AF_E164_MAX ? AF_E164_MAX : n->len, o = 0;

	if(n->kind != AF_NUM_SHORT)
		di->number[o++] = '+';
	memcpy(di->number + o, n->digits, l);
	di->number[o + l] = '\0';
}

/* ends a check: return code, statistics */
static int finish(dest_ctx_t *c, int evaluated)
{
	af_verdict_t *v = c->v;
	int rc;

	if(c->dry) {
		/* the same return code, nothing counted */
		if(v->blocking)
			rc = AF_RC_BLOCK;
		else if(v->reasons)
			rc = AF_RC_ALERT;
		else
			rc = evaluated ? AF_RC_ALLOW : AF_RC_NORULE;
		return v->rc = rc;
	}
	rc = af_chk_conclude(v, evaluated);
	count_outcome(v);
	return rc;
}

static int dest_run(const af_request_t *req, const char *profile,
		size_t profile_len, af_verdict_t *v, int dry);

int af_check_dest(const af_request_t *req, const char *profile,
		size_t profile_len, af_verdict_t *v)
{
	return dest_run(req, profile, profile_len, v, 0);
}

int af_dest_explain(const char *profile, size_t profile_len,
		const char *caller, const char *number, af_verdict_t *v)
{
	af_request_t req;

	memset(&req, 0, sizeof(req));
	req.method = AF_M_INVITE;
	req.initial = 1;
	req.from_user.s = caller ? caller : "";
	req.from_user.len = caller ? strlen(caller) : 0;
	req.ruri_user.s = number;
	req.ruri_user.len = strlen(number);
	return dest_run(&req, profile, profile_len, v, 1);
}

/*
 * The check; dry: the local decisions only (profile, number, plan,
 * permissions, schedule), nothing read or written in the store and
 * nothing counted (antifraud.dest_explain).
 */
static int dest_run(const af_request_t *req, const char *profile,
		size_t profile_len, af_verdict_t *v, int dry)
{
	dest_ctx_t *c, ctx_store;
	af_rules_t *r;
	const af_str_t *u;
	af_dest_info_t *di;
	uint64_t now;
	uint16_t minute, sminute;
	int holiday, in_hours, sholiday, sin_hours, i;
	int evaluated = 1, failed = 0;
	int total_op = -1, caller_op = -1;
	uint32_t total_limit = AF_NO_LIMIT, caller_limit = AF_NO_LIMIT;
	af_str_t dialed;
	const char *semi;
	size_t n;

	memset(v, 0, sizeof(*v));
	v->check = "dest";
	di = &v->dest;
	if(!dry)
		af_core_count(AF_ST_CHECKS);
	if(req->method != AF_M_INVITE || !req->initial)
		return af_chk_conclude(v, 0);
	c = &ctx_store;
	c->nops = 0;
	c->v = v;
	c->dry = dry;
	r = af_core_acquire();
	c->r = r;
	c->p = pick_profile(r, profile, profile_len, req);
	if(!c->p) {
		if(!dry) {
			AF_ERR("af_check_dest: no profile '%.*s' in %s\n",
					(int)profile_len, profile, r->path);
			af_core_count(AF_ST_ERRORS);
		}
		failed = 1;
		goto out;
	}
	n = strlen(c->p->name);
	if(n >= sizeof(di->profile))
		n = sizeof(di->profile) - 1;
	memcpy(di->profile, c->p->name, n);
	c->d = c->p->dest;
	if(!c->d || !r->dest.plan) {
		evaluated = 0;
		goto out;
	}
	u = caller_user(req);
	c->caller_len = af_chk_caller_id(req, c->caller, sizeof(c->caller));
	if(!c->caller_len)
		c->caller_len = (size_t)snprintf(c->caller, sizeof(c->caller), "?");
	if(caller_in(c->d->exempt_callers, c->d, u)) {
		goto out;
	}

	/* what was dialed, and where it goes */
	dialed = req->ruri_user;
	semi = dialed.len ? memchr(dialed.s, ';', dialed.len) : NULL;
	if(semi)
		dialed.len = (size_t)(semi - dialed.s);
	af_normalize(&c->d->dial, req->ruri_user.s, req->ruri_user.len, &c->num);
	di->kind = c->num.kind;
	if(number_in(c->d->exempt_numbers, &dialed, &c->num)) {
		if(c->num.kind != AF_NUM_INVALID)
			set_number(di, &c->num);
		goto out;
	}
	if(caller_in(c->d->blocked_callers, c->d, u)) {
		char why[96];
		snprintf(why, sizeof(why), "caller %.*s is blocked",
				(int)(u->len > 64 ? 64 : u->len), u->s);
		af_chk_flag_all(v, c->p, AF_R_CALLER_BLOCKED, 1, why);
	}
	if(c->num.kind == AF_NUM_INVALID) {
		char why[128];
		snprintf(why, sizeof(why), "'%.*s' is not a number: %s",
				(int)(dialed.len > 40 ? 40 : dialed.len), dialed.s,
				c->num.why ? c->num.why : "?");
		af_chk_flag_all(v, c->p, AF_R_DEST_INVALID, 1, why);
		goto out;
	}
	if(c->num.kind == AF_NUM_SHORT) {
		set_number(di, &c->num);
		memcpy(di->country, c->d->country, 3);
		di->cls = AF_NC_SHORT;
	} else {
		set_number(di, &c->num);
		if(!af_numplan_lookup(r->dest.plan, c->num.digits, c->num.len,
				   &c->info)) {
			char why[96];
			why_join(why, sizeof(why), di->number, ": no such country code",
					NULL);
			af_chk_flag_all(v, c->p, AF_R_DEST_INVALID, 1, why);
			goto out;
		}
		memcpy(di->country, c->info.country, 3);
		memcpy(di->zone, c->info.zone, 3);
		di->cls = c->info.cls;
		di->risk = c->info.risk;
		di->international = strcmp(di->country, c->d->country) != 0;
	}
	if(c->p->mode[AF_C_DEST] != AF_MODE_OFF)
		plan_policy(c);

	/* the schedule, in the profile's calendar */
	now = af_now_ms();
	cal_state_now(r, c->d->calendar ? c->d->calendar : r->dest.calendar, now,
			&holiday, &in_hours, &minute);
	di->holiday = holiday;
	di->in_hours = in_hours;
	if(c->p->mode[AF_C_SCHEDULE] != AF_MODE_OFF && !in_hours
			&& ((c->d->outside_classes & (1u << di->cls))
					|| (c->d->outside_international && di->international))) {
		char why[96];
		why_join(why, sizeof(why), di->number, ": not allowed ",
				holiday ? "on a holiday" : "outside business hours", NULL);
		af_chk_flag_all(v, c->p, AF_R_SCHEDULE, 1, why);
	}
	if(v->blocking || dry) {
		/* refused by policy: nothing to count (or only explaining) */
		goto out;
	}

	/* state: every counter and limit in one store call; first the
	 * analytics marks of the call's subjects (a found one stops it) */
	add_marks(c, req);
	add_counters(c, c->p->mode[AF_C_RATE] != AF_MODE_OFF,
			c->p->mode[AF_C_REPEAT] != AF_MODE_OFF);
	if(di->international && req->call_id.len
			&& c->p->mode[AF_C_CONCURRENCY] != AF_MODE_OFF) {
		/* the total is always counted (its statistics set the limits);
		 * its time slots follow the system calendar */
		if(!c->d->calendar || c->d->calendar == r->dest.calendar) {
			sholiday = holiday; /* the same calendar: already known */
			sminute = minute;
		} else {
			cal_state_now(r, r->dest.calendar, now, &sholiday, &sin_hours,
					&sminute);
		}
		if(r->dest.has_conc_total)
			total_limit = slot_limit(r->dest.conc_total, sholiday, sminute);
		total_op = add_conc(c, CONC_TOTAL_KEY, sizeof(CONC_TOTAL_KEY) - 1,
				total_limit, req);
		if(c->d->has_conc_caller) {
			caller_limit = slot_limit(c->d->conc_caller, holiday, minute);
			if(caller_limit != AF_NO_LIMIT) {
				i = c->nops;
				n = key_put(c->keys[i], 0, CONC_CALLER_PREFIX,
						sizeof(CONC_CALLER_PREFIX) - 1);
				n = key_put(c->keys[i], n, c->caller, c->caller_len);
				c->keys[i][n] = '\0';
				caller_op = add_conc(c, c->keys[i], n, caller_limit, req);
			}
		}
	}
	/* decide on what is known: a store that cannot answer blocks
	 * nothing by itself (unless the fallback is "closed") */
	if(c->nops)
		af_chk_exec(c->ops, c->nops, now, v);
	for(i = 0; i < c->nops; i++)
		if(c->ops[i].type == AF_OP_WIN_HIT
				|| c->ops[i].type == AF_OP_WIN_MULTI)
			judge_win(c, i);
		else if(c->ops[i].type == AF_OP_BAN_GET)
			judge_mark(c, i);
	if(total_op >= 0)
		judge_conc(c, total_op, AF_R_CONC_TOTAL, total_limit, &di->conc_total);
	if(caller_op >= 0)
		judge_conc(
				c, caller_op, AF_R_CONC_CALLER, caller_limit, &di->conc_caller);
	/* what the call holds, to be released when it ends */
	if((total_op >= 0 && c->ops[total_op].status == 0
			   && c->ops[total_op].u.conc.admitted)
			|| (caller_op >= 0 && c->ops[caller_op].status == 0
					&& c->ops[caller_op].u.conc.admitted)) {
		af_dest_ticket_t *t = &di->ticket;
		n = req->call_id.len > AF_CALLID_MAX ? AF_CALLID_MAX
											: req->call_id.len;
		t->total = total_op >= 0 && c->ops[total_op].u.conc.admitted;
		t->caller = caller_op >= 0 && c->ops[caller_op].u.conc.admitted;
		memcpy(t->callid, req->call_id.s, n);
		t->callid_len = (uint16_t)n;
		if(t->caller) {
			n = strlen(c->keys[caller_op]);
			if(n > AF_KEY_MAX)
				n = AF_KEY_MAX;
			memcpy(t->key, c->keys[caller_op], n);
			t->key_len = (uint16_t)n;
		}
	}
out:
	/* the snapshot is held from af_core_acquire to here, whatever the
	 * way out */
	af_core_release(r);
	if(failed)
		return v->rc = AF_RC_ERROR;
	return finish(c, evaluated);
}

void af_dest_release(const af_dest_ticket_t *t)
{
	af_op_t ops[2];
	int n = af_dest_release_ops(t, ops);

	if(n && af_store_exec(af_core_store(), ops, n, af_now_ms()) < 0)
		af_core_count(AF_ST_STORE_ERRORS);
}

int af_dest_release_ops(const af_dest_ticket_t *t, af_op_t *ops)
{
	int n = 0;

	if(!t || !t->callid_len)
		return 0;
	memset(ops, 0, 2 * sizeof(*ops));
	if(t->total) {
		ops[n].type = AF_OP_CONC_DEL;
		ops[n].key = CONC_TOTAL_KEY;
		ops[n].key_len = sizeof(CONC_TOTAL_KEY) - 1;
		ops[n].u.conc.member = t->callid;
		ops[n].u.conc.member_len = t->callid_len;
		n++;
	}
	if(t->caller && t->key_len) {
		ops[n].type = AF_OP_CONC_DEL;
		ops[n].key = t->key;
		ops[n].key_len = t->key_len;
		ops[n].u.conc.member = t->callid;
		ops[n].u.conc.member_len = t->callid_len;
		n++;
	}
	return n;
}

/* the live total of international calls; -1 when the store failed */
static int total_now(uint32_t *total)
{
	af_op_t op;

	memset(&op, 0, sizeof(op));
	op.type = AF_OP_CONC_COUNT;
	op.key = CONC_TOTAL_KEY;
	op.key_len = sizeof(CONC_TOTAL_KEY) - 1;
	if(af_store_exec(af_core_store(), &op, 1, af_now_ms()) < 0
			|| op.status != 0)
		return -1;
	*total = op.u.conc.count;
	return 0;
}

int af_dest_concurrency(uint32_t *total, uint32_t *limit, int *holiday,
		int *hour)
{
	af_rules_t *r = af_core_acquire();
	int in_hours;
	uint16_t minute;

	cal_state(r->dest.calendar, af_now_ms(), holiday, &in_hours, &minute);
	*hour = minute / 60;
	*limit = r->dest.has_conc_total
					 ? slot_limit(r->dest.conc_total, *holiday, minute)
					 : AF_NO_LIMIT;
	af_core_release(r);
	return total_now(total);
}

typedef struct list_arg {
	af_conc_cb cb;
	void *arg;
} list_arg_t;

/* strips the caller-set prefix off a key */
static int list_one(const char *key, size_t key_len, uint32_t count,
		void *arg)
{
	list_arg_t *la = arg;
	size_t pl = sizeof(CONC_CALLER_PREFIX) - 1;

	if(key_len < pl)
		return 0;
	return la->cb(key + pl, key_len - pl, count, la->arg);
}

int af_dest_concurrency_list(af_conc_cb cb, void *arg)
{
	af_store_t *s = af_core_store();
	list_arg_t la = {cb, arg};

	if(!s->ops->conc_list)
		return -1;
	return s->ops->conc_list(s, CONC_CALLER_PREFIX,
			sizeof(CONC_CALLER_PREFIX) - 1, list_one, &la, af_now_ms());
}

/*
 * Samples the total of international calls into its slot (day type and
 * hour of the system calendar), at most once a second.
 */
void af_dest_timer(const af_rules_t *r)
{
	uint64_t now = af_now_ms();
	uint32_t total;
	int holiday, in_hours;
	uint16_t minute;
	slot_acc_t *a;

	if(!dshared || !r->dest.plan)
		return;
	if(now < dshared->last_sample_ms + 1000)
		return;
	if(total_now(&total) < 0)
		return;
	cal_state(r->dest.calendar, now, &holiday, &in_hours, &minute);
	af_lock(&dshared->lock);
	dshared->last_sample_ms = now;
	a = &dshared->slot[holiday ? 1 : 0][minute / 60];
	a->n++;
	a->sum += total;
	a->sumsq += (double)total * total;
	if(total > a->max)
		a->max = total;
	af_unlock(&dshared->lock);
}

void af_dest_slot_stat(int holiday, int hour, af_dest_slot_stat_t *out)
{
	slot_acc_t a;
	double var;

	memset(out, 0, sizeof(*out));
	if(!dshared || hour < 0 || hour > 23)
		return;
	af_lock(&dshared->lock);
	a = dshared->slot[holiday ? 1 : 0][hour];
	af_unlock(&dshared->lock);
	out->samples = a.n;
	out->max = a.max;
	if(!a.n)
		return;
	out->mean = a.sum / (double)a.n;
	var = a.sumsq / (double)a.n - out->mean * out->mean;
	out->stddev = var > 0 ? sqrt(var) : 0;
}

void af_dest_country_stats(af_dest_country_cb cb, void *arg)
{
	uint64_t by[AF_R__COUNT];
	char cc[3];
	int k, i;

	if(!dshared)
		return;
	for(k = 0; k < NCC; k++) {
		uint64_t n = __atomic_load_n(&dshared->attempts[k], __ATOMIC_RELAXED);
		if(!n)
			continue;
		cc[0] = (char)('A' + k / 26);
		cc[1] = (char)('A' + k % 26);
		cc[2] = '\0';
		for(i = 0; i < AF_R__COUNT; i++)
			by[i] = __atomic_load_n(&dshared->reason[k][i], __ATOMIC_RELAXED);
		if(cb(k == NCC - 1 ? "" : cc, n,
				   __atomic_load_n(&dshared->allowed[k], __ATOMIC_RELAXED),
				   __atomic_load_n(&dshared->alerts[k], __ATOMIC_RELAXED),
				   __atomic_load_n(&dshared->blocked[k], __ATOMIC_RELAXED), by,
				   arg))
			break;
	}
}

void af_dest_stats_reset(void)
{
	if(!dshared)
		return;
	af_lock(&dshared->lock);
	memset(dshared->slot, 0, sizeof(dshared->slot));
	memset(dshared->attempts, 0, sizeof(dshared->attempts));
	memset(dshared->allowed, 0, sizeof(dshared->allowed));
	memset(dshared->alerts, 0, sizeof(dshared->alerts));
	memset(dshared->blocked, 0, sizeof(dshared->blocked));
	memset(dshared->reason, 0, sizeof(dshared->reason));
	af_unlock(&dshared->lock);
}
