/* SPDX-License-Identifier: MIT */
/* Partition definitions (JSON) -> partition descriptors. Every error names the field's path. */
#include "def_policy.h"
#include "desc.h"
#include "desc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEF_MAX_BYTES (1 << 20)
/* Short local names for the helpers desc_json_req.c shares (desc_int.h). */
#define fail uv_def_fail
#define get_string uv_def_string
#define get_uint uv_def_uint

int uv_def_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int uv_def_string(json_object *v, const char *path, char *dst, size_t cap, const char *base,
                  int is_path, char *err, size_t errlen)
{
	const char *s;
	int n;

	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, "%s: expected a string", path);
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return fail(err, errlen, "%s: contains a NUL byte", path);
	if (is_path && base && s[0] && s[0] != '/')
		n = snprintf(dst, cap, "%s/%s", base, s);
	else
		n = snprintf(dst, cap, "%s", s);
	if (n < 0 || (size_t)n >= cap)
		return fail(err, errlen, "%s: longer than %zu characters", path, cap - 1);
	return 0;
}

int uv_def_uint(json_object *v, const char *path, uint64_t max, uint64_t *out, char *err,
                size_t errlen)
{
	int64_t x;

	if (!json_object_is_type(v, json_type_int))
		return fail(err, errlen, "%s: expected an integer", path);
	errno = 0;
	x = json_object_get_int64(v);
	if (errno || x < 0 || (uint64_t)x > max)
		return fail(err, errlen, "%s: %s is out of range 0..%llu", path,
		            json_object_to_json_string(v), (unsigned long long)max);
	*out = (uint64_t)x;
	return 0;
}

static int parse_device(json_object *o, unsigned idx, const char *base, struct uv_device *dev,
                        char *err, size_t errlen)
{
	char path[64];
	int have_kind = 0, r;

	if (!json_object_is_type(o, json_type_object))
		return fail(err, errlen, "devices[%u]: expected an object", idx);
	memset(dev, 0, sizeof(*dev));
	json_object_object_foreach(o, key, val)
	{
		snprintf(path, sizeof(path), "devices[%u].%s", idx, key);
		if (!strcmp(key, "kind")) {
			const char *k;
			unsigned i;

			if (!json_object_is_type(val, json_type_string))
				return fail(err, errlen, "%s: expected a string", path);
			k = json_object_get_string(val);
			for (i = 1; i <= UV_DEV_KIND_MAX; i++)
				if (!strcmp(k, uv_dev_kind_name(i)))
					break;
			if (i > UV_DEV_KIND_MAX)
				return fail(
				    err, errlen,
				    "%s: unknown device kind \"%s\" (rng, blk, vhost-user-blk, "
				    "vhost-user-net, channel, direct-blk)",
				    path, k);
			dev->kind = i;
			have_kind = 1;
		} else if (!strcmp(key, "path")) {
			if ((r = get_string(val, path, dev->path, sizeof(dev->path), base, 1, err,
			                    errlen)))
				return r;
		} else if (!strcmp(key, "readonly")) {
			if (!json_object_is_type(val, json_type_boolean))
				return fail(err, errlen, "%s: expected true or false", path);
			if (json_object_get_boolean(val))
				dev->flags |= UV_DEV_F_READONLY;
		} else {
			return fail(err, errlen, "%s: unknown key", path);
		}
	}
	if (!have_kind)
		return fail(err, errlen, "devices[%u].kind: missing", idx);
	return 0;
}

