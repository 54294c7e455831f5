import CPlatform
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file opened read-only with `open(2)`; closed in `deinit`.
///
/// All reads are positional (`pread`), so one handle can serve several threads.
public final class ReadOnlyFile: @unchecked Sendable {
    public let path: String
    let fd: Int32
    /// Size of the file (or of the window onto it).
    public let size: Int64
    /// Where the window starts in the underlying file (0 for a whole file).
    let base: Int64
    /// Reads are clamped to the window; a whole file is read as the OS has it (it may have grown
    /// since it was opened, e.g. a spill file being written).
    let windowed: Bool

    /// Opens `path`; with `window`, only `size` bytes from `offset` are visible (a member of an
    /// uncompressed archive, read in place).
    public init(_ path: String, window: (offset: Int64, size: Int64)? = nil, displayName: String? = nil) throws {
        self.path = displayName ?? path
        // O_NONBLOCK: opening a FIFO (or a device) named like a replica file must not wait for a
        // writer; anything but a regular file is refused before it is read.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw posixError("cannot open", path: path) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw posixError("cannot stat", path: path, errno: e)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw LiteProofError(.io, "\(path) is not a regular file (\(FS.kindName(st.st_mode))); LiteProof reads only regular files")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        if let window {
            guard window.offset >= 0, window.size >= 0, window.offset + window.size <= Int64(st.st_size) else {
                close(fd)
                throw LiteProofError(.io, "\(displayName ?? path) lies outside \(path)")
            }
            base = window.offset
            size = window.size
            windowed = true
        } else {
            base = 0
            size = Int64(st.st_size)
            windowed = false
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Reads up to `count` bytes at `offset` into `buffer`; returns how many were read (short only at EOF).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        var done = 0
        let want = windowed ? Int(max(0, min(Int64(buffer.count), size - offset))) : buffer.count
        while done < want {
            let n = pread(fd, buffer.baseAddress! + done, want - done, off_t(base + offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw posixError("cannot read", path: path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads exactly `count` bytes at `offset`, or fewer when the file ends first.
    public func read(count: Int, at offset: Int64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        if n < count { bytes.removeLast(count - n) }
        return bytes
    }

    /// Calls `body` with successive chunks of the file, in order, from `offset` to the end.
    public func forEachChunk(
        from offset: Int64 = 0, chunkSize: Int = 1 << 20,
        _ body: (UnsafeRawBufferPointer, Int64) throws -> Void
    ) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var position = offset
        while position < size {
            let n = try read(into: buffer, at: position)
            if n == 0 { break }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), position)
            position += Int64(n)
        }
    }
}

/// A file being written: positional writes, truncation, fsync. Closed in `deinit`.
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

/// Small file-system helpers used across the pipeline.
public enum FS {
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Modification time in seconds since the epoch (with nanoseconds), or nil.
    public static func modificationTime(_ path: String) -> Double? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    public static func fileSize(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// Entries of a folder (names only, no "." or ".."), sorted; nil when it is not a readable folder.
    public static func list(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Every regular file below `root`, as paths relative to it (symbolic links are not followed).
    public static func walk(_ root: String) -> [String] {
        var out: [String] = []
        func visit(_ rel: String) {
            let full = rel.isEmpty ? root : root + "/" + rel
            guard let names = list(full) else { return }
            for name in names {
                let childRel = rel.isEmpty ? name : rel + "/" + name
                var st = stat()
                guard lstat(root + "/" + childRel, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: visit(childRel)
                default: out.append(childRel)
                }
            }
        }
        visit("")
        return out
    }

    /// Removes a file, ignoring a missing one.
    public static func remove(_ path: String) {
        unlink(path)
    }

    /// Removes a folder tree.
    public static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Refuses an output path LiteProof may not write: an existing entry unless `force`, and —
    /// even with `force` — anything that is not a regular file (a device, a FIFO, a socket, a
    /// symbolic link, a folder), which is never replaced.
    public static func checkOutput(_ path: String, force: Bool) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw LiteProofError(
                .usage, "\(path) is \(kindName(st.st_mode)), not a regular file; LiteProof writes only regular files and never replaces anything else")
        }
        if !force { throw LiteProofError(.usage, "\(path) already exists; LiteProof never overwrites a file unless given --force") }
    }

    /// Writes `bytes` to `path` as a new regular file: checked with ``checkOutput(_:force:)``,
    /// written to a recorded temporary file beside it (removed on failure or a signal), fsynced
    /// and renamed into place.
    public static func writeOutput(_ bytes: some Collection<UInt8>, to path: String, force: Bool) throws {
        try checkOutput(path, force: force)
        let dir = (path as NSString).deletingLastPathComponent
        let temp = (dir.isEmpty ? "." : dir) + "/." + (path as NSString).lastPathComponent + ".liteproof-\(getpid()).tmp"
        let out = try ScratchSpace.createFile(temp)
        var renamed = false
        defer { if renamed { ScratchSpace.keep(temp) } else { ScratchSpace.release(temp) } }
        try Array(bytes).withUnsafeBytes { try out.write($0, at: 0) }
        try out.sync()
        try checkOutput(path, force: force)  // nothing appeared meanwhile
        guard rename(temp, path) == 0 else { throw localError("cannot rename the output to", path: path) }
        renamed = true
    }

    /// Refuses an input given by the user (a live database) that exists but is not a regular
    /// file (symbolic links followed), before anything opens it: a FIFO would block the open.
    public static func checkInput(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw LiteProofError(.usage, "\(path) is not a regular file (\(kindName(st.st_mode))); LiteProof reads only regular files")
        }
    }

    /// What kind of file a `st_mode` names, for messages ("a FIFO", "a character device", …).
    static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file"
        }
    }

    /// fsyncs a folder, so a rename inside it is durable.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
