/*
 * antifraud - SIP message to af_request_t, once per message.
 *
 * Everything is optional: a header that is missing or does not parse
 * leaves its field empty, and the checks treat an empty field as
 * unknown. Nothing here allocates beyond Kamailio's own parsers.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "core/dprint.h"
#include "core/ip_addr.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/parse_uri.h"
#include "core/parser/parse_content.h"
#include "core/parser/digest/digest.h"
#include "core/parser/sdp/sdp.h"
#include "core/trim.h"
#include "af_kam.h"

static void set(af_str_t *dst, const str *src)
{
	if(src && src->s && src->len > 0) {
		dst->s = src->s;
		dst->len = (size_t)src->len;
	}
}

af_method_t af_kam_method(int m)
{
	switch(m) {
		case METHOD_INVITE:
			return AF_M_INVITE;
		case METHOD_REGISTER:
			return AF_M_REGISTER;
		case METHOD_OPTIONS:
			return AF_M_OPTIONS;
		case METHOD_MESSAGE:
			return AF_M_MESSAGE;
		case METHOD_SUBSCRIBE:
			return AF_M_SUBSCRIBE;
		case METHOD_NOTIFY:
			return AF_M_NOTIFY;
		case METHOD_REFER:
			return AF_M_REFER;
		case METHOD_ACK:
			return AF_M_ACK;
		case METHOD_BYE:
			return AF_M_BYE;
		case METHOD_CANCEL:
			return AF_M_CANCEL;
		default:
			return AF_M_OTHER;
	}
}

static af_proto_t proto_of(int p)
{
	switch(p) {
		case PROTO_UDP:
			return AF_P_UDP;
		case PROTO_TCP:
			return AF_P_TCP;
		case PROTO_TLS:
			return AF_P_TLS;
		case PROTO_SCTP:
			return AF_P_SCTP;
		case PROTO_WS:
		case PROTO_WSS:
			return AF_P_WS;
		default:
			return AF_P_OTHER;
	}
}

/* a/b: the 4 bytes at p are a (lower case) in either case, and the one
 * after (if any) is not b */
static int credentials_prefix(
		const char *p, const char *end, const char *a, char b)
{
	int i;

	if(end - p < 4)
		return 0;
	for(i = 0; i < 4; i++) {
		if((p[i] | 0x20) != a[i])
			return 0;
	}
	return p + 4 == end || (p[4] | 0x20) != b;
}

/*
 * 1 when Kamailio 5.6's digest parser reads the credentials in body
 * without reading past them, and the module parses the credentials of
 * every request that has them, not only of those the script
 * authenticates (found by fuzz_kam_request):
 * - every parameter has its '=': with a bare name last (",nonc" at the
 *   end of the datagram) it reads past the end of the header;
 * - no name (no word outside quotes) starts with "real" but is not
 *   "realm", nor with "nonc" but is not "nonce": the parser
 *   (param_parser.c, real_CASE and nonc_CASE) falls through into the
 *   next cases, steps 8 or 12 bytes on and then looks for the '=' with a
 *   negative length: through the rest of the buffer and past it.
 * Commas inside quoted values do not separate parameters.
 */
static int credentials_complete(const str *body)
{
	const char *p = body->s, *end = body->s + body->len;
	int quoted = 0, has_eq = 0, word = 0;

	for(; p < end; p++) {
		if(quoted) {
			if(*p == '\\' && p + 1 < end)
				p++;
			else if(*p == '"')
				quoted = word = 0; /* what follows starts a word */
			continue;
		}
		if(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'
				|| *p == ',') {
			word = 0;
			if(*p == ',') {
				if(!has_eq)
					return 0;
				has_eq = 0;
			}
			continue;
		}
		if(!word && (credentials_prefix(p, end, "real", 'm')
							|| credentials_prefix(p, end, "nonc", 'e')))
			return 0;
		word = 1;
		if(*p == '"')
			quoted = 1;
		else if(*p == '=')
			has_eq = 1;
	}
	return has_eq && !quoted;
}

/* the user and the response of the digest credentials, if the request
 * carries any */
static void credentials_user(struct sip_msg *msg, af_str_t *dst,
		af_str_t *response)
{
	struct hdr_field *h = msg->authorization ? msg->authorization
											  : msg->proxy_auth;

	if(!h)
		return;
	if(!h->parsed && !credentials_complete(&h->body))
		return;
	if(!h->parsed && parse_credentials(h) != 0)
		return;
	if(h->parsed) {
		set(dst, &((auth_body_t *)h->parsed)->digest.username.user);
		set(response, &((auth_body_t *)h->parsed)->digest.response);
	}
}

static void add_sdp_ip(af_request_t *req, const str *s)
{
	if(s->s && s->len > 0)
		af_request_sdp_ip(req, s->s, (size_t)s->len);
}

/*
 * Connection and origin addresses of an application/sdp body. Only the
 * c= and o= lines are read: a scan of the body, no allocation (Kamailio's
 * full SDP parser allocates per line and costs more than every check
 * together). Multipart bodies go through that parser.
 */
