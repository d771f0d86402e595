/*
 * antifraud unit tests - plain text and its escaping (what an operator
 * is shown of text from outside).
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "af_text.h"
#include "host.h"

#define PLAIN(s) af_text_plain(s, sizeof(s) - 1)

static void test_plain(void **state)
{
	assert_true(PLAIN(""));
	assert_true(PLAIN("honeypot hit"));
	assert_true(PLAIN("Z\xc3\xbcrich \xe2\x82\xac \xf0\x9f\x98\x80"));
	assert_true(PLAIN("back\\slash"));
	/* controls: C0, DEL, C1 (U+009B is a CSI of its own) */
	assert_false(PLAIN("a\nb"));
	assert_false(PLAIN("\x1b[31mred"));
	assert_false(PLAIN("a\x7f"));
	assert_false(PLAIN("a\xc2\x9b" "31m"));
	assert_false(af_text_plain("a\0b", 3));
	/* reordering and line breaking characters */
	assert_false(PLAIN("abc\xe2\x80\xae" "def")); /* U+202E */
	assert_false(PLAIN("a\xe2\x80\xa8" "b"));  /* U+2028 */
	assert_false(PLAIN("a\xe2\x81\xa6" "b"));  /* U+2066 */
	assert_false(PLAIN("\xef\xbb\xbf" "z"));   /* U+FEFF */
	/* invalid UTF-8 */
	assert_false(PLAIN("\xff"));
	assert_false(PLAIN("\x80"));
	assert_false(PLAIN("\xc3"));                /* truncated */
	assert_false(PLAIN("\xc0\xaf"));            /* overlong '/' */
	assert_false(PLAIN("\xe0\x80\xaf"));        /* overlong */
	assert_false(PLAIN("\xed\xa0\x80"));        /* surrogate */
	assert_false(PLAIN("\xf4\x90\x80\x80"));    /* > U+10FFFF */
	assert_false(PLAIN("\xe2\x82" "a"));        /* bad continuation */
	assert_false(af_text_plain(NULL, 1));
	assert_true(af_text_plain(NULL, 0));
}

static void expect_escape(const char *in, size_t len, size_t size,
		const char *want)
{
	char out[256];
	size_t n;

	memset(out, 'Z', sizeof(out));
	n = af_text_escape(in, len, out, size);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_true(n < size);
	/* what it writes is plain itself, and nothing past size */
	assert_true(af_text_plain(out, n));
	assert_int_equal(out[size], 'Z');
}

#define ESC(in, size, want) expect_escape(in, sizeof(in) - 1, size, want)

static void test_escape(void **state)
{
	ESC("honeypot hit", 64, "honeypot hit");
	ESC("Z\xc3\xbcrich", 64, "Z\xc3\xbcrich");
	ESC("a\\b", 64, "a\\\\b");
	ESC("\x1b[31mred\x1b[0m", 64, "\\x1b[31mred\\x1b[0m");
	ESC("line\r\nbreak", 64, "line\\x0d\\x0abreak");
	ESC("bad \xff\xfe utf8", 64, "bad \\xff\\xfe utf8");
	ESC("csi \xc2\x9b", 64, "csi \\xc2\\x9b");
	ESC("rtl \xe2\x80\xae", 64, "rtl \\xe2\\x80\\xae");
	ESC("nul \0 in", 64, "nul \\x00 in");
	/* cut to fit, at a whole character or escape, marked with ... */
	ESC("abcdefghij", 8, "abcd...");
	ESC("abcdefg", 8, "abcdefg");
	ESC("\x01\x02\x03", 10, "\\x01...");
	ESC("\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc", 8, "\xc3\xbc\xc3\xbc...");
	ESC("abc", 3, "..");
	ESC("abcdef", 3, "..");
	ESC("abcdef", 1, "");
}

static void test_escape_zero_size(void **state)
{
	char out[1] = {'Z'};

	assert_int_equal(af_text_escape("abc", 3, out, 0), 0);
	assert_int_equal(out[0], 'Z');
	assert_int_equal(af_text_escape(NULL, 3, out, 1), 0);
	assert_int_equal(out[0], '\0');
}

