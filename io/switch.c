/* SPDX-License-Identifier: MIT */
#include "switch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static bool is_group(const uint8_t *a) { return a[0] & 1; } /* broadcast or multicast */

static bool is_zero(const uint8_t *a) { return !(a[0] | a[1] | a[2] | a[3] | a[4] | a[5]); }

static bool live(const struct vswitch *sw, const struct sw_mac *m, uint64_t now)
{
	return m->used && now - m->seen < sw->age_ns;
}

void sw_init(struct vswitch *sw, const char *name, uint64_t age_ns)
{
	memset(sw, 0, sizeof(*sw));
	strncpy(sw->name, name, sizeof(sw->name) - 1);
	sw->age_ns = age_ns ? age_ns : SW_AGE_NS;
}

int sw_port_add(struct vswitch *sw, void *owner, sw_deliver_fn deliver)
{
	for (int i = 0; i < SW_PORTS_MAX; i++) {
		if (sw->ports[i].owner)
			continue;
		sw->ports[i] = (struct sw_port){.owner = owner, .deliver = deliver};
		return i;
	}
	return -ENOSPC;
}

void sw_port_takes(struct vswitch *sw, int port, sw_takes_fn takes)
{
	if (port >= 0 && port < SW_PORTS_MAX)
		sw->ports[port].takes = takes;
}

void sw_port_del(struct vswitch *sw, int port)
{
	if (port < 0 || port >= SW_PORTS_MAX)
		return;
	sw->ports[port].owner = NULL;
	for (unsigned i = 0; i < SW_MACS_MAX; i++)
		if (sw->macs[i].used && sw->macs[i].port == port)
			sw->macs[i].used = false;
}

static struct sw_mac *find(struct vswitch *sw, const uint8_t addr[6])
{
	for (unsigned i = 0; i < SW_MACS_MAX; i++)
		if (sw->macs[i].used && !memcmp(sw->macs[i].addr, addr, 6))
			return &sw->macs[i];
	return NULL;
}

int sw_lookup(const struct vswitch *sw, const uint8_t addr[6], uint64_t now)
{
	const struct sw_mac *m = find((struct vswitch *)sw, addr);

	return m && live(sw, m, now) ? m->port : -1;
}

/* Records that addr sits behind port: a free or aged slot, else the least recently seen one,
 * so a guest inventing source addresses can only evict, never grow the table. */
static void learn(struct vswitch *sw, const uint8_t addr[6], int port, uint64_t now)
{
	struct sw_mac *m = find(sw, addr), *victim = &sw->macs[0];

	for (unsigned i = 0; !m && i < SW_MACS_MAX; i++) {
		struct sw_mac *e = &sw->macs[i];
		if (!live(sw, e, now)) {
			m = e;
			break;
		}
		if (e->seen < victim->seen)
			victim = e;
	}
	if (!m)
		m = victim;
	memcpy(m->addr, addr, 6);
	m->port = (uint16_t)port;
	m->seen = now;
	m->used = true;
}

static const struct virtio_net_hdr plain;

static void count(struct sw_port *p, int r)
{
	if (r == 0)
		p->c.out++;
	else
		p->c.drop_out++;
}

static int emit_segment(void *ctx, const uint8_t *frame, size_t len)
{
	struct sw_port *p = ctx;
	int r = p->deliver(p->owner, &plain, frame, len);

	count(p, r);
	return r;
}

/* Whole to a port that takes the frame's offloads; otherwise the switch does their work. */
static void send_to(struct vswitch *sw, struct sw_port *p, const struct net_offload *o,
                    const uint8_t *frame, size_t len)
{
	uint32_t takes = o->needs && p->takes ? p->takes(p->owner) : 0;
	int r;

	if (!(o->needs & ~takes)) {
		r = p->deliver(p->owner, &o->vh, frame, len);
		count(p, r);
		if (r == 0 && o->vh.gso_type)
			p->c.gso_out++;
		return;
	}
	if (o->vh.gso_type) {
		p->c.segmented++;
		if (net_gso_segment(o, frame, len, sw->seg, sizeof(sw->seg), emit_segment, p) < 0)
			p->c.drop_out++; /* segments longer than any plain frame */
		return;
	}
	p->c.csummed++;
	r = net_csum_copy(o, frame, len, sw->seg, sizeof(sw->seg));
	count(p, r < 0 ? r : p->deliver(p->owner, &plain, sw->seg, (size_t)r));
}

static bool size_ok(const struct virtio_net_hdr *vh, size_t len)
{
	return len >= SW_FRAME_MIN && len <= (vh->gso_type ? SW_GSO_MAX : SW_FRAME_MAX);
}

void sw_input_vh(struct vswitch *sw, int port, const struct virtio_net_hdr *vh, uint32_t allowed,
                 const uint8_t *frame, size_t len, uint64_t now)
{
	struct net_offload o;
	struct sw_port *in;
	int to;

	if (port < 0 || port >= SW_PORTS_MAX || !sw->ports[port].owner)
		return;
	in = &sw->ports[port];
	if (!size_ok(vh, len)) {
		in->c.drop_size++;
		return;
	}
	if (net_offload_check(vh, allowed, frame, len, &o) < 0) {
		in->c.drop_hdr++;
		return;
	}
	if (is_group(frame + 6) || is_zero(frame + 6)) {
		in->c.drop_src++;
		return;
	}
	in->c.in++;
	if (o.vh.gso_type)
		in->c.gso_in++;
	learn(sw, frame + 6, port, now);
	to = is_group(frame) ? -1 : sw_lookup(sw, frame, now);
	if (to == port) {
		in->c.filtered++; /* never back out of the port it came in on */
		return;
	}
	if (to >= 0) {
		send_to(sw, &sw->ports[to], &o, frame, len);
		return;
	}
	sw->flooded++;
	for (int i = 0; i < SW_PORTS_MAX; i++)
		if (i != port && sw->ports[i].owner)
			send_to(sw, &sw->ports[i], &o, frame, len);
}

void sw_input(struct vswitch *sw, int port, const uint8_t *frame, size_t len, uint64_t now)
{
	sw_input_vh(sw, port, &plain, 0, frame, len, now);
}

void sw_port_print(const struct vswitch *sw, int port, const char *who)
{
	const struct sw_counters *k = &sw->ports[port].c;

	fprintf(stderr,
	        "ultra-io: %s port %d: in %llu out %llu dropped: size %llu source %llu "
	        "undeliverable %llu hairpin %llu header %llu; tso in %llu out %llu segmented %llu; "
	        "checksummed %llu\n",
	        who, port, (unsigned long long)k->in, (unsigned long long)k->out,
	        (unsigned long long)k->drop_size, (unsigned long long)k->drop_src,
	        (unsigned long long)k->drop_out, (unsigned long long)k->filtered,
	        (unsigned long long)k->drop_hdr, (unsigned long long)k->gso_in,
	        (unsigned long long)k->gso_out, (unsigned long long)k->segmented,
	        (unsigned long long)k->csummed);
}

uint64_t sw_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
