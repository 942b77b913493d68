/* SPDX-License-Identifier: MIT */
/*
 * ultra-boot: the boot partition (claims 5, 8, 38, 55). See docs/boot.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ultra-boot [--state-dir DIR] [--run-dir DIR] [--pool-mib N]\n"
	    "                  [--ultravisor PATH] [--ultravisor-arg ARG ...]\n"
	    "                  [--system PART:ROLE:NAME=CMDLINE ...] [--command-partition N]\n"
	    "                  [--io-pair PART:NAME:PART:NAME=CMDLINE ...]\n"
	    "                  [--helper PART:NAME=CMDLINE ...]\n"
	    "                  [--max-restarts N] [--window-s S]\n"
	    "Starts the ultravisor (default: next to ultra-boot) with DIR, RUN and the pool size,\n"
	    "records and starts each system partition (ROLE command, operations or io; CMDLINE run\n"
	    "by /bin/sh), and restarts whichever dies. Unless a --system entry has role command,\n"
	    "partition N (default 2, 0 for none) is recorded as the command partition with no\n"
	    "program. A child dying more than N times (default 5) in S seconds (default 60) is\n"
	    "left down. --io-pair starts two io partitions running CMDLINE (ultra-io) as a\n"
	    "redundant pair: one serves, the other takes over when it dies (and is replaced).\n"
	    "--helper runs CMDLINE as a process of system partition PART that holds no channel\n"
	    "(e.g. the command partition's gateway, ultra-cmdgw): started after the system\n"
	    "partitions, restarted when it dies, never reported to the ultravisor.\n"
	    "Status: RUN/boot-status.json; definitions: DIR/boot-definitions.json.\n");
}

static int parse_role(const char *s, size_t len)
{
	static const char *const names[] = {"", "", "command", "operations", "io"};

	for (int i = UV_ROLE_COMMAND; i <= UV_ROLE_IO; i++)
		if (strlen(names[i]) == len && !strncmp(s, names[i], len))
			return i;
	return -1;
}

/* PART:ROLE:NAME=CMDLINE */
static int add_system(struct boot *b, const char *arg)
{
	struct boot_child *c = &b->sys[b->n_sys];
	const char *role, *name, *eq;
	char *end;
	unsigned long p = strtoul(arg, &end, 10);
	int r;

	if (b->n_sys == BOOT_SYSTEM_MAX || *end != ':' || p <= BOOT_PARTITION || p > 255)
		return -EINVAL;
	role = end + 1;
	name = strchr(role, ':');
	eq = name ? strchr(name, '=') : NULL;
	if (!eq || eq == name + 1 || (size_t)(eq - name - 1) >= sizeof(c->name) ||
	    strlen(eq + 1) >= sizeof(c->cmdline) || !eq[1])
		return -EINVAL;
	if ((r = parse_role(role, (size_t)(name - role))) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < b->n_sys; i++)
		if (b->sys[i].partition == p && !b->sys[i].helper)
			return -EEXIST;
	*c = (struct boot_child){.partition = (uint32_t)p, .role = (uint8_t)r, .pidfd = -1};
	memcpy(c->name, name + 1, (size_t)(eq - name - 1));
	snprintf(c->cmdline, sizeof(c->cmdline), "%s", eq + 1);
	b->n_sys++;
	return 0;
}

/* PART:NAME=CMDLINE: a helper process of system partition PART (checked once all are known),
 * e.g. the command partition's network gateway. It is started after the system partitions and
 * restarted when it dies, but holds nothing the ultravisor records. */
static int add_helper(struct boot *b, const char *arg)
{
	struct boot_child *c = &b->sys[b->n_sys];
	const char *eq = strchr(arg, '=');
	char *end;
	unsigned long p = strtoul(arg, &end, 10);

	if (b->n_sys == BOOT_SYSTEM_MAX || *end != ':' || p <= BOOT_PARTITION || p > 255 || !eq ||
	    eq == end + 1 || (size_t)(eq - end - 1) >= sizeof(c->name) || !eq[1] ||
	    strlen(eq + 1) >= sizeof(c->cmdline))
		return -EINVAL;
	*c = (struct boot_child){.partition = (uint32_t)p, .helper = true, .pidfd = -1};
	memcpy(c->name, end + 1, (size_t)(eq - end - 1));
	snprintf(c->cmdline, sizeof(c->cmdline), "%s", eq + 1);
	b->n_sys++;
	return 0;
}

