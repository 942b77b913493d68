/* SPDX-License-Identifier: MIT */
/* The gateway's one epoll loop: the listening socket, a signalfd (SIGTERM, SIGINT: close every
 * client and leave), and two sockets per client, level-triggered, their interest recomputed
 * after every step from what the client is waiting for. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"

/* epoll tags: a client is tagged with its own address; these two stand apart. */
static char tag_listen, tag_signal;

uint64_t gw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void gw_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ultra-cmdgw: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint32_t to_epoll(short ev)
{
	return (ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0);
}

static int interest(struct gw *g, int fd, uint32_t *cur, uint32_t want, void *tag)
{
	struct epoll_event ev = {.events = want, .data.ptr = tag};

	if (fd < 0 || *cur == want)
		return 0;
	if (epoll_ctl(g->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	*cur = want;
	return 0;
}

/* What each socket of c waits for now. A socket registered with no events still reports
 * hang-ups, which the next pump sees as an end. */
static int update(struct gw_conn *c)
{
	uint32_t tls = 0, cmd = 0;

	if (c->lingering) {
		tls = EPOLLIN;
	} else if (!c->established) {
		tls = to_epoll(c->rd_want);
	} else {
		if (uv_linebuf_space(&c->up) && !c->overlong && !c->closing && !c->client_eof)
			tls |= to_epoll(c->rd_want);
		if (c->down_len)
			tls |= to_epoll(c->wr_want);
		if (c->mode == GW_SPLICE ? c->up.len > 0
		                         : !c->inflight && uv_linebuf_line(&c->up) > 0)
			cmd |= EPOLLOUT;
		if (c->down_len < GW_DOWN_CAP && !c->closing)
			cmd |= EPOLLIN;
	}
	if (interest(c->gw, c->tls_fd, &c->tls_ev, tls, c) ||
	    interest(c->gw, c->cmd_fd, &c->cmd_ev, cmd, c))
		return -1;
	return 0;
}

/* Out of the list at once; freed after the batch of events, which may still name it. */
static void drop(struct gw *g, struct gw_conn *c)
{
	struct gw_conn **pp;

	for (pp = &g->conns; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	g->n_conns--;
	c->dead = true;
	c->next = g->dead;
	g->dead = c;
}

static void bury(struct gw *g)
{
	while (g->dead) {
		struct gw_conn *c = g->dead;

		g->dead = c->next;
		gw_conn_free(c); /* closing its fds takes them out of the epoll set */
	}
}

static void step(struct gw *g, struct gw_conn *c)
{
	if (!c->dead && (gw_conn_pump(c) || update(c)))
		drop(g, c);
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	}
}

static void accept_one(struct gw *g, int fd, const char *peer)
{
	struct gw_conn *c;
	struct epoll_event ev = {.events = EPOLLIN};

	if (g->n_conns >= g->max_conns) {
		gw_log("%s: refused: %u clients already", peer, g->n_conns);
		close(fd);
		return;
	}
	if (!(c = gw_conn_new(g, fd, peer))) {
		gw_log("%s: refused: out of memory", peer);
		close(fd);
		return;
	}
	ev.data.ptr = c;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		gw_conn_free(c);
		return;
	}
	c->tls_ev = EPOLLIN;
	c->next = g->conns;
	g->conns = c;
	g->n_conns++;
	step(g, c);
}

static void accept_all(struct gw *g)
{
	gw_crl_refresh(g); /* before their handshakes */
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char peer[64];
		int fd = accept4(g->listen_fd, (struct sockaddr *)&ss, &sl,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				gw_log("accept: %s", strerror(errno));
			return;
		}
		/* Replies are lines someone waits for: no Nagle delay on them. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
		peer_name(&ss, peer, sizeof(peer));
		accept_one(g, fd, peer);
	}
}

/* Handshakes that take too long are dropped (a peer cannot hold a slot by saying nothing), and
 * so are lingering connections at their time. */
static void expire(struct gw *g)
{
	uint64_t now = gw_now_ms();
	struct gw_conn *c = g->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (now < c->deadline || (c->established && !c->lingering))
			continue;
		if (!c->lingering)
			gw_log("%s: refused: no TLS handshake within %d s", c->peer,
			       GW_HANDSHAKE_MS / 1000);
		drop(g, c);
	}
}

static void on_signal(struct gw *g)
{
	struct signalfd_siginfo si;

	while (read(g->sigfd, &si, sizeof(si)) == sizeof(si))
		g->exiting = true;
}

int gw_run(struct gw *g)
{
	struct epoll_event evs[64];
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};

	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->listen_fd, &ev) < 0)
		return -errno;
	ev.data.ptr = &tag_signal;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->sigfd, &ev) < 0)
		return -errno;
	while (!g->exiting) {
		int n = epoll_wait(g->epfd, evs, 64, 1000);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &tag_listen)
				accept_all(g);
			else if (tag == &tag_signal)
				on_signal(g);
			else if (!g->exiting)
				step(g, tag);
		}
		expire(g);
		bury(g);
	}
	while (g->conns)
		drop(g, g->conns);
	bury(g);
	return 0;
}
