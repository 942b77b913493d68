/* SPDX-License-Identifier: MIT */
/*
 * The operations store's file: opening, the schema and its version, transactions. WAL keeps a
 * reader from ever seeing half a write and survives kill -9 at any point; synchronous=FULL
 * makes a committed definition survive power loss too (writes are rare: an operator's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsdb_int.h"

/* Version 2, as a new store gets it. A version-1 store (the same without hosts, zone and host)
 * is brought to it by upgrade_v1 below. */
static const char schema[] =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "CREATE TABLE domains (name TEXT PRIMARY KEY, memory_mib INTEGER NOT NULL,"
    " cpu_milli INTEGER NOT NULL);"
    "CREATE TABLE partitions (name TEXT PRIMARY KEY, domain TEXT REFERENCES domains(name),"
    " autostart INTEGER NOT NULL, memory_mib INTEGER NOT NULL, vcpus INTEGER NOT NULL,"
    " cpu_milli INTEGER NOT NULL, definition TEXT NOT NULL, base_dir TEXT,"
    " zone TEXT, host TEXT REFERENCES hosts(name));"
    "CREATE TABLE hosts (name TEXT PRIMARY KEY, address TEXT NOT NULL UNIQUE, zone TEXT,"
    " location TEXT);"
    "CREATE TABLE schedules (id INTEGER PRIMARY KEY, target_kind INTEGER NOT NULL,"
    " target TEXT NOT NULL, from_min INTEGER NOT NULL, to_min INTEGER NOT NULL,"
    " setting INTEGER NOT NULL, value INTEGER NOT NULL);";

int opsdb_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EBADMSG;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

static int exec(struct opsdb *db, const char *sql)
{
	return opsdb_errno(sqlite3_exec(db->db, sql, NULL, NULL, NULL));
}

int opsdb_begin(struct opsdb *db) { return exec(db, "BEGIN IMMEDIATE"); }

int opsdb_commit(struct opsdb *db) { return exec(db, "COMMIT"); }

void opsdb_rollback(struct opsdb *db)
{
	if (!sqlite3_get_autocommit(db->db))
		exec(db, "ROLLBACK");
}

int opsdb_write_begin(struct opsdb *db, int *own)
{
	*own = sqlite3_get_autocommit(db->db);
	return *own ? opsdb_begin(db) : 0;
}

int opsdb_write_end(struct opsdb *db, int own, int r)
{
	if (!own)
		return r;
	if (r) {
		opsdb_rollback(db);
		return r;
	}
	if ((r = opsdb_commit(db)))
		opsdb_rollback(db);
	return r;
}

int opsdb_run(struct opsdb *db, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
		if (sqlite3_bind_parameter_count(st) > 1)
			sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : opsdb_errno(rc);
}

int opsdb_collect(struct opsdb *db, const char *sql, size_t elem,
                  int (*row)(sqlite3_stmt *st, void *out), void (*clear)(void *out), void **out,
                  size_t *n)
{
	sqlite3_stmt *st = NULL;
	char *a = NULL, *b;
	size_t k = 0;
	int r = 0, rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);

	while (!r && rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = SQLITE_OK;
		if (!(b = realloc(a, (k + 1) * elem)))
			r = -ENOMEM;
		else if (!(r = row(st, (a = b) + k * elem)))
			k++;
	}
	sqlite3_finalize(st);
	if (!r && rc != SQLITE_DONE)
		r = opsdb_errno(rc) ? opsdb_errno(rc) : -EIO;
	if (r) {
		for (size_t i = 0; clear && i < k; i++)
			clear(a + i * elem);
		free(a);
		return r;
	}
	*out = a;
	*n = k;
	return 0;
}

int opsdb_one(struct opsdb *db, const char *sql, const char *key,
              int (*row)(sqlite3_stmt *st, void *out), void *out)
{
	sqlite3_stmt *st = NULL;
	int r, rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		r = rc == SQLITE_ROW ? row(st, out) : rc == SQLITE_DONE ? -ENOENT : opsdb_errno(rc);
	} else {
		r = opsdb_errno(rc);
	}
	sqlite3_finalize(st);
	return r;
}

char *opsdb_text(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s ? strdup((const char *)s) : NULL;
}

/* One integer from sql, or a negative errno. */
static int one_int(struct opsdb *db, const char *sql, long long *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : opsdb_errno(rc);
}