/* Every helper belongs to a system partition that is there. */
static int helpers_owned(const struct boot *b)
{
	for (unsigned i = 0; i < b->n_sys; i++) {
		bool owner = false;

		for (unsigned j = 0; j < b->n_sys && b->sys[i].helper; j++)
			owner |= !b->sys[j].helper && b->sys[j].partition == b->sys[i].partition;
		if (b->sys[i].helper && !owner)
			return -EINVAL;
	}
	return 0;
}

/* PART:NAME:PART:NAME=CMDLINE: two io partitions with the same ultra-io command line and one
 * pair lock in the run directory; whichever holds the lock serves, the other is its standby
 * (claim 24). A dead one is restarted as usual and, the lock being taken, becomes the standby. */
static int add_io_pair(struct boot *b, const char *arg)
{
	char pa[16], na[32], pb[16], nb[32], entry[1024];
	const char *eq = strchr(arg, '=');
	int used = 0, r;

	if (!eq ||
	    sscanf(arg, "%15[0-9]:%31[^:=]:%15[0-9]:%31[^:=]=%n", pa, na, pb, nb, &used) != 4 ||
	    arg + used != eq + 1 || !eq[1])
		return -EINVAL;
	for (int i = 0; i < 2; i++) {
		if (snprintf(entry, sizeof(entry), "%s:io:%s=%s --pair %s/%s-%s.pair.lock",
		             i ? pb : pa, i ? nb : na, eq + 1, b->cfg.run_dir, na,
		             nb) >= (int)sizeof(entry))
			return -EINVAL;
		if ((r = add_system(b, entry)))
			return r;
	}
	return 0;
}

/* The command partition is recorded even without a program, as uvctl boot-command does. */
static int add_command(struct boot *b, unsigned long p)
{
	for (unsigned i = 0; i < b->n_sys; i++)
		if (!b->sys[i].helper &&
		    (b->sys[i].role == UV_ROLE_COMMAND || b->sys[i].partition == p))
			return 0;
	if (!p)
		return 0;
	if (b->n_sys == BOOT_SYSTEM_MAX || p <= BOOT_PARTITION || p > 255)
		return -EINVAL;
	memmove(&b->sys[1], &b->sys[0], b->n_sys * sizeof(b->sys[0]));
	b->sys[0] = (struct boot_child){
	    .partition = (uint32_t)p, .role = UV_ROLE_COMMAND, .pidfd = -1, .name = "command"};
	b->n_sys++;
	return 0;
}

static int start_rank(const struct boot_child *c)
{
	return c->helper ? 1 : c->role == UV_ROLE_OPERATIONS ? 2 : 0;
}

/* The operations partition is a client of the command partition and starts the partitions
 * that I/O partitions serve: it starts last, whatever the order given; helpers come after the
 * partitions they belong to. */
static void operations_last(struct boot *b)
{
	struct boot_child tmp[BOOT_SYSTEM_MAX] = {0};
	unsigned n = 0;

	for (int rank = 0; rank < 3; rank++)
		for (unsigned i = 0; i < b->n_sys; i++)
			if (start_rank(&b->sys[i]) == rank)
				tmp[n++] = b->sys[i];
	memcpy(b->sys, tmp, n * sizeof(tmp[0]));
}

static void default_ultravisor(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = 0;
	snprintf(out, len, "%s/ultravisor", dirname(self));
}

/* One ultra-boot per state directory: two would run two ultravisors on one audit log. */
static int lock_state(struct boot *b)
{
	char path[PATH_MAX];

	mkdir(b->cfg.state_dir, 0700);
	mkdir(b->cfg.run_dir, 0755);
	snprintf(path, sizeof(path), "%s/boot.lock", b->cfg.state_dir);
	b->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (b->lockfd < 0)
		return -errno;
	return flock(b->lockfd, LOCK_EX | LOCK_NB) < 0 ? -errno : 0;
}

