/*
 * antifraud - the Redis backend of the store (cluster mode).
 *
 * One af_store_exec() call is one FCALL of one Lua function: the ops are
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
 * in tests work), all <prefix><layout><kind>:{<subject>} (RDS_LAYOUT,
 * "v2:"; every key of one subject in the slot of its hash tag):
 *
 *   ...ban:{s}   string: since, until (20 digits each), hits (10
 *                digits), then the reason; expires at until
 *   ...win:{s}   string packed big-endian: window_s (I4), expiry and
 *                newest slice (doubles), then AF_WIN_BUCKETS counts
 *                (I4) indexed by slice number modulo their count;
 *                expires when its newest slice leaves the window
 *
 * A check that adds to a live window in its newest slice changes the
 * one count in place (SETRANGE): one read and one write per window.
 *   ...wm:{s}    string (AF_OP_WIN_MULTI): expiry (double), then
 *                AF_WIN_MULTI_MAX slots of window_s (I4, 0 unused),
 *                newest slice (double), AF_WIN_BUCKETS counts (I4);
 *                expires one window after its newest addition
 *   ...fm:{s}    string (AF_OP_FIG_MULTI, the figures of a subject):
 *                expiry (double), then 1 to AF_FIG_WIN_MAX slots of
 *                window_s (I4), newest slice (double), AF_FIG_SLICES
 *                rows of AF_FIG_N counts (I4); expires when the newest
 *                slice added to leaves its window; one GET and at most
 *                one SET per op
 *   ...hist:{s}  string: 20-digit expiry, then up to AF_HIST_MAX
 *                records of 43 bytes (family, 16 address bytes,
 *                country, continent, 20-digit ts_ms), newest first;
 *                expires ttl_s after the newest push (a read_only
 *                push only reads it)
 *   ...conc:{s}  zset member -> expiry ms; expires with its latest
 *                member (an empty zset is gone at once)
 *
 * No global index: the lists (bans, sets) SCAN the keys of their kind
 * (per master, in a cluster) and read each key found.
 *
 * Entries also expire logically: each record carries its expiry and the
 * script treats an expired one as absent (and drops it) exactly when the
 * shm backend would, whatever Redis has reclaimed yet; Redis's own TTLs
 * only bound memory.
 *
 * Connections are per process (and per store): a small table of
 * contexts, each with the pid that made it; a process that finds one
 * made by its parent closes its copy and connects again. A failure
 * (connect, timeout, I/O, an error reply such as -READONLY, -LOADING,
 * -MASTERDOWN or -BUSY, a reply of the wrong shape) drops the connection
 * and fails the whole call with AF_STORE_UNAVAILABLE; the next call
 * connects again (through the sentinels, asked in turn, when configured;
 * the address they give must answer ROLE as a master). The only retry
 * within a call is FCALL after "Function not found" (FUNCTION LOAD, then
 * once more).
 * A mutex serializes the threads of a process on the table.
 *
 * This file holds the store's ops; the connections, the batch encoding
 * and decoding, pub/sub, URLs and the script live beside it (see
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

#define RDS_SCAN_COUNT "1000"   /* keys a SCAN looks at per call */
#define RDS_SCAN_CALLS 100000   /* SCAN calls per pattern at most */

/* one page of keys found by rds_scan: done by the caller's function */
typedef int (*rds_page_fn)(af_store_redis_t *st, rds_conn_t *slot,
		const redisReply *keys, void *arg, char *why, size_t whylen);

/*
 * Walks the keys matching pat (the whole Redis key) on connection slot:
 * SCAN ... MATCH, at most RDS_SCAN_CALLS calls, page() on each non-empty
 * page. Returns 0, -1 with why set (by SCAN or page).
 */
