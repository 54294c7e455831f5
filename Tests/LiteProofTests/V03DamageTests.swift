import CLZ4
import Foundation
import LiteProof
import Testing

/// Each 0.3 finding code, from the real example replica (Tests/Fixtures/example-0.3, one
/// generation, one snapshot, seven WAL segments of index 0, 4096-byte pages) damaged one way.
@Suite struct V03DamageTests {
    let frame = 24 + 4096

    func copy() throws -> String { try exampleCopy("0.3") }

    @Test func cleanExampleVerifies() throws {
        let r = try verify(Fixtures.example("0.3").replica)
        #expect(r.verdict == .ok, "\(r.findings)")
        #expect(r.errorCount == 0)
        #expect(r.filesChecked == 8)
    }

    @Test func strayFileIsAWarning() throws {
        let dir = try copy()
        try write(Array("hello".utf8), to: dir + "/notes.txt")
        let r = try verify(dir)
        #expect(r.verdict == .ok)
        expectFinding(r, .layoutStray, file: "notes.txt", offset: nil)
    }

    @Test func flippedFrameMagic() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("00004080")
        try flipByte(dir + "/" + seg, at: 0)
        let r = try verify(dir)
        #expect(r.verdict == .damaged)
        expectFinding(r, .lz4Header, file: seg, offset: 0)
    }

    @Test func corruptBlockData() throws {
        // Byte 600 of this segment sits in a sequence header; flipping it makes the block undecodable.
        let dir = try copy(), seg = Fixtures.v03Segment("00004080")
        try flipByte(dir + "/" + seg, at: 600)
        expectFinding(try verify(dir), .lz4Data, file: seg, offset: 11)
    }

    /// A WAL header forged to the largest page size (65536) and the largest checkpoint sequence,
    /// its checksum recomputed and the segment compressed again: the first frame now spans four
    /// segments, and its checksum mismatch is named in the segment it starts in, at its offset.
    @Test func forgedPageSizeNamesTheSegmentTheFrameStartsIn() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("00000000")
        var wal = try lz4DecompressFile(dir + "/" + seg)
        wal.replaceSubrange(8..<16, with: [0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF])
        let big = wal[3] & 1 == 1
        var s0: UInt32 = 0, s1: UInt32 = 0
        wal.withUnsafeBytes { WALChecksum.update(UnsafeRawBufferPointer(rebasing: $0[0..<24]), bigEndian: big, &s0, &s1) }
        wal.replaceSubrange(24..<32, with: [s0 >> 24, s0 >> 16, s0 >> 8, s0, s1 >> 24, s1 >> 16, s1 >> 8, s1].map { UInt8(truncatingIfNeeded: $0) })
        try write(SegmentPrefetcherTests.frame(wal, blockSize: LZ4F_max4MB), to: dir + "/" + seg)
        let r = try verify(dir)
        expectFinding(r, .walPageSize, file: seg, offset: 8)
        expectFinding(r, .walChecksumMismatch, file: seg, offset: 32)
        #expect(r.findings.allSatisfy { ($0.offset ?? 0) >= 0 }, "\(r.findings)")
    }

    @Test func contentChecksum() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("00004080")
        let size = fileSize(dir + "/" + seg)
        try flipByte(dir + "/" + seg, at: size - 2)
        expectFinding(try verify(dir), .lz4ContentChecksum, file: seg, offset: Int64(size - 4))
    }

    @Test func truncatedSegment() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("000080e0")
        let half = fileSize(dir + "/" + seg) / 2
        try truncate(dir + "/" + seg, to: half)
        expectFinding(try verify(dir), .lz4Truncated, file: seg, offset: Int64(half))
    }

    @Test func trailingBytesAfterFrame() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("000080e0")
        let path = dir + "/" + seg
        let size = fileSize(path)
        try write(try bytes(of: path) + [1, 2, 3, 4, 5], to: path)
        expectFinding(try verify(dir), .lz4TrailingData, file: seg, offset: Int64(size))
    }

    @Test func snapshotWithBadHeader() throws {
        let dir = try copy()
        try recompressLZ4(dir + "/" + Fixtures.v03Snapshot) { $0[0] ^= 0xFF }
        expectFinding(try verify(dir), .snapshotHeader, file: Fixtures.v03Snapshot, offset: 0)
    }

    @Test func snapshotMissingItsLastPage() throws {
        let dir = try copy()
        var newSize = 0
        try recompressLZ4(dir + "/" + Fixtures.v03Snapshot) { b in
            b.removeLast(4096)
            newSize = b.count
        }
        expectFinding(try verify(dir), .snapshotSize, file: Fixtures.v03Snapshot, offset: Int64(newSize))
    }

    @Test func walHeaderWithBadMagic() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("00000000")
        try recompressLZ4(dir + "/" + seg) { $0[0] ^= 0xFF }
        expectFinding(try verify(dir), .walHeader, file: seg, offset: 0)
    }

    @Test func walHeaderChecksum() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("00000000")
        try recompressLZ4(dir + "/" + seg) { $0[12] ^= 0x01 }  // checkpoint sequence, covered by the header checksum
        expectFinding(try verify(dir), .walHeaderChecksum, file: seg, offset: 24)
    }

    @Test func frameWithForeignSalt() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("00004080")
        try recompressLZ4(dir + "/" + seg) { $0[8] ^= 0x01 }
        expectFinding(try verify(dir), .walSaltMismatch, file: seg, offset: 0)
    }

    @Test func changedPageBytesBreakTheChecksumChain() throws {
        // The LZ4 frame is valid (recompressed); only the WAL checksum chain can see the change.
        let dir = try copy(), seg = Fixtures.v03Segment("000080e0")
        try recompressLZ4(dir + "/" + seg) { $0[frame + 24 + 7] ^= 0x01 }  // second frame's page
        let r = try verify(dir)
        #expect(r.findings(.lz4ContentChecksum).isEmpty)
        expectFinding(r, .walChecksumMismatch, file: seg, offset: Int64(frame))
        // and the restore refuses it, leaving nothing behind
        let out = try rigTempDir("restore") + "/out.db"
        #expect(throws: LiteProofError.self) { try Restorer(replica: try Replica.open(dir)).restore(to: out) }
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: (out as NSString).deletingLastPathComponent).isEmpty)
    }

    @Test func partialFrameAtTheEnd() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("00018260")
        var original = 0
        try recompressLZ4(dir + "/" + seg) { b in
            original = b.count
            b.removeLast(100)
        }
        expectFinding(try verify(dir), .walPartialFrame, file: seg, offset: Int64(original - frame))
    }

    @Test func uncommittedTailIsAWarning() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("00018260")
        try recompressLZ4(dir + "/" + seg) { b in
            let n = b.count / frame
            let last = (n - 1) * frame, prev = (n - 2) * frame
            for k in 4..<8 { b[last + k] = 0 }  // commit size → 0
            resealFrame(&b, at: last, pageSize: 4096, seed: (u32(b, prev + 16), u32(b, prev + 20)), bigEndian: false)
        }
        let r = try verify(dir)
        #expect(r.verdict == .ok, "\(r.findings)")
        let w = r.findings(.walUncommittedTail)
        #expect(w.count == 1)
        #expect(w.first?.severity == .warning)
        #expect(w.first?.file == seg)
        #expect((w.first?.offset ?? -1) % Int64(frame) == 0)
    }

    @Test func soundFilesButACorruptDatabaseFailTheTrialRestore() throws {
        // The last frame's page gets a broken b-tree header; the frame is resealed into the
        // checksum chain and the segment recompressed, so every file check passes.
        let dir = try copy(), seg = Fixtures.v03Segment("00018260")
        try recompressLZ4(dir + "/" + seg) { b in
            let n = b.count / frame
            let last = (n - 1) * frame, prev = (n - 2) * frame
            let pgno = u32(b, last)
            b[last + 24 + (pgno == 1 ? 100 : 0)] = 0x00  // b-tree page type → invalid
            resealFrame(&b, at: last, pageSize: 4096, seed: (u32(b, prev + 16), u32(b, prev + 20)), bigEndian: false)
        }
        let files = try verify(dir)
        #expect(files.verdict == .ok, "\(files.findings)")
        let r = Verifier(replica: try Replica.open(dir), restoreCheck: .quick).run()
        #expect(r.verdict == .damaged)
        #expect(r.findings(.restoreIntegrity).first?.severity == .error)
        #expect(r.restoreCheck != "ok")
    }

    @Test func verifyReportsTheNewestCanary() throws {
        // A canary written into a copy of the example's live database shows as missing from the replica.
        let live = try rigTempDir("canary") + "/live.db"
        try FileManager.default.copyItem(atPath: Fixtures.example("0.3").live, toPath: live)
        let c = try Canary.write(to: live, label: "not replicated")
        let r = Verifier(replica: try Replica.open(Fixtures.example("0.3").replica), restoreCheck: .quick, live: live).run()
        #expect(r.verdict == .ok)
        #expect(r.restoreCheck == "ok")
        #expect(r.canaries?.replicaHasTable == false)
        #expect(r.canaries?.missingFromReplica?.map(\.token) == [c.token])
    }

    @Test func frameNamingPageZero() throws {
        let dir = try copy(), seg0 = Fixtures.v03Segment("00000000"), seg = Fixtures.v03Segment("00004080")
        let first = try lz4DecompressFile(dir + "/" + seg0)
        let lastFrame = first.count - frame
        try recompressLZ4(dir + "/" + seg) { b in
            for k in 0..<4 { b[k] = 0 }
            resealFrame(&b, at: 0, pageSize: 4096, seed: (u32(first, lastFrame + 16), u32(first, lastFrame + 20)), bigEndian: false)
        }
        expectFinding(try verify(dir), .walBadFrame, file: seg, offset: 0)
    }

    @Test func missingMiddleSegmentIsAGap() throws {
        let dir = try copy()
        try FileManager.default.removeItem(atPath: dir + "/" + Fixtures.v03Segment("0000c140"))
        let r = try verify(dir)
        expectFinding(r, .chainGap, file: Fixtures.v03Segment("000101a0"), offset: 0)
        // The latest position is planned (Litestream would try it) but named as not restorable.
        #expect(r.latestBrokenBy?.code == .chainGap)
        #expect(try verify(Fixtures.example("0.3").replica).latestBrokenBy == nil)
    }

    @Test func overlappingSegment() throws {
        let dir = try copy()
        try FileManager.default.moveItem(atPath: dir + "/" + Fixtures.v03Segment("0000c140"), toPath: dir + "/" + Fixtures.v03Segment("0000c000"))
        expectFinding(try verify(dir), .chainOverlap, file: Fixtures.v03Segment("0000c000"), offset: 0)
    }

    @Test func missingInitialSegment() throws {
        let dir = try copy()
        try FileManager.default.removeItem(atPath: dir + "/" + Fixtures.v03Segment("00000000"))
        expectFinding(try verify(dir), .chainMissingInitialSegment, file: Fixtures.v03Segment("00004080"), offset: 0)
    }

    @Test func noSnapshot() throws {
        let dir = try copy()
        try FileManager.default.removeItem(atPath: dir + "/" + Fixtures.v03Snapshot)
        expectFinding(try verify(dir), .chainNoSnapshot, file: "generations/\(Fixtures.v03Generation)", offset: nil)
    }

    @Test func noGenerations() throws {
        let dir = try rigTempDir("empty")
        try FileManager.default.createDirectory(atPath: dir + "/generations", withIntermediateDirectories: true)
        try write(Array("x".utf8), to: dir + "/generations/README")
        let r = try verify(dir)
        #expect(r.verdict == .damaged)
        #expect(!r.findings(.chainEmpty).isEmpty)
    }

    /// A dangling link in place of a segment: the store cannot produce the file, which is no
    /// damage in the replica: the verdict is `unreadable` (exit 2), naming the file.
    @Test func unreadableFile() throws {
        let dir = try copy(), seg = Fixtures.v03Segment("000080e0")
        try FileManager.default.removeItem(atPath: dir + "/" + seg)
        try FileManager.default.createSymbolicLink(atPath: dir + "/" + seg, withDestinationPath: dir + "/nowhere")
        let r = try verify(dir)
        #expect(r.verdict == .unreadable)
        #expect(r.findings(.fileUnreadable).isEmpty)
        #expect(r.storageFailures.map(\.storage) == [.missing], "\(r.storageFailures)")
        #expect(r.storageFailures.first?.error.contains(seg) == true, "\(r.storageFailures)")
    }

    @Test func lostFileTimesAreFlagged() throws {
        let dir = try copy()
        let stamp = Date(timeIntervalSince1970: 1_700_000_000)
        for f in FS.walk(dir) {
            try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: dir + "/" + f)
        }
        let r = try verify(dir)
        #expect(r.verdict == .ok)
        #expect(r.findings(.timeUntrusted).first?.severity == .warning)
    }
}
