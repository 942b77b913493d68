/* SPDX-License-Identifier: MIT */
/* A hostile vhost-user front end's bytes: the first byte says how many fds came with the
 * message, the rest is the message. The parser must refuse or return a message whose fields
 * agree with each other; ASan catches any read past the input. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../io/vhost_msg.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds[VHU_MAX_FDS + 1] = {10, 11, 12, 13, 14, 15, 16, 17, 18};
	struct vhu_msg m;
	uint8_t *copy;
	size_t nfds;

	if (size < 1)
		return 0;
	nfds = data[0] % (VHU_MAX_FDS + 2);
	copy = malloc(size - 1 ? size - 1 : 1); /* exact size: ASan sees any over-read */
	memcpy(copy, data + 1, size - 1);
	if (vhu_msg_parse(copy, size - 1, fds, nfds, &m) == 0) {
		assert(m.hdr.size == size - 1 - sizeof(struct vhu_hdr));
		assert(m.nfds == nfds && nfds <= VHU_MAX_FDS);
		if (m.hdr.request == VHU_SET_MEM_TABLE)
			assert(m.p.mem.nregions >= 1 && m.p.mem.nregions <= VHU_MAX_REGIONS &&
			       m.p.mem.nregions == nfds);
		if (m.hdr.request == VHU_GET_INFLIGHT_FD || m.hdr.request == VHU_SET_INFLIGHT_FD)
			assert(m.hdr.size == sizeof(struct vhu_inflight) &&
			       nfds == (m.hdr.request == VHU_SET_INFLIGHT_FD));
		if (m.hdr.request == VHU_GET_CONFIG)
			assert(m.p.cfg.offset + m.p.cfg.size <= VHU_CONFIG_MAX);
	}
	free(copy);
	return 0;
}
