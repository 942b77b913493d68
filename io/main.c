/* SPDX-License-Identifier: MIT */
/* ultra-io: the I/O partition (claims 17-21, 63-67).
 *
 *   ultra-io [--blk SOCKET=IMAGE ...] [--net SOCKET[,switch=NAME][,offload=off] ...]
 *            [--tap IFNAME[,switch=NAME][,offload=off] ...] [--ultravisor SOCK --partition N]
 *            [--pair LOCKFILE]
 *            [--control SOCKET] [--no-sandbox]
 *
 * Exports each IMAGE (raw file or block device) as a vhost-user-blk device on the Unix socket
 * SOCKET, and each --net SOCKET as a vhost-user-net device whose clients are ports of the
 * learning switch NAME ("default" if not given; claim 25), which --tap connects to the host's
 * tap interface IFNAME (an uplink); any number of front ends may connect to each. offload=off
 * offers that port no checksum or segmentation offloads (docs/io-partition.md). With
 * --ultravisor, this is system partition N (role io) and every memory table a client sends must
 * lie in the grants the resource database gives the partition that owns its socket (claims 20,
 * 21); without it, tables are only checked for consistency. --control lets the command
 * partition add and remove exports at run time (io_control.c). With --pair, two instances
 * started alike form a redundant pair (claim 24): the one holding LOCKFILE serves; the other
 * opens its disks and waits for the lock, which the kernel releases when the active dies however
 * it dies, then binds the sockets (its control socket too) itself and serves every client that
 * reconnects; the command partition re-adds its run-time exports through the new control socket
 * (docs/io-partition.md). SIGINT/SIGTERM end it cleanly. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "engine_uid.h"
#include "io_control.h"
#include "io_sandbox.h"
#include "tap.h"
#include "uvlink.h"
#include "vhost_blk.h"
#include "vhost_net.h"

#define MAX_EXPORTS 16

static void usage(void)
{
	fprintf(stderr, "usage: ultra-io [--blk SOCKET=IMAGE[,for=P] ...] "
	                "[--net SOCKET[,switch=NAME][,offload=off][,for=P] ...] "
	                "[--tap IFNAME[,switch=NAME][,offload=off] ...] "
	                "[--ultravisor SOCK --partition N] "
	                "[--pair LOCKFILE] [--control SOCKET] [--engine-uid-base UID] "
	                "[--no-sandbox]\n"
	                "An export's socket is partition P's (default 0): chowned to its engine's "
	                "uid, UID + P, the only client let in.\n");
}

/* Everything exported, freed after the server (whose clients hold switch ports). */
struct exports {
	struct vhost_blk *blk[MAX_EXPORTS];
	struct vhost_net *net[MAX_EXPORTS];
	struct vswitch *sw[MAX_EXPORTS];
	struct tap_port *tap[MAX_EXPORTS];
	unsigned nblk, nnet, nsw, ntap;
	/* sockets to bind once this instance is the active one */
	const char *path[2 * MAX_EXPORTS];
	struct vhu_device *dev[2 * MAX_EXPORTS];
	uint32_t part[2 * MAX_EXPORTS]; /* whose engine alone may connect */
	unsigned nbind;
	uint32_t uid_base;
};

/* Takes a trailing ",for=P" off arg: the partition the export is for (0 without one). */
static int partition_of(const char *opt, char *arg, uint32_t *part)
{
	char *at = strstr(arg, ",for="), *end = NULL;
	unsigned long v;

	*part = 0;
	if (!at)
		return 0;
	v = strtoul(at + 5, &end, 10);
	if (at[5] < '0' || at[5] > '9' || *end || v >= UV_ENGINE_UID_SPAN) {
		fprintf(stderr, "ultra-io: %s %s: for= wants a partition number below %u\n", opt,
		        arg, UV_ENGINE_UID_SPAN);
		return -EINVAL;
	}
	*at = 0;
	*part = (uint32_t)v;
	return 0;
}

