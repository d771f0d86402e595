/*
 * antifraud - the Redis store's URLs: redis://, unix:// (redis+unix://),
 * sentinel:// and redis-cluster://, parsed into an af_redis_cfg_t.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_store_redis_int.h"

/* ---- URLs ---- */

/* The value of hex digit ch, -1 when it is not one. */
static int url_hex(char ch)
{
	if(ch >= '0' && ch <= '9')
		return ch - '0';
	if(ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if(ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Copies s[0..len) percent-decoded into out (size outlen, NUL-terminated).
 * Returns 0, -1 when a %XX is malformed, decodes to NUL or out is too
 * small.
 */
static int url_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;
	int hi, lo;

	for(i = 0; i < len; i++) {
		if(o + 1 >= outlen)
			return -1;
		if(s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if(i + 2 >= len)
			return -1;
		hi = url_hex(s[i + 1]);
		lo = url_hex(s[i + 2]);
		if(hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	if(outlen == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* Parses a db number s[0..len) into *db; 0, -1 when not a number. */
static int url_db(const char *s, size_t len, int *db)
{
	long v = 0;
	size_t i;

	if(len == 0 || len > 7)
		return -1;
	for(i = 0; i < len; i++) {
		if(s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if(v > RDS_DB_MAX)
		return -1;
	*db = (int)v;
	return 0;
}

/*
 * Splits the user info off s[0..*len) (up to its last '@'): "[user]:pass"
 * into c's username and password, percent-decoded; s and len move past
 * it. Returns 0 (also when there is none), -1 with err.
 */
static int url_userinfo(const char **s, size_t *len, af_redis_cfg_t *c,
		char *err, size_t errlen)
{
	const char *at = NULL, *colon, *p;

	for(p = *s; p < *s + *len; p++)
		if(*p == '@')
			at = p;
	if(!at)
		return 0;
	colon = memchr(*s, ':', (size_t)(at - *s));
	if(!colon) {
		af_rds_err(err, errlen, "the user info must be [user]:password");
		return -1;
	}
	if(url_decode(*s, (size_t)(colon - *s), c->username, sizeof(c->username))
			< 0) {
		af_rds_err(err, errlen, "bad or too long user name");
		return -1;
	}
	if(url_decode(colon + 1, (size_t)(at - colon - 1), c->password,
			   sizeof(c->password))
			< 0) {
		af_rds_err(err, errlen, "bad or too long password");
		return -1;
	}
	*len -= (size_t)(at + 1 - *s);
	*s = at + 1;
	return 0;
}

/* The redis:// part after the scheme: [[user]:password@]host[:port][/db] */
static int url_redis(const char *s, size_t len, af_redis_cfg_t *c, char *err,
		size_t errlen)
{
	const char *slash;
	size_t hl;
	int port;

	if(url_userinfo(&s, &len, c, err, errlen) < 0)
		return -1;
	slash = memchr(s, '/', len);
	hl = slash ? (size_t)(slash - s) : len;
	if(hl == 0) {
		af_rds_err(err, errlen, "missing host");
		return -1;
	}
	if(memchr(s, '?', len)) {
		af_rds_err(err, errlen, "unexpected '?' in a redis:// URL");
		return -1;
	}
	if(af_rds_split_hostport(s, hl, c->host, sizeof(c->host), &port,
			   c->port ? c->port : RDS_DEF_PORT)
			< 0) {
		af_rds_err(err, errlen, "bad host or port '%.*s'", (int)hl, s);
		return -1;
	}
	c->port = (uint16_t)port;
	if(slash && (size_t)(s + len - slash) > 1
			&& url_db(slash + 1, (size_t)(s + len - slash - 1), &c->db) < 0) {
		af_rds_err(err, errlen, "db is not a number: '%.*s'",
				(int)(s + len - slash - 1), slash + 1);
		return -1;
	}
	c->unix_path[0] = '\0';
	c->n_sentinels = 0;
	c->n_seeds = 0;
	return 0;
}

/* The unix:// part after the scheme: /path[?db=N] */
static int url_unix(const char *s, size_t len, af_redis_cfg_t *c, char *err,
		size_t errlen)
{
	const char *q = memchr(s, '?', len);
	size_t pl = q ? (size_t)(q - s) : len;

	if(pl == 0 || s[0] != '/') {
		af_rds_err(err, errlen, "the socket path must be absolute");
		return -1;
	}
	if(pl >= sizeof(c->unix_path)) {
		af_rds_err(err, errlen, "socket path too long");
		return -1;
	}
	if(q) {
		if(len - pl < 4 || strncmp(q, "?db=", 4) != 0) {
			af_rds_err(err, errlen, "unknown parameter '%.*s' (only db=N)",
					(int)(len - pl - 1), q + 1);
			return -1;
		}
		if(url_db(q + 4, len - pl - 4, &c->db) < 0) {
			af_rds_err(err, errlen, "db is not a number: '%.*s'",
					(int)(len - pl - 4), q + 4);
			return -1;
		}
	}
	memcpy(c->unix_path, s, pl);
	c->unix_path[pl] = '\0';
	c->host[0] = '\0';
	c->n_sentinels = 0;
	c->n_seeds = 0;
	return 0;
}

/*
 * Parses the comma-separated addresses s[0..end) into out (at most max,
 * each "host:port" or "[v6]:port", def_port when absent). what names them
 * in errors. Returns their count, -1 with err.
 */
static int url_hosts(const char *s, const char *end, char (*out)[272],
		int max, int def_port, const char *what, char *err, size_t errlen)
{
	const char *p, *comma;
	char host[256];
	size_t hl;
	int port, n = 0;

	for(p = s; p <= end; p = comma + 1) {
		comma = memchr(p, ',', (size_t)(end - p));
		if(!comma)
			comma = end;
		hl = (size_t)(comma - p);
		if(hl == 0) {
			af_rds_err(err, errlen, "missing %s address", what);
			return -1;
		}
		if(n == max) {
			af_rds_err(err, errlen, "more than %d %s addresses", max, what);
			return -1;
		}
		if(af_rds_split_hostport(p, hl, host, sizeof(host), &port, def_port)
				< 0) {
			af_rds_err(err, errlen, "bad %s host or port '%.*s'", what,
					(int)hl, p);
			return -1;
		}
		snprintf(out[n], sizeof(out[n]),
				strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
		n++;
	}
	return n;
}

/* The sentinel:// part: [[user]:password@]host:port[,...]/master[/db] */
static int url_sentinel(const char *s, size_t len, af_redis_cfg_t *c,
		char *err, size_t errlen)
{
	const char *slash, *mn, *db;
	size_t ml;
	int n;

	if(url_userinfo(&s, &len, c, err, errlen) < 0)
		return -1;
	slash = memchr(s, '/', len);
	if(!slash || slash + 1 == s + len) {
		af_rds_err(err, errlen, "missing master name");
		return -1;
	}
	n = url_hosts(s, slash, c->sentinels, AF_REDIS_SENTINELS_MAX,
			RDS_DEF_SENTINEL_PORT, "sentinel", err, errlen);
	if(n < 0)
		return -1;
	mn = slash + 1;
	db = memchr(mn, '/', (size_t)(s + len - mn));
	ml = db ? (size_t)(db - mn) : (size_t)(s + len - mn);
	if(ml == 0) {
		af_rds_err(err, errlen, "missing master name");
		return -1;
	}
	if(url_decode(mn, ml, c->master_name, sizeof(c->master_name)) < 0) {
		af_rds_err(err, errlen, "bad or too long master name");
		return -1;
	}
	if(db && (size_t)(s + len - db) > 1
			&& url_db(db + 1, (size_t)(s + len - db - 1), &c->db) < 0) {
		af_rds_err(err, errlen, "db is not a number: '%.*s'",
				(int)(s + len - db - 1), db + 1);
		return -1;
	}
	c->n_sentinels = n;
	c->n_seeds = 0;
	c->host[0] = '\0';
	c->unix_path[0] = '\0';
	return 0;
}

/* The redis-cluster:// part: [[user]:password@]host:port[,...][/] (a
 * cluster has db 0 only) */
static int url_cluster(const char *s, size_t len, af_redis_cfg_t *c,
		char *err, size_t errlen)
{
	const char *end;
	int n;

	if(url_userinfo(&s, &len, c, err, errlen) < 0)
		return -1;
	end = memchr(s, '/', len);
	if(end && end + 1 != s + len) {
		af_rds_err(err, errlen,
				"a Redis Cluster has no db: nothing may follow the '/'");
		return -1;
	}
	if(!end)
		end = s + len;
	if(memchr(s, '?', (size_t)(end - s))) {
		af_rds_err(err, errlen, "unexpected '?' in a redis-cluster:// URL");
		return -1;
	}
	n = url_hosts(s, end, c->seeds, AF_REDIS_SEEDS_MAX, RDS_DEF_PORT,
			"cluster node", err, errlen);
	if(n < 0)
		return -1;
	c->n_seeds = n;
	c->n_sentinels = 0;
	c->db = 0;
	c->host[0] = '\0';
	c->unix_path[0] = '\0';
	return 0;
}

/*
 * Parses url into cfg (see af_store_redis.h); cfg is changed only when
 * the whole URL is good. Returns 0, -1 with a message in err.
 */
int af_redis_parse_url(const char *url, af_redis_cfg_t *cfg, char *err,
		size_t errlen)
{
	af_redis_cfg_t c;
	const char *sep;
	size_t sl, len;
	int rc;

	if(!url || !cfg) {
		af_rds_err(err, errlen, "no URL");
		return -1;
	}
	sep = strstr(url, "://");
	if(!sep) {
		af_rds_err(err, errlen, "not a URL: '%s'", url);
		return -1;
	}
	sl = (size_t)(sep - url);
	c = *cfg;
	len = strlen(sep + 3);
	if(sl == 5 && strncasecmp(url, "redis", 5) == 0)
		rc = url_redis(sep + 3, len, &c, err, errlen);
	else if((sl == 4 && strncasecmp(url, "unix", 4) == 0)
			|| (sl == 10 && strncasecmp(url, "redis+unix", 10) == 0))
		rc = url_unix(sep + 3, len, &c, err, errlen);
	else if(sl == 8 && strncasecmp(url, "sentinel", 8) == 0)
		rc = url_sentinel(sep + 3, len, &c, err, errlen);
	else if(sl == 13 && strncasecmp(url, "redis-cluster", 13) == 0)
		rc = url_cluster(sep + 3, len, &c, err, errlen);
	else {
		af_rds_err(err, errlen,
				"bad scheme '%.*s' (redis://, unix://, redis+unix://,"
				" sentinel://, redis-cluster://)",
				(int)sl, url);
		return -1;
	}
	if(rc == 0)
		*cfg = c;
	return rc;
}
