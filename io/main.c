/* SPDX-License-Identifier: MIT */
/* ultra-io: the I/O partition (claims 17-21, 63-67).
 *
 *   ultra-io --blk SOCKET=IMAGE [--blk SOCKET=IMAGE ...] [--no-sandbox]
 *
 * Exports each IMAGE (raw file or block device) as a vhost-user-blk device on the Unix socket
 * SOCKET; any number of front ends may connect to each. SIGINT/SIGTERM end it cleanly. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "io_sandbox.h"
#include "vhost_blk.h"

#define MAX_EXPORTS 16

static void usage(void)
{
	fprintf(stderr, "usage: ultra-io --blk SOCKET=IMAGE [--blk SOCKET=IMAGE ...] "
	                "[--no-sandbox]\n");
}

static int export_blk(struct vhu_server *s, char *arg, struct vhost_blk **out)
{
	char *eq = strchr(arg, '=');
	struct disk *disk = NULL;
	int r;

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
	r = vhu_server_export(s, arg, &(*out)->dev);
	if (r < 0) {
		fprintf(stderr, "ultra-io: listen on %s: %s\n", arg, strerror(-r));
		vhost_blk_free(*out);
		*out = NULL;
		return r;
	}
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

int main(int argc, char **argv)
{
	struct vhost_blk *blk[MAX_EXPORTS] = {0};
	struct vhu_server *s = NULL;
	unsigned n = 0;
	int sig_fd = -1, r, status = 1;
	int sandbox = 1;

	if (vhu_server_new(&s) < 0)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--blk") && i + 1 < argc && n < MAX_EXPORTS) {
			if (export_blk(s, argv[++i], &blk[n]) < 0)
				goto out;
			n++;
		} else if (!strcmp(argv[i], "--no-sandbox")) {
			sandbox = 0;
		} else {
			usage();
			goto out;
		}
	}
	if (n == 0) {
		usage();
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
	for (unsigned i = 0; i < n; i++)
		vhost_blk_free(blk[i]);
	if (sig_fd >= 0)
		close(sig_fd);
	return status;
}
