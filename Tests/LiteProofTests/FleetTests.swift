import Foundation
import LiteProof
import Testing

/// A fleet of 50 real replicas (copies of the rig's Litestream 0.3.13 and 0.5.17 replicas and of
/// the committed examples) at several depths, five of them damaged; built once per test process.
struct TestFleet: Sendable {
    let root: String
    /// Every replica's name (its path relative to the root).
    let names: Set<String>
    /// The damaged ones.
    let damaged: Set<String>
}

actor TestFleetFactory {
    static let shared = TestFleetFactory()
    private var built: Task<TestFleet, Error>?

    func fleet() async throws -> TestFleet {
        if let built { return try await built.value }
        let t = Task { try await Self.build() }
        built = t
        return try await t.value
    }

    static func build() async throws -> TestFleet {
        let v03 = try await ReplicaFactory.shared.replica(.v03Basic)
        let v05 = try await ReplicaFactory.shared.replica(.v05Basic)
        let root = try rigTempDir("fleet") + "/fleet"
        var names: [String] = []
        func copy(_ source: String, as name: String) throws {
            let dest = root + "/" + name
            try FileManager.default.createDirectory(
                atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let (status, out) = try runProcess("/bin/cp", ["-a", source, dest], timeout: 60)
            guard status == 0 else { throw RigError("cp -a \(source) \(dest) failed: \(out)") }
            names.append(name)
        }
        for i in 0..<10 { try copy(v03.replicaDir, as: "rig03-\(i)") }
        for i in 0..<10 { try copy(v05.replicaDir, as: "tenants/rig05-\(i)/db") }
        for i in 0..<14 { try copy(Fixtures.example("0.3").replica, as: "region/eu/tenant-\(i)/main") }
        for i in 0..<15 { try copy(Fixtures.example("0.5").replica, as: "region/us/\(i % 3)/tenant-\(i)") }
        // One 0.5 replica as an S3 bucket prefix holds it: <level %04x>/<min>-<max>.ltx.
        let s3 = root + "/s3/bucket-copy"
        for level in try FileManager.default.contentsOfDirectory(atPath: Fixtures.example("0.5").replica + "/ltx") {
            let dest = s3 + "/" + String(format: "%04x", Int(level)!)
            try FileManager.default.createDirectory(atPath: s3, withIntermediateDirectories: true)
            let (status, out) = try runProcess("/bin/cp", ["-a", Fixtures.example("0.5").replica + "/ltx/" + level, dest], timeout: 60)
            guard status == 0 else { throw RigError("cp failed: \(out)") }
        }
        names.append("s3/bucket-copy")
        // Not replicas: loose files, and a replica layout inside a replica (part of it, a stray there).
        try Data("notes".utf8).write(to: URL(fileURLWithPath: root + "/README.txt"))
        try FileManager.default.createDirectory(atPath: root + "/empty/deeper", withIntermediateDirectories: true)
        let (status, out) = try runProcess(
            "/bin/cp", ["-a", Fixtures.example("0.5").replica, root + "/region/eu/tenant-3/main/old-backup"], timeout: 60)
        guard status == 0 else { throw RigError("cp failed: \(out)") }

        // Damage five, each in a way that breaks a restore.
        var damaged: [String] = []
        let gen = Fixtures.v03Generation
        FS.remove(root + "/region/eu/tenant-1/main/" + Fixtures.v03Segment("000080e0"))
        damaged.append("region/eu/tenant-1/main")
        try flipByte(root + "/region/eu/tenant-2/main/generations/\(gen)/wal/00000000_00018260.wal.lz4", at: 3000)
        damaged.append("region/eu/tenant-2/main")
        try flipByte(root + "/region/us/1/tenant-4/ltx/9/0000000000000001-0000000000000007.ltx", at: 3000)
        damaged.append("region/us/1/tenant-4")
        let rigGen = try #require(v03.generations.last)
        for snap in RigV03Files.snapshots(v03.replicaDir, rigGen) {
            FS.remove(root + "/rig03-7/generations/\(rigGen)/snapshots/\(snap.hex(width: 8)).snapshot.lz4")
        }
        damaged.append("rig03-7")
        let l0 = try #require(RigV05Files.files(v05.replicaDir, level: 0).last)
        let victim = root + "/tenants/rig05-2/db/ltx/0/" + l0.name
        try truncate(victim, to: fileSize(victim) / 2)
        damaged.append("tenants/rig05-2/db")
        #expect(names.count == 50)
        return TestFleet(root: root, names: Set(names), damaged: Set(damaged))
    }
}

/// The JSON Lines of `verify --all --json` (or `report --json`): database objects, then the summary.
func jsonLines(_ text: String) throws -> (databases: [[String: Any]], summary: [String: Any]?) {
    var databases: [[String: Any]] = []
    var summary: [String: Any]?
    for line in text.split(separator: "\n") {
        let obj = try json(String(line))
        if obj["type"] as? String == "database" { databases.append(obj) } else { summary = obj }
    }
    return (databases, summary)
}

func verdicts(_ databases: [[String: Any]]) -> [String: String] {
    Dictionary(databases.map { ($0["database"] as? String ?? "?", $0["verdict"] as? String ?? "?") }, uniquingKeysWith: { a, _ in a })
}

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

/// `prove --metrics` against real `litestream replicate` 0.5.17: the same gauges, for one database.
@Suite struct ProveMetricsTests {
    @Test func proveWritesTheSameGauges() throws {
        let live = try startLiveReplication(.v05, seedRows: 10)
        defer { live.litestream.stop(); live.writer.close() }
        try waitUntil("the first replica files", timeout: 20) { (try? RestorePlanner(replica: Replica.open(live.replica)).plan()) != nil }
        let metrics = try rigTempDir("prove-metrics") + "/prove.prom"
        let r = try runLiteProof(["prove", "--db", live.db, "--replica", live.replica, "--timeout", "30", "--json", "--metrics", metrics])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let obj = try json(r.stdout)
        let samples = try parsePrometheusText(try String(contentsOfFile: metrics, encoding: .utf8))
        func value(_ name: String) -> Double? { samples.first { $0.name == name && $0.labels["database"] == live.db }?.value }
        #expect(value("liteproof_verdict") == 0)
        // The same measurements as the report (up to the last digit of their decimal forms).
        func close(_ a: Double?, _ b: Any?) -> Bool {
            guard let a, let b = b as? Double else { return false }
            return abs(a - b) <= 1e-9 * max(1, abs(b))
        }
        #expect(close(value("liteproof_restore_seconds"), obj["restoreSeconds"]))
        #expect(close(value("liteproof_canary_lag_seconds"), obj["replicationLag"]))
        #expect((value("liteproof_replica_bytes") ?? 0) > 0)
        #expect(abs((value("liteproof_last_check_timestamp_seconds") ?? 0) - Date().timeIntervalSince1970) < 600)
        // No temporary file is left beside it.
        let folder = (metrics as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["prove.prom"])
    }
}

@Suite struct FleetDiscoveryTests {
    func listing(_ paths: [String]) -> [StoredFile] { paths.map { StoredFile(path: $0, size: 1, modified: nil) } }

    @Test func findsReplicasAtAnyDepthWithoutDescendingIntoOne() {
        let found = FleetDiscovery.discover(
            listing([
                "a/generations/0123456789abcdef/snapshots/00000000.snapshot.lz4",
                "a/generations/0123456789abcdef/wal/00000000_00000000.wal.lz4",
                "a/nested/ltx/0/0000000000000001-0000000000000001.ltx",
                "x/y/z/ltx/9/0000000000000001-0000000000000003.ltx",
                "s3/0001/0000000000000001-0000000000000003.ltx",
                "beef/0000/0000000000000001-0000000000000001.ltx",
                "notes/readme.txt",
                "ltx/notalevel/0000000000000001-0000000000000001.ltx",
                "generations/short/wal/00000000_00000000.wal.lz4",
            ]))
        #expect(found.map(\.name) == ["a", "beef", "s3", "x/y/z"])
        #expect(found[0].files.map(\.path).contains("nested/ltx/0/0000000000000001-0000000000000001.ltx"))
        #expect(found[3].files.map(\.path) == ["ltx/9/0000000000000001-0000000000000003.ltx"])
    }

    @Test func aReplicaAtTheRootIsNamedDot() {
        let found = FleetDiscovery.discover(listing(["ltx/0/0000000000000001-0000000000000001.ltx", "sub/ltx/0/0000000000000001-0000000000000001.ltx"]))
        #expect(found.map(\.name) == ["."])
        #expect(found[0].files.count == 2)
    }

    @Test func shardHashIsFNV1a64() throws {
        // Published FNV-1a 64 test vectors: the split must never change between versions.
        #expect(FleetShard.hash("") == 0xcbf2_9ce4_8422_2325)
        #expect(FleetShard.hash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(FleetShard.hash("foobar") == 0x8594_4171_f739_67e8)
        #expect(try FleetShard(parsing: "2/5") == FleetShard(index: 2, count: 5))
        #expect(throws: LiteProofError.self) { try FleetShard(parsing: "5/5") }
        #expect(throws: LiteProofError.self) { try FleetShard(parsing: "1/0") }
        #expect(throws: LiteProofError.self) { try FleetShard(parsing: "one/3") }
        let names = (0..<300).map { "tenant-\($0)" }
        let shards = try (0..<4).map { try FleetShard(index: $0, count: 4) }
        for n in names { #expect(shards.filter { $0.contains(n) }.count == 1) }
    }
}

/// One sample of the Prometheus text format.
struct PrometheusSample {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A strict reader of the Prometheus text exposition format (0.0.4) as far as gauges go: every
/// line is `# HELP name text`, `# TYPE name gauge` or `name{label="value",…} number`; a sample's
/// family must have been typed before it; label values use only the escapes \\ \" \n.
func parsePrometheusText(_ text: String) throws -> [PrometheusSample] {
    struct Bad: Error, CustomStringConvertible { var description: String }
    let name = #"[a-zA-Z_:][a-zA-Z0-9_:]*"#
    let help = try NSRegularExpression(pattern: "^# HELP (\(name)) .*$")
    let type = try NSRegularExpression(pattern: "^# TYPE (\(name)) (gauge|counter|histogram|summary|untyped)$")
    let sample = try NSRegularExpression(
        pattern: #"^("# + name + #")(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? ([^ ]+)$"#)
    let label = try NSRegularExpression(pattern: #"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)""#)
    var typed = Set<String>()
    var samples: [PrometheusSample] = []
    guard text.hasSuffix("\n") else { throw Bad(description: "the text does not end with a newline") }
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
        let s = String(line)
        let range = NSRange(s.startIndex..., in: s)
        func group(_ m: NSTextCheckingResult, _ i: Int) -> String? {
            Range(m.range(at: i), in: s).map { String(s[$0]) }
        }
        if help.firstMatch(in: s, range: range) != nil { continue }
        if let m = type.firstMatch(in: s, range: range) {
            typed.insert(group(m, 1)!)
            continue
        }
        guard let m = sample.firstMatch(in: s, range: range), let metric = group(m, 1), let valueText = group(m, 5) else {
            throw Bad(description: "line \(n + 1) is not HELP, TYPE or a sample: \(s)")
        }
        guard typed.contains(metric) else { throw Bad(description: "line \(n + 1): \(metric) has no TYPE line before it") }
        guard let value = Double(valueText) ?? (valueText == "+Inf" ? .infinity : nil) else {
            throw Bad(description: "line \(n + 1): \(valueText) is not a number")
        }
        var labels: [String: String] = [:]
        if let braces = group(m, 2) {
            let r = NSRange(braces.startIndex..., in: braces)
            for lm in label.matches(in: braces, range: r) {
                let k = Range(lm.range(at: 1), in: braces).map { String(braces[$0]) }!
                let v = Range(lm.range(at: 2), in: braces).map { String(braces[$0]) }!
                labels[k] = v.replacingOccurrences(of: #"\""#, with: "\"").replacingOccurrences(of: #"\\"#, with: "\\")
            }
        }
        samples.append(PrometheusSample(name: metric, labels: labels, value: value))
    }
    return samples
}
