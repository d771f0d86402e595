/*
 * antifraud - the module's parameters, start, statistics, cluster
 * events and alert decision, for every glue (af_module.h).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "af_module.h"
#include "af_alert.h"
#include "af_host.h"
#include "af_file.h"
#include "af_rules.h"
#include "af_text.h"
#include "af_store_cluster.h"
#include "af_store_redis.h"

/* a breaker change waiting to be announced: 1 down, 2 up (shm) */
static int *af_mod_redis_pending;
static int af_mod_alert_event = 1;

/* the breaker changed (in any process): remembered for the timer */
static void af_mod_redis_changed(int up, const char *why)
{
	if(af_mod_redis_pending)
		__atomic_store_n(af_mod_redis_pending, up ? 2 : 1, __ATOMIC_RELEASE);
}

/* the cluster part of the parameters into rc and cfg; 0, -1 */
static int af_mod_redis_cfg(const af_params_t *p, af_redis_cfg_t *rc,
		af_core_cfg_t *cfg, char *err, size_t errlen)
{
	int fb;

	memset(rc, 0, sizeof(*rc));
	if(af_redis_parse_url(p->redis, rc, err, errlen) < 0)
		return -1;
	if(p->redis_connect_timeout < 1 || p->redis_command_timeout < 1
			|| p->redis_retry_interval < 10) {
		snprintf(err, errlen,
				"redis_connect_timeout and redis_command_timeout must be >= 1"
				" ms, redis_retry_interval >= 10 ms");
		return -1;
	}
	if(p->redis_release_queue < 0
			|| p->redis_release_queue > AF_CLUSTER_RELEASE_QUEUE_MAX) {
		snprintf(err, errlen, "redis_release_queue must be 0 to %d (got %d)",
				AF_CLUSTER_RELEASE_QUEUE_MAX, p->redis_release_queue);
		return -1;
	}
	rc->connect_timeout_ms = (uint32_t)p->redis_connect_timeout;
	rc->command_timeout_ms = (uint32_t)p->redis_command_timeout;
	if(strlen(p->redis_prefix) >= sizeof(rc->prefix)) {
		snprintf(err, errlen, "redis_prefix too long");
		return -1;
	}
	strcpy(rc->prefix, p->redis_prefix);
	fb = af_fallback_parse(p->redis_fallback);
	if(fb < 0) {
		snprintf(err, errlen,
				"redis_fallback must be local, open or closed (got '%.40s')",
				p->redis_fallback);
		return -1;
	}
	cfg->redis = rc;
	cfg->redis_fallback = (af_fallback_t)fb;
	cfg->redis_retry_ms = (uint32_t)p->redis_retry_interval;
	cfg->redis_release_queue = (uint32_t)p->redis_release_queue;
	return 0;
}

/* validates the rule file path on host (no shared memory): 0, -1 */
static int af_mod_check_rules(const char *path, const af_host_t *host,
		char *err, size_t errlen)
{
	const af_host_t *prev = af_host;
	af_rules_t *r;

	af_host_set(host);
	r = af_rules_load(path, err, errlen);
	if(r) {
		af_rules_summary(r, err, errlen);
		af_rules_free(r);
		AF_INFO("rule file %s: ok: %s\n", path, err);
	}
	af_host_set(prev);
	return r ? 0 : -1;
}

