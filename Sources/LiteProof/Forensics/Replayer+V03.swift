import Foundation

/// 0.3: the replay of one generation, commit by commit.
extension Replayer {
    func prepareV03(generation: String?) throws {
        let planner = RestorePlanner(replica: replica)
        let (gen, _, _) = try planner.chooseGeneration(.latest(generation: generation))
        guard let snapshot = gen.snapshots.first else {
            throw LiteProofError.damaged(.error(.chainNoSnapshot, file: V03Layout.folder(generation: gen.id), "generation \(gen.id) has no snapshot"))
        }
        description = "generation \(gen.id) from snapshot \(snapshot.index.hex(width: 8))"
        let r = V03Readers.readSnapshot(replica, snapshot) { chunk, offset in try self.out.write(chunk, at: offset) }
        if let e = r.storageFailure { throw e }
        if let f = r.findings.first(where: { $0.severity == .error }) { throw LiteProofError.damaged(f) }
        pageSize = r.header!.pageSize
        points.append(
            ReplayPoint(
                position: .v03(generation: gen.id, index: snapshot.index, offset: 0), time: snapshot.modified, file: snapshot.path,
                pageCount: UInt32(r.size / Int64(pageSize)), step: -1, walEnd: 0))
        indexesToRead = gen.indexes.filter { $0 >= snapshot.index }.count
        try observer?.started(self)
        // `next`: the WAL index to apply next (the history holds the state at its start), unless
        // `broken` says why the state at its start is unknown.
        let indexes = Set(gen.indexes)
        let lastIndex = gen.indexes.last ?? snapshot.index
        var next = UInt64(snapshot.index)  // wide: an index named ffffffff has no successor
        var broken: String?
        while true {
            if let reason = broken {
                // Resume from the first snapshot at or after the gap, as a restore would.
                let lastBefore = points[points.count - 1].position
                guard let s = gen.snapshots.filter({ $0.index >= next }).min(by: { $0.index < $1.index }) else {
                    gaps.append(ReplayGap(reason: reason, lastBefore: lastBefore, resumedAt: nil))
                    break
                }
                let observer = self.observer
                let pages = try snapshotPages(s) { pgno, p in try observer?.page(pgno, DatabaseDigest.pageHash(pgno, p)) }
                let position = Position.v03(generation: gen.id, index: s.index, offset: 0)
                gaps.append(ReplayGap(reason: reason, lastBefore: lastBefore, resumedAt: position))
                steps.append(.snapshot(s))
                points.append(
                    ReplayPoint(
                        position: position, time: s.modified, file: s.path, pageCount: pages, step: steps.count - 1, walEnd: 0,
                        afterGap: reason))
                try observer?.reached(points.count - 1, position, pages)
                next = UInt64(s.index)
                broken = nil
                continue
            }
            guard next <= lastIndex else { break }
            guard indexes.contains(UInt32(next)) else {
                // The state at its start is known; the one after it is not.
                broken = "WAL index \(UInt32(next).hex(width: 8)) of generation \(gen.id) is missing"
                next += 1
                continue
            }
            let index = UInt32(next)
            next += 1
            let segs = gen.segments(of: index)
            // The observer gets each commit's pages at its commit frame.
            var open: [(UInt32, UInt64)] = []
            var reachedPoint = points.count
            let read = try V03Readers.commits(
                replica, index: index, segments: segs, expectedPageSize: pageSize,
                onFrame: observer.map { o in
                    { (frame: WALFrame) throws in
                        open.append((frame.pageNumber, DatabaseDigest.pageHash(frame.pageNumber, frame.page)))
                        guard frame.commitSize != 0 else { return }
                        for (p, h) in open { try o.page(p, h) }
                        open.removeAll(keepingCapacity: true)
                        let end = frame.walOffset + Int64(24 + frame.page.count)
                        try o.reached(reachedPoint, .v03(generation: gen.id, index: index, offset: end), frame.commitSize)
                        reachedPoint += 1
                    }
                })
            if let e = read.result.findings.first(where: { $0.severity == .error }) {
                broken = "WAL index \(index.hex(width: 8)) breaks off at \(e.file)\(e.offset.map { " offset \($0)" } ?? ""): \(e.message)"
            }
            guard !read.commits.isEmpty else { continue }
            let lastCommit = read.commits[read.commits.count - 1]
            steps.append(.walIndex(index: index, segments: segs, finalSize: lastCommit.pages, lastCommitEnd: lastCommit.end))
            for commit in read.commits {
                let end = commit.end
                // The segment holding the commit frame.
                let seg = segs.last { $0.offset < end } ?? segs[0]
                points.append(
                    ReplayPoint(
                        position: .v03(generation: gen.id, index: index, offset: end), time: seg.modified, file: seg.path,
                        pageCount: commit.pages, step: steps.count - 1, walEnd: end))
            }
        }
    }

    /// Hands each page of a 0.3 snapshot to `body` in order; returns its page count. Throws on
    /// damage.
    func snapshotPages(_ s: V03File, _ body: (UInt32, UnsafeRawBufferPointer) throws -> Void) throws -> UInt32 {
        let pageSize = self.pageSize
        var buffer: [UInt8] = []
        buffer.reserveCapacity(pageSize)
        var pgno: UInt32 = 0
        let r = withoutActuallyEscaping(body) { body in
            V03Readers.readSnapshot(replica, s) { chunk, _ in
                var rest = chunk
                while !rest.isEmpty {
                    let take = min(pageSize - buffer.count, rest.count)
                    buffer += rest.prefix(take)
                    rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(take))
                    if buffer.count == pageSize {
                        pgno += 1
                        try buffer.withUnsafeBytes { try body(pgno, $0) }
                        buffer.removeAll(keepingCapacity: true)
                    }
                }
            }
        }
        if let e = r.storageFailure { throw e }
        if let f = r.findings.first(where: { $0.severity == .error }) { throw LiteProofError.damaged(f) }
        if let h = r.header, h.pageSize != pageSize {
            throw LiteProofError.damaged(
                .error(.snapshotHeader, file: s.path, offset: 0, "snapshot has \(h.pageSize)-byte pages; the generation's first snapshot has \(pageSize)"))
        }
        return pgno
    }
}
