import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A replica in a zstd-compressed tar: the archive is decompressed once as a stream (bounded
/// memory) and its files are written into a private scratch folder, removed when this storage
/// goes away, at process exit, or on SIGINT/SIGTERM/SIGHUP/SIGPIPE (see ``ScratchSpace``).
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

    deinit { ScratchSpace.release(scratch) }

    public var location: String { archive }

    public func files() -> [StoredFile] { listing }

    public func open(_ path: String) throws -> ReadOnlyFile {
        guard members.contains(path) else { throw LiteProofError.storage(.missing, "\(archive) holds no member \(path)") }
        return try ReadOnlyFile(scratch + "/" + memberPrefix + path, displayName: "\(archive):\(memberPrefix + path)")
    }

    /// Decompresses and extracts; on any failure removes the scratch folder before throwing.
    static func extract(_ archive: String, limits: ArchiveLimits, scratchParent: String?) throws
        -> (String, [TarEntry])
    {
        let file = try ReadOnlyFile(archive)
        if file.size == 0 { throw LiteProofError(.usage, "\(archive) is empty (0 bytes), not a .tar.zst archive") }
        let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-archive", in: scratchParent)
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
            ScratchSpace.release(scratch)
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
            try ScratchSpace.creatingEntry {
                if mkdir(scratch + "/" + dir, 0o700) != 0 && errno != EEXIST {
                    throw localError("cannot make the folder", path: scratch + "/" + dir)
                }
            }
            folders.insert(dir)
        }
        let out = try ScratchSpace.creatingEntry { try OutputFile(creating: scratch + "/" + entry.name, mode: 0o600) }
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
        guard futimens(out.fd, &times) == 0 else { throw localError("cannot set the time of", path: out.path) }
    }

    /// Refuses to extract a member that would leave less than ``ArchiveLimits/minFreeBytes`` free.
    private func checkFreeSpace(for entry: TarEntry) throws {
        var fs = statvfs()
        guard statvfs(scratch, &fs) == 0 else { throw localError("cannot read the free space of", path: scratch) }
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
