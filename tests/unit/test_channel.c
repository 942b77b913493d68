/* SPDX-License-Identifier: MIT */
/* Memory channel rings: what the two endpoints rely on, and what a hostile peer cannot do. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "channel.h"

struct fix {
	uint8_t *mem;
	size_t size;
	struct uv_chan_config cfg;
	int efd[2];
	struct uv_chan *ch[2];
};

/* One queue A->B, one B->A, both slot_size x slot_count. */
static void fix_config(struct fix *f, uint32_t slot_size, uint32_t slot_count)
{
	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.part_id[0] = 7;
	f->cfg.part_id[1] = 9;
	f->cfg.n_queues = 2;
	f->cfg.q[0] = (struct uv_chan_qconfig){slot_size, slot_count, UV_CHAN_SIDE_A};
	f->cfg.q[1] = (struct uv_chan_qconfig){slot_size, slot_count, UV_CHAN_SIDE_B};
}

static int fix_attach(struct fix *f, uint32_t side, char *err, size_t errlen)
{
	struct uv_chan_endpoint ep = {
	    .side = side,
	    .part_id = f->cfg.part_id[side],
	    .wait_fd = f->efd[side],
	    .signal_fd = f->efd[!side],
	};

	return uv_chan_attach(&f->ch[side], f->mem, f->size, &ep, err, errlen);
}

static void fix_format(struct fix *f)
{
	f->size = uv_chan_region_size(&f->cfg);
	assert_true(f->size > 0);
	f->mem = aligned_alloc(4096, (f->size + 4095) & ~(size_t)4095);
	assert_non_null(f->mem);
	assert_int_equal(uv_chan_format(f->mem, f->size, &f->cfg), 0);
	f->efd[0] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->efd[1] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(f->efd[0] >= 0 && f->efd[1] >= 0);
}

static void fix_open(struct fix *f, uint32_t slot_size, uint32_t slot_count)
{
	memset(f, 0, sizeof(*f));
	fix_config(f, slot_size, slot_count);
	fix_format(f);
	assert_int_equal(fix_attach(f, UV_CHAN_SIDE_A, NULL, 0), 0);
	assert_int_equal(fix_attach(f, UV_CHAN_SIDE_B, NULL, 0), 0);
}

static void fix_close(struct fix *f)
{
	uv_chan_detach(f->ch[0]);
	uv_chan_detach(f->ch[1]);
	close(f->efd[0]);
	close(f->efd[1]);
	free(f->mem);
}

static struct uv_chan_qctl *qctl(struct fix *f, unsigned q)
{
	const struct uv_chan_hdr *h = (const void *)f->mem;

	return (struct uv_chan_qctl *)(f->mem + h->q[q].offset);
}

static uint8_t *slots(struct fix *f, unsigned q)
{
	return (uint8_t *)qctl(f, q) + sizeof(struct uv_chan_qctl);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

static int send1(struct uv_chan *ch, const void *p, size_t n)
{
	struct iovec v = {(void *)p, n};

	return uv_chan_send(ch, 0, &v, 1);
}

static int recv1(struct uv_chan *ch, void *p, size_t cap, size_t *len)
{
	struct uv_chan_buf b = {p, cap, 0};
	int r = uv_chan_recv(ch, 0, &b, 1);

	*len = b.len;
	return r;
}

static void test_empty_and_one(void **state)
{
	struct fix f;
	char out[64];
	size_t len;

	fix_open(&f, 64, 16);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), -EAGAIN);
	assert_int_equal(send1(f.ch[0], "hello", 5), 1);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), -EAGAIN);
	/* Each side sends only on the queue it produces. */
	assert_int_equal(send1(f.ch[1], "x", 1), -EINVAL);
	assert_int_equal(uv_chan_send(f.ch[0], 0, NULL, 0), -EINVAL);
	assert_int_equal(uv_chan_is_sender(f.ch[1], 1), 1);
	assert_int_equal(uv_chan_is_sender(f.ch[1], 0), 0);
	fix_close(&f);
}

static void test_zero_length(void **state)
{
	struct fix f;
	char out[8];
	size_t len = 99;

	fix_open(&f, 16, 4);
	assert_int_equal(send1(f.ch[0], NULL, 0), 1);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
	assert_int_equal(len, 0);
	fix_close(&f);
}

