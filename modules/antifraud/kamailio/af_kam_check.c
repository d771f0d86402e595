/*
 * antifraud - Kamailio's SIP parser for the dry run (antifraud.check,
 * core/af_cmd_check.c): the request is parsed as a received one would
 * be and extracted as the checks see messages (af_kam_request).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include "core/dprint.h"
#include "core/pt.h"
#include "core/resolve.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_via.h"
#include "af_kam.h"
#include "af_cmd.h"

/* the request parsed last (until done) */
static struct sip_msg af_check_msg;
static int af_check_parsed;
/* ids for the parsed requests: never those of a received message */
static unsigned int af_check_msg_id = 0x7f000000u;

static void af_kam_check_done(void)
{
	if(af_check_parsed)
		free_sip_msg(&af_check_msg);
	af_check_parsed = 0;
}

static int af_kam_check_parse(char *buf, size_t len, const char *src,
		af_request_t *req, char *err, size_t errlen)
{
	struct sip_msg *msg = &af_check_msg;
	struct ip_addr *ip;
	str s;

	af_kam_check_done();
	memset(msg, 0, sizeof(*msg));
	msg->buf = buf;
	msg->len = (unsigned int)len;
	msg->id = ++af_check_msg_id;
	msg->pid = my_pid();
	msg->set_global_address = default_global_address;
	msg->set_global_port = default_global_port;
	af_check_parsed = 1;
	if(parse_msg(buf, (unsigned int)len, msg) != 0
			|| msg->first_line.type != SIP_REQUEST) {
		snprintf(err, errlen, "Not a SIP request");
		goto error;
	}
	if(src) {
		s.s = (char *)src;
		s.len = (int)strlen(src);
	} else if(parse_headers(msg, HDR_VIA1_F, 0) < 0 || !msg->via1
			  || !str2ipx(&msg->via1->host)) {
		snprintf(err, errlen,
				"No source address: give one (the top Via host is not an"
				" address)");
		goto error;
	} else {
		s = msg->via1->host;
	}
	ip = str2ipx(&s);
	if(!ip) {
		snprintf(err, errlen, "Not an IP address");
		goto error;
	}
	msg->rcv.src_ip = *ip;
	msg->rcv.src_port = 5060;
	msg->rcv.proto = PROTO_UDP;
	if(af_kam_request(msg, req) < 0) {
		snprintf(err, errlen, "Not a SIP request");
		goto error;
	}
	return 0;
error:
	af_kam_check_done();
	return -1;
}

const af_cmd_parser_t af_kam_check_parser = {
		af_kam_check_parse, af_kam_check_done};
