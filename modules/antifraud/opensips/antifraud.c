/*
 * antifraud - OpenSIPS module: exports, parameters, script functions,
 * $antifraud(...), statistics, the events E_ANTIFRAUD_ALERT and
 * E_ANTIFRAUD_REDIS, the timer and the cluster's event process.
 *
 * Thin glue: the checks, commands and variables live in the core
 * (../core/).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "sr_module.h"
#include "dprint.h"
#include "globals.h"
#include "pvar.h"
#include "timer.h"
#include "statistics.h"
#include "ip_addr.h"
#include "evi/evi_modules.h"
#include "evi/evi_params.h"
#include "af_os.h"

static af_params_t af_p = AF_PARAMS_DEFAULT("/etc/opensips/antifraud.yaml");

/* the last verdict of this process, for $antifraud(...) and the event */
static af_vars_t af_os_last;

static event_id_t af_os_ev_alert = EVI_ERROR;
static event_id_t af_os_ev_redis = EVI_ERROR;
/* the alert event's parameter names: the variables, then the source */
static str af_os_ev_names[AF_VAR__COUNT + 3];

static int mod_init(void);
static int child_init(int rank);
static void mod_destroy(void);
static void af_os_events_proc(int rank);
static int w_af_check_source(struct sip_msg *msg, str *profile);
static int w_af_check_fingerprint(struct sip_msg *msg, str *profile);
static int w_af_check_dest(struct sip_msg *msg, str *profile);
static int w_af_auth_failed(struct sip_msg *msg);
static int w_af_auth_ok(struct sip_msg *msg);
static int af_os_pv_name(pv_spec_p sp, const str *in);
static int af_os_pv_get(struct sip_msg *msg, pv_param_t *param,
		pv_value_t *res);

#define AF_OS_PROFILE {{CMD_PARAM_STR | CMD_PARAM_OPT, 0, 0}, {0, 0, 0}}
#define AF_OS_ANY \
	(REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE | ONREPLY_ROUTE \
			| LOCAL_ROUTE | EVENT_ROUTE)

/* clang-format off */
static const cmd_export_t cmds[] = {
	{"af_check_source", (cmd_function)w_af_check_source, AF_OS_PROFILE,
		AF_OS_ANY},
	{"af_check_fingerprint", (cmd_function)w_af_check_fingerprint,
		AF_OS_PROFILE, AF_OS_ANY},
	{"af_check_dest", (cmd_function)w_af_check_dest, AF_OS_PROFILE,
		REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE},
	{"af_auth_failed", (cmd_function)w_af_auth_failed, {{0, 0, 0}},
		REQUEST_ROUTE},
	{"af_auth_ok", (cmd_function)w_af_auth_ok, {{0, 0, 0}}, REQUEST_ROUTE},
	{0, 0, {{0, 0, 0}}, 0}
};

/* a parameter given as a function: set and checked by the core (under
 * opensips -c the rule file is validated at once, before mod_init) */
