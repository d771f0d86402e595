/*
 * antifraud - the Redis store on a Redis Cluster (redis-cluster:// URLs).
 *
 * Keys are <prefix><kind>:{<subject>}: every op on one subject is in one
 * hash slot (CRC16 of the hash tag, mod 16384), so each limit is one key
 * on one master and stays exact. Each process knows the slot map (CLUSTER
 * SLOTS, asked from any node it knows, the URL's first) and keeps one
 * connection per master.
 *
 * A batch (af_store_exec) is split into per-master sub-batches, each one
 * FCALL of the batch function (atomic on its master): the keys of
 * several slots of one master go in one call (af_<id>_x, registered
 * allow-cross-slot-keys, cl_xs_args). A batch all on one master is
 * one sub-batch, as on a single server. Across masters, sub-batches are
 * sent pipelined in rounds, so that what the single-server script does
 * in one go keeps its meaning:
 *   1. stages: a BAN_GET that stops the batch ends a stage, with the
 *      BAN_GETs right after it: what comes after runs only when no ban
 *      stopped the batch (when every stopping BAN_GET of the stage is
 *      on one master, the next stage's first ops on that master go in
 *      the same call, after them: the script stops before them). BAN_GETs
 *      of one stage run together, so a ban found by one does not spare
 *      the others of other masters their hit count;
 *   2. waves, within a stage: a WIN_HIT whose if_new names an op of
 *      another master runs after it, with if_new decided here (n or 0);
 *      the ops of one master keep their order;
 *   3. a WIN_HIT whose ban key is on another master counts without
 *      banning; when it reaches its threshold the ban is set after it on
 *      the ban key's slot (BAN_GET that stops, then BAN_SET: an existing
 *      ban is kept, and its hit count grows by one);
 *   4. the CONC_ADD group last, knowing every gate: with the last wave
 *      when it is all on one master and no gate of that wave on another
 *      master nor a stopping BAN_GET of the stage is still unknown (then
 *      exact, in one script); else in a round of its own: on one master
 *      one sub-batch (exact); across masters, each admits its part
 *      (all-or-nothing there), and when any refused, the members
 *      admitted on the others are removed again (CONC_DEL; a member that
 *      was there before is left in). Between the two steps another call
 *      may see the tentative members and be refused spuriously
 *      (counted: a set never goes over its limit).
 * A sub-batch of several slots that its node cannot run whole (a slot
 * moved, or migrating with one of its keys gone: the function fails in
 * its first EXISTS, before it writes anything, saying only "non local key")
 * is sent again per slot: the batch's ops not run yet are placed again
 * with one slot per group, where -ASK and -TRYAGAIN are followed as for
 * any single-slot call (a CONC_ADD group split so is admitted per slot,
 * and a refused part's partners are left to age out: stricter).
 * Replies: -MOVED updates the map (and asks CLUSTER SLOTS again) and
 * resends; -ASK resends to the target after ASKING; -TRYAGAIN,
 * -CLUSTERDOWN and -LOADING, a refused or dropped connection (a master
 * that failed: the map is asked again from any known node) resend after
 * a pause, as long as the command timeout allows since the call began;
 * then the call fails (AF_STORE_UNAVAILABLE: the breaker and fallback
 * take over). A sub-batch resent after a lost connection may count
 * twice (never less): a spurious refusal, not a missed limit.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include "af_host.h"
#include "af_store_redis_int.h"

#define CL_PAUSE_US 20000 /* between resends that wait for the cluster */
#define CL_PASSES 64      /* resend passes of one round at most */
#define CL_KEY_MAX 512    /* a key longer is hashed from a heap copy */

/* ---- slots ---- */

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as Redis Cluster. */
uint16_t af_rds_crc16(const char *p, size_t len)
{
	uint16_t crc = 0;
	size_t i;
	int b;

	for(i = 0; i < len; i++) {
		crc ^= (uint16_t)((unsigned char)p[i] << 8);
		for(b = 0; b < 8; b++)
			crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
	}
	return crc;
}

/* The hash slot of key: of its hash tag (between the first '{' and the
 * first '}' after it, when not empty), else of the whole key. */
int af_rds_key_slot(const char *key, size_t len)
{
	const char *o = memchr(key, '{', len), *c;

	if(o) {
		c = memchr(o + 1, '}', len - (size_t)(o + 1 - key));
		if(c && c > o + 1)
			return af_rds_crc16(o + 1, (size_t)(c - o - 1)) & 16383;
	}
	return af_rds_crc16(key, len) & 16383;
}

/*
 * Parses a redirect error "MOVED <slot> <host>:<port>" or "ASK ..."
 * (host may be empty: the node that answered; an IPv6 address is not in
 * brackets: the port follows the last ':'). Returns 0 with *ask, *slot,
 * host and port, -1 when msg is not a redirect.
 */
int af_rds_redirect(const char *msg, size_t len, int *ask, int *slot,
		char *host, size_t hostlen, int *port)
{
	const char *p, *end = msg + len, *sp, *colon = NULL;
	long v;

	if(len > 6 && strncmp(msg, "MOVED ", 6) == 0) {
		*ask = 0;
		p = msg + 6;
	} else if(len > 4 && strncmp(msg, "ASK ", 4) == 0) {
		*ask = 1;
		p = msg + 4;
	} else {
		return -1;
	}
	for(v = 0, sp = p; sp < end && *sp >= '0' && *sp <= '9'; sp++) {
		v = v * 10 + (*sp - '0');
		if(v >= RDS_CL_SLOTS)
			return -1;
	}
	if(sp == p || sp == end || *sp != ' ')
		return -1;
	*slot = (int)v;
	p = sp + 1;
	for(sp = p; sp < end; sp++)
		if(*sp == ':')
			colon = sp;
	if(!colon || (size_t)(colon - p) >= hostlen || colon + 1 == end
			|| end - colon - 1 > 5)
		return -1;
	for(v = 0, sp = colon + 1; sp < end; sp++) {
		if(*sp < '0' || *sp > '9')
			return -1;
		v = v * 10 + (*sp - '0');
	}
	if(v < 1 || v > 65535)
		return -1;
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	*port = (int)v;
	return 0;
}

/* The slot of the key <prefix><layout><kind>:{subj} (the key built as
 * the batch encoder builds it). */
static int cl_slot(const af_store_redis_t *st, const char *kind,
		const char *subj, size_t len)
{
	char buf[CL_KEY_MAX], *k = buf;
	size_t ll = sizeof(RDS_LAYOUT) - 1, kl = strlen(kind),
		   n = st->plen + ll + kl + 3 + len;
	int slot;

	if(n > sizeof(buf)) {
		k = malloc(n);
		if(!k) /* the tag alone: right unless the prefix has braces */
			return af_rds_crc16(subj, len) & 16383;
	}
	memcpy(k, st->cfg.prefix, st->plen);
	memcpy(k + st->plen, RDS_LAYOUT, ll);
	memcpy(k + st->plen + ll, kind, kl);
	k[st->plen + ll + kl] = ':';
	k[st->plen + ll + kl + 1] = '{';
	if(len)
		memcpy(k + st->plen + ll + kl + 2, subj, len);
	k[n - 1] = '}';
	slot = af_rds_key_slot(k, n);
	if(k != buf)
		free(k);
	return slot;
}

/* The kind of key an op works on. */
static const char *cl_kind(af_op_type_t t)
{
	switch(t) {
		case AF_OP_BAN_GET:
		case AF_OP_BAN_SET:
		case AF_OP_BAN_DEL:
			return "ban";
		case AF_OP_WIN_HIT:
			return "win";
		case AF_OP_HIST_PUSH:
			return "hist";
		case AF_OP_FIG_MULTI:
			return "fm";
		default:
			return "conc";
	}
}

/* ---- the nodes and the slot map ---- */

