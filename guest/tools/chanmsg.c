/* chanmsg: exchange numbered, checksummed messages over a memory channel (claims 15, 16).
 *
 * Inside a guest the channel is an ivshmem-plain PCI device (1af4:1110) whose BAR 2 is the
 * channel's memory; chanmsg finds it in /sys/bus/pci/devices, maps resource2 and attaches with
 * the channel library (lib/channel*.c, compiled into this one static file). On the host the same
 * binary maps the channel's file instead (--file), standing in for a system partition, and formats
 * the file as the ultravisor will later do.
 *
 *   chanmsg format FILE PART_A PART_B        two queues (A->B, B->A), 64 B x 256 slots each
 *   chanmsg [--file FILE] SIDE ME PEER send|recv|xchg N [TIMEOUT_S]
 *        SIDE is a or b; ME and PEER the partition ids the channel header must name (this picks
 *        the device when a guest has several). send N / recv N: one direction; xchg N: both at
 *        once. Prints "CHANMSG OK sent=S received=R usec=T" or "CHANMSG ERROR <why>".
 *   chanmsg scan HEX                         looks for bytes in every ivshmem BAR:
 *                                            "CHANMSG FOUND dev <bdf>" or "CHANMSG NOTFOUND"
 *
 * Doorbells: none. ivshmem-plain has no interrupt, so both sides poll the ring indices with a
 * short sleep when idle (docs/channels.md says why). Messages: seq, length, FNV-1a sum and a
 * payload derived from (sender side, seq), so the receiver checks order, length, sum and bytes. */
#include "../../lib/channel.c"
#include "../../lib/channel_check.c"
#include "../../lib/channel_ring.c"
#include "../../lib/channel_wait.c"

#include <dirent.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#define PCI_DIR "/sys/bus/pci/devices"
#define MSG_MAX 512u
#define BATCH 16u
/* Idle polling backs off from IDLE_MIN_US to IDLE_MAX_US: a busy channel is polled often, an idle
 * waiter wakes 125 times a second (docs/channels.md has the measured cost). */
#define IDLE_MIN_US 50u
#define IDLE_MAX_US 8000u

struct msg_hdr {
	uint32_t seq;
	uint32_t len;  /* payload bytes after this header */
	uint32_t sum;  /* FNV-1a of the payload */
	uint32_t side; /* sender */
};

struct region {
	void *base;
	size_t size;
	char name[300];
};

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static uint32_t payload_len(uint32_t seq) { return 1 + (seq * 53u) % 241u; }

static void fill(uint8_t *p, size_t n, uint32_t side, uint32_t seq)
{
	uint32_t x = seq * 2654435761u + side * 40503u + 1;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static size_t make_msg(uint8_t *buf, uint32_t side, uint32_t seq)
{
	struct msg_hdr h = {.seq = seq, .len = payload_len(seq), .side = side};

	fill(buf + sizeof(h), h.len, side, seq);
	h.sum = fnv1a(buf + sizeof(h), h.len);
	memcpy(buf, &h, sizeof(h));
	return sizeof(h) + h.len;
}

/* 0 if buf is message seq from side, else prints why and returns -1. */
static int check_msg(const uint8_t *buf, size_t len, uint32_t side, uint32_t seq)
{
	uint8_t want[MSG_MAX];
	size_t wlen = make_msg(want, side, seq);
	struct msg_hdr h;

	if (len < sizeof(h)) {
		printf("CHANMSG ERROR message %u: %zu bytes, shorter than a header\n", seq, len);
		return -1;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.seq != seq || h.side != side) {
		printf("CHANMSG ERROR expected message %u from side %c, got %u from side %u\n", seq,
		       'a' + (int)side, h.seq, h.side);
		return -1;
	}
	if (len != wlen || h.len != len - sizeof(h)) {
		printf("CHANMSG ERROR message %u: %zu bytes, expected %zu\n", seq, len, wlen);
		return -1;
	}
	if (fnv1a(buf + sizeof(h), h.len) != h.sum || memcmp(buf, want, wlen)) {
		printf("CHANMSG ERROR message %u: checksum or content differs\n", seq);
		return -1;
	}
	return 0;
}

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static int map_file(const char *path, struct region *r)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return -EINVAL;
	}
	r->size = (size_t)st.st_size;
	r->base = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (r->base == MAP_FAILED)
		return -errno;
	snprintf(r->name, sizeof(r->name), "file");
	return 0;
}