static int rds_scan(af_store_redis_t *st, rds_conn_t *slot, const char *pat,
		rds_page_fn page, void *arg, char *why, size_t whylen)
{
	char cursor[32] = "0";
	redisReply *r;
	long calls = 0;
	int rc;

	do {
		r = redisCommand(slot->c, "SCAN %s MATCH %s COUNT " RDS_SCAN_COUNT,
				cursor, pat);
		if(!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2
				|| r->element[0]->type != REDIS_REPLY_STRING
				|| r->element[0]->len >= sizeof(cursor)
				|| r->element[1]->type != REDIS_REPLY_ARRAY) {
			snprintf(why, whylen, "SCAN: %s", af_rds_why(slot->c, r));
			if(r)
				freeReplyObject(r);
			return -1;
		}
		memcpy(cursor, r->element[0]->str, r->element[0]->len);
		cursor[r->element[0]->len] = '\0';
		rc = r->element[1]->elements
					 ? page(st, slot, r->element[1], arg, why, whylen)
					 : 0;
		freeReplyObject(r);
		if(rc < 0)
			return -1;
	} while(strcmp(cursor, "0") != 0 && ++calls < RDS_SCAN_CALLS);
	return 0;
}

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
 * The pattern <prefix><layout><kind>:{<subj>*} in buf (subj escaped
 * unless glob: then it is a glob of the subject, and no '*' is added).
 * 0, -1 when it does not fit.
 */
static int rds_pattern(const af_store_redis_t *st, const char *kind,
		const char *subj, size_t subj_len, int glob, char *buf, size_t size)
{
	size_t n = 0;
	int w;

	if(rds_glob_escape(buf, size, &n, st->cfg.prefix, st->plen) < 0)
		return -1;
	w = snprintf(buf + n, size - n, "%s%s:{", RDS_LAYOUT, kind);
	if(w < 0 || (size_t)w >= size - n)
		return -1;
	n += (size_t)w;
	if(glob) {
		if(subj_len >= size - n)
			return -1;
		memcpy(buf + n, subj, subj_len);
		n += subj_len;
	} else if(rds_glob_escape(buf, size, &n, subj, subj_len) < 0
			  || n + 1 >= size) {
		return -1;
	} else {
		buf[n++] = '*';
	}
	if(n + 2 > size)
		return -1;
	buf[n++] = '}';
	buf[n] = '\0';
	return 0;
}

/* The subject of key <prefix><layout><kind>:{<subject>} into it; 0, -1
 * when key is not one. */
static int rds_subject(const af_store_redis_t *st, const char *kind,
		const redisReply *key, rds_item_t *it)
{
	size_t off = st->plen + sizeof(RDS_LAYOUT) - 1 + strlen(kind) + 2;

	if(key->type != REDIS_REPLY_STRING || key->len <= off
			|| key->str[key->len - 1] != '}')
		return -1;
	it->subj_len = key->len - off - 1;
	it->subj = malloc(it->subj_len + 1);
	if(!it->subj)
		return -1;
	memcpy(it->subj, key->str + off, it->subj_len);
	it->subj[it->subj_len] = '\0';
	return 0;
}

/* Room for one more item in out; NULL when out of memory. */
static rds_item_t *rds_item_add(rds_items_t *out)
{
	rds_item_t *v;
	size_t cap;

	if(out->n == out->cap) {
		cap = out->cap ? out->cap * 2 : 64;
		v = realloc(out->v, cap * sizeof(*v));
		if(!v)
			return NULL;
		out->v = v;
		out->cap = cap;
	}
	memset(&out->v[out->n], 0, sizeof(out->v[0]));
	return &out->v[out->n];
}

/* Frees what out holds. */
static void rds_items_free(rds_items_t *out)
{
	size_t i;

	for(i = 0; i < out->n; i++)
		free(out->v[i].subj);
	free(out->v);
	memset(out, 0, sizeof(*out));
}

/* what a list page reads per key */
typedef struct rds_list_arg {
	rds_items_t *out;
	const char *kind;
	uint64_t now_ms;
} rds_list_arg_t;

/*
 * A ban's value as the batch script stores it (since and until: 20
 * digits each, hits: 10, then the reason) into ban. 0, -1 when it is not
 * one.
 */
