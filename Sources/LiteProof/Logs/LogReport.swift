import Foundation

/// What a Litestream log shows about how the database started, judged on the log's last boot.
///
/// A boot is one start of the machine or container as its log shows it: an optional
/// `litestream restore` (0.3, 0.5) and a `litestream replicate` (which prints `litestream
/// version=…` and, in 0.5 with `-restore-if-db-not-exists`, restores first).
public struct LogReport: Codable, Sendable {
    public enum Verdict: String, Codable, Sendable, CaseIterable {
        /// A restore finished: the database came from the replica.
        case restored
        /// The restore found no backup: the database started empty.
        case fresh
        /// No restore in the boot (none ran, it was skipped because the database existed, or the log
        /// does not show it): only replication.
        case replicatingOnly = "replicating-only"
        /// The restore failed, or Litestream stopped with an error before replicating.
        case failed
    }

    /// One boot, briefly.
    public struct Boot: Codable, Sendable {
        public var number: Int
        public var firstLine: Int
        public var lastLine: Int
        /// The time of its first and last Litestream line, as printed.
        public var started: String?
        public var ended: String?
        /// The `litestream version=` of its replicate process, when the log shows one.
        public var version: String?
        public var verdict: Verdict
        /// Why, naming the line the verdict rests on.
        public var reason: String
        /// The line the verdict rests on.
        public var evidenceLine: Int?
        /// `initialized db` paths.
        public var databases: [String]
        /// `replicating to` targets: type and path, URL or bucket.
        public var replicatingTo: [String]
        /// 0.3: the generation the restore read.
        public var restoredGeneration: String?
        /// 0.3: `sync: new generation` as "generation (reason)".
        public var newGenerations: [String]
        public var snapshots: Int
        public var walSegments: Int
        public var ltxFiles: Int
        public var compactions: Int
        public var errors: Int
        /// Whether Litestream's shutdown was logged.
        public var stopped: Bool
    }

    /// The file read, or "-" for standard input.
    public var input: String
    /// The last boot's verdict.
    public var verdict: Verdict
    public var reason: String
    public var boots: [Boot]
    /// Every Litestream line found, in order, with its boot.
    public var events: [LogEvent]
    public var warnings: [String]
    public var linesRead: Int
    public var litestreamLines: Int
    public var formats: [LogLineFormat]

    /// The last boot.
    public var lastBoot: Boot { boots[boots.count - 1] }

    /// Reads `path` ("-" for standard input) and judges it.
    public static func make(path: String) throws -> LogReport {
        try LogReport(scan: LogReader.scan(LogReader.read(path)), input: path)
    }

    /// Judges the Litestream lines of `scan`; throws when there are none.
    public init(scan: LogScan, input: String) throws {
        self.input = input
        linesRead = scan.lineCount
        let events = LogReport.assignBoots(scan.events)
        let bootCount = events.last?.boot ?? 0
        guard bootCount > 0 else {
            throw LiteProofError(.usage, "no Litestream log lines found in \(input == "-" ? "standard input" : input) (\(scan.lineCount) lines read)")
        }
        litestreamLines = events.count
        self.events = events
        var formats: [LogLineFormat] = []
        for e in events where !formats.contains(e.format) { formats.append(e.format) }
        self.formats = formats
        var boots: [Boot] = []
        var warnings: [String] = []
        for n in 1...bootCount {
            let mine = events.filter { $0.boot == n }
            let (boot, bootWarnings) = LogReport.judge(mine, number: n, earlier: boots)
            boots.append(boot)
            warnings += bootWarnings.map { bootCount > 1 ? "boot \(n): \($0)" : $0 }
        }
        self.boots = boots
        self.warnings = warnings
        verdict = boots[boots.count - 1].verdict
        reason = boots[boots.count - 1].reason
    }

    // MARK: - Boots

