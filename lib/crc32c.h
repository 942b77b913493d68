/* SPDX-License-Identifier: MIT */
/* CRC32C (Castagnoli), the checksum of audit log records and snapshots. */
#ifndef ULTRA_LIB_CRC32C_H
#define ULTRA_LIB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc (0 to start) over len bytes. Uses the SSE4.2 crc32 instruction when the CPU has
 * it, slicing-by-8 tables otherwise; both give the same value. */
uint32_t uv_crc32c(uint32_t crc, const void *buf, size_t len);

/* The two implementations, exposed so tests can hold them against each other. uv_crc32c_hw
 * returns uv_crc32c_sw's result on CPUs without SSE4.2. */
uint32_t uv_crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t uv_crc32c_hw(uint32_t crc, const void *buf, size_t len);

#endif
