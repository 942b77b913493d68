/* SPDX-License-Identifier: MIT */
#include "guest_mem.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Is [start, start + size) representable (size > 0, no wrap)? */
static bool range_ok(uint64_t start, uint64_t size)
{
	return size > 0 && start <= UINT64_MAX - (size - 1);
}

static bool overlap(uint64_t a, uint64_t b, uint64_t size_a, uint64_t size_b)
{
	/* Both ranges are known not to wrap; compare inclusive ends. */
	return a <= b + (size_b - 1) && b <= a + (size_a - 1);
}

int gm_check_table(const struct vhu_region *r, unsigned n)
{
	if (n == 0 || n > VHU_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!range_ok(r[i].guest_addr, r[i].size) || !range_ok(r[i].user_addr, r[i].size) ||
		    !range_ok(r[i].mmap_offset, r[i].size))
			return -ERANGE;
		if (r[i].mmap_offset + r[i].size > (uint64_t)SIZE_MAX / 2)
			return -ERANGE;
		for (unsigned j = 0; j < i; j++)
			if (overlap(r[i].guest_addr, r[j].guest_addr, r[i].size, r[j].size) ||
			    overlap(r[i].user_addr, r[j].user_addr, r[i].size, r[j].size))
				return -EINVAL;
	}
	return 0;
}

static int map_one(struct gm_region *out, const struct vhu_region *r, int fd)
{
	struct stat st;
	uint64_t len = r->mmap_offset + r->size;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size < len)
		return -EINVAL; /* a region beyond the object's end would SIGBUS, not fail */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	out->gpa = r->guest_addr;
	out->uva = r->user_addr;
	out->size = r->size;
	out->host = (uint8_t *)p + r->mmap_offset;
	out->map = p;
	out->map_len = len;
	return 0;
}

int gm_map(struct guest_mem *m, const struct vhu_region *r, const int *fds, unsigned n)
{
	struct guest_mem t = {0};
	int ret = gm_check_table(r, n);

	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < n; i++) {
		ret = map_one(&t.r[i], &r[i], fds[i]);
		if (ret < 0)
			goto out;
		t.n = i + 1;
	}
	*m = t;
	return 0;
out:
	gm_unmap(&t);
	return ret;
}

void gm_unmap(struct guest_mem *m)
{
	for (unsigned i = 0; i < m->n; i++)
		munmap(m->r[i].map, m->r[i].map_len);
	m->n = 0;
}

static void *lookup(const struct guest_mem *m, uint64_t addr, uint64_t len, bool user)
{
	if (!range_ok(addr, len))
		return NULL;
	for (unsigned i = 0; i < m->n; i++) {
		const struct gm_region *r = &m->r[i];
		uint64_t base = user ? r->uva : r->gpa;

		if (addr < base || addr - base >= r->size)
			continue;
		/* The whole range must fit in this region: a buffer never spans two. */
		if (len > r->size - (addr - base))
			return NULL;
		return r->host + (addr - base);
	}
	return NULL;
}

void *gm_gpa(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	return lookup(m, gpa, len, false);
}

void *gm_uva(const struct guest_mem *m, uint64_t uva, uint64_t len)
{
	return lookup(m, uva, len, true);
}
