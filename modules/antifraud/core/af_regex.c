/*
 * antifraud - matching the rules' regular expressions (af_regex.h).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <stddef.h>
#include <string.h>
#include <pcre2.h>
#include "af_host.h"
#include "af_regex.h"

/* per match: backtracking steps, and KiB of backtracking frames */
#define AF_RE_MATCH_LIMIT 100000
#define AF_RE_HEAP_LIMIT 4096

/* per process: what af_regex_match needs, made once (plain malloc) */
static __thread pcre2_match_data *af_re_md;
static __thread pcre2_match_context *af_re_mctx;
static __thread int af_re_warned;

/*
 * Makes this process's match data and match context (plain malloc, kept
 * for the life of the process). Returns 0, or -1 when out of memory.
 */
static int af_regex_init(void)
{
	af_re_md = pcre2_match_data_create(1, NULL);
	af_re_mctx = pcre2_match_context_create(NULL);
	if(!af_re_md || !af_re_mctx) {
		pcre2_match_data_free(af_re_md);
		pcre2_match_context_free(af_re_mctx);
		af_re_md = NULL;
		af_re_mctx = NULL;
		AF_ERR("regex: out of memory\n");
		return -1;
	}
	pcre2_set_match_limit(af_re_mctx, AF_RE_MATCH_LIMIT);
	pcre2_set_heap_limit(af_re_mctx, AF_RE_HEAP_LIMIT);
	return 0;
}

/*
 * Returns 1 when s[0..len) matches re, 0 when it does not (at once when
 * its filter refuses the subject). A match that
 * hits the limits (a pathological pattern) or fails otherwise counts as
 * no match, with one warning per process. Allocates nothing after the
 * first calls of a process.
 */
int af_regex_match(const af_regex_t *re, const char *s, size_t len)
{
	int rc;

	if(!re || !re->code)
		return 0;
	if(!s) {
		s = "";
		len = 0;
	}
	if(af_re_filter_refuses(&re->filter, s, len))
		return 0;
	if(!af_re_md && af_regex_init() < 0)
		return 0;
	rc = pcre2_match((const pcre2_code *)re->code, (PCRE2_SPTR)s, len, 0, 0,
			af_re_md, af_re_mctx);
	if(rc >= 0)
		return 1;
	if(rc != PCRE2_ERROR_NOMATCH && !af_re_warned) {
		af_re_warned = 1;
		AF_WARN("regex '%s': match failed (error %d), counted as no match;"
				" further failures are not logged\n",
				re->src, rc);
	}
	return 0;
}

/*
 * Fills f for pattern s[0..len) compiled as code: PCRE2's minimum
 * subject length, and the literal text the pattern requires at the start
 * of a subject: after a leading '^', the characters that stand for
 * themselves, each not followed by a quantifier, up to AF_RE_PREFIX_MAX
 * (none when the pattern holds '|' anywhere).
 */
void af_re_filter_init(af_re_filter_t *f, const void *code, const char *s,
		size_t len)
{
	size_t i;
	char ch, next;

	memset(f, 0, sizeof(*f));
	if(code && pcre2_pattern_info((const pcre2_code *)code,
					   PCRE2_INFO_MINLENGTH, &f->min_len) != 0)
		f->min_len = 0;
	if(len < 2 || s[0] != '^' || memchr(s, '|', len))
		return;
	for(i = 1; i < len && f->pre_len < AF_RE_PREFIX_MAX; i++) {
		ch = s[i];
		if(!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
				   || (ch >= '0' && ch <= '9')
				   || (ch && strchr(" _-/:;@,=<>\"'%!~&", ch))))
			break;
		next = i + 1 < len ? s[i + 1] : '\0';
		if(next == '?' || next == '*' || next == '+' || next == '{')
			break;
		f->pre[f->pre_len++] = ch;
	}
	if(f->min_len < f->pre_len)
		f->min_len = f->pre_len;
}
