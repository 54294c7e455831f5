/// CRC-64/ISO (polynomial x^64 + x^4 + x^3 + x + 1, reflected, init 0 and final xor 0 as Go's
/// `crc64.MakeTable(crc64.ISO)` with `crc64.Update` — the checksum LTX files use).
///
/// Slicing-by-8 tables: about 1.5 GB/s on one core.
public struct CRC64: Sendable {
    public private(set) var value: UInt64 = 0

    public init() {}

    static let tables: [[UInt64]] = {
        let poly: UInt64 = 0xD800_0000_0000_0000  // reversed ISO polynomial
        var t = [[UInt64]](repeating: [UInt64](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var crc = UInt64(i)
            for _ in 0..<8 { crc = (crc & 1) == 1 ? (crc >> 1) ^ poly : crc >> 1 }
            t[0][i] = crc
        }
        for i in 0..<256 {
            var crc = t[0][i]
            for k in 1..<8 {
                crc = t[0][Int(crc & 0xFF)] ^ (crc >> 8)
                t[k][i] = crc
            }
        }
        return t
    }()

    static let flat: [UInt64] = tables.flatMap { $0 }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var crc = ~value
        var p = base.assumingMemoryBound(to: UInt8.self)
        var n = bytes.count
        CRC64.flat.withUnsafeBufferPointer { tp in
            let t = tp.baseAddress!
            while n >= 8 {
                let word = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)) ^ crc
                crc =
                    t[7 * 256 + Int(word & 0xFF)]
                    ^ t[6 * 256 + Int((word >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((word >> 16) & 0xFF)]
                    ^ t[4 * 256 + Int((word >> 24) & 0xFF)]
                    ^ t[3 * 256 + Int((word >> 32) & 0xFF)]
                    ^ t[2 * 256 + Int((word >> 40) & 0xFF)]
                    ^ t[1 * 256 + Int((word >> 48) & 0xFF)]
                    ^ t[0 * 256 + Int(word >> 56)]
                p += 8
                n -= 8
            }
            while n > 0 {
                crc = t[Int((crc ^ UInt64(p.pointee)) & 0xFF)] ^ (crc >> 8)
                p += 1
                n -= 1
            }
        }
        value = ~crc
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var c = CRC64()
        c.update(bytes)
        return c.value
    }
}
