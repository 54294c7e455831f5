import Foundation
import LiteProof
import Testing

/// Many damages to real replicas of each version: every one is reported (exit 1 / verdict
/// damaged), none crashes or hangs, and a restore of a damaged plan leaves nothing behind.
@Suite struct RobustnessTests {
    /// Files whose damage must be found: every file (all are checked in full).
    func files(_ dir: String) -> [String] { FS.walk(dir).filter { $0.hasSuffix(".lz4") || $0.hasSuffix(".ltx") } }

    @Test(arguments: ["0.3", "0.5"])
    func everyFlippedByteIsFound(version: String) throws {
        let source = Fixtures.example(version).replica
        var cases = 0
        for file in files(source) {
            let size = fileSize(source + "/" + file)
            for at in Set([0, 5, size / 3, size / 2, size - 9, size - 1]) where at >= 0 && at < size {
                let dir = try scratchCopy(ofDirectory: source)
                try flipByte(dir + "/" + file, at: at)
                let r = try verify(dir)
                #expect(r.verdict == .damaged, "flipping byte \(at) of \(file) went unnoticed")
                #expect(r.findings.contains { $0.file == file || $0.file.isEmpty || file.hasPrefix($0.file) }, "no finding names \(file): \(r.findings)")
                cases += 1
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
        #expect(cases > 30)
    }

    @Test(arguments: ["0.3", "0.5"])
    func everyTruncationIsFound(version: String) throws {
        let source = Fixtures.example(version).replica
        for file in files(source) {
            let size = fileSize(source + "/" + file)
            for length in Set([0, 1, 7, 99, size / 2, size - 1]) where length < size {
                let dir = try scratchCopy(ofDirectory: source)
                try truncate(dir + "/" + file, to: length)
                let r = try verify(dir)
                #expect(r.verdict == .damaged, "truncating \(file) to \(length) went unnoticed")
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
    }

    /// Deleting a file the latest restore needs, where nothing else covers it, breaks the chain.
    /// (The newest file of a replica cannot be missed offline: the chain simply ends earlier.
    /// Only `compare` with the live database can see that.)
    @Test(arguments: ["0.3", "0.5"])
    func deletingANeededFileIsFound(version: String) throws {
        let source = Fixtures.example(version).replica
        let plan = try RestorePlanner(replica: try Replica.open(source)).plan()
        let original = try bytes(of: Fixtures.example(version).live)
        var detected = 0
        for file in plan.files.dropLast() {
            let dir = try scratchCopy(ofDirectory: source)
            try FileManager.default.removeItem(atPath: dir + "/" + file)
            let replica = try Replica.open(dir)
            let out = dir + "-restored.db"
            // Covered by another file? Then the latest restore still gives the same database.
            let restored = (try? Restorer(replica: replica).restore(to: out)) != nil
            if restored, try bytes(of: out) == original { continue }
            #expect(!restored, "deleting \(file): the restore succeeded with different data")
            #expect(!FileManager.default.fileExists(atPath: out))
            let r = Verifier(replica: replica).run()
            #expect(r.verdict == .damaged, "deleting \(file) went unnoticed")
            detected += 1
        }
        if version == "0.3" { #expect(detected >= 5) }
        // 0.5: the example's latest plan is a single snapshot; delete it together with what would cover it
        if version == "0.5" {
            let dir = try scratchCopy(ofDirectory: source)
            for f in [
                "ltx/9/0000000000000001-0000000000000007.ltx", "ltx/0/0000000000000006-0000000000000006.ltx", "ltx/1/0000000000000006-0000000000000007.ltx",
            ] {
                try FileManager.default.removeItem(atPath: dir + "/" + f)
            }
            #expect(try verify(dir).verdict == .damaged)
        }
    }

    @Test func hugeSizeFieldsAreRefusedWithoutAllocating() throws {
        let dir = try exampleCopy("0.5")
        let path = dir + "/" + LTXDamageTests.snapshot
        var b = try bytes(of: path)
        // compressed size of the first page → 0xFFFFFFF0
        b[106] = 0xFF; b[107] = 0xFF; b[108] = 0xFF; b[109] = 0xF0
        // page-index length → 2^63
        b[b.count - 24] = 0x80
        try write(b, to: path)
        let r = try verify(dir)
        #expect(r.findings(.ltxPageHeader).first?.offset == 106)
        let f = try ReadOnlyFile(path)
        #expect(throws: FormatError.self) { try LTX.readIndex(f, name: "x", header: try LTX.readHeader(f, name: "x")) }
    }

    @Test func hugePageNumbersAndSizesAreRefused() throws {
        // 0.3: a frame forged (checksum resealed) to name page 2^32-1 with a 2^32-1-page commit:
        // restoring it would seek 256 TiB into the output.
        let dir = try exampleCopy("0.3")
        let seg0 = Fixtures.v03Segment("00000000"), seg = Fixtures.v03Segment("00004080")
        let first = try lz4DecompressFile(dir + "/" + seg0)
        let frame = 24 + 4096, lastFrame = first.count - frame
        try recompressLZ4(dir + "/" + seg) { b in
            for k in 0..<8 { b[k] = 0xFF }
            resealFrame(&b, at: 0, pageSize: 4096, seed: (u32(first, lastFrame + 16), u32(first, lastFrame + 20)), bigEndian: false)
        }
        let r = try verify(dir)
        #expect(r.findings(.walBadFrame).first?.message.contains("beyond the limit") == true, "\(r.findings)")
        let out = try rigTempDir("huge") + "/db"
        #expect(throws: LiteProofError.self) { try Restorer(replica: try Replica.open(dir)).restore(to: out) }
        #expect(!FileManager.default.fileExists(atPath: out))

        // 0.5: a header claiming 2^32-1 pages.
        let d5 = try exampleCopy("0.5")
        let path = d5 + "/" + LTXDamageTests.snapshot
        var b = try bytes(of: path)
        for k in 12..<16 { b[k] = 0xFF }
        try write(b, to: path)
        #expect(try verify(d5).findings(.ltxHeader).first?.offset == 12)
    }

    @Test func snapshotBombStopsAtTheDeclaredSize() throws {
        // A snapshot that decompresses far past what its header declares is stopped there.
        let dir = try exampleCopy("0.3")
        var declared = 0
        try recompressLZ4(dir + "/" + Fixtures.v03Snapshot) { b in
            declared = b.count
            b += [UInt8](repeating: 0, count: 64 << 20)  // 64 MiB of zeros: compresses to almost nothing
        }
        let r = try verify(dir)
        #expect(r.findings(.snapshotSize).first?.offset == Int64(declared), "\(r.findings)")
    }
}
