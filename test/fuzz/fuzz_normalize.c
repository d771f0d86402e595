/*
 * antifraud fuzzing - what callers dial, made E.164 (af_normalize), with
 * the sample number plan's dialing data for a few regions (literal and
 * pattern international prefixes, strip prefixes), then looked up in
 * the plan. The first byte picks the dialplan, the rest is the R-URI
 * user part.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_arena.h"
#include "af_numplan.h"
#include "fuzz_host.h"

#define N_DP 6
static af_numplan_t *np;
static af_dialplan_t dps[N_DP];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const nat[] = {"0"}, *const intl[] = {"00", "011"};
	static const char *const strip[] = {"*31#", "1010"};
	char plan[4096], over[4096], err[512];
	const char *overlays[1];
	af_arena_t *a;
	int rc = 0;

	fuzz_host_init();
	snprintf(plan, sizeof(plan), "%s/etc/antifraud-numplan.csv", fuzz_top());
	snprintf(over, sizeof(over), "%s/etc/antifraud-highrisk.csv",
			fuzz_top());
	overlays[0] = over;
	a = af_arena_new(0);
	np = a ? af_numplan_load(a, plan, overlays, 1, err, sizeof(err)) : NULL;
	if(!np) {
		fprintf(stderr, "fuzz_normalize: %s\n", err);
		abort();
	}
	rc |= af_dialplan_build(a, np, "DE", NULL, 0, NULL, 0, NULL, 0, 5,
			&dps[0], err, sizeof(err));
	rc |= af_dialplan_build(a, np, "US", NULL, 0, NULL, 0, NULL, 0, 3,
			&dps[1], err, sizeof(err));
	rc |= af_dialplan_build(a, np, "AU", NULL, 0, NULL, 0, NULL, 0, 3,
			&dps[2], err, sizeof(err));
	rc |= af_dialplan_build(a, np, "BR", NULL, 0, NULL, 0, NULL, 0, 4,
			&dps[3], err, sizeof(err));
	rc |= af_dialplan_build(a, np, "GB", nat, 1, intl, 2, strip, 2, 6,
			&dps[4], err, sizeof(err));
	rc |= af_dialplan_build(a, np, "FR", nat, 0, intl, 0, NULL, 0, 0,
			&dps[5], err, sizeof(err));
	if(rc) {
		fprintf(stderr, "fuzz_normalize: dialplan: %s\n", err);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	af_numinfo_t info;
	af_number_t num;
	af_numkind_t k;
	size_t i;

	if(size < 1)
		return 0;
	memset(&num, 0xa5, sizeof(num));
	k = af_normalize(&dps[data[0] % N_DP], (const char *)data + 1, size - 1,
			&num);
	if(k != num.kind)
		abort();
	if(k == AF_NUM_INVALID) {
		if(!num.why)
			abort();
		return 0;
	}
	if(num.len > AF_E164_MAX || num.digits[num.len] != '\0'
			|| strlen(num.digits) != num.len)
		abort();
	for(i = 0; i < num.len; i++)
		if(num.digits[i] < '0' || num.digits[i] > '9')
			if(k != AF_NUM_SHORT)
				abort();
	if(k == AF_NUM_E164
			&& (num.len < 4 || num.digits[0] == '0'))
		abort();
	if(k == AF_NUM_E164)
		(void)af_numplan_lookup(np, num.digits, num.len, &info);
	return 0;
}
