/* SPDX-License-Identifier: MIT */
/* Placement: the host a partition starts on (docs/operations.md, "Placement"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops_place.h"

static bool in_zone(const struct ops_place_host *h, const struct ops_place_need *need)
{
	return !need->zone[0] || !strcmp(h->zone, need->zone);
}

static uint32_t cpu_free(const struct ops_place_host *h)
{
	return h->committed_milli < h->cpus_milli ? h->cpus_milli - h->committed_milli : 0;
}

/* Why h cannot hold need, appended to buf; false if it can. */
static bool short_of(const struct ops_place_host *h, const struct ops_place_need *need, char *buf,
                     size_t cap)
{
	size_t len = strlen(buf);
	bool mem = h->free_mib<need->memory_mib, cpu = cpu_free(h) < need->cpu_milli,
	                       vcpus = (uint64_t)need->vcpus * 1000u>
	               h->cpus_milli;

	if (!mem && !cpu && !vcpus)
		return false;
	snprintf(buf + len, cap - len, "%s%s has %llu MiB and %.3g of %.3g CPUs free (%s%s%s)",
	         len ? "; " : "", h->name, (unsigned long long)h->free_mib, cpu_free(h) / 1000.0,
	         h->cpus_milli / 1000.0, mem ? "memory short" : "",
	         mem && (cpu || vcpus) ? ", " : "",
	         vcpus ? "fewer CPUs than vCPUs"
	         : cpu ? "CPU short"
	               : "");
	return true;
}

static bool better(const struct ops_place_host *a, const struct ops_place_host *b)
{
	if (a->free_mib != b->free_mib)
		return a->free_mib > b->free_mib;
	return strcmp(a->name, b->name) < 0;
}

int ops_place(const struct ops_place_host *h, size_t n, const struct ops_place_need *need,
              char *err, size_t errlen)
{
	const char *zone = need->zone[0] ? need->zone : "any";
	char why[512] = "";
	size_t up = 0;
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		if (!h[i].up || !in_zone(&h[i], need))
			continue;
		up++;
		if (short_of(&h[i], need, why, sizeof(why)))
			continue;
		if (best < 0 || better(&h[i], &h[best]))
			best = (int)i;
	}
	if (best >= 0)
		return best;
	if (!up) {
		snprintf(err, errlen, "no host of zone %s is up to run %s", zone, need->name);
		return -ENOENT;
	}
	snprintf(err, errlen, "no host of zone %s can hold %s (%u MiB, %u vCPU%s, %.3g CPU): %s",
	         zone, need->name, need->memory_mib, need->vcpus, need->vcpus == 1 ? "" : "s",
	         need->cpu_milli / 1000.0, why);
	return -ENOSPC;
}
