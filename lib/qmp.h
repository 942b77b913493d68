/* SPDX-License-Identifier: MIT */
/* A small client for QEMU's machine protocol (QMP) over a Unix socket. */
#ifndef ULTRA_LIB_QMP_H
#define ULTRA_LIB_QMP_H

#include <json-c/json.h>
#include <stddef.h>

struct qmp;

/* Event callback: called for every asynchronous event read, in order; event is never NULL, data
 * is an object or NULL. */
typedef void (*qmp_event_fn)(void *opaque, const char *event, json_object *data);

/* Connects to path, negotiates capabilities. timeout_ms bounds every wait. */
int qmp_open(const char *path, int timeout_ms, qmp_event_fn on_event, void *opaque,
             struct qmp **out);
/* The same over a connected stream socket, which it owns from then on (closed on failure). */
int qmp_open_fd(int fd, int timeout_ms, qmp_event_fn on_event, void *opaque, struct qmp **out);
void qmp_close(struct qmp *q);
int qmp_fd(const struct qmp *q);

/* Runs one command and waits for its answer; events that arrive meanwhile are delivered.
 * On success *ret (if not NULL) holds the "return" member (caller puts it). A QMP error gives
 * -EIO with the error's description in err. */
int qmp_execute(struct qmp *q, const char *cmd, json_object *args, json_object **ret, char *err,
                size_t errlen);

/* The same, passing fd along with the request (QEMU's add-fd, getfd); fd stays the caller's. */
int qmp_execute_fd(struct qmp *q, const char *cmd, json_object *args, int fd, json_object **ret,
                   char *err, size_t errlen);

/* Reads whatever the socket has and delivers events; lines that are not JSON objects are skipped.
 * Returns -EPIPE when QEMU hung up, -EPROTO when it sent a line longer than any QEMU sends (the
 * connection is then useless: nothing more can be read past it). */
int qmp_dispatch(struct qmp *q);

#endif
