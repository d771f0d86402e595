/*
 * antifraud - forgetting a subject: every counter, window, history and
 * ban the checks keep about one caller, number, source address or
 * account, in the store in use (both Redis and the local store in
 * cluster mode). Live calls stay in their concurrency sets.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_FORGET_H
#define AF_FORGET_H

#include <stddef.h>
#include <stdint.h>
#include "af_store.h"

typedef enum af_subject {
	AF_SUBJ_CALLER = 0, /* user@host: rates, repetition, history */
	AF_SUBJ_NUMBER,     /* E.164 digits ('+' optional): repetition */
	AF_SUBJ_SOURCE,     /* IPv4/IPv6 address: ban, scanner score,
						 * failed authentications */
	AF_SUBJ_ACCOUNT,    /* user@domain (or user): attack mark, failures,
						 * known good sources, history */
	AF_SUBJ__COUNT
} af_subject_t;

#define AF_FORGET_PATS_MAX 8

/* the subject kind named s[0..len) ("caller", ...), -1 when none */
int af_subject_parse(const char *s, size_t len);

const char *af_subject_name(af_subject_t k);

/*
 * The store patterns of subject kind k and value subj[0..len) into pats
 * (at most AF_FORGET_PATS_MAX, globs in buf of size bufsize), the
 * subject validated and written canonically (an address formatted, a
 * host lowercased, the '+' of a number dropped). Returns the number of
 * patterns, -1 with err set when the subject is not one.
 */
int af_forget_patterns(af_subject_t k, const char *subj, size_t len,
		af_forget_pat_t *pats, char *buf, size_t bufsize, char *err,
		size_t errlen);

/*
 * Forgets subject subj[0..len) of kind k in the store in use; *removed
 * says how many entries went. Returns 0, -1 with err set (a bad subject,
 * or the store could not be used: what it could reach is gone).
 */
int af_forget(af_subject_t k, const char *subj, size_t len,
		uint64_t *removed, char *err, size_t errlen);

#endif
