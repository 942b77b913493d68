/* SPDX-License-Identifier: MIT */
/*
 * A descriptor back to its definition (docs/definitions.md), for the host a partition migrates to
 * (claim 44): the target defines the partition from what the user wrote, not from what this
 * host's placement made of it, so direct-blk grants and the served disks' and NICs' sockets are
 * left out and the disk, NIC and channel requests that made them are kept.
 */
#include <errno.h>
#include <string.h>

#include "desc.h"
#include "disk_limit.h"
#include "migrate.h"

static void add_str(json_object *o, const char *key, const char *s, size_t cap)
{
	json_object_object_add(o, key, json_object_new_string_len(s, (int)strnlen(s, cap)));
}

static json_object *devices(const struct uv_partition_desc *d)
{
	json_object *a = json_object_new_array();

	for (uint32_t i = 0; i < d->n_dev && i < UV_DEVICES_MAX; i++) {
		const struct uv_device *v = &d->dev[i];
		json_object *o;

		/* Placement's grants: the requests below make them again on the target. */
		if (v->kind == UV_DEV_NONE || v->kind > UV_DEV_KIND_MAX || uv_mig_dev_placed(d, v))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "kind",
		                       json_object_new_string(uv_dev_kind_name(v->kind)));
		if (v->kind != UV_DEV_RNG)
			add_str(o, "path", v->path, sizeof(v->path));
		if (v->flags & UV_DEV_F_READONLY)
			json_object_object_add(o, "readonly", json_object_new_boolean(1));
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *disks(const struct uv_partition_desc *d)
{
	json_object *a = json_object_new_array();

	for (uint32_t i = 0; i < d->n_disk && i < UV_DISKS_MAX; i++) {
		const struct uv_disk_limit *l = &d->disk_limit[i];
		json_object *o = json_object_new_object(), *lim;

		add_str(o, "image", d->disk[i].image, sizeof(d->disk[i].image));
		json_object_object_add(
		    o, "readonly",
		    json_object_new_boolean(!!(d->disk[i].flags & UV_DEV_F_READONLY)));
		json_object_object_add(
		    o, "direct", json_object_new_boolean(!!(d->disk[i].flags & UV_DISK_F_DIRECT)));
		if (!uv_disk_limit_none(l)) {
			lim = json_object_new_object();
			for (unsigned k = 0; k < UV_DISK_LIMIT_KEYS; k++)
				if (uv_disk_limit_get(l, k))
					json_object_object_add(
					    lim, uv_disk_limit_key(k),
					    json_object_new_int64(
						(int64_t)uv_disk_limit_get(l, k)));
			json_object_object_add(o, "limits", lim);
		}
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *nics_and_channels(const struct uv_partition_desc *d, int nics)
{
	json_object *a = json_object_new_array();
	uint32_t n = nics ? d->n_nic : d->n_chan, max = nics ? UV_NICS_MAX : UV_CHANNELS_MAX;

	for (uint32_t i = 0; i < n && i < max; i++) {
		json_object *o = json_object_new_object();

		if (nics) {
			add_str(o, "switch", d->nic[i].sw, sizeof(d->nic[i].sw));
		} else {
			add_str(o, "peer", d->chan[i].peer, sizeof(d->chan[i].peer));
			json_object_object_add(
			    o, "size_kib", json_object_new_int64((int64_t)(d->chan[i].size >> 10)));
		}
		json_object_array_add(a, o);
	}
	return a;
}

int uv_desc_to_def(const struct uv_partition_desc *d, json_object **out)
{
	json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	add_str(o, "name", d->name, sizeof(d->name));
	json_object_object_add(o, "memory_mib",
	                       json_object_new_int64((int64_t)(d->mem_bytes >> 20)));
	json_object_object_add(o, "vcpus", json_object_new_int64(d->vcpus));
	if (d->cpu_share_milli)
		json_object_object_add(o, "cpu_share",
		                       json_object_new_double(d->cpu_share_milli / 1000.0));
	json_object_object_add(o, "accel",
	                       json_object_new_string(uv_accel_name((enum uv_accel)d->accel)));
	add_str(o, "kernel", d->kernel, sizeof(d->kernel));
	if (d->initrd[0])
		add_str(o, "initrd", d->initrd, sizeof(d->initrd));
	add_str(o, "cmdline", d->cmdline, sizeof(d->cmdline));
	json_object_object_add(o, "devices", devices(d));
	json_object_object_add(o, "disks", disks(d));
	json_object_object_add(o, "nics", nics_and_channels(d, 1));
	json_object_object_add(o, "channels", nics_and_channels(d, 0));
	*out = o;
	return 0;
}
