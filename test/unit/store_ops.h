/*
 * antifraud unit tests - one-op helpers over the store interface, shared
 * by the tests of both backends (test_store.c, test_store_redis.c).
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_TEST_STORE_OPS_H
#define AF_TEST_STORE_OPS_H

/* One WIN_HIT of n on key over window_s seconds; returns the total. */
static inline uint32_t win_hit(af_store_t *s, const char *key, uint32_t window_s,
		uint32_t n)
{
	af_op_t op = {.type = AF_OP_WIN_HIT, .key = key, .key_len = strlen(key)};

	op.u.win.window_s = window_s;
	op.u.win.n = n;
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	assert_int_equal(op.status, 0);
	return op.u.win.count;
}

/* WIN_HIT of 1 that bans key after thr hits; returns banned, count in
 * *count. */
static inline int win_hit_ban(af_store_t *s, const char *key, const char *ban_key,
		uint32_t thr, uint32_t *count)
{
	af_op_t op = {.type = AF_OP_WIN_HIT, .key = key, .key_len = strlen(key)};

	op.u.win.window_s = 60;
	op.u.win.n = 1;
	op.u.win.ban_threshold = thr;
	op.u.win.ban_s = 300;
	op.u.win.ban_key = ban_key;
	op.u.win.ban_key_len = ban_key ? strlen(ban_key) : 0;
	op.u.win.ban_reason = "scanner";
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	if(count)
		*count = op.u.win.count;
	return op.u.win.banned;
}

/* Bans key for ttl_s seconds; returns the exec result. */
static inline int ban_set(af_store_t *s, const char *key, uint32_t ttl_s,
		const char *reason)
{
	af_op_t op = {.type = AF_OP_BAN_SET, .key = key, .key_len = strlen(key)};

	op.u.ban_set.ttl_s = ttl_s;
	op.u.ban_set.reason = reason;
	return af_store_exec(s, &op, 1, af_now_ms());
}

/* Looks key up in the ban table; copies the ban into out (may be NULL). */
static inline int ban_get(af_store_t *s, const char *key, af_ban_t *out)
{
	af_op_t op = {.type = AF_OP_BAN_GET, .key = key, .key_len = strlen(key)};

	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	if(out && op.u.ban_get.found)
		*out = op.u.ban_get.ban;
	return op.u.ban_get.found;
}

/* Lifts the ban of key; returns whether there was one. */
static inline int ban_del(af_store_t *s, const char *key)
{
	af_op_t op = {.type = AF_OP_BAN_DEL, .key = key, .key_len = strlen(key)};

	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	return op.u.ban_del.found;
}

/* Fills op as a HIST_PUSH of IPv4 10.0.0.d from country cc into key's
 * history. */
static inline void hist_op(af_op_t *op, const char *key, uint8_t d,
		const char *cc, uint32_t ttl_s)
{
	memset(op, 0, sizeof(*op));
	op->type = AF_OP_HIST_PUSH;
	op->key = key;
	op->key_len = strlen(key);
	op->u.hist.entry.ip.family = 4;
	op->u.hist.entry.ip.addr[0] = 10;
	op->u.hist.entry.ip.addr[3] = d;
	memcpy(op->u.hist.entry.country, cc, 3);
	memcpy(op->u.hist.entry.continent, "EU", 3);
	op->u.hist.ttl_s = ttl_s;
}

/* Pushes IPv4 10.0.0.d from country cc into key's history; the previous
 * entries go to op. */
static inline void hist_push(af_store_t *s, const char *key, uint8_t d,
		const char *cc, uint32_t ttl_s, af_op_t *op)
{
	hist_op(op, key, d, cc, ttl_s);
	assert_int_equal(af_store_exec(s, op, 1, af_now_ms()), 0);
}

/* The read_only form of hist_push: key's entries go to op, and the entry
 * (10.0.0.d from cc) must be ignored. */
static inline void hist_read(af_store_t *s, const char *key, uint8_t d,
		const char *cc, uint32_t ttl_s, af_op_t *op)
{
	hist_op(op, key, d, cc, ttl_s);
	op->u.hist.read_only = 1;
	assert_int_equal(af_store_exec(s, op, 1, af_now_ms()), 0);
	assert_int_equal(op->status, 0);
}

