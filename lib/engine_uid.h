/* SPDX-License-Identifier: MIT */
/*
 * Who a guest partition's execution engine is (docs/monitor.md, "The engine's identity"): every
 * partition's QEMU runs under a uid and gid of its own,
 *
 *     uid = gid = base + partition number
 *
 * with no /etc/passwd entry. The monitor drops to it before exec; whoever makes a socket the
 * engine must reach (the command partition, ultra-io) chowns it to it; ultra-io lets a
 * vhost-user client in only with that uid (SO_PEERCRED). All three take --engine-uid-base and
 * must agree: the default is the same everywhere. Partition number 0 is the ultravisor's and
 * no guest's: a stand-alone partition started without a number runs as base + 0, shared by all
 * such partitions.
 */
#ifndef ULTRA_LIB_ENGINE_UID_H
#define ULTRA_LIB_ENGINE_UID_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UV_ENGINE_UID_BASE_DEFAULT 0x70000000u /* 1879048192: above systemd's container range */
#define UV_ENGINE_UID_SPAN (1u << 24)          /* partition numbers 0 .. 2^24-1 have a uid */
#define UV_ENGINE_UID_BASE_MIN 65536u          /* never a system or login account */

/* The engine uid (= gid) of partition under base; -ERANGE if it has none (a number past the
 * span, or a sum past 2^31-1, which tools read as negative). */
int uv_engine_uid(uint32_t base, uint32_t partition, uid_t *uid);
/* A base given on a command line: decimal, at least UV_ENGINE_UID_BASE_MIN, and the whole
 * span below 2^31. -EINVAL otherwise; *base untouched on failure. */
int uv_engine_uid_base_parse(const char *s, uint32_t *base);
/* The same for the --engine-uid-base option, with the reason for a refusal in err. */
int uv_engine_uid_base_arg(const char *s, uint32_t *base, char *err, size_t errlen);

/* The uid of the process at the other end of a connected Unix socket (SO_PEERCRED: as it was
 * when it connected, whatever it did since). */
int uv_peer_uid(int fd, uid_t *uid);
/* 0 if fd's peer is want; -EACCES if not (its uid in *got), -errno if it cannot be told. */
int uv_peer_check(int fd, uid_t want, uid_t *got);

#endif
