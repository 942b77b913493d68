/* SPDX-License-Identifier: MIT */
/* Value checks apply repeats from the decoder (resdb_values.c). */
#ifndef ULTRA_LIB_RESDB_VALUES_H
#define ULTRA_LIB_RESDB_VALUES_H

#include "resdb_int.h"

/* UV_TXN_OK, or the reason uv_txn_decode() would give (BAD_DESC, BAD_COUNT, BAD_EXTENT,
 * BAD_VALUE, BAD_STRING); a grant may have no extents (allocate for me). */
enum uv_txn_reason rdb_check_values(const struct uv_txn *t);

#endif
