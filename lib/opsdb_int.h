/* SPDX-License-Identifier: MIT */
/* Inside the operations store: the connection and the write/statement helpers its files share. */
#ifndef ULTRA_LIB_OPSDB_INT_H
#define ULTRA_LIB_OPSDB_INT_H

#include <sqlite3.h>

#include "opsdb.h"

struct opsdb {
	sqlite3 *db;
};

/* SQLite result -> negative errno: constraint kinds are told apart by the caller's meaning. */
int opsdb_errno(int rc);
/* A write: begins its own transaction unless the caller holds one (*own says which). */
int opsdb_write_begin(struct opsdb *db, int *own);
/* Commits an own transaction if r == 0, else rolls it back; returns r (or the commit's error). */
int opsdb_write_end(struct opsdb *db, int own, int r);
/* Prepares sql, binds the texts (NULL binds NULL), steps once; SQLITE_DONE -> 0. */
int opsdb_run(struct opsdb *db, const char *sql, const char *a, const char *b);
/* Every row of sql, each turned by row() into one elem-sized element of a malloc'ed array;
 * on failure nothing is returned (row's own allocations are undone by clear, if given). */
int opsdb_collect(struct opsdb *db, const char *sql, size_t elem,
                  int (*row)(sqlite3_stmt *st, void *out), void (*clear)(void *out), void **out,
                  size_t *n);
/* The one row of sql (whose one parameter is bound to key) turned by row() into *out: 0,
 * -ENOENT when there is none, or row's error. */
int opsdb_one(struct opsdb *db, const char *sql, const char *key,
              int (*row)(sqlite3_stmt *st, void *out), void *out);
/* 0 if a partition of that name is stored, else -ENOENT (or the store's error). */
int opsdb_part_exists(struct opsdb *db, const char *name);
/* A malloc'ed copy of a text column, or NULL. */
char *opsdb_text(sqlite3_stmt *st, int col);

#endif
