/* SPDX-License-Identifier: MIT */
/* The migration stream's relay (lib/migrelay.h): one poll loop, two bounded buffers. Every
 * step first moves what can move without waiting (TLS may hold decrypted bytes poll cannot
 * see), then waits for what the blocked transfers asked for. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "migrelay.h"

struct dir {
	char *buf;
	size_t cap, off, len; /* bytes held: buf[off .. off+len) */
	bool eof;             /* the reading side ended */
	bool done;            /* and everything was passed on, the end too */
};

struct relay {
	struct uv_cmdconn *net;
	int local;
	struct dir up;                  /* local -> net */
	struct dir down;                /* net -> local */
	short net_rd_want, net_wr_want; /* what the last blocked TLS read/write waits for */
	struct uv_relay_stats *st;
	char *err;
	size_t errlen;
};

static size_t room(const struct dir *d) { return d->cap - d->off - d->len; }

static void took(struct dir *d, size_t n)
{
	d->off += n;
	d->len -= n;
	if (!d->len)
		d->off = 0;
}

static void compact(struct dir *d)
{
	if (d->off && room(d) < d->cap / 4) {
		memmove(d->buf, d->buf + d->off, d->len);
		d->off = 0;
	}
}

static int fail(struct relay *r, int e, const char *doing, const char *why)
{
	snprintf(r->err, r->errlen, "%s: %s", doing, why);
	return e;
}

/* local -> up.buf */
static int read_local(struct relay *r, bool *moved)
{
	ssize_t n;

	compact(&r->up);
	if (r->up.eof || !room(&r->up))
		return 0;
	n = recv(r->local, r->up.buf + r->up.off + r->up.len, room(&r->up), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR
		           ? 0
		           : fail(r, -errno, "reading the local stream", strerror(errno));
	if (n == 0)
		r->up.eof = true;
	r->up.len += (size_t)n;
	*moved = true;
	return 0;
}

/* up.buf -> net, and the end after the last byte */
static int write_net(struct relay *r, bool *moved)
{
	char e[200] = "";
	ssize_t n;

	if (r->up.len) {
		n = uv_cmdconn_send(r->net, r->up.buf + r->up.off, r->up.len, &r->net_wr_want, e,
		                    sizeof(e));
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return fail(r, -ECONNRESET,
			            "the network peer went in the middle of the stream", e);
		took(&r->up, (size_t)n);
		r->st->to_net += (uint64_t)n;
		*moved = true;
	}
	if (r->up.eof && !r->up.len && !r->up.done) {
		uv_cmdconn_shutdown_write(r->net);
		r->up.done = true;
		*moved = true;
	}
	return 0;
}

/* net -> down.buf */
static int read_net(struct relay *r, bool *moved)
{
	char e[200] = "";
	ssize_t n;

	compact(&r->down);
	if (r->down.eof || !room(&r->down))
		return 0;
	n = uv_cmdconn_recv(r->net, r->down.buf + r->down.off + r->down.len, room(&r->down),
	                    &r->net_rd_want, e, sizeof(e));
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return fail(r, (int)n, "reading the network stream", e);
	if (n == 0)
		r->down.eof = true;
	r->down.len += (size_t)n;
	*moved = true;
	return 0;
}

/* down.buf -> local, and the end after the last byte */
static int write_local(struct relay *r, bool *moved)
{
	ssize_t n;

	if (r->down.len) {
		n = send(r->local, r->down.buf + r->down.off, r->down.len,
		         MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0 && r->up.done && (errno == EPIPE || errno == ECONNRESET)) {
			/* The local side is gone after its own end: what the peer still says
			 * has nobody to read it. */
			r->down.len = r->down.off = 0;
			r->down.eof = r->down.done = true;
			*moved = true;
			return 0;
		}
		if (n < 0)
			return fail(r, -errno, "writing the local stream", strerror(errno));
		took(&r->down, (size_t)n);
		r->st->to_local += (uint64_t)n;
		*moved = true;
	}
	if (r->down.eof && !r->down.len && !r->down.done) {
		shutdown(r->local, SHUT_WR);
		r->down.done = true;
		*moved = true;
	}
	return 0;
}

static int wait_some(struct relay *r, int idle_ms)
{
	struct pollfd p[2] = {{.fd = r->local}, {.fd = uv_cmdconn_fd(r->net)}};
	int n;

	if (!r->up.eof && room(&r->up))
		p[0].events |= POLLIN;
	if (r->down.len)
		p[0].events |= POLLOUT;
	if (!r->down.eof && room(&r->down))
		p[1].events |= r->net_rd_want;
	if (r->up.len)
		p[1].events |= r->net_wr_want;
	/* Room freed by the other side lets a read that had no room go on at once. */
	if (!r->down.eof && room(&r->down) && uv_cmdconn_pending(r->net))
		return 0;
	/* A side we want nothing from is left out: its hang-up alone must not wake us. */
	for (int i = 0; i < 2; i++)
		if (!p[i].events)
			p[i].fd = -1;
	do
		n = poll(p, 2, idle_ms > 0 ? idle_ms : -1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(r, -errno, "poll", strerror(errno));
	if (n == 0)
		return fail(r, -ETIMEDOUT, "the stream", "nothing moved for too long");
	return 0;
}

int uv_relay_run(struct uv_cmdconn *net, int local, size_t bufcap, int idle_ms,
                 struct uv_relay_stats *st, char *err, size_t errlen)
{
	struct uv_relay_stats ignore = {0};
	struct relay r = {.net = net,
	                  .local = local,
	                  .net_rd_want = POLLIN,
	                  .net_wr_want = POLLOUT,
	                  .st = st ? st : &ignore,
	                  .err = err,
	                  .errlen = errlen};
	int rc = 0;

	bufcap = bufcap ? bufcap : UV_RELAY_BUF_DEFAULT;
	r.up.cap = r.down.cap = bufcap;
	r.up.buf = malloc(bufcap);
	r.down.buf = malloc(bufcap);
	if (!r.up.buf || !r.down.buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (!r.up.done || !r.down.done) {
		bool moved = true;

		while (moved && !rc) {
			moved = false;
			rc = read_local(&r, &moved);
			if (!rc)
				rc = write_net(&r, &moved);
			if (!rc)
				rc = read_net(&r, &moved);
			if (!rc)
				rc = write_local(&r, &moved);
		}
		if (rc || (r.up.done && r.down.done))
			break;
		if ((rc = wait_some(&r, idle_ms)))
			break;
	}
out:
	free(r.up.buf);
	free(r.down.buf);
	return rc;
}
