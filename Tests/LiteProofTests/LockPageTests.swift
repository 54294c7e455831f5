import Foundation
import LiteProof
import Testing

/// Databases past 1 GiB, replicated by real Litestream: the lock page (the page holding byte
/// 2^30, which SQLite never writes) is never stored in a replica and restores as zeros, exactly as
/// `litestream restore` writes it. One 1.2 GB database per version (64 KiB pages; 128 MiB
/// transactions, so 0.3's 1.2 GB WAL segment also exercises the spilled transaction buffer).
@Suite(.serialized) struct LockPageTests {
    /// Each case writes about 6 GB (database, WAL, two restores, a checkpointed copy).
    static var enoughDisk: Bool {
        var st = statvfs()
        let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        guard statvfs(dir, &st) == 0 else { return true }
        return UInt64(st.f_bavail) * UInt64(st.f_frsize) > 12 << 30
    }

    @Test(.enabled(if: enoughDisk, "needs 12 GB free in the temporary folder"), arguments: LitestreamVersion.allCases)
    func lockPageRestoresAsSQLiteAndLitestreamLeaveIt(_ v: LitestreamVersion) throws {
        let dir = try rigTempDir("lockpage-\(v.rawValue)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/big.db", replicaDir = dir + "/replica"
        let writer = try RigDB(db)
        try writer.exec("PRAGMA page_size=65536; PRAGMA journal_mode=WAL;")
        try writer.exec("CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB); CREATE TABLE small(id INTEGER PRIMARY KEY, v TEXT);")
        let ls = try startLitestream(v, db: db, replica: replicaDir, in: dir)
        defer { ls.stop(); writer.close() }
        // Litestream has started on the database once its first file is in the replica.
        try waitUntil("litestream's first file in the replica", timeout: 60) { !FS.walk(replicaDir).isEmpty }
        for _ in 0..<9 { try writer.exec("INSERT INTO big(b) VALUES (zeroblob(128*1024*1024))") }
        // Pages after the lock page hold real data.
        try writer.exec(
            "INSERT INTO small(v) SELECT hex(randomblob(100)) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<2000) SELECT i FROM n)"
        )
        // Wait for the replica to reach the live database's position: its newest commit must
        // describe the database as the live side has it now (every transaction only grows it, so
        // equal page counts mean the last one arrived). Never wait for a quiet period: 0.3 may
        // spend longer than any fixed quiet time compressing the 1.2 GB segment.
        let livePages = UInt32(try writer.query("PRAGMA page_count")[0][0])!
        var seen: [String: UInt32] = [:]  // listing signature → replica's last commit size
        try waitUntil("the replica to reach the live database's \(livePages) pages", timeout: 300) {
            try replicaLastCommitPages(replicaDir, v, cache: &seen) == livePages
        }
        ls.stop()
        let pageSize = 65536
        let lockPage = LTX.lockPage(pageSize: pageSize)
        #expect(lockPage == 16385)

        let replica = try Replica.open(replicaDir)
        // The lock page is never stored.
        if v == .v05 {
            for f in replica.ltx!.files {
                let file = try replica.open(f.path)
                let index = try LTX.readIndex(file, name: f.path, header: try LTX.readHeader(file, name: f.path))
                #expect(!index.contains { $0.pageNumber == lockPage }, "\(f.path) stores the lock page")
            }
        } else {
            let gen = replica.v03!.generations.last!
            for i in gen.indexes {
                _ = try V03Readers.readIndex(replica, index: i, segments: gen.segments(of: i), expectedPageSize: pageSize, failFast: true) { frame in
                    #expect(frame.pageNumber != lockPage)
                }
            }
        }
        let ours = dir + "/liteproof.db", theirs = dir + "/litestream.db"
        let report = try Restorer(replica: replica).restore(to: ours, options: RestoreOptions(integrityCheck: .quick))
        #expect(report.pageCount > Int64(lockPage) + 1000, "the database must extend past the lock page")
        let (status, out) = try litestreamRestore(v, replicaDir: replicaDir, output: theirs, timeout: 300)
        try #require(status == 0, "\(out)")
        #expect(FileManager.default.contentsEqual(atPath: ours, andPath: theirs), "LiteProof's restore differs from litestream restore")
        let live = try checkpointCopy(of: db)
        #expect(FileManager.default.contentsEqual(atPath: ours, andPath: live), "the restore differs from the live database")
        // The lock page reads as zeros.
        let f = try ReadOnlyFile(ours)
        let lock = try f.read(count: pageSize, at: Int64(lockPage - 1) * Int64(pageSize))
        #expect(lock.count == pageSize && lock.allSatisfy { $0 == 0 })
        #expect(try sqliteQuery(ours, "SELECT count(*) FROM small")[0][0] == "2000")
        try? FileManager.default.removeItem(atPath: live)
    }
}

/// The replayer's undo log returns the working file to exactly the earlier state.
@Suite struct ReplayerTests {
    @Test(arguments: [Scenario.v03Multi, .v05Compacted])
    func rewindRestoresTheEarlierStateExactly(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let replica = try Replica.open(r.replicaDir)
        let replay = try Replayer(replica: replica)
        try #require(replay.points.count >= 4)
        let a = replay.points.count / 3, b = replay.points.count - 1
        try replay.advance(to: a, undoable: false)
        let atA = try bytes(of: replay.workingPath)
        try replay.advance(to: b, undoable: true)
        let atB = try bytes(of: replay.workingPath)
        #expect(atA != atB)
        try replay.rewind()
        #expect(replay.current == a)
        #expect(try bytes(of: replay.workingPath) == atA, "rewind must give back the exact bytes")
        // and forward again reaches the same end state, which equals a restore to that point
        try replay.advance(to: b, undoable: false)
        #expect(try bytes(of: replay.workingPath) == atB)
        let latest = try rigTempDir("replay") + "/latest.db"
        try Restorer(replica: replica).restore(to: latest, options: RestoreOptions(integrityCheck: .none))
        #expect(try bytes(of: latest) == atB, "replaying every point ends where a restore does")
    }
}

/// An LTX file with more pages than fit one read buffer of page index (150,000 pages of 512
/// bytes: a page index over 1 MiB), written by real Litestream 0.5.17.
@Suite struct ManyPagesTests {
    @Test func ltxFileWithALargePageIndex() throws {
        let dir = try rigTempDir("manypages")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/many.db", replicaDir = dir + "/replica"
        let writer = try RigDB(db)
        try writer.exec("PRAGMA page_size=512; PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB);")
        let ls = try startLitestream(.v05, db: db, replica: replicaDir, in: dir)
        defer { ls.stop(); writer.close() }
        try waitUntil("litestream's first L0 file", timeout: 30) { RigV05Files.maxTXID(replicaDir, level: 0) >= 1 }
        try writer.exec(
            "INSERT INTO t(b) SELECT randomblob(400) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<140000) SELECT i FROM n)")
        // Wait for a level-9 snapshot that holds every page.
        let pages = Int(try writer.query("PRAGMA page_count")[0][0])!
        try #require(pages > 140_000)
        try waitUntil("a snapshot of every page", timeout: 90) {
            let replica = try Replica.open(replicaDir)
            return try replica.ltx?.files(atLevel: 9).contains { f in
                try LTX.readHeader(try replica.open(f.path), name: f.path).commit >= UInt32(pages)
            } ?? false
        }
        ls.stop()
        let replica = try Replica.open(replicaDir)
        let big = try #require(replica.ltx?.files(atLevel: 9).last)
        let file = try replica.open(big.path)
        let indexSize = try file.read(count: 8, at: file.size - 24).u64BE(at: 0)
        #expect(indexSize > 1 << 20, "the page index should exceed 1 MiB, is \(indexSize)")
        #expect(try verify(replicaDir).verdict == .ok)
        let ours = dir + "/ours.db", theirs = dir + "/theirs.db"
        try Restorer(replica: replica).restore(to: ours, options: RestoreOptions(integrityCheck: .none))
        #expect(try litestreamRestore(.v05, replicaDir: replicaDir, output: theirs, timeout: 300).status == 0)
        #expect(FileManager.default.contentsEqual(atPath: ours, andPath: theirs))
    }
}

/// The database size (pages) that the replica's newest commit records, or nil while it has none.
/// Re-reads only when the replica's listing changed (`cache` is keyed by names and sizes).
private func replicaLastCommitPages(_ replicaDir: String, _ v: LitestreamVersion, cache: inout [String: UInt32]) throws -> UInt32? {
    let listing = FS.walk(replicaDir).sorted().map { "\($0) \(FS.fileSize(replicaDir + "/" + $0) ?? 0)" }.joined(separator: "\n")
    if let known = cache[listing] { return known }
    let replica = try Replica.open(replicaDir)
    var pages: UInt32?
    if v == .v05 {
        guard let last = replica.ltx?.files.filter({ $0.level != LTXLayout.snapshotLevel }).max(by: { $0.maxTXID < $1.maxTXID }) else { return nil }
        pages = try LTX.readHeader(try replica.open(last.path), name: last.path).commit
    } else {
        guard let gen = replica.v03?.generations.max(by: { ($0.timeBounds?.1 ?? 0) < ($1.timeBounds?.1 ?? 0) }),
            let index = gen.indexes.last
        else { return nil }
        let result = try V03Readers.readIndex(replica, index: index, segments: gen.segments(of: index), expectedPageSize: nil, failFast: false) { _ in }
        pages = result.commits > 0 ? result.lastCommitSize : nil
    }
    if let pages { cache[listing] = pages }
    return pages
}

extension Array where Element == UInt8 {
    fileprivate func u64BE(at offset: Int) -> UInt64 { self[offset..<(offset + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
}
