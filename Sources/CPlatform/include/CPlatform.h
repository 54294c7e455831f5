#ifndef LITEPROOF_CPLATFORM_H
#define LITEPROOF_CPLATFORM_H
#include <stddef.h>
#include <stdint.h>

/// Starts writeback of a file's dirty pages without waiting (Linux `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`; a no-op elsewhere). Returns 0 or -1 with errno.
int liteproof_start_writeback(int fd);
/// The same for `length` bytes from `offset` only.
int liteproof_start_writeback_range(int fd, int64_t offset, int64_t length);

/// Makes allocations of `threshold` bytes or more come from mmap, so that freeing them returns
/// the memory to the system (glibc's `M_MMAP_THRESHOLD`; a no-op elsewhere).
void liteproof_mmap_large_buffers(size_t threshold);
/// glibc: at most `count` malloc arenas (each thread that allocates may otherwise get its own).
void liteproof_limit_arenas(int count);
/// glibc: gives the free pages inside every malloc arena back to the system (`malloc_trim`).
void liteproof_trim_heap(void);
/// Copies up to `length` bytes between two files inside the kernel (Linux `copy_file_range`);
/// the bytes copied (0 at the source's end), or -1 with `errno` (ENOSYS elsewhere).
int64_t liteproof_copy_range(int in, int64_t inOffset, int out, int64_t outOffset, int64_t length);

/// Streaming XXH32 (the checksum of LZ4 frame headers and contents).
typedef struct {
    uint32_t v[4];
    uint64_t total;
    uint8_t buffer[16];
    uint32_t buffered;
    uint32_t seed;
} liteproof_xxh32_state;

void liteproof_xxh32_reset(liteproof_xxh32_state *state, uint32_t seed);
void liteproof_xxh32_update(liteproof_xxh32_state *state, const void *input, size_t length);
uint32_t liteproof_xxh32_digest(const liteproof_xxh32_state *state);
/// Whether the LZ4 block of `size` bytes at offset `start` of a buffer can be decoded into the
/// buffer's start without its output overwriting a byte of it not yet read (`LZ4InPlace.c`).
int liteproof_lz4_in_place_safe(const uint8_t *block, size_t size, size_t start);
/// SQLite's WAL checksum of `length` bytes (a multiple of 8), continuing from (*s0, *s1);
/// `bigEndian` as the WAL header's magic says.
void liteproof_wal_checksum(const void *data, size_t length, int bigEndian, uint32_t *s0, uint32_t *s1);

/// CRC-64/ISO as Go's `crc64.Update(value, crc64.MakeTable(crc64.ISO), data)` computes it (the
/// LTX file checksum): carry-less multiplication where the processor has it (`CRC64.c`).
uint64_t liteproof_crc64(uint64_t value, const void *data, size_t length);
/// The same with tables only (for tests: the two must agree).
uint64_t liteproof_crc64_portable(uint64_t value, const void *data, size_t length);

/// XXH32 of one buffer.
uint32_t liteproof_xxh32(const void *input, size_t length, uint32_t seed);

/// The name of the SQLite VFS that reads a read-only main database ahead, 256 KiB at a time, when
/// its reads run forward (`ReadAheadVFS.c`): for files LiteProof wrote and nobody else changes.
#define LITEPROOF_READAHEAD_VFS "liteproof-readahead"
/// Registers that VFS (once; not as the default). Returns SQLITE_OK (0) or SQLite's error code.
int liteproof_register_readahead_vfs(void);
/// Bytes this process's reads through that VFS took from its read-ahead buffers (for tests).
uint64_t liteproof_readahead_vfs_served(void);
#endif
