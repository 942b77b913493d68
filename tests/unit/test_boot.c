/* SPDX-License-Identifier: MIT */
/*
 * ultra-boot end to end (claims 5, 8, 38, 55): it starts the ultravisor and a system partition;
 * a kill -9 of the ultravisor is followed by a restarted daemon that answers and still holds what
 * was committed; a kill -9 of a system partition is reported failed, then restarted, in the audit
 * log, and the process is back; a partition that keeps dying is left failed; of an I/O pair the
 * standby takes over when the active is killed, and the restarted one is the new standby.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "resdb_testlib.h"
#include "unixsock.h"
#include "uvd_testlib.h"

#define P_SYS_IO 4u /* the dummy system partition: role io */
#define P_TEST 12u  /* a guest partition recorded through the command channel */
#define WAIT_MS 15000

struct fx {
	struct uvd_proc d; /* dirs; pid is ultra-boot's */
	char status[160];
};

static void bin_path(char *out, size_t len, const char *name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = 0;
	snprintf(out, len, "%s/../bin/%s", dirname(self), name);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The status file's pid of the ultravisor (sys < 0) or of system entry `sys`, and its state. */
static pid_t status_pid(struct fx *f, int sys, char *state, size_t len)
{
	json_object *root = json_object_from_file(f->status), *c = NULL, *v;
	pid_t pid = -1;

	if (!root)
		return -1;
	if (sys < 0)
		json_object_object_get_ex(root, "ultravisor", &c);
	else if (json_object_object_get_ex(root, "system", &v) &&
	         (size_t)sys < json_object_array_length(v))
		c = json_object_array_get_idx(v, (size_t)sys);
	if (c && json_object_object_get_ex(c, "pid", &v))
		pid = (pid_t)json_object_get_int(v);
	if (c && state && json_object_object_get_ex(c, "state", &v))
		snprintf(state, len, "%s", json_object_get_string(v));
	json_object_put(root);
	return pid;
}

static int answers(struct fx *f)
{
	int s;

	if (uv_client_connect(f->d.sock, &s))
		return 0;
	close(s);
	return 1;
}

/* Waits until status entry `sys` has a live pid other than `old`; returns it, or -1. */
static pid_t wait_new_pid(struct fx *f, int sys, pid_t old)
{
	for (uint64_t end = now_ms() + WAIT_MS; now_ms() < end; sleep_ms(2)) {
		pid_t p = status_pid(f, sys, NULL, 0);
		if (p > 0 && p != old && kill(p, 0) == 0 && (sys >= 0 || answers(f)))
			return p;
	}
	return -1;
}

static void start_with(struct fx *f, const char *opt, const char *arg, const char *max_restarts)
{
	char bin[PATH_MAX + 32], uv[PATH_MAX + 32];

	bin_path(bin, sizeof(bin), "ultra-boot");
	bin_path(uv, sizeof(uv), "ultravisor");
	f->d.pid = fork();
	if (f->d.pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (!getenv("UVD_TEST_VERBOSE"))
			dup2(null, 2);
		execl(bin, bin, "--ultravisor", uv, "--state-dir", f->d.state, "--run-dir",
		      f->d.run, "--pool-mib", "256", opt, arg, "--max-restarts", max_restarts,
		      "--window-s", "60", (char *)NULL);
		_exit(127);
	}
	assert_true(f->d.pid > 0);
	/* entry 0 is the command partition (recorded, no program), entry 1 the io partition */
	assert_true(wait_new_pid(f, -1, 0) > 0);
	assert_true(wait_new_pid(f, 1, 0) > 0);
}

static void start_boot(struct fx *f, const char *max_restarts)
{
	start_with(f, "--system", "4:io:io0=sleep 1000", max_restarts);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	uvd_dirs(&f->d);
	snprintf(f->status, sizeof(f->status), "%s/boot-status.json", f->d.run);
	*state = f;
	return 0;
}

/* Every process is gone even if a test failed half way: ultra-boot's system partitions die with
 * it (SIGTERM on parent death), and anything still named in its status is killed too. */
static int teardown(void **state)
{
	struct fx *f = *state;
	pid_t pids[4] = {status_pid(f, -1, NULL, 0), status_pid(f, 0, NULL, 0),
	                 status_pid(f, 1, NULL, 0), status_pid(f, 2, NULL, 0)};

	uvd_kill(&f->d);
	for (int i = 0; i < 4; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	uvd_cleanup(&f->d);
	free(f);
	return 0;
}

static void record_guest(struct fx *f, uint32_t id)
{
	struct uv_txn_response resp;
	struct uv_cmd *cmd;
	struct uv_txn t;
	char err[256];
	int sock;

	assert_int_equal(uv_client_connect(f->d.sock, &sock), 0);
	if (uv_cmd_open(sock, P_CMD, UV_ROLE_COMMAND, &cmd, err, sizeof(err)))
		fail_msg("command channel: %s", err);
	tx_create(&t, P_CMD, UV_ROLE_COMMAND, id, 0, 0);
	assert_int_equal(uv_cmd_submit(cmd, &t, &resp, WAIT_MS), 0);
	assert_int_equal(resp.reason, UV_TXN_OK);
	tx_mem(&t, UV_TXN_GRANT_MEMORY, P_CMD, UV_ROLE_COMMAND, id, 8 * MiB, NULL, 0);
	assert_int_equal(uv_cmd_submit(cmd, &t, &resp, WAIT_MS), 0);
	assert_int_equal(resp.reason, UV_TXN_OK);
	uv_cmd_close(cmd);
	close(sock);
}

/* Reads partition p's record through a fresh connection to the (possibly new) daemon. */
static int read_part(struct fx *f, uint32_t p, struct uv_resdb_part *rec)
{
	struct uv_partition_desc d;
	struct uv_resdb_view v;
	int sock, fd = -1, r;
	unsigned n;
	uint64_t size;
	char err[256];
	void *map;

	if (uv_client_connect(f->d.sock, &sock))
		return -ENOTCONN;
	r = uv_client_simple(sock, UV_CTL_GET_DB, 0, 0, &fd, 1, &n, &size, err, sizeof(err));
	close(sock);
	if (r)
		return r;
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -ENOMEM;
	r = uv_resdb_view_attach(&v, map, size);
	if (!r)
		r = uv_resdb_read_desc(&v, p, &d, rec);
	munmap(map, size);
	return r;
}

static void test_ultravisor_restarted_with_committed_state(void **state)
{
	struct fx *f = *state;
	struct uv_resdb_part rec;
	pid_t uv, uv2;
	uint64_t t0;

	start_boot(f, "5");
	record_guest(f, P_TEST);
	uv = status_pid(f, -1, NULL, 0);
	t0 = now_ms();
	assert_int_equal(kill(uv, SIGKILL), 0);
	uv2 = wait_new_pid(f, -1, uv);
	assert_true(uv2 > 0);
	print_message("ultravisor answering again %llu ms after kill -9\n",
	              (unsigned long long)(now_ms() - t0));
	assert_int_equal(read_part(f, P_TEST, &rec), 0);
	assert_int_equal(rec.mem_bytes, 8 * MiB);
	/* the restarted ultravisor takes transactions again, as the command partition sends them */
	record_guest(f, P_TEST + 1);
	assert_int_equal(read_part(f, P_TEST + 1, &rec), 0);
	assert_int_equal(rec.mem_bytes, 8 * MiB);
	/* the system partition was not touched by the ultravisor's restart */
	assert_int_equal(read_part(f, P_SYS_IO, &rec), 0);
	assert_int_equal(rec.state, UV_STATE_RUNNING);
}

/* The audit log as `ultravisor --dump-log` prints it. */
static char *dump_log(struct fx *f)
{
	char uv[PATH_MAX + 32], cmd[PATH_MAX + 200];
	static char out[1 << 20];
	size_t n;
	FILE *p;

	bin_path(uv, sizeof(uv), "ultravisor");
	snprintf(cmd, sizeof(cmd), "'%s' --dump-log '%s'", uv, f->d.state);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	pclose(p);
	return out;
}

static void test_system_partition_failed_then_restarted(void **state)
{
	struct fx *f = *state;
	struct uv_resdb_part rec;
	pid_t io, io2;
	char *log, *crashed, *starting;
	uint64_t t0;

	start_boot(f, "5");
	io = status_pid(f, 1, NULL, 0);
	t0 = now_ms();
	assert_int_equal(kill(io, SIGKILL), 0);
	io2 = wait_new_pid(f, 1, io);
	assert_true(io2 > 0);
	print_message("io partition back %llu ms after kill -9\n",
	              (unsigned long long)(now_ms() - t0));
	/* running again in the database once the restart completed */
	for (uint64_t end = now_ms() + WAIT_MS; now_ms() < end; sleep_ms(2))
		if (read_part(f, P_SYS_IO, &rec) == 0 && rec.state == UV_STATE_RUNNING)
			break;
	assert_int_equal(rec.state, UV_STATE_RUNNING);
	log = dump_log(f);
	crashed = strstr(log, "set-state partition=4 state=crashed");
	assert_non_null(crashed);
	starting = strstr(crashed, "set-state partition=4 state=starting");
	assert_non_null(starting);
	assert_non_null(strstr(starting, "set-state partition=4 state=running"));
}

/* Claim 38: the definitions of the system partitions are kept for the next bootstrap. */
static void test_definitions_kept_in_state_dir(void **state)
{
	struct fx *f = *state;
	json_object *root, *sys, *io, *v;
	char path[160];

	start_boot(f, "5");
	snprintf(path, sizeof(path), "%s/boot-definitions.json", f->d.state);
	root = json_object_from_file(path);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "system", &sys));
	assert_int_equal(json_object_array_length(sys), 2);
	io = json_object_array_get_idx(sys, 1);
	assert_true(json_object_object_get_ex(io, "partition", &v));
	assert_int_equal(json_object_get_int(v), P_SYS_IO);
	assert_true(json_object_object_get_ex(io, "role", &v));
	assert_string_equal(json_object_get_string(v), "io");
	assert_true(json_object_object_get_ex(io, "cmdline", &v));
	assert_string_equal(json_object_get_string(v), "sleep 1000");
	json_object_put(root);
}

