/* SPDX-License-Identifier: MIT */
/* The (2,10,10,10) names of claim 33 and the descriptor placement formula of claim 31. */
#include "pagemap.h"

#include <errno.h>

#define FIELD_MASK (UV_PM_FANOUT - 1)

int uv_desc_offset(uint32_t g, uint32_t m, uint32_t k, uint64_t wordsize, uint64_t *off)
{
	uint64_t slot, res;

	if (g > FIELD_MASK || m > FIELD_MASK || k > FIELD_MASK)
		return -EINVAL;
	if (!wordsize || (wordsize & (wordsize - 1)))
		return -EINVAL;
	slot = (((uint64_t)g << UV_PM_SCALE_SHIFT | m) << UV_PM_SCALE_SHIFT | k)
	       << UV_PM_SCALE_SHIFT;
	if (__builtin_mul_overflow(slot, wordsize, &res))
		return -EINVAL;
	*off = res;
	return 0;
}

int uv_desc_offset_of(uint32_t partition, uint64_t wordsize, uint64_t *off)
{
	if (partition > UV_PM_E_VALUE)
		return -EINVAL;
	return uv_desc_offset(partition >> 20, (partition >> 10) & FIELD_MASK,
	                      partition & FIELD_MASK, wordsize, off);
}

int uv_pm_index_encode(uint64_t offset, unsigned tier, uint32_t *index)
{
	static const uint32_t prefix[UV_PM_TIERS] = {UV_PM_IX_SUB4G | UV_PM_IX_SUB4M,
	                                             UV_PM_IX_SUB4G, 0, UV_PM_IX_SUB4M};
	uint64_t pages = offset >> UV_PM_PAGE_SHIFT;

	if (tier >= UV_PM_TIERS || offset >= UV_PM_POOL_MAX ||
	    offset & (UV_PM_TIER_BYTES(tier) - 1))
		return -EINVAL;
	*index = prefix[tier] | (uint32_t)pages;
	return 0;
}

int uv_pm_index_decode(uint32_t index, uint64_t *offset, unsigned *tier)
{
	uint32_t pages = index & UV_PM_E_VALUE;
	unsigned t;

	switch (index & (UV_PM_IX_SUB4G | UV_PM_IX_SUB4M)) {
	case UV_PM_IX_SUB4G | UV_PM_IX_SUB4M:
		t = 0;
		break;
	case UV_PM_IX_SUB4G:
		t = 1;
		break;
	case 0:
		t = 2;
		break;
	default:
		t = 3;
		break;
	}
	/* Fields below the named tier must be zero, or two names would mean one block. */
	if (pages & (uint32_t)((1ull << (UV_PM_SCALE_SHIFT * t)) - 1))
		return -EINVAL;
	*offset = (uint64_t)pages << UV_PM_PAGE_SHIFT;
	*tier = t;
	return 0;
}
