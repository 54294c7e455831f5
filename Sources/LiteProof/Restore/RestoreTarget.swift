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
