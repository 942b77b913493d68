/* SPDX-License-Identifier: MIT */
/*
 * Supervision: one epoll set holding a pidfd per child and a signalfd. A death is handled the
 * moment it is seen (claims 5, 8, 55):
 *
 *   ultravisor      restart at once; it recovers the database from its audit log; the boot
 *                   partition's control socket and command channel are opened again
 *   system part. P  PARTITION_FAILED P (its queued work dropped, its resources preserved),
 *                   restart, PARTITION_RESTARTED P (resources handed back), state running
 *
 * A child that dies more than max_restarts times within the window is left down.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot.h"

static int watch(struct boot *b, struct boot_child *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

	if (c->pidfd < 0)
		return 0;
	return epoll_ctl(b->epfd, EPOLL_CTL_ADD, c->pidfd, &ev) < 0 ? -errno : 0;
}

static void unwatch(struct boot *b, struct boot_child *c)
{
	if (c->pidfd < 0)
		return;
	epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
	close(c->pidfd);
	c->pidfd = -1;
}

static int start_uv(struct boot *b)
{
	int r = boot_spawn(b, &b->uv);

	if (!r)
		r = watch(b, &b->uv);
	if (!r)
		r = boot_uv_wait(b, (int)b->cfg.answer_ms);
	return r;
}

/* Spawns a system partition and tells the ultravisor it runs (a helper: only spawns it). */
static int start_system(struct boot *b, struct boot_child *c)
{
	int r = boot_spawn(b, c);

	if (!r)
		r = watch(b, c);
	if (!r && !c->helper)
		r = boot_uv_set_state(b, c->partition, UV_STATE_RUNNING);
	return r;
}

int boot_start_all(struct boot *b)
{
	int r = start_uv(b);
	char err[256];

	if (r) {
		fprintf(stderr, "ultra-boot: the ultravisor did not answer: %s\n", strerror(-r));
		return r;
	}
	fprintf(stderr, "ultra-boot: ultravisor pid %d answers on %s\n", b->uv.pid, b->sock_path);
	/* Record them all first: once the command partition runs, it alone allocates (claim 6). */
	for (unsigned i = 0; i < b->n_sys; i++)
		if (!b->sys[i].helper && (r = boot_uv_record(b, &b->sys[i])))
			return r;
	for (unsigned i = 0; i < b->n_sys; i++) {
		struct boot_child *c = &b->sys[i];

		/* Left failed by an earlier ultra-boot: take its preserved resources back. */
		if (!c->helper)
			uv_client_simple(b->ctl, UV_CTL_PARTITION_RESTARTED, c->partition, 0, NULL,
			                 0, NULL, NULL, err, sizeof(err));
		if ((r = start_system(b, c)))
			return r;
		if (c->helper)
			fprintf(stderr, "ultra-boot: partition %u's helper %s started, pid %d\n",
			        c->partition, c->name, c->pid);
		else if (c->pid)
			fprintf(stderr, "ultra-boot: partition %u (%s) started, pid %d\n",
			        c->partition, c->name, c->pid);
		else
			fprintf(stderr, "ultra-boot: partition %u (%s) recorded, no program yet\n",
			        c->partition, c->name);
	}
	boot_write_status(b);
	return 0;
}

static void on_death(struct boot *b, struct boot_child *c, int status);

/* A system partition's death may be the first sign that the ultravisor went too. */
static void check_uv(struct boot *b)
{
	struct pollfd p = {.fd = b->uv.pidfd, .events = POLLIN};
	int st;

	if (p.fd >= 0 && poll(&p, 1, 0) > 0 && boot_reap(&b->uv, &st))
		on_death(b, &b->uv, st);
}

static void uv_died(struct boot *b, uint64_t t0)
{
	int r;

	boot_uv_drop(b);
	if (boot_backoff_exceeded(b, &b->uv, t0)) {
		fprintf(stderr, "ultra-boot: the ultravisor died %u times within %u s: giving up\n",
		        b->uv.n_deaths, b->cfg.window_ms / 1000);
		b->uv.failed = true;
		b->exiting = true;
		return;
	}
	r = start_uv(b);
	if (r == -ECHILD)
		return; /* died again while starting: its pidfd reports it */
	if (r) {
		fprintf(stderr, "ultra-boot: the restarted ultravisor does not answer: %s\n",
		        strerror(-r));
		return;
	}
	b->uv.restarts++;
	b->uv.last_restart_ms = boot_now_ms() - t0;
	fprintf(stderr,
	        "ultra-boot: ultravisor restarted as pid %d, answering %llu ms after its "
	        "death (restart %u)\n",
	        b->uv.pid, (unsigned long long)b->uv.last_restart_ms, b->uv.restarts);
}

