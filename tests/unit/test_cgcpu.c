/* SPDX-License-Identifier: MIT */
/* CPU shares: the quota a share becomes, finding the controller, cgroup paths and files; and
 * direct disks' I/O limits (cgio.h): the device an image is on, the io/blkio files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cgcpu.h"
#include "cgio.h"

static void test_limits(void **state)
{
	struct uv_cpu_limits l;

	assert_int_equal(uv_cpu_limits(250, &l), 0);
	assert_int_equal(l.quota_us, 25000);
	assert_int_equal(l.period_us, 100000);
	assert_int_equal(l.shares_v1, 256);
	assert_int_equal(l.weight_v2, 25);
	assert_int_equal(uv_cpu_limits(2000, &l), 0);
	assert_int_equal(l.quota_us, 200000); /* two CPUs: twice the period */
	assert_int_equal(l.shares_v1, 2048);
	/* Below 10 milli-CPUs the quota would fall under the kernel's 1 ms: the period grows. */
	assert_int_equal(uv_cpu_limits(1, &l), 0);
	assert_int_equal(l.quota_us, UV_CG_QUOTA_MIN_US);
	assert_int_equal(l.period_us, UV_CG_PERIOD_MAX_US);
	assert_int_equal(l.shares_v1, 2);
	assert_int_equal(l.weight_v2, 1);
	assert_int_equal(uv_cpu_limits(0, &l), -EINVAL);
}

static void test_limits_are_exact_and_within_kernel_bounds(void **state)
{
	struct uv_cpu_limits l;

	for (uint32_t s = 1; s <= 64000; s++) {
		assert_int_equal(uv_cpu_limits(s, &l), 0);
		assert_true(l.quota_us >= UV_CG_QUOTA_MIN_US);
		assert_true(l.period_us >= 1000 && l.period_us <= UV_CG_PERIOD_MAX_US);
		assert_int_equal(l.quota_us * 1000, (uint64_t)s * l.period_us);
		assert_int_equal(uv_cpu_share_of(l.quota_us, l.period_us), s);
	}
	assert_int_equal(uv_cpu_share_of(0, 100000), 0);
}

static void test_paths(void **state)
{
	char p[64];

	assert_int_equal(uv_cg_path("/sys/fs/cgroup/cpu", "g1", p, sizeof(p)), 0);
	assert_string_equal(p, "/sys/fs/cgroup/cpu/ultravisor/g1");
	assert_int_equal(uv_cg_path("/r", "", p, sizeof(p)), -EINVAL);
	assert_int_equal(uv_cg_path("/r", ".", p, sizeof(p)), -EINVAL);
	assert_int_equal(uv_cg_path("/r", "..", p, sizeof(p)), -EINVAL);
	assert_int_equal(uv_cg_path("/r", "a/../../x", p, sizeof(p)), -EINVAL);
	assert_int_equal(uv_cg_path("/r", "a-much-longer-partition-name-abcdef", p, 32),
	                 -ENAMETOOLONG);
}

struct tmp {
	char dir[64];
};

static void put(const char *dir, const char *leaf, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, leaf);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void sub(char *out, size_t len, const char *dir, const char *leaf)
{
	snprintf(out, len, "%s/%s", dir, leaf);
	assert_int_equal(mkdir(out, 0755), 0);
}

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/uvcg-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

