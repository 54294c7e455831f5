// CRC-64/ISO as LTX files use it (Go's crc64.Update with the ISO table: reflected polynomial
// x^64 + x^4 + x^3 + x + 1, the register complemented before and after), written from the
// polynomial arithmetic.
//
// Long buffers are folded with carry-less multiplication (x86-64 PCLMULQDQ): the data is viewed
// as a polynomial over GF(2), and a 128-bit piece S followed by 128 more bits is worth
// S·x^128 mod P, which two 64×64 carry-less products compute (one per half of S, each with a
// constant x^k mod P). Four pieces are carried at once, 64 bytes apart (constants for x^512),
// then folded into one, and its 16 bytes go through the byte table like the tail. Without
// PCLMULQDQ, or for short buffers, slicing-by-8 tables.
//
// In the reflected bit order a 64-bit little-endian load holds coefficients x^63 (bit 0) down to
// x^0 (bit 63), and the carry-less product of two such values is the polynomial product times x;
// so each constant is x^(k-1) mod P, for k = 192 and 128 (one piece) and 576 and 512 (four).
#include <pthread.h>
#include <string.h>
#include "Bytes.h"
#include "CPlatform.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define LITEPROOF_CRC64_CLMUL 1
#endif

#define POLY_REVERSED 0xD800000000000000ull

// x^(k-1) mod P, bit-reflected, for the two halves of a piece (see above).
#define FOLD128_HIGH 0x6b70000000000001ull  // x^191
#define FOLD128_LOW  0xf500000000000001ull  // x^127
#define FOLD512_HIGH 0x01b001b1b0000001ull  // x^575
#define FOLD512_LOW  0xb100010100000001ull  // x^511

static uint64_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int use_clmul;

static void make_tables(void) {
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY_REVERSED : c >> 1;
        table[0][i] = c;
    }
    for (int i = 0; i < 256; i++) {
        uint64_t c = table[0][i];
        for (int t = 1; t < 8; t++) {
            c = table[0][c & 0xFF] ^ (c >> 8);
            table[t][i] = c;
        }
    }
#ifdef LITEPROOF_CRC64_CLMUL
    __builtin_cpu_init();
    use_clmul = __builtin_cpu_supports("pclmul");
#endif
}

// The register (already complemented) through `n` bytes, slicing-by-8.
static uint64_t by_table(uint64_t crc, const uint8_t *p, size_t n) {
    while (n >= 8) {
        uint64_t w = liteproof_le64(p) ^ crc;
        crc = table[7][w & 0xFF] ^ table[6][(w >> 8) & 0xFF] ^ table[5][(w >> 16) & 0xFF] ^ table[4][(w >> 24) & 0xFF]
            ^ table[3][(w >> 32) & 0xFF] ^ table[2][(w >> 40) & 0xFF] ^ table[1][(w >> 48) & 0xFF] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) crc = table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

#ifdef LITEPROOF_CRC64_CLMUL
__attribute__((target("pclmul"))) static inline __m128i fold(__m128i x, __m128i k) {
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

// The register through n bytes (n >= 64).
__attribute__((target("pclmul"))) static uint64_t by_clmul(uint64_t crc, const uint8_t *p, size_t n) {
    const __m128i k512 = _mm_set_epi64x((long long)FOLD512_LOW, (long long)FOLD512_HIGH);
    const __m128i k128 = _mm_set_epi64x((long long)FOLD128_LOW, (long long)FOLD128_HIGH);
    // The register enters as if XORed into the first 8 bytes (a reflected CRC's initial value).
    __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi64_si128((long long)crc));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    p += 64;
    n -= 64;
    while (n >= 64) {
        x0 = _mm_xor_si128(fold(x0, k512), _mm_loadu_si128((const __m128i *)p));
        x1 = _mm_xor_si128(fold(x1, k512), _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = _mm_xor_si128(fold(x2, k512), _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = _mm_xor_si128(fold(x3, k512), _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        n -= 64;
    }
    __m128i x = _mm_xor_si128(fold(x0, k128), x1);
    x = _mm_xor_si128(fold(x, k128), x2);
    x = _mm_xor_si128(fold(x, k128), x3);
    while (n >= 16) {
        x = _mm_xor_si128(fold(x, k128), _mm_loadu_si128((const __m128i *)p));
        p += 16;
        n -= 16;
    }
    // What is left is worth the same as these 16 bytes through the table from a zero register.
    uint8_t rest[16];
    _mm_storeu_si128((__m128i *)rest, x);
    return by_table(by_table(0, rest, 16), p, n);
}
#endif

uint64_t liteproof_crc64(uint64_t value, const void *data, size_t length) {
    pthread_once(&table_once, make_tables);
    uint64_t crc = ~value;
#ifdef LITEPROOF_CRC64_CLMUL
    if (use_clmul && length >= 64) return ~by_clmul(crc, data, length);
#endif
    return ~by_table(crc, data, length);
}

uint64_t liteproof_crc64_portable(uint64_t value, const void *data, size_t length) {
    pthread_once(&table_once, make_tables);
    return ~by_table(~value, data, length);
}
