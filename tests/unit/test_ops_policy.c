/* SPDX-License-Identifier: MIT */
/* The operations partition's policy as pure functions: windows and their edges (wrapping past
 * midnight), which schedule holds at a minute, domain limits in force, shares scaled to a
 * domain's CPU limit, and the definition keys domain, autostart and zone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "def_policy.h"
#include "desc.h"
#include "ops_policy.h"

#define HM(h, m) ((h)*60 + (m))

static void test_window_parse(void **state)
{
	uint16_t f, t;
	char buf[16];

	(void)state;
	assert_int_equal(ops_window_parse("08:30-17:00", &f, &t), 0);
	assert_int_equal(f, HM(8, 30));
	assert_int_equal(t, HM(17, 0));
	assert_int_equal(ops_window_parse("22:00-06:00", &f, &t), 0);
	assert_int_equal(ops_window_parse("00:00-24:00", &f, &t), 0);
	assert_int_equal(t, 1440);
	ops_window_format(f, t, buf, sizeof(buf));
	assert_string_equal(buf, "00:00-24:00");
	const char *bad[] = {"",
	                     "8:30-17:00",
	                     "08:30-17:60",
	                     "25:00-01:00",
	                     "24:00-01:00",
	                     "10:00-10:00",
	                     "08:30 17:00",
	                     "08:30-17:00x",
	                     "ab:cd-ef:gh",
	                     "24:01-01:00"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!ops_window_parse(bad[i], &f, &t))
			fail_msg("\"%s\" was accepted", bad[i]);
}

static void test_window_edges(void **state)
{
	(void)state;
	/* [from, to): the first minute is in, the last is out. */
	assert_false(ops_window_has(HM(8, 0), HM(17, 0), HM(7, 59)));
	assert_true(ops_window_has(HM(8, 0), HM(17, 0), HM(8, 0)));
	assert_true(ops_window_has(HM(8, 0), HM(17, 0), HM(16, 59)));
	assert_false(ops_window_has(HM(8, 0), HM(17, 0), HM(17, 0)));
	/* All day. */
	assert_true(ops_window_has(0, 1440, 0));
	assert_true(ops_window_has(0, 1440, 1439));
}

static void test_window_wraps_past_midnight(void **state)
{
	(void)state;
	assert_false(ops_window_has(HM(22, 0), HM(6, 0), HM(21, 59)));
	assert_true(ops_window_has(HM(22, 0), HM(6, 0), HM(22, 0)));
	assert_true(ops_window_has(HM(22, 0), HM(6, 0), HM(23, 59)));
	assert_true(ops_window_has(HM(22, 0), HM(6, 0), 0));
	assert_true(ops_window_has(HM(22, 0), HM(6, 0), HM(5, 59)));
	assert_false(ops_window_has(HM(22, 0), HM(6, 0), HM(6, 0)));
	assert_false(ops_window_has(HM(22, 0), HM(6, 0), HM(12, 0)));
}

static void test_overlap(void **state)
{
	struct ops_sched night = {.from_min = HM(22, 0), .to_min = HM(6, 0)};
	struct ops_sched morning = {.from_min = HM(5, 0), .to_min = HM(7, 0)};
	struct ops_sched day = {.from_min = HM(6, 0), .to_min = HM(22, 0)};

	(void)state;
	assert_true(ops_windows_overlap(&night, &morning));
	assert_false(ops_windows_overlap(&night, &day)); /* they touch, they do not overlap */
	assert_true(ops_windows_overlap(&day, &morning));
}

static const struct ops_sched table[] = {
    {.id = 1,
     .target_kind = OPS_TARGET_PARTITION,
     .setting = OPS_SET_CPU_SHARE,
     .target = "web",
     .from_min = HM(22, 0),
     .to_min = HM(6, 0),
     .value = 250},
    {.id = 2,
     .target_kind = OPS_TARGET_DOMAIN,
     .setting = OPS_SET_CPU_SHARE,
     .target = "web",
     .from_min = HM(9, 0),
     .to_min = HM(10, 0),
     .value = 111},
    {.id = 3,
     .target_kind = OPS_TARGET_DOMAIN,
     .setting = OPS_SET_CPU_SHARE,
     .target = "batch",
     .from_min = HM(8, 0),
     .to_min = HM(18, 0),
     .value = 500},
    {.id = 4,
     .target_kind = OPS_TARGET_DOMAIN,
     .setting = OPS_SET_MEMORY_MIB,
     .target = "batch",
     .from_min = HM(8, 0),
     .to_min = HM(18, 0),
     .value = 256},
};
#define NT (sizeof(table) / sizeof(table[0]))

static void test_sched_value_by_target_and_time(void **state)
{
	uint32_t v = 0;

	(void)state;
	assert_int_equal(ops_sched_value(table, NT, OPS_TARGET_PARTITION, "web", OPS_SET_CPU_SHARE,
	                                 HM(23, 0), &v),
	                 1);
	assert_int_equal(v, 250);
	assert_int_equal(ops_sched_value(table, NT, OPS_TARGET_PARTITION, "web", OPS_SET_CPU_SHARE,
	                                 HM(12, 0), &v),
	                 0);
	/* A domain and a partition of one name are different targets. */
	assert_int_equal(ops_sched_value(table, NT, OPS_TARGET_PARTITION, "web", OPS_SET_CPU_SHARE,
	                                 HM(9, 30), &v),
	                 0);
	assert_int_equal(ops_sched_value(table, NT, OPS_TARGET_PARTITION, "db", OPS_SET_CPU_SHARE,
	                                 HM(23, 0), &v),
	                 0);
}

