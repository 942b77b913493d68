/* SPDX-License-Identifier: MIT */
/*
 * Resource database: layout (claim 31), every transaction type, every refusal (which must leave
 * the region byte for byte as it was), undo, failure and restart (claims 5, 52), snapshots, and
 * a monitor's read-only mapping that faults on write (claim 10).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "resdb_testlib.h"

#define POOL (1 * GiB)

static struct tdb T;
static struct uv_resdb_result res;
static void *before;

static int setup(void **state)
{
	struct uv_txn t;

	if (tdb_open(&T, POOL, 16, 4, 4))
		return -1;
	before = malloc(T.size);
	/* The ultravisor brings up boot and command partitions; the command partition runs. */
	tx_create(&t, 0, UV_ROLE_ULTRAVISOR, P_BOOT, 0, 0);
	uv_resdb_apply(T.db, &t, &res);
	tx_create(&t, 0, UV_ROLE_ULTRAVISOR, P_CMD, 0, 0);
	uv_resdb_apply(T.db, &t, &res);
	tx_state(&t, 0, UV_ROLE_ULTRAVISOR, P_CMD, UV_STATE_RUNNING);
	uv_resdb_apply(T.db, &t, &res);
	tx_create(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST, 1, 100);
	return uv_resdb_apply(T.db, &t, &res) == UV_TXN_OK && before ? 0 : -1;
}

static int teardown(void **state)
{
	free(before);
	tdb_close(&T);
	return 0;
}

static void ok(const struct uv_txn *t)
{
	enum uv_txn_reason r = uv_resdb_apply(T.db, t, &res);

	if (r)
		fail_msg("refused: %s", uv_txn_reason_str(r));
	assert_int_equal(res.reason, UV_TXN_OK);
	assert_int_equal(uv_resdb_check(T.db), 0);
}

/* A refusal names its reason and leaves every byte of the region as it was. */
static void refused(const struct uv_txn *t, enum uv_txn_reason want)
{
	memcpy(before, T.area, T.size);
	assert_int_equal(uv_resdb_apply(T.db, t, &res), want);
	assert_int_equal(res.reason, want);
	assert_memory_equal(before, T.area, T.size);
}

static uint32_t owner_at(uint64_t off)
{
	struct uv_resdb_view v;
	struct uv_pm_block b;

	assert_int_equal(uv_resdb_view_attach(&v, T.area, T.size), 0);
	assert_int_equal(uv_pagemap_lookup(&v.pm, off, &b), 0);
	return b.state == UV_PM_OWNED ? b.owner : UV_PM_NONE;
}

static uint32_t tier_at(uint64_t off)
{
	struct uv_resdb_view v;
	struct uv_pm_block b;

	assert_int_equal(uv_resdb_view_attach(&v, T.area, T.size), 0);
	assert_int_equal(uv_pagemap_lookup(&v.pm, off, &b), 0);
	return b.tier;
}

static void test_layout(void **state)
{
	const struct uv_resdb_hdr *h = T.area;
	struct uv_resdb_config bad = T.cfg;
	struct uv_resdb_sysrole guest_role = {7, UV_ROLE_GUEST};
	uint64_t off;
	uint32_t p;

	assert_int_equal(h->magic, UV_RESDB_MAGIC);
	assert_int_equal(h->hdr_size, sizeof(*h));
	assert_int_equal(h->total_size, T.size);
	assert_int_equal(h->n_partitions, 4);
	assert_true(h->part_off >= 16 * UV_RESDB_SLOT_SIZE);
	assert_int_equal(h->pagemap_off % 4096, 0);
	/* Claim 31: partition P's descriptor sits at Mem(G,M,K) from the region start. */
	for (p = 1; p < 16; p++) {
		assert_int_equal(uv_desc_offset_of(p, UV_RESDB_WORDSIZE, &off), 0);
		assert_int_equal(off, (uint64_t)p * UV_RESDB_SLOT_SIZE);
	}
	assert_int_equal(uv_desc_offset_of(P_GUEST, UV_RESDB_WORDSIZE, &off), 0);
	assert_ptr_equal(uv_resdb_desc(T.db, P_GUEST), (uint8_t *)T.area + off);
	assert_null(uv_resdb_desc(T.db, 0));
	assert_null(uv_resdb_desc(T.db, 6));
	bad.max_partitions = 1;
	assert_int_equal(uv_resdb_size_for(&bad), 0);
	bad = T.cfg;
	bad.system = &guest_role;
	bad.n_system = 1;
	assert_int_equal(uv_resdb_init(T.db, T.area, T.size, &bad), -EINVAL);
	assert_int_equal(uv_resdb_init(T.db, T.area, T.size - 1, &T.cfg), -EINVAL);
	assert_int_equal(uv_resdb_command_up(T.db), 1);
}