static void test_excerpt(void **state)
{
	char big[70000], out[AF_TEXT_EXCERPT_BUF + 8];
	const char *e;

	memset(big, 'x', sizeof(big));
	e = af_text_excerpt(big, sizeof(big), out);
	assert_ptr_equal(e, out);
	assert_int_equal(strlen(e), AF_TEXT_EXCERPT + 3);
	assert_memory_equal(e + AF_TEXT_EXCERPT, "...", 4);
	/* the worst case: every byte escaped, and the mark */
	memset(big, '\x1b', sizeof(big));
	memset(out, 'Z', sizeof(out));
	e = af_text_excerpt(big, sizeof(big), out);
	assert_int_equal(strlen(e), AF_TEXT_EXCERPT * 4 + 3);
	assert_true(strlen(e) < AF_TEXT_EXCERPT_BUF);
	assert_int_equal(out[AF_TEXT_EXCERPT_BUF], 'Z');
	/* short input as it is; input that ends in dots still marked */
	assert_string_equal(af_text_excerpt("alice", 5, out), "alice");
	memset(big, '.', sizeof(big));
	e = af_text_excerpt(big, AF_TEXT_EXCERPT + 1, out);
	assert_int_equal(strlen(e), AF_TEXT_EXCERPT + 3);
}

/* random bytes: the escaped form is always plain and bounded */
static void test_escape_random(void **state)
{
	char in[64], out[40];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t n, i;
	int round;

	for(round = 0; round < 20000; round++) {
		for(i = 0; i < sizeof(in); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			in[i] = (char)(x & 0xff);
		}
		n = af_text_escape(in, (size_t)(x >> 58), out, sizeof(out));
		assert_true(n < sizeof(out));
		assert_int_equal(strlen(out), n);
		assert_true(af_text_plain(out, n));
	}
}

/*
 * The escaped form of s[0..len) made of printable ASCII, '\\' and
 * control bytes only, as the contract says, piece by piece: whole when
 * it fits in size with its NUL, else cut at the last end of a piece with
 * room for "..." after it, and as many of the dots as fit.
 */
static size_t model_escape(const char *s, size_t len, char *out, size_t size)
{
	char piece[8];
	size_t i, m, o = 0, cut = 0;

	for(i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if(c == '\\')
			m = (size_t)snprintf(piece, sizeof(piece), "\\\\");
		else if(c >= 0x20 && c < 0x7f)
			m = (size_t)snprintf(piece, sizeof(piece), "%c", c);
		else
			m = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", c);
		if(o + m + 1 > size) {
			for(o = cut, m = 0; m < 3 && o + 1 < size; m++)
				out[o++] = '.';
			out[o] = '\0';
			return o;
		}
		memcpy(out + o, piece, m);
		o += m;
		if(o + 4 <= size)
			cut = o;
	}
	out[o] = '\0';
	return o;
}

/* runs of plain bytes (copied a run at a time) with escapes between
 * them, cut at every size: as the model, byte for byte */
static void test_escape_runs(void **state)
{
	static const char alphabet[] = "abcXYZ 0:-.~\\\n\x01";
	char in[48], out[64], want[64];
	uint64_t x = 0x2545f4914f6cdd1dULL;
	size_t i, len, size, n;
	int round;

	for(round = 0; round < 3000; round++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = (size_t)(x % sizeof(in));
		for(i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* mostly plain: long runs, an escape now and then */
			in[i] = x % 8 ? alphabet[x % 12] : alphabet[12 + (x >> 8) % 3];
		}
		for(size = 1; size <= sizeof(out); size++) {
			memset(out, 'Z', sizeof(out));
			n = af_text_escape(in, len, out, size);
			assert_int_equal(n, model_escape(in, len, want, size));
			assert_memory_equal(out, want, n + 1);
			if(size < sizeof(out))
				assert_int_equal(out[size], 'Z');
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_plain),
			cmocka_unit_test(test_escape),
			cmocka_unit_test(test_escape_zero_size),
			cmocka_unit_test(test_excerpt),
			cmocka_unit_test(test_escape_random),
			cmocka_unit_test(test_escape_runs),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
