import Foundation
import LiteProof
import Testing

/// `timeline`: every restorable point of real replicas (committed examples and the
/// real-Litestream rig), gaps and damage marked, the last clean point checked by restoring it,
/// and the HTML page (including a screenshot with headless Chromium).
@Suite struct TimelineTests {
    // MARK: Helpers

    func timeline(_ path: String) throws -> Timeline {
        try Timeline.build(try Replica.open(path))
    }

    /// Commit frames of every WAL index, counted independently with `V03Readers.readIndex`:
    /// positions `generation/index:end-of-commit-frame`.
    func commitPositions(_ path: String) throws -> [String] {
        let replica = try Replica.open(path)
        var out: [String] = []
        for g in replica.v03?.generations ?? [] {
            for i in g.indexes {
                var ends: [Int64] = []
                _ = try V03Readers.readIndex(replica, index: i, segments: g.segments(of: i), expectedPageSize: nil) { frame in
                    if frame.commitSize != 0 { ends.append(frame.walOffset + 24 + Int64(frame.page.count)) }
                }
                out += ends.map { "\(g.id)/\(i.hex(width: 8)):\($0)" }
            }
        }
        return out
    }

    /// Restores `target` into a fresh file with SQLite's full check; returns the bytes.
    @discardableResult
    func restore(_ path: String, _ target: RestoreTarget) throws -> [UInt8] {
        let out = try rigTempDir("timeline-restore") + "/restored.db"
        try Restorer(replica: try Replica.open(path)).restore(target, to: out, options: RestoreOptions(integrityCheck: .full, sync: false))
        return try bytes(of: out)
    }

