/* SPDX-License-Identifier: MIT */
/* A direct disk's I/O limit as cgroup settings (cgio.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cgio.h"
#include "disk_limit.h"

/* Names for the file systems an image is most likely to be found on without a device. */
static const char *fs_name(long type)
{
	switch ((unsigned long)type) {
	case 0x01021994:
		return "tmpfs";
	case 0x794c7630:
		return "overlay";
	case 0x9123683e:
		return "btrfs";
	case 0x6969:
		return "nfs";
	case 0x65735546:
		return "fuse";
	case 0x2fc12fc1:
		return "zfs";
	default:
		return "a file system";
	}
}

/* A partition's sysfs directory has a "partition" file; its parent is the whole disk. */
static int whole_disk(const char *sys_root, unsigned *major, unsigned *minor)
{
	char path[PATH_MAX], buf[64];
	unsigned ma, mi;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/dev/block/%u:%u/partition", sys_root, *major, *minor);
	if (access(path, F_OK) != 0)
		return 0;
	snprintf(path, sizeof(path), "%s/dev/block/%u:%u/../dev", sys_root, *major, *minor);
	if (!(f = fopen(path, "re")))
		return -errno;
	n = fgets(buf, sizeof(buf), f) && sscanf(buf, "%u:%u", &ma, &mi) == 2;
	fclose(f);
	if (!n)
		return -EINVAL;
	*major = ma;
	*minor = mi;
	return 0;
}

int uv_cg_io_device(const char *image, const char *sys_root, unsigned *major, unsigned *minor,
                    char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct statfs fs;
	struct stat st;
	unsigned ma, mi;
	dev_t dev;
	int r;

	if (stat(image, &st) != 0) {
		r = -errno;
		snprintf(why, whylen, "%s: %s", image, strerror(errno));
		return r;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file or block device", image);
		return -EINVAL;
	}
	dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
	ma = major(dev);
	mi = minor(dev);
	snprintf(path, sizeof(path), "%s/dev/block/%u:%u", sys_root, ma, mi);
	if (ma == 0 || access(path, F_OK) != 0) {
		long type = statfs(image, &fs) == 0 ? (long)fs.f_type : 0;

		snprintf(why, whylen,
		         "%s is on %s (0x%lx) with no block device of its own (device %u:%u), so "
		         "the kernel cannot limit its I/O; put the image on a disk's file system",
		         image, fs_name(type), (unsigned long)type, ma, mi);
		return -ENODEV;
	}
	if ((r = whole_disk(sys_root, &ma, &mi))) {
		snprintf(why, whylen, "%s: the disk holding partition %u:%u: %s", image, ma, mi,
		         strerror(-r));
		return r;
	}
	*major = ma;
	*minor = mi;
	return 0;
}

int uv_cg_io_enforceable(const char *mounts_path, const char *image, const char *sys_root,
                         char *why, size_t whylen)
{
	struct uv_cg_layout cg;
	unsigned ma, mi;
	int r;

	if (uv_cg_detect(mounts_path, &cg) == 0 && !cg.io_kind) {
		snprintf(why, whylen, "%s", UV_CG_IO_MISSING);
		return -ENOTSUP;
	}
	r = uv_cg_io_device(image, sys_root, &ma, &mi, why, whylen);
	return r == -ENODEV ? r : 0;
}

static int write_v1(const char *dir, const char *leaf, unsigned ma, unsigned mi, uint64_t v)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%u:%u %" PRIu64, ma, mi, v); /* 0 lifts the limit */
	return uv_cg_write_file(dir, leaf, buf);
}

/* "max" for no limit, else the number: io.max's spelling. */
static void v2_value(char *out, size_t cap, uint64_t v)
{
	if (v)
		snprintf(out, cap, "%" PRIu64, v);
	else
		snprintf(out, cap, "max");
}

int uv_cg_write_io_limits(const char *dir, enum uv_cg_kind kind, unsigned major, unsigned minor,
                          const struct uv_disk_limit *lim)
{
	char buf[160], rops[24], wops[24], rbps[24], wbps[24];
	int r;

	if (kind == UV_CG_V2) {
		v2_value(rops, sizeof(rops), uv_disk_limit_read_iops(lim));
		v2_value(wops, sizeof(wops), uv_disk_limit_write_iops(lim));
		v2_value(rbps, sizeof(rbps), uv_disk_limit_read_bps(lim));
		v2_value(wbps, sizeof(wbps), uv_disk_limit_write_bps(lim));
		snprintf(buf, sizeof(buf), "%u:%u riops=%s wiops=%s rbps=%s wbps=%s", major, minor,
		         rops, wops, rbps, wbps);
		return uv_cg_write_file(dir, "io.max", buf);
	}
	if (kind != UV_CG_V1)
		return -EINVAL;
	if ((r = write_v1(dir, "blkio.throttle.read_iops_device", major, minor,
	                  uv_disk_limit_read_iops(lim))) ||
	    (r = write_v1(dir, "blkio.throttle.write_iops_device", major, minor,
	                  uv_disk_limit_write_iops(lim))) ||
	    (r = write_v1(dir, "blkio.throttle.read_bps_device", major, minor,
	                  uv_disk_limit_read_bps(lim))))
		return r;
	return write_v1(dir, "blkio.throttle.write_bps_device", major, minor,
	                uv_disk_limit_write_bps(lim));
}
