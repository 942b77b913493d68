/* SPDX-License-Identifier: MIT */
/* The operations partition's SQLite store: what is written is read back after a reopen, the
 * schema version is checked, a file that is not a store is refused with a sentence naming it,
 * and domains keep their partitions and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops_policy.h"
#include "opsdb.h"
#include "tmpdir_testlib.h"

struct fixture {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || test_tmpdir_make(f->dir, sizeof(f->dir), "opsdb")) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/ops.db", f->dir);
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

static struct opsdb *open_ok(const char *path)
{
	struct opsdb *db = NULL;
	char err[256] = "";

	if (opsdb_open(path, &db, err, sizeof(err)))
		fail_msg("opsdb_open: %s", err);
	return db;
}

static struct ops_part part(const char *name, const char *domain, uint32_t mib)
{
	struct ops_part p = {.autostart = true,
	                     .memory_mib = mib,
	                     .vcpus = 2,
	                     .cpu_milli = 500,
	                     .definition = "{\"name\":\"x\"}",
	                     .base_dir = "/defs"};

	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.domain, sizeof(p.domain), "%s", domain);
	return p;
}

static void test_round_trip_survives_reopen(void **state)
{
	struct fixture *f = *state;
	struct opsdb *db = open_ok(f->path);
	struct ops_domain d = {.name = "batch", .memory_mib = 1024, .cpu_milli = 1500}, got;
	struct ops_part p = part("web1", "batch", 256), q, *all = NULL;
	struct ops_sched s = {.target_kind = OPS_TARGET_PARTITION,
	                      .setting = OPS_SET_CPU_SHARE,
	                      .from_min = 22 * 60,
	                      .to_min = 6 * 60,
	                      .target = "web1",
	                      .value = 250},
			 *ss = NULL;
	size_t n = 0;

	assert_int_equal(opsdb_domain_add(db, &d), 0);
	assert_int_equal(opsdb_part_add(db, &p), 0);
	assert_int_equal(opsdb_sched_add(db, &s), 0);
	assert_true(s.id > 0);
	opsdb_close(db);

	db = open_ok(f->path);
	assert_int_equal(opsdb_domain_get(db, "batch", &got), 0);
	assert_string_equal(got.name, "batch");
	assert_int_equal(got.memory_mib, 1024);
	assert_int_equal(got.cpu_milli, 1500);
	assert_int_equal(opsdb_part_get(db, "web1", &q), 0);
	assert_string_equal(q.domain, "batch");
	assert_true(q.autostart);
	assert_int_equal(q.memory_mib, 256);
	assert_int_equal(q.vcpus, 2);
	assert_int_equal(q.cpu_milli, 500);
	assert_string_equal(q.definition, "{\"name\":\"x\"}");
	assert_string_equal(q.base_dir, "/defs");
	ops_part_clear(&q);
	assert_int_equal(opsdb_part_list(db, &all, &n), 0);
	assert_int_equal(n, 1);
	ops_parts_free(all, n);
	assert_int_equal(opsdb_sched_list(db, &ss, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ss[0].id, s.id);
	assert_int_equal(ss[0].from_min, 22 * 60);
	assert_int_equal(ss[0].to_min, 6 * 60);
	assert_int_equal(ss[0].value, 250);
	assert_string_equal(ss[0].target, "web1");
	free(ss);

	/* Undefining a partition takes its schedules with it. */
	assert_int_equal(opsdb_part_del(db, "web1"), 0);
	assert_int_equal(opsdb_part_get(db, "web1", &q), -ENOENT);
	assert_int_equal(opsdb_sched_list(db, &ss, &n), 0);
	assert_int_equal(n, 0);
	free(ss);
	assert_int_equal(opsdb_part_del(db, "web1"), -ENOENT);
	opsdb_close(db);
}

static void test_names_are_unique_and_targets_must_exist(void **state)
{
	struct fixture *f = *state;
	struct opsdb *db = open_ok(f->path);
	struct ops_domain d = {.name = "a"};
	struct ops_part p = part("p", "", 64), orphan = part("q", "nowhere", 64);
	struct ops_sched s = {.target_kind = OPS_TARGET_DOMAIN, .target = "ghost", .to_min = 60};

	assert_int_equal(opsdb_domain_add(db, &d), 0);
	assert_int_equal(opsdb_domain_add(db, &d), -EEXIST);
	assert_int_equal(opsdb_part_add(db, &p), 0);
	assert_int_equal(opsdb_part_add(db, &p), -EEXIST);
	assert_int_equal(opsdb_part_add(db, &orphan), -ENOENT);
	assert_int_equal(opsdb_sched_add(db, &s), -ENOENT);
	assert_int_equal(opsdb_sched_del(db, 42), -ENOENT);
	opsdb_close(db);
}