    /// Kinds that show replication running.
    static let replicationKinds: Set<LogEvent.Kind> = [.database, .replicating, .generation, .snapshot, .walSegment, .ltxFile, .compaction, .behindReplica]
    /// Whether an error text speaks of a restore (`no snapshots available`, `invalid ltx file`, …);
    /// `strict` keeps to words an application is unlikely to print.
    static func restoreRelated(_ text: String, strict: Bool) -> Bool {
        let lower = text.lowercased()
        let strictWords = [
            "restore", "ltx", "backup", "snapshot", "txid", "generation", "replica", "litestream", "config file", "decode database", "decode page",
            "wal segment", "checksum",
        ]
        let words = strict ? strictWords : strictWords + ["wal ", "wal:", "decode", "page"]
        return words.contains { lower.contains($0) }
    }

    /// The events with their boot numbers set.
    ///
    /// A boot runs through phases: restore (a `litestream restore`, or 0.5's restore inside
    /// replicate), started (`litestream version=`), replicating, closing (`signal received`),
    /// closed (`litestream shut down`, or a fatal error after the start). An event that belongs to
    /// an earlier phase than the boot has reached, or a second restore attempt, starts a new boot.
    ///
    /// 0.5 prints `Error: …` only when a command exits, and an application may print the same
    /// shape (`Error: database is locked`). Such a line counts while a restore is under way, or when
    /// it speaks of restores, LTX files, backups… (then, while a replicate process runs, it is the
    /// next boot's failed restore: the previous process stopped without logging it). Otherwise it is
    /// dropped.
    static func assignBoots(_ input: [LogEvent]) -> [LogEvent] {
        let restoring = 1, started = 2, replicating = 3, closing = 4, closed = 5
        var events: [LogEvent] = []
        var boot = 0
        var phase = 0
        var restoreOutcome = false
        var restorePending = false
        for var e in input {
            if e.format == .errorLine && !restorePending && !restoreRelated(e.errorText, strict: true) { continue }
            let lateErrorLine = e.format == .errorLine && phase >= replicating && phase < closed
            var newBoot: Bool
            switch e.kind {
            case .version: newBoot = phase >= started
            case .restoreStarted, .restoreNoBackup, .restoreSkipped: newBoot = phase >= replicating || restoreOutcome
            case .restoreProgress, .restoreFinished: newBoot = phase >= replicating
            case .database, .replicating: newBoot = phase >= closing
            case .shutdown: newBoot = phase == closed && e.message != "litestream shut down"
            case .error: newBoot = phase == closed || lateErrorLine || (e.isFatal && restoreOutcome && phase < started)
            default: newBoot = phase == closed
            }
            if boot == 0 || newBoot {
                boot += 1
                phase = 0
                restoreOutcome = false
                restorePending = false
            }
            e.boot = boot
            events.append(e)
            switch e.kind {
            case .restoreStarted, .restoreProgress:
                phase = max(phase, restoring)
                restorePending = true
            case .restoreFinished, .restoreNoBackup, .restoreSkipped:
                phase = max(phase, restoring)
                restoreOutcome = true
                restorePending = false
            case .version:
                phase = max(phase, started)
            case .shutdown:
                phase = e.message == "litestream shut down" ? closed : max(phase, closing)
            case .error where e.isFatal:
                // A failed `litestream restore` exits, but the boot may go on to `replicate`.
                restorePending = false
                if phase < started {
                    phase = max(phase, restoring)
                    restoreOutcome = true
                } else {
                    phase = closed
                }
            case .warning, .error:
                break
            default:
                if replicationKinds.contains(e.kind) { phase = max(phase, replicating) }
            }
        }
        return events
    }

