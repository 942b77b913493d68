/* SPDX-License-Identifier: MIT */
/* A hostile front end's inflight region: the input is a SET_INFLIGHT_FD payload (24 bytes),
 * then the region and ring sizes and the used index, then one queue region's bytes. The payload
 * checks must never accept an offset that is unaligned or ends past a signed file offset, and
 * the scan must only ever name heads below the ring size, each once, in counter order, and
 * touch nothing outside the region (allocated at exactly its size so ASan sees any stray
 * access). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../io/inflight.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhu_inflight p;
	struct vhu_inflight_queue *q;
	uint16_t heads[128], ring_used;
	uint8_t seen[128] = {0};
	uint64_t top = 0, bytes;
	uint32_t entries, num;
	int n;

	if (size < sizeof(p) + 3)
		return 0;
	memcpy(&p, data, sizeof(p));
	if (inflight_check(&p, 8, 1) == 0) {
		assert(p.num_queues >= 1 && p.num_queues <= 8);
		assert(p.queue_size && !(p.queue_size & (p.queue_size - 1)));
		assert(p.mmap_offset % 4096 == 0 && p.mmap_offset + p.mmap_size <= INT64_MAX);
	}
	data += sizeof(p);
	size -= sizeof(p);
	entries = 1u << (data[0] % 7);                               /* 1..64 */
	num = data[0] & 0x80 ? entries : 1u << ((data[0] >> 3) % 8); /* mostly <= entries */
	memcpy(&ring_used, data + 1, 2);
	data += 3;
	size -= 3;
	bytes = vhu_inflight_queue_bytes(entries);
	q = malloc(bytes);
	memset(q, 0, bytes);
	memcpy(q, data, size < bytes ? size : bytes);
	n = inflight_scan(q, entries, num, ring_used, heads, &top);
	assert(n == -EINVAL || (n >= 0 && (uint32_t)n <= num));
	for (int i = 0; i < n; i++) {
		assert(heads[i] < num && !seen[heads[i]]);
		seen[heads[i]] = 1;
		assert(q->desc[heads[i]].counter <= top);
		if (i)
			assert(q->desc[heads[i - 1]].counter <= q->desc[heads[i]].counter);
	}
	if (n >= 0)
		assert(q->used_idx == ring_used);
	free(q);
	return 0;
}
