import CZstd
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// Replicas inside archives: a `.tar` is read in place (each member is a window onto the archive);
// a `.tar.zst` is decompressed once, as a stream, into a private scratch folder. Both parse the tar
// headers here (ustar, pax, GNU) and refuse archives that could write or point outside the replica.

/// The archive forms a replica can come in, by file name.
public enum ArchiveKind: String, Sendable {
    /// An uncompressed tar (ustar, pax or GNU), read in place.
    case tar
    /// A tar compressed with zstd (`.tar.zst`, `.tar.zstd`, `.tzst`), extracted to a scratch folder.
    case tarZstd = "tar.zst"

    /// The kind named by the end of `fileName` (case-insensitive), or nil.
    public init?(fileName: String) {
        let name = fileName.lowercased()
        if name.hasSuffix(".tar") {
            self = .tar
        } else if name.hasSuffix(".tar.zst") || name.hasSuffix(".tar.zstd") || name.hasSuffix(".tzst") {
            self = .tarZstd
        } else {
            return nil
        }
    }

    /// The extensions LiteProof opens as archives, for messages.
    public static let extensionList = ".tar, .tar.zst, .tar.zstd or .tzst"
}

/// Limits an archive must stay within; anything past one refuses the archive.
public struct ArchiveLimits: Sendable {
    /// Members (files and folders; extended headers not counted).
    public var maxMembers = 1_000_000
    /// Size one member may claim.
    public var maxMemberSize: Int64 = 1 << 40
    /// Bytes a `.tar.zst` may decompress to (its whole tar stream), and that its members may total.
    public var maxExtractBytes: Int64 = 64 << 30
    /// Free space to leave on the scratch folder's file system after extracting a member.
    public var minFreeBytes: Int64 = 64 << 20
    /// Size of one extended header (pax record set, GNU long name), read into memory.
    public var maxMetadataSize = 1 << 20

    public init() {}

    /// Environment variable overriding ``maxExtractBytes``: bytes, or a number with K, M, G or T
    /// (binary units).
    public static let extractLimitVariable = "LITEPROOF_MAX_EXTRACT_BYTES"

    /// The defaults, with ``maxExtractBytes`` taken from `LITEPROOF_MAX_EXTRACT_BYTES` when set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> ArchiveLimits
    {
        var limits = ArchiveLimits()
        if let text = environment[extractLimitVariable], !text.isEmpty {
            guard let value = parseByteCount(text) else {
                throw LiteProofError(
                    .usage, "\(extractLimitVariable)=\(text) is not a byte count (e.g. 68719476736, 64G or 500M)")
            }
            limits.maxExtractBytes = value
        }
        return limits
    }

    static func parseByteCount(_ text: String) -> Int64? {
        var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
        if digits.hasSuffix("IB") { digits.removeLast(2) } else if digits.hasSuffix("B") { digits.removeLast() }
        var shift: Int64 = 0
        if let unit = digits.last, let s = ["K": 10, "M": 20, "G": 30, "T": 40][String(unit)] {
            shift = Int64(s)
            digits.removeLast()
        }
        guard let n = Int64(digits), n >= 0, n <= Int64.max >> shift else { return nil }
        return n << shift
    }
}

/// Opens archives of replicas.
public enum ArchiveStorage {
    /// Opens the archive at `path` (an absolute path), by its extension: a ``TarStorage`` or a
    /// ``ZstdTarStorage``. `limits` default to ``ArchiveLimits/fromEnvironment(_:)``.
    public static func open(_ path: String, limits: ArchiveLimits? = nil) throws -> any ReplicaStorage {
        guard let kind = ArchiveKind(fileName: path) else {
            throw LiteProofError(.usage, "not a \(ArchiveKind.extensionList) archive: \(path)")
        }
        switch kind {
        case .tar: return try TarStorage(archive: path, limits: limits)
        case .tarZstd: return try ZstdTarStorage(archive: path, limits: limits)
        }
    }

    /// Whether `path` is a regular file (symbolic links followed).
    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The folder to treat as the replica root: when every file lies in one top folder and the
    /// paths below it are a replica layout (people tar the folder itself), that folder plus `/`;
    /// otherwise "".
    static func commonRoot(_ names: [String]) -> String {
        guard let first = names.first, let slash = first.firstIndex(of: "/") else { return "" }
        let prefix = String(first[...slash])
        guard names.allSatisfy({ $0.hasPrefix(prefix) }) else { return "" }
        let below = names.map { String($0.dropFirst(prefix.count)) }
        return below.contains(where: looksLikeReplicaPath) ? prefix : ""
    }

