import Foundation

extension RestorePlanner {
    /// Generation choice as Litestream 0.3.13 makes it where file times can be trusted (see
    /// ``GenerationChoice`` for what decides where they cannot) (`CalcRestoreTarget`): among generations
    /// whose time bounds contain the target time (if any), the one whose newest file is newest;
    /// on a tie, the first by name.
    public func chooseGeneration(_ target: RestoreTarget) throws -> (V03Generation, [String], [Finding]) {
        let gens = replica.v03?.generations ?? []
        guard !gens.isEmpty else {
            throw LiteProofError.damaged(.error(.chainEmpty, file: "generations", "the replica has no generations"))
        }
        if let wanted = target.generation ?? replica.chosenGeneration {
            guard let g = gens.first(where: { $0.id == wanted }) else {
                throw LiteProofError(.usage, "no generation \(wanted) in the replica; it has \(gens.map(\.id).joined(separator: ", "))")
            }
            return (g, ["generation \(g.id) was asked for"], [])
        }
        var candidates = gens
        if let ts = target.timestamp {
            candidates = gens.filter { g in
                guard let (lo, hi) = g.timeBounds else { return false }
                return ts >= lo && ts <= hi
            }
            guard !candidates.isEmpty else {
                throw LiteProofError.damaged(
                    .error(
                        .chainEmpty, file: "generations",
                        "no generation's time bounds contain \(formatTime(ts))"))
            }
        }
        var (best, reasons, warnings) = try GenerationChoice(replica: replica).newest(of: candidates, all: gens)
        if target.timestamp != nil { reasons.append("its time bounds contain the target time") }
        return (best, reasons, warnings)
    }

    /// The 0.3.13 plan (`Replica.Restore`): the snapshot with the newest file time (with an index
    /// target: the highest index at or below it), then every WAL index from the snapshot's to the
    /// last one whose segments precede the first segment past the target (a prefix cut).
    func planV03(_ target: RestoreTarget) throws -> RestorePlan {
        var plan = try chainV03(target)
        if exactV03Position { plan.position = exactPosition(plan) }
        return .v03(plan)
    }

