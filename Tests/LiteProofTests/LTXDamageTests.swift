import Foundation
import LiteProof
import Testing

/// Each 0.5 finding code, from the real example replica (Tests/Fixtures/example-0.5) damaged one way.
@Suite struct LTXDamageTests {
    static let snapshot = "ltx/9/0000000000000001-0000000000000007.ltx"

    func copy() throws -> String { try exampleCopy("0.5") }

    func index(_ path: String) throws -> [LTXIndexEntry] {
        let f = try ReadOnlyFile(path)
        return try LTX.readIndex(f, name: path, header: try LTX.readHeader(f, name: path))
    }

    @Test func cleanExampleVerifies() throws {
        let r = try verify(Fixtures.example("0.5").replica)
        #expect(r.verdict == .ok, "\(r.findings)")
        #expect(r.findings.isEmpty)
        #expect(r.filesChecked == 15)
        #expect(r.latest?.txid == 7)
    }

    @Test func badMagic() throws {
        let dir = try copy()
        try flipByte(dir + "/" + Self.snapshot, at: 0)
        expectFinding(try verify(dir), .ltxHeader, file: Self.snapshot, offset: 0)
    }

    @Test func unknownPageFlags() throws {
        let dir = try copy(), path = dir + "/" + Self.snapshot
        var b = try bytes(of: path)
        b[104] = 0x01
        b[105] = 0x00
        try write(b, to: path)
        expectFinding(try verify(dir), .ltxPageHeader, file: Self.snapshot, offset: 100)
    }

    @Test func pagesOutOfOrder() throws {
        let dir = try copy(), path = dir + "/" + Self.snapshot
        let idx = try index(path)
        var b = try bytes(of: path)
        let second = Int(idx[1].offset)
        for k in 0..<4 { b[second + k] = b[Int(idx[0].offset) + k] }
        try write(b, to: path)
        expectFinding(try verify(dir), .ltxPageOrder, file: Self.snapshot, offset: idx[1].offset)
    }

    @Test func shortenedPageBlock() throws {
        let dir = try copy(), path = dir + "/" + Self.snapshot
        var b = try bytes(of: path)
        b[109] &-= 1  // compressed size (u32 at 106) one less: the block no longer decodes to a page
        try write(b, to: path)
        expectFinding(try verify(dir), .ltxPageData, file: Self.snapshot, offset: 110)
    }

