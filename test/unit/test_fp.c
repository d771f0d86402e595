/*
 * antifraud unit tests - request fingerprints: the splitter (request
 * line, headers in order, compact forms, case, CRLF and LF, folded
 * lines, name-addr values, SDP), garbage, truncated and oversize input,
 * token shapes, structural shapes and their hashes.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "af_host.h"
#include "af_fp.h"
#include "host.h"

/* what sipvicious 0.3.3's svmap sent to 127.0.0.1:15099 (captured) */
static const char svmap_options[] =
		"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1348014683;rport\r\n"
		"Max-Forwards: 70\r\n"
		"To: \"sipvicious\"<sip:100@1.1.1.1>\r\n"
		"From: \"sipvicious\"<sip:100@1.1.1.1>;tag="
		"3766303030303031336166620132313936383937343937\r\n"
		"User-Agent: friendly-scanner\r\n"
		"Call-ID: 316638327455530918800515\r\n"
		"Contact: sip:100@127.0.0.1:5061\r\n"
		"CSeq: 1 OPTIONS\r\n"
		"Accept: application/sdp\r\n"
		"Content-Length: 0\r\n"
		"\r\n";

/* compact forms, bare LF, an SDP body shorter than declared */
static const char compact_invite[] =
		"INVITE sip:bob@example.com SIP/2.0\n"
		"v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bKnashds8\n"
		"f: Alice <sip:alice@example.com>;tag=1928301774\n"
		"t: Bob <sip:bob@example.com>\n"
		"i: a84b4c76e66710@pc33.example.com\n"
		"CSeq: 314159 INVITE\n"
		"m: <sip:alice@pc33.example.com>\n"
		"c: application/sdp\n"
		"l: 500\n"
		"\n"
		"v=0\n"
		"o=alice 2890844526 2890844526 IN IP4 pc33.example.com\n"
		"s=Session SDP\n"
		"c=IN IP4 192.0.2.101\n"
		"t=0 0\n"
		"m=audio 49172 RTP/AVP 0\n";

