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

    // MARK: - Platform prefixes and the application's lines

    /// How platforms prefix a line (fly logs, heroku logs, docker compose, journald).
    static let prefixes: [(name: String, make: @Sendable (Int) -> String)] = [
        ("fly", { i in "2026-11-27T03:23:\(String(format: "%02d", i % 60))Z app[6e82d4e1f23487] iad [info]" }),
        ("heroku", { i in "2026-11-27T03:23:\(String(format: "%02d", i % 60)).426123+00:00 app[web.1]: " }),
        ("compose", { _ in "web-1  | " }),
        ("journald", { i in "Nov 27 03:23:\(String(format: "%02d", i % 60)) host litestream[812]: " }),
    ]

    /// The application's lines, some shaped like Litestream's: none may count as evidence.
    static let appLines = [
        "Listening on http://0.0.0.0:8080",
        "GET /notes 200 3.2ms",
        "time=2026-11-27T03:23:48.000Z level=INFO msg=\"request served\" path=/notes status=200",
        "time=2026-11-27T03:23:48.100Z level=ERROR msg=\"payment declined\" user=42",
        "time=2026-11-27T03:23:48.150Z level=ERROR msg=\"async job failed\" job=mailer",
        "{\"time\":\"2026-11-27T03:23:48.2Z\",\"level\":\"WARN\",\"msg\":\"slow request\",\"ms\":1200}",
        "Error: card declined",
        "Error: database is locked",
        "\u{1B}[32m03:23:48 INF\u{1B}[0m cache warmed entries=12",
    ]

    static let prefixedCases = [
        "v0.3.13-restored.log", "v0.3.13-restored-url.log", "v0.3.13-restore-failed.log", "v0.5.17-restored-replicate-flag.log",
        "v0.5.17-restore-failed-replicate-flag.log", "v0.5.17-restore-failed.log", "v0.5.17-restored-json.log", "v0.5.17-boots.log",
    ]

    /// A real log with every line behind a platform's prefix and the application's lines between
    /// Litestream's: the same events and verdict as the log itself.
    @Test(arguments: prefixedCases, 0..<4)
    func prefixedAndInterleaved(_ file: String, _ style: Int) throws {
        let path = Fixtures.packageRoot + "/Tests/Fixtures/logs/" + file
        let original = try LogReport.make(path: path)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let prefix = Self.prefixes[style]
        var out: [String] = []
        for (i, line) in lines.enumerated() where !line.isEmpty {
            // The application starts once Litestream replicates (it runs under `replicate -exec`).
            if i > 0 && original.events.contains(where: { $0.line <= i && $0.kind == .replicating }) {
                out.append(prefix.make(i) + Self.appLines[i % Self.appLines.count])
            }
            out.append(prefix.make(i) + line)
        }
        let text = out.joined(separator: style == 1 ? "\r\n" : "\n") + "\n"
        let report = try LogReport(scan: LogReader.scan(text), input: "-")
        #expect(report.verdict == original.verdict, "\(report.reason)")
        #expect(report.events.map(\.kind) == original.events.map(\.kind))
        #expect(report.events.map(\.message) == original.events.map(\.message))
        #expect(report.boots.map(\.verdict) == original.boots.map(\.verdict))
        #expect(report.warnings.count == original.warnings.count)
        for (a, b) in zip(report.events, original.events) {
            #expect(a.fields == b.fields)
            if b.time != nil { #expect(a.time == b.time) }
        }
        // 0.5's `Error:` line has no time of its own: the platform's ISO 8601 time is used.
        if let e = report.events.first(where: { $0.format == .errorLine }) {
            if style < 2 { #expect(e.time?.hasPrefix("2026-11-27T03:23:") == true) } else { #expect(e.time == nil) }
        }
    }

    /// A replicate process that stops without logging it (killed, crashed), then the next boot's
    /// 0.5 restore fails: the failure is the last boot, the application's `Error:` lines are not.
    @Test func restoreFailureAfterAnUnloggedStop() throws {
        let dir = Fixtures.packageRoot + "/Tests/Fixtures/logs/"
        let running = try String(contentsOfFile: dir + "v0.5.17-replicating.log", encoding: .utf8)
            .split(separator: "\n").filter { !$0.contains("shut") }
        let failed = try String(contentsOfFile: dir + "v0.5.17-restore-failed.log", encoding: .utf8)
        var lines = running.map(String.init)
        lines.insert("Error: database is locked", at: 4)
        let report = try LogReport(scan: LogReader.scan(lines.joined(separator: "\n") + "\n" + failed), input: "-")
        #expect(report.boots.map(\.verdict) == [.replicatingOnly, .failed])
        #expect(report.verdict == .failed)
        #expect(report.reason.contains("the restore failed"))
        #expect(!report.events.contains { $0.message == "database is locked" })
    }

    /// 0.3: a restore that fails and a replicate that runs anyway (a boot script without `set -e`).
    @Test func replicateAfterAFailedRestoreIsStillFailed() throws {
        let dir = Fixtures.packageRoot + "/Tests/Fixtures/logs/"
        let text =
            try String(contentsOfFile: dir + "v0.3.13-restore-failed.log", encoding: .utf8)
            + String(contentsOfFile: dir + "v0.3.13-replicating.log", encoding: .utf8)
        let report = try LogReport(scan: LogReader.scan(text), input: "-")
        #expect(report.boots.count == 1)
        #expect(report.verdict == .failed)
        #expect(report.warnings.contains { $0.contains("replicated anyway after the failed restore") })
    }

    @Test func freshAfterAnEarlierBootReplicatedIsAWarning() throws {
        let dir = Fixtures.packageRoot + "/Tests/Fixtures/logs/"
        let first = try String(contentsOfFile: dir + "v0.5.17-fresh-replicate-flag.log", encoding: .utf8)
        let report = try LogReport(scan: LogReader.scan(first + first), input: "-")
        #expect(report.boots.map(\.verdict) == [.fresh, .fresh])
        #expect(report.warnings.contains { $0.hasPrefix("boot 2: no backup was found, although boot 1 replicated") })
    }

    // MARK: - Line shapes

    @Test func goQuotedValuesAndKeysAfterTheMessage() throws {
        let scan = LogReader.scan(#"2026/11/27 03:24:49 ERROR failed to run error="cannot \"open\" x\ty" db=/a b"# + "\n")
        let e = try #require(scan.events.first)
        #expect(e.kind == .error && e.isFatal)
        #expect(e.fields["error"] == "cannot \"open\" x\ty")
        #expect(e.fields["db"] == "/a")
        #expect(e.format == .text)
    }

    @Test func applicationLinesAloneAreNotALitestreamLog() throws {
        let text = Self.appLines.joined(separator: "\n")
        // `Error: database is locked` has 0.5's shape; only the boot logic can drop it.
        #expect(LogReader.scan(text).events.allSatisfy { $0.format == .errorLine })
        #expect(throws: LiteProofError.self) { try LogReport(scan: LogReader.scan(text), input: "app.log") }
    }

    // MARK: - Hostile lines

    /// Lines made to be slow or deep: each must be read in well under the bound, and none is Litestream's.
    static let hostileLines: [(name: String, make: @Sendable (Int) -> [UInt8])] = [
        ("nested JSON objects", { n in Array(String(repeating: #"{"a":"#, count: n / 5).utf8) }),
        ("nested JSON arrays", { n in Array(String(repeating: #"{"a":["#, count: n / 6).utf8) }),
        ("time=x repeated", { n in Array(String(repeating: "time=x ", count: n / 7).utf8) }),
        ("time= without spaces", { n in Array(String(repeating: ".time=", count: n / 6).utf8) }),
        ("an unterminated quote", { n in Array(("time=1 level=INFO message=\"" + String(repeating: #"\" time=\""#, count: n / 10)).utf8) }),
        (
            "a long key over many pairs",
            { n in Array(("{\"" + String(repeating: "k", count: 100) + "\":{" + String(repeating: #""a":1,"#, count: (n - 200) / 6) + "}}").utf8) }
        ),
        ("digits after a time", { n in Array(("00:00:00." + String(repeating: "0", count: n) + " INF x").utf8) }),
    ]

    /// Just under the line limit, each hostile line is parsed (not skipped) in bounded time: no deep
    /// recursion, no work that grows with the square of the length.
    @Test(arguments: 0..<hostileLines.count)
    func hostileLinesAreReadInBoundedTime(_ k: Int) throws {
        let (name, make) = Self.hostileLines[k]
        let line = make(LogReader.maxLineLength - 64)
        #expect(line.count <= LogReader.maxLineLength && line.count > LogReader.maxLineLength / 2)
        let clock = ContinuousClock()
        let start = clock.now
        let raw = LogReader.parseLine(line)
        let elapsed = clock.now - start
        #expect(elapsed < .seconds(5), "\(name): \(elapsed)")
        // `digits after a time` is a well-formed pretty line; the others are not Litestream's.
        if k == Self.hostileLines.count - 1 {
            #expect(raw?.format == .pretty && raw?.message == "x")
        } else {
            #expect(raw == nil, "\(name)")
        }
    }

    /// A real log with hostile lines between Litestream's: the same verdict and events, quickly;
    /// the line over the limit is named in a warning and left unread.
    @Test func hostileLinesInARealLogChangeNothing() throws {
        let path = Fixtures.packageRoot + "/Tests/Fixtures/logs/v0.3.13-restored.log"
        let original = try LogReport.make(path: path)
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { Array($0.utf8) }
        let huge = Array(String(repeating: #"{"a":"#, count: 300_000).utf8)  // 1.5 MB: over the limit
        lines.insert(huge, at: 2)
        for (i, h) in Self.hostileLines.enumerated().dropLast() { lines.insert(h.make(200_000), at: 4 + i) }
        let text = Array(lines.joined(separator: [0x0A]))
        let clock = ContinuousClock()
        let start = clock.now
        let report = try LogReport(scan: LogReader.scan(text), input: "-")
        #expect(clock.now - start < .seconds(5))
        #expect(report.verdict == original.verdict)
        #expect(report.events.map(\.kind) == original.events.map(\.kind))
        #expect(report.events.map(\.message) == original.events.map(\.message))
        #expect(report.skippedLines == [LogScan.SkippedLine(line: 3, bytes: huge.count)])
        #expect(report.warnings.count == original.warnings.count + 1)
        #expect(report.warnings.last == "line 3 (\(huge.count) bytes) is longer than 1 MiB and was not read")
        #expect(report.linesRead == lines.count)
    }

    /// `liteproof logs` on a file of one 48 MiB line: it reads it in chunks (never holding it),
    /// reports the line as skipped and exits 2 (no Litestream line), in bounded time and memory.
    @Test func cliSkipsAHugeLineInBoundedMemory() throws {
        let dir = try rigTempDir("logs-huge")
        let file = dir + "/huge.log"
        let unit = Array(#"{"a":"#.utf8)
        let size = 48 << 20
        var chunk: [UInt8] = []
        for _ in 0..<((1 << 20) / unit.count) { chunk += unit }
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        var written = 0
        while written < size {
            try h.write(contentsOf: chunk)
            written += chunk.count
        }
        try h.close()
        let clock = ContinuousClock()
        let start = clock.now
        let r = try runMeasured(["logs", "--json", file])
        #expect(clock.now - start < .seconds(20))
        #expect(r.result.status == 2, "\(r.result.stderr)")
        #expect(r.result.stdout.contains("no Litestream log lines found"))
        #expect(r.result.stdout.contains("line 1 (\(written) bytes) is longer than 1 MiB and was not read"))
        if let kb = r.peakKB { #expect(kb < 40_000, "peak \(kb) KB for a \(written)-byte line") }
    }

    /// A log of many short boots is judged in time that follows its length.
    @Test func manyBootsAreJudgedQuickly() throws {
        let fresh = #"time=2026-11-27T03:21:40.000Z level=INFO msg="no matching backups found""#
        let text = Array(repeating: fresh, count: 20_000).joined(separator: "\n")
        let clock = ContinuousClock()
        let start = clock.now
        let report = try LogReport(scan: LogReader.scan(text), input: "-")
        #expect(clock.now - start < .seconds(5))
        #expect(report.boots.count == 20_000)
        #expect(report.verdict == .fresh)
    }

    /// Control characters Litestream's quoting decodes (or a log holds raw) are escaped in the
    /// text, so a field cannot print a line of its own; JSON keeps them.
    @Test func textEscapesControlCharactersFromTheLog() throws {
        let dir = Fixtures.packageRoot + "/Tests/Fixtures/logs/"
        let forged = "RESTORED: the database came from the replica"
        let line =
            #"time=2026-11-27T03:24:49.000Z level=ERROR msg="failed to run" error="cannot open db\n"#
            + forged + #"\x1b[2K" db=/data/app.db"#
        let log = try String(contentsOfFile: dir + "v0.3.13-restore-failed.log", encoding: .utf8) + line + "\n"
        let report = try LogReport(scan: LogReader.scan(log), input: "-")
        let event = try #require(report.events.last)
        #expect(event.errorText == "cannot open db\n" + forged + "\u{1B}[2K")
        let text = report.renderText()
        #expect(!text.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix(forged) })
        #expect(text.contains(#"cannot open db\n"# + forged + #"\u{1b}[2K"#))
        #expect(!text.contains("\u{1B}"))
        #expect(JSONOutput.encode(report).contains(#"cannot open db\n"# + forged + #"\u001b[2K"#))
    }

    // MARK: - Command line

    @Test func cliVerdictsAndExitCodes() throws {
        let dir = Fixtures.packageRoot + "/Tests/Fixtures/logs/"
        let ok = try runLiteProof(["logs", dir + "v0.3.13-restored.log"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.hasPrefix("RESTORED"))
        #expect(ok.stdout.contains("warnings:"))
        let failed = try runLiteProof(["logs", dir + "v0.5.17-restore-failed-replicate-flag.log"])
        #expect(failed.status == 1)
        #expect(failed.stdout.hasPrefix("FAILED: the restore failed"))
        let json = try runLiteProof(["logs", "--json", dir + "v0.3.13-boots.log"])
        #expect(json.status == 0)
        let obj = try LiteProofTests.json(json.stdout)
        #expect(obj["verdict"] as? String == "restored")
        #expect((obj["boots"] as? [[String: Any]])?.map { $0["verdict"] as? String } == ["fresh", "replicating-only", "restored"])
        let events = try #require(obj["events"] as? [[String: Any]])
        #expect(events.allSatisfy { $0["time"] != nil && $0["kind"] is String && $0["message"] is String && $0["fields"] is [String: Any] })
        #expect((obj["warnings"] as? [String])?.count == 1)
    }

    @Test func cliCouldNotRunExitsTwo() throws {
        let missing = try runLiteProof(["logs", "/nonexistent/litestream.log"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no such file"))
        let folder = try runLiteProof(["logs", Fixtures.packageRoot + "/Tests/Fixtures/logs"])
        #expect(folder.status == 2)
        let dir = try rigTempDir("logs-app")
        try Self.appLines.joined(separator: "\n").write(toFile: dir + "/app.log", atomically: true, encoding: .utf8)
        let none = try runLiteProof(["logs", "--json", dir + "/app.log"])
        #expect(none.status == 2)
        #expect(none.stdout.contains("no Litestream log lines found"))
    }

    @Test func cliReadsStandardInput() throws {
        let dir = Fixtures.packageRoot + "/Tests/Fixtures/logs/"
        for (file, status, verdict) in [("v0.5.17-fresh.log", 0, "fresh"), ("v0.3.13-restore-failed-url.log", 1, "failed")] {
            let r = try runLiteProof(["logs", "--json", "-"], stdin: dir + file)
            #expect(r.status == Int32(status), "\(r.stderr)")
            let obj = try LiteProofTests.json(r.stdout)
            #expect(obj["verdict"] as? String == verdict)
            #expect(obj["input"] as? String == "-")
        }
        let text = try runLiteProof(["logs", "-"], stdin: dir + "v0.5.17-restored.log")
        #expect(text.status == 0)
        #expect(text.stdout.contains("input: standard input"))
    }

    @Test func helpTeachesVerdictsAndExitCodes() throws {
        let r = try runLiteProof(["logs", "--help"])
        #expect(r.status == 0)
        for word in [
            "restored", "fresh", "replicating-only", "failed", "temporary location", "no matching backups found", "restore completed", "Exit codes",
            "standard input",
        ] {
            #expect(r.stdout.contains(word), "help lacks \(word)")
        }
        let root = try runLiteProof(["--help"])
        #expect(root.stdout.contains("logs"))
    }
}

private func isSubsequence(_ needle: [LogEvent.Kind], of hay: [LogEvent.Kind]) -> Bool {
    var i = 0
    for k in hay where i < needle.count && needle[i] == k { i += 1 }
    return i == needle.count
}

/// Runs the `liteproof` executable with standard input read from `stdin`.
private func runLiteProof(_ args: [String], stdin: String) throws -> CommandResult {
    let dir = try rigTempDir("cli-stdin")
    let outPath = dir + "/stdout", errPath = dir + "/stderr"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: liteproofBinary())
    p.arguments = args
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdin))
    try p.run()
    p.waitUntilExit()
    return CommandResult(
        status: p.terminationStatus,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// Runs the `liteproof` executable under `/usr/bin/time` when there is one, for its peak memory (KB).
private func runMeasured(_ args: [String]) throws -> (result: CommandResult, peakKB: Int?) {
    let time = "/usr/bin/time"
    guard FileManager.default.isExecutableFile(atPath: time) else { return (try runLiteProof(args), nil) }
    let dir = try rigTempDir("cli-time")
    let rss = dir + "/rss"
    let outPath = dir + "/stdout", errPath = dir + "/stderr"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: time)
    p.arguments = ["-f", "%M", "-o", rss, liteproofBinary()] + args
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    p.standardInput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    let result = CommandResult(
        status: p.terminationStatus,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    let kb = (try? String(contentsOfFile: rss, encoding: .utf8))?.split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    return (result, kb)
}
