import Foundation
import Testing

@testable import LiteProof

/// `verify` and `verify --all` plan each replica's latest restore once: the file checks, the
/// report, the trial restore and the fleet entry share that one plan.
@Suite struct PlanOnceTests {
    @Test(arguments: ["0.3", "0.5"])
    func verifyPlansOnce(_ version: String) throws {
        let dir = try exampleCopy(version)
        PlansMade.shared.watch(dir)
        let report = try Verifier(replica: try Replica.open(dir), restoreCheck: .quick).check()
        let counts = PlansMade.shared.stopWatching(dir)
        #expect(report.verdict == .ok)
        #expect(report.restoreCheck == "ok")
        #expect(report.latest != nil)
        #expect(Array(counts.values) == [1], "plans made per replica: \(counts)")
    }

    @Test func verifyAllPlansEachReplicaOnce() throws {
        let root = try rigTempDir("plan-once") + "/fleet"
        func copy(_ source: String, as name: String) throws {
            let dest = root + "/" + name
            try FileManager.default.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let (status, out) = try runProcess("/bin/cp", ["-a", source, dest], timeout: 60)
            guard status == 0 else { throw RigError("cp -a \(source) \(dest) failed: \(out)") }
        }
        try copy(Fixtures.example("0.3").replica, as: "a/v03")
        try copy(Fixtures.example("0.5").replica, as: "b/v05")
        // The 0.5 example as an S3 prefix holds it: <level %04x>/<min>-<max>.ltx.
        for level in try FileManager.default.contentsOfDirectory(atPath: Fixtures.example("0.5").replica + "/ltx") {
            try copy(Fixtures.example("0.5").replica + "/ltx/" + level, as: "c/s3/" + String(format: "%04x", Int(level)!))
        }
        PlansMade.shared.watch(root)
        var entries: [FleetEntry] = []
        let summary = try FleetVerifier.open(root).run { entries.append($0) }
        let counts = PlansMade.shared.stopWatching(root)
        #expect(summary.ok == 3)
        #expect(entries.map(\.database) == ["a/v03", "b/v05", "c/s3"])
        for entry in entries {
            #expect(entry.verdict == .ok)
            #expect(entry.restoreCheck == "ok")
            #expect(entry.latestTime != nil)
        }
        #expect(counts.count == 3, "replicas planned: \(counts)")
        #expect(counts.values.allSatisfy { $0 == 1 }, "plans made per replica: \(counts)")
    }
}
