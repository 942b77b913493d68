/* SPDX-License-Identifier: MIT */
/*
 * ultra-monitor: starts one guest partition's execution engine from its descriptor, confines it
 * to what the descriptor grants, reports its state, and re-attaches to it after a restart
 * (claims 1, 10-13, 57-59).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "desc.h"
#include "engine_uid.h"
#include "monitor.h"
#include "pidfd.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ultra-monitor [OPTIONS] --definition FILE.json [--partition N]\n"
	    "       ultra-monitor [OPTIONS] --attach NAME\n"
	    "       ultra-monitor [OPTIONS] --ultravisor SOCK --partition N [--incoming]\n"
	    "OPTIONS: [--run-dir DIR] [--qemu PATH] [--engine-uid-base UID]\n"
	    "Starts the guest partition FILE.json defines, or partition N of the ultravisor's\n"
	    "resource database (--incoming: its engine waits for a migration stream on\n"
	    "DIR/partitions/NAME/migrate.sock), or re-attaches to its running engine. State, console and control sockets live in DIR/partitions/NAME\n"
	    "(DIR defaults to $ULTRA_RUN_DIR or /run/ultravisor).\n"
	    "The engine runs as uid = gid = UID + N (default UID %u; a definition without\n"
	    "--partition is N = 0, shared by all such partitions).\n",
	    UV_ENGINE_UID_BASE_DEFAULT);
}

static int set_paths(struct mon_paths *p, const char *run_dir, const char *name)
{
	int n = snprintf(p->dir, sizeof(p->dir), "%s/partitions/%s", run_dir, name);

	if (n < 0 || (size_t)n >= sizeof(p->dir) || n > 80)
		return -ENAMETOOLONG; /* socket paths must fit sun_path */
	snprintf(p->qmp, sizeof(p->qmp), "%s/qmp.sock", p->dir);
	snprintf(p->console, sizeof(p->console), "%s/console.sock", p->dir);
	snprintf(p->console_log, sizeof(p->console_log), "%s/console.log", p->dir);
	snprintf(p->qemu_log, sizeof(p->qemu_log), "%s/qemu.log", p->dir);
	snprintf(p->ctl, sizeof(p->ctl), "%s/monitor.sock", p->dir);
	snprintf(p->state, sizeof(p->state), "%s/state.json", p->dir);
	snprintf(p->pid, sizeof(p->pid), "%s/qemu.pid", p->dir);
	snprintf(p->desc, sizeof(p->desc), "%s/descriptor", p->dir);
	snprintf(p->mig, sizeof(p->mig), "%s/migrate.sock", p->dir);
	return 0;
}

static int mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int store_descriptor(const char *path, const struct uv_partition_desc *d)
{
	char tmp[160];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	if (write(fd, d, sizeof(*d)) != (ssize_t)sizeof(*d))
		r = -EIO;
	if (fsync(fd) < 0 && !r)
		r = -errno;
	close(fd);
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	return r;
}

/* The monitor sees its descriptor only through a read-only mapping (claim 10). */
static int map_descriptor(const char *path, const struct uv_partition_desc **out)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size != (off_t)sizeof(struct uv_partition_desc)) {
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, sizeof(struct uv_partition_desc), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

static int epoll_add(struct monitor *m, int fd, void *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};

	return epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int setup_loop(struct monitor *m)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	m->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->stop_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (m->sigfd < 0 || m->epfd < 0 || m->stop_timer < 0)
		return -errno;
	if (epoll_add(m, m->sigfd, &m->sigfd) || epoll_add(m, m->stop_timer, &m->stop_timer) ||
	    epoll_add(m, m->ctl_fd, &m->ctl_fd))
		return -errno;
	return 0;
}

/* QEMU hung up, or broke the protocol (it is not trusted: the guest may own it); its pidfd still
 * says when it ends. */
static void qmp_lost(struct monitor *m, int why)
{
	if (why != -EPIPE)
		fprintf(stderr, "monitor[%s]: QMP connection dropped: %s\n", m->desc->name,
		        strerror(-why));
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, qmp_fd(m->qmp), NULL);
	qmp_close(m->qmp);
	m->qmp = NULL;
}

