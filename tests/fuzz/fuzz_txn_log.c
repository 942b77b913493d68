/* SPDX-License-Identifier: MIT */
/* The audit log reader over arbitrary file bytes (through a memfd, as recovery reads a file):
 * it must never crash, never report more intact bytes than the file holds, and hand every
 * committed entry over with a payload inside those bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "txn_codec.h"
#include "txn_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_entry(void *ctx, const struct uv_log_entry *e)
{
	const volatile unsigned char *p = e->payload;
	struct uv_txn t;
	uint32_t i, sum = 0;

	for (i = 0; i < e->length; i++) /* ASan flags any byte outside the file image */
		sum += p[i];
	(void)sum;
	uv_txn_decode(e->payload, e->length, &t);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uv_log_replay ops = {NULL, check_entry, check_entry, NULL};
	struct uv_log_report rep;
	int fd = memfd_create("fuzz-log", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size && uv_log_read_segment(fd, &ops, &rep) == 0) {
		if (rep.damage_offset > size || rep.truncated_bytes > size - rep.damage_offset ||
		    (rep.damage && rep.damage_offset + rep.truncated_bytes != size))
			abort();
	}
	close(fd);
	return 0;
}
