/* SPDX-License-Identifier: MIT */
/*
 * A hostile peer: the input becomes the channel region (either raw, or a well-formed channel with
 * bytes overwritten so the fuzzer gets past the header), and keeps rewriting header, indices and
 * slots between our calls. We attach, receive and send, by copy and in place (every byte of a
 * peeked view is read, every byte of a reservation written); ASan catches any access outside
 * the region, which is allocated at exactly its size.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"

#define REGION_MAX (64 * 1024)

struct input {
	const uint8_t *p;
	size_t n;
};

static int take(struct input *in, void *out, size_t n)
{
	if (in->n < n)
		return 0;
	memcpy(out, in->p, n);
	in->p += n;
	in->n -= n;
	return 1;
}

/* Overwrites up to `count` bytes of the region at input-chosen offsets. */
static void poke(struct input *in, uint8_t *mem, size_t size, unsigned count)
{
	uint16_t off;
	uint8_t val;

	while (count-- && take(in, &off, sizeof(off)) && take(in, &val, sizeof(val)))
		mem[off % size] = val;
}

static size_t formatted(struct input *in, uint8_t **mem)
{
	struct uv_chan_config cfg = {.part_id = {1, 2}};
	uint8_t g[3] = {0};
	size_t size;
	unsigned i;

	take(in, g, sizeof(g));
	cfg.n_queues = 1 + g[0] % 3;
	for (i = 0; i < cfg.n_queues; i++)
		cfg.q[i] = (struct uv_chan_qconfig){16u << (g[1] % 4), 2u << (g[2] % 6), i & 1};
	size = uv_chan_region_size(&cfg);
	*mem = aligned_alloc(UV_CHAN_ALIGN, size);
	if (*mem && uv_chan_format(*mem, size, &cfg)) {
		free(*mem);
		*mem = NULL;
	}
	return size;
}

static size_t raw(struct input *in, uint8_t **mem)
{
	size_t size = in->n < REGION_MAX ? in->n : REGION_MAX;

	size &= ~(size_t)(UV_CHAN_ALIGN - 1);
	if (!size)
		return 0;
	*mem = aligned_alloc(UV_CHAN_ALIGN, size);
	if (*mem)
		take(in, *mem, size);
	return size;
}

/* Reads every byte a peek shows, so a view reaching outside the region trips ASan. */
static void peek_all(struct uv_chan *ch, unsigned q)
{
	struct uv_chan_view v;
	const uint8_t *a, *b;
	unsigned sum = 0;
	size_t i;

	if (uv_chan_recv_peek(ch, q, &v))
		return;
	a = v.data;
	b = v.wrap;
	for (i = 0; i < v.data_len; i++)
		sum += a[i];
	for (i = 0; i < v.wrap_len; i++)
		sum += b[i];
	__asm__ volatile("" : : "r"(sum)); /* the reads must happen */
	uv_chan_recv_release(ch, q);
}

static void reserve_fill(struct uv_chan *ch, unsigned q, size_t len)
{
	void *p;

	if (uv_chan_send_reserve(ch, q, len, &p) == 0) {
		memset(p, 0xa5, len);
		uv_chan_send_commit(ch, q);
	}
}

static void exercise(struct uv_chan *ch, struct input *in, uint8_t *mem, size_t size)
{
	static uint8_t buf[REGION_MAX];
	struct uv_chan_buf b[4];
	struct iovec v[3] = {{buf, 1}, {buf, 100}, {buf, 5000}};
	unsigned round, q, i;

	for (i = 0; i < 4; i++)
		b[i] = (struct uv_chan_buf){buf + i * 1024, i == 3 ? sizeof(buf) - 3072 : 1024, 0};
	for (round = 0; round < 16; round++) {
		for (q = 0; q < uv_chan_queue_count(ch); q++) {
			if (uv_chan_is_sender(ch, q) == 1) {
				uv_chan_send(ch, q, v, 3);
				reserve_fill(ch, q, v[round % 3].iov_len * (round & 4 ? 3 : 1));
				uv_chan_arm_send(ch, q, 64);
			} else {
				uv_chan_recv(ch, q, b, 4);
				peek_all(ch, q);
				peek_all(ch, q);
				uv_chan_arm_recv(ch, q);
			}
		}
		poke(in, mem, size, 4);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct input in = {data, n};
	struct uv_chan_endpoint ep = {0, UV_CHAN_ANY_PART, -1, -1};
	struct uv_chan *ch = NULL;
	uint8_t mode = 0, *mem = NULL;
	char err[160];
	size_t size;

	take(&in, &mode, 1);
	size = (mode & 1) ? formatted(&in, &mem) : raw(&in, &mem);
	if (!mem)
		return 0;
	if (mode & 1)
		poke(&in, mem, size, 8);
	ep.side = (mode >> 1) & 1;
	if (uv_chan_attach(&ch, mem, size, &ep, err, sizeof(err)) == 0) {
		exercise(ch, &in, mem, size);
		uv_chan_detach(ch);
	}
	free(mem);
	return 0;
}
