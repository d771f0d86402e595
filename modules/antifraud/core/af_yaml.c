/*
 * antifraud - reading a YAML file for the rule and signature loaders:
 * libyaml's document and errors, the checks of single nodes with their
 * "file:line: key.path: message" texts, and PCRE2 patterns compiled into
 * the load's arena. The schemas are the loaders' own.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_yaml.h"

int af_yl_err(af_yl_t *c, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	size_t len;
	int k;

	if(!c->err || c->errlen == 0)
		return -1;
	k = snprintf(msg, sizeof(msg), "%s:%lu: ", c->file,
			n ? (unsigned long)n->start_mark.line + 1 : 1UL);
	len = k > 0 ? (size_t)k : 0;
	if(c->plen && len < sizeof(msg)) {
		k = snprintf(msg + len, sizeof(msg) - len, "%s: ", c->path);
		len += k > 0 ? (size_t)k : 0;
	}
	if(len < sizeof(msg)) {
		va_start(ap, fmt);
		vsnprintf(msg + len, sizeof(msg) - len, fmt, ap);
		va_end(ap);
	}
	af_text_escape_max(c->err, c->errlen, msg, strlen(msg), sizeof(msg));
	return -1;
}

int af_yl_cite(af_yl_t *c, const yaml_node_t *n)
{
	char inner[512];
	const char *p, *q;

	if(!c->err || !c->errlen)
		return -1;
	for(p = strchr(c->err, ':'); p; p = strchr(p + 1, ':')) {
		for(q = p + 1; *q >= '0' && *q <= '9'; q++)
			;
		if(q > p + 1 && *q == ':')
			return -1; /* "file:line:" already */
	}
	snprintf(inner, sizeof(inner), "%s", c->err);
	return af_yl_err(c, n, "%s", inner);
}

int af_yl_oom(af_yl_t *c, const yaml_node_t *n)
{
	return af_yl_err(c, n, "out of memory");
}

size_t af_yl_push(af_yl_t *c, const char *key, size_t len)
{
	size_t old = c->plen;
	size_t room = sizeof(c->path) - 1 - c->plen;

	if(old && room) {
		c->path[c->plen++] = '.';
		room--;
	}
	if(len > room)
		len = room;
	memcpy(c->path + c->plen, key, len);
	c->plen += len;
	c->path[c->plen] = '\0';
	return old;
}

