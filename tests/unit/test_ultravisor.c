/* SPDX-License-Identifier: MIT */
/*
 * The ultravisor daemon end to end: transactions over a command channel, refusals with reasons,
 * the read-only database (claim 10), memory objects behind grants (claims 29-32), and recovery
 * after kill -9 at random points equal to what was acknowledged (claims 5, 7).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/mman.h>

#include "resdb_testlib.h"
#include "uvd_testlib.h"

#define CMD_TIMEOUT 10000
#define KILLS_DEFAULT 200

struct fixture {
	struct uvd_proc d;
	int sock;
	struct uv_cmd *cmd;
};

/* As the boot partition would (claim 8): record the command partition and mark it running,
 * unless a previous run already did. */
static void bring_up_command(struct fixture *f)
{
	struct uv_cmd *boot;
	struct uv_txn t;
	struct uv_txn_response resp;
	char err[256];

	if (uv_cmd_open(f->sock, P_BOOT, UV_ROLE_BOOT, &boot, err, sizeof(err)))
		fail_msg("open boot channel: %s", err);
	tx_create(&t, P_BOOT, UV_ROLE_BOOT, P_CMD, 0, 0);
	t.u.create.vcpus = 1;
	assert_int_equal(uv_cmd_submit(boot, &t, &resp, CMD_TIMEOUT), 0);
	if (getenv("UVD_TEST_VERBOSE"))
		print_message("create command: %s\n", uv_txn_reason_str(resp.reason));
	if (resp.reason != UV_TXN_EXISTS && resp.reason != UV_TXN_NOT_PERMITTED)
		assert_int_equal(resp.reason, UV_TXN_OK);
	tx_hdr(&t, UV_TXN_SET_STATE, P_BOOT, UV_ROLE_BOOT);
	t.u.state.partition_id = P_CMD;
	t.u.state.state = UV_STATE_RUNNING;
	assert_int_equal(uv_cmd_submit(boot, &t, &resp, CMD_TIMEOUT), 0);
	if (getenv("UVD_TEST_VERBOSE"))
		print_message("command running: %s\n", uv_txn_reason_str(resp.reason));
	uv_cmd_close(boot);
}

static void connect_cmd(struct fixture *f)
{
	char err[256];

	assert_int_equal(uv_client_connect(f->d.sock, &f->sock), 0);
	bring_up_command(f);
	if (uv_cmd_open(f->sock, P_CMD, UV_ROLE_COMMAND, &f->cmd, err, sizeof(err)))
		fail_msg("open command channel: %s", err);
}

static void disconnect(struct fixture *f)
{
	uv_cmd_close(f->cmd);
	f->cmd = NULL;
	if (f->sock >= 0)
		close(f->sock);
	f->sock = -1;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	uvd_dirs(&f->d);
	if (uvd_start(&f->d, "1024"))
		return -1;
	/* The daemon's default system partitions: 1 boot, 2 command, 3 operations, 4-5 io. */
	connect_cmd(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	disconnect(f);
	uvd_cleanup(&f->d);
	free(f);
	return 0;
}

static enum uv_txn_reason submit(struct fixture *f, struct uv_txn *t, uint64_t *result0)
{
	struct uv_txn_response resp;

	assert_int_equal(uv_cmd_submit(f->cmd, t, &resp, CMD_TIMEOUT), 0);
	if (result0)
		*result0 = resp.result[0];
	if (resp.reason == UV_TXN_OK)
		assert_true(resp.log_seq > 0);
	return resp.reason;
}

static enum uv_txn_reason create(struct fixture *f, uint32_t id)
{
	struct uv_txn t;

	tx_create(&t, P_CMD, UV_ROLE_COMMAND, id, 0, 0);
	return submit(f, &t, NULL);
}

static enum uv_txn_reason grant(struct fixture *f, uint32_t id, uint64_t bytes)
{
	struct uv_txn t;

	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, id, bytes, NULL, 0);
	return submit(f, &t, NULL);
}

