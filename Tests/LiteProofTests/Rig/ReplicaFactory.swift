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
