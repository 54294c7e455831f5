import Foundation

// MARK: - Verdicts

extension LogReport {
    /// The verdict of one boot and its warnings.
    ///
    /// `lastWriter` maps a replica target to the index in `earlier` of the last boot that wrote to it.
    static func judge(_ events: [LogEvent], number: Int, earlier: [Boot], lastWriter: [String: Int]) -> (Boot, [String]) {
        var warnings: [String] = []
        let firstReplication = events.firstIndex { replicationKinds.contains($0.kind) }
        var restorePending: LogEvent?
        var failure: LogEvent?
        var failureDuringRestore = false
        var finished: LogEvent?, noBackup: LogEvent?, skipped: LogEvent?, lastStart: LogEvent?
        for (i, e) in events.enumerated() {
            switch e.kind {
            case .restoreStarted:
                restorePending = e
                lastStart = e
            case .restoreFinished:
                finished = e
                restorePending = nil
            case .restoreNoBackup:
                noBackup = e
                restorePending = nil
            case .restoreSkipped:
                skipped = e
                restorePending = nil
            case .error where failure == nil:
                let beforeReplication = firstReplication.map { i < $0 } ?? true
                if restorePending != nil || (e.isFatal && beforeReplication) {
                    failure = e
                    let sawVersion = events[..<i].contains { $0.kind == .version }
                    failureDuringRestore =
                        restorePending != nil || e.errorText.lowercased().contains("restore")
                        || (!sawVersion && restoreRelated(e.errorText, strict: false))
                    restorePending = nil
                }
            default: break
            }
        }

        var boot = Boot(
            number: number, firstLine: events.first!.line, lastLine: events.last!.line,
            started: events.first { $0.time != nil }?.time, ended: events.last { $0.time != nil }?.time,
            version: events.first { $0.kind == .version }?.fields["version"],
            verdict: .replicatingOnly, reason: "", evidenceLine: nil,
            databases: unique(events.filter { $0.kind == .database }.compactMap { $0.fields["path"] }),
            replicatingTo: unique(events.filter { $0.kind == .replicating }.map(describeTarget)),
            restoredGeneration: nil,
            newGenerations: events.filter { $0.kind == .generation }.map { "\($0.fields["generation"] ?? "?") (\($0.fields["reason"] ?? "no reason given"))" },
            snapshots: events.filter { $0.kind == .snapshot }.count,
            walSegments: events.filter { $0.kind == .walSegment }.count,
            ltxFiles: events.filter { $0.kind == .ltxFile }.count,
            compactions: events.filter { $0.kind == .compaction }.count,
            errors: events.filter { $0.kind == .error }.count,
            stopped: events.contains { $0.kind == .shutdown })
        boot.restoredGeneration = (finished != nil || failure != nil) ? lastStart?.fields["generation"] : nil

        if let f = failure {
            boot.verdict = .failed
            boot.evidenceLine = f.line
            boot.reason =
                (failureDuringRestore ? "the restore failed: " : "Litestream stopped with an error before replicating: ")
                + "line \(f.line)\(at(f)) \(quote(f))"
            if let r = firstReplication, events[r].line > f.line {
                warnings.append(
                    "Litestream replicated anyway after the failed restore (line \(events[r].line)): the database it replicates did not come from the replica, and its snapshots will become the replica's newest state"
                )
            }
        } else if let f = finished {
            boot.verdict = .restored
            boot.evidenceLine = f.line
            boot.reason = "a restore finished: line \(f.line)\(at(f)) \(quote(f))"
        } else if let f = noBackup {
            boot.verdict = .fresh
            boot.evidenceLine = f.line
            boot.reason = "no backup existed, the database started empty: line \(f.line)\(at(f)) \(quote(f))"
        } else if let s = skipped {
            boot.evidenceLine = s.line
            boot.reason = "the database already existed, so no restore ran: line \(s.line)\(at(s)) \(quote(s))"
        } else if let s = restorePending {
            boot.evidenceLine = s.line
            boot.reason = "a restore started (line \(s.line)\(at(s)) \(quote(s))) but the log shows no outcome"
            warnings.append("a restore started at line \(s.line) but the log shows neither its end nor an error: the log may be cut short")
        } else if let r = firstReplication {
            boot.evidenceLine = events[r].line
            boot.reason = "no restore in this boot: Litestream replicated from line \(events[r].line)\(at(events[r])) \(quote(events[r]))"
        } else {
            boot.reason = "no restore and no replication in this boot's lines"
        }

        // 0.3: a restore is followed by a new generation.
        if let f = finished, let g = events.first(where: { $0.kind == .generation && $0.line > f.line }) {
            let old = lastStart?.fields["generation"]
            let new = g.fields["generation"] ?? "?"
            warnings.append(
                "the restore (line \(f.line)\(old.map { ", generation \($0)" } ?? "")) was followed by a new generation \(new) at line \(g.line)"
                    + " (reason: \(g.fields["reason"] ?? "none given")): Litestream 0.3 always does this after a restore, since the restored database "
                    + "has no Litestream state beside it. A plain `litestream restore` now takes the generation updated most recently (\(new)); "
                    + "the history before this boot stays only in "
                    + (old.map { "generation \($0) (reach it with `-generation \($0)` or a `-timestamp` inside it)" } ?? "the previous generation")
                    + ".")
        }
        for g in events where g.kind == .generation {
            let reason = g.fields["reason"] ?? ""
            if reason != "no generation exists" {
                warnings.append(
                    "new generation \(g.fields["generation"] ?? "?") at line \(g.line) because \"\(reason)\": Litestream lost track of the WAL (another process checkpointed, truncated or rewrote it), so the replica's history continues in a new generation"
                )
            }
        }
        if finished == nil, let b = events.first(where: { $0.kind == .behindReplica && $0.message == "detected database behind replica" }) {
            let dbTXID = b.fields["db_txid"] ?? "?"
            let found =
                "line \(b.line): Litestream found the database behind the replica (db_txid=\(dbTXID), replica_txid=\(b.fields["replica_txid"] ?? "?")) "
                + "and took the replica's position as its base. "
            if dbTXID.allSatisfy({ $0 == "0" }) {
                warnings.append(
                    found + "The log shows no restore: either a `litestream restore` ran and, as 0.5 does, printed nothing, "
                        + "or the database was created without restoring and its next snapshot becomes the replica's newest state")
            } else {
                warnings.append(
                    found + "The database went back to an earlier state (an older copy or a volume snapshot?): "
                        + "its next snapshot makes that state the replica's newest")
            }
        }
        let replicationErrors = events.enumerated().filter { i, e in e.kind == .error && e.line != failure?.line && (firstReplication.map { i > $0 } ?? false) }
            .map(\.1)
        if let first = replicationErrors.first {
            warnings.append(
                "\(replicationErrors.count) error\(replicationErrors.count == 1 ? "" : "s") while replicating; first at line \(first.line)\(at(first)): \(first.errorText)"
            )
        }
        if boot.verdict == .fresh {
            let targets = Set(boot.replicatingTo)
            if let index = targets.compactMap({ lastWriter[$0] }).max() {
                let prior = earlier[index]
                warnings.append(
                    "no backup was found, although boot \(prior.number) replicated to the same place (\(targets.intersection(prior.replicatingTo).sorted().joined(separator: ", "))): check the replica's path, bucket, credentials and retention"
                )
            }
        }
        return (boot, warnings)
    }

    /// `file /path`, `s3 bucket/path`, or the URL.
    static func describeTarget(_ e: LogEvent) -> String {
        let f = e.fields
        let type = f["type"] ?? f["name"] ?? "replica"
        if let url = f["url"] { return "\(type) \(url)" }
        if let bucket = f["bucket"] { return "\(type) \(bucket)/\(f["path"] ?? "")" }
        if let host = f["host"] { return "\(type) \(host):\(f["path"] ?? "")" }
        if let path = f["path"] { return "\(type) \(path)" }
        return type
    }

    static func unique(_ a: [String]) -> [String] {
        var seen = Set<String>()
        return a.filter { seen.insert($0).inserted }
    }

    static func at(_ e: LogEvent) -> String { e.time.map { " (\($0))" } ?? "" }

    static func quote(_ e: LogEvent) -> String {
        e.fields["error"].map { "\u{201C}\(e.message)\u{201D} error=\u{201C}\($0)\u{201D}" } ?? "\u{201C}\(e.message)\u{201D}"
    }
}
