/*
 * antifraud - what the replies OpenSIPS sends teach: account protection
 * learns authentication results, the signal mix counts final answers.
 * Stateless replies come through the core's sl callbacks (auth's
 * challenges, registrar's answers without a transaction, sl_send_reply),
 * stateful ones through tm (t_reply, and the replies relayed from a
 * registrar, PBX or carrier downstream): a transaction is watched when
 * its request carries credentials to learn or the rules count signals.
 * What a reply says of the credentials is the core's
 * (af_module_auth_outcome). A result the script reports (af_auth_failed(),
 * af_auth_ok()) is not learned again. The requests themselves are counted
 * by af_check_source (antifraud.c).
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

static int af_os_learn; /* account protection learns from replies */

/* sl: a stateless reply to req is going out */
static void af_os_sl_out(struct sip_msg *req, str *buf, int code,
		const union sockaddr_union *dst, const struct socket_info *sock,
		int proto)
{
	af_request_t r;
	af_verdict_t v;
	int auth = af_os_learn && af_module_auth_code(code);

	if(!req || (!auth && (code < 200 || !af_module_mix_on()))
			|| af_os_request(req, &r) < 0)
		return;
	if(auth
			&& af_module_auth_reply(&r, code, buf ? buf->s : NULL,
					   buf ? (size_t)buf->len : 0, &v)
			&& v.rc == AF_RC_ALERT)
		af_os_announce(&r, &v);
	if(code >= 200 && af_module_signal(&r, code, &v))
		af_os_announce(&r, &v);
}

static void af_os_tm_free(void *p)
{
	af_module_auth_pending_free(p);
}

/* tm: a reply of a watched transaction went out */
static void af_os_tm_out(struct cell *t, int type, struct tmcb_params *ps)
{
	str *buf = ps->extra1;
	af_request_t r;
	af_verdict_t v;

	if(!ps->param)
		return;
	if(af_module_auth_pending_reply(*ps->param, ps->code,
			   buf ? buf->s : NULL, buf ? (size_t)buf->len : 0, &r, &v)
			&& v.rc == AF_RC_ALERT)
		af_os_announce(&r, &v);
	if(af_module_mix_reply(*ps->param, ps->code, &r, &v))
		af_os_announce(&r, &v);
}

/* tm: a transaction begins; its replies are watched when its request
 * carries credentials to learn or the rules count signals */
static void af_os_tm_in(struct cell *t, int type, struct tmcb_params *ps)
{
	af_auth_pending_t *p = NULL;
	af_request_t r;

	if(ps->req && af_os_request(ps->req, &r) == 0)
		p = af_module_tx_pending(&r, af_os_learn);
	if(p
			&& af_os_tmb.register_tmcb(ps->req, t, TMCB_RESPONSE_OUT,
					   af_os_tm_out, p, af_os_tm_free)
					   > 0) {
		af_os_tm_last.p = p;
		af_os_tm_last.msg_id = ps->req->id;
		af_os_tm_last.msg_buf = ps->req->buf;
	} else if(p) {
		LM_ERR("no transaction callback: the request's replies are not"
			   " learned\n");
		af_module_auth_pending_free(p);
	}
}

int af_os_auth_init(int learn)
{
	int sl, tm;

	af_os_learn = learn;
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
	if(learn)
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
