/*
 * antifraud - cluster mode store: Redis first, the configured fallback
 * when Redis cannot answer, a node-wide breaker in shared memory.
 *
 * Reconnection after an outage: closing the breaker bumps an epoch in
 * shared memory; a process whose connection belongs to an older epoch
 * drops it before its next batch, so that no process tries a connection
 * that died with the old server (and opens the breaker again for nothing).
 *
 * Releases that could not reach Redis: a CONC_DEL (a call's end) or a
 * BAN_DEL (an unban, an account released) in a batch that went to the
 * fallback leaves its Redis state behind (a concurrency slot counted for
 * dest.max_duration, a ban kept to its end). Such ops are copied into a
 * bounded queue in shared memory (one lock; when full the oldest entry
 * makes room) and replayed in Redis, in the order they were queued, by
 * the process that finds Redis answering again, before it closes the
 * breaker: no batch of another process reaches Redis before them, so a
 * call admitted again after the outage is not released by an old end.
 * Replaying is harmless when Redis lost its data (a member or a ban that
 * is not there is not found). Members admitted in the local fallback
 * store are released there too while they may be alive (the CONC_DELs
 * of later batches go to both stores).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "af_core.h"
#include "af_host.h"
#include "af_lock.h"
#include "af_store_cluster.h"
#include "af_store_redis.h"

#define RQ_REPLAY_BATCH 32 /* queued ops replayed per Redis round trip */

_Static_assert(AF_CLUSTER_RELEASE_BYTES >= AF_KEY_MAX + AF_CALLID_MAX,
		"a queued release holds a ticket's key and Call-ID");

/* one queued release: key, then member (CONC_DEL) in buf */
typedef struct rq_entry {
	uint8_t type; /* AF_OP_CONC_DEL or AF_OP_BAN_DEL */
	uint16_t key_len;
	uint16_t member_len;
	char buf[AF_CLUSTER_RELEASE_BYTES];
} rq_entry_t;

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
	/* until then, members admitted in the local fallback may be alive
	 * (atomic) */
	uint64_t local_conc_until_ms;
	/* the release queue: entries head..tail-1 (sequence numbers; the
	 * entry of seq is ring[seq % cap]), under lock */
	af_lock_t lock;
	uint32_t cap;
	uint64_t head, tail;
	uint64_t queued, replayed, dropped;
	int full_warned; /* the queue overflowed in this outage (logged) */
	rq_entry_t *ring;
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

/* the ops that give back state Redis may hold after an outage */
static int is_release(const af_op_t *op)
{
	return op->type == AF_OP_CONC_DEL || op->type == AF_OP_BAN_DEL;
}

/*
 * Copies the releases of ops[0..n) (a batch that went to the fallback)
 * into the queue, for Redis. One that does not fit an entry, or any when
 * the queue is off, is dropped; when full, the oldest makes room.
 */
static void rq_push(af_store_cluster_t *c, const af_op_t *ops, int n)
{
	const af_op_t *op;
	rq_entry_t *e;
	size_t ml;
	int i, full = 0;

	for(i = 0; i < n && !is_release(&ops[i]); i++)
		;
	if(i == n)
		return;
	af_lock(&c->lock);
	for(; i < n; i++) {
		op = &ops[i];
		if(!is_release(op))
			continue;
		ml = op->type == AF_OP_CONC_DEL ? op->u.conc.member_len : 0;
		if(!c->cap || (!op->key && op->key_len)
				|| (ml && !op->u.conc.member)
				|| op->key_len + ml > sizeof(e->buf)) {
			c->dropped++;
			continue;
		}
		if(c->tail - c->head == c->cap) {
			__atomic_store_n(&c->head, c->head + 1, __ATOMIC_RELEASE);
			c->dropped++;
			full = !c->full_warned;
			c->full_warned = 1;
		}
		e = &c->ring[c->tail % c->cap];
		e->type = (uint8_t)op->type;
		e->key_len = (uint16_t)op->key_len;
		e->member_len = (uint16_t)ml;
		if(op->key_len)
			memcpy(e->buf, op->key, op->key_len);
		if(ml)
			memcpy(e->buf + op->key_len, op->u.conc.member, ml);
		__atomic_store_n(&c->tail, c->tail + 1, __ATOMIC_RELEASE);
		c->queued++;
	}
	af_unlock(&c->lock);
	if(full)
		AF_WARN("redis: release queue full (%u): the oldest release is"
				" dropped, its slot stays in Redis until it expires;"
				" raise redis_release_queue (logged once per outage)\n",
				c->cap);
}

