/* SPDX-License-Identifier: MIT */
/*
 * Direct disks, the fast path (claims 22, 23, 68, 69; docs/io-partition.md): the descriptor
 * grants an image (UV_DEV_DIRECT_BLK) and the monitor opens it, with O_DIRECT and no more
 * access than the grant gives, for QEMU to inherit. QEMU gets it as an fd set and never opens a
 * path for it, so it can reach exactly the granted image and nothing else by that route.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor.h"

static int open_one(const struct uv_device *v, int *fd_out, char *err, size_t errlen)
{
	int mode = (v->flags & UV_DEV_F_READONLY) ? O_RDONLY : O_RDWR;
	struct stat st;
	int fd = open(v->path, mode | O_DIRECT | O_CLOEXEC), r;

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "direct disk %s: %s", v->path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) ||
	    (S_ISREG(st.st_mode) && st.st_size % 512)) {
		snprintf(err, errlen,
		         "direct disk %s: not a file of whole sectors or a block device", v->path);
		close(fd);
		return -EINVAL;
	}
	*fd_out = fd;
	return 0;
}

int mon_direct_open(const struct uv_partition_desc *d, int *fds, unsigned *n, char *err,
                    size_t errlen)
{
	unsigned got = 0;
	int r;

	for (uint32_t i = 0; i < d->n_dev && i < UV_DEVICES_MAX; i++) {
		if (d->dev[i].kind != UV_DEV_DIRECT_BLK)
			continue;
		if ((r = open_one(&d->dev[i], &fds[got], err, errlen)) < 0) {
			while (got)
				close(fds[--got]);
			return r;
		}
		got++;
	}
	*n = got;
	return 0;
}
