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
    /// 0.3: bytes of page images the page map holds before it writes them out (tests shrink it
    /// to exercise flushes and transactions larger than the map). 4 MiB holds a WAL index of
    /// Litestream's default checkpoint (1,000 pages of 4 KiB), and the map is written out at the
    /// end of each index anyway; it keeps a 0.3 restore's peak under 64 MiB with the two
    /// decompression lanes.
    var pageMapMemory = 4 << 20
    /// 0.3: pages the WAL appended past the snapshot start on their way to disk once they are
    /// this far behind the newest end (bytes)…
    var appendedWritebackMargin: Int64 = 16 << 20
    /// …this many bytes at a time (tests shrink both to exercise it).
    var appendedWritebackBatch: Int64 = 32 << 20
    /// 0.5: pages of the database whose newest versions are found and written in one pass (16
    /// bytes of map each); larger databases take several (tests shrink it to exercise windows).
    var ltxWindowPages = 1 << 19
    /// The caller has just decoded every file of the replica in full and found each sound
    /// (`verify`, before its trial restore; Litestream never rewrites a file once written). A 0.5
    /// restore then reads only the page versions it writes; a 0.3 restore does not compute the
    /// LZ4 content checksums again (the WAL's own checksum chain is still followed: it decides
    /// which frames count).
    var filesChecked = false
    /// 0.3: each file is evicted from the storage once applied (``restore(_:to:options:)``, which
    /// reads each file once; not a trial restore, whose caller may read the files again).
    var evictsAppliedFiles = false

    public init(replica: Replica, progress: ProgressHandler? = nil) {
        self.replica = replica
        self.progress = progress
    }

    public func plan(_ target: RestoreTarget) throws -> RestorePlan {
        let plan = try RestorePlanner(replica: replica).plan(target)
        try replica.checkStorage()
        return plan
    }

    /// The plan a restore applies: a 0.3 position is then named by the restore itself, which
    /// reads the last index's WAL anyway (see ``Applied/position``).
    func planForRestore(_ target: RestoreTarget) throws -> RestorePlan {
        var planner = RestorePlanner(replica: replica)
        planner.exactV03Position = false
        return try planner.plan(target)
    }

    /// Restores `target` into `output`.
    @discardableResult
    public func restore(_ target: RestoreTarget = .latest(), to output: String, options: RestoreOptions = RestoreOptions()) throws -> RestoreReport {
        let started = Date()
        var phases = RestoreReport.Phases()
        var plan = try planForRestore(target)
        try replica.checkStorage()
        phases.plan = Date().timeIntervalSince(started)

        try prepareOutput(output, force: options.force)
        let dir = (output as NSString).deletingLastPathComponent
        let temp = (dir.isEmpty ? "." : dir) + "/." + (output as NSString).lastPathComponent + ".liteproof-\(getpid()).tmp"
        var keepTemp = false
        defer { if keepTemp { ScratchSpace.keep(temp) } else { ScratchSpace.release(temp) } }

        let applyStart = Date()
        let out = try ScratchSpace.createFile(temp)
        var applier = self
        applier.evictsAppliedFiles = true
        let result = try applier.apply(plan, to: out, scratch: dir.isEmpty ? "." : dir, durable: options.sync)
        phases.apply = Date().timeIntervalSince(applyStart)
        if let p = result.position { plan.position = p }

        if options.sync {
            let t = Date()
            try out.sync()
            phases.sync = Date().timeIntervalSince(t)
        }

        var problems: [String] = []
        if options.integrityCheck != .none {
            let t = Date()
            problems = try SQLiteDatabase(path: temp, mode: .written).integrityCheck(full: options.integrityCheck == .full)
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
        /// 0.3: the position after the last commit applied, as ``RestorePlanner`` names it
        /// exactly (nil for 0.5, whose plan names its TXID from headers).
        var position: Position?
    }

    /// Applies the plan's files to a fresh, empty file. Exposed to benchmarks and `compare` through
    /// ``restore(_:to:options:)`` and ``restoreToScratch(_:in:)``. `durable`: the file will be
    /// fsynced, so writeback may start early; a scratch file (removed soon, never synced) starts
    /// none, which spares the disk the whole database.
    func apply(_ plan: RestorePlan, to out: OutputFile, scratch: String, durable: Bool = false) throws -> Applied {
        replica.storage.prefetch(plan.files)
        if !durable { out.writebackEvery = .max }
        switch plan {
        case .v03(let p): return try applyV03(p, to: out, scratch: scratch, durable: durable)
        case .ltx(let p): return try applyLTX(p, to: out)
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
}
