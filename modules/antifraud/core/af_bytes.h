/*
 * antifraud - comparing short byte strings (store keys) inline, and
 * FNV-1a, the hash of the small tables that need no resistance to
 * chosen keys.
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

/*
 * The n < 8 bytes at s as the word that copying them into a zeroed
 * uint64_t gives, without the copy: a call to memcpy, and a local whose
 * address escapes (which -fstack-protector guards), for every hash of a
 * short key. On a little-endian machine from two words of four, or the
 * first, middle and last byte, that cover the n bytes.
 */
static inline uint64_t af_bytes_word(const char *s, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const unsigned char *u = (const unsigned char *)s;
	uint32_t lo, hi;

	if(n >= 4) {
		memcpy(&lo, s, 4);
		memcpy(&hi, s + n - 4, 4);
		return lo | (uint64_t)hi << (8 * (n - 4));
	}
	if(n == 0)
		return 0;
	return u[0] | (uint64_t)u[n / 2] << (8 * (n / 2))
		   | (uint64_t)u[n - 1] << (8 * (n - 1));
#else
	uint64_t w = 0;

	memcpy(&w, s, n);
	return w;
#endif
}

#define AF_FNV_BASIS 14695981039346656037ULL

/* FNV-1a of the len bytes at p, going on from h (AF_FNV_BASIS first) */
static inline uint64_t af_fnv1a(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;

	while(len--) {
		h ^= *s++;
		h *= 1099511628211ULL;
	}
	return h;
}

#endif