    /// `generations/…` (Litestream 0.3), `ltx/…` (0.5) or `<level %04x>/…` (0.5 on S3).
    static func looksLikeReplicaPath(_ path: String) -> Bool {
        if path.hasPrefix("generations/") || path.hasPrefix("ltx/") { return true }
        guard let slash = path.firstIndex(of: "/") else { return false }
        return isHex(String(path[..<slash]), count: 4)
    }

    /// The listing a storage serves, with the common top folder (if any) stripped.
    static func listing(_ entries: [TarEntry]) -> (root: String, files: [StoredFile], byPath: [String: TarEntry]) {
        let root = commonRoot(entries.map(\.name))
        var files: [StoredFile] = []
        var byPath: [String: TarEntry] = [:]
        files.reserveCapacity(entries.count)
        for entry in entries {
            let rel = String(entry.name.dropFirst(root.count))
            files.append(StoredFile(path: rel, size: entry.size, modified: entry.mtime.value))
            byPath[rel] = entry
        }
        return (root, files, byPath)
    }

    static func refuseEmpty(_ archive: String, _ entries: [TarEntry]) throws {
        if entries.isEmpty { throw LiteProofError(.usage, "\(archive) holds no files (an empty archive)") }
    }
}

// MARK: - .tar, read in place

/// A replica in an uncompressed tar: headers are read once; each member is served in place as a
/// window onto the archive (``ReadOnlyFile/init(_:window:displayName:)``), nothing is extracted.
public struct TarStorage: ReplicaStorage {
    /// The archive's path.
    public let archive: String
    /// The top folder stripped from member names ("" or `name/`).
    public let memberPrefix: String
    let listing: [StoredFile]
    let members: [String: TarEntry]

    /// Reads every header of `archive`; throws (`.usage`) when the archive is malformed or hostile.
    public init(archive: String, limits: ArchiveLimits? = nil) throws {
        let limits = try limits ?? .fromEnvironment()
        let file = try ReadOnlyFile(archive)
        if file.size == 0 { throw LiteProofError(.usage, "\(archive) is empty (0 bytes), not a tar archive") }
        var entries: [TarEntry] = []
        try TarScanner(archive: archive, limits: limits).scan(FileTarSource(file)) { entries.append($0) }
        try ArchiveStorage.refuseEmpty(archive, entries)
        let (root, files, byPath) = ArchiveStorage.listing(entries)
        self.archive = archive
        self.memberPrefix = root
        self.listing = files
        self.members = byPath
    }

    public var location: String { archive }

    public func files() -> [StoredFile] { listing }

    public func open(_ path: String) throws -> ReadOnlyFile {
        guard let m = members[path] else { throw LiteProofError(.io, "\(archive) holds no member \(path)") }
        return try ReadOnlyFile(archive, window: (m.dataOffset, m.size), displayName: "\(archive):\(m.name)")
    }
}

// MARK: - .tar.zst, extracted to a scratch folder

/// A replica in a zstd-compressed tar: the archive is decompressed once as a stream (bounded
/// memory) and its files are written into a private scratch folder, removed when this storage
/// goes away, at process exit, or on SIGINT/SIGTERM/SIGHUP/SIGPIPE (see ``ScratchFolders``).
public final class ZstdTarStorage: ReplicaStorage {
    /// The archive's path.
    public let archive: String
    /// The private folder holding the extracted files (never shown in reports).
    public let scratch: String
    /// The top folder stripped from member names ("" or `name/`).
    public let memberPrefix: String
    let listing: [StoredFile]
    let members: Set<String>

    /// Extracts `archive` into a new scratch folder under `scratchParent` (default `$TMPDIR` or
    /// /tmp); throws (`.usage`) when the archive is malformed or hostile, leaving nothing behind.
    public init(archive: String, limits: ArchiveLimits? = nil, scratchParent: String? = nil) throws {
        let limits = try limits ?? .fromEnvironment()
        let (scratch, entries) = try Self.extract(archive, limits: limits, scratchParent: scratchParent)
        let (root, files, byPath) = ArchiveStorage.listing(entries)
        self.archive = archive
        self.scratch = scratch
        self.memberPrefix = root
        self.listing = files
        self.members = Set(byPath.keys)
    }

    deinit { ScratchFolders.release(scratch) }

    public var location: String { archive }

    public func files() -> [StoredFile] { listing }

    public func open(_ path: String) throws -> ReadOnlyFile {
        guard members.contains(path) else { throw LiteProofError(.io, "\(archive) holds no member \(path)") }
        return try ReadOnlyFile(scratch + "/" + memberPrefix + path, displayName: "\(archive):\(memberPrefix + path)")
    }