static void test_create_destroy(void **state)
{
	struct uv_resdb_view v;
	struct uv_partition_desc d;
	struct uv_resdb_part rec;
	struct uv_txn t;

	tx_create(&t, P_CMD, UV_ROLE_COMMAND, 6, 2, 10);
	ok(&t);
	assert_int_equal(res.value[0], 6);
	assert_int_equal(uv_resdb_view_attach(&v, T.area, T.size), 0);
	assert_int_equal(uv_resdb_read_desc(&v, 6, &d, &rec), 0);
	assert_string_equal(d.name, "p6");
	assert_int_equal(rec.creator, P_CMD);
	assert_int_equal(rec.n_devices, 2);
	assert_non_null(uv_resdb_dev_find(T.db, "/dev/test11"));
	tx_part(&t, P_CMD, UV_ROLE_COMMAND, 6);
	ok(&t);
	assert_int_equal(uv_resdb_read_desc(&v, 6, &d, NULL), -ENOENT);
	assert_null(uv_resdb_dev_find(T.db, "/dev/test11"));
}

static void test_refusals_partition(void **state)
{
	struct uv_txn t;

	tx_create(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST, 0, 0);
	refused(&t, UV_TXN_EXISTS);
	tx_create(&t, P_CMD, UV_ROLE_COMMAND, 16, 0, 0);
	refused(&t, UV_TXN_NO_SPACE);
	tx_create(&t, P_CMD, UV_ROLE_COMMAND, 0, 0, 0);
	refused(&t, UV_TXN_NOT_PERMITTED);                /* partition 0 is the ultravisor */
	tx_create(&t, P_CMD, UV_ROLE_COMMAND, 7, 1, 100); /* /dev/test100 is the guest's */
	refused(&t, UV_TXN_DOUBLE_ALLOC);
	tx_create(&t, P_CMD, UV_ROLE_COMMAND, 7, 4, 200); /* 1 of 4 device records is in use */
	refused(&t, UV_TXN_NO_SPACE);
	tx_create(&t, P_CMD, UV_ROLE_COMMAND, 7, 0, 0);
	t.u.create.state = UV_STATE_RUNNING;
	refused(&t, UV_TXN_BAD_VALUE);
	tx_part(&t, P_CMD, UV_ROLE_COMMAND, 9);
	refused(&t, UV_TXN_NO_SUCH_PARTITION);
	tx_state(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST, UV_STATE_RUNNING);
	ok(&t);
	tx_part(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST);
	refused(&t, UV_TXN_BUSY); /* still running */
	tx_hdr(&t, UV_TXN_NONE, P_CMD, UV_ROLE_COMMAND);
	refused(&t, UV_TXN_UNKNOWN_TYPE);
	/* Records built in-process skip the decoder; apply still refuses bad values. */
	tx_create(&t, P_CMD, UV_ROLE_COMMAND, 7, 0, 0);
	t.u.create.n_dev = 99;
	refused(&t, UV_TXN_BAD_DESC);
	tx_state(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST, 77);
	refused(&t, UV_TXN_BAD_VALUE);
	tx_dev(&t, UV_TXN_ASSIGN_DEVICE, P_CMD, UV_ROLE_COMMAND, P_GUEST, 1);
	memset(t.u.device.device.path, 'x', UV_PATH_MAX);
	refused(&t, UV_TXN_BAD_STRING);
	tx_chan(&t, UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 1, P_GUEST, P_GUEST, 4096);
	refused(&t, UV_TXN_BAD_VALUE);
}

