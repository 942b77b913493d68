/* SPDX-License-Identifier: MIT */
/*
 * Memory channel throughput and round trip between two processes, beside memcpy of the same
 * size (one copy on one core, in cache), a cross-core memcpy (one core writes a buffer, the other
 * copies it out: the physical limit of moving bytes between two cores), a Unix-domain socket pair
 * and a pipe, all in one run. Throughput runs pin the sender and the receiver to different cores.
 * In every throughput row the sender copies the payload from one source buffer once and the
 * receiver copies every message into a rolling 1 MiB destination: the same work per byte.
 *
 *   bench_channel [scale]   scale (default 1.0) multiplies every message count
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "bench_util.h"

#ifndef SLOT
#define SLOT 64u
#endif
#ifndef SLOTS
#define SLOTS 16384u /* 1 MiB ring */
#endif
#define DEST (1u << 20) /* receivers copy into a rolling 1 MiB buffer, as memcpy does */
#define BATCH 32u
#define RTT_ROUNDS 20000u

enum kind { K_CHAN, K_CHAN_SPIN, K_CHAN_ZC, K_UNIX, K_PIPE, K_XCORE };

#define SPIN_TRIES 20000u /* in-place rows retry this often before sleeping on the doorbell */
#define XBUF_MAX 64u      /* cross-core memcpy: buffers in flight (a 1 MiB ring of them) */

/* Cross-core memcpy: buffers of one message each, each with a full/empty flag on its own line;
 * a side that found its buffer not ready spins as long as the channel rows do, then sleeps on
 * the flag (futex), and the other side wakes it only when it said so: the channel's policy. */
struct xflag {
	_Atomic uint32_t full;
	_Atomic uint32_t waiting[2]; /* a side sleeps until full == i: reader [1], writer [0] */
	uint8_t pad[52];
};

