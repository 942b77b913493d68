/* SPDX-License-Identifier: MIT */
/* Tiered page map: tiers, alignment, the pool end, coalescing, claim, and the claim 31/33 names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pagemap_testlib.h"

#define POOL (64 * GiB)
#define CAP 64

static struct uv_pm_extent ext[CAP];
static size_t n_ext;

static void open_map(struct tmap *t, uint64_t pool, size_t size)
{
	assert_int_equal(tmap_open(t, pool, size), 0);
	assert_int_equal(uv_pagemap_check(&t->pm), 0);
}

static void expect_ext(size_t i, uint64_t off, uint64_t size, unsigned tier)
{
	assert_true(i < n_ext);
	assert_int_equal(ext[i].offset, off);
	assert_int_equal(ext[i].size, size);
	assert_int_equal(ext[i].tier, tier);
}

static uint32_t owner_at(struct tmap *t, uint64_t off)
{
	struct uv_pm_block b;

	assert_int_equal(uv_pagemap_lookup(&t->view, off, &b), 0);
	return b.state == UV_PM_OWNED ? b.owner : UV_PM_NONE;
}

static void test_sizing_and_bad_init(void **state)
{
	struct tmap t;
	static uint8_t area[64 * 1024] __attribute__((aligned(4096)));
	struct uv_pagemap pm;

	/* Worst case: one index page per 4 MiB block, per 4 GiB block, plus the root. */
	assert_int_equal(uv_pagemap_ipages_for(POOL), 16384 + 16 + 1);
	assert_true(uv_pagemap_size_for(POOL) >= (16384 + 16 + 1) * 4096ull);
	assert_int_equal(uv_pagemap_size_for(0), 0);
	assert_int_equal(uv_pagemap_size_for(4097), 0);
	assert_int_equal(uv_pagemap_size_for(TiB * 4 + 4096), 0);
	assert_int_equal(uv_pagemap_init(&pm, area, sizeof(area), 12345), -EINVAL);
	assert_int_equal(uv_pagemap_init(&pm, area, sizeof(area), 0), -EINVAL);
	assert_int_equal(uv_pagemap_init(&pm, area + 4, sizeof(area) - 4, POOL), -EINVAL);
	assert_int_equal(uv_pagemap_init(&pm, area, 256, POOL), -EINVAL);
	/* A pool end cut at every level needs three index pages: two are not enough. */
	assert_int_equal(
	    uv_pagemap_init(&pm, area, uv_pagemap_size_with(POOL - 4096, 2), POOL - 4096), -EINVAL);
	open_map(&t, POOL, 0);
	assert_int_equal(uv_pagemap_free_bytes(&t.pm), POOL);
	tmap_close(&t);
}

static void test_tier_4k(void **state)
{
	struct tmap t;

	open_map(&t, POOL, 0);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 7, 4096, ext, CAP, &n_ext), 0);
	assert_int_equal(n_ext, 1);
	expect_ext(0, 0, 4096, 0);
	assert_int_equal(owner_at(&t, 0), 7);
	assert_int_equal(owner_at(&t, 4096), UV_PM_NONE);
	/* The next small request fills the same 4 MiB block instead of splitting another. */
	assert_int_equal(uv_pagemap_alloc(&t.pm, 8, 3 * 4096, ext, CAP, &n_ext), 0);
	expect_ext(0, 4096, 3 * 4096, 0);
	assert_int_equal(uv_pagemap_free_bytes(&t.pm), POOL - 4 * 4096);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static void test_tier_4m_takes_one_entry(void **state)
{
	struct tmap t;
	uint32_t before;

	open_map(&t, POOL, 0);
	before = uv_pagemap_ipages_avail(&t.pm);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 1, 4 * MiB, ext, CAP, &n_ext), 0);
	assert_int_equal(n_ext, 1);
	expect_ext(0, 0, 4 * MiB, 1);
	/* One 4 GiB block split into 4 MiB entries: one index page, not a page of 4 KiB entries. */
	assert_int_equal(uv_pagemap_ipages_avail(&t.pm), before - 1);
	tmap_close(&t);
}

