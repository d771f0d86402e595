/*
 * antifraud - text from outside shown safely: validation and escaping.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "af_text.h"

/*
 * Decodes the UTF-8 character at s[0..len) into *cp. Returns its length
 * in bytes, 0 when the bytes there are not a valid character (a stray
 * continuation byte, a truncated sequence, an overlong form, a surrogate
 * or a code point above U+10FFFF).
 */
static size_t utf8_char(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n, i;

	if(c < 0x80) {
		*cp = c;
		return 1;
	}
	if(c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if(c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if(len < n)
		return 0;
	for(i = 1; i < n; i++) {
		if((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if(c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Is code point c shown as it is (no control, no reordering)? */
static int plain_cp(uint32_t c)
{
	if(c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
		return 0;
	if(c == 0x61c || c == 0x200e || c == 0x200f
			|| (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
			|| c == 0xfeff)
		return 0;
	return 1;
}

int af_text_plain(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;
	size_t i = 0, n;

	if(!s && len)
		return 0;
	while(i < len) {
		n = utf8_char(u + i, len - i, &cp);
		if(!n || !plain_cp(cp))
			return 0;
		i += n;
	}
	return 1;
}

size_t af_text_escape(const char *s, size_t len, char *out, size_t size)
{
	const unsigned char *u = (const unsigned char *)s;
	char piece[8];
	const char *p;
	size_t i = 0, o = 0, cut = 0, n, m;
	uint32_t cp;

	if(!size)
		return 0;
	if(!s)
		len = 0;
	while(i < len) {
		/* printable ASCII, the common case, as it is: the whole run
		 * that fits (with the NUL) in one copy; cut as if byte by byte
		 * (the last end with room for "...") */
		m = o + 2 <= size ? size - o - 1 : 0; /* bytes that fit */
		if(m > len - i)
			m = len - i;
		for(n = 0; n < m && (unsigned)(u[i + n] - 0x20) < 0x5f
				   && u[i + n] != '\\';
				n++)
			;
		if(n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
			if(o + 4 <= size)
				cut = o;
			else if(o - n + 5 <= size)
				cut = size - 4;
			continue;
		}
		n = utf8_char(u + i, len - i, &cp);
		if(n && plain_cp(cp) && cp != '\\') {
			p = s + i;
			m = n;
		} else if(n == 1 && cp == '\\') {
			p = "\\\\";
			m = 2;
		} else {
			snprintf(piece, sizeof(piece), "\\x%02x", u[i]);
			p = piece;
			m = 4;
			n = 1;
		}
		if(o + m + 1 > size) {
			/* does not fit: end at the last boundary with room for ... */
			o = cut;
			for(m = 0; m < 3 && o + 1 < size; m++)
				out[o++] = '.';
			out[o] = '\0';
			return o;
		}
		memcpy(out + o, p, m);
		o += m;
		if(o + 4 <= size)
			cut = o;
		i += n;
	}
	out[o] = '\0';
	return o;
}

const char *af_text_excerpt(const char *s, size_t len, char *out)
{
	size_t o;

	o = af_text_escape(s, len > AF_TEXT_EXCERPT ? AF_TEXT_EXCERPT : len, out,
			AF_TEXT_EXCERPT_BUF - 3);
	/* 32 bytes escape to 128 at most: it always fits, ... too */
	if(len > AF_TEXT_EXCERPT)
		memcpy(out + o, "...", 4);
	return out;
}

char *af_text_escape_max(char *out, size_t outlen, const char *s, size_t len,
		size_t max)
{
	size_t o;

	if(!outlen)
		return out;
	o = af_text_escape(s, len > max ? max : len, out, outlen);
	if(len > max && o + 3 < outlen)
		memcpy(out + o, "...", 4);
	return out;
}
