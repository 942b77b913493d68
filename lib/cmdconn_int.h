/* SPDX-License-Identifier: MIT */
/* Inside lib/cmdconn*.c: a connection and its transport. */
#ifndef ULTRA_LIB_CMDCONN_INT_H
#define ULTRA_LIB_CMDCONN_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cmdconn.h"
#include "linebuf.h"

struct ssl_st;
struct ssl_ctx_st;

struct uv_cmdconn {
	int fd;
	struct ssl_ctx_st *ctx; /* TLS only */
	struct ssl_st *ssl;
	struct uv_linebuf in;
};

/* One read or write on the transport: > 0 bytes moved, 0 the peer closed (read), -EAGAIN with
 * *want the poll events to wait for, or another -errno with err set. */
ssize_t cmdconn_tls_io(struct uv_cmdconn *c, void *buf, size_t n, bool wr, short *want, char *err,
                       size_t errlen);
/* One transfer on either transport; the same contract as cmdconn_tls_io. */
ssize_t cmdconn_xfer(struct uv_cmdconn *c, void *buf, size_t n, bool wr, short *want, char *err,
                     size_t errlen);
/* TCP connection and TLS handshake to a (kind TLS) within the deadline (monotonic ms). */
int cmdconn_tls_open(struct uv_cmdconn *c, const struct uv_cmdaddr *a,
                     const struct uv_tls_files *tls, uint64_t deadline, char *err, size_t errlen);
void cmdconn_tls_close(struct uv_cmdconn *c);

/* Waits until fd is ready for events or the deadline passes: 0, -ETIMEDOUT or -errno. */
int cmdconn_wait(int fd, short events, uint64_t deadline);
uint64_t cmdconn_now_ms(void);

#endif
