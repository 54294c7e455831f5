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
    /// Entries per table and index (written by `liteproof digest`; nil in digests of older
    /// versions, whose tables are then unknown — never absent).
    public var tables: [TableSummary]?

    public struct WALPosition: Codable, Sendable {
        public var salt1: UInt32
        public var salt2: UInt32
        /// The WAL header's checkpoint sequence (nil in digests of older versions).
        public var checkpointSequence: UInt32?
        public var commits: Int
        /// WAL offset after the last commit.
        public var offset: Int64
        /// How each commit changed the pages, for matching a lagging replica offline.
        public var history: LiveHistory?

        public var mark: WALMark { WALMark(salt1: salt1, salt2: salt2, checkpointSequence: checkpointSequence, offset: offset) }
    }

    /// One table or index: how many entries its b-tree holds and, for a rowid table, a hash of
    /// its rowids, so `compare --digest` can say which tables differ without the database.
    public struct TableSummary: Codable, Sendable, Equatable {
        public var type: String
        public var name: String
        public var entries: Int
        /// Rowid tables: CRC-64/ISO of the sorted rowids (8 bytes big-endian each), hex.
        public var rowidHash: String?
    }

    enum CodingKeys: String, CodingKey {
        case format, source, createdAt, pageSize, pageCount, sha256, checksum, pageHashes, wal, tables
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
            throw FormatError(
                .digestFormat, offset: 0, "digest format \(format) is not supported (this LiteProof reads format \(DatabaseDigest.formatVersion))")
        }
        source = try c.decode(String.self, forKey: .source)
        createdAt = try c.decode(String.self, forKey: .createdAt)
        pageSize = try c.decode(Int.self, forKey: .pageSize)
        guard pageSize <= 65536, validPageSize(UInt32(clamping: pageSize)) == pageSize else {
            throw FormatError(.digestFormat, offset: 0, "page size is \(pageSize); expected a power of two from 512 to 65536")
        }
        pageCount = try c.decode(UInt32.self, forKey: .pageCount)
        sha256 = try c.decode(String.self, forKey: .sha256)
        checksum = try c.decode(String.self, forKey: .checksum)
        wal = try c.decodeIfPresent(WALPosition.self, forKey: .wal)
        tables = try c.decodeIfPresent([TableSummary].self, forKey: .tables)
        try wal?.history?.validate("the digest's WAL history")
        // Page hashes travel as base64 of big-endian u64s: compact for large databases.
        let b64 = try c.decode(String.self, forKey: .pageHashes)
        guard let data = Data(base64Encoded: b64) else { throw FormatError(.digestFormat, offset: 0, "the page hashes are not valid base64") }
        let count = Int(pageCount)
        guard data.count == count * 8 else {
            throw FormatError(
                .digestFormat, offset: Int64(data.count), "the page hashes are \(data.count) bytes; \(pageCount) pages need \(count * 8)")
        }
        pageHashes = try ByteReader.reading(Array(data), truncation: .digestFormat) { r in
            try (0..<count).map { i throws(FormatError) in try r.readUInt64(.big, "the hash of page \(i + 1)") }
        }
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
        try c.encodeIfPresent(tables, forKey: .tables)
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
        let sha = Locked(SHA256())  // updated on the queue, one run at a time, in order
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
            queue.async(group: group) { sha.withLock { $0.update(sendableRun.value) } }
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
            source: name, pageSize: ps, pageCount: source.pageCount, sha256: SHA256.hex(sha.withLock { $0.finalize() }),
            checksum: (xor | (1 << 63)).hex(width: 16), pageHashes: hashes, wal: wal)
    }

    /// The entries of every table and index of `source` (b-tree walks), or nil when damage
    /// stops one: a digest then says nothing about tables rather than something wrong.
    public static func tableSummaries(_ source: PageSource) -> [TableSummary]? {
        guard let reader = try? BTreeReader(source), let schema = try? reader.schema() else { return nil }
        var out: [TableSummary] = []
        for e in schema where e.rootPage > 0 {
            guard let keys = try? reader.keys(of: e) else { return nil }
            out.append(TableSummary(type: e.type, name: e.name, entries: keys.count, rowidHash: keys.rowids.map(rowidHash)))
        }
        return out
    }

    /// CRC-64/ISO of sorted rowids, each 8 bytes big-endian, hex.
    public static func rowidHash(_ rowids: [Int64]) -> String {
        var c = CRC64()
        for r in rowids { withUnsafeBytes(of: r.bigEndian) { c.update($0) } }
        return c.value.hex(width: 16)
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
        } catch let e as FormatError {
            throw LiteProofError(.usage, "\(path) is not a usable LiteProof digest: \(e.message)")
        } catch {
            throw LiteProofError(.usage, "\(path) is not a LiteProof digest: \(error)")
        }
    }
}
