/* SPDX-License-Identifier: MIT */
/*
 * What moving 64 KiB messages between two cores can cost at best, beside an in-cache memcpy of
 * the same size (one 64 KiB source into a rolling 1 MiB destination, as bench_channel's memcpy
 * row), in one run (the question behind the memory-channel throughput goal, claims 4,
 * 62; docs/performance.md). No channel protocol here: a writer thread on CPU 1 fills one of
 * `depth` message buffers and sets its flag, a reader thread on CPU 0 waits for the flag, uses
 * the buffer and clears the flag. The writer tries the ways a producer can hand cache lines on:
 *
 *   plain     memcpy into the buffer (lines stay modified in the writer's L2 until snooped)
 *   cldemote  memcpy, then CLDEMOTE every line (a hint to push it to the shared cache)
 *   nt        AVX-512 non-temporal stores (the lines go towards memory, not the writer's cache)
 *
 * and the reader either copies the message out (as every channel row of bench_channel does) or
 * only reads one word per cache line (the least a consumer of the bytes can do).
 *
 *   bench_xcore [messages]   default 100000 per row
 */
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"

#define MSG (64u * 1024u)
#define LINE 64u
#define ROLL 16u /* destinations roll over 16 messages (1 MiB), as in bench_channel */

enum put { PUT_PLAIN, PUT_CLDEMOTE, PUT_NT };
enum use { USE_COPY, USE_READ };

struct flag {
	_Atomic uint32_t full;
	uint8_t pad[LINE - sizeof(uint32_t)];
};

struct run {
	enum put put;
	enum use use;
	unsigned depth;
	long n;
	struct flag *flags;
	uint8_t *bufs, *src, *dst;
	uint64_t sum; /* the read-only reader's loads end here (they are volatile too) */
};

static bool has_cldemote(void)
{
	unsigned a, b, c, d;

	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 25));
}

__attribute__((target("cldemote"))) static void put_cldemote(uint8_t *d, const uint8_t *s)
{
	memcpy(d, s, MSG);
	for (unsigned i = 0; i < MSG; i += LINE)
		_cldemote(d + i);
}

__attribute__((target("avx512f"))) static void put_nt(uint8_t *d, const uint8_t *s)
{
	for (unsigned i = 0; i < MSG; i += LINE)
		_mm512_stream_si512((void *)(d + i), _mm512_loadu_si512(s + i));
	_mm_sfence();
}

static void put(enum put how, uint8_t *d, const uint8_t *s)
{
	if (how == PUT_CLDEMOTE)
		put_cldemote(d, s);
	else if (how == PUT_NT)
		put_nt(d, s);
	else
		memcpy(d, s, MSG);
}

static void *writer(void *arg)
{
	struct run *r = arg;

	if (bench_pin(1) < 0)
		return NULL;
	for (long i = 0; i < r->n; i++) {
		struct flag *f = &r->flags[i % r->depth];
		while (atomic_load_explicit(&f->full, memory_order_acquire))
			_mm_pause();
		put(r->put, r->bufs + (size_t)(i % r->depth) * MSG, r->src);
		atomic_store_explicit(&f->full, 1, memory_order_release);
	}
	return NULL;
}

static void reader(struct run *r)
{
	for (long i = 0; i < r->n; i++) {
		struct flag *f = &r->flags[i % r->depth];
		const uint8_t *b = r->bufs + (size_t)(i % r->depth) * MSG;
		while (!atomic_load_explicit(&f->full, memory_order_acquire))
			_mm_pause();
		if (r->use == USE_COPY) {
			memcpy(r->dst + (size_t)(i % ROLL) * MSG, b, MSG);
		} else {
			uint64_t s = 0;
			for (unsigned k = 0; k < MSG; k += LINE)
				s += *(const volatile uint64_t *)(b + k);
			r->sum += s;
		}
		atomic_store_explicit(&f->full, 0, memory_order_release);
	}
}

/* GB/s of one cross-core row; negative if a thread could not be started or pinned. */
static double cross(struct run *r)
{
	pthread_t th;
	double t;

	memset(r->flags, 0, sizeof(*r->flags) * r->depth);
	t = bench_now_s();
	if (pthread_create(&th, NULL, writer, r))
		return -1;
	reader(r);
	pthread_join(th, NULL);
	return (double)r->n * MSG / (bench_now_s() - t) / 1e9;
}

static double in_cache(struct run *r)
{
	double t = bench_now_s();

	for (long i = 0; i < r->n; i++)
		memcpy(r->dst + (size_t)(i % ROLL) * MSG, r->src, MSG);
	return (double)r->n * MSG / (bench_now_s() - t) / 1e9;
}

int main(int argc, char **argv)
{
	static const char *put_name[] = {"plain", "cldemote", "nt"};
	static const char *use_name[] = {"copy out", "read only"};
	static const unsigned depths[] = {4, 16, 64};
	struct run r = {.n = argc > 1 ? atol(argv[1]) : 100000};
	bool cld = has_cldemote(), avx512 = __builtin_cpu_supports("avx512f");
	int rc = 1;

	if (r.n <= 0 || bench_pin(0) < 0) {
		fprintf(stderr, "bench_xcore: bad message count, or cannot pin to CPU 0\n");
		return 1;
	}
	r.flags = aligned_alloc(LINE, sizeof(*r.flags) * 64);
	r.bufs = aligned_alloc(4096, (size_t)64 * MSG);
	r.src = aligned_alloc(4096, MSG);
	r.dst = aligned_alloc(4096, (size_t)ROLL * MSG);
	if (!r.flags || !r.bufs || !r.src || !r.dst)
		goto out;
	memset(r.bufs, 1, (size_t)64 * MSG);
	memset(r.src, 2, MSG);
	memset(r.dst, 3, (size_t)ROLL * MSG);

	printf(
	    "| writer | reader | depth | GB/s | x in-cache memcpy |\n|---|---|---:|---:|---:|\n");
	for (unsigned p = PUT_PLAIN; p <= PUT_NT; p++) {
		if ((p == PUT_CLDEMOTE && !cld) || (p == PUT_NT && !avx512)) {
			printf("| %s | - | - | not on this CPU | - |\n", put_name[p]);
			continue;
		}
		for (unsigned u = USE_COPY; u <= USE_READ; u++)
			for (unsigned d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
				double mc, x;
				r.put = p;
				r.use = u;
				r.depth = depths[d];
				mc = in_cache(&r); /* measured beside each row: the host drifts */
				x = cross(&r);
				if (x < 0)
					goto out;
				printf("| %s | %s | %u | %.2f | %.2f (memcpy %.2f) |\n",
				       put_name[p], use_name[u], r.depth, x, x / mc, mc);
			}
	}
	rc = 0;
out:
	free(r.flags);
	free(r.bufs);
	free(r.src);
	free(r.dst);
	return rc;
}
