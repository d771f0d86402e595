/*
 * antifraud - Kamailio implementation of the host seam.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "core/dprint.h"
#include "core/mem/shm_mem.h"
#include "af_host.h"
#include "af_kam.h"

static void *kam_shm_alloc(size_t size)
{
	return shm_malloc(size);
}

static void kam_shm_free(void *p)
{
	if(p)
		shm_free(p);
}

static uint64_t kam_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int kam_level(int level)
{
	switch(level) {
		case AF_L_ERR:
			return L_ERR;
		case AF_L_WARN:
			return L_WARN;
		case AF_L_NOTICE:
			return L_NOTICE;
		case AF_L_INFO:
			return L_INFO;
		default:
			return L_DBG;
	}
}

static int kam_log_enabled(int level)
{
	return is_printable(kam_level(level));
}

static void kam_vlog(int level, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	switch(level) {
		case AF_L_ERR:
			LM_ERR("%s", buf);
			break;
		case AF_L_WARN:
			LM_WARN("%s", buf);
			break;
		case AF_L_NOTICE:
			LM_NOTICE("%s", buf);
			break;
		case AF_L_INFO:
			LM_INFO("%s", buf);
			break;
		default:
			LM_DBG("%s", buf);
	}
}

const af_host_t af_kam_host = {
	.shm_alloc = kam_shm_alloc,
	.shm_free = kam_shm_free,
	.now_ms = kam_now_ms,
	.vlog = kam_vlog,
	.log_enabled = kam_log_enabled,
};

/* plain heap memory: a rule file checked under kamailio -c, before
 * shared memory exists */
static void *kam_heap_alloc(size_t size)
{
	return malloc(size);
}

const af_host_t af_kam_check_host = {
	.shm_alloc = kam_heap_alloc,
	.shm_free = free,
	.now_ms = kam_now_ms,
	.vlog = kam_vlog,
	.log_enabled = kam_log_enabled,
};
