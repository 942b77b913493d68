/* SPDX-License-Identifier: MIT */
/*
 * SET_DISK_LIMITS (claims 3, 7, 19, 22; docs/io-partition.md, "Changing a limit"): the record on
 * the wire, who may send it, what it does to the stored descriptor, its undo, and that a snapshot
 * of the database keeps it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/statfs.h>
#include <unistd.h>

#include "cgio.h"
#include "resdb_testlib.h"

static void tx_limits(struct uv_txn *t, uint32_t sender, enum uv_role role, uint32_t id,
                      uint32_t disk, uint32_t iops, uint64_t bps)
{
	tx_hdr(t, UV_TXN_SET_DISK_LIMITS, sender, role);
	t->u.disk_limits.partition_id = id;
	t->u.disk_limits.disk = disk;
	t->u.disk_limits.limit.iops = iops;
	t->u.disk_limits.limit.bytes_per_sec = bps;
}

static size_t encode(const struct uv_txn *t, unsigned char *buf, size_t cap)
{
	enum uv_txn_reason why = UV_TXN_OK;
	ssize_t n = uv_txn_encode(t, buf, cap, &why);

	if (n <= 0)
		fail_msg("encode: %zd %s", n, uv_txn_reason_name(why));
	return (size_t)n;
}

static void test_record_round_trip_and_summary(void **state)
{
	unsigned char buf[256];
	struct uv_txn t, out;
	char line[160];
	size_t n;

	(void)state;
	tx_limits(&t, P_CMD, UV_ROLE_COMMAND, 12, 3, 4000, 5ull << 30);
	n = encode(&t, buf, sizeof(buf));
	assert_int_equal(n, sizeof(struct uv_txn_hdr) + sizeof(struct uv_txn_disk_limits));
	assert_int_equal(uv_txn_decode(buf, n, &out), UV_TXN_OK);
	assert_int_equal(out.hdr.type, UV_TXN_SET_DISK_LIMITS);
	assert_int_equal(out.u.disk_limits.partition_id, 12);
	assert_int_equal(out.u.disk_limits.disk, 3);
	assert_int_equal(out.u.disk_limits.limit.iops, 4000);
	assert_int_equal(out.u.disk_limits.limit.bytes_per_sec, 5ull << 30);
	/* What the audit log dump and the daemon's log print for it. */
	uv_txn_summary(&out, line, sizeof(line));
	assert_string_equal(
	    line, "set-disk-limits partition=12 disk=3 iops=4000 bytes_per_sec=5368709120");
	/* Lifting a limit (both 0) is a record like any other. */
	tx_limits(&t, P_CMD, UV_ROLE_COMMAND, 12, 0, 0, 0);
	n = encode(&t, buf, sizeof(buf));
	assert_int_equal(uv_txn_decode(buf, n, &out), UV_TXN_OK);
}

static void test_record_refusals(void **state)
{
	const size_t body = sizeof(struct uv_txn_hdr);
	unsigned char buf[256], copy[256];
	struct uv_txn t, out;
	uint32_t v;
	size_t n;

	(void)state;
	tx_limits(&t, P_CMD, UV_ROLE_COMMAND, 12, 1, 10, 0);
	n = encode(&t, buf, sizeof(buf));
	/* The reserved word of the limit must be zero. */
	memcpy(copy, buf, n);
	v = 1;
	memcpy(copy + body + offsetof(struct uv_txn_disk_limits, limit) +
	           offsetof(struct uv_disk_limit, reserved),
	       &v, sizeof(v));
	assert_int_equal(uv_txn_decode(copy, n, &out), UV_TXN_BAD_RESERVED);
	/* A disk index no descriptor can have. */
	memcpy(copy, buf, n);
	v = UV_DISKS_MAX;
	memcpy(copy + body + offsetof(struct uv_txn_disk_limits, disk), &v, sizeof(v));
	assert_int_equal(uv_txn_decode(copy, n, &out), UV_TXN_BAD_VALUE);
	/* Too short and too long both disagree with the type's layout. */
	memcpy(copy, buf, n);
	v = (uint32_t)n - 8;
	memcpy(copy + offsetof(struct uv_txn_hdr, length), &v, sizeof(v));
	assert_int_equal(uv_txn_decode(copy, n - 8, &out), UV_TXN_BAD_SIZE);
	/* The encoder will not write what the decoder would refuse. */
	tx_limits(&t, P_CMD, UV_ROLE_COMMAND, 12, UV_DISKS_MAX, 10, 0);
	assert_int_equal(uv_txn_encode(&t, buf, sizeof(buf), NULL), -EINVAL);
}

