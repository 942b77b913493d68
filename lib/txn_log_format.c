/* SPDX-License-Identifier: MIT */
/* Encoding and checking audit log records, segment headers and snapshot headers. */
#include <string.h>

#include "crc32c.h"
#include "txn_log_int.h"

#define REC_CRC_FROM offsetof(struct uv_log_rec, length)

size_t log_rec_encode(unsigned char *dst, enum uv_log_kind kind, uint8_t role, uint32_t sender,
                      uint64_t seq, const void *payload, uint32_t len)
{
	struct uv_log_rec r = {
	    .magic = UV_LOG_REC_MAGIC,
	    .length = len,
	    .kind = (uint8_t)kind,
	    .sender_role = role,
	    .sender = sender,
	    .seq = seq,
	};
	size_t size = log_rec_size(len);

	memcpy(dst, &r, sizeof(r));
	if (len)
		memcpy(dst + sizeof(r), payload, len);
	memset(dst + sizeof(r) + len, 0, size - sizeof(r) - len);
	r.crc = uv_crc32c(0, dst + REC_CRC_FROM, size - REC_CRC_FROM);
	memcpy(dst + offsetof(struct uv_log_rec, crc), &r.crc, sizeof(r.crc));
	return size;
}

void log_seg_hdr_init(struct uv_log_seg_hdr *h, uint64_t segment, uint64_t first_seq)
{
	memset(h, 0, sizeof(*h));
	h->magic = UV_LOG_SEG_MAGIC;
	h->version = UV_LOG_VERSION;
	h->header_size = sizeof(*h);
	h->segment = segment;
	h->first_seq = first_seq;
	h->crc = uv_crc32c(0, h, offsetof(struct uv_log_seg_hdr, crc));
}

int log_seg_hdr_ok(const struct uv_log_seg_hdr *h)
{
	return h->magic == UV_LOG_SEG_MAGIC && h->version == UV_LOG_VERSION &&
	       h->header_size == sizeof(*h) && h->reserved == 0 &&
	       h->crc == uv_crc32c(0, h, offsetof(struct uv_log_seg_hdr, crc));
}

static uint32_t snap_crc(const struct uv_log_snap_hdr *h, const void *state, size_t len)
{
	return uv_crc32c(uv_crc32c(0, h, offsetof(struct uv_log_snap_hdr, crc)), state, len);
}

void log_snap_hdr_init(struct uv_log_snap_hdr *h, uint64_t segment, uint64_t next_seq,
                       const void *state, size_t len)
{
	memset(h, 0, sizeof(*h));
	h->magic = UV_LOG_SNAP_MAGIC;
	h->version = UV_LOG_VERSION;
	h->header_size = sizeof(*h);
	h->segment = segment;
	h->next_seq = next_seq;
	h->length = len;
	h->crc = snap_crc(h, state, len);
}

int log_snap_ok(const struct uv_log_snap_hdr *h, const void *state, size_t len)
{
	return h->magic == UV_LOG_SNAP_MAGIC && h->version == UV_LOG_VERSION &&
	       h->header_size == sizeof(*h) && h->reserved == 0 && h->length == len &&
	       h->crc == snap_crc(h, state, len);
}

/* Classifies the record at buf[off]; its size goes to *size when intact. */
static enum uv_log_damage rec_check(const unsigned char *buf, size_t len, size_t off,
                                    struct uv_log_rec *r, size_t *size)
{
	size_t avail = len - off;

	if (avail < sizeof(*r))
		return UV_LOG_TORN;
	memcpy(r, buf + off, sizeof(*r));
	if (r->magic != UV_LOG_REC_MAGIC || r->length > UV_LOG_PAYLOAD_MAX)
		return UV_LOG_GARBAGE;
	*size = log_rec_size(r->length);
	if (avail < *size)
		return UV_LOG_TORN;
	if (r->crc != uv_crc32c(0, buf + off + REC_CRC_FROM, *size - REC_CRC_FROM))
		return UV_LOG_BAD_CRC;
	if (r->kind < UV_LOG_BEGIN || r->kind > UV_LOG_ABORT || r->reserved || r->reserved2 ||
	    (r->kind != UV_LOG_BEGIN && r->length))
		return UV_LOG_GARBAGE;
	return UV_LOG_INTACT;
}

static int all_zero(const unsigned char *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

int log_scan(const unsigned char *buf, size_t len, log_rec_fn fn, void *ctx, struct log_scan *res)
{
	size_t off = sizeof(res->hdr), size = 0;
	struct uv_log_rec r;
	int ret;

	memset(res, 0, sizeof(*res));
	if (len < sizeof(res->hdr)) {
		res->damage = len ? UV_LOG_TORN : UV_LOG_BAD_HEADER;
		return 0;
	}
	memcpy(&res->hdr, buf, sizeof(res->hdr));
	if (!log_seg_hdr_ok(&res->hdr)) {
		res->damage = UV_LOG_BAD_HEADER;
		return 0;
	}
	/* Zeros from a record boundary to the end are space the writer preallocated. */
	while (off < len && !all_zero(buf + off, len - off)) {
		res->damage = rec_check(buf, len, off, &r, &size);
		if (res->damage)
			break;
		ret = fn(ctx, &r, buf + off + sizeof(r));
		if (ret < 0)
			return ret;
		if (ret > 0) {
			res->damage = UV_LOG_GARBAGE;
			break;
		}
		off += size;
	}
	res->valid_end = off;
	return 0;
}
