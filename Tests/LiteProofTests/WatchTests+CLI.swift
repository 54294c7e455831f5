import Foundation
import LiteProof
import Testing

extension WatchTests {
    /// `liteproof watch --rounds 2 --json`: JSON Lines (two round events, one verdict change),
    /// the second round reading nothing, exit 0; `--max-lag` turns an old replica unhealthy.
    @Test func commandPrintsJSONLines() throws {
        let dir = try WatchFixtures.replica(.v03)
        let state = try rigTempDir("watch-cli") + "/state"
        let r = try runLiteProof(["watch", dir, "--rounds", "2", "--interval", "0.2", "--json", "--state", state])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let events = try r.stdout.split(separator: "\n").map { try json(String($0)) }
        #expect(events.map { $0["event"] as? String } == ["round", "verdict-changed", "round"])
        #expect(events.allSatisfy { $0["database"] as? String == dir })
        #expect(events[0]["verdict"] as? String == "ok" && events[2]["verdict"] as? String == "ok")
        #expect(events[1]["to"] as? String == "ok")
        #expect((events[0]["filesChecked"] as? Int ?? 0) > 0)
        #expect(events[2]["filesChecked"] as? Int == 0)
        #expect((try FileManager.default.contentsOfDirectory(atPath: state)).filter { $0.hasSuffix(".json") }.count == 1)

        let stale = try runLiteProof(["watch", dir, "--rounds", "1", "--max-lag", "0.001"])
        #expect(stale.status == 1, "\(stale.stdout)\(stale.stderr)")
        #expect(stale.stdout.contains("start -> failed: the latest position is"))
        let bad = try runLiteProof(["watch", dir, "--interval", "0"])
        #expect(bad.status == 2)
    }

    /// Text output: a status line per round with --verbose, a line per change of verdict, and
    /// `--metrics-file` written each round with the replica's verdict and freshness gauges.
    @Test func commandTextAndMetricsFile() throws {
        let dir = try WatchFixtures.replica(.v05)
        let metrics = try rigTempDir("watch-metrics") + "/watch.prom"
        let r = try runLiteProof(["watch", dir, "--rounds", "2", "--interval", "0.1", "--verbose", "--metrics-file", metrics])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines[0].contains("\(dir) round 1 ok:") && lines[0].contains("files read"))
        #expect(lines[1].contains("\(dir) start -> ok: latest position"))
        #expect(lines[2].contains("round 2 ok: 0 of"))
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(text.contains("liteproof_verdict{database=\"\(dir)\"} 0"), "\(text)")
        #expect(text.contains("liteproof_latest_position_age_seconds{database=\"\(dir)\"}"))
    }

    /// SIGTERM while the watcher sleeps between rounds: it ends within about a second, exit 0,
    /// with a complete state file.
    @Test func sigtermEndsTheWatchPromptly() throws {
        let dir = try WatchFixtures.replica(.v05)
        let work = try rigTempDir("watch-term")
        let out = work + "/stdout"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: liteproofBinary())
        p.arguments = ["watch", dir, "--interval", "600", "--json", "--state", work + "/state"]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer {
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
        try waitUntil("the first round", timeout: 60) { ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").contains("\"event\":\"round\"") }
        let sent = Date()
        p.terminate()
        // Far below what waiting would take (the 600 s interval, the hook's 60 s), far above
        // what a loaded machine may take to stop a process and notice it.
        try waitUntil("the watcher to exit", timeout: 30) { !p.isRunning }
        #expect(Date().timeIntervalSince(sent) < 20)
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
        let stateFile = WatchState.path(in: work + "/state", replica: dir)
        let loaded = WatchState.load(from: stateFile, replica: dir, listed: listedFiles(dir))
        #expect(loaded.warning == nil)
        #expect(loaded.state?.rounds == 1)
        #expect(loaded.state?.files.count == listedFiles(dir).count)
    }
}
