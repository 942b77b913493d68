/* SPDX-License-Identifier: MIT */
/* Partition definitions in the operations store (claim 37), with their zone and the host they
 * were placed on (claims 39, 41, 42). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsdb_int.h"

#define PART_COLS                                                                                  \
	"name, domain, autostart, memory_mib, vcpus, cpu_milli, definition, base_dir, zone, host"

int opsdb_part_add(struct opsdb *db, const struct ops_part *p)
{
	struct ops_domain d;
	struct ops_host h;
	sqlite3_stmt *st = NULL;
	int own, r, rc;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	if (p->domain[0] && (r = opsdb_domain_get(db, p->domain, &d)))
		return opsdb_write_end(db, own, r);
	if (p->host[0] && (r = opsdb_host_get(db, p->host, &h)))
		return opsdb_write_end(db, own, r);
	rc = sqlite3_prepare_v2(db->db,
	                        "INSERT INTO partitions (" PART_COLS ") VALUES "
	                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                        -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
		if (p->domain[0])
			sqlite3_bind_text(st, 2, p->domain, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, p->autostart);
		sqlite3_bind_int64(st, 4, p->memory_mib);
		sqlite3_bind_int64(st, 5, p->vcpus);
		sqlite3_bind_int64(st, 6, p->cpu_milli);
		sqlite3_bind_text(st, 7, p->definition ? p->definition : "{}", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, p->base_dir, -1, SQLITE_STATIC);
		if (p->zone[0])
			sqlite3_bind_text(st, 9, p->zone, -1, SQLITE_STATIC);
		if (p->host[0])
			sqlite3_bind_text(st, 10, p->host, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	r = rc == SQLITE_DONE ? 0 : opsdb_errno(rc);
	return opsdb_write_end(db, own, r);
}

void ops_part_clear(struct ops_part *p)
{
	free(p->definition);
	free(p->base_dir);
	p->definition = p->base_dir = NULL;
}

void ops_parts_free(struct ops_part *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ops_part_clear(&p[i]);
	free(p);
}

static int row(sqlite3_stmt *st, void *out)
{
	const unsigned char *dom = sqlite3_column_text(st, 1), *zone = sqlite3_column_text(st, 8),
			    *host = sqlite3_column_text(st, 9);
	struct ops_part *p = out;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(p->domain, sizeof(p->domain), "%s", dom ? (const char *)dom : "");
	p->autostart = sqlite3_column_int(st, 2) != 0;
	p->memory_mib = (uint32_t)sqlite3_column_int64(st, 3);
	p->vcpus = (uint32_t)sqlite3_column_int64(st, 4);
	p->cpu_milli = (uint32_t)sqlite3_column_int64(st, 5);
	p->definition = opsdb_text(st, 6);
	p->base_dir = opsdb_text(st, 7);
	snprintf(p->zone, sizeof(p->zone), "%s", zone ? (const char *)zone : "");
	snprintf(p->host, sizeof(p->host), "%s", host ? (const char *)host : "");
	if (!p->definition) {
		ops_part_clear(p);
		return -ENOMEM;
	}
	return 0;
}

int opsdb_part_get(struct opsdb *db, const char *name, struct ops_part *out)
{
	return opsdb_one(db, "SELECT " PART_COLS " FROM partitions WHERE name = ?", name, row, out);
}

static int no_row(sqlite3_stmt *st, void *out)
{
	(void)st;
	(void)out;
	return 0;
}

int opsdb_part_exists(struct opsdb *db, const char *name)
{
	return opsdb_one(db, "SELECT name FROM partitions WHERE name = ?", name, no_row, NULL);
}

static void clear(void *p) { ops_part_clear(p); }

int opsdb_part_list(struct opsdb *db, struct ops_part **out, size_t *n)
{
	return opsdb_collect(db, "SELECT " PART_COLS " FROM partitions ORDER BY name",
	                     sizeof(**out), row, clear, (void **)out, n);
}

int opsdb_part_del(struct opsdb *db, const char *name)
{
	int own, r;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	if (!(r = opsdb_part_exists(db, name))) {
		if (!(r = opsdb_run(db,
		                    "DELETE FROM schedules WHERE target_kind = 0 AND "
		                    "target = ?",
		                    name, NULL)))
			r = opsdb_run(db, "DELETE FROM partitions WHERE name = ?", name, NULL);
	}
	return opsdb_write_end(db, own, r);
}

int opsdb_part_set_share(struct opsdb *db, const char *name, const char *definition,
                         uint32_t cpu_milli)
{
	sqlite3_stmt *st = NULL;
	int own, r, rc;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	if (!(r = opsdb_part_exists(db, name))) {
		rc = sqlite3_prepare_v2(
		    db->db, "UPDATE partitions SET definition = ?, cpu_milli = ? WHERE name = ?",
		    -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, definition, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, cpu_milli);
			sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
			rc = sqlite3_step(st);
		}
		sqlite3_finalize(st);
		r = rc == SQLITE_DONE ? 0 : opsdb_errno(rc);
	}
	return opsdb_write_end(db, own, r);
}

int opsdb_part_set_host(struct opsdb *db, const char *name, const char *host)
{
	struct ops_host h;
	int own, r;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	if (!(r = opsdb_part_exists(db, name))) {
		if (!host[0] || !(r = opsdb_host_get(db, host, &h)))
			r = opsdb_run(db, "UPDATE partitions SET host = ? WHERE name = ?",
			              host[0] ? host : NULL, name);
	}
	return opsdb_write_end(db, own, r);
}

int opsdb_part_set_definition(struct opsdb *db, const char *name, const char *definition)
{
	int own, r;

	if ((r = opsdb_write_begin(db, &own)))
		return r;
	if (!(r = opsdb_part_exists(db, name)))
		r = opsdb_run(db, "UPDATE partitions SET definition = ? WHERE name = ?", definition,
		              name);
	return opsdb_write_end(db, own, r);
}
