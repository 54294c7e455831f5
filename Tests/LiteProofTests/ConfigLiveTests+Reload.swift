import Foundation
import LiteProof
import Testing

extension ConfigLiveTests {
    /// SIGHUP on `watch --config`: a database added starts (its round event arrives), a file
    /// that cannot be read keeps the running set with a warning, a database removed stops.
    /// Replicas made by real Litestream (shared with WatchTests).
    @Test func sighupReloadsTheConfiguration() throws {
        let a = try WatchFixtures.replica(.v05), b = try WatchFixtures.replica(.v03)
        let dbA = (a as NSString).deletingLastPathComponent + "/app.db", dbB = (b as NSString).deletingLastPathComponent + "/app.db"
        let work = try rigTempDir("config-hup")
        let config = work + "/litestream.yml"
        func writeConfig(_ dbs: [(String, String)]) throws {
            let text = "dbs:\n" + dbs.map { "  - path: \($0.0)\n    replica:\n      path: \($0.1)\n" }.joined()
            try text.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try writeConfig([(dbA, a)])
        let out = work + "/stdout", err = work + "/stderr"
        for f in [out, err] { _ = FileManager.default.createFile(atPath: f, contents: nil) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: liteproofBinary())
        p.arguments = ["watch", "--config", config, "--interval", "600", "--json", "--state", work + "/state"]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try p.run()
        defer {
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
        func events() -> [[String: Any]] {
            ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? json(String($0)) }
        }
        func rounds(_ db: String) -> Int { events().filter { $0["event"] as? String == "round" && $0["database"] as? String == db }.count }
        try waitUntil("the first round of \(dbA)", timeout: 60) { rounds(dbA) == 1 }
        #expect(rounds(dbB) == 0)

        try writeConfig([(dbA, a), (dbB, b)])
        kill(p.processIdentifier, SIGHUP)
        try waitUntil("a round of the added \(dbB)", timeout: 60) { rounds(dbB) == 1 }
        let added = events().first { $0["event"] as? String == "config-reloaded" }
        #expect(added?["added"] as? [String] == [dbB] && (added?["removed"] as? [String])?.isEmpty == true)
        #expect(events().contains { $0["event"] as? String == "round" && $0["database"] as? String == dbB && $0["verdict"] as? String == "ok" })

        try "dbs: [".write(toFile: config, atomically: true, encoding: .utf8)
        kill(p.processIdentifier, SIGHUP)
        try waitUntil("the warning about the unreadable file", timeout: 30) {
            ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").contains("cannot re-read \(config)")
        }
        try waitUntil("the next round of both", timeout: 30) { rounds(dbA) == 3 && rounds(dbB) == 2 }

        try writeConfig([(dbB, b)])
        kill(p.processIdentifier, SIGHUP)
        try waitUntil("the removal", timeout: 30) {
            events().contains { $0["event"] as? String == "config-reloaded" && $0["removed"] as? [String] == [dbA] }
        }
        try waitUntil("the round after the removal", timeout: 30) { rounds(dbB) == 3 }
        #expect(rounds(dbA) == 3, "a removed database was watched again")
        #expect(p.isRunning)
        p.terminate()
        try waitUntil("the watcher to exit", timeout: 10) { !p.isRunning }
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
    }

    /// Configuration files that are not Litestream's, or are hostile: each a usage error (exit
    /// 2) with a message naming the file and what was wrong, within seconds.
    @Test func hostileConfigurationFiles() throws {
        let dir = try rigTempDir("config-hostile")
        var laughs = "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
        for i in 1..<10 { laughs += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n" }
        var merges = "m0: &m0 {k0: 1}\n"
        for i in 1..<30 { merges += "m\(i): &m\(i) {<<: [*m\(i - 1), *m\(i - 1)]}\n" }
        let cases: [(name: String, text: String?, message: String)] = [
            ("not-yaml", "dbs: [\n  - path: {", "is not YAML"),
            ("binary", "\u{1}\u{2}\u{3}dbs\u{0}", "is not YAML"),
            ("billion-laughs", laughs + "dbs: *a9\n", "is a list; expected a mapping"),
            ("laughs-in-dbs", laughs + "dbs: [*a9]\n", "dbs[0] (line 10) is a list; expected a mapping"),
            ("merge-bomb", merges + "dbs:\n  - <<: *m29\n    path: /db\n", "more than 100000 values once its aliases are followed"),
            ("alias-key", laughs + "*a9 : 1\ndbs: []\n", "an alias used as a mapping key"),
            ("complex-key", "? [a, b]\n: 1\n", "a complex mapping key"),
            ("deep", "dbs: " + String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000), "nested more than 64 levels"),
            ("compact", "dbs:\n" + String(repeating: "- ", count: 50_000) + "x\n", "nested more than 64 levels"),
            ("unknown-type", "dbs:\n  - path: /db\n    replica:\n      type: carrier-pigeon\n", "unknown replica type \"carrier-pigeon\""),
            ("abs", "dbs:\n  - path: /db\n    replica:\n      url: abs://account@container/db\n", "the replica type abs, which LiteProof does not read yet"),
            ("huge", nil, "is 104857600 bytes; LiteProof reads one of at most 1048576 bytes"),
            ("missing", nil, "cannot read the configuration"),
            ("fifo", nil, "not a regular file"),
        ]
        for c in cases {
            let path = dir + "/" + c.name + ".yml"
            switch c.name {
            case "huge":
                _ = FileManager.default.createFile(atPath: path, contents: nil)
                try FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: 100 << 20)  // sparse: 100 MiB, no disk
            case "fifo": #expect(mkfifo(path, 0o600) == 0)
            case "missing": break
            default: try c.text!.write(toFile: path, atomically: true, encoding: .utf8)
            }
            let started = Date()
            let r = try runLiteProof(["verify", "--config", path], timeout: 60)
            #expect(r.status == 2, "\(c.name): \(r.stdout)\(r.stderr)")
            #expect(r.stderr.contains(c.message) && r.stderr.contains(path), "\(c.name): \(r.stderr)")
            #expect(Date().timeIntervalSince(started) < 20, "\(c.name) took \(Date().timeIntervalSince(started)) s")
        }
    }
}

