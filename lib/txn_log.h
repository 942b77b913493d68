/* SPDX-License-Identifier: MIT */
/*
 * The audit log (claims 5, 7, 52, 54): append-only, checksummed, group-committed.
 *
 * A transaction goes through the log as
 *     uv_log_begin()   - BEGIN record with the encoded transaction; gives its sequence number
 *     (the caller applies it to the database)
 *     uv_log_commit()  - COMMIT record, returns once it is on disk
 *  or uv_log_abort()   - ABORT record, when the caller refused or undid it.
 * Records are buffered in memory; whichever committing thread finds no write in flight becomes
 * the leader, writes everything buffered with one pwrite and one fdatasync, and wakes the
 * others, so concurrent commits share one flush.
 *
 * uv_log_open() recovers first: it loads the newest valid snapshot, hands every committed
 * transaction after it to the caller in commit order, reports the pending ones (BEGIN without
 * COMMIT or ABORT) for rollback and then records their ABORT, and cuts a torn or corrupt tail,
 * saying so in the report.
 *
 * All functions return 0 or a negative errno. After a failed write or flush the log refuses
 * further work with that error (the kernel may have dropped the data): close it and reopen,
 * which recovers from what is really on disk.
 */
#ifndef ULTRA_LIB_TXN_LOG_H
#define ULTRA_LIB_TXN_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <ultra/txn_log.h>

struct uv_log;

/* One transaction as recovery sees it; payload points into the log and is valid only during the
 * callback. */
struct uv_log_entry {
	uint64_t seq;
	uint32_t sender;
	uint8_t sender_role;
	const void *payload;
	uint32_t length;
};

/* Recovery callbacks, each optional. A non-zero return stops recovery, which then returns that
 * value (negative errno expected) without changing any file. */
struct uv_log_replay {
	/* The state saved by the newest valid snapshot, before any committed entry. */
	int (*snapshot)(void *ctx, const void *state, size_t len, uint64_t next_seq);
	/* Each committed transaction after that snapshot, in the order the commits were logged. */
	int (*committed)(void *ctx, const struct uv_log_entry *e);
	/* Each transaction begun but neither committed nor aborted: roll its changes back. */
	int (*pending)(void *ctx, const struct uv_log_entry *e);
	void *ctx;
};

enum uv_log_damage {
	UV_LOG_INTACT = 0,
	UV_LOG_TORN = 1,       /* a record runs past the end of the file: an interrupted write */
	UV_LOG_BAD_CRC = 2,    /* a complete record whose checksum does not match */
	UV_LOG_GARBAGE = 3,    /* bad magic, impossible field, or a sequence number out of place */
	UV_LOG_BAD_HEADER = 4, /* the segment header itself is unreadable */
	UV_LOG_MISSING = 5,    /* a segment in the middle of the history is missing */
};

struct uv_log_report {
	int snapshot_loaded;
	uint64_t snapshot_segment;  /* the segment the loaded snapshot precedes */
	uint32_t snapshots_corrupt; /* newer snapshots skipped (renamed *.corrupt) */
	uint32_t segments_replayed;
	uint64_t committed, aborted, pending;
	uint64_t next_seq;
	/* The warning: where the intact history ends and how much was cut after it. */
	enum uv_log_damage damage;
	uint64_t damage_segment;
	uint64_t damage_offset;
	uint64_t truncated_bytes;  /* bytes cut, counting dropped later segments */
	uint32_t segments_dropped; /* later segments set aside (renamed *.dropped) */
};

struct uv_log_stats {
	uint64_t begins, commits, aborts;
	uint64_t batches; /* pwrite calls */
	uint64_t syncs;   /* fdatasync calls */
	uint64_t bytes;
	uint64_t segment;
	uint64_t next_seq;
};

/* Opens (creating if needed) the log in dir, recovering as described above. replay and report
 * may be NULL. */
int uv_log_open(const char *dir, const struct uv_log_replay *replay, struct uv_log **out,
                struct uv_log_report *report);
/* Flushes what is buffered and frees the log; returns the first error it ever hit. */
int uv_log_close(struct uv_log *log);

int uv_log_begin(struct uv_log *log, uint32_t sender, uint8_t sender_role, const void *payload,
                 uint32_t length, uint64_t *seq);
/* Appends COMMIT or ABORT for seq (-ENOENT if seq is not pending) without waiting; *lsn is the
 * position to pass to uv_log_sync(). Lets a caller order commits under its own lock and wait for
 * the disk outside it. */
int uv_log_end(struct uv_log *log, uint64_t seq, enum uv_log_kind kind, uint64_t *lsn);
/* Waits until everything appended up to lsn is on disk, leading the flush if nobody is. */
int uv_log_sync(struct uv_log *log, uint64_t lsn);
int uv_log_commit(struct uv_log *log, uint64_t seq);
/* An abort need not wait for the disk: if it is lost, recovery finds the transaction pending
 * and rolls it back all the same. */
int uv_log_abort(struct uv_log *log, uint64_t seq);

/* Saves state (the caller's serialized database, holding every committed transaction and
 * nothing pending) as an atomic snapshot and starts a new segment; recovery then starts from it.
 * The previous snapshot and the segments after it are kept as the fallback should this one be
 * damaged; older files are deleted. -EBUSY while any transaction is pending. */
int uv_log_checkpoint(struct uv_log *log, const void *state, size_t len);

void uv_log_get_stats(struct uv_log *log, struct uv_log_stats *st);

/* Reads one segment from fd without changing it: committed and pending callbacks as in recovery,
 * the damage (if any) in report. */
int uv_log_read_segment(int fd, const struct uv_log_replay *replay, struct uv_log_report *report);

/* Prints a log directory (or one segment or snapshot file) a record per line: offset, seq,
 * kind, sender, and for BEGIN the transaction's summary. */
int uv_log_dump(const char *path, FILE *out);

const char *uv_log_damage_str(enum uv_log_damage d);
const char *uv_log_kind_name(enum uv_log_kind k);

#endif
