import CLZ4
import CPlatform
import Foundation

// The block reads of ``SegmentPrefetcher``: one LZ4 block of a frame, read into a slot and
// decoded there.

extension SegmentPrefetcher {
    /// Grows `buffer` to at least `size` bytes (its contents are not kept).
    static func reserve(_ buffer: inout UnsafeMutableRawBufferPointer, _ size: Int) {
        guard buffer.count < size else { return }
        buffer.deallocate()
        buffer = .allocate(byteCount: size, alignment: 64)
    }

    static func readWord(_ h: ReadOnlyFile, at offset: Int64) throws -> UInt32? {
        let bytes = try h.read(count: 4, at: offset)
        return bytes.count == 4 ? bytes.withUnsafeBytes { $0.u32LE(at: 0) } : nil
    }

    /// Whether a compressed block of `block.count` bytes, read into the end of a slot of
    /// `slot` bytes, may be decoded in place (see ``decodeBlock``).
    static func decodesInPlace(_ block: UnsafeRawBufferPointer, slot: Int) -> Bool {
        guard let base = block.baseAddress, block.count <= slot else { return block.isEmpty }
        return liteproof_lz4_in_place_safe(base.assumingMemoryBound(to: UInt8.self), block.count, slot - block.count) != 0
    }

    /// A slot for blocks of up to `blockMax` bytes: the block and liblz4's in-place margin
    /// (`LZ4_DECOMPRESS_INPLACE_BUFFER_SIZE`: a 256th of it and 32 bytes).
    static func slotSize(_ blockMax: Int) -> Int { blockMax + (blockMax >> 8) + 32 }

    /// Reads and decodes one block into `output` (a slot of ``slotSize(_:)``); nil when it cannot
    /// (the reader's decode then reports why).
    ///
    /// A compressed block is read into the end of `output` and decoded from there into its start
    /// (liblz4's in-place decompression, for which the slot has the margin). First its sequences
    /// are walked to check that the output never reaches a byte of the block before it is read
    /// (`liteproof_lz4_in_place_safe`): then liblz4 reads the same bytes as from a buffer of their
    /// own, and gives the same output or the same error. A block that could be overrun (only a
    /// crafted one: an LZ4 writer's blocks fit the margin) is handed to the reader's decode.
    static func decodeBlock(
        _ h: ReadOnlyFile, at offset: Int64, size: Int, raw: Bool, blockMax: Int, into output: UnsafeMutableRawBufferPointer
    ) -> Int? {
        do {
            if raw {
                return try h.read(into: UnsafeMutableRawBufferPointer(rebasing: output[0..<size]), at: offset) == size ? size : nil
            }
            let start = output.count - size
            guard output.count >= slotSize(blockMax), try h.read(into: UnsafeMutableRawBufferPointer(rebasing: output[start...]), at: offset) == size else {
                return nil
            }
            let block = output.baseAddress! + start
            guard decodesInPlace(UnsafeRawBufferPointer(rebasing: output[start...]), slot: output.count) else { return nil }
            let n = LZ4_decompress_safe(
                block.assumingMemoryBound(to: CChar.self), output.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(size), Int32(blockMax))
            return n >= 0 ? Int(n) : nil
        } catch {
            return nil
        }
    }
}
