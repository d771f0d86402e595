/*
 * antifraud - learning authentication results (account protection).
 *
 * A request that carries credentials (Authorization or
 * Proxy-Authorization with a username) and gets a final answer tells
 * whether its credentials were good:
 *   401/407, any method       failed (not when the challenge says
 *                             stale=true: an expired nonce is not a
 *                             wrong password)
 *   403 to a REGISTER         failed
 *   2xx to a REGISTER         succeeded (registrar save)
 *   18x or 2xx to an INVITE   succeeded (the call went on)
 *   2xx to anything else      succeeded
 * The answers are seen where Kamailio sends them: stateless replies
 * through the sl module's callback (auth_challenge, www_challenge,
 * registrar's save() answer statelessly unless a transaction exists),
 * stateful ones through tm (t_reply, and the replies relayed from a
 * downstream registrar or PBX that authenticates). UDP, TCP and TLS
 * alike: these are SIP-level callbacks.
 *
 * The script may report a result itself (af_auth_failed(),
 * af_auth_ok()): that message is then not learned again from its reply.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <strings.h>
#include "core/dprint.h"
#include "core/sr_module.h"
#include "core/fmsg.h"
#include "core/mem/shm_mem.h"
#include "modules/sl/sl.h"
#include "modules/tm/tm_load.h"
#include "af_kam.h"

#define AF_AUTH_ID_MAX 128

/* what a transaction's reply callback needs of its request (shm) */
typedef struct af_kam_auth {
	int done; /* atomic: the outcome was counted */
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
} af_kam_auth_t;

static sl_api_t slb;
static struct tm_binds tmb;
static int tm_bound;

/* this process's last transaction param, so that a script report after
 * t_newtran() marks it counted */
static struct {
	unsigned int msg_id;
	int msg_pid;
	af_kam_auth_t *a;
} last_tm;

/* 1 when the reply in buf[0..len) challenges with stale=true */
static int af_stale(const char *buf, int len)
{
	static const char pat[] = "stale=true";
	int i, n = (int)sizeof(pat) - 1;

	for(i = 0; buf && i + n <= len; i++)
		if((buf[i] == 's' || buf[i] == 'S') && strncasecmp(buf + i, pat, n) == 0)
			return 1;
	return 0;
}

/* what a final answer code says of the credentials: 0 failed, 1 ok,
 * -1 nothing */
static int af_outcome(int method, int code, const char *buf, int len)
{
	if(code == 401 || code == 407)
		return af_stale(buf, len) ? -1 : 0;
	if(code == 403)
		return method == AF_M_REGISTER ? 0 : -1;
	if(method == AF_M_INVITE)
		return code >= 180 && code < 300 ? 1 : -1;
	return code >= 200 && code < 300 ? 1 : -1;
}

/* counts an outcome of req and announces what it raised on msg */
static void af_learn(struct sip_msg *msg, const af_request_t *req, int ok,
		const char *profile)
{
	af_verdict_t v;

	af_auth_result(req, ok, profile, profile ? strlen(profile) : 0, &v);
	if(v.rc == AF_RC_ALERT)
		af_kam_announce(msg, req, &v);
}

/* sl: a stateless reply is about to go out */
static void af_sl_reply(sl_cbp_t *p)
{
	af_request_t req;
	int ok;

	/* most stateless replies (404, 483, 100...) say nothing of
	 * credentials: no extraction for them */
	if(p->code != 401 && p->code != 403 && p->code != 407
			&& (p->code < 180 || p->code >= 300))
		return;
	if(!p->req || af_kam_request(p->req, &req) < 0 || !req.auth_user.len)
		return;
	if(req.memo && req.memo->auth_reported)
		return;
	ok = af_outcome(req.method, p->code, p->reply ? p->reply->s : NULL,
			p->reply ? p->reply->len : 0);
	if(ok < 0)
		return;
	if(req.memo)
		req.memo->auth_reported = 1;
	af_learn(p->req, &req, ok, req.memo ? req.memo->profile : NULL);
}

static void af_tm_free(void *param)
{
	shm_free(param);
}

