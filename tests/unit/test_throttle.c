/* SPDX-License-Identifier: MIT */
/* An exported disk's I/O limit (io/throttle.c, io/blk_throttle.c), on a fake clock: the burst a
 * rested disk may take, the steady rate, requests larger than a second's budget, that a request
 * told to wait may go when told, and the event-loop side: a held queue is kicked, not failed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* clang-format off: cmocka needs the four above first */
#include <cmocka.h>
/* clang-format on */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../io/blk_throttle.c"
#include "../../io/throttle.c"

#define SEC 1000000000ull
#define T0 (1000 * SEC) /* a monotonic clock is far from zero */

/* A guest that always has a request ready: it waits exactly as long as the bucket says and
 * counts what it got through in [start, start + span). Returns the bytes moved. */
static uint64_t greedy(struct throttle *t, uint64_t start, uint64_t span, uint64_t req_bytes,
                       unsigned *reqs)
{
	uint64_t now = start, bytes = 0, w;

	*reqs = 0;
	while (now < start + span) {
		if ((w = throttle_wait(t, now))) {
			now += w;
			continue;
		}
		throttle_charge(t, now, req_bytes);
		bytes += req_bytes;
		(*reqs)++;
	}
	return bytes;
}

/* At one instant a rested disk takes a tenth of a second's budget, and one request more. */
static void burst_is_a_tenth_of_a_second(void **state)
{
	struct throttle t;
	unsigned n = 0;

	(void)state;
	throttle_init(&t, 100, 0);
	while (throttle_wait(&t, T0) == 0 && n < 1000) {
		throttle_charge(&t, T0, 4096);
		n++;
	}
	assert_int_equal(n, 100 * THROTTLE_BURST_NS / SEC + 1);
	/* The next one is due when the first tenth of a second has been paid for. */
	assert_int_equal(throttle_wait(&t, T0), SEC / 100);
}

/* Idle time earns no more than the burst: after 100 s of rest, the same burst as after none. */
static void idle_earns_no_more_than_the_burst(void **state)
{
	struct throttle t;
	unsigned n = 0;
	uint64_t now = T0;

	(void)state;
	throttle_init(&t, 50, 0);
	throttle_charge(&t, now, 0);
	now += 100 * SEC;
	while (throttle_wait(&t, now) == 0 && n < 1000) {
		throttle_charge(&t, now, 0);
		n++;
	}
	assert_int_equal(n, 50 * THROTTLE_BURST_NS / SEC + 1);
}

/* Over 10 s a greedy guest gets the rate, plus no more than the burst. */
static void steady_rate_in_requests(void **state)
{
	struct throttle t;
	unsigned n;

	(void)state;
	throttle_init(&t, 200, 0);
	greedy(&t, T0, 10 * SEC, 512, &n);
	assert_in_range(n, 2000, 2000 + 200 * THROTTLE_BURST_NS / SEC + 1);
}

static void steady_rate_in_bytes(void **state)
{
	struct throttle t;
	unsigned n;
	uint64_t rate = 1 << 20, got;

	(void)state;
	throttle_init(&t, 0, rate);
	got = greedy(&t, T0, 10 * SEC, 64 << 10, &n);
	assert_in_range(got, 10 * rate, 10 * rate + rate * THROTTLE_BURST_NS / SEC + (64 << 10));
}

/* Both limits at once: whichever is tighter for the requests at hand decides. */
static void the_tighter_limit_decides(void **state)
{
	struct throttle t;
	unsigned n;
	uint64_t got;

	(void)state;
	throttle_init(&t, 1000, 1 << 20);         /* 1000 requests or 1 MiB a second */
	got = greedy(&t, T0, 10 * SEC, 4096, &n); /* 256 requests make a MiB: bytes bind */
	assert_in_range(got, 10 << 20, (10 << 20) + (1 << 20) / 10 + 4096);
	throttle_init(&t, 100, 1 << 20);
	greedy(&t, T0, 10 * SEC, 512, &n); /* 100 requests are 50 KiB: requests bind */
	assert_in_range(n, 1000, 1000 + 11);
}

/* A request bigger than a second's budget is not refused nor stuck: it goes when its turn
 * comes, and its followers pay for it, so the rate still holds. */
