/* SPDX-License-Identifier: MIT */
/* One message with file descriptors over a Unix socket (SCM_RIGHTS). */
#ifndef ULTRA_LIB_FDPASS_H
#define ULTRA_LIB_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* Sends len bytes and n_fds descriptors in one message. Returns 0 or -errno. */
int uv_send_fds(int sock, const void *buf, size_t len, const int *fds, unsigned n_fds);
/* Receives one message of at most cap bytes and up to max_fds descriptors (made CLOEXEC).
 * Returns the byte count (0 = peer closed) or -errno; *n_fds says how many arrived. A message
 * that was cut short (MSG_TRUNC/MSG_CTRUNC) is refused with -EMSGSIZE and its fds closed. */
ssize_t uv_recv_fds(int sock, void *buf, size_t cap, int *fds, unsigned max_fds, unsigned *n_fds);

#endif
