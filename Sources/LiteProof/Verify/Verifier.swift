import Foundation

/// The outcome of `verify`: every finding, and what the latest restore would be.
public struct VerifyReport: Codable, Sendable {
    public var replica: String
    public var format: Replica.Format
    /// `ok` (no error finding, and the latest position is planned), `damaged`, `undecided` (the
    /// latest position cannot be decided: ``undecided`` says why) or `unreadable` (the store
    /// could not produce a file: ``storageFailures``).
    public var verdict: Outcome
    public var findings: [Finding]
    /// Files the store could not produce (or a failure of the local side): the check is
    /// incomplete, so the verdict is `unreadable` whatever else was found.
    public var storageFailures: [FailureReport] = []
    /// Why the latest position cannot be decided (the same words as `restore`), when it cannot.
    public var undecided: String?
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
    /// Seconds the trial restore of the latest position took (nil when it did not run or failed).
    public var restoreSeconds: Double?
    /// Canaries in the restored replica (and, with a live database, those not replicated yet).
    public var canaries: CanaryReport?
    /// Where trusted file times came from (a bucket listing or a fetch manifest); nil when the
    /// times are the files' own modification times.
    public var timeSource: String?

    public var errorCount: Int { findings.filter { $0.severity == .error }.count }
    public var warningCount: Int { findings.filter { $0.severity == .warning }.count }

    /// The verdict from what was found: a storage failure outranks an undecided latest position,
    /// which outranks damage. `ok` needs a planned latest position: "sound" promises a restore.
    static func verdict(findings: [Finding], storageFailures: [FailureReport], undecided: String?, latest: PlanSummary?) -> Outcome {
        if !storageFailures.isEmpty { return .unreadable }
        if undecided != nil { return .undecided }
        if findings.contains(where: { $0.severity == .error }) { return .damaged }
        return latest == nil ? .undecided : .ok
    }
}

/// What the per-format file checks found.
struct FileChecks {
    var findings: [Finding]
    var storageFailures: [LiteProofError]
    var files: Int
    var bytes: Int64
}

/// A restore plan in a few facts, for reports.
public struct PlanSummary: Codable, Sendable {
    public var position: Position
    public var generation: String?
    public var txid: UInt64?
    public var time: String?
    public var files: Int
    public var bytes: Int64
    public var reasons: [String]

    public init(_ plan: RestorePlan) {
        position = plan.position
        generation = plan.generation
        txid = plan.txid
        time = plan.time.map(formatTime)
        files = plan.files.count
        bytes = plan.totalBytes
        reasons = plan.reasons
    }
}

