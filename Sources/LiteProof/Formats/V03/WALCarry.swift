/// Where a WAL stream stood after the last byte read: what the next bytes of the same stream
/// need to be checked alone (the header's salts and byte order, the running checksum, the frame
/// counts and a frame cut short at a segment's end). `watch` keeps it per 0.3 WAL index, so a
/// new segment is checked without reading the segments before it again.
///
/// It comes from a state file, i.e. from outside: ``WALDecoder/init(resuming:expectedPageSize:onFrame:)``
/// takes it only when it is self-consistent (the header parses and its checksum holds, the offsets
/// and the cut frame fit the page size), and nothing in it sizes any work.
public struct WALCarry: Codable, Sendable, Equatable {
    /// The WAL header, as its 32 bytes.
    public var header: [UInt8]
    /// WAL bytes consumed: the offset the next segment must start at.
    public var offset: Int64
    /// Offset just after the last commit frame, and the database size in pages then.
    public var lastCommitEnd: Int64
    public var lastCommitSize: UInt32
    public var frames: Int
    public var commits: Int
    /// The checksum after the last frame (the seed of the next one).
    public var checksum1: UInt32
    public var checksum2: UInt32
    /// The start of a frame whose rest is in the next segment (fewer bytes than a frame).
    public var pending: [UInt8]

    /// The 32 bytes of `h`, as SQLite writes them (big-endian words).
    static func bytes(of h: WALHeader) -> [UInt8] {
        [h.magic, h.formatVersion, UInt32(h.pageSize), h.checkpointSequence, h.salt1, h.salt2, h.checksum1, h.checksum2]
            .flatMap { v in [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
    }

    /// Whether a decoder can go on from this carry (see the type's description).
    public var holdsTogether: Bool { validated() != nil }

    /// The header, when the carry holds together (see the type's description); nil otherwise.
    func validated() -> WALHeader? {
        guard header.count == WALHeader.size,
            let h = header.withUnsafeBytes({ try? WALHeader.parse($0) })
        else { return nil }
        let frameSize = Int64(24 + h.pageSize)
        let whole = offset - Int64(WALHeader.size) - Int64(pending.count)
        guard pending.count < frameSize, whole >= 0, whole % frameSize == 0,
            frames >= 0, Int64(frames) == whole / frameSize, commits >= 0, commits <= frames,
            lastCommitEnd >= Int64(WALHeader.size), lastCommitEnd <= offset - Int64(pending.count),
            (lastCommitEnd - Int64(WALHeader.size)) % frameSize == 0,
            (commits == 0) == (lastCommitEnd == Int64(WALHeader.size)),
            lastCommitSize <= Limits.maxPages(pageSize: h.pageSize)
        else { return nil }
        return h
    }
}
