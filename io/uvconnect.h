/* SPDX-License-Identifier: MIT */
/* Connections to the ultravisor for a sandboxed process (claims 17, 20). */
#ifndef IO_UVCONNECT_H
#define IO_UVCONNECT_H

#include <sys/types.h>

/* Forks the connector: a small process that, for each request on *link_out, connects to the
 * control socket at path (fixed now) and sends the connected socket back. Call before the
 * sandbox; the connector ends when the link closes or this process dies. */
int io_connector_start(const char *path, int *link_out, pid_t *pid_out);

/* A fresh connection to the ultravisor through the connector: 0 and *conn_out, or -errno (the
 * connector's connect failed, or the connector is gone: -EPIPE). */
int io_connector_connect(int link, int *conn_out);

#endif