/* A ring of 16 x 64-byte slots; messages of 0 to 3 slots, sent in bursts of 1-4 so they start
 * at every slot and wrap the ring's end in every way, each byte checked in order. */
static void test_wrap_around(void **state)
{
	struct fix f;
	uint8_t in[4][200], out[200];
	size_t n[4], len;
	unsigned i, k, burst;

	fix_open(&f, 64, 16);
	for (i = 0; i < 5000; i++) {
		burst = 1 + i % 4;
		for (k = 0; k < burst; k++) {
			n[k] = (i * 37 + k * 11) % sizeof(in[k]);
			fill(in[k], n[k], i + k);
			assert_int_equal(send1(f.ch[0], in[k], n[k]), 1);
		}
		for (k = 0; k < burst; k++) {
			assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
			assert_int_equal(len, n[k]);
			assert_memory_equal(out, in[k], n[k]);
		}
		assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), -EAGAIN);
	}
	fix_close(&f);
}

/* Free-running 32-bit indices: crossing 2^32 changes nothing. */
static void test_index_overflow(void **state)
{
	struct fix f;
	uint8_t in[100], out[100];
	size_t len;
	unsigned i;

	memset(&f, 0, sizeof(f));
	fix_config(&f, 32, 8);
	fix_format(&f);
	atomic_store(&qctl(&f, 0)->head, 0xfffffff0u);
	atomic_store(&qctl(&f, 0)->tail, 0xfffffff0u);
	assert_int_equal(fix_attach(&f, UV_CHAN_SIDE_A, NULL, 0), 0);
	assert_int_equal(fix_attach(&f, UV_CHAN_SIDE_B, NULL, 0), 0);
	for (i = 0; i < 100; i++) {
		size_t n = i % 60;
		fill(in, n, i);
		assert_int_equal(send1(f.ch[0], in, n), 1);
		assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
		assert_int_equal(len, n);
		assert_memory_equal(out, in, n);
	}
	assert_true(atomic_load(&qctl(&f, 0)->tail) < 0x1000);
	fix_close(&f);
}

static void test_full_backpressure(void **state)
{
	struct fix f;
	char out[64];
	size_t len;
	unsigned n = 0;

	fix_open(&f, 64, 16);
	/* One slot per message (56 payload bytes + 8 header): exactly 16 fit. */
	while (send1(f.ch[0], "0123456789", 10) == 1)
		n++;
	assert_int_equal(n, 16);
	assert_int_equal(send1(f.ch[0], "x", 1), -EAGAIN);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
	assert_int_equal(send1(f.ch[0], "x", 1), 1);
	assert_int_equal(send1(f.ch[0], "x", 1), -EAGAIN);
	fix_close(&f);
}

static void test_batch(void **state)
{
	struct fix f;
	struct iovec v[20];
	struct uv_chan_buf b[20];
	char data[20][40], out[20][40];
	unsigned i, got = 0;
	int r;

	fix_open(&f, 64, 16);
	for (i = 0; i < 20; i++) {
		memset(data[i], 'a' + (int)i, sizeof(data[i]));
		v[i] = (struct iovec){data[i], 10 + i};
		b[i] = (struct uv_chan_buf){out[i], sizeof(out[i]), 0};
	}
	/* Only 16 fit: the call takes what fits, in order, and publishes them all. */
	assert_int_equal(uv_chan_send(f.ch[0], 0, v, 20), 16);
	assert_int_equal(atomic_load(&qctl(&f, 0)->tail), 16);
	assert_int_equal(uv_chan_recv(f.ch[1], 0, b, 5), 5);
	assert_int_equal(atomic_load(&qctl(&f, 0)->head), 5);
	assert_int_equal(uv_chan_send(f.ch[0], 0, v + 16, 4), 4);
	while (got < 15) {
		r = uv_chan_recv(f.ch[1], 0, b + 5 + got, 20);
		assert_true(r > 0);
		got += (unsigned)r;
	}
	for (i = 0; i < 20; i++) {
		assert_int_equal(b[i].len, 10 + i);
		assert_memory_equal(out[i], data[i], b[i].len);
	}
	fix_close(&f);
}

