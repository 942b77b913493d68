/* SPDX-License-Identifier: MIT */
/* Live migration's decisions (claim 44, docs/migration.md): what may move, the definition the
 * target gets back, and QEMU's and the target's answers read strictly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "desc.h"
#include "migrate.h"

static void from_json(const char *json, struct uv_partition_desc *d)
{
	char err[256] = "";

	if (uv_desc_from_json(json, NULL, d, err, sizeof(err)))
		fail_msg("definition refused: %s", err);
}

#define DEF_HEAD "{\"name\":\"m1\",\"memory_mib\":256,\"kernel\":\"/k\","

/* What a user wrote comes back, placement's grants do not. */
static void test_definition_round_trip(void **state)
{
	struct uv_partition_desc d, back;
	json_object *def = NULL;

	(void)state;
	from_json(DEF_HEAD "\"vcpus\":2,\"cpu_share\":1.5,\"accel\":\"tcg\",\"initrd\":\"/i\","
	                   "\"cmdline\":\"console=ttyS0 quiet\",\"devices\":[{\"kind\":\"rng\"},"
	                   "{\"kind\":\"blk\",\"path\":\"/d.img\",\"readonly\":true}],"
	                   "\"disks\":[{\"image\":\"/fast.img\",\"direct\":true,"
	                   "\"limits\":{\"iops\":300,\"bytes_per_sec\":1048576}}]}",
	          &d);
	/* What placement adds at start: the direct disk's grant. */
	d.dev[d.n_dev].kind = UV_DEV_DIRECT_BLK;
	snprintf(d.dev[d.n_dev].path, sizeof(d.dev[0].path), "/fast.img");
	d.n_dev++;
	/* ... and a served disk's socket, as command/place.c names it. */
	d.dev[d.n_dev].kind = UV_DEV_VHOST_USER_BLK;
	snprintf(d.dev[d.n_dev].path, sizeof(d.dev[0].path), "/run/io/m1.disk1.sock");
	d.n_dev++;
	d.disk[1] = (struct uv_disk_req){.flags = 0};
	snprintf(d.disk[1].image, sizeof(d.disk[1].image), "/slow.img");
	d.n_disk = 2;
	{
		char why[400];

		assert_null(uv_mig_refusal(&d, why, sizeof(why)));
		/* A socket of that shape for another partition is no grant of ours. */
		snprintf(d.dev[d.n_dev - 1].path, sizeof(d.dev[0].path), "/run/io/m2.disk1.sock");
		assert_non_null(uv_mig_refusal(&d, why, sizeof(why)));
		snprintf(d.dev[d.n_dev - 1].path, sizeof(d.dev[0].path), "/run/io/m1.disk1.sock");
	}
	d.cpu_share_milli = 750; /* set-cpu-share since: the share in force goes along */
	assert_int_equal(uv_desc_to_def(&d, &def), 0);
	from_json(json_object_to_json_string(def), &back);
	json_object_put(def);
	assert_string_equal(back.name, "m1");
	assert_int_equal(back.mem_bytes, 256ull << 20);
	assert_int_equal(back.vcpus, 2);
	assert_int_equal(back.cpu_share_milli, 750);
	assert_int_equal(back.accel, UV_ACCEL_TCG);
	assert_string_equal(back.initrd, "/i");
	assert_string_equal(back.cmdline, "console=ttyS0 quiet");
	assert_int_equal(back.n_dev, 2); /* rng, blk: no direct-blk grant */
	assert_int_equal(back.dev[0].kind, UV_DEV_RNG);
	assert_int_equal(back.dev[1].kind, UV_DEV_BLK);
	assert_int_equal(back.dev[1].flags, UV_DEV_F_READONLY);
	assert_string_equal(back.dev[1].path, "/d.img");
	assert_int_equal(back.n_disk, 2);
	assert_int_equal(back.disk[1].flags, 0);
	assert_string_equal(back.disk[1].image, "/slow.img");
	assert_int_equal(back.disk[0].flags, UV_DISK_F_DIRECT);
	assert_string_equal(back.disk[0].image, "/fast.img");
	assert_int_equal(back.disk_limit[0].iops, 300);
	assert_int_equal(back.disk_limit[0].bytes_per_sec, 1048576);
}

