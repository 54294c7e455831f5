import Foundation

extension Verifier {
    enum V03Unit {
        case snapshot(V03File)
        case index(generation: String, index: UInt32, segments: [V03File])
        /// The last segments of a WAL index, checked alone from where the segments before them
        /// left the stream (`watch`, once those were verified).
        case indexTail(generation: String, index: UInt32, segments: [V03File], resume: WALCarry)

        /// The files the unit reads.
        var files: [V03File] {
            switch self {
            case .snapshot(let f): return [f]
            case .index(_, _, let segs), .indexTail(_, _, let segs, _): return segs
            }
        }
    }

    enum V03Outcome {
        case snapshot(V03Readers.SnapshotResult)
        case index(generation: String, V03Readers.IndexResult)
        /// The store could not produce a file of the unit (or the local side failed).
        case unreadable(LiteProofError)
    }

    /// Reads and checks one unit (a snapshot, or every segment of one WAL index in order: a
    /// segment's WAL checksums continue from the segments before it), decoding on the calling
    /// thread. The one per-file check of 0.3 files, for `verify` and `watch`.
    static func check(_ unit: V03Unit, in replica: Replica) -> V03Outcome {
        switch unit {
        case .snapshot(let f):
            let decoder = SegmentPrefetcher(replica: replica, files: [f], workers: 0)
            let r = V03Readers.readSnapshot(replica, f, prefetcher: decoder)
            return r.storageFailure.map { .unreadable($0) } ?? .snapshot(r)
        case .index(let g, let i, let segs): return checkIndex(g, i, segs, resume: nil, in: replica)
        case .indexTail(let g, let i, let segs, let carry): return checkIndex(g, i, segs, resume: carry, in: replica)
        }
    }

    /// Reads one WAL index's `segments` as one stream (from `resume`, where given).
    private static func checkIndex(_ g: String, _ i: UInt32, _ segs: [V03File], resume: WALCarry?, in replica: Replica) -> V03Outcome {
        let decoder = SegmentPrefetcher(replica: replica, files: segs, workers: 0)
        do {
            return .index(
                generation: g, try V03Readers.readIndex(replica, index: i, segments: segs, expectedPageSize: nil, prefetcher: decoder, resume: resume))
        } catch {
            let e = LiteProofError(wrapping: error)
            if let finding = e.finding, e.kind == .damaged { return .index(generation: g, .init(index: i, findings: [finding])) }
            return .unreadable(e.isStorage ? e : .storage(.local, e.message))
        }
    }

    func verifyV03(_ layout: V03Layout, latestPlan: LatestPlan) -> FileChecks {
        let gens = layout.generations
        var units: [V03Unit] = []
        for g in gens {
            units += g.snapshots.map { .snapshot($0) }
            units += g.indexes.map { .index(generation: g.id, index: $0, segments: g.segments(of: $0)) }
        }
        let total = gens.reduce(Int64(0)) { $0 + $1.allFiles.reduce(0) { $0 + $1.size } }
        let meter = ProgressMeter(phase: "verify", total: total, handler: progress)
        let replica = self.replica
        // One unit per core; each decodes its files with the restore's block decoder on its own
        // thread (no worker threads): the same checks and words as liblz4's frame decoder, with
        // a faster content checksum (see SegmentPrefetcher).
        let outcomes: [V03Outcome] = parallelMap(units) { unit in
            defer { meter.add(unit.files.reduce(0) { $0 + $1.size }) }
            return Self.check(unit, in: replica)
        }
        var findings: [Finding] = []
        let failures = outcomes.compactMap { o -> LiteProofError? in
            if case .unreadable(let e) = o { return e }
            return nil
        }
        var snapshotPageSize: [String: Int] = [:]
        for o in outcomes {
            if case .snapshot(let r) = o {
                findings += r.findings
                if let h = r.header {
                    snapshotPageSize[generationOf(r.file.path)] = h.pageSize
                }
            }
        }
        for o in outcomes {
            if case .index(let g, let r) = o {
                findings += r.findings
                if let h = r.header, let ps = snapshotPageSize[g], ps != h.pageSize,
                    let first = gens.first(where: { $0.id == g })?.segments(of: r.index).first
                {
                    findings.append(
                        .error(
                            .walPageSize, file: first.path, offset: 8,
                            "WAL page size is \(h.pageSize); the generation's snapshot has \(ps)-byte pages"))
                }
            }
        }
        findings += Self.v03ChainFindings(layout, replica: replica, latestPlan: latestPlan)
        let files = gens.reduce(0) { $0 + $1.allFiles.count }
        return FileChecks(findings: findings, storageFailures: failures, files: files, bytes: total)
    }