static void test_refusals_sender(void **state)
{
	struct uv_txn t;

	tx_cpu(&t, P_GUEST, UV_ROLE_GUEST, P_GUEST, 500);
	refused(&t, UV_TXN_NOT_PERMITTED);
	tx_cpu(&t, P_IO, UV_ROLE_IO, P_GUEST, 500);
	refused(&t, UV_TXN_NOT_PERMITTED);
	tx_cpu(&t, P_GUEST, UV_ROLE_COMMAND, P_GUEST, 500); /* a guest claiming the command role */
	refused(&t, UV_TXN_NOT_PERMITTED);
	tx_cpu(&t, 1, UV_ROLE_ULTRAVISOR, P_GUEST, 500); /* the ultravisor is partition 0 */
	refused(&t, UV_TXN_NOT_PERMITTED);
	tx_state(&t, P_GUEST, UV_ROLE_MONITOR, P_CMD, UV_STATE_STOPPED); /* not its own */
	refused(&t, UV_TXN_NOT_PERMITTED);
	tx_state(&t, P_GUEST, UV_ROLE_MONITOR, P_GUEST, UV_STATE_STARTING);
	ok(&t);
	tx_cpu(&t, P_BOOT, UV_ROLE_BOOT, P_GUEST, 500); /* boot never touches guests */
	refused(&t, UV_TXN_NOT_PERMITTED);
	tx_state(&t, P_BOOT, UV_ROLE_BOOT, P_CMD, UV_STATE_RUNNING); /* restarts: allowed */
	ok(&t);
	tx_create(&t, P_BOOT, UV_ROLE_BOOT, P_IO, 0, 0); /* allocation is the command's now */
	refused(&t, UV_TXN_NOT_PERMITTED);
	tx_state(&t, 0, UV_ROLE_ULTRAVISOR, P_CMD, UV_STATE_STOPPED);
	ok(&t);
	ok(&t);                                          /* the same state again is fine */
	tx_create(&t, P_BOOT, UV_ROLE_BOOT, P_IO, 0, 0); /* command down: boot starts systems */
	ok(&t);
	tx_create(&t, P_BOOT, UV_ROLE_BOOT, 9, 0, 0);
	refused(&t, UV_TXN_NOT_PERMITTED);
	tx_state(&t, 0, UV_ROLE_ULTRAVISOR, P_CMD, UV_STATE_RUNNING);
	ok(&t);
}

