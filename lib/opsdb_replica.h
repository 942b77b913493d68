/* SPDX-License-Identifier: MIT */
/*
 * The operations store's side of redundancy (claims 35-38, 47; docs/ops-ha.md): a change
 * counter that every committed write moves, the epoch (term) of the active operations
 * partition, and whole-store snapshots taken and applied atomically with SQLite's backup API.
 */
#ifndef ULTRA_LIB_OPSDB_REPLICA_H
#define ULTRA_LIB_OPSDB_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "opsdb.h"
#include "ops_replica.h"

/* Adds, if missing, the one-row table replica (epoch, seq) and the triggers that add 1 to seq
 * on every insert, update or delete of domains, partitions, hosts and schedules. Harmless to
 * an ultra-ops without a peer: the schema version stays 2. */
int opsdb_replica_prepare(struct opsdb *db);
int opsdb_replica_get(struct opsdb *db, uint64_t *epoch, uint64_t *seq);
/* Records a new term (a takeover), durably, before the new active acts; seq moves too. */
int opsdb_replica_set_epoch(struct opsdb *db, uint64_t epoch);
/* A consistent image of the whole store (one read transaction) with the epoch and seq it
 * holds; *image is malloc'ed. */
int opsdb_replica_export(struct opsdb *db, uint8_t **image, size_t *len, uint64_t *epoch,
                         uint64_t *seq);
/* Replaces the store with s's image in one write transaction, after checking that the image is
 * an intact store of our schema version holding only our tables and triggers, and that its
 * replica row says s's epoch and seq. On any failure the store is as it was and err says why. */
int opsdb_replica_import(struct opsdb *db, const struct uv_ops_snap *s, char *err, size_t errlen);

#endif
