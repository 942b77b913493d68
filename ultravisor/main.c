/* SPDX-License-Identifier: MIT */
/*
 * ultravisor: the ultravisor partition's daemon. It alone writes the resource database, applies
 * transactions arriving on command channels, keeps the audit log, and creates the memory objects
 * behind grants (claims 1-7, 10, 29-34).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uvd.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ultravisor [--state-dir DIR] [--run-dir DIR] [--pool-mib N]\n"
	    "                  [--max-partitions N] [--system PART:ROLE ...] [--checkpoint-every N]\n"
	    "                  [--hugetlb]\n"
	    "       ultravisor --dump-log DIR\n"
	    "State (audit log, snapshots) lives in DIR (default /var/lib/ultravisor); the control\n"
	    "socket is RUN/ultravisor.sock (default /run/ultravisor). ROLE is boot, command,\n"
	    "operations or io; the default system partitions are 1:boot 2:command 3:operations\n"
	    "4:io 5:io.\n");
}

static int parse_role(const char *s)
{
	static const char *const names[] = {[UV_ROLE_BOOT] = "boot",
	                                    [UV_ROLE_COMMAND] = "command",
	                                    [UV_ROLE_OPERATIONS] = "operations",
	                                    [UV_ROLE_IO] = "io"};
	for (int i = UV_ROLE_BOOT; i <= UV_ROLE_IO; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static int add_system(struct uvd *u, const char *arg)
{
	char *end;
	unsigned long p = strtoul(arg, &end, 10);
	int role;

	if (*end != ':' || p == 0 || p >= u->cfg.max_partitions || u->cfg.n_system == 8)
		return -EINVAL;
	role = parse_role(end + 1);
	if (role < 0)
		return -EINVAL;
	u->system[u->cfg.n_system].partition = (uint32_t)p;
	u->system[u->cfg.n_system].role = (uint8_t)role;
	u->cfg.n_system++;
	return 0;
}

static uint64_t default_pool(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	/* Half the host: the rest is for the host kernel, QEMU and the system partitions. */
	return pages > 0 && psz > 0 ? ((uint64_t)pages * (uint64_t)psz / 2) & ~((1ull << 22) - 1)
	                            : 1ull << 30;
}

static int loop(struct uvd *u)
{
	struct epoll_event evs[32];

	while (!u->exiting) {
		/* Channels with records left over from their last turn are served without sleeping.
		 */
		int n = epoll_wait(u->epfd, evs, 32, uvd_chan_any_ready(u) ? 0 : -1);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n && !u->exiting; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &u->sigfd) {
				u->exiting = true;
			} else if (tag == &u->listen_fd) {
				uvd_accept(u);
			} else if ((char *)tag >= (char *)u->conns &&
			           (char *)tag < (char *)(u->conns + UVD_CONNS_MAX)) {
				struct uvd_conn *c = tag;
				if (c->fd >= 0)
					uvd_conn_io(u, c);
			} else {
				struct uvd_chan *c = tag;
				if (c->ch && !c->ready)
					uvd_chan_io(u, c);
			}
		}
		uvd_chan_serve_ready(u);
		uvd_flush(u);
		/* Keep restart time bounded: fold the log into a snapshot now and then. */
		if (u->since_checkpoint >= u->checkpoint_every && uvd_checkpoint(u) == 0)
			fprintf(stderr, "ultravisor: checkpoint after %llu commits\n",
			        (unsigned long long)u->committed);
	}
	return 0;
}