/*
 * Replays the queue in Redis, oldest first, RQ_REPLAY_BATCH ops a round
 * trip. With close set, closes the breaker under the queue's lock when
 * the queue is empty, so that no release queued before stays behind.
 * 0 when the queue was emptied, -1 when Redis failed (the rest stays).
 */
static int rq_replay(af_store_cluster_t *c, uint64_t now, int close)
{
	rq_entry_t batch[RQ_REPLAY_BATCH];
	af_op_t ops[RQ_REPLAY_BATCH];
	uint64_t h, done;
	int i, n;

	for(;;) {
		af_lock(&c->lock);
		h = c->head;
		for(n = 0; n < RQ_REPLAY_BATCH && h + n < c->tail; n++)
			batch[n] = c->ring[(h + n) % c->cap];
		if(!n) {
			if(close) {
				__atomic_add_fetch(&c->epoch, 1, __ATOMIC_ACQ_REL);
				__atomic_store_n(&c->down, 0, __ATOMIC_RELEASE);
				c->full_warned = 0;
			}
			af_unlock(&c->lock);
			return 0;
		}
		af_unlock(&c->lock);
		memset(ops, 0, n * sizeof(ops[0]));
		for(i = 0; i < n; i++) {
			ops[i].type = (af_op_type_t)batch[i].type;
			ops[i].key = batch[i].buf;
			ops[i].key_len = batch[i].key_len;
			if(ops[i].type == AF_OP_CONC_DEL) {
				ops[i].u.conc.member = batch[i].buf + batch[i].key_len;
				ops[i].u.conc.member_len = batch[i].member_len;
			}
		}
		if(c->redis->ops->exec(c->redis, ops, n, now) == AF_STORE_UNAVAILABLE)
			return -1;
		/* entries that made room for newer ones meanwhile were counted
		 * as dropped */
		af_lock(&c->lock);
		done = h + (uint64_t)n;
		if(c->head < done) {
			c->replayed += done - c->head;
			__atomic_store_n(&c->head, done, __ATOMIC_RELEASE);
		}
		af_unlock(&c->lock);
	}
}

