import Foundation

/// Checksums of a database image: a hash per page, the SHA-256 of the whole image (for a
/// quiesced file, equal to `sha256sum` of the file) and the LTX-style CRC-64 database checksum.
///
/// `liteproof digest` writes one next to the live database; `compare --digest` checks a replica
/// against it offline.
public struct DatabaseDigest: Codable, Sendable {
    public static let formatVersion = 1

    public var format = DatabaseDigest.formatVersion
    public var source: String
    public var createdAt: String
    public var pageSize: Int
    public var pageCount: UInt32
    /// SHA-256 of the `pageCount × pageSize` image, hex.
    public var sha256: String
    /// LTX database checksum: bit 63 | XOR over pages (lock page skipped) of the page hash.
    public var checksum: String
    /// Per page: bit 63 | CRC-64/ISO(pgno big-endian ‖ page), as LTX's `ChecksumPage`.
    public var pageHashes: [UInt64]
    /// Where the live database's WAL stood (live digests only).
    public var wal: WALPosition?

    public struct WALPosition: Codable, Sendable {
        public var salt1: UInt32
        public var salt2: UInt32
        public var commits: Int
        /// WAL offset after the last commit.
        public var offset: Int64
        /// How each commit changed the pages, for matching a lagging replica offline.
        public var history: LiveHistory?
    }

    enum CodingKeys: String, CodingKey {
        case format, source, createdAt, pageSize, pageCount, sha256, checksum, pageHashes, wal
    }

    public init(source: String, pageSize: Int, pageCount: UInt32, sha256: String, checksum: String, pageHashes: [UInt64], wal: WALPosition?) {
        self.source = source
        self.createdAt = formatTime(Date().timeIntervalSince1970)
        self.pageSize = pageSize
        self.pageCount = pageCount
        self.sha256 = sha256
        self.checksum = checksum
        self.pageHashes = pageHashes
        self.wal = wal
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(Int.self, forKey: .format)
        guard format == DatabaseDigest.formatVersion else {
            throw LiteProofError(.usage, "digest format \(format) is not supported (this LiteProof reads format \(DatabaseDigest.formatVersion))")
        }
        source = try c.decode(String.self, forKey: .source)
        createdAt = try c.decode(String.self, forKey: .createdAt)
        pageSize = try c.decode(Int.self, forKey: .pageSize)
        pageCount = try c.decode(UInt32.self, forKey: .pageCount)
        sha256 = try c.decode(String.self, forKey: .sha256)
        checksum = try c.decode(String.self, forKey: .checksum)
        wal = try c.decodeIfPresent(WALPosition.self, forKey: .wal)
        // Page hashes travel as base64 of big-endian u64s: compact for large databases.
        let b64 = try c.decode(String.self, forKey: .pageHashes)
        guard let data = Data(base64Encoded: b64), data.count == Int(pageCount) * 8 else {
            throw LiteProofError(.usage, "digest's page hashes do not match its page count")
        }
        let count = Int(pageCount)
        pageHashes = Array(data).withUnsafeBytes { b in (0..<count).map { b.u64BE(at: $0 * 8) } }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(source, forKey: .source)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(pageSize, forKey: .pageSize)
        try c.encode(pageCount, forKey: .pageCount)
        try c.encode(sha256, forKey: .sha256)
        try c.encode(checksum, forKey: .checksum)
        try c.encodeIfPresent(wal, forKey: .wal)
        var data = Data(capacity: pageHashes.count * 8)
        for h in pageHashes { withUnsafeBytes(of: h.bigEndian) { data.append(contentsOf: $0) } }
        try c.encode(data.base64EncodedString(), forKey: .pageHashes)
    }

    /// LTX's page checksum: bit 63 | CRC-64/ISO(pgno big-endian ‖ page).
    @inline(__always)
    public static func pageHash(_ pgno: UInt32, _ page: UnsafeRawBufferPointer) -> UInt64 {
        var c = CRC64()
        withUnsafeBytes(of: pgno.bigEndian) { c.update($0) }
        c.update(page)
        return c.value | (1 << 63)
    }

    /// Reads every page of `source` once, in runs of pages: the SHA-256 of each run is computed
    /// on another core while this one computes the page hashes.
    public static func compute(_ source: PageSource, name: String, wal: WALPosition? = nil, progress: ProgressHandler? = nil) throws -> DatabaseDigest {
        let n = Int(source.pageCount), ps = source.pageSize
        var hashes = [UInt64](repeating: 0, count: n)
        final class Box: @unchecked Sendable { var sha = SHA256() }
        let box = Box()
        var xor: UInt64 = 0
        let lock = LTX.lockPage(pageSize: ps)
        let meter = ProgressMeter(phase: "hashing \(name)", total: Int64(n) * Int64(ps), handler: progress)
        let runPages = max(1, (4 << 20) / ps)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: runPages * ps, alignment: 64)
        defer { buffer.deallocate() }
        let group = DispatchGroup()
        let queue = DispatchQueue(label: "liteproof.sha256")
        var first = 0
        while first < n {
            let count = min(runPages, n - first)
            try source.read(pages: UInt32(first + 1), count: count, into: buffer)
            let run = UnsafeRawBufferPointer(rebasing: buffer[0..<(count * ps)])
            let sendableRun = UncheckedSendable(run)  // the buffer is not reused until group.wait()
            queue.async(group: group) { box.sha.update(sendableRun.value) }
            for i in 0..<count {
                let pgno = UInt32(first + i + 1)
                let h = pageHash(pgno, UnsafeRawBufferPointer(rebasing: run[(i * ps)..<((i + 1) * ps)]))
                hashes[first + i] = h
                if pgno != lock { xor ^= h }
            }
            group.wait()
            meter.add(Int64(count * ps))
            first += count
        }
        return DatabaseDigest(
            source: name, pageSize: ps, pageCount: source.pageCount, sha256: SHA256.hex(box.sha.finalize()),
            checksum: (xor | (1 << 63)).hex(width: 16), pageHashes: hashes, wal: wal)
    }

    /// Writes the digest as JSON to `path`, a new regular file (an existing one only with `force`).
    public func write(to path: String, force: Bool = false) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FS.writeOutput(e.encode(self), to: path, force: force)
    }

    public static func read(from path: String) throws -> DatabaseDigest {
        guard let data = FileManager.default.contents(atPath: path) else { throw LiteProofError(.usage, "cannot read the digest \(path)") }
        do {
            return try JSONDecoder().decode(DatabaseDigest.self, from: data)
        } catch let e as LiteProofError {
            throw e
        } catch {
            throw LiteProofError(.usage, "\(path) is not a LiteProof digest: \(error)")
        }
    }
}