/* FNV-1a 64, written again here to check the module's */
static uint64_t fnv1a(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for(i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Parses the NUL-terminated text into fm; returns af_fp_parse()'s result. */
static int parse(const char *text, af_fp_msg_t *fm)
{
	return af_fp_parse(text, strlen(text), fm);
}

/* Asserts that af_str_t v holds exactly the text want. */
#define assert_str(v, want)                                           \
	do {                                                              \
		af_str_t v_ = (v);                                            \
		const char *w_ = (want);                                      \
		assert_non_null(v_.s);                                        \
		if(v_.len != strlen(w_) || memcmp(v_.s, w_, v_.len) != 0)     \
			fail_msg("got '%.*s', expected '%s'", (int)v_.len, v_.s, w_); \
	} while(0)

/* Asserts that the shape and hash of fm are want and its FNV-1a. */
static void assert_shape(const af_fp_msg_t *fm, const char *want)
{
	assert_string_equal(fm->shape, want);
	assert_int_equal(fm->shape_len, strlen(want));
	assert_true(fm->hash == fnv1a(want, strlen(want)));
}

static void test_svmap(void **state)
{
	af_fp_msg_t fm;
	char id[21];

	assert_int_equal(parse(svmap_options, &fm), 0);
	assert_str(fm.request_line, "OPTIONS sip:100@127.0.0.1 SIP/2.0");
	assert_str(fm.method, "OPTIONS");
	assert_str(fm.ruri, "sip:100@127.0.0.1");
	assert_int_equal(fm.n_hdr, 10);
	assert_int_equal(fm.n_hdr_total, 10);
	assert_str(fm.hdr[0].name, "Via");
	assert_str(fm.hdr[0].value,
			"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1348014683;rport");
	assert_str(fm.hdr[9].name, "Content-Length");
	assert_str(fm.hdr[9].value, "0");
	assert_int_equal(fm.compact, 0);
	assert_str(fm.user_agent, "friendly-scanner");
	assert_str(fm.server, "");
	assert_str(fm.from_display, "sipvicious");
	assert_str(fm.from_user, "100");
	assert_str(fm.from_tag, "3766303030303031336166620132313936383937343937");
	assert_str(fm.to_display, "sipvicious");
	assert_str(fm.to_user, "100");
	assert_str(fm.call_id, "316638327455530918800515");
	assert_str(fm.branch, "z9hG4bK-1348014683");
	assert_str(fm.contact, "sip:100@127.0.0.1:5061");
	assert_int_equal(fm.content_length, 0);
	assert_int_equal(fm.body_len, 0);
	assert_int_equal(fm.sdp, 0);
	assert_str(fm.sdp_o_user, "");
	assert_str(fm.sdp_s, "");
	assert_string_equal(fm.order, "via,max-forwards,to,from,user-agent,"
								  "call-id,contact,cseq,accept,content-length");
	assert_int_equal(fm.order_len, strlen(fm.order));
	/* derived by hand from af_fp.h */
	assert_shape(&fm, "OPTIONS|via,max-forwards,to,from,user-agent,call-id,"
					  "contact,cseq,accept,content-length|d24|z9hG4bK-d10|"
					  "d46|-");
	af_fp_id(fm.hash, id);
	assert_string_equal(id, "af1-753de1d97ffdfff0");
}

static void test_compact_lf_sdp(void **state)
{
	af_fp_msg_t fm;
	char id[21];

	assert_int_equal(parse(compact_invite, &fm), 0);
	assert_str(fm.method, "INVITE");
	assert_int_equal(fm.compact, 1);
	assert_str(fm.hdr[0].name, "v");
	assert_string_equal(fm.order, "via,from,to,call-id,cseq,contact,"
								  "content-type,content-length");
	assert_str(fm.branch, "z9hG4bKnashds8");
	assert_str(fm.from_display, "Alice");
	assert_str(fm.from_user, "alice");
	assert_str(fm.from_tag, "1928301774");
	assert_str(fm.to_display, "Bob");
	assert_str(fm.to_user, "bob");
	assert_str(fm.call_id, "a84b4c76e66710@pc33.example.com");
	assert_str(fm.contact, "<sip:alice@pc33.example.com>");
	assert_int_equal(fm.content_length, 500);
	assert_int_equal(fm.body_len, strlen(strstr(compact_invite, "v=0")));
	assert_int_equal(fm.sdp, 1);
	assert_str(fm.sdp_o_user, "alice");
	assert_str(fm.sdp_s, "Session SDP");
	assert_true(af_fp_cl_mismatch(&fm));
	assert_shape(&fm, "INVITE|via,from,to,call-id,cseq,contact,content-type,"
					  "content-length|h14@a4.a7.a3|z9hG4bKa7|d10|cbl");
	af_fp_id(fm.hash, id);
	assert_string_equal(id, "af1-fa0a8d365f2a6b50");

	/* the same message with CRLF: the same features and shape */
	{
		char crlf[2048];
		size_t i, o = 0;
		af_fp_msg_t fm2;

		for(i = 0; compact_invite[i]; i++) {
			if(compact_invite[i] == '\n')
				crlf[o++] = '\r';
			crlf[o++] = compact_invite[i];
		}
		crlf[o] = '\0';
		assert_int_equal(parse(crlf, &fm2), 0);
		assert_string_equal(fm2.order, fm.order);
		assert_str(fm2.sdp_s, "Session SDP");
		assert_str(fm2.from_tag, "1928301774");
		/* the body is longer with CRLF, still not 500 */
		assert_string_equal(fm2.shape, fm.shape);
	}
}

static void test_case_and_repeats(void **state)
{
	af_fp_msg_t fm;

	assert_int_equal(
			parse("register sips:EXAMPLE.com sip/2.0\r\n"
				  "VIA: SIP/2.0/TLS a.example.com;BRANCH=z9hG4bK1\r\n"
				  "via: SIP/2.0/TLS b.example.com;branch=z9hG4bK2\r\n"
				  "FROM:<sips:Carol@example.com>;TAG=AbC\r\n"
				  "tO : <sips:carol@example.com>\r\n"
				  "CALL-ID: X\r\n"
				  "I: second-call-id\r\n"
				  "USER-agent:   Desk Phone 1.0   \r\n"
				  "sErVeR: srv\r\n"
				  "CONTENT-LENGTH: 0\r\n"
				  "X-Custom-Header: 1\r\n"
				  "x-custom-header: 2\r\n"
				  "\r\n",
					&fm),
			0);
	assert_str(fm.method, "register");
	/* header names in order, lower case, repeats repeated */
	assert_string_equal(fm.order, "via,via,from,to,call-id,call-id,"
								  "user-agent,server,content-length,"
								  "x-custom-header,x-custom-header");
	assert_int_equal(fm.compact, 1); /* "I:" */
	/* the first Via's branch, parameter names in any case */
	assert_str(fm.branch, "z9hG4bK1");
	assert_str(fm.from_display, "");
	assert_str(fm.from_user, "Carol");
	assert_str(fm.from_tag, "AbC");
	assert_str(fm.to_user, "carol");
	/* the first Call-ID; values trimmed */
	assert_str(fm.call_id, "X");
	assert_str(fm.user_agent, "Desk Phone 1.0");
	assert_str(fm.server, "srv");
	assert_int_equal(fm.content_length, 0);
	assert_shape(&fm, "register|via,via,from,to,call-id,call-id,user-agent,"
					  "server,content-length,x-custom-header,x-custom-header|"
					  "A1|z9hG4bKd1|m3|c");
}

static void test_compact_names(void **state)
{
	static const char *const full[26] = {['b' - 'a'] = "referred-by",
			['c' - 'a'] = "content-type", ['e' - 'a'] = "content-encoding",
			['f' - 'a'] = "from", ['i' - 'a'] = "call-id",
			['k' - 'a'] = "supported", ['l' - 'a'] = "content-length",
			['m' - 'a'] = "contact", ['o' - 'a'] = "event",
			['r' - 'a'] = "refer-to", ['s' - 'a'] = "subject",
			['t' - 'a'] = "to", ['u' - 'a'] = "allow-events",
			['v' - 'a'] = "via", ['x' - 'a'] = "session-expires",
			['y' - 'a'] = "identity"};
	char msg[2048], want[1024];
	size_t len, wl = 0;
	af_fp_msg_t fm;
	int i;

	len = (size_t)snprintf(msg, sizeof(msg), "NOTIFY sip:x SIP/2.0\r\n");
	for(i = 0; i < 26; i++) {
		if(full[i]) {
			assert_string_equal(af_fp_compact_full((char)('a' + i)), full[i]);
			assert_string_equal(af_fp_compact_full((char)('A' + i)), full[i]);
			len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%c: 1\r\n",
					i % 2 ? 'a' + i : 'A' + i);
			wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%s%s",
					wl ? "," : "", full[i]);
		} else {
			assert_null(af_fp_compact_full((char)('a' + i)));
		}
	}
	assert_null(af_fp_compact_full('-'));
	assert_null(af_fp_compact_full('\0'));
	snprintf(msg + len, sizeof(msg) - len, "a: 1\r\nZ: 2\r\n\r\n");
	assert_int_equal(parse(msg, &fm), 0);
	/* letters that are not compact forms stay as they are, lower case */
	snprintf(want + wl, sizeof(want) - wl, ",a,z");
	assert_string_equal(fm.order, want);
	assert_int_equal(fm.compact, 1);
	assert_int_equal(parse("NOTIFY sip:x SIP/2.0\r\nZ: 1\r\n\r\n", &fm), 0);
	assert_int_equal(fm.compact, 0);
}

