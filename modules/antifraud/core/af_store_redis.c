/*
 * antifraud - the Redis backend of the store (cluster mode).
 *
 * One af_store_exec() call is one EVALSHA of one Lua script: the ops are
 * checked in C (the same checks as the shm backend), serialized into
 * KEYS and ARGV with the caller's clock (now_ms: the nodes' clocks, not
 * the server's, so that every node and the tests agree on slices and
 * expiries), run in order by the script, which answers with each op's
 * outputs. The script mirrors af_store_shm.c step by step, so both
 * backends give the same results op by op (test_store_redis.c runs
 * random batches against both).
 *
 * Keys, each with a TTL set as expiry - now_ms (PEXPIRE, not PEXPIREAT:
 * the server's clock need not agree with the nodes', and injected clocks
 * in tests work):
 *
 *   <prefix>ban:{s}   hash s (since), u (until), h (hits), r (reason);
 *                     expires at until
 *   <prefix>win:{s}   hash w (window_s), l (newest slice), e (expiry),
 *                     and one field per slice number -> count; expires
 *                     when its newest slice leaves the window
 *   <prefix>fig:{s}   hash w (window_s), l (newest slice), e (expiry),
 *                     and per slice number its AF_FIG_N counts joined
 *                     by ','; expires when its newest slice leaves the
 *                     window
 *   <prefix>hist:{s}  string: 20-digit expiry, then up to AF_HIST_MAX
 *                     records of 43 bytes (family, 16 address bytes,
 *                     country, continent, 20-digit ts_ms), newest first;
 *                     expires ttl_s after the newest push (a read_only
 *                     push only reads it)
 *   <prefix>conc:{s}  zset member -> expiry ms; expires with its latest
 *                     member (an empty zset is gone at once)
 *   <prefix>bans      zset subject -> until, to list the bans
 *   <prefix>concs     zset subject -> latest member expiry, to list sets
 *
 * Entries also expire logically: each record carries its expiry and the
 * script treats an expired one as absent (and drops it) exactly when the
 * shm backend would, whatever Redis has reclaimed yet; Redis's own TTLs
 * only bound memory. Expired index entries are pruned by the scripts.
 *
 * Connections are per process (and per store): a small table of
 * contexts, each with the pid that made it; a process that finds one
 * made by its parent closes its copy and connects again. A failure
 * (connect, timeout, I/O, an error reply such as -READONLY, -LOADING,
 * -MASTERDOWN or -BUSY, a reply of the wrong shape) drops the connection
 * and fails the whole call with AF_STORE_UNAVAILABLE; the next call
 * connects again (through the sentinels, asked in turn, when configured;
 * the address they give must answer ROLE as a master). The only retry
 * within a call is EVALSHA after -NOSCRIPT (SCRIPT LOAD, then once more).
 * A mutex serializes the threads of a process on the table.
 *
 * This file holds the store's ops; the connections, the batch encoding
 * and decoding, pub/sub, URLs and the scripts live beside it (see
 * af_store_redis_int.h).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <hiredis/hiredis.h>
#include "af_host.h"
#include "af_store_redis_int.h"

/*
 * ban_list: calls cb for every live ban (key: the whole subject, even
 * when longer than AF_KEY_MAX). The bans are read in one round trip and
 * cb runs without any lock held (it may use the store). Returns 0, -1
 * when the server could not be used.
 */
static int rds_ban_list(af_store_t *s, af_ban_cb cb, void *arg,
		uint64_t now_ms)
{
	af_store_redis_t *st = (af_store_redis_t *)s;
	redisReply *r;
	af_ban_t ban;
	rds_fld_t e[4];
	size_t i, j;
	int rc = 0;

	if(st->cfg.n_seeds > 0)
		return af_rds_cl_ban_list(st, cb, arg, now_ms);
	r = af_rds_list(st, 'b', NULL, 0, now_ms);
	if(!r)
		return -1;
	for(i = 0; i + 5 <= r->elements; i += 5) {
		memset(&ban, 0, sizeof(ban));
		for(j = 0; j < 4; j++)
			af_rds_field(r->element[i + 1 + j], &e[j]);
		if(r->element[i]->type != REDIS_REPLY_STRING || af_rds_field_ban(e, &ban) < 0) {
			rc = -1;
			break;
		}
		if(cb(r->element[i]->str, r->element[i]->len, &ban, arg))
			break;
	}
	freeReplyObject(r);
	return rc;
}

/*
 * conc_list: calls cb for every live set whose key (the whole subject)
 * starts with prefix, with its count; sets are pruned on the way. cb runs
 * without any lock held. Returns 0, -1 when prefix is NULL with a length
 * or the server could not be used.
 */
