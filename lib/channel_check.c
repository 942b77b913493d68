/* SPDX-License-Identifier: MIT */
/*
 * Validation of a channel header copy. Everything a peer could have written is checked here, once,
 * before any pointer into the region is formed from it: the attach path then trusts only the
 * local copy.
 */
#include "channel_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int uv_chan_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int pow2(uint64_t v) { return v && !(v & (v - 1)); }

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

uint64_t uv_chan_queue_bytes(const struct uv_chan_qdesc *d)
{
	return sizeof(struct uv_chan_qctl) + (uint64_t)d->slot_size * d->slot_count;
}

/* Geometry of one queue on its own: sizes, alignment, and that it lies inside the region. */
static int queue_check(const struct uv_chan_qdesc *d, unsigned i, uint64_t total, char *err,
                       size_t errlen)
{
	uint64_t bytes;

	if (!pow2(d->slot_size) || d->slot_size < UV_CHAN_SLOT_MIN ||
	    d->slot_size > UV_CHAN_SLOT_MAX)
		return uv_chan_fail(-EPROTO, err, errlen,
		                    "queue %u: slot_size %u is not a power of two in [%u, %u]", i,
		                    d->slot_size, UV_CHAN_SLOT_MIN, UV_CHAN_SLOT_MAX);
	if (!pow2(d->slot_count) || d->slot_count < UV_CHAN_SLOTS_MIN ||
	    d->slot_count > UV_CHAN_SLOTS_MAX)
		return uv_chan_fail(-EPROTO, err, errlen,
		                    "queue %u: slot_count %u is not a power of two in [%u, %u]", i,
		                    d->slot_count, UV_CHAN_SLOTS_MIN, UV_CHAN_SLOTS_MAX);
	if ((uint64_t)d->slot_size * d->slot_count > UV_CHAN_RING_MAX)
		return uv_chan_fail(-EPROTO, err, errlen, "queue %u: ring larger than %llu bytes",
		                    i, (unsigned long long)UV_CHAN_RING_MAX);
	if (d->producer > UV_CHAN_SIDE_B)
		return uv_chan_fail(-EPROTO, err, errlen,
		                    "queue %u: producer %u is neither side A nor B", i,
		                    d->producer);
	if (d->flags || d->reserved)
		return uv_chan_fail(-EPROTO, err, errlen, "queue %u: reserved fields are not zero",
		                    i);
	if (d->offset % UV_CHAN_ALIGN)
		return uv_chan_fail(-EPROTO, err, errlen,
		                    "queue %u: offset %llu is not %u-byte aligned", i,
		                    (unsigned long long)d->offset, UV_CHAN_ALIGN);
	if (d->offset < UV_CHAN_HDR_SIZE)
		return uv_chan_fail(-EPROTO, err, errlen,
		                    "queue %u: offset %llu overlaps the header", i,
		                    (unsigned long long)d->offset);
	bytes = uv_chan_queue_bytes(d);
	/* offset <= total first, so total - offset cannot wrap. */
	if (d->offset > total || bytes > total - d->offset)
		return uv_chan_fail(
		    -EPROTO, err, errlen,
		    "queue %u: offset %llu + %llu bytes is outside the %llu-byte region", i,
		    (unsigned long long)d->offset, (unsigned long long)bytes,
		    (unsigned long long)total);
	return 0;
}

static int overlap_check(const struct uv_chan_hdr *h, char *err, size_t errlen)
{
	unsigned i, j;

	for (i = 0; i < h->n_queues; i++)
		for (j = i + 1; j < h->n_queues; j++) {
			const struct uv_chan_qdesc *a = &h->q[i], *b = &h->q[j];
			/* Both lie inside the region (checked), so these sums cannot overflow. */
			if (a->offset < b->offset + uv_chan_queue_bytes(b) &&
			    b->offset < a->offset + uv_chan_queue_bytes(a))
				return uv_chan_fail(-EPROTO, err, errlen,
				                    "queues %u and %u overlap", i, j);
		}
	return 0;
}

int uv_chan_hdr_check(const struct uv_chan_hdr *h, size_t region, char *err, size_t errlen)
{
	unsigned i;
	int r;

	if (h->magic != UV_CHAN_MAGIC)
		return uv_chan_fail(-EPROTO, err, errlen,
		                    "magic 0x%08x is not a channel's (0x%08x)", h->magic,
		                    UV_CHAN_MAGIC);
	if (h->version != UV_CHAN_VERSION)
		return uv_chan_fail(-EPROTONOSUPPORT, err, errlen,
		                    "version %u, this library speaks %u", h->version,
		                    UV_CHAN_VERSION);
	if (h->hdr_size != UV_CHAN_HDR_SIZE)
		return uv_chan_fail(-EPROTO, err, errlen, "hdr_size %u, expected %zu", h->hdr_size,
		                    UV_CHAN_HDR_SIZE);
	if (h->features & ~UV_CHAN_FEATURES_KNOWN)
		return uv_chan_fail(-EOPNOTSUPP, err, errlen, "unknown feature bits 0x%x",
		                    h->features & ~UV_CHAN_FEATURES_KNOWN);
	/* The mapping may be larger than the channel (a PCI BAR is a power of two), never smaller.
	 */
	if (h->total_size < UV_CHAN_HDR_SIZE || h->total_size > region)
		return uv_chan_fail(-EPROTO, err, errlen,
		                    "total_size %llu does not fit the %zu-byte region",
		                    (unsigned long long)h->total_size, region);
	if (h->part_id[0] == h->part_id[1])
		return uv_chan_fail(-EPROTO, err, errlen, "part_id: both ends are partition %u",
		                    h->part_id[0]);
	if (!h->n_queues || h->n_queues > UV_CHAN_QUEUES_MAX)
		return uv_chan_fail(-EPROTO, err, errlen, "n_queues %u is not in [1, %u]",
		                    h->n_queues, UV_CHAN_QUEUES_MAX);
	if (!all_zero(h->reserved, sizeof(h->reserved)))
		return uv_chan_fail(-EPROTO, err, errlen, "reserved header fields are not zero");
	for (i = 0; i < h->n_queues; i++) {
		r = queue_check(&h->q[i], i, h->total_size, err, errlen);
		if (r)
			return r;
	}
	for (; i < UV_CHAN_QUEUES_MAX; i++)
		if (!all_zero(&h->q[i], sizeof(h->q[i])))
			return uv_chan_fail(-EPROTO, err, errlen,
			                    "queue %u: unused slot is not zero", i);
	return overlap_check(h, err, errlen);
}
