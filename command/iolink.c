/* SPDX-License-Identifier: MIT */
/*
 * The command partition's link to the I/O partition's control socket (include/ultra/io_ctl.h):
 * one request, one reply. The connection is made when first needed and again whenever it broke,
 * so a restarted ultra-io is simply reached at the same path.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "command.h"
#include "engine_uid.h"
#include "fdpass.h"
#include "unixsock.h"

#define REPLY_MAX                                                                                  \
	(sizeof(struct uv_ioctl_msg) + UV_IOCTL_EXPORTS_MAX * sizeof(struct uv_ioctl_export))

void cmd_io_close(struct cmdp *c)
{
	if (c->io_fd >= 0)
		close(c->io_fd);
	c->io_fd = -1;
}

static int io_connect(struct cmdp *c)
{
	struct timeval tv = {CMD_TIMEOUT_MS / 1000, 0};
	int fd;

	if (c->io_fd >= 0)
		return 0;
	fd = uv_unix_connect(c->io_path, SOCK_SEQPACKET);
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->io_fd = fd;
	return 0;
}

static int exchange(struct cmdp *c, const void *req, size_t len, const int *fds, unsigned nfds,
                    uint8_t *buf, ssize_t *got)
{
	unsigned n_in = 0;
	int r, junk[2];

	if ((r = io_connect(c)))
		return r;
	if ((r = uv_send_fds(c->io_fd, req, len, fds, nfds)))
		return r;
	*got = uv_recv_fds(c->io_fd, buf, REPLY_MAX, junk, 2, &n_in);
	while (n_in)
		close(junk[--n_in]);
	if (*got < 0)
		return (int)*got;
	return *got == 0 ? -ECONNRESET : 0;
}

/* Sends op (with x when not NULL) and returns the reply's status; LIST's exports in out. */
static int call(struct cmdp *c, uint32_t op, const struct uv_ioctl_export *x, const int *fds,
                unsigned nfds, struct uv_ioctl_export *out, unsigned *n_out)
{
	uint8_t req[sizeof(struct uv_ioctl_msg) + sizeof(struct uv_ioctl_export)];
	struct uv_ioctl_msg m = {.magic = UV_IOCTL_MAGIC,
	                         .version = UV_IOCTL_VERSION,
	                         .hdr_size = sizeof(m),
	                         .op = op,
	                         .count = x ? 1 : 0};
	uint8_t *buf = malloc(REPLY_MAX);
	ssize_t got = 0;
	int r = -ENOMEM, tries;

	if (!buf)
		return r;
	memcpy(req, &m, sizeof(m));
	if (x)
		memcpy(req + sizeof(m), x, sizeof(*x));
	/* A broken connection (ultra-io restarted) is made again once: nothing was applied. */
	for (tries = 0; tries < 2; tries++) {
		r = exchange(c, req, sizeof(m) + m.count * sizeof(*x), fds, nfds, buf, &got);
		if (r != -EPIPE && r != -ECONNRESET && r != -ENOTCONN)
			break;
		cmd_io_close(c);
	}
	if (r) {
		cmd_io_close(c);
		goto out;
	}
	memcpy(&m, buf, (size_t)got < sizeof(m) ? (size_t)got : sizeof(m));
	if ((size_t)got >= sizeof(m) && m.magic == UV_IOCTL_MAGIC &&
	    m.version != UV_IOCTL_VERSION) {
		/* Said here, once a call, with both versions: the caller only hears the errno. */
		fprintf(stderr,
		        "ultra-command: ultra-io speaks io control version %u, this command "
		        "partition %u: run the same build of both\n",
		        m.version, UV_IOCTL_VERSION);
		cmd_io_close(c);
		r = -EPROTONOSUPPORT;
		goto out;
	}
	if ((size_t)got < sizeof(m) || m.magic != UV_IOCTL_MAGIC || m.op != op ||
	    (size_t)got != sizeof(m) + (size_t)m.count * sizeof(*x) ||
	    m.count > UV_IOCTL_EXPORTS_MAX) {
		cmd_io_close(c);
		r = -EPROTO;
		goto out;
	}
	r = m.status;
	if (out && n_out) {
		memcpy(out, buf + sizeof(m), m.count * sizeof(*x));
		*n_out = m.count;
	}
out:
	free(buf);
	return r;
}

int cmd_io_list(struct cmdp *c, struct uv_ioctl_export *out, unsigned *n)
{
	return call(c, UV_IOCTL_LIST, NULL, NULL, 0, out, n);
}