static void test_memory(void **state)
{
	struct uv_txn_extent ext[2], got[UV_TXN_EXTENTS_MAX];
	struct uv_txn t, c;
	uint32_t n;

	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_GUEST, 4 * MiB + 8192, NULL, 0);
	ok(&t);
	assert_int_equal(res.value[0], 4 * MiB + 8192);
	/* One 4 MiB block and two pages of the next block: adjacent, so one merged extent. */
	assert_int_equal(res.n_extents, 1);
	assert_int_equal(res.extents[0].size, 4 * MiB + 8192);
	assert_int_equal(tier_at(res.extents[0].pool_offset), 1);
	assert_int_equal(tier_at(res.extents[0].pool_offset + 4 * MiB), 0);
	assert_int_equal(owner_at(res.extents[0].pool_offset), P_GUEST);
	assert_int_equal(uv_resdb_part(T.db, P_GUEST)->mem_bytes, 4 * MiB + 8192);
	uv_resdb_complete(&t, &res, &c);
	assert_int_equal(c.u.memory.n_extents, 1);
	n = res.n_extents;
	memcpy(got, res.extents, n * sizeof(got[0]));

	/* Claiming any of those pages again is a double allocation. */
	ext[0] = got[0];
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_CMD, ext[0].size, ext, 1);
	refused(&t, UV_TXN_DOUBLE_ALLOC);
	ext[0] = (struct uv_txn_extent){POOL - 4096, 8192};
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_CMD, 8192, ext, 1);
	refused(&t, UV_TXN_NO_SPACE);
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_CMD, 2 * POOL, NULL, 0);
	refused(&t, UV_TXN_NO_SPACE);
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_CMD, 100, NULL, 0);
	refused(&t, UV_TXN_BAD_VALUE);
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, 9, 8192, NULL, 0);
	refused(&t, UV_TXN_NO_SUCH_PARTITION);
	tx_mem(&t, UV_TXN_REVOKE_MEMORY, P_CMD, UV_ROLE_COMMAND, P_CMD, got[0].size, got, 1);
	refused(&t, UV_TXN_BAD_EXTENT); /* not P_CMD's */
	tx_mem(&t, UV_TXN_REVOKE_MEMORY, P_CMD, UV_ROLE_COMMAND, P_GUEST, 0, NULL, 0);
	refused(&t, UV_TXN_BAD_COUNT);
	ext[0] = (struct uv_txn_extent){100, 4096};
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_CMD, 4096, ext, 1);
	refused(&t, UV_TXN_BAD_EXTENT);
	ext[0] = (struct uv_txn_extent){0, 4096};
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_CMD, 8192, ext, 1);
	refused(&t, UV_TXN_BAD_EXTENT); /* extents do not add up to bytes */

	/* An exact claim of free pages, then revoke everything. */
	ext[0] = (struct uv_txn_extent){512 * MiB, 8 * MiB};
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_GUEST, 8 * MiB, ext, 1);
	ok(&t);
	assert_int_equal(owner_at(516 * MiB), P_GUEST);
	tx_mem(&t, UV_TXN_REVOKE_MEMORY, P_CMD, UV_ROLE_COMMAND, P_GUEST, 8 * MiB, ext, 1);
	ok(&t);
	tx_mem(&t, UV_TXN_REVOKE_MEMORY, P_CMD, UV_ROLE_COMMAND, P_GUEST, 4 * MiB + 8192, got, n);
	ok(&t);
	assert_int_equal(uv_resdb_part(T.db, P_GUEST)->mem_bytes, 0);
	assert_int_equal(owner_at(got[0].pool_offset), UV_PM_NONE);
}

static void test_channels(void **state)
{
	const struct uv_resdb_chan *ch;
	struct uv_txn t;
	uint32_t i;

	tx_chan(&t, UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 7, 0, P_CMD, 64 * 1024);
	ok(&t); /* the command channel: ultravisor <-> command partition */
	ch = uv_resdb_chan_find(T.db, 7);
	assert_non_null(ch);
	assert_int_equal(ch->n_ext, 1);
	assert_int_equal(owner_at(ch->ext[0].offset), UV_RESDB_CHANNEL_OWNER);
	assert_int_equal(uv_resdb_part(T.db, P_CMD)->n_channels, 1);
	refused(&t, UV_TXN_EXISTS);
	tx_chan(&t, UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 8, P_GUEST, 9, 4096);
	refused(&t, UV_TXN_NO_SUCH_PARTITION);
	tx_chan(&t, UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 8, P_GUEST, P_CMD, 4096);
	ok(&t);
	/* A partition with a channel cannot be destroyed until the channel is. */
	tx_part(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST);
	refused(&t, UV_TXN_BUSY);
	for (i = 9; i < 11; i++) {
		tx_chan(&t, UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, i, P_GUEST, P_CMD, 4096);
		ok(&t);
	}
	tx_chan(&t, UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 11, P_GUEST, P_CMD, 4096);
	refused(&t, UV_TXN_NO_SPACE); /* 4 channel records */
	tx_chan(&t, UV_TXN_DESTROY_CHANNEL, P_CMD, UV_ROLE_COMMAND, 11, P_GUEST, P_CMD, 4096);
	refused(&t, UV_TXN_NO_SUCH_CHANNEL);
	tx_chan(&t, UV_TXN_DESTROY_CHANNEL, P_CMD, UV_ROLE_COMMAND, 8, P_CMD, P_GUEST, 4096);
	refused(&t, UV_TXN_NO_SUCH_CHANNEL); /* ends in the wrong order */
	for (i = 8; i < 11; i++) {
		tx_chan(&t, UV_TXN_DESTROY_CHANNEL, P_CMD, UV_ROLE_COMMAND, i, P_GUEST, P_CMD,
		        4096);
		ok(&t);
	}
	tx_chan(&t, UV_TXN_DESTROY_CHANNEL, P_CMD, UV_ROLE_COMMAND, 7, 0, P_CMD, 64 * 1024);
	ok(&t);
	assert_int_equal(uv_resdb_part(T.db, P_GUEST)->n_channels, 0);
	assert_int_equal(uv_pagemap_free_bytes(&T.db->pm), POOL);
}

