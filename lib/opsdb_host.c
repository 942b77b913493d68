/* SPDX-License-Identifier: MIT */
/* Hosts in the operations store (claims 39, 41-43, 45): where their command partitions are
 * reached, their zone and location. A host keeps its partitions: it cannot be removed while
 * any is placed on it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsdb_int.h"

#define HOST_COLS "name, address, zone, location"

int opsdb_host_add(struct opsdb *db, const struct ops_host *h)
{
	sqlite3_stmt *st = NULL;
	int own, r, rc;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	rc = sqlite3_prepare_v2(db->db, "INSERT INTO hosts (" HOST_COLS ") VALUES (?, ?, ?, ?)", -1,
	                        &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, h->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, h->address, -1, SQLITE_STATIC);
		if (h->zone[0])
			sqlite3_bind_text(st, 3, h->zone, -1, SQLITE_STATIC);
		if (h->location[0])
			sqlite3_bind_text(st, 4, h->location, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	r = rc == SQLITE_DONE ? 0 : opsdb_errno(rc);
	return opsdb_write_end(db, own, r);
}

static void col(sqlite3_stmt *st, int i, char *buf, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(buf, cap, "%s", s ? (const char *)s : "");
}

static int row(sqlite3_stmt *st, void *out)
{
	struct ops_host *h = out;

	memset(h, 0, sizeof(*h));
	col(st, 0, h->name, sizeof(h->name));
	col(st, 1, h->address, sizeof(h->address));
	col(st, 2, h->zone, sizeof(h->zone));
	col(st, 3, h->location, sizeof(h->location));
	return 0;
}

int opsdb_host_get(struct opsdb *db, const char *name, struct ops_host *out)
{
	return opsdb_one(db, "SELECT " HOST_COLS " FROM hosts WHERE name = ?", name, row, out);
}

int opsdb_host_list(struct opsdb *db, struct ops_host **out, size_t *n)
{
	return opsdb_collect(db, "SELECT " HOST_COLS " FROM hosts ORDER BY name", sizeof(**out),
	                     row, NULL, (void **)out, n);
}

int opsdb_host_del(struct opsdb *db, const char *name)
{
	struct ops_host h;
	int own, r;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	if (!(r = opsdb_host_get(db, name, &h)))
		r = opsdb_run(db, "DELETE FROM hosts WHERE name = ?", name, NULL);
	if (r == -EEXIST) /* the foreign key of a partition placed on it */
		r = -EBUSY;
	return opsdb_write_end(db, own, r);
}
