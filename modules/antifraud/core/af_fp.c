/*
 * antifraud - request fingerprints: a bounded splitter of one raw SIP
 * request into the features signatures look at, and the structural
 * fingerprint (header order, token shapes, flags) operators pin.
 *
 * One pass over the bytes: the request line, the header lines up to the
 * blank line, then a look at the body for SDP. Nothing is allocated and
 * nothing is read past the end of the buffer; every feature points into
 * the message.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "af_fp.h"

#define AF_FP_FNV_OFFSET 0xcbf29ce484222325ULL
#define AF_FP_FNV_PRIME 0x100000001b3ULL
#define AF_FP_COOKIE "z9hG4bK" /* RFC 3261 branch magic cookie */
#define AF_FP_COOKIE_LEN 7
#define AF_FP_CL_DIGITS 18 /* a longer Content-Length is not a number */

/* the headers whose values are features */
enum {
	AF_FP_H_OTHER = 0,
	AF_FP_H_VIA,
	AF_FP_H_FROM,
	AF_FP_H_TO,
	AF_FP_H_CALL_ID,
	AF_FP_H_CONTACT,
	AF_FP_H_CLEN,
	AF_FP_H_UA,
	AF_FP_H_SERVER
};

/* what a missing feature points to */
static const char af_fp_empty[] = "";

/* RFC 3261 token characters (header names, methods) */
static const unsigned char af_fp_tok[256] = {
		['0' ... '9'] = 1,
		['A' ... 'Z'] = 1,
		['a' ... 'z'] = 1,
		['-'] = 1,
		['.'] = 1,
		['!'] = 1,
		['%'] = 1,
		['*'] = 1,
		['_'] = 1,
		['+'] = 1,
		['`'] = 1,
		['\''] = 1,
		['~'] = 1,
};

/* where af_fp_param() stops: in the parameters (a quoted string, the
 * next parameter, the end of a Via), and at the end of a value */
#define AF_FP_P_SKIP 1
#define AF_FP_P_VALUE 2
static const unsigned char af_fp_pstop[256] = {
		['"'] = AF_FP_P_SKIP,
		[';'] = AF_FP_P_SKIP | AF_FP_P_VALUE,
		[','] = AF_FP_P_SKIP | AF_FP_P_VALUE,
		[' '] = AF_FP_P_VALUE,
		['\t'] = AF_FP_P_VALUE,
};

/* character classes of af_fp_token_shape(): one bit each, 0 not alnum */
#define AF_FP_C_DIGIT 1
#define AF_FP_C_LHEX 2  /* a-f */
#define AF_FP_C_LOWER 4 /* g-z */
#define AF_FP_C_UHEX 8  /* A-F */
#define AF_FP_C_UPPER 16 /* G-Z */
static const unsigned char af_fp_cls[256] = {
		['0' ... '9'] = AF_FP_C_DIGIT,
		['a' ... 'f'] = AF_FP_C_LHEX,
		['g' ... 'z'] = AF_FP_C_LOWER,
		['A' ... 'F'] = AF_FP_C_UHEX,
		['G' ... 'Z'] = AF_FP_C_UPPER,
};

/* full names of the compact forms (RFC 3261 and extensions), by letter */
static const af_str_t af_fp_compact[26] = {
		['b' - 'a'] = {"referred-by", 11},
		['c' - 'a'] = {"content-type", 12},
		['e' - 'a'] = {"content-encoding", 16},
		['f' - 'a'] = {"from", 4},
		['i' - 'a'] = {"call-id", 7},
		['k' - 'a'] = {"supported", 9},
		['l' - 'a'] = {"content-length", 14},
		['m' - 'a'] = {"contact", 7},
		['o' - 'a'] = {"event", 5},
		['r' - 'a'] = {"refer-to", 8},
		['s' - 'a'] = {"subject", 7},
		['t' - 'a'] = {"to", 2},
		['u' - 'a'] = {"allow-events", 12},
		['v' - 'a'] = {"via", 3},
		['x' - 'a'] = {"session-expires", 15},
		['y' - 'a'] = {"identity", 8},
};

