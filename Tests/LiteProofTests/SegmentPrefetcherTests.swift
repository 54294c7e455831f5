import CLZ4
import Foundation
import Testing

@testable import LiteProof

/// The restore's block-parallel LZ4 decoder (``SegmentPrefetcher``) against liblz4's frame
/// decoder (``LZ4Frame/decompress(_:name:_:)``): the same bytes and, for damaged frames, the same
/// error with the same offset and words, in every frame shape and for every kind of damage. The
/// content is real: the decompressed files of the example 0.3 replica (made by Litestream 0.3.13),
/// framed again by liblz4 in 64 KiB blocks so one file holds many blocks.
@Suite struct SegmentPrefetcherTests {
    /// XXH32 test vectors of the xxHash specification's reference implementation.
    @Test func xxh32MatchesReferenceValues() {
        #expect(XXH32.hash([]) == 0x02CC_5D05)
        #expect(XXH32.hash(Array("a".utf8)) == 0x550D_7456)
        #expect(XXH32.hash(Array("abc".utf8)) == 0x32D1_53FF)
        #expect(XXH32.hash(Array("Nobody inspects the spammish repetition".utf8)) == 0xE229_3B2F)
    }

    /// Every file Litestream wrote carries XXH32 of its content as the frame's last four bytes.
    @Test func xxh32MatchesLitestreamsContentChecksums() throws {
        let root = Fixtures.example("0.3").replica
        let paths = [Fixtures.v03Snapshot] + Self.segments.map(Fixtures.v03Segment)
        for path in paths {
            let frame = try bytes(of: root + "/" + path)
            let content = try lz4DecompressFile(root + "/" + path)
            #expect(XXH32.hash(content) == u32le(frame, frame.count - 4), "\(path)")
        }
    }

    static let segments = ["00000000", "00004080", "000080e0", "0000c140", "000101a0", "00014200", "00018260"]

    /// The example replica's files, decompressed and joined (real database and WAL bytes), then
    /// repeated to about 700 KB: eleven 64 KiB blocks.
    static func realContent() throws -> [UInt8] {
        let root = Fixtures.example("0.3").replica
        var once = try lz4DecompressFile(root + "/" + Fixtures.v03Snapshot)
        for seg in segments { once += try lz4DecompressFile(root + "/" + Fixtures.v03Segment(seg)) }
        var all: [UInt8] = []
        while all.count < 700_000 { all += once }
        return all
    }

    static func frame(
        _ plain: [UInt8], blockSize: LZ4F_blockSizeID_t = LZ4F_max64KB, linked: Bool = false, contentChecksum: Bool = true,
        blockChecksum: Bool = false, contentSize: Bool = false
    ) -> [UInt8] {
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.blockSizeID = blockSize
        prefs.frameInfo.blockMode = linked ? LZ4F_blockLinked : LZ4F_blockIndependent
        prefs.frameInfo.contentChecksumFlag = contentChecksum ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum
        prefs.frameInfo.blockChecksumFlag = blockChecksum ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum
        prefs.frameInfo.contentSize = contentSize ? UInt64(plain.count) : 0
        var out = [UInt8](repeating: 0, count: LZ4F_compressFrameBound(plain.count, &prefs))
        let n = out.withUnsafeMutableBytes { o in plain.withUnsafeBytes { p in LZ4F_compressFrame(o.baseAddress, o.count, p.baseAddress, p.count, &prefs) } }
        precondition(LZ4F_isError(n) == 0)
        return Array(out[0..<n])
    }

    /// Offset of the `k`th block's first data byte in a frame with a 7-byte header.
    static func blockData(_ frame: [UInt8], _ k: Int) -> Int {
        var at = 7
        for _ in 0..<k { at += 4 + Int(u32le(frame, at) & 0x7FFF_FFFF) }
        return at + 4
    }

    /// What a decoder made of one file: the bytes it handed over, its size or its error.
    struct Outcome: Equatable, CustomStringConvertible {
        var bytes: [UInt8]
        var size: Int64?
        var error: String?
        var description: String { "\(bytes.count) bytes (XXH32 \(XXH32.hash(bytes))), size \(size.map(String.init) ?? "none"), \(error ?? "no error")" }
    }

