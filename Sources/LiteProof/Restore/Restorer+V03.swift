import Foundation

extension Restorer {
    func applyV03(_ plan: RestorePlan, to out: OutputFile, scratch: String) throws -> Applied {
        let meter = ProgressMeter(phase: "restore", total: plan.totalBytes, handler: progress)
        var pageSize = 0
        var size: Int64 = 0
        // WAL segments decompress on another core, ahead of the apply loop.
        let allSegments = plan.steps.flatMap { step -> [V03File] in
            if case .walIndex(_, let segs, _) = step { return segs } else { return [] }
        }
        // Started once the snapshot is written, so the two decoders' buffers never coexist.
        var prefetcher: SegmentPrefetcher?
        defer { prefetcher?.cancel() }
        var pending: PendingPages?
        var position: String?
        for step in plan.steps {
            switch step {
            case .snapshot(let file):
                let r = V03Readers.readSnapshot(replica, file) { chunk, offset in
                    try out.write(chunk, at: offset)
                }
                if let f = r.findings.first(where: { $0.severity == .error }) { throw LiteProofError.damaged(f) }
                guard let h = r.header else { throw LiteProofError.damaged(.error(.snapshotHeader, file: file.path, "no database header")) }
                pageSize = h.pageSize
                size = r.size
                meter.add(file.size)
            case .walIndex(_, let segments, var limit):
                // An --offset inside a frame means the frames that end at or before it.
                if let l = limit {
                    let frameSize = Int64(24 + pageSize)
                    limit = l < Int64(WALHeader.size) ? 0 : Int64(WALHeader.size) + (l - Int64(WALHeader.size)) / frameSize * frameSize
                    if limit! <= Int64(WALHeader.size) { continue }  // not one whole frame: nothing of this index
                }
                // A transaction's pages are applied at its commit frame: frames before it wait in
                // `pending` (memory up to a limit, then an unlinked scratch file), so a huge
                // transaction cannot exhaust memory; trailing uncommitted frames are dropped.
                let writer = PageWriter(out, pageSize: pageSize)
                if pending == nil { pending = PendingPages(pageSize: pageSize, spillDirectory: scratch) }
                if prefetcher == nil { prefetcher = SegmentPrefetcher(replica: replica, files: allSegments) }
                let pending = pending!
                var committed: UInt32 = 0
                var lastEnd: Int64 = 0
                _ = try V03Readers.readIndex(
                    replica, index: segments[0].index, segments: segments, expectedPageSize: pageSize,
                    limit: limit, failFast: true, prefetcher: prefetcher
                ) { frame in
                    if frame.commitSize == 0 {
                        try pending.append(frame.pageNumber, frame.page)
                    } else {
                        try pending.flush(to: writer)
                        try writer.write(page: frame.pageNumber, frame.page)
                        committed = frame.commitSize
                        lastEnd = frame.walOffset + 24 + Int64(frame.page.count)
                    }
                }
                pending.discard()
                try writer.flush()
                if let g = plan.generation, lastEnd > 0 { position = "\(g)/\(segments[0].index.hex(width: 8)):\(lastEnd)" }
                // As SQLite's checkpoint: truncate to the last commit's size (when there was one).
                if committed > 0 {
                    size = Int64(committed) * Int64(pageSize)
                    try out.truncate(to: size)
                }
                meter.add(segments.reduce(0) { $0 + $1.size })
            case .ltx:
                preconditionFailure("LTX step in a 0.3 plan")
            }
        }
        return Applied(pageSize: pageSize, pageCount: pageSize > 0 ? size / Int64(pageSize) : 0, position: position)
    }
}
