import Foundation
import LiteProof
import Testing

/// The history of a real 0.3 replica with a WAL index removed: the replay stops at the gap and
/// resumes only from a snapshot after it (as a restore would), so `bisect` and compare's search
/// for an earlier state never look at states rebuilt on the wrong base.
@Suite struct ReplayGapTests {
    struct Damaged {
        let original: Replica
        let dir: String
        let generation: V03Generation
        let missing: UInt32
    }

    /// A copy of the shared multi-index replica without the WAL segments `pick(…)` chooses in the
    /// latest generation (all of one WAL index, or some of its segments).
    func damaged(pick: (V03Generation) -> (UInt32, [V03File])?) async throws -> Damaged {
        let r = try await ReplicaFactory.shared.replica(.v03Multi)
        let original = try Replica.open(r.replicaDir)
        let gen = try #require(original.v03?.generations.first { $0.id == r.generations.last })
        let (missing, removed) = try #require(pick(gen), "no suitable WAL index in \(gen.indexes) with snapshots at \(gen.snapshots.map(\.index))")
        let dir = try scratchCopy(of: r)
        for seg in removed { try FileManager.default.removeItem(atPath: dir + "/" + seg.path) }
        return Damaged(original: original, dir: dir, generation: gen, missing: missing)
    }

    func offset(_ p: Position) -> Int64 {
        guard case .v03(_, _, let o) = p else { return -1 }
        return o
    }

    func index(_ p: Position) -> UInt32 {
        guard case .v03(_, let i, _) = p else { return .max }
        return i
    }

    /// The database image a restore of the undamaged replica gives at `p`.
    func originalState(_ d: Damaged, at p: Position) throws -> Data {
        let out = try rigTempDir("gap-original") + "/db"
        try Restorer(replica: d.original).restore(p.target, to: out, options: RestoreOptions(integrityCheck: .none))
        return try Data(contentsOf: URL(fileURLWithPath: out))
    }

    @Test func theReplayResumesFromASnapshotAfterAMissingWALIndex() async throws {
        // An index at or after the first snapshot with a later snapshot past it.
        let d = try await damaged { g in
            let snaps = g.snapshots.map(\.index).sorted()
            guard let first = snaps.first, let later = snaps.first(where: { $0 > first }) else { return nil }
            return g.indexes.first { $0 >= first && $0 < later }.map { ($0, g.segments(of: $0)) }
        }
        let replica = try Replica.open(d.dir)
        let replay = try Replayer(replica: replica)
        // (a snapshot at the missing index itself holds the state before it, which is no help)
        let resume = try #require(d.generation.snapshots.map(\.index).filter { $0 > d.missing }.min())
        let resumed = Position.v03(generation: d.generation.id, index: resume, offset: 0)
        // One gap, resumed at that snapshot; no point lies in the missing index or between it and the snapshot.
        #expect(replay.gaps.count == 1, "\(replay.gaps.map(\.description))")
        #expect(replay.gaps.first?.resumedAt == resumed)
        #expect(replay.gaps.first?.reason.contains("\(d.missing.hex(width: 8))") == true)
        #expect(!replay.points.contains { p in index(p.position) >= d.missing && index(p.position) < resume && offset(p.position) > 0 })
        let k = try #require(replay.points.firstIndex { $0.position == resumed && $0.afterGap != nil })
        let lastBefore = replay.points[k - 1]
        #expect(replay.gaps.first?.lastBefore == lastBefore.position)

        // The states after the gap are the replica's own: the same image a restore of the
        // undamaged replica gives there (without the snapshot, they would be built on the state
        // before the gap).
        for i in Set([k, min(k + 1, replay.points.count - 1), replay.points.count - 1]).sorted() {
            try replay.advance(to: i, undoable: false)
            let got = try Data(contentsOf: URL(fileURLWithPath: replay.workingPath))
            #expect(got == (try originalState(d, at: replay.points[i].position)), "state at \(replay.points[i].position)")
        }

        // bisect: a query that turns true only after the last state before the gap; the change
        // is in the gap, reported as such between the two points around it.
        // (ids only grow: max(id) tells states apart in time)
        let before = try sqliteQuery(writeState(try originalState(d, at: lastBefore.position)), "SELECT max(id) FROM t")[0][0]
        let atResume = try sqliteQuery(writeState(try originalState(d, at: resumed)), "SELECT max(id) FROM t")[0][0]
        try #require(Int(atResume)! > Int(before)!, "the missing WAL index should hold rows")
        let sql = "SELECT max(id) > \(before) FROM t"
        let report = try Bisect(replica: replica).run(sql: sql)
        #expect(report.found)
        #expect(report.point?.position == resumed)
        #expect(report.previousPoint?.position == lastBefore.position)
        #expect(report.changeInGap != nil)
        #expect(report.before == "0" && report.after == "1")
        let cli = try runLiteProof(["bisect", d.dir, "--sql", sql])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.stdout.hasPrefix("CHANGED between \(lastBefore.position) and \(resumed)"), "\(cli.stdout)")