static void test_mixed_6m(void **state)
{
	struct tmap t;

	open_map(&t, POOL, 0);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 1, 6 * MiB, ext, CAP, &n_ext), 0);
	assert_int_equal(n_ext, 2);
	expect_ext(0, 0, 4 * MiB, 1);
	expect_ext(1, 4 * MiB, 2 * MiB, 0);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static void test_tier_4g_and_largest_first(void **state)
{
	struct tmap t;
	uint32_t before;

	open_map(&t, POOL, 0);
	before = uv_pagemap_ipages_avail(&t.pm);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 2, 4 * GiB, ext, CAP, &n_ext), 0);
	assert_int_equal(n_ext, 1);
	expect_ext(0, 0, 4 * GiB, 2);
	assert_int_equal(uv_pagemap_ipages_avail(&t.pm), before);
	/* 8 GiB + 8 MiB + 8 KiB: two 4 GiB, two 4 MiB and two 4 KiB blocks. */
	assert_int_equal(uv_pagemap_alloc(&t.pm, 3, 8 * GiB + 8 * MiB + 8 * KiB, ext, CAP, &n_ext),
	                 0);
	assert_int_equal(n_ext, 3);
	expect_ext(0, 4 * GiB, 8 * GiB, 2);
	expect_ext(1, 12 * GiB, 8 * MiB, 1);
	expect_ext(2, 12 * GiB + 8 * MiB, 8 * KiB, 0);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static void test_tier_4t_whole_pool(void **state)
{
	struct tmap t;

	/* A 4 TiB pool with room for only 8 index pages: one 4 TiB entry needs none. */
	open_map(&t, 4 * TiB, uv_pagemap_size_with(4 * TiB, 8));
	assert_int_equal(uv_pagemap_alloc(&t.pm, 9, 4 * TiB, ext, CAP, &n_ext), 0);
	assert_int_equal(n_ext, 1);
	expect_ext(0, 0, 4 * TiB, 3);
	assert_int_equal(owner_at(&t, 4 * TiB - 4096), 9);
	assert_int_equal(uv_pagemap_free(&t.pm, 9, ext, 1), 0);
	assert_int_equal(t.pm.h->root, UV_PM_E_FREE);
	/* A page then splits 4 TiB -> 4 GiB -> 4 MiB -> 4 KiB: three index pages. */
	assert_int_equal(uv_pagemap_alloc(&t.pm, 9, 4096, ext, CAP, &n_ext), 0);
	assert_int_equal(uv_pagemap_ipages_avail(&t.pm), 5);
	assert_int_equal(uv_pagemap_free(&t.pm, 9, ext, 1), 0);
	assert_int_equal(uv_pagemap_ipages_avail(&t.pm), 8);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static void test_alignment_and_bounds(void **state)
{
	struct tmap t;
	struct uv_pm_extent e = {.offset = 4096, .size = 4096};
	struct uv_pm_block b;

	open_map(&t, POOL, 0);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 1, 0, ext, CAP, &n_ext), -EINVAL);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 1, 4097, ext, CAP, &n_ext), -EINVAL);
	assert_int_equal(uv_pagemap_alloc(&t.pm, UV_PM_OWNER_MAX + 1, 4096, ext, CAP, &n_ext),
	                 -EINVAL);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 1, POOL + 4096, ext, CAP, &n_ext), -ENOMEM);
	e.offset = 100;
	assert_int_equal(uv_pagemap_claim(&t.pm, 1, &e, 1), -EINVAL);
	e.offset = POOL - 4096;
	e.size = 8192;
	assert_int_equal(uv_pagemap_claim(&t.pm, 1, &e, 1), -EINVAL);
	e.offset = UINT64_MAX - 4095;
	e.size = 8192;
	assert_int_equal(uv_pagemap_claim(&t.pm, 1, &e, 1), -EINVAL);
	assert_int_equal(uv_pagemap_lookup(&t.view, POOL, &b), -EINVAL);
	assert_int_equal(uv_pagemap_free_bytes(&t.pm), POOL);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static int sum_free(const struct uv_pm_block *b, void *ctx)
{
	if (b->state == UV_PM_FREE)
		*(uint64_t *)ctx += b->size;
	return 0;
}

