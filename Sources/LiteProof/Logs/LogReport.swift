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
    /// Lines longer than ``LogReader/maxLineLength``, not read.
    public var skippedLines: [LogScan.SkippedLine]

    /// The last boot.
    public var lastBoot: Boot { boots[boots.count - 1] }

    /// Reads `path` ("-" for standard input) and judges it.
    public static func make(path: String) throws -> LogReport {
        try LogReport(scan: LogReader.scan(path: path), input: path)
    }

    /// Judges the Litestream lines of `scan`; throws when there are none.
    public init(scan: LogScan, input: String) throws {
        self.input = input
        linesRead = scan.lineCount
        skippedLines = scan.skippedLines
        let events = LogReport.assignBoots(scan.events)
        let bootCount = events.last?.boot ?? 0
        guard bootCount > 0 else {
            let skipped = LogReport.describeSkipped(scan.skippedLines).map { "; \($0)" } ?? ""
            throw LiteProofError(
                .usage, "no Litestream log lines found in \(input == "-" ? "standard input" : input) (\(scan.lineCount) lines read\(skipped))")
        }
        litestreamLines = events.count
        self.events = events
        var formats: [LogLineFormat] = []
        for e in events where !formats.contains(e.format) { formats.append(e.format) }
        self.formats = formats
        var byBoot = [[LogEvent]](repeating: [], count: bootCount)
        for e in events { byBoot[e.boot - 1].append(e) }
        var boots: [Boot] = []
        var warnings: [String] = []
        var lastWriter: [String: Int] = [:]
        for n in 1...bootCount {
            let (boot, bootWarnings) = LogReport.judge(byBoot[n - 1], number: n, earlier: boots, lastWriter: lastWriter)
            boots.append(boot)
            if boot.snapshots + boot.walSegments + boot.ltxFiles + boot.compactions > 0 {
                for target in boot.replicatingTo { lastWriter[target] = n - 1 }
            }
            warnings += bootWarnings.map { bootCount > 1 ? "boot \(n): \($0)" : $0 }
        }
        if let skipped = LogReport.describeSkipped(scan.skippedLines) { warnings.append(skipped) }
        self.boots = boots
        self.warnings = warnings
        verdict = boots[boots.count - 1].verdict
        reason = boots[boots.count - 1].reason
    }

    /// "line 3 (1572864 bytes) is longer than 1 MiB and was not read", or nil when none was skipped.
    static func describeSkipped(_ skipped: [LogScan.SkippedLine]) -> String? {
        guard let first = skipped.first else { return nil }
        let limit = "\(LogReader.maxLineLength >> 20) MiB"
        if skipped.count == 1 { return "line \(first.line) (\(first.bytes) bytes) is longer than \(limit) and was not read" }
        let listed = skipped.prefix(10).map { String($0.line) }.joined(separator: ", ") + (skipped.count > 10 ? ", …" : "")
        let longest = skipped.map(\.bytes).max() ?? 0
        return "\(skipped.count) lines are longer than \(limit) and were not read (lines \(listed); the longest \(longest) bytes)"
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

}
