/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the resource database. The first byte picks a mode:
 *   0: the rest is a sequence of chunks [u16 length][record bytes][u8 action]. Each record goes
 *      through uv_txn_decode and, if it decodes, uv_resdb_apply on a small database where the
 *      command partition is already running. A refusal must leave the region byte for byte
 *      unchanged; after every accepted record the database must pass uv_resdb_check. An odd
 *      action undoes the record right away, which must succeed and pass the check again.
 *   1: the rest is a snapshot handed to uv_resdb_load: refused or loaded, never a crash, and a
 *      loaded one passes the check and saves back to the same bytes.
 *   2: the rest overwrites the front of a valid region; the read-only view attaches or refuses
 *      and reads stay inside the area (ASan checks).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resdb.h"

#define POOL (256ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct uv_resdb_sysrole roles[] = {
    {1, UV_ROLE_BOOT},
    {2, UV_ROLE_COMMAND},
    {3, UV_ROLE_IO},
    {4, UV_ROLE_OPERATIONS},
};

struct fdb {
	struct uv_resdb db;
	void *area, *copy;
	size_t size;
};

static struct uv_resdb_result res;

static void up(struct fdb *f, int boot)
{
	struct uv_resdb_config cfg = {POOL, 8, 4, 4, roles, 4};
	struct uv_txn t;

	f->size = uv_resdb_size_for(&cfg);
	f->area = calloc(1, f->size);
	f->copy = malloc(f->size);
	if (!f->area || !f->copy || uv_resdb_init(&f->db, f->area, f->size, &cfg))
		abort();
	if (!boot)
		return;
	memset(&t, 0, sizeof(t));
	t.hdr.type = UV_TXN_CREATE_PARTITION;
	t.u.create.magic = UV_DESC_MAGIC;
	t.u.create.version = UV_DESC_VERSION;
	t.u.create.size = sizeof(t.u.create);
	t.u.create.id = 2;
	t.u.create.vcpus = 1;
	t.u.create.n_mem = 1;
	t.u.create.mem[0].size = UV_MEM_MIN;
	t.u.create.mem_bytes = UV_MEM_MIN;
	strcpy(t.u.create.name, "command");
	strcpy(t.u.create.kernel, "/boot/vmlinux");
	if (uv_resdb_apply(&f->db, &t, &res))
		abort();
	uv_resdb_state_txn(&t, 2, UV_STATE_RUNNING);
	if (uv_resdb_apply(&f->db, &t, &res))
		abort();
}

static void down(struct fdb *f)
{
	free(f->area);
	free(f->copy);
}

static void apply_one(struct fdb *f, const uint8_t *rec, size_t len, int undo)
{
	struct uv_txn t, c;

	if (uv_txn_decode(rec, len, &t) != UV_TXN_OK)
		return;
	memcpy(f->copy, f->area, f->size);
	if (uv_resdb_apply(&f->db, &t, &res) != UV_TXN_OK) {
		/* A channel too fragmented for its record is refused after the page map moved;
		 * everything else is refused before anything changes. */
		if (t.hdr.type != UV_TXN_CREATE_CHANNEL && memcmp(f->copy, f->area, f->size))
			abort();
		if (uv_resdb_check(&f->db))
			abort();
		return;
	}
	if (uv_resdb_check(&f->db))
		abort();
	if (!undo)
		return;
	uv_resdb_complete(&t, &res, &c);
	if (uv_resdb_undo(&f->db, &c, &res) != UV_TXN_OK || uv_resdb_check(&f->db))
		abort();
}

static void sequence(const uint8_t *p, size_t n)
{
	struct fdb f;

	up(&f, 1);
	while (n >= 3) {
		size_t len = (size_t)p[0] | (size_t)p[1] << 8;

		p += 2;
		n -= 2;
		if (len > n - 1)
			len = n - 1;
		apply_one(&f, p, len, p[len] & 1);
		p += len + 1;
		n -= len + 1;
	}
	down(&f);
}

static int upgraded_is_stable(const uint8_t *p, size_t n)
{
	struct fdb f;
	uint8_t *again;
	int ok;

	up(&f, 0);
	again = malloc(n);
	ok = again && uv_resdb_load(&f.db, p, n) == 0 && uv_resdb_save_size(&f.db) == n &&
	     uv_resdb_save(&f.db, again, n) == (ssize_t)n && memcmp(again, p, n) == 0;
	free(again);
	down(&f);
	return ok;
}

/* A snapshot saves back to its own size -- or, holding descriptors of an older version
 * (docs/txn-log.md, "Upgrading"), to a longer one that in turn saves back to itself. */
static void snapshot(const uint8_t *p, size_t n)
{
	struct fdb f;
	uint8_t *again = NULL;
	size_t m;

	up(&f, 0);
	if (uv_resdb_load(&f.db, p, n) == 0) {
		m = uv_resdb_save_size(&f.db);
		if (uv_resdb_check(&f.db) || m < n)
			abort();
		again = malloc(m);
		if (!again || uv_resdb_save(&f.db, again, m) != (ssize_t)m)
			abort();
		if (m != n && !upgraded_is_stable(again, m))
			abort();
		free(again);
	} else if (uv_resdb_check(&f.db)) {
		abort();
	}
	down(&f);
}

static void region(const uint8_t *p, size_t n)
{
	struct uv_resdb_view v;
	struct uv_partition_desc d;
	struct fdb f;
	uint32_t i;

	up(&f, 1);
	memcpy(f.area, p, n < f.size ? n : f.size);
	if (uv_resdb_view_attach(&v, f.area, f.size) == 0)
		for (i = 0; i < 10; i++)
			uv_resdb_read_desc(&v, i, &d, NULL);
	down(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		sequence(data + 1, size - 1);
		break;
	case 1:
		snapshot(data + 1, size - 1);
		break;
	default:
		region(data + 1, size - 1);
	}
	return 0;
}