/*
 * Returns the full name of compact header letter c (either case), or
 * NULL when c is not a compact form.
 */
static inline const af_str_t *af_fp_compact_name(char c)
{
	unsigned char l = (unsigned char)(c | 0x20);

	if(l < 'a' || l > 'z' || af_fp_compact[l - 'a'].s == NULL)
		return NULL;
	return &af_fp_compact[l - 'a'];
}

/*
 * Returns the full lower-case name of compact header form letter (either
 * case): "via" for 'v', "call-id" for 'i'...; NULL when letter is not
 * one.
 */
const char *af_fp_compact_full(char letter)
{
	const af_str_t *full = af_fp_compact_name(letter);

	return full ? full->s : NULL;
}

/* the 8 bytes at s as one word (any alignment) */
static inline uint64_t af_fp_load64(const char *s)
{
	uint64_t w;

	memcpy(&w, s, sizeof(w));
	return w;
}

/* the 4 bytes at s as one word (any alignment) */
static inline uint32_t af_fp_load32(const char *s)
{
	uint32_t w;

	memcpy(&w, s, sizeof(w));
	return w;
}

/*
 * Compares token s (len bytes, already checked to be token characters)
 * with lower-case literal lit of the same length, ignoring case: each
 * byte of s with its 0x20 bit set (upper-case letters become lower
 * case; no token character becomes another one), a word at a time (the
 * callers' lengths are constants: the branches fold).
 */
static inline int af_fp_eq(const char *s, const char *lit, size_t len)
{
	const uint64_t l8 = 0x2020202020202020ULL;
	const uint32_t l4 = 0x20202020U;
	size_t i;

	if(len >= 8 && len <= 16)
		return (af_fp_load64(s) | l8) == af_fp_load64(lit)
			   && (af_fp_load64(s + len - 8) | l8)
						  == af_fp_load64(lit + len - 8);
	if(len >= 4 && len < 8)
		return (af_fp_load32(s) | l4) == af_fp_load32(lit)
			   && (af_fp_load32(s + len - 4) | l4)
						  == af_fp_load32(lit + len - 4);
	for(i = 0; i < len; i++) {
		if((s[i] | 0x20) != lit[i])
			return 0;
	}
	return 1;
}

/*
 * Compares s (len bytes, any content) with lower-case literal lit,
 * ignoring the case of letters; s must be at least lit long.
 */
