import Foundation

/// A consistent read of a live SQLite database in WAL mode, without SQLite and without writing
/// anything: the database file overlaid with the WAL's committed frames (salts and cumulative
/// checksums checked, up to the last valid commit frame), as SQLite's own WAL reader sees it.
///
/// No lock is taken and no `-shm`/`-wal` is created. Instead the read is optimistic: after the
/// pages are read, the WAL is read again; if it was reset (new salts) or grew with commits that
/// touch pages read from the database file (a checkpoint may have copied them there), the read
/// starts over with the newer state.
public final class LiveDatabase: PageSource {
    /// One commit in the WAL: where it ends and the database size after it.
    public struct Commit: Sendable, Codable, Equatable {
        /// WAL offset just after the commit frame.
        public var walEnd: Int64
        /// Database size in pages after the commit.
        public var pageCount: UInt32
        /// Index (0-based) of the commit's last frame.
        public var frame: Int
        /// Cumulative checksum after the commit frame.
        public var checksum1: UInt32
        public var checksum2: UInt32
    }

    /// A WAL frame kept in the overlay.
    struct FrameRef {
        var pgno: UInt32
        var offset: Int64  // of the page bytes
        var frame: Int
    }

    public let path: String
    public let pageSize: Int
    /// Pages of the consistent state (after the last commit).
    public let pageCount: UInt32
    /// Pages of the database file alone (before any WAL frame).
    public let filePageCount: UInt32
    public let walHeader: WALHeader?
    /// Every commit in the WAL, in order.
    public let commits: [Commit]
    /// Frames up to the last commit, in WAL order.
    let frames: [FrameRef]
    /// Latest frame index per page at the last commit.
    let latest: [UInt32: Int]
    let dbFile: ReadOnlyFile
    let walFile: ReadOnlyFile?
    /// How many times the read started over because the application wrote meanwhile.
    public let retries: Int

    /// The live database changed under a read (a short WAL read, a reset): start over.
    struct Changed: Error {}

    /// Reads `path` consistently: opens it (read-only, its WAL too), runs `body` — every page
    /// read the caller needs (digests, history, canaries, owners) happens inside — and only then
    /// checks that nothing the reads relied on changed; if something did, everything starts over.
    public static func read<T>(_ path: String, maxRetries: Int = 50, _ body: (LiveDatabase) throws -> T) throws -> T {
        var attempt = 0
        while true {
            let db = try LiveDatabase(path: path, retries: attempt)
            do {
                let result = try body(db)
                if try db.isStillConsistent() { return result }
            } catch is Changed {
                // fall through to a retry
            }
            attempt += 1
            if attempt > maxRetries {
                throw LiteProofError(.undecided, "\(path) kept changing during \(maxRetries) attempts at a consistent read; try again when writes are quieter")
            }
            usleep(useconds_t(min(attempt, 20) * 5_000))
        }
    }

    private init(path: String, retries: Int) throws {
        self.path = path
        self.retries = retries
        guard FS.exists(path) else { throw LiteProofError(.usage, "no such database: \(path)") }
        dbFile = try ReadOnlyFile(path)
        let headerBytes = try dbFile.read(count: DatabaseHeader.size, at: 0)
        var dbHeader: DatabaseHeader?
        if headerBytes.count == DatabaseHeader.size, let h = try? headerBytes.withUnsafeBytes({ try DatabaseHeader.parse($0) }) {
            dbHeader = h
        }
        let walPath = path + "-wal"
        var wal: ReadOnlyFile?
        if FS.exists(walPath), let f = try? ReadOnlyFile(walPath), f.size >= Int64(WALHeader.size) { wal = f }
        walFile = wal

        var frames: [FrameRef] = []
        var commits: [Commit] = []
        var header: WALHeader?
        if let wal {
            let decoder = WALDecoder { frame in
                frames.append(FrameRef(pgno: frame.pageNumber, offset: frame.walOffset + 24, frame: frames.count))
                if frame.commitSize != 0 {
                    commits.append(
                        Commit(
                            walEnd: frame.walOffset + 24 + Int64(frame.page.count), pageCount: frame.commitSize,
                            frame: frames.count - 1, checksum1: frame.checksum.0, checksum2: frame.checksum.1))
                }
            }
            do {
                try wal.forEachChunk { chunk, _ in try decoder.feed(chunk) }
            } catch is FormatError {
                // A WAL with a bad header holds nothing SQLite would read.
            }
            header = decoder.header
            if let h = header, let d = dbHeader, h.pageSize != d.pageSize { header = nil; frames = []; commits = [] }
            // Frames after the last commit are not part of any committed state.
            frames = Array(frames.prefix((commits.last?.frame ?? -1) + 1))
        }
        walHeader = header
        self.frames = frames
        self.commits = commits
        var latest: [UInt32: Int] = [:]
        for f in frames { latest[f.pgno] = f.frame }
        self.latest = latest
        guard let ps = header?.pageSize ?? dbHeader?.pageSize else {
            throw LiteProofError(.usage, "\(path) is not a SQLite database (no valid header in the file or its WAL)")
        }
        pageSize = ps
        filePageCount = UInt32(dbFile.size / Int64(ps))
        pageCount = commits.last?.pageCount ?? filePageCount
    }