/* raises *v to x (atomic) */
static void atomic_max(uint64_t *v, uint64_t x)
{
	uint64_t old = __atomic_load_n(v, __ATOMIC_RELAXED);

	while(old < x
			&& !__atomic_compare_exchange_n(
					v, &old, x, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* the members ops[0..n) admitted in the local store live until then */
static void note_local_admits(af_store_cluster_t *c, const af_op_t *ops,
		int n, uint64_t now)
{
	int i;

	for(i = 0; i < n; i++)
		if(ops[i].type == AF_OP_CONC_ADD && ops[i].status == 0
				&& ops[i].u.conc.admitted)
			atomic_max(&c->local_conc_until_ms,
					now + ops[i].u.conc.ttl_s * 1000ull);
}

/*
 * Runs the CONC_DELs of ops[0..n) (done in Redis) in the local store too,
 * while members admitted there during an outage may still be alive; the
 * ops' results stay Redis's.
 */
static void local_release(af_store_cluster_t *c, const af_op_t *ops, int n,
		uint64_t now)
{
	af_op_t del[8];
	int i, k = 0;

	if(c->fallback != AF_FALLBACK_LOCAL
			|| now >= __atomic_load_n(&c->local_conc_until_ms, __ATOMIC_RELAXED))
		return;
	for(i = 0; i < n; i++) {
		if(ops[i].type != AF_OP_CONC_DEL)
			continue;
		del[k++] = ops[i];
		if(k == 8) {
			c->local->ops->exec(c->local, del, k, now);
			k = 0;
		}
	}
	if(k)
		c->local->ops->exec(c->local, del, k, now);
}

/* the fallback's answer to a batch Redis could not take */
static int fallback_exec(af_store_cluster_t *c, af_op_t *ops, int n,
		uint64_t now)
{
	int i, rc;

	__atomic_add_fetch(&c->fallback_execs, 1, __ATOMIC_RELAXED);
	rq_push(c, ops, n);
	switch(c->fallback) {
		case AF_FALLBACK_LOCAL:
			rc = af_store_exec(c->local, ops, n, now);
			note_local_admits(c, ops, n, now);
			return rc;
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
		if(rc != AF_STORE_UNAVAILABLE) {
			local_release(c, ops, n, now);
			return rc;
		}
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
	if(c->ring)
		af_host->shm_free(c->ring);
	af_lock_destroy(&c->lock);
	af_host->shm_free(c);
}

#define CLUSTER_OPS(c)                                                     \
	{                                                                      \
		.name = "redis", .caps = (c), .exec = cl_exec,                     \
		.ban_list = cl_ban_list, .conc_list = cl_conc_list,                \
		.forget = cl_forget, .gc = cl_gc, .stats = cl_stats,               \
		.destroy = cl_destroy                                              \
	}

/* what Redis runs natively the wrapper takes whole (a WIN_MULTI on one
 * server: one key per subject); the fallback store expands what it
 * does not run (af_store_exec) */
static const af_store_ops_t cluster_ops = CLUSTER_OPS(0),
							cluster_ops_wm = CLUSTER_OPS(AF_STORE_CAP_WIN_MULTI);

af_store_t *af_store_cluster_new(af_store_t *redis, af_store_t *local,
		af_fallback_t fallback, uint32_t retry_ms, uint32_t release_queue)
{
	af_store_cluster_t *c = af_host->shm_alloc(sizeof(*c));

	if(!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	if(af_lock_init(&c->lock) < 0) {
		af_host->shm_free(c);
		return NULL;
	}
	if(release_queue) {
		c->ring = af_host->shm_alloc(release_queue * sizeof(rq_entry_t));
		if(!c->ring) {
			af_lock_destroy(&c->lock);
			af_host->shm_free(c);
			return NULL;
		}
		c->cap = release_queue;
	}
	c->base.ops = (redis->ops->caps & AF_STORE_CAP_WIN_MULTI) ? &cluster_ops_wm
															 : &cluster_ops;
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

	if(!__atomic_load_n(&c->down, __ATOMIC_ACQUIRE)) {
		/* releases queued by batches that met the breaker open just
		 * before it closed */
		if(__atomic_load_n(&c->tail, __ATOMIC_ACQUIRE)
						!= __atomic_load_n(&c->head, __ATOMIC_ACQUIRE)
				&& rq_replay(c, now, 0) < 0)
			mark_down(c, now);
		return;
	}
	if(now < last + c->retry_ms)
		return;
	if(!__atomic_compare_exchange_n(&c->last_try_ms, &last, now, 0,
			   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return; /* another process probes */
	af_store_redis_disconnect(c->redis);
	if(af_store_redis_ping(c->redis, err, sizeof(err)) < 0) {
		AF_DBG("redis: still unavailable: %s\n", err);
		return;
	}
	/* the releases first, then the breaker closes */
	if(rq_replay(c, now, 1) < 0) {
		AF_DBG("redis: unavailable while replaying releases\n");
		return;
	}
	__atomic_add_fetch(&c->up_events, 1, __ATOMIC_RELAXED);
	AF_NOTICE("redis: available again after %llu ms, state back in"
			  " Redis (%llu releases replayed in all)\n",
			(unsigned long long)(now
								 - __atomic_load_n(&c->down_since_ms,
										 __ATOMIC_RELAXED)),
			(unsigned long long)__atomic_load_n(
					&c->replayed, __ATOMIC_RELAXED));
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
	af_lock(&c->lock);
	out->releases_queued = c->queued;
	out->releases_replayed = c->replayed;
	out->releases_dropped = c->dropped;
	out->releases_pending = c->tail - c->head;
	af_unlock(&c->lock);
}
