/* SPDX-License-Identifier: MIT */
/* Live migration's checks and the peers' words read strictly (claim 44, docs/migration.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "migrate.h"

/* A counter QEMU reports: absent reads 0, anything but a non-negative integer is refused. */
static int get_count(json_object *o, const char *key, uint64_t *v)
{
	json_object *x;
	int64_t n;

	*v = 0;
	if (!o || !json_object_object_get_ex(o, key, &x))
		return 0;
	if (!json_object_is_type(x, json_type_int))
		return -EPROTO;
	n = json_object_get_int64(x);
	if (n < 0)
		return -EPROTO;
	*v = (uint64_t)n;
	return 0;
}

static int get_text(json_object *o, const char *key, char *buf, size_t cap, bool need)
{
	json_object *x;
	const char *s;

	buf[0] = 0;
	if (!o || !json_object_object_get_ex(o, key, &x))
		return need ? -EPROTO : 0;
	if (!json_object_is_type(x, json_type_string))
		return -EPROTO;
	s = json_object_get_string(x);
	if (need && !s[0])
		return -EPROTO;
	snprintf(buf, cap, "%s", s);
	return 0;
}

int uv_mig_progress_parse(json_object *ret, struct uv_mig_progress *out)
{
	struct uv_mig_progress p;
	json_object *ram = NULL, *x;
	int r = 0;

	if (!ret || !json_object_is_type(ret, json_type_object))
		return -EPROTO;
	memset(&p, 0, sizeof(p));
	/* Before any migration QEMU answers {} : no status is "none". */
	if (!json_object_object_get_ex(ret, "status", NULL))
		snprintf(p.status, sizeof(p.status), "none");
	else if (get_text(ret, "status", p.status, sizeof(p.status), true))
		return -EPROTO;
	if (json_object_object_get_ex(ret, "ram", &ram) &&
	    !json_object_is_type(ram, json_type_object))
		return -EPROTO;
	r |= get_text(ret, "error-desc", p.error, sizeof(p.error), false);
	r |= get_count(ret, "total-time", &p.total_ms);
	r |= get_count(ret, "downtime", &p.downtime_ms);
	r |= get_count(ret, "setup-time", &p.setup_ms);
	r |= get_count(ret, "expected-downtime", &p.expected_downtime_ms);
	r |= get_count(ram, "transferred", &p.transferred);
	r |= get_count(ram, "total", &p.ram_total);
	r |= get_count(ram, "remaining", &p.remaining);
	r |= get_count(ram, "dirty-pages-rate", &p.dirty_pages_rate);
	r |= get_count(ram, "page-size", &p.page_size);
	r |= get_count(ram, "dirty-sync-count", &p.dirty_sync_count);
	if (r)
		return -EPROTO;
	if (ram && json_object_object_get_ex(ram, "mbps", &x)) {
		if (!json_object_is_type(x, json_type_double) &&
		    !json_object_is_type(x, json_type_int))
			return -EPROTO;
		p.mbps = json_object_get_double(x);
		if (!isfinite(p.mbps) || p.mbps < 0)
			return -EPROTO;
	}
	*out = p;
	return 0;
}

bool uv_mig_status_final(const char *status)
{
	return !strcmp(status, "completed") || !strcmp(status, "failed") ||
	       !strcmp(status, "cancelled");
}

uint64_t uv_mig_dirty_bytes_per_s(const struct uv_mig_progress *p)
{
	/* Both are QEMU's: a product that overflows is nonsense, reported as the most we can. */
	if (p->page_size && p->dirty_pages_rate > UINT64_MAX / p->page_size)
		return UINT64_MAX;
	return p->dirty_pages_rate * p->page_size;
}

