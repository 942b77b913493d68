/* SPDX-License-Identifier: MIT */
/* Disk backends behind one ops table (raw image files and block devices today). Offsets and
 * lengths are bytes and have been checked against size by the caller. */
#ifndef IO_DISK_H
#define IO_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct disk;

/* One read or write of a batch (disk_ops.run). */
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
	/* Runs n reads and writes concurrently and returns when all are done. */
	void (*run)(struct disk *d, struct disk_io *ios, unsigned n);
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

#endif
