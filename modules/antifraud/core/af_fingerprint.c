/*
 * antifraud - af_check_fingerprint: does this request look like a known
 * attack tool, whatever its User-Agent says?
 *
 * The raw message is split once (af_fp.c) into the features signatures
 * are written against; every signature that matches is reported, and
 * their scores go into the source's scanner score, so a tool is banned
 * like any other scanner.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include "af_text.h"
#include "af_check.h"
#include "af_core.h"
#include "af_fp.h"
#include "af_host.h"
#include "af_sig.h"

/* appends name to the comma-separated list in buf */
static void add_name(char *buf, size_t size, const char *name)
{
	size_t len = strlen(buf), n = strlen(name);

	if(len + n + 2 > size)
		return;
	if(len)
		buf[len++] = ',';
	memcpy(buf + len, name, n + 1);
}

/*
 * Adds score to the source's scanner window (and bans it at the
 * threshold when the ban is enforced).
 */
static void score_source(const af_rules_t *r, const af_profile_t *p,
		const char *ipkey, size_t len, uint32_t score, af_verdict_t *v,
		int ban_first)
{
	af_op_t ops[2];
	char why[AF_BAN_REASON];
	uint64_t now = af_now_ms();
	int n = 0;

	if(ban_first)
		af_chk_ban_op(&ops[n++], ipkey, len, p);
	if(score) {
		snprintf(why, sizeof(why), "signature %.*s", (int)(sizeof(why) - 11),
				v->signatures);
		af_chk_score_op(&ops[n++], r, p, ipkey, len, score, why);
	}
	if(!n)
		return;
	af_chk_exec(ops, n, now, v);
	if(ban_first && af_chk_ban_result(&ops[0], p, v) && v->blocking)
		return;
	if(score)
		af_chk_score_result(&ops[n - 1], r, p, ipkey, now, v);
}

int af_check_fingerprint(const af_request_t *req, const char *profile,
		size_t profile_len, af_verdict_t *v)
{
	af_fp_msg_t fm;
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	af_rules_t *r;
	const af_profile_t *p;
	char id[256], ipkey[AF_IP_STRLEN], why[AF_DETAIL_MAX];
	size_t id_len;
	uint32_t score = 0;
	int i, n, ipkey_len, evaluated = 0, blocked = 0, merged;

	memset(v, 0, sizeof(*v));
	v->check = "fingerprint";
	af_core_count(AF_ST_CHECKS);
	r = af_core_acquire();
	p = af_rules_profile(r, profile, profile_len);
	if(!p) {
		AF_ERR("af_check_fingerprint: no profile '%.*s' in %s\n",
				(int)profile_len, profile, r->path);
		af_core_release(r);
		af_core_count(AF_ST_ERRORS);
		return v->rc = AF_RC_ERROR;
	}
	/* tools probe with requests outside dialogs; requests inside one
	 * (To tag) belong to a call whose first request was checked */
	if(p->mode[AF_C_FINGERPRINT] == AF_MODE_OFF || !req->raw.len
			|| !req->initial
			|| af_fp_parse(req->raw.s, req->raw.len, &fm) < 0) {
		af_core_release(r);
		return af_chk_conclude(v, 0);
	}
	af_fp_id(fm.hash, v->fp_id);
	n = fm.shape_len < sizeof(v->shape) ? (int)fm.shape_len
										: (int)sizeof(v->shape) - 1;
	memcpy(v->shape, fm.shape, (size_t)n);
	v->shape[n] = '\0';

	/* exceptions, as for af_check_source */
	id_len = af_chk_caller_id(req, id, sizeof(id));
	if(af_chk_caller_exempt(p, req, id, id_len)
			|| af_chk_lists_match(
					   p->exempt_sources, p->n_exempt_sources, &req->src_ip)
					   >= 0
			|| (p->mode[AF_C_IPLIST] != AF_MODE_OFF
					&& af_chk_lists_match(p->allow, p->n_allow, &req->src_ip)
							   >= 0)) {
		af_core_release(r);
		return af_chk_conclude(v, 1);
	}
	evaluated = 1;
	ipkey_len = af_ip_format(&req->src_ip, ipkey, sizeof(ipkey));
	/* cluster mode: the ban lookup goes with the score, one round trip */
	merged = af_core_clustered() && p->mode[AF_C_BAN] != AF_MODE_OFF
			 && ipkey_len > 0;
	/* af_check_source of this same message already found it not banned:
	 * no second lookup (in cluster mode, no round trip at all unless a
	 * signature scores) */
	if(merged && req->memo && req->memo->ban_state == 1)
		merged = 0;
	if(!merged && !(req->memo && req->memo->ban_state == 1)
			&& p->mode[AF_C_BAN] != AF_MODE_OFF && ipkey_len > 0
			&& af_chk_ban_lookup(ipkey, (size_t)ipkey_len, p, v)
			&& v->blocking) {
		af_core_release(r);
		return af_chk_conclude(v, evaluated);
	}
	if(!r->signatures) {
		if(merged)
			score_source(r, p, ipkey, (size_t)ipkey_len, 0, v, 1);
		af_core_release(r);
		return af_chk_conclude(v, evaluated);
	}
	n = af_sig_match(r->signatures, &fm, hits, AF_SIG_HITS_MAX);
	for(i = 0; i < n && i < AF_SIG_HITS_MAX; i++) {
		add_name(v->signatures, sizeof(v->signatures), hits[i].name);
		if(hits[i].action == AF_SIG_BLOCK)
			blocked = 1;
		/* an enforced ban counts only what blocks: monitor never bans */
		if(p->mode[AF_C_BAN] != AF_MODE_ENFORCE
				|| (hits[i].action == AF_SIG_BLOCK
						&& p->mode[AF_C_FINGERPRINT] == AF_MODE_ENFORCE))
			score += hits[i].score;
	}
	if(n > 0) {
		snprintf(why, sizeof(why), "signature %s", v->signatures);
		v->reasons |= AF_REASON_BIT(AF_R_SIGNATURE);
		if(blocked && p->mode[AF_C_FINGERPRINT] == AF_MODE_ENFORCE)
			v->blocking |= AF_REASON_BIT(AF_R_SIGNATURE);
		if(!v->detail[0])
			af_text_escape(why, strlen(why), v->detail, sizeof(v->detail));
	}
	if(!(p->mode[AF_C_BAN] != AF_MODE_OFF && r->scanner.threshold
			   && ipkey_len > 0))
		score = 0;
	if(score || merged)
		score_source(r, p, ipkey, (size_t)ipkey_len, score, v, merged);
	af_core_release(r);
	return af_chk_conclude(v, evaluated);
}
