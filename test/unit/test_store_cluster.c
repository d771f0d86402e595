/*
 * antifraud unit tests - the cluster store (af_store_cluster.c) over a
 * real redis-server of its own and the shm store as its local fallback:
 * the releases (CONC_DEL, BAN_DEL) that could not reach Redis while it
 * was paused (SIGSTOP) or gone (SIGKILL, restarted empty) are queued and
 * replayed when it answers again, before the breaker closes; members
 * admitted in the fallback are released there; the queue's bound; threads
 * queueing while the breaker closes.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "af_host.h"
#include "af_store.h"
#include "af_store_cluster.h"
#include "af_store_redis.h"
#include "af_store_shm.h"
#include "host.h"
#include "store_ops.h"
#include "redis_server.h"

#define KEY "conc:total"
#define RETRY_MS 10

static af_store_t *local, *cl;
static long shm_base;

/* the cluster store over Redis (200 ms command timeout) and a shm
 * fallback, with a release queue of qcap entries */
static void make_store(uint32_t qcap)
{
	af_store_shm_cfg_t scfg = {.max_entries = 4096, .stripes = 4};
	af_redis_cfg_t rc;
	af_store_t *rs;

	redis_fresh_cfg(&rc, 200, 200);
	shm_base = test_host_shm_live();
	local = af_store_shm_new(&scfg);
	assert_non_null(local);
	rs = af_store_redis_new(&rc);
	assert_non_null(rs);
	cl = af_store_cluster_new(rs, local, AF_FALLBACK_LOCAL, RETRY_MS, qcap);
	assert_non_null(cl);
}

/* destroys the stores; no shared memory left behind */
static void free_store(void)
{
	cl->ops->destroy(cl);
	local->ops->destroy(local);
	assert_int_equal(test_host_shm_live(), shm_base);
}

/* CONC_ADD of mem to key (limit, 1 h) on s: admitted */
static int admit(af_store_t *s, const char *key, const char *mem,
		uint32_t limit)
{
	af_op_t op;

	conc_op(&op, AF_OP_CONC_ADD, key, mem, limit, 3600);
	af_store_exec(s, &op, 1, af_now_ms());
	return op.status == 0 && op.u.conc.admitted;
}

/* CONC_DEL of mem from key on s: exec's result */
static int release(af_store_t *s, const char *key, const char *mem)
{
	af_op_t op;

	conc_op(&op, AF_OP_CONC_DEL, key, mem, 0, 0);
	return af_store_exec(s, &op, 1, af_now_ms());
}

/* the live members of key in Redis itself */
static uint32_t in_redis(const char *key)
{
	return conc_count(af_store_cluster_redis(cl), key);
}

static af_cluster_stats_t stats(void)
{
	af_cluster_stats_t cs;

	af_store_cluster_stats(cl, &cs);
	return cs;
}

/* the breaker's probe, later than its retry interval */
static void probe(void)
{
	af_store_cluster_probe(cl, af_now_ms() + 10 * RETRY_MS);
}

/* Redis keys matching pattern */
static long keys(const char *pattern)
{
	redisContext *c = raw(redis_one.port);
	redisReply *r = redisCommand(c, "KEYS %s", pattern);
	long n;

	assert_non_null(r);
	n = (long)r->elements;
	freeReplyObject(r);
	redisFree(c);
	return n;
}

static void redis_pause(void)
{
	assert_int_equal(kill(redis_one.pid, SIGSTOP), 0);
}

static void redis_resume(void)
{
	assert_int_equal(kill(redis_one.pid, SIGCONT), 0);
}

/*
 * Opens the breaker (Redis paused) with a release of no call: the batches
 * after it do not reach Redis at all. (The one that met the timeout may
 * run when Redis resumes: it was in the server's socket buffer.)
 */
static void open_breaker(void)
{
	assert_int_equal(release(cl, KEY, "none"), 0);
	assert_false(af_store_cluster_up(cl));
}

/*
 * Three calls admitted in Redis (limit 3); Redis paused; two of them end
 * (the first batch meets the timeout and opens the breaker) and a call
 * is admitted in the fallback. Redis back: the probe replays the two
 * releases, then closes the breaker; two new calls are admitted; the call
 * admitted in the fallback is released there although Redis is up.
 */
