/*
 * antifraud unit tests - a real redis-server of the test's own, on a free
 * loopback port, without persistence (test_outcome.c,
 * test_store_cluster.c): started, stopped, paused and restarted by the
 * test, killed at exit. A missing redis-server fails the test that needs
 * it. Include after the C headers, cmocka.h, hiredis.h and
 * af_store_redis.h.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_TEST_REDIS_SERVER_H
#define AF_TEST_REDIS_SERVER_H

static int redis_port;     /* the server's port (0: none chosen yet) */
static pid_t redis_pid;    /* the running server, 0 none */
static char redis_dir[256]; /* its working directory */

/* kills the server (at exit, or to restart it empty) */
static void redis_stop(void)
{
	if(redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
		redis_pid = 0;
	}
}

/* a free loopback TCP port */
static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* a raw connection for checks and FLUSHALL */
static redisContext *raw(void)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);

	assert_non_null(c);
	assert_int_equal(c->err, 0);
	return c;
}

/*
 * Empties the server (FLUSHALL) and fills rc for it: prefix "af:", the
 * timeouts given (ms).
 */
static void redis_fresh_cfg(af_redis_cfg_t *rc, uint32_t connect_ms,
		uint32_t command_ms)
{
	redisContext *c = raw();

	freeReplyObject(redisCommand(c, "FLUSHALL"));
	redisFree(c);
	memset(rc, 0, sizeof(*rc));
	strcpy(rc->host, "127.0.0.1");
	rc->port = (uint16_t)redis_port;
	strcpy(rc->prefix, "af:");
	rc->connect_timeout_ms = connect_ms;
	rc->command_timeout_ms = command_ms;
}

/*
 * Starts redis-server (empty) on redis_port, a free port the first time,
 * the same one after redis_stop(), and waits until it answers PING.
 * 0, or -1 when it did not start (not installed).
 */
static int redis_start(const char *name)
{
	const char *t = getenv("TMPDIR");
	char port[16];
	redisContext *c;
	redisReply *r;
	int i;

	if(!redis_dir[0]) {
		snprintf(redis_dir, sizeof(redis_dir), "%s/af-%s-XXXXXX",
				t && *t ? t : "/tmp", name);
		if(!mkdtemp(redis_dir))
			return -1;
		atexit(redis_stop);
	}
	if(!redis_port)
		redis_port = free_port();
	snprintf(port, sizeof(port), "%d", redis_port);
	redis_pid = fork();
	if(redis_pid < 0)
		return -1;
	if(redis_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open("/dev/null", O_WRONLY);
		if(fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("redis-server", "redis-server", "--port", port, "--bind",
				"127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
				redis_dir, (char *)NULL);
		_exit(127);
	}
	for(i = 0; i < 250; i++) {
		struct timeval tv = {0, 200000};
		c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
		if(c && !c->err && (r = redisCommand(c, "PING"))) {
			freeReplyObject(r);
			redisFree(c);
			return 0;
		}
		if(c)
			redisFree(c);
		usleep(20000);
	}
	fprintf(stderr, "redis-server did not start: is it installed?\n");
	return -1;
}

#endif
