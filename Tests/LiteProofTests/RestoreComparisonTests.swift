import Foundation
import LiteProof
import Testing

/// LiteProof's restore against real `litestream restore` on real replicas: the same bytes, for
/// the latest point and for point-in-time targets, for every scenario (both versions; page sizes
/// 1024, 4096 and 65536; several generations and WAL indexes; compaction levels and snapshots).
@Suite struct RestoreComparisonTests {
    /// Restores with both tools and compares. Returns LiteProof's bytes.
    @discardableResult
    func compare(
        _ r: RealReplica, _ target: RestoreTarget, litestreamArgs: [String], label: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [UInt8] {
        let dir = try rigTempDir("cmp")
        let theirs = dir + "/litestream.db", ours = dir + "/liteproof.db"
        let (status, text) = try litestreamRestore(r.version, replicaDir: r.replicaDir, output: theirs, args: litestreamArgs)
        try #require(status == 0, "litestream restore \(litestreamArgs) failed: \(text)", sourceLocation: sourceLocation)
        try Restorer(replica: try Replica.open(r.replicaDir)).restore(target, to: ours, options: RestoreOptions(integrityCheck: .full))
        let a = try bytes(of: ours), b = try bytes(of: theirs)
        #expect(a.count == b.count, "\(r.scenario) \(label): size \(a.count) vs litestream's \(b.count)", sourceLocation: sourceLocation)
        #expect(a == b, "\(r.scenario) \(label): bytes differ from litestream restore", sourceLocation: sourceLocation)
        return a
    }

    @Test(arguments: Scenario.allCases)
    func latestMatchesLitestreamAndTheLiveDatabase(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let ours = try compare(r, .latest(), litestreamArgs: [], label: "latest")
        #expect(ours == (try bytes(of: try checkpointCopy(of: r.liveDB))), "\(s): latest restore differs from the live database")
        #expect(try verify(r.replicaDir).verdict == .ok)
    }

    @Test func v03EveryGenerationAndIndex() async throws {
        let r = try await ReplicaFactory.shared.replica(.v03Multi)
        let layout = try #require(try Replica.open(r.replicaDir).v03)
        #expect(layout.generations.count >= 2)
        var targets = 0
        for g in layout.generations {
            try compare(r, .latest(generation: g.id), litestreamArgs: ["-generation", g.id], label: "generation \(g.id)")
            targets += 1
        }
        // Every index of the generation a restore picks (litestream's -index applies to it).
        let chosen = try RestorePlanner(replica: try Replica.open(r.replicaDir)).chooseGeneration(.latest()).0
        #expect(chosen.indexes.count >= 3)
        var seen = Set<[UInt8]>()
        for i in chosen.indexes where chosen.snapshots.contains(where: { $0.index <= i }) {
            seen.insert(try compare(r, .walIndex(i), litestreamArgs: ["-index", i.hex(width: 8)], label: "index \(i)"))
            targets += 1
        }
        #expect(seen.count >= 2, "index targets should restore different states")
        #expect(targets >= 5)
    }

    @Test(arguments: [Scenario.v03Basic, .v03Multi])
    func v03Timestamps(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let replica = try Replica.open(r.replicaDir)
        let gen = try RestorePlanner(replica: replica).chooseGeneration(.latest()).0
        let times = gen.segments.compactMap(\.modified).sorted()
        // Midpoints between consecutive file times (after the first snapshot), so that both tools
        // see the same files whatever the rounding.
        let snapTime = gen.snapshots.compactMap(\.modified).min() ?? 0
        let mids = zip(times, times.dropFirst()).map { ($0 + $1) / 2 }.filter { $0 > snapTime && $0 - snapTime > 0.002 }
        try #require(mids.count >= 2)
        var states = Set<[UInt8]>()
        for t in [mids.first!, mids[mids.count / 2], mids.last!] {
            let stamp = formatTime(t)
            states.insert(try compare(r, .time(parseISO(stamp)), litestreamArgs: ["-timestamp", stamp], label: "timestamp \(stamp)"))
        }
        #expect(states.count >= 2, "timestamps should restore different states")
    }

    @Test(arguments: [Scenario.v05Basic, .v05Compacted, .v05Page64k])
    func v05TXIDs(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let layout = try #require(try Replica.open(r.replicaDir).ltx)
        // Every L0 boundary is a target, before the first snapshot too (the chain then starts at TXID 1).
        let txids = Array(Set(layout.files(atLevel: 0).map(\.maxTXID))).sorted()
        try #require(txids.count >= 3)
        let picks = Set([txids[0], txids[txids.count / 3], txids[2 * txids.count / 3], txids.last!])
        var states = Set<[UInt8]>()
        for t in picks.sorted() {
            states.insert(try compare(r, .txid(t), litestreamArgs: ["-txid", t.hex(width: 16)], label: "txid \(t)"))
        }
        #expect(states.count >= 2)
    }

    @Test(arguments: [Scenario.v05Basic, .v05Compacted])
    func v05Timestamps(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let replica = try Replica.open(r.replicaDir)
        let stamps = try replica.ltx!.files(atLevel: 0).map {
            Double(try LTX.readHeader(try replica.open($0.path), name: $0.path).timestamp) / 1000
        }.sorted()
        let snapshotTime =
            try replica.ltx!.files(atLevel: 9).map {
                Double(try LTX.readHeader(try replica.open($0.path), name: $0.path).timestamp) / 1000
            }.min() ?? 0
        let mids = zip(stamps, stamps.dropFirst()).map { ($0 + $1) / 2 }.filter { $0 > snapshotTime + 0.002 }
        try #require(mids.count >= 2)
        for t in Set([mids.first!, mids[mids.count / 2], mids.last!]).sorted() {
            let stamp = formatTime(t)
            try compare(r, .time(parseISO(stamp)), litestreamArgs: ["-timestamp", stamp], label: "timestamp \(stamp)")
        }
    }

    func parseISO(_ s: String) -> Double {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s)!.timeIntervalSince1970
    }
}