static void on_signal(struct monitor *m)
{
	struct signalfd_siginfo si;

	while (read(m->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			continue; /* the pidfd says when QEMU ends */
		/* The monitor leaves; the guest does not. A new monitor re-attaches. */
		fprintf(stderr, "monitor[%s]: signal %u, detaching (the guest keeps running)\n",
		        m->desc->name, si.ssi_signo);
		m->exiting = true;
	}
}

static void on_stop_timer(struct monitor *m)
{
	uint64_t ticks;

	if (read(m->stop_timer, &ticks, sizeof(ticks)) < 0 || m->qemu_pid <= 0)
		return;
	if (!strcmp(m->reason, "destroy requested") || !m->qmp) {
		uv_pidfd_signal(m->pidfd, SIGKILL);
		return;
	}
	mon_engine_destroy(m);
}

static int run_loop(struct monitor *m)
{
	struct epoll_event evs[16];

	while (!m->exiting) {
		int n = epoll_wait(m->epfd, evs, 16, -1);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n && !m->exiting; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &m->sigfd)
				on_signal(m);
			else if (tag == &m->stop_timer)
				on_stop_timer(m);
			else if (tag == &m->follow_timer) {
				uint64_t ticks;
				if (read(m->follow_timer, &ticks, sizeof(ticks)) > 0)
					mon_uv_follow(m);
			} else if (tag == &m->ctl_fd)
				mon_ctl_accept(m);
			else if (tag == &m->mig_listen)
				mon_mig_accept(m);
			else if (tag == &m->console_pidfd)
				mon_console_exited(m);
			else if (tag == &m->pidfd) {
				if (m->qmp) /* take the last events (SHUTDOWN) first */
					qmp_dispatch(m->qmp);
				mon_engine_exited(m);
			} else if (m->qmp && tag == m->qmp) {
				int r = qmp_dispatch(m->qmp);
				if (r < 0)
					qmp_lost(m, r);
			} else {
				struct mon_client *c = tag;
				if (c->fd >= 0)
					mon_ctl_client_io(m, c);
			}
			/* QMP events arrive in any QMP exchange: a MIGRATION status is acted on
			 * here, never inside another command's wait. */
			mon_mig_step(m);
		}
	}
	return 0;
}

static int attach_existing(struct monitor *m, char *err, size_t errlen)
{
	json_object *st = NULL, *running;
	int r;

	r = mon_qmp_connect(m, 5000);
	if (r) {
		snprintf(err, errlen, "QEMU pid %d is alive but its QMP socket does not answer: %s",
		         m->qemu_pid, strerror(-r));
		return r;
	}
	if ((r = mon_cpu_reattach(m, err, errlen)) || (r = mon_blkio_reattach(m, err, errlen)))
		return r;
	mon_console_check(m); /* its relay may have gone while no monitor was here */
	r = qmp_execute(m->qmp, "query-status", NULL, &st, err, errlen);
	if (r)
		return r;
	json_object_object_get_ex(st, "running", &running);
	if (running && json_object_get_boolean(running))
		mon_set_state(m, UV_STATE_RUNNING, "re-attached");
	else
		mon_set_state(m, UV_STATE_PAUSED, "re-attached");
	json_object_put(st);
	return 0;
}

static int start_new(struct monitor *m, char *err, size_t errlen)
{
	int mem_fd = -1, r;
	char why[128];

	m->accel = mon_accel_resolve(m->desc->accel, why, sizeof(why));
	fprintf(stderr, "monitor[%s]: engine %s (%s)\n", m->desc->name, uv_accel_name(m->accel),
	        why);
	/* A direct disk's limit the host cannot enforce stops the start before anything runs,
	 * and before "starting", so whoever started us reads the reason as the first state. */
	if ((r = mon_blkio_plan(m, err, errlen)))
		return r;
	mon_set_state(m, UV_STATE_STARTING, "");
	r = m->uv_mem_fd >= 0 ? (mem_fd = dup(m->uv_mem_fd)) < 0 ? -errno : 0
	                      : mon_mem_create(m->desc, &mem_fd);
	if (r) {
		snprintf(err, errlen, "guest memory (%llu MiB): %s",
		         (unsigned long long)(m->desc->mem_bytes >> 20), strerror(-r));
		return r;
	}
	r = mon_qemu_spawn(m, mem_fd, err, errlen);
	close(mem_fd); /* QEMU holds the guest's RAM now; the monitor never maps it */
	if (r)
		return r;
	mon_console_watch(m);
	/* QEMU waits on -S: the share is in force before the guest's first instruction. */
	if ((r = mon_cpu_start(m, err, errlen)) || (r = mon_blkio_start(m, err, errlen)))
		return r;
	r = mon_qmp_connect(m, 30000);
	if (r) {
		snprintf(err, errlen, "QEMU did not open its QMP socket: %s", strerror(-r));
		return r;
	}
	/* An incoming engine runs only once the source's memory is all here (migrate.c). */
	if (m->incoming)
		return mon_mig_listen(m, err, errlen);
	r = qmp_execute(m->qmp, "cont", NULL, NULL, err, errlen);
	if (r)
		return r;
	mon_set_state(m, UV_STATE_RUNNING, "");
	return 0;
}

