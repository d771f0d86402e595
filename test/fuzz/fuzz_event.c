/*
 * antifraud fuzzing - cluster events (af_core_apply_event): what another
 * node publishes on the Redis channel ("<node id> ban <key> <seconds>
 * <reason>", "... unban <key>", "... reload"), applied to the local
 * store of a core running the sample rules. The message is handed over
 * NUL-terminated, as hiredis hands it. Then the ban list is read back.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_core.h"
#include "fuzz_host.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char rules[4096]; /* the core keeps the path for reloads */
	char err[512];
	af_core_cfg_t cfg;

	fuzz_host_init();
	snprintf(rules, sizeof(rules), "%s/etc/antifraud.yaml", fuzz_top());
	memset(&cfg, 0, sizeof(cfg));
	cfg.rules_path = rules;
	cfg.shm_entries = 1024;
	cfg.shm_stripes = 8;
	cfg.reload_min_s = 3600; /* "reload" events: one reload, then refused */
	if(af_core_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_event: %s\n", err);
		abort();
	}
	return 0;
}

static int one_ban(const char *key, size_t len, const af_ban_t *ban,
		void *arg)
{
	if(len && !key)
		abort();
	if(memchr(ban->reason, '\0', sizeof(ban->reason)) == NULL)
		abort();
	(*(unsigned int *)arg)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int n = 0;
	char *msg;

	if(size > 4096)
		return -1;
	msg = malloc(size + 1);
	if(!msg)
		abort();
	memcpy(msg, data, size);
	msg[size] = '\0';
	(void)af_core_apply_event(msg, size);
	free(msg);
	if(af_core_ban_list(one_ban, &n) < 0)
		abort();
	return 0;
}
