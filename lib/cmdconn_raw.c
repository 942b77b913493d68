/* SPDX-License-Identifier: MIT */
/* Raw bytes on a command connection (lib/migrelay.h): a migration stream, once the stream line
 * is answered, is no longer lines. */
#include <errno.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cmdconn_int.h"
#include "migrelay.h"

int uv_cmdconn_fd(const struct uv_cmdconn *c) { return c->fd; }

size_t uv_cmdconn_pending(struct uv_cmdconn *c)
{
	return c->in.len + (c->ssl ? (size_t)SSL_pending(c->ssl) : 0);
}

ssize_t uv_cmdconn_recv(struct uv_cmdconn *c, void *buf, size_t n, short *want, char *err,
                        size_t errlen)
{
	if (c->in.len) {
		size_t k = c->in.len < n ? c->in.len : n;

		memcpy(buf, c->in.buf, k);
		uv_linebuf_consume(&c->in, k);
		return (ssize_t)k;
	}
	return cmdconn_xfer(c, buf, n, false, want, err, errlen);
}

ssize_t uv_cmdconn_send(struct uv_cmdconn *c, const void *buf, size_t n, short *want, char *err,
                        size_t errlen)
{
	/* A relay's buffer moves (compaction) and grows between a blocked write and its retry;
	 * OpenSSL accepts that only when told, and only as long as it never shrinks, which a
	 * relay's pending bytes never do. */
	if (c->ssl)
		SSL_set_mode(c->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return cmdconn_xfer(c, (void *)buf, n, true, want, err, errlen);
}

void uv_cmdconn_shutdown_write(struct uv_cmdconn *c)
{
	if (c->ssl)
		SSL_shutdown(c->ssl); /* close_notify; TLS 1.3 lets the peer's direction go on */
	else
		shutdown(c->fd, SHUT_WR);
}
