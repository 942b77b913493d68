/* SPDX-License-Identifier: MIT */
/* Partition definitions over arbitrary text: a definition comes from whoever may talk to the
 * command or operations partition, so the parser must never read out of bounds, and its two
 * promises must hold for every input: what it accepts is a descriptor the ultravisor would
 * accept (uv_desc_validate), and what it refuses leaves the caller's descriptor untouched with
 * a sentence saying why. An accepted disk limit never has a total beside a direction of its kind
 * (claims 19, 22), and written back as a definition (uv_desc_to_def) it reads back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "desc.h"
#include "disk_limit.h"
#include "migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POISON 0x5A

static int untouched(const struct uv_partition_desc *d)
{
	const unsigned char *p = (const unsigned char *)d;

	for (size_t i = 0; i < sizeof(*d); i++)
		if (p[i] != POISON)
			return 0;
	return 1;
}

/* The limits as a definition again (what ultra-ops stores): the same six kinds come back. Other
 * fields may not survive a second parse on their own terms (that is not this check's business),
 * so only a definition that parses again is compared. */
static void limits_round_trip(const struct uv_partition_desc *d)
{
	static struct uv_partition_desc back;
	json_object *def = NULL;
	char err[256];

	for (unsigned i = 0; i < UV_DISKS_MAX; i++)
		if (uv_disk_limit_check(&d->disk_limit[i], "limits", NULL, 0))
			abort();
	if (uv_desc_to_def(d, &def))
		return;
	if (uv_desc_from_json(json_object_to_json_string(def), "/fuzz/base", &back, err,
	                      sizeof(err)) == 0)
		for (unsigned i = 0; i < d->n_disk && i < UV_DISKS_MAX; i++)
			if (!uv_disk_limit_equal(&back.disk_limit[i], &d->disk_limit[i]))
				abort();
	json_object_put(def);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct uv_partition_desc d; /* large: off the fuzzer's stack */
	char *json = malloc(size + 1), err[256], again[256];

	if (!json)
		return 0;
	memcpy(json, data, size);
	json[size] = 0;
	memset(&d, POISON, sizeof(d));
	memset(err, 0, sizeof(err));
	if (uv_desc_from_json(json, "/fuzz/base", &d, err, sizeof(err)) == 0) {
		if (uv_desc_validate(&d, 0, again, sizeof(again)) != 0)
			abort(); /* accepted something the ultravisor would refuse */
		limits_round_trip(&d);
	} else if (!untouched(&d) || !err[0] || !memchr(err, 0, sizeof(err))) {
		abort();
	}
	free(json);
	return 0;
}
