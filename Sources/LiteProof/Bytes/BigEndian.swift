/// Unchecked integer reads at fixed offsets, for hot loops (WAL frames, B-tree pages) that check
/// the bounds of the whole unit once. Every read states its width and byte order; parsers of
/// headers and fields use ``ByteReader``, which checks every read.
extension UnsafeRawBufferPointer {
    @inline(__always)
    func u16BE(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    func u32BE(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    func u64BE(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    func u32LE(at offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

extension Array where Element == UInt8 {
    func u32BE(at offset: Int) -> UInt32 { withUnsafeBytes { $0.u32BE(at: offset) } }
    func u64BE(at offset: Int) -> UInt64 { withUnsafeBytes { $0.u64BE(at: offset) } }
    func u16BE(at offset: Int) -> UInt16 { withUnsafeBytes { $0.u16BE(at: offset) } }
}

extension FixedWidthInteger {
    /// Zero-padded lowercase hex of `width` digits, as Litestream names files.
    public func hex(width: Int) -> String {
        let s = String(self, radix: 16)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
