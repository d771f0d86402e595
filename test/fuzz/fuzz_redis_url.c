/*
 * antifraud fuzzing - the store URL of the module parameter
 * (af_redis_parse_url): redis://, unix:// and sentinel:// forms with
 * user info, escapes, ports and database numbers.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_store_redis.h"
#include "fuzz_host.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_host_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	af_redis_cfg_t cfg;
	char err[256], *url;

	if(size > 4096)
		return -1;
	url = malloc(size + 1);
	if(!url)
		abort();
	memcpy(url, data, size);
	url[size] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
	if(af_redis_parse_url(url, &cfg, err, sizeof(err)) < 0 && !err[0])
		abort();
	free(url);
	return 0;
}
