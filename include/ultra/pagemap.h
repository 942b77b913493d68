/* SPDX-License-Identifier: MIT */
/*
 * Tiered page map of the resource database (claims 29-33).
 *
 * The map lives inside the resource database, a shared-memory region that the ultravisor writes
 * and every monitor maps read-only, so everything here is position independent (offsets and index
 * page numbers, never pointers), fixed-width little-endian, and asserted below.
 *
 * Tiers (scale 2^10, claim 30): 0 = 4 KiB page, 1 = 4 MiB, 2 = 4 GiB, 3 = 4 TiB. One 4 TiB block
 * covers the whole pool; its entry is the root entry in the header. An index page of level L
 * (L = 1..3) subdivides one tier-L block into 1024 entries of tier L-1 (claim 30).
 *
 * An ENTRY (32 bits, one per block, in an index page or the root):
 *   bit 31 30  29..0
 *        0  0  0           free
 *        0  1  P           owned by partition P; P = (G,M,K) partition number, descriptor at
 *                          uv_desc_offset(G,M,K,wordsize) (claims 31, 33)
 *        1  0  N           sub-allocated in smaller pages: N is the index page of the next lower
 *                          level that holds its 1024 sub-blocks (claim 33, "first bit")
 *        1  1  all ones    unavailable: lies beyond the end of the pool, never allocated
 *
 * A BLOCK INDEX (32 bits, names one block, claim 33: (2,10,10,10)):
 *   bits 31..30 | 29..20 G | 19..10 M | 9..0 K      pool offset = ((G*2^10+M)*2^10+K) * 4 KiB
 *   00  the 4 GiB block G                  (M = K = 0)
 *   10  the 4 MiB block (G,M)              (K = 0)  top bit: "sub-allocated in smaller pages"
 *   11  the 4 KiB page (G,M,K)                       and again one level further down
 *   01  the 4 TiB block, the whole pool    (G = M = K = 0)
 */
#ifndef ULTRA_PAGEMAP_ABI_H
#define ULTRA_PAGEMAP_ABI_H

#include <stddef.h>
#include <stdint.h>

#define UV_PM_MAGIC 0x504d5055u /* "UPMP" little-endian */
#define UV_PM_VERSION 1u

#define UV_PM_PAGE_SHIFT 12
#define UV_PM_SCALE_SHIFT 10
#define UV_PM_FANOUT (1u << UV_PM_SCALE_SHIFT)
#define UV_PM_TIERS 4
#define UV_PM_TIER_SHIFT(t) (UV_PM_PAGE_SHIFT + UV_PM_SCALE_SHIFT * (t))
#define UV_PM_TIER_BYTES(t) (1ull << UV_PM_TIER_SHIFT(t))
#define UV_PM_POOL_MAX UV_PM_TIER_BYTES(3)
#define UV_PM_IPAGE_BYTES (UV_PM_FANOUT * 4u)
#define UV_PM_NONE 0xFFFFFFFFu

#define UV_PM_E_SUB 0x80000000u
#define UV_PM_E_OWNED 0x40000000u
#define UV_PM_E_VALUE 0x3FFFFFFFu
#define UV_PM_E_FREE 0x00000000u
#define UV_PM_E_UNAVAIL 0xFFFFFFFFu
#define UV_PM_OWNER_MAX UV_PM_E_VALUE

#define UV_PM_IX_SUB4G 0x80000000u /* the named block lies in a sub-allocated 4 GiB block */
#define UV_PM_IX_SUB4M 0x40000000u /* ... and, with the bit above, in a sub-allocated 4 MiB one */

/* Start of the map area. Geometry fields are written once by init and never change. */
struct uv_pagemap_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint32_t seq; /* odd while the writer is changing the map; readers retry on change */
	uint64_t area_size;
	uint64_t pool_bytes;  /* multiple of 4 KiB, at most 4 TiB */
	uint32_t root;        /* entry of the one 4 TiB block */
	uint32_t n_ipages;    /* index pages the area has room for */
	uint32_t ipages_used; /* index pages [0, used) have been handed out at least once */
	uint32_t free_head;   /* returned index pages, linked through uv_pagemap_imeta.next_free */
	uint32_t ipages_live; /* index pages in the tree now */
	uint32_t pad0;
	uint64_t meta_off;   /* array of n_ipages struct uv_pagemap_imeta */
	uint64_t ipage_off;  /* array of n_ipages index pages, 4 KiB aligned */
	uint64_t free_pages; /* free 4 KiB pages in total: "does it fit" is one compare */
	uint64_t free_blocks[UV_PM_TIERS]; /* free entries per tier */
	uint64_t reserved[2];
};

/* Writer's bookkeeping for one index page. Readers never need it and never trust it. */
struct uv_pagemap_imeta {
	uint32_t parent; /* index page holding the entry that points here; UV_PM_NONE = root */
	uint16_t slot;   /* that entry's number in the parent */
	uint8_t level;   /* 1..3: the tier of the block this page subdivides */
	uint8_t pad;
	uint32_t next_free;              /* free-list link while the page is unused */
	uint32_t nfree[UV_PM_TIERS - 1]; /* free entries of each tier in the subtree below */
};

/* One contiguous run of whole blocks of one tier: what alloc returns, what claim and free take. */
struct uv_pm_extent {
	uint64_t offset; /* in the pool */
	uint64_t size;   /* bytes, a multiple of the tier's block size */
	uint32_t tier;   /* 0..3; ignored by claim and free, which take any page-aligned range */
	uint32_t pad;
};

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "map fields are little-endian");
_Static_assert(sizeof(struct uv_pagemap_hdr) == 128, "pagemap header ABI");
_Static_assert(offsetof(struct uv_pagemap_hdr, seq) == 12, "pagemap header ABI");
_Static_assert(offsetof(struct uv_pagemap_hdr, area_size) == 16, "pagemap header ABI");
_Static_assert(offsetof(struct uv_pagemap_hdr, pool_bytes) == 24, "pagemap header ABI");
_Static_assert(offsetof(struct uv_pagemap_hdr, root) == 32, "pagemap header ABI");
_Static_assert(offsetof(struct uv_pagemap_hdr, n_ipages) == 36, "pagemap header ABI");
_Static_assert(offsetof(struct uv_pagemap_hdr, meta_off) == 56, "pagemap header ABI");
_Static_assert(offsetof(struct uv_pagemap_hdr, ipage_off) == 64, "pagemap header ABI");
_Static_assert(offsetof(struct uv_pagemap_hdr, free_pages) == 72, "pagemap header ABI");
_Static_assert(offsetof(struct uv_pagemap_hdr, free_blocks) == 80, "pagemap header ABI");
_Static_assert(sizeof(struct uv_pagemap_imeta) == 24, "pagemap meta ABI");
_Static_assert(offsetof(struct uv_pagemap_imeta, nfree) == 12, "pagemap meta ABI");
_Static_assert(sizeof(struct uv_pm_extent) == 24, "pagemap extent ABI");
_Static_assert(offsetof(struct uv_pm_extent, tier) == 16, "pagemap extent ABI");
_Static_assert(UV_PM_IPAGE_BYTES == 4096, "an index page is one 4 KiB page of 2^10 entries");

#endif