/* This machine's shape: a cgroup2 mount without cpu, cpu and cpuset on cgroup v1. */
static void test_detect_v1_beside_an_empty_unified(void **state)
{
	struct tmp *t = *state;
	char uni[PATH_MAX], cpu[PATH_MAX], set[PATH_MAX], acct[PATH_MAX], mounts[PATH_MAX * 5];
	struct uv_cg_layout l;

	sub(uni, sizeof(uni), t->dir, "unified");
	sub(acct, sizeof(acct), t->dir, "cpuacct");
	sub(cpu, sizeof(cpu), t->dir, "cpu b"); /* a space, escaped in the mount table */
	sub(set, sizeof(set), t->dir, "cpuset");
	put(uni, "cgroup.controllers", "hugetlb\n");
	snprintf(mounts, sizeof(mounts),
	         "tmpfs %s tmpfs rw 0 0\ngarbage\n"
	         "cgroup %s cgroup rw,relatime,cpuacct 0 0\n"
	         "cgroup %s/cpu\\040b cgroup rw,relatime,cpu 0 0\n"
	         "cgroup %s cgroup rw,cpuset 0 0\ncgroup2 %s cgroup2 rw 0 0\n"
	         "cgroup %s/blkio cgroup rw,relatime,blkio 0 0\n",
	         t->dir, acct, t->dir, set, uni, t->dir);
	put(t->dir, "mounts", mounts);
	snprintf(mounts, sizeof(mounts), "%s/mounts", t->dir);
	assert_int_equal(uv_cg_detect(mounts, &l), 0);
	assert_int_equal(l.cpu_kind, UV_CG_V1);
	assert_string_equal(l.cpu_root, cpu);
	assert_int_equal(l.cpuset_kind, UV_CG_V1);
	assert_string_equal(l.cpuset_root, set);
	assert_int_equal(l.io_kind, UV_CG_V1); /* blkio, this machine's io controller */
	snprintf(set, sizeof(set), "%s/blkio", t->dir);
	assert_string_equal(l.io_root, set);
}

static void test_detect_v2_and_none(void **state)
{
	struct tmp *t = *state;
	char uni[PATH_MAX], old[PATH_MAX], mounts[PATH_MAX * 3];
	struct uv_cg_layout l;

	sub(uni, sizeof(uni), t->dir, "unified");
	sub(old, sizeof(old), t->dir, "cpu,cpuacct");
	put(uni, "cgroup.controllers", "cpuset cpu io memory pids\n");
	/* A lingering empty v1 mount must not win over the unified hierarchy that has cpu. */
	snprintf(mounts, sizeof(mounts),
	         "cgroup2 %s cgroup2 rw 0 0\ncgroup %s cgroup rw,cpu,cpuacct 0 0\n", uni, old);
	put(t->dir, "mounts", mounts);
	snprintf(mounts, sizeof(mounts), "%s/mounts", t->dir);
	assert_int_equal(uv_cg_detect(mounts, &l), 0);
	assert_int_equal(l.cpu_kind, UV_CG_V2);
	assert_string_equal(l.cpu_root, uni);
	assert_int_equal(l.cpuset_kind, UV_CG_V2);
	assert_int_equal(l.io_kind, UV_CG_V2);

	put(t->dir, "mounts", "proc /proc proc rw 0 0\n");
	assert_int_equal(uv_cg_detect(mounts, &l), 0);
	assert_int_equal(l.cpu_kind, UV_CG_NONE);
	assert_int_equal(l.cpuset_kind, UV_CG_NONE);
	assert_int_equal(l.io_kind, UV_CG_NONE);
	snprintf(mounts, sizeof(mounts), "%s/missing", t->dir);
	assert_int_equal(uv_cg_detect(mounts, &l), -ENOENT);
}

