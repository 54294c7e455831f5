import Foundation
import LiteProof
import Testing

/// `compare` against an application that goes on writing, with real Litestream running: the
/// offline workflow (`ahead`), a live database checkpointed past the replica (`lagging-unproven`),
/// `--wait`, and the digest's table summary.
@Suite struct AheadTests {
    /// A database of its own, replicated by a Litestream this test starts and stops.
    final class WritingSession {
        let version: LitestreamVersion
        let dir: String
        let db: String
        let replicaDir: String
        let writer: RigDB
        var workload: RigWorkload
        var litestream: LitestreamProcess?
        var commits = 0

        init(_ version: LitestreamVersion) throws {
            self.version = version
            dir = try rigTempDir("ahead-\(version.rawValue)")
            db = dir + "/app.db"
            replicaDir = dir + "/replica"
            writer = try RigWorkload.create(path: db, pageSize: 4096)
            try writer.exec("PRAGMA wal_autocheckpoint=0")
            workload = RigWorkload(db: writer, pageSize: 4096, seed: version == .v03 ? 0x0301 : 0x0501)
        }

        deinit {
            litestream?.stop()
            writer.close()
        }

        func start() async throws {
            let ls = try startLitestream(version, db: db, replica: replicaDir, in: dir)
            litestream = ls
            // 0.5 replays from its oldest snapshot: let the first one exist before the test's points.
            try await rigWait("Litestream's first replica files", timeout: 60, context: { ls.log }) {
                guard ls.isRunning else { throw RigError("litestream exited:\n\(ls.log)") }
                return version == .v03
                    ? RigV03Files.generations(replicaDir).contains { !RigV03Files.snapshots(replicaDir, $0).isEmpty }
                    : !RigV05Files.files(replicaDir, level: 9).isEmpty
            }
        }

        func stop() { litestream?.stop(); litestream = nil }

        /// `n` write transactions, one commit each.
        func write(_ n: Int) throws {
            for _ in 0..<n {
                try workload.runRound(rows: 6, update: false)
                commits += 1
            }
        }

        /// Waits until the replica's latest position equals the live database (LiteProof's own
        /// restore and compare; the live database is only read) and returns that position.
        @discardableResult
        func waitUntilReplicated() async throws -> Position {
            var position: Position?
            try await rigWait("the replica to hold every commit", timeout: 90, poll: 0.2, context: { self.litestream?.log ?? "" }) {
                guard let replica = try? Replica.open(replicaDir),
                    let report = try? Comparer(replica: replica).compare(live: db), report.verdict == .identical
                else { return false }
                position = report.position
                return true
            }
            return position!
        }
    }

    func commitsBetween(_ x: Position, _ latest: Position) -> Int? {
        if case .ltx(let a) = x, case .ltx(let b) = latest { return Int(b - a) }
        return nil
    }

