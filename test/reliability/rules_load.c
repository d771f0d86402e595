/*
 * antifraud reliability - loads rule files through the core loader, one
 * after another in one process, and says what became of each: the
 * mutated rule files of test/reliability/rules_mutate.py.
 *
 * usage: rules-load < list   (one rule file path a line)
 *
 * For each path it prints one line:
 *   OK<TAB>path                  loaded: a complete snapshot with a
 *                                default profile, freed again
 *   REFUSED<TAB>path<TAB>error   refused, with the loader's message
 *   LEAK<TAB>path<TAB>n          n shared-memory blocks still live after
 *                                the load (refused) or the free (loaded)
 *   PARTIAL<TAB>path<TAB>what    NULL without a message, or a snapshot
 *                                without its default profile
 * and "DONE" at the end. Built with ASan/UBSan against the core's
 * sanitized objects: a memory error aborts with the sanitizer's report,
 * and the driver names the file being loaded (printed before the load as
 * "LOAD<TAB>path", flushed).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_host.h"
#include "af_rules.h"
#include "host.h"

/* prints s with tabs and line ends replaced, so that a line stays one */
static void put_flat(const char *s)
{
	for(; *s; s++)
		putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

/* loads one rule file and prints what became of it */
static void load_one(const char *path)
{
	char err[1024];
	af_rules_t *r;
	long before, live;

	printf("LOAD\t%s\n", path);
	fflush(stdout);
	before = test_host_shm_live();
	err[0] = '\0';
	r = af_rules_load(path, err, sizeof(err));
	if(!r) {
		live = test_host_shm_live() - before;
		if(live != 0)
			printf("LEAK\t%s\t%ld\n", path, live);
		else if(!err[0])
			printf("PARTIAL\t%s\trefused without a message\n", path);
		else {
			printf("REFUSED\t%s\t", path);
			put_flat(err);
			putchar('\n');
		}
		return;
	}
	if(!af_rules_profile(r, NULL, 0)) {
		printf("PARTIAL\t%s\tno default profile\n", path);
		af_rules_free(r);
		return;
	}
	af_rules_free(r);
	live = test_host_shm_live() - before;
	if(live != 0)
		printf("LEAK\t%s\t%ld\n", path, live);
	else
		printf("OK\t%s\n", path);
}

int main(void)
{
	char line[4096];
	size_t n;

	test_host_init();
	while(fgets(line, sizeof(line), stdin)) {
		n = strlen(line);
		while(n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if(n)
			load_one(line);
	}
	printf("DONE\n");
	return 0;
}
