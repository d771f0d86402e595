/*
 * antifraud - Kamailio glue: the verdicts the script sees. This
 * process's last verdict ($antifraud(name)) and its publishing: kept
 * after each check or learned authentication result, and announced to
 * event_route[antifraud:alert] when it alerts or blocks.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "core/dprint.h"
#include "core/pvar.h"
#include "core/route.h"
#include "core/action.h"
#include "af_kam.h"

static int af_alert_rt = -1; /* event_route[antifraud:alert] */
static int af_alert_event = 1; /* modparam alert_event */

/* the last verdict of this process, for $antifraud(...); the reason
 * lists are formatted when first read */
static af_verdict_t af_last;
static char af_last_reasons[256];
static char af_last_blocking[256];
static int af_last_formatted;

/* Finds event_route[antifraud:alert] (mod_init); alert_event 0 never
 * raises it. */
void af_kam_verdict_init(int alert_event)
{
	af_alert_event = alert_event;
	af_alert_rt = route_lookup(&event_rt, "antifraud:alert");
	if(af_alert_rt >= 0 && event_rt.rlist[af_alert_rt] == NULL)
		af_alert_rt = -1;
}

/* Runs event_route rt (an index in event_rt) on msg as a route of type
 * route_type, restoring the current type after. */
void af_kam_run_event(int rt, struct sip_msg *msg, int route_type)
{
	struct run_act_ctx ctx;
	int rtb;

	rtb = get_route_type();
	set_route_type(route_type);
	init_run_actions_ctx(&ctx);
	run_top_route(event_rt.rlist[rt], msg, &ctx);
	set_route_type(rtb);
}

/* runs event_route[antifraud:alert] for msg with the verdict v (in
 * $antifraud), unless it repeats a recent alert or the node-wide alert
 * rate is exceeded (af_alert.h) */
static void af_raise_alert(
		struct sip_msg *msg, const af_request_t *req, af_verdict_t *v)
{
	if(af_alert_rt < 0 || !af_alert_event)
		return;
	if(!af_alert_admit(v, req, af_now_ms()))
		return;
	af_kam_run_event(af_alert_rt, msg, REQUEST_ROUTE);
}

/* This process's last verdict, for a check to write in place (it is
 * large); publish it with af_kam_announce. */
af_verdict_t *af_kam_verdict_slot(void)
{
	return &af_last;
}

/*
 * Keeps v as this process's last verdict (v may be the slot itself) and
 * raises event_route[antifraud:alert] for msg (request req) when v
 * alerts or blocks. Returns v->rc.
 */
int af_kam_announce(
		struct sip_msg *msg, const af_request_t *req, const af_verdict_t *v)
{
	if(v != &af_last)
		af_last = *v;
	af_last_formatted = 0;
	/* a source refused for an existing ban is counted, not re-announced */
	if((v->rc == AF_RC_ALERT || v->rc == AF_RC_BLOCK)
			&& v->reasons != AF_REASON_BIT(AF_R_BANNED))
		af_raise_alert(msg, req, &af_last);
	return v->rc;
}

/* $antifraud(name): $af is the pv module's address family */
enum {
	AF_PV_RC = 1,
	AF_PV_CHECK,
	AF_PV_REASON,
	AF_PV_BLOCKING,
	AF_PV_DETAIL,
	AF_PV_COUNTRY,
	AF_PV_CONTINENT,
	AF_PV_ASN,
	AF_PV_SCORE,
	AF_PV_BANNED,
	AF_PV_BAN_REASON,
	AF_PV_FINGERPRINT,
	AF_PV_SIGNATURE,
	AF_PV_SHAPE,
	AF_PV_PROFILE,
	AF_PV_NUMBER,
	AF_PV_DEST_COUNTRY,
	AF_PV_DEST_ZONE,
	AF_PV_DEST_CLASS,
	AF_PV_DEST_RISK,
	AF_PV_INTERNATIONAL,
	AF_PV_CONC_TOTAL,
	AF_PV_CONC_CALLER,
	AF_PV_REDIS,
	AF_PV_SUPPRESSED
};

static const struct {
	const char *name;
	int id;
} af_pv_names[] = {{"rc", AF_PV_RC}, {"check", AF_PV_CHECK},
		{"reason", AF_PV_REASON}, {"blocking", AF_PV_BLOCKING},
		{"detail", AF_PV_DETAIL}, {"country", AF_PV_COUNTRY},
		{"continent", AF_PV_CONTINENT}, {"asn", AF_PV_ASN},
		{"score", AF_PV_SCORE}, {"banned", AF_PV_BANNED},
		{"ban_reason", AF_PV_BAN_REASON}, {"fingerprint", AF_PV_FINGERPRINT},
		{"signature", AF_PV_SIGNATURE}, {"shape", AF_PV_SHAPE},
		{"profile", AF_PV_PROFILE}, {"number", AF_PV_NUMBER},
		{"dest_country", AF_PV_DEST_COUNTRY}, {"dest_zone", AF_PV_DEST_ZONE},
		{"dest_class", AF_PV_DEST_CLASS}, {"dest_risk", AF_PV_DEST_RISK},
		{"international", AF_PV_INTERNATIONAL},
		{"concurrent", AF_PV_CONC_TOTAL},
		{"concurrent_caller", AF_PV_CONC_CALLER}, {"redis", AF_PV_REDIS},
		{"suppressed", AF_PV_SUPPRESSED}, {0, 0}};

