/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the page-map unit tests: maps over heap areas and ownership dumps. */
#ifndef ULTRA_TEST_PAGEMAP_TESTLIB_H
#define ULTRA_TEST_PAGEMAP_TESTLIB_H

#include <stdlib.h>
#include <string.h>

#include "pagemap.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define TiB (1ull << 40)

struct tmap {
	struct uv_pagemap pm;
	struct uv_pagemap_view view;
	void *area;
	size_t size;
};

/* A map over a fresh heap area of exactly `size` bytes (0: the worst-case size). */
static inline int tmap_open(struct tmap *t, uint64_t pool, size_t size)
{
	int r;

	t->size = size ? size : uv_pagemap_size_for(pool);
	t->area = aligned_alloc(4096, (t->size + 4095) & ~(size_t)4095);
	if (!t->area)
		return -1;
	r = uv_pagemap_init(&t->pm, t->area, t->size, pool);
	if (r == 0)
		r = uv_pagemap_view_attach(&t->view, t->area, t->size);
	if (r != 0) {
		free(t->area);
		t->area = NULL;
	}
	return r;
}

static inline void tmap_close(struct tmap *t)
{
	free(t->area);
	t->area = NULL;
}

/* Walk callback that appends every reported run to a growing array. */
struct runs {
	struct uv_pm_block *b;
	size_t n, cap;
};

static inline int runs_add(const struct uv_pm_block *b, void *ctx)
{
	struct runs *r = ctx;
	struct uv_pm_block *nb;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		nb = realloc(r->b, r->cap * sizeof(*nb));
		if (!nb)
			return -1;
		r->b = nb;
	}
	r->b[r->n++] = *b;
	return 0;
}

static inline void runs_free(struct runs *r)
{
	free(r->b);
	memset(r, 0, sizeof(*r));
}

#endif
