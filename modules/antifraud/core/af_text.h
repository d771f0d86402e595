/*
 * antifraud - text from outside shown safely: validation and escaping.
 *
 * What an operator sees (RPC answers, logs) may hold text that came from
 * anyone: a ban reason read back from Redis, a caller's user name, an RPC
 * argument quoted in an error. These functions decide whether text is
 * plain (printable, valid UTF-8) and turn any text into a bounded, plain
 * form that a terminal shows as it is.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_TEXT_H
#define AF_TEXT_H

#include <stddef.h>

/* bytes of an argument quoted in an error message, before escaping */
#define AF_TEXT_EXCERPT 32

/* room for an escaped excerpt of AF_TEXT_EXCERPT bytes, "..." and NUL */
#define AF_TEXT_EXCERPT_BUF (AF_TEXT_EXCERPT * 4 + 4)

/*
 * Returns 1 when s[0..len) is plain text: valid UTF-8 (no overlong form,
 * no surrogate, nothing above U+10FFFF) without a control character (C0,
 * DEL, C1) or a character that reorders or breaks lines (U+061C, U+200E,
 * U+200F, U+2028..U+202E, U+2066..U+2069, U+FEFF); 0 otherwise.
 */
int af_text_plain(const char *s, size_t len);

/*
 * Writes s[0..len) into out (size bytes, always NUL-terminated when size
 * > 0) as plain text: the characters af_text_plain accepts are kept, a
 * backslash becomes "\\", every other byte "\xNN". When it does not fit,
 * the text is cut before a whole character or escape and ends with
 * "...". Returns the length written.
 */
size_t af_text_escape(const char *s, size_t len, char *out, size_t size);

/*
 * af_text_escape of at most AF_TEXT_EXCERPT bytes of s[0..len) into out
 * (AF_TEXT_EXCERPT_BUF bytes), "..." marking what was left out. Returns
 * out, for use as a printf argument.
 */
const char *af_text_excerpt(const char *s, size_t len, char *out);

/*
 * af_text_escape of at most max bytes of s[0..len) into out (outlen
 * bytes), "..." marking a cut. Returns out, for use as a printf
 * argument. Messages show file content only through this.
 */
char *af_text_escape_max(char *out, size_t outlen, const char *s, size_t len,
		size_t max);

#endif
