/* SPDX-License-Identifier: MIT */
/* Partition definitions over arbitrary text: a definition comes from whoever may talk to the
 * command or operations partition, so the parser must never read out of bounds, and its two
 * promises must hold for every input: what it accepts is a descriptor the ultravisor would
 * accept (uv_desc_validate), and what it refuses leaves the caller's descriptor untouched with
 * a sentence saying why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "desc.h"

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
	} else if (!untouched(&d) || !err[0] || !memchr(err, 0, sizeof(err))) {
		abort();
	}
	free(json);
	return 0;
}
