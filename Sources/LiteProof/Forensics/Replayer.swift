import Foundation

/// A restorable point on a replica's history: the state after one commit (0.3) or one LTX file (0.5).
public struct ReplayPoint: Sendable, Codable {
    public var position: Position
    /// Seconds since the epoch: the file time (0.3) or the LTX header time (0.5).
    public var time: Double?
    /// The replica file holding the change that leads to this point.
    public var file: String
    /// Database size in pages at this point.
    public var pageCount: UInt32
    // Where the point lies in the plan.
    var step: Int  // index into Replayer.steps
    var walEnd: Int64  // 0.3: WAL offset after the commit frame
    /// Set on the first point after a gap in the history (a missing WAL index or TXID range, a
    /// hole in a WAL index, damage): this point is a snapshot the replay resumed from, and the
    /// states between the point before it and this one cannot be rebuilt.
    public var afterGap: String?
}

/// A stretch of a replica's history that cannot be replayed: what broke the chain, the last
/// point before it, and the snapshot the replay resumed from (nil: nothing after the gap is
/// reachable).
public struct ReplayGap: Sendable, Codable {
    public var reason: String
    public var lastBefore: Position
    public var resumedAt: Position?

    public var description: String {
        "\(reason): the states after \(lastBefore) "
            + (resumedAt.map { "and before \($0) (a snapshot) cannot be rebuilt" } ?? "cannot be rebuilt (no later snapshot)")
    }
}

/// Applies a replica forward, point by point, into a working database file — with an undo log,
/// so a search can step back to the last state it kept without restoring from scratch.
///
/// 0.3: the points are every commit of every WAL index of one generation, from its snapshot on.
/// 0.5: the points are the TXIDs along the finest chain of LTX files from the oldest snapshot
/// (level-0 files where they are kept, compacted ranges where they are not).
///
/// A gap (a missing WAL index, a hole in one or damage; 0.5: a TXID range no file covers) ends
/// what can be rebuilt from the state before it: as a restore would, the replay resumes only
/// from a snapshot at or after the gap, and the points in between are not points at all
/// (``gaps`` lists them).
public final class Replayer {
    public let replica: Replica
    public internal(set) var points: [ReplayPoint] = []
    public let workingPath: String
    let scratch: String
    let out: OutputFile
    public internal(set) var pageSize = 0
    /// The point the working file holds.
    public private(set) var current = 0
    public internal(set) var description = ""
    /// Stretches of history that cannot be rebuilt, in order.
    public internal(set) var gaps: [ReplayGap] = []

    enum Step {
        case walIndex(index: UInt32, segments: [V03File], finalSize: UInt32, lastCommitEnd: Int64)
        /// 0.3: a snapshot the replay resumes from after a gap (the whole database image).
        case snapshot(V03File)
        case ltx(LTXFileRef, LTXHeader)
    }

    var steps: [Step] = []
    // Undo log of the current session.
    private var undo: OutputFile?
    private var undoReader: ReadOnlyFile?
    /// The working file as it was when the undo log began (for pre-images).
    private var before: ReadOnlyFile?
    private var undoPages: [UInt32] = []
    private var undoSaved = Set<UInt32>()
    private var undoSize: Int64 = 0
    private var undoFrom = 0

    /// Sees the history while a 0.3 replay is prepared, so one read of each WAL index both lists
    /// the points and hands over their changes (what ``scan(through:page:reached:)`` would give
    /// from the first point on). 0.5 replays ignore it.
    struct Observer {
        /// The starting snapshot is in the working file (point 0), before any other point.
        var started: (Replayer) throws -> Void
        /// The hash (``DatabaseDigest/pageHash(_:_:)``) of a page the change to the next point writes.
        var page: (UInt32, UInt64) throws -> Void
        /// Point `index` is reached, at `position` with `pages` pages (it is listed only after the
        /// WAL index holding it is read).
        var reached: (_ index: Int, _ position: Position, _ pages: UInt32) throws -> Void
    }

    var observer: Observer?
    /// 0.3: how many WAL indexes the preparation reads (known before ``Observer/started``).
    var indexesToRead = 0

    /// Prepares the replay of `generation` (0.3; default: the one a restore would choose) and
    /// applies the starting snapshot into a scratch folder.
    public convenience init(replica: Replica, generation: String? = nil) throws {
        try self.init(replica: replica, generation: generation, observer: nil)
    }

