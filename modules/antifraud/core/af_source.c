/*
 * antifraud - af_check_source: is the source of this request, and its
 * addressing, acceptable?
 *
 * Local checks first (lists, domain, user, GeoIP, SDP: no shared state),
 * then one store call for the state (ban, caller history, scanner score).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include "af_check.h"
#include "af_core.h"
#include "af_host.h"

#define HOST_MAX 256
#define ID_MAX 256




/* 1 allow-listed (an exception), -1 denied, 0 neither */
static int ip_policy(const af_profile_t *p, const af_ip_t *ip)
{
	int allow, deny;

	allow = af_chk_lists_match(p->allow, p->n_allow, ip);
	deny = af_chk_lists_match(p->deny, p->n_deny, ip);
	if(allow >= 0 && allow >= deny)
		return 1;
	return deny >= 0 ? -1 : 0;
}

/*
 * GeoIP policy for one address: returns the reasons it fails (as bits
 * of the source reasons), writing a detail text into why.
 */
static af_reasons_t geo_policy(const af_geo_policy_t *g,
		const af_geo_info_t *gi, char *why, size_t whylen)
{
	af_reasons_t bad = 0;
	uint16_t cc, cont;

	if(!gi->found || !gi->country[0]) {
		if(g->unknown_is_bad) {
			snprintf(why, whylen, "not in the GeoIP database");
			bad |= AF_REASON_BIT(AF_R_GEO_UNKNOWN);
		}
	} else {
		cc = af_cc_pack(gi->country);
		if((g->n_allow_cc && !af_sorted_has_u16(g->allow_cc, g->n_allow_cc, cc))
				|| af_sorted_has_u16(g->deny_cc, g->n_deny_cc, cc)) {
			snprintf(why, whylen, "country %s not allowed", gi->country);
			bad |= AF_REASON_BIT(AF_R_GEO_COUNTRY);
		}
		if(gi->continent[0]) {
			cont = af_cc_pack(gi->continent);
			if((g->n_allow_cont
					   && !af_sorted_has_u16(g->allow_cont, g->n_allow_cont, cont))
					|| af_sorted_has_u16(g->deny_cont, g->n_deny_cont, cont)) {
				if(!bad)
					snprintf(why, whylen, "continent %s not allowed",
							gi->continent);
				bad |= AF_REASON_BIT(AF_R_GEO_CONTINENT);
			}
		}
	}
	if(gi->asn && af_sorted_has_u32(g->deny_asn, g->n_deny_asn, gi->asn)) {
		if(!bad)
			snprintf(why, whylen, "AS%u denied", gi->asn);
		bad |= AF_REASON_BIT(AF_R_GEO_ASN);
	}
	return bad;
}

