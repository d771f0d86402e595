/*
 * antifraud - compiled regular expressions of the rules (PCRE2) and their
 * matching, bounded per match. The rule loader compiles them into the
 * snapshot's arena (af_rules.c); any process matches them here.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_REGEX_H
#define AF_REGEX_H

#include <stddef.h>
#include <stdint.h>

#define AF_RE_PREFIX_MAX 8 /* bytes of an anchored literal prefix */

/*
 * What a subject needs before PCRE2 is worth running: at least min_len
 * bytes (PCRE2's lower bound of a matching subject) and, for a pattern
 * that starts with '^' and literal text, that text first.
 */
typedef struct af_re_filter {
	uint32_t min_len;
	uint8_t pre_len;
	char pre[AF_RE_PREFIX_MAX];
} af_re_filter_t;

/* compiled regular expression (PCRE2 code in the snapshot's arena) */
typedef struct af_regex {
	const char *src;
	size_t src_len;
	void *code; /* pcre2_code_8, compiled with AF_RE_OPTIONS */
	af_re_filter_t filter;
	/* the load tag (pid, sequence number, time of the compile) that
	 * keys each process's JIT copy: af_regex_tag() */
	uint32_t pid, seq;
	uint64_t loaded_ms;
} af_regex_t;

/* the compile options of the rules' patterns ('$' is the very end);
 * expands where pcre2.h is included */
#define AF_RE_OPTIONS PCRE2_DOLLAR_ENDONLY

/* Gives re, just compiled, its load tag. */
void af_regex_tag(af_regex_t *re);

/*
 * Fills f for pattern s[0..len) compiled as code (a pcre2_code_8): see
 * af_re_filter_t. A pattern holding '|' has no prefix; the prefix stops
 * before a character that does not stand for itself or is quantified.
 */
void af_re_filter_init(af_re_filter_t *f, const void *code, const char *s,
		size_t len);

/* 1 when subject s[0..len) cannot match the pattern of filter f */
static inline int af_re_filter_refuses(
		const af_re_filter_t *f, const char *s, size_t len)
{
	unsigned i;

	if(len < f->min_len)
		return 1;
	for(i = 0; i < f->pre_len; i++) {
		if(s[i] != f->pre[i])
			return 1;
	}
	return 0;
}

/*
 * 1 when s[0..len) matches re, 0 when not (no allocation per call); a
 * subject its filter refuses is refused without running PCRE2.
 */
int af_regex_match(const af_regex_t *re, const char *s, size_t len);

#endif
