/*
 * antifraud - GeoIP: country, continent and ASN of an address through
 * libmaxminddb (GeoLite2/GeoIP2 Country or City, and ASN databases, or one
 * database holding both).
 *
 * A handle is private to the process that opened it (Kamailio: opened in
 * mod_init and inherited, reopened per process after a reload).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_GEO_H
#define AF_GEO_H

#include <stddef.h>
#include <stdint.h>
#include "af_ip.h"

typedef struct af_geo af_geo_t;

typedef struct af_geo_info {
	int found;         /* 1 when the country database knew the address */
	char country[3];   /* ISO 3166-1 alpha-2, upper case, "" unknown */
	char continent[3]; /* AF AN AS EU NA OC SA, "" unknown */
	uint32_t asn;      /* 0 unknown */
} af_geo_info_t;

/*
 * Opens the databases (either path may be NULL, not both; the same file
 * may serve both when it has both kinds of data). Returns the handle, or
 * NULL with a message naming the file and what is wrong in err.
 */
af_geo_t *af_geo_open(const char *country_db, const char *asn_db, char *err,
		size_t errlen);

/* fills out (zeroed when unknown); returns 0, or -1 on a database error */
int af_geo_lookup(af_geo_t *g, const af_ip_t *ip, af_geo_info_t *out);

/* g may be NULL */
void af_geo_close(af_geo_t *g);

/* packs "DE" into a 16-bit code and back, for compact sets */
static inline uint16_t af_cc_pack(const char *cc)
{
	return (uint16_t)(((uint8_t)cc[0] << 8) | (uint8_t)cc[1]);
}

#endif