/* Closes node's connection. */
static void cl_close(rds_node_t *nd)
{
	if(nd->conn.c) {
		redisFree(nd->conn.c);
		nd->conn.c = NULL;
	}
}

/* Frees a process's view of a cluster (its connections closed). */
void af_rds_cl_free(rds_cluster_t *cl)
{
	int i;

	if(!cl)
		return;
	for(i = 0; i < cl->n; i++)
		cl_close(&cl->node[i]);
	free(cl);
}

/* The index of node host:port, added when unknown (an unused entry
 * reused when the table is full); -1 when none can be had. */
static int cl_node(rds_cluster_t *cl, const char *host, int port)
{
	static unsigned char used[RDS_CL_NODES];
	int i;

	for(i = 0; i < cl->n; i++)
		if(cl->node[i].port == port && strcmp(cl->node[i].host, host) == 0)
			return i;
	if(strlen(host) >= sizeof(cl->node[0].host))
		return -1;
	if(cl->n < RDS_CL_NODES) {
		i = cl->n++;
	} else {
		memset(used, 0, sizeof(used));
		for(i = 0; i < RDS_CL_SLOTS; i++)
			if(cl->map[i])
				used[cl->map[i] - 1] = 1;
		for(i = 0; i < RDS_CL_NODES && used[i]; i++)
			;
		if(i == RDS_CL_NODES)
			return -1;
		cl_close(&cl->node[i]);
	}
	memset(&cl->node[i], 0, sizeof(cl->node[i]));
	strcpy(cl->node[i].host, host);
	cl->node[i].port = port;
	return i;
}

/* Connects node i when it is not (AUTH, the scripts loaded). Returns
 * its context, NULL with err. */
static redisContext *cl_conn(const af_store_redis_t *st, rds_cluster_t *cl,
		int i, char *err, size_t errlen)
{
	rds_node_t *nd = &cl->node[i];
	redisContext *c;

	if(nd->conn.c && !nd->reload)
		return nd->conn.c;
	cl_close(nd);
	c = af_rds_connect(&st->cfg, nd->host, nd->port, NULL, err, errlen);
	if(!c)
		return NULL;
	if(af_rds_setup(c, &st->cfg, 0, 0, &nd->conn, err, errlen) < 0) {
		redisFree(c);
		return NULL;
	}
	nd->conn.c = c;
	nd->reload = 0;
	return c;
}

/*
 * Reads a CLUSTER SLOTS reply into cl's map (the masters' addresses; an
 * empty one is asker's). Returns the slots covered, -1 when the reply is
 * not one.
 */
static int cl_map_read(rds_cluster_t *cl, const redisReply *r,
		const rds_node_t *asker)
{
	static uint8_t map[RDS_CL_SLOTS];
	const redisReply *e, *m;
	char host[64];
	long long lo, hi, s;
	size_t i;
	int k, covered = 0;

	if(!r || r->type != REDIS_REPLY_ARRAY)
		return -1;
	memset(map, 0, sizeof(map));
	for(i = 0; i < r->elements; i++) {
		e = r->element[i];
		if(e->type != REDIS_REPLY_ARRAY || e->elements < 3
				|| e->element[0]->type != REDIS_REPLY_INTEGER
				|| e->element[1]->type != REDIS_REPLY_INTEGER)
			return -1;
		lo = e->element[0]->integer;
		hi = e->element[1]->integer;
		m = e->element[2];
		if(lo < 0 || hi >= RDS_CL_SLOTS || lo > hi
				|| m->type != REDIS_REPLY_ARRAY || m->elements < 2
				|| m->element[0]->type != REDIS_REPLY_STRING
				|| m->element[1]->type != REDIS_REPLY_INTEGER
				|| m->element[0]->len >= sizeof(host)
				|| m->element[1]->integer < 1
				|| m->element[1]->integer > 65535)
			return -1;
		if(m->element[0]->len == 0 || strcmp(m->element[0]->str, "?") == 0)
			strcpy(host, asker->host);
		else
			memcpy(host, m->element[0]->str, m->element[0]->len + 1);
		k = cl_node(cl, host, (int)m->element[1]->integer);
		if(k < 0)
			return -1;
		for(s = lo; s <= hi; s++) {
			if(!map[s])
				covered++;
			map[s] = (uint8_t)(k + 1);
		}
	}
	memcpy(cl->map, map, sizeof(map));
	return covered;
}

/*
 * Asks CLUSTER SLOTS of the nodes known (connected ones first), then of
 * the URL's, until one answers; the map is replaced by its answer.
 * Returns 0, -1 with err when none answered.
 */
static int cl_refresh(const af_store_redis_t *st, rds_cluster_t *cl,
		char *err, size_t errlen)
{
	char host[256];
	redisContext *c;
	redisReply *r;
	int pass, i, k, port, n;

	af_rds_err(err, errlen, "no cluster node answered");
	for(i = 0; i < st->cfg.n_seeds; i++) {
		if(af_rds_split_hostport(st->cfg.seeds[i],
				   strnlen(st->cfg.seeds[i], sizeof(st->cfg.seeds[i])), host,
				   sizeof(host), &port, RDS_DEF_PORT)
						== 0
				&& cl_node(cl, host, port) < 0)
			break;
	}
	for(pass = 0; pass < 2; pass++) {
		n = cl->n;
		for(i = 0; i < n; i++) {
			k = i;
			if((pass == 0) != (cl->node[k].conn.c != NULL))
				continue;
			c = cl_conn(st, cl, k, err, errlen);
			if(!c)
				continue;
			r = redisCommand(c, "CLUSTER SLOTS");
			if(r && cl_map_read(cl, r, &cl->node[k]) >= 0) {
				freeReplyObject(r);
				cl->stale = 0;
				return 0;
			}
			af_rds_err(err, errlen, "CLUSTER SLOTS from %s:%d: %s",
					cl->node[k].host, cl->node[k].port, af_rds_why(c, r));
			if(r)
				freeReplyObject(r);
			else
				cl_close(&cl->node[k]);
		}
	}
	return -1;
}

/*
 * This process's view of st's cluster in slot (made and its map asked
 * when there is none or it is stale). Returns it, NULL with err (logged
 * once, as the single-server connection). Lock: rds_mx.
 */
rds_cluster_t *af_rds_cl_get(const af_store_redis_t *st, rds_conn_t *slot,
		char *err, size_t errlen)
{
	if(!slot->cl) {
		slot->cl = calloc(1, sizeof(*slot->cl));
		if(!slot->cl) {
			af_rds_err(err, errlen, "out of memory");
			return NULL;
		}
		slot->cl->stale = 1;
	}
	if(slot->cl->stale && cl_refresh(st, slot->cl, err, errlen) < 0) {
		af_rds_fail(slot, err);
		return NULL;
	}
	return slot->cl;
}

/* ---- rounds: sub-batches sent pipelined, with redirects ---- */

/* a sub-batch: ops of one group (a master, or a slot), one FCALL */
typedef struct cl_sub {
	int grp;  /* its group (cl_grp) */
	int slot; /* of its first op: where it is sent */
	int n, cap;
	af_op_t *ops;       /* copies (inputs as sent; outputs read here) */
	int *orig;          /* index in the batch, -1: made here */
	signed char *code;
	int pregated;
	int group_bad;
	int rc;       /* af_rds_decode's */
	int node;     /* where it was sent */
	int ask;      /* -ASK: node to send to after ASKING, -1 */
	int asking;   /* ASKING sent before it */
	int multi;    /* sent with keys of several slots (af_rds_fn_xs) */
	int state;    /* CL_TODO, CL_SENT, CL_DONE, CL_SPLIT */
} cl_sub_t;

/* CL_SPLIT: sent with keys of several slots, one of them not served by
 * the node: not run, to be sent again per slot */
enum { CL_TODO = 0, CL_SENT, CL_DONE, CL_SPLIT };