    /// Decompresses and extracts; on any failure removes the scratch folder before throwing.
    static func extract(_ archive: String, limits: ArchiveLimits, scratchParent: String?) throws
        -> (String, [TarEntry])
    {
        let file = try ReadOnlyFile(archive)
        if file.size == 0 { throw LiteProofError(.usage, "\(archive) is empty (0 bytes), not a .tar.zst archive") }
        let scratch = try ScratchFolders.make(in: scratchParent)
        do {
            let source = try ZstdTarSource(file, archive: archive, limit: limits.maxExtractBytes)
            let writer = ScratchWriter(archive: archive, scratch: scratch, limits: limits)
            var entries: [TarEntry] = []
            try TarScanner(archive: archive, limits: limits).scan(source) { entry in
                try writer.write(entry, from: source)
                entries.append(entry)
            }
            // Read the zstd stream to its end, so a damaged or truncated tail is not missed.
            while try source.skip(1 << 20) > 0 {}
            try ArchiveStorage.refuseEmpty(archive, entries)
            return (scratch, entries)
        } catch {
            ScratchFolders.release(scratch)
            throw error
        }
    }
}

/// Writes extracted members below a scratch folder: parent folders made one by one below it
/// (never the folder itself), files created exclusively, mtimes set from the archive.
final class ScratchWriter {
    let archive: String
    let scratch: String
    let limits: ArchiveLimits
    private var folders: Set<String> = []
    private var extracted: Int64 = 0
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

    init(archive: String, scratch: String, limits: ArchiveLimits) {
        self.archive = archive
        self.scratch = scratch
        self.limits = limits
    }

    deinit { buffer.deallocate() }

    func write(_ entry: TarEntry, from source: TarSource) throws {
        extracted += entry.size
        if extracted > limits.maxExtractBytes {
            throw tarRefusal(
                archive,
                "would bring the extracted total to \(extracted) bytes, past the limit of \(Units.bytes(limits.maxExtractBytes)) (set \(ArchiveLimits.extractLimitVariable) to raise it)",
                member: entry.name, at: entry.headerOffset)
        }
        try checkFreeSpace(for: entry)
        let parts = entry.name.split(separator: "/").map(String.init)
        var dir = ""
        for part in parts.dropLast() {
            dir += (dir.isEmpty ? "" : "/") + part
            if folders.contains(dir) { continue }
            try ScratchFolders.creatingEntry {
                if mkdir(scratch + "/" + dir, 0o700) != 0 && errno != EEXIST {
                    throw posixError("cannot make the folder", path: scratch + "/" + dir)
                }
            }
            folders.insert(dir)
        }
        let out = try ScratchFolders.creatingEntry { try OutputFile(creating: scratch + "/" + entry.name, mode: 0o600) }
        var written: Int64 = 0
        while written < entry.size {
            let want = Int(min(Int64(buffer.count), entry.size - written))
            let n = try source.readFully(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            try out.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), at: written)
            written += Int64(n)
            if n < want {
                throw tarRefusal(
                    archive, "is truncated: the archive ends \(written) bytes into this member of \(entry.size) bytes",
                    member: entry.name, at: entry.headerOffset)
            }
        }
        let t = timespec(tv_sec: Int(entry.mtime.seconds), tv_nsec: Int(entry.mtime.nanoseconds))
        var times = [t, t]
        guard futimens(out.fd, &times) == 0 else { throw posixError("cannot set the time of", path: out.path) }
    }

    /// Refuses to extract a member that would leave less than ``ArchiveLimits/minFreeBytes`` free.
    private func checkFreeSpace(for entry: TarEntry) throws {
        var fs = statvfs()
        guard statvfs(scratch, &fs) == 0 else { throw posixError("cannot read the free space of", path: scratch) }
        let (bytes, overflow) = UInt64(fs.f_bavail).multipliedReportingOverflow(by: UInt64(fs.f_frsize))
        let available = overflow ? Int64.max : Int64(clamping: bytes)
        if entry.size > available - limits.minFreeBytes {
            let parent = (scratch as NSString).deletingLastPathComponent
            throw tarRefusal(
                archive,
                "needs \(Units.bytes(entry.size)) but \(parent) has \(Units.bytes(available)) free and LiteProof keeps \(Units.bytes(limits.minFreeBytes)) free; free some space or set TMPDIR to a larger disk",
                member: entry.name, at: entry.headerOffset)
        }
    }
}

// MARK: - Scratch folders: removal at deinit, exit and on signals

/// The scratch folders of live ``ZstdTarStorage`` values, removed at process exit (`atexit`) and,
/// for each of SIGINT, SIGTERM, SIGHUP and SIGPIPE (`liteproof verify x.tar.zst | head`) the
/// process had left at its default action, when that signal arrives: a handler writes the signal number to a pipe, a watcher thread removes the
/// folders, restores the default action and raises the signal again (so the exit status is kept).
enum ScratchFolders {
    private static let lock = NSLock()
    /// Held while folders are removed, so that an exit or a signal waits for a removal under way
    /// (and the other way round) instead of ending the process halfway through it. Never taken
    /// while holding `lock`.
    private static let removing = NSLock()
    nonisolated(unsafe) private static var folders: Set<String> = []
    nonisolated(unsafe) private static var installed = false
    /// Set once the folders are being removed for good (exit, signal): nothing new is created.
    nonisolated(unsafe) private static var closing = false

