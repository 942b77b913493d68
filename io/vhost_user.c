/* SPDX-License-Identifier: MIT */
/* Sockets and the event loop: exports listen, clients connect, each client's messages are
 * received one at a time (never reading into the next message, so fds stay with the message
 * they came with), kicks run the device. A client that breaks the protocol is dropped alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine_uid.h"
#include "unixsock.h"
#include "vhost_priv.h"

int vhu_server_new(struct vhu_server **out)
{
	struct vhu_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->uid_base = UV_ENGINE_UID_BASE_DEFAULT;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		int r = -errno;
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void vhu_server_set_policy(struct vhu_server *s, struct vhu_mem_policy *p) { s->policy = p; }

static int watch(int epfd, int fd, struct vhu_watch *w, bool on)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};

	if (epoll_ctl(epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, on ? &ev : NULL) < 0)
		return -errno;
	return 0;
}

int vhu_watch_fd(struct vhu_client *c, int fd, struct vhu_watch *w, bool on)
{
	return watch(c->exp->server->epfd, fd, w, on);
}

int vhu_server_watch(struct vhu_server *s, int fd, struct vhu_watch *w)
{
	w->kind = VHU_W_OTHER;
	return watch(s->epfd, fd, w, true);
}

void vhu_server_set_uid_base(struct vhu_server *s, uint32_t base)
{
	s->uid_base = base;
	for (unsigned i = 0; i < s->nexports; i++)
		uv_engine_uid(base, s->exports[i]->partition, &s->exports[i]->peer_uid);
}

int vhu_server_bind_peer(struct vhu_server *s, const char *path, uint32_t partition)
{
	for (unsigned i = 0; i < s->nexports; i++) {
		struct vhu_export *e = s->exports[i];
		uid_t uid;
		int r;

		if (e->retired || strcmp(e->path, path))
			continue;
		if ((r = uv_engine_uid(s->uid_base, partition, &uid)))
			return r;
		e->partition = partition;
		e->peer_uid = uid;
		return 0;
	}
	return -ENOENT;
}

unsigned long vhu_server_refused(const struct vhu_server *s) { return s->refused; }

int vhu_server_adopt(struct vhu_server *s, int fd, const char *path, struct vhu_device *dev)
{
	return vhu_server_adopt_for(s, fd, path, dev, 0);
}

int vhu_server_adopt_for(struct vhu_server *s, int fd, const char *path, struct vhu_device *dev,
                         uint32_t partition)
{
	struct vhu_export *e;
	uid_t uid;
	int r;

	if ((r = uv_engine_uid(s->uid_base, partition, &uid)))
		return r;
	if (s->nexports == VHU_EXPORTS_MAX)
		return -ENOSPC;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->path = strdup(path))) {
		free(e);
		return -ENOMEM;
	}
	e->watch.kind = VHU_W_LISTEN;
	e->done_watch.kind = VHU_W_DEVICE;
	e->fd = fd;
	e->dev = dev;
	e->server = s;
	e->partition = partition;
	e->peer_uid = uid;
	e->done_fd = dev->ops->event_fd ? dev->ops->event_fd(dev) : -1;
	r = e->done_fd < 0 ? 0 : watch(s->epfd, e->done_fd, &e->done_watch, true);
	if (r == 0) {
		r = watch(s->epfd, fd, &e->watch, true);
		if (r < 0 && e->done_fd >= 0)
			watch(s->epfd, e->done_fd, &e->done_watch, false);
	}
	if (r < 0) {
		free(e->path);
		free(e);
		return r;
	}
	s->exports[s->nexports++] = e;
	return 0;
}

int vhu_server_export(struct vhu_server *s, const char *path, struct vhu_device *dev)
{
	mode_t old;
	int fd, r;

	/* The socket is created with no permissions for anybody else from the start. A socket
	 * file left by a killed predecessor is replaced: the boot partition restarts us on it. */
	old = umask(077);
	fd = uv_unix_listen(path, SOCK_STREAM | SOCK_NONBLOCK, 16);
	umask(old);
	if (fd < 0)
		return fd;
	r = vhu_server_adopt(s, fd, path, dev);
	if (r < 0) {
		unlink(path);
		close(fd);
	}
	return r;
}

