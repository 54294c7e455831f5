import Foundation
import LiteProof
import Testing

/// `prove` against real `litestream replicate` of each version.
@Suite(.serialized) struct ProveTests {
    @Test(arguments: LitestreamVersion.allCases)
    func provenWhileReplicatingNotProvenWhenStopped(_ v: LitestreamVersion) throws {
        let live = try startLiveReplication(v, seedRows: 20)
        defer { live.litestream.stop(); live.writer.close() }
        try waitUntil("the first replica files", timeout: 20) { (try? RestorePlanner(replica: Replica.open(live.replica)).plan()) != nil }

        let r = try runLiteProof(["prove", "--db", live.db, "--replica", live.replica, "--timeout", "30", "--json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let obj = try json(r.stdout)
        #expect(obj["verdict"] as? String == "proven")
        let steps = obj["steps"] as? [[String: Any]] ?? []
        #expect(steps.map { $0["name"] as? String } == ["replica-readable", "write-canary", "wait-for-replication", "restore-and-check", "compare-with-live"])
        #expect(steps.allSatisfy { $0["ok"] as? Bool == true })
        #expect((obj["replicationLag"] as? Double ?? -1) >= 0)
        #expect(obj["restoreSeconds"] as? Double != nil)
        let token = (obj["canary"] as? [String: Any])?["token"] as? String ?? ""
        #expect(try runLiteProof(["canary", "check", live.replica, "--token", token]).status == 0)

        // Replication stopped: the canary never arrives; not-proven at the waiting step, in time.
        live.litestream.stop()
        let started = Date()
        let stopped = try runLiteProof(["prove", "--db", live.db, "--replica", live.replica, "--timeout", "3", "--json"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(stopped.status == 1)
        let s = try json(stopped.stdout)
        #expect(s["verdict"] as? String == "not-proven")
        #expect(s["failedStep"] as? String == "wait-for-replication")
        #expect(elapsed < 20, "prove must give up soon after its timeout (took \(elapsed) s)")
        let text = try runLiteProof(["prove", "--db", live.db, "--replica", live.replica, "--timeout", "1"])
        #expect(text.stdout.contains("NOT PROVEN: failed at wait-for-replication"))
        #expect(text.stdout.contains("is Litestream running"))
    }
}
