/*
 * antifraud - Kamailio module: exports, parameters, script functions,
 * statistics, the cluster's events and the timer ($antifraud and the
 * alert event: af_kam_pv.c).
 *
 * Thin glue: the checks live in the core (../core/af_*.c).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include "core/sr_module.h"
#include "core/dprint.h"
#include "core/mod_fix.h"
#include "core/pvar.h"
#include "core/route.h"
#include "core/action.h"
#include "core/timer.h"
#include "core/kemi.h"
#include "core/counters.h"
#include "core/rpc_lookup.h"
#include "core/pt.h"
#include "core/fmsg.h"
#include "core/cfg/cfg_struct.h"
#include "core/globals.h"
#include "core/mem/mem.h"
#include "af_file.h"
#include "af_kam.h"
#include "af_text.h"

MODULE_VERSION


static char *af_config = "/etc/kamailio/antifraud/antifraud.yaml";
static int af_shm_entries = 65536;
static int af_shm_stripes = 64;
static int af_reload_min_interval = 1;
static int af_timer_interval = 1;
static int af_alert_event = 1;
static int af_alert_repeat_interval = AF_ALERT_REPEAT_S;
static int af_alert_rate = AF_ALERT_RATE;
static int af_alert_burst = AF_ALERT_BURST;
/* cluster mode */
static char *af_redis = "";
static int af_redis_connect_timeout = 20;
static int af_redis_command_timeout = 10;
static char *af_redis_prefix = "af:";
static char *af_redis_fallback = "local";
static int af_redis_retry_interval = 1000;
/* account protection: learn authentication results from replies */
static int af_auth_learn = 1;
/* live list files: seconds between looks at them (0: never) */
static int af_feed_interval = 5;
/* labelled metrics into xhttp_prom: seconds between pushes (0: never) */
static int af_prom_interval = 5;
/* KEMI: the function run for the events (with their names) */
static str af_event_callback = STR_NULL;
static int af_analytics_calls = 8192; /* calls the duration guard watches */

static int af_redis_rt = -1; /* event_route[antifraud:redis] */
/* a breaker change waiting for the timer to announce it: 1 down, 2 up */
static int *af_redis_event_pending;

static int mod_init(void);
static int child_init(int rank);
static int af_set_config(modparam_t type, void *val);
static int af_set_file_size_limits(modparam_t type, void *val);
static void mod_destroy(void);
static int w_af_check_source(struct sip_msg *msg, char *profile, char *p2);
static int w_af_check_fingerprint(
		struct sip_msg *msg, char *profile, char *p2);
static int w_af_check_dest(struct sip_msg *msg, char *profile, char *p2);
static int w_af_auth_failed(struct sip_msg *msg, char *p1, char *p2);
static int w_af_auth_ok(struct sip_msg *msg, char *p1, char *p2);

/* clang-format off */
static cmd_export_t cmds[] = {
	{"af_check_source", (cmd_function)w_af_check_source, 0, 0, 0,
		ANY_ROUTE},
	{"af_check_source", (cmd_function)w_af_check_source, 1, fixup_spve_null,
		fixup_free_spve_null, ANY_ROUTE},
	{"af_check_fingerprint", (cmd_function)w_af_check_fingerprint, 0, 0, 0,
		ANY_ROUTE},
	{"af_check_fingerprint", (cmd_function)w_af_check_fingerprint, 1,
		fixup_spve_null, fixup_free_spve_null, ANY_ROUTE},
	{"af_check_dest", (cmd_function)w_af_check_dest, 0, 0, 0,
		REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE},
	{"af_check_dest", (cmd_function)w_af_check_dest, 1, fixup_spve_null,
		fixup_free_spve_null, REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE},
	{"af_auth_failed", (cmd_function)w_af_auth_failed, 0, 0, 0,
		REQUEST_ROUTE},
	{"af_auth_ok", (cmd_function)w_af_auth_ok, 0, 0, 0, REQUEST_ROUTE},
	{0, 0, 0, 0, 0, 0}
};

