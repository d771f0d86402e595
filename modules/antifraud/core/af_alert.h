/*
 * antifraud - how many alerts reach the script: repeats of one alert
 * are suppressed for a while and counted, and a node-wide rate limit
 * caps the rest, so that a flood from many sources cannot fill a disk
 * through the alert event's log lines.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_ALERT_H
#define AF_ALERT_H

#include <stdint.h>
#include "af_core.h"
#include "af_request.h"

typedef struct af_alert_cfg {
	uint32_t repeat_s; /* the same alert again within this: suppressed
						* (0: every alert is raised) */
	uint32_t rate;     /* alerts raised per second, node-wide (0: no cap) */
	uint32_t burst;    /* alerts raised at once before the rate applies */
	uint32_t slots;    /* alerts remembered for repeats (power of two) */
} af_alert_cfg_t;

#define AF_ALERT_REPEAT_S 60
#define AF_ALERT_RATE 50
#define AF_ALERT_BURST 200
#define AF_ALERT_SLOTS 8192

/* allocates the tables in shared memory; 0, or -1 out of memory */
int af_alert_init(const af_alert_cfg_t *cfg);
void af_alert_destroy(void);

/*
 * Decides whether the alert or block in v is raised to the script. An
 * alert is the same as an earlier one when its check, return code,
 * reasons and subject match: the source address for af_check_source
 * and af_check_fingerprint, plus the caller and the dialed user for the
 * other checks. Returns 1 to raise it, with v->suppressed set to the
 * repeats suppressed since the last one was raised; 0 to suppress it
 * (counted in the statistic alerts_suppressed).
 */
int af_alert_admit(af_verdict_t *v, const af_request_t *req, uint64_t now_ms);

/* logs, at most every 10 s, how many alerts the rate cap suppressed */
void af_alert_timer(uint64_t now_ms);

#endif