static void map_db(struct fixture *f, struct uv_resdb_view *v, const void **base, size_t *size)
{
	int fd = -1, sock;
	unsigned n;
	uint64_t sz;
	char err[256];

	assert_int_equal(uv_client_connect(f->d.sock, &sock), 0);
	assert_int_equal(uv_client_simple(sock, UV_CTL_GET_DB, 0, 0, &fd, 1, &n, &sz, err,
					  sizeof(err)),
			 0);
	close(sock);
	assert_int_equal(n, 1);
	*base = mmap(NULL, sz, PROT_READ, MAP_SHARED, fd, 0);
	assert_ptr_not_equal(*base, MAP_FAILED);
	/* The fd is read-only and the region is sealed: no way to map it writable (claim 10). */
	assert_ptr_equal(mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
	close(fd);
	*size = sz;
	assert_int_equal(uv_resdb_view_attach(v, *base, sz), 0);
}

static void test_transactions_reach_the_database(void **state)
{
	struct fixture *f = *state;
	struct uv_resdb_view v;
	struct uv_partition_desc d;
	struct uv_resdb_part rec;
	const void *base;
	size_t size;

	assert_int_equal(create(f, 10), UV_TXN_OK);
	assert_int_equal(grant(f, 10, 64 * MiB), UV_TXN_OK);
	map_db(f, &v, &base, &size);
	assert_int_equal(uv_resdb_read_desc(&v, 10, &d, &rec), 0);
	assert_string_equal(d.name, "p10");
	assert_int_equal(rec.mem_bytes, 64 * MiB);
	assert_int_equal(uv_resdb_read_desc(&v, 11, &d, &rec), -ENOENT);
	munmap((void *)base, size);
}

static void test_refusals_carry_reasons_and_change_nothing(void **state)
{
	struct fixture *f = *state;
	unsigned char junk[64];
	struct uv_txn t;
	struct uv_txn_response resp;

	assert_int_equal(create(f, 20), UV_TXN_OK);
	assert_int_equal(create(f, 20), UV_TXN_EXISTS);
	assert_int_equal(grant(f, 21, 4 * MiB), UV_TXN_NO_SUCH_PARTITION);
	assert_int_equal(grant(f, 20, 4096 * GiB), UV_TXN_NO_SPACE);
	tx_chan(&t, UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 7, 20, 99, 64 * 1024);
	assert_int_equal(submit(f, &t, NULL), UV_TXN_NO_SUCH_PARTITION);
	/* Garbage on the channel: answered with a reason, never applied. */
	memset(junk, 0x5a, sizeof(junk));
	assert_int_equal(uv_cmd_send_raw(f->cmd, junk, sizeof(junk), CMD_TIMEOUT), 0);
	assert_int_equal(uv_cmd_recv(f->cmd, &resp, NULL, CMD_TIMEOUT), 0);
	assert_int_equal(resp.reason, UV_TXN_BAD_MAGIC);
	/* A record claiming another sender than the channel's is refused. */
	{
		unsigned char buf[8192];
		enum uv_txn_reason why;
		ssize_t len;

		tx_create(&t, P_BOOT, UV_ROLE_BOOT, 22, 0, 0);
		len = uv_txn_encode(&t, buf, sizeof(buf), &why);
		assert_true(len > 0);
		assert_int_equal(uv_cmd_send_raw(f->cmd, buf, (size_t)len, CMD_TIMEOUT), 0);
		assert_int_equal(uv_cmd_recv(f->cmd, &resp, NULL, CMD_TIMEOUT), 0);
		assert_int_equal(resp.reason, UV_TXN_NOT_PERMITTED);
	}
	/* The channel still works afterwards. */
	assert_int_equal(grant(f, 20, 8 * MiB), UV_TXN_OK);
}

static void test_only_system_partitions_open_command_channels(void **state)
{
	struct fixture *f = *state;
	struct uv_cmd *c = NULL;
	char err[256] = "";

	assert_int_equal(uv_cmd_open(f->sock, 40, UV_ROLE_COMMAND, &c, err, sizeof(err)), -EACCES);
	assert_int_equal(uv_cmd_open(f->sock, P_BOOT, UV_ROLE_COMMAND, &c, err, sizeof(err)),
			 -EACCES);
	assert_non_null(strstr(err, "may not"));
}

static void test_database_mapping_is_read_only(void **state)
{
	struct fixture *f = *state;
	struct uv_resdb_view v;
	const void *base;
	size_t size;
	int st;
	pid_t pid;

	map_db(f, &v, &base, &size);
	assert_int_not_equal(mprotect((void *)base, size, PROT_READ | PROT_WRITE), 0);
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile unsigned char *)base = 0xff; /* a monitor's write faults */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
	munmap((void *)base, size);
}

static void test_memory_object_follows_grant(void **state)
{
	struct fixture *f = *state;
	int fds[UV_CTL_FDS_MAX], sock, seals;
	unsigned n;
	uint64_t bytes;
	struct stat st;
	char err[256];

	assert_int_equal(create(f, 30), UV_TXN_OK);
	assert_int_equal(grant(f, 30, 6 * MiB), UV_TXN_OK);
	assert_int_equal(grant(f, 30, 4 * MiB), UV_TXN_OK);
	assert_int_equal(uv_client_connect(f->d.sock, &sock), 0);
	assert_int_equal(uv_client_simple(sock, UV_CTL_GET_MEMORY, 30, 0, fds, UV_CTL_FDS_MAX, &n,
					  &bytes, err, sizeof(err)),
			 0);
	assert_int_equal(n, 2); /* one object per grant, in grant order */
	assert_int_equal(bytes, 10 * MiB);
	assert_int_equal(fstat(fds[0], &st), 0);
	assert_int_equal(st.st_size, 6 * MiB);
	seals = fcntl(fds[0], F_GET_SEALS);
	assert_true(seals & F_SEAL_GROW);
	assert_true(seals & F_SEAL_SHRINK);
	assert_int_not_equal(ftruncate(fds[0], 1 * MiB), 0);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(uv_client_simple(sock, UV_CTL_GET_MEMORY, 31, 0, fds, UV_CTL_FDS_MAX, &n,
					  &bytes, err, sizeof(err)),
			 -ENOENT);
	close(sock);
}