static void test_folded(void **state)
{
	af_fp_msg_t fm;

	assert_int_equal(parse("MESSAGE sip:a@b SIP/2.0\r\n"
						   "Subject: I know\r\n"
						   "  you're there,\r\n"
						   "\tpretending\r\n"
						   "User-Agent: Tool\r\n"
						   " 2.0\r\n"
						   "From: sip:x@y;tag=1\r\n"
						   "\r\n",
							 &fm),
			0);
	assert_int_equal(fm.n_hdr, 3);
	assert_str(fm.hdr[0].value, "I know");
	assert_string_equal(fm.order, "subject,user-agent,from");
	assert_str(fm.user_agent, "Tool");
	assert_str(fm.from_user, "x");
	assert_str(fm.from_tag, "1");
	/* a continuation line right after the request line is skipped */
	assert_int_equal(parse("OPTIONS sip:a@b SIP/2.0\r\n  junk\r\nTo: <sip:b@c>"
						   "\r\n\r\n",
							 &fm),
			0);
	assert_string_equal(fm.order, "to");
}

static void test_missing(void **state)
{
	af_fp_msg_t fm;
	char id[21];

	/* a request line and nothing else, not even the blank line */
	assert_int_equal(parse("OPTIONS sip:x SIP/2.0", &fm), 0);
	assert_str(fm.request_line, "OPTIONS sip:x SIP/2.0");
	assert_str(fm.ruri, "sip:x");
	assert_int_equal(fm.n_hdr, 0);
	assert_str(fm.user_agent, "");
	assert_str(fm.from_display, "");
	assert_str(fm.from_user, "");
	assert_str(fm.from_tag, "");
	assert_str(fm.to_user, "");
	assert_str(fm.call_id, "");
	assert_str(fm.branch, "");
	assert_str(fm.contact, "");
	assert_int_equal(fm.content_length, -1);
	assert_int_equal(fm.body_len, 0);
	assert_int_equal(fm.order_len, 0);
	assert_shape(&fm, "OPTIONS|||||-");
	af_fp_id(fm.hash, id);
	assert_string_equal(id, "af1-1ca0c6838b182e22");

	/* stream keep-alives before the request line are skipped; a body
	 * without Content-Length is a mismatch, a bad number too */
	assert_int_equal(parse("\r\n\r\nINFO sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h"
						   "\r\n\r\nhello",
							 &fm),
			0);
	assert_str(fm.method, "INFO");
	assert_str(fm.branch, "");
	assert_int_equal(fm.body_len, 5);
	assert_int_equal(fm.sdp, 0);
	assert_true(af_fp_cl_mismatch(&fm));
	assert_shape(&fm, "INFO|via||||l");
	assert_int_equal(parse("INFO sip:x SIP/2.0\r\nContent-Length: 5x\r\n\r\n",
							 &fm),
			0);
	assert_int_equal(fm.content_length, -1);
	assert_false(af_fp_cl_mismatch(&fm));
	assert_int_equal(
			parse("INFO sip:x SIP/2.0\r\nl: 99999999999999999999\r\n\r\n",
					&fm),
			0);
	assert_int_equal(fm.content_length, -1);
	assert_int_equal(parse("INFO sip:x SIP/2.0\r\nl: 3\r\n\r\n", &fm), 0);
	assert_int_equal(fm.content_length, 3);
	assert_true(af_fp_cl_mismatch(&fm));
}