/* 64 KiB messages through 64-byte and 4 KiB slots: messages span slots and wrap the ring. */
static void multi_slot(uint32_t slot_size, uint32_t slot_count)
{
	struct fix f;
	size_t n = 64 * 1024, len;
	uint8_t *in = malloc(n), *out = malloc(n);
	unsigned i;

	assert_non_null(in);
	assert_non_null(out);
	fix_open(&f, slot_size, slot_count);
	for (i = 0; i < 7; i++) {
		fill(in, n - i * 1000, i);
		assert_int_equal(send1(f.ch[0], in, n - i * 1000), 1);
		assert_int_equal(recv1(f.ch[1], out, n, &len), 1);
		assert_int_equal(len, n - i * 1000);
		assert_memory_equal(out, in, len);
	}
	/* Too small a buffer: told the size, the message stays. */
	assert_int_equal(send1(f.ch[0], in, 5000), 1);
	assert_int_equal(recv1(f.ch[1], out, 100, &len), -EMSGSIZE);
	assert_int_equal(len, 5000);
	assert_int_equal(recv1(f.ch[1], out, n, &len), 1);
	assert_int_equal(len, 5000);
	/* Larger than the ring can ever hold. */
	assert_int_equal(send1(f.ch[0], in, uv_chan_max_msg(f.ch[0], 0) + 1), -EMSGSIZE);
	fix_close(&f);
	free(in);
	free(out);
}

static void test_multi_slot(void **state)
{
	multi_slot(64, 2048); /* 128 KiB ring */
	multi_slot(4096, 32); /* 128 KiB ring */
}

/* A corruption of one header field and what attach must say about it. */
struct corruption {
	const char *what;
	size_t off;
	uint64_t val;
	int width;
	int err;
	const char *needle;
};

#define HOFF(f) offsetof(struct uv_chan_hdr, f)
#define QOFF(i, f)                                                                                 \
	(HOFF(q) + (i) * sizeof(struct uv_chan_qdesc) + offsetof(struct uv_chan_qdesc, f))

static const struct corruption corruptions[] = {
    {"magic", HOFF(magic), 0x12345678, 4, -EPROTO, "magic"},
    {"version", HOFF(version), 2, 4, -EPROTONOSUPPORT, "version"},
    {"hdr_size", HOFF(hdr_size), 320, 4, -EPROTO, "hdr_size"},
    {"features", HOFF(features), 1u << 31, 4, -EOPNOTSUPP, "feature"},
    {"total_size big", HOFF(total_size), 1ull << 40, 8, -EPROTO, "total_size"},
    {"total_size small", HOFF(total_size), 100, 8, -EPROTO, "total_size"},
    {"total_size cuts q1", HOFF(total_size), 4096, 8, -EPROTO, "outside"},
    {"same partitions", HOFF(part_id) + 4, 7, 4, -EPROTO, "part_id"},
    {"n_queues 0", HOFF(n_queues), 0, 4, -EPROTO, "n_queues"},
    {"n_queues 9", HOFF(n_queues), 9, 4, -EPROTO, "n_queues"},
    {"n_queues 3", HOFF(n_queues), 3, 4, -EPROTO, "queue 2"},
    {"reserved", HOFF(reserved) + 8, 1, 4, -EPROTO, "reserved"},
    {"offset unaligned", QOFF(1, offset), 4096 + 8, 8, -EPROTO, "aligned"},
    {"offset in header", QOFF(0, offset), 64, 8, -EPROTO, "header"},
    {"offset outside", QOFF(1, offset), 1ull << 50, 8, -EPROTO, "outside"},
    {"offset wraps", QOFF(1, offset), ~0ull - 63, 8, -EPROTO, "outside"},
    {"overlap", QOFF(1, offset), 384 + 64, 8, -EPROTO, "overlap"},
    {"slot_size 0", QOFF(0, slot_size), 0, 4, -EPROTO, "slot_size"},
    {"slot_size 8", QOFF(0, slot_size), 8, 4, -EPROTO, "slot_size"},
    {"slot_size 48", QOFF(0, slot_size), 48, 4, -EPROTO, "slot_size"},
    {"slot_size huge", QOFF(0, slot_size), 1u << 31, 4, -EPROTO, "slot_size"},
    {"slot_count 0", QOFF(0, slot_count), 0, 4, -EPROTO, "slot_count"},
    {"slot_count 1", QOFF(0, slot_count), 1, 4, -EPROTO, "slot_count"},
    {"slot_count 15", QOFF(0, slot_count), 15, 4, -EPROTO, "slot_count"},
    {"slot_count 2^31", QOFF(0, slot_count), 1u << 31, 4, -EPROTO, "slot_count"},
    {"ring too big", QOFF(0, slot_size), (1ull << 56) | (1u << 20), 8, -EPROTO, "ring larger"},
    {"ring past end", QOFF(1, slot_count), 1u << 10, 4, -EPROTO, "outside"},
    {"producer", QOFF(0, producer), 2, 4, -EPROTO, "producer"},
    {"qdesc flags", QOFF(0, flags), 1, 4, -EPROTO, "reserved"},
    {"qdesc reserved", QOFF(1, reserved), 1, 8, -EPROTO, "reserved"},
    {"unused qdesc", QOFF(5, slot_size), 64, 4, -EPROTO, "unused"},
};

