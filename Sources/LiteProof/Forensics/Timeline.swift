import Foundation

/// Every restorable point of a replica, in order, with its time, and what breaks the history:
/// the `timeline` view (forensics).
///
/// - Litestream 0.3: one lane per generation; points are its snapshots (the state at the start
///   of their WAL index) and every commit frame of every WAL index (the state after it, at
///   `generation/index:offset`). 0.3 files carry no times: a point's time is the modification
///   time of the file holding it, as Litestream uses them.
/// - Litestream 0.5: one lane per level; a point per TXID state that a restore can stop at (an
///   L0 file, or the end of a compacted file when the L0 files of its TXIDs expired: a coarse
///   range), and per snapshot that ends where no incremental file does. Times are LTX header
///   timestamps.
///
/// A point is restorable when the plan Litestream makes for it (``RestorePlanner``) exists and
/// reads no file with an error finding (``Verifier``).
public struct Timeline: Codable, Sendable {
    public enum PointKind: String, Codable, Sendable {
        /// 0.3: the database a snapshot holds (the start of its WAL index); 0.5: a TXID that
        /// only a snapshot ends at.
        case snapshot
        /// 0.3: the database after one commit frame of a WAL index.
        case commit
        /// 0.5: the database at one TXID.
        case txid
        /// 0.5: TXIDs that are only inside a compacted file (their L0 files expired): restorable
        /// only as a whole, at the last one.
        case range
    }

    public enum FileKind: String, Codable, Sendable {
        case snapshot
        case wal
        case ltx
    }

    /// How a file stands in the timeline.
    public enum FileStatus: String, Codable, Sendable {
        /// Sound, and every point it holds restores.
        case ok
        /// It has an error finding (checksum, LZ4, header…).
        case damaged
        /// Sound, but some of the points it holds do not restore (the chain to them is broken).
        case partial
        /// Sound, but none of the points it holds restores (or it lies after a break).
        case unreachable
    }

    public struct Point: Sendable {
        /// `generation/index:offset` (0.3, Litestream's notation) or the TXID (0.5).
        public var position: Position
        public var kind: PointKind
        /// ISO 8601, from the file holding the point (0.3: file time; 0.5: LTX header).
        public var time: String?
        /// Seconds since the epoch (the same time).
        public var seconds: Double?
        /// The replica file holding the point.
        public var file: String
        /// Litestream's restore plan to the point exists and reads no damaged file.
        public var restorable: Bool
        /// Litestream's plan to the point exists and the chain of files to it has no gap
        /// (damage inside the files not considered).
        public var planned: Bool
        /// Why the point does not restore.
        public var reason: String?
        /// Anything else worth knowing (coarse ranges, unverified frames).
        public var note: String?
        /// The lane (generation or level) that holds the point's file.
        public var lane: String
        /// What the point is, by Litestream version.
        public var detail: Detail

        public enum Detail: Sendable, Hashable {
            /// 0.3: the database size in pages after the commit (nil for a snapshot point).
            case v03(pages: UInt32?)
            /// 0.5: the first TXID the point stands for (below its TXID for a coarse range), the
            /// level of the file holding it, a snapshot that ends at the same TXID, and whether
            /// the TXIDs before it in its range cannot be restored to one by one.
            case ltx(fromTXID: UInt64, level: Int, snapshot: String?, coarse: Bool)
        }

        /// 0.3: database size in pages after the commit.
        public var pages: UInt32? {
            if case .v03(let pages) = detail { return pages }
            return nil
        }
        /// 0.5: first TXID the point stands for.
        public var fromTXID: UInt64? {
            if case .ltx(let from, _, _, _) = detail { return from }
            return nil
        }
        /// 0.5: the level of the file holding the point.
        public var level: Int? {
            if case .ltx(_, let level, _, _) = detail { return level }
            return nil
        }
        /// 0.5: a snapshot that ends at this TXID as well.
        public var snapshot: String? {
            if case .ltx(_, _, let snapshot, _) = detail { return snapshot }
            return nil
        }
        /// 0.5: true when the TXIDs before this one in the point's range cannot be restored to
        /// one by one (nil otherwise, as in JSON).
        public var coarse: Bool? {
            if case .ltx(_, _, _, true) = detail { return true }
            return nil
        }

        /// What to pass to `restore` to get this point.
        public var target: RestoreTarget { position.target }
        /// 0.3: the generation.
        public var generation: String? { position.generation }
        /// 0.3: the WAL index.
        public var index: UInt32? {
            if case .v03(_, let i, _) = position { return i }
            return nil
        }
        /// 0.3: WAL offset just after the commit frame (0 for a snapshot).
        public var offset: Int64? {
            if case .v03(_, _, let o) = position { return o }
            return nil
        }
        /// 0.5: the TXID.
        public var txid: UInt64? { position.txid }
    }

