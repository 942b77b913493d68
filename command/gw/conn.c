/* SPDX-License-Identifier: MIT */
/*
 * One client of the gateway: handshake, then lines relayed between its TLS connection and its
 * own connection to command.sock, both non-blocking. Memory is bounded both ways: a request
 * line is at most GW_LINE_MAX (the command partition's own bound) and only one is on its way at
 * a time; replies wait in GW_DOWN_CAP bytes and command.sock is not read while they are full.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw.h"
#include "unixsock.h"

struct gw_conn *gw_conn_new(struct gw *g, int fd, const char *peer)
{
	struct gw_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->gw = g;
	c->tls_fd = fd;
	c->cmd_fd = -1;
	c->rd_want = POLLIN;
	c->wr_want = POLLOUT;
	c->deadline = gw_now_ms() + GW_HANDSHAKE_MS;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	if (uv_linebuf_init(&c->up, GW_LINE_MAX) || !(c->ssl = SSL_new(g->ctx)) ||
	    SSL_set_fd(c->ssl, fd) != 1) {
		c->tls_fd = -1; /* the caller closes it */
		gw_conn_free(c);
		return NULL;
	}
	SSL_set_app_data(c->ssl, c);
	return c;
}

void gw_conn_free(struct gw_conn *c)
{
	if (c->ssl) {
		if (c->established && !c->lingering)
			SSL_shutdown(c->ssl); /* close_notify, best effort */
		SSL_free(c->ssl);
	}
	ERR_clear_error();
	if (c->tls_fd >= 0)
		close(c->tls_fd);
	if (c->cmd_fd >= 0)
		close(c->cmd_fd);
	uv_linebuf_free(&c->up);
	free(c);
}