        // compare: a live state after the gap is found at its point; one inside the gap is not.
        let latest = try RestorePlanner(replica: replica).plan().position
        if let after = replay.points[k...].last(where: { HistoryMatchProbe.before($0.position, latest) }) {
            let live = try writeState(try originalState(d, at: after.position))
            let c = try runLiteProof(["compare", d.dir, "--live", live, "--json"])
            let obj = try json(c.stdout)
            #expect(obj["verdict"] as? String == "ahead", "\(c.stdout) \(c.stderr)")
            #expect((obj["ahead"] as? [String: Any])?["position"] as? String == after.position.description)
        }
        let originalPoints = try Replayer(replica: d.original).points
        if let inGap = originalPoints.first(where: { index($0.position) == d.missing && $0.position != lastBefore.position }) {
            let live = try writeState(try originalState(d, at: inGap.position))
            let c = try runLiteProof(["compare", d.dir, "--live", live, "--json"])
            // (a snapshot or an earlier generation may hold the same pages; no commit of the
            // missing index can be rebuilt)
            let found = try json(c.stdout)["ahead"] as? [String: Any]
            let at = (found?["position"] as? String).flatMap(Position.init)
            #expect(!(at.map { index($0) == d.missing && offset($0) > 0 && $0.generation == d.generation.id } ?? false), "\(c.stdout)")
        }
    }

    @Test func pointsAfterAGapWithNoLaterSnapshotAreUnreachable() async throws {
        // The last WAL index (at or after the last snapshot) loses its first segment, the one
        // with the WAL header: nothing of it can be applied, and no snapshot follows.
        let d = try await damaged { g in
            guard let last = g.snapshots.map(\.index).max(), let i = g.indexes.last, i >= last, g.segments(of: i).count >= 2 else { return nil }
            return (i, [g.segments(of: i)[0]])
        }
        let replica = try Replica.open(d.dir)
        let replay = try Replayer(replica: replica)
        #expect(replay.gaps.count == 1, "\(replay.gaps.map(\.description))")
        #expect(replay.gaps.first?.resumedAt == nil)
        #expect(replay.gaps.first?.lastBefore == replay.points.last?.position)
        // Nothing of the damaged index is a point (its later segments are still there).
        #expect(!replay.points.contains { index($0.position) >= d.missing })
        #expect(replica.v03?.generations.first { $0.id == d.generation.id }?.segments(of: d.missing).isEmpty == false)

        // bisect says what it could not search.
        let cli = try runLiteProof(["bisect", d.dir, "--sql", "SELECT max(id) FROM t"])
        #expect(cli.status == 0 || cli.status == 1, "\(cli.stdout) \(cli.stderr)")
        #expect(cli.stdout.contains("not searched: WAL index \(d.missing.hex(width: 8)) breaks off"), "\(cli.stdout)")
    }

    func writeState(_ data: Data) throws -> String {
        let path = try rigTempDir("gap-state") + "/state.db"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Position order within one generation (as compare's search uses it): strictly before.
enum HistoryMatchProbe {
    static func before(_ a: Position, _ b: Position) -> Bool {
        guard case .v03(let ga, let ia, let oa) = a, case .v03(let gb, let ib, let ob) = b else { return false }
        return ga == gb && (ia, oa) < (ib, ob)
    }
}
