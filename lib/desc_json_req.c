/* SPDX-License-Identifier: MIT */
/*
 * The definition keys that ask the command partition to place something at start (issue 6 item
 * 1, docs/definitions.md):
 *
 *   "disks":    [{"image": PATH, "readonly": BOOL,        served by an I/O partition, or
 *                 "direct": BOOL,                         (direct) by the engine, fast path;
 *                 "limits": {"iops": N,                   at most N requests and B bytes a
 *                            "bytes_per_sec": B,          second, reads and writes together;
 *                            "read_iops": N, ...}}]       or each direction apart (claims 19,
 *                                                         22; lib/disk_limit.h for the keys)
 *   "nics":     [{"switch": NAME}]                         a port of that switch
 *   "channels": [{"peer": PARTITION, "size_kib": N}]       a memory channel to PARTITION
 *
 * Every error names the field's path (disks[1].image); unknown keys are refused.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "desc_int.h"
#include "disk_limit.h"

#define CHAN_KIB_DEFAULT 64u

typedef int (*item_fn)(json_object *o, const char *at, const char *base,
                       struct uv_partition_desc *d, unsigned idx, char *err, size_t errlen);

static int limit_value(json_object *v, const char *path, uint64_t max, uint64_t *out, char *err,
                       size_t errlen)
{
	int r = uv_def_uint(v, path, max, out, err, errlen);

	if (!r && *out == 0)
		return uv_def_fail(err, errlen, "%s: must be positive (leave it out for no limit)",
		                   path);
	return r;
}

static int disk_limits(json_object *o, const char *at, struct uv_disk_limit *l, char *err,
                       size_t errlen)
{
	struct uv_disk_limit got = {0};
	char path[80];
	uint64_t v;
	int r, i;

	if (!json_object_is_type(o, json_type_object))
		return uv_def_fail(err, errlen, "%s: expected an object", at);
	json_object_object_foreach(o, key, val)
	{
		snprintf(path, sizeof(path), "%s.%s", at, key);
		if ((i = uv_disk_limit_key_index(key)) < 0)
			return uv_def_fail(err, errlen, "%s: unknown key (%s)", path,
			                   UV_DISK_LIMIT_KEY_LIST);
		if ((r = limit_value(val, path, uv_disk_limit_max((unsigned)i), &v, err, errlen)))
			return r;
		uv_disk_limit_set(&got, (unsigned)i, v);
	}
	if ((r = uv_disk_limit_check(&got, at, err, errlen)))
		return r;
	*l = got;
	return 0;
}

static int disk_item(json_object *o, const char *at, const char *base, struct uv_partition_desc *d,
                     unsigned idx, char *err, size_t errlen)
{
	struct uv_disk_req *k = &d->disk[idx];
	char path[64];
	int have_image = 0, r;

	json_object_object_foreach(o, key, val)
	{
		snprintf(path, sizeof(path), "%s.%s", at, key);
		if (!strcmp(key, "image")) {
			if ((r = uv_def_string(val, path, k->image, sizeof(k->image), base, 1, err,
			                       errlen)))
				return r;
			have_image = 1;
		} else if (!strcmp(key, "readonly")) {
			if (!json_object_is_type(val, json_type_boolean))
				return uv_def_fail(err, errlen, "%s: expected true or false", path);
			k->flags &= ~UV_DEV_F_READONLY;
			k->flags |= json_object_get_boolean(val) ? UV_DEV_F_READONLY : 0;
		} else if (!strcmp(key, "direct")) {
			if (!json_object_is_type(val, json_type_boolean))
				return uv_def_fail(err, errlen, "%s: expected true or false", path);
			k->flags &= ~UV_DISK_F_DIRECT;
			k->flags |= json_object_get_boolean(val) ? UV_DISK_F_DIRECT : 0;
		} else if (!strcmp(key, "limits")) {
			if ((r = disk_limits(val, path, &d->disk_limit[idx], err, errlen)))
				return r;
		} else {
			return uv_def_fail(err, errlen, "%s: unknown key", path);
		}
	}
	if (!have_image)
		return uv_def_fail(err, errlen, "%s.image: missing", at);
	return 0;
}

static int nic_item(json_object *o, const char *at, const char *base, struct uv_partition_desc *d,
                    unsigned idx, char *err, size_t errlen)
{
	struct uv_nic_req *n = &d->nic[idx];
	char path[64];
	int r;

	(void)base;
	snprintf(n->sw, sizeof(n->sw), "default");
	json_object_object_foreach(o, key, val)
	{
		snprintf(path, sizeof(path), "%s.%s", at, key);
		if (strcmp(key, "switch"))
			return uv_def_fail(err, errlen, "%s: unknown key", path);
		if ((r = uv_def_string(val, path, n->sw, sizeof(n->sw), NULL, 0, err, errlen)))
			return r;
	}
	return 0;
}

static int chan_item(json_object *o, const char *at, const char *base, struct uv_partition_desc *d,
                     unsigned idx, char *err, size_t errlen)
{
	struct uv_chan_req *c = &d->chan[idx];
	char path[64];
	uint64_t kib = CHAN_KIB_DEFAULT;
	int have_peer = 0, r;

	(void)base;
	json_object_object_foreach(o, key, val)
	{
		snprintf(path, sizeof(path), "%s.%s", at, key);
		if (!strcmp(key, "peer")) {
			if ((r = uv_def_string(val, path, c->peer, sizeof(c->peer), NULL, 0, err,
			                       errlen)))
				return r;
			have_peer = 1;
		} else if (!strcmp(key, "size_kib")) {
			if ((r = uv_def_uint(val, path, UV_CHAN_MEM_MAX >> 10, &kib, err, errlen)))
				return r;
		} else {
			return uv_def_fail(err, errlen, "%s: unknown key", path);
		}
	}
	if (!have_peer)
		return uv_def_fail(err, errlen, "%s.peer: missing", at);
	c->size = kib << 10;
	return 0;
}

static int parse_list(const char *key, json_object *val, unsigned max, item_fn fn, const char *base,
                      struct uv_partition_desc *d, uint32_t *count, char *err, size_t errlen)
{
	char at[32];
	size_t i, n;
	int r;

	if (!json_object_is_type(val, json_type_array))
		return uv_def_fail(err, errlen, "%s: expected an array", key);
	n = json_object_array_length(val);
	if (n > max)
		return uv_def_fail(err, errlen, "%s: %zu entries, at most %u", key, n, max);
	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(val, i);

		snprintf(at, sizeof(at), "%s[%zu]", key, i);
		if (!json_object_is_type(o, json_type_object))
			return uv_def_fail(err, errlen, "%s: expected an object", at);
		if ((r = fn(o, at, base, d, (unsigned)i, err, errlen)))
			return r;
	}
	*count = (uint32_t)n;
	return 0;
}

int uv_def_requests(const char *key, json_object *val, const char *base,
                    struct uv_partition_desc *d, char *err, size_t errlen)
{
	if (!strcmp(key, "disks"))
		return parse_list(key, val, UV_DISKS_MAX, disk_item, base, d, &d->n_disk, err,
		                  errlen);
	if (!strcmp(key, "nics"))
		return parse_list(key, val, UV_NICS_MAX, nic_item, base, d, &d->n_nic, err, errlen);
	if (!strcmp(key, "channels"))
		return parse_list(key, val, UV_CHANNELS_MAX, chan_item, base, d, &d->n_chan, err,
		                  errlen);
	return -ENOENT;
}
