/*
 * antifraud - the signal mix (af_outcome.h, af_signal_count): per source
 * and per caller, the requests and final answers of a short window as a
 * distribution over a few signal classes, compared with the baseline of
 * the time slot (day type and hour of the system calendar) by relative
 * entropy (Kullback-Leibler divergence, in bits, with additive smoothing
 * on both sides):
 *
 *   D(P||Q) = sum_i P(i) log2(P(i) / Q(i)),
 *   P(i) = (c_i + a) / (N + K a),  Q(i) = (b_i + a) / (B + K a)
 *
 * c: the window's counts (N in all), b: the baseline's (B), a: the
 * smoothing, K: the classes. A window of at least min_signals is judged
 * when its slot has learned 'learn' windows (else against all slots
 * together when they have); over the threshold it raises signal_mix with
 * the classes that contribute most, else it teaches its slot. So an
 * attack never becomes normal. Detection only: never blocks.
 *
 * This node's shared memory, no store: a fixed table of subjects (striped
 * locks, a few probes per lookup; a full probe range drops its oldest
 * window), each window starting at its first signal. A window closes on
 * the next signal after it (judged there) or in af_signal_timer.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "af_check.h"
#include "af_host.h"
#include "af_lock.h"
#include "af_outcome_int.h"
#include "af_text.h"

#define MIX_BINS 16
#define MIX_STRIPES 32
#define MIX_PER 128 /* subjects per stripe */
#define MIX_PROBE 8
#define MIX_NAME 96
#define MIX_BASE_MAX 1e7 /* a baseline over this many signals halves */

static const char *const bin_names[MIX_BINS] = {"INVITE", "REGISTER",
		"OPTIONS", "BYE/ACK/CANCEL", "other request", "2xx", "3xx",
		"401/407", "403", "404", "408/480", "486/600/603", "487",
		"other 4xx", "5xx", "6xx"};

typedef struct mix_entry {
	uint64_t hash;
	uint64_t start_ms; /* 0: free */
	uint32_t window_s;
	uint32_t total;
	uint32_t c[MIX_BINS];
	uint8_t kind; /* af_outcome_subject_t */
	uint8_t len;
	char name[MIX_NAME];
} mix_entry_t;

typedef struct mix_base {
	double c[MIX_BINS];
	double total;
	uint64_t windows;
} mix_base_t;

typedef struct mix_stripe {
	af_lock_t lock;
	mix_entry_t e[MIX_PER];
} mix_stripe_t;

typedef struct mix_shared {
	af_lock_t base_lock;
	mix_base_t base[2][24];
	uint64_t dropped; /* windows dropped for room */
	mix_stripe_t stripe[MIX_STRIPES];
} mix_shared_t;

static mix_shared_t *mshared;

/* a closed window copied out for judging */
typedef struct mix_window {
	uint8_t kind;
	char name[MIX_NAME + 1];
	uint32_t window_s;
	uint32_t total;
	uint32_t c[MIX_BINS];
} mix_window_t;

int af_signal_init(void)
{
	int i;

	mshared = af_host->shm_alloc(sizeof(*mshared));
	if(!mshared)
		return -1;
	memset(mshared, 0, sizeof(*mshared));
	if(af_lock_init(&mshared->base_lock) < 0)
		goto error;
	for(i = 0; i < MIX_STRIPES; i++)
		if(af_lock_init(&mshared->stripe[i].lock) < 0) {
			while(--i >= 0)
				af_lock_destroy(&mshared->stripe[i].lock);
			af_lock_destroy(&mshared->base_lock);
			goto error;
		}
	return 0;
error:
	af_host->shm_free(mshared);
	mshared = NULL;
	return -1;
}

void af_signal_destroy(void)
{
	int i;

	if(!mshared)
		return;
	for(i = 0; i < MIX_STRIPES; i++)
		af_lock_destroy(&mshared->stripe[i].lock);
	af_lock_destroy(&mshared->base_lock);
	af_host->shm_free(mshared);
	mshared = NULL;
}

void af_signal_reset(void)
{
	if(!mshared)
		return;
	af_lock(&mshared->base_lock);
	memset(mshared->base, 0, sizeof(mshared->base));
	af_unlock(&mshared->base_lock);
}

uint64_t af_signal_slot_windows(int holiday, int hour)
{
	uint64_t n;

	if(!mshared || hour < 0 || hour > 23)
		return 0;
	af_lock(&mshared->base_lock);
	n = mshared->base[holiday ? 1 : 0][hour].windows;
	af_unlock(&mshared->base_lock);
	return n;
}

