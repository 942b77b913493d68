/* SPDX-License-Identifier: MIT */
/*
 * What the witness reads and writes (claim 47; docs/ops-ha.md "The witness"): its record on
 * disk survives a save and a load and refuses every truncation, every flipped bit and a
 * forged record with a bad holder; its requests and answers round-trip and refuse every
 * malformed member by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "tmpdir_testlib.h"
#include "witness.h"

static void test_record_round_trip_and_files(void **state)
{
	struct uv_wit_record r = {.holder = "ops-a", .epoch = 7, .lease_ms = 3000}, got;
	struct uv_wit_state_rec rec;
	char dir[64], path[96], err[128];
	FILE *f;

	(void)state;
	uv_wit_record_encode(&r, &rec);
	assert_int_equal(uv_wit_record_decode(&rec, sizeof(rec), &got, err, sizeof(err)), 0);
	assert_string_equal(got.holder, "ops-a");
	assert_int_equal(got.epoch, 7);
	assert_int_equal(got.lease_ms, 3000);

	assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "witrec"), 0);
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(uv_wit_record_load(path, &got, err, sizeof(err)), -ENOENT);
	assert_int_equal(uv_wit_record_save(path, &r), 0);
	r.epoch = 8; /* a second save replaces the first */
	assert_int_equal(uv_wit_record_save(path, &r), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(uv_wit_record_load(path, &got, err, sizeof(err)), 0);
	assert_int_equal(got.epoch, 8);
	/* A byte more is not a record. */
	assert_non_null(f = fopen(path, "ab"));
	fputc(0, f);
	fclose(f);
	assert_int_equal(uv_wit_record_load(path, &got, err, sizeof(err)), -EBADMSG);
	assert_int_equal(test_tmpdir_remove(dir), 0);
}

static void test_record_refuses_damage(void **state)
{
	struct uv_wit_record r = {.holder = "b", .epoch = 2, .lease_ms = 500}, got = {.epoch = 99};
	struct uv_wit_state_rec rec, bad;
	char err[128];

	(void)state;
	uv_wit_record_encode(&r, &rec);
	for (size_t n = 0; n < sizeof(rec); n++)
		assert_int_equal(uv_wit_record_decode(&rec, n, &got, err, sizeof(err)), -EBADMSG);
	for (size_t bit = 0; bit < sizeof(rec) * 8; bit++) {
		bad = rec;
		((uint8_t *)&bad)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(uv_wit_record_decode(&bad, sizeof(bad), &got, err, sizeof(err)),
		                 -EBADMSG);
	}
	assert_int_equal(got.epoch, 99); /* untouched by every refusal */

	/* Forged with a good checksum: each refused for what it holds. */
	const struct {
		const char *holder;
		uint64_t epoch;
		uint32_t lease_ms;
	} forged[] = {
	    {"a b", 1, 500}, {"a\x01", 1, 500}, {"a", 0, 500},
	    {"a", 1, 99},    {"a", 1, 600001},  {"", 0, 5},
	};
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		bad = rec;
		memset(bad.holder, 0, sizeof(bad.holder));
		memcpy(bad.holder, forged[i].holder, strlen(forged[i].holder));
		bad.epoch = forged[i].epoch;
		bad.lease_ms = forged[i].lease_ms;
		bad.crc = uv_crc32c(0, &bad, offsetof(struct uv_wit_state_rec, crc));
		assert_int_equal(uv_wit_record_decode(&bad, sizeof(bad), &got, err, sizeof(err)),
		                 -EBADMSG);
	}
	/* A holder with bytes after its NUL. */
	bad = rec;
	bad.holder[5] = 'x';
	bad.crc = uv_crc32c(0, &bad, offsetof(struct uv_wit_state_rec, crc));
	assert_int_equal(uv_wit_record_decode(&bad, sizeof(bad), &got, err, sizeof(err)), -EBADMSG);
}

static int request(const char *line, enum uv_wit_verb *verb, struct uv_wit_ask *a)
{
	const char *code = NULL;
	char err[256];

	return uv_wit_request_decode(line, strlen(line), verb, a, &code, err, sizeof(err));
}