/* HIST_PUSH ops a and b returned the same entries (field by field: the
 * padding of an entry is not part of it). */
static inline void hist_same(const af_op_t *a, const af_op_t *b)
{
	const af_hist_entry_t *x, *y;
	int i;

	assert_int_equal(a->u.hist.n_prev, b->u.hist.n_prev);
	for(i = 0; i < a->u.hist.n_prev; i++) {
		x = &a->u.hist.prev[i];
		y = &b->u.hist.prev[i];
		assert_int_equal(x->ip.family, y->ip.family);
		assert_memory_equal(x->ip.addr, y->ip.addr, 16);
		assert_memory_equal(x->country, y->country, 3);
		assert_memory_equal(x->continent, y->continent, 3);
		assert_int_equal(x->ts_ms, y->ts_ms);
	}
}

/* Fills op as a concurrency op of type on key for member (may be NULL). */
static inline void conc_op(af_op_t *op, af_op_type_t type, const char *key,
		const char *mem, uint32_t limit, uint32_t ttl_s)
{
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->key = key;
	op->key_len = strlen(key);
	if(mem) {
		op->u.conc.member = mem;
		op->u.conc.member_len = strlen(mem);
	}
	op->u.conc.limit = limit;
	op->u.conc.ttl_s = ttl_s;
}

/* CONC_DEL of mem from key; returns found, the count in *count. */
static inline int conc_del(af_store_t *s, const char *key, const char *mem,
		uint32_t *count)
{
	af_op_t op;

	conc_op(&op, AF_OP_CONC_DEL, key, mem, 0, 0);
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	assert_int_equal(op.status, 0);
	if(count)
		*count = op.u.conc.count;
	return op.u.conc.found;
}

/* CONC_COUNT of key. */
static inline uint32_t conc_count(af_store_t *s, const char *key)
{
	af_op_t op;

	conc_op(&op, AF_OP_CONC_COUNT, key, NULL, 0, 0);
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	assert_int_equal(op.status, 0);
	return op.u.conc.count;
}

/* Fills op as a WIN_HIT of n on key over 60 s with gate and if_new. */
static inline void win_op(af_op_t *op, const char *key, uint32_t n, uint32_t gate,
		int if_new)
{
	memset(op, 0, sizeof(*op));
	op->type = AF_OP_WIN_HIT;
	op->key = key;
	op->key_len = strlen(key);
	op->u.win.window_s = 60;
	op->u.win.n = n;
	op->u.win.gate = gate;
	op->u.win.if_new = if_new;
}

/* Fills op as a WIN_MULTI of n on key over the nwin windows win[]
 * (gates, thresholds and if_new 0). */
static inline void wm_op(af_op_t *op, const char *key, uint32_t n, int nwin,
		const uint32_t *win)
{
	int j;

	memset(op, 0, sizeof(*op));
	op->type = AF_OP_WIN_MULTI;
	op->key = key;
	op->key_len = strlen(key);
	op->u.wm.n = n;
	op->u.wm.nwin = nwin;
	for(j = 0; j < nwin && j < AF_WIN_MULTI_MAX; j++)
		op->u.wm.w[j].window_s = win[j];
}

/* One WIN_MULTI of n on key over windows a, b, c (0: fewer windows);
 * the counts go to out[0..3). */
static inline void wm_hit(af_store_t *s, const char *key, uint32_t n,
		uint32_t a, uint32_t b, uint32_t c, uint32_t *out)
{
	const uint32_t win[3] = {a, b, c};
	af_op_t op;
	int j;

	wm_op(&op, key, n, c ? 3 : b ? 2 : 1, win);
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	assert_int_equal(op.status, 0);
	for(j = 0; j < 3; j++)
		out[j] = j < op.u.wm.nwin ? op.u.wm.w[j].count : 0;
}

/* A MAP_SHARED page for counters shared with forked children. */
static inline long *shared_page(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	memset(p, 0, 4096);
	return p;
}

#endif
