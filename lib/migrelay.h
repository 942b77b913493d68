/* SPDX-License-Identifier: MIT */
/*
 * The source monitor's relay for a migration stream over the network (claim 44; docs/
 * migration.md, "Over the network"): the confined QEMU writes its stream into one end of a
 * socketpair; the relay moves the bytes between the other end and a TLS connection to the
 * target's gateway (lib/cmdconn.h), both ways, through two bounded buffers: a side that does not
 * take bytes stops the relay reading the other (backpressure), memory never grows.
 *
 * An end of one direction (EOF) is passed on once its buffer is flushed (shutdown of the socket,
 * close_notify on TLS); the relay returns when both directions ended, or at the first error.
 */
#ifndef ULTRA_LIB_MIGRELAY_H
#define ULTRA_LIB_MIGRELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cmdconn.h"

#define UV_RELAY_BUF_DEFAULT (256 * 1024)

struct uv_relay_stats {
	uint64_t to_net;   /* bytes from the local socket to the network */
	uint64_t to_local; /* and back */
};

/*
 * Relays between local (a connected stream socket) and net until both directions ended: 0, or
 * -errno with err saying which side failed (-ECONNRESET: the network peer went in the middle of
 * the stream with bytes still to deliver). bufcap bytes each way (0: the default). idle_ms > 0:
 * -ETIMEDOUT when nothing moves for that long. Neither local nor net is closed here.
 */
int uv_relay_run(struct uv_cmdconn *net, int local, size_t bufcap, int idle_ms,
                 struct uv_relay_stats *st, char *err, size_t errlen);

/* migrelay_open.c: a connection to the gateway at addr (tls://HOST:PORT) whose first line names
 * the stream token and whose answer the gateway accepted: raw bytes from here on. 0 and *out,
 * or -errno with err saying why (-EPROTO: the gateway refused the token, in its words). */
int uv_stream_open(const char *addr, const struct uv_tls_files *tls, const char *token,
                   int timeout_ms, struct uv_cmdconn **out, char *err, size_t errlen);

/* cmdconn_raw.c: raw bytes on a command connection, after its lines (the stream line and its
 * answer). Bytes already read past the last line come first. The contract of read(2)/write(2)
 * on a non-blocking socket: > 0 moved, 0 the peer closed (recv), -EAGAIN with *want (POLLIN or
 * POLLOUT) to wait for, or another -errno with err set. */
ssize_t uv_cmdconn_recv(struct uv_cmdconn *c, void *buf, size_t n, short *want, char *err,
                        size_t errlen);
ssize_t uv_cmdconn_send(struct uv_cmdconn *c, const void *buf, size_t n, short *want, char *err,
                        size_t errlen);
/* Our direction ends: close_notify (TLS) or shutdown(SHUT_WR); reading goes on. */
void uv_cmdconn_shutdown_write(struct uv_cmdconn *c);
/* Decrypted bytes waiting inside the transport that poll(2) cannot see. */
size_t uv_cmdconn_pending(struct uv_cmdconn *c);
int uv_cmdconn_fd(const struct uv_cmdconn *c);

#endif
