/*
 * antifraud - internal: what af_outcome.c, af_mix.c, af_dest.c and
 * af_core.c share about call outcomes.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_OUTCOME_INT_H
#define AF_OUTCOME_INT_H

#include "af_outcome.h"

/* made in af_core_init (shared memory), freed in af_core_destroy */
int af_outcome_init(void);
void af_outcome_destroy(void);

/* the signal mix (af_mix.c) */
int af_signal_init(void);
void af_signal_destroy(void);
void af_signal_timer(uint64_t now_ms, af_outcome_alert_cb cb, void *arg);
void af_signal_reset(void);
uint64_t af_signal_slot_windows(int holiday, int hour);

/*
 * The key of the enforcement mark of subject s named name[0..len) into
 * buf; its length (0 when buf is too small).
 */
size_t af_outcome_mark_key(char *buf, size_t size, af_outcome_subject_t s,
		const char *name, size_t len);

/* the CONC_DEL ops that free ticket t's slots into ops[0..2) (af_dest.c);
 * their count */
int af_dest_release_ops(const af_dest_ticket_t *t, af_op_t *ops);

/* sets v->rc from what was flagged and counts alerts, blocks and
 * reasons (not allowed/norule: an outcome is not a check) */
int af_outcome_conclude(af_verdict_t *v, int evaluated);

/* the ratios of f from its counts */
void af_figure_derive(af_figure_t *f);

/* mean and standard deviation from count, sum and sum of squares */
void af_acc_stat(uint64_t n, double sum, double sq, double *mean,
		double *sd);

#endif