int af_module_param(af_params_t *p, const char *name, const char *val,
		const af_host_t *check_host, char *err, size_t errlen)
{
	char *copy;

	if(strcmp(name, "file_size_limits") == 0)
		return af_file_limits_parse(val, err, errlen);
	if(strcmp(name, "config") != 0) {
		snprintf(err, errlen, "no parameter %s", name);
		return -1;
	}
	copy = strdup(val);
	if(!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->config = copy;
	return check_host ? af_mod_check_rules(copy, check_host, err, errlen) : 0;
}

int af_module_init(const af_host_t *host, const af_params_t *p, char *err,
		size_t errlen)
{
	static af_redis_cfg_t rc;
	af_core_cfg_t cfg;
	char perr[256];

	af_host_set(host);
	if(p->shm_entries < 64 || p->shm_stripes < 1
			|| (p->shm_stripes & (p->shm_stripes - 1)) != 0) {
		snprintf(err, errlen,
				"shm_entries must be >= 64 and shm_stripes a power of two"
				" (got %d, %d)",
				p->shm_entries, p->shm_stripes);
		return -1;
	}
	if(p->timer_interval < 1) {
		snprintf(err, errlen, "timer_interval must be >= 1 s");
		return -1;
	}
	if(p->alert_repeat_interval < 0 || p->alert_repeat_interval > 86400
			|| p->alert_rate < 0 || p->alert_rate > 1000000
			|| p->alert_burst < 1 || p->alert_burst > 1000000) {
		snprintf(err, errlen,
				"alert_repeat_interval must be 0..86400 s, alert_rate"
				" 0..1000000 and alert_burst 1..1000000 (got %d, %d, %d)",
				p->alert_repeat_interval, p->alert_rate, p->alert_burst);
		return -1;
	}
	if(p->feed_interval < 0 || p->feed_interval > 86400) {
		snprintf(err, errlen, "feed_interval must be 0..86400 s (got %d)",
				p->feed_interval);
		return -1;
	}
	if(p->analytics_calls < 0 || p->analytics_calls > 1000000) {
		snprintf(err, errlen, "analytics_calls must be 0..1000000 (got %d)",
				p->analytics_calls);
		return -1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.rules_path = p->config;
	cfg.shm_entries = (uint32_t)p->shm_entries;
	cfg.shm_stripes = (uint32_t)p->shm_stripes;
	cfg.reload_min_s =
			p->reload_min_interval > 0 ? (uint32_t)p->reload_min_interval : 0;
	cfg.alert_repeat_s = (uint32_t)p->alert_repeat_interval;
	cfg.alert_rate = (uint32_t)p->alert_rate;
	cfg.alert_burst = (uint32_t)p->alert_burst;
	cfg.feed_interval_s = (uint32_t)p->feed_interval;
	if(p->redis && *p->redis
			&& af_mod_redis_cfg(p, &rc, &cfg, err, errlen) < 0)
		return -1;
	if(af_core_init(&cfg, err, errlen) < 0)
		return -1;
	af_mod_alert_event = p->alert_event;
	if(!af_core_clustered())
		return 0;
	af_mod_redis_pending = af_host->shm_alloc(sizeof(int));
	if(!af_mod_redis_pending) {
		snprintf(err, errlen, "out of shared memory");
		af_core_destroy();
		return -1;
	}
	*af_mod_redis_pending = 0;
	af_store_cluster_on_event(af_mod_redis_changed);
	if(af_store_redis_ping(
			   af_store_cluster_redis(af_core_store()), perr, sizeof(perr))
			< 0)
		AF_WARN("redis: not reachable now (%s): the node starts on its"
				" '%s' fallback and retries every %d ms\n",
				perr, p->redis_fallback, p->redis_retry_interval);
	/* the workers connect after the fork */
	af_store_redis_disconnect(af_store_cluster_redis(af_core_store()));
	return 0;
}

void af_module_started(const af_params_t *p)
{
	if(af_core_clustered())
		AF_INFO("rules from %s, state in Redis (%s), fallback '%s' in shared"
				" memory (%d entries)\n",
				p->config, p->redis, p->redis_fallback, p->shm_entries);
	else
		AF_INFO("rules from %s, state in shared memory (%d entries)\n",
				p->config, p->shm_entries);
}

void af_module_auth_learning(int sl, int tm)
{
	if(!sl && !tm)
		AF_WARN("auth_learn: neither sl nor tm is loaded: authentication"
				" results are learned only from af_auth_failed() and"
				" af_auth_ok()\n");
	else if(!sl || !tm)
		AF_INFO("auth_learn: learning from %s replies only\n",
				sl ? "stateless (sl)" : "stateful (tm)");
}

int af_module_timer(void)
{
	af_core_timer();
	return af_module_redis_event();
}

int af_module_redis_event(void)
{
	if(!af_mod_redis_pending)
		return 0;
	return __atomic_exchange_n(af_mod_redis_pending, 0, __ATOMIC_ACQ_REL);
}

const char *af_module_redis_state(void)
{
	if(!af_core_clustered())
		return "off";
	return af_store_cluster_up(af_core_store()) ? "up" : "down";
}

/* a cluster event from another node */
static void af_mod_event(const char *msg, size_t len, void *arg)
{
	char shown[AF_TEXT_EXCERPT_BUF];

	if(af_core_apply_event(msg, len) < 0)
		AF_WARN("ignored cluster event '%s'\n",
				af_text_excerpt(msg, len, shown));
}

/* the subscriber heard from Redis */
static void af_mod_alive(uint64_t until_ms, int first, void *arg)
{
	af_core_events_alive(until_ms, first);
}

static int af_mod_never(void *arg)
{
	return 0;
}

void af_module_events_loop(void)
{
	af_store_t *rs = af_store_cluster_redis(af_core_store());

	for(;;) {
		/* a node that starts or reconnects gets the cluster's bans in
		 * its fallback store */
		if(af_core_sync_bans() < 0)
			AF_DBG("redis: bans not synchronized (unavailable)\n");
		af_store_redis_subscribe_live(rs, af_mod_event, af_mod_alive, NULL,
				af_mod_never, 500);
		/* nothing heard from now on: sources found clear hold a second */
		af_core_events_alive(0, 0);
		sleep(1);
	}
}

/* the breaker's statistics, after the core's counters */
static const char *const af_mod_redis_stats[] = {"redis_up",
		"redis_down_events", "redis_fallbacks", "redis_releases_queued",
		"redis_releases_replayed", "redis_releases_dropped"};

#define AF_MOD_REDIS_STATS \
	(int)(sizeof(af_mod_redis_stats) / sizeof(af_mod_redis_stats[0]))

int af_module_stat_count(void)
{
	return AF_ST__COUNT + AF_MOD_REDIS_STATS;
}

const char *af_module_stat_name(int i)
{
	if(i < AF_ST__COUNT)
		return af_stat_name((af_stat_t)i);
	return af_mod_redis_stats[i - AF_ST__COUNT];
}

uint64_t af_module_stat(int i)
{
	af_cluster_stats_t cs;

	if(i < AF_ST__COUNT)
		return af_core_stat((af_stat_t)i);
	if(!af_core_clustered())
		return 0;
	af_store_cluster_stats(af_core_store(), &cs);
	switch(i - AF_ST__COUNT) {
		case 0:
			return (uint64_t)cs.up;
		case 1:
			return cs.down_events;
		case 2:
			return cs.fallback_execs;
		case 3:
			return cs.releases_queued;
		case 4:
			return cs.releases_replayed;
		default:
			return cs.releases_dropped;
	}
}

int af_module_alert(af_verdict_t *v, const af_request_t *req)
{
	if(!af_mod_alert_event)
		return 0;
	if(v->rc != AF_RC_ALERT && v->rc != AF_RC_BLOCK)
		return 0;
	/* a source refused for an existing ban is counted, not re-announced */
	if(v->reasons == AF_REASON_BIT(AF_R_BANNED))
		return 0;
	return af_alert_admit(v, req, af_now_ms());
}


#define AF_AUTH_ID_MAX 128

struct af_auth_pending {
	int done; /* atomic: the outcome was counted */
	int auth; /* the authentication result is learned from the replies */
	int mix;  /* atomic: 1 the final answer counts in the signal mix */
	af_ip_t src_ip;
	uint16_t src_port;
	int method;
	char profile[65];
	uint16_t user_len;
	uint16_t from_user_len;
	uint16_t host_len;
	char user[AF_AUTH_ID_MAX];
	char from_user[AF_AUTH_ID_MAX];
	char host[AF_AUTH_ID_MAX];
};

/* 1 when the reply in buf[0..len) challenges with stale=true */
static int af_mod_stale(const char *buf, size_t len)
{
	static const char pat[] = "stale=true";
	size_t i, n = sizeof(pat) - 1;

	for(i = 0; buf && i + n <= len; i++)
		if((buf[i] == 's' || buf[i] == 'S')
				&& strncasecmp(buf + i, pat, n) == 0)
			return 1;
	return 0;
}

int af_module_auth_outcome(int method, int code, const char *reply, size_t len)
{
	if(code == 401 || code == 407)
		return af_mod_stale(reply, len) ? -1 : 0;
	if(code == 403)
		return method == AF_M_REGISTER ? 0 : -1;
	if(method == AF_M_INVITE)
		return code >= 180 && code < 300 ? 1 : -1;
	return code >= 200 && code < 300 ? 1 : -1;
}

int af_module_auth_code(int code)
{
	return code == 401 || code == 403 || code == 407
		   || (code >= 180 && code < 300);
}

/* the profile af_check_source used for req, "" for the default */
static const char *af_mod_profile(const af_request_t *req)
{
	return req->memo ? req->memo->profile : "";
}

int af_module_auth_reply(const af_request_t *req, int code, const char *reply,
		size_t len, af_verdict_t *v)
{
	const char *profile = af_mod_profile(req);
	int ok;

	if(!req->auth_user.len || (req->memo && req->memo->auth_reported))
		return 0;
	ok = af_module_auth_outcome(req->method, code, reply, len);
	if(ok < 0)
		return 0;
	if(req->memo)
		req->memo->auth_reported = 1;
	af_auth_result(req, ok, profile, strlen(profile), v);
	return 1;
}

/* copies s into dst (at most AF_AUTH_ID_MAX); -1 when longer */
static int af_mod_copy(char *dst, uint16_t *dlen, const af_str_t *s)
{
	if(s->len > AF_AUTH_ID_MAX)
		return -1;
	if(s->len)
		memcpy(dst, s->s, s->len);
	*dlen = (uint16_t)s->len;
	return 0;
}

/* the record of a transaction's request: auth, mix as they apply */
static af_auth_pending_t *af_mod_pending(const af_request_t *req, int auth,
		int mix)
{
	af_auth_pending_t *p;

	if(!auth && !mix)
		return NULL;
	p = af_host->shm_alloc(sizeof(*p));
	if(!p) {
		AF_ERR("out of shared memory: a transaction's replies are not"
			   " learned\n");
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->auth = auth;
	p->mix = mix;
	p->src_ip = req->src_ip;
	p->src_port = req->src_port;
	p->method = req->method;
	memcpy(p->profile, af_mod_profile(req), sizeof(p->profile) - 1);
	if(af_mod_copy(p->user, &p->user_len, &req->auth_user) < 0
			|| af_mod_copy(p->from_user, &p->from_user_len, &req->from_user)
					   < 0
			|| af_mod_copy(p->host, &p->host_len, &req->from_host) < 0) {
		af_host->shm_free(p);
		return NULL;
	}
	return p;
}

/* 1 when req's authentication result is to be learned from its replies */
static int af_mod_auth_wanted(const af_request_t *req)
{
	return req->auth_user.len && !(req->memo && req->memo->auth_reported);
}

af_auth_pending_t *af_module_auth_pending(const af_request_t *req)
{
	return af_mod_pending(req, af_mod_auth_wanted(req), 0);
}

af_auth_pending_t *af_module_tx_pending(const af_request_t *req, int learn_auth)
{
	return af_mod_pending(req, learn_auth && af_mod_auth_wanted(req),
			af_module_mix_on());
}

int af_module_mix_on(void)
{
	af_rules_t *r = af_core_acquire();
	int on = r && r->analytics.enabled && r->analytics.mix_window_s;

	af_core_release(r);
	return on;
}

/* the request p stands for, into req (pointing into p) */
static void af_mod_pending_request(const af_auth_pending_t *p,
		af_request_t *req)
{
	memset(req, 0, sizeof(*req));
	req->src_ip = p->src_ip;
	req->src_port = p->src_port;
	req->method = (af_method_t)p->method;
	req->initial = 1;
	req->auth_user.s = p->user;
	req->auth_user.len = p->user_len;
	req->from_user.s = p->from_user;
	req->from_user.len = p->from_user_len;
	req->from_host.s = p->host;
	req->from_host.len = p->host_len;
}

int af_module_mix_reply(af_auth_pending_t *p, int code, af_request_t *req,
		af_verdict_t *v)
{
	af_memo_t memo;

	if(!p || code < 200 || !__atomic_exchange_n(&p->mix, 0, __ATOMIC_ACQ_REL))
		return 0;
	af_mod_pending_request(p, req);
	memset(&memo, 0, sizeof(memo));
	memcpy(memo.profile, p->profile, sizeof(memo.profile));
	req->memo = &memo;
	af_signal_count(req, code, af_now_ms(), v);
	req->memo = NULL;
	return v->rc == AF_RC_ALERT;
}

int af_module_signal(const af_request_t *req, int code, af_verdict_t *v)
{
	return af_signal_count(req, code, af_now_ms(), v) == AF_RC_ALERT;
}


int af_module_auth_pending_reply(af_auth_pending_t *p, int code,
		const char *reply, size_t len, af_request_t *req, af_verdict_t *v)
{
	int ok;

	if(!p || !p->auth || __atomic_load_n(&p->done, __ATOMIC_ACQUIRE))
		return 0;
	ok = af_module_auth_outcome(p->method, code, reply, len);
	if(ok < 0 || __atomic_exchange_n(&p->done, 1, __ATOMIC_ACQ_REL))
		return 0;
	af_mod_pending_request(p, req);
	af_auth_result(req, ok, p->profile, strlen(p->profile), v);
	return 1;
}

void af_module_auth_pending_done(af_auth_pending_t *p)
{
	if(p)
		__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
}

void af_module_auth_pending_free(af_auth_pending_t *p)
{
	if(p)
		af_host->shm_free(p);
}

int af_module_auth_report(const af_request_t *req, int ok, af_verdict_t *v)
{
	const char *profile = af_mod_profile(req);

	if(req->memo)
		req->memo->auth_reported = 1;
	return af_auth_result(req, ok, profile, strlen(profile), v);
}