/* the round being built: sub-batches (reused between calls) */
static cl_sub_t *cl_subs;
static int cl_nsub, cl_subcap;

/* Empties the round. */
static void cl_reset(void)
{
	cl_nsub = 0;
}

/* The sub-batch of group grp in the round (made when none, or always
 * when fresh: sent to slot's master). NULL out of memory. */
static cl_sub_t *cl_sub_for(int grp, int slot, int fresh)
{
	cl_sub_t *ns;
	int i;

	for(i = 0; i < cl_nsub && !fresh; i++)
		if(cl_subs[i].grp == grp)
			return &cl_subs[i];
	if(cl_nsub == cl_subcap) {
		ns = realloc(cl_subs, (size_t)(cl_subcap + 8) * sizeof(*ns));
		if(!ns)
			return NULL;
		memset(ns + cl_subcap, 0, 8 * sizeof(*ns));
		cl_subs = ns;
		cl_subcap += 8;
	}
	ns = &cl_subs[cl_nsub++];
	ns->grp = grp;
	ns->slot = slot;
	ns->n = 0;
	ns->pregated = 0;
	ns->ask = -1;
	ns->asking = 0;
	ns->state = CL_TODO;
	return ns;
}

/* Appends a copy of op (orig: its batch index, -1) to sub; the copy, NULL
 * out of memory. */
static af_op_t *cl_add(cl_sub_t *sub, const af_op_t *op, int orig)
{
	af_op_t *no;
	int *ni, nc;
	signed char *cc;

	if(sub->n == sub->cap) {
		nc = sub->cap ? sub->cap * 2 : 8;
		no = realloc(sub->ops, (size_t)nc * sizeof(*no));
		if(!no)
			return NULL;
		sub->ops = no;
		ni = realloc(sub->orig, (size_t)nc * sizeof(*ni));
		if(!ni)
			return NULL;
		sub->orig = ni;
		cc = realloc(sub->code, (size_t)nc);
		if(!cc)
			return NULL;
		sub->code = cc;
		sub->cap = nc;
	}
	sub->ops[sub->n] = *op;
	sub->orig[sub->n] = orig;
	return &sub->ops[sub->n++];
}

/* the arguments of a call with keys of several slots */
static const char **cl_xav;
static size_t *cl_xavlen;
static char *cl_xslots;
static int cl_xcap;

/*
 * Lays out the batch encoded in af_rds_av[0..argc) (its keys declared)
 * as the batch function of several slots wants it (af_<id>_x of
 * lua/af_store_redis_exec.lua: no key declared; the key count, the keys'
 * slots in 2 bytes each, the keys, then the batch's ARGV), in
 * cl_xav/cl_xavlen, when its keys are of several slots. Returns the
 * argument count, 0 when the keys share a slot (sent as encoded), -1
 * out of memory.
 */
static int cl_xs_args(int argc)
{
	int nk = atoi(af_rds_av[2]), i, s, multi = 0, first = -1;
	static char nkbuf[16];
	const char **na;
	size_t *nl;
	char *ns;

	if(nk <= 0 || nk > argc - 3)
		return 0;
	if(argc + 2 > cl_xcap) {
		na = realloc(cl_xav, (size_t)(argc + 2) * sizeof(*na));
		if(!na)
			return -1;
		cl_xav = na;
		nl = realloc(cl_xavlen, (size_t)(argc + 2) * sizeof(*nl));
		if(!nl)
			return -1;
		cl_xavlen = nl;
		ns = realloc(cl_xslots, (size_t)(argc + 2) * 2);
		if(!ns)
			return -1;
		cl_xslots = ns;
		cl_xcap = argc + 2;
	}
	for(i = 0; i < nk; i++) {
		s = af_rds_key_slot(af_rds_av[3 + i], af_rds_avlen[3 + i]);
		if(first >= 0 && s != first)
			multi = 1;
		if(first < 0)
			first = s;
		cl_xslots[2 * i] = (char)(s >> 8);
		cl_xslots[2 * i + 1] = (char)(s & 0xff);
	}
	if(!multi)
		return 0;
	cl_xav[0] = "FCALL";
	cl_xavlen[0] = 5;
	cl_xav[1] = af_rds_fn_xs;
	cl_xavlen[1] = strlen(af_rds_fn_xs);
	cl_xav[2] = "0";
	cl_xavlen[2] = 1;
	cl_xavlen[3] = (size_t)snprintf(nkbuf, sizeof(nkbuf), "%d", nk);
	cl_xav[3] = nkbuf;
	cl_xav[4] = cl_xslots;
	cl_xavlen[4] = 2 * (size_t)nk;
	for(i = 3; i < argc; i++) {
		cl_xav[i + 2] = af_rds_av[i];
		cl_xavlen[i + 2] = af_rds_avlen[i];
	}
	return argc + 2;
}

/* Sends sub to its node (ASKING first after -ASK): 0, -1 with err. */
static int cl_send(af_store_redis_t *st, rds_cluster_t *cl, cl_sub_t *sub,
		uint64_t now_ms, char *err, size_t errlen)
{
	redisContext *c;
	int node = sub->ask >= 0 ? sub->ask : cl->map[sub->slot] - 1, argc, xc;

	if(node < 0) {
		af_rds_err(err, errlen, "no master known for slot %d", sub->slot);
		return -1;
	}
	c = cl_conn(st, cl, node, err, errlen);
	if(!c)
		return -1;
	argc = af_rds_encode(st, sub->ops, sub->n, sub->pregated, now_ms,
			sub->code, &sub->group_bad);
	if(argc <= 0) {
		af_rds_err(err, errlen, argc < 0 ? "out of memory" : "empty batch");
		return -1;
	}
	xc = cl_xs_args(argc);
	sub->multi = xc > 0;
	sub->asking = sub->ask >= 0;
	if(xc < 0 || (sub->asking && redisAppendCommand(c, "ASKING") != REDIS_OK)
			|| (xc > 0 ? redisAppendCommandArgv(c, xc, cl_xav, cl_xavlen)
								 != REDIS_OK
					   : af_rds_append_eval(
								 c, cl->node[node].conn.sha_exec, argc)
								 < 0)) {
		af_rds_err(err, errlen, "out of memory");
		return -1;
	}
	sub->node = node;
	sub->ask = -1;
	sub->state = CL_SENT;
	return 0;
}

/* Whether an error reply means: wait a little and send again (a
 * script's command refused while the cluster is down too). */
static int cl_transient(const char *e)
{
	return strncmp(e, "TRYAGAIN", 8) == 0 || strncmp(e, "CLUSTERDOWN", 11) == 0
		   || strncmp(e, "LOADING", 7) == 0 || strncmp(e, "MASTERDOWN", 10) == 0
		   || strstr(e, "cluster is down");
}

/* Whether an error reply of a script says that a key it touched is not
 * served by the node (Redis 7.0: "... a non local key ...", later: "...
 * not served by this node"). */
static int cl_not_local(const char *e)
{
	return strstr(e, "non local key") || strstr(e, "not served by this node");
}

/*
 * Reads sub's reply. Returns 0 done (outputs in sub->ops), 1 to send
 * again (*wait 1: a connection lost, 2: the cluster said to wait), -1
 * failed (err).
 */
