import Foundation
import LiteProof
import Testing

/// The WAL checksum sums four quarters side by side and joins them (WALChecksum.c): it must give
/// what SQLite's one-unit-after-another loop gives, for every length, seed and byte order.
@Suite struct WALChecksumTests {
    @Test func quartersJoinedEqualTheSerialSum() {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 8, 16, 504, 512, 520, 4096, 4104, 8192 + 24, 65536, 65536 + 8, 8 * 1001] {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for bigEndian in [false, true] {
                let seed = (UInt32.random(in: 0...UInt32.max), UInt32.random(in: 0...UInt32.max))
                var fast = seed, slow = seed
                data.withUnsafeBytes {
                    WALChecksum.update($0, bigEndian: bigEndian, &fast.0, &fast.1)
                    WALChecksum.reference($0, bigEndian: bigEndian, &slow.0, &slow.1)
                }
                #expect(fast == slow, "\(length) bytes, big-endian \(bigEndian)")
            }
        }
    }

    /// Every frame of a real WAL (the example replica's index 0, written by SQLite and shipped by
    /// Litestream 0.3.13) carries the checksum both sums give.
    @Test func realFramesCarryTheSum() throws {
        let root = Fixtures.example("0.3").replica
        var wal: [UInt8] = []
        for seg in SegmentPrefetcherTests.segments { wal += try lz4DecompressFile(root + "/" + Fixtures.v03Segment(seg)) }
        let header = try wal.withUnsafeBytes { try WALHeader.parse(UnsafeRawBufferPointer(rebasing: $0[0..<32])) }
        var s = (header.checksum1, header.checksum2)
        var frames = 0
        var at = 32
        while at + 24 + header.pageSize <= wal.count {
            let big = header.bigEndianChecksums
            wal.withUnsafeBytes { b in
                WALChecksum.update(UnsafeRawBufferPointer(rebasing: b[at..<(at + 8)]), bigEndian: big, &s.0, &s.1)
                WALChecksum.update(UnsafeRawBufferPointer(rebasing: b[(at + 24)..<(at + 24 + header.pageSize)]), bigEndian: big, &s.0, &s.1)
            }
            #expect(s.0 == u32(wal, at + 16) && s.1 == u32(wal, at + 20), "frame \(frames + 1)")
            at += 24 + header.pageSize
            frames += 1
        }
        #expect(frames > 10)
    }
}
