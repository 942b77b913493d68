/* SPDX-License-Identifier: MIT */
/* A hostile sender's offload header and frame: 12 bytes of virtio-net header, one byte of
 * negotiated offloads, then the frame, copied to exactly its size so ASan catches any access
 * outside. Whatever the check accepts must segment, or have its checksum filled, inside the
 * frame and the output buffer, with every segment within the buffer and the headers' length
 * (virtio 1.2, 5.1.6.2). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../io/net_csum.c"
#include "../../io/net_gso.c"

#define SEG_CAP 1518

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t hdr, total;
	unsigned n;
};

static int emit(void *ctx, const uint8_t *frame, size_t len)
{
	struct seen *s = ctx;

	if (len > SEG_CAP || len <= s->hdr)
		abort(); /* a segment outside the buffer, or without payload */
	s->total += len - s->hdr;
	s->n++;
	(void)frame;
	return s->n % 3 == 0 ? -1 : 0; /* a receiver that sometimes has no buffer */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr vh;
	struct net_offload o;
	uint8_t *frame, *buf;
	size_t len;

	if (size < sizeof(vh) + 1)
		return 0;
	memcpy(&vh, data, sizeof(vh));
	len = size - sizeof(vh) - 1;
	frame = malloc(len ? len : 1);
	buf = malloc(SEG_CAP);
	memcpy(frame, data + sizeof(vh) + 1, len);
	if (net_offload_check(&vh, data[sizeof(vh)] & NET_OFF_ALL, frame, len, &o) == 0) {
		if (o.vh.gso_type) {
			struct seen s = {.hdr = o.hdr};
			int r = net_gso_segment(&o, frame, len, buf, SEG_CAP, emit, &s);
			if (r >= 0 && (s.total != len - o.hdr || s.n > NET_GSO_SEGS_MAX))
				abort(); /* every payload byte exactly once */
		} else if (o.needs) {
			net_csum_copy(&o, frame, len, buf, SEG_CAP);
		}
	}
	free(buf);
	free(frame);
	return 0;
}
