/// Coalesces page writes with consecutive page numbers into one `pwrite` (up to `capacity` bytes).
/// One per thread; call ``flush()`` before dropping it.
final class PageWriter {
    let out: OutputFile
    let pageSize: Int
    private let buffer: UnsafeMutableRawBufferPointer
    private var count = 0
    private var firstPage: UInt32 = 0

    init(_ out: OutputFile, pageSize: Int, capacity: Int = 1 << 20) {
        self.out = out
        self.pageSize = pageSize
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, pageSize), alignment: 4096)
    }

    deinit { buffer.deallocate() }

    func write(page pgno: UInt32, _ bytes: UnsafeRawBufferPointer) throws {
        precondition(bytes.count == pageSize)
        let pages = count / pageSize
        if count > 0 && (pgno != firstPage + UInt32(pages) || count + pageSize > buffer.count) {
            try flush()
        }
        if count == 0 { firstPage = pgno }
        (buffer.baseAddress! + count).copyMemory(from: bytes.baseAddress!, byteCount: pageSize)
        count += pageSize
    }

    /// Like ``write(page:_:)``, but `fill` produces the page straight into the buffer (it gets
    /// exactly `pageSize` bytes); nothing is kept when it throws.
    func write(page pgno: UInt32, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        let pages = count / pageSize
        if count > 0 && (pgno != firstPage + UInt32(pages) || count + pageSize > buffer.count) {
            try flush()
        }
        try fill(UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + pageSize)]))
        if count == 0 { firstPage = pgno }
        count += pageSize
    }

    func flush() throws {
        guard count > 0 else { return }
        try out.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), at: Int64(firstPage - 1) * Int64(pageSize))
        count = 0
    }
}

/// The pages of a transaction that has not reached its commit frame yet. Held in memory up to
/// `memoryLimit`; beyond, each full arena goes to an unlinked scratch file in one write, so a huge
/// transaction cannot exhaust memory and costs one `pwrite` and one `pread` per arena, not per page.
final class PendingPages {
    let pageSize: Int
    let memoryLimit: Int
    let spillDirectory: String
    /// Page images kept in memory; grows to at most `memoryLimit` and is reused, never shrunk,
    /// so steady-state restores allocate nothing.
    private var arena: UnsafeMutableRawBufferPointer
    /// Page numbers in frame order: first the spilled ones, then the arena's.
    private var pages: [UInt32] = []
    private var inMemory = 0
    private var spill: OutputFile?
    private var spillReader: ReadOnlyFile?
    private var spilled = 0

    init(pageSize: Int, memoryLimit: Int = 16 << 20, spillDirectory: String) {
        self.pageSize = pageSize
        self.memoryLimit = max(memoryLimit, pageSize)
        self.spillDirectory = spillDirectory
        arena = UnsafeMutableRawBufferPointer.allocate(byteCount: pageSize * 64, alignment: 4096)
    }

    deinit { arena.deallocate() }

    func append(_ pgno: UInt32, _ page: UnsafeRawBufferPointer) throws {
        if (inMemory + 1) * pageSize > arena.count {
            if arena.count < memoryLimit {
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: min(memoryLimit, arena.count * 2), alignment: 4096)
                bigger.baseAddress!.copyMemory(from: arena.baseAddress!, byteCount: inMemory * pageSize)
                arena.deallocate()
                arena = bigger
            } else {
                try spillArena()
            }
        }
        (arena.baseAddress! + inMemory * pageSize).copyMemory(from: page.baseAddress!, byteCount: pageSize)
        inMemory += 1
        pages.append(pgno)
    }

    /// Appends the arena's pages to the scratch file and empties the arena.
    private func spillArena() throws {
        guard inMemory > 0 else { return }
        if spill == nil {
            let path = spillDirectory + "/.liteproof-spill-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            spill = try OutputFile(creating: path, mode: 0o600)
            spillReader = try ReadOnlyFile(path)
            unlink(path)
        }
        try spill!.write(UnsafeRawBufferPointer(rebasing: arena[0..<(inMemory * pageSize)]), at: Int64(spilled) * Int64(pageSize))
        spilled += inMemory
        inMemory = 0
    }

    /// Writes every pending page, in order, then empties. Runs of consecutive page numbers go
    /// straight from the arena to the file, one `pwrite` each, without another copy; spilled
    /// pages come back through the arena, one arena at a time.
    func flush(to writer: PageWriter) throws {
        try writer.flush()
        if spilled > 0, let reader = spillReader {
            try spillArena()
            let perArena = arena.count / pageSize
            var first = 0
            while first < spilled {
                let n = min(perArena, spilled - first)
                let bytes = UnsafeMutableRawBufferPointer(rebasing: arena[0..<(n * pageSize)])
                guard try reader.read(into: bytes, at: Int64(first) * Int64(pageSize)) == bytes.count else {
                    throw LiteProofError.storage(.local, "the restore's scratch file \(spillDirectory)/.liteproof-spill-* came back short")
                }
                try writeRuns(count: n, pages: first, to: writer.out)
                first += n
            }
        } else {
            try writeRuns(count: inMemory, pages: 0, to: writer.out)
        }
        discard()
    }

    /// Writes the arena's first `count` pages, numbered `pages[from...]`, in runs of consecutive
    /// page numbers.
    private func writeRuns(count: Int, pages from: Int, to out: OutputFile) throws {
        var i = 0
        while i < count {
            var j = i + 1
            while j < count && pages[from + j] == pages[from + j - 1] + 1 { j += 1 }
            try out.write(UnsafeRawBufferPointer(rebasing: arena[(i * pageSize)..<(j * pageSize)]), at: Int64(pages[from + i] - 1) * Int64(pageSize))
            i = j
        }
    }

    func discard() {
        pages.removeAll(keepingCapacity: true)
        inMemory = 0
        spill = nil
        spillReader = nil
        spilled = 0
    }
}

