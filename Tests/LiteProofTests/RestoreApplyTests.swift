import Foundation
import Testing

@testable import LiteProof

/// The restore's apply paths beyond the comparison suite: the 0.3 page map forced to flush and
/// overflow on real replicas, and inputs forged from real replicas whose numbers would otherwise
/// size the work (a WAL frame naming an absurd page, an LTX header claiming 2^30 pages).
@Suite struct RestoreApplyTests {
    let frame = 24 + 4096

    /// A page map of 16 slots flushes every few transactions and overflows into the scratch file
    /// for any larger transaction, and appended pages start writeback after every index (its
    /// thresholds shrunk to a page): the output must still be litestream's, at every index.
    @Test(arguments: [Scenario.v03Basic, .v03Multi, .v03Page64k])
    func tinyPageMapRestoresWhatLitestreamRestores(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let replica = try Replica.open(r.replicaDir)
        let gen = try RestorePlanner(replica: replica).chooseGeneration(.latest()).0
        var targets: [(RestoreTarget, [String])] = [(.latest(), [])]
        for i in gen.indexes where gen.snapshots.contains(where: { $0.index <= i }) {
            targets.append((.walIndex(i), ["-index", i.hex(width: 8)]))
        }
        let writebacks = BackgroundWriteback.rangesStarted
        for (target, args) in targets {
            let dir = try rigTempDir("tinymap")
            let ours = dir + "/liteproof.db", theirs = dir + "/litestream.db"
            var restorer = Restorer(replica: replica)
            restorer.pageMapMemory = 1  // the minimum: 16 slots
            restorer.appendedWritebackMargin = 0
            restorer.appendedWritebackBatch = 1
            try restorer.restore(target, to: ours, options: RestoreOptions(integrityCheck: .none))
            let (status, text) = try litestreamRestore(r.version, replicaDir: r.replicaDir, output: theirs, args: args)
            try #require(status == 0, "litestream restore \(args): \(text)")
            #expect(FileManager.default.contentsEqual(atPath: ours, andPath: theirs), "\(s) \(args): differs from litestream restore")
        }
        #expect(BackgroundWriteback.rangesStarted > writebacks, "appended pages started writeback")
    }

    /// A transaction larger than the page map writes its pages past the database's committed end
    /// straight to the output; cut inside such a transaction (`--offset` at a frame in its
    /// middle), the restore must drop them again. At every frame of every index, a 16-slot page
    /// map restores the same bytes as one large enough never to overflow.
    @Test(arguments: [Scenario.v03Basic, .v03Multi, .v03Page64k])
    func overflowingTransactionsCutAnywhereRestoreAlike(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let replica = try Replica.open(r.replicaDir)
        let gen = try RestorePlanner(replica: replica).chooseGeneration(.latest()).0
        var appendingOverflows = 0
        for index in gen.indexes where gen.snapshots.contains(where: { $0.index <= index }) {
            let segments = gen.segments(of: index)
            // The transactions of this index: how many frames, and whether one writes past the
            // database's size at its start (the size before the index is not needed: any page past
            // every earlier commit's size counts, which undercounts only).
            var frameEnds: [Int64] = []
            var pageSize = 0
            var committedPages: UInt32 = 0, framesInTransaction = 0, pastEnd = false
            _ = try V03Readers.readIndex(replica, index: index, segments: segments, expectedPageSize: nil) { f in
                pageSize = f.page.count
                frameEnds.append(f.walOffset + 24 + Int64(f.page.count))
                framesInTransaction += 1
                if committedPages > 0 && f.pageNumber > committedPages { pastEnd = true }
                if f.commitSize != 0 {
                    if framesInTransaction > 16 && pastEnd { appendingOverflows += 1 }
                    committedPages = max(committedPages, f.commitSize)
                    framesInTransaction = 0
                    pastEnd = false
                }
            }
            // Every frame end in small indexes; about 40 spread over a large one, and the last.
            let step = max(1, frameEnds.count / 40)
            let offsets = stride(from: 0, to: frameEnds.count, by: step).map { frameEnds[$0] } + frameEnds.suffix(1)
            for offset in offsets {
                let dir = try rigTempDir("cut")
                defer { try? FileManager.default.removeItem(atPath: dir) }
                var tiny = Restorer(replica: replica)
                tiny.pageMapMemory = 1  // 16 slots
                var large = Restorer(replica: replica)
                large.pageMapMemory = 1 << 30
                let target = RestoreTarget.walIndex(index, offset: offset)
                try tiny.restore(target, to: dir + "/tiny.db", options: RestoreOptions(integrityCheck: .none))
                try large.restore(target, to: dir + "/large.db", options: RestoreOptions(integrityCheck: .none))
                let a = try bytes(of: dir + "/tiny.db"), b = try bytes(of: dir + "/large.db")
                let firstDiff = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                #expect(
                    a == b,
                    "\(s) index \(index) offset \(offset) (page size \(pageSize)): a 16-slot page map restores other bytes (\(a.count) against \(b.count) bytes, first difference in page \(firstDiff.map { $0 / max(pageSize, 1) + 1 } ?? 0))"
                )
            }
        }
        if s == .v03Basic { #expect(appendingOverflows > 0, "the replica has transactions that overflow 16 slots past the database's end") }
    }