static void test_pool_end_not_power_of_two(void **state)
{
	const uint64_t pool = 6 * GiB + 6 * MiB + 8 * KiB;
	struct tmap t;
	uint64_t total = 0, freed = 0;
	size_t i;

	open_map(&t, pool, 0);
	assert_int_equal(uv_pagemap_walk(&t.view, UV_PM_NONE, sum_free, &freed), 0);
	assert_int_equal(freed, pool);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 4, pool, ext, CAP, &n_ext), 0);
	for (i = 0; i < n_ext; i++) {
		assert_true(ext[i].offset + ext[i].size <= pool);
		total += ext[i].size;
	}
	assert_int_equal(total, pool);
	assert_int_equal(owner_at(&t, pool - 4096), 4);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 5, 4096, ext, CAP, &n_ext), -ENOMEM);
	/* Nothing past the end is ever handed out, even when the whole pool is free again. */
	assert_int_equal(uv_pagemap_free_owner(&t.pm, 4), (int64_t)(pool / 4096));
	assert_int_equal(uv_pagemap_alloc(&t.pm, 5, pool + 4096, ext, CAP, &n_ext), -ENOMEM);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static void test_coalescing_returns_index_pages(void **state)
{
	struct tmap t;
	struct uv_pm_extent one[1024];
	uint32_t empty;
	size_t i, n;

	open_map(&t, POOL, 0);
	empty = uv_pagemap_ipages_avail(&t.pm);
	for (i = 0; i < 1024; i++) {
		assert_int_equal(uv_pagemap_alloc(&t.pm, 1 + i % 3, 4096, &one[i], 1, &n), 0);
		assert_int_equal(one[i].offset, i * 4096);
	}
	/* 1024 separate pages fill one 4 MiB block: the next 4 MiB request takes a whole entry. */
	assert_int_equal(uv_pagemap_alloc(&t.pm, 5, 4 * MiB, ext, CAP, &n_ext), 0);
	expect_ext(0, 4 * MiB, 4 * MiB, 1);
	assert_int_equal(uv_pagemap_ipages_avail(&t.pm), empty - 2);
	for (i = 1024; i--;)
		assert_int_equal(uv_pagemap_free(&t.pm, 1 + i % 3, &one[i], 1), 0);
	assert_int_equal(uv_pagemap_free(&t.pm, 5, ext, 1), 0);
	assert_int_equal(uv_pagemap_ipages_avail(&t.pm), empty);
	assert_int_equal(uv_pagemap_free_bytes(&t.pm), POOL);
	assert_int_equal(t.pm.h->free_blocks[2], 16);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static void test_free_part_of_a_block(void **state)
{
	struct tmap t;
	struct uv_pm_extent mid = {.offset = 4 * MiB + 8 * KiB, .size = 4 * KiB};

	open_map(&t, POOL, 0);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 1, 12 * MiB, ext, CAP, &n_ext), 0);
	expect_ext(0, 0, 12 * MiB, 1);
	assert_int_equal(uv_pagemap_free(&t.pm, 1, &mid, 1), 0);
	assert_int_equal(owner_at(&t, mid.offset), UV_PM_NONE);
	assert_int_equal(owner_at(&t, mid.offset - 4096), 1);
	assert_int_equal(owner_at(&t, mid.offset + 4096), 1);
	/* Not the owner, or not owned at all: refused, nothing changes. */
	assert_int_equal(uv_pagemap_free(&t.pm, 2, ext, 1), -EINVAL);
	assert_int_equal(uv_pagemap_free(&t.pm, 1, &mid, 1), -EINVAL);
	assert_int_equal(uv_pagemap_free_bytes(&t.pm), POOL - 12 * MiB + 4096);
	/* Freeing the rest coalesces everything back. */
	assert_int_equal(uv_pagemap_free_owner(&t.pm, 1), 3 * 1024 - 1);
	assert_int_equal(uv_pagemap_free_bytes(&t.pm), POOL);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static void test_claim_exact_and_busy(void **state)
{
	struct tmap t;
	struct uv_pm_extent a[2] = {{.offset = 8 * MiB + 4096, .size = 5 * MiB},
	                            {.offset = 40 * GiB, .size = 4 * GiB + 4096}};
	struct uv_pm_extent overlap[2] = {{.offset = 0, .size = 8192},
	                                  {.offset = 4096, .size = 4096}};
	struct uv_pm_extent busy = {.offset = 12 * MiB, .size = 4096};

	open_map(&t, POOL, 0);
	assert_int_equal(uv_pagemap_claim(&t.pm, 3, a, 2), 0);
	assert_int_equal(owner_at(&t, 8 * MiB), UV_PM_NONE);
	assert_int_equal(owner_at(&t, 8 * MiB + 4096), 3);
	assert_int_equal(owner_at(&t, 13 * MiB), 3);
	assert_int_equal(owner_at(&t, 13 * MiB + 4096), UV_PM_NONE);
	assert_int_equal(owner_at(&t, 44 * GiB), 3);
	assert_int_equal(uv_pagemap_free_bytes(&t.pm), POOL - a[0].size - a[1].size);
	/* Any page taken: -EBUSY and nothing of the request is kept. */
	assert_int_equal(uv_pagemap_claim(&t.pm, 4, &busy, 1), -EBUSY);
	assert_int_equal(uv_pagemap_claim(&t.pm, 4, overlap, 2), -EBUSY);
	assert_int_equal(owner_at(&t, 0), UV_PM_NONE);
	assert_int_equal(uv_pagemap_free_bytes(&t.pm), POOL - a[0].size - a[1].size);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static int same_runs(struct tmap *x, struct tmap *y)
{
	struct runs rx = {0}, ry = {0};
	int same;

	assert_int_equal(uv_pagemap_walk(&x->view, UV_PM_NONE, runs_add, &rx), 0);
	assert_int_equal(uv_pagemap_walk(&y->view, UV_PM_NONE, runs_add, &ry), 0);
	same = rx.n == ry.n && !memcmp(rx.b, ry.b, rx.n * sizeof(*rx.b));
	runs_free(&rx);
	runs_free(&ry);
	return same;
}

static void test_replay_by_alloc_and_by_claim(void **state)
{
	static const uint64_t sizes[] = {6 * MiB, 4096, 4 * GiB + 12 * KiB, 3 * MiB, 4 * MiB};
	struct tmap a, b, c;
	struct uv_pm_extent eb[CAP];
	size_t i, nb;

	open_map(&a, POOL, 0);
	open_map(&b, POOL, 0);
	open_map(&c, POOL, 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(uv_pagemap_alloc(&a.pm, (uint32_t)i, sizes[i], ext, CAP, &n_ext),
		                 0);
		assert_int_equal(uv_pagemap_alloc(&b.pm, (uint32_t)i, sizes[i], eb, CAP, &nb), 0);
		assert_int_equal(nb, n_ext);
		assert_memory_equal(eb, ext, nb * sizeof(*eb));
		assert_int_equal(uv_pagemap_claim(&c.pm, (uint32_t)i, ext, n_ext), 0);
		if (i == 1) {
			assert_int_equal(uv_pagemap_free_owner(&a.pm, 0), 1536);
			assert_int_equal(uv_pagemap_free_owner(&b.pm, 0), 1536);
			assert_int_equal(uv_pagemap_free_owner(&c.pm, 0), 1536);
		}
	}
	assert_true(same_runs(&a, &b));
	assert_true(same_runs(&a, &c));
	tmap_close(&a);
	tmap_close(&b);
	tmap_close(&c);
}

static void test_walk_owner(void **state)
{
	struct tmap t;
	struct runs r = {0};

	open_map(&t, POOL, 0);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 1, 4096, ext, CAP, &n_ext), 0);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 2, 6 * MiB, ext, CAP, &n_ext), 0);
	assert_int_equal(uv_pagemap_walk(&t.view, 2, runs_add, &r), 0);
	/* The walk reports what the allocation returned: one 4 MiB block and 512 pages. */
	assert_int_equal(r.n, 2);
	assert_int_equal(r.b[0].offset, 4096);
	assert_int_equal(r.b[0].size, 2 * MiB);
	assert_int_equal(r.b[0].tier, 0);
	assert_int_equal(r.b[1].offset, 4 * MiB);
	assert_int_equal(r.b[1].size, 4 * MiB);
	assert_int_equal(r.b[1].tier, 1);
	expect_ext(0, 4 * MiB, 4 * MiB, 1);
	expect_ext(1, 4096, 2 * MiB, 0);
	runs_free(&r);
	tmap_close(&t);
}

