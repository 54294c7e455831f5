import Crypto

/// SHA-256, streaming, over swift-crypto (BoringSSL, with the processor's SHA extensions where
/// present). Used for whole-database digests that must equal `sha256sum` of a quiesced database
/// file, and for evidence manifests.
public struct SHA256: @unchecked Sendable {  // Crypto.SHA256 is a plain value (a context struct)
    private var hasher = Crypto.SHA256()

    public init() {}

    public mutating func update(_ data: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: data)
    }

    public mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }

    /// The digest (the value is consumed).
    public mutating func finalize() -> [UInt8] { Array(hasher.finalize()) }

    public static func hex(_ digest: [UInt8]) -> String { digest.map { $0.hex(width: 2) }.joined() }
}
