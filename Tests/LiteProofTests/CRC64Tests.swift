import CPlatform
import Foundation
import LiteProof
import Testing

/// CRC-64/ISO folds long buffers with carry-less multiplication (CRC64.c): it must give what the
/// polynomial's bit-by-bit definition gives, for every length, split and starting value (the
/// check value is in `ChecksumTests`).
@Suite struct CRC64Tests {
    /// Go's crc64.Update with the ISO table, one bit at a time.
    static func reference(_ value: UInt64, _ bytes: [UInt8]) -> UInt64 {
        var crc = ~value
        for b in bytes {
            crc ^= UInt64(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xD800_0000_0000_0000 : crc >> 1 }
        }
        return ~crc
    }

    @Test func foldedEqualsTheDefinition() {
        var rng = SystemRandomNumberGenerator()
        let lengths = Array(0...200) + [255, 256, 257, 1000, 4095, 4096, 4097, 4096 + 24, 65536 + 7]
        for length in lengths {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let start = UInt64.random(in: 0...UInt64.max, using: &rng)
            let want = Self.reference(start, data)
            data.withUnsafeBytes { b in
                #expect(liteproof_crc64(start, b.baseAddress, b.count) == want, "\(length) bytes")
                #expect(liteproof_crc64_portable(start, b.baseAddress, b.count) == want, "\(length) bytes, tables")
            }
        }
    }

    /// A stream fed in pieces of any size gives the whole buffer's CRC.
    @Test func piecesGiveTheWhole() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let whole = Self.reference(0, data)
        for _ in 0..<50 {
            var crc = CRC64()
            var at = 0
            while at < data.count {
                let n = min(data.count - at, Int.random(in: 0...300, using: &rng) * (Bool.random(using: &rng) ? 1 : 37))
                data[at..<(at + n)].withUnsafeBytes { crc.update($0) }
                at += n
            }
            #expect(crc.value == whole)
        }
    }
}
