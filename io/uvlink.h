/* SPDX-License-Identifier: MIT */
/* The I/O partition's link to the ultravisor: every memory table a client sends is checked
 * against the grants its partition holds in the resource database (claims 20, 21). */
#ifndef IO_UVLINK_H
#define IO_UVLINK_H

#include <stddef.h>
#include <stdint.h>

#include "vhost_user.h"

struct io_uvlink;

/* Starts the connector for the control socket sock (before the sandbox) and connects as
 * partition `partition`, role io. A failed first connection is reported in err but not fatal:
 * each table check reconnects, and refuses while the ultravisor cannot answer. */
int io_uvlink_open(const char *sock, uint32_t partition, struct io_uvlink **out, char *err,
                   size_t errlen);
/* The policy to give vhu_server_set_policy. */
struct vhu_mem_policy *io_uvlink_policy(struct io_uvlink *l);
/* Logs the tally and ends the connector. */
void io_uvlink_free(struct io_uvlink *l);

#endif
