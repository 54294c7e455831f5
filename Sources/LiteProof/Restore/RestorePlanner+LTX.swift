import Foundation

extension RestorePlanner {
    /// The 0.5 plan (`CalcRestorePlan`): the level-9 snapshot with the highest max TXID at or
    /// before the target, then repeatedly the file of levels 8…0 that extends the contiguous range
    /// furthest (ties: lower min TXID, then higher level, then older). Times come from LTX headers
    /// and compare strictly (a file stamped exactly at the target time is excluded), as Litestream's.
    func planLTX(_ target: RestoreTarget, layout: LTXLayout) throws -> RestorePlan {
        var files = layout.files
        var reasons: [String] = []
        // Each header is read at most once, and the plan carries the ones read to the restore.
        var headers: [String: LTXHeader?] = [:]
        func header(_ ref: LTXFileRef) -> LTXHeader? {
            if let h = headers[ref.path] { return h }
            let h = try? replica.readLTXHeader(ref.path)
            headers[ref.path] = h
            return h
        }
        func stamp(_ ref: LTXFileRef) -> Int64 {
            header(ref)?.timestamp ?? Int64((ref.modified ?? 0) * 1000)
        }
        if let ts = target.timestamp {
            files = files.filter { Double(stamp($0)) / 1000 < ts }
            reasons.append("only files stamped before \(formatTime(ts)) (LTX header timestamps)")
        }
        let lastTXID = layout.files.map(\.maxTXID).max() ?? 0
        if let t = target.txid, t == 0 {
            throw LiteProofError(.usage, "TXID 0 names no point: TXIDs start at 0000000000000001")
        }
        if let t = target.txid, t > lastTXID {
            throw pastTheEnd("TXID \(t.hex(width: 16)) is past the end of the replica, whose TXIDs end at \(lastTXID.hex(width: 16))", latest: .latest())
        }
        let limit = target.txid ?? UInt64.max
        let snapshots = files.filter { $0.level == LTXLayout.snapshotLevel && $0.maxTXID <= limit }
        let snapshot = snapshots.max { ($0.maxTXID, $1.minTXID) < ($1.maxTXID, $0.minTXID) }
        // The snapshot is optional, as in Litestream: without one the chain starts from the files
        // of levels 0–8 that begin at TXID 1 (a file starting at TXID 1 holds every page).
        var steps: [LTXFileRef] = []
        var have: UInt64 = 0
        if let snapshot {
            reasons.append("snapshot \(snapshot.path) is the newest" + (target.isLatest ? "" : " at or before the target"))
            steps.append(snapshot)
            have = snapshot.maxTXID
        } else {
            reasons.append("no level-9 snapshot at or before the target: the chain starts with the files that begin at TXID 1")
        }
        let incremental = files.filter { $0.level != LTXLayout.snapshotLevel && $0.maxTXID <= limit }
        // One pass over the files by first TXID (not one pass per step: a replica can hold
        // thousands of L0 files). Files that start at or before have+1 join the candidates as
        // `have` grows; the best candidate has the highest max TXID of all files seen, so once
        // it is taken, every file seen before is behind `have` and only newer ones can follow.
        let byStart = incremental.sorted { $0.minTXID < $1.minTXID }
        var nextFile = 0
        var best: LTXFileRef?
        while have < limit {
            while nextFile < byStart.count, byStart[nextFile].minTXID <= have + 1 {
                let f = byStart[nextFile]
                nextFile += 1
                guard f.maxTXID > have else { continue }
                guard let b = best else { best = f; continue }
                if f.maxTXID != b.maxTXID { if f.maxTXID > b.maxTXID { best = f }; continue }
                if f.minTXID != b.minTXID { if f.minTXID < b.minTXID { best = f }; continue }
                if f.level != b.level { if f.level > b.level { best = f }; continue }
                if stamp(f) < stamp(b) { best = f }
            }
            guard let next = best else { break }
            steps.append(next)
            have = next.maxTXID
            best = nil
        }
        if steps.isEmpty {
            throw LiteProofError.damaged(
                .error(
                    .chainNoSnapshot, file: layout.style.folder(level: LTXLayout.snapshotLevel),
                    files.isEmpty
                        ? "no LTX files at or before the target"
                        : "no snapshot (level 9) and no file starting at TXID 1 at or before the target; a restore needs one to start from"))
        }
        if target.timestamp == nil, have < .max, let after = incremental.filter({ $0.minTXID > have + 1 }).map(\.minTXID).min() {
            throw LiteProofError.damaged(.error(.chainGap, file: layout.style.levelsFolder, Self.gapMessage(have: have, next: after)))
        }
        if let t = target.txid, have != t {
            throw LiteProofError.damaged(
                .error(
                    .chainGap, file: layout.style.levelsFolder,
                    "TXID \(t.hex(width: 16)) cannot be reached: the files chain from the snapshot to \(have.hex(width: 16)) and no file ends exactly at the target"
                ))
        }
        // The first file holds the whole database and the last sets its size: either saying it is
        // empty (commit 0) makes a 0-byte or pageless restore, which Litestream 0.5.17 refuses;
        // so does LiteProof.
        for (k, ref) in [(0, steps[0]), (steps.count - 1, steps[steps.count - 1])] {
            guard header(ref)?.commit == 0 else { continue }
            throw LiteProofError.damaged(
                .error(
                    .ltxCommit, file: ref.path, offset: 12,
                    k == 0 && ref.minTXID == 1
                        ? LTX.emptySnapshotMessage
                        : "the restore ends with this file, which says commit 0 (an empty database); Litestream 0.5.17 refuses to restore it (\"post-apply checksum must be empty for zero-length database\")"
                ))
        }
        let time = Double(stamp(steps[steps.count - 1])) / 1000
        return .ltx(
            LTXRestorePlan(
                files: steps, headers: steps.map { headers[$0.path] ?? nil }, reasons: reasons, warnings: [], position: .ltx(txid: have),
                time: time))
    }

    /// The missing TXIDs between the last one held and the next file's first, as a range with its
    /// count, then Litestream's own words. `next > have + 1`, so the range is never empty and
    /// nothing overflows at TXID 2^64−1.
    static func gapMessage(have: UInt64, next: UInt64) -> String {
        let count = next - have - 1
        return
            "TXIDs \((have + 1).hex(width: 16))–\((next - 1).hex(width: 16)) (\(count) TXID\(count == 1 ? "" : "s")) are missing: non-contiguous ltx files: have up to \(have.hex(width: 16)) but next file starts at \(next.hex(width: 16))"
    }
}
