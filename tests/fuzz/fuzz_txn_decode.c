/* SPDX-License-Identifier: MIT */
/* The transaction decoder over arbitrary bytes: it must never read out of bounds, and whatever
 * it accepts must encode back to the very same bytes (no field is silently normalised). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "txn_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[sizeof(struct uv_txn_hdr) + sizeof(struct uv_partition_desc) +
	                         UV_TXN_EXTENTS_MAX * sizeof(struct uv_txn_extent)];
	char line[160];
	struct uv_txn t;
	ssize_t n;

	if (uv_txn_decode(data, size, &t) != UV_TXN_OK)
		return 0;
	uv_txn_summary(&t, line, sizeof(line));
	n = uv_txn_encode(&t, out, sizeof(out), NULL);
	if (n != (ssize_t)size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