static void test_devices_cpu(void **state)
{
	const struct uv_partition_desc *d = uv_resdb_desc(T.db, P_GUEST);
	struct uv_txn t;

	tx_dev(&t, UV_TXN_ASSIGN_DEVICE, P_CMD, UV_ROLE_COMMAND, P_GUEST, 101);
	ok(&t);
	assert_int_equal(d->n_dev, 2);
	assert_string_equal(d->dev[1].path, "/dev/test101");
	refused(&t, UV_TXN_EXISTS);
	tx_dev(&t, UV_TXN_ASSIGN_DEVICE, P_CMD, UV_ROLE_COMMAND, P_CMD, 101);
	refused(&t, UV_TXN_DOUBLE_ALLOC);
	tx_dev(&t, UV_TXN_RELEASE_DEVICE, P_CMD, UV_ROLE_COMMAND, P_CMD, 101);
	refused(&t, UV_TXN_NO_SUCH_DEVICE);
	tx_dev(&t, UV_TXN_ASSIGN_DEVICE, P_CMD, UV_ROLE_COMMAND, P_CMD, 102);
	ok(&t);
	tx_dev(&t, UV_TXN_ASSIGN_DEVICE, P_CMD, UV_ROLE_COMMAND, P_CMD, 103);
	ok(&t);
	tx_dev(&t, UV_TXN_ASSIGN_DEVICE, P_CMD, UV_ROLE_COMMAND, P_CMD, 104);
	refused(&t, UV_TXN_NO_SPACE);
	tx_dev(&t, UV_TXN_RELEASE_DEVICE, P_CMD, UV_ROLE_COMMAND, P_GUEST, 100);
	ok(&t);
	assert_int_equal(d->n_dev, 1);
	assert_string_equal(d->dev[0].path, "/dev/test101");

	tx_cpu(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST, 1500);
	ok(&t);
	assert_int_equal(d->cpu_share_milli, 1500);
	tx_cpu(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST, 2001); /* two vCPUs */
	refused(&t, UV_TXN_BAD_VALUE);
}

