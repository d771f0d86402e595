/*
 * antifraud - comparing short byte strings (store keys) inline.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_BYTES_H
#define AF_BYTES_H

#include <stdint.h>
#include <string.h>

/*
 * Whether the n bytes at a and b are the same: eight at a time, the last
 * eight read at their end; fewer than eight as two words of four that
 * cover them, or their first, middle and last byte (1 to 3). Without a
 * call, for the keys of a chain walk, which match (their hashes did).
 */
static inline int af_bytes_eq(const char *a, const char *b, size_t n)
{
	uint64_t x, y;
	uint32_t x4, y4, z4, w4;
	size_t i;

	if(n < 8) {
		if(n >= 4) {
			memcpy(&x4, a, 4);
			memcpy(&y4, b, 4);
			memcpy(&z4, a + n - 4, 4);
			memcpy(&w4, b + n - 4, 4);
			return x4 == y4 && z4 == w4;
		}
		return n == 0
			   || (a[0] == b[0] && a[n / 2] == b[n / 2]
					   && a[n - 1] == b[n - 1]);
	}
	for(i = 0; i + 8 < n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if(x != y)
			return 0;
	}
	memcpy(&x, a + n - 8, 8);
	memcpy(&y, b + n - 8, 8);
	return x == y;
}

#endif