static void test_not_requests(void **state)
{
	static const char *const bad[] = {
			"",
			"\r\n\r\n",
			"SIP/2.0 200 OK\r\nVia: x\r\n\r\n",
			"INVITE\r\n",
			"INVITE sip:x\r\n",
			"INVITE sip:x SIP",
			"INVITE  sip:x  HTTP/1.1\r\n",
			"GET / HTTP/1.0\r\n\r\n",
			"IN VITE sip:x SIP/2.0\r\n",
			"INV@TE sip:x SIP/2.0\r\n",
			" INVITE sip:x SIP/2.0\r\n",
			"INVITE sip:x\x01y SIP/2.0\r\n",
			"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	};
	af_fp_msg_t fm;
	size_t i, len;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = strlen(bad[i]);
		if(af_fp_parse(bad[i], len, &fm) != -1)
			fail_msg("case %zu parsed: '%s'", i, bad[i]);
		assert_int_equal(fm.n_hdr, 0);
		assert_int_equal(fm.shape_len, 0);
		assert_string_equal(fm.shape, "");
		assert_string_equal(fm.order, "");
		assert_true(fm.hash == 0);
		assert_int_equal(fm.method.len, 0);
	}
	assert_int_equal(af_fp_parse(NULL, 10, &fm), -1);
	/* the version's case does not matter, tabs before it are fine */
	assert_int_equal(parse("BYE sip:x sip/2.0\r\n\r\n", &fm), 0);
	assert_int_equal(parse("BYE sip:x\tSIP/2.0\r\n\r\n", &fm), 0);
}