static void requests_larger_than_a_second_progress(void **state)
{
	struct throttle t;
	unsigned n;
	uint64_t got, w;

	(void)state;
	throttle_init(&t, 0, 1000); /* 1000 bytes a second, requests of 4096 */
	assert_int_equal(throttle_wait(&t, T0), 0);
	throttle_charge(&t, T0, 4096);
	w = throttle_wait(&t, T0);
	/* 4.096 s to pay, less the burst's tenth of a second. */
	assert_int_equal(w, 4096 * SEC / 1000 - THROTTLE_BURST_NS);
	assert_int_equal(throttle_wait(&t, T0 + w), 0);
	throttle_init(&t, 0, 1000);
	got = greedy(&t, T0, 100 * SEC, 4096, &n);
	assert_true(n >= 24); /* 100 s at 1000 B/s: 24.4 requests' worth, and the first is free */
	assert_true(got <= 100 * 1000 + 4096 + 100);
}

/* Whatever happened before, waiting as long as told is enough: nobody waits forever. */
static void told_to_wait_then_let_through(void **state)
{
	struct throttle t;
	uint64_t now = T0, w;
	unsigned seed = 7;

	(void)state;
	throttle_init(&t, 300, 3 << 20);
	for (int i = 0; i < 20000; i++) {
		uint64_t bytes = (uint64_t)(rand_r(&seed) % 256) * 4096;

		now += (uint64_t)(rand_r(&seed) % 3) * 1000000; /* 0-2 ms between requests */
		if ((w = throttle_wait(&t, now))) {
			assert_true(w <=
			            bytes * SEC / (3 << 20) + SEC); /* bounded by one request */
			now += w;
			assert_int_equal(throttle_wait(&t, now), 0);
		}
		throttle_charge(&t, now, bytes);
	}
}

static void no_limit_never_waits(void **state)
{
	struct throttle t;

	(void)state;
	throttle_init(&t, 0, 0);
	assert_false(throttle_limited(&t));
	for (int i = 0; i < 10000; i++) {
		throttle_charge(&t, T0, 1 << 20);
		assert_int_equal(throttle_wait(&t, T0), 0);
	}
}

/* The event-loop side: the server is not needed to see the timer kick a held queue. */
int vhu_server_watch(struct vhu_server *s, int fd, struct vhu_watch *w)
{
	(void)s;
	(void)fd;
	(void)w;
	return 0;
}