void af_yl_pop(af_yl_t *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

/* Returns the node at index idx of the document (NULL when none). */
static yaml_node_t *af_yl_node(af_yl_t *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

int af_yl_is_null(const yaml_node_t *n)
{
	const char *s;

	if(!n)
		return 1;
	if(n->type != YAML_SCALAR_NODE
			|| n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = AF_YL_TEXT(n);
	return AF_YL_LEN(n) == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0
		   || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

const char *af_yl_kind(const yaml_node_t *n)
{
	if(af_yl_is_null(n))
		return "nothing";
	switch(n->type) {
		case YAML_SCALAR_NODE:
			return "a scalar";
		case YAML_SEQUENCE_NODE:
			return "a sequence";
		case YAML_MAPPING_NODE:
			return "a mapping";
		default:
			return "nothing";
	}
}

int af_yl_str(af_yl_t *c, const yaml_node_t *n, const char **s,
		size_t *len)
{
	if(n->type != YAML_SCALAR_NODE || af_yl_is_null(n))
		return af_yl_err(c, n, "expected a string, got %s", af_yl_kind(n));
	if(memchr(AF_YL_TEXT(n), '\0', AF_YL_LEN(n)))
		return af_yl_err(c, n, "the value holds a NUL byte");
	*s = AF_YL_TEXT(n);
	*len = AF_YL_LEN(n);
	return 0;
}

int af_yl_digits(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;
	unsigned d;

	if(len == 0)
		return -1;
	for(i = 0; i < len; i++) {
		if(s[i] < '0' || s[i] > '9')
			return -1;
	}
	for(i = 0; i < len; i++) {
		d = (unsigned)(s[i] - '0');
		if(x > (UINT64_MAX - d) / 10)
			return -2;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

int af_yl_uint(af_yl_t *c, const yaml_node_t *n, uint64_t min,
		uint64_t max, uint64_t *v)
{
	int rc;

	if(n->type != YAML_SCALAR_NODE || af_yl_is_null(n))
		return af_yl_err(c, n, "expected an integer, got %s", af_yl_kind(n));
	rc = af_yl_digits(AF_YL_TEXT(n), AF_YL_LEN(n), v);
	if(rc == -1)
		return af_yl_err(c, n, "expected an integer, got '%.*s'",
				AF_YL_SHOWN(AF_YL_LEN(n)), AF_YL_TEXT(n));
	if(rc < 0 || *v < min || *v > max)
		return af_yl_err(c, n, "%.*s is out of range (%llu..%llu)",
				AF_YL_SHOWN(AF_YL_LEN(n)), AF_YL_TEXT(n),
				(unsigned long long)min, (unsigned long long)max);
	return 0;
}

int af_yl_u32(af_yl_t *c, const yaml_node_t *n, uint32_t min,
		uint32_t max, uint32_t *v)
{
	uint64_t x;

	if(af_yl_uint(c, n, min, max, &x) < 0)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int af_yl_bool(af_yl_t *c, const yaml_node_t *n, int *v)
{
	const char *s;

	if(n->type != YAML_SCALAR_NODE || af_yl_is_null(n))
		return af_yl_err(
				c, n, "expected true or false, got %s", af_yl_kind(n));
	s = AF_YL_TEXT(n);
	if(!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		*v = 1;
		return 0;
	}
	if(!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		*v = 0;
		return 0;
	}
	return af_yl_err(c, n, "expected true or false, got '%.*s'",
			AF_YL_SHOWN(AF_YL_LEN(n)), s);
}

/*
 * Counts count items of node n against the load's budget. Returns 0, or
 * -1 with the error set.
 */
static int af_yl_budget(af_yl_t *c, const yaml_node_t *n, size_t count)
{
	c->items += count;
	if(c->items_max && c->items > c->items_max)
		return af_yl_err(c, n,
				"the file reads as more than %zu items: aliases (*name)"
				" repeat large collections",
				c->items_max);
	return 0;
}

int af_yl_seq(af_yl_t *c, const yaml_node_t *n, size_t *count)
{
	*count = 0;
	if(af_yl_is_null(n))
		return 0;
	if(n->type != YAML_SEQUENCE_NODE)
		return af_yl_err(c, n, "expected a sequence, got %s", af_yl_kind(n));
	*count = (size_t)(n->data.sequence.items.top
					  - n->data.sequence.items.start);
	if(af_yl_budget(c, n, *count) < 0) {
		*count = 0;
		return -1;
	}
	return 0;
}

yaml_node_t *af_yl_item(af_yl_t *c, const yaml_node_t *n, size_t i)
{
	return af_yl_node(c, n->data.sequence.items.start[i]);
}

int af_yl_names(af_yl_t *c, const yaml_node_t *n, size_t *count)
{
	yaml_node_pair_t *p, *q;
	yaml_node_t *k, *k2;
	const char *s;
	size_t len;

	*count = 0;
	if(af_yl_is_null(n))
		return 0;
	if(n->type != YAML_MAPPING_NODE)
		return af_yl_err(c, n, "expected a mapping, got %s", af_yl_kind(n));
	for(p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
			p++) {
		k = af_yl_node(c, p->key);
		if(af_yl_str(c, k, &s, &len) < 0)
			return -1;
		for(q = n->data.mapping.pairs.start; q < p; q++) {
			k2 = af_yl_node(c, q->key);
			if(AF_YL_LEN(k2) == len && memcmp(AF_YL_TEXT(k2), s, len) == 0)
				return af_yl_err(c, k, "duplicate key '%.*s'",
						AF_YL_SHOWN(len), s);
		}
	}
	*count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if(af_yl_budget(c, n, *count) < 0) {
		*count = 0;
		return -1;
	}
	return 0;
}

void af_yl_pair(af_yl_t *c, const yaml_node_t *n, size_t i,
		yaml_node_t **k, yaml_node_t **v)
{
	*k = af_yl_node(c, n->data.mapping.pairs.start[i].key);
	*v = af_yl_node(c, n->data.mapping.pairs.start[i].value);
}

int af_yl_map(af_yl_t *c, const yaml_node_t *n, const char *const *names,
		int count, yaml_node_t **vals, yaml_node_t **keys)
{
	yaml_node_pair_t *p;
	yaml_node_t *k;
	const char *s;
	char hint[400];
	size_t len, used;
	int i;

	for(i = 0; i < count; i++) {
		vals[i] = NULL;
		if(keys)
			keys[i] = NULL;
	}
	if(af_yl_is_null(n))
		return 0;
	if(n->type != YAML_MAPPING_NODE)
		return af_yl_err(c, n, "expected a mapping, got %s", af_yl_kind(n));
	if(af_yl_budget(c, n,
			   (size_t)(n->data.mapping.pairs.top
						- n->data.mapping.pairs.start))
			< 0)
		return -1;
	for(p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
			p++) {
		k = af_yl_node(c, p->key);
		if(af_yl_str(c, k, &s, &len) < 0)
			return -1;
		for(i = 0; i < count; i++) {
			if(strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
				break;
		}
		if(i == count) {
			used = 0;
			hint[0] = '\0';
			for(i = 0; i < count && used < sizeof(hint); i++)
				used += (size_t)snprintf(hint + used, sizeof(hint) - used,
						"%s%s", i ? ", " : "", names[i]);
			return af_yl_err(c, k, "unknown key '%.*s' (expected %s)",
					AF_YL_SHOWN(len), s, hint);
		}
		if(vals[i])
			return af_yl_err(c, k, "duplicate key '%s'", names[i]);
		vals[i] = af_yl_node(c, p->value);
		if(keys)
			keys[i] = k;
	}
	return 0;
}

int af_yl_name(af_yl_t *c, const yaml_node_t *n, const char *what,
		int max, const char **s, size_t *len)
{
	size_t i;
	char ch;

	if(af_yl_str(c, n, s, len) < 0)
		return -1;
	if(*len == 0 || *len > (size_t)max)
		goto bad;
	for(i = 0; i < *len; i++) {
		ch = (*s)[i];
		if(!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
				   || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'
				   || ch == '.'))
			goto bad;
	}
	return 0;

bad:
	return af_yl_err(c, n,
			"'%.*s' is not a valid %s name (1 to %d letters, digits, '_', "
			"'-' or '.')",
			AF_YL_SHOWN(*len), *s, what, max);
}

int af_yl_pattern(af_yl_t *c, const yaml_node_t *n, const char **s,
		size_t *len)
{
	if(af_yl_str(c, n, s, len) < 0)
		return -1;
	if(*len == 0)
		return af_yl_err(c, n, "empty regular expression");
	return 0;
}

/* PCRE2 allocator over the arena in data: code lives in shared memory */
static void *af_yl_re_alloc(size_t size, void *data)
{
	return af_arena_alloc(data, size);
}

/* PCRE2 free over the arena: nothing, the arena goes as a whole */
static void af_yl_re_free(void *p, void *data)
{
}

int af_yl_compile(af_yl_t *c, const yaml_node_t *n, const char *s,
		size_t len, uint32_t options, pcre2_code **code)
{
	pcre2_general_context *gctx;
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	int ec;

	if(!c->cctx) {
		gctx = pcre2_general_context_create(
				af_yl_re_alloc, af_yl_re_free, c->arena);
		if(gctx)
			c->cctx = pcre2_compile_context_create(gctx);
		if(!c->cctx)
			return af_yl_oom(c, n);
	}
	*code = pcre2_compile((PCRE2_SPTR)s, len, options, &ec, &off, c->cctx);
	if(!*code) {
		if(pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", ec);
		return af_yl_err(c, n,
				"bad regular expression '%.*s': %s at offset %zu",
				AF_YL_SHOWN(len), s, (const char *)msg, (size_t)off);
	}
	return 0;
}

/*
 * Returns the line (from 1) of byte offset off of text s[0..len), for
 * libyaml errors that only give an offset.
 */
static unsigned long af_yl_line_at(const char *s, size_t len, size_t off)
{
	unsigned long line = 1;
	size_t i;

	for(i = 0; i < off && i < len; i++) {
		if(s[i] == '\n')
			line++;
	}
	return line;
}

/*
 * Writes libyaml's error of parser p, reading text s[0..len), into the
 * load's err.
 */
static void af_yl_yaml_error(af_yl_t *c, yaml_parser_t *p, const char *s,
		size_t len)
{
	char msg[512];
	unsigned long line;

	switch(p->error) {
		case YAML_MEMORY_ERROR:
			snprintf(msg, sizeof(msg), "%s: out of memory", c->file);
			goto out;
		case YAML_READER_ERROR:
			line = af_yl_line_at(s, len, p->problem_offset);
			break;
		default:
			line = (unsigned long)p->problem_mark.line + 1;
			break;
	}
	if(p->context)
		snprintf(msg, sizeof(msg), "%s:%lu: YAML: %s: %s", c->file, line,
				p->context, p->problem ? p->problem : "error");
	else
		snprintf(msg, sizeof(msg), "%s:%lu: YAML: %s", c->file, line,
				p->problem ? p->problem : "error");
out:
	af_text_escape_max(c->err, c->errlen, msg, strlen(msg), sizeof(msg));
}

/*
 * Walks the events of the file once and refuses collections nested
 * deeper than AF_YL_MAX_DEPTH: libyaml's scanner costs the square of the
 * nesting depth (100,000 nested '[' in 200 KB took about a minute to
 * refuse), so the walk stops at the limit, before the cost grows. A
 * syntax error ends the walk without a verdict (the load reports it).
 * Returns 0, or -1 with the error set.
 */
static int yl_depth_check(af_yl_t *c, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, rc = 0, done = 0;

	if(!yaml_parser_initialize(&parser))
		return 0; /* the load reports it */
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while(!done && yaml_parser_parse(&parser, &ev)) {
		switch(ev.type) {
			case YAML_SEQUENCE_START_EVENT:
			case YAML_MAPPING_START_EVENT:
				if(++depth > AF_YL_MAX_DEPTH) {
					snprintf(c->err, c->errlen,
							"%s:%lu: collections nested deeper than %d"
							" levels",
							c->file, (unsigned long)ev.start_mark.line + 1,
							AF_YL_MAX_DEPTH);
					rc = -1;
					done = 1;
				}
				break;
			case YAML_SEQUENCE_END_EVENT:
			case YAML_MAPPING_END_EVENT:
				depth--;
				break;
			case YAML_STREAM_END_EVENT:
				done = 1;
				break;
			default:
				break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

int af_yl_load(af_yl_t *c, const char *what,
		int (*build)(af_yl_t *, void *), void *arg)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root2;
	char *text;
	size_t len;
	int rc = -1;

	if(af_file_read(c->file, c->kind, &text, &len, c->err, c->errlen) < 0)
		return -1;
	if(yl_depth_check(c, text, len) < 0) {
		free(text);
		return -1;
	}
	if(!yaml_parser_initialize(&parser)) {
		snprintf(c->err, c->errlen, "%s: out of memory", c->file);
		free(text);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if(!yaml_parser_load(&parser, &doc)) {
		af_yl_yaml_error(c, &parser, text, len);
		goto done_parser;
	}
	/* one document only: a second one is refused, not ignored */
	if(!yaml_parser_load(&parser, &extra)) {
		af_yl_yaml_error(c, &parser, text, len);
		goto done_doc;
	}
	root2 = yaml_document_get_root_node(&extra);
	if(root2)
		af_yl_err(c, root2,
				"a second YAML document ('---'): the %s must be one"
				" document",
				what);
	yaml_document_delete(&extra);
	if(root2)
		goto done_doc;

	c->items = 0;
	c->items_max = AF_YL_EXPAND
						   * (size_t)(doc.nodes.top - doc.nodes.start)
				   + AF_YL_EXPAND_MIN;
	c->doc = &doc;
	rc = build(c, arg);
	c->doc = NULL;

done_doc:
	yaml_document_delete(&doc);
done_parser:
	yaml_parser_delete(&parser);
	free(text);
	return rc;
}
