/* SPDX-License-Identifier: MIT */
/* Opening a stream through a gateway (lib/migrelay.h): the TLS connection, the stream line with
 * the one-time token, the gateway's answer. Both ends that open streams use it: a source
 * monitor's migration, `ultra console` over tls://. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "migrelay.h"
#include "migstream.h"

int uv_stream_open(const char *addr, const struct uv_tls_files *tls, const char *token,
                   int timeout_ms, struct uv_cmdconn **out, char *err, size_t errlen)
{
	char line[UV_STREAM_LINE_MAX + 1], why[300] = "", *answer = NULL;
	struct uv_cmdconn *net = NULL;
	size_t n;
	int r;

	if (!token || !uv_stream_token_valid(token)) {
		snprintf(err, errlen, "expected a stream token");
		return -EINVAL;
	}
	if ((r = uv_cmdconn_open(addr, tls, timeout_ms, &net, why, sizeof(why)))) {
		snprintf(err, errlen, "the gateway at %s: %s", addr, why);
		return r;
	}
	n = uv_stream_line_make(token, line, sizeof(line));
	line[n - 1] = 0; /* write_line adds the '\n' */
	if ((r = uv_cmdconn_write_line(net, line, timeout_ms, why, sizeof(why))) ||
	    (r = uv_cmdconn_read_line(net, &answer, timeout_ms, why, sizeof(why))))
		snprintf(err, errlen, "the gateway at %s, the stream line: %s", addr, why);
	else
		r = uv_stream_answer_parse(answer, err, errlen);
	free(answer);
	if (r) {
		uv_cmdconn_close(net);
		return r;
	}
	*out = net;
	return 0;
}