static void to_bind(struct exports *x, const char *path, struct vhu_device *dev, uint32_t part)
{
	x->path[x->nbind] = path;
	x->part[x->nbind] = part;
	x->dev[x->nbind++] = dev;
}

/* Each socket is made its partition's engine's (lib/engine_uid.h): only that engine can reach
 * it by path, and only it is let in (vhost_user.c). */
static int bind_all(struct vhu_server *s, const struct exports *x)
{
	for (unsigned i = 0; i < x->nbind; i++) {
		uid_t uid = 0;
		int r = vhu_server_export(s, x->path[i], x->dev[i]);

		if (r == 0 && (r = uv_engine_uid(x->uid_base, x->part[i], &uid)) == 0 &&
		    (r = vhu_server_bind_peer(s, x->path[i], x->part[i])) == 0 &&
		    chown(x->path[i], uid, (gid_t)uid) < 0)
			r = -errno;
		if (r < 0) {
			fprintf(stderr, "ultra-io: listen on %s: %s\n", x->path[i], strerror(-r));
			return r;
		}
		fprintf(stderr, "ultra-io: %s: partition %u's (uid %u)\n", x->path[i], x->part[i],
		        (unsigned)uid);
	}
	return 0;
}

/* A redundant pair: returns once this instance holds the lock (at once for the first; for the
 * standby when the active has died and the kernel dropped its lock). The fd stays open, and
 * the lock held, for the life of the process. */
static int become_active(const char *lock)
{
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		fprintf(stderr, "ultra-io: active (pair lock %s)\n", lock);
		return fd;
	}
	if (errno != EWOULDBLOCK)
		goto fail;
	fprintf(stderr, "ultra-io: standby: disks open, waiting for the active to go (%s)\n", lock);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			goto fail;
	fprintf(stderr, "ultra-io: taking over from the active\n");
	return fd;
fail:
	close(fd);
	return -errno;
}

static struct vswitch *switch_named(struct exports *x, const char *name)
{
	for (unsigned i = 0; i < x->nsw; i++)
		if (!strcmp(x->sw[i]->name, name))
			return x->sw[i];
	if (x->nsw == MAX_EXPORTS || strlen(name) >= sizeof(x->sw[0]->name))
		return NULL;
	struct vswitch *sw = malloc(sizeof(*sw));
	if (!sw)
		return NULL;
	sw_init(sw, name, 0);
	x->sw[x->nsw++] = sw;
	return sw;
}

static struct vswitch *switch_for(void *x, const char *name) { return switch_named(x, name); }

/* Splits "WHAT[,switch=NAME][,offload=off]" in place; returns the switch or NULL (after a
 * message) and whether offloads stay on. */
static struct vswitch *switch_of(struct exports *x, const char *opt, char *arg, bool *offload)
{
	char *comma = strchr(arg, ',');
	const char *name = "default";
	struct vswitch *sw = NULL;
	bool ok = *arg != '\0';

	*offload = true;
	while (comma && ok) {
		char *item = comma + 1;
		*comma = '\0';
		comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		if (!strncmp(item, "switch=", 7) && item[7])
			name = item + 7;
		else if (!strcmp(item, "offload=off"))
			*offload = false;
		else
			ok = false;
		if (comma)
			*comma = ','; /* put back for the next round's split */
	}
	if (ok)
		sw = switch_named(x, name);
	if (!sw)
		fprintf(stderr, "ultra-io: %s %s: want %s[,switch=NAME][,offload=off]\n", opt, arg,
		        strcmp(opt, "--tap") ? "SOCKET" : "IFNAME");
	return sw;
}

