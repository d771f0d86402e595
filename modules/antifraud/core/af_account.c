/*
 * antifraud - account protection: what authentication results teach.
 *
 * The glue reports each authentication outcome it learns (a reply to a
 * request that carried credentials, or the script): af_auth_result()
 * counts failures per source address (a ban past a threshold) and the
 * distinct addresses that fail against one account (the account goes
 * "under attack" past a threshold), and records the sources of successes
 * as the account's known good sources. af_check_source() then refuses,
 * for an account under attack, credentials from any address that is not
 * one of its known good sources (af_acct_check_ops/_result).
 *
 * Everything is store state (one batch per event), so that in cluster
 * mode it holds across the nodes; every entry expires with its window.
 *
 * Store keys (subject = account id "user@domain", ip = address text):
 *   acct|<account>        ban-table mark: the account is under attack
 *   ag|<account>|<ip>     window: successes from ip (known good source)
 *   as|<account>|<ip>     window: failures from ip against the account
 *   aa|<account>          window: distinct addresses that failed
 *   at|<account>          window: failures against the account
 *   af|<ip>               window: failures from ip (bans ip)
 * and the caller history of the account (the hopping check's).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include "af_check.h"
#include "af_core.h"
#include "af_host.h"
#include "af_text.h"

#define MARK "acct|"
#define MARK_LEN (sizeof(MARK) - 1)

/* prefix + a [+ '|' + b] into buf; the length, 0 when it does not fit */
static size_t key3(char *buf, size_t size, const char *prefix,
		const char *a, size_t alen, const char *b, size_t blen)
{
	size_t plen = strlen(prefix), n = plen + alen + (b ? 1 + blen : 0);

	if(n >= size)
		return 0;
	memcpy(buf, prefix, plen);
	memcpy(buf + plen, a, alen);
	if(b) {
		buf[plen + alen] = '|';
		memcpy(buf + plen + alen + 1, b, blen);
	}
	buf[n] = '\0';
	return n;
}

static void win_op(af_op_t *op, const char *key, size_t len,
		uint32_t window_s, uint32_t n)
{
	memset(op, 0, sizeof(*op));
	op->type = AF_OP_WIN_HIT;
	op->key = key;
	op->key_len = len;
	op->u.win.window_s = window_s;
	op->u.win.n = n;
}

int af_account_key(const char *key, size_t len)
{
	return len > MARK_LEN && memcmp(key, MARK, MARK_LEN) == 0;
}

/* is the request's source exempt from account protection? (as in
 * af_check_source: exempt callers and sources, and the allow lists when
 * the lists are on) */
static int exempt(const af_profile_t *p, const af_request_t *req,
		const char *id, size_t id_len)
{
	return af_chk_caller_exempt(p, req, id, id_len)
		   || af_chk_lists_match(p->exempt_sources, p->n_exempt_sources,
					  &req->src_ip)
					  >= 0
		   || (p->mode[AF_C_IPLIST] != AF_MODE_OFF
				   && af_chk_lists_match(p->allow, p->n_allow, &req->src_ip)
						   >= 0);
}

int af_acct_check_ops(af_op_t *ops, af_acct_keys_t *k, const af_rules_t *r,
		const af_profile_t *p, const af_request_t *req, const char *id,
		size_t id_len, const char *ipkey, size_t ip_len)
{
	if(p->mode[AF_C_ACCOUNTS] == AF_MODE_OFF || !req->auth_user.len
			|| !id_len || !ip_len)
		return 0;
	k->mark_len = key3(k->mark, sizeof(k->mark), MARK, id, id_len, NULL, 0);
	k->known_len = key3(
			k->known, sizeof(k->known), "ag|", id, id_len, ipkey, ip_len);
	if(!k->mark_len || !k->known_len)
		return 0;
	memset(&ops[0], 0, sizeof(ops[0]));
	ops[0].type = AF_OP_BAN_GET;
	ops[0].key = k->mark;
	ops[0].key_len = k->mark_len;
	win_op(&ops[1], k->known, k->known_len, r->accounts.known_ttl_s, 0);
	return 2;
}

