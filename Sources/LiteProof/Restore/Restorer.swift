import Foundation

/// Options of a restore beyond the target.
public struct RestoreOptions: Sendable {
    public enum IntegrityCheck: String, Sendable, CaseIterable, Codable {
        case none, quick, full
    }

    public var force = false
    public var integrityCheck: IntegrityCheck = .quick
    /// Keep the output even when the integrity check fails.
    public var keepFailed = false
    /// fsync the output before renaming it into place.
    public var sync = true

    public init(force: Bool = false, integrityCheck: IntegrityCheck = .quick, keepFailed: Bool = false, sync: Bool = true) {
        self.force = force
        self.integrityCheck = integrityCheck
        self.keepFailed = keepFailed
        self.sync = sync
    }
}

/// What a restore did, phase by phase.
public struct RestoreReport: Codable, Sendable {
    public struct Phases: Codable, Sendable {
        public var plan: Double = 0
        /// Reading, decompressing and applying (overlapped).
        public var apply: Double = 0
        public var sync: Double = 0
        public var integrityCheck: Double = 0
    }

    public var output: String
    public var plan: PlanSummary
    public var pageSize: Int
    public var pageCount: Int64
    public var bytesWritten: Int64
    public var bytesRead: Int64
    public var integrityCheck: RestoreOptions.IntegrityCheck
    /// Problems SQLite's check reported (empty when it passed or did not run).
    public var integrityProblems: [String]
    public var phases: Phases
    public var seconds: Double
    public var warnings: [Finding]
}

/// Rebuilds a database from replica files with LiteProof's own code (no SQLite applies anything,
/// Litestream is never called), byte-identical to `litestream restore`.
///
/// Output is written to a temporary file beside the destination, fsynced and renamed into place;
/// a failed restore leaves nothing behind.
public struct Restorer {
    public let replica: Replica
    public var progress: ProgressHandler?

    public init(replica: Replica, progress: ProgressHandler? = nil) {
        self.replica = replica
        self.progress = progress
    }

    public func plan(_ target: RestoreTarget) throws -> RestorePlan {
        try RestorePlanner(replica: replica).plan(target)
    }

    /// Restores `target` into `output`.
    @discardableResult
    public func restore(_ target: RestoreTarget = .latest(), to output: String, options: RestoreOptions = RestoreOptions()) throws -> RestoreReport {
        let started = Date()
        var phases = RestoreReport.Phases()
        let plan = try self.plan(target)
        phases.plan = Date().timeIntervalSince(started)

        try prepareOutput(output, force: options.force)
        let dir = (output as NSString).deletingLastPathComponent
        let temp = (dir.isEmpty ? "." : dir) + "/." + (output as NSString).lastPathComponent + ".liteproof-\(getpid()).tmp"
        var keepTemp = false
        defer { if keepTemp { ScratchSpace.keep(temp) } else { ScratchSpace.release(temp) } }

        let applyStart = Date()
        let out = try ScratchSpace.createFile(temp)
        let result = try apply(plan, to: out, scratch: dir.isEmpty ? "." : dir)
        phases.apply = Date().timeIntervalSince(applyStart)

        if options.sync {
            let t = Date()
            try out.sync()
            phases.sync = Date().timeIntervalSince(t)
        }

        var problems: [String] = []
        if options.integrityCheck != .none {
            let t = Date()
            problems = try SQLiteDatabase(path: temp, mode: .immutable).integrityCheck(full: options.integrityCheck == .full)
            phases.integrityCheck = Date().timeIntervalSince(t)
        }
        if !problems.isEmpty && !options.keepFailed {
            throw LiteProofError(
                .checkFailed,
                "the restored database fails SQLite's \(options.integrityCheck == .full ? "integrity_check" : "quick_check"): \(problems.prefix(5).joined(separator: "; "))\(problems.count > 5 ? " (+\(problems.count - 5) more)" : ""); nothing was written (use --keep-failed to keep it)"
            )
        }
        if options.force {
            for suffix in ["-wal", "-shm", "-journal"] { FS.remove(output + suffix) }
        }
        guard rename(temp, output) == 0 else { throw localError("cannot rename the restored database to", path: output) }
        keepTemp = true
        if options.sync { FS.syncDirectory(dir.isEmpty ? "." : dir) }

        let report = RestoreReport(
            output: output, plan: PlanSummary(plan), pageSize: result.pageSize, pageCount: result.pageCount,
            bytesWritten: result.pageCount * Int64(result.pageSize), bytesRead: plan.totalBytes,
            integrityCheck: options.integrityCheck, integrityProblems: problems, phases: phases,
            seconds: Date().timeIntervalSince(started), warnings: plan.warnings)
        if !problems.isEmpty {
            throw LiteProofError(
                .checkFailed, "the restored database fails SQLite's check (kept at \(output) as asked): \(problems.prefix(5).joined(separator: "; "))")
        }
        return report
    }

    /// Refuses to overwrite anything unless `force`; refuses stray sidecar files that SQLite
    /// would otherwise apply to the restored database.
    func prepareOutput(_ output: String, force: Bool) throws {
        if FS.isDirectory(output) { throw LiteProofError(.usage, "\(output) is a folder; give a file path for the restored database") }
        let parent = (output as NSString).deletingLastPathComponent
        if !parent.isEmpty && !FS.isDirectory(parent) { throw LiteProofError(.usage, "no such folder: \(parent)") }
        // Nothing is overwritten without --force, and only regular files are ever replaced.
        for p in [output, output + "-wal", output + "-shm", output + "-journal"] { try FS.checkOutput(p, force: force) }
    }

    struct Applied {
        var pageSize: Int
        var pageCount: Int64
    }

    /// Applies the plan's files to a fresh, empty file. Exposed to benchmarks and `compare` through
    /// ``restore(_:to:options:)`` and ``restoreToScratch(_:in:)``.
    func apply(_ plan: RestorePlan, to out: OutputFile, scratch: String) throws -> Applied {
        replica.storage.prefetch(plan.files)
        switch plan.format {
        case .v03: return try applyV03(plan, to: out, scratch: scratch)
        case .ltx: return try applyLTX(plan, to: out)
        }
    }

    /// Restores into a fresh file inside `folder` without sync or integrity check (for compare,
    /// bisect and benchmarks); returns the file's path.
    public func restoreToScratch(_ plan: RestorePlan, in folder: String) throws -> String {
        let path = folder + "/restored.db"
        let out = try OutputFile(creating: path)
        _ = try apply(plan, to: out, scratch: folder)
        return path
    }

    // MARK: v0.3

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
        for step in plan.steps {
            switch step {
            case .snapshot(let file):
                let r = V03Readers.readSnapshot(replica, file) { chunk, offset in
                    try out.write(chunk, at: offset)
                }
                if let e = r.localFailure { throw e }
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
                    }
                }
                pending.discard()
                try writer.flush()
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
        return Applied(pageSize: pageSize, pageCount: pageSize > 0 ? size / Int64(pageSize) : 0)
    }

    // MARK: v0.5

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
        // Owner of each page: the last file in plan order whose page index lists it.
        var owner = [UInt32](repeating: .max, count: Int(commit) + 1)
        for (i, (f, r)) in zip(files, refs).enumerated() {
            try LTX.forEachIndexEntry(f, name: r.path, header: headers[i]) { e in
                if e.pageNumber <= commit { owner[Int(e.pageNumber)] = UInt32(i) }
            }
        }
        let lockPage = LTX.lockPage(pageSize: pageSize)
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