    static func outcome(_ run: ((UnsafeRawBufferPointer) throws -> Void) throws -> Int64) -> Outcome {
        var got: [UInt8] = []
        do {
            let size = try run { got += $0 }
            return Outcome(bytes: got, size: size)
        } catch let e as FormatError {
            return Outcome(bytes: got, error: "\(e.code.rawValue) @\(e.offset): \(e.message)")
        } catch {
            return Outcome(bytes: got, error: "\(error)")
        }
    }

    /// Writes `frames` as the WAL segments of a 0.3 layout and compares the prefetcher, reading
    /// them in order, with liblz4's decoder, file by file. Returns how many blocks the prefetcher
    /// decoded on its workers.
    @discardableResult
    func compareWithLiblz4(_ frames: [(name: String, bytes: [UInt8])]) throws -> Int {
        // Inline (the reader decodes each block itself) first: the same code without threads.
        _ = try compareWithLiblz4(frames, workers: 0)
        return try compareWithLiblz4(frames, workers: 2)
    }

    func compareWithLiblz4(_ frames: [(name: String, bytes: [UInt8])], workers: Int) throws -> Int {
        let root = try rigTempDir("prefetch")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = root + "/generations/0123456789abcdef/wal"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var files: [V03File] = []
        for (i, f) in frames.enumerated() {
            let path = "generations/0123456789abcdef/wal/00000000_\(String(format: "%08x", i * 4096)).wal.lz4"
            try write(f.bytes, to: root + "/" + path)
            files.append(V03File(path: path, index: 0, offset: Int64(i * 4096), size: Int64(f.bytes.count)))
        }
        let replica = try Replica.open(root)
        let prefetcher = SegmentPrefetcher(replica: replica, files: files, workers: workers)
        defer { prefetcher.cancel() }
        for (file, f) in zip(files, frames) {
            let want = Self.outcome { try LZ4Frame.decompress(try replica.open(file.path), name: file.path, $0) }
            let got = Self.outcome { try prefetcher.decompress(file, $0) }
            #expect(got == want, "\(f.name), \(workers) workers: the prefetcher gave \(got); liblz4 \(want)")
        }
        return prefetcher.blocksDecodedInParallel
    }

    @Test func everyFrameShapeDecodesAsLiblz4Does() throws {
        let plain = try Self.realContent()
        #expect(plain.count > 8 * 65536, "enough content for many 64 KiB blocks")
        // Litestream's shape is decoded on the workers, block by block; the others by liblz4.
        #expect(try compareWithLiblz4([("Litestream's shape", Self.frame(plain))]) == (plain.count + 65535) / 65536)
        #expect(try compareWithLiblz4([("linked blocks", Self.frame(plain, linked: true))]) == 0)
        #expect(try compareWithLiblz4([("block checksums", Self.frame(plain, blockChecksum: true))]) == 0)
        try compareWithLiblz4([
            ("independent 64 KiB blocks, content checksum (Litestream's shape)", Self.frame(plain)),
            ("one 4 MiB block", Self.frame(plain, blockSize: LZ4F_max4MB)),
            ("linked blocks", Self.frame(plain, linked: true)),
            ("no content checksum", Self.frame(plain, contentChecksum: false)),
            ("block checksums", Self.frame(plain, blockChecksum: true)),
            ("content size", Self.frame(plain, contentSize: true)),
            ("empty content", Self.frame([])),
            ("incompressible content", Self.frame((0..<300_000).map { _ in UInt8.random(in: 0...255) })),
        ])
    }

    @Test func everyDamageIsReportedAsLiblz4ReportsIt() throws {
        let plain = try Self.realContent()
        let good = Self.frame(plain)
        var cases: [(String, [UInt8])] = [("intact", good)]
        var flipped = good
        flipped[Self.blockData(good, 3) + 100] ^= 0xFF
        cases.append(("a flipped byte in block 3", flipped))
        var badSize = good
        badSize[Self.blockData(good, 2) - 2] ^= 0x40  // block 2's size field past the block maximum
        cases.append(("block 2 says it is larger than a block", badSize))
        var checksum = good
        checksum[checksum.count - 2] ^= 0x01
        cases.append(("content checksum", checksum))
        var header = good
        header[6] ^= 0x01
        cases.append(("header checksum", header))
        cases.append(("truncated in block 4", Array(good[0..<(Self.blockData(good, 4) + 10)])))
        cases.append(("truncated before the end mark", Array(good[0..<(good.count - 8)])))
        cases.append(("trailing bytes", good + [1, 2, 3]))
        cases.append(("a second frame after the first", good + Self.frame(Array(plain[0..<1000]))))
        cases.append(("empty file", []))
        cases.append(("not LZ4", Array(plain[0..<5000])))
        cases.append(("intact again after the damage", good))
        try compareWithLiblz4(cases)
    }

