/* SPDX-License-Identifier: MIT */
/*
 * Exports added at run time (claims 17-19, 53): the command partition places a partition's disks
 * and NICs here when it starts and takes them away when it stops. It opens each image and binds
 * each export's socket itself and passes the fds (SCM_RIGHTS), so the sandbox keeps forbidding
 * open, socket and bind; the io_uring instances disks need are made before the sandbox too.
 * We keep no state file: after a restart the command partition sends the exports again.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <ultra/io_ctl.h>
#include <unistd.h>

#include "disk_limit.h"
#include "fdpass.h"
#include "io_control.h"
#include "unixsock.h"
#include "vhost_blk.h"
#include "vhost_net.h"

#define CTL_CLIENTS 4
#define CTL_RINGS 16

struct ctl_client {
	int fd;
	struct vhu_watch watch;
	struct io_control *ctl;
};

struct ctl_export {
	bool used;
	bool removing; /* unexported, its device not yet released by the server */
	struct uv_ioctl_export info;
	struct vhost_blk *blk;
	struct vhost_net *net;
	struct io_control *ctl;
};

struct io_control {
	struct vhu_server *s;
	io_switch_fn switch_for;
	void *sw_ctx;
	char *path;
	int fd;
	struct vhu_watch watch;
	struct ctl_client clients[CTL_CLIENTS];
	struct ctl_export exp[UV_IOCTL_EXPORTS_MAX];
	struct io_uring rings[CTL_RINGS]; /* a stack of unused rings */
	unsigned nrings;
};

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

static struct ctl_export *export_named(struct io_control *c, const char *path)
{
	for (unsigned i = 0; i < UV_IOCTL_EXPORTS_MAX; i++)
		if (c->exp[i].used && !c->exp[i].removing && !strcmp(c->exp[i].info.path, path))
			return &c->exp[i];
	return NULL;
}

static struct ctl_export *free_export(struct io_control *c)
{
	for (unsigned i = 0; i < UV_IOCTL_EXPORTS_MAX; i++)
		if (!c->exp[i].used)
			return &c->exp[i];
	return NULL;
}

/* An image is in one export or direct disk at most: two writers would wreck its file system. */
static bool image_in_use(const struct io_control *c, const struct stat *st)
{
	for (unsigned i = 0; i < UV_IOCTL_EXPORTS_MAX; i++) {
		const struct ctl_export *x = &c->exp[i];

		if (x->used && !x->removing && x->info.kind != UV_DEV_VHOST_USER_NET &&
		    x->info.image_dev == (uint64_t)st->st_dev &&
		    x->info.image_ino == (uint64_t)st->st_ino)
			return true;
	}
	return false;
}

static void device_free(struct ctl_export *x)
{
	struct io_uring ring;

	/* The ring goes back on the stack for the next disk (none can be made any more). */
	if (x->blk && disk_raw_give_ring(x->blk->disk, &ring) == 0) {
		if (x->ctl->nrings < CTL_RINGS)
			x->ctl->rings[x->ctl->nrings++] = ring;
		else
			io_uring_queue_exit(&ring);
	}
	if (x->blk)
		vhost_blk_free(x->blk);
	if (x->net)
		vhost_net_free(x->net);
	x->blk = NULL;
	x->net = NULL;
	x->used = x->removing = false;
}

static void released(struct vhu_device *dev, void *ctx)
{
	(void)dev;
	device_free(ctx);
}

static bool ctl_str_ok(const char *s, size_t cap) { return memchr(s, 0, cap) && s[0]; }

/* fds[0] is the listening socket, taken over on success; fds[1] the image, taken over once
 * *image_taken says so. */
