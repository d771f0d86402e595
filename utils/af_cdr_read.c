/*
 * antifraud - af-cdr: the readers of the CDR formats. Every byte of a CDR
 * file is hostile: lines are bounded (a longer one is skipped, not
 * buffered), checked for UTF-8, split with quotes honoured, and every
 * field is validated; a bad row is counted and reported with file:line
 * and why (never its raw bytes), and the run goes on.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "af_cdr.h"
#include "af_text.h"

#define CDR_FIELDS_MAX 64

static const char *const format_names[CDR_F__COUNT] = {"auto",
		"kamailio-log", "kamailio-flatstore", "kamailio-dbtext",
		"kamailio-cdrs", "opensips", "freeswitch", "asterisk", "csv"};

static const char *const err_kind_names[CDR_E__COUNT] = {"line too long",
		"not UTF-8", "truncated", "wrong column count", "bad timestamp",
		"bad field", "bad quoting", "read error", "over the record limit"};

const char *cdr_format_name(cdr_format_t f)
{
	return (unsigned)f < CDR_F__COUNT ? format_names[f] : "?";
}

int cdr_format_parse(const char *s)
{
	int i;

	for(i = 0; i < CDR_F__COUNT; i++)
		if(strcmp(s, format_names[i]) == 0)
			return i;
	return -1;
}

const char *cdr_err_kind_name(int kind)
{
	return (unsigned)kind < CDR_E__COUNT ? err_kind_names[kind] : "?";
}

void cdr_json_esc(FILE *out, const char *s, size_t len)
{
	size_t i;
	unsigned char c;

	for(i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if(c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if(c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
}

/* ---- the string pool */

/* appends s[0..len) and a NUL to the pool; its offset, 0 for "" or when
 * out of memory */
static uint32_t pool_add(cdr_ctx_t *ctx, const char *s, size_t len)
{
	size_t need;
	char *p;

	if(!len)
		return 0;
	if(!ctx->pool_len)
		ctx->pool_len = 1; /* offset 0: the empty string */
	need = ctx->pool_len + len + 1;
	if(need > UINT32_MAX) {
		ctx->oom = 1; /* offsets are 32 bits: 4 GB of strings */
		return 0;
	}
	if(need > ctx->pool_cap) {
		size_t cap = ctx->pool_cap ? ctx->pool_cap : 1 << 16;
		while(cap < need)
			cap *= 2;
		if(cap > UINT32_MAX)
			cap = UINT32_MAX;
		p = realloc(ctx->pool, cap);
		if(!p) {
			ctx->oom = 1;
			return 0;
		}
		if(!ctx->pool_cap)
			p[0] = '\0';
		ctx->pool = p;
		ctx->pool_cap = cap;
	}
	memcpy(ctx->pool + ctx->pool_len, s, len);
	ctx->pool[ctx->pool_len + len] = '\0';
	ctx->pool_len += len + 1;
	return (uint32_t)(ctx->pool_len - len - 1);
}

