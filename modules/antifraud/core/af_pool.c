/*
 * antifraud - freed shared-memory blocks of one size, kept for reuse.
 *
 * Copyright (C) 2026 antifraud authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "af_pool.h"
#include "af_host.h"
#include "af_lock.h"

struct af_pool {
	af_lock_t lock;
	void *head; /* kept blocks, linked through their first word */
	unsigned int n;
	unsigned int keep;
	size_t size;
};

af_pool_t *af_pool_create(size_t size, unsigned int keep)
{
	af_pool_t *p = af_host->shm_alloc(sizeof(*p));

	if(!p)
		return NULL;
	if(af_lock_init(&p->lock) < 0) {
		af_host->shm_free(p);
		return NULL;
	}
	p->head = NULL;
	p->n = 0;
	p->keep = keep;
	p->size = size < sizeof(void *) ? sizeof(void *) : size;
	return p;
}

void *af_pool_get(af_pool_t *p, size_t size)
{
	void *b = NULL;

	if(!p)
		return af_host->shm_alloc(size);
	af_lock(&p->lock);
	if(p->head) {
		b = p->head;
		p->head = *(void **)b;
		p->n--;
	}
	af_unlock(&p->lock);
	return b ? b : af_host->shm_alloc(p->size);
}

void af_pool_put(af_pool_t *p, void *b)
{
	if(!b)
		return;
	if(p) {
		af_lock(&p->lock);
		if(p->n < p->keep) {
			*(void **)b = p->head;
			p->head = b;
			p->n++;
			b = NULL;
		}
		af_unlock(&p->lock);
	}
	if(b)
		af_host->shm_free(b);
}

void af_pool_destroy(af_pool_t *p)
{
	void *b;

	if(!p)
		return;
	while((b = p->head)) {
		p->head = *(void **)b;
		af_host->shm_free(b);
	}
	af_lock_destroy(&p->lock);
	af_host->shm_free(p);
}