static int add_disk(struct io_control *c, struct ctl_export *x, const int *fds, bool *image_taken)
{
	const struct uv_ioctl_export *in = &x->info;
	struct io_uring *ring = c->nrings ? &c->rings[c->nrings - 1] : NULL;
	struct disk *disk = NULL;
	char what[200];
	struct stat st;
	int r;

	if (in->flags & ~UV_DEV_F_READONLY)
		return -EINVAL;
	if (fstat(fds[1], &st) < 0)
		return -errno;
	if (image_in_use(c, &st))
		return -EBUSY;
	r = disk_raw_adopt(fds[1], in->size, in->flags & UV_DEV_F_READONLY, ring, &disk);
	if (r < 0)
		return r;
	*image_taken = true;
	if (ring)
		c->nrings--;
	x->info.image_dev = (uint64_t)st.st_dev;
	x->info.image_ino = (uint64_t)st.st_ino;
	x->info.size = disk->size;
	r = vhost_blk_new(x->info.path, disk, &x->blk);
	if (r < 0) {
		if (ring && disk_raw_give_ring(disk, ring) == 0)
			c->nrings++;
		disk->ops->close(disk);
		return r;
	}
	r = vhost_blk_limit(x->blk, c->s, &in->limit);
	if (r == 0)
		r = vhu_server_adopt_for(c->s, fds[0], x->info.path, &x->blk->dev,
		                         x->info.partition);
	if (r < 0) {
		device_free(x);
		return r;
	}
	fprintf(stderr, "ultra-io: %s: serving an image of %llu bytes%s to partition %u (added)\n",
	        x->info.path, (unsigned long long)disk->size, disk->read_only ? ", read-only" : "",
	        x->info.partition);
	if (!uv_disk_limit_none(&in->limit)) {
		uv_disk_limit_describe(&in->limit, what, sizeof(what));
		fprintf(stderr, "ultra-io: %s: limited to %s\n", x->info.path, what);
	}
	return 0;
}

/* The fast path: the client's engine does this disk's I/O itself (O_DIRECT), so there is
 * nothing to serve; we record the image as taken and check the fd is what the grant says. */
static int add_direct(struct io_control *c, struct ctl_export *x, int fd)
{
	bool ro = x->info.flags & UV_DEV_F_READONLY;
	int fl = fcntl(fd, F_GETFL);
	struct stat st;

	if (x->info.flags & ~UV_DEV_F_READONLY || fl < 0 || !(fl & O_DIRECT))
		return -EINVAL;
	if ((fl & O_ACCMODE) != (ro ? O_RDONLY : O_RDWR))
		return -EACCES; /* e.g. an image only readable, asked for writing */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;
	if (image_in_use(c, &st))
		return -EBUSY;
	x->info.image_dev = (uint64_t)st.st_dev;
	x->info.image_ino = (uint64_t)st.st_ino;
	if (S_ISREG(st.st_mode))
		x->info.size = (uint64_t)st.st_size;
	close(fd);
	fprintf(stderr,
	        "ultra-io: %s: a direct disk of %llu bytes%s (added; not on our data path)\n",
	        x->info.path, (unsigned long long)x->info.size, ro ? ", read-only" : "");
	return 0;
}

static int add_nic(struct io_control *c, struct ctl_export *x, const int *fds)
{
	struct vswitch *sw;
	int r;

	if (x->info.flags || !ctl_str_ok(x->info.sw, sizeof(x->info.sw)))
		return -EINVAL;
	sw = c->switch_for(c->sw_ctx, x->info.sw);
	if (!sw)
		return -ENOSPC;
	r = vhost_net_new(x->info.path, sw, true, &x->net);
	if (r < 0)
		return r;
	r = vhu_server_adopt_for(c->s, fds[0], x->info.path, &x->net->dev, x->info.partition);
	if (r < 0) {
		vhost_net_free(x->net);
		x->net = NULL;
		return r;
	}
	fprintf(stderr, "ultra-io: %s: port of switch %s for partition %u (added)\n", x->info.path,
	        x->info.sw, x->info.partition);
	return 0;
}

/* ADD_BLK / ADD_NET: on success the fds belong to the export; on failure to the caller, but
 * for an image the disk took (*image_taken). */
static int add_export(struct io_control *c, uint32_t op, const struct uv_ioctl_export *in,
                      const int *fds, unsigned nfds, bool *image_taken)
{
	struct ctl_export *x;
	int r;

	if (nfds != (op == UV_IOCTL_ADD_BLK ? 2u : 1u) || !ctl_str_ok(in->path, sizeof(in->path)))
		return -EINVAL;
	/* Only a disk we serve can be limited here: a direct disk's limit is its engine's. */
	if ((op != UV_IOCTL_ADD_BLK && !uv_disk_limit_none(&in->limit)) || in->reserved ||
	    uv_disk_limit_check(&in->limit, "limit", NULL, 0))
		return -EINVAL;
	if (export_named(c, in->path))
		return -EEXIST;
	if (!(x = free_export(c)))
		return -ENOSPC;
	*x = (struct ctl_export){.used = true, .info = *in, .ctl = c};
	x->info.kind = op == UV_IOCTL_ADD_BLK   ? UV_DEV_VHOST_USER_BLK
	               : op == UV_IOCTL_ADD_NET ? UV_DEV_VHOST_USER_NET
	                                        : UV_DEV_DIRECT_BLK;
	x->info.image_dev = x->info.image_ino = 0;
	if (op == UV_IOCTL_ADD_BLK)
		r = add_disk(c, x, fds, image_taken);
	else if (op == UV_IOCTL_ADD_NET)
		r = add_nic(c, x, fds);
	else
		r = add_direct(c, x, fds[0]); /* closes it on success */
	if (r < 0)
		x->used = false;
	return r;
}

