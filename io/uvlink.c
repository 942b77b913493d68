/* SPDX-License-Identifier: MIT */
/*
 * Whose memory is this? A client connected to export S belongs to the one partition whose
 * descriptor grants a vhost-user device on S; its table may name only that partition's memory
 * objects (GET_MEMORY, GET_CHANNELS as the io role) and channel-device files, each region within
 * its object. Asked afresh at every SET_MEM_TABLE (rare: once per front-end start), so grants
 * that change and an ultravisor that restarted are seen; never on the data path.
 */
#include "uvlink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grants.h"
#include "uvclient.h"
#include "uvconnect.h"

#define DB_MAX (1ull << 30)

struct io_uvlink {
	struct vhu_mem_policy policy;
	uint32_t partition; /* ours, role io */
	int link;           /* to the connector */
	int conn;           /* control connection, -1 until (re)made */
	/* The database as that connection's ultravisor keeps it, mapped read-only for as long as
	 * the connection lasts: its writer updates it in place (generation counters), and a
	 * mapping kept warm spares every check a GET_DB, an mmap and a page fault per slot. */
	void *db;
	uint64_t db_size;
	struct uv_resdb_view view;
	unsigned long accepted, refused;
};

static void disconnect(struct io_uvlink *l)
{
	if (l->db)
		munmap(l->db, l->db_size);
	l->db = NULL;
	if (l->conn >= 0)
		close(l->conn);
	l->conn = -1;
}

/* A dead ultravisor hung up; nothing else is ever sent to us unasked. */
static bool hung_up(int fd)
{
	char b;
	struct iovec iov = {.iov_base = &b, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	return recvmsg(fd, &m, MSG_PEEK | MSG_DONTWAIT) != -1 || errno != EAGAIN;
}

static int map_db(struct io_uvlink *l, char *err, size_t errlen)
{
	uint64_t size = 0;
	unsigned n = 0;
	void *map;
	int fd = -1, r;

	r = uv_client_simple(l->conn, UV_CTL_GET_DB, 0, 0, &fd, 1, &n, &size, err, errlen);
	if (r)
		return r;
	if (n != 1 || size == 0 || size > DB_MAX) {
		if (n)
			close(fd);
		snprintf(err, errlen, "ultravisor: malformed database hand-over");
		return -EPROTO;
	}
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		r = -errno;
		snprintf(err, errlen, "mapping the database: %s", strerror(-r));
		return r;
	}
	if ((r = uv_resdb_view_attach(&l->view, map, size))) {
		munmap(map, size);
		snprintf(err, errlen, "the database: %s", strerror(-r));
		return r;
	}
	l->db = map;
	l->db_size = size;
	return 0;
}

/* A connection is an identity once it holds a command channel as (partition, io); the
 * channel itself is not used, so our copies of its fds go at once. */
static int session(struct io_uvlink *l, char *err, size_t errlen)
{
	int fds[3];
	unsigned n = 0;
	int r;

	if (l->conn >= 0 && !hung_up(l->conn))
		return 0;
	disconnect(l);
	if ((r = io_connector_connect(l->link, &l->conn))) {
		snprintf(err, errlen, "cannot connect to the ultravisor: %s", strerror(-r));
		return r;
	}
	r = uv_client_simple(l->conn, UV_CTL_OPEN_COMMAND, l->partition, UV_ROLE_IO, fds, 3, &n,
	                     NULL, err, errlen);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	if (!r)
		r = map_db(l, err, errlen);
	if (r)
		disconnect(l);
	return r;
}

/* The export's own socket, named as the monitor names it (the same string, or another path
 * to the same socket file). */
