/*
 * antifraud - what the checks share: reason ownership, flags, exceptions,
 * the ban lookup and the final return code.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include "af_check.h"
#include "af_feed.h"
#include "af_text.h"
#include "af_host.h"

/* which sub-check owns each reason (its mode decides alert or block) */
static const af_check_t reason_check[AF_R__COUNT] = {
#define AF_REASON(id, name, check) [AF_R_##id] = AF_C_##check,
#include "af_table.def"
#undef AF_REASON
};

/* adds reason r to v with a first detail text */
void af_chk_flag(af_verdict_t *v, const af_profile_t *p, af_reason_t r,
		const char *detail)
{
	v->reasons |= AF_REASON_BIT(r);
	if(p->mode[reason_check[r]] == AF_MODE_ENFORCE)
		v->blocking |= AF_REASON_BIT(r);
	/* details quote what the request holds (users, hosts, numbers):
	 * anything but plain text is escaped before it reaches a log */
	if(detail && !v->detail[0])
		af_text_escape(detail, strlen(detail), v->detail, sizeof(v->detail));
}

/* the sub-check that owns reason r */
af_check_t af_chk_owner(af_reason_t r)
{
	return reason_check[r];
}

/*
 * Adds reason r to v, blocking only when block is set and its sub-check
 * enforces (a warning threshold alerts, whatever the mode), and appends
 * detail to v's detail text ("; " between items, cut when full).
 */
void af_chk_flag_all(af_verdict_t *v, const af_profile_t *p, af_reason_t r,
		int block, const char *detail)
{
	size_t len = strlen(v->detail);

	v->reasons |= AF_REASON_BIT(r);
	if(block && p->mode[reason_check[r]] == AF_MODE_ENFORCE)
		v->blocking |= AF_REASON_BIT(r);
	if(detail && len + 3 < sizeof(v->detail)) {
		if(len) {
			memcpy(v->detail + len, "; ", 3);
			len += 2;
		}
		af_text_escape(detail, strlen(detail), v->detail + len,
				sizeof(v->detail) - len);
	}
}

/*
 * Longest match of ip over a set of lists: the prefix length, or -1 when
 * none of them contains ip.
 */
int af_chk_lists_match(const af_iplist_t *const *lists, uint32_t n,
		const af_ip_t *ip)
{
	int best = -1, plen;
	uint32_t i;

	for(i = 0; i < n; i++) {
		plen = af_iplist_lookup(lists[i], ip);
		if(plen > best)
			best = plen;
	}
	return best;
}

/*
 * The caller's identity: the authenticated (credentials) user, else the
 * From user, as user@host. Returns its length, 0 when there is none.
 */
