/*
 * antifraud fuzzing - number plan and overlay files (af_numplan_load),
 * then lookups, the dialing data and a dialplan built from what loaded.
 * The input is the plan; a line "%%" starts the overlay file.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_arena.h"
#include "af_numplan.h"
#include "fuzz_host.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_host_init();
	return 0;
}

/* the offset of the first "\n%%\n" in data, size when none */
static size_t split_at(const uint8_t *data, size_t size)
{
	size_t i;

	for(i = 0; i + 4 <= size; i++)
		if(memcmp(data + i, "\n%%\n", 4) == 0)
			return i;
	return size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const nums[] = {"491701234567", "4930123456", "1",
			"882", "999999999999999", "44"};
	static const char *const regions[] = {"DE", "US", "GB", "FR", "ZZ"};
	char err[512], plan[4096];
	const char *overlay[1], *p;
	af_numinfo_t info;
	af_dialplan_t dp;
	af_number_t num;
	af_numplan_t *np;
	af_arena_t *a;
	size_t cut, i;
	int n_overlay = 0;

	if(size > 65536)
		return -1;
	cut = split_at(data, size);
	p = fuzz_write("plan.csv", data, cut);
	if(!p)
		abort();
	snprintf(plan, sizeof(plan), "%s", p);
	if(cut < size) {
		overlay[0] = fuzz_write("overlay.csv", data + cut + 4,
				size - cut - 4);
		if(!overlay[0])
			abort();
		n_overlay = 1;
	}
	a = af_arena_new(0);
	if(!a)
		abort();
	err[0] = '\0';
	np = af_numplan_load(a, plan, overlay, n_overlay, err, sizeof(err));
	if(!np) {
		if(!err[0])
			abort();
		af_arena_free(a);
		return 0;
	}
	for(i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		if(af_numplan_lookup(np, nums[i], strlen(nums[i]), &info)
				&& (info.risk > 3 || info.cls >= AF_NC__COUNT
						|| info.prefix_len > AF_E164_MAX))
			abort();
	for(i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		(void)af_numplan_dialing(np, regions[i]);
		if(af_dialplan_build(a, np, regions[i], NULL, 0, NULL, 0, NULL, 0,
				   5, &dp, err, sizeof(err))
				== 0) {
			af_normalize(&dp, "00491701234567", 14, &num);
			af_normalize(&dp, "+1 (212) 555-0100", 17, &num);
			af_normalize(&dp, "0301234567;phone-context=x", 26, &num);
		}
	}
	(void)af_numplan_rows(np);
	af_arena_free(a);
	return 0;
}
