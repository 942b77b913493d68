/* SPDX-License-Identifier: MIT */
/*
 * Memory channel throughput and round trip between two processes, beside memcpy of the same
 * size (the physical limit of one copy on one core), a Unix-domain socket pair and a pipe, all in
 * one run. Throughput runs pin the sender and the receiver to different cores.
 *
 *   bench_channel [scale]   scale (default 1.0) multiplies every message count
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"

#define SLOT 64u
#ifndef SLOTS
#define SLOTS 16384u /* 1 MiB ring */
#endif
#define DEST (1u << 20) /* receivers copy into a rolling 1 MiB buffer, as memcpy does */
#define BATCH 32u
#define RTT_ROUNDS 20000u

enum kind { K_CHAN, K_CHAN_SPIN, K_UNIX, K_PIPE };

/* Both ends of one transport; each process uses its own side. */
struct link {
	enum kind kind;
	void *mem;
	size_t size;
	int efd[2];
	int fd[2][2]; /* [direction][0 read, 1 write]: 0 = parent->child, 1 = child->parent */
	struct uv_chan *ch;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_channel: %s: %s\n", what, strerror(err));
	exit(1);
}

static void link_open(struct link *l, enum kind kind)
{
	struct uv_chan_config cfg = {.part_id = {1, 2}, .n_queues = 2};
	int i, r;

	memset(l, 0, sizeof(*l));
	l->kind = kind;
	if (kind == K_UNIX) {
		for (i = 0; i < 2; i++) {
			int sv[2];
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
				die("socketpair", errno);
			l->fd[i][0] = sv[0];
			l->fd[i][1] = sv[1];
		}
		return;
	}
	if (kind == K_PIPE) {
		for (i = 0; i < 2; i++)
			if (pipe(l->fd[i]))
				die("pipe", errno);
		return;
	}
	cfg.q[0] = (struct uv_chan_qconfig){SLOT, SLOTS, UV_CHAN_SIDE_A};
	cfg.q[1] = (struct uv_chan_qconfig){SLOT, SLOTS, UV_CHAN_SIDE_B};
	l->size = uv_chan_region_size(&cfg);
	l->mem = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l->mem == MAP_FAILED)
		die("mmap", errno);
	r = uv_chan_format(l->mem, l->size, &cfg);
	if (r)
		die("format", -r);
	/* Blocking doorbells: an endless wait then sleeps in one read(). */
	l->efd[0] = eventfd(0, 0);
	l->efd[1] = eventfd(0, 0);
}

/* After fork: side 0 is the parent (A), side 1 the child (B). */
static void link_side(struct link *l, int side)
{
	struct uv_chan_endpoint ep = {(uint32_t)side, UV_CHAN_ANY_PART, l->efd[side],
	                              l->efd[!side]};
	int r;

	if (l->kind != K_CHAN && l->kind != K_CHAN_SPIN)
		return;
	r = uv_chan_attach(&l->ch, l->mem, l->size, &ep, NULL, 0);
	if (r)
		die("attach", -r);
	uv_chan_set_spin(l->ch, l->kind == K_CHAN_SPIN ? 50 : 0);
}

static void link_close(struct link *l)
{
	int i;

	if (l->ch) {
		uv_chan_detach(l->ch);
		l->ch = NULL;
	}
	if (l->mem) {
		munmap(l->mem, l->size);
		close(l->efd[0]);
		close(l->efd[1]);
		l->mem = NULL;
		return;
	}
	for (i = 0; i < 4; i++)
		close(l->fd[i / 2][i % 2]);
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write", errno);
		p += w;
		n -= (size_t)w;
	}
}

static void read_all(int fd, uint8_t *p, size_t n)
{
	ssize_t r;

	while (n) {
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("read", r ? errno : EPIPE);
		p += r;
		n -= (size_t)r;
	}
}

/* Sends count messages of len bytes in direction dir (0: parent->child). */
static void send_n(struct link *l, int dir, const uint8_t *src, size_t len, uint64_t count)
{
	struct iovec v[BATCH];
	unsigned i, k;
	int r;

	for (i = 0; i < BATCH; i++)
		v[i] = (struct iovec){(void *)src, len};
	while (count) {
		if (!l->ch) {
			write_all(l->fd[dir][1], src, len);
			count--;
			continue;
		}
		k = count < BATCH ? (unsigned)count : BATCH;
		r = uv_chan_send_wait(l->ch, (unsigned)dir, v, k, -1);
		if (r != (int)k)
			die("send", r < 0 ? -r : EIO);
		count -= k;
	}
}

static void recv_n(struct link *l, int dir, uint8_t *dest, size_t len, uint64_t count)
{
	struct uv_chan_buf b[BATCH];
	size_t off = 0;
	unsigned i;
	int r;

	while (count) {
		if (!l->ch) {
			read_all(l->fd[dir][0], dest + off, len);
			off = off + len > DEST - len ? 0 : off + len;
			count--;
			continue;
		}
		for (i = 0; i < BATCH; i++) {
			b[i] = (struct uv_chan_buf){dest + off, len, 0};
			off = off + len > DEST - len ? 0 : off + len;
		}
		r = uv_chan_recv_wait(l->ch, (unsigned)dir, b,
		                      count < BATCH ? (unsigned)count : BATCH, -1);
		if (r <= 0)
			die("receive", r < 0 ? -r : EIO);
		count -= (uint64_t)r;
	}
}

