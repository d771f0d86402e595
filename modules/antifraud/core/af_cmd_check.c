/*
 * antifraud - the dry-run command (af_cmd.def: check, Kamailio RPC
 * antifraud.check, OpenSIPS MI af_check): af_check_source,
 * af_check_fingerprint and af_check_dest on one request, given as its
 * text, the path of a file holding it, or its parts, with nothing counted
 * and nothing written (af_core_set_dry). The request is parsed by the
 * server's own SIP parser (the glue's af_cmd_parser_t), so that it is
 * seen as a received one would be.
 *
 * Every argument is hostile: the request at most AF_CHECK_MAX_BYTES, a
 * file only a regular one of that size, a part one line of printable
 * text (no header injected through it), the source an address.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "af_cmd.h"
#include "af_core.h"
#include "af_host.h"
#include "af_ip.h"
#include "af_numplan.h"
#include "af_text.h"

#define AF_CHECK_MAX_BYTES 65535 /* the largest request read */
#define AF_CHECK_PART_MAX 1024   /* a part of the parts form */
#define AF_CHECK_ARGS 6

static const af_cmd_parser_t *af_check_parser;
static unsigned int af_check_seq; /* Call-ID and tags of the parts form */
/* the request read, then as a SIP message (this process's: a command
 * runs to its end before the next) */
static char af_check_text[AF_CHECK_MAX_BYTES + 1];
static char af_check_buf[2 * AF_CHECK_MAX_BYTES + 8];