/// The newest committed version of each page written recently, so that a page rewritten by many
/// transactions reaches the output once instead of once per transaction (as SQLite's checkpoint
/// copies only each page's last frame). Pages of the open transaction wait in the same slots until
/// its commit frame; when every slot is taken, the committed pages are written out in page order
/// (runs of consecutive pages in one `pwrite`) and their slots reused. A transaction larger than
/// all the slots continues in a ``PendingPages`` (which spills to a scratch file), except its
/// pages past the database's committed end (an appending transaction's new pages): nothing
/// committed lives there, so they go straight to the output, and the end of the WAL index cuts
/// the file to the last commit's size, which drops them if their transaction never commits.
///
/// Memory is `slots × pageSize` plus a few bytes per slot, whatever the database or WAL size.
final class PageMap {
    let writer: PageWriter
    let pageSize: Int
    let slots: Int
    private let arena: UnsafeMutableRawBufferPointer
    private var free: [Int32]
    /// Page number → slot of its newest committed version.
    private var committed: [UInt32: Int32] = [:]
    /// The open transaction's frames, in WAL order.
    private var open: [(page: UInt32, slot: Int32)] = []
    /// The open transaction's frames beyond the slots (only for a transaction larger than all of them).
    private let overflow: PendingPages
    private var overflowing = false
    /// The database's size in pages at the last commit (set by the caller at each WAL index's
    /// start, then by each commit frame).
    var databasePages: UInt32 = 0
    /// Pages of the open transaction written straight to the output (past `databasePages`).
    private var direct: Set<UInt32> = []
    /// Page images written to the output so far (a page written by two flushes counts twice).
    private(set) var pagesWritten = 0

    init(_ writer: PageWriter, memory: Int = 4 << 20, spillDirectory: String) {
        self.writer = writer
        pageSize = writer.pageSize
        slots = max(memory / writer.pageSize, 16)
        arena = UnsafeMutableRawBufferPointer.allocate(byteCount: slots * pageSize, alignment: 4096)
        free = (0..<Int32(slots)).reversed()
        committed.reserveCapacity(slots)
        overflow = PendingPages(pageSize: pageSize, memoryLimit: 1 << 20, spillDirectory: spillDirectory)
    }

    deinit { arena.deallocate() }

    /// A frame of the open transaction (not its commit frame).
    func stage(_ pgno: UInt32, _ page: UnsafeRawBufferPointer) throws {
        if !overflowing && free.isEmpty { try flush() }
        guard !overflowing, let slot = free.popLast() else {
            overflowing = true
            if pgno > databasePages {
                try writer.write(page: pgno, page)
                direct.insert(pgno)
                pagesWritten += 1
            } else {
                try overflow.append(pgno, page)
            }
            return
        }
        (arena.baseAddress! + Int(slot) * pageSize).copyMemory(from: page.baseAddress!, byteCount: pageSize)
        open.append((pgno, slot))
    }

    /// The commit frame of the open transaction: its pages become the newest committed versions.
    func commit(_ pgno: UInt32, _ page: UnsafeRawBufferPointer, databasePages newSize: UInt32) throws {
        try stage(pgno, page)
        for (p, slot) in open {
            if direct.contains(p) {
                free.append(slot)  // a later frame of this transaction went to the output
            } else if let old = committed.updateValue(slot, forKey: p) {
                free.append(old)
            }
        }
        open.removeAll(keepingCapacity: true)
        direct.removeAll(keepingCapacity: true)
        databasePages = newSize
        if overflowing {
            // The overflowed frames come after every frame in the slots: write the slots first.
            try flush()
            try overflow.flush(to: writer)
            try writer.flush()
            overflowing = false
        }
    }

    /// Drops the open transaction (frames after the last commit, which a restore ignores).
    func discardOpen() {
        for (_, slot) in open { free.append(slot) }
        open.removeAll(keepingCapacity: true)
        direct.removeAll(keepingCapacity: true)
        overflow.discard()
        overflowing = false
    }

    /// Writes every committed page (up to `maxPage`; pages above it are dropped, as SQLite's
    /// checkpoint drops pages past the database's size) in page order and frees their slots.
    func flush(maxPage: UInt32 = .max) throws {
        guard !committed.isEmpty else {
            try writer.flush()  // pages written straight to the output may wait there
            return
        }
        var entries = committed.map { (page: $0.key, slot: $0.value) }
        entries.sort { $0.page < $1.page }
        for e in entries {
            if e.page <= maxPage {
                try writer.write(page: e.page, UnsafeRawBufferPointer(rebasing: arena[(Int(e.slot) * pageSize)..<(Int(e.slot + 1) * pageSize)]))
                pagesWritten += 1
            }
            free.append(e.slot)
        }
        try writer.flush()
        committed.removeAll(keepingCapacity: true)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
