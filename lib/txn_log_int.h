/* SPDX-License-Identifier: MIT */
/* Internals shared by the audit log's writer, recovery, dump and snapshot code. */
#ifndef ULTRA_LIB_TXN_LOG_INT_H
#define ULTRA_LIB_TXN_LOG_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "txn_log.h"

#define LOG_NAME_MAX 64
/* Segments grow in zero-filled steps: overwriting blocks that already exist lets fdatasync skip
 * the journal commit an append (new size, new blocks) needs, which nearly halves its cost. */
#define LOG_PREALLOC (4u << 20)

static inline size_t log_pad(size_t n)
{
	return (n + UV_LOG_ALIGN - 1) & ~(size_t)(UV_LOG_ALIGN - 1);
}

/* --- record and header format (txn_log_format.c) --- */

/* Bytes a record with a payload of len bytes takes in the file. */
static inline size_t log_rec_size(size_t len) { return sizeof(struct uv_log_rec) + log_pad(len); }

/* Writes a complete record (header, payload, zero padding) at dst; returns its size. */
size_t log_rec_encode(unsigned char *dst, enum uv_log_kind kind, uint8_t role, uint32_t sender,
                      uint64_t seq, const void *payload, uint32_t len);
void log_seg_hdr_init(struct uv_log_seg_hdr *h, uint64_t segment, uint64_t first_seq);
int log_seg_hdr_ok(const struct uv_log_seg_hdr *h);
void log_snap_hdr_init(struct uv_log_snap_hdr *h, uint64_t segment, uint64_t next_seq,
                       const void *state, size_t len);
int log_snap_ok(const struct uv_log_snap_hdr *h, const void *state, size_t len);

/* Called for each intact record. Returns 0 to go on, 1 when the record is well-formed but out of
 * place (the scan then stops there as UV_LOG_GARBAGE), or a negative errno to abort. */
typedef int (*log_rec_fn)(void *ctx, const struct uv_log_rec *r, const unsigned char *payload);

struct log_scan {
	struct uv_log_seg_hdr hdr;
	size_t valid_end; /* bytes of intact prefix, header included; zeros may follow */
	enum uv_log_damage damage;
};

/* Walks a segment image. Returns 0 (damage, if any, in *res) or fn's negative errno. */
int log_scan(const unsigned char *buf, size_t len, log_rec_fn fn, void *ctx, struct log_scan *res);

/* --- matching BEGIN with COMMIT/ABORT (txn_log_replay.c) --- */

struct log_slot {
	const unsigned char *payload;
	uint32_t length;
	uint32_t sender;
	uint8_t role;
	uint8_t done;
};

struct log_replay {
	const struct uv_log_replay *ops;
	struct uv_log_report *rep;
	uint64_t base_seq; /* seq of slots[0] */
	uint64_t next_seq; /* the seq the next BEGIN must carry */
	struct log_slot *slots;
	size_t n, cap;
};

void log_replay_init(struct log_replay *r, const struct uv_log_replay *ops,
                     struct uv_log_report *rep, uint64_t next_seq);
int log_replay_record(void *ctx, const struct uv_log_rec *rec, const unsigned char *payload);
/* Hands every still-pending transaction to ops->pending, oldest first. */
int log_replay_pending(struct log_replay *r);
void log_replay_free(struct log_replay *r);

/* --- recovery (txn_log_recover.c) --- */

struct log_open_txn {
	uint64_t seq;
	uint32_t sender;
	uint8_t role;
};

/* Where the writer continues after recovery, and what it must abort. */
struct log_recovered {
	uint64_t segment;
	uint64_t append_off;
	uint64_t file_end; /* preallocated zeros may follow append_off */
	uint64_t next_seq;
	struct log_open_txn *pending;
	size_t n_pending;
};

/* Reads the directory back through ops, then repairs it (cuts the damaged tail, sets aside
 * damaged files, creates the first segment of a new log). Changes nothing if a callback fails. */
int log_recover(int dirfd, const struct uv_log_replay *ops, struct uv_log_report *rep,
                struct log_recovered *out);

/* --- files in the log directory (txn_log_files.c) --- */

struct log_listing {
	uint64_t *segs, *snaps; /* ascending */
	size_t n_segs, n_snaps;
};

void log_seg_name(char *buf, uint64_t segment);
void log_snap_name(char *buf, uint64_t segment);
int log_list(int dirfd, struct log_listing *l);
void log_listing_free(struct log_listing *l);
/* Writes name atomically: temporary file, fsync, rename, fsync of the directory. */
int log_write_atomic(int dirfd, const char *name, const struct iovec *iov, int iovcnt);
int log_seg_create(int dirfd, uint64_t segment, uint64_t first_seq);
int log_snap_write(int dirfd, uint64_t segment, uint64_t next_seq, const void *state, size_t len);
/* Reads and checks a snapshot; -EBADMSG when it is damaged. *state is malloc'ed. */
int log_snap_load(int dirfd, uint64_t segment, struct uv_log_snap_hdr *h, void **state);
int log_read_file(int fd, unsigned char **buf, size_t *len);
/* The same for the file NAME in DIRFD. */
int log_read_at(int dirfd, const char *name, unsigned char **buf, size_t *len);
/* Renames name to name + suffix, keeping damaged files for inspection. */
int log_set_aside(int dirfd, const char *name, const char *suffix);
int log_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

#endif
