/* SPDX-License-Identifier: MIT */
/*
 * The redundant operations partition's pieces (claim 47; docs/ops-ha.md): base64 and the
 * snapshot frame refuse torn and altered input, a snapshot carries every committed change of a
 * store into its standby's (nothing lost), a refused one leaves the standby's store as it was,
 * a pushed snapshot's chunks are taken in order only, and the epoch rules let exactly one of two
 * peers act.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_replica.h"
#include "opsdb.h"
#include "opsdb_replica.h"
#include "tmpdir_testlib.h"

struct fixture {
	char dir[64];
	char a[96], b[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || test_tmpdir_make(f->dir, sizeof(f->dir), "opsrep")) {
		free(f);
		return -1;
	}
	snprintf(f->a, sizeof(f->a), "%s/a.db", f->dir);
	snprintf(f->b, sizeof(f->b), "%s/b.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (test_tmpdir_remove(f->dir))
		return -1;
	free(f);
	return 0;
}

static void test_base64_round_trip_and_strictness(void **state)
{
	static const char *const bad[] = {"QQ",
	                                  "QQ=A",
	                                  "QR==",
	                                  "Q Q=",
	                                  "=AAA",
	                                  "QQ==QUFB",
	                                  "QUF\n",
	                                  "QUJD====",
	                                  "QQ=="
	                                  "="};
	uint8_t in[300], *out = NULL;
	size_t len;
	char *txt;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n += n < 70 ? 1 : 23) {
		assert_int_equal(uv_base64_encode(in, n, &txt), 0);
		assert_int_equal(strlen(txt), (n + 2) / 3 * 4);
		assert_int_equal(uv_base64_decode(txt, strlen(txt), &out, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, in, n);
		free(out);
		free(txt);
	}
	assert_int_equal(uv_base64_decode("QUJD", 4, &out, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "ABC", 3);
	free(out);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = NULL;
		assert_int_equal(uv_base64_decode(bad[i], strlen(bad[i]), &out, &len), -EINVAL);
		assert_null(out);
	}
}

static void test_frame_round_trip(void **state)
{
	uint8_t image[1000];
	struct uv_ops_snap s = {0};
	char *txt, err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(image); i++)
		image[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(uv_ops_snap_encode(7, 42, image, sizeof(image), &txt), 0);
	assert_int_equal(uv_ops_snap_decode(txt, strlen(txt), &s, err, sizeof(err)), 0);
	assert_int_equal(s.epoch, 7);
	assert_int_equal(s.seq, 42);
	assert_int_equal(s.len, sizeof(image));
	assert_memory_equal(s.image, image, sizeof(image));
	free(s.image);
	free(txt);
	assert_int_equal(uv_ops_snap_encode(1, 1, image, UV_OPS_SNAP_IMAGE_MAX + 1, &txt),
	                 -EMSGSIZE);
}

/* Re-encodes a raw frame as base64 and decodes it: the error, with out left untouched. */
static int decode_raw(const uint8_t *frame, size_t len, char *err, size_t errlen)
{
	struct uv_ops_snap s = {.epoch = 99};
	char *txt;
	int r;

	assert_int_equal(uv_base64_encode(frame, len, &txt), 0);
	r = uv_ops_snap_decode(txt, strlen(txt), &s, err, errlen);
	free(txt);
	if (!r)
		free(s.image);
	else
		assert_int_equal(s.epoch, 99);
	return r;
}

