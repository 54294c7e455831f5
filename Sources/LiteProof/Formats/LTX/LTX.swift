import CLZ4

/// Reader of LTX files: a cheap header/index read from the ends, and a full streaming decode that
/// checks every byte (page order, page encodings, index, trailer, CRC-64 file checksum).
public enum LTX {
    public static let trailerSize = 16
    static let pageHeaderSize = 6
    /// Why a snapshot of commit 0 is damage (the planner and the decoder say the same).
    static let emptySnapshotMessage =
        "a snapshot must hold at least page 1; this one says commit 0 (an empty database) and holds no pages. Litestream 0.5.17 refuses to restore it (\"post-apply checksum must be empty for zero-length database\")"
    /// The page holding byte 2^30, which SQLite never writes.
    public static func lockPage(pageSize: Int) -> UInt32 { UInt32((1 << 30) / pageSize + 1) }

    public static func readHeader(_ file: ReadOnlyFile, name: String) throws -> LTXHeader {
        let bytes = try file.read(count: LTXHeader.size, at: 0)
        return try bytes.withUnsafeBytes { try LTXHeader.parse($0, file: name) }
    }

    /// Reads the page index from the end of the file (without reading pages).
    public static func readIndex(_ file: ReadOnlyFile, name: String, header: LTXHeader) throws -> [LTXIndexEntry] {
        var out: [LTXIndexEntry] = []
        try forEachIndexEntry(file, name: name, header: header) { out.append($0) }
        return out
    }

    /// Streams the page index from the end of the file (without reading pages): memory stays
    /// fixed however many pages the file holds.
    public static func forEachIndexEntry(_ file: ReadOnlyFile, name: String, header: LTXHeader, _ body: (LTXIndexEntry) throws -> Void) throws {
        let minSize = Int64(LTXHeader.size + pageHeaderSize + 1 + 8 + trailerSize)
        guard file.size >= minSize else {
            throw FormatError(.ltxTruncated, file: name, offset: file.size, "the file has \(file.size) bytes; an LTX file needs at least \(minSize)")
        }
        let sizeAt = file.size - Int64(trailerSize) - 8
        let indexSize = try ByteReader.reading(try file.read(count: 8, at: sizeAt), base: sizeAt, file: name, truncation: .ltxTruncated) { r in
            try r.readUInt64(.big, "the page index size")
        }
        guard indexSize >= 1, indexSize <= UInt64(sizeAt - Int64(LTXHeader.size)) else {
            throw FormatError(
                .ltxPageIndex, file: name, offset: sizeAt,
                "page index size is \(indexSize); the file leaves room for at most \(sizeAt - Int64(LTXHeader.size))")
        }
        let indexAt = sizeAt - Int64(indexSize)
        let reader = BufferedReader(file, at: indexAt, capacity: 256 << 10)
        try streamIndex(reader, length: Int64(indexSize), base: indexAt, file: name, onBytes: { _ in }, body)
    }

