/*
 * antifraud - the slow paths of the locks (af_lock.h): a lock found held
 * is marked waited for (2) and slept on until it is free; the unlock of
 * a lock marked so wakes one sleeper, which marks it again when it takes
 * it (a sleeper left may be waiting), so that no wake-up is lost.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "af_lock.h"

void af_lock_wait(af_lock_t *l, uint32_t c)
{
	if(c != 2)
		c = __atomic_exchange_n(&l->v, 2, __ATOMIC_ACQUIRE);
	while(c != 0) {
		/* returns at once when the word is no longer 2 */
		syscall(SYS_futex, &l->v, FUTEX_WAIT, 2, NULL, NULL, 0);
		c = __atomic_exchange_n(&l->v, 2, __ATOMIC_ACQUIRE);
	}
}

void af_lock_wake(af_lock_t *l)
{
	syscall(SYS_futex, &l->v, FUTEX_WAKE, 1, NULL, NULL, 0);
}
