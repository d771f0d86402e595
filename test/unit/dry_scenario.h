/*
 * antifraud unit tests - dry runs over a store (af_store_exec_dry), the
 * same scenario on both backends: a batch of every kind of op answers
 * what the real batch then answers, and the dry run changes nothing.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_TEST_DRY_SCENARIO_H
#define AF_TEST_DRY_SCENARIO_H

/* the batch: a ban lookup, hits (one bans, one gated, a distinct count),
 * a history push, two concurrency adds (the group), a ban set */
static inline int ds_batch(af_op_t *ops, int conc_limit)
{
	int n = 0;

	memset(ops, 0, 10 * sizeof(*ops));
	ops[n].type = AF_OP_BAN_GET;
	ops[n].key = "198.51.100.1";
	ops[n].key_len = strlen(ops[n].key);
	n++;
	win_op(&ops[n++], "ds|score", 2, 0, 0);
	ops[n - 1].u.win.ban_threshold = 5;
	ops[n - 1].u.win.ban_s = 60;
	ops[n - 1].u.win.ban_key = "198.51.100.2";
	ops[n - 1].u.win.ban_key_len = strlen("198.51.100.2");
	ops[n - 1].u.win.ban_reason = "dry";
	win_op(&ops[n], "ds|pair", 1, 0, 0);
	n++;
	win_op(&ops[n], "ds|distinct", 1, 0, n); /* if_new: the pair (1-based) */
	n++;
	win_op(&ops[n++], "ds|score", 1, 3, 0);        /* same key, gate 3 */
	hist_op(&ops[n++], "ds|caller", 9, "FR", 3600);
	conc_op(&ops[n++], AF_OP_CONC_ADD, "ds|total", "call-x", conc_limit, 600);
	conc_op(&ops[n++], AF_OP_CONC_ADD, "ds|caller", "call-x", 0, 600);
	ops[n].type = AF_OP_BAN_SET;
	ops[n].key = "198.51.100.3";
	ops[n].key_len = strlen(ops[n].key);
	ops[n].u.ban_set.ttl_s = 60;
	ops[n].u.ban_set.reason = "dry";
	n++;
	return n;
}

/* the state the batch reads, before and after */
static inline void ds_state(af_store_t *s, uint32_t *v)
{
	af_op_t op;

	v[0] = win_hit(s, "ds|score", 60, 0);
	v[1] = win_hit(s, "ds|pair", 60, 0);
	v[2] = win_hit(s, "ds|distinct", 60, 0);
	hist_read(s, "ds|caller", 1, "DE", 3600, &op);
	v[3] = (uint32_t)op.u.hist.n_prev;
	v[4] = conc_count(s, "ds|total");
	v[5] = conc_count(s, "ds|caller");
	v[6] = (uint32_t)ban_get(s, "198.51.100.1", NULL);
	v[7] = (uint32_t)ban_get(s, "198.51.100.2", NULL);
	v[8] = (uint32_t)ban_get(s, "198.51.100.3", NULL);
}

static inline void ds_same(const af_op_t *d, const af_op_t *r, int n)
{
	int i;

	for(i = 0; i < n; i++) {
		assert_int_equal(d[i].status, r[i].status);
		switch(d[i].type) {
			case AF_OP_BAN_GET:
				assert_int_equal(d[i].u.ban_get.found, r[i].u.ban_get.found);
				break;
			case AF_OP_WIN_HIT:
				if(d[i].u.win.count != r[i].u.win.count)
					fail_msg("op %d: dry count %u, real %u", i,
							d[i].u.win.count, r[i].u.win.count);
				assert_int_equal(d[i].u.win.banned, r[i].u.win.banned);
				break;
			case AF_OP_HIST_PUSH:
				hist_same(&d[i], &r[i]);
				break;
			case AF_OP_CONC_ADD:
				assert_int_equal(d[i].u.conc.admitted, r[i].u.conc.admitted);
				assert_int_equal(d[i].u.conc.count, r[i].u.conc.count);
				assert_int_equal(d[i].u.conc.full, r[i].u.conc.full);
				break;
			default:
				break;
		}
	}
}

/* one round: dry, state unchanged, then real, same answers */
static inline void ds_round(af_store_t *s, int conc_limit)
{
	af_op_t d[10], r[10];
	uint32_t before[9], after[9];
	int n;

	ds_state(s, before);
	n = ds_batch(d, conc_limit);
	assert_int_equal(af_store_exec_dry(s, d, n, af_now_ms()), 0);
	ds_state(s, after);
	assert_memory_equal(before, after, sizeof(before));
	n = ds_batch(r, conc_limit);
	assert_int_equal(af_store_exec(s, r, n, af_now_ms()), 0);
	ds_same(d, r, n);
}

static inline void ds_run(af_store_t *s)
{
	af_op_t op;

	/* some state first: a ban, a history, a live call */
	assert_int_equal(ban_set(s, "198.51.100.1", 600, "before"), 0);
	hist_push(s, "ds|caller", 1, "DE", 3600, &op);
	conc_op(&op, AF_OP_CONC_ADD, "ds|total", "call-0", 0, 600);
	assert_int_equal(af_store_exec(s, &op, 1, af_now_ms()), 0);
	/* rounds until the hits ban and the gate and the limit refuse */
	ds_round(s, 3);
	ds_round(s, 3);
	ds_round(s, 3);
	ds_round(s, 0);
	/* a found ban with stop: the rest is skipped, dry or not */
	{
		af_op_t d[2], r[2];

		memset(d, 0, sizeof(d));
		d[0].type = AF_OP_BAN_GET;
		d[0].key = "198.51.100.1";
		d[0].key_len = strlen(d[0].key);
		d[0].u.ban_get.stop = 1;
		win_op(&d[1], "ds|after-stop", 1, 0, 0);
		memcpy(r, d, sizeof(d));
		assert_int_equal(af_store_exec_dry(s, d, 2, af_now_ms()), 0);
		assert_int_equal(af_store_exec(s, r, 2, af_now_ms()), 0);
		assert_int_equal(d[0].u.ban_get.found, 1);
		assert_int_equal(d[1].status, r[1].status);
		assert_int_equal(d[1].status, 1);
	}
	assert_int_equal(af_store_exec_dry(s, &op, AF_STORE_DRY_MAX + 1,
							 af_now_ms()),
			-1);
}

#endif
