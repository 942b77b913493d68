/* SPDX-License-Identifier: MIT */
/*
 * Model-based test of the resource database (claims 3, 5, 7, 29-33, 50-54): random transaction
 * sequences go to the database and to a plain-array model written here from the rules in
 * docs/resource-database.md; after every step the decisions, partitions, states, page owners,
 * channels and devices must agree. At the end the committed records (with their extents) are
 * replayed on a fresh database, which must come out equal, and the last few transactions are
 * undone, which must give the database as it was before them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "resdb_testlib.h"

#define POOL (64 * MiB)
#define NPAGES (POOL / 4096)
#define MAXP 12
#define MAXC 6
#define MAXD 6
#define NDEVNUM 9
#define STEPS 1500
#define UNDO_K 6
#define FREE_PAGE -1

struct mpart {
	int status, state, fstate, cpu, n_ch, n_dev, n_disk;
	struct uv_disk_limit lim[UV_DISKS_MAX];
	uint32_t dev[UV_DEVICES_MAX]; /* device numbers, in descriptor order */
	uint64_t mem;
};

struct mchan {
	int in_use;
	uint32_t id, ep[2], n_ext;
	uint64_t size;
	struct uv_txn_extent ext[UV_RESDB_CHAN_EXT_MAX];
};

struct model {
	struct mpart p[MAXP];
	struct mchan c[MAXC];
	int dev_owner[NDEVNUM]; /* 0: unassigned */
	int32_t page[NPAGES];
};

static struct model M;
static struct tdb D;
static unsigned seed;
static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static int role_of(uint32_t p)
{
	static const int r[] = {UV_ROLE_ULTRAVISOR, UV_ROLE_BOOT, UV_ROLE_COMMAND, UV_ROLE_IO,
	                        UV_ROLE_OPERATIONS};
	return p < 5 ? r[p] : UV_ROLE_GUEST;
}

static void model_init(void)
{
	uint32_t i;

	memset(&M, 0, sizeof(M));
	for (i = 0; i < NPAGES; i++)
		M.page[i] = FREE_PAGE;
	M.p[0].status = UV_RESDB_LIVE;
	M.p[0].state = UV_STATE_RUNNING;
}

/* ---- The model's decision, written from the rules, not from the code. ---- */

static int command_up(void)
{
	uint32_t p;

	for (p = 1; p < MAXP; p++)
		if (role_of(p) == UV_ROLE_COMMAND && M.p[p].status == UV_RESDB_LIVE &&
		    M.p[p].state == UV_STATE_RUNNING)
			return 1;
	return 0;
}

static int m_live(uint32_t p)
{
	if (p >= MAXP || M.p[p].status == UV_RESDB_FREE)
		return UV_TXN_NO_SUCH_PARTITION;
	return M.p[p].status == UV_RESDB_PRESERVED ? UV_TXN_BUSY : UV_TXN_OK;
}