static int rds_ban_value(const char *s, size_t len, af_ban_t *ban)
{
	rds_fld_t e[4];

	if(len < RDS_BAN_HEAD)
		return -1;
	e[0] = (rds_fld_t){RDS_F_STR, 0, s, 20};
	e[1] = (rds_fld_t){RDS_F_STR, 0, s + 20, 20};
	e[2] = (rds_fld_t){RDS_F_STR, 0, s + 40, 10};
	e[3] = (rds_fld_t){RDS_F_STR, 0, s + RDS_BAN_HEAD, len - RDS_BAN_HEAD};
	return af_rds_field_ban(e, ban);
}

/*
 * A list page: per key, pipelined, GET (a ban: kept when live) or
 * ZCOUNT of its live members (a set: kept when not empty); each key's
 * own command, so that it runs on a cluster's master of the key. 0, -1
 * with why.
 */
static int rds_list_page(af_store_redis_t *st, rds_conn_t *slot,
		const redisReply *keys, void *arg, char *why, size_t whylen)
{
	rds_list_arg_t *la = arg;
	int ban = strcmp(la->kind, "ban") == 0;
	rds_item_t *it;
	redisReply *r;
	void *rv;
	size_t i, err = 0;

	for(i = 0; i < keys->elements; i++) {
		if(ban)
			redisAppendCommand(slot->c, "GET %b", keys->element[i]->str,
					keys->element[i]->len);
		else
			redisAppendCommand(slot->c, "ZCOUNT %b (%llu +inf",
					keys->element[i]->str, keys->element[i]->len,
					(unsigned long long)la->now_ms);
	}
	for(i = 0; i < keys->elements; i++) {
		if(redisGetReply(slot->c, &rv) != REDIS_OK) {
			snprintf(why, whylen, "list: %s", af_rds_why(slot->c, NULL));
			return -1;
		}
		r = rv;
		it = err ? NULL : rds_item_add(la->out);
		if(!it) {
			err = 1;
		} else if(ban && r->type == REDIS_REPLY_STRING) {
			if(rds_ban_value(r->str, r->len, &it->ban) == 0
					&& la->now_ms < it->ban.until_ms
					&& rds_subject(st, la->kind, keys->element[i], it) == 0)
				la->out->n++;
		} else if(!ban && r->type == REDIS_REPLY_INTEGER && r->integer > 0
				  && rds_subject(st, la->kind, keys->element[i], it) == 0) {
			it->count = r->integer > UINT32_MAX ? UINT32_MAX
												: (uint32_t)r->integer;
			la->out->n++;
		}
		freeReplyObject(r);
	}
	if(err)
		snprintf(why, whylen, "list: out of memory");
	return err ? -1 : 0;
}

/*
 * Every live ban on connection slot into out (appended; the caller
 * frees with rds_items_free). 0, -1 with why.
 */
int af_rds_ban_scan(af_store_redis_t *st, rds_conn_t *slot,
		rds_items_t *out, uint64_t now_ms, char *why, size_t whylen)
{
	rds_list_arg_t la = {out, "ban", now_ms};
	char pat[sizeof(st->cfg.prefix) * 2 + 32];

	if(rds_pattern(st, "ban", "", 0, 0, pat, sizeof(pat)) < 0) {
		snprintf(why, whylen, "list: prefix too long");
		return -1;
	}
	return rds_scan(st, slot, pat, rds_list_page, &la, why, whylen);
}

/*
 * Every live concurrency set on connection slot whose subject starts
 * with prefix into out (as af_rds_ban_scan). 0, -1 with why.
 */
int af_rds_conc_scan(af_store_redis_t *st, rds_conn_t *slot,
		const char *prefix, size_t prefix_len, rds_items_t *out,
		uint64_t now_ms, char *why, size_t whylen)
{
	rds_list_arg_t la = {out, "conc", now_ms};
	char pat[sizeof(st->cfg.prefix) * 2 + AF_KEY_MAX * 4 + 32];

	if(rds_pattern(st, "conc", prefix, prefix_len, 0, pat, sizeof(pat))
			< 0) {
		snprintf(why, whylen, "list: prefix too long");
		return -1;
	}
	return rds_scan(st, slot, pat, rds_list_page, &la, why, whylen);
}