void af_cmd_set_parser(const af_cmd_parser_t *p)
{
	af_check_parser = p;
}

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

	af_text_excerpt(path, strlen(path), ex);
	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if(fd < 0) {
		snprintf(err, errlen, "%s: %s", ex, strerror(errno));
		return -1;
	}
	if(fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", ex);
		close(fd);
		return -1;
	}
	if(st.st_size >= (off_t)size) {
		snprintf(err, errlen, "%s: larger than %zu bytes", ex, size - 1);
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
	out[o] = '\0';
	if(!strstr(out, "\r\n\r\n")) {
		if(o + 4 >= size)
			return -1;
		if(o < 2 || out[o - 2] != '\r' || out[o - 1] != '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		}
		out[o++] = '\r';
		out[o++] = '\n';
		out[o] = '\0';
	}
	return (int)o;
}

/* 1 when s is one line of text: no CR, LF, NUL or other control */
static int one_line(const char *s, size_t len)
{
	size_t i;

	for(i = 0; i < len; i++)
		if((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* the request of the parts form (src method from ruri [ua]) as text */
static int from_parts(const af_arg_t *a, int n, char *out, size_t size)
{
	const af_arg_t *src = &a[0], *m = &a[1], *from = &a[2], *ruri = &a[3];
	int ua = n >= 5 && a[4].len, k;
	unsigned int id = ++af_check_seq;

	k = snprintf(out, size,
			"%.*s %.*s SIP/2.0\r\n"
			"Via: SIP/2.0/UDP %.*s:5060;branch=z9hG4bK-afcheck%u\r\n"
			"Max-Forwards: 70\r\n"
			"From: <%.*s>;tag=afcheck%u\r\n"
			"To: <%.*s>\r\n"
			"Call-ID: afcheck-%u@%.*s\r\n"
			"CSeq: 1 %.*s\r\n"
			"%s%.*s%s"
			"Content-Length: 0\r\n\r\n",
			(int)m->len, m->s, (int)ruri->len, ruri->s, (int)src->len, src->s,
			id, (int)from->len, from->s, id, (int)ruri->len, ruri->s, id,
			(int)src->len, src->s, (int)m->len, m->s, ua ? "User-Agent: " : "",
			ua ? (int)a[4].len : 0, ua ? a[4].s : "", ua ? "\r\n" : "");
	return k > 0 && (size_t)k < size ? k : -1;
}

/*
 * The arguments: the text form (request|path [source_ip] [profile]) or
 * the parts form (source_ip method from_uri ruri [user_agent]
 * [profile]). MI passes them by name, so the text form's names are
 * asked first; in order (Kamailio), a first argument that is an address
 * and four or more arguments make the parts form. An integer (kamcmd
 * sends digits as one) is taken as its digits, into num. Returns the
 * count, -1 after a fault.
 */
static int check_args(af_reply_t *r, af_arg_t *a, char num[][16])
{
	static const char *const text[AF_CHECK_ARGS] = {
			"request", "source_ip", "profile", "ruri", "user_agent", "profile"};
	static const char *const parts[AF_CHECK_ARGS] = {
			"source_ip", "method", "from_uri", "ruri", "user_agent", "profile"};
	const char *const *names = text;
	int n;

	memset(a, 0, sizeof(*a) * AF_CHECK_ARGS);
	if(r->ops->arg(r, 0, "request", &a[0]) < 1) {
		names = parts;
		if(r->ops->arg(r, 0, "source_ip", &a[0]) < 1)
			return 0;
	}
	for(n = 1; n <= AF_CHECK_ARGS; n++) {
		af_arg_t x;

		memset(&x, 0, sizeof(x));
		if(r->ops->arg(r, n, n < AF_CHECK_ARGS ? names[n] : NULL, &x) < 1)
			break;
		if(n == AF_CHECK_ARGS) {
			af_cmd_fail(r, 400, "Too many arguments");
			return -1;
		}
		a[n] = x;
	}
	for(int i = 0; i < n; i++) {
		if(a[i].type == AF_ARG_INT) {
			snprintf(num[i], 16, "%d", a[i].ival);
			a[i].type = AF_ARG_STR;
			a[i].s = num[i];
			a[i].len = strlen(num[i]);
		}
		if(a[i].type != AF_ARG_STR) {
			af_cmd_fail(r, 400, "Argument %d: a string expected", i + 1);
			return -1;
		}
		if(a[i].len > AF_CHECK_MAX_BYTES) {
			af_cmd_fail(r, 400, "Argument %d too long", i + 1);
			return -1;
		}
	}
	return n;
}

/* 1 when the argument is an IP address */
static int is_ip(const af_arg_t *a)
{
	af_ip_t ip;

	return a->len && a->len <= AF_CHECK_PART_MAX
		   && af_ip_parse(a->s, a->len, &ip) == 0;
}

/* adds one check's verdict to the answer as the object 'name'; what
 * quotes the request (detail, shape, profile, number) is escaped */
static void add_verdict(af_reply_t *r, void *top, const char *name,
		const af_verdict_t *v)
{
	char reasons[512], blocking[512], detail[AF_DETAIL_MAX * 4 + 4];
	char shape[1024 + 4], b1[AF_BAN_REASON * 4 + 4], b2[300], b3[300];
	const af_reply_ops_t *o = r->ops;
	void *c = o->object(r, top, name);

	if(!c)
		return;
	af_reasons_format(v->reasons, reasons, sizeof(reasons));
	af_reasons_format(v->blocking, blocking, sizeof(blocking));
	af_text_escape(v->detail, strlen(v->detail), detail, sizeof(detail));
	o->num(r, c, "rc", v->rc);
	o->str(r, c, "reason", reasons);
	o->str(r, c, "blocking", blocking);
	o->str(r, c, "detail", detail);
	o->num(r, c, "score", (int64_t)v->score);
	o->num(r, c, "banned", v->banned);
	if(v->banned) {
		af_text_escape(v->ban.reason, strlen(v->ban.reason), b1, sizeof(b1));
		o->str(r, c, "ban_reason", b1);
	}
	if(!strcmp(name, "source")) {
		o->str(r, c, "country", v->geo.country);
		o->str(r, c, "continent", v->geo.continent);
		o->num(r, c, "asn", (int64_t)v->geo.asn);
	}
	if(!strcmp(name, "fingerprint")) {
		o->str(r, c, "fingerprint", v->fp_id);
		af_text_escape(v->shape, strlen(v->shape), shape, sizeof(shape));
		o->str(r, c, "shape", shape);
		af_text_escape(v->signatures, strlen(v->signatures), b2, sizeof(b2));
		o->str(r, c, "signature", b2);
	}
	if(!strcmp(name, "dest") && v->dest.number[0]) {
		af_text_escape(v->dest.profile, strlen(v->dest.profile), b2,
				sizeof(b2));
		o->str(r, c, "profile", b2);
		af_text_escape(v->dest.number, strnlen(v->dest.number,
						sizeof(v->dest.number)), b3, sizeof(b3));
		o->str(r, c, "number", b3);
		o->str(r, c, "dest_country", v->dest.country);
		o->str(r, c, "dest_zone", v->dest.zone);
		o->str(r, c, "dest_class", af_numclass_name((af_numclass_t)v->dest.cls));
		o->num(r, c, "dest_risk", v->dest.risk);
		o->num(r, c, "international", v->dest.international);
		o->num(r, c, "concurrent", (int64_t)v->dest.conc_total);
		o->num(r, c, "concurrent_caller", (int64_t)v->dest.conc_caller);
	}
}

/* the request line's URI of the parsed request (its raw text) */
static void request_uri(const af_request_t *req, const char **s, size_t *len)
{
	const char *p = req->raw.s, *end = p ? p + req->raw.len : NULL, *sp;

	*s = "";
	*len = 0;
	if(!p)
		return;
	sp = memchr(p, ' ', (size_t)(end - p));
	if(!sp)
		return;
	p = sp + 1;
	sp = memchr(p, ' ', (size_t)(end - p));
	*s = p;
	*len = sp ? (size_t)(sp - p) : 0;
}

/* the answer: the request as seen, then each check's verdict */
static void check_answer(af_reply_t *r, const af_request_t *req,
		const af_verdict_t *vs, const af_verdict_t *vf, const af_verdict_t *vd)
{
	char e1[64 * 4 + 4], e2[256 * 4 + 4], e3[256 * 4 + 4], ip[AF_IP_STRLEN + 1];
	const char *u;
	size_t ul;
	void *top = r->ops->object(r, NULL, NULL);

	if(!top)
		return;
	request_uri(req, &u, &ul);
	af_text_escape(req->method_name.s,
			req->method_name.len > 64 ? 64 : req->method_name.len, e1,
			sizeof(e1));
	af_text_escape(u, ul > 256 ? 256 : ul, e2, sizeof(e2));
	af_text_escape(req->call_id.s, req->call_id.len > 256 ? 256 : req->call_id.len,
			e3, sizeof(e3));
	af_ip_format(&req->src_ip, ip, sizeof(ip));
	r->ops->str(r, top, "source_ip", ip);
	r->ops->str(r, top, "method", e1);
	r->ops->num(r, top, "initial", req->initial);
	r->ops->str(r, top, "ruri", e2);
	r->ops->str(r, top, "call_id", e3);
	add_verdict(r, top, "source", vs);
	add_verdict(r, top, "fingerprint", vf);
	add_verdict(r, top, "dest", vd);
}

void af_cmd_check(af_reply_t *r)
{
	af_arg_t a[AF_CHECK_ARGS];
	char num[AF_CHECK_ARGS][16], src[AF_CHECK_PART_MAX + 1];
	char err[256], path[PATH_MAX];
	char *text = af_check_text, *buf = af_check_buf;
	const af_arg_t *prof = NULL, *srca = NULL;
	af_request_t req;
	af_verdict_t vs, vf, vd;
	int n, len, i;

	if(!af_check_parser) {
		af_cmd_fail(r, 500, "No SIP parser on this server");
		return;
	}
	n = check_args(r, a, num);
	if(n < 0)
		return;
	if(n < 1 || (n > 3 && !is_ip(&a[0]))) {
		af_cmd_fail(r, 400,
				"Expected a request (or path) [source_ip] [profile], or"
				" source_ip method from_uri ruri [user_agent] [profile]");
		return;
	}
	if(n >= 4) {
		/* the parts */
		for(i = 1; i < n; i++)
			if(a[i].len > AF_CHECK_PART_MAX || !one_line(a[i].s, a[i].len)) {
				af_cmd_fail(r, 400,
						"Argument %d: one line of at most %d bytes expected"
						" (no line break or control character)",
						i + 1, AF_CHECK_PART_MAX);
				return;
			}
		srca = &a[0];
		prof = n >= 6 ? &a[5] : NULL;
		len = from_parts(a, n, text, AF_CHECK_MAX_BYTES + 1);
		if(len < 0) {
			af_cmd_fail(r, 400, "Request too long");
			return;
		}
	} else {
		srca = n >= 2 ? &a[1] : NULL;
		prof = n >= 3 ? &a[2] : NULL;
		if(a[0].len > 0 && a[0].s[0] == '/') {
			if(a[0].len >= sizeof(path) || memchr(a[0].s, '\0', a[0].len)) {
				af_cmd_fail(r, 400, "Path too long");
				return;
			}
			memcpy(path, a[0].s, a[0].len);
			path[a[0].len] = '\0';
			len = read_request_file(
					path, text, AF_CHECK_MAX_BYTES + 1, err, sizeof(err));
			if(len < 0) {
				af_cmd_fail(r, 400, "%s", err);
				return;
			}
		} else {
			memcpy(text, a[0].s, a[0].len);
			text[a[0].len] = '\0';
			len = (int)a[0].len;
		}
	}
	if(srca && srca->len) {
		if(!is_ip(srca)) {
			char ex[AF_TEXT_EXCERPT_BUF];

			af_cmd_fail(r, 400, "Not an IP address: %s",
					af_text_excerpt(srca->s, srca->len, ex));
			return;
		}
		memcpy(src, srca->s, srca->len);
		src[srca->len] = '\0';
	} else {
		src[0] = '\0';
	}
	if(prof && (prof->len > 64 || !one_line(prof->s, prof->len))) {
		af_cmd_fail(r, 400, "profile: one line of at most 64 bytes expected");
		return;
	}
	len = normalize(text, (size_t)len, buf, 2 * AF_CHECK_MAX_BYTES + 8);
	if(len <= 0) {
		af_cmd_fail(r, 400, "Request too long");
		return;
	}
	if(af_check_parser->parse(buf, (size_t)len, src[0] ? src : NULL, &req,
			   err, sizeof(err))
			< 0) {
		af_cmd_fail(r, 400, "%s", err);
		return;
	}
	af_core_set_dry(1);
	af_check_source(&req, prof ? prof->s : NULL, prof ? prof->len : 0, &vs);
	af_check_fingerprint(
			&req, prof ? prof->s : NULL, prof ? prof->len : 0, &vf);
	af_check_dest(&req, prof ? prof->s : NULL, prof ? prof->len : 0, &vd);
	af_core_set_dry(0);
	check_answer(r, &req, &vs, &vf, &vd);
	af_check_parser->done();
}