static int m_sender(const struct uv_txn *t)
{
	const struct uv_txn_hdr *h = &t->hdr;
	int chan = h->type == UV_TXN_CREATE_CHANNEL || h->type == UV_TXN_DESTROY_CHANNEL;
	int scope = uv_txn_scope(h->sender_role, h->type, command_up());
	uint32_t ids[2] = {0, 0};
	int i, n = chan ? 2 : 1;

	if (scope == UV_SCOPE_NONE)
		return 0;
	if (h->sender_role == UV_ROLE_ULTRAVISOR) {
		if (h->sender_id)
			return 0;
	} else if (!h->sender_id || h->sender_id >= MAXP) {
		return 0;
	} else if (h->sender_role == UV_ROLE_MONITOR) {
		if (M.p[h->sender_id].status == UV_RESDB_FREE)
			return 0;
	} else if (M.p[h->sender_id].status != UV_RESDB_LIVE ||
	           role_of(h->sender_id) != h->sender_role) {
		return 0;
	}
	switch (h->type) {
	case UV_TXN_CREATE_PARTITION:
		ids[0] = t->u.create.id;
		break;
	case UV_TXN_DESTROY_PARTITION:
		ids[0] = t->u.partition.partition_id;
		break;
	case UV_TXN_GRANT_MEMORY:
	case UV_TXN_REVOKE_MEMORY:
		ids[0] = t->u.memory.partition_id;
		break;
	case UV_TXN_ASSIGN_DEVICE:
	case UV_TXN_RELEASE_DEVICE:
		ids[0] = t->u.device.partition_id;
		break;
	case UV_TXN_SET_CPU_SHARE:
		ids[0] = t->u.cpu.partition_id;
		break;
	case UV_TXN_SET_STATE:
		ids[0] = t->u.state.partition_id;
		break;
	case UV_TXN_SET_DISK_LIMITS:
		ids[0] = t->u.disk_limits.partition_id;
		break;
	default:
		ids[0] = t->u.channel.endpoint[0];
		ids[1] = t->u.channel.endpoint[1];
	}
	for (i = 0; i < n; i++) {
		if (ids[i] >= MAXP)
			continue;
		if (!ids[i] && !chan)
			return 0;
		if (scope == UV_SCOPE_SELF && ids[i] != h->sender_id)
			return 0;
		if (scope == UV_SCOPE_SYSTEM && role_of(ids[i]) == UV_ROLE_GUEST)
			return 0;
	}
	return 1;
}

static uint32_t devnum(const char *path) { return (uint32_t)atoi(path + strlen("/dev/test")); }

static int free_dev_records(void)
{
	int i, used = 0;

	for (i = 0; i < NDEVNUM; i++)
		used += M.dev_owner[i] != 0;
	return MAXD - used;
}

static int pages_are(uint64_t off, uint64_t size, int32_t owner)
{
	uint64_t i;

	if (off + size > POOL)
		return 0;
	for (i = off / 4096; i < (off + size) / 4096; i++)
		if (M.page[i] != owner)
			return 0;
	return 1;
}

static uint64_t free_bytes(void)
{
	uint64_t i, n = 0;

	for (i = 0; i < NPAGES; i++)
		n += M.page[i] == FREE_PAGE;
	return n * 4096;
}

static int m_create(const struct uv_txn *t)
{
	const struct uv_partition_desc *d = &t->u.create;
	uint32_t i, j;

	if (d->id >= MAXP)
		return UV_TXN_NO_SPACE;
	if (M.p[d->id].status != UV_RESDB_FREE)
		return UV_TXN_EXISTS;
	if (d->state != UV_STATE_DEFINED)
		return UV_TXN_BAD_VALUE;
	for (i = 0; i < d->n_dev; i++) {
		if (M.dev_owner[devnum(d->dev[i].path)])
			return UV_TXN_DOUBLE_ALLOC;
		for (j = 0; j < i; j++)
			if (devnum(d->dev[i].path) == devnum(d->dev[j].path))
				return UV_TXN_DOUBLE_ALLOC;
	}
	return (int)d->n_dev > free_dev_records() ? UV_TXN_NO_SPACE : UV_TXN_OK;
}

static int active(int s)
{
	return s == UV_STATE_STARTING || s == UV_STATE_RUNNING || s == UV_STATE_PAUSED ||
	       s == UV_STATE_STOPPING;
}

static int m_extents_are(const struct uv_txn *t, int32_t owner)
{
	uint32_t i;

	for (i = 0; i < t->u.memory.n_extents; i++) {
		struct uv_txn_extent e = uv_txn_extent_at(t, i);

		if (!pages_are(e.pool_offset, e.size, owner))
			return 0;
	}
	return 1;
}

static struct mchan *m_chan(uint32_t id)
{
	int i;

	for (i = 0; i < MAXC; i++)
		if (M.c[i].in_use && M.c[i].id == id)
			return &M.c[i];
	return NULL;
}

static int m_chan_free(void)
{
	int i;

	for (i = 0; i < MAXC; i++)
		if (!M.c[i].in_use)
			return 1;
	return 0;
}