static void test_response_names_the_request_type(void **state)
{
	unsigned char buf[256];
	struct uv_txn req, resp, out;
	size_t n;

	(void)state;
	tx_limits(&req, P_CMD, UV_ROLE_COMMAND, 12, 0, 10, 0);
	uv_txn_response_init(&resp, &req.hdr, UV_TXN_NO_SUCH_DEVICE, 0);
	n = encode(&resp, buf, sizeof(buf));
	assert_int_equal(uv_txn_decode(buf, n, &out), UV_TXN_OK);
	assert_int_equal(out.u.response.request_type, UV_TXN_SET_DISK_LIMITS);
}

static void test_who_may_send_it(void **state)
{
	(void)state;
	for (int up = 0; up < 2; up++) {
		assert_int_equal(uv_txn_scope(UV_ROLE_COMMAND, UV_TXN_SET_DISK_LIMITS, up),
		                 UV_SCOPE_ANY);
		assert_int_equal(uv_txn_scope(UV_ROLE_ULTRAVISOR, UV_TXN_SET_DISK_LIMITS, up),
		                 UV_SCOPE_ANY);
		assert_int_equal(uv_txn_scope(UV_ROLE_BOOT, UV_TXN_SET_DISK_LIMITS, up),
		                 UV_SCOPE_NONE);
		assert_int_equal(uv_txn_scope(UV_ROLE_OPERATIONS, UV_TXN_SET_DISK_LIMITS, up),
		                 UV_SCOPE_NONE);
		assert_int_equal(uv_txn_scope(UV_ROLE_IO, UV_TXN_SET_DISK_LIMITS, up),
		                 UV_SCOPE_NONE);
		assert_int_equal(uv_txn_scope(UV_ROLE_MONITOR, UV_TXN_SET_DISK_LIMITS, up),
		                 UV_SCOPE_NONE);
		assert_int_equal(uv_txn_scope(UV_ROLE_GUEST, UV_TXN_SET_DISK_LIMITS, up),
		                 UV_SCOPE_NONE);
	}
}

/* A database with the system partitions and guest 10 defined with two disks, the second limited
 * to 100 requests a second. */
static void db_with_guest(struct tdb *T)
{
	struct uv_resdb_result res;
	struct uv_partition_desc *d;
	struct uv_txn t;

	assert_int_equal(tdb_open(T, 256 * MiB, 64, 8, 8), 0);
	/* As the ultravisor brings them up: boot, command (running), I/O. */
	for (uint32_t p = P_BOOT; p <= P_IO; p++) {
		tx_create(&t, 0, UV_ROLE_ULTRAVISOR, p, 0, 0);
		assert_int_equal(uv_resdb_apply(T->db, &t, &res), UV_TXN_OK);
	}
	tx_state(&t, 0, UV_ROLE_ULTRAVISOR, P_CMD, UV_STATE_RUNNING);
	assert_int_equal(uv_resdb_apply(T->db, &t, &res), UV_TXN_OK);
	tx_create(&t, P_CMD, UV_ROLE_COMMAND, 10, 0, 0);
	d = &t.u.create;
	d->n_disk = 2;
	snprintf(d->disk[0].image, UV_PATH_MAX, "/img/a.raw");
	snprintf(d->disk[1].image, UV_PATH_MAX, "/img/b.raw");
	d->disk[1].flags = UV_DISK_F_DIRECT;
	d->disk_limit[1].iops = 100;
	assert_int_equal(uv_resdb_apply(T->db, &t, &res), UV_TXN_OK);
}

static void db_copy(const struct tdb *from, struct tdb *to)
{
	size_t n = uv_resdb_save_size(from->db);
	void *buf = malloc(n);

	assert_non_null(buf);
	assert_int_equal(uv_resdb_save(from->db, buf, n), (ssize_t)n);
	assert_int_equal(tdb_open(to, from->cfg.pool_bytes, from->cfg.max_partitions,
	                          from->cfg.max_channels, from->cfg.max_devices),
	                 0);
	assert_int_equal(uv_resdb_load(to->db, buf, n), 0);
	free(buf);
}

