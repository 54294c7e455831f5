import Foundation

/// Which point of a replica to restore. Everything nil means "the latest restorable point".
public struct RestoreTarget: Sendable, Codable, Equatable {
    /// v0.3: restore from this generation instead of the one Litestream would choose.
    public var generation: String?
    /// v0.3: stop after this WAL index.
    public var index: UInt32?
    /// v0.3 (with `index`): apply that index's WAL only up to this byte offset (whole commits).
    public var offset: Int64?
    /// v0.5: stop at this TXID.
    public var txid: UInt64?
    /// Both: the state as of this time (seconds since the epoch).
    public var timestamp: Double?

    public init(generation: String? = nil, index: UInt32? = nil, offset: Int64? = nil, txid: UInt64? = nil, timestamp: Double? = nil) {
        self.generation = generation
        self.index = index
        self.offset = offset
        self.txid = txid
        self.timestamp = timestamp
    }

    public static let latest = RestoreTarget()
    public var isLatest: Bool { self == .latest }
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
    }

    public var format: Replica.Format
    public var steps: [Step]
    /// v0.3: the generation restored.
    public var generation: String?
    /// Why this generation / snapshot was chosen, in words.
    public var reasons: [String]
    /// Warnings about the choice (ambiguous generation, untrusted times).
    public var warnings: [Finding]
    /// The position restored to: "generation/index:offset" (v0.3) or "TXID" (v0.5).
    public var position: String
    /// v0.5: TXID restored to.
    public var txid: UInt64?
    /// Time of the last file applied (v0.5: LTX header; v0.3: file time), seconds since the epoch.
    public var time: Double?

    /// Every replica file the plan reads, relative to the replica root.
    public var files: [String] {
        steps.flatMap { step -> [String] in
            switch step {
            case .snapshot(let f): return [f.path]
            case .walIndex(_, let segs, _): return segs.map(\.path)
            case .ltx(let r): return [r.path]
            }
        }
    }

    public var totalBytes: Int64 {
        steps.reduce(0) { sum, step in
            switch step {
            case .snapshot(let f): return sum + f.size
            case .walIndex(_, let segs, _): return sum + segs.reduce(0) { $0 + $1.size }
            case .ltx(let r): return sum + r.size
            }
        }
    }
}