static int m_decide(const struct uv_txn *t)
{
	uint32_t id;
	int r;

	if (!m_sender(t))
		return UV_TXN_NOT_PERMITTED;
	switch (t->hdr.type) {
	case UV_TXN_CREATE_PARTITION:
		return m_create(t);
	case UV_TXN_DESTROY_PARTITION:
		id = t->u.partition.partition_id;
		if ((r = m_live(id)))
			return r;
		return active(M.p[id].state) || M.p[id].n_ch || M.p[id].mem ? UV_TXN_BUSY : 0;
	case UV_TXN_GRANT_MEMORY:
		if ((r = m_live(t->u.memory.partition_id)))
			return r;
		if (!t->u.memory.n_extents)
			return t->u.memory.bytes > free_bytes() ? UV_TXN_NO_SPACE : 0;
		for (id = 0; id < t->u.memory.n_extents; id++) {
			struct uv_txn_extent e = uv_txn_extent_at(t, id);

			if (e.pool_offset + e.size > POOL)
				return UV_TXN_NO_SPACE;
		}
		return m_extents_are(t, FREE_PAGE) ? 0 : UV_TXN_DOUBLE_ALLOC;
	case UV_TXN_REVOKE_MEMORY:
		if ((r = m_live(t->u.memory.partition_id)))
			return r;
		return m_extents_are(t, (int32_t)t->u.memory.partition_id) ? 0 : UV_TXN_BAD_EXTENT;
	case UV_TXN_CREATE_CHANNEL:
		if (m_chan(t->u.channel.channel_id))
			return UV_TXN_EXISTS;
		if ((r = m_live(t->u.channel.endpoint[0])) ||
		    (r = m_live(t->u.channel.endpoint[1])))
			return r;
		return !m_chan_free() || t->u.channel.size > free_bytes() ? UV_TXN_NO_SPACE : 0;
	case UV_TXN_DESTROY_CHANNEL: {
		const struct mchan *c = m_chan(t->u.channel.channel_id);

		if (!c || c->ep[0] != t->u.channel.endpoint[0] ||
		    c->ep[1] != t->u.channel.endpoint[1] || c->size != t->u.channel.size)
			return UV_TXN_NO_SUCH_CHANNEL;
		if ((r = m_live(c->ep[0])) || (r = m_live(c->ep[1])))
			return r;
		return 0;
	}
	case UV_TXN_ASSIGN_DEVICE: {
		uint32_t dn = devnum(t->u.device.device.path);

		id = t->u.device.partition_id;
		if ((r = m_live(id)))
			return r;
		if (M.dev_owner[dn])
			return M.dev_owner[dn] == (int)id ? UV_TXN_EXISTS : UV_TXN_DOUBLE_ALLOC;
		return M.p[id].n_dev >= UV_DEVICES_MAX || !free_dev_records() ? UV_TXN_NO_SPACE : 0;
	}
	case UV_TXN_RELEASE_DEVICE:
		id = t->u.device.partition_id;
		if ((r = m_live(id)))
			return r;
		return M.dev_owner[devnum(t->u.device.device.path)] != (int)id
		           ? UV_TXN_NO_SUCH_DEVICE
		           : 0;
	case UV_TXN_SET_CPU_SHARE:
		if ((r = m_live(t->u.cpu.partition_id)))
			return r;
		return t->u.cpu.cpu_share_milli > 2000 ? UV_TXN_BAD_VALUE : 0;
	case UV_TXN_SET_DISK_LIMITS:
		if ((r = m_live(t->u.disk_limits.partition_id)))
			return r;
		return (int)t->u.disk_limits.disk >= M.p[t->u.disk_limits.partition_id].n_disk
		           ? UV_TXN_NO_SUCH_DEVICE
		           : 0;
	case UV_TXN_SET_STATE:
		r = m_live(t->u.state.partition_id);
		return r == UV_TXN_BUSY && (t->u.state.state == UV_STATE_STARTING ||
		                            t->u.state.state == UV_STATE_STOPPED)
		           ? 0
		           : r;
	}
	return UV_TXN_UNKNOWN_TYPE;
}

