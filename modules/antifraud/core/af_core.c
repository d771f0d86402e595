/*
 * antifraud - core lifecycle: rule snapshots, GeoIP handles, the af_core_st
 * and statistics.
 *
 * Snapshots live in af_core_shm memory and are reference-counted: a check
 * takes a reference for its duration (one short lock), a reload publishes
 * a fully built snapshot and drops the old one's base reference, and the
 * last holder frees it. GeoIP handles are private to each process and
 * reopened when the snapshot they were opened for is replaced; the new
 * database is opened before the old one is closed.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "af_alert.h"
#include "af_core.h"
#include "af_core_int.h"
#include "af_outcome_int.h"
#include "af_dest.h"
#include "af_host.h"
#include "af_lock.h"
#include "af_feed.h"
#include "af_fp.h"
#include "af_sig.h"
#include "af_store_cluster.h"
#include "af_store_redis.h"
#include "af_store_shm.h"
#include "af_text.h"

static af_core_cfg_t core_cfg;

/*
 * Opens the GeoIP databases that snapshot r names, to prove they are
 * usable before r is published. Returns 0 (also when r names none, or
 * when they are optional and fail: then r runs without GeoIP), -1 with
 * err when a required database cannot be opened.
 */
static int geo_validate(af_rules_t *r, char *err, size_t errlen)
{
	af_geo_t *g;
	char why[256];

	if(!r->geo_country_db && !r->geo_asn_db)
		return 0;
	g = af_geo_open(r->geo_country_db, r->geo_asn_db, why, sizeof(why));
	if(g) {
		af_geo_close(g);
		return 0;
	}
	if(r->geo_required) {
		snprintf(err, errlen, "%s: geoip: %s", r->path, why);
		return -1;
	}
	AF_WARN("%s: geoip: %s; running without GeoIP (geoip.required is"
			" false)\n",
			r->path, why);
	r->geo_country_db = NULL;
	r->geo_asn_db = NULL;
	return 0;
}




/* the highest limit of slots s[2] (0 when none) */
static uint32_t slots_max(const af_slots_t *s)
{
	uint32_t m = 0, i;
	int d;

	for(d = 0; d < 2; d++) {
		if(s[d].dflt != AF_NO_LIMIT && s[d].dflt > m)
			m = s[d].dflt;
		for(i = 0; i < s[d].n; i++)
			if(s[d].slot[i].limit != AF_NO_LIMIT && s[d].slot[i].limit > m)
				m = s[d].slot[i].limit;
	}
	return m;
}

/*
 * A concurrency set lives in one stripe of the shm af_core_st: warns when the
 * rules' limits come close to what a stripe holds (the calls above it
 * could not be counted: the af_core_st would fail, and the check fail open).
 */
static void check_capacity(const af_rules_t *r)
{
	uint32_t per, m = slots_max(r->dest.conc_total), i;

	if(!r->dest.plan || !core_cfg.shm_stripes)
		return;
	per = core_cfg.shm_entries / core_cfg.shm_stripes;
	for(i = 0; i < r->n_profiles; i++)
		if(r->profiles[i].dest && slots_max(r->profiles[i].dest->conc_caller) > m)
			m = slots_max(r->profiles[i].dest->conc_caller);
	if(m > per / 2)
		AF_WARN("%s: a concurrency limit of %u calls is close to what one"
				" stripe of the shm af_core_st holds (%u entries: shm_entries /"
				" shm_stripes): raise shm_entries or lower shm_stripes\n",
				r->path, m, per);
}


/* the locks of af_core_shm */
static void core_locks_destroy(void)
{
	int i;

	for(i = 0; i < AF_CLEAR_LOCKS; i++)
		af_lock_destroy(&af_core_shm->clear_lock[i]);
	af_lock_destroy(&af_core_shm->lock);
}