static int cl_read(af_store_redis_t *st, rds_cluster_t *cl,
		cl_sub_t *sub, int *wait, char *err, size_t errlen)
{
	rds_node_t *nd = &cl->node[sub->node];
	char host[64];
	void *rv = NULL;
	redisReply *r;
	int ask, slot, port, k;

	if(!nd->conn.c) { /* its connection failed on an earlier reply */
		*wait = *wait > 1 ? *wait : 1;
		return 1;
	}
	if(sub->asking) {
		if(redisGetReply(nd->conn.c, &rv) != REDIS_OK)
			goto lost;
		freeReplyObject(rv);
	}
	if(redisGetReply(nd->conn.c, &rv) != REDIS_OK)
		goto lost;
	r = rv;
	if(r->type == REDIS_REPLY_ERROR) {
		k = 1;
		if(af_rds_redirect(r->str, r->len, &ask, &slot, host, sizeof(host),
				   &port)
				== 0) {
			k = cl_node(cl, host[0] ? host : nd->host, port);
			if(k < 0) {
				af_rds_err(err, errlen, "too many cluster nodes");
				k = -1;
			} else if(ask) {
				sub->ask = k;
				k = 1;
			} else {
				cl->map[slot] = (uint8_t)(k + 1);
				cl->stale = 1;
				k = 1;
			}
		} else if(strstr(r->str, "Function not found")) {
			nd->reload = 1; /* FUNCTION FLUSH, or a restart without it */
		} else if((sub->multi && cl_not_local(r->str))
				|| strncmp(r->str, "CROSSSLOT", 9) == 0) {
			/* nothing written (af_<id>_x's EXISTS came first; or
			 * keys of several slots declared) */
			cl->stale = 1;
			sub->state = CL_SPLIT;
			k = 0;
		} else if(cl_transient(r->str)) {
			*wait = 2;
			cl->stale = 1;
		} else {
			af_rds_err(err, errlen, "FCALL on %s:%d: %s", nd->host, nd->port,
					r->str);
			k = -1;
		}
		freeReplyObject(r);
		return k;
	}
	k = af_rds_decode(st, r, sub->ops, sub->n, sub->code, sub->group_bad);
	freeReplyObject(r);
	if(k == AF_STORE_UNAVAILABLE) {
		af_rds_err(err, errlen, "FCALL on %s:%d: unexpected reply", nd->host,
				nd->port);
		return -1;
	}
	sub->rc = k;
	sub->state = CL_DONE;
	return 0;
lost:
	af_rds_err(err, errlen, "%s:%d: %s", nd->host, nd->port,
			nd->conn.c->errstr);
	cl_close(nd);
	cl->stale = 1;
	*wait = *wait > 1 ? *wait : 1;
	return 1;
}

/* Monotonic milliseconds. */
static uint64_t cl_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Sends the round's CL_SPLIT sub-batches again as one sub-batch per
 * slot each (their ops independent of each other but for the CONC_ADD
 * group, which each slot then admits on its own). 0, -1 out of memory.
 */
static int cl_split(const af_store_redis_t *st)
{
	int i, j, k, n = cl_nsub, s;
	cl_sub_t *sub, *ns;

	for(i = 0; i < n; i++) {
		if(cl_subs[i].state != CL_SPLIT)
			continue;
		cl_subs[i].state = CL_DONE;
		for(j = 0; j < cl_subs[i].n; j++) {
			sub = &cl_subs[i];
			s = cl_slot(st, cl_kind(sub->ops[j].type), sub->ops[j].key,
					sub->ops[j].key_len);
			ns = NULL;
			for(k = n; k < cl_nsub && !ns; k++)
				if(cl_subs[k].grp == -1 - s)
					ns = &cl_subs[k];
			if(!ns)
				ns = cl_sub_for(-1 - s, s, 1);
			if(!ns)
				return -1;
			sub = &cl_subs[i]; /* cl_subs may have moved */
			ns->pregated = sub->pregated;
			if(!cl_add(ns, &sub->ops[j], sub->orig[j]))
				return -1;
		}
		cl_subs[i].n = 0;
	}
	return 0;
}

/*
 * Runs the round's sub-batches: sends every one not done (pipelined:
 * all sent, then the replies read), then follows redirects and resends
 * until all are done or deadline (monotonic ms) passes. A sub-batch of
 * several slots that the node cannot run (CL_SPLIT) is left so (split
 * 0: the caller places its ops again) or sent again per slot (split 1).
 * Returns 0, -1 with err.
 */
static int cl_run(af_store_redis_t *st, rds_cluster_t *cl,
		uint64_t now_ms, uint64_t deadline, int split, char *err,
		size_t errlen)
{
	int pass, i, left, wait, rc, trouble = 0;
	uint64_t now;

	for(pass = 0; pass < CL_PASSES; pass++) {
		wait = 0;
		if(cl->stale && cl_refresh(st, cl, err, errlen) < 0)
			wait = 1;
		for(i = 0; !wait && i < cl_nsub; i++) {
			if(cl_subs[i].state != CL_TODO)
				continue;
			if(cl_send(st, cl, &cl_subs[i], now_ms, err, errlen) < 0) {
				cl->stale = 1;
				wait = 1;
			}
		}
		left = 0;
		for(i = 0; i < cl_nsub; i++) {
			if(cl_subs[i].state != CL_SENT)
				continue;
			rc = cl_read(st, cl, &cl_subs[i], &wait, err, errlen);
			if(rc < 0)
				return -1;
			if(rc > 0)
				cl_subs[i].state = CL_TODO;
		}
		if(split && cl_split(st) < 0) {
			af_rds_err(err, errlen, "out of memory");
			return -1;
		}
		for(i = 0; i < cl_nsub; i++)
			left += cl_subs[i].state != CL_DONE
					&& cl_subs[i].state != CL_SPLIT;
		if(!left)
			return 0;
		now = cl_mono_ms();
		if(now >= deadline)
			return -1;
		/* a lost master: the map asked again, resent at once; a pause
		 * from the second time on, or after a reply that says wait */
		trouble = wait ? trouble + 1 : 0;
		if(wait > 1 || trouble > 1)
			usleep((useconds_t)(deadline - now < CL_PAUSE_US / 1000
										? (deadline - now) * 1000
										: CL_PAUSE_US));
	}
	af_rds_err(err, errlen, "too many redirects");
	return -1;
}

/* ---- a batch ---- */

/* per op of the batch being run */
typedef struct cl_meta {
	int slot;  /* of its key; -1: not sent (invalid) */
	int bslot; /* WIN_HIT that may ban: the ban's slot, else -1 */
	int grp, bgrp; /* the groups of slot and bslot (cl_grp) */
	int stage, wave;
	int done;  /* the round that ran it (cl_round), 0: not run */
	uint32_t sent_n; /* the n it was sent with (WIN_HIT) */
} cl_meta_t;

static cl_meta_t *cl_meta;
static af_op_t *cl_saved;
static signed char *cl_code;
static int cl_cap;
/* the batch is placed per slot, not per master (after a sub-batch of
 * several slots could not run); the round being run */
static int cl_byslot, cl_round;

/* The group of slot: the ops of one group go in one sub-batch per
 * round. Its master (as the map says when the batch is placed), or the
 * slot itself (cl_byslot, or no master known). */
static int cl_grp(const rds_cluster_t *cl, int slot)
{
	if(!cl_byslot && cl->map[slot])
		return cl->map[slot] - 1;
	return RDS_CL_NODES + slot;
}

/* Whether op m's ban is set apart, after it (a ban key of another
 * group). */
static int cl_ban_apart(const cl_meta_t *m)
{
	return m->bslot >= 0 && m->bgrp != m->grp;
}

/* Grows the per-op arrays to n; 0, -1 out of memory. */
static int cl_room(int n)
{
	cl_meta_t *m;
	af_op_t *o;
	signed char *c;

	if(n <= cl_cap)
		return 0;
	m = realloc(cl_meta, (size_t)n * sizeof(*m));
	if(!m)
		return -1;
	cl_meta = m;
	o = realloc(cl_saved, (size_t)n * sizeof(*o));
	if(!o)
		return -1;
	cl_saved = o;
	c = realloc(cl_code, (size_t)n);
	if(!c)
		return -1;
	cl_code = c;
	cl_cap = n;
	return 0;
}

/* Whether WIN_HIT i adds its n: the ops of its if_new chain (all done)
 * counted their key as new (as the script's if_new). */
