/* SPDX-License-Identifier: MIT */
/*
 * Live migration (claim 44, docs/migration.md): what may move, how a partition's descriptor goes
 * back to the definition the target host defines it from, and reading what QEMU and the target's
 * command partition say about the stream. Everything here reads bytes a peer wrote (QEMU's
 * query-migrate, another host's reply) and refuses what does not fit.
 */
#ifndef ULTRA_LIB_MIGRATE_H
#define ULTRA_LIB_MIGRATE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ultra/descriptor.h>

/* Where a Unix socket path must fit (sun_path). */
#define UV_MIG_PATH_MAX 108

/* QEMU's query-migrate, as far as a migration's owner cares. */
struct uv_mig_progress {
	char status[24]; /* none setup active device completed failed cancelling cancelled ... */
	char error[256]; /* error-desc when failed */
	uint64_t total_ms, downtime_ms, setup_ms, expected_downtime_ms;
	uint64_t transferred, ram_total, remaining; /* bytes */
	uint64_t dirty_pages_rate, page_size, dirty_sync_count;
	double mbps;
};

/* Reads query-migrate's return object into *out: 0, or -EPROTO (a member of the wrong type or
 * range, no status); *out is untouched on failure. Missing counters read as 0. */
int uv_mig_progress_parse(json_object *ret, struct uv_mig_progress *out);
/* The migration is over one way or the other: completed, failed or cancelled. */
bool uv_mig_status_final(const char *status);
/* Dirty pages per second as bytes per second (0 if the page size is unknown). */
uint64_t uv_mig_dirty_bytes_per_s(const struct uv_mig_progress *p);
/* The progress as the control API reports it (docs/command.md, migrate). */
json_object *uv_mig_progress_json(const struct uv_mig_progress *p);

/* Why d cannot be migrated, as a sentence naming the field, or NULL when it can: its RAM, vCPUs,
 * rng, file disks ("blk" devices and direct disks, on storage both hosts reach), disks and NICs
 * the I/O partition serves; not channels, nor vhost-user devices named by their socket. */
const char *uv_mig_refusal(const struct uv_partition_desc *d, char *buf, size_t cap);

/* Whether v is a grant placement made for one of d's disks or NICs (command/place.c: a direct
 * disk's image, or a socket named NAME.diskN.sock / NAME.nicN.sock), not a device the
 * definition named itself. */
bool uv_mig_dev_placed(const struct uv_partition_desc *d, const struct uv_device *v);

/* The definition (docs/definitions.md) d was made from, for the target host's command
 * partition: what placement granted (direct-blk, the served disks' and NICs' sockets) is left
 * out, the requests that made it are kept. -ENOMEM, or 0 with *out the caller's. */
int uv_desc_to_def(const struct uv_partition_desc *d, json_object **out);

/* The target command partition's migrate-in return: the partition's name must be name and
 * "stream" an absolute socket path that fits sun_path, copied to stream. 0 or -EPROTO. */
int uv_mig_in_reply_parse(json_object *ret, const char *name, char *stream, size_t cap);

#endif