json_object *uv_mig_progress_json(const struct uv_mig_progress *p)
{
	json_object *o = json_object_new_object();
	uint64_t dirty = uv_mig_dirty_bytes_per_s(p);

	json_object_object_add(o, "status", json_object_new_string(p->status));
	if (p->error[0])
		json_object_object_add(o, "error", json_object_new_string(p->error));
	json_object_object_add(o, "total_ms", json_object_new_int64((int64_t)p->total_ms));
	json_object_object_add(o, "downtime_ms", json_object_new_int64((int64_t)p->downtime_ms));
	json_object_object_add(o, "setup_ms", json_object_new_int64((int64_t)p->setup_ms));
	json_object_object_add(o, "transferred_bytes",
	                       json_object_new_int64((int64_t)p->transferred));
	json_object_object_add(o, "ram_bytes", json_object_new_int64((int64_t)p->ram_total));
	json_object_object_add(o, "remaining_bytes", json_object_new_int64((int64_t)p->remaining));
	json_object_object_add(
	    o, "dirty_bytes_per_s",
	    json_object_new_int64(dirty > INT64_MAX ? INT64_MAX : (int64_t)dirty));
	json_object_object_add(o, "passes", json_object_new_int64((int64_t)p->dirty_sync_count));
	json_object_object_add(o, "mbps", json_object_new_double(p->mbps));
	return o;
}

bool uv_mig_dev_placed(const struct uv_partition_desc *d, const struct uv_device *v)
{
	const char *base = strrchr(v->path, '/');
	char want[UV_NAME_MAX + 32];
	uint32_t n, i;

	if (v->kind == UV_DEV_DIRECT_BLK)
		return true;
	if (v->kind != UV_DEV_VHOST_USER_BLK && v->kind != UV_DEV_VHOST_USER_NET)
		return false;
	base = base ? base + 1 : v->path;
	n = v->kind == UV_DEV_VHOST_USER_BLK ? d->n_disk : d->n_nic;
	for (i = 0; i < n && i < UV_DISKS_MAX && i < UV_NICS_MAX; i++) {
		/* command/place.c's names: NAME.diskN.sock, NAME.nicN.sock */
		snprintf(want, sizeof(want), "%.*s.%s%u.sock", (int)strnlen(d->name, UV_NAME_MAX),
		         d->name, v->kind == UV_DEV_VHOST_USER_BLK ? "disk" : "nic", i);
		if (!strncmp(base, want, sizeof(v->path)))
			return true;
	}
	return false;
}

const char *uv_mig_refusal(const struct uv_partition_desc *d, char *buf, size_t cap)
{
	uint32_t i;

	/* Disks and NICs the I/O partition serves migrate: ultra-io logs the pages it writes
	 * (VHOST_F_LOG_ALL, io/dirty_log.h) and the target's placement serves them again there.
	 * A channel's memory is one host's, and a vhost-user device named by its socket in the
	 * definition has a back end nobody places on the target. */
	if (d->n_chan) {
		snprintf(buf, cap,
		         "channels[0]: a memory channel is shared with a partition of this host "
		         "and cannot follow the guest to another");
		return buf;
	}
	for (i = 0; i < d->n_dev && i < UV_DEVICES_MAX; i++) {
		enum uv_dev_kind k = (enum uv_dev_kind)d->dev[i].kind;

		if ((k == UV_DEV_VHOST_USER_BLK || k == UV_DEV_VHOST_USER_NET) &&
		    !uv_mig_dev_placed(d, &d->dev[i])) {
			snprintf(buf, cap,
			         "devices[%u]: %s: a back end named by its socket is not placed on "
			         "the target (ask for disks or nics instead)",
			         i,
			         k == UV_DEV_VHOST_USER_BLK ? "vhost-user-blk" : "vhost-user-net");
			return buf;
		}
		if (k == UV_DEV_CHANNEL) {
			snprintf(
			    buf, cap,
			    "devices[%u]: a channel's memory is shared with a partition of this "
			    "host and cannot follow the guest to another",
			    i);
			return buf;
		}
	}
	return NULL;
}

int uv_mig_in_reply_parse(json_object *ret, const char *name, char *stream, size_t cap)
{
	char got[UV_NAME_MAX + 1], path[UV_MIG_PATH_MAX + 1];

	if (!ret || !json_object_is_type(ret, json_type_object) ||
	    get_text(ret, "name", got, sizeof(got), true) || strcmp(got, name) ||
	    get_text(ret, "stream", path, sizeof(path), true))
		return -EPROTO;
	/* A path that fills the buffer was cut: sun_path holds at most 107 bytes and a NUL. */
	if (path[0] != '/' || strlen(path) >= UV_MIG_PATH_MAX || strlen(path) >= cap)
		return -EPROTO;
	snprintf(stream, cap, "%s", path);
	return 0;
}
