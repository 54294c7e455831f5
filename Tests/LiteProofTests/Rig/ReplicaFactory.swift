// Test rig: builds REAL Litestream replicas by running the real `litestream`
// binaries (0.3.13 and 0.5.17) against a database that the rig writes to.
//
//   let r = try await ReplicaFactory.shared.replica(.v03Multi)
//   r.replicaDir   // replica root: generations/… (0.3) or ltx/… (0.5)
//   r.liveDB       // the live db (+ -wal, -shm), litestream stopped, not checkpointed
//
// Each scenario is built at most once per test process and shared by all tests:
// NEVER modify r.replicaDir or r.liveDB. Damage a scratchCopy(of:) instead, and
// read the live db with sqliteQuery (read-only) or checkpointCopy(of:).
//
// Everything lives under one temp root ($TMPDIR or /tmp)/liteproof-rig-<pid>-<n>,
// removed at process exit (atexit) unless LITEPROOF_KEEP_RIG=1.
//
// Before a build returns, the rig checks that `litestream restore` of the replica
// is byte-identical to a checkpointed copy of the live database; a build whose
// replica does not match is thrown away and retried once.

import Foundation

enum Scenario: String, CaseIterable, Sendable {
    /// 0.3.13, page 4096, one generation, one snapshot, one WAL index (litestream
    /// checkpoints switched off) holding ~10 WAL segments, ~300 rows.
    case v03Basic
    /// 0.3.13, page 1024, 2 generations (the 2nd made by: stop litestream, app runs
    /// wal_checkpoint(TRUNCATE) and writes, restart → "wal header mismatch" → new
    /// generation). The latest generation has ≥ 3 WAL indexes, one of them with ≥ 3
    /// segments, and ≥ 2 snapshots (snapshot-interval 1s). It may start at WAL
    /// index 0 or 1 (both seen). Gen 1 has ≥ 2 indexes too.
    case v03Multi
    /// 0.3.13, page 65536, one generation, one WAL index, ≥ 2 segments, overflow pages.
    case v03Page64k
    /// 0.5.17, page 4096, ≥ 6 consecutive L0 files. Litestream also makes an L1
    /// compaction and an L9 snapshot ~1 s after start; whether an L2 file or a 2nd
    /// L1 exists depends on the wall clock (compaction ticks are clock-aligned).
    case v05Basic
    /// 0.5.17, page 1024, ≥ 2 L1 files, ≥ 1 L2 file, ≥ 2 L9 snapshots; L1 covers the final TXID.
    case v05Compacted
    /// 0.5.17, page 65536, ≥ 4 L0 files, overflow pages.
    case v05Page64k

    var version: LitestreamVersion {
        switch self {
        case .v03Basic, .v03Multi, .v03Page64k: return .v03
        case .v05Basic, .v05Compacted, .v05Page64k: return .v05
        }
    }

    var pageSize: Int {
        switch self {
        case .v03Basic, .v05Basic: return 4096
        case .v03Multi, .v05Compacted: return 1024
        case .v03Page64k, .v05Page64k: return 65536
        }
    }
}

struct RealReplica: Sendable {
    let scenario: Scenario
    let version: LitestreamVersion
    /// The replica root (contains generations/ for 0.3, ltx/ for 0.5).
    let replicaDir: String
    /// The live database. Litestream has been stopped; its -wal and -shm are still
    /// there and it was NOT checkpointed after the stop.
    let liveDB: String
    /// Scratch folder holding both (plus litestream.yml and litestream.log).
    let workDir: String
    let pageSize: Int
    /// Litestream's combined stdout+stderr over all its runs for this scenario.
    let log: String
    /// 0.3 only: generation ids in the order they were created (last = latest). [] for 0.5.
    let generations: [String]
    /// Seconds the build took (wall clock).
    let buildSeconds: Double
}

actor ReplicaFactory {
    static let shared = ReplicaFactory()

    private var builds: [Scenario: Task<RealReplica, Error>] = [:]

    /// The replica for `s`, built on first request; concurrent callers share one build.
    func replica(_ s: Scenario) async throws -> RealReplica {
        if let t = builds[s] { return try await t.value }
        let t = Task.detached(priority: .medium) { () throws -> RealReplica in
            do {
                return try await RigScenarioBuilder.build(s)
            } catch {
                // Timing-dependent steps can lose a race on a loaded machine: retry once.
                FileHandle.standardError.write(Data("LiteProof rig: \(s) failed once, retrying: \(error)\n".utf8))
                return try await RigScenarioBuilder.build(s)
            }
        }
        builds[s] = t
        return try await t.value
    }
}

