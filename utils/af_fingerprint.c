/*
 * antifraud - af-fingerprint: the structural fingerprint of raw SIP
 * requests, as the module computes it (same af_fp_parse()), and which
 * signatures of a signature file they match.
 *
 * usage: af-fingerprint [--check SIGNATURES.yaml] [--tsv] [FILE...]
 *
 * Each FILE holds one request, byte for byte as received. Without FILE
 * (or with "-"), standard input is read as a stream of requests separated
 * by lines holding only "--af-msg--" (a CR before the LF is allowed).
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "af_arena.h"
#include "af_fp.h"
#include "af_host.h"
#include "af_host_plain.h"
#include "af_sig.h"

#define AFP_SEP "--af-msg--"
#define AFP_HITS 64
#define AFP_MAX_INPUT (64u << 20) /* bytes read from one file or stdin */

static int afp_verbose;

/* ---- output */

typedef struct afp_opts {
	const af_sigset_t *set; /* --check, else NULL */
	int tsv;                /* one line per message, tab-separated */
	long n_msg;             /* messages printed so far */
	long n_bad;             /* inputs that were not SIP requests */
	long n_block;           /* messages matching a block signature */
} afp_opts_t;

/* writes s[0..len) with control characters escaped (\r, \n, \t, \xNN) */
static void afp_put(FILE *f, const char *s, size_t len, int tsv)
{
	size_t i;
	unsigned char c;

	for(i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if(c == '\\')
			fputs("\\\\", f);
		else if(c == '\r')
			fputs("\\r", f);
		else if(c == '\n')
			fputs("\\n", f);
		else if(c == '\t')
			fputs(tsv ? "\\t" : "\t", f);
		else if(c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

static void afp_field(const char *label, af_str_t v)
{
	printf("  %-13s ", label);
	afp_put(stdout, v.s, v.len, 0);
	fputc('\n', stdout);
}

/* prints the features of one message; name says where it came from */
static void afp_report(afp_opts_t *o, const char *name, const char *buf,
		size_t len)
{
	af_fp_msg_t fm;
	af_sig_hit_t hits[AFP_HITS];
	char id[21];
	int n = 0, i, shown, block = 0;

	if(af_fp_parse(buf, len, &fm) < 0) {
		o->n_bad++;
		if(o->tsv)
			printf("%s\t-\t-\t-\t-\t-\n", name);
		else
			printf("%s: not a SIP request (%zu bytes)\n\n", name, len);
		return;
	}
	o->n_msg++;
	af_fp_id(fm.hash, id);
	if(o->set) {
		n = af_sig_match(o->set, &fm, hits, AFP_HITS);
		shown = n < AFP_HITS ? n : AFP_HITS;
		for(i = 0; i < shown; i++)
			if(hits[i].action == AF_SIG_BLOCK)
				block = 1;
		if(block)
			o->n_block++;
	}
	shown = n < AFP_HITS ? n : AFP_HITS;

	if(o->tsv) {
		/* name, id, method, user-agent, shape, matches */
		printf("%s\t%s\t", name, id);
		afp_put(stdout, fm.method.s, fm.method.len, 1);
		fputc('\t', stdout);
		afp_put(stdout, fm.user_agent.s, fm.user_agent.len, 1);
		fputc('\t', stdout);
		afp_put(stdout, fm.shape, fm.shape_len, 1);
		fputc('\t', stdout);
		if(!o->set)
			fputc('-', stdout);
		for(i = 0; i < shown; i++)
			printf("%s%s:%s", i ? "," : "", hits[i].name,
					hits[i].action == AF_SIG_BLOCK ? "block" : "alert");
		fputc('\n', stdout);
		return;
	}

	printf("%s\n", name);
	printf("  %-13s %s\n", "fingerprint", id);
	printf("  %-13s ", "shape");
	afp_put(stdout, fm.shape, fm.shape_len, 0);
	fputc('\n', stdout);
	printf("  %-13s ", "order");
	afp_put(stdout, fm.order, fm.order_len, 0);
	if(fm.n_hdr_total > fm.n_hdr)
		printf(" (+%d headers not kept)", fm.n_hdr_total - fm.n_hdr);
	fputc('\n', stdout);
	afp_field("request", fm.request_line);
	afp_field("user-agent", fm.user_agent);
	if(fm.server.len)
		afp_field("server", fm.server);
	afp_field("call-id", fm.call_id);
	afp_field("branch", fm.branch);
	afp_field("from-tag", fm.from_tag);
	if(fm.sdp_o_user.len || fm.sdp_s.len) {
		afp_field("sdp-o-user", fm.sdp_o_user);
		afp_field("sdp-s", fm.sdp_s);
	}
	if(o->set) {
		printf("  %-13s", "matches");
		if(n == 0)
			printf(" none");
		for(i = 0; i < shown; i++)
			printf(" %s(%s,%u)", hits[i].name,
					hits[i].action == AF_SIG_BLOCK ? "block" : "alert",
					hits[i].score);
		if(n > shown)
			printf(" (+%d more)", n - shown);
		fputc('\n', stdout);
	}
	fputc('\n', stdout);
}

/* ---- input */

/* reads all of f into a new buffer; returns it (len in *len) or NULL */
static char *afp_slurp(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0, r;
	char *buf = malloc(cap), *grown;

	if(!buf)
		return NULL;
	for(;;) {
		if(n == cap) {
			if(cap >= AFP_MAX_INPUT) {
				errno = EFBIG;
				free(buf);
				return NULL;
			}
			cap *= 2;
			grown = realloc(buf, cap);
			if(!grown) {
				free(buf);
				return NULL;
			}
			buf = grown;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if(r == 0) {
			if(ferror(f)) {
				free(buf);
				return NULL;
			}
			break;
		}
	}
	*len = n;
	return buf;
}

/* the declared Content-Length of the header part buf[0..hend), or -1 */
static long afp_clen(const char *buf, size_t hend)
{
	size_t p = 0, e, v;
	long n;

	while(p < hend) {
		e = p;
		while(e < hend && buf[e] != '\n')
			e++;
		v = 0;
		if(e - p > 15 && !strncasecmp(buf + p, "content-length", 14))
			v = p + 14;
		else if(e - p > 2 && (buf[p] == 'l' || buf[p] == 'L')
				&& (buf[p + 1] == ':' || buf[p + 1] == ' '
						|| buf[p + 1] == '\t'))
			v = p + 1;
		if(v) {
			while(v < e && (buf[v] == ' ' || buf[v] == '\t'))
				v++;
			if(v < e && buf[v] == ':') {
				v++;
				while(v < e && (buf[v] == ' ' || buf[v] == '\t'))
					v++;
				for(n = 0; v < e && buf[v] >= '0' && buf[v] <= '9'; v++)
					if(n < 100000000)
						n = n * 10 + (buf[v] - '0');
				return n;
			}
		}
		p = e + 1;
	}
	return -1;
}

/* length of the header part with its blank line, 0 when none */
static size_t afp_hend(const char *buf, size_t len)
{
	size_t i;

	for(i = 0; i + 1 < len; i++) {
		if(buf[i] != '\n')
			continue;
		if(buf[i + 1] == '\n')
			return i + 2;
		if(i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/*
 * The length of a stream piece buf[0..len) without the line break a
 * writer put before the separator line: that last line break is dropped
 * only when the message is then exactly its header part plus its
 * declared Content-Length (so a message written with its exact bytes,
 * and one written with an extra newline, both come out as sent).
 */
static size_t afp_trim(const char *buf, size_t len)
{
	size_t cut, l2, hend;
	long cl;

	if(len == 0 || buf[len - 1] != '\n')
		return len;
	hend = afp_hend(buf, len);
	cl = hend ? afp_clen(buf, hend) : -1;
	if(hend && (size_t)(cl < 0 ? 0 : cl) + hend == len)
		return len; /* exact already */
	cut = (len >= 2 && buf[len - 2] == '\r') ? 2 : 1;
	l2 = len - cut;
	hend = afp_hend(buf, l2);
	if(!hend)
		return len;
	cl = afp_clen(buf, hend);
	if((size_t)(cl < 0 ? 0 : cl) + hend == l2)
		return l2;
	return len;
}

/*
 * Splits a stream at lines holding only the separator (an optional CR
 * before the LF) and reports each piece, less the line break that a
 * writer may have added before the separator (see afp_trim()).
 */
static void afp_stream(afp_opts_t *o, const char *what, const char *buf,
		size_t len)
{
	const size_t sl = sizeof(AFP_SEP) - 1;
	size_t start = 0, p = 0, e, end;
	long k = 0;
	char name[512];

	while(p <= len) {
		/* p is at the start of a line */
		e = p;
		while(e < len && buf[e] != '\n')
			e++;
		end = e;
		if(end > p && buf[end - 1] == '\r')
			end--;
		if(end - p == sl && memcmp(buf + p, AFP_SEP, sl) == 0) {
			if(p > start) {
				snprintf(name, sizeof(name), "%s#%ld", what, ++k);
				afp_report(o, name, buf + start,
						afp_trim(buf + start, p - start));
			}
			start = e < len ? e + 1 : len;
		}
		if(e >= len)
			break;
		p = e + 1;
	}
	if(start < len) {
		/* a trailing piece of only blank lines is no message */
		for(p = start; p < len; p++)
			if(buf[p] != '\r' && buf[p] != '\n' && buf[p] != ' '
					&& buf[p] != '\t')
				break;
		if(p < len) {
			snprintf(name, sizeof(name), "%s#%ld", what, ++k);
			afp_report(o, name, buf + start, len - start);
		}
	}
}

static int afp_file(afp_opts_t *o, const char *path, int stream)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *buf;
	size_t len = 0;

	if(!f) {
		fprintf(stderr, "af-fingerprint: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = afp_slurp(f, &len);
	if(f != stdin)
		fclose(f);
	if(!buf) {
		fprintf(stderr, "af-fingerprint: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if(stream)
		afp_stream(o, f == stdin ? "stdin" : path, buf, len);
	else
		afp_report(o, path, buf, len);
	free(buf);
	return 0;
}

static void afp_usage(FILE *f)
{
	fputs("usage: af-fingerprint [options] [FILE...]\n"
		  "\n"
		  "Prints, for each raw SIP request, its structural fingerprint\n"
		  "(af1-...), shape, header order and User-Agent, as the antifraud\n"
		  "module computes them.\n"
		  "\n"
		  "  FILE          one request per file, exact bytes (CRLF kept);\n"
		  "                without FILE, or with '-', standard input is a\n"
		  "                stream of requests separated by lines holding\n"
		  "                only '" AFP_SEP "'\n"
		  "  --stream      read every FILE as such a stream too\n"
		  "  --check FILE  load a signature file (YAML) and print the\n"
		  "                signatures each request matches\n"
		  "  --tsv         one tab-separated line per request: name,\n"
		  "                fingerprint, method, user-agent, shape, matches\n"
		  "                (name:block|alert, comma-separated; '-' without\n"
		  "                --check)\n"
		  "  -v            log the core's debug messages to stderr\n"
		  "  -h, --help    this text\n"
		  "\n"
		  "Exit status: 0 done, 1 an input could not be read or the\n"
		  "signature file is invalid, 2 bad usage.\n",
			f);
}

int main(int argc, char **argv)
{
	afp_opts_t o;
	af_arena_t *arena = NULL;
	const char *check = NULL;
	char err[512];
	int i, stream = 0, rc = 0, files = 0;

	memset(&o, 0, sizeof(o));
	for(i = 1; i < argc; i++) {
		if(!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			afp_usage(stdout);
			return 0;
		} else if(!strcmp(argv[i], "--check")) {
			if(++i == argc) {
				afp_usage(stderr);
				return 2;
			}
			check = argv[i];
		} else if(!strncmp(argv[i], "--check=", 8)) {
			check = argv[i] + 8;
		} else if(!strcmp(argv[i], "--tsv")) {
			o.tsv = 1;
		} else if(!strcmp(argv[i], "--stream")) {
			stream = 1;
		} else if(!strcmp(argv[i], "-v")) {
			afp_verbose = 1;
		} else if(!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if(argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "af-fingerprint: unknown option '%s'\n", argv[i]);
			afp_usage(stderr);
			return 2;
		} else {
			break;
		}
	}

	af_host_plain_init(afp_verbose ? AF_L_DBG : AF_L_WARN, "af-fingerprint: ");
	if(check) {
		arena = af_arena_new(0);
		if(!arena) {
			fprintf(stderr, "af-fingerprint: out of memory\n");
			return 1;
		}
		err[0] = '\0';
		o.set = af_sig_load(arena, check, err, sizeof(err));
		if(!o.set) {
			fprintf(stderr, "af-fingerprint: %s\n",
					err[0] ? err : "cannot load the signature file");
			af_arena_free(arena);
			return 1;
		}
	}

	for(; i < argc; i++, files++) {
		if(!strcmp(argv[i], "-"))
			rc |= afp_file(&o, "-", 1);
		else
			rc |= afp_file(&o, argv[i], stream);
	}
	if(files == 0)
		rc |= afp_file(&o, "-", 1);

	if(!o.tsv)
		printf("%ld request%s%s", o.n_msg, o.n_msg == 1 ? "" : "s",
				o.n_bad ? "" : "\n");
	if(!o.tsv && o.n_bad)
		printf(", %ld input%s not a SIP request\n", o.n_bad,
				o.n_bad == 1 ? "" : "s");
	if(!o.tsv && o.set)
		printf("%u signatures loaded from %s; %ld request%s matched a"
			   " block signature\n",
				af_sig_count(o.set), check, o.n_block,
				o.n_block == 1 ? "" : "s");
	af_arena_free(arena);
	return rc ? 1 : 0;
}
