/*
 * antifraud unit tests - the Redis store on a Redis Cluster: CRC16 and hash
 * slots, redirect and URL parsing; then, against a real loopback cluster
 * of 3 masters and 3 replicas built by the test (redis-cli --cluster
 * create): the store's scenarios, batches whose ops span slots compared
 * op by op with the shm store, a slot migrated under the store (ASK, then
 * MOVED), lists and forget over every master, pub/sub, a master killed
 * (its replica takes over and the counts go on), and concurrent
 * admissions across slots: never over a limit, the refusals the phased
 * admission adds measured against the same load on one slot.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "af_host.h"
#include "af_store.h"
#include "af_store_shm.h"
#include "af_store_redis.h"
#include "af_store_redis_int.h"
#include "host.h"
#include "store_ops.h"
#include "forget_scenario.h"
#include "dry_scenario.h"

#define T0 1700000000000ULL

#include "store_scenarios.h"
#include "redis_srv.h"

#define NODES 6
static srv_t s_node[NODES];
static char cl_url[512];

/* ---- no server ---- */

/* CRC16 and slots as Redis Cluster computes them (its spec's values) */
static void test_slots(void **state)
{
	assert_int_equal(af_rds_crc16("123456789", 9), 0x31c3);
	assert_int_equal(af_rds_key_slot("foo", 3), 12182);
	assert_int_equal(af_rds_key_slot("bar", 3), 5061);
	assert_int_equal(af_rds_key_slot("hello", 5), 866);
	/* hash tags: the first {...} that is not empty */
	assert_int_equal(af_rds_key_slot("{user1000}.following", 20),
			af_rds_key_slot("{user1000}.followers", 20));
	assert_int_equal(af_rds_key_slot("x{foo}y", 7), 12182);
	assert_int_equal(af_rds_key_slot("foo{bar}{zap}", 13), 5061);
	assert_int_equal(af_rds_key_slot("foo{{bar}}zap", 13),
			af_rds_crc16("{bar", 4) & 16383);
	assert_int_equal(af_rds_key_slot("foo{}{bar}", 10),
			af_rds_crc16("foo{}{bar}", 10) & 16383);
	assert_int_equal(af_rds_key_slot("foo{bar", 7),
			af_rds_crc16("foo{bar", 7) & 16383);
	/* every kind of key of one subject shares its slot */
	assert_int_equal(af_rds_key_slot("af:win:{alice}", 14),
			af_rds_key_slot("af:conc:{alice}", 15));
	assert_int_equal(af_rds_key_slot("", 0), 0);
}

/* redirect errors: MOVED and ASK, IPv6 without brackets, an empty host */
static void test_redirect(void **state)
{
	char host[64];
	int ask, slot, port;

#define RD(s) af_rds_redirect(s, strlen(s), &ask, &slot, host, sizeof(host), &port)
	assert_int_equal(RD("MOVED 3999 127.0.0.1:6381"), 0);
	assert_int_equal(ask, 0);
	assert_int_equal(slot, 3999);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 6381);
	assert_int_equal(RD("ASK 16383 10.0.0.2:7000"), 0);
	assert_int_equal(ask, 1);
	assert_int_equal(slot, 16383);
	assert_string_equal(host, "10.0.0.2");
	assert_int_equal(RD("MOVED 0 ::1:7001"), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 7001);
	assert_int_equal(RD("MOVED 12 :7002"), 0);
	assert_string_equal(host, "");
	assert_int_equal(port, 7002);
	assert_int_equal(RD("MOVED 16384 h:1"), -1);
	assert_int_equal(RD("MOVED x h:1"), -1);
	assert_int_equal(RD("MOVED 1 h:0"), -1);
	assert_int_equal(RD("MOVED 1 h:123456"), -1);
	assert_int_equal(RD("MOVED 1 h:"), -1);
	assert_int_equal(RD("MOVED 1 host"), -1);
	assert_int_equal(RD("MOVED 1"), -1);
	assert_int_equal(RD("ASKING"), -1);
	assert_int_equal(RD("ERR unknown command"), -1);
	assert_int_equal(RD("TRYAGAIN Multiple keys request during rehashing"),
			-1);
#undef RD
}

/* redis-cluster:// URLs */
static void test_url(void **state)
{
	af_redis_cfg_t c;
	char err[256];

	memset(&c, 0, sizeof(c));
	assert_int_equal(af_redis_parse_url("redis-cluster://10.0.0.1:7000,"
										"10.0.0.2,[::1]:7002/",
							 &c, err, sizeof(err)),
			0);
	assert_int_equal(c.n_seeds, 3);
	assert_string_equal(c.seeds[0], "10.0.0.1:7000");
	assert_string_equal(c.seeds[1], "10.0.0.2:6379");
	assert_string_equal(c.seeds[2], "[::1]:7002");
	assert_int_equal(c.n_sentinels, 0);
	assert_string_equal(c.host, "");
	assert_int_equal(af_redis_parse_url("REDIS-CLUSTER://u:p%40ss@h:1", &c,
							 err, sizeof(err)),
			0);
	assert_int_equal(c.n_seeds, 1);
	assert_string_equal(c.username, "u");
	assert_string_equal(c.password, "p@ss");
	/* another scheme after it forgets the seeds */
	assert_int_equal(
			af_redis_parse_url("redis://h:2/3", &c, err, sizeof(err)), 0);
	assert_int_equal(c.n_seeds, 0);
	assert_int_equal(af_redis_parse_url("redis-cluster://h:1/0", &c, err,
							 sizeof(err)),
			-1);
	assert_non_null(strstr(err, "no db"));
	assert_int_equal(
			af_redis_parse_url("redis-cluster://", &c, err, sizeof(err)), -1);
	assert_int_equal(af_redis_parse_url("redis-cluster://h:1,,h:2", &c, err,
							 sizeof(err)),
			-1);
	assert_int_equal(af_redis_parse_url("redis-cluster://h:99999", &c, err,
							 sizeof(err)),
			-1);
	assert_int_equal(af_redis_parse_url("redis-cluster://a,b,c,d,e,f,g,h,i",
							 &c, err, sizeof(err)),
			-1);
	assert_int_equal(af_redis_parse_url("redis-cluster://h:1?x=1", &c, err,
							 sizeof(err)),
			-1);
}