static int cl_if_new(const af_op_t *ops, int i)
{
	int j = i, r;

	while(ops[j].u.win.if_new > 0) {
		r = ops[j].u.win.if_new - 1;
		if(r >= j || ops[r].type != AF_OP_WIN_HIT || cl_meta[r].slot < 0
				|| ops[r].status != 0
				|| cl_meta[r].sent_n == 0
				|| ops[r].u.win.count != cl_meta[r].sent_n)
			return 0;
		j = r;
	}
	return 1;
}

/* Copies the outputs of the round's ops back into the batch (inputs
 * stay the caller's). */
static void cl_back(af_op_t *ops)
{
	const cl_sub_t *sub;
	af_op_t *op;
	int i, j;

	for(i = 0; i < cl_nsub; i++) {
		sub = &cl_subs[i];
		for(j = 0; j < sub->n && sub->state == CL_DONE; j++) {
			if(sub->orig[j] < 0)
				continue;
			cl_meta[sub->orig[j]].done = cl_round;
			op = &ops[sub->orig[j]];
			op->status = sub->ops[j].status;
			op->u = sub->ops[j].u;
			if(op->type == AF_OP_WIN_HIT) {
				const af_op_t *in = &cl_saved[sub->orig[j]];

				op->u.win.n = in->u.win.n;
				op->u.win.if_new = in->u.win.if_new;
				op->u.win.ban_threshold = in->u.win.ban_threshold;
				op->u.win.ban_key = in->u.win.ban_key;
				op->u.win.ban_key_len = in->u.win.ban_key_len;
			}
		}
	}
}

/*
 * Sets the bans of WIN_HITs of the last round that reached their
 * threshold with a ban key in another slot: per ban, BAN_GET (stops
 * when there is one) then BAN_SET, on the ban's slot. Returns 0, -1.
 */
static int cl_bans(af_store_redis_t *st, rds_cluster_t *cl,
		af_op_t *ops, int n, int stage, int wave, uint64_t now_ms,
		uint64_t deadline, char *err, size_t errlen)
{
	af_op_t g, b;
	cl_sub_t *sub;
	int i, any = 0;

	cl_reset();
	for(i = 0; i < n; i++) {
		const af_op_t *op = &ops[i];

		if(!cl_ban_apart(&cl_meta[i]) || cl_meta[i].done != cl_round
				|| cl_meta[i].stage != stage
				|| cl_meta[i].wave != wave || op->status != 0
				|| cl_meta[i].sent_n == 0
				|| op->u.win.count < op->u.win.ban_threshold)
			continue;
		memset(&g, 0, sizeof(g));
		g.type = AF_OP_BAN_GET;
		g.key = op->u.win.ban_key;
		g.key_len = op->u.win.ban_key_len;
		g.u.ban_get.stop = 1;
		memset(&b, 0, sizeof(b));
		b.type = AF_OP_BAN_SET;
		b.key = g.key;
		b.key_len = g.key_len;
		b.u.ban_set.ttl_s = op->u.win.ban_s;
		b.u.ban_set.reason = op->u.win.ban_reason;
		/* its own: a stop */
		sub = cl_sub_for(cl_meta[i].bgrp, cl_meta[i].bslot, 1);
		if(!sub || !cl_add(sub, &g, -1) || !cl_add(sub, &b, -2 - i)) {
			af_rds_err(err, errlen, "out of memory");
			return -1;
		}
		any = 1;
	}
	if(!any)
		return 0;
	/* orig -1 and -2 - i are not copied back: read here */
	for(i = 0; i < cl_nsub; i++)
		cl_subs[i].pregated = 0;
	if(cl_run(st, cl, now_ms, deadline, 0, err, errlen) < 0)
		return -1;
	for(i = 0; i < cl_nsub; i++) {
		int j;

		for(j = 0; j < cl_subs[i].n; j++)
			if(cl_subs[i].orig[j] <= -2 && cl_subs[i].ops[j].status == 0)
				ops[-2 - cl_subs[i].orig[j]].u.win.banned = 1;
	}
	return 0;
}

/* Whether the CONC_ADD at j is the first of its key and member among
 * the sub's ops before it (a duplicate adds nothing). */
static int cl_first_member(const cl_sub_t *sub, int j)
{
	const af_op_t *a = &sub->ops[j], *b;
	int k;

	for(k = 0; k < j; k++) {
		b = &sub->ops[k];
		if(b->type == AF_OP_CONC_ADD && b->key_len == a->key_len
				&& b->u.conc.member_len == a->u.conc.member_len
				&& (!a->key_len || memcmp(b->key, a->key, a->key_len) == 0)
				&& (!a->u.conc.member_len
						|| memcmp(b->u.conc.member, a->u.conc.member,
								   a->u.conc.member_len)
								   == 0))
			return 0;
	}
	return 1;
}

/* Whether op a and b are on the same key. */
static int cl_same_key(const af_op_t *a, const af_op_t *b)
{
	return a->key_len == b->key_len
		   && (!a->key_len || memcmp(a->key, b->key, a->key_len) == 0);
}

/*
 * The CONC_ADD group (valid, not stopped): see the file's comment. gated:
 * a gate went over (admit nothing). Returns 0, -1 with err.
 */
static int cl_conc(af_store_redis_t *st, rds_cluster_t *cl, af_op_t *ops,
		int n, int gated, uint64_t now_ms, uint64_t deadline, char *err,
		size_t errlen)
{
	af_op_t cnt, del;
	cl_sub_t *sub;
	int i, j, k, nsubs, refused = 0, added, members;

	cl_reset();
	for(i = 0; i < n; i++) {
		if(ops[i].type != AF_OP_CONC_ADD || cl_meta[i].slot < 0)
			continue;
		sub = cl_sub_for(cl_meta[i].grp, cl_meta[i].slot, 0);
		if(!sub || !cl_add(sub, &ops[i], i))
			goto oom;
	}
	if(!cl_nsub)
		return 0;
	for(i = 0; i < cl_nsub; i++)
		cl_subs[i].pregated = gated;
	if(cl_nsub > 1 && !gated) {
		/* the sets' counts before, to tell new members from refreshed */
		for(i = 0; i < cl_nsub; i++) {
			sub = &cl_subs[i];
			k = sub->n;
			for(j = 0; j < k; j++) {
				int x, seen = 0;

				for(x = 0; x < j; x++)
					seen |= cl_same_key(&sub->ops[x], &sub->ops[j]);
				if(seen)
					continue;
				memset(&cnt, 0, sizeof(cnt));
				cnt.type = AF_OP_CONC_COUNT;
				cnt.key = sub->ops[j].key;
				cnt.key_len = sub->ops[j].key_len;
				if(!cl_add(sub, &cnt, -1))
					goto oom;
			}
			/* the counts first: move them in front */
			for(j = 0; j < k; j++) {
				af_op_t t = sub->ops[0];
				int o = sub->orig[0];

				memmove(sub->ops, sub->ops + 1,
						(size_t)(sub->n - 1) * sizeof(*sub->ops));
				memmove(sub->orig, sub->orig + 1,
						(size_t)(sub->n - 1) * sizeof(*sub->orig));
				sub->ops[sub->n - 1] = t;
				sub->orig[sub->n - 1] = o;
			}
		}
	}
	if(cl_run(st, cl, now_ms, deadline, 1, err, errlen) < 0)
		return -1;
	for(i = 0, nsubs = 0; i < cl_nsub; i++) {
		nsubs += cl_subs[i].n > 0;
		for(j = 0; j < cl_subs[i].n; j++)
			if(cl_subs[i].ops[j].type == AF_OP_CONC_ADD
					&& !cl_subs[i].ops[j].u.conc.admitted)
				refused = 1;
	}
	cl_back(ops);
	if(nsubs == 1 || gated || !refused)
		return 0;
	/* undo the sub-batches that admitted: their new members leave
	 * again (no counts: one master's sub-batch split per slot, its
	 * members are left to age out) */
	for(i = 0; i < cl_nsub; i++) {
		sub = &cl_subs[i];
		sub->state = CL_DONE;
		for(j = 0; j < sub->n; j++) {
			const af_op_t *a = &sub->ops[j], *c = NULL;

			if(a->type != AF_OP_CONC_ADD || !a->u.conc.admitted)
				continue;
			sub->state = CL_TODO;
			for(k = 0; k < sub->n && !c; k++)
				if(sub->ops[k].type == AF_OP_CONC_COUNT
						&& cl_same_key(&sub->ops[k], a))
					c = &sub->ops[k];
			added = c ? (int)a->u.conc.count - (int)c->u.conc.count : -1;
			for(k = 0, members = 0; k < sub->n; k++)
				members += sub->ops[k].type == AF_OP_CONC_ADD
						   && cl_same_key(&sub->ops[k], a)
						   && cl_first_member(sub, k);
			for(k = 0; k < n; k++)
				if(ops[k].type == AF_OP_CONC_ADD && cl_same_key(&ops[k], a)) {
					ops[k].u.conc.admitted = 0;
					if(c)
						ops[k].u.conc.count = c->u.conc.count;
				}
			/* removed when every member was new (added == members);
			 * else a member that was there before would leave: all are
			 * left to age out (stricter, never over) */
			if(added == members && cl_first_member(sub, j)) {
				memset(&del, 0, sizeof(del));
				del.type = AF_OP_CONC_DEL;
				del.key = a->key;
				del.key_len = a->key_len;
				del.u.conc.member = a->u.conc.member;
				del.u.conc.member_len = a->u.conc.member_len;
				/* appended past n: read below, never copied back */
				if(!cl_add(sub, &del, -1))
					goto oom;
			}
		}
	}
	__atomic_add_fetch(&st->rollbacks, 1, __ATOMIC_RELAXED);
	/* keep only the CONC_DELs in the subs that undo */
	for(i = 0; i < cl_nsub; i++) {
		sub = &cl_subs[i];
		k = 0;
		for(j = 0; j < sub->n; j++) {
			if(sub->ops[j].type != AF_OP_CONC_DEL)
				continue;
			sub->ops[k] = sub->ops[j];
			sub->orig[k] = -1;
			k++;
		}
		sub->n = k;
		sub->pregated = 0;
		if(!k)
			sub->state = CL_DONE;
	}
	return cl_run(st, cl, now_ms, deadline, 1, err, errlen);
oom:
	af_rds_err(err, errlen, "out of memory");
	return -1;
}