static void held_queue_is_kicked_not_failed(void **state)
{
	struct blk_throttle *t = NULL;
	struct vhu_queue q = {0}, other = {0};
	struct vhu_client *me = (struct vhu_client *)&q, *them = (struct vhu_client *)&other;
	struct vq_buf buf = {.len = 512 + BLK_OVERHEAD};
	struct vq_chain c = {.n = 1, .buf = &buf};
	struct pollfd p;
	eventfd_t v;
	unsigned n = 0;

	(void)state;
	assert_int_equal(blk_throttle_new(NULL, &(struct uv_disk_limit){0}, &t), 0);
	assert_null(t); /* no limit, no throttle: and NULL never holds */
	assert_false(blk_throttle_hold(NULL, &q, BLK_DIR_READ));
	assert_int_equal(blk_throttle_new(NULL, &(struct uv_disk_limit){.iops = 20}, &t), 0);
	q.kick_fd = eventfd(0, EFD_NONBLOCK);
	other.kick_fd = eventfd(0, EFD_NONBLOCK);
	q.client = me;
	other.client = them;
	while (!blk_throttle_hold(t, &q, BLK_DIR_READ) && n < 100) {
		blk_throttle_charge(t, &c, BLK_DIR_READ);
		n++;
	}
	assert_int_equal(n, 20 * THROTTLE_BURST_NS / SEC + 1);
	assert_true(blk_throttle_hold(t, &other, BLK_DIR_WRITE));
	assert_int_equal(t->nwaiting, 2);
	blk_throttle_forget(t, them); /* that client left: it is not kicked */
	assert_int_equal(t->nwaiting, 1);
	/* Nothing yet: the next request is due in 50 ms. */
	assert_int_equal(eventfd_read(q.kick_fd, &v), -1);
	p = (struct pollfd){.fd = t->timer_fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	t->watch.ready(&t->watch);
	assert_int_equal(eventfd_read(q.kick_fd, &v), 0);
	assert_int_equal(eventfd_read(other.kick_fd, &v), -1);
	assert_false(blk_throttle_hold(t, &q, BLK_DIR_READ)); /* and now it may go */
	assert_int_equal(t->delayed, 2);
	close(q.kick_fd);
	close(other.kick_fd);
	blk_throttle_free(t);
}

/* A live change carries the debt over in requests: 40 requests owed beyond the burst at 100 a
 * second are owed at 200 a second too, so they take 200 ms instead of 400, and changing back is
 * exact. */
static void rate_change_carries_the_debt_in_requests(void **state)
{
	struct throttle t;
	unsigned n;

	(void)state;
	throttle_init(&t, 100, 0);
	for (int i = 0; i < 60; i++)
		throttle_charge(&t, T0, 4096); /* 600 ms of requests */
	assert_int_equal(throttle_wait(&t, T0 + SEC / 10), 400 * SEC / 1000);
	throttle_set(&t, T0 + SEC / 10, 200, 0);
	assert_int_equal(throttle_wait(&t, T0 + SEC / 10), 200 * SEC / 1000);
	throttle_set(&t, T0 + SEC / 10, 100, 0);
	assert_int_equal(throttle_wait(&t, T0 + SEC / 10), 400 * SEC / 1000);
	/* Bytes the same way: 0.9 s owed at 1 MiB/s are 225 ms at 4 MiB/s. */
	throttle_init(&t, 0, 1 << 20);
	throttle_charge(&t, T0, 1 << 20);
	throttle_set(&t, T0, 0, 4 << 20);
	assert_int_equal(throttle_wait(&t, T0), (SEC - THROTTLE_BURST_NS) / 4);
	/* A rested bucket keeps its tokens: 10 requests at 100 a second, not 40 at 400. */
	throttle_init(&t, 100, 0);
	throttle_set(&t, T0, 400, 0);
	for (n = 0; throttle_wait(&t, T0) == 0 && n < 1000; n++)
		throttle_charge(&t, T0, 4096);
	assert_int_equal(n, 100 * THROTTLE_BURST_NS / SEC + 1);
}

/* A guest reading flat out while the limit goes up, down and up again gets, in each interval,
 * exactly what that interval's rate allows (the first also the burst of a rested disk): nothing
 * is lost at a change, nothing granted twice. */
static void rate_changes_mid_flight_lose_and_double_nothing(void **state)
{
	static const uint64_t rates[] = {100, 400, 50, 1000, 100};
	const uint64_t first = 100 * THROTTLE_BURST_NS / SEC + 1;
	uint64_t now = T0, want = first;
	unsigned reqs, total = 0;
	struct throttle t;

	(void)state;
	throttle_init(&t, rates[0], 0);
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		if (i)
			throttle_set(&t, now, rates[i], 0);
		greedy(&t, now, 2 * SEC, 4096, &reqs);
		total += reqs;
		want += rates[i] * 2;
		if (reqs + 2 < rates[i] * 2 + (i ? 0 : first) || reqs > rates[i] * 2 + first + 2)
			fail_msg("%u requests in interval %zu at %llu a second", reqs, i,
			         (unsigned long long)rates[i]);
		now += 2 * SEC;
	}
	if (total + 2 < want || total > want + 2)
		fail_msg("%u requests through, the rates allow %llu", total,
		         (unsigned long long)want);
}

/* Lifting a limit forgets what was owed; limiting again starts from a rested bucket. */
static void lifted_then_limited_again(void **state)
{
	struct throttle t;
	unsigned n = 0;

	(void)state;
	throttle_init(&t, 10, 1 << 20);
	for (int i = 0; i < 50; i++)
		throttle_charge(&t, T0, 1 << 20);
	assert_true(throttle_wait(&t, T0) > 0);
	throttle_set(&t, T0, 0, 0);
	assert_false(throttle_limited(&t));
	assert_int_equal(throttle_wait(&t, T0), 0);
	throttle_set(&t, T0, 100, 0);
	while (throttle_wait(&t, T0) == 0 && n < 1000) {
		throttle_charge(&t, T0, 4096);
		n++;
	}
	assert_int_equal(n, 100 * THROTTLE_BURST_NS / SEC + 1);
}

/* The event-loop side of a change: a held queue is kicked at once (to go, or to hold again under
 * the new limits), a disk without a limit gets a throttle, and lifting the limit frees it. */