/* A group of writes in one transaction is all or nothing. */
static void test_rollback_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct opsdb *db = open_ok(f->path);
	struct ops_part p = part("p", "", 64), q;

	assert_int_equal(opsdb_begin(db), 0);
	assert_int_equal(opsdb_part_add(db, &p), 0);
	opsdb_rollback(db);
	assert_int_equal(opsdb_part_get(db, "p", &q), -ENOENT);
	opsdb_close(db);
}

static void test_domain_keeps_its_partitions(void **state)
{
	struct fixture *f = *state;
	struct opsdb *db = open_ok(f->path);
	struct ops_domain d = {.name = "batch", .memory_mib = 512}, got;
	struct ops_part p = part("p", "batch", 256);
	struct ops_sched s = {.target_kind = OPS_TARGET_DOMAIN,
	                      .setting = OPS_SET_MEMORY_MIB,
	                      .target = "batch",
	                      .from_min = 0,
	                      .to_min = 60,
	                      .value = 128},
			 *ss = NULL;
	size_t n = 0;

	assert_int_equal(opsdb_domain_add(db, &d), 0);
	assert_int_equal(opsdb_part_add(db, &p), 0);
	assert_int_equal(opsdb_sched_add(db, &s), 0);
	assert_int_equal(opsdb_domain_del(db, "batch"), -EBUSY);
	assert_int_equal(opsdb_domain_get(db, "batch", &got), 0);
	assert_int_equal(opsdb_part_del(db, "p"), 0);
	assert_int_equal(opsdb_domain_del(db, "batch"), 0);
	assert_int_equal(opsdb_domain_get(db, "batch", &got), -ENOENT);
	assert_int_equal(opsdb_sched_list(db, &ss, &n), 0);
	assert_int_equal(n, 0); /* its schedules went with it */
	free(ss);
	assert_int_equal(opsdb_domain_del(db, "batch"), -ENOENT);
	opsdb_close(db);
}

static void expect_refused(const char *path, int want, const char *needle)
{
	struct opsdb *db = NULL;
	char err[256] = "";
	int r = opsdb_open(path, &db, err, sizeof(err));

	assert_int_equal(r, want);
	assert_null(db);
	if (!strstr(err, needle) || !strstr(err, path))
		fail_msg("error \"%s\" does not name %s and \"%s\"", err, path, needle);
}

static void write_file(const char *path, const void *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

static void test_garbage_file_is_refused(void **state)
{
	struct fixture *f = *state;
	char junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 131 + 7);
	write_file(f->path, junk, sizeof(junk));
	expect_refused(f->path, -EBADMSG, "not an ultra-ops store");
}

