import CLZ4

/// Streaming decoder of one LZ4 frame (the format of every v0.3 replica file), over liblz4's
/// `LZ4F_decompress`, which also checks the frame's content checksum.
///
/// Memory is fixed: one input buffer and one output buffer, whatever the file's size.
public enum LZ4Frame {
    static let inputChunk = 1 << 20
    static let outputChunk = 4 << 20  // the largest LZ4 frame block; lets liblz4 decode in place

    /// Decompresses the frame in `file`, handing each decompressed chunk to `body` in order.
    /// Returns the decompressed size. Damage is thrown as ``LiteProofError`` with a finding whose
    /// offset is the compressed offset where decoding stopped.
    @discardableResult
    public static func decompress(
        _ file: ReadOnlyFile, name: String,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        var ctx: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&ctx, liteproof_lz4f_version())
        guard LZ4F_isError(created) == 0, let dctx = ctx else {
            throw LiteProofError(.io, "cannot create an LZ4 decompression context")
        }
        defer { LZ4F_freeDecompressionContext(dctx) }

        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: outputChunk, alignment: 64)
        defer { output.deallocate() }
        var total: Int64 = 0
        var finished = false
        var finishedAt: Int64 = 0
        var nextHint = 7  // the smallest frame header; liblz4 then says what it needs next

        try file.forEachChunk(chunkSize: inputChunk) { chunk, chunkOffset in
            var consumed = 0
            if finished {
                throw LiteProofError.damaged(.error(
                    .lz4TrailingData, file: name, offset: chunkOffset,
                    "\(file.size - finishedAt) bytes follow the end of the LZ4 frame"))
            }
            while consumed < chunk.count {
                var dstSize = output.count
                // Feed what liblz4 asks for (about one block), so an error's offset is the
                // start of the block that failed.
                var srcSize = min(chunk.count - consumed, nextHint)
                let hint = LZ4F_decompress(
                    dctx, output.baseAddress, &dstSize, chunk.baseAddress! + consumed, &srcSize, nil)
                if LZ4F_isError(hint) != 0 {
                    let at = chunkOffset + Int64(consumed)
                    var f = finding(for: hint, file: name, offset: at)
                    if at < 7 { f.code = .lz4Header }  // failed while reading the frame descriptor
                    if f.code == .lz4ContentChecksum { f.offset = file.size - 4 }  // the checksum is the frame's last 4 bytes
                    throw LiteProofError.damaged(f)
                }
                nextHint = hint > 0 ? hint : inputChunk
                consumed += srcSize
                if dstSize > 0 {
                    try body(UnsafeRawBufferPointer(rebasing: output[0..<dstSize]))
                    total += Int64(dstSize)
                }
                if hint == 0 {
                    finished = true
                    finishedAt = chunkOffset + Int64(consumed)
                    if consumed < chunk.count {
                        throw LiteProofError.damaged(.error(
                            .lz4TrailingData, file: name, offset: finishedAt,
                            "\(file.size - finishedAt) bytes follow the end of the LZ4 frame"))
                    }
                    break
                }
                if srcSize == 0 && dstSize == 0 { break }  // needs more input
            }
        }
        if !finished {
            // Drain whatever liblz4 still holds, then report where the frame was cut off.
            throw LiteProofError.damaged(.error(
                .lz4Truncated, file: name, offset: file.size,
                file.size == 0
                    ? "the file is empty; expected an LZ4 frame (magic 04 22 4D 18)"
                    : "the LZ4 frame ends early: the file stops at \(file.size) bytes before the frame's end mark"))
        }
        return total
    }

    static func finding(for code: Int, file: String, offset: Int64) -> Finding {
        let name = String(cString: LZ4F_getErrorName(code))
        switch name {
        case let n where n.contains("contentChecksum"):
            return .error(.lz4ContentChecksum, file: file, offset: offset,
                          "LZ4 content checksum does not match the decompressed data (\(name))")
        case let n where n.contains("frameType") || n.contains("header") || n.contains("Header")
            || n.contains("maxBlockSize") || n.contains("parameter") || n.contains("version"):
            return .error(.lz4Header, file: file, offset: offset,
                          "not a valid LZ4 frame header; expected magic 04 22 4D 18 and a sound descriptor (\(name))")
        default:
            return .error(.lz4Data, file: file, offset: offset, "LZ4 data cannot be decoded (\(name))")
        }
    }
}

/// Decodes one LZ4 *block* (LTX's page encoding) with `LZ4_decompress_safe`.
public enum LZ4Block {
    /// Decodes `source` into `destination`; returns the number of bytes produced, or nil when the
    /// block is malformed or does not fit.
    @inline(__always)
    public static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        guard source.count <= Int(Int32.max), destination.count <= Int(Int32.max) else { return nil }
        let n = LZ4_decompress_safe(
            source.baseAddress?.assumingMemoryBound(to: CChar.self),
            destination.baseAddress?.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count))
        return n < 0 ? nil : Int(n)
    }
}