static void test_domain_limits_in_force(void **state)
{
	struct ops_domain d = {.name = "batch", .memory_mib = 1024, .cpu_milli = 2000};
	uint32_t mib, milli;

	(void)state;
	ops_domain_limits(&d, table, NT, HM(12, 0), &mib, &milli);
	assert_int_equal(mib, 256);
	assert_int_equal(milli, 500);
	ops_domain_limits(&d, table, NT, HM(18, 0), &mib, &milli);
	assert_int_equal(mib, 1024);
	assert_int_equal(milli, 2000);
}

static void test_shares_follow_schedule_and_domain(void **state)
{
	struct ops_part web = {.name = "web", .vcpus = 1, .cpu_milli = 500};
	struct ops_part b1 = {.name = "b1", .domain = "batch", .vcpus = 1, .cpu_milli = 600};
	struct ops_part b2 = {.name = "b2", .domain = "batch", .vcpus = 1, .cpu_milli = 0};
	struct ops_domain doms[] = {{.name = "batch", .cpu_milli = 2000}};
	struct ops_member m[] = {{.part = &web, .active = true},
	                         {.part = &b1, .active = true},
	                         {.part = &b2, .active = true}};

	(void)state;
	/* Noon: web its own 0.5; batch limited to 0.5 by schedule, wanted 0.6 + 1 (unlimited
	 * counts as its vCPU): each scaled by 0.5/1.6. */
	ops_shares(m, 3, doms, 1, table, NT, HM(12, 0));
	assert_int_equal(m[0].want_milli, 500);
	assert_int_equal(m[1].want_milli, 600 * 500 / 1600);
	assert_int_equal(m[2].want_milli, 1000 * 500 / 1600);
	/* Night: web's schedule; batch's own limit of 2 holds both as they are. */
	ops_shares(m, 3, doms, 1, table, NT, HM(23, 30));
	assert_int_equal(m[0].want_milli, 250);
	assert_int_equal(m[1].want_milli, 600);
	assert_int_equal(m[2].want_milli, 0);
	/* Only active members count: with b2 stopped, b1 alone (0.6) is over 0.5 and gets it all.
	 */
	m[2].active = false;
	ops_shares(m, 3, doms, 1, table, NT, HM(12, 0));
	assert_int_equal(m[1].want_milli, 500);
}

static void test_definition_policy_keys(void **state)
{
	json_object *def = json_tokener_parse("{\"name\":\"a\",\"domain\":\"batch\","
	                                      "\"autostart\":true,\"memory_mib\":64}");
	struct uv_def_policy p;
	struct uv_partition_desc d;
	char err[256] = "";

	(void)state;
	assert_int_equal(uv_def_policy_take(def, &p, err, sizeof(err)), 0);
	assert_string_equal(p.domain, "batch");
	assert_true(p.autostart);
	assert_false(json_object_object_get_ex(def, "domain", NULL));
	assert_false(json_object_object_get_ex(def, "autostart", NULL));
	json_object_put(def);

	/* The definition parser accepts them, with errors that name the key. */
	assert_int_equal(uv_desc_from_json("{\"name\":\"a\",\"memory_mib\":64,\"kernel\":\"/k\","
	                                   "\"domain\":\"b\",\"autostart\":false}",
	                                   NULL, &d, err, sizeof(err)),
	                 0);
	assert_int_not_equal(uv_desc_from_json("{\"name\":\"a\",\"memory_mib\":64,\"kernel\":"
	                                       "\"/k\",\"autostart\":\"yes\"}",
	                                       NULL, &d, err, sizeof(err)),
	                     0);
	assert_non_null(strstr(err, "autostart: expected true or false"));
	assert_int_not_equal(uv_desc_from_json("{\"name\":\"a\",\"memory_mib\":64,\"kernel\":"
	                                       "\"/k\",\"domain\":7}",
	                                       NULL, &d, err, sizeof(err)),
	                     0);
	assert_non_null(strstr(err, "domain: expected"));
	assert_int_not_equal(uv_desc_from_json("{\"name\":\"a\",\"memory_mib\":64,\"kernel\":"
	                                       "\"/k\",\"domain\":\"a/b\"}",
	                                       NULL, &d, err, sizeof(err)),
	                     0);
	assert_non_null(strstr(err, "domain: \"a/b\" is not a domain name"));

	/* zone (claim 42) is the operations partition's too: taken out, checked as a name. */
	def = json_tokener_parse("{\"name\":\"a\",\"zone\":\"z2\",\"memory_mib\":64}");
	assert_int_equal(uv_def_policy_take(def, &p, err, sizeof(err)), 0);
	assert_string_equal(p.zone, "z2");
	assert_string_equal(p.domain, "");
	assert_false(json_object_object_get_ex(def, "zone", NULL));
	json_object_put(def);
	def = json_tokener_parse("{\"name\":\"a\",\"zone\":\"z 2\",\"memory_mib\":64}");
	assert_int_not_equal(uv_def_policy_take(def, &p, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "zone: \"z 2\" is not a zone name"));
	assert_true(json_object_object_get_ex(def, "zone", NULL)); /* untouched on failure */
	json_object_put(def);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window_parse),
	    cmocka_unit_test(test_window_edges),
	    cmocka_unit_test(test_window_wraps_past_midnight),
	    cmocka_unit_test(test_overlap),
	    cmocka_unit_test(test_sched_value_by_target_and_time),
	    cmocka_unit_test(test_domain_limits_in_force),
	    cmocka_unit_test(test_shares_follow_schedule_and_domain),
	    cmocka_unit_test(test_definition_policy_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