static void test_malformed_header(void **state)
{
	static const char nul_name[] = "INVITE sip:x SIP/2.0\r\nTo: <sip:a@b>\r\n"
								   "Fr\0m: <sip:c@d>\r\n\r\n";
	af_fp_msg_t fm;

	assert_int_equal(parse("INVITE sip:x SIP/2.0\r\n"
						   "Via: SIP/2.0/UDP h;branch=z9hG4bKab\r\n"
						   "this is not a header\r\n"
						   "User-Agent: hidden\r\n"
						   "\r\n"
						   "v=0\r\no=u 1 1 IN IP4 h\r\n",
							 &fm),
			0);
	assert_int_equal(fm.n_hdr, 1);
	assert_string_equal(fm.order, "via");
	assert_str(fm.user_agent, "");
	assert_int_equal(fm.body_len, 0);
	assert_int_equal(fm.sdp, 0);
	assert_str(fm.sdp_o_user, "");
	/* an empty name, a name with a NUL, a colon-less last line */
	assert_int_equal(parse("INVITE sip:x SIP/2.0\r\nTo: <sip:a@b>\r\n: v\r\n"
						   "From: <sip:c@d>\r\n\r\n",
							 &fm),
			0);
	assert_string_equal(fm.order, "to");
	assert_int_equal(af_fp_parse(nul_name, sizeof(nul_name) - 1, &fm), 0);
	assert_string_equal(fm.order, "to");
	assert_int_equal(
			parse("INVITE sip:x SIP/2.0\r\nTo: <sip:a@b>\r\nFrom", &fm), 0);
	assert_string_equal(fm.order, "to");
	/* "Name : value" is a header (space before the colon) */
	assert_int_equal(parse("INVITE sip:x SIP/2.0\r\nTo : <sip:a@b>\r\n\r\n",
							 &fm),
			0);
	assert_str(fm.to_user, "a");
	/* a line of spaces is a continuation, not the blank line */
	assert_int_equal(
			parse("INVITE sip:x SIP/2.0\r\nTo: <sip:a@b>\r\n  \r\nl: 1\r\n"
				  "\r\nX",
					&fm),
			0);
	assert_string_equal(fm.order, "to,content-length");
	assert_int_equal(fm.body_len, 1);
}