/* Both ends of one transport; each process uses its own side. */
struct link {
	enum kind kind;
	void *mem;
	size_t size;
	int efd[2];
	int fd[2][2]; /* [direction][0 read, 1 write]: 0 = parent->child, 1 = child->parent */
	struct uv_chan *ch;
};

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
	if (kind == K_XCORE) {
		l->size = DEST + XBUF_MAX * sizeof(struct xflag);
		l->mem =
		    mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (l->mem == MAP_FAILED)
			die("mmap", errno);
		l->efd[0] = l->efd[1] = -1;
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

	if (l->kind != K_CHAN && l->kind != K_CHAN_SPIN && l->kind != K_CHAN_ZC)
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
		if (l->efd[0] >= 0)
			close(l->efd[0]);
		if (l->efd[1] >= 0)
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

/* An in-place call returned -EAGAIN: retry for a while, then sleep on the doorbell once armed.
 * arm is the outcome of uv_chan_arm_recv/uv_chan_arm_send (0: armed, sleep is safe). */
static void zc_wait(struct link *l, unsigned *tries, int armed)
{
	uint64_t v;

	if (++*tries < SPIN_TRIES) {
		__builtin_ia32_pause();
		return;
	}
	*tries = 0;
	if (armed < 0)
		die("arm", -armed);
	if (armed == 0 && read(uv_chan_fd(l->ch), &v, sizeof(v)) < 0 && errno != EINTR)
		die("doorbell", errno);
}

/* Producer writes each payload straight into the ring: one copy, from src. */
static void zc_send_n(struct link *l, int dir, const uint8_t *src, size_t len, uint64_t count)
{
	unsigned tries = 0;
	void *p;
	int r;

	while (count) {
		r = uv_chan_send_reserve(l->ch, (unsigned)dir, len, &p);
		if (r == -EAGAIN) {
			zc_wait(l, &tries,
			        tries + 1 < SPIN_TRIES
			            ? 1
			            : uv_chan_arm_send(l->ch, (unsigned)dir, len));
			continue;
		}
		if (r)
			die("reserve", -r);
		memcpy(p, src, len);
		if (uv_chan_send_commit(l->ch, (unsigned)dir))
			die("commit", EINVAL);
		count--;
	}
}

/* Consumer copies each message out of the ring where it lies: one copy, into dest. */
static void zc_recv_n(struct link *l, int dir, uint8_t *dest, size_t len, uint64_t count)
{
	struct uv_chan_view v;
	unsigned tries = 0;
	size_t off = 0;
	int r;

	while (count) {
		r = uv_chan_recv_peek(l->ch, (unsigned)dir, &v);
		if (r == -EAGAIN) {
			zc_wait(l, &tries,
			        tries + 1 < SPIN_TRIES ? 1
			                               : uv_chan_arm_recv(l->ch, (unsigned)dir));
			continue;
		}
		if (r || v.len != len)
			die("peek", r ? -r : EIO);
		memcpy(dest + off, v.data, v.data_len);
		if (v.wrap_len)
			memcpy(dest + off + v.data_len, v.wrap, v.wrap_len);
		off = off + len > DEST - len ? 0 : off + len;
		uv_chan_recv_release(l->ch, (unsigned)dir);
		count--;
	}
}

static unsigned xbufs(size_t len)
{
	size_t n = DEST / len;

	return n > XBUF_MAX ? XBUF_MAX : (unsigned)n;
}

static struct xflag *xflags(struct link *l) { return (struct xflag *)((uint8_t *)l->mem + DEST); }

static void xwait(struct xflag *f, uint32_t until)
{
	unsigned tries = 0;

	while (atomic_load_explicit(&f->full, memory_order_acquire) != until) {
		if (++tries < SPIN_TRIES) {
			__builtin_ia32_pause();
			continue;
		}
		tries = 0;
		atomic_store_explicit(&f->waiting[until], 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load_explicit(&f->full, memory_order_relaxed) != until)
			syscall(SYS_futex, &f->full, FUTEX_WAIT, !until, NULL, NULL, 0);
		atomic_store_explicit(&f->waiting[until], 0, memory_order_relaxed);
	}
}

static void xset(struct xflag *f, uint32_t v)
{
	atomic_store_explicit(&f->full, v, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&f->waiting[v], memory_order_relaxed))
		syscall(SYS_futex, &f->full, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Cross-core memcpy, writer: fills buffer i once the reader has emptied it. */
static void xcore_send_n(struct link *l, const uint8_t *src, size_t len, uint64_t count)
{
	struct xflag *f = xflags(l);
	unsigned n = xbufs(len), b = 0;

	while (count--) {
		xwait(&f[b], 0);
		memcpy((uint8_t *)l->mem + (size_t)b * len, src, len);
		xset(&f[b], 1);
		b = b + 1 == n ? 0 : b + 1;
	}
}

/* Cross-core memcpy, reader: copies buffer i out once full, then hands it back. */
static void xcore_recv_n(struct link *l, uint8_t *dest, size_t len, uint64_t count)
{
	struct xflag *f = xflags(l);
	unsigned n = xbufs(len), b = 0;
	size_t off = 0;

	while (count--) {
		xwait(&f[b], 1);
		memcpy(dest + off, (uint8_t *)l->mem + (size_t)b * len, len);
		xset(&f[b], 0);
		off = off + len > DEST - len ? 0 : off + len;
		b = b + 1 == n ? 0 : b + 1;
	}
}

/* Sends count messages of len bytes in direction dir (0: parent->child). */
static void send_n(struct link *l, int dir, const uint8_t *src, size_t len, uint64_t count)
{
	struct iovec v[BATCH];
	unsigned i, k;
	int r;

	if (l->kind == K_CHAN_ZC)
		return zc_send_n(l, dir, src, len, count);
	if (l->kind == K_XCORE)
		return xcore_send_n(l, src, len, count);
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

	if (l->kind == K_CHAN_ZC)
		return zc_recv_n(l, dir, dest, len, count);
	if (l->kind == K_XCORE)
		return xcore_recv_n(l, dest, len, count);
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
		(void)bench_pin(1);
		link_side(&l, 1);
		read_all(sync[0], &go, 1);
		send_n(&l, 1, src, len, count);
		link_close(&l);
		_exit(0);
	}
	(void)bench_pin(0);
	link_side(&l, 0);
	t0 = bench_now_s();
	write_all(sync[1], &go, 1);
	recv_n(&l, 1, dest, len, count);
	t = bench_now_s() - t0;
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

	(void)bench_pin(0);
	t0 = bench_now_s();
	for (i = 0; i < count; i++) {
		memcpy(dest + off, src, len);
		__asm__ volatile("" : : "r"(dest) : "memory"); /* keep every copy */
		off = off + len > DEST - len ? 0 : off + len;
	}
	return (double)count / (bench_now_s() - t0);
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
		(void)bench_pin(1);
		link_side(&l, 1);
		for (i = 0; i < RTT_ROUNDS + 100; i++) {
			recv_n(&l, 0, back, sizeof(back), 1);
			send_n(&l, 1, back, sizeof(back), 1);
		}
		link_close(&l);
		_exit(0);
	}
	(void)bench_pin(0);
	link_side(&l, 0);
	for (i = 0; i < RTT_ROUNDS + 100; i++) {
		t = bench_now_s();
		send_n(&l, 0, msg, sizeof(msg), 1);
		recv_n(&l, 1, back, sizeof(back), 1);
		if (i >= 100) /* warm-up rounds are not counted */
			rtt[i - 100] = (bench_now_s() - t) * 1e6;
	}
	waitpid(pid, &status, 0);
	link_close(&l);
	qsort(rtt, RTT_ROUNDS, sizeof(rtt[0]), cmp_double);
	*p50 = rtt[RTT_ROUNDS / 2];
	*p99 = rtt[RTT_ROUNDS * 99 / 100];
}

