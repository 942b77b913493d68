/* SPDX-License-Identifier: MIT */
/* Shared by the definition parsers (desc_json.c, desc_json_req.c); not a public interface. */
#ifndef ULTRA_LIB_DESC_INT_H
#define ULTRA_LIB_DESC_INT_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <ultra/descriptor.h>

/* Formats err and returns -EINVAL. */
int uv_def_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A JSON string into dst (at most cap - 1 bytes); is_path resolves a relative path against base. */
int uv_def_string(json_object *v, const char *path, char *dst, size_t cap, const char *base,
                  int is_path, char *err, size_t errlen);
int uv_def_uint(json_object *v, const char *path, uint64_t max, uint64_t *out, char *err,
                size_t errlen);

/* desc_json_req.c: "disks", "nics" and "channels". -ENOENT when key is none of them. */
int uv_def_requests(const char *key, json_object *val, const char *base,
                    struct uv_partition_desc *d, char *err, size_t errlen);

/* desc_req.c: validates what uv_def_requests filled in (called by uv_desc_validate). */
int uv_desc_check_requests(const struct uv_partition_desc *d, int check_files, char *err,
                           size_t errlen);

/* Names of partitions and switches: non-empty, NUL-terminated within cap, [A-Za-z0-9._-] and not
 * starting with a dot, since they become file and socket names. */
int uv_desc_label_check(const char *field, const char *s, size_t cap, char *err, size_t errlen);

#endif
