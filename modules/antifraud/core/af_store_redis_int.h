/*
 * antifraud - the Redis store's internals, shared by its files:
 *   af_store_redis.c         the store's ops (lists, stats, new, destroy)
 *   af_store_redis_net.c     connections (Sentinel, ROLE, AUTH, SELECT,
 *                            the per-process table), sending commands
 *   af_store_redis_batch.c   exec: a batch's ops to the script's KEYS/ARGV, run,
 *                            the answer back to the ops
 *   af_store_redis_pubsub.c  PUBLISH and SUBSCRIBE on <prefix>events
 *   af_store_redis_url.c     redis://, unix://, sentinel://,
 *                            redis-cluster:// URLs
 *   af_store_redis_cluster.c a Redis Cluster: slots, the slot map, a batch
 *                            split into per-master sub-batches, redirects
 *   lua/af_store_redis_exec.lua the batch script, embedded at build time
 * Not for use outside the Redis backend.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_STORE_REDIS_INT_H
#define AF_STORE_REDIS_INT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <hiredis/hiredis.h>
#include "af_store_redis.h"

#define RDS_DEF_PORT 6379
#define RDS_DEF_SENTINEL_PORT 26379
#define RDS_DEF_CONNECT_MS 1000
#define RDS_DEF_COMMAND_MS 250
#define RDS_DEF_POLL_MS 100
/* a subscription not heard from for this long (ms, at least 3 polls) is
 * given up: a PING goes out after each quiet poll */
#define RDS_SUB_DEAD_MS 1500
#define RDS_SLOTS 8           /* stores with a connection per process */
#define RDS_CONC_MAX 16       /* CONC_ADD ops in one batch (as shm) */
#define RDS_HIST_REC 43       /* bytes of a history record */
#define RDS_HIST_IP 23        /* of which address, country, continent */
#define RDS_DB_MAX 1000000    /* the largest db number a URL may give */
/* the key layout's version, in every key after the prefix: a node of
 * another layout uses other keys (README: Redis, upgrading) */
#define RDS_LAYOUT "v2:"
#define RDS_BAN_HEAD 50 /* a ban's since, until (20 digits), hits (10) */
/* a multi-window counter's value: expiry, then per window its slot */
#define RDS_WM_SLOT (12 + 4 * AF_WIN_BUCKETS)
#define RDS_WM_LEN (8 + AF_WIN_MULTI_MAX * RDS_WM_SLOT)

typedef struct af_store_redis {
	af_store_t base;
	uint64_t id;       /* names this store in the per-process table */
	uint64_t failures; /* atomic */
	uint64_t rollbacks; /* atomic: tentative CONC_ADDs undone (cluster) */
	size_t plen;       /* strlen(cfg.prefix) */
	af_redis_cfg_t cfg;
} af_store_redis_t;

#define RDS_CL_SLOTS 16384 /* hash slots of a Redis Cluster */
#define RDS_CL_NODES 32    /* nodes of a cluster known to a process */

struct rds_cluster;

/* a process's connection for one store */
typedef struct rds_conn {
	uint64_t id; /* the store's, 0: free slot */
	pid_t pid;   /* the process that made c */
	redisContext *c;
	uint64_t used; /* last use (tick), for reuse of the slot */
	int down;      /* the last attempt failed (logged once) */
	char sha_exec[41]; /* the batch function's name (RDS_FN) */
	struct rds_cluster *cl; /* a Redis Cluster: its nodes (c unused) */
} rds_conn_t;

/* a node of a Redis Cluster, as this process knows it */
typedef struct rds_node {
	char host[64];
	int port;
	rds_conn_t conn; /* c and the batch function's name; c NULL: not
					  * connected */
	int reload;      /* "Function not found": load the library again */
} rds_node_t;

/* a process's view of a Redis Cluster */
typedef struct rds_cluster {
	uint8_t map[RDS_CL_SLOTS]; /* slot -> node index + 1, 0: unknown */
	rds_node_t node[RDS_CL_NODES];
	int n;
	int stale; /* ask the slot map again before the next batch */
} rds_cluster_t;

/* what a list found: per live ban or set its subject and value */
typedef struct rds_item {
	char *subj; /* malloc'ed, subj_len bytes */
	size_t subj_len;
	af_ban_t ban;   /* bans */
	uint32_t count; /* sets */
} rds_item_t;

typedef struct rds_items {
	rds_item_t *v;
	size_t n, cap;
} rds_items_t;

/* an argument list built in one growing byte buffer */
typedef struct rds_argv {
	char *buf;
	size_t len, cap;
	size_t *off, *alen;
	int n, ncap;
	int oom;
} rds_argv_t;


/* a locked section: the mutex, SIGPIPE blocked in this thread */
typedef struct rds_guard {
	sigset_t old;
	int pending; /* a SIGPIPE was pending before */
	int skip;    /* the process ignores SIGPIPE: nothing blocked */
} rds_guard_t;

/* a field of a reply: an integer, a string, or anything else (rejected
 * by every reader below) */
enum rds_ftype { RDS_F_OTHER = 0, RDS_F_INT, RDS_F_STR };

typedef struct rds_fld {
	int type;       /* enum rds_ftype */
	long long v;    /* RDS_F_INT */
	const char *s;  /* RDS_F_STR: len bytes, not NUL-terminated */
	size_t len;
} rds_fld_t;

/* the fields of one op's result that rds_parse keeps: a BAN_GET found
 * (6) or a HIST_PUSH with all its records */