/* A valid SQLite file, but someone else's. */
static void test_foreign_database_is_refused(void **state)
{
	struct fixture *f = *state;
	sqlite3 *s;

	assert_int_equal(sqlite3_open(f->path, &s), SQLITE_OK);
	assert_int_equal(sqlite3_exec(s, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(s);
	expect_refused(f->path, -EBADMSG, "no schema version");
}

static void test_other_schema_version_is_refused(void **state)
{
	struct fixture *f = *state;
	struct opsdb *db = open_ok(f->path);
	sqlite3 *s;

	opsdb_close(db);
	assert_int_equal(sqlite3_open(f->path, &s), SQLITE_OK);
	assert_int_equal(sqlite3_exec(s, "UPDATE schema_version SET version = 7", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(s);
	expect_refused(f->path, -EPROTO, "schema version 7");
}

/* A store cut short (a torn copy) is refused, not half read. */
static void test_truncated_store_is_refused(void **state)
{
	struct fixture *f = *state;
	struct opsdb *db = open_ok(f->path);
	char big[3000];
	sqlite3 *s;

	for (int i = 0; i < 40; i++) {
		struct ops_part p = part("", "", 64);

		memset(big, 'a' + i % 26, sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		snprintf(p.name, sizeof(p.name), "p%d", i);
		p.definition = big;
		assert_int_equal(opsdb_part_add(db, &p), 0);
	}
	opsdb_close(db);
	/* Fold the WAL into the main file, then cut it in the middle. */
	assert_int_equal(sqlite3_open(f->path, &s), SQLITE_OK);
	sqlite3_exec(s, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE", NULL, NULL,
	             NULL);
	sqlite3_close(s);
	assert_int_equal(truncate(f->path, 40 * 1024), 0);
	expect_refused(f->path, -EBADMSG, "");
}

/* A copy of the version-1 store that the store code before version 2 wrote
 * (tests/fixtures/opsdb-v1/make-fixture.sh), at f->path. */
static void copy_v1_fixture(const struct fixture *f)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "cp tests/fixtures/opsdb-v1/ops-v1.db %s", f->path);
	assert_int_equal(system(cmd), 0);
}

static long long schema_version(const char *path)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;
	sqlite3 *s;

	assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
	if (sqlite3_prepare_v2(s, "SELECT version FROM schema_version", -1, &st, NULL) ==
	        SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(s);
	return v;
}

/* Opening a version-1 store upgrades it to version 2 and loses nothing: every domain, partition
 * (with its definition, base directory, domain and autostart) and schedule is read back, the
 * partitions have no zone and no host, and the new tables work. */
static void test_v1_store_is_upgraded(void **state)
{
	struct fixture *f = *state;
	struct ops_domain *d = NULL;
	struct ops_part *p = NULL;
	struct ops_sched *s = NULL;
	struct ops_host h = {.name = "hostA", .address = "/run/a/command.sock", .zone = "z1"};
	size_t nd = 0, np = 0, ns = 0;
	struct opsdb *db;

	copy_v1_fixture(f);
	assert_int_equal(schema_version(f->path), 1);
	db = open_ok(f->path);
	assert_int_equal(schema_version(f->path), 2);
	assert_int_equal(opsdb_domain_list(db, &d, &nd), 0);
	assert_int_equal(nd, 2);
	assert_string_equal(d[0].name, "batch");
	assert_int_equal(d[0].memory_mib, 300);
	assert_int_equal(d[0].cpu_milli, 1000);
	assert_string_equal(d[1].name, "web");
	assert_int_equal(d[1].cpu_milli, 2500);
	assert_int_equal(opsdb_part_list(db, &p, &np), 0);
	assert_int_equal(np, 3);
	assert_string_equal(p[0].name, "opsg");
	assert_string_equal(p[0].domain, "batch");
	assert_true(p[0].autostart);
	assert_int_equal(p[0].memory_mib, 160);
	assert_int_equal(p[0].cpu_milli, 500);
	assert_non_null(strstr(p[0].definition, "\"memory_mib\":160"));
	assert_null(p[0].base_dir);
	assert_string_equal(p[1].name, "plain");
	assert_string_equal(p[1].domain, "");
	assert_string_equal(p[2].name, "web1");
	assert_string_equal(p[2].base_dir, "/srv/defs");
	assert_int_equal(p[2].vcpus, 2);
	for (size_t i = 0; i < np; i++) {
		assert_string_equal(p[i].zone, "");
		assert_string_equal(p[i].host, "");
	}
	assert_int_equal(opsdb_sched_list(db, &s, &ns), 0);
	assert_int_equal(ns, 2);
	assert_string_equal(s[0].target, "opsg");
	assert_int_equal(s[0].value, 250);
	assert_int_equal(s[1].target_kind, OPS_TARGET_DOMAIN);
	assert_int_equal(s[1].from_min, 1320);
	/* The upgraded store takes hosts and placements. */
	assert_int_equal(opsdb_host_add(db, &h), 0);
	assert_int_equal(opsdb_part_set_host(db, "web1", "hostA"), 0);
	opsdb_close(db);
	ops_parts_free(p, np);
	free(d);
	free(s);
	/* Reopening a version-2 store changes nothing. */
	db = open_ok(f->path);
	assert_int_equal(opsdb_part_list(db, &p, &np), 0);
	assert_int_equal(np, 3);
	assert_string_equal(p[2].host, "hostA");
	ops_parts_free(p, np);
	opsdb_close(db);
}

/* The upgrade is one transaction: a version-1 store it cannot finish stays version 1. */
static void test_failed_upgrade_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct opsdb *db = NULL;
	char err[256] = "";
	sqlite3 *s;

	copy_v1_fixture(f);
	/* A hosts table already there makes the upgrade's CREATE TABLE fail half way. */
	assert_int_equal(sqlite3_open(f->path, &s), SQLITE_OK);
	assert_int_equal(sqlite3_exec(s, "CREATE TABLE hosts (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(s);
	assert_int_not_equal(opsdb_open(f->path, &db, err, sizeof(err)), 0);
	assert_null(db);
	assert_non_null(strstr(err, "upgrading the store from version 1"));
	assert_int_equal(schema_version(f->path), 1);
	assert_int_equal(sqlite3_open(f->path, &s), SQLITE_OK);
	/* The partitions table did not gain a column. */
	assert_int_not_equal(sqlite3_exec(s, "SELECT zone FROM partitions", NULL, NULL, NULL),
	                     SQLITE_OK);
	sqlite3_close(s);
}

/* Hosts: unique names and addresses, a partition may only be placed on a known host, a host
 * with partitions on it stays, and zone and location round-trip. */
static void test_host_rules(void **state)
{
	struct fixture *f = *state;
	struct opsdb *db = open_ok(f->path);
	struct ops_host a = {.name = "hostA",
	                     .address = "/run/a/command.sock",
	                     .zone = "z1",
	                     .location = "rack 4, room 2"},
			b = {.name = "hostB", .address = "tls://10.0.0.2:7000"}, got, *all = NULL;
	struct ops_part p = part("web1", "", 256), q;
	size_t n = 0;

	assert_int_equal(opsdb_host_add(db, &a), 0);
	assert_int_equal(opsdb_host_add(db, &b), 0);
	struct ops_host dup_name = b, dup_addr = b;
	snprintf(dup_name.address, sizeof(dup_name.address), "/elsewhere");
	snprintf(dup_name.name, sizeof(dup_name.name), "hostA");
	assert_int_equal(opsdb_host_add(db, &dup_name), -EEXIST);
	snprintf(dup_addr.name, sizeof(dup_addr.name), "hostC");
	assert_int_equal(opsdb_host_add(db, &dup_addr), -EEXIST);
	assert_int_equal(opsdb_host_get(db, "hostA", &got), 0);
	assert_string_equal(got.zone, "z1");
	assert_string_equal(got.location, "rack 4, room 2");
	assert_int_equal(opsdb_host_get(db, "hostC", &got), -ENOENT);

	snprintf(p.zone, sizeof(p.zone), "z1");
	snprintf(p.host, sizeof(p.host), "nowhere");
	assert_int_not_equal(opsdb_part_add(db, &p), 0);
	snprintf(p.host, sizeof(p.host), "hostA");
	assert_int_equal(opsdb_part_add(db, &p), 0);
	assert_int_equal(opsdb_part_get(db, "web1", &q), 0);
	assert_string_equal(q.zone, "z1");
	assert_string_equal(q.host, "hostA");
	ops_part_clear(&q);
	assert_int_equal(opsdb_part_set_host(db, "web1", "nowhere"), -ENOENT);
	assert_int_equal(opsdb_part_set_host(db, "nobody", "hostB"), -ENOENT);

	/* Busy while a partition is on it; free once it moves away; then gone. */
	assert_int_equal(opsdb_host_del(db, "hostA"), -EBUSY);
	assert_int_equal(opsdb_part_set_host(db, "web1", "hostB"), 0);
	assert_int_equal(opsdb_host_del(db, "hostB"), -EBUSY);
	assert_int_equal(opsdb_host_del(db, "hostA"), 0);
	assert_int_equal(opsdb_host_del(db, "hostA"), -ENOENT);
	assert_int_equal(opsdb_part_set_host(db, "web1", ""), 0);
	assert_int_equal(opsdb_host_del(db, "hostB"), 0);
	assert_int_equal(opsdb_host_list(db, &all, &n), 0);
	assert_int_equal(n, 0);
	free(all);
	assert_int_equal(opsdb_part_get(db, "web1", &q), 0);
	assert_string_equal(q.host, "");
	ops_part_clear(&q);
	opsdb_close(db);
}

/* Domain limits: what is in use plus the newcomer against the limit, each named. */
static void test_domain_admission(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(ops_domain_admit("d", 512, 1000, 256, 500, 256, 500, err, sizeof(err)), 0);
	assert_int_equal(ops_domain_admit("d", 512, 1000, 256, 0, 257, 0, err, sizeof(err)),
	                 -ENOSPC);
	assert_non_null(strstr(err, "domain d"));
	assert_non_null(strstr(err, "513 MiB"));
	assert_non_null(strstr(err, "512 MiB"));
	assert_int_equal(ops_domain_admit("d", 0, 1000, 0, 750, 1 << 20, 251, err, sizeof(err)),
	                 -ENOSPC);
	assert_non_null(strstr(err, "1.001"));
	/* 0 = no limit. */
	assert_int_equal(
	    ops_domain_admit("d", 0, 0, 1 << 30, 1 << 30, 1 << 20, 64000, err, sizeof(err)), 0);
	/* An unlimited share counts as all its vCPUs. */
	assert_int_equal(ops_cpu_weight(0, 3), 3000);
	assert_int_equal(ops_cpu_weight(250, 3), 250);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip_survives_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_names_are_unique_and_targets_must_exist, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domain_keeps_its_partitions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_file_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_database_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_schema_version_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_store_is_refused, setup, teardown),
	    cmocka_unit_test(test_domain_admission),
	    cmocka_unit_test_setup_teardown(test_v1_store_is_upgraded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_upgrade_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_rules, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