/* ---- The model's change. Allocation choices come from the database's result (the page map's
 * own policy is tested in test_pagemap_model.c); the model checks they were free. ---- */

static void own(const struct uv_txn_extent *e, uint32_t n, int32_t from, int32_t to)
{
	uint32_t i;
	uint64_t k;

	for (i = 0; i < n; i++) {
		struct uv_txn_extent x;

		memcpy(&x, &e[i], sizeof(x));
		assert_true(pages_are(x.pool_offset, x.size, from));
		for (k = x.pool_offset / 4096; k < (x.pool_offset + x.size) / 4096; k++)
			M.page[k] = to;
	}
}

static uint64_t sum(const struct uv_txn_extent *e, uint32_t n)
{
	uint64_t s = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		s += e[i].size;
	return s;
}

static void m_dev_remove(struct mpart *p, uint32_t dn)
{
	int i;

	for (i = 0; i < p->n_dev && p->dev[i] != dn; i++)
		;
	assert_true(i < p->n_dev);
	memmove(&p->dev[i], &p->dev[i + 1], (size_t)(p->n_dev - i - 1) * sizeof(p->dev[0]));
	p->n_dev--;
}

static void m_apply(const struct uv_txn *t, const struct uv_resdb_result *res)
{
	struct mpart *p;
	struct mchan *c;
	uint32_t i;

	switch (t->hdr.type) {
	case UV_TXN_CREATE_PARTITION:
		p = &M.p[t->u.create.id];
		memset(p, 0, sizeof(*p));
		p->status = UV_RESDB_LIVE;
		p->n_disk = (int)t->u.create.n_disk;
		memcpy(p->lim, t->u.create.disk_limit, sizeof(p->lim));
		for (i = 0; i < t->u.create.n_dev; i++) {
			p->dev[p->n_dev++] = devnum(t->u.create.dev[i].path);
			M.dev_owner[devnum(t->u.create.dev[i].path)] = (int)t->u.create.id;
		}
		break;
	case UV_TXN_DESTROY_PARTITION:
		p = &M.p[t->u.partition.partition_id];
		for (i = 0; i < (uint32_t)p->n_dev; i++)
			M.dev_owner[p->dev[i]] = 0;
		p->status = UV_RESDB_FREE;
		break;
	case UV_TXN_GRANT_MEMORY:
		assert_int_equal(sum(res->extents, res->n_extents), t->u.memory.bytes);
		own(res->extents, res->n_extents, FREE_PAGE, (int32_t)t->u.memory.partition_id);
		M.p[t->u.memory.partition_id].mem += t->u.memory.bytes;
		break;
	case UV_TXN_REVOKE_MEMORY:
		own(res->extents, res->n_extents, (int32_t)t->u.memory.partition_id, FREE_PAGE);
		M.p[t->u.memory.partition_id].mem -= t->u.memory.bytes;
		break;
	case UV_TXN_CREATE_CHANNEL:
		for (c = M.c; c->in_use; c++)
			;
		assert_true(res->n_extents <= UV_RESDB_CHAN_EXT_MAX);
		assert_int_equal(sum(res->extents, res->n_extents), t->u.channel.size);
		own(res->extents, res->n_extents, FREE_PAGE, UV_RESDB_CHANNEL_OWNER);
		*c = (struct mchan){1,
		                    t->u.channel.channel_id,
		                    {t->u.channel.endpoint[0], t->u.channel.endpoint[1]},
		                    res->n_extents,
		                    t->u.channel.size,
		                    {{0, 0}}};
		memcpy(c->ext, res->extents, res->n_extents * sizeof(c->ext[0]));
		M.p[c->ep[0]].n_ch++;
		M.p[c->ep[1]].n_ch++;
		break;
	case UV_TXN_DESTROY_CHANNEL:
		c = m_chan(t->u.channel.channel_id);
		own(c->ext, c->n_ext, UV_RESDB_CHANNEL_OWNER, FREE_PAGE);
		M.p[c->ep[0]].n_ch--;
		M.p[c->ep[1]].n_ch--;
		c->in_use = 0;
		break;
	case UV_TXN_ASSIGN_DEVICE:
		p = &M.p[t->u.device.partition_id];
		p->dev[p->n_dev++] = devnum(t->u.device.device.path);
		M.dev_owner[devnum(t->u.device.device.path)] = (int)t->u.device.partition_id;
		break;
	case UV_TXN_RELEASE_DEVICE:
		m_dev_remove(&M.p[t->u.device.partition_id], devnum(t->u.device.device.path));
		M.dev_owner[devnum(t->u.device.device.path)] = 0;
		break;
	case UV_TXN_SET_CPU_SHARE:
		M.p[t->u.cpu.partition_id].cpu = (int)t->u.cpu.cpu_share_milli;
		break;
	case UV_TXN_SET_DISK_LIMITS:
		M.p[t->u.disk_limits.partition_id].lim[t->u.disk_limits.disk] =
		    t->u.disk_limits.limit;
		break;
	case UV_TXN_SET_STATE:
		p = &M.p[t->u.state.partition_id];
		if (t->u.state.state == UV_STATE_CRASHED) {
			p->fstate = p->state;
			p->status = UV_RESDB_PRESERVED;
		} else {
			p->status = UV_RESDB_LIVE;
		}
		p->state = (int)t->u.state.state;
		break;
	}
}

