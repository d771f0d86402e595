/*
 * antifraud - RPC commands (kamcmd antifraud.*): the core's commands
 * (af_cmd.def) over Kamailio's RPC interface.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "core/rpc.h"
#include "core/rpc_lookup.h"
#include "af_kam.h"
#include "af_cmd.h"

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

/* kamcmd reads +123 or 0049... as an integer, which a string argument
 * refuses: a usage error says how to write it */
static void kr_fault(af_reply_t *r, int code, const char *msg)
{
	if(code == 400 && strncmp(msg, "Usage:", 6) == 0)
		KR(r)->rpc->fault(KR(r)->ctx, code,
				"%s (strings: kamcmd reads +123 or 0049... as an integer,"
				" write s:+4930...)",
				msg);
	else
		KR(r)->rpc->fault(KR(r)->ctx, code, "%s", msg);
}

/* RPC arguments come in order: pos is the next one */
static int kr_arg_str(af_reply_t *r, int pos, const char *name, const char **s,
		size_t *len)
{
	str v = STR_NULL;

	if(KR(r)->rpc->scan(KR(r)->ctx, "*S", &v) < 1 || !v.s)
		return 0;
	*s = v.s;
	*len = (size_t)v.len;
	return 1;
}

static int kr_arg_int(af_reply_t *r, int pos, const char *name, int *v)
{
	return KR(r)->rpc->scan(KR(r)->ctx, "*d", v) < 1 ? 0 : 1;
}

static const af_reply_ops_t kr_ops = {kr_object, kr_list, kr_str, kr_num,
		kr_text, kr_fault, kr_arg_str, kr_arg_int};

/* one RPC function and doc per command */
#define AF_CMD(name, list, doc)                              \
	static const char *af_kam_rpc_##name##_doc[] = {doc, 0};        \
	static void af_kam_rpc_##name(rpc_t *rpc, void *ctx)            \
	{                                                        \
		kam_reply_t k = {{&kr_ops, "antifraud." #name}, rpc, ctx, 0}; \
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
