/*
 * antifraud - locks that work between forked processes (in shared memory)
 * and between threads (unit-test host) alike: a futex word, taken with
 * one atomic instruction when it is free, slept on (FUTEX_WAIT, not
 * private: it lives in memory the processes share) when it is not.
 * A process-shared POSIX mutex did the same in a library call each way,
 * some 40 instructions per lock and unlock; a check takes about ten.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_LOCK_H
#define AF_LOCK_H

#include <stdint.h>

typedef struct af_lock {
	uint32_t v; /* 0 free, 1 held, 2 held and maybe waited for */
} af_lock_t;

/* the slow paths (af_lock.c): wait for the lock (c: the value seen);
 * wake a waiter */
void af_lock_wait(af_lock_t *l, uint32_t c);
void af_lock_wake(af_lock_t *l);

/* initializes a lock that lives in shared memory; returns 0 */
static inline int af_lock_init(af_lock_t *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
	return 0;
}

static inline void af_lock(af_lock_t *l)
{
	uint32_t c = 0;

	if(__builtin_expect(__atomic_compare_exchange_n(&l->v, &c, 1, 0,
								__ATOMIC_ACQUIRE, __ATOMIC_RELAXED),
			   1))
		return;
	af_lock_wait(l, c);
}

/* takes the lock when it is free: 1, else 0 at once */
static inline int af_lock_try(af_lock_t *l)
{
	uint32_t c = 0;

	return __atomic_compare_exchange_n(
			&l->v, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void af_unlock(af_lock_t *l)
{
	/* 2: someone may sleep on it */
	if(__builtin_expect(
			   __atomic_exchange_n(&l->v, 0, __ATOMIC_RELEASE) == 2, 0))
		af_lock_wake(l);
}

static inline void af_lock_destroy(af_lock_t *l)
{
	(void)l;
}

#endif
