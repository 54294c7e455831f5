import Foundation
import LiteProof
import Testing

/// `verify --all` and `report` over the test fleet (``TestFleet``): verdicts, shards, archives, exit codes.
@Suite struct FleetTests {
    @Test func verifyAllFindsEveryReplicaAndFlagsExactlyTheDamagedOnes() async throws {
        let fleet = try await TestFleetFactory.shared.fleet()
        let metrics = try rigTempDir("metrics") + "/liteproof.prom"
        let r = try runLiteProof(["verify", "--all", fleet.root, "--json", "--metrics", metrics], timeout: 900)
        #expect(r.status == 1, "\(r.stderr)")
        let (databases, summary) = try jsonLines(r.stdout)
        let v = verdicts(databases)
        #expect(databases.count == 50)
        #expect(Set(v.keys) == fleet.names)
        #expect(Set(v.filter { $0.value == "damaged" }.keys) == fleet.damaged)
        #expect(Set(v.filter { $0.value == "ok" }.keys) == fleet.names.subtracting(fleet.damaged))
        #expect(summary?["databases"] as? Int == 50)
        #expect(summary?["damaged"] as? Int == 5)
        #expect(summary?["exitCode"] as? Int == 1)
        // Output is in name order; sound databases carry a position, an age, a size and a restore time.
        #expect(databases.map { $0["database"] as? String ?? "" } == v.keys.sorted())
        for d in databases where d["verdict"] as? String == "ok" {
            #expect(d["position"] is String)
            #expect((d["ageSeconds"] as? Double ?? -1) >= 0)
            #expect((d["replicaBytes"] as? Int ?? 0) > 0)
            #expect(d["restoreCheck"] as? String == "ok")
            #expect(d["restoreSeconds"] is Double)
        }
        for d in databases where d["verdict"] as? String == "damaged" {
            #expect((d["problem"] as? String)?.hasPrefix("error ") == true)
        }
        // The replica inside a replica is part of it (a stray warning), not a database.
        let outer = databases.first { $0["database"] as? String == "region/eu/tenant-3/main" }
        #expect(outer?["verdict"] as? String == "ok")
        #expect((outer?["warnings"] as? Int ?? 0) > 0)

        let samples = try parsePrometheusText(try String(contentsOfFile: metrics, encoding: .utf8))
        let verdictGauges = samples.filter { $0.name == "liteproof_verdict" }
        #expect(Set(verdictGauges.compactMap { $0.labels["database"] }) == fleet.names)
        for g in verdictGauges {
            #expect(g.value == (fleet.damaged.contains(g.labels["database"] ?? "") ? 1 : 0))
        }
        for name in [
            "liteproof_latest_position_age_seconds", "liteproof_restore_seconds", "liteproof_replica_bytes",
            "liteproof_last_check_timestamp_seconds",
        ] {
            #expect(samples.contains { $0.name == name }, "\(name) missing")
        }
        let bytes = samples.first { $0.name == "liteproof_replica_bytes" && $0.labels["database"] == "s3/bucket-copy" }
        #expect(bytes?.value == Double(databases.first { $0["database"] as? String == "s3/bucket-copy" }?["replicaBytes"] as? Int ?? -1))
    }

