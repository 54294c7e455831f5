import Foundation
import Testing

@testable import LiteProof

extension LogsTests {
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
}
