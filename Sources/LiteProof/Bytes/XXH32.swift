import CPlatform

/// XXH32, the checksum of LZ4 frame headers and contents (our C implementation in CPlatform,
/// written from the xxHash specification; liblz4 does not export its own).
public enum XXH32 {
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        liteproof_xxh32(bytes.baseAddress, bytes.count, seed)
    }

    public static func hash(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }
}
