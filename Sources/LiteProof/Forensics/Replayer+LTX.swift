import Foundation

/// 0.5: the replay along the finest chain of LTX files.
extension Replayer {
    func prepareLTX(_ layout: LTXLayout) throws {
        // Every file that starts at TXID 1 holds the whole database (a level-9 snapshot, or the
        // first L0 file and the compactions that begin with it): the oldest one starts the
        // replay, so the history reaches as far back as the replica does.
        let snapshots = layout.files.filter { $0.minTXID == 1 }
        guard let snapshot = snapshots.min(by: { ($0.maxTXID, $0.level) < ($1.maxTXID, $1.level) }) else {
            throw LiteProofError.damaged(.error(.chainNoSnapshot, file: layout.style.folder(level: LTXLayout.snapshotLevel), "no snapshot to start from"))
        }
        description = "TXIDs from snapshot \(snapshot.path)"
        let snapHeader = try LTX.readHeader(try replica.open(snapshot.path), name: snapshot.path)
        pageSize = snapHeader.pageSize
        try applyLTX(snapshot)
        points.append(
            ReplayPoint(
                position: .ltx(txid: snapshot.maxTXID), time: Double(snapHeader.timestamp) / 1000, file: snapshot.path,
                pageCount: snapHeader.commit, step: -1, walEnd: 0))
        // The finest chain: each time, the file that extends the range by the least.
        let incremental = layout.files.filter { $0.level != LTXLayout.snapshotLevel }
        var have = snapshot.maxTXID
        // One replay step: the file's header read, the point it reaches recorded.
        func step(_ ref: LTXFileRef, afterGap: String?) throws {
            let h = try replica.readLTXHeader(ref.path)
            steps.append(.ltx(ref, h))
            points.append(
                ReplayPoint(
                    position: .ltx(txid: ref.maxTXID), time: Double(h.timestamp) / 1000, file: ref.path,
                    pageCount: h.commit, step: steps.count - 1, walEnd: 0, afterGap: afterGap))
            have = ref.maxTXID
        }
        while true {
            let next = incremental.filter { $0.minTXID <= have + 1 && $0.maxTXID > have }
                .min { ($0.maxTXID, $0.level) < ($1.maxTXID, $1.level) }
            guard let next else {
                // A gap (or the end): resume from the first snapshot past it, as a restore would.
                guard layout.files.contains(where: { $0.maxTXID > have }) else { break }
                let reason = "no LTX file covers the TXID after \(Position.ltx(txid: have))"
                let lastBefore = points[points.count - 1].position
                guard let full = snapshots.filter({ $0.maxTXID > have }).min(by: { $0.maxTXID < $1.maxTXID }) else {
                    gaps.append(ReplayGap(reason: reason, lastBefore: lastBefore, resumedAt: nil))
                    break
                }
                try step(full, afterGap: reason)
                gaps.append(ReplayGap(reason: reason, lastBefore: lastBefore, resumedAt: points[points.count - 1].position))
                continue
            }
            try step(next, afterGap: nil)
        }
    }

    func applyLTX(_ ref: LTXFileRef) throws {
        let f = try replica.open(ref.path)
        let summary = try LTX.decode(f, name: ref.path) { pgno, page in try self.writePage(pgno, page) }
        try setSize(Int64(summary.header.commit) * Int64(pageSize))
    }
}
