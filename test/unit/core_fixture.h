/*
 * antifraud unit tests - the fixture of the tests that run the whole core
 * through af_core_init() (test_source.c, test_account.c, test_dest.c,
 * test_fingerprint.c): a rule file written per test, the core started on
 * it and stopped after it, the injected clock, and the check that a test
 * leaves no shared memory behind. Each test binary is one translation
 * unit, so the state below is that binary's own. Include after the C
 * headers, cmocka.h, af_core.h and host.h.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_TEST_CORE_FIXTURE_H
#define AF_TEST_CORE_FIXTURE_H

/* a time far from 0 (0 means the real clock) */
#define T0 1700000000000ULL
#define SEC 1000ULL

static char rules_path[512]; /* the rule file written last */
static char err[512];
static long shm_base; /* shm blocks live before the test */
static int core_up;   /* a core runs: stop() destroys it */

/* per test: the clock fixed at now_ms; the core is started by the test */
static inline int setup_at(uint64_t now_ms)
{
	shm_base = test_host_shm_live();
	test_host_set_now(now_ms);
	return 0;
}

/* setup_at T0; a test that needs another clock has its own setup */
static inline int setup(void **state)
{
	return setup_at(T0);
}

/* Stops the core; tests that start a second core call it in between. */
static inline void stop(void)
{
	if(core_up)
		af_core_destroy();
	core_up = 0;
}

/* per test: stops the core and checks that no shared memory is left */
static inline int teardown(void **state)
{
	stop();
	test_host_set_now(0);
	if(test_host_shm_live() != shm_base) {
		print_error("shared memory leak: %ld blocks live, %ld before\n",
				test_host_shm_live(), shm_base);
		return -1;
	}
	return 0;
}

static inline af_str_t S(const char *s)
{
	af_str_t r = {s, s ? strlen(s) : 0};

	return r;
}

static inline af_ip_t IP(const char *s)
{
	af_ip_t ip;

	if(af_ip_parse(s, strlen(s), &ip) < 0)
		fail_msg("bad address in test: %s", s);
	return ip;
}

/*
 * An initial request m named method from src (UDP, port 5060), From
 * fuser@fhost, To ruser@rhost and the R-URI the same (NULL strings are
 * empty), User-Agent "test", Call-ID call-1@test.
 */
static inline af_request_t fixture_req(af_method_t m, const char *method,
		const char *src, const char *ruser, const char *rhost,
		const char *fuser, const char *fhost)
{
	af_request_t r;

	memset(&r, 0, sizeof(r));
	r.src_ip = IP(src);
	r.src_port = 5060;
	r.proto = AF_P_UDP;
	r.method = m;
	r.method_name = S(method);
	r.initial = 1;
	r.ruri_user = S(ruser);
	r.ruri_host = S(rhost);
	r.from_user = S(fuser);
	r.from_host = S(fhost);
	r.to_user = S(ruser);
	r.to_host = S(rhost);
	r.user_agent = S("test");
	r.call_id = S("call-1@test");
	return r;
}

/*
 * Builds the GeoIP database out (in TMPDIR, as name) from map with
 * mkgeo.pl; returns 0 or -1. Run from the repository's top, where the
 * tests run.
 */
static inline int build_db(const char *map, char *out, size_t outlen,
		const char *name)
{
	char cmd[1536];
	const char *tmp = getenv("TMPDIR");

	snprintf(out, outlen, "%s/%s", tmp ? tmp : "/tmp", name);
	snprintf(cmd, sizeof(cmd), "perl test/data/mkgeo.pl '%s' '%s'", out, map);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text as the rule file; the path stays in rules_path. */
static inline void write_rules_text(const char *text)
{
	const char *p = test_write_file("rules.yaml", text);

	assert_non_null(p);
	snprintf(rules_path, sizeof(rules_path), "%s", p);
}

/*
 * Writes the rule file: "version: 1", a geoip section naming db (for
 * both country and ASN data) unless db is NULL, then body.
 */
static inline void write_rules_db(const char *db, const char *body)
{
	char text[8192];

	if(db)
		snprintf(text, sizeof(text),
				"version: 1\ngeoip:\n  country_db: '%s'\n  asn_db: '%s'\n%s",
				db, db, body);
	else
		snprintf(text, sizeof(text), "version: 1\n%s", body);
	write_rules_text(text);
}

/* Starts the core with cfg; a failure fails the test with init's error. */
static inline void start_cfg(const af_core_cfg_t *cfg)
{
	if(af_core_init(cfg, err, sizeof(err)) != 0)
		fail_msg("af_core_init: %s", err);
	core_up = 1;
}

/* Starts the core on rules_path, refusing reloads closer than
 * reload_min_s; the store is large enough for every test's keys. */
static inline void start_rules(uint32_t reload_min_s)
{
	af_core_cfg_t cfg = {.shm_entries = 4096, .shm_stripes = 8};

	cfg.rules_path = rules_path;
	cfg.reload_min_s = reload_min_s;
	start_cfg(&cfg);
}

/* Writes the rules with GeoIP database db (body NULL: keeps those
 * written last) and starts the core on them. */
static inline void start_db(const char *db, const char *body,
		uint32_t reload_min_s)
{
	if(body)
		write_rules_db(db, body);
	start_rules(reload_min_s);
}

#endif
