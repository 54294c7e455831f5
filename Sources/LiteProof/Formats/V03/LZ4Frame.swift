import CLZ4

/// Pull decoder of one LZ4 frame (the format of every v0.3 replica file), over liblz4's
/// `LZ4F_decompress`, which also checks the frame's content checksum.
///
/// Memory is fixed: one 1 MiB input buffer; the caller supplies the output buffer.
public final class LZ4FrameStream {
    static let inputChunk = 1 << 20
    public private(set) var name: String
    private(set) var file: ReadOnlyFile
    let ctx: OpaquePointer
    let input: UnsafeMutableRawBufferPointer
    var inputStart = 0, inputEnd = 0
    var fileOffset: Int64 = 0  // file offset of input[inputEnd]
    var nextHint = 7  // the smallest frame header; liblz4 then says what it needs next
    public private(set) var finished = false
    public private(set) var produced: Int64 = 0

    public init(_ file: ReadOnlyFile, name: String) throws {
        self.file = file
        self.name = name
        var c: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&c, liteproof_lz4f_version())
        guard LZ4F_isError(created) == 0, let c else { throw LiteProofError.storage(.local, "cannot create an LZ4 decompression context") }
        ctx = c
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.inputChunk, alignment: 64)
    }

    deinit {
        LZ4F_freeDecompressionContext(ctx)
        input.deallocate()
    }

    /// Starts on another file, keeping the decoder and its buffers (liblz4 allocates up to two
    /// blocks' worth per context: a thread that decodes many files reuses them instead of
    /// allocating and freeing them per file).
    public func restart(_ file: ReadOnlyFile, name: String) {
        LZ4F_resetDecompressionContext(ctx)
        self.file = file
        self.name = name
        inputStart = 0
        inputEnd = 0
        fileOffset = 0
        nextHint = 7
        finished = false
        produced = 0
    }

    /// Compressed offset of the next unread byte.
    var position: Int64 { fileOffset - Int64(inputEnd - inputStart) }

    /// Decompresses into `dst`; returns the byte count, 0 once the frame has ended. Damage is
    /// thrown as ``FormatError`` whose offset is the compressed offset of the block that failed
    /// (the checksum's offset for a content-checksum mismatch).
    public func read(into dst: UnsafeMutableRawBufferPointer) throws -> Int {
        while !finished {
            if inputStart == inputEnd {
                let n = try file.read(into: input, at: fileOffset)
                if n == 0 {
                    throw FormatError(
                        .lz4Truncated, file: name, offset: file.size,
                        file.size == 0
                            ? "the file is empty; expected an LZ4 frame (magic 04 22 4D 18)"
                            : "the LZ4 frame ends early: the file stops at \(file.size) bytes before the frame's end mark")
                }
                inputStart = 0
                inputEnd = n
                fileOffset += Int64(n)
            }
            let at = position
            var dstSize = dst.count
            var srcSize = min(inputEnd - inputStart, nextHint)
            let hint = LZ4F_decompress(ctx, dst.baseAddress, &dstSize, input.baseAddress! + inputStart, &srcSize, nil)
            if LZ4F_isError(hint) != 0 {
                var f = LZ4FrameStream.error(for: hint, file: name, offset: at)
                if at < 7 { f.code = .lz4Header }  // failed while reading the frame descriptor
                if f.code == .lz4ContentChecksum { f.offset = file.size - 4 }  // the checksum is the frame's last 4 bytes
                throw f
            }
            inputStart += srcSize
            nextHint = hint > 0 ? hint : Self.inputChunk
            if hint == 0 {
                finished = true
                let end = position
                if end < file.size {
                    throw FormatError(.lz4TrailingData, file: name, offset: end, "\(file.size - end) bytes follow the end of the LZ4 frame")
                }
            }
            if dstSize > 0 {
                produced += Int64(dstSize)
                return dstSize
            }
        }
        return 0
    }

    /// The error for liblz4's error `code` (from `LZ4F_getErrorName`).
    static func error(for code: Int, file: String, offset: Int64) -> FormatError {
        let name = String(cString: LZ4F_getErrorName(code))
        switch name {
        case let n where n.contains("contentChecksum"):
            return FormatError(
                .lz4ContentChecksum, file: file, offset: offset,
                "LZ4 content checksum does not match the decompressed data (\(name))")
        case let n
        where n.contains("frameType") || n.contains("header") || n.contains("Header")
            || n.contains("maxBlockSize") || n.contains("parameter") || n.contains("version"):
            return FormatError(
                .lz4Header, file: file, offset: offset,
                "not a valid LZ4 frame header; expected magic 04 22 4D 18 and a sound descriptor (\(name))")
        default:
            return FormatError(.lz4Data, file: file, offset: offset, "LZ4 data cannot be decoded (\(name))")
        }
    }
}

