/*
 * antifraud - reason and mode names.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "af_common.h"

static const char *const reason_names[AF_R__COUNT] = {
	[AF_R_BANNED] = "banned",
	[AF_R_UNKNOWN_DOMAIN] = "unknown_domain",
	[AF_R_UNKNOWN_USER] = "unknown_user",
	[AF_R_IP_DENY] = "ip_deny",
	[AF_R_GEO_COUNTRY] = "geo_country",
	[AF_R_GEO_CONTINENT] = "geo_continent",
	[AF_R_GEO_ASN] = "geo_asn",
	[AF_R_GEO_UNKNOWN] = "geo_unknown",
	[AF_R_SDP_IP_DENY] = "sdp_ip_deny",
	[AF_R_SDP_GEO] = "sdp_geo",
	[AF_R_COUNTRY_HOP] = "country_hop",
	[AF_R_CONTINENT_HOP] = "continent_hop",
	[AF_R_SCANNER] = "scanner",
	[AF_R_SIGNATURE] = "signature",
	[AF_R_DEST_INVALID] = "dest_invalid",
	[AF_R_DEST_INTL] = "dest_international",
	[AF_R_DEST_PREMIUM] = "dest_premium",
	[AF_R_DEST_CLASS] = "dest_class",
	[AF_R_DEST_COUNTRY] = "dest_country",
	[AF_R_DEST_RANGE] = "dest_range",
	[AF_R_DEST_RISK] = "dest_risk",
	[AF_R_CALLER_BLOCKED] = "caller_blocked",
	[AF_R_SCHEDULE] = "schedule",
	[AF_R_RATE_CALLER] = "rate_caller",
	[AF_R_RATE_COUNTRY] = "rate_country",
	[AF_R_REPEAT_NUMBER] = "repeat_number",
	[AF_R_REPEAT_SIMILAR] = "repeat_similar",
	[AF_R_REPEAT_CALLERS] = "repeat_callers",
	[AF_R_CONC_CALLER] = "concurrency_caller",
	[AF_R_CONC_TOTAL] = "concurrency_total",
	[AF_R_AUTH_FAILURES] = "auth_failures",
	[AF_R_ACCOUNT_ATTACK] = "account_attack",
	[AF_R_NEW_COUNTRY_LOGIN] = "new_country_login",
	[AF_R_ASR_LOW] = "asr_low",
	[AF_R_ACD_HIGH] = "acd_high",
	[AF_R_SHORT_CALLS] = "short_calls",
	[AF_R_MINUTES] = "minutes",
	[AF_R_PDD] = "pdd",
	[AF_R_DURATION] = "duration",
	[AF_R_SIGNAL_MIX] = "signal_mix",
};

const char *af_reason_name(af_reason_t r)
{
	if((unsigned)r >= AF_R__COUNT || !reason_names[r])
		return "unknown";
	return reason_names[r];
}

int af_reason_parse(const char *s, size_t len)
{
	int i;

	for(i = 0; i < AF_R__COUNT; i++) {
		if(strlen(reason_names[i]) == len
				&& memcmp(reason_names[i], s, len) == 0)
			return i;
	}
	return -1;
}

size_t af_reasons_format(af_reasons_t mask, char *buf, size_t size)
{
	size_t len = 0, n;
	int i;

	if(size == 0)
		return 0;
	buf[0] = '\0';
	for(i = 0; i < AF_R__COUNT; i++) {
		if(!(mask & AF_REASON_BIT(i)))
			continue;
		n = strlen(reason_names[i]);
		if(len + n + (len ? 1 : 0) + 1 > size)
			break;
		if(len)
			buf[len++] = ',';
		memcpy(buf + len, reason_names[i], n);
		len += n;
		buf[len] = '\0';
	}
	return len;
}

static const char *const mode_names[] = {"off", "monitor", "enforce"};

int af_mode_parse(const char *s)
{
	int i;

	for(i = 0; i < 3; i++)
		if(strcmp(s, mode_names[i]) == 0)
			return i;
	return -1;
}

const char *af_mode_name(af_mode_t m)
{
	return (unsigned)m < 3 ? mode_names[m] : "?";
}
