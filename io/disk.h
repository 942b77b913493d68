/* SPDX-License-Identifier: MIT */
/* Disk backends behind one ops table (raw image files and block devices today). Offsets and
 * lengths are bytes and have been checked against size by the caller. */
#ifndef IO_DISK_H
#define IO_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct disk;

/* One asynchronous read or write (disk_ops.queue); its memory is the caller's and must stay
 * put until reap hands it back. */
struct disk_io {
	bool write;
	const struct iovec *iov;
	int niov;
	uint64_t off;
	int result; /* out: 0 or a negative errno */
};

struct disk_ops {
	/* Full transfer or a negative errno (short transfers are retried inside). */
	int (*readv)(struct disk *d, const struct iovec *iov, int n, uint64_t off);
	int (*writev)(struct disk *d, const struct iovec *iov, int n, uint64_t off);
	/* Asynchronous reads and writes (io_uring), whose completions outlive the call:
	 * queue takes io (0) or says -EOPNOTSUPP (no ring: do it synchronously); submit hands
	 * every queued io to the kernel in one system call; reap returns up to max completed ios
	 * (result set), first waiting for one if wait and any are outstanding. event_fd is
	 * readable while completions wait to be reaped (-1 without a ring). */
	int (*queue)(struct disk *d, struct disk_io *io);
	void (*submit)(struct disk *d);
	unsigned (*reap)(struct disk *d, struct disk_io **done, unsigned max, bool wait);
	int (*event_fd)(const struct disk *d);
	/* Returns only once written data is on stable storage. */
	int (*flush)(struct disk *d);
	/* The range reads back as zeroes and its space may be released. */
	int (*discard)(struct disk *d, uint64_t off, uint64_t len);
	void (*close)(struct disk *d);
};

struct disk {
	const struct disk_ops *ops;
	uint64_t size; /* bytes, a multiple of 512 */
	bool read_only;
	char serial[20]; /* GET_ID answer, NUL-padded */
};

int disk_raw_open(const char *path, struct disk **out);

/* For exports added after the sandbox (no open, no io_uring_setup): serves fd, an image someone
 * else opened (taken over on success). size is used only for block devices, whose size takes an
 * ioctl. ring, made before the sandbox by disk_raw_ring_init (or NULL: synchronous I/O), is
 * the disk's from then on; disk_raw_give_ring takes it back, still usable, before the close. */
struct io_uring;
int disk_raw_adopt(int fd, uint64_t size, bool read_only, const struct io_uring *ring,
                   struct disk **out);
int disk_raw_ring_init(struct io_uring *ring);
int disk_raw_give_ring(struct disk *d, struct io_uring *out);

#endif
