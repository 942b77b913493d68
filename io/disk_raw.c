/* SPDX-License-Identifier: MIT */
/* Raw image files and block devices. Batches of reads and writes go through io_uring and run
 * concurrently; single requests, flush and discard are synchronous system calls. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"

#define RING_DEPTH 64

struct disk_raw {
	struct disk disk; /* first: the ops receive &disk */
	int fd;
	bool have_ring; /* io_uring may be missing (old kernel, disabled by sysctl) */
	struct io_uring ring;
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

/* Completes a short io_uring transfer synchronously from where it stopped. */
static int finish_short(struct disk *d, const struct disk_io *io, size_t done)
{
	struct iovec local[io->niov > 0 ? io->niov : 1];
	struct iovec *iov = local;
	int n = io->niov;

	memcpy(local, io->iov, sizeof(*local) * (size_t)n);
	iov_advance(&iov, &n, done);
	if (n == 0)
		return 0;
	return transfer(d, iov, n, io->off + done, io->write);
}

static void run_sync(struct disk *d, struct disk_io *ios, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ios[i].result = transfer(d, ios[i].iov, ios[i].niov, ios[i].off, ios[i].write);
}

static void reap(struct disk *d, struct disk_io *ios, struct io_uring_cqe *cqe)
{
	struct disk_io *io = &ios[io_uring_cqe_get_data64(cqe)];
	size_t want = 0;

	for (int k = 0; k < io->niov; k++)
		want += io->iov[k].iov_len;
	if (cqe->res < 0)
		io->result = cqe->res;
	else if ((size_t)cqe->res < want)
		io->result = finish_short(d, io, (size_t)cqe->res);
	else
		io->result = 0;
	io_uring_cqe_seen(&raw(d)->ring, cqe);
}

static void raw_run(struct disk *d, struct disk_io *ios, unsigned n)
{
	struct io_uring *ring = &raw(d)->ring;
	struct io_uring_cqe *cqe;
	unsigned queued = 0, submitted = 0, done = 0;
	int r;

	if (!raw(d)->have_ring || n < 2) {
		run_sync(d, ios, n);
		return;
	}
	while (done < n) {
		for (; queued < n; queued++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
			const struct disk_io *io = &ios[queued];
			if (!sqe)
				break; /* ring full: submit what we have, reap, come back */
			if (io->write)
				io_uring_prep_writev(sqe, raw(d)->fd, io->iov, (unsigned)io->niov,
				                     io->off);
			else
				io_uring_prep_readv(sqe, raw(d)->fd, io->iov, (unsigned)io->niov,
				                    io->off);
			io_uring_sqe_set_data64(sqe, queued);
		}
		r = io_uring_submit_and_wait(ring, 1);
		if (r > 0)
			submitted += (unsigned)r;
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			/* Unusable: never touch this ring again (its unsubmitted entries point at
			 * this batch), reap what is in flight, do the rest synchronously. */
			raw(d)->have_ring = false;
			while (done < submitted && io_uring_wait_cqe(ring, &cqe) == 0) {
				reap(d, ios, cqe);
				done++;
			}
			run_sync(d, ios + submitted, n - submitted);
			return;
		}
		while (io_uring_peek_cqe(ring, &cqe) == 0) {
			reap(d, ios, cqe);
			done++;
		}
	}
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
	if (raw(d)->have_ring)
		io_uring_queue_exit(&raw(d)->ring);
	close(raw(d)->fd);
	free(raw(d));
}

static const struct disk_ops raw_ops = {
    .readv = raw_readv,
    .writev = raw_writev,
    .run = raw_run,
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

/* Takes fd over on success; ring (NULL: none) is copied in and owned from then on. */
static int raw_new(int fd, const struct stat *st, uint64_t size, bool read_only,
                   const struct io_uring *ring, struct disk **out)
{
	struct disk_raw *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->disk.ops = &raw_ops;
	r->disk.size = size & ~(uint64_t)(512 - 1); /* a partial last sector is not exposed */
	r->disk.read_only = read_only;
	snprintf(r->disk.serial, sizeof(r->disk.serial), "uv-%lx-%lx", (unsigned long)st->st_dev,
	         (unsigned long)st->st_ino);
	r->fd = fd;
	if (ring) {
		r->ring = *ring;
		r->have_ring = true;
	}
	*out = &r->disk;
	return 0;
}

int disk_raw_open(const char *path, struct disk **out)
{
	struct io_uring ring;
	struct stat st;
	uint64_t size = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC), ret;
	bool have_ring;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	ret = size_of(fd, &st, &size);
	if (ret < 0)
		goto out;
	have_ring = io_uring_queue_init(RING_DEPTH, &ring, 0) == 0;
	ret = raw_new(fd, &st, size, false, have_ring ? &ring : NULL, out);
	if (ret == 0)
		return 0;
	if (have_ring)
		io_uring_queue_exit(&ring);
out:
	close(fd);
	return ret;
}

int disk_raw_adopt(int fd, uint64_t size, bool read_only, const struct io_uring *ring,
                   struct disk **out)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	else if (!S_ISBLK(st.st_mode) || size == 0)
		return -EINVAL; /* a block device's size takes an ioctl the sandbox forbids */
	return raw_new(fd, &st, size, read_only, ring, out);
}

int disk_raw_ring_init(struct io_uring *ring)
{
	return io_uring_queue_init(RING_DEPTH, ring, 0);
}

int disk_raw_give_ring(struct disk *d, struct io_uring *out)
{
	if (!raw(d)->have_ring)
		return -ENOENT; /* none, or unusable (raw_run gave up on it) */
	*out = raw(d)->ring;
	raw(d)->have_ring = false;
	return 0;
}
