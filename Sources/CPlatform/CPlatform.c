#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "CPlatform.h"

int liteproof_start_writeback(int fd) {
#ifdef SYNC_FILE_RANGE_WRITE
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    return 0;
#endif
}

int liteproof_start_writeback_range(int fd, int64_t offset, int64_t length) {
#ifdef SYNC_FILE_RANGE_WRITE
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd, (void)offset, (void)length;
    return 0;
#endif
}

int64_t liteproof_copy_range(int in, int64_t inOffset, int out, int64_t outOffset, int64_t length) {
#ifdef __linux__
    off_t i = (off_t)inOffset, o = (off_t)outOffset;
    return (int64_t)copy_file_range(in, &i, out, &o, (size_t)length, 0);
#else
    (void)in, (void)inOffset, (void)out, (void)outOffset, (void)length;
    errno = ENOSYS;
    return -1;
#endif
}

void liteproof_trim_heap(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void liteproof_limit_arenas(int count) {
#ifdef __GLIBC__
    mallopt(M_ARENA_MAX, count);
#else
    (void)count;
#endif
}

void liteproof_mmap_large_buffers(size_t threshold) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, (int)threshold);
#else
    (void)threshold;
#endif
}
