/* SPDX-License-Identifier: MIT */
/*
 * Channel memory objects (claims 4, 15, 16, 51): every channel in the database gets one sealed
 * memfd, formatted for its two endpoints before anyone can learn the channel exists. Only the two
 * endpoint partitions are handed its fd (UV_CTL_GET_CHANNELS). The objects are not persistent:
 * after a restart they are made again from the database's channel records, freshly formatted; a
 * running guest keeps the one its QEMU holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uvd.h"

/* ivshmem shows the object as a PCI BAR, which must be a power of two of at least a page. */
static uint64_t object_size(uint64_t bytes)
{
	uint64_t s = UV_GCHAN_SIZE_MIN;

	while (s < bytes && s < (1ull << 62))
		s <<= 1;
	return s;
}

/* Two queues, one per direction, with the most slots that fit: see UV_GCHAN_* in uvctl.h. */
static int format_geometry(uint64_t size, const uint32_t ep[2], struct uv_chan_config *cfg)
{
	uint32_t slots;

	memset(cfg, 0, sizeof(*cfg));
	cfg->part_id[0] = ep[0];
	cfg->part_id[1] = ep[1];
	cfg->n_queues = 2;
	for (slots = UV_CHAN_SLOTS_MAX; slots >= UV_CHAN_SLOTS_MIN; slots >>= 1) {
		for (uint32_t q = 0; q < 2; q++)
			cfg->q[q] = (struct uv_chan_qconfig){
			    .slot_size = UV_GCHAN_SLOT_SIZE, .slot_count = slots, .producer = q};
		if ((uint64_t)UV_GCHAN_SLOT_SIZE * slots <= UV_CHAN_RING_MAX) {
			size_t need = uv_chan_region_size(cfg);
			if (need && need <= size)
				return 0;
		}
	}
	return -ENOSPC;
}

static int object_make(uint32_t id, const uint32_t ep[2], uint64_t size, int *fd_out)
{
	struct uv_chan_config cfg;
	void *base = MAP_FAILED;
	char name[48];
	int fd, r;

	if ((r = format_geometry(size, ep, &cfg)))
		return r;
	snprintf(name, sizeof(name), "uv-chan-%u-p%u-p%u", id, ep[0], ep[1]);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		goto fail_errno;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		goto fail_errno;
	r = uv_chan_format(base, size, &cfg);
	munmap(base, size);
	if (r)
		goto fail;
	*fd_out = fd;
	return 0;
fail_errno:
	r = -errno;
fail:
	close(fd);
	return r;
}

static int chanobj_new(struct uvd *u, uint32_t id, const uint32_t ep[2], uint64_t bytes)
{
	struct uvd_chanobj *o;
	uint64_t size = object_size(bytes);
	int fd = -1, r;

	if (u->n_chanobj == u->cap_chanobj) {
		size_t cap = u->cap_chanobj ? u->cap_chanobj * 2 : 16;
		struct uvd_chanobj *p = realloc(u->chanobj, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		u->chanobj = p;
		u->cap_chanobj = cap;
	}
	if ((r = object_make(id, ep, size, &fd)))
		return r;
	o = &u->chanobj[u->n_chanobj++];
	*o = (struct uvd_chanobj){.id = id, .endpoint = {ep[0], ep[1]}, .size = size, .fd = fd};
	return 0;
}

static void chanobj_drop(struct uvd *u, size_t i)
{
	close(u->chanobj[i].fd);
	u->chanobj[i] = u->chanobj[--u->n_chanobj];
}

int uvd_chanobj_track(struct uvd *u, const struct uv_txn *t)
{
	const struct uv_txn_channel *c = &t->u.channel;

	switch (t->hdr.type) {
	case UV_TXN_CREATE_CHANNEL:
		return chanobj_new(u, c->channel_id, c->endpoint, c->size);
	case UV_TXN_DESTROY_CHANNEL:
		for (size_t i = u->n_chanobj; i-- > 0;)
			if (u->chanobj[i].id == c->channel_id)
				chanobj_drop(u, i);
		return 0;
	default:
		return 0;
	}
}

int uvd_chanobj_rebuild(struct uvd *u)
{
	int first = 0;

	uvd_chanobj_free_all(u);
	for (uint32_t i = 0; i < u->db.h->max_channels; i++) {
		const struct uv_resdb_chan *ch = uv_resdb_chan_at(&u->db, i);
		int r;

		if (!ch)
			continue;
		/* One object that cannot be made must not cost every other channel its own. */
		r = chanobj_new(u, ch->id, ch->endpoint, ch->size);
		if (r && !first)
			first = r;
	}
	return first;
}

int uvd_chanobj_fds(const struct uvd *u, uint32_t partition, int *fds, struct uv_ctl_channel *info,
                    unsigned max, unsigned *n, uint64_t *bytes)
{
	unsigned k = 0;

	*bytes = 0;
	for (size_t i = 0; i < u->n_chanobj; i++) {
		const struct uvd_chanobj *o = &u->chanobj[i];
		unsigned j;
		uint32_t side;

		if (o->endpoint[0] != partition && o->endpoint[1] != partition)
			continue;
		if (k == max)
			return -E2BIG;
		side = o->endpoint[0] == partition ? UV_CHAN_SIDE_A : UV_CHAN_SIDE_B;
		/* in channel id order, so a monitor numbers its devices the same every time */
		for (j = k; j > 0 && info[j - 1].channel_id > o->id; j--) {
			info[j] = info[j - 1];
			fds[j] = fds[j - 1];
		}
		info[j] = (struct uv_ctl_channel){
		    .channel_id = o->id, .side = side, .peer = o->endpoint[!side], .size = o->size};
		fds[j] = o->fd;
		*bytes += o->size;
		k++;
	}
	*n = k;
	return 0;
}

void uvd_chanobj_free_all(struct uvd *u)
{
	while (u->n_chanobj)
		chanobj_drop(u, u->n_chanobj - 1);
	free(u->chanobj);
	u->chanobj = NULL;
	u->cap_chanobj = 0;
}

/* Takes fd (a live engine's channel memory) in place of the object recovery made for the same
 * channel: its name names the channel and its endpoints, partition is one of them, same size. */
int uvd_chanobj_adopt(struct uvd *u, uint32_t partition, int fd)
{
	char target[128];
	unsigned id, a, b;
	uint64_t size;
	int r;

	if ((r = uvd_fd_describe(fd, target, sizeof(target), &size)))
		return r;
	if (sscanf(target, "/memfd:uv-chan-%u-p%u-p%u", &id, &a, &b) != 3 ||
	    (a != partition && b != partition))
		return -EINVAL;
	for (size_t i = 0; i < u->n_chanobj; i++) {
		struct uvd_chanobj *o = &u->chanobj[i];

		if (o->id == id && o->endpoint[0] == a && o->endpoint[1] == b && size == o->size)
			return uvd_fd_replace(&o->fd, fd);
	}
	return -ESTALE;
}