/* ---- Comparison after every step. ---- */

static int page_cb(const struct uv_pm_block *b, void *ctx)
{
	uint64_t k;

	if (b->state == UV_PM_UNAVAIL)
		return 0;
	for (k = b->offset / 4096; k < (b->offset + b->size) / 4096; k++)
		if (M.page[k] != (b->state == UV_PM_OWNED ? (int32_t)b->owner : FREE_PAGE))
			return 1;
	return 0;
}

static void compare(void)
{
	struct uv_resdb_view v;
	uint32_t i;
	int j, nc = 0;

	assert_int_equal(uv_resdb_check(D.db), 0);
	for (i = 1; i < MAXP; i++) {
		const struct uv_resdb_part *r = uv_resdb_part(D.db, i);
		const struct uv_partition_desc *d = uv_resdb_desc(D.db, i);

		assert_int_equal(r->status, M.p[i].status);
		if (!M.p[i].status)
			continue;
		assert_int_equal(r->state, M.p[i].state);
		assert_int_equal(r->cpu_share_milli, M.p[i].cpu);
		assert_int_equal(r->mem_bytes, M.p[i].mem);
		assert_int_equal(r->n_channels, M.p[i].n_ch);
		assert_int_equal(d->n_dev, M.p[i].n_dev);
		if (M.p[i].status == UV_RESDB_PRESERVED)
			assert_int_equal(r->failed_state, M.p[i].fstate);
		for (j = 0; j < M.p[i].n_dev; j++)
			assert_int_equal(devnum(d->dev[j].path), M.p[i].dev[j]);
		for (j = 0; j < UV_DISKS_MAX; j++) {
			assert_int_equal(d->disk_limit[j].iops, M.p[i].lim[j].iops);
			assert_int_equal(d->disk_limit[j].bytes_per_sec,
			                 M.p[i].lim[j].bytes_per_sec);
		}
	}
	assert_int_equal(uv_resdb_view_attach(&v, D.area, D.size), 0);
	assert_int_equal(uv_pagemap_walk(&v.pm, UV_PM_NONE, page_cb, NULL), 0);
	for (j = 0; j < MAXC; j++) {
		const struct uv_resdb_chan *c;

		if (!M.c[j].in_use)
			continue;
		nc++;
		c = uv_resdb_chan_find(D.db, M.c[j].id);
		assert_non_null(c);
		assert_int_equal(c->endpoint[0], M.c[j].ep[0]);
		assert_int_equal(c->endpoint[1], M.c[j].ep[1]);
		assert_int_equal(c->n_ext, M.c[j].n_ext);
	}
	assert_int_equal(D.db->h->n_channels, nc);
	for (j = 0; j < NDEVNUM; j++) {
		char path[UV_PATH_MAX];
		const struct uv_resdb_dev *d;

		snprintf(path, sizeof(path), "/dev/test%d", j);
		d = uv_resdb_dev_find(D.db, path);
		assert_int_equal(d ? (int)d->partition : 0, M.dev_owner[j]);
	}
}

