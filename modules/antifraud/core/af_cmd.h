/*
 * antifraud - the management commands (bans, reload, stats, ...), once
 * for every server. A command reads its arguments and writes its answer
 * through an af_reply_t that the glue implements over its own mechanism
 * (Kamailio RPC, OpenSIPS MI): the glue only translates.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_CMD_H
#define AF_CMD_H

#include <stddef.h>
#include <stdint.h>

typedef struct af_reply af_reply_t;

#define AF_CMD_FAULT_MAX 240 /* bytes of a fault's text, NUL included */

/* an argument as the server passed it */
typedef enum af_arg_type {
	AF_ARG_STR = 1,
	AF_ARG_INT,
	AF_ARG_OTHER /* a type no command takes: a float, a struct, a list */
} af_arg_type_t;

typedef struct af_arg {
	af_arg_type_t type;
	const char *s; /* AF_ARG_STR: not NUL-terminated */
	size_t len;
	int ival; /* AF_ARG_INT */
} af_arg_t;

/*
 * A structured answer: objects (name -> value) and lists. A handle is
 * the glue's; NULL as parent is the answer itself. name is NULL for an
 * element of a list (and for the answer itself), set inside an object.
 */
typedef struct af_reply_ops {
	/* an object or a list under parent; NULL on error */
	void *(*object)(af_reply_t *r, void *parent, const char *name);
	void *(*list)(af_reply_t *r, void *parent, const char *name);
	/* a member of object parent; 0, -1 on error */
	int (*str)(af_reply_t *r, void *parent, const char *name, const char *v);
	int (*num)(af_reply_t *r, void *parent, const char *name, int64_t v);
	/* the answer is one line of text (success) */
	void (*text)(af_reply_t *r, const char *msg);
	/* the command failed: code 400 (bad arguments), 404, 500 */
	void (*fault)(af_reply_t *r, int code, const char *msg);
	/* argument pos (0-based, asked in order, each once) called name
	 * (NULL past the command's arguments: is there one more?): 1 with
	 * *arg filled, 0 when there is none */
	int (*arg)(af_reply_t *r, int pos, const char *name, af_arg_t *arg);
} af_reply_ops_t;

struct af_reply {
	const af_reply_ops_t *ops;
	const char *cmd; /* the command as the operator calls it (usage) */
	/* said when a string argument came as an integer (NULL: nothing) */
	const char *int_hint;
};

/*
 * The server's SIP parser, for the dry run (check): parse() reads the
 * request in buf[0..len) (CRLF lines, the head ended by an empty line;
 * buf is the caller's until done()) into req as a request received from
 * src (an address as text; NULL: the top Via's host when it is one).
 * 0, or -1 with the reason in err. done() frees what parse() kept.
 */
struct af_request;
typedef struct af_cmd_parser {
	int (*parse)(char *buf, size_t len, const char *src,
			struct af_request *req, char *err, size_t errlen);
	void (*done)(void);
} af_cmd_parser_t;

/* a fault with the printf-style text, cut to AF_CMD_FAULT_MAX - 1 bytes */
void af_cmd_fail(af_reply_t *r, int code, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

/* the glue's parser (at start); without one, check answers 500 */
void af_cmd_set_parser(const af_cmd_parser_t *p);

#define AF_CMD(name, list, doc) void af_cmd_##name(af_reply_t *r);
#include "af_cmd.def"
#undef AF_CMD

#endif
