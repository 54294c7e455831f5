import CPlatform

/// CRC-64/ISO (polynomial x^64 + x^4 + x^3 + x + 1, reflected, init 0 and final xor 0 as Go's
/// `crc64.MakeTable(crc64.ISO)` with `crc64.Update` — the checksum LTX files use).
///
/// `CPlatform/CRC64.c`: folded with carry-less multiplication on x86-64 (about 14 GB/s on one
/// core of this project's test machine), slicing-by-8 tables elsewhere (about 2 GB/s).
public struct CRC64: Sendable {
    public private(set) var value: UInt64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        value = liteproof_crc64(value, base, bytes.count)
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
