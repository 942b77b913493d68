/* SPDX-License-Identifier: MIT */
/* The QMP client over whatever an engine may send. QEMU is not trusted (a guest that took it
 * over writes what it likes on the QMP socket), so the monitor's client must never read out of
 * bounds or hang, and whatever reaches the event callback must keep its promise: a string name,
 * data that is an object or NULL. The bytes are the engine's side of the socket, from the
 * greeting on; the client then runs a command and dispatches what is left, as the monitor does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fits the socket's buffer, so the whole input is there before the client reads. */
#define INPUT_MAX (96 * 1024)

static void on_event(void *opaque, const char *event, json_object *d)
{
	(void)opaque;
	if (!event || (d && !json_object_is_type(d, json_type_object)))
		abort();
	(void)strlen(event);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp *q = NULL;
	json_object *ret = NULL;
	char err[256];
	int sv[2];

	if (size > INPUT_MAX || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	if (size && write(sv[1], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[1], SHUT_WR); /* then the client reads end of file, never waits out a timeout */
	if (qmp_open_fd(sv[0], 1000, on_event, NULL, &q) == 0) {
		err[0] = 0;
		if (qmp_execute(q, "query-status", NULL, &ret, err, sizeof(err)) != 0 &&
		    !memchr(err, 0, sizeof(err)))
			abort();
		json_object_put(ret);
		while (qmp_dispatch(q) == 0)
			;
		qmp_close(q);
	}
	close(sv[1]);
	return 0;
}
