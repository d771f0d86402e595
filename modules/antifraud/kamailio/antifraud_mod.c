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
#include "core/timer_proc.h"
#include "core/kemi.h"
#include "core/counters.h"
#include "core/rpc_lookup.h"
#include "core/pt.h"
#include "core/fmsg.h"
#include "core/cfg/cfg_struct.h"
#include "core/globals.h"
#include "core/mem/mem.h"
#include "af_kam.h"

MODULE_VERSION


static af_params_t af_p = AF_PARAMS_DEFAULT("/etc/kamailio/antifraud/antifraud.yaml");
/* Kamailio only: labelled metrics into xhttp_prom, seconds between
 * pushes (0: never); the KEMI function run for the events */
static int af_prom_interval = 5;
static str af_event_callback = STR_NULL;

static int af_redis_rt = -1; /* event_route[antifraud:redis] */

static int mod_init(void);
static int child_init(int rank);
static void mod_destroy(void);
static int w_af_check_source(struct sip_msg *msg, char *profile, char *p2);
static int w_af_check_fingerprint(
		struct sip_msg *msg, char *profile, char *p2);
static int w_af_check_dest(struct sip_msg *msg, char *profile, char *p2);
static int w_af_auth_failed(struct sip_msg *msg, char *p1, char *p2);
static int w_af_auth_ok(struct sip_msg *msg, char *p1, char *p2);
static int af_param(const char *name, const char *val);

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

/* a parameter given as a function: set and checked by the core (under
 * kamailio -c the rule file is validated at once, before mod_init) */