/*
 * Places every op (again: the ops not run yet, cl_byslot set since):
 * its slot, group, stage and wave (see the file's comment). Returns the
 * number of stages.
 */
static int cl_place(const af_store_redis_t *st, const rds_cluster_t *cl,
		const af_op_t *ops, int n, int again)
{
	int i, j, p, stage = 0, w, stop = 0;

	for(i = 0; i < n; i++) {
		const af_op_t *op = &ops[i];
		cl_meta_t *m = &cl_meta[i];

		if(again && m->done)
			continue;
		if(!again) {
			m->slot = -1;
			m->bslot = -1;
			m->stage = stage;
			m->done = 0;
			m->sent_n = 0;
			if(cl_code[i] > 0)
				m->slot = cl_slot(st, cl_kind(op->type), op->key, op->key_len);
			/* a stage ends with the BAN_GETs that follow one that
			 * stops */
			stop |= op->type == AF_OP_BAN_GET && op->u.ban_get.stop;
			if(stop && i + 1 < n && ops[i + 1].type != AF_OP_BAN_GET) {
				stage++;
				stop = 0;
			}
			if(m->slot >= 0 && op->type == AF_OP_WIN_HIT
					&& op->u.win.ban_threshold)
				m->bslot = op->u.win.ban_key
								   ? cl_slot(st, "ban", op->u.win.ban_key,
											 op->u.win.ban_key_len)
								   : cl_slot(st, "ban", op->key, op->key_len);
		}
		m->wave = 0;
		m->grp = m->slot >= 0 ? cl_grp(cl, m->slot) : -1;
		m->bgrp = m->bslot >= 0 ? cl_grp(cl, m->bslot) : -1;
		if(m->slot < 0 || op->type == AF_OP_CONC_ADD)
			continue;
		w = 0;
		if(op->type == AF_OP_WIN_HIT && op->u.win.if_new > 0) {
			p = op->u.win.if_new - 1;
			if(cl_meta[p].stage == m->stage && cl_meta[p].slot >= 0
					&& !cl_meta[p].done)
				w = cl_meta[p].wave + (cl_meta[p].grp != m->grp);
		}
		for(j = 0; j < i; j++)
			if(cl_meta[j].grp == m->grp && cl_meta[j].stage == m->stage
					&& !cl_meta[j].done && ops[j].type != AF_OP_CONC_ADD
					&& cl_meta[j].wave > w)
				w = cl_meta[j].wave;
		m->wave = w;
	}
	return stage + 1;
}

/* The last wave of stage s. */
static int cl_last_wave(int n, int s)
{
	int i, w = 0;

	for(i = 0; i < n; i++)
		if(cl_meta[i].stage == s && !cl_meta[i].done && cl_meta[i].wave > w)
			w = cl_meta[i].wave;
	return w;
}

/* what goes along with a wave: the CONC_ADD group (grp: the group of
 * its sub-batch, -1: none; gated: a gate that ran before went over) and
 * the next stage's first ops of group next (-1: none) */
typedef struct cl_along {
	int grp;
	int gated;
	int next;
} cl_along_t;

/*
 * The group whose sub-batch can take the first ops of the stage after
 * stage with its last wave: the one of every stopping BAN_GET of the
 * stage not run yet (its script stops before them when a ban is found),
 * none of those run found one. -1 when there is none.
 */
static int cl_ahead(const af_op_t *ops, int n, int stage)
{
	int i, g = -1;

	for(i = 0; i < n; i++) {
		const cl_meta_t *m = &cl_meta[i];

		if(m->slot < 0 || m->stage != stage || ops[i].type != AF_OP_BAN_GET
				|| !ops[i].u.ban_get.stop)
			continue;
		if(m->done ? ops[i].status == 0 && ops[i].u.ban_get.found
				   : g >= 0 && m->grp != g)
			return -1;
		if(!m->done)
			g = m->grp;
	}
	return g;
}

/* Whether op i (of the stage after the wave's, in the group taking
 * them) can go with the wave in sub: of the stage's first wave, no ban
 * set apart, not a stopping BAN_GET, its if_new run or in sub. */
static int cl_movable(const af_op_t *ops, int i, const cl_sub_t *sub)
{
	const cl_meta_t *m = &cl_meta[i];
	int p, j;

	if(m->wave || cl_ban_apart(m)
			|| (ops[i].type == AF_OP_BAN_GET && ops[i].u.ban_get.stop))
		return 0;
	if(ops[i].type != AF_OP_WIN_HIT || ops[i].u.win.if_new <= 0)
		return 1;
	p = ops[i].u.win.if_new - 1;
	if(cl_meta[p].done)
		return 1;
	for(j = 0; sub && j < sub->n; j++)
		if(sub->orig[j] == p)
			return 1;
	return 0;
}

/* Whether a WIN_HIT that ran (or, any: that may run) is over its gate. */
static int cl_gated(const af_op_t *ops, int n, int pregated, int any)
{
	int i;

	for(i = 0; i < n && !pregated; i++)
		if(ops[i].type == AF_OP_WIN_HIT && cl_meta[i].slot >= 0
				&& (any || cl_meta[i].done) && ops[i].status == 0
				&& ops[i].u.win.gate > 0
				&& ops[i].u.win.count > ops[i].u.win.gate)
			pregated = 1;
	return pregated;
}

