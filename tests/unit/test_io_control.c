/* SPDX-License-Identifier: MIT */
/* ultra-io's control socket (include/ultra/io_ctl.h): exports added with the fds the command
 * partition passes, listed, removed (socket gone, clients dropped); malformed or incomplete
 * requests refused with the right errno and nothing added. The event loop runs in a thread. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../io/blk_throttle.c"
#include "../../io/dirty_log.c"
#include "../../io/disk_raw.c"
#include "../../io/guest_mem.c"
#include "../../io/inflight.c"
#include "../../io/io_control.c"
#include "../../io/net_csum.c"
#include "../../io/net_gso.c"
#include "../../io/switch.c"
#include "../../io/throttle.c"
#include "../../io/vhost_blk.c"
#include "../../io/vhost_inflight.c"
#include "../../io/vhost_msg.c"
#include "../../io/vhost_net.c"
#include "../../io/vhost_req.c"
#include "../../io/vhost_user.c"
#include "../../io/virtqueue.c"

struct fixture {
	char dir[64], ctl[96], img[96];
	struct vhu_server *s;
	struct io_control *c;
	struct vswitch sw;
	pthread_t loop;
	int stop, sock;
};

static struct vswitch *one_switch(void *ctx, const char *name)
{
	struct fixture *f = ctx;

	if (!f->sw.name[0])
		sw_init(&f->sw, name, 0);
	return strcmp(f->sw.name, name) ? NULL : &f->sw;
}

static void *run(void *arg)
{
	struct fixture *f = arg;

	vhu_server_run(f->s, f->stop);
	return NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int fd;

	snprintf(f->dir, sizeof(f->dir), "/tmp/uvioctl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->ctl, sizeof(f->ctl), "%s/io/control.sock", f->dir); /* io/ is made for us */
	snprintf(f->img, sizeof(f->img), "%s/d.img", f->dir);
	fd = open(f->img, O_CREAT | O_RDWR, 0600);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(vhu_server_new(&f->s), 0);
	/* We stand for partition 0's engine: its uid is ours. */
	vhu_server_set_uid_base(f->s, geteuid());
	assert_int_equal(io_control_open(f->s, f->ctl, one_switch, f, &f->c), 0);
	f->stop = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(pthread_create(&f->loop, NULL, run, f), 0);
	f->sock = uv_unix_connect(f->ctl, SOCK_SEQPACKET);
	assert_true(f->sock >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	eventfd_write(f->stop, 1);
	pthread_join(f->loop, NULL);
	close(f->sock);
	close(f->stop);
	vhu_server_free(f->s);
	io_control_free(f->c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* One request; its status, and LIST's exports in out (if not NULL). */
static int ask(struct fixture *f, uint32_t op, const struct uv_ioctl_export *x, const int *fds,
               unsigned nfds, struct uv_ioctl_export *out, unsigned *n)
{
	uint8_t buf[sizeof(struct uv_ioctl_msg) + 8 * sizeof(struct uv_ioctl_export)];
	struct uv_ioctl_msg m = {UV_IOCTL_MAGIC, UV_IOCTL_VERSION, sizeof(m), op, 0, x ? 1 : 0, 0};
	unsigned got_fds;
	ssize_t got;

	memcpy(buf, &m, sizeof(m));
	if (x)
		memcpy(buf + sizeof(m), x, sizeof(*x));
	assert_int_equal(uv_send_fds(f->sock, buf, sizeof(m) + (x ? sizeof(*x) : 0), fds, nfds), 0);
	got = uv_recv_fds(f->sock, buf, sizeof(buf), NULL, 0, &got_fds);
	assert_true(got >= (ssize_t)sizeof(m));
	memcpy(&m, buf, sizeof(m));
	assert_int_equal(m.magic, UV_IOCTL_MAGIC);
	assert_int_equal(m.op, op);
	assert_int_equal((size_t)got, sizeof(m) + m.count * sizeof(*x));
	if (out) {
		memcpy(out, buf + sizeof(m), m.count * sizeof(*x));
		*n = m.count;
	}
	return m.status;
}

static unsigned listed(struct fixture *f, struct uv_ioctl_export *out)
{
	unsigned n = 0;

	assert_int_equal(ask(f, UV_IOCTL_LIST, NULL, NULL, 0, out, &n), 0);
	return n;
}

/* ADD_BLK of path leaf, with a socket bound at leaf + ".new" when the path is exported already
 * (binding replaces a socket file). */
static int try_blk_for(struct fixture *f, const char *leaf, int image, unsigned nfds,
                       uint32_t flags, uint32_t partition)
{
	struct uv_ioctl_export x = {.flags = flags, .partition = partition};
	char bound[160];
	int fds[2], r;

	snprintf(x.path, sizeof(x.path), "%s/%s", f->dir, leaf);
	snprintf(bound, sizeof(bound), "%s%s", x.path, access(x.path, F_OK) ? "" : ".new");
	fds[0] = uv_unix_listen(bound, SOCK_STREAM | SOCK_NONBLOCK, 4);
	fds[1] = image;
	r = ask(f, UV_IOCTL_ADD_BLK, &x, fds, nfds, NULL, NULL);
	close(fds[0]);
	return r;
}

static int try_blk(struct fixture *f, const char *leaf, int image, unsigned nfds, uint32_t flags)
{
	return try_blk_for(f, leaf, image, nfds, flags, 0);
}

/* The virtio features the export at leaf offers a front end that asks (GET_FEATURES). */
static uint64_t offered(struct fixture *f, const char *leaf)
{
	struct vhu_hdr h = {VHU_GET_FEATURES, VHU_FLAG_VERSION, 0};
	uint8_t reply[sizeof(h) + 8];
	char path[160];
	uint64_t v = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->dir, leaf);
	fd = uv_unix_connect(path, SOCK_STREAM);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, &h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(recv(fd, reply, sizeof(reply), MSG_WAITALL), (ssize_t)sizeof(reply));
	memcpy(&v, reply + sizeof(h), sizeof(v));
	close(fd);
	return v;
}

static void test_add_list_remove(void **state)
{
	struct fixture *f = *state;
	struct uv_ioctl_export l[8], x = {0};
	struct stat st;
	char buf[8];
	int img = open(f->img, O_RDWR), v;

	assert_int_equal(try_blk(f, "d0.sock", img, 2, 0), 0);
	assert_int_equal(listed(f, l), 1);
	assert_int_equal(stat(f->img, &st), 0);
	assert_int_equal(l[0].kind, UV_DEV_VHOST_USER_BLK);
	assert_int_equal(l[0].image_ino, st.st_ino); /* which image: the command partition checks */
	assert_int_equal(l[0].size, 1 << 20);
	assert_false(offered(f, "d0.sock") & (1ull << VIRTIO_BLK_F_RO));
	/* The same path twice is refused; a NIC on a second path joins the switch. */
	assert_int_equal(try_blk(f, "d0.sock", img, 2, 0), -EEXIST);
	close(img);
	snprintf(x.path, sizeof(x.path), "%s/n0.sock", f->dir);
	snprintf(x.sw, sizeof(x.sw), "default");
	v = uv_unix_listen(x.path, SOCK_STREAM | SOCK_NONBLOCK, 4);
	assert_int_equal(ask(f, UV_IOCTL_ADD_NET, &x, &v, 1, NULL, NULL), 0);
	close(v);
	assert_int_equal(listed(f, l), 2);

	/* A client of the disk is dropped with it, and its socket is gone. */
	snprintf(x.path, sizeof(x.path), "%s/d0.sock", f->dir);
	v = uv_unix_connect(x.path, SOCK_STREAM);
	assert_true(v >= 0);
	assert_int_equal(ask(f, UV_IOCTL_REMOVE, &x, NULL, 0, NULL, NULL), 0);
	assert_int_not_equal(access(x.path, F_OK), 0);
	assert_true(read(v, buf, sizeof(buf)) <= 0);
	close(v);
	assert_int_equal(ask(f, UV_IOCTL_REMOVE, &x, NULL, 0, NULL, NULL), -ENOENT);
	assert_int_equal(listed(f, l), 1);
	assert_int_equal(l[0].kind, UV_DEV_VHOST_USER_NET);
	/* The path is free again, and the ring of the removed disk serves the next one. */
	img = open(f->img, O_RDONLY);
	assert_int_equal(try_blk(f, "d0.sock", img, 2, UV_DEV_F_READONLY), 0);
	close(img);
	assert_int_equal(listed(f, l), 2);
	/* A read-only disk says so, and the guest mounts it read-only. */
	assert_true(offered(f, "d0.sock") & (1ull << VIRTIO_BLK_F_RO));
}

/* ADD_DIRECT of the image opened with mode; its status. */
static int try_direct(struct fixture *f, const char *leaf, int mode, uint32_t flags)
{
	struct uv_ioctl_export x = {.kind = UV_DEV_DIRECT_BLK, .flags = flags};
	int fd = open(f->img, mode), r;

	assert_true(fd >= 0);
	snprintf(x.path, sizeof(x.path), "%s/%s", f->dir, leaf);
	r = ask(f, UV_IOCTL_ADD_DIRECT, &x, &fd, 1, NULL, NULL);
	close(fd);
	return r;
}

/* The fast path: a direct disk is recorded, listed and keeps its image from anyone else, but
 * nothing is served (claims 22, 23, 68, 69). */
static void test_direct_disk_recorded(void **state)
{
	struct fixture *f = *state;
	struct uv_ioctl_export l[8], x = {0};
	struct stat st;
	int fd = open(f->img, O_RDWR | O_DIRECT);

	if (fd < 0)
		skip(); /* a file system without O_DIRECT (tmpfs) */
	close(fd);
	assert_int_equal(try_direct(f, "x0.direct", O_RDWR, 0), -EINVAL); /* no O_DIRECT */
	assert_int_equal(try_direct(f, "x0.direct", O_RDONLY | O_DIRECT, 0), -EACCES);
	assert_int_equal(try_direct(f, "x0.direct", O_RDWR | O_DIRECT, 0x80), -EINVAL);
	assert_int_equal(listed(f, l), 0);
	assert_int_equal(try_direct(f, "x0.direct", O_RDWR | O_DIRECT, 0), 0);
	assert_int_equal(listed(f, l), 1);
	assert_int_equal(stat(f->img, &st), 0);
	assert_int_equal(l[0].kind, UV_DEV_DIRECT_BLK);
	assert_int_equal(l[0].image_ino, st.st_ino);
	assert_int_equal(l[0].size, 1 << 20);
	snprintf(x.path, sizeof(x.path), "%s/x0.direct", f->dir);
	assert_int_not_equal(access(x.path, F_OK), 0); /* no socket: nothing to connect to */
	/* The image is taken: neither exported nor given directly to anyone else. */
	fd = open(f->img, O_RDWR);
	assert_int_equal(try_blk(f, "d1.sock", fd, 2, 0), -EBUSY);
	assert_int_equal(try_direct(f, "x1.direct", O_RDONLY | O_DIRECT, UV_DEV_F_READONLY),
	                 -EBUSY);
	assert_int_equal(listed(f, l), 1);
	/* Removed, the image is free again. */
	assert_int_equal(ask(f, UV_IOCTL_REMOVE, &x, NULL, 0, NULL, NULL), 0);
	assert_int_equal(listed(f, l), 0);
	assert_int_equal(try_blk(f, "d1.sock", fd, 2, 0), 0);
	close(fd);
	assert_int_equal(try_direct(f, "x1.direct", O_RDWR | O_DIRECT, 0), -EBUSY);
}

static void test_bad_requests_refused(void **state)
{
	struct fixture *f = *state;
	struct uv_ioctl_export l[8], x = {0};
	struct uv_ioctl_msg m = {
	    UV_IOCTL_MAGIC, UV_IOCTL_VERSION, sizeof(m), UV_IOCTL_LIST, 0, 0, 0};
	uint8_t buf[64];
	unsigned nfds;
	int img = open(f->img, O_RDWR), v;

	assert_int_equal(try_blk(f, "a.sock", img, 1, 0), -EINVAL);     /* no image fd */
	assert_int_equal(try_blk(f, "b.sock", img, 2, 0x80), -EINVAL);  /* unknown flag */
	assert_int_equal(try_blk(f, "c.sock", f->sock, 2, 0), -EINVAL); /* not a file */
	close(img);
	assert_int_equal(ask(f, UV_IOCTL_ADD_BLK, NULL, NULL, 0, NULL, NULL), -EINVAL);
	assert_int_equal(ask(f, 99, NULL, NULL, 0, NULL, NULL), -EOPNOTSUPP);
	snprintf(x.path, sizeof(x.path), "%s/n.sock", f->dir);
	v = uv_unix_listen(x.path, SOCK_STREAM | SOCK_NONBLOCK, 4);
	assert_int_equal(ask(f, UV_IOCTL_ADD_NET, &x, &v, 1, NULL, NULL), -EINVAL); /* no switch */
	memset(x.path, 'x', sizeof(x.path));
	snprintf(x.sw, sizeof(x.sw), "default");
	assert_int_equal(ask(f, UV_IOCTL_ADD_NET, &x, &v, 1, NULL, NULL), -EINVAL); /* path */
	close(v);
	/* Bad headers: wrong magic, a count that does not match the length, garbage. */
	m.magic = 0;
	send(f->sock, &m, sizeof(m), 0);
	assert_true(uv_recv_fds(f->sock, buf, sizeof(buf), NULL, 0, &nfds) >= 24);
	assert_int_equal(((struct uv_ioctl_msg *)buf)->status, -EPROTO);
	m.magic = UV_IOCTL_MAGIC;
	m.count = 1;
	send(f->sock, &m, sizeof(m), 0);
	assert_true(uv_recv_fds(f->sock, buf, sizeof(buf), NULL, 0, &nfds) >= 24);
	assert_int_equal(((struct uv_ioctl_msg *)buf)->status, -EPROTO);
	send(f->sock, "x", 1, 0);
	assert_true(uv_recv_fds(f->sock, buf, sizeof(buf), NULL, 0, &nfds) >= 24);
	assert_int_equal(((struct uv_ioctl_msg *)buf)->status, -EPROTO);
	/* A command partition of io control version 3 (a 192-byte export, totals only): refused,
	 * in a reply of this side's version, so the caller can say which two met. */
	{
		uint8_t old[sizeof(m) + 192] = {0};

		m.version = 3;
		memcpy(old, &m, sizeof(m));
		send(f->sock, old, sizeof(old), 0);
		assert_true(uv_recv_fds(f->sock, buf, sizeof(buf), NULL, 0, &nfds) >= 24);
		assert_int_equal(((struct uv_ioctl_msg *)buf)->status, -EPROTO);
		assert_int_equal(((struct uv_ioctl_msg *)buf)->version, UV_IOCTL_VERSION);
		m.version = UV_IOCTL_VERSION;
	}
	/* A limit with a total beside a direction of its kind is not one to serve. */
	img = open(f->img, O_RDWR);
	memset(&x, 0, sizeof(x));
	x.limit = (struct uv_disk_limit){.iops = 5, .read_iops = 5};
	snprintf(x.path, sizeof(x.path), "%s/clash.sock", f->dir);
	{
		int fds[2] = {uv_unix_listen(x.path, SOCK_STREAM | SOCK_NONBLOCK, 4), img};

		assert_int_equal(ask(f, UV_IOCTL_ADD_BLK, &x, fds, 2, NULL, NULL), -EINVAL);
		close(fds[0]);
	}
	close(img);
	assert_int_equal(listed(f, l), 0); /* nothing was added by any of them */
}

/* A disk's I/O limit travels with ADD_BLK, is listed back (so the command partition sees a
 * changed one) and is the export's; a NIC or a direct disk cannot carry one here. */
static void test_limit_listed(void **state)
{
	struct fixture *f = *state;
	struct uv_ioctl_export l[8], x = {.limit = {.iops = 300, .bytes_per_sec = 1 << 20}};
	int fds[2], img = open(f->img, O_RDWR);

	snprintf(x.path, sizeof(x.path), "%s/lim.sock", f->dir);
	fds[0] = uv_unix_listen(x.path, SOCK_STREAM | SOCK_NONBLOCK, 4);
	fds[1] = img;
	assert_int_equal(ask(f, UV_IOCTL_ADD_BLK, &x, fds, 2, NULL, NULL), 0);
	close(fds[0]);
	close(img);
	assert_int_equal(listed(f, l), 1);
	assert_int_equal(l[0].limit.iops, 300);
	assert_int_equal(l[0].limit.bytes_per_sec, 1 << 20);
	for (unsigned i = 0; i < UV_IOCTL_EXPORTS_MAX; i++)
		if (f->c->exp[i].used) {
			assert_non_null(f->c->exp[i].blk->throttle);
			assert_int_equal(f->c->exp[i].blk->throttle->tb[BLK_DIR_NONE].iops, 300);
		}
	memset(&x, 0, sizeof(x));
	x.limit.bytes_per_sec = 1;
	snprintf(x.path, sizeof(x.path), "%s/n.sock", f->dir);
	snprintf(x.sw, sizeof(x.sw), "default");
	fds[0] = uv_unix_listen(x.path, SOCK_STREAM | SOCK_NONBLOCK, 4);
	assert_int_equal(ask(f, UV_IOCTL_ADD_NET, &x, fds, 1, NULL, NULL), -EINVAL);
	close(fds[0]);
	img = open(f->img, O_RDONLY);
	assert_int_equal(try_blk(f, "free.sock", img, 2, UV_DEV_F_READONLY), -EBUSY);
	close(img); /* the image is the limited export's */
	assert_int_equal(listed(f, l), 1);
}

/* One export's throttle, read after a reply (the loop has finished the request). */
static struct blk_throttle *throttle_of(struct fixture *f, const char *leaf)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", f->dir, leaf);
	for (unsigned i = 0; i < UV_IOCTL_EXPORTS_MAX; i++)
		if (f->c->exp[i].used && !strcmp(f->c->exp[i].info.path, path))
			return f->c->exp[i].blk->throttle;
	fail_msg("no export %s", leaf);
	return NULL;
}

