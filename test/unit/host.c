/*
 * antifraud unit tests - the test host: the core's plain host
 * (af_host_plain.c) and temporary files.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "af_host.h"
#include "af_host_plain.h"
#include "host.h"

/* the core's plain host; AF_TEST_VERBOSE set: every level is logged */
void test_host_init(void)
{
	af_host_plain_init(getenv("AF_TEST_VERBOSE") ? AF_L_DBG : AF_L_ERR, NULL);
}

void test_host_set_now(uint64_t now_ms)
{
	af_host_plain_set_now(now_ms);
}

void test_host_advance(uint64_t ms)
{
	af_host_plain_advance(ms);
}

long test_host_shm_live(void)
{
	return af_host_plain_live();
}

const char *test_write_file(const char *name, const char *text)
{
	static char path[512];
	static char dir[256];
	FILE *f;

	if(!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/af-unit-%d",
				getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
		mkdir(dir, 0700);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if(!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

uint64_t test_rnd(void)
{
	static uint64_t state = 0x9e3779b97f4a7c15ULL;

	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}
