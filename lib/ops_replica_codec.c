/* SPDX-License-Identifier: MIT */
/* The snapshot frame of include/ultra/ops_replica.h, in base64 (docs/ops-ha.md). Everything
 * is checked before the image is handed on: an SQLite image from a peer is still bytes from
 * the network, and the receiver opens it only after this and then checks it again as a store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "ops_replica.h"

#define CRC_SPAN offsetof(struct uv_ops_snap_hdr, crc)

static uint32_t frame_crc(const struct uv_ops_snap_hdr *h, const void *image, size_t len)
{
	return uv_crc32c(uv_crc32c(0, h, CRC_SPAN), image, len);
}

int uv_ops_snap_encode(uint64_t epoch, uint64_t seq, const void *image, size_t len, char **b64)
{
	struct uv_ops_snap_hdr h = {
	    .magic = UV_OPS_SNAP_MAGIC,
	    .version = UV_OPS_SNAP_VERSION,
	    .header_size = sizeof(h),
	    .epoch = epoch,
	    .seq = seq,
	    .length = (uint32_t)len,
	};
	uint8_t *frame;
	int r;

	if (len > UV_OPS_SNAP_IMAGE_MAX)
		return -EMSGSIZE;
	h.crc = frame_crc(&h, image, len);
	if (!(frame = malloc(sizeof(h) + len)))
		return -ENOMEM;
	memcpy(frame, &h, sizeof(h));
	memcpy(frame + sizeof(h), image, len);
	r = uv_base64_encode(frame, sizeof(h) + len, b64);
	free(frame);
	return r;
}

static int check_hdr(const struct uv_ops_snap_hdr *h, size_t framelen, char *err, size_t errlen)
{
	if (h->magic != UV_OPS_SNAP_MAGIC) {
		snprintf(err, errlen, "not a store snapshot (magic %#x)", h->magic);
		return -EBADMSG;
	}
	if (h->version != UV_OPS_SNAP_VERSION || h->header_size != sizeof(*h)) {
		snprintf(err, errlen, "snapshot version %u, header %u bytes; we read version %u",
		         h->version, h->header_size, UV_OPS_SNAP_VERSION);
		return -EBADMSG;
	}
	if (h->length > UV_OPS_SNAP_IMAGE_MAX) {
		snprintf(err, errlen, "snapshot of %u bytes, over the %u-byte bound", h->length,
		         UV_OPS_SNAP_IMAGE_MAX);
		return -EMSGSIZE;
	}
	if (framelen - sizeof(*h) != h->length) {
		snprintf(err, errlen, "torn snapshot: %zu image bytes, the header says %u",
		         framelen - sizeof(*h), h->length);
		return -EBADMSG;
	}
	return 0;
}

int uv_ops_snap_decode(const char *b64, size_t b64len, struct uv_ops_snap *out, char *err,
                       size_t errlen)
{
	struct uv_ops_snap_hdr h;
	uint8_t *frame = NULL, *image;
	size_t len = 0;
	int r;

	if (b64len > (UV_OPS_SNAP_IMAGE_MAX + sizeof(h) + 2) / 3 * 4) {
		snprintf(err, errlen, "snapshot text of %zu bytes, over the bound", b64len);
		return -EMSGSIZE;
	}
	if ((r = uv_base64_decode(b64, b64len, &frame, &len))) {
		snprintf(err, errlen, "snapshot is not base64");
		return r;
	}
	if (len < sizeof(h)) {
		snprintf(err, errlen, "torn snapshot: %zu bytes, shorter than its header", len);
		r = -EBADMSG;
		goto out;
	}
	memcpy(&h, frame, sizeof(h));
	if ((r = check_hdr(&h, len, err, errlen)))
		goto out;
	if (frame_crc(&h, frame + sizeof(h), h.length) != h.crc) {
		snprintf(err, errlen, "snapshot checksum mismatch (altered or torn)");
		r = -EBADMSG;
		goto out;
	}
	if (!(image = malloc(h.length ? h.length : 1))) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(image, frame + sizeof(h), h.length);
	*out =
	    (struct uv_ops_snap){.epoch = h.epoch, .seq = h.seq, .image = image, .len = h.length};
out:
	free(frame);
	return r;
}