// MARK: - Replica layout readers (used by the builder and handy in tests)

struct RigWALSegment: Equatable, Sendable {
    let index: UInt32
    let offset: UInt32
    let name: String
}

enum RigV03Files {
    static func generations(_ replicaDir: String) -> [String] {
        rigListDir(replicaDir + "/generations").filter { $0.count == 16 }
    }

    /// Snapshot indexes of a generation, ascending.
    static func snapshots(_ replicaDir: String, _ gen: String) -> [UInt32] {
        rigListDir("\(replicaDir)/generations/\(gen)/snapshots").compactMap { name in
            guard name.hasSuffix(".snapshot.lz4") else { return nil }
            return UInt32(name.prefix(8), radix: 16)
        }.sorted()
    }

    /// WAL segments of a generation, sorted by (index, offset).
    static func walSegments(_ replicaDir: String, _ gen: String) -> [RigWALSegment] {
        rigListDir("\(replicaDir)/generations/\(gen)/wal").compactMap { name in
            guard name.hasSuffix(".wal.lz4") else { return nil }
            let parts = name.prefix(17).split(separator: "_")
            guard parts.count == 2, let i = UInt32(parts[0], radix: 16), let o = UInt32(parts[1], radix: 16)
            else { return nil }
            return RigWALSegment(index: i, offset: o, name: name)
        }.sorted { ($0.index, $0.offset) < ($1.index, $1.offset) }
    }

    static func walIndexes(_ replicaDir: String, _ gen: String) -> [UInt32] {
        Array(Set(walSegments(replicaDir, gen).map(\.index))).sorted()
    }
}

struct RigLTXFile: Equatable, Sendable {
    let level: Int
    let minTXID: UInt64
    let maxTXID: UInt64
    let name: String
}

enum RigV05Files {
    /// LTX files of one level (0…9), sorted by (minTXID, maxTXID).
    static func files(_ replicaDir: String, level: Int) -> [RigLTXFile] {
        rigListDir("\(replicaDir)/ltx/\(level)").compactMap { name in
            guard name.hasSuffix(".ltx"), name.count == 37 else { return nil }
            let parts = name.dropLast(4).split(separator: "-")
            guard parts.count == 2, let a = UInt64(parts[0], radix: 16), let b = UInt64(parts[1], radix: 16)
            else { return nil }
            return RigLTXFile(level: level, minTXID: a, maxTXID: b, name: name)
        }.sorted { ($0.minTXID, $0.maxTXID) < ($1.minTXID, $1.maxTXID) }
    }

    static func levels(_ replicaDir: String) -> [Int] {
        rigListDir(replicaDir + "/ltx").compactMap { Int($0) }.sorted()
    }

    static func maxTXID(_ replicaDir: String, level: Int) -> UInt64 {
        files(replicaDir, level: level).map(\.maxTXID).max() ?? 0
    }
}

// MARK: - The workload

/// Deterministic-ish write load: table t(id, v) with an index, a WITHOUT ROWID
/// table kv, a scratch table that is filled and emptied (→ freelist pages),
/// inserts, updates and deletes, some values large enough for overflow pages.
struct RigWorkload {
    let db: RigDB
    let pageSize: Int
    private var rng: UInt64
    private var nextID: Int64 = 1
    private(set) var round = 0

    init(db: RigDB, pageSize: Int, seed: UInt64) {
        self.db = db
        self.pageSize = pageSize
        self.rng = seed | 1
    }

    private mutating func next() -> UInt64 {
        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
        return rng
    }

    private mutating func text(_ length: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var s = ""
        s.reserveCapacity(length)
        var x = next()
        for i in 0..<length {
            if i % 10 == 0 { x = next() }
            s.append(alphabet[Int(x % 36)]); x /= 36
        }
        return s
    }

    /// Creates the database: page size, WAL mode, schema, a few rows.
    static func create(path: String, pageSize: Int) throws -> RigDB {
        let db = try RigDB(path)
        try db.exec("PRAGMA page_size=\(pageSize)")
        let mode = try db.query("PRAGMA journal_mode=WAL")
        guard mode.first?.first?.lowercased() == "wal" else { throw RigError("journal_mode=WAL gave \(mode)") }
        try db.exec(
            """
            CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
            CREATE INDEX t_v ON t(v);
            CREATE TABLE kv(k TEXT PRIMARY KEY, n INTEGER NOT NULL, data BLOB) WITHOUT ROWID;
            CREATE TABLE scratch(x BLOB);
            """)
        let ps = try db.query("PRAGMA page_size")
        guard ps.first?.first == String(pageSize) else { throw RigError("page_size is \(ps), wanted \(pageSize)") }
        return db
    }

