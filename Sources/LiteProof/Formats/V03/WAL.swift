import CPlatform

/// SQLite write-ahead-log format: header, frames, cumulative checksums.
/// Facts: https://www.sqlite.org/fileformat2.html#walformat and docs/FORMATS.md ("The SQLite WAL").
public struct WALHeader: Equatable, Sendable {
    public static let size = 32
    public static let magicLE: UInt32 = 0x377f_0682
    public static let magicBE: UInt32 = 0x377f_0683
    public static let version: UInt32 = 3_007_000

    public var magic: UInt32
    public var formatVersion: UInt32
    public var pageSize: Int
    public var checkpointSequence: UInt32
    public var salt1: UInt32
    public var salt2: UInt32
    public var checksum1: UInt32
    public var checksum2: UInt32

    /// True when checksums are computed over big-endian words (magic `0x377f0683`).
    public var bigEndianChecksums: Bool { magic == WALHeader.magicBE }

    /// Parses and validates a header at WAL offset 0. Errors carry offsets in the WAL.
    public static func parse(_ b: UnsafeRawBufferPointer) throws(FormatError) -> WALHeader {
        var r = ByteReader(b, truncation: .walHeader)
        guard b.count >= size else { throw r.error(.walHeader, at: b.count, "the WAL header needs 32 bytes, found \(b.count)") }
        let magic = try r.readUInt32(.big, "the WAL magic")
        guard magic == magicLE || magic == magicBE else {
            throw r.error(.walHeader, at: 0, "WAL magic is 0x\(magic.hex(width: 8)); expected 0x377f0682 or 0x377f0683")
        }
        let version = try r.readUInt32(.big, "the WAL format version")
        guard version == WALHeader.version else {
            throw r.error(.walHeader, at: 4, "WAL format version is \(version); expected 3007000")
        }
        let rawPageSize = try r.readUInt32(.big, "the WAL page size")
        guard let pageSize = validPageSize(rawPageSize) else {
            throw r.error(.walHeader, at: 8, "WAL page size is \(rawPageSize); expected a power of two from 512 to 65536")
        }
        let h = WALHeader(
            magic: magic, formatVersion: version, pageSize: pageSize,
            checkpointSequence: try r.readUInt32(.big, "the checkpoint sequence"), salt1: try r.readUInt32(.big, "salt 1"),
            salt2: try r.readUInt32(.big, "salt 2"), checksum1: try r.readUInt32(.big, "checksum 1"),
            checksum2: try r.readUInt32(.big, "checksum 2"))
        var s0: UInt32 = 0, s1: UInt32 = 0
        WALChecksum.update(UnsafeRawBufferPointer(rebasing: b[0..<24]), bigEndian: h.bigEndianChecksums, &s0, &s1)
        guard s0 == h.checksum1 && s1 == h.checksum2 else {
            throw r.error(
                .walHeaderChecksum, at: 24,
                "WAL header checksum is \(h.checksum1.hex(width: 8))/\(h.checksum2.hex(width: 8)); computed \(s0.hex(width: 8))/\(s1.hex(width: 8))")
        }
        return h
    }
}

/// SQLite's page size rule: a power of two from 512 to 65536 (stored as 1 for 65536 in the
/// database header; WAL headers store 65536 itself).
@inline(__always)
func validPageSize(_ raw: UInt32) -> Int? {
    let v = raw == 1 ? 65536 : Int(raw)
    guard v >= 512, v <= 65536, v & (v - 1) == 0 else { return nil }
    return v
}

/// The WAL checksum: pairs of 32-bit words, `s0 += x0 + s1; s1 += x1 + s0`, wrapping.
public enum WALChecksum {
    /// Continues the checksum `(s0, s1)` over `data` (a multiple of 8 bytes). In C (CPlatform),
    /// four quarters of the data summed side by side and joined (see WALChecksum.c).
    @inline(__always)
    public static func update(_ data: UnsafeRawBufferPointer, bigEndian: Bool, _ s0: inout UInt32, _ s1: inout UInt32) {
        precondition(data.count % 8 == 0)
        guard let base = data.baseAddress else { return }
        liteproof_wal_checksum(base, data.count, bigEndian ? 1 : 0, &s0, &s1)
    }

