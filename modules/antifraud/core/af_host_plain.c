/*
 * antifraud - the plain host (af_host_plain.h): malloc, the real or a
 * fixed clock, stderr.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "af_host.h"
#include "af_host_plain.h"

static uint64_t plain_fixed_now;
static long plain_live;
static int plain_level = AF_L_WARN;
static const char *plain_prefix;
static int plain_tags;

static const char *const plain_level_tags[] = {
	[AF_L_ERR] = "error: ",
	[AF_L_WARN] = "warning: ",
	[AF_L_NOTICE] = "notice: ",
	[AF_L_INFO] = "info: ",
	[AF_L_DBG] = "debug: ",
};

/* malloc, counting the blocks out */
static void *plain_alloc(size_t size)
{
	void *p = malloc(size);

	if(p)
		__atomic_add_fetch(&plain_live, 1, __ATOMIC_RELAXED);
	return p;
}

/* free, counting the blocks back */
static void plain_free(void *p)
{
	if(p)
		__atomic_sub_fetch(&plain_live, 1, __ATOMIC_RELAXED);
	free(p);
}

/* the fixed clock when set, else the real one */
static uint64_t plain_now_ms(void)
{
	struct timespec ts;

	if(plain_fixed_now)
		return plain_fixed_now;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* whether level is logged */
static int plain_enabled(int level)
{
	return level <= plain_level;
}

/* one line on stderr: the prefix, the level when tagged, the message, a
 * newline if it has none */
static void plain_vlog(int level, const char *fmt, va_list ap)
{
	size_t n;

	if(!fmt || !plain_enabled(level))
		return;
	n = strlen(fmt);
	if(plain_prefix)
		fputs(plain_prefix, stderr);
	if(plain_tags && level >= AF_L_ERR && level <= AF_L_DBG)
		fputs(plain_level_tags[level], stderr);
	vfprintf(stderr, fmt, ap);
	if(n == 0 || fmt[n - 1] != '\n')
		fputc('\n', stderr);
}

static const af_host_t plain_host = {
	.shm_alloc = plain_alloc,
	.shm_free = plain_free,
	.now_ms = plain_now_ms,
	.vlog = plain_vlog,
	.log_enabled = plain_enabled,
};

void af_host_plain_init(int max_level, const char *prefix)
{
	plain_level = max_level;
	plain_prefix = prefix;
	af_host_set(&plain_host);
}

void af_host_plain_tag_levels(void)
{
	plain_tags = 1;
}

void af_host_plain_set_now(uint64_t now_ms)
{
	plain_fixed_now = now_ms;
}

void af_host_plain_advance(uint64_t ms)
{
	plain_fixed_now += ms;
}

long af_host_plain_live(void)
{
	return __atomic_load_n(&plain_live, __ATOMIC_RELAXED);
}
