import Foundation
import Testing

@testable import LiteProof

/// A real log captured by Tests/Fixtures/logs/capture.sh and what LiteProof must find in it.
struct LogCase: Sendable, CustomTestStringConvertible {
    var file: String
    var verdict: LogReport.Verdict
    /// Kinds that must appear in this order in the last boot (others may come between).
    var ordered: [LogEvent.Kind]
    /// Kinds that must appear somewhere in the last boot (their order depends on timing).
    var somewhere: [LogEvent.Kind] = []
    /// Verdicts of every boot, first to last.
    var boots: [LogReport.Verdict]? = nil
    /// Text one warning must contain; nil: no warnings.
    var warning: String? = nil
    /// Text the reason must contain.
    var reason: String? = nil
    var format: LogLineFormat = .keyValue

    var testDescription: String { file }
    var path: String { Fixtures.packageRoot + "/Tests/Fixtures/logs/" + file }
}

@Suite struct LogsTests {
    static let cases: [LogCase] = [
        // 0.3.13, -config: key=value on stdout.
        LogCase(
            file: "v0.3.13-replicating.log", verdict: .replicatingOnly,
            ordered: [.version, .database, .replicating, .generation, .snapshot, .walSegment, .shutdown]),
        LogCase(
            file: "v0.3.13-restored.log", verdict: .restored,
            ordered: [.restoreStarted, .restoreProgress, .restoreFinished, .version, .replicating, .generation, .snapshot, .walSegment],
            warning: "Litestream 0.3 always does this after a restore",
            reason: "renaming database from temporary location"),
        LogCase(
            file: "v0.3.13-fresh.log", verdict: .fresh,
            ordered: [.restoreNoBackup, .version, .replicating, .generation, .snapshot, .walSegment],
            reason: "no matching backups found"),
        LogCase(
            file: "v0.3.13-restore-failed.log", verdict: .failed, ordered: [.error],
            reason: "no snapshots available"),
        LogCase(
            file: "v0.3.13-boots.log", verdict: .restored,
            ordered: [.restoreStarted, .restoreFinished, .version, .generation, .snapshot],
            boots: [.fresh, .replicatingOnly, .restored],
            warning: "boot 3: the restore"),
        // 0.3.13 given a replica URL: Go's log text on stderr.
        LogCase(
            file: "v0.3.13-replicating-url.log", verdict: .replicatingOnly,
            ordered: [.version, .database, .replicating, .generation, .snapshot, .walSegment, .shutdown], format: .text),
        LogCase(
            file: "v0.3.13-restored-url.log", verdict: .restored,
            ordered: [.restoreStarted, .restoreFinished, .version, .replicating, .generation, .snapshot],
            warning: "new generation", format: .text),
        LogCase(
            file: "v0.3.13-fresh-url.log", verdict: .fresh,
            ordered: [.restoreNoBackup, .version, .replicating, .generation], format: .text),
        LogCase(
            file: "v0.3.13-restore-failed-url.log", verdict: .failed,
            ordered: [.restoreStarted, .restoreProgress, .error],
            reason: "the restore failed: line 3", format: .text),
        LogCase(
            file: "v0.3.13-restored-json.log", verdict: .restored,
            ordered: [.restoreStarted, .restoreFinished, .version, .replicating, .generation, .snapshot, .walSegment],
            warning: "new generation", format: .json),
        // 0.5.17.
        LogCase(
            file: "v0.5.17-replicating.log", verdict: .replicatingOnly,
            ordered: [.version, .database, .replicating, .shutdown], somewhere: [.snapshot, .compaction]),
        LogCase(
            file: "v0.5.17-replicating-debug.log", verdict: .replicatingOnly,
            ordered: [.version, .replicating, .ltxFile, .shutdown], somewhere: [.snapshot, .compaction]),
        // A plain 0.5 restore prints nothing when it succeeds: only "behind replica" hints at it.
        LogCase(
            file: "v0.5.17-restored.log", verdict: .replicatingOnly,
            ordered: [.version, .replicating, .behindReplica],
            warning: "found the database behind the replica"),
        LogCase(
            file: "v0.5.17-restored-integrity.log", verdict: .restored,
            ordered: [.restoreFinished, .version, .replicating, .behindReplica],
            reason: "post-restore integrity check passed"),
        LogCase(
            file: "v0.5.17-restored-replicate-flag.log", verdict: .restored,
            ordered: [.version, .restoreStarted, .restoreFinished, .database, .replicating, .behindReplica],
            reason: "restore completed"),
        LogCase(
            file: "v0.5.17-restored-json.log", verdict: .restored,
            ordered: [.version, .restoreStarted, .restoreFinished, .replicating], format: .json),
        LogCase(
            file: "v0.5.17-restored-pretty.log", verdict: .restored,
            ordered: [.version, .restoreStarted, .restoreFinished, .replicating], format: .pretty),
        LogCase(
            file: "v0.5.17-fresh.log", verdict: .fresh,
            ordered: [.restoreNoBackup, .version, .replicating], reason: "no matching backups found"),
        LogCase(
            file: "v0.5.17-fresh-replicate-flag.log", verdict: .fresh,
            ordered: [.version, .restoreStarted, .restoreNoBackup, .database, .replicating],
            reason: "no backup found, starting fresh"),
        LogCase(
            file: "v0.5.17-restore-failed.log", verdict: .failed, ordered: [.error],
            reason: "invalid ltx file", format: .errorLine),
        LogCase(
            file: "v0.5.17-restore-failed-replicate-flag.log", verdict: .failed,
            ordered: [.version, .restoreStarted, .error], reason: "the restore failed: line 3"),
        LogCase(
            file: "v0.5.17-boots.log", verdict: .restored,
            ordered: [.version, .restoreStarted, .restoreFinished, .replicating],
            boots: [.fresh, .replicatingOnly, .restored]),
    ]