#define AF_PARAM_FN(n)                                                     \
	static int af_os_param_##n(modparam_t type, void *val)                 \
	{                                                                      \
		char why[1024];                                                    \
		if(af_module_param(&af_p, #n, val,                                 \
				   config_check ? &af_os_check_host : NULL, why,           \
				   sizeof(why))                                            \
				== 0)                                                      \
			return 0;                                                      \
		LM_ERR("modparam %s: %s\n", #n, why);                              \
		return -1;                                                         \
	}
#define AF_PARAM_STR(n)
#define AF_PARAM_INT(n)
#include "af_module.def"
#undef AF_PARAM_STR
#undef AF_PARAM_INT
#undef AF_PARAM_FN

#define AF_PARAM_STR(n) {#n, STR_PARAM, &af_p.n},
#define AF_PARAM_INT(n) {#n, INT_PARAM, &af_p.n},
#define AF_PARAM_FN(n) {#n, STR_PARAM | USE_FUNC_PARAM, (void *)af_os_param_##n},
static const param_export_t params[] = {
#include "af_module.def"
	{0, 0, 0}
};
#undef AF_PARAM_STR
#undef AF_PARAM_INT
#undef AF_PARAM_FN

static const pv_export_t mod_pvs[] = {
	{str_const_init("antifraud"), 1000, af_os_pv_get, 0, af_os_pv_name, 0, 0,
		0},
	{{0, 0}, 0, 0, 0, 0, 0, 0, 0}
};

/* the cluster's subscriber: counted in mod_init, when clustered */
static proc_export_t procs[] = {
	{"antifraud cluster events", 0, 0, af_os_events_proc, 0,
		PROC_FLAG_INITCHILD},
	{0, 0, 0, 0, 0, 0}
};

/* initialized after the modules whose callbacks it registers */
static const dep_export_t deps = {
	{
		{MOD_TYPE_DEFAULT, "dialog", DEP_SILENT},
		{MOD_TYPE_DEFAULT, "tm", DEP_SILENT},
		{MOD_TYPE_DEFAULT, "sl", DEP_SILENT},
		{MOD_TYPE_NULL, NULL, 0},
	},
	{
		{NULL, NULL},
	},
};

struct module_exports exports = {
	"antifraud",      /* module name */
	MOD_TYPE_DEFAULT, /* class of this module */
	MODULE_VERSION,
	DEFAULT_DLFLAGS,  /* dlopen flags */
	0,                /* load function */
	&deps,            /* OpenSIPS module dependencies */
	cmds,             /* exported functions */
	0,                /* exported async functions */
	params,           /* exported parameters */
	0,                /* exported statistics: registered in mod_init */
	af_os_mi_cmds,    /* exported MI functions */
	mod_pvs,          /* exported pseudo-variables */
	0,                /* exported transformations */
	procs,            /* extra processes */
	0,                /* module pre-initialization function */
	mod_init,         /* module initialization function */
	0,                /* response handling function */
	mod_destroy,      /* destroy function */
	child_init,       /* per-child init function */
	0                 /* reload confirm function */
};
/* clang-format on */

/* a statistic: the core's figure number (long)ctx */
static unsigned long af_os_stat(void *ctx)
{
	return (unsigned long)af_module_stat((int)(long)ctx);
}

/* E_ANTIFRAUD_REDIS: the cluster store went down or came back */
static void af_os_redis_event(int up)
{
	static str name = str_init("state");
	evi_params_p list;
	str state;

	LM_NOTICE("redis: %s\n", up ? "up again" : "down");
	if(af_os_ev_redis == EVI_ERROR || !evi_probe_event(af_os_ev_redis)
			|| !(list = evi_get_params()))
		return;
	state.s = up ? "up" : "down";
	state.len = strlen(state.s);
	if(evi_param_add_str(list, &name, &state) < 0) {
		evi_free_params(list);
		return;
	}
	if(evi_raise_event(af_os_ev_redis, list) < 0)
		LM_ERR("cannot raise E_ANTIFRAUD_REDIS\n");
}

/* an alert of the outcome timer (a signal-mix window that closed) */
static void af_os_timer_alert(const af_request_t *req, const af_verdict_t *v)
{
	af_os_announce(req, v);
}

static void af_os_timer(unsigned int ticks, void *param)
{
	int ev = af_module_timer();

	if(ev != 0)
		af_os_redis_event(ev == 2);
	af_module_outcome_timer(af_os_timer_alert);
}

/* the call ends queued by the dialogs' callbacks (end_batch_interval) */
static void af_os_ends_timer(utime_t uticks, void *param)
{
	af_module_ends_flush(af_os_timer_alert);
}

/* the cluster's event subscriber: a process of its own */
static void af_os_events_proc(int rank)
{
	af_module_events_loop();
}

/* the event name, published unless an event_route did it already */
static event_id_t af_os_event(char *name)
{
	str s;
	event_id_t id;

	s.s = name;
	s.len = strlen(name);
	id = evi_get_id(&s);
	return id != EVI_ERROR ? id : evi_publish_event(s);
}

/* what the module registers with OpenSIPS: statistics, events,
 * callbacks, the timer; 0, -1 */
static int af_os_register(void)
{
	char why[256];
	int i;

	for(i = 0; i < af_module_stat_count(); i++)
		if(register_stat2("antifraud", (char *)af_module_stat_name(i),
				   (stat_var **)af_os_stat, STAT_IS_FUNC | STAT_NO_RESET,
				   (void *)(long)i, 0)
				!= 0) {
			LM_ERR("failed to register statistic %s\n",
					af_module_stat_name(i));
			return -1;
		}
	for(i = 0; i < AF_VAR_redis; i++)
		af_os_ev_names[i].len = strlen(af_os_ev_names[i].s =
						(char *)af_var_name(i));
	af_os_ev_names[i++] = (str)str_init("ip");
	af_os_ev_names[i++] = (str)str_init("port");
	af_os_ev_names[i] = (str)str_init("method");
	af_os_ev_alert = af_os_event("E_ANTIFRAUD_ALERT");
	af_os_ev_redis = af_os_event("E_ANTIFRAUD_REDIS");
	if(af_os_ev_alert == EVI_ERROR || af_os_ev_redis == EVI_ERROR) {
		LM_ERR("cannot publish the antifraud events\n");
		return -1;
	}
	af_cmd_set_parser(&af_os_check_parser);
	if(af_module_guard_init(af_p.analytics_calls, af_os_dlg_end_call, NULL) < 0) {
		LM_ERR("out of shared memory\n");
		return -1;
	}
	if(af_os_dlg_init() < 0 || af_os_auth_init(af_p.auth_learn) < 0)
		return -1;
	if(register_timer("antifraud", af_os_timer, NULL,
			   (unsigned)af_p.timer_interval, TIMER_FLAG_DELAY_ON_DELAY)
			< 0) {
		LM_ERR("failed to register the timer\n");
		return -1;
	}
	if(af_module_ends_init(&af_p, why, sizeof(why)) < 0) {
		LM_ERR("%s\n", why);
		return -1;
	}
	if(af_module_end_batch_ms() > 0
			&& register_utimer("antifraud-ends", af_os_ends_timer, NULL,
					   (unsigned)af_module_end_batch_ms() * 1000,
					   TIMER_FLAG_DELAY_ON_DELAY)
					   < 0) {
		LM_ERR("failed to register the call ends' timer\n");
		return -1;
	}
	return 0;
}

static int mod_init(void)
{
	char why[512];

	if(af_module_init(&af_os_host, &af_p, why, sizeof(why)) != 0)
		LM_ERR("%s\n", why);
	else if(af_os_register() != 0)
		af_core_destroy();
	else {
		/* the cluster's subscriber process, forked after mod_init */
		procs[0].no = af_core_clustered() ? 1 : 0;
		af_module_started(&af_p);
		return 0;
	}
	return -1;
}

/* each SIP worker compiles its own JIT code now, not on its first
 * request */
static int child_init(int rank)
{
	if(rank >= 1)
		af_core_warmup();
	return 0;
}

static void mod_destroy(void)
{
	af_module_ends_last();
	af_module_ends_destroy();
	af_core_destroy();
}

/* E_ANTIFRAUD_ALERT with the verdict's fields and the request's source */
static void af_os_alert(const af_request_t *req)
{
	evi_params_p list;
	af_value_t val;
	char ip[AF_IP_STRLEN];
	str s;
	int i, n, rc = 0;

	if(!evi_probe_event(af_os_ev_alert) || !(list = evi_get_params()))
		return;
	for(i = 0; i < AF_VAR_redis && rc == 0; i++) {
		af_var_get(&af_os_last, i, &val);
		if(val.is_int) {
			n = (int)val.n;
			rc = evi_param_add_int(list, &af_os_ev_names[i], &n);
			continue;
		}
		s.s = (char *)(val.s ? val.s : "");
		s.len = strlen(s.s);
		rc = evi_param_add_str(list, &af_os_ev_names[i], &s);
	}
	af_ip_format(&req->src_ip, ip, sizeof(ip));
	s.s = ip;
	s.len = strlen(ip);
	n = req->src_port;
	if(rc == 0)
		rc = evi_param_add_str(list, &af_os_ev_names[i++], &s);
	if(rc == 0)
		rc = evi_param_add_int(list, &af_os_ev_names[i++], &n);
	s.s = (char *)(req->method_name.len ? req->method_name.s : "");
	s.len = (int)req->method_name.len;
	if(rc == 0)
		rc = evi_param_add_str(list, &af_os_ev_names[i], &s);
	if(rc != 0) {
		LM_ERR("cannot build E_ANTIFRAUD_ALERT\n");
		evi_free_params(list);
		return;
	}
	if(evi_raise_event(af_os_ev_alert, list) < 0)
		LM_ERR("cannot raise E_ANTIFRAUD_ALERT\n");
}

/* the last verdict is af_os_last.v: announce it when it alerts */
static int af_os_publish(const af_request_t *req)
{
	af_vars_changed(&af_os_last);
	if(af_module_alert(&af_os_last.v, req))
		af_os_alert(req);
	return af_os_last.v.rc;
}

int af_os_announce(const af_request_t *req, const af_verdict_t *v)
{
	af_os_last.v = *v;
	return af_os_publish(req);
}

typedef int (*af_os_check_f)(const af_request_t *req, const char *profile,
		size_t profile_len, af_verdict_t *v);

/* runs one of the core's checks on msg; the verdict is written in
 * place (it is large) */
static int af_os_check(struct sip_msg *msg, str *profile, af_os_check_f check,
		const char *name)
{
	af_request_t req;
	af_verdict_t *v = &af_os_last.v;

	if(af_os_request(msg, &req) < 0) {
		LM_ERR("%s: not a request\n", name);
		return AF_RC_ERROR;
	}
	/* the request is a signal of its source's mix (its alert, if any,
	 * is announced before the check's verdict, which stays the last) */
	if(check == af_check_source && af_module_signal(&req, 0, v))
		af_os_announce(&req, v);
	check(&req, profile ? profile->s : NULL,
			profile ? (size_t)profile->len : 0, v);
	if(check == af_check_dest)
		af_os_dest_checked(msg, &req, v);
	return af_os_publish(&req);
}

/* the script function of each check */
#define AF_OS_CHECK(check)                                 \
	static int w_##check(struct sip_msg *msg, str *profile) \
	{                                                      \
		return af_os_check(msg, profile, check, #check);   \
	}
AF_OS_CHECK(af_check_source)
AF_OS_CHECK(af_check_fingerprint)
AF_OS_CHECK(af_check_dest)

static int w_af_auth_failed(struct sip_msg *msg)
{
	return af_os_auth_report(msg, 0);
}

static int w_af_auth_ok(struct sip_msg *msg)
{
	return af_os_auth_report(msg, 1);
}

/* $antifraud(name) */
static int af_os_pv_name(pv_spec_p sp, const str *in)
{
	int id = in ? af_var_lookup(in->s, (size_t)in->len) : -1;

	if(id >= 0) {
		sp->pvp.pvn.type = PV_NAME_INTSTR;
		sp->pvp.pvn.u.isname.type = 0;
		sp->pvp.pvn.u.isname.name.n = id;
	}
	return id < 0 ? -1 : 0;
}

static int af_os_pv_get(struct sip_msg *msg, pv_param_t *param,
		pv_value_t *res)
{
	int id = param ? param->pvn.u.isname.name.n : -1;
	af_request_t req;
	af_value_t val;
	str s;

	/* json describes the message's own request */
	if(id == AF_VAR_json && msg && msg->first_line.type == SIP_REQUEST
			&& af_os_request(msg, &req) == 0)
		af_os_last.req = &req;
	af_var_get(&af_os_last, id, &val);
	af_os_last.req = NULL;
	if(!val.is_int && val.s) {
		s.len = strlen(s.s = (char *)val.s);
		return pv_get_strval(msg, param, res, &s);
	}
	return val.is_int ? pv_get_sintval(msg, param, res, (int)val.n)
					  : pv_get_null(msg, param, res);
}
