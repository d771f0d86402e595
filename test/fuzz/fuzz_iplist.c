/*
 * antifraud fuzzing - plain IP list files (af_trie_load_file), as lists
 * and honeypot feeds are loaded, then a few lookups.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_arena.h"
#include "af_ip.h"
#include "fuzz_host.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_host_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const probe[] = {"1.2.3.4", "10.0.0.1", "::1",
			"2001:db8::1", "255.255.255.255"};
	char err[512];
	const char *path;
	af_arena_t *a;
	af_trie_t *t;
	af_ip_t ip;
	size_t i;
	int n;

	if(size > 65536)
		return -1;
	path = fuzz_write("list.txt", data, size);
	a = af_arena_new(0);
	t = a ? af_trie_new(a) : NULL;
	if(!path || !t)
		abort();
	err[0] = '\0';
	n = af_trie_load_file(t, path, 1, err, sizeof(err));
	if(n < 0 && !err[0])
		abort();
	if(n >= 0 && af_trie_count(t) > (uint32_t)n)
		abort();
	for(i = 0; i < sizeof(probe) / sizeof(probe[0]); i++)
		if(af_ip_parse(probe[i], strlen(probe[i]), &ip) == 0)
			(void)af_trie_lookup(t, &ip, NULL);
	af_arena_free(a);
	return 0;
}