static void test_attach_validation(void **state)
{
	struct fix f;
	char err[200];
	unsigned i;

	memset(&f, 0, sizeof(f));
	fix_config(&f, 64, 64); /* queue 0 at 384, queue 1 at 384 + 128 + 4096 */
	fix_format(&f);
	for (i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]); i++) {
		const struct corruption *c = &corruptions[i];
		struct uv_chan *keep = (struct uv_chan *)&f;

		assert_int_equal(uv_chan_format(f.mem, f.size, &f.cfg), 0);
		memcpy(f.mem + c->off, &c->val, (size_t)c->width);
		err[0] = 0;
		f.ch[1] = keep;
		if (fix_attach(&f, UV_CHAN_SIDE_B, err, sizeof(err)) != c->err)
			fail_msg("%s: expected %d, got \"%s\"", c->what, c->err, err);
		if (!strstr(err, c->needle))
			fail_msg("%s: error \"%s\" does not mention \"%s\"", c->what, err,
			         c->needle);
		assert_ptr_equal(f.ch[1], keep); /* output untouched on failure */
	}
	/* Not this partition's channel. */
	assert_int_equal(uv_chan_format(f.mem, f.size, &f.cfg), 0);
	f.cfg.part_id[1] = 8;
	assert_int_equal(fix_attach(&f, UV_CHAN_SIDE_B, err, sizeof(err)), -EACCES);
	f.cfg.part_id[1] = 9;
	/* A region shorter than the header says. */
	f.size -= 64;
	assert_int_equal(fix_attach(&f, UV_CHAN_SIDE_B, err, sizeof(err)), -EPROTO);
	f.size += 64;
	/* Indices that already disagree at attach. */
	atomic_store(&qctl(&f, 0)->tail, 65);
	assert_int_equal(fix_attach(&f, UV_CHAN_SIDE_B, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "tail"));
	/* A state word that is no state. */
	assert_int_equal(uv_chan_format(f.mem, f.size, &f.cfg), 0);
	atomic_store(&((struct uv_chan_state *)(f.mem + sizeof(struct uv_chan_hdr)))->side[0], 77);
	assert_int_equal(fix_attach(&f, UV_CHAN_SIDE_B, err, sizeof(err)), -EPROTO);
	/* And the pristine header attaches. */
	assert_int_equal(uv_chan_format(f.mem, f.size, &f.cfg), 0);
	assert_int_equal(fix_attach(&f, UV_CHAN_SIDE_B, err, sizeof(err)), 0);
	f.ch[0] = NULL;
	fix_close(&f);
}

/* The geometry is fixed at attach: rewriting the shared header afterwards changes nothing. */
static void test_geometry_fixed(void **state)
{
	struct fix f;
	struct uv_chan_hdr *h;
	char out[64];
	size_t len;

	fix_open(&f, 64, 16);
	h = (struct uv_chan_hdr *)f.mem;
	h->q[0].slot_count = 1u << 20;
	h->q[0].slot_size = 16;
	h->q[0].offset = 1ull << 40;
	assert_int_equal(send1(f.ch[0], "still here", 10), 1);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
	assert_memory_equal(out, "still here", 10);
	fix_close(&f);
}

