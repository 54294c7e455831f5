// Self-tests of the test rig (Rig/*.swift): the replicas are real, consistent with
// the live database, shaped as each scenario promises, and the helpers work.

import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Test rig")
struct RigSelfTests {

    @Test("litestream binaries are found and are the right versions", arguments: LitestreamVersion.allCases)
    func binaries(_ v: LitestreamVersion) throws {
        let path = try Litestream.binary(v)
        #expect(FileManager.default.isExecutableFile(atPath: path))
        let (status, out) = try runProcess(path, ["version"], timeout: 30)
        #expect(status == 0)
        #expect(out.contains(v.rawValue))
    }

    @Test("package root is the folder with Package.swift")
    func packageRoot() throws {
        let root = try #require(Litestream.packageRoot())
        #expect(FileManager.default.fileExists(atPath: root + "/Package.swift"))
        #expect(Litestream.packageRoot(from: "/nonexistent-dir-xyz/a/b.swift") == nil)
    }

    @Test(
        "each scenario: shape, restore == checkpointed live db, no process left",
        arguments: Scenario.allCases)
    func scenario(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        print("rig: \(s) built in \(String(format: "%.1f", r.buildSeconds))s at \(r.workDir)")
        #expect(r.scenario == s)
        #expect(r.version == s.version)
        #expect(r.pageSize == s.pageSize)
        #expect(FileManager.default.fileExists(atPath: r.liveDB))
        #expect(FileManager.default.fileExists(atPath: r.liveDB + "-wal"), "live db keeps its WAL")
        #expect(r.replicaDir.hasPrefix(r.workDir) && r.liveDB.hasPrefix(r.workDir))
        #expect(!r.log.isEmpty)
        #expect(!rigListFiles(r.replicaDir).contains { $0.hasSuffix(".tmp") }, "\(rigListFiles(r.replicaDir))")

        // Page size and contents of the live db.
        #expect(try sqliteQuery(r.liveDB, "PRAGMA page_size") == [[String(s.pageSize)]])
        let liveRows = try sqliteQuery(r.liveDB, "SELECT count(*), sum(length(v)) FROM t")
        let rowCount = Int(liveRows[0][0]) ?? 0
        #expect(rowCount >= 100, "t has \(rowCount) rows")
        #expect(try sqliteQuery(r.liveDB, "SELECT n FROM kv WHERE k = 'final'") == [["1"]])

        // Shape.
        switch s.version {
        case .v03:
            let gens = RigV03Files.generations(r.replicaDir)
            #expect(Set(gens) == Set(r.generations))
            let latest = try #require(r.generations.last)
            let segs = RigV03Files.walSegments(r.replicaDir, latest)
            let snaps = RigV03Files.snapshots(r.replicaDir, latest)
            #expect(!snaps.isEmpty)
            #expect(rigListFiles(r.replicaDir).allSatisfy { $0.hasSuffix(".lz4") })
            switch s {
            case .v03Basic:
                #expect(gens.count == 1)
                #expect(Set(segs.map(\.index)) == [0])
                #expect(segs.count >= 3)
            case .v03Multi:
                #expect(gens.count == 2)
                #expect(Set(segs.map(\.index)).count >= 3)
                #expect(snaps.count >= 2)
                let perIndex = segs.reduce(into: [UInt32: Int]()) { $0[$1.index, default: 0] += 1 }
                #expect((perIndex.values.max() ?? 0) >= 3)
                #expect(RigV03Files.walIndexes(r.replicaDir, r.generations[0]).count >= 2)
                #expect(r.log.contains("wal header mismatch"))
                #expect(r.log.contains("sync: new generation"))
            default:
                #expect(gens.count == 1)
                #expect(segs.count >= 2)
            }
        case .v05:
            #expect(r.generations.isEmpty)
            let l0 = RigV05Files.files(r.replicaDir, level: 0)
            #expect(l0.count >= (s == .v05Basic ? 6 : 4))
            #expect(l0.first?.minTXID == 1)
            // L0 files are consecutive single transactions.
            for (a, b) in zip(l0, l0.dropFirst()) { #expect(b.minTXID == a.maxTXID + 1) }
            if s == .v05Compacted {
                #expect(RigV05Files.files(r.replicaDir, level: 1).count >= 2)
                #expect(RigV05Files.files(r.replicaDir, level: 2).count >= 1)
                #expect(RigV05Files.files(r.replicaDir, level: 9).count >= 2)
                #expect(RigV05Files.maxTXID(r.replicaDir, level: 1) == RigV05Files.maxTXID(r.replicaDir, level: 0))
                #expect(r.log.contains("compaction complete"))
                #expect(r.log.contains("snapshot complete"))
            }
        }

        // The replica's latest position equals the live db (explicitly, not only via the build's check).
        let out = try rigTempDir("selftest") + "/restored.db"
        let (status, text) = try litestreamRestore(s.version, replicaDir: r.replicaDir, output: out)
        #expect(status == 0, "\(text)")
        let live = try checkpointCopy(of: r.liveDB)
        let restoredBytes = try Data(contentsOf: URL(fileURLWithPath: out))
        let liveBytes = try Data(contentsOf: URL(fileURLWithPath: live))
        #expect(restoredBytes == liveBytes)
        #expect(restoredBytes.count % s.pageSize == 0)
        #expect(try sqliteQuery(out, "PRAGMA integrity_check") == [["ok"]])
        #expect(try sqliteQuery(out, "SELECT count(*), sum(length(v)) FROM t") == liveRows)
        // Some pages were freed along the way (scratch table emptied, rows deleted).
        #expect(Int(try sqliteQuery(out, "PRAGMA freelist_count")[0][0]) ?? 0 > 0)
        // The live db was left alone by all of this.
        #expect(FileManager.default.fileExists(atPath: r.liveDB + "-wal"))

        // No litestream process of this scenario is left running.
        #expect(rigProcessesMentioning(r.workDir + "/litestream.yml").isEmpty)
    }

    @Test("0.3: restore of an older generation and an earlier index")
    func v03PointInTime() async throws {
        let r = try await ReplicaFactory.shared.replica(.v03Multi)
        let gen1 = r.generations[0]
        let dir = try rigTempDir("pit")
        let (s1, t1) = try litestreamRestore(
            .v03, replicaDir: r.replicaDir, output: dir + "/g1.db",
            args: ["-generation", gen1])
        #expect(s1 == 0, "\(t1)")
        let old = Int(try sqliteQuery(dir + "/g1.db", "SELECT count(*) FROM t")[0][0]) ?? 0
        let now = Int(try sqliteQuery(r.liveDB, "SELECT count(*) FROM t")[0][0]) ?? 0
        #expect(old > 0 && old < now)

        let gen2 = r.generations[1]
        let firstIndex = try #require(RigV03Files.walIndexes(r.replicaDir, gen2).first)
        let (s2, t2) = try litestreamRestore(
            .v03, replicaDir: r.replicaDir, output: dir + "/i.db",
            args: ["-generation", gen2, "-index", String(format: "%08x", firstIndex)])
        #expect(s2 == 0, "\(t2)")
        #expect(try sqliteQuery(dir + "/i.db", "PRAGMA integrity_check") == [["ok"]])
    }

    @Test("0.5: restore to an earlier TXID")
    func v05PointInTime() async throws {
        let r = try await ReplicaFactory.shared.replica(.v05Basic)
        let l0 = RigV05Files.files(r.replicaDir, level: 0)
        let mid = l0[l0.count / 2].maxTXID
        let out = try rigTempDir("pit5") + "/mid.db"
        let (status, text) = try litestreamRestore(
            .v05, replicaDir: r.replicaDir, output: out,
            args: ["-txid", String(format: "%016llx", mid)])
        #expect(status == 0, "\(text)")
        let old = Int(try sqliteQuery(out, "SELECT count(*) FROM kv")[0][0]) ?? -1
        let now = Int(try sqliteQuery(r.liveDB, "SELECT count(*) FROM kv")[0][0]) ?? -1
        #expect(old >= 0 && old < now)
    }

    @Test("scratchCopy keeps names, bytes and nanosecond mtimes")
    func scratchCopyPreserves() async throws {
        for s in [Scenario.v03Basic, .v05Basic] {
            let r = try await ReplicaFactory.shared.replica(s)
            let copy = try scratchCopy(of: r)
            #expect(copy != r.replicaDir)
            let files = rigListFiles(r.replicaDir)
            #expect(!files.isEmpty)
            #expect(rigListFiles(copy) == files)
            for f in files {
                let a = try rigFileTimes(r.replicaDir + "/" + f).mtime
                let b = try rigFileTimes(copy + "/" + f).mtime
                #expect(a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec, "\(f)")
                #expect(FileManager.default.contentsEqual(atPath: r.replicaDir + "/" + f, andPath: copy + "/" + f))
            }
        }
    }

    @Test("flipByte and truncate change the file but not its mtime")
    func flipAndTruncate() throws {
        let dir = try rigTempDir("damage")
        let path = dir + "/f.bin"
        try Data((0..<100).map { UInt8($0) }).write(to: URL(fileURLWithPath: path))
        var old = timespec(tv_sec: 1_600_000_000, tv_nsec: 123_456_789)
        try rigSetFileTimes(path, (old, old))
        try flipByte(path, at: 10)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count == 100)
        #expect(bytes[10] == 10 ^ 0xFF)
        #expect(bytes[9] == 9 && bytes[11] == 11)
        var m = try rigFileTimes(path).mtime
        #expect(m.tv_sec == old.tv_sec && m.tv_nsec == old.tv_nsec)
        #expect(throws: RigError.self) { try flipByte(path, at: 100) }

        try truncate(path, to: 40)
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count == 40)
        m = try rigFileTimes(path).mtime
        #expect(m.tv_sec == old.tv_sec && m.tv_nsec == old.tv_nsec)

