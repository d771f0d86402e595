/*
 * antifraud - cluster mode store: Redis first, the configured fallback
 * when Redis cannot answer, a node-wide breaker in shared memory.
 *
 * Reconnection after an outage: closing the breaker bumps an epoch in
 * shared memory; a process whose connection belongs to an older epoch
 * drops it before its next batch, so that no process tries a connection
 * that died with the old server (and opens the breaker again for nothing).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "af_host.h"
#include "af_store_cluster.h"
#include "af_store_redis.h"

typedef struct af_store_cluster {
	af_store_t base;
	af_store_t *redis;
	af_store_t *local;
	af_fallback_t fallback;
	uint32_t retry_ms;
	/* the breaker, atomics */
	int down;
	uint32_t epoch;
	uint64_t down_since_ms;
	uint64_t last_try_ms;
	uint64_t down_events;
	uint64_t up_events;
	uint64_t fallback_execs;
} af_store_cluster_t;

static af_cluster_event_cb event_cb;

/* per process: the breaker epoch of this process's Redis connection */
static uint32_t my_epoch;

static const char *const fallback_names[] = {"local", "open", "closed"};

int af_fallback_parse(const char *s)
{
	int i;

	for(i = 0; i < 3; i++)
		if(strcmp(s, fallback_names[i]) == 0)
			return i;
	return -1;
}

const char *af_fallback_name(af_fallback_t f)
{
	return (unsigned)f < 3 ? fallback_names[f] : "?";
}

void af_store_cluster_on_event(af_cluster_event_cb cb)
{
	event_cb = cb;
}

