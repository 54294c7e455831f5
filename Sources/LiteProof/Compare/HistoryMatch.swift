import Foundation

/// Finds the point of a replica's history whose database equals a captured live state (a live
/// database read earlier, or a digest): the replica is then *ahead* of it.
///
/// The replica's history is read forward with the ``Replayer`` (0.3: every commit of the
/// restore's generation from its first snapshot; 0.5: every TXID of the finest LTX chain), page
/// hashes only: the snapshot is hashed once, then each commit or LTX file updates the hashes of
/// the pages it writes and a running count of pages that differ from the live side's. Memory: one
/// 8-byte hash per page on each side, and the hashes of one open transaction.
struct HistoryMatch {
    let replica: Replica
    var progress: ProgressHandler?

    /// The newest point at or before `latest` (the restore's position, which is not itself a
    /// match) whose pages equal `live`'s, and how many commits (0.3) or TXIDs (0.5) follow it up
    /// to `latest`; nil when no point matches.
    func find(live: DatabaseDigest, latest: Position) throws -> CompareReport.Ahead? {
        let replay = try Replayer(replica: replica, generation: latest.generation)
        guard replay.pageSize == live.pageSize else { return nil }
        // The last point at or before the restore's position (0.3: a later snapshot's own
        // position is the end of the WAL index before it).
        guard let last = replay.points.lastIndex(where: { Self.precedesOrEquals($0.position, latest) }) else { return nil }
        let start = try DatabaseDigest.compute(try FilePageSource(path: replay.workingPath), name: "the replica's first snapshot", progress: progress)
        var state = PageState(live: live.pageHashes, pageSize: live.pageSize, start: start.pageHashes)
        var match: Int?
        if state.equalsLive(pageCount: replay.points[0].pageCount) { match = 0 }
        let meter = ProgressMeter(phase: "searching the replica's history", total: Int64(last), handler: progress)
        try replay.scan(
            through: last, page: { state.set($0, $1) },
            reached: { i in
                state.truncate(to: replay.points[i].pageCount)
                if state.equalsLive(pageCount: replay.points[i].pageCount) { match = i }
                meter.add(1)
            })
        // A match at the last point is the latest state itself: `identical`, decided before.
        guard let k = match, k < last else { return nil }
        let x = replay.points[k]
        let after: Int
        switch (x.position, latest) {
        case (.ltx(let a), .ltx(let b)): after = Int(clamping: b - a)
        default: after = last - k
        }
        guard after > 0 else { return nil }
        let unit = x.position.format == .ltx ? "TXID" : "commit"
        return CompareReport.Ahead(
            position: x.position, commitsAhead: after, time: x.time.map(formatTime),
            description:
                "the live state is the replica's state at \(x.position)\(x.time.map { " (\(formatTime($0)))" } ?? ""); the replica holds \(after) later \(unit)\(after == 1 ? "" : "s") up to \(latest)"
        )
    }

    /// Whether `a` comes at or before `b` in one replica's history.
    static func precedesOrEquals(_ a: Position, _ b: Position) -> Bool {
        switch (a, b) {
        case (.v03(let ga, let ia, let oa), .v03(let gb, let ib, let ob)): return ga == gb && (ia, oa) <= (ib, ob)
        case (.ltx(let ta), .ltx(let tb)): return ta <= tb
        default: return false
        }
    }
}

/// The replica's page hashes at the point being considered, and how many of the live side's
/// pages they differ from, kept up to date page by page.
struct PageState {
    let live: [UInt64]
    let pageSize: Int
    /// Hash per page of the replica's file; 0 for a page of zeros (beyond the end, or cut off and
    /// grown again), whose real hash is computed only when compared.
    var hashes: [UInt64]
    /// Pages of the file (the working file's size).
    var filePages: Int
    /// Pages `p` ≤ live.count whose replica version differs from the live one.
    var differing = 0
    private let zeroPage: [UInt8]

    init(live: [UInt64], pageSize: Int, start: [UInt64]) {
        self.live = live
        self.pageSize = pageSize
        hashes = start
        filePages = start.count
        zeroPage = [UInt8](repeating: 0, count: pageSize)
        if hashes.count < live.count { hashes += [UInt64](repeating: 0, count: live.count - hashes.count) }
        for i in 0..<live.count where !same(i) { differing += 1 }
    }

    func zeroHash(_ pgno: UInt32) -> UInt64 {
        zeroPage.withUnsafeBytes { DatabaseDigest.pageHash(pgno, $0) }
    }

    /// Whether page `i + 1` is the same on both sides (i < live.count).
    func same(_ i: Int) -> Bool {
        hashes[i] != 0 ? hashes[i] == live[i] : zeroHash(UInt32(i + 1)) == live[i]
    }

    mutating func set(_ pgno: UInt32, _ hash: UInt64) {
        let i = Int(pgno) - 1
        if i >= hashes.count { hashes += [UInt64](repeating: 0, count: i + 1 - hashes.count) }
        if i < live.count {
            let was = same(i)
            hashes[i] = hash
            let now = same(i)
            if was != now { differing += now ? -1 : 1 }
        } else {
            hashes[i] = hash
        }
        filePages = max(filePages, i + 1)
    }

    /// The database size after a commit: pages past it are cut off (and read back as zeros if
    /// the file grows again); a larger size grows the file with zeros.
    mutating func truncate(to pages: UInt32) {
        let n = Int(pages)
        if n < filePages {
            for i in n..<filePages where hashes[i] != 0 {
                if i < live.count {
                    let was = same(i)
                    hashes[i] = 0
                    let now = same(i)
                    if was != now { differing += now ? -1 : 1 }
                } else {
                    hashes[i] = 0
                }
            }
        }
        if n > hashes.count { hashes += [UInt64](repeating: 0, count: n - hashes.count) }
        filePages = n
    }

    func equalsLive(pageCount: UInt32) -> Bool { Int(pageCount) == live.count && differing == 0 }
}
