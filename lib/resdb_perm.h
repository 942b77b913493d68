/* SPDX-License-Identifier: MIT */
/* Sender and scope checks of the resource database (resdb_perm.c). */
#ifndef ULTRA_LIB_RESDB_PERM_H
#define ULTRA_LIB_RESDB_PERM_H

#include "resdb_int.h"

unsigned rdb_targets(const struct uv_txn *t, uint32_t id[2]);
/* UV_TXN_OK, or NOT_PERMITTED when the sender is not who it claims or reaches out of scope. */
enum uv_txn_reason rdb_check_sender(const struct uv_resdb *db, const struct uv_txn *t);

#endif