size_t af_chk_caller_id(const af_request_t *req, char *buf, size_t size)
{
	const af_str_t *u = req->auth_user.len ? &req->auth_user : &req->from_user;
	size_t i, n;

	if(!u->len || u->len + 1 + req->from_host.len >= size)
		return 0;
	memcpy(buf, u->s, u->len);
	buf[u->len] = '@';
	n = u->len + 1;
	/* host part case-insensitive */
	for(i = 0; i < req->from_host.len; i++) {
		char c = req->from_host.s[i];
		buf[n++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	buf[n] = '\0';
	return n;
}

size_t af_chk_account_id(const af_rules_t *r, const af_request_t *req,
		char *buf, size_t size)
{
	const af_str_t *u = req->auth_user.len ? &req->auth_user : &req->from_user;

	if(!r->accounts.user_only)
		return af_chk_caller_id(req, buf, size);
	if(!u->len || u->len >= size)
		return 0;
	memcpy(buf, u->s, u->len);
	buf[u->len] = '\0';
	return u->len;
}

int af_chk_caller_exempt(const af_profile_t *p, const af_request_t *req,
		const char *id, size_t id_len)
{
	const af_str_t *u = req->auth_user.len ? &req->auth_user : &req->from_user;

	if(!p->exempt_callers || af_strset_count(p->exempt_callers) == 0)
		return 0;
	if(u->len && af_strset_has(p->exempt_callers, u->s, u->len))
		return 1;
	return id_len && af_strset_has(p->exempt_callers, id, id_len);
}

/*
 * Fills op as the ban lookup of the source (ipkey); with an enforced ban
 * a ban found stops the rest of the batch (cluster mode puts the lookup
 * first in the check's single batch: one round trip).
 */
void af_chk_ban_op(af_op_t *op, const char *ipkey, size_t len,
		const af_profile_t *p)
{
	memset(op, 0, sizeof(*op));
	op->type = AF_OP_BAN_GET;
	op->key = ipkey;
	op->key_len = len;
	op->u.ban_get.stop = p->mode[AF_C_BAN] == AF_MODE_ENFORCE;
}

/*
 * Reads a ban lookup into v: flags AF_R_BANNED and returns 1 when the
 * source is banned. An enforced ban is the whole verdict: what the check
 * found before it learned of the ban is dropped (as if it had looked the
 * ban up first).
 */
int af_chk_ban_result(const af_op_t *op, const af_profile_t *p,
		af_verdict_t *v)
{
	char why[AF_DETAIL_MAX];

	if(op->status != 0 || !op->u.ban_get.found)
		return 0;
	if(p->mode[AF_C_BAN] == AF_MODE_ENFORCE) {
		v->reasons = 0;
		v->blocking = 0;
		v->detail[0] = '\0';
		v->signatures[0] = '\0';
	}
	v->banned = 1;
	v->ban = op->u.ban_get.ban;
	snprintf(why, sizeof(why), "banned: %s", v->ban.reason);
	af_chk_flag(v, p, AF_R_BANNED, why);
	if(p->mode[AF_C_BAN] == AF_MODE_ENFORCE)
		af_core_count(AF_ST_BAN_REFUSED);
	return 1;
}

/*
 * Is the source (ipkey) banned? Flags AF_R_BANNED in v and returns 1 when
 * it is; 0 when not, or when the store cannot tell (counted).
 */
int af_chk_ban_lookup(const char *ipkey, size_t len, const af_profile_t *p,
		af_verdict_t *v)
{
	af_op_t op;

	af_chk_ban_op(&op, ipkey, len, p);
	if(af_chk_exec(&op, 1, af_now_ms(), v) < 0)
		return 0;
	return af_chk_ban_result(&op, p, v);
}

int af_chk_exec(af_op_t *ops, int n, uint64_t now, af_verdict_t *v)
{
	int rc = af_core_dry()
					 ? af_store_exec_dry(af_core_store(), ops, n, now)
					 : af_store_exec(af_core_store(), ops, n, now);

	if(rc < 0) {
		af_core_count(AF_ST_STORE_ERRORS);
		if(rc == AF_STORE_UNAVAILABLE && v)
			v->store_failed = 1;
	}
	return rc;
}

/* the return code from what was flagged (an unavailable store: an
 * error, counted); nothing else counted */
int af_chk_verdict_rc(af_verdict_t *v, int evaluated)
{
	if(v->store_failed) {
		/* fail closed: no verdict without the shared state */
		snprintf(v->detail, sizeof(v->detail),
				"state store unavailable (redis_fallback closed)");
		af_core_count(AF_ST_ERRORS);
		af_core_count(AF_ST_STORE_ERRORS);
		return v->rc = AF_RC_ERROR;
	}
	if(v->blocking)
		v->rc = AF_RC_BLOCK;
	else if(v->reasons)
		v->rc = AF_RC_ALERT;
	else
		v->rc = evaluated ? AF_RC_ALLOW : AF_RC_NORULE;
	return v->rc;
}

/* final return code from what was flagged, counted */
int af_chk_conclude(af_verdict_t *v, int evaluated)
{
	if(af_chk_verdict_rc(v, evaluated) == AF_RC_ERROR)
		return AF_RC_ERROR;
	switch(v->rc) {
		case AF_RC_BLOCK:
			af_core_count(AF_ST_BLOCKED);
			break;
		case AF_RC_ALERT:
			af_core_count(AF_ST_ALERTS);
			break;
		case AF_RC_ALLOW:
			af_core_count(AF_ST_ALLOWED);
			break;
		default:
			af_core_count(AF_ST_NORULE);
	}
	af_core_count_reasons(v->reasons);
	af_core_count_verdict(v);
	return v->rc;
}

void af_chk_score_op(af_op_t *op, const af_rules_t *r, const af_profile_t *p,
		const char *ipkey, size_t len, uint32_t score, const char *reason)
{
	memset(op, 0, sizeof(*op));
	op->type = AF_OP_WIN_HIT;
	op->key = ipkey;
	op->key_len = len;
	op->u.win.window_s = r->scanner.window_s;
	op->u.win.n = score;
	if(p->mode[AF_C_BAN] == AF_MODE_ENFORCE) {
		op->u.win.ban_threshold = r->scanner.threshold;
		op->u.win.ban_s = r->scanner.ban_s;
		op->u.win.ban_reason = reason;
	}
}

void af_chk_score_result(const af_op_t *op, const af_rules_t *r,
		const af_profile_t *p, const char *ipkey, uint64_t now,
		af_verdict_t *v)
{
	if(op->status != 0)
		return;
	v->score = op->u.win.count;
	if(op->u.win.banned) {
		v->banned = 1;
		v->ban.since_ms = now;
		v->ban.until_ms = now + (uint64_t)r->scanner.ban_s * 1000;
		snprintf(v->ban.reason, sizeof(v->ban.reason), "%.*s",
				(int)sizeof(v->ban.reason) - 1, op->u.win.ban_reason);
		af_core_count(AF_ST_BANS);
		if(!af_core_dry())
			AF_NOTICE("banned %s for %u s: score %u in %u s (%s)\n", ipkey,
					r->scanner.ban_s, v->score, r->scanner.window_s,
					op->u.win.ban_reason);
		/* the other nodes' fallback stores learn it too */
		af_core_publish("ban %s %u %s", ipkey, r->scanner.ban_s,
				op->u.win.ban_reason);
	}
	if(v->score >= r->scanner.threshold)
		af_chk_flag(v, p, AF_R_SCANNER, "scanner threshold reached");
}
