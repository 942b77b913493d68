/* SPDX-License-Identifier: MIT */
/*
 * The resource database region: a sealed memfd only the ultravisor maps writable. Before any
 * peer sees it, F_SEAL_FUTURE_WRITE forbids every later writable mapping, so a monitor cannot
 * obtain write access even with a read-write fd (claim 10); peers get a read-only fd besides.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uvd.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

int uvd_region_create(struct uvd *u)
{
	size_t size = uv_resdb_size_for(&u->cfg);
	void *p;
	int fd, r;

	if (!size)
		return -EINVAL;
	size = (size + 4095) & ~(size_t)4095;
	fd = memfd_create("uv-resdb", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS,
	          F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
		r = -errno;
		munmap(p, size);
		close(fd);
		return r;
	}
	u->region = p;
	u->region_size = size;
	u->region_fd = fd;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

int uvd_region_ro_fd(const struct uvd *u)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", u->region_fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
