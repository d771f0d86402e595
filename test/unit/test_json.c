/*
 * antifraud unit tests - $antifraud(json): escaping of every kind of
 * byte, UTF-8 repair, bounds (the worst request fits AF_JSON_MAX), and a
 * buffer too small giving nothing rather than half an object.
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
#include "af_json.h"
#include "host.h"

static char buf[AF_JSON_MAX];

static void set(af_str_t *d, const char *s, size_t len)
{
	d->s = s;
	d->len = len;
}

/* no raw control byte, and every '"' outside strings pairs up */
static void looks_like_json(const char *s, size_t len)
{
	size_t i;
	int in = 0, depth = 0;

	assert_int_equal(strlen(s), len);
	for(i = 0; i < len; i++) {
		assert_true((unsigned char)s[i] >= 0x20);
		if(in) {
			if(s[i] == '\\')
				i++;
			else if(s[i] == '"')
				in = 0;
			continue;
		}
		if(s[i] == '"')
			in = 1;
		else if(s[i] == '{' || s[i] == '[')
			depth++;
		else if(s[i] == '}' || s[i] == ']')
			depth--;
	}
	assert_int_equal(in, 0);
	assert_int_equal(depth, 0);
	assert_int_equal(s[0], '{');
	assert_int_equal(s[len - 1], '}');
}

static void test_fields_and_escapes(void **state)
{
	af_verdict_t v;
	af_request_t req;
	size_t n;
	static const char ua[] = "evil\"ua\\\r\n\t\x01\x7f caf\xc3\xa9 \xff\xfe end";

	memset(&v, 0, sizeof(v));
	memset(&req, 0, sizeof(req));
	v.rc = AF_RC_BLOCK;
	v.check = "source";
	v.reasons = AF_REASON_BIT(AF_R_UNKNOWN_USER)
				| AF_REASON_BIT(AF_R_GEO_COUNTRY);
	v.blocking = AF_REASON_BIT(AF_R_UNKNOWN_USER);
	snprintf(v.detail, sizeof(v.detail), "no user \"1\\0\" here");
	v.suppressed = 7;
	memcpy(v.geo.country, "KP", 3);
	v.geo.asn = 64500;
	v.banned = 1;
	snprintf(v.ban.reason, sizeof(v.ban.reason), "unknown_user");
	snprintf(v.fp_id, sizeof(v.fp_id), "af1-0123456789abcdef");
	snprintf(v.signatures, sizeof(v.signatures), "sig-a,sig-b");
	assert_int_equal(af_ip_parse("2001:db8::1", 11, &req.src_ip), 0);
	req.src_port = 5062;
	req.proto = AF_P_TCP;
	set(&req.method_name, "INVITE", 6);
	set(&req.user_agent, ua, sizeof(ua) - 1);
	set(&req.call_id, "abc@host", 8);

	n = af_alert_json(&v, &req, 1800000000123ull, buf, sizeof(buf));
	assert_true(n > 0);
	looks_like_json(buf, n);
	assert_non_null(strstr(buf, "\"time\":\"2027-01-15T08:00:00.123Z\""));
	assert_non_null(strstr(buf, "\"check\":\"source\",\"rc\":-2,"
								"\"action\":\"block\""));
	assert_non_null(strstr(buf,
			"\"reasons\":[\"unknown_user\",\"geo_country\"],"
			"\"blocking\":[\"unknown_user\"]"));
	assert_non_null(strstr(buf, "\"detail\":\"no user \\\"1\\\\0\\\" here\""));
	assert_non_null(strstr(buf, "\"suppressed\":7"));
	assert_non_null(strstr(buf, "\"banned\":true"));
	assert_non_null(strstr(buf, "\"ip\":\"2001:db8::1\",\"port\":5062,"
								"\"proto\":\"tcp\",\"country\":\"KP\""));
	assert_non_null(strstr(buf, "\"asn\":64500"));
	assert_non_null(strstr(buf,
			"\"user_agent\":\"evil\\\"ua\\\\\\r\\n\\t\\u0001\\u007f "
			"caf\xc3\xa9 \\ufffd\\ufffd end\""));
	assert_non_null(strstr(buf, "\"signatures\":[\"sig-a\",\"sig-b\"]"));
	/* no dest part for a source verdict */
	assert_null(strstr(buf, "\"dest\""));

	/* without a request: the verdict alone, still an object */
	n = af_alert_json(&v, NULL, 0, buf, sizeof(buf));
	assert_true(n > 0);
	looks_like_json(buf, n);
	assert_null(strstr(buf, "\"request\""));
}

static void test_bounds(void **state)
{
	static char worst[4096];
	af_verdict_t v;
	af_request_t req;
	size_t n, i;

	/* every string the worst it can be: control bytes and broken
	 * UTF-8, each expanding to six characters, longer than the bound */
	for(i = 0; i < sizeof(worst); i++)
		worst[i] = (char)(i % 2 ? 0x01 : 0xff);
	memset(&v, 0, sizeof(v));
	memset(&req, 0, sizeof(req));
	v.rc = AF_RC_ALERT;
	v.check = "dest";
	memset(v.detail, 0x02, sizeof(v.detail) - 1);
	memset(v.shape, 0x03, sizeof(v.shape) - 1);
	memset(v.signatures, 0x04, sizeof(v.signatures) - 1);
	snprintf(v.fp_id, sizeof(v.fp_id), "af1-0123456789abcdef");
	snprintf(v.dest.number, sizeof(v.dest.number), "+33123456789");
	memset(v.dest.profile, 0x05, sizeof(v.dest.profile) - 1);
	set(&req.method_name, worst, sizeof(worst));
	set(&req.ruri_user, worst, sizeof(worst));
	set(&req.ruri_host, worst, sizeof(worst));
	set(&req.from_user, worst, sizeof(worst));
	set(&req.from_host, worst, sizeof(worst));
	set(&req.to_user, worst, sizeof(worst));
	set(&req.auth_user, worst, sizeof(worst));
	set(&req.user_agent, worst, sizeof(worst));
	set(&req.call_id, worst, sizeof(worst));
	n = af_alert_json(&v, &req, 0, buf, sizeof(buf));
	assert_true(n > 0);
	looks_like_json(buf, n);
	/* cut strings say so */
	assert_non_null(strstr(buf, "...\""));
	assert_non_null(strstr(buf, "\"international\":false"));

	/* a buffer too small: nothing, never half an object */
	assert_int_equal(af_alert_json(&v, &req, 0, buf, 100), 0);
	assert_string_equal(buf, "");
	/* a character cut by the bound is dropped, not made U+FFFD */
	memset(worst, 'a', 255);
	worst[255] = (char)0xc3;
	worst[256] = (char)0xa9;
	set(&req.user_agent, worst, 257);
	memset(&req.call_id, 0, sizeof(req.call_id));
	n = af_alert_json(&v, &req, 0, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "aaaa...\""));
	assert_null(strstr(buf, "a\\ufffd...\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_and_escapes),
		cmocka_unit_test(test_bounds),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