static int read_hex_file(const char *dir, const char *leaf, unsigned *out)
{
	char p[512];
	FILE *f;
	int ok;

	snprintf(p, sizeof(p), "%s/%s", dir, leaf);
	f = fopen(p, "re");
	if (!f)
		return -1;
	ok = fscanf(f, "%x", out) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* Maps BAR 2 of the ivshmem device dev (a PCI address under PCI_DIR). */
static int map_bar(const char *dev, struct region *r)
{
	char dir[300], p[320];
	FILE *en;

	snprintf(dir, sizeof(dir), PCI_DIR "/%s", dev);
	/* No driver is bound, so memory decoding may still be off: enabling turns it on. */
	snprintf(p, sizeof(p), "%s/enable", dir);
	en = fopen(p, "we");
	if (en) {
		fputs("1", en);
		fclose(en);
	}
	snprintf(p, sizeof(p), "%s/resource2", dir);
	if (map_file(p, r))
		return -1;
	snprintf(r->name, sizeof(r->name), "%s", dev);
	return 0;
}

/* Calls fn on every ivshmem BAR until it returns nonzero; returns that, or 0, or -ENODEV. */
static int each_bar(int (*fn)(struct region *, void *), void *arg)
{
	DIR *d = opendir(PCI_DIR);
	struct dirent *e;
	int found = 0, r = 0;

	if (!d)
		return -ENODEV;
	while (!r && (e = readdir(d))) {
		char dir[300];
		unsigned ven, devid;
		struct region reg;

		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), PCI_DIR "/%s", e->d_name);
		if (read_hex_file(dir, "vendor", &ven) || read_hex_file(dir, "device", &devid) ||
		    ven != 0x1af4 || devid != 0x1110)
			continue;
		found = 1;
		if (map_bar(e->d_name, &reg))
			continue;
		r = fn(&reg, arg);
		if (r <= 0)
			munmap(reg.base, reg.size);
		else
			*(struct region *)arg = reg; /* fn asked to keep the mapping */
	}
	closedir(d);
	return found ? r : -ENODEV;
}

struct pick {
	struct region reg; /* first: each_bar stores a kept mapping here */
	uint32_t side, me, peer;
};

static int pick_fn(struct region *reg, void *arg)
{
	struct pick *pk = arg;
	struct uv_chan_hdr h;

	if (reg->size < sizeof(h))
		return 0;
	memcpy(&h, reg->base, sizeof(h));
	return h.magic == UV_CHAN_MAGIC && h.part_id[pk->side] == pk->me &&
	       h.part_id[!pk->side] == pk->peer;
}

struct needle {
	struct region reg;
	const uint8_t *bytes;
	size_t len;
};

static int scan_fn(struct region *reg, void *arg)
{
	struct needle *n = arg;

	if (memmem(reg->base, reg->size, n->bytes, n->len)) {
		printf("CHANMSG FOUND dev %s\n", reg->name);
		return -1; /* stop, and do not keep the mapping */
	}
	return 0;
}

static int cmd_scan(const char *hex)
{
	uint8_t bytes[256];
	struct needle n = {.bytes = bytes};
	unsigned v;
	int r;

	for (; hex[0] && hex[1] && n.len < sizeof(bytes); hex += 2) {
		if (sscanf(hex, "%2x", &v) != 1)
			break;
		bytes[n.len++] = (uint8_t)v;
	}
	if (hex[0] || n.len < 4) {
		printf("CHANMSG ERROR needle must be 4..256 bytes of hex\n");
		return 2;
	}
	r = each_bar(scan_fn, &n);
	if (r == -ENODEV) {
		printf("CHANMSG NOTFOUND (no ivshmem device)\n");
		return 1;
	}
	if (!r)
		printf("CHANMSG NOTFOUND\n");
	return r ? 0 : 1;
}

static int cmd_format(const char *path, uint32_t a, uint32_t b)
{
	struct uv_chan_config cfg = {
	    .part_id = {a, b},
	    .n_queues = 2,
	    .q = {{64, 256, UV_CHAN_SIDE_A}, {64, 256, UV_CHAN_SIDE_B}},
	};
	struct region reg;
	int r;

	if ((r = map_file(path, &reg))) {
		printf("CHANMSG ERROR %s: %s\n", path, strerror(-r));
		return 1;
	}
	r = uv_chan_format(reg.base, reg.size, &cfg);
	munmap(reg.base, reg.size);
	if (r) {
		printf("CHANMSG ERROR %s: %zu bytes cannot hold a channel of %zu bytes\n", path,
		       reg.size, uv_chan_region_size(&cfg));
		return 1;
	}
	printf("CHANMSG FORMATTED %zu of %zu bytes\n", uv_chan_region_size(&cfg), reg.size);
	return 0;
}

struct xfer {
	struct uv_chan *ch;
	int txq, rxq;
	uint32_t side, n_send, n_recv, sent, received;
};