static void expect_broken(struct fix *f, unsigned side)
{
	struct uv_chan_state *st = (void *)(f->mem + sizeof(struct uv_chan_hdr));

	assert_int_equal(uv_chan_error(f->ch[side]), -EPROTO);
	assert_int_equal(atomic_load(&st->side[side]), UV_CHAN_ST_ERROR);
}

static void test_garbage_tail(void **state)
{
	struct fix f;
	char out[64];
	size_t len;

	fix_open(&f, 64, 16);
	atomic_store(&qctl(&f, 0)->tail, 17); /* more than a ring ahead of head 0 */
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), -EPROTO);
	expect_broken(&f, 1);
	/* Sticky, and the peer learns it: its next send fails. */
	atomic_store(&qctl(&f, 0)->tail, 0);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), -EPROTO);
	assert_int_equal(send1(f.ch[0], "x", 1), -EPIPE);
	fix_close(&f);

	fix_open(&f, 64, 16);
	assert_int_equal(send1(f.ch[0], "abc", 3), 1);
	assert_int_equal(send1(f.ch[0], "abc", 3), 1);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
	atomic_store(&qctl(&f, 0)->tail, 0); /* tail moved backwards */
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), -EPROTO);
	fix_close(&f);
}

static void test_garbage_message(void **state)
{
	struct fix f;
	struct uv_chan_msg_hdr *mh;
	char out[64];
	size_t len;

	fix_open(&f, 64, 16);
	mh = (struct uv_chan_msg_hdr *)slots(&f, 0);
	/* A length larger than the ring. */
	assert_int_equal(send1(f.ch[0], "abc", 3), 1);
	mh->len = 0xffffffffu;
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), -EPROTO);
	fix_close(&f);

	fix_open(&f, 64, 16);
	mh = (struct uv_chan_msg_hdr *)slots(&f, 0);
	/* A length within the ring but past the published tail. */
	assert_int_equal(send1(f.ch[0], "abc", 3), 1);
	mh->len = 200;
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), -EPROTO);
	fix_close(&f);

	fix_open(&f, 64, 16);
	mh = (struct uv_chan_msg_hdr *)slots(&f, 0);
	assert_int_equal(send1(f.ch[0], "abc", 3), 1);
	mh->flags = UV_CHAN_MSG_SKIP; /* a skip marker never has a length */
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), -EPROTO);
	expect_broken(&f, 1);
	fix_close(&f);
}

static void test_garbage_head(void **state)
{
	struct fix f;

	fix_open(&f, 64, 16);
	assert_int_equal(send1(f.ch[0], "abc", 3), 1);
	atomic_store(&qctl(&f, 0)->head, 5); /* past our tail of 1 */
	assert_int_equal(send1(f.ch[0], "abc", 3), -EPROTO);
	expect_broken(&f, 0);
	fix_close(&f);

	fix_open(&f, 64, 16);
	assert_int_equal(send1(f.ch[0], "abc", 3), 1);
	assert_int_equal(send1(f.ch[0], "abc", 3), 1);
	atomic_store(&qctl(&f, 0)->head, 1);
	assert_int_equal(send1(f.ch[0], "abc", 3), 1);
	atomic_store(&qctl(&f, 0)->head, 0); /* backwards */
	assert_int_equal(send1(f.ch[0], "abc", 3), -EPROTO);
	fix_close(&f);

	fix_open(&f, 64, 16);
	atomic_store(&((struct uv_chan_state *)(f.mem + sizeof(struct uv_chan_hdr)))->side[1], 9);
	assert_int_equal(send1(f.ch[0], "abc", 3), -EPROTO);
	fix_close(&f);
}

static int readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

