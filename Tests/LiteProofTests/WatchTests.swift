import Foundation
import LiteProof
import Testing

/// `liteproof watch`'s rounds (``Watcher``) against real `litestream replicate` of each version:
/// what a round reads, what it finds, and what it carries across rounds and restarts.
@Suite(.serialized) struct WatchTests {
    /// Steady writes: every round is ok, and a round after the first reads only the files that
    /// appeared since (0.3: the WAL indexes they are in); a watcher restarted with the same state
    /// file reads only the files new since the last round.
    @Test(arguments: LitestreamVersion.allCases)
    func roundsReadOnlyNewFilesAndResumeFromState(_ v: LitestreamVersion) throws {
        let live = try startLiveReplication(v, seedRows: 300, compacting: false)
        defer { live.litestream.stop(); live.writer.close() }
        try waitUntil("a restorable replica", timeout: 30) { latestPosition(live.replica) != nil }
        try writeAndWait(live, rows: 100)
        let stateFile = try rigTempDir("watch-state") + "/state.json"
        let w = Watcher(database: live.replica, stateFile: stateFile) { try Replica.open(live.replica) }

        let r1 = w.round()
        #expect(r1.verdict == .ok, "\(r1.reason)")
        #expect(r1.filesListed > 1 && r1.filesChecked == r1.filesListed)
        let known1 = Set(w.state.files.keys)
        #expect(Set(r1.checkedPaths) == known1)

        try writeAndWait(live, rows: 3)
        let r2 = w.round()
        #expect(r2.verdict == .ok, "\(r2.reason)")
        #expect(r2.round == 2)
        let known2 = Set(w.state.files.keys)
        let appeared2 = known2.subtracting(known1)
        #expect(!appeared2.isEmpty)
        #expect(Set(r2.checkedPaths) == appeared2, "only the files new since: 0.3 segments go on from the WAL state carried")
        #expect(r2.bytesRead == bytes(of: Set(r2.checkedPaths), in: w.state))
        // (Litestream 0.5 compacts and snapshots at wall-clock multiples of its intervals, so a
        // round can meet a new snapshot; 0.3 writes none after the first here.)
        if v == .v03 {
            #expect(!r2.checkedPaths.contains { $0.contains("/snapshots/") })
        } else if appeared2.allSatisfy({ $0.hasPrefix("ltx/0/") }) {
            #expect(r2.filesChecked < r1.filesChecked)
            #expect(r2.bytesRead < r1.bytesRead)
        }
        #expect(r2.findings.allSatisfy { $0.code != .fileChanged }, "\(r2.findings)")

        // Restart: a new watcher with the same state file reads only what appeared since.
        try writeAndWait(live, rows: 3)
        let w2 = Watcher(database: live.replica, stateFile: stateFile) { try Replica.open(live.replica) }
        let r3 = w2.round()
        #expect(r3.warnings.isEmpty, "\(r3.warnings)")
        #expect(r3.verdict == .ok, "\(r3.reason)")
        #expect(r3.round == 3)
        let known3 = Set(w2.state.files.keys)
        let appeared3 = known3.subtracting(known2)
        #expect(!appeared3.isEmpty)
        #expect(Set(r3.checkedPaths) == appeared3, "after a restart too: the carry is in the state file")
        #expect(r3.bytesRead == bytes(of: Set(r3.checkedPaths), in: w2.state))
        if v == .v03 || appeared3.allSatisfy({ $0.hasPrefix("ltx/0/") }) { #expect(r3.bytesRead < r1.bytesRead) }
        if v == .v03 { #expect(w2.state.carries?.isEmpty == false, "the WAL indexes' carries are kept") }
        // The same verdict and position as a full verify of the same files.
        let full = Verifier(replica: try Replica.open(live.replica)).run()
        #expect(full.verdict == .ok)
    }

    /// A byte flipped in a file already verified (its time changes, as any write's does):
    /// `file.changed`, damaged within one round, and still damaged the round after.
    @Test(arguments: LitestreamVersion.allCases)
    func fileChangedAfterVerified(_ v: LitestreamVersion) throws {
        let dir = try scratchCopy(ofDirectory: try WatchFixtures.replica(v))
        let w = Watcher(database: dir) { try Replica.open(dir) }
        let r1 = w.round()
        #expect(r1.verdict == .ok, "\(r1.reason)")
        let victim = try newestFile(dir)
        try flipByte(dir + "/" + victim, at: fileSize(dir + "/" + victim) / 2, preserveMTime: false)
        try bumpTime(dir + "/" + victim)

        let r2 = w.round()
        #expect(r2.verdict == .damaged)
        #expect(r2.checkedPaths.contains(victim))
        #expect(r2.findings.contains { $0.code == .fileChanged && $0.file == victim && $0.severity == .error }, "\(r2.findings)")
        // The file is read again: the flipped byte is named with its offset.
        #expect(r2.findings.contains { $0.file == victim && $0.code != .fileChanged && $0.offset != nil }, "\(r2.findings)")
        let r3 = w.round()
        #expect(r3.verdict == .damaged)
        #expect(r3.filesChecked == 0)
        #expect(r3.findings.contains { $0.code == .fileChanged && $0.file == victim })
    }

    /// A byte flipped in a file as it arrives: damaged within one round, naming the file and
    /// the offset; the round reads the new file (0.3: with its WAL index).
    @Test(arguments: LitestreamVersion.allCases)
    func damagedNewFile(_ v: LitestreamVersion) throws {
        let dir = try scratchCopy(ofDirectory: try WatchFixtures.replica(v))
        let victim = try newestFile(dir)
        let aside = try rigTempDir("watch-aside") + "/file"
        try FileManager.default.moveItem(atPath: dir + "/" + victim, toPath: aside)
        let w = Watcher(database: dir) { try Replica.open(dir) }
        let r1 = w.round()
        #expect(r1.verdict == .ok, "\(r1.reason)")

        try flipByte(aside, at: fileSize(aside) / 2)
        try FileManager.default.moveItem(atPath: aside, toPath: dir + "/" + victim)
        let r2 = w.round()
        #expect(r2.verdict == .damaged)
        if v == .v05 { #expect(r2.checkedPaths == [victim]) }
        #expect(r2.checkedPaths.contains(victim))
        let f = r2.findings.first { $0.file == victim && $0.severity == .error }
        #expect(f != nil, "\(r2.findings)")
        #expect(f?.offset != nil)
        #expect(f?.code != .fileChanged)
        // (0.5: the latest restore may start from a snapshot that holds the file's TXIDs.)
        if v == .v03 { #expect(r2.latestBrokenBy?.file == victim) }
    }

    /// A file the latest restore needs, deleted by hand: the gap is named (damaged), the round
    /// reads nothing new (0.3: the rest of the segment's WAL index), and the file counts as gone.
    @Test(arguments: LitestreamVersion.allCases)
    func deletionThatBreaksTheLatestRestore(_ v: LitestreamVersion) throws {
        let dir = try scratchCopy(ofDirectory: try WatchFixtures.replica(v))
        // 0.5: without the compacted files and the snapshot, the latest restore chains the
        // level-0 files from TXID 1.
        for f in try Replica.open(dir).ltx?.files.filter({ $0.level > 0 }) ?? [] {
            try FileManager.default.removeItem(atPath: dir + "/" + f.path)
        }
        let w = Watcher(database: dir) { try Replica.open(dir) }
        let r1 = w.round()
        #expect(r1.verdict == .ok, "\(r1.reason)")
        let plan = try RestorePlanner(replica: Replica.open(dir)).plan()
        // A file in the middle of the latest plan (not its first, not its last).
        let victim = try #require(plan.files.dropFirst().dropLast().last, "the plan has \(plan.files)")
        try FileManager.default.removeItem(atPath: dir + "/" + victim)

        let r2 = w.round()
        #expect(r2.verdict == .damaged)
        #expect(r2.filesGone == 1)
        #expect(r2.findings.contains { $0.code == .chainGap && $0.severity == .error }, "\(r2.findings)")
        if v == .v05 { #expect(r2.filesChecked == 0) }
        #expect(!r2.checkedPaths.contains(victim))
    }

    /// A file gone that the latest restore does not need (Litestream's retention removing what a
    /// newer file holds): no finding, the verdict stays ok.
    @Test func deletionTheLatestRestoreDoesNotNeedIsNoDamage() throws {
        let dir = try scratchCopy(ofDirectory: try WatchFixtures.replica(.v05))
        let w = Watcher(database: dir) { try Replica.open(dir) }
        #expect(w.round().verdict == .ok)
        // A level-1 file that holds everything the first level-0 files held makes them redundant.
        let plan = try RestorePlanner(replica: Replica.open(dir)).plan()
        let layout = try #require(try Replica.open(dir).ltx)
        let unneeded = layout.files.filter { !plan.files.contains($0.path) }
        try #require(!unneeded.isEmpty, "every file is in the latest plan: \(plan.files)")
        for f in unneeded { try FileManager.default.removeItem(atPath: dir + "/" + f.path) }
        let r2 = w.round()
        #expect(r2.verdict == .ok, "\(r2.reason)")
        #expect(r2.filesGone == unneeded.count)
        #expect(r2.findings.filter { $0.severity == .error }.isEmpty)
    }

    /// A store that cannot be listed: unreadable (unreachable), never damaged, and the state
    /// written before is kept for the next round.
    @Test func unreachableStoreIsNeverDamage() throws {
        let dir = try WatchFixtures.replica(.v05)
        let stateFile = try rigTempDir("watch-state") + "/state.json"
        let first = Watcher(database: dir, stateFile: stateFile) { try Replica.open(dir) }
        #expect(first.round().verdict == .ok)
        let down = Watcher(database: dir, stateFile: stateFile) { throw LiteProofError.storage(.transfer, "connection refused") }
        let r = down.round()
        #expect(r.verdict == .unreadable)
        #expect(r.findings.isEmpty)
        #expect(r.reason.hasPrefix("unreachable"))
        let again = Watcher(database: dir, stateFile: stateFile) { try Replica.open(dir) }
        let r2 = again.round()
        #expect(r2.warnings.isEmpty)
        #expect(r2.filesChecked == 0)
        #expect(r2.verdict == .ok)
    }
}

/// Real replicas, made once per test process and only read: tests that damage one copy it.
enum WatchFixtures {
    private static let made = Locked<[LitestreamVersion: String]>([:])

    /// A replica of a few hundred rows in several transactions, Litestream stopped.
    static func replica(_ v: LitestreamVersion) throws -> String {
        try made.update { m in
            if let r = m[v] { return r }
            let live = try startLiveReplication(v, seedRows: 200, compacting: false)
            defer { live.litestream.stop(); live.writer.close() }
            try waitUntil("a restorable replica", timeout: 30) { latestPosition(live.replica) != nil }
            for _ in 0..<4 { try writeAndWait(live, rows: 20) }
            m[v] = live.replica
            return live.replica
        }
    }
}

/// The latest restorable position of the replica at `path`, nil when none can be planned.
func latestPosition(_ path: String) -> String? {
    (try? RestorePlanner(replica: Replica.open(path)).plan())?.position.description
}

/// Inserts `rows` rows in one transaction and waits until the replica's latest position moves.
func writeAndWait(_ live: LiveReplication, rows: Int) throws {
    let before = latestPosition(live.replica)
    try live.writer.exec("BEGIN; " + String(repeating: "INSERT INTO orders(item, qty) VALUES (hex(randomblob(200)), 1);", count: rows) + " COMMIT;")
    try waitUntil("the write replicated", timeout: 30) {
        let now = latestPosition(live.replica)
        return now != nil && now != before
    }
}

/// The sizes of `paths` as the watcher last listed them.
func bytes(of paths: Set<String>, in state: WatchState) -> Int64 {
    paths.reduce(0) { $0 + (state.files[$1]?.size ?? -1_000_000) }
}

/// The replica's newest data file (the last WAL segment, or the level-0 file with the highest
/// TXID), relative to the replica root.
func newestFile(_ dir: String) throws -> String {
    let replica = try Replica.open(dir)
    if let v03 = replica.v03, let last = v03.generations.last?.segments.last { return last.path }
    if let ltx = replica.ltx, let last = ltx.files(atLevel: 0).last { return last.path }
    throw RigError(message: "no WAL segment or level-0 file in \(dir)")
}

/// Sets the file's modification time a minute later (a change in place shows in the listing).
func bumpTime(_ path: String) throws {
    let t = (FS.modificationTime(path) ?? Date().timeIntervalSince1970) + 60
    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: t)], ofItemAtPath: path)
}

extension WatchTests {
    /// Litestream compacting and enforcing retention while the watcher runs (0.5: level-0 files
    /// compacted and removed, snapshots; 0.3: checkpoints, snapshots, old snapshots and their WAL
    /// removed): every round stays ok, nothing is `file.changed`, and files gone are counted.
    @Test(arguments: LitestreamVersion.allCases)
    func litestreamCompactionAndRetentionRaiseNothing(_ v: LitestreamVersion) throws {
        let dir = try rigTempDir("watch-compact")
        let db = dir + "/app.db", replica = dir + "/replica", config = dir + "/litestream.yml"
        let writer = try RigDB(db)
        try writer.exec("PRAGMA journal_mode=WAL")
        try writer.exec("CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT, qty INTEGER)")
        let v03 = """
            dbs:
              - path: "\(db)"
                monitor-interval: 100ms
                checkpoint-interval: 1s
                min-checkpoint-page-count: 10
                replicas:
                  - type: file
                    path: "\(replica)"
                    sync-interval: 100ms
                    snapshot-interval: 1s
                    retention: 2s
                    retention-check-interval: 1s

            """
        let v05 = """
            l0-retention: 1s
            l0-retention-check-interval: 1s
            levels:
              - interval: 1s
              - interval: 2s
            snapshot:
              interval: 3s
              retention: 4s
            dbs:
              - path: "\(db)"
                monitor-interval: 100ms
                checkpoint-interval: 1h
                replica:
                  type: file
                  path: "\(replica)"
                  sync-interval: 100ms
            """
        try (v == .v03 ? v03 : v05).write(toFile: config, atomically: true, encoding: .utf8)
        let ls = try LitestreamProcess(binary: try Litestream.binary(v), config: config, logPath: dir + "/litestream.log")
        let live = LiveReplication(dir: dir, db: db, replica: replica, litestream: ls, writer: writer)
        defer { ls.stop(); writer.close() }
        try writeAndWait(live, rows: 50)
        let w = Watcher(database: replica) { try Replica.open(replica) }
        var gone = 0, rounds = 0
        let deadline = Date().addingTimeInterval(60)
        while (gone < 3 || rounds < 10) && Date() < deadline {
            try writeAndWait(live, rows: 5)
            let r = w.round()
            rounds += 1
            gone += r.filesGone
            #expect(r.verdict == .ok, "round \(r.round): \(r.reason)")
            #expect(!r.findings.contains { $0.code == .fileChanged }, "round \(r.round): \(r.findings)")
        }
        #expect(gone >= 3, "Litestream removed \(gone) files in \(rounds) rounds")
    }
}
