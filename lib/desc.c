/* SPDX-License-Identifier: MIT */
#include "desc.h"
#include "desc_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int str_ok(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

static int path_check(const char *field, const char *p, int must_exist, char *err, size_t errlen)
{
	if (!str_ok(p, UV_PATH_MAX))
		return fail(err, errlen, "%s: path is not NUL-terminated", field);
	if (!p[0])
		return fail(err, errlen, "%s: path is empty", field);
	if (must_exist && access(p, R_OK) != 0)
		return fail(err, errlen, "%s: %s: %s", field, p, strerror(errno));
	return 0;
}

/* ivshmem exposes the memory object as a PCI BAR, and BAR sizes are powers of two. */
static int channel_check(const char *field, const char *p, char *err, size_t errlen)
{
	struct stat st;
	uint64_t sz;

	if (stat(p, &st) != 0)
		return fail(err, errlen, "%s: %s: %s", field, p, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, "%s: %s: channel memory must be a regular file", field, p);
	sz = (uint64_t)st.st_size;
	if (sz < UV_CHAN_MEM_MIN || (sz & (sz - 1)))
		return fail(err, errlen,
		            "%s: %s: channel memory is %llu bytes; it must be a power of two of at "
		            "least %u bytes (an ivshmem BAR)",
		            field, p, (unsigned long long)sz, UV_CHAN_MEM_MIN);
	if (sz > UV_CHAN_MEM_MAX)
		return fail(err, errlen, "%s: %s: channel memory is %llu bytes, at most %llu",
		            field, p, (unsigned long long)sz, (unsigned long long)UV_CHAN_MEM_MAX);
	return 0;
}

static int name_check(const char *name, char *err, size_t errlen)
{
	return uv_desc_label_check("name", name, UV_NAME_MAX, err, errlen);
}

static int mem_check(const struct uv_partition_desc *d, char *err, size_t errlen)
{
	uint64_t total = 0, next_gpa = 0;
	uint32_t i;

	if (d->n_mem == 0)
		return fail(err, errlen, "memory: no memory granted");
	if (d->n_mem > UV_MEM_REGIONS_MAX)
		return fail(err, errlen, "memory: %u regions, at most %d", d->n_mem,
		            UV_MEM_REGIONS_MAX);
	for (i = 0; i < d->n_mem; i++) {
		const struct uv_mem_region *r = &d->mem[i];
		if (r->size == 0)
			return fail(err, errlen, "memory[%u]: size is zero", i);
		if (r->size % UV_MEM_ALIGN || r->guest_phys % UV_MEM_ALIGN ||
		    r->pool_offset % UV_MEM_ALIGN)
			return fail(err, errlen,
			            "memory[%u]: size and addresses must be multiples of 1 MiB", i);
		/* Regions tile guest RAM from 0 in order: the layout QEMU gives a single backend.
		 */
		if (r->guest_phys != next_gpa)
			return fail(
			    err, errlen, "memory[%u]: guest address 0x%llx, expected 0x%llx", i,
			    (unsigned long long)r->guest_phys, (unsigned long long)next_gpa);
		if (r->size > UV_MEM_MAX || total + r->size > UV_MEM_MAX)
			return fail(err, errlen, "memory: more than %llu GiB",
			            (unsigned long long)(UV_MEM_MAX >> 30));
		total += r->size;
		next_gpa += r->size;
	}
	if (total != d->mem_bytes)
		return fail(err, errlen,
		            "memory: regions add up to %llu bytes, descriptor says %llu",
		            (unsigned long long)total, (unsigned long long)d->mem_bytes);
	if (total < UV_MEM_MIN)
		return fail(err, errlen, "memory: %llu MiB is too little, at least %llu MiB",
		            (unsigned long long)(total >> 20),
		            (unsigned long long)(UV_MEM_MIN >> 20));
	return 0;
}

