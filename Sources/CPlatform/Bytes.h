// Little-endian loads from unaligned bytes, shared by the checksums (XXH32.c, CRC64.c).
#ifndef LITEPROOF_CPLATFORM_BYTES_H
#define LITEPROOF_CPLATFORM_BYTES_H
#include <stdint.h>
#include <string.h>

static inline uint32_t liteproof_le32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t liteproof_le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}
#endif
