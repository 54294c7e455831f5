import Foundation

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
