// A SQLite VFS for reading databases LiteProof wrote itself (a trial restore, a restore's output
// before it is renamed into place) with SQLite's checks, which read every page. Through the
// default VFS each page is one pread(2), and for a page-sized read the system call costs more
// than the copy it makes. Here the main database's reads that continue one another, forward or
// backward (SQLite's checks walk a b-tree page's children last to first), fill a private 256 KiB
// buffer with one pread and the next pages come from it; several such streams are followed at
// once. `quick_check` of a 343 MB restored database: 214 ms through the default VFS, 121 ms here.
//
// A read no stream continues goes to the default VFS as it is, and so does a read a buffer cannot
// hold whole (the end of the file): SQLite sees exactly what its own reads would give it. Memory
// is at most STREAMS buffers per open file. (A memory map was measured first: about as fast, but
// mapped page-cache folios count as the process's memory, and a restore written in large pieces
// has large folios: 110 MiB at the peak instead of 38.)
//
// Everything but the main database's reads goes to the default VFS unchanged.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "CPlatform.h"

#define READ_AHEAD (256 << 10)
/// A read that starts at most this far past a stream's last read (or ends this far before it)
/// still continues that stream.
#define STREAM_GAP (64 << 10)
/// Streams followed at once (a b-tree check reads several regions of a file in turn).
#define STREAMS 8

typedef struct {
    unsigned char *buffer;   // READ_AHEAD bytes, allocated when the stream first reads ahead
    sqlite3_int64 start;     // the file offset of buffer[0]
    sqlite3_int64 count;     // bytes in buffer
    sqlite3_int64 lastStart; // where the stream's previous read started…
    sqlite3_int64 lastEnd;   // …and ended
    uint64_t used;           // when the stream was last used (for replacing the oldest)
} Stream;

typedef struct {
    sqlite3_file base;       // pMethods: readahead_methods
    int fd;                  // our own descriptor of the file, -1 when it could not be opened
    Stream streams[STREAMS];
    uint64_t clock;
    sqlite3_file *real;      // the default VFS's file, stored right after this struct
} ReadAheadFile;

static sqlite3_vfs readahead_vfs;
static sqlite3_vfs *default_vfs;

static int readahead_close(sqlite3_file *f) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    if (m->fd >= 0) close(m->fd);
    m->fd = -1;
    for (int i = 0; i < STREAMS; i++) {
        sqlite3_free(m->streams[i].buffer);
        m->streams[i].buffer = NULL;
    }
    int rc = m->real->pMethods ? m->real->pMethods->xClose(m->real) : SQLITE_OK;
    return rc;
}

static _Atomic uint64_t served_total;

uint64_t liteproof_readahead_vfs_served(void) { return served_total; }

static int readahead_read(sqlite3_file *f, void *buf, int amount, sqlite3_int64 offset) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    sqlite3_int64 end = offset + amount;
    if (m->fd < 0 || amount <= 0 || amount > READ_AHEAD || offset < 0) {
        return m->real->pMethods->xRead(m->real, buf, amount, offset);
    }
    m->clock++;
    Stream *hit = NULL, *next = NULL, *oldest = &m->streams[0];
    int backward = 0;
    for (int i = 0; i < STREAMS; i++) {
        Stream *s = &m->streams[i];
        if (offset >= s->start && end <= s->start + s->count) {
            hit = s;
            break;
        }
        if (next == NULL && s->lastEnd > 0) {
            if (offset >= s->lastEnd && offset - s->lastEnd <= STREAM_GAP) {
                next = s;
            } else if (end <= s->lastStart && s->lastStart - end <= STREAM_GAP) {
                next = s;
                backward = 1;
            }
        }
        if (s->used < oldest->used) oldest = s;
    }
    if (hit == NULL && next != NULL) {
        // The read continues a stream (SQLite's checks walk some b-tree pages last to first):
        // fill its buffer with one read, from here on or up to here.
        if (next->buffer == NULL) next->buffer = sqlite3_malloc(READ_AHEAD);
        sqlite3_int64 from = backward ? (end > READ_AHEAD ? end - READ_AHEAD : 0) : offset;
        ssize_t n = -1;
        if (next->buffer != NULL) {
            do {
                n = pread(m->fd, next->buffer, READ_AHEAD, (off_t)from);
            } while (n < 0 && errno == EINTR);
        }
        next->start = from;
        next->count = n > 0 ? n : 0;
        if (offset >= next->start && end <= next->start + next->count) hit = next;
    }
    if (hit != NULL) {
        memcpy(buf, hit->buffer + (offset - hit->start), (size_t)amount);
        hit->lastStart = offset;
        hit->lastEnd = end;
        hit->used = m->clock;
        served_total += (uint64_t)amount;
        return SQLITE_OK;
    }
    // Not (yet) a stream: the default VFS reads it as it is, and it may start one.
    if (next == NULL) {
        next = oldest;
        next->start = 0;
        next->count = 0;
    }
    next->lastStart = offset;
    next->lastEnd = end;
    next->used = m->clock;
    return m->real->pMethods->xRead(m->real, buf, amount, offset);
}

