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

/* compiled regular expression (PCRE2 code in the snapshot's arena) */
typedef struct af_regex {
	const char *src;
	void *code; /* pcre2_code_8 */
} af_regex_t;

/* 1 when s[0..len) matches re, 0 when not (no allocation per call) */
int af_regex_match(const af_regex_t *re, const char *s, size_t len);

#endif
