/* SPDX-License-Identifier: MIT */
/* A client's memory table: guest-physical and front-end-virtual ranges mapped into this
 * process. Every address a guest or front end hands us goes through here (claims 20, 21). */
#ifndef IO_GUEST_MEM_H
#define IO_GUEST_MEM_H

#include <stdint.h>

#include "ultra/vhost_user.h"

struct gm_region {
	uint64_t gpa; /* guest-physical start */
	uint64_t uva; /* the front end's virtual start (ring addresses use it) */
	uint64_t size;
	uint8_t *host; /* our mapping of gpa */
	void *map;     /* what to munmap */
	uint64_t map_len;
};

struct guest_mem {
	unsigned n;
	struct gm_region r[VHU_MAX_REGIONS];
};

/* Validates a region list without mapping: non-empty, no address space (gpa, uva,
 * mmap_offset + size) wraps 2^64, no two regions overlap in gpa or uva. */
int gm_check_table(const struct vhu_region *r, unsigned n);

/* Maps a checked table; each fd must be a file at least mmap_offset + size long. On failure
 * nothing stays mapped and *m is untouched. The fds stay the caller's. */
int gm_map(struct guest_mem *m, const struct vhu_region *r, const int *fds, unsigned n);
void gm_unmap(struct guest_mem *m);

/* Host pointer for [addr, addr + len) in one region, or NULL when len is 0, the range wraps
 * 2^64, lies outside every region or spans two. */
void *gm_gpa(const struct guest_mem *m, uint64_t gpa, uint64_t len);
void *gm_uva(const struct guest_mem *m, uint64_t uva, uint64_t len);

#endif