/// One-call decompression of an LZ4 frame file in chunks.
public enum LZ4Frame {
    /// The largest LZ4 frame block; with this much room liblz4 decodes in place.
    public static let outputChunk = 4 << 20

    /// Decompresses the frame in `file`, handing each decompressed chunk to `body` in order.
    /// Returns the decompressed size.
    @discardableResult
    public static func decompress(
        _ file: ReadOnlyFile, name: String,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        try LZ4FrameFiles().decompress(file, name: name, body)
    }
}

/// Decompresses one LZ4 frame file after another with one decoder and one output buffer: a loop
/// over a generation's segments keeps liblz4's context (which allocates two blocks' worth, 8 MiB
/// for 4 MiB blocks) and the buffers, where a decoder per file made and removed four mappings
/// each time (a tenth of a fleet check's CPU on small replicas).
public final class LZ4FrameFiles {
    private var stream: LZ4FrameStream?
    private var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    /// Never inlined, so that the optimizer cannot put a decoder on the stack. Swift 6.3's -O
    /// did (a header-less `alloc_ref [bare] [stack]`), then merged the error paths of the inlined
    /// deinit so that `dealloc_ref` took a phi, which IRGen lowers as a heap object's
    /// `swift_deallocClassInstance` on the uninitialized stack header: signal 11 whenever a
    /// damaged frame threw (the release suites, 836f5e4). A decoder is one small heap object.
    /// `SegmentPrefetcherTests.everyDamageIsReportedAsLiblz4ReportsIt` in the release build (CI
    /// runs it) crashes without this: keep it, and run that suite when the compiler changes.
    @inline(never)
    public init() {}

    deinit { output.deallocate() }

    /// As ``LZ4Frame/decompress(_:name:_:)``, reusing this decoder's context and buffers.
    @discardableResult
    public func decompress(_ file: ReadOnlyFile, name: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let stream: LZ4FrameStream
        if let current = self.stream {
            current.restart(file, name: name)
            stream = current
        } else {
            stream = try LZ4FrameStream(file, name: name)
            self.stream = stream
        }
        if output.count == 0 { output = .allocate(byteCount: LZ4Frame.outputChunk, alignment: 64) }
        while true {
            let n = try stream.read(into: output)
            if n == 0 { break }
            try body(UnsafeRawBufferPointer(rebasing: output[0..<n]))
        }
        return stream.produced
    }
}

extension LZ4Frame {
    /// Decompresses only the first `count` bytes of the LZ4 frame in a file of `size` bytes (a
    /// WAL header at the start of a segment), pulling compressed bytes through `read(offset,
    /// length)`: a file no larger than a block (4 MiB) at once; a larger one 64 KiB first, then what
    /// liblz4 says the rest of the block needs (a compressed block decodes only whole; a stored one
    /// streams). So at most the first block is read, in at most two reads. Returns fewer bytes when the frame (or the file) ends first; damage is thrown
    /// as by ``LZ4FrameStream``.
    public static func decompressPrefix(
        count: Int, size: Int64, name: String, read: (Int64, Int) throws -> [UInt8]
    ) throws -> [UInt8] {
        var c: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&c, liteproof_lz4f_version())
        guard LZ4F_isError(created) == 0, let ctx = c else { throw LiteProofError.storage(.local, "cannot create an LZ4 decompression context") }
        defer { LZ4F_freeDecompressionContext(ctx) }
        var out = [UInt8](repeating: 0, count: count)
        var filled = 0
        var offset: Int64 = 0
        // A file no larger than one block (up to 4 MiB) is needed whole: one read.
        var chunk = size <= Int64(outputChunk + (64 << 10)) ? Int(size) : 64 << 10
        var ended = false
        var hint = 0
        while filled < count && offset < size && !ended {
            let bytes = try read(offset, Int(min(Int64(chunk), size - offset)))
            if bytes.isEmpty { break }
            var consumed = 0
            while consumed < bytes.count && filled < count {
                var dstSize = count - filled
                var srcSize = bytes.count - consumed
                hint = out.withUnsafeMutableBytes { o in
                    bytes.withUnsafeBytes { i in
                        LZ4F_decompress(ctx, o.baseAddress! + filled, &dstSize, i.baseAddress! + consumed, &srcSize, nil)
                    }
                }
                if LZ4F_isError(hint) != 0 {
                    var f = LZ4FrameStream.error(for: hint, file: name, offset: offset + Int64(consumed))
                    if offset + Int64(consumed) < 7 { f.code = .lz4Header }
                    throw f
                }
                consumed += srcSize
                filled += dstSize
                if hint == 0 {
                    ended = true
                    break
                }
                if srcSize == 0 && dstSize == 0 { break }
            }
            offset += Int64(bytes.count)
            // liblz4's hint: the rest of the block it holds, and the next block's size field.
            chunk = max(64 << 10, min(hint, 8 << 20))
        }
        return Array(out[0..<filled])
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