static void test_apply_changes_the_stored_descriptor(void **state)
{
	struct uv_resdb_result res;
	const struct uv_partition_desc *d;
	struct tdb T, snap;
	struct uv_txn t;

	(void)state;
	db_with_guest(&T);
	tx_limits(&t, P_CMD, UV_ROLE_COMMAND, 10, 1, 400, 2 * MiB);
	assert_int_equal(uv_resdb_apply(T.db, &t, &res), UV_TXN_OK);
	d = uv_resdb_desc(T.db, 10);
	assert_int_equal(d->disk_limit[1].iops, 400);
	assert_int_equal(d->disk_limit[1].bytes_per_sec, 2 * MiB);
	assert_int_equal(d->disk_limit[0].iops, 0); /* the other disk is untouched */
	/* The response carries the limit it replaced. */
	assert_int_equal(res.value[0], 0);
	assert_int_equal(res.value[1], 100);
	assert_int_equal(uv_resdb_check(T.db), 0);

	/* A snapshot of the database (what a checkpoint writes) holds it. */
	db_copy(&T, &snap);
	assert_true(uv_resdb_equal(T.db, snap.db));
	assert_int_equal(uv_resdb_desc(snap.db, 10)->disk_limit[1].iops, 400);
	assert_int_equal(uv_resdb_desc(snap.db, 10)->disk_limit[1].bytes_per_sec, 2 * MiB);
	tdb_close(&snap);

	/* Undo (a rolled-back pending transaction) puts the old limit back exactly. */
	assert_int_equal(uv_resdb_undo(T.db, &t, &res), UV_TXN_OK);
	assert_int_equal(d->disk_limit[1].iops, 100);
	assert_int_equal(d->disk_limit[1].bytes_per_sec, 0);
	assert_int_equal(uv_resdb_check(T.db), 0);
	tdb_close(&T);
}

/* Read and write limits (claim 22) are stored as given, undo brings the whole old limit back
 * (totals and directions), and a total beside a direction of its kind is refused unchanged. */
static void test_directions_stored_and_undone(void **state)
{
	struct uv_resdb_result res1, res2;
	const struct uv_disk_limit first = {.write_bytes_per_sec = 3 * MiB, .read_iops = 40};
	struct uv_partition_desc *d;
	struct uv_txn t1, t2;
	struct tdb T;
	void *before;

	(void)state;
	db_with_guest(&T);
	d = (struct uv_partition_desc *)uv_resdb_desc(T.db, 10);
	tx_limits(&t1, P_CMD, UV_ROLE_COMMAND, 10, 0, 0, 0);
	t1.u.disk_limits.limit = first;
	assert_int_equal(uv_resdb_apply(T.db, &t1, &res1), UV_TXN_OK);
	assert_memory_equal(&d->disk_limit[0], &first, sizeof(first));
	tx_limits(&t2, P_CMD, UV_ROLE_COMMAND, 10, 0, 7, MiB);
	assert_int_equal(uv_resdb_apply(T.db, &t2, &res2), UV_TXN_OK);
	assert_int_equal(d->disk_limit[0].write_bytes_per_sec, 0);
	assert_int_equal(uv_resdb_undo(T.db, &t2, &res2), UV_TXN_OK);
	assert_memory_equal(&d->disk_limit[0], &first, sizeof(first));
	assert_int_equal(uv_resdb_check(T.db), 0);

	before = malloc(T.size);
	assert_non_null(before);
	memcpy(before, T.area, T.size);
	t2.u.disk_limits.limit = (struct uv_disk_limit){.iops = 5, .write_iops = 5};
	assert_int_equal(uv_resdb_apply(T.db, &t2, &res2), UV_TXN_BAD_VALUE);
	t2.u.disk_limits.limit =
	    (struct uv_disk_limit){.bytes_per_sec = 5, .read_bytes_per_sec = 5};
	assert_int_equal(uv_resdb_apply(T.db, &t2, &res2), UV_TXN_BAD_VALUE);
	assert_memory_equal(before, T.area, T.size);
	free(before);
	tdb_close(&T);
}