static void test_doorbell(void **state)
{
	struct fix f;
	struct uv_chan_stats st;
	char out[64];
	size_t len;
	unsigned i;

	fix_open(&f, 64, 16);
	/* Fast path: nobody sleeps, nobody rings. */
	for (i = 0; i < 100; i++) {
		assert_int_equal(send1(f.ch[0], "x", 1), 1);
		assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
	}
	uv_chan_get_stats(f.ch[0], &st);
	assert_int_equal(st.signals, 0);
	assert_int_equal(st.sent, 100);
	assert_false(readable(f.efd[1]));
	/* The receiver arms: the next send rings once, later sends do not. */
	assert_int_equal(uv_chan_arm_recv(f.ch[1], 0), 0);
	assert_int_equal(send1(f.ch[0], "x", 1), 1);
	assert_int_equal(send1(f.ch[0], "y", 1), 1);
	uv_chan_get_stats(f.ch[0], &st);
	assert_int_equal(st.signals, 1);
	assert_true(readable(uv_chan_fd(f.ch[1])));
	uv_chan_ack(f.ch[1]);
	assert_false(readable(f.efd[1]));
	/* Something is queued: arming says so instead of letting the caller sleep. */
	assert_int_equal(uv_chan_arm_recv(f.ch[1], 0), 1);
	/* The sender arms on a full ring; a receive rings it. */
	while (send1(f.ch[0], "z", 1) == 1)
		;
	assert_int_equal(uv_chan_arm_send(f.ch[0], 0, 1), 0);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
	assert_true(readable(f.efd[0]));
	assert_int_equal(uv_chan_arm_send(f.ch[0], 0, 1), 1);
	fix_close(&f);
}

static void test_close_and_timeout(void **state)
{
	struct fix f;
	struct uv_chan_buf b;
	char out[64];
	size_t len;

	fix_open(&f, 64, 16);
	b = (struct uv_chan_buf){out, sizeof(out), 0};
	assert_int_equal(uv_chan_recv_wait(f.ch[1], 0, &b, 1, 20), -ETIMEDOUT);
	assert_int_equal(send1(f.ch[0], "last", 4), 1);
	uv_chan_detach(f.ch[0]);
	f.ch[0] = NULL;
	/* What was sent before the close still arrives, then the close shows. */
	assert_int_equal(uv_chan_recv_wait(f.ch[1], 0, &b, 1, 1000), 1);
	assert_memory_equal(out, "last", 4);
	assert_int_equal(uv_chan_recv_wait(f.ch[1], 0, &b, 1, 1000), -EPIPE);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), -EPIPE);
	{
		struct iovec v = {"x", 1};
		assert_int_equal(uv_chan_send(f.ch[1], 1, &v, 1), -EPIPE);
	}
	fix_close(&f);
}

/* In place: reserves one message of n bytes on queue 0, fills it from seed, commits. */
static int zc_send1(struct fix *f, size_t n, uint32_t seed)
{
	void *p = NULL;
	int r = uv_chan_send_reserve(f->ch[0], 0, n, &p);

	if (r)
		return r;
	assert_non_null(p);
	fill(p, n, seed);
	return uv_chan_send_commit(f->ch[0], 0);
}

/* Peeks the next message on queue 0, checks it is one piece equal to fill(n, seed), releases. */
static void zc_expect(struct fix *f, size_t n, uint32_t seed)
{
	struct uv_chan_view v;
	uint8_t want[300];

	assert_true(n <= sizeof(want));
	fill(want, n, seed);
	assert_int_equal(uv_chan_recv_peek(f->ch[1], 0, &v), 0);
	assert_int_equal(v.len, n);
	assert_int_equal(v.data_len, n);
	assert_null(v.wrap);
	assert_memory_equal(v.data, want, n);
	assert_int_equal(uv_chan_recv_release(f->ch[1], 0), 0);
}

/* Reserved messages of 0 to 4 slots in bursts: every one lands in one piece, the skip markers in
 * front of those that would cross the ring's end are never seen as messages, bytes in order. */
static void test_zc_wrap(void **state)
{
	struct fix f;
	size_t n[4];
	unsigned i, k, burst;
	struct uv_chan_view v;

	fix_open(&f, 64, 16);
	for (i = 0; i < 5000; i++) {
		burst = 1 + i % 3;
		for (k = 0; k < burst; k++) {
			n[k] = (i * 37 + k * 11) % 250;
			assert_int_equal(zc_send1(&f, n[k], i + k), 0);
		}
		for (k = 0; k < burst; k++)
			zc_expect(&f, n[k], i + k);
		assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), -EAGAIN);
	}
	fix_close(&f);
}

/* Copying and in-place calls mix on one queue: a message the copying send wrapped is shown in
 * two pieces; a reserved stream with skip markers is read by the copying receive. */