/* Completes whatever the device has in flight (for every client of the export). */
static void drain(struct vhu_device *dev)
{
	if (dev->ops->drain)
		dev->ops->drain(dev);
}

static void client_free(struct vhu_client *c)
{
	struct vhu_device *dev = c->exp->dev;

	drain(dev); /* its requests point into the memory unmapped below */
	if (dev->ops->detach)
		dev->ops->detach(dev, c);
	for (unsigned i = 0; i < c->nqueues; i++)
		vhu_queue_reset(&c->q[i]);
	for (unsigned i = 0; i < c->rx_nfds; i++)
		close(c->rx_fds[i]);
	gm_unmap(&c->mem);
	inflight_unmap(&c->inflight);
	dirty_log_unmap(&c->log);
	watch(c->exp->server->epfd, c->fd, &c->watch, false);
	close(c->fd);
	free(c);
}

/* Only the engine of the partition the socket was exported for gets in: whoever else reached
 * the socket (a mode changed by hand, root, another partition's engine) is shut out before a
 * single message is read. */
static bool peer_allowed(struct vhu_export *e, int fd)
{
	uid_t got = (uid_t)-1;
	int r = uv_peer_check(fd, e->peer_uid, &got);

	if (r == 0)
		return true;
	e->server->refused++;
	if (r == -EACCES)
		fprintf(stderr,
		        "ultra-io: %s: connection from uid %u refused: the socket is partition "
		        "%u's, whose engine is uid %u (%lu refused)\n",
		        e->path, (unsigned)got, e->partition, (unsigned)e->peer_uid,
		        e->server->refused);
	else
		fprintf(stderr,
		        "ultra-io: %s: connection refused: its credentials: %s (%lu refused)\n",
		        e->path, strerror(-r), e->server->refused);
	return false;
}

static void accept_client(struct vhu_export *e)
{
	struct vhu_client *c;
	int fd;

	if (e->retired) /* an event of this batch from before the export was removed */
		return;
	fd = accept4(e->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!peer_allowed(e, fd)) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->watch.kind = VHU_W_CLIENT;
	c->fd = fd;
	c->exp = e;
	c->id = e->next_id++;
	c->nqueues = e->dev->ops->num_queues(e->dev);
	if (c->nqueues > VHU_MAX_QUEUES)
		c->nqueues = VHU_MAX_QUEUES;
	for (unsigned i = 0; i < VHU_MAX_QUEUES; i++) {
		struct vhu_queue *q = &c->q[i];
		q->index = i;
		q->kick_fd = q->call_fd = q->err_fd = -1;
		q->client = c;
		q->watch.kind = VHU_W_KICK;
	}
	if (e->dev->ops->attach && e->dev->ops->attach(e->dev, c) < 0) {
		fprintf(stderr, "ultra-io: %s: client refused: no room\n", e->dev->name);
		close(fd);
		free(c);
		return;
	}
	if (watch(e->server->epfd, fd, &c->watch, true) < 0) {
		if (e->dev->ops->detach)
			e->dev->ops->detach(e->dev, c);
		close(fd);
		free(c);
		return;
	}
	c->next = e->server->clients;
	e->server->clients = c;
	fprintf(stderr, "ultra-io: %s: client %u connected\n", e->dev->name, c->id);
}

