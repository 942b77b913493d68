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
#include <unistd.h>

#include "vhost_priv.h"

#define TAP_BUF 2048 /* more than SW_FRAME_MAX: a longer frame is seen as too long */
#define TAP_BATCH 64 /* frames per wake-up, so the tap cannot starve the guests */

struct tap_port {
	struct vhu_watch watch;
	int fd;
	int port;
	struct vswitch *sw;
	char name[IFNAMSIZ];
	uint64_t write_errors;
};

/* Into the host: a full tap queue (EAGAIN) drops the frame like any full port. */
static int tap_deliver(void *owner, const uint8_t *frame, size_t len)
{
	struct tap_port *t = owner;
	ssize_t n = write(t->fd, frame, len);

	if (n == (ssize_t)len)
		return 0;
	t->write_errors++;
	return n < 0 ? -errno : -EIO;
}

static void tap_ready(struct vhu_watch *w)
{
	struct tap_port *t = container_of(w, struct tap_port, watch);
	uint8_t buf[TAP_BUF];

	for (int i = 0; i < TAP_BATCH; i++) {
		ssize_t n = read(t->fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		sw_input(t->sw, t->port, buf, (size_t)n, sw_now());
	}
}

int tap_open(const char *name, struct vswitch *sw, struct vhu_server *s, struct tap_port **out)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
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
	if (!t) {
		r = -ENOMEM;
		goto out;
	}
	t->fd = fd;
	t->sw = sw;
	t->watch.ready = tap_ready;
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	t->port = sw_port_add(sw, t, tap_deliver);
	if (t->port < 0) {
		r = t->port;
		goto out;
	}
	r = vhu_server_watch(s, fd, &t->watch);
	if (r < 0) {
		sw_port_del(sw, t->port);
		goto out;
	}
	*out = t;
	return 0;
out:
	free(t);
	close(fd);
	return r;
}

void tap_close(struct tap_port *t)
{
	if (!t)
		return;
	char who[IFNAMSIZ + 8];

	snprintf(who, sizeof(who), "tap %s", t->name);
	sw_port_print(t->sw, t->port, who);
	sw_port_del(t->sw, t->port);
	close(t->fd);
	free(t);
}
