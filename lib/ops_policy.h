/* SPDX-License-Identifier: MIT */
/*
 * The operations partition's configuration policy (claims 35-37, 46, 86), as pure functions of
 * the stored domains, definitions and schedules and of the time of day, so that they are tested
 * without a clock or a running system.
 */
#ifndef ULTRA_LIB_OPS_POLICY_H
#define ULTRA_LIB_OPS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opsdb.h"

#define OPS_DAY_MIN 1440

/* "HH:MM-HH:MM", to may be 24:00; from == to is refused (say 00:00-24:00 for all day). */
int ops_window_parse(const char *s, uint16_t *from, uint16_t *to);
/* "HH:MM-HH:MM" into buf (at least 12 bytes). */
void ops_window_format(uint16_t from, uint16_t to, char *buf, size_t cap);
/* Is minute m of the day in [from, to)? A window with to < from wraps past midnight. */
bool ops_window_has(uint16_t from, uint16_t to, unsigned m);
bool ops_windows_overlap(const struct ops_sched *a, const struct ops_sched *b);

/* The value that schedule entries give target's setting at minute m: 1 and *value, or 0 when no
 * window holds m. Entries of one target and setting never overlap (the store refuses it). */
int ops_sched_value(const struct ops_sched *s, size_t n, enum ops_target kind, const char *target,
                    enum ops_setting setting, unsigned m, uint32_t *value);

/* A domain's limits in force at minute m: the schedule's where a window holds, else its own. */
void ops_domain_limits(const struct ops_domain *d, const struct ops_sched *s, size_t n, unsigned m,
                       uint32_t *memory_mib, uint32_t *cpu_milli);

/* What a partition's CPU share counts for against its domain's limit: an unlimited share may
 * use all its vCPUs. */
uint32_t ops_cpu_weight(uint32_t cpu_milli, uint32_t vcpus);

/* One partition as the policy sees it. */
struct ops_member {
	const struct ops_part *part;
	bool active;         /* starting, running, paused or stopping */
	uint32_t want_milli; /* out: the share it should have now (0 = unlimited) */
};

/* The shares each member should have at minute m: the partition's scheduled share or its
 * definition's; in a domain whose CPU limit in force is below what its active members' shares
 * add up to, every active member is scaled down in proportion (at least 1 milli-CPU). */
void ops_shares(struct ops_member *mem, size_t n, const struct ops_domain *doms, size_t nd,
                const struct ops_sched *s, size_t ns, unsigned m);

/* May a partition needing mem_mib and cpu_milli (weight) join the active members of a domain
 * with these limits, when those already use used_mib and used_milli? 0, or -ENOSPC with a
 * sentence naming the domain, the limit and what it would come to. */
int ops_domain_admit(const char *domain, uint32_t limit_mib, uint32_t limit_milli,
                     uint64_t used_mib, uint64_t used_milli, uint32_t mem_mib, uint32_t cpu_milli,
                     char *err, size_t errlen);

#endif