/* parses the name of $antifraud(name) */
int af_kam_pv_parse_name(pv_spec_t *sp, str *in)
{
	int i;

	if(!sp || !in || in->len <= 0)
		return -1;
	for(i = 0; af_pv_names[i].name; i++) {
		if(strlen(af_pv_names[i].name) == (size_t)in->len
				&& strncmp(af_pv_names[i].name, in->s, in->len) == 0) {
			sp->pvp.pvn.type = PV_NAME_INTSTR;
			sp->pvp.pvn.u.isname.name.n = af_pv_names[i].id;
			sp->pvp.pvn.u.isname.type = 0;
			return 0;
		}
	}
	LM_ERR("unknown $antifraud(%.*s): use rc, check, reason, blocking, detail,"
		   " country, continent, asn, score, banned, ban_reason, fingerprint,"
		   " signature, shape, profile, number, dest_country, dest_zone,"
		   " dest_class, dest_risk, international, concurrent,"
		   " concurrent_caller or redis\n",
			in->len, in->s);
	return -1;
}

/* a string value, $null when empty */
static int pv_str(struct sip_msg *msg, pv_param_t *param, pv_value_t *res,
		const char *s)
{
	str v;

	if(!s || !*s)
		return pv_get_null(msg, param, res);
	v.s = (char *)s;
	v.len = (int)strlen(s);
	return pv_get_strval(msg, param, res, &v);
}

/* $antifraud(name): a field of this process's last verdict, or the
 * Redis state */
int af_kam_pv_get(struct sip_msg *msg, pv_param_t *param, pv_value_t *res)
{
	if(param->pvn.u.isname.name.n == AF_PV_REDIS)
		return pv_str(msg, param, res,
				!af_core_clustered()
						? "off"
						: (af_store_cluster_up(af_core_store()) ? "up"
																: "down"));
	if(!af_last.check)
		return pv_get_null(msg, param, res);
	if(!af_last_formatted) {
		af_reasons_format(
				af_last.reasons, af_last_reasons, sizeof(af_last_reasons));
		af_reasons_format(
				af_last.blocking, af_last_blocking, sizeof(af_last_blocking));
		af_last_formatted = 1;
	}
	switch(param->pvn.u.isname.name.n) {
		case AF_PV_RC:
			return pv_get_sintval(msg, param, res, af_last.rc);
		case AF_PV_CHECK:
			return pv_str(msg, param, res, af_last.check);
		case AF_PV_REASON:
			return pv_str(msg, param, res, af_last_reasons);
		case AF_PV_BLOCKING:
			return pv_str(msg, param, res, af_last_blocking);
		case AF_PV_DETAIL:
			return pv_str(msg, param, res, af_last.detail);
		case AF_PV_COUNTRY:
			return pv_str(msg, param, res, af_last.geo.country);
		case AF_PV_CONTINENT:
			return pv_str(msg, param, res, af_last.geo.continent);
		case AF_PV_ASN:
			return pv_get_sintval(msg, param, res, (int)af_last.geo.asn);
		case AF_PV_SCORE:
			return pv_get_sintval(msg, param, res, (int)af_last.score);
		case AF_PV_SUPPRESSED:
			return pv_get_uintval(msg, param, res, af_last.suppressed);
		case AF_PV_BANNED:
			return pv_get_sintval(msg, param, res, af_last.banned);
		case AF_PV_BAN_REASON:
			return pv_str(msg, param, res,
					af_last.banned ? af_last.ban.reason : NULL);
		case AF_PV_FINGERPRINT:
			return pv_str(msg, param, res, af_last.fp_id);
		case AF_PV_SIGNATURE:
			return pv_str(msg, param, res, af_last.signatures);
		case AF_PV_SHAPE:
			return pv_str(msg, param, res, af_last.shape);
		case AF_PV_PROFILE:
			return pv_str(msg, param, res, af_last.dest.profile);
		case AF_PV_NUMBER:
			return pv_str(msg, param, res, af_last.dest.number);
		case AF_PV_DEST_COUNTRY:
			return pv_str(msg, param, res, af_last.dest.country);
		case AF_PV_DEST_ZONE:
			return pv_str(msg, param, res, af_last.dest.zone);
		case AF_PV_DEST_CLASS:
			return pv_str(msg, param, res,
					af_last.dest.number[0]
							? af_numclass_name((af_numclass_t)af_last.dest.cls)
							: NULL);
		case AF_PV_DEST_RISK:
			return pv_get_sintval(msg, param, res, af_last.dest.risk);
		case AF_PV_INTERNATIONAL:
			return pv_get_sintval(msg, param, res, af_last.dest.international);
		case AF_PV_CONC_TOTAL:
			return pv_get_sintval(msg, param, res, (int)af_last.dest.conc_total);
		case AF_PV_CONC_CALLER:
			return pv_get_sintval(
					msg, param, res, (int)af_last.dest.conc_caller);
	}
	return pv_get_null(msg, param, res);
}