/* What the test believes is committed: per partition, exists and granted bytes. */
struct model {
	uint8_t exists[64];
	uint64_t mem[64];
	uint32_t share[64];
};

static void model_apply(struct model *m, const struct uv_txn *t)
{
	switch (t->hdr.type) {
	case UV_TXN_CREATE_PARTITION:
		m->exists[t->u.create.id] = 1;
		m->mem[t->u.create.id] = 0;
		m->share[t->u.create.id] = t->u.create.cpu_share_milli;
		break;
	case UV_TXN_DESTROY_PARTITION:
		m->exists[t->u.partition.partition_id] = 0;
		m->mem[t->u.partition.partition_id] = 0;
		break;
	case UV_TXN_GRANT_MEMORY:
		m->mem[t->u.memory.partition_id] += t->u.memory.bytes;
		break;
	case UV_TXN_SET_CPU_SHARE:
		m->share[t->u.cpu.partition_id] = t->u.cpu.cpu_share_milli;
		break;
	default:
		break;
	}
}

static int model_matches(const struct model *m, const struct uv_resdb_view *v)
{
	for (uint32_t id = 10; id < 64; id++) {
		struct uv_partition_desc d;
		struct uv_resdb_part rec;
		int r = uv_resdb_read_desc(v, id, &d, &rec);

		if (m->exists[id] != (r == 0))
			return 0;
		if (r == 0 && (rec.mem_bytes != m->mem[id] || rec.cpu_share_milli != m->share[id]))
			return 0;
	}
	return 1;
}

static void random_txn(struct model *m, struct uv_txn *t, unsigned *seed)
{
	uint32_t id = 10 + (uint32_t)(rand_r(seed) % 40);

	unsigned dice = (unsigned)rand_r(seed) % 16;

	if (!m->exists[id]) {
		tx_create(t, P_CMD, UV_ROLE_COMMAND, id, 0, 0);
	} else if (dice == 0) {
		tx_part(t, P_CMD, UV_ROLE_COMMAND, id); /* refused while it holds memory */
	} else if (dice < 4) {
		tx_mem(t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, id,
		       (uint64_t)(1 + rand_r(seed) % 3) * 4 * MiB, NULL, 0);
	} else {
		tx_hdr(t, UV_TXN_SET_CPU_SHARE, P_CMD, UV_ROLE_COMMAND);
		t->u.cpu.partition_id = id;
		t->u.cpu.cpu_share_milli = 1 + (uint32_t)rand_r(seed) % 2000;
	}
}

/* kill -9 at random points: after each restart the database is exactly the acknowledged
 * transactions, plus at most the one in flight (durable but not yet acknowledged). */