static int rds_conc_list(af_store_t *s, const char *prefix,
		size_t prefix_len, af_conc_cb cb, void *arg, uint64_t now_ms)
{
	af_store_redis_t *st = (af_store_redis_t *)s;
	redisReply *r;
	rds_fld_t f;
	long long c;
	size_t i;
	int rc = 0;

	if(prefix == NULL && prefix_len)
		return -1;
	if(st->cfg.n_seeds > 0)
		return af_rds_cl_conc_list(st, prefix, prefix_len, cb, arg, now_ms);
	r = af_rds_list(st, 'c', prefix, prefix_len, now_ms);
	if(!r)
		return -1;
	for(i = 0; i + 2 <= r->elements; i += 2) {
		af_rds_field(r->element[i + 1], &f);
		if(r->element[i]->type != REDIS_REPLY_STRING
				|| af_rds_field_range(&f, 1, UINT32_MAX, &c) < 0) {
			rc = -1;
			break;
		}
		if(cb(r->element[i]->str, r->element[i]->len, (uint32_t)c, arg))
			break;
	}
	freeReplyObject(r);
	return rc;
}

#define RDS_FORGET_COUNT "200"    /* keys a SCAN looks at per call */
#define RDS_FORGET_CALLS 100000   /* SCAN calls per pattern at most */

/* Appends s[0..len) to buf at *n with the glob specials escaped; 0, -1
 * when it does not fit. */
static int rds_glob_escape(char *buf, size_t size, size_t *n, const char *s,
		size_t len)
{
	size_t i;

	for(i = 0; i < len; i++) {
		if(*n + 2 >= size)
			return -1;
		if(s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == ']'
				|| s[i] == '\\')
			buf[(*n)++] = '\\';
		buf[(*n)++] = s[i];
	}
	buf[*n] = '\0';
	return 0;
}

/*
 * Removes the keys of one kind matching pattern pat (the whole Redis key)
 * on connection slot: SCAN ... MATCH, then UNLINK of each page's keys (a
 * ban also leaves the ban index). Returns 0, -1 with why set.
 */
static int rds_forget_scan(af_store_redis_t *st, rds_conn_t *slot,
		const char *pat, int ban, uint64_t *removed, char *why,
		size_t whylen)
{
	char cursor[32] = "0", index[sizeof(st->cfg.prefix) + 8];
	const char **argv = NULL;
	size_t *argl = NULL, i, subj;
	redisReply *r, *u, *keys;
	long calls = 0;
	int rc = -1;

	snprintf(index, sizeof(index), "%sbans", st->cfg.prefix);
	subj = st->plen + sizeof("ban:{") - 1;
	do {
		r = redisCommand(slot->c, "SCAN %s MATCH %s COUNT " RDS_FORGET_COUNT,
				cursor, pat);
		if(!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2
				|| r->element[0]->type != REDIS_REPLY_STRING
				|| r->element[0]->len >= sizeof(cursor)
				|| r->element[1]->type != REDIS_REPLY_ARRAY) {
			snprintf(why, whylen, "SCAN: %s",
					af_rds_why(slot->c, r));
			if(r)
				freeReplyObject(r);
			goto done;
		}
		memcpy(cursor, r->element[0]->str, r->element[0]->len);
		cursor[r->element[0]->len] = '\0';
		keys = r->element[1];
		if(keys->elements) {
			free(argv);
			free(argl);
			argv = malloc((keys->elements + 1) * sizeof(*argv));
			argl = malloc((keys->elements + 1) * sizeof(*argl));
			if(!argv || !argl) {
				freeReplyObject(r);
				snprintf(why, whylen, "out of memory");
				goto done;
			}
			argv[0] = "UNLINK";
			argl[0] = 6;
			for(i = 0; i < keys->elements; i++) {
				argv[i + 1] = keys->element[i]->str ? keys->element[i]->str
													: "";
				argl[i + 1] = keys->element[i]->len;
			}
			u = redisCommandArgv(slot->c, (int)keys->elements + 1, argv, argl);
			if(!u || u->type != REDIS_REPLY_INTEGER) {
				snprintf(why, whylen, "UNLINK: %s",
						af_rds_why(slot->c, u));
				if(u)
					freeReplyObject(u);
				freeReplyObject(r);
				goto done;
			}
			if(removed)
				*removed += (uint64_t)u->integer;
			freeReplyObject(u);
			for(i = 0; ban && i < keys->elements; i++) {
				if(keys->element[i]->len <= subj)
					continue;
				u = redisCommand(slot->c, "ZREM %s %b", index,
						keys->element[i]->str + subj,
						keys->element[i]->len - subj - 1);
				if(u)
					freeReplyObject(u);
			}
		}
		freeReplyObject(r);
	} while(strcmp(cursor, "0") != 0 && ++calls < RDS_FORGET_CALLS);
	rc = 0;
done:
	free(argv);
	free(argl);
	return rc;
}

