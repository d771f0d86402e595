/*
 * antifraud unit tests - a plain malloc + pthread host with an injectable
 * clock.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_TEST_HOST_H
#define AF_TEST_HOST_H

#include <stdint.h>

/* installs the test host; call at the start of every test binary */
void test_host_init(void);

/* clock: 0 (default) follows the real clock; any other value is fixed */
void test_host_set_now(uint64_t now_ms);
void test_host_advance(uint64_t ms);

/* number of shm_alloc'd blocks not yet freed (leak checks) */
long test_host_shm_live(void);

/* xorshift64 from a fixed seed: the same pseudo-random numbers in every
 * run of a test binary */
uint64_t test_rnd(void);

/* writes text into a new temporary file and returns its path (static
 * buffer, valid until the next call) */
const char *test_write_file(const char *name, const char *text);

#endif