    /// Makes a scratch folder (`FS.makeScratchDirectory`) and records it, under the lock, with the
    /// exit and signal handlers already in place: no moment where a folder exists unrecorded.
    static func make(in parent: String?) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if closing {
            lock.unlock()
            while true { sleep(60) }
        }
        if !installed {
            installed = true
            atexit { ScratchFolders.removeAll() }
            installSignalHandlers()
        }
        let path = try FS.makeScratchDirectory(prefix: "liteproof-archive", in: parent)
        folders.insert(path)
        return path
    }

    /// Removes one folder and forgets it.
    static func release(_ path: String) {
        lock.lock()
        folders.remove(path)
        lock.unlock()
        removing.lock()
        defer { removing.unlock() }
        removeTree(path)
    }

    /// Runs `body`, which adds one entry to a scratch folder, unless the folders are being removed
    /// at exit or on a signal: then the calling thread waits for the end of the process, so the
    /// removal never races a new entry.
    static func creatingEntry<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        if closing {
            lock.unlock()
            while true { sleep(60) }
        }
        return try body()
    }

    static func removeAll() {
        lock.lock()
        closing = true
        let all = folders
        folders.removeAll()
        lock.unlock()
        removing.lock()
        defer { removing.unlock() }
        for path in all { removeTree(path) }
    }

    /// Removes a tree, carrying on past entries that vanish or fail (another thread may be
    /// removing the same tree: a signal arriving during a storage's `deinit`).
    private static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in FS.list(path) ?? [] { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    private static func installSignalHandlers() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        scratchSignalPipe = fds[1]
        let readEnd = fds[0]
        let watcher = Thread {
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n == 1 { break }
                if n < 0 && errno == EINTR { continue }
                return
            }
            ScratchFolders.removeAll()
            let sig = Int32(byte)
            signal(sig, SIG_DFL)
            var unblock = sigset_t()
            sigemptyset(&unblock)
            sigaddset(&unblock, sig)
            pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
            raise(sig)
            _exit(128 + sig)
        }
        watcher.name = "liteproof-scratch-cleanup"
        watcher.start()
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] {
            var current = sigaction()
            guard sigaction(sig, nil, &current) == 0, current.__sigaction_handler.sa_handler == nil else { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = scratchSignalHandler
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
    }
}

/// Write end of the pipe the signal handler reports to (set once, before the handler is installed).
nonisolated(unsafe) private var scratchSignalPipe: Int32 = -1

/// Async-signal-safe: writes the signal number to the watcher's pipe.
private func scratchSignalHandler(_ sig: Int32) {
    var byte = UInt8(truncatingIfNeeded: sig)
    _ = write(scratchSignalPipe, &byte, 1)
}

// MARK: - Tar parsing

/// A member time: whole seconds and nanoseconds (pax `mtime` keeps fractions).
struct TarTime: Hashable, Sendable {
    var seconds: Int64
    var nanoseconds: Int32

    var value: Double { Double(seconds) + Double(nanoseconds) / 1e9 }

    /// A pax `mtime` value: `[-]seconds[.fraction]`.
    init?(pax text: String) {
        var s = Substring(text)
        let negative = s.hasPrefix("-")
        if negative { s = s.dropFirst() }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit), let secs = Int64(whole) else {
            return nil
        }
        var nanos: Int32 = 0
        if parts.count == 2 {
            let frac = parts[1]
            guard frac.allSatisfy(\.isASCIIDigit) else { return nil }
            let digits = String(frac.prefix(9)).padding(toLength: 9, withPad: "0", startingAt: 0)
            nanos = Int32(digits) ?? 0
        }
        if negative {
            self.init(seconds: nanos > 0 ? -secs - 1 : -secs, nanoseconds: nanos > 0 ? 1_000_000_000 - nanos : 0)
        } else {
            self.init(seconds: secs, nanoseconds: nanos)
        }
    }

    init(seconds: Int64, nanoseconds: Int32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// A regular-file member, after its extended headers were applied and its name checked.
struct TarEntry: Sendable {
    /// Relative path, no leading `./`, no empty, `.` or `..` components.
    var name: String
    var size: Int64
    var mtime: TarTime
    /// Where the member's header starts in the tar stream.
    var headerOffset: Int64
    /// Where its data starts in the tar stream.
    var dataOffset: Int64
}

/// Bytes of a tar stream, read in order.
protocol TarSource: AnyObject {
    /// Bytes of the tar stream consumed so far.
    var position: Int64 { get }
    /// The stream's total size when known (an uncompressed archive).
    var knownSize: Int64? { get }
    /// Reads up to `buffer.count` bytes; fewer only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Skips up to `count` bytes; returns how many (fewer only at the end).
    func skip(_ count: Int64) throws -> Int64
}

extension TarSource {
    /// Reads until `buffer` is full or the stream ends.
    func readFully(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            if n == 0 { break }
            done += n
        }
        return done
    }
}

