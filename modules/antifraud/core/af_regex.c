/*
 * antifraud - matching the rules' regular expressions (af_regex.h).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pcre2.h>
#include "af_host.h"
#include "af_regex.h"

/* per match: backtracking steps, and KiB of backtracking frames */
#define AF_RE_MATCH_LIMIT 100000
#define AF_RE_HEAP_LIMIT 4096
/* per process: JIT-compiled copies of the patterns, direct-mapped */
#define AF_RE_JIT_SLOTS 128

/*
 * A process's JIT-compiled copy of one pattern of a snapshot (JIT code
 * cannot be shared between processes), keyed by the pattern's address
 * and its load tag, so that a pattern of a new snapshot at the address
 * of a freed one is never taken for it.
 */
typedef struct af_re_jit {
	const af_regex_t *re; /* compared, never read once stale */
	uint32_t pid, seq;
	uint64_t loaded_ms;
	pcre2_code *code; /* NULL: run the snapshot's code (interpreter) */
} af_re_jit_t;

/* per process: what af_regex_match needs, made once (plain malloc) */
static __thread pcre2_match_data *af_re_md;
static __thread pcre2_match_context *af_re_mctx;
static __thread af_re_jit_t *af_re_jit; /* AF_RE_JIT_SLOTS; NULL: none */
static __thread int af_re_warned;
static __thread int af_re_stale; /* set in a forked child: drop the JIT */
static pthread_once_t af_re_once = PTHREAD_ONCE_INIT;
static pthread_key_t af_re_key; /* frees a thread's state when it ends */
static int af_re_key_ok;
static uint32_t af_re_seq;

/* Frees the JIT copies of this process (thread). */
static void af_re_jit_drop(void)
{
	int i;

	for(i = 0; af_re_jit && i < AF_RE_JIT_SLOTS; i++)
		pcre2_code_free(af_re_jit[i].code);
	free(af_re_jit);
	af_re_jit = NULL;
	af_re_stale = 0;
}

/* At the end of a thread that matched: frees what it made. */
static void af_re_thread_end(void *unused)
{
	af_re_jit_drop();
	pcre2_match_data_free(af_re_md);
	pcre2_match_context_free(af_re_mctx);
	af_re_md = NULL;
	af_re_mctx = NULL;
}

/* In a forked child: the JIT copies were made by the parent. */
static void af_re_atfork_child(void)
{
	af_re_stale = 1;
}

/* Registers af_re_atfork_child() and the thread-end key, once. */
static void af_re_once_init(void)
{
	if(pthread_atfork(NULL, NULL, af_re_atfork_child) != 0)
		AF_WARN("regex: pthread_atfork failed\n");
	af_re_key_ok = pthread_key_create(&af_re_key, af_re_thread_end) == 0;
}

/*
 * Makes this process's match data and match context (plain malloc, kept
 * for the life of the process) and its JIT table (without one, every
 * pattern runs in the interpreter). Returns 0, or -1 when out of memory.
 */
static int af_regex_init(void)
{
	pthread_once(&af_re_once, af_re_once_init);
	af_re_md = pcre2_match_data_create(1, NULL);
	af_re_mctx = pcre2_match_context_create(NULL);
	if(!af_re_md || !af_re_mctx) {
		pcre2_match_data_free(af_re_md);
		pcre2_match_context_free(af_re_mctx);
		af_re_md = NULL;
		af_re_mctx = NULL;
		AF_ERR("regex: out of memory\n");
		return -1;
	}
	pcre2_set_match_limit(af_re_mctx, AF_RE_MATCH_LIMIT);
	pcre2_set_heap_limit(af_re_mctx, AF_RE_HEAP_LIMIT);
	af_re_jit = calloc(AF_RE_JIT_SLOTS, sizeof(*af_re_jit));
	if(af_re_key_ok)
		pthread_setspecific(af_re_key, (void *)1);
	return 0;
}

/*
 * Returns this process's JIT-compiled copy of re, compiling it at the
 * first need; NULL when re is to run in the interpreter: no JIT, or its
 * slot holds a pattern of the same or a later load (a pattern of an
 * earlier load, a replaced snapshot's, gives its slot up).
 */
