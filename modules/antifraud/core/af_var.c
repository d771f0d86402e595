/*
 * antifraud - the verdict's variables (af_var.h).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "af_var.h"
#include "af_common.h"
#include "af_module.h"
#include "af_host.h"

static const char *const af_var_tab[AF_VAR__COUNT] = {
#define AF_VAR(name, kind, value) #name,
#include "af_var.def"
#undef AF_VAR
		"redis", "json"};

int af_var_id(const char *name, size_t len)
{
	int i;

	for(i = 0; i < AF_VAR__COUNT; i++)
		if(strlen(af_var_tab[i]) == len && memcmp(af_var_tab[i], name, len) == 0)
			return i;
	return -1;
}

const char *af_var_name(int id)
{
	return id >= 0 && id < AF_VAR__COUNT ? af_var_tab[id] : "";
}

static const char *af_var_names(void)
{
	static char buf[512];
	size_t n = 0;
	int i;

	if(buf[0])
		return buf;
	for(i = 0; i < AF_VAR__COUNT && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
				i ? ", " : "", af_var_tab[i]);
	return buf;
}

int af_var_lookup(const char *name, size_t len)
{
	int id = name ? af_var_id(name, len) : -1;

	if(id < 0)
		AF_ERR("unknown $antifraud(%.*s): use %s\n", (int)(len > 64 ? 64 : len),
				name ? name : "", af_var_names());
	return id;
}

void af_vars_changed(af_vars_t *vars)
{
	vars->formatted = 0;
}

void af_vars_set(af_vars_t *vars, const af_verdict_t *v)
{
	vars->v = *v;
	vars->formatted = 0;
}

void af_var_get(af_vars_t *vars, int id, af_value_t *out)
{
	const af_verdict_t *v = &vars->v;
	af_vars_t *f = vars;

	memset(out, 0, sizeof(*out));
	if(id == AF_VAR_redis) {
		out->s = af_module_redis_state();
		return;
	}
	if(!v->check)
		return;
	if(id == AF_VAR_json) {
		if(af_alert_json(v, vars->req, af_now_ms(), vars->json,
				   sizeof(vars->json))
				> 0)
			out->s = vars->json;
		return;
	}
	if(!vars->formatted) {
		af_reasons_format(v->reasons, vars->reasons, sizeof(vars->reasons));
		af_reasons_format(v->blocking, vars->blocking, sizeof(vars->blocking));
		vars->formatted = 1;
	}
	switch(id) {
#define AF_VAR_STR(value) out->s = (value)
#define AF_VAR_INT(value) \
	out->is_int = 1;      \
	out->n = (int64_t)(value)
#define AF_VAR(name, kind, value) \
	case AF_VAR_##name:           \
		AF_VAR_##kind(value);     \
		break;
#include "af_var.def"
#undef AF_VAR
#undef AF_VAR_STR
#undef AF_VAR_INT
	}
	if(!out->is_int && out->s && !out->s[0])
		out->s = NULL;
}