/*
 * Whether the CONC_ADD group can go with the last wave (stage, wave)
 * and keep its meaning: all of it in one group G (all-or-nothing in one
 * script), no BAN_GET of the stage that stops, and every WIN_HIT of the
 * wave that has a gate in G (the script sees its count). Sets a->grp
 * (G, or -1) and a->gated.
 */
static void cl_along(const af_op_t *ops, int n, int stage, int wave,
		int pregated, cl_along_t *a)
{
	int i, g = -1;

	a->grp = -1;
	for(i = 0; i < n; i++) {
		const cl_meta_t *m = &cl_meta[i];

		if(m->slot < 0 || m->done)
			continue;
		if(ops[i].type == AF_OP_CONC_ADD) {
			if(g >= 0 && m->grp != g)
				return;
			g = m->grp;
		}
	}
	for(i = 0; g >= 0 && i < n; i++) {
		const cl_meta_t *m = &cl_meta[i];

		if(m->slot < 0 || m->done || m->stage != stage)
			continue;
		if(ops[i].type == AF_OP_BAN_GET && ops[i].u.ban_get.stop)
			return;
		if(ops[i].type == AF_OP_WIN_HIT && ops[i].u.win.gate > 0
				&& m->wave == wave && m->grp != g)
			return;
	}
	a->grp = g;
	a->gated = cl_gated(ops, n, pregated, 0);
}

/*
 * Runs one wave of one stage: the ops placed there and not run yet, one
 * sub-batch per group (and the CONC_ADD group along, when a says so). Returns 0, 1 when a sub-batch of several slots
 * could not run (its ops not run: place them again per slot), -1 with
 * err.
 */
static int cl_wave(af_store_redis_t *st, rds_cluster_t *cl,
		af_op_t *ops, int n, int stage, int wave, const cl_along_t *along,
		uint64_t now_ms, uint64_t deadline, char *err, size_t errlen)
{
	cl_sub_t *sub, *ahead = NULL;
	af_op_t *c;
	int i, j, p, any = 0, split = 0, next = along->next;

	cl_reset();
	cl_round++;
	for(i = 0; i < n; i++) {
		cl_meta_t *m = &cl_meta[i];

		if(m->slot < 0 || m->done || ops[i].type == AF_OP_CONC_ADD)
			continue;
		if(m->stage != stage || m->wave != wave) {
			/* the next stage's first ops of the group that stops: a
			 * prefix, so that they keep their order */
			if(next < 0 || m->stage != stage + 1 || m->grp != next)
				continue;
			for(j = 0, ahead = NULL; j < cl_nsub && !ahead; j++)
				if(cl_subs[j].grp == next)
					ahead = &cl_subs[j];
			if(!cl_movable(ops, i, ahead)) {
				next = -1;
				continue;
			}
		}
		sub = cl_sub_for(m->grp, m->slot, 0);
		if(!sub || !(c = cl_add(sub, &ops[i], i))) {
			af_rds_err(err, errlen, "out of memory");
			return -1;
		}
		any = 1;
		if(c->type != AF_OP_WIN_HIT)
			continue;
		if(cl_ban_apart(m)) {
			c->u.win.ban_threshold = 0;
			c->u.win.ban_key = NULL;
			c->u.win.ban_key_len = 0;
		}
		p = c->u.win.if_new - 1;
		if(p >= 0) {
			/* in this sub-batch: its index there; else decided here */
			c->u.win.if_new = 0;
			for(j = 0; j < sub->n - 1; j++)
				if(sub->orig[j] == p)
					c->u.win.if_new = j + 1;
			if(!c->u.win.if_new && !cl_if_new(ops, i))
				c->u.win.n = 0;
		}
		m->sent_n = c->u.win.n;
	}
	for(i = 0; along->grp >= 0 && i < n; i++) {
		if(ops[i].type != AF_OP_CONC_ADD || cl_meta[i].slot < 0)
			continue;
		sub = cl_sub_for(along->grp, cl_meta[i].slot, 0);
		if(!sub || !cl_add(sub, &ops[i], i)) {
			af_rds_err(err, errlen, "out of memory");
			return -1;
		}
		sub->pregated = along->gated;
		any = 1;
	}
	if(!any)
		return 0;
	if(cl_run(st, cl, now_ms, deadline, 0, err, errlen) < 0)
		return -1;
	cl_back(ops);
	for(i = 0; i < cl_nsub; i++)
		split |= cl_subs[i].state == CL_SPLIT;
	/* an if_new decided in the script: the n it added */
	for(i = 0; i < n; i++)
		if(cl_meta[i].done == cl_round && ops[i].type == AF_OP_WIN_HIT
				&& ops[i].u.win.if_new > 0 && cl_meta[i].sent_n
				&& !cl_if_new(ops, i))
			cl_meta[i].sent_n = 0;
	if(cl_bans(st, cl, ops, n, stage, wave, now_ms, deadline, err, errlen)
			< 0)
		return -1;
	return split;
}

/*
 * A batch whose ops (and ban keys) are all on one master (as the map
 * says) is one sub-batch: one FCALL as on a single server, the same
 * answers. Returns its result (0, -1), 1 when the batch spans masters
 * (or needs no server), 2 when its slots could not run together on the
 * node (nothing run), -2 with err when the cluster could not be used.
 */
static int cl_one_master(af_store_redis_t *st, rds_cluster_t *cl,
		af_op_t *ops, int n, uint64_t now_ms, uint64_t deadline, char *err,
		size_t errlen)
{
	cl_sub_t *sub;
	int i, grp = -1, slot = -1;

	for(i = 0; i < n; i++) {
		if(cl_meta[i].slot < 0)
			continue;
		if((grp >= 0 && cl_meta[i].grp != grp) || cl_ban_apart(&cl_meta[i]))
			return 1;
		grp = cl_meta[i].grp;
		if(slot < 0)
			slot = cl_meta[i].slot;
	}
	if(slot < 0)
		return 1;
	cl_reset();
	sub = cl_sub_for(grp, slot, 1);
	for(i = 0; sub && i < n; i++)
		if(!cl_add(sub, &ops[i], i))
			sub = NULL;
	if(!sub) {
		af_rds_err(err, errlen, "out of memory");
		return -2;
	}
	if(cl_run(st, cl, now_ms, deadline, 0, err, errlen) < 0)
		return -2;
	if(sub->state == CL_SPLIT)
		return 2;
	memcpy(ops, sub->ops, (size_t)n * sizeof(*ops));
	return sub->rc;
}

/*
 * exec on a Redis Cluster: see the file's comment. Returns as
 * af_rds_exec.
 */
