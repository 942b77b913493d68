/* SPDX-License-Identifier: MIT */
/* Channel header validation, shared by attach (untrusted input) and format (own configuration). */
#ifndef ULTRA_LIB_CHANNEL_CHECK_H
#define ULTRA_LIB_CHANNEL_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <ultra/channel.h>

/* Bytes of one queue block: control lines plus slots. */
uint64_t uv_chan_queue_bytes(const struct uv_chan_qdesc *d);

/* Checks every field of a header copy against a region of `region` bytes: identity, sizes,
 * queue geometry inside total_size, no overlap, reserved fields zero. Returns 0, or a negative
 * errno (see uv_chan_attach) with a sentence in err naming the field. */
int uv_chan_hdr_check(const struct uv_chan_hdr *h, size_t region, char *err, size_t errlen);

/* Writes a sentence into err (if any) and returns code: how every attach failure is reported. */
__attribute__((format(printf, 4, 5))) int uv_chan_fail(int code, char *err, size_t errlen,
                                                       const char *fmt, ...);

#endif
