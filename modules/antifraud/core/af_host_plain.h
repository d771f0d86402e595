/*
 * antifraud - a plain host for programs without a SIP server (the
 * operator tools, the core bench, the unit tests): memory from malloc
 * (one process: "shared" is not shared), the real clock or a fixed one,
 * log lines to stderr.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_HOST_PLAIN_H
#define AF_HOST_PLAIN_H

#include <stdint.h>

/*
 * Installs the plain host: logs the levels up to max_level (an
 * af_log_level), each line prefixed with prefix (NULL: none) and ended
 * with a newline when the message has none.
 */
void af_host_plain_init(int max_level, const char *prefix);

/* after the prefix, each line starts with its level: "error: ",
 * "warning: ", "notice: ", "info: " or "debug: " */
void af_host_plain_tag_levels(void);

/* the clock: 0 (the default) follows the real clock, any other value is
 * fixed; advance moves a fixed clock on */
void af_host_plain_set_now(uint64_t now_ms);
void af_host_plain_advance(uint64_t ms);

/* blocks from shm_alloc not yet freed (leak checks) */
long af_host_plain_live(void);

#endif
