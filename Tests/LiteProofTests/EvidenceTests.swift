import Foundation
import LiteProof
import Testing

/// Evidence bundles on real replicas: written, readable by GNU tar, and checked against a replica.
@Suite struct EvidenceTests {
    @Test(arguments: ["0.3", "0.5"])
    func bundleChecksTheSameReplicaAndNamesAChangedFile(version: String) throws {
        let ex = Fixtures.example(version)
        let dir = try exampleCopy(version)
        let bundle = try rigTempDir("evidence") + "/bundle.tar.zst"
        let made = try runLiteProof(["evidence", dir, "--live", ex.live, "-o", bundle, "--json"])
        #expect(made.status == 0, "\(made.stderr)")
        let manifest = try json(made.stdout)
        #expect((manifest["files"] as? [Any])?.count == FS.walk(dir).count)
        #expect(manifest["compareVerdict"] as? String == "identical")
        // GNU tar lists the members, and the bundled database is the restored one.
        let listing = try runProcess("/usr/bin/tar", ["--zstd", "-tf", bundle])
        #expect(listing.status == 0)
        #expect(listing.output.split(separator: "\n").map(String.init) == ["manifest.json", "verify.json", "compare.json", "restored.db"])
        let unpack = try rigTempDir("evidence-x")
        #expect(try runProcess("/usr/bin/tar", ["--zstd", "-xf", bundle, "-C", unpack]).status == 0)
        #expect(try bytes(of: unpack + "/restored.db") == (try bytes(of: ex.live)))

        let same = try runLiteProof(["evidence", "check", bundle, dir])
        #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
        #expect(same.stdout.hasPrefix("MATCHES"))

        // Change one file, remove one, add one: each is named.
        let files = FS.walk(dir).sorted()
        let victim = files[files.count / 2], gone = files.first!
        try flipByte(dir + "/" + victim, at: 10)
        try FileManager.default.removeItem(atPath: dir + "/" + gone)
        try write([1, 2, 3], to: dir + "/extra.bin")
        let check = try runLiteProof(["evidence", "check", bundle, dir, "--json"])
        #expect(check.status == 1)
        let r = try json(check.stdout)
        #expect((r["changed"] as? [[String: Any]])?.map { $0["path"] as? String } == [victim])
        #expect((r["removed"] as? [[String: Any]])?.map { $0["path"] as? String } == [gone])
        #expect((r["added"] as? [[String: Any]])?.map { $0["path"] as? String } == ["extra.bin"])
    }

    @Test func bundleOfADamagedReplicaRecordsTheDamage() throws {
        let dir = try exampleCopy("0.5")
        try flipByte(dir + "/" + LTXDamageTests.snapshot, at: 200)
        let bundle = try rigTempDir("evidence-d") + "/b.tar.zst"
        let made = try runLiteProof(["evidence", dir, "-o", bundle, "--json"])
        #expect(made.status == 0, "\(made.stderr)")
        let m = try json(made.stdout)
        #expect(m["verdict"] as? String == "damaged")
        #expect(m["restoreError"] as? String != nil)
        #expect((m["members"] as? [String]) == ["manifest.json", "verify.json"])
        #expect(try runLiteProof(["evidence", "check", bundle, dir]).status == 0)
    }

    @Test func refusesToOverwriteAndToReadANonBundle() throws {
        let out = try rigTempDir("evidence-o") + "/exists.tar.zst"
        try write([0], to: out)
        #expect(try runLiteProof(["evidence", Fixtures.example("0.5").replica, "-o", out]).status == 2)
        #expect(try bytes(of: out) == [0])
        let notBundle = try rigTempDir("evidence-n") + "/x.tar"
        #expect(try runProcess("/usr/bin/tar", ["-cf", notBundle, "-C", Fixtures.example("0.5").replica, "ltx"]).status == 0)
        let r = try runLiteProof(["evidence", "check", notBundle, Fixtures.example("0.5").replica])
        #expect(r.status == 2)
        #expect(r.stderr.contains("not a LiteProof evidence bundle"))
    }
}
