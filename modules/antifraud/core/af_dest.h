/*
 * antifraud - internal: af_check_dest's node statistics (af_dest.c) as
 * the core's lifecycle drives them: made in af_core_init, sampled by
 * af_core_timer, freed by af_core_destroy. What the glue reads of them is
 * in af_core.h.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_DEST_H
#define AF_DEST_H

#include "af_rules.h"

int af_dest_init(void);
void af_dest_destroy(void);
void af_dest_timer(const af_rules_t *r);

#endif
