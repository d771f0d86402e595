/*
 * antifraud - the only seam between the core and the SIP server.
 *
 * The core never includes a server header. A server (Kamailio today,
 * OpenSIPS later, the unit-test host) fills one af_host_t and passes it to
 * af_host_set() before any other core call.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_HOST_H
#define AF_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* log levels, mapped by the host to its own */
enum af_log_level {
	AF_L_ERR = 0,
	AF_L_WARN = 1,
	AF_L_NOTICE = 2,
	AF_L_INFO = 3,
	AF_L_DBG = 4
};

typedef struct af_host {
	/* memory shared by every worker (Kamailio: shm_malloc); must be
	 * mapped at the same address in every process */
	void *(*shm_alloc)(size_t size);
	void (*shm_free)(void *p);
	/* wall clock in milliseconds since the epoch */
	uint64_t (*now_ms)(void);
	/* printf-like log sink; level is an af_log_level */
	void (*vlog)(int level, const char *fmt, va_list ap);
	/* the lowest level that vlog would print, for cheap checks */
	int (*log_enabled)(int level);
} af_host_t;

extern const af_host_t *af_host;

/* installs the host; must be called once before any other af_ function */
void af_host_set(const af_host_t *host);

/* the wall clock in ms (CLOCK_REALTIME): a host's now_ms when it has
 * no clock of its own */
uint64_t af_host_clock_ms(void);

void af_log(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

#define AF_ERR(fmt, ...) af_log(AF_L_ERR, fmt, ##__VA_ARGS__)
#define AF_WARN(fmt, ...) af_log(AF_L_WARN, fmt, ##__VA_ARGS__)
#define AF_NOTICE(fmt, ...) \
	af_log(AF_L_NOTICE, fmt, ##__VA_ARGS__)
#define AF_INFO(fmt, ...) af_log(AF_L_INFO, fmt, ##__VA_ARGS__)
#define AF_DBG(fmt, ...)                                               \
	do {                                                               \
		if(af_host->log_enabled(AF_L_DBG))                             \
			af_log(AF_L_DBG, fmt, ##__VA_ARGS__);        \
	} while(0)

static inline uint64_t af_now_ms(void)
{
	return af_host->now_ms();
}

#endif
