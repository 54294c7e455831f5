// Whether an LZ4 block can be decoded in place: read into the end of a buffer and decoded into its
// start (liblz4's in-place decompression), with every byte of the block read before the output
// reaches it. Walks the block's sequences as the decoder does (token, literal length, literals,
// offset, match length) without producing anything, and keeps the distance between the next
// byte to read and the next byte to write at 32 or more after every match: liblz4's copies may
// write up to 32 bytes past their end. Where that holds, the decoder reads exactly the bytes it
// would read from a separate buffer, so it gives the same output or the same error.
//
// The LZ4 block format (from its public description): each sequence is a token (4 bits of
// literal length, 4 of match length), more literal-length bytes while they are 255 when the
// token says 15, the literals, a 2-byte offset, more match-length bytes likewise, and a match of
// that length plus 4; the last sequence ends after its literals.
#include "CPlatform.h"

int liteproof_lz4_in_place_safe(const uint8_t *block, size_t size, size_t start) {
    size_t ip = 0, op = 0;
    if (start < 32) return 0;
    while (ip < size) {
        unsigned token = block[ip++];
        size_t literals = token >> 4;
        if (literals == 15) {
            unsigned b;
            do {
                if (ip >= size) return 1;  // cut short: the decoder stops here, having written nothing more
                b = block[ip++];
                literals += b;
            } while (b == 255);
        }
        if (literals > size - ip) return 1;  // likewise: refused before the copy
        // The distance is unchanged by the literals (both ends advance by as much).
        ip += literals;
        op += literals;
        if (ip == size) return 1;  // the last sequence
        if (size - ip < 2) return 1;
        ip += 2;
        size_t match = token & 15;
        if (match == 15) {
            unsigned b;
            do {
                if (ip >= size) return 1;
                b = block[ip++];
                match += b;
            } while (b == 255);
        }
        op += match + 4;
        if (op + 32 > start + ip) return 0;
    }
    return 1;
}