/* Claims 5, 52: a failed partition keeps its resources; its restart takes them back. */
static void test_fail_restart(void **state)
{
	struct uv_txn t;
	uint64_t off;

	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_GUEST, 8 * MiB, NULL, 0);
	ok(&t);
	off = res.extents[0].pool_offset;
	tx_state(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST, UV_STATE_RUNNING);
	ok(&t);
	assert_int_equal(uv_resdb_partition_restarted(T.db, P_GUEST), -ENOENT);
	assert_int_equal(uv_resdb_partition_failed(T.db, P_GUEST), 0);
	assert_int_equal(uv_resdb_part(T.db, P_GUEST)->status, UV_RESDB_PRESERVED);
	assert_int_equal(uv_resdb_part(T.db, P_GUEST)->failed_state, UV_STATE_RUNNING);
	assert_int_equal(owner_at(off), P_GUEST);
	assert_int_equal(uv_resdb_partition_failed(T.db, P_GUEST), -ENOENT);
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_GUEST, 8192, NULL, 0);
	refused(&t, UV_TXN_BUSY);
	tx_part(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST);
	refused(&t, UV_TXN_BUSY);
	tx_state(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST, UV_STATE_RUNNING);
	refused(&t, UV_TXN_BUSY);
	assert_int_equal(uv_resdb_partition_restarted(T.db, P_GUEST), 0);
	assert_int_equal(uv_resdb_part(T.db, P_GUEST)->status, UV_RESDB_LIVE);
	assert_int_equal(uv_resdb_desc(T.db, P_GUEST)->state, UV_STATE_STARTING);
	assert_int_equal(owner_at(off), P_GUEST);
	assert_int_equal(uv_resdb_check(T.db), 0);

	/* A crashed guest the command partition does not restart now settles as stopped, keeping
	 * its memory, and can then be started or undefined like any stopped partition. */
	assert_int_equal(uv_resdb_partition_failed(T.db, P_GUEST), 0);
	tx_state(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST, UV_STATE_PAUSED);
	refused(&t, UV_TXN_BUSY);
	tx_state(&t, P_CMD, UV_ROLE_COMMAND, P_GUEST, UV_STATE_STOPPED);
	ok(&t);
	assert_int_equal(uv_resdb_part(T.db, P_GUEST)->status, UV_RESDB_LIVE);
	assert_int_equal(uv_resdb_desc(T.db, P_GUEST)->state, UV_STATE_STOPPED);
	assert_int_equal(owner_at(off), P_GUEST);
	assert_int_equal(uv_resdb_check(T.db), 0);
}

/* A copy of the live database through a snapshot, to compare against later. */
static struct tdb copy_of(void)
{
	struct tdb c;
	size_t n = uv_resdb_save_size(T.db);
	void *buf = malloc(n);

	assert_int_equal(tdb_open(&c, POOL, 16, 4, 4), 0);
	assert_int_equal(uv_resdb_save(T.db, buf, n), (ssize_t)n);
	assert_int_equal(uv_resdb_load(c.db, buf, n), 0);
	free(buf);
	assert_true(uv_resdb_equal(T.db, c.db));
	return c;
}

