/* SPDX-License-Identifier: MIT */
/*
 * The partition's console relay (claims 9-12; docs/monitor.md, "console"): the engine's serial
 * port is read as fast as the guest writes it, every byte appended to the console log, and
 * fanned out to the viewers (up to UV_CONRELAY_VIEWERS), each through a bounded buffer of its
 * own. A viewer that does not keep up loses what does not fit, never holds the engine back, and
 * is told how much it lost once it has room again; its input, and every other viewer's, goes
 * to the engine.
 *
 *   QEMU's serial chardev ══socketpair══► relay ──► console.log (every byte, in order)
 *                                           └──console.sock──► viewers (ultra console, the
 *                                              (never waits      gateway, tests)
 *                                               for a viewer)
 */
#ifndef ULTRA_LIB_CONRELAY_H
#define ULTRA_LIB_CONRELAY_H

#include <stddef.h>
#include <stdint.h>

#define UV_CONRELAY_VIEWERS 8
#define UV_CONRELAY_VIEWER_BUF (64 * 1024) /* a viewer's backlog before output is dropped */
#define UV_CONRELAY_INPUT_BUF 4096         /* viewers' keystrokes on their way to the engine */

struct uv_conrelay_stats {
	uint64_t from_engine; /* bytes the guest wrote */
	uint64_t dropped;     /* bytes some viewer could not take (counted once per viewer) */
	uint64_t viewers;     /* viewers accepted */
	uint64_t log_errors;  /* writes to the log that failed (the relay goes on) */
};

/*
 * Relays until the engine's side ends (0: the engine closed its socket or failed) or stop_fd
 * (-1: none) becomes readable (0). engine: a connected stream socket to the serial port;
 * listen_fd: a listening stream socket for viewers; log_fd (-1: none): where every byte from
 * the engine is appended before any viewer sees it. None of them is closed here; every viewer
 * accepted is. -errno only for poll or memory failures. st may be NULL.
 */
int uv_conrelay_run(int engine, int listen_fd, int stop_fd, int log_fd,
                    struct uv_conrelay_stats *st);

/* The line a viewer reads where its output was cut: "\r\n[ultra: N bytes of console output
 * dropped: ...]\r\n". Its length, at most cap - 1. */
size_t uv_conrelay_notice(uint64_t dropped, char *buf, size_t cap);

#endif
