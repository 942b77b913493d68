/* SPDX-License-Identifier: MIT */
/*
 * Files the engine needs, opened by the monitor and inherited (claims 13, 59): the engine runs
 * as the partition's own uid (engine_cred.c) and reaches its kernel, initrd, console log, block
 * images and channel files only through these fds, never by walking a path. So the run
 * directory and the folders holding images stay closed to it, and it can reach nothing else
 * there.
 *
 * QEMU opens the kernel, the initrd and a channel file by name, so it gets /proc/self/fd/N:
 * that reopen walks no directory but the kernel still checks the file's own mode against the
 * engine's uid, so each is checked here first for a clear error. The console log and block
 * images go through QEMU's fd sets (/dev/fdset/S), which only dup the fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor.h"

#define DUP_ONLY 1 /* QEMU only dups the fd (an fd set): the file's mode is not its business */
#define BLKDEV_OK 2

/* Opens path with flags; unless DUP_ONLY, the engine must pass the file's mode for want. */
static int open_for_engine(const char *what, const char *path, int flags, const struct mon_cred *c,
                           int want, int how, int *fd_out, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, flags | O_CLOEXEC, 0600), r;

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 ||
	    !(S_ISREG(st.st_mode) || (how & BLKDEV_OK && S_ISBLK(st.st_mode)))) {
		snprintf(err, errlen, "%s %s: not a regular file%s", what, path,
		         how & BLKDEV_OK ? " or block device" : "");
		close(fd);
		return -EINVAL;
	}
	if (!(how & DUP_ONLY) && !mon_cred_may(c, &st, want)) {
		snprintf(err, errlen,
		         "%s %s: the engine (uid %u) may not %s it (mode %04o, owner %u:%u); make "
		         "it %s",
		         what, path, (unsigned)c->uid, want & W_OK ? "read and write" : "read",
		         (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
		         want & W_OK ? "the partition's (chown) or mode 0666 in a closed folder"
		                     : "world-readable");
		close(fd);
		return -EACCES;
	}
	*fd_out = fd;
	return 0;
}

int mon_boot_files_open(const struct monitor *m, const struct mon_cred *c, int *fds, char *err,
                        size_t errlen)
{
	const struct uv_partition_desc *d = m->desc;
	int f[3] = {-1, -1, -1}, r;

	/* The log stays root's and is the console relay's to write (console.c): the engine holds
	 * it read-only, only so that its command line names it. */
	r = open_for_engine("console log", m->paths.console_log, O_RDONLY | O_CREAT, c, R_OK,
	                    DUP_ONLY, &f[0], err, errlen);
	if (!r)
		r = open_for_engine("kernel", d->kernel, O_RDONLY, c, R_OK, 0, &f[1], err, errlen);
	if (!r && d->initrd[0])
		r = open_for_engine("initrd", d->initrd, O_RDONLY, c, R_OK, 0, &f[2], err, errlen);
	if (r) {
		for (int i = 0; i < 3; i++)
			if (f[i] >= 0)
				close(f[i]);
		return r;
	}
	memcpy(fds, f, sizeof(f));
	return 0;
}

bool mon_dev_is_file(const struct uv_device *v)
{
	return v->kind == UV_DEV_BLK || v->kind == UV_DEV_CHANNEL;
}

int mon_dev_files_open(const struct monitor *m, const struct mon_cred *c, int *fds, unsigned *n,
                       char *err, size_t errlen)
{
	const struct uv_partition_desc *d = m->desc;
	unsigned got = 0;
	int r;

	for (uint32_t i = 0; i < d->n_dev && i < UV_DEVICES_MAX; i++) {
		const struct uv_device *v = &d->dev[i];
		bool ro = v->flags & UV_DEV_F_READONLY;

		if (!mon_dev_is_file(v))
			continue;
		if (v->kind == UV_DEV_BLK) /* an fd set: QEMU dups it, no mode check */
			r = open_for_engine("disk", v->path, ro ? O_RDONLY : O_RDWR, c, 0,
			                    DUP_ONLY | BLKDEV_OK, &fds[got], err, errlen);
		else /* mapped shared by path (/proc/self/fd/N): the file's mode must allow it */
			r = open_for_engine("channel", v->path, O_RDWR, c, R_OK | W_OK, 0,
			                    &fds[got], err, errlen);
		if (r < 0) {
			while (got)
				close(fds[--got]);
			return r;
		}
		got++;
	}
	*n = got;
	return 0;
}