static void test_zc_mixed(void **state)
{
	struct fix f;
	struct uv_chan_view v;
	uint8_t in[200], out[200], big[1024];
	size_t len;

	fix_open(&f, 64, 16);
	fill(big, sizeof(big), 2);
	assert_int_equal(send1(f.ch[0], big, 56 + 64 * 13), 1); /* 14 slots: tail at 14 */
	assert_int_equal(recv1(f.ch[1], big, sizeof(big), &len), 1);
	fill(in, 150, 3);
	assert_int_equal(send1(f.ch[0], in, 150), 1); /* 3 slots from 14: wraps */
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), 0);
	assert_int_equal(v.len, 150);
	assert_int_equal(v.data_len, 2 * 64 - 8);
	assert_ptr_equal(v.wrap, slots(&f, 0));
	assert_int_equal(v.wrap_len, 150 - v.data_len);
	memcpy(out, v.data, v.data_len);
	memcpy(out + v.data_len, v.wrap, v.wrap_len);
	assert_memory_equal(out, in, 150);
	/* Peeking twice shows the same message; a copying receive takes it instead of release. */
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), 0);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
	assert_int_equal(len, 150);
	assert_int_equal(uv_chan_recv_release(f.ch[1], 0), -EINVAL);
	/* Tail at 17 (slot 1): 120 bytes take slots 1-2, read by copy. Then 900 bytes need 15 slots
	 * from slot 3: 13 slots of padding are published, and the message waits for the consumer to
	 * step over them (a peek that finds only padding says -EAGAIN). */
	assert_int_equal(zc_send1(&f, 120, 5), 0);
	assert_int_equal(recv1(f.ch[1], out, sizeof(out), &len), 1);
	assert_int_equal(len, 120);
	fill(in, 120, 5);
	assert_memory_equal(out, in, 120);
	assert_int_equal(zc_send1(&f, 900, 6), -EAGAIN);
	assert_int_equal(atomic_load(&qctl(&f, 0)->tail), 32);
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), -EAGAIN);
	assert_int_equal(atomic_load(&qctl(&f, 0)->head), 32);
	assert_int_equal(zc_send1(&f, 900, 6), 0);
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), 0);
	assert_int_equal(v.len, 900);
	assert_ptr_equal(v.data, slots(&f, 0) + 8);
	assert_null(v.wrap);
	assert_int_equal(uv_chan_recv_release(f.ch[1], 0), 0);
	fix_close(&f);
}

static void test_zc_full(void **state)
{
	struct fix f;
	struct uv_chan_view v;
	void *p = &f, *keep;
	unsigned n = 0;

	fix_open(&f, 64, 16);
	/* Larger than the ring: never. */
	assert_int_equal(uv_chan_send_reserve(f.ch[0], 0, 16 * 64 - 7, &p), -EMSGSIZE);
	assert_ptr_equal(p, &f);
	/* One slot per message: exactly 16 fit, then backpressure; *p untouched. */
	while (zc_send1(&f, 40, n) == 0)
		n++;
	assert_int_equal(n, 16);
	assert_int_equal(uv_chan_send_reserve(f.ch[0], 0, 1, &p), -EAGAIN);
	assert_ptr_equal(p, &f);
	assert_int_equal(uv_chan_send_commit(f.ch[0], 0), -EINVAL); /* nothing reserved */
	zc_expect(&f, 40, 0);
	assert_int_equal(zc_send1(&f, 40, 16), 0);
	for (n = 1; n <= 16; n++)
		zc_expect(&f, 40, n);
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), -EAGAIN);
	/* The largest message fits an empty ring even when tail is mid-ring: it skips to slot 0,
	 * and waits (-EAGAIN) while the slots it needs are still held by the consumer. */
	assert_int_equal(zc_send1(&f, 40, 1), 0);
	assert_int_equal(uv_chan_send_reserve(f.ch[0], 0, 16 * 64 - 8, &p), -EAGAIN);
	zc_expect(&f, 40, 1);
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), -EAGAIN); /* only the skip marker */
	assert_int_equal(uv_chan_send_reserve(f.ch[0], 0, 16 * 64 - 8, &keep), 0);
	assert_ptr_equal(keep, slots(&f, 0) + 8);
	assert_int_equal(uv_chan_send_commit(f.ch[0], 0), 0);
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), 0);
	assert_int_equal(v.len, 16 * 64 - 8);
	/* Release without a peek, on the wrong end, of no queue. */
	assert_int_equal(uv_chan_recv_release(f.ch[1], 0), 0);
	assert_int_equal(uv_chan_recv_release(f.ch[1], 0), -EINVAL);
	assert_int_equal(uv_chan_recv_release(f.ch[0], 0), -EINVAL);
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 5, &v), -EINVAL);
	assert_int_equal(uv_chan_send_reserve(f.ch[1], 0, 1, &p), -EINVAL);
	fix_close(&f);
}