/* ---- Random transactions. ---- */

static void gen_sender(struct uv_txn *t)
{
	uint32_t k = rnd(20);

	if (k < 12) {
		t->hdr.sender_id = P_CMD;
		t->hdr.sender_role = UV_ROLE_COMMAND;
	} else if (k < 15) {
		t->hdr.sender_id = 0;
		t->hdr.sender_role = UV_ROLE_ULTRAVISOR;
	} else if (k < 17) {
		t->hdr.sender_id = P_BOOT;
		t->hdr.sender_role = UV_ROLE_BOOT;
	} else {
		t->hdr.sender_id = rnd(MAXP + 1);
		t->hdr.sender_role = (uint8_t)(k == 17 ? UV_ROLE_MONITOR : rnd(UV_ROLE_COUNT));
	}
}

/* A run of pages (often one the target owns, so revokes succeed), as one or two extents. */
static uint32_t gen_extents(struct uv_txn_extent *e, uint32_t owner, uint64_t *bytes)
{
	uint32_t start = rnd(NPAGES), len = 1 + rnd(64), i, n = 1;

	if (rnd(3)) {
		for (i = 0; i < NPAGES; i++)
			if (M.page[(start + i) % NPAGES] == (int32_t)owner)
				break;
		start = (start + i) % NPAGES;
		for (i = 0; i < len && start + i < NPAGES && M.page[start + i] == (int32_t)owner;
		     i++)
			;
		len = i ? i : 1;
	}
	if (start + len > NPAGES)
		len = NPAGES - start;
	e[0] = (struct uv_txn_extent){(uint64_t)start * 4096, (uint64_t)len * 4096};
	if (len > 2 && rnd(2)) { /* split in two with a gap */
		e[0].size = (uint64_t)(len / 2) * 4096;
		e[1] = (struct uv_txn_extent){e[0].pool_offset + e[0].size + 4096,
		                              (uint64_t)(len - len / 2 - 1) * 4096};
		n = 2;
	}
	*bytes = sum(e, n);
	return n;
}