static void test_name_addr(void **state)
{
	static const struct {
		const char *value;
		const char *display, *user, *tag;
	} cases[] = {
			{"\"Alice \\\"the\\\" Liddell\" <sip:alice@a.example>;tag=88",
					"Alice \\\"the\\\" Liddell", "alice", "88"},
			{"\"\" <sip:anon@a>;tag=t", "", "anon", "t"},
			{"Bob   Smith<sip:bob@b>", "Bob   Smith", "bob", ""},
			{"<sip:carol@c;transport=udp;tag=inuri>;tag=out", "", "carol",
					"out"},
			{"sip:dave@d;tag=abc", "", "dave", "abc"},
			{"sip:dave@d ; tag = abc ; x", "", "dave", "abc"},
			{"<tel:+15551234567;phone-context=example.com>;tag=9", "",
					"+15551234567", "9"},
			{"tel:+4930123;tag=x", "", "+4930123", "x"},
			{"<sips:eve:secret@e:5061>", "", "eve", ""},
			{"<SIP:Frank@f>", "", "Frank", ""},
			{"<sip:+1-555;npdi@g;user=phone>;tag=1", "", "+1-555", "1"},
			{"<sip:h.example.com>;tag=2", "", "", "2"},
			{"<mailto:i@j>;tag=3", "", "", "3"},
			{"\"unterminated <sip:k@l>;tag=4", "unterminated <sip:k@l>;tag=4",
					"", ""},
			{"\"no uri\";tag=5", "no uri", "", ""},
			{"<sip:m@n;tag=6", "", "m", ""},
			{"name <", "name", "", ""},
			{";tag=7", "", "", "7"},
			{"<sip:o@p>;tag", "", "o", ""},
			{"<sip:o@p>;tag=\"q\";x", "", "o", "\"q\""},
	};
	char msg[512];
	af_fp_msg_t fm;
	size_t i;

	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(msg, sizeof(msg),
				"INVITE sip:x SIP/2.0\r\nFrom: %s\r\nTo: %s\r\n\r\n",
				cases[i].value, cases[i].value);
		assert_int_equal(parse(msg, &fm), 0);
		if(fm.from_display.len != strlen(cases[i].display)
				|| memcmp(fm.from_display.s, cases[i].display,
						   fm.from_display.len)
				|| fm.from_user.len != strlen(cases[i].user)
				|| memcmp(fm.from_user.s, cases[i].user, fm.from_user.len)
				|| fm.from_tag.len != strlen(cases[i].tag)
				|| memcmp(fm.from_tag.s, cases[i].tag, fm.from_tag.len))
			fail_msg("case %zu '%s': display '%.*s' user '%.*s' tag '%.*s'", i,
					cases[i].value, (int)fm.from_display.len,
					fm.from_display.s, (int)fm.from_user.len, fm.from_user.s,
					(int)fm.from_tag.len, fm.from_tag.s);
		assert_int_equal(fm.to_display.len, fm.from_display.len);
		assert_int_equal(fm.to_user.len, fm.from_user.len);
	}
}

static void test_via_branch(void **state)
{
	af_fp_msg_t fm;

	/* two vias in one header: the first one's branch */
	assert_int_equal(parse("ACK sip:x SIP/2.0\r\n"
						   "Via: SIP/2.0/UDP [2001:db8::1]:5060;rport,"
						   " SIP/2.0/UDP h;branch=z9hG4bKsecond\r\n"
						   "Via: SIP/2.0/UDP h;branch=z9hG4bKthird\r\n\r\n",
							 &fm),
			0);
	assert_str(fm.branch, "");
	assert_int_equal(parse("ACK sip:x SIP/2.0\r\n"
						   "v: SIP/2.0/UDP h;x=\"a;branch=no,\";branch=yes ,"
						   " SIP/2.0/UDP h;branch=z9hG4bKsecond\r\n\r\n",
							 &fm),
			0);
	assert_str(fm.branch, "yes");
	assert_int_equal(parse("ACK sip:x SIP/2.0\r\n"
						   "Via: SIP/2.0/UDP h;branch\r\n\r\n",
							 &fm),
			0);
	assert_str(fm.branch, "");
}

static void test_token_shape(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
			{"1234567890", "d10"},
			{"a84b4c76e66710@pc33.ex", "h14@a4.a2"},
			{"z9hG4bK-524287-1---x", "z9hG4bK-d6-d1---a1"},
			{"z9hG4bKabc123", "z9hG4bKh6"},
			{"z9hg4bk776", "a10"},
			{"DEADBEEF", "H8"},
			{"GHIJ12", "A6"},
			{"aBcD", "m4"},
			{"deadBEEF-0", "m8-d1"},
			{"abc", "h3"},
			{"xyz", "a3"},
			{"", ""},
			{"--..@@", "--..@@"},
			{"a\tb\x01\x80|", "h1?h1??|"},
			{"12 34", "d2 d2"},
	};
	char out[64];
	size_t i, n;

	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = af_fp_token_shape(cases[i].in, strlen(cases[i].in), out,
				sizeof(out));
		if(strcmp(out, cases[i].out) != 0)
			fail_msg("'%s' -> '%s', expected '%s'", cases[i].in, out,
					cases[i].out);
		assert_int_equal(n, strlen(cases[i].out));
	}
	/* bounded: a run is written whole or not at all */
	n = af_fp_token_shape("ab-1234567890", 13, out, 6);
	assert_string_equal(out, "h2-");
	assert_int_equal(n, 3);
	n = af_fp_token_shape("ab-1234567890", 13, out, 7);
	assert_string_equal(out, "h2-d10");
	n = af_fp_token_shape("z9hG4bK1", 8, out, 4);
	assert_string_equal(out, "z9h");
	n = af_fp_token_shape("abc", 3, out, 1);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	out[0] = 'x';
	assert_int_equal(af_fp_token_shape("abc", 3, out, 0), 0);
	assert_int_equal(out[0], 'x');
}