/// Reads every file of a replica fully and checks everything: each file's format and checksums,
/// then the chain of files (offsets, indexes, TXIDs, snapshots) and stray files. The per-format
/// checks are in `Verifier+V03.swift` and `Verifier+LTX.swift`.
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
    /// folder's disk full, …) makes the report `unreadable`. Use ``check()`` to have it thrown
    /// instead.
    public func run() -> VerifyReport { runPlanned().report }

    /// ``run()``, also returning the latest restore plan the checks made (nil when none could be
    /// made), for a caller that needs more of it than the report keeps.
    func runPlanned() -> (report: VerifyReport, plan: RestorePlan?) {
        do { return try run(throwingLocalFailures: false) } catch { preconditionFailure("\(error)") }
    }

    /// Runs every check; throws a failure of the local side (``LiteProofError/isLocal``: ENOSPC,
    /// EFBIG or EIO on the scratch folder), which says nothing about the replica.
    public func check() throws -> VerifyReport {
        try run(throwingLocalFailures: true).report
    }

    private func run(throwingLocalFailures: Bool) throws -> (report: VerifyReport, plan: RestorePlan?) {
        let started = Date()
        var findings: [Finding] = replica.strays.map {
            .warning(.layoutStray, file: $0, "file belongs to no Litestream \(replica.format.version) layout; a restore ignores it")
        }
        // The latest restore plan, made once (when a check first needs it) for every check below.
        let latestPlan = LatestPlan(replica: replica)
        findings += replica.storageFindings
        let strays = Set(replica.strays)
        replica.storage.prefetch(replica.storage.files().map(\.path).filter { !strays.contains($0) }.sorted())
        let checks: FileChecks
        switch replica.layout {
        case .v03(let layout): checks = verifyV03(layout, latestPlan: latestPlan)
        case .ltx(let layout): checks = verifyLTX(layout, latestPlan: latestPlan)
        }
        findings += checks.findings
        var failures = checks.storageFailures
        let (latest, latestBrokenBy, undecided) = latestPlan.judge(findings: &findings, failures: &failures)
        var restoreCheckResult: String?
        var restoreSeconds: Double?
        var canaries: CanaryReport?
        if restoreCheck != .none || live != nil, failures.isEmpty, undecided == nil, !findings.contains(where: { $0.severity == .error }) {
            do {
                let plan = try latestPlan.result.get()
                let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-verify")
                defer { ScratchSpace.release(scratch) }
                let restoreStarted = Date()
                var restorer = Restorer(replica: replica)
                restorer.filesChecked = true  // every file was decoded and checked above, with no error
                let path = try restorer.restoreToScratch(plan, in: scratch)
                restoreSeconds = Date().timeIntervalSince(restoreStarted)
                if restoreCheck != .none {
                    let problems = try SQLiteDatabase(path: path, mode: .written).integrityCheck(full: restoreCheck == .full)
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
            } catch {
                let e = LiteProofError(wrapping: error)
                if e.isLocal && throwingLocalFailures { throw e }
                if e.isStorage {
                    failures.append(e)
                } else {
                    findings.append(e.finding ?? .error(.restoreIntegrity, file: "", "the trial restore failed: \(e.message)"))
                }
            }
        }
        // A store that failed a read some caller shrugged off (a header read while planning)
        // still makes the check incomplete.
        for e in replica.storage.failures where !failures.contains(where: { $0.isSameFailure(as: e) }) { failures.append(e) }
        findings.sort { ($1.severity, $0.file, $0.offset ?? -1) < ($0.severity, $1.file, $1.offset ?? -1) }
        let storageFailures = failures.map(FailureReport.init)
        let report = VerifyReport(
            replica: replica.root, format: replica.format,
            verdict: VerifyReport.verdict(findings: findings, storageFailures: storageFailures, undecided: undecided, latest: latest),
            findings: findings, storageFailures: storageFailures, undecided: undecided, filesChecked: checks.files, bytesRead: checks.bytes,
            seconds: Date().timeIntervalSince(started), latest: latest, latestBrokenBy: latestBrokenBy, restoreCheck: restoreCheckResult,
            restoreSeconds: restoreSeconds, canaries: canaries, timeSource: replica.timeSource)
        return (report, try? latestPlan.result.get())
    }
}

/// A replica's latest restore plan, made the first time a check asks for it and then handed to
/// every other (the file checks, the report, the trial restore, `verify --all`).
final class LatestPlan {
    let replica: Replica
    private var made: Result<RestorePlan, any Error>?

    init(replica: Replica) { self.replica = replica }

    /// The plan, or the error planning threw.
    var result: Result<RestorePlan, any Error> {
        if let made { return made }
        let r = Result { try RestorePlanner(replica: replica).plan() }
        made = r
        return r
    }

    /// The plan, nil when none could be made.
    var plan: RestorePlan? { try? result.get() }

    /// Judges the latest position against what the file checks found, as `verify` and `watch`
    /// report it: the plan in a few facts with its warnings added to `findings`, the first error
    /// in a file the plan needs (`brokenBy`), or why no plan could be made: a storage failure
    /// (added to `failures`, never damage), an undecided choice (its words), or damage (its
    /// finding, e.g. a gap the planner stops at, added to `findings`).
    func judge(findings: inout [Finding], failures: inout [LiteProofError]) -> (latest: PlanSummary?, brokenBy: Finding?, undecided: String?) {
        do {
            let plan = try result.get()
            findings += plan.warnings
            let needed = Set(plan.files)
            // (A file only Litestream refuses does not stop LiteProof's restore: its finding says so.)
            let brokenBy = findings.first { f in
                f.severity == .error && f.code != .ltxLitestreamIncompatible
                    && (needed.contains(f.file) || (!f.file.isEmpty && needed.contains { $0.hasPrefix(f.file + "/") }))
            }
            return (PlanSummary(plan), brokenBy, nil)
        } catch {
            let e = LiteProofError(wrapping: error)
            switch e.kind {
            case .storage: failures.append(e)
            case .undecided, .usage:
                // No restore can be planned without a choice only the user can make: the same
                // words as `restore`, never "sound".
                if let f = e.finding, !findings.contains(f) { findings.append(f) }
                return (nil, nil, e.message)
            case .damaged, .checkFailed:
                let f = e.finding ?? .error(.chainEmpty, file: "", e.message)
                if !findings.contains(where: { $0.code == f.code && $0.file == f.file }) { findings.append(f) }
            }
            return (nil, nil, nil)
        }
    }
}
