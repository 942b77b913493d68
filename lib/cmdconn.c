/* SPDX-License-Identifier: MIT */
/* A connection to a command partition: the address decides the transport, lines are the same
 * over both (lib/cmdconn.h). Sockets are non-blocking so that every wait has its deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cmdconn_int.h"
#include "unixsock.h"

uint64_t cmdconn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cmdconn_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		uint64_t now = cmdconn_now_ms();
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static uint64_t deadline_of(int timeout_ms)
{
	return cmdconn_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
}

ssize_t cmdconn_xfer(struct uv_cmdconn *c, void *buf, size_t n, bool wr, short *want, char *err,
                     size_t errlen)
{
	ssize_t r;

	if (c->ssl)
		return cmdconn_tls_io(c, buf, n, wr, want, err, errlen);
	r = wr ? send(c->fd, buf, n, MSG_NOSIGNAL) : recv(c->fd, buf, n, 0);
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EINTR) {
		*want = wr ? POLLOUT : POLLIN;
		return -EAGAIN;
	}
	r = -errno;
	snprintf(err, errlen, "%s", strerror((int)-r));
	return r;
}

static int open_unix(struct uv_cmdconn *c, const struct uv_cmdaddr *a, char *err, size_t errlen)
{
	int fd = uv_unix_connect(a->path, SOCK_STREAM);

	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(-fd));
		return fd;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	c->fd = fd;
	return 0;
}

int uv_cmdconn_open(const char *addr, const struct uv_tls_files *tls, int timeout_ms,
                    struct uv_cmdconn **out, char *err, size_t errlen)
{
	struct uv_cmdaddr a;
	struct uv_cmdconn *c;
	int r;

	if ((r = uv_cmdaddr_parse(addr, &a, err, errlen)))
		return r;
	if (a.kind == UV_CMDADDR_TLS && (!tls || !tls->ca || !tls->cert || !tls->key)) {
		snprintf(err, errlen, "%s: a TLS address needs the CA, a certificate and its key",
		         addr);
		return -EINVAL;
	}
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	c->fd = -1;
	if ((r = uv_linebuf_init(&c->in, UV_CMDCONN_LINE_MAX)))
		goto out;
	if (a.kind == UV_CMDADDR_UNIX)
		r = open_unix(c, &a, err, errlen);
	else
		r = cmdconn_tls_open(c, &a, tls, deadline_of(timeout_ms), err, errlen);
out:
	if (r) {
		uv_cmdconn_close(c);
		return r;
	}
	*out = c;
	return 0;
}

/* Moves all n bytes, or fails. */
static int write_all(struct uv_cmdconn *c, const char *p, size_t n, uint64_t deadline, char *err,
                     size_t errlen)
{
	while (n) {
		short want = 0;
		ssize_t r = cmdconn_xfer(c, (void *)p, n, true, &want, err, errlen);

		if (r == -EAGAIN) {
			if ((r = cmdconn_wait(c->fd, want, deadline))) {
				snprintf(err, errlen, "%s",
				         r == -ETIMEDOUT ? "timed out writing" : strerror((int)-r));
				return (int)r;
			}
			continue;
		}
		if (r < 0)
			return (int)r;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int uv_cmdconn_write_line(struct uv_cmdconn *c, const char *line, int timeout_ms, char *err,
                          size_t errlen)
{
	size_t n = strlen(line);
	char *buf = malloc(n + 1);
	int r;

	/* One write, one TLS record: a line and its '\n' apart would wait out Nagle's algorithm
	 * against the peer's delayed ACK (40 ms a request). */
	if (!buf)
		return -ENOMEM;
	memcpy(buf, line, n);
	buf[n] = '\n';
	r = write_all(c, buf, n + 1, deadline_of(timeout_ms), err, errlen);
	free(buf);
	return r;
}

static int take_line(struct uv_cmdconn *c, size_t n, char **line)
{
	char *s = malloc(n);

	if (!s)
		return -ENOMEM;
	memcpy(s, c->in.buf, n - 1);
	s[n - 1] = 0;
	uv_linebuf_consume(&c->in, n);
	*line = s;
	return 0;
}

int uv_cmdconn_read_line(struct uv_cmdconn *c, char **line, int timeout_ms, char *err,
                         size_t errlen)
{
	uint64_t deadline = deadline_of(timeout_ms);

	for (;;) {
		ssize_t n = uv_linebuf_line(&c->in), r;
		short want = 0;

		if (n > 0)
			return take_line(c, (size_t)n, line);
		if (n < 0) {
			snprintf(err, errlen, "a reply longer than %u bytes", UV_CMDCONN_LINE_MAX);
			return (int)n;
		}
		r = cmdconn_xfer(c, uv_linebuf_tail(&c->in), uv_linebuf_space(&c->in), false, &want,
		                 err, errlen);
		if (r > 0) {
			uv_linebuf_added(&c->in, (size_t)r);
		} else if (r == 0) {
			snprintf(err, errlen, "the connection was closed without a reply");
			return -ECONNRESET;
		} else if (r != -EAGAIN) {
			return (int)r;
		} else if ((r = cmdconn_wait(c->fd, want, deadline))) {
			snprintf(err, errlen, "%s",
			         r == -ETIMEDOUT ? "no reply in time" : strerror((int)-r));
			return (int)r;
		}
	}
}

void uv_cmdconn_close(struct uv_cmdconn *c)
{
	if (!c)
		return;
	cmdconn_tls_close(c);
	if (c->fd >= 0)
		close(c->fd);
	uv_linebuf_free(&c->in);
	free(c);
}