    /// A transaction larger than the pending arena goes to the scratch file an arena at a time and
    /// comes back in frame order: a page written twice ends with its later image.
    @Test func pendingPagesSpillInFrameOrder() throws {
        let dir = try rigTempDir("spill")
        let pageSize = 512
        let order: [UInt32] = [3, 4, 5, 9, 1, 2, 3, 10, 11, 12, 4, 7, 8, 1]
        let pending = PendingPages(pageSize: pageSize, memoryLimit: 3 * pageSize, spillDirectory: dir)
        var expected = [UInt8](repeating: 0, count: 12 * pageSize)
        for (k, pgno) in order.enumerated() {
            let page = [UInt8](repeating: UInt8(k + 1), count: pageSize)
            try page.withUnsafeBytes { try pending.append(pgno, $0) }
            expected.replaceSubrange((Int(pgno - 1) * pageSize)..<(Int(pgno) * pageSize), with: page)
        }
        let out = try OutputFile(creating: dir + "/out")
        try pending.flush(to: PageWriter(out, pageSize: pageSize))
        try out.truncate(to: Int64(expected.count))
        #expect(try bytes(of: dir + "/out") == expected)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out"])  // the scratch file is unlinked
    }

    /// 0.5 restores write each page's newest version only: with a window of 7 pages (every
    /// window boundary, runs cut short) the output is still litestream's, at every TXID.
    @Test(arguments: [Scenario.v05Basic, .v05Compacted, .v05Page64k])
    func newestFirstInSmallWindowsRestoresWhatLitestreamRestores(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        try compareEveryTXID(r.replicaDir, windows: [7], label: "\(s)")
    }