    /// Parses a page index from `reader` (positioned at its start, `length` bytes long): unsigned
    /// varints (page number, offset, size) per page, ascending, then a zero page number.
    /// `onBytes` sees every byte consumed (for the file checksum).
    static func streamIndex(
        _ reader: BufferedReader, length: Int64, base: Int64, file: String,
        onBytes: (UnsafeRawBufferPointer) -> Void, _ body: (LTXIndexEntry) throws -> Void
    ) throws {
        var pos: Int64 = 0
        func bad(_ message: String) -> FormatError { FormatError(.ltxPageIndex, file: file, offset: base + pos, message) }
        func uvarint() throws -> UInt64 {
            var x: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard pos < length, let b = try reader.take(1) else { throw bad("page index ends inside a varint") }
                onBytes(b)
                pos += 1
                let byte = b[0]
                if shift == 63 && byte > 1 { throw bad("varint overflows 64 bits") }
                x |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return x }
                shift += 7
                if shift > 63 { throw bad("varint overflows 64 bits") }
            }
        }
        var last: UInt64 = 0
        while true {
            let pgno = try uvarint()
            if pgno == 0 { break }
            guard pgno <= UInt64(UInt32.max), pgno > last else {
                throw bad("page index lists page \(pgno) after page \(last); pages must ascend")
            }
            let offset = try uvarint(), size = try uvarint()
            guard offset <= UInt64(base), size <= UInt64(base), offset + size <= UInt64(base) else {
                throw bad("page index entry for page \(pgno) points outside the page block (offset \(offset), size \(size))")
            }
            try body(LTXIndexEntry(pageNumber: UInt32(pgno), offset: Int64(offset), size: Int64(size)))
            last = pgno
        }
        guard pos == length else { throw bad("\(length - pos) bytes follow the page index's end mark") }
    }

    /// Folds an index entry into a running hash, to compare the page block with the index
    /// without keeping either in memory.
    @inline(__always)
    static func hashEntry(_ h: inout CRC64, _ e: LTXIndexEntry) {
        withUnsafeTemporaryAllocation(byteCount: 20, alignment: 8) { b in
            b.storeBytes(of: e.pageNumber.bigEndian, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: UInt64(bitPattern: e.offset).bigEndian, toByteOffset: 4, as: UInt64.self)
            b.storeBytes(of: UInt64(bitPattern: e.size).bigEndian, toByteOffset: 12, as: UInt64.self)
            h.update(UnsafeRawBufferPointer(b))
        }
    }

    /// Decodes the whole file, checking everything, and calls `onPage` with each page in order.
    /// The page buffer is valid only during the call.
    @discardableResult
    public static func decode(
        _ file: ReadOnlyFile, name: String,
        onPage: (UInt32, UnsafeRawBufferPointer) throws -> Void = { _, _ in }
    ) throws -> LTXSummary {
        let reader = BufferedReader(file)
        var crc = CRC64()
        func damaged(_ code: FindingCode, _ offset: Int64, _ message: String) -> FormatError {
            FormatError(code, file: name, offset: offset, message)
        }
        func truncated(_ what: String) -> FormatError {
            damaged(.ltxTruncated, file.size, "the file ends (at \(file.size) bytes) inside \(what)")
        }
        guard let hb = try reader.take(LTXHeader.size) else { throw truncated("the 100-byte header") }
        let header = try LTXHeader.parse(hb, file: name)
        crc.update(hb)

        if header.isSnapshot && header.commit == 0 {
            throw damaged(.ltxCommit, 12, LTX.emptySnapshotMessage)
        }
        let pageSize = header.pageSize
        let lockPage = lockPage(pageSize: pageSize)
        // A snapshot that tracks checksums states the database's checksum in its trailer: the XOR
        // of every page's hash, checked here as Litestream's decoder checks it.
        var databaseChecksum: UInt64 = 0
        let page = UnsafeMutableRawBufferPointer.allocate(byteCount: pageSize, alignment: 64)
        defer { page.deallocate() }
        let maxBlock = Int(LZ4_compressBound(Int32(pageSize)))
        // The page block as the index should describe it: a count, a running hash, and the first
        // entries (for a precise message) — nothing that grows with the file.
        var pageCount = 0
        var blockHash = CRC64()
        var firstSeen: [LTXIndexEntry] = []
        var lastPgno: UInt32 = 0
        var frameCtx: OpaquePointer?

        defer { if let c = frameCtx { LZ4F_freeDecompressionContext(c) } }

        while true {
            let at = reader.position
            guard let ph = try reader.take(pageHeaderSize) else { throw truncated("a page header") }
            let pgno = ph.u32BE(at: 0)
            let flags = ph.u16BE(at: 4)
            crc.update(ph)
            if pgno == 0 {
                guard flags == 0 else { throw damaged(.ltxPageHeader, at, "end-of-pages mark has flags 0x\(flags.hex(width: 4)); expected 0") }
                break
            }
            guard flags & ~1 == 0 else {
                let head = Array(ph)  // `peek` may move the buffer `ph` points into
                if pageCount == 0,
                    let older = LTXVersion.older(firstPageHeader: head, next: Array(try reader.peek().prefix(2)), fileSize: file.size, pageSize: pageSize)
                {
                    throw damaged(.ltxVersion, at, older)
                }
                throw damaged(.ltxPageHeader, at, "page \(pgno) has unknown flags 0x\(flags.hex(width: 4))")
            }
            guard pgno > lastPgno else {
                throw damaged(.ltxPageOrder, at, "page \(pgno) follows page \(lastPgno); pages must ascend")
            }
            guard pgno <= header.commit else {
                throw damaged(.ltxPageHeader, at, "page \(pgno) is beyond the commit size of \(header.commit) pages")
            }
            guard pgno != lockPage else {
                throw damaged(.ltxPageHeader, at, "page \(pgno) is the lock page (byte 2^30), which is never stored")
            }
            if flags & 1 != 0 {
                guard let sb = try reader.take(4) else { throw truncated("the size of page \(pgno)") }
                let size = Int(sb.u32BE(at: 0))
                crc.update(sb)
                guard size >= 1, size <= maxBlock else {
                    throw damaged(
                        .ltxPageHeader, at + 6, "page \(pgno) says its LZ4 block is \(size) bytes; a \(pageSize)-byte page compresses to 1...\(maxBlock)")
                }
                guard let block = try reader.take(size) else { throw truncated("the data of page \(pgno)") }
                guard LZ4Block.decompress(block, into: page) == pageSize else {
                    throw damaged(.ltxPageData, at + 10, "page \(pgno)'s LZ4 block does not decode to one \(pageSize)-byte page")
                }
            } else {
                if frameCtx == nil {
                    var c: OpaquePointer?
                    guard LZ4F_isError(LZ4F_createDecompressionContext(&c, liteproof_lz4f_version())) == 0 else {
                        throw LiteProofError.storage(.local, "cannot create an LZ4 decompression context")
                    }
                    frameCtx = c
                }
                try decodeFramePage(reader, frameCtx!, into: page, pgno: pgno, at: at + 6, name: name)
            }
            crc.update(UnsafeRawBufferPointer(page))
            if header.hasChecksums && header.isSnapshot { databaseChecksum ^= DatabaseDigest.pageHash(pgno, UnsafeRawBufferPointer(page)) }
            try onPage(pgno, UnsafeRawBufferPointer(page))
            let entry = LTXIndexEntry(pageNumber: pgno, offset: at, size: reader.position - at)
            hashEntry(&blockHash, entry)
            if firstSeen.count < 64 { firstSeen.append(entry) }
            pageCount += 1
            lastPgno = pgno
        }
        if header.isSnapshot {
            let expected = Int(header.commit) - (header.commit >= lockPage ? 1 : 0)
            guard pageCount == expected else {
                throw damaged(.ltxCommit, 12, "a snapshot of \(header.commit) pages must hold \(expected) pages; it holds \(pageCount)")
            }
        }

        // Page index: varints, a zero page number, then its length as u64.
        let indexAt = reader.position
        let tailSize = file.size - indexAt
        guard tailSize >= Int64(1 + 8 + trailerSize) else { throw truncated("the page index") }
        let indexSize = tailSize - 8 - Int64(trailerSize)
        var indexHash = CRC64()
        var indexCount = 0
        try streamIndex(reader, length: indexSize, base: indexAt, file: name, onBytes: { crc.update($0) }) { e in
            if indexCount < firstSeen.count, e != firstSeen[indexCount] {
                let s = firstSeen[indexCount]
                throw damaged(
                    .ltxPageIndex, indexAt,
                    "index entry \(indexCount + 1) is page \(e.pageNumber) at \(e.offset) (\(e.size) bytes); the page block has page \(s.pageNumber) at \(s.offset) (\(s.size) bytes)"
                )
            }
            hashEntry(&indexHash, e)
            indexCount += 1
        }
        guard let lb = try reader.take(8) else { throw truncated("the page index size") }
        crc.update(lb)
        let storedIndexSize = lb.u64BE(at: 0)
        guard storedIndexSize == UInt64(indexSize) else {
            throw damaged(.ltxPageIndex, indexAt + indexSize, "page index size field says \(storedIndexSize) bytes; the index is \(indexSize)")
        }
        guard indexCount == pageCount, indexHash.value == blockHash.value else {
            throw damaged(.ltxPageIndex, indexAt, "the page index (\(indexCount) entries) does not describe the page block (\(pageCount) pages)")
        }

        let trailerAt = reader.position
        guard let tb = try reader.take(trailerSize) else { throw truncated("the trailer") }
        let post = tb.u64BE(at: 0), stored = tb.u64BE(at: 8)
        crc.update(UnsafeRawBufferPointer(rebasing: tb[0..<8]))
        if !header.hasChecksums && post != 0 {
            throw damaged(.ltxTrailer, trailerAt, "post-apply checksum is \(post.hex(width: 16)) but flag 0x2 says the file carries none")
        }
        let computed = crc.value | (1 << 63)
        guard stored == computed else {
            throw damaged(.ltxFileChecksum, trailerAt + 8, "file checksum is \(stored.hex(width: 16)); the file's bytes give \(computed.hex(width: 16))")
        }
        if header.hasChecksums && header.isSnapshot && post != databaseChecksum | (1 << 63) {
            throw damaged(
                .ltxTrailer, trailerAt,
                "post-apply checksum is \(post.hex(width: 16)); the snapshot's pages give \((databaseChecksum | (1 << 63)).hex(width: 16))")
        }
        return LTXSummary(header: header, pageCount: pageCount, fileChecksum: stored, postApplyChecksum: post)
    }

    /// Decodes a page stored as one LZ4 frame (older writers: no size prefix; the frame's own end
    /// mark ends it).
    private static func decodeFramePage(
        _ reader: BufferedReader, _ ctx: OpaquePointer, into page: UnsafeMutableRawBufferPointer,
        pgno: UInt32, at: Int64, name: String
    ) throws {
        LZ4F_resetDecompressionContext(ctx)
        var produced = 0
        while true {
            let input = try reader.peek()
            guard !input.isEmpty else {
                throw FormatError(.ltxTruncated, file: name, offset: reader.position, "the file ends inside page \(pgno)'s LZ4 frame")
            }
            var dst = page.count - produced
            var src = input.count
            let hint = LZ4F_decompress(ctx, page.baseAddress! + produced, &dst, input.baseAddress, &src, nil)
            if LZ4F_isError(hint) != 0 || (dst == 0 && src == 0 && produced == page.count) {
                throw FormatError(
                    .ltxPageData, file: name, offset: at,
                    "page \(pgno)'s LZ4 frame does not decode to one \(page.count)-byte page (\(String(cString: LZ4F_getErrorName(hint))))")
            }
            reader.skip(src)
            produced += dst
            if hint == 0 { break }
        }
        guard produced == page.count else {
            throw FormatError(.ltxPageData, file: name, offset: at, "page \(pgno)'s LZ4 frame decodes to \(produced) bytes; expected \(page.count)")
        }
    }
}

