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

#include "channel.h"
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
	assert_int_equal(
	    uv_client_simple(sock, UV_CTL_GET_DB, 0, 0, &fd, 1, &n, &sz, err, sizeof(err)), 0);
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

	struct uv_cmd *mon, *second;

	assert_int_equal(create(f, 30), UV_TXN_OK);
	assert_int_equal(create(f, 32), UV_TXN_OK);
	assert_int_equal(grant(f, 30, 6 * MiB), UV_TXN_OK);
	assert_int_equal(grant(f, 30, 4 * MiB), UV_TXN_OK);
	assert_int_equal(uv_client_connect(f->d.sock, &sock), 0);
	/* Nobody in particular gets nothing. */
	assert_int_equal(uv_client_simple(sock, UV_CTL_GET_MEMORY, 30, 0, fds, UV_CTL_FDS_MAX, &n,
	                                  &bytes, err, sizeof(err)),
	                 -EACCES);
	/* The partition's monitor (the connection holding its monitor channel) does. */
	assert_int_equal(uv_cmd_open(sock, 30, UV_ROLE_MONITOR, &mon, err, sizeof(err)), 0);
	assert_int_equal(uv_client_simple(sock, UV_CTL_GET_MEMORY, 32, 0, fds, UV_CTL_FDS_MAX, &n,
	                                  &bytes, err, sizeof(err)),
	                 -EACCES); /* another partition's memory: no */
	{
		int other;
		assert_int_equal(uv_client_connect(f->d.sock, &other), 0);
		assert_int_equal(uv_cmd_open(other, 30, UV_ROLE_MONITOR, &second, err, sizeof(err)),
		                 -EBUSY); /* one monitor per partition */
		close(other);
	}
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
	/* Handing memory back (after an ultravisor restart): the partition's monitor may, with
	 * one of the partition's own objects; anything else is refused. */
	assert_int_equal(uv_client_adopt_memory(sock, 30, &fds[0], 1, err, sizeof(err)), 0);
	{
		int stranger = memfd_create("uv-mem-p30-s999", MFD_CLOEXEC);
		assert_true(stranger >= 0);
		assert_int_equal(ftruncate(stranger, 6 * MiB), 0);
		assert_int_not_equal(
		    uv_client_adopt_memory(sock, 30, &stranger, 1, err, sizeof(err)), 0);
		close(stranger);
	}
	assert_int_equal(uv_client_adopt_memory(f->sock, 30, &fds[0], 1, err, sizeof(err)),
	                 -EACCES);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(uv_client_simple(sock, UV_CTL_GET_MEMORY, 31, 0, fds, UV_CTL_FDS_MAX, &n,
	                                  &bytes, err, sizeof(err)),
	                 -ENOENT);
	uv_cmd_close(mon);
	close(sock);
	/* The monitor's connection is gone, and its claim with it: a new monitor may take over. */
	assert_int_equal(uv_client_connect(f->d.sock, &sock), 0);
	for (int i = 0; i < 100; i++) { /* the daemon notices the hang-up on its next turn */
		if (uv_cmd_open(sock, 30, UV_ROLE_MONITOR, &mon, err, sizeof(err)) == 0)
			break;
		mon = NULL;
		usleep(1000);
	}
	assert_non_null(mon);
	uv_cmd_close(mon);
	close(sock);
}

/* The channel objects partition id is handed: n of them, checked for size and seals. */
static unsigned get_channels(struct fixture *f, uint32_t id, int *fds, struct uv_ctl_channel *info)
{
	unsigned n = 99;
	char err[256];

	/* As the command partition, which may hand them to the partition's monitor. */
	if (uv_client_get_channels(f->sock, id, fds, info, &n, err, sizeof(err)))
		fail_msg("GET_CHANNELS %u: %s", id, err);
	for (unsigned i = 0; i < n; i++) {
		struct stat st;
		assert_int_equal(fstat(fds[i], &st), 0);
		assert_int_equal((uint64_t)st.st_size, info[i].size);
		assert_true(fcntl(fds[i], F_GET_SEALS) & F_SEAL_SHRINK);
	}
	return n;
}

/* Attaches to fd as (side, part); returns uv_chan_attach's result, the channel in *out. */
static int attach(int fd, uint64_t size, uint32_t side, uint32_t part, void **mem,
                  struct uv_chan **out)
{
	struct uv_chan_endpoint ep = {
	    .side = side, .part_id = part, .wait_fd = -1, .signal_fd = -1};
	char err[256];

