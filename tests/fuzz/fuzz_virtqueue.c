/* SPDX-License-Identifier: MIT */
/* A hostile driver: the input is the whole guest memory (rings and descriptors) and the queue
 * geometry. The walker must hand out only buffers inside the memory and stop every chain;
 * the memory is allocated at exactly its size so ASan catches any access outside. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../io/guest_mem.c"
#include "../../io/virtqueue.c"

#define MEM_SIZE 8192u
#define GPA 0x10000ull
#define UVA 0x7f0000000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem m = {0};
	struct vq q = {0};
	struct vq_chain c;
	struct vq_buf *scratch;
	uint8_t *mem;
	uint32_t num;
	uint16_t off[3];
	/* The dirty log (live migration): exactly as long as the memory needs, so ASan sees a
	 * mark past it; on half the time. */
	struct dirty_log log = {.len = (GPA + MEM_SIZE) / VHU_LOG_PAGE / 8 + 1};

	if (size < 7)
		return 0;
	num = 1u << ((data[0] & 0x3f) % 9); /* 1 .. 256 */
	memcpy(off, data + 1, sizeof(off));
	mem = aligned_alloc(16, MEM_SIZE);
	memset(mem, 0, MEM_SIZE);
	memcpy(mem, data + 7, size - 7 < MEM_SIZE ? size - 7 : MEM_SIZE);
	m.n = 1;
	m.r[0] = (struct gm_region){.gpa = GPA, .uva = UVA, .size = MEM_SIZE, .host = mem};
	scratch = calloc(num, sizeof(*scratch));
	q.scratch = scratch;
	log.bits = calloc(1, log.len);
	log.on = data[0] & 0x20;
	q.log = &log;
	q.log_used = true;
	q.log_used_gpa = GPA + off[2];
	if (vq_set_rings(&q, &m, num, UVA + off[0], UVA + off[1], UVA + off[2]) == 0) {
		/* EVENT_IDX half the time: used_event and avail_event are part of the input */
		vq_start_events(&q, data[0] & 0x80);
		/* Indirect tables half the time, independently: the table is part of the input */
		vq_allow_indirect(&q, data[0] & 0x40);
		for (int i = 0; i < 64; i++) {
			int r = vq_pop(&q, &c);
			if (r <= 0)
				break;
			assert(c.n <= num && c.nread <= c.n);
			for (uint32_t k = 0; k < c.n; k++) {
				assert(c.buf[k].p >= mem && c.buf[k].len <= MEM_SIZE &&
				       c.buf[k].p + c.buf[k].len <= mem + MEM_SIZE);
				c.buf[k].p[0] ^= 1; /* touch both ends */
				c.buf[k].p[c.buf[k].len - 1] ^= 1;
			}
			if (c.tail)
				c.tail[c.tail_len - 1] = 1;
			if (c.head < num)
				vq_push(&q, c.head,
				        c.n * 1500u); /* bytes "written": spans descriptors */
			vq_should_notify(&q);
		}
	}
	free(scratch);
	free(log.bits);
	free(mem);
	return 0;
}
