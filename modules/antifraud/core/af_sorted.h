/*
 * antifraud - membership in a sorted array of integers (binary search),
 * one definition for every element type: country and continent codes
 * packed in 16 bits, ASNs and dates in 32.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef AF_SORTED_H
#define AF_SORTED_H

#include <stdint.h>

/* defines name(a, n, x): 1 when x is among the n ascending values of a */
#define AF_SORTED_HAS_FN(name, type)                               \
	static inline int name(const type *a, uint32_t n, type x)      \
	{                                                              \
		uint32_t lo = 0, hi = n, mid;                              \
                                                                   \
		while(lo < hi) {                                           \
			mid = lo + (hi - lo) / 2;                              \
			if(a[mid] == x)                                        \
				return 1;                                          \
			if(a[mid] < x)                                         \
				lo = mid + 1;                                      \
			else                                                   \
				hi = mid;                                          \
		}                                                          \
		return 0;                                                  \
	}

AF_SORTED_HAS_FN(af_sorted_has_u16, uint16_t)
AF_SORTED_HAS_FN(af_sorted_has_u32, uint32_t)

#endif