    /// A real 0.5.17 replica of a database that grows, is rewritten, shrinks (VACUUM) and grows a
    /// little again: older files hold pages beyond the final commit (dropped), the newest
    /// version of a page can be in an old file below newer files that lack it, and every TXID
    /// in the middle restores to what litestream restores.
    @Test func newestFirstAcrossAShrinkingDatabase() async throws {
        let work = try rigTempDir("shrink")
        let replicaDir = work + "/replica", dbPath = work + "/db.sqlite", config = work + "/litestream.yml"
        try RigScenarioBuilder.v05Config(db: dbPath, replica: replicaDir).write(toFile: config, atomically: true, encoding: .utf8)
        let db = try RigDB(dbPath)
        try db.exec("PRAGMA page_size=1024")
        _ = try db.query("PRAGMA journal_mode=WAL")
        try db.exec("CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB)")
        let ls = try LitestreamProcess(binary: try Litestream.binary(.v05), config: config, logPath: work + "/litestream.log")
        defer { ls.stop() }
        func step(_ sql: String) async throws {
            let before = RigV05Files.maxTXID(replicaDir, level: 0)
            try db.exec(sql)
            try await rigWait("an L0 file after \(sql.prefix(40))", timeout: 45, context: { ls.log }) {
                guard ls.isRunning else { throw RigError("litestream exited: \(ls.log)") }
                return RigV05Files.maxTXID(replicaDir, level: 0) > before
            }
        }
        try await step("INSERT INTO big(b) VALUES(randomblob(10))")
        try await step(
            "INSERT INTO big(b) SELECT randomblob(900) FROM (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) SELECT i FROM c)")
        try await step("UPDATE big SET b = randomblob(900) WHERE id % 3 = 0")
        try await step("DELETE FROM big WHERE id > 40")
        try await step("VACUUM")
        try await step("UPDATE big SET b = randomblob(900) WHERE id = 5")
        try await step(
            "INSERT INTO big(b) SELECT randomblob(900) FROM (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20) SELECT i FROM c)")
        db.close()
        ls.stop()
        // The replica holds what the test is about: a commit larger than the final one.
        let replica = try Replica.open(replicaDir)
        let commits = try RigV05Files.files(replicaDir, level: 0).map { f in
            try LTX.readHeader(try replica.open("ltx/0/" + f.name), name: f.name).commit
        }
        try #require(commits.count >= 7, "\(commits)")
        try #require(commits.max()! > commits.last! + 100, "the database did not shrink: \(commits)")
        try compareEveryTXID(replicaDir, windows: [nil, 7, 64], label: "shrinking")
        let out = try rigTempDir("latest") + "/db"
        try Restorer(replica: replica).restore(to: out, options: RestoreOptions(integrityCheck: .full))
    }

    /// Newest first (as `verify`'s trial restore reads, after checking every file), the newest
    /// version of a page is read from where the page index points: a page header there naming
    /// another page, or a size prefix that disagrees with the index, stops the restore with the
    /// file and offset (the first frame of the plan's last file: at 100).
    @Test(arguments: [(103, FindingCode.ltxPageIndex, Int64(100)), (109, .ltxPageHeader, 106)])
    func newestFirstChecksThePagesItReads(_ byte: Int, _ code: FindingCode, _ offset: Int64) throws {
        let dir = try exampleCopy("0.5")
        let plan = try RestorePlanner(replica: try Replica.open(dir)).plan()
        let last = try #require(plan.files.last)
        try flipByte(dir + "/" + last, at: byte, mask: 0x01)
        let out = try rigTempDir("newestdamage") + "/db"
        do {
            var restorer = Restorer(replica: try Replica.open(dir))
            restorer.filesChecked = true
            try restorer.restore(to: out)
            Issue.record("the restore did not notice a damaged frame in \(last)")
        } catch let e as LiteProofError {
            #expect(e.kind == .damaged)
            #expect(e.finding?.code == code, "\(e.message)")
            #expect(e.finding?.file == last)
            #expect(e.finding?.offset == offset, "\(e.message)")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try verify(dir).verdict == .damaged)
    }

    /// Restores every TXID of a 0.5 replica with LiteProof (default window and `windows`) and
    /// with litestream, and compares the bytes.
    func compareEveryTXID(_ replicaDir: String, windows: [Int?], label: String) throws {
        let replica = try Replica.open(replicaDir)
        let last = (0...9).map { RigV05Files.maxTXID(replicaDir, level: $0) }.max()!
        try #require(last >= 2)
        for txid in UInt64(1)...last {
            let dir = try rigTempDir("newest")
            let theirs = dir + "/litestream.db"
            let (status, text) = try litestreamRestore(.v05, replicaDir: replicaDir, output: theirs, args: ["-txid", txid.hex(width: 16)])
            try #require(status == 0, "litestream restore -txid \(txid): \(text)")
            for window in windows {
                for checked in [false, true] {
                    let ours = dir + "/liteproof-\(window ?? 0)-\(checked).db"
                    var restorer = Restorer(replica: replica)
                    if let window { restorer.ltxWindowPages = window }
                    restorer.filesChecked = checked
                    try restorer.restore(.txid(txid), to: ours, options: RestoreOptions(integrityCheck: .none))
                    #expect(
                        FileManager.default.contentsEqual(atPath: ours, andPath: theirs),
                        "\(label) TXID \(txid), window \(window.map(String.init) ?? "default"), files checked \(checked): differs from litestream restore")
                }
            }
        }
    }

