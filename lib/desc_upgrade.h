/* SPDX-License-Identifier: MIT */
/* Reading a partition descriptor written by an earlier build (descriptor versions 1 to 3). */
#ifndef ULTRA_LIB_DESC_UPGRADE_H
#define ULTRA_LIB_DESC_UPGRADE_H

#include <stddef.h>
#include <stdint.h>
#include <ultra/descriptor.h>

/* The exact size a descriptor of this version has on disk, or 0 for a version this build does
 * not know (0, or newer than UV_DESC_VERSION). */
size_t uv_desc_version_size(uint32_t version);

/* How many bytes the descriptor starting at buf claims to occupy: the size its own header names
 * when that header (magic, version, size) is one this build can read, 0 otherwise. Needs at
 * least the 12 header bytes in len. */
size_t uv_desc_stored_size(const void *buf, size_t len);

/*
 * Turns the len bytes at buf, a whole descriptor of any known version, into a current one: every
 * field the old version had is copied, every field it lacked is zero (no disk, NIC or channel
 * requests, no disk limits; a version 3 limit is the total), and version and size become the
 * current ones. The fields are not otherwise checked here: uv_desc_validate() does that on the
 * result. Returns 0, or -EINVAL with a sentence in err naming the stored and the current version
 * (bad magic, unknown or newer version, size not that of its version, len not that size). On
 * failure *out is untouched.
 */
int uv_desc_upgrade(const void *buf, size_t len, struct uv_partition_desc *out, char *err,
                    size_t errlen);

#endif
