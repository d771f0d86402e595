/*
 * antifraud - the one way the core reads a file: the rule file and every
 * file it names (IP lists, signatures, number plan and overlays, GeoIP
 * databases). Only regular files, opened without blocking, each kind with
 * its own size limit; and the escaped excerpt that error messages show
 * instead of raw file content.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_FILE_H
#define AF_FILE_H

#include "af_text.h"

#include <stddef.h>
#include <stdint.h>

/* the kinds of files, each with its own size limit */
typedef enum af_file_kind {
	AF_FILE_RULES = 0,  /* the rule file */
	AF_FILE_SIGNATURES, /* the signature file */
	AF_FILE_LIST,       /* an IP list file */
	AF_FILE_NUMPLAN,    /* the number plan and its overlays */
	AF_FILE_GEOIP,      /* a MaxMind DB (mapped, not read; never empty) */
	AF_FILE__COUNT
} af_file_kind_t;

/* bytes of a value that a message quotes, before escaping */
#define AF_EXCERPT_MAX 32

/*
 * Returns the name of kind k in messages ("rule file", "ip list", ...),
 * and in af_file_limits_parse() with '_' for ' ' ("ip_list").
 */
const char *af_file_kind_name(af_file_kind_t k);

/* Returns the size limit of kind k in bytes. */
uint64_t af_file_limit(af_file_kind_t k);

/*
 * Sets the size limits from spec, a comma-separated list of
 * "kind=MiB" (kinds: rules, signatures, list, numplan, geoip; 1 to
 * 1048576 MiB); kinds not named keep their limit. Nothing is changed
 * when spec is bad. Returns 0, or -1 with the reason in err.
 */
int af_file_limits_parse(const char *spec, char *err, size_t errlen);

/*
 * Checks that path, a file of kind k, can be read: opens it with
 * O_NONBLOCK (a FIFO does not block), refuses what is not a regular
 * file, a file larger than the limit of k and an empty GeoIP database.
 * Stores its size in *size when size is not NULL. Returns 0, or -1 with
 * "<kind> '<path>': what is wrong" in err (err may be NULL).
 */
int af_file_check(const char *path, af_file_kind_t k, uint64_t *size,
		char *err, size_t errlen);

/*
 * Reads the whole of path, a file of kind k, with the checks of
 * af_file_check() (a file growing past the limit while read is refused
 * too), into a malloc'ed buffer *data of *len bytes plus a NUL, freed
 * with free(). Returns 0, or -1 with the error in err as
 * af_file_check() writes it, *data NULL.
 */
int af_file_read(const char *path, af_file_kind_t k, char **data,
		size_t *len, char *err, size_t errlen);

/* file content is shown in messages only through af_text_escape_max()
 * (af_text.h) */

/* room for an escaped excerpt of AF_EXCERPT_MAX bytes */
#define AF_EXCERPT_ROOM (AF_EXCERPT_MAX * 4 + 4)

#endif
