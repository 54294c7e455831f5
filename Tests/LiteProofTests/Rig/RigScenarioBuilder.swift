// Test rig: builds one scenario's real replica: the database, the workload, real Litestream 0.3.13
// or 0.5.17 replicating it (see ReplicaFactory.swift).

import Foundation

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
    /// `compacting: false` sets compaction and snapshots an hour apart, so that during a test
    /// Litestream only adds level-0 files.
    static func v05Config(db: String, replica: String, compacting: Bool = true) -> String {
        """
        levels:
          - interval: \(compacting ? "2s" : "1h")
          - interval: \(compacting ? "4s" : "1h")
        snapshot:
          interval: \(compacting ? "5s" : "1h")
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
