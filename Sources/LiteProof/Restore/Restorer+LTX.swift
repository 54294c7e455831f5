import CLZ4
import Foundation

extension Restorer {
    /// Newest first: every file's page index is read (not its pages), each page's newest version
    /// is found (the last file of the plan whose index lists it, as Litestream's compaction picks
    /// it), and only those versions are read, decompressed (on all cores) and written, once each.
    /// Pages above the final commit are dropped; the lock page stays zero.
    ///
    /// What this checks: every file's header, its whole page index (ascending pages, entries
    /// inside the file), that the files hold every page up to the final commit, and every page
    /// version it writes (the page header the index points at names that page, and its LZ4 data
    /// decodes to exactly one page). It does not decompress page versions a newer file replaces,
    /// so it cannot check the CRC-64 file checksums, which cover every decompressed page; `verify`
    /// decodes every file in full and checks them.
    ///
    /// Memory: the page → newest-version map covers at most ``ltxWindowPages`` pages at a time
    /// (16 bytes a page); larger databases are restored window by window, each index read once.
    func applyLTX(_ plan: RestorePlan, to out: OutputFile) throws -> Applied {
        let refs: [LTXFileRef] = plan.steps.compactMap { if case .ltx(let r) = $0 { return r } else { return nil } }
        let files = try refs.map { try replica.open($0.path) }
        let headers = try zip(files, refs).map { try LTX.readHeader($0, name: $1.path) }
        let pageSize = headers[0].pageSize
        for (h, r) in zip(headers, refs) where h.pageSize != pageSize {
            throw LiteProofError.damaged(.error(.ltxPageSize, file: r.path, offset: 8, "page size is \(h.pageSize); the plan's snapshot has \(pageSize)"))
        }
        let commit = headers.last!.commit
        let lockPage = LTX.lockPage(pageSize: pageSize)
        // Memory follows the pages the files hold, never the header's `commit`: the files must
        // list at least `commit` pages (less the lock page) before anything is sized from it.
        // This pass also checks every index in full (the windows below read them again, trusting
        // their shape).
        var listed: Int64 = 0
        for (i, (f, r)) in zip(files, refs).enumerated() {
            try LTX.forEachIndexEntry(f, name: r.path, header: headers[i]) { e in
                if e.pageNumber == lockPage {
                    throw LiteProofError.damaged(
                        .error(
                            .ltxPageHeader, file: r.path, offset: e.offset,
                            "the page index lists page \(e.pageNumber), the lock page (byte 2^30), which is never stored"))
                }
                if e.pageNumber <= commit { listed += 1 }
            }
        }
        let needed = Int64(commit) - (lockPage <= commit ? 1 : 0)
        if listed < needed {
            throw LiteProofError.damaged(
                .error(
                    .ltxCommit, file: refs.last!.path, offset: 12,
                    "the database has \(commit) pages but the plan's \(refs.count) files hold only \(listed) page images at or below it; some page is in no file"
                ))
        }
        let meter = ProgressMeter(phase: "restore", total: plan.totalBytes, handler: progress)
        let cursors = try zip(files, refs).map { try LTXIndexCursor($0, name: $1.path) }
        let window = Int(min(Int64(commit), Int64(ltxWindowPages)))
        let map = NewestPages(count: window)
        var lo: UInt32 = 1
        while window > 0 && lo <= commit {
            let hi = UInt32(min(Int64(commit), Int64(lo) + Int64(window) - 1))
            map.clear(Int(hi - lo) + 1)
            // Owner of each page: the last file in plan order whose page index lists it.
            for (i, cursor) in cursors.enumerated() {
                try cursor.forEach(through: hi) { e in
                    map.set(Int(e.pageNumber - lo), file: UInt32(i + 1), offset: e.offset, size: e.size)
                }
            }
            if let missing = (lo...hi).first(where: { $0 != lockPage && map.owner[Int($0 - lo)] == 0 }) {
                throw LiteProofError.damaged(
                    .error(
                        .ltxCommit, file: refs.last!.path, offset: 12,
                        "the database has \(commit) pages but no file of the plan holds page \(missing)"))
            }
            // Pieces of the window, decoded and written on all cores.
            let piece = 2048
            let pieces = Array(stride(from: 0, to: Int(hi - lo) + 1, by: piece))
            let first = lo
            _ = try parallelMap(pieces) { start in
                try map.apply(
                    pages: start..<min(start + piece, Int(hi - first) + 1), firstPage: first, files: files, refs: refs,
                    writer: PageWriter(out, pageSize: pageSize), meter: meter)
            }
            lo = hi &+ 1
            if hi == commit { break }
        }
        try out.truncate(to: Int64(commit) * Int64(pageSize))
        return Applied(pageSize: pageSize, pageCount: Int64(commit))
    }
}

/// For each page of a window of the database: the file holding its newest version (1-based; 0 for
/// none) and where that version's frame lies in it. Written by one thread, then read by many.
final class NewestPages: @unchecked Sendable {
    private(set) var owner: [UInt32]
    private var offset: [Int64]
    private var size: [UInt32]
    /// Bytes read at once: a run of consecutive frames of one file.
    static let readSize = 1 << 20

