/*
 * antifraud fuzzing - the Kamailio glue's extraction of a request
 * (af_kam_request, kamailio/af_kam_msg.c) on what Kamailio's own parser
 * makes of the input, then the checks' request-level code on the
 * result: af_check_source, af_check_fingerprint, af_check_dest and
 * af_auth_result with the sample rules (etc/antifraud.yaml, embedded
 * store).
 *
 * The input is one datagram as Kamailio receives it over UDP: parsed
 * with parse_msg() as receive_msg() does, from a source address derived
 * from the input (so that the bans of one input do not hide the checks
 * of the next). Kamailio's core is linked from build/fuzz/libkamcore.a
 * (see fuzz.mk), its pkg memory being the system malloc.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "core/parser/msg_parser.h"
#include "core/parser/parse_hname2.h"
#include "core/globals.h"
#include "core/dprint.h"
#include "core/cfg_core.h"
#include "af_kam.h"
#include "af_core.h"
#include "fuzz_host.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char rules[4096], err[512];
	af_core_cfg_t cfg;

	fuzz_host_init();
	/* Kamailio's logging: errors only, to stderr */
	log_stderr = 1;
	default_core_cfg.debug = getenv("AF_FUZZ_VERBOSE") ? L_DBG : L_CRIT;
	ksr_hname_init_index();
	snprintf(rules, sizeof(rules), "%s/etc/antifraud.yaml", fuzz_top());
	memset(&cfg, 0, sizeof(cfg));
	cfg.rules_path = rules;
	cfg.shm_entries = 4096;
	cfg.shm_stripes = 16;
	if(af_core_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_kam_request: %s\n", err);
		abort();
	}
	return 0;
}

/* a source in 10.0.0.0/8 or 2001:db8::/32 chosen by a hash of the input */
static void source_of(const uint8_t *data, size_t size, struct ip_addr *ip)
{
	uint32_t h = 2166136261u;
	size_t i;

	for(i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	memset(ip, 0, sizeof(*ip));
	if(h & 1) {
		ip->af = AF_INET6;
		ip->len = 16;
		ip->u.addr[0] = 0x20;
		ip->u.addr[1] = 0x01;
		ip->u.addr[2] = 0x0d;
		ip->u.addr[3] = 0xb8;
		memcpy(ip->u.addr + 12, &h, 4);
	} else {
		ip->af = AF_INET;
		ip->len = 4;
		ip->u.addr[0] = 10;
		ip->u.addr[1] = (unsigned char)(h >> 8);
		ip->u.addr[2] = (unsigned char)(h >> 16);
		ip->u.addr[3] = (unsigned char)(h >> 24);
	}
}

/* a string of the request must lie inside the message (or be empty) */
static void inside(const af_str_t *s, const struct sip_msg *msg)
{
	if(s->len == 0)
		return;
	if(!s->s || s->s < msg->buf || s->s + s->len > msg->buf + msg->len)
		abort();
}

static void checks(const af_request_t *req)
{
	af_verdict_t v;

	af_check_source(req, NULL, 0, &v);
	af_check_fingerprint(req, NULL, 0, &v);
	memset(&v, 0, sizeof(v));
	af_check_dest(req, NULL, 0, &v);
	if(v.dest.ticket.total || v.dest.ticket.caller)
		af_dest_release(&v.dest.ticket);
	if(req->auth_user.len)
		af_auth_result(req, req->auth_response.len & 1, NULL, 0, &v);
}

/* bytes readable past the NUL of the message (see below) */
#define KAM_BUF_SLACK 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned int id;
	struct sip_msg msg;
	af_request_t req, again;
	char *buf;

	if(size >= BUF_SIZE)
		return -1; /* more than a datagram Kamailio reads */
	/* receive_msg() parses the datagram in place in Kamailio's receive
	 * buffer (udp_server.c: static char buf[BUF_SIZE + 1]), NUL
	 * terminated, with more of that buffer after it: Kamailio's parsers
	 * read words of 4 bytes (READ() of parser/digest/param_parser.c reads
	 * 3 bytes past the end of "reala" ending a header), which stays in
	 * that buffer. Here the NUL and KAM_BUF_SLACK zero bytes after it, so
	 * that reading further than Kamailio's own parsers do is caught */
	buf = calloc(1, size + 1 + KAM_BUF_SLACK);
	if(!buf)
		abort();
	memcpy(buf, data, size);
	memset(&msg, 0, sizeof(msg));
	msg.buf = buf;
	msg.len = (unsigned int)size;
	msg.id = ++id;
	msg.pid = getpid();
	msg.rcv.proto = PROTO_UDP;
	msg.rcv.src_port = 5060;
	msg.rcv.dst_port = 5060;
	source_of(data, size, &msg.rcv.src_ip);
	msg.set_global_address = default_global_address;
	msg.set_global_port = default_global_port;
	if(parse_msg(buf, msg.len, &msg) == 0
			&& af_kam_request(&msg, &req) == 0) {
		inside(&req.raw, &msg);
		inside(&req.method_name, &msg);
		inside(&req.ruri_user, &msg);
		inside(&req.ruri_host, &msg);
		inside(&req.from_user, &msg);
		inside(&req.from_host, &msg);
		inside(&req.to_user, &msg);
		inside(&req.auth_user, &msg);
		inside(&req.user_agent, &msg);
		inside(&req.call_id, &msg);
		inside(&req.cseq, &msg);
		if(req.sdp_ip_count < 0 || req.sdp_ip_count > AF_SDP_IP_MAX)
			abort();
		/* a second check of the same message reuses the extraction */
		if(af_kam_request(&msg, &again) != 0 || again.raw.s != req.raw.s
				|| again.call_id.s != req.call_id.s
				|| again.sdp_ip_count != req.sdp_ip_count
				|| again.method != req.method)
			abort();
		checks(&req);
	}
	free_sip_msg(&msg);
	free(buf);
	return 0;
}
