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
 * alike: these are SIP-level callbacks. The module has one sl and one tm
 * request callback (af_kam_outcome.c) that call af_kam_auth_sl and
 * af_kam_auth_tm.
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
#include "core/mem/shm_mem.h"
#include "modules/sl/sl.h"
#include "modules/tm/tm_load.h"
#include "af_kam.h"

/* this process's last transaction param, so that a script report after
 * t_newtran() marks it counted */
static struct {
	unsigned int msg_id;
	int msg_pid;
	af_auth_pending_t *a;
} last_tm;

void af_kam_auth_sl(struct sl_cbp *p)
{
	af_request_t req;
	af_verdict_t v;

	if(!af_module_auth_code(p->code) || !p->req
			|| af_kam_request(p->req, &req) < 0)
		return;
	if(af_module_auth_reply(&req, p->code, p->reply ? p->reply->s : NULL,
			   p->reply ? (size_t)p->reply->len : 0, &v)
			&& v.rc == AF_RC_ALERT)
		af_kam_announce(p->req, &req, &v);
}

static void af_tm_free(void *param)
{
	af_module_auth_pending_free(param);
}

/* tm: a reply of a transaction whose request had credentials went out */
static void af_tm_reply(struct cell *t, int type, struct tmcb_params *ps)
{
	af_request_t req;
	af_verdict_t v;

	if(!ps->param
			|| !af_module_auth_pending_reply(*ps->param, ps->code,
					ps->send_buf.s, (size_t)ps->send_buf.len, &req, &v)
			|| v.rc != AF_RC_ALERT)
		return;
	/* the alert event runs on a faked message (this may be another
	 * process, with the reply of another message at hand) that shows
	 * the request's source as $si:$sp */
	af_kam_announce_from(&req.src_ip, req.src_port, &req, &v);
}

/* a transaction was created for msg: watch its replies when msg carries
 * credentials (without them nothing is extracted) */
void af_kam_auth_tm(struct cell *t, struct sip_msg *msg)
{
	af_request_t req;
	af_auth_pending_t *a;

	if(!msg->authorization && !msg->proxy_auth)
		return;
	if(af_kam_request(msg, &req) < 0)
		return;
	a = af_module_auth_pending(&req);
	if(!a)
		return;
	if(af_kam_tmb.register_tmcb(msg, t, TMCB_RESPONSE_OUT, af_tm_reply, a,
			   af_tm_free)
			<= 0) {
		LM_ERR("cannot watch the replies of a transaction\n");
		af_module_auth_pending_free(a);
		return;
	}
	last_tm.a = a;
	last_tm.msg_id = msg->id;
	last_tm.msg_pid = msg->pid;
}

void af_kam_auth_init(int sl, int tm)
{
	af_module_auth_learning(sl, tm);
}

int af_kam_auth_report(struct sip_msg *msg, int ok)
{
	af_request_t req;
	af_verdict_t v;

	if(af_kam_request(msg, &req) < 0) {
		LM_ERR("af_auth_%s: not a request\n", ok ? "ok" : "failed");
		return AF_RC_ERROR;
	}
	/* a transaction made for this message before the report: its
	 * reply must not count the same attempt again */
	if(last_tm.a && last_tm.msg_id == msg->id && last_tm.msg_pid == msg->pid)
		af_module_auth_pending_done(last_tm.a);
	af_module_auth_report(&req, ok, &v);
	af_kam_announce(msg, &req, &v);
	return v.rc;
}
