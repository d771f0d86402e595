/*
 * antifraud fuzzing - what the Redis store reads from the server: the
 * batch script's reply (rds_parse, the decoder every check goes
 * through), a ban's stored value as the ban list reads it
 * (rds_ban_value), pub/sub messages
 * (rds_sub_deliver) and INFO text (rds_info_field).
 *
 * Those readers are static: the store's sources that hold them are
 * compiled into this harness (the archive's copies of them are then
 * never linked).
 *
 * Input: byte 0 low bits: number of ops (1..8); bit 3: the rest is raw
 * RESP, read by hiredis's own reader into a reply tree, else it is the
 * body of the batch script's string reply; then one byte per op: its
 * code as rds_check would have given it (modulo 13, minus 1; a
 * FIG_MULTI's window count in the rest: see below); the rest is the
 * reply.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "af_store_redis_batch.c"
#include "af_store_redis_pubsub.c"
#include "af_store_redis.c"
#include "fuzz_host.h"

#define FZ_OPS_MAX 8

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_host_init();
	return 0;
}

static void on_message(const char *msg, size_t len, void *arg)
{
	size_t *total = arg;

	if(len && !msg)
		abort();
	*total += len;
}

/* the reply's strings read as the ban list reads a ban's value */
static void list_elements(const redisReply *r)
{
	af_ban_t ban;
	size_t i;

	if(r->type != REDIS_REPLY_ARRAY)
		return;
	for(i = 0; i < r->elements; i++) {
		if(r->element[i]->type != REDIS_REPLY_STRING)
			continue;
		memset(&ban, 0, sizeof(ban));
		if(rds_ban_value(r->element[i]->str, r->element[i]->len, &ban) == 0
				&& ban.reason[AF_BAN_REASON - 1] != '\0')
			abort();
	}
}

/*
 * 1 when an array header of the RESP text announces more than 4096
 * elements: hiredis (0.14) allocates what the server announces, a
 * server trusted with the store's data, not what is tested here.
 */
static int huge_array(const uint8_t *d, size_t size)
{
	unsigned long long v;
	size_t i;

	for(i = 0; i < size; i++) {
		if(d[i] != '*')
			continue;
		for(v = 0, i++; i < size && d[i] >= '0' && d[i] <= '9'; i++)
			if((v = v * 10 + (d[i] - '0')) > 4096)
				return 1;
	}
	return 0;
}

/* checks what rds_parse wrote into ops against the contract */
static void check_ops(const af_op_t *ops, int n, int done, int stopped)
{
	int i;

	if(done < 0 || done > n || (stopped != 0 && stopped != 1)
			|| (!stopped && done != n))
		abort();
	for(i = 0; i < done; i++)
		if(ops[i].status < -1 || ops[i].status > 1)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	af_op_t ops[FZ_OPS_MAX];
	signed char code[FZ_OPS_MAX];
	redisReply str, *r = NULL;
	redisReader *rd;
	void *reply = NULL;
	size_t total = 0;
	char *info;
	int n, i, resp, done = 0, stopped = 0;

	if(size < 1)
		return 0;
	n = (data[0] & 7) + 1;
	resp = data[0] & 8;
	if(size < 1 + (size_t)n)
		return 0;
	memset(ops, 0, sizeof(ops));
	for(i = 0; i < n; i++) {
		code[i] = (signed char)(data[1 + i] % 13) - 1; /* -1 .. 11 */
		ops[i].type = AF_OP_BAN_GET;
		if(code[i] == RDS_C_FIG_MULTI) {
			/* its windows, which the answer's slots must name: 1 to
			 * AF_FIG_WIN_MAX by the byte's high part */
			ops[i].type = AF_OP_FIG_MULTI;
			ops[i].u.fig.nwin = 1 + (data[1 + i] / 13) % AF_FIG_WIN_MAX;
			ops[i].u.fig.w[0].window_s = 900;
			ops[i].u.fig.w[1].window_s = 3600;
			ops[i].u.fig.w[2].window_s = 86400;
		}
	}
	data += 1 + n;
	size -= 1 + (size_t)n;
	if(!resp) {
		memset(&str, 0, sizeof(str));
		str.type = REDIS_REPLY_STRING;
		str.str = (char *)data;
		str.len = size;
		if(rds_parse(&str, ops, n, code, &done, &stopped) == 0)
			check_ops(ops, n, done, stopped);
		return 0;
	}
	if(huge_array(data, size))
		return -1;
	rd = redisReaderCreate();
	if(!rd)
		abort();
	if(redisReaderFeed(rd, (const char *)data, size) == REDIS_OK
			&& redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
		r = reply;
		if(rds_parse(r, ops, n, code, &done, &stopped) == 0)
			check_ops(ops, n, done, stopped);
		rds_sub_deliver(r, on_message, &total);
		list_elements(r);
		(void)af_rds_is(r, "OK");
		if(r->type == REDIS_REPLY_STRING
				|| r->type == REDIS_REPLY_STATUS) {
			info = strndup(r->str, r->len);
			if(!info)
				abort();
			(void)rds_info_field(info, "evicted_keys");
			free(info);
		}
		freeReplyObject(r);
	}
	redisReaderFree(rd);
	return 0;
}
