/*
 * antifraud - reading the rule file and the files it names: regular
 * files only, opened without blocking, bounded by a limit per kind; and
 * the escaping of what error messages quote.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "af_file.h"

#define AF_MIB (1024ull * 1024ull)
#define AF_FILE_LIMIT_MAX_MIB 1048576ull /* 1 TiB: any more is a typo */

static const char *const af_file_names[AF_FILE__COUNT] = {
	[AF_FILE_RULES] = "rule file",
	[AF_FILE_SIGNATURES] = "signature file",
	[AF_FILE_LIST] = "ip list",
	[AF_FILE_NUMPLAN] = "number plan",
	[AF_FILE_GEOIP] = "GeoIP database",
};

/* the names af_file_limits_parse() reads */
static const char *const af_file_keys[AF_FILE__COUNT] = {
	[AF_FILE_RULES] = "rules",
	[AF_FILE_SIGNATURES] = "signatures",
	[AF_FILE_LIST] = "list",
	[AF_FILE_NUMPLAN] = "numplan",
	[AF_FILE_GEOIP] = "geoip",
};

/* the limits in bytes; set before the workers fork */
static uint64_t af_file_limits[AF_FILE__COUNT] = {
	[AF_FILE_RULES] = 1 * AF_MIB,
	[AF_FILE_SIGNATURES] = 1 * AF_MIB,
	[AF_FILE_LIST] = 64 * AF_MIB,
	[AF_FILE_NUMPLAN] = 64 * AF_MIB,
	[AF_FILE_GEOIP] = 4096 * AF_MIB,
};

const char *af_file_kind_name(af_file_kind_t k)
{
	return (unsigned)k < AF_FILE__COUNT ? af_file_names[k] : "file";
}

uint64_t af_file_limit(af_file_kind_t k)
{
	return (unsigned)k < AF_FILE__COUNT ? af_file_limits[k] : 0;
}

int af_file_limits_parse(const char *spec, char *err, size_t errlen)
{
	uint64_t v[AF_FILE__COUNT];
	unsigned long long mib;
	const char *p, *eq, *end;
	char *num_end;
	size_t klen;
	int k;

	memcpy(v, af_file_limits, sizeof(v));
	for(p = spec; p && *p; p = *end ? end + 1 : end) {
		end = strchr(p, ',');
		if(!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if(!eq)
			goto bad;
		klen = (size_t)(eq - p);
		for(k = 0; k < AF_FILE__COUNT; k++) {
			if(strlen(af_file_keys[k]) == klen
					&& memcmp(af_file_keys[k], p, klen) == 0)
				break;
		}
		if(k == AF_FILE__COUNT || eq[1] < '0' || eq[1] > '9')
			goto bad;
		errno = 0;
		mib = strtoull(eq + 1, &num_end, 10);
		if(errno || num_end != end || mib < 1 || mib > AF_FILE_LIMIT_MAX_MIB)
			goto bad;
		v[k] = (uint64_t)mib * AF_MIB;
	}
	memcpy(af_file_limits, v, sizeof(v));
	return 0;

bad:
	if(err && errlen)
		snprintf(err, errlen,
				"file size limits: expected kind=MiB[,kind=MiB...] with kinds"
				" rules, signatures, list, numplan, geoip and 1..%llu MiB",
				AF_FILE_LIMIT_MAX_MIB);
	return -1;
}

/* Names the type of file mode m for messages. */
static const char *af_file_type(mode_t m)
{
	if(S_ISDIR(m))
		return "a directory";
	if(S_ISFIFO(m))
		return "a FIFO";
	if(S_ISCHR(m))
		return "a character device";
	if(S_ISBLK(m))
		return "a block device";
	if(S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* Writes "<kind> '<path>': " and the message into err; returns -1. */
static int af_file_err(const char *path, af_file_kind_t k, char *err,
		size_t errlen, const char *fmt, ...)
		__attribute__((format(printf, 5, 6)));

static int af_file_err(const char *path, af_file_kind_t k, char *err,
		size_t errlen, const char *fmt, ...)
{
	char shown[512];
	va_list ap;
	int n;

	if(!err || errlen == 0)
		return -1;
	af_text_escape_max(shown, sizeof(shown), path, strlen(path), 256);
	n = snprintf(err, errlen, "%s '%s': ", af_file_kind_name(k), shown);
	if(n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Opens path for reading without blocking and checks it as
 * af_file_check() says. Returns the descriptor, or -1 with the error set.
 */
static int af_file_open(const char *path, af_file_kind_t k, uint64_t *size,
		char *err, size_t errlen)
{
	struct stat st;
	uint64_t lim = af_file_limit(k);
	int fd, e;

	if(!path || !*path) {
		if(err && errlen)
			snprintf(err, errlen, "%s: no file name", af_file_kind_name(k));
		return -1;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if(fd < 0)
		return af_file_err(path, k, err, errlen, "%s", strerror(errno));
	if(fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return af_file_err(path, k, err, errlen, "%s", strerror(e));
	}
	if(!S_ISREG(st.st_mode)) {
		close(fd);
		return af_file_err(path, k, err, errlen, "%s, not a regular file",
				af_file_type(st.st_mode));
	}
	if((uint64_t)st.st_size > lim) {
		close(fd);
		return af_file_err(path, k, err, errlen,
				"%llu bytes, larger than the limit of %llu MiB",
				(unsigned long long)st.st_size,
				(unsigned long long)(lim / AF_MIB));
	}
	if(k == AF_FILE_GEOIP && st.st_size == 0) {
		close(fd);
		return af_file_err(
				path, k, err, errlen, "empty file, not a MaxMind DB file");
	}
	if(size)
		*size = (uint64_t)st.st_size;
	return fd;
}

int af_file_check(const char *path, af_file_kind_t k, uint64_t *size,
		char *err, size_t errlen)
{
	int fd = af_file_open(path, k, size, err, errlen);

	if(fd < 0)
		return -1;
	close(fd);
	return 0;
}

int af_file_read(const char *path, af_file_kind_t k, char **data,
		size_t *len, char *err, size_t errlen)
{
	uint64_t size, lim = af_file_limit(k);
	size_t cap, n = 0, more;
	char *buf, *grown;
	ssize_t got;
	int fd, e;

	*data = NULL;
	*len = 0;
	fd = af_file_open(path, k, &size, err, errlen);
	if(fd < 0)
		return -1;
	/* the size may change while read: one byte more shows growth */
	cap = (size_t)size + 1;
	buf = malloc(cap + 1);
	if(!buf)
		goto oom;
	for(;;) {
		if(n == cap) {
			if((uint64_t)n > lim) {
				free(buf);
				close(fd);
				return af_file_err(path, k, err, errlen,
						"grew past the limit of %llu MiB while read",
						(unsigned long long)(lim / AF_MIB));
			}
			more = cap < (size_t)lim + 1 - cap ? cap : (size_t)lim + 1 - cap;
			grown = realloc(buf, cap + more + 1);
			if(!grown)
				goto oom;
			buf = grown;
			cap += more;
		}
		got = read(fd, buf + n, cap - n);
		if(got < 0 && errno == EINTR)
			continue;
		if(got < 0) {
			e = errno;
			free(buf);
			close(fd);
			return af_file_err(path, k, err, errlen, "%s", strerror(e));
		}
		if(got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if((uint64_t)n > lim) {
		free(buf);
		return af_file_err(path, k, err, errlen,
				"grew past the limit of %llu MiB while read",
				(unsigned long long)(lim / AF_MIB));
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;

oom:
	free(buf);
	close(fd);
	return af_file_err(path, k, err, errlen, "out of memory");
}