    /// The files a 0.3 restore to `target` applies, without reading any of them (the timeline
    /// plans one restore per WAL index this way): the position is the one Litestream's plan names
    /// by file (``namedPosition(_:)``).
    func chainV03(_ target: RestoreTarget) throws -> V03RestorePlan {
        let (gen, reasons0, warnings0) = try chooseGeneration(target)
        var reasons = reasons0
        var warnings = warnings0
        let genDir = V03Layout.folder(generation: gen.id)
        guard !gen.snapshots.isEmpty else {
            throw LiteProofError.damaged(.error(.chainNoSnapshot, file: genDir, "generation \(gen.id) has no snapshot to start a restore from"))
        }
        // Equal times the object store gave (S3 keeps whole seconds) are no sign of a lossy copy.
        if !gen.allFiles.allSatisfy(\.timeTrusted) && !timesTrustworthy(gen.allFiles.compactMap(\.modified), count: gen.allFiles.count) {
            warnings.append(
                .warning(
                    .timeUntrusted, file: genDir,
                    "file times in generation \(gen.id) are missing or all equal (a copy that lost them?): the choice of snapshot and any --timestamp target rely on them"
                ))
        }
        if let idx = target.index, let last = gen.maxIndex, idx > last {
            throw pastTheEnd(
                "WAL index \(idx.hex(width: 8)) is past the end of generation \(gen.id), whose last index is \(last.hex(width: 8))",
                latest: .latest(generation: gen.id))
        }
        let snapshot: V03File
        if let idx = target.index {
            guard let s = gen.snapshots.last(where: { $0.index <= idx }) else {
                throw LiteProofError.damaged(
                    .error(
                        .chainNoSnapshot, file: genDir + "/snapshots",
                        "no snapshot at or before index \(idx.hex(width: 8)) in generation \(gen.id)"))
            }
            snapshot = s
            reasons.append("snapshot \(s.index.hex(width: 8)) has the highest index at or before \(idx.hex(width: 8))")
        } else {
            let eligible = gen.snapshots.filter { s in target.timestamp.map { (s.modified ?? .infinity) <= $0 } ?? true }
            guard var s = eligible.first else {
                throw LiteProofError.damaged(
                    .error(
                        .chainNoSnapshot, file: genDir + "/snapshots",
                        "no snapshot written at or before \(formatTime(target.timestamp ?? 0)) in generation \(gen.id)"))
            }
            for c in eligible.dropFirst() where (c.modified ?? 0) > (s.modified ?? 0) { s = c }
            snapshot = s
            reasons.append("snapshot \(s.index.hex(width: 8)) is the newest" + (target.timestamp != nil ? " written at or before the target time" : ""))
        }
        // Prefix cut of segments in (index, offset) order.
        var kept: [V03File] = []
        for seg in gen.segments {
            if let ts = target.timestamp, (seg.modified ?? .infinity) > ts { break }
            if let idx = target.index, seg.index > idx { break }
            kept.append(seg)
        }
        let maxIndex = kept.map(\.index).max() ?? snapshot.index
        var indexes: [V03RestorePlan.WALIndex] = []
        var lastTime = snapshot.modified
        if maxIndex >= snapshot.index {
            for index in snapshot.index...maxIndex {
                var segs = kept.filter { $0.index == index }
                var limit: Int64?
                if index == maxIndex, let off = target.offset {
                    segs = segs.filter { $0.offset < off }
                    limit = off
                }
                guard let first = segs.first else {
                    if index == snapshot.index && maxIndex == index { break }  // snapshot only
                    throw LiteProofError.damaged(
                        .error(
                            .chainMissingIndex, file: genDir + "/wal",
                            "missing WAL index \(index.hex(width: 8)): the restore from snapshot \(snapshot.index.hex(width: 8)) to index \(maxIndex.hex(width: 8)) needs it"
                        ))
                }
                guard first.offset == 0 else {
                    throw LiteProofError.damaged(
                        .error(
                            .chainMissingInitialSegment, file: first.path,
                            "WAL index \(index.hex(width: 8)) starts at offset \(first.offset); the segment at offset 0 (with the WAL header) is missing"))
                }
                indexes.append(.init(index: index, segments: segs, limit: limit))
                lastTime = segs.compactMap(\.modified).max() ?? lastTime
            }
        }
        var plan = V03RestorePlan(
            generation: gen.id, snapshot: snapshot, indexes: indexes, reasons: reasons, warnings: warnings,
            position: .v03(generation: gen.id, index: snapshot.index, offset: 0), time: lastTime)
        plan.position = namedPosition(plan)
        return plan
    }

    /// The position Litestream's plan names by file, without reading the WAL: the start of the
    /// last segment applied (or offset 0 of the snapshot's index).
    func namedPosition(_ plan: V03RestorePlan) -> Position {
        for step in plan.indexes.reversed() {
            guard let last = step.segments.last else { continue }
            if let limit = step.limit, limit <= Int64(WALHeader.size) { continue }
            return .v03(generation: plan.generation, index: step.index, offset: last.offset)
        }
        return .v03(generation: plan.generation, index: plan.snapshot.index, offset: 0)
    }

    /// The position a 0.3 plan restores to — the one place it is computed: the WAL offset after
    /// the last commit frame the plan applies (reading the WAL of the last index it applies, as
    /// the restore will), or offset 0 of the snapshot's index when no WAL commit is applied.
    ///
    /// When that WAL is damaged (a restore stops at the damage), the position is the one
    /// Litestream's plan names by file: the start of the last segment applied.
    func exactPosition(_ plan: V03RestorePlan) -> Position {
        let generation = plan.generation
        for step in plan.indexes.reversed() {
            let (index, segments, limit) = (step.index, step.segments, step.limit)
            guard let last = segments.last else { continue }
            if let limit, limit <= Int64(WALHeader.size) { continue }  // not one frame: nothing of this index
            let read = try? V03Readers.readIndex(replica, index: index, segments: segments, expectedPageSize: nil, limit: limit)
            // A limit that cuts a frame ends the WAL read there, as the restore rounds it.
            let damaged = read.map { r in r.findings.contains { $0.severity == .error && !(limit != nil && $0.code == .walPartialFrame) } } ?? true
            if damaged { return .v03(generation: generation, index: index, offset: last.offset) }
            if let end = read?.lastCommitEnd, end > Int64(WALHeader.size) {
                return .v03(generation: generation, index: index, offset: end)
            }
        }
        return .v03(generation: generation, index: plan.snapshot.index, offset: 0)
    }
}
