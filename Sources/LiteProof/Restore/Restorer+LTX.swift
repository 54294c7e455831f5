import CLZ4
import Foundation

extension Restorer {
    /// Each page is written once, from its newest version: the last file of the plan whose page
    /// index lists it (as Litestream's compaction picks it). Pages above the final commit are
    /// dropped; the lock page stays zero. Every file's header and whole page index are read first,
    /// and the files must hold every page up to the final commit before anything is sized from it.
    ///
    /// Unless ``filesChecked`` says a caller (`verify`) has just decoded every file in full,
    /// every file is also decoded in full, on all cores, and checked (page encodings, index
    /// against the page block, CRC-64 file checksum, which covers every decompressed page — so a
    /// page version a newer file replaces is decompressed too). When the page map covers the
    /// whole database (up to ``ltxWindowPages`` pages) that decode writes the newest versions as it
    /// goes; beyond, the files are checked first, then restored window by window, newest first.
    ///
    /// Newest first, the only versions read and decompressed are the ones written: the page
    /// header the index points at must name that page and its data must decode to one page.
    /// Memory: 16 bytes per page of one window, each index read once however many windows.
    func applyLTX(_ plan: LTXRestorePlan, to out: OutputFile) throws -> Applied {
        let refs = plan.files
        let files = try refs.map { try replica.open($0.path) }
        // The headers planning read are not read again.
        let headers = try refs.indices.map { i in try plan.header(at: i) ?? LTX.readHeader(files[i], name: refs[i].path) }
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
        let meter = ProgressMeter(phase: "restore", total: refs.reduce(0) { $0 + $1.size }, handler: progress)
        let cursors = try zip(files, refs).map { try LTXIndexCursor($0, name: $1.path) }
        let window = Int(min(Int64(commit), Int64(ltxWindowPages)))
        let map = NewestPages(count: window)
        // The full decodes go largest file first, so the cores finish together.
        let bySize = refs.indices.sorted { refs[$0].size > refs[$1].size }
        if !filesChecked && Int64(commit) <= Int64(ltxWindowPages) {
            if commit > 0 {
                try map.fill(cursors, first: 1, last: commit, commit: commit, lockPage: lockPage, name: refs.last!.path)
            }
            _ = try parallelMap(bySize) { i in
                let writer = PageWriter(out, pageSize: pageSize)
                let me = UInt32(i + 1)
                try LTX.decode(files[i], name: refs[i].path) { pgno, page in
                    if pgno <= commit && map.owner[Int(pgno - 1)] == me { try writer.write(page: pgno, page) }
                }
                try writer.flush()
                meter.add(refs[i].size)
            }
        } else {
            if !filesChecked {
                _ = try parallelMap(bySize) { i in try LTX.decode(files[i], name: refs[i].path) }
            }
            var lo: UInt32 = 1
            while window > 0 && lo <= commit {
                let hi = UInt32(min(Int64(commit), Int64(lo) + Int64(window) - 1))
                try map.fill(cursors, first: lo, last: hi, commit: commit, lockPage: lockPage, name: refs.last!.path)
                // Pieces of the window, decoded and written on all cores.
                let piece = 2048
                let pieces = Array(stride(from: 0, to: Int(hi - lo) + 1, by: piece))
                let first = lo
                _ = try parallelMap(pieces) { start in
                    try map.apply(
                        pages: start..<min(start + piece, Int(hi - first) + 1), firstPage: first, files: files, refs: refs,
                        writer: PageWriter(out, pageSize: pageSize), meter: meter)
                }
                if hi == commit { break }
                lo = hi + 1
            }
        }
        try out.truncate(to: Int64(commit) * Int64(pageSize))
        return Applied(pageSize: pageSize, pageCount: Int64(commit))
    }
}

/// For each page of a window of the database: the file holding its newest version (1-based; 0 for
/// none) and where that version's frame lies in it. Written by one thread, then read by many.
// @unchecked: written by one thread before the readers start, then only read.
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

    /// Finds the newest version of pages `first...last` (at most the map's size): the last file
    /// in plan order whose page index lists the page. A page no file holds (but the lock page) is
    /// damage.
    func fill(_ cursors: [LTXIndexCursor], first: UInt32, last: UInt32, commit: UInt32, lockPage: UInt32, name: String) throws {
        precondition(Int(last - first) < owner.count)
        owner.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        for (i, cursor) in cursors.enumerated() {
            try cursor.forEach(through: last) { e in
                set(Int(e.pageNumber - first), file: UInt32(i + 1), offset: e.offset, size: e.size)
            }
        }
        if let missing = (first...last).first(where: { $0 != lockPage && owner[Int($0 - first)] == 0 }) {
            throw LiteProofError.damaged(
                .error(.ltxCommit, file: name, offset: 12, "the database has \(commit) pages but no file of the plan holds page \(missing)"))
        }
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
