/* SPDX-License-Identifier: MIT */
/* Raw image files and block devices, synchronous preadv/pwritev (io_uring is left for later:
 * see docs/io-partition.md). */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"

struct disk_raw {
	struct disk disk; /* first: the ops receive &disk */
	int fd;
};

static struct disk_raw *raw(struct disk *d) { return (struct disk_raw *)d; }

/* Advances an iovec array past done bytes (in place). */
static void iov_advance(struct iovec **iov, int *n, size_t done)
{
	while (*n > 0 && done >= (*iov)->iov_len) {
		done -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n > 0) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + done;
		(*iov)->iov_len -= done;
	}
}

static int transfer(struct disk *d, const struct iovec *src, int n, uint64_t off, bool write)
{
	struct iovec local[n > 0 ? n : 1];
	struct iovec *iov = local;

	memcpy(local, src, sizeof(*src) * (size_t)n);
	while (n > 0) {
		ssize_t k = write ? pwritev(raw(d)->fd, iov, n, (off_t)off)
		                  : preadv(raw(d)->fd, iov, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO; /* the file shrank under us */
		off += (uint64_t)k;
		iov_advance(&iov, &n, (size_t)k);
	}
	return 0;
}

static int raw_readv(struct disk *d, const struct iovec *iov, int n, uint64_t off)
{
	return transfer(d, iov, n, off, false);
}

static int raw_writev(struct disk *d, const struct iovec *iov, int n, uint64_t off)
{
	return transfer(d, iov, n, off, true);
}

static int raw_flush(struct disk *d)
{
	/* fdatasync reaches the device's stable storage (it issues a cache flush) for files and
	 * block devices alike. */
	return fdatasync(raw(d)->fd) < 0 ? -errno : 0;
}

static int raw_discard(struct disk *d, uint64_t off, uint64_t len)
{
	if (fallocate(raw(d)->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
	              (off_t)len) < 0)
		return -errno;
	return 0;
}

static void raw_close(struct disk *d)
{
	close(raw(d)->fd);
	free(raw(d));
}

static const struct disk_ops raw_ops = {
    .readv = raw_readv,
    .writev = raw_writev,
    .flush = raw_flush,
    .discard = raw_discard,
    .close = raw_close,
};

static int size_of(int fd, const struct stat *st, uint64_t *size)
{
	if (S_ISREG(st->st_mode)) {
		*size = (uint64_t)st->st_size;
		return 0;
	}
	if (S_ISBLK(st->st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	return -EINVAL;
}

int disk_raw_open(const char *path, struct disk **out)
{
	struct disk_raw *r = NULL;
	struct stat st;
	uint64_t size = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	ret = size_of(fd, &st, &size);
	if (ret < 0)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	r->disk.ops = &raw_ops;
	r->disk.size = size & ~(uint64_t)(512 - 1); /* a partial last sector is not exposed */
	snprintf(r->disk.serial, sizeof(r->disk.serial), "uv-%lx-%lx", (unsigned long)st.st_dev,
	         (unsigned long)st.st_ino);
	r->fd = fd;
	*out = &r->disk;
	return 0;
out:
	close(fd);
	return ret;
}
