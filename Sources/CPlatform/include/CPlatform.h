#ifndef LITEPROOF_CPLATFORM_H
#define LITEPROOF_CPLATFORM_H
#include <stdint.h>

/// Starts writeback of a file's dirty pages without waiting (Linux `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`; a no-op elsewhere). Returns 0 or -1 with errno.
int liteproof_start_writeback(int fd);
#endif