/* Every type, applied then undone, gives the database before it. */
static void test_undo(void **state)
{
	static struct uv_resdb_result r[8];
	struct uv_txn t[8], c[8];
	struct tdb b = copy_of();
	int i, n = 0;

	tx_create(&t[n++], P_CMD, UV_ROLE_COMMAND, 6, 1, 50);
	tx_mem(&t[n++], UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, 6, 12 * MiB, NULL, 0);
	tx_chan(&t[n++], UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 3, 6, P_GUEST, 8192);
	tx_dev(&t[n++], UV_TXN_ASSIGN_DEVICE, P_CMD, UV_ROLE_COMMAND, 6, 51);
	tx_dev(&t[n++], UV_TXN_RELEASE_DEVICE, P_CMD, UV_ROLE_COMMAND, 6, 50);
	tx_cpu(&t[n++], P_CMD, UV_ROLE_COMMAND, 6, 700);
	tx_state(&t[n++], P_CMD, UV_ROLE_COMMAND, 6, UV_STATE_CRASHED);
	for (i = 0; i < n; i++) {
		assert_int_equal(uv_resdb_apply(T.db, &t[i], &r[i]), UV_TXN_OK);
		uv_resdb_complete(&t[i], &r[i], &c[i]);
	}
	/* Undoing the create while later changes depend on it is refused and changes nothing. */
	memcpy(before, T.area, T.size);
	assert_int_equal(uv_resdb_undo(T.db, &c[0], &r[0]), UV_TXN_BUSY);
	assert_memory_equal(before, T.area, T.size);
	for (i = n - 1; i >= 0; i--) {
		assert_int_equal(uv_resdb_undo(T.db, &c[i], &r[i]), UV_TXN_OK);
		assert_int_equal(uv_resdb_check(T.db), 0);
	}
	assert_true(uv_resdb_equal(T.db, b.db));
	tdb_close(&b);

	/* Destroy and revoke and channel destroy undo as well. */
	b = copy_of();
	n = 0;
	tx_chan(&t[n++], UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 3, 0, P_GUEST, 8192);
	tx_chan(&t[n++], UV_TXN_DESTROY_CHANNEL, P_CMD, UV_ROLE_COMMAND, 3, 0, P_GUEST, 8192);
	tx_mem(&t[n++], UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_GUEST, 8192, NULL, 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(uv_resdb_apply(T.db, &t[i], &r[i]), UV_TXN_OK);
		uv_resdb_complete(&t[i], &r[i], &c[i]);
	}
	tx_mem(&t[n], UV_TXN_REVOKE_MEMORY, P_CMD, UV_ROLE_COMMAND, P_GUEST, 8192, c[2].extents, 1);
	assert_int_equal(uv_resdb_apply(T.db, &t[n], &r[n]), UV_TXN_OK);
	c[n] = t[n];
	n++;
	tx_part(&t[n], P_CMD, UV_ROLE_COMMAND, P_GUEST);
	assert_int_equal(uv_resdb_apply(T.db, &t[n], &r[n]), UV_TXN_OK);
	c[n] = t[n];
	n++;
	assert_null(uv_resdb_desc(T.db, P_GUEST));
	for (i = n - 1; i >= 0; i--)
		assert_int_equal(uv_resdb_undo(T.db, &c[i], &r[i]), UV_TXN_OK);
	assert_true(uv_resdb_equal(T.db, b.db));
	tdb_close(&b);
}

/* Replaying the completed records on a fresh database (exact claims) rebuilds the same one. */
static void test_replay_and_snapshot(void **state)
{
	struct uv_txn t, c, d;
	struct tdb f;
	uint8_t rec[4096];
	ssize_t len;
	size_t n;
	void *buf;

	assert_int_equal(tdb_open(&f, POOL, 16, 4, 4), 0);
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, P_GUEST, 5 * MiB + 4096, NULL, 0);
	ok(&t);
	uv_resdb_complete(&t, &res, &c);
	len = uv_txn_encode(&c, rec, sizeof(rec), NULL);
	assert_true(len > 0);
	assert_int_equal(uv_txn_decode(rec, (size_t)len, &d), UV_TXN_OK);
	n = uv_resdb_save_size(T.db);
	buf = malloc(n + 64);
	assert_int_equal(uv_resdb_save(T.db, buf, n), (ssize_t)n);
	assert_int_equal(uv_resdb_save(T.db, buf, n - 1), -ENOSPC);
	assert_int_equal(uv_resdb_load(f.db, buf, n), 0);
	assert_true(uv_resdb_equal(T.db, f.db));
	assert_int_equal(uv_resdb_load(f.db, buf, n), -EINVAL); /* not fresh */
	tdb_close(&f);

	/* Torn, padded, corrupted: refused, and the database stays empty. */
	assert_int_equal(tdb_open(&f, POOL, 16, 4, 4), 0);
	assert_int_equal(uv_resdb_load(f.db, buf, n - 8), -EINVAL);
	assert_int_equal(uv_resdb_load(f.db, buf, n + 8), -EINVAL);
	((uint8_t *)buf)[sizeof(struct uv_resdb_snap_hdr) + 40] ^= 0x5a; /* a partition record */
	assert_int_equal(uv_resdb_load(f.db, buf, n), -EINVAL);
	assert_int_equal(uv_resdb_check(f.db), 0);
	assert_null(uv_resdb_desc(f.db, P_GUEST));
	assert_int_equal(uv_resdb_part(f.db, P_CMD)->role, UV_ROLE_COMMAND);
	free(buf);
	tdb_close(&f);
}