static void sdp_ips(struct sip_msg *msg, af_request_t *req)
{
	sdp_info_t *sdp;
	sdp_session_cell_t *sess;
	sdp_stream_cell_t *st;
	const char *p, *end;
	long len = -1;
	int mime;

	/* Content-Length is optional over UDP (the body runs to the end of
	 * the datagram, RFC 3261 18.3): the header may be missing */
	if(msg->content_length) {
		len = get_content_length(msg);
		if(len <= 0)
			return;
	}
	mime = parse_content_type_hdr(msg);
	if(mime <= 0)
		return; /* no Content-Type or a bad one: no SDP to read */
	p = get_body(msg);
	if(!p)
		return;
	end = msg->buf + msg->len;
	if(len >= 0 && len < end - p)
		end = p + len; /* a Content-Length shorter than the body */
	if(p >= end)
		return;
	if(mime == MIMETYPE(APPLICATION, SDP)) {
		af_request_sdp(req, p, (size_t)(end - p));
		return;
	}
	if((mime >> 16) != TYPE_MULTIPART || parse_sdp(msg) != 0)
		return;
	sdp = (sdp_info_t *)msg->body;
	if(!sdp || sdp->type != MSG_BODY_SDP)
		return;
	for(sess = sdp->sessions; sess; sess = sess->next) {
		add_sdp_ip(req, &sess->ip_addr);
		add_sdp_ip(req, &sess->o_ip_addr);
		for(st = sess->streams; st; st = st->next)
			add_sdp_ip(req, &st->ip_addr);
	}
}

/* the last extraction of this process, reused when the script runs
 * several checks on the same message */
static af_request_t af_kam_last;
static af_memo_t af_kam_memo; /* what the checks of the last message share */
static unsigned int af_kam_last_id;
static int af_kam_last_pid;
static char *af_kam_last_buf;

/* 1 when af_kam_last is the extraction of msg */
static int af_kam_is_last(const struct sip_msg *msg)
{
	return af_kam_last_buf == msg->buf && af_kam_last_id == msg->id
		   && af_kam_last_pid == msg->pid;
}

const af_request_t *af_kam_request_seen(const struct sip_msg *msg)
{
	return af_kam_is_last(msg) ? &af_kam_last : NULL;
}

void af_kam_parse_caller(struct sip_msg *msg)
{
	af_str_t user, response;

	if(msg->from)
		parse_from_uri(msg);
	credentials_user(msg, &user, &response);
}

int af_kam_request(struct sip_msg *msg, af_request_t *req)
{
	struct sip_uri *uri;
	str ua;

	if(msg->first_line.type != SIP_REQUEST)
		return -1;
	if(af_kam_is_last(msg)) {
		*req = af_kam_last;
		return 0;
	}
	memset(req, 0, sizeof(*req));
	memset(&af_kam_memo, 0, sizeof(af_kam_memo));
	req->memo = &af_kam_memo;
	if(msg->rcv.src_ip.af == AF_INET || msg->rcv.src_ip.af == AF_INET6)
		af_request_set_src(req, msg->rcv.src_ip.af == AF_INET6,
				msg->rcv.src_ip.u.addr, msg->rcv.src_port);
	req->raw.s = msg->buf;
	req->raw.len = (size_t)msg->len;
	req->proto = proto_of(msg->rcv.proto);
	req->method = af_kam_method(msg->first_line.u.request.method_value);
	set(&req->method_name, &msg->first_line.u.request.method);
	/* a message whose headers do not parse is checked on what parsed */
	parse_headers(msg, HDR_EOH_F, 0);

	if(parse_sip_msg_uri(msg) >= 0) {
		set(&req->ruri_user, &msg->parsed_uri.user);
		set(&req->ruri_host, &msg->parsed_uri.host);
	}
	req->initial = 1;
	if(msg->to && (msg->to->parsed || parse_to_header(msg) == 0)) {
		if(get_to(msg)->tag_value.len > 0)
			req->initial = 0;
		/* the To user names the account of a REGISTER; parsed URIs are
		 * cached in the message for every module */
		if(req->method == AF_M_REGISTER && (uri = parse_to_uri(msg))) {
			set(&req->to_user, &uri->user);
			set(&req->to_host, &uri->host);
		}
	}
	if(msg->from && (uri = parse_from_uri(msg))) {
		set(&req->from_user, &uri->user);
		set(&req->from_host, &uri->host);
	}
	credentials_user(msg, &req->auth_user, &req->auth_response);
	if(msg->user_agent) {
		ua = msg->user_agent->body;
		trim(&ua);
		set(&req->user_agent, &ua);
	}
	if(msg->callid)
		set(&req->call_id, &msg->callid->body);
	if(msg->cseq && msg->cseq->parsed)
		set(&req->cseq, &get_cseq(msg)->number);
	if(af_request_has_sdp(req))
		sdp_ips(msg, req);
	af_kam_last = *req;
	af_kam_last_id = msg->id;
	af_kam_last_pid = msg->pid;
	af_kam_last_buf = msg->buf;
	return 0;
}
