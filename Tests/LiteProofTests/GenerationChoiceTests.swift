import Foundation
import LiteProof
import Testing

/// A real 0.3.13 replica with three generations, made the way they arise in production: the
/// application checkpoints its WAL away while Litestream is down, so each restart begins a new
/// generation. Made once per test process and shared.
actor ThreeGenerations {
    static let shared = ThreeGenerations()

    struct Made: Sendable {
        let replicaDir: String
        let liveDB: String
        /// Generation ids, oldest first.
        let generations: [String]
    }

    private var made: Task<Made, Error>?

    func replica() async throws -> Made {
        if made == nil { made = Task { try await Self.make() } }
        return try await made!.value
    }

    private static func make() async throws -> Made {
        let dir = try rigTempDir("three-generations")
        let db = dir + "/app.db", replicaDir = dir + "/replica"
        let writer = try RigDB(db)
        defer { writer.close() }
        try writer.exec("PRAGMA journal_mode=WAL; CREATE TABLE runs(id INTEGER PRIMARY KEY, run INTEGER, note TEXT)")
        var order: [String] = []
        for run in 1...3 {
            if run > 1 {
                // While Litestream is down the application checkpoints the WAL away and writes:
                // the WAL Litestream followed is gone, so it starts a new generation.
                let ck = try writer.query("PRAGMA wal_checkpoint(TRUNCATE)")
                try #require(ck.first?.first == "0", "wal_checkpoint(TRUNCATE) was blocked: \(ck)")
                try writer.exec("INSERT INTO runs(run, note) VALUES (\(run), 'written while litestream was down')")
            }
            let ls = try startLitestream(.v03, db: db, replica: replicaDir, in: dir)
            defer { ls.stop() }
            try await rigWait("generation #\(run)", timeout: 60, context: { ls.log }) {
                RigV03Files.generations(replicaDir).filter { !order.contains($0) }.contains {
                    !RigV03Files.snapshots(replicaDir, $0).isEmpty && !RigV03Files.walSegments(replicaDir, $0).isEmpty
                }
            }
            let gen = try #require(RigV03Files.generations(replicaDir).first { !order.contains($0) })
            order.append(gen)
            for i in 0..<3 {
                let before = RigV03Files.walSegments(replicaDir, gen).count
                try writer.exec("INSERT INTO runs(run, note) VALUES (\(run), 'row \(i) of run \(run) ' || hex(randomblob(200)))")
                try await rigWait("a new WAL segment in \(gen)", timeout: 60, context: { ls.log }) {
                    RigV03Files.walSegments(replicaDir, gen).count > before
                }
            }
            ls.stop()
        }
        return Made(replicaDir: replicaDir, liveDB: db, generations: order)
    }
}

