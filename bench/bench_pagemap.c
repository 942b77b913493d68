/* SPDX-License-Identifier: MIT */
/*
 * Page-map allocation and free latency per tier (claims 30-33), beside a first-fit bitmap over
 * 4 KiB pages, the allocator an engineer would otherwise write, measured in the same run on the
 * same 64 GiB pool (metadata only: no guest memory is touched). Both pools first get the same
 * fragmenting mix of allocations, every other one then freed; every case is alloc + free
 * repeated so each repetition starts from the same state.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pagemap.h"
#include "bench_util.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define POOL (64 * GIB)
#define PAGES (POOL / 4096)
#define CAP 4096
#define BG_OPS 6000

/* ---- The peer: first-fit bitmap, one bit per 4 KiB page, word-at-a-time scanning. ---- */

struct bitmap {
	uint64_t *w;
	uint64_t nwords;
};

static void bm_set(struct bitmap *b, uint64_t p, uint64_t n, int on)
{
	uint64_t i = p / 64, bit = p % 64, take, mask;

	while (n) {
		take = 64 - bit < n ? 64 - bit : n;
		mask = take == 64 ? ~0ull : ((1ull << take) - 1) << bit;
		b->w[i] = on ? b->w[i] | mask : b->w[i] & ~mask;
		n -= take;
		i++;
		bit = 0;
	}
}

/* First fit: the lowest free pages, as runs, until n pages are found. */
static int bm_alloc(struct bitmap *b, uint64_t n, struct uv_pm_extent *ext, size_t cap,
                    size_t *n_ext)
{
	uint64_t i, p, run, w;
	size_t k = 0;

	for (i = 0; i < b->nwords && n; i++) {
		while ((w = ~b->w[i]) != 0 && n) {
			p = i * 64 + (uint64_t)__builtin_ctzll(w);
			/* Extend the run across whole free words quickly. */
			for (run = 0; n > run && p + run < PAGES &&
			              !(b->w[(p + run) / 64] >> ((p + run) % 64) & 1);) {
				if ((p + run) % 64 == 0 && !b->w[(p + run) / 64] && n - run >= 64)
					run += 64;
				else
					run++;
			}
			if (k == cap)
				return -ENOBUFS;
			bm_set(b, p, run, 1);
			ext[k++] = (struct uv_pm_extent){.offset = p * 4096, .size = run * 4096};
			n -= run;
			i = (p + run) / 64;
			if (i >= b->nwords)
				break;
		}
	}
	if (n) {
		while (k--)
			bm_set(b, ext[k].offset / 4096, ext[k].size / 4096, 0);
		return -ENOMEM;
	}
	*n_ext = k;
	return 0;
}

static void bm_free(struct bitmap *b, const struct uv_pm_extent *ext, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		bm_set(b, ext[i].offset / 4096, ext[i].size / 4096, 0);
}

/* ---- Harness. ---- */

struct held {
	struct uv_pm_extent *ext;
	size_t n;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, unsigned p)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[(n - 1) * p / 100];
}

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t bg_size(void)
{
	switch (rnd() % 4) {
	case 0:
		return (1 + rnd() % 64) * 4096;
	case 1:
		return (1 + rnd() % 512) * 4096;
	case 2:
		return (1 + rnd() % 4) * 4 * MIB;
	default:
		return (1 + rnd() % 3) * 4 * MIB + (1 + rnd() % 256) * 4096;
	}
}

static struct uv_pm_extent *copy_ext(const struct uv_pm_extent *e, size_t n)
{
	struct uv_pm_extent *c = malloc(n * sizeof(*c));

	if (c)
		memcpy(c, e, n * sizeof(*c));
	return c;
}

/* Fills both pools to about half with the same sequence, then frees every other allocation so
 * free space is scattered. */
static int background(struct uv_pagemap *pm, struct bitmap *bm, struct held *hp, struct held *hb)
{
	static struct uv_pm_extent e[CAP];
	uint64_t used = 0, size;
	size_t i, n;

	for (i = 0; i < BG_OPS && used < POOL / 2; i++) {
		size = bg_size();
		if (uv_pagemap_alloc(pm, (uint32_t)(i % 16), size, e, CAP, &n))
			return -1;
		hp[i] = (struct held){copy_ext(e, n), n};
		if (bm_alloc(bm, size / 4096, e, CAP, &n))
			return -1;
		hb[i] = (struct held){copy_ext(e, n), n};
		used += size;
	}
	for (i = 0; i < BG_OPS; i += 2) {
		if (hp[i].ext && uv_pagemap_free(pm, (uint32_t)(i % 16), hp[i].ext, hp[i].n))
			return -1;
		if (hb[i].ext)
			bm_free(bm, hb[i].ext, hb[i].n);
	}
	return 0;
}

struct lat {
	uint64_t a50, a99, f50, f99;
	size_t n_ext; /* extents one allocation returned */
};