int vhu_send_fd(struct vhu_client *c, const struct vhu_hdr *req, const void *payload, uint32_t size,
                int fd)
{
	struct vhu_hdr h = {
	    .request = req->request, .flags = VHU_FLAG_VERSION | VHU_FLAG_REPLY, .size = size};
	uint8_t buf[sizeof(h) + VHU_PAYLOAD_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {buf, sizeof(h) + size};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (size > VHU_PAYLOAD_MAX)
		return -EMSGSIZE;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, size);
	if (fd >= 0) {
		struct cmsghdr *cm;
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(h) + size ? 0 : -EAGAIN; /* a peer that won't read is dropped */
}

int vhu_send(struct vhu_client *c, const struct vhu_hdr *req, const void *payload, uint32_t size)
{
	return vhu_send_fd(c, req, payload, size, -1);
}

/* Receives up to want bytes into c->rx, collecting any fds; 0 on EOF, -EAGAIN when empty. */
static ssize_t rx_some(struct vhu_client *c, size_t want)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {c->rx + c->have, want};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = ctl.buf,
	                    .msg_controllen = sizeof(ctl.buf)};
	ssize_t n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	int bad = 0;

	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (c->rx_nfds < VHU_MAX_FDS)
				c->rx_fds[c->rx_nfds++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if ((mh.msg_flags & MSG_CTRUNC) || bad)
		return -EPROTO;
	c->have += (size_t)n;
	return n;
}

static void drop_rx(struct vhu_client *c)
{
	for (unsigned i = 0; i < c->rx_nfds; i++)
		close(c->rx_fds[i]);
	c->rx_nfds = 0;
	c->have = 0;
}

/* Handles the message in c->rx; returns false when the client must go. */
static bool handle_rx(struct vhu_client *c)
{
	struct vhu_msg m;
	bool keep = false;
	int r = vhu_msg_parse(c->rx, c->have, c->rx_fds, c->rx_nfds, &m);

	if (r < 0) {
		fprintf(stderr, "ultra-io: %s: client %u: malformed %s (%s): dropped\n",
		        c->exp->dev->name, c->id,
		        vhu_request_name(((struct vhu_hdr *)c->rx)->request), strerror(-r));
		drop_rx(c);
		return false;
	}
	c->rx_nfds = 0; /* now owned by m */
	c->have = 0;
	drain(c->exp->dev); /* the control path never changes anything under a request */
	r = vhu_handle(c, &m, &keep);
	if (r < 0)
		fprintf(stderr, "ultra-io: %s: client %u: %s refused (%s)%s\n", c->exp->dev->name,
		        c->id, vhu_request_name(m.hdr.request), strerror(-r),
		        keep ? "" : ": dropped");
	for (unsigned i = 0; i < m.nfds; i++)
		if (m.fds[i] >= 0)
			close(m.fds[i]);
	return keep;
}

/* Reads what is available of the current message; false when the client must go. */
static bool client_readable(struct vhu_client *c)
{
	const size_t hs = sizeof(struct vhu_hdr);

	for (;;) {
		size_t want;
		ssize_t n;

		if (c->have < hs) {
			want = hs - c->have;
		} else {
			struct vhu_hdr h;
			memcpy(&h, c->rx, hs);
			if (vhu_hdr_check(&h) < 0)
				return false;
			want = hs + h.size - c->have;
		}
		if (want == 0) {
			if (!handle_rx(c))
				return false;
			continue;
		}
		n = rx_some(c, want);
		if (n == -EAGAIN || n == -EINTR)
			return true;
		if (n <= 0)
			return false;
	}
}