static pcre2_code *af_re_jit_code(const af_regex_t *re)
{
	af_re_jit_t *j;
	PCRE2_SIZE off;
	int ec;

	if(af_re_stale) {
		af_re_jit_drop();
		af_re_jit = calloc(AF_RE_JIT_SLOTS, sizeof(*af_re_jit));
	}
	if(!af_re_jit)
		return NULL;
	j = &af_re_jit[((uintptr_t)re >> 4) % AF_RE_JIT_SLOTS];
	if(j->re == re && j->pid == re->pid && j->seq == re->seq
			&& j->loaded_ms == re->loaded_ms)
		return j->code;
	if(j->re && j->loaded_ms >= re->loaded_ms)
		return NULL;
	pcre2_code_free(j->code);
	j->re = re;
	j->pid = re->pid;
	j->seq = re->seq;
	j->loaded_ms = re->loaded_ms;
	j->code = pcre2_compile((PCRE2_SPTR)re->src, re->src_len,
			AF_RE_OPTIONS, &ec, &off, NULL);
	if(j->code && pcre2_jit_compile(j->code, PCRE2_JIT_COMPLETE) != 0) {
		pcre2_code_free(j->code);
		j->code = NULL;
	}
	return j->code;
}

void af_regex_tag(af_regex_t *re)
{
	re->pid = (uint32_t)getpid();
	re->seq = __atomic_add_fetch(&af_re_seq, 1, __ATOMIC_RELAXED);
	re->loaded_ms = af_now_ms();
}

/*
 * Returns 1 when s[0..len) matches re, 0 when it does not (at once when
 * its filter refuses the subject). A match that
 * hits the limits (a pathological pattern) or fails otherwise counts as
 * no match, with one warning per process. Runs this process's JIT copy
 * of the pattern when there is one. Allocates nothing after the first
 * calls of a process for a pattern.
 */
int af_regex_match(const af_regex_t *re, const char *s, size_t len)
{
	pcre2_code *jit;
	int rc;

	if(!re || !re->code)
		return 0;
	if(!s) {
		s = "";
		len = 0;
	}
	if(af_re_filter_refuses(&re->filter, s, len))
		return 0;
	if(!af_re_md && af_regex_init() < 0)
		return 0;
	/* a JIT run that fails (its stack, a limit) is run again in the
	 * interpreter, whose answer it would otherwise change */
	jit = af_re_jit_code(re);
	rc = jit ? pcre2_jit_match(
					   jit, (PCRE2_SPTR)s, len, 0, 0, af_re_md, af_re_mctx)
			 : PCRE2_ERROR_JIT_BADOPTION;
	if(rc < 0 && rc != PCRE2_ERROR_NOMATCH)
		rc = pcre2_match((const pcre2_code *)re->code, (PCRE2_SPTR)s, len,
				0, 0, af_re_md, af_re_mctx);
	if(rc >= 0)
		return 1;
	if(rc != PCRE2_ERROR_NOMATCH && !af_re_warned) {
		af_re_warned = 1;
		AF_WARN("regex '%s': match failed (error %d), counted as no match;"
				" further failures are not logged\n",
				re->src, rc);
	}
	return 0;
}

/*
 * Fills f for pattern s[0..len) compiled as code: PCRE2's minimum
 * subject length, and the literal text the pattern requires at the start
 * of a subject: after a leading '^', the characters that stand for
 * themselves, each not followed by a quantifier, up to AF_RE_PREFIX_MAX
 * (none when the pattern holds '|' anywhere).
 */
void af_re_filter_init(af_re_filter_t *f, const void *code, const char *s,
		size_t len)
{
	size_t i;
	char ch, next;

	memset(f, 0, sizeof(*f));
	if(code && pcre2_pattern_info((const pcre2_code *)code,
					   PCRE2_INFO_MINLENGTH, &f->min_len) != 0)
		f->min_len = 0;
	if(len < 2 || s[0] != '^' || memchr(s, '|', len))
		return;
	for(i = 1; i < len && f->pre_len < AF_RE_PREFIX_MAX; i++) {
		ch = s[i];
		if(!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
				   || (ch >= '0' && ch <= '9')
				   || (ch && strchr(" _-/:;@,=<>\"'%!~&", ch))))
			break;
		next = i + 1 < len ? s[i + 1] : '\0';
		if(next == '?' || next == '*' || next == '+' || next == '{')
			break;
		f->pre[f->pre_len++] = ch;
	}
	if(f->min_len < f->pre_len)
		f->min_len = f->pre_len;
}
