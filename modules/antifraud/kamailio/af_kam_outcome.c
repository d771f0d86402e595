/*
 * antifraud - Kamailio glue of call outcomes beyond the dialogs
 * (af_kam_dlg.c): the signal mix and the timer.
 *
 * Signals: each request the script checks with af_check_source counts
 * its method; the final answer sent for a request counts its code, seen
 * where Kamailio sends it: stateless replies through the sl module's
 * callback, stateful ones through tm (a TMCB_RESPONSE_OUT callback on
 * each transaction, registered only while the rules have a signal_mix).
 * These sl and tm callbacks are the module's only ones: they hand the
 * replies and transactions to account protection (af_kam_auth.c) too.
 * An alert raised there runs event_route[antifraud:alert] (check
 * analytics, reason signal_mix); one raised by the timer (a window that
 * closed without a later signal) runs it on a faked message whose source
 * is the subject's address when the subject is one.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "core/dprint.h"
#include "core/sr_module.h"
#include "core/fmsg.h"
#include "core/mem/shm_mem.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_uri.h"
#include "core/parser/digest/digest.h"
#include "modules/sl/sl.h"
#include "modules/tm/tm_load.h"
#include "af_kam.h"
#include "af_outcome.h"
#include "af_pool.h"

#define AF_SIG_ID_MAX 128

/* what a transaction's reply callback needs of its request (shm) */
typedef struct af_kam_sig {
	int done; /* atomic: the final answer was counted */
	af_ip_t src_ip;
	uint16_t src_port;
	int method;
	char profile[65];
	uint16_t user_len;
	uint16_t host_len;
	char user[AF_SIG_ID_MAX];
	char host[AF_SIG_ID_MAX];
} af_kam_sig_t;

static sl_api_t slb;
struct tm_binds af_kam_tmb;
static int learn_auth; /* af_kam_auth.c learns from the replies */

/* counts code for req (0: the request) and announces an alert on msg */
static void af_signal(struct sip_msg *msg, const af_request_t *req, int code)
{
	af_verdict_t v;

	if(af_signal_count(req, code, af_now_ms(), &v) == AF_RC_ALERT)
		af_kam_announce(msg, req, &v);
}

void af_kam_signal_request(struct sip_msg *msg, const af_request_t *req)
{
	af_signal(msg, req, 0);
}

/* 1 when the rules count signals (a signal_mix) */
static int mix_on(void)
{
	af_rules_t *r = af_core_acquire();
	int on = r->analytics.enabled && r->analytics.mix_window_s;

	af_core_release(r);
	return on;
}

/* sl: a stateless reply is about to go out (account protection sees it
 * first, as when it had a callback of its own) */
static void af_sl_reply(sl_cbp_t *p)
{
	af_request_t req;

	if(learn_auth)
		af_kam_auth_sl(p);
	if(p->code < 200 || !p->req || !mix_on())
		return;
	if(af_kam_request(p->req, &req) < 0)
		return;
	af_signal(p->req, &req, p->code);
}

/* freed watches kept for the next transactions (af_pool.h) */
static af_pool_t *af_sig_pool;

static void af_tm_free(void *param)
{
	af_pool_put(af_sig_pool, param);
}

/* the parameter of a watched transaction whose request was checked with
 * the default profile: nothing to copy, the reply callback reads its
 * request (tm's copy in shared memory); set to NULL once counted */
static char af_sig_plain;

/* counts code for a request from ip:port (method, checked with profile,
 * or the default when NULL) and announces an alert on a faked message
 * from that source */
static void af_sig_reply(const af_ip_t *ip, uint16_t port, int method,
		const char *profile, const af_str_t *user, const af_str_t *host,
		int code)
{
	af_request_t req;
	af_memo_t memo;
	af_verdict_t v;

	memset(&req, 0, sizeof(req));
	memset(&memo, 0, sizeof(memo));
	if(profile)
		memcpy(memo.profile, profile, sizeof(memo.profile));
	req.memo = &memo;
	req.src_ip = *ip;
	req.src_port = port;
	req.method = (af_method_t)method;
	req.initial = 1;
	req.from_user = *user;
	req.from_host = *host;
	if(af_signal_count(&req, code, af_now_ms(), &v) == AF_RC_ALERT)
		af_kam_announce_from(ip, port, &req, &v);
}

/* the final answer of a transaction watched with af_sig_plain: its
 * source, method, From and credentials' user from tm's copy of the
 * request (parsed before it was copied; nothing is parsed here) */
static void af_sig_reply_plain(struct cell *t, int code)
{
	struct sip_msg *rq = t->uas.request;
	struct hdr_field *ah;
	struct sip_uri local, *uri;
	struct to_body *from;
	af_request_t src;
	af_str_t user = {0}, host = {0};
	str *au = NULL;

	if(!rq || !rq->from || !rq->from->parsed)
		return;
	from = (struct to_body *)rq->from->parsed;
	/* af_kam_request parsed the From URI before tm copied the request
	 * (the copy keeps it); parsed here only if it was not */
	uri = &from->parsed_uri;
	if(!uri->user.s && !uri->host.s) {
		if(parse_uri(from->uri.s, from->uri.len, &local) < 0)
			return;
		uri = &local;
	}
	ah = rq->authorization ? rq->authorization : rq->proxy_auth;
	if(ah && ah->parsed)
		au = &((auth_body_t *)ah->parsed)->digest.username.user;
	if(au && au->s && au->len > 0) {
		user.s = au->s;
		user.len = (size_t)au->len;
	} else if(uri->user.len > 0) {
		user.s = uri->user.s;
		user.len = (size_t)uri->user.len;
	}
	if(uri->host.len > 0) {
		host.s = uri->host.s;
		host.len = (size_t)uri->host.len;
	}
	if(user.len > AF_SIG_ID_MAX || host.len > AF_SIG_ID_MAX)
		return;
	memset(&src, 0, sizeof(src));
	if(rq->rcv.src_ip.af == AF_INET || rq->rcv.src_ip.af == AF_INET6)
		af_request_set_src(&src, rq->rcv.src_ip.af == AF_INET6,
				rq->rcv.src_ip.u.addr, rq->rcv.src_port);
	af_sig_reply(&src.src_ip, src.src_port,
			af_kam_method(rq->first_line.u.request.method_value), NULL,
			&user, &host, code);
}

