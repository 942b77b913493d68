/* SPDX-License-Identifier: MIT */
/* CPU lists ("0-3,8") and the choice of whole CPUs for a partition. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgcpu.h"

static int number(const char **s, unsigned long *out)
{
	char *end;

	if (**s < '0' || **s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(*s, &end, 10);
	if (errno || *out >= CPU_SETSIZE)
		return -ERANGE;
	*s = end;
	return 0;
}

int uv_cpulist_parse(const char *s, cpu_set_t *out)
{
	cpu_set_t set;
	unsigned long a, b;
	int r;

	CPU_ZERO(&set);
	while (*s && *s != '\n') {
		if ((r = number(&s, &a)))
			return r;
		b = a;
		if (*s == '-') {
			s++;
			if ((r = number(&s, &b)))
				return r;
			if (b < a)
				return -EINVAL;
		}
		for (unsigned long c = a; c <= b; c++)
			CPU_SET(c, &set);
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return -EINVAL;
	}
	*out = set;
	return 0;
}

int uv_cpulist_format(const cpu_set_t *set, char *out, size_t outlen)
{
	size_t len = 0;
	int n;

	if (!outlen)
		return -ENOSPC;
	out[0] = 0;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		int e = c;

		if (!CPU_ISSET(c, set))
			continue;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		n = e == c ? snprintf(out + len, outlen - len, "%s%d", len ? "," : "", c)
		           : snprintf(out + len, outlen - len, "%s%d-%d", len ? "," : "", c, e);
		if (n < 0 || (size_t)n >= outlen - len)
			return -ENOSPC;
		len += (size_t)n;
		c = e;
	}
	return 0;
}

int uv_cpu_pick(const cpu_set_t *allowed, const unsigned *use, unsigned n, cpu_set_t *out)
{
	cpu_set_t pick;

	if ((unsigned)CPU_COUNT(allowed) < n)
		return -ERANGE;
	CPU_ZERO(&pick);
	for (unsigned k = 0; k < n; k++) {
		int best = -1;

		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, allowed) && !CPU_ISSET(c, &pick) &&
			    (best < 0 || use[c] < use[best]))
				best = c;
		CPU_SET(best, &pick);
	}
	*out = pick;
	return 0;
}