static void drop_client(struct vhu_server *s, struct vhu_client *c)
{
	uint64_t kicks = 0, wakeups = 0;

	for (struct vhu_client **pp = &s->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	for (unsigned i = 0; i < c->nqueues; i++) {
		kicks += c->q[i].kicks;
		wakeups += c->q[i].wakeups;
	}
	fprintf(stderr, "ultra-io: %s: client %u gone (%llu kicks, %llu kick wake-ups)\n",
	        c->exp->dev->name, c->id, (unsigned long long)kicks, (unsigned long long)wakeups);
	client_free(c);
}

void vhu_queue_notify(struct vhu_queue *q)
{
	if (q->call_fd >= 0 && vq_should_notify(&q->vq))
		eventfd_write(q->call_fd, 1);
}

void vhu_serve_queue(struct vhu_queue *q)
{
	struct vhu_device *dev = q->client->exp->dev;

	if (!q->started || !q->enabled || q->vq.broken)
		return;
	dev->ops->serve(dev, q);
	if (q->vq.broken && q->err_fd >= 0)
		eventfd_write(q->err_fd, 1);
}

static void kicked(struct vhu_queue *q)
{
	eventfd_t v;

	if (eventfd_read(q->kick_fd, &v) < 0 && errno == EAGAIN)
		return;
	q->kicks += v; /* several notifications since the last read count as one wake-up */
	q->wakeups++;
	vhu_serve_queue(q);
}

int vhu_server_unexport(struct vhu_server *s, const char *path,
                        void (*release)(struct vhu_device *dev, void *ctx), void *ctx)
{
	for (unsigned i = 0; i < s->nexports; i++) {
		struct vhu_export *e = s->exports[i];

		if (e->retired || strcmp(e->path, path))
			continue;
		for (struct vhu_client *c = s->clients; c; c = c->next)
			if (c->exp == e)
				c->dead = true;
		watch(s->epfd, e->fd, &e->watch, false);
		close(e->fd);
		unlink(e->path);
		e->fd = -1;
		e->retired = true;
		e->release = release;
		e->release_ctx = ctx;
		return 0;
	}
	return -ENOENT;
}

static void export_free(struct vhu_export *e)
{
	/* Before the release: the device may hand its event fd (a disk's ring) to another. */
	if (e->done_fd >= 0)
		watch(e->server->epfd, e->done_fd, &e->done_watch, false);
	if (e->retired && e->release)
		e->release(e->dev, e->release_ctx);
	else if (!e->retired) {
		close(e->fd);
		unlink(e->path);
	}
	free(e->path);
	free(e);
}

/* Retired exports whose clients are gone (dead clients are dropped before this). */
static void sweep_exports(struct vhu_server *s)
{
	unsigned i = 0;

	while (i < s->nexports) {
		struct vhu_export *e = s->exports[i];
		bool busy = false;

		for (struct vhu_client *c = s->clients; c && !busy; c = c->next)
			busy = c->exp == e;
		if (!e->retired || busy) {
			i++;
			continue;
		}
		s->exports[i] = s->exports[--s->nexports];
		export_free(e);
	}
}

int vhu_server_run(struct vhu_server *s, int stop_fd)
{
	struct vhu_watch stop = {.kind = VHU_W_STOP};
	struct epoll_event ev[32];
	int r = watch(s->epfd, stop_fd, &stop, true);

	if (r < 0)
		return r;
	for (;;) {
		int n = epoll_wait(s->epfd, ev, 32, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct vhu_watch *w = ev[i].data.ptr;
			struct vhu_client *c;

			switch (w->kind) {
			case VHU_W_STOP:
				return 0;
			case VHU_W_LISTEN:
				accept_client(container_of(w, struct vhu_export, watch));
				break;
			case VHU_W_CLIENT:
				c = container_of(w, struct vhu_client, watch);
				if (!c->dead && !client_readable(c))
					c->dead = true;
				break;
			case VHU_W_KICK: {
				struct vhu_queue *q = container_of(w, struct vhu_queue, watch);
				if (!q->client->dead && q->started)
					kicked(q);
				break;
			}
			case VHU_W_DEVICE: {
				struct vhu_device *dev =
				    container_of(w, struct vhu_export, done_watch)->dev;
				dev->ops->complete(dev);
				break;
			}
			case VHU_W_OTHER:
				w->ready(w);
				break;
			}
		}
		/* Free dropped clients only after the batch: later events may point into them. */
		for (struct vhu_client *c = s->clients, *next; c; c = next) {
			next = c->next;
			if (c->dead)
				drop_client(s, c);
		}
		sweep_exports(s);
	}
}

void vhu_server_free(struct vhu_server *s)
{
	if (!s)
		return;
	while (s->clients)
		drop_client(s, s->clients);
	for (unsigned i = 0; i < s->nexports; i++)
		export_free(s->exports[i]);
	close(s->epfd);
	free(s);
}
