/*
 * antifraud - core lifecycle: rule snapshots, GeoIP handles, the store
 * and statistics.
 *
 * Snapshots live in shared memory and are reference-counted: a check
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
#include "af_check.h"
#include "af_outcome_int.h"
#include "af_core.h"
#include "af_host.h"
#include "af_lock.h"
#include "af_fp.h"
#include "af_sig.h"
#include "af_store_cluster.h"
#include "af_store_redis.h"
#include "af_store_shm.h"

typedef struct af_shared {
	af_lock_t lock;          /* protects current and refs increments */
	af_rules_t *current;
	uint32_t generation;
	uint64_t last_reload_ms;
	uint64_t stats[AF_ST__COUNT];
	uint64_t reasons[AF_R__COUNT];
	uint64_t node_id; /* tells this node's own cluster events apart */
} af_shared_t;

static af_shared_t *shared;
static af_store_t *store;       /* what the checks use */
static af_store_t *local_store; /* this node's shm store */
static af_core_cfg_t core_cfg;

/* per process (Kamailio workers are single-threaded processes) */
static __thread af_geo_t *geo;
static __thread uint32_t geo_generation;
static __thread uint32_t geo_failed_generation;

static const char *const stat_names[AF_ST__COUNT] = {
#define AF_STAT(id, name) [AF_ST_##id] = name,
#include "af_table.def"
#undef AF_STAT
};

const char *af_stat_name(af_stat_t s)
{
	return (unsigned)s < AF_ST__COUNT ? stat_names[s] : "unknown";
}

void af_core_count(af_stat_t s)
{
	if(shared)
		__atomic_add_fetch(&shared->stats[s], 1, __ATOMIC_RELAXED);
}

void af_core_count_reasons(af_reasons_t mask)
{
	int i;

	if(!shared)
		return;
	for(i = 0; i < AF_R__COUNT; i++)
		if(mask & AF_REASON_BIT(i))
			__atomic_add_fetch(&shared->reasons[i], 1, __ATOMIC_RELAXED);
}

uint64_t af_core_stat(af_stat_t s)
{
	return shared ? __atomic_load_n(&shared->stats[s], __ATOMIC_RELAXED) : 0;
}

uint64_t af_core_reason_count(af_reason_t r)
{
	return shared ? __atomic_load_n(&shared->reasons[r], __ATOMIC_RELAXED)
				  : 0;
}

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

af_geo_t *af_core_geo(const af_rules_t *r)
{
	af_geo_t *g;
	char why[256];

	if(!r->geo_country_db && !r->geo_asn_db)
		return NULL;
	if(geo && geo_generation == r->generation)
		return geo;
	if(geo_failed_generation == r->generation)
		return geo; /* already tried: keep the old one */
	g = af_geo_open(r->geo_country_db, r->geo_asn_db, why, sizeof(why));
	if(!g) {
		AF_ERR("geoip: %s; keeping the database opened before\n", why);
		geo_failed_generation = r->generation;
		return geo;
	}
	af_geo_close(geo);
	geo = g;
	geo_generation = r->generation;
	return geo;
}

af_rules_t *af_core_acquire(void)
{
	af_rules_t *r;

	af_lock(&shared->lock);
	r = shared->current;
	__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
	af_unlock(&shared->lock);
	return r;
}

void af_core_release(af_rules_t *r)
{
	if(r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
		af_rules_free(r);
}

/* publishes r as the current snapshot, drops the old one and returns
 * r's generation */
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
 * A concurrency set lives in one stripe of the shm store: warns when the
 * rules' limits come close to what a stripe holds (the calls above it
 * could not be counted: the store would fail, and the check fail open).
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
				" stripe of the shm store holds (%u entries: shm_entries /"
				" shm_stripes): raise shm_entries or lower shm_stripes\n",
				r->path, m, per);
}

static uint32_t publish(af_rules_t *r)
{
	af_rules_t *old;
	uint32_t gen;

	check_capacity(r);
	r->refs = 1; /* the base reference, held by shared->current */
	af_lock(&shared->lock);
	old = shared->current;
	gen = r->generation = ++shared->generation;
	shared->current = r;
	af_unlock(&shared->lock);
	af_core_release(old);
	return gen;
}