int af_core_init(const af_core_cfg_t *cfg, char *err, size_t errlen)
{
	af_store_shm_cfg_t scfg;
	af_alert_cfg_t acfg;
	af_rules_t *r;
	int i;

	core_cfg = *cfg;
	af_core_shm = af_host->shm_alloc(sizeof(*af_core_shm));
	if(!af_core_shm) {
		snprintf(err, errlen, "out of af_core_shm memory");
		return -1;
	}
	memset(af_core_shm, 0, sizeof(*af_core_shm));
	if(af_lock_init(&af_core_shm->lock) < 0) {
		snprintf(err, errlen, "cannot initialize a lock");
		goto error_shared;
	}
	for(i = 0; i < AF_CLEAR_LOCKS; i++)
		if(af_lock_init(&af_core_shm->clear_lock[i]) < 0) {
			while(i-- > 0)
				af_lock_destroy(&af_core_shm->clear_lock[i]);
			af_lock_destroy(&af_core_shm->lock);
			snprintf(err, errlen, "cannot initialize a lock");
			goto error_shared;
		}
	if(getrandom(&af_core_shm->node_id, sizeof(af_core_shm->node_id), 0)
			!= sizeof(af_core_shm->node_id))
		af_core_shm->node_id = (uint64_t)af_now_ms() ^ (uint64_t)rand();
	scfg.max_entries = cfg->shm_entries;
	scfg.stripes = cfg->shm_stripes;
	af_core_local = af_core_st = af_store_shm_new(&scfg);
	if(!af_core_st) {
		snprintf(err, errlen,
				"cannot allocate the state af_core_st (%u entries, %zu bytes of"
				" af_core_shm memory): raise kamailio -m or lower shm_entries",
				cfg->shm_entries, af_store_shm_size(&scfg));
		goto error_lock;
	}
	if(cfg->redis) {
		af_store_t *rs = af_store_redis_new(cfg->redis);
		if(rs)
			af_core_st = af_store_cluster_new(rs, af_core_local,
					(af_fallback_t)cfg->redis_fallback,
					cfg->redis_retry_ms, cfg->redis_release_queue);
		if(!rs || !af_core_st) {
			if(rs)
				rs->ops->destroy(rs);
			af_core_st = af_core_local;
			snprintf(err, errlen, "out of af_core_shm memory (redis af_core_st)");
			goto error_store;
		}
	}
	if(af_dest_init() < 0) {
		snprintf(err, errlen, "out of af_core_shm memory");
		goto error_store;
	}
	acfg.repeat_s = cfg->alert_repeat_s;
	acfg.rate = cfg->alert_rate;
	acfg.burst = cfg->alert_burst ? cfg->alert_burst : 1;
	acfg.slots = AF_ALERT_SLOTS;
	if(af_alert_init(&acfg) < 0) {
		snprintf(err, errlen, "out of shared memory (alert table)");
		goto error_dest;
	}
	if(af_outcome_init() < 0) {
		snprintf(err, errlen, "out of shared memory (analytics)");
		goto error_alert;
	}
	r = af_rules_load(cfg->rules_path, err, errlen);
	if(!r)
		goto error_alert;
	if(geo_validate(r, err, errlen) < 0)
		goto error_rules;
	check_capacity(r);
	af_core_set_current(r);
	/* open GeoIP here so that forked workers inherit the mapping */
	af_core_geo(r);
	return 0;

error_rules:
	af_rules_free(r);
error_alert:
	af_outcome_destroy();
	af_alert_destroy();
error_dest:
	af_dest_destroy();
error_store:
	if(af_core_st != af_core_local)
		af_core_st->ops->destroy(af_core_st);
	af_core_local->ops->destroy(af_core_local);
	af_core_st = af_core_local = NULL;
error_lock:
	core_locks_destroy();
error_shared:
	af_host->shm_free(af_core_shm);
	af_core_shm = NULL;
	return -1;
}

void af_core_destroy(void)
{
	if(!af_core_shm)
		return;
	af_core_geo_reset();
	af_core_release(af_core_shm->current);
	af_core_shm->current = NULL;
	if(af_core_st && af_core_st != af_core_local)
		af_core_st->ops->destroy(af_core_st);
	if(af_core_local)
		af_core_local->ops->destroy(af_core_local);
	af_core_st = af_core_local = NULL;
	af_outcome_destroy();
	af_alert_destroy();
	af_dest_destroy();
	core_locks_destroy();
	af_host->shm_free(af_core_shm);
	af_core_shm = NULL;
}

