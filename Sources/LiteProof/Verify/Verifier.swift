import Foundation

/// The outcome of `verify`: every finding, and what the latest restore would be.
public struct VerifyReport: Codable, Sendable {
    public enum Verdict: String, Codable, Sendable {
        /// No error finding (warnings allowed).
        case ok
        /// At least one finding breaks a restore or the data.
        case damaged
    }

    public var replica: String
    public var format: Replica.Format
    public var verdict: Verdict
    public var findings: [Finding]
    public var filesChecked: Int
    public var bytesRead: Int64
    public var seconds: Double
    /// The latest restorable position, when a restore plan could be made.
    public var latest: PlanSummary?
    /// When the latest position is planned but a file it needs is damaged: the first such finding
    /// (a restore to it fails; `liteproof timeline` finds the last point that restores cleanly).
    public var latestBrokenBy: Finding?
    /// SQLite's check of a trial restore of the latest position ("ok", the problems, or nil when not run).
    public var restoreCheck: String?
    /// Canaries in the restored replica (and, with a live database, those not replicated yet).
    public var canaries: CanaryReport?

    public var errorCount: Int { findings.filter { $0.severity == .error }.count }
    public var warningCount: Int { findings.filter { $0.severity == .warning }.count }
}

/// A restore plan in a few facts, for reports.
public struct PlanSummary: Codable, Sendable {
    public var position: String
    public var generation: String?
    public var txid: UInt64?
    public var time: String?
    public var files: Int
    public var bytes: Int64
    public var reasons: [String]

    public init(_ plan: RestorePlan, position exact: String? = nil) {
        position = exact ?? plan.position
        generation = plan.generation
        txid = plan.txid
        time = plan.time.map(formatTime)
        files = plan.files.count
        bytes = plan.totalBytes
        reasons = plan.reasons
    }
}

/// Reads every file of a replica fully and checks everything: each file's format and checksums,
/// then the chain of files (offsets, indexes, TXIDs, snapshots) and stray files.
public struct Verifier {
    public let replica: Replica
    public var progress: ProgressHandler?
    /// After the file checks, restore the latest position into a scratch folder with LiteProof's
    /// own code and run SQLite's check on it (`.none` skips the trial restore).
    public var restoreCheck: RestoreOptions.IntegrityCheck = .none
    /// A live database whose canaries are looked for in the replica (needs a trial restore).
    public var live: String?

    public init(replica: Replica, progress: ProgressHandler? = nil, restoreCheck: RestoreOptions.IntegrityCheck = .none, live: String? = nil) {
        self.replica = replica
        self.progress = progress
        self.restoreCheck = restoreCheck
        self.live = live
    }

    /// Runs every check; a failure of the local side during the trial restore (the scratch
    /// folder's disk full, …) becomes a finding. Use ``check()`` to have it thrown instead.
    public func run() -> VerifyReport {
        do { return try run(throwingLocalFailures: false) } catch { preconditionFailure("\(error)") }
    }

    /// Runs every check; throws a failure of the local side (``LiteProofError/isLocal``: ENOSPC,
    /// EFBIG or EIO on the scratch folder), which says nothing about the replica.
    public func check() throws -> VerifyReport {
        try run(throwingLocalFailures: true)
    }