    /// One file of a lane: a bar along the time axis.
    public struct FileBar: Codable, Sendable {
        public var path: String
        public var kind: FileKind
        /// `index:offset-end` (0.3 segment), `index` (0.3 snapshot), `min-max` (0.5).
        public var position: String
        public var time: String?
        /// The file's time (seconds since the epoch).
        public var seconds: Double?
        /// The time of the state the file starts from (the previous file's time), for drawing.
        public var startSeconds: Double?
        public var status: FileStatus
        /// Points held in the file (0.3: commits, or 1 for a snapshot; 0.5: TXID points).
        public var points: Int
        public var restorablePoints: Int
        public var size: Int64
        // 0.3
        public var index: UInt32?
        /// WAL offsets the segment covers (`walEnd` unknown when it cannot be decompressed).
        public var walStart: Int64?
        public var walEnd: Int64?
        // 0.5
        public var level: Int?
        public var minTXID: UInt64?
        public var maxTXID: UInt64?
        public var note: String?
    }

    public struct Lane: Codable, Sendable {
        /// `generation <id>` or `L<level>`.
        public var id: String
        /// `generation` or `level`.
        public var kind: String
        public var generation: String?
        public var level: Int?
        public var firstTime: String?
        public var lastTime: String?
        public var files: [FileBar]
    }

    public struct Gap: Codable, Sendable {
        public enum Kind: String, Codable, Sendable {
            /// 0.3: a WAL index with no segments between indexes that have them.
            case missingIndex = "missing-index"
            /// 0.3: the segment at offset 0 (with the WAL header) is missing.
            case missingInitialSegment = "missing-initial-segment"
            /// 0.3: WAL bytes missing between two segments of an index.
            case walHole = "wal-hole"
            /// 0.5: TXIDs in no incremental LTX file.
            case missingTXIDs = "missing-txids"
        }

        public var kind: Kind
        public var lane: String
        /// First and last missing position (``Position`` text; `generation/index:end` for the
        /// unknown end of a missing index).
        public var from: String
        public var to: String
        public var description: String
        /// The files on either side of the gap.
        public var after: String?
        public var before: String?
        public var startTime: String?
        public var endTime: String?
        public var startSeconds: Double?
        public var endSeconds: Double?
        // numbers for drawing and tools
        public var index: UInt32?
        public var walStart: Int64?
        public var walEnd: Int64?
        public var fromTXID: UInt64?
        public var toTXID: UInt64?
    }

    public struct Damaged: Codable, Sendable {
        public var file: String
        public var lane: String
        public var codes: [String]
        public var findings: [Finding]
        /// Points the file holds.
        public var points: Int
        /// Points that do not restore because a restore to them reads this file.
        public var unrestorablePoints: Int
    }

    /// A point, briefly, for the summary.
    public struct PointRef: Sendable {
        public var position: Position
        public var kind: PointKind
        public var time: String?
        public var file: String
        /// What to pass to `restore` to get this point.
        public var target: RestoreTarget { position.target }

        init(_ p: Point) {
            position = p.position
            kind = p.kind
            time = p.time
            file = p.file
        }
    }

    public struct Summary: Codable, Sendable {
        public var points: Int
        public var restorablePoints: Int
        public var unrestorablePoints: Int
        /// 0.3: commit points; 0.5: TXIDs the points stand for.
        public var commits: Int?
        public var txids: Int?
        public var gaps: Int
        public var damaged: Int
        /// The range Litestream's plans cover (file names and chain; damage inside files not
        /// considered, as Litestream does not know of it before it reads them).
        public var firstRestorable: PointRef?
        public var lastRestorable: PointRef?
        /// The last point that restores cleanly: its plan exists and reads no damaged file.
        public var lastClean: PointRef?
        /// The first point after a clean one that does not restore: where the history breaks.
        public var firstBroken: PointRef?
        /// The newest point in the replica, restorable or not.
        public var newest: PointRef?
        /// What `litestream restore` without a target would restore (its plan), or why it cannot.
        public var latest: PlanSummary?
        public var latestError: String?
        /// The plan for the latest point reads no damaged file and crosses no gap.
        public var latestRestores: Bool
        /// Every point from `firstRestorable` on restores cleanly, no gap, no damage.
        public var clean: Bool
    }