void af_acct_check_result(const af_op_t *ops, const af_profile_t *p,
		const char *id, const char *ipkey, af_verdict_t *v)
{
	char why[AF_DETAIL_MAX];

	if(ops[0].status != 0 || !ops[0].u.ban_get.found || ops[1].status != 0
			|| ops[1].u.win.count > 0)
		return;
	snprintf(why, sizeof(why),
			"account %.80s under attack: %s is not one of its known sources",
			id, ipkey);
	af_chk_flag(v, p, AF_R_ACCOUNT_ATTACK, why);
}

/* a threshold crossed: by the ban this hit set (enforce), or by the count
 * reaching it (monitor: nothing is banned, the crossing alerts once).
 * added: the hit added to the count (an if_new hit may add nothing and
 * leave the count at the threshold: no crossing then) */
static int crossed(const af_op_t *op, uint32_t thr, int enforce, int added)
{
	if(op->status != 0 || !thr || !added)
		return 0;
	return enforce ? op->u.win.banned : op->u.win.count == thr;
}

/* the ban reasons of the accounts settings, and the settings they say */
typedef struct acct_reasons {
	uint32_t failures, failures_s, sources, sources_s;
	int made;
	char src[AF_BAN_REASON];  /* an address banned */
	char acct[AF_BAN_REASON]; /* an account under attack */
} acct_reasons_t;

/*
 * Returns the ban reasons of accounts settings a: formatted once per
 * process (thread) while the settings stay the same, not on every
 * failure.
 */
static const acct_reasons_t *acct_reasons(const af_accounts_cfg_t *a)
{
	static __thread acct_reasons_t t;

	if(!t.made || t.failures != a->source_failures
			|| t.failures_s != a->source_window_s
			|| t.sources != a->account_sources
			|| t.sources_s != a->account_window_s) {
		snprintf(t.src, sizeof(t.src),
				"auth_failures: %u failed authentications in %u s",
				a->source_failures, a->source_window_s);
		snprintf(t.acct, sizeof(t.acct),
				"account_attack: %u addresses failed in %u s",
				a->account_sources, a->account_window_s);
		t.failures = a->source_failures;
		t.failures_s = a->source_window_s;
		t.sources = a->account_sources;
		t.sources_s = a->account_window_s;
		t.made = 1;
	}
	return &t;
}

/* the failure ops of one event; returns 0 counted, 1 a retransmission
 * of a request already counted, -1 not counted (store) */