int cmd_io_remove(struct cmdp *c, const char *path)
{
	struct uv_ioctl_export x = {0};

	snprintf(x.path, sizeof(x.path), "%s", path);
	return call(c, UV_IOCTL_REMOVE, &x, NULL, 0, NULL, NULL);
}

int cmd_io_set_limit(struct cmdp *c, const char *path, const struct uv_disk_limit *lim)
{
	struct uv_ioctl_export x = {.limit = *lim};

	if (strlen(path) >= UV_IOCTL_PATH_MAX)
		return -ENAMETOOLONG;
	snprintf(x.path, sizeof(x.path), "%s", path);
	return call(c, UV_IOCTL_SET_LIMIT, &x, NULL, 0, NULL, NULL);
}

/* The export's socket, bound here with no permissions for anybody but partition part's
 * engine, which owns it (lib/engine_uid.h): it reconnects by path after an ultra-io restart. */
static int listen_at(struct cmdp *c, uint32_t part, const char *path)
{
	mode_t old = umask(077);
	int fd = uv_unix_listen(path, SOCK_STREAM | SOCK_NONBLOCK, 16), r;
	uid_t uid;

	umask(old);
	if (fd < 0)
		return fd;
	if ((r = uv_engine_uid(c->uid_base_v, part, &uid)) == 0 && chown(path, uid, (gid_t)uid) < 0)
		r = -errno;
	if (r) {
		close(fd);
		unlink(path);
		return r;
	}
	return fd;
}

/* ultra-io cannot ask a block device its size in its sandbox: we tell it (0: a file). */
static uint64_t image_size(int fd)
{
	uint64_t size = 0;
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size))
		size = 0;
	return size;
}

int cmd_io_add_blk(struct cmdp *c, uint32_t part, const char *path, const char *image,
                   uint32_t flags, const struct uv_disk_limit *lim)
{
	struct uv_ioctl_export x = {
	    .kind = UV_DEV_VHOST_USER_BLK, .flags = flags, .partition = part};
	int fds[2] = {-1, -1}, r;

	if (strlen(path) >= UV_IOCTL_PATH_MAX)
		return -ENAMETOOLONG;
	if (lim)
		x.limit = *lim;
	snprintf(x.path, sizeof(x.path), "%s", path);
	fds[1] = open(image, ((flags & UV_DEV_F_READONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fds[1] < 0)
		return -errno;
	x.size = image_size(fds[1]);
	fds[0] = listen_at(c, part, path);
	r = fds[0] < 0 ? fds[0] : call(c, UV_IOCTL_ADD_BLK, &x, fds, 2, NULL, NULL);
	if (fds[0] >= 0)
		close(fds[0]); /* ultra-io holds its own copy now */
	if (fds[0] >= 0 && r)
		unlink(path);
	close(fds[1]);
	return r;
}

/* The fast path: the image opened as the engine will have it (O_DIRECT) goes to ultra-io only
 * so that it knows the image is taken and can say no; nothing is bound, nothing served. */
int cmd_io_add_direct(struct cmdp *c, uint32_t part, const char *path, const char *image,
                      uint32_t flags)
{
	struct uv_ioctl_export x = {.kind = UV_DEV_DIRECT_BLK, .flags = flags, .partition = part};
	int mode = (flags & UV_DEV_F_READONLY) ? O_RDONLY : O_RDWR;
	int fd, r;

	if (strlen(path) >= UV_IOCTL_PATH_MAX)
		return -ENAMETOOLONG;
	snprintf(x.path, sizeof(x.path), "%s", path);
	fd = open(image, mode | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	x.size = image_size(fd);
	r = call(c, UV_IOCTL_ADD_DIRECT, &x, &fd, 1, NULL, NULL);
	close(fd);
	return r;
}

int cmd_io_add_net(struct cmdp *c, uint32_t part, const char *path, const char *sw)
{
	struct uv_ioctl_export x = {.kind = UV_DEV_VHOST_USER_NET, .partition = part};
	int fd, r;

	if (strlen(path) >= UV_IOCTL_PATH_MAX)
		return -ENAMETOOLONG;
	snprintf(x.path, sizeof(x.path), "%s", path);
	snprintf(x.sw, sizeof(x.sw), "%s", sw);
	fd = listen_at(c, part, path);
	if (fd < 0)
		return fd;
	r = call(c, UV_IOCTL_ADD_NET, &x, &fd, 1, NULL, NULL);
	close(fd);
	if (r)
		unlink(path);
	return r;
}
