/*
 * antifraud - cluster mode: a store that sends every batch to the Redis
 * backend and, when Redis cannot answer, falls back as configured. The
 * breaker is node-wide (in shared memory): the first process that meets
 * a failure marks Redis down, and every other process then goes to the
 * fallback at once instead of waiting for its own timeout. While down,
 * af_store_cluster_probe() (the timer) pings Redis; when it answers, the
 * breaker closes again and every process reconnects on its next batch.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_STORE_CLUSTER_H
#define AF_STORE_CLUSTER_H

#include <stdint.h>
#include "af_store.h"

typedef enum af_fallback {
	AF_FALLBACK_LOCAL = 0, /* this node's shm store: limits per node */
	AF_FALLBACK_OPEN,      /* no state: stateful limits do not apply */
	AF_FALLBACK_CLOSED     /* refuse: checks return AF_RC_ERROR */
} af_fallback_t;

/* "local" / "open" / "closed"; -1 when the name is none of them */
int af_fallback_parse(const char *s);
const char *af_fallback_name(af_fallback_t f);

/* breaker state changes, for the glue's events and logs */
typedef void (*af_cluster_event_cb)(int up, const char *why);

/* the bytes of key and member a queued release holds (the longest call
 * ticket: AF_KEY_MAX of key, AF_CALLID_MAX of Call-ID) */
#define AF_CLUSTER_RELEASE_BYTES 352
#define AF_CLUSTER_RELEASE_QUEUE 4096 /* redis_release_queue's default */
#define AF_CLUSTER_RELEASE_QUEUE_MAX 1000000

/*
 * The cluster store over redis and local (both made by the caller, which
 * keeps ownership of local; destroy() destroys redis). release_queue:
 * the releases (CONC_DEL, BAN_DEL) that could not reach Redis kept for
 * it, at most (0: none). NULL when out of shared memory.
 */
af_store_t *af_store_cluster_new(af_store_t *redis, af_store_t *local,
		af_fallback_t fallback, uint32_t retry_ms, uint32_t release_queue);

/* sets the callback called (in the process that saw it) on a change */
void af_store_cluster_on_event(af_cluster_event_cb cb);

/* 1 when Redis is in use, 0 when the breaker is open */
int af_store_cluster_up(af_store_t *s);

/* when the breaker is open and retry_ms have passed since the last try:
 * pings Redis and, when it answers, replays the queued releases and
 * closes the breaker; when it is closed, replays releases queued late */
void af_store_cluster_probe(af_store_t *s, uint64_t now_ms);

/* the Redis store behind it (publish, subscribe, ban sync) */
af_store_t *af_store_cluster_redis(af_store_t *s);

typedef struct af_cluster_stats {
	int up;
	uint64_t down_events;    /* times the breaker opened */
	uint64_t up_events;      /* times it closed again */
	uint64_t fallback_execs; /* batches that went to the fallback */
	uint64_t down_since_ms;  /* when it opened last (0: never) */
	/* releases that could not reach Redis: */
	uint64_t releases_queued;   /* kept for it */
	uint64_t releases_replayed; /* done in Redis since */
	uint64_t releases_dropped;  /* lost (queue full or off) */
	uint64_t releases_pending;  /* in the queue now */
} af_cluster_stats_t;

void af_store_cluster_stats(af_store_t *s, af_cluster_stats_t *out);

#endif