static int remove_export(struct io_control *c, const struct uv_ioctl_export *in)
{
	struct ctl_export *x;

	if (!ctl_str_ok(in->path, sizeof(in->path)))
		return -EINVAL;
	if (!(x = export_named(c, in->path)))
		return -ENOENT;
	fprintf(stderr, "ultra-io: %s: removed\n", x->info.path);
	if (x->info.kind == UV_DEV_DIRECT_BLK) {
		x->used = false; /* no server, no clients: nothing to wait for */
		return 0;
	}
	x->removing = true;
	return vhu_server_unexport(c->s, x->info.path, released, x);
}

/* A served disk's limit, changed live: the export, its clients and its requests stay. */
static int set_limit(struct io_control *c, const struct uv_ioctl_export *in)
{
	struct ctl_export *x;
	int r;

	char now[200], was[200];

	if (!ctl_str_ok(in->path, sizeof(in->path)) ||
	    uv_disk_limit_check(&in->limit, "limit", NULL, 0))
		return -EINVAL;
	if (!(x = export_named(c, in->path)))
		return -ENOENT;
	if (x->info.kind != UV_DEV_VHOST_USER_BLK || !x->blk)
		return -EINVAL;
	if ((r = vhost_blk_limit(x->blk, c->s, &in->limit)) < 0)
		return r;
	uv_disk_limit_describe(&in->limit, now, sizeof(now));
	uv_disk_limit_describe(&x->info.limit, was, sizeof(was));
	fprintf(stderr, "ultra-io: %s: limit now %s, was %s\n", x->info.path, now, was);
	x->info.limit = in->limit;
	return 0;
}

static void ctl_reply(int fd, uint32_t op, int status, const struct io_control *c, bool list)
{
	static const size_t max =
	    sizeof(struct uv_ioctl_msg) + UV_IOCTL_EXPORTS_MAX * sizeof(struct uv_ioctl_export);
	uint8_t *buf = calloc(1, max);
	struct uv_ioctl_msg m = {.magic = UV_IOCTL_MAGIC,
	                         .version = UV_IOCTL_VERSION,
	                         .hdr_size = sizeof(m),
	                         .op = op,
	                         .status = status};
	size_t len = sizeof(m);

	if (!buf)
		return;
	for (unsigned i = 0; list && i < UV_IOCTL_EXPORTS_MAX; i++)
		if (c->exp[i].used && !c->exp[i].removing) {
			memcpy(buf + len, &c->exp[i].info, sizeof(c->exp[i].info));
			len += sizeof(c->exp[i].info);
			m.count++;
		}
	memcpy(buf, &m, sizeof(m));
	uv_send_fds(fd, buf, len, NULL, 0); /* a client that does not read loses its reply */
	free(buf);
}

