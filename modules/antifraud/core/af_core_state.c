/*
 * antifraud - the core's state, below the checks: the shared block
 * (current rule snapshot, statistics), the store the checks use, the
 * per-process GeoIP handle and the cluster's event channel. The
 * lifecycle that makes and replaces them is in af_core.c.
 *
 * Snapshots live in shared memory and are reference-counted: a check
 * takes a reference for its duration (one short lock), a reload publishes
 * a fully built snapshot and drops the old one's base reference, and the
 * last holder frees it. GeoIP handles are private to each process and
 * reopened when the snapshot they were opened for is replaced; the new
 * database is opened before the old one is closed.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "af_bytes.h"
#include "af_core.h"
#include "af_core_int.h"
#include "af_host.h"
#include "af_store_cluster.h"
#include "af_store_redis.h"

af_core_shared_t *af_core_shm;
af_store_t *af_core_st;    /* what the checks use */
af_store_t *af_core_local; /* this node's shm store */

/* per process (Kamailio workers are single-threaded processes) */
static __thread af_geo_t *geo;
static __thread uint32_t geo_generation;
static __thread uint32_t geo_failed_generation;

static const char *const stat_names[AF_ST__COUNT] = {
#define AF_STAT(id, name) [AF_ST_##id] = name,
#include "af_table.def"
#undef AF_STAT
};

const char *af_stat_name(af_stat_t s)
{
	return (unsigned)s < AF_ST__COUNT ? stat_names[s] : "unknown";
}

static __thread int core_dry;

void af_core_set_dry(int on)
{
	core_dry = on;
}

int af_core_dry(void)
{
	return core_dry;
}

void af_core_count(af_stat_t s)
{
	if(core_dry)
		return;
	if(af_core_shm)
		__atomic_add_fetch(&af_core_shm->stats[s], 1, __ATOMIC_RELAXED);
}

void af_core_count_reasons(af_reasons_t mask)
{
	int i;

	if(!af_core_shm || core_dry)
		return;
	while((i = af_reasons_next(&mask)) >= 0)
		if(i < AF_R__COUNT)
			__atomic_add_fetch(&af_core_shm->reasons[i], 1, __ATOMIC_RELAXED);
}

static const char *const verdict_kinds[AF_VK__COUNT] = {
		"source", "fingerprint", "dest", "auth"};

const char *af_verdict_kind_name(int k)
{
	return k >= 0 && k < AF_VK__COUNT ? verdict_kinds[k] : "unknown";
}

void af_core_count_verdict(const af_verdict_t *v)
{
	af_reasons_t m;
	int k, b, i;

	if(!af_core_shm || core_dry || !v->check
			|| (v->rc != AF_RC_ALERT && v->rc != AF_RC_BLOCK))
		return;
	for(k = 0; k < AF_VK__COUNT; k++)
		if(strcmp(v->check, verdict_kinds[k]) == 0)
			break;
	if(k == AF_VK__COUNT)
		return;
	b = v->rc == AF_RC_BLOCK;
	m = v->reasons;
	while((i = af_reasons_next(&m)) >= 0)
		if(i < AF_R__COUNT)
			__atomic_add_fetch(
					&af_core_shm->verdicts[k][b][i], 1, __ATOMIC_RELAXED);
}

uint64_t af_core_verdict_count(int kind, int block, af_reason_t r)
{
	if(!af_core_shm || kind < 0 || kind >= AF_VK__COUNT
			|| (unsigned)r >= AF_R__COUNT)
		return 0;
	return __atomic_load_n(
			&af_core_shm->verdicts[kind][block ? 1 : 0][r], __ATOMIC_RELAXED);
}

uint64_t af_core_stat(af_stat_t s)
{
	return af_core_shm ? __atomic_load_n(&af_core_shm->stats[s], __ATOMIC_RELAXED) : 0;
}

uint64_t af_core_reason_count(af_reason_t r)
{
	return af_core_shm ? __atomic_load_n(&af_core_shm->reasons[r], __ATOMIC_RELAXED)
				  : 0;
}

af_geo_t *af_core_geo(const af_rules_t *r)
{
	af_geo_t *g;
	char why[256];

	if(!r->geo_country_db && !r->geo_asn_db)
		return NULL;
	if(geo && geo_generation == r->generation)
		return geo;
	if(geo_failed_generation == r->generation)
		return geo; /* already tried: keep the old one */
	g = af_geo_open(r->geo_country_db, r->geo_asn_db, why, sizeof(why));
	if(!g) {
		AF_ERR("geoip: %s; keeping the database opened before\n", why);
		geo_failed_generation = r->generation;
		return geo;
	}
	af_geo_close(geo);
	geo = g;
	geo_generation = r->generation;
	return geo;
}

af_rules_t *af_core_acquire(void)
{
	af_rules_t *r;

	af_lock(&af_core_shm->lock);
	r = af_core_shm->current;
	__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
	af_unlock(&af_core_shm->lock);
	return r;
}