	*mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(*mem != MAP_FAILED);
	return uv_chan_attach(out, *mem, size, &ep, err, sizeof(err));
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

static void test_channel_goes_to_its_endpoints_only(void **state)
{
	struct fixture *f = *state;
	int fds[UV_CTL_FDS_MAX], fds_b[UV_CTL_FDS_MAX];
	int fds_c[UV_CTL_FDS_MAX];
	struct uv_ctl_channel info[UV_CTL_FDS_MAX], info_b[UV_CTL_FDS_MAX], info_c[UV_CTL_FDS_MAX];
	struct uv_chan *a, *b, *wrong;
	struct uv_chan_buf buf;
	struct iovec iov = {.iov_base = "hello", .iov_len = 5};
	char got[64];
	void *ma, *mb, *mw;
	struct uv_txn t;

	for (uint32_t id = 40; id <= 42; id++)
		assert_int_equal(create(f, id), UV_TXN_OK);
	tx_chan(&t, UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 7, 40, 41, 12 << 10);
	assert_int_equal(submit(f, &t, NULL), UV_TXN_OK);
	tx_chan(&t, UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 6, 41, 40, 64 << 10);
	assert_int_equal(submit(f, &t, NULL), UV_TXN_OK);

	/* 40 gets both, in channel id order, told its side and peer; sizes are BAR-shaped. */
	assert_int_equal(get_channels(f, 40, fds, info), 2);
	assert_int_equal(info[0].channel_id, 6);
	assert_int_equal(info[0].side, UV_CHAN_SIDE_B);
	assert_int_equal(info[0].peer, 41);
	assert_int_equal(info[0].size, 64 << 10);
	assert_int_equal(info[1].channel_id, 7);
	assert_int_equal(info[1].side, UV_CHAN_SIDE_A);
	assert_int_equal(info[1].size, 16 << 10); /* 12 KiB rounded up to a power of two */
	assert_int_equal(get_channels(f, 41, fds_b, info_b), 2);
	assert_int_equal(info_b[1].channel_id, 7);
	assert_int_equal(info_b[1].side, UV_CHAN_SIDE_B);
	assert_int_equal(info_b[1].peer, 40);
	/* 42 is no endpoint: nothing; a missing partition: refused. */
	assert_int_equal(get_channels(f, 42, fds_c, info_c), 0);
	{
		unsigned n = 0;
		char err[256];
		int sock;
		assert_int_equal(uv_client_connect(f->d.sock, &sock), 0);
		assert_int_equal(
		    uv_client_get_channels(sock, 99, fds_c, info_c, &n, err, sizeof(err)), -ENOENT);
		close(sock);
	}

	/* The header names the endpoints: each side attaches as itself, a stranger cannot. */
	assert_int_equal(attach(fds[1], info[1].size, UV_CHAN_SIDE_A, 40, &ma, &a), 0);
	assert_int_equal(attach(fds_b[1], info_b[1].size, UV_CHAN_SIDE_B, 41, &mb, &b), 0);
	assert_int_equal(attach(fds_b[1], info_b[1].size, UV_CHAN_SIDE_B, 42, &mw, &wrong),
	                 -EACCES);
	munmap(mw, info_b[1].size);
	/* Both fds are the same memory: A's message arrives at B (queue 0 is A's). */
	assert_int_equal(uv_chan_send(a, 0, &iov, 1), 1);
	buf = (struct uv_chan_buf){.data = got, .cap = sizeof(got)};
	assert_int_equal(uv_chan_recv(b, 0, &buf, 1), 1);
	assert_int_equal(buf.len, 5);
	assert_memory_equal(got, "hello", 5);
	uv_chan_detach(a);
	uv_chan_detach(b);
	munmap(ma, info[1].size);
	munmap(mb, info_b[1].size);
	close_fds(fds, 2);
	close_fds(fds_b, 2);

	/* After a restart the objects are made again, formatted, from the database. */
	uvd_kill(&f->d);
	disconnect(f);
	assert_int_equal(uvd_start(&f->d, "1024"), 0);
	connect_cmd(f);
	assert_int_equal(get_channels(f, 41, fds, info), 2);
	assert_int_equal(attach(fds[0], info[0].size, UV_CHAN_SIDE_A, 41, &ma, &a), 0);
	uv_chan_detach(a);
	munmap(ma, info[0].size);
	close_fds(fds, 2);

	/* DESTROY_CHANNEL retires the object. */
	tx_chan(&t, UV_TXN_DESTROY_CHANNEL, P_CMD, UV_ROLE_COMMAND, 6, 41, 40, 64 << 10);
	assert_int_equal(submit(f, &t, NULL), UV_TXN_OK);
	assert_int_equal(get_channels(f, 40, fds, info), 1);
	assert_int_equal(info[0].channel_id, 7);
	close(fds[0]);
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
				fail_msg("set cpu share refused: %s",
				         uv_txn_reason_str(resp.reason));
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
		} else if (!model_matches(&acked, &v))
			fail_msg(
			    "kill %d (seed %u): database differs from the acknowledged history", k,
			    seed);
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

