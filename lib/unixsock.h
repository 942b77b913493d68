/* SPDX-License-Identifier: MIT */
/* Unix socket endpoints by path: every daemon and client here uses them the same way. */
#ifndef ULTRA_LIB_UNIXSOCK_H
#define ULTRA_LIB_UNIXSOCK_H

/* Binds and listens on path (replacing a stale socket file). type is SOCK_STREAM or
 * SOCK_SEQPACKET, optionally | SOCK_NONBLOCK; the fd is close-on-exec. Returns it or -errno. */
int uv_unix_listen(const char *path, int type, int backlog);
/* Connects to path; returns a close-on-exec fd or -errno. */
int uv_unix_connect(const char *path, int type);

#endif
