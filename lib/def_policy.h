/* SPDX-License-Identifier: MIT */
/*
 * The keys of a partition definition that belong to the operations partition, not to the
 * partition's descriptor (claims 35, 37): "domain" (the name of a domain it belongs to) and
 * "autostart" (started whenever the system is) and "zone" (the zone whose hosts may run it,
 * claim 42). The command partition never sees them.
 */
#ifndef ULTRA_LIB_DEF_POLICY_H
#define ULTRA_LIB_DEF_POLICY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include <ultra/descriptor.h>

struct uv_def_policy {
	char domain[UV_NAME_MAX]; /* "" = none */
	bool autostart;
	char zone[UV_NAME_MAX]; /* "" = any zone */
};

/* 1 if key is one of the operations partition's keys. */
int uv_def_policy_key(const char *key);
/* Checks one of them; -EINVAL with a sentence naming the key. */
int uv_def_policy_check(const char *key, json_object *val, char *err, size_t errlen);
/* Checks and removes the keys from def into *out (zeroed first). On failure def and *out are
 * untouched. */
int uv_def_policy_take(json_object *def, struct uv_def_policy *out, char *err, size_t errlen);

#endif