    @Test(arguments: [LitestreamVersion.v03, .v05])
    func offlineWorkflowGivesAheadThenUnprovenAfterACheckpoint(_ version: LitestreamVersion) async throws {
        let s = try WritingSession(version)
        try await s.start()
        try s.write(2)
        let x = try await s.waitUntilReplicated()
        // Where the application runs: a digest, and (for the --live variant) a copy of the database.
        let digest = s.dir + "/app.digest"
        let d = try runLiteProof(["digest", s.db, "-o", digest])
        #expect(d.status == 0, "\(d.stderr)")
        let earlier = try checkpointCopy(of: s.db)
        // The application goes on writing; Litestream replicates it.
        let later = 4
        try s.write(later)
        let latest = try await s.waitUntilReplicated()
        s.stop()
        #expect(latest != x)

        for args in [["--digest", digest], ["--live", earlier]] {
            let c = try runLiteProof(["compare", s.replicaDir, "--json"] + args)
            #expect(c.status == 0, "\(args): \(c.stdout) \(c.stderr)")
            let obj = try json(c.stdout)
            #expect(obj["verdict"] as? String == "ahead", "\(args): \(c.stdout)")
            let ahead = try #require(obj["ahead"] as? [String: Any])
            #expect(ahead["position"] as? String == x.description, "\(args): \(c.stdout)")
            let n = try #require(ahead["commitsAhead"] as? Int)
            if let txids = commitsBetween(x, latest) {
                // 0.5 counts TXIDs: Litestream may put several commits in one LTX file.
                #expect(n == txids && n >= 1 && n <= later)
            } else {
                #expect(n == later)
            }
            let text = try runLiteProof(["compare", s.replicaDir] + args)
            #expect(text.status == 0)
            #expect(text.stdout.hasPrefix("AHEAD: the replica holds the live state at \(x) and \(n) later"), "\(text.stdout)")
        }

        // --wait: with Litestream stopped, the application commits twice; compare waits, and the
        // replica catches up once Litestream runs again; the application goes on writing.
        try s.write(2)
        let out = s.dir + "/wait.out", err = s.dir + "/wait.err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: liteproofBinary())
        p.arguments = ["compare", s.replicaDir, "--live", s.db, "--wait", "150", "--json"]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try p.run()
        defer { terminate(p, grace: 2) }
        // The first read finds the replica behind; only then does Litestream start again.
        try await rigWait("compare --wait to read the replica once", timeout: 60, context: { (try? String(contentsOfFile: err, encoding: .utf8)) ?? "" }) {
            ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").contains("round 1: lagging")
        }
        // Litestream's first sync after the restart must hold the state compare read (0.3 starts
        // a new generation, as stopping it lets SQLite restart the WAL): write again only after.
        try await s.start()
        try await s.waitUntilReplicated()
        try s.write(2)
        try await rigWait("compare --wait to finish", timeout: 170, context: { s.litestream?.log ?? "" }) { !p.isRunning }
        let waited = try json(String(contentsOfFile: out, encoding: .utf8))
        #expect(p.terminationStatus == 0, "\(waited) \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        #expect(["identical", "ahead"].contains(waited["verdict"] as? String ?? ""), "\(waited)")
        #expect((waited["notes"] as? [String])?.contains { $0.hasPrefix("waited ") } == true)
        s.stop()
        // The first digest is still found, also when stopping 0.3 let SQLite restart the WAL and
        // Litestream began a new generation (whose WAL continues the first one's).
        let again = try runLiteProof(["compare", s.replicaDir, "--digest", digest, "--json"])
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
        let againObj = try json(again.stdout)
        #expect(againObj["verdict"] as? String == "ahead", "\(again.stdout)")
        let againAhead = againObj["ahead"] as? [String: Any]
        #expect(againAhead?["position"] as? String == x.description, "\(again.stdout)")
        if version == .v03, let later = againAhead?["laterGeneration"] as? String {
            #expect(later != x.generation && (againObj["position"] as? String)?.hasPrefix(later) == true)
        }

        // With Litestream stopped, the application writes, checkpoints its WAL away and writes
        // again: the live WAL no longer holds the replica's state.
        try s.write(2)
        #expect(try s.writer.query("PRAGMA wal_checkpoint(TRUNCATE)").first?.first == "0")
        try s.write(1)
        let c = try runLiteProof(["compare", s.replicaDir, "--live", s.db, "--json"])
        #expect(c.status == 3, "\(c.stdout) \(c.stderr)")
        let obj = try json(c.stdout)
        #expect(obj["verdict"] as? String == "lagging-unproven", "\(c.stdout)")
        let evidence = try #require((obj["unproven"] as? [String: Any])?["evidence"] as? String)
        // at least our own restart (Litestream 0.5's own checkpoints may add more)
        #expect(evidence.contains("live WAL was restarted") && evidence.contains("since the replica's last change"), "\(evidence)")
        #expect((obj["tables"] as? [Any])?.isEmpty == true)
        let text = try runLiteProof(["compare", s.replicaDir, "--live", s.db])
        #expect(text.status == 3)
        #expect(text.stdout.hasPrefix("LAGGING-UNPROVEN: the live database has moved on past what its WAL remembers"), "\(text.stdout)")
        #expect(text.stdout.contains("--wait"))
    }

