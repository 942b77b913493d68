/* SPDX-License-Identifier: MIT */
/*
 * Channels a definition asks for (struct uv_chan_req; claims 4, 15, 16, 53): when a partition
 * starts, every channel between it and a defined peer that either definition names is granted
 * by CREATE_CHANNEL, so both engines see it as ivshmem from their first instruction (a PCI
 * device cannot come later). Side A is the partition with the lower number; the size is the
 * larger of the two definitions'. A channel neither of whose ends is active is taken back
 * (DESTROY_CHANNEL); undefine takes back every channel of the partition.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

/* The size partition a's definition asks for a channel to b (0: none). */
static uint64_t asked(const struct uv_partition_desc *a, const struct uv_partition_desc *b)
{
	for (uint32_t i = 0; i < a->n_chan && i < UV_CHANNELS_MAX; i++)
		if (!strncmp(a->chan[i].peer, b->name, sizeof(a->chan[i].peer)))
			return a->chan[i].size;
	return 0;
}

static uint64_t pair_size(const struct uv_partition_desc *a, const struct uv_partition_desc *b)
{
	uint64_t x = asked(a, b), y = asked(b, a);

	return x > y ? x : y;
}

/* Calls fn for every channel record in the database; stops at fn's first non-zero. */
static int each_chan(struct cmdp *c, int (*fn)(const struct uv_resdb_chan *ch, void *ctx),
                     void *ctx)
{
	struct uv_resdb_chan ch;
	int r;

	for (uint32_t i = 0; i < c->view.geo.max_channels; i++)
		if (uv_resdb_read_chan(&c->view, i, &ch) == 0 && (r = fn(&ch, ctx)))
			return r;
	return 0;
}

struct pair {
	uint32_t a, b;
	uint32_t max_id;
	struct uv_resdb_chan found;
};

static int between(const struct uv_resdb_chan *ch, void *ctx)
{
	struct pair *p = ctx;

	if (ch->id > p->max_id)
		p->max_id = ch->id;
	if ((ch->endpoint[0] == p->a && ch->endpoint[1] == p->b) ||
	    (ch->endpoint[0] == p->b && ch->endpoint[1] == p->a)) {
		p->found = *ch;
		return 1;
	}
	return 0;
}

static int chan_txn(struct cmdp *c, const struct uv_resdb_chan *ch, int create, struct api_err *e)
{
	struct uv_txn t;

	memset(&t, 0, sizeof(t));
	t.hdr.type = create ? UV_TXN_CREATE_CHANNEL : UV_TXN_DESTROY_CHANNEL;
	t.u.channel.channel_id = ch->id;
	t.u.channel.endpoint[0] = ch->endpoint[0];
	t.u.channel.endpoint[1] = ch->endpoint[1];
	t.u.channel.size = ch->size;
	return cmd_uv_submit(c, &t, create ? "create channel" : "destroy channel", e);
}

struct start_ctx {
	struct cmdp *c;
	const struct cmd_part *self;
	struct api_err *e;
};

static int grant_to_peer(const struct cmd_part *peer, void *ctx)
{
	struct start_ctx *s = ctx;
	uint64_t size = pair_size(&s->self->desc, &peer->desc);
	struct pair p = {.a = s->self->id < peer->id ? s->self->id : peer->id,
	                 .b = s->self->id < peer->id ? peer->id : s->self->id};
	struct uv_resdb_chan ch = {0};

	if (!size || peer->id == s->self->id || peer->rec.status != UV_RESDB_LIVE)
		return 0;
	if (each_chan(s->c, between, &p))
		return 0;     /* granted already (the peer started first) */
	ch.id = p.max_id + 1; /* above every channel recorded, so free */
	ch.endpoint[0] = p.a;
	ch.endpoint[1] = p.b;
	ch.size = size;
	if (chan_txn(s->c, &ch, 1, s->e))
		return -1;
	fprintf(stderr, "ultra-command: channel %u between %s and %s: %llu KiB\n", ch.id,
	        s->self->desc.name, peer->desc.name, (unsigned long long)(size >> 10));
	return 0;
}

int cmd_chans_start(struct cmdp *c, const struct cmd_part *p, struct api_err *e)
{
	struct start_ctx s = {c, p, e};

	return cmd_view_each(c, grant_to_peer, &s) < 0 ? -1 : 0;
}

struct drop_ctx {
	struct cmdp *c;
	uint32_t only; /* undefine: every channel of this partition */
	struct api_err *e;
	int failed;
};

static int drop_if_idle(const struct uv_resdb_chan *ch, void *ctx)
{
	struct drop_ctx *d = ctx;
	struct cmd_part a, b;

	if (d->only) {
		if (ch->endpoint[0] != d->only && ch->endpoint[1] != d->only)
			return 0;
	} else {
		/* Only channels a definition asks for, between two guests neither of them active.
		 */
		if (uv_resdb_read_desc(&d->c->view, ch->endpoint[0], &a.desc, &a.rec) ||
		    uv_resdb_read_desc(&d->c->view, ch->endpoint[1], &b.desc, &b.rec) ||
		    a.rec.role != UV_ROLE_GUEST || b.rec.role != UV_ROLE_GUEST ||
		    !pair_size(&a.desc, &b.desc))
			return 0;
		a.id = ch->endpoint[0];
		b.id = ch->endpoint[1];
		if (cmd_place_wanted(d->c, &a) || cmd_place_wanted(d->c, &b))
			return 0;
	}
	if (chan_txn(d->c, ch, 0, d->e)) {
		d->failed = 1;
		return 0;
	}
	fprintf(stderr, "ultra-command: channel %u between partitions %u and %u taken back\n",
	        ch->id, ch->endpoint[0], ch->endpoint[1]);
	return 0;
}

int cmd_chans_drop(struct cmdp *c, uint32_t only, struct api_err *e)
{
	struct drop_ctx d = {c, only, e, 0};
	struct api_err dummy = {"internal", ""};

	if (!e)
		d.e = &dummy;
	if (cmd_uv_connect(c, d.e))
		return -1;
	each_chan(c, drop_if_idle, &d);
	return d.failed ? -1 : 0;
}
