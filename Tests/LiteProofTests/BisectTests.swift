import Foundation
import LiteProof
import Testing

/// `bisect` on replicas written by real Litestream while the test deletes a known row.
@Suite(.serialized) struct BisectTests {
    /// 50 rows before replication starts (so the first snapshot holds row 42), rows written in
    /// several syncs, then row 42 deleted in its own commit, then more rows.
    func replicaWithADeletedRow(_ v: LitestreamVersion) throws -> LiveReplication {
        let live = try startLiveReplication(v, seedRows: 50)
        try waitUntil("the first replica files", timeout: 20) { (try? RestorePlanner(replica: Replica.open(live.replica)).plan()) != nil }
        // Each write waits until the replica's latest position moves past it, so the history
        // holds a point between every two writes.
        var position = try RestorePlanner(replica: Replica.open(live.replica)).plan().position
        func waitForANewPosition() throws {
            let before = position
            try waitUntil("the replica to move past \(before)", timeout: 30) {
                guard let now = try? RestorePlanner(replica: Replica.open(live.replica)).plan().position, now != before else { return false }
                position = now
                return true
            }
        }
        for batch in 0..<6 {
            try live.writer.exec(
                "BEGIN; " + (0..<10).map { "INSERT INTO orders(item, qty) VALUES ('batch \(batch) item \($0)', \($0));" }.joined() + " COMMIT;")
            try waitForANewPosition()
        }
        #expect(try live.writer.query("SELECT count(*) FROM orders WHERE id = 42")[0][0] == "1")
        try live.writer.exec("DELETE FROM orders WHERE id = 42")
        try waitForANewPosition()
        for batch in 6..<9 {
            try live.writer.exec("INSERT INTO orders(item, qty) VALUES ('batch \(batch)', 1)")
            try waitForANewPosition()
        }
        // Wait until the replica holds the last row, then stop Litestream.
        let last = try live.writer.query("SELECT max(id) FROM orders")[0][0]
        try waitUntil("the last row to replicate", timeout: 30) {
            let out = try rigTempDir("bisect-wait") + "/db"
            try Restorer(replica: try Replica.open(live.replica)).restore(to: out, options: RestoreOptions(integrityCheck: .none))
            return try sqliteQuery(out, "SELECT max(id) FROM orders")[0][0] == last
        }
        live.litestream.stop()
        return live
    }

    func count42(_ replica: String, _ target: RestoreTarget) throws -> String {
        let out = try rigTempDir("bisect-check") + "/db"
        try Restorer(replica: try Replica.open(replica)).restore(target, to: out, options: RestoreOptions(integrityCheck: .none))
        return try sqliteQuery(out, "SELECT count(*) FROM orders WHERE id = 42")[0][0]
    }

    /// The restore target of a bisect point.
    func target(of p: ReplayPoint, _ v: LitestreamVersion) -> RestoreTarget {
        #expect(p.position.format == (v == .v05 ? .ltx : .v03))
        return p.position.target
    }

    @Test(arguments: LitestreamVersion.allCases)
    func findsTheCommitThatDeletedARow(_ v: LitestreamVersion) throws {
        let live = try replicaWithADeletedRow(v)
        defer { live.litestream.stop(); live.writer.close() }
        let report = try Bisect(replica: try Replica.open(live.replica)).run(sql: "SELECT count(*) FROM orders WHERE id = 42")
        #expect(report.found)
        #expect(report.before == "1")
        #expect(report.after == "0")
        #expect(report.points >= 8, "the history should have many points: \(report.points)")
        #expect(report.probes < report.points, "bisect must not evaluate every point")
        let point = try #require(report.point), previous = try #require(report.previousPoint)
        #expect(!point.file.isEmpty)
        #expect(report.time != nil)
        // The point is exact: the row is there at the previous point and gone at this one.
        #expect(try count42(live.replica, target(of: previous, v)) == "1")
        #expect(try count42(live.replica, target(of: point, v)) == "0")

        // Through the CLI, with --expect: the first point where the row count is not 1.
        let cli = try runLiteProof(["bisect", live.replica, "--sql", "SELECT count(*) FROM orders WHERE id = 42", "--expect", "1", "--json"])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect((try json(cli.stdout)["point"] as? [String: Any])?["position"] as? String == point.position.description)
        // A query whose result never changes: exit 1.
        let none = try runLiteProof(["bisect", live.replica, "--sql", "SELECT count(*) FROM orders WHERE id = 1"])
        #expect(none.status == 1)
        #expect(none.stdout.contains("NO CHANGE"))
    }

    @Test func aBadQueryIsAClearError() throws {
        let r = try runLiteProof(["bisect", Fixtures.example("0.5").replica, "--sql", "SELECT nope FROM nowhere"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("the query fails"))
    }
}
