/*
 * antifraud - account protection learns authentication results from
 * the replies OpenSIPS sends: stateless ones through the core's sl
 * callbacks (auth's challenges and registrar's answers without a
 * transaction), stateful ones through tm (t_reply, and the replies
 * relayed from a registrar or PBX downstream). What a reply says of the
 * credentials is the core's (af_module_auth_outcome). A result the
 * script reports (af_auth_failed(), af_auth_ok()) is not learned again.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "dprint.h"
#include "sr_module.h"
#include "sl_cb.h"
#include "modules/tm/tm_load.h"
#include "af_os.h"

static struct tm_binds af_os_tmb;

/* the pending result of this process's last transaction, so that a
 * script report after t_newtran() marks it counted */
static struct {
	af_auth_pending_t *p;
	unsigned int msg_id;
	char *msg_buf;
} af_os_tm_last;

/* sl: a stateless reply to req is going out */
static void af_os_sl_out(struct sip_msg *req, str *buf, int code,
		const union sockaddr_union *dst, const struct socket_info *sock,
		int proto)
{
	af_request_t r;
	af_verdict_t v;

	if(!af_module_auth_code(code) || !req || af_os_request(req, &r) < 0)
		return;
	if(af_module_auth_reply(&r, code, buf ? buf->s : NULL,
			   buf ? (size_t)buf->len : 0, &v)
			&& v.rc == AF_RC_ALERT)
		af_os_announce(&r, &v);
}

static void af_os_tm_free(void *p)
{
	af_module_auth_pending_free(p);
}

/* tm: a reply of a transaction with credentials went out */
static void af_os_tm_out(struct cell *t, int type, struct tmcb_params *ps)
{
	str *buf = ps->extra1;
	af_request_t r;
	af_verdict_t v;

	if(ps->param
			&& af_module_auth_pending_reply(*ps->param, ps->code,
					   buf ? buf->s : NULL, buf ? (size_t)buf->len : 0, &r,
					   &v)
			&& v.rc == AF_RC_ALERT)
		af_os_announce(&r, &v);
}

/* tm: a transaction begins; its replies are watched when the request
 * carries credentials */
static void af_os_tm_in(struct cell *t, int type, struct tmcb_params *ps)
{
	af_auth_pending_t *p = NULL;
	af_request_t r;

	if(ps->req && af_os_request(ps->req, &r) == 0)
		p = af_module_auth_pending(&r);
	if(p
			&& af_os_tmb.register_tmcb(ps->req, t, TMCB_RESPONSE_OUT,
					   af_os_tm_out, p, af_os_tm_free)
					   > 0) {
		af_os_tm_last.p = p;
		af_os_tm_last.msg_id = ps->req->id;
		af_os_tm_last.msg_buf = ps->req->buf;
	} else if(p) {
		LM_ERR("no transaction callback: the request's authentication"
			   " result is not learned\n");
		af_module_auth_pending_free(p);
	}
}

int af_os_auth_init(int learn)
{
	int sl = 0, tm = 0;

	if(!learn)
		return 0;
	if(register_slcb(SLCB_REPLY_OUT, 0, af_os_sl_out) != 0) {
		LM_ERR("cannot register the sl reply callback\n");
		return -1;
	}
	sl = module_loaded("sl");
	tm = module_loaded("tm") && load_tm_api(&af_os_tmb) == 0;
	if(tm
			&& af_os_tmb.register_tmcb(0, 0, TMCB_REQUEST_IN, af_os_tm_in, 0, 0)
					   <= 0) {
		LM_ERR("cannot register the tm request callback\n");
		return -1;
	}
	af_module_auth_learning(sl, tm);
	return 0;
}

int af_os_auth_report(struct sip_msg *msg, int ok)
{
	af_request_t r;
	af_verdict_t v;
	int rc = af_os_request(msg, &r);

	if(rc < 0)
		LM_ERR("af_auth_%s: not a request\n", ok ? "ok" : "failed");
	if(rc < 0)
		return AF_RC_ERROR;
	if(af_os_tm_last.p && af_os_tm_last.msg_id == msg->id
			&& af_os_tm_last.msg_buf == msg->buf)
		af_module_auth_pending_done(af_os_tm_last.p);
	af_module_auth_report(&r, ok, &v);
	return af_os_announce(&r, &v);
}