    /// One write transaction: inserts `rows` rows, updates some (rewriting most
    /// pages of t and its index) unless `update` is false, deletes some older
    /// ones every third round, upserts kv, and fills/empties scratch.
    mutating func runRound(rows: Int, update: Bool = true) throws {
        round += 1
        let r = round
        try db.exec("BEGIN IMMEDIATE")
        do {
            var params: [[RigValue]] = []
            for i in 0..<rows {
                // Mostly small values; every 13th row spills to overflow pages.
                let len = i % 13 == 7 ? pageSize * 2 + 100 : 20 + Int(next() % 200)
                params.append([.int(nextID), .text("r\(r)-\(nextID)-" + text(len))])
                nextID += 1
            }
            try db.run("INSERT INTO t(id, v) VALUES(?, ?)", rows: params)
            if update {
                try db.exec("UPDATE t SET v = v || '.\(r)' WHERE id % 5 = \(r % 5)")
            }
            if update && r % 3 == 0 {
                try db.exec("DELETE FROM t WHERE id IN (SELECT id FROM t ORDER BY id LIMIT \(max(1, rows / 2)))")
            }
            var kv: [[RigValue]] = []
            for _ in 0..<3 {
                let blob = (0..<(40 + Int(next() % 120))).map { _ in UInt8(truncatingIfNeeded: next()) }
                kv.append([.text("key\(next() % 24)"), .blob(blob)])
            }
            try db.run(
                "INSERT INTO kv(k, n, data) VALUES(?, 1, ?) ON CONFLICT(k) DO UPDATE SET n = n + 1, data = excluded.data",
                rows: kv)
            if !update {
                // small round: nothing else
            } else if r % 4 == 1 {
                try db.exec(
                    """
                    INSERT INTO scratch(x) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 6)
                    SELECT randomblob(\(pageSize / 2)) FROM c
                    """)
            } else if r % 4 == 3 {
                try db.exec("DELETE FROM scratch")  // frees pages: they go to the freelist
            }
            try db.exec("COMMIT")
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
    }

    /// The last writes of every scenario: fill scratch and commit, then empty it
    /// (so the final database has freelist pages) and mark kv 'final' = 1.
    func finalWrites() throws {
        try db.exec(
            """
            INSERT INTO scratch(x) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 6)
            SELECT randomblob(\(pageSize / 2)) FROM c
            """)
        try db.exec(
            """
            BEGIN IMMEDIATE;
            DELETE FROM scratch;
            INSERT INTO kv(k, n, data) VALUES('final', 1, x'00') ON CONFLICT(k) DO UPDATE SET n = n + 1;
            COMMIT;
            """)
    }
}

// MARK: - Building

enum RigScenarioBuilder {
    static func build(_ s: Scenario) async throws -> RealReplica {
        let started = Date()
        let work = try rigTempDir(s.rawValue)
        let replicaDir = work + "/replica"
        let dbPath = work + "/db.sqlite"
        let logPath = work + "/litestream.log"
        let configPath = work + "/litestream.yml"
        let binary = try Litestream.binary(s.version)
        // Stable per scenario (String.hashValue is randomly seeded per process).
        let seed = s.rawValue.unicodeScalars.reduce(UInt64(0x9E37_79B9_7F4A_7C15)) { ($0 &* 31) &+ UInt64($1.value) }
        var generations: [String] = []

        switch s {
        case .v03Basic, .v03Page64k:
            // No checkpoints by litestream: everything stays in WAL index 0.
            try v03Config(db: dbPath, replica: replicaDir, checkpointing: false, snapshotInterval: nil)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            let db = try RigWorkload.create(path: dbPath, pageSize: s.pageSize)
            var w = RigWorkload(db: db, pageSize: s.pageSize, seed: seed)
            let ls = try LitestreamProcess(binary: binary, config: configPath, logPath: logPath)
            defer { ls.stop() }
            let rounds = s == .v03Basic ? 8 : 4
            let rows = s == .v03Basic ? 50 : 40
            try await v03WaitForGeneration(replicaDir, count: 1, ls)
            for _ in 0..<rounds {
                let before = v03SegmentCount(replicaDir)
                try w.runRound(rows: rows)
                try await rigWait("a new WAL segment", timeout: 45, context: { ls.log }) {
                    try checkAlive(ls); return v03SegmentCount(replicaDir) > before
                }
            }
            try await v03FinishAndStop(replicaDir, w, ls)
            generations = RigV03Files.generations(replicaDir)
            let gen = try only(generations, "generation")
            let segs = RigV03Files.walSegments(replicaDir, gen)
            try require(Set(segs.map(\.index)).count == 1, "one WAL index, got \(segs.map(\.name))")
            try require(segs.count >= (s == .v03Basic ? 3 : 2), "enough WAL segments, got \(segs.map(\.name))")

        case .v03Multi:
            // Generation 1: checkpoints at ≥ 40 WAL pages → several WAL indexes.
            try v03Config(db: dbPath, replica: replicaDir, checkpointing: true, snapshotInterval: "1s")
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            let db = try RigWorkload.create(path: dbPath, pageSize: s.pageSize)
            var w = RigWorkload(db: db, pageSize: s.pageSize, seed: seed)
            do {
                let ls = try LitestreamProcess(binary: binary, config: configPath, logPath: logPath)
                defer { ls.stop() }
                try await v03WaitForGeneration(replicaDir, count: 1, ls)
                for _ in 0..<3 {
                    let before = v03SegmentCount(replicaDir)
                    try w.runRound(rows: 30)
                    try await rigWait("a new WAL segment", timeout: 45, context: { ls.log }) {
                        try checkAlive(ls); return v03SegmentCount(replicaDir) > before
                    }
                }
                try await v03WaitCaughtUp(dbPath, replicaDir, ls)
                ls.stop()
                try requireNoTemporaryFiles(replicaDir)
            }
            let gen1 = try only(RigV03Files.generations(replicaDir), "generation after the first run")
            // Between runs, the application checkpoints the WAL away (TRUNCATE) and
            // writes: litestream can no longer continue its generation and starts a new one.
            let ck = try db.query("PRAGMA wal_checkpoint(TRUNCATE)")
            try require(ck.first?.first == "0", "wal_checkpoint(TRUNCATE) not blocked, got \(ck)")
            try w.runRound(rows: 10)
            do {
                let ls = try LitestreamProcess(binary: binary, config: configPath, logPath: logPath)
                defer { ls.stop() }
                try await v03WaitForGeneration(replicaDir, count: 2, ls)
                let gen2 = try only(RigV03Files.generations(replicaDir).filter { $0 != gen1 }, "new generation")
                var r = 0
                // Alternate small and large rounds: small ones add segments to the current
                // index, large ones cross min-checkpoint-page-count and start a new index.
                func segmentsPerIndex() -> [UInt32: Int] {
                    RigV03Files.walSegments(replicaDir, gen2).reduce(into: [:]) { $0[$1.index, default: 0] += 1 }
                }
                while r < 6 || RigV03Files.walIndexes(replicaDir, gen2).count < 3
                    || RigV03Files.snapshots(replicaDir, gen2).count < 2
                    || (segmentsPerIndex().values.max() ?? 0) < 3
                {
                    try require(
                        r < 40,
                        "enough WAL indexes and snapshots after 40 rounds in \(gen2): "
                            + "\(RigV03Files.walSegments(replicaDir, gen2).map(\.name)), "
                            + "snapshots \(RigV03Files.snapshots(replicaDir, gen2))")
                    let before = v03SegmentCount(replicaDir)
                    try w.runRound(rows: r % 2 == 0 ? 4 : 30, update: r % 2 == 1)
                    try await rigWait("a new WAL segment", timeout: 45, context: { ls.log }) {
                        try checkAlive(ls); return v03SegmentCount(replicaDir) > before
                    }
                    r += 1
                }
                try await v03FinishAndStop(replicaDir, w, ls)
                generations = [gen1, gen2]
            }

        case .v05Basic, .v05Compacted, .v05Page64k:
            try v05Config(db: dbPath, replica: replicaDir)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            let db = try RigWorkload.create(path: dbPath, pageSize: s.pageSize)
            var w = RigWorkload(db: db, pageSize: s.pageSize, seed: seed)
            let ls = try LitestreamProcess(binary: binary, config: configPath, logPath: logPath)
            defer { ls.stop() }
            try await rigWait("the first L0 file", timeout: 45, context: { ls.log }) {
                try checkAlive(ls); return RigV05Files.maxTXID(replicaDir, level: 0) >= 1
            }
            let rows = s == .v05Page64k ? 40 : 30
            let minRounds = s == .v05Basic ? 6 : s == .v05Page64k ? 4 : 8
            var r = 0
            while true {
                let enough: Bool
                switch s {
                case .v05Compacted:
                    enough =
                        RigV05Files.files(replicaDir, level: 1).count >= 2
                        && RigV05Files.files(replicaDir, level: 2).count >= 1
                        && RigV05Files.files(replicaDir, level: 9).count >= 2
                default:
                    enough = true
                }
                if r >= minRounds && enough { break }
                try require(
                    r < 80,
                    "enough compactions/snapshots after 80 rounds: "
                        + "\(rigListFiles(replicaDir))")
                let before = RigV05Files.maxTXID(replicaDir, level: 0)
                try w.runRound(rows: r < minRounds ? rows : 4)
                try await rigWait("a new L0 file", timeout: 45, context: { ls.log }) {
                    try checkAlive(ls); return RigV05Files.maxTXID(replicaDir, level: 0) > before
                }
                r += 1
            }
            try await v05FinishAndStop(replicaDir, w, ls, waitForL1: s == .v05Compacted)
        }

        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        let replica = RealReplica(
            scenario: s, version: s.version, replicaDir: replicaDir, liveDB: dbPath,
            workDir: work, pageSize: s.pageSize, log: log, generations: generations,
            buildSeconds: Date().timeIntervalSince(started))
        try verifyLatestMatchesLive(replica)
        return replica
    }

