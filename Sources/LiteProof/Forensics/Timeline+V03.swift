import Foundation

extension TimelineBuilder {
    struct IndexRead {
        var generation: String
        var index: UInt32
        var result: V03Readers.IndexResult?
        /// Each valid commit: the WAL offset after its frame, and the database size then.
        var commits: [V03Readers.Commit] = []
        /// Commit frames found by scanning segments after the WAL stream broke (not verified).
        var unverified: [V03Readers.Commit] = []
        /// Where the stream of valid frames ends.
        var validEnd: Int64 = 0
    }

    mutating func buildV03(_ layout: V03Layout) {
        let gens = layout.generations.sorted {
            ($0.timeBounds?.0 ?? .infinity, $0.id) < ($1.timeBounds?.0 ?? .infinity, $1.id)
        }
        // Equal times the object store gave (a bucket listing or fetch manifest: whole seconds)
        // are no sign of a copy that lost them.
        timesTrusted = gens.allSatisfy { g in
            let times = g.allFiles.compactMap(\.modified)
            return times.count == g.allFiles.count && (g.allFiles.allSatisfy(\.timeTrusted) || times.count < 2 || Set(times).count > 1)
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
            // Snapshot points.
            for s in g.snapshots {
                var p = Timeline.Point(
                    position: .v03(generation: g.id, index: s.index, offset: 0), kind: .snapshot, time: Self.time(s.modified),
                    seconds: s.modified, file: s.path, restorable: true, planned: true, lane: laneID, detail: .v03(pages: nil))
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
                    let chain = try planner.chainV03(.walIndex(i, generation: g.id))
                    base = chain.files.map(\.path).filter { !segPaths.contains($0) }
                } catch {
                    planError = TimelineBuilder.reason(error)
                }
                func holder(_ end: Int64) -> V03File {
                    segs.last(where: { $0.offset < end }) ?? segs[0]
                }
                for c in read.commits {
                    let seg = holder(c.end)
                    var p = Timeline.Point(
                        position: .v03(generation: g.id, index: i, offset: c.end), kind: .commit, time: Self.time(seg.modified),
                        seconds: seg.modified, file: seg.path, restorable: true, planned: true, lane: laneID, detail: .v03(pages: c.pages))
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
                        position: .v03(generation: g.id, index: i, offset: c.end), kind: .commit, time: Self.time(seg.modified),
                        seconds: seg.modified, file: seg.path, restorable: false, planned: false, lane: laneID, detail: .v03(pages: c.pages))
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
            lanePoints.sort { ($0.index ?? 0, $0.offset ?? 0) < ($1.index ?? 0, $1.offset ?? 0) }
            points += lanePoints

            // Gaps.
            var laneGaps: [Timeline.Gap] = []
            // One gap per run of missing indexes, walking the indexes present (never the numbers
            // between them).
            let snapshotIndexes = Set(g.snapshots.map(\.index))
            if let lo = (g.indexes + g.snapshots.map(\.index)).min(), let hi = g.maxIndex, lo < hi {
                var runs: [ClosedRange<UInt32>] = []
                var next: UInt32? = lo  // nil: past UInt32.max
                for i in g.indexes {
                    guard let n = next else { break }
                    if i < n { continue }
                    if i > n { runs.append(n...(i - 1)) }
                    next = i == .max ? nil : i + 1
                }
                // The last index, when only a snapshot holds it, is no gap.
                let end = snapshotIndexes.contains(hi) && !g.indexes.contains(hi) ? hi - 1 : hi
                if let n = next, n <= end { runs.append(n...end) }
                for run in runs {
                    let a = run.lowerBound
                    let b = run.upperBound
                    let before = g.segments.last { $0.index < a }
                    let after = g.segments.first { $0.index > b }
                    let count = UInt64(b) - UInt64(a) + 1
                    laneGaps.append(
                        Timeline.Gap(
                            kind: .missingIndex, lane: laneID,
                            from: Position.v03(generation: g.id, index: a, offset: 0).description, to: Position.endOfIndex(generation: g.id, index: b),
                            description: a == b
                                ? "WAL index \(a.hex(width: 8)) of generation \(g.id) has no segments: every commit of it is missing, and restores past it need a snapshot after it"
                                : "WAL indexes \(a.hex(width: 8))…\(b.hex(width: 8)) (\(count) indexes) of generation \(g.id) have no segments: every commit of them is missing, and restores past them need a snapshot after them",
                            after: before?.path, before: after?.path ?? g.snapshots.first { $0.index > b }?.path,
                            startTime: Self.time(before?.modified), endTime: Self.time(after?.modified),
                            startSeconds: before?.modified, endSeconds: after?.modified, index: a))
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
                            from: Position.v03(generation: g.id, index: i, offset: 0).description,
                            to: Position.v03(generation: g.id, index: i, offset: first.offset).description,
                            description:
                                "WAL offsets 0–\(first.offset) of index \(i.hex(width: 8)) are missing (the first segment, with the WAL header): no commit of this index restores",
                            after: prev?.path, before: first.path,
                            startTime: Self.time(prev?.modified), endTime: Self.time(first.modified),
                            startSeconds: prev?.modified, endSeconds: first.modified, index: i, walStart: 0, walEnd: first.offset))
                }
                for (a, b) in zip(segs, segs.dropFirst()) {
                    guard let size = sizes[a.path], Inventory.sum(a.offset, size) < b.offset else { continue }
                    laneGaps.append(
                        Timeline.Gap(
                            kind: .walHole, lane: laneID,
                            from: Position.v03(generation: g.id, index: i, offset: a.offset + size).description,
                            to: Position.v03(generation: g.id, index: i, offset: b.offset).description,
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
                    if let size = read?.result?.segmentSizes[f.path] { bar.walEnd = Inventory.sum(f.offset, size) }
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

    /// Reads one WAL index for its commits (``V03Readers/commits(_:index:segments:expectedPageSize:failFast:)``),
    /// then, after a break (hole, damage), the commit frames that cannot be verified any more.
    static func readIndex(_ replica: Replica, generation g: V03Generation, index i: UInt32) -> IndexRead {
        let segs = g.segments(of: i)
        guard let read = try? V03Readers.commits(replica, index: i, segments: segs, expectedPageSize: nil) else {
            return IndexRead(generation: g.id, index: i)
        }
        var result = IndexRead(generation: g.id, index: i, result: read.result, commits: read.commits, validEnd: read.validEnd)
        guard read.result.hasErrors, let pageSize = read.result.header?.pageSize ?? otherPageSize(replica, g) else { return result }
        result.unverified = V03Readers.unverifiedCommits(replica, segments: segs, after: read, pageSize: pageSize)
        return result
    }

    /// The page size of another index of the generation (for scanning an index whose header is lost).
    static func otherPageSize(_ replica: Replica, _ g: V03Generation) -> Int? {
        for i in g.indexes {
            guard let first = g.segments(of: i).first, first.offset == 0 else { continue }
            if let h = try? V03Readers.readWALHeader(replica, first) { return h.pageSize }
        }
        return nil
    }
}
