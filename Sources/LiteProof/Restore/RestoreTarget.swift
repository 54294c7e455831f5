import Foundation

/// Which point of a replica to restore: what a user can name.
///
/// A 0.3 generation may accompany the latest point, a time or a WAL index (restore from that
/// generation instead of the one Litestream would choose); a 0.5 TXID names one point alone.
public enum RestoreTarget: Sendable, Hashable {
    /// The latest restorable point (0.3: of `generation` when given).
    case latest(generation: String? = nil)
    /// The state as of this time (seconds since the epoch).
    case time(Double, generation: String? = nil)
    /// 0.3: stop after this WAL index; with `offset`, apply that index's WAL only up to this byte
    /// offset (whole commits).
    case walIndex(UInt32, offset: Int64? = nil, generation: String? = nil)
    /// 0.5: stop at this TXID.
    case txid(UInt64)

    public var isLatest: Bool { self == .latest() }

    /// 0.3: the generation asked for.
    public var generation: String? {
        switch self {
        case .latest(let g), .time(_, let g), .walIndex(_, _, let g): return g
        case .txid: return nil
        }
    }

    /// The target time, when one was named.
    public var timestamp: Double? {
        if case .time(let t, _) = self { return t }
        return nil
    }

    /// 0.3: the last WAL index to apply.
    public var index: UInt32? {
        if case .walIndex(let i, _, _) = self { return i }
        return nil
    }

    /// 0.3: the WAL offset to stop at within ``index``.
    public var offset: Int64? {
        if case .walIndex(_, let o, _) = self { return o }
        return nil
    }

    /// 0.5: the TXID to stop at.
    public var txid: UInt64? {
        if case .txid(let t) = self { return t }
        return nil
    }
}

/// JSON as the fields a user names: `generation`, `index`, `offset`, `txid`, `timestamp` (each
/// only when given; none for the latest point).
extension RestoreTarget: Codable {
    enum CodingKeys: String, CodingKey { case generation, index, offset, txid, timestamp }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let generation = try c.decodeIfPresent(String.self, forKey: .generation)
        let index = try c.decodeIfPresent(UInt32.self, forKey: .index)
        let offset = try c.decodeIfPresent(Int64.self, forKey: .offset)
        let txid = try c.decodeIfPresent(UInt64.self, forKey: .txid)
        let timestamp = try c.decodeIfPresent(Double.self, forKey: .timestamp)
        switch (index, txid, timestamp) {
        case (nil, nil, nil) where offset == nil: self = .latest(generation: generation)
        case (let i?, nil, nil): self = .walIndex(i, offset: offset, generation: generation)
        case (nil, let t?, nil) where generation == nil && offset == nil: self = .txid(t)
        case (nil, nil, let ts?) where offset == nil: self = .time(ts, generation: generation)
        default:
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "a restore target names one of: index (with offset), txid, timestamp"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(generation, forKey: .generation)
        try c.encodeIfPresent(index, forKey: .index)
        try c.encodeIfPresent(offset, forKey: .offset)
        try c.encodeIfPresent(txid, forKey: .txid)
        try c.encodeIfPresent(timestamp, forKey: .timestamp)
    }
}

/// The files a restore applies, in order, and why.
public struct RestorePlan: Sendable {
    public enum Step: Sendable {
        /// v0.3: decompress this snapshot as the starting database.
        case snapshot(V03File)
        /// v0.3: apply the committed frames of these segments (one WAL index), up to `limit` bytes of WAL.
        case walIndex(index: UInt32, segments: [V03File], limit: Int64?)
        /// v0.5: apply this LTX file.
        case ltx(LTXFileRef)

        /// The replica files the step reads, relative to the replica root.
        public var files: [String] {
            switch self {
            case .snapshot(let f): return [f.path]
            case .walIndex(_, let segs, _): return segs.map(\.path)
            case .ltx(let r): return [r.path]
            }
        }

        /// Stored bytes of those files.
        public var bytes: Int64 {
            switch self {
            case .snapshot(let f): return f.size
            case .walIndex(_, let segs, _): return segs.reduce(0) { $0 + $1.size }
            case .ltx(let r): return r.size
            }
        }
    }

    public var steps: [Step]
    /// Why this generation / snapshot was chosen, in words.
    public var reasons: [String]
    /// Warnings about the choice (ambiguous generation, untrusted times).
    public var warnings: [Finding]
    /// The position restored to (0.3: after the last commit the plan applies).
    public var position: Position
    /// Time of the last file applied (v0.5: LTX header; v0.3: file time), seconds since the epoch.
    public var time: Double?

    /// The Litestream version of the replica planned.
    public var format: Replica.Format { position.format }
    /// 0.3: the generation restored.
    public var generation: String? { position.generation }
    /// 0.5: the TXID restored to.
    public var txid: UInt64? { position.txid }

    /// Every replica file the plan reads, relative to the replica root.
    public var files: [String] { steps.flatMap(\.files) }

    /// 0.3: the snapshot and WAL segments the plan reads, in the order it reads them.
    public var v03Files: [V03File] {
        steps.flatMap { step -> [V03File] in
            switch step {
            case .snapshot(let file): return [file]
            case .walIndex(_, let segments, _): return segments
            case .ltx: return []
            }
        }
    }

    public var totalBytes: Int64 { steps.reduce(0) { $0 + $1.bytes } }
}
