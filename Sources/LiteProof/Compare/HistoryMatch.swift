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
    ///
    /// 0.3: when the restore's generation does not hold the live state, an earlier generation
    /// may — Litestream starts a new generation from a snapshot of whatever the database holds
    /// then, so states between two generations are in neither. Such a match counts only if the
    /// restore's generation provably came after it: its WAL is the same WAL, or a restart of it
    /// (see ``MovedOn/follows(_:_:)``); a database rolled back to an older copy starts a WAL
    /// with fresh random salts, and stays `differs`.
    func find(live: DatabaseDigest, latest: Position) throws -> CompareReport.Ahead? {
        let (replay, found) = try replayAndSearch(generation: latest.generation, live: live, through: latest)
        // The last point at or before the restore's position (0.3: a later snapshot's own
        // position is the end of the WAL index before it).
        if let last = replay.points.lastIndex(where: { Self.precedesOrEquals($0.position, latest) }), let k = found,
            k < last  // a match at the last point is the latest state itself: `identical`, decided before
        {
            let x = replay.points[k]
            let after: Int
            switch (x.position, latest) {
            case (.ltx(let a), .ltx(let b)): after = Int(clamping: b - a)
            default: after = last - k
            }
            let unit = x.position.format.pointUnit
            // Commits in a gap of the history are not points: the count is then a lower bound.
            let gaps = replay.gaps.filter { g in
                g.resumedAt.map { r in replay.points[k...last].contains { $0.position == r && $0.afterGap != nil } } ?? false
            }
            let gapNote = gaps.isEmpty ? "" : " (at least: \(gaps.map(\.description).joined(separator: "; ")))"
            return CompareReport.Ahead(
                position: x.position, commitsAhead: after, time: x.time.map(formatTime), laterGeneration: nil,
                description:
                    "the live state is the replica's state at \(x.position)\(x.time.map { " (\(formatTime($0)))" } ?? ""); the replica holds \(after) later \(unit)\(after == 1 ? "" : "s") up to \(latest)\(gapNote)"
            )
        }
        guard case .v03(let latestID, _, _) = latest, let gens = replica.v03?.generations,
            let newest = gens.first(where: { $0.id == latestID }), let newestWAL = Self.firstWALHeader(replica, newest)
        else { return nil }
        let others = gens.filter { $0.id != latestID }.sorted { ($0.timeBounds?.1 ?? 0) > ($1.timeBounds?.1 ?? 0) }
        for g in others {
            guard let wal = Self.lastWALHeader(replica, g), MovedOn.follows(newestWAL, wal),
                let (r, found) = try? replayAndSearch(generation: g.id, live: live, through: nil), let k = found
            else { continue }
            let x = r.points[k]
            let after = r.points.count - 1 - k
            return CompareReport.Ahead(
                position: x.position, commitsAhead: after, time: x.time.map(formatTime), laterGeneration: latestID,
                description:
                    "the live state is the replica's state at \(x.position)\(x.time.map { " (\(formatTime($0)))" } ?? "") in generation \(g.id); the replica holds \(after) later commit\(after == 1 ? "" : "s") of that generation, then generation \(latestID) (the one a restore uses), whose WAL continues that generation's, up to \(latest)"
            )
        }
        return nil
    }

    /// Replays `generation` and finds its newest point at or before `limit` (nil: any) whose
    /// pages equal `live`'s. 0.3 reads each WAL index once: the replay's preparation hands its
    /// frames over as it lists the points.
    func replayAndSearch(generation: String?, live: DatabaseDigest, through limit: Position?) throws -> (Replayer, Int?) {
        switch replica.format {
        case .v03: break
        case .ltx:
            let replay = try Replayer(replica: replica, generation: generation)
            guard replay.pageSize == live.pageSize,
                let last = limit.map({ l in replay.points.lastIndex { Self.precedesOrEquals($0.position, l) } }) ?? replay.points.indices.last
            else { return (replay, nil) }
            return (replay, try search(replay, live: live, through: last))
        }
        var state: PageState?
        var match: Int?
        var meter: ProgressMeter?
        var lastIndex: UInt32?
        let progress = self.progress
        let observer = Replayer.Observer(
            started: { replay in
                guard replay.pageSize == live.pageSize else { return }
                let start = try DatabaseDigest.compute(
                    try FilePageSource(path: replay.workingPath), name: "the replica's first snapshot", progress: progress)
                state = PageState(live: live.pageHashes, pageSize: live.pageSize, start: start.pageHashes)
                if state!.equalsLive(pageCount: replay.points[0].pageCount) { match = 0 }
                meter = ProgressMeter(phase: "searching the replica's history", total: Int64(replay.indexesToRead), handler: progress)
            },
            page: { p, h in state?.set(p, h) },
            reached: { i, position, pages in
                guard state != nil else { return }
                if case .v03(_, let index, _) = position, index != lastIndex {
                    if lastIndex != nil { meter?.add(1) }
                    lastIndex = index
                }
                state!.truncate(to: pages)
                if state!.equalsLive(pageCount: pages), limit.map({ Self.precedesOrEquals(position, $0) }) ?? true { match = i }
            })
        let replay = try Replayer(replica: replica, generation: generation, observer: observer)
        meter?.add(1)
        return (replay, match)
    }

    /// The newest point through `last` whose pages equal `live`'s.
    func search(_ replay: Replayer, live: DatabaseDigest, through last: Int) throws -> Int? {
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
        return match
    }

    /// The WAL header of a generation's first / last WAL index (nil when unreadable).
    static func firstWALHeader(_ replica: Replica, _ g: V03Generation) -> WALHeader? {
        g.indexes.lazy.compactMap { i in g.segments(of: i).first.flatMap { try? V03Readers.readWALHeader(replica, $0) } }.first
    }

    static func lastWALHeader(_ replica: Replica, _ g: V03Generation) -> WALHeader? {
        g.indexes.reversed().lazy.compactMap { i in g.segments(of: i).first.flatMap { try? V03Readers.readWALHeader(replica, $0) } }.first
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