/* what forget removes, for rds_forget_on */
typedef struct rds_forget_arg {
	const af_forget_pat_t *pats;
	int n;
	uint64_t *removed;
} rds_forget_arg_t;

/*
 * Removes the keys of the patterns of a (rds_forget_arg_t) on one
 * connection (the server, or one master of a cluster). Returns 0, -1
 * with why.
 */
static int rds_forget_on(af_store_redis_t *st, rds_conn_t *slot, void *a,
		char *why, size_t whylen)
{
	static const struct {
		unsigned kind;
		const char *name;
	} kinds[] = {{AF_FORGET_BAN, "ban"}, {AF_FORGET_WIN, "win"},
			{AF_FORGET_HIST, "hist"}};
	const rds_forget_arg_t *fa = a;
	const af_forget_pat_t *pats = fa->pats;
	char pat[AF_KEY_MAX * 2 + 128];
	size_t len;
	int i, k;

	for(i = 0; i < fa->n; i++) {
		for(k = 0; k < 3; k++) {
			if(!(pats[i].kinds & kinds[k].kind))
				continue;
			len = 0;
			if(rds_glob_escape(pat, sizeof(pat), &len, st->cfg.prefix,
					   st->plen)
					< 0
					|| strlen(pats[i].glob) + len + 16 >= sizeof(pat)) {
				snprintf(why, whylen, "forget: pattern too long");
				return -1;
			}
			len += (size_t)snprintf(pat + len, sizeof(pat) - len, "%s:{%s}",
					kinds[k].name, pats[i].glob);
			if(rds_forget_scan(st, slot, pat, kinds[k].kind == AF_FORGET_BAN,
					   fa->removed, why, whylen)
					< 0)
				return -1;
		}
	}
	return 0;
}

/*
 * forget: for each pattern and each of its kinds, the Redis keys
 * <prefix><kind>:{<glob>} are found with SCAN (bounded; on every master
 * of a cluster) and unlinked. Returns 0, -1 when the server could not be
 * used (some keys may be gone). Lock: none held on entry.
 */
static int rds_forget(af_store_t *s, const af_forget_pat_t *pats, int n,
		uint64_t now_ms, uint64_t *removed)
{
	af_store_redis_t *st = (af_store_redis_t *)s;
	rds_forget_arg_t fa = {pats, n, removed};
	char why[256];
	rds_conn_t *slot;
	rds_guard_t g;
	int rc = -1;

	if(st->cfg.n_seeds > 0) {
		rc = af_rds_cl_each_master(st, rds_forget_on, &fa);
		goto counted;
	}
	af_rds_enter(&g, 1);
	slot = af_rds_get(st, why, sizeof(why));
	if(slot) {
		rc = rds_forget_on(st, slot, &fa, why, sizeof(why));
		if(rc < 0)
			af_rds_fail(slot, why);
	}
	af_rds_leave(&g, 1);
counted:
	if(rc < 0)
		__atomic_add_fetch(&st->failures, 1, __ATOMIC_RELAXED);
	return rc;
}

/* gc: nothing to do, every key has a TTL and the scripts prune. */
static void rds_gc(af_store_t *s, uint64_t now_ms, unsigned budget)
{
}

/* The unsigned value of "name:" in an INFO reply, 0 when absent. */
static uint64_t rds_info_field(const char *info, const char *name)
{
	size_t nl = strlen(name);
	const char *p = info;

	while(p && *p) {
		if(strncmp(p, name, nl) == 0 && p[nl] == ':')
			return strtoull(p + nl + 1, NULL, 10);
		p = strchr(p, '\n');
		if(p)
			p++;
	}
	return 0;
}

/* Adds one server's DBSIZE and INFO stats figures to out (arg); 0, -1
 * with why. */
static int rds_stats_on(af_store_redis_t *st, rds_conn_t *slot, void *arg,
		char *why, size_t whylen)
{
	af_store_stats_t *out = arg;
	redisReply *r;
	void *rv;
	int ok = 0;

	redisAppendCommand(slot->c, "DBSIZE");
	redisAppendCommand(slot->c, "INFO stats");
	if(redisGetReply(slot->c, &rv) == REDIS_OK) {
		r = rv;
		if(r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
			out->entries += (uint64_t)r->integer;
			ok++;
		}
		freeReplyObject(r);
		if(redisGetReply(slot->c, &rv) == REDIS_OK) {
			r = rv;
			if(r->type == REDIS_REPLY_STRING) {
				out->evictions += rds_info_field(r->str, "evicted_keys");
				out->expired += rds_info_field(r->str, "expired_keys");
				ok++;
			}
			freeReplyObject(r);
		}
	}
	if(ok != 2) {
		snprintf(why, whylen, "stats: %s",
				slot->c->err ? slot->c->errstr : "unexpected reply");
		return -1;
	}
	return 0;
}

