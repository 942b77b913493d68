/* SPDX-License-Identifier: MIT */
/* Placement as a pure function (claims 39, 42, 43): only up hosts of the partition's zone, only
 * those with room for its memory and CPU, the most free memory first and the name on a tie, and
 * a refusal that names the zone and what each host was short of. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "ops_place.h"

static struct ops_place_host host(const char *name, const char *zone, uint64_t free_mib,
                                  uint32_t committed_milli)
{
	return (struct ops_place_host){.name = name,
	                               .zone = zone,
	                               .up = true,
	                               .free_mib = free_mib,
	                               .cpus_milli = 2000,
	                               .committed_milli = committed_milli};
}

static struct ops_place_need need(const char *zone, uint32_t mib, uint32_t vcpus, uint32_t milli)
{
	return (struct ops_place_need){
	    .name = "web1", .zone = zone, .memory_mib = mib, .vcpus = vcpus, .cpu_milli = milli};
}

static void test_zone_filter(void **state)
{
	struct ops_place_host h[] = {host("a", "z1", 4000, 0), host("b", "z2", 1000, 0),
	                             host("c", "", 8000, 0)};
	struct ops_place_need z2 = need("z2", 256, 1, 1000), any = need("", 256, 1, 1000);
	char err[512];

	(void)state;
	/* Zone z2: only b, although a and c have more memory free. */
	assert_int_equal(ops_place(h, 3, &z2, err, sizeof(err)), 1);
	/* No zone: every host, c has the most free. */
	assert_int_equal(ops_place(h, 3, &any, err, sizeof(err)), 2);
	/* A zone no host has, and a zone whose only host is down: nothing, and why. */
	z2.zone = "z9";
	assert_int_equal(ops_place(h, 3, &z2, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "zone z9"));
	h[1].up = false;
	z2.zone = "z2";
	assert_int_equal(ops_place(h, 3, &z2, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no host of zone z2 is up"));
	/* A down host is not chosen for a zone-less partition either. */
	h[2].up = false;
	assert_int_equal(ops_place(h, 3, &any, err, sizeof(err)), 0);
}

static void test_capacity(void **state)
{
	struct ops_place_host h[] = {host("a", "z1", 512, 0), host("b", "z1", 300, 0)};
	struct ops_place_need n = need("z1", 400, 1, 1000);
	char err[512];

	(void)state;
	assert_int_equal(ops_place(h, 2, &n, err, sizeof(err)), 0);
	/* a's CPUs are committed: b lacks memory, a lacks CPU. */
	h[0].committed_milli = 1500;
	assert_int_equal(ops_place(h, 2, &n, err, sizeof(err)), -ENOSPC);
	/* A fractional share fits what is left. */
	n.cpu_milli = 500;
	assert_int_equal(ops_place(h, 2, &n, err, sizeof(err)), 0);
	/* Exactly the free memory fits. */
	n.memory_mib = 512;
	assert_int_equal(ops_place(h, 2, &n, err, sizeof(err)), 0);
	n.memory_mib = 513;
	assert_int_equal(ops_place(h, 2, &n, err, sizeof(err)), -ENOSPC);
	/* More vCPUs than a host has CPUs never fits there, whatever the share. */
	n = need("z1", 64, 3, 100);
	assert_int_equal(ops_place(h, 2, &n, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "fewer CPUs than vCPUs"));
	/* Overcommitted hosts report no free CPU, not a wrapped number. */
	h[1].committed_milli = 5000;
	n = need("z1", 64, 1, 1);
	h[0].committed_milli = 2000;
	assert_int_equal(ops_place(h, 2, &n, err, sizeof(err)), -ENOSPC);
}

static void test_most_free_memory_then_name(void **state)
{
	struct ops_place_host h[] = {host("c", "", 800, 0), host("a", "", 900, 1900),
	                             host("b", "", 900, 0)};
	struct ops_place_need n = need("", 256, 1, 100);
	char err[512];

	(void)state;
	/* a and b tie on memory: a by name (its CPU use does not count while it fits). */
	assert_int_equal(ops_place(h, 3, &n, err, sizeof(err)), 1);
	/* Once a cannot hold it, b. */
	n.cpu_milli = 200;
	assert_int_equal(ops_place(h, 3, &n, err, sizeof(err)), 2);
	/* The order hosts are given in does not matter. */
	struct ops_place_host r[] = {h[2], h[1], h[0]};
	n.cpu_milli = 100;
	assert_int_equal(ops_place(r, 3, &n, err, sizeof(err)), 1);
}

static void test_nothing_fits_says_why(void **state)
{
	struct ops_place_host h[] = {host("hostA", "z1", 832, 1000),
	                             host("hostB", "z1", 672, 2000)};
	struct ops_place_need n = need("z1", 2048, 1, 1000);
	char err[512] = "";

	(void)state;
	assert_int_equal(ops_place(h, 2, &n, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "no host of zone z1 can hold web1"));
	assert_non_null(strstr(err, "2048 MiB"));
	assert_non_null(strstr(err, "hostA has 832 MiB"));
	assert_non_null(strstr(err, "hostB has 672 MiB and 0 of 2 CPUs free (memory short, CPU"));
	/* No zone given: "any". */
	n.zone = "";
	assert_int_equal(ops_place(h, 2, &n, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "zone any"));
	/* No hosts at all. */
	assert_int_equal(ops_place(h, 0, &n, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zone_filter),
	    cmocka_unit_test(test_capacity),
	    cmocka_unit_test(test_most_free_memory_then_name),
	    cmocka_unit_test(test_nothing_fits_says_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