    /// One ``LZ4FrameFiles`` (the plan's decoder for a run of segments) decodes each file of a run
    /// exactly as a fresh decoder does: nothing of a file (its damage, a frame cut short, a larger
    /// block size) carries into the next.
    @Test func oneDecoderForManyFilesDecodesEachAsAFreshOne() throws {
        let plain = try Self.realContent()
        let good = Self.frame(plain)
        var flipped = good
        flipped[Self.blockData(good, 3) + 100] ^= 0xFF
        let files: [(String, [UInt8])] = [
            ("intact", good), ("a flipped byte in block 3", flipped), ("intact after the damage", good),
            ("truncated in block 4", Array(good[0..<(Self.blockData(good, 4) + 10)])),
            ("one 4 MiB block", Self.frame(plain, blockSize: LZ4F_max4MB)), ("linked blocks", Self.frame(plain, linked: true)),
            ("empty file", []), ("not LZ4", Array(plain[0..<5000])), ("intact at the end", good),
        ]
        let root = try rigTempDir("frames")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let frames = LZ4FrameFiles()
        for (i, (name, bytes)) in files.enumerated() {
            let path = root + "/\(i).lz4"
            try write(bytes, to: path)
            let fresh = Self.outcome { try LZ4Frame.decompress(try ReadOnlyFile(path), name: name, $0) }
            let reused = Self.outcome { try frames.decompress(try ReadOnlyFile(path), name: name, $0) }
            #expect(reused == fresh, "\(name): one decoder for the run gave \(reused); a fresh one \(fresh)")
            #expect((fresh.error == nil) == ["intact", "intact after the damage", "one 4 MiB block", "linked blocks", "intact at the end"].contains(name))
        }
    }

    /// A block is decoded in place (read into the end of its slot, decoded into its start) only
    /// when its output cannot overrun a byte of it not yet read. Every block Litestream wrote (the
    /// example replica's files, 4 MiB blocks) passes. This crafted block (no writer makes it) does
    /// not: a match of ~60 KB, then a run of literal-length bytes cut short, which the match would
    /// overwrite before it is read; it goes to liblz4, with the same result as liblz4's.
    @Test func onlyBlocksTheOutputCannotOverrunAreDecodedInPlace() throws {
        let root = Fixtures.example("0.3").replica
        var blocks = 0
        for path in [Fixtures.v03Snapshot] + Self.segments.map(Fixtures.v03Segment) {
            let frame = try bytes(of: root + "/" + path)
            var at = 7
            while at + 4 <= frame.count, case let word = u32le(frame, at), word != 0 {
                let size = Int(word & 0x7FFF_FFFF)
                if word & 0x8000_0000 == 0 {
                    let fits = frame[(at + 4)..<(at + 4 + size)].withUnsafeBytes {
                        SegmentPrefetcher.decodesInPlace($0, slot: SegmentPrefetcher.slotSize(4 << 20))
                    }
                    #expect(fits, "\(path): the block at \(at)")
                    blocks += 1
                }
                at += 4 + size
            }
        }
        #expect(blocks >= 8, "the example's compressed blocks")

        let plain = try Self.realContent()
        let real = Self.frame(plain)  // 64 KiB blocks: a slot of 64 KiB and the margin
        var block: [UInt8] = [0x1F, 0x61, 0x01, 0x00] + [UInt8](repeating: 255, count: 235) + [0]  // 'a', then a match of 59,944
        block += [0xF0] + [UInt8](repeating: 255, count: 7000)  // literals whose length never ends
        #expect(!block.withUnsafeBytes { SegmentPrefetcher.decodesInPlace($0, slot: SegmentPrefetcher.slotSize(65536)) })
        var crafted = Array(real[0..<7])
        crafted += withUnsafeBytes(of: UInt32(block.count).littleEndian, Array.init) + block + [0, 0, 0, 0, 1, 2, 3, 4]
        let parallel = try compareWithLiblz4([("a block that would overrun itself", crafted), ("an intact frame after it", real)])
        #expect(parallel == (plain.count + 65535) / 65536, "only the intact frame's blocks are decoded on the workers")
    }

