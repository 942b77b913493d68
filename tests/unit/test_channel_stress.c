/* SPDX-License-Identifier: MIT */
/*
 * Two processes over one shared memfd: 10 million messages with sequence numbers, lengths and
 * checksums that depend on the sequence, sent in batches and received with the blocking eventfd
 * waits. Every message must arrive once, in order, intact.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"

#define N_MSGS 10000000ull
#define BATCH 32
#define PAYLOAD_MAX 40
#define WAIT_MS 10000 /* a stall this long is a lost wakeup, not load */

struct msg {
	uint64_t seq;
	uint32_t sum;
	uint8_t payload[PAYLOAD_MAX];
};

static size_t payload_len(uint64_t seq)
{
	return (size_t)((seq * 2654435761u) >> 7) % (PAYLOAD_MAX + 1);
}

static uint32_t checksum(const struct msg *m, size_t n)
{
	uint32_t h = 2166136261u ^ (uint32_t)m->seq ^ (uint32_t)(m->seq >> 32);
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ m->payload[i]) * 16777619u;
	return h;
}

static size_t make_msg(struct msg *m, uint64_t seq)
{
	size_t n = payload_len(seq), i;

	m->seq = seq;
	for (i = 0; i < n; i++)
		m->payload[i] = (uint8_t)(seq + i * 13);
	m->sum = checksum(m, n);
	return offsetof(struct msg, payload) + n;
}

/* The child: side A, producer. Exit status 0 when all were sent. */
static int produce(void *mem, size_t size, int efd_a, int efd_b)
{
	struct uv_chan_endpoint ep = {UV_CHAN_SIDE_A, 1, efd_a, efd_b};
	struct uv_chan *ch = NULL;
	struct msg m[BATCH];
	struct iovec v[BATCH];
	uint64_t seq = 0;
	unsigned i;
	int r;

	if (uv_chan_attach(&ch, mem, size, &ep, NULL, 0))
		return 2;
	while (seq < N_MSGS) {
		for (i = 0; i < BATCH && seq + i < N_MSGS; i++)
			v[i] = (struct iovec){&m[i], make_msg(&m[i], seq + i)};
		r = uv_chan_send_wait(ch, 0, v, i, WAIT_MS);
		if (r != (int)i)
			return 3;
		seq += i;
	}
	uv_chan_detach(ch);
	return 0;
}

/* The parent: side B, consumer. Returns the number of good messages, stops at the first bad. */
static uint64_t consume(struct uv_chan *ch, char *why, size_t whylen)
{
	struct msg m[BATCH];
	struct uv_chan_buf b[BATCH];
	uint64_t seq = 0;
	size_t n;
	int r, i;

	for (i = 0; i < BATCH; i++)
		b[i] = (struct uv_chan_buf){&m[i], sizeof(m[i]), 0};
	while (seq < N_MSGS) {
		r = uv_chan_recv_wait(ch, 0, b, BATCH, WAIT_MS);
		if (r < 0) {
			snprintf(why, whylen, "receive: %s", strerror(-r));
			return seq;
		}
		for (i = 0; i < r; i++, seq++) {
			n = payload_len(seq);
			if (m[i].seq != seq || b[i].len != offsetof(struct msg, payload) + n ||
			    m[i].sum != checksum(&m[i], n)) {
				snprintf(why, whylen, "message %llu is wrong (seq %llu, len %zu)",
				         (unsigned long long)seq, (unsigned long long)m[i].seq,
				         b[i].len);
				return seq;
			}
		}
	}
	return seq;
}

static void test_two_process_stress(void **state)
{
	struct uv_chan_config cfg = {.part_id = {1, 2}, .n_queues = 1};
	struct uv_chan_endpoint ep;
	struct uv_chan *ch = NULL;
	struct uv_chan_buf tail;
	struct uv_chan_stats st;
	char why[160] = "";
	void *mem;
	size_t size;
	uint64_t got;
	int fd, efd_a, efd_b, status;
	pid_t pid;

	cfg.q[0] = (struct uv_chan_qconfig){64, 4096, UV_CHAN_SIDE_A};
	size = uv_chan_region_size(&cfg);
	fd = memfd_create("chan-stress", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(uv_chan_format(mem, size, &cfg), 0);
	efd_a = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	efd_b = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(efd_a >= 0 && efd_b >= 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(produce(mem, size, efd_a, efd_b));

	ep = (struct uv_chan_endpoint){UV_CHAN_SIDE_B, 2, efd_b, efd_a};
	assert_int_equal(uv_chan_attach(&ch, mem, size, &ep, NULL, 0), 0);
	got = consume(ch, why, sizeof(why));
	if (got != N_MSGS)
		fail_msg("%llu of %llu messages good: %s", (unsigned long long)got, N_MSGS, why);
	/* Nothing more, and the producer's close shows. */
	tail = (struct uv_chan_buf){why, sizeof(why), 0};
	assert_int_equal(uv_chan_recv_wait(ch, 0, &tail, 1, WAIT_MS), -EPIPE);
	uv_chan_get_stats(ch, &st);
	print_message("consumer slept %llu times, rang the producer %llu times\n",
	              (unsigned long long)st.sleeps, (unsigned long long)st.signals);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	uv_chan_detach(ch);
	munmap(mem, size);
	close(fd);
	close(efd_a);
	close(efd_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_process_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
