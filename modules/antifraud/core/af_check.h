/*
 * antifraud - internal: what af_check_source and af_check_fingerprint
 * share (af_check.c).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_CHECK_H
#define AF_CHECK_H

#include "af_core.h"
#include "af_sorted.h"

/* adds reason r to v (blocking when its sub-check is in enforce mode)
 * with a first detail text */
void af_chk_flag(af_verdict_t *v, const af_profile_t *p, af_reason_t r,
		const char *detail);

/* adds reason r (blocking only when block is set and its sub-check is
 * enforced) and appends detail to v->detail: every breach is listed */
void af_chk_flag_all(af_verdict_t *v, const af_profile_t *p, af_reason_t r,
		int block, const char *detail);

/* af_store_exec on the core's store, counting failures; a store that
 * refuses to answer (fallback "closed") marks v so that the verdict is an
 * error. Returns what af_store_exec returned. */
int af_chk_exec(af_op_t *ops, int n, uint64_t now, af_verdict_t *v);

/* the sub-check that owns reason r */
af_check_t af_chk_owner(af_reason_t r);

/* longest prefix of ip over lists, -1 when none contains it */
int af_chk_lists_match(const af_iplist_t *const *lists, uint32_t n,
		const af_ip_t *ip);

/* caller identity user@host into buf; its length, 0 when none */
size_t af_chk_caller_id(const af_request_t *req, char *buf, size_t size);

/* the account of req for account protection: the caller identity, or
 * the user alone when the rules say 'identity: user'; its length, 0
 * when none */
size_t af_chk_account_id(const af_rules_t *r, const af_request_t *req,
		char *buf, size_t size);

/* 1 when the caller is in the profile's exempt_callers */
int af_chk_caller_exempt(const af_profile_t *p, const af_request_t *req,
		const char *id, size_t id_len);

/* the ban lookup of ipkey as an op (stop when the ban is enforced), and
 * its result into v (1 banned; an enforced ban replaces the verdict) */
void af_chk_ban_op(af_op_t *op, const char *ipkey, size_t len,
		const af_profile_t *p);
int af_chk_ban_result(const af_op_t *op, const af_profile_t *p,
		af_verdict_t *v);

/* is ipkey banned? flags AF_R_BANNED and returns 1 when it is */
int af_chk_ban_lookup(const char *ipkey, size_t len, const af_profile_t *p,
		af_verdict_t *v);

/*
 * Fills op as a hit of score on the source's scanner window (ipkey), with
 * a ban at the rules' threshold when the profile enforces bans; reason
 * (kept by the caller until the op ran) is recorded with the ban.
 */
void af_chk_score_op(af_op_t *op, const af_rules_t *r, const af_profile_t *p,
		const char *ipkey, size_t len, uint32_t score, const char *reason);

/* reads the result of a score op into v: score, ban, scanner reason */
void af_chk_score_result(const af_op_t *op, const af_rules_t *r,
		const af_profile_t *p, const char *ipkey, uint64_t now,
		af_verdict_t *v);

/* account protection in af_check_source (af_account.c): the keys of
 * its ops, kept by the caller until they ran */
typedef struct af_acct_keys {
	char mark[AF_KEY_MAX * 4];
	char known[AF_KEY_MAX * 4];
	size_t mark_len;
	size_t known_len;
} af_acct_keys_t;

/*
 * For a request with credentials whose profile protects accounts: fills
 * ops[0..2) with the lookups of the account's attack mark and of the
 * source among its known good sources, and returns 2; 0 when there is
 * nothing to look up.
 */
int af_acct_check_ops(af_op_t *ops, af_acct_keys_t *k, const af_rules_t *r,
		const af_profile_t *p, const af_request_t *req, const char *id,
		size_t id_len, const char *ipkey, size_t ip_len);

/* reads them: an account under attack and a source it does not know
 * flag AF_R_ACCOUNT_ATTACK */
void af_acct_check_result(const af_op_t *ops, const af_profile_t *p,
		const char *id, const char *ipkey, af_verdict_t *v);

/* sets and counts v->rc from what was flagged; returns it */
int af_chk_conclude(af_verdict_t *v, int evaluated);

/* the return code alone (af_chk_conclude without the verdict counters;
 * an unavailable store is an error, counted) */
int af_chk_verdict_rc(af_verdict_t *v, int evaluated);

#endif
