import Foundation
import LiteProof
import Testing

/// `timeline`: every restorable point of real replicas (committed examples and the
/// real-Litestream rig), gaps and damage marked, the last clean point checked by restoring it,
/// and the HTML page (including a screenshot with headless Chromium).
@Suite struct TimelineTests {
    // MARK: Helpers

    func timeline(_ path: String) throws -> Timeline {
        Timeline.build(try Replica.open(path))
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

    // MARK: CLI and page

    @Test func cliJSONAndExitCodes() throws {
        let clean = try runLiteProof(["timeline", Fixtures.example("0.5").replica, "--json"])
        #expect(clean.status == 0, "\(clean.stderr)")
        let obj = try json(clean.stdout)
        for key in ["points", "lanes", "gaps", "damaged", "summary"] { #expect(obj[key] != nil, "\(key)") }
        let points = try #require(obj["points"] as? [[String: Any]])
        #expect(points.count == 7)
        for p in points {
            for key in ["position", "kind", "time", "file", "restorable"] { #expect(p[key] != nil, "\(key)") }
        }
        #expect(points.allSatisfy { $0["restorable"] as? Bool == true })
        let summary = try #require(obj["summary"] as? [String: Any])
        #expect((summary["lastClean"] as? [String: Any])?["position"] as? String == 7.hex(width: 16))

        let dir = try exampleCopy("0.3")
        try FileManager.default.removeItem(atPath: dir + "/" + Fixtures.v03Segment("0000c140"))
        let page = try rigTempDir("timeline-cli") + "/timeline.html"
        let broken = try runLiteProof(["timeline", dir, "--html", page])
        #expect(broken.status == 1)
        #expect(broken.stdout.hasPrefix("BROKEN"))
        #expect(broken.stdout.contains("GAP  WAL offsets 49472–65952"))
        #expect(broken.stdout.contains("last clean restore      \(Fixtures.v03Generation)/00000000:49472"))
        #expect(!broken.stdout.contains(":8272"), "one line per commit only with --commits")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        expectSelfContained(html)
        let commits = try runLiteProof(["timeline", dir, "--commits"])
        #expect(commits.stdout.contains("\(Fixtures.v03Generation)/00000000:8272  "))
    }

    /// Renders the page of a damaged replica with headless Chromium and checks the screenshot.
    @Test(.enabled(if: TimelineBrowser.path != nil, "no headless Chromium (chromium-headless-shell or chromium): .ci/setup installs chromium-headless-shell"))
    func screenshot() throws {
        let browser = try #require(TimelineBrowser.path)
        let dir = try exampleCopy("0.3")
        try FileManager.default.removeItem(atPath: dir + "/" + Fixtures.v03Segment("0000c140"))
        let seg = Fixtures.v03Segment("00004080")
        try flipByte(dir + "/" + seg, at: fileSize(dir + "/" + seg) - 2)
        let out = try rigTempDir("timeline-shot")
        for (name, replica) in [("v03", dir), ("v05", Fixtures.example("0.5").replica)] {
            let page = "\(out)/\(name).html", png = "\(out)/\(name).png"
            try Data(try timeline(replica).renderHTML().utf8).write(to: URL(fileURLWithPath: page))
            let (status, output) = try runProcess(
                browser,
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                    "--user-data-dir=\(out)/profile-\(name)", "--screenshot=\(png)", "--window-size=1400,900",
                    URL(fileURLWithPath: page).absoluteString,
                ], timeout: 90)
            #expect(status == 0, "\(browser) failed: \(output)")
            let b = try bytes(of: png)
            #expect(b.count > 30_000, "screenshot is only \(b.count) bytes")
            #expect(Array(b.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            #expect(Array(b[12..<16]) == Array("IHDR".utf8))
            #expect(u32(b, 16) == 1400 && u32(b, 20) == 900)
        }
    }
}

/// A headless Chromium on this machine, if any.
enum TimelineBrowser {
    static let path: String? = {
        let names = ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"]
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/lib/chromium"]
        for name in names {
            for dir in dirs where FileManager.default.isExecutableFile(atPath: dir + "/" + name) { return dir + "/" + name }
        }
        return nil
    }()
}