    @Test func textTableHasOneLinePerDatabaseAndASummary() async throws {
        let fleet = try await TestFleetFactory.shared.fleet()
        let r = try runLiteProof(["verify", "--all", fleet.root, "--restore-check", "none", "--jobs", "3"], timeout: 900)
        #expect(r.status == 1, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("VERDICT") == true)
        for name in fleet.names {
            let line = lines.first { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init) == name }
            #expect(line?.hasPrefix(fleet.damaged.contains(name) ? "DAMAGED" : "OK") == true, "\(name): \(line ?? "no line")")
        }
        #expect(lines.contains { $0.hasPrefix("50 databases: 45 ok, 5 damaged, 0 unreadable") })
        #expect(r.stderr.isEmpty)  // no progress display when stderr is not a terminal
    }

    @Test func shardsCoverEveryReplicaOnceAndMergeIntoTheSameReport() async throws {
        let fleet = try await TestFleetFactory.shared.fleet()
        let all = try jsonLines(try runLiteProof(["verify", "--all", fleet.root, "--json", "--restore-check", "none"], timeout: 900).stdout)
        let dir = try rigTempDir("shards")
        var seen: [String] = []
        var files: [String] = []
        var concatenated = ""
        for i in 0..<3 {
            let r = try runLiteProof(["verify", "--all", fleet.root, "--json", "--restore-check", "none", "--shard", "\(i)/3"], timeout: 900)
            #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
            let (databases, summary) = try jsonLines(r.stdout)
            #expect(summary?["shard"] as? String == "\(i)/3")
            #expect(summary?["discovered"] as? Int == 50)
            #expect(!databases.isEmpty)  // 50 names split three ways: none is empty
            let shard = try FleetShard(index: i, count: 3)
            for d in databases { #expect(shard.contains(d["database"] as? String ?? "")) }
            seen += databases.map { $0["database"] as? String ?? "" }
            let file = dir + "/shard-\(i).jsonl"
            try r.stdout.write(toFile: file, atomically: true, encoding: .utf8)
            files.append(file)
            concatenated += r.stdout
        }
        #expect(seen.count == 50)
        #expect(Set(seen) == fleet.names)

        let merged = try runLiteProof(["report", "--json"] + files)
        #expect(merged.status == 1, "\(merged.stderr)")
        let mergedLines = try jsonLines(merged.stdout)
        #expect(mergedLines.databases.count == 50)
        #expect(verdicts(mergedLines.databases) == verdicts(all.databases))
        #expect(mergedLines.summary?["exitCode"] as? Int == 1)
        #expect(mergedLines.summary?["damaged"] as? Int == 5)

        let whole = dir + "/all.jsonl"
        try concatenated.write(toFile: whole, atomically: true, encoding: .utf8)
        let text = try runLiteProof(["report", whole])
        #expect(text.status == 1)
        #expect(text.stdout.contains("50 databases from 3 runs: 45 ok, 5 damaged, 0 unreadable"))

        // A missing shard makes the report incomplete: exit 2, and it says which.
        let partial = try runLiteProof(["report", files[0], files[2]])
        #expect(partial.status == 2)
        #expect(partial.stdout.contains("1 of 3 shards missing: 1/3"))
    }

    func entryLine(verdict: String = #""ok""#, bytes: String = "1") -> String {
        #"{"type":"database","database":"b","verdict":"# + verdict + #","replicaBytes":"# + bytes
            + #","files":0,"bytesRead":0,"seconds":0,"errors":0,"warnings":0,"checkedAt":0}"#
    }

    @Test func reportRejectsMalformedInputClearly() throws {
        let dir = try rigTempDir("report-bad")
        let good = FleetEntry(database: "a", verdict: .ok, replicaBytes: 10, checkedAt: 0)
        let summary = FleetSummary(root: "/r", shard: nil, discovered: 1, entries: [good], seconds: 1, checkedAt: 0)
        let cases: [(String, String)] = [
            ("not json {", "bad.jsonl:2: not JSON"),
            ("[1, 2]", "bad.jsonl:2: not a JSON object"),
            (#"{"type":"elephant"}"#, #"bad.jsonl:2: "type" is "elephant""#),
            (#"{"type":"database","verdict":"ok"}"#, #"bad.jsonl:2: a database line without "database""#),
            (entryLine(verdict: #""fine""#), #"bad.jsonl:2: "verdict" has an unknown value"#),
            (entryLine(bytes: #""big""#), #"bad.jsonl:2: "replicaBytes" has the wrong type"#),
        ]
        for (line, message) in cases {
            let file = dir + "/bad.jsonl"
            try (JSONLines.encode(good) + "\n" + line + "\n" + JSONLines.encode(summary) + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let r = try runLiteProof(["report", file])
            #expect(r.status == 2, "\(line)")
            #expect(r.stderr.contains(message), "\(line): \(r.stderr)")
        }
        // Binary garbage and a run cut short (no summary line).
        let binary = dir + "/binary.jsonl"
        try Data([0xFF, 0xFE, 0x00, 0x7B]).write(to: URL(fileURLWithPath: binary))
        #expect(try runLiteProof(["report", binary]).status == 2)
        let cut = dir + "/cut.jsonl"
        try (JSONLines.encode(good) + "\n").write(toFile: cut, atomically: true, encoding: .utf8)
        let r = try runLiteProof(["report", cut])
        #expect(r.status == 2)
        #expect(r.stdout.contains("no summary line"))
        // A whole, sound run exits 0.
        let fine = dir + "/fine.jsonl"
        try (JSONLines.encode(good) + "\n" + JSONLines.encode(summary) + "\n").write(toFile: fine, atomically: true, encoding: .utf8)
        #expect(try runLiteProof(["report", fine]).status == 0)
    }

    @Test func verifyAllReadsAnArchiveOfAFleet() async throws {
        let fleet = try await TestFleetFactory.shared.fleet()
        let archive = try rigTempDir("fleet-tar") + "/fleet.tar"
        let top = try FileManager.default.contentsOfDirectory(atPath: fleet.root).sorted()
        let (status, out) = try runProcess("/bin/tar", ["-cf", archive, "-C", fleet.root] + top, timeout: 300)
        #expect(status == 0, "\(out)")
        let r = try runLiteProof(["verify", "--all", archive, "--json", "--restore-check", "none"], timeout: 900)
        #expect(r.status == 1, "\(r.stderr)")
        let v = verdicts(try jsonLines(r.stdout).databases)
        #expect(Set(v.keys) == fleet.names)
        #expect(Set(v.filter { $0.value == "damaged" }.keys) == fleet.damaged)
    }

    @Test func aFileThatCannotBeReadMakesTheDatabaseUnreadableAndExitsTwo() throws {
        let root = try rigTempDir("fleet-unreadable")
        for name in ["sound", "gone"] {
            let (status, out) = try runProcess("/bin/cp", ["-a", Fixtures.example("0.5").replica, root + "/" + name], timeout: 60)
            #expect(status == 0, "\(out)")
        }
        // A file listed but gone when read (as when a bucket changes under the check).
        let file = root + "/gone/ltx/9/0000000000000001-0000000000000007.ltx"
        FS.remove(file)
        try FileManager.default.createSymbolicLink(atPath: file, withDestinationPath: root + "/nowhere")
        let r = try runLiteProof(["verify", "--all", root, "--json"])
        #expect(r.status == 2, "\(r.stderr)")
        let v = verdicts(try jsonLines(r.stdout).databases)
        #expect(v == ["sound": "ok", "gone": "unreadable"])
        #expect(try jsonLines(r.stdout).summary?["unreadable"] as? Int == 1)
    }

    @Test func verifyAllRefusesARootWithoutReplicas() throws {
        let empty = try rigTempDir("fleet-empty")
        try Data("x".utf8).write(to: URL(fileURLWithPath: empty + "/notes.txt"))
        let r = try runLiteProof(["verify", "--all", empty])
        #expect(r.status == 2)
        #expect(r.stderr.contains("holds no Litestream replica at any depth"))
        let bad = try runLiteProof(["verify", "--all", empty, "--shard", "3/3"])
        #expect(bad.status == 64 || bad.status == 2)
        #expect(bad.stderr.contains("out of range"))
    }

    /// The fleet's restore time comes from ``Verifier``'s own trial restore (one code path).
    @Test func verifierTimesItsTrialRestore() throws {
        for version in ["0.3", "0.5"] {
            let replica = try Replica.open(Fixtures.example(version).replica)
            let checked = Verifier(replica: replica, restoreCheck: .quick).run()
            #expect(checked.restoreCheck == "ok")
            #expect((checked.restoreSeconds ?? -1) >= 0)
            let unchecked = Verifier(replica: replica).run()
            #expect(unchecked.restoreSeconds == nil && unchecked.restoreCheck == nil)
            let entry = FleetVerifier(root: Fixtures.example(version).replica, storage: replica.storage).check(
                FleetVerifier(root: "", storage: replica.storage).discover()[0])
            #expect(entry.restoreCheck == "ok" && entry.restoreSeconds != nil && entry.verdict == .ok)
        }
    }
}