extension LTX {
    /// The largest frame (page header, size prefix and data) a `pageSize`-byte page can take: an
    /// LZ4 block of the worst case, or an LZ4 frame around it (older writers), with headers.
    static func maxFrameSize(pageSize: Int) -> Int { pageHeaderSize + 4 + Int(LZ4_compressBound(Int32(pageSize))) + 64 }

    /// Decodes one page frame read whole from where the page index points (for a restore that
    /// reads only some pages): its page header must name `pgno`, and its data must decode to
    /// exactly one page, into `page`. `context` is an LZ4 frame decoder made on first need.
    static func decodeFrame(
        _ frame: UnsafeRawBufferPointer, pgno: UInt32, into page: UnsafeMutableRawBufferPointer, at offset: Int64, name: String,
        context: inout OpaquePointer?
    ) throws {
        func damaged(_ code: FindingCode, _ at: Int64, _ message: String) -> LiteProofError {
            LiteProofError.damaged(.error(code, file: name, offset: at, message))
        }
        guard frame.count > pageHeaderSize else { throw damaged(.ltxPageIndex, offset, "the page index gives page \(pgno) only \(frame.count) bytes") }
        let named = frame.u32BE(at: 0), flags = frame.u16BE(at: 4)
        guard named == pgno else {
            throw damaged(.ltxPageIndex, offset, "the page index puts page \(pgno) here, but the page header here names page \(named)")
        }
        if flags == 1 {
            guard frame.count > pageHeaderSize + 4 else { throw damaged(.ltxPageIndex, offset, "the page index gives page \(pgno) only \(frame.count) bytes") }
            let size = Int(frame.u32BE(at: pageHeaderSize))
            guard size == frame.count - pageHeaderSize - 4 else {
                throw damaged(
                    .ltxPageHeader, offset + 6, "page \(pgno) says its LZ4 block is \(size) bytes; the page index gives it \(frame.count - pageHeaderSize - 4)")
            }
            guard LZ4Block.decompress(UnsafeRawBufferPointer(rebasing: frame[(pageHeaderSize + 4)...]), into: page) == page.count else {
                throw damaged(.ltxPageData, offset + 10, "page \(pgno)'s LZ4 block does not decode to one \(page.count)-byte page")
            }
        } else if flags == 0 {
            if context == nil {
                var c: OpaquePointer?
                guard LZ4F_isError(LZ4F_createDecompressionContext(&c, liteproof_lz4f_version())) == 0 else {
                    throw LiteProofError.storage(.local, "cannot create an LZ4 decompression context")
                }
                context = c
            }
            LZ4F_resetDecompressionContext(context)
            var dst = page.count
            var src = frame.count - pageHeaderSize
            let hint = LZ4F_decompress(context, page.baseAddress, &dst, frame.baseAddress! + pageHeaderSize, &src, nil)
            guard LZ4F_isError(hint) == 0, hint == 0, dst == page.count, src == frame.count - pageHeaderSize else {
                throw damaged(
                    .ltxPageData, offset + 6,
                    "page \(pgno)'s LZ4 frame does not decode to one \(page.count)-byte page in the \(frame.count) bytes the page index gives it")
            }
        } else {
            throw damaged(.ltxPageHeader, offset, "page \(pgno) has unknown flags 0x\(flags.hex(width: 4))")
        }
    }
}