/// An uncompressed archive: reads with `pread`, skips by moving the position.
final class FileTarSource: TarSource {
    let file: ReadOnlyFile
    private(set) var position: Int64 = 0

    init(_ file: ReadOnlyFile) { self.file = file }

    var knownSize: Int64? { file.size }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try file.read(into: buffer, at: position)
        position += Int64(n)
        return n
    }

    func skip(_ count: Int64) throws -> Int64 {
        let n = max(0, min(count, file.size - position))
        position += n
        return n
    }
}

/// A zstd-compressed archive, decompressed as it is read with `ZSTD_decompressStream` through
/// fixed buffers (`ZSTD_DStreamInSize`/`ZSTD_DStreamOutSize`; the window is capped at zstd's
/// default 128 MiB), so memory stays bounded whatever the archive's size.
final class ZstdTarSource: TarSource {
    let file: ReadOnlyFile
    let archive: String
    /// Most bytes the stream may decompress to.
    let limit: Int64
    private let stream: OpaquePointer
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer
    private var inputStart = 0, inputEnd = 0
    private var outputStart = 0, outputEnd = 0
    private var fileOffset: Int64 = 0
    /// The last call filled the output buffer: the decoder may hold more without new input.
    private var flushPending = false
    /// The last call ended inside a frame.
    private var inFrame = false
    private var produced: Int64 = 0
    private(set) var position: Int64 = 0

    /// Calls `ZSTD_createDStream`.
    init(_ file: ReadOnlyFile, archive: String, limit: Int64) throws {
        guard let stream = ZSTD_createDStream() else {
            throw LiteProofError(.io, "cannot create a zstd decoder for \(archive)")
        }
        ZSTD_initDStream(stream)
        self.stream = stream
        self.file = file
        self.archive = archive
        self.limit = limit
        input = .allocate(byteCount: ZSTD_DStreamInSize(), alignment: 16)
        output = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeDStream(stream)
        input.deallocate()
        output.deallocate()
    }

    var knownSize: Int64? { nil }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            if outputStart == outputEnd, try !refill() { break }
            let n = min(buffer.count - done, outputEnd - outputStart)
            (buffer.baseAddress! + done).copyMemory(from: output.baseAddress! + outputStart, byteCount: n)
            outputStart += n
            done += n
        }
        position += Int64(done)
        return done
    }

    func skip(_ count: Int64) throws -> Int64 {
        var done: Int64 = 0
        while done < count {
            if outputStart == outputEnd, try !refill() { break }
            let n = Int(min(count - done, Int64(outputEnd - outputStart)))
            outputStart += n
            done += Int64(n)
        }
        position += done
        return done
    }

    /// Decompresses the next piece into `output` (`ZSTD_decompressStream`); false at the end.
    private func refill() throws -> Bool {
        outputStart = 0
        outputEnd = 0
        while true {
            if inputStart == inputEnd && !flushPending {
                if fileOffset >= file.size {
                    if inFrame {
                        throw tarRefusal(archive, "is truncated: the zstd stream ends inside a frame", at: nil)
                    }
                    return false
                }
                let n = try file.read(into: input, at: fileOffset)
                if n == 0 { throw tarRefusal(archive, "could not be read past compressed byte \(fileOffset)", at: nil) }
                fileOffset += Int64(n)
                inputStart = 0
                inputEnd = n
            }
            var inBuf = ZSTD_inBuffer(src: input.baseAddress, size: inputEnd, pos: inputStart)
            var outBuf = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let r = ZSTD_decompressStream(stream, &outBuf, &inBuf)
            if ZSTD_isError(r) != 0 {
                let why = String(cString: ZSTD_getErrorName(r))
                let at = fileOffset - Int64(inputEnd - inBuf.pos)
                var hint = ""
                if why.lowercased().contains("memory") { hint = " (made with zstd --long? LiteProof decodes windows up to 128 MiB)" }
                if fileOffset <= Int64(inputEnd) && at == 0 { hint += " — is it a zstd file?" }
                throw tarRefusal(archive, "cannot be decompressed: zstd: \(why), near compressed byte \(at)\(hint)", at: nil)
            }
            inputStart = inBuf.pos
            inFrame = r != 0
            flushPending = outBuf.pos == outBuf.size
            if outBuf.pos > 0 {
                outputEnd = outBuf.pos
                produced += Int64(outBuf.pos)
                if produced > limit {
                    throw tarRefusal(
                        archive,
                        "decompresses to more than \(Units.bytes(limit)), the limit (set \(ArchiveLimits.extractLimitVariable) to raise it)",
                        at: nil)
                }
                return true
            }
        }
    }
}