/// Damage that needs a second real replica, or several indexes.
@Suite struct CrossReplicaDamageTests {
    @Test func walPageSizeDiffersFromTheSnapshot() async throws {
        let basic = try await ReplicaFactory.shared.replica(.v03Basic)
        let big = try await ReplicaFactory.shared.replica(.v03Page64k)
        let dir = try scratchCopy(ofDirectory: basic.replicaDir)
        let target = try #require(try Replica.open(dir).v03?.generations.last?.snapshots.last)
        let donor = try #require(try Replica.open(big.replicaDir).v03?.generations.last?.snapshots.last)
        try FileManager.default.removeItem(atPath: dir + "/" + target.path)
        try FileManager.default.copyItem(atPath: big.replicaDir + "/" + donor.path, toPath: dir + "/" + target.path)
        let r = try verify(dir)
        let f = r.findings(.walPageSize)
        #expect(!f.isEmpty, "\(r.findings)")
        #expect(f.first?.offset == 8)
        #expect(f.first?.file.contains("/wal/") == true)
    }

    @Test func ltxPageSizeDiffersFromTheReplica() async throws {
        let basic = try await ReplicaFactory.shared.replica(.v05Basic)
        let big = try await ReplicaFactory.shared.replica(.v05Page64k)
        let dir = try scratchCopy(ofDirectory: basic.replicaDir)
        let donor = try #require(try Replica.open(big.replicaDir).ltx?.files(atLevel: 0).last)
        let name = "ltx/0/00000000000000f0-00000000000000f0.ltx"
        try FileManager.default.copyItem(atPath: big.replicaDir + "/" + donor.path, toPath: dir + "/" + name)
        let r = try verify(dir)
        #expect(r.findings(.ltxPageSize).contains { $0.file == name && $0.offset == 8 }, "\(r.findings)")
    }

    @Test func missingWALIndex() async throws {
        let multi = try await ReplicaFactory.shared.replica(.v03Multi)
        let dir = try scratchCopy(ofDirectory: multi.replicaDir)
        let gen = try #require(
            try Replica.open(dir).v03?.generations.first { g in
                g.indexes.count >= 3 && !g.snapshots.isEmpty
            })
        let first = gen.snapshots[0].index
        let victim = try #require(gen.indexes.first { $0 > first && $0 < gen.indexes.last! })
        for s in gen.segments(of: victim) { try FileManager.default.removeItem(atPath: dir + "/" + s.path) }
        // Damage when the latest restore needs the index (its generation, after its snapshot);
        // otherwise a warning that earlier points cannot be reached.
        let original = try Replica.open(multi.replicaDir)
        let plan = try RestorePlanner(replica: original).plan()
        let start = plan.v03?.snapshot.index
        let needed = try RestorePlanner(replica: original).chooseGeneration(.latest()).0.id == gen.id && victim > (start ?? 0)
        let r = try verify(dir)
        #expect(
            r.findings(.chainMissingIndex).contains {
                $0.file == "generations/\(gen.id)/wal" && $0.message.contains(victim.hex(width: 8)) && $0.severity == (needed ? .error : .warning)
            }, "\(r.findings)")
        #expect(r.verdict == (needed ? .damaged : .ok))
    }

    @Test(arguments: [Scenario.v03Multi, .v05Compacted])
    func flippedByteInEveryFileOfARigReplica(_ s: Scenario) async throws {
        let real = try await ReplicaFactory.shared.replica(s)
        let dir = try scratchCopy(ofDirectory: real.replicaDir)
        let files = FS.walk(dir)
        try #require(files.count >= 5)
        for file in files {
            let path = dir + "/" + file
            let size = fileSize(path)
            try flipByte(path, at: size / 2)
            let r = try verify(dir)
            #expect(r.verdict == .damaged, "flipped byte in \(file) went unnoticed")
            try flipByte(path, at: size / 2)  // undo
        }
        #expect(try verify(dir).verdict == .ok)
    }
}
