/*
 * antifraud - what every glue does alike when it fills an af_request_t
 * (af_request.h): the SDP addresses of a body.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "af_request.h"

void af_request_set_src(af_request_t *req, int v6, const void *addr,
		uint16_t port)
{
	static const uint8_t mapped[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const uint8_t *a = addr;

	memset(&req->src_ip, 0, sizeof(req->src_ip));
	req->src_port = port;
	if(v6 && memcmp(a, mapped, sizeof(mapped)) != 0) {
		req->src_ip.family = 6;
		memcpy(req->src_ip.addr, a, 16);
		return;
	}
	req->src_ip.family = 4;
	memcpy(req->src_ip.addr, v6 ? a + 12 : a, 4);
}

void af_request_sdp_ip(af_request_t *req, const char *addr, size_t len)
{
	af_ip_t ip;
	int i;

	if(!addr || !len || req->sdp_ip_count >= AF_SDP_IP_MAX)
		return;
	if(af_ip_parse(addr, len, &ip) < 0)
		return; /* a host name or garbage: nothing to check */
	for(i = 0; i < req->sdp_ip_count; i++)
		if(af_ip_equal(&req->sdp_ip[i], &ip))
			return;
	req->sdp_ip[req->sdp_ip_count++] = ip;
}

/*
 * The address of an SDP "c=IN IP4 addr[/ttl]" or "o=user id ver IN IP4
 * addr" line: the last field, without a /ttl suffix.
 */
static void sdp_line_addr(af_request_t *req, const char *p, const char *end)
{
	const char *a = end, *q;

	while(a > p && (a[-1] == ' ' || a[-1] == '\t'))
		a--;
	end = a;
	while(a > p && a[-1] != ' ' && a[-1] != '\t')
		a--;
	if(a == p)
		return; /* a single field: no address */
	for(q = a; q < end && *q != '/'; q++)
		;
	af_request_sdp_ip(req, a, (size_t)(q - a));
}

int af_request_has_sdp(const af_request_t *req)
{
	return req->method == AF_M_INVITE || req->method == AF_M_MESSAGE
		   || req->method == AF_M_OTHER;
}

void af_request_sdp(af_request_t *req, const char *body, size_t len)
{
	const char *p = body, *end = body + len, *eol;

	for(; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if(!eol)
			eol = end;
		if(eol - p > 2 && (p[0] == 'c' || p[0] == 'o') && p[1] == '=')
			sdp_line_addr(req, p + 2,
					(eol > p && eol[-1] == '\r') ? eol - 1 : eol);
	}
}
