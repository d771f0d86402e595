/*
 * antifraud - reason and mode names.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "af_common.h"

static const char *const reason_names[AF_R__COUNT] = {
#define AF_REASON(id, name, check) [AF_R_##id] = name,
#include "af_table.def"
#undef AF_REASON
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
