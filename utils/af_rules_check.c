/*
 * antifraud - af-rules-check: validates a rule file and every file it
 * names with the module's own loader (af_rules_load()), as the module
 * would at start-up or on antifraud.reload, without touching a running
 * Kamailio.
 *
 * usage: af-rules-check [-q] [--limits KIND=MiB,...] FILE
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "af_file.h"
#include "af_host.h"
#include "af_host_plain.h"
#include "af_rules.h"

static void arc_usage(FILE *f)
{
	fputs("usage: af-rules-check [-q] [--limits KIND=MiB,...] FILE\n"
		  "\n"
		  "Loads the rule file FILE and every file it names (IP lists,\n"
		  "signatures, number plan and overlays, GeoIP databases) with the\n"
		  "module's loader and says whether the module would accept it.\n"
		  "\n"
		  "  -q        print nothing when the file is valid\n"
		  "  --limits  file size limits, as the module parameter\n"
		  "            file_size_limits (kinds: rules, signatures, list,\n"
		  "            numplan, geoip)\n"
		  "\n"
		  "Exit status: 0 valid (\"FILE: ok: ...\" on standard output),\n"
		  "1 invalid (\"file:line: what is wrong\" on standard error),\n"
		  "2 bad usage.\n",
			f);
}

int main(int argc, char **argv)
{
	const char *path = NULL, *limits = NULL;
	char err[1024], sum[256];
	af_rules_t *r;
	int i, quiet = 0;

	for(i = 1; i < argc; i++) {
		if(!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			arc_usage(stdout);
			return 0;
		} else if(!strcmp(argv[i], "-q")) {
			quiet = 1;
		} else if(!strcmp(argv[i], "--limits")) {
			if(++i == argc) {
				arc_usage(stderr);
				return 2;
			}
			limits = argv[i];
		} else if(!strncmp(argv[i], "--limits=", 9)) {
			limits = argv[i] + 9;
		} else if(!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if(argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "af-rules-check: unknown option '%s'\n", argv[i]);
			arc_usage(stderr);
			return 2;
		} else {
			break;
		}
	}
	if(i != argc - 1) {
		arc_usage(stderr);
		return 2;
	}
	path = argv[i];
	/* warnings and errors only: what the loader says besides its result */
	af_host_plain_init(AF_L_WARN, NULL);
	af_host_plain_tag_levels();
	if(limits && af_file_limits_parse(limits, err, sizeof(err)) < 0) {
		fprintf(stderr, "af-rules-check: %s\n", err);
		return 2;
	}
	err[0] = '\0';
	r = af_rules_load(path, err, sizeof(err));
	if(!r) {
		fprintf(stderr, "%s\n", err[0] ? err : "cannot load the rules");
		return 1;
	}
	if(!quiet)
		printf("%s: ok: %s\n", path, af_rules_summary(r, sum, sizeof(sum)));
	af_rules_free(r);
	return 0;
}
