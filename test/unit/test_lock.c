/*
 * antifraud unit tests - the locks (af_lock.h): mutual exclusion between
 * threads and between forked processes sharing memory, through the slow
 * path (a held lock slept on) as well as the fast one.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "af_lock.h"
#include "host.h"

#define ROUNDS 40000

/* what the lock protects: a count updated in two steps, and whether a
 * holder ever saw the lock marked waited for */
typedef struct shared {
	af_lock_t lock;
	volatile uint64_t count;
	volatile int inside;
	volatile int overlap; /* two holders at once: never */
	volatile int waited;  /* a holder saw 2 */
} shared_t;

static void work(shared_t *sh, int rounds)
{
	uint64_t c;
	int i;

	for(i = 0; i < rounds; i++) {
		af_lock(&sh->lock);
		if(sh->inside)
			sh->overlap = 1;
		sh->inside = 1;
		c = sh->count;
		/* now and then hold the lock across a yield: the others
		 * find it held and sleep on it */
		if(i % 64 == 0)
			sched_yield();
		sh->count = c + 1;
		if(__atomic_load_n(&sh->lock.v, __ATOMIC_RELAXED) == 2)
			sh->waited = 1;
		sh->inside = 0;
		af_unlock(&sh->lock);
	}
}

static void *thr(void *arg)
{
	work(arg, ROUNDS);
	return NULL;
}

static void test_lock_threads(void **state)
{
	static shared_t sh;
	pthread_t t[4];
	int i;

	assert_int_equal(af_lock_init(&sh.lock), 0);
	for(i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thr, &sh), 0);
	for(i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(sh.count, 4 * ROUNDS);
	assert_int_equal(sh.overlap, 0);
	assert_int_equal(sh.waited, 1);
	/* left free, and taken again at once */
	assert_int_equal(sh.lock.v, 0);
	af_lock(&sh.lock);
	assert_int_equal(sh.lock.v, 1);
	af_unlock(&sh.lock);
	af_lock_destroy(&sh.lock);
}

/* the module's case: processes forked from the one that made the lock
 * in memory they share */
static void test_lock_processes(void **state)
{
	shared_t *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid[3];
	int i, st;

	assert_true(sh != MAP_FAILED);
	assert_int_equal(af_lock_init(&sh->lock), 0);
	for(i = 0; i < 3; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if(pid[i] == 0) {
			work(sh, ROUNDS);
			_exit(0);
		}
	}
	work(sh, ROUNDS);
	for(i = 0; i < 3; i++) {
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(sh->count, 4 * ROUNDS);
	assert_int_equal(sh->overlap, 0);
	assert_int_equal(sh->lock.v, 0);
	munmap(sh, sizeof(*sh));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_lock_threads),
			cmocka_unit_test(test_lock_processes),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
