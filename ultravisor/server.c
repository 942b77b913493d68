/* SPDX-License-Identifier: MIT */
/*
 * The control socket: hands out capabilities (the read-only database, memory objects, command
 * channels) and takes failure/restart reports. Only root may connect: every peer is a system
 * partition or a monitor of this host.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"
#include "unixsock.h"
#include "uvd.h"

int uvd_listen(struct uvd *u)
{
	int fd = uv_unix_listen(u->sock_path, SOCK_SEQPACKET | SOCK_NONBLOCK, 16);

	if (fd < 0)
		return fd;
	u->listen_fd = fd;
	return 0;
}

static void conn_close(struct uvd *u, struct uvd_conn *c)
{
	uvd_chan_close_conn(u, c);
	epoll_ctl(u->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->authed = false;
}

/* Memory objects and channel memory go to the partition's own monitor (the connection holding
 * its monitor channel) and to the command and I/O partitions, nobody else (claims 17, 29-32). */
static bool may_take(const struct uvd_conn *c, uint32_t partition)
{
	if (!c->authed)
		return false;
	if (c->role == UV_ROLE_MONITOR)
		return c->partition == partition;
	return c->role == UV_ROLE_COMMAND || c->role == UV_ROLE_IO;
}

void uvd_accept(struct uvd *u)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, i;

	fd = accept4(u->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		close(fd);
		return;
	}
	for (i = 0; i < UVD_CONNS_MAX && u->conns[i].fd >= 0; i++)
		;
	if (i == UVD_CONNS_MAX) {
		close(fd);
		return;
	}
	u->conns[i] = (struct uvd_conn){.fd = fd, .pid = cred.pid, .uid = cred.uid};
	ev.data.ptr = &u->conns[i];
	if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		conn_close(u, &u->conns[i]);
}

__attribute__((format(printf, 3, 4))) static int refuse(struct uv_ctl_resp *resp, int err,
                                                        const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(resp->message, sizeof(resp->message), fmt, ap);
	va_end(ap);
	resp->error = err;
	return err;
}

/* A response and what may follow it in the same message. */
struct ctl_reply {
	struct uv_ctl_resp resp;
	struct uv_ctl_channel chan[UV_CTL_FDS_MAX]; /* UV_CTL_GET_CHANNELS: one per fd */
};
_Static_assert(offsetof(struct ctl_reply, chan) == sizeof(struct uv_ctl_resp), "ctl ABI");

static bool req_ok(const struct uv_ctl_req *req, ssize_t n)
{
	return n == (ssize_t)sizeof(*req) && req->magic == UV_CTL_MAGIC &&
	       req->version == UV_CTL_VERSION && !req->reserved && !req->pad[0] && !req->pad[1] &&
	       !req->pad[2];
}

/* A restarted ultravisor takes back the memory objects a running engine holds. */
static void adopt(struct uvd *u, struct uvd_conn *c, const struct uv_ctl_req *req, int *in,
                  unsigned n_in, struct uv_ctl_resp *resp)
{
	unsigned i;
	int r = 0;

	bool chan = req->op == UV_CTL_ADOPT_CHANNELS;

	if (!c->authed || c->role != UV_ROLE_MONITOR || c->partition != req->partition)
		refuse(resp, -EACCES, "only partition %u's monitor hands its objects back",
		       req->partition);
	else if (!n_in)
		refuse(resp, -EINVAL, "no object attached");
	for (i = 0; i < n_in; i++) {
		if (!resp->error && (r = chan ? uvd_chanobj_adopt(u, req->partition, in[i])
		                              : uvd_mem_adopt(u, req->partition, in[i])))
			refuse(resp, r, "partition %u: object %u is not one of its %s",
			       req->partition, i, chan ? "channels" : "grants");
		close(in[i]);
	}
}

static void handle(struct uvd *u, struct uvd_conn *c, const struct uv_ctl_req *req,
                   struct ctl_reply *reply, int *fds, unsigned *n_fds, int *owned)
{
	struct uv_ctl_resp *resp = &reply->resp;
	const struct uv_resdb_part *p;
	int r;

