/*
 * antifraud unit tests - one real redis-server of the test's own
 * (test_outcome.c, test_store_cluster.c), on redis_srv.h's servers:
 * started, stopped, paused and restarted on the same port by the test,
 * killed at exit. A missing redis-server fails the test that needs it.
 * Include after the C headers, cmocka.h, hiredis.h and af_store_redis.h.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_TEST_REDIS_SERVER_H
#define AF_TEST_REDIS_SERVER_H
#include "redis_srv.h"

static srv_t redis_one; /* the server; its pid is 0 while stopped */

/* kills the server (to restart it empty on the same port) */
static void redis_stop(void)
{
	srv_kill(&redis_one);
}

/*
 * Empties the server (FLUSHALL) and fills rc for it: prefix "af:", the
 * timeouts given (ms).
 */
static void redis_fresh_cfg(af_redis_cfg_t *rc, uint32_t connect_ms,
		uint32_t command_ms)
{
	redisContext *c = raw(redis_one.port);

	rcmd(c, 0, "FLUSHALL");
	redisFree(c);
	memset(rc, 0, sizeof(*rc));
	strcpy(rc->host, "127.0.0.1");
	rc->port = (uint16_t)redis_one.port;
	strcpy(rc->prefix, "af:");
	rc->connect_timeout_ms = connect_ms;
	rc->command_timeout_ms = command_ms;
}

/*
 * Starts redis-server (empty) on a free port the first time, the same one
 * after redis_stop(), and waits until it answers PING (the test fails
 * when it does not: redis-server missing). 0.
 */
static int redis_start(const char *name)
{
	if(!n_srv)
		atexit(cleanup);
	srv_start(&redis_one, name, NULL);
	return 0;
}

#endif