/* ---- the cluster ---- */

/* The answer of redis-cli's command line (NULL-terminated args); its
 * exit status. */
static int cli(char *out, size_t outlen, const char *arg0, ...)
{
	const char *argv[40];
	va_list ap;
	int pfd[2], n = 0, st;
	ssize_t got;
	size_t len = 0;
	pid_t pid;

	argv[n++] = "redis-cli";
	argv[n++] = arg0;
	va_start(ap, arg0);
	while(n < 39 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if(pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		execvp("redis-cli", (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	while(out && len + 1 < outlen
			&& (got = read(pfd[0], out + len, outlen - len - 1)) > 0)
		len += (size_t)got;
	if(out)
		out[len] = '\0';
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether every node says cluster_state:ok and knows all slots. */
static int cluster_ok(void)
{
	redisContext *c;
	redisReply *r;
	int i, ok = 1;

	for(i = 0; i < NODES && ok; i++) {
		if(s_node[i].pid <= 0)
			continue;
		c = raw(s_node[i].port);
		r = redisCommand(c, "CLUSTER INFO");
		ok = r && r->str && strstr(r->str, "cluster_state:ok")
			 && strstr(r->str, "cluster_slots_ok:16384");
		if(r)
			freeReplyObject(r);
		redisFree(c);
	}
	return ok;
}

/* Waits (up to 15 s) for the cluster to be ok on every live node. */
static void wait_ok(void)
{
	int i;

	for(i = 0; i < 750 && !cluster_ok(); i++)
		usleep(20000);
	if(!cluster_ok()) {
		for(i = 0; i < NODES; i++) {
			char out[4096], port[16];

			if(s_node[i].pid <= 0)
				continue;
			snprintf(port, sizeof(port), "%d", s_node[i].port);
			cli(out, sizeof(out), "-p", port, "CLUSTER", "INFO", NULL);
			print_message("node %d: %.300s\n", i, out);
		}
	}
	assert_true(cluster_ok());
}

/* Builds the cluster once: 6 nodes, 3 masters with a replica each. */
static void need_cluster(void)
{
	char out[8192], addr[NODES][32], name[16], bus[16];
	const char *extra[] = {"--cluster-enabled", "yes",
			"--cluster-node-timeout", "1000", "--cluster-replica-validity-factor",
			"0", "--cluster-port", bus, NULL};
	int i;
	size_t o = 0;

	if(cl_url[0]) {
		for(i = 0; i < NODES; i++) {
			redisContext *c;
			redisReply *r;

			if(s_node[i].pid <= 0)
				continue;
			c = raw(s_node[i].port);
			r = redisCommand(c, "FLUSHALL");
			if(r)
				freeReplyObject(r);
			redisFree(c);
		}
		return;
	}
	for(i = 0; i < NODES; i++) {
		/* the bus port: free, and not port + 10000 (may pass 65535) */
		snprintf(name, sizeof(name), "node%d", i);
		snprintf(bus, sizeof(bus), "%d", free_port());
		/* and the node's own port another (the bus is not bound yet) */
		do
			s_node[i].port = free_port();
		while(s_node[i].port == atoi(bus));
		srv_start(&s_node[i], name, extra);
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", s_node[i].port);
	}
	if(cli(out, sizeof(out), "--cluster", "create", addr[0], addr[1], addr[2],
			   addr[3], addr[4], addr[5], "--cluster-replicas", "1",
			   "--cluster-yes", NULL)
			!= 0)
		fail_msg("redis-cli --cluster create: %s", out);
	wait_ok();
	o = (size_t)snprintf(cl_url, sizeof(cl_url), "redis-cluster://");
	for(i = 0; i < 3; i++)
		o += (size_t)snprintf(cl_url + o, sizeof(cl_url) - o, "%s%s",
				i ? "," : "", addr[i]);
}

/* A store on the cluster with prefix. */
static af_store_t *cl_store(const char *prefix, uint32_t cmd_ms)
{
	af_redis_cfg_t cfg;
	char err[256];
	af_store_t *s;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(af_redis_parse_url(cl_url, &cfg, err, sizeof(err)), 0);
	snprintf(cfg.prefix, sizeof(cfg.prefix), "%s", prefix);
	cfg.connect_timeout_ms = 500;
	cfg.command_timeout_ms = cmd_ms;
	s = af_store_redis_new(&cfg);
	assert_non_null(s);
	return s;
}

/* The slot of the store key <prefix><kind>:{subj}. */
static int slot_of(const char *prefix, const char *kind, const char *subj)
{
	char k[256];
	int n = snprintf(k, sizeof(k), "%s%s:{%s}", prefix, kind, subj);

	return af_rds_key_slot(k, (size_t)n);
}

/* The port of the master serving slot now (CLUSTER SLOTS of a live
 * node); 0 when none. */
static int master_of(int slot)
{
	redisContext *c = NULL;
	redisReply *r, *e;
	size_t i;
	int port = 0, k;

	for(k = 0; k < NODES && !c; k++)
		if(s_node[k].pid > 0)
			c = raw(s_node[k].port);
	assert_non_null(c);
	r = redisCommand(c, "CLUSTER SLOTS");
	for(i = 0; r && i < r->elements; i++) {
		e = r->element[i];
		if(slot >= e->element[0]->integer && slot <= e->element[1]->integer)
			port = (int)e->element[2]->element[1]->integer;
	}
	if(r)
		freeReplyObject(r);
	redisFree(c);
	return port;
}

/* The node index of port. */
static int node_of(int port)
{
	int i;

	for(i = 0; i < NODES; i++)
		if(s_node[i].port == port)
			return i;
	fail_msg("no node on port %d", port);
	return -1;
}

/* a scenario of store_scenarios.h on an empty cluster */
static void test_scenario(void **state)
{
	const scn_t *scn = *state;
	af_store_t *s;

	need_cluster();
	s = cl_store("t:", 2000);
	scn->run(s);
	s->ops->destroy(s);
}

/* Runs ops[0..n) on a (shm) and b (cluster) and compares what the
 * callers read: status and outputs. */
static void both(af_store_t *a, af_store_t *b, af_op_t *ops, int n,
		uint64_t now)
{
	af_op_t x[16];
	int i;

	assert_true(n <= 16);
	memcpy(x, ops, (size_t)n * sizeof(*ops));
	assert_int_equal(af_store_exec(a, ops, n, now),
			af_store_exec(b, x, n, now));
	for(i = 0; i < n; i++) {
		assert_int_equal(ops[i].status, x[i].status);
		switch(ops[i].type) {
			case AF_OP_WIN_HIT:
				assert_int_equal(ops[i].u.win.count, x[i].u.win.count);
				assert_int_equal(ops[i].u.win.banned, x[i].u.win.banned);
				break;
			case AF_OP_CONC_ADD:
			case AF_OP_CONC_DEL:
			case AF_OP_CONC_COUNT:
				assert_int_equal(ops[i].u.conc.count, x[i].u.conc.count);
				assert_int_equal(ops[i].u.conc.admitted, x[i].u.conc.admitted);
				assert_int_equal(ops[i].u.conc.full, x[i].u.conc.full);
				assert_int_equal(ops[i].u.conc.found, x[i].u.conc.found);
				break;
			case AF_OP_BAN_GET:
				assert_int_equal(ops[i].u.ban_get.found, x[i].u.ban_get.found);
				if(ops[i].u.ban_get.found)
					assert_int_equal(ops[i].u.ban_get.ban.until_ms,
							x[i].u.ban_get.ban.until_ms);
				break;
			default:
				break;
		}
	}
}

static char KB[16] = "B";

/*
 * batches whose ops span slots answer as the shm store: if_new chains
 * across slots, gates and the all-or-nothing CONC_ADD group (a refusal
 * on one slot undoes the admission on the other), a stopping ban
 * before ops on other slots, a ban set through a hit on another slot
 */
static void test_cross_slot(void **state)
{
	af_store_shm_cfg_t scfg = {.max_entries = 4096, .stripes = 4};
	af_store_t *a, *b;
	af_op_t ops[8];
	uint64_t now = T0 + 5000;
	char mem[32];
	int i;

	need_cluster();
	/* B: a subject of a master other than A's */
	for(i = 0; master_of(slot_of("x:", "conc", "A"))
					== master_of(slot_of("x:", "conc", KB));
			i++)
		snprintf(KB, sizeof(KB), "B%d", i);
	/* the subjects used are on three different slots */
	assert_int_not_equal(slot_of("x:", "win", "pair|a|1"),
			slot_of("x:", "win", "acct|a"));
	assert_int_not_equal(slot_of("x:", "conc", "A"), slot_of("x:", "conc", KB));
	assert_int_not_equal(slot_of("x:", "ban", "192.0.2.7"),
			slot_of("x:", "win", "src|192.0.2.7"));
	assert_int_not_equal(master_of(slot_of("x:", "conc", "A")),
			master_of(slot_of("x:", "conc", KB)));
	a = af_store_shm_new(&scfg);
	assert_non_null(a);
	b = cl_store("x:", 2000);
	for(i = 0; i < 6; i++) {
		/* distinct numbers per account: a pair counts once, the
		 * account only when the pair is new; a chain of three */
		win_op(&ops[0], i % 2 ? "pair|a|1" : "pair|a|2", 1, 0, 0);
		win_op(&ops[1], "acct|a", 1, 0, 1);
		win_op(&ops[2], "acct2|a", 1, 0, 2);
		both(a, b, ops, 3, now + (uint64_t)i);
	}
	assert_int_equal(ops[1].u.win.count, 2);
	for(i = 0; i < 5; i++) {
		/* a gate on one slot keeps the call out of sets on others */
		win_op(&ops[0], "rate|a", 1, 3, 0);
		snprintf(mem, sizeof(mem), "call-g%d", i);
		conc_op(&ops[1], AF_OP_CONC_ADD, "A", mem, 10, 60);
		conc_op(&ops[2], AF_OP_CONC_ADD, KB, mem, 10, 60);
		both(a, b, ops, 3, now + 10 + (uint64_t)i);
		assert_int_equal(ops[1].u.conc.admitted, i < 3);
	}
	for(i = 0; i < 4; i++) {
		/* A holds 3, B 5: the fourth call fills A and is refused on
		 * A while B admitted it: B's admission is undone */
		snprintf(mem, sizeof(mem), "call-c%d", i);
		conc_op(&ops[0], AF_OP_CONC_ADD, "A", mem, 4, 60);
		conc_op(&ops[1], AF_OP_CONC_ADD, KB, mem, 6, 60);
		conc_op(&ops[2], AF_OP_CONC_ADD, KB, mem, 6, 60); /* duplicate */
		both(a, b, ops, 3, now + 20 + (uint64_t)i);
		assert_int_equal(ops[0].u.conc.admitted, i < 1);
	}
	assert_int_equal(af_store_redis_rollbacks(b), 3);
	assert_int_equal(conc_count(b, KB), 4);
	/* a call already in B (refreshed there) that A refuses stays in B */
	conc_op(&ops[0], AF_OP_CONC_ADD, "A", "call-x", 4, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, KB, "call-g0", 6, 60);
	both(a, b, ops, 2, now + 30);
	assert_int_equal(ops[0].u.conc.admitted, 0);
	assert_int_equal(conc_count(b, KB), 4);
	assert_int_equal(conc_del(b, KB, "call-g0", NULL), 1);
	assert_int_equal(conc_del(a, KB, "call-g0", NULL), 1);
	/* two members of one set on a slot, one there before: which one
	 * was new is not known, both are left in (to leave or age out):
	 * stricter, never over */
	conc_op(&ops[0], AF_OP_CONC_ADD, "A", "call-g1", 4, 60);
	conc_op(&ops[1], AF_OP_CONC_ADD, KB, "call-new", 6, 60);
	conc_op(&ops[2], AF_OP_CONC_ADD, "A", "call-x", 4, 60);
	conc_op(&ops[3], AF_OP_CONC_ADD, KB, "call-c0", 6, 60);
	both(a, b, ops, 4, now + 31);
	assert_int_equal(ops[0].u.conc.admitted, 0);
	assert_int_equal(conc_count(b, KB), 4);
	assert_int_equal(conc_del(b, KB, "call-new", NULL), 1);
	assert_int_equal(conc_del(b, KB, "call-c0", NULL), 1);
	assert_int_equal(conc_del(a, KB, "call-c0", NULL), 1);
	/* a ban on the source stops the ops of other slots after it */
	ban_set(a, "192.0.2.7", 600, "manual");
	ban_set(b, "192.0.2.7", 600, "manual");
	memset(&ops[0], 0, sizeof(ops[0]));
	ops[0].type = AF_OP_BAN_GET;
	ops[0].key = "192.0.2.7";
	ops[0].key_len = 9;
	ops[0].u.ban_get.stop = 1;
	win_op(&ops[1], "src|192.0.2.7", 1, 0, 0);
	conc_op(&ops[2], AF_OP_CONC_ADD, "A", "call-b", 10, 60);
	both(a, b, ops, 3, now + 40);
	assert_int_equal(ops[1].status, 1);
	assert_int_equal(win_hit(b, "src|192.0.2.7", 60, 0), 0);
	/* a hit that bans another subject (on another slot): once */
	for(i = 0; i < 4; i++) {
		win_op(&ops[0], "fail|198.51.100.9", 1, 0, 0);
		ops[0].u.win.ban_threshold = 3;
		ops[0].u.win.ban_s = 300;
		ops[0].u.win.ban_key = "198.51.100.9";
		ops[0].u.win.ban_key_len = strlen("198.51.100.9");
		ops[0].u.win.ban_reason = "auth failures";
		both(a, b, ops, 1, now + 50 + (uint64_t)i);
		assert_int_equal(ops[0].u.win.banned, i == 2);
	}
	assert_int_equal(ban_get(b, "198.51.100.9", NULL), 1);
	a->ops->destroy(a);
	b->ops->destroy(b);
}

/* a slot migrated under the store: ASK while it moves (a key not yet
 * on the source), MOVED after (the store's map still names the source);
 * the counts follow the keys */
/* Marks slot as migrating from master src to master dst (both sides
 * told); dst's node id into dst_id (64 bytes). */
static void begin_migration(int slot, int src, int dst, char *dst_id)
{
	char src_id[64];
	redisContext *cs = raw(src), *cd = raw(dst);
	redisReply *r;

	r = rcmd(cs, 1, "CLUSTER MYID");
	snprintf(src_id, sizeof(src_id), "%s", r->str);
	freeReplyObject(r);
	r = rcmd(cd, 1, "CLUSTER MYID");
	snprintf(dst_id, 64, "%s", r->str);
	freeReplyObject(r);
	rcmd(cd, 0, "CLUSTER SETSLOT %d IMPORTING %s", slot, src_id);
	rcmd(cs, 0, "CLUSTER SETSLOT %d MIGRATING %s", slot, dst_id);
	redisFree(cs);
	redisFree(cd);
}

/* Ends the migration of slot from node src to dst: its keys moved, every
 * live node told that dst_id serves it. */
static void end_migration(int slot, int src, int dst, const char *dst_id)
{
	redisContext *c;
	redisReply *r, *k;
	size_t j;
	int i;

	c = redisConnect("127.0.0.1", src);
	r = c ? redisCommand(c, "CLUSTER GETKEYSINSLOT %d 100", slot) : NULL;
	for(j = 0; r && j < r->elements; j++) {
		k = redisCommand(c, "MIGRATE 127.0.0.1 %d %s 0 5000", dst,
				r->element[j]->str);
		if(k)
			freeReplyObject(k);
	}
	if(r)
		freeReplyObject(r);
	if(c)
		redisFree(c);
	for(i = 0; i < NODES; i++) {
		if(s_node[i].pid <= 0)
			continue;
		c = redisConnect("127.0.0.1", s_node[i].port);
		r = c ? redisCommand(c, "CLUSTER SETSLOT %d NODE %s", slot, dst_id)
			  : NULL;
		if(r)
			freeReplyObject(r);
		if(c)
			redisFree(c);
	}
}

static void test_migration(void **state)
{
	char id_dst[64], other[64];
	const char *subj = "mig|alice";
	af_store_t *s;
	redisContext *src, *dst;
	redisReply *r;
	int slot = slot_of("m:", "win", subj), ps, pd, i;

	need_cluster();
	s = cl_store("m:", 2000);
	test_host_set_now(T0 + 100000);
	assert_int_equal(win_hit(s, subj, 600, 2), 2);
	ps = master_of(slot);
	pd = master_of((slot + 8000) % 16384);
	if(pd == ps)
		pd = master_of((slot + 12000) % 16384);
	assert_int_not_equal(ps, pd);
	begin_migration(slot, ps, pd, id_dst);
	src = raw(ps);
	dst = raw(pd);
	/* a key still on the source is served there */
	assert_int_equal(win_hit(s, subj, 600, 0), 2);
	/* a new key of the slot is not on the source: ASK, ASKING, the
	 * target */
	for(i = 0; i < 1000000; i++) {
		snprintf(other, sizeof(other), "mig|%d", i);
		if(slot_of("m:", "win", other) == slot)
			break;
	}
	assert_int_equal(win_hit(s, other, 600, 1), 1);
	rcmd(dst, 0, "ASKING");
	r = rcmd(dst, 1, "EXISTS m:" RDS_LAYOUT "win:{%s}", other);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	end_migration(slot, ps, pd, id_dst);
	/* the store's map still names the source: MOVED, then the target */
	assert_int_equal(win_hit(s, subj, 600, 1), 3);
	assert_int_equal(win_hit(s, subj, 600, 1), 4);
	r = rcmd(dst, 1, "EXISTS m:" RDS_LAYOUT "win:{%s}", subj);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(src);
	redisFree(dst);
	test_host_set_now(0);
	s->ops->destroy(s);
}

/* ---- sub-batches of several slots on one master ---- */

static int g_map[RDS_CL_SLOTS]; /* slot -> its master's port */

/* Reads the slot map (CLUSTER SLOTS of a live node) into g_map. */
static void load_map(void)
{
	redisContext *c = NULL;
	redisReply *r, *e;
	size_t i;
	long long s;
	int k;

	for(k = 0; k < NODES && !c; k++)
		if(s_node[k].pid > 0)
			c = raw(s_node[k].port);
	assert_non_null(c);
	memset(g_map, 0, sizeof(g_map));
	r = rcmd(c, 1, "CLUSTER SLOTS");
	for(i = 0; i < r->elements; i++) {
		e = r->element[i];
		for(s = e->element[0]->integer; s <= e->element[1]->integer; s++)
			g_map[s] = (int)e->element[2]->element[1]->integer;
	}
	freeReplyObject(r);
	redisFree(c);
}

/* Writes into out (32 bytes) a subject fmt%d whose key of kind (prefix
 * "g:") is on master port (0: any) and on none of the slots used[0..n);
 * its slot is added to used. */
static void pick(char *out, const char *fmt, const char *kind, int port,
		int *used, int *n)
{
	int i, j, s, dup;

	for(i = 0; i < 100000; i++) {
		snprintf(out, 32, fmt, i);
		s = slot_of("g:", kind, out);
		for(j = 0, dup = 0; j < *n; j++)
			dup |= used[j] == s;
		if(!dup && (!port || g_map[s] == port)) {
			used[(*n)++] = s;
			return;
		}
	}
	fail_msg("no subject for %s on %d", fmt, port);
}

/* The named counter of the node's INFO section (e.g. commandstats,
 * "cmdstat_evalsha:calls="), summed over the live nodes (port 0) or of
 * one; 0 when absent. */
static long node_stat(int port, const char *section, const char *name)
{
	redisContext *c;
	redisReply *r;
	const char *p;
	long n = 0;
	int i;

	for(i = 0; i < NODES; i++) {
		if(s_node[i].pid <= 0 || (port && s_node[i].port != port))
			continue;
		c = raw(s_node[i].port);
		r = rcmd(c, 1, "INFO %s", section);
		p = strstr(r->str, name);
		if(p)
			n += atol(p + strlen(name));
		freeReplyObject(r);
		redisFree(c);
	}
	return n;
}

#define FCALL_CALLS(port) \
	node_stat(port, "commandstats", "cmdstat_fcall:calls=")

/*
 * a batch whose ops are on five slots of one master is one FCALL
 * (keys of several slots, the function's allow-cross-slot-keys), and
 * answers as the shm store: a stopping ban looked up, an if_new chain,
 * a hit that bans another subject, the CONC_ADD group
 */
static void test_group_one_master(void **state)
{
	af_store_shm_cfg_t scfg = {.max_entries = 4096, .stripes = 4};
	char s0[32], w1[32], w2[32], w3[32], b1[32], c1[32], mem[32];
	int used[8], nu = 0, port, i;
	uint64_t now = T0 + 300000;
	af_store_t *a, *b;
	af_op_t ops[8];
	long calls;

	need_cluster();
	load_map();
	port = g_map[slot_of("g:", "ban", "src")];
	pick(s0, "src%d", "ban", port, used, &nu);
	pick(w1, "pair%d", "win", port, used, &nu);
	pick(w2, "acct%d", "win", port, used, &nu);
	pick(w3, "fail%d", "win", port, used, &nu);
	pick(b1, "10.0.0.%d", "ban", port, used, &nu);
	pick(c1, "trunk%d", "conc", port, used, &nu);
	a = af_store_shm_new(&scfg);
	assert_non_null(a);
	b = cl_store("g:", 2000);
	assert_int_equal(win_hit(b, "warm", 60, 0), 0); /* connected */
	calls = FCALL_CALLS(0);
	for(i = 0; i < 5; i++) {
		memset(&ops[0], 0, sizeof(ops[0]));
		ops[0].type = AF_OP_BAN_GET;
		ops[0].key = s0;
		ops[0].key_len = strlen(s0);
		ops[0].u.ban_get.stop = 1;
		win_op(&ops[1], w1, 1, 0, 0);
		win_op(&ops[2], w2, 1, 0, 2);
		win_op(&ops[3], w3, 1, 0, 0);
		ops[3].u.win.ban_threshold = 3;
		ops[3].u.win.ban_s = 300;
		ops[3].u.win.ban_key = b1;
		ops[3].u.win.ban_key_len = strlen(b1);
		ops[3].u.win.ban_reason = "failures";
		snprintf(mem, sizeof(mem), "call%d", i);
		conc_op(&ops[4], AF_OP_CONC_ADD, c1, mem, 3, 60);
		both(a, b, ops, 5, now + (uint64_t)i);
		assert_int_equal(ops[2].u.win.count, 1); /* w1 new once */
		assert_int_equal(ops[3].u.win.banned, i == 2);
		assert_int_equal(ops[4].u.conc.admitted, i < 3);
	}
	assert_int_equal(FCALL_CALLS(0) - calls, 5);
	/* a ban found stops the batch there, in the same call */
	test_host_set_now(now + 10);
	assert_int_equal(ban_set(a, s0, 600, "manual"), 0);
	assert_int_equal(ban_set(b, s0, 600, "manual"), 0);
	calls = FCALL_CALLS(0);
	win_op(&ops[1], w1, 1, 0, 0);
	both(a, b, ops, 5, now + 10);
	assert_int_equal(FCALL_CALLS(0) - calls, 1);
	assert_int_equal(ops[0].u.ban_get.found, 1);
	assert_int_equal(ops[1].status, 1);
	assert_int_equal(ops[4].status, 1);
	test_host_set_now(0);
	a->ops->destroy(a);
	b->ops->destroy(b);
}

/* end_migration after ms, in a child, so that the store's call waits
 * meanwhile. */
static pid_t finish_migration(int slot, int src, int dst, const char *dst_id,
		int ms)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if(pid)
		return pid;
	usleep((useconds_t)ms * 1000);
	end_migration(slot, src, dst, dst_id);
	_exit(0);
}

/*
 * a slot migrating inside a group: the sub-batch of several slots is
 * refused by the source before it writes anything (a key of the slot
 * is not there), then sent per slot: -ASK to the target for a new key;
 * -TRYAGAIN from the source for a sub-batch with keys of the slot both
 * there and not (until the migration ends: -MOVED); the other slot's
 * ops count once
 */
static void test_group_migrating(void **state)
{
	af_store_shm_cfg_t scfg = {.max_entries = 4096, .stripes = 4};
	char p[32], q[32], q2[32], c1[32], c2[32], c3[32], id_dst[64];
	int used[8], nu = 0, ps, pd, sq, i, j, wst;
	uint64_t now = T0 + 400000;
	af_store_t *a, *b;
	redisContext *src, *dst;
	redisReply *r;
	af_op_t ops[4];
	long tries;
	pid_t pid;

	need_cluster();
	load_map();
	ps = g_map[slot_of("g:", "win", "mp")];
	pick(p, "mp%d", "win", ps, used, &nu);
	pick(q, "mq%d", "win", ps, used, &nu);
	sq = used[1];
	for(i = 0; i < 100000; i++) {
		snprintf(q2, sizeof(q2), "mq2-%d", i);
		if(slot_of("g:", "win", q2) == sq)
			break;
	}
	pd = g_map[(sq + 5462) % 16384];
	if(pd == ps)
		pd = g_map[(sq + 10924) % 16384];
	assert_int_not_equal(pd, ps);
	a = af_store_shm_new(&scfg);
	assert_non_null(a);
	b = cl_store("g:", 3000);
	test_host_set_now(now);
	assert_int_equal(win_hit(a, q, 60, 1), 1);
	assert_int_equal(win_hit(b, q, 60, 1), 1);
	begin_migration(sq, ps, pd, id_dst);
	src = raw(ps);
	dst = raw(pd);
	/* a new key of the migrating slot: ASK; q still on the source */
	win_op(&ops[0], p, 1, 0, 0);
	win_op(&ops[1], q, 1, 0, 0);
	win_op(&ops[2], q2, 1, 0, 1);
	both(a, b, ops, 3, now);
	assert_int_equal(ops[1].u.win.count, 2);
	assert_int_equal(ops[2].u.win.count, 1);
	rcmd(dst, 0, "ASKING");
	r = rcmd(dst, 1, "EXISTS g:" RDS_LAYOUT "win:{%s}", q2);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	r = rcmd(src, 1, "EXISTS g:" RDS_LAYOUT "win:{%s}", q);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	/* a CONC_ADD group on two masters, one master's part on two slots
	 * (one migrating): that part is sent again per slot; the other
	 * master's set is full, so the members admitted on both slots are
	 * removed again (exact: the counts before were read with them) */
	pick(c1, "mc%d", "conc", ps, used, &nu);
	pick(c3, "mc3-%d", "conc", pd, used, &nu);
	for(i = 0; i < 100000; i++) {
		snprintf(c2, sizeof(c2), "mc2-%d", i);
		if(slot_of("g:", "conc", c2) == sq)
			break;
	}
	for(j = 0; j < 2; j++) {
		conc_op(&ops[0], AF_OP_CONC_ADD, c3, j ? "call-y" : "call-x", 1, 60);
		conc_op(&ops[1], AF_OP_CONC_ADD, c1, j ? "call-y" : "call-x", 5, 60);
		conc_op(&ops[2], AF_OP_CONC_ADD, c2, j ? "call-y" : "call-x", 5, 60);
		both(a, b, ops, 3, now);
		assert_int_equal(ops[1].u.conc.admitted, j == 0);
		assert_int_equal(ops[2].u.conc.count, 1);
	}
	assert_int_equal(conc_count(b, c1), 1);
	assert_int_equal(conc_count(b, c2), 1);
	/* q's ban key is on neither node, its window on the source: the
	 * source says TRYAGAIN until the migration ends */
	tries = node_stat(ps, "errorstats", "errorstat_TRYAGAIN:count=");
	pid = finish_migration(sq, ps, pd, id_dst, 300);
	memset(&ops[0], 0, sizeof(ops[0]));
	ops[0].type = AF_OP_BAN_GET;
	ops[0].key = q;
	ops[0].key_len = strlen(q);
	win_op(&ops[1], q, 1, 0, 0);
	win_op(&ops[2], p, 1, 0, 0);
	both(a, b, ops, 3, now + 1);
	assert_int_equal(ops[1].u.win.count, 3);
	assert_int_equal(ops[2].u.win.count, 2);
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(node_stat(ps, "errorstats", "errorstat_TRYAGAIN:count=")
				> tries);
	/* after it: the map names the target (MOVED), the counts go on */
	assert_int_equal(win_hit(b, q, 60, 0), 3);
	assert_int_equal(win_hit(b, p, 60, 0), 2);
	redisFree(src);
	redisFree(dst);
	test_host_set_now(0);
	a->ops->destroy(a);
	b->ops->destroy(b);
}

/* a random number below n (a fixed sequence) */
static unsigned g_seed = 12345;
static int rnd(int n)
{
	g_seed = g_seed * 1103515245u + 12345u;
	return (int)((g_seed >> 16) % (unsigned)n);
}

/*
 * exactness across 3 masters: random batches as the checks make them
 * (stopping ban lookups, hits with if_new chains, gates and bans of
 * other subjects, then a CONC_ADD group) over subjects spread on every
 * master answer as the shm store, op by op; the FCALL calls per
 * batch are printed
 */
static void test_group_exact(void **state)
{
	af_store_shm_cfg_t scfg = {.max_entries = 8192, .stripes = 4};
	static char subj[12][16], mem[400][16];
	int i, j, k, n, nb, nw, nc, wins[8], masters[3] = {0}, nm = 0;
	uint64_t now = T0 + 500000;
	af_store_t *a, *b;
	af_op_t ops[16];
	unsigned char conc_used[12];
	long calls;

	need_cluster();
	load_map();
	for(i = 0; i < 12; i++) {
		snprintf(subj[i], sizeof(subj[i]), "e%d", i);
		for(j = 0, k = g_map[slot_of("e:", "win", subj[i])]; j < nm; j++)
			if(masters[j] == k)
				break;
		if(j == nm && nm < 3)
			masters[nm++] = k;
	}
	assert_int_equal(nm, 3); /* the subjects are on every master */
	a = af_store_shm_new(&scfg);
	assert_non_null(a);
	b = cl_store("e:", 2000);
	calls = FCALL_CALLS(0);
	for(i = 0; i < 400; i++) {
		now += 3000;
		test_host_set_now(now);
		if(rnd(10) == 0) {
			k = rnd(12);
			assert_int_equal(ban_set(a, subj[k], 20, "manual"), 0);
			assert_int_equal(ban_set(b, subj[k], 20, "manual"), 0);
		}
		n = 0;
		nb = rnd(3);
		for(j = 0; j < nb; j++, n++) {
			memset(&ops[n], 0, sizeof(ops[n]));
			ops[n].type = AF_OP_BAN_GET;
			ops[n].key = subj[rnd(12)];
			ops[n].key_len = strlen(ops[n].key);
			ops[n].u.ban_get.stop = rnd(3) == 0;
		}
		nw = 1 + rnd(5);
		for(j = 0; j < nw; j++, n++) {
			win_op(&ops[n], subj[rnd(12)], 1 + (uint32_t)rnd(2),
					rnd(3) ? 0 : 2 + (uint32_t)rnd(6),
					j && rnd(2) ? wins[rnd(j)] + 1 : 0);
			wins[j] = n;
			if(rnd(3) == 0) {
				ops[n].u.win.ban_threshold = 3 + (uint32_t)rnd(5);
				ops[n].u.win.ban_s = 10;
				ops[n].u.win.ban_key = subj[rnd(12)];
				ops[n].u.win.ban_key_len = strlen(ops[n].u.win.ban_key);
				ops[n].u.win.ban_reason = "rate";
			}
		}
		nc = rnd(4);
		memset(conc_used, 0, sizeof(conc_used));
		for(j = 0; j < nc; j++) {
			k = rnd(12);
			if(conc_used[k])
				continue;
			conc_used[k] = 1;
			snprintf(mem[i], sizeof(mem[i]), "c%d", i);
			conc_op(&ops[n++], AF_OP_CONC_ADD, subj[k], mem[i],
					1 + (uint32_t)rnd(4), 10);
		}
		both(a, b, ops, n, now);
	}
	print_message("400 random batches on 3 masters: %.2f FCALL per"
				  " batch, %lu rollbacks\n",
			(double)(FCALL_CALLS(0) - calls) / 400,
			(unsigned long)af_store_redis_rollbacks(b));
	test_host_set_now(0);
	a->ops->destroy(a);
	b->ops->destroy(b);
}

/* list callbacks: count into *arg */
static int count_ban(const char *key, size_t len, const af_ban_t *ban,
		void *arg)
{
	(*(long *)arg)++;
	return 0;
}

static int count_conc(const char *key, size_t len, uint32_t count, void *arg)
{
	(*(long *)arg)++;
	return 0;
}

/* lists and forget over every master; the dry run; forget's scenario */
static void test_lists(void **state)
{
	af_store_t *s;
	char key[32];
	af_op_t op;
	int i;
	long n;

	need_cluster();
	s = cl_store("l:", 2000);
	for(i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "192.0.2.%d", i);
		assert_int_equal(ban_set(s, key, 600, "listed"), 0);
		snprintf(key, sizeof(key), "set%d", i);
		conc_op(&op, AF_OP_CONC_ADD, key, "m", 0, 60);
		assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	}
	n = 0;
	assert_int_equal(s->ops->ban_list(s, count_ban, &n, af_now_ms()), 0);
	assert_int_equal(n, 30);
	n = 0;
	assert_int_equal(
			s->ops->conc_list(s, "set1", 4, count_conc, &n, af_now_ms()), 0);
	assert_int_equal(n, 11); /* set1, set10..set19 */
	s->ops->destroy(s);
	need_cluster();
	s = cl_store("f:", 2000);
	fs_run(s);
	s->ops->destroy(s);
	need_cluster();
	s = cl_store("d:", 2000);
	ds_run(s);
	s->ops->destroy(s);
}

static long *ps_page;

/* subscriber: counts the messages */
static void ps_cb(const char *msg, size_t len, void *arg)
{
	ps_page[1]++;
}

static int ps_stop(void *arg)
{
	return ps_page[1] >= 2 || ps_page[0];
}

/* a message published through one master reaches a subscriber on
 * another node */
static void test_pubsub(void **state)
{
	af_store_t *s;
	pid_t pid;
	int i, wst, rc = 0;

	need_cluster();
	s = cl_store("ps:", 2000);
	ps_page = shared_page();
	pid = fork();
	assert_true(pid >= 0);
	if(pid == 0)
		_exit(af_store_redis_subscribe(s, ps_cb, NULL, ps_stop, 20) == 0 ? 0
																		 : 1);
	for(i = 0; i < 500 && rc < 1; i++) {
		rc = af_store_redis_publish(s, "hello", 5);
		assert_true(rc >= 0);
		if(rc < 1)
			usleep(10000);
	}
	/* the receivers counted are those of the node it went through; the
	 * message reaches the others too */
	for(i = 0; i < 200 && ps_page[1] < 1; i++) {
		af_store_redis_publish(s, "hello", 5);
		usleep(10000);
	}
	af_store_redis_publish(s, "again", 5);
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 0);
	assert_true(ps_page[1] >= 2);
	munmap(ps_page, 4096);
	s->ops->destroy(s);
}

/*
 * concurrent admissions across slots: P processes add calls to (A, B)
 * or (B, C) and remove them; no set ever goes over its limit. The same
 * load with the three sets on one slot (hash tag "s}") gives the
 * refusals the atomic group makes; the difference is what the phased
 * admission adds (B refusing while a tentative member of a call that A
 * refused is in it).
 */
static void race(const char *prefix, const char *sa, const char *sb,
		const char *sc, long *out)
{
	long *page = shared_page();
	pid_t pids[4];
	int p, i, wst;

	for(p = 0; p < 4; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if(pids[p] == 0) {
			af_store_t *s = cl_store(prefix, 2000);
			af_op_t ops[2], del[2];
			char mem[32];
			const char *k1 = p % 2 ? sa : sc, *k2 = sb;
			uint32_t l1 = p % 2 ? 2 : 50;
			int bad = 0;

			for(i = 0; i < 300; i++) {
				snprintf(mem, sizeof(mem), "p%d-c%d", p, i);
				conc_op(&ops[0], AF_OP_CONC_ADD, k1, mem, l1, 60);
				conc_op(&ops[1], AF_OP_CONC_ADD, k2, mem, 3, 60);
				if(af_store_exec(s, ops, 2, af_now_ms()) != 0) {
					bad++;
					continue;
				}
				if(ops[0].u.conc.count > l1 || ops[1].u.conc.count > 3)
					bad++;
				if(!ops[0].u.conc.admitted) {
					__atomic_add_fetch(&page[p % 2 ? 2 : 4], 1,
							__ATOMIC_RELAXED);
					continue;
				}
				__atomic_add_fetch(&page[p % 2 ? 1 : 3], 1, __ATOMIC_RELAXED);
				conc_op(&del[0], AF_OP_CONC_DEL, k1, mem, 0, 0);
				conc_op(&del[1], AF_OP_CONC_DEL, k2, mem, 0, 0);
				if(af_store_exec(s, del, 2, af_now_ms()) != 0
						|| !del[0].u.conc.found || !del[1].u.conc.found)
					bad++;
			}
			__atomic_add_fetch(&page[5], bad, __ATOMIC_RELAXED);
			__atomic_add_fetch(&page[6], (long)af_store_redis_rollbacks(s),
					__ATOMIC_RELAXED);
			_exit(0);
		}
	}
	for(p = 0; p < 4; p++) {
		assert_int_equal(waitpid(pids[p], &wst, 0), pids[p]);
		assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
	}
	memcpy(out, page, 8 * sizeof(long));
	munmap(page, 4096);
}

static void test_race(void **state)
{
	long one[8], many[8];
	af_store_t *s;

	need_cluster();
	race("r1:", "s}A", "s}B", "s}C", one);
	race("r3:", "A", "B", "C", many);
	print_message("admission race, 4 processes x 300 calls, (A:2,B:3) and"
				  " (C:50,B:3): one slot: %ld/%ld admitted (A,B), %ld/%ld"
				  " (C,B); across slots: %ld/%ld (A,B), %ld/%ld (C,B),"
				  " %ld rollbacks\n",
			one[1], one[1] + one[2], one[3], one[3] + one[4], many[1],
			many[1] + many[2], many[3], many[3] + many[4], many[6]);
	assert_int_equal(one[5], 0);
	assert_int_equal(many[5], 0); /* never over a limit, no failure */
	assert_int_equal(one[6], 0);
	assert_true(one[1] > 0 && many[1] > 0 && one[3] > 0 && many[3] > 0);
	/* every set empty at the end */
	s = cl_store("r3:", 2000);
	assert_int_equal(conc_count(s, "A"), 0);
	assert_int_equal(conc_count(s, "B"), 0);
	assert_int_equal(conc_count(s, "C"), 0);
	s->ops->destroy(s);
}

/*
 * a master killed: calls to its slots fail until its replica takes over
 * (the store asks the map again), then the counts it had go on; the
 * breaker's ping fails meanwhile
 */
static void test_failover(void **state)
{
	const char *subj = "fo|bob";
	int slot = slot_of("fo:", "win", subj), port, k, i, ok = 0;
	redisContext *c;
	redisReply *r;
	af_store_t *s;
	char err[256];
	uint64_t t0;

	need_cluster();
	s = cl_store("fo:", 300);
	test_host_set_now(T0 + 200000);
	assert_int_equal(win_hit(s, subj, 600, 5), 5);
	port = master_of(slot);
	c = raw(port);
	r = rcmd(c, 1, "WAIT 1 2000");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(c);
	k = node_of(port);
	srv_kill(&s_node[k]);
	t0 = (uint64_t)time(NULL);
	for(i = 0; i < 400 && !ok; i++) {
		af_op_t op;

		win_op(&op, subj, 1, 0, 0);
		op.u.win.window_s = 600;
		ok = af_store_exec(s, &op, 1, af_now_ms()) == 0;
		if(ok)
			assert_int_equal(op.u.win.count, 6);
		else
			usleep(20000);
	}
	assert_true(ok);
	print_message("failover: a call on the killed master's slots was"
				  " checked again after %d tries (%lu s)\n",
			i, (unsigned long)((uint64_t)time(NULL) - t0));
	assert_int_not_equal(master_of(slot), port);
	wait_ok();
	assert_int_equal(af_store_redis_ping(s, err, sizeof(err)), 0);
	assert_int_equal(win_hit(s, subj, 600, 1), 7);
	test_host_set_now(0);
	s->ops->destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_url),
		SCN_TESTS(test_scenario),
		cmocka_unit_test(test_cross_slot),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_group_one_master),
		cmocka_unit_test(test_group_migrating),
		cmocka_unit_test(test_group_exact),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_pubsub),
		cmocka_unit_test(test_race),
		cmocka_unit_test(test_failover),
	};

	test_host_init();
	atexit(cleanup);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