/* tm: a reply of a watched transaction went out */
static void af_tm_reply(struct cell *t, int type, struct tmcb_params *ps)
{
	af_kam_sig_t *a = ps->param ? *ps->param : NULL;
	af_str_t user, host;

	if(!a || ps->code < 200)
		return;
	if((void *)a == (void *)&af_sig_plain) {
		if(__atomic_exchange_n(ps->param, NULL, __ATOMIC_ACQ_REL) == a)
			af_sig_reply_plain(t, ps->code);
		return;
	}
	if(__atomic_exchange_n(&a->done, 1, __ATOMIC_ACQ_REL))
		return;
	user.s = a->user;
	user.len = a->user_len;
	host.s = a->host;
	host.len = a->host_len;
	af_sig_reply(&a->src_ip, a->src_port, a->method, a->profile, &user, &host,
			ps->code);
}

/* a transaction was created for msg: watch for its final answer while
 * the rules count signals */
static void af_sig_watch(struct cell *t, struct sip_msg *msg)
{
	const af_request_t *req;
	af_kam_sig_t *a;
	const af_str_t *u;

	if(!mix_on())
		return;
	/* not checked with a profile (no check ran, or with the default
	 * one): the reply callback reads the rest from tm's copy of the
	 * request, parsed here before it is copied; no extraction, no copy
	 * of ours (an allocation per transaction, costly with q_malloc) */
	req = af_kam_request_seen(msg);
	if(!req || !req->memo || !req->memo->profile[0]) {
		af_kam_parse_caller(msg);
		if(af_kam_tmb.register_tmcb(msg, t, TMCB_RESPONSE_OUT, af_tm_reply,
				   &af_sig_plain, 0)
				<= 0)
			LM_ERR("cannot watch the replies of a transaction\n");
		return;
	}
	u = req->auth_user.len ? &req->auth_user : &req->from_user;
	if(u->len > AF_SIG_ID_MAX || req->from_host.len > AF_SIG_ID_MAX)
		return;
	a = af_pool_get(af_sig_pool, sizeof(*a));
	if(!a) {
		SHM_MEM_ERROR;
		return;
	}
	memset(a, 0, sizeof(*a));
	a->src_ip = req->src_ip;
	a->src_port = req->src_port;
	a->method = req->method;
	memcpy(a->profile, req->memo->profile, sizeof(a->profile));
	memcpy(a->user, u->s, u->len);
	a->user_len = (uint16_t)u->len;
	memcpy(a->host, req->from_host.s, req->from_host.len);
	a->host_len = (uint16_t)req->from_host.len;
	if(af_kam_tmb.register_tmcb(msg, t, TMCB_RESPONSE_OUT, af_tm_reply, a,
			   af_tm_free)
			<= 0) {
		LM_ERR("cannot watch the replies of a transaction\n");
		af_pool_put(af_sig_pool, a);
	}
}

/* tm: a transaction was created (account protection watches it first,
 * as when it had a callback of its own) */
static void af_tm_request_in(struct cell *t, int type, struct tmcb_params *ps)
{
	if(!ps->req)
		return;
	if(learn_auth)
		af_kam_auth_tm(t, ps->req);
	af_sig_watch(t, ps->req);
}

int af_kam_outcome_init(int learn)
{
	sl_cbelem_t slc;
	int sl = 0, tm = 0;

	if(faked_msg_init() < 0) {
		LM_ERR("cannot initialize the faked message\n");
		return -1;
	}
	learn_auth = learn;
	/* without it, watches come from shared memory each time */
	af_sig_pool = af_pool_create(sizeof(af_kam_sig_t), AF_POOL_KEEP);
	if(module_loaded("sl") && sl_load_api(&slb) == 0) {
		memset(&slc, 0, sizeof(slc));
		slc.type = SLCB_REPLY_READY;
		slc.cbf = af_sl_reply;
		if(slb.register_cb(&slc) != 0) {
			LM_ERR("cannot register the sl reply callback\n");
			return -1;
		}
		sl = 1;
	}
	if(module_loaded("tm") && load_tm_api(&af_kam_tmb) == 0) {
		if(af_kam_tmb.register_tmcb(
				   0, 0, TMCB_REQUEST_IN, af_tm_request_in, 0, 0)
				<= 0) {
			LM_ERR("cannot register the tm request callback\n");
			return -1;
		}
		tm = 1;
	}
	if(learn)
		af_kam_auth_init(sl, tm);
	return 0;
}

/* an alert of the timer: on a faked message from the subject's address
 * when it is one */
static void af_timer_alert(const af_request_t *req, const af_verdict_t *v)
{
	af_kam_announce_from(&req->src_ip, 0, req, v);
}

void af_kam_outcome_timer(void)
{
	af_module_outcome_timer(af_timer_alert);
}

void af_kam_ends_timer(unsigned int ticks, void *param)
{
	af_module_ends_flush(af_timer_alert);
}
