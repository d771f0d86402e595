/*
 * antifraud - forgetting a subject (af_forget.h).
 *
 * The store keys the checks build (af_source.c, af_dest.c, af_account.c)
 * per subject:
 *   source ip     ban ip; windows ip (scanner score), af|ip (failed
 *                 authentications), as|*|ip (failures against accounts),
 *                 ag|*|ip (successes: a known good source)
 *   caller id     windows r|w|id (rates), rn|w|id|* (same number),
 *                 rs|w|id|* (similar numbers); history id
 *   number n      windows rn|w|*|n (same number), rk|w|n (many callers)
 *
 * (af_dest.c's counters are WIN_MULTI ops, tagged w, w1.. by group of
 * windows: the patterns match any tag. A backend without native WIN_MULTI
 * keeps one window per key, "|<window_s>" appended: matched too.)
 *   account id    ban acct|id (under attack); windows ag|id|*, as|id|*,
 *                 aa|id, at|id; history id
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "af_core.h"
#include "af_forget.h"
#include "af_host.h"
#include "af_ip.h"

static const char *const subject_names[AF_SUBJ__COUNT] = {
	[AF_SUBJ_CALLER] = "caller",
	[AF_SUBJ_NUMBER] = "number",
	[AF_SUBJ_SOURCE] = "source",
	[AF_SUBJ_ACCOUNT] = "account",
};

int af_subject_parse(const char *s, size_t len)
{
	int i;

	for(i = 0; i < AF_SUBJ__COUNT; i++)
		if(strlen(subject_names[i]) == len
				&& memcmp(subject_names[i], s, len) == 0)
			return i;
	return -1;
}

const char *af_subject_name(af_subject_t k)
{
	return (unsigned)k < AF_SUBJ__COUNT ? subject_names[k] : "unknown";
}

/* the subject written canonically into out (size AF_KEY_MAX + 1);
 * its length, -1 with err set */
