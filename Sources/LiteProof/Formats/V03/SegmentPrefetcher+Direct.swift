import Foundation

extension SegmentPrefetcher {
    /// liblz4's frame decoder on the caller's thread, handing over only the bytes after the first `skipping`.
    static func decompressDirectly(
        _ handle: ReadOnlyFile, name: String, skipping: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        var position: Int64 = 0
        return try LZ4Frame.decompress(handle, name: name) { chunk in
            let start = Int(max(0, min(Int64(chunk.count), skipping - position)))
            position += Int64(chunk.count)
            if start < chunk.count { try body(UnsafeRawBufferPointer(rebasing: chunk[start...])) }
        }
    }
}