void af_core_release(af_rules_t *r)
{
	if(r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
		af_rules_free(r);
}

/* publishes r as the current snapshot, drops the old one and returns
 * r's generation */
uint32_t af_core_set_current(af_rules_t *r)
{
	af_rules_t *old;
	uint32_t gen;

	r->refs = 1; /* the base reference, held by af_core_shm->current */
	af_lock(&af_core_shm->lock);
	old = af_core_shm->current;
	gen = r->generation = ++af_core_shm->generation;
	af_core_shm->current = r;
	af_unlock(&af_core_shm->lock);
	af_core_release(old);
	return gen;
}

af_store_t *af_core_store(void)
{
	return af_core_st;
}

af_store_t *af_core_local_store(void)
{
	return af_core_local;
}

int af_core_clustered(void)
{
	return af_core_st && af_core_st != af_core_local;
}

/* the hash of a key, never 0 (0: an empty slot) */
static uint64_t clear_hash(const char *k, size_t len)
{
	uint64_t h = af_fnv1a(AF_FNV_BASIS, k, len);

	return h ? h : 1;
}

/* the slot and lock of a hash */
#define CLEAR_SLOT(h) ((unsigned)((h) % AF_CLEAR_SLOTS))
#define CLEAR_LOCK(i) (&af_core_shm->clear_lock[(i) % AF_CLEAR_LOCKS])

/* what makes an answer stale, for slot i (its lock held) */
static uint64_t clear_token(unsigned i)
{
	return (uint64_t)__atomic_load_n(&af_core_shm->clear_epoch,
				   __ATOMIC_ACQUIRE)
				   << 32
		   | af_core_shm->clear[i].bans;
}

uint64_t af_core_clear_token(const char *ipkey, size_t len)
{
	unsigned i = CLEAR_SLOT(clear_hash(ipkey, len));
	uint64_t t;

	af_lock(CLEAR_LOCK(i));
	t = clear_token(i);
	af_unlock(CLEAR_LOCK(i));
	return t;
}

void af_core_ban_heard(const char *key, size_t len)
{
	unsigned i;

	if(!af_core_shm)
		return;
	if(!key) {
		__atomic_add_fetch(&af_core_shm->clear_epoch, 1, __ATOMIC_ACQ_REL);
		return;
	}
	i = CLEAR_SLOT(clear_hash(key, len));
	af_lock(CLEAR_LOCK(i));
	af_core_shm->clear[i].bans++;
	if(af_core_shm->clear[i].hash == clear_hash(key, len))
		af_core_shm->clear[i].hash = 0;
	af_unlock(CLEAR_LOCK(i));
}

void af_core_events_alive(uint64_t until_ms, int first)
{
	/* what was found before a new subscription may have missed a ban */
	if(first)
		af_core_ban_heard(NULL, 0);
	__atomic_store_n(&af_core_shm->events_live_ms, until_ms,
			__ATOMIC_RELEASE);
}

int af_core_clear_cached(const char *ipkey, size_t len, uint64_t now)
{
	uint64_t h = clear_hash(ipkey, len), live, age;
	unsigned i = CLEAR_SLOT(h);
	int fresh;

	live = __atomic_load_n(&af_core_shm->events_live_ms, __ATOMIC_ACQUIRE);
	af_lock(CLEAR_LOCK(i));
	fresh = af_core_shm->clear[i].hash == h
			&& now >= af_core_shm->clear[i].created_ms;
	if(fresh) {
		age = now - af_core_shm->clear[i].created_ms;
		fresh = age < AF_CLEAR_TTL_MS
				|| (age < AF_CLEAR_LIVE_TTL_MS && now < live
						&& af_core_shm->clear[i].token == clear_token(i));
	}
	af_unlock(CLEAR_LOCK(i));
	return fresh;
}

void af_core_clear_set(const char *ipkey, size_t len, uint64_t now,
		uint64_t token, int clear)
{
	uint64_t h = clear_hash(ipkey, len);
	unsigned i = CLEAR_SLOT(h);
	af_clear_slot_t *c = &af_core_shm->clear[i];

	af_lock(CLEAR_LOCK(i));
	if(clear && token != clear_token(i)) {
		/* a ban heard while its lookup ran: the answer may be stale */
		if(c->hash == h)
			c->hash = 0;
	} else if(clear) {
		c->hash = h;
		c->created_ms = now;
		c->token = token;
	} else if(c->hash == h) {
		c->hash = 0;
	}
	af_unlock(CLEAR_LOCK(i));
}

int af_core_publish(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n, m;

	if(!af_core_clustered() || core_dry)
		return 0;
	n = snprintf(msg, sizeof(msg), "%016llx ",
			(unsigned long long)af_core_shm->node_id);
	va_start(ap, fmt);
	m = vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if(m < 0)
		return -1;
	if((size_t)(n + m) >= sizeof(msg))
		m = (int)(sizeof(msg) - 1 - (size_t)n);
	/* this node's processes forget the source at once, not when the
	 * event comes back */
	if(m > 4 && memcmp(msg + n, "ban ", 4) == 0)
		af_core_ban_heard(msg + n + 4, strcspn(msg + n + 4, " "));
	if(af_store_redis_publish(af_store_cluster_redis(af_core_st), msg,
			   (size_t)(n + m))
			< 0) {
		AF_WARN("redis: cannot publish '%s' to the other nodes\n", msg + n);
		return -1;
	}
	return 0;
}

/* Closes this process's GeoIP handle; generations start again at 1 with
 * the next af_core_init(). */
void af_core_geo_reset(void)
{
	af_geo_close(geo);
	geo = NULL;
	geo_generation = 0;
	geo_failed_generation = 0;
}