static void test_extent_array_too_small(void **state)
{
	struct tmap t;

	open_map(&t, POOL, 0);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 1, 6 * MiB, ext, 1, &n_ext), -ENOBUFS);
	assert_int_equal(uv_pagemap_free_bytes(&t.pm), POOL);
	assert_int_equal(owner_at(&t, 0), UV_PM_NONE);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static void test_index_pages_run_out(void **state)
{
	struct tmap t;
	struct uv_pm_extent far = {.offset = 8 * GiB + 4096, .size = 4096};

	/* Root, one 4 MiB-level page and one page-level page: no more. */
	open_map(&t, POOL, uv_pagemap_size_with(POOL, 3));
	assert_int_equal(uv_pagemap_alloc(&t.pm, 1, 4096, ext, CAP, &n_ext), 0);
	assert_int_equal(uv_pagemap_ipages_avail(&t.pm), 0);
	assert_int_equal(uv_pagemap_claim(&t.pm, 2, &far, 1), -ENOMEM);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 2, 4 * MiB, ext, CAP, &n_ext), 0);
	assert_int_equal(uv_pagemap_alloc(&t.pm, 2, 4 * GiB, ext, CAP, &n_ext), 0);
	/* 1022 free 4 MiB entries are left; the last 4 MiB would split a 4 GiB block: refused. */
	assert_int_equal(uv_pagemap_alloc(&t.pm, 3, 4 * MiB * 1023, ext, CAP, &n_ext), -ENOMEM);
	assert_int_equal(owner_at(&t, 8 * GiB), UV_PM_NONE);
	assert_int_equal(uv_pagemap_check(&t.pm), 0);
	tmap_close(&t);
}

