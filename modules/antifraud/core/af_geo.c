/*
 * antifraud - GeoIP lookups with libmaxminddb.
 *
 * The databases are mapped read-only (MMDB_MODE_MMAP); a lookup walks the
 * search tree and reads three or four values straight from the mapping,
 * without allocating.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <maxminddb.h>
#include "af_file.h"
#include "af_host.h"
#include "af_geo.h"

/* search-tree nodes and data records looked at when probing what a
 * database of unknown type holds */
#define GEO_PROBE_NODES 4096
#define GEO_PROBE_RECORDS 64

/*
 * Decoded records by their offset in the data section: a database holds
 * few distinct records (one per country, per AS) for millions of
 * networks, so after the tree walk the fields are almost always known.
 * A handle is private to one process (or thread), so the cache needs no
 * lock.
 */
#define GEO_CACHE 256

typedef struct geo_cache_slot {
	uint32_t offset_plus1; /* 0: empty */
	char country[3];
	char continent[3];
	uint32_t asn;
} geo_cache_slot_t;

/*
 * Answers by address: traffic comes from the same sources again and again
 * (phones, trunks, the same scanner), so a small direct-mapped cache of
 * whole answers saves the tree walks.
 */
#define GEO_IP_CACHE 1024

typedef struct geo_ip_slot {
	af_ip_t ip; /* family 0: empty */
	af_geo_info_t info;
} geo_ip_slot_t;

struct af_geo {
	geo_ip_slot_t ipcache[GEO_IP_CACHE];
	MMDB_s cdb;        /* country (or city) database */
	MMDB_s adb;        /* ASN database, when a separate file */
	int has_cdb;       /* cdb is open */
	int has_adb;       /* adb is open */
	int asn_in_cdb;    /* the ASN comes from the country entry */
	geo_cache_slot_t ccache[GEO_CACHE]; /* cdb records */
	geo_cache_slot_t acache[GEO_CACHE]; /* adb records */
};

/* slot of ip in the answer cache */
static unsigned ip_hash(const af_ip_t *ip)
{
	uint32_t x = 2166136261u;
	int i, n = ip->family == 4 ? 4 : 16;

	for(i = 0; i < n; i++)
		x = (x ^ ip->addr[i]) * 16777619u;
	return (x ^ (x >> 15)) & (GEO_IP_CACHE - 1);
}

static geo_cache_slot_t *geo_slot(geo_cache_slot_t *cache, uint32_t offset)
{
	return &cache[(offset * 2654435761u) >> 24 & (GEO_CACHE - 1)];
}

static const char *const path_country[] = {"country", "iso_code", NULL};
static const char *const path_reg_country[] = {
		"registered_country", "iso_code", NULL};
static const char *const path_continent[] = {"continent", "code", NULL};
static const char *const path_asn[] = {"autonomous_system_number", NULL};

/*
 * Tells whether the entry has a value at path. Returns 1 when it has, 0
 * when not.
 */
static int geo_entry_has(MMDB_entry_s *entry, const char *const *path)
{
	MMDB_entry_data_s data;

	if(MMDB_aget_value(entry, &data, path) != MMDB_SUCCESS)
		return 0;
	return data.has_data;
}

/*
 * Looks at the first data records of db (depth first from the root of the
 * search tree) for a value at path, or at alt_path when not NULL. Used for
 * databases whose type name says nothing about their content. Returns 1
 * when a record has one, 0 when none of those looked at has.
 */
static int geo_probe(const MMDB_s *db, const char *const *path,
		const char *const *alt_path)
{
	uint32_t stack[130];
	uint32_t node_count = db->metadata.node_count;
	MMDB_search_node_s node;
	MMDB_entry_s entry;
	int sp = 0, nodes = 0, records = 0, side;
	uint8_t type;

	stack[sp++] = 0;
	while(sp > 0 && nodes < GEO_PROBE_NODES && records < GEO_PROBE_RECORDS) {
		if(MMDB_read_node(db, stack[--sp], &node) != MMDB_SUCCESS)
			return 0;
		nodes++;
		/* right first on the stack, so that the left side is seen first */
		for(side = 1; side >= 0; side--) {
			type = side ? node.right_record_type : node.left_record_type;
			if(type == MMDB_RECORD_TYPE_SEARCH_NODE) {
				uint64_t next = side ? node.right_record : node.left_record;
				if(next < node_count && sp < (int)(sizeof(stack)
								/ sizeof(stack[0])))
					stack[sp++] = (uint32_t)next;
			} else if(type == MMDB_RECORD_TYPE_DATA) {
				entry = side ? node.right_record_entry : node.left_record_entry;
				records++;
				if(geo_entry_has(&entry, path)
						|| (alt_path && geo_entry_has(&entry, alt_path)))
					return 1;
			}
		}
	}
	return 0;
}