/* the class of a request (code 0) or of a final answer; -1 none */
static int signal_bin(af_method_t m, int code)
{
	if(code == 0) {
		switch(m) {
			case AF_M_INVITE:
				return 0;
			case AF_M_REGISTER:
				return 1;
			case AF_M_OPTIONS:
				return 2;
			case AF_M_BYE:
			case AF_M_ACK:
			case AF_M_CANCEL:
				return 3;
			default:
				return 4;
		}
	}
	if(code < 200 || code > 699)
		return -1;
	if(code < 300)
		return 5;
	if(code < 400)
		return 6;
	switch(code) {
		case 401:
		case 407:
			return 7;
		case 403:
			return 8;
		case 404:
		case 484:
		case 604:
			return 9;
		case 408:
		case 480:
			return 10;
		case 486:
		case 600:
		case 603:
			return 11;
		case 487:
			return 12;
	}
	if(code < 500)
		return 13;
	if(code < 600)
		return 14;
	return 15;
}

static uint64_t mix_hash(int kind, const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
	size_t i;

	for(i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* copies entry x out as a closed window and frees it (under the lock) */
static void take(mix_entry_t *x, mix_window_t *w)
{
	w->kind = x->kind;
	memcpy(w->name, x->name, x->len);
	w->name[x->len] = '\0';
	w->window_s = x->window_s;
	w->total = x->total;
	memcpy(w->c, x->c, sizeof(w->c));
	x->start_ms = 0;
	x->total = 0;
}

/*
 * Judges a closed window w at now against the baselines of cfg: fills v
 * (signal_mix) and returns 1 when it alerts; else teaches its slot and
 * returns 0.
 */
static int judge(const af_analytics_cfg_t *a, const mix_window_t *w,
		uint64_t now, af_verdict_t *v)
{
	mix_base_t q, *sb;
	double p_i, q_i, d = 0, part[MIX_BINS], alpha = a->mix_smoothing;
	double pq[MIX_BINS];
	int holiday, hour, i, j, top[3] = {-1, -1, -1}, found = 0;
	char why[240], shown[100];
	size_t n;

	if(w->total < a->mix_min_signals)
		return 0;
	af_outcome_slot_now(now, &holiday, &hour);
	af_lock(&mshared->base_lock);
	sb = &mshared->base[holiday][hour];
	if(sb->windows >= a->mix_learn) {
		q = *sb;
		found = 1;
	} else {
		memset(&q, 0, sizeof(q));
		for(i = 0; i < 48; i++) {
			const mix_base_t *b = &mshared->base[i / 24][i % 24];
			for(j = 0; j < MIX_BINS; j++)
				q.c[j] += b->c[j];
			q.total += b->total;
			q.windows += b->windows;
		}
		found = q.windows >= a->mix_learn && a->mix_learn;
	}
	af_unlock(&mshared->base_lock);
	if(found && q.total > 0) {
		for(i = 0; i < MIX_BINS; i++) {
			p_i = (w->c[i] + alpha) / (w->total + MIX_BINS * alpha);
			q_i = (q.c[i] + alpha) / (q.total + MIX_BINS * alpha);
			part[i] = p_i * log2(p_i / q_i);
			pq[i] = q_i;
			d += part[i];
		}
		if(d > a->mix_threshold) {
			for(i = 0; i < MIX_BINS; i++) {
				for(j = 0; j < 3; j++)
					if(top[j] < 0 || part[i] > part[top[j]])
						break;
				if(j < 3) {
					memmove(top + j + 1, top + j, (2 - j) * sizeof(int));
					top[j] = i;
				}
			}
			af_text_escape(w->name, strlen(w->name), shown, sizeof(shown));
			n = (size_t)snprintf(why, sizeof(why),
					"signal_mix %s %s: %.2f bits over %us, %u signals:",
					af_outcome_subject_name((af_outcome_subject_t)w->kind), shown, d,
					w->window_s, w->total);
			for(j = 0; j < 3 && top[j] >= 0 && n < sizeof(why); j++)
				if(part[top[j]] > 0.05)
					n += (size_t)snprintf(why + n, sizeof(why) - n,
							" %s %.0f%% (baseline %.0f%%)", bin_names[top[j]],
							100.0 * w->c[top[j]] / w->total,
							100.0 * pq[top[j]]);
			v->reasons |= AF_REASON_BIT(AF_R_SIGNAL_MIX);
			n = strlen(v->detail);
			if(n + 3 < sizeof(v->detail))
				snprintf(v->detail + n, sizeof(v->detail) - n, "%s%s",
						n ? "; " : "", why);
			return 1;
		}
	}
	/* no alert: the window teaches its slot */
	af_lock(&mshared->base_lock);
	for(i = 0; i < MIX_BINS; i++)
		sb->c[i] += w->c[i];
	sb->total += w->total;
	sb->windows++;
	if(sb->total > MIX_BASE_MAX) {
		for(i = 0; i < MIX_BINS; i++)
			sb->c[i] /= 2;
		sb->total /= 2;
	}
	af_unlock(&mshared->base_lock);
	return 0;
}

/*
 * Counts bin for subject kind named s[0..len) at now; a window of that
 * subject that had closed is copied into w. Returns 1 when w was
 * filled.
 */
static int count_one(int kind, const char *s, size_t len, int bin,
		uint32_t window_s, uint64_t now, mix_window_t *w)
{
	uint64_t h = mix_hash(kind, s, len);
	mix_stripe_t *st = &mshared->stripe[h % MIX_STRIPES];
	mix_entry_t *x = NULL, *free_e = NULL, *old = NULL, *e;
	uint32_t base = (uint32_t)((h / MIX_STRIPES) % MIX_PER);
	int i, closed = 0;

	if(len > MIX_NAME)
		len = MIX_NAME;
	af_lock(&st->lock);
	for(i = 0; i < MIX_PROBE; i++) {
		e = &st->e[(base + i) % MIX_PER];
		if(e->start_ms && e->hash == h && e->kind == kind && e->len == len
				&& memcmp(e->name, s, len) == 0) {
			x = e;
			break;
		}
		if(!e->start_ms) {
			if(!free_e)
				free_e = e;
		} else if(!old || e->start_ms < old->start_ms) {
			old = e;
		}
	}
	if(x && x->start_ms + (uint64_t)x->window_s * 1000 <= now) {
		take(x, w);
		closed = 1;
	}
	if(!x || !x->start_ms) {
		if(!x)
			x = free_e;
		if(!x) {
			/* room: the oldest window of the probe range goes, judged
			 * when it had closed, dropped otherwise */
			x = old;
			if(!closed && x->start_ms + (uint64_t)x->window_s * 1000 <= now) {
				take(x, w);
				closed = 1;
			} else {
				mshared->dropped++;
			}
		}
		memset(x, 0, sizeof(*x));
		x->hash = h;
		x->kind = (uint8_t)kind;
		x->len = (uint8_t)len;
		memcpy(x->name, s, len);
		x->start_ms = now ? now : 1;
		x->window_s = window_s;
	}
	x->c[bin]++;
	x->total++;
	af_unlock(&st->lock);
	return closed;
}

int af_signal_count(const af_request_t *req, int code, uint64_t now_ms,
		af_verdict_t *v)
{
	const af_analytics_cfg_t *a;
	const af_profile_t *p;
	mix_window_t w;
	af_rules_t *r;
	char name[MIX_NAME + 32];
	size_t len;
	int bin, hit = 0;

	memset(v, 0, sizeof(*v));
	v->check = "analytics";
	if(!mshared || !req)
		return v->rc = AF_RC_NORULE;
	bin = signal_bin(req->method, code);
	if(bin < 0)
		return v->rc = AF_RC_NORULE;
	r = af_core_acquire();
	a = &r->analytics;
	p = req->memo && req->memo->profile[0]
				? af_rules_profile(r, req->memo->profile,
						strlen(req->memo->profile))
				: r->default_profile;
	if(!p)
		p = r->default_profile;
	if(!a->enabled || !a->mix_window_s || !a->mix_subjects
			|| p->mode[AF_C_ANALYTICS] == AF_MODE_OFF) {
		af_core_release(r);
		return v->rc = AF_RC_NORULE;
	}
	af_core_count(AF_ST_SIGNALS);
	if((a->mix_subjects & (1u << AF_OUT_SOURCE)) && req->src_ip.family
			&& af_ip_format(&req->src_ip, name, sizeof(name)) >= 0) {
		if(count_one(AF_OUT_SOURCE, name, strlen(name), bin, a->mix_window_s,
				   now_ms, &w))
			hit |= judge(a, &w, now_ms, v);
	}
	if((a->mix_subjects & (1u << AF_OUT_CALLER))
			&& (len = af_chk_caller_id(req, name, sizeof(name)))) {
		if(count_one(AF_OUT_CALLER, name, len, bin, a->mix_window_s, now_ms,
				   &w))
			hit |= judge(a, &w, now_ms, v);
	}
	af_core_release(r);
	return af_outcome_conclude(v, hit);
}

void af_signal_timer(uint64_t now_ms, af_outcome_alert_cb cb, void *arg)
{
	const af_analytics_cfg_t *a;
	mix_window_t w[8];
	af_verdict_t v;
	af_rules_t *r;
	int s, i, k, n;

	if(!mshared)
		return;
	r = af_core_acquire();
	a = &r->analytics;
	for(s = 0; s < MIX_STRIPES; s++) {
		for(i = 0; i < MIX_PER;) {
			/* a few windows per lock hold, judged outside it */
			n = 0;
			af_lock(&mshared->stripe[s].lock);
			for(; i < MIX_PER && n < 8; i++) {
				mix_entry_t *x = &mshared->stripe[s].e[i];
				if(x->start_ms
						&& x->start_ms + (uint64_t)x->window_s * 1000 <= now_ms)
					take(x, &w[n++]);
			}
			af_unlock(&mshared->stripe[s].lock);
			for(k = 0; k < n; k++) {
				if(!a->enabled || !a->mix_window_s)
					continue;
				memset(&v, 0, sizeof(v));
				v.check = "analytics";
				if(judge(a, &w[k], now_ms, &v)) {
					af_outcome_conclude(&v, 1);
					if(cb)
						cb(&v, w[k].name, arg);
				}
			}
		}
	}
	af_core_release(r);
}