static void test_reader_refuses_corruption(void **state)
{
	struct tmap t;
	struct uv_pm_block b;
	struct runs r = {0};
	uint32_t *root_page;
	size_t i;

	open_map(&t, POOL, 0);
	root_page = (uint32_t *)((uint8_t *)t.area + t.pm.h->ipage_off +
	                         (uint64_t)(t.pm.h->root & UV_PM_E_VALUE) * 4096);
	root_page[0] = UV_PM_E_SUB | 0x3FFFFFFF; /* index page far outside the area */
	assert_int_equal(uv_pagemap_lookup(&t.view, 0, &b), -EUCLEAN);
	root_page[0] = UV_PM_E_FREE;
	root_page[20] = UV_PM_E_OWNED | 1; /* a block past the pool end claims to be owned */
	assert_int_equal(uv_pagemap_walk(&t.view, UV_PM_NONE, runs_add, &r), 0);
	for (i = 0; i < r.n; i++)
		assert_true(r.b[i].offset + r.b[i].size <= POOL);
	runs_free(&r);
	root_page[15] = UV_PM_E_UNAVAIL; /* unavailable inside the pool */
	assert_int_equal(uv_pagemap_lookup(&t.view, 15 * 4 * GiB, &b), -EUCLEAN);
	t.pm.h->magic = 0;
	assert_int_equal(uv_pagemap_view_attach(&t.view, t.area, t.size), -EUCLEAN);
	tmap_close(&t);
}

