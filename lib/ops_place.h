/* SPDX-License-Identifier: MIT */
/*
 * Placement (claims 39, 42, 43): which host a partition starts on, as a pure function of what
 * each host's command partition reports (its `resources`) and the partition's needs, so the
 * policy is tested without hosts.
 *
 * Policy: among the hosts that are up and in the partition's zone (any host when it names no
 * zone; a host without a zone takes only partitions without one), those with enough free memory
 * and CPU; of these, the one with the most free memory, ties broken by name.
 */
#ifndef ULTRA_LIB_OPS_PLACE_H
#define ULTRA_LIB_OPS_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A host as placement sees it. */
struct ops_place_host {
	const char *name;
	const char *zone; /* "" = none */
	bool up;          /* answering, and fenced if it came back */
	uint64_t free_mib;
	uint32_t cpus_milli;      /* its CPUs, 1000 = one */
	uint32_t committed_milli; /* what its active partitions' shares add up to */
};

/* What the partition asks for. */
struct ops_place_need {
	const char *name;
	const char *zone; /* "" = any */
	uint32_t memory_mib;
	uint32_t vcpus;
	uint32_t cpu_milli; /* its share's weight: an unlimited share counts as all its vCPUs */
};

/* The index of the chosen host. -ENOENT when no host of the zone is up, -ENOSPC when none of
 * them can hold it: err then names the zone and what each host was short of. */
int ops_place(const struct ops_place_host *h, size_t n, const struct ops_place_need *need,
              char *err, size_t errlen);

#endif