static void test_release_after_pause(void **state)
{
	af_cluster_stats_t cs;

	make_store(64);
	assert_true(admit(cl, KEY, "a", 3));
	assert_true(admit(cl, KEY, "b", 3));
	assert_true(admit(cl, KEY, "c", 3));
	assert_false(admit(cl, KEY, "x", 3));
	redis_pause();
	assert_int_equal(release(cl, KEY, "a"), 0); /* the fallback answers */
	assert_false(af_store_cluster_up(cl));
	assert_int_equal(release(cl, KEY, "b"), 0);
	assert_true(admit(cl, KEY, "d", 3)); /* in the fallback */
	cs = stats();
	assert_int_equal(cs.releases_queued, 2);
	assert_int_equal(cs.releases_pending, 2);
	assert_int_equal(cs.releases_replayed, 0);
	probe(); /* still paused: nothing replayed, still down */
	assert_false(af_store_cluster_up(cl));
	assert_int_equal(stats().releases_pending, 2);
	redis_resume();
	probe();
	assert_true(af_store_cluster_up(cl));
	cs = stats();
	assert_int_equal(cs.releases_replayed, 2);
	assert_int_equal(cs.releases_pending, 0);
	assert_int_equal(cs.releases_dropped, 0);
	assert_int_equal(in_redis(KEY), 1); /* c */
	assert_true(admit(cl, KEY, "e", 3));
	assert_true(admit(cl, KEY, "f", 3));
	assert_false(admit(cl, KEY, "g", 3));
	/* d ends after the outage: released in Redis (not there) and in the
	 * fallback, where it was */
	assert_int_equal(conc_count(local, KEY), 1);
	assert_int_equal(release(cl, KEY, "d"), 0);
	assert_int_equal(conc_count(local, KEY), 0);
	assert_int_equal(in_redis(KEY), 3);
	assert_int_equal(stats().releases_queued, 2); /* nothing queued */
	free_store();
}

/*
 * A call that ended during the outage and is admitted again (the same
 * Call-ID) when Redis is back: until the probe closes the breaker the
 * admission goes to the fallback; the old release is replayed first, so
 * the call admitted after it stays counted.
 */
static void test_release_order(void **state)
{
	make_store(64);
	assert_true(admit(cl, KEY, "m", 0));
	redis_pause();
	open_breaker();
	assert_int_equal(release(cl, KEY, "m"), 0);
	redis_resume();
	assert_true(admit(cl, KEY, "m", 0)); /* breaker still open */
	assert_int_equal(stats().fallback_execs, 3);
	assert_int_equal(in_redis(KEY), 1); /* the old m, not yet released */
	probe();
	assert_true(af_store_cluster_up(cl));
	assert_int_equal(in_redis(KEY), 0);
	assert_true(admit(cl, KEY, "m", 0));
	probe(); /* up: nothing left to replay */
	assert_int_equal(in_redis(KEY), 1);
	assert_int_equal(stats().releases_replayed, 2); /* none, m */
	free_store();
}

/*
 * Redis killed and restarted empty: the replayed releases find nothing
 * and create nothing. An unban during the outage (BAN_DEL) is replayed
 * like a call's end.
 */
static void test_release_restart(void **state)
{
	af_op_t op;

	make_store(64);
	assert_true(admit(cl, KEY, "a", 0));
	assert_int_equal(ban_set(cl, "192.0.2.1", 600, "scanner"), 0);
	assert_int_equal(ban_set(cl, "192.0.2.2", 600, "scanner"), 0);
	redis_pause();
	memset(&op, 0, sizeof(op));
	op.type = AF_OP_BAN_DEL;
	op.key = "192.0.2.1";
	op.key_len = strlen(op.key);
	assert_int_equal(af_store_exec(cl, &op, 1, af_now_ms()), 0);
	redis_resume();
	probe();
	assert_true(af_store_cluster_up(cl));
	assert_false(ban_get(cl, "192.0.2.1", NULL)); /* lifted in Redis */
	assert_true(ban_get(cl, "192.0.2.2", NULL));
	/* gone: the server dies and comes back empty */
	redis_stop();
	assert_int_equal(release(cl, KEY, "a"), 0);
	assert_false(af_store_cluster_up(cl));
	assert_int_equal(redis_start("cluster"), 0);
	probe();
	assert_true(af_store_cluster_up(cl));
	assert_int_equal(stats().releases_replayed, 2);
	assert_int_equal(keys("*"), 0);
	assert_int_equal(in_redis(KEY), 0);
	free_store();
}

