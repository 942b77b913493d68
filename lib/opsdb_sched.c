/* SPDX-License-Identifier: MIT */
/* Schedules in the operations store: the configuration policy by time of day (claims 46, 86). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsdb_int.h"

static int target_exists(struct opsdb *db, const struct ops_sched *s)
{
	struct ops_domain d;

	if (s->target_kind == OPS_TARGET_DOMAIN)
		return opsdb_domain_get(db, s->target, &d);
	if (s->target_kind != OPS_TARGET_PARTITION)
		return -EINVAL;
	return opsdb_part_exists(db, s->target);
}

int opsdb_sched_add(struct opsdb *db, struct ops_sched *s)
{
	sqlite3_stmt *st = NULL;
	int own, r, rc = SQLITE_OK;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	if ((r = target_exists(db, s)))
		return opsdb_write_end(db, own, r);
	rc = sqlite3_prepare_v2(db->db,
	                        "INSERT INTO schedules (target_kind, target, from_min, "
	                        "to_min, setting, value) VALUES (?, ?, ?, ?, ?, ?)",
	                        -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int(st, 1, s->target_kind);
		sqlite3_bind_text(st, 2, s->target, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, s->from_min);
		sqlite3_bind_int(st, 4, s->to_min);
		sqlite3_bind_int(st, 5, s->setting);
		sqlite3_bind_int64(st, 6, s->value);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	r = rc == SQLITE_DONE ? 0 : opsdb_errno(rc);
	if (!r)
		s->id = sqlite3_last_insert_rowid(db->db);
	return opsdb_write_end(db, own, r);
}

int opsdb_sched_del(struct opsdb *db, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int own, r, rc;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	rc = sqlite3_prepare_v2(db->db, "DELETE FROM schedules WHERE id = ?", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	r = rc == SQLITE_DONE ? (sqlite3_changes(db->db) ? 0 : -ENOENT) : opsdb_errno(rc);
	return opsdb_write_end(db, own, r);
}

static int row(sqlite3_stmt *st, void *out)
{
	struct ops_sched *s = out;

	memset(s, 0, sizeof(*s));
	s->id = sqlite3_column_int64(st, 0);
	s->target_kind = (uint8_t)sqlite3_column_int(st, 1);
	snprintf(s->target, sizeof(s->target), "%s", (const char *)sqlite3_column_text(st, 2));
	s->from_min = (uint16_t)sqlite3_column_int(st, 3);
	s->to_min = (uint16_t)sqlite3_column_int(st, 4);
	s->setting = (uint8_t)sqlite3_column_int(st, 5);
	s->value = (uint32_t)sqlite3_column_int64(st, 6);
	return 0;
}

int opsdb_sched_list(struct opsdb *db, struct ops_sched **out, size_t *n)
{
	return opsdb_collect(db,
	                     "SELECT id, target_kind, target, from_min, to_min, setting, value "
	                     "FROM schedules ORDER BY id",
	                     sizeof(**out), row, NULL, (void **)out, n);
}
