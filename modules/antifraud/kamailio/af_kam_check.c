/*
 * antifraud - antifraud.check: a dry run of every check on a request
 * given as raw text, as a file, or as its parts, counting nothing.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/pt.h"
#include "core/resolve.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_via.h"
#include "af_kam.h"
#include "af_numplan.h"
#include "af_text.h"

#define AF_CHECK_MAX_BYTES 65535 /* the largest request read */

const char *af_kam_rpc_check_doc[] = {
		"Dry run of af_check_source, af_check_fingerprint and af_check_dest"
		" (nothing counted, nothing written): a raw request (its text, or"
		" the path of a file holding it) [source ip] [profile], or its parts:"
		" source_ip method from_uri ruri [user_agent] [profile]. Answers"
		" each check's return code, reasons, blocking reasons and detail.",
		0};

/* ids for the parsed requests: never those of a received message */
static unsigned int af_check_msg_id = 0x7f000000u;

/* reads the file at path (a regular file, bounded) into buf; its
 * length, -1 with err set */
static int read_request_file(const char *path, char *buf, size_t size,
		char *err, size_t errlen)
{
	char ex[AF_TEXT_EXCERPT_BUF];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if(fd < 0) {
		snprintf(err, errlen, "%s: %s", af_text_excerpt(path, strlen(path), ex), strerror(errno));
		return -1;
	}
	if(fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", af_text_excerpt(path, strlen(path), ex));
		close(fd);
		return -1;
	}
	if(st.st_size >= (off_t)size) {
		snprintf(err, errlen, "%s: larger than %zu bytes", af_text_excerpt(path, strlen(path), ex), size - 1);
		close(fd);
		return -1;
	}
	while(len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return (int)len;
}

/* text as a SIP message in out: lines end in CRLF, the head ends in an
 * empty line; its length, -1 when it does not fit */
static int normalize(const char *in, size_t len, char *out, size_t size)
{
	size_t i, o = 0;

	for(i = 0; i < len; i++) {
		if(in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
			if(o + 2 >= size)
				return -1;
			out[o++] = '\r';
		}
		if(o + 1 >= size)
			return -1;
		out[o++] = in[i];
	}
	if(!strstr(out, "\r\n\r\n") && o + 4 < size) {
		if(o < 2 || out[o - 2] != '\r' || out[o - 1] != '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		}
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
	return (int)o;
}

/* the request of the parts form, written as text into out */
static int from_parts(const str *src, const str *method, const str *from,
		const str *ruri, const str *ua, char *out, size_t size)
{
	int n;

	n = snprintf(out, size,
			"%.*s %.*s SIP/2.0\r\n"
			"Via: SIP/2.0/UDP %.*s:5060;branch=z9hG4bK-afcheck%u\r\n"
			"Max-Forwards: 70\r\n"
			"From: <%.*s>;tag=afcheck%u\r\n"
			"To: <%.*s>\r\n"
			"Call-ID: afcheck-%u@%.*s\r\n"
			"CSeq: 1 %.*s\r\n"
			"%s%.*s%s"
			"Content-Length: 0\r\n\r\n",
			method->len, method->s, ruri->len, ruri->s, src->len, src->s,
			af_check_msg_id, from->len, from->s, af_check_msg_id, ruri->len,
			ruri->s, af_check_msg_id, src->len, src->s, method->len,
			method->s, ua->len ? "User-Agent: " : "", ua->len, ua->s,
			ua->len ? "\r\n" : "");
	return n > 0 && (size_t)n < size ? n : -1;
}

/* one line of printable text: no CR, LF or NUL (a header injected
 * through a part) */
static int one_line(const str *s)
{
	int i;

	for(i = 0; i < s->len; i++)
		if(s->s[i] == '\r' || s->s[i] == '\n' || s->s[i] == '\0')
			return 0;
	return 1;
}

/* s escaped into buf (text from the request is shown plain) */
static const char *esc(const char *s, char *buf, size_t size)
{
	af_text_escape(s, strlen(s), buf, size);
	return buf;
}

/* adds one check's verdict to h as the struct 'name'; what quotes the
 * request (detail, shape, profile, number) is escaped */
static void add_verdict(rpc_t *rpc, void *h, const char *name,
		const af_verdict_t *v)
{
	char reasons[512], blocking[512], detail[AF_DETAIL_MAX * 4 + 4];
	char shape[1024 + 4], b1[AF_BAN_REASON * 4 + 4], b2[300], b3[300];
	void *c;

	af_reasons_format(v->reasons, reasons, sizeof(reasons));
	af_reasons_format(v->blocking, blocking, sizeof(blocking));
	if(rpc->struct_add(h, "{", name, &c) < 0)
		return;
	rpc->struct_add(c, "dsssdd", "rc", v->rc, "reason", reasons, "blocking",
			blocking, "detail", esc(v->detail, detail, sizeof(detail)),
			"score", (int)v->score, "banned", v->banned);
	if(v->banned)
		rpc->struct_add(
				c, "s", "ban_reason", esc(v->ban.reason, b1, sizeof(b1)));
	if(!strcmp(name, "source"))
		rpc->struct_add(c, "ssd", "country", v->geo.country, "continent",
				v->geo.continent, "asn", (int)v->geo.asn);
	if(!strcmp(name, "fingerprint"))
		rpc->struct_add(c, "sss", "fingerprint", v->fp_id, "shape",
				esc(v->shape, shape, sizeof(shape)), "signature",
				esc(v->signatures, b2, sizeof(b2)));
	if(!strcmp(name, "dest") && v->dest.number[0])
		rpc->struct_add(c, "sssssdddd", "profile",
				esc(v->dest.profile, b2, sizeof(b2)), "number",
				esc(v->dest.number, b3, sizeof(b3)), "dest_country",
				v->dest.country, "dest_zone", v->dest.zone, "dest_class",
				af_numclass_name((af_numclass_t)v->dest.cls), "dest_risk",
				v->dest.risk, "international", v->dest.international,
				"concurrent", (int)v->dest.conc_total, "concurrent_caller",
				(int)v->dest.conc_caller);
}

/* the top Via's host when it is an address */
static int via_source(struct sip_msg *msg, str *out)
{
	if(parse_headers(msg, HDR_VIA1_F, 0) < 0 || !msg->via1)
		return -1;
	if(!str2ipx(&msg->via1->host))
		return -1;
	*out = msg->via1->host;
	return 0;
}

void af_kam_rpc_check(rpc_t *rpc, void *ctx)
{
	str a[6];
	char *text = NULL, *buf = NULL, err[256];
	struct sip_msg msg;
	struct ip_addr *ip;
	af_request_t req;
	af_verdict_t vs, vf, vd;
	str src = STR_NULL, prof = STR_NULL, none = str_init("");
	int n, len, parsed = 0;
	void *h;

	memset(a, 0, sizeof(a));
	n = rpc->scan(ctx, "S*SSSSS", &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]);
	if(n < 1) {
		rpc->fault(ctx, 400,
				"Usage: antifraud.check request|path [source_ip] [profile],"
				" or antifraud.check source_ip method from_uri ruri"
				" [user_agent] [profile]");
		return;
	}
	for(len = 0; len < n; len++) {
		if(a[len].len > AF_CHECK_MAX_BYTES) {
			rpc->fault(ctx, 400, "Argument %d too long", len + 1);
			return;
		}
	}
	text = pkg_malloc(AF_CHECK_MAX_BYTES + 1);
	buf = pkg_malloc(2 * AF_CHECK_MAX_BYTES + 8);
	if(!text || !buf) {
		rpc->fault(ctx, 500, "Out of memory");
		goto done;
	}
	af_check_msg_id++;
	if(n >= 4 && str2ipx(&a[0])) {
		/* the parts */
		if(!one_line(&a[1]) || !one_line(&a[2]) || !one_line(&a[3])
				|| (n >= 5 && !one_line(&a[4]))) {
			rpc->fault(ctx, 400, "A part holds a line break");
			goto done;
		}
		src = a[0];
		if(n >= 6)
			prof = a[5];
		len = from_parts(&a[0], &a[1], &a[2], &a[3], &a[4], text,
				AF_CHECK_MAX_BYTES + 1);
		if(len < 0) {
			rpc->fault(ctx, 400, "Request too long");
			goto done;
		}
	} else if(n <= 3) {
		if(n >= 2)
			src = a[1];
		if(n >= 3)
			prof = a[2];
		if(a[0].len > 0 && a[0].s[0] == '/') {
			char path[PATH_MAX];

			if(a[0].len >= (int)sizeof(path)) {
				rpc->fault(ctx, 400, "Path too long");
				goto done;
			}
			memcpy(path, a[0].s, a[0].len);
			path[a[0].len] = '\0';
			len = read_request_file(
					path, text, AF_CHECK_MAX_BYTES + 1, err, sizeof(err));
			if(len < 0) {
				rpc->fault(ctx, 400, "%s", err);
				goto done;
			}
		} else {
			memcpy(text, a[0].s, a[0].len);
			text[a[0].len] = '\0';
			len = a[0].len;
		}
	} else {
		rpc->fault(ctx, 400,
				"Expected a request (or path) [source_ip] [profile], or"
				" source_ip method from_uri ruri [user_agent] [profile]");
		goto done;
	}
	len = normalize(text, (size_t)len, buf, 2 * AF_CHECK_MAX_BYTES + 8);
	if(len <= 0) {
		rpc->fault(ctx, 400, "Request too long");
		goto done;
	}

	memset(&msg, 0, sizeof(msg));
	msg.buf = buf;
	msg.len = (unsigned int)len;
	msg.id = af_check_msg_id;
	msg.pid = my_pid();
	msg.set_global_address = default_global_address;
	msg.set_global_port = default_global_port;
	parsed = 1;
	if(parse_msg(buf, (unsigned int)len, &msg) != 0
			|| msg.first_line.type != SIP_REQUEST) {
		rpc->fault(ctx, 400, "Not a SIP request");
		goto free_msg;
	}
	if(!src.len && via_source(&msg, &src) < 0) {
		rpc->fault(ctx, 400,
				"No source address: give one (the top Via host is not an"
				" address)");
		goto free_msg;
	}
	ip = str2ipx(&src);
	if(!ip) {
		char ex[AF_TEXT_EXCERPT_BUF];

		rpc->fault(ctx, 400, "Not an IP address: %s",
				af_text_excerpt(src.s, (size_t)src.len, ex));
		goto free_msg;
	}
	msg.rcv.src_ip = *ip;
	msg.rcv.src_port = 5060;
	msg.rcv.proto = PROTO_UDP;
	if(af_kam_request(&msg, &req) < 0) {
		rpc->fault(ctx, 400, "Not a SIP request");
		goto free_msg;
	}

	af_core_set_dry(1);
	af_check_source(&req, prof.len ? prof.s : NULL, (size_t)prof.len, &vs);
	af_check_fingerprint(&req, prof.len ? prof.s : NULL, (size_t)prof.len,
			&vf);
	af_check_dest(&req, prof.len ? prof.s : NULL, (size_t)prof.len, &vd);
	af_core_set_dry(0);

	if(rpc->add(ctx, "{", &h) < 0)
		goto free_msg;
	{
		char e1[64 * 4 + 4], e2[256 * 4 + 4], e3[256 * 4 + 4], e4[256];
		str *cid = msg.callid ? &msg.callid->body : &none;
		str *m = &msg.first_line.u.request.method;
		str *u = &msg.first_line.u.request.uri;

		af_text_escape(m->s, (size_t)(m->len > 64 ? 64 : m->len), e1,
				sizeof(e1));
		af_text_escape(u->s, (size_t)(u->len > 256 ? 256 : u->len), e2,
				sizeof(e2));
		af_text_escape(cid->s, (size_t)(cid->len > 256 ? 256 : cid->len), e3,
				sizeof(e3));
		af_text_escape(src.s, (size_t)(src.len > 60 ? 60 : src.len), e4,
				sizeof(e4));
		rpc->struct_add(h, "ssdss", "source_ip", e4, "method", e1, "initial",
				req.initial, "ruri", e2, "call_id", e3);
	}
	add_verdict(rpc, h, "source", &vs);
	add_verdict(rpc, h, "fingerprint", &vf);
	add_verdict(rpc, h, "dest", &vd);

free_msg:
	if(parsed)
		free_sip_msg(&msg);
done:
	if(text)
		pkg_free(text);
	if(buf)
		pkg_free(buf);
}