    init(replica: Replica, generation: String?, observer: Observer?) throws {
        self.replica = replica
        self.observer = observer
        scratch = try ScratchSpace.makeFolder(prefix: "liteproof-replay")
        workingPath = scratch + "/working.db"
        out = try OutputFile(creating: workingPath)
        do {
            switch replica.layout {
            case .v03: try prepareV03(generation: generation)
            case .ltx(let layout): try prepareLTX(layout)
            }
        } catch {
            ScratchSpace.release(scratch)
            throw error
        }
        self.observer = nil
    }

    deinit { ScratchSpace.release(scratch) }

    // MARK: moving

    /// Moves the working file forward to point `target` (≥ the current point). With `undoable`,
    /// records what it overwrites so ``rewind()`` can return to the current point.
    public func advance(to target: Int, undoable: Bool) throws {
        precondition(target >= current && target < points.count)
        if undoable { try beginUndo() }
        let from = points[current], to = points[target]
        let frameSize = Int64(24 + pageSize)
        if target > current {
            // A snapshot on the way replaces the whole file: start there.
            var firstStep = max(from.step, 0)
            if to.step > from.step, let snap = (from.step + 1...to.step).last(where: { if case .snapshot = steps[$0] { true } else { false } }) {
                firstStep = snap
            }
            for s in firstStep...to.step {
                switch steps[s] {
                case .snapshot(let file):
                    if s == from.step { continue }  // already applied
                    let pages = try snapshotPages(file) { pgno, page in try self.writePage(pgno, page) }
                    try setSize(Int64(pages) * Int64(pageSize))
                case .walIndex(let index, let segs, let finalSize, let lastCommitEnd):
                    let start = s == from.step ? from.walEnd : Int64(WALHeader.size)
                    // Frames after the index's last commit are never applied (SQLite ignores them).
                    let end = s == to.step ? to.walEnd : lastCommitEnd
                    if start >= end { continue }
                    var lastSize: UInt32 = 0
                    try readWAL(index: index, segments: segs, through: end) { frame in
                        let frameEnd = frame.walOffset + frameSize
                        guard frame.walOffset >= start, frameEnd <= end else { return }
                        try self.writePage(frame.pageNumber, frame.page)
                        if frame.commitSize != 0 { lastSize = frame.commitSize }
                    }
                    let size = s == to.step ? to.pageCount : finalSize
                    if lastSize != 0 || s == to.step { try setSize(Int64(size) * Int64(pageSize)) }
                case .ltx(let ref, _):
                    if s == from.step { continue }  // already applied
                    try applyLTX(ref)
                }
            }
        }
        current = target
    }

    /// Reads the history forward from the current point through point `last` without applying
    /// it (the working file and ``current`` stay as they are): `page` gets the hash
    /// (``DatabaseDigest/pageHash(_:_:)``) of each page the change leading to a point writes —
    /// 0.3: the frames of each commit, handed over only at its commit frame; 0.5: every page of
    /// each LTX file — then `reached` gets the point. Memory: the hashes of one open transaction.
    public func scan(through last: Int, page: (UInt32, UInt64) throws -> Void, reached: (Int) throws -> Void) throws {
        precondition(last >= current && last < points.count)
        guard last > current else { return }
        let from = points[current], to = points[last]
        let frameSize = Int64(24 + pageSize)
        var next = current + 1
        for s in (from.step < 0 ? 0 : from.step)...to.step {
            switch steps[s] {
            case .snapshot(let file):
                if s == from.step { continue }  // already applied
                _ = try snapshotPages(file) { pgno, p in try page(pgno, DatabaseDigest.pageHash(pgno, p)) }
                while next <= last, points[next].step == s {
                    try reached(next)
                    next += 1
                }
            case .walIndex(let index, let segs, _, let lastCommitEnd):
                let start = s == from.step ? from.walEnd : Int64(WALHeader.size)
                let end = s == to.step ? to.walEnd : lastCommitEnd
                if start >= end { continue }
                var open: [(UInt32, UInt64)] = []
                // `readIndex` keeps its frame handler; these two only live through the call.
                try withoutActuallyEscaping(page) { page in
                    try withoutActuallyEscaping(reached) { reached in
                        try self.readWAL(index: index, segments: segs, through: end) { frame in
                            let frameEnd = frame.walOffset + frameSize
                            guard frame.walOffset >= start, frameEnd <= end else { return }
                            open.append((frame.pageNumber, DatabaseDigest.pageHash(frame.pageNumber, frame.page)))
                            guard frame.commitSize != 0 else { return }
                            for (p, h) in open { try page(p, h) }
                            open.removeAll(keepingCapacity: true)
                            while next <= last, self.points[next].step == s, self.points[next].walEnd <= frameEnd {
                                try reached(next)
                                next += 1
                            }
                        }
                    }
                }
            case .ltx(let ref, _):
                if s == from.step { continue }  // already applied
                try LTX.decode(try replica.open(ref.path), name: ref.path) { pgno, p in try page(pgno, DatabaseDigest.pageHash(pgno, p)) }
                while next <= last, points[next].step == s {
                    try reached(next)
                    next += 1
                }
            }
        }
    }