static int auth_failed(const af_rules_t *r, const af_profile_t *p,
		const af_request_t *req, const char *id, size_t id_len,
		const char *ipkey, size_t ip_len, af_verdict_t *v)
{
	const af_accounts_cfg_t *a = &r->accounts;
	int enforce = p->mode[AF_C_ACCOUNTS] == AF_MODE_ENFORCE;
	char pair[AF_KEY_MAX * 4], acct[AF_KEY_MAX * 4], tot[AF_KEY_MAX * 4];
	char src[AF_IP_STRLEN + 4], mark[AF_KEY_MAX * 4], once[AF_KEY_MAX * 4];
	char tail[160];
	const acct_reasons_t *reasons = acct_reasons(a);
	const char *src_reason = reasons->src, *acct_reason = reasons->acct;
	char why[AF_DETAIL_MAX];
	af_op_t ops[5], *dup = NULL, *pair_op, *acct_op, *src_op;
	size_t pl, al, tl, sl, ml, ol = 0;
	int n = 0, first;
	uint64_t now = af_now_ms();

	pl = key3(pair, sizeof(pair), "as|", id, id_len, ipkey, ip_len);
	al = key3(acct, sizeof(acct), "aa|", id, id_len, NULL, 0);
	tl = key3(tot, sizeof(tot), "at|", id, id_len, NULL, 0);
	ml = key3(mark, sizeof(mark), MARK, id, id_len, NULL, 0);
	sl = key3(src, sizeof(src), "af|", ipkey, ip_len, NULL, 0);
	if(!pl || !al || !tl || !ml || !sl)
		return -1;
	/* a UDP retransmission of the same request, challenged again
	 * statelessly, is the same guess: Call-ID, CSeq and the digest
	 * response count it once (for the 32 s a retransmission may come).
	 * The response is in the key because tools keep Call-ID and CSeq for
	 * every guess (svcrack does) */
	if(req->call_id.len && req->cseq.len && req->auth_response.len
			&& req->cseq.len + 1 + req->auth_response.len < sizeof(tail)) {
		memcpy(tail, req->cseq.s, req->cseq.len);
		tail[req->cseq.len] = '|';
		memcpy(tail + req->cseq.len + 1, req->auth_response.s,
				req->auth_response.len);
		ol = key3(once, sizeof(once), "ar|", req->call_id.s, req->call_id.len,
				tail, req->cseq.len + 1 + req->auth_response.len);
	}
	if(ol) {
		dup = &ops[n];
		win_op(&ops[n++], once, ol, 32, 1);
	}
	first = n; /* 1-based index of the first counting op's condition */
	/* the distinct addresses that failed against the account: the pair
	 * counts once per window, the account's count only when it is new */
	pair_op = &ops[n];
	win_op(&ops[n], pair, pl, a->account_window_s, 1);
	ops[n++].u.win.if_new = dup ? 1 : 0;
	acct_op = &ops[n];
	win_op(&ops[n], acct, al, a->account_window_s, 1);
	ops[n].u.win.if_new = first + 1;
	if(enforce && a->account_sources) {
		ops[n].u.win.ban_threshold = a->account_sources;
		ops[n].u.win.ban_s = a->cooling_s;
		ops[n].u.win.ban_key = mark;
		ops[n].u.win.ban_key_len = ml;
		ops[n].u.win.ban_reason = acct_reason;
	}
	n++;
	win_op(&ops[n], tot, tl, a->account_window_s, 1);
	ops[n++].u.win.if_new = dup ? 1 : 0;
	src_op = &ops[n];
	win_op(&ops[n], src, sl, a->source_window_s, 1);
	ops[n].u.win.if_new = dup ? 1 : 0;
	if(enforce && a->source_failures) {
		ops[n].u.win.ban_threshold = a->source_failures;
		ops[n].u.win.ban_s = a->ban_s;
		ops[n].u.win.ban_key = ipkey;
		ops[n].u.win.ban_key_len = ip_len;
		ops[n].u.win.ban_reason = src_reason;
	}
	n++;
	if(af_chk_exec(ops, n, now, v) < 0 && v->store_failed)
		return -1;
	if(dup && dup->status == 0 && dup->u.win.count > 1)
		return 1;

	if(crossed(src_op, a->source_failures, enforce, 1)) {
		snprintf(why, sizeof(why),
				"%s: %u failed authentications in %u s (last for %.80s)",
				ipkey, src_op->u.win.count, a->source_window_s, id);
		af_chk_flag_all(v, p, AF_R_AUTH_FAILURES, 0, why);
		if(enforce) {
			v->banned = 1;
			v->ban.since_ms = now;
			v->ban.until_ms = now + (uint64_t)a->ban_s * 1000;
			snprintf(v->ban.reason, sizeof(v->ban.reason), "%.*s",
					(int)sizeof(v->ban.reason) - 1, src_reason);
			af_core_count(AF_ST_BANS);
			AF_NOTICE("banned %s for %u s: %s (last for %s)\n", ipkey,
					a->ban_s, src_reason, id);
			af_core_publish("ban %s %u %s", ipkey, a->ban_s, src_reason);
		}
	}
	/* the account's count grew only when the pair was new in its window
	 * (the if_new rule: its count is its n) */
	if(crossed(acct_op, a->account_sources, enforce,
			   pair_op->status == 0
					   && pair_op->u.win.count == pair_op->u.win.n)) {
		snprintf(why, sizeof(why),
				"account %.80s: %u addresses failed in %u s", id,
				acct_op->u.win.count, a->account_window_s);
		af_chk_flag_all(v, p, AF_R_ACCOUNT_ATTACK, 0, why);
		af_core_count(AF_ST_ACCOUNT_ATTACKS);
		if(enforce) {
			AF_NOTICE("account %s under attack: %u addresses failed in %u"
					  " s; new sources refused for %u s\n",
					id, acct_op->u.win.count, a->account_window_s,
					a->cooling_s);
			af_core_publish("ban %s %u %s", mark, a->cooling_s, acct_reason);
		} else {
			AF_NOTICE("account %s under attack (monitor): %u addresses"
					  " failed in %u s\n",
					id, acct_op->u.win.count, a->account_window_s);
		}
	}
	return 0;
}

