import Foundation
import LiteProof
import Testing

/// The example replicas committed under Tests/Fixtures, made by real Litestream 0.3.13 and 0.5.17.
@Suite struct ExampleReplicaTests {
    @Test(arguments: ["0.3", "0.5"])
    func restoreEqualsTheLiveDatabase(version: String) throws {
        let ex = Fixtures.example(version)
        let out = try rigTempDir("ex") + "/restored.db"
        let report = try Restorer(replica: try Replica.open(ex.replica)).restore(to: out)
        #expect(try bytes(of: out) == (try bytes(of: ex.live)))
        #expect(report.integrityProblems.isEmpty)
        #expect(report.bytesWritten == Int64(fileSize(ex.live)))
        #expect(!FileManager.default.fileExists(atPath: out + "-wal"))
    }

    @Test(arguments: ["0.3", "0.5"])
    func inspectListsTheFiles(version: String) throws {
        let inv = try Inventory.make(try Replica.open(Fixtures.example(version).replica))
        #expect(inv.latest != nil)
        if version == "0.3" {
            #expect(inv.generations?.count == 1)
            #expect(inv.generations?.first?.indexes.first?.segments.count == 7)
            // decompressed sizes: every segment but the last from the next offset; the last by decompressing
            let segs = inv.generations?.first?.indexes.first?.segments ?? []
            #expect(segs.allSatisfy { ($0.size ?? 0) > 0 && ($0.size ?? 0) % (24 + 4096) == ($0.offset == 0 ? 32 : 0) })
        } else {
            #expect(inv.levels?.map(\.level) == [0, 1, 9])
            #expect(inv.levels?.last?.files.allSatisfy { $0.pageSize == 4096 && $0.time != nil } == true)
        }
    }

    @Test func anOffsetInsideAFrameMeansTheWholeFramesBeforeIt() throws {
        // Offsets are WAL bytes; frames are 32 + k × (24 + 4096). A mid-frame offset is the user's
        // choice, not damage: it restores the commits that end at or before it.
        let replica = try Replica.open(Fixtures.example("0.3").replica)
        let dir = try rigTempDir("offset")
        func restore(_ offset: Int64) throws -> [UInt8] {
            let out = dir + "/\(offset).db"
            try Restorer(replica: replica).restore(.walIndex(0, offset: offset), to: out, options: RestoreOptions(force: true))
            return try bytes(of: out)
        }
        let frame: Int64 = 24 + 4096
        #expect(try restore(32 + 4 * frame + 100) == (try restore(32 + 4 * frame)))
        #expect(try restore(5000) == (try restore(32)))
        #expect(try restore(32 + 8 * frame) != (try restore(32)))
    }

    @Test func restoreRefusesToOverwrite() throws {
        let ex = Fixtures.example("0.5")
        let out = try rigTempDir("ow") + "/db"
        try write([1, 2, 3], to: out)
        #expect(throws: LiteProofError.self) { try Restorer(replica: try Replica.open(ex.replica)).restore(to: out) }
        #expect(try bytes(of: out) == [1, 2, 3])
        try Restorer(replica: try Replica.open(ex.replica)).restore(to: out, options: RestoreOptions(force: true))
        #expect(try bytes(of: out) == (try bytes(of: ex.live)))
    }

    @Test func aFolderWithoutAReplicaIsAClearError() throws {
        let dir = try rigTempDir("none")
        try write([0], to: dir + "/something.txt")
        do {
            _ = try Replica.open(dir)
            Issue.record("expected an error")
        } catch let e as LiteProofError {
            #expect(e.kind == .usage)
            #expect(e.message.contains("holds no Litestream replica"))
        }
        #expect(throws: LiteProofError.self) { try Replica.open(dir + "/missing") }
    }

    @Test func fileURLsAreAccepted() throws {
        let r = try Replica.open("file://" + Fixtures.example("0.5").replica)
        #expect(r.format == .ltx)
    }
}

/// Known values of the checksums LiteProof relies on.
@Suite struct ChecksumTests {
    @Test func crc64ISOCheckValue() {
        // CRC-64/GO-ISO("123456789"), as Go's hash/crc64 with the ISO table computes it.
        var c = CRC64()
        c.update(Array("123456789".utf8))
        #expect(c.value == 0xb909_56c7_75a4_1001)
    }

    @Test func crc64IsIncremental() {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var a = CRC64()
        a.update(data)
        var b = CRC64()
        b.update(Array(data[0..<3]))
        b.update(Array(data[3..<4097]))
        b.update(Array(data[4097...]))
        #expect(a.value == b.value)
    }

    @Test func walHeaderOfARealSegmentParses() throws {
        let seg = Fixtures.example("0.3").replica + "/" + Fixtures.v03Segment("00000000")
        let wal = try lz4DecompressFile(seg)
        let h = try wal.withUnsafeBytes { try WALHeader.parse($0) }
        #expect(h.pageSize == 4096)
        #expect(h.magic == WALHeader.magicLE)
        var bad = wal
        bad[20] ^= 1
        #expect(throws: FormatError.self) { try bad.withUnsafeBytes { try WALHeader.parse($0) } }
        do { _ = try bad.withUnsafeBytes { try WALHeader.parse($0) } } catch let e as FormatError { #expect(e.code == .walHeaderChecksum && e.offset == 24) }
    }
}