static int ask_limit(struct fixture *f, const char *leaf, uint32_t iops, uint64_t bps)
{
	struct uv_ioctl_export x = {.limit = {.iops = iops, .bytes_per_sec = bps}};

	snprintf(x.path, sizeof(x.path), "%s/%s", f->dir, leaf);
	return ask(f, UV_IOCTL_SET_LIMIT, &x, NULL, 0, NULL, NULL);
}

/* SET_LIMIT changes a served disk's limit in place (docs/io-partition.md, "Changing a limit"):
 * a client connected before is still served after, LIST shows the new limit, an unlimited disk
 * gets a throttle and a lifted one loses it; anything but a served disk is refused. */
static void test_limit_changed_live(void **state)
{
	struct fixture *f = *state;
	struct vhu_hdr h = {VHU_GET_FEATURES, VHU_FLAG_VERSION, 0};
	struct uv_ioctl_export l[8], x = {0};
	uint8_t reply[sizeof(h) + 8];
	int img = open(f->img, O_RDWR), fds[1], conn;
	char path[160];

	assert_int_equal(try_blk(f, "live.sock", img, 2, 0), 0);
	close(img);
	assert_null(throttle_of(f, "live.sock"));
	snprintf(path, sizeof(path), "%s/live.sock", f->dir);
	conn = uv_unix_connect(path, SOCK_STREAM);
	assert_true(conn >= 0);
	assert_int_equal(send(conn, &h, sizeof(h), MSG_NOSIGNAL), sizeof(h));
	assert_int_equal(recv(conn, reply, sizeof(reply), MSG_WAITALL), sizeof(reply));

	assert_int_equal(ask_limit(f, "live.sock", 40, 3 << 20), 0);
	assert_int_equal(listed(f, l), 1);
	assert_int_equal(l[0].limit.iops, 40);
	assert_int_equal(l[0].limit.bytes_per_sec, 3 << 20);
	assert_non_null(throttle_of(f, "live.sock"));
	assert_int_equal(throttle_of(f, "live.sock")->tb[BLK_DIR_NONE].iops, 40);
	assert_int_equal(ask_limit(f, "live.sock", 0, 1 << 20), 0);
	assert_int_equal(throttle_of(f, "live.sock")->tb[BLK_DIR_NONE].iops, 0);
	assert_int_equal(throttle_of(f, "live.sock")->tb[BLK_DIR_NONE].bytes_per_sec, 1 << 20);
	/* The client was never dropped: it is answered on the same connection. */
	assert_int_equal(send(conn, &h, sizeof(h), MSG_NOSIGNAL), sizeof(h));
	assert_int_equal(recv(conn, reply, sizeof(reply), MSG_WAITALL), sizeof(reply));
	assert_int_equal(ask_limit(f, "live.sock", 0, 0), 0);
	assert_null(throttle_of(f, "live.sock"));
	assert_int_equal(listed(f, l), 1);
	assert_int_equal(l[0].limit.iops, 0);
	assert_int_equal(l[0].limit.bytes_per_sec, 0);

	/* No such export; a NIC; fds where none belong: refused, nothing changed. */
	assert_int_equal(ask_limit(f, "nope.sock", 10, 0), -ENOENT);
	snprintf(x.path, sizeof(x.path), "%s/n.sock", f->dir);
	snprintf(x.sw, sizeof(x.sw), "default");
	fds[0] = uv_unix_listen(x.path, SOCK_STREAM | SOCK_NONBLOCK, 4);
	assert_int_equal(ask(f, UV_IOCTL_ADD_NET, &x, fds, 1, NULL, NULL), 0);
	close(fds[0]);
	assert_int_equal(ask_limit(f, "n.sock", 10, 0), -EINVAL);
	snprintf(x.path, sizeof(x.path), "%s/live.sock", f->dir);
	x.limit.iops = 10;
	fds[0] = open(f->img, O_RDONLY);
	assert_int_equal(ask(f, UV_IOCTL_SET_LIMIT, &x, fds, 1, NULL, NULL), -EINVAL);
	close(fds[0]);
	assert_null(throttle_of(f, "live.sock"));
	close(conn);
}

