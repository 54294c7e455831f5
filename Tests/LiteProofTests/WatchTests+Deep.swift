import Foundation
import Testing

@testable import LiteProof

extension WatchTests {
    /// Steady writes with a live database (scenario 1): the first round's deep check restores
    /// the latest position (quick_check ok) and finds the live database identical or ahead of it;
    /// the canary written after it is seen in a later round, with its round trip measured.
    @Test(arguments: LitestreamVersion.allCases)
    func deepCheckAndCanaryRoundTripWhileWriting(_ v: LitestreamVersion) throws {
        let live = try startLiveReplication(v, seedRows: 200, compacting: false)
        defer { live.litestream.stop(); live.writer.close() }
        try waitUntil("a restorable replica", timeout: 30) { latestPosition(live.replica) != nil }
        let w = Watcher(database: live.replica, live: live.db, maxLag: 60) { try Replica.open(live.replica) }
        w.restoreEvery = 3600
        w.canaryEvery = 0.01
        let r1 = w.round()
        #expect(r1.verdict == .ok && r1.health == .ok, "\(r1.reason)")
        let deep = try #require(r1.deepCheck, "no deep check at the first round")
        #expect(deep.check == "ok")
        #expect(deep.compare == .identical || deep.compare == .lagging, "\(deep.detail)")
        #expect(deep.passed)
        #expect((r1.restoreCheckSeconds ?? -1) >= 0)
        let written = try #require(r1.canary, "no canary written")
        #expect(!written.seen)
        #expect(try live.writer.query("SELECT count(*) FROM _liteproof_canary WHERE token = '\(written.token)'").first?.first == "1")

        var trip: Double?
        var rounds = 1
        while trip == nil && rounds < 20 {
            try writeAndWait(live, rows: 5)  // the canary's commit comes before this one
            let r = w.round()
            rounds += 1
            #expect(r.verdict == .ok && r.health == .ok, "round \(r.round): \(r.reason)")
            #expect(r.deepCheck == nil && r.restoreCheckSeconds == nil, "a deep check before --restore-every passed")
            // Freshness: the latest position is the write just replicated.
            #expect((r.freshnessSeconds ?? 99) < 10, "\(r.freshnessSeconds ?? -1)")
            trip = r.canaryRoundTripSeconds
            if trip != nil { #expect(r.canary?.token == written.token && r.canary?.seen == true) }
        }
        let seconds = try #require(trip, "the canary was not seen in \(rounds) rounds")
        #expect(seconds > 0 && seconds < 30)
        // It was seen without a restore: the files new since the write hold its token, and the
        // same search finds no token that was never written.
        let replica = try Replica.open(live.replica)
        let files = try RestorePlanner(replica: replica).plan().files
        #expect(try Watcher.holds(written.token, in: files, replica: replica))
        #expect(try !Watcher.holds("lp-00000000000000000000000", in: files, replica: replica))
        // The next canary is written in the round that saw the first.
        #expect(try live.writer.query("SELECT count(*) FROM _liteproof_canary WHERE label = 'liteproof watch'").first?.first == "2")
    }

    /// A deep check whose compare finds a live database that is not the replica's: damaged with
    /// `compare.differs`, carried into the next rounds until the next deep check; SQLite's check
    /// of the restored state still passed.
    @Test func deepCheckAgainstAnotherDatabaseIsDamage() throws {
        let dir = try WatchFixtures.replica(.v05)
        let other = try rigTempDir("watch-other") + "/other.db"
        let db = try RigDB(other)
        try db.exec("CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT, qty INTEGER); INSERT INTO orders(item, qty) VALUES ('not this', 1)")
        db.close()
        let w = Watcher(database: dir, live: other) { try Replica.open(dir) }
        w.restoreEvery = 3600
        let r1 = w.round()
        #expect(r1.verdict == .damaged)
        #expect(r1.deepCheck?.check == "ok")
        #expect(r1.deepCheck?.compare == .differs)
        #expect(r1.findings.contains { $0.code == .compareDiffers && $0.severity == .error }, "\(r1.findings)")
        #expect(r1.reason.contains("matches no state of the live database"))
        let r2 = w.round()
        #expect(r2.deepCheck == nil)
        #expect(r2.verdict == .damaged)
        #expect(r2.findings.contains { $0.code == .compareDiffers })
    }

    /// A canary that does not reach the replica (Litestream is not running) within --max-lag:
    /// `canary.late` names it and the health fails; the replica's files are no damage.
    @Test func canaryNotReplicatedIsLate() throws {
        let dir = try WatchFixtures.replica(.v03)
        let db = try rigTempDir("watch-late") + "/app.db"
        let writer = try RigDB(db)
        try writer.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x)")
        defer { writer.close() }
        let w = Watcher(database: dir, live: db, maxLag: 1_000_000) { try Replica.open(dir) }
        w.canaryEvery = 60
        let r1 = w.round()
        let token = try #require(r1.canary?.token)
        #expect(r1.health == .ok, "\(r1.reason)")
        let r2 = w.round(now: Date().addingTimeInterval(1_000_100))
        #expect(r2.verdict == .ok)
        #expect(r2.health == .failed)
        let late = r2.findings.first { $0.code == .canaryLate }
        #expect(late?.severity == .warning && late?.message.contains(token) == true, "\(r2.findings)")
        #expect(r2.reason.contains(token))
        #expect(r2.canary?.seen == false)
    }

