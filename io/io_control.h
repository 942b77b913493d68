/* SPDX-License-Identifier: MIT */
/* The control socket through which the command partition adds and removes exports of a running
 * ultra-io (include/ultra/io_ctl.h, docs/io-partition.md). */
#ifndef IO_IO_CONTROL_H
#define IO_IO_CONTROL_H

#include "switch.h"
#include "vhost_user.h"

struct io_control;

/* The switch named name, made if new (NULL when no more fit): main.c owns the switches. */
typedef struct vswitch *(*io_switch_fn)(void *ctx, const char *name);

/* Before the sandbox: binds path (mode 0600), makes the io_uring instances runtime disks will
 * use, and serves requests from s's event loop. */
int io_control_open(struct vhu_server *s, const char *path, io_switch_fn sw, void *sw_ctx,
                    struct io_control **out);
/* After vhu_server_free(s): frees the exports' devices, the rings, the socket. */
void io_control_free(struct io_control *c);

#endif