/* Messages per second, parent receiving from a child pinned to the other core. */
static double throughput(enum kind kind, size_t len, uint64_t count, uint8_t *src, uint8_t *dest)
{
	struct link l;
	double t0, t;
	uint8_t go = 1;
	int status, sync[2];
	pid_t pid;

	link_open(&l, kind);
	if (pipe(sync))
		die("pipe", errno);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		pin(1);
		link_side(&l, 1);
		read_all(sync[0], &go, 1);
		send_n(&l, 1, src, len, count);
		link_close(&l);
		_exit(0);
	}
	pin(0);
	link_side(&l, 0);
	t0 = now_s();
	write_all(sync[1], &go, 1);
	recv_n(&l, 1, dest, len, count);
	t = now_s() - t0;
	waitpid(pid, &status, 0);
	link_close(&l);
	close(sync[0]);
	close(sync[1]);
	return (double)count / t;
}

static double memcpy_rate(size_t len, uint64_t count, const uint8_t *src, uint8_t *dest)
{
	size_t off = 0;
	uint64_t i;
	double t0;

	pin(0);
	t0 = now_s();
	for (i = 0; i < count; i++) {
		memcpy(dest + off, src, len);
		__asm__ volatile("" : : "r"(dest) : "memory"); /* keep every copy */
		off = off + len > DEST - len ? 0 : off + len;
	}
	return (double)count / (now_s() - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Round trip of a 64-byte message: parent sends, child echoes. Median and 99th percentile, us. */
static void round_trip(enum kind kind, double *p50, double *p99)
{
	static double rtt[RTT_ROUNDS];
	uint8_t msg[64] = {0}, back[64];
	struct link l;
	double t;
	unsigned i;
	int status;
	pid_t pid;

	link_open(&l, kind);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		pin(1);
		link_side(&l, 1);
		for (i = 0; i < RTT_ROUNDS + 100; i++) {
			recv_n(&l, 0, back, sizeof(back), 1);
			send_n(&l, 1, back, sizeof(back), 1);
		}
		link_close(&l);
		_exit(0);
	}
	pin(0);
	link_side(&l, 0);
	for (i = 0; i < RTT_ROUNDS + 100; i++) {
		t = now_s();
		send_n(&l, 0, msg, sizeof(msg), 1);
		recv_n(&l, 1, back, sizeof(back), 1);
		if (i >= 100) /* warm-up rounds are not counted */
			rtt[i - 100] = (now_s() - t) * 1e6;
	}
	waitpid(pid, &status, 0);
	link_close(&l);
	qsort(rtt, RTT_ROUNDS, sizeof(rtt[0]), cmp_double);
	*p50 = rtt[RTT_ROUNDS / 2];
	*p99 = rtt[RTT_ROUNDS * 99 / 100];
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {64, 4096, 65536};
	static const char *const names[] = {"channel", "channel+spin", "unix", "pipe"};
	double scale = argc > 1 ? atof(argv[1]) : 1.0, rate, mc, p50, p99;
	uint8_t *src = malloc(65536), *dest = malloc(DEST);
	unsigned s, k;

	if (!src || !dest || scale <= 0)
		die("setup", ENOMEM);
	memset(src, 0x5a, 65536);
	memset(dest, 0, DEST);
	printf("throughput: receiver on CPU 0, sender on CPU 1; channel ring %u x %u B, batches of "
	       "%u; sockets and pipes one message per system call\n",
	       SLOTS, SLOT, BATCH);
	printf("%-8s %-13s %14s %10s %10s\n", "size", "transport", "msgs/s", "GB/s", "x memcpy");
	for (s = 0; s < 3; s++) {
		uint64_t count =
		    (uint64_t)(scale *
		               (4e9 / (double)sizes[s] < 1e7 ? 4e9 / (double)sizes[s] : 1e7));
		mc = memcpy_rate(sizes[s], count, src, dest);
		printf("%-8zu %-13s %14.0f %10.2f %10.2f\n", sizes[s], "memcpy", mc,
		       mc * (double)sizes[s] / 1e9, 1.0);
		for (k = 0; k < 4; k++) {
			rate = throughput((enum kind)k, sizes[s],
			                  k >= K_UNIX ? count / 4 + 1 : count, src, dest);
			printf("%-8zu %-13s %14.0f %10.2f %10.2f\n", sizes[s], names[k], rate,
			       rate * (double)sizes[s] / 1e9, rate / mc);
		}
	}
	printf("\nround trip of a 64-byte message (us), %u rounds, processes on CPUs 0 and 1\n",
	       RTT_ROUNDS);
	printf("%-13s %10s %10s\n", "transport", "p50", "p99");
	for (k = 0; k < 4; k++) {
		round_trip((enum kind)k, &p50, &p99);
		printf("%-13s %10.2f %10.2f\n", names[k], p50, p99);
	}
	free(src);
	free(dest);
	return 0;
}