static void gen(struct uv_txn *t, struct uv_txn_extent *e)
{
	uint32_t type = rnd(12) ? 1 + rnd(UV_TXN_SET_STATE) : UV_TXN_SET_DISK_LIMITS;
	uint32_t target = rnd(MAXP + 1);
	uint64_t bytes;
	uint32_t n;

	switch (type) {
	case UV_TXN_CREATE_PARTITION:
		tx_create(t, 0, 0, target, rnd(3), rnd(NDEVNUM - 1));
		if (!rnd(20))
			t->u.create.state = UV_STATE_RUNNING;
		t->u.create.n_disk = rnd(3);
		for (n = 0; n < t->u.create.n_disk; n++) {
			snprintf(t->u.create.disk[n].image, UV_PATH_MAX, "/img/d%u", n);
			t->u.create.disk_limit[n].iops = rnd(2) * rnd(1000);
		}
		break;
	case UV_TXN_DESTROY_PARTITION:
		tx_part(t, 0, 0, target);
		break;
	case UV_TXN_GRANT_MEMORY:
		if (rnd(3)) {
			bytes = rnd(4) ? (1 + rnd(1024)) * 4096ull : (1 + rnd(3)) * 4 * MiB;
			tx_mem(t, type, 0, 0, target, bytes, NULL, 0);
		} else {
			n = gen_extents(e, (uint32_t)FREE_PAGE, &bytes);
			tx_mem(t, type, 0, 0, target, bytes, e, n);
		}
		break;
	case UV_TXN_REVOKE_MEMORY:
		n = gen_extents(e, target, &bytes);
		tx_mem(t, type, 0, 0, target, bytes, e, n);
		break;
	case UV_TXN_CREATE_CHANNEL:
	case UV_TXN_DESTROY_CHANNEL:
		tx_chan(t, type, 0, 0, rnd(8), rnd(MAXP), rnd(MAXP), (1 + rnd(4)) * 4096ull);
		if (type == UV_TXN_DESTROY_CHANNEL && m_chan(t->u.channel.channel_id) && rnd(4)) {
			const struct mchan *c = m_chan(t->u.channel.channel_id);

			t->u.channel.endpoint[0] = c->ep[0];
			t->u.channel.endpoint[1] = c->ep[1];
			t->u.channel.size = c->size;
		}
		if (t->u.channel.endpoint[0] == t->u.channel.endpoint[1])
			t->u.channel.endpoint[1] = (t->u.channel.endpoint[0] + 1) % MAXP;
		break;
	case UV_TXN_ASSIGN_DEVICE:
	case UV_TXN_RELEASE_DEVICE:
		tx_dev(t, type, 0, 0, target, rnd(NDEVNUM));
		break;
	case UV_TXN_SET_CPU_SHARE:
		tx_cpu(t, 0, 0, target, rnd(2200));
		break;
	case UV_TXN_SET_DISK_LIMITS:
		tx_hdr(t, type, 0, 0);
		t->u.disk_limits.partition_id = target;
		t->u.disk_limits.disk = rnd(UV_DISKS_MAX);
		t->u.disk_limits.limit.iops = rnd(3) * rnd(5000);
		t->u.disk_limits.limit.bytes_per_sec = rnd(3) * (uint64_t)rnd(1u << 30);
		break;
	default:
		tx_state(t, 0, 0, target, rnd(UV_STATE_CRASHED + 1));
	}
	gen_sender(t);
}

/* ---- Replay and undo bookkeeping. ---- */

struct journal {
	uint8_t *buf;
	size_t len, cap;
	size_t n;
};

static void journal_add(struct journal *j, const struct uv_txn *c)
{
	size_t need = uv_txn_encoded_size(c);
	ssize_t w;

	if (j->len + need + 4 > j->cap) {
		j->cap = 2 * (j->cap + need + 4);
		j->buf = realloc(j->buf, j->cap);
		assert_non_null(j->buf);
	}
	w = uv_txn_encode(c, j->buf + j->len + 4, need, NULL);
	assert_int_equal(w, (ssize_t)need);
	memcpy(j->buf + j->len, &(uint32_t){(uint32_t)need}, 4);
	j->len += need + 4;
	j->n++;
}

static void replay(const struct journal *j)
{
	static struct uv_resdb_result r;
	struct tdb f;
	size_t off = 0;

	assert_int_equal(tdb_open(&f, POOL, MAXP, MAXC, MAXD), 0);
	while (off < j->len) {
		uint32_t n;
		struct uv_txn t;

		memcpy(&n, j->buf + off, 4);
		assert_int_equal(uv_txn_decode(j->buf + off + 4, n, &t), UV_TXN_OK);
		assert_int_equal(uv_resdb_apply(f.db, &t, &r), UV_TXN_OK);
		off += 4 + n;
	}
	assert_true(uv_resdb_equal(D.db, f.db));
	tdb_close(&f);
}

/* The last UNDO_K accepted transactions: record, result, and the database before them. */
struct recent {
	uint8_t rec[64 * 1024];
	size_t len;
	struct uv_resdb_result res;
	void *snap;
	size_t snap_len;
};

static struct recent R[UNDO_K];
static unsigned accepted_by_type[UV_TXN_TYPE_COUNT], refused_by_reason[64];

static void remember(size_t i, const struct uv_txn *c, const struct uv_resdb_result *res,
                     void *snap, size_t snap_len)
{
	struct recent *r = &R[i % UNDO_K];
	ssize_t w = uv_txn_encode(c, r->rec, sizeof(r->rec), NULL);

	assert_true(w > 0);
	r->len = (size_t)w;
	r->res = *res;
	free(r->snap);
	r->snap = snap;
	r->snap_len = snap_len;
}

