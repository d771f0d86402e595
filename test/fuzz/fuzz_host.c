/*
 * antifraud fuzzing - the host of the harnesses.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include <dirent.h>
#include <sys/stat.h>
#include "af_host.h"
#include "fuzz_host.h"

static int verbose = -1;

static void *f_shm_alloc(size_t size)
{
	return malloc(size);
}

static void f_shm_free(void *p)
{
	free(p);
}

static uint64_t f_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int f_log_enabled(int level)
{
	if(verbose < 0)
		verbose = getenv("AF_FUZZ_VERBOSE") != NULL;
	return verbose || level <= AF_L_ERR;
}

/* errors are printed once per format string at most 20 times: a fuzzer
 * produces them by the million */
static void f_vlog(int level, const char *fmt, va_list ap)
{
	static unsigned int printed;

	if(!f_log_enabled(level))
		return;
	if(!verbose && printed++ >= 20)
		return;
	vfprintf(stderr, fmt, ap);
}

static const af_host_t fuzz_host = {
	.shm_alloc = f_shm_alloc,
	.shm_free = f_shm_free,
	.now_ms = f_now_ms,
	.vlog = f_vlog,
	.log_enabled = f_log_enabled,
};

void fuzz_host_init(void)
{
	af_host_set(&fuzz_host);
}

static char dir[PATH_MAX];

/* removes the private directory (flat: harnesses write no subdirectory) */
static void fuzz_dir_rm(void)
{
	char path[PATH_MAX + 256];
	struct dirent *e;
	DIR *d = opendir(dir);

	if(!d)
		return;
	while((e = readdir(d)))
		if(strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

const char *fuzz_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if(dir[0])
		return dir;
	snprintf(dir, sizeof(dir), "%s/af-fuzz-%d", tmp ? tmp : "/tmp",
			(int)getpid());
	mkdir(dir, 0700);
	atexit(fuzz_dir_rm);
	return dir;
}

const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
	static char path[PATH_MAX + 256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
	f = fopen(path, "wb");
	if(!f)
		return NULL;
	if(size && fwrite(data, 1, size, f) != size) {
		fclose(f);
		return NULL;
	}
	if(fclose(f) != 0)
		return NULL;
	return path;
}

int fuzz_copy(const char *src, const char *name)
{
	char buf[65536];
	char path[PATH_MAX + 256];
	FILE *in, *out;
	size_t n;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
	in = fopen(src, "rb");
	if(!in)
		return -1;
	out = fopen(path, "wb");
	if(!out) {
		fclose(in);
		return -1;
	}
	while((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if(fwrite(buf, 1, n, out) != n)
			rc = -1;
	fclose(in);
	if(fclose(out) != 0)
		rc = -1;
	return rc;
}

int fuzz_names_device(const uint8_t *data, size_t size)
{
	static const char *const bad[] = {"/dev", "/proc", "/sys"};
	size_t i, j, l;

	for(i = 0; i < size; i++) {
		if(data[i] != '/')
			continue;
		for(j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			l = strlen(bad[j]);
			if(size - i >= l && memcmp(data + i, bad[j], l) == 0)
				return 1;
		}
	}
	return 0;
}

const char *fuzz_top(void)
{
	static char top[PATH_MAX];
	char exe[PATH_MAX], *p;
	ssize_t n;
	int i;

	if(top[0])
		return top;
	if(getenv("AF_FUZZ_TOP")) {
		snprintf(top, sizeof(top), "%s", getenv("AF_FUZZ_TOP"));
		return top;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if(n <= 0)
		return ".";
	exe[n] = '\0';
	/* <top>/build/fuzz/<name>: three components up */
	for(i = 0; i < 3; i++) {
		p = strrchr(exe, '/');
		if(!p)
			return ".";
		*p = '\0';
	}
	snprintf(top, sizeof(top), "%s", exe);
	return top;
}