static void ctl_request(struct io_control *c, int fd, const uint8_t *buf, size_t n, int *fds,
                        unsigned nfds)
{
	struct uv_ioctl_msg m = {0};
	struct uv_ioctl_export in = {0};
	bool image_taken = false;
	int r = -EPROTO;

	if (n >= sizeof(m))
		memcpy(&m, buf, sizeof(m));
	if (n >= sizeof(m) && m.magic == UV_IOCTL_MAGIC && m.version != UV_IOCTL_VERSION)
		fprintf(stderr,
		        "ultra-io: control: a request of version %u; this ultra-io speaks %u "
		        "(the command partition and ultra-io must be the same build)\n",
		        m.version, UV_IOCTL_VERSION);
	if (n < sizeof(m) || m.magic != UV_IOCTL_MAGIC || m.version != UV_IOCTL_VERSION ||
	    m.hdr_size != sizeof(m) || m.status || m.reserved || m.count > 1 ||
	    n != sizeof(m) + m.count * sizeof(in))
		goto out;
	if (m.count)
		memcpy(&in, buf + sizeof(m), sizeof(in));
	switch (m.op) {
	case UV_IOCTL_LIST:
		r = nfds ? -EINVAL : 0;
		break;
	case UV_IOCTL_ADD_BLK:
	case UV_IOCTL_ADD_NET:
	case UV_IOCTL_ADD_DIRECT:
		r = m.count ? add_export(c, m.op, &in, fds, nfds, &image_taken) : -EINVAL;
		break;
	case UV_IOCTL_REMOVE:
		r = m.count && !nfds ? remove_export(c, &in) : -EINVAL;
		break;
	case UV_IOCTL_SET_LIMIT:
		r = m.count && !nfds ? set_limit(c, &in) : -EINVAL;
		break;
	default:
		r = -EOPNOTSUPP;
	}
out:
	if (r < 0)
		fprintf(stderr, "ultra-io: control: request %u refused: %s\n", m.op, strerror(-r));
	for (unsigned i = 0; i < nfds; i++)
		if (r < 0 && !(i == 1 && image_taken))
			close(fds[i]);
	ctl_reply(fd, m.op, r, c, r == 0 && m.op == UV_IOCTL_LIST);
}

static void client_ready(struct vhu_watch *w)
{
	struct ctl_client *cl = container_of(w, struct ctl_client, watch);
	uint8_t buf[sizeof(struct uv_ioctl_msg) + sizeof(struct uv_ioctl_export)];
	int fds[2];
	unsigned nfds = 0;
	ssize_t n;

	if (cl->fd < 0)
		return;
	n = uv_recv_fds(cl->fd, buf, sizeof(buf), fds, 2, &nfds);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {          /* gone, or a message too long for any request */
		close(cl->fd); /* also takes it out of the epoll set */
		cl->fd = -1;
		return;
	}
	ctl_request(cl->ctl, cl->fd, buf, (size_t)n, fds, nfds);
}

static void accept_ready(struct vhu_watch *w)
{
	struct io_control *c = container_of(w, struct io_control, watch);
	int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (unsigned i = 0; i < CTL_CLIENTS; i++) {
		struct ctl_client *cl = &c->clients[i];

		if (cl->fd >= 0)
			continue;
		cl->fd = fd;
		cl->watch.ready = client_ready;
		if (vhu_server_watch(c->s, fd, &cl->watch) == 0)
			return;
		cl->fd = -1;
		break;
	}
	close(fd);
}

int io_control_open(struct vhu_server *s, const char *path, io_switch_fn sw, void *sw_ctx,
                    struct io_control **out)
{
	struct io_control *c = calloc(1, sizeof(*c));
	char dir[UV_IOCTL_PATH_MAX + 1];
	mode_t old;
	int r;

	if (!c || !(c->path = strdup(path))) {
		free(c);
		return -ENOMEM;
	}
	c->s = s;
	c->switch_for = sw;
	c->sw_ctx = sw_ctx;
	for (unsigned i = 0; i < CTL_CLIENTS; i++)
		c->clients[i] = (struct ctl_client){.fd = -1, .ctl = c};
	while (c->nrings < CTL_RINGS && disk_raw_ring_init(&c->rings[c->nrings]) == 0)
		c->nrings++;
	/* The exports' sockets go beside it (the command partition's choice): one folder for us,
	 * which each partition's engine must cross to reach its own socket, but not list. */
	snprintf(dir, sizeof(dir), "%s", path);
	mkdir(dirname(dir), 0711);
	old = umask(077);
	c->fd = uv_unix_listen(path, SOCK_SEQPACKET | SOCK_NONBLOCK, 4);
	umask(old);
	if (c->fd < 0) {
		r = c->fd;
		goto fail;
	}
	c->watch.ready = accept_ready;
	if ((r = vhu_server_watch(s, c->fd, &c->watch)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	io_control_free(c);
	return r;
}

void io_control_free(struct io_control *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < UV_IOCTL_EXPORTS_MAX; i++)
		if (c->exp[i].used)
			device_free(&c->exp[i]);
	while (c->nrings)
		io_uring_queue_exit(&c->rings[--c->nrings]);
	for (unsigned i = 0; i < CTL_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			close(c->clients[i].fd);
	if (c->fd >= 0) {
		close(c->fd);
		unlink(c->path);
	}
	free(c->path);
	free(c);
}