	assert_int_equal(create(f, 4),
	                 UV_TXN_OK); /* partition 4 is configured as an io partition */
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

/* Grants folded into a snapshot still get their memory objects after a restart, whether the
 * daemon stopped cleanly (it checkpoints at exit) or was killed after a periodic checkpoint. */
static void test_memory_objects_survive_snapshots(void **state)
{
	struct fixture *f = *state;
	int fds[UV_CTL_FDS_MAX], sock;
	unsigned n;
	uint64_t bytes;
	char err[256];

	disconnect(f);
	uvd_kill(&f->d);
	assert_int_equal(uvd_start_opt(&f->d, "1024", "--checkpoint-every", "3"), 0);
	connect_cmd(f);
	assert_int_equal(create(f, 50), UV_TXN_OK);
	assert_int_equal(grant(f, 50, 8 * MiB), UV_TXN_OK);
	for (int i = 0; i < 4; i++) /* past the checkpoint */
		assert_int_equal(create(f, 51 + (uint32_t)i), UV_TXN_OK);
	assert_int_equal(grant(f, 50, 4 * MiB), UV_TXN_OK); /* replayed after the snapshot */
	for (int round = 0; round < 2; round++) {
		disconnect(f);
		if (round == 0) {
			uvd_kill(&f->d);
		} else {
			kill(f->d.pid, SIGTERM);
			waitpid(f->d.pid, NULL, 0);
			f->d.pid = 0;
		}
		assert_int_equal(uvd_start(&f->d, "1024"), 0);
		connect_cmd(f);
		sock = f->sock; /* the command partition's connection */
		assert_int_equal(uv_client_simple(sock, UV_CTL_GET_MEMORY, 50, 0, fds,
		                                  UV_CTL_FDS_MAX, &n, &bytes, err, sizeof(err)),
		                 0);
		assert_int_equal(bytes, 12 * MiB);
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
	}
}

/* After a restart the ultravisor makes channel objects afresh; an endpoint's monitor hands the
 * live one back, and from then on both endpoints are given the memory they share. */
static void test_channel_objects_handed_back(void **state)
{
	struct fixture *f = *state;
	struct uv_ctl_channel info[UV_CTL_FDS_MAX];
	int fds[UV_CTL_FDS_MAX], live, sock;
	struct uv_cmd *mon;
	struct uv_txn t;
	struct stat a, b;
	char err[256];

	assert_int_equal(create(f, 60), UV_TXN_OK);
	assert_int_equal(create(f, 61), UV_TXN_OK);
	assert_int_equal(create(f, 62), UV_TXN_OK);
	tx_chan(&t, UV_TXN_CREATE_CHANNEL, P_CMD, UV_ROLE_COMMAND, 9, 60, 61, 64 * 1024);
	assert_int_equal(submit(f, &t, NULL), UV_TXN_OK);
	assert_int_equal(get_channels(f, 60, fds, info), 1);
	live = fds[0]; /* what the engines would hold */
	assert_int_equal(fstat(live, &a), 0);

	disconnect(f);
	uvd_kill(&f->d);
	assert_int_equal(uvd_start(&f->d, "1024"), 0);
	connect_cmd(f);
	assert_int_equal(get_channels(f, 60, fds, info), 1);
	assert_int_equal(fstat(fds[0], &b), 0);
	assert_int_not_equal(a.st_ino, b.st_ino); /* made afresh */
	close(fds[0]);

	/* A partition that is not an endpoint cannot plant it; an endpoint's monitor can. */
	assert_int_equal(uv_client_connect(f->d.sock, &sock), 0);
	assert_int_equal(uv_cmd_open(sock, 62, UV_ROLE_MONITOR, &mon, err, sizeof(err)), 0);
	assert_int_not_equal(uv_client_adopt_channels(sock, 62, &live, 1, err, sizeof(err)), 0);
	uv_cmd_close(mon);
	close(sock);
	assert_int_equal(uv_client_connect(f->d.sock, &sock), 0);
	assert_int_equal(uv_cmd_open(sock, 61, UV_ROLE_MONITOR, &mon, err, sizeof(err)), 0);
	assert_int_equal(uv_client_adopt_channels(sock, 61, &live, 1, err, sizeof(err)), 0);
	assert_int_equal(get_channels(f, 60, fds, info), 1);
	assert_int_equal(fstat(fds[0], &b), 0);
	assert_int_equal(a.st_ino, b.st_ino); /* the live object again, for both endpoints */
	close(fds[0]);
	uv_cmd_close(mon);
	close(sock);
	close(live);
}

static struct uv_disk_limit read_limit(struct fixture *f, uint32_t id, uint32_t disk)
{
	struct uv_resdb_view v;
	struct uv_partition_desc d;
	const void *base;
	size_t size;