static void test_nics_and_channels_round_trip(void **state)
{
	struct uv_partition_desc d, back;
	json_object *def = NULL;

	(void)state;
	from_json(DEF_HEAD "\"nics\":[{\"switch\":\"lan\"}],"
	                   "\"channels\":[{\"peer\":\"db\",\"size_kib\":128}]}",
	          &d);
	assert_int_equal(uv_desc_to_def(&d, &def), 0);
	from_json(json_object_to_json_string(def), &back);
	json_object_put(def);
	assert_int_equal(back.n_nic, 1);
	assert_string_equal(back.nic[0].sw, "lan");
	assert_int_equal(back.n_chan, 1);
	assert_string_equal(back.chan[0].peer, "db");
	assert_int_equal(back.chan[0].size, 128 << 10);
	assert_int_equal(back.cpu_share_milli, 0);
}

static void refused(const char *json, const char *needle)
{
	struct uv_partition_desc d;
	char why[400];
	const char *r;

	from_json(json, &d);
	r = uv_mig_refusal(&d, why, sizeof(why));
	if (!needle) {
		if (r)
			fail_msg("%s refused: %s", json, r);
		return;
	}
	if (!r || !strstr(r, needle))
		fail_msg("%s: refusal \"%s\" does not say \"%s\"", json, r ? r : "(none)", needle);
}

static void test_what_may_move(void **state)
{
	(void)state;
	refused(DEF_HEAD "\"devices\":[{\"kind\":\"rng\"},{\"kind\":\"blk\",\"path\":\"/d\"}]}",
	        NULL);
	refused(DEF_HEAD "\"disks\":[{\"image\":\"/a\",\"direct\":true}]}", NULL);
	refused(DEF_HEAD "\"disks\":[{\"image\":\"/a\",\"direct\":true},{\"image\":\"/b\"}],"
	                 "\"nics\":[{}]}",
	        NULL); /* served by ultra-io, which logs what it writes */
	refused(DEF_HEAD "\"channels\":[{\"peer\":\"x\"}]}", "channels[0]");
	refused(DEF_HEAD "\"devices\":[{\"kind\":\"vhost-user-net\",\"path\":\"/s\"}]}",
	        "devices[0]: vhost-user-net: a back end named by its socket");
	refused(DEF_HEAD "\"devices\":[{\"kind\":\"rng\"},{\"kind\":\"channel\",\"path\":\"/c\"}]}",
	        "devices[1]: a channel");
}

static int parse(const char *json, struct uv_mig_progress *p)
{
	json_object *o = json_tokener_parse(json);
	int r = uv_mig_progress_parse(o, p);

	json_object_put(o);
	return r;
}