int af_core_reload(char *err, size_t errlen)
{
	af_rules_t *r;
	uint64_t now = af_now_ms();
	uint64_t last;
	uint32_t gen;

	last = __atomic_load_n(&af_core_shm->last_reload_ms, __ATOMIC_RELAXED);
	if(core_cfg.reload_min_s
			&& now < last + (uint64_t)core_cfg.reload_min_s * 1000) {
		snprintf(err, errlen,
				"reloaded less than %u s ago (reload_min_interval); try"
				" again later",
				core_cfg.reload_min_s);
		return -1;
	}
	/* one reload at a time, node-wide */
	if(!__atomic_compare_exchange_n(&af_core_shm->last_reload_ms, &last, now, 0,
			   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		snprintf(err, errlen, "another reload is running; try again later");
		return -1;
	}
	r = af_rules_load(core_cfg.rules_path, err, errlen);
	if(!r || geo_validate(r, err, errlen) < 0) {
		af_rules_free(r);
		af_core_count(AF_ST_RELOAD_ERRORS);
		/* a failed reload does not count against the interval */
		__atomic_store_n(&af_core_shm->last_reload_ms, last, __ATOMIC_RELAXED);
		return -1;
	}
	check_capacity(r);
	gen = af_core_set_current(r);
	af_core_count(AF_ST_RELOADS);
	AF_NOTICE("rules reloaded from %s (generation %u)\n",
			core_cfg.rules_path, gen);
	return 0;
}

void af_core_warmup(void)
{
	af_rules_t *r;
	af_fp_msg_t fm;
	af_sig_hit_t hit;

	if(!af_core_shm)
		return;
	r = af_core_acquire();
	af_core_geo(r);
	if(r->signatures) {
		/* builds this process's JIT code of every signature pattern */
		memset(&fm, 0, sizeof(fm));
		af_sig_match(r->signatures, &fm, &hit, 1);
	}
	af_core_release(r);
}





/* the next space-separated word of s[*pos..len) */
static int next_word(const char *s, size_t len, size_t *pos, const char **w,
		size_t *wlen)
{
	while(*pos < len && s[*pos] == ' ')
		(*pos)++;
	*w = s + *pos;
	while(*pos < len && s[*pos] != ' ')
		(*pos)++;
	*wlen = (size_t)(s + *pos - *w);
	return *wlen ? 0 : -1;
}

int af_core_apply_event(const char *msg, size_t len)
{
	char idbuf[17], key[AF_KEY_MAX + 1], reason[AF_BAN_REASON], err[256];
	const char *w, *id;
	size_t pos = 0, wlen, idlen;
	uint64_t secs;
	af_op_t op;
	int own;

	if(next_word(msg, len, &pos, &id, &idlen) < 0 || idlen != 16)
		return -1;
	snprintf(idbuf, sizeof(idbuf), "%016llx",
			(unsigned long long)af_core_shm->node_id);
	own = memcmp(id, idbuf, 16) == 0;
	if(next_word(msg, len, &pos, &w, &wlen) < 0)
		return -1;
	if(wlen == 6 && memcmp(w, "reload", 6) == 0) {
		if(own)
			return 0;
		if(af_core_reload(err, sizeof(err)) < 0) {
			AF_ERR("reload asked by another node failed: %s\n", err);
			return -1;
		}
		return 0;
	}
	memset(&op, 0, sizeof(op));
	if(wlen == 3 && memcmp(w, "ban", 3) == 0)
		op.type = AF_OP_BAN_SET;
	else if(wlen == 5 && memcmp(w, "unban", 5) == 0)
		op.type = AF_OP_BAN_DEL;
	else
		return -1;
	if(next_word(msg, len, &pos, &w, &wlen) < 0 || wlen > AF_KEY_MAX)
		return -1;
	memcpy(key, w, wlen);
	key[wlen] = '\0';
	/* this node's processes look the source up again */
	if(op.type == AF_OP_BAN_SET)
		af_core_ban_heard(key, wlen);
	op.key = key;
	op.key_len = wlen;
	if(op.type == AF_OP_BAN_SET) {
		const char *sw;
		size_t swlen;
		if(next_word(msg, len, &pos, &sw, &swlen) < 0 || swlen > 10)
			return -1;
		/* the word is not NUL-terminated: digits read one by one */
		for(secs = 0; swlen; sw++, swlen--) {
			if(*sw < '0' || *sw > '9')
				return -1;
			secs = secs * 10 + (uint64_t)(*sw - '0');
		}
		if(!secs || secs > UINT32_MAX)
			return -1;
		while(pos < len && msg[pos] == ' ')
			pos++;
		snprintf(reason, sizeof(reason), "%.*s", (int)(len - pos),
				msg + pos);
		op.u.ban_set.ttl_s = (uint32_t)secs;
		op.u.ban_set.reason = reason;
	}
	return af_core_local->ops->exec(af_core_local, &op, 1, af_now_ms());
}

/* ban_list callback of af_core_sync_bans: copies one ban into the local
 * af_core_st for the time it has left */
static int sync_one(const char *key, size_t key_len, const af_ban_t *ban,
		void *arg)
{
	uint64_t now = *(const uint64_t *)arg;
	af_op_t op;

	if(ban->until_ms <= now)
		return 0;
	memset(&op, 0, sizeof(op));
	op.type = AF_OP_BAN_SET;
	op.key = key;
	op.key_len = key_len;
	op.u.ban_set.ttl_s = (uint32_t)((ban->until_ms - now + 999) / 1000);
	op.u.ban_set.reason = ban->reason;
	af_core_local->ops->exec(af_core_local, &op, 1, now);
	return 0;
}

int af_core_sync_bans(void)
{
	af_store_t *rs;
	uint64_t now = af_now_ms();

	if(!af_core_clustered())
		return 0;
	rs = af_store_cluster_redis(af_core_st);
	return rs->ops->ban_list(rs, sync_one, &now, now);
}

int af_core_feeds_check(void)
{
	af_rules_t *r;
	char err[512];
	uint32_t i;
	int rc, swapped = 0, refused = 0;

	r = af_core_acquire();
	if(!r)
		return 0;
	for(i = 0; i < r->n_lists; i++) {
		rc = af_feed_refresh(&r->lists[i], err, sizeof(err));
		if(rc > 0) {
			swapped++;
			af_core_count(AF_ST_FEED_RELOADS);
			AF_NOTICE("list '%s': new version of %s swapped in\n",
					r->lists[i].name, r->lists[i].file);
		} else if(rc < 0) {
			refused++;
			af_core_count(AF_ST_FEED_ERRORS);
			AF_ERR("list '%s': new version refused: %s\n", r->lists[i].name,
					err);
		}
	}
	af_core_release(r);
	return refused ? -1 : swapped;
}

void af_core_timer(void)
{
	static uint64_t feeds_checked_ms;
	af_rules_t *r;
	uint64_t now;

	if(!af_core_st)
		return;
	now = af_now_ms();
	if(core_cfg.feed_interval_s
			&& now - feeds_checked_ms >= core_cfg.feed_interval_s * 1000ull) {
		feeds_checked_ms = now;
		af_core_feeds_check();
	}
	af_core_st->ops->gc(af_core_st, af_now_ms(), 4096);
	if(af_core_clustered())
		af_store_cluster_probe(af_core_st, af_now_ms());
	r = af_core_acquire();
	af_dest_timer(r);
	af_core_release(r);
	af_alert_timer(af_now_ms());
}

/* a ban key from IP text: the normalized address; a with the address */
static int ban_key(const char *ip, size_t ip_len, char *key, af_ip_t *a,
		char *err, size_t errlen)
{
	char ex[AF_TEXT_EXCERPT_BUF];

	if(af_ip_parse(ip, ip_len, a) < 0) {
		snprintf(err, errlen, "not an IP address: '%s'",
				af_text_excerpt(ip, ip_len, ex));
		return -1;
	}
	return af_ip_format(a, key, AF_IP_STRLEN);
}

/*
 * Why a is never the source of a request (so that a ban of it means a
 * mistake): unspecified or "this network", broadcast, multicast. NULL
 * when it can be one.
 */
static const char *not_a_source(const af_ip_t *a)
{
	static const uint8_t zero[16];

	if(a->family == 4) {
		if(a->addr[0] == 0)
			return "unspecified address (0.0.0.0/8)";
		if(a->addr[0] == 255 && a->addr[1] == 255 && a->addr[2] == 255
				&& a->addr[3] == 255)
			return "broadcast address";
		if((a->addr[0] & 0xf0) == 224)
			return "multicast address (224.0.0.0/4)";
		return NULL;
	}
	if(memcmp(a->addr, zero, 16) == 0)
		return "unspecified address";
	if(a->addr[0] == 0xff)
		return "multicast address (ff00::/8)";
	return NULL;
}

/*
 * Operator actions (RPC): bans ip (text) for seconds with reason (NULL
 * or "": "manual") in the store, and tells the other nodes.
 */
int af_core_ban(const char *ip, size_t ip_len, uint32_t seconds,
		const char *reason, char *err, size_t errlen)
{
	char key[AF_IP_STRLEN];
	const char *why;
	af_ip_t a;
	af_op_t op;
	size_t rlen = reason ? strlen(reason) : 0;
	int len;

	if(seconds == 0 || seconds > AF_BAN_MAX_S) {
		snprintf(err, errlen, "the ban time must be from 1 to %u seconds",
				AF_BAN_MAX_S);
		return -1;
	}
	if(rlen > AF_BAN_REASON - 1) {
		snprintf(err, errlen, "the reason is too long (%zu bytes, at most %d)",
				rlen, AF_BAN_REASON - 1);
		return -1;
	}
	if(!af_text_plain(reason, rlen)) {
		snprintf(err, errlen,
				"the reason must be plain text (UTF-8, no control"
				" characters)");
		return -1;
	}
	if((len = ban_key(ip, ip_len, key, &a, err, errlen)) < 0)
		return -1;
	if((why = not_a_source(&a))) {
		snprintf(err, errlen, "%s cannot be banned: %s", key, why);
		return -1;
	}
	memset(&op, 0, sizeof(op));
	op.type = AF_OP_BAN_SET;
	op.key = key;
	op.key_len = (size_t)len;
	op.u.ban_set.ttl_s = seconds;
	op.u.ban_set.reason = rlen ? reason : "manual";
	if(af_store_exec(af_core_store(), &op, 1, af_now_ms()) < 0) {
		snprintf(err, errlen, "the state store is full or unavailable");
		af_core_count(AF_ST_STORE_ERRORS);
		return -1;
	}
	af_core_count(AF_ST_BANS);
	AF_NOTICE("banned %s for %u s: %s\n", key, seconds, op.u.ban_set.reason);
	af_core_publish("ban %s %u %s", key, seconds, op.u.ban_set.reason);
	return 0;
}

/* Lifts the ban of ip: 1 lifted, 0 there was none, -1 error. */
int af_core_unban(const char *ip, size_t ip_len, char *err, size_t errlen)
{
	char key[AF_IP_STRLEN];
	af_ip_t a;
	af_op_t op;
	int len;

	if((len = ban_key(ip, ip_len, key, &a, err, errlen)) < 0)
		return -1;
	memset(&op, 0, sizeof(op));
	op.type = AF_OP_BAN_DEL;
	op.key = key;
	op.key_len = (size_t)len;
	if(af_store_exec(af_core_store(), &op, 1, af_now_ms()) < 0) {
		snprintf(err, errlen, "the state store is unavailable");
		return -1;
	}
	if(op.u.ban_del.found)
		AF_NOTICE("unbanned %s\n", key);
	/* every node's fallback store forgets it, found here or not */
	af_core_publish("unban %s", key);
	return op.u.ban_del.found ? 1 : 0;
}

/* calls cb for every live ban */
int af_core_ban_list(af_ban_cb cb, void *arg)
{
	af_store_t *s = af_core_store();

	return s->ops->ban_list(s, cb, arg, af_now_ms());
}
