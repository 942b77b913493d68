/* SPDX-License-Identifier: MIT */
/* Two hostile network clients on one switch: the input is both guests' memory (rings,
 * descriptors, offload headers, frames) and the features, offloads and mergeable receive
 * buffers included. Both transmit queues are served a few times, so
 * frames travel into hostile receive rings; the memory is allocated at exactly its size so
 * ASan catches any access outside. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../io/guest_mem.c"
#include "../../io/net_csum.c"
#include "../../io/net_gso.c"
#include "../../io/switch.c"
#include "../../io/vhost_net.c"
#include "../../io/virtqueue.c"
#include "../unit/net_testlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nt_guest g[2];
	struct vswitch sw;
	struct vhost_net *n = NULL;

	if (size < 1 || vhost_net_new("fuzz", &sw, true, &n) < 0)
		return 0;
	sw_init(&sw, "fuzz", 0);
	for (unsigned i = 0; i < 2; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		g[i].mem = aligned_alloc(4096, NT_SIZE);
		memset(g[i].mem, 0, NT_SIZE);
		/* each guest sees its own half of the input, the second one shifted */
		size_t off = i ? (size - 1) / 2 : 0, len = size - 1 - off;
		memcpy(g[i].mem, data + 1 + off, len < NT_SIZE ? len : NT_SIZE);
		g[i].m.n = 1;
		g[i].m.r[0] = (struct gm_region){
		    .gpa = NT_GPA, .uva = NT_UVA, .size = NT_SIZE, .host = g[i].mem};
		/* bit 0: VERSION_1; bits 1 and 2: guest 0's and 1's offloads and MRG_RXBUF */
		nt_attach(n, &g[i],
		          (data[0] & 1 ? 1ull << VIRTIO_F_VERSION_1 : 0) |
		              (data[0] & (2u << i) ? VHOST_NET_OFFLOADS : 0));
	}
	for (int round = 0; round < 4; round++)
		for (unsigned i = 0; i < 2; i++)
			n->dev.ops->serve(&n->dev, &g[i].c.q[round & 1 ? RXQ : TXQ]);
	for (unsigned i = 0; i < 2; i++) {
		if (g[i].c.priv)
			n->dev.ops->detach(&n->dev, &g[i].c);
		free(g[i].mem);
	}
	vhost_net_free(n);
	return 0;
}
