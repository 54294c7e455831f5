import Foundation

extension Restorer {
    /// Every file is decoded and verified in full (in parallel); each page is written once, from
    /// the last file of the plan that holds it, as Litestream's compaction picks it. Pages above
    /// the final commit are dropped; the lock page stays zero.
    func applyLTX(_ plan: RestorePlan, to out: OutputFile) throws -> Applied {
        let refs: [LTXFileRef] = plan.steps.compactMap { if case .ltx(let r) = $0 { return r } else { return nil } }
        let files = try refs.map { try replica.open($0.path) }
        let headers = try zip(files, refs).map { try LTX.readHeader($0, name: $1.path) }
        let pageSize = headers[0].pageSize
        for (h, r) in zip(headers, refs) where h.pageSize != pageSize {
            throw LiteProofError.damaged(.error(.ltxPageSize, file: r.path, offset: 8, "page size is \(h.pageSize); the plan's snapshot has \(pageSize)"))
        }
        let commit = headers.last!.commit
        let lockPage = LTX.lockPage(pageSize: pageSize)
        // Memory follows the pages the files hold, never the header's `commit`: the files must
        // list at least `commit` pages (less the lock page) before anything is sized from it.
        var listed: Int64 = 0
        for (i, (f, r)) in zip(files, refs).enumerated() {
            try LTX.forEachIndexEntry(f, name: r.path, header: headers[i]) { e in
                if e.pageNumber <= commit { listed += 1 }
            }
        }
        let needed = Int64(commit) - (lockPage <= commit ? 1 : 0)
        if listed < needed {
            throw LiteProofError.damaged(
                .error(
                    .ltxCommit, file: refs.last!.path, offset: 12,
                    "the database has \(commit) pages but the plan's \(refs.count) files hold only \(listed) page images at or below it; some page is in no file"
                ))
        }
        // Owner of each page: the last file in plan order whose page index lists it.
        var owner = [UInt32](repeating: .max, count: Int(commit) + 1)
        for (i, (f, r)) in zip(files, refs).enumerated() {
            try LTX.forEachIndexEntry(f, name: r.path, header: headers[i]) { e in
                if e.pageNumber <= commit { owner[Int(e.pageNumber)] = UInt32(i) }
            }
        }
        if commit > 0, let missing = (1...commit).first(where: { $0 != lockPage && owner[Int($0)] == .max }) {
            throw LiteProofError.damaged(
                .error(
                    .ltxCommit, file: refs.last!.path, offset: 12,
                    "the database has \(commit) pages but no file of the plan holds page \(missing)"))
        }
        let meter = ProgressMeter(phase: "restore", total: plan.totalBytes, handler: progress)
        let ownerRef = owner
        _ = try parallelMap(Array(refs.indices)) { i in
            let writer = PageWriter(out, pageSize: pageSize)
            _ = try ownerRef.withUnsafeBufferPointer { owners in
                try LTX.decode(files[i], name: refs[i].path) { pgno, page in
                    if pgno <= commit && owners[Int(pgno)] == UInt32(i) {
                        try writer.write(page: pgno, page)
                    }
                }
            }
            try writer.flush()
            meter.add(refs[i].size)
        }
        try out.truncate(to: Int64(commit) * Int64(pageSize))
        return Applied(pageSize: pageSize, pageCount: Int64(commit))
    }
}