static void test_view_retry(void **state)
{
	struct uv_resdb_view v;
	struct uv_partition_desc d;
	struct uv_resdb_hdr *h = T.area;
	uint8_t junk[512] = {0};

	assert_int_equal(uv_resdb_view_attach(&v, junk, sizeof(junk)), -EINVAL);
	assert_int_equal(uv_resdb_view_attach(&v, T.area, T.size - 4096), -EINVAL);
	assert_int_equal(uv_resdb_view_attach(&v, T.area, T.size), 0);
	h->gen++; /* a writer stuck mid-change */
	assert_int_equal(uv_resdb_read_desc(&v, P_GUEST, &d, NULL), -EAGAIN);
	h->gen++;
	assert_int_equal(uv_resdb_read_desc(&v, P_GUEST, &d, NULL), 0);
	assert_int_equal(uv_resdb_read_desc(&v, 999, &d, NULL), -ENOENT);
}

struct reader {
	int stop;
	long reads, torn;
};

/* A monitor's thread: every copy it gets must be one the writer published as a whole. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct uv_resdb_view v;
	struct uv_partition_desc d;
	struct uv_resdb_part rec;

	if (uv_resdb_view_attach(&v, T.area, T.size))
		return NULL;
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		if (uv_resdb_read_desc(&v, P_GUEST, &d, &rec))
			continue;
		__atomic_fetch_add(&r->reads, 1, __ATOMIC_RELAXED);
		/* One apply writes the record and the descriptor: a copy holding one but not the
		 * other is torn. */
		if (d.cpu_share_milli != rec.cpu_share_milli || d.state != rec.state)
			r->torn++;
	}
	return NULL;
}

static void test_concurrent_reader(void **state)
{
	struct reader r = {0};
	struct uv_txn a, b;
	pthread_t th;
	int i;

	assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
	/* Keep writing until the reader has raced the writer for a while (bounded). */
	for (i = 0;
	     i < 20000 || (__atomic_load_n(&r.reads, __ATOMIC_RELAXED) < 20000 && i < 5000000);
	     i++) {
		tx_cpu(&a, P_CMD, UV_ROLE_COMMAND, P_GUEST, i & 1 ? 1000 : 500);
		tx_state(&b, P_CMD, UV_ROLE_COMMAND, P_GUEST,
		         i & 1 ? UV_STATE_RUNNING : UV_STATE_PAUSED);
		assert_int_equal(uv_resdb_apply(T.db, &a, &res), UV_TXN_OK);
		assert_int_equal(uv_resdb_apply(T.db, &b, &res), UV_TXN_OK);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(r.reads > 0);
	assert_int_equal(r.torn, 0);
}

/* Claim 10: a monitor maps the region read-only (from a sealed memfd); reading works, writing
 * faults, and it cannot get a writable mapping either. */
static void test_read_only_mapping(void **state)
{
	int fd = memfd_create("resdb", MFD_ALLOW_SEALING);
	pid_t pid;
	int st;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)T.size), 0);
	assert_int_equal(pwrite(fd, T.area, T.size, 0), (ssize_t)T.size);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE),
	                 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const void *ro = mmap(NULL, T.size, PROT_READ, MAP_SHARED, fd, 0);
		struct uv_resdb_view v;
		struct uv_partition_desc d;

		if (ro == MAP_FAILED || uv_resdb_view_attach(&v, ro, T.size) ||
		    uv_resdb_read_desc(&v, P_GUEST, &d, NULL) || strcmp(d.name, "p5"))
			_exit(2);
		if (mmap(NULL, T.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) != MAP_FAILED ||
		    mprotect((void *)ro, 4096, PROT_READ | PROT_WRITE) == 0)
			_exit(3);
		signal(SIGSEGV, SIG_DFL);
		((volatile struct uv_resdb_hdr *)ro)->gen = 1;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(fd);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_destroy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals_partition, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals_sender, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_channels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_devices_cpu, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fail_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_undo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replay_and_snapshot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_view_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_mapping, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