    @Test(arguments: [Scenario.v03Multi, .v05Compacted])
    func anEarlierPointOfALongHistoryIsFound(_ s: Scenario) async throws {
        // The live side is the replica's own state at a point in the middle of its history
        // (0.3: across WAL indexes and segments of the latest generation; 0.5: across levels),
        // restored with LiteProof to its position: compare finds that point and counts the rest.
        let r = try await ReplicaFactory.shared.replica(s)
        let replica = try Replica.open(r.replicaDir)
        let latest = try RestorePlanner(replica: replica).plan().position
        let points = try Replayer(replica: replica).points.filter { p in
            switch (p.position, latest) {
            case (.v03(let g, let i, let o), .v03(let lg, let li, let lo)): return g == lg && (i, o) <= (li, lo)
            case (.ltx(let t), .ltx(let lt)): return t <= lt
            default: return false
            }
        }
        #expect(points.count >= 4)
        let x = points[points.count / 2]
        let earlier = try rigTempDir("earlier") + "/earlier.db"
        try Restorer(replica: replica).restore(x.position.target, to: earlier)
        let c = try runLiteProof(["compare", r.replicaDir, "--live", earlier, "--json"])
        #expect(c.status == 0, "\(c.stdout) \(c.stderr)")
        let obj = try json(c.stdout)
        #expect(obj["verdict"] as? String == "ahead", "\(c.stdout)")
        let ahead = try #require(obj["ahead"] as? [String: Any])
        #expect(ahead["position"] as? String == x.position.description)
        let expected = commitsBetween(x.position, latest) ?? (points.count - 1 - points.count / 2)
        #expect(ahead["commitsAhead"] as? Int == expected)
    }

    @Test(arguments: [Scenario.v03Basic, .v05Basic])
    func aPassiveCheckpointInTheSameWALStaysLagging(_ s: Scenario) async throws {
        // The application commits twice more in the WAL the replica's last change came from,
        // growing the file, and a PASSIVE checkpoint copies every frame into the database file
        // without restarting the WAL. Every page of the replica's state was written by a frame
        // the WAL still holds, so the state is rebuilt from the frames: still `lagging`, not a
        // guess. (`lagging-unproven` for the same WAL needs a page only the overwritten file
        // held; the salts test is in walMarksTellAMovedOnDatabaseFromAnotherOne.)
        let r = try await ReplicaFactory.shared.replica(s)
        let dir = try rigTempDir("passive")
        let db = dir + "/live.db"
        try FileManager.default.copyItem(atPath: r.liveDB, toPath: db)
        try FileManager.default.copyItem(atPath: r.liveDB + "-wal", toPath: db + "-wal")
        let writer = try RigDB(db)
        defer { writer.close() }  // closing checkpoints and removes the WAL: only after compare
        try writer.exec("PRAGMA wal_autocheckpoint=0")
        for i in 0..<2 { try writer.exec("INSERT INTO t(v) VALUES('after \(i) ' || hex(randomblob(100000)))") }
        let ck = try writer.query("PRAGMA wal_checkpoint(PASSIVE)")
        #expect(ck.first?.first == "0" && ck.first?[1] == ck.first?[2], "\(ck)")
        let report = try Comparer(replica: try Replica.open(r.replicaDir)).compare(live: db)
        #expect(report.verdict == .lagging, "\(report.renderText())")
        #expect(report.lag?.commitsBehind == 2)
        let digest = try LiveDatabase.read(db) { try Comparer.liveDigest($0, name: db) }
        #expect(digest.wal?.history?.showsCheckpoint == true)
    }

    @Test func waitRunsOutWithTheVerdictOfTheLastRead() async throws {
        // A live database whose changes never reach the replica: --wait gives up and reports it.
        let r = try await ReplicaFactory.shared.replica(.v05Basic)
        let db = try checkpointCopy(of: r.liveDB)
        let writer = try RigDB(db)
        try writer.exec("DELETE FROM t WHERE rowid = (SELECT max(rowid) FROM t)")
        _ = try writer.query("PRAGMA wal_checkpoint(TRUNCATE)")
        writer.close()
        let started = Date()
        let c = try runLiteProof(["compare", r.replicaDir, "--live", db, "--wait", "3", "--json"])
        #expect(c.status == 1)
        #expect(Date().timeIntervalSince(started) >= 3)
        let obj = try json(c.stdout)
        #expect(obj["verdict"] as? String == "differs")
        #expect(c.stderr.contains("round 1: differs"))
        #expect((obj["notes"] as? [String])?.contains { $0.hasPrefix("waited ") && $0.contains("of the replica") } == true)
    }

