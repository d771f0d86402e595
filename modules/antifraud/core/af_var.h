/*
 * antifraud - the last verdict of a process as named variables
 * ($antifraud(name) in the script, the fields of the alert event), for
 * every glue: the glue keeps one af_vars_t and only converts values.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_VAR_H
#define AF_VAR_H

#include <stddef.h>
#include <stdint.h>
#include "af_core.h"
#include "af_json.h"
#include "af_request.h"

/* the variable ids: AF_VAR_<name> (af_var.def), then redis (the
 * cluster store's state) and json (the verdict as one JSON object,
 * af_json.h) */
typedef enum af_var_id {
#define AF_VAR(name, kind, value) AF_VAR_##name,
#include "af_var.def"
#undef AF_VAR
	AF_VAR_redis,
	AF_VAR_json,
	AF_VAR__COUNT
} af_var_id_t;

/* the last verdict, with its reason lists formatted when first read */
typedef struct af_vars {
	af_verdict_t v; /* v.check NULL: none yet */
	char reasons[256];
	char blocking[256];
	int formatted;
	/* the request json describes (the glue sets it while it runs the
	 * alert event, or while it reads json in a request): NULL none */
	const af_request_t *req;
	char json[AF_JSON_MAX];
} af_vars_t;

/* a value: s NULL for null when is_int is 0 */
typedef struct af_value {
	int is_int;
	int64_t n;
	const char *s;
} af_value_t;

/* the id of a variable name (not NUL-terminated), -1 when unknown */
int af_var_id(const char *name, size_t len);
const char *af_var_name(int id);

/* the id of $antifraud(name) for the script's parser; an unknown name
 * is logged with the list of known ones: -1 */
int af_var_lookup(const char *name, size_t len);

/* vars->v was written (a new verdict): lists are formatted again */
void af_vars_changed(af_vars_t *vars);

/* copies v in as the last verdict */
void af_vars_set(af_vars_t *vars, const af_verdict_t *v);

/* the value of variable id; null when no verdict yet */
void af_var_get(af_vars_t *vars, int id, af_value_t *out);

#endif
