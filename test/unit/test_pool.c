/*
 * antifraud unit tests - af_pool: freed shared-memory blocks kept for
 * reuse, bounded, safe between threads.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "host.h"
#include "af_pool.h"

/* a block given back is the next one given out; the pool keeps at most
 * its maximum, frees the rest, and frees what it keeps when destroyed */
static void test_reuse_and_bound(void **state)
{
	long live0 = test_host_shm_live();
	af_pool_t *p = af_pool_create(100, 2);
	void *b[4];
	int i;

	assert_non_null(p);
	for(i = 0; i < 4; i++) {
		b[i] = af_pool_get(p, 100);
		assert_non_null(b[i]);
		memset(b[i], 0xa5, 100); /* the whole size is usable */
	}
	assert_int_equal(test_host_shm_live(), live0 + 5);
	af_pool_put(p, b[0]);
	assert_ptr_equal(af_pool_get(p, 100), b[0]);
	for(i = 0; i < 4; i++)
		af_pool_put(p, b[i]);
	/* two kept, two freed */
	assert_int_equal(test_host_shm_live(), live0 + 3);
	af_pool_put(p, NULL);
	af_pool_destroy(p);
	assert_int_equal(test_host_shm_live(), live0);
}

/* a NULL pool (not made: out of memory) still allocates and frees */
static void test_null_pool(void **state)
{
	long live0 = test_host_shm_live();
	void *b = af_pool_get(NULL, 64);

	assert_non_null(b);
	memset(b, 1, 64);
	assert_int_equal(test_host_shm_live(), live0 + 1);
	af_pool_put(NULL, b);
	af_pool_destroy(NULL);
	assert_int_equal(test_host_shm_live(), live0);
}

/* blocks smaller than a pointer still hold the list's link */
static void test_tiny_blocks(void **state)
{
	af_pool_t *p = af_pool_create(1, 4);
	void *a = af_pool_get(p, 1), *b = af_pool_get(p, 1);

	af_pool_put(p, a);
	af_pool_put(p, b);
	assert_ptr_equal(af_pool_get(p, 1), b);
	assert_ptr_equal(af_pool_get(p, 1), a);
	af_pool_put(p, a);
	af_pool_put(p, b);
	af_pool_destroy(p);
}

#define THREADS 4
#define ROUNDS 20000

struct worker {
	af_pool_t *p;
	int id;
	int bad;
};

/* each thread writes its id over the blocks it holds and finds it there
 * when it gives them back: a block is never given to two at once */
static void *worker(void *arg)
{
	struct worker *w = arg;
	uint32_t *b[3];
	int r, i, j;

	for(r = 0; r < ROUNDS; r++) {
		for(i = 0; i < 3; i++) {
			b[i] = af_pool_get(w->p, 64);
			if(!b[i])
				return NULL;
			for(j = 0; j < 16; j++)
				b[i][j] = (uint32_t)w->id;
		}
		for(i = 0; i < 3; i++) {
			for(j = 0; j < 16; j++)
				if(b[i][j] != (uint32_t)w->id)
					w->bad++;
			af_pool_put(w->p, b[i]);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	long live0 = test_host_shm_live();
	af_pool_t *p = af_pool_create(64, 8);
	pthread_t t[THREADS];
	struct worker w[THREADS];
	int i;

	for(i = 0; i < THREADS; i++) {
		w[i].p = p;
		w[i].id = i + 1;
		w[i].bad = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for(i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	/* at most the pool's 8 kept, nothing lost */
	assert_true(test_host_shm_live() <= live0 + 1 + 8);
	af_pool_destroy(p);
	assert_int_equal(test_host_shm_live(), live0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_reuse_and_bound),
			cmocka_unit_test(test_null_pool),
			cmocka_unit_test(test_tiny_blocks),
			cmocka_unit_test(test_threads),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
