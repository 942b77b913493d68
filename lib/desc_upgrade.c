/* SPDX-License-Identifier: MIT */
/*
 * Descriptor versions as they were written to the audit log and snapshots (claims 31, 32): up to
 * version 3 each version only appended fields, so what an older descriptor has up to the disk
 * limits is a prefix of the current layout and the rest is zero. Version 4 widened each disk's
 * limit (reads and writes apart): a version 3 limit is read from its own 16 bytes and becomes
 * the total, which is what it always meant.
 */
#include "desc_upgrade.h"

#include <string.h>

#include "desc_int.h"
#include "disk_limit.h"

/* Where each version ended: 1 before the disk/NIC/channel requests, 2 before the disk limits,
 * 3 after four 16-byte limits (totals only). */
#define DESC_V1_SIZE ((size_t)offsetof(struct uv_partition_desc, n_disk))
#define DESC_V2_SIZE ((size_t)offsetof(struct uv_partition_desc, disk_limit))
#define DESC_V3_SIZE (DESC_V2_SIZE + UV_DISKS_MAX * (size_t)UV_DISK_LIMIT_V3_SIZE)

_Static_assert(DESC_V1_SIZE == 5520, "descriptor v1 ended at 5520 bytes");
_Static_assert(DESC_V2_SIZE == 7072, "descriptor v2 ended at 7072 bytes");
_Static_assert(DESC_V3_SIZE == 7136, "descriptor v3 ended at 7136 bytes");
_Static_assert(UV_DESC_VERSION == 4, "a new descriptor version needs its size listed here");

struct desc_head {
	uint32_t magic;
	uint32_t version;
	uint32_t size;
};

size_t uv_desc_version_size(uint32_t version)
{
	switch (version) {
	case 1:
		return DESC_V1_SIZE;
	case 2:
		return DESC_V2_SIZE;
	case 3:
		return DESC_V3_SIZE;
	case UV_DESC_VERSION:
		return sizeof(struct uv_partition_desc);
	default:
		return 0;
	}
}

size_t uv_desc_stored_size(const void *buf, size_t len)
{
	struct desc_head h;
	size_t want;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	want = uv_desc_version_size(h.version);
	return h.magic == UV_DESC_MAGIC && want && h.size == want ? want : 0;
}

int uv_desc_upgrade(const void *buf, size_t len, struct uv_partition_desc *out, char *err,
                    size_t errlen)
{
	struct uv_partition_desc d;
	struct desc_head h;
	size_t want;

	if (len < sizeof(h))
		return uv_def_fail(err, errlen, "descriptor: %zu bytes, too short for a header",
		                   len);
	memcpy(&h, buf, sizeof(h));
	if (h.magic != UV_DESC_MAGIC)
		return uv_def_fail(err, errlen, "descriptor: bad magic 0x%08x", h.magic);
	if (h.version > UV_DESC_VERSION)
		return uv_def_fail(err, errlen,
		                   "descriptor: version %u is newer than this build's version %u",
		                   h.version, UV_DESC_VERSION);
	want = uv_desc_version_size(h.version);
	if (!want)
		return uv_def_fail(err, errlen,
		                   "descriptor: unknown version %u (this build reads 1 to %u)",
		                   h.version, UV_DESC_VERSION);
	if (h.size != want)
		return uv_def_fail(err, errlen,
		                   "descriptor: version %u says size %u, version %u is %zu bytes",
		                   h.version, h.size, h.version, want);
	if (len != want)
		return uv_def_fail(err, errlen,
		                   "descriptor: version %u is %zu bytes, record holds %zu",
		                   h.version, want, len);
	memset(&d, 0, sizeof(d));
	memcpy(&d, buf, h.version == 3 ? DESC_V2_SIZE : want);
	for (unsigned i = 0; h.version == 3 && i < UV_DISKS_MAX; i++)
		d.disk_limit[i] = uv_disk_limit_from_v3((const unsigned char *)buf + DESC_V2_SIZE +
		                                        i * UV_DISK_LIMIT_V3_SIZE);
	d.version = UV_DESC_VERSION;
	d.size = sizeof(d);
	*out = d;
	return 0;
}