static int readahead_write(sqlite3_file *f, const void *buf, int amount, sqlite3_int64 offset) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    return m->real->pMethods->xWrite(m->real, buf, amount, offset);
}
static int readahead_truncate(sqlite3_file *f, sqlite3_int64 size) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    return m->real->pMethods->xTruncate(m->real, size);
}
static int readahead_sync(sqlite3_file *f, int flags) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    return m->real->pMethods->xSync(m->real, flags);
}
static int readahead_file_size(sqlite3_file *f, sqlite3_int64 *size) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    return m->real->pMethods->xFileSize(m->real, size);
}
static int readahead_lock(sqlite3_file *f, int level) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    return m->real->pMethods->xLock(m->real, level);
}
static int readahead_unlock(sqlite3_file *f, int level) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    return m->real->pMethods->xUnlock(m->real, level);
}
static int readahead_check_reserved(sqlite3_file *f, int *out) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    return m->real->pMethods->xCheckReservedLock(m->real, out);
}
static int readahead_file_control(sqlite3_file *f, int op, void *arg) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    return m->real->pMethods->xFileControl(m->real, op, arg);
}
static int readahead_sector_size(sqlite3_file *f) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    return m->real->pMethods->xSectorSize(m->real);
}
static int readahead_device_characteristics(sqlite3_file *f) {
    ReadAheadFile *m = (ReadAheadFile *)f;
    return m->real->pMethods->xDeviceCharacteristics(m->real);
}

// Version 1: no shared memory (the file is opened immutable) and no xFetch, so SQLite's own
// memory mapping stays off and every read of the main database comes through readahead_read.
static const sqlite3_io_methods readahead_methods = {
    1,
    readahead_close,
    readahead_read,
    readahead_write,
    readahead_truncate,
    readahead_sync,
    readahead_file_size,
    readahead_lock,
    readahead_unlock,
    readahead_check_reserved,
    readahead_file_control,
    readahead_sector_size,
    readahead_device_characteristics,
    0, 0, 0, 0, 0, 0,
};

static int readahead_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *outFlags) {
    (void)vfs;
    if (!(flags & SQLITE_OPEN_MAIN_DB) || !(flags & SQLITE_OPEN_READONLY) || name == NULL) {
        // Not the main database read-only: the default VFS's file, in place (our size is larger).
        return default_vfs->xOpen(default_vfs, name, f, flags, outFlags);
    }
    ReadAheadFile *m = (ReadAheadFile *)f;
    memset(m, 0, sizeof(*m));
    m->real = (sqlite3_file *)(m + 1);
    int rc = default_vfs->xOpen(default_vfs, name, m->real, flags, outFlags);
    if (rc != SQLITE_OK) {
        m->real->pMethods = NULL;
        return rc;
    }
    m->base.pMethods = &readahead_methods;
    // Reading ahead is an optimisation: without a descriptor of our own, every read goes to the
    // default VFS.
    m->fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    return SQLITE_OK;
}

static int readahead_delete(sqlite3_vfs *v, const char *n, int s) { (void)v; return default_vfs->xDelete(default_vfs, n, s); }
static int readahead_access(sqlite3_vfs *v, const char *n, int f, int *o) { (void)v; return default_vfs->xAccess(default_vfs, n, f, o); }
static int readahead_full_pathname(sqlite3_vfs *v, const char *n, int c, char *o) { (void)v; return default_vfs->xFullPathname(default_vfs, n, c, o); }
static void *readahead_dlopen(sqlite3_vfs *v, const char *n) { (void)v; return default_vfs->xDlOpen(default_vfs, n); }
static void readahead_dlerror(sqlite3_vfs *v, int c, char *o) { (void)v; default_vfs->xDlError(default_vfs, c, o); }
static void (*readahead_dlsym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return default_vfs->xDlSym(default_vfs, h, s); }
static void readahead_dlclose(sqlite3_vfs *v, void *h) { (void)v; default_vfs->xDlClose(default_vfs, h); }
static int readahead_randomness(sqlite3_vfs *v, int n, char *o) { (void)v; return default_vfs->xRandomness(default_vfs, n, o); }
static int readahead_sleep(sqlite3_vfs *v, int us) { (void)v; return default_vfs->xSleep(default_vfs, us); }
static int readahead_current_time(sqlite3_vfs *v, double *t) { (void)v; return default_vfs->xCurrentTime(default_vfs, t); }
static int readahead_get_last_error(sqlite3_vfs *v, int n, char *o) { (void)v; return default_vfs->xGetLastError ? default_vfs->xGetLastError(default_vfs, n, o) : 0; }

static int register_result = SQLITE_ERROR;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;

static void register_readahead_vfs(void) {
    default_vfs = sqlite3_vfs_find(NULL);
    if (default_vfs == NULL) return;
    memset(&readahead_vfs, 0, sizeof(readahead_vfs));
    readahead_vfs.iVersion = 1;
    readahead_vfs.szOsFile = (int)sizeof(ReadAheadFile) + default_vfs->szOsFile;
    readahead_vfs.mxPathname = default_vfs->mxPathname;
    readahead_vfs.zName = LITEPROOF_READAHEAD_VFS;
    readahead_vfs.xOpen = readahead_open;
    readahead_vfs.xDelete = readahead_delete;
    readahead_vfs.xAccess = readahead_access;
    readahead_vfs.xFullPathname = readahead_full_pathname;
    readahead_vfs.xDlOpen = readahead_dlopen;
    readahead_vfs.xDlError = readahead_dlerror;
    readahead_vfs.xDlSym = readahead_dlsym;
    readahead_vfs.xDlClose = readahead_dlclose;
    readahead_vfs.xRandomness = readahead_randomness;
    readahead_vfs.xSleep = readahead_sleep;
    readahead_vfs.xCurrentTime = readahead_current_time;
    readahead_vfs.xGetLastError = readahead_get_last_error;
    register_result = sqlite3_vfs_register(&readahead_vfs, 0);
}

int liteproof_register_readahead_vfs(void) {
    pthread_once(&register_once, register_readahead_vfs);
    return register_result;
}
