import Foundation
import LiteProof
import Testing

extension TimelineTests {
    // MARK: Litestream 0.5

    @Test func v05ExampleListsEveryTXID() throws {
        let path = Fixtures.example("0.5").replica
        let t = try timeline(path)
        #expect(t.points.map(\.txid) == Array(1...7))
        #expect(t.points.allSatisfy { $0.kind == .txid && $0.level == 0 })
        // TXID 1 has no snapshot at or before it, but Litestream's plan starts from the L0/L1
        // files that begin at TXID 1 (they hold every page): every point restores.
        #expect(t.points.allSatisfy { $0.restorable })
        #expect(t.summary.clean)
        #expect(t.lanes.map(\.level) == [0, 1, 9])
        #expect(t.points.first { $0.txid == 5 }?.snapshot == "ltx/9/0000000000000001-0000000000000005.ltx")
        // Times come from the LTX headers.
        let replica = try Replica.open(path)
        for p in t.points {
            let h = try LTX.readHeader(try replica.open(p.file), name: p.file)
            #expect(p.seconds == Double(h.timestamp) / 1000)
        }
        try checkRestores(path, t)
    }

    @Test(arguments: [Scenario.v05Basic, .v05Compacted, .v05Page64k])
    func v05RigListsEveryTXID(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let t = try timeline(r.replicaDir)
        let replica = try Replica.open(r.replicaDir)
        let maxTXID = try #require(replica.ltx?.files.map(\.maxTXID).max())
        // Every TXID 1…max belongs to exactly one point's range.
        var seen: [UInt64] = []
        for p in t.points { seen += Array(p.fromTXID!...p.txid!) }
        #expect(seen == Array(1...maxTXID))
        #expect(t.summary.txids == Int(maxTXID))
        if s == .v05Basic {
            // L0 files are all there: one fine point per TXID.
            #expect(t.points.map(\.txid) == Array(1...maxTXID).map { Optional($0) })
        }
        #expect(t.gaps.isEmpty && t.damaged.isEmpty && t.summary.clean)
        let levels = Set(replica.ltx!.levels)
        #expect(Set(t.lanes.compactMap(\.level)) == levels.union([0]))
        if s == .v05Compacted {
            #expect(levels.isSuperset(of: [1, 2, 9]))
            #expect(t.lanes.first { $0.level == 9 }!.files.count >= 2)
            #expect(t.lanes.first { $0.level == 9 }!.files.allSatisfy { $0.kind == .snapshot })
        }
        try checkRestores(r.replicaDir, t)
        #expect(try restore(r.replicaDir, t.summary.lastClean!.target) == (try bytes(of: try checkpointCopy(of: r.liveDB))))
        let html = t.renderHTML()
        expectSelfContained(html)
        #expect(laneCount(html) == t.lanes.count)
        for level in levels { #expect(html.contains("data-lane=\"L\(level)\"")) }
    }

    @Test func v05MissingTXIDIsAGap() throws {
        let dir = try exampleCopy("0.5")
        for f in ["ltx/0/0000000000000003-0000000000000003.ltx", "ltx/1/0000000000000003-0000000000000004.ltx"] {
            try FileManager.default.removeItem(atPath: dir + "/" + f)
        }
        let t = try timeline(dir)
        let gap = try #require(t.gaps.first)
        #expect(t.gaps.count == 1 && gap.kind == .missingTXIDs && gap.fromTXID == 3 && gap.toTXID == 3)
        #expect(!t.points.contains { $0.txid == 3 })
        // TXID 4 needs 3; from 5 on the snapshot 1-5 carries the restore again.
        #expect(t.points.first { $0.txid == 4 }?.restorable == false)
        #expect(t.points.filter { ($0.txid ?? 0) >= 5 }.allSatisfy { $0.restorable })
        #expect(t.summary.firstBroken?.position.description == 4.hex(width: 16))
        #expect(t.summary.lastClean?.position.description == 7.hex(width: 16))
        try checkRestores(dir, t)
        #expect(t.renderHTML().contains("class=\"gap\""))
    }

    @Test func v05ExpiredL0FilesGiveACoarseRange() throws {
        let dir = try exampleCopy("0.5")
        for f in ["ltx/0/0000000000000003-0000000000000003.ltx", "ltx/0/0000000000000004-0000000000000004.ltx"] {
            try FileManager.default.removeItem(atPath: dir + "/" + f)
        }
        let t = try timeline(dir)
        #expect(t.gaps.isEmpty)
        let range = try #require(t.points.first { $0.txid == 4 })
        #expect(range.kind == .range && range.coarse == true && range.fromTXID == 3)
        #expect(range.file == "ltx/1/0000000000000003-0000000000000004.ltx" && range.level == 1)
        #expect(range.restorable)
        #expect(!t.points.contains { $0.txid == 3 })
        #expect(t.summary.txids == 7)
        try checkRestores(dir, t)
    }

    @Test func v05FlippedByteMarksTheFileDamaged() throws {
        let dir = try exampleCopy("0.5"), victim = "ltx/0/0000000000000003-0000000000000003.ltx"
        try flipByte(dir + "/" + victim, at: 120)
        let t = try timeline(dir)
        #expect(t.damaged.map(\.file) == [victim])
        #expect(t.lanes[0].files.first { $0.path == victim }?.status == .damaged)
        // Litestream's plan to TXID 3 reads the damaged L0 file; to 4 it takes L1 3-4 instead.
        let p3 = try #require(t.points.first { $0.txid == 3 })
        #expect(!p3.restorable && p3.planned && p3.reason?.contains(victim) == true)
        #expect(t.points.first { $0.txid == 4 }?.restorable == true)
        #expect(t.damaged[0].unrestorablePoints == 1)
        #expect(t.summary.lastClean?.position.description == 7.hex(width: 16))
        try checkRestores(dir, t)
        let html = t.renderHTML()
        #expect(html.contains("class=\"bar damaged\" data-file=\"\(victim)\""))
    }

    @Test func v05RigDamagedSnapshotAndLastCleanPoint() async throws {
        let r = try await ReplicaFactory.shared.replica(.v05Compacted)
        let dir = try scratchCopy(of: r)
        let replica = try Replica.open(dir)
        // Damage the newest snapshot: restores to its TXID now need it and fail.
        let snap = try #require(replica.ltx?.files(atLevel: 9).max { $0.maxTXID < $1.maxTXID })
        try flipByte(dir + "/" + snap.path, at: 110)
        let t = try timeline(dir)
        #expect(t.damaged.contains { $0.file == snap.path })
        let needing = t.points.filter { $0.reason?.contains(snap.path) == true }
        #expect(!needing.isEmpty && needing.allSatisfy { ($0.txid ?? 0) >= snap.maxTXID })
        try checkRestores(dir, t, limit: 8)
    }
}
