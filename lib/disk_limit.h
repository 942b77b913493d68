/* SPDX-License-Identifier: MIT */
/*
 * A disk's I/O limits (include/ultra/descriptor.h, struct uv_disk_limit; claims 19, 22): the
 * rules every reader of one shares, so the definition parser, the transaction decoder, ultra-io
 * and the monitor agree on what a limit means.
 */
#ifndef ULTRA_LIB_DISK_LIMIT_H
#define ULTRA_LIB_DISK_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ultra/descriptor.h>

/* The bounds a definition or a request may name (a rate in bytes below 2^50 cannot overflow a
 * bucket's arithmetic). */
#define UV_DISK_LIMIT_IOPS_MAX UINT32_MAX
#define UV_DISK_LIMIT_BPS_MAX (1ull << 50)

/* Version 3's limit (16 bytes a disk, totals only), as older descriptors and SET_DISK_LIMITS
 * records hold it. */
#define UV_DISK_LIMIT_V3_SIZE 16u

/* The six kinds by their JSON names, in the order definitions and replies list them:
 * bytes_per_sec, iops, read_bytes_per_sec, write_bytes_per_sec, read_iops, write_iops. Index i
 * below UV_DISK_LIMIT_KEYS; the calls take any other i as "no such kind" (NULL, 0, nothing). */
#define UV_DISK_LIMIT_KEYS 6u
const char *uv_disk_limit_key(unsigned i);
int uv_disk_limit_key_index(const char *name); /* -1: not a limit's name */
uint64_t uv_disk_limit_max(unsigned i);        /* the largest value kind i may be */
uint64_t uv_disk_limit_get(const struct uv_disk_limit *l, unsigned i);
void uv_disk_limit_set(struct uv_disk_limit *l, unsigned i, uint64_t v); /* v <= max */
/* The six names as a list of string literals, for a request's table of accepted arguments. */
#define UV_DISK_LIMIT_ARGS                                                                         \
	"bytes_per_sec", "iops", "read_bytes_per_sec", "write_bytes_per_sec", "read_iops",         \
	    "write_iops"
/* "bytes_per_sec, iops, ...": for errors naming what is accepted. */
#define UV_DISK_LIMIT_KEY_LIST                                                                     \
	"bytes_per_sec, iops, read_bytes_per_sec, write_bytes_per_sec, read_iops, write_iops"

/* A change as set-disk-limits asks it (libvirt's blkdeviotune rule): want[i] < 0 leaves kind i
 * as it is, else it is the new value (0: none). Naming a total clears that kind's directions,
 * naming a direction clears that kind's total, so a disk can go from one to the other in one
 * request; naming both of one kind leaves a limit uv_disk_limit_check refuses. */
void uv_disk_limit_change(struct uv_disk_limit *l, const int64_t want[UV_DISK_LIMIT_KEYS]);

/* No limit of any kind. */
bool uv_disk_limit_none(const struct uv_disk_limit *l);
bool uv_disk_limit_equal(const struct uv_disk_limit *a, const struct uv_disk_limit *b);

/* 0, or -EINVAL with a sentence in err (after the prefix at, e.g. "disks[1].limits") when l sets
 * a total together with a read or write limit of the same kind, which QEMU and libvirt refuse
 * too (which would be in force is a guess), or its reserved field. */
int uv_disk_limit_check(const struct uv_disk_limit *l, const char *at, char *err, size_t errlen);

/* The limit a version 3 record's 16 bytes at p held: its totals, no direction limited. */
struct uv_disk_limit uv_disk_limit_from_v3(const void *p);

/* What one direction is held to: its own limit, else the total (a kernel that counts each
 * direction apart, as the io controller does, takes a total as a limit on each way). */
uint64_t uv_disk_limit_read_bps(const struct uv_disk_limit *l);
uint64_t uv_disk_limit_write_bps(const struct uv_disk_limit *l);
uint64_t uv_disk_limit_read_iops(const struct uv_disk_limit *l);
uint64_t uv_disk_limit_write_iops(const struct uv_disk_limit *l);

/* "none", or the kinds set, e.g. "1000 requests and 2097152 bytes a second in all, writes 512
 * requests": for logs and errors. */
void uv_disk_limit_describe(const struct uv_disk_limit *l, char *out, size_t cap);

#endif
