/* SPDX-License-Identifier: MIT */
/* What a handed-back memory object is (its memfd name and size), and taking it in place of
 * ours: the part memory and channel adoption share. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uvd.h"

int uvd_fd_describe(int fd, char *name, size_t cap, uint64_t *size)
{
	char link[64];
	struct stat st;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, name, cap - 1);
	if (n <= 0 || fstat(fd, &st) < 0)
		return -EBADF;
	name[n] = 0;
	*size = (uint64_t)st.st_size;
	return 0;
}

int uvd_fd_replace(int *slot, int fd)
{
	int keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (keep < 0)
		return -errno;
	close(*slot);
	*slot = keep;
	return 0;
}
