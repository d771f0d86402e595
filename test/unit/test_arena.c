/*
 * antifraud unit tests - the arena allocator.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "af_arena.h"
#include "host.h"

/* 1 when size bytes at p are all zero */
static int all_zero(const unsigned char *p, size_t size)
{
	size_t i;

	for(i = 0; i < size; i++)
		if(p[i])
			return 0;
	return 1;
}

static void test_new_free(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a;

	a = af_arena_new(0);
	assert_non_null(a);
	assert_int_equal(af_arena_size(a), 64 * 1024);
	assert_int_equal(test_host_shm_live(), live + 1);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
	a = af_arena_new(4096);
	assert_int_equal(af_arena_size(a), 4096);
	af_arena_free(a);
	/* a tiny chunk size is raised to something usable */
	a = af_arena_new(1);
	assert_non_null(a);
	assert_non_null(af_arena_alloc(a, 100));
	af_arena_free(a);
	af_arena_free(NULL);
	assert_int_equal(af_arena_size(NULL), 0);
	assert_int_equal(test_host_shm_live(), live);
}

/* many odd sizes over many chunks: aligned, zeroed, never overlapping */
static void test_alignment_zero_overlap(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(4096);
	unsigned char *p[3000];
	size_t sz[3000], i, j;

	for(i = 0; i < 3000; i++) {
		sz[i] = (i * 37) % 700 + (i % 5 == 0 ? 0 : 1);
		p[i] = af_arena_alloc(a, sz[i]);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 16, 0);
		assert_true(all_zero(p[i], sz[i]));
		memset(p[i], (int)(i % 251) + 1, sz[i]);
	}
	for(i = 0; i < 3000; i++)
		for(j = 0; j < sz[i]; j++)
			assert_int_equal(p[i][j], (unsigned char)(i % 251 + 1));
	/* size 0 gives distinct usable pointers */
	assert_true(p[0] != p[5]);
	assert_true(af_arena_size(a) > 3000 * 350);
	assert_true(test_host_shm_live() > live + 100);
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

/* allocations larger than a chunk get one of their own */
static void test_big_allocs(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(4096);
	unsigned char *small1, *small2, *big, *huge;
	size_t before;

	small1 = af_arena_alloc(a, 16);
	before = af_arena_size(a);
	big = af_arena_alloc(a, 5000);
	assert_non_null(big);
	assert_int_equal((uintptr_t)big % 16, 0);
	assert_true(all_zero(big, 5000));
	memset(big, 0xab, 5000);
	assert_true(af_arena_size(a) >= before + 5000);
	/* the chunk being filled was not given up */
	small2 = af_arena_alloc(a, 16);
	assert_ptr_equal(small2, small1 + 16);
	huge = af_arena_alloc(a, 1000000);
	assert_non_null(huge);
	assert_int_equal((uintptr_t)huge % 16, 0);
	assert_true(all_zero(huge, 1000000));
	memset(huge, 0xcd, 1000000);
	assert_true(af_arena_size(a) >= before + 1005000);
	assert_ptr_equal(af_arena_alloc(a, 16), small2 + 16);
	assert_int_equal(big[4999], 0xab);
	/* a size that cannot be had at all */
	assert_null(af_arena_alloc(a, SIZE_MAX));
	assert_null(af_arena_alloc(a, SIZE_MAX - 20));
	assert_null(af_arena_strndup(a, "x", SIZE_MAX));
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

static void test_strndup(void **state)
{
	long live = test_host_shm_live();
	af_arena_t *a = af_arena_new(0);
	const char src[] = "sip:alice@example.com;transport=udp";
	char *s;

	s = af_arena_strndup(a, src, 9);
	assert_string_equal(s, "sip:alice");
	assert_int_equal((uintptr_t)s % 16, 0);
	s = af_arena_strndup(a, src, 0);
	assert_string_equal(s, "");
	s = af_arena_strndup(a, NULL, 0);
	assert_string_equal(s, "");
	s = af_arena_strndup(a, "a\0b", 3);
	assert_int_equal(s[0], 'a');
	assert_int_equal(s[1], '\0');
	assert_int_equal(s[2], 'b');
	assert_int_equal(s[3], '\0');
	af_arena_free(a);
	assert_int_equal(test_host_shm_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_new_free),
			cmocka_unit_test(test_alignment_zero_overlap),
			cmocka_unit_test(test_big_allocs),
			cmocka_unit_test(test_strndup),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