    @Test func everyCapturedLogHasACase() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.packageRoot + "/Tests/Fixtures/logs")
            .filter { $0.hasSuffix(".log") }
        #expect(Set(files) == Set(Self.cases.map(\.file)))
    }

    @Test(arguments: cases)
    func realLog(_ c: LogCase) throws {
        let report = try LogReport.make(path: c.path)
        #expect(report.verdict == c.verdict, "\(report.reason)")
        let last = report.events.filter { $0.boot == report.boots.count }
        #expect(isSubsequence(c.ordered, of: last.map(\.kind)), "\(last.map(\.kind.rawValue))")
        for k in c.somewhere { #expect(last.contains { $0.kind == k }, "no \(k.rawValue)") }
        if let boots = c.boots {
            #expect(report.boots.map(\.verdict) == boots)
        } else {
            #expect(report.boots.count == 1)
        }
        if let w = c.warning {
            #expect(report.warnings.contains { $0.contains(w) }, "\(report.warnings)")
        } else {
            #expect(report.warnings.isEmpty, "\(report.warnings)")
        }
        if let r = c.reason { #expect(report.reason.contains(r), "\(report.reason)") }
        #expect(report.formats.contains(c.format))
        // Litestream's own lines all carry a time, except 0.5's `Error:`.
        for e in report.events where e.format != .errorLine { #expect(e.time != nil) }
        let text = report.renderText()
        #expect(text.hasPrefix(["restored": "RESTORED", "fresh": "FRESH", "replicating-only": "REPLICATING ONLY", "failed": "FAILED"][c.verdict.rawValue]!))
    }

    /// Every line of a captured log is Litestream's, so every one must parse (whether or not it is evidence).
    @Test(arguments: cases)
    func everyLineParses(_ c: LogCase) throws {
        let lines = try String(contentsOfFile: c.path, encoding: .utf8).split(separator: "\n")
        for (i, line) in lines.enumerated() {
            #expect(LogReader.parseLine(Array(line.utf8)) != nil, "line \(i + 1): \(line)")
        }
    }

    @Test func replicatingToAndCountsOfAReal03Boot() throws {
        let report = try LogReport.make(path: Fixtures.packageRoot + "/Tests/Fixtures/logs/v0.3.13-restored.log")
        let boot = report.lastBoot
        #expect(boot.version == "v0.3.13")
        #expect(boot.replicatingTo.count == 1 && boot.replicatingTo[0].hasPrefix("file /") && boot.replicatingTo[0].hasSuffix("/a-replica"))
        #expect(boot.databases.count == 1 && boot.databases[0].hasSuffix("/a/app.db"))
        #expect(boot.snapshots == 1)
        #expect(boot.walSegments >= 2)
        #expect(boot.stopped)
        let started = try #require(report.events.first { $0.kind == .restoreStarted })
        #expect(boot.restoredGeneration == started.fields["generation"])
        let gen = try #require(report.events.first { $0.kind == .generation })
        #expect(gen.fields["reason"] == "no generation exists")
        #expect(gen.fields["generation"] != started.fields["generation"])
        #expect(boot.newGenerations == ["\(gen.fields["generation"]!) (no generation exists)"])
        #expect(report.warnings.count == 1)
        #expect(report.warnings[0].contains("-generation \(started.fields["generation"]!)"))
    }

    @Test func jsonLogsKeepBothLevelsAndFlattenObjects() throws {
        let report = try LogReport.make(path: Fixtures.packageRoot + "/Tests/Fixtures/logs/v0.5.17-restored-json.log")
        let version = try #require(report.events.first { $0.kind == .version })
        #expect(version.level == "INFO")
        #expect(version.fields["version"] == "0.5.17")
        #expect(version.fields["level"] == "")
        let compaction = try #require(report.events.first { $0.kind == .compaction })
        #expect(compaction.fields["txid.min"]?.count == 16)
        #expect(compaction.fields["level"] != nil)
    }
}

private func isSubsequence(_ needle: [LogEvent.Kind], of hay: [LogEvent.Kind]) -> Bool {
    var i = 0
    for k in hay where i < needle.count && needle[i] == k { i += 1 }
    return i == needle.count
}
