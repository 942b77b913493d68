/* SPDX-License-Identifier: MIT */
/* Validating partition descriptors and building them from JSON definitions. */
#ifndef ULTRA_LIB_DESC_H
#define ULTRA_LIB_DESC_H

#include <stddef.h>
#include <ultra/descriptor.h>

/* Checks every field of a descriptor. Returns 0, or -EINVAL with a sentence in err naming the
 * offending field. check_files also requires kernel/initrd/image paths to exist and be readable. */
int uv_desc_validate(const struct uv_partition_desc *d, int check_files, char *err, size_t errlen);

/* Parses a definition (JSON text) into *d and validates it. Unknown keys are errors. Relative
 * paths are resolved against base_dir when it is not NULL. On failure *d is untouched. */
int uv_desc_from_json(const char *json, const char *base_dir, struct uv_partition_desc *d,
                      char *err, size_t errlen);
int uv_desc_from_file(const char *path, struct uv_partition_desc *d, char *err, size_t errlen);

const char *uv_state_name(enum uv_part_state s);
const char *uv_dev_kind_name(enum uv_dev_kind k);
const char *uv_accel_name(enum uv_accel a);

#endif