static void test_oversize(void **state)
{
	size_t cap = 64 * 1024, len = 0, vlen;
	af_fp_msg_t fm;
	char *msg, *v;
	int i;

	msg = malloc(cap);
	assert_non_null(msg);
	/* 100 headers: 48 kept, all counted, features from all */
	len += (size_t)snprintf(msg + len, cap - len, "INVITE sip:x SIP/2.0\r\n");
	for(i = 0; i < 100; i++)
		len += (size_t)snprintf(msg + len, cap - len,
				"X-Padding-Header-Number-%03d: %d\r\n", i, i);
	len += (size_t)snprintf(msg + len, cap - len,
			"User-Agent: late\r\n\r\n");
	assert_int_equal(af_fp_parse(msg, len, &fm), 0);
	assert_int_equal(fm.n_hdr, AF_FP_HDR_MAX);
	assert_int_equal(fm.n_hdr_total, 101);
	assert_str(fm.user_agent, "late");
	assert_str(fm.hdr[AF_FP_HDR_MAX - 1].name, "X-Padding-Header-Number-047");
	assert_true(fm.order_len < AF_FP_ORDER_MAX);
	assert_int_equal(fm.order_len, strlen(fm.order));
	/* whole names only: 18 of 28 bytes, and commas */
	assert_int_equal(fm.order_len, 18 * 28 - 1);
	assert_string_equal(fm.order + fm.order_len - 27,
			"x-padding-header-number-017");
	assert_true(fm.shape_len == AF_FP_SHAPE_MAX - 1);
	assert_int_equal(fm.shape_len, strlen(fm.shape));
	assert_true(fm.hash == fnv1a(fm.shape, fm.shape_len));

	/* a 10 kB Call-ID and User-Agent, and a 10 kB SDP s= line */
	vlen = 10 * 1024;
	v = malloc(vlen + 1);
	assert_non_null(v);
	for(i = 0; i < (int)vlen; i++)
		v[i] = "abcdefghij-"[i % 11];
	v[vlen] = '\0';
	len = (size_t)snprintf(msg, cap,
			"INVITE sip:x SIP/2.0\r\nCall-ID: %s\r\nUser-Agent: %s\r\n"
			"Content-Length: %zu\r\n\r\nv=0\r\ns=%s\r\n",
			v, v, vlen + 9, v);
	assert_int_equal(af_fp_parse(msg, len, &fm), 0);
	assert_int_equal(fm.call_id.len, vlen);
	assert_int_equal(fm.user_agent.len, vlen);
	assert_int_equal(fm.sdp_s.len, vlen);
	assert_int_equal(fm.content_length, (long)vlen + 9);
	assert_int_equal(fm.body_len, vlen + 9);
	assert_string_equal(fm.order, "call-id,user-agent,content-length");
	assert_true(fm.shape_len <= AF_FP_SHAPE_MAX - 1);
	assert_int_equal(fm.shape_len, strlen(fm.shape));
	assert_true(strncmp(fm.shape, "INVITE|call-id,user-agent,content-length"
								  "|a10-a10-a10-",
						53)
				== 0);
	free(v);
	free(msg);
}

/*
 * Every prefix of a message, each in a buffer of exactly its size (ASan
 * catches a read past the end), parses or is refused, and never holds
 * a pointer outside the buffer.
 */
