import CPlatform
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file opened read-only with `open(2)`, closed in `deinit`; or a small object's bytes held in
/// memory (``init(bytes:displayName:)``), read the same way.
///
/// All reads are positional (`pread`), so one handle can serve several threads.
// @unchecked: immutable after init (a descriptor or bytes, and sizes); `pread` is safe from any
// thread.
public final class ReadOnlyFile: @unchecked Sendable {
    public let path: String
    /// -1 when the bytes are in ``memory``.
    let fd: Int32
    /// The bytes, when they are held in memory rather than in a file.
    let memory: [UInt8]?
    /// Size of the file (or of the window onto it).
    public let size: Int64
    /// Where the window starts in the underlying file (0 for a whole file).
    let base: Int64
    /// Reads are clamped to the window; a whole file is read as the OS has it (it may have grown
    /// since it was opened, e.g. a spill file being written).
    let windowed: Bool

    /// Bytes still on their way into the file (see ``init(arriving:size:arrival:displayName:)``);
    /// nil when it is whole.
    let arrival: Arrival?

    /// Opens `path`; with `window`, only `size` bytes from `offset` are visible (a member of an
    /// uncompressed archive, read in place).
    public init(_ path: String, window: (offset: Int64, size: Int64)? = nil, displayName: String? = nil) throws {
        self.path = displayName ?? path
        let (fd, st) = try Self.openRegular(path, displayName: displayName)
        if let window {
            guard window.offset >= 0, window.size >= 0, window.offset + window.size <= Int64(st.st_size) else {
                close(fd)
                throw LiteProofError.storage(.transfer, "\(displayName ?? path) lies outside \(path)", path: displayName ?? path)
            }
            base = window.offset
            size = window.size
            windowed = true
        } else {
            base = 0
            size = Int64(st.st_size)
            windowed = false
        }
        arrival = nil
        memory = nil
        self.fd = fd
    }

    /// `bytes`, read as a file named `displayName` (an object downloaded into memory).
    public init(bytes: [UInt8], displayName: String) {
        path = displayName
        fd = -1
        memory = bytes
        base = 0
        size = Int64(bytes.count)
        windowed = true
        arrival = nil
    }

    /// Opens `path`, a file a download is still writing, that will hold `size` bytes: each read
    /// waits until its bytes have landed (``Arrival``), or throws the download's failure, so a
    /// reader works through an object while the rest of it is on its way.
    public init(arriving path: String, size: Int64, arrival: Arrival, displayName: String? = nil) throws {
        self.path = displayName ?? path
        (fd, _) = try Self.openRegular(path, displayName: displayName)
        base = 0
        self.size = max(0, size)
        windowed = true
        self.arrival = arrival
        memory = nil
    }

    /// Opens `path` read-only, refusing anything but a regular file.
    private static func openRegular(_ path: String, displayName: String?) throws -> (Int32, stat) {
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
            throw LiteProofError.storage(
                .notRegularFile, "\(displayName ?? path) is not a regular file (\(FS.kindName(st.st_mode))); LiteProof reads only regular files",
                path: displayName ?? path)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, st)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Reads up to `count` bytes at `offset` into `buffer`; returns how many were read (short only at EOF).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        var done = 0
        let want = windowed ? Int(max(0, min(Int64(buffer.count), size - offset))) : buffer.count
        if let arrival, want > 0 { try arrival.wait(through: base + offset + Int64(want)) }
        if let memory {
            guard want > 0 else { return 0 }
            guard offset >= 0 else { throw posixError("cannot read", path: path, errno: EINVAL) }
            memory.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: want) }
            return want
        }
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