static void test_partition_that_keeps_dying_is_left_failed(void **state)
{
	struct fx *f = *state;
	char st[32] = "";
	pid_t io = 0;

	start_boot(f, "2");
	for (int i = 0; i < 3; i++) { /* two restarts allowed, the third death is one too many */
		io = wait_new_pid(f, 1, io);
		assert_true(io > 0);
		assert_int_equal(kill(io, SIGKILL), 0);
	}
	for (uint64_t end = now_ms() + WAIT_MS; now_ms() < end; sleep_ms(2)) {
		status_pid(f, 1, st, sizeof(st));
		if (!strcmp(st, "failed"))
			break;
	}
	assert_string_equal(st, "failed");
	assert_int_equal(status_pid(f, 1, NULL, 0), 0);
	assert_true(answers(f)); /* the rest of the system carries on */
}

/* A helper of a system partition (the command partition's gateway, docs/cmdnet.md): started,
 * restarted when killed, and never reported to the ultravisor; one that belongs to no system
 * partition is refused. */
static void test_helper_restarted_never_reported(void **state)
{
	struct fx *f = *state;
	char bin[PATH_MAX + 32], st[32] = "";
	pid_t gw, gw2, bad;
	int status = -1;

	start_with(f, "--helper", "2:gw=sleep 1000", "5");
	gw = status_pid(f, 1, st, sizeof(st));
	assert_string_equal(st, "running");
	assert_int_equal(kill(gw, SIGKILL), 0);
	gw2 = wait_new_pid(f, 1, gw);
	assert_true(gw2 > 0);
	assert_null(strstr(dump_log(f), "partition=2 state=crashed"));
	assert_true(answers(f));

	bin_path(bin, sizeof(bin), "ultra-boot");
	bad = fork();
	if (bad == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execl(bin, bin, "--state-dir", f->d.state, "--run-dir", f->d.run, "--helper",
		      "7:gw=sleep 1000", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(bad, &status, 0), bad);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
}

/* 2 once a process is inside its seccomp filter (an active ultra-io), 0 before, -1 if gone. */
static int seccomp_mode(pid_t pid)
{
	char path[64], line[128];
	int mode = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(fp = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(fp);
	return mode;
}

/* Whether pid is blocked in flock(2) (x86-64 number 73): a standby that has reached its wait. */
static bool in_flock(pid_t pid)
{
	char path[64];
	long nr = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	if (!(fp = fopen(path, "r")))
		return false;
	if (fscanf(fp, "%ld", &nr) != 1)
		nr = -1;
	fclose(fp);
	return nr == 73;
}

static bool wait_in_flock(pid_t pid)
{
	for (uint64_t end = now_ms() + WAIT_MS; now_ms() < end; sleep_ms(5))
		if (in_flock(pid))
			return true;
	return false;
}

/* The entry (1 or 2) of the pair member that serves: in its filter, its socket answering. */
static int wait_active(struct fx *f, const char *sock, pid_t not )
{
	for (uint64_t end = now_ms() + WAIT_MS; now_ms() < end; sleep_ms(5)) {
		for (int e = 1; e <= 2; e++) {
			pid_t p = status_pid(f, e, NULL, 0);
			int s;
			if (p <= 0 || p == not || seccomp_mode(p) != 2)
				continue;
			if ((s = uv_unix_connect(sock, SOCK_STREAM)) < 0)
				continue;
			close(s);
			return e;
		}
	}
	return -1;
}

static void test_io_pair_standby_takes_over(void **state)
{
	struct fx *f = *state;
	char io[PATH_MAX + 32], spec[3 * PATH_MAX], img[160], sock[160];
	pid_t active, standby, fresh;
	int e, fd;

	bin_path(io, sizeof(io), "ultra-io");
	snprintf(img, sizeof(img), "%s/d0.img", f->d.run);
	snprintf(sock, sizeof(sock), "%s/d0.sock", f->d.run);
	mkdir(f->d.run, 0755); /* ultra-boot makes it too, but the image must exist first */
	fd = open(img, O_RDWR | O_CREAT, 0600);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	snprintf(spec, sizeof(spec), "4:io0:5:io1=%s --blk %s=%s", io, sock, img);
	start_with(f, "--io-pair", spec, "5");
	assert_true(wait_new_pid(f, 2, 0) > 0);
	e = wait_active(f, sock, 0);
	assert_true(e > 0);
	active = status_pid(f, e, NULL, 0);
	standby = status_pid(f, 3 - e, NULL, 0);
	assert_true(wait_in_flock(standby)); /* waiting for the lock, no socket, no filter */
	assert_int_equal(seccomp_mode(standby), 0);
	assert_int_equal(kill(active, SIGKILL), 0);
	/* The standby binds the socket and serves; ultra-boot restarts the dead one as standby. */
	assert_int_equal(wait_active(f, sock, active), 3 - e);
	fresh = wait_new_pid(f, e, active);
	assert_true(fresh > 0);
	assert_true(wait_in_flock(fresh));
	assert_int_equal(seccomp_mode(fresh), 0);
	assert_int_equal(status_pid(f, 3 - e, NULL, 0), standby);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ultravisor_restarted_with_committed_state, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_system_partition_failed_then_restarted, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_definitions_kept_in_state_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partition_that_keeps_dying_is_left_failed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_helper_restarted_never_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io_pair_standby_takes_over, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