#define RDS_FIELDS_H (AF_HIST_MAX + 2 > 6 ? AF_HIST_MAX + 2 : 6)
#define RDS_FIELDS_W (1 + 3 * AF_WIN_MULTI_MAX) /* WIN_MULTI */
#define RDS_FIELDS (RDS_FIELDS_H > RDS_FIELDS_W ? RDS_FIELDS_H : RDS_FIELDS_W)
/* a FIG_MULTI answers its figures as stored: the expiry (8 bytes), then
 * per window a slot of window_s (4), newest slice (8) and AF_FIG_SLICES
 * rows of AF_FIG_N big-endian 32-bit counts */
#define RDS_FIG_ROWS (AF_FIG_SLICES * AF_FIG_N * 4)
#define RDS_FIG_SLOT (12 + RDS_FIG_ROWS)

/* af_store_redis_net.c: the per-process connections */
void af_rds_enter(rds_guard_t *g, int lock);
void af_rds_leave(rds_guard_t *g, int lock);
void af_rds_err(char *err, size_t errlen, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
int af_rds_split_hostport(const char *s, size_t len, char *host,
		size_t hostlen, int *port, int def_port);
redisContext *af_rds_open(const af_redis_cfg_t *cfg, int *via_sentinel,
		char *err, size_t errlen);
int af_rds_is(const redisReply *r, const char *s);
const char *af_rds_why(const redisContext *c, const redisReply *r);
int af_rds_setup(redisContext *c, const af_redis_cfg_t *cfg, int role,
		int select, rds_conn_t *slot, char *err, size_t errlen);
rds_conn_t *af_rds_get(const af_store_redis_t *st, char *err, size_t errlen);
void af_rds_fail(rds_conn_t *slot, const char *why);
redisReply *af_rds_eval(rds_conn_t *slot, int argc, char *err,
		size_t errlen);
void af_rds_forget(const af_store_redis_t *st);
void af_rds_atfork_once(void);
redisContext *af_rds_connect(const af_redis_cfg_t *cfg, const char *host,
		int port, const char *path, char *err, size_t errlen);
int af_rds_take_fn(const redisReply *r, char *fn);
int af_rds_append_eval(redisContext *c, const char *sha, int argc);

/* af_store_redis_cluster.c */
uint16_t af_rds_crc16(const char *p, size_t len);
int af_rds_key_slot(const char *key, size_t len);
int af_rds_redirect(const char *msg, size_t len, int *ask, int *slot,
		char *host, size_t hostlen, int *port);
int af_rds_cl_exec(af_store_redis_t *st, af_op_t *ops, int n,
		uint64_t now_ms);
rds_cluster_t *af_rds_cl_get(const af_store_redis_t *st, rds_conn_t *slot,
		char *err, size_t errlen);
void af_rds_cl_free(rds_cluster_t *cl);
int af_rds_cl_ping(af_store_redis_t *st, char *err, size_t errlen);
int af_rds_cl_publish(af_store_redis_t *st, const char *chan,
		const char *msg, size_t len);
typedef int (*rds_node_fn)(af_store_redis_t *st, rds_conn_t *conn,
		void *arg, char *why, size_t whylen);
int af_rds_cl_each_master(af_store_redis_t *st, rds_node_fn fn, void *arg);
int af_rds_each_server(af_store_redis_t *st, rds_node_fn fn, void *arg);

/* the batch library's function for keys of several slots (a Redis
 * Cluster master's sub-batch; af_store_redis_net.c) */
extern const char af_rds_fn_xs[];

/* af_store_redis_batch.c: arguments and replies; the argument vector
 * af_rds_av/af_rds_avlen that af_rds_eval sends */
extern const char **af_rds_av;
extern size_t *af_rds_avlen;
/* af_store_t exec: the batch as one FCALL (af_store_redis_batch.c) */
int af_rds_exec(af_store_t *s, af_op_t *ops, int n, uint64_t now_ms);
/* one batch in three steps (af_rds_exec is their composition): the
 * FCALL's arguments, the reply read back, every op failed */
int af_rds_encode(af_store_redis_t *st, af_op_t *ops, int n, int pregated,
		uint64_t now_ms, signed char *code, int *group_bad);
int af_rds_decode(af_store_redis_t *st, const redisReply *r, af_op_t *ops,
		int n, const signed char *code, int group_bad);
int af_rds_unavailable(af_store_redis_t *st, af_op_t *ops, int n);
/* af_store_redis.c: the lists and forget on one connection (a master of
 * a cluster: each master is asked in turn) */
int af_rds_ban_scan(af_store_redis_t *st, rds_conn_t *slot,
		rds_items_t *out, uint64_t now_ms, char *why, size_t whylen);
int af_rds_conc_scan(af_store_redis_t *st, rds_conn_t *slot,
		const char *prefix, size_t prefix_len, rds_items_t *out,
		uint64_t now_ms, char *why, size_t whylen);
int af_rds_forget_scan(af_store_redis_t *st, rds_conn_t *slot,
		const char *pat, uint64_t *removed, char *why, size_t whylen);
int af_rds_field_range(const rds_fld_t *f, long long lo, long long hi,
		long long *v);
int af_rds_field_ban(const rds_fld_t *e, af_ban_t *ban);
int af_rds_check(const af_op_t *ops, int n, signed char *code,
		int *group_bad, int *pregated);
int af_rds_finish(af_store_redis_t *st, af_op_t *ops, int n,
		const signed char *code, int done, int stopped, int group_bad);

#endif