    /// Chain: every index from the oldest snapshot on must be present. Each gap is one finding
    /// (work follows the indexes present, never the numbers in their names): an error when the
    /// latest restore needs it, else a warning naming the points it makes unreachable. Reads no file.
    static func v03ChainFindings(_ layout: V03Layout, replica: Replica, latestPlan: LatestPlan) -> [Finding] {
        // (The generation alone when the plan fails: a gap it stops at is still in that generation.)
        let picked = latestPlan.plan?.generation ?? (try? RestorePlanner(replica: replica).chooseGeneration(.latest()).0.id)
        var findings: [Finding] = []
        for g in layout.generations {
            let dir = V03Layout.folder(generation: g.id)
            guard let firstSnap = g.snapshots.first else {
                findings.append(.error(.chainNoSnapshot, file: dir, "generation \(g.id) has no snapshot: none of its WAL can be restored"))
                continue
            }
            findings += Self.v03Gaps(g, firstSnapshot: firstSnap, latest: picked == nil || picked == g.id, dir: dir)
        }
        return findings
    }

    /// The gaps in a generation's WAL indexes from its first snapshot to its last index, one
    /// finding each. `latest` says whether the latest restore uses this generation.
    static func v03Gaps(_ g: V03Generation, firstSnapshot: V03File, latest: Bool, dir: String) -> [Finding] {
        guard let maxIndex = g.maxIndex, firstSnapshot.index < maxIndex else { return [] }
        let present = g.indexes
        var gaps: [ClosedRange<UInt32>] = []
        var next: UInt32? = firstSnapshot.index  // nil: past UInt32.max
        for i in present {
            guard let n = next else { break }
            if i < n { continue }
            if i > n { gaps.append(n...(i - 1)) }
            next = i == UInt32.max ? nil : i + 1
        }
        // The last index, when only a snapshot holds it, is no gap (that snapshot restores alone).
        let end = present.last != maxIndex && g.snapshots.contains { $0.index == maxIndex } ? maxIndex - 1 : maxIndex
        if let n = next, n <= end { gaps.append(n...end) }
        guard !gaps.isEmpty else { return [] }
        // The latest plan (as ``RestorePlanner/chainV03(_:)`` makes it): the snapshot with the newest
        // file time (the first on a tie), then every index up to the last WAL index.
        var snap = firstSnapshot
        for c in g.snapshots.dropFirst() where (c.modified ?? 0) > (snap.modified ?? 0) { snap = c }
        let planEnd = present.last ?? snap.index
        let needed: ClosedRange<UInt32>? = latest && planEnd > snap.index ? snap.index...planEnd : nil
        let snapshotIndexes = g.snapshots.map(\.index)
        return gaps.map { gap in
            let count = UInt64(gap.upperBound) - UInt64(gap.lowerBound) + 1
            let what =
                gap.lowerBound == gap.upperBound
                ? "WAL index \(gap.lowerBound.hex(width: 8)) has no segments"
                : "WAL indexes \(gap.lowerBound.hex(width: 8))…\(gap.upperBound.hex(width: 8)) (\(count) indexes) are missing"
            if let needed, needed.overlaps(gap) {
                return .error(
                    .chainMissingIndex, file: dir + "/wal",
                    "\(what): the latest restore, from snapshot \(snap.index.hex(width: 8)) to index \(planEnd.hex(width: 8)), needs them; restores to index \(gap.lowerBound.hex(width: 8)) or later are impossible"
                )
            }
            let resume = snapshotIndexes.first { $0 > gap.upperBound }
            let lost =
                resume.map {
                    "restores to indexes \(gap.lowerBound.hex(width: 8))…\(($0 - 1).hex(width: 8)) are impossible (snapshot \($0.hex(width: 8)) starts again)"
                }
                ?? "restores to index \(gap.lowerBound.hex(width: 8)) and later in this generation are impossible"
            let why = latest ? "the latest restore does not need them" : "the latest restore uses another generation"
            return .warning(.chainMissingIndex, file: dir + "/wal", "\(what): \(lost); \(why)")
        }
    }

    func generationOf(_ path: String) -> String {
        let parts = path.split(separator: "/")
        return parts.count > 1 ? String(parts[1]) : ""
    }
}