	map_db(f, &v, &base, &size);
	assert_int_equal(uv_resdb_read_desc(&v, id, &d, NULL), 0);
	munmap((void *)base, size);
	return d.disk_limit[disk];
}

static enum uv_txn_reason set_limit(struct fixture *f, uint32_t id, uint32_t disk, uint32_t iops,
                                    uint64_t bps, uint64_t *was_bps)
{
	struct uv_txn t;

	tx_hdr(&t, UV_TXN_SET_DISK_LIMITS, P_CMD, UV_ROLE_COMMAND);
	t.u.disk_limits.partition_id = id;
	t.u.disk_limits.disk = disk;
	t.u.disk_limits.limit.iops = iops;
	t.u.disk_limits.limit.bytes_per_sec = bps;
	return submit(f, &t, was_bps);
}

/* A disk's limit set by transaction is in the stored descriptor: the audit log replays it after
 * kill -9, and a snapshot (a checkpoint, then a clean stop) keeps it (claims 3, 7, 19). */
static void test_disk_limits_survive_replay_and_snapshots(void **state)
{
	struct fixture *f = *state;
	uint64_t was = 0;
	struct uv_txn t;

	disconnect(f);
	uvd_kill(&f->d);
	assert_int_equal(uvd_start_opt(&f->d, "1024", "--checkpoint-every", "3"), 0);
	connect_cmd(f);
	tx_create(&t, P_CMD, UV_ROLE_COMMAND, 70, 0, 0);
	t.u.create.n_disk = 2;
	snprintf(t.u.create.disk[0].image, UV_PATH_MAX, "/img/a.raw");
	snprintf(t.u.create.disk[1].image, UV_PATH_MAX, "/img/b.raw");
	t.u.create.disk_limit[0].bytes_per_sec = 1 * MiB;
	assert_int_equal(submit(f, &t, NULL), UV_TXN_OK);
	assert_int_equal(set_limit(f, 70, 0, 0, 3 * MiB, &was), UV_TXN_OK);
	assert_int_equal(was, 1 * MiB); /* the response says what it replaced */
	assert_int_equal(set_limit(f, 70, 1, 250, 0, NULL), UV_TXN_OK);
	assert_int_equal(set_limit(f, 70, 2, 250, 0, NULL), UV_TXN_NO_SUCH_DEVICE);
	for (int round = 0; round < 3; round++) {
		disconnect(f);
		if (round == 1) { /* a clean stop checkpoints */
			kill(f->d.pid, SIGTERM);
			waitpid(f->d.pid, NULL, 0);
			f->d.pid = 0;
		} else {
			uvd_kill(&f->d);
		}
		assert_int_equal(uvd_start(&f->d, "1024"), 0);
		connect_cmd(f);
		assert_int_equal(read_limit(f, 70, 0).bytes_per_sec, 3 * MiB);
		assert_int_equal(read_limit(f, 70, 0).iops, 0);
		assert_int_equal(read_limit(f, 70, 1).iops, 250);
		if (round == 0) /* and one more after a snapshot: replayed on top of it */
			assert_int_equal(set_limit(f, 70, 1, 250, 0, NULL), UV_TXN_OK);
	}
	assert_int_equal(set_limit(f, 70, 0, 0, 0, NULL), UV_TXN_OK); /* lifted */
	assert_int_equal(read_limit(f, 70, 0).bytes_per_sec, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_transactions_reach_the_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals_carry_reasons_and_change_nothing, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_only_system_partitions_open_command_channels,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_database_mapping_is_read_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_object_follows_grant, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_channel_goes_to_its_endpoints_only, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_kill9_recovery_equals_acknowledged, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_failed_partition_keeps_resources_for_its_restart,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_objects_survive_snapshots, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_channel_objects_handed_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disk_limits_survive_replay_and_snapshots, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