static void test_progress(void **state)
{
	struct uv_mig_progress p;
	json_object *o;

	(void)state;
	/* What QEMU 7.2 answered in a measured run (trimmed). */
	assert_int_equal(parse("{\"status\":\"completed\",\"setup-time\":1,\"downtime\":65,"
	                       "\"total-time\":168,\"ram\":{\"total\":268513280,"
	                       "\"dirty-sync-count\":3,\"page-size\":4096,\"remaining\":0,"
	                       "\"mbps\":3842.5,\"transferred\":80622766,"
	                       "\"dirty-pages-rate\":25}}",
	                       &p),
	                 0);
	assert_string_equal(p.status, "completed");
	assert_true(uv_mig_status_final(p.status));
	assert_int_equal(p.downtime_ms, 65);
	assert_int_equal(p.total_ms, 168);
	assert_int_equal(p.transferred, 80622766);
	assert_int_equal(p.dirty_sync_count, 3);
	assert_int_equal(uv_mig_dirty_bytes_per_s(&p), 25 * 4096);
	o = uv_mig_progress_json(&p);
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
	                    "{\"status\":\"completed\",\"total_ms\":168,\"downtime_ms\":65,"
	                    "\"setup_ms\":1,\"transferred_bytes\":80622766,\"ram_bytes\":268513280,"
	                    "\"remaining_bytes\":0,\"dirty_bytes_per_s\":102400,\"passes\":3,"
	                    "\"mbps\":3842.5}");
	json_object_put(o);

	assert_int_equal(parse("{}", &p), 0); /* before any migration */
	assert_string_equal(p.status, "none");
	assert_false(uv_mig_status_final(p.status));
	assert_int_equal(parse("{\"status\":\"failed\",\"error-desc\":\"Unable to write\"}", &p),
	                 0);
	assert_string_equal(p.error, "Unable to write");
	assert_true(uv_mig_status_final("cancelled"));
	assert_false(uv_mig_status_final("active"));

	/* Wrong types and ranges are refused, and leave *p as it was. */
	memset(&p, 0x5a, sizeof(p));
	assert_int_equal(parse("{\"status\":7}", &p), -EPROTO);
	assert_int_equal(parse("{\"status\":\"\"}", &p), -EPROTO);
	assert_int_equal(parse("{\"status\":\"active\",\"ram\":[]}", &p), -EPROTO);
	assert_int_equal(parse("{\"status\":\"active\",\"ram\":{\"transferred\":-1}}", &p),
	                 -EPROTO);
	assert_int_equal(parse("{\"status\":\"active\",\"ram\":{\"mbps\":\"fast\"}}", &p), -EPROTO);
	assert_int_equal(parse("{\"status\":\"active\",\"downtime\":1.5}", &p), -EPROTO);
	assert_int_equal(parse("[1]", &p), -EPROTO);
	assert_int_equal(uv_mig_progress_parse(NULL, &p), -EPROTO);
	assert_int_equal(((unsigned char *)&p)[0], 0x5a);

	/* A product that overflows says the most it can, not a wrapped small number. */
	memset(&p, 0, sizeof(p));
	p.page_size = 1ull << 40;
	p.dirty_pages_rate = 1ull << 40;
	assert_int_equal(uv_mig_dirty_bytes_per_s(&p), UINT64_MAX);
}

static int reply(const char *json, char *stream, size_t cap)
{
	json_object *o = json_tokener_parse(json);
	int r = uv_mig_in_reply_parse(o, "m1", stream, cap);

	json_object_put(o);
	return r;
}

static void test_target_reply(void **state)
{
	char s[UV_MIG_PATH_MAX], long_path[200];

	(void)state;
	assert_int_equal(reply("{\"name\":\"m1\",\"state\":\"incoming\","
	                       "\"stream\":\"/run/b/partitions/m1/migrate.sock\"}",
	                       s, sizeof(s)),
	                 0);
	assert_string_equal(s, "/run/b/partitions/m1/migrate.sock");
	strcpy(s, "kept");
	assert_int_equal(reply("{\"name\":\"m2\",\"stream\":\"/x\"}", s, sizeof(s)), -EPROTO);
	assert_int_equal(reply("{\"name\":\"m1\",\"stream\":\"relative\"}", s, sizeof(s)), -EPROTO);
	assert_int_equal(reply("{\"name\":\"m1\"}", s, sizeof(s)), -EPROTO);
	assert_int_equal(reply("{\"name\":\"m1\",\"stream\":5}", s, sizeof(s)), -EPROTO);
	assert_int_equal(reply("\"m1\"", s, sizeof(s)), -EPROTO);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = 0;
	{
		char json[300];

		snprintf(json, sizeof(json), "{\"name\":\"m1\",\"stream\":\"%s\"}", long_path);
		assert_int_equal(reply(json, s, sizeof(s)), -EPROTO); /* would not fit sun_path */
	}
	assert_string_equal(s, "kept");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_definition_round_trip),
	    cmocka_unit_test(test_nics_and_channels_round_trip),
	    cmocka_unit_test(test_what_may_move),
	    cmocka_unit_test(test_progress),
	    cmocka_unit_test(test_target_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
