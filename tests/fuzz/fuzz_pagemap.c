/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the page map. The first byte picks a mode:
 *   0: the rest is an operation sequence (alloc / claim / free / free-by-owner) on a small map
 *      with a small index-page budget; after every operation the map must pass its consistency
 *      check, and once emptied every index page must be back on the free list.
 *   1: a valid map is built, then the input overwrites bytes of its area; the read-only view
 *      must attach or refuse, and lookups and walks must stay inside the area (ASan checks).
 *   2: the input itself is the area.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pagemap.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define CAP 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int count_cb(const struct uv_pm_block *b, void *ctx)
{
	uint64_t *n = ctx;

	if (b->size == 0 || b->offset + b->size < b->offset)
		abort();
	*n += b->size;
	return 0;
}

/* Everything a monitor might do with an untrusted area; only memory safety is asserted. */
static void read_all(const void *area, size_t size)
{
	struct uv_pagemap_view v;
	struct uv_pm_block b;
	uint64_t n = 0, off;
	int i;

	if (uv_pagemap_view_attach(&v, area, size) < 0)
		return;
	for (i = 0; i < 64; i++) {
		off = (v.pool_bytes / 64) * (uint64_t)i;
		if (uv_pagemap_lookup(&v, off, &b) == 0 &&
		    !(b.offset <= off && off - b.offset < b.size))
			abort();
	}
	uv_pagemap_walk(&v, UV_PM_NONE, count_cb, &n);
	uv_pagemap_walk(&v, 1, count_cb, &n);
}

static void must_be_sane(const struct uv_pagemap *pm)
{
	if (uv_pagemap_check(pm) != 0)
		abort();
}

static void one_op(struct uv_pagemap *pm, const uint8_t *p, uint64_t pool)
{
	struct uv_pm_extent ext[CAP], e;
	uint32_t owner = p[0] >> 4 & 3, a = rd32(p + 1);
	size_t n;

	e.offset = (uint64_t)(a % (pool / 4096)) * 4096;
	e.size = (uint64_t)(1 + (p[5] | (p[6] & 0x0f) << 8)) * 4096 << (p[6] >> 4 & 3) * 4;
	e.tier = 0;
	switch (p[0] & 3) {
	case 0:
		uv_pagemap_alloc(pm, owner, e.size, ext, 1 + p[7] % CAP, &n);
		break;
	case 1:
		uv_pagemap_claim(pm, owner, &e, 1);
		break;
	case 2:
		uv_pagemap_free(pm, owner, &e, 1);
		break;
	default:
		uv_pagemap_free_owner(pm, owner);
		break;
	}
}

static void ops_mode(const uint8_t *data, size_t size)
{
	struct uv_pagemap pm;
	uint64_t pool;
	uint32_t owner, budget;
	size_t area_size, i;
	void *area;
	uint32_t live_empty;

	if (size < 3)
		return;
	/* Up to ~16 GiB, cut at odd places, with 3..34 index pages. */
	pool = (uint64_t)(1 + (data[0] | data[1] << 8)) * 64 * 4096 * (1 + (data[2] & 3));
	budget = 3 + (data[2] >> 2 & 31);
	area_size = uv_pagemap_size_with(pool, budget);
	area = aligned_alloc(4096, (area_size + 4095) & ~(size_t)4095);
	if (!area)
		return;
	if (uv_pagemap_init(&pm, area, area_size, pool) < 0)
		goto out;
	live_empty = pm.h->ipages_live;
	for (i = 3; i + 8 <= size; i += 8) {
		one_op(&pm, data + i, pool);
		must_be_sane(&pm);
	}
	for (owner = 0; owner < 4; owner++)
		uv_pagemap_free_owner(&pm, owner);
	must_be_sane(&pm);
	if (pm.h->ipages_live != live_empty || uv_pagemap_free_bytes(&pm) != pool)
		abort();
	read_all(area, area_size);
out:
	free(area);
}

static void corrupt_mode(const uint8_t *data, size_t size)
{
	const uint64_t pool = 64 * GIB - 4 * MIB - 8192;
	struct uv_pm_extent ext[CAP];
	struct uv_pagemap pm;
	size_t area_size = uv_pagemap_size_with(pool, 24), i, n;
	uint8_t *area = malloc(area_size);

	if (!area)
		return;
	if (uv_pagemap_init(&pm, area, area_size, pool) < 0)
		abort();
	uv_pagemap_alloc(&pm, 1, 6 * MIB, ext, CAP, &n);
	uv_pagemap_alloc(&pm, 2, 4 * GIB + 8192, ext, CAP, &n);
	for (i = 0; i + 5 <= size; i += 5)
		area[rd32(data + i) % area_size] = data[i + 4];
	read_all(area, area_size);
	free(area);
}

static void raw_mode(const uint8_t *data, size_t size)
{
	void *area = aligned_alloc(8, (size + 7) & ~(size_t)7);

	if (!area)
		return;
	memcpy(area, data, size);
	read_all(area, size);
	free(area);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		ops_mode(data + 1, size - 1);
		break;
	case 1:
		corrupt_mode(data + 1, size - 1);
		break;
	default:
		raw_mode(data + 1, size - 1);
		break;
	}
	return 0;
}