/* A front end on the socket at leaf asks GET_FEATURES: true if answered, false if the
 * connection was closed on it unanswered. */
static bool answered(struct fixture *f, const char *leaf)
{
	struct vhu_hdr h = {VHU_GET_FEATURES, VHU_FLAG_VERSION, 0};
	uint8_t reply[sizeof(h) + 8];
	char path[160];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->dir, leaf);
	fd = uv_unix_connect(path, SOCK_STREAM);
	if (fd < 0)
		return false; /* the socket's mode keeps us out */
	if (send(fd, &h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h)) {
		close(fd);
		return false;
	}
	n = recv(fd, reply, sizeof(reply), MSG_WAITALL);
	close(fd);
	return n == (ssize_t)sizeof(reply);
}

/* In a child running as uid: connects to leaf and asks GET_FEATURES; exit 0 if answered. */
static bool answered_as(struct fixture *f, const char *leaf, uid_t uid)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(setresgid(uid, uid, uid) || setresuid(uid, uid, uid) ? 2
		      : answered(f, leaf)                                  ? 0
		                                                           : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 2);
	return WEXITSTATUS(status) == 0;
}

/* An export is for one partition: its engine's uid alone is let in, whoever else reaches the
 * socket is closed on and counted (docs/io-partition.md). */