    /// The same sum one unit after another, as SQLite writes it (the reference the tests hold the
    /// fast one to).
    public static func reference(_ data: UnsafeRawBufferPointer, bigEndian: Bool, _ s0: inout UInt32, _ s1: inout UInt32) {
        precondition(data.count % 8 == 0)
        var a = s0, b = s1
        var i = 0
        while i < data.count {
            let x0 = data.loadUnaligned(fromByteOffset: i, as: UInt32.self)
            let x1 = data.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self)
            a = a &+ (bigEndian ? UInt32(bigEndian: x0) : UInt32(littleEndian: x0)) &+ b
            b = b &+ (bigEndian ? UInt32(bigEndian: x1) : UInt32(littleEndian: x1)) &+ a
            i += 8
        }
        s0 = a
        s1 = b
    }
}

/// One valid frame handed out by ``WALDecoder``.
public struct WALFrame {
    public var pageNumber: UInt32
    /// Database size in pages after this commit; 0 for frames that do not end a transaction.
    public var commitSize: UInt32
    /// The page image (valid only during the callback).
    public var page: UnsafeRawBufferPointer
    /// Offset of the frame header in the WAL stream.
    public var walOffset: Int64
    /// Cumulative checksum after this frame.
    public var checksum: (UInt32, UInt32)
}

/// Push decoder of a WAL stream that may arrive in pieces (the decompressed WAL segments of one
/// v0.3 index, or the live `-wal` file). Checks the header, salts and the cumulative checksum
/// chain exactly as SQLite's recovery does, and hands out every valid frame.
///
/// It keeps one frame of reassembly space; nothing grows with the WAL.
public final class WALDecoder {
    public private(set) var header: WALHeader?
    /// Bytes of WAL consumed so far.
    public private(set) var offset: Int64 = 0
    /// Offset just after the last valid commit frame (32 when no commit yet).
    public private(set) var lastCommitEnd: Int64 = 0
    /// Database size in pages at the last valid commit frame.
    public private(set) var lastCommitSize: UInt32 = 0
    public private(set) var frameCount = 0
    public private(set) var commitCount = 0
    /// Checksum after the last valid frame (the seed of the next one).
    public private(set) var checksum: (UInt32, UInt32) = (0, 0)
    /// Set when a frame failed salts or checksum: SQLite stops reading there. Its offset is the
    /// frame's offset in the WAL.
    public private(set) var stopped: FormatError?
    /// WAL offset of the frame where reading stopped.
    public var stoppedAt: Int64 { stopped?.offset ?? 0 }

    let onFrame: (WALFrame) throws -> Void
    var pending: UnsafeMutableRawBufferPointer
    var pendingCount = 0
    let expectedPageSize: Int?

    /// - Parameter expectedPageSize: when known (from the snapshot), a WAL of another page size is refused.
    public init(expectedPageSize: Int? = nil, onFrame: @escaping (WALFrame) throws -> Void) {
        self.expectedPageSize = expectedPageSize
        self.onFrame = onFrame
        pending = UnsafeMutableRawBufferPointer.allocate(byteCount: 24 + 65536, alignment: 16)
    }

    deinit { pending.deallocate() }

    /// A decoder that goes on where `carry` left a stream (see ``WALCarry``): nil when the carry
    /// does not hold together, or is of another page size than `expectedPageSize`.
    public convenience init?(resuming carry: WALCarry, expectedPageSize: Int? = nil, onFrame: @escaping (WALFrame) throws -> Void) {
        guard let h = carry.validated(), expectedPageSize == nil || expectedPageSize == h.pageSize else { return nil }
        self.init(expectedPageSize: expectedPageSize, onFrame: onFrame)
        header = h
        offset = carry.offset
        lastCommitEnd = carry.lastCommitEnd
        lastCommitSize = carry.lastCommitSize
        frameCount = carry.frames
        commitCount = carry.commits
        checksum = (carry.checksum1, carry.checksum2)
        carry.pending.withUnsafeBytes { p in
            if let base = p.baseAddress { pending.baseAddress!.copyMemory(from: base, byteCount: p.count) }
        }
        pendingCount = carry.pending.count
    }

    /// Where the stream stands now, for a later decoder to go on from; nil before the header or
    /// once a frame stopped the stream (SQLite reads nothing after it).
    public var carry: WALCarry? {
        guard let header, stopped == nil else { return nil }
        return WALCarry(
            header: WALCarry.bytes(of: header), offset: offset, lastCommitEnd: lastCommitEnd, lastCommitSize: lastCommitSize,
            frames: frameCount, commits: commitCount, checksum1: checksum.0, checksum2: checksum.1,
            pending: Array(UnsafeRawBufferPointer(rebasing: pending[0..<pendingCount])))
    }