static int load_definition(const char *def, const char *run_dir, struct monitor *m, char *err,
                           size_t errlen)
{
	struct uv_partition_desc d;
	int r;

	if ((r = uv_desc_from_file(def, &d, err, errlen)))
		return r;
	if ((r = uv_desc_validate(&d, 1, err, errlen)))
		return r;
	if ((r = set_paths(&m->paths, run_dir, d.name))) {
		snprintf(err, errlen, "run directory path too long for sockets");
		return r;
	}
	if ((r = mkdirs(m->paths.dir))) {
		snprintf(err, errlen, "%s: %s", m->paths.dir, strerror(-r));
		return r;
	}
	/* A re-attach keeps the descriptor its engine was started with. */
	if (access(m->paths.pid, F_OK) == 0 && access(m->paths.desc, F_OK) == 0)
		return 0;
	if ((r = store_descriptor(m->paths.desc, &d)))
		snprintf(err, errlen, "%s: %s", m->paths.desc, strerror(-r));
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"definition", required_argument, NULL, 'd'},
	    {"attach", required_argument, NULL, 'a'},
	    {"run-dir", required_argument, NULL, 'r'},
	    {"qemu", required_argument, NULL, 'q'},
	    {"ultravisor", required_argument, NULL, 'u'},
	    {"partition", required_argument, NULL, 'p'},
	    {"engine-uid-base", required_argument, NULL, 'U'},
	    {"incoming", no_argument, NULL, 'I'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct monitor m = {.pidfd = -1,
	                    .console_pidfd = -1,
	                    .ctl_fd = -1,
	                    .epfd = -1,
	                    .sigfd = -1,
	                    .stop_timer = -1,
	                    .uv_sock = -1,
	                    .uv_mem_fd = -1,
	                    .follow_timer = -1,
	                    .mig_listen = -1,
	                    .uid_base = UV_ENGINE_UID_BASE_DEFAULT,
	                    .engine_uid = (uid_t)-1};
	const char *def = NULL, *attach = NULL, *run_dir = getenv("ULTRA_RUN_DIR"), *uv = NULL;
	long partition = -1;
	char err[512] = "";
	int c, r, lock_fd;

	m.qemu_bin = getenv("ULTRA_QEMU") ? getenv("ULTRA_QEMU") : "qemu-system-x86_64";
	while ((c = getopt_long(argc, argv, "d:a:r:q:u:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			uv = optarg;
			break;
		case 'p':
			partition = strtol(optarg, NULL, 10);
			break;
		case 'd':
			def = optarg;
			break;
		case 'a':
			attach = optarg;
			break;
		case 'r':
			run_dir = optarg;
			break;
		case 'q':
			m.qemu_bin = optarg;
			break;
		case 'I':
			m.incoming = true;
			break;
		case 'U':
			if (uv_engine_uid_base_arg(optarg, &m.uid_base, err, sizeof(err))) {
				fprintf(stderr, "ultra-monitor: %s\n", err);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if ((!!def + !!attach + !!uv) != 1 || (uv && (partition <= 0 || partition > UINT32_MAX)) ||
	    (def && partition != -1 && (partition < 0 || partition >= (long)UV_ENGINE_UID_SPAN)) ||
	    (attach && partition != -1) || (m.incoming && !uv) || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!run_dir)
		run_dir = "/run/ultravisor";
	for (int i = 0; i < MON_CLIENTS_MAX; i++)
		m.clients[i].fd = -1;

	/* The engine's uid is base + this number (lib/engine_uid.h); a stand-alone definition
	 * without --partition shares number 0 with every other such partition. */
	m.engine_id = partition > 0 ? (uint32_t)partition : 0;
	if (def) {
		r = load_definition(def, run_dir, &m, err, sizeof(err));
	} else if (uv) {
		r = mon_uv_load(&m, uv, (uint32_t)partition, err, sizeof(err));
		if (!r && (r = set_paths(&m.paths, run_dir, m.desc->name)))
			snprintf(err, sizeof(err), "run directory path too long for sockets");
		if (!r && (r = mkdirs(m.paths.dir)))
			snprintf(err, sizeof(err), "%s: %s", m.paths.dir, strerror(-r));
	} else {
		r = set_paths(&m.paths, run_dir, attach);
		if (r)
			snprintf(err, sizeof(err), "run directory path too long for sockets");
	}
	if (r)
		goto fail;
	if (!uv && (r = map_descriptor(m.paths.desc, &m.desc))) {
		snprintf(err, sizeof(err), "%s: cannot map descriptor: %s", m.paths.desc,
		         strerror(-r));
		goto fail;
	}
	if ((r = uv_desc_validate(m.desc, 1, err, sizeof(err))))
		goto fail;
	/* One monitor per partition: a second one would fight over the single QMP connection. */
	lock_fd = open(m.paths.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = -EBUSY;
		snprintf(err, sizeof(err), "another monitor is running for %s", m.desc->name);
		goto fail;
	}
	if ((r = mon_ctl_listen(&m)) || (r = setup_loop(&m))) {
		snprintf(err, sizeof(err), "control socket %s: %s", m.paths.ctl, strerror(-r));
		goto fail;
	}
	m.accel = m.desc->accel;
	r = mon_qemu_find(&m);
	if (r < 0) {
		snprintf(err, sizeof(err), "looking for a running engine: %s", strerror(-r));
		goto fail;
	}
	if (r == 1) {
		m.accel = mon_accel_resolve(m.desc->accel, err, sizeof(err));
		r = attach_existing(&m, err, sizeof(err));
		if (r)
			goto fail;    /* the engine may be fine; its state is not ours to judge */
		mon_uv_hand_back(&m); /* the ultravisor may have restarted while we were away */
	} else if (attach) {
		r = -ESRCH;
		snprintf(err, sizeof(err), "no running engine for %s to attach to", attach);
		if (access(m.paths.pid, F_OK) == 0) { /* it was running when its monitor left */
			unlink(m.paths.pid);
			mon_set_state(&m, UV_STATE_CRASHED,
			              "engine gone while no monitor was attached");
		}
		goto fail;
	} else {
		r = start_new(&m, err, sizeof(err));
	}
	if (r)
		goto fail_engine;
	if ((r = epoll_add(&m, m.pidfd, &m.pidfd)) || (r = epoll_add(&m, qmp_fd(m.qmp), m.qmp)))
		goto fail_engine;
	if (m.uv_view) { /* follow the partition's record: twice a second is plenty for a policy */
		struct itimerspec its = {.it_interval = {.tv_nsec = 500000000},
		                         .it_value = {.tv_nsec = 500000000}};
		m.follow_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (m.follow_timer < 0 || timerfd_settime(m.follow_timer, 0, &its, NULL) < 0) {
			r = -errno;
			goto fail_engine;
		}
		if ((r = epoll_add(&m, m.follow_timer, &m.follow_timer)))
			goto fail_engine;
	}
	r = run_loop(&m);
	if (!m.qemu_pid) /* the engine ended: its console relay ends with it (a detach leaves both)
	                  */
		mon_console_reap(&m, 1000);
	unlink(m.paths.ctl);
	if (m.mig_listen >= 0)
		unlink(m.paths.mig);
	return m.state == UV_STATE_CRASHED ? 1 : 0;

fail_engine:
	if (m.qemu_pid > 0 && m.qemu_is_child) {
		uv_pidfd_signal(m.pidfd, SIGKILL); /* half-started: nothing should survive */
		waitpid(m.qemu_pid, NULL, 0);
		mon_console_reap(&m, 1000);
		mon_cpu_release(&m);
		mon_blkio_release(&m);
	}
	if (m.desc)
		mon_set_state(&m, UV_STATE_CRASHED, err);
fail:
	fprintf(stderr, "ultra-monitor: %s\n", err[0] ? err : strerror(-r));
	if (m.ctl_fd >= 0)
		unlink(m.paths.ctl);
	return 1;
}