static int canonical(af_subject_t k, const char *s, size_t len, char *out,
		char *err, size_t errlen)
{
	af_ip_t ip;
	size_t i, at = len;
	int n;

	if(len == 0 || len > AF_KEY_MAX - 24) {
		snprintf(err, errlen, "the %s must be 1 to %d characters",
				af_subject_name(k), AF_KEY_MAX - 24);
		return -1;
	}
	for(i = 0; i < len; i++) {
		if((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '|') {
			snprintf(err, errlen,
					"the %s must not hold spaces, control characters or"
					" '|'",
					af_subject_name(k));
			return -1;
		}
	}
	switch(k) {
		case AF_SUBJ_SOURCE:
			if(af_ip_parse(s, len, &ip) < 0) {
				snprintf(err, errlen, "not an IP address");
				return -1;
			}
			n = af_ip_format(&ip, out, AF_KEY_MAX + 1);
			return n > 0 ? n : -1;
		case AF_SUBJ_NUMBER:
			if(s[0] == '+') {
				s++;
				len--;
			}
			if(len == 0 || len > 20) {
				snprintf(err, errlen, "not a number (E.164 digits)");
				return -1;
			}
			for(i = 0; i < len; i++) {
				if(!isdigit((unsigned char)s[i])) {
					snprintf(err, errlen, "not a number (E.164 digits)");
					return -1;
				}
			}
			memcpy(out, s, len);
			out[len] = '\0';
			return (int)len;
		case AF_SUBJ_CALLER:
		case AF_SUBJ_ACCOUNT:
			/* user@host: the host case-insensitive, as the checks
			 * write it; an account may be a user alone */
			for(i = 0; i < len; i++) {
				if(s[i] == '@') {
					at = i;
					break;
				}
			}
			if(at == 0 || (k == AF_SUBJ_CALLER && at >= len - 1)) {
				snprintf(err, errlen, "expected user@host");
				return -1;
			}
			for(i = 0; i < len; i++)
				out[i] = i > at ? (char)tolower((unsigned char)s[i]) : s[i];
			out[len] = '\0';
			return (int)len;
		default:
			snprintf(err, errlen, "unknown subject kind");
			return -1;
	}
}

/* s escaped for fnmatch into buf at *n; 0, -1 when it does not fit */
static int glob_put(char *buf, size_t size, size_t *n, const char *s,
		int escape)
{
	for(; *s; s++) {
		if(*n + 3 >= size)
			return -1;
		if(escape
				&& (*s == '*' || *s == '?' || *s == '[' || *s == ']'
						|| *s == '\\'))
			buf[(*n)++] = '\\';
		buf[(*n)++] = *s;
	}
	return 0;
}

/* adds the pattern head + subject + tail */
static int add_pat(af_forget_pat_t *pats, int *np, unsigned kinds,
		const char *head, const char *subj, const char *tail, char *buf,
		size_t size, size_t *used)
{
	size_t start = *used;

	if(*np >= AF_FORGET_PATS_MAX || glob_put(buf, size, used, head, 0) < 0
			|| glob_put(buf, size, used, subj, 1) < 0
			|| glob_put(buf, size, used, tail, 0) < 0)
		return -1;
	buf[(*used)++] = '\0';
	pats[*np].kinds = kinds;
	pats[*np].glob = buf + start;
	(*np)++;
	return 0;
}

int af_forget_patterns(af_subject_t k, const char *subj, size_t len,
		af_forget_pat_t *pats, char *buf, size_t bufsize, char *err,
		size_t errlen)
{
	char c[AF_KEY_MAX + 1];
	size_t used = 0;
	int np = 0, rc = 0;

	if(canonical(k, subj, len, c, err, errlen) < 0)
		return -1;
	switch(k) {
		case AF_SUBJ_SOURCE:
			rc |= add_pat(pats, &np, AF_FORGET_BAN | AF_FORGET_WIN, "", c, "",
					buf, bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "af|", c, "", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "as|*|", c, "", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "ag|*|", c, "", buf,
					bufsize, &used);
			break;
		case AF_SUBJ_CALLER:
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "r|*|", c, "", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "r|*|", c, "|*", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "rn|*|", c, "|*", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "rs|*|", c, "|*", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_HIST, "", c, "", buf, bufsize,
					&used);
			break;
		case AF_SUBJ_NUMBER:
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "rn|*|*|", c, "", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "rn|*|*|", c, "|*", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "rk|*|", c, "", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "rk|*|", c, "|*", buf,
					bufsize, &used);
			break;
		case AF_SUBJ_ACCOUNT:
			rc |= add_pat(pats, &np, AF_FORGET_BAN, "acct|", c, "", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "ag|", c, "|*", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "as|", c, "|*", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "aa|", c, "", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_WIN, "at|", c, "", buf,
					bufsize, &used);
			rc |= add_pat(pats, &np, AF_FORGET_HIST, "", c, "", buf, bufsize,
					&used);
			break;
		default:
			break;
	}
	if(rc) {
		snprintf(err, errlen, "the %s is too long", af_subject_name(k));
		return -1;
	}
	return np;
}

int af_forget(af_subject_t k, const char *subj, size_t len,
		uint64_t *removed, char *err, size_t errlen)
{
	af_forget_pat_t pats[AF_FORGET_PATS_MAX];
	char buf[AF_FORGET_PATS_MAX * (2 * AF_KEY_MAX + 16)];
	char c[AF_KEY_MAX + 1];
	af_store_t *s = af_core_store();
	int np;

	*removed = 0;
	np = af_forget_patterns(
			k, subj, len, pats, buf, sizeof(buf), err, errlen);
	if(np < 0)
		return -1;
	if(!s) {
		snprintf(err, errlen, "no state store");
		return -1;
	}
	if(s->ops->forget(s, pats, np, af_now_ms(), removed) < 0) {
		snprintf(err, errlen, "the state store is unavailable (%llu entries"
							  " forgotten locally)",
				(unsigned long long)*removed);
		return -1;
	}
	/* the other nodes drop their local copy of the ban */
	if((k == AF_SUBJ_SOURCE || k == AF_SUBJ_ACCOUNT)
			&& canonical(k, subj, len, c, err, errlen) > 0)
		af_core_publish("unban %s%s", k == AF_SUBJ_ACCOUNT ? "acct|" : "", c);
	AF_NOTICE("forgot %s %.*s: %llu entries\n", af_subject_name(k),
			(int)len, subj, (unsigned long long)*removed);
	return 0;
}