    @Test(arguments: [Scenario.v03Basic, .v05Basic])
    func digestTableSummaryKnowsTheLiveTables(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let db = try checkpointCopy(of: r.liveDB)
        let writer = try RigDB(db)
        let count = Int(try writer.query("SELECT count(*) FROM t")[0][0])!
        let kvCount = Int(try writer.query("SELECT count(*) FROM kv")[0][0])!
        try writer.exec("DELETE FROM t WHERE rowid = (SELECT max(rowid) FROM t)")
        _ = try writer.query("PRAGMA wal_checkpoint(TRUNCATE)")
        writer.close()
        let digest = try rigTempDir("digest") + "/live.digest"
        #expect(try runLiteProof(["digest", db, "-o", digest]).status == 0)
        let c = try runLiteProof(["compare", r.replicaDir, "--digest", digest, "--json"])
        #expect(c.status == 1)
        let obj = try json(c.stdout)
        #expect(obj["verdict"] as? String == "differs")
        let tables = try #require(obj["tables"] as? [[String: Any]])
        let t = try #require(tables.first { $0["name"] as? String == "t" })
        #expect(t["replicaRows"] as? Int == count)
        #expect(t["liveRows"] as? Int == count - 1)
        #expect(t["liveKnown"] as? Bool == true)
        // kv is the same on both sides: not listed, and never "absent"
        #expect(!tables.contains { $0["name"] as? String == "kv" }, "\(kvCount) rows in kv")
        let text = try runLiteProof(["compare", r.replicaDir, "--digest", digest])
        #expect(text.stdout.contains("table t: replica \(count), live \(count - 1) entries"), "\(text.stdout)")
        #expect(!text.stdout.contains("absent"))

        // A digest of an older LiteProof (no table counts): the live side is unknown, not absent.
        var raw = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: digest))) as? [String: Any])
        raw["tables"] = nil
        let old = try rigTempDir("digest") + "/old.digest"
        try JSONSerialization.data(withJSONObject: raw).write(to: URL(fileURLWithPath: old))
        let o = try runLiteProof(["compare", r.replicaDir, "--digest", old])
        #expect(o.status == 1)
        #expect(o.stdout.contains("table t: replica \(count), live unknown entries"), "\(o.stdout)")
        #expect(!o.stdout.contains("absent"))
        #expect(o.stdout.contains("the digest holds no table counts"))
    }

    @Test func walMarksTellAMovedOnDatabaseFromAnotherOne() {
        let r = WALMark(salt1: 100, salt2: 7, checkpointSequence: 3, offset: 4000)
        // the same WAL, further along, with WAL pages already in the file (else every state since
        // the WAL began is still there, and not matching one is a real difference)
        let further = WALMark(salt1: 100, salt2: 7, checkpointSequence: 3, offset: 8000)
        #expect(MovedOn.evidence(replica: r, live: further, checkpointed: true) != nil)
        #expect(MovedOn.evidence(replica: r, live: further, checkpointed: false) == nil)
        #expect(MovedOn.evidence(replica: r, live: WALMark(salt1: 100, salt2: 7, checkpointSequence: 3, offset: 4000), checkpointed: true) == nil)
        // restarted twice since (salt-1 and checkpoint sequence step together)
        #expect(
            MovedOn.evidence(replica: r, live: WALMark(salt1: 102, salt2: 99, checkpointSequence: 5, offset: 100), checkpointed: false)?.contains("2 times")
                == true)
        #expect(MovedOn.evidence(replica: r, live: WALMark(salt1: 102, salt2: 99, checkpointSequence: 9, offset: 100), checkpointed: false) == nil)
        // behind, or unrelated salts (a new WAL file, another database)
        #expect(MovedOn.evidence(replica: r, live: WALMark(salt1: 99, salt2: 99, checkpointSequence: 2, offset: 100), checkpointed: false) == nil)
        #expect(MovedOn.evidence(replica: r, live: WALMark(salt1: 0x9000_0000, salt2: 1, checkpointSequence: nil, offset: 100), checkpointed: false) == nil)
        // salt-1 wraps around
        let w = WALMark(salt1: .max, salt2: 1, checkpointSequence: nil, offset: 100)
        #expect(MovedOn.evidence(replica: w, live: WALMark(salt1: 0, salt2: 2, checkpointSequence: nil, offset: 100), checkpointed: false) != nil)
    }
}