/* lower-cases s into buf (NUL-terminated); returns the length or -1 */
static int lower(const af_str_t *s, char *buf, size_t size)
{
	size_t i;

	if(s->len >= size)
		return -1;
	for(i = 0; i < s->len; i++) {
		char c = s->s[i];
		buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	buf[s->len] = '\0';
	return (int)s->len;
}

/* is host one of the profile's domains? IP literals compare normalized */
static int domain_known(const af_profile_t *p, const af_str_t *host)
{
	char buf[HOST_MAX];
	af_ip_t ip;
	int len;

	if(af_ip_parse(host->s, host->len, &ip) == 0) {
		len = af_ip_format(&ip, buf, sizeof(buf));
		return len > 0 && af_strset_has(p->domains, buf, (size_t)len);
	}
	len = lower(host, buf, sizeof(buf));
	return len > 0 && af_strset_has(p->domains, buf, (size_t)len);
}

static int user_exists(const af_profile_t *p, const af_str_t *user)
{
	uint32_t i;

	if(af_strset_has(p->users, user->s, user->len))
		return 1;
	for(i = 0; i < p->n_user_re; i++)
		if(af_regex_match(&p->user_re[i], user->s, user->len) == 1)
			return 1;
	return 0;
}



/*
 * Domain and user: only for requests that start a dialog or stand alone
 * (in-dialog requests are addressed to a contact, not to us).
 */
static void check_addressing(const af_request_t *req, const af_profile_t *p,
		const char *id, size_t id_len, af_verdict_t *v, int *evaluated)
{
	const af_str_t *user;
	char why[AF_DETAIL_MAX];
	int trusted;

	if(!req->initial)
		return;
	if(p->mode[AF_C_DOMAIN] != AF_MODE_OFF && req->ruri_host.len) {
		*evaluated = 1;
		if(!domain_known(p, &req->ruri_host)) {
			snprintf(why, sizeof(why), "R-URI host %.*s is not ours",
					(int)(req->ruri_host.len > 64 ? 64 : req->ruri_host.len),
					req->ruri_host.s);
			af_chk_flag(v, p, AF_R_UNKNOWN_DOMAIN, why);
		}
	}
	if(p->mode[AF_C_USER] == AF_MODE_OFF)
		return;
	/* REGISTER names the account in To; everything else in the R-URI */
	user = req->method == AF_M_REGISTER ? &req->to_user : &req->ruri_user;
	if(!user->len) {
		/* keepalives and registrations to the domain itself */
		if(req->method != AF_M_INVITE && req->method != AF_M_MESSAGE
				&& req->method != AF_M_REGISTER)
			return;
	}
	*evaluated = 1;
	if(user->len && user_exists(p, user))
		return;
	if(req->method != AF_M_REGISTER && user->len && p->routable
			&& af_regex_match(p->routable, user->s, user->len) == 1) {
		/* any routable number: for trusted sources and local callers
		 * (who authenticate next) */
		trusted = af_chk_lists_match(p->trusted, p->n_trusted, &req->src_ip) >= 0;
		if(trusted
				|| (req->from_user.len && user_exists(p, &req->from_user)
						&& domain_known(p, &req->from_host)))
			return;
	}
	snprintf(why, sizeof(why), "no user %.*s here",
			(int)(user->len > 64 ? 64 : user->len), user->s);
	af_chk_flag(v, p, AF_R_UNKNOWN_USER, why);
	(void)id;
	(void)id_len;
}

/* 1 when ip is 0.0.0.0 or :: (the unspecified address) */
static int ip_unspecified(const af_ip_t *ip)
{
	static const uint8_t zero[16];

	return memcmp(ip->addr, zero, ip->family == 4 ? 4 : 16) == 0;
}

/* GeoIP and lists on SDP addresses (the unspecified one skipped) */
static void check_sdp(const af_request_t *req, const af_profile_t *p,
		af_geo_t *g, af_verdict_t *v)
{
	af_geo_info_t gi;
	char why[AF_DETAIL_MAX], ipbuf[AF_IP_STRLEN];
	char gwhy[96];
	int i, pol;

	for(i = 0; i < req->sdp_ip_count; i++) {
		const af_ip_t *ip = &req->sdp_ip[i];
		if(ip_unspecified(ip))
			continue; /* c=0.0.0.0 puts a call on hold: no address */
		pol = ip_policy(p, ip);
		if(pol > 0)
			continue;
		if(pol < 0) {
			af_ip_format(ip, ipbuf, sizeof(ipbuf));
			snprintf(why, sizeof(why), "SDP address %s denied", ipbuf);
			af_chk_flag(v, p, AF_R_SDP_IP_DENY, why);
			continue;
		}
		if(g && af_geo_lookup(g, ip, &gi) == 0
				&& geo_policy(&p->geo, &gi, gwhy, sizeof(gwhy))) {
			af_ip_format(ip, ipbuf, sizeof(ipbuf));
			snprintf(why, sizeof(why), "SDP address %s: %s", ipbuf, gwhy);
			af_chk_flag(v, p, AF_R_SDP_GEO, why);
		}
	}
}

/* compares the caller's previous sources with this one */
static void check_hopping(const af_profile_t *p, const af_op_t *op,
		const af_geo_info_t *gi, uint64_t now, af_verdict_t *v)
{
	char why[AF_DETAIL_MAX];
	int i;

	for(i = 0; i < op->u.hist.n_prev; i++) {
		const af_hist_entry_t *e = &op->u.hist.prev[i];
		uint64_t age = now > e->ts_ms ? now - e->ts_ms : 0;
		if(p->country_hop_s && e->country[0]
				&& strcmp(e->country, gi->country) != 0
				&& age < (uint64_t)p->country_hop_s * 1000) {
			snprintf(why, sizeof(why), "caller moved %s -> %s in %llu s",
					e->country, gi->country, (unsigned long long)(age / 1000));
			af_chk_flag(v, p, AF_R_COUNTRY_HOP, why);
		}
		if(p->continent_hop_s && e->continent[0]
				&& strcmp(e->continent, gi->continent) != 0
				&& age < (uint64_t)p->continent_hop_s * 1000) {
			snprintf(why, sizeof(why), "caller moved %s -> %s in %llu s",
					e->continent, gi->continent,
					(unsigned long long)(age / 1000));
			af_chk_flag(v, p, AF_R_CONTINENT_HOP, why);
		}
	}
}

/*
 * af_check_source (af_core.h): the exceptions, the lists, the ban, the
 * addressing, GeoIP and SDP, then the state (history, account, scanner
 * score) in one store call.
 */
int af_check_source(const af_request_t *req, const char *profile,
		size_t profile_len, af_verdict_t *v)
{
	af_rules_t *r;
	const af_profile_t *p;
	af_geo_t *g = NULL;
	af_op_t ops[5];
	af_op_t *hist_op = NULL, *win_op = NULL, *ban_op = NULL, *acct_op = NULL;
	uint64_t clear_token = 0;
	af_acct_keys_t acct_keys;
	char id[ID_MAX], ipkey[AF_IP_STRLEN], why[AF_DETAIL_MAX];
	char aid[ID_MAX];
	size_t aid_len = 0;
	int protect;
	char reasons[256];
	af_reasons_t scored, m;
	size_t id_len;
	int nops = 0, evaluated = 0, failed = 0, pol, i, ipkey_len;
	uint32_t score = 0;
	uint64_t now;

	memset(v, 0, sizeof(*v));
	v->check = "source";
	af_core_count(AF_ST_CHECKS);
	r = af_core_acquire();
	p = af_rules_profile(r, profile, profile_len);
	if(!p) {
		AF_ERR("af_check_source: no profile '%.*s' in %s\n", (int)profile_len,
				profile, r->path);
		af_core_count(AF_ST_ERRORS);
		failed = 1;
		goto out;
	}
	id_len = af_chk_caller_id(req, id, sizeof(id));
	/* what learns the authentication result of this message later uses
	 * the same profile */
	if(req->memo)
		snprintf(req->memo->profile, sizeof(req->memo->profile), "%.*s",
				(int)(profile_len < sizeof(req->memo->profile)
								? profile_len
								: sizeof(req->memo->profile) - 1),
				profile ? profile : "");

	/* exceptions: listed callers, exempt sources, allow-listed sources */
	if(af_chk_caller_exempt(p, req, id, id_len)
			|| af_chk_lists_match(p->exempt_sources, p->n_exempt_sources,
					   &req->src_ip)
					   >= 0) {
		evaluated = 1;
		goto out;
	}
	pol = p->mode[AF_C_IPLIST] != AF_MODE_OFF ? ip_policy(p, &req->src_ip)
											  : 0;
	if(pol > 0) {
		evaluated = 1;
		goto out;
	}
	if(pol < 0) {
		af_chk_flag(v, p, AF_R_IP_DENY, "source address in a deny list");
	}
	if(p->mode[AF_C_IPLIST] != AF_MODE_OFF)
		evaluated = 1;

	/* a banned source costs one lookup: nothing else is evaluated when
	 * the ban is enforced. In cluster mode the lookup is the first op of
	 * the check's one batch instead (one round trip; a ban found stops
	 * the rest of the batch and is the whole verdict) */
	ipkey_len = af_ip_format(&req->src_ip, ipkey, sizeof(ipkey));
	if(p->mode[AF_C_BAN] != AF_MODE_OFF && ipkey_len > 0) {
		evaluated = 1;
		if(af_core_clustered()) {
			if(af_core_clear_cached(ipkey, (size_t)ipkey_len, af_now_ms())) {
				if(req->memo)
					req->memo->ban_state = 1;
			} else {
				clear_token = af_core_clear_token(ipkey, (size_t)ipkey_len);
				ban_op = &ops[nops++];
				af_chk_ban_op(ban_op, ipkey, (size_t)ipkey_len, p);
			}
		} else if(af_chk_ban_lookup(ipkey, (size_t)ipkey_len, p, v)
				  && v->blocking) {
			goto out;
		}
	}

	check_addressing(req, p, id, id_len, v, &evaluated);

	if(p->mode[AF_C_GEO] != AF_MODE_OFF || p->mode[AF_C_SDP] != AF_MODE_OFF
			|| p->mode[AF_C_HOPPING] != AF_MODE_OFF)
		g = af_core_geo(r);
	if(g && af_geo_lookup(g, &req->src_ip, &v->geo) == 0
			&& p->mode[AF_C_GEO] != AF_MODE_OFF) {
		af_reasons_t bad;
		evaluated = 1;
		why[0] = '\0';
		bad = geo_policy(&p->geo, &v->geo, why, sizeof(why));
		while((i = af_reasons_next(&bad)) >= 0)
			af_chk_flag(v, p, (af_reason_t)i, why);
	}
	if(p->mode[AF_C_SDP] != AF_MODE_OFF && req->sdp_ip_count) {
		evaluated = 1;
		check_sdp(req, p, g, v);
	}

	/* state: caller history and scanner score, one store call */
	now = af_now_ms();
	/* with account protection, an authenticated caller's history holds
	 * its known good sources, under its account: recorded when an
	 * authentication succeeds (af_auth_result), never by an attempt that
	 * may fail */
	protect = req->auth_user.len && p->mode[AF_C_ACCOUNTS] != AF_MODE_OFF;
	if(protect && !(aid_len = af_chk_account_id(r, req, aid, sizeof(aid))))
		protect = 0;
	if(p->mode[AF_C_HOPPING] != AF_MODE_OFF && id_len && v->geo.found
			&& (req->auth_user.len || p->hop_identity_from)
			&& (req->method == AF_M_INVITE || req->method == AF_M_REGISTER)
			&& req->initial && (p->country_hop_s || p->continent_hop_s)) {
		evaluated = 1;
		hist_op = &ops[nops++];
		memset(hist_op, 0, sizeof(*hist_op));
		hist_op->type = AF_OP_HIST_PUSH;
		hist_op->key = protect ? aid : id;
		hist_op->key_len = protect ? aid_len : id_len;
		hist_op->u.hist.ttl_s = r->history_ttl_s;
		hist_op->u.hist.entry.ip = req->src_ip;
		memcpy(hist_op->u.hist.entry.country, v->geo.country, 3);
		memcpy(hist_op->u.hist.entry.continent, v->geo.continent, 3);
		hist_op->u.hist.entry.ts_ms = now;
		hist_op->u.hist.read_only = protect;
	}
	/* account under attack: only its known good sources may try */
	if(req->initial && ipkey_len > 0
			&& af_acct_check_ops(&ops[nops], &acct_keys, r, p, req, aid,
					   aid_len, ipkey, (size_t)ipkey_len)) {
		evaluated = 1;
		acct_op = &ops[nops];
		nops += 2;
	}
	/* an enforced ban counts only enforced reasons: monitor mode never
	 * blocks, not even through a ban; a monitored ban counts them all */
	scored = p->mode[AF_C_BAN] == AF_MODE_ENFORCE ? v->blocking : v->reasons;
	m = scored;
	while((i = af_reasons_next(&m)) >= 0)
		if(i < AF_R__COUNT)
			score += r->scanner.weight[i];
	if(p->mode[AF_C_BAN] != AF_MODE_OFF && score && r->scanner.threshold
			&& ipkey_len > 0) {
		win_op = &ops[nops++];
		af_reasons_format(scored, reasons, sizeof(reasons));
		af_chk_score_op(win_op, r, p, ipkey, (size_t)ipkey_len, score,
				reasons);
	}
	/* when the store cannot answer, decide on what is known */
	if(nops)
		af_chk_exec(ops, nops, now, v);
	if(ban_op && ban_op->status == 0) {
		if(req->memo)
			req->memo->ban_state = ban_op->u.ban_get.found ? 2 : 1;
		af_core_clear_set(ipkey, (size_t)ipkey_len, now, clear_token,
				!ban_op->u.ban_get.found);
	}
	if(ban_op && af_chk_ban_result(ban_op, p, v) && v->blocking) {
		goto out;
	}
	if(hist_op && hist_op->status == 0)
		check_hopping(p, hist_op, &v->geo, now, v);
	if(acct_op)
		af_acct_check_result(acct_op, p, aid, ipkey, v);
	if(win_op)
		af_chk_score_result(win_op, r, p, ipkey, now, v);
	if(v->banned) {
		if(req->memo)
			req->memo->ban_state = 2;
		af_core_clear_set(ipkey, (size_t)ipkey_len, now, 0, 0);
	}
out:
	/* the snapshot is held from af_core_acquire to here, whatever the
	 * way out */
	af_core_release(r);
	if(failed)
		return v->rc = AF_RC_ERROR;
	return af_chk_conclude(v, evaluated);
}