    // MARK: 0.3.13

    static func v03Config(
        db: String, replica: String, checkpointing: Bool,
        snapshotInterval: String?
    ) -> String {
        // monitor-interval: how often litestream looks at the WAL (default 1s).
        // A litestream checkpoint happens when the WAL has ≥ min-checkpoint-page-count
        // pages (default 1000) or checkpoint-interval passed (default 1m); after it,
        // litestream writes to _litestream_seq so the WAL restarts → a new WAL index.
        var lines = [
            "dbs:",
            "  - path: \"\(db)\"",
            "    monitor-interval: 200ms",
            "    checkpoint-interval: 1h",
        ]
        if checkpointing {
            lines += ["    min-checkpoint-page-count: 40"]
        } else {
            lines += ["    min-checkpoint-page-count: 1000000", "    max-checkpoint-page-count: 2000000"]
        }
        lines += [
            "    replicas:",
            "      - type: file",
            "        path: \"\(replica)\"",
            "        sync-interval: 100ms",
        ]
        if let snapshotInterval { lines += ["        snapshot-interval: \(snapshotInterval)"] }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func v03SegmentCount(_ replicaDir: String) -> Int {
        RigV03Files.generations(replicaDir).reduce(0) { $0 + RigV03Files.walSegments(replicaDir, $1).count }
    }

    private static func v03WaitForGeneration(_ replicaDir: String, count: Int, _ ls: LitestreamProcess) async throws {
        try await rigWait("generation #\(count) with a snapshot", timeout: 45, context: { ls.log }) {
            try checkAlive(ls)
            let gens = RigV03Files.generations(replicaDir)
            return gens.count >= count
                && gens.allSatisfy {
                    !RigV03Files.snapshots(replicaDir, $0).isEmpty && !RigV03Files.walSegments(replicaDir, $0).isEmpty
                }
        }
    }

    /// Waits until the replica holds every commit of the live WAL: litestream's shadow WAL (its
    /// copy of the live WAL, one file per WAL index) ends where the live WAL's last commit
    /// ends, and the replica's newest segment of that index ends there too.
    private static func v03WaitCaughtUp(_ db: String, _ replicaDir: String, _ ls: LitestreamProcess) async throws {
        var seen = ""
        try await rigWait("the replica to reach the live WAL's last commit (\(seen))", timeout: 45, context: { ls.log }) {
            try checkAlive(ls)
            let p = RigPositions.v03(db: db, replicaDir: replicaDir)
            seen = p.description
            return p.caughtUp
        }
    }

    /// A last small write, wait until the replica holds it, close our connection (while
    /// litestream still holds one, so SQLite does not checkpoint on close), then stop
    /// litestream, which finishes or abandons (and removes) any file it is writing.
    private static func v03FinishAndStop(_ replicaDir: String, _ w: RigWorkload, _ ls: LitestreamProcess) async throws {
        let db = w.db
        try w.finalWrites()
        try await v03WaitCaughtUp(db.path, replicaDir, ls)
        db.close()
        // Closing a connection that is not the last one writes nothing: the position holds.
        try await v03WaitCaughtUp(db.path, replicaDir, ls)
        ls.stop()
        try requireNoTemporaryFiles(replicaDir)
    }

    // MARK: 0.5.17

    /// No checkpoint by time (the default is every minute): on a loaded machine a scenario can
    /// take that long, and the shape of the live WAL must not depend on the machine's speed.
    static func v05Config(db: String, replica: String) -> String {
        """
        levels:
          - interval: 2s
          - interval: 4s
        snapshot:
          interval: 5s
        dbs:
          - path: "\(db)"
            monitor-interval: 200ms
            checkpoint-interval: 1h
            replica:
              type: file
              path: "\(replica)"
              sync-interval: 100ms

        """
    }

    private static func v05FinishAndStop(
        _ replicaDir: String, _ w: RigWorkload, _ ls: LitestreamProcess,
        waitForL1: Bool
    ) async throws {
        let db = w.db
        let before = RigV05Files.maxTXID(replicaDir, level: 0)
        try w.finalWrites()
        try await rigWait("the final L0 file", timeout: 45, context: { ls.log }) {
            try checkAlive(ls); return RigV05Files.maxTXID(replicaDir, level: 0) > before
        }
        db.close()
        // Litestream keeps each L0 file it made in its metadata folder before it uploads it:
        // the replica has caught up when its newest L0 TXID is the metadata folder's.
        let meta = RigPositions.metaFolder(db.path)
        try await rigWait("the replica's L0 to reach litestream's own newest L0 file", timeout: 45, context: { ls.log }) {
            try checkAlive(ls)
            let local = RigV05Files.maxTXID(meta, level: 0)
            return local > before && RigV05Files.maxTXID(replicaDir, level: 0) == local
        }
        if waitForL1 {
            try await rigWait("L1 to cover the final TXID", timeout: 45, context: { ls.log }) {
                try checkAlive(ls)
                return RigV05Files.maxTXID(replicaDir, level: 1) == RigV05Files.maxTXID(replicaDir, level: 0)
            }
        }
        // A compaction or snapshot under way when litestream stops is finished or abandoned
        // (its temporary file removed) by litestream's shutdown; checked after.
        ls.stop()
        try requireNoTemporaryFiles(replicaDir)
    }

    /// Litestream writes each replica file under a temporary name and renames it; one left
    /// behind would be an interrupted write, which no scenario should contain.
    private static func requireNoTemporaryFiles(_ replicaDir: String) throws {
        let left = rigListFiles(replicaDir).filter { $0.hasSuffix(".tmp") }
        try require(left.isEmpty, "no temporary files left in the replica after litestream stopped, got \(left)")
    }

    private static func checkAlive(_ ls: LitestreamProcess) throws {
        if !ls.isRunning {
            throw RigError("litestream exited early (status \(ls.process.terminationStatus)):\n\(ls.log)")
        }
    }

    private static func require(_ ok: Bool, _ what: @autoclosure () -> String) throws {
        if !ok { throw RigError("scenario check failed: expected \(what())") }
    }

    private static func only(_ xs: [String], _ what: String) throws -> String {
        guard xs.count == 1 else { throw RigError("expected exactly one \(what), got \(xs)") }
        return xs[0]
    }
}

// MARK: - Verification

/// Restores `r` with the real litestream and compares the bytes with a
/// checkpointed copy of the live database. Throws if they differ.
func verifyLatestMatchesLive(_ r: RealReplica) throws {
    let dir = try rigTempDir("verify")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let out = dir + "/restored.db"
    let (status, text) = try litestreamRestore(r.version, replicaDir: r.replicaDir, output: out)
    guard status == 0 else { throw RigError("litestream restore of \(r.scenario) failed (\(status)):\n\(text)") }
    let live = try checkpointCopy(of: r.liveDB)
    defer { try? FileManager.default.removeItem(atPath: (live as NSString).deletingLastPathComponent) }
    let a = try Data(contentsOf: URL(fileURLWithPath: out))
    let b = try Data(contentsOf: URL(fileURLWithPath: live))
    guard a == b else {
        throw RigError(
            "\(r.scenario): restored db (\(a.count) bytes) differs from the checkpointed live db "
                + "(\(b.count) bytes)\nrestore output:\n\(text)\nlitestream log:\n\(r.log)")
    }
}
