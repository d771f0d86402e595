/*
 * antifraud unit tests - alert suppression: repeats and the node-wide rate.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "af_alert.h"
#include "af_ip.h"
#include "host.h"

static void verdict(af_verdict_t *v, const char *check, int rc,
		af_reasons_t reasons)
{
	memset(v, 0, sizeof(*v));
	v->check = check;
	v->rc = rc;
	v->reasons = reasons;
}

static void request(af_request_t *req, const char *ip, const char *from)
{
	memset(req, 0, sizeof(*req));
	assert_int_equal(af_ip_parse(ip, strlen(ip), &req->src_ip), 0);
	req->from_user.s = from;
	req->from_user.len = strlen(from);
}

static void test_repeats_suppressed_then_counted(void **state)
{
	af_alert_cfg_t c = {.repeat_s = 10, .rate = 0, .burst = 1, .slots = 64};
	af_verdict_t v;
	af_request_t req;
	int i;

	assert_int_equal(af_alert_init(&c), 0);
	verdict(&v, "source", AF_RC_BLOCK, AF_REASON_BIT(AF_R_UNKNOWN_USER));
	request(&req, "192.0.2.1", "a");
	assert_int_equal(af_alert_admit(&v, &req, 1000), 1);
	assert_int_equal(v.suppressed, 0);
	/* a scanner's From user changes: still the same alert */
	for(i = 0; i < 5; i++) {
		request(&req, "192.0.2.1", i % 2 ? "x" : "y");
		assert_int_equal(af_alert_admit(&v, &req, 2000 + i), 0);
	}
	/* another source, another code or other reasons: other alerts */
	request(&req, "192.0.2.2", "a");
	assert_int_equal(af_alert_admit(&v, &req, 3000), 1);
	request(&req, "192.0.2.1", "a");
	v.rc = AF_RC_ALERT;
	assert_int_equal(af_alert_admit(&v, &req, 3000), 1);
	v.rc = AF_RC_BLOCK;
	v.reasons |= AF_REASON_BIT(AF_R_SCANNER);
	assert_int_equal(af_alert_admit(&v, &req, 3000), 1);
	/* after the interval the first one is raised with its repeats */
	v.reasons = AF_REASON_BIT(AF_R_UNKNOWN_USER);
	assert_int_equal(af_alert_admit(&v, &req, 11000), 1);
	assert_int_equal(v.suppressed, 5);
	assert_int_equal(af_alert_admit(&v, &req, 11001), 0);
	af_alert_destroy();
}

static void test_call_alerts_per_caller_and_number(void **state)
{
	af_alert_cfg_t c = {.repeat_s = 10, .rate = 0, .burst = 1, .slots = 64};
	af_verdict_t v;
	af_request_t req;

	assert_int_equal(af_alert_init(&c), 0);
	verdict(&v, "dest", AF_RC_BLOCK, AF_REASON_BIT(AF_R_DEST_PREMIUM));
	request(&req, "192.0.2.1", "alice");
	assert_int_equal(af_alert_admit(&v, &req, 1000), 1);
	/* another caller behind the same trunk: its own alert */
	request(&req, "192.0.2.1", "bob");
	assert_int_equal(af_alert_admit(&v, &req, 1000), 1);
	assert_int_equal(af_alert_admit(&v, &req, 1001), 0);
	af_alert_destroy();
}

static void test_rate_cap(void **state)
{
	af_alert_cfg_t c = {.repeat_s = 60, .rate = 2, .burst = 3, .slots = 1024};
	af_verdict_t v;
	af_request_t req;
	char ip[32];
	int i, raised = 0;

	assert_int_equal(af_alert_init(&c), 0);
	verdict(&v, "source", AF_RC_BLOCK, AF_REASON_BIT(AF_R_UNKNOWN_USER));
	/* 100 sources at one instant: the burst only */
	for(i = 0; i < 100; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i);
		request(&req, ip, "a");
		raised += af_alert_admit(&v, &req, 5000);
	}
	assert_int_equal(raised, 3);
	/* one second later, two more (the rate) */
	raised = 0;
	for(i = 100; i < 200; i++) {
		snprintf(ip, sizeof(ip), "198.51.101.%d", i - 100);
		request(&req, ip, "a");
		raised += af_alert_admit(&v, &req, 6000);
	}
	assert_int_equal(raised, 2);
	/* the report is logged once and resets */
	af_alert_timer(20000);
	af_alert_timer(20001);
	af_alert_destroy();
}

static void test_no_limits(void **state)
{
	af_alert_cfg_t c = {.repeat_s = 0, .rate = 0, .burst = 1, .slots = 16};
	af_verdict_t v;
	af_request_t req;
	int i;

	assert_int_equal(af_alert_init(&c), 0);
	verdict(&v, "source", AF_RC_ALERT, AF_REASON_BIT(AF_R_GEO_COUNTRY));
	request(&req, "2001:db8::1", "a");
	for(i = 0; i < 50; i++)
		assert_int_equal(af_alert_admit(&v, &req, 1000), 1);
	af_alert_destroy();
	/* without tables (not initialized) everything is raised */
	assert_int_equal(af_alert_admit(&v, &req, 1000), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_repeats_suppressed_then_counted),
			cmocka_unit_test(test_call_alerts_per_caller_and_number),
			cmocka_unit_test(test_rate_cap),
			cmocka_unit_test(test_no_limits),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
