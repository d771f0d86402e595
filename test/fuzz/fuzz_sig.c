/*
 * antifraud fuzzing - the signature file loader (af_sig_load) and the
 * matching of what it loaded against a few real requests.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_arena.h"
#include "af_fp.h"
#include "af_sig.h"
#include "fuzz_host.h"

static const char *const reqs[] = {
		("INVITE sip:100@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n"
		"From: \"sipvicious\"<sip:100@1.1.1.1>;tag=3135\r\n"
		"To: <sip:100@127.0.0.1>\r\nCall-ID: 1234567890\r\n"
		"CSeq: 1 INVITE\r\nUser-Agent: friendly-scanner\r\n"
		"Content-Type: application/sdp\r\nContent-Length: 10\r\n\r\n"
		"v=0\r\ns=-\r\n"),
		("OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP h\r\n"
		"f: <sip:a@b>;tag=a\r\nt: <sip:a@b>\r\ni: x@y\r\n"
		"CSeq: 1 OPTIONS\r\nl: 0\r\n\r\n"),
		("REGISTER sip:example.com SIP/2.0\r\nUser-Agent: Zoiper\r\n"
		"Contact: <sip:u@10.0.0.2>\r\n\r\n"),
};
static af_fp_msg_t fms[sizeof(reqs) / sizeof(reqs[0])];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	fuzz_host_init();
	for(i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		af_fp_parse(reqs[i], strlen(reqs[i]), &fms[i]);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	char err[512];
	const char *path;
	af_sigset_t *set;
	af_arena_t *a;
	size_t i;
	int n;

	if(size > 65536)
		return -1;
	path = fuzz_write("signatures.yaml", data, size);
	a = af_arena_new(0);
	if(!path || !a)
		abort();
	err[0] = '\0';
	set = af_sig_load(a, path, err, sizeof(err));
	if(!set) {
		if(!err[0])
			abort();
	} else {
		for(i = 0; i < sizeof(fms) / sizeof(fms[0]); i++) {
			n = af_sig_match(set, &fms[i], hits, AF_SIG_HITS_MAX);
			if(n < 0 || (uint32_t)n > af_sig_count(set))
				abort();
		}
	}
	af_arena_free(a);
	return 0;
}
