/* SPDX-License-Identifier: MIT */
/*
 * Memory objects follow grants (claims 29-32): every committed GRANT_MEMORY gets one sealed
 * memfd of the grant's size, recording which page-map blocks it stands for. Only the partition's
 * monitor and the I/O partitions serving it are handed its fd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "uvd.h"

#define HUGE_2M (2ull << 20)
#ifndef MFD_HUGE_2MB /* <linux/memfd.h> has it, but clashes with glibc's <sys/mman.h> */
#define MFD_HUGE_2MB (21u << 26)
#endif

static int memobj_new(struct uvd *u, uint32_t partition, uint64_t seq,
                      const struct uv_txn_extent *ext, uint32_t n)
{
	struct uvd_memobj *m;
	uint64_t size = 0;
	char name[48];
	bool huge;
	int fd;

	if (u->n_mem == u->cap_mem) {
		size_t cap = u->cap_mem ? u->cap_mem * 2 : 16;
		struct uvd_memobj *p = realloc(u->mem, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		u->mem = p;
		u->cap_mem = cap;
	}
	m = &u->mem[u->n_mem];
	memset(m, 0, sizeof(*m));
	m->extents = calloc(n ? n : 1, sizeof(*m->extents));
	if (!m->extents)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		m->extents[i] = ext[i];
		size += m->extents[i].size;
	}
	snprintf(name, sizeof(name), "uv-mem-p%u-s%llu", partition, (unsigned long long)seq);
	huge = u->hugetlb && size % HUGE_2M == 0;
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING |
	                            (huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
	/* Huge pages are taken now (fallocate), so a grant the pool cannot back is refused here
	 * rather than QEMU failing to map it later. */
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    (huge && fallocate(fd, 0, 0, (off_t)size) < 0) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		free(m->extents);
		return r;
	}
	m->partition = partition;
	m->log_seq = seq;
	m->size = size;
	m->n_extents = n;
	m->fd = fd;
	u->n_mem++;
	return 0;
}

static void memobj_drop(struct uvd *u, size_t i)
{
	close(u->mem[i].fd);
	free(u->mem[i].extents);
	u->mem[i] = u->mem[--u->n_mem];
}

/* Takes fd (a live engine's memory object) in place of the object recovery made for the same
 * grant: same partition, same grant sequence (from the memfd's name), same size. */
int uvd_mem_adopt(struct uvd *u, uint32_t partition, int fd)
{
	char target[128];
	unsigned p;
	unsigned long long seq;
	uint64_t size;
	int r;

	if ((r = uvd_fd_describe(fd, target, sizeof(target), &size)))
		return r;
	if (sscanf(target, "/memfd:uv-mem-p%u-s%llu", &p, &seq) != 2 || p != partition)
		return -EINVAL;
	for (size_t i = 0; i < u->n_mem; i++) {
		struct uvd_memobj *m = &u->mem[i];

		/* Objects rebuilt from a snapshot have no sequence: match them by size. */
		if (m->partition == partition && (!m->log_seq || m->log_seq == seq) &&
		    size == m->size)
			return uvd_fd_replace(&m->fd, fd);
	}
	return -ESTALE;
}

void uvd_mem_forget(struct uvd *u, uint64_t seq)
{
	for (size_t i = u->n_mem; i-- > 0;)
		if (u->mem[i].log_seq == seq)
			memobj_drop(u, i);
}

static int covers(const struct uvd_memobj *m, const struct uv_txn *t)
{
	/* A revoke that names every block of a grant retires that grant's object. */
	uint32_t i, j, hit = 0;

	for (i = 0; i < m->n_extents; i++)
		for (j = 0; j < t->u.memory.n_extents; j++) {
			struct uv_txn_extent x = uv_txn_extent_at(t, j);
			if (x.pool_offset <= m->extents[i].pool_offset &&
			    m->extents[i].pool_offset + m->extents[i].size <=
			        x.pool_offset + x.size) {
				hit++;
				break;
			}
		}
	return hit == m->n_extents;
}

