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

    public struct Point: Codable, Sendable {
        /// `generation/index:offset` (0.3, Litestream's notation) or the TXID in hex (0.5).
        public var position: String
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
        /// What to pass to `restore` to get this point.
        public var target: RestoreTarget
        // 0.3
        public var generation: String?
        public var index: String?
        /// WAL offset just after the commit frame (0 for a snapshot).
        public var offset: Int64?
        /// Database size in pages after the commit.
        public var pages: UInt32?
        // 0.5
        public var txid: UInt64?
        /// First TXID the point stands for (below `txid` for a coarse range).
        public var fromTXID: UInt64?
        public var level: Int?
        /// A snapshot that ends at this TXID as well.
        public var snapshot: String?
        /// The TXIDs before this one in the point's range cannot be restored to one by one.
        public var coarse: Bool?
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
        /// First and last missing position (`generation/index:offset`, or TXIDs in hex).
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
    public struct PointRef: Codable, Sendable {
        public var position: String
        public var kind: PointKind
        public var time: String?
        public var file: String
        public var target: RestoreTarget

        init(_ p: Point) {
            position = p.position
            kind = p.kind
            time = p.time
            file = p.file
            target = p.target
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
    public static func build(_ replica: Replica, progress: ProgressHandler? = nil) -> Timeline {
        let report = Verifier(replica: replica, progress: progress).run()
        var builder = TimelineBuilder(replica: replica, findings: report.findings)
        switch replica.format {
        case .v03: builder.buildV03()
        case .ltx: builder.buildLTX()
        }
        return builder.finish()
    }
}

/// The state of one build.
struct TimelineBuilder {
    let replica: Replica
    let findings: [Finding]
    /// Error findings by file.
    let errors: [String: [Finding]]
    var lanes: [Timeline.Lane] = []
    var points: [Timeline.Point] = []
    var gaps: [Timeline.Gap] = []
    var timesTrusted = true

    init(replica: Replica, findings: [Finding]) {
        self.replica = replica
        self.findings = findings
        var errors: [String: [Finding]] = [:]
        for f in findings where f.severity == .error && !f.file.isEmpty {
            errors[f.file, default: []].append(f)
        }
        self.errors = errors
    }

    /// A file is damaged when a finding about its own bytes is an error; `chain.*` findings are
    /// about files missing around it (gaps), not about it.
    func isDamaged(_ path: String) -> Bool {
        (errors[path] ?? []).contains { !$0.code.rawValue.hasPrefix("chain.") }
    }

    /// Why a restore that reads `files` fails, if one of them has an error finding; and whether
    /// that is damage (rather than a gap before the file).
    func blocker(_ files: [String]) -> (reason: String, damage: Bool)? {
        for path in files {
            guard let list = errors[path], let first = list.first else { continue }
            if let d = list.first(where: { !$0.code.rawValue.hasPrefix("chain.") }) {
                return ("needs \(path), which is damaged (\(d.code.rawValue): \(d.message))", true)
            }
            return ("follows a gap: \(path) (\(first.code.rawValue)): \(first.message)", false)
        }
        return nil
    }

    static func time(_ seconds: Double?) -> String? { seconds.map(formatTime) }

    // MARK: v0.3

    struct IndexRead {
        var generation: String
        var index: UInt32
        var result: V03Readers.IndexResult?
        /// WAL offset after each valid commit frame, and the database size then.
        var commits: [(end: Int64, pages: UInt32)] = []
        /// Commit frames found by scanning segments after the WAL stream broke (not verified).
        var unverified: [(end: Int64, pages: UInt32)] = []
        /// Where the stream of valid frames ends.
        var validEnd: Int64 = 0
    }

    mutating func buildV03() {
        let gens = (replica.v03?.generations ?? []).sorted {
            ($0.timeBounds?.0 ?? .infinity, $0.id) < ($1.timeBounds?.0 ?? .infinity, $1.id)
        }
        timesTrusted = gens.allSatisfy { g in
            let times = g.allFiles.compactMap(\.modified)
            return times.count == g.allFiles.count && (times.count < 2 || Set(times).count > 1)
        }
        let replica = self.replica
        let units = gens.flatMap { g in g.indexes.map { (g, $0) } }
        let reads: [IndexRead] = parallelMap(units) { g, i in
            TimelineBuilder.readIndex(replica, generation: g, index: i)
        }
        var readsByKey: [String: IndexRead] = [:]
        for r in reads { readsByKey["\(r.generation)/\(r.index)"] = r }
        let planner = RestorePlanner(replica: replica)

        for g in gens {
            let laneID = "generation \(g.id)"
            var lanePoints: [Timeline.Point] = []
            // The page size of the generation, for scanning past a break.
            // Snapshot points.
            for s in g.snapshots {
                var p = Timeline.Point(
                    position: "\(g.id)/\(s.index.hex(width: 8)):0", kind: .snapshot, time: Self.time(s.modified), seconds: s.modified,
                    file: s.path, restorable: true, planned: true, lane: laneID,
                    target: RestoreTarget(generation: g.id, index: s.index, offset: 0),
                    generation: g.id, index: s.index.hex(width: 8), offset: 0)
                if let b = blocker([s.path]) {
                    p.restorable = false
                    p.planned = b.damage
                    p.reason = b.reason
                }
                lanePoints.append(p)
            }
            // Commit points, index by index.
            for i in g.indexes {
                guard let read = readsByKey["\(g.id)/\(i)"] else { continue }
                let segs = g.segments(of: i)
                let segPaths = Set(segs.map(\.path))
                var base: [String]?
                var planError: String?
                do {
                    let plan = try planner.plan(RestoreTarget(generation: g.id, index: i))
                    base = plan.files.filter { !segPaths.contains($0) }
                } catch let e as LiteProofError {
                    planError = e.finding?.message ?? e.message
                } catch let e as FormatError {
                    planError = e.message
                } catch {
                    planError = "\(error)"
                }
                func holder(_ end: Int64) -> V03File {
                    segs.last(where: { $0.offset < end }) ?? segs[0]
                }
                for c in read.commits {
                    let seg = holder(c.end)
                    var p = Timeline.Point(
                        position: "\(g.id)/\(i.hex(width: 8)):\(c.end)", kind: .commit, time: Self.time(seg.modified), seconds: seg.modified,
                        file: seg.path, restorable: true, planned: true, lane: laneID,
                        target: RestoreTarget(generation: g.id, index: i, offset: c.end),
                        generation: g.id, index: i.hex(width: 8), offset: c.end, pages: c.pages)
                    if let planError {
                        p.restorable = false
                        p.planned = false
                        p.reason = planError
                    } else if let b = blocker(base! + segs.filter { $0.offset < c.end }.map(\.path)) {
                        p.restorable = false
                        p.planned = b.damage
                        p.reason = b.reason
                    }
                    lanePoints.append(p)
                }
                for c in read.unverified {
                    let seg = holder(c.end)
                    var p = Timeline.Point(
                        position: "\(g.id)/\(i.hex(width: 8)):\(c.end)", kind: .commit, time: Self.time(seg.modified), seconds: seg.modified,
                        file: seg.path, restorable: false, planned: false, lane: laneID,
                        target: RestoreTarget(generation: g.id, index: i, offset: c.end),
                        generation: g.id, index: i.hex(width: 8), offset: c.end, pages: c.pages)
                    p.note = "found by reading frame headers after the WAL broke at offset \(read.validEnd); not verified"
                    if let planError {
                        p.reason = planError
                    } else if let b = blocker(base! + segs.filter { $0.offset < c.end }.map(\.path)) {
                        p.planned = b.damage
                        p.reason = b.reason
                    } else {
                        p.reason = "the WAL of index \(i.hex(width: 8)) breaks at offset \(read.validEnd): frames after it cannot be checked or applied"
                    }
                    lanePoints.append(p)
                }
            }
            lanePoints.sort { ($0.target.index ?? 0, $0.offset ?? 0) < ($1.target.index ?? 0, $1.offset ?? 0) }
            points += lanePoints

            // Gaps.
            var laneGaps: [Timeline.Gap] = []
            let present = Set(g.indexes)
            let snapshotIndexes = Set(g.snapshots.map(\.index))
            if let lo = (g.indexes + g.snapshots.map(\.index)).min(), let hi = g.maxIndex, lo < hi {
                for i in lo...hi where !present.contains(i) {
                    if i == hi && snapshotIndexes.contains(i) { continue }
                    let before = g.segments.last { $0.index < i }
                    let after = g.segments.first { $0.index > i }
                    laneGaps.append(
                        Timeline.Gap(
                            kind: .missingIndex, lane: laneID,
                            from: "\(g.id)/\(i.hex(width: 8)):0", to: "\(g.id)/\(i.hex(width: 8)):end",
                            description:
                                "WAL index \(i.hex(width: 8)) of generation \(g.id) has no segments: every commit of it is missing, and restores past it need a snapshot after it",
                            after: before?.path, before: after?.path ?? g.snapshots.first { $0.index > i }?.path,
                            startTime: Self.time(before?.modified), endTime: Self.time(after?.modified),
                            startSeconds: before?.modified, endSeconds: after?.modified, index: i))
                }
            }
            for i in g.indexes {
                let segs = g.segments(of: i)
                let sizes = readsByKey["\(g.id)/\(i)"]?.result?.segmentSizes ?? [:]
                if let first = segs.first, first.offset != 0 {
                    let prev = g.segments.last { $0.index < i }
                    laneGaps.append(
                        Timeline.Gap(
                            kind: .missingInitialSegment, lane: laneID,
                            from: "\(g.id)/\(i.hex(width: 8)):0", to: "\(g.id)/\(i.hex(width: 8)):\(first.offset)",
                            description:
                                "WAL offsets 0–\(first.offset) of index \(i.hex(width: 8)) are missing (the first segment, with the WAL header): no commit of this index restores",
                            after: prev?.path, before: first.path,
                            startTime: Self.time(prev?.modified), endTime: Self.time(first.modified),
                            startSeconds: prev?.modified, endSeconds: first.modified, index: i, walStart: 0, walEnd: first.offset))
                }
                for (a, b) in zip(segs, segs.dropFirst()) {
                    guard let size = sizes[a.path], a.offset + size < b.offset else { continue }
                    laneGaps.append(
                        Timeline.Gap(
                            kind: .walHole, lane: laneID,
                            from: "\(g.id)/\(i.hex(width: 8)):\(a.offset + size)", to: "\(g.id)/\(i.hex(width: 8)):\(b.offset)",
                            description:
                                "WAL offsets \(a.offset + size)–\(b.offset) of index \(i.hex(width: 8)) are missing (\(b.offset - a.offset - size) bytes between \(a.path) and \(b.path)): commits from there on do not restore",
                            after: a.path, before: b.path,
                            startTime: Self.time(a.modified), endTime: Self.time(b.modified),
                            startSeconds: a.modified, endSeconds: b.modified, index: i, walStart: a.offset + size, walEnd: b.offset))
                }
            }
            laneGaps.sort { ($0.index ?? 0, $0.walStart ?? 0) < ($1.index ?? 0, $1.walStart ?? 0) }
            gaps += laneGaps

            // Files.
            var bars: [Timeline.FileBar] = []
            var previousTime: Double?
            let files = (g.snapshots.map { ($0, true) } + g.segments.map { ($0, false) }).sorted {
                ($0.0.index, $0.1 ? 0 : 1, $0.0.offset) < ($1.0.index, $1.1 ? 0 : 1, $1.0.offset)
            }
            let heldBy = Dictionary(grouping: lanePoints, by: \.file)
            // The lane's first segment starts at its index's snapshot, when that is older.
            func firstStart(_ f: V03File) -> Double? {
                guard let own = f.modified else { return nil }
                if let snap = g.snapshots.first(where: { $0.index == f.index })?.modified, snap <= own { return snap }
                return own
            }
            for (f, isSnapshot) in files {
                let held = heldBy[f.path] ?? []
                let restorable = held.filter(\.restorable).count
                var bar = Timeline.FileBar(
                    path: f.path, kind: isSnapshot ? .snapshot : .wal,
                    position: isSnapshot ? f.index.hex(width: 8) : "\(f.index.hex(width: 8)):\(f.offset)",
                    time: Self.time(f.modified), seconds: f.modified, startSeconds: isSnapshot ? f.modified : (previousTime ?? firstStart(f)),
                    status: .ok, points: held.count, restorablePoints: restorable, size: f.size, index: f.index)
                if !isSnapshot {
                    let read = readsByKey["\(g.id)/\(f.index)"]
                    bar.walStart = f.offset
                    if let size = read?.result?.segmentSizes[f.path] { bar.walEnd = f.offset + size }
                    if held.isEmpty, let read, f.offset >= read.validEnd, read.result?.hasErrors == true {
                        bar.status = .unreachable
                    }
                    previousTime = f.modified ?? previousTime
                }
                if isDamaged(f.path) {
                    bar.status = .damaged
                } else if !held.isEmpty && restorable == 0 {
                    bar.status = .unreachable
                } else if restorable < held.count {
                    bar.status = .partial
                }
                if bar.status == .unreachable, let reason = held.first(where: { !$0.restorable })?.reason {
                    bar.note = reason
                } else if bar.status == .damaged {
                    bar.note = errors[f.path]?.first.map { "\($0.code.rawValue): \($0.message)" }
                }
                bars.append(bar)
            }
            let bounds = g.timeBounds
            lanes.append(
                Timeline.Lane(
                    id: laneID, kind: "generation", generation: g.id, level: nil,
                    firstTime: Self.time(bounds?.0), lastTime: Self.time(bounds?.1), files: bars))
        }
    }

    /// Reads one WAL index for its commit frames, then scans the segments after a break (hole,
    /// damage) for commit frames that cannot be verified any more.
    static func readIndex(_ replica: Replica, generation g: V03Generation, index i: UInt32) -> IndexRead {
        var read = IndexRead(generation: g.id, index: i)
        let segs = g.segments(of: i)
        final class Box: @unchecked Sendable {
            var commits: [(end: Int64, pages: UInt32)] = []
            var validEnd: Int64 = 0
        }
        let box = Box()
        let result = try? V03Readers.readIndex(replica, index: i, segments: segs, expectedPageSize: nil) { frame in
            let end = frame.walOffset + 24 + Int64(frame.page.count)
            box.validEnd = end
            if frame.commitSize != 0 { box.commits.append((end, frame.commitSize)) }
        }
        read.result = result
        read.commits = box.commits
        read.validEnd = max(box.validEnd, result?.header != nil ? Int64(WALHeader.size) : 0)
        guard let result, result.hasErrors else { return read }
        // Past the break: segments that decompress, scanned for frame headers with the index's salts.
        let header = result.header
        guard let pageSize = header?.pageSize ?? otherPageSize(replica, g) else { return read }
        let frameSize = Int64(24 + pageSize)
        for seg in segs where (result.segmentSizes[seg.path].map { seg.offset + $0 } ?? .max) > read.validEnd && seg.offset >= result.walSize {
            guard let file = try? replica.open(seg.path) else { continue }
            var bytes: [UInt8] = []
            guard (try? LZ4Frame.decompress(file, name: seg.path, { bytes += $0 })) != nil else { continue }
            let segEnd = seg.offset + Int64(bytes.count)
            // First frame start at or after max(segment start, end of the valid frames).
            var pos = max(seg.offset, read.validEnd, Int64(WALHeader.size))
            let rem = (pos - Int64(WALHeader.size)) % frameSize
            if rem != 0 { pos += frameSize - rem }
            while pos + frameSize <= segEnd {
                let at = Int(pos - seg.offset)
                let pgno = bytes.u32BE(at: at), commit = bytes.u32BE(at: at + 4)
                let salt1 = bytes.u32BE(at: at + 8), salt2 = bytes.u32BE(at: at + 12)
                let saltsMatch = header.map { $0.salt1 == salt1 && $0.salt2 == salt2 } ?? true
                if pgno != 0 && commit != 0 && saltsMatch { read.unverified.append((pos + frameSize, commit)) }
                pos += frameSize
            }
        }
        return read
    }

    /// The page size of another index of the generation (for scanning an index whose header is lost).
    static func otherPageSize(_ replica: Replica, _ g: V03Generation) -> Int? {
        for i in g.indexes {
            guard let first = g.segments(of: i).first, first.offset == 0, let file = try? replica.open(first.path) else { continue }
            var head: [UInt8] = []
            _ = try? LZ4Frame.decompress(file, name: first.path) { chunk in
                if head.count < WALHeader.size { head += chunk.prefix(WALHeader.size - head.count) }
            }
            if head.count == WALHeader.size, let h = try? head.withUnsafeBytes({ try WALHeader.parse($0) }) { return h.pageSize }
        }
        return nil
    }

    // MARK: v0.5

    mutating func buildLTX() {
        guard let layout = replica.ltx else { return }
        let replica = self.replica
        let headers: [LTXHeader?] = parallelMap(layout.files) { ref in
            try? LTX.readHeader(try replica.open(ref.path), name: ref.path)
        }
        var seconds: [String: Double] = [:]
        for (ref, h) in zip(layout.files, headers) {
            if let h { seconds[ref.path] = Double(h.timestamp) / 1000 } else if let m = ref.modified { seconds[ref.path] = m }
        }
        let incremental = layout.files.filter { $0.level != LTXLayout.snapshotLevel }
        let snapshots = layout.files.filter { $0.level == LTXLayout.snapshotLevel }
        let firstIncremental = incremental.map(\.minTXID).min() ?? .max
        // Incremental coverage as disjoint sorted ranges.
        var covered: [(UInt64, UInt64)] = []
        for f in incremental.sorted(by: { ($0.minTXID, $0.maxTXID) < ($1.minTXID, $1.maxTXID) }) {
            if let last = covered.last, f.minTXID <= last.1 &+ 1 {
                covered[covered.count - 1].1 = max(last.1, f.maxTXID)
            } else {
                covered.append((f.minTXID, f.maxTXID))
            }
        }
        func isCovered(_ t: UInt64) -> Bool { covered.contains { $0.0 <= t && t <= $0.1 } }
        let endingAt = Dictionary(grouping: incremental, by: \.maxTXID)
        let candidates = Set(incremental.map(\.maxTXID)).union(snapshots.map(\.maxTXID)).sorted()
        let planner = RestorePlanner(replica: replica)
        func lane(_ level: Int) -> String { "L\(level)" }

        var prevEnd: UInt64 = 0
        var pendingGaps: [(UInt64, UInt64)] = []
        for t in candidates {
            var lo = prevEnd + 1
            // TXIDs below t that no incremental file holds form a prefix of [lo, t-1].
            if lo < t, !isCovered(lo) {
                var y = lo
                while y + 1 < t && !isCovered(y + 1) { y += 1 }
                // Before the first incremental file, history simply starts later (retention).
                if lo > firstIncremental { pendingGaps.append((lo, y)) }
                lo = y + 1
            }
            let ending = endingAt[t] ?? []
            let rep = ending.min { a, b in
                let aSingle = a.level == 0 && a.minTXID == a.maxTXID, bSingle = b.level == 0 && b.minTXID == b.maxTXID
                if aSingle != bSingle { return aSingle }
                if a.minTXID != b.minTXID { return a.minTXID > b.minTXID }
                return a.level < b.level
            }
            let snap = snapshots.first { $0.maxTXID == t }
            guard let file = rep ?? snap else { continue }
            let kind: Timeline.PointKind = rep == nil ? .snapshot : (lo == t ? .txid : .range)
            var p = Timeline.Point(
                position: t.hex(width: 16), kind: kind, time: Self.time(seconds[file.path]), seconds: seconds[file.path],
                file: file.path, restorable: true, planned: true, lane: lane(file.level), target: RestoreTarget(txid: t),
                txid: t, fromTXID: lo, level: file.level, snapshot: rep != nil ? snap?.path : nil)
            if lo < t {
                p.coarse = true
                let holder = incremental.filter { $0.minTXID <= lo && $0.maxTXID >= t - 1 }.min { $0.maxTXID - $0.minTXID < $1.maxTXID - $1.minTXID }
                if rep == nil {
                    p.note =
                        "TXIDs \(lo.hex(width: 16))–\((t - 1).hex(width: 16)) are only in snapshot \(file.path) and \(holder.map { "compacted file \($0.path)" } ?? "no incremental file")"
                } else {
                    p.note =
                        "TXIDs \(lo.hex(width: 16))–\((t - 1).hex(width: 16)) are only inside \(holder.map { "compacted file \($0.path)" } ?? "compacted files") (their L0 files expired): a restore can stop only at \(t.hex(width: 16))"
                }
            }
            if rep == nil { p.note = [p.note, "only a snapshot ends at this TXID"].compactMap { $0 }.joined(separator: "; ") }
            do {
                let plan = try planner.plan(RestoreTarget(txid: t))
                if let b = blocker(plan.files) {
                    p.restorable = false
                    p.planned = b.damage
                    p.reason = b.reason
                }
            } catch let e as LiteProofError {
                p.restorable = false
                p.planned = false
                p.reason = e.finding?.message ?? e.message
            } catch let e as FormatError {
                p.restorable = false
                p.planned = false
                p.reason = e.message
            } catch {
                p.restorable = false
                p.planned = false
                p.reason = "\(error)"
            }
            points.append(p)
            prevEnd = t
        }

        // Time of the state at a TXID: the newest point at or before it.
        let pointTimes = points.compactMap { p in p.seconds.map { (p.txid ?? 0, $0) } }
        func stateTime(atOrBefore t: UInt64) -> Double? { pointTimes.last { $0.0 <= t }?.1 }
        func stateTime(after t: UInt64) -> Double? { pointTimes.first { $0.0 > t }?.1 }
        /// Where a file's changes start: the state before its first TXID, else the state at it.
        func startTime(_ f: LTXFileRef) -> Double? {
            (f.minTXID > 1 ? stateTime(atOrBefore: f.minTXID - 1) : nil) ?? stateTime(after: f.minTXID - 1)
        }

        for (a, b) in pendingGaps {
            let before = incremental.filter { $0.maxTXID < a }.max { $0.maxTXID < $1.maxTXID }
            let after = incremental.filter { $0.minTXID > b }.min { $0.minTXID < $1.minTXID }
            gaps.append(
                Timeline.Gap(
                    kind: .missingTXIDs, lane: "L0",
                    from: a.hex(width: 16), to: b.hex(width: 16),
                    description: a == b
                        ? "TXID \(a.hex(width: 16)) is in no LTX file of levels 0–8: no restore can stop there, and a restore past it needs a snapshot after it"
                        : "TXIDs \(a.hex(width: 16))–\(b.hex(width: 16)) (\(b - a + 1)) are in no LTX file of levels 0–8: no restore can stop there, and a restore past them needs a snapshot after them",
                    after: before?.path, before: after?.path,
                    startTime: Self.time(stateTime(atOrBefore: a - 1)), endTime: Self.time(stateTime(after: b)),
                    startSeconds: stateTime(atOrBefore: a - 1), endSeconds: stateTime(after: b), fromTXID: a, toTXID: b))
        }

        var levels = layout.levels.filter { $0 != LTXLayout.snapshotLevel }
        levels.append(contentsOf: layout.levels.filter { $0 == LTXLayout.snapshotLevel })
        if !levels.contains(0) { levels.insert(0, at: 0) }
        let heldBy = Dictionary(grouping: points, by: \.file)
        for level in levels {
            var bars: [Timeline.FileBar] = []
            for f in layout.files(atLevel: level) {
                let held = heldBy[f.path] ?? []
                let restorable = held.filter(\.restorable).count
                let own = seconds[f.path]
                let isSnapshot = level == LTXLayout.snapshotLevel
                var bar = Timeline.FileBar(
                    path: f.path, kind: .ltx, position: "\(f.minTXID.hex(width: 16))-\(f.maxTXID.hex(width: 16))",
                    time: Self.time(own), seconds: own,
                    startSeconds: isSnapshot ? own : startTime(f).map { min($0, own ?? $0) } ?? own,
                    status: .ok, points: held.count, restorablePoints: restorable, size: f.size,
                    level: level, minTXID: f.minTXID, maxTXID: f.maxTXID)
                if isSnapshot { bar.kind = .snapshot }
                if isDamaged(f.path) {
                    bar.status = .damaged
                    bar.note = errors[f.path]?.first.map { "\($0.code.rawValue): \($0.message)" }
                } else if !held.isEmpty && restorable == 0 {
                    bar.status = .unreachable
                    bar.note = held.first?.reason
                } else if restorable < held.count {
                    bar.status = .partial
                }
                bars.append(bar)
            }
            let times = bars.compactMap(\.seconds)
            lanes.append(
                Timeline.Lane(
                    id: lane(level), kind: "level", generation: nil, level: level,
                    firstTime: Self.time(times.min()), lastTime: Self.time(times.max()), files: bars))
        }
    }

    // MARK: Summary

    func finish() -> Timeline {
        var damaged: [Timeline.Damaged] = []
        let known = Set(lanes.flatMap { l in l.files.map { ($0.path) } })
        let laneOf = Dictionary(lanes.flatMap { l in l.files.map { ($0.path, l.id) } }, uniquingKeysWith: { a, _ in a })
        for (path, list) in errors.sorted(by: { $0.key < $1.key }) where known.contains(path) && isDamaged(path) {
            damaged.append(
                Timeline.Damaged(
                    file: path, lane: laneOf[path] ?? "", codes: Array(Set(list.map(\.code.rawValue))).sorted(), findings: list,
                    points: points.filter { $0.file == path }.count,
                    unrestorablePoints: points.filter { !$0.restorable && ($0.reason?.hasPrefix("needs \(path),") ?? false) }.count))
        }
        let restorable = points.filter(\.restorable)
        var firstBroken: Timeline.Point?
        if let firstOK = points.firstIndex(where: \.restorable) {
            firstBroken = points[firstOK...].first { !$0.restorable }
        }
        var latest: PlanSummary?
        var latestError: String?
        var latestRestores = false
        do {
            let plan = try RestorePlanner(replica: replica).plan(.latest)
            latest = PlanSummary(plan)
            if let b = blocker(plan.files) {
                latestError = "the plan to \(plan.position) \(b.reason)"
            } else {
                latestRestores = true
            }
        } catch let e as LiteProofError {
            latestError = e.finding?.message ?? e.message
        } catch let e as FormatError {
            latestError = e.message
        } catch {
            latestError = "\(error)"
        }
        let planned = points.filter(\.planned)
        let summary = Timeline.Summary(
            points: points.count, restorablePoints: restorable.count, unrestorablePoints: points.count - restorable.count,
            commits: replica.format == .v03 ? points.filter { $0.kind == .commit }.count : nil,
            txids: replica.format == .ltx ? points.reduce(0) { $0 + Int(($1.txid ?? 0) - ($1.fromTXID ?? 0) + 1) } : nil,
            gaps: gaps.count, damaged: damaged.count,
            firstRestorable: planned.first.map(Timeline.PointRef.init), lastRestorable: planned.last.map(Timeline.PointRef.init),
            lastClean: restorable.last.map(Timeline.PointRef.init), firstBroken: firstBroken.map(Timeline.PointRef.init),
            newest: points.last.map(Timeline.PointRef.init), latest: latest, latestError: latestError, latestRestores: latestRestores,
            clean: firstBroken == nil && gaps.isEmpty && damaged.isEmpty && !restorable.isEmpty)
        let timeSource =
            replica.format == .v03
            ? "file modification times: Litestream 0.3 files carry no times, so a point's time is that of the file holding it"
                + (timesTrusted ? "" : " (here missing or all equal: a copy lost them, so files are ordered by position)")
            : "LTX header timestamps (milliseconds)"
        return Timeline(
            replica: replica.root, format: replica.format, timeSource: timeSource, timesTrusted: timesTrusted,
            lanes: lanes, points: points, gaps: gaps, damaged: damaged, summary: summary, findings: findings)
    }
}
