/* SPDX-License-Identifier: MIT */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vhost_priv.h"

#define TAP_BATCH 64 /* frames per wake-up, so the tap cannot starve the guests */

struct tap_port {
	struct vhu_watch watch;
	int fd;
	int port;
	struct vswitch *sw;
	char name[IFNAMSIZ];
	bool vnet;        /* frames carry a virtio-net header both ways (IFF_VNET_HDR) */
	uint32_t offload; /* NET_OFF_* the kernel sends us and takes from us */
	uint64_t write_errors;
	uint8_t *buf; /* a header and SW_GSO_MAX bytes of frame, as read */
};

/* Into the host: a full tap queue (EAGAIN) drops the frame like any full port. */
static int tap_deliver(void *owner, const struct virtio_net_hdr *vh, const uint8_t *frame,
                       size_t len)
{
	struct tap_port *t = owner;
	struct iovec iov[2] = {{(void *)vh, sizeof(*vh)}, {(void *)frame, len}};
	size_t want = len + (t->vnet ? sizeof(*vh) : 0);
	ssize_t n = writev(t->fd, t->vnet ? iov : iov + 1, t->vnet ? 2 : 1);

	if (n == (ssize_t)want)
		return 0;
	t->write_errors++;
	return n < 0 ? -errno : -EIO;
}

static uint32_t tap_takes(void *owner) { return ((const struct tap_port *)owner)->offload; }

static void tap_ready(struct vhu_watch *w)
{
	struct tap_port *t = container_of(w, struct tap_port, watch);
	size_t hlen = t->vnet ? sizeof(struct virtio_net_hdr) : 0;
	struct virtio_net_hdr vh = {0};

	for (int i = 0; i < TAP_BATCH; i++) {
		ssize_t n = read(t->fd, t->buf, hlen + SW_GSO_MAX);
		if (n <= 0)
			return;
		if ((size_t)n < hlen)
			continue;
		if (!t->vnet) {
			sw_input(t->sw, t->port, t->buf, (size_t)n, sw_now());
			continue;
		}
		memcpy(&vh, t->buf, hlen);
		sw_input_vh(t->sw, t->port, &vh, t->offload, t->buf + hlen, (size_t)n - hlen,
		            sw_now());
	}
}

/* Asks for virtio-net headers and the kernel's offloads; without them the tap stays plain. */
static void tap_vnet(struct tap_port *t)
{
	int size = sizeof(struct virtio_net_hdr);

	if (ioctl(t->fd, TUNSETVNETHDRSZ, &size) < 0)
		return;
	t->vnet = true;
	if (ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) == 0)
		t->offload = NET_OFF_ALL;
}

int tap_open(const char *name, struct vswitch *sw, struct vhu_server *s, bool offload,
             struct tap_port **out)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0)};
	struct tap_port *t = NULL;
	int fd = -1, r;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->buf = malloc(sizeof(struct virtio_net_hdr) + SW_GSO_MAX))) {
		r = -ENOMEM;
		goto out;
	}
	t->fd = fd;
	t->sw = sw;
	t->watch.ready = tap_ready;
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	if (offload)
		tap_vnet(t);
	t->port = sw_port_add(sw, t, tap_deliver);
	if (t->port < 0) {
		r = t->port;
		goto out;
	}
	sw_port_takes(sw, t->port, tap_takes);
	r = vhu_server_watch(s, fd, &t->watch);
	if (r < 0) {
		sw_port_del(sw, t->port);
		goto out;
	}
	*out = t;
	return 0;
out:
	if (t)
		free(t->buf);
	free(t);
	close(fd);
	return r;
}

bool tap_offloads(const struct tap_port *t) { return t->offload != 0; }

void tap_close(struct tap_port *t)
{
	if (!t)
		return;
	char who[IFNAMSIZ + 8];

	snprintf(who, sizeof(who), "tap %s", t->name);
	sw_port_print(t->sw, t->port, who);
	sw_port_del(t->sw, t->port);
	close(t->fd);
	free(t->buf);
	free(t);
}
