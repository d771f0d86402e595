/*
 * antifraud fuzzing - the rule file loader (af_rules_load): the input is
 * the rule file, written next to copies of the sample files it may name
 * (lists, signatures, a cut-down number plan and the overlay). Device
 * and kernel paths are not followed (fuzz_names_device).
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_rules.h"
#include "fuzz_host.h"

/* the sample plan with its '#' lines and one row in 16: the loader's
 * cost per run stays small */
static void cut_plan(const char *src, const char *dst)
{
	char line[1024];
	FILE *in = fopen(src, "r"), *out;
	unsigned int n = 0;

	if(!in)
		abort();
	out = fopen(dst, "w");
	if(!out)
		abort();
	while(fgets(line, sizeof(line), in))
		if(line[0] == '#' || n++ % 16 == 0)
			fputs(line, out);
	fclose(in);
	fclose(out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const files[] = {"antifraud-blocklist.txt",
			"antifraud-highrisk.csv", "antifraud-signatures.yaml"};
	char src[4096], dst[4096];
	size_t i;

	fuzz_host_init();
	for(i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(src, sizeof(src), "%s/etc/%s", fuzz_top(), files[i]);
		if(fuzz_copy(src, files[i]) < 0) {
			fprintf(stderr, "fuzz_rules: cannot copy %s\n", src);
			abort();
		}
	}
	snprintf(src, sizeof(src), "%s/etc/antifraud-numplan.csv", fuzz_top());
	snprintf(dst, sizeof(dst), "%s/antifraud-numplan.csv", fuzz_dir());
	cut_plan(src, dst);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	const char *path;
	af_rules_t *r;

	if(size > 65536 || fuzz_names_device(data, size))
		return -1;
	path = fuzz_write("rules.yaml", data, size);
	if(!path)
		abort();
	err[0] = '\0';
	r = af_rules_load(path, err, sizeof(err));
	if(!r) {
		/* a refusal always says why */
		if(!err[0])
			abort();
		return 0;
	}
	(void)af_rules_profile(r, "default", 7);
	(void)af_rules_profile(r, "x", 1);
	af_rules_free(r);
	return 0;
}
