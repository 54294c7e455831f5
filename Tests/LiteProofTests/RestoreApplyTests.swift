import Foundation
import Testing

@testable import LiteProof

/// The restore's apply paths beyond the comparison suite: the 0.3 page map forced to flush and
/// overflow on real replicas, and inputs forged from real replicas whose numbers would otherwise
/// size the work (a WAL frame naming an absurd page, an LTX header claiming 2^30 pages).
@Suite struct RestoreApplyTests {
    let frame = 24 + 4096

    /// A page map of 16 slots flushes every few transactions and overflows into the scratch file
    /// for any larger transaction: the output must still be litestream's, at every index.
    @Test(arguments: [Scenario.v03Basic, .v03Multi, .v03Page64k])
    func tinyPageMapRestoresWhatLitestreamRestores(_ s: Scenario) async throws {
        let r = try await ReplicaFactory.shared.replica(s)
        let replica = try Replica.open(r.replicaDir)
        let gen = try RestorePlanner(replica: replica).chooseGeneration(.latest()).0
        var targets: [(RestoreTarget, [String])] = [(.latest(), [])]
        for i in gen.indexes where gen.snapshots.contains(where: { $0.index <= i }) {
            targets.append((.walIndex(i), ["-index", i.hex(width: 8)]))
        }
        for (target, args) in targets {
            let dir = try rigTempDir("tinymap")
            let ours = dir + "/liteproof.db", theirs = dir + "/litestream.db"
            var restorer = Restorer(replica: replica)
            restorer.pageMapMemory = 1  // the minimum: 16 slots
            try restorer.restore(target, to: ours, options: RestoreOptions(integrityCheck: .none))
            let (status, text) = try litestreamRestore(r.version, replicaDir: r.replicaDir, output: theirs, args: args)
            try #require(status == 0, "litestream restore \(args): \(text)")
            #expect(FileManager.default.contentsEqual(atPath: ours, andPath: theirs), "\(s) \(args): differs from litestream restore")
        }
    }

    /// The last frame of the example's WAL names page 2^30 − 1 (resealed into the checksum chain,
    /// recompressed): every file check passes, and the restore reports the frame as damage
    /// (exit 1) instead of trying to write a 4 TiB file.
    @Test func walFrameNamingAnAbsurdPageIsDamage() throws {
        let dir = try exampleCopy("0.3"), seg = Fixtures.v03Segment("00018260")
        var frameOffset = 0
        try recompressLZ4(dir + "/" + seg) { b in
            let n = b.count / frame
            let last = (n - 1) * frame, prev = (n - 2) * frame
            frameOffset = last
            let page = UInt32((1 << 30) - 1).bigEndian
            withUnsafeBytes(of: page) { for k in 0..<4 { b[last + k] = $0[k] } }
            resealFrame(&b, at: last, pageSize: 4096, seed: (u32(b, prev + 16), u32(b, prev + 20)), bigEndian: false)
        }
        let out = try rigTempDir("absurd") + "/out.db"
        let started = Date()
        let run = try runLiteProof(["restore", dir, "-o", out, "--keep-failed", "--integrity-check", "none"], timeout: 60)
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.contains("wal.bad-frame"), "\(run.stderr)")
        #expect(run.stderr.contains("1073741823"), "\(run.stderr)")
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(!FileManager.default.fileExists(atPath: out))
        do {
            try Restorer(replica: try Replica.open(dir)).restore(to: out)
            Issue.record("the restore should fail")
        } catch let e as LiteProofError {
            #expect(e.kind == .damaged)
            #expect(e.finding?.code == .walBadFrame)
            #expect(e.finding?.file == seg)
            #expect(e.finding?.offset == Int64(frameOffset))
        }
        let r = Verifier(replica: try Replica.open(dir), restoreCheck: .quick).run()
        #expect(r.verdict == .damaged)
    }

    /// The example's 0.5 snapshot claims 2^30 pages (a 46 KB file), or 2^32 − 1: the restore
    /// refuses it as damage (the header's limit or the pages the files hold) before sizing
    /// anything from that number, within a 1 GiB address-space limit.
    @Test(arguments: [UInt32(1 << 30), .max])
    func ltxCommitBeyondThePagesHeldIsDamage(_ commit: UInt32) throws {
        let dir = try exampleCopy("0.5"), path = dir + "/" + LTXDamageTests.snapshot
        var b = try bytes(of: path)
        withUnsafeBytes(of: commit.bigEndian) { for k in 0..<4 { b[12 + k] = $0[k] } }
        try write(b, to: path)
        let out = try rigTempDir("bigcommit") + "/out.db"
        let started = Date()
        // `liteproof restore` under a 1 GiB address-space limit (a 4 GiB owner array would fail).
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -v 1048576; exec \"$0\" restore \"$1\" -o \"$2\" 2>&1", liteproofBinary(), dir, out]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 1, "\(text)")
        #expect(text.contains(commit == 1 << 30 ? "ltx.bad-commit" : "ltx.bad-header"), "\(text)")
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
