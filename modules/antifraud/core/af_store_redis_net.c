/*
 * antifraud - the Redis store's connections: one per process and store in a
 * small table (a process that inherited one from its parent opens its
 * own), found through the sentinels when configured (the address they
 * give must answer ROLE as a master), readied with AUTH, SELECT and
 * FUNCTION LOAD of the batch library (af_rds_setup); and the sending
 * of a command (RESP made here) with the one retry there is: FCALL after
 * the server lost the library (FUNCTION FLUSH, a restart without
 * persistence). A failure
 * drops the connection; the next call connects again. A mutex
 * serializes the threads of a process on the table, with SIGPIPE
 * blocked while it is held where it would kill the process.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/time.h>
#include <hiredis/hiredis.h>
#include "af_host.h"
#include "af_store_redis_int.h"
#include "af_store_redis_lua.h" /* generated from lua/ */

/* the batch function (lua/af_store_redis_exec.lua registers it) */
#define RDS_FN "af_" af_rds_lua_exec_id

/* its function for keys of several slots of a cluster master */
const char af_rds_fn_xs[] = RDS_FN "_x";

/* everything per process; rds_mx serializes the threads */
static pthread_mutex_t rds_mx = PTHREAD_MUTEX_INITIALIZER;
static int rds_atfork_done;
static rds_conn_t rds_conns[RDS_SLOTS];
static uint64_t rds_tick;
/* this process's pid (0: not known yet) and whether SIGPIPE leaves it
 * alive (-1: not known yet), read once per process: a round trip makes
 * no more system calls than its write and read */
static pid_t rds_pid;
static int rds_pipe_ign = -1;

/* This process's pid, asked of the kernel once (reset at fork). */
static pid_t rds_getpid(void)
{
	if(!rds_pid)
		rds_pid = getpid();
	return rds_pid;
}

/*
 * Blocks SIGPIPE in this thread (a write to a connection the server
 * closed must not kill the process) and, when lock, takes rds_mx. A
 * process whose SIGPIPE is not the default action (terminate) needs no
 * blocking: one that ignores it, or one with a handler of its own
 * (Kamailio's and OpenSIPS's workers catch it, from their start, and do
 * nothing with it: blocking it cost four system calls per round trip).
 * Looked up once per process.
 */