static int connect_command(struct gw_conn *c)
{
	struct epoll_event ev = {.events = 0, .data.ptr = c};
	int fd = uv_unix_connect(c->gw->cmd_path, SOCK_STREAM);

	if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		gw_log("%s (CN \"%s\"): the command partition at %s: %s", c->peer, c->cn,
		       c->gw->cmd_path, strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	c->cmd_fd = fd;
	/* Registered with no events: the loop sets what it waits for. */
	return epoll_ctl(c->gw->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -1 : 0;
}

/* Our last word (an alert, close_notify, an error line) is out: stop writing, drain the peer
 * for a while, then close (the loop drops it at the deadline or the peer's end). */
void gw_conn_linger(struct gw_conn *c)
{
	if (c->established)
		SSL_shutdown(c->ssl);
	ERR_clear_error();
	shutdown(c->tls_fd, SHUT_WR);
	if (c->cmd_fd >= 0)
		close(c->cmd_fd); /* frees the command partition's slot now */
	c->cmd_fd = -1;
	c->cmd_ev = 0;
	c->lingering = true;
	c->deadline = gw_now_ms() + GW_LINGER_MS;
}

static int drain(struct gw_conn *c)
{
	char junk[4096];
	ssize_t n;

	while ((n = recv(c->tls_fd, junk, sizeof(junk), 0)) > 0)
		;
	return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
}

static int handshake(struct gw_conn *c)
{
	char why[256];
	int r, e;

	ERR_clear_error();
	if ((r = SSL_accept(c->ssl)) == 1) {
		gw_log("%s: accepted, CN \"%s\"", c->peer, c->cn);
		c->established = true;
		return connect_command(c);
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->rd_want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	gw_tls_reason(c, why, sizeof(why));
	gw_log("%s: refused: %s", c->peer, why);
	gw_conn_linger(c);
	return 0;
}

int gw_conn_tls_io(struct gw_conn *c, void *buf, size_t n, bool wr, short *want, bool *eof)
{
	int r, e;

	ERR_clear_error();
	r = wr ? SSL_write(c->ssl, buf, (int)n) : SSL_read(c->ssl, buf, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	if (eof)
		*eof = e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !ERR_peek_error());
	if (e == SSL_ERROR_SSL) {
		char why[256];

		gw_tls_reason(c, why, sizeof(why));
		gw_log("%s: dropped: %s", c->peer, why);
	}
	return -1;
}

/* Client to buffer. */
static int read_client(struct gw_conn *c, bool *moved)
{
	size_t space = uv_linebuf_space(&c->up);
	int r;

	if (!space || c->overlong || c->closing)
		return 0;
	if ((r = gw_conn_tls_io(c, uv_linebuf_tail(&c->up), space, false, &c->rd_want, NULL)) < 0)
		return -1;
	if (r > 0) {
		uv_linebuf_added(&c->up, (size_t)r);
		*moved = true;
	}
	return 0;
}

/* The first whole line to command.sock, when the last reply is through. */
static int write_command(struct gw_conn *c, bool *moved)
{
	ssize_t len = uv_linebuf_line(&c->up), n;

	if (len == -EMSGSIZE && !c->overlong) {
		gw_log("%s (CN \"%s\"): a request line over %d bytes: refused, closing", c->peer,
		       c->cn, GW_LINE_MAX - 1);
		c->overlong = true;
		*moved = true;
	}
	if (len <= 0 || c->inflight)
		return 0;
	if (!c->first_seen) {
		int r;

		c->first_seen = true;
		if ((r = gw_stream_first_line(c, (size_t)len, moved)))
			return r < 0 ? -1 : 0;
	}
	if (c->verbs && !c->fwd && gw_verbs_check(c, (size_t)len, moved))
		return 0;
	n = send(c->cmd_fd, c->up.buf + c->fwd, (size_t)len - c->fwd, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	c->fwd += (size_t)n;
	*moved = true;
	if (c->fwd == (size_t)len) {
		uv_linebuf_consume(&c->up, (size_t)len);
		c->fwd = 0;
		c->inflight = true;
	}
	return 0;
}

/* command.sock (or a stream's socket) to buffer; its end (a restart) ends this client too, once
 * it has what came. */
int gw_conn_read_command(struct gw_conn *c, bool *moved)
{
	size_t space = GW_DOWN_CAP - c->down_len;
	ssize_t n;

	if (!space || c->closing)
		return 0;
	n = recv(c->cmd_fd, c->down + c->down_len, space, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0) {
		c->closing = true;
	} else {
		if (memchr(c->down + c->down_len, '\n', (size_t)n))
			c->inflight = false;
		c->down_len += (size_t)n;
	}
	*moved = true;
	return 0;
}

int gw_conn_queue(struct gw_conn *c, const char *line)
{
	size_t n = strlen(line);

	if (n + 1 > GW_DOWN_CAP - c->down_len)
		return -1;
	memcpy(c->down + c->down_len, line, n);
	c->down[c->down_len + n] = '\n';
	c->down_len += n + 1;
	return 0;
}

/* The answer to a line over the bound, in the API's own words, after any reply due. */
static void answer_overlong(struct gw_conn *c)
{
	char msg[160];

	if (!c->overlong || c->inflight || c->closing)
		return;
	snprintf(msg, sizeof(msg),
	         "{\"error\":{\"code\":\"bad-request\",\"message\":\"request longer than %d "
	         "bytes\"}}",
	         GW_LINE_MAX - 1);
	if (!gw_conn_queue(c, msg))
		c->closing = true;
}

/* Buffer to client; not while a stream claim's answer (ours, not the client's) is in it. */
int gw_conn_write_client(struct gw_conn *c, bool *moved)
{
	int r;

	if (!c->down_len || c->mode == GW_CLAIMING)
		return 0;
	if ((r = gw_conn_tls_io(c, c->down, c->down_len, true, &c->wr_want, NULL)) < 0)
		return -1;
	if (r > 0) {
		c->down_len -= (size_t)r;
		memmove(c->down, c->down + r, c->down_len);
		*moved = true;
	}
	return 0;
}

int gw_conn_pump(struct gw_conn *c)
{
	bool moved = true;

	if (c->lingering)
		return drain(c);
	if (!c->established && handshake(c))
		return -1;
	if (!c->established || c->lingering)
		return 0;
	if (c->mode == GW_SPLICE)
		return gw_stream_pump(c);
	while (moved) {
		moved = false;
		if (read_client(c, &moved) || write_command(c, &moved) ||
		    gw_conn_read_command(c, &moved))
			return -1;
		if (c->mode == GW_CLAIMING && gw_stream_claimed(c, &moved))
			return -1;
		if (c->mode == GW_SPLICE)
			return gw_stream_pump(c);
		answer_overlong(c);
		if (gw_conn_write_client(c, &moved))
			return -1;
	}
	if (c->closing && !c->down_len)
		gw_conn_linger(c);
	return 0;
}
