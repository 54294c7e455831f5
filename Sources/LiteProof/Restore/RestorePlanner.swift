import Foundation

/// Chooses the files a restore applies, the way `litestream restore` chooses them.
///
/// Planning reads only names, file times and (v0.5) the 100-byte LTX headers; a missing file
/// that the plan needs is a thrown ``LiteProofError`` carrying a `chain.*` finding.
public struct RestorePlanner {
    public let replica: Replica

    public init(replica: Replica) { self.replica = replica }

    public func plan(_ target: RestoreTarget = .latest) throws -> RestorePlan {
        switch replica.format {
        case .v03: return try planV03(target)
        case .ltx: return try planLTX(target)
        }
    }

    // MARK: v0.3

    /// Generation choice as Litestream 0.3.13 makes it (`CalcRestoreTarget`): among generations
    /// whose time bounds contain the target time (if any), the one whose newest file is newest;
    /// on a tie, the first by name.
    public func chooseGeneration(_ target: RestoreTarget) throws -> (V03Generation, [String], [Finding]) {
        let gens = replica.v03?.generations ?? []
        guard !gens.isEmpty else {
            throw LiteProofError.damaged(.error(.chainEmpty, file: "generations", "the replica has no generations"))
        }
        if let wanted = target.generation {
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
        var best = candidates[0]
        for g in candidates.dropFirst() where (g.timeBounds?.1 ?? 0) > (best.timeBounds?.1 ?? 0) { best = g }
        var reasons = [
            "generation \(best.id) was updated most recently" + (candidates.count > 1 ? " of \(candidates.count) generations" : "")
                + (best.timeBounds.map { " (newest file \(formatTime($0.1)))" } ?? "")
        ]
        if target.timestamp != nil { reasons.append("its time bounds contain the target time") }
        var warnings: [Finding] = []
        let ties = candidates.filter { $0.timeBounds?.1 == best.timeBounds?.1 }
        if ties.count > 1 {
            warnings.append(
                .warning(
                    .timeUntrusted, file: "generations",
                    "generations \(ties.map(\.id).joined(separator: ", ")) have the same newest file time; chose \(best.id), the first by name, as Litestream does. File times may have been lost in a copy: pass --generation to choose"
                ))
        }
        return (best, reasons, warnings)
    }

    /// The 0.3.13 plan (`Replica.Restore`): the snapshot with the newest file time (with an index
    /// target: the highest index at or below it), then every WAL index from the snapshot's to the
    /// last one whose segments precede the first segment past the target (a prefix cut).
    func planV03(_ target: RestoreTarget) throws -> RestorePlan {
        let (gen, reasons0, warnings0) = try chooseGeneration(target)
        var reasons = reasons0
        var warnings = warnings0
        let genDir = "generations/\(gen.id)"
        guard !gen.snapshots.isEmpty else {
            throw LiteProofError.damaged(.error(.chainNoSnapshot, file: genDir, "generation \(gen.id) has no snapshot to start a restore from"))
        }
        if !timesTrustworthy(gen.allFiles.compactMap(\.modified), count: gen.allFiles.count) {
            warnings.append(
                .warning(
                    .timeUntrusted, file: genDir,
                    "file times in generation \(gen.id) are missing or all equal (a copy that lost them?): the choice of snapshot and any --timestamp target rely on them"
                ))
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
        var steps: [RestorePlan.Step] = [.snapshot(snapshot)]
        var position = "\(gen.id)/\(snapshot.index.hex(width: 8)):0"
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
                steps.append(.walIndex(index: index, segments: segs, limit: limit))
                position = "\(gen.id)/\(index.hex(width: 8)):\(segs.last!.offset)"
                lastTime = segs.compactMap(\.modified).max() ?? lastTime
            }
        }
        return RestorePlan(
            format: .v03, steps: steps, generation: gen.id, reasons: reasons, warnings: warnings,
            position: position, txid: nil, time: lastTime)
    }

    func timesTrustworthy(_ times: [Double], count: Int) -> Bool {
        times.count == count && (count < 2 || Set(times).count > 1)
    }

    // MARK: v0.5