static param_export_t params[] = {
	{"config", PARAM_STRING | PARAM_USE_FUNC, (void *)af_set_config},
	{"file_size_limits", PARAM_STRING | PARAM_USE_FUNC,
		(void *)af_set_file_size_limits},
	{"shm_entries", PARAM_INT, &af_shm_entries},
	{"shm_stripes", PARAM_INT, &af_shm_stripes},
	{"reload_min_interval", PARAM_INT, &af_reload_min_interval},
	{"timer_interval", PARAM_INT, &af_timer_interval},
	{"alert_event", PARAM_INT, &af_alert_event},
	{"alert_repeat_interval", PARAM_INT, &af_alert_repeat_interval},
	{"alert_rate", PARAM_INT, &af_alert_rate},
	{"alert_burst", PARAM_INT, &af_alert_burst},
	{"redis", PARAM_STRING, &af_redis},
	{"redis_connect_timeout", PARAM_INT, &af_redis_connect_timeout},
	{"redis_command_timeout", PARAM_INT, &af_redis_command_timeout},
	{"redis_prefix", PARAM_STRING, &af_redis_prefix},
	{"redis_fallback", PARAM_STRING, &af_redis_fallback},
	{"redis_retry_interval", PARAM_INT, &af_redis_retry_interval},
	{"auth_learn", PARAM_INT, &af_auth_learn},
	{"feed_interval", PARAM_INT, &af_feed_interval},
	{"prom_interval", PARAM_INT, &af_prom_interval},
	{"event_callback", PARAM_STR, &af_event_callback},
	{"analytics_calls", PARAM_INT, &af_analytics_calls},
	{0, 0, 0}
};

static pv_export_t mod_pvs[] = {
	{{"antifraud", sizeof("antifraud") - 1}, PVT_OTHER, af_kam_pv_get, 0, af_kam_pv_parse_name, 0,
		0, 0},
	{{0, 0}, 0, 0, 0, 0, 0, 0, 0}
};

struct module_exports exports = {
	"antifraud",     /* module name */
	DEFAULT_DLFLAGS, /* dlopen flags */
	cmds,            /* exported functions */
	params,          /* exported parameters */
	0,               /* RPC methods: registered in mod_init */
	mod_pvs,         /* exported pseudo-variables */
	0,               /* response handling function */
	mod_init,        /* module init function */
	child_init,      /* per-child init function */
	mod_destroy      /* module destroy function */
};
/* clang-format on */

/* statistics: read from the core's shared counters */
#define AF_STAT_FN(id)                     \
	static counter_val_t af_stat_##id(void) \
	{                                      \
		return af_core_stat(id);           \
	}
#define AF_STAT(id, name) AF_STAT_FN(AF_ST_##id)
#include "af_table.def"
#undef AF_STAT

/* cluster mode: the breaker */
static counter_val_t af_stat_redis_up(void)
{
	af_cluster_stats_t cs;

	if(!af_core_clustered())
		return 0;
	af_store_cluster_stats(af_core_store(), &cs);
	return cs.up;
}

static counter_val_t af_stat_redis_down_events(void)
{
	af_cluster_stats_t cs;

	if(!af_core_clustered())
		return 0;
	af_store_cluster_stats(af_core_store(), &cs);
	return cs.down_events;
}

static counter_val_t af_stat_redis_fallbacks(void)
{
	af_cluster_stats_t cs;

	if(!af_core_clustered())
		return 0;
	af_store_cluster_stats(af_core_store(), &cs);
	return cs.fallback_execs;
}