    init(count: Int) {
        owner = [UInt32](repeating: 0, count: count)
        offset = [Int64](repeating: 0, count: count)
        size = [UInt32](repeating: 0, count: count)
    }

    func clear(_ count: Int) {
        precondition(count <= owner.count)
        owner.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    @inline(__always)
    func set(_ i: Int, file: UInt32, offset o: Int64, size s: Int64) {
        owner[i] = file
        offset[i] = o
        size[i] = UInt32(clamping: s)
    }

    /// Reads, decodes and writes the newest version of the window's pages `pages` (indexes into
    /// the window; page number `firstPage + index`): runs of consecutive frames of one file in
    /// one read, each page decoded straight into the writer's buffer.
    func apply(
        pages: Range<Int>, firstPage: UInt32, files: [ReadOnlyFile], refs: [LTXFileRef], writer: PageWriter, meter: ProgressMeter
    ) throws {
        let pageSize = writer.pageSize
        let maxFrame = LTX.maxFrameSize(pageSize: pageSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 64)
        defer { buffer.deallocate() }
        var frameContext: OpaquePointer?
        defer { if let c = frameContext { LZ4F_freeDecompressionContext(c) } }
        var k = pages.lowerBound
        while k < pages.upperBound {
            let file = owner[k]
            guard file > 0 else {  // the lock page
                k += 1
                continue
            }
            let name = refs[Int(file - 1)].path
            guard size[k] >= 7, Int(size[k]) <= maxFrame else {
                throw LiteProofError.damaged(
                    .error(
                        .ltxPageIndex, file: name, offset: offset[k],
                        "the page index gives page \(firstPage + UInt32(k)) \(size[k]) bytes; a \(pageSize)-byte page's frame has 7...\(maxFrame)"))
            }
            var j = k + 1
            var bytes = Int(size[k])
            while j < pages.upperBound && owner[j] == file && offset[j] == offset[j - 1] + Int64(size[j - 1])
                && size[j] >= 7 && Int(size[j]) <= maxFrame && bytes + Int(size[j]) <= buffer.count
            {
                bytes += Int(size[j])
                j += 1
            }
            let run = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes])
            let got = try files[Int(file - 1)].read(into: run, at: offset[k])
            guard got == bytes else {
                throw LiteProofError.damaged(
                    .error(.ltxTruncated, file: name, offset: offset[k] + Int64(got), "the file ends inside the page frames its index points at"))
            }
            var at = 0
            for m in k..<j {
                let pgno = firstPage + UInt32(m)
                let frame = UnsafeRawBufferPointer(rebasing: run[at..<(at + Int(size[m]))])
                try writer.write(page: pgno) { page in
                    try LTX.decodeFrame(frame, pgno: pgno, into: page, at: offset[m], name: name, context: &frameContext)
                }
                at += Int(size[m])
            }
            meter.add(Int64(bytes))
            k = j
        }
        try writer.flush()
    }
}

/// Reads an LTX page index window by window: each call goes on from where the last one stopped,
/// so every index is read once however many windows the database needs. The index was checked
/// in full before (``LTX/forEachIndexEntry(_:name:header:_:)``); this only parses it.
final class LTXIndexCursor {
    let file: ReadOnlyFile
    let name: String
    private var position: Int64
    private let end: Int64
    private var pending: LTXIndexEntry?
    private var done = false

    init(_ file: ReadOnlyFile, name: String) throws {
        self.file = file
        self.name = name
        let sizeAt = file.size - Int64(LTX.trailerSize) - 8
        let bytes = try file.read(count: 8, at: sizeAt)
        guard bytes.count == 8 else { throw FormatError(.ltxTruncated, file: name, offset: sizeAt, "the file ends inside the page index size") }
        let length = Int64(clamping: bytes.u64BE(at: 0))
        position = sizeAt - length
        end = sizeAt
    }

    /// Calls `body` with the entries for pages up to `last` not given before.
    func forEach(through last: UInt32, _ body: (LTXIndexEntry) throws -> Void) throws {
        if let p = pending {
            guard p.pageNumber <= last else { return }
            try body(p)
            pending = nil
        }
        guard !done else { return }
        let reader = BufferedReader(file, at: position, capacity: 64 << 10)
        func uvarint() throws -> UInt64 {
            var x: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard reader.position < end, shift <= 63, let b = try reader.take(1) else {
                    throw FormatError(.ltxPageIndex, file: name, offset: reader.position, "the page index changed while it was read")
                }
                x |= UInt64(b[0] & 0x7F) << shift
                if b[0] < 0x80 { return x }
                shift += 7
            }
        }
        defer { position = reader.position }
        while true {
            let pgno = try uvarint()
            if pgno == 0 {
                done = true
                return
            }
            let offset = try uvarint(), size = try uvarint()
            let e = LTXIndexEntry(pageNumber: UInt32(clamping: pgno), offset: Int64(clamping: offset), size: Int64(clamping: size))
            if e.pageNumber > last {
                pending = e
                return
            }
            try body(e)
        }
    }
}
