/*
 * antifraud - MI commands (af_bans, af_ban, af_reload, ...): the core's
 * commands (af_cmd.def) over OpenSIPS's management interface. Arguments
 * by name or in order, as MI passes them.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "mi/mi.h"
#include "af_os.h"
#include "af_cmd.h"

typedef struct os_reply {
	af_reply_t r; /* first: the core's view */
	const mi_params_t *params;
	mi_response_t *resp; /* the answer being built */
	mi_response_t *error; /* or the error, which replaces it */
} os_reply_t;

#define OR(r) ((os_reply_t *)(r))

static void *or_node(af_reply_t *r, void *parent, const char *name, int list)
{
	os_reply_t *o = OR(r);
	mi_item_t *it = NULL;

	if(o->error)
		return NULL;
	if(!parent) {
		o->resp = list ? init_mi_result_array(&it) : init_mi_result_object(&it);
		return o->resp ? it : NULL;
	}
	if(list)
		return add_mi_array(parent, (char *)name, name ? strlen(name) : 0);
	return add_mi_object(parent, (char *)name, name ? strlen(name) : 0);
}

static void *or_object(af_reply_t *r, void *parent, const char *name)
{
	return or_node(r, parent, name, 0);
}

static void *or_list(af_reply_t *r, void *parent, const char *name)
{
	return or_node(r, parent, name, 1);
}

static int or_str(af_reply_t *r, void *parent, const char *name, const char *v)
{
	if(!v)
		v = "";
	return add_mi_string(parent, (char *)name, strlen(name), v, strlen(v));
}

static int or_num(af_reply_t *r, void *parent, const char *name, int64_t v)
{
	return add_mi_number(parent, (char *)name, strlen(name), (double)v);
}

static void or_text(af_reply_t *r, const char *msg)
{
	if(!OR(r)->error && !OR(r)->resp)
		OR(r)->resp = init_mi_result_string(msg, strlen(msg));
}

static void or_fault(af_reply_t *r, int code, const char *msg)
{
	if(!OR(r)->error)
		OR(r)->error = init_mi_error(code, msg, strlen(msg));
}

/* the argument called name (MI passes them by name; in order, they are
 * named by the recipe); a number is read as a string too */
static int or_arg(af_reply_t *r, int pos, const char *name, af_arg_t *arg)
{
	char *v;
	int vl;

	if(!name
			|| try_get_mi_string_param(OR(r)->params, (char *)name, &v, &vl)
					   != 0
			|| !v)
		return 0;
	arg->type = AF_ARG_STR;
	arg->s = v;
	arg->len = (size_t)vl;
	return 1;
}

static const af_reply_ops_t or_ops = {or_object, or_list, or_str, or_num,
		or_text, or_fault, or_arg};

/* one MI function and help text per command */
#define AF_CMD(name, list, doc)                                           \
	static char af_os_doc_##name[] = doc;                                 \
	static mi_response_t *af_os_mi_##name(                                \
			const mi_params_t *params, struct mi_handler *async_hdl)      \
	{                                                                     \
		os_reply_t o = {{&or_ops, "af_" #name, NULL}, params, NULL, NULL};\
		af_cmd_##name(&o.r);                                              \
		if(o.error && o.resp)                                             \
			free_mi_response(o.resp);                                     \
		return o.error ? o.error : o.resp;                                \
	}
#include "af_cmd.def"
#undef AF_CMD

/* the recipes: one per accepted set of parameter names */
#define AF_MI(name, ...) \
	{"af_" #name, af_os_doc_##name, 0, 0, {__VA_ARGS__, {EMPTY_MI_RECIPE}}}
#define AF_R(name, ...) {af_os_mi_##name, {__VA_ARGS__, 0}}

/* clang-format off */
const mi_export_t af_os_mi_cmds[] = {
	AF_MI(reload, AF_R(reload, 0)),
	AF_MI(bans, AF_R(bans, 0)),
	AF_MI(ban, AF_R(ban, "ip", "seconds"),
		AF_R(ban, "ip", "seconds", "reason")),
	AF_MI(unban, AF_R(unban, "ip")),
	AF_MI(accounts, AF_R(accounts, 0)),
	AF_MI(account, AF_R(account, "account")),
	AF_MI(account_release, AF_R(account_release, "account")),
	AF_MI(stats, AF_R(stats, 0)),
	AF_MI(lookup, AF_R(lookup, "ip"), AF_R(lookup, "ip", "profile")),
	AF_MI(dest_stats, AF_R(dest_stats, 0), AF_R(dest_stats, "all")),
	AF_MI(dest_stats_reset, AF_R(dest_stats_reset, 0)),
	AF_MI(concurrency, AF_R(concurrency, 0), AF_R(concurrency, "max")),
	AF_MI(dest_explain, AF_R(dest_explain, "number"),
		AF_R(dest_explain, "number", "caller"),
		AF_R(dest_explain, "number", "caller", "profile")),
	AF_MI(feeds, AF_R(feeds, 0)),
	AF_MI(forget, AF_R(forget, "kind", "subject")),
	AF_MI(analytics, AF_R(analytics, 0), AF_R(analytics, "kind", "name")),
	AF_MI(analytics_top, AF_R(analytics_top, 0),
		AF_R(analytics_top, "metric"), AF_R(analytics_top, "metric", "kind"),
		AF_R(analytics_top, "metric", "kind", "n")),
	AF_MI(analytics_stats, AF_R(analytics_stats, 0),
		AF_R(analytics_stats, "all")),
	AF_MI(check, AF_R(check, "request"), AF_R(check, "request", "source_ip"),
		AF_R(check, "request", "source_ip", "profile"),
		AF_R(check, "source_ip", "method", "from_uri", "ruri"),
		AF_R(check, "source_ip", "method", "from_uri", "ruri", "user_agent"),
		AF_R(check, "source_ip", "method", "from_uri", "ruri", "user_agent",
			"profile")),
	{EMPTY_MI_EXPORT}
};
/* clang-format on */