    /// The summary's last clean point restores; restorable points restore and unrestorable ones
    /// do not (a sample of at most `limit` of each).
    func checkRestores(_ path: String, _ t: Timeline, limit: Int = 12, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let clean = try #require(t.summary.lastClean, "no clean point", sourceLocation: sourceLocation)
        let last = t.points.last { $0.restorable }!
        #expect(clean.position == last.position, sourceLocation: sourceLocation)
        #expect(throws: Never.self, "restoring the last clean point \(clean.position)", sourceLocation: sourceLocation) { try restore(path, clean.target) }
        func sample(_ ps: [Timeline.Point]) -> [Timeline.Point] {
            guard ps.count > limit else { return ps }
            return (0..<limit).map { ps[$0 * (ps.count - 1) / (limit - 1)] }
        }
        for p in sample(t.points.filter(\.restorable)) {
            #expect(throws: Never.self, "restorable point \(p.position)", sourceLocation: sourceLocation) { try restore(path, p.target) }
        }
        for p in sample(t.points.filter { !$0.restorable }) {
            #expect(throws: (any Error).self, "unrestorable point \(p.position) restored (\(p.reason ?? ""))", sourceLocation: sourceLocation) {
                try restore(path, p.target)
            }
        }
    }

    func laneCount(_ html: String) -> Int { html.components(separatedBy: "data-lane=\"").count - 1 }

    /// The page loads nothing from elsewhere and needs no script.
    func expectSelfContained(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let lower = html.lowercased()
        #expect(lower.hasPrefix("<!doctype html>"), sourceLocation: sourceLocation)
        #expect(!lower.contains("<script"), sourceLocation: sourceLocation)
        #expect(!lower.contains("<link"), sourceLocation: sourceLocation)
        #expect(!lower.contains(" src="), sourceLocation: sourceLocation)
        #expect(!lower.contains("@import"), sourceLocation: sourceLocation)
        let urls = lower.components(separatedBy: "http").dropFirst().filter { !$0.hasPrefix("://www.w3.org/2000/svg") }
        #expect(urls.isEmpty, "external URLs in the page", sourceLocation: sourceLocation)
        #expect(lower.contains("<svg class=\"timeline\""), sourceLocation: sourceLocation)
        #expect(lower.contains("class=\"legend\""), sourceLocation: sourceLocation)
        #expect(lower.contains("<h2>points"), sourceLocation: sourceLocation)
    }

    // MARK: Litestream 0.3

    @Test func v03ExampleListsEveryCommit() throws {
        let path = Fixtures.example("0.3").replica
        let t = try timeline(path)
        let commits = t.points.filter { $0.kind == .commit }
        #expect(commits.map(\.position.description) == (try commitPositions(path)))
        #expect(t.points.filter { $0.kind == .snapshot }.count == 1)
        #expect(t.points.allSatisfy { $0.restorable })
        #expect(t.summary.clean && t.gaps.isEmpty && t.damaged.isEmpty)
        #expect(t.lanes.count == 1 && t.lanes[0].generation == Fixtures.v03Generation)
        #expect(t.timesTrusted)
        // Times are the file times of the segments holding each commit.
        let replica = try Replica.open(path)
        let files = Dictionary(uniqueKeysWithValues: replica.v03!.generations[0].segments.map { ($0.path, $0.modified) })
        for p in commits { #expect(p.seconds == files[p.file]!) }
        #expect(t.summary.lastClean?.position == commits.last?.position)
        try checkRestores(path, t)
        // The newest commit restores the same database as Litestream's latest.
        #expect(try restore(path, t.summary.lastClean!.target) == (try restore(path, .latest())))
    }

    @Test(arguments: [Scenario.v03Basic, .v03Multi, .v03Page64k])
    func v03RigListsEveryCommit(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let t = try timeline(r.replicaDir)
        let expected = try commitPositions(r.replicaDir)
        #expect(!expected.isEmpty)
        #expect(Set(t.points.filter { $0.kind == .commit }.map(\.position.description)) == Set(expected))
        #expect(t.summary.commits == expected.count)
        #expect(t.lanes.count == r.generations.count)
        #expect(Set(t.lanes.compactMap(\.generation)) == Set(r.generations))
        if s == .v03Multi {
            #expect(t.lanes.count >= 2)
            let latest = try #require(t.lanes.last)
            #expect(Set(latest.files.compactMap(\.index)).count >= 3)
            #expect(latest.files.filter { $0.kind == .snapshot }.count >= 2)
        }
        #expect(t.gaps.isEmpty && t.damaged.isEmpty)
        // Points are in order: generation by generation, then index and offset.
        for (a, b) in zip(t.points, t.points.dropFirst()) where a.generation == b.generation {
            #expect((a.target.index!, a.offset!) <= (b.target.index!, b.offset!))
        }
        try checkRestores(r.replicaDir, t)
        // The last clean point is the newest state: Litestream's latest restore.
        #expect(try restore(r.replicaDir, t.summary.lastClean!.target) == (try restore(r.replicaDir, .latest())))
        let html = t.renderHTML()
        expectSelfContained(html)
        #expect(laneCount(html) == r.generations.count)
        #expect(!html.contains("class=\"bar damaged\"") && !html.contains("class=\"gap\""))
    }

    @Test func v03DeletedSegmentIsAGapAndLaterCommitsDoNotRestore() throws {
        let dir = try exampleCopy("0.3")
        let removed = Fixtures.v03Segment("0000c140")
        try FileManager.default.removeItem(atPath: dir + "/" + removed)
        let t = try timeline(dir)
        let gap = try #require(t.gaps.first)
        #expect(t.gaps.count == 1)
        #expect(gap.kind == .walHole)
        #expect(gap.walStart == 0xc140 && gap.walEnd == 0x101a0)
        #expect(gap.after == Fixtures.v03Segment("000080e0") && gap.before == Fixtures.v03Segment("000101a0"))
        // Commits up to the gap restore; every one after it is still listed, and does not.
        let commits = t.points.filter { $0.kind == .commit }
        let before = commits.filter { $0.offset! <= 0xc140 }, after = commits.filter { $0.offset! > 0xc140 }
        #expect(before.count == 4 && after.count == 3)
        #expect(before.allSatisfy { $0.restorable })
        #expect(after.allSatisfy { !$0.restorable && !$0.planned && $0.reason != nil })
        #expect(t.summary.lastClean?.position.description == "\(Fixtures.v03Generation)/00000000:\(0xc140)")
        #expect(t.summary.firstBroken?.position == after.first?.position)
        #expect(!t.summary.clean && !t.summary.latestRestores)
        #expect(t.damaged.isEmpty)
        try checkRestores(dir, t)
        let html = t.renderHTML()
        #expect(html.contains("class=\"gap\""))
        #expect(html.contains("class=\"tick unrestorable\""))
    }

    @Test func v03FlippedByteMarksTheSegmentDamaged() throws {
        let dir = try exampleCopy("0.3"), seg = Fixtures.v03Segment("00004080")
        try flipByte(dir + "/" + seg, at: fileSize(dir + "/" + seg) - 2)  // LZ4 content checksum
        let t = try timeline(dir)
        #expect(t.damaged.map(\.file) == [seg])
        #expect(t.damaged[0].codes == ["lz4.content-checksum"])
        #expect(t.gaps.isEmpty)
        let bar = try #require(t.lanes[0].files.first { $0.path == seg })
        #expect(bar.status == .damaged)
        // Everything from the damaged segment on is unrestorable; before it restores.
        for p in t.points {
            let needsIt = p.kind == .commit && p.offset! > 0x4080
            #expect(p.restorable == !needsIt, "\(p.position)")
            if needsIt { #expect(p.reason?.contains(seg) == true) }
        }
        #expect(t.damaged[0].unrestorablePoints == t.points.filter { !$0.restorable }.count)
        #expect(t.summary.lastClean?.position.description == "\(Fixtures.v03Generation)/00000000:\(0x4080)")
        // Litestream's plan still reaches the end (it cannot know of the damage before reading).
        #expect(t.summary.lastRestorable?.position == t.points.last?.position)
        try checkRestores(dir, t)
        let html = t.renderHTML()
        #expect(html.contains("class=\"bar damaged\" data-file=\"\(seg)\""))
        #expect(html.contains("#d62728"))
    }

    @Test func v03RigDamageInTheLatestGeneration() async throws {
        let r = try await ReplicaFactory.shared.replica(.v03Multi)
        let dir = try scratchCopy(of: r)
        let replica = try Replica.open(dir)
        let gen = try #require(replica.v03?.generations.first { $0.id == r.generations.last })
        // A segment in the middle of an index's WAL (one follows it in the same index).
        let inner = gen.segments.filter { s in s.offset > 0 && gen.segments.contains { $0.index == s.index && $0.offset > s.offset } }
        let victim = try #require(inner.isEmpty ? nil : inner[inner.count / 2], "no inner segment in \(gen.id)")
        try FileManager.default.removeItem(atPath: dir + "/" + victim.path)
        let t = try timeline(dir)
        let gap = try #require(t.gaps.first { $0.before.map { $0.contains("/\(victim.index.hex(width: 8))_") } ?? false })
        #expect(gap.kind == .walHole)
        let later = t.points.filter { $0.generation == gen.id && $0.target.index == victim.index && ($0.offset ?? 0) > victim.offset }
        #expect(!later.isEmpty)
        #expect(later.allSatisfy { !$0.restorable })
        try checkRestores(dir, t, limit: 8)
        // The old generation is untouched: its points still restore.
        let old = t.points.filter { $0.generation == r.generations.first }
        #expect(!old.isEmpty && old.allSatisfy { $0.restorable })
    }

    @Test func v03RigMissingIndexIsAGapUntilTheNextSnapshot() async throws {
        let r = try await ReplicaFactory.shared.replica(.v03Multi)
        let dir = try scratchCopy(of: r)
        let gen = try #require(try Replica.open(dir).v03?.generations.first { $0.id == r.generations.last })
        let indexes = gen.indexes
        try #require(indexes.count >= 3)
        let missing = indexes[1]
        for s in gen.segments(of: missing) { try FileManager.default.removeItem(atPath: dir + "/" + s.path) }
        let t = try timeline(dir)
        let gap = try #require(t.gaps.first { $0.kind == .missingIndex })
        #expect(gap.index == missing && gap.lane == "generation \(gen.id)")
        #expect(t.renderText().contains("  GAP  WAL index \(missing.hex(width: 8)) of generation \(gen.id)"))
        // A commit of a later index restores only from a snapshot taken after the hole.
        let snapshots = gen.snapshots.map(\.index)
        let later = t.points.filter { $0.generation == gen.id && $0.kind == .commit && $0.target.index! > missing }
        #expect(!later.isEmpty)
        for p in later {
            let j = p.target.index!
            #expect(p.restorable == snapshots.contains { $0 > missing && $0 <= j }, "\(p.position)")
        }
        #expect(t.points.filter { $0.generation == gen.id && $0.target.index! < missing }.allSatisfy { $0.restorable })
        #expect(!t.summary.clean)
        try checkRestores(dir, t, limit: 8)
    }

    @Test func v03LostFileTimesOrderThePictureByPosition() throws {
        let dir = try exampleCopy("0.3")
        let stamp = Date(timeIntervalSince1970: 1_700_000_000)
        for f in FS.walk(dir) { try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: dir + "/" + f) }
        let t = try timeline(dir)
        #expect(!t.timesTrusted)
        #expect(t.points.count == 9 && t.points.allSatisfy { $0.restorable })
        #expect(t.renderHTML().contains("files in position order"))
    }
}
