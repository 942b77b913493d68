/* SPDX-License-Identifier: MIT */
#include "inflight.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define PAGE 4096u
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int inflight_check(const struct vhu_inflight *p, unsigned max_queues, int set)
{
	uint32_t n = p->queue_size;

	if (p->num_queues == 0 || p->num_queues > max_queues)
		return -EINVAL;
	if (n == 0 || n > VRING_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	if (!set)
		return 0;
	/* off_t is signed: the end must fit in it as well as not wrap. */
	if (p->mmap_offset % PAGE || p->mmap_size > INT64_MAX ||
	    p->mmap_offset > (uint64_t)INT64_MAX - p->mmap_size)
		return -EINVAL;
	return 0;
}

uint32_t inflight_entries(uint16_t queue_size)
{
	return queue_size > VHU_INFLIGHT_MIN_ENTRIES ? queue_size : VHU_INFLIGHT_MIN_ENTRIES;
}

struct vhu_inflight_queue *inflight_queue(const struct inflight *f, unsigned i)
{
	if (!f->base || i >= f->nqueues)
		return NULL;
	return (struct vhu_inflight_queue *)(f->base + i * vhu_inflight_queue_bytes(f->entries));
}

int inflight_create(const struct vhu_inflight *want, unsigned max_queues, struct inflight *out,
                    int *fd, struct vhu_inflight *reply)
{
	struct inflight f = {.nqueues = want->num_queues};
	int mfd = -1, r = inflight_check(want, max_queues, 0);

	if (r < 0)
		return r;
	f.entries = inflight_entries(want->queue_size);
	f.size = f.nqueues * vhu_inflight_queue_bytes(f.entries);
	mfd = memfd_create("ultra-io-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	/* Sealed so that neither side can shrink it under the other's mapping. */
	if (ftruncate(mfd, (off_t)f.size) < 0 || fcntl(mfd, F_ADD_SEALS, SEALS) < 0) {
		r = -errno;
		goto out;
	}
	f.base = mmap(NULL, f.size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (f.base == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	for (unsigned i = 0; i < f.nqueues; i++) {
		struct vhu_inflight_queue *q = inflight_queue(&f, i);
		q->version = VHU_INFLIGHT_VERSION;
		q->desc_num = (uint16_t)f.entries;
	}
	*out = f;
	*fd = mfd;
	*reply = (struct vhu_inflight){
	    .mmap_size = f.size, .num_queues = f.nqueues, .queue_size = want->queue_size};
	return 0;
out:
	close(mfd);
	return r;
}

int inflight_map(const struct vhu_inflight *p, int fd, unsigned max_queues, struct inflight *out)
{
	struct inflight f = {.nqueues = p->num_queues, .size = p->mmap_size};
	struct stat st;
	int seals, r = inflight_check(p, max_queues, 1);

	if (r < 0)
		return r;
	if (p->mmap_size < sizeof(struct vhu_inflight_queue))
		return -EINVAL; /* not even the first header */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < p->mmap_offset + p->mmap_size)
		return -EINVAL;
	/* Unsealed, the front end could truncate it later and make our next store fault. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EPERM;
	f.base = mmap(NULL, f.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)p->mmap_offset);
	if (f.base == MAP_FAILED)
		return -errno;
	/* The size of every queue region comes from the first header, read once; at most 8
	 * queues of 32768 entries, so the product cannot overflow. */
	f.entries = LOAD(&((struct vhu_inflight_queue *)f.base)->desc_num);
	r = -EINVAL;
	if (f.entries < p->queue_size || f.entries > VRING_MAX_SIZE ||
	    (f.entries & (f.entries - 1)) ||
	    f.size != f.nqueues * vhu_inflight_queue_bytes(f.entries))
		goto out;
	for (unsigned i = 0; i < f.nqueues; i++) {
		struct vhu_inflight_queue *q = inflight_queue(&f, i);
		if (LOAD(&q->version) != VHU_INFLIGHT_VERSION || LOAD(&q->desc_num) != f.entries)
			goto out;
	}
	*out = f;
	return 0;
out:
	munmap(f.base, f.size);
	return r;
}

void inflight_unmap(struct inflight *f)
{
	if (f->base)
		munmap(f->base, f->size);
	memset(f, 0, sizeof(*f));
}

struct pending {
	uint64_t counter;
	uint16_t head;
};

static int by_counter(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	if (x->counter != y->counter)
		return x->counter < y->counter ? -1 : 1;
	return x->head < y->head ? -1 : x->head > y->head;
}

int inflight_scan(struct vhu_inflight_queue *q, uint32_t entries, uint32_t num,
                  uint16_t ring_used_idx, uint16_t *heads, uint64_t *max_counter)
{
	struct pending *p;
	uint16_t last;
	uint64_t top = 0;
	uint32_t n = 0;

	if (num > entries || LOAD(&q->version) != VHU_INFLIGHT_VERSION ||
	    LOAD(&q->desc_num) != entries)
		return -EINVAL;
	/* The dead back end published used->idx but died before clearing that element's entry
	 * (the last step of a completion): it is done, not in flight. */
	if (LOAD(&q->used_idx) != ring_used_idx) {
		last = LOAD(&q->last_batch_head);
		if (last < entries)
			STORE(&q->desc[last].inflight, 0);
		STORE(&q->used_idx, ring_used_idx);
	}
	p = malloc(sizeof(*p) * (num ? num : 1));
	if (!p)
		return -ENOMEM;
	for (uint32_t i = 0; i < entries; i++) {
		uint8_t on = LOAD(&q->desc[i].inflight);
		if (on > 1 || (on && i >= num)) {
			free(p);
			return -EINVAL;
		}
		if (!on)
			continue;
		p[n].counter = LOAD(&q->desc[i].counter);
		p[n].head = (uint16_t)i;
		if (p[n].counter > top)
			top = p[n].counter;
		n++;
	}
	qsort(p, n, sizeof(*p), by_counter);
	for (uint32_t i = 0; i < n; i++)
		heads[i] = p[i].head;
	free(p);
	*max_counter = top;
	return (int)n;
}
