/*
 * antifraud - af-cdr: past CDRs replayed through the core. What the
 * readers of the CDR formats (af_cdr_read.c) and the replay (af_cdr.c)
 * share.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_CDR_H
#define AF_CDR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* the CDR formats */
typedef enum cdr_format {
	CDR_F_AUTO = 0,
	CDR_F_KAM_LOG,      /* Kamailio acc log lines "ACC: ...: k=v;k=v" */
	CDR_F_KAM_FLAT,     /* Kamailio acc through db_flatstore: a|b|c */
	CDR_F_KAM_DBTEXT,   /* Kamailio acc through db_text: header, a:b:c */
	CDR_F_KAM_CDRS,     /* Kamailio acc_cdrs (dialog): "k=v; k=v" */
	CDR_F_OPENSIPS,     /* OpenSIPS acc table as CSV (duration, setuptime) */
	CDR_F_FREESWITCH,   /* FreeSWITCH mod_cdr_csv default template */
	CDR_F_ASTERISK,     /* Asterisk cdr_csv Master.csv */
	CDR_F_CSV,          /* any CSV through --columns */
	CDR_F__COUNT
} cdr_format_t;

const char *cdr_format_name(cdr_format_t f);
int cdr_format_parse(const char *s);

/* one call attempt, as read: times in ms since the epoch (0: none);
 * strings are offsets in the string pool (0: empty) */
typedef struct cdr_rec {
	uint64_t start_ms;
	uint64_t ring_ms;
	uint64_t answer_ms;
	uint64_t end_ms;
	uint32_t caller;
	uint32_t host;
	uint32_t callee;
	uint32_t callid;
	uint32_t src;
	uint32_t line;
	uint16_t file;
	uint16_t code; /* final: 200 answered, else the failure code */
} cdr_rec_t;

/* the generic CSV column map (--columns): field index per key, -1 none */
enum {
	CDR_C_START = 0,
	CDR_C_CALLER,
	CDR_C_CALLEE,
	CDR_C_ANSWER,
	CDR_C_END,
	CDR_C_DURATION,
	CDR_C_BILLSEC,
	CDR_C_DISPOSITION,
	CDR_C_CALLID,
	CDR_C_SOURCE,
	CDR_C_DOMAIN,
	CDR_C_RING,
	CDR_C__COUNT
};

#define CDR_LINE_MAX_DEFAULT (64 * 1024)
#define CDR_ERR_SHOWN_DEFAULT 50
#define CDR_ERR_KINDS 16

typedef struct cdr_ctx {
	/* options */
	int line_max;               /* bytes of one line, longer: an error */
	int err_shown;              /* errors printed, the rest counted */
	int64_t tz_offset_s;        /* added to read local times: UTC = t - off */
	const char *default_domain; /* caller host when a CDR has none */
	char *columns_spec;         /* --columns */
	char *acc_extra_spec;       /* --acc-extra: flatstore extra columns */
	uint64_t max_records;       /* --max-records: more rows are refused */
	int oom;                    /* memory ran out: results incomplete */
	/* the records */
	cdr_rec_t *rec;
	size_t n_rec;
	size_t cap_rec;
	/* the string pool; offset 0 is "" */
	char *pool;
	size_t pool_len;
	size_t pool_cap;
	/* interned strings (callers, hosts): open addressing, offsets */
	uint32_t *intern;
	size_t intern_cap;
	size_t intern_n;
	/* Kamailio acc BYEs, paired with their INVITEs after every file was
	 * read (a proxy's processes write their own files) */
	struct cdr_bye {
		uint64_t t;
		uint32_t callid;
	} *byes;
	size_t n_byes;
	size_t cap_byes;
	/* files */
	const char **files;
	int n_files;
	/* counts */
	uint64_t lines;
	uint64_t bad;
	uint64_t bad_kind[CDR_ERR_KINDS];
	uint64_t unpaired_bye;
	uint64_t no_bye;
	uint64_t ignored; /* lines that are not CDRs (other log lines, headers) */
	FILE *err;
} cdr_ctx_t;

/* kinds of bad rows, for the summary */
enum {
	CDR_E_LONG = 0,
	CDR_E_UTF8,
	CDR_E_TRUNCATED,
	CDR_E_COLUMNS,
	CDR_E_TIME,
	CDR_E_FIELD,
	CDR_E_QUOTE,
	CDR_E_IO,
	CDR_E_LIMIT,
	CDR_E__COUNT
};

const char *cdr_err_kind_name(int kind);

/* reads one file of format f (CDR_F_AUTO: detected) into ctx->rec;
 * returns 0, -1 when the file cannot be read at all or its format not
 * detected (a message printed) */
int cdr_read_file(cdr_ctx_t *ctx, int file_idx, cdr_format_t f);

/* pairs the BYEs read with their answered INVITEs (call after the last
 * cdr_read_file): an INVITE without BYE ends at its answer */
void cdr_pair_finish(cdr_ctx_t *ctx);

/* the string at pool offset o */
static inline const char *cdr_str(const cdr_ctx_t *ctx, uint32_t o)
{
	return ctx->pool + o;
}

/* writes s (len bytes) as a JSON string body (no quotes) to out, escaped,
 * at most max bytes of input */
void cdr_json_esc(FILE *out, const char *s, size_t len);

/* frees what ctx holds */
void cdr_ctx_free(cdr_ctx_t *ctx);

#endif