    @Test func damagedPageIndex() throws {
        let dir = try copy(), path = dir + "/" + Self.snapshot
        let b = try bytes(of: path)
        let indexSize = Int(b[(b.count - 24)..<(b.count - 16)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let indexAt = b.count - 24 - indexSize
        try flipByte(path, at: indexAt + 1, mask: 0x01)  // the first entry's offset varint
        let r = try verify(dir)
        let hit = r.findings(.ltxPageIndex).first
        #expect(hit?.file == Self.snapshot)
        #expect((hit?.offset ?? -1) >= Int64(indexAt) && (hit?.offset ?? -1) < Int64(b.count - 16))
    }

    @Test func postApplyChecksumWithoutChecksums() throws {
        let dir = try copy(), path = dir + "/" + Self.snapshot
        let size = fileSize(path)
        try flipByte(path, at: size - 16)
        expectFinding(try verify(dir), .ltxTrailer, file: Self.snapshot, offset: Int64(size - 16))
    }

    @Test func fileChecksum() throws {
        let dir = try copy(), path = dir + "/" + Self.snapshot
        let size = fileSize(path)
        try flipByte(path, at: size - 1)
        expectFinding(try verify(dir), .ltxFileChecksum, file: Self.snapshot, offset: Int64(size - 8))
    }

    @Test func flippedPageByteIsCaughtByTheFileChecksum() throws {
        // Recompressing is not needed: the CRC-64 covers the decompressed pages.
        let dir = try copy(), path = dir + "/" + Self.snapshot
        let idx = try index(path)
        // flip the last literal byte of the first page's block: it decodes, to different bytes
        let at = Int(idx[0].offset + idx[0].size) - 1
        try flipByte(path, at: at, mask: 0x01)
        let r = try verify(dir)
        #expect(r.verdict == .damaged)
        #expect(r.errorCodes.isSubset(of: ["ltx.file-checksum", "ltx.bad-page-data"]) && !r.errorCodes.isEmpty, "\(r.findings)")
    }

    @Test func truncatedFile() throws {
        let dir = try copy()
        try truncate(dir + "/" + Self.snapshot, to: 60)
        expectFinding(try verify(dir), .ltxTruncated, file: Self.snapshot, offset: 60)
    }

    @Test func nameDisagreesWithHeader() throws {
        let dir = try copy()
        let stray = "ltx/0/0000000000000008-0000000000000008.ltx"
        try FileManager.default.copyItem(atPath: dir + "/ltx/0/0000000000000003-0000000000000003.ltx", toPath: dir + "/" + stray)
        expectFinding(try verify(dir), .ltxNameMismatch, file: stray, offset: 16)
    }

    @Test func snapshotMissingPages() throws {
        let dir = try copy(), path = dir + "/" + Self.snapshot
        var b = try bytes(of: path)
        b[15] &+= 1  // commit size + 1: the snapshot now lacks its last page
        try write(b, to: path)
        expectFinding(try verify(dir), .ltxCommit, file: Self.snapshot, offset: 12)
    }

    @Test func gapInTheChain() throws {
        let dir = try copy()
        for f in [Self.snapshot, "ltx/0/0000000000000006-0000000000000006.ltx", "ltx/1/0000000000000006-0000000000000007.ltx"] {
            try FileManager.default.removeItem(atPath: dir + "/" + f)
        }
        let r = try verify(dir)
        #expect(r.verdict == .damaged)
        let gap = r.findings(.chainGap).first
        #expect(gap?.message.contains("have up to 0000000000000005 but next file starts at 0000000000000007") == true, "\(r.findings)")
        #expect(gap?.message.hasPrefix("TXIDs 0000000000000006–0000000000000006 (1 TXID) are missing") == true, "\(r.findings)")
        #expect(gap?.severity == .error && r.latestBrokenBy == nil)
        // Restore stops with the same words, exit 1.
        let out = try rigTempDir("gap-restore") + "/x.db"
        let cli = try runLiteProof(["restore", dir, "-o", out])
        #expect(cli.status == 1 && cli.stderr.contains("TXIDs 0000000000000006–0000000000000006 (1 TXID) are missing"), "\(cli.stderr)")
    }

    @Test func gapOfSeveralTXIDsIsOneRangeWithItsCount() throws {
        let dir = try copy()
        for f in [
            Self.snapshot, "ltx/9/0000000000000001-0000000000000005.ltx", "ltx/0/0000000000000004-0000000000000004.ltx",
            "ltx/0/0000000000000005-0000000000000005.ltx", "ltx/0/0000000000000006-0000000000000006.ltx",
            "ltx/1/0000000000000003-0000000000000004.ltx", "ltx/1/0000000000000005-0000000000000005.ltx",
            "ltx/1/0000000000000006-0000000000000007.ltx",
        ] {
            try FileManager.default.removeItem(atPath: dir + "/" + f)
        }
        let r = try verify(dir)
        let gaps = r.findings(.chainGap)
        #expect(gaps.count == 1 && gaps[0].severity == .error, "\(r.findings)")
        #expect(gaps.first?.message.hasPrefix("TXIDs 0000000000000004–0000000000000006 (3 TXIDs) are missing") == true, "\(r.findings)")
    }

    /// A hole in level 0 that a level-1 compaction covers makes no restore impossible: no finding
    /// (as Litestream, whose plan takes the compaction).
    @Test func gapInLevel0CoveredByACompactionIsNoFinding() throws {
        let dir = try copy()
        try FileManager.default.removeItem(atPath: dir + "/ltx/0/0000000000000006-0000000000000006.ltx")
        let r = try verify(dir)
        #expect(r.verdict == .ok && r.findings(.chainGap).isEmpty, "\(r.findings)")
    }

    @Test func noSnapshotAndNothingFromTXIDOne() throws {
        let dir = try copy()
        try FileManager.default.removeItem(atPath: dir + "/ltx/9")
        for level in ["0", "1"] {
            try FileManager.default.removeItem(atPath: dir + "/ltx/\(level)/0000000000000001-0000000000000001.ltx")
        }
        let r = try verify(dir)
        #expect(r.verdict == .damaged)
        #expect(r.findings(.chainNoSnapshot).first?.file == "ltx/9")
    }

    @Test func withoutSnapshotsTheChainStartsAtTXIDOneAsLitestreamDoes() throws {
        // Litestream's plan does not need a level-9 snapshot: files of levels 0–8 from TXID 1 will do.
        let dir = try copy()
        try FileManager.default.removeItem(atPath: dir + "/ltx/9")
        #expect(try verify(dir).verdict == .ok)
        let out = try rigTempDir("nosnap")
        for (name, args, target) in [("latest", [String](), RestoreTarget.latest()), ("txid1", ["-txid", "0000000000000001"], .txid(1))] {
            try Restorer(replica: try Replica.open(dir)).restore(target, to: out + "/\(name)-ours.db")
            let ls = try litestreamRestore(.v05, replicaDir: dir, output: out + "/\(name)-theirs.db", args: args)
            #expect(ls.status == 0, "\(ls.output)")
            #expect(try bytes(of: out + "/\(name)-ours.db") == (try bytes(of: out + "/\(name)-theirs.db")), "\(name)")
        }
        #expect(try bytes(of: out + "/latest-ours.db") == (try bytes(of: Fixtures.example("0.5").live)))
    }

    @Test func overlapWithinALevel() throws {
        let dir = try copy()
        let extra = "ltx/0/0000000000000004-0000000000000005.ltx"
        try FileManager.default.copyItem(atPath: dir + "/ltx/0/0000000000000005-0000000000000005.ltx", toPath: dir + "/" + extra)
        let r = try verify(dir)
        let overlap = r.findings(.chainOverlap)
        #expect(
            overlap.contains { $0.severity == .warning && ($0.file == extra || $0.file.hasSuffix("0000000000000005-0000000000000005.ltx")) }, "\(r.findings)")
    }

    @Test func s3LayoutIsRecognised() throws {
        // A bucket prefix downloaded from S3: <level %04x>/<min>-<max>.ltx, no ltx/ folder.
        let src = Fixtures.example("0.5").replica
        let dir = try rigTempDir("s3")
        for level in ["0", "1", "9"] {
            try FileManager.default.copyItem(atPath: src + "/ltx/" + level, toPath: dir + "/000" + level)
        }
        let replica = try Replica.open(dir)
        #expect(replica.ltx?.style == .s3)
        let r = Verifier(replica: replica).run()
        #expect(r.verdict == .ok, "\(r.findings)")
        let out = try rigTempDir("s3out") + "/db"
        try Restorer(replica: replica).restore(to: out)
        #expect(try bytes(of: out) == (try bytes(of: Fixtures.example("0.5").live)))
    }
}