static void undo_last(size_t accepted, size_t k)
{
	struct tdb f;
	size_t i;

	for (i = 0; i < k; i++) {
		struct recent *r = &R[(accepted - 1 - i) % UNDO_K];
		struct uv_txn t;

		assert_int_equal(uv_txn_decode(r->rec, r->len, &t), UV_TXN_OK);
		assert_int_equal(uv_resdb_undo(D.db, &t, &r->res), UV_TXN_OK);
		assert_int_equal(uv_resdb_check(D.db), 0);
	}
	assert_int_equal(tdb_open(&f, POOL, MAXP, MAXC, MAXD), 0);
	i = (accepted - k) % UNDO_K;
	assert_int_equal(uv_resdb_load(f.db, R[i].snap, R[i].snap_len), 0);
	assert_true(uv_resdb_equal(D.db, f.db));
	tdb_close(&f);
}

static void run(unsigned s)
{
	static struct uv_resdb_result res;
	struct journal j = {0};
	struct uv_txn_extent e[2];
	struct uv_txn t, c;
	size_t step, accepted = 0;

	seed = s;
	rng = 0x9e3779b97f4a7c15ull ^ s;
	print_message("seed %u\n", s);
	model_init();
	assert_int_equal(tdb_open(&D, POOL, MAXP, MAXC, MAXD), 0);
	for (step = 0; step < STEPS; step++) {
		int want;
		size_t n = uv_resdb_save_size(D.db);
		void *snap = malloc(n);

		assert_int_equal(uv_resdb_save(D.db, snap, n), (ssize_t)n);
		gen(&t, e);
		want = m_decide(&t);
		if ((int)uv_resdb_apply(D.db, &t, &res) != want)
			fail_msg("seed %u step %zu type %s: database says %s, model %s", s, step,
			         uv_txn_type_name(t.hdr.type), uv_txn_reason_name(res.reason),
			         uv_txn_reason_name(want));
		if (want < 64)
			refused_by_reason[want]++;
		if (!want) {
			accepted_by_type[t.hdr.type]++;
			m_apply(&t, &res);
			uv_resdb_complete(&t, &res, &c);
			journal_add(&j, &c);
			remember(accepted++, &c, &res, snap, n);
		} else {
			free(snap);
		}
		compare();
	}
	replay(&j);
	if (accepted >= UNDO_K)
		undo_last(accepted, 1 + rnd(UNDO_K - 1));
	free(j.buf);
	tdb_close(&D);
}

static void test_fixed_seeds(void **state)
{
	static const int reasons[] = {UV_TXN_NOT_PERMITTED,   UV_TXN_NO_SPACE,
	                              UV_TXN_DOUBLE_ALLOC,    UV_TXN_NO_SUCH_PARTITION,
	                              UV_TXN_NO_SUCH_CHANNEL, UV_TXN_NO_SUCH_DEVICE,
	                              UV_TXN_EXISTS,          UV_TXN_BUSY,
	                              UV_TXN_BAD_VALUE,       UV_TXN_BAD_EXTENT};
	unsigned i;

	run(1);
	run(2);
	run(3);
	/* The sequences must reach every kind of change and of refusal to prove anything. */
	for (i = UV_TXN_CREATE_PARTITION; i <= UV_TXN_SET_STATE; i++)
		if (!accepted_by_type[i])
			fail_msg("no %s was ever accepted", uv_txn_type_name(i));
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (!refused_by_reason[reasons[i]])
			fail_msg("nothing was refused with %s", uv_txn_reason_name(reasons[i]));
}

static void test_time_seed(void **state)
{
	const char *env = getenv("RESDB_SEED"); /* to reproduce a failure */

	run(env ? (unsigned)strtoul(env, NULL, 0) : (unsigned)time(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixed_seeds),
	    cmocka_unit_test(test_time_seed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
