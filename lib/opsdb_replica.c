/* SPDX-License-Identifier: MIT */
/*
 * Snapshots of the operations store for its standby on another host (claim 47; docs/ops-ha.md
 * "Why snapshots"). The store is small (definitions, KiBs) and written rarely, so each change is
 * shipped as the whole store: an image taken in one read transaction and applied in one write
 * transaction is consistent by construction, where a logical log would need every write path to
 * record itself and could drift from what the store holds. The change counter makes it "every
 * committed change" rather than a periodic copy: the standby asks with its own counter and gets
 * a snapshot only when the store moved.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsdb_int.h"
#include "opsdb_replica.h"

static const char *const tracked[] = {"domains", "partitions", "hosts", "schedules"};
static const char *const events[] = {"INSERT", "UPDATE", "DELETE"};

static int exec(sqlite3 *db, const char *sql)
{
	return opsdb_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

int opsdb_replica_prepare(struct opsdb *db)
{
	char sql[256];
	int own, r;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	r = exec(db->db,
	         "CREATE TABLE IF NOT EXISTS replica (id INTEGER PRIMARY KEY CHECK (id = 0),"
	         " epoch INTEGER NOT NULL, seq INTEGER NOT NULL);"
	         "INSERT OR IGNORE INTO replica VALUES (0, 0, 0);");
	for (size_t t = 0; !r && t < sizeof(tracked) / sizeof(tracked[0]); t++)
		for (size_t e = 0; !r && e < sizeof(events) / sizeof(events[0]); e++) {
			snprintf(sql, sizeof(sql),
			         "CREATE TRIGGER IF NOT EXISTS replica_%s_%c AFTER %s ON %s"
			         " BEGIN UPDATE replica SET seq = seq + 1; END;",
			         tracked[t], events[e][0], events[e], tracked[t]);
			r = exec(db->db, sql);
		}
	return opsdb_write_end(db, own, r);
}

static int read_row(sqlite3 *db, uint64_t *epoch, uint64_t *seq)
{
	sqlite3_stmt *st = NULL;
	int rc =
	    sqlite3_prepare_v2(db, "SELECT epoch, seq FROM replica WHERE id = 0", -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*epoch = (uint64_t)sqlite3_column_int64(st, 0);
		*seq = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW    ? 0
	       : rc == SQLITE_DONE ? -ENOENT
	       : opsdb_errno(rc)   ? opsdb_errno(rc)
	                           : -EIO;
}

int opsdb_replica_get(struct opsdb *db, uint64_t *epoch, uint64_t *seq)
{
	return read_row(db->db, epoch, seq);
}

int opsdb_replica_set_epoch(struct opsdb *db, uint64_t epoch)
{
	char sql[128];
	int own, r;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	snprintf(sql, sizeof(sql), "UPDATE replica SET epoch = %llu, seq = seq + 1 WHERE id = 0",
	         (unsigned long long)epoch);
	r = exec(db->db, sql);
	if (!r && sqlite3_changes(db->db) != 1)
		r = -ENOENT;
	return opsdb_write_end(db, own, r);
}

/* Copies all of src into dst in one step (one read transaction on src, one write on dst). */
static int copy_db(sqlite3 *dst, sqlite3 *src)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc;

	if (!b)
		return opsdb_errno(sqlite3_errcode(dst)) ? opsdb_errno(sqlite3_errcode(dst)) : -EIO;
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	return rc == SQLITE_DONE ? 0 : opsdb_errno(rc) ? opsdb_errno(rc) : -EIO;
}

int opsdb_replica_export(struct opsdb *db, uint8_t **image, size_t *len, uint64_t *epoch,
                         uint64_t *seq)
{
	sqlite3 *mem = NULL;
	sqlite3_int64 size = 0;
	unsigned char *ser = NULL;
	uint64_t e, s;
	uint8_t *copy;
	int r;

	if (sqlite3_open(":memory:", &mem) != SQLITE_OK) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = copy_db(mem, db->db)) || (r = read_row(mem, &e, &s)))
		goto out;
	if (!(ser = sqlite3_serialize(mem, "main", &size, 0)) || size <= 0) {
		r = -ENOMEM;
		goto out;
	}
	if (!(copy = malloc((size_t)size))) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(copy, ser, (size_t)size);
	/* The header of a WAL store says so (bytes 18, 19 = 2); an image has no WAL beside it
	 * and opens only as a rollback-journal file (1). The receiver's own file stays WAL. */
	if (size >= 100)
		copy[18] = copy[19] = 1;
	*image = copy;
	*len = (size_t)size;
	*epoch = e;
	*seq = s;