/// The error refusing an archive: names the archive, the member when there is one, the reason,
/// and where in the tar stream.
func tarRefusal(_ archive: String, _ reason: String, member: String? = nil, at offset: Int64?) -> LiteProofError {
    var m = "refusing the archive \(archive): "
    if let member { m += "member \"\(member)\" " }
    m += reason
    if let offset { m += " (tar header at byte \(offset))" }
    return LiteProofError(.usage, m)
}

/// Reads tar headers (ustar, pax, GNU) and refuses whatever LiteProof will not open: names that
/// leave the replica (absolute, `..`), links, devices and FIFOs, bad checksums, sizes past the
/// limits or the archive, NUL bytes in names, duplicate names, and truncation.
struct TarScanner {
    let archive: String
    let limits: ArchiveLimits

    /// Extended headers allowed in a row before a member.
    static let maxExtendedHeadersInARow = 8
    /// Longest member name, and longest name component (Linux `PATH_MAX`, `NAME_MAX`).
    static let maxNameBytes = 4095, maxComponentBytes = 255

    private struct Pending {
        var path: [UInt8]?
        var longName: [UInt8]?
        var size: Int64?
        var mtime: TarTime?
        var isEmpty: Bool { path == nil && longName == nil && size == nil && mtime == nil }
    }

    /// Calls `body` for each regular-file member, in archive order, with the source positioned at
    /// the member's data; whatever of the data `body` leaves unread is skipped.
    func scan(_ source: TarSource, _ body: (TarEntry) throws -> Void) throws {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)
        defer { block.deallocate() }
        var pending = Pending()
        var extendedInARow = 0
        var memberCount = 0
        var fileNames = Set<String>()
        var folderNames = Set<String>()