static inline int af_fp_prefix(const char *s, size_t len, const char *lit,
		size_t litlen)
{
	size_t i;
	char c;

	if(len < litlen)
		return 0;
	for(i = 0; i < litlen; i++) {
		c = s[i];
		if(c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if(c != lit[i])
			return 0;
	}
	return 1;
}

/* Returns the AF_FP_H_ kind of header name n[0..len) (token chars). */
static int af_fp_hdr_id(const char *n, size_t len)
{
	switch(len) {
		case 1:
			switch(n[0] | 0x20) {
				case 'v':
					return AF_FP_H_VIA;
				case 'f':
					return AF_FP_H_FROM;
				case 't':
					return AF_FP_H_TO;
				case 'i':
					return AF_FP_H_CALL_ID;
				case 'm':
					return AF_FP_H_CONTACT;
				case 'l':
					return AF_FP_H_CLEN;
			}
			return AF_FP_H_OTHER;
		case 2:
			return af_fp_eq(n, "to", 2) ? AF_FP_H_TO : AF_FP_H_OTHER;
		case 3:
			return af_fp_eq(n, "via", 3) ? AF_FP_H_VIA : AF_FP_H_OTHER;
		case 4:
			return af_fp_eq(n, "from", 4) ? AF_FP_H_FROM : AF_FP_H_OTHER;
		case 6:
			return af_fp_eq(n, "server", 6) ? AF_FP_H_SERVER : AF_FP_H_OTHER;
		case 7:
			if(af_fp_eq(n, "call-id", 7))
				return AF_FP_H_CALL_ID;
			return af_fp_eq(n, "contact", 7) ? AF_FP_H_CONTACT : AF_FP_H_OTHER;
		case 10:
			return af_fp_eq(n, "user-agent", 10) ? AF_FP_H_UA : AF_FP_H_OTHER;
		case 14:
			return af_fp_eq(n, "content-length", 14) ? AF_FP_H_CLEN
													 : AF_FP_H_OTHER;
	}
	return AF_FP_H_OTHER;
}

/* Sets every feature of fm to missing. */
static void af_fp_reset(af_fp_msg_t *fm)
{
	const af_str_t none = {af_fp_empty, 0};

	fm->request_line = none;
	fm->method = none;
	fm->ruri = none;
	fm->n_hdr = 0;
	fm->n_hdr_total = 0;
	fm->compact = 0;
	fm->user_agent = none;
	fm->server = none;
	fm->from_display = none;
	fm->from_user = none;
	fm->from_tag = none;
	fm->to_display = none;
	fm->to_user = none;
	fm->call_id = none;
	fm->branch = none;
	fm->contact = none;
	fm->sdp_o_user = none;
	fm->sdp_s = none;
	fm->sdp = 0;
	fm->content_length = -1;
	fm->body_len = 0;
	fm->order[0] = '\0';
	fm->order_len = 0;
	fm->shape[0] = '\0';
	fm->shape_len = 0;
	fm->hash = 0;
}

/* Returns p advanced past spaces and tabs, at most to e. */
static inline const char *af_fp_ws(const char *p, const char *e)
{
	while(p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/*
 * Reads request line p[0..e) (CR/LF removed): a method token, spaces, a
 * URI, spaces, "SIP/..." in any case. Returns 0, or -1 when it is not
 * one (a response's status line included).
 */
static int af_fp_reqline(af_fp_msg_t *fm, const char *p, const char *e)
{
	const char *m = p, *me, *u, *ue, *le = e;

	while(p < e && af_fp_tok[(unsigned char)*p])
		p++;
	if(p == m || p == e || *p != ' ')
		return -1;
	me = p;
	p = af_fp_ws(p, e);
	u = p;
	while(p < e && (unsigned char)*p > ' ' && *p != 0x7f)
		p++;
	if(p == u || p == e || (*p != ' ' && *p != '\t'))
		return -1;
	ue = p;
	p = af_fp_ws(p, e);
	if(!af_fp_prefix(p, (size_t)(e - p), "sip/", 4))
		return -1;
	while(le > p && (le[-1] == ' ' || le[-1] == '\t'))
		le--;
	fm->request_line.s = m;
	fm->request_line.len = (size_t)(le - m);
	fm->method.s = m;
	fm->method.len = (size_t)(me - m);
	fm->ruri.s = u;
	fm->ruri.len = (size_t)(ue - u);
	return 0;
}

/*
 * Finds parameter name[0..nlen) (lower case) among the ";name=value"
 * parameters in p[0..e), skipping quoted strings; with stop_comma the
 * search ends at the first comma (the end of the first Via). Stores its
 * value (empty when it has none) in *out and returns 1; returns 0 when
 * the parameter is absent.
 */
static int af_fp_param(const char *p, const char *e, const char *name,
		size_t nlen, int stop_comma, af_str_t *out)
{
	const char *n, *v;

	while(p < e) {
		while(p < e && !(af_fp_pstop[(unsigned char)*p] & AF_FP_P_SKIP))
			p++;
		if(p == e)
			break;
		if(*p == '"') {
			for(p++; p < e && *p != '"'; p++) {
				if(*p == '\\' && p + 1 < e)
					p++;
			}
			if(p < e)
				p++;
			continue;
		}
		if(*p == ',' && stop_comma)
			return 0;
		if(*p != ';') {
			p++;
			continue;
		}
		p = af_fp_ws(p + 1, e);
		n = p;
		while(p < e && af_fp_tok[(unsigned char)*p])
			p++;
		if((size_t)(p - n) != nlen || !af_fp_eq(n, name, nlen))
			continue;
		p = af_fp_ws(p, e);
		if(p < e && *p == '=') {
			p = af_fp_ws(p + 1, e);
			v = p;
			while(p < e && !(af_fp_pstop[(unsigned char)*p] & AF_FP_P_VALUE))
				p++;
			out->s = v;
			out->len = (size_t)(p - v);
		}
		return 1;
	}
	return 0;
}

/*
 * Reads the user part of URI u[0..e): for sip: and sips: what comes
 * before '@' (up to a ';' or ':' before it), nothing when there is no
 * '@'; for tel: the number up to the first ';'. Other schemes have no
 * user. Stores it in *user when there is one.
 */
static void af_fp_uri_user(const char *u, const char *e, af_str_t *user)
{
	const char *p, *at;
	size_t len = (size_t)(e - u);

	if(af_fp_prefix(u, len, "sip:", 4))
		p = u + 4;
	else if(af_fp_prefix(u, len, "sips:", 5))
		p = u + 5;
	else if(af_fp_prefix(u, len, "tel:", 4)) {
		p = u + 4;
		at = memchr(p, ';', (size_t)(e - p));
		user->s = p;
		user->len = (size_t)((at ? at : e) - p);
		return;
	} else
		return;
	at = memchr(p, '@', (size_t)(e - p));
	if(!at)
		return;
	user->s = p;
	while(p < at && *p != ';' && *p != ':')
		p++;
	user->len = (size_t)(p - user->s);
}

/*
 * Reads a From or To value v[0..e): name-addr ("display" <uri>;params,
 * display <uri>;params) or addr-spec (uri;params). Stores the display
 * name (without quotes), the URI user and, when tag is not NULL, the tag
 * parameter.
 */
static void af_fp_nameaddr(const char *v, const char *e, af_str_t *display,
		af_str_t *user, af_str_t *tag)
{
	const char *p = v, *q, *lt, *us, *ue, *params;

	p = af_fp_ws(p, e);
	if(p < e && *p == '"') {
		for(q = p + 1; q < e && *q != '"'; q++) {
			if(*q == '\\' && q + 1 < e)
				q++;
		}
		display->s = p + 1;
		display->len = (size_t)(q - (p + 1));
		p = q < e ? q + 1 : e;
		lt = memchr(p, '<', (size_t)(e - p));
		if(!lt)
			return;
	} else {
		lt = memchr(p, '<', (size_t)(e - p));
		if(lt) {
			q = lt;
			while(q > p && (q[-1] == ' ' || q[-1] == '\t'))
				q--;
			display->s = p;
			display->len = (size_t)(q - p);
		}
	}
	if(lt) {
		us = lt + 1;
		ue = memchr(us, '>', (size_t)(e - us));
		if(!ue)
			ue = e;
		params = ue < e ? ue + 1 : e;
	} else {
		/* addr-spec: the URI ends where the header's parameters start */
		us = p;
		for(ue = us; ue < e; ue++) {
			if(*ue == ';' || *ue == ' ' || *ue == '\t' || *ue == ','
					|| *ue == '?')
				break;
		}
		params = ue;
	}
	af_fp_uri_user(us, ue, user);
	if(tag)
		af_fp_param(params, e, "tag", 3, 0, tag);
}

/*
 * Reads a Content-Length value v[0..len): its number, or -1 when it is
 * empty, not all digits or absurdly long.
 */
static long af_fp_clen(const char *v, size_t len)
{
	long n = 0;
	size_t i;

	if(len == 0 || len > AF_FP_CL_DIGITS)
		return -1;
	for(i = 0; i < len; i++) {
		if(v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

/*
 * Takes header name n[0..nlen), value v[0..vlen) into fm: kept in
 * fm->hdr while there is room, counted, and read when it carries a
 * feature not yet seen (*seen has a bit per AF_FP_H_ kind).
 */
static void af_fp_header(af_fp_msg_t *fm, const char *n, size_t nlen,
		const char *v, size_t vlen, unsigned *seen)
{
	af_fp_hdr_t *h;
	int id;

	if(fm->n_hdr < AF_FP_HDR_MAX) {
		h = &fm->hdr[fm->n_hdr++];
		h->name.s = n;
		h->name.len = nlen;
		h->value.s = v;
		h->value.len = vlen;
	}
	fm->n_hdr_total++;
	if(nlen == 1 && af_fp_compact_name(n[0]))
		fm->compact = 1;
	id = af_fp_hdr_id(n, nlen);
	if(id == AF_FP_H_OTHER || (*seen & (1u << id)))
		return;
	*seen |= 1u << id;
	switch(id) {
		case AF_FP_H_VIA:
			af_fp_param(v, v + vlen, "branch", 6, 1, &fm->branch);
			break;
		case AF_FP_H_FROM:
			af_fp_nameaddr(v, v + vlen, &fm->from_display, &fm->from_user,
					&fm->from_tag);
			break;
		case AF_FP_H_TO:
			af_fp_nameaddr(v, v + vlen, &fm->to_display, &fm->to_user, NULL);
			break;
		case AF_FP_H_CALL_ID:
			fm->call_id.s = v;
			fm->call_id.len = vlen;
			break;
		case AF_FP_H_CONTACT:
			fm->contact.s = v;
			fm->contact.len = vlen;
			break;
		case AF_FP_H_CLEN:
			fm->content_length = af_fp_clen(v, vlen);
			break;
		case AF_FP_H_UA:
			fm->user_agent.s = v;
			fm->user_agent.len = vlen;
			break;
		case AF_FP_H_SERVER:
			fm->server.s = v;
			fm->server.len = vlen;
			break;
	}
}

/*
 * Looks at body p[0..e) for SDP: a "v=" line sets fm->sdp, the first
 * "o=" line gives the user name (its first field), the first "s=" line
 * the session name.
 */
static void af_fp_sdp(af_fp_msg_t *fm, const char *p, const char *e)
{
	const char *nl, *le, *q;
	unsigned got = 0;

	while(p < e && got != 7) {
		nl = memchr(p, '\n', (size_t)(e - p));
		le = nl ? nl : e;
		if(le > p && le[-1] == '\r')
			le--;
		if(le - p >= 2 && p[1] == '=') {
			switch(p[0]) {
				case 'v':
					got |= 1;
					fm->sdp = 1;
					break;
				case 'o':
					if(got & 2)
						break;
					got |= 2;
					for(q = p + 2; q < le && *q != ' '; q++)
						;
					fm->sdp_o_user.s = p + 2;
					fm->sdp_o_user.len = (size_t)(q - (p + 2));
					break;
				case 's':
					if(got & 4)
						break;
					got |= 4;
					for(q = le; q > p + 2 && (q[-1] == ' ' || q[-1] == '\t');
							q--)
						;
					fm->sdp_s.s = p + 2;
					fm->sdp_s.len = (size_t)(q - (p + 2));
					break;
			}
		}
		p = nl ? nl + 1 : e;
	}
}

/*
 * Splits buf[0..len), one SIP request as received, into fm, then fills
 * its order, shape and hash (af_fp_shape()). Leading CR/LF (stream
 * keep-alives) are skipped. Header lines end with CRLF or a bare LF;
 * continuation lines of folded headers are skipped; a line that is not
 * "token: value" ends the header part, and a body is only what follows
 * a blank line. Returns 0, or -1 when there is no request line (fm then
 * holds no feature and an empty shape, hash 0).
 */
int af_fp_parse(const char *buf, size_t len, af_fp_msg_t *fm)
{
	const char *p, *e, *nl, *le, *n, *ne, *v, *ve, *body = NULL;
	unsigned seen = 0;

	af_fp_reset(fm);
	if(!buf)
		return -1;
	p = buf;
	e = buf + len;
	while(p < e && (*p == '\r' || *p == '\n'))
		p++;
	nl = memchr(p, '\n', (size_t)(e - p));
	le = nl ? nl : e;
	if(le > p && le[-1] == '\r')
		le--;
	if(af_fp_reqline(fm, p, le) < 0)
		return -1;
	p = nl ? nl + 1 : e;
	while(p < e) {
		nl = memchr(p, '\n', (size_t)(e - p));
		le = nl ? nl : e;
		if(le > p && le[-1] == '\r')
			le--;
		if(le == p) {
			if(nl)
				body = nl + 1;
			break;
		}
		if(*p == ' ' || *p == '\t') {
			p = nl ? nl + 1 : e; /* folded: the first line is enough */
			continue;
		}
		n = p;
		/* a line that ends in LF stops the name at its CR or LF at the
		 * latest (no token character): no bound to test */
		if(nl) {
			while(af_fp_tok[(unsigned char)*p])
				p++;
		} else {
			while(p < le && af_fp_tok[(unsigned char)*p])
				p++;
		}
		ne = p;
		p = af_fp_ws(p, le);
		if(ne == n || p == le || *p != ':')
			break;
		v = af_fp_ws(p + 1, le);
		ve = le;
		while(ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
			ve--;
		af_fp_header(fm, n, (size_t)(ne - n), v, (size_t)(ve - v), &seen);
		p = nl ? nl + 1 : e;
	}
	if(body) {
		fm->body_len = (size_t)(e - body);
		af_fp_sdp(fm, body, e);
	}
	af_fp_shape(fm);
	return 0;
}

/*
 * Appends s[0..n) to dst (*dl bytes used), as much as fits before cap.
 */
static inline void af_fp_cat(
		char *dst, size_t *dl, size_t cap, const char *s, size_t n)
{
	if(n > cap - *dl)
		n = cap - *dl;
	if(n) {
		memcpy(dst + *dl, s, n);
		*dl += n;
	}
}

/*
 * Writes the shape of token s[0..len) into out (size bytes, NUL
 * included): see af_fp.h. A run is written only when it fits whole;
 * bytes outside printable ASCII are written as '?'. Returns the length
 * written.
 */
size_t af_fp_token_shape(const char *s, size_t len, char *out, size_t size)
{
	char num[24];
	size_t i = 0, j, o = 0, cap, nl, run;
	unsigned cls;
	unsigned char c;
	char letter;

	if(size == 0)
		return 0;
	cap = size - 1;
	if(len >= AF_FP_COOKIE_LEN
			&& memcmp(s, AF_FP_COOKIE, AF_FP_COOKIE_LEN) == 0) {
		af_fp_cat(out, &o, cap, AF_FP_COOKIE, AF_FP_COOKIE_LEN);
		i = AF_FP_COOKIE_LEN;
	}
	while(i < len && o < cap) {
		c = (unsigned char)s[i];
		if(!af_fp_cls[c]) {
			out[o++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
			i++;
			continue;
		}
		cls = 0;
		for(j = i; j < len && af_fp_cls[(unsigned char)s[j]]; j++)
			cls |= af_fp_cls[(unsigned char)s[j]];
		if(cls == AF_FP_C_DIGIT)
			letter = 'd';
		else if(!(cls & (AF_FP_C_UHEX | AF_FP_C_UPPER)))
			letter = (cls & AF_FP_C_LOWER) ? 'a' : 'h';
		else if(!(cls & (AF_FP_C_LHEX | AF_FP_C_LOWER)))
			letter = (cls & AF_FP_C_UPPER) ? 'A' : 'H';
		else
			letter = 'm';
		/* the run's length in decimal, backwards */
		run = j - i;
		nl = 0;
		do {
			num[sizeof(num) - 1 - nl++] = (char)('0' + run % 10);
			run /= 10;
		} while(run);
		if(1 + nl > cap - o)
			break;
		out[o++] = letter;
		memcpy(out + o, num + sizeof(num) - nl, nl);
		o += nl;
		i = j;
	}
	out[o] = '\0';
	return o;
}

/*
 * Lower-cases the letters A-Z of s[0..len) in place, eight bytes at a
 * time: in each byte below 0x80, adding 0x80 - 'A' sets its high bit
 * from 'A' up and adding 0x80 - 'Z' - 1 from past 'Z' up (no carry into
 * the next byte); where the two differ the byte is a letter A-Z, and
 * that bit moved to 0x20 lowers it. Other bytes are left as they are.
 */
static void af_fp_lower(char *s, size_t len)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	uint64_t w, low, up;
	size_t i;

	for(i = 0; i + 8 <= len; i += 8) {
		w = af_fp_load64(s + i);
		low = w & ~high;
		up = ((low + ones * (0x80 - 'A')) ^ (low + ones * (0x80 - 'Z' - 1)))
			 & ~w & high;
		w |= up >> 2;
		memcpy(s + i, &w, 8);
	}
	for(; i < len; i++) {
		if(s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] + 32);
	}
}

/*
 * Fills fm->order (canonical names of the kept headers, a name that does
 * not fit whole ends it), fm->shape and fm->hash from the features of
 * fm; see af_fp.h.
 */
void af_fp_shape(af_fp_msg_t *fm)
{
	const af_str_t *full;
	const char *n;
	char *o = fm->order, *s = fm->shape;
	size_t ol = 0, sl = 0, nlen, k;
	size_t ocap = AF_FP_ORDER_MAX - 1, scap = AF_FP_SHAPE_MAX - 1;
	uint64_t h = AF_FP_FNV_OFFSET;
	char flags[4];
	int i, nf = 0;

	for(i = 0; i < fm->n_hdr && i < AF_FP_HDR_MAX; i++) {
		n = fm->hdr[i].name.s;
		nlen = fm->hdr[i].name.len;
		full = nlen == 1 ? af_fp_compact_name(n[0]) : NULL;
		if(full) {
			n = full->s;
			nlen = full->len;
		}
		if(nlen + (ol ? 1 : 0) > ocap - ol)
			break;
		if(ol)
			o[ol++] = ',';
		memcpy(o + ol, n, nlen);
		ol += nlen;
	}
	af_fp_lower(o, ol);
	o[ol] = '\0';
	fm->order_len = ol;

	af_fp_cat(s, &sl, scap, fm->method.s, fm->method.len);
	af_fp_cat(s, &sl, scap, "|", 1);
	af_fp_cat(s, &sl, scap, o, ol);
	af_fp_cat(s, &sl, scap, "|", 1);
	sl += af_fp_token_shape(
			fm->call_id.s, fm->call_id.len, s + sl, AF_FP_SHAPE_MAX - sl);
	af_fp_cat(s, &sl, scap, "|", 1);
	sl += af_fp_token_shape(
			fm->branch.s, fm->branch.len, s + sl, AF_FP_SHAPE_MAX - sl);
	af_fp_cat(s, &sl, scap, "|", 1);
	sl += af_fp_token_shape(
			fm->from_tag.s, fm->from_tag.len, s + sl, AF_FP_SHAPE_MAX - sl);
	af_fp_cat(s, &sl, scap, "|", 1);
	if(fm->compact)
		flags[nf++] = 'c';
	if(fm->sdp)
		flags[nf++] = 'b';
	if(af_fp_cl_mismatch(fm))
		flags[nf++] = 'l';
	if(nf == 0)
		flags[nf++] = '-';
	af_fp_cat(s, &sl, scap, flags, (size_t)nf);
	s[sl] = '\0';
	fm->shape_len = sl;

	for(k = 0; k + 4 <= sl; k += 4) {
		h = (h ^ (unsigned char)s[k]) * AF_FP_FNV_PRIME;
		h = (h ^ (unsigned char)s[k + 1]) * AF_FP_FNV_PRIME;
		h = (h ^ (unsigned char)s[k + 2]) * AF_FP_FNV_PRIME;
		h = (h ^ (unsigned char)s[k + 3]) * AF_FP_FNV_PRIME;
	}
	for(; k < sl; k++)
		h = (h ^ (unsigned char)s[k]) * AF_FP_FNV_PRIME;
	fm->hash = h;
}

/* Writes "af1-" and the 16 lower-case hex digits of hash, and a NUL. */
void af_fp_id(uint64_t hash, char out[21])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	memcpy(out, "af1-", 4);
	for(i = 0; i < 16; i++)
		out[4 + i] = hex[(hash >> (60 - 4 * i)) & 0xf];
	out[20] = '\0';
}
