/*
 * antifraud unit tests - the test host.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "af_host.h"
#include "host.h"

static uint64_t fixed_now;
static long shm_live;

static void *t_shm_alloc(size_t size)
{
	void *p = malloc(size);
	if(p)
		__atomic_add_fetch(&shm_live, 1, __ATOMIC_RELAXED);
	return p;
}

static void t_shm_free(void *p)
{
	if(p)
		__atomic_sub_fetch(&shm_live, 1, __ATOMIC_RELAXED);
	free(p);
}

static uint64_t t_now_ms(void)
{
	struct timespec ts;

	if(fixed_now)
		return fixed_now;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int t_log_enabled(int level)
{
	return getenv("AF_TEST_VERBOSE") != NULL || level <= AF_L_ERR;
}

static void t_vlog(int level, const char *fmt, va_list ap)
{
	if(!t_log_enabled(level))
		return;
	vfprintf(stderr, fmt, ap);
}

static const af_host_t test_host = {
	.shm_alloc = t_shm_alloc,
	.shm_free = t_shm_free,
	.now_ms = t_now_ms,
	.vlog = t_vlog,
	.log_enabled = t_log_enabled,
};

void test_host_init(void)
{
	af_host_set(&test_host);
}

void test_host_set_now(uint64_t now_ms)
{
	fixed_now = now_ms;
}

void test_host_advance(uint64_t ms)
{
	fixed_now += ms;
}

long test_host_shm_live(void)
{
	return __atomic_load_n(&shm_live, __ATOMIC_RELAXED);
}

const char *test_write_file(const char *name, const char *text)
{
	static char path[512];
	static char dir[256];
	FILE *f;

	if(!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/af-unit-%d",
				getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
		mkdir(dir, 0700);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if(!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}
