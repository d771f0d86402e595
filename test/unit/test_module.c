/*
 * antifraud unit tests - what both glues share below them: the verdict's
 * variables, what a reply says of credentials, the request's source and
 * SDP addresses, the module's parameters.
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
#include "af_module.h"
#include "af_request.h"
#include "af_var.h"
#include "host.h"

static void test_var_names(void **state)
{
	int i;

	for(i = 0; i < AF_VAR__COUNT; i++) {
		const char *n = af_var_name(i);
		assert_int_equal(af_var_id(n, strlen(n)), i);
	}
	assert_int_equal(af_var_lookup("reason", 6), AF_VAR_reason);
	assert_int_equal(af_var_lookup("redis", 5), AF_VAR_redis);
	assert_int_equal(af_var_lookup("reasons", 7), -1);
	assert_int_equal(af_var_lookup("rc", 1), -1); /* a prefix is not a name */
	assert_int_equal(af_var_lookup(NULL, 0), -1);
}

static void test_var_values(void **state)
{
	af_vars_t vars;
	af_value_t v;

	memset(&vars, 0, sizeof(vars));
	af_var_get(&vars, AF_VAR_rc, &v); /* no verdict yet: null */
	assert_false(v.is_int);
	assert_null(v.s);
	vars.v.check = "source";
	vars.v.rc = AF_RC_BLOCK;
	vars.v.reasons = AF_REASON_BIT(AF_R_UNKNOWN_USER)
					 | AF_REASON_BIT(AF_R_SCANNER);
	strcpy(vars.v.geo.country, "DE");
	af_vars_changed(&vars);
	af_var_get(&vars, AF_VAR_rc, &v);
	assert_true(v.is_int);
	assert_int_equal(v.n, AF_RC_BLOCK);
	af_var_get(&vars, AF_VAR_reason, &v);
	assert_string_equal(v.s, "unknown_user,scanner");
	af_var_get(&vars, AF_VAR_country, &v);
	assert_string_equal(v.s, "DE");
	af_var_get(&vars, AF_VAR_detail, &v); /* empty: null */
	assert_false(v.is_int);
	assert_null(v.s);
	af_var_get(&vars, AF_VAR_dest_class, &v); /* no number: null */
	assert_null(v.s);
	af_var_get(&vars, -1, &v);
	assert_null(v.s);
}

static void test_auth_outcome(void **state)
{
	static const char stale[] = "SIP/2.0 401 Unauthorized\r\n"
								"WWW-Authenticate: Digest realm=\"x\", "
								"nonce=\"n\", STALE=TRUE\r\n\r\n";

	assert_int_equal(af_module_auth_outcome(AF_M_REGISTER, 401, NULL, 0), 0);
	assert_int_equal(af_module_auth_outcome(AF_M_INVITE, 407, NULL, 0), 0);
	assert_int_equal(af_module_auth_outcome(AF_M_REGISTER, 401, stale,
							 sizeof(stale) - 1),
			-1);
	assert_int_equal(af_module_auth_outcome(AF_M_REGISTER, 403, NULL, 0), 0);
	assert_int_equal(af_module_auth_outcome(AF_M_INVITE, 403, NULL, 0), -1);
	assert_int_equal(af_module_auth_outcome(AF_M_INVITE, 180, NULL, 0), 1);
	assert_int_equal(af_module_auth_outcome(AF_M_REGISTER, 180, NULL, 0), -1);
	assert_int_equal(af_module_auth_outcome(AF_M_REGISTER, 200, NULL, 0), 1);
	assert_int_equal(af_module_auth_outcome(AF_M_INVITE, 486, NULL, 0), -1);
	assert_true(af_module_auth_code(401) && af_module_auth_code(183));
	assert_false(af_module_auth_code(100) || af_module_auth_code(404));
}

static void test_request_src(void **state)
{
	static const uint8_t v4[4] = {192, 0, 2, 7};
	static const uint8_t mapped[16] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 1};
	af_request_t req;
	char buf[AF_IP_STRLEN];

	memset(&req, 0, sizeof(req));
	af_request_set_src(&req, 0, v4, 5060);
	af_ip_format(&req.src_ip, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.7");
	assert_int_equal(req.src_port, 5060);
	af_request_set_src(&req, 1, mapped, 5061);
	af_ip_format(&req.src_ip, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.7");
	af_request_set_src(&req, 1, v6, 5062);
	af_ip_format(&req.src_ip, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1");
}

static void test_request_sdp(void **state)
{
	static const char body[] = "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\n"
							   "c=IN IP4 203.0.113.5/127\r\n"
							   "c=IN IP4 203.0.113.5\r\n"
							   "c=IN IP4 media.example\r\n"
							   "c=\r\n"
							   "c=IN IP6 2001:db8::2\n"
							   "m=audio 4000 RTP/AVP 0";
	af_request_t req;
	char buf[AF_IP_STRLEN];
	int i;

	memset(&req, 0, sizeof(req));
	req.method = AF_M_INVITE;
	assert_true(af_request_has_sdp(&req));
	af_request_sdp(&req, body, sizeof(body) - 1);
	assert_int_equal(req.sdp_ip_count, 3);
	af_ip_format(&req.sdp_ip[1], buf, sizeof(buf));
	assert_string_equal(buf, "203.0.113.5");
	af_ip_format(&req.sdp_ip[2], buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::2");
	/* bounded: never more than AF_SDP_IP_MAX, whatever the body */
	for(i = 0; i < 40; i++) {
		char line[64];
		snprintf(line, sizeof(line), "c=IN IP4 10.0.0.%d\r\n", i);
		af_request_sdp(&req, line, strlen(line));
	}
	assert_int_equal(req.sdp_ip_count, AF_SDP_IP_MAX);
	req.method = AF_M_REGISTER;
	assert_false(af_request_has_sdp(&req));
}

static void test_params(void **state)
{
	af_params_t p = AF_PARAMS_DEFAULT("/nonexistent/antifraud.yaml");
	char err[512];

	assert_int_equal(p.shm_entries, 131072);
	assert_string_equal(p.redis_prefix, "af:");
	assert_int_equal(af_module_param(&p, "config", "/tmp/x.yaml", NULL, err,
							 sizeof(err)),
			0);
	assert_string_equal(p.config, "/tmp/x.yaml");
	free(p.config);
	assert_int_equal(af_module_param(&p, "nosuch", "x", NULL, err,
							 sizeof(err)),
			-1);
	assert_int_equal(af_module_param(&p, "file_size_limits", "rules=0", NULL,
							 err, sizeof(err)),
			-1);
	/* a bad value is refused before the core starts */
	p.shm_stripes = 3;
	assert_int_equal(af_module_init(af_host, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "power of two"));
	p.shm_stripes = 64;
	p.redis = "redis://127.0.0.1:6379/0";
	p.redis_fallback = "maybe";
	assert_int_equal(af_module_init(af_host, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "redis_fallback"));
	p.redis_fallback = "local";
	p.redis_release_queue = -1;
	assert_int_equal(af_module_init(af_host, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "redis_release_queue must be 0 to 1000000"));
	p.redis_release_queue = AF_CLUSTER_RELEASE_QUEUE_MAX + 1;
	assert_int_equal(af_module_init(af_host, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "redis_release_queue"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_var_names),
			cmocka_unit_test(test_var_values),
			cmocka_unit_test(test_auth_outcome),
			cmocka_unit_test(test_request_src),
			cmocka_unit_test(test_request_sdp),
			cmocka_unit_test(test_params),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