static void auth_ok(const af_rules_t *r, const af_profile_t *p,
		const af_request_t *req, const char *id, size_t id_len,
		const char *ipkey, size_t ip_len, af_verdict_t *v)
{
	const af_accounts_cfg_t *a = &r->accounts;
	char known[AF_KEY_MAX * 4], tot[AF_KEY_MAX * 4], why[AF_DETAIL_MAX];
	af_op_t ops[3];
	size_t kl, tl;
	int i, n = 0, seen = 0;
	uint64_t now = af_now_ms();

	kl = key3(known, sizeof(known), "ag|", id, id_len, ipkey, ip_len);
	tl = key3(tot, sizeof(tot), "at|", id, id_len, NULL, 0);
	if(!kl || !tl)
		return;
	win_op(&ops[n++], known, kl, a->known_ttl_s, 1);
	win_op(&ops[n++], tot, tl, a->account_window_s, 0);
	/* the account's recent sources: the history the hopping check reads */
	memset(&ops[n], 0, sizeof(ops[n]));
	ops[n].type = AF_OP_HIST_PUSH;
	ops[n].key = id;
	ops[n].key_len = id_len;
	ops[n].u.hist.ttl_s = r->history_ttl_s;
	ops[n].u.hist.entry.ip = req->src_ip;
	memcpy(ops[n].u.hist.entry.country, v->geo.country, 3);
	memcpy(ops[n].u.hist.entry.continent, v->geo.continent, 3);
	ops[n].u.hist.entry.ts_ms = now;
	n++;
	if(af_chk_exec(ops, n, now, v) < 0 && v->store_failed)
		return;
	if(!a->alert_failures || ops[1].status != 0 || ops[2].status != 0
			|| ops[1].u.win.count < a->alert_failures || !v->geo.country[0])
		return;
	/* the sources before this success: one from the same country? */
	for(i = 0; i < ops[2].u.hist.n_prev; i++)
		if(strcmp(ops[2].u.hist.prev[i].country, v->geo.country) == 0)
			seen = 1;
	if(seen)
		return;
	snprintf(why, sizeof(why),
			"account %.80s: first login from %s (%s) after %u failed"
			" authentications in %u s",
			id, v->geo.country, ipkey, ops[1].u.win.count,
			a->account_window_s);
	af_chk_flag_all(v, p, AF_R_NEW_COUNTRY_LOGIN, 0, why);
	AF_WARN("%s\n", why);
}