    /// Reads the frames of one WAL index up to WAL offset `end` (a commit's end: the frames before
    /// it were verified when the plan was made; damage after it does not matter). Throws when the
    /// WAL no longer reaches `end`.
    func readWAL(index: UInt32, segments: [V03File], through end: Int64, _ onFrame: @escaping (WALFrame) throws -> Void) throws {
        let frameSize = Int64(24 + pageSize)
        var reach: Int64 = 0
        let read = try V03Readers.readIndex(
            replica, index: index, segments: segments.filter { $0.offset < end }, expectedPageSize: pageSize, limit: end
        ) { frame in
            reach = max(reach, frame.walOffset + frameSize)
            try onFrame(frame)
        }
        guard reach >= end else {
            if let damage = read.findings.first(where: { $0.severity == .error }) { throw LiteProofError.damaged(damage) }
            // The frames were there when the plan was made: the store changed under the read.
            throw LiteProofError.storage(
                .transfer, "WAL index \(index.hex(width: 8)) no longer reaches WAL offset \(end): the replica changed while it was read",
                path: segments.last?.path)
        }
    }

    /// Returns to the point where the undo log began.
    public func rewind() throws {
        guard let reader = undoReader else { return }
        var page = [UInt8](repeating: 0, count: pageSize)
        for (i, pgno) in undoPages.enumerated() {
            _ = try page.withUnsafeMutableBytes { try reader.read(into: $0, at: Int64(i) * Int64(pageSize)) }
            try page.withUnsafeBytes { try out.write($0, at: Int64(pgno - 1) * Int64(pageSize)) }
        }
        try out.truncate(to: undoSize)
        current = undoFrom
        endUndo()
    }

    /// Forgets the undo log (the current point becomes the base).
    public func commit() { endUndo() }

    private func beginUndo() throws {
        endUndo()
        let path = scratch + "/undo-\(UInt32.random(in: 0...UInt32.max))"
        undo = try OutputFile(creating: path, mode: 0o600)
        undoReader = try ReadOnlyFile(path)
        unlink(path)
        undoSize = try out.currentSize()
        undoFrom = current
        before = try ReadOnlyFile(workingPath)
    }

    private func endUndo() {
        undo = nil
        undoReader = nil
        before = nil
        undoPages.removeAll()
        undoSaved.removeAll()
    }

    func writePage(_ pgno: UInt32, _ page: UnsafeRawBufferPointer) throws {
        let at = Int64(pgno - 1) * Int64(pageSize)
        if let undo, let reader = before, at < undoSize, undoSaved.insert(pgno).inserted {
            var old = [UInt8](repeating: 0, count: pageSize)
            _ = try old.withUnsafeMutableBytes { try reader.read(into: $0, at: at) }
            try old.withUnsafeBytes { try undo.write($0, at: Int64(undoPages.count) * Int64(pageSize)) }
            undoPages.append(pgno)
        }
        try out.write(page, at: at)
    }

    func setSize(_ size: Int64) throws {
        if let undo, let reader = before, size < (try out.currentSize()) {
            // Pages cut off by a truncation must come back on rewind.
            var pgno = UInt32(size / Int64(pageSize)) + 1
            var old = [UInt8](repeating: 0, count: pageSize)
            while Int64(pgno - 1) * Int64(pageSize) < min(undoSize, reader.size) {
                if undoSaved.insert(pgno).inserted {
                    _ = try old.withUnsafeMutableBytes { try reader.read(into: $0, at: Int64(pgno - 1) * Int64(pageSize)) }
                    try old.withUnsafeBytes { try undo.write($0, at: Int64(undoPages.count) * Int64(pageSize)) }
                    undoPages.append(pgno)
                }
                pgno += 1
            }
        }
        try out.truncate(to: size)
    }

    /// Runs `sql` on the working file (read-only) and renders the result as text.
    public func evaluate(_ sql: String) throws -> String {
        let db = try SQLiteDatabase(path: workingPath, mode: .immutable)
        let rows = try db.query(sql)
        return rows.map { $0.map(\.description).joined(separator: "|") }.joined(separator: "\n")
    }
}