    var frameSize: Int { 24 + (header?.pageSize ?? 0) }

    /// Feeds the next bytes of the stream. Throws ``FormatError`` for a bad header; frame
    /// damage does not throw but sets ``stopped`` (later bytes are then only counted).
    public func feed(_ bytes: UnsafeRawBufferPointer) throws {
        var input = bytes
        while !input.isEmpty {
            if stopped != nil {
                offset += Int64(input.count)
                return
            }
            let need = header == nil ? WALHeader.size : frameSize
            if pendingCount == 0 && input.count >= need {
                // Fast path: the whole unit is in this chunk; no copy.
                try consume(UnsafeRawBufferPointer(rebasing: input[0..<need]))
                input = UnsafeRawBufferPointer(rebasing: input[need...])
                continue
            }
            let take = min(need - pendingCount, input.count)
            (pending.baseAddress! + pendingCount).copyMemory(from: input.baseAddress!, byteCount: take)
            pendingCount += take
            input = UnsafeRawBufferPointer(rebasing: input[take...])
            if pendingCount == need {
                pendingCount = 0
                try consume(UnsafeRawBufferPointer(rebasing: pending[0..<need]))
            }
        }
    }

    /// Bytes fed that did not make a whole frame.
    public var partialBytes: Int { pendingCount }

    private func consume(_ unit: UnsafeRawBufferPointer) throws {
        guard let h = header else {
            let h = try WALHeader.parse(unit)
            if let e = expectedPageSize, e != h.pageSize {
                throw FormatError(.walPageSize, offset: 8, "WAL page size is \(h.pageSize); the database's page size is \(e)")
            }
            header = h
            checksum = (h.checksum1, h.checksum2)
            offset = Int64(WALHeader.size)
            lastCommitEnd = offset
            return
        }
        let pgno = unit.u32BE(at: 0)
        let commit = unit.u32BE(at: 4)
        let salt1 = unit.u32BE(at: 8), salt2 = unit.u32BE(at: 12)
        if salt1 != h.salt1 || salt2 != h.salt2 {
            stop(
                .walSaltMismatch,
                "frame salts are \(salt1.hex(width: 8))/\(salt2.hex(width: 8)); the WAL header's are \(h.salt1.hex(width: 8))/\(h.salt2.hex(width: 8))")
            offset += Int64(unit.count)
            return
        }
        var s0 = checksum.0, s1 = checksum.1
        WALChecksum.update(UnsafeRawBufferPointer(rebasing: unit[0..<8]), bigEndian: h.bigEndianChecksums, &s0, &s1)
        WALChecksum.update(UnsafeRawBufferPointer(rebasing: unit[24...]), bigEndian: h.bigEndianChecksums, &s0, &s1)
        let want1 = unit.u32BE(at: 16), want2 = unit.u32BE(at: 20)
        if s0 != want1 || s1 != want2 {
            stop(
                .walChecksumMismatch,
                "frame \(frameCount + 1) (page \(pgno)) checksum is \(want1.hex(width: 8))/\(want2.hex(width: 8)); the chain gives \(s0.hex(width: 8))/\(s1.hex(width: 8))"
            )
            offset += Int64(unit.count)
            return
        }
        if pgno == 0 {
            stop(.walBadFrame, "frame \(frameCount + 1) names page 0")
            offset += Int64(unit.count)
            return
        }
        let maxPages = Limits.maxPages(pageSize: h.pageSize)
        if pgno > maxPages || commit > maxPages {
            stop(
                .walBadFrame,
                "frame \(frameCount + 1) names page \(pgno) with database size \(commit) pages: beyond the limit of \(maxPages) pages (\(Limits.maxDatabaseBytes) bytes; LITEPROOF_MAX_DATABASE_BYTES raises it)"
            )
            offset += Int64(unit.count)
            return
        }
        checksum = (s0, s1)
        let frameOffset = offset
        offset += Int64(unit.count)
        frameCount += 1
        if commit != 0 {
            commitCount += 1
            lastCommitEnd = offset
            lastCommitSize = commit
        }
        try onFrame(
            WALFrame(pageNumber: pgno, commitSize: commit, page: UnsafeRawBufferPointer(rebasing: unit[24...]), walOffset: frameOffset, checksum: (s0, s1)))
    }

    /// SQLite stops reading at this frame (at `offset`).
    private func stop(_ code: FindingCode, _ message: String) {
        stopped = FormatError(code, offset: offset, message)
    }
}
