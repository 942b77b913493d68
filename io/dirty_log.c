/* SPDX-License-Identifier: MIT */
/* Mapping the front end's dirty log (SET_LOG_BASE). */
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirty_log.h"

/* A log covers guest memory at one bit per page: 1 TiB (the largest definition) needs 32 MiB. */
#define DIRTY_LOG_MAX (64ull << 20)

int dirty_log_map(struct dirty_log *l, int fd, uint64_t size, uint64_t offset)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t skew, map_len;
	struct stat st;
	void *p;

	if (size == 0 || size > DIRTY_LOG_MAX || offset > UINT64_MAX - size || pg <= 0)
		return -EINVAL;
	/* The front end's claim is checked against the object, not believed: a log shorter than
	 * it says would fault us on the first mark. */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < offset + size)
		return -EINVAL;
	skew = offset % (uint64_t)pg;
	map_len = size + skew;
	p = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)(offset - skew));
	if (p == MAP_FAILED)
		return -errno;
	dirty_log_unmap(l);
	l->map = p;
	l->map_len = map_len;
	l->bits = (uint8_t *)p + skew;
	l->len = size;
	return 0;
}

void dirty_log_unmap(struct dirty_log *l)
{
	if (l->map)
		munmap(l->map, l->map_len);
	l->map = NULL;
	l->map_len = 0;
	l->bits = NULL;
	l->len = 0;
}