out:
	sqlite3_free(ser);
	sqlite3_close(mem);
	return r;
}

/* Only what our code creates may come in: a peer's image becomes our schema, triggers too. */
static const char unknown_objects_sql[] =
    "SELECT type || ' ' || name FROM sqlite_master WHERE NOT ("
    " (type = 'table' AND name IN ('schema_version', 'domains', 'partitions', 'hosts',"
    "  'schedules', 'replica'))"
    " OR (type = 'index' AND name LIKE 'sqlite\\_autoindex\\_%' ESCAPE '\\')"
    " OR (type = 'trigger' AND name LIKE 'replica\\_%' ESCAPE '\\'"
    "  AND sql LIKE '%BEGIN UPDATE replica SET seq = seq + 1; END'))";

/* The first value of sql as text into buf ("" when there is no row); 0 or a negative errno. */
static int first_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	const unsigned char *t;

	buf[0] = 0;
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = sqlite3_column_text(st, 0);
		snprintf(buf, len, "%s", t ? (const char *)t : "");
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : opsdb_errno(rc) ? opsdb_errno(rc) : -EIO;
}

static int check_image(sqlite3 *mem, const struct uv_ops_snap *s, char *err, size_t errlen)
{
	char buf[128], want[16];
	uint64_t e, q;

	snprintf(want, sizeof(want), "%d", OPSDB_SCHEMA_VERSION);
	if (first_text(mem, "PRAGMA quick_check", buf, sizeof(buf)) || strcmp(buf, "ok")) {
		snprintf(err, errlen, "the snapshot is not an intact store (%s)",
		         buf[0] ? buf : sqlite3_errmsg(mem));
		return -EBADMSG;
	}
	if (first_text(mem, "SELECT version FROM schema_version", buf, sizeof(buf)) ||
	    strcmp(buf, want)) {
		snprintf(err, errlen, "the snapshot's schema version is \"%s\"; we hold version %s",
		         buf, want);
		return -EPROTO;
	}
	if (first_text(mem, unknown_objects_sql, buf, sizeof(buf)) || buf[0]) {
		snprintf(err, errlen, "the snapshot holds an object we do not make (%s)",
		         buf[0] ? buf : sqlite3_errmsg(mem));
		return -EBADMSG;
	}
	if (read_row(mem, &e, &q) || e != s->epoch || q != s->seq) {
		snprintf(err, errlen, "the snapshot's replica row does not match its header");
		return -EBADMSG;
	}
	if (first_text(mem, "PRAGMA foreign_key_check", buf, sizeof(buf)) || buf[0]) {
		snprintf(err, errlen, "the snapshot breaks a reference (%s)", buf);
		return -EBADMSG;
	}
	return 0;
}

int opsdb_replica_import(struct opsdb *db, const struct uv_ops_snap *s, char *err, size_t errlen)
{
	sqlite3 *mem = NULL;
	unsigned char *buf;
	int r;

	if (sqlite3_open(":memory:", &mem) != SQLITE_OK ||
	    !(buf = sqlite3_malloc64(s->len ? s->len : 1))) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	memcpy(buf, s->image, s->len);
	/* The image is a peer's bytes: no SQL in it runs with more than the defensive subset. */
	sqlite3_db_config(mem, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(mem, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (sqlite3_deserialize(mem, "main", buf, (sqlite3_int64)s->len, (sqlite3_int64)s->len,
	                        SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "the snapshot cannot be opened: %s", sqlite3_errmsg(mem));
		r = -EBADMSG;
		goto out;
	}
	if ((r = check_image(mem, s, err, errlen)))
		goto out;
	if ((r = copy_db(db->db, mem)))
		snprintf(err, errlen, "applying the snapshot: %s", sqlite3_errmsg(db->db));
out:
	sqlite3_close(mem);
	return r;
}
