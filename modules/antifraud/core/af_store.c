/*
 * antifraud - what the store's interface (af_store.h) owns beside the
 * backends: the names of its results.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "af_store.h"

/* A sentence for rc, a result of af_store_exec. */
const char *af_store_strerror(int rc)
{
	switch(rc) {
		case AF_STORE_OK:
			return "done";
		case AF_STORE_FAILED:
			return "an operation failed";
		case AF_STORE_UNAVAILABLE:
			return "the store could not be reached in time";
	}
	return "unknown result";
}