/*
 * The bound: a queue of 4 keeps the 4 newest releases (the oldest make
 * room, counted as dropped); a release too long for an entry is dropped;
 * with no queue every release is dropped.
 */
static void test_release_bound(void **state)
{
	char mem[16], big[AF_CLUSTER_RELEASE_BYTES + 8];
	af_cluster_stats_t cs;
	int i;

	make_store(4);
	for(i = 0; i < 6; i++) {
		snprintf(mem, sizeof(mem), "m%d", i);
		assert_true(admit(cl, KEY, mem, 0));
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(admit(cl, KEY, big, 0));
	redis_pause();
	open_breaker();
	for(i = 0; i < 6; i++) {
		snprintf(mem, sizeof(mem), "m%d", i);
		assert_int_equal(release(cl, KEY, mem), 0);
	}
	assert_int_equal(release(cl, KEY, big), 0);
	cs = stats();
	assert_int_equal(cs.releases_queued, 7);
	assert_int_equal(cs.releases_dropped, 4);
	assert_int_equal(cs.releases_pending, 4);
	redis_resume();
	probe();
	cs = stats();
	assert_int_equal(cs.releases_replayed, 4);
	assert_int_equal(cs.releases_pending, 0);
	/* m0, m1 and the long one stay until they expire */
	assert_int_equal(in_redis(KEY), 3);
	free_store();

	make_store(0);
	assert_true(admit(cl, KEY, "a", 0));
	redis_pause();
	open_breaker();
	assert_int_equal(release(cl, KEY, "a"), 0);
	redis_resume();
	probe();
	cs = stats();
	assert_int_equal(cs.releases_queued, 0);
	assert_int_equal(cs.releases_dropped, 2);
	assert_int_equal(in_redis(KEY), 1);
	free_store();
}

#define T_THREADS 4
#define T_CALLS 150

static int t_go;

/* one worker: ends its calls, while the breaker opens and closes */
static void *ender(void *arg)
{
	char mem[32];
	int i, id = (int)(intptr_t)arg, fails = 0;

	while(!__atomic_load_n(&t_go, __ATOMIC_ACQUIRE))
		;
	for(i = 0; i < T_CALLS; i++) {
		snprintf(mem, sizeof(mem), "t%d-%d", id, i);
		if(release(cl, KEY, mem) != 0)
			fails++;
		if(i % 8 == 0)
			usleep(2000); /* spread over the pause and after it */
	}
	return (void *)(intptr_t)fails;
}

/*
 * Four threads end 600 calls admitted in Redis while Redis is paused,
 * then resumed and probed in the middle: some releases are queued, some
 * reach Redis after the breaker closed; at the end none is left, in
 * Redis or in the queue.
 */
static void test_release_threads(void **state)
{
	pthread_t th[T_THREADS];
	af_cluster_stats_t cs;
	char mem[32];
	void *ret;
	int i, j;

	make_store(1024);
	for(i = 0; i < T_THREADS; i++)
		for(j = 0; j < T_CALLS; j++) {
			snprintf(mem, sizeof(mem), "t%d-%d", i, j);
			assert_true(admit(cl, KEY, mem, 0));
		}
	assert_int_equal(in_redis(KEY), T_THREADS * T_CALLS);
	redis_pause();
	open_breaker();
	for(i = 0; i < T_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, ender,
								 (void *)(intptr_t)i),
				0);
	__atomic_store_n(&t_go, 1, __ATOMIC_RELEASE);
	usleep(20000);
	redis_resume();
	for(i = 0; i < 200 && !af_store_cluster_up(cl); i++) {
		probe();
		usleep(1000);
	}
	assert_true(af_store_cluster_up(cl));
	for(i = 0; i < T_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	probe(); /* releases queued just before the breaker closed */
	cs = stats();
	assert_true(cs.releases_queued > 1);
	assert_int_equal(cs.releases_dropped, 0);
	assert_int_equal(cs.releases_pending, 0);
	assert_int_equal(cs.releases_replayed, cs.releases_queued);
	assert_int_equal(in_redis(KEY), 0);
	print_message("%llu releases queued during the pause, all replayed\n",
			(unsigned long long)cs.releases_queued);
	free_store();
}

static int group_setup(void **state)
{
	return redis_start("cluster");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_after_pause),
		cmocka_unit_test(test_release_order),
		cmocka_unit_test(test_release_restart),
		cmocka_unit_test(test_release_bound),
		cmocka_unit_test(test_release_threads),
	};

	test_host_init();
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