static void test_only_the_partitions_engine_gets_in(void **state)
{
	struct fixture *f = *state;
	struct uv_ioctl_export l[8];
	int img = open(f->img, O_RDWR);
	char path[160];

	assert_int_equal(try_blk_for(f, "big.sock", img, 2, 0, UV_ENGINE_UID_SPAN), -ERANGE);
	assert_int_equal(listed(f, l), 0); /* a partition without an engine uid: nothing added */
	assert_int_equal(try_blk_for(f, "p5.sock", img, 2, 0, 5), 0);
	close(img);
	assert_int_equal(listed(f, l), 1);
	assert_int_equal(l[0].partition, 5);
	/* We reach the socket, but we are not partition 5's engine (uid ours + 5). */
	assert_int_equal(vhu_server_refused(f->s), 0);
	assert_false(answered(f, "p5.sock"));
	assert_int_equal(vhu_server_refused(f->s), 1);
	if (geteuid() != 0)
		return; /* becoming partition 5's engine takes root */
	snprintf(path, sizeof(path), "%s/p5.sock", f->dir);
	assert_int_equal(chown(path, geteuid() + 5, geteuid() + 5), 0); /* as the command does */
	assert_int_equal(chmod(f->dir, 0711), 0);
	assert_true(answered_as(f, "p5.sock", geteuid() + 5));
	assert_false(answered_as(f, "p5.sock", geteuid() + 6)); /* its neighbour is refused... */
	assert_int_equal(vhu_server_refused(f->s), 1); /* ...by the socket's mode, before us */
	assert_int_equal(chmod(path, 0666), 0);        /* with the mode opened by hand, by us */
	assert_false(answered_as(f, "p5.sock", geteuid() + 6));
	assert_int_equal(vhu_server_refused(f->s), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_list_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_requests_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_direct_disk_recorded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limit_listed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limit_changed_live, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_only_the_partitions_engine_gets_in, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
