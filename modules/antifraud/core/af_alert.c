/*
 * antifraud - alert suppression: a table of recent alerts (direct-mapped
 * by a hash of the alert, striped locks) for repeats, and a token bucket
 * for the node-wide rate. Both live in shared memory and are bounded by
 * configuration; a slot taken over by another alert forgets the old
 * one's count (it is a bound, not a history).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "af_alert.h"
#include "af_bytes.h"
#include "af_host.h"
#include "af_lock.h"

#define AF_ALERT_STRIPES 16
#define AF_ALERT_REPORT_MS 10000

typedef struct af_alert_slot {
	uint64_t key;        /* 0: empty */
	uint64_t last_ms;    /* when it was last raised */
	uint32_t suppressed; /* repeats since */
} af_alert_slot_t;

typedef struct af_alert_shared {
	af_lock_t stripes[AF_ALERT_STRIPES];
	af_lock_t bucket_lock;
	uint64_t tokens_m;       /* milli-tokens */
	uint64_t refill_ms;      /* last refill */
	uint64_t rate_dropped;   /* suppressed by the rate since the report */
	uint64_t reported_ms;    /* last report */
	af_alert_cfg_t cfg;
	uint32_t mask;
	af_alert_slot_t slots[];
} af_alert_shared_t;

static af_alert_shared_t *alerts;

int af_alert_init(const af_alert_cfg_t *cfg)
{
	uint32_t n = 1, i;
	size_t size;

	while(n < cfg->slots && n < (1u << 24))
		n <<= 1;
	size = sizeof(*alerts) + (size_t)n * sizeof(af_alert_slot_t);
	alerts = af_host->shm_alloc(size);
	if(!alerts)
		return -1;
	memset(alerts, 0, size);
	alerts->cfg = *cfg;
	alerts->mask = n - 1;
	alerts->tokens_m = (uint64_t)cfg->burst * 1000;
	for(i = 0; i < AF_ALERT_STRIPES; i++)
		if(af_lock_init(&alerts->stripes[i]) < 0)
			goto error;
	if(af_lock_init(&alerts->bucket_lock) < 0)
		goto error;
	return 0;

error:
	af_host->shm_free(alerts);
	alerts = NULL;
	return -1;
}

void af_alert_destroy(void)
{
	if(!alerts)
		return;
	af_host->shm_free(alerts);
	alerts = NULL;
}

static uint64_t fnv_str(uint64_t h, const af_str_t *s)
{
	uint32_t len = (uint32_t)s->len;

	h = af_fnv1a(h, &len, sizeof(len)); /* "ab"+"c" is not "a"+"bc" */
	return s->len ? af_fnv1a(h, s->s, s->len) : h;
}

/* the identity of an alert: check, code, reasons, subject */
static uint64_t alert_key(const af_verdict_t *v, const af_request_t *req)
{
	uint64_t h = AF_FNV_BASIS;
	const char *check = v->check ? v->check : "";

	h = af_fnv1a(h, check, strlen(check) + 1);
	h = af_fnv1a(h, &v->rc, sizeof(v->rc));
	h = af_fnv1a(h, &v->reasons, sizeof(v->reasons));
	h = af_fnv1a(h, &req->src_ip.family, 1);
	h = af_fnv1a(h, req->src_ip.addr, sizeof(req->src_ip.addr));
	/* a scanner changes From and R-URI users with every request: its
	 * source is its identity; a call's alert is about a caller and a
	 * number, perhaps behind one trunk address */
	if(strcmp(check, "source") != 0 && strcmp(check, "fingerprint") != 0) {
		h = fnv_str(h, &req->auth_user);
		h = fnv_str(h, &req->from_user);
		h = fnv_str(h, &req->from_host);
		h = fnv_str(h, &req->ruri_user);
	}
	return h ? h : 1;
}

/* takes a token from the node-wide bucket; 0 when it is empty */
static int take_token(uint64_t now_ms)
{
	const af_alert_cfg_t *c = &alerts->cfg;
	uint64_t cap = (uint64_t)c->burst * 1000;
	int ok = 0;

	af_lock(&alerts->bucket_lock);
	if(now_ms > alerts->refill_ms) {
		uint64_t add = (now_ms - alerts->refill_ms) * c->rate;
		alerts->tokens_m = alerts->tokens_m + add > cap
								   ? cap
								   : alerts->tokens_m + add;
		alerts->refill_ms = now_ms;
	}
	if(alerts->tokens_m >= 1000) {
		alerts->tokens_m -= 1000;
		ok = 1;
	} else {
		alerts->rate_dropped++;
	}
	af_unlock(&alerts->bucket_lock);
	return ok;
}

int af_alert_admit(af_verdict_t *v, const af_request_t *req, uint64_t now_ms)
{
	af_alert_slot_t *s;
	af_lock_t *l;
	uint64_t key;
	uint32_t carried = 0;

	v->suppressed = 0;
	if(!alerts)
		return 1;
	key = alert_key(v, req);
	s = &alerts->slots[key & alerts->mask];
	/* the slot's stripe is a function of the slot index */
	l = &alerts->stripes[(key & alerts->mask) % AF_ALERT_STRIPES];
	af_lock(l);
	if(s->key == key) {
		if(alerts->cfg.repeat_s
				&& now_ms < s->last_ms + (uint64_t)alerts->cfg.repeat_s * 1000) {
			if(s->suppressed < UINT32_MAX)
				s->suppressed++;
			af_unlock(l);
			af_core_count(AF_ST_ALERTS_SUPPRESSED);
			return 0;
		}
		carried = s->suppressed;
	}
	if(alerts->cfg.rate && !take_token(now_ms)) {
		af_unlock(l);
		af_core_count(AF_ST_ALERTS_SUPPRESSED);
		return 0;
	}
	s->key = key;
	s->last_ms = now_ms;
	s->suppressed = 0;
	af_unlock(l);
	v->suppressed = carried;
	return 1;
}

void af_alert_timer(uint64_t now_ms)
{
	uint64_t n;

	if(!alerts || now_ms < alerts->reported_ms + AF_ALERT_REPORT_MS)
		return;
	af_lock(&alerts->bucket_lock);
	n = alerts->rate_dropped;
	if(n) {
		alerts->rate_dropped = 0;
		alerts->reported_ms = now_ms;
	}
	af_unlock(&alerts->bucket_lock);
	if(n)
		AF_WARN("antifraud: %llu alerts suppressed by the alert rate limit"
				" (alert_rate %u/s) in the last %u s\n",
				(unsigned long long)n, alerts->cfg.rate,
				AF_ALERT_REPORT_MS / 1000);
}