/* A hostile producer rewrites what a peek reads: each lie breaks the channel, nothing is shown. */
static void test_zc_hostile(void **state)
{
	struct fix f;
	struct uv_chan_view v = {0};
	struct uv_chan_msg_hdr *mh;

	fix_open(&f, 64, 16);
	mh = (struct uv_chan_msg_hdr *)slots(&f, 0);
	assert_int_equal(zc_send1(&f, 10, 1), 0);
	mh->len = 200; /* runs past the published tail */
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), -EPROTO);
	assert_null(v.data);
	expect_broken(&f, 1);
	assert_int_equal(uv_chan_recv_release(f.ch[1], 0), -EINVAL);
	fix_close(&f);

	fix_open(&f, 64, 16);
	mh = (struct uv_chan_msg_hdr *)slots(&f, 0);
	assert_int_equal(zc_send1(&f, 10, 1), 0);
	mh->len = 0xfffffff0u; /* larger than the ring */
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), -EPROTO);
	fix_close(&f);

	fix_open(&f, 64, 16);
	mh = (struct uv_chan_msg_hdr *)slots(&f, 0);
	assert_int_equal(zc_send1(&f, 10, 1), 0);
	*mh = (struct uv_chan_msg_hdr){0, UV_CHAN_MSG_SKIP}; /* 16 slots of padding, 1 published */
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), -EPROTO);
	fix_close(&f);

	/* A peeked message the peer lengthens before release: release frees what was shown. */
	fix_open(&f, 64, 16);
	mh = (struct uv_chan_msg_hdr *)slots(&f, 0);
	assert_int_equal(zc_send1(&f, 10, 1), 0);
	assert_int_equal(uv_chan_recv_peek(f.ch[1], 0, &v), 0);
	mh->len = 500;
	assert_int_equal(uv_chan_recv_release(f.ch[1], 0), 0);
	assert_int_equal(atomic_load(&qctl(&f, 0)->head), 1);
	fix_close(&f);
}

static void test_format_refuses(void **state)
{
	struct uv_chan_config cfg;
	uint8_t *mem = aligned_alloc(64, 8192);

	assert_non_null(mem);
	memset(&cfg, 0, sizeof(cfg));
	cfg.part_id[1] = 1;
	cfg.n_queues = 1;
	cfg.q[0] = (struct uv_chan_qconfig){64, 48, 0};
	assert_int_equal(uv_chan_region_size(&cfg), 0);
	cfg.q[0].slot_count = 16;
	assert_int_equal(uv_chan_region_size(&cfg), 384 + 128 + 1024);
	assert_int_equal(uv_chan_format(mem, 1024, &cfg), -EINVAL);
	assert_int_equal(uv_chan_format(mem + 8, 4096, &cfg), -EINVAL);
	cfg.part_id[1] = 0;
	assert_int_equal(uv_chan_format(mem, 4096, &cfg), -EINVAL);
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_and_one),     cmocka_unit_test(test_zero_length),
	    cmocka_unit_test(test_wrap_around),       cmocka_unit_test(test_index_overflow),
	    cmocka_unit_test(test_full_backpressure), cmocka_unit_test(test_batch),
	    cmocka_unit_test(test_multi_slot),        cmocka_unit_test(test_attach_validation),
	    cmocka_unit_test(test_geometry_fixed),    cmocka_unit_test(test_garbage_tail),
	    cmocka_unit_test(test_garbage_message),   cmocka_unit_test(test_garbage_head),
	    cmocka_unit_test(test_doorbell),          cmocka_unit_test(test_close_and_timeout),
	    cmocka_unit_test(test_format_refuses),    cmocka_unit_test(test_zc_wrap),
	    cmocka_unit_test(test_zc_mixed),          cmocka_unit_test(test_zc_full),
	    cmocka_unit_test(test_zc_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