#define AF_STAT_EXPORT(name, id) \
	{name, STAT_IS_FUNC | STAT_NO_RESET, (stat_var **)af_stat_##id}

/* clang-format off */
static stat_export_t mod_stats[] = {
#define AF_STAT(id, name) AF_STAT_EXPORT(name, AF_ST_##id),
#include "af_table.def"
#undef AF_STAT
	{"redis_up", STAT_IS_FUNC | STAT_NO_RESET, (stat_var **)af_stat_redis_up},
	{"redis_down_events", STAT_IS_FUNC | STAT_NO_RESET,
		(stat_var **)af_stat_redis_down_events},
	{"redis_fallbacks", STAT_IS_FUNC | STAT_NO_RESET,
		(stat_var **)af_stat_redis_fallbacks},
	{0, 0, 0}
};
/* clang-format on */

/* the breaker changed (any process): the timer announces it */
static void af_redis_changed(int up, const char *why)
{
	if(af_redis_event_pending)
		__atomic_store_n(af_redis_event_pending, up ? 2 : 1, __ATOMIC_RELEASE);
}

/* runs event_route[antifraud:redis] with $antifraud(redis) set, on a
 * faked message (there is no request behind a breaker change) */
static void af_redis_announce(int up)
{
	sip_msg_t *fmsg;

	LM_NOTICE("redis: %s\n", up ? "up again" : "down");
	if(!af_kam_event_wanted(af_redis_rt))
		return;
	fmsg = faked_msg_next();
	if(!fmsg)
		return;
	af_kam_run_event(af_redis_rt, fmsg, EVENT_ROUTE, "antifraud:redis");
}

static void af_kam_timer(unsigned int ticks, void *param)
{
	int ev;

	af_core_timer();
	af_kam_prom_timer(af_now_ms());
	af_kam_outcome_timer();
	if(af_redis_event_pending
			&& (ev = __atomic_exchange_n(af_redis_event_pending, 0,
						__ATOMIC_ACQ_REL)))
		af_redis_announce(ev == 2);
}

/* cluster events from the other nodes: the subscriber process */
static void af_events_cb(const char *msg, size_t len, void *arg)
{
	char shown[AF_TEXT_EXCERPT_BUF];

	if(af_core_apply_event(msg, len) < 0)
		LM_WARN("ignored cluster event '%s'\n",
				af_text_excerpt(msg, len, shown));
}

static int af_events_stop(void *arg)
{
	return 0;
}

static void af_events_loop(void)
{
	af_store_t *rs = af_store_cluster_redis(af_core_store());

	for(;;) {
		/* a node that starts or reconnects gets the cluster's bans in
		 * its fallback store */
		if(af_core_sync_bans() < 0)
			LM_DBG("redis: bans not synchronized (unavailable)\n");
		af_store_redis_subscribe(rs, af_events_cb, NULL, af_events_stop, 500);
		sleep(1);
	}
}

/* modparam redis...: the cluster configuration; 0, -1 on error */
static int af_redis_config(af_redis_cfg_t *rc, af_core_cfg_t *cfg)
{
	char err[256];
	int fb;

	memset(rc, 0, sizeof(*rc));
	if(af_redis_parse_url(af_redis, rc, err, sizeof(err)) < 0) {
		LM_ERR("redis: %s\n", err);
		return -1;
	}
	if(af_redis_connect_timeout < 1 || af_redis_command_timeout < 1
			|| af_redis_retry_interval < 10) {
		LM_ERR("redis_connect_timeout and redis_command_timeout must be >= 1"
			   " ms, redis_retry_interval >= 10 ms\n");
		return -1;
	}
	rc->connect_timeout_ms = (uint32_t)af_redis_connect_timeout;
	rc->command_timeout_ms = (uint32_t)af_redis_command_timeout;
	if(strlen(af_redis_prefix) >= sizeof(rc->prefix)) {
		LM_ERR("redis_prefix too long\n");
		return -1;
	}
	strcpy(rc->prefix, af_redis_prefix);
	fb = af_fallback_parse(af_redis_fallback);
	if(fb < 0) {
		LM_ERR("redis_fallback must be local, open or closed (got '%s')\n",
				af_redis_fallback);
		return -1;
	}
	cfg->redis = rc;
	cfg->redis_fallback = (af_fallback_t)fb;
	cfg->redis_retry_ms = (uint32_t)af_redis_retry_interval;
	return 0;
}

/*
 * Under kamailio -c (config_check) Kamailio parses the script and exits
 * before mod_init: the rule file is validated here, when its parameter
 * is read, with the module's loader. Prints "file:line: what" on
 * standard error too, as -c reports there. Returns 0, or -1 to fail the
 * check.
 */
static int af_check_rules(void)
{
	const af_host_t *prev = af_host;
	char err[1024], sum[256];
	af_rules_t *r;

	af_host_set(&af_kam_check_host);
	r = af_rules_load(af_config, err, sizeof(err));
	if(r) {
		af_rules_summary(r, sum, sizeof(sum));
		af_rules_free(r);
	}
	af_host_set(prev);
	if(!r) {
		LM_ERR("rule file: %s\n", err);
		if(!log_stderr)
			fprintf(stderr, "antifraud: %s\n", err);
		return -1;
	}
	LM_INFO("rule file %s: ok: %s\n", af_config, sum);
	if(!log_stderr)
		fprintf(stderr, "antifraud: %s: ok: %s\n", af_config, sum);
	return 0;
}

/* modparam config: the rule file; checked at once under kamailio -c */
static int af_set_config(modparam_t type, void *val)
{
	size_t len = strlen((const char *)val);
	char *copy;

	copy = pkg_malloc(len + 1);
	if(!copy) {
		PKG_MEM_ERROR;
		return -1;
	}
	memcpy(copy, val, len + 1);
	af_config = copy;
	return config_check ? af_check_rules() : 0;
}

/* modparam file_size_limits: "kind=MiB,..." (af_file_limits_parse()) */
static int af_set_file_size_limits(modparam_t type, void *val)
{
	char err[256];

	if(af_file_limits_parse((const char *)val, err, sizeof(err)) < 0) {
		LM_ERR("%s\n", err);
		return -1;
	}
	return 0;
}

static int mod_init(void)
{
	af_core_cfg_t cfg;
	static af_redis_cfg_t rcfg;
	char err[512];

	af_host_set(&af_kam_host);
	if(af_shm_entries < 64 || af_shm_stripes < 1
			|| (af_shm_stripes & (af_shm_stripes - 1)) != 0) {
		LM_ERR("shm_entries must be >= 64 and shm_stripes a power of two"
			   " (got %d, %d)\n",
				af_shm_entries, af_shm_stripes);
		return -1;
	}
	if(af_timer_interval < 1) {
		LM_ERR("timer_interval must be >= 1 s\n");
		return -1;
	}
	if(af_alert_repeat_interval < 0 || af_alert_repeat_interval > 86400
			|| af_alert_rate < 0 || af_alert_rate > 1000000
			|| af_alert_burst < 1 || af_alert_burst > 1000000) {
		LM_ERR("alert_repeat_interval must be 0..86400 s, alert_rate"
			   " 0..1000000 and alert_burst 1..1000000 (got %d, %d, %d)\n",
				af_alert_repeat_interval, af_alert_rate, af_alert_burst);
		return -1;
	}
	if(af_feed_interval < 0 || af_feed_interval > 86400
			|| af_prom_interval < 0 || af_prom_interval > 86400) {
		LM_ERR("feed_interval and prom_interval must be 0..86400 s (got %d,"
			   " %d)\n",
				af_feed_interval, af_prom_interval);
		return -1;
	}
	af_kam_prom_init(af_prom_interval);
	memset(&cfg, 0, sizeof(cfg));
	cfg.rules_path = af_config;
	cfg.shm_entries = (uint32_t)af_shm_entries;
	cfg.shm_stripes = (uint32_t)af_shm_stripes;
	cfg.reload_min_s =
			af_reload_min_interval > 0 ? (uint32_t)af_reload_min_interval : 0;
	cfg.alert_repeat_s = (uint32_t)af_alert_repeat_interval;
	cfg.alert_rate = (uint32_t)af_alert_rate;
	cfg.alert_burst = (uint32_t)af_alert_burst;
	cfg.feed_interval_s = (uint32_t)af_feed_interval;
	if(af_redis && *af_redis && af_redis_config(&rcfg, &cfg) < 0)
		return -1;
	if(af_core_init(&cfg, err, sizeof(err)) < 0) {
		LM_ERR("%s\n", err);
		return -1;
	}
	if(af_core_clustered()) {
		af_redis_event_pending = shm_malloc(sizeof(int));
		if(!af_redis_event_pending) {
			SHM_MEM_ERROR;
			goto error;
		}
		*af_redis_event_pending = 0;
		af_store_cluster_on_event(af_redis_changed);
		if(af_store_redis_ping(af_store_cluster_redis(af_core_store()), err,
				   sizeof(err))
				< 0)
			LM_WARN("redis: not reachable now (%s): the node starts on its"
					" '%s' fallback and retries every %d ms\n",
					err, af_redis_fallback, af_redis_retry_interval);
		af_store_redis_disconnect(af_store_cluster_redis(af_core_store()));
		/* the subscriber for the other nodes' bans, unbans, reloads */
		register_procs(1);
		cfg_register_child(1);
		if(faked_msg_init() < 0) {
			LM_ERR("cannot initialize the faked message\n");
			goto error;
		}
	}
	if(rpc_register_array(af_kam_rpc_cmds) != 0) {
		LM_ERR("failed to register RPC commands\n");
		goto error;
	}
	if(register_module_stats("antifraud", mod_stats) != 0) {
		LM_ERR("failed to register statistics\n");
		goto error;
	}
	if(af_analytics_calls < 0 || af_analytics_calls > 1000000) {
		LM_ERR("analytics_calls must be 0..1000000 (got %d)\n",
				af_analytics_calls);
		goto error;
	}
	if(af_kam_dlg_live_init(af_analytics_calls) < 0)
		goto error;
	if(af_kam_dlg_init() < 0)
		goto error;
	if(af_kam_outcome_init() < 0)
		goto error;
	if(af_kam_auth_init(af_auth_learn) < 0)
		goto error;
	if(register_timer(af_kam_timer, 0, (unsigned)af_timer_interval) < 0) {
		LM_ERR("failed to register the timer\n");
		goto error;
	}
	af_kam_verdict_init(af_alert_event, &af_event_callback);
	af_redis_rt = route_lookup(&event_rt, "antifraud:redis");
	if(af_redis_rt >= 0 && event_rt.rlist[af_redis_rt] == NULL)
		af_redis_rt = -1;
	if(af_core_clustered())
		LM_INFO("rules from %s, state in Redis (%s), fallback '%s' in"
				" shared memory (%d entries)\n",
				af_config, af_redis, af_redis_fallback, af_shm_entries);
	else
		LM_INFO("rules from %s, state in shared memory (%d entries)\n",
				af_config, af_shm_entries);
	return 0;

error:
	af_core_destroy();
	return -1;
}

/* each process that handles requests compiles its own JIT code now,
 * not on its first request */
static int child_init(int rank)
{
	int pid;

	if(rank == PROC_MAIN && af_core_clustered()) {
		pid = fork_process(PROC_NOCHLDINIT, "antifraud cluster events", 1);
		if(pid < 0)
			return -1;
		if(pid == 0) {
			if(cfg_child_init())
				return -1;
			af_events_loop();
			exit(0);
		}
		return 0;
	}
	if(rank != PROC_INIT && rank != PROC_MAIN && rank != PROC_TCP_MAIN)
		af_core_warmup();
	return 0;
}

static void mod_destroy(void)
{
	af_core_destroy();
}

typedef int (*af_check_f)(const af_request_t *req, const char *profile,
		size_t profile_len, af_verdict_t *v);

/*
 * Runs one of the core's checks on msg, writing its verdict in place as
 * this process's last one (it is large), holds what af_check_dest
 * admitted until the call ends, and publishes the verdict.
 */
static int af_run_check(struct sip_msg *msg, str *profile, af_check_f check,
		const char *name)
{
	af_request_t req;
	af_verdict_t *v;

	if(af_kam_request(msg, &req) < 0) {
		LM_ERR("%s: not a request\n", name);
		return AF_RC_ERROR;
	}
	/* the request is a signal of its source's mix (its alert, if any,
	 * is announced before the check's verdict, which stays the last) */
	if(check == af_check_source)
		af_kam_signal_request(msg, &req);
	v = af_kam_verdict_slot();
	check(&req, profile ? profile->s : NULL,
			profile ? (size_t)profile->len : 0, v);
	if(check == af_check_dest)
		af_kam_dest_checked(msg, &req, v);
	return af_kam_announce(msg, &req, v);
}

static int ki_af_check_source_profile(struct sip_msg *msg, str *profile)
{
	return af_run_check(msg, profile, af_check_source, "af_check_source");
}

static int ki_af_check_fingerprint_profile(struct sip_msg *msg, str *profile)
{
	return af_run_check(
			msg, profile, af_check_fingerprint, "af_check_fingerprint");
}

static int ki_af_check_dest_profile(struct sip_msg *msg, str *profile)
{
	return af_run_check(msg, profile, af_check_dest, "af_check_dest");
}

static int ki_af_auth_failed(struct sip_msg *msg)
{
	return af_kam_auth_report(msg, 0);
}

static int ki_af_auth_ok(struct sip_msg *msg)
{
	return af_kam_auth_report(msg, 1);
}

static int w_af_auth_failed(struct sip_msg *msg, char *p1, char *p2)
{
	return ki_af_auth_failed(msg);
}

static int w_af_auth_ok(struct sip_msg *msg, char *p1, char *p2)
{
	return ki_af_auth_ok(msg);
}

static int ki_af_check_dest(struct sip_msg *msg)
{
	return ki_af_check_dest_profile(msg, NULL);
}

static int ki_af_check_fingerprint(struct sip_msg *msg)
{
	return ki_af_check_fingerprint_profile(msg, NULL);
}

static int ki_af_check_source(struct sip_msg *msg)
{
	return ki_af_check_source_profile(msg, NULL);
}

/* the profile name of a script call, or NULL; -1 on error */
static int af_profile_param(struct sip_msg *msg, char *profile, str *name)
{
	if(!profile)
		return 0;
	if(fixup_get_svalue(msg, (gparam_t *)profile, name) < 0) {
		LM_ERR("cannot evaluate the profile name\n");
		return -1;
	}
	return 1;
}

static int w_af_check_source(struct sip_msg *msg, char *profile, char *p2)
{
	str name = STR_NULL;
	int rc = af_profile_param(msg, profile, &name);

	if(rc < 0)
		return AF_RC_ERROR;
	return ki_af_check_source_profile(msg, rc ? &name : NULL);
}

static int w_af_check_dest(struct sip_msg *msg, char *profile, char *p2)
{
	str name = STR_NULL;
	int rc = af_profile_param(msg, profile, &name);

	if(rc < 0)
		return AF_RC_ERROR;
	return ki_af_check_dest_profile(msg, rc ? &name : NULL);
}

static int w_af_check_fingerprint(
		struct sip_msg *msg, char *profile, char *p2)
{
	str name = STR_NULL;
	int rc = af_profile_param(msg, profile, &name);

	if(rc < 0)
		return AF_RC_ERROR;
	return ki_af_check_fingerprint_profile(msg, rc ? &name : NULL);
}

/* clang-format off */
static sr_kemi_t sr_kemi_antifraud_exports[] = {
	{ str_init("antifraud"), str_init("af_check_source"),
		SR_KEMIP_INT, ki_af_check_source,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("antifraud"), str_init("af_check_source_profile"),
		SR_KEMIP_INT, ki_af_check_source_profile,
		{ SR_KEMIP_STR, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("antifraud"), str_init("af_check_fingerprint"),
		SR_KEMIP_INT, ki_af_check_fingerprint,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("antifraud"), str_init("af_check_fingerprint_profile"),
		SR_KEMIP_INT, ki_af_check_fingerprint_profile,
		{ SR_KEMIP_STR, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("antifraud"), str_init("af_check_dest"),
		SR_KEMIP_INT, ki_af_check_dest,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("antifraud"), str_init("af_check_dest_profile"),
		SR_KEMIP_INT, ki_af_check_dest_profile,
		{ SR_KEMIP_STR, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("antifraud"), str_init("af_auth_failed"),
		SR_KEMIP_INT, ki_af_auth_failed,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("antifraud"), str_init("af_auth_ok"),
		SR_KEMIP_INT, ki_af_auth_ok,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ {0, 0}, {0, 0}, 0, NULL, { 0, 0, 0, 0, 0, 0 } }
};
/* clang-format on */

int mod_register(char *path, int *dlflags, void *p1, void *p2)
{
	sr_kemi_modules_add(sr_kemi_antifraud_exports);
	return 0;
}