int uv_desc_validate(const struct uv_partition_desc *d, int check_files, char *err, size_t errlen)
{
	uint32_t i;
	int r;

	if (d->magic != UV_DESC_MAGIC)
		return fail(err, errlen, "descriptor: bad magic 0x%08x", d->magic);
	if (d->version != UV_DESC_VERSION)
		return fail(err, errlen, "descriptor: version %u, this build knows %u", d->version,
		            UV_DESC_VERSION);
	if (d->size != sizeof(*d))
		return fail(err, errlen, "descriptor: size %u, expected %zu", d->size, sizeof(*d));
	if ((r = name_check(d->name, err, errlen)))
		return r;
	if (d->vcpus < 1 || d->vcpus > UV_VCPUS_MAX)
		return fail(err, errlen, "vcpus: %u is out of range 1..%d", d->vcpus, UV_VCPUS_MAX);
	if (d->cpu_share_milli > d->vcpus * 1000u)
		return fail(err, errlen,
		            "cpu_share: %u.%03u CPUs is more than its %u vCPUs can use",
		            d->cpu_share_milli / 1000, d->cpu_share_milli % 1000, d->vcpus);
	if (d->accel > UV_ACCEL_TCG)
		return fail(err, errlen, "accel: unknown value %u", d->accel);
	if (d->state > UV_STATE_MAX)
		return fail(err, errlen, "state: unknown value %u", d->state);
	if ((r = mem_check(d, err, errlen)))
		return r;
	if ((r = path_check("kernel", d->kernel, check_files, err, errlen)))
		return r;
	if (d->initrd[0] && (r = path_check("initrd", d->initrd, check_files, err, errlen)))
		return r;
	if (!str_ok(d->cmdline, UV_CMDLINE_MAX))
		return fail(err, errlen, "cmdline: longer than %d characters", UV_CMDLINE_MAX - 1);
	if (d->n_dev > UV_DEVICES_MAX)
		return fail(err, errlen, "devices: %u devices, at most %d", d->n_dev,
		            UV_DEVICES_MAX);
	for (i = 0; i < d->n_dev; i++) {
		const struct uv_device *v = &d->dev[i];
		char field[32];
		int file;

		snprintf(field, sizeof(field), "devices[%u].path", i);
		if (v->kind == UV_DEV_NONE || v->kind > UV_DEV_KIND_MAX)
			return fail(err, errlen, "devices[%u].kind: unknown value %u", i, v->kind);
		if (v->flags & ~UV_DEV_F_READONLY)
			return fail(err, errlen, "devices[%u].flags: unknown bits 0x%x", i,
			            v->flags);
		if (v->kind == UV_DEV_RNG)
			continue;
		file = v->kind == UV_DEV_BLK || v->kind == UV_DEV_DIRECT_BLK;
		if ((r = path_check(field, v->path, check_files && file, err, errlen)))
			return r;
		if (v->kind == UV_DEV_CHANNEL && check_files &&
		    (r = channel_check(field, v->path, err, errlen)))
			return r;
	}
	return uv_desc_check_requests(d, check_files, err, errlen);
}

const char *uv_state_name(enum uv_part_state s)
{
	static const char *const names[] = {
	    [UV_STATE_DEFINED] = "defined",     [UV_STATE_STARTING] = "starting",
	    [UV_STATE_RUNNING] = "running",     [UV_STATE_PAUSED] = "paused",
	    [UV_STATE_STOPPING] = "stopping",   [UV_STATE_STOPPED] = "stopped",
	    [UV_STATE_CRASHED] = "crashed",     [UV_STATE_INCOMING] = "incoming",
	    [UV_STATE_MIGRATING] = "migrating",
	};
	if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[s];
}

const char *uv_dev_kind_name(enum uv_dev_kind k)
{
	static const char *const names[] = {
	    [UV_DEV_NONE] = "none",
	    [UV_DEV_RNG] = "rng",
	    [UV_DEV_BLK] = "blk",
	    [UV_DEV_VHOST_USER_BLK] = "vhost-user-blk",
	    [UV_DEV_VHOST_USER_NET] = "vhost-user-net",
	    [UV_DEV_CHANNEL] = "channel",
	    [UV_DEV_DIRECT_BLK] = "direct-blk",
	};
	if ((unsigned)k >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[k];
}

const char *uv_accel_name(enum uv_accel a)
{
	switch (a) {
	case UV_ACCEL_AUTO:
		return "auto";
	case UV_ACCEL_KVM:
		return "kvm";
	case UV_ACCEL_TCG:
		return "tcg";
	}
	return "unknown";
}