        try flipByte(path, at: 0, preserveMTime: false)
        m = try rigFileTimes(path).mtime
        #expect(m.tv_sec != old.tv_sec)
        old = m
    }

    @Test("recompressLZ4: identity keeps the replica good; a changed WAL byte is only caught inside")
    func recompress() async throws {
        let r = try await ReplicaFactory.shared.replica(.v03Basic)
        let copy = try scratchCopy(of: r)
        let gen = try #require(r.generations.last)
        let segs = RigV03Files.walSegments(copy, gen)
        let last = try #require(segs.last)
        let path = "\(copy)/generations/\(gen)/wal/\(last.name)"
        let before = try lz4DecompressFile(path)
        let mtime = try rigFileTimes(path).mtime

        // Identity round trip: same payload, still a valid frame, same mtime, restore still matches.
        try recompressLZ4(path) { _ in }
        #expect(try lz4DecompressFile(path) == before)
        let haveLZ4CLI = FileManager.default.isExecutableFile(atPath: "/usr/bin/lz4")
        if haveLZ4CLI {  // an independent decoder agrees the frame is valid
            let (lzStatus, lzOut) = try runProcess("/usr/bin/lz4", ["-t", path], timeout: 30)
            #expect(lzStatus == 0, "\(lzOut)")
        }
        let m = try rigFileTimes(path).mtime
        #expect(m.tv_sec == mtime.tv_sec && m.tv_nsec == mtime.tv_nsec)
        let dir = try rigTempDir("recompress")
        var (status, text) = try litestreamRestore(.v03, replicaDir: copy, output: dir + "/a.db")
        #expect(status == 0, "\(text)")
        let live = try checkpointCopy(of: r.liveDB)
        #expect(FileManager.default.contentsEqual(atPath: dir + "/a.db", andPath: live))

        // Change one byte of page data in the segment's first frame (24-byte frame header first;
        // a segment at offset 0 also starts with the 32-byte WAL header).
        let at = (last.offset == 0 ? 32 : 0) + 24 + 100
        #expect(before.count > at)
        try recompressLZ4(path) { $0[at] ^= 0x55 }
        let after = try lz4DecompressFile(path)
        #expect(after.count == before.count)
        #expect(zip(after, before).filter { $0 != $1 }.count == 1)
        let frame = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(frame.prefix(4)) == [0x04, 0x22, 0x4D, 0x18], "LZ4 frame magic")
        #expect(frame[4] & 0x04 != 0, "content checksum flag is set")
        if haveLZ4CLI {
            let (lz2, lzOut2) = try runProcess("/usr/bin/lz4", ["-t", path], timeout: 30)
            #expect(lz2 == 0, "the LZ4 frame itself stays valid: \(lzOut2)")
        }
        (status, text) = try litestreamRestore(.v03, replicaDir: copy, output: dir + "/b.db")
        let same = status == 0 && FileManager.default.contentsEqual(atPath: dir + "/b.db", andPath: live)
        #expect(!same, "a damaged WAL frame must not restore to the live db")
    }

    @Test("sqliteQuery is read-only; checkpointCopy leaves the original alone")
    func sqliteHelpers() async throws {
        let r = try await ReplicaFactory.shared.replica(.v05Basic)
        #expect(throws: RigError.self) { try sqliteQuery(r.liveDB, "CREATE TABLE nope(x)") }
        let walSize = try FileManager.default.attributesOfItem(atPath: r.liveDB + "-wal")[.size] as? Int
        let copy = try checkpointCopy(of: r.liveDB)
        #expect(copy != r.liveDB)
        #expect(try FileManager.default.attributesOfItem(atPath: r.liveDB + "-wal")[.size] as? Int == walSize)
        #expect((walSize ?? 0) > 0)
        #expect(try sqliteQuery(copy, "PRAGMA journal_mode") == [["wal"]])
        #expect(try sqliteQuery(copy, "SELECT count(*) FROM t") == sqliteQuery(r.liveDB, "SELECT count(*) FROM t"))
    }

    @Test("a litestream process stops on SIGINT with status 0")
    func processStops() throws {
        let dir = try rigTempDir("proc")
        let db = try RigWorkload.create(path: dir + "/db.sqlite", pageSize: 4096)
        defer { db.close() }
        let cfg = "dbs:\n  - path: \"\(dir)/db.sqlite\"\n    replicas:\n      - type: file\n        path: \"\(dir)/replica\"\n"
        try cfg.write(toFile: dir + "/ls.yml", atomically: true, encoding: .utf8)
        let ls = try LitestreamProcess(
            binary: try Litestream.binary(.v03), config: dir + "/ls.yml",
            logPath: dir + "/log.txt")
        // Litestream prints its version once its signal handler is in place.
        try waitUntil("litestream to start", timeout: 60) { ls.log.contains("litestream") }
        #expect(ls.isRunning)
        let t0 = Date()
        ls.stop()
        #expect(!ls.isRunning)
        #expect(Date().timeIntervalSince(t0) < 5)
        #expect(ls.process.terminationStatus == 0)
        #expect(kill(ls.process.processIdentifier, 0) != 0)
        #expect(ls.log.contains("litestream"))
        #expect(rigProcessesMentioning(dir + "/ls.yml").isEmpty)
    }

    @Test("a process that ignores SIGINT is SIGKILLed after the grace period")
    func processKilled() throws {
        let dir = try rigTempDir("stubborn")
        let script = dir + "/stubborn.sh"
        try "#!/bin/sh\ntrap '' INT\necho ignoring\nwhile :; do sleep 0.1; done\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let p = try LitestreamProcess(binary: script, config: dir + "/unused.yml", logPath: dir + "/log.txt")
        try waitUntil("the script to ignore SIGINT", timeout: 60) { p.log.contains("ignoring") }
        #expect(p.isRunning)
        let t0 = Date()
        p.stop(grace: 0.5)
        #expect(!p.isRunning)
        #expect(p.process.terminationReason == .uncaughtSignal)
        #expect(p.process.terminationStatus == SIGKILL)
        #expect(Date().timeIntervalSince(t0) < 5)
    }
}
