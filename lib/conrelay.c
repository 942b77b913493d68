/* SPDX-License-Identifier: MIT */
/* The console relay (lib/conrelay.h): one poll loop over the engine's serial socket, the
 * viewers' listening socket, the viewers and a stop fd. Nothing here waits on a viewer: every
 * send is non-blocking, and what a viewer's buffer cannot hold is counted and dropped. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conrelay.h"

#define ENGINE_CHUNK (64 * 1024)
/* QEMU writes the serial port a byte at a time: woken for each, the relay would spend a host
 * CPU on wake-ups while the guest streams. After a short read it lets the output gather for a
 * moment (far below what a person notices) before it looks again. */
#define COALESCE_BELOW 1024
#define COALESCE_NS 1000000

struct viewer {
	int fd; /* -1: a free slot */
	char *buf;
	size_t off, len;
	uint64_t dropped; /* since its last notice */
};

struct relay {
	int engine, listen, stop, log;
	struct viewer v[UV_CONRELAY_VIEWERS];
	char in[UV_CONRELAY_INPUT_BUF]; /* viewers -> engine */
	size_t in_len;
	struct uv_conrelay_stats *st;
};

size_t uv_conrelay_notice(uint64_t dropped, char *buf, size_t cap)
{
	int n = snprintf(buf, cap,
	                 "\r\n[ultra: %llu bytes of console output dropped: this viewer fell "
	                 "behind; console.log has them all]\r\n",
	                 (unsigned long long)dropped);

	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

static size_t room(const struct viewer *v) { return UV_CONRELAY_VIEWER_BUF - v->len; }

static void append(struct viewer *v, const char *p, size_t n)
{
	if (v->off + v->len + n > UV_CONRELAY_VIEWER_BUF) {
		memmove(v->buf, v->buf + v->off, v->len);
		v->off = 0;
	}
	memcpy(v->buf + v->off + v->len, p, n);
	v->len += n;
}

/* The notice goes in where the cut was, as soon as it fits. */
static void place_notice(struct viewer *v)
{
	char note[192];
	size_t n;

	if (!v->dropped)
		return;
	n = uv_conrelay_notice(v->dropped, note, sizeof(note));
	if (n > room(v))
		return;
	append(v, note, n);
	v->dropped = 0;
}

static void put(struct relay *r, struct viewer *v, const char *p, size_t n)
{
	size_t k;

	place_notice(v);
	k = v->dropped ? 0 : n < room(v) ? n : room(v); /* still behind: nothing until the notice */
	append(v, p, k);
	v->dropped += n - k;
	r->st->dropped += n - k;
}

static void drop_viewer(struct viewer *v)
{
	close(v->fd);
	free(v->buf);
	*v = (struct viewer){.fd = -1};
}

static void accept_viewer(struct relay *r)
{
	static const char full[] = "[ultra: this console has its most viewers already]\r\n";
	int fd = accept4(r->listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct viewer *v = NULL;

	if (fd < 0)
		return;
	for (int i = 0; i < UV_CONRELAY_VIEWERS && !v; i++)
		if (r->v[i].fd < 0)
			v = &r->v[i];
	if (!v || !(v->buf = malloc(UV_CONRELAY_VIEWER_BUF))) {
		if (send(fd, full, sizeof(full) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* it goes either way */
		}
		close(fd);
		return;
	}
	v->fd = fd;
	r->st->viewers++;
}

/* The log is the complete record: it is written first, whole, whatever the viewers do. */
static void to_log(struct relay *r, const char *p, size_t n)
{
	while (r->log >= 0 && n) {
		ssize_t k = write(r->log, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r->st->log_errors++;
			return;
		}
		p += k;
		n -= (size_t)k;
	}
}

/* The engine's bytes to the log and every viewer. 1: the engine ended. */
static int from_engine(struct relay *r, bool *short_read)
{
	char chunk[ENGINE_CHUNK];
	ssize_t n = recv(r->engine, chunk, sizeof(chunk), MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : 1;
	if (n == 0)
		return 1;
	r->st->from_engine += (uint64_t)n;
	*short_read = (size_t)n < COALESCE_BELOW;
	to_log(r, chunk, (size_t)n);
	for (int i = 0; i < UV_CONRELAY_VIEWERS; i++)
		if (r->v[i].fd >= 0)
			put(r, &r->v[i], chunk, (size_t)n);
	return 0;
}

/* Keystrokes to the engine. 1: the engine ended. */
static int to_engine(struct relay *r)
{
	ssize_t n = send(r->engine, r->in, r->in_len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : 1;
	memmove(r->in, r->in + n, r->in_len - (size_t)n);
	r->in_len -= (size_t)n;
	return 0;
}

static void viewer_io(struct relay *r, struct viewer *v, short rev)
{
	ssize_t n;

	if (v->len && (rev & (POLLOUT | POLLERR | POLLHUP))) {
		n = send(v->fd, v->buf + v->off, v->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			drop_viewer(v);
			return;
		}
		if (n > 0) {
			v->off += (size_t)n;
			v->len -= (size_t)n;
			if (!v->len)
				v->off = 0;
			place_notice(v);
		}
	}
	if (rev & POLLIN) {
		n = recv(v->fd, r->in + r->in_len, sizeof(r->in) - r->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			drop_viewer(v);
			return;
		}
		if (n > 0)
			r->in_len += (size_t)n;
	} else if (rev & (POLLERR | POLLHUP)) {
		drop_viewer(v); /* gone, and nothing of it is read now */
	}
}

/* pollfds: stop, engine, listen, then one per viewer slot (fd -1 when free). */
static void interest(struct relay *r, struct pollfd *p)
{
	bool input_room = r->in_len < sizeof(r->in);

	p[0] = (struct pollfd){.fd = r->stop, .events = POLLIN};
	p[1] = (struct pollfd){.fd = r->engine, .events = POLLIN | (r->in_len ? POLLOUT : 0)};
	p[2] = (struct pollfd){.fd = r->listen, .events = POLLIN};
	for (int i = 0; i < UV_CONRELAY_VIEWERS; i++)
		p[3 + i] = (struct pollfd){
		    .fd = r->v[i].fd,
		    .events = (short)((input_room ? POLLIN : 0) | (r->v[i].len ? POLLOUT : 0))};
}

int uv_conrelay_run(int engine, int listen_fd, int stop_fd, int log_fd,
                    struct uv_conrelay_stats *st)
{
	struct uv_conrelay_stats ignore = {0};
	struct pollfd p[3 + UV_CONRELAY_VIEWERS];
	struct relay *r = calloc(1, sizeof(*r));
	int rc = 0;

	if (!r)
		return -ENOMEM;
	*r = (struct relay){.engine = engine,
	                    .listen = listen_fd,
	                    .stop = stop_fd,
	                    .log = log_fd,
	                    .st = st ? st : &ignore};
	for (int i = 0; i < UV_CONRELAY_VIEWERS; i++)
		r->v[i].fd = -1;
	for (;;) {
		bool short_read = false;

		interest(r, p);
		if (poll(p, 3 + UV_CONRELAY_VIEWERS, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (p[0].revents)
			break;
		if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && from_engine(r, &short_read))
			break;
		if ((p[1].revents & POLLOUT) && to_engine(r))
			break;
		if (p[2].revents & POLLIN)
			accept_viewer(r);
		for (int i = 0; i < UV_CONRELAY_VIEWERS; i++)
			if (p[3 + i].fd >= 0 && r->v[i].fd == p[3 + i].fd && p[3 + i].revents)
				viewer_io(r, &r->v[i], p[3 + i].revents);
		if (short_read)
			nanosleep(&(struct timespec){.tv_nsec = COALESCE_NS}, NULL);
	}
	for (int i = 0; i < UV_CONRELAY_VIEWERS; i++)
		if (r->v[i].fd >= 0)
			drop_viewer(&r->v[i]);
	free(r);
	return rc;
}
