/*
 * antifraud - Kamailio glue: the verdicts the script sees. This
 * process's last verdict ($antifraud(name), the names and values of
 * core/af_var.def) and its publishing: kept after each check or learned
 * authentication result, and announced to event_route[antifraud:alert]
 * when the core says it is raised (af_module_alert()).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "core/dprint.h"
#include "core/pvar.h"
#include "core/route.h"
#include "core/action.h"
#include "core/kemi.h"
#include "core/fmsg.h"
#include "af_kam.h"

static int af_alert_rt = -1; /* event_route[antifraud:alert] */
static str af_event_cb = STR_NULL; /* KEMI: the function run for events */

/* the last verdict of this process, for $antifraud(...) */
static af_vars_t af_last;

/* Finds event_route[antifraud:alert] (mod_init); event_callback (may be
 * empty): the KEMI function run for every event instead of the event
 * routes. */
void af_kam_verdict_init(const str *event_callback)
{
	if(event_callback)
		af_event_cb = *event_callback;
	af_alert_rt = route_lookup(&event_rt, "antifraud:alert");
	if(af_alert_rt >= 0 && event_rt.rlist[af_alert_rt] == NULL)
		af_alert_rt = -1;
}

/* Whether an event would run anything: event route rt (-1: none), or
 * the KEMI callback. */
int af_kam_event_wanted(int rt)
{
	return rt >= 0 || af_event_cb.len;
}

/* runs the KEMI event callback for event name on msg */
static void af_kemi_event(struct sip_msg *msg, const char *name)
{
	sr_kemi_eng_t *keng = sr_kemi_eng_get();
	str ev;

	if(!keng) {
		LM_ERR("event_callback set, but no KEMI engine (cfgengine)\n");
		return;
	}
	ev.s = (char *)name;
	ev.len = (int)strlen(name);
	if(sr_kemi_route(keng, msg, EVENT_ROUTE, &af_event_cb, &ev) < 0)
		LM_ERR("event callback %.*s for %s failed\n", af_event_cb.len,
				af_event_cb.s, name);
}

/* Runs event name on msg as a route of type route_type: the KEMI
 * callback when there is one, else event_route rt (an index in
 * event_rt); restores the current route type after. */
void af_kam_run_event(
		int rt, struct sip_msg *msg, int route_type, const char *name)
{
	struct run_act_ctx ctx;
	int rtb;

	rtb = get_route_type();
	set_route_type(route_type);
	if(af_event_cb.len) {
		af_kemi_event(msg, name);
	} else {
		init_run_actions_ctx(&ctx);
		run_top_route(event_rt.rlist[rt], msg, &ctx);
	}
	set_route_type(rtb);
}

/* This process's last verdict, for a check to write in place (it is
 * large); publish it with af_kam_announce. */
af_verdict_t *af_kam_verdict_slot(void)
{
	return &af_last.v;
}

/*
 * Keeps v as this process's last verdict (v may be the slot itself) and
 * raises event_route[antifraud:alert] for msg (request req) when the
 * core says so (an alert or block, not a repeat). Returns v->rc.
 */
int af_kam_announce(
		struct sip_msg *msg, const af_request_t *req, const af_verdict_t *v)
{
	if(v != &af_last.v)
		af_vars_set(&af_last, v);
	else
		af_vars_changed(&af_last);
	if(af_kam_event_wanted(af_alert_rt) && af_module_alert(&af_last.v, req)) {
		af_last.req = req; /* $antifraud(json) describes it */
		af_kam_run_event(af_alert_rt, msg, REQUEST_ROUTE, "antifraud:alert");
		af_last.req = NULL;
	}
	return af_last.v.rc;
}

/*
 * af_kam_announce on a faked message (no message at hand, or another one:
 * a reply, the timer) that shows ip (NULL or family 0: the faked
 * message's own) and port (0: its own) as $si:$sp. Returns v->rc.
 */
int af_kam_announce_from(const af_ip_t *ip, uint16_t port,
		const af_request_t *req, const af_verdict_t *v)
{
	struct receive_info rcv;
	sip_msg_t *fmsg = faked_msg_next();
	int rc;

	rcv = fmsg->rcv;
	if(ip && ip->family) {
		fmsg->rcv.src_ip.af = ip->family == 6 ? AF_INET6 : AF_INET;
		fmsg->rcv.src_ip.len = ip->family == 6 ? 16 : 4;
		memcpy(fmsg->rcv.src_ip.u.addr, ip->addr, fmsg->rcv.src_ip.len);
	}
	if(port)
		fmsg->rcv.src_port = port;
	rc = af_kam_announce(fmsg, req, v);
	fmsg->rcv = rcv;
	return rc;
}

/* parses the name of $antifraud(name) ($af is the pv module's address
 * family) */
int af_kam_pv_parse_name(pv_spec_t *sp, str *in)
{
	int id;

	if(!sp || !in || in->len <= 0
			|| (id = af_var_lookup(in->s, (size_t)in->len)) < 0)
		return -1;
	sp->pvp.pvn.type = PV_NAME_INTSTR;
	sp->pvp.pvn.u.isname.name.n = id;
	sp->pvp.pvn.u.isname.type = 0;
	return 0;
}

/* $antifraud(name): a field of this process's last verdict, or the
 * Redis state; json describes the request of the alert event being run,
 * else the message's own request */
int af_kam_pv_get(struct sip_msg *msg, pv_param_t *param, pv_value_t *res)
{
	af_request_t req;
	af_value_t v;
	str s;

	if(param->pvn.u.isname.name.n == AF_VAR_json && !af_last.req && msg
			&& msg->first_line.type == SIP_REQUEST
			&& af_kam_request(msg, &req) == 0) {
		af_last.req = &req;
		af_var_get(&af_last, AF_VAR_json, &v);
		af_last.req = NULL;
	} else {
		af_var_get(&af_last, param->pvn.u.isname.name.n, &v);
	}
	if(v.is_int)
		return pv_get_sintval(msg, param, res, (long)v.n);
	if(!v.s)
		return pv_get_null(msg, param, res);
	s.s = (char *)v.s;
	s.len = (int)strlen(v.s);
	return pv_get_strval(msg, param, res, &s);
}