static bool same_socket(const char *path, void *ctx)
{
	const char *export = ctx;
	struct stat a, b;

	if (!strcmp(path, export))
		return true;
	return stat(path, &a) == 0 && stat(export, &b) == 0 && S_ISSOCK(a.st_mode) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static uint32_t kind_of(const struct vhu_device *dev)
{
	return strcmp(dev->ops->kind, "vhost-user-net") ? UV_DEV_VHOST_USER_BLK
	                                                : UV_DEV_VHOST_USER_NET;
}

/* The export's owner and its descriptor, from the read-only mapping of the database. */
static int owner_of(struct io_uvlink *l, const struct vhu_device *dev, const char *path,
                    uint32_t *owner, struct uv_partition_desc *d, char *err, size_t errlen)
{
	int r = io_grants_owner(&l->view, kind_of(dev), same_socket, (void *)path, owner);

	if (!r)
		r = uv_resdb_read_desc(&l->view, *owner, d, NULL);
	if (r == -ENOENT)
		snprintf(err, errlen, "no partition is granted a %s on %s", dev->ops->kind, path);
	else if (r == -ENOTUNIQ)
		snprintf(err, errlen, "several partitions are granted %s: nobody's", path);
	else if (r)
		snprintf(err, errlen, "reading the database: %s", strerror(-r));
	return r;
}

static int add(struct io_grants *g, const struct stat *st)
{
	if (g->n == IO_GRANTS_MAX)
		return -E2BIG;
	g->o[g->n++] = (struct io_obj){.dev = st->st_dev,
	                               .ino = st->st_ino,
	                               .size = st->st_size < 0 ? 0 : (uint64_t)st->st_size};
	return 0;
}

/* Takes (closes) the fds. */
static int add_fds(struct io_grants *g, int *fds, unsigned n)
{
	struct stat st;
	int r = 0;

	for (unsigned i = 0; i < n; i++) {
		if (!r && fstat(fds[i], &st) < 0)
			r = -errno;
		else if (!r)
			r = add(g, &st);
		close(fds[i]);
	}
	return r;
}

/* Everything the partition may hand over: its memory objects, the objects of the channels it
 * is an endpoint of, and channel devices named by path in its descriptor. */
static int grants_of(struct io_uvlink *l, uint32_t owner, const struct uv_partition_desc *d,
                     struct io_grants *g, char *err, size_t errlen)
{
	struct uv_ctl_channel info[UV_CTL_FDS_MAX];
	int fds[UV_CTL_FDS_MAX];
	unsigned n = 0;
	struct stat st;
	int r;

	g->n = 0;
	r = uv_client_simple(l->conn, UV_CTL_GET_MEMORY, owner, 0, fds, UV_CTL_FDS_MAX, &n, NULL,
	                     err, errlen);
	if (!r && (r = add_fds(g, fds, n)))
		snprintf(err, errlen, "partition %u's memory objects: %s", owner, strerror(-r));
	if (!r && !(r = uv_client_get_channels(l->conn, owner, fds, info, &n, err, errlen)) &&
	    (r = add_fds(g, fds, n)))
		snprintf(err, errlen, "partition %u's channels: %s", owner, strerror(-r));
	for (uint32_t i = 0; !r && i < d->n_dev && i < UV_DEVICES_MAX; i++)
		if (d->dev[i].kind == UV_DEV_CHANNEL && memchr(d->dev[i].path, 0, UV_PATH_MAX) &&
		    stat(d->dev[i].path, &st) == 0 && S_ISREG(st.st_mode))
			r = add(g, &st);
	return r;
}

static int fetch(struct io_uvlink *l, const struct vhu_device *dev, const char *path,
                 uint32_t *owner, struct io_grants *g, char *err, size_t errlen)
{
	struct uv_partition_desc d;
	int r = session(l, err, errlen);

	if (!r)
		r = owner_of(l, dev, path, owner, &d, err, errlen);
	if (!r)
		r = grants_of(l, *owner, &d, g, err, errlen);
	return r;
}

static int check(struct vhu_mem_policy *p, const struct vhu_device *dev, const char *path,
                 unsigned client, const struct vhu_region *r, const int *fds, unsigned n)
{
	struct io_uvlink *l = (struct io_uvlink *)p;
	struct io_obj objs[VHU_MAX_REGIONS];
	enum io_refusal why = IO_REF_NONE;
	struct io_grants *g = calloc(1, sizeof(*g));
	char err[256] = "";
	uint32_t owner = 0;
	unsigned bad = 0;
	struct stat st;
	int ret;

	if (!g)
		return -ENOMEM;
	ret = fetch(l, dev, path, &owner, g, err, sizeof(err));
	if (ret) { /* the ultravisor may have restarted since: once more on a new connection */
		disconnect(l);
		ret = fetch(l, dev, path, &owner, g, err, sizeof(err));
	}
	for (unsigned i = 0; !ret && i < n && i < VHU_MAX_REGIONS; i++) {
		if (fstat(fds[i], &st) < 0)
			ret = -errno;
		else
			objs[i] = (struct io_obj){.dev = st.st_dev, .ino = st.st_ino};
	}
	if (!ret && (ret = io_grants_check(g, r, objs, n, &bad, &why)))
		snprintf(err, sizeof(err), "region %u (offset %#llx, %#llx bytes): %s partition %u",
		         bad, (unsigned long long)r[bad].mmap_offset,
		         (unsigned long long)r[bad].size, io_refusal_str(why), owner);
	free(g);
	if (ret) {
		l->refused++;
		fprintf(stderr, "ultra-io: %s: client %u: memory table refused: %s (%lu refused)\n",
		        dev->name, client, err, l->refused);
		return ret;
	}
	l->accepted++;
	fprintf(stderr, "ultra-io: %s: client %u: memory table within partition %u's grants\n",
	        dev->name, client, owner);
	return 0;
}

int io_uvlink_open(const char *sock, uint32_t partition, struct io_uvlink **out, char *err,
                   size_t errlen)
{
	struct io_uvlink *l = calloc(1, sizeof(*l));
	pid_t connector; /* reaped by whoever reaps our children: the sandbox has no wait4 */
	int r;

	if (!l)
		return -ENOMEM;
	l->policy.check = check;
	l->partition = partition;
	l->conn = -1;
	r = io_connector_start(sock, &l->link, &connector);
	if (r) {
		free(l);
		snprintf(err, errlen, "starting the connector: %s", strerror(-r));
		return r;
	}
	*out = l;
	err[0] = 0;
	session(l, err, errlen); /* early word of a misconfiguration; not fatal */
	return 0;
}

struct vhu_mem_policy *io_uvlink_policy(struct io_uvlink *l) { return &l->policy; }

void io_uvlink_free(struct io_uvlink *l)
{
	if (!l)
		return;
	fprintf(stderr, "ultra-io: memory tables: %lu within their grants, %lu refused\n",
	        l->accepted, l->refused);
	disconnect(l);
	/* The connector reads end of file and exits; whoever reaps our children (ultra-boot, a
	 * subreaper) reaps it: the sandbox has no wait4. */
	close(l->link);
	free(l);
}