static int create_schema(struct opsdb *db)
{
	char sql[64];
	int r;

	if ((r = opsdb_begin(db)))
		return r;
	snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d)", OPSDB_SCHEMA_VERSION);
	if ((r = exec(db, schema)) || (r = exec(db, sql)) || (r = opsdb_commit(db)))
		opsdb_rollback(db);
	return r;
}

static int integrity(struct opsdb *db, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->db, "PRAGMA quick_check", -1, &st, NULL), r = 0;
	const unsigned char *s;

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		s = sqlite3_column_text(st, 0);
		if (!s || strcmp((const char *)s, "ok")) {
			snprintf(err, errlen, "%s: damaged store: %s", path,
			         s ? (const char *)s : "?");
			r = -EBADMSG;
		}
	} else {
		snprintf(err, errlen, "%s: damaged store: %s", path, sqlite3_errmsg(db->db));
		r = -EBADMSG;
	}
	sqlite3_finalize(st);
	return r;
}

/* Version 1 -> 2 in one transaction: a table of hosts, and each partition's zone and host
 * (NULL: any zone, not placed yet). Rows are only added to, never rewritten. */
static const char upgrade_v1_sql[] =
    "CREATE TABLE hosts (name TEXT PRIMARY KEY, address TEXT NOT NULL UNIQUE, zone TEXT,"
    " location TEXT);"
    "ALTER TABLE partitions ADD COLUMN zone TEXT;"
    "ALTER TABLE partitions ADD COLUMN host TEXT REFERENCES hosts(name);"
    "UPDATE schema_version SET version = 2;";

static int upgrade_v1(struct opsdb *db, const char *path, char *err, size_t errlen)
{
	int r;

	if ((r = opsdb_begin(db)) || (r = exec(db, upgrade_v1_sql)) || (r = opsdb_commit(db))) {
		snprintf(err, errlen, "%s: upgrading the store from version 1 failed: %s", path,
		         sqlite3_errmsg(db->db));
		opsdb_rollback(db);
	}
	return r;
}

/* A new file gets the schema; an existing one must be ours, of our version, and intact. */
static int check_schema(struct opsdb *db, const char *path, char *err, size_t errlen)
{
	long long tables = 0, version = 0;
	const char *why;
	int r;

	if ((r = one_int(db, "SELECT count(*) FROM sqlite_master", &tables))) {
		why = sqlite3_errmsg(db->db);
		snprintf(err, errlen, "%s: not an ultra-ops store (%s)", path, why);
		return r == -EIO ? -EBADMSG : r;
	}
	if (!tables) {
		if ((r = create_schema(db)))
			snprintf(err, errlen, "%s: cannot create the schema: %s", path,
			         sqlite3_errmsg(db->db));
		return r;
	}
	if ((r = one_int(db, "SELECT version FROM schema_version", &version))) {
		snprintf(err, errlen, "%s: not an ultra-ops store (no schema version)", path);
		return -EBADMSG;
	}
	if (version == 1) /* a damaged store is refused, not upgraded */
		return (r = integrity(db, path, err, errlen)) ? r
		                                              : upgrade_v1(db, path, err, errlen);
	if (version != OPSDB_SCHEMA_VERSION) {
		snprintf(err, errlen,
		         "%s: schema version %lld; this ultra-ops reads versions 1 and %d", path,
		         version, OPSDB_SCHEMA_VERSION);
		return -EPROTO;
	}
	return 0;
}

int opsdb_open(const char *path, struct opsdb **out, char *err, size_t errlen)
{
	struct opsdb *db = calloc(1, sizeof(*db));
	int r;

	if (!db) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) {
		snprintf(err, errlen, "%s: %s", path,
		         db->db ? sqlite3_errmsg(db->db) : "no memory");
		r = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(db->db, 5000);
	if ((r = exec(db, "PRAGMA journal_mode=WAL")) || (r = exec(db, "PRAGMA foreign_keys=ON")) ||
	    (r = exec(db, "PRAGMA synchronous=FULL"))) {
		snprintf(err, errlen, "%s: not an ultra-ops store (%s)", path,
		         sqlite3_errmsg(db->db));
		goto fail;
	}
	if ((r = check_schema(db, path, err, errlen)) || (r = integrity(db, path, err, errlen)))
		goto fail;
	*out = db;
	return 0;
fail:
	opsdb_close(db);
	return r;
}

void opsdb_close(struct opsdb *db)
{
	if (!db)
		return;
	sqlite3_close(db->db);
	free(db);
}
