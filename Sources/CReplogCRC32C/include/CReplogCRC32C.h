#ifndef C_REPLOG_CRC32C_H
#define C_REPLOG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Continues a CRC-32C (Castagnoli) over `length` bytes. Start with `crc = 0`; the result of one
/// call can be passed as `crc` to the next to checksum data that arrives in pieces.
/// Uses the SSE 4.2 CRC32 instruction when the CPU has it, a slicing-by-8 table otherwise.
uint32_t replog_crc32c(uint32_t crc, const void *data, size_t length);

/// The same checksum computed by the portable table-driven code only (for tests).
uint32_t replog_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// 1 when `replog_crc32c` uses the hardware instruction.
int replog_crc32c_is_hardware(void);

#endif
