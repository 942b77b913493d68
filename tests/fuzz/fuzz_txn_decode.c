/* SPDX-License-Identifier: MIT */
/* The transaction decoder over arbitrary bytes: it must never read out of bounds, and whatever
 * it accepts must encode back to the very same bytes (no field is silently normalised) -- except
 * a create-partition record of an older descriptor version (docs/txn-log.md, "Upgrading"), which
 * encodes as the current version with every old field's bytes kept and the new ones zero. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "desc_upgrade.h"
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

/* An accepted old record: the current encoding differs only in the header's length, the
 * descriptor's version and size, and the zeroed tail. */
static void check_upgraded(const uint8_t *data, size_t size, const unsigned char *out, ssize_t n)
{
	struct uv_txn again;
	size_t old = size - HDR;

	if (size <= HDR || n != (ssize_t)(HDR + sizeof(struct uv_partition_desc)) ||
	    uv_desc_stored_size(data + HDR, old) != old || old >= sizeof(struct uv_partition_desc))
		abort();
	if (memcmp(out + HDR + 12, data + HDR + 12, old - 12) || !zero(out + HDR + old, n - size))
		abort();
	if (uv_txn_decode(out, (size_t)n, &again) != UV_TXN_OK)
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
	if (n != (ssize_t)size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