    /// The 0.5 plan (`CalcRestorePlan`): the level-9 snapshot with the highest max TXID at or
    /// before the target, then repeatedly the file of levels 8…0 that extends the contiguous range
    /// furthest (ties: lower min TXID, then higher level, then older). Times come from LTX headers
    /// and compare strictly (a file stamped exactly at the target time is excluded), as Litestream's.
    func planLTX(_ target: RestoreTarget) throws -> RestorePlan {
        guard let layout = replica.ltx else { throw LiteProofError(.usage, "not an LTX replica") }
        var files = layout.files
        var reasons: [String] = []
        var stamps: [String: Int64] = [:]
        func stamp(_ ref: LTXFileRef) -> Int64 {
            if let s = stamps[ref.path] { return s }
            let s =
                (try? LTX.readHeader(try replica.open(ref.path), name: ref.path).timestamp)
                ?? Int64((ref.modified ?? 0) * 1000)
            stamps[ref.path] = s
            return s
        }
        if let ts = target.timestamp {
            files = files.filter { Double(stamp($0)) / 1000 < ts }
            reasons.append("only files stamped before \(formatTime(ts)) (LTX header timestamps)")
        }
        let lastTXID = layout.files.map(\.maxTXID).max() ?? 0
        if let t = target.txid, t > lastTXID || t == 0 {
            throw LiteProofError(.usage, "TXID \(t.hex(width: 16)) is not in the replica; its TXIDs end at \(lastTXID.hex(width: 16))")
        }
        let limit = target.txid ?? UInt64.max
        let snapshots = files.filter { $0.level == LTXLayout.snapshotLevel && $0.maxTXID <= limit }
        let snapshot = snapshots.max { ($0.maxTXID, $1.minTXID) < ($1.maxTXID, $0.minTXID) }
        // The snapshot is optional, as in Litestream: without one the chain starts from the files
        // of levels 0–8 that begin at TXID 1 (a file starting at TXID 1 holds every page).
        var steps: [RestorePlan.Step] = []
        var have: UInt64 = 0
        if let snapshot {
            reasons.append("snapshot \(snapshot.path) is the newest" + (target.isLatest ? "" : " at or before the target"))
            steps.append(.ltx(snapshot))
            have = snapshot.maxTXID
        } else {
            reasons.append("no level-9 snapshot at or before the target: the chain starts with the files that begin at TXID 1")
        }
        let incremental = files.filter { $0.level != LTXLayout.snapshotLevel && $0.maxTXID <= limit }
        while have < limit {
            var best: LTXFileRef?
            for f in incremental where f.minTXID <= have + 1 && f.maxTXID > have {
                guard let b = best else { best = f; continue }
                if f.maxTXID != b.maxTXID { if f.maxTXID > b.maxTXID { best = f }; continue }
                if f.minTXID != b.minTXID { if f.minTXID < b.minTXID { best = f }; continue }
                if f.level != b.level { if f.level > b.level { best = f }; continue }
                if stamp(f) < stamp(b) { best = f }
            }
            guard let next = best else { break }
            steps.append(.ltx(next))
            have = next.maxTXID
        }
        if steps.isEmpty {
            let where_ = layout.style == .file ? "ltx/9" : "0009"
            throw LiteProofError.damaged(
                .error(
                    .chainNoSnapshot, file: where_,
                    files.isEmpty
                        ? "no LTX files at or before the target"
                        : "no snapshot (level 9) and no file starting at TXID 1 at or before the target; a restore needs one to start from"))
        }
        if target.timestamp == nil, have < .max, let after = incremental.filter({ $0.minTXID > have + 1 }).map(\.minTXID).min() {
            throw LiteProofError.damaged(
                .error(
                    .chainGap, file: layout.style == .file ? "ltx" : "",
                    "non-contiguous ltx files: have up to \(have.hex(width: 16)) but next file starts at \(after.hex(width: 16))"))
        }
        if let t = target.txid, have != t {
            throw LiteProofError.damaged(
                .error(
                    .chainGap, file: layout.style == .file ? "ltx" : "",
                    "TXID \(t.hex(width: 16)) cannot be reached: the files chain from the snapshot to \(have.hex(width: 16)) and no file ends exactly at the target"
                ))
        }
        guard case .ltx(let last) = steps.last! else { preconditionFailure("an LTX plan holds LTX steps") }
        return RestorePlan(
            format: .ltx, steps: steps, generation: nil, reasons: reasons, warnings: [],
            position: have.hex(width: 16), txid: have, time: Double(stamp(last)) / 1000)
    }
}

/// ISO-8601 UTC with milliseconds.
public func formatTime(_ t: Double) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: Date(timeIntervalSince1970: t))
}