/* opens the breaker (once: the process that wins reports it) */
static void mark_down(af_store_cluster_t *c, uint64_t now)
{
	int zero = 0;

	if(!__atomic_compare_exchange_n(
			   &c->down, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&c->down_since_ms, now, __ATOMIC_RELAXED);
	__atomic_store_n(&c->last_try_ms, now, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->down_events, 1, __ATOMIC_RELAXED);
	AF_WARN("redis: unavailable, state falls back to '%s' until it"
			" answers again\n",
			af_fallback_name(c->fallback));
	if(event_cb)
		event_cb(0, "redis unavailable");
}

/* the fallback's answer to a batch Redis could not take */
static int fallback_exec(af_store_cluster_t *c, af_op_t *ops, int n,
		uint64_t now)
{
	int i;

	__atomic_add_fetch(&c->fallback_execs, 1, __ATOMIC_RELAXED);
	switch(c->fallback) {
		case AF_FALLBACK_LOCAL:
			return c->local->ops->exec(c->local, ops, n, now);
		case AF_FALLBACK_OPEN:
			for(i = 0; i < n; i++)
				ops[i].status = -1;
			return -1;
		case AF_FALLBACK_CLOSED:
			break;
	}
	for(i = 0; i < n; i++)
		ops[i].status = -1;
	return AF_STORE_UNAVAILABLE;
}

static int cl_exec(af_store_t *s, af_op_t *ops, int n, uint64_t now)
{
	af_store_cluster_t *c = (af_store_cluster_t *)s;
	uint32_t epoch;
	int rc;

	if(!__atomic_load_n(&c->down, __ATOMIC_ACQUIRE)) {
		epoch = __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
		if(epoch != my_epoch) {
			/* Redis came back since this process last used it */
			af_store_redis_disconnect(c->redis);
			my_epoch = epoch;
		}
		rc = c->redis->ops->exec(c->redis, ops, n, now);
		if(rc != AF_STORE_UNAVAILABLE)
			return rc;
		mark_down(c, now);
	}
	return fallback_exec(c, ops, n, now);
}

static int cl_ban_list(af_store_t *s, af_ban_cb cb, void *arg, uint64_t now)
{
	af_store_cluster_t *c = (af_store_cluster_t *)s;

	if(!__atomic_load_n(&c->down, __ATOMIC_ACQUIRE)
			&& c->redis->ops->ban_list(c->redis, cb, arg, now) == 0)
		return 0;
	return c->local->ops->ban_list(c->local, cb, arg, now);
}

static int cl_conc_list(af_store_t *s, const char *prefix, size_t plen,
		af_conc_cb cb, void *arg, uint64_t now)
{
	af_store_cluster_t *c = (af_store_cluster_t *)s;

	if(!__atomic_load_n(&c->down, __ATOMIC_ACQUIRE)
			&& c->redis->ops->conc_list(c->redis, prefix, plen, cb, arg, now)
					   == 0)
		return 0;
	return c->local->ops->conc_list(c->local, prefix, plen, cb, arg, now);
}

/* forget: in Redis (when it answers) and in the local fallback store;
 * -1 when Redis could not be used (the local store is cleared anyway) */
static int cl_forget(af_store_t *s, const af_forget_pat_t *pats, int n,
		uint64_t now, uint64_t *removed)
{
	af_store_cluster_t *c = (af_store_cluster_t *)s;
	uint64_t local = 0;
	int rc = -1;

	if(!__atomic_load_n(&c->down, __ATOMIC_ACQUIRE))
		rc = c->redis->ops->forget(c->redis, pats, n, now, removed);
	c->local->ops->forget(c->local, pats, n, now, &local);
	/* the local store holds copies (bans) or the fallback's own state:
	 * counted only when Redis was not there to count */
	if(rc < 0 && removed)
		*removed += local;
	return rc;
}

/* Redis expires its keys itself; the local store needs its sweep */
static void cl_gc(af_store_t *s, uint64_t now, unsigned budget)
{
	af_store_cluster_t *c = (af_store_cluster_t *)s;

	c->local->ops->gc(c->local, now, budget);
}

static void cl_stats(af_store_t *s, af_store_stats_t *out)
{
	af_store_cluster_t *c = (af_store_cluster_t *)s;

	if(__atomic_load_n(&c->down, __ATOMIC_ACQUIRE))
		c->local->ops->stats(c->local, out);
	else
		c->redis->ops->stats(c->redis, out);
}

static void cl_destroy(af_store_t *s)
{
	af_store_cluster_t *c = (af_store_cluster_t *)s;

	c->redis->ops->destroy(c->redis);
	af_host->shm_free(c);
}

static const af_store_ops_t cluster_ops = {
		.name = "redis",
		.exec = cl_exec,
		.ban_list = cl_ban_list,
		.conc_list = cl_conc_list,
		.forget = cl_forget,
		.gc = cl_gc,
		.stats = cl_stats,
		.destroy = cl_destroy,
};

af_store_t *af_store_cluster_new(af_store_t *redis, af_store_t *local,
		af_fallback_t fallback, uint32_t retry_ms)
{
	af_store_cluster_t *c = af_host->shm_alloc(sizeof(*c));

	if(!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->base.ops = &cluster_ops;
	c->redis = redis;
	c->local = local;
	c->fallback = fallback;
	c->retry_ms = retry_ms ? retry_ms : 1000;
	return &c->base;
}

int af_store_cluster_up(af_store_t *s)
{
	af_store_cluster_t *c = (af_store_cluster_t *)s;

	return !__atomic_load_n(&c->down, __ATOMIC_ACQUIRE);
}

void af_store_cluster_probe(af_store_t *s, uint64_t now)
{
	af_store_cluster_t *c = (af_store_cluster_t *)s;
	uint64_t last = __atomic_load_n(&c->last_try_ms, __ATOMIC_RELAXED);
	char err[256];

	if(!__atomic_load_n(&c->down, __ATOMIC_ACQUIRE)
			|| now < last + c->retry_ms)
		return;
	if(!__atomic_compare_exchange_n(&c->last_try_ms, &last, now, 0,
			   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return; /* another process probes */
	af_store_redis_disconnect(c->redis);
	if(af_store_redis_ping(c->redis, err, sizeof(err)) < 0) {
		AF_DBG("redis: still unavailable: %s\n", err);
		return;
	}
	__atomic_add_fetch(&c->epoch, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&c->down, 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&c->up_events, 1, __ATOMIC_RELAXED);
	AF_NOTICE("redis: available again after %llu ms, state back in"
			  " Redis\n",
			(unsigned long long)(now
								 - __atomic_load_n(&c->down_since_ms,
										 __ATOMIC_RELAXED)));
	if(event_cb)
		event_cb(1, "redis available again");
}

af_store_t *af_store_cluster_redis(af_store_t *s)
{
	return ((af_store_cluster_t *)s)->redis;
}

void af_store_cluster_stats(af_store_t *s, af_cluster_stats_t *out)
{
	af_store_cluster_t *c = (af_store_cluster_t *)s;

	out->up = !__atomic_load_n(&c->down, __ATOMIC_ACQUIRE);
	out->down_events = __atomic_load_n(&c->down_events, __ATOMIC_RELAXED);
	out->up_events = __atomic_load_n(&c->up_events, __ATOMIC_RELAXED);
	out->fallback_execs =
			__atomic_load_n(&c->fallback_execs, __ATOMIC_RELAXED);
	out->down_since_ms = __atomic_load_n(&c->down_since_ms, __ATOMIC_RELAXED);
}