    public var replica: String
    public var format: Replica.Format
    /// Where the times come from, in words.
    public var timeSource: String
    /// False when 0.3 file times are missing or all equal (a copy that lost them): the picture
    /// then orders files by position instead of time.
    public var timesTrusted: Bool
    public var lanes: [Lane]
    public var points: [Point]
    public var gaps: [Gap]
    public var damaged: [Damaged]
    public var summary: Summary
    /// Every finding of the verifier run the timeline is built on.
    public var findings: [Finding]
}

// MARK: - Building

extension Timeline {
    /// Builds the timeline: runs ``Verifier`` (every file read in full), reads each 0.3 WAL index
    /// again to place its commits (or each 0.5 LTX header), and plans a restore to every point.
    /// Throws the first storage failure: a file the store could not produce is no damage, and a
    /// history drawn without its bytes would be wrong.
    public static func build(_ replica: Replica, progress: ProgressHandler? = nil) throws -> Timeline {
        let report = Verifier(replica: replica, progress: progress).run()
        if let failure = report.storageFailures.first { throw failure.error(path: replica.root) }
        var builder = TimelineBuilder(replica: replica, findings: report.findings)
        switch replica.layout {
        case .v03(let layout): builder.buildV03(layout)
        case .ltx(let layout): builder.buildLTX(layout)
        }
        let timeline = builder.finish()
        try replica.checkStorage()
        return timeline
    }
}

// MARK: - JSON

/// A point in JSON: its position's parts spelled out beside it (`generation`, `index` in hex and
/// `offset` for 0.3; `txid` for 0.5) and the restore `target`, as tools read them.
extension Timeline.Point: Codable {
    enum CodingKeys: String, CodingKey {
        case position, kind, time, seconds, file, restorable, planned, reason, note, lane, target
        case generation, index, offset, pages, txid, fromTXID, level, snapshot, coarse
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        position = try c.decode(Position.self, forKey: .position)
        kind = try c.decode(Timeline.PointKind.self, forKey: .kind)
        time = try c.decodeIfPresent(String.self, forKey: .time)
        seconds = try c.decodeIfPresent(Double.self, forKey: .seconds)
        file = try c.decode(String.self, forKey: .file)
        restorable = try c.decode(Bool.self, forKey: .restorable)
        planned = try c.decode(Bool.self, forKey: .planned)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        note = try c.decodeIfPresent(String.self, forKey: .note)
        lane = try c.decode(String.self, forKey: .lane)
        switch position {
        case .v03:
            detail = .v03(pages: try c.decodeIfPresent(UInt32.self, forKey: .pages))
        case .ltx(let txid):
            detail = .ltx(
                fromTXID: try c.decodeIfPresent(UInt64.self, forKey: .fromTXID) ?? txid, level: try c.decodeIfPresent(Int.self, forKey: .level) ?? 0,
                snapshot: try c.decodeIfPresent(String.self, forKey: .snapshot), coarse: try c.decodeIfPresent(Bool.self, forKey: .coarse) ?? false)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(position, forKey: .position)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(time, forKey: .time)
        try c.encodeIfPresent(seconds, forKey: .seconds)
        try c.encode(file, forKey: .file)
        try c.encode(restorable, forKey: .restorable)
        try c.encode(planned, forKey: .planned)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encodeIfPresent(note, forKey: .note)
        try c.encode(lane, forKey: .lane)
        try c.encode(target, forKey: .target)
        try c.encodeIfPresent(generation, forKey: .generation)
        try c.encodeIfPresent(index?.hex(width: 8), forKey: .index)
        try c.encodeIfPresent(offset, forKey: .offset)
        try c.encodeIfPresent(pages, forKey: .pages)
        try c.encodeIfPresent(txid, forKey: .txid)
        try c.encodeIfPresent(fromTXID, forKey: .fromTXID)
        try c.encodeIfPresent(level, forKey: .level)
        try c.encodeIfPresent(snapshot, forKey: .snapshot)
        try c.encodeIfPresent(coarse, forKey: .coarse)
    }
}

extension Timeline.PointRef: Codable {
    enum CodingKeys: String, CodingKey { case position, kind, time, file, target }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        position = try c.decode(Position.self, forKey: .position)
        kind = try c.decode(Timeline.PointKind.self, forKey: .kind)
        time = try c.decodeIfPresent(String.self, forKey: .time)
        file = try c.decode(String.self, forKey: .file)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(position, forKey: .position)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(time, forKey: .time)
        try c.encode(file, forKey: .file)
        try c.encode(target, forKey: .target)
    }
}
