import Foundation
import LiteProof
import Testing

/// Every command names the same latest position, and it is the state after the replica's last
/// commit: on a 0.3 replica whose last WAL index has several segments (the position is where the
/// last commit ends, not where the last segment starts) and on a 0.5 one.
@Suite struct LatestPositionTests {
    @Test(arguments: [Scenario.v03Basic, .v03Multi, .v05Basic])
    func everyCommandNamesTheSameLatestPosition(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let replica = try Replica.open(r.replicaDir)
        // The state after the last commit, from the one commit-by-commit walk of the history.
        let last = try #require(try Replayer(replica: replica).points.last)
        let expected = "\(last.position)"
        if let layout = replica.v03 {
            let gen = try #require(layout.generations.first { expected.hasPrefix($0.id + "/") })
            let lastIndex = try #require(gen.indexes.last)
            // The case that went wrong: several segments in the last index.
            try #require(gen.segments(of: lastIndex).count >= 2, "\(s): the last WAL index should have several segments")
            #expect(!gen.segments(of: lastIndex).contains { expected == "\(gen.id)/\(lastIndex.hex(width: 8)):\($0.offset)" })
        }

        var named: [String: String?] = [:]
        let inspect = try runLiteProof(["inspect", r.replicaDir])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        named["inspect"] = inspect.stdout.split(separator: "\n").first { $0.hasPrefix("latest restorable position: ") }
            .map { String($0.dropFirst("latest restorable position: ".count).prefix { $0 != " " }) }
        let inspectJSON = try runLiteProof(["inspect", "--json", r.replicaDir])
        named["inspect --json"] = (try json(inspectJSON.stdout)["latest"] as? [String: Any])?["position"] as? String
        let verify = try runLiteProof(["verify", "--json", r.replicaDir])
        #expect(verify.status == 0, "\(verify.stdout)")
        named["verify"] = (try json(verify.stdout)["latest"] as? [String: Any])?["position"] as? String
        let out = try rigTempDir("latest") + "/restored.db"
        let restore = try runLiteProof(["restore", "--json", r.replicaDir, "-o", out])
        #expect(restore.status == 0, "\(restore.stdout) \(restore.stderr)")
        named["restore"] = (try json(restore.stdout)["plan"] as? [String: Any])?["position"] as? String
        let dryRun = try runLiteProof(["restore", "--json", "--dry-run", r.replicaDir])
        named["restore --dry-run"] = try json(dryRun.stdout)["position"] as? String
        let compare = try runLiteProof(["compare", "--json", r.replicaDir, "--live", r.liveDB])
        #expect(compare.status == 0, "\(compare.stdout) \(compare.stderr)")
        named["compare"] = try json(compare.stdout)["position"] as? String
        let canary = try runLiteProof(["canary", "check", "--json", r.replicaDir, "--token", "lp-not-written"])
        #expect(canary.status == 1, "\(canary.stdout) \(canary.stderr)")
        named["canary check"] = try json(canary.stdout)["position"] as? String

        #expect(named.count == 7)
        for (command, position) in named.sorted(by: { $0.key < $1.key }) {
            #expect(position == expected, "\(s): \(command) names \(position ?? "nothing"), the last commit is at \(expected)")
        }
    }
}
