/* SPDX-License-Identifier: MIT */
/* The peers' words in a live migration (claim 44): QEMU's query-migrate answer and the target
 * command partition's migrate-in reply, as arbitrary bytes. Neither reader may crash, and what
 * they accept must hold what they promise (a terminated status, an absolute path that fits
 * sun_path). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new();
	struct uv_mig_progress p;
	char stream[UV_MIG_PATH_MAX];
	json_object *o, *out;

	if (!tok)
		return 0;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)(size > INT32_MAX ? 0 : size));
	json_tokener_free(tok);
	if (uv_mig_progress_parse(o, &p) == 0) {
		if (!memchr(p.status, 0, sizeof(p.status)) || !p.status[0] ||
		    !memchr(p.error, 0, sizeof(p.error)))
			abort();
		out = uv_mig_progress_json(&p);
		if (!out)
			abort();
		json_object_put(out);
	}
	if (uv_mig_in_reply_parse(o, "m1", stream, sizeof(stream)) == 0 &&
	    (stream[0] != '/' || strlen(stream) >= UV_MIG_PATH_MAX))
		abort();
	json_object_put(o);
	return 0;
}