    public func read(page pgno: UInt32, into buffer: UnsafeMutableRawBufferPointer) throws {
        try read(page: pgno, atCommit: commits.count, into: buffer)
    }

    /// Reads page `pgno` as of the state after `commit` commits (0: the database file alone).
    public func read(page pgno: UInt32, atCommit commit: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        let out = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<pageSize])
        if let wal = walFile, let ref = frameFor(pgno, atCommit: commit) {
            // A short read means the WAL was truncated or reset after it was read: start over.
            guard try wal.read(into: out, at: ref.offset) == pageSize else { throw Changed() }
            return
        }
        let n = try dbFile.read(into: out, at: Int64(pgno - 1) * Int64(pageSize))
        if n < pageSize { (out.baseAddress! + n).initializeMemory(as: UInt8.self, repeating: 0, count: pageSize - n) }
    }

    func frameFor(_ pgno: UInt32, atCommit commit: Int) -> FrameRef? {
        guard commit > 0, let last = latest[pgno] else { return nil }
        let limit = commits[commit - 1].frame
        if last <= limit { return frames[last] }
        // An older version: scan back (rare: only for lag computations).
        var i = limit
        while i >= 0 {
            if frames[i].pgno == pgno { return frames[i] }
            i -= 1
        }
        return nil
    }

    /// Database size in pages after `commit` commits.
    public func pageCount(atCommit commit: Int) -> UInt32 {
        commit == 0 ? filePageCount : commits[commit - 1].pageCount
    }

    /// Frames (page numbers) of commit number `n` (1-based).
    func pages(ofCommit n: Int) -> [UInt32] {
        let start = n == 1 ? 0 : commits[n - 2].frame + 1
        return frames[start...commits[n - 1].frame].map(\.pgno)
    }

    /// True when nothing the read relied on changed: same WAL (salts), and no newer commit
    /// touches a page that would be read from the database file.
    func isStillConsistent() throws -> Bool {
        let walPath = path + "-wal"
        guard let header = walHeader else {
            // No WAL was read: consistent if there still is none with commits.
            guard FS.exists(walPath), let f = try? ReadOnlyFile(walPath), f.size > Int64(WALHeader.size) else { return true }
            let hb = try f.read(count: WALHeader.size, at: 0)
            guard (try? hb.withUnsafeBytes({ try WALHeader.parse($0) })) != nil else { return true }
            return false  // a WAL appeared meanwhile: read again with it
        }
        guard let f = try? ReadOnlyFile(walPath) else { return false }
        let hb = try f.read(count: WALHeader.size, at: 0)
        guard let now = try? hb.withUnsafeBytes({ try WALHeader.parse($0) }), now == header else { return false }
        let end = commits.last?.walEnd ?? Int64(WALHeader.size)
        guard f.size > end else { return true }
        // Newer frames: do any of them touch pages we would read from the database file?
        let frameSize = Int64(24 + pageSize)
        var offset = end
        var s = (commits.last.map { ($0.checksum1, $0.checksum2) } ?? (header.checksum1, header.checksum2))
        var page = [UInt8](repeating: 0, count: Int(frameSize))
        while offset + frameSize <= f.size {
            let n = try page.withUnsafeMutableBytes { try f.read(into: $0, at: offset) }
            guard n == Int(frameSize) else { break }
            let ok: Bool = page.withUnsafeBytes { b in
                guard b.u32BE(at: 8) == header.salt1, b.u32BE(at: 12) == header.salt2 else { return false }
                var s0 = s.0, s1 = s.1
                WALChecksum.update(UnsafeRawBufferPointer(rebasing: b[0..<8]), bigEndian: header.bigEndianChecksums, &s0, &s1)
                WALChecksum.update(UnsafeRawBufferPointer(rebasing: b[24...]), bigEndian: header.bigEndianChecksums, &s0, &s1)
                guard s0 == b.u32BE(at: 16), s1 == b.u32BE(at: 20) else { return false }
                s = (s0, s1)
                return true
            }
            guard ok else { break }
            let pgno = page.u32BE(at: 0), commit = page.u32BE(at: 4)
            if latest[pgno] == nil && pgno <= pageCount { return false }
            if commit != 0 && commit < pageCount { return false }  // a checkpoint may truncate the file
            offset += frameSize
        }
        return true
    }
}