static void test_torn_and_altered_frames_are_refused(void **state)
{
	uint8_t image[200], *frame;
	struct uv_ops_snap_hdr h;
	size_t flen;
	char *txt, err[160];

	(void)state;
	memset(image, 0xab, sizeof(image));
	assert_int_equal(uv_ops_snap_encode(3, 9, image, sizeof(image), &txt), 0);
	assert_int_equal(uv_base64_decode(txt, strlen(txt), &frame, &flen), 0);
	free(txt);
	assert_int_equal(flen, sizeof(h) + sizeof(image));
	assert_int_equal(decode_raw(frame, flen, err, sizeof(err)), 0);
	/* Every shorter frame: torn. */
	for (size_t n = 0; n < flen; n++)
		assert_int_not_equal(decode_raw(frame, n, err, sizeof(err)), 0);
	assert_int_equal(decode_raw(frame, 10, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "torn"));
	/* Every single-bit change anywhere: caught by a check or the checksum. */
	for (size_t i = 0; i < flen; i++) {
		frame[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(decode_raw(frame, flen, err, sizeof(err)), 0);
		frame[i] ^= (uint8_t)(1u << (i % 8));
	}
	/* A length field past the bound is refused before anything is allocated for it. */
	memcpy(&h, frame, sizeof(h));
	h.length = UV_OPS_SNAP_IMAGE_MAX + 1;
	memcpy(frame, &h, sizeof(h));
	assert_int_equal(decode_raw(frame, flen, err, sizeof(err)), -EMSGSIZE);
	free(frame);
	assert_int_equal(
	    uv_ops_snap_decode("not base64!", 11, &(struct uv_ops_snap){0}, err, sizeof(err)),
	    -EINVAL);
}

static struct opsdb *open_store(const char *path)
{
	struct opsdb *db = NULL;
	char err[256] = "";

	if (opsdb_open(path, &db, err, sizeof(err)))
		fail_msg("opsdb_open: %s", err);
	assert_int_equal(opsdb_replica_prepare(db), 0);
	return db;
}

static uint64_t seq_of(struct opsdb *db)
{
	uint64_t e, s;

	assert_int_equal(opsdb_replica_get(db, &e, &s), 0);
	return s;
}

/* The active's writes: a domain, two partitions, a host, a schedule. */
static void fill(struct opsdb *db)
{
	struct ops_domain d = {.name = "batch", .memory_mib = 512, .cpu_milli = 1500};
	struct ops_host h = {.name = "hosta", .address = "tls://10.0.0.1:7443", .zone = "z1"};
	struct ops_part p = {.name = "web1",
	                     .domain = "batch",
	                     .autostart = true,
	                     .memory_mib = 128,
	                     .vcpus = 1,
	                     .definition = "{\"name\":\"web1\"}"};
	struct ops_sched s = {.target_kind = OPS_TARGET_PARTITION,
	                      .target = "web1",
	                      .from_min = 60,
	                      .to_min = 120,
	                      .value = 250};
	uint64_t before = seq_of(db);

	assert_int_equal(opsdb_domain_add(db, &d), 0);
	assert_true(seq_of(db) > before);
	before = seq_of(db);
	assert_int_equal(opsdb_host_add(db, &h), 0);
	assert_int_equal(opsdb_part_add(db, &p), 0);
	assert_int_equal(opsdb_part_set_host(db, "web1", "hosta"), 0);
	snprintf(p.name, sizeof(p.name), "web2");
	p.definition = "{\"name\":\"web2\"}";
	assert_int_equal(opsdb_part_add(db, &p), 0);
	assert_int_equal(opsdb_sched_add(db, &s), 0);
	assert_true(seq_of(db) >= before + 5);
}

/* What b holds, as one comparable text. */
static void dump(struct opsdb *db, char *buf, size_t len)
{
	struct ops_part *p = NULL;
	struct ops_sched *s = NULL;
	struct ops_host *h = NULL;
	size_t np = 0, ns = 0, nh = 0, o = 0;

	assert_int_equal(opsdb_part_list(db, &p, &np), 0);
	assert_int_equal(opsdb_sched_list(db, &s, &ns), 0);
	assert_int_equal(opsdb_host_list(db, &h, &nh), 0);
	for (size_t i = 0; i < np; i++)
		o += (size_t)snprintf(buf + o, len - o, "p %s %s %s %s;", p[i].name, p[i].domain,
		                      p[i].definition, p[i].host);
	for (size_t i = 0; i < ns; i++)
		o += (size_t)snprintf(buf + o, len - o, "s %s %u;", s[i].target, s[i].value);
	for (size_t i = 0; i < nh; i++)
		o += (size_t)snprintf(buf + o, len - o, "h %s %s;", h[i].name, h[i].address);
	ops_parts_free(p, np);
	free(s);
	free(h);
}

/* a's snapshot, through the frame and back, as the standby receives it. */
static struct uv_ops_snap snapshot(struct opsdb *a)
{
	struct uv_ops_snap s = {0};
	uint8_t *image = NULL;
	uint64_t e, q;
	size_t len;
	char *txt, err[160];

	assert_int_equal(opsdb_replica_export(a, &image, &len, &e, &q), 0);
	assert_int_equal(uv_ops_snap_encode(e, q, image, len, &txt), 0);
	assert_int_equal(uv_ops_snap_decode(txt, strlen(txt), &s, err, sizeof(err)), 0);
	free(image);
	free(txt);
	return s;
}

static void import_ok(struct opsdb *b, const struct uv_ops_snap *s)
{
	char err[256] = "";

	if (opsdb_replica_import(b, s, err, sizeof(err)))
		fail_msg("import: %s", err);
}

static void test_snapshot_carries_every_change(void **state)
{
	struct fixture *f = *state;
	struct opsdb *a = open_store(f->a), *b = open_store(f->b);
	char da[2048], db_[2048];
	struct uv_ops_snap s;
	uint64_t e, q;

	fill(a);
	assert_int_equal(opsdb_replica_set_epoch(a, 4), 0);
	s = snapshot(a);
	assert_int_equal(s.epoch, 4);
	import_ok(b, &s);
	free(s.image);
	dump(a, da, sizeof(da));
	dump(b, db_, sizeof(db_));
	assert_string_equal(da, db_);
	assert_int_equal(opsdb_replica_get(b, &e, &q), 0);
	assert_int_equal(e, 4);
	assert_int_equal(q, seq_of(a));
	/* A later change (a delete) reaches b the same way. */
	assert_int_equal(opsdb_part_del(a, "web2"), 0);
	s = snapshot(a);
	import_ok(b, &s);
	free(s.image);
	dump(b, db_, sizeof(db_));
	assert_null(strstr(db_, "web2"));
	/* b's copy survives a reopen as a store in its own right, still in WAL mode, and its
	 * triggers count its own changes once it is the active one. */
	opsdb_close(b);
	b = open_store(f->b);
	dump(b, db_, sizeof(db_));
	assert_non_null(strstr(db_, "p web1 batch"));
	q = seq_of(b);
	assert_int_equal(opsdb_domain_add(b, &(struct ops_domain){.name = "more"}), 0);
	assert_true(seq_of(b) > q);
	opsdb_close(a);
	opsdb_close(b);
	{
		sqlite3 *raw;
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_open(f->b, &raw), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL), 0);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(raw);
	}
}

