/* SPDX-License-Identifier: MIT */
/* ultra console NAME: the partition's serial console, raw, until Ctrl-] (as virsh console).
 * The console socket is QEMU's own (docs/monitor.md), so nothing relays it. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "ultra.h"
#include "unixsock.h"

#define DETACH 0x1d /* Ctrl-] */

static int relay(int sock)
{
	struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
	char buf[4096], *k;
	ssize_t n;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return ULTRA_FAILED;
		}
		if (p[1].revents) {
			n = read(sock, buf, sizeof(buf));
			if (n <= 0)
				return ULTRA_OK; /* the partition ended */
			if (write(1, buf, (size_t)n) != n)
				return ULTRA_FAILED;
		}
		if (p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0)
				return ULTRA_OK;
			k = memchr(buf, DETACH, (size_t)n);
			if (k)
				n = k - buf;
			if (n > 0 && write(sock, buf, (size_t)n) != n)
				return ULTRA_FAILED;
			if (k)
				return ULTRA_OK;
		}
	}
}

int ultra_cmd_console(struct ultra *u, int argc, char **argv)
{
	json_object *info = NULL;
	struct termios old, raw;
	int sock, rc, tty = isatty(0);

	if (argc != 1)
		return ULTRA_USAGE;
	if ((rc = ultra_call(u, "info", ultra_name_arg(argv[0]), &info)))
		return rc;
	sock = uv_unix_connect(ultra_str(info, "console"), SOCK_STREAM);
	if (sock < 0) {
		fprintf(stderr, "ultra: console: %s is not running (%s)\n", argv[0],
		        strerror(-sock));
		json_object_put(info);
		return ULTRA_FAILED;
	}
	json_object_put(info);
	fprintf(stderr, "Connected to %s (detach with Ctrl-])\n", argv[0]);
	if (tty && tcgetattr(0, &old) == 0) {
		raw = old;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	rc = relay(sock);
	if (tty)
		tcsetattr(0, TCSANOW, &old);
	fprintf(stderr, "\nDetached from %s\n", argv[0]);
	close(sock);
	return rc;
}
