/* SPDX-License-Identifier: MIT */
/* Domains in the operations store (claims 35-37). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsdb_int.h"

int opsdb_domain_add(struct opsdb *db, const struct ops_domain *d)
{
	sqlite3_stmt *st = NULL;
	int own, r, rc;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	rc = sqlite3_prepare_v2(db->db, "INSERT INTO domains VALUES (?, ?, ?)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, d->memory_mib);
		sqlite3_bind_int64(st, 3, d->cpu_milli);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	r = rc == SQLITE_DONE ? 0 : opsdb_errno(rc);
	return opsdb_write_end(db, own, r);
}

static int row(sqlite3_stmt *st, void *out)
{
	struct ops_domain *d = out;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", (const char *)sqlite3_column_text(st, 0));
	d->memory_mib = (uint32_t)sqlite3_column_int64(st, 1);
	d->cpu_milli = (uint32_t)sqlite3_column_int64(st, 2);
	return 0;
}

int opsdb_domain_get(struct opsdb *db, const char *name, struct ops_domain *out)
{
	return opsdb_one(db, "SELECT name, memory_mib, cpu_milli FROM domains WHERE name = ?", name,
	                 row, out);
}

int opsdb_domain_list(struct opsdb *db, struct ops_domain **out, size_t *n)
{
	return opsdb_collect(db, "SELECT name, memory_mib, cpu_milli FROM domains ORDER BY name",
	                     sizeof(**out), row, NULL, (void **)out, n);
}

/* A domain with partitions in it stays: they would lose their limits silently. Its schedules
 * go with it. */
int opsdb_domain_del(struct opsdb *db, const char *name)
{
	struct ops_domain d;
	int own, r;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	if (!(r = opsdb_domain_get(db, name, &d)) &&
	    !(r = opsdb_run(db, "DELETE FROM schedules WHERE target_kind = 1 AND target = ?", name,
	                    NULL)))
		r = opsdb_run(db, "DELETE FROM domains WHERE name = ?", name, NULL);
	if (r == -EEXIST) /* the foreign key of a partition in it */
		r = -EBUSY;
	return opsdb_write_end(db, own, r);
}