static int setup(struct boot *b)
{
	sigset_t mask;
	int r;

	if ((r = lock_state(b)))
		return r;
	/* Orphans of system partitions are re-parented to us and reaped (on SIGCHLD). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -errno;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	b->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->sigfd < 0 || b->epfd < 0)
		return -errno;
	snprintf(b->sock_path, sizeof(b->sock_path), "%s/ultravisor.sock", b->cfg.run_dir);
	return 0;
}

static int parse(struct boot *b, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"run-dir", required_argument, NULL, 'r'},
	    {"pool-mib", required_argument, NULL, 'p'},
	    {"ultravisor", required_argument, NULL, 'u'},
	    {"ultravisor-arg", required_argument, NULL, 'a'},
	    {"system", required_argument, NULL, 'y'},
	    {"command-partition", required_argument, NULL, 'c'},
	    {"max-restarts", required_argument, NULL, 'n'},
	    {"window-s", required_argument, NULL, 'w'},
	    {"io-pair", required_argument, NULL, 'P'},
	    {"helper", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	unsigned long command = BOOT_COMMAND_DEFAULT;
	const char *pairs[BOOT_SYSTEM_MAX / 2];
	unsigned npairs = 0;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b->cfg.state_dir = optarg;
			break;
		case 'r':
			b->cfg.run_dir = optarg;
			break;
		case 'p':
			b->cfg.pool_mib = optarg;
			break;
		case 'u':
			b->cfg.ultravisor = optarg;
			break;
		case 'a':
			if (b->cfg.n_uv_args == BOOT_ARGS_MAX)
				return 2;
			b->cfg.uv_args[b->cfg.n_uv_args++] = optarg;
			break;
		case 'y':
			if (add_system(b, optarg)) {
				fprintf(
				    stderr,
				    "ultra-boot: --system %s: expected PART:ROLE:NAME=CMDLINE "
				    "with a new PART in 2..255, ROLE command, operations or io\n",
				    optarg);
				return 2;
			}
			break;
		case 'c':
			command = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			b->cfg.max_restarts = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			b->cfg.window_ms = (unsigned)strtoul(optarg, NULL, 10) * 1000u;
			break;
		case 'H':
			if (add_helper(b, optarg)) {
				fprintf(
				    stderr,
				    "ultra-boot: --helper %s: expected PART:NAME=CMDLINE with PART "
				    "in 2..255\n",
				    optarg);
				return 2;
			}
			break;
		case 'P':
			if (npairs == BOOT_SYSTEM_MAX / 2)
				return 2;
			pairs[npairs++] = optarg; /* after the loop: the run directory may follow */
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	for (unsigned i = 0; i < npairs; i++)
		if (add_io_pair(b, pairs[i])) {
			fprintf(stderr,
			        "ultra-boot: --io-pair %s: expected PART:NAME:PART:NAME=CMDLINE "
			        "with two new PARTs in 2..255\n",
			        pairs[i]);
			return 2;
		}
	if (optind != argc || b->cfg.max_restarts > 15 || !b->cfg.window_ms ||
	    add_command(b, command) || helpers_owned(b)) {
		usage(stderr);
		return 2;
	}
	operations_last(b);
	return 0;
}

int main(int argc, char **argv)
{
	static struct boot b; /* large; and its address is fixed for epoll tags */
	char uv_path[PATH_MAX];
	int r;

	b.cfg = (struct boot_config){.state_dir = "/var/lib/ultravisor",
	                             .run_dir = "/run/ultravisor",
	                             .max_restarts = 5,
	                             .window_ms = 60000,
	                             .answer_ms = 30000};
	b.ctl = b.epfd = b.sigfd = b.lockfd = -1;
	b.uv = (struct boot_child){.name = "ultravisor", .pidfd = -1};
	default_ultravisor(uv_path, sizeof(uv_path));
	b.cfg.ultravisor = uv_path;
	if ((r = parse(&b, argc, argv)))
		return r;
	if ((r = setup(&b))) {
		fprintf(stderr, "ultra-boot: %s: %s\n", b.cfg.state_dir,
		        r == -EWOULDBLOCK ? "another ultra-boot runs here" : strerror(-r));
		return 1;
	}
	if ((r = boot_write_definitions(&b)))
		fprintf(stderr, "ultra-boot: writing the definitions: %s\n", strerror(-r));
	r = boot_start_all(&b);
	if (!r)
		r = boot_loop(&b);
	boot_shutdown(&b);
	fprintf(stderr, "ultra-boot: %s\n", r ? "stopped after a failure" : "stopped");
	return r ? 1 : 0;
}
