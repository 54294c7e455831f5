import Foundation
import Testing

@testable import LiteProof

extension LogsTests {
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
