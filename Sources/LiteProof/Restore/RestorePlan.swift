import Foundation

/// The files a restore applies, in order, and why: a plan of the replica's own format.
///
/// A plan is made once (``RestorePlanner/plan(_:)``) and handed on: `verify` and its trial
/// restore, `verify --all`, `compare`, `bench` and the restore itself take the plan they are
/// given rather than planning again. Anything that differs by format switches on the plan.
public enum RestorePlan: Sendable {
    /// Litestream 0.3: one snapshot, then WAL indexes.
    case v03(V03RestorePlan)
    /// Litestream 0.5: LTX files, with the headers planning read.
    case ltx(LTXRestorePlan)

    /// The Litestream version of the replica planned.
    public var format: Replica.Format {
        switch self {
        case .v03: return .v03
        case .ltx: return .ltx
        }
    }

    /// The 0.3 plan, nil for a 0.5 one.
    public var v03: V03RestorePlan? {
        if case .v03(let p) = self { return p }
        return nil
    }

    /// The 0.5 plan, nil for a 0.3 one.
    public var ltx: LTXRestorePlan? {
        if case .ltx(let p) = self { return p }
        return nil
    }

    /// The position restored to (0.3: after the last commit the plan applies).
    public var position: Position {
        get {
            switch self {
            case .v03(let p): return p.position
            case .ltx(let p): return p.position
            }
        }
        set {
            switch self {
            case .v03(var p):
                p.position = newValue
                self = .v03(p)
            case .ltx(var p):
                p.position = newValue
                self = .ltx(p)
            }
        }
    }

    /// Why this generation / snapshot was chosen, in words.
    public var reasons: [String] {
        switch self {
        case .v03(let p): return p.reasons
        case .ltx(let p): return p.reasons
        }
    }

    /// Warnings about the choice (ambiguous generation, untrusted times).
    public var warnings: [Finding] {
        switch self {
        case .v03(let p): return p.warnings
        case .ltx(let p): return p.warnings
        }
    }

    /// Time of the last file applied (v0.5: LTX header; v0.3: file time), seconds since the epoch.
    public var time: Double? {
        switch self {
        case .v03(let p): return p.time
        case .ltx(let p): return p.time
        }
    }

    /// 0.3: the generation restored.
    public var generation: String? { position.generation }
    /// 0.5: the TXID restored to.
    public var txid: UInt64? { position.txid }

    /// Every replica file the plan reads, relative to the replica root, in the order it reads them.
    public var files: [String] {
        switch self {
        case .v03(let p): return p.files.map(\.path)
        case .ltx(let p): return p.files.map(\.path)
        }
    }

    /// Stored bytes of those files.
    public var totalBytes: Int64 {
        switch self {
        case .v03(let p): return p.files.reduce(0) { $0 + $1.size }
        case .ltx(let p): return p.files.reduce(0) { $0 + $1.size }
        }
    }
}

/// A Litestream 0.3 restore: decompress one snapshot, then apply the committed frames of each
/// WAL index from the snapshot's on.
public struct V03RestorePlan: Sendable {
    /// One WAL index the restore applies.
    public struct WALIndex: Sendable {
        public var index: UInt32
        /// Its segments, by offset (the first at offset 0).
        public var segments: [V03File]
        /// Apply its WAL only up to this many bytes (an `--offset` target), whole commits.
        public var limit: Int64?
    }

    /// The generation restored.
    public var generation: String
    /// The snapshot the restore starts from.
    public var snapshot: V03File
    /// The WAL indexes applied after it, ascending.
    public var indexes: [WALIndex]
    public var reasons: [String]
    public var warnings: [Finding]
    /// After the last commit the plan applies (or, when the plan was made without reading the
    /// last WAL, the start of its last segment).
    public var position: Position
    /// File time of the last file applied.
    public var time: Double?

    /// The snapshot and WAL segments the plan reads, in the order it reads them.
    public var files: [V03File] { [snapshot] + indexes.flatMap(\.segments) }
}

/// A Litestream 0.5 restore: LTX files applied in order (a snapshot or a file starting at TXID 1
/// first).
public struct LTXRestorePlan: Sendable {
    /// The files, in the order the restore applies them.
    public var files: [LTXFileRef]
    /// The header of each file that planning read (nil: not read), so the restore reads none twice.
    public var headers: [LTXHeader?]
    public var reasons: [String]
    public var warnings: [Finding]
    /// The TXID the last file ends at.
    public var position: Position
    /// The last file's header time.
    public var time: Double?

    /// The header of file `i` when planning read it.
    public func header(at i: Int) -> LTXHeader? { headers.indices.contains(i) ? headers[i] : nil }
}
