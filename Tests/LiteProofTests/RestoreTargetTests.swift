import Foundation
import LiteProof
import Testing

/// A target past the replica's end is refused (exit 1) with the last restorable point named,
/// never quietly restored to something earlier. On the committed example replicas (real
/// Litestream 0.3.13 and 0.5.17).
@Suite struct RestoreTargetTests {
    @Test func indexPastTheEndIsRefusedNamingTheLastPoint() throws {
        let replica = Fixtures.example("0.3").replica
        let latest = try RestorePlanner(replica: try Replica.open(replica)).plan().position
        let out = try rigTempDir("past-end") + "/x.db"
        let r = try runLiteProof(["restore", replica, "--index", "5", "-o", out])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("past the end") && r.stderr.contains(latest.description), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        // The last index itself still restores.
        #expect(try runLiteProof(["restore", replica, "--index", "0", "-o", out]).status == 0)
    }

    @Test func txidPastTheEndIsRefusedNamingTheLastPoint() throws {
        let replica = Fixtures.example("0.5").replica
        let out = try rigTempDir("past-end") + "/x.db"
        let r = try runLiteProof(["restore", replica, "--txid", "8", "-o", out, "--json"])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("past the end") && r.stdout.contains("0000000000000007"), "\(r.stdout)")
        #expect(try runLiteProof(["restore", replica, "--txid", "7", "-o", out]).status == 0)
    }
}
