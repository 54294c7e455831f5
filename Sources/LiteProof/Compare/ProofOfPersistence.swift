import Foundation

/// The proof-of-persistence cycle, automated: check the replica is readable and alive, write a
/// canary to the live database, wait until the replica holds it, restore the replica with
/// LiteProof's own code, find the canary there, and compare the restored database with the live
/// one. One verdict, with every step's evidence.
public struct ProofOfPersistence {
    public struct Step: Codable, Sendable {
        public var name: String
        public var ok: Bool
        public var seconds: Double
        public var detail: String
    }

    public struct Report: Codable, Sendable {
        public enum Verdict: String, Codable, Sendable {
            case proven
            case notProven = "not-proven"
        }

        public var verdict: Verdict
        /// The step that failed, for `not-proven`.
        public var failedStep: String?
        public var database: String
        public var replica: String
        public var canary: Canary?
        /// Seconds from writing the canary to first seeing it in the replica.
        public var replicationLag: Double?
        /// Seconds of the restore that found it (LiteProof's own code).
        public var restoreSeconds: Double?
        public var compareVerdict: String?
        public var steps: [Step]
    }

    public let database: String
    public let replicaLocation: String
    public var timeout: Double = 60
    public var poll: Double = 0.5
    public var label: String?
    public var progress: ((String) -> Void)?
    /// 0.3: the generation every plan uses (nil: the one LiteProof chooses).
    public var generation: String?

    public init(database: String, replica: String, timeout: Double = 60) {
        self.database = database
        self.replicaLocation = replica
        self.timeout = timeout
    }

    /// A cheap fingerprint of the replica's files (names, sizes, times), to poll for changes.
    static func fingerprint(_ storage: any ReplicaStorage) -> [StoredFile] {
        storage.files().sorted { $0.path < $1.path }
    }

