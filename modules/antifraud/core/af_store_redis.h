/*
 * antifraud - the Redis backend of the store (cluster mode): the same
 * operations as the shm backend (af_store.h), with the same results, run
 * as one server-side Lua script per af_store_exec() call: one round trip
 * per check, every check-and-count atomic across the nodes sharing the
 * server.
 *
 * Keys: <prefix><kind>:{<subject>} (the subject in a hash tag), each with
 * a TTL: Redis memory stays bounded however long it runs. A single Redis
 * primary (standalone, or found through Sentinel), or a Redis Cluster
 * (af_store_redis_cluster.c: every op on one subject in one slot, a
 * batch split into per-slot sub-batches).
 *
 * Connections: one per process, opened on first use after fork (a
 * process that inherited a connection from its parent opens its own),
 * with the connect and command timeouts of the configuration. A backend
 * that cannot answer within them returns AF_STORE_UNAVAILABLE from exec,
 * drops its connection and reconnects on a later call; it never retries
 * within one call (on a Redis Cluster it follows redirects and a
 * failed-over master within the command timeout:
 * af_store_redis_cluster.c).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_STORE_REDIS_H
#define AF_STORE_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include "af_store.h"

#define AF_REDIS_SENTINELS_MAX 8
#define AF_REDIS_SEEDS_MAX 8

typedef struct af_redis_cfg {
	/* the server: host and port, or a unix socket path (host NULL) */
	char host[256];
	uint16_t port;
	char unix_path[256];
	int db;
	char username[128]; /* ACL user, "" none */
	char password[256]; /* "" none */
	/* or Sentinel: addresses "host:port" and the master's name; when
	 * n_sentinels > 0 host/port are found through them */
	char sentinels[AF_REDIS_SENTINELS_MAX][272];
	int n_sentinels;
	char master_name[128];
	/* or a Redis Cluster: addresses "host:port" of some of its nodes
	 * (the slot map is asked from them); n_seeds > 0 */
	char seeds[AF_REDIS_SEEDS_MAX][272];
	int n_seeds;
	uint32_t connect_timeout_ms;
	uint32_t command_timeout_ms;
	char prefix[64]; /* key prefix, "af:" by default */
} af_redis_cfg_t;

/*
 * Parses a URL into cfg (fields not in the URL keep their values):
 *   redis://[[user]:password@]host[:port][/db]
 *   unix:///path/to/redis.sock[?db=N]   (also redis+unix://)
 *   sentinel://host:port[,host:port...]/master_name[/db]
 *       (user and password as in redis://, for the data nodes)
 *   redis-cluster://[[user]:password@]host:port[,host:port...][/]
 *       (some nodes of a Redis Cluster; db 0 only)
 * Returns 0, or -1 with a message in err.
 */
int af_redis_parse_url(const char *url, af_redis_cfg_t *cfg, char *err,
		size_t errlen);

/*
 * A Redis store for cfg (copied into shared memory with
 * af_host->shm_alloc; connections are per process). Does not connect.
 * NULL when out of memory.
 */
af_store_t *af_store_redis_new(const af_redis_cfg_t *cfg);

/*
 * Connects this process now if it is not (PING): 0 when the server
 * answers, -1 with the reason in err. For start-up checks and the
 * breaker's background probe.
 */
int af_store_redis_ping(af_store_t *s, char *err, size_t errlen);

/*
 * Publishes msg on the channel <prefix>events (PUBLISH, one round trip
 * on this process's connection). Returns the number of receivers, or -1
 * when the server could not be reached.
 */
int af_store_redis_publish(af_store_t *s, const char *msg, size_t len);

/*
 * Subscribes a dedicated connection (not the process's command one) to
 * <prefix>events and calls cb for each message until stop() returns
 * non-zero or the connection fails: then returns -1 (the caller waits and
 * calls again). Blocks: meant for a process of its own. Checks stop() at
 * least every poll_ms.
 */
int af_store_redis_subscribe(af_store_t *s,
		void (*cb)(const char *msg, size_t len, void *arg), void *arg,
		int (*stop)(void *arg), uint32_t poll_ms);

/*
 * af_store_redis_subscribe that also knows the connection is alive: a
 * PING after each poll_ms without traffic, the connection given up
 * (-1) when the server has not answered for RDS_SUB_DEAD_MS or 3 polls,
 * whichever is longer (a half-open connection would otherwise go on
 * unheard of). alive (may be NULL) is called each time the server was
 * heard from, with first 1 once the subscription is confirmed and
 * until_ms: how long the subscription counts as live without more news
 * (af_now_ms() clock; two polls: a quiet one's PING is answered well
 * before).
 */
int af_store_redis_subscribe_live(af_store_t *s,
		void (*cb)(const char *msg, size_t len, void *arg),
		void (*alive)(uint64_t until_ms, int first, void *arg), void *arg,
		int (*stop)(void *arg), uint32_t poll_ms);

/* the CONC_ADD groups that a Redis Cluster admitted on some slots and
 * undid because another slot refused (all processes; 0 otherwise) */
uint64_t af_store_redis_rollbacks(af_store_t *s);

/* drops this process's connection (after a fork, or to force a retry) */
void af_store_redis_disconnect(af_store_t *s);

#endif
