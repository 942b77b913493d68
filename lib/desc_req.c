/* SPDX-License-Identifier: MIT */
/* Checks the disks, NICs and channels a descriptor asks for (struct uv_disk_req and friends).
 * The ultravisor runs this on every CREATE_PARTITION, so a hostile record is refused too. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "desc_int.h"
#include "disk_limit.h"

int uv_desc_label_check(const char *field, const char *s, size_t cap, char *err, size_t errlen)
{
	size_t i, n;

	if (!memchr(s, 0, cap))
		return uv_def_fail(err, errlen, "%s: longer than %zu characters", field, cap - 1);
	n = strlen(s);
	if (!n)
		return uv_def_fail(err, errlen, "%s: must not be empty", field);
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || (c == '.' && i > 0)))
			return uv_def_fail(err, errlen,
			                   "%s: character '%c' not allowed (use [A-Za-z0-9._-])",
			                   field, c);
	}
	return 0;
}

/* The fast path's engine moves whole sectors by DMA (O_DIRECT): the image's file system must
 * take O_DIRECT (tmpfs does not) and a file must end on a sector boundary, or its tail could
 * never be read. The engine aligns the guest's requests itself. */
static int direct_check(const char *field, const char *image, const struct stat *st, char *err,
                        size_t errlen)
{
	int fd;

	if (S_ISREG(st->st_mode) && st->st_size % 512)
		return uv_def_fail(err, errlen,
		                   "%s: %s: %lld bytes, not a whole number of 512-byte sectors, "
		                   "which a direct disk needs",
		                   field, image, (long long)st->st_size);
	fd = open(image, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return uv_def_fail(err, errlen, "%s: %s: cannot be opened for direct I/O: %s",
		                   field, image, strerror(errno));
	close(fd);
	return 0;
}

static int image_check(const char *field, const struct uv_disk_req *k, int check_files, char *err,
                       size_t errlen)
{
	struct stat st;

	if (!memchr(k->image, 0, sizeof(k->image)))
		return uv_def_fail(err, errlen, "%s: path is not NUL-terminated", field);
	if (!k->image[0])
		return uv_def_fail(err, errlen, "%s: path is empty", field);
	if (!check_files)
		return 0;
	if (stat(k->image, &st) != 0)
		return uv_def_fail(err, errlen, "%s: %s: %s", field, k->image, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return uv_def_fail(err, errlen, "%s: %s: not a regular file or block device", field,
		                   k->image);
	if (access(k->image, (k->flags & UV_DEV_F_READONLY) ? R_OK : R_OK | W_OK) != 0)
		return uv_def_fail(err, errlen, "%s: %s: %s", field, k->image, strerror(errno));
	return (k->flags & UV_DISK_F_DIRECT) ? direct_check(field, k->image, &st, err, errlen) : 0;
}

/* Limits belong to the disks asked for; a limit beyond them, or a reserved bit, is a torn or
 * hostile record. Any positive value is enforceable; zero means none. */
static int limits_check(const struct uv_partition_desc *d, char *err, size_t errlen)
{
	char at[32];

	for (uint32_t i = 0; i < UV_DISKS_MAX; i++) {
		const struct uv_disk_limit *l = &d->disk_limit[i];

		snprintf(at, sizeof(at), "disks[%u].limits", i);
		if (uv_disk_limit_check(l, at, err, errlen))
			return -EINVAL;
		if (i >= d->n_disk && !uv_disk_limit_none(l))
			return uv_def_fail(err, errlen, "disks[%u].limits: no such disk", i);
	}
	return 0;
}

static int disks_check(const struct uv_partition_desc *d, int check_files, char *err, size_t errlen)
{
	char field[32];
	uint32_t i, j;
	int r;

	if ((r = limits_check(d, err, errlen)))
		return r;
	for (i = 0; i < d->n_disk; i++) {
		const struct uv_disk_req *k = &d->disk[i];

		if (k->flags & ~(UV_DEV_F_READONLY | UV_DISK_F_DIRECT) || k->reserved)
			return uv_def_fail(err, errlen, "disks[%u]: unknown flags 0x%x", i,
			                   k->flags);
		snprintf(field, sizeof(field), "disks[%u].image", i);
		if ((r = image_check(field, k, check_files, err, errlen)))
			return r;
		for (j = 0; j < i; j++)
			if (!strcmp(d->disk[j].image, k->image))
				return uv_def_fail(err, errlen, "%s: %s is disks[%u] already",
				                   field, k->image, j);
	}
	return 0;
}

static int nics_check(const struct uv_partition_desc *d, char *err, size_t errlen)
{
	char field[32];
	uint32_t i;
	int r;

	for (i = 0; i < d->n_nic; i++) {
		if (d->nic[i].flags || d->nic[i].reserved)
			return uv_def_fail(err, errlen, "nics[%u]: unknown flags 0x%x", i,
			                   d->nic[i].flags);
		snprintf(field, sizeof(field), "nics[%u].switch", i);
		if ((r = uv_desc_label_check(field, d->nic[i].sw, sizeof(d->nic[i].sw), err,
		                             errlen)))
			return r;
	}
	return 0;
}

static int chans_check(const struct uv_partition_desc *d, char *err, size_t errlen)
{
	char field[32];
	uint32_t i, j;
	int r;

	for (i = 0; i < d->n_chan; i++) {
		const struct uv_chan_req *c = &d->chan[i];
		uint64_t sz = c->size;

		snprintf(field, sizeof(field), "channels[%u].peer", i);
		if ((r = uv_desc_label_check(field, c->peer, sizeof(c->peer), err, errlen)))
			return r;
		if (!strncmp(c->peer, d->name, sizeof(c->peer)))
			return uv_def_fail(err, errlen, "%s: a partition has no channel to itself",
			                   field);
		for (j = 0; j < i; j++)
			if (!strcmp(d->chan[j].peer, c->peer))
				return uv_def_fail(err, errlen,
				                   "%s: channels[%u] goes to %s already", field, j,
				                   c->peer);
		/* An ivshmem BAR: a power of two. */
		if (sz < UV_CHAN_MEM_MIN || sz > UV_CHAN_MEM_MAX || (sz & (sz - 1)) || sz % 1024)
			return uv_def_fail(
			    err, errlen,
			    "channels[%u].size_kib: %llu is not a power of two in %u..%llu", i,
			    (unsigned long long)(sz >> 10), UV_CHAN_MEM_MIN >> 10,
			    (unsigned long long)(UV_CHAN_MEM_MAX >> 10));
	}
	return 0;
}

int uv_desc_check_requests(const struct uv_partition_desc *d, int check_files, char *err,
                           size_t errlen)
{
	int r;

	if (d->n_disk > UV_DISKS_MAX)
		return uv_def_fail(err, errlen, "disks: %u entries, at most %d", d->n_disk,
		                   UV_DISKS_MAX);
	if (d->n_nic > UV_NICS_MAX)
		return uv_def_fail(err, errlen, "nics: %u entries, at most %d", d->n_nic,
		                   UV_NICS_MAX);
	if (d->n_chan > UV_CHANNELS_MAX)
		return uv_def_fail(err, errlen, "channels: %u entries, at most %d", d->n_chan,
		                   UV_CHANNELS_MAX);
	if (d->reserved)
		return uv_def_fail(err, errlen, "descriptor: reserved field is not zero");
	/* Each disk and NIC becomes one more device when the partition starts. */
	if (d->n_dev <= UV_DEVICES_MAX && d->n_dev + d->n_disk + d->n_nic > UV_DEVICES_MAX)
		return uv_def_fail(err, errlen,
		                   "disks: %u devices, %u disks and %u NICs make more than %d "
		                   "devices",
		                   d->n_dev, d->n_disk, d->n_nic, UV_DEVICES_MAX);
	if ((r = disks_check(d, check_files, err, errlen)) || (r = nics_check(d, err, errlen)))
		return r;
	return chans_check(d, err, errlen);
}