        while true {
            let at = source.position
            let n = try source.readFully(block)
            if n == 0 {
                throw refuse(
                    pending.isEmpty
                        ? "is truncated: it ends without the end-of-archive marker" : "is truncated: it ends after an extended header, before its member",
                    at: at)
            }
            if n < 512 { throw refuse("is truncated: it ends inside a header", at: at) }
            if block.allSatisfy({ $0 == 0 }) {
                if !pending.isEmpty { throw refuse("has an extended header followed by the end-of-archive marker", at: at) }
                let m = try source.readFully(block)
                if block[0..<m].contains(where: { $0 != 0 }) {
                    throw refuse("has a header after a lone zero block (tar tools stop at it; LiteProof will not guess)", at: at + 512)
                }
                return
            }

            let rawName = Self.field(block, 0, 100)
            let ustarName = isPOSIXUstar(block) ? joinPrefix(Self.field(block, 345, 155), rawName) : rawName
            guard let stored = Self.number(block, 148, 8), stored == checksum(block, signed: false) || stored == checksum(block, signed: true) else {
                throw refuse("has a bad header checksum (not a tar archive, or a damaged one)", member: display(ustarName), at: at)
            }
            let type = block[156]
            let isExtended = [UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K")].contains(type)
            let name = isExtended ? ustarName : (pending.path ?? pending.longName ?? ustarName)
            var size: Int64
            if !isExtended, let s = pending.size {
                size = s
            } else {
                guard let s = Self.number(block, 124, 12), s >= 0 else {
                    throw refuse("has an unreadable size field", member: display(name), at: at)
                }
                size = s
            }
            if size > limits.maxMemberSize {
                throw refuse("claims \(size) bytes, more than the \(Units.bytes(limits.maxMemberSize)) a member may have", member: display(name), at: at)
            }
            if let total = source.knownSize, size > total - (at + 512) {
                throw refuse(
                    "claims \(size) bytes, larger than the \(max(0, total - at - 512)) bytes left in the archive (truncated or forged)",
                    member: display(name), at: at)
            }

            if isExtended {
                extendedInARow += 1
                if extendedInARow > Self.maxExtendedHeadersInARow {
                    throw refuse("has more than \(Self.maxExtendedHeadersInARow) extended headers in a row", at: at)
                }
                if size > Int64(limits.maxMetadataSize) {
                    throw refuse("has an extended header of \(size) bytes, more than the \(Units.bytes(Int64(limits.maxMetadataSize))) allowed", at: at)
                }
                var data = [UInt8](repeating: 0, count: Int(size))
                let got = try data.withUnsafeMutableBytes { try source.readFully($0) }
                if got < data.count { throw refuse("is truncated: it ends inside an extended header", at: at) }
                try skipPadding(source, size: size, at: at, member: nil)
                switch type {
                case UInt8(ascii: "x"): try applyPax(data, to: &pending, at: at)
                case UInt8(ascii: "g"): _ = try paxRecords(data, at: at)  // global: checked, not applied
                case UInt8(ascii: "L"):
                    var long = data
                    while long.last == 0 { long.removeLast() }
                    pending.longName = long
                default: break  // K: a long link target; the link itself is refused below
                }
                continue
            }
            extendedInARow = 0
            let mtime = pending.mtime ?? Self.number(block, 136, 12).map { TarTime(seconds: $0, nanoseconds: 0) }
            pending = Pending()

            // The name: no NUL, UTF-8, relative, no `..`.
            if name.contains(0) { throw refuse("has a NUL byte in its name", member: display(name), at: at) }
            guard let text = String(bytes: name, encoding: .utf8) else {
                throw refuse("has a name that is not UTF-8", member: display(name), at: at)
            }
            let normalized = try normalize(text, at: at)

            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"), UInt8(ascii: "5"): break
            case UInt8(ascii: "1"): throw refuse("is a hard link (links are refused)", member: text, at: at)
            case UInt8(ascii: "2"): throw refuse("is a symbolic link (links are refused)", member: text, at: at)
            case UInt8(ascii: "3"): throw refuse("is a character device (device nodes are refused)", member: text, at: at)
            case UInt8(ascii: "4"): throw refuse("is a block device (device nodes are refused)", member: text, at: at)
            case UInt8(ascii: "6"): throw refuse("is a FIFO (named pipes are refused)", member: text, at: at)
            case UInt8(ascii: "S"): throw refuse("is a sparse file (not supported)", member: text, at: at)
            default:
                let shown = (32..<127).contains(type) ? "'\(Character(UnicodeScalar(type)))'" : "\(type)"
                throw refuse("has the unsupported member type \(shown)", member: text, at: at)
            }
            memberCount += 1
            if memberCount > limits.maxMembers {
                throw refuse("holds more than \(limits.maxMembers) members", at: at)
            }
            guard let mtime else { throw refuse("has an unreadable mtime field", member: text, at: at) }

            // A regular entry whose name ends with `/` is a folder in old (V7) tars.
            if type == UInt8(ascii: "5") || text.hasSuffix("/") {
                if let normalized {  // nil: the archive's root, `./`
                    if fileNames.contains(normalized) {
                        throw refuse("is a folder with the name of a file member (duplicate member names)", member: text, at: at)
                    }
                    try addParents(of: normalized, including: true, files: fileNames, folders: &folderNames, member: text, at: at)
                }
            } else {
                guard let normalized else { throw refuse("is a file with an empty name", member: text, at: at) }
                if fileNames.contains(normalized) {
                    throw refuse("appears twice (duplicate member names)", member: text, at: at)
                }
                if folderNames.contains(normalized) {
                    throw refuse("is a file with the name of a folder (duplicate member names)", member: text, at: at)
                }
                try addParents(of: normalized, including: false, files: fileNames, folders: &folderNames, member: text, at: at)
                fileNames.insert(normalized)
                try body(TarEntry(name: normalized, size: size, mtime: mtime, headerOffset: at, dataOffset: at + 512))
            }
            let dataEnd = at + 512 + size
            if source.position < dataEnd {
                let want = dataEnd - source.position
                if try source.skip(want) < want {
                    throw refuse("is truncated: the archive ends inside this member's \(size) bytes", member: text, at: at)
                }
            }
            try skipPadding(source, size: size, at: at, member: text)
        }
    }

    private func refuse(_ reason: String, member: String? = nil, at offset: Int64) -> LiteProofError {
        tarRefusal(archive, reason, member: member, at: offset)
    }

    private func skipPadding(_ source: TarSource, size: Int64, at: Int64, member: String?) throws {
        let padding = (512 - size % 512) % 512
        if padding > 0, try source.skip(padding) < padding {
            throw refuse("is truncated: the archive ends inside the padding after this member", member: member, at: at)
        }
    }

    /// Records every parent folder of `name` (and `name` itself when `including`), refusing one
    /// that is a file member.
    private func addParents(
        of name: String, including: Bool, files: Set<String>, folders: inout Set<String>, member: String, at: Int64
    ) throws {
        var prefix = ""
        let parts = name.split(separator: "/")
        for (i, part) in parts.enumerated() where including || i < parts.count - 1 {
            prefix += (prefix.isEmpty ? "" : "/") + part
            if files.contains(prefix) {
                throw refuse("lies inside \"\(prefix)\", which is a file member", member: member, at: at)
            }
            folders.insert(prefix)
        }
    }

    /// `name` without `./` and empty components; nil for the root itself. Refuses absolute paths,
    /// `..` components and over-long names.
    private func normalize(_ name: String, at: Int64) throws -> String? {
        if name.hasPrefix("/") { throw refuse("has an absolute path (members must be relative)", member: name, at: at) }
        let parts = name.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        if parts.contains("..") { throw refuse("has a \"..\" component (members must stay inside the archive's folder)", member: name, at: at) }
        if name.utf8.count > Self.maxNameBytes || parts.contains(where: { $0.utf8.count > Self.maxComponentBytes }) {
            throw refuse("has a name longer than the system allows", member: String(name.prefix(200)) + "…", at: at)
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    private func applyPax(_ data: [UInt8], to pending: inout Pending, at: Int64) throws {
        for (key, value) in try paxRecords(data, at: at) {
            switch key {
            case "path":
                pending.path = value
            case "size":
                guard let text = String(bytes: value, encoding: .utf8), !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let s = Int64(text) else {
                    throw refuse("has a pax size record that is not a number", at: at)
                }
                pending.size = s
            case "mtime":
                guard let text = String(bytes: value, encoding: .utf8), let t = TarTime(pax: text) else {
                    throw refuse("has a pax mtime record that is not a time", at: at)
                }
                pending.mtime = t
            default:
                if key.hasPrefix("GNU.sparse.") { throw refuse("has a sparse member (GNU.sparse pax records; not supported)", at: at) }
            }
        }
    }

    /// Pax records, `"<length> <key>=<value>\n"`, in order.
    private func paxRecords(_ data: [UInt8], at: Int64) throws -> [(String, [UInt8])] {
        var records: [(String, [UInt8])] = []
        var i = 0
        while i < data.count {
            if data[i...].allSatisfy({ $0 == 0 }) { break }
            var length = 0
            var j = i
            while j < data.count, (48...57).contains(data[j]), length < data.count {
                length = length * 10 + Int(data[j] - 48)
                j += 1
            }
            guard j > i, j < data.count, data[j] == 32, length > j - i + 1, i + length <= data.count, data[i + length - 1] == 10 else {
                throw refuse("has a malformed pax extended header", at: at)
            }
            let record = data[(j + 1)..<(i + length - 1)]
            guard let eq = record.firstIndex(of: UInt8(ascii: "=")), let key = String(bytes: record[..<eq], encoding: .utf8) else {
                throw refuse("has a malformed pax extended header", at: at)
            }
            records.append((key, Array(record[(eq + 1)...])))
            i += length
        }
        return records
    }

    private func isPOSIXUstar(_ block: UnsafeMutableRawBufferPointer) -> Bool {
        Array(block[257..<263]) == Array("ustar\0".utf8)
    }

    private func joinPrefix(_ prefix: [UInt8], _ name: [UInt8]) -> [UInt8] {
        prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name
    }

    private func display(_ name: [UInt8]) -> String {
        String(decoding: name.map { $0 == 0 ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }

    /// Sum of the header's bytes with the checksum field read as spaces (unsigned, or signed as
    /// some old tars computed it).
    private func checksum(_ block: UnsafeMutableRawBufferPointer, signed: Bool) -> Int64 {
        var sum: Int64 = 0
        for i in 0..<512 {
            let b = (148..<156).contains(i) ? 32 : block[i]
            sum += signed ? Int64(Int8(bitPattern: b)) : Int64(b)
        }
        return sum
    }

    /// A NUL-terminated text field.
    static func field(_ block: UnsafeMutableRawBufferPointer, _ offset: Int, _ count: Int) -> [UInt8] {
        let bytes = block[offset..<(offset + count)]
        return Array(bytes.prefix { $0 != 0 })
    }

    /// A numeric field: octal digits (leading spaces, then NUL or space), or GNU base-256 (top bit
    /// of the first byte set; `0xff` first means negative). nil when unreadable or past `Int64`.
    static func number(_ block: UnsafeMutableRawBufferPointer, _ offset: Int, _ count: Int) -> Int64? {
        let bytes = Array(block[offset..<(offset + count)])
        if bytes[0] & 0x80 != 0 {
            var value: Int64 = bytes[0] == 0xFF ? -1 : Int64(bytes[0] & 0x7F)
            for b in bytes.dropFirst() {
                guard value <= Int64.max >> 8, value >= Int64.min >> 8 else { return nil }
                value = value << 8 | Int64(b)
            }
            return value
        }
        var i = 0
        while i < count && bytes[i] == 32 { i += 1 }
        var value: Int64 = 0
        while i < count, (48...55).contains(bytes[i]) {
            guard value <= Int64.max >> 3 else { return nil }
            value = value << 3 | Int64(bytes[i] - 48)
            i += 1
        }
        while i < count {
            guard bytes[i] == 0 || bytes[i] == 32 else { return nil }
            i += 1
        }
        return value
    }
}