/*
 * Tells whether the type name of db contains one of the words (a NULL
 * terminated list). Returns 1 or 0.
 */
static int geo_type_has(const MMDB_s *db, const char *const *words)
{
	const char *type = db->metadata.database_type;

	if(!type)
		return 0;
	for(; *words; words++)
		if(strstr(type, *words))
			return 1;
	return 0;
}

/*
 * Opens path into db, writing "path: what is wrong" into err on failure;
 * what names the role of the file in the message. Returns 0 or -1.
 */
static int geo_open_one(const char *path, const char *what, MMDB_s *db,
		char *err, size_t errlen)
{
	char shown[300], why[512];
	int rc, e;

	/* a regular, non-empty file within the limit: libmaxminddb's own
	 * open would block on a FIFO */
	if(af_file_check(path, AF_FILE_GEOIP, NULL, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s (%s database)", why, what);
		return -1;
	}
	af_text_escape_max(shown, sizeof(shown), path, strlen(path), 256);
	errno = 0;
	rc = MMDB_open(path, MMDB_MODE_MMAP, db);
	e = errno;
	if(rc == MMDB_SUCCESS)
		return 0;
	switch(rc) {
		case MMDB_FILE_OPEN_ERROR:
		case MMDB_IO_ERROR:
			if(e)
				snprintf(err, errlen, "%s: cannot open %s database: %s (%s)",
						shown, what, MMDB_strerror(rc), strerror(e));
			else
				snprintf(err, errlen, "%s: cannot open %s database: %s",
						shown, what, MMDB_strerror(rc));
			break;
		case MMDB_INVALID_METADATA_ERROR:
		case MMDB_UNKNOWN_DATABASE_FORMAT_ERROR:
			snprintf(err, errlen,
					"%s: not a MaxMind DB file, cannot use it as %s "
					"database (%s)",
					shown, what, MMDB_strerror(rc));
			break;
		default:
			snprintf(err, errlen, "%s: bad %s database: %s", shown, what,
					MMDB_strerror(rc));
			break;
	}
	return -1;
}

/* Writes the type name of db, escaped, into out of outlen bytes. */
static const char *geo_type_shown(const MMDB_s *db, char *out, size_t outlen)
{
	const char *t = db->metadata.database_type;

	return af_text_escape_max(out, outlen, t ? t : "", t ? strlen(t) : 0,
			AF_EXCERPT_MAX);
}

/*
 * Checks that db, opened from path, holds countries: its type names a
 * country or city database, or its records have a country code. Returns
 * 0, or -1 with the reason in err.
 */
static int geo_check_country(const MMDB_s *db, const char *path, char *err,
		size_t errlen)
{
	static const char *const words[] = {"Country", "City", NULL};
	char shown[300], type[AF_EXCERPT_ROOM];

	if(geo_type_has(db, words)
			|| geo_probe(db, path_country, path_reg_country))
		return 0;
	snprintf(err, errlen,
			"%s: database type '%s' has no country.iso_code, not a country "
			"or city database",
			af_text_escape_max(shown, sizeof(shown), path, strlen(path), 256),
			geo_type_shown(db, type, sizeof(type)));
	return -1;
}

/*
 * Checks that db, opened from path, holds AS numbers: its type names an
 * ASN database, or its records have autonomous_system_number. Returns 0,
 * or -1 with the reason in err.
 */
static int geo_check_asn(const MMDB_s *db, const char *path, char *err,
		size_t errlen)
{
	static const char *const words[] = {"ASN", NULL};
	char shown[300], type[AF_EXCERPT_ROOM];

	if(geo_type_has(db, words) || geo_probe(db, path_asn, NULL))
		return 0;
	snprintf(err, errlen,
			"%s: database type '%s' has no autonomous_system_number, not "
			"an ASN database",
			af_text_escape_max(shown, sizeof(shown), path, strlen(path), 256),
			geo_type_shown(db, type, sizeof(type)));
	return -1;
}

/*
 * Opens country_db and asn_db (either may be NULL or "", not both; the
 * same path for both opens the file once). When no ASN database is given
 * and the country database has AS numbers, they are read from it. Returns
 * the handle, or NULL with "path: what is wrong" in err.
 */
af_geo_t *af_geo_open(const char *country_db, const char *asn_db, char *err,
		size_t errlen)
{
	af_geo_t *g;
	static const char *const asn_words[] = {"ASN", NULL};

	if(errlen)
		err[0] = '\0';
	if(country_db && !country_db[0])
		country_db = NULL;
	if(asn_db && !asn_db[0])
		asn_db = NULL;
	if(!country_db && !asn_db) {
		snprintf(err, errlen, "no GeoIP database given");
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if(!g) {
		snprintf(err, errlen, "out of memory opening GeoIP databases");
		return NULL;
	}
	if(country_db) {
		if(geo_open_one(country_db, "country", &g->cdb, err, errlen) < 0)
			goto error;
		g->has_cdb = 1;
		if(geo_check_country(&g->cdb, country_db, err, errlen) < 0)
			goto error;
		g->asn_in_cdb = geo_type_has(&g->cdb, asn_words)
						|| geo_probe(&g->cdb, path_asn, NULL);
	}
	if(asn_db && country_db && strcmp(asn_db, country_db) == 0) {
		/* one file for both: it must have the AS numbers too */
		if(!g->asn_in_cdb) {
			char shown[300], type[AF_EXCERPT_ROOM];
			snprintf(err, errlen,
					"%s: database type '%s' has no autonomous_system_number, "
					"cannot use it as ASN database",
					af_text_escape_max(shown, sizeof(shown), asn_db, strlen(asn_db),
							256),
					geo_type_shown(&g->cdb, type, sizeof(type)));
			goto error;
		}
	} else if(asn_db) {
		if(geo_open_one(asn_db, "ASN", &g->adb, err, errlen) < 0)
			goto error;
		g->has_adb = 1;
		if(geo_check_asn(&g->adb, asn_db, err, errlen) < 0)
			goto error;
		g->asn_in_cdb = 0;
	}
	AF_DBG("GeoIP: country db %s (%s), ASN db %s (%s)\n",
			country_db ? country_db : "-",
			g->has_cdb ? g->cdb.metadata.database_type : "-",
			asn_db ? asn_db : (g->asn_in_cdb ? "in country db" : "-"),
			g->has_adb ? g->adb.metadata.database_type : "-");
	return g;

error:
	af_geo_close(g);
	return NULL;
}

/*
 * Fills the socket address sa for ip, as IPv4 when ip is IPv4 or an
 * IPv4-mapped IPv6 address. Returns the address to pass to libmaxminddb,
 * or NULL when ip has no family.
 */
static const struct sockaddr *geo_sockaddr(const af_ip_t *ip,
		struct sockaddr_storage *sa)
{
	static const uint8_t v4mapped[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

	if(ip->family == 4 || (ip->family == 6
								  && memcmp(ip->addr, v4mapped, 12) == 0)) {
		memset(s4, 0, sizeof(*s4));
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, ip->family == 4 ? ip->addr : ip->addr + 12, 4);
		return (const struct sockaddr *)s4;
	}
	if(ip->family == 6) {
		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, ip->addr, 16);
		return (const struct sockaddr *)s6;
	}
	return NULL;
}

/*
 * Copies a two-letter code at path in entry into out (3 bytes), upper
 * case; out stays "" when there is none or it is not two letters.
 * Returns 0, or -1 when the database data is broken.
 */
static int geo_get_code(MMDB_entry_s *entry, const char *const *path,
		char *out)
{
	MMDB_entry_data_s data;
	int rc, i;
	char c;

	rc = MMDB_aget_value(entry, &data, path);
	if(rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR
			|| rc == MMDB_INVALID_LOOKUP_PATH_ERROR)
		return 0;
	if(rc != MMDB_SUCCESS)
		return -1;
	if(!data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING
			|| data.data_size != 2)
		return 0;
	for(i = 0; i < 2; i++) {
		c = data.utf8_string[i];
		if(c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if(c < 'A' || c > 'Z')
			return 0;
		out[i] = c;
	}
	out[2] = '\0';
	return 0;
}

/*
 * Reads the AS number of entry into *asn (left alone when there is
 * none). Returns 0, or -1 when the database data is broken.
 */
static int geo_get_asn(MMDB_entry_s *entry, uint32_t *asn)
{
	MMDB_entry_data_s data;
	int rc;

	rc = MMDB_aget_value(entry, &data, path_asn);
	if(rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR
			|| rc == MMDB_INVALID_LOOKUP_PATH_ERROR)
		return 0;
	if(rc != MMDB_SUCCESS)
		return -1;
	if(!data.has_data)
		return 0;
	switch(data.type) {
		case MMDB_DATA_TYPE_UINT32:
			*asn = data.uint32;
			break;
		case MMDB_DATA_TYPE_UINT16:
			*asn = data.uint16;
			break;
		case MMDB_DATA_TYPE_INT32:
			if(data.int32 > 0)
				*asn = (uint32_t)data.int32;
			break;
		case MMDB_DATA_TYPE_UINT64:
			if(data.uint64 <= UINT32_MAX)
				*asn = (uint32_t)data.uint64;
			break;
		default:
			break;
	}
	return 0;
}

/*
 * Looks ip up in db. Returns 1 with *entry set when found, 0 when the
 * database has no entry for it, -1 on a database error.
 */
static int geo_find(const MMDB_s *db, const struct sockaddr *sa,
		MMDB_entry_s *entry)
{
	MMDB_lookup_result_s res;
	int rc;

	res = MMDB_lookup_sockaddr(db, sa, &rc);
	if(rc == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
		return 0;
	if(rc != MMDB_SUCCESS)
		return -1;
	if(!res.found_entry)
		return 0;
	*entry = res.entry;
	return 1;
}

/*
 * Looks ip up in the databases of g and fills out: country, continent and
 * found from the country database (the registered country when the entry
 * has no country), asn from the ASN database. Allocates nothing. Returns
 * 0 (out zeroed when unknown), or -1 on a bad argument or broken database
 * data (out zeroed).
 */
int af_geo_lookup(af_geo_t *g, const af_ip_t *ip, af_geo_info_t *out)
{
	struct sockaddr_storage ss;
	const struct sockaddr *sa;
	MMDB_entry_s entry;
	unsigned h;
	int rc;

	memset(out, 0, sizeof(*out));
	if(!g || !ip)
		return -1;
	h = ip_hash(ip);
	if((ip->family == 4 || ip->family == 6)
			&& g->ipcache[h].ip.family == ip->family
			&& memcmp(g->ipcache[h].ip.addr, ip->addr,
					   ip->family == 4 ? 4 : 16)
					   == 0) {
		*out = g->ipcache[h].info;
		return 0;
	}
	sa = geo_sockaddr(ip, &ss);
	if(!sa)
		return -1;
	if(g->has_cdb) {
		rc = geo_find(&g->cdb, sa, &entry);
		if(rc < 0)
			goto error;
		if(rc > 0) {
			geo_cache_slot_t *slot = geo_slot(g->ccache, entry.offset);
			out->found = 1;
			if(slot->offset_plus1 == entry.offset + 1) {
				memcpy(out->country, slot->country, 3);
				memcpy(out->continent, slot->continent, 3);
				out->asn = slot->asn;
			} else {
				if(geo_get_code(&entry, path_country, out->country) < 0)
					goto error;
				if(!out->country[0]
						&& geo_get_code(&entry, path_reg_country, out->country)
								   < 0)
					goto error;
				if(geo_get_code(&entry, path_continent, out->continent) < 0)
					goto error;
				if(g->asn_in_cdb && geo_get_asn(&entry, &out->asn) < 0)
					goto error;
				slot->offset_plus1 = entry.offset + 1;
				memcpy(slot->country, out->country, 3);
				memcpy(slot->continent, out->continent, 3);
				slot->asn = out->asn;
			}
		}
	}
	if(g->has_adb) {
		rc = geo_find(&g->adb, sa, &entry);
		if(rc < 0)
			goto error;
		if(rc > 0) {
			geo_cache_slot_t *slot = geo_slot(g->acache, entry.offset);
			if(slot->offset_plus1 == entry.offset + 1) {
				out->asn = slot->asn;
			} else {
				if(geo_get_asn(&entry, &out->asn) < 0)
					goto error;
				slot->offset_plus1 = entry.offset + 1;
				slot->asn = out->asn;
			}
		}
	}
	if(ip->family == 4 || ip->family == 6) {
		g->ipcache[h].ip = *ip;
		g->ipcache[h].info = *out;
	}
	return 0;

error:
	memset(out, 0, sizeof(*out));
	return -1;
}

/*
 * Unmaps the databases of g and frees it; g may be NULL.
 */
void af_geo_close(af_geo_t *g)
{
	if(!g)
		return;
	if(g->has_cdb)
		MMDB_close(&g->cdb);
	if(g->has_adb)
		MMDB_close(&g->adb);
	free(g);
}
