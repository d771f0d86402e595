/*
 * antifraud fuzzing - the SIP request splitter and the fingerprint
 * (af_fp_parse, af_fp_shape, af_fp_token_shape), and the sample
 * signatures matched against whatever the splitter made of the input.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "af_arena.h"
#include "af_fp.h"
#include "af_sig.h"
#include "fuzz_host.h"

static af_sigset_t *sigs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4096], err[512];
	af_arena_t *a;

	fuzz_host_init();
	snprintf(path, sizeof(path), "%s/etc/antifraud-signatures.yaml",
			fuzz_top());
	a = af_arena_new(0);
	sigs = a ? af_sig_load(a, path, err, sizeof(err)) : NULL;
	if(!sigs) {
		fprintf(stderr, "fuzz_fp: %s: %s\n", path, err);
		abort();
	}
	return 0;
}

/* a string of the message must lie inside it (or be empty) */
static void inside(const af_str_t *s, const uint8_t *buf, size_t len)
{
	if(s->len == 0)
		return;
	if(!s->s || (const uint8_t *)s->s < buf
			|| (const uint8_t *)s->s + s->len > buf + len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	af_fp_msg_t fm;
	af_sig_hit_t hits[AF_SIG_HITS_MAX];
	char shape[128], id[21];
	int i, n;

	if(af_fp_parse((const char *)data, size, &fm) == 0) {
		inside(&fm.request_line, data, size);
		inside(&fm.method, data, size);
		inside(&fm.ruri, data, size);
		inside(&fm.user_agent, data, size);
		inside(&fm.call_id, data, size);
		inside(&fm.branch, data, size);
		inside(&fm.from_tag, data, size);
		inside(&fm.sdp_s, data, size);
		if(fm.n_hdr < 0 || fm.n_hdr > AF_FP_HDR_MAX
				|| fm.n_hdr > fm.n_hdr_total)
			abort();
		for(i = 0; i < fm.n_hdr; i++) {
			inside(&fm.hdr[i].name, data, size);
			inside(&fm.hdr[i].value, data, size);
		}
		if(fm.order_len >= AF_FP_ORDER_MAX || fm.shape_len >= AF_FP_SHAPE_MAX
				|| strlen(fm.shape) != fm.shape_len)
			abort();
		if(fm.body_len > size)
			abort();
		(void)af_fp_cl_mismatch(&fm);
		af_fp_id(fm.hash, id);
		n = af_sig_match(sigs, &fm, hits, AF_SIG_HITS_MAX);
		if(n < 0 || (uint32_t)n > af_sig_count(sigs))
			abort();
	}
	if(af_fp_token_shape((const char *)data, size, shape, sizeof(shape))
			>= sizeof(shape))
		abort();
	if(size > 0)
		(void)af_fp_compact_full((char)data[0]);
	return 0;
}
