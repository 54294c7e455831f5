#define _GNU_SOURCE
#include <fcntl.h>
#include "CPlatform.h"

int liteproof_start_writeback(int fd) {
#ifdef SYNC_FILE_RANGE_WRITE
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    return 0;
#endif
}
