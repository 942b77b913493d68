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

static void send_to(struct sw_port *p, const uint8_t *frame, size_t len)
{
	if (p->deliver(p->owner, frame, len) == 0)
		p->c.out++;
	else
		p->c.drop_out++;
}

void sw_input(struct vswitch *sw, int port, const uint8_t *frame, size_t len, uint64_t now)
{
	struct sw_port *in;
	int to;

	if (port < 0 || port >= SW_PORTS_MAX || !sw->ports[port].owner)
		return;
	in = &sw->ports[port];
	if (len < SW_FRAME_MIN || len > SW_FRAME_MAX) {
		in->c.drop_size++;
		return;
	}
	if (is_group(frame + 6) || is_zero(frame + 6)) {
		in->c.drop_src++;
		return;
	}
	in->c.in++;
	learn(sw, frame + 6, port, now);
	to = is_group(frame) ? -1 : sw_lookup(sw, frame, now);
	if (to == port) {
		in->c.filtered++; /* never back out of the port it came in on */
		return;
	}
	if (to >= 0) {
		send_to(&sw->ports[to], frame, len);
		return;
	}
	sw->flooded++;
	for (int i = 0; i < SW_PORTS_MAX; i++)
		if (i != port && sw->ports[i].owner)
			send_to(&sw->ports[i], frame, len);
}

void sw_port_print(const struct vswitch *sw, int port, const char *who)
{
	const struct sw_counters *k = &sw->ports[port].c;

	fprintf(stderr,
	        "ultra-io: %s port %d: in %llu out %llu dropped: size %llu source %llu "
	        "undeliverable %llu hairpin %llu\n",
	        who, port, (unsigned long long)k->in, (unsigned long long)k->out,
	        (unsigned long long)k->drop_size, (unsigned long long)k->drop_src,
	        (unsigned long long)k->drop_out, (unsigned long long)k->filtered);
}

uint64_t sw_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