static void test_kill9_recovery_equals_acknowledged(void **state)
{
	struct fixture *f = *state;
	const char *env = getenv("UVD_KILLS");
	int kills = env ? atoi(env) : KILLS_DEFAULT;
	unsigned seed = (unsigned)time(NULL);
	struct model acked = {0};
	unsigned total_acked = 0, inflight_committed = 0;

	print_message("seed %u, %d kills\n", seed, kills);
	for (int k = 0; k < kills; k++) {
		struct model with_inflight;
		struct uv_resdb_view v;
		const void *base;
		size_t size;
		pid_t killer;
		int delay_us = rand_r(&seed) % 20000;
		struct uv_txn t;
		int in_flight = 0;

		/* A sibling process delivers the kill while transactions stream. */
		killer = fork();
		if (killer == 0) {
			usleep((useconds_t)delay_us);
			kill(f->d.pid, SIGKILL);
			_exit(0);
		}
		for (;;) {
			struct uv_txn_response resp;

			uint64_t id, got = 0;
			int r;

			random_txn(&acked, &t, &seed);
			in_flight = 1;
			if (uv_cmd_send(f->cmd, &t, &id, 50))
				break;
			/* Wait for the answer, or for the daemon to be gone. */
			while ((r = uv_cmd_recv(f->cmd, &resp, &got, 20)) == -ETIMEDOUT &&
			       waitpid(f->d.pid, NULL, WNOHANG) == 0)
				;
			if (r)
				break; /* the daemon died under us */
			assert_int_equal(got, id);
			in_flight = 0;
			total_acked++;
			if (resp.reason == UV_TXN_OK)
				model_apply(&acked, &t);
			else if (t.hdr.type == UV_TXN_DESTROY_PARTITION)
				assert_int_equal(resp.reason, UV_TXN_BUSY); /* still holds memory */
			else if (t.hdr.type == UV_TXN_SET_CPU_SHARE)
				fail_msg("set cpu share refused: %s", uv_txn_reason_str(resp.reason));
			else
				assert_int_equal(resp.reason, UV_TXN_NO_SPACE);
		}
		waitpid(killer, NULL, 0);
		waitpid(f->d.pid, NULL, 0); /* may have been reaped above already */
		f->d.pid = 0;
		disconnect(f);
		assert_int_equal(uvd_start(&f->d, "1024"), 0);
		connect_cmd(f);
		map_db(f, &v, &base, &size);
		with_inflight = acked;
		if (in_flight)
			model_apply(&with_inflight, &t);
		if (in_flight && model_matches(&with_inflight, &v) && !model_matches(&acked, &v)) {
			acked = with_inflight; /* it was committed before the kill */
			inflight_committed++;
		}
		else if (!model_matches(&acked, &v))
			fail_msg("kill %d (seed %u): database differs from the acknowledged history",
				 k, seed);
		munmap((void *)base, size);
	}
	print_message("%u transactions acknowledged across the kills; %u in flight at a kill were "
		      "durable\n",
		      total_acked, inflight_committed);
	assert_true(total_acked > (unsigned)kills); /* the kills did land mid-stream */
}

static void read_part(struct fixture *f, uint32_t id, struct uv_resdb_part *rec)
{
	struct uv_resdb_view v;
	struct uv_partition_desc d;
	const void *base;
	size_t size;

	map_db(f, &v, &base, &size);
	assert_int_equal(uv_resdb_read_desc(&v, id, &d, rec), 0);
	munmap((void *)base, size);
}

static int report(struct fixture *f, enum uv_ctl_op op, uint32_t id)
{
	char err[256];

	return uv_client_simple(f->sock, op, id, 0, NULL, 0, NULL, NULL, err, sizeof(err));
}

/* Claims 5, 8, 55: a failed system partition's resources are preserved for it, nothing else may
 * touch them, its restarted instance gets them back, and all of it survives a daemon restart. */
static void test_failed_partition_keeps_resources_for_its_restart(void **state)
{
	struct fixture *f = *state;
	struct uv_resdb_part rec;
	struct uv_txn t;

	assert_int_equal(create(f, 4), UV_TXN_OK); /* partition 4 is configured as an io partition */
	assert_int_equal(grant(f, 4, 8 * MiB), UV_TXN_OK);
	tx_hdr(&t, UV_TXN_SET_STATE, P_CMD, UV_ROLE_COMMAND);
	t.u.state.partition_id = 4;
	t.u.state.state = UV_STATE_RUNNING;
	assert_int_equal(submit(f, &t, NULL), UV_TXN_OK);

	assert_int_equal(report(f, UV_CTL_PARTITION_FAILED, 4), 0);
	read_part(f, 4, &rec);
	assert_int_equal(rec.state, UV_STATE_CRASHED);
	assert_int_equal(rec.status, UV_RESDB_PRESERVED);
	assert_int_equal(rec.mem_bytes, 8 * MiB);
	assert_int_equal(grant(f, 4, 4 * MiB), UV_TXN_BUSY); /* preserved: frozen for its owner */

	/* The preservation is durable: a daemon crash does not hand the resources out. */
	disconnect(f);
	uvd_kill(&f->d);
	assert_int_equal(uvd_start(&f->d, "1024"), 0);
	connect_cmd(f);
	read_part(f, 4, &rec);
	assert_int_equal(rec.status, UV_RESDB_PRESERVED);
	assert_int_equal(rec.mem_bytes, 8 * MiB);

	assert_int_equal(report(f, UV_CTL_PARTITION_RESTARTED, 4), 0);
	read_part(f, 4, &rec);
	assert_int_equal(rec.state, UV_STATE_STARTING);
	assert_int_equal(rec.status, UV_RESDB_LIVE);
	assert_int_equal(rec.mem_bytes, 8 * MiB);
	assert_int_equal(grant(f, 4, 4 * MiB), UV_TXN_OK);
	assert_int_not_equal(report(f, UV_CTL_PARTITION_RESTARTED, 4), 0); /* nothing preserved */
	assert_int_not_equal(report(f, UV_CTL_PARTITION_FAILED, 99), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transactions_reach_the_database, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refusals_carry_reasons_and_change_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_system_partitions_open_command_channels,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_database_mapping_is_read_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_memory_object_follows_grant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_recovery_equals_acknowledged, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_partition_keeps_resources_for_its_restart,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