static void system_died(struct boot *b, struct boot_child *c, uint64_t t0)
{
	check_uv(b);
	/* Claim 5: its pending work is rolled back and its resources preserved for it. */
	boot_uv_report(b, UV_CTL_PARTITION_FAILED, c->partition);
	if (boot_backoff_exceeded(b, c, t0)) {
		c->failed = true;
		fprintf(stderr,
		        "ultra-boot: partition %u (%s) died %u times within %u s: left failed, "
		        "its resources stay preserved\n",
		        c->partition, c->name, c->n_deaths, b->cfg.window_ms / 1000);
		return;
	}
	if (boot_spawn(b, c) || watch(b, c)) {
		fprintf(stderr, "ultra-boot: partition %u (%s): cannot restart\n", c->partition,
		        c->name);
		return;
	}
	/* Claims 8, 55: the new instance gets what was preserved. */
	if (boot_uv_report(b, UV_CTL_PARTITION_RESTARTED, c->partition) == 0)
		boot_uv_set_state(b, c->partition, UV_STATE_RUNNING);
	c->restarts++;
	c->last_restart_ms = boot_now_ms() - t0;
	fprintf(stderr,
	        "ultra-boot: partition %u (%s) restarted as pid %d in %llu ms (restart %u)\n",
	        c->partition, c->name, c->pid, (unsigned long long)c->last_restart_ms, c->restarts);
}

/* A helper holds nothing the ultravisor records: restarted, with the same back-off. */
static void helper_died(struct boot *b, struct boot_child *c, uint64_t t0)
{
	if (boot_backoff_exceeded(b, c, t0)) {
		c->failed = true;
		fprintf(stderr, "ultra-boot: helper %s died %u times within %u s: left down\n",
		        c->name, c->n_deaths, b->cfg.window_ms / 1000);
		return;
	}
	if (boot_spawn(b, c) || watch(b, c)) {
		fprintf(stderr, "ultra-boot: helper %s: cannot restart\n", c->name);
		return;
	}
	c->restarts++;
	c->last_restart_ms = boot_now_ms() - t0;
	fprintf(stderr, "ultra-boot: helper %s restarted as pid %d (restart %u)\n", c->name, c->pid,
	        c->restarts);
}

static void on_death(struct boot *b, struct boot_child *c, int status)
{
	uint64_t t0 = boot_now_ms();
	char how[64];

	unwatch(b, c);
	boot_describe_exit(status, how, sizeof(how));
	if (c == &b->uv) {
		fprintf(stderr, "ultra-boot: the ultravisor died: %s\n", how);
		uv_died(b, t0);
	} else if (c->helper) {
		fprintf(stderr, "ultra-boot: helper %s died: %s\n", c->name, how);
		helper_died(b, c, t0);
	} else {
		fprintf(stderr, "ultra-boot: partition %u (%s) died: %s\n", c->partition, c->name,
		        how);
		system_died(b, c, t0);
	}
	boot_write_status(b);
}

static struct boot_child *child_by_pid(struct boot *b, pid_t pid)
{
	if (b->uv.pid == pid)
		return &b->uv;
	for (unsigned i = 0; i < b->n_sys; i++)
		if (b->sys[i].pid == pid)
			return &b->sys[i];
	return NULL;
}

/* SIGCHLD: as child subreaper we also inherit orphans of system partitions; reap them so they do
 * not linger as zombies. One of ours found here is handled as its pidfd would have been. */
static void on_sigchld(struct boot *b)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct boot_child *c = child_by_pid(b, pid);

		if (c) {
			c->pid = 0;
			on_death(b, c, st);
		}
	}
}

static void on_signal(struct boot *b)
{
	struct signalfd_siginfo si;

	while (read(b->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			on_sigchld(b);
		else
			b->exiting = true;
	}
}

int boot_loop(struct boot *b)
{
	struct epoll_event evs[16];
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &b->sigfd};

	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->sigfd, &ev) < 0)
		return -errno;
	while (!b->exiting) {
		int n = epoll_wait(b->epfd, evs, 16, -1);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n && !b->exiting; i++) {
			struct boot_child *c = evs[i].data.ptr;
			int st;

			if (evs[i].data.ptr == &b->sigfd)
				on_signal(b);
			else if (boot_reap(c, &st))
				on_death(b, c, st);
		}
	}
	return b->uv.failed ? -ECHILD : 0;
}

/* Stops system partitions last-started first, then the ultravisor. */
void boot_shutdown(struct boot *b)
{
	for (unsigned i = b->n_sys; i-- > 0;)
		boot_stop_child(&b->sys[i], 3000);
	boot_uv_drop(b);
	boot_stop_child(&b->uv, 5000);
	boot_write_status(b);
}
