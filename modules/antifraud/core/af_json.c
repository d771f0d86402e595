/*
 * antifraud - an alert as one JSON object (af_json.h).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "af_common.h"
#include "af_json.h"
#include "af_numplan.h"

typedef struct jw {
	char *buf;
	size_t size, len;
	int over; /* did not fit */
} jw_t;

static void jw_raw(jw_t *w, const char *s, size_t len)
{
	if(w->over || w->len + len >= w->size) {
		w->over = 1;
		return;
	}
	memcpy(w->buf + w->len, s, len);
	w->len += len;
	w->buf[w->len] = '\0';
}

static void jw_fmt(jw_t *w, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

static void jw_fmt(jw_t *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if(w->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->len, w->size - w->len, fmt, ap);
	va_end(ap);
	if(n < 0 || (size_t)n >= w->size - w->len) {
		w->over = 1;
		return;
	}
	w->len += (size_t)n;
}

/* length of the valid UTF-8 sequence at s[0..len), 0 when not one */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	size_t n, i;
	uint32_t cp;

	if(s[0] < 0x80)
		return 1;
	if(s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if(s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if(s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if(n > len)
		return 0;
	cp = s[0] & (0xff >> (n + 1));
	for(i = 1; i < n; i++) {
		if((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond U+10FFFF */
	if((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
			|| (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* s[0..len) as a JSON string (at most max input bytes, then "...") */
static void jw_str(jw_t *w, const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t i = 0, n;
	int cut = 0;

	if(!s)
		len = 0;
	if(len > max) {
		len = max;
		cut = 1;
	}
	jw_raw(w, "\"", 1);
	while(i < len && !w->over) {
		if(p[i] == '"' || p[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)p[i];
			jw_raw(w, esc, 2);
			i++;
		} else if(p[i] < 0x20 || p[i] == 0x7f) {
			switch(p[i]) {
				case '\n':
					jw_raw(w, "\\n", 2);
					break;
				case '\r':
					jw_raw(w, "\\r", 2);
					break;
				case '\t':
					jw_raw(w, "\\t", 2);
					break;
				default:
					snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
					jw_raw(w, esc, 6);
			}
			i++;
		} else if((n = utf8_seq(p + i, len - i)) > 0) {
			jw_raw(w, s + i, n);
			i += n;
		} else if(cut && len - i < 4 && p[i] >= 0xc2) {
			/* a character cut by the bound: dropped */
			break;
		} else {
			jw_raw(w, "\\ufffd", 6);
			i++;
		}
	}
	if(cut)
		jw_raw(w, "...", 3);
	jw_raw(w, "\"", 1);
}

static void jw_key(jw_t *w, const char *key, int first)
{
	if(!first)
		jw_raw(w, ",", 1);
	jw_str(w, key, strlen(key), 64);
	jw_raw(w, ":", 1);
}

static void jw_kstr(jw_t *w, const char *key, const char *s, size_t len)
{
	jw_key(w, key, 0);
	jw_str(w, s, len, AF_JSON_FIELD_MAX);
}

static void jw_kcstr(jw_t *w, const char *key, const char *s)
{
	jw_kstr(w, key, s ? s : "", s ? strlen(s) : 0);
}

/* the reasons of mask as an array of names */
static void jw_reasons(jw_t *w, const char *key, af_reasons_t mask)
{
	int i, first = 1;

	jw_key(w, key, 0);
	jw_raw(w, "[", 1);
	for(i = 0; i < AF_R__COUNT; i++) {
		if(!(mask & AF_REASON_BIT(i)))
			continue;
		if(!first)
			jw_raw(w, ",", 1);
		first = 0;
		jw_str(w, af_reason_name((af_reason_t)i),
				strlen(af_reason_name((af_reason_t)i)), 64);
	}
	jw_raw(w, "]", 1);
}

/* a comma-separated list (signature names) as an array */
static void jw_list(jw_t *w, const char *key, const char *csv)
{
	const char *p = csv, *e;
	int first = 1;

	jw_key(w, key, 0);
	jw_raw(w, "[", 1);
	while(p && *p) {
		e = strchr(p, ',');
		if(!e)
			e = p + strlen(p);
		if(e > p) {
			if(!first)
				jw_raw(w, ",", 1);
			first = 0;
			jw_str(w, p, (size_t)(e - p), AF_JSON_FIELD_MAX);
		}
		p = *e ? e + 1 : e;
	}
	jw_raw(w, "]", 1);
}

static const char *action_of(int rc)
{
	switch(rc) {
		case AF_RC_ALLOW:
			return "allow";
		case AF_RC_NORULE:
			return "norule";
		case AF_RC_ALERT:
			return "alert";
		case AF_RC_BLOCK:
			return "block";
		default:
			return "error";
	}
}

static const char *proto_of(af_proto_t p)
{
	static const char *const names[] = {
			"", "udp", "tcp", "tls", "sctp", "ws", "other"};

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "";
}

size_t af_alert_json(const af_verdict_t *v, const af_request_t *req,
		uint64_t now_ms, char *buf, size_t size)
{
	jw_t w = {buf, size, 0, 0};
	char ip[AF_IP_STRLEN], ts[64];
	struct tm tm;
	time_t t = (time_t)(now_ms / 1000);

	if(!buf || size < 2)
		return 0;
	buf[0] = '\0';
	gmtime_r(&t, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			tm.tm_min, tm.tm_sec, (unsigned)(now_ms % 1000));
	jw_raw(&w, "{", 1);
	jw_key(&w, "time", 1);
	jw_str(&w, ts, strlen(ts), 64);
	jw_kcstr(&w, "check", v->check);
	jw_key(&w, "rc", 0);
	jw_fmt(&w, "%d", v->rc);
	jw_kcstr(&w, "action", action_of(v->rc));
	jw_reasons(&w, "reasons", v->reasons);
	jw_reasons(&w, "blocking", v->blocking);
	jw_kcstr(&w, "detail", v->detail);
	jw_key(&w, "suppressed", 0);
	jw_fmt(&w, "%u", v->suppressed);
	jw_key(&w, "score", 0);
	jw_fmt(&w, "%u", v->score);
	jw_key(&w, "banned", 0);
	jw_raw(&w, v->banned ? "true" : "false", v->banned ? 4 : 5);
	jw_kcstr(&w, "ban_reason", v->banned ? v->ban.reason : "");

	jw_key(&w, "source", 0);
	jw_raw(&w, "{", 1);
	jw_key(&w, "ip", 1);
	if(req && af_ip_format(&req->src_ip, ip, sizeof(ip)) > 0)
		jw_str(&w, ip, strlen(ip), 64);
	else
		jw_raw(&w, "\"\"", 2);
	jw_key(&w, "port", 0);
	jw_fmt(&w, "%u", req ? req->src_port : 0);
	jw_kcstr(&w, "proto", req ? proto_of(req->proto) : "");
	jw_kcstr(&w, "country", v->geo.country);
	jw_kcstr(&w, "continent", v->geo.continent);
	jw_key(&w, "asn", 0);
	jw_fmt(&w, "%u", v->geo.asn);
	jw_raw(&w, "}", 1);

	if(req) {
		jw_key(&w, "request", 0);
		jw_raw(&w, "{", 1);
		jw_key(&w, "method", 1);
		jw_str(&w, req->method_name.s, req->method_name.len,
				AF_JSON_FIELD_MAX);
		jw_kstr(&w, "ruri_user", req->ruri_user.s, req->ruri_user.len);
		jw_kstr(&w, "ruri_host", req->ruri_host.s, req->ruri_host.len);
		jw_kstr(&w, "from_user", req->from_user.s, req->from_user.len);
		jw_kstr(&w, "from_host", req->from_host.s, req->from_host.len);
		jw_kstr(&w, "to_user", req->to_user.s, req->to_user.len);
		jw_kstr(&w, "auth_user", req->auth_user.s, req->auth_user.len);
		jw_kstr(&w, "user_agent", req->user_agent.s, req->user_agent.len);
		jw_kstr(&w, "call_id", req->call_id.s, req->call_id.len);
		jw_raw(&w, "}", 1);
	}
	if(v->fp_id[0]) {
		jw_kcstr(&w, "fingerprint", v->fp_id);
		jw_kcstr(&w, "shape", v->shape);
		jw_list(&w, "signatures", v->signatures);
	}
	if(v->dest.number[0] || v->dest.profile[0]) {
		jw_key(&w, "dest", 0);
		jw_raw(&w, "{", 1);
		jw_key(&w, "profile", 1);
		jw_str(&w, v->dest.profile, strlen(v->dest.profile), 64);
		jw_kcstr(&w, "number", v->dest.number);
		jw_kcstr(&w, "country", v->dest.country);
		jw_kcstr(&w, "zone", v->dest.zone);
		jw_kcstr(&w, "class",
				v->dest.number[0] ? af_numclass_name((af_numclass_t)v->dest.cls)
								  : "");
		jw_key(&w, "risk", 0);
		jw_fmt(&w, "%d", v->dest.risk);
		jw_key(&w, "international", 0);
		jw_raw(&w, v->dest.international ? "true" : "false",
				v->dest.international ? 4 : 5);
		jw_key(&w, "concurrent", 0);
		jw_fmt(&w, "%u", v->dest.conc_total);
		jw_key(&w, "concurrent_caller", 0);
		jw_fmt(&w, "%u", v->dest.conc_caller);
		jw_raw(&w, "}", 1);
	}
	jw_raw(&w, "}", 1);
	if(w.over) {
		buf[0] = '\0';
		return 0;
	}
	return w.len;
}