int uvd_mem_track(struct uvd *u, const struct uv_txn *t, uint64_t seq)
{
	size_t i;

	switch (t->hdr.type) {
	case UV_TXN_GRANT_MEMORY: {
		uint32_t n = t->u.memory.n_extents;
		struct uv_txn_extent *ext = calloc(n ? n : 1, sizeof(*ext));
		int r;

		if (!ext)
			return -ENOMEM;
		for (uint32_t k = 0; k < n; k++)
			ext[k] = uv_txn_extent_at(t, k);
		r = memobj_new(u, t->u.memory.partition_id, seq, ext, n);
		free(ext);
		return r;
	}
	case UV_TXN_REVOKE_MEMORY:
		for (i = u->n_mem; i-- > 0;)
			if (u->mem[i].partition == t->u.memory.partition_id &&
			    covers(&u->mem[i], t))
				memobj_drop(u, i);
		return 0;
	case UV_TXN_DESTROY_PARTITION:
		for (i = u->n_mem; i-- > 0;)
			if (u->mem[i].partition == t->u.partition.partition_id)
				memobj_drop(u, i);
		return 0;
	default:
		return 0;
	}
}

struct owned {
	const struct uvd *u;
	uint32_t owner;
	struct uv_txn_extent *ext;
	uint32_t n, cap;
};

static int add_run(struct owned *o, uint64_t off, uint64_t size)
{
	if (!size)
		return 0;
	if (o->n && o->ext[o->n - 1].pool_offset + o->ext[o->n - 1].size == off) {
		o->ext[o->n - 1].size += size;
		return 0;
	}
	if (o->n == o->cap) {
		uint32_t cap = o->cap ? o->cap * 2 : 16;
		struct uv_txn_extent *p = realloc(o->ext, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		o->ext = p;
		o->cap = cap;
	}
	o->ext[o->n++] = (struct uv_txn_extent){.pool_offset = off, .size = size};
	return 0;
}

/* The part of [off, end) not covered by any of the owner's objects, piece by piece. A walk
 * merges adjacent blocks, so one run may span several grants. */
static int subtract(struct owned *o, uint64_t off, uint64_t end)
{
	while (off < end) {
		uint64_t next_cover = end, cover_end = 0;

		for (size_t i = 0; i < o->u->n_mem; i++) {
			const struct uvd_memobj *m = &o->u->mem[i];

			if (m->partition != o->owner)
				continue;
			for (uint32_t j = 0; j < m->n_extents; j++) {
				uint64_t s = m->extents[j].pool_offset, e = s + m->extents[j].size;

				if (s <= off && off < e) {
					next_cover = off;
					cover_end = e;
				} else if (s > off && s < next_cover) {
					next_cover = s;
					cover_end = e;
				}
			}
		}
		if (add_run(o, off, next_cover - off))
			return -ENOMEM;
		off = cover_end > next_cover ? cover_end : end;
	}
	return 0;
}

static int collect(const struct uv_pm_block *b, void *ctx)
{
	return subtract(ctx, b->offset, b->offset + b->size);
}

/* Grants that live only in a snapshot have no replayed record: after recovery, every block a
 * partition owns without an object gets one object (ordered first, as the oldest grant). */
int uvd_mem_rebuild(struct uvd *u)
{
	struct uv_pagemap_view v;
	int r;

	r = uv_pagemap_view_attach(&v, u->db.base + u->db.h->pagemap_off, u->db.h->pagemap_size);
	if (r)
		return r;
	for (uint32_t id = 1; id < u->db.h->max_partitions; id++) {
		struct owned o = {.u = u, .owner = id};

		if (!uv_resdb_desc(&u->db, id))
			continue;
		r = uv_pagemap_walk(&v, id, collect, &o);
		if (!r && o.n)
			r = memobj_new(u, id, 0, o.ext, o.n);
		free(o.ext);
		if (r)
			return r;
	}
	return 0;
}

int uvd_mem_fds(struct uvd *u, uint32_t partition, int *fds, unsigned max, unsigned *n,
                uint64_t *bytes)
{
	size_t order[UV_CTL_FDS_MAX];
	unsigned k = 0;

	*bytes = 0;
	/* In grant (log) order: the first grant is guest RAM from address 0. */
	for (size_t i = 0; i < u->n_mem; i++) {
		unsigned j;

		if (u->mem[i].partition != partition)
			continue;
		if (k == max || k == UV_CTL_FDS_MAX)
			return -E2BIG;
		for (j = k; j > 0 && u->mem[order[j - 1]].log_seq > u->mem[i].log_seq; j--)
			order[j] = order[j - 1];
		order[j] = i;
		k++;
	}
	for (unsigned j = 0; j < k; j++) {
		fds[j] = u->mem[order[j]].fd;
		*bytes += u->mem[order[j]].size;
	}
	*n = k;
	return 0;
}

void uvd_mem_free_all(struct uvd *u)
{
	while (u->n_mem)
		memobj_drop(u, u->n_mem - 1);
	free(u->mem);
	u->mem = NULL;
	u->cap_mem = 0;
}
