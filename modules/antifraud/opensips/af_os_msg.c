/*
 * antifraud - an OpenSIPS SIP request as an af_request_t, extracted
 * once per message. A header that is missing or does not parse leaves
 * its field empty (the checks read that as unknown); nothing is
 * allocated beyond OpenSIPS's own parsers.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "dprint.h"
#include "ip_addr.h"
#include "trim.h"
#include "parser/msg_parser.h"
#include "parser/parse_from.h"
#include "parser/parse_to.h"
#include "parser/parse_uri.h"
#include "parser/parse_body.h"
#include "parser/parse_content.h"
#include "parser/digest/digest.h"
#include "af_os.h"

/* OpenSIPS's method bits and transports, as the core names them */
static const struct {
	int os;
	int af;
} af_os_methods[] = {{METHOD_INVITE, AF_M_INVITE},
		{METHOD_REGISTER, AF_M_REGISTER}, {METHOD_OPTIONS, AF_M_OPTIONS},
		{METHOD_MESSAGE, AF_M_MESSAGE}, {METHOD_SUBSCRIBE, AF_M_SUBSCRIBE},
		{METHOD_NOTIFY, AF_M_NOTIFY}, {METHOD_REFER, AF_M_REFER},
		{METHOD_ACK, AF_M_ACK}, {METHOD_BYE, AF_M_BYE},
		{METHOD_CANCEL, AF_M_CANCEL}},
  af_os_protos[] = {{PROTO_UDP, AF_P_UDP}, {PROTO_TCP, AF_P_TCP},
		  {PROTO_TLS, AF_P_TLS}, {PROTO_SCTP, AF_P_SCTP},
		  {PROTO_WS, AF_P_WS}, {PROTO_WSS, AF_P_WS}};

#define AF_OS_MAP(tab, v, dflt)                                         \
	({                                                                  \
		int _r = (dflt);                                                \
		for(size_t _i = 0; _i < sizeof(tab) / sizeof(tab[0]); _i++)     \
			if(tab[_i].os == (v)) {                                     \
				_r = tab[_i].af;                                        \
				break;                                                  \
			}                                                           \
		_r;                                                             \
	})

/* dst = src when src holds something */
static inline void take(af_str_t *dst, const str *src)
{
	if(src->s && src->len > 0)
		*dst = (af_str_t){src->s, (size_t)src->len};
}

/* the digest user and response of the request's credentials */
static void af_os_credentials(struct sip_msg *msg, af_request_t *req)
{
	struct hdr_field *h = msg->authorization;
	dig_cred_t *cred;

	if(!h)
		h = msg->proxy_auth;
	if(!h || (!h->parsed && parse_credentials(h) != 0) || !h->parsed)
		return;
	cred = &((auth_body_t *)h->parsed)->digest;
	take(&req->auth_user, &cred->username.user);
	take(&req->auth_response, &cred->response);
}

/* the SDP addresses of every application/sdp part of the body */
static void af_os_sdp(struct sip_msg *msg, af_request_t *req)
{
	struct body_part *part;

	if(!af_request_has_sdp(req) || parse_sip_body(msg) < 0 || !msg->body)
		return;
	for(part = &msg->body->first; part; part = part->next)
		if(part->mime == ((TYPE_APPLICATION << 16) + SUBTYPE_SDP)
				&& part->body.len > 0)
			af_request_sdp(req, part->body.s, (size_t)part->body.len);
}

/* the message the last extraction of this process was for */
static struct {
	char *buf;
	unsigned int id;
	af_request_t req;
	af_memo_t memo; /* what the checks of that message share */
} af_os_last;

int af_os_request(struct sip_msg *msg, af_request_t *req)
{
	struct sip_uri *u;
	struct to_body *to;
	str ua;

	if(msg->first_line.type != SIP_REQUEST)
		return -1;
	if(af_os_last.buf == msg->buf && af_os_last.id == msg->id) {
		*req = af_os_last.req;
		return 0;
	}
	memset(req, 0, sizeof(*req));
	memset(&af_os_last.memo, 0, sizeof(af_os_last.memo));
	req->memo = &af_os_last.memo;
	req->raw = (af_str_t){msg->buf, (size_t)msg->len};
	if(msg->rcv.src_ip.af == AF_INET || msg->rcv.src_ip.af == AF_INET6)
		af_request_set_src(req, msg->rcv.src_ip.af == AF_INET6,
				msg->rcv.src_ip.u.addr, msg->rcv.src_port);
	req->proto = AF_OS_MAP(af_os_protos, msg->rcv.proto, AF_P_OTHER);
	req->method = AF_OS_MAP(af_os_methods,
			msg->first_line.u.request.method_value, AF_M_OTHER);
	take(&req->method_name, &msg->first_line.u.request.method);
	/* a message whose headers do not all parse is checked on what did */
	parse_headers(msg, HDR_EOH_F, 0);
	if(msg->callid)
		take(&req->call_id, &msg->callid->body);
	if(msg->cseq && msg->cseq->parsed)
		take(&req->cseq, &get_cseq(msg)->number);
	if(msg->user_agent) {
		ua = msg->user_agent->body;
		trim(&ua);
		take(&req->user_agent, &ua);
	}
	if(parse_sip_msg_uri(msg) >= 0) {
		take(&req->ruri_user, &msg->parsed_uri.user);
		take(&req->ruri_host, &msg->parsed_uri.host);
	}
	if((u = parse_from_uri(msg))) {
		take(&req->from_user, &u->user);
		take(&req->from_host, &u->host);
	}
	to = msg->to && (msg->to->parsed || parse_to_header(msg) == 0)
				 ? get_to(msg)
				 : NULL;
	req->initial = !to || to->tag_value.len == 0;
	/* a REGISTER's To names its account */
	if(to && req->method == AF_M_REGISTER && (u = parse_to_uri(msg))) {
		take(&req->to_user, &u->user);
		take(&req->to_host, &u->host);
	}
	af_os_credentials(msg, req);
	af_os_sdp(msg, req);
	af_os_last.req = *req;
	af_os_last.buf = msg->buf;
	af_os_last.id = msg->id;
	return 0;
}

const char *af_os_request_profile(const struct sip_msg *msg)
{
	return af_os_last.buf == msg->buf && af_os_last.id == msg->id
				   ? af_os_last.memo.profile
				   : "";
}