static void live_change_kicks_held_queues(void **state)
{
	struct blk_throttle *t = NULL;
	struct vhu_queue q = {0};
	struct vq_buf buf = {.len = 512 + BLK_OVERHEAD};
	struct vq_chain c = {.n = 1, .buf = &buf};
	eventfd_t v;

	(void)state;
	assert_int_equal(blk_throttle_set(NULL, &t, &(struct uv_disk_limit){.iops = 5}), 0);
	assert_non_null(t);
	q.kick_fd = eventfd(0, EFD_NONBLOCK);
	q.client = (struct vhu_client *)&q;
	while (!blk_throttle_hold(t, &q, BLK_DIR_READ))
		blk_throttle_charge(t, &c, BLK_DIR_READ);
	assert_int_equal(t->nwaiting, 1);
	/* Raised: the held queue is kicked now, not when the old limit would have let it. */
	assert_int_equal(blk_throttle_set(NULL, &t, &(struct uv_disk_limit){.iops = 5000}), 0);
	assert_int_equal(t->nwaiting, 0);
	assert_int_equal(eventfd_read(q.kick_fd, &v), 0);
	/* What it owed (one request beyond the burst at 5 a second) is a fifth of a millisecond at
	 * 5000: not the 200 ms the old limit would have held it for. */
	assert_true(throttle_wait(&t->tb[BLK_DIR_NONE], now_ns()) <= SEC / 5000);
	/* Lowered again: what was let through is still owed, so it holds once more. */
	for (int i = 0; i < 600; i++)
		blk_throttle_charge(t, &c, BLK_DIR_READ);
	assert_int_equal(blk_throttle_set(NULL, &t, &(struct uv_disk_limit){.iops = 5}), 0);
	assert_true(blk_throttle_hold(t, &q, BLK_DIR_READ));
	/* Lifted: kicked, and no throttle any more (NULL never holds). */
	assert_int_equal(blk_throttle_set(NULL, &t, &(struct uv_disk_limit){.iops = 0}), 0);
	assert_null(t);
	assert_int_equal(eventfd_read(q.kick_fd, &v), 0);
	assert_false(blk_throttle_hold(t, &q, BLK_DIR_READ));
	close(q.kick_fd);
}

/* How many requests of dir go through at once on a rested disk before one is held. */
static unsigned until_held(struct blk_throttle *t, struct vhu_queue *q, enum blk_dir dir,
                           const struct vq_chain *c, unsigned cap)
{
	unsigned n = 0;

	while (n < cap && !blk_throttle_hold(t, q, dir)) {
		blk_throttle_charge(t, c, dir);
		n++;
	}
	return n;
}

struct dir_case {
	struct uv_disk_limit lim;
	unsigned reads, writes; /* through at once before held, 1000: never held */
	unsigned other;         /* flushes (no direction) after both, likewise */
};

/* Every combination of buckets (claims 19, 22): a request waits when any bucket that applies
 * says so (the total, its own direction's), and only those. 20 requests a second allow 3 at
 * once (the burst of a rested disk is a tenth of a second, and the request that crosses it). */
static void each_bucket_holds_only_its_direction(void **state)
{
	static const struct dir_case cases[] = {
	    {{.write_iops = 20}, 1000, 3, 1000},               /* writes limited, reads free */
	    {{.read_iops = 20}, 3, 1000, 1000},                /* and the reverse */
	    {{.read_iops = 20, .write_iops = 20}, 3, 3, 1000}, /* each its own bucket */
	    {{.iops = 20}, 3, 0, 0},                           /* the total: all together */
	    {{.write_bytes_per_sec = 20 * 512}, 1000, 3, 1000},
	    {{.read_bytes_per_sec = 20 * 512}, 3, 1000, 1000},
	    {{.iops = 20, .write_bytes_per_sec = 20 * 512}, 3, 0, 0},
	    {{.read_iops = 20, .bytes_per_sec = 20 * 512}, 3, 0, 0},
	};
	struct vq_buf buf = {.len = 512 + BLK_OVERHEAD};
	struct vq_chain c = {.n = 1, .buf = &buf};
	struct vhu_queue q = {0};

	(void)state;
	q.kick_fd = eventfd(0, EFD_NONBLOCK);
	q.client = (struct vhu_client *)&q;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dir_case *k = &cases[i];
		struct blk_throttle *t = NULL;
		unsigned r, w, o;

		assert_int_equal(blk_throttle_new(NULL, &k->lim, &t), 0);
		assert_non_null(t);
		r = until_held(t, &q, BLK_DIR_READ, &c, 1000);
		w = until_held(t, &q, BLK_DIR_WRITE, &c, 1000);
		o = until_held(t, &q, BLK_DIR_NONE, &c, 1000);
		if (r != k->reads || w != k->writes || o != k->other)
			fail_msg(
			    "case %zu: %u reads, %u writes, %u flushes at once; want %u, %u, %u", i,
			    r, w, o, k->reads, k->writes, k->other);
		blk_throttle_free(t);
	}
	close(q.kick_fd);
}

/* A writer flat out at 100 writes a second while a reader goes as fast as it likes: over two
 * seconds the writer gets its 200 (and the burst), the reader is never held. */