#define AF_PARAM_FN(n)                                                 \
	static int af_param_##n(modparam_t type, void *val)                \
	{                                                                  \
		return af_param(#n, (const char *)val);                        \
	}
#define AF_PARAM_STR(n)
#define AF_PARAM_INT(n)
#include "af_module.def"
#undef AF_PARAM_FN
#undef AF_PARAM_STR
#undef AF_PARAM_INT

#define AF_PARAM_STR(n) {#n, PARAM_STRING, &af_p.n},
#define AF_PARAM_INT(n) {#n, PARAM_INT, &af_p.n},
#define AF_PARAM_FN(n) {#n, PARAM_STRING | PARAM_USE_FUNC, (void *)af_param_##n},
static param_export_t params[] = {
#include "af_module.def"
	{"prom_interval", PARAM_INT, &af_prom_interval},
	{"event_callback", PARAM_STR, &af_event_callback},
	{0, 0, 0}
};
#undef AF_PARAM_STR
#undef AF_PARAM_INT
#undef AF_PARAM_FN

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
static counter_val_t af_stat(counter_handle_t h, void *param)
{
	return (counter_val_t)af_module_stat((int)(long)param);
}

/* registers every statistic of af_module_stat_name(); 0, -1 */
static int af_register_stats(void)
{
	int i;

	for(i = 0; i < af_module_stat_count(); i++)
		if(counter_register(NULL, "antifraud", af_module_stat_name(i),
				   CNT_F_NO_RESET, af_stat, (void *)(long)i,
				   "antifraud statistic", 0)
				< 0)
			return -1;
	return 0;
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
	int ev = af_module_timer();

	af_kam_prom_timer(af_now_ms());
	af_kam_outcome_timer();
	if(ev)
		af_redis_announce(ev == 2);
}

/*
 * modparam config and file_size_limits (af_module_param()). Under
 * kamailio -c (config_check) Kamailio parses the script and exits before
 * mod_init: the rule file is validated when its parameter is read, and
 * the result printed on standard error too, as -c reports there.
 */
static int af_param(const char *name, const char *val)
{
	char err[1024];
	int rc;

	rc = af_module_param(&af_p, name, val,
			config_check ? &af_kam_check_host : NULL, err, sizeof(err));
	if(rc < 0)
		LM_ERR("%s: %s\n", name, err);
	if(config_check && !log_stderr && strcmp(name, "config") == 0) {
		if(rc < 0)
			fprintf(stderr, "antifraud: %s\n", err);
		else
			fprintf(stderr, "antifraud: %s: ok: %s\n", af_p.config, err);
	}
	return rc;
}

static int mod_init(void)
{
	char err[512];

	if(af_prom_interval < 0 || af_prom_interval > 86400) {
		LM_ERR("prom_interval must be 0..86400 s (got %d)\n",
				af_prom_interval);
		return -1;
	}
	if(af_module_init(&af_kam_host, &af_p, err, sizeof(err)) < 0) {
		LM_ERR("%s\n", err);
		return -1;
	}
	af_kam_prom_init(af_prom_interval);
	if(af_module_ends_init(&af_p, err, sizeof(err)) < 0) {
		LM_ERR("%s\n", err);
		goto error;
	}
	if(af_module_end_batch_ms() > 0) {
		/* the process that ends the queued calls (af_kam_ends_timer) */
		register_procs(1);
		cfg_register_child(1);
	}
	if(af_core_clustered()) {
		/* the subscriber for the other nodes' bans, unbans, reloads */
		register_procs(1);
		cfg_register_child(1);
		if(faked_msg_init() < 0) {
			LM_ERR("cannot initialize the faked message\n");
			goto error;
		}
	}
	af_cmd_set_parser(&af_kam_check_parser);
	if(rpc_register_array(af_kam_rpc_cmds) != 0) {
		LM_ERR("failed to register RPC commands\n");
		goto error;
	}
	if(af_register_stats() < 0) {
		LM_ERR("failed to register statistics\n");
		goto error;
	}
	if(af_kam_dlg_init(af_p.analytics_calls) < 0)
		goto error;
	if(af_kam_outcome_init(af_p.auth_learn) < 0)
		goto error;
	if(register_timer(af_kam_timer, 0, (unsigned)af_p.timer_interval) < 0) {
		LM_ERR("failed to register the timer\n");
		goto error;
	}
	af_kam_verdict_init(&af_event_callback);
	af_redis_rt = route_lookup(&event_rt, "antifraud:redis");
	if(af_redis_rt >= 0 && event_rt.rlist[af_redis_rt] == NULL)
		af_redis_rt = -1;
	af_module_started(&af_p);
	return 0;

error:
	af_core_destroy();
	return -1;
}

/* free sip_msg-sized blocks af_kam_msg_room leaves in each worker */
#define AF_MSG_ROOMS 2

/*
 * Kamailio's default pkg allocator (q_malloc) looks for a block by
 * walking its ~2,000 size buckets up from the size asked for, and joins
 * a freed block with its free neighbours. receive_msg allocates each
 * message's sip_msg first and frees it last: when no free block of that
 * size lies below the top of the heap, every sip_msg is cut from the top,
 * merges back into it when freed, and the next message walks every bucket
 * again (~20 k instructions and as many bucket heads read per message).
 * Whether such a block exists is an accident of the startup (the
 * script's fixups, the modules loaded). Leaves AF_MSG_ROOMS free
 * sip_msg-sized blocks, each kept apart from its neighbours by a block
 * held for the process's life (a small allocation made later splits one
 * of them, not all). Harmless with the other allocators.
 */
static void af_kam_msg_room(void)
{
	void *b[2 * AF_MSG_ROOMS];
	int i;

	for(i = 0; i < 2 * AF_MSG_ROOMS; i++)
		b[i] = pkg_malloc(sizeof(struct sip_msg));
	for(i = 0; i < 2 * AF_MSG_ROOMS; i += 2)
		if(b[i])
			pkg_free(b[i]);
}

/* each process that handles requests leaves room for its messages
 * (af_kam_msg_room) and compiles its own JIT code now, not on its first
 * request */
static int child_init(int rank)
{
	int pid;

	if(rank == PROC_MAIN && af_module_end_batch_ms() > 0
			&& fork_basic_utimer(PROC_TIMER, "antifraud call ends", 1,
					   af_kam_ends_timer, NULL,
					   (unsigned)af_module_end_batch_ms() * 1000)
					   < 0) {
		LM_ERR("cannot start the call ends' process\n");
		return -1;
	}
	if(rank == PROC_MAIN && af_core_clustered()) {
		pid = fork_process(PROC_NOCHLDINIT, "antifraud cluster events", 1);
		if(pid < 0)
			return -1;
		if(pid == 0) {
			if(cfg_child_init())
				return -1;
			af_module_events_loop();
		}
		return 0;
	}
	if(rank != PROC_INIT && rank != PROC_MAIN && rank != PROC_TCP_MAIN) {
		af_kam_msg_room();
		af_core_warmup();
	}
	return 0;
}

static void mod_destroy(void)
{
	af_module_ends_last();
	af_module_ends_destroy();
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