int af_rds_cl_exec(af_store_redis_t *st, af_op_t *ops, int n,
		uint64_t now_ms)
{
	rds_cluster_t *cl = NULL;
	rds_conn_t *slot = NULL;
	rds_guard_t g;
	char err[256];
	uint64_t deadline = cl_mono_ms() + st->cfg.command_timeout_ms;
	int group_bad, pregated, nstages, s, w, maxw, i, stop = -1, rc;
	int conc_done;
	cl_along_t along;

	/* a WIN_MULTI (a caller that bypassed af_store_exec's expansion):
	 * as WIN_HITs, which the phases know how to place */
	for(i = 0; i < n; i++)
		if(ops[i].type == AF_OP_WIN_MULTI)
			return af_store_exec_expand(&st->base, ops, n, now_ms);
	af_rds_enter(&g, 1);
	if(cl_room(n) < 0) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	memcpy(cl_saved, ops, (size_t)n * sizeof(*ops));
	af_rds_check(ops, n, cl_code, &group_bad, &pregated);
	slot = af_rds_get(st, err, sizeof(err));
	if(!slot)
		goto unavailable;
	cl = slot->cl;
	cl_byslot = 0;
	nstages = cl_place(st, cl, ops, n, 0);
	rc = cl_one_master(st, cl, ops, n, now_ms, deadline, err, sizeof(err));
	if(rc == -2)
		goto fail;
	if(rc == 2) {
		cl_byslot = 1;
		nstages = cl_place(st, cl, ops, n, 0);
	} else if(rc != 1) {
		goto done;
	}
	conc_done = group_bad;
	for(s = 0; s < nstages && stop < 0; s++) {
		maxw = cl_last_wave(n, s);
		for(w = 0; w <= maxw; w++) {
			along.grp = -1;
			along.gated = 0;
			along.next = -1;
			if(!conc_done && s == nstages - 1 && w == maxw)
				cl_along(ops, n, s, w, pregated, &along);
			if(s < nstages - 1 && w == maxw)
				along.next = cl_ahead(ops, n, s);
			rc = cl_wave(st, cl, ops, n, s, w, &along, now_ms, deadline,
					err, sizeof(err));
			if(rc < 0)
				goto fail;
			for(i = 0; along.grp >= 0 && i < n; i++)
				if(ops[i].type == AF_OP_CONC_ADD && cl_meta[i].slot >= 0)
					conc_done = cl_meta[i].done != 0;
			if(rc > 0) {
				/* the ops not run yet, per slot, from the stage's start */
				if(cl_byslot) {
					snprintf(err, sizeof(err), "a slot's call was refused");
					goto fail;
				}
				cl_byslot = 1;
				cl_place(st, cl, ops, n, 1);
				maxw = cl_last_wave(n, s);
				w = -1;
			}
		}
		for(i = 0; i < n && stop < 0; i++)
			if(cl_meta[i].stage == s && ops[i].type == AF_OP_BAN_GET
					&& cl_meta[i].slot >= 0 && ops[i].u.ban_get.stop
					&& ops[i].status == 0 && ops[i].u.ban_get.found)
				stop = i;
	}
	if(stop < 0 && !conc_done
			&& cl_conc(st, cl, ops, n, cl_gated(ops, n, pregated, 1), now_ms,
					   deadline, err, sizeof(err))
					< 0)
		goto fail;
	/* what ran after a stop is as if it had not: left as it was */
	for(i = stop + 1; stop >= 0 && i < n; i++)
		if(ops[i].type != AF_OP_CONC_ADD)
			ops[i] = cl_saved[i];
	rc = af_rds_finish(st, ops, n, cl_code, stop >= 0 ? stop + 1 : n,
			stop >= 0, group_bad);
done:
	if(slot->down)
		AF_NOTICE("store: redis cluster available again\n");
	slot->down = 0;
	af_rds_leave(&g, 1);
	return rc;
fail:
	if(cl)
		cl->stale = 1;
	if(slot)
		af_rds_fail(slot, err);
unavailable:
	af_rds_leave(&g, 1);
	return af_rds_unavailable(st, ops, n);
}

/* ---- the whole cluster: ping, publish, lists ---- */

/*
 * Calls fn on the connection of every master of st's cluster (the map
 * asked again first). Returns 0, -1 when the map could not be had, a
 * slot has no master or fn failed on one (logged; the others are still
 * called). Lock: none held on entry; fn runs with rds_mx held and must
 * not take it.
 */
int af_rds_cl_each_master(af_store_redis_t *st, rds_node_fn fn, void *arg)
{
	unsigned char seen[RDS_CL_NODES];
	rds_conn_t *slot;
	rds_cluster_t *cl;
	rds_guard_t g;
	char why[256];
	int i, k, rc = 0;

	af_rds_enter(&g, 1);
	slot = af_rds_get(st, why, sizeof(why));
	if(!slot) {
		af_rds_leave(&g, 1);
		return -1;
	}
	cl = slot->cl;
	if(cl_refresh(st, cl, why, sizeof(why)) < 0) {
		af_rds_fail(slot, why);
		af_rds_leave(&g, 1);
		return -1;
	}
	memset(seen, 0, sizeof(seen));
	for(i = 0; i < RDS_CL_SLOTS; i++) {
		if(!cl->map[i]) {
			snprintf(why, sizeof(why), "slot %d has no master", i);
			af_rds_fail(slot, why);
			rc = -1;
			break;
		}
		k = cl->map[i] - 1;
		if(seen[k])
			continue;
		seen[k] = 1;
		if(!cl_conn(st, cl, k, why, sizeof(why))
				|| fn(st, &cl->node[k].conn, arg, why, sizeof(why)) < 0) {
			cl_close(&cl->node[k]);
			cl->stale = 1;
			af_rds_fail(slot, why);
			rc = -1;
		}
	}
	af_rds_leave(&g, 1);
	return rc;
}

/* each_master: PING. */
static int cl_ping_one(af_store_redis_t *st, rds_conn_t *conn, void *arg,
		char *why, size_t whylen)
{
	redisReply *r = redisCommand(conn->c, "PING");
	int rc = af_rds_is(r, "PONG") ? 0 : -1;

	if(rc < 0)
		af_rds_err(why, whylen, "PING: %s", af_rds_why(conn->c, r));
	if(r)
		freeReplyObject(r);
	return rc;
}

/* The cluster answers: every slot has a master and every master PINGs.
 * 0, -1 with err. */
int af_rds_cl_ping(af_store_redis_t *st, char *err, size_t errlen)
{
	if(af_rds_cl_each_master(st, cl_ping_one, NULL) < 0) {
		af_rds_err(err, errlen, "the redis cluster is not usable");
		return -1;
	}
	return 0;
}

/*
 * PUBLISHes msg on chan through one master (Redis Cluster forwards it to
 * every node's subscribers): the one of the channel's slot, another
 * when that one fails. Returns the receivers on that node, -1.
 */
int af_rds_cl_publish(af_store_redis_t *st, const char *chan,
		const char *msg, size_t len)
{
	rds_conn_t *slot;
	rds_cluster_t *cl;
	redisContext *c;
	redisReply *r;
	rds_guard_t g;
	char why[256];
	int k, tries, rc = -1;

	af_rds_enter(&g, 1);
	slot = af_rds_get(st, why, sizeof(why));
	for(tries = 0; slot && tries < 2 && rc < 0; tries++) {
		cl = slot->cl;
		if(cl->stale && cl_refresh(st, cl, why, sizeof(why)) < 0)
			break;
		k = cl->map[af_rds_key_slot(chan, strlen(chan))] - 1;
		if(k < 0)
			k = 0;
		c = k < cl->n ? cl_conn(st, cl, k, why, sizeof(why)) : NULL;
		if(!c) {
			cl->stale = 1;
			continue;
		}
		r = redisCommand(c, "PUBLISH %s %b", chan, msg ? msg : "",
				msg ? len : 0);
		if(r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
			rc = r->integer > INT_MAX ? INT_MAX : (int)r->integer;
		} else {
			snprintf(why, sizeof(why), "PUBLISH: %s", af_rds_why(c, r));
			cl_close(&cl->node[k]);
			cl->stale = 1;
		}
		if(r)
			freeReplyObject(r);
	}
	if(slot && rc < 0)
		af_rds_fail(slot, why);
	af_rds_leave(&g, 1);
	return rc;
}

/*
 * Calls fn on this process's connection to st's server, or on every
 * master of a cluster (af_rds_cl_each_master). Returns 0, -1 when a
 * server could not be used (the connection dropped, logged).
 */
int af_rds_each_server(af_store_redis_t *st, rds_node_fn fn, void *arg)
{
	rds_conn_t *slot;
	rds_guard_t g;
	char why[256];
	int rc = -1;

	if(st->cfg.n_seeds > 0)
		return af_rds_cl_each_master(st, fn, arg);
	af_rds_enter(&g, 1);
	slot = af_rds_get(st, why, sizeof(why));
	if(slot) {
		rc = fn(st, slot, arg, why, sizeof(why));
		if(rc < 0)
			af_rds_fail(slot, why);
	}
	af_rds_leave(&g, 1);
	return rc;
}
