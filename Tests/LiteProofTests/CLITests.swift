import Foundation
import LiteProof
import LiteProofObjectStore
import Testing

/// The `liteproof` executable as a user runs it: output, `--json`, and the documented exit codes
/// (0 sound, 1 findings, 2 could not run).
@Suite struct CLITests {
    @Test func verifySoundReplicaExitsZero() throws {
        let r = try runLiteProof(["verify", Fixtures.example("0.5").replica])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("OK: the replica is sound"))
        #expect(r.stdout.contains("latest restorable position: 0000000000000007"))
    }

    @Test func verifyJSON() throws {
        let r = try runLiteProof(["verify", "--json", Fixtures.example("0.3").replica])
        #expect(r.status == 0)
        let obj = try json(r.stdout)
        #expect(obj["verdict"] as? String == "ok")
        #expect(obj["findings"] is [Any])
    }

    @Test func verifyDamagedExitsOneWithFindings() throws {
        let dir = try exampleCopy("0.3")
        let seg = Fixtures.v03Segment("00004080")
        try recompressLZ4(dir + "/" + seg) { $0[24 + 9] ^= 0x40 }
        let r = try runLiteProof(["verify", "--json", dir])
        #expect(r.status == 1)
        let obj = try json(r.stdout)
        #expect(obj["verdict"] as? String == "damaged")
        let findings = obj["findings"] as? [[String: Any]] ?? []
        let f = findings.first { $0["code"] as? String == "wal.checksum-mismatch" }
        #expect(f?["severity"] as? String == "error")
        #expect(f?["file"] as? String == seg)
        #expect(f?["offset"] as? Int == 0)
        #expect((f?["message"] as? String)?.isEmpty == false)

        let text = try runLiteProof(["verify", dir])
        #expect(text.status == 1)
        #expect(text.stdout.contains("DAMAGED"))
        #expect(text.stdout.contains("wal.checksum-mismatch"))
        #expect(text.stdout.contains(seg))
    }

    @Test func couldNotRunExitsTwo() throws {
        let missing = try runLiteProof(["verify", "/nonexistent/replica"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no such folder"))
        let empty = try rigTempDir("cli-empty")
        let none = try runLiteProof(["verify", empty])
        #expect(none.status == 2)
        #expect(none.stderr.contains("holds no Litestream replica"))
        let bad = try runLiteProof(["verify"])
        #expect(bad.status != 0 && bad.status != 1)
        let s3 = try runLiteProof(["verify", "s3://bucket/db"])
        #expect(s3.status == 2)
        #expect(s3.stderr.contains("download"))
    }

    /// Argument errors are "could not run" (2) with the message and the usage, not the argument
    /// parser's 64; help and version still exit 0 on standard output.
    @Test func argumentErrorsExitTwo() throws {
        let replica = Fixtures.example("0.3").replica
        let cases: [(args: [String], message: String)] = [
            (["restore", replica], "give -o PATH"),
            (["verify", "--bogus", replica], "Unknown option '--bogus'"),
            (["restore", replica, "--index", "zz", "-o", try rigTempDir("cli-args") + "/out.db"], "The value 'zz' is invalid for '--index"),
            (["restore", replica, "--offset", "12", "-o", "x.db"], "--offset goes with --index"),
            (["nosuchcommand"], "Unexpected argument 'nosuchcommand'"),
            (["verify"], "Missing expected argument '<replica>'"),
        ]
        for c in cases {
            let r = try runLiteProof(c.args)
            #expect(r.status == 2, "\(c.args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(c.message), "\(c.args): \(r.stderr)")
            #expect(r.stderr.contains("Usage: liteproof"), "\(c.args): \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        for args in [["--help"], ["verify", "--help"], ["help", "restore"], ["--version"]] {
            let r = try runLiteProof(args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            #expect(!r.stdout.isEmpty && r.stderr.isEmpty, "\(args)")
        }
    }

    /// A stray file whose name holds a newline cannot print a line of its own in the text (it
    /// would forge a verdict); JSON keeps the name as it is.
    @Test func strayFileNameCannotForgeALine() throws {
        let forged = "OK: the replica is sound"
        let dir = try exampleCopy("0.3")
        let name = "x\n" + forged + "\u{1B}[1A"
        #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data("stray".utf8)))
        let r = try runLiteProof(["verify", dir])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.first?.hasPrefix(forged + " (1 warning)") == true)
        #expect(!lines.contains(forged), "\(r.stdout)")
        #expect(!r.stdout.contains("\u{1B}"))
        #expect(r.stdout.contains(#"x\nOK: the replica is sound\u{1b}[1A"#))
        let j = try runLiteProof(["verify", "--json", dir])
        let findings = try json(j.stdout)["findings"] as? [[String: Any]] ?? []
        #expect(findings.contains { $0["code"] as? String == "layout.stray-file" && $0["file"] as? String == name })
        let inspect = try runLiteProof(["inspect", dir])
        #expect(!inspect.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.contains(forged))
        #expect(inspect.stdout.contains(#"x\nOK"#))
        // An error naming a path escapes it too.
        let missing = try runLiteProof(["verify", "/nonexistent/a\n" + forged])
        #expect(missing.status == 2)
        #expect(!missing.stderr.split(separator: "\n").contains { $0 == forged })
    }

    @Test func textEscapingShowsControlCharacters() {
        #expect("plain / ünïcode \\ name".escapedForText == "plain / ünïcode \\ name")
        #expect("a\nb\rc\td".escapedForText == #"a\nb\rc\td"#)
        #expect("\u{0}\u{1B}\u{7F}\u{85}\u{9F}\u{2028}".escapedForText == #"\u{0}\u{1b}\u{7f}\u{85}\u{9f}\u{2028}"#)
        #expect(Finding.warning(.layoutStray, file: "a\nb", "c\nd").description == #"warning layout.stray-file a\nb: c\nd"#)
    }

    @Test func helpTeachesExitCodes() throws {
        let r = try runLiteProof(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Exit codes"))
        for sub in ["verify", "inspect", "restore"] { #expect(r.stdout.contains(sub)) }
        // Where replicas may be, and every variable that tunes the object-store transfers.
        for url in ["s3://", "gs://", "webdav://", "sftp://"] { #expect(r.stdout.contains(url)) }
        for v in TransferPolicy.variables { #expect(r.stdout.contains(v.name), "\(v.name)") }
        let v = try runLiteProof(["verify", "--help"])
        #expect(v.stdout.contains("wal.checksum-mismatch"))
    }

    @Test func restoreWritesTheDatabaseAndRefusesToOverwrite() throws {
        let out = try rigTempDir("cli-restore") + "/restored.db"
        let r = try runLiteProof(["restore", Fixtures.example("0.5").replica, "-o", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try json(r.stdout)
        #expect(obj["pageSize"] as? Int == 4096)
        #expect(try bytes(of: out) == (try bytes(of: Fixtures.example("0.5").live)))
        let again = try runLiteProof(["restore", Fixtures.example("0.5").replica, "-o", out])
        #expect(again.status == 2)
        #expect(again.stderr.contains("already exists"))
    }

    @Test func restoreDryRunListsThePlan() throws {
        let r = try runLiteProof(["restore", Fixtures.example("0.3").replica, "--dry-run", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try json(r.stdout)
        let steps = obj["steps"] as? [[String: Any]] ?? []
        #expect(steps.count == 8)
        #expect(steps.first?["kind"] as? String == "snapshot")
    }

    @Test func restoreOfDamagedReplicaExitsOneAndLeavesNothing() throws {
        let dir = try exampleCopy("0.5")
        try flipByte(dir + "/" + LTXDamageTests.snapshot, at: 300)
        let outDir = try rigTempDir("cli-damaged")
        let r = try runLiteProof(["restore", dir, "-o", outDir + "/db"])
        #expect(r.status == 1)
        #expect(r.stderr.contains(LTXDamageTests.snapshot))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outDir).isEmpty)
    }

    @Test func inspectShowsLevelsAndGenerations() throws {
        let a = try runLiteProof(["inspect", Fixtures.example("0.5").replica])
        #expect(a.status == 0)
        #expect(a.stdout.contains("level 9 (snapshots)"))
        let b = try runLiteProof(["inspect", "--json", Fixtures.example("0.3").replica])
        let obj = try json(b.stdout)
        #expect((obj["generations"] as? [Any])?.count == 1)
    }
}

/// `liteproof bench` against real replicas, beside the real `litestream restore`.
@Suite struct BenchCommandTests {
    @Test(arguments: [LitestreamVersion.v03, .v05])
    func benchTimesBothToolsAndChecksTheOutputs(_ v: LitestreamVersion) throws {
        let replica = Fixtures.example(v == .v03 ? "0.3" : "0.5").replica
        func snapshot() throws -> [String: [UInt8]] {
            var out: [String: [UInt8]] = [:]
            for f in FS.walk(replica) { out[f] = try bytes(of: replica + "/" + f) }
            return out
        }
        let before = try snapshot()
        let r = try runLiteProof(["bench", replica, "--runs", "2", "--litestream", try Litestream.binary(v), "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try json(r.stdout)
        #expect(obj["runs"] as? Int == 2)
        let phases = obj["phases"] as? [String: Any] ?? [:]
        for p in ["plan", "read", "read+decompress", "apply", "sync", "integrity-check"] { #expect(phases[p] != nil, "phase \(p)") }
        let ls = obj["litestream"] as? [String: Any] ?? [:]
        #expect(ls["identicalOutput"] as? Bool == true)
        #expect((ls["ratio"] as? Double ?? 0) > 0)
        #expect((obj["peakMemory"] as? Int ?? 0) > 0)
        // the replica is untouched
        #expect(try snapshot() == before)
    }
}
