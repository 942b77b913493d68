/* SPDX-License-Identifier: MIT */
/* Helpers shared by the resource database tests: databases over heap areas, transaction makers. */
#ifndef ULTRA_TEST_RESDB_TESTLIB_H
#define ULTRA_TEST_RESDB_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resdb.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* System partitions of every test database; 5 and up are guests. */
enum { P_BOOT = 1, P_CMD = 2, P_IO = 3, P_OPS = 4, P_GUEST = 5 };

static const struct uv_resdb_sysrole test_roles[] = {
    {P_BOOT, UV_ROLE_BOOT},
    {P_CMD, UV_ROLE_COMMAND},
    {P_IO, UV_ROLE_IO},
    {P_OPS, UV_ROLE_OPERATIONS},
};

struct tdb {
	struct uv_resdb *db;
	struct uv_resdb_config cfg;
	void *area;
	size_t size;
};

static inline int tdb_open(struct tdb *t, uint64_t pool, uint32_t maxp, uint32_t maxc,
                           uint32_t maxd)
{
	t->cfg = (struct uv_resdb_config){pool, maxp, maxc, maxd, test_roles, 4};
	t->size = uv_resdb_size_for(&t->cfg);
	t->area = calloc(1, t->size);
	t->db = calloc(1, sizeof(*t->db));
	if (!t->size || !t->area || !t->db)
		return -1;
	return uv_resdb_init(t->db, t->area, t->size, &t->cfg);
}

static inline void tdb_close(struct tdb *t)
{
	free(t->area);
	free(t->db);
}

static inline void tx_hdr(struct uv_txn *t, enum uv_txn_type type, uint32_t sender,
                          enum uv_role role)
{
	memset(t, 0, sizeof(*t));
	t->hdr.magic = UV_TXN_MAGIC;
	t->hdr.version = UV_TXN_VERSION;
	t->hdr.header_size = sizeof(t->hdr);
	t->hdr.type = type;
	t->hdr.sender_id = sender;
	t->hdr.sender_role = role;
}

/* A valid descriptor for partition id with n devices named /dev/test<dev0 + i>. */
static inline void tx_create(struct uv_txn *t, uint32_t sender, enum uv_role role, uint32_t id,
                             uint32_t n_dev, uint32_t dev0)
{
	struct uv_partition_desc *d = &t->u.create;
	uint32_t i;

	tx_hdr(t, UV_TXN_CREATE_PARTITION, sender, role);
	d->magic = UV_DESC_MAGIC;
	d->version = UV_DESC_VERSION;
	d->size = sizeof(*d);
	d->id = id;
	snprintf(d->name, sizeof(d->name), "p%u", id);
	d->vcpus = 2;
	d->n_mem = 1;
	d->mem[0].size = UV_MEM_MIN;
	d->mem_bytes = UV_MEM_MIN;
	snprintf(d->kernel, sizeof(d->kernel), "/boot/vmlinux");
	d->n_dev = n_dev;
	for (i = 0; i < n_dev; i++) {
		d->dev[i].kind = UV_DEV_RNG;
		snprintf(d->dev[i].path, UV_PATH_MAX, "/dev/test%u", dev0 + i);
	}
}

static inline void tx_part(struct uv_txn *t, uint32_t sender, enum uv_role role, uint32_t id)
{
	tx_hdr(t, UV_TXN_DESTROY_PARTITION, sender, role);
	t->u.partition.partition_id = id;
}

/* n == 0: let the database allocate bytes. */
static inline void tx_mem(struct uv_txn *t, enum uv_txn_type type, uint32_t sender,
                          enum uv_role role, uint32_t id, uint64_t bytes,
                          const struct uv_txn_extent *ext, uint32_t n)
{
	tx_hdr(t, type, sender, role);
	t->u.memory.partition_id = id;
	t->u.memory.bytes = bytes;
	t->u.memory.n_extents = n;
	t->extents = ext;
}

static inline void tx_chan(struct uv_txn *t, enum uv_txn_type type, uint32_t sender,
                           enum uv_role role, uint32_t cid, uint32_t a, uint32_t b, uint64_t size)
{
	tx_hdr(t, type, sender, role);
	t->u.channel.channel_id = cid;
	t->u.channel.endpoint[0] = a;
	t->u.channel.endpoint[1] = b;
	t->u.channel.size = size;
}

static inline void tx_dev(struct uv_txn *t, enum uv_txn_type type, uint32_t sender,
                          enum uv_role role, uint32_t id, uint32_t dev)
{
	tx_hdr(t, type, sender, role);
	t->u.device.partition_id = id;
	t->u.device.device.kind = UV_DEV_RNG;
	snprintf(t->u.device.device.path, UV_PATH_MAX, "/dev/test%u", dev);
}

static inline void tx_cpu(struct uv_txn *t, uint32_t sender, enum uv_role role, uint32_t id,
                          uint32_t share)
{
	tx_hdr(t, UV_TXN_SET_CPU_SHARE, sender, role);
	t->u.cpu.partition_id = id;
	t->u.cpu.cpu_share_milli = share;
}

static inline void tx_state(struct uv_txn *t, uint32_t sender, enum uv_role role, uint32_t id,
                            uint32_t state)
{
	tx_hdr(t, UV_TXN_SET_STATE, sender, role);
	t->u.state.partition_id = id;
	t->u.state.state = state;
}

#endif
