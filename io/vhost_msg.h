/* SPDX-License-Identifier: MIT */
/* A strict parser for one vhost-user message (claims 17, 63). Pure: bytes + fds in, a checked
 * message out; it never reads past len and never takes ownership of the fds. */
#ifndef IO_VHOST_MSG_H
#define IO_VHOST_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "ultra/vhost_user.h"

/* Largest payload any request we accept carries: a config-space read. */
#define VHU_PAYLOAD_MAX (sizeof(struct vhu_config))

struct vhu_msg {
	struct vhu_hdr hdr;
	union {
		uint64_t u64;
		struct vhu_vring_state state;
		struct vhu_vring_addr addr;
		struct vhu_mem_table mem;
		struct vhu_config cfg;
		struct vhu_inflight inflight;
		struct vhu_log log;
	} p;
	int fds[VHU_MAX_FDS];
	unsigned nfds;
};

/* Checks a header alone (enough to know how many payload bytes to read): -EPROTO for a bad
 * version or a reply flag, -EMSGSIZE for a payload larger than any request carries. */
int vhu_hdr_check(const struct vhu_hdr *h);

/* Parses buf[0..len) (header + payload) with the fds that came with it. -EPROTO on any size,
 * version, fd-count or field inconsistency, -EOPNOTSUPP for a request we do not implement.
 * *out is untouched on failure. */
int vhu_msg_parse(const uint8_t *buf, size_t len, const int *fds, size_t nfds, struct vhu_msg *out);

const char *vhu_request_name(uint32_t request);

#endif