static int export_net(struct vhu_server *s, char *arg, struct exports *x)
{
	struct vhost_net *n = NULL;
	struct vswitch *sw;
	bool offload;
	uint32_t part;
	int r;

	if (partition_of("--net", arg, &part) < 0 || !(sw = switch_of(x, "--net", arg, &offload)))
		return -EINVAL;
	r = vhost_net_new(arg, sw, offload, &n);
	if (r < 0)
		return r;
	x->net[x->nnet++] = n;
	to_bind(x, arg, &n->dev, part);
	fprintf(stderr, "ultra-io: %s: port of switch %s%s\n", arg, sw->name,
	        offload ? "" : ", no offloads");
	return 0;
}

static int uplink_tap(struct vhu_server *s, char *arg, struct exports *x)
{
	bool offload;
	struct vswitch *sw = switch_of(x, "--tap", arg, &offload);
	int r;

	if (!sw)
		return -EINVAL;
	r = tap_open(arg, sw, s, offload, &x->tap[x->ntap]);
	if (r < 0) {
		fprintf(stderr, "ultra-io: tap %s: %s\n", arg, strerror(-r));
		return r;
	}
	x->ntap++;
	fprintf(stderr, "ultra-io: tap %s: uplink of switch %s%s\n", arg, sw->name,
	        tap_offloads(x->tap[x->ntap - 1]) ? ", with offloads" : "");
	return 0;
}

static int export_blk(struct exports *x, char *arg, struct vhost_blk **out)
{
	char *eq = strchr(arg, '=');
	struct disk *disk = NULL;
	uint32_t part;
	int r;

	if (partition_of("--blk", arg, &part) < 0)
		return -EINVAL;
	if (!eq || eq == arg || !eq[1]) {
		fprintf(stderr, "ultra-io: --blk %s: want SOCKET=IMAGE\n", arg);
		return -EINVAL;
	}
	*eq = '\0';
	r = disk_raw_open(eq + 1, &disk);
	if (r < 0) {
		fprintf(stderr, "ultra-io: %s: %s\n", eq + 1, strerror(-r));
		return r;
	}
	r = vhost_blk_new(arg, disk, out);
	if (r < 0) {
		disk->ops->close(disk);
		return r;
	}
	to_bind(x, arg, &(*out)->dev, part);
	fprintf(stderr, "ultra-io: %s: serving %s (%llu bytes)\n", arg, eq + 1,
	        (unsigned long long)disk->size);
	return 0;
}

static int stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* --ultravisor SOCK --partition N: check tables against the database through a connector
 * forked now, before the sandbox. */
static int link_ultravisor(struct vhu_server *s, const char *sock, const char *part,
                           struct io_uvlink **out)
{
	char err[256], *end = NULL;
	unsigned long n = part ? strtoul(part, &end, 10) : 0;
	int r;

	if (!sock || !part || !*part || *end || n == 0 || n > UINT32_MAX) {
		fprintf(stderr,
		        "ultra-io: --ultravisor SOCK and --partition N (N > 0) go together\n");
		return -EINVAL;
	}
	r = io_uvlink_open(sock, (uint32_t)n, out, err, sizeof(err));
	if (r) {
		fprintf(stderr, "ultra-io: %s\n", err);
		return r;
	}
	if (err[0])
		fprintf(stderr, "ultra-io: %s (retried at each memory table)\n", err);
	vhu_server_set_policy(s, io_uvlink_policy(*out));
	fprintf(stderr, "ultra-io: partition %lu: memory tables checked against the grants at %s\n",
	        n, sock);
	return 0;
}

