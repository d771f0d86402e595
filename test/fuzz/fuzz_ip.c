/*
 * antifraud fuzzing - addresses and CIDR prefixes (af_ip_parse,
 * af_cidr_parse, af_ip_format) and the trie: what parses must format and
 * parse back to itself, and a prefix added must be found.
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
	char buf[AF_IP_STRLEN];
	const char *why = NULL;
	af_ip_t ip, back, net;
	af_arena_t *a;
	af_trie_t *t;
	uint32_t v = 0;
	int plen = -1, len;

	if(af_ip_parse((const char *)data, size, &ip) == 0) {
		if(ip.family != 4 && ip.family != 6)
			abort();
		len = af_ip_format(&ip, buf, sizeof(buf));
		if(len <= 0 || (size_t)len >= sizeof(buf)
				|| af_ip_parse(buf, (size_t)len, &back) < 0
				|| !af_ip_equal(&ip, &back))
			abort();
	}
	if(af_cidr_parse((const char *)data, size, &net, &plen, &why) == 0) {
		if(plen < 0 || plen > (net.family == 4 ? 32 : 128))
			abort();
		a = af_arena_new(4096);
		if(!a)
			abort();
		t = af_trie_new(a);
		if(!t || af_trie_add(t, &net, plen, 7) < 0
				|| af_trie_lookup(t, &net, &v) != plen || v != 7
				|| af_trie_count(t) != 1)
			abort();
		af_arena_free(a);
	} else if(!why) {
		abort();
	}
	return 0;
}
