import Foundation

/// The work items a prefetcher's reader, feeder and workers share.
extension SegmentPrefetcher {
    enum Kind {
        /// A decoded block in `slot` (`count` bytes); `failed` when it did not decode.
        case block(slot: Int, count: Int, failed: Bool)
        /// The frame's end mark, with its content checksum (when the frame has one).
        case end(checksum: UInt32?)
        /// The rest of the file, from `delivered` decompressed bytes on, goes to liblz4.
        case fallback(delivered: Int64)
        /// A block after a fallback: nothing to hand over.
        case skip
    }

    struct Item {
        let file: Int
        var kind: Kind
        /// Decoded (or needs no decoding): the in-order hash may take it.
        var decoded: Bool
        /// Hashed and checked: the reader may take it.
        var ready: Bool
    }

    /// Where the feeder stands in the file it reads the block headers of.
    struct Cursor {
        var file = 0
        var handle: ReadOnlyFile?
        var offset: Int64 = 0
        var blockMax = 0
        var checksummed = false
    }
}