int main(int argc, char **argv)
{
	struct exports x = {.uid_base = UV_ENGINE_UID_BASE_DEFAULT};
	struct vhu_server *s = NULL;
	struct io_control *ctl = NULL;
	struct io_uvlink *uv = NULL;
	const char *uv_sock = NULL, *uv_part = NULL;
	int sig_fd = -1, lock_fd = -1, r, status = 1;
	int sandbox = 1;
	const char *pair = NULL, *ctl_path = NULL;
	char err[160];

	if (vhu_server_new(&s) < 0)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--blk") && i + 1 < argc && x.nblk < MAX_EXPORTS) {
			if (export_blk(&x, argv[++i], &x.blk[x.nblk]) < 0)
				goto out;
			x.nblk++;
		} else if (!strcmp(argv[i], "--net") && i + 1 < argc && x.nnet < MAX_EXPORTS) {
			if (export_net(s, argv[++i], &x) < 0)
				goto out;
		} else if (!strcmp(argv[i], "--tap") && i + 1 < argc && x.ntap < MAX_EXPORTS) {
			if (uplink_tap(s, argv[++i], &x) < 0)
				goto out;
		} else if (!strcmp(argv[i], "--control") && i + 1 < argc && !ctl_path) {
			ctl_path = argv[++i];
		} else if (!strcmp(argv[i], "--ultravisor") && i + 1 < argc) {
			uv_sock = argv[++i];
		} else if (!strcmp(argv[i], "--partition") && i + 1 < argc) {
			uv_part = argv[++i];
		} else if (!strcmp(argv[i], "--pair") && i + 1 < argc) {
			pair = argv[++i];
		} else if (!strcmp(argv[i], "--engine-uid-base") && i + 1 < argc) {
			if (uv_engine_uid_base_arg(argv[++i], &x.uid_base, err, sizeof(err))) {
				fprintf(stderr, "ultra-io: %s\n", err);
				goto out;
			}
			vhu_server_set_uid_base(s, x.uid_base);
		} else if (!strcmp(argv[i], "--no-sandbox")) {
			sandbox = 0;
		} else {
			usage();
			goto out;
		}
	}
	if (x.nblk + x.nnet == 0 && !ctl_path) {
		usage();
		goto out;
	}
	if ((uv_sock || uv_part) && link_ultravisor(s, uv_sock, uv_part, &uv) < 0)
		goto out;
	/* The standby waits here with its disks open and no socket: nothing reaches it before
	 * it takes over. SIGTERM still ends it (not yet blocked for the signalfd). */
	if (pair && (lock_fd = become_active(pair)) < 0) {
		fprintf(stderr, "ultra-io: pair lock %s: %s\n", pair, strerror(-lock_fd));
		goto out;
	}
	if (bind_all(s, &x) < 0)
		goto out;
	/* Bound only by the member that serves: a standby must not take the active's. */
	if (ctl_path && (r = io_control_open(s, ctl_path, switch_for, &x, &ctl)) < 0) {
		fprintf(stderr, "ultra-io: control socket %s: %s\n", ctl_path, strerror(-r));
		goto out;
	}
	sig_fd = stop_signals();
	if (sig_fd < 0)
		goto out;
	if (sandbox) {
		r = io_sandbox_enter();
		if (r < 0) {
			fprintf(stderr, "ultra-io: seccomp: %s\n", strerror(-r));
			goto out;
		}
	}
	fprintf(stderr, "ultra-io: ready\n");
	r = vhu_server_run(s, sig_fd);
	status = r < 0;
out:
	vhu_server_free(s);
	io_control_free(ctl);
	io_uvlink_free(uv);
	for (unsigned i = 0; i < x.nblk; i++)
		vhost_blk_free(x.blk[i]);
	for (unsigned i = 0; i < x.ntap; i++)
		tap_close(x.tap[i]);
	for (unsigned i = 0; i < x.nnet; i++)
		vhost_net_free(x.net[i]);
	for (unsigned i = 0; i < x.nsw; i++) {
		fprintf(stderr, "ultra-io: switch %s: %llu frames flooded\n", x.sw[i]->name,
		        (unsigned long long)x.sw[i]->flooded);
		free(x.sw[i]);
	}
	if (sig_fd >= 0)
		close(sig_fd);
	if (lock_fd >= 0)
		close(lock_fd); /* after the sockets are gone: the standby binds fresh ones */
	return status;
}