    private func run(throwingLocalFailures: Bool) throws -> VerifyReport {
        let started = Date()
        var findings: [Finding] = replica.strays.map {
            .warning(.layoutStray, file: $0, "file belongs to no Litestream \(replica.format == .v03 ? "0.3" : "0.5") layout; a restore ignores it")
        }
        let strays = Set(replica.strays)
        replica.storage.prefetch(replica.storage.files().map(\.path).filter { !strays.contains($0) }.sorted())
        var files = 0
        var bytes: Int64 = 0
        var lastCommitEnds: [String: Int64] = [:]
        switch replica.format {
        case .v03:
            let r = verifyV03()
            findings += r.findings
            lastCommitEnds = r.lastCommitEnds
            files = r.files
            bytes = r.bytes
        case .ltx:
            let r = verifyLTX()
            findings += r.findings
            files = r.files
            bytes = r.bytes
        }
        var latest: PlanSummary?
        var latestBrokenBy: Finding?
        do {
            let plan = try RestorePlanner(replica: replica).plan(.latest)
            // 0.3: the plan names the last segment; the WAL just read tells where its last commit ends.
            var exact: String?
            if case .walIndex(let index, let segs, _) = plan.steps.last, let g = plan.generation,
                let end = lastCommitEnds["\(g)/\(index)"], end > Int64(WALHeader.size),
                segs.count == (replica.v03?.generations.first { $0.id == g }?.segments(of: index).count ?? -1)
            {
                exact = "\(g)/\(index.hex(width: 8)):\(end)"
            }
            latest = PlanSummary(plan, position: exact)
            findings += plan.warnings
            let needed = Set(plan.files)
            latestBrokenBy = findings.first { f in
                f.severity == .error && (needed.contains(f.file) || (!f.file.isEmpty && needed.contains { $0.hasPrefix(f.file + "/") }))
            }
        } catch let e as LiteProofError {
            let f = e.finding ?? .error(.chainEmpty, file: "", e.message)
            if !findings.contains(where: { $0.code == f.code && $0.file == f.file }) { findings.append(f) }
        } catch {
            findings.append(.error(.chainEmpty, file: "", "\(error)"))
        }
        var restoreCheckResult: String?
        var canaries: CanaryReport?
        if restoreCheck != .none || live != nil, !findings.contains(where: { $0.severity == .error }) {
            do {
                let plan = try RestorePlanner(replica: replica).plan(.latest)
                let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-verify")
                defer { ScratchSpace.release(scratch) }
                let path = try Restorer(replica: replica).restoreToScratch(plan, in: scratch)
                if restoreCheck != .none {
                    let problems = try SQLiteDatabase(path: path, mode: .immutable).integrityCheck(full: restoreCheck == .full)
                    restoreCheckResult = problems.isEmpty ? "ok" : problems.prefix(5).joined(separator: "; ")
                    if !problems.isEmpty {
                        findings.append(
                            .error(
                                .restoreIntegrity, file: "",
                                "the latest position restores, but SQLite's \(restoreCheck == .full ? "integrity_check" : "quick_check") of the result fails: \(restoreCheckResult!)"
                            ))
                    }
                }
                let replicaSource = try FilePageSource(path: path)
                if let live {
                    canaries = try LiveDatabase.read(live) { try CanaryReport.make(replica: replicaSource, live: $0) }
                } else {
                    canaries = try CanaryReport.make(replica: replicaSource, live: nil)
                }
            } catch let e as LiteProofError where e.isLocal && throwingLocalFailures {
                throw e
            } catch let e as LiteProofError {
                findings.append(e.finding ?? .error(.restoreIntegrity, file: "", "the trial restore failed: \(e.message)"))
            } catch {
                findings.append(.error(.restoreIntegrity, file: "", "the trial restore failed: \(error)"))
            }
        }
        findings.sort { ($1.severity, $0.file, $0.offset ?? -1) < ($0.severity, $1.file, $1.offset ?? -1) }
        return VerifyReport(
            replica: replica.root, format: replica.format,
            verdict: findings.contains { $0.severity == .error } ? .damaged : .ok,
            findings: findings, filesChecked: files, bytesRead: bytes,
            seconds: Date().timeIntervalSince(started), latest: latest, latestBrokenBy: latestBrokenBy, restoreCheck: restoreCheckResult,
            canaries: canaries)
    }

    // MARK: v0.3

    enum V03Unit {
        case snapshot(V03File)
        case index(generation: String, index: UInt32, segments: [V03File])
    }

    enum V03Outcome {
        case snapshot(V03Readers.SnapshotResult)
        case index(generation: String, V03Readers.IndexResult)
    }

