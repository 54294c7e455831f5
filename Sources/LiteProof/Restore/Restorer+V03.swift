import Foundation

extension Restorer {
    func applyV03(_ plan: V03RestorePlan, to out: OutputFile, scratch: String, durable: Bool) throws -> Applied {
        let meter = ProgressMeter(phase: "restore", total: RestorePlan.v03(plan).totalBytes, handler: progress)
        var pageSize = 0
        var size: Int64 = 0
        // The snapshot and the WAL segments decompress on both cores, block by block, ahead of
        // the apply loop.
        let prefetcher = SegmentPrefetcher(replica: replica, files: plan.files, checksContent: !filesChecked)
        prefetcher.evictsReadFiles = evictsAppliedFiles
        defer { prefetcher.cancel() }
        // The WAL rewrites the snapshot's pages: keep page-cache folios small (see `largestWrite`).
        out.largestWrite = 64 << 10
        // No writeback until the final fsync: the WAL rewrites the same pages again and again, and
        // starting writeback midway both writes pages that change again and makes the apply loop
        // wait in the block layer's throttle (update-heavy benchmark: apply 1.14 s with writeback
        // every 64 MiB, 0.93 s without, the final fsync 20 ms → 85 ms).
        out.writebackEvery = .max
        // Except for the pages the WAL appended past the snapshot, well behind the newest end: an
        // appending WAL seldom writes them again, so they start on their way to disk from a
        // thread of their own (which pays the kernel's work of submitting them) while the apply
        // goes on, and the final fsync has less to wait for (append benchmark: fsync 160 → 45 ms,
        // the whole restore 4–6% faster over 22 pairs; update-heavy unchanged). Started from the
        // apply thread itself it saved nothing: the apply grew by what the fsync saved.
        let writeback = durable ? BackgroundWriteback(out) : nil
        defer { writeback?.stop() }
        var appendedFrom: Int64 = .max
        var pageMap: PageMap?
        var position: Position?
        let file = plan.snapshot
        let r = V03Readers.readSnapshot(replica, file, prefetcher: prefetcher) { chunk, offset in
            try out.write(chunk, at: offset)
        }
        if let e = r.storageFailure { throw e }
        if let f = r.findings.first(where: { $0.severity == .error }) { throw LiteProofError.damaged(f) }
        guard let h = r.header else { throw LiteProofError.damaged(.error(.snapshotHeader, file: file.path, "no database header")) }
        position = .v03(generation: plan.generation, index: file.index, offset: 0)
        pageSize = h.pageSize
        size = r.size
        appendedFrom = size
        meter.add(file.size)
        for step in plan.indexes {
            let segments = step.segments
            var limit = step.limit
            // An --offset inside a frame means the frames that end at or before it.
            if let l = limit {
                let frameSize = Int64(24 + pageSize)
                limit = l < Int64(WALHeader.size) ? 0 : Int64(WALHeader.size) + (l - Int64(WALHeader.size)) / frameSize * frameSize
                if limit! <= Int64(WALHeader.size) { continue }  // not one whole frame: nothing of this index
            }
            // Each page's newest committed version waits in a fixed-size page map that
            // absorbs rewrites and is written out in page order when full and at the end of
            // the index, so a hot page reaches the file once per flush rather than once per
            // transaction. A transaction's frames count only at its commit frame (a huge one
            // continues in a scratch file); trailing uncommitted frames are dropped.
            if pageMap == nil { pageMap = PageMap(PageWriter(out, pageSize: pageSize), memory: pageMapMemory, spillDirectory: scratch) }
            let map = pageMap!
            map.databasePages = UInt32(size / Int64(pageSize))
            var committed: UInt32 = 0
            // No valid WAL names a page the database could not have reached: its size before
            // this index, plus one page per frame so far, plus SQLite's 64 KiB of slack (its
            // checkpoint's own corruption test). A larger number is damage, found before
            // anything is written from it.
            let basePages = (size + 65536) / Int64(pageSize)
            var frames: Int64 = 0
            let read = try V03Readers.readIndex(
                replica, index: segments[0].index, segments: segments, expectedPageSize: pageSize,
                limit: limit, failFast: true, prefetcher: prefetcher
            ) { frame in
                frames += 1
                let plausible = basePages + frames
                if Int64(frame.pageNumber) > plausible || Int64(frame.commitSize) > plausible {
                    let seg = segments.last { $0.offset <= frame.walOffset } ?? segments[0]
                    throw LiteProofError.damaged(
                        .error(
                            .walBadFrame, file: seg.path, offset: frame.walOffset - seg.offset,
                            "frame \(frames) names page \(frame.pageNumber) with database size \(frame.commitSize) pages, but the database cannot have more than \(plausible) pages there (\(size / Int64(pageSize)) pages before this WAL index, one more per frame, and 64 KiB of slack)"
                        ))
                }
                if frame.commitSize == 0 {
                    try map.stage(frame.pageNumber, frame.page)
                } else {
                    try map.commit(frame.pageNumber, frame.page, databasePages: frame.commitSize)
                    committed = frame.commitSize
                }
            }
            map.discardOpen()
            if read.lastCommitEnd > Int64(WALHeader.size) {
                position = .v03(generation: plan.generation, index: segments[0].index, offset: read.lastCommitEnd)
            }
            try map.flush(maxPage: committed > 0 ? committed : .max)
            // As SQLite's checkpoint: truncate to the last commit's size (or back to the size
            // before the index when it has no commit: an uncommitted transaction may have
            // written pages past it).
            if committed > 0 { size = Int64(committed) * Int64(pageSize) }
            try out.truncate(to: size)
            let behind = size - appendedWritebackMargin
            if let writeback, appendedFrom < behind, behind - appendedFrom >= appendedWritebackBatch {
                writeback.start(appendedFrom..<behind)
                appendedFrom = behind
            }
            meter.add(segments.reduce(0) { $0 + $1.size })
        }
        return Applied(pageSize: pageSize, pageCount: pageSize > 0 ? size / Int64(pageSize) : 0, position: position)
    }
}