static void test_truncated(void **state)
{
	const char *full = compact_invite;
	size_t len = strlen(full), cut, i;
	af_fp_msg_t fm;
	char *buf;
	int rc;

	for(cut = 0; cut <= len; cut++) {
		buf = malloc(cut ? cut : 1);
		assert_non_null(buf);
		memcpy(buf, full, cut);
		rc = af_fp_parse(buf, cut, &fm);
		if(cut < strlen("INVITE sip:bob@example.com SIP/"))
			assert_int_equal(rc, -1);
		else
			assert_int_equal(rc, 0);
		for(i = 0; i < (size_t)fm.n_hdr; i++) {
			assert_true(fm.hdr[i].name.s >= buf);
			assert_true(fm.hdr[i].value.s + fm.hdr[i].value.len <= buf + cut);
		}
		if(fm.call_id.len)
			assert_true(fm.call_id.s + fm.call_id.len <= buf + cut);
		if(fm.sdp_s.len)
			assert_true(fm.sdp_s.s + fm.sdp_s.len <= buf + cut);
		assert_true(fm.shape_len < AF_FP_SHAPE_MAX);
		free(buf);
	}
}

/* A cheap generator of garbage: a xorshift over a fixed seed. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_garbage(void **state)
{
	static const char alphabet[] = "\r\n :;,<>\"\\@=\t-aZ9z";
	af_fp_msg_t fm;
	uint32_t seed = 12345;
	size_t len, i, base = strlen(svmap_options);
	char *buf;
	int round;

	for(round = 0; round < 20000; round++) {
		len = rnd(&seed) % 700;
		buf = malloc(len ? len : 1);
		assert_non_null(buf);
		if(round & 1) {
			/* a real message with bytes flipped */
			for(i = 0; i < len; i++)
				buf[i] = svmap_options[i % base];
			for(i = 0; len && i < 1 + rnd(&seed) % 8; i++)
				buf[rnd(&seed) % len] = (char)(rnd(&seed) & 0xff);
		} else {
			memcpy(buf, "OPTIONS sip:x SIP/2.0\r\n", len < 23 ? len : 23);
			for(i = 23; i < len; i++)
				buf[i] = alphabet[rnd(&seed) % (sizeof(alphabet) - 1)];
		}
		af_fp_parse(buf, len, &fm);
		assert_true(fm.shape_len < AF_FP_SHAPE_MAX);
		assert_true(fm.order_len < AF_FP_ORDER_MAX);
		assert_int_equal(strlen(fm.shape), fm.shape_len);
		assert_true(fm.n_hdr <= AF_FP_HDR_MAX);
		free(buf);
	}
}

static void test_shape_function(void **state)
{
	af_fp_msg_t fm, fm2;

	/* af_fp_shape() is a function of the features: called again, the
	 * same; features changed, another hash */
	assert_int_equal(parse(svmap_options, &fm), 0);
	fm2 = fm;
	af_fp_shape(&fm2);
	assert_string_equal(fm2.shape, fm.shape);
	assert_true(fm2.hash == fm.hash);
	fm2.call_id.s = "abc";
	fm2.call_id.len = 3;
	af_fp_shape(&fm2);
	assert_true(fm2.hash != fm.hash);
	assert_non_null(strstr(fm2.shape, "|h3|"));
	/* the User-Agent is not part of the shape: a renamed tool is the
	 * same shape */
	{
		char renamed[sizeof(svmap_options) + 16];
		char *p;

		snprintf(renamed, sizeof(renamed), "%s", svmap_options);
		p = strstr(renamed, "friendly-scanner");
		memcpy(p, "Yealink SIP-T4X", 15);
		p[15] = ' ';
		assert_int_equal(parse(renamed, &fm2), 0);
		assert_true(fm2.hash == fm.hash);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_svmap),
			cmocka_unit_test(test_compact_lf_sdp),
			cmocka_unit_test(test_case_and_repeats),
			cmocka_unit_test(test_compact_names),
			cmocka_unit_test(test_folded),
			cmocka_unit_test(test_missing),
			cmocka_unit_test(test_not_requests),
			cmocka_unit_test(test_malformed_header),
			cmocka_unit_test(test_name_addr),
			cmocka_unit_test(test_via_branch),
			cmocka_unit_test(test_token_shape),
			cmocka_unit_test(test_oversize),
			cmocka_unit_test(test_truncated),
			cmocka_unit_test(test_garbage),
			cmocka_unit_test(test_shape_function),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
