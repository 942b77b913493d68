/* SPDX-License-Identifier: MIT */
/* The audit log directory: names, listing, atomic writes, snapshots. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "txn_log_int.h"

#define SEG_FMT "seg-%016" PRIx64 ".log"
#define SNAP_FMT "snap-%016" PRIx64 ".snap"

void log_seg_name(char *buf, uint64_t segment) { snprintf(buf, LOG_NAME_MAX, SEG_FMT, segment); }

void log_snap_name(char *buf, uint64_t segment) { snprintf(buf, LOG_NAME_MAX, SNAP_FMT, segment); }

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Accepts exactly the names log_*_name() make: prefix, 16 lower-case hex digits, suffix. */
static int parse_name(const char *name, const char *prefix, const char *suffix, uint64_t *num)
{
	size_t pl = strlen(prefix), i;
	uint64_t v = 0;
	int d;

	if (strncmp(name, prefix, pl) || strlen(name) != pl + 16 + strlen(suffix) ||
	    strcmp(name + pl + 16, suffix))
		return 0;
	for (i = pl; i < pl + 16; i++) {
		if ((d = hex_digit(name[i])) < 0)
			return 0;
		v = v << 4 | (uint64_t)d;
	}
	*num = v;
	return 1;
}

static int push(uint64_t **arr, size_t *n, uint64_t v)
{
	uint64_t *grown = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!grown)
		return -ENOMEM;
	grown[(*n)++] = v;
	*arr = grown;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void log_listing_free(struct log_listing *l)
{
	free(l->segs);
	free(l->snaps);
	memset(l, 0, sizeof(*l));
}

int log_list(int dirfd, struct log_listing *l)
{
	struct dirent *de;
	DIR *d = NULL;
	uint64_t num;
	int fd, ret = 0;

	memset(l, 0, sizeof(*l));
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while (!ret && (de = readdir(d))) {
		if (parse_name(de->d_name, "seg-", ".log", &num))
			ret = push(&l->segs, &l->n_segs, num);
		else if (parse_name(de->d_name, "snap-", ".snap", &num))
			ret = push(&l->snaps, &l->n_snaps, num);
	}
	closedir(d);
	if (ret) {
		log_listing_free(l);
		return ret;
	}
	if (l->n_segs)
		qsort(l->segs, l->n_segs, sizeof(*l->segs), cmp_u64);
	if (l->n_snaps)
		qsort(l->snaps, l->n_snaps, sizeof(*l->snaps), cmp_u64);
	return 0;
}

static int writev_all(int fd, const struct iovec *iov, int iovcnt)
{
	int i;

	for (i = 0; i < iovcnt; i++) {
		const unsigned char *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left) {
			ssize_t n = write(fd, p, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			p += n;
			left -= (size_t)n;
		}
	}
	return 0;
}

int log_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int log_write_atomic(int dirfd, const char *name, const struct iovec *iov, int iovcnt)
{
	char tmp[LOG_NAME_MAX + 8];
	int fd = -1, ret;

	snprintf(tmp, sizeof(tmp), ".tmp-%s", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = writev_all(fd, iov, iovcnt);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && renameat(dirfd, tmp, dirfd, name))
		ret = -errno;
	if (!ret && fsync(dirfd))
		ret = -errno;
	if (ret)
		unlinkat(dirfd, tmp, 0);
	return ret;
}

int log_seg_create(int dirfd, uint64_t segment, uint64_t first_seq)
{
	char name[LOG_NAME_MAX];
	struct uv_log_seg_hdr h;
	struct iovec iov = {&h, sizeof(h)};

	log_seg_hdr_init(&h, segment, first_seq);
	log_seg_name(name, segment);
	return log_write_atomic(dirfd, name, &iov, 1);
}

int log_snap_write(int dirfd, uint64_t segment, uint64_t next_seq, const void *state, size_t len)
{
	char name[LOG_NAME_MAX];
	struct uv_log_snap_hdr h;
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)state, len}};

	log_snap_hdr_init(&h, segment, next_seq, state, len);
	log_snap_name(name, segment);
	return log_write_atomic(dirfd, name, iov, len ? 2 : 1);
}

int log_read_file(int fd, unsigned char **buf, size_t *len)
{
	unsigned char *p = NULL;
	size_t size = 0, got = 0;
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st))
		return -errno;
	size = (size_t)st.st_size;
	p = malloc(size ? size : 1);
	if (!p)
		return -ENOMEM;
	while (got < size) {
		n = pread(fd, p + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int ret = -errno;
			free(p);
			return ret;
		}
		if (n == 0)
			break; /* shrank under us: what was read is what there is */
		got += (size_t)n;
	}
	*buf = p;
	*len = got;
	return 0;
}

int log_read_at(int dirfd, const char *name, unsigned char **buf, size_t *len)
{
	int fd, ret;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = log_read_file(fd, buf, len);
	close(fd);
	return ret;
}

int log_snap_load(int dirfd, uint64_t segment, struct uv_log_snap_hdr *h, void **state)
{
	char name[LOG_NAME_MAX];
	unsigned char *buf = NULL;
	struct uv_log_snap_hdr hdr;
	size_t len = 0;
	void *copy;
	int ret;

	log_snap_name(name, segment);
	if ((ret = log_read_at(dirfd, name, &buf, &len)))
		return ret;
	ret = -EBADMSG;
	if (len < sizeof(hdr))
		goto out;
	memcpy(&hdr, buf, sizeof(hdr));
	if (!log_snap_ok(&hdr, buf + sizeof(hdr), len - sizeof(hdr)) || hdr.segment != segment)
		goto out;
	/* Shift the state to the front of the buffer so the caller frees what it gets. */
	memmove(buf, buf + sizeof(hdr), len - sizeof(hdr));
	copy = buf;
	buf = NULL;
	*h = hdr;
	*state = copy;
	ret = 0;
out:
	free(buf);
	return ret;
}

int log_set_aside(int dirfd, const char *name, const char *suffix)
{
	char to[LOG_NAME_MAX + 16];

	snprintf(to, sizeof(to), "%s%s", name, suffix);
	if (renameat(dirfd, name, dirfd, to))
		return -errno;
	return 0;
}