static void test_claim31_33_names(void **state)
{
	uint64_t off;
	uint32_t ix;
	unsigned tier;

	assert_int_equal(uv_desc_offset(1, 2, 3, 8, &off), 0);
	assert_int_equal(off, ((1ull * 1024 + 2) * 1024 + 3) * 1024 * 8);
	assert_int_equal(uv_desc_offset(0, 0, 1, 1, &off), 0);
	assert_int_equal(off, 1024);
	assert_int_equal(uv_desc_offset(1, 2, 3, 6, &off), -EINVAL);
	assert_int_equal(uv_desc_offset(1, 2, 3, 0, &off), -EINVAL);
	assert_int_equal(uv_desc_offset(1024, 0, 0, 8, &off), -EINVAL);
	assert_int_equal(uv_desc_offset(1, 1, 1, 1ull << 40, &off), -EINVAL);
	assert_int_equal(uv_desc_offset_of((1u << 20) | (2u << 10) | 3u, 8, &off), 0);
	assert_int_equal(off, ((1ull * 1024 + 2) * 1024 + 3) * 1024 * 8);

	assert_int_equal(uv_pm_index_encode(5 * GiB * 4 + 7 * MiB * 4 + 9 * 4096, 0, &ix), 0);
	assert_int_equal(ix, 0xC0000000u | (5u << 20) | (7u << 10) | 9u);
	assert_int_equal(uv_pm_index_decode(ix, &off, &tier), 0);
	assert_int_equal(off, 5 * GiB * 4 + 7 * MiB * 4 + 9 * 4096);
	assert_int_equal(tier, 0);
	assert_int_equal(uv_pm_index_encode(12 * MiB, 1, &ix), 0);
	assert_int_equal(ix, 0x80000000u | (3u << 10));
	assert_int_equal(uv_pm_index_encode(8 * GiB, 2, &ix), 0);
	assert_int_equal(ix, 2u << 20);
	assert_int_equal(uv_pm_index_encode(0, 3, &ix), 0);
	assert_int_equal(ix, 0x40000000u);
	assert_int_equal(uv_pm_index_decode(ix, &off, &tier), 0);
	assert_int_equal(tier, 3);
	assert_int_equal(uv_pm_index_encode(4096, 1, &ix), -EINVAL);
	assert_int_equal(uv_pm_index_encode(4 * TiB, 0, &ix), -EINVAL);
	/* A 4 MiB name with a page field set would alias a page: refused. */
	assert_int_equal(uv_pm_index_decode(0x80000001u, &off, &tier), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizing_and_bad_init),
	    cmocka_unit_test(test_tier_4k),
	    cmocka_unit_test(test_tier_4m_takes_one_entry),
	    cmocka_unit_test(test_mixed_6m),
	    cmocka_unit_test(test_tier_4g_and_largest_first),
	    cmocka_unit_test(test_tier_4t_whole_pool),
	    cmocka_unit_test(test_alignment_and_bounds),
	    cmocka_unit_test(test_pool_end_not_power_of_two),
	    cmocka_unit_test(test_coalescing_returns_index_pages),
	    cmocka_unit_test(test_free_part_of_a_block),
	    cmocka_unit_test(test_claim_exact_and_busy),
	    cmocka_unit_test(test_replay_by_alloc_and_by_claim),
	    cmocka_unit_test(test_walk_owner),
	    cmocka_unit_test(test_extent_array_too_small),
	    cmocka_unit_test(test_index_pages_run_out),
	    cmocka_unit_test(test_reader_refuses_corruption),
	    cmocka_unit_test(test_claim31_33_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