    /// Canaries the watcher writes are pruned to the newest few of its own label, in the same
    /// transaction; canaries with other labels stay.
    @Test func watcherCanariesArePruned() throws {
        let db = try rigTempDir("watch-prune") + "/app.db"
        let writer = try RigDB(db)
        try writer.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x)")
        defer { writer.close() }
        _ = try Canary.write(to: db, label: "deploy 1")
        for _ in 0..<(Watcher.canariesKept + 5) { _ = try Canary.write(to: db, label: Watcher.canaryLabel, keeping: Watcher.canariesKept) }
        #expect(try writer.query("SELECT count(*) FROM _liteproof_canary WHERE label = 'liteproof watch'").first?.first == "\(Watcher.canariesKept)")
        #expect(try writer.query("SELECT count(*) FROM _liteproof_canary WHERE label = 'deploy 1'").first?.first == "1")
    }

    /// 0.3 file times that look lost (all equal, as a copy that does not keep them leaves them):
    /// the latest time is marked a guess, no freshness is claimed, and with --max-lag the health
    /// is undecided; the warning is given once.
    @Test func guessedTimesClaimNoFreshness() throws {
        let dir = try scratchCopy(ofDirectory: try WatchFixtures.replica(.v03))
        let when = Date()
        for f in listedFiles(dir) { try FileManager.default.setAttributes([.modificationDate: when], ofItemAtPath: dir + "/" + f.path) }
        let w = Watcher(database: dir, maxLag: 1_000_000) { try Replica.open(dir) }
        let r1 = w.round()
        #expect(r1.verdict == .ok, "\(r1.reason)")
        #expect(r1.latestTimeTrusted == false)
        #expect(r1.freshnessSeconds == nil)
        #expect(r1.health == .undecided)
        #expect(r1.warnings.contains { $0.contains("freshness is not judged") }, "\(r1.warnings)")
        #expect(r1.reason.contains("freshness cannot be judged"))
        let r2 = w.round()
        #expect(r2.warnings.isEmpty, "\(r2.warnings)")
        #expect(r2.health == .undecided)
        // A replica written by Litestream itself keeps its times: trusted, fresh or not.
        let own = Watcher(database: dir, maxLag: 1_000_000) { try Replica.open(try WatchFixtures.replica(.v03)) }.round()
        #expect(own.latestTimeTrusted == true && own.freshnessSeconds != nil && own.health == .ok)
    }

    /// Litestream restarted (scenario 5); for 0.3 after a checkpoint that truncated the WAL
    /// while it was down, so it starts a new generation: the watcher follows, with no false alarm.
    @Test(arguments: LitestreamVersion.allCases)
    func litestreamRestartIsFollowed(_ v: LitestreamVersion) throws {
        let live = try startLiveReplication(v, seedRows: 100, compacting: false)
        defer { live.litestream.stop(); live.writer.close() }
        try waitUntil("a restorable replica", timeout: 30) { latestPosition(live.replica) != nil }
        try writeAndWait(live, rows: 10)
        let w = Watcher(database: live.replica, live: live.db) { try Replica.open(live.replica) }
        w.restoreEvery = 0.001
        let r1 = w.round()
        #expect(r1.verdict == .ok, "\(r1.reason)")
        let generations = Set(try Replica.open(live.replica).v03?.generations.map(\.id) ?? [])
        live.litestream.stop()
        if v == .v03 {
            #expect(try live.writer.query("PRAGMA wal_checkpoint(TRUNCATE)").first?.first == "0")
        }
        try live.writer.exec("INSERT INTO orders(item, qty) VALUES ('while litestream was down', 1)")
        let again = try startLitestream(v, db: live.db, replica: live.replica, in: live.dir, compacting: false)
        defer { again.stop() }
        if v == .v03 {
            try waitUntil("a new generation", timeout: 45) {
                let now = Set(try Replica.open(live.replica).v03?.generations.map(\.id) ?? [])
                return !now.subtracting(generations).isEmpty && latestPosition(live.replica)?.hasPrefix(now.subtracting(generations).first!) == true
            }
        }
        try writeAndWait(live, rows: 5)
        for _ in 0..<2 {
            let r = w.round()
            #expect(r.verdict == .ok && r.health == .ok, "round \(r.round): \(r.reason)")
            #expect(r.findings.allSatisfy { $0.severity != .error }, "\(r.findings)")
            #expect(r.deepCheck?.passed == true, "\(r.deepCheck?.detail ?? "no deep check")")
            if v == .v03 { #expect(!generations.contains(r.latest?.generation ?? "")) }
            try writeAndWait(live, rows: 5)
        }
    }
}