    /// The last frame of the example's WAL names page 2^30 − 1 (resealed into the checksum chain,
    /// recompressed): every file check passes, and the restore reports the frame as damage
    /// (exit 1) instead of trying to write a 4 TiB file.
    @Test func walFrameNamingAnAbsurdPageIsDamage() throws {
        let dir = try exampleCopy("0.3"), seg = Fixtures.v03Segment("00018260")
        var frameOffset = 0
        try recompressLZ4(dir + "/" + seg) { b in
            let n = b.count / frame
            let last = (n - 1) * frame, prev = (n - 2) * frame
            frameOffset = last
            let page = UInt32((1 << 30) - 1).bigEndian
            withUnsafeBytes(of: page) { for k in 0..<4 { b[last + k] = $0[k] } }
            resealFrame(&b, at: last, pageSize: 4096, seed: (u32(b, prev + 16), u32(b, prev + 20)), bigEndian: false)
        }
        let out = try rigTempDir("absurd") + "/out.db"
        let started = Date()
        let run = try runLiteProof(["restore", dir, "-o", out, "--keep-failed", "--integrity-check", "none"], timeout: 60)
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.contains("wal.bad-frame"), "\(run.stderr)")
        #expect(run.stderr.contains("1073741823"), "\(run.stderr)")
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(!FileManager.default.fileExists(atPath: out))
        do {
            try Restorer(replica: try Replica.open(dir)).restore(to: out)
            Issue.record("the restore should fail")
        } catch let e as LiteProofError {
            #expect(e.kind == .damaged)
            #expect(e.finding?.code == .walBadFrame)
            #expect(e.finding?.file == seg)
            #expect(e.finding?.offset == Int64(frameOffset))
        }
        let r = Verifier(replica: try Replica.open(dir), restoreCheck: .quick).run()
        #expect(r.verdict == .damaged)
    }

    /// The example's 0.5 snapshot claims 2^30 pages (a 46 KB file), or 2^32 − 1: the restore
    /// refuses it as damage (the header's limit or the pages the files hold) before sizing
    /// anything from that number, within a 1 GiB address-space limit.
    @Test(arguments: [UInt32(1 << 30), .max])
    func ltxCommitBeyondThePagesHeldIsDamage(_ commit: UInt32) throws {
        let dir = try exampleCopy("0.5"), path = dir + "/" + LTXDamageTests.snapshot
        var b = try bytes(of: path)
        withUnsafeBytes(of: commit.bigEndian) { for k in 0..<4 { b[12 + k] = $0[k] } }
        try write(b, to: path)
        let out = try rigTempDir("bigcommit") + "/out.db"
        let started = Date()
        // `liteproof restore` under a 1 GiB address-space limit (a 4 GiB owner array would fail).
        let r = try runLiteProof(["restore", dir, "-o", out], timeout: 60, addressSpaceKiB: 1 << 20)
        let text = r.stdout + r.stderr
        #expect(r.status == 1, "\(text)")
        #expect(text.contains(commit == 1 << 30 ? "ltx.bad-commit" : "ltx.bad-header"), "\(text)")
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
