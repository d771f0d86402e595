/*
 * antifraud - request fingerprints: what an attack tool's request looks
 * like, beyond its User-Agent.
 *
 * Features are read from the raw message bytes by one small splitter
 * (first line, "Name: value" header lines, body), the same in Kamailio,
 * in the unit tests and in the operator tools (utils/af-fingerprint), so
 * a fingerprint learned from a capture is the one the proxy computes.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_FP_H
#define AF_FP_H

#include <stddef.h>
#include <stdint.h>
#include "af_request.h"

#define AF_FP_HDR_MAX 48   /* header lines kept in order */
#define AF_FP_ORDER_MAX 512 /* bytes of the header order text */
#define AF_FP_SHAPE_MAX 256 /* bytes of the structural fingerprint text */

/* a header line as received */
typedef struct af_fp_hdr {
	af_str_t name;  /* as written (case and compact form kept) */
	af_str_t value; /* trimmed; first line only for folded headers */
} af_fp_hdr_t;

/*
 * Features of one request. Strings point into the message. Filled by
 * af_fp_parse(); "missing" is an empty string.
 */
typedef struct af_fp_msg {
	af_str_t request_line; /* "INVITE sip:100@1.2.3.4 SIP/2.0" */
	af_str_t method;
	af_str_t ruri;
	af_fp_hdr_t hdr[AF_FP_HDR_MAX];
	int n_hdr;           /* kept; more are counted, not kept */
	int n_hdr_total;
	int compact;         /* some header used its compact form (v:, f:) */
	af_str_t user_agent;
	af_str_t server;
	af_str_t from_display, from_user, from_tag;
	af_str_t to_display, to_user;
	af_str_t call_id;
	af_str_t branch;     /* of the first Via */
	af_str_t contact;
	af_str_t sdp_o_user; /* user name of the SDP o= line */
	af_str_t sdp_s;      /* SDP s= line */
	int sdp;             /* the body holds SDP (a "v=" line) */
	long content_length; /* declared; -1 when absent or not a number */
	size_t body_len;     /* bytes after the blank line */
	/* canonical header names in order, lower case, full forms,
	 * comma-separated: "via,from,to,call-id,cseq,contact,..." */
	char order[AF_FP_ORDER_MAX];
	size_t order_len;
	/* structural fingerprint, see af_fp_shape() */
	char shape[AF_FP_SHAPE_MAX];
	size_t shape_len;
	uint64_t hash; /* FNV-1a 64 of shape */
} af_fp_msg_t;

/*
 * Splits buf[0..len) (one SIP request as received) into fm. Never reads
 * past len, never allocates. Returns 0, or -1 when buf is not a SIP
 * request at all (no request line; fm then holds no feature, an empty
 * order and shape, hash 0); a malformed header ends the header part,
 * what came before it is kept. Features come from the first header of
 * their kind (every header, not only the kept ones); the body is what
 * follows the blank line.
 */
int af_fp_parse(const char *buf, size_t len, af_fp_msg_t *fm);

/*
 * The shape of a token (Call-ID, branch, tag): runs of one character
 * class written as class letter + length: 'd' digits, 'h' lower-case hex
 * (digits and a-f, with at least one letter), 'H' upper-case hex, 'a'
 * lower-case alphanumerics, 'A' upper-case alphanumerics, 'm' mixed-case
 * alphanumerics; any other character written as itself. A leading
 * "z9hG4bK" (RFC 3261 magic cookie) is kept literally; bytes outside
 * printable ASCII are written as '?'; a run is written whole or not at
 * all. Examples:
 *   "1234567890"             -> "d10"
 *   "a84b4c76e66710@pc33.ex" -> "h14@a4.a2"
 *   "z9hG4bK-524287-1---x"   -> "z9hG4bK-d6-d1---a1"
 * Writes at most size-1 bytes and a NUL; returns the length.
 */
size_t af_fp_token_shape(const char *s, size_t len, char *out, size_t size);

/*
 * Fills fm->order, fm->shape and fm->hash from the parsed features:
 *   shape = METHOD "|" order "|" call-id shape "|" branch shape "|"
 *           from-tag shape "|" flags
 * flags: 'c' compact headers, 'b' SDP body, 'l' Content-Length differs
 * from the body, '-' none. af_fp_parse() calls it. order holds the kept
 * headers (fm->hdr) while they fit whole; shape is cut at
 * AF_FP_SHAPE_MAX - 1 bytes.
 */
void af_fp_shape(af_fp_msg_t *fm);

/*
 * 1 when the declared Content-Length differs from the body: a number
 * other than body_len, or no (valid) Content-Length with a body.
 */
static inline int af_fp_cl_mismatch(const af_fp_msg_t *fm)
{
	if(fm->content_length < 0)
		return fm->body_len > 0;
	return (unsigned long)fm->content_length != fm->body_len;
}

/*
 * The full lower-case name of compact header form letter (either case),
 * as order writes it: "via" for 'v', "call-id" for 'i'; NULL when the
 * letter is not a compact form (b c e f i k l m o r s t u v x y).
 */
const char *af_fp_compact_full(char letter);

/* "af1-" and 16 hex digits of hash: the fingerprint operators pin */
void af_fp_id(uint64_t hash, char out[21]);

#endif