/*
 * stats: entries are the keys of the db (DBSIZE: give the store a db of
 * its own; on a cluster, summed over the masters), evictions and expired
 * Redis's evicted_keys and expired_keys (INFO stats, server-wide),
 * capacity 0 (bounded by Redis's maxmemory), failures this store's (all
 * processes). One round trip per server; the server's figures are 0
 * when it cannot be reached.
 */
static void rds_stats(af_store_t *s, af_store_stats_t *out)
{
	rds_guard_t g;
	af_store_redis_t *st = (af_store_redis_t *)s;
	rds_conn_t *slot;
	char err[256];

	memset(out, 0, sizeof(*out));
	if(st->cfg.n_seeds > 0) {
		af_rds_cl_each_master(st, rds_stats_on, out);
	} else {
		af_rds_enter(&g, 1);
		slot = af_rds_get(st, err, sizeof(err));
		if(slot && rds_stats_on(st, slot, out, err, sizeof(err)) < 0)
			af_rds_fail(slot, err);
		af_rds_leave(&g, 1);
	}
	out->failures = __atomic_load_n(&st->failures, __ATOMIC_RELAXED);
}

/* The CONC_ADD groups admitted on some slots of a cluster and undone
 * because another slot refused (all processes). */
uint64_t af_store_redis_rollbacks(af_store_t *s)
{
	return __atomic_load_n(&((af_store_redis_t *)s)->rollbacks,
			__ATOMIC_RELAXED);
}

static void rds_destroy(af_store_t *s)
{
	af_store_redis_t *st = (af_store_redis_t *)s;

	if(!st)
		return;
	af_rds_forget(st);
	af_host->shm_free(st);
}

static const af_store_ops_t rds_ops = {
	.name = "redis",
	.exec = af_rds_exec,
	.ban_list = rds_ban_list,
	.conc_list = rds_conc_list,
	.forget = rds_forget,
	.gc = rds_gc,
	.stats = rds_stats,
	.destroy = rds_destroy,
};

/*
 * Creates a Redis store for cfg (copied into af_host->shm_alloc memory):
 * timeouts of 0 become 1000 ms (connect) and 250 ms (command), an empty
 * prefix "af:". Does not connect. Returns NULL when cfg is NULL or out of
 * memory.
 */
af_store_t *af_store_redis_new(const af_redis_cfg_t *cfg)
{
	af_store_redis_t *st;
	uint64_t id = 0;

	if(!cfg)
		return NULL;
	st = af_host->shm_alloc(sizeof(*st));
	if(!st) {
		AF_ERR("store: out of shared memory (%zu bytes)\n", sizeof(*st));
		return NULL;
	}
	memset(st, 0, sizeof(*st));
	st->base.ops = &rds_ops;
	st->cfg = *cfg;
	st->cfg.host[sizeof(st->cfg.host) - 1] = '\0';
	st->cfg.unix_path[sizeof(st->cfg.unix_path) - 1] = '\0';
	st->cfg.username[sizeof(st->cfg.username) - 1] = '\0';
	st->cfg.password[sizeof(st->cfg.password) - 1] = '\0';
	st->cfg.master_name[sizeof(st->cfg.master_name) - 1] = '\0';
	st->cfg.prefix[sizeof(st->cfg.prefix) - 1] = '\0';
	if(st->cfg.n_sentinels < 0)
		st->cfg.n_sentinels = 0;
	if(st->cfg.n_sentinels > AF_REDIS_SENTINELS_MAX)
		st->cfg.n_sentinels = AF_REDIS_SENTINELS_MAX;
	if(!st->cfg.prefix[0])
		strcpy(st->cfg.prefix, "af:");
	if(!st->cfg.connect_timeout_ms)
		st->cfg.connect_timeout_ms = RDS_DEF_CONNECT_MS;
	if(!st->cfg.command_timeout_ms)
		st->cfg.command_timeout_ms = RDS_DEF_COMMAND_MS;
	st->plen = strlen(st->cfg.prefix);
	while(id == 0) {
		if(getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
			id = af_now_ms() ^ (uint64_t)(uintptr_t)st ^ (uint64_t)getpid();
	}
	st->id = id;
	af_rds_atfork_once();
	return &st->base;
}
