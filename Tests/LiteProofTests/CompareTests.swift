import CSQLite
import Foundation
import LiteProof
import Testing

/// `compare`, `digest` and canaries against real replicas and their live databases.
@Suite struct CompareTests {
    /// Copies the live database (file and WAL, not the -shm) to a scratch folder.
    func liveCopy(_ r: RealReplica) throws -> String {
        let dir = try rigTempDir("live")
        let db = dir + "/live.db"
        try FileManager.default.copyItem(atPath: r.liveDB, toPath: db)
        if FileManager.default.fileExists(atPath: r.liveDB + "-wal") {
            try FileManager.default.copyItem(atPath: r.liveDB + "-wal", toPath: db + "-wal")
        }
        return db
    }

    /// Name, size, mtime and bytes of the live files, to prove they are untouched.
    func fingerprint(_ db: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let p = db + suffix
            guard FileManager.default.fileExists(atPath: p) else { out[suffix] = "absent"; continue }
            let attrs = try FileManager.default.attributesOfItem(atPath: p)
            var sha = SHA256()
            sha.update(try bytes(of: p))
            out[suffix] = "\(attrs[.size]!) \((attrs[.modificationDate] as! Date).timeIntervalSince1970) \(SHA256.hex(sha.finalize()))"
        }
        return out
    }

    @Test(arguments: [Scenario.v03Basic, .v05Basic, .v03Multi, .v05Compacted])
    func liveWithUncheckpointedWALIsIdentical(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        #expect(FileManager.default.fileExists(atPath: r.liveDB + "-wal"))
        // A private copy (database and WAL): other tests read the shared live database at the same
        // time, and any reader of a WAL database may touch its -shm, so only a copy no one else
        // opens can prove that compare and digest leave the live files alone.
        let liveDB = try liveCopy(r)
        let before = try fingerprint(liveDB)
        let report = try Comparer(replica: try Replica.open(r.replicaDir)).compare(live: liveDB)
        #expect(report.verdict == .identical, "\(report.renderText())")
        #expect(report.replica.sha256 == report.live.sha256)
        // the SHA-256 of the image equals sha256sum of the database once checkpointed
        var sha = SHA256()
        sha.update(try bytes(of: try checkpointCopy(of: liveDB)))
        #expect(report.live.sha256 == SHA256.hex(sha.finalize()))
        // digest gives the same verdict offline, and neither touched the live files
        let digestPath = try rigTempDir("digest") + "/live.digest"
        try LiveDatabase.read(liveDB) { try Comparer.liveDigest($0, name: liveDB) }.write(to: digestPath)
        let offline = try Comparer(replica: try Replica.open(r.replicaDir)).compare(digest: try DatabaseDigest.read(from: digestPath))
        #expect(offline.verdict == .identical)
        #expect(try fingerprint(liveDB) == before)
    }

    @Test func compareAndDigestLeaveNoSidecarFiles() async throws {
        let r = try await ReplicaFactory.shared.replica(.v05Basic)
        let db = try checkpointCopy(of: r.liveDB)  // no -wal, no -shm
        try? FileManager.default.removeItem(atPath: db + "-wal")
        try? FileManager.default.removeItem(atPath: db + "-shm")
        let before = try fingerprint(db)
        let c = try runLiteProof(["compare", r.replicaDir, "--live", db, "--json"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(try json(c.stdout)["verdict"] as? String == "identical")
        let d = try runLiteProof(["digest", db, "-o", try rigTempDir("d") + "/x.digest"])
        #expect(d.status == 0, "\(d.stderr)")
        #expect(try fingerprint(db) == before)
    }

    @Test(arguments: [Scenario.v03Basic, .v05Basic])
    func moreCommitsInTheLiveWALIsLagging(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let db = try liveCopy(r)
        let writer = try RigDB(db)
        defer { writer.close() }
        try writer.exec("PRAGMA wal_autocheckpoint=0")
        for i in 0..<3 { try writer.exec("INSERT INTO t(v) VALUES('lagging \(i) ' || hex(randomblob(300)))") }
        let report = try Comparer(replica: try Replica.open(r.replicaDir)).compare(live: db)
        #expect(report.verdict == .lagging, "\(report.renderText())")
        #expect(report.lag?.commitsBehind == 3)
        #expect(report.lag?.walOffset != nil)
        // offline, through a digest
        let digestPath = try rigTempDir("digest") + "/live.digest"
        let d = try runLiteProof(["digest", db, "-o", digestPath])
        #expect(d.status == 0, "\(d.stderr)")
        let offline = try runLiteProof(["compare", r.replicaDir, "--digest", digestPath, "--json"])
        #expect(offline.status == 0)
        let obj = try json(offline.stdout)
        #expect(obj["verdict"] as? String == "lagging")
        #expect((obj["lag"] as? [String: Any])?["commitsBehind"] as? Int == 3)
        let strict = try runLiteProof(["compare", r.replicaDir, "--live", db, "--max-lag", "2"])
        #expect(strict.status == 1)
    }

    @Test(arguments: [Scenario.v03Basic, .v05Basic])
    func pageChangedBehindSQLitesBackDiffers(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let db = try checkpointCopy(of: r.liveDB)
        let owners = try BTreeReader(try FilePageSource(path: db)).owners()
        let victim = try #require(owners.indices.last { owners[$0] == .object(type: "table", name: "t") })
        try flipByte(db, at: (victim - 1) * r.pageSize + r.pageSize / 2, mask: 0x10)
        let report = try Comparer(replica: try Replica.open(r.replicaDir)).compare(live: db)
        #expect(report.verdict == .differs)
        #expect(report.differingPageCount == 1)
        #expect(report.differingPages.first?.page == UInt32(victim))
        #expect(report.differingPages.first?.liveOwner == "table t")
        #expect(report.tables.contains { $0.name == "t" && $0.differingPages == 1 })
        let cli = try runLiteProof(["compare", r.replicaDir, "--live", db])
        #expect(cli.status == 1)
        #expect(cli.stdout.contains("page \(victim)") || cli.stdout.contains("page  "))
        #expect(cli.stdout.contains("table t"))
    }

    @Test(arguments: [Scenario.v03Basic, .v05Basic])
    func rowDeletedInLiveShowsInTheTableSummary(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let db = try checkpointCopy(of: r.liveDB)
        let writer = try RigDB(db)
        let victim = Int64(try writer.query("SELECT max(rowid) FROM t")[0][0])!
        let count = Int(try writer.query("SELECT count(*) FROM t")[0][0])!
        try writer.exec("DELETE FROM t WHERE rowid = \(victim)")
        _ = try writer.query("PRAGMA wal_checkpoint(TRUNCATE)")
        writer.close()
        let report = try Comparer(replica: try Replica.open(r.replicaDir)).compare(live: db)
        #expect(report.verdict == .differs)
        let t = try #require(report.tables.first { $0.name == "t" })
        #expect(t.onlyInReplica == [victim])
        #expect(t.onlyInLive.isEmpty)
        #expect(t.replicaRows == count)
        #expect(t.liveRows == count - 1)
    }

    @Test func aWriteDuringTheReadStartsItOver() async throws {
        // The application checkpoints (TRUNCATE) and commits after LiveDatabase has read the WAL
        // but before the pages are read: the torn state must be detected and the read redone.
        let r = try await ReplicaFactory.shared.replica(.v05Basic)
        let db = try liveCopy(r)
        let writer = try RigDB(db)
        defer { writer.close() }
        try writer.exec("PRAGMA wal_autocheckpoint=0")
        var calls = 0
        var retriesSeen: [Int] = []
        let digest = try LiveDatabase.read(db) { live -> DatabaseDigest in
            calls += 1
            retriesSeen.append(live.retries)
            if calls == 1 {
                _ = try writer.query("PRAGMA wal_checkpoint(TRUNCATE)")
                try writer.exec("BEGIN; " + (0..<300).map { "UPDATE t SET v = 'changed \($0)' WHERE rowid = \($0 + 1);" }.joined() + " COMMIT;")
            }
            return try Comparer.liveDigest(live, name: db)
        }
        #expect(calls >= 2, "the change went unnoticed")
        #expect(retriesSeen.last ?? 0 >= 1)
        // The result is the state after the write, as a fresh read (and SQLite) sees it.
        let fresh = try LiveDatabase.read(db) { try Comparer.liveDigest($0, name: db) }
        #expect(digest.sha256 == fresh.sha256)
        var sha = SHA256()
        sha.update(try bytes(of: try checkpointCopy(of: db)))
        #expect(digest.sha256 == SHA256.hex(sha.finalize()))
    }

    @Test func btreeReaderAgreesWithSQLite() async throws {
        let r = try await ReplicaFactory.shared.replica(.v03Page64k)
        let db = try checkpointCopy(of: r.liveDB)
        let reader = try BTreeReader(try FilePageSource(path: db))
        let schema = try reader.schema()
        let sql = try sqliteQuery(db, "SELECT name, rootpage FROM sqlite_schema WHERE rootpage > 0 ORDER BY name")
        #expect(schema.filter { $0.rootPage > 0 }.map { "\($0.name) \($0.rootPage)" }.sorted() == sql.map { "\($0[0]) \($0[1])" }.sorted())
        for e in schema where e.rootPage > 0 && e.type == "table" {
            let keys = try reader.keys(of: e)
            let n = Int(try sqliteQuery(db, "SELECT count(*) FROM \"\(e.name)\"")[0][0])!
            #expect(keys.count == n, "\(e.name)")
        }
        // every page accounted for: in use by an object, free, or the lock page
        let owners = try reader.owners()
        let pages = Int(try sqliteQuery(db, "PRAGMA page_count")[0][0])!
        let free = Int(try sqliteQuery(db, "PRAGMA freelist_count")[0][0])!
        #expect(owners.count == pages + 1)
        #expect(owners.dropFirst().filter { $0 == .freelistLeaf || $0 == .freelistTrunk }.count == free)
        #expect(!owners.dropFirst().contains(.unused))
    }
}

/// With real Litestream running on a live database: the canary cycle and compare under writes.
@Suite(.serialized) struct LiveReplicationTests {
    @Test(arguments: LitestreamVersion.allCases)
    func canaryCycle(_ v: LitestreamVersion) throws {
        let live = try startLiveReplication(v)
        defer { live.litestream.stop(); live.writer.close() }
        try waitUntil("the first replica files", timeout: 20) {
            !FS.walk(live.replica).isEmpty && (try? RestorePlanner(replica: Replica.open(live.replica)).plan()) != nil
        }

        let w = try runLiteProof(["canary", "write", live.db, "--label", "deploy-42"])
        #expect(w.status == 0, "\(w.stderr)")
        let token = try #require(w.stdout.split(separator: "\n").last.map(String.init))
        #expect(token.hasPrefix("lp-"))
        try waitUntil("the canary to replicate", timeout: 30) {
            try runLiteProof(["canary", "check", live.replica, "--token", token]).status == 0
        }
        let found = try runLiteProof(["canary", "check", live.replica, "--token", token, "--json"])
        #expect(found.status == 0)
        #expect((try json(found.stdout)["canary"] as? [String: Any])?["label"] as? String == "deploy-42")
        let madeUp = try runLiteProof(["canary", "check", live.replica, "--token", "lp-not-a-real-token"])
        #expect(madeUp.status == 1)
        #expect(madeUp.stdout.contains("NOT FOUND"))

        // Replication stops: a new canary is written but cannot reach the replica; the lag shows.
        live.litestream.stop()
        let late = try runLiteProof(["canary", "write", live.db])
        let lateToken = String(late.stdout.split(separator: "\n").last ?? "")
        usleep(300_000)
        let report = try Comparer(replica: try Replica.open(live.replica)).compare(live: live.db)
        #expect(report.verdict == .lagging, "\(report.renderText())")
        let canaries = try #require(report.canaries)
        #expect(canaries.newestInReplica?.token == token)
        #expect(canaries.missingFromReplica?.map(\.token) == [lateToken])
        #expect((canaries.lagSeconds ?? 0) >= 0.3)
    }

    @Test(arguments: LitestreamVersion.allCases)
    func compareWhileTheApplicationWrites(_ v: LitestreamVersion) throws {
        let live = try startLiveReplication(v)
        defer { live.litestream.stop(); live.writer.close() }
        try waitUntil("the first replica files", timeout: 20) { (try? RestorePlanner(replica: Replica.open(live.replica)).plan()) != nil }
        let stop = Flag()
        let openError = Locked<String?>(nil)
        // The application's writes, on a connection of the writer thread's own (a connection is not Sendable).
        let dbPath = live.db
        let writerThread = try JoinableThread {
            let writer: RigDB
            do { writer = try RigDB(dbPath) } catch {
                openError.update { $0 = "\(error)" }
                return
            }
            defer { writer.close() }
            var i = 0
            while !stop.isSet {
                try? writer.exec("INSERT INTO orders(item, qty) VALUES ('item \(i)', \(i)); UPDATE orders SET qty = qty + 1 WHERE id = 1")
                i += 1
                usleep(15_000)
            }
        }
        var verdicts: [CompareReport.Verdict] = []
        for _ in 0..<4 {
            let report = try Comparer(replica: try Replica.open(live.replica)).compare(live: live.db)
            verdicts.append(report.verdict)
            #expect(report.verdict != .differs, "compare during writes: \(report.renderText())")
            usleep(200_000)
        }
        stop.set()
        writerThread.join()
        #expect(openError.current == nil, "the writer thread could not open the database")
        // Once the writes stop, replication catches up: identical.
        try waitUntil("the replica to catch up", timeout: 30) {
            try Comparer(replica: try Replica.open(live.replica)).compare(live: live.db).verdict == .identical
        }
        #expect(verdicts.count == 4)
    }
}

/// Damage that stops a B-tree walk, and digests that lie: said clearly, never dropped or crashed on.
@Suite struct CompareDamageTests {
    @Test func btreeDamageWhileAttributingPagesIsANote() async throws {
        let r = try await ReplicaFactory.shared.replica(.v05Basic)
        let db = try checkpointCopy(of: r.liveDB)
        let owners = try BTreeReader(try FilePageSource(path: db)).owners()
        let victim = try #require(owners.indices.last { owners[$0] == .object(type: "table", name: "t") })
        #expect(victim > 1)
        // The page type byte of a leaf of table t: 0x0D → 0x00, so the walk stops there.
        try flipByte(db, at: (victim - 1) * r.pageSize, mask: 0x0D)
        let expected = "cannot read the live database's page owners: page \(victim) is not a b-tree page (type byte 0)"
        let report = try Comparer(replica: try Replica.open(r.replicaDir)).compare(live: db)
        #expect(report.verdict == .differs)
        #expect(report.differingPages.first { $0.page == UInt32(victim) }?.liveOwner == "unknown")
        #expect(report.notes.contains(expected), "\(report.notes)")
        #expect(report.notes.contains { $0.hasPrefix("cannot read the live database's table t:") }, "\(report.notes)")
        let text = try runLiteProof(["compare", r.replicaDir, "--live", db])
        #expect(text.status == 1)
        #expect(text.stdout.contains("note: " + expected), "\(text.stdout)")
        let js = try runLiteProof(["compare", r.replicaDir, "--live", db, "--json"])
        #expect(js.status == 1)
        #expect((try json(js.stdout)["notes"] as? [String])?.contains(expected) == true)
    }

    @Test func aDigestWhoseWALHistoryNamesPage0IsRefused() async throws {
        let r = try await ReplicaFactory.shared.replica(.v05Basic)
        let db = try checkpointCopy(of: r.liveDB)
        let writer = try RigDB(db)
        try writer.exec("PRAGMA wal_autocheckpoint=0")
        try writer.exec("INSERT INTO t(v) VALUES('one more')")
        let digestPath = try rigTempDir("page0") + "/live.digest"
        let d = try runLiteProof(["digest", db, "-o", digestPath])
        writer.close()
        #expect(d.status == 0, "\(d.stderr)")
        // Name page 0 in the first commit of the history.
        var obj = try json(String(decoding: try bytes(of: digestPath), as: UTF8.self))
        var wal = try #require(obj["wal"] as? [String: Any])
        var history = try #require(wal["history"] as? [String: Any])
        var commits = try #require(history["commits"] as? [[String: Any]])
        var pages = try #require(commits.first?["pages"] as? [Int])
        pages[0] = 0
        commits[0]["pages"] = pages
        history["commits"] = commits
        wal["history"] = history
        obj["wal"] = wal
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: digestPath))

        do {
            _ = try DatabaseDigest.read(from: digestPath)
            Issue.record("a digest naming page 0 was accepted")
        } catch let e as LiteProofError {
            #expect(e.kind == .usage)
            #expect(e.message.contains("commit 1 of the WAL history names page 0"), "\(e.message)")
        }
        let cli = try runLiteProof(["compare", r.replicaDir, "--digest", digestPath])
        #expect(cli.status == 2)
        #expect(cli.stderr.contains("names page 0"), "\(cli.stderr)")
        // The matcher itself skips page 0 instead of indexing page -1 (no 3-page state exists).
        let lone = try JSONSerialization.data(withJSONObject: history)
        let h = try JSONDecoder().decode(LiveHistory.self, from: lone)
        #expect(h.commits[0].pages[0] == 0)
        #expect(h.matchingState(latest: [1, 2, 3], replica: [1, 2, 3]) == nil)
    }
}