static void test_requests(void **state)
{
	struct uv_wit_ask a = {.name = "ops-b", .epoch = 12, .lease_ms = 3000}, got;
	enum uv_wit_verb verb = UV_WIT_VERB_STATUS;
	char *line = uv_wit_request_encode(&a);
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"version\":1,\"execute\":\"lease\"}",
	    "{\"version\":2,\"execute\":\"lease\",\"arguments\":{\"name\":\"a\",\"epoch\":1,"
	    "\"lease_ms\":1000}}",
	    "{\"version\":1,\"execute\":\"grab\",\"arguments\":{}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"a\",\"epoch\":1,"
	    "\"lease_ms\":1000,\"force\":true}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"a\",\"epoch\":0,"
	    "\"lease_ms\":1000}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"a\",\"epoch\":-1,"
	    "\"lease_ms\":1000}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"a\",\"epoch\":1.5,"
	    "\"lease_ms\":1000}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"a\",\"epoch\":\"1\","
	    "\"lease_ms\":1000}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"a\",\"epoch\":1,"
	    "\"lease_ms\":99}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"a\",\"epoch\":1,"
	    "\"lease_ms\":600001}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"\",\"epoch\":1,"
	    "\"lease_ms\":1000}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"a b\",\"epoch\":1,"
	    "\"lease_ms\":1000}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"a\\u0000b\",\"epoch\":1,"
	    "\"lease_ms\":1000}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":"
	    "\"abcdefghijabcdefghijabcdefghij12\",\"epoch\":1,\"lease_ms\":1000}}",
	    "{\"version\":1,\"execute\":\"lease\",\"arguments\":{\"name\":\"a\",\"epoch\":1,"
	    "\"lease_ms\":1000}} {}",
	    "{\"version\":1,\"execute\":\"witness-status\",\"arguments\":{\"x\":1}}",
	};

	(void)state;
	assert_non_null(line);
	memset(&got, 0, sizeof(got));
	assert_int_equal(request(line, &verb, &got), 0);
	assert_int_equal(verb, UV_WIT_VERB_LEASE);
	assert_string_equal(got.name, "ops-b");
	assert_int_equal(got.epoch, 12);
	assert_int_equal(got.lease_ms, 3000);
	free(line);
	assert_int_equal(request("{\"version\":1,\"execute\":\"witness-status\"}", &verb, &got), 0);
	assert_int_equal(verb, UV_WIT_VERB_STATUS);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		verb = UV_WIT_VERB_STATUS;
		memset(&got, 0x5a, sizeof(got));
		if (request(bad[i], &verb, &got) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(got.epoch, 0x5a5a5a5a5a5a5a5aull);
	}
}

static int answer(const char *line, struct uv_wit_answer *a, char *err, size_t errlen)
{
	return uv_wit_answer_decode(line, strlen(line), a, err, errlen);
}

static void test_answers(void **state)
{
	struct uv_wit_answer a = {.granted = true,
	                          .holder = "a",
	                          .epoch = 3,
	                          .lease_ms = 1000,
	                          .left_ms = 999},
			     got;
	char *line = uv_wit_answer_encode(&a), err[256];
	static const char *const bad[] = {
	    "{}",
	    "{\"return\":[]}",
	    "{\"return\":{\"granted\":true,\"holder\":\"a\",\"epoch\":3,\"lease_ms\":1000}}",
	    "{\"return\":{\"granted\":1,\"holder\":\"a\",\"epoch\":3,\"lease_ms\":1000,"
	    "\"left_ms\":0}}",
	    "{\"return\":{\"granted\":true,\"holder\":\"\",\"epoch\":3,\"lease_ms\":1000,"
	    "\"left_ms\":0}}",
	    "{\"return\":{\"granted\":true,\"holder\":\"a\",\"epoch\":0,\"lease_ms\":1000,"
	    "\"left_ms\":0}}",
	    "{\"return\":{\"granted\":false,\"holder\":\"a\",\"epoch\":3,\"lease_ms\":1000,"
	    "\"left_ms\":600001}}",
	    "{\"return\":{\"granted\":false,\"holder\":\"a\",\"epoch\":3,\"lease_ms\":1000,"
	    "\"left_ms\":1,\"more\":1}}",
	    "{\"return\":{\"granted\":false,\"holder\":\"a\",\"epoch\":3,\"lease_ms\":1000,"
	    "\"left_ms\":1},\"x\":1}",
	    "{\"error\":{\"code\":7}}",
	};

	(void)state;
	assert_non_null(line);
	assert_int_equal(answer(line, &got, err, sizeof(err)), 0);
	assert_true(got.granted);
	assert_string_equal(got.holder, "a");
	assert_int_equal(got.epoch, 3);
	assert_int_equal(got.left_ms, 999);
	free(line);
	assert_int_equal(answer("{\"error\":{\"code\":\"bad-request\",\"message\":\"no\"}}", &got,
	                        err, sizeof(err)),
	                 -EPROTO);
	assert_non_null(strstr(err, "no (bad-request)"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&got, 0x5a, sizeof(got));
		if (answer(bad[i], &got, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(got.epoch, 0x5a5a5a5a5a5a5a5aull);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_round_trip_and_files),
	    cmocka_unit_test(test_record_refuses_damage),
	    cmocka_unit_test(test_requests),
	    cmocka_unit_test(test_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
