/* SPDX-License-Identifier: MIT */
/*
 * Tiered page map (claims 29-33): which partition owns each block of the host's partitionable
 * memory pool. The ultravisor is the only writer (struct uv_pagemap); monitors map the same area
 * read-only and read it through a validated view (struct uv_pagemap_view) that bounds every index
 * it follows. Layout and entry bits: include/ultra/pagemap.h and docs/pagemap.md.
 *
 * Errors: -EINVAL bad size, alignment, owner or range; -ENOMEM no space (pool or index pages);
 * -EBUSY part of a claimed range is taken; -ENOBUFS the caller's extent array is too small;
 * -EUCLEAN a read-only view found a corrupt map; -EAGAIN the writer kept changing the map.
 * Every mutating call either succeeds or leaves the ownership of every page as it was.
 */
#ifndef ULTRA_LIB_PAGEMAP_H
#define ULTRA_LIB_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>
#include <ultra/pagemap.h>

/* Writer handle; lives in the writer's private memory, points at the shared area. */
struct uv_pagemap {
	uint8_t *base;
	struct uv_pagemap_hdr *h;
};

/* Read-only view; geometry copied and checked once at attach, never re-read from the area. */
struct uv_pagemap_view {
	const uint8_t *base;
	size_t area_size;
	uint64_t pool_bytes;
	uint32_t n_ipages;
	uint64_t meta_off;
	uint64_t ipage_off;
};

/* What a lookup or a walk reports about one block. */
enum uv_pm_state {
	UV_PM_FREE = 0,
	UV_PM_OWNED = 1,
	UV_PM_UNAVAIL = 2,
};

struct uv_pm_block {
	uint64_t offset;
	uint64_t size;
	uint32_t tier;
	uint32_t state; /* enum uv_pm_state */
	uint32_t owner; /* when state is UV_PM_OWNED */
};

/* --- Claim 31 and 33: descriptor placement and block names. --- */

/* Mem(G,M,K) = ((G*2^10 + M)*2^10 + K) * 2^10 * wordsize. -EINVAL unless G, M, K < 2^10 and
 * wordsize is a power of two small enough that the result fits in 64 bits. */
int uv_desc_offset(uint32_t g, uint32_t m, uint32_t k, uint64_t wordsize, uint64_t *off);
/* The same for a 30-bit partition number P = (G,M,K) as stored in an owned entry. */
int uv_desc_offset_of(uint32_t partition, uint64_t wordsize, uint64_t *off);

/* Block index of a tier-aligned block below 4 TiB; -EINVAL if misaligned or out of range. */
int uv_pm_index_encode(uint64_t offset, unsigned tier, uint32_t *index);
/* Inverse of encode: offset and tier of the block a 32-bit index names. */
int uv_pm_index_decode(uint32_t index, uint64_t *offset, unsigned *tier);

/* --- Sizing and set-up. --- */

/* Index pages needed in the worst case (every 4 MiB block sub-allocated). */
uint32_t uv_pagemap_ipages_for(uint64_t pool_bytes);
/* Area bytes for n index pages; 0 if pool_bytes is invalid. */
size_t uv_pagemap_size_with(uint64_t pool_bytes, uint32_t n_ipages);
/* Area bytes that guarantee allocation never fails for lack of index pages. */
size_t uv_pagemap_size_for(uint64_t pool_bytes);

/* Lays out an empty map over area (every pool page free, blocks past the pool end unavailable).
 * A smaller area than uv_pagemap_size_for() gets fewer index pages; alloc and claim then report
 * -ENOMEM when they run out. Touches only the header and the few pages at the pool end. */
int uv_pagemap_init(struct uv_pagemap *pm, void *area, size_t area_size, uint64_t pool_bytes);

/* --- Writer operations. --- */

/* Allocates bytes (a multiple of 4 KiB) for owner, largest tier first, lowest address first; the
 * result depends only on who owns which page, so replaying the same operations reproduces it.
 * Writes up to cap extents (largest tier first, address order within a tier) and their number
 * to *n_ext. On failure *n_ext is untouched and ext[] holds scratch (it is the undo list). */
int uv_pagemap_alloc(struct uv_pagemap *pm, uint32_t owner, uint64_t bytes,
                     struct uv_pm_extent *ext, size_t cap, size_t *n_ext);
/* Takes exactly these page-aligned ranges for owner, or none of them: -EBUSY if any page is
 * not free (including overlaps within the list). Used when the audit log replays a grant. */
int uv_pagemap_claim(struct uv_pagemap *pm, uint32_t owner, const struct uv_pm_extent *ext,
                     size_t n);
/* Frees these ranges, every page of which must be owned by owner (-EINVAL otherwise, nothing
 * freed). Free blocks coalesce and emptied index pages return to the free list. */
int uv_pagemap_free(struct uv_pagemap *pm, uint32_t owner, const struct uv_pm_extent *ext,
                    size_t n);
/* Frees every block of owner; returns the number of 4 KiB pages freed. */
int64_t uv_pagemap_free_owner(struct uv_pagemap *pm, uint32_t owner);

uint64_t uv_pagemap_free_bytes(const struct uv_pagemap *pm);
/* Index pages still available to sub-allocate blocks. */
uint32_t uv_pagemap_ipages_avail(const struct uv_pagemap *pm);
/* Full consistency check of the writer's map (counts, links, free list, canonical coalescing).
 * 0 or -EUCLEAN. For tests and fuzzing; O(index pages in use). */
int uv_pagemap_check(const struct uv_pagemap *pm);

/* --- Read-only access (monitors; also usable by the writer on its own area). --- */

int uv_pagemap_view_attach(struct uv_pagemap_view *v, const void *area, size_t area_size);
/* Sequence helpers for a reader racing the writer: begin, read, retry if changed. */
uint32_t uv_pagemap_read_begin(const struct uv_pagemap_view *v);
int uv_pagemap_read_changed(const struct uv_pagemap_view *v, uint32_t seq);
/* Free bytes in the pool as the writer counts them (never more than the pool). Retries
 * internally; -EAGAIN if the writer kept changing the map. */
int uv_pagemap_view_free(const struct uv_pagemap_view *v, uint64_t *bytes);
/* The block holding pool offset off: who owns it, its tier and extent. Retries internally. */
int uv_pagemap_lookup(const struct uv_pagemap_view *v, uint64_t off, struct uv_pm_block *out);

/* Calls cb for every leaf block in address order (owner == UV_PM_NONE) or only for blocks owned
 * by owner. A non-zero return from cb stops the walk and is returned. One pass, no retry: use the
 * sequence helpers around it when the writer may run concurrently. */
typedef int (*uv_pm_walk_cb)(const struct uv_pm_block *b, void *ctx);
int uv_pagemap_walk(const struct uv_pagemap_view *v, uint32_t owner, uv_pm_walk_cb cb, void *ctx);

#endif