/* One non-blocking round: sends up to BATCH, receives up to BATCH. Returns progress, or -1. */
static int pump(struct xfer *x)
{
	static uint8_t out[BATCH][MSG_MAX], in[BATCH][MSG_MAX];
	struct iovec iov[BATCH];
	struct uv_chan_buf bufs[BATCH];
	int progress = 0, r, i;
	unsigned k;

	for (k = 0; x->sent < x->n_send && k < BATCH && x->sent + k < x->n_send; k++) {
		iov[k].iov_base = out[k];
		iov[k].iov_len = make_msg(out[k], x->side, x->sent + k);
	}
	if (k) {
		r = uv_chan_send(x->ch, (unsigned)x->txq, iov, k);
		if (r > 0) {
			x->sent += (uint32_t)r;
			progress = 1;
		} else if (r != -EAGAIN && r != -EPIPE) { /* -EPIPE: as for receiving */
			printf("CHANMSG ERROR send: %s\n", strerror(-r));
			return -1;
		}
	}
	if (x->received < x->n_recv) {
		for (k = 0; k < BATCH; k++)
			bufs[k] = (struct uv_chan_buf){.data = in[k], .cap = MSG_MAX};
		k = x->n_recv - x->received < BATCH ? x->n_recv - x->received : BATCH;
		r = uv_chan_recv(x->ch, (unsigned)x->rxq, bufs, k);
		/* -EPIPE: the peer is not attached (yet, or again); it may still come. */
		if (r < 0 && r != -EAGAIN && r != -EPIPE) {
			printf("CHANMSG ERROR receive: %s\n", strerror(-r));
			return -1;
		}
		for (i = 0; i < r; i++, x->received++)
			if (check_msg(in[i], bufs[i].len, !x->side, x->received))
				return -1;
		progress |= r > 0;
	}
	return progress;
}

static int run_xfer(struct region *reg, struct xfer *x, uint32_t me, unsigned timeout_s)
{
	struct uv_chan_endpoint ep = {
	    .side = x->side, .part_id = me, .wait_fd = -1, .signal_fd = -1};
	char err[256] = "";
	uint64_t t0 = now_us(), deadline = t0 + (uint64_t)timeout_s * 1000000u;
	unsigned q, idle_us = IDLE_MIN_US;
	int r;

	if ((r = uv_chan_attach(&x->ch, reg->base, reg->size, &ep, err, sizeof(err)))) {
		printf("CHANMSG ERROR attach: %s\n", err);
		return 1;
	}
	x->txq = x->rxq = -1;
	for (q = 0; q < uv_chan_queue_count(x->ch); q++)
		*(uv_chan_is_sender(x->ch, q) == 1 ? &x->txq : &x->rxq) = (int)q;
	if ((x->n_send && x->txq < 0) || (x->n_recv && x->rxq < 0)) {
		printf("CHANMSG ERROR the channel has no queue in that direction\n");
		r = 1;
		goto out;
	}
	while (x->sent < x->n_send || x->received < x->n_recv) {
		r = pump(x);
		if (r < 0)
			goto out;
		if (now_us() > deadline) {
			printf("CHANMSG ERROR timeout after %us: sent=%u received=%u\n", timeout_s,
			       x->sent, x->received);
			r = 1;
			goto out;
		}
		if (r) {
			idle_us = IDLE_MIN_US;
		} else {
			usleep(idle_us);
			idle_us = idle_us * 2 > IDLE_MAX_US ? IDLE_MAX_US : idle_us * 2;
		}
	}
	printf("CHANMSG OK sent=%u received=%u usec=%llu\n", x->sent, x->received,
	       (unsigned long long)(now_us() - t0));
	r = 0;
out:
	/* A receiver must see everything before it sees us close. */
	uv_chan_detach(x->ch);
	return r ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: chanmsg format FILE PART_A PART_B\n"
	                "       chanmsg [--file FILE] a|b ME PEER send|recv|xchg N [TIMEOUT_S]\n"
	                "       chanmsg scan HEX\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct pick pk = {0};
	struct xfer x = {0};
	const char *file = NULL;
	unsigned n, timeout_s = 120;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "format"))
		return cmd_format(argv[2], (uint32_t)strtoul(argv[3], NULL, 0),
		                  (uint32_t)strtoul(argv[4], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "scan"))
		return cmd_scan(argv[2]);
	if (argc > 2 && !strcmp(argv[1], "--file")) {
		file = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 6 || argc > 7 || (strcmp(argv[1], "a") && strcmp(argv[1], "b")))
		return usage();
	pk.side = x.side = argv[1][0] == 'a' ? UV_CHAN_SIDE_A : UV_CHAN_SIDE_B;
	pk.me = (uint32_t)strtoul(argv[2], NULL, 0);
	pk.peer = (uint32_t)strtoul(argv[3], NULL, 0);
	n = (unsigned)strtoul(argv[5], NULL, 0);
	if (argc == 7)
		timeout_s = (unsigned)strtoul(argv[6], NULL, 0);
	if (!strcmp(argv[4], "send") || !strcmp(argv[4], "xchg"))
		x.n_send = n;
	if (!strcmp(argv[4], "recv") || !strcmp(argv[4], "xchg"))
		x.n_recv = n;
	if (!x.n_send && !x.n_recv)
		return usage();
	if (file) {
		r = map_file(file, &pk.reg) ? -ENOENT : pick_fn(&pk.reg, &pk);
		if (r == 0)
			munmap(pk.reg.base, pk.reg.size);
	} else
		r = each_bar(pick_fn, &pk);
	if (r <= 0) {
		printf("CHANMSG ERROR no channel between partitions %u and %u here%s\n", pk.me,
		       pk.peer, r == -ENODEV ? " (no ivshmem device)" : "");
		return 1;
	}
	r = run_xfer(&pk.reg, &x, pk.me, timeout_s);
	munmap(pk.reg.base, pk.reg.size);
	return r;
}