    /// The verdict of one boot and its warnings.
    static func judge(_ events: [LogEvent], number: Int, earlier: [Boot]) -> (Boot, [String]) {
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
            if let prior = earlier.last(where: {
                !targets.isDisjoint(with: $0.replicatingTo) && ($0.snapshots + $0.walSegments + $0.ltxFiles + $0.compactions) > 0
            }) {
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

// MARK: - Text

extension LogReport {
    static let headline: [Verdict: String] = [
        .restored: "RESTORED: the database came from the replica",
        .fresh: "FRESH: no backup existed; the database started empty",
        .replicatingOnly: "REPLICATING ONLY: no restore in this boot",
        .failed: "FAILED: the restore failed",
    ]

    /// The report as a person reads it: the verdict, the last boot's events, earlier boots in one
    /// line each, then the warnings.
    public func renderText() -> String {
        var lines: [String] = []
        let last = lastBoot
        var head = LogReport.headline[verdict]!
        if verdict == .failed && !reason.hasPrefix("the restore failed") { head = "FAILED: Litestream stopped with an error before replicating" }
        if verdict == .replicatingOnly && reason.hasPrefix("the database already existed") {
            head = "REPLICATING ONLY: the database already existed, so no restore ran"
        }
        lines.append(head)
        lines.append("why: \(reason)")
        lines.append(
            "input: \(input == "-" ? "standard input" : input) (\(linesRead) line\(linesRead == 1 ? "" : "s"), \(litestreamLines) from Litestream; \(formats.map(\.rawValue).joined(separator: ", ")))"
        )
        lines.append("")
        lines.append("boot \(last.number) of \(boots.count), the last: " + LogReport.summary(last))
        lines.append(contentsOf: LogReport.renderEvents(events.filter { $0.boot == last.number }))
        if boots.count > 1 {
            lines.append("")
            lines.append("earlier boots:")
            for b in boots.dropLast() {
                lines.append("  boot \(b.number): \(b.verdict.rawValue) — \(LogReport.summary(b))")
                lines.append("    \(b.reason)")
            }
        }
        if !warnings.isEmpty {
            lines.append("")
            lines.append("warnings:")
            for w in warnings { lines.append("  - \(w)") }
        }
        return lines.joined(separator: "\n")
    }

    /// Lines, time span, version, targets and what was written.
    static func summary(_ b: Boot) -> String {
        var parts = ["lines \(b.firstLine)–\(b.lastLine)"]
        if let s = b.started { parts.append(b.ended.map { $0 == s ? s : "\(s) … \($0)" } ?? s) }
        parts.append(b.version.map { "litestream \($0)" } ?? "no version line")
        if !b.replicatingTo.isEmpty { parts.append("to " + b.replicatingTo.joined(separator: ", ")) }
        var written: [String] = []
        func count(_ n: Int, _ what: String) { if n > 0 { written.append("\(n) \(what)\(n == 1 ? "" : "s")") } }
        count(b.snapshots, "snapshot")
        count(b.walSegments, "WAL segment")
        count(b.ltxFiles, "LTX file")
        count(b.compactions, "compaction")
        count(b.errors, "error")
        if !written.isEmpty { parts.append(written.joined(separator: ", ")) }
        if !b.stopped { parts.append("no shutdown logged") }
        return parts.joined(separator: "; ")
    }

    /// One line per event; runs of four or more writes of one kind show their first and last.
    static func renderEvents(_ events: [LogEvent]) -> [String] {
        let collapsible: Set<LogEvent.Kind> = [.walSegment, .ltxFile, .compaction, .snapshot, .restoreProgress]
        let timeWidth = events.map { ($0.time ?? "-").count }.max() ?? 1
        let kindWidth = events.map(\.kind.rawValue.count).max() ?? 1
        func line(_ e: LogEvent) -> String {
            let time = (e.time ?? "-").padding(toLength: timeWidth, withPad: " ", startingAt: 0)
            let kind = e.kind.rawValue.padding(toLength: kindWidth, withPad: " ", startingAt: 0)
            var text = e.message
            for k in e.fieldOrder { text += " \(k)=\(quoteValue(e.fields[k] ?? ""))" }
            return "  \(String(format: "%5d", e.line))  \(time)  \(kind)  \(text)"
        }
        var out: [String] = []
        var i = 0
        while i < events.count {
            var j = i
            while j + 1 < events.count && events[j + 1].kind == events[i].kind && collapsible.contains(events[i].kind) { j += 1 }
            let run = j - i + 1
            if run >= 4 {
                out.append(line(events[i]))
                out.append(
                    "  \(String(repeating: " ", count: 5))  \(String(repeating: " ", count: timeWidth))  \(String(repeating: " ", count: kindWidth))  … \(run - 2) more \(events[i].kind.rawValue) lines …"
                )
                out.append(line(events[j]))
            } else {
                for k in i...j { out.append(line(events[k])) }
            }
            i = j + 1
        }
        return out
    }

    static func quoteValue(_ v: String) -> String {
        v.isEmpty || v.contains(" ") || v.contains("\"") ? "\"\(v.replacingOccurrences(of: "\"", with: "\\\""))\"" : v
    }
}
