/*
 * antifraud - locks that work between forked processes (in shared memory)
 * and between threads (unit-test host) alike: process-shared POSIX mutexes.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_LOCK_H
#define AF_LOCK_H

#include <pthread.h>

typedef pthread_mutex_t af_lock_t;

/* initializes a lock that lives in shared memory; returns 0 or -1 */
static inline int af_lock_init(af_lock_t *l)
{
	pthread_mutexattr_t a;
	int rc;

	if(pthread_mutexattr_init(&a) != 0)
		return -1;
	rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if(rc == 0)
		rc = pthread_mutex_init(l, &a);
	pthread_mutexattr_destroy(&a);
	return rc == 0 ? 0 : -1;
}

static inline void af_lock(af_lock_t *l)
{
	pthread_mutex_lock(l);
}

static inline void af_unlock(af_lock_t *l)
{
	pthread_mutex_unlock(l);
}

static inline void af_lock_destroy(af_lock_t *l)
{
	pthread_mutex_destroy(l);
}

#endif