extension ConfigLiveTests {
    /// `--shard I/N` with --config: `verify --all` and `watch` keep the same databases (by a
    /// hash of each database's path), and the shards split the file's databases exactly.
    @Test func shardsSplitTheDatabasesAsVerifyAllDoes() throws {
        let a = try WatchFixtures.replica(.v05), b = try WatchFixtures.replica(.v03)
        let work = try rigTempDir("config-shard")
        let config = work + "/litestream.yml"
        let dbs = (0..<6).map { "\(work)/db\($0).db" }
        try ("dbs:\n" + dbs.enumerated().map { "  - path: \($1)\n    replica:\n      path: \($0 % 2 == 0 ? a : b)\n" }.joined())
            .write(toFile: config, atomically: true, encoding: .utf8)
        var seen: [String] = []
        for i in 0..<2 {
            let all = try runLiteProof(["verify", "--all", "--config", config, "--shard", "\(i)/2", "--json", "--restore-check", "none"])
            #expect(all.status == 0, "\(all.stdout)\(all.stderr)")
            let verified = all.stdout.split(separator: "\n").compactMap { try? json(String($0)) }.compactMap { $0["database"] as? String }
            let watch = try runLiteProof(["watch", "--config", config, "--shard", "\(i)/2", "--rounds", "1", "--json"])
            #expect(watch.status == 0, "\(watch.stdout)\(watch.stderr)")
            let watched = watch.stdout.split(separator: "\n").compactMap { try? json(String($0)) }
                .filter { $0["event"] as? String == "round" }.compactMap { $0["database"] as? String }
            #expect(verified == watched && verified == dbs.filter { FleetShard.hash($0) % 2 == UInt64(i) })
            seen += verified
        }
        #expect(seen.sorted() == dbs.sorted())
        let bad = try runLiteProof(["watch", a, "--shard", "0/2"])
        #expect(bad.status == 2 && bad.stderr.contains("--shard goes with --config"))
    }
}
