/*
 * antifraud - OpenSIPS implementation of the host seam.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include "dprint.h"
#include "mem/shm_mem.h"
#include "af_os.h"

/* OpenSIPS's level for each af_log_level */
static const int os_level[] = {L_ERR, L_WARN, L_NOTICE, L_INFO, L_DBG};

static int level_of(int level)
{
	return level >= 0 && level <= AF_L_DBG ? os_level[level] : L_DBG;
}

static void os_free(void *p)
{
	if(p)
		shm_free(p);
}

static void *os_alloc(size_t size)
{
	return shm_malloc(size);
}

static int os_enabled(int level)
{
	return is_printable(level_of(level));
}

static void os_vlog(int level, const char *fmt, va_list ap)
{
	char line[1024];

	if(!os_enabled(level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	LM_GEN1(level_of(level), "%s", line);
}

/* in af_host_t's order: shm, clock, log */
const af_host_t af_os_host = {
		os_alloc, os_free, af_host_clock_ms, os_vlog, os_enabled};

/* with heap memory: the rule file checked under opensips -c/-C, before
 * shared memory exists */
const af_host_t af_os_check_host = {
		malloc, free, af_host_clock_ms, os_vlog, os_enabled};
