import CPlatform
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file being written: positional writes, truncation, fsync. Closed in `deinit`.
// @unchecked: an immutable descriptor; `pwrite`, `ftruncate` and `fsync` are safe from any thread.
public final class OutputFile: @unchecked Sendable {
    public let path: String
    let fd: Int32

    /// Creates `path`, which must not exist (`O_EXCL`). Failures of this file (ENOSPC, EFBIG,
    /// EIO) are local: ``LiteProofError/localPath`` names it.
    public init(creating path: String, mode: mode_t = 0o644) throws {
        self.path = path
        Self.ignoreFileSizeSignal
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw localError("cannot create", path: path) }
        self.fd = fd
    }

    /// A write past `ulimit -f` raises SIGXFSZ, whose default action kills the process (leaving
    /// its temporary files): ignored (when left at its default), the write fails with EFBIG
    /// instead and is reported, and the temporary files are removed.
    private static let ignoreFileSizeSignal: Void = {
        var current = sigaction()
        if sigaction(SIGXFSZ, nil, &current) == 0, current.__sigaction_handler.sa_handler == nil {
            signal(SIGXFSZ, SIG_IGN)
        }
    }()

    deinit { close(fd) }

    /// Bytes written since writeback was last started.
    private var unsynced = 0
    /// Start writeback of dirty pages every this many bytes, so the final fsync has little left
    /// to do and disk time overlaps the restore's CPU time.
    public var writebackEvery = 64 << 20

    private let unsyncedLock = NSLock()

    /// The largest single `pwrite` (unlimited unless set). Linux (6.16+ on ext4) sizes a
    /// page-cache folio by the write that creates it, and a later 4 KiB write into a folio costs
    /// work in proportion to the folio's size: on this project's test machine, 100,000 random
    /// 4 KiB writes into a file written in 1 MiB pieces took 0.56 s, in 64 KiB pieces 0.29 s. A
    /// file whose pages are written again (a 0.3 restore: the snapshot, then the WAL's versions)
    /// sets 64 KiB: that cut the update-heavy benchmark's system time from 0.9 s to 0.4 s
    /// (`Benchmarks/README.md`).
    public var largestWrite = Int.max

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        // Several threads write one output (0.5 restores): the counter is shared.
        unsyncedLock.lock()
        unsynced += bytes.count
        let start = unsynced >= writebackEvery
        if start { unsynced = 0 }
        unsyncedLock.unlock()
        if start { startWriteback() }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, min(bytes.count - done, largestWrite), off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw localError("cannot write", path: path)
            }
            done += n
        }
    }

    /// Copies `count` bytes of `file` from `source` (its start unless given) to `offset` of this
    /// file, inside the kernel where it can (no buffer in this process), else through a 256 KiB
    /// buffer; throws when `file` ends first (naming it and where).
    public func copy(from file: ReadOnlyFile, at source: Int64 = 0, count: Int64, at offset: Int64) throws {
        var done: Int64 = 0
        var kernel = !file.windowed
        var buffer: [UInt8] = []
        while done < count {
            var n: Int64
            if kernel {
                n = liteproof_copy_range(file.fd, file.base + source + done, fd, offset + done, count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    guard [ENOSYS, EXDEV, EINVAL, EOPNOTSUPP, EBADF].contains(errno) else { throw localError("cannot write", path: path) }
                    kernel = false
                    continue
                }
            } else {
                if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: Int(min(count, 256 << 10))) }
                let want = Int(min(Int64(buffer.count), count - done))
                n = Int64(try buffer.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), at: source + done) })
                if n > 0 { try buffer.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<Int(n)]), at: offset + done) } }
            }
            guard n > 0 else {
                throw LiteProofError.storage(.local, "\(file.path) ended after \(source + done) of \(source + count) bytes")
            }
            done += n
        }
    }

    /// Asks the kernel to begin writing dirty pages to disk without waiting (`sync_file_range`
    /// with `SYNC_FILE_RANGE_WRITE`); a hint only, errors surface at ``sync()``.
    public func startWriteback() {
        _ = liteproof_start_writeback(fd)
    }

    /// ``startWriteback()`` for `range` of the file only.
    public func startWriteback(_ range: Range<Int64>) {
        _ = liteproof_start_writeback_range(fd, range.lowerBound, range.upperBound - range.lowerBound)
    }

    public func truncate(to size: Int64) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw localError("cannot truncate", path: path) }
    }

    public func sync() throws {
        guard fsync(fd) == 0 else { throw localError("cannot fsync", path: path) }
    }

    public func currentSize() throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw localError("cannot stat", path: path) }
        return Int64(st.st_size)
    }
}
