/// The live database's states as page hashes: the latest state, and how each WAL commit changed
/// it, so that "the database file alone, or with a prefix of the WAL's commits" can be matched
/// against a replica without reading the live files again. Carried inside a live digest.
public struct LiveHistory: Codable, Sendable {
    public struct CommitChange: Codable, Sendable {
        /// Database size in pages after the commit.
        public var pageCount: UInt32
        /// WAL offset just after the commit frame.
        public var walOffset: Int64
        /// Pages the commit wrote (last version within the commit) and their hashes.
        public var pages: [UInt32]
        public var hashes: [UInt64]
    }

    /// Pages of the database file alone.
    public var filePageCount: UInt32
    /// Hash of the database-file version of every page some commit writes (0: beyond the file).
    public var baseHashes: [UInt32: UInt64]
    public var commits: [CommitChange]

    /// Builds the history from a consistent live read.
    public static func make(_ live: LiveDatabase) throws -> LiveHistory {
        var base: [UInt32: UInt64] = [:]
        var commits: [LiveHistory.CommitChange] = []
        let page = UnsafeMutableRawBufferPointer.allocate(byteCount: live.pageSize, alignment: 64)
        defer { page.deallocate() }
        for (i, c) in live.commits.enumerated() {
            var seen: [UInt32: UInt64] = [:]
            var order: [UInt32] = []
            for pgno in live.pages(ofCommit: i + 1) where seen[pgno] == nil {
                try live.read(page: pgno, atCommit: i + 1, into: page)
                seen[pgno] = DatabaseDigest.pageHash(pgno, UnsafeRawBufferPointer(page))
                order.append(pgno)
                if base[pgno] == nil {
                    if pgno <= live.filePageCount {
                        try live.read(page: pgno, atCommit: 0, into: page)
                        base[pgno] = DatabaseDigest.pageHash(pgno, UnsafeRawBufferPointer(page))
                    } else {
                        base[pgno] = 0
                    }
                }
            }
            commits.append(CommitChange(pageCount: c.pageCount, walOffset: c.walEnd, pages: order, hashes: order.map { seen[$0]! }))
        }
        // Pages the database file holds beyond the latest size (a shrinking commit): their file
        // versions matter for the earlier, larger states.
        if live.filePageCount > live.pageCount {
            for pgno in (live.pageCount + 1)...live.filePageCount where base[pgno] == nil {
                try live.read(page: pgno, atCommit: 0, into: page)
                base[pgno] = DatabaseDigest.pageHash(pgno, UnsafeRawBufferPointer(page))
            }
        }
        return LiveHistory(filePageCount: live.filePageCount, baseHashes: base, commits: commits)
    }

    /// Checks what a digest file says before anything indexes by it: page numbers start at 1, and
    /// each commit lists as many hashes as pages. `where` names the history in messages.
    func validate(_ where: String) throws(FormatError) {
        func bad(_ message: String) -> FormatError { FormatError(.digestFormat, offset: 0, "\(`where`): \(message)") }
        if baseHashes[0] != nil { throw bad("the WAL history has a base hash for page 0; pages are numbered from 1") }
        for (i, c) in commits.enumerated() {
            guard c.pages.count == c.hashes.count else {
                throw bad("commit \(i + 1) of the WAL history lists \(c.pages.count) pages but \(c.hashes.count) hashes")
            }
            if c.pages.contains(0) { throw bad("commit \(i + 1) of the WAL history names page 0; pages are numbered from 1") }
        }
    }

    /// Whether the database file already holds a version of a page that one of the WAL's commits
    /// wrote: what a checkpoint that copied WAL frames into the file (without restarting the WAL)
    /// leaves behind. The states before it can then no longer be rebuilt from the live files.
    public var showsCheckpoint: Bool {
        for c in commits {
            for (p, h) in zip(c.pages, c.hashes) where baseHashes[p] == h { return true }
        }
        return false
    }

    /// The newest state (number of commits applied, 0 = database file alone) whose pages equal
    /// `replica`'s, given the latest state's hashes.
    public func matchingState(latest: [UInt64], replica: [UInt64]) -> Int? {
        let n = replica.count
        // Hash of each page 1...n at the state being considered (starts at the latest).
        var current = [UInt64](repeating: 0, count: n)
        for i in 0..<n { current[i] = i < latest.count ? latest[i] : 0 }
        // Pages beyond the latest size but within the replica's: their version at the latest
        // state, as the history knows it.
        if latest.count < n {
            var lastVersion: [UInt32: UInt64] = baseHashes
            for c in commits { for (p, h) in zip(c.pages, c.hashes) { lastVersion[p] = h } }
            for i in latest.count..<n { current[i] = lastVersion[UInt32(i + 1)] ?? 0 }
        }
        var diff = 0
        for i in 0..<n where current[i] != replica[i] { diff += 1 }
        // Versions by page, to step back one commit at a time.
        var versions: [UInt32: [(commit: Int, hash: UInt64)]] = [:]
        for (k, c) in commits.enumerated() { for (p, h) in zip(c.pages, c.hashes) { versions[p, default: []].append((k + 1, h)) } }
        var k = commits.count
        while true {
            let size = k == 0 ? filePageCount : commits[k - 1].pageCount
            if Int(size) == n && diff == 0 { return k }
            if k == 0 { return nil }
            for p in commits[k - 1].pages where p >= 1 && Int(p) <= n {
                let previous = versions[p]?.last { $0.commit < k }?.hash ?? baseHashes[p] ?? 0
                let i = Int(p) - 1
                let was = current[i] != replica[i]
                current[i] = previous
                let now = current[i] != replica[i]
                if was != now { diff += now ? 1 : -1 }
            }
            k -= 1
        }
    }
}