    func verifyV03() -> (findings: [Finding], files: Int, bytes: Int64, lastCommitEnds: [String: Int64]) {
        let gens = replica.v03?.generations ?? []
        var units: [V03Unit] = []
        for g in gens {
            units += g.snapshots.map { .snapshot($0) }
            units += g.indexes.map { .index(generation: g.id, index: $0, segments: g.segments(of: $0)) }
        }
        let total = gens.reduce(Int64(0)) { $0 + $1.allFiles.reduce(0) { $0 + $1.size } }
        let meter = ProgressMeter(phase: "verify", total: total, handler: progress)
        let replica = self.replica
        let outcomes: [V03Outcome] = parallelMap(units) { unit in
            switch unit {
            case .snapshot(let f):
                let r = V03Readers.readSnapshot(replica, f)
                meter.add(f.size)
                return .snapshot(r)
            case .index(let g, let i, let segs):
                let r =
                    (try? V03Readers.readIndex(replica, index: i, segments: segs, expectedPageSize: nil))
                    ?? V03Readers.IndexResult(index: i)
                meter.add(segs.reduce(0) { $0 + $1.size })
                return .index(generation: g, r)
            }
        }
        var findings: [Finding] = []
        var snapshotPageSize: [String: Int] = [:]
        var lastCommitEnds: [String: Int64] = [:]
        for o in outcomes {
            if case .snapshot(let r) = o {
                findings += r.findings
                if let h = r.header {
                    snapshotPageSize[generationOf(r.file.path)] = h.pageSize
                }
            }
        }
        for o in outcomes {
            if case .index(let g, let r) = o {
                findings += r.findings
                if !r.hasErrors { lastCommitEnds["\(g)/\(r.index)"] = r.lastCommitEnd }
                if let h = r.header, let ps = snapshotPageSize[g], ps != h.pageSize,
                    let first = gens.first(where: { $0.id == g })?.segments(of: r.index).first
                {
                    findings.append(
                        .error(
                            .walPageSize, file: first.path, offset: 8,
                            "WAL page size is \(h.pageSize); the generation's snapshot has \(ps)-byte pages"))
                }
            }
        }
        // Chain: every index from the oldest snapshot on must be present.
        for g in gens {
            let dir = "generations/\(g.id)"
            guard let firstSnap = g.snapshots.first else {
                findings.append(.error(.chainNoSnapshot, file: dir, "generation \(g.id) has no snapshot: none of its WAL can be restored"))
                continue
            }
            let present = Set(g.indexes)
            if let maxIndex = g.maxIndex, firstSnap.index < maxIndex {
                for i in firstSnap.index...maxIndex where !present.contains(i) {
                    findings.append(
                        .error(
                            .chainMissingIndex, file: dir + "/wal",
                            "WAL index \(i.hex(width: 8)) has no segments; restores past it are impossible (indexes \(firstSnap.index.hex(width: 8))…\(maxIndex.hex(width: 8)) expected)"
                        ))
                }
            }
        }
        let files = gens.reduce(0) { $0 + $1.allFiles.count }
        return (findings, files, total, lastCommitEnds)
    }

    func generationOf(_ path: String) -> String {
        let parts = path.split(separator: "/")
        return parts.count > 1 ? String(parts[1]) : ""
    }

    // MARK: v0.5

    func verifyLTX() -> (findings: [Finding], files: Int, bytes: Int64) {
        let refs = replica.ltx?.files ?? []
        let total = refs.reduce(Int64(0)) { $0 + $1.size }
        let meter = ProgressMeter(phase: "verify", total: total, handler: progress)
        let replica = self.replica
        let results: [(LTXFileRef, LTXSummary?, Finding?)] = parallelMap(refs) { ref in
            defer { meter.add(ref.size) }
            do {
                let s = try LTX.decode(try replica.open(ref.path), name: ref.path)
                return (ref, s, nil)
            } catch let e as LiteProofError {
                return (ref, nil, e.finding ?? .error(.fileUnreadable, file: ref.path, e.message))
            } catch {
                return (ref, nil, .error(.fileUnreadable, file: ref.path, "\(error)"))
            }
        }
        var findings: [Finding] = []
        var pageSizes: [Int: Int] = [:]
        for (ref, summary, finding) in results {
            if let finding { findings.append(finding) }
            guard let h = summary?.header else { continue }
            pageSizes[h.pageSize, default: 0] += 1
            if h.minTXID != ref.minTXID || h.maxTXID != ref.maxTXID {
                findings.append(
                    .error(
                        .ltxNameMismatch, file: ref.path, offset: 16,
                        "header TXIDs are \(h.minTXID.hex(width: 16))-\(h.maxTXID.hex(width: 16)); the file name says \(ref.minTXID.hex(width: 16))-\(ref.maxTXID.hex(width: 16))"
                    ))
            }
            if ref.level == LTXLayout.snapshotLevel && !h.isSnapshot {
                findings.append(.error(.ltxHeader, file: ref.path, offset: 16, "a level-9 file must be a snapshot (min TXID 1); found min TXID \(h.minTXID)"))
            }
        }
        if pageSizes.count > 1, let common = pageSizes.max(by: { $0.value < $1.value })?.key {
            for (ref, summary, _) in results {
                if let h = summary?.header, h.pageSize != common {
                    findings.append(.error(.ltxPageSize, file: ref.path, offset: 8, "page size is \(h.pageSize); the replica's other files have \(common)"))
                }
            }
        }
        // Files of one level should not overlap.
        for level in replica.ltx?.levels ?? [] where level != LTXLayout.snapshotLevel {
            let files = refs.filter { $0.level == level }
            for (a, b) in zip(files, files.dropFirst()) where b.minTXID <= a.maxTXID {
                findings.append(
                    .warning(
                        .chainOverlap, file: b.path,
                        "TXIDs \(b.minTXID.hex(width: 16))-\(b.maxTXID.hex(width: 16)) overlap \(a.path) on level \(level)"))
            }
        }
        return (findings, refs.count, total)
    }
}