/* what rds_list asks of each server */
typedef struct rds_servers_list {
	int ban;
	const char *prefix;
	size_t prefix_len;
	rds_items_t *out;
	uint64_t now_ms;
} rds_servers_list_t;

/* Lists on one connection into the arg's out (rds_servers_list_t). */
static int rds_list_on(af_store_redis_t *st, rds_conn_t *slot, void *arg,
		char *why, size_t whylen)
{
	rds_servers_list_t *la = arg;

	return la->ban ? af_rds_ban_scan(st, slot, la->out, la->now_ms, why,
							 whylen)
				   : af_rds_conc_scan(st, slot, la->prefix, la->prefix_len,
							 la->out, la->now_ms, why, whylen);
}

/*
 * Lists kind ("ban" or "conc", prefix for sets) on this process's
 * connection (every master of a cluster) into out. 0, -1 when the server
 * could not be used. Lock: none held on entry; none held on return.
 */
static int rds_list(af_store_redis_t *st, int ban, const char *prefix,
		size_t prefix_len, rds_items_t *out, uint64_t now_ms)
{
	rds_servers_list_t la = {ban, prefix, prefix_len, out, now_ms};
	int rc = af_rds_each_server(st, rds_list_on, &la);

	if(rc < 0)
		rds_items_free(out);
	return rc;
}

/*
 * ban_list: calls cb for every live ban (key: the whole subject, even
 * when longer than AF_KEY_MAX), found by SCAN over the ban keys; cb runs
 * without any lock held (it may use the store). Returns 0, -1 when the
 * server could not be used.
 */
static int rds_ban_list(af_store_t *s, af_ban_cb cb, void *arg,
		uint64_t now_ms)
{
	rds_items_t out = {0};
	size_t i;

	if(rds_list((af_store_redis_t *)s, 1, NULL, 0, &out, now_ms) < 0)
		return -1;
	for(i = 0; i < out.n; i++)
		if(cb(out.v[i].subj, out.v[i].subj_len, &out.v[i].ban, arg))
			break;
	rds_items_free(&out);
	return 0;
}

/*
 * conc_list: calls cb for every live set whose key (the whole subject)
 * starts with prefix, with its live members' count (SCAN over the set
 * keys; nothing pruned). cb runs without any lock held. Returns 0, -1
 * when prefix is NULL with a length or the server could not be used.
 */
static int rds_conc_list(af_store_t *s, const char *prefix,
		size_t prefix_len, af_conc_cb cb, void *arg, uint64_t now_ms)
{
	rds_items_t out = {0};
	size_t i;

	if(prefix == NULL && prefix_len)
		return -1;
	if(rds_list((af_store_redis_t *)s, 0, prefix ? prefix : "", prefix_len,
			   &out, now_ms)
			< 0)
		return -1;
	for(i = 0; i < out.n; i++)
		if(cb(out.v[i].subj, out.v[i].subj_len, out.v[i].count, arg))
			break;
	rds_items_free(&out);
	return 0;
}

/* A forget page: UNLINK of its keys, the count added to *arg. */
static int rds_forget_page(af_store_redis_t *st, rds_conn_t *slot,
		const redisReply *keys, void *arg, char *why, size_t whylen)
{
	uint64_t *removed = arg;
	redisReply *u;
	void *rv;
	size_t i;
	int rc = 0;

	/* one UNLINK per key: a cluster's keys of one page are in many
	 * slots */
	for(i = 0; i < keys->elements; i++)
		redisAppendCommand(slot->c, "UNLINK %b",
				keys->element[i]->str ? keys->element[i]->str : "",
				keys->element[i]->len);
	for(i = 0; i < keys->elements; i++) {
		if(redisGetReply(slot->c, &rv) != REDIS_OK) {
			snprintf(why, whylen, "UNLINK: %s", af_rds_why(slot->c, NULL));
			return -1;
		}
		u = rv;
		if(u->type == REDIS_REPLY_INTEGER) {
			if(removed)
				*removed += (uint64_t)u->integer;
		} else if(!rc) {
			snprintf(why, whylen, "UNLINK: %s", af_rds_why(slot->c, u));
			rc = -1;
		}
		freeReplyObject(u);
	}
	return rc;
}

