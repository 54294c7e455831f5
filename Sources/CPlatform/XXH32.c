// XXH32, the 32-bit xxHash that LZ4 frames use for their header and content checksums, written
// from the algorithm's public description (the xxHash specification): four accumulators over
// 16-byte stripes, then the tail and a final avalanche. Little-endian input words.
#include <string.h>
#include "Bytes.h"
#include "CPlatform.h"

#define P1 0x9E3779B1u
#define P2 0x85EBCA77u
#define P3 0xC2B2AE3Du
#define P4 0x27D4EB2Fu
#define P5 0x165667B1u

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static inline uint32_t round32(uint32_t acc, uint32_t lane) { return rotl32(acc + lane * P2, 13) * P1; }

void liteproof_xxh32_reset(liteproof_xxh32_state *s, uint32_t seed) {
    s->v[0] = seed + P1 + P2;
    s->v[1] = seed + P2;
    s->v[2] = seed;
    s->v[3] = seed - P1;
    s->total = 0;
    s->buffered = 0;
    s->seed = seed;
}

void liteproof_xxh32_update(liteproof_xxh32_state *s, const void *input, size_t length) {
    const uint8_t *p = input, *end = p + length;
    s->total += length;
    if (s->buffered + length < 16) {
        memcpy(s->buffer + s->buffered, p, length);
        s->buffered += (uint32_t)length;
        return;
    }
    if (s->buffered > 0) {
        size_t fill = 16 - s->buffered;
        memcpy(s->buffer + s->buffered, p, fill);
        for (int i = 0; i < 4; i++) s->v[i] = round32(s->v[i], liteproof_le32(s->buffer + 4 * i));
        p += fill;
        s->buffered = 0;
    }
    uint32_t v0 = s->v[0], v1 = s->v[1], v2 = s->v[2], v3 = s->v[3];
    while (end - p >= 16) {
        v0 = round32(v0, liteproof_le32(p));
        v1 = round32(v1, liteproof_le32(p + 4));
        v2 = round32(v2, liteproof_le32(p + 8));
        v3 = round32(v3, liteproof_le32(p + 12));
        p += 16;
    }
    s->v[0] = v0, s->v[1] = v1, s->v[2] = v2, s->v[3] = v3;
    if (p < end) {
        memcpy(s->buffer, p, (size_t)(end - p));
        s->buffered = (uint32_t)(end - p);
    }
}

uint32_t liteproof_xxh32_digest(const liteproof_xxh32_state *s) {
    uint32_t acc;
    if (s->total >= 16) {
        acc = rotl32(s->v[0], 1) + rotl32(s->v[1], 7) + rotl32(s->v[2], 12) + rotl32(s->v[3], 18);
    } else {
        acc = s->seed + P5;
    }
    acc += (uint32_t)s->total;
    const uint8_t *p = s->buffer, *end = p + s->buffered;
    while (end - p >= 4) {
        acc = rotl32(acc + liteproof_le32(p) * P3, 17) * P4;
        p += 4;
    }
    while (p < end) {
        acc = rotl32(acc + (*p) * P5, 11) * P1;
        p++;
    }
    acc ^= acc >> 15;
    acc *= P2;
    acc ^= acc >> 13;
    acc *= P3;
    acc ^= acc >> 16;
    return acc;
}

uint32_t liteproof_xxh32(const void *input, size_t length, uint32_t seed) {
    liteproof_xxh32_state s;
    liteproof_xxh32_reset(&s, seed);
    liteproof_xxh32_update(&s, input, length);
    return liteproof_xxh32_digest(&s);
}
