/*
 * antifraud - what the rule file and the signature file have in common:
 * a YAML file read with libyaml into one document, its nodes checked one
 * by one, and every error written as "file:line: key.path: message".
 *
 * A load keeps an af_yl_t; the reader of each file embeds one in its own
 * context and keeps only its schema. Patterns are compiled with PCRE2
 * into the load's arena.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_YAML_H
#define AF_YAML_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif

#include <stddef.h>
#include <stdint.h>
#include <pcre2.h>
#include <yaml.h>
#include "af_arena.h"
#include "af_file.h"

#define AF_YL_SHOW AF_EXCERPT_MAX /* bytes of a value quoted in a message */
#define AF_YL_EXPAND 4         /* items read per node of the document */
#define AF_YL_EXPAND_MIN 4096  /* ... plus these */
#define AF_YL_MAX_DEPTH 64     /* collections nested deeper: refused */

/* The text of a scalar node, and how much of it a message quotes. */
#define AF_YL_TEXT(n) ((const char *)(n)->data.scalar.value)
#define AF_YL_LEN(n) ((n)->data.scalar.length)
#define AF_YL_SHOWN(len) ((len) > AF_YL_SHOW ? AF_YL_SHOW : (int)(len))

/* what a load carries from node to node */
typedef struct af_yl {
	const char *file;            /* the file, as named by the caller */
	af_file_kind_t kind;         /* its kind, for the size limit */
	yaml_document_t *doc;        /* set while the document is read */
	af_arena_t *arena;           /* what is built, and compiled patterns */
	pcre2_compile_context *cctx; /* in the arena; NULL until needed */
	char *err;
	size_t errlen;
	char path[256]; /* key path of the node being read, for messages */
	size_t plen;
	size_t items;     /* items and pairs of collections read so far */
	size_t items_max; /* more is an alias expansion (af_yl_load()) */
} af_yl_t;

/*
 * Writes "file:line: key.path: message" into the load's err, the line
 * being that of node n (the first line when n is NULL), every byte
 * outside printable ASCII escaped (af_text_escape_max()). Returns -1, so that
 * callers can return its result.
 */
int af_yl_err(af_yl_t *c, const yaml_node_t *n, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

/*
 * The error of a file that node n names (a list, the number plan, the
 * signature file) said where in that file; when it says no line ("path:
 * No such file or directory"), prefixes it with n's "file:line: key.path:"
 * so that the rule file's line is named too. Returns -1.
 */
int af_yl_cite(af_yl_t *c, const yaml_node_t *n);

/* Reports that memory ran out while reading node n; returns -1. */
int af_yl_oom(af_yl_t *c, const yaml_node_t *n);

/*
 * Appends key[0..len) to the key path shown in messages (after a '.')
 * and returns the previous length of the path, for af_yl_pop().
 */
size_t af_yl_push(af_yl_t *c, const char *key, size_t len);

/* Cuts the key path back to the length af_yl_push() returned. */
void af_yl_pop(af_yl_t *c, size_t old);

/*
 * Returns 1 when n is missing or a null: a plain scalar that is empty,
 * "~" or "null" in any of YAML's spellings (as an empty value "key:"
 * reads).
 */
int af_yl_is_null(const yaml_node_t *n);

/* Names the kind of node n for messages ("a mapping", ...). */
const char *af_yl_kind(const yaml_node_t *n);

/*
 * Checks that n is a non-null scalar without NUL bytes and gives its
 * text in *s and *len. Returns 0, or -1 with the error set.
 */
int af_yl_str(af_yl_t *c, const yaml_node_t *n, const char **s,
		size_t *len);

/*
 * Reads the decimal digits s[0..len) into *v. Returns 0, -1 when s is not
 * a plain decimal number, -2 when it does not fit 64 bits.
 */
int af_yl_digits(const char *s, size_t len, uint64_t *v);

/*
 * Reads scalar n as a decimal integer in min..max into *v. Returns 0, or
 * -1 with the error set.
 */
int af_yl_uint(af_yl_t *c, const yaml_node_t *n, uint64_t min,
		uint64_t max, uint64_t *v);

/* af_yl_uint() for a 32-bit field. */
int af_yl_u32(af_yl_t *c, const yaml_node_t *n, uint32_t min,
		uint32_t max, uint32_t *v);

/*
 * Reads scalar n as a boolean (true/True/TRUE or false/False/FALSE) into
 * *v. Returns 0, or -1 with the error set.
 */
int af_yl_bool(af_yl_t *c, const yaml_node_t *n, int *v);

/*
 * Checks that n is a sequence, or a null (an empty one). Stores the
 * number of items in *count. Returns 0, or -1 with the error set. Like
 * af_yl_names() and af_yl_map(), it counts the items against the load's
 * budget: aliases (*name) that make a small file read as a huge one are
 * refused.
 */
int af_yl_seq(af_yl_t *c, const yaml_node_t *n, size_t *count);

/* Returns item i of sequence n (af_yl_seq() has checked n). */
yaml_node_t *af_yl_item(af_yl_t *c, const yaml_node_t *n, size_t i);

/*
 * Checks that n is a mapping with string keys, each at most once, or a
 * null (an empty one); the keys are names the file chooses. Stores the
 * number of pairs in *count. Returns 0, or -1 with the error set.
 */
int af_yl_names(af_yl_t *c, const yaml_node_t *n, size_t *count);

/* Gives pair i of mapping n (af_yl_names() or af_yl_map() has checked n). */
void af_yl_pair(af_yl_t *c, const yaml_node_t *n, size_t i,
		yaml_node_t **k, yaml_node_t **v);

/*
 * Checks that n is a mapping (or a null: an empty one) whose keys are
 * among names[0..count), each at most once. Stores the value of each
 * key in vals[i] and, when keys is not NULL, the key node in keys[i]
 * (NULL when absent). Returns 0, or -1 with the error set.
 */
int af_yl_map(af_yl_t *c, const yaml_node_t *n, const char *const *names,
		int count, yaml_node_t **vals, yaml_node_t **keys);

/*
 * Checks name node n of a what ("list", "signature", ...): 1 to max
 * letters, digits, '_', '-' or '.'. Gives its text in *s and *len.
 * Returns 0, or -1 with the error set.
 */
int af_yl_name(af_yl_t *c, const yaml_node_t *n, const char *what,
		int max, const char **s, size_t *len);

/*
 * Checks that pattern node n is a non-empty string and gives its text in
 * *s and *len. Returns 0, or -1 with the error set.
 */
int af_yl_pattern(af_yl_t *c, const yaml_node_t *n, const char **s,
		size_t *len);

/*
 * Compiles pattern s[0..len) of node n with options into *code, in the
 * load's arena (as is whatever PCRE2 takes while compiling). Returns 0,
 * or -1 with the error set (PCRE2's message and offset).
 */
int af_yl_compile(af_yl_t *c, const yaml_node_t *n, const char *s,
		size_t len, uint32_t options, pcre2_code **code);

/*
 * Reads the file c->file of kind c->kind (c->err and c->errlen set, the
 * rest zero; read with af_file_read()) as one YAML document and calls build(c, arg) on it, c->doc set. A second
 * document is refused: "the <what> must be one document". The items
 * and pairs read may be at most AF_YL_EXPAND times the nodes of the
 * document (plus AF_YL_EXPAND_MIN): more comes from aliases repeating
 * large collections. Returns what build returned, or -1 with the error
 * set.
 */
int af_yl_load(af_yl_t *c, const char *what,
		int (*build)(af_yl_t *, void *), void *arg);

#endif