/*
 * Removes the keys matching pat (the whole Redis key) on connection
 * slot: SCAN, then UNLINK of each page's keys. Returns 0, -1 with why.
 */
int af_rds_forget_scan(af_store_redis_t *st, rds_conn_t *slot,
		const char *pat, uint64_t *removed, char *why, size_t whylen)
{
	return rds_scan(st, slot, pat, rds_forget_page, removed, why, whylen);
}

/* what forget removes, for rds_forget_on */
typedef struct rds_forget_arg {
	const af_forget_pat_t *pats;
	int n;
	uint64_t *removed;
} rds_forget_arg_t;

/* Removes the keys of the patterns of arg (rds_forget_arg_t) on one
 * connection. 0, -1 with why. */
static int rds_forget_on(af_store_redis_t *st, rds_conn_t *slot, void *arg,
		char *why, size_t whylen)
{
	static const struct {
		unsigned kind;
		const char *name;
	} kinds[] = {{AF_FORGET_BAN, "ban"}, {AF_FORGET_WIN, "win"},
			{AF_FORGET_WIN, "wm"}, {AF_FORGET_HIST, "hist"}};
	const rds_forget_arg_t *fa = arg;
	char pat[AF_KEY_MAX * 2 + 128 + sizeof(st->cfg.prefix) * 2];
	int i, k;

	for(i = 0; i < fa->n; i++) {
		for(k = 0; k < (int)(sizeof(kinds) / sizeof(kinds[0])); k++) {
			if(!(fa->pats[i].kinds & kinds[k].kind))
				continue;
			if(rds_pattern(st, kinds[k].name, fa->pats[i].glob,
					   strlen(fa->pats[i].glob), 1, pat, sizeof(pat))
					< 0) {
				snprintf(why, whylen, "forget: pattern too long");
				return -1;
			}
			if(af_rds_forget_scan(st, slot, pat, fa->removed, why, whylen)
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
	int rc = af_rds_each_server(st, rds_forget_on, &fa);

	if(rc < 0)
		__atomic_add_fetch(&st->failures, 1, __ATOMIC_RELAXED);
	return rc;
}

/* gc: nothing to do, every key has a TTL and the script prunes. */
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

/* Adds one server's DBSIZE and INFO stats figures to arg
 * (af_store_stats_t); 0, -1 with why. */
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
 * its own; a cluster's summed over its masters), evictions and expired
 * Redis's evicted_keys and expired_keys (INFO stats, server-wide),
 * capacity 0 (bounded by Redis's maxmemory), failures this store's (all
 * processes). One round trip per server; the server's figures are 0 when
 * it cannot be reached.
 */
static void rds_stats(af_store_t *s, af_store_stats_t *out)
{
	af_store_redis_t *st = (af_store_redis_t *)s;

	memset(out, 0, sizeof(*out));
	af_rds_each_server(st, rds_stats_on, out);
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

#define RDS_OPS(c)                                                    \
	{                                                                 \
		.name = "redis", .caps = (c), .exec = af_rds_exec,            \
		.ban_list = rds_ban_list, .conc_list = rds_conc_list,         \
		.forget = rds_forget, .gc = rds_gc, .stats = rds_stats,       \
		.destroy = rds_destroy                                        \
	}

/* a Redis Cluster's store runs a WIN_MULTI as one WIN_HIT per window
 * (af_store_exec_expand): its batch splitter (af_store_redis_cluster.c)
 * places WIN_HITs, their gates, bans and if_new across slots */
static const af_store_ops_t rds_ops = RDS_OPS(AF_STORE_CAP_WIN_MULTI),
							rds_cl_ops = RDS_OPS(0);

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
	st->base.ops = cfg->n_seeds > 0 ? &rds_cl_ops : &rds_ops;
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
