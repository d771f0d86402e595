/*
 * antifraud - host seam: the installed host and the log helper.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <time.h>
#include "af_host.h"

const af_host_t *af_host;

void af_host_set(const af_host_t *host)
{
	af_host = host;
}

void af_log(int level, const char *fmt, ...)
{
	va_list ap;

	if(!af_host->log_enabled(level))
		return;
	va_start(ap, fmt);
	af_host->vlog(level, fmt, ap);
	va_end(ap);
}

uint64_t af_host_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