void af_rds_enter(rds_guard_t *g, int lock)
{
	struct sigaction sa;
	sigset_t set, pend;

	if(rds_pipe_ign < 0)
		rds_pipe_ign = sigaction(SIGPIPE, NULL, &sa) == 0
					   && sa.sa_handler != SIG_DFL;
	g->skip = rds_pipe_ign;
	if(g->skip) {
		if(lock)
			pthread_mutex_lock(&rds_mx);
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	sigemptyset(&pend);
	sigpending(&pend);
	g->pending = sigismember(&pend, SIGPIPE) == 1;
	if(lock)
		pthread_mutex_lock(&rds_mx);
}

/* Undoes af_rds_enter: a SIGPIPE raised inside is consumed. */
void af_rds_leave(rds_guard_t *g, int lock)
{
	struct timespec zero = {0, 0};
	sigset_t set, pend;

	if(lock)
		pthread_mutex_unlock(&rds_mx);
	if(g->skip)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pend);
	if(!g->pending && sigpending(&pend) == 0
			&& sigismember(&pend, SIGPIPE) == 1)
		sigtimedwait(&set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* In a child after fork: a mutex held by another thread of the parent
 * would stay locked. */
static void rds_atfork_child(void)
{
	pthread_mutex_init(&rds_mx, NULL);
	rds_pid = 0;
}

/* Milliseconds as a timeval. */
static struct timeval rds_tv(uint32_t ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* snprintf into err when there is one. */
void af_rds_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if(!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- connections ---- */

/*
 * Splits "host:port", "[v6]:port", "host" or "[v6]" into host and port
 * (def_port when absent). Returns 0, -1 when malformed.
 */
int af_rds_split_hostport(const char *s, size_t len, char *host,
		size_t hostlen, int *port, int def_port)
{
	const char *h = s, *end = s + len, *colon = NULL, *p;
	size_t hl;
	long v;

	if(len && s[0] == '[') {
		p = memchr(s, ']', len);
		if(!p)
			return -1;
		h = s + 1;
		hl = (size_t)(p - h);
		p++;
		if(p < end) {
			if(*p != ':')
				return -1;
			colon = p;
		}
	} else {
		for(p = s; p < end; p++) {
			if(*p == ':') {
				if(colon)
					return -1; /* an IPv6 address needs brackets */
				colon = p;
			}
		}
		hl = colon ? (size_t)(colon - s) : len;
	}
	if(hl == 0 || hl >= hostlen)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = def_port;
	if(colon) {
		p = colon + 1;
		if(p == end || end - p > 5)
			return -1;
		for(v = 0; p < end; p++) {
			if(*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (*p - '0');
		}
		if(v < 1 || v > 65535)
			return -1;
		*port = (int)v;
	}
	return 0;
}

/* Connects to host:port (or the unix socket path when host is NULL) with
 * the timeouts of cfg. Returns the context, NULL with err. */
redisContext *af_rds_connect(const af_redis_cfg_t *cfg, const char *host,
		int port, const char *path, char *err, size_t errlen)
{
	struct timeval tv = rds_tv(cfg->connect_timeout_ms);
	redisContext *c;

	if(host)
		c = redisConnectWithTimeout(host, port, tv);
	else
		c = redisConnectUnixWithTimeout(path, tv);
	if(!c) {
		af_rds_err(err, errlen, "out of memory");
		return NULL;
	}
	if(c->err) {
		if(host)
			af_rds_err(err, errlen, "connect %s:%d: %s", host, port, c->errstr);
		else
			af_rds_err(err, errlen, "connect %s: %s", path, c->errstr);
		redisFree(c);
		return NULL;
	}
	if(redisSetTimeout(c, rds_tv(cfg->command_timeout_ms)) != REDIS_OK) {
		af_rds_err(err, errlen, "cannot set the command timeout: %s", c->errstr);
		redisFree(c);
		return NULL;
	}
	if(host && redisEnableKeepAlive(c) != REDIS_OK) {
		af_rds_err(err, errlen, "cannot enable keepalive: %s", c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

/*
 * Asks the sentinels of cfg in turn for the master's address. Returns 0
 * with host and port, -1 with err (the last sentinel's error).
 */
static int rds_sentinel_master(const af_redis_cfg_t *cfg, char *host,
		size_t hostlen, int *port, char *err, size_t errlen)
{
	char sh[256];
	int sp, i;
	redisContext *c;
	redisReply *r;
	long v;
	char *end;

	af_rds_err(err, errlen, "no sentinel");
	for(i = 0; i < cfg->n_sentinels && i < AF_REDIS_SENTINELS_MAX; i++) {
		if(af_rds_split_hostport(cfg->sentinels[i],
				   strnlen(cfg->sentinels[i], sizeof(cfg->sentinels[i])),
				   sh, sizeof(sh), &sp, RDS_DEF_SENTINEL_PORT)
				< 0) {
			af_rds_err(err, errlen, "bad sentinel address '%s'",
					cfg->sentinels[i]);
			continue;
		}
		c = af_rds_connect(cfg, sh, sp, NULL, err, errlen);
		if(!c)
			continue;
		r = redisCommand(
				c, "SENTINEL get-master-addr-by-name %s", cfg->master_name);
		if(!r) {
			af_rds_err(err, errlen, "sentinel %s:%d: %s", sh, sp, c->errstr);
		} else if(r->type == REDIS_REPLY_ARRAY && r->elements == 2
				  && r->element[0]->type == REDIS_REPLY_STRING
				  && r->element[1]->type == REDIS_REPLY_STRING
				  && r->element[0]->len > 0
				  && r->element[0]->len < hostlen) {
			errno = 0;
			v = strtol(r->element[1]->str, &end, 10);
			if(errno == 0 && *end == '\0' && v > 0 && v <= 65535) {
				memcpy(host, r->element[0]->str, r->element[0]->len);
				host[r->element[0]->len] = '\0';
				*port = (int)v;
				freeReplyObject(r);
				redisFree(c);
				return 0;
			}
			af_rds_err(err, errlen, "sentinel %s:%d: bad master port", sh, sp);
		} else if(r->type == REDIS_REPLY_ERROR) {
			af_rds_err(err, errlen, "sentinel %s:%d: %s", sh, sp, r->str);
		} else {
			af_rds_err(err, errlen, "sentinel %s:%d: master '%s' unknown", sh,
					sp, cfg->master_name);
		}
		if(r)
			freeReplyObject(r);
		redisFree(c);
	}
	return -1;
}

/* Connects to the first seed of a Redis Cluster that answers (the seeds
 * in turn, from a rotating start). Returns it, NULL with err. */
static redisContext *rds_open_seed(const af_redis_cfg_t *cfg, char *err,
		size_t errlen)
{
	static unsigned next;
	char host[256];
	redisContext *c;
	int i, k, port;

	af_rds_err(err, errlen, "no cluster node");
	for(i = 0; i < cfg->n_seeds && i < AF_REDIS_SEEDS_MAX; i++) {
		k = (int)((next + (unsigned)i) % (unsigned)cfg->n_seeds);
		if(af_rds_split_hostport(cfg->seeds[k],
				   strnlen(cfg->seeds[k], sizeof(cfg->seeds[k])), host,
				   sizeof(host), &port, RDS_DEF_PORT)
				< 0) {
			af_rds_err(err, errlen, "bad cluster node address '%s'",
					cfg->seeds[k]);
			continue;
		}
		c = af_rds_connect(cfg, host, port, NULL, err, errlen);
		if(c) {
			next = (unsigned)k;
			return c;
		}
	}
	next++;
	return NULL;
}

/* Opens a connection to the server of cfg (through the sentinels when
 * there are). Returns it, NULL with err. *via_sentinel tells how. */
redisContext *af_rds_open(const af_redis_cfg_t *cfg, int *via_sentinel,
		char *err, size_t errlen)
{
	char host[256];
	int port;

	*via_sentinel = 0;
	if(cfg->n_seeds > 0)
		return rds_open_seed(cfg, err, errlen);
	if(cfg->n_sentinels > 0) {
		if(rds_sentinel_master(cfg, host, sizeof(host), &port, err, errlen)
				< 0)
			return NULL;
		*via_sentinel = 1;
		return af_rds_connect(cfg, host, port, NULL, err, errlen);
	}
	if(cfg->unix_path[0] && !cfg->host[0])
		return af_rds_connect(cfg, NULL, 0, cfg->unix_path, err, errlen);
	return af_rds_connect(cfg, cfg->host[0] ? cfg->host : "127.0.0.1",
			cfg->port ? cfg->port : RDS_DEF_PORT, NULL, err, errlen);
}

/* Whether r is the status or string s. */
int af_rds_is(const redisReply *r, const char *s)
{
	return r
		   && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING)
		   && r->len == strlen(s) && strcasecmp(r->str, s) == 0;
}

/* Why command's reply r on c is not what was wanted: the connection's
 * error (r NULL), the error reply, or "unexpected reply". */
const char *af_rds_why(const redisContext *c, const redisReply *r)
{
	if(!r)
		return c->errstr;
	return r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
}

/*
 * The batch library (lua/af_store_redis_exec.lua): its library and its
 * function are both named after its code (RDS_FN), so that the modules
 * of one version load it once and another version loads its own beside
 * it. Whether r, a FUNCTION LOAD reply, says that the server has it
 * (loaded now, or already there: the same name is the same code) or is a
 * replica (READONLY: it has what its master has, and an FCALL of the
 * batch, which writes, fails there as a write does); fn gets the
 * function's name. 0, or -1 when not.
 */
int af_rds_take_fn(const redisReply *r, char *fn)
{
	if(!r
			|| (r->type == REDIS_REPLY_ERROR && !strstr(r->str, "already exists")
					&& strncmp(r->str, "READONLY", 8) != 0)
			|| (r->type != REDIS_REPLY_ERROR && !af_rds_is(r, RDS_FN)))
		return -1;
	memcpy(fn, RDS_FN, sizeof(RDS_FN));
	return 0;
}

/*
 * Reads the replies of the nq commands what[] sent on c (one round trip)
 * and checks each: FUNCTION LOAD's gives slot its function. Every reply
 * is read, the first that fails says why. Returns 0, -1 with err.
 */
static int rds_setup_replies(redisContext *c, const char *const *what,
		int nq, rds_conn_t *slot, char *err, size_t errlen)
{
	redisReply *r;
	void *rv;
	int i, rc = 0;

	for(i = 0; i < nq; i++) {
		if(redisGetReply(c, &rv) != REDIS_OK) {
			af_rds_err(err, errlen, "%s: %s", what[i], c->errstr);
			return -1;
		}
		r = rv;
		if(rc == 0 && strcmp(what[i], "FUNCTION LOAD") == 0) {
			if(af_rds_take_fn(r, slot->sha_exec) < 0) {
				af_rds_err(err, errlen, "FUNCTION LOAD: %s",
						af_rds_why(c, r));
				rc = -1;
			}
		} else if(rc == 0 && r->type == REDIS_REPLY_ERROR) {
			af_rds_err(err, errlen, "%s: %s", what[i], r->str);
			rc = -1;
		} else if(rc == 0 && strcmp(what[i], "ROLE") == 0) {
			if(r->type != REDIS_REPLY_ARRAY || r->elements < 1
					|| !af_rds_is(r->element[0], "master")) {
				af_rds_err(err, errlen, "the sentinels' master is not a master"
									 " (ROLE)");
				rc = -1;
			}
		} else if(rc == 0
				  && !af_rds_is(r, strcmp(what[i], "PING") == 0 ? "PONG"
																: "OK")) {
			af_rds_err(err, errlen, "%s: unexpected reply", what[i]);
			rc = -1;
		}
		freeReplyObject(r);
	}
	return rc;
}

/*
 * Readies a new connection: AUTH, SELECT, ROLE (when found through a
 * sentinel: must be a master) in one round trip and, when slot is given,
 * a PING with them and FUNCTION LOAD of the batch library in a second
 * one. Redis closes the connection of a client not authenticated yet
 * that sends an argument over 16 KB (the library is larger): the PING
 * answers NOAUTH first, and FUNCTION LOAD goes only once the rest said
 * OK. Returns 0, -1 with err.
 */
int af_rds_setup(redisContext *c, const af_redis_cfg_t *cfg, int role,
		int select, rds_conn_t *slot, char *err, size_t errlen)
{
	static const char *const load[] = {"FUNCTION LOAD"};
	const char *what[4];
	int nq = 0;

	if(cfg->username[0]) {
		redisAppendCommand(c, "AUTH %s %s", cfg->username, cfg->password);
		what[nq++] = "AUTH";
	} else if(cfg->password[0]) {
		redisAppendCommand(c, "AUTH %s", cfg->password);
		what[nq++] = "AUTH";
	}
	if(select && cfg->db) {
		redisAppendCommand(c, "SELECT %d", cfg->db);
		what[nq++] = "SELECT";
	}
	if(role) {
		redisAppendCommand(c, "ROLE");
		what[nq++] = "ROLE";
	}
	if(slot) {
		redisAppendCommand(c, "PING");
		what[nq++] = "PING";
	}
	if(rds_setup_replies(c, what, nq, slot, err, errlen) < 0)
		return -1;
	if(!slot)
		return 0;
	redisAppendCommand(c, "FUNCTION LOAD %s", af_rds_lua_exec);
	return rds_setup_replies(c, load, 1, slot, err, errlen);
}

/*
 * This process's slot for store st (made when there is none, reusing the
 * least recently used one when all are taken). A slot inherited from the
 * parent process loses its connection (the child's copy of the socket is
 * closed; the parent's stays). Lock: rds_mx.
 */
static rds_conn_t *rds_slot(const af_store_redis_t *st)
{
	pid_t pid = rds_getpid();
	rds_conn_t *slot = NULL, *unused = NULL, *lru = NULL, *x;
	int i;

	for(i = 0; i < RDS_SLOTS && !slot; i++) {
		x = &rds_conns[i];
		if(x->id == st->id)
			slot = x;
		else if(x->id == 0 && !unused)
			unused = x;
		else if(x->id != 0 && (!lru || x->used < lru->used))
			lru = x;
	}
	if(!slot) {
		slot = unused ? unused : lru;
		if(slot->c)
			redisFree(slot->c);
		af_rds_cl_free(slot->cl);
		memset(slot, 0, sizeof(*slot));
		slot->id = st->id;
		slot->pid = pid;
	}
	if(slot->pid != pid) {
		if(slot->c)
			redisFree(slot->c);
		af_rds_cl_free(slot->cl);
		slot->cl = NULL;
		slot->c = NULL;
		slot->pid = pid;
		slot->down = 0;
	}
	slot->used = ++rds_tick;
	return slot;
}

/* Drops slot's connection after a failure; logs the first one. Lock:
 * rds_mx. */
void af_rds_fail(rds_conn_t *slot, const char *why)
{
	if(slot->c) {
		redisFree(slot->c);
		slot->c = NULL;
	}
	if(!slot->down)
		AF_ERR("store: redis unavailable: %s\n", why);
	slot->down = 1;
}

/*
 * This process's connection for st, connected now when it is not.
 * Returns the slot with a connection, NULL with err (the failure is
 * logged). Lock: rds_mx.
 */
rds_conn_t *af_rds_get(const af_store_redis_t *st, char *err,
		size_t errlen)
{
	rds_conn_t *slot = rds_slot(st);
	redisContext *c;
	int via;

	if(slot->c)
		return slot;
	if(st->cfg.n_seeds > 0)
		return af_rds_cl_get(st, slot, err, errlen) ? slot : NULL;
	c = af_rds_open(&st->cfg, &via, err, errlen);
	if(c && af_rds_setup(c, &st->cfg, via, 1, slot, err, errlen) < 0) {
		redisFree(c);
		c = NULL;
	}
	if(!c) {
		af_rds_fail(slot, err);
		return NULL;
	}
	if(slot->down)
		AF_NOTICE("store: redis available again\n");
	slot->down = 0;
	slot->c = c;
	return slot;
}
/* the command in RESP, made here rather than by hiredis's argv
 * formatter (one sdscatfmt per argument: a third of a batch's cost in
 * Kamailio): grown as needed, kept by the process */
static char *rds_cmd;
static size_t rds_cmd_cap;

/* writes the decimal digits of v at p; returns the end */
static char *rds_udec(char *p, size_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while(v);
	while(n)
		*p++ = tmp[--n];
	return p;
}

/* formats af_rds_av[0..argc) into rds_cmd; its length, 0 out of memory */
static size_t rds_format(int argc)
{
	size_t need = 32, len; /* "*" digits CRLF */
	char *p;
	int i;

	for(i = 0; i < argc; i++)
		need += af_rds_avlen[i] + 26; /* "$" digits CRLF data CRLF */
	if(need > rds_cmd_cap) {
		p = realloc(rds_cmd, need);
		if(!p)
			return 0;
		rds_cmd = p;
		rds_cmd_cap = need;
	}
	p = rds_cmd;
	*p++ = '*';
	p = rds_udec(p, (size_t)argc);
	*p++ = '\r';
	*p++ = '\n';
	for(i = 0; i < argc; i++) {
		len = af_rds_avlen[i];
		*p++ = '$';
		p = rds_udec(p, len);
		*p++ = '\r';
		*p++ = '\n';
		memcpy(p, af_rds_av[i], len);
		p += len;
		*p++ = '\r';
		*p++ = '\n';
	}
	return (size_t)(p - rds_cmd);
}

/* Fills af_rds_av[0..2) with FCALL of the batch function fn. */
static void rds_fcall(const char *fn)
{
	af_rds_av[0] = "FCALL";
	af_rds_avlen[0] = 5;
	af_rds_av[1] = fn;
	af_rds_avlen[1] = strlen(fn);
}

/* Appends FCALL of the batch function fn (an rds_conn_t's sha_exec) with
 * the arguments af_rds_av[2..argc) to c's output (pipelined: the reply
 * is read later). 0, -1 out of memory. */
int af_rds_append_eval(redisContext *c, const char *fn, int argc)
{
	size_t len;

	rds_fcall(fn);
	len = rds_format(argc);
	if(!len)
		return redisAppendCommandArgv(c, argc, af_rds_av, af_rds_avlen)
							   == REDIS_OK
					   ? 0
					   : -1;
	return redisAppendFormattedCommand(c, rds_cmd, len) == REDIS_OK ? 0 : -1;
}

/* sends af_rds_av[0..argc) and reads the reply; NULL on a connection error
 * (c->errstr says which) */
static redisReply *rds_call(redisContext *c, int argc)
{
	void *r = NULL;
	size_t len = rds_format(argc);

	if(!len) {
		/* out of memory here: let hiredis try with its own */
		return redisCommandArgv(c, argc, af_rds_av, af_rds_avlen);
	}
	if(redisAppendFormattedCommand(c, rds_cmd, len) != REDIS_OK
			|| redisGetReply(c, &r) != REDIS_OK)
		return NULL;
	return r;
}

/*
 * Runs the batch function with the arguments in af_rds_av[2..argc)
 * (af_rds_av[0..2) are filled here); when the server lost it, loads it
 * and runs it once more. Returns the reply (not an error reply), NULL
 * with err. Lock: rds_mx.
 */
redisReply *af_rds_eval(rds_conn_t *slot, int argc, char *err,
		size_t errlen)
{
	redisReply *r;
	int tries;

	for(tries = 0; tries < 2; tries++) {
		rds_fcall(slot->sha_exec);
		r = rds_call(slot->c, argc);
		if(!r) {
			af_rds_err(err, errlen, "FCALL: %s", slot->c->errstr);
			return NULL;
		}
		if(r->type != REDIS_REPLY_ERROR)
			return r;
		if(tries || !strstr(r->str, "Function not found")) {
			af_rds_err(err, errlen, "FCALL: %s", r->str);
			freeReplyObject(r);
			return NULL;
		}
		freeReplyObject(r);
		r = redisCommand(slot->c, "FUNCTION LOAD %s", af_rds_lua_exec);
		if(af_rds_take_fn(r, slot->sha_exec) < 0) {
			af_rds_err(err, errlen, "FUNCTION LOAD: %s",
					af_rds_why(slot->c, r));
			if(r)
				freeReplyObject(r);
			return NULL;
		}
		freeReplyObject(r);
	}
	return NULL;
}

/* Drops this process's connection for st. Lock: rds_mx. */
static void rds_drop(const af_store_redis_t *st)
{
	int i;

	for(i = 0; i < RDS_SLOTS; i++) {
		if(rds_conns[i].id != st->id)
			continue;
		if(rds_conns[i].c)
			redisFree(rds_conns[i].c);
		af_rds_cl_free(rds_conns[i].cl);
		rds_conns[i].cl = NULL;
		rds_conns[i].c = NULL;
		rds_conns[i].pid = rds_getpid();
		rds_conns[i].down = 0;
	}
}

/* destroy: drops this process's connection and frees the store; no
 * process may use s after. */

/* Forgets this process's slots of st (closing their connections): st
 * is being destroyed. */
void af_rds_forget(const af_store_redis_t *st)
{
	int i;

	pthread_mutex_lock(&rds_mx);
	for(i = 0; i < RDS_SLOTS; i++) {
		if(rds_conns[i].id != st->id)
			continue;
		if(rds_conns[i].c)
			redisFree(rds_conns[i].c);
		af_rds_cl_free(rds_conns[i].cl);
		memset(&rds_conns[i], 0, sizeof(rds_conns[i]));
	}
	pthread_mutex_unlock(&rds_mx);
}

/* Registers, once per process image, the fork handler that resets the
 * table's mutex in a child. */
void af_rds_atfork_once(void)
{
	pthread_mutex_lock(&rds_mx);
	if(!rds_atfork_done) {
		pthread_atfork(NULL, NULL, rds_atfork_child);
		rds_atfork_done = 1;
	}
	pthread_mutex_unlock(&rds_mx);
}


/*
 * Connects this process now if it is not, and PINGs. Returns 0, -1 with
 * the reason in err (the connection is dropped).
 */
int af_store_redis_ping(af_store_t *s, char *err, size_t errlen)
{
	rds_guard_t g;
	af_store_redis_t *st = (af_store_redis_t *)s;
	rds_conn_t *slot;
	redisReply *r;
	char why[256];
	int rc = -1;

	if(st->cfg.n_seeds > 0)
		return af_rds_cl_ping(st, err, errlen);
	af_rds_enter(&g, 1);
	slot = af_rds_get(st, why, sizeof(why));
	if(slot) {
		r = redisCommand(slot->c, "PING");
		if(af_rds_is(r, "PONG")) {
			rc = 0;
		} else {
			snprintf(why, sizeof(why), "PING: %s",
					af_rds_why(slot->c, r));
			af_rds_fail(slot, why);
		}
		if(r)
			freeReplyObject(r);
	}
	af_rds_leave(&g, 1);
	if(rc < 0)
		af_rds_err(err, errlen, "%s", why);
	return rc;
}

/* Drops this process's connection for s; the next call connects again. */
void af_store_redis_disconnect(af_store_t *s)
{
	pthread_mutex_lock(&rds_mx);
	rds_drop((af_store_redis_t *)s);
	pthread_mutex_unlock(&rds_mx);
}