static int parse_top(json_object *root, const char *base, struct uv_partition_desc *d, char *err,
                     size_t errlen)
{
	uint64_t u;
	int r, have_name = 0, have_mem = 0, have_kernel = 0;

	if (!json_object_is_type(root, json_type_object))
		return fail(err, errlen, "definition: expected a JSON object");
	d->magic = UV_DESC_MAGIC;
	d->version = UV_DESC_VERSION;
	d->size = sizeof(*d);
	d->vcpus = 1;
	json_object_object_foreach(root, key, val)
	{
		if (!strcmp(key, "name")) {
			if ((r = get_string(val, "name", d->name, sizeof(d->name), NULL, 0, err,
			                    errlen)))
				return r;
			have_name = 1;
		} else if (!strcmp(key, "memory_mib")) {
			if ((r = get_uint(val, "memory_mib", UV_MEM_MAX >> 20, &u, err, errlen)))
				return r;
			d->n_mem = 1;
			d->mem[0].size = u << 20;
			d->mem_bytes = u << 20;
			have_mem = 1;
		} else if (!strcmp(key, "vcpus")) {
			if ((r = get_uint(val, "vcpus", UINT32_MAX, &u, err, errlen)))
				return r;
			d->vcpus = (uint32_t)u;
		} else if (!strcmp(key, "cpu_share")) {
			double x;

			if (!json_object_is_type(val, json_type_double) &&
			    !json_object_is_type(val, json_type_int))
				return fail(err, errlen, "cpu_share: expected a number of CPUs");
			x = json_object_get_double(val);
			if (!isfinite(x) || x < 0.001 || x > UV_VCPUS_MAX)
				return fail(err, errlen, "cpu_share: %s is out of range 0.001..%d",
				            json_object_to_json_string(val), UV_VCPUS_MAX);
			d->cpu_share_milli = (uint32_t)llround(x * 1000.0);
		} else if (!strcmp(key, "accel")) {
			const char *a;

			if (!json_object_is_type(val, json_type_string))
				return fail(err, errlen,
				            "accel: expected \"auto\", \"kvm\" or \"tcg\"");
			a = json_object_get_string(val);
			if (!strcmp(a, "auto"))
				d->accel = UV_ACCEL_AUTO;
			else if (!strcmp(a, "kvm"))
				d->accel = UV_ACCEL_KVM;
			else if (!strcmp(a, "tcg"))
				d->accel = UV_ACCEL_TCG;
			else
				return fail(err, errlen,
				            "accel: \"%s\" is not \"auto\", \"kvm\" or \"tcg\"", a);
		} else if (!strcmp(key, "kernel")) {
			if ((r = get_string(val, "kernel", d->kernel, sizeof(d->kernel), base, 1,
			                    err, errlen)))
				return r;
			have_kernel = 1;
		} else if (!strcmp(key, "initrd")) {
			if ((r = get_string(val, "initrd", d->initrd, sizeof(d->initrd), base, 1,
			                    err, errlen)))
				return r;
		} else if (!strcmp(key, "cmdline")) {
			if ((r = get_string(val, "cmdline", d->cmdline, sizeof(d->cmdline), NULL, 0,
			                    err, errlen)))
				return r;
		} else if (!strcmp(key, "devices")) {
			size_t i, n;

			if (!json_object_is_type(val, json_type_array))
				return fail(err, errlen, "devices: expected an array");
			n = json_object_array_length(val);
			if (n > UV_DEVICES_MAX)
				return fail(err, errlen, "devices: %zu devices, at most %d", n,
				            UV_DEVICES_MAX);
			for (i = 0; i < n; i++)
				if ((r = parse_device(json_object_array_get_idx(val, i),
				                      (unsigned)i, base, &d->dev[i], err, errlen)))
					return r;
			d->n_dev = (uint32_t)n;
		} else if ((r = uv_def_requests(key, val, base, d, err, errlen)) != -ENOENT) {
			if (r)
				return r;
		} else if (uv_def_policy_key(key)) {
			/* The operations partition's (lib/def_policy.c): checked, not kept here. */
			if ((r = uv_def_policy_check(key, val, err, errlen)))
				return r;
		} else {
			return fail(err, errlen, "%s: unknown key", key);
		}
	}
	if (!have_name)
		return fail(err, errlen, "name: missing");
	if (!have_mem)
		return fail(err, errlen, "memory_mib: missing");
	if (!have_kernel)
		return fail(err, errlen, "kernel: missing");
	return 0;
}

int uv_desc_from_json(const char *json, const char *base_dir, struct uv_partition_desc *d,
                      char *err, size_t errlen)
{
	struct json_tokener *tok = NULL;
	json_object *root = NULL;
	struct uv_partition_desc *tmp = NULL;
	int r;

	tmp = calloc(1, sizeof(*tmp));
	tok = json_tokener_new();
	if (!tmp || !tok) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	root = json_tokener_parse_ex(tok, json, (int)strnlen(json, DEF_MAX_BYTES));
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    tok->char_offset != (int)strnlen(json, DEF_MAX_BYTES)) {
		r = fail(err, errlen, "definition: not valid JSON at byte %d: %s", tok->char_offset,
		         json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	if ((r = parse_top(root, base_dir, tmp, err, errlen)))
		goto out;
	if ((r = uv_desc_validate(tmp, 0, err, errlen)))
		goto out;
	*d = *tmp;
out:
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	free(tmp);
	return r;
}

int uv_desc_from_file(const char *path, struct uv_partition_desc *d, char *err, size_t errlen)
{
	char *buf = NULL, *dir = NULL, *slash;
	ssize_t n;
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || st.st_size >= DEF_MAX_BYTES) {
		r = fail(err, errlen, "%s: not a definition file under 1 MiB", path);
		goto out;
	}
	buf = calloc(1, (size_t)st.st_size + 1);
	dir = realpath(path, NULL);
	if (!buf || !dir) {
		r = -ENOMEM;
		snprintf(err, errlen, "%s: cannot read", path);
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		r = fail(err, errlen, "%s: short read", path);
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	r = uv_desc_from_json(buf, dir, d, err, errlen);
out:
	free(buf);
	free(dir);
	close(fd);
	return r;
}