	switch (req->op) {
	case UV_CTL_GET_DB:
		r = uvd_region_ro_fd(u);
		if (r < 0) {
			refuse(resp, r, "cannot open the database read-only: %s", strerror(-r));
			return;
		}
		fds[0] = r;
		*owned = 1;
		*n_fds = 1;
		resp->size = u->region_size;
		return;
	case UV_CTL_GET_MEMORY:
		if (!uv_resdb_desc(&u->db, req->partition)) {
			refuse(resp, -ENOENT, "no partition %u", req->partition);
			return;
		}
		if (!may_take(c, req->partition)) {
			refuse(resp, -EACCES, "partition %u's memory goes to its monitor only",
			       req->partition);
			return;
		}
		r = uvd_mem_fds(u, req->partition, fds, UV_CTL_FDS_MAX, n_fds, &resp->size);
		if (r)
			refuse(resp, r, "partition %u has too many grants to hand over",
			       req->partition);
		return;
	case UV_CTL_GET_CHANNELS:
		if (!uv_resdb_desc(&u->db, req->partition)) {
			refuse(resp, -ENOENT, "no partition %u", req->partition);
			return;
		}
		if (!may_take(c, req->partition)) {
			refuse(resp, -EACCES, "partition %u's channels go to its monitor only",
			       req->partition);
			return;
		}
		/* Only channels with this partition as an endpoint: nobody else's. */
		r = uvd_chanobj_fds(u, req->partition, fds, reply->chan, UV_CTL_FDS_MAX, n_fds,
		                    &resp->size);
		if (r)
			refuse(resp, r, "partition %u has too many channels to hand over",
			       req->partition);
		return;
	case UV_CTL_OPEN_COMMAND:
		r = uvd_chan_open(u, c, req->partition, req->role, fds, &resp->size, resp->message,
		                  sizeof(resp->message));
		if (r) {
			resp->error = r;
			return;
		}
		c->authed = true;
		c->partition = req->partition;
		c->role = req->role;
		*n_fds = 3;
		return;
	case UV_CTL_PARTITION_FAILED:
	case UV_CTL_PARTITION_RESTARTED:
		p = uv_resdb_part(&u->db, req->partition);
		if (!p || p->status == UV_RESDB_FREE || req->partition == 0) {
			refuse(resp, -ENOENT, "no partition %u", req->partition);
			return;
		}
		if (req->op ==
		    UV_CTL_PARTITION_FAILED) /* its queued, unprocessed work is dropped */
			uvd_chan_close_partition(u, req->partition);
		r = uvd_system_change(u, req->partition,
		                      req->op == UV_CTL_PARTITION_FAILED ? UV_STATE_CRASHED
		                                                         : UV_STATE_STARTING);
		if (r)
			refuse(resp, r, "partition %u: %s", req->partition, strerror(-r));
		return;
	default:
		refuse(resp, -EOPNOTSUPP, "unknown operation %u", req->op);
	}
}

void uvd_conn_io(struct uvd *u, struct uvd_conn *c)
{
	struct uv_ctl_req req;
	struct ctl_reply reply;
	struct uv_ctl_resp *resp = &reply.resp;
	size_t len = sizeof(*resp);
	int fds[UV_CTL_FDS_MAX], in[4], owned = 0;
	unsigned n_fds = 0, n_in;
	ssize_t n;

	n = uv_recv_fds(c->fd, &req, sizeof(req), in, 4, &n_in);
	bool adopting =
	    req_ok(&req, n) && (req.op == UV_CTL_ADOPT_MEMORY || req.op == UV_CTL_ADOPT_CHANNELS);

	if (adopting) {
		memset(&reply, 0, sizeof(reply));
		adopt(u, c, &req, in, n_in, resp);
		n_in = 0; /* adopt() took or closed them */
	}
	for (unsigned i = 0; i < n_in; i++)
		close(in[i]); /* no other request carries fds to the ultravisor */
	if (n == 0 || (n < 0 && n != -EAGAIN)) {
		conn_close(u, c);
		return;
	}
	if (n < 0)
		return;
	if (!adopting)
		memset(&reply, 0, sizeof(reply));
	resp->magic = UV_CTL_MAGIC;
	resp->version = UV_CTL_VERSION;
	resp->op = req.op;
	if (!req_ok(&req, n))
		refuse(resp, -EPROTO, "malformed request (%zd bytes)", n);
	else if (!adopting)
		handle(u, c, &req, &reply, fds, &n_fds, &owned);
	if (resp->error)
		n_fds = 0;
	resp->n_fds = n_fds;
	if (req.op == UV_CTL_GET_CHANNELS)
		len += n_fds * sizeof(reply.chan[0]);
	if (uv_send_fds(c->fd, &reply, len, fds, n_fds))
		conn_close(u, c);
	if (owned)
		for (unsigned i = 0; i < n_fds; i++)
			close(fds[i]);
	if (req.op == UV_CTL_OPEN_COMMAND && !resp->error) {
		/* the peer's copies were sent; ours of its doorbell stay for signalling */
		close(fds[0]);
	}
}
