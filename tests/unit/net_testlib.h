/* SPDX-License-Identifier: MIT */
/* Two fake vhost-user-net clients on one switch, for tests/unit/test_vhost_net.c and
 * tests/fuzz/fuzz_vhost_net.c: each client's memory is its own region, with the RX rings at
 * NT_RX, the TX rings at NT_TX and buffers from NT_BUFS. Include after io/vhost_net.c. */
#ifndef TESTS_NET_TESTLIB_H
#define TESTS_NET_TESTLIB_H

#include <stdlib.h>

#define NT_NUM 8u
#define NT_GPA 0x40000ull
#define NT_UVA 0x7f0000040000ull
#define NT_RX 0x0000u
#define NT_TX 0x3000u
#define NT_BUFS 0x8000u
#define NT_SIZE 0x10000u

struct nt_guest {
	struct guest_mem m;
	uint8_t *mem;
	struct vhu_client c;
	struct vq_buf scratch[2][NT_NUM];
};

/* The server's notification: nothing to signal here. */
void vhu_queue_notify(struct vhu_queue *q) { (void)q; }

/* Places client g's two rings over mem (already in g->m) and attaches it to n's switch. */
static inline int nt_attach(struct vhost_net *n, struct nt_guest *g, uint64_t features)
{
	static const uint32_t base[2] = {NT_RX, NT_TX};

	g->c.features = features;
	g->c.nqueues = 2;
	for (unsigned i = 0; i < 2; i++) {
		struct vhu_queue *q = &g->c.q[i];
		q->index = i;
		q->client = &g->c;
		q->kick_fd = q->call_fd = q->err_fd = -1;
		q->vq.scratch = g->scratch[i];
		if (vq_set_rings(&q->vq, &g->m, NT_NUM, NT_UVA + base[i], NT_UVA + base[i] + 0x1000,
		                 NT_UVA + base[i] + 0x2000) < 0)
			return -1;
		q->started = q->enabled = true;
	}
	return n->dev.ops->attach(&n->dev, &g->c);
}

#endif
