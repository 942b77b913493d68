/* SPDX-License-Identifier: MIT */
/* The operations partition's policy: windows, schedules, domain limits, shares in force. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops_policy.h"

static int hhmm(const char *s, unsigned *min)
{
	unsigned h, m;
	int n = 0;

	if (sscanf(s, "%2u:%2u%n", &h, &m, &n) != 2 || n != 5 || m > 59 || h > 24 || (h == 24 && m))
		return -EINVAL;
	*min = h * 60 + m;
	return 0;
}

int ops_window_parse(const char *s, uint16_t *from, uint16_t *to)
{
	unsigned f, t;

	if (strlen(s) != 11 || s[5] != '-' || hhmm(s, &f) || hhmm(s + 6, &t) || f == OPS_DAY_MIN ||
	    f == t)
		return -EINVAL;
	*from = (uint16_t)f;
	*to = (uint16_t)t;
	return 0;
}

void ops_window_format(uint16_t from, uint16_t to, char *buf, size_t cap)
{
	snprintf(buf, cap, "%02u:%02u-%02u:%02u", from / 60u, from % 60u, to / 60u, to % 60u);
}

bool ops_window_has(uint16_t from, uint16_t to, unsigned m)
{
	if (from < to)
		return m >= from && m < to;
	return m >= from || m < to; /* past midnight */
}

bool ops_windows_overlap(const struct ops_sched *a, const struct ops_sched *b)
{
	for (unsigned m = 0; m < OPS_DAY_MIN; m++)
		if (ops_window_has(a->from_min, a->to_min, m) &&
		    ops_window_has(b->from_min, b->to_min, m))
			return true;
	return false;
}

int ops_sched_value(const struct ops_sched *s, size_t n, enum ops_target kind, const char *target,
                    enum ops_setting setting, unsigned m, uint32_t *value)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].target_kind == kind && s[i].setting == setting &&
		    !strcmp(s[i].target, target) && ops_window_has(s[i].from_min, s[i].to_min, m)) {
			*value = s[i].value;
			return 1;
		}
	return 0;
}

void ops_domain_limits(const struct ops_domain *d, const struct ops_sched *s, size_t n, unsigned m,
                       uint32_t *memory_mib, uint32_t *cpu_milli)
{
	if (!ops_sched_value(s, n, OPS_TARGET_DOMAIN, d->name, OPS_SET_MEMORY_MIB, m, memory_mib))
		*memory_mib = d->memory_mib;
	if (!ops_sched_value(s, n, OPS_TARGET_DOMAIN, d->name, OPS_SET_CPU_SHARE, m, cpu_milli))
		*cpu_milli = d->cpu_milli;
}

uint32_t ops_cpu_weight(uint32_t cpu_milli, uint32_t vcpus)
{
	return cpu_milli ? cpu_milli : vcpus * 1000u;
}

static uint32_t base_share(const struct ops_part *p, const struct ops_sched *s, size_t ns,
                           unsigned m)
{
	uint32_t v;

	return ops_sched_value(s, ns, OPS_TARGET_PARTITION, p->name, OPS_SET_CPU_SHARE, m, &v)
	           ? v
	           : p->cpu_milli;
}

/* Scales the active members of domain d when they want more than its CPU limit in force. */
static void fit_domain(struct ops_member *mem, size_t n, const struct ops_domain *d,
                       const struct ops_sched *s, size_t ns, unsigned m)
{
	uint32_t lim_mib, lim_milli;
	uint64_t sum = 0;
	size_t i;

	ops_domain_limits(d, s, ns, m, &lim_mib, &lim_milli);
	for (i = 0; i < n; i++)
		if (mem[i].active && !strcmp(mem[i].part->domain, d->name))
			sum += ops_cpu_weight(mem[i].want_milli, mem[i].part->vcpus);
	if (!lim_milli || sum <= lim_milli)
		return;
	for (i = 0; i < n; i++) {
		uint64_t w;

		if (!mem[i].active || strcmp(mem[i].part->domain, d->name))
			continue;
		w = ops_cpu_weight(mem[i].want_milli, mem[i].part->vcpus) * (uint64_t)lim_milli /
		    sum;
		mem[i].want_milli = w ? (uint32_t)w : 1;
	}
}

void ops_shares(struct ops_member *mem, size_t n, const struct ops_domain *doms, size_t nd,
                const struct ops_sched *s, size_t ns, unsigned m)
{
	for (size_t i = 0; i < n; i++)
		mem[i].want_milli = base_share(mem[i].part, s, ns, m);
	for (size_t j = 0; j < nd; j++)
		fit_domain(mem, n, &doms[j], s, ns, m);
}

int ops_domain_admit(const char *domain, uint32_t limit_mib, uint32_t limit_milli,
                     uint64_t used_mib, uint64_t used_milli, uint32_t mem_mib, uint32_t cpu_milli,
                     char *err, size_t errlen)
{
	if (limit_mib && used_mib + mem_mib > limit_mib) {
		snprintf(err, errlen,
		         "domain %s: %u MiB more would make %llu MiB, over its limit "
		         "of %u MiB (%llu MiB in use)",
		         domain, mem_mib, (unsigned long long)(used_mib + mem_mib), limit_mib,
		         (unsigned long long)used_mib);
		return -ENOSPC;
	}
	if (limit_milli && used_milli + cpu_milli > limit_milli) {
		snprintf(err, errlen,
		         "domain %s: %.3f CPU more would make %.3f, over its limit of "
		         "%.3f CPU (%.3f in use)",
		         domain, cpu_milli / 1000.0, (double)(used_milli + cpu_milli) / 1000.0,
		         limit_milli / 1000.0, (double)used_milli / 1000.0);
		return -ENOSPC;
	}
	return 0;
}
