/* SPDX-License-Identifier: MIT */
/* The transaction decoder over arbitrary bytes: it must never read out of bounds, and whatever
 * it accepts must encode back to the very same bytes (no field is silently normalised) -- except
 * a create-partition record of an older descriptor version (docs/txn-log.md, "Upgrading"), which
 * encodes as the current version with every old field's bytes kept and the new ones zero (a
 * version 3 disk limit as the total), and a version 3 SET_DISK_LIMITS record (24-byte body),
 * which encodes as the 48-byte one with the same totals and no direction limited. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "desc_upgrade.h"
#include "disk_limit.h"
#include "txn_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR sizeof(struct uv_txn_hdr)

static int zero(const unsigned char *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

#define V2_END offsetof(struct uv_partition_desc, disk_limit)
#define V3_SIZE (V2_END + UV_DISKS_MAX * UV_DISK_LIMIT_V3_SIZE)

/* A version 3 descriptor's limits, now 40 bytes each: the totals, nothing else. */
static void check_v3_limits(const unsigned char *old, const unsigned char *now)
{
	for (unsigned i = 0; i < UV_DISKS_MAX; i++) {
		struct uv_disk_limit want = uv_disk_limit_from_v3(old + i * UV_DISK_LIMIT_V3_SIZE);

		if (memcmp(now + i * sizeof(want), &want, sizeof(want)))
			abort();
	}
}

/* An accepted old record: the current encoding differs only in the header's length, the
 * descriptor's version and size, the limits widened (v3) and the zeroed tail. */
static void check_upgraded(const uint8_t *data, size_t size, const unsigned char *out, ssize_t n)
{
	struct uv_txn again;
	size_t old = size - HDR, kept;

	if (size <= HDR || n != (ssize_t)(HDR + sizeof(struct uv_partition_desc)) ||
	    uv_desc_stored_size(data + HDR, old) != old || old >= sizeof(struct uv_partition_desc))
		abort();
	kept = old == V3_SIZE ? V2_END : old;
	if (memcmp(out + HDR + 12, data + HDR + 12, kept - 12))
		abort();
	if (old == V3_SIZE) /* the limits are the whole of the rest */
		check_v3_limits(data + HDR + V2_END, out + HDR + V2_END);
	else if (!zero(out + HDR + old, (size_t)n - size))
		abort();
	if (uv_txn_decode(out, (size_t)n, &again) != UV_TXN_OK)
		abort();
}

/* An accepted 24-byte set-disk-limits record: partition and disk kept, the limit its totals. */
static void check_old_limits(const uint8_t *data, size_t size, const unsigned char *out, ssize_t n)
{
	const size_t at = offsetof(struct uv_txn_disk_limits, limit);
	struct uv_disk_limit want;

	if (size != HDR + at + UV_DISK_LIMIT_V3_SIZE ||
	    n != (ssize_t)(HDR + sizeof(struct uv_txn_disk_limits)))
		abort();
	want = uv_disk_limit_from_v3(data + HDR + at);
	if (memcmp(out + 16, data + 16, HDR - 16) || memcmp(out + HDR, data + HDR, at) ||
	    memcmp(out + HDR + at, &want, sizeof(want)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[sizeof(struct uv_txn_hdr) + sizeof(struct uv_partition_desc) +
	                         UV_TXN_EXTENTS_MAX * sizeof(struct uv_txn_extent)];
	char line[160];
	struct uv_txn t;
	ssize_t n;

	enum uv_txn_reason r = uv_txn_decode(data, size, &t);

	if (r != UV_TXN_OK) {
		uv_txn_explain(data, size, r, line, sizeof(line)); /* reads the refused bytes too */
		return 0;
	}
	uv_txn_summary(&t, line, sizeof(line));
	n = uv_txn_encode(&t, out, sizeof(out), NULL);
	if (t.hdr.type == UV_TXN_CREATE_PARTITION && n != (ssize_t)size) {
		check_upgraded(data, size, out, n);
		return 0;
	}
	if (t.hdr.type == UV_TXN_SET_DISK_LIMITS && n != (ssize_t)size) {
		check_old_limits(data, size, out, n);
		return 0;
	}
	if (n != (ssize_t)size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
