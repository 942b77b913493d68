/* SPDX-License-Identifier: MIT */
/* Raw image files and block devices. Reads and writes go through io_uring, and their
 * completions are reaped later from the event loop; flush and discard are synchronous. */
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
	bool ring_made; /* io_uring may be missing (old kernel, disabled by sysctl) */
	bool have_ring; /* made and usable: nothing failed on it for good */
	struct io_uring ring;
	unsigned outstanding;               /* queued and not yet reaped */
	struct disk_io *unsent[RING_DEPTH]; /* queued, not yet taken by the kernel, in order */
	unsigned nunsent;
	struct disk_io *sync_done[RING_DEPTH]; /* done synchronously after the ring failed */
	unsigned nsync;
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

/* A transfer of an io done synchronously (no ring, or a ring that failed). */
static void do_sync(struct disk *d, struct disk_io *io)
{
	io->result = transfer(d, io->iov, io->niov, io->off, io->write);
}

static void raw_submit(struct disk *d);

static int raw_queue(struct disk *d, struct disk_io *io)
{
	struct disk_raw *r = raw(d);
	struct io_uring_sqe *sqe;

	if (!r->have_ring)
		return -EOPNOTSUPP;
	if (r->nunsent == RING_DEPTH)
		raw_submit(d);
	sqe = r->have_ring && r->nunsent < RING_DEPTH ? io_uring_get_sqe(&r->ring) : NULL;
	if (!sqe)
		return -EOPNOTSUPP;
	if (io->write)
		io_uring_prep_writev(sqe, r->fd, io->iov, (unsigned)io->niov, io->off);
	else
		io_uring_prep_readv(sqe, r->fd, io->iov, (unsigned)io->niov, io->off);
	io_uring_sqe_set_data(sqe, io);
	r->unsent[r->nunsent++] = io;
	r->outstanding++;
	return 0;
}

/* The ring failed for good: it is never entered again (its unsubmitted entries point at our
 * ios), and what it did not take is done synchronously and handed back by the next reap. */
static void ring_broken(struct disk *d)
{
	struct disk_raw *r = raw(d);

	r->have_ring = false;
	for (unsigned i = 0; i < r->nunsent; i++) {
		do_sync(d, r->unsent[i]);
		r->sync_done[r->nsync++] = r->unsent[i];
	}
	r->nunsent = 0;
}

static void raw_submit(struct disk *d)
{
	struct disk_raw *r = raw(d);
	unsigned tries = 0;

	while (r->have_ring && r->nunsent > 0) {
		int k = io_uring_submit(&r->ring);
		if (k > 0) {
			/* The kernel takes entries in order: the first k are in flight. */
			unsigned n = (unsigned)k < r->nunsent ? (unsigned)k : r->nunsent;
			memmove(r->unsent, r->unsent + n, (r->nunsent - n) * sizeof(*r->unsent));
			r->nunsent -= n;
			continue;
		}
		/* -EAGAIN/-EBUSY: short of resources or completions to post; try again a few
		 * times (the entries stay in the ring, so they cannot be done here instead). */
		if ((k == -EINTR || k == -EAGAIN || k == -EBUSY || k == 0) && ++tries < 1000)
			continue;
		ring_broken(d);
	}
}

static void finish(struct disk *d, struct disk_io *io, int res)
{
	size_t want = 0;

	for (int k = 0; k < io->niov; k++)
		want += io->iov[k].iov_len;
	if (res < 0)
		io->result = res;
	else if ((size_t)res < want)
		io->result = finish_short(d, io, (size_t)res);
	else
		io->result = 0;
}

static unsigned raw_reap(struct disk *d, struct disk_io **done, unsigned max, bool wait)
{
	struct disk_raw *r = raw(d);
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	while (n < max && r->nsync > 0) {
		done[n++] = r->sync_done[--r->nsync];
		r->outstanding--;
	}
	if (!r->ring_made || r->outstanding == 0)
		return n;
	if (wait && n == 0) {
		raw_submit(d);
		if (r->outstanding > r->nsync + r->nunsent)
			while (io_uring_wait_cqe(&r->ring, &cqe) == -EINTR)
				;
	}
	while (n < max && io_uring_peek_cqe(&r->ring, &cqe) == 0) {
		struct disk_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&r->ring, cqe);
		finish(d, io, res);
		done[n++] = io;
		r->outstanding--;
	}
	while (n < max && r->nsync > 0) { /* the ring may have failed while we waited */
		done[n++] = r->sync_done[--r->nsync];
		r->outstanding--;
	}
	return n;
}

static int raw_event_fd(const struct disk *d)
{
	const struct disk_raw *r = (const struct disk_raw *)d;

	return r->ring_made ? r->ring.ring_fd : -1;
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
	if (raw(d)->ring_made)
		io_uring_queue_exit(&raw(d)->ring);
	close(raw(d)->fd);
	free(raw(d));
}

static const struct disk_ops raw_ops = {
    .readv = raw_readv,
    .writev = raw_writev,
    .queue = raw_queue,
    .submit = raw_submit,
    .reap = raw_reap,
    .event_fd = raw_event_fd,
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
		r->ring_made = r->have_ring = true;
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

int disk_raw_ring_init(struct io_uring *ring) { return io_uring_queue_init(RING_DEPTH, ring, 0); }

int disk_raw_give_ring(struct disk *d, struct io_uring *out)
{
	if (!raw(d)->have_ring || raw(d)->outstanding)
		return -ENOENT; /* none, unusable (raw_submit gave up on it), or still busy */
	*out = raw(d)->ring;
	raw(d)->have_ring = raw(d)->ring_made = false;
	return 0;
}
