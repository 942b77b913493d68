/* SPDX-License-Identifier: MIT */
/* Finding the cpu controller and turning a partition's CPU share into cgroup settings. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgcpu.h"

int uv_cg_read_file(const char *dir, const char *leaf, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, r = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, leaf) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		r = -errno;
	else
		buf[n] = 0;
	close(fd);
	return r;
}

int uv_cg_write_file(const char *dir, const char *leaf, const char *val)
{
	char path[PATH_MAX];
	size_t len = strlen(val);
	int fd, r = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, leaf) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* cgroup files take a value in one write and report a bad one as the write's error. */
	if (write(fd, val, len) != (ssize_t)len)
		r = errno ? -errno : -EIO;
	close(fd);
	return r;
}

static bool has_word(const char *list, const char *word, const char *seps)
{
	size_t wl = strlen(word);

	for (const char *s = list; *s;) {
		size_t n = strcspn(s, seps);
		if (n == wl && !strncmp(s, word, wl))
			return true;
		s += n;
		s += strspn(s, seps);
	}
	return false;
}

/* /proc/mounts writes space, tab, newline and backslash in paths as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = 0;
}

static void take(enum uv_cg_kind *kind, char *root, enum uv_cg_kind k, const char *dir)
{
	/* The unified hierarchy wins when it has the controller: the kernel binds a controller to
	 * one hierarchy only, so both cannot have it, but an empty v1 mount of it may linger. */
	if (*kind == UV_CG_V2 || strlen(dir) >= PATH_MAX)
		return;
	*kind = k;
	snprintf(root, PATH_MAX, "%s", dir);
}

int uv_cg_detect(const char *mounts_path, struct uv_cg_layout *out)
{
	struct uv_cg_layout l = {0};
	char line[8192], dev[256], dir[4096], type[64], opts[2048], ctl[1024];
	FILE *f = fopen(mounts_path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s %2047s", dev, dir, type, opts) != 4)
			continue;
		unescape(dir);
		if (!strcmp(type, "cgroup2")) {
			if (uv_cg_read_file(dir, "cgroup.controllers", ctl, sizeof(ctl)))
				continue;
			if (has_word(ctl, "cpu", " \n"))
				take(&l.cpu_kind, l.cpu_root, UV_CG_V2, dir);
			if (has_word(ctl, "cpuset", " \n"))
				take(&l.cpuset_kind, l.cpuset_root, UV_CG_V2, dir);
			if (has_word(ctl, "io", " \n"))
				take(&l.io_kind, l.io_root, UV_CG_V2, dir);
		} else if (!strcmp(type, "cgroup")) {
			if (has_word(opts, "cpu", ","))
				take(&l.cpu_kind, l.cpu_root, UV_CG_V1, dir);
			if (has_word(opts, "cpuset", ","))
				take(&l.cpuset_kind, l.cpuset_root, UV_CG_V1, dir);
			if (has_word(opts, "blkio", ","))
				take(&l.io_kind, l.io_root, UV_CG_V1, dir);
		}
	}
	fclose(f);
	*out = l;
	return 0;
}

int uv_cpu_limits(uint32_t share_milli, struct uv_cpu_limits *out)
{
	struct uv_cpu_limits l = {.period_us = UV_CG_PERIOD_US};
	uint64_t s = share_milli;

	if (!share_milli)
		return -EINVAL;
	l.quota_us = s * l.period_us / 1000;
	if (l.quota_us < UV_CG_QUOTA_MIN_US) {
		/* share/1000 = quota/period with quota >= 1 ms: a 1 s period fits down to 0.001 */
		l.period_us = UV_CG_PERIOD_MAX_US;
		l.quota_us = s * l.period_us / 1000;
	}
	l.shares_v1 = (uint32_t)(s * 1024 / 1000);
	l.shares_v1 = l.shares_v1 < 2 ? 2 : l.shares_v1 > 262144 ? 262144 : l.shares_v1;
	l.weight_v2 = (uint32_t)((s * 100 + 500) / 1000);
	l.weight_v2 = l.weight_v2 < 1 ? 1 : l.weight_v2 > 10000 ? 10000 : l.weight_v2;
	*out = l;
	return 0;
}

uint32_t uv_cpu_share_of(uint64_t quota_us, uint64_t period_us)
{
	if (!quota_us || !period_us)
		return 0;
	return (uint32_t)((quota_us * 1000 + period_us / 2) / period_us);
}

int uv_cg_path(const char *root, const char *name, char *out, size_t outlen)
{
	int n;

	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	n = snprintf(out, outlen, "%s/%s/%s", root, UV_CG_PARENT, name);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int uv_cg_write_limits(const char *dir, enum uv_cg_kind kind, uint32_t share_milli)
{
	struct uv_cpu_limits l = {
	    .period_us = UV_CG_PERIOD_US, .shares_v1 = 1024, .weight_v2 = 100};
	char buf[64];
	int r;

	if (share_milli && (r = uv_cpu_limits(share_milli, &l)))
		return r;
	if (kind == UV_CG_V2) {
		if (l.quota_us)
			snprintf(buf, sizeof(buf), "%" PRIu64 " %" PRIu64, l.quota_us, l.period_us);
		else
			snprintf(buf, sizeof(buf), "max %" PRIu64, l.period_us);
		if ((r = uv_cg_write_file(dir, "cpu.max", buf)))
			return r;
		snprintf(buf, sizeof(buf), "%u", l.weight_v2);
		return uv_cg_write_file(dir, "cpu.weight", buf);
	}
	if (kind != UV_CG_V1)
		return -EINVAL;
	/* Lift the quota first: the kernel checks each write against the other value. */
	if ((r = uv_cg_write_file(dir, "cpu.cfs_quota_us", "-1")))
		return r;
	snprintf(buf, sizeof(buf), "%" PRIu64, l.period_us);
	if ((r = uv_cg_write_file(dir, "cpu.cfs_period_us", buf)))
		return r;
	if (l.quota_us) {
		snprintf(buf, sizeof(buf), "%" PRIu64, l.quota_us);
		if ((r = uv_cg_write_file(dir, "cpu.cfs_quota_us", buf)))
			return r;
	}
	snprintf(buf, sizeof(buf), "%u", l.shares_v1);
	return uv_cg_write_file(dir, "cpu.shares", buf);
}

static int read_u64(const char *dir, const char *leaf, int64_t *v)
{
	char buf[64], *end;
	int r = uv_cg_read_file(dir, leaf, buf, sizeof(buf));

	if (r)
		return r;
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return errno || end == buf ? -EPROTO : 0;
}

int uv_cg_read_share(const char *dir, enum uv_cg_kind kind, uint32_t *share_milli)
{
	int64_t quota, period;
	char buf[64], *end;
	int r;

	if (kind == UV_CG_V2) {
		if ((r = uv_cg_read_file(dir, "cpu.max", buf, sizeof(buf))))
			return r;
		if (!strncmp(buf, "max", 3)) {
			*share_milli = 0;
			return 0;
		}
		quota = strtoll(buf, &end, 10);
		period = strtoll(end, NULL, 10);
	} else if (kind == UV_CG_V1) {
		if ((r = read_u64(dir, "cpu.cfs_quota_us", &quota)) ||
		    (r = read_u64(dir, "cpu.cfs_period_us", &period)))
			return r;
	} else {
		return -EINVAL;
	}
	if (period <= 0)
		return -EPROTO;
	*share_milli = quota <= 0 ? 0 : uv_cpu_share_of((uint64_t)quota, (uint64_t)period);
	return 0;
}
