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
#include <fcntl.h>
#include <unistd.h>

#include "uvd.h"

static int memobj_new(struct uvd *u, uint32_t partition, uint64_t seq, const struct uv_txn *t)
{
	struct uvd_memobj *m;
	uint64_t size = 0;
	uint32_t n = t->u.memory.n_extents;
	char name[48];
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
		m->extents[i] = uv_txn_extent_at(t, i);
		size += m->extents[i].size;
	}
	snprintf(name, sizeof(name), "uv-mem-p%u-s%llu", partition, (unsigned long long)seq);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
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

static int covers(const struct uvd_memobj *m, const struct uv_txn *t)
{
	/* A revoke that names every block of a grant retires that grant's object. */
	uint32_t i, j, hit = 0;

	for (i = 0; i < m->n_extents; i++)
		for (j = 0; j < t->u.memory.n_extents; j++) {
			struct uv_txn_extent x = uv_txn_extent_at(t, j);
			if (x.pool_offset <= m->extents[i].pool_offset &&
			    m->extents[i].pool_offset + m->extents[i].size <= x.pool_offset + x.size) {
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
	case UV_TXN_GRANT_MEMORY:
		return memobj_new(u, t->u.memory.partition_id, seq, t);
	case UV_TXN_REVOKE_MEMORY:
		for (i = u->n_mem; i-- > 0;)
			if (u->mem[i].partition == t->u.memory.partition_id && covers(&u->mem[i], t))
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
