/*
 * antifraud - an alert as one JSON object ($antifraud(json)), for a SIEM,
 * a webhook or a JSON-lines file.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_JSON_H
#define AF_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "af_core.h"
#include "af_request.h"

/* bytes of a string field taken from the request at most (longer ones are
 * cut at a character boundary and end in "...") */
#define AF_JSON_FIELD_MAX 256
/* a buffer this large always holds the object */
#define AF_JSON_MAX 32768

/*
 * Writes verdict v (and what req says of the request; req may be NULL)
 * as one JSON object on one line into buf: time (UTC, ms), check, rc,
 * action, reasons and blocking (arrays), detail, suppressed, score,
 * banned, ban_reason, source (ip, port, proto, country, continent, asn),
 * request (method, ruri, from, to, auth_user, user_agent, call_id), and
 * per check its own fields (fingerprint, shape, signatures; dest). Every
 * string is escaped (quotes, backslashes, control characters) and made
 * valid UTF-8 (a byte that is not becomes U+FFFD). Returns the length,
 * 0 when buf is smaller than needed (AF_JSON_MAX is always enough).
 */
size_t af_alert_json(const af_verdict_t *v, const af_request_t *req,
		uint64_t now_ms, char *buf, size_t size);

#endif
