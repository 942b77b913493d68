/* SPDX-License-Identifier: MIT */
/* Fake guest memory for the I/O partition's tests: each region sits between PROT_NONE guard
 * pages, so any access outside what the code under test was allowed to touch faults. */
#ifndef TESTS_IO_TESTMEM_H
#define TESTS_IO_TESTMEM_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "../../io/guest_mem.h"

#define TM_GUARD 4096u

/* Adds a region [gpa, gpa + size) (size a multiple of 4096) whose front-end virtual address
 * is uva; returns its host pointer. */
static inline uint8_t *tm_add(struct guest_mem *m, uint64_t gpa, uint64_t uva, uint64_t size)
{
	uint8_t *base =
	    mmap(NULL, size + 2 * TM_GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct gm_region *r = &m->r[m->n++];

	if (base == MAP_FAILED || mprotect(base + TM_GUARD, size, PROT_READ | PROT_WRITE) < 0)
		abort();
	memset(r, 0, sizeof(*r));
	r->gpa = gpa;
	r->uva = uva;
	r->size = size;
	r->host = base + TM_GUARD;
	return r->host;
}

static inline void tm_free(struct guest_mem *m)
{
	for (unsigned i = 0; i < m->n; i++)
		munmap(m->r[i].host - TM_GUARD, m->r[i].size + 2 * TM_GUARD);
	m->n = 0;
}

#endif
