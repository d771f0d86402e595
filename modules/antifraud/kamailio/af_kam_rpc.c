/*
 * antifraud - RPC commands (kamcmd antifraud.*): the core's commands
 * (af_cmd.def: arguments checked, answers escaped, faults short) over
 * Kamailio's RPC interface.
 *
 * Every argument is hostile until checked: each command declares its
 * arguments with a maximum length (README, RPC commands), reads them all
 * up front with rpc_args() (too few, too many, too long, control
 * characters: a fault naming the argument), and quotes input in a fault
 * only as a short escaped excerpt. Text read back from the store (ban
 * reasons, keys: they may come from Redis, written by other nodes or by
 * anyone with access to it) is escaped on output. A fault never exceeds
 * RPC_FAULT_MAX bytes: the ctl module sends nothing at all for a fault
 * of 256 bytes or more.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "core/rpc.h"
#include "core/rpc_lookup.h"
#include "af_kam.h"
#include "af_cmd.h"

/* kamcmd sends what looks like a number as one */
#define AF_KAM_INT_HINT " (kamcmd sends digits as an integer: write s:...)"

typedef struct kam_reply {
	af_reply_t r; /* first: the core's view */
	rpc_t *rpc;
	void *ctx;
	char top_list; /* the answer is a list: its address is the marker */
} kam_reply_t;

#define KR(r) ((kam_reply_t *)(r))

static void *kr_node(af_reply_t *r, void *parent, const char *name, char *fmt)
{
	kam_reply_t *k = KR(r);
	void *h = NULL;

	if(!parent) {
		if(fmt[0] == '[')
			return &k->top_list; /* elements are added to the answer */
		return k->rpc->add(k->ctx, fmt, &h) < 0 ? NULL : h;
	}
	if(parent == &k->top_list)
		return k->rpc->add(k->ctx, fmt, &h) < 0 ? NULL : h;
	if(!name)
		return k->rpc->array_add(parent, fmt, &h) < 0 ? NULL : h;
	return k->rpc->struct_add(parent, fmt, name, &h) < 0 ? NULL : h;
}

static void *kr_object(af_reply_t *r, void *parent, const char *name)
{
	return kr_node(r, parent, name, "{");
}

static void *kr_list(af_reply_t *r, void *parent, const char *name)
{
	return kr_node(r, parent, name, "[");
}

static int kr_str(af_reply_t *r, void *parent, const char *name, const char *v)
{
	return KR(r)->rpc->struct_add(parent, "s", name, v ? v : "") < 0 ? -1 : 0;
}

static int kr_num(af_reply_t *r, void *parent, const char *name, int64_t v)
{
	return KR(r)->rpc->struct_add(parent, "d", name, (int)v) < 0 ? -1 : 0;
}

static void kr_text(af_reply_t *r, const char *msg)
{
	KR(r)->rpc->rpl_printf(KR(r)->ctx, "%s", msg);
}

static void kr_fault(af_reply_t *r, int code, const char *msg)
{
	KR(r)->rpc->fault(KR(r)->ctx, code, "%s", msg);
}

/*
 * The next argument, whichever type it has (RPC arguments come in
 * order): each scan names one type without conversion, and a scan of
 * the wrong type consumes nothing.
 */
static int kr_arg(af_reply_t *r, int pos, const char *name, af_arg_t *arg)
{
	rpc_t *rpc = KR(r)->rpc;
	void *ctx = KR(r)->ctx;
	str s = STR_NULL;
	double f;

	if(rpc->scan(ctx, "*S", &s) == 1 && s.s && s.len >= 0) {
		arg->type = AF_ARG_STR;
		arg->s = s.s;
		arg->len = (size_t)s.len;
		return 1;
	}
	if(rpc->scan(ctx, "*d", &arg->ival) == 1) {
		arg->type = AF_ARG_INT;
		return 1;
	}
	if(rpc->scan(ctx, "*f", &f) == 1) {
		arg->type = AF_ARG_OTHER;
		return 1;
	}
	return 0;
}

static const af_reply_ops_t kr_ops = {kr_object, kr_list, kr_str, kr_num,
		kr_text, kr_fault, kr_arg};

/* one RPC function and doc per command */
#define AF_CMD(name, list, doc)                              \
	static const char *af_kam_rpc_##name##_doc[] = {doc, 0};        \
	static void af_kam_rpc_##name(rpc_t *rpc, void *ctx)            \
	{                                                        \
		kam_reply_t k = {{&kr_ops, "antifraud." #name, AF_KAM_INT_HINT}, \
				rpc, ctx, 0};                                            \
		af_cmd_##name(&k.r);                                 \
	}
#include "af_cmd.def"
#undef AF_CMD

#define AF_CMD(name, list, doc) \
	{"antifraud." #name, af_kam_rpc_##name, af_kam_rpc_##name##_doc, list ? RET_ARRAY : 0},
rpc_export_t af_kam_rpc_cmds[] = {
#include "af_cmd.def"
	{0, 0, 0, 0}
};
#undef AF_CMD
