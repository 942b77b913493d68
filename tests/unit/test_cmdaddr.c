/* SPDX-License-Identifier: MIT */
/* Command partition addresses (lib/cmdconn.h): what ultra -c and ultra-ops --command accept,
 * and the sentence a wrong one gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "cmdconn.h"

static void test_unix_paths(void **state)
{
	struct uv_cmdaddr a;
	char err[128];

	assert_int_equal(uv_cmdaddr_parse("/run/ultravisor/command.sock", &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, UV_CMDADDR_UNIX);
	assert_string_equal(a.path, "/run/ultravisor/command.sock");
	assert_int_equal(uv_cmdaddr_parse("unix:rel/command.sock", &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, UV_CMDADDR_UNIX);
	assert_string_equal(a.path, "rel/command.sock");
}

static void test_tls_addresses(void **state)
{
	struct uv_cmdaddr a;
	char err[128];

	assert_int_equal(uv_cmdaddr_parse("tls://10.0.0.2:7443", &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, UV_CMDADDR_TLS);
	assert_string_equal(a.host, "10.0.0.2");
	assert_string_equal(a.port, "7443");
	assert_int_equal(uv_cmdaddr_parse("tls://hostb.example:443", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "hostb.example");
	assert_int_equal(uv_cmdaddr_parse("tls://[fd00::2]:7443", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "fd00::2");
	assert_string_equal(a.port, "7443");
}

static void test_refused_with_a_reason(void **state)
{
	static const char *const bad[] = {
	    "tls://hostb",
	    "tls://hostb:",
	    "tls://hostb:x1",
	    "tls://hostb:70000",
	    "tls://:7443",
	    "tls://fd00::2:1",
	    "tls://[fd00::2]1",
	    "tls://a/b:1",
	    "http://hostb:80",
	    "unix:",
	    "",
	    "tls://hostb:-1",
	};
	struct uv_cmdaddr a = {.kind = UV_CMDADDR_TLS, .host = "untouched"};
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(uv_cmdaddr_parse(bad[i], &a, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) > strlen(bad[i])); /* it names the address and says why */
		assert_string_equal(a.host, "untouched");  /* the output is left alone */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unix_paths),
	    cmocka_unit_test(test_tls_addresses),
	    cmocka_unit_test(test_refused_with_a_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
