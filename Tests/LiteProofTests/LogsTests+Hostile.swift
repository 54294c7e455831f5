import Foundation
import Testing

@testable import LiteProof

extension LogsTests {
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
