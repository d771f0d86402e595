/*
 * antifraud fuzzing - the host of the harnesses: malloc for shared
 * memory, the real clock, errors only to stderr (AF_FUZZ_VERBOSE=1 for
 * every level), and input bytes written to files for the file loaders.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_FUZZ_HOST_H
#define AF_FUZZ_HOST_H

#include <stddef.h>
#include <stdint.h>

/* installs the host (idempotent); call from LLVMFuzzerInitialize */
void fuzz_host_init(void);

/*
 * The private directory of this process (created on first use, removed
 * at exit), where harnesses write the files they load.
 */
const char *fuzz_dir(void);

/*
 * Writes data[0..size) to name in fuzz_dir(); returns the path (static
 * buffer, valid until the next call), NULL on error.
 */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);

/* copies the file at src into fuzz_dir() as name; 0, -1 on error */
int fuzz_copy(const char *src, const char *name);

/*
 * 1 when data[0..size) names a place a loader must not be sent to by a
 * fuzzed file: device and kernel files (/dev, /proc, /sys), which would
 * make a loader read without end (issue 18 defect 2 is tested on its
 * own, not here).
 */
int fuzz_names_device(const uint8_t *data, size_t size);

/* the repository's root (AF_FUZZ_TOP, else found from the binary's
 * path build/fuzz/NAME) */
const char *fuzz_top(void);

#endif