/* tm: a reply of a transaction whose request had credentials went out */
static void af_tm_reply(struct cell *t, int type, struct tmcb_params *ps)
{
	af_kam_auth_t *a = ps->param ? *ps->param : NULL;
	af_request_t req;
	struct receive_info rcv;
	sip_msg_t *fmsg;
	int ok;

	if(!a || __atomic_load_n(&a->done, __ATOMIC_ACQUIRE))
		return;
	ok = af_outcome(a->method, ps->code, ps->send_buf.s, ps->send_buf.len);
	if(ok < 0 || __atomic_exchange_n(&a->done, 1, __ATOMIC_ACQ_REL))
		return;
	memset(&req, 0, sizeof(req));
	req.src_ip = a->src_ip;
	req.method = (af_method_t)a->method;
	req.initial = 1;
	req.auth_user.s = a->user;
	req.auth_user.len = a->user_len;
	req.from_user.s = a->from_user;
	req.from_user.len = a->from_user_len;
	req.from_host.s = a->host;
	req.from_host.len = a->host_len;
	/* the alert event runs on a faked message (this may be another
	 * process, with the reply of another message at hand) that shows
	 * the request's source as $si:$sp */
	fmsg = faked_msg_next();
	rcv = fmsg->rcv;
	fmsg->rcv.src_ip.af = a->src_ip.family == 6 ? AF_INET6 : AF_INET;
	fmsg->rcv.src_ip.len = a->src_ip.family == 6 ? 16 : 4;
	memcpy(fmsg->rcv.src_ip.u.addr, a->src_ip.addr, fmsg->rcv.src_ip.len);
	fmsg->rcv.src_port = a->src_port;
	af_learn(fmsg, &req, ok, a->profile);
	fmsg->rcv = rcv;
}

static int af_copy(char *dst, uint16_t *dlen, const af_str_t *s)
{
	if(s->len > AF_AUTH_ID_MAX)
		return -1;
	memcpy(dst, s->s, s->len);
	*dlen = (uint16_t)s->len;
	return 0;
}

/* tm: a transaction was created; watch its replies when its request
 * carries credentials */
static void af_tm_request_in(struct cell *t, int type, struct tmcb_params *ps)
{
	af_request_t req;
	af_kam_auth_t *a;

	if(!ps->req || af_kam_request(ps->req, &req) < 0 || !req.auth_user.len)
		return;
	if(req.memo && req.memo->auth_reported)
		return;
	a = shm_malloc(sizeof(*a));
	if(!a) {
		SHM_MEM_ERROR;
		return;
	}
	memset(a, 0, sizeof(*a));
	a->src_ip = req.src_ip;
	a->src_port = req.src_port;
	a->method = req.method;
	if(req.memo)
		memcpy(a->profile, req.memo->profile, sizeof(a->profile));
	if(af_copy(a->user, &a->user_len, &req.auth_user) < 0
			|| af_copy(a->from_user, &a->from_user_len, &req.from_user) < 0
			|| af_copy(a->host, &a->host_len, &req.from_host) < 0) {
		shm_free(a);
		return;
	}
	if(tmb.register_tmcb(ps->req, t, TMCB_RESPONSE_OUT, af_tm_reply, a,
			   af_tm_free)
			<= 0) {
		LM_ERR("cannot watch the replies of a transaction\n");
		shm_free(a);
		return;
	}
	last_tm.a = a;
	last_tm.msg_id = ps->req->id;
	last_tm.msg_pid = ps->req->pid;
}

int af_kam_auth_init(int learn)
{
	sl_cbelem_t slc;
	int where = 0;

	if(!learn)
		return 0;
	if(faked_msg_init() < 0) {
		LM_ERR("cannot initialize the faked message\n");
		return -1;
	}
	if(module_loaded("sl") && sl_load_api(&slb) == 0) {
		memset(&slc, 0, sizeof(slc));
		slc.type = SLCB_REPLY_READY;
		slc.cbf = af_sl_reply;
		if(slb.register_cb(&slc) != 0) {
			LM_ERR("cannot register the sl reply callback\n");
			return -1;
		}
		where |= 1;
	}
	if(module_loaded("tm") && load_tm_api(&tmb) == 0) {
		if(tmb.register_tmcb(0, 0, TMCB_REQUEST_IN, af_tm_request_in, 0, 0)
				<= 0) {
			LM_ERR("cannot register the tm request callback\n");
			return -1;
		}
		tm_bound = 1;
		where |= 2;
	}
	if(!where)
		LM_WARN("auth_learn: neither sl nor tm is loaded: authentication"
				" results are learned only from af_auth_failed() and"
				" af_auth_ok()\n");
	else if(where != 3)
		LM_INFO("auth_learn: learning from %s replies only\n",
				where == 1 ? "stateless (sl)" : "stateful (tm)");
	return 0;
}

int af_kam_auth_report(struct sip_msg *msg, int ok)
{
	af_request_t req;
	af_verdict_t v;

	if(af_kam_request(msg, &req) < 0) {
		LM_ERR("af_auth_%s: not a request\n", ok ? "ok" : "failed");
		return AF_RC_ERROR;
	}
	if(req.memo)
		req.memo->auth_reported = 1;
	/* a transaction made for this message before the report: its
	 * reply must not count the same attempt again */
	if(last_tm.a && last_tm.msg_id == msg->id && last_tm.msg_pid == msg->pid)
		__atomic_store_n(&last_tm.a->done, 1, __ATOMIC_RELEASE);
	af_auth_result(&req, ok, req.memo ? req.memo->profile : NULL,
			req.memo ? strlen(req.memo->profile) : 0, &v);
	af_kam_announce(msg, &req, &v);
	return v.rc;
}