static void row(size_t size, const char *name, double rate, double mc, double xc)
{
	printf("%-8zu %-13s %14.0f %10.2f %10.2f %10.2f\n", size, name, rate,
	       rate * (double)size / 1e9, rate / mc, rate / xc);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {64, 4096, 65536};
	static const char *const names[] = {"channel", "channel+spin", "channel+zc",
	                                    "unix",    "pipe",         "xcore-memcpy"};
	static const enum kind rows[] = {K_CHAN, K_CHAN_SPIN, K_CHAN_ZC, K_UNIX, K_PIPE};
	static const enum kind rtts[] = {K_CHAN, K_CHAN_SPIN, K_UNIX, K_PIPE};
	double scale = argc > 1 ? atof(argv[1]) : 1.0, rate, mc, xc, p50, p99;
	uint8_t *src = malloc(65536), *dest = malloc(DEST);
	unsigned s, k;

	if (!src || !dest || scale <= 0)
		die("setup", ENOMEM);
	memset(src, 0x5a, 65536);
	memset(dest, 0, DEST);
	printf("throughput: receiver on CPU 0, sender on CPU 1; channel ring %u x %u B, batches of "
	       "%u (zc: one message per call); sockets and pipes one message per system call\n",
	       SLOTS, SLOT, BATCH);
	printf("%-8s %-13s %14s %10s %10s %10s\n", "size", "transport", "msgs/s", "GB/s",
	       "x memcpy", "x xcore");
	for (s = 0; s < 3; s++) {
		uint64_t count =
		    (uint64_t)(scale *
		               (4e9 / (double)sizes[s] < 1e7 ? 4e9 / (double)sizes[s] : 1e7));
		mc = memcpy_rate(sizes[s], count, src, dest);
		xc = throughput(K_XCORE, sizes[s], count, src, dest);
		row(sizes[s], "memcpy", mc, mc, xc);
		row(sizes[s], names[K_XCORE], xc, mc, xc);
		for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
			rate = throughput(rows[k], sizes[s],
			                  rows[k] >= K_UNIX ? count / 4 + 1 : count, src, dest);
			row(sizes[s], names[rows[k]], rate, mc, xc);
		}
	}
	printf("\nround trip of a 64-byte message (us), %u rounds, processes on CPUs 0 and 1\n",
	       RTT_ROUNDS);
	printf("%-13s %10s %10s\n", "transport", "p50", "p99");
	for (k = 0; k < sizeof(rtts) / sizeof(rtts[0]); k++) {
		round_trip(rtts[k], &p50, &p99);
		printf("%-13s %10.2f %10.2f\n", names[rtts[k]], p50, p99);
	}
	free(src);
	free(dest);
	return 0;
}