    public func run() throws -> Report {
        var steps: [Step] = []
        var report = Report(
            verdict: .notProven, failedStep: nil, database: database, replica: replicaLocation,
            canary: nil, replicationLag: nil, restoreSeconds: nil, compareVerdict: nil, steps: [])
        func step(_ name: String, _ body: () throws -> (Bool, String)) -> Bool {
            progress?(name)
            let t = Date()
            var ok = false, detail = ""
            do { (ok, detail) = try body() } catch { detail = "\(error)" }
            steps.append(Step(name: name, ok: ok, seconds: Date().timeIntervalSince(t), detail: detail))
            if !ok && report.failedStep == nil { report.failedStep = name }
            return ok
        }
        defer {}
        // 1. The replica can be read and planned, and Litestream has written to it recently.
        var before: [StoredFile] = []
        guard
            step(
                "replica-readable",
                {
                    let replica = try Replica.open(replicaLocation).choosing(generation: generation)
                    let plan = try RestorePlanner(replica: replica).plan()
                    before = Self.fingerprint(replica.storage)
                    let newest = before.compactMap(\.modified).max()
                    let age = newest.map { Date().timeIntervalSince1970 - $0 }
                    return (
                        true,
                        "\(replica.format.rawValue) replica, latest position \(plan.position)"
                            + (age.map { String(format: ", newest file written %.1f s ago", $0) } ?? "")
                    )
                })
        else { report.steps = steps; return report }

        // 2. Write a canary to the live database.
        var canary: Canary?
        guard
            step(
                "write-canary",
                {
                    canary = try Canary.write(to: database, label: label ?? "liteproof prove")
                    return (true, "token \(canary!.token) written at \(canary!.createdAtText)")
                })
        else { report.steps = steps; return report }
        report.canary = canary

        // 3. Wait until the replica holds it: restore (own code) whenever its files change.
        var restoredPath: String?
        let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-prove")
        defer { ScratchSpace.release(scratch) }
        var attempt = 0
        guard
            step(
                "wait-for-replication",
                {
                    let deadline = Date().addingTimeInterval(timeout)
                    var last: [StoredFile] = []
                    while true {
                        let replica = try Replica.open(replicaLocation).choosing(generation: generation)
                        let now = Self.fingerprint(replica.storage)
                        if now != last {
                            last = now
                            attempt += 1
                            let path = scratch + "/attempt-\(attempt).db"
                            let t = Date()
                            do {
                                let plan = try RestorePlanner(replica: replica).plan()
                                let out = try OutputFile(creating: path)
                                _ = try Restorer(replica: replica).apply(plan, to: out, scratch: scratch)
                                let seconds = Date().timeIntervalSince(t)
                                if let all = try Canary.all(in: try FilePageSource(path: path)), all.contains(where: { $0.token == canary!.token }) {
                                    restoredPath = path
                                    report.restoreSeconds = seconds
                                    report.replicationLag = Date().timeIntervalSince1970 - canary!.createdAt - seconds
                                    return (
                                        true,
                                        String(
                                            format: "the replica held the canary after %.2f s (%d look%@ at the replica)", report.replicationLag!, attempt,
                                            attempt == 1 ? "" : "s")
                                    )
                                }
                            } catch {
                                // A replica caught mid-upload can fail to plan; look again on the next change.
                            }
                            FS.remove(path)
                        }
                        if Date() > deadline {
                            let changed = now != before
                            return (
                                false,
                                String(format: "the canary did not reach the replica within %.0f s; ", timeout)
                                    + (changed
                                        ? "the replica changed meanwhile but does not hold it"
                                        : "the replica's files did not change at all: is Litestream running and replicating this database?")
                            )
                        }
                        Thread.sleep(forTimeInterval: poll)
                    }
                })
        else { report.steps = steps; return report }

        // 4. Restore check: the restored database passes SQLite's quick_check.
        guard
            step(
                "restore-and-check",
                {
                    let problems = try SQLiteDatabase(path: restoredPath!, mode: .written).integrityCheck(full: false)
                    return (
                        problems.isEmpty,
                        problems.isEmpty
                            ? String(format: "restored with LiteProof's own code in %.3f s; quick_check ok; canary present", report.restoreSeconds ?? 0)
                            : "quick_check: " + problems.prefix(3).joined(separator: "; ")
                    )
                })
        else { report.steps = steps; return report }

        // 5. Compare with the live database (which may have moved on: lagging is fine).
        _ = step(
            "compare-with-live",
            {
                let replica = try Replica.open(replicaLocation).choosing(generation: generation)
                let r = try Comparer(replica: replica).compare(live: database)
                report.compareVerdict = r.verdict.rawValue
                let detail: String
                switch r.verdict {
                case .identical: detail = "the live database equals the replica"
                case .lagging: detail = "the replica equals the live database \(r.lag?.commitsBehind ?? 0) commit(s) ago"
                case .ahead: detail = "the replica holds the live state and \(r.ahead?.commitsAhead ?? 0) later commit(s)"
                case .laggingUnproven:
                    detail =
                        "not matched, not damage: the live database moved on past what its WAL remembers (\(r.unproven?.evidence ?? "")); the canary above is the proof"
                case .differs: detail = "no state of the live database matches the replica: \(r.differingPageCount) pages differ"
                }
                return (r.verdict != .differs, detail)
            })
        report.steps = steps
        report.verdict = report.failedStep == nil ? .proven : .notProven
        return report
    }
}

extension ProofOfPersistence.Report {
    public func renderText() -> String {
        var lines = [
            verdict == .proven
                ? "PROVEN: a write to \(database) reached the replica and restores with LiteProof's own code"
                : "NOT PROVEN: failed at \(failedStep ?? "?")"
        ]
        for s in steps {
            lines.append("  [\(s.ok ? "ok" : "FAILED")] \(s.name) (\(Units.seconds(s.seconds))): \(s.detail)")
        }
        if let lag = replicationLag { lines.append(String(format: "replication lag: %.2f s", lag)) }
        if let r = restoreSeconds { lines.append(String(format: "restore time: %.3f s", r)) }
        return lines.map(\.escapedForText).joined(separator: "\n")
    }
}