int af_core_init(const af_core_cfg_t *cfg, char *err, size_t errlen)
{
	af_store_shm_cfg_t scfg;
	af_alert_cfg_t acfg;
	af_rules_t *r;

	core_cfg = *cfg;
	shared = af_host->shm_alloc(sizeof(*shared));
	if(!shared) {
		snprintf(err, errlen, "out of shared memory");
		return -1;
	}
	memset(shared, 0, sizeof(*shared));
	if(af_lock_init(&shared->lock) < 0) {
		snprintf(err, errlen, "cannot initialize a lock");
		goto error_shared;
	}
	if(getrandom(&shared->node_id, sizeof(shared->node_id), 0)
			!= sizeof(shared->node_id))
		shared->node_id = (uint64_t)af_now_ms() ^ (uint64_t)rand();
	scfg.max_entries = cfg->shm_entries;
	scfg.stripes = cfg->shm_stripes;
	local_store = store = af_store_shm_new(&scfg);
	if(!store) {
		snprintf(err, errlen,
				"cannot allocate the state store (%u entries, %zu bytes of"
				" shared memory): raise kamailio -m or lower shm_entries",
				cfg->shm_entries, af_store_shm_size(&scfg));
		goto error_lock;
	}
	if(cfg->redis) {
		af_store_t *rs = af_store_redis_new(cfg->redis);
		if(rs)
			store = af_store_cluster_new(rs, local_store,
					(af_fallback_t)cfg->redis_fallback,
					cfg->redis_retry_ms);
		if(!rs || !store) {
			if(rs)
				rs->ops->destroy(rs);
			store = local_store;
			snprintf(err, errlen, "out of shared memory (redis store)");
			goto error_store;
		}
	}
	if(af_dest_init() < 0) {
		snprintf(err, errlen, "out of shared memory");
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
	publish(r);
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
	if(store != local_store)
		store->ops->destroy(store);
	local_store->ops->destroy(local_store);
	store = local_store = NULL;
error_lock:
	af_lock_destroy(&shared->lock);
error_shared:
	af_host->shm_free(shared);
	shared = NULL;
	return -1;
}

void af_core_destroy(void)
{
	if(!shared)
		return;
	af_geo_close(geo);
	geo = NULL;
	/* generations start again at 1 with the next af_core_init() */
	geo_generation = 0;
	geo_failed_generation = 0;
	af_core_release(shared->current);
	shared->current = NULL;
	if(store && store != local_store)
		store->ops->destroy(store);
	if(local_store)
		local_store->ops->destroy(local_store);
	store = local_store = NULL;
	af_outcome_destroy();
	af_alert_destroy();
	af_dest_destroy();
	af_lock_destroy(&shared->lock);
	af_host->shm_free(shared);
	shared = NULL;
}

int af_core_reload(char *err, size_t errlen)
{
	af_rules_t *r;
	uint64_t now = af_now_ms();
	uint64_t last;
	uint32_t gen;

	last = __atomic_load_n(&shared->last_reload_ms, __ATOMIC_RELAXED);
	if(core_cfg.reload_min_s
			&& now < last + (uint64_t)core_cfg.reload_min_s * 1000) {
		snprintf(err, errlen,
				"reloaded less than %u s ago (reload_min_interval); try"
				" again later",
				core_cfg.reload_min_s);
		return -1;
	}
	/* one reload at a time, node-wide */
	if(!__atomic_compare_exchange_n(&shared->last_reload_ms, &last, now, 0,
			   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		snprintf(err, errlen, "another reload is running; try again later");
		return -1;
	}
	r = af_rules_load(core_cfg.rules_path, err, errlen);
	if(!r || geo_validate(r, err, errlen) < 0) {
		af_rules_free(r);
		af_core_count(AF_ST_RELOAD_ERRORS);
		/* a failed reload does not count against the interval */
		__atomic_store_n(&shared->last_reload_ms, last, __ATOMIC_RELAXED);
		return -1;
	}
	gen = publish(r);
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

	if(!shared)
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

af_store_t *af_core_store(void)
{
	return store;
}

af_store_t *af_core_local_store(void)
{
	return local_store;
}

int af_core_clustered(void)
{
	return store && store != local_store;
}

int af_core_publish(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n, m;

	if(!af_core_clustered())
		return 0;
	n = snprintf(msg, sizeof(msg), "%016llx ",
			(unsigned long long)shared->node_id);
	va_start(ap, fmt);
	m = vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if(m < 0)
		return -1;
	if((size_t)(n + m) >= sizeof(msg))
		m = (int)(sizeof(msg) - 1 - (size_t)n);
	if(af_store_redis_publish(af_store_cluster_redis(store), msg,
			   (size_t)(n + m))
			< 0) {
		AF_WARN("redis: cannot publish '%s' to the other nodes\n", msg + n);
		return -1;
	}
	return 0;
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
			(unsigned long long)shared->node_id);
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
	op.key = key;
	op.key_len = wlen;
	if(op.type == AF_OP_BAN_SET) {
		const char *sw;
		size_t swlen;
		if(next_word(msg, len, &pos, &sw, &swlen) < 0 || swlen > 10)
			return -1;
		secs = strtoull(sw, NULL, 10);
		if(!secs || secs > UINT32_MAX)
			return -1;
		while(pos < len && msg[pos] == ' ')
			pos++;
		snprintf(reason, sizeof(reason), "%.*s", (int)(len - pos),
				msg + pos);
		op.u.ban_set.ttl_s = (uint32_t)secs;
		op.u.ban_set.reason = reason;
	}
	return local_store->ops->exec(local_store, &op, 1, af_now_ms());
}

/* ban_list callback of af_core_sync_bans: copies one ban into the local
 * store for the time it has left */
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
	local_store->ops->exec(local_store, &op, 1, now);
	return 0;
}

int af_core_sync_bans(void)
{
	af_store_t *rs;
	uint64_t now = af_now_ms();

	if(!af_core_clustered())
		return 0;
	rs = af_store_cluster_redis(store);
	return rs->ops->ban_list(rs, sync_one, &now, now);
}

void af_core_timer(void)
{
	af_rules_t *r;

	if(!store)
		return;
	store->ops->gc(store, af_now_ms(), 4096);
	if(af_core_clustered())
		af_store_cluster_probe(store, af_now_ms());
	r = af_core_acquire();
	af_dest_timer(r);
	af_core_release(r);
	af_alert_timer(af_now_ms());
}
