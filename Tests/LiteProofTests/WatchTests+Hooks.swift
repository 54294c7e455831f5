import Foundation
import LiteProof
import LiteProofS3
import Testing

extension WatchTests {
    /// `watch --db` runs the deep check at the first round and prints it in the round event;
    /// `--on-change` gets the change in its environment; a command that hangs is killed after
    /// `--on-change-timeout` and one that fails is a warning, and neither stops the watcher.
    @Test func commandDeepCheckAndOnChange() throws {
        let dir = try WatchFixtures.replica(.v03)
        let db = URL(fileURLWithPath: dir).deletingLastPathComponent().path + "/app.db"
        let envFile = try rigTempDir("watch-hook") + "/env"
        let r = try runLiteProof(["watch", dir, "--db", db, "--rounds", "1", "--json", "--on-change", "env | grep '^LITEPROOF_' | sort > '\(envFile)'"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let events = try r.stdout.split(separator: "\n").map { try json(String($0)) }
        #expect(events.map { $0["event"] as? String } == ["round", "verdict-changed"])
        let deep = try #require(events.first?["deepCheck"] as? [String: Any], "\(r.stdout)")
        #expect(deep["check"] as? String == "ok")
        #expect(["identical", "lagging"].contains(deep["compare"] as? String ?? ""), "\(deep)")
        #expect(events.first?["restoreCheckSeconds"] is Double)
        let env = try String(contentsOfFile: envFile, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(env.count == 4, "\(env)")
        #expect(env.contains("LITEPROOF_DATABASE=\(dir)"))
        #expect(env.contains("LITEPROOF_FROM=start") && env.contains("LITEPROOF_TO=ok"))
        #expect(env.contains { $0.hasPrefix("LITEPROOF_REASON=latest position ") }, "\(env)")

        // Two replicas, one --db: it goes with the first; the second is deep-checked without a compare.
        let other = try WatchFixtures.replica(.v05)
        let two = try runLiteProof(["watch", dir, other, "--db", db, "--rounds", "1", "--json"])
        #expect(two.status == 0, "\(two.stdout)\(two.stderr)")
        let rounds = try two.stdout.split(separator: "\n").map { try json(String($0)) }.filter { $0["event"] as? String == "round" }
        #expect(rounds.map { $0["database"] as? String } == [dir, other])
        #expect((rounds.first?["deepCheck"] as? [String: Any])?["compare"] != nil)
        #expect((rounds.last?["deepCheck"] as? [String: Any])?["check"] as? String == "ok")
        #expect((rounds.last?["deepCheck"] as? [String: Any])?["compare"] == nil)

        let started = Date()
        let hang = try runLiteProof(["watch", dir, "--rounds", "1", "--restore-every", "0", "--on-change", "sleep 60", "--on-change-timeout", "0.5"])
        #expect(hang.status == 0, "\(hang.stderr)")
        #expect(hang.stderr.contains("ran longer than"), "\(hang.stderr)")
        #expect(Date().timeIntervalSince(started) < 20)
        let failing = try runLiteProof(["watch", dir, "--rounds", "1", "--restore-every", "0", "--on-change", "echo hook-ran; exit 3"])
        #expect(failing.status == 0)
        #expect(failing.stderr.contains("hook-ran") && failing.stderr.contains("the command exited 3"), "\(failing.stderr)")
        #expect(!failing.stdout.contains("hook-ran"))

        #expect(try runLiteProof(["watch", dir, "--canary-every", "10"]).status == 2)
        #expect(try runLiteProof(["watch", dir, "--db", db, "--db", db]).status == 2)
    }

    /// SIGTERM while an --on-change command hangs: the command's group is killed and the watch
    /// ends promptly with exit 0.
    @Test func sigtermDuringOnChangeEndsPromptly() throws {
        let dir = try WatchFixtures.replica(.v05)
        let work = try rigTempDir("watch-hook-term")
        let marker = work + "/hook-started"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: liteproofBinary())
        p.arguments = ["watch", dir, "--interval", "600", "--on-change", "touch '\(marker)'; sleep 60", "--on-change-timeout", "600"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer {
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
        try waitUntil("the --on-change command", timeout: 60) { FileManager.default.fileExists(atPath: marker) }
        let sent = Date()
        p.terminate()
        // Far below what waiting would take (the 600 s interval, the hook's 60 s), far above
        // what a loaded machine may take to stop a process and notice it.
        try waitUntil("the watcher to exit", timeout: 30) { !p.isRunning }
        #expect(Date().timeIntervalSince(sent) < 20)
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
    }

    /// A store that goes away (the proxy in front of the S3 server stopped): unreadable rounds,
    /// never damage, backing off 2 then 4 intervals; when it is back, the next round is ok and
    /// reads nothing new.
    @Test func storageOutageBacksOffAndRecovers() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let (direct, _, _) = try await S3LiveTests().makeV05Replica(moto, prefix: "app")
        let proxies = Locked<[FaultProxy]>([try FaultProxy(upstream: moto.port, mode: "pass")])
        defer { proxies.update { for p in $0 { p.stop() } } }
        let port = proxies.update { $0[0].port }
        let url = direct.replacingOccurrences(of: "127.0.0.1:\(moto.port)", with: "127.0.0.1:\(port)")
        var env = moto.environment
        env["LITEPROOF_S3_ATTEMPTS"] = "1"
        let environment = env
        let w = Watcher(database: url) { try Replica.open(storage: try S3Storage(url: url, environment: environment, notes: { _ in })) }
        let r1 = w.round()
        #expect(r1.verdict == .ok, "\(r1.reason)")
        #expect(r1.backoffIntervals == nil)

        proxies.update { $0[0].stop() }
        let r2 = w.round()
        #expect(r2.verdict == .unreadable && r2.health == .unreadable)
        #expect(r2.findings.isEmpty, "\(r2.findings)")
        #expect(r2.reason.hasPrefix("unreachable"), "\(r2.reason)")
        #expect(r2.backoffIntervals == 2)
        #expect(!w.isDue() && w.isDue())
        let r3 = w.round()
        #expect(r3.verdict == .unreadable)
        #expect(r3.backoffIntervals == 4)
        #expect((0..<3).map { _ in w.isDue() } == [false, false, false])
        #expect(w.isDue())

        let back = try FaultProxy(upstream: moto.port, mode: "pass", port: port)
        proxies.update { $0.append(back) }
        let r4 = w.round()
        #expect(r4.verdict == .ok, "\(r4.reason)")
        #expect(r4.backoffIntervals == nil)
        #expect(r4.filesChecked == 0)
        #expect(w.isDue())
    }
}
