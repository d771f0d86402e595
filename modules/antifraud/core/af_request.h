/*
 * antifraud - what a check knows of a request. The glue extracts it once
 * per message; strings point into the message and are not NUL-terminated.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_REQUEST_H
#define AF_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include "af_ip.h"

#define AF_SDP_IP_MAX 8

typedef struct af_str {
	const char *s;
	size_t len;
} af_str_t;

typedef enum af_method {
	AF_M_OTHER = 0,
	AF_M_INVITE,
	AF_M_REGISTER,
	AF_M_OPTIONS,
	AF_M_MESSAGE,
	AF_M_SUBSCRIBE,
	AF_M_NOTIFY,
	AF_M_REFER,
	AF_M_ACK,
	AF_M_BYE,
	AF_M_CANCEL
} af_method_t;

typedef enum af_proto {
	AF_P_UDP = 1,
	AF_P_TCP,
	AF_P_TLS,
	AF_P_SCTP,
	AF_P_WS,
	AF_P_OTHER
} af_proto_t;

/*
 * What one check learned that another check of the same message can use
 * (the glue keeps one per message and points every af_request_t of that
 * message at it; NULL: nothing shared). A check writes through it: the
 * request stays const.
 */
typedef struct af_memo {
	int ban_state; /* 0 unknown, 1 the source is not banned, 2 banned */
	int auth_reported; /* the script reported the authentication result */
	char profile[65];  /* the profile af_check_source used ("" default) */
} af_memo_t;

typedef struct af_request {
	af_ip_t src_ip;
	uint16_t src_port;
	af_proto_t proto;
	af_method_t method;
	af_str_t method_name;
	int initial; /* out of dialog: no To tag */
	af_str_t ruri_user;
	af_str_t ruri_host; /* without port or brackets */
	af_str_t from_user;
	af_str_t from_host;
	af_str_t to_user; /* To URI: filled for REGISTER (the account) */
	af_str_t to_host;
	af_str_t auth_user; /* authenticated or credentials user; may be empty */
	af_str_t user_agent;
	af_str_t call_id;
	af_str_t cseq; /* the CSeq number */
	af_str_t auth_response; /* the digest response of the credentials */
	af_str_t raw; /* the whole message as received (fingerprints) */
	af_ip_t sdp_ip[AF_SDP_IP_MAX]; /* distinct c=/o= addresses */
	int sdp_ip_count;
	af_memo_t *memo; /* may be NULL */
} af_request_t;

/*
 * Sets req's source: addr holds 16 bytes when v6 (an IPv4-mapped IPv6
 * address is taken as the IPv4 address it maps), 4 otherwise.
 */
void af_request_set_src(af_request_t *req, int v6, const void *addr,
		uint16_t port);

/*
 * Adds addr (an IP address in text; a host name or garbage is skipped)
 * to req's SDP addresses, once, while there is room.
 */
void af_request_sdp_ip(af_request_t *req, const char *addr, size_t len);

/* 1 when the method of req may carry an SDP body worth reading */
int af_request_has_sdp(const af_request_t *req);

/*
 * The connection and origin addresses of an application/sdp body: only
 * the c= and o= lines are read, without allocation.
 */
void af_request_sdp(af_request_t *req, const char *body, size_t len);

#endif