    /// `checksContent: false` (files `verify` has just checked) hands over the same bytes and skips
    /// only the content checksum: a frame whose checksum alone is wrong passes, other damage does not.
    @Test func skippingTheContentChecksumSkipsOnlyThat() throws {
        let plain = try Self.realContent()
        let good = Self.frame(plain)
        var checksum = good
        checksum[checksum.count - 2] ^= 0x01
        var flipped = good
        flipped[Self.blockData(good, 3) + 100] ^= 0xFF
        let root = try rigTempDir("prefetch")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = root + "/generations/0123456789abcdef/wal"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var files: [V03File] = []
        for (i, bytes) in [good, checksum, flipped].enumerated() {
            let path = "generations/0123456789abcdef/wal/00000000_\(String(format: "%08x", i * 4096)).wal.lz4"
            try write(bytes, to: root + "/" + path)
            files.append(V03File(path: path, index: 0, offset: Int64(i * 4096), size: Int64(bytes.count)))
        }
        let replica = try Replica.open(root)
        for workers in [0, 2] {
            let checking = SegmentPrefetcher(replica: replica, files: files, workers: workers)
            let trusting = SegmentPrefetcher(replica: replica, files: files, workers: workers, checksContent: false)
            defer { checking.cancel(); trusting.cancel() }
            let outcomes = files.map { f in (Self.outcome { try checking.decompress(f, $0) }, Self.outcome { try trusting.decompress(f, $0) }) }
            #expect(outcomes[0].0 == outcomes[0].1 && outcomes[0].1.error == nil && outcomes[0].1.bytes == plain)
            #expect(outcomes[1].0.error?.hasPrefix("lz4.content-checksum") == true, "\(workers) workers")
            #expect(outcomes[1].1.error == nil && outcomes[1].1.bytes == plain, "\(workers) workers")
            #expect(outcomes[2].1.error != nil && outcomes[2].1.error == outcomes[2].0.error, "\(workers) workers")
        }
    }

    /// A reader that stops inside a file (its own error) or skips one still gets the next file whole.
    @Test func readerMayStopEarlyOrSkip() throws {
        let plain = try Self.realContent()
        let root = try rigTempDir("prefetch")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dir = root + "/generations/0123456789abcdef/wal"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var files: [V03File] = []
        for i in 0..<5 {
            let path = "generations/0123456789abcdef/wal/00000000_\(String(format: "%08x", i * 4096)).wal.lz4"
            try write(Self.frame(Array(plain[(i * 1000)...])), to: root + "/" + path)
            files.append(V03File(path: path, index: 0, offset: Int64(i * 4096), size: Int64(fileSize(root + "/" + path))))
        }
        let replica = try Replica.open(root)
        let prefetcher = SegmentPrefetcher(replica: replica, files: files, slots: 3)
        defer { prefetcher.cancel() }
        struct Stop: Error {}
        var chunks = 0
        #expect(throws: Stop.self) {
            _ = try prefetcher.decompress(files[0]) { _ in
                chunks += 1
                if chunks == 2 { throw Stop() }
            }
        }
        var got: [UInt8] = []
        #expect(try prefetcher.decompress(files[1]) { got += $0 } == Int64(plain.count - 1000))
        #expect(got == Array(plain[1000...]))
        got = []
        _ = try prefetcher.decompress(files[3]) { got += $0 }  // files[2] skipped
        #expect(got == Array(plain[3000...]))
        got = []
        _ = try prefetcher.decompress(files[2]) { got += $0 }  // out of order: decoded on this thread
        #expect(got == Array(plain[2000...]))
        got = []
        _ = try prefetcher.decompress(files[4]) { got += $0 }
        #expect(got == Array(plain[4000...]))
    }
}

private func u32le(_ b: [UInt8], _ at: Int) -> UInt32 {
    UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
}