static int measure_ours(struct uv_pagemap *pm, uint64_t bytes, size_t reps, struct lat *l)
{
	static struct uv_pm_extent e[CAP];
	uint64_t *ta = malloc(reps * 8), *tf = malloc(reps * 8), t0, t1, t2;
	size_t i, n = 0;
	int r = -1;

	if (!ta || !tf)
		goto out;
	for (i = 0; i < reps; i++) {
		t0 = bench_now_ns();
		if (uv_pagemap_alloc(pm, 99, bytes, e, CAP, &n))
			goto out;
		t1 = bench_now_ns();
		if (uv_pagemap_free(pm, 99, e, n))
			goto out;
		t2 = bench_now_ns();
		ta[i] = t1 - t0;
		tf[i] = t2 - t1;
	}
	*l = (struct lat){pct(ta, reps, 50), pct(ta, reps, 99), pct(tf, reps, 50),
	                  pct(tf, reps, 99), n};
	r = 0;
out:
	free(ta);
	free(tf);
	return r;
}

static int measure_bitmap(struct bitmap *bm, uint64_t bytes, size_t reps, struct lat *l)
{
	static struct uv_pm_extent e[CAP];
	uint64_t *ta = malloc(reps * 8), *tf = malloc(reps * 8), t0, t1, t2;
	size_t i, n = 0;
	int r = -1;

	if (!ta || !tf)
		goto out;
	for (i = 0; i < reps; i++) {
		t0 = bench_now_ns();
		if (bm_alloc(bm, bytes / 4096, e, CAP, &n))
			goto out;
		t1 = bench_now_ns();
		bm_free(bm, e, n);
		t2 = bench_now_ns();
		ta[i] = t1 - t0;
		tf[i] = t2 - t1;
	}
	*l = (struct lat){pct(ta, reps, 50), pct(ta, reps, 99), pct(tf, reps, 50),
	                  pct(tf, reps, 99), n};
	r = 0;
out:
	free(ta);
	free(tf);
	return r;
}

static void us(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%.2f", (double)ns / 1000.0);
}

static void row(const char *name, const struct lat *o, const struct lat *b)
{
	char v[8][16];

	us(v[0], 16, o->a50);
	us(v[1], 16, o->a99);
	us(v[2], 16, b->a50);
	us(v[3], 16, b->a99);
	us(v[4], 16, o->f50);
	us(v[5], 16, o->f99);
	us(v[6], 16, b->f50);
	us(v[7], 16, b->f99);
	printf("| %-7s | %8s / %8s | %9s / %9s | %8s / %8s | %8s / %8s | %6.1fx | %5zu / %5zu |\n",
	       name, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
	       (double)(b->a50 + b->f50) / (double)(o->a50 + o->f50), o->n_ext, b->n_ext);
}

int main(void)
{
	static const struct {
		const char *name;
		uint64_t bytes;
		size_t reps;
	} cases[] = {
	    {"4 KiB", 4096, 20000},
	    {"4 MiB", 4 * MIB, 5000},
	    {"6 MiB", 6 * MIB, 5000},
	    {"4 GiB", 4 * GIB, 200},
	};
	struct held *hp = calloc(BG_OPS, sizeof(*hp)), *hb = calloc(BG_OPS, sizeof(*hb));
	struct bitmap bm = {.nwords = PAGES / 64};
	size_t area_size = uv_pagemap_size_for(POOL), i;
	struct uv_pagemap pm;
	struct lat o, b;
	void *area = aligned_alloc(4096, area_size);

	bm.w = calloc(bm.nwords, 8);
	if (!hp || !hb || !area || !bm.w || uv_pagemap_init(&pm, area, area_size, POOL) ||
	    background(&pm, &bm, hp, hb)) {
		fprintf(stderr, "bench_pagemap: set-up failed\n");
		return 1;
	}
	printf("pool 64 GiB: %d mixed allocations (4 KiB .. 16 MiB), then every other one freed; "
	       "%.1f GiB free\n",
	       BG_OPS, (double)uv_pagemap_free_bytes(&pm) / GIB);
	printf("metadata: page map %u index pages in use (%.1f MiB of a %.1f MiB worst-case area); "
	       "bitmap %.1f MiB\n\n",
	       pm.h->ipages_live, pm.h->ipages_live * 4096.0 / MIB, area_size / (double)MIB,
	       bm.nwords * 8.0 / MIB);
	printf("latency in us, p50 / p99\n\n");
	printf("| request | page map alloc      | bitmap alloc          | page map free       |"
	       " bitmap free         | bitmap / ours (p50 alloc+free) | extents ours / bitmap |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (measure_ours(&pm, cases[i].bytes, cases[i].reps, &o) ||
		    measure_bitmap(&bm, cases[i].bytes, cases[i].reps, &b)) {
			fprintf(stderr, "bench_pagemap: %s failed\n", cases[i].name);
			return 1;
		}
		row(cases[i].name, &o, &b);
	}
	for (i = 0; i < BG_OPS; i++) {
		free(hp[i].ext);
		free(hb[i].ext);
	}
	free(hp);
	free(hb);
	free(bm.w);
	free(area);
	return 0;
}