int af_auth_result(const af_request_t *req, int ok, const char *profile,
		size_t profile_len, af_verdict_t *v)
{
	af_rules_t *r;
	const af_profile_t *p;
	char id[256], cid[256], ipkey[AF_IP_STRLEN];
	af_geo_t *g;
	size_t id_len, cid_len;
	int ip_len, rc;

	memset(v, 0, sizeof(*v));
	v->check = "auth";
	r = af_core_acquire();
	p = af_rules_profile(r, profile, profile_len);
	if(!p) {
		AF_ERR("authentication result: no profile '%.*s' in %s\n",
				(int)profile_len, profile, r->path);
		af_core_release(r);
		return v->rc = AF_RC_ERROR;
	}
	/* the account (its keys), and the caller identity (exemptions) */
	id_len = af_chk_account_id(r, req, id, sizeof(id));
	cid_len = af_chk_caller_id(req, cid, sizeof(cid));
	ip_len = af_ip_format(&req->src_ip, ipkey, sizeof(ipkey));
	if(p->mode[AF_C_ACCOUNTS] == AF_MODE_OFF || !id_len || ip_len <= 0
			|| exempt(p, req, cid, cid_len)) {
		af_core_release(r);
		return v->rc = AF_RC_NORULE;
	}
	/* the source's country: for the known sources, and for the alert */
	g = af_core_geo(r);
	if(g)
		af_geo_lookup(g, &req->src_ip, &v->geo);
	if(ok) {
		af_core_count(AF_ST_AUTH_OK);
		auth_ok(r, p, req, id, id_len, ipkey, (size_t)ip_len, v);
	} else {
		rc = auth_failed(r, p, req, id, id_len, ipkey, (size_t)ip_len, v);
		if(rc == 1) {
			/* a retransmission: counted already */
			af_core_release(r);
			return v->rc = AF_RC_NORULE;
		}
		af_core_count(AF_ST_AUTH_FAILED);
	}
	af_core_release(r);
	if(v->store_failed) {
		af_core_count(AF_ST_STORE_ERRORS);
		return v->rc = AF_RC_ERROR;
	}
	if(v->reasons) {
		af_core_count_reasons(v->reasons);
		v->rc = AF_RC_ALERT;
		af_core_count_verdict(v);
		return v->rc;
	}
	return v->rc = AF_RC_ALLOW;
}

/* af_account_list: ban_list filtered to account marks */
typedef struct list_ctx {
	af_ban_cb cb;
	void *arg;
} list_ctx_t;

static int list_one(const char *key, size_t len, const af_ban_t *ban,
		void *arg)
{
	list_ctx_t *c = arg;

	if(!af_account_key(key, len))
		return 0;
	return c->cb(key + MARK_LEN, len - MARK_LEN, ban, c->arg);
}

int af_account_list(af_ban_cb cb, void *arg)
{
	af_store_t *s = af_core_store();
	list_ctx_t c = {cb, arg};

	return s->ops->ban_list(s, list_one, &c, af_now_ms());
}

int af_account_name_check(
		const char *acct, size_t len, int user_only, const char **why)
{
	size_t i;

	if(!acct || !len) {
		*why = "empty";
		return -1;
	}
	if(len > AF_ACCOUNT_MAX) {
		*why = "too long";
		return -1;
	}
	for(i = 0; i < len; i++)
		if((unsigned char)acct[i] < 0x20 || acct[i] == 0x7f) {
			*why = "control character";
			return -1;
		}
	if(acct[0] == '@') {
		*why = "the user part is empty";
		return -1;
	}
	if(acct[len - 1] == '@') {
		*why = "nothing after '@'";
		return -1;
	}
	if(!user_only && !memchr(acct, '@', len)) {
		*why = "user@domain expected (accounts.identity)";
		return -1;
	}
	return 0;
}

/*
 * Checks acct[0..len) against the identity of the rules in use; on error
 * writes "not an account '<excerpt>': why" into err. Returns 0 or -1.
 */
static int account_arg(const char *acct, size_t len, char *err,
		size_t errlen)
{
	char ex[AF_TEXT_EXCERPT_BUF];
	const char *why;
	af_rules_t *r = af_core_acquire();
	int rc = af_account_name_check(acct, len, r->accounts.user_only, &why);

	af_core_release(r);
	if(rc < 0)
		snprintf(err, errlen, "not an account '%s': %s",
				af_text_excerpt(acct, len, ex), why);
	return rc;
}