/* s's image changed by sql, as a peer could send it (the replica row left as it is). */
static struct uv_ops_snap mutate(const struct uv_ops_snap *s, const char *sql)
{
	struct uv_ops_snap out = *s;
	unsigned char *buf = sqlite3_malloc64(s->len), *ser;
	sqlite3_int64 size = 0;
	sqlite3 *raw;

	assert_non_null(buf);
	memcpy(buf, s->image, s->len);
	assert_int_equal(sqlite3_open(":memory:", &raw), SQLITE_OK);
	assert_int_equal(
	    sqlite3_deserialize(raw, "main", buf, (sqlite3_int64)s->len, (sqlite3_int64)s->len,
	                        SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE),
	    SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_non_null(ser = sqlite3_serialize(raw, "main", &size, 0));
	assert_non_null(out.image = malloc((size_t)size));
	memcpy(out.image, ser, (size_t)size);
	out.len = (size_t)size;
	sqlite3_free(ser);
	sqlite3_close(raw);
	return out;
}

/* A snapshot that passes the frame checks but whose image is wrong: refused, b unchanged. */
static void expect_refused(struct opsdb *b, const struct uv_ops_snap *s, const char *why)
{
	char before[2048], after[2048], err[256] = "";

	dump(b, before, sizeof(before));
	assert_int_not_equal(opsdb_replica_import(b, s, err, sizeof(err)), 0);
	if (!strstr(err, why))
		fail_msg("refused with \"%s\", expected \"%s\"", err, why);
	dump(b, after, sizeof(after));
	assert_string_equal(before, after);
}

static void test_bad_images_leave_the_store_alone(void **state)
{
	struct fixture *f = *state;
	struct opsdb *a = open_store(f->a), *b = open_store(f->b);
	struct uv_ops_snap s, bad;
	uint8_t junk[4096];

	fill(a);
	s = snapshot(a);
	import_ok(b, &s);
	assert_int_equal(opsdb_part_del(a, "web2"), 0); /* a newer state b must not get half of */

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	bad = (struct uv_ops_snap){
	    .epoch = s.epoch, .seq = s.seq, .image = junk, .len = sizeof(junk)};
	expect_refused(b, &bad, "snapshot");
	/* Torn images: every page boundary and a few odd lengths. */
	for (size_t n = 0; n < s.len; n += n % 4096 ? 4096 - n % 4096 : 1000) {
		bad = s;
		bad.len = n;
		expect_refused(b, &bad, "snapshot");
	}
	/* The header's counter must be the image's. */
	bad = s;
	bad.seq = s.seq + 1;
	expect_refused(b, &bad, "does not match");
	free(s.image);

	/* A store with an object our code never makes (a trigger that would run on our
	 * writes), and one of another schema version. */
	s = snapshot(a);
	bad = mutate(&s, "CREATE TRIGGER evil AFTER INSERT ON domains BEGIN "
	                 "DELETE FROM partitions; END;");
	expect_refused(b, &bad, "object we do not make");
	free(bad.image);
	bad = mutate(&s, "UPDATE schema_version SET version = 9");
	expect_refused(b, &bad, "schema version");
	free(bad.image);
	free(s.image);
	opsdb_close(a);
	opsdb_close(b);
}

static void test_chunks_in_order_only(void **state)
{
	struct uv_ops_chunks c = {0};
	const char *text = "QUJDREVGR0g="; /* 12 bytes, sent as 5 + 5 + 2 */

	(void)state;
	assert_int_equal(uv_ops_chunks_add(&c, 2, 9, 12, 0, text, 5), 0);
	assert_int_equal(uv_ops_chunks_add(&c, 2, 9, 12, 5, text + 5, 5), 0);
	assert_int_equal(uv_ops_chunks_add(&c, 2, 9, 12, 10, text + 10, 2), 1);
	assert_string_equal(c.text, text);
	/* Out of order, a chunk of another snapshot, past the end, empty, a start over the
	 * bound: each refused, and what was gathered is dropped (the next must start at 0). */
	struct {
		uint64_t epoch, seq, total, off;
		size_t n;
	} bad[] = {
	    {2, 9, 12, 10, 2}, /* skips 5..10 */
	    {3, 9, 12, 5, 5},  /* another epoch */
	    {2, 8, 12, 5, 5},  /* another counter */
	    {2, 9, 13, 5, 5},  /* another length */
	    {2, 9, 12, 5, 8},  /* past the end */
	    {2, 9, 12, 5, 0},  /* empty */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(uv_ops_chunks_add(&c, 2, 9, 12, 0, text, 5), 0);
		assert_int_equal(uv_ops_chunks_add(&c, bad[i].epoch, bad[i].seq, bad[i].total,
		                                   bad[i].off, text + 5, bad[i].n),
		                 -EINVAL);
		assert_null(c.text);
		assert_int_equal(uv_ops_chunks_add(&c, 2, 9, 12, 5, text + 5, 5), -EINVAL);
	}
	assert_int_equal(
	    uv_ops_chunks_add(&c, 1, 1, (uint64_t)UV_OPS_SNAP_IMAGE_MAX * 2, 0, text, 4),
	    -EMSGSIZE);
	assert_null(c.text);
	uv_ops_chunks_reset(&c);
}

static void test_epoch_rules(void **state)
{
	struct uv_ops_peer_view me = {UV_OPS_STANDBY, 3, 10, "a"}, p = {UV_OPS_ACTIVE, 3, 10, "b"};

	(void)state;
	/* A standby follows an active peer, and takes over only after dead_ms of silence. */
	assert_int_equal(uv_ops_decide(&me, &p, 0, 3000), UV_OPS_STAY);
	assert_int_equal(uv_ops_decide(&me, NULL, 2999, 3000), UV_OPS_STAY);
	assert_int_equal(uv_ops_decide(&me, NULL, 3000, 3000), UV_OPS_TAKE_OVER);
	/* An active one never steps down for silence: it may be the only one left. */
	me.role = UV_OPS_ACTIVE;
	assert_int_equal(uv_ops_decide(&me, NULL, 1000000, 3000), UV_OPS_STAY);
	/* An active one that returns to find a newer epoch steps down, standby or active. */
	p.epoch = 4;
	assert_int_equal(uv_ops_decide(&me, &p, 0, 3000), UV_OPS_STEP_DOWN);
	p.role = UV_OPS_STANDBY;
	assert_int_equal(uv_ops_decide(&me, &p, 0, 3000), UV_OPS_STEP_DOWN);
	/* ... and keeps acting over a standby of an older or the same epoch. */
	p.epoch = 3;
	assert_int_equal(uv_ops_decide(&me, &p, 0, 3000), UV_OPS_STAY);
	/* Two actives of one epoch: exactly one steps down. */
	p.role = UV_OPS_ACTIVE;
	struct uv_ops_peer_view pa = p, ma = me;
	assert_int_equal(uv_ops_decide(&ma, &pa, 0, 3000), UV_OPS_STAY);
	assert_int_equal(uv_ops_decide(&pa, &ma, 0, 3000), UV_OPS_STEP_DOWN);
	/* Two standbys: exactly one takes over, by epoch, then changes, then name. */
	struct uv_ops_peer_view x = {UV_OPS_STANDBY, 5, 1, "z"}, y = {UV_OPS_STANDBY, 4, 99, "a"};
	for (int round = 0; round < 3; round++) {
		int tx = uv_ops_decide(&x, &y, 0, 3000) == UV_OPS_TAKE_OVER;
		int ty = uv_ops_decide(&y, &x, 0, 3000) == UV_OPS_TAKE_OVER;

		assert_int_equal(tx + ty, 1);
		assert_true(round == 0 ? tx : round == 1 ? tx : ty);
		if (round == 0) {
			y.epoch = 5; /* same epoch: the store with more changes */
			x.seq = 100;
		} else if (round == 1) {
			x.seq = y.seq; /* and then the lower name: y ("a") */
		}
	}
	/* A standby never takes over from an answering active, whatever the epochs. */
	x.role = UV_OPS_STANDBY;
	y.role = UV_OPS_ACTIVE;
	x.epoch = 9;
	assert_int_equal(uv_ops_decide(&x, &y, 1000000, 3000), UV_OPS_STAY);
	assert_int_equal(uv_ops_next_epoch(3, 7), 8);
	assert_int_equal(uv_ops_next_epoch(9, 2), 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64_round_trip_and_strictness),
	    cmocka_unit_test(test_frame_round_trip),
	    cmocka_unit_test(test_torn_and_altered_frames_are_refused),
	    cmocka_unit_test_setup_teardown(test_snapshot_carries_every_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_images_leave_the_store_alone, setup, teardown),
	    cmocka_unit_test(test_chunks_in_order_only),
	    cmocka_unit_test(test_epoch_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