static int setup(struct uvd *u, const char *run_dir, char *err, size_t errlen)
{
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t mask;
	int r;

	mkdir(u->state_dir, 0700);
	mkdir(run_dir, 0755);
	u->cfg.system = u->system;
	if ((r = uvd_region_create(u))) {
		snprintf(err, errlen, "resource database region: %s", strerror(-r));
		return r;
	}
	if ((r = uv_resdb_init(&u->db, u->region, u->region_size, &u->cfg))) {
		snprintf(err, errlen, "resource database: %s", strerror(-r));
		return r;
	}
	if ((r = uvd_recover(u, err, errlen)))
		return r;
	/* From the records, not the replayed transactions: a snapshot holds channels too. */
	if ((r = uvd_chanobj_rebuild(u)))
		fprintf(stderr, "ultravisor: WARNING: channel memory objects: %s\n", strerror(-r));
	if ((r = uvd_mem_rebuild(u)))
		fprintf(stderr, "ultravisor: WARNING: memory objects: %s\n", strerror(-r));
	if ((r = uvd_bootstrap(u))) {
		snprintf(err, errlen, "recording the boot partition: %s", strerror(-r));
		return r;
	}
	snprintf(u->sock_path, sizeof(u->sock_path), "%s/ultravisor.sock", run_dir);
	if ((r = uvd_listen(u))) {
		snprintf(err, errlen, "%s: %s", u->sock_path, strerror(-r));
		return r;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	u->sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	u->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (u->sigfd < 0 || u->epfd < 0)
		return -errno;
	ev.data.ptr = &u->sigfd;
	epoll_ctl(u->epfd, EPOLL_CTL_ADD, u->sigfd, &ev);
	ev.data.ptr = &u->listen_fd;
	epoll_ctl(u->epfd, EPOLL_CTL_ADD, u->listen_fd, &ev);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"run-dir", required_argument, NULL, 'r'},
	    {"pool-mib", required_argument, NULL, 'p'},
	    {"max-partitions", required_argument, NULL, 'm'},
	    {"system", required_argument, NULL, 'y'},
	    {"dump-log", required_argument, NULL, 'd'},
	    {"checkpoint-every", required_argument, NULL, 'c'},
	    {"hugetlb", no_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *run_dir = "/run/ultravisor";
	struct uvd *u = calloc(1, sizeof(*u));
	char err[512] = "";
	int c, r = 0;

	if (!u)
		return 1;
	u->state_dir = "/var/lib/ultravisor";
	u->cfg.pool_bytes = default_pool();
	u->cfg.max_partitions = 256;
	u->cfg.max_channels = 256;
	u->cfg.max_devices = 64;
	u->checkpoint_every = 100000;
	u->listen_fd = u->epfd = u->sigfd = u->region_fd = -1;
	for (int i = 0; i < UVD_CONNS_MAX; i++)
		u->conns[i].fd = -1;
	for (int i = 0; i < UVD_CHANS_MAX; i++)
		u->chans[i].fds[0] = u->chans[i].fds[1] = u->chans[i].fds[2] = -1;
	while ((c = getopt_long(argc, argv, "s:r:p:m:y:d:c:Hh", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			u->hugetlb = true;
			break;
		case 'c':
			u->checkpoint_every = strtoull(optarg, NULL, 10);
			break;
		case 's':
			u->state_dir = optarg;
			break;
		case 'r':
			run_dir = optarg;
			break;
		case 'p':
			u->cfg.pool_bytes = strtoull(optarg, NULL, 10) << 20;
			break;
		case 'm':
			u->cfg.max_partitions = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'y':
			if (add_system(u, optarg)) {
				fprintf(stderr, "ultravisor: --system %s: expected PART:ROLE\n",
				        optarg);
				return 2;
			}
			break;
		case 'd':
			r = uv_log_dump(optarg, stdout);
			free(u);
			return r ? 1 : 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!u->cfg.n_system)
		for (const char *const *d =
		         (const char *const[]){"1:boot", "2:command", "3:operations", "4:io",
		                               "5:io", NULL};
		     *d; d++)
			add_system(u, *d);
	if ((r = setup(u, run_dir, err, sizeof(err)))) {
		fprintf(stderr, "ultravisor: %s\n", err[0] ? err : strerror(-r));
		return 1;
	}
	fprintf(stderr, "ultravisor: serving %s (pool %llu MiB, database %zu KiB)\n", u->sock_path,
	        (unsigned long long)(u->cfg.pool_bytes >> 20), u->region_size >> 10);
	r = loop(u);
	/* A clean stop folds the log into a snapshot: the next start replays nothing. */
	if (u->since_checkpoint && uvd_checkpoint(u))
		fprintf(stderr, "ultravisor: checkpoint at exit failed\n");
	unlink(u->sock_path);
	uv_log_close(u->log);
	uvd_chan_close_all(u);
	for (int i = 0; i < UVD_CONNS_MAX; i++)
		if (u->conns[i].fd >= 0)
			close(u->conns[i].fd);
	uvd_mem_free_all(u);
	uvd_chanobj_free_all(u);
	munmap(u->region, u->region_size);
	close(u->region_fd);
	free(u);
	return r ? 1 : 0;
}
