/* SPDX-License-Identifier: MIT */
/*
 * The resource database (claims 2-7, 10, 29-33, 49-54): partitions, their descriptors, memory
 * grants, channels and devices, in one shared region (include/ultra/resdb.h) that the ultravisor
 * daemon writes through struct uv_resdb and monitors read through struct uv_resdb_view.
 *
 * Daemon contract (docs/resource-database.md):
 *   1. uv_resdb_apply(t, &res)         validate and apply, or refuse with a reason (DB unchanged)
 *   2. uv_resdb_complete(t, &res, &c)  the transaction as it must be logged (grants gain extents)
 *   3. uv_log_begin(encode(c)), uv_log_commit  -> durable
 *      or, if logging fails or the sender's pending work is rolled back (claims 5, 52):
 *      uv_resdb_undo(c, &res)          reverse it; undo pending transactions newest first
 * Replaying committed records (with their extents) on a fresh database rebuilds the same one.
 */
#ifndef ULTRA_LIB_RESDB_H
#define ULTRA_LIB_RESDB_H

#include <stddef.h>
#include <stdint.h>
#include <ultra/resdb.h>
#include <ultra/txn.h>

#include "pagemap.h"
#include "txn_codec.h"

/* A system partition number and its role (boot, command, operations, io). Every other number
 * is a guest; partition 0 is always the ultravisor. */
struct uv_resdb_sysrole {
	uint32_t partition;
	uint8_t role; /* enum uv_role */
};

struct uv_resdb_config {
	uint64_t pool_bytes;     /* partitionable memory, multiple of 4 KiB, at most 4 TiB */
	uint32_t max_partitions; /* partition numbers are 1 .. max_partitions-1 */
	uint32_t max_channels;
	uint32_t max_devices;
	const struct uv_resdb_sysrole *system;
	size_t n_system;
};

/* The writer's handle, in its private memory. */
struct uv_resdb {
	uint8_t *base;
	struct uv_resdb_hdr *h;
	struct uv_pagemap pm;
	struct uv_pm_extent scratch[UV_TXN_EXTENTS_MAX];
};

/* What apply did, kept by the daemon for as long as the transaction is pending: it is what undo
 * needs, and values[] go into the response (uv_txn_response.result). */
struct uv_resdb_result {
	enum uv_txn_reason reason;
	uint64_t
	    value[2]; /* created partition or channel id; granted bytes; the disk limit replaced */
	uint32_t prev[2];        /* state, status, CPU share or device position before the change */
	struct uv_device device; /* a released device as it was recorded */
	struct uv_disk_limit limit; /* SET_DISK_LIMITS: the whole limit replaced, for undo */
	uint32_t n_extents;
	struct uv_txn_extent extents[UV_TXN_EXTENTS_MAX]; /* granted or freed blocks, ascending */
};

/* Region bytes for cfg; 0 when cfg is out of range. */
size_t uv_resdb_size_for(const struct uv_resdb_config *cfg);
/* Lays out an empty database (only partition 0, the ultravisor, exists) in area. */
int uv_resdb_init(struct uv_resdb *db, void *area, size_t size, const struct uv_resdb_config *cfg);

/* Validates t against the database and applies it atomically, or refuses it with a reason and
 * leaves every byte of the region as it was. res is always filled. */
enum uv_txn_reason uv_resdb_apply(struct uv_resdb *db, const struct uv_txn *t,
                                  struct uv_resdb_result *res);
/* *out = t as the log must record it: a grant that apply allocated carries its extents (which
 * point into res, so keep res alive as long as out). */
void uv_resdb_complete(const struct uv_txn *t, const struct uv_resdb_result *res,
                       struct uv_txn *out);
/* Reverses a transaction apply accepted (t completed, res from that apply). Undoing pending
 * transactions newest first always succeeds; undoing one that later changes depend on is
 * refused (UV_TXN_BUSY, EXISTS, DOUBLE_ALLOC ...) and changes nothing. */
enum uv_txn_reason uv_resdb_undo(struct uv_resdb *db, const struct uv_txn *t,
                                 const struct uv_resdb_result *res);

/* Partition P failed (claims 5, 52): state CRASHED, status PRESERVED, every resource kept for it.
 * The same as an ultravisor SET_STATE CRASHED, which is what the daemon logs. -ENOENT if P is
 * not live. */
int uv_resdb_partition_failed(struct uv_resdb *db, uint32_t partition);
/* Its restarted instance takes the preserved resources back: LIVE, state STARTING (an ultravisor
 * SET_STATE STARTING). -ENOENT if P is not preserved. */
int uv_resdb_partition_restarted(struct uv_resdb *db, uint32_t partition);

/* Builds the ultravisor's own SET_STATE record for P (for the log, and for the two above). */
void uv_resdb_state_txn(struct uv_txn *t, uint32_t partition, enum uv_part_state state);

/* Whether the command partition is up: a command-role partition is live and RUNNING. */
int uv_resdb_command_up(const struct uv_resdb *db);

const struct uv_resdb_part *uv_resdb_part(const struct uv_resdb *db, uint32_t partition);
const struct uv_partition_desc *uv_resdb_desc(const struct uv_resdb *db, uint32_t partition);
const struct uv_resdb_chan *uv_resdb_chan_find(const struct uv_resdb *db, uint32_t channel_id);
/* The channel record in slot i (0..max_channels), or NULL if the slot is free or out of range:
 * for walking every channel. */
const struct uv_resdb_chan *uv_resdb_chan_at(const struct uv_resdb *db, uint32_t i);
const struct uv_resdb_dev *uv_resdb_dev_find(const struct uv_resdb *db, const char *path);

/* --- Snapshots (uv_log_checkpoint) and comparison. --- */

/* Bytes uv_resdb_save() needs now. */
size_t uv_resdb_save_size(const struct uv_resdb *db);
/* Serializes the database: geometry, roles, partitions with descriptors, channels, devices and
 * the page map's owned runs. Returns bytes written or -ENOSPC. */
ssize_t uv_resdb_save(const struct uv_resdb *db, void *buf, size_t cap);
/* Loads a snapshot into db, which must be freshly initialised with the same geometry. Trusts
 * nothing: -EINVAL (garbage, torn, inconsistent) or -EBUSY (overlapping memory); on failure db
 * is empty again. */
int uv_resdb_load(struct uv_resdb *db, const void *buf, size_t len);

/* 1 when a and b hold the same partitions, descriptors, channels, devices and page owners. */
int uv_resdb_equal(const struct uv_resdb *a, const struct uv_resdb *b);
/* Cross-checks records, counts and the page map. 0 or -EUCLEAN. For tests and fuzzing. */
int uv_resdb_check(const struct uv_resdb *db);

/* --- Read-only access (monitors, claim 10). --- */

struct uv_resdb_view {
	const uint8_t *base;
	size_t size;
	struct uv_resdb_hdr geo; /* copied and checked once at attach */
	struct uv_pagemap_view pm;
};

int uv_resdb_view_attach(struct uv_resdb_view *v, const void *area, size_t size);
/* A consistent copy of P's descriptor (and record, if rec is not NULL): -ENOENT if no partition
 * P, -EAGAIN if the writer kept changing the region. */
int uv_resdb_read_desc(const struct uv_resdb_view *v, uint32_t partition,
                       struct uv_partition_desc *out, struct uv_resdb_part *rec);
/* A consistent copy of the channel record in slot i (0..max_channels): -ENOENT if the slot is
 * free or out of range, -EAGAIN as above. */
int uv_resdb_read_chan(const struct uv_resdb_view *v, uint32_t i, struct uv_resdb_chan *out);

#endif