static void test_write_and_read_limits(void **state)
{
	struct tmp *t = *state;
	char v1[PATH_MAX], v2[PATH_MAX], buf[64];
	uint32_t share = 99;

	sub(v1, sizeof(v1), t->dir, "v1");
	sub(v2, sizeof(v2), t->dir, "v2");
	for (const char *const *f =
	         (const char *const[]){"cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares", NULL};
	     *f; f++)
		put(v1, *f, "");
	put(v2, "cpu.max", "");
	put(v2, "cpu.weight", "");
	assert_int_equal(uv_cg_write_limits(v1, UV_CG_V1, 750), 0);
	assert_int_equal(uv_cg_read_file(v1, "cpu.cfs_quota_us", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "75000");
	assert_int_equal(uv_cg_read_file(v1, "cpu.shares", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "768");
	assert_int_equal(uv_cg_read_share(v1, UV_CG_V1, &share), 0);
	assert_int_equal(share, 750);

	assert_int_equal(uv_cg_write_limits(v2, UV_CG_V2, 250), 0);
	assert_int_equal(uv_cg_read_file(v2, "cpu.max", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "25000 100000");
	assert_int_equal(uv_cg_read_share(v2, UV_CG_V2, &share), 0);
	assert_int_equal(share, 250);
	put(v2, "cpu.max", "");
	assert_int_equal(uv_cg_write_limits(v2, UV_CG_V2, 0), 0);
	assert_int_equal(uv_cg_read_share(v2, UV_CG_V2, &share), 0);
	assert_int_equal(share, 0);
	/* Torn or foreign content is an error, not a share. */
	put(v1, "cpu.cfs_period_us", "garbage");
	assert_int_equal(uv_cg_read_share(v1, UV_CG_V1, &share), -EPROTO);
	assert_int_equal(uv_cg_write_limits(v1, UV_CG_NONE, 250), -EINVAL);
	/* Removing a group that is not there is not an error. */
	snprintf(v2, sizeof(v2), "%s/none", t->dir);
	assert_int_equal(uv_cg_remove(t->dir, v2), 0);
}

static void test_cpulists(void **state)
{
	cpu_set_t s, pick;
	char buf[64];
	unsigned use[CPU_SETSIZE] = {2, 0, 1, 0};

	assert_int_equal(uv_cpulist_parse("0-3,8,10-11\n", &s), 0);
	assert_int_equal(CPU_COUNT(&s), 7);
	assert_true(CPU_ISSET(8, &s) && !CPU_ISSET(9, &s));
	assert_int_equal(uv_cpulist_format(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0-3,8,10-11");
	assert_int_equal(uv_cpulist_format(&s, buf, 5), -ENOSPC);
	assert_int_equal(uv_cpulist_parse("\n", &s), 0);
	assert_int_equal(CPU_COUNT(&s), 0);
	assert_int_equal(uv_cpulist_format(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(uv_cpulist_parse("3-1", &s), -EINVAL);
	assert_int_equal(uv_cpulist_parse("1,,2", &s), -EINVAL);
	assert_int_equal(uv_cpulist_parse("x", &s), -EINVAL);
	assert_int_equal(uv_cpulist_parse("99999", &s), -ERANGE);

	/* The least-used CPUs first, the lowest number on a tie. */
	assert_int_equal(uv_cpulist_parse("0-3", &s), 0);
	assert_int_equal(uv_cpu_pick(&s, use, 2, &pick), 0);
	assert_int_equal(uv_cpulist_format(&pick, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1,3");
	assert_int_equal(uv_cpu_pick(&s, use, 3, &pick), 0);
	assert_int_equal(uv_cpulist_format(&pick, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1-3");
	assert_int_equal(uv_cpu_pick(&s, use, 5, &pick), -ERANGE);
}

/* The device io.max takes for an image: the disk under a file's file system, a partition's
 * whole disk; none for a file system with no device (tmpfs), said so. */
static void test_io_device(void **state)
{
	struct tmp *t = *state;
	char img[256], sys[256], dev[512], blk[768], disk[512], part[768], link[1024], why[512];
	unsigned ma = 0, mi = 0;
	struct stat st;

	snprintf(img, sizeof(img), "%s/d.img", t->dir);
	put(t->dir, "d.img", "");
	assert_int_equal(stat(img, &st), 0);
	sub(sys, sizeof(sys), t->dir, "sys");
	sub(dev, sizeof(dev), sys, "dev");
	sub(blk, sizeof(blk), dev, "block");
	/* No such device in this sysfs: not a real block device. */
	assert_int_equal(uv_cg_io_device(img, sys, &ma, &mi, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "no block device of its own"));
	/* The image's device is a partition of disk 8:0. */
	sub(disk, sizeof(disk), sys, "disk");
	put(disk, "dev", "8:0\n");
	sub(part, sizeof(part), disk, "part1");
	put(part, "partition", "1\n");
	snprintf(link, sizeof(link), "%s/%u:%u", blk, major(st.st_dev), minor(st.st_dev));
	assert_int_equal(symlink(part, link), 0);
	assert_int_equal(uv_cg_io_device(img, sys, &ma, &mi, why, sizeof(why)), 0);
	assert_int_equal(ma, 8);
	assert_int_equal(mi, 0);
	/* A whole disk is itself. */
	unlink(link);
	assert_int_equal(symlink(disk, link), 0);
	assert_int_equal(uv_cg_io_device(img, sys, &ma, &mi, why, sizeof(why)), 0);
	assert_int_equal(ma, major(st.st_dev));
	assert_int_equal(mi, minor(st.st_dev));
	assert_int_equal(uv_cg_io_device(t->dir, sys, &ma, &mi, why, sizeof(why)), -EINVAL);
	assert_int_equal(uv_cg_io_device("/nonexistent.img", sys, &ma, &mi, why, sizeof(why)),
	                 -ENOENT);
	/* tmpfs has anonymous device numbers (major 0): named in the message. */
	if (stat("/dev/shm", &st) == 0 && major(st.st_dev) == 0) {
		snprintf(img, sizeof(img), "/dev/shm/uvcgio-%d.img", (int)getpid());
		put("/dev/shm", img + strlen("/dev/shm/"), "");
		assert_int_equal(uv_cg_io_device(img, "/sys", &ma, &mi, why, sizeof(why)), -ENODEV);
		unlink(img);
		assert_non_null(strstr(why, "tmpfs"));
	}
}

static void read_back(const char *dir, const char *leaf, char *buf, size_t len)
{
	assert_int_equal(uv_cg_read_file(dir, leaf, buf, len), 0);
}

/* v2: one io.max line, both directions; v1: four throttle files, 0 lifting a limit. A total is
 * each direction's limit; a read or write limit only its own (claims 19, 22). */
static void test_io_limit_files(void **state)
{
	struct tmp *t = *state;
	static const char *const v1[] = {
	    "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device",
	    "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device"};
	char buf[256];

	put(t->dir, "io.max", "");
	assert_int_equal(
	    uv_cg_write_io_limits(t->dir, UV_CG_V2, 254, 0,
	                          &(struct uv_disk_limit){.iops = 300, .bytes_per_sec = 1 << 20}),
	    0);
	read_back(t->dir, "io.max", buf, sizeof(buf));
	assert_string_equal(buf, "254:0 riops=300 wiops=300 rbps=1048576 wbps=1048576");
	put(t->dir, "io.max", ""); /* a plain file keeps old bytes; a cgroup file takes a line */
	assert_int_equal(uv_cg_write_io_limits(t->dir, UV_CG_V2, 8, 16,
	                                       &(struct uv_disk_limit){.bytes_per_sec = 4096}),
	                 0);
	read_back(t->dir, "io.max", buf, sizeof(buf));
	assert_string_equal(buf, "8:16 riops=max wiops=max rbps=4096 wbps=4096");
	/* Writes limited, reads free; and the reverse, in requests. */
	put(t->dir, "io.max", "");
	assert_int_equal(uv_cg_write_io_limits(
			     t->dir, UV_CG_V2, 8, 0,
			     &(struct uv_disk_limit){.write_bytes_per_sec = 512, .read_iops = 7}),
	                 0);
	read_back(t->dir, "io.max", buf, sizeof(buf));
	assert_string_equal(buf, "8:0 riops=7 wiops=max rbps=max wbps=512");
	for (int i = 0; i < 4; i++)
		put(t->dir, v1[i], "");
	assert_int_equal(uv_cg_write_io_limits(t->dir, UV_CG_V1, 254, 0,
	                                       &(struct uv_disk_limit){.bytes_per_sec = 2 << 20}),
	                 0);
	read_back(t->dir, v1[0], buf, sizeof(buf));
	assert_string_equal(buf, "254:0 0");
	read_back(t->dir, v1[3], buf, sizeof(buf));
	assert_string_equal(buf, "254:0 2097152");
	for (int i = 0; i < 4; i++)
		put(t->dir, v1[i], "");
	assert_int_equal(uv_cg_write_io_limits(
			     t->dir, UV_CG_V1, 254, 0,
			     &(struct uv_disk_limit){.write_bytes_per_sec = 4096, .read_iops = 9}),
	                 0);
	read_back(t->dir, v1[0], buf, sizeof(buf));
	assert_string_equal(buf, "254:0 9");
	read_back(t->dir, v1[1], buf, sizeof(buf));
	assert_string_equal(buf, "254:0 0");
	read_back(t->dir, v1[2], buf, sizeof(buf));
	assert_string_equal(buf, "254:0 0");
	read_back(t->dir, v1[3], buf, sizeof(buf));
	assert_string_equal(buf, "254:0 4096");
	assert_int_equal(
	    uv_cg_write_io_limits(t->dir, UV_CG_NONE, 254, 0, &(struct uv_disk_limit){.iops = 1}),
	    -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_limits_are_exact_and_within_kernel_bounds),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test_setup_teardown(test_detect_v1_beside_an_empty_unified, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_detect_v2_and_none, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_and_read_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io_device, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io_limit_files, setup, teardown),
	    cmocka_unit_test(test_cpulists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
