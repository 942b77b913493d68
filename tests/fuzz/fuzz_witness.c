/* SPDX-License-Identifier: MIT */
/*
 * Everything the witness and its clients decode (claim 47; docs/ops-ha.md "The witness"): the
 * first byte picks the decoder, the rest is its input. 0..84 a request line, as the witness
 * reads it from a peer; 85..169 an answer line, as an operations partition reads it; otherwise
 * a record file. Nothing may crash, and what is accepted must be within bounds: a request's
 * name is a name and its numbers in range (and the lease rules take it); an answer and a record
 * encode back to what decodes the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "witness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request(const char *s, size_t n)
{
	struct uv_wit_lease l = {.expires_ms = 1000}, next;
	struct uv_wit_ask a;
	enum uv_wit_verb verb;
	const char *code = NULL;
	char err[256];

	if (uv_wit_request_decode(s, n, &verb, &a, &code, err, sizeof(err))) {
		if (!code || !memchr(err, 0, sizeof(err)))
			abort();
		return;
	}
	if (verb != UV_WIT_VERB_LEASE)
		return;
	if (!uv_wit_name_ok(a.name, strlen(a.name)) || !a.epoch ||
	    a.lease_ms < UV_WIT_LEASE_MIN_MS || a.lease_ms > UV_WIT_LEASE_MAX_MS)
		abort();
	if (uv_wit_lease_ask(&l, &a, 0, &next) == UV_WIT_GRANTED && strcmp(next.rec.holder, a.name))
		abort();
}

static void answer(const char *s, size_t n)
{
	struct uv_wit_answer a, b;
	char err[256], *line;

	if (uv_wit_answer_decode(s, n, &a, err, sizeof(err)))
		return;
	if (a.granted && !a.holder[0])
		abort();
	if (!(line = uv_wit_answer_encode(&a)))
		abort();
	if (uv_wit_answer_decode(line, strlen(line), &b, err, sizeof(err)) || b.epoch != a.epoch ||
	    b.granted != a.granted || strcmp(b.holder, a.holder) || b.left_ms != a.left_ms)
		abort();
	free(line);
}

static void record(const uint8_t *d, size_t n)
{
	struct uv_wit_record r;
	struct uv_wit_state_rec back;
	char err[256];

	if (uv_wit_record_decode(d, n, &r, err, sizeof(err)))
		return;
	uv_wit_record_encode(&r, &back);
	if (n != sizeof(back) || memcmp(&back, d, n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	if (data[0] >= 170) {
		record(data + 1, size - 1);
		return 0;
	}
	/* A line as the connection hands it over: its own copy, NUL-terminated. */
	if (!(text = malloc(size)))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	if (data[0] < 85)
		request(text, size - 1);
	else
		answer(text, size - 1);
	free(text);
	return 0;
}