/* FNV-1a of s[0..len) */
static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for(i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* the pool offset of s, added once (callers and hosts repeat) */
static uint32_t pool_intern(cdr_ctx_t *ctx, const char *s, size_t len)
{
	size_t i, mask;
	uint32_t o;

	if(!len)
		return 0;
	if(ctx->intern_n * 2 >= ctx->intern_cap) {
		size_t cap = ctx->intern_cap ? ctx->intern_cap * 2 : 4096;
		uint32_t *t = calloc(cap, sizeof(*t));
		size_t j;

		if(!t)
			return pool_add(ctx, s, len);
		for(j = 0; j < ctx->intern_cap; j++) {
			const char *k;
			if(!ctx->intern[j])
				continue;
			k = ctx->pool + ctx->intern[j];
			i = hash_bytes(k, strlen(k)) & (cap - 1);
			while(t[i])
				i = (i + 1) & (cap - 1);
			t[i] = ctx->intern[j];
		}
		free(ctx->intern);
		ctx->intern = t;
		ctx->intern_cap = cap;
	}
	mask = ctx->intern_cap - 1;
	i = hash_bytes(s, len) & mask;
	while((o = ctx->intern[i])) {
		if(strncmp(ctx->pool + o, s, len) == 0 && ctx->pool[o + len] == '\0')
			return o;
		i = (i + 1) & mask;
	}
	o = pool_add(ctx, s, len);
	if(o) {
		ctx->intern[i] = o;
		ctx->intern_n++;
	}
	return o;
}

void cdr_ctx_free(cdr_ctx_t *ctx)
{
	free(ctx->rec);
	free(ctx->pool);
	free(ctx->intern);
	ctx->rec = NULL;
	ctx->pool = NULL;
	ctx->intern = NULL;
}

/* ---- errors */

/* a file name printed with anything not printable escaped */
static void put_name(FILE *out, const char *s)
{
	size_t i, n = strlen(s);

	for(i = 0; i < n && i < 512; i++) {
		unsigned char c = (unsigned char)s[i];
		if(c < 0x20 || c >= 0x7f || c == '\\')
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

/* counts a bad row of kind at line and prints "file:line: why" (while
 * under the limit of printed errors); why is the tool's own text */
static void __attribute__((format(printf, 5, 6))) bad_row(cdr_ctx_t *ctx,
		int file, uint64_t line, int kind, const char *fmt, ...)
{
	va_list ap;
	char why[256];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ctx->bad++;
	if(kind >= 0 && kind < CDR_ERR_KINDS)
		ctx->bad_kind[kind]++;
	if(ctx->bad <= (uint64_t)ctx->err_shown) {
		put_name(ctx->err, ctx->files[file]);
		fprintf(ctx->err, ":%llu: %s\n", (unsigned long long)line, why);
	} else if(ctx->bad == (uint64_t)ctx->err_shown + 1) {
		fprintf(ctx->err, "af-cdr: more bad rows are counted, not shown\n");
	}
}

#define BAD(ctx, file, line, kind, fmt, ...) \
	bad_row(ctx, file, line, kind, fmt, ##__VA_ARGS__)

/* a new record, zeroed; NULL past --max-records or out of memory (the
 * row is reported as over the record limit; ctx->oom set) */
static cdr_rec_t *rec_new(cdr_ctx_t *ctx, int file, uint64_t line)
{
	cdr_rec_t *r;

	if(ctx->n_rec >= ctx->max_records || ctx->oom) {
		BAD(ctx, file, line, CDR_E_LIMIT, "%s: row not replayed",
				ctx->oom ? "out of memory"
						 : "more records than --max-records");
		return NULL;
	}
	if(ctx->n_rec == ctx->cap_rec) {
		size_t cap = ctx->cap_rec ? ctx->cap_rec * 2 : 1 << 14;
		r = realloc(ctx->rec, cap * sizeof(*r));
		if(!r) {
			ctx->oom = 1;
			BAD(ctx, file, line, CDR_E_LIMIT, "out of memory: row not"
											  " replayed");
			return NULL;
		}
		ctx->rec = r;
		ctx->cap_rec = cap;
	}
	r = &ctx->rec[ctx->n_rec++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* a field's text for a message: the core's bounded excerpt (at most
 * AF_TEXT_EXCERPT bytes, anything not plain written \xNN) */
static const char *show(const char *s, size_t len, char *buf, size_t size)
{
	if(size < AF_TEXT_EXCERPT_BUF) {
		buf[0] = '\0';
		return buf;
	}
	return af_text_excerpt(s, len, buf);
}

/* ---- UTF-8 */

/* 0 when s[0..len) is well-formed UTF-8 without NUL, else the offset + 1
 * of the first bad byte */
static size_t utf8_bad(const unsigned char *s, size_t len)
{
	size_t i = 0, k, n;
	uint32_t cp;

	while(i < len) {
		unsigned char c = s[i];
		if(c == 0)
			return i + 1;
		if(c < 0x80) {
			i++;
			continue;
		}
		if(c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if(c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if(c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return i + 1;
		}
		for(k = 1; k <= n; k++) {
			if(i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return i + 1;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))
				|| (cp >= 0xd800 && cp <= 0xdfff))
			return i + 1;
		i += n + 1;
	}
	return 0;
}

/* ---- fields */

typedef struct fld {
	const char *s;
	size_t len;
} fld_t;

/*
 * Splits line[0..len) on sep into f[0..max). With quotes, a field may be
 * quoted ("a, b" with "" for a quote; the quotes are removed in place).
 * With esc, a backslash escapes the next byte (db_flatstore) and is
 * removed; esc 2 also reads db_text's \n, \r and \t. Returns the number of fields, -1 on bad quoting, -2 when there
 * are more than max.
 */
static int split(char *line, size_t len, char sep, int quotes, int esc,
		fld_t *f, int max)
{
	size_t i = 0, o;
	int n = 0;

	for(;;) {
		char *start = line + i;
		if(n == max)
			return -2;
		o = 0;
		if(quotes && i < len && line[i] == '"') {
			i++;
			for(;;) {
				if(i >= len)
					return -1;
				if(line[i] == '"') {
					if(i + 1 < len && line[i + 1] == '"') {
						start[o++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				start[o++] = line[i++];
			}
			if(i < len && line[i] != sep)
				return -1;
		} else {
			while(i < len && line[i] != sep) {
				if(esc && line[i] == '\\' && i + 1 < len) {
					i++;
					if(esc == 2 && (line[i] == 'n' || line[i] == 'r'
										   || line[i] == 't')) {
						start[o++] = line[i] == 'n'	  ? '\n'
									 : line[i] == 'r' ? '\r'
													  : '\t';
						i++;
						continue;
					}
				}
				start[o++] = line[i++];
			}
		}
		f[n].s = start;
		f[n].len = o;
		n++;
		if(i >= len)
			return n;
		i++; /* the separator */
		if(i == len) {
			if(n == max)
				return -2;
			f[n].s = line + i;
			f[n].len = 0;
			return n + 1;
		}
	}
}

/* 1 when field f is s, ignoring case */
static int fld_eq(const fld_t *f, const char *s)
{
	size_t n = strlen(s);
	return f->len == n && strncasecmp(f->s, s, n) == 0;
}

/* unsigned integer field into *v: 0, -1 when not one */
static int fld_uint(const fld_t *f, uint64_t *v)
{
	size_t i;
	uint64_t x = 0;

	if(!f->len || f->len > 18)
		return -1;
	for(i = 0; i < f->len; i++) {
		if(f->s[i] < '0' || f->s[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(f->s[i] - '0');
	}
	*v = x;
	return 0;
}

/* seconds with an optional fraction into ms: 0, -1 when not a number */
static int fld_secs_ms(const fld_t *f, uint64_t *ms)
{
	size_t i = 0;
	uint64_t s = 0, frac = 0, scale = 1000;
	int digits = 0;

	if(!f->len || f->len > 24)
		return -1;
	for(; i < f->len && f->s[i] >= '0' && f->s[i] <= '9'; i++, digits++)
		s = s * 10 + (uint64_t)(f->s[i] - '0');
	if(!digits || digits > 12)
		return -1;
	if(i < f->len && (f->s[i] == '.' || f->s[i] == ',')) {
		i++;
		for(; i < f->len && f->s[i] >= '0' && f->s[i] <= '9'; i++) {
			if(scale > 1) {
				scale /= 10;
				frac += (uint64_t)(f->s[i] - '0') * scale;
			}
		}
	}
	if(i != f->len)
		return -1;
	*ms = s * 1000 + frac;
	return 0;
}

/* the two decimal digits at s, -1 when they are not digits */
static int num2(const char *s)
{
	if(s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* days since 1970-01-01 of a civil date (proleptic Gregorian) */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * A timestamp: epoch seconds (with a fraction), or a date
 * "YYYY-MM-DD HH:MM:SS[.fff]" ('T' allowed, then 'Z' or +hh:mm); a date
 * without a zone is local time of the CDR source (--tz-offset). Into
 * *ms; 0, -1 when not a timestamp of 2000..2100.
 */
static int parse_time(const cdr_ctx_t *ctx, const fld_t *f, uint64_t *ms)
{
	const char *s = f->s;
	size_t len = f->len, i;
	int y, mo, d, h, mi, se, sign;
	int64_t t, off = ctx->tz_offset_s;
	uint64_t frac = 0, scale = 1000;
	static const int mdays[12] = {
			31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if(len >= 19 && s[4] == '-' && s[7] == '-'
			&& (s[10] == ' ' || s[10] == 'T') && s[13] == ':'
			&& s[16] == ':') {
		y = num2(s) * 100 + num2(s + 2);
		mo = num2(s + 5);
		d = num2(s + 8);
		h = num2(s + 11);
		mi = num2(s + 14);
		se = num2(s + 17);
		if(num2(s) < 0 || num2(s + 2) < 0 || mo < 1 || mo > 12 || d < 1
				|| d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 || mi > 59
				|| se < 0 || se > 60)
			return -1;
		if(mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)))
			return -1;
		i = 19;
		if(i < len && (s[i] == '.' || s[i] == ',')) {
			i++;
			if(i >= len || s[i] < '0' || s[i] > '9')
				return -1;
			for(; i < len && s[i] >= '0' && s[i] <= '9'; i++)
				if(scale > 1) {
					scale /= 10;
					frac += (uint64_t)(s[i] - '0') * scale;
				}
		}
		if(i < len && s[i] == 'Z') {
			off = 0;
			i++;
		} else if(i < len && (s[i] == '+' || s[i] == '-')) {
			sign = s[i] == '-' ? -1 : 1;
			if(i + 3 > len || num2(s + i + 1) < 0)
				return -1;
			off = num2(s + i + 1) * 3600;
			i += 3;
			if(i < len && s[i] == ':')
				i++;
			if(i + 2 <= len && num2(s + i) >= 0) {
				off += num2(s + i) * 60;
				i += 2;
			}
			off *= sign;
		}
		if(i != len)
			return -1;
		t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
		if(t < 946684800 || t > 4102444800LL)
			return -1;
		*ms = (uint64_t)t * 1000 + frac;
		return 0;
	}
	if(fld_secs_ms(f, ms) < 0)
		return -1;
	if(*ms < 946684800000ULL || *ms > 4102444800000ULL)
		return -1;
	return 0;
}

/* ---- the line reader: bounded lines, reported when longer */

typedef struct reader {
	FILE *f;
	char *buf;   /* line_max + 1 */
	size_t max;
	uint64_t line;
	int eof;
	int no_newline; /* the last line read had no newline */
	int too_long;   /* the last line was longer than max (skipped) */
	int io_error;
} reader_t;

/* the next line without its newline (and CR) into r->buf; returns its
 * length, -1 at the end. A line longer than max is consumed and
 * returned with too_long set and length 0. */
static long read_line(reader_t *r)
{
	size_t n = 0;
	int c;

	r->too_long = 0;
	r->no_newline = 0;
	if(r->eof)
		return -1;
	for(;;) {
		c = getc_unlocked(r->f);
		if(c == EOF) {
			if(ferror(r->f))
				r->io_error = 1;
			r->eof = 1;
			if(n == 0 && !r->too_long)
				return -1;
			r->no_newline = 1;
			break;
		}
		if(c == '\n')
			break;
		if(n < r->max)
			r->buf[n++] = (char)c;
		else
			r->too_long = 1;
	}
	r->line++;
	if(r->too_long)
		return 0;
	if(n && r->buf[n - 1] == '\r')
		n--;
	r->buf[n] = '\0';
	return (long)n;
}

/* ---- Kamailio acc: pairing of the INVITE and the BYE on the Call-ID */

typedef struct pairs {
	uint32_t *slot; /* record index + 1; UINT32_MAX: deleted */
	size_t cap;
	size_t used;
	uint64_t last_failed; /* hash of the last failed INVITE's Call-ID */
} pairs_t;

/* doubles the table of p (rehashing its records); 0, -1 out of memory */
static int pairs_grow(cdr_ctx_t *ctx, pairs_t *p)
{
	size_t cap = p->cap ? p->cap * 2 : 1024, i, j;
	uint32_t *t = calloc(cap, sizeof(*t));

	if(!t)
		return -1;
	for(j = 0; j < p->cap; j++) {
		uint32_t v = p->slot[j];
		const char *k;
		if(!v || v == UINT32_MAX)
			continue;
		k = cdr_str(ctx, ctx->rec[v - 1].callid);
		i = hash_bytes(k, strlen(k)) & (cap - 1);
		while(t[i])
			i = (i + 1) & (cap - 1);
		t[i] = v;
	}
	free(p->slot);
	p->slot = t;
	p->cap = cap;
	p->used = 0;
	for(j = 0; j < cap; j++)
		if(t[j])
			p->used++;
	return 0;
}

/* the slot of callid: its record, or where it would go (*found 0) */
static size_t pairs_find(cdr_ctx_t *ctx, pairs_t *p, const fld_t *callid,
		int *found)
{
	size_t i = hash_bytes(callid->s, callid->len) & (p->cap - 1);
	size_t tomb = SIZE_MAX;
	uint32_t v;

	*found = 0;
	while((v = p->slot[i])) {
		if(v == UINT32_MAX) {
			if(tomb == SIZE_MAX)
				tomb = i;
		} else {
			const char *k = cdr_str(ctx, ctx->rec[v - 1].callid);
			if(strncmp(k, callid->s, callid->len) == 0
					&& k[callid->len] == '\0') {
				*found = 1;
				return i;
			}
		}
		i = (i + 1) & (p->cap - 1);
	}
	return tomb != SIZE_MAX ? tomb : i;
}

/* what an acc record says, whatever its layout */
typedef struct acc_row {
	fld_t method, callid, code, time, caller, host, callee, src;
	fld_t to_tag;
} acc_row_t;

/* folds one acc record into the calls: an answered INVITE opens a call,
 * its BYE ends it, a failed INVITE is an attempt of its own */
static void acc_fold(cdr_ctx_t *ctx, pairs_t *p, int file, uint64_t line,
		const acc_row_t *a)
{
	uint64_t t, code;
	char sb[AF_TEXT_EXCERPT_BUF];
	cdr_rec_t *r;
	size_t i;
	int found;
	uint64_t h;

	if(!a->method.len || !a->callid.len) {
		BAD(ctx, file, line, CDR_E_FIELD, "no method or call_id");
		return;
	}
	if(a->callid.len > 255) {
		BAD(ctx, file, line, CDR_E_FIELD, "call_id longer than 255 bytes");
		return;
	}
	if(parse_time(ctx, &a->time, &t) < 0) {
		BAD(ctx, file, line, CDR_E_TIME, "bad timestamp '%s'",
				show(a->time.s, a->time.len, sb, sizeof(sb)));
		return;
	}
	if(fld_uint(&a->code, &code) < 0 || code < 100 || code > 699) {
		BAD(ctx, file, line, CDR_E_FIELD, "bad code '%s'",
				show(a->code.s, a->code.len, sb, sizeof(sb)));
		return;
	}
	if(p->used * 2 >= p->cap && pairs_grow(ctx, p) < 0)
		return;
	if(fld_eq(&a->method, "BYE")) {
		if(ctx->n_byes == ctx->cap_byes) {
			size_t cap = ctx->cap_byes ? ctx->cap_byes * 2 : 4096;
			struct cdr_bye *b = realloc(ctx->byes, cap * sizeof(*b));
			if(!b)
				return;
			ctx->byes = b;
			ctx->cap_byes = cap;
		}
		ctx->byes[ctx->n_byes].t = t;
		ctx->byes[ctx->n_byes].callid = pool_add(ctx, a->callid.s,
				a->callid.len);
		ctx->n_byes++;
		return;
	}
	if(!fld_eq(&a->method, "INVITE")) {
		ctx->ignored++;
		return;
	}
	if(!a->callee.len || !a->caller.len) {
		BAD(ctx, file, line, CDR_E_FIELD,
				"no caller or callee (set acc's log_extra/db_extra: src_user,"
				" dst_user)");
		return;
	}
	if(a->caller.len > 127 || a->callee.len > 64 || a->host.len > 127
			|| a->src.len > 64) {
		BAD(ctx, file, line, CDR_E_FIELD, "caller, callee or host too long");
		return;
	}
	h = hash_bytes(a->callid.s, a->callid.len);
	if(code >= 300) {
		/* the same failure logged twice (missed and failed flags) */
		if(p->last_failed == h)
			return;
		p->last_failed = h;
	} else if(a->to_tag.len == 0 && code >= 200) {
		/* an INVITE 2xx always has a To tag */
	}
	i = pairs_find(ctx, p, &a->callid, &found);
	if(found && code < 300)
		return; /* a retransmitted 2xx logged again */
	r = rec_new(ctx, file, line);
	if(!r)
		return;
	r->file = (uint16_t)file;
	r->line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	r->caller = pool_intern(ctx, a->caller.s, a->caller.len);
	r->host = a->host.len ? pool_intern(ctx, a->host.s, a->host.len) : 0;
	r->callee = pool_add(ctx, a->callee.s, a->callee.len);
	r->callid = pool_add(ctx, a->callid.s, a->callid.len);
	r->src = a->src.len ? pool_intern(ctx, a->src.s, a->src.len) : 0;
	r->start_ms = t;
	r->code = (uint16_t)code;
	if(code < 300) {
		r->answer_ms = t;
		r->end_ms = 0; /* the BYE's */
		if(!found) {
			p->slot[i] = (uint32_t)ctx->n_rec;
			p->used++;
		}
	} else {
		r->end_ms = t;
	}
}

/* the fields of an acc record by name */
static void acc_set(acc_row_t *a, const fld_t *k, const fld_t *v)
{
	if(fld_eq(k, "method"))
		a->method = *v;
	else if(fld_eq(k, "call_id") || fld_eq(k, "callid"))
		a->callid = *v;
	else if(fld_eq(k, "code") || fld_eq(k, "sip_code"))
		a->code = *v;
	else if(fld_eq(k, "timestamp") || fld_eq(k, "time"))
		a->time = *v;
	else if(fld_eq(k, "src_user") || fld_eq(k, "from_user")
			|| fld_eq(k, "caller"))
		a->caller = *v;
	else if(fld_eq(k, "src_domain") || fld_eq(k, "from_domain"))
		a->host = *v;
	else if(fld_eq(k, "dst_user") || fld_eq(k, "ruri_user")
			|| fld_eq(k, "callee"))
		a->callee = *v;
	else if(fld_eq(k, "dst_ouser") && !a->callee.len)
		a->callee = *v;
	else if(fld_eq(k, "src_ip"))
		a->src = *v;
	else if(fld_eq(k, "to_tag"))
		a->to_tag = *v;
}

/* Kamailio acc log line: "... ACC: <what>: timestamp=T;k=v;k=v" */
static int kam_log_line(cdr_ctx_t *ctx, pairs_t *p, int file, uint64_t line,
		char *s, size_t len)
{
	char *acc = memmem(s, len, "ACC: ", 5), *kv, *end = s + len, *e, *sc;
	acc_row_t a;
	fld_t k, v;

	if(!acc) {
		ctx->ignored++;
		return 0;
	}
	kv = memmem(acc, (size_t)(end - acc), ": timestamp=", 12);
	if(!kv) {
		kv = memmem(acc, (size_t)(end - acc), "timestamp=", 10);
		if(!kv) {
			BAD(ctx, file, line, CDR_E_FIELD, "ACC line without timestamp=");
			return -1;
		}
	} else {
		kv += 2;
	}
	memset(&a, 0, sizeof(a));
	while(kv < end) {
		sc = memchr(kv, ';', (size_t)(end - kv));
		if(!sc)
			sc = end;
		e = memchr(kv, '=', (size_t)(sc - kv));
		if(e) {
			k.s = kv;
			k.len = (size_t)(e - kv);
			v.s = e + 1;
			v.len = (size_t)(sc - e - 1);
			acc_set(&a, &k, &v);
		}
		kv = sc + 1;
	}
	acc_fold(ctx, p, file, line, &a);
	return 0;
}

/* the columns of acc's flatstore rows: the core columns, the time, the
 * extras (--acc-extra, default those of Kamailio's sample config) */
#define ACC_FLAT_DEFAULT_EXTRA \
	"src_user,src_domain,src_ip,dst_ouser,dst_user,dst_domain"

typedef struct colmap {
	char names[CDR_FIELDS_MAX][32];
	int n;
} colmap_t;

/* appends the column name s[0..len) (at most 31 bytes kept) */
static void colmap_add(colmap_t *m, const char *s, size_t len)
{
	if(m->n >= CDR_FIELDS_MAX)
		return;
	if(len > 31)
		len = 31;
	memcpy(m->names[m->n], s, len);
	m->names[m->n][len] = '\0';
	m->n++;
}

/* appends the comma-separated names of list */
static void colmap_list(colmap_t *m, const char *list)
{
	const char *p = list, *c;

	while(*p) {
		c = strchr(p, ',');
		if(!c)
			c = p + strlen(p);
		colmap_add(m, p, (size_t)(c - p));
		p = *c ? c + 1 : c;
	}
}

/* an acc record from the fields f[0..n) named by m */
static void acc_from_fields(const colmap_t *m, const fld_t *f, int n,
		acc_row_t *a)
{
	int i;
	fld_t k;

	memset(a, 0, sizeof(*a));
	for(i = 0; i < n && i < m->n; i++) {
		k.s = m->names[i];
		k.len = strlen(m->names[i]);
		acc_set(a, &k, &f[i]);
	}
}

/* ---- dialog CDRs: Kamailio acc_cdrs "k=v; k=v" (or ", ") */

/* one line of acc's dialog CDRs: a call from start_time to end_time */
static int kam_cdrs_line(cdr_ctx_t *ctx, int file, uint64_t line, char *s,
		size_t len)
{
	char *st = memmem(s, len, "start_time=", 11), *end = s + len, *e, *kv;
	fld_t start = {0}, stop = {0}, dur = {0}, caller = {0}, host = {0},
		  callee = {0}, callid = {0}, src = {0}, code = {0}, k, v;
	uint64_t t0, t1, d = 0, c = 0;
	char sb[AF_TEXT_EXCERPT_BUF];
	cdr_rec_t *r;

	if(!st) {
		ctx->ignored++;
		return 0;
	}
	kv = st;
	while(kv < end) {
		char *sep = kv;
		while(sep < end && !((*sep == ';' || *sep == ',')
										&& (sep + 1 == end || sep[1] == ' ')))
			sep++;
		e = memchr(kv, '=', (size_t)(sep - kv));
		if(e) {
			k.s = kv;
			k.len = (size_t)(e - kv);
			v.s = e + 1;
			v.len = (size_t)(sep - e - 1);
			if(fld_eq(&k, "start_time"))
				start = v;
			else if(fld_eq(&k, "end_time"))
				stop = v;
			else if(fld_eq(&k, "duration"))
				dur = v;
			else if(fld_eq(&k, "src_user") || fld_eq(&k, "caller")
					|| fld_eq(&k, "from_user"))
				caller = v;
			else if(fld_eq(&k, "src_domain") || fld_eq(&k, "from_domain"))
				host = v;
			else if(fld_eq(&k, "dst_user") || fld_eq(&k, "callee")
					|| fld_eq(&k, "ruri_user"))
				callee = v;
			else if(fld_eq(&k, "callid") || fld_eq(&k, "call_id"))
				callid = v;
			else if(fld_eq(&k, "src_ip"))
				src = v;
			else if(fld_eq(&k, "code") || fld_eq(&k, "sip_code"))
				code = v;
		}
		kv = sep + 2;
	}
	if(parse_time(ctx, &start, &t0) < 0) {
		BAD(ctx, file, line, CDR_E_TIME, "bad start_time '%s'",
				show(start.s, start.len, sb, sizeof(sb)));
		return -1;
	}
	if(stop.len && parse_time(ctx, &stop, &t1) < 0) {
		BAD(ctx, file, line, CDR_E_TIME, "bad end_time '%s'",
				show(stop.s, stop.len, sb, sizeof(sb)));
		return -1;
	}
	if(!stop.len) {
		if(fld_secs_ms(&dur, &d) < 0) {
			BAD(ctx, file, line, CDR_E_FIELD, "no end_time and bad duration");
			return -1;
		}
		t1 = t0 + d;
	}
	if(t1 < t0) {
		BAD(ctx, file, line, CDR_E_TIME, "end_time before start_time");
		return -1;
	}
	if(!caller.len || !callee.len || caller.len > 127 || callee.len > 64
			|| host.len > 127 || callid.len > 255 || src.len > 64) {
		BAD(ctx, file, line, CDR_E_FIELD,
				"no caller or callee (cdr_extra: src_user, dst_user), or too"
				" long");
		return -1;
	}
	if(code.len && (fld_uint(&code, &c) < 0 || c < 100 || c > 699)) {
		BAD(ctx, file, line, CDR_E_FIELD, "bad code");
		return -1;
	}
	r = rec_new(ctx, file, line);
	if(!r)
		return -1;
	r->file = (uint16_t)file;
	r->line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	r->caller = pool_intern(ctx, caller.s, caller.len);
	r->host = pool_intern(ctx, host.s, host.len);
	r->callee = pool_add(ctx, callee.s, callee.len);
	r->callid = pool_add(ctx, callid.s, callid.len);
	r->src = pool_intern(ctx, src.s, src.len);
	/* dialog CDRs are of answered calls: start_time is the answer */
	r->start_ms = t0;
	r->answer_ms = t0;
	r->end_ms = t1;
	r->code = c && c >= 300 ? (uint16_t)c : 200;
	if(r->code >= 300) {
		r->answer_ms = 0;
		r->end_ms = t0;
	}
	return 0;
}

/* ---- CSV rows with a column map (generic, OpenSIPS, FreeSWITCH,
 * Asterisk) */

typedef struct csv_map {
	int col[CDR_C__COUNT];
	int ncols;         /* expected field count (0: any >= the used ones) */
	int min_cols;
	int answer_is_time; /* the answer column is a time (else a flag) */
	int opensips;      /* answer = time, start = created or time - setup */
	int setup_col;
	int created_col;
	int code_col;
	int method_col;
} csv_map_t;

/* SIP code of a disposition word or number */
static int disposition_code(const fld_t *f, int answered)
{
	uint64_t c;
	static const struct {
		const char *w;
		int code;
	} words[] = {{"ANSWERED", 200}, {"NORMAL_CLEARING", 200},
			{"NO ANSWER", 480}, {"NO_ANSWER", 480}, {"NOANSWER", 480},
			{"NO_USER_RESPONSE", 480}, {"BUSY", 486}, {"USER_BUSY", 486},
			{"FAILED", 500}, {"CONGESTION", 503},
			{"NORMAL_TEMPORARY_FAILURE", 503}, {"ORIGINATOR_CANCEL", 487},
			{"CANCEL", 487}, {"CALL_REJECTED", 603}, {"UNALLOCATED_NUMBER", 404},
			{"NO_ROUTE_DESTINATION", 404}, {"INVALID_NUMBER_FORMAT", 484},
			{"RECOVERY_ON_TIMER_EXPIRE", 408}, {"ALLOTTED_TIMEOUT", 200}};
	size_t i;

	if(!f->len)
		return answered ? 200 : 487;
	if(fld_uint(f, &c) == 0)
		return c >= 100 && c <= 699 ? (int)c : -1;
	for(i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if(fld_eq(f, words[i].w))
			return answered && words[i].code >= 300 ? 200 : words[i].code;
	return answered ? 200 : 500;
}

/* field c of f[0..n), an empty one when c is none or missing */
static const fld_t *col(const fld_t *f, int n, int c)
{
	static const fld_t empty = {"", 0};
	return c >= 0 && c < n ? &f[c] : &empty;
}

/* one CSV row through the column map m: the call's times are completed
 * from those the format has (answer from end - billsec, end from start +
 * duration...) and checked for order; 0, -1 a bad row (reported) */
static int csv_row(cdr_ctx_t *ctx, const csv_map_t *m, int file,
		uint64_t line, const fld_t *f, int n)
{
	uint64_t start = 0, ans = 0, end = 0, dur = 0, bill = 0, setup = 0;
	uint64_t ring = 0;
	const fld_t *caller, *callee, *x;
	char sb[AF_TEXT_EXCERPT_BUF];
	int code, has_dur, has_bill, answered;
	cdr_rec_t *r;
	const char *at;
	size_t ulen;

	if((m->ncols && n != m->ncols) || n < m->min_cols) {
		BAD(ctx, file, line, CDR_E_COLUMNS, "%d fields, expected %d", n,
				m->ncols ? m->ncols : m->min_cols);
		return -1;
	}
	if(m->method_col >= 0 && !fld_eq(col(f, n, m->method_col), "INVITE")) {
		ctx->ignored++;
		return 0;
	}
	x = col(f, n, m->col[CDR_C_START]);
	if(m->opensips) {
		/* OpenSIPS: time is the answer (or the failure); created the
		 * INVITE when set, else time - setuptime */
		if(parse_time(ctx, x, &ans) < 0) {
			BAD(ctx, file, line, CDR_E_TIME, "bad time '%s'",
					show(x->s, x->len, sb, sizeof(sb)));
			return -1;
		}
		start = ans;
		x = col(f, n, m->created_col);
		if(x->len && !fld_eq(x, "NULL") && parse_time(ctx, x, &start) < 0) {
			BAD(ctx, file, line, CDR_E_TIME, "bad created '%s'",
					show(x->s, x->len, sb, sizeof(sb)));
			return -1;
		}
		x = col(f, n, m->setup_col);
		if(x->len && fld_secs_ms(x, &setup) == 0 && !col(f, n, m->created_col)->len
				&& setup <= ans)
			start = ans - setup;
	} else if(parse_time(ctx, x, &start) < 0) {
		BAD(ctx, file, line, CDR_E_TIME, "bad start time '%s'",
				show(x->s, x->len, sb, sizeof(sb)));
		return -1;
	}
	x = col(f, n, m->col[CDR_C_ANSWER]);
	if(!m->opensips && x->len && parse_time(ctx, x, &ans) < 0) {
		BAD(ctx, file, line, CDR_E_TIME, "bad answer time '%s'",
				show(x->s, x->len, sb, sizeof(sb)));
		return -1;
	}
	x = col(f, n, m->col[CDR_C_RING]);
	if(x->len && parse_time(ctx, x, &ring) < 0) {
		BAD(ctx, file, line, CDR_E_TIME, "bad ring time '%s'",
				show(x->s, x->len, sb, sizeof(sb)));
		return -1;
	}
	x = col(f, n, m->col[CDR_C_END]);
	if(x->len && parse_time(ctx, x, &end) < 0) {
		BAD(ctx, file, line, CDR_E_TIME, "bad end time '%s'",
				show(x->s, x->len, sb, sizeof(sb)));
		return -1;
	}
	x = col(f, n, m->col[CDR_C_DURATION]);
	has_dur = x->len > 0;
	if(has_dur && fld_secs_ms(x, &dur) < 0) {
		BAD(ctx, file, line, CDR_E_FIELD, "bad duration '%s'",
				show(x->s, x->len, sb, sizeof(sb)));
		return -1;
	}
	x = col(f, n, m->col[CDR_C_BILLSEC]);
	has_bill = x->len > 0;
	if(has_bill && fld_secs_ms(x, &bill) < 0) {
		BAD(ctx, file, line, CDR_E_FIELD, "bad billsec '%s'",
				show(x->s, x->len, sb, sizeof(sb)));
		return -1;
	}
	x = col(f, n, m->col[CDR_C_DISPOSITION]);
	if(m->code_col >= 0)
		x = col(f, n, m->code_col);
	answered = ans != 0 || (has_bill && bill > 0);
	code = disposition_code(x, answered);
	if(code < 0) {
		BAD(ctx, file, line, CDR_E_FIELD, "bad disposition '%s'",
				show(x->s, x->len, sb, sizeof(sb)));
		return -1;
	}
	if(code >= 300)
		answered = 0;
	else if(code >= 200)
		answered = 1;
	/* the times that are missing from those that are there */
	if(m->opensips) {
		if(answered)
			end = ans + dur;
		else
			end = ans;
		if(!answered)
			ans = 0;
	} else {
		if(!end && has_dur)
			end = start + dur;
		if(answered && !ans) {
			if(has_bill && end)
				ans = end >= bill ? end - bill : start;
			else
				ans = start;
		}
		if(!end)
			end = ans ? ans + (has_bill ? bill : 0) : start;
		if(!answered)
			ans = 0;
	}
	if(end < start || (ans && (ans < start || ans > end))
			|| (ring && (ring < start || ring > end || (ans && ring > ans)))) {
		BAD(ctx, file, line, CDR_E_TIME, "times out of order (start, answer,"
										 " end)");
		return -1;
	}
	caller = col(f, n, m->col[CDR_C_CALLER]);
	callee = col(f, n, m->col[CDR_C_CALLEE]);
	if(!caller->len || !callee->len) {
		BAD(ctx, file, line, CDR_E_FIELD, "no caller or callee");
		return -1;
	}
	if(caller->len > 127 || callee->len > 64
			|| col(f, n, m->col[CDR_C_CALLID])->len > 255
			|| col(f, n, m->col[CDR_C_SOURCE])->len > 64
			|| col(f, n, m->col[CDR_C_DOMAIN])->len > 127) {
		BAD(ctx, file, line, CDR_E_FIELD, "a field is too long");
		return -1;
	}
	r = rec_new(ctx, file, line);
	if(!r)
		return -1;
	r->file = (uint16_t)file;
	r->line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	/* a caller written user@host gives both */
	at = memchr(caller->s, '@', caller->len);
	ulen = at ? (size_t)(at - caller->s) : caller->len;
	r->caller = pool_intern(ctx, caller->s, ulen);
	x = col(f, n, m->col[CDR_C_DOMAIN]);
	if(x->len)
		r->host = pool_intern(ctx, x->s, x->len);
	else if(at)
		r->host = pool_intern(ctx, at + 1, caller->len - ulen - 1);
	r->callee = pool_add(ctx, callee->s, callee->len);
	x = col(f, n, m->col[CDR_C_CALLID]);
	r->callid = pool_add(ctx, x->s, x->len);
	x = col(f, n, m->col[CDR_C_SOURCE]);
	r->src = pool_intern(ctx, x->s, x->len);
	r->start_ms = start;
	r->ring_ms = ring;
	r->answer_ms = ans;
	r->end_ms = end;
	r->code = (uint16_t)(answered ? 200 : code);
	return 0;
}

static const char *const col_keys[CDR_C__COUNT] = {"start", "caller",
		"callee", "answer", "end", "duration", "billsec", "disposition",
		"callid", "source", "domain", "ring"};

/* the column map of --columns key=name-or-number,... against the header
 * h[0..nh) (NULL: numbers only). Returns 0, -1 with a message. */
static int columns_map(cdr_ctx_t *ctx, csv_map_t *m, const fld_t *h, int nh)
{
	char *spec = ctx->columns_spec, *p, *c, *eq;
	int k, i;
	uint64_t idx;
	fld_t v;

	memset(m, 0, sizeof(*m));
	for(k = 0; k < CDR_C__COUNT; k++)
		m->col[k] = -1;
	m->setup_col = m->created_col = m->code_col = m->method_col = -1;
	if(!spec)
		return -1;
	p = spec;
	while(*p) {
		c = strchr(p, ',');
		if(!c)
			c = p + strlen(p);
		eq = memchr(p, '=', (size_t)(c - p));
		if(!eq) {
			fprintf(ctx->err, "af-cdr: --columns: expected key=column in"
							  " '%.*s'\n",
					(int)(c - p > 40 ? 40 : c - p), p);
			return -1;
		}
		for(k = 0; k < CDR_C__COUNT; k++)
			if(strlen(col_keys[k]) == (size_t)(eq - p)
					&& strncmp(col_keys[k], p, (size_t)(eq - p)) == 0)
				break;
		if(k == CDR_C__COUNT) {
			fprintf(ctx->err, "af-cdr: --columns: unknown key '%.*s' (start,"
							  " caller, callee, ring, answer, end, duration,"
							  " billsec, disposition, callid, source, domain)\n",
					(int)(eq - p > 40 ? 40 : eq - p), p);
			return -1;
		}
		v.s = eq + 1;
		v.len = (size_t)(c - eq - 1);
		if(fld_uint(&v, &idx) == 0 && idx >= 1 && idx <= CDR_FIELDS_MAX) {
			m->col[k] = (int)idx - 1;
		} else {
			for(i = 0; h && i < nh; i++)
				if(h[i].len == v.len && strncmp(h[i].s, v.s, v.len) == 0)
					break;
			if(!h || i == nh) {
				fprintf(ctx->err, "af-cdr: --columns: no column '%.*s'%s\n",
						(int)(v.len > 40 ? 40 : v.len), v.s,
						h ? " in the header" : " (no header: use numbers)");
				return -1;
			}
			m->col[k] = i;
		}
		p = *c ? c + 1 : c;
	}
	if(m->col[CDR_C_START] < 0 || m->col[CDR_C_CALLER] < 0
			|| m->col[CDR_C_CALLEE] < 0) {
		fprintf(ctx->err, "af-cdr: --columns needs start, caller and callee\n");
		return -1;
	}
	for(k = 0; k < CDR_C__COUNT; k++)
		if(m->col[k] + 1 > m->min_cols)
			m->min_cols = m->col[k] + 1;
	return 0;
}

/* the FreeSWITCH mod_cdr_csv default template: caller_id_name,
 * caller_id_number, destination_number, context, start_stamp,
 * answer_stamp, end_stamp, duration, billsec, hangup_cause, uuid,
 * bleg_uuid, accountcode, read_codec, write_codec (13 to 16 fields:
 * older templates end at accountcode) */
static void map_freeswitch(csv_map_t *m)
{
	int k;

	memset(m, 0, sizeof(*m));
	for(k = 0; k < CDR_C__COUNT; k++)
		m->col[k] = -1;
	m->setup_col = m->created_col = m->code_col = m->method_col = -1;
	m->col[CDR_C_CALLER] = 1;
	m->col[CDR_C_CALLEE] = 2;
	m->col[CDR_C_START] = 4;
	m->col[CDR_C_ANSWER] = 5;
	m->col[CDR_C_END] = 6;
	m->col[CDR_C_DURATION] = 7;
	m->col[CDR_C_BILLSEC] = 8;
	m->col[CDR_C_DISPOSITION] = 9;
	m->col[CDR_C_CALLID] = 10;
	m->min_cols = 11;
}

/* Asterisk cdr_csv: accountcode, src, dst, dcontext, clid, channel,
 * dstchannel, lastapp, lastdata, start, answer, end, duration, billsec,
 * disposition, amaflags, then uniqueid (loguniqueid) and userfield
 * (loguserfield) when enabled */
static void map_asterisk(csv_map_t *m)
{
	int k;

	memset(m, 0, sizeof(*m));
	for(k = 0; k < CDR_C__COUNT; k++)
		m->col[k] = -1;
	m->setup_col = m->created_col = m->code_col = m->method_col = -1;
	m->col[CDR_C_CALLER] = 1;
	m->col[CDR_C_CALLEE] = 2;
	m->col[CDR_C_START] = 9;
	m->col[CDR_C_ANSWER] = 10;
	m->col[CDR_C_END] = 11;
	m->col[CDR_C_DURATION] = 12;
	m->col[CDR_C_BILLSEC] = 13;
	m->col[CDR_C_DISPOSITION] = 14;
	m->col[CDR_C_CALLID] = 16;
	m->min_cols = 16;
}

/* OpenSIPS acc with a header row: method, callid, sip_code, time,
 * duration, setuptime, created and the extras (src_user/caller_id,
 * dst_user/callee_id, src_domain, src_ip) by name */
static int map_opensips(cdr_ctx_t *ctx, csv_map_t *m, const fld_t *h, int nh)
{
	int k, i;

	memset(m, 0, sizeof(*m));
	for(k = 0; k < CDR_C__COUNT; k++)
		m->col[k] = -1;
	m->setup_col = m->created_col = m->code_col = m->method_col = -1;
	m->opensips = 1;
	for(i = 0; i < nh; i++) {
		const fld_t *f = &h[i];
		if(fld_eq(f, "time"))
			m->col[CDR_C_START] = i;
		else if(fld_eq(f, "duration"))
			m->col[CDR_C_DURATION] = i;
		else if(fld_eq(f, "setuptime"))
			m->setup_col = i;
		else if(fld_eq(f, "created"))
			m->created_col = i;
		else if(fld_eq(f, "sip_code"))
			m->code_col = i;
		else if(fld_eq(f, "method"))
			m->method_col = i;
		else if(fld_eq(f, "callid"))
			m->col[CDR_C_CALLID] = i;
		else if(fld_eq(f, "src_user") || fld_eq(f, "caller_id")
				|| fld_eq(f, "from_user"))
			m->col[CDR_C_CALLER] = i;
		else if(fld_eq(f, "dst_user") || fld_eq(f, "callee_id")
				|| fld_eq(f, "ruri_user"))
			m->col[CDR_C_CALLEE] = i;
		else if(fld_eq(f, "src_domain") || fld_eq(f, "from_domain"))
			m->col[CDR_C_DOMAIN] = i;
		else if(fld_eq(f, "src_ip"))
			m->col[CDR_C_SOURCE] = i;
	}
	if(m->col[CDR_C_START] < 0 || m->code_col < 0 || m->col[CDR_C_CALLER] < 0
			|| m->col[CDR_C_CALLEE] < 0) {
		fprintf(ctx->err, "af-cdr: OpenSIPS acc header needs time, sip_code"
						  " and the caller/callee extras (src_user, dst_user)\n");
		return -1;
	}
	m->ncols = nh;
	return 0;
}

/* ---- detection */

/* 1 when f parses as a timestamp */
static int looks_time(const fld_t *f)
{
	static const cdr_ctx_t zero;
	uint64_t ms;

	return parse_time(&zero, f, &ms) == 0;
}

/* the format of a file from its first line */
static cdr_format_t detect(char *line, size_t len)
{
	fld_t f[CDR_FIELDS_MAX];
	char copy[4096];
	int n, i;

	if(memmem(line, len, "ACC: ", 5) && memmem(line, len, "timestamp=", 10))
		return CDR_F_KAM_LOG;
	if(memmem(line, len, "start_time=", 11) && memmem(line, len, "end_time=", 9))
		return CDR_F_KAM_CDRS;
	if(len >= sizeof(copy))
		return CDR_F_AUTO;
	if(memmem(line, len, "(string", 7) || memmem(line, len, "(int", 4))
		return CDR_F_KAM_DBTEXT;
	memcpy(copy, line, len);
	n = split(copy, len, ',', 1, 0, f, CDR_FIELDS_MAX);
	if(n > 0) {
		for(i = 0; i < n; i++)
			if(fld_eq(&f[i], "setuptime"))
				return CDR_F_OPENSIPS;
		if(n >= 13 && n <= 16 && looks_time(&f[4]) && looks_time(&f[6]))
			return CDR_F_FREESWITCH;
		if(n >= 16 && n <= 18 && looks_time(&f[9]) && looks_time(&f[11]))
			return CDR_F_ASTERISK;
	}
	memcpy(copy, line, len);
	n = split(copy, len, '|', 0, 1, f, CDR_FIELDS_MAX);
	if(n >= 7 && (fld_eq(&f[0], "INVITE") || fld_eq(&f[0], "BYE")
						 || fld_eq(&f[0], "ACK") || fld_eq(&f[0], "CANCEL")))
		return CDR_F_KAM_FLAT;
	return CDR_F_AUTO;
}

/* ---- one file */

int cdr_read_file(cdr_ctx_t *ctx, int file, cdr_format_t fmt)
{
	reader_t rd;
	pairs_t pairs;
	colmap_t cm;
	csv_map_t map;
	fld_t f[CDR_FIELDS_MAX];
	char sb[64];
	long len;
	size_t bad;
	int n, rc = 0, have_map = 0, header_done = 0;
	size_t first_rec = ctx->n_rec, i;

	memset(&rd, 0, sizeof(rd));
	memset(&pairs, 0, sizeof(pairs));
	memset(&cm, 0, sizeof(cm));
	if(strcmp(ctx->files[file], "-") == 0)
		rd.f = stdin;
	else
		rd.f = fopen(ctx->files[file], "r");
	if(!rd.f) {
		fprintf(ctx->err, "af-cdr: ");
		put_name(ctx->err, ctx->files[file]);
		fprintf(ctx->err, ": cannot open: %s\n", strerror(errno));
		return -1;
	}
	rd.max = (size_t)ctx->line_max;
	rd.buf = malloc(rd.max + 1);
	if(!rd.buf || pairs_grow(ctx, &pairs) < 0) {
		fprintf(ctx->err, "af-cdr: out of memory\n");
		rc = -1;
		goto out;
	}
	if(fmt == CDR_F_CSV && !ctx->columns_spec) {
		fprintf(ctx->err, "af-cdr: --format csv needs --columns\n");
		rc = -1;
		goto out;
	}
	while((len = read_line(&rd)) >= 0) {
		ctx->lines++;
		if(rd.too_long) {
			BAD(ctx, file, rd.line, CDR_E_LONG,
					"line longer than %zu bytes (skipped)", rd.max);
			continue;
		}
		if(len == 0)
			continue;
		if((bad = utf8_bad((unsigned char *)rd.buf, (size_t)len))) {
			unsigned char c = (unsigned char)rd.buf[bad - 1];
			if(rd.no_newline)
				BAD(ctx, file, rd.line, CDR_E_TRUNCATED,
						"truncated last line (no newline at the end of the"
						" file)");
			else if(c == 0)
				BAD(ctx, file, rd.line, CDR_E_UTF8,
						"a NUL byte at column %zu", bad);
			else
				BAD(ctx, file, rd.line, CDR_E_UTF8,
						"not UTF-8: byte 0x%02x at column %zu", c, bad);
			continue;
		}
		if(fmt == CDR_F_AUTO) {
			fmt = detect(rd.buf, (size_t)len);
			if(fmt == CDR_F_AUTO && rd.line >= 20) {
				fprintf(ctx->err, "af-cdr: ");
				put_name(ctx->err, ctx->files[file]);
				fprintf(ctx->err, ": format not recognized in its first lines:"
								  " name it with --format (or --columns)\n");
				rc = -1;
				goto out;
			}
			if(fmt == CDR_F_AUTO) {
				ctx->ignored++;
				continue;
			}
		}
		switch(fmt) {
			case CDR_F_KAM_LOG:
				kam_log_line(ctx, &pairs, file, rd.line, rd.buf, (size_t)len);
				break;
			case CDR_F_KAM_CDRS:
				kam_cdrs_line(ctx, file, rd.line, rd.buf, (size_t)len);
				break;
			case CDR_F_KAM_FLAT:
			case CDR_F_KAM_DBTEXT:
				if(!have_map) {
					have_map = 1;
					if(fmt == CDR_F_KAM_DBTEXT) {
						/* the header: name(type) ... */
						char *p = rd.buf, *e = rd.buf + len;
						while(p < e) {
							char *sp = memchr(p, ' ', (size_t)(e - p));
							char *par;
							if(!sp)
								sp = e;
							par = memchr(p, '(', (size_t)(sp - p));
							if(sp > p)
								colmap_add(&cm, p,
										(size_t)((par ? par : sp) - p));
							p = sp + 1;
						}
						ctx->ignored++;
						continue;
					}
					colmap_list(&cm, "method,from_tag,to_tag,callid,sip_code,"
									 "sip_reason,time");
					colmap_list(&cm, ctx->acc_extra_spec
											 ? ctx->acc_extra_spec
											 : ACC_FLAT_DEFAULT_EXTRA);
				}
				n = split(rd.buf, (size_t)len,
						fmt == CDR_F_KAM_FLAT ? '|' : ':', 0,
						fmt == CDR_F_KAM_FLAT ? 1 : 2, f,
						CDR_FIELDS_MAX);
				if(n < 0 || n != cm.n) {
					if(rd.no_newline)
						BAD(ctx, file, rd.line, CDR_E_TRUNCATED,
								"truncated last line: %d fields, expected %d",
								n, cm.n);
					else
						BAD(ctx, file, rd.line, CDR_E_COLUMNS,
								"%d fields, expected %d%s", n < 0 ? CDR_FIELDS_MAX : n,
								cm.n, fmt == CDR_F_KAM_FLAT ? " (--acc-extra names"
															 " the extra columns)"
														   : "");
					break;
				}
				{
					acc_row_t a;
					acc_from_fields(&cm, f, n, &a);
					acc_fold(ctx, &pairs, file, rd.line, &a);
				}
				break;
			case CDR_F_OPENSIPS:
			case CDR_F_FREESWITCH:
			case CDR_F_ASTERISK:
			case CDR_F_CSV:
				n = split(rd.buf, (size_t)len, ',', 1, 0, f, CDR_FIELDS_MAX);
				if(n == -1) {
					BAD(ctx, file, rd.line,
							rd.no_newline ? CDR_E_TRUNCATED : CDR_E_QUOTE,
							"%s", rd.no_newline ? "truncated last line (open"
												  " quote)"
												: "bad quoting");
					break;
				}
				if(n == -2) {
					BAD(ctx, file, rd.line, CDR_E_COLUMNS,
							"more than %d fields", CDR_FIELDS_MAX);
					break;
				}
				if(!header_done) {
					header_done = 1;
					/* a header row: its first field is no time or number */
					if(fmt == CDR_F_OPENSIPS) {
						if(map_opensips(ctx, &map, f, n) < 0) {
							rc = -1;
							goto out;
						}
						ctx->ignored++;
						continue;
					}
					if(fmt == CDR_F_FREESWITCH)
						map_freeswitch(&map);
					else if(fmt == CDR_F_ASTERISK)
						map_asterisk(&map);
					if(fmt == CDR_F_CSV) {
						int hdr = 1, k;
						for(k = 0; k < n; k++)
							if(looks_time(&f[k]))
								hdr = 0;
						if(columns_map(ctx, &map, hdr ? f : NULL, hdr ? n : 0)
								< 0) {
							rc = -1;
							goto out;
						}
						if(hdr) {
							map.ncols = n;
							ctx->ignored++;
							continue;
						}
					}
				}
				if(csv_row(ctx, &map, file, rd.line, f, n) < 0 && rd.no_newline)
					fprintf(ctx->err, "  (the last line has no newline: the"
									  " file may be truncated)\n");
				break;
			default:
				break;
		}
	}
	if(rd.io_error)
		BAD(ctx, file, rd.line, CDR_E_IO, "read error: %s", strerror(errno));
	if(fmt == CDR_F_AUTO && rd.line > 0) {
		fprintf(ctx->err, "af-cdr: ");
		put_name(ctx->err, ctx->files[file]);
		fprintf(ctx->err, ": format not recognized: name it with --format\n");
		rc = -1;
	}
	(void)sb;
	(void)first_rec;
	(void)i;
out:
	if(rd.f && rd.f != stdin)
		fclose(rd.f);
	free(rd.buf);
	free(pairs.slot);
	return rc;
}

void cdr_pair_finish(cdr_ctx_t *ctx)
{
	pairs_t p;
	size_t i, k;
	int found;
	fld_t id;
	cdr_rec_t *r;

	memset(&p, 0, sizeof(p));
	for(i = 0; i < ctx->n_rec; i++) {
		r = &ctx->rec[i];
		if(r->end_ms || !r->answer_ms)
			continue;
		if(p.used * 2 + 2 >= p.cap && pairs_grow(ctx, &p) < 0)
			break;
		id.s = cdr_str(ctx, r->callid);
		id.len = strlen(id.s);
		k = pairs_find(ctx, &p, &id, &found);
		if(!found) {
			p.slot[k] = (uint32_t)(i + 1);
			p.used++;
		}
	}
	for(i = 0; p.cap && i < ctx->n_byes; i++) {
		id.s = cdr_str(ctx, ctx->byes[i].callid);
		id.len = strlen(id.s);
		k = pairs_find(ctx, &p, &id, &found);
		if(!found) {
			ctx->unpaired_bye++;
			continue;
		}
		r = &ctx->rec[p.slot[k] - 1];
		r->end_ms = ctx->byes[i].t > r->answer_ms ? ctx->byes[i].t
												  : r->answer_ms;
		p.slot[k] = UINT32_MAX;
	}
	if(!p.cap)
		ctx->unpaired_bye += ctx->n_byes;
	/* answered calls whose BYE never came: ended at their answer */
	for(i = 0; i < ctx->n_rec; i++) {
		if(!ctx->rec[i].end_ms) {
			ctx->rec[i].end_ms = ctx->rec[i].answer_ms;
			ctx->no_bye++;
		}
	}
	free(p.slot);
	free(ctx->byes);
	ctx->byes = NULL;
	ctx->n_byes = ctx->cap_byes = 0;
}
