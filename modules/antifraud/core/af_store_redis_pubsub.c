/*
 * antifraud - the Redis store's events channel: PUBLISH on the process's
 * command connection, SUBSCRIBE on a connection of its own (a process
 * that only listens, polling its stop condition). On a Redis Cluster
 * (Redis 7: PUBLISH reaches the subscribers of every node) PUBLISH goes
 * through a master and SUBSCRIBE to the first node of the URL that
 * answers; when that node fails, the caller subscribes again (to
 * another).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "af_host.h"
#include "af_store_redis_int.h"

/*
 * PUBLISHes msg on <prefix>events. Returns the number of receivers, -1
 * when the server could not be used (the connection is dropped).
 */
int af_store_redis_publish(af_store_t *s, const char *msg, size_t len)
{
	rds_guard_t g;
	af_store_redis_t *st = (af_store_redis_t *)s;
	rds_conn_t *slot;
	redisReply *r;
	char chan[sizeof(st->cfg.prefix) + 8], why[256];
	int rc = -1;

	snprintf(chan, sizeof(chan), "%sevents", st->cfg.prefix);
	if(st->cfg.n_seeds > 0)
		return af_rds_cl_publish(st, chan, msg, len);
	af_rds_enter(&g, 1);
	slot = af_rds_get(st, why, sizeof(why));
	if(slot) {
		r = redisCommand(slot->c, "PUBLISH %s %b", chan, msg ? msg : "",
				msg ? len : 0);
		if(r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
			rc = r->integer > INT_MAX ? INT_MAX : (int)r->integer;
		} else {
			snprintf(why, sizeof(why), "PUBLISH: %s",
					af_rds_why(slot->c, r));
			af_rds_fail(slot, why);
		}
		if(r)
			freeReplyObject(r);
	}
	af_rds_leave(&g, 1);
	return rc;
}

/* Hands a pub/sub reply to cb when it is a message. */
static void rds_sub_deliver(const redisReply *r,
		void (*cb)(const char *msg, size_t len, void *arg), void *arg)
{
	if(cb && r->type == REDIS_REPLY_ARRAY && r->elements == 3
			&& af_rds_is(r->element[0], "message")
			&& r->element[2]->type == REDIS_REPLY_STRING)
		cb(r->element[2]->str, r->element[2]->len, arg);
}

/*
 * Subscribes a connection of its own to <prefix>events and hands every
 * message to cb. Between messages waits at most poll_ms (0: 100) for the
 * socket, then asks stop() and PINGs the server. Returns 0 when stop()
 * said so, -1 when the connection could not be made, failed or stayed
 * silent past dead_ms (logged).
 */
int af_store_redis_subscribe(af_store_t *s,
		void (*cb)(const char *msg, size_t len, void *arg), void *arg,
		int (*stop)(void *arg), uint32_t poll_ms)
{
	return af_store_redis_subscribe_live(s, cb, NULL, arg, stop, poll_ms);
}

int af_store_redis_subscribe_live(af_store_t *s,
		void (*cb)(const char *msg, size_t len, void *arg),
		void (*alive)(uint64_t until_ms, int first, void *arg), void *arg,
		int (*stop)(void *arg), uint32_t poll_ms)
{
	af_store_redis_t *st = (af_store_redis_t *)s;
	char chan[sizeof(st->cfg.prefix) + 8], err[256];
	struct pollfd pfd;
	redisContext *c;
	redisReply *r;
	void *rv;
	rds_guard_t g;
	int via, pr, done, rc = -1;
	uint64_t heard, now, dead_ms;

	if(!poll_ms)
		poll_ms = RDS_DEF_POLL_MS;
	if(poll_ms > INT_MAX / 3)
		poll_ms = INT_MAX / 3;
	dead_ms = 3 * (uint64_t)poll_ms;
	if(dead_ms < RDS_SUB_DEAD_MS)
		dead_ms = RDS_SUB_DEAD_MS;
	snprintf(chan, sizeof(chan), "%sevents", st->cfg.prefix);
	af_rds_enter(&g, 0);
	c = af_rds_open(&st->cfg, &via, err, sizeof(err));
	if(!c) {
		af_rds_leave(&g, 0);
		AF_WARN("store: redis subscriber: %s\n", err);
		return -1;
	}
	if(af_rds_setup(c, &st->cfg, 0, 0, NULL, err, sizeof(err)) < 0)
		goto fail;
	r = redisCommand(c, "SUBSCRIBE %s", chan);
	if(!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1
			|| !af_rds_is(r->element[0], "subscribe")) {
		snprintf(err, sizeof(err), "SUBSCRIBE: %s",
				af_rds_why(c, r));
		if(r)
			freeReplyObject(r);
		goto fail;
	}
	freeReplyObject(r);
	heard = af_now_ms();
	if(alive)
		alive(heard + 2 * (uint64_t)poll_ms, 1, arg);
	for(;;) {
		if(stop && stop(arg)) {
			rc = 0;
			break;
		}
		/* the replies already read, then wait for more */
		rv = NULL;
		if(redisReaderGetReply(c->reader, &rv) != REDIS_OK) {
			snprintf(err, sizeof(err), "protocol error");
			goto fail;
		}
		if(rv) {
			/* a message, or the answer to a PING */
			heard = af_now_ms();
			if(alive)
				alive(heard + 2 * (uint64_t)poll_ms, 0, arg);
			rds_sub_deliver(rv, cb, arg);
			freeReplyObject(rv);
			continue;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		pr = poll(&pfd, 1, (int)poll_ms);
		if(pr < 0 && errno != EINTR) {
			snprintf(err, sizeof(err), "poll: %s", strerror(errno));
			goto fail;
		}
		if(pr > 0 && redisBufferRead(c) != REDIS_OK) {
			snprintf(err, sizeof(err), "%s", c->errstr);
			goto fail;
		}
		if(pr != 0)
			continue;
		/* nothing for poll_ms: is the server still there? */
		now = af_now_ms();
		if(now - heard >= dead_ms && now >= heard) {
			snprintf(err, sizeof(err),
					"no answer for %llu ms: connection given up",
					(unsigned long long)(now - heard));
			goto fail;
		}
		done = 0;
		if(redisAppendCommand(c, "PING") != REDIS_OK)
			goto fail_io;
		while(!done)
			if(redisBufferWrite(c, &done) != REDIS_OK)
				goto fail_io;
	}
	redisFree(c);
	af_rds_leave(&g, 0);
	return rc;
fail_io:
	snprintf(err, sizeof(err), "PING: %s", c->errstr);
fail:
	redisFree(c);
	af_rds_leave(&g, 0);
	AF_WARN("store: redis subscriber: %s\n", err);
	return -1;
}