int af_account_release(const char *acct, size_t len, char *err,
		size_t errlen)
{
	char mark[AF_KEY_MAX * 4];
	af_op_t op;
	size_t ml;

	if(account_arg(acct, len, err, errlen) < 0)
		return -1;
	ml = key3(mark, sizeof(mark), MARK, acct, len, NULL, 0);
	if(!ml) {
		snprintf(err, errlen, "not an account: too long");
		return -1;
	}
	memset(&op, 0, sizeof(op));
	op.type = AF_OP_BAN_DEL;
	op.key = mark;
	op.key_len = ml;
	if(af_store_exec(af_core_store(), &op, 1, af_now_ms()) < 0) {
		snprintf(err, errlen, "the state store is unavailable");
		af_core_count(AF_ST_STORE_ERRORS);
		return -1;
	}
	if(op.u.ban_del.found)
		AF_NOTICE("account %.*s released\n", (int)len, acct);
	af_core_publish("unban %s", mark);
	return op.u.ban_del.found ? 1 : 0;
}

/* af_account_info: the mark, found by a walk of the ban table (a lookup
 * would count as a refused attempt) */
typedef struct find_ctx {
	const char *key;
	size_t len;
	af_account_info_t *out;
} find_ctx_t;

static int find_one(const char *key, size_t len, const af_ban_t *ban,
		void *arg)
{
	find_ctx_t *c = arg;

	if(len != c->len || memcmp(key, c->key, len) != 0)
		return 0;
	c->out->under_attack = 1;
	c->out->mark = *ban;
	return 1;
}

int af_account_info(const char *acct, size_t len, af_account_info_t *out,
		char *err, size_t errlen)
{
	char mark[AF_KEY_MAX * 4], aa[AF_KEY_MAX * 4], at[AF_KEY_MAX * 4];
	af_store_t *s = af_core_store();
	af_rules_t *r;
	af_op_t ops[3];
	find_ctx_t fc;
	size_t ml, al, tl;
	uint64_t now = af_now_ms();
	int rc;

	memset(out, 0, sizeof(*out));
	if(account_arg(acct, len, err, errlen) < 0)
		return -1;
	ml = key3(mark, sizeof(mark), MARK, acct, len, NULL, 0);
	al = key3(aa, sizeof(aa), "aa|", acct, len, NULL, 0);
	tl = key3(at, sizeof(at), "at|", acct, len, NULL, 0);
	if(!ml || !al || !tl || len >= sizeof(out->account)) {
		snprintf(err, errlen, "not an account: too long");
		return -1;
	}
	memcpy(out->account, acct, len);
	out->account[len] = '\0';
	fc.key = mark;
	fc.len = ml;
	fc.out = out;
	if(s->ops->ban_list(s, find_one, &fc, now) < 0)
		goto unavailable;
	r = af_core_acquire();
	win_op(&ops[0], aa, al, r->accounts.account_window_s, 0);
	win_op(&ops[1], at, tl, r->accounts.account_window_s, 0);
	memset(&ops[2], 0, sizeof(ops[2]));
	ops[2].type = AF_OP_HIST_PUSH;
	ops[2].key = out->account;
	ops[2].key_len = len;
	ops[2].u.hist.ttl_s = r->history_ttl_s;
	ops[2].u.hist.read_only = 1;
	af_core_release(r);
	rc = af_store_exec(s, ops, 3, now);
	if(rc < 0)
		goto unavailable;
	out->failing_sources = ops[0].u.win.count;
	out->failures = ops[1].u.win.count;
	out->n_known = ops[2].u.hist.n_prev;
	memcpy(out->known, ops[2].u.hist.prev, sizeof(out->known));
	return 0;

unavailable:
	snprintf(err, errlen, "the state store is unavailable");
	af_core_count(AF_ST_STORE_ERRORS);
	return -1;
}