static void writer_limited_while_reads_run_free(void **state)
{
	struct blk_throttle *t = NULL;
	struct uv_disk_limit lim = {.write_iops = 100};
	unsigned reads = 0, writes = 0;

	(void)state;
	assert_int_equal(blk_throttle_new(NULL, &lim, &t), 0);
	for (uint64_t now = T0; now < T0 + 2 * SEC; now += SEC / 1000) {
		for (int i = 0; i < 5; i++) {
			assert_int_equal(throttle_wait(&t->tb[BLK_DIR_READ], now), 0);
			assert_int_equal(throttle_wait(&t->tb[BLK_DIR_NONE], now), 0);
			throttle_charge(&t->tb[BLK_DIR_NONE], now, 4096);
			throttle_charge(&t->tb[BLK_DIR_READ], now, 4096);
			reads++;
		}
		if (throttle_wait(&t->tb[BLK_DIR_WRITE], now) == 0) {
			throttle_charge(&t->tb[BLK_DIR_NONE], now, 4096);
			throttle_charge(&t->tb[BLK_DIR_WRITE], now, 4096);
			writes++;
		}
	}
	assert_int_equal(reads, 10000);
	if (writes < 200 || writes > 200 + 100 * THROTTLE_BURST_NS / SEC + 2)
		fail_msg("%u writes in 2 s at 100 a second", writes);
	blk_throttle_free(t);
}

/* A live change from a total to per-direction limits (and back) keeps each bucket's state: the
 * total's debt is forgotten once the total is lifted, a direction newly limited starts rested. */
static void change_between_total_and_directions(void **state)
{
	struct vq_buf buf = {.len = 512 + BLK_OVERHEAD};
	struct vq_chain c = {.n = 1, .buf = &buf};
	struct blk_throttle *t = NULL;
	struct vhu_queue q = {0};

	(void)state;
	q.kick_fd = eventfd(0, EFD_NONBLOCK);
	q.client = (struct vhu_client *)&q;
	assert_int_equal(blk_throttle_set(NULL, &t, &(struct uv_disk_limit){.iops = 20}), 0);
	assert_int_equal(until_held(t, &q, BLK_DIR_WRITE, &c, 1000), 3);
	assert_int_equal(until_held(t, &q, BLK_DIR_READ, &c, 1000), 0);
	/* Writes limited apart now: reads go at once, writes start from a rested bucket. */
	assert_int_equal(blk_throttle_set(NULL, &t, &(struct uv_disk_limit){.write_iops = 20}), 0);
	assert_int_equal(until_held(t, &q, BLK_DIR_READ, &c, 50), 50);
	assert_int_equal(until_held(t, &q, BLK_DIR_WRITE, &c, 1000), 3);
	/* Raised: the write bucket's debt (one request) carries over in requests, so it is owed
	 * for a two-thousandth of a second, not the old twentieth; reads still owe nothing. */
	assert_int_equal(blk_throttle_set(NULL, &t, &(struct uv_disk_limit){.write_iops = 2000}),
	                 0);
	assert_true(throttle_wait(&t->tb[BLK_DIR_WRITE], now_ns()) <= SEC / 2000);
	assert_false(blk_throttle_hold(t, &q, BLK_DIR_READ));
	assert_int_equal(blk_throttle_set(NULL, &t, &(struct uv_disk_limit){0}), 0);
	assert_null(t);
	close(q.kick_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(burst_is_a_tenth_of_a_second),
	    cmocka_unit_test(idle_earns_no_more_than_the_burst),
	    cmocka_unit_test(steady_rate_in_requests),
	    cmocka_unit_test(steady_rate_in_bytes),
	    cmocka_unit_test(the_tighter_limit_decides),
	    cmocka_unit_test(requests_larger_than_a_second_progress),
	    cmocka_unit_test(told_to_wait_then_let_through),
	    cmocka_unit_test(no_limit_never_waits),
	    cmocka_unit_test(held_queue_is_kicked_not_failed),
	    cmocka_unit_test(rate_change_carries_the_debt_in_requests),
	    cmocka_unit_test(rate_changes_mid_flight_lose_and_double_nothing),
	    cmocka_unit_test(lifted_then_limited_again),
	    cmocka_unit_test(live_change_kicks_held_queues),
	    cmocka_unit_test(each_bucket_holds_only_its_direction),
	    cmocka_unit_test(writer_limited_while_reads_run_free),
	    cmocka_unit_test(change_between_total_and_directions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
