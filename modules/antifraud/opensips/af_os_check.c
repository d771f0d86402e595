/*
 * antifraud - OpenSIPS's SIP parser for the dry run (MI af_check,
 * core/af_cmd_check.c): the request is parsed as a received one would be
 * and extracted as the checks see messages (af_os_request).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include "ip_addr.h"
#include "pt.h"
#include "parser/msg_parser.h"
#include "af_os.h"
#include "af_cmd.h"

/* the request parsed last (until done) */
static struct sip_msg af_os_check_msg;
static int af_os_check_parsed;
/* ids for the parsed requests: never those of a received message */
static unsigned int af_os_check_id = 0x7f000000u;

static void af_os_check_done(void)
{
	if(af_os_check_parsed)
		free_sip_msg(&af_os_check_msg);
	af_os_check_parsed = 0;
}

/* s as an address: IPv4, IPv6 with or without brackets; NULL if not */
static struct ip_addr *af_os_check_ip(str s)
{
	struct ip_addr *ip = str2ip(&s);

	if(ip)
		return ip;
	if(s.len > 2 && s.s[0] == '[' && s.s[s.len - 1] == ']') {
		s.s++;
		s.len -= 2;
	}
	return str2ip6(&s);
}

static int af_os_check_parse(char *buf, size_t len, const char *src,
		af_request_t *req, char *err, size_t errlen)
{
	struct sip_msg *msg = &af_os_check_msg;
	struct ip_addr *ip = NULL;
	str s;

	af_os_check_done();
	memset(msg, 0, sizeof(*msg));
	msg->buf = buf;
	msg->len = (unsigned int)len;
	msg->id = ++af_os_check_id;
	af_os_check_parsed = 1;
	if(parse_msg_opt(buf, (unsigned int)len, msg, 0) != 0
			|| msg->first_line.type != SIP_REQUEST) {
		snprintf(err, errlen, "Not a SIP request");
		goto error;
	}
	if(src) {
		s.s = (char *)src;
		s.len = (int)strlen(src);
		ip = af_os_check_ip(s);
	} else if(parse_headers(msg, HDR_VIA1_F, 0) == 0 && msg->via1) {
		ip = af_os_check_ip(msg->via1->host);
	}
	if(!ip) {
		snprintf(err, errlen,
				src ? "Not an IP address"
					: "No source address: give one (the top Via host is"
					  " not an address)");
		goto error;
	}
	msg->rcv.src_ip = *ip;
	msg->rcv.src_port = 5060;
	msg->rcv.proto = PROTO_UDP;
	if(af_os_request(msg, req) < 0) {
		snprintf(err, errlen, "Not a SIP request");
		goto error;
	}
	return 0;
error:
	af_os_check_done();
	return -1;
}

const af_cmd_parser_t af_os_check_parser = {
		af_os_check_parse, af_os_check_done};
