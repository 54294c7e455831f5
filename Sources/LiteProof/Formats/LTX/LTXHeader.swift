import CLZ4

/// The 100-byte header of an LTX file (big-endian). Facts: docs/FORMATS.md ("LTX files").
public struct LTXHeader: Equatable, Sendable, Codable {
    public static let size = 100
    public static let magic: [UInt8] = Array("LTX1".utf8)
    /// The file carries no database checksums (pre/post-apply are zero).
    public static let flagNoChecksum: UInt32 = 0x2

    public var flags: UInt32
    public var pageSize: Int
    /// Database size in pages after applying the file.
    public var commit: UInt32
    public var minTXID: UInt64
    public var maxTXID: UInt64
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    public var preApplyChecksum: UInt64
    public var walOffset: Int64
    public var walSize: Int64
    public var walSalt1: UInt32
    public var walSalt2: UInt32
    public var nodeID: UInt64

    /// A snapshot holds every page of the database (minTXID 1).
    public var isSnapshot: Bool { minTXID == 1 }
    public var hasChecksums: Bool { flags & LTXHeader.flagNoChecksum == 0 }

    /// Parses and checks a header; errors are `ltx.bad-header` (or `ltx.truncated`) in `file`.
    static func parse(_ b: UnsafeRawBufferPointer, file: String) throws(FormatError) -> LTXHeader {
        var r = ByteReader(b, file: file, truncation: .ltxTruncated)
        func bad(_ offset: Int, _ message: String) -> FormatError { r.error(.ltxHeader, at: offset, message) }
        guard b.count >= size else {
            throw r.error(.ltxTruncated, at: b.count, "the file has \(b.count) bytes; an LTX header needs 100")
        }
        let magicBytes = try r.readBytes(4, "the magic")
        guard magicBytes.elementsEqual(magic) else {
            throw bad(0, "magic is \(magicBytes.map { $0.hex(width: 2) }.joined(separator: " ")); expected \"LTX1\" (4c 54 58 31)")
        }
        let flags = try r.readUInt32(.big, "the flags")
        if flags & ~(flagNoChecksum | LTXVersion.flagCompressLZ4) == 0, flags & LTXVersion.flagCompressLZ4 != 0 {
            throw r.error(.ltxVersion, at: 4, LTXVersion.v1.describe("header flag 0x1: every page in one LZ4 stream"))
        }
        guard flags & ~flagNoChecksum == 0 else {
            throw bad(4, "unknown header flags 0x\(flags.hex(width: 8)); the only header flag is 0x2 (no checksums)")
        }
        let rawPageSize = try r.readUInt32(.big, "the page size")
        guard let pageSize = validPageSize(rawPageSize), rawPageSize != 1 else {
            throw bad(8, "page size is \(rawPageSize); expected a power of two from 512 to 65536")
        }
        let commit = try r.readUInt32(.big, "the commit size")
        guard commit <= Limits.maxPages(pageSize: pageSize) else {
            throw bad(
                12,
                "commit size \(commit) pages of \(pageSize) bytes is beyond the limit of \(Limits.maxDatabaseBytes) bytes (LITEPROOF_MAX_DATABASE_BYTES raises it)"
            )
        }
        let minTXID = try r.readUInt64(.big, "the minimum TXID"), maxTXID = try r.readUInt64(.big, "the maximum TXID")
        guard minTXID >= 1, minTXID <= maxTXID else {
            throw bad(16, "TXID range \(minTXID)-\(maxTXID) is not valid; expected 1 <= min <= max")
        }
        let ts = try r.readUInt64(.big, "the timestamp")
        guard ts <= UInt64(Int64.max) else { throw bad(32, "timestamp \(ts) is out of range") }
        let preApply = try r.readUInt64(.big, "the pre-apply checksum")
        let walOffset = try r.readUInt64(.big, "the WAL offset"), walSize = try r.readUInt64(.big, "the WAL size")
        let walSalt1 = try r.readUInt32(.big, "WAL salt 1"), walSalt2 = try r.readUInt32(.big, "WAL salt 2")
        let nodeID = try r.readUInt64(.big, "the node ID")
        let h = LTXHeader(
            flags: flags, pageSize: pageSize, commit: commit, minTXID: minTXID, maxTXID: maxTXID,
            timestamp: Int64(ts), preApplyChecksum: preApply,
            walOffset: Int64(bitPattern: walOffset), walSize: Int64(bitPattern: walSize),
            walSalt1: walSalt1, walSalt2: walSalt2, nodeID: nodeID)
        if h.walOffset < 0 || h.walSize < 0 {
            throw bad(48, "WAL offset \(h.walOffset) and size \(h.walSize) must not be negative")
        }
        if (h.walSalt1 != 0 || h.walSalt2 != 0) && h.walOffset == 0 {
            throw bad(48, "WAL salts are set but the WAL offset is 0")
        }
        if h.walOffset == 0 && h.walSize != 0 {
            throw bad(48, "WAL size is \(h.walSize) but the WAL offset is 0")
        }
        if h.hasChecksums && !h.isSnapshot && h.preApplyChecksum & (1 << 63) == 0 {
            throw bad(40, "a file with checksums needs a pre-apply checksum with bit 63 set; found \(h.preApplyChecksum.hex(width: 16))")
        }
        if !h.hasChecksums && h.preApplyChecksum != 0 {
            throw bad(40, "pre-apply checksum is \(h.preApplyChecksum.hex(width: 16)) but flag 0x2 says the file carries none")
        }
        if h.hasChecksums && h.isSnapshot && h.preApplyChecksum != 0 {
            throw bad(40, "a snapshot's pre-apply checksum must be zero; found \(h.preApplyChecksum.hex(width: 16))")
        }
        return h
    }
}

/// One entry of an LTX page index: where the page's frame (header, size prefix, data) lies.
public struct LTXIndexEntry: Equatable, Sendable {
    public var pageNumber: UInt32
    public var offset: Int64
    public var size: Int64
}

/// What a full decode of an LTX file established.
public struct LTXSummary: Sendable {
    public var header: LTXHeader
    public var pageCount: Int
    public var fileChecksum: UInt64
    public var postApplyChecksum: UInt64
}