@Suite struct GenerationChoiceTests {
    /// A copy of the replica as a download in key order leaves it: the generations renamed so the
    /// newest sorts first, and every file stamped in path order (so the one that sorts last looks
    /// newest).
    func downloadedCopy(_ made: ThreeGenerations.Made) throws -> (dir: String, newest: String) {
        let dir = try rigTempDir("downloaded") + "/replica"
        try FileManager.default.copyItem(atPath: made.replicaDir, toPath: dir)
        let names = ["00000000000000a3", "00000000000000b2", "00000000000000c1"]  // oldest sorts last
        for (gen, name) in zip(made.generations, names.reversed()) {
            try FileManager.default.moveItem(atPath: dir + "/generations/" + gen, toPath: dir + "/generations/" + name)
        }
        var t = 1_800_000_000.0
        for f in FS.walk(dir).sorted() {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: t)], ofItemAtPath: dir + "/" + f)
            t += 1
        }
        return (dir, names[0])
    }

    @Test func downloadOrderedTimesDoNotPickTheWrongGeneration() async throws {
        let made = try await ThreeGenerations.shared.replica()
        let (dir, newest) = try downloadedCopy(made)
        let work = try rigTempDir("gen-restore")

        // The input is hostile for real: Litestream itself restores the wrong generation from it.
        let theirsFromCopy = work + "/litestream-copy.db"
        #expect(try litestreamRestore(.v03, replicaDir: dir, output: theirsFromCopy).status == 0)
        let truth = work + "/litestream-original.db"
        try #require(try litestreamRestore(.v03, replicaDir: made.replicaDir, output: truth).status == 0)
        #expect(try bytes(of: theirsFromCopy) != bytes(of: truth), "the copy should fool a chooser that trusts times")

        // LiteProof chooses by the WAL headers and says so.
        let report = try verify(dir)
        #expect(report.verdict == .ok)
        #expect(report.latest?.generation == newest, "\(report.renderText())")
        let why = report.findings(.timeUntrusted).map(\.message).joined()
        #expect(why.contains("WAL header order"), "\(report.renderText())")

        let ours = work + "/liteproof.db"
        let r = try runLiteProof(["restore", dir, "-o", ours])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try bytes(of: ours) == bytes(of: truth), "restore must give the newest generation's data")
        #expect(try sqliteQuery(ours, "SELECT max(run) FROM runs")[0][0] == "3")

        // On the original, with Litestream's own times, times and headers agree: no warning.
        let original = try verify(made.replicaDir)
        #expect(original.findings(.timeUntrusted).isEmpty && original.findings(.generationOrder).isEmpty, "\(original.renderText())")
    }

    @Test func undecidableGenerationsStopWithTheList() async throws {
        let made = try await ThreeGenerations.shared.replica()
        // Two generations with the same contents and times that cannot order them: nothing decides.
        let dir = try rigTempDir("twins") + "/replica"
        let last = made.generations.last!
        try FileManager.default.createDirectory(atPath: dir + "/generations", withIntermediateDirectories: true)
        for name in ["1111111111111111", "2222222222222222"] {
            try FileManager.default.copyItem(atPath: made.replicaDir + "/generations/" + last, toPath: dir + "/generations/" + name)
        }
        let stamp = Date(timeIntervalSince1970: 1_800_000_000)
        for f in FS.walk(dir) { try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: dir + "/" + f) }

        let r = try runLiteProof(["restore", dir, "-o", try rigTempDir("twins-out") + "/x.db"])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("1111111111111111") && r.stderr.contains("2222222222222222") && r.stderr.contains("--generation"), "\(r.stderr)")
        let report = try verify(dir)
        #expect(!report.findings(.generationAmbiguous).isEmpty, "\(report.renderText())")
        // Naming one decides.
        let chosen = try runLiteProof(["restore", dir, "--generation", "2222222222222222", "-o", try rigTempDir("twins-out") + "/y.db"])
        #expect(chosen.status == 0, "\(chosen.stderr)")
    }

    /// `--generation` on every command that reads a 0.3 replica: each accepts it and works on the
    /// generation named (here the oldest of three, never the one LiteProof would choose), and a
    /// generation the replica lacks stops each with exit 2.
    @Test func everyCommandTakesGeneration() async throws {
        let made = try await ThreeGenerations.shared.replica()
        let dir = made.replicaDir, old = made.generations[0], newest = made.generations.last!
        let work = try rigTempDir("generation-flag")
        let commands: [[String]] = [
            ["restore", dir, "-o", work + "/restored.db"],
            ["restore", dir, "--dry-run"],
            ["verify", dir],
            ["inspect", dir],
            ["compare", dir, "--live", made.liveDB, "--json"],
            ["canary", "check", dir, "--token", "no-such-canary"],
            ["timeline", dir],
            ["bisect", dir, "--sql", "SELECT max(run) FROM runs"],
            ["evidence", "create", dir, "-o", work + "/evidence.tar.zst"],
            ["bench", dir, "--runs", "1", "--integrity-check", "none"],
        ]
        for args in commands {
            let name = args.prefix { $0 != dir }.joined(separator: " ")
            let r = try runLiteProof(args + ["--generation", old], timeout: 300)
            #expect(r.status != 2, "\(name) --generation: \(r.stdout.suffix(500))\(r.stderr.suffix(500))")
            #expect(r.stdout.contains(old), "\(name) names the generation it used: \(r.stdout.suffix(800))")
            let bad = try runLiteProof(args + ["--generation", "00000000000000ff"])
            #expect(bad.status == 2 && (bad.stdout + bad.stderr).contains("no generation 00000000000000ff"), "\(name): \(bad.stdout)\(bad.stderr)")
        }
        // Used, not only accepted: the restore holds the oldest generation's rows, the plan and
        // the verify report name it, and bisect searched it.
        #expect(try sqliteQuery(work + "/restored.db", "SELECT max(run) FROM runs")[0][0] == "1")
        let plan = try runLiteProof(["restore", dir, "--dry-run", "--generation", old])
        #expect(plan.stdout.contains(old) && !plan.stdout.contains(newest), "\(plan.stdout)")
        let v = try runLiteProof(["verify", dir, "--json", "--generation", old])
        let report = try JSONDecoder().decode(VerifyReport.self, from: Data(v.stdout.utf8))
        #expect(report.latest?.generation == old, "\(v.stdout.prefix(800))")
        let canary = try runLiteProof(["canary", "check", dir, "--token", "no-such-canary", "--generation", old])
        #expect(canary.stdout.contains("at \(old)/"), "\(canary.stdout)")
        // prove checks the name before writing anything to the live database.
        let prove = try runLiteProof(["prove", "--db", made.liveDB, "--replica", dir, "--generation", "00000000000000ff"])
        #expect(prove.status == 2 && prove.stderr.contains("no generation 00000000000000ff"), "\(prove.stderr)")
        // A 0.5 replica has no generations: a usage error.
        let ltx = try runLiteProof(["verify", Fixtures.example("0.5").replica, "--generation", old])
        #expect(ltx.status == 2 && ltx.stderr.contains("--generation is for Litestream 0.3"), "\(ltx.stderr)")
    }
}