static void test_refusals_change_nothing(void **state)
{
	struct uv_resdb_result res;
	struct uv_txn t;
	struct tdb T;
	void *before;
	const struct {
		uint32_t sender, role, id, disk, reserved;
		enum uv_txn_reason want;
	} bad[] = {
	    {P_CMD, UV_ROLE_COMMAND, 10, 2, 0, UV_TXN_NO_SUCH_DEVICE}, /* only two disks */
	    {P_CMD, UV_ROLE_COMMAND, 10, UV_DISKS_MAX, 0, UV_TXN_BAD_VALUE},
	    {P_CMD, UV_ROLE_COMMAND, 11, 0, 0, UV_TXN_NO_SUCH_PARTITION},
	    {P_CMD, UV_ROLE_COMMAND, 10, 0, 7, UV_TXN_BAD_RESERVED},
	    {P_IO, UV_ROLE_IO, 10, 0, 0, UV_TXN_NOT_PERMITTED},
	    {P_BOOT, UV_ROLE_BOOT, 10, 0, 0, UV_TXN_NOT_PERMITTED},
	    {10, UV_ROLE_MONITOR, 10, 0, 0, UV_TXN_NOT_PERMITTED},
	    {P_CMD, UV_ROLE_COMMAND, 0, 0, 0, UV_TXN_NOT_PERMITTED}, /* the ultravisor itself */
	};

	(void)state;
	db_with_guest(&T);
	before = malloc(T.size);
	assert_non_null(before);
	memcpy(before, T.area, T.size);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tx_limits(&t, bad[i].sender, (enum uv_role)bad[i].role, bad[i].id, bad[i].disk, 5,
		          5);
		t.u.disk_limits.limit.reserved = bad[i].reserved;
		if (uv_resdb_apply(T.db, &t, &res) != bad[i].want)
			fail_msg("case %zu: %s, expected %s", i, uv_txn_reason_name(res.reason),
			         uv_txn_reason_name(bad[i].want));
		assert_memory_equal(before, T.area, T.size); /* not a byte changed */
	}
	/* A preserved (failed) partition is frozen for its restart, its limits too. */
	assert_int_equal(uv_resdb_partition_failed(T.db, 10), 0);
	tx_limits(&t, P_CMD, UV_ROLE_COMMAND, 10, 0, 5, 5);
	assert_int_equal(uv_resdb_apply(T.db, &t, &res), UV_TXN_BUSY);
	free(before);
	tdb_close(&T);
}

static void write_mounts(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* What define and set-disk-limits refuse before any transaction (docs/io-partition.md,
 * "Changing a limit"): a host without the io controller, an image on a file system without a
 * block device; an image that is not there yet passes, to be checked at start. */
static void test_host_check_before_commit(void **state)
{
	char mounts[] = "/tmp/uvlim-mounts-XXXXXX", shm[] = "/dev/shm/uvlim-XXXXXX", why[480];
	struct statfs fs;
	int fd = mkstemp(mounts), img;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_mounts(mounts, "proc /proc proc rw 0 0\n");
	assert_int_equal(
	    uv_cg_io_enforceable(mounts, "/nonexistent/x.img", "/sys", why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "io controller"));
	write_mounts(mounts, "cgroup /sys/fs/cgroup/blkio cgroup rw,nosuid,blkio 0 0\n");
	assert_int_equal(
	    uv_cg_io_enforceable(mounts, "/nonexistent/x.img", "/sys", why, sizeof(why)), 0);
	img = mkstemp(shm);
	if (img >= 0 && fstatfs(img, &fs) == 0 && fs.f_type == 0x01021994) { /* tmpfs */
		assert_int_equal(uv_cg_io_enforceable(mounts, shm, "/sys", why, sizeof(why)),
		                 -ENODEV);
		assert_non_null(strstr(why, "no block device of its own"));
	}
	if (img >= 0) {
		close(img);
		unlink(shm);
	}
	unlink(mounts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_round_trip_and_summary),
	    cmocka_unit_test(test_record_refusals),
	    cmocka_unit_test(test_response_names_the_request_type),
	    cmocka_unit_test(test_who_may_send_it),
	    cmocka_unit_test(test_apply_changes_the_stored_descriptor),
	    cmocka_unit_test(test_directions_stored_and_undone),
	    cmocka_unit_test(test_refusals_change_nothing),
	    cmocka_unit_test(test_host_check_before_commit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
