/*
 * antifraud unit tests - real redis-server processes for the Redis store's
 * tests: free loopback ports, a temp dir, spawning (the child dies with
 * the test), waiting for PING, killing; raw connections for checks.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_TEST_REDIS_SRV_H
#define AF_TEST_REDIS_SRV_H
#include <ftw.h>
#include <sys/stat.h>

/* ---- servers ---- */

typedef struct srv {
	pid_t pid;
	int port;
	char dir[300];
	char sock[340];
} srv_t;

#define MAX_SRV 12

static srv_t *all_srv[MAX_SRV];
static int n_srv;
static char tmp_root[256];
static char sock_root[64]; /* short: a socket path has 108 bytes at most */


/* Removes one file or directory (nftw callback). */
static int rm_one(const char *path, const struct stat *sb, int flag,
		struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* atexit: kills every server still running, removes the temp dir. */
static void cleanup(void)
{
	int i;

	for(i = 0; i < n_srv; i++) {
		if(all_srv[i]->pid > 0) {
			kill(all_srv[i]->pid, SIGCONT);
			kill(all_srv[i]->pid, SIGKILL);
			waitpid(all_srv[i]->pid, NULL, 0);
			all_srv[i]->pid = 0;
		}
	}
	if(tmp_root[0])
		nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if(sock_root[0])
		nftw(sock_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A loopback TCP port nobody listens on now. */
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

/* Makes the temp dir of the servers (once). */
static void tmp_init(void)
{
	const char *t = getenv("TMPDIR");

	if(tmp_root[0])
		return;
	snprintf(tmp_root, sizeof(tmp_root), "%s/af-redis-XXXXXX",
			t && *t ? t : "/tmp");
	assert_non_null(mkdtemp(tmp_root));
	snprintf(sock_root, sizeof(sock_root), "/tmp/afs-XXXXXX");
	assert_non_null(mkdtemp(sock_root));
}

/* Forks and execs argv with output to dir/log; the child dies with us. */
static pid_t spawn(const char *dir, char *const argv[])
{
	char log[400];
	pid_t pid;
	int fd;

	snprintf(log, sizeof(log), "%s/log", dir);
	pid = fork();
	assert_true(pid >= 0);
	if(pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if(fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Waits until s answers (any reply to PING) or its process exits. */
static int srv_wait(srv_t *s)
{
	struct timeval tv = {0, 200000};
	redisContext *c;
	redisReply *r;
	int i, st;

	for(i = 0; i < 500; i++) {
		if(waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
		if(c && !c->err) {
			r = redisCommand(c, "PING");
			if(r) {
				freeReplyObject(r);
				redisFree(c);
				return 0;
			}
		}
		if(c)
			redisFree(c);
		usleep(20000);
	}
	return -1;
}

/* Registers s for cleanup at exit. */
static void srv_register(srv_t *s)
{
	int i;

	for(i = 0; i < n_srv; i++)
		if(all_srv[i] == s)
			return;
	assert_true(n_srv < MAX_SRV);
	all_srv[n_srv++] = s;
}

/*
 * Starts redis-server for s on its port (a free one when 0) with the
 * extra arguments (NULL-terminated); fails the test when it does not
 * answer (redis-server missing included).
 */
static void srv_start(srv_t *s, const char *name, const char *const *extra)
{
	char port[16];
	const char *argv[40];
	int n = 0;

	tmp_init();
	srv_register(s);
	if(!s->port)
		s->port = free_port();
	if(!s->dir[0]) {
		snprintf(s->dir, sizeof(s->dir), "%s/%s", tmp_root, name);
		mkdir(s->dir, 0700);
		snprintf(s->sock, sizeof(s->sock), "%s/%s.sock", sock_root, name);
	}
	snprintf(port, sizeof(port), "%d", s->port);
	argv[n++] = "redis-server";
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = "no";
	argv[n++] = "--dir";
	argv[n++] = s->dir;
	argv[n++] = "--unixsocket";
	argv[n++] = s->sock;
	argv[n++] = "--unixsocketperm";
	argv[n++] = "700";
	while(extra && *extra && n < 39)
		argv[n++] = *extra++;
	argv[n] = NULL;
	s->pid = spawn(s->dir, (char *const *)argv);
	if(srv_wait(s) < 0)
		fail_msg("redis-server (%s, port %d) did not start: is it installed?"
				 " (log in %s/log)",
				name, s->port, s->dir);
}

/* Kills s (SIGKILL) and reaps it. */
static void srv_kill(srv_t *s)
{
	if(s->pid <= 0)
		return;
	kill(s->pid, SIGCONT);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

/* A raw connection to port for checks (not through the store). */
static redisContext *raw(int port)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	assert_non_null(c);
	if(c->err)
		fail_msg("connect to %d: %s", port, c->errstr);
	return c;
}

/* Runs a command on c that must answer (not an error); frees the reply
 * unless keep. */
static redisReply *rcmd(redisContext *c, int keep, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if(!r)
		fail_msg("%s: %s", fmt, c->errstr);
	if(r->type == REDIS_REPLY_ERROR)
		fail_msg("%s: %s", fmt, r->str);
	if(!keep) {
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

#endif
