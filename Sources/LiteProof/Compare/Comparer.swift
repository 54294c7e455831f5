import Foundation

/// The verdict of `compare`: is the replica the live database, an earlier state of it, or neither?
public struct CompareReport: Codable, Sendable {
    public enum Verdict: String, Codable, Sendable {
        /// The live database equals the replica's restored position.
        case identical
        /// The replica equals an earlier state of the live database (the file alone, or with a
        /// prefix of its WAL's commits).
        case lagging
        /// No state of the live database matches.
        case differs
    }

    public struct Side: Codable, Sendable {
        public var description: String
        public var pageSize: Int
        public var pageCount: UInt32
        public var sha256: String
        public var checksum: String
    }

    public struct Lag: Codable, Sendable {
        /// Commits the live database is ahead of the replica.
        public var commitsBehind: Int
        /// Commits of the live WAL the replica includes (0: only the database file).
        public var matchedCommits: Int
        public var liveCommits: Int
        /// WAL offset where the replica's position sits (after its last commit), nil for the file alone.
        public var walOffset: Int64?
        public var description: String
    }

    public struct PageDifference: Codable, Sendable {
        public var page: UInt32
        public var replicaOwner: String
        public var liveOwner: String
    }

    public struct TableDifference: Codable, Sendable {
        public var type: String
        public var name: String
        public var replicaRows: Int?
        public var liveRows: Int?
        /// Rowids present only in the replica / only live (first `listLimit`).
        public var onlyInReplica: [Int64]
        public var onlyInLive: [Int64]
        public var differingPages: Int
    }

    public var verdict: Verdict
    public var replica: Side
    public var live: Side
    public var position: String
    public var lag: Lag?
    public var differingPageCount: Int
    public var differingPages: [PageDifference]
    public var tables: [TableDifference]
    public var canaries: CanaryReport?
    public var notes: [String]
    public var seconds: Double
}

/// Compares a replica's restored state with a live database (read consistently, never written)
/// or with a digest of one.
public struct Comparer {
    public let replica: Replica
    public var target: RestoreTarget = .latest
    public var listLimit = 50
    public var progress: ProgressHandler?

    public init(replica: Replica, target: RestoreTarget = .latest, progress: ProgressHandler? = nil) {
        self.replica = replica
        self.target = target
        self.progress = progress
    }

    /// Restores the replica into a scratch folder (removed afterwards) and runs `body` on it.
    func withRestored<T>(_ body: (String, RestorePlan) throws -> T) throws -> T {
        let plan = try RestorePlanner(replica: replica).plan(target)
        let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-compare")
        defer { ScratchSpace.release(scratch) }
        let (path, exact) = try Restorer(replica: replica, progress: progress).restoreToScratchExact(plan, in: scratch)
        var restored = plan
        restored.position = exact
        return try body(path, restored)
    }

    /// Against the live database at `livePath`.
    public func compare(live livePath: String) throws -> CompareReport {
        try withRestored { restoredPath, plan in try compare(live: livePath, restored: restoredPath, plan: plan) }
    }

    /// Against the live database, with the replica already restored (by `plan`) at `restoredPath`.
    public func compare(live livePath: String, restored restoredPath: String, plan: RestorePlan) throws -> CompareReport {
        let started = Date()
        let restored = try FilePageSource(path: restoredPath)
        let replicaDigest = try DatabaseDigest.compute(restored, name: "replica", progress: progress)
        // Everything read from the live database happens inside one consistent read: pages
        // read lazily (digest, history, owners, canaries) are checked after the fact too.
        var report = try LiveDatabase.read(livePath) { live in
            let liveDigest = try Self.liveDigest(live, name: livePath, progress: progress)
            var report = try Self.judge(
                replicaDigest: replicaDigest, liveDigest: liveDigest, position: plan.position,
                replicaSource: restored, liveSource: live, listLimit: listLimit)
            report.canaries = try? CanaryReport.make(replica: restored, live: live)
            if live.retries > 0 {
                report.notes.append("the live database changed during the read; read again \(live.retries) time(s) for a consistent state")
            }
            return report
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Against a digest written by `liteproof digest` where the live database is.
    public func compare(digest: DatabaseDigest) throws -> CompareReport {
        let started = Date()
        return try withRestored { restoredPath, plan in
            let restored = try FilePageSource(path: restoredPath)
            let replicaDigest = try DatabaseDigest.compute(restored, name: "replica", progress: progress)
            var report = try Self.judge(
                replicaDigest: replicaDigest, liveDigest: digest, position: plan.position,
                replicaSource: restored, liveSource: nil, listLimit: listLimit)
            report.canaries = try? CanaryReport.make(replica: restored, live: nil)
            report.notes.append("compared with the digest of \(digest.source) taken at \(digest.createdAt)")
            report.seconds = Date().timeIntervalSince(started)
            return report
        }
    }

    /// A digest of the live database's consistent state, with its WAL history.
    public static func liveDigest(_ live: LiveDatabase, name: String, progress: ProgressHandler? = nil) throws -> DatabaseDigest {
        var position: DatabaseDigest.WALPosition?
        if let h = live.walHeader {
            position = DatabaseDigest.WALPosition(
                salt1: h.salt1, salt2: h.salt2, commits: live.commits.count,
                offset: live.commits.last?.walEnd ?? Int64(WALHeader.size),
                history: try LiveHistory.make(live))
        }
        return try DatabaseDigest.compute(live, name: name, wal: position, progress: progress)
    }

    static func side(_ d: DatabaseDigest, _ description: String) -> CompareReport.Side {
        .init(description: description, pageSize: d.pageSize, pageCount: d.pageCount, sha256: d.sha256, checksum: d.checksum)
    }

    static func judge(
        replicaDigest r: DatabaseDigest, liveDigest l: DatabaseDigest, position: String,
        replicaSource: PageSource, liveSource: PageSource?, listLimit: Int
    ) throws -> CompareReport {
        var report = CompareReport(
            verdict: .differs, replica: side(r, "replica at \(position)"), live: side(l, l.source), position: position,
            lag: nil, differingPageCount: 0, differingPages: [], tables: [], canaries: nil, notes: [], seconds: 0)
        if r.pageSize != l.pageSize {
            report.notes.append("page sizes differ: replica \(r.pageSize), live \(l.pageSize)")
            report.differingPageCount = Int(max(r.pageCount, l.pageCount))
            return report
        }
        if r.pageCount == l.pageCount && r.pageHashes == l.pageHashes {
            report.verdict = .identical
            return report
        }
        if let history = l.wal?.history, let k = history.matchingState(latest: l.pageHashes, replica: r.pageHashes) {
            report.verdict = .lagging
            let total = history.commits.count
            let offset = k == 0 ? nil : history.commits[k - 1].walOffset
            report.lag = .init(
                commitsBehind: total - k, matchedCommits: k, liveCommits: total, walOffset: offset,
                description: k == 0
                    ? "the replica equals the live database file without any of its WAL's \(total) commits"
                    : "the replica equals the live database after \(k) of its WAL's \(total) commits (WAL offset \(offset!))")
            return report
        }
        // Differs: which pages, whose, and which rows.
        let n = Int(max(r.pageCount, l.pageCount))
        var differing: [UInt32] = []
        for i in 0..<n {
            let a = i < r.pageHashes.count ? r.pageHashes[i] : 0
            let b = i < l.pageHashes.count ? l.pageHashes[i] : 0
            if a != b { differing.append(UInt32(i + 1)) }
        }
        report.differingPageCount = differing.count
        let replicaOwners = (try? BTreeReader(replicaSource).owners()) ?? []
        let liveOwners = liveSource.flatMap { try? BTreeReader($0).owners() } ?? []
        func owner(_ owners: [BTreeReader.Owner], _ p: UInt32, size: UInt32) -> String {
            if p > size { return "beyond the end of the database" }
            return Int(p) < owners.count ? owners[Int(p)].description : "unknown"
        }
        report.differingPages = differing.prefix(listLimit).map {
            .init(
                page: $0, replicaOwner: owner(replicaOwners, $0, size: r.pageCount),
                liveOwner: liveSource == nil ? "unknown (digest only)" : owner(liveOwners, $0, size: l.pageCount))
        }
        if differing.count > listLimit { report.notes.append("\(differing.count - listLimit) more differing pages not listed") }
        report.tables = tableDifferences(
            replicaSource, liveSource, differing: differing, replicaOwners: replicaOwners, liveOwners: liveOwners, listLimit: listLimit)
        if l.wal?.history == nil {
            report.notes.append("the live digest carries no WAL history, so an earlier state could not be matched")
        }
        return report
    }

    /// Per table and index: entries on each side and rowids on one side only (like `sqldiff --summary`).
    static func tableDifferences(
        _ replica: PageSource, _ live: PageSource?, differing: [UInt32],
        replicaOwners: [BTreeReader.Owner], liveOwners: [BTreeReader.Owner], listLimit: Int
    ) -> [CompareReport.TableDifference] {
        let rr = try? BTreeReader(replica)
        let lr = live.flatMap { try? BTreeReader($0) }
        let rs = (try? rr?.schema()) ?? []
        let ls = (try? lr?.schema()) ?? []
        var byName: [String: (BTreeReader.SchemaEntry?, BTreeReader.SchemaEntry?)] = [:]
        for e in rs where e.rootPage > 0 { byName[e.name, default: (nil, nil)].0 = e }
        for e in ls where e.rootPage > 0 { byName[e.name, default: (nil, nil)].1 = e }
        var pagesByName: [String: Int] = [:]
        for p in differing {
            var names = Set<String>()
            for owners in [replicaOwners, liveOwners] where Int(p) < owners.count {
                switch owners[Int(p)] {
                case .object(_, let n), .overflow(_, let n): names.insert(n)
                default: break
                }
            }
            for n in names { pagesByName[n, default: 0] += 1 }
        }
        var out: [CompareReport.TableDifference] = []
        for (name, (re, le)) in byName.sorted(by: { $0.key < $1.key }) {
            let rk = re.flatMap { try? rr?.keys(of: $0) }
            let lk = le.flatMap { try? lr?.keys(of: $0) }
            let changed = rk?.count != lk?.count || rk?.rowids != lk?.rowids || (pagesByName[name] ?? 0) > 0
            guard changed else { continue }
            var onlyR: [Int64] = [], onlyL: [Int64] = []
            if let a = rk?.rowids, let b = lk?.rowids {
                onlyR = sortedDifference(a, b, limit: listLimit)
                onlyL = sortedDifference(b, a, limit: listLimit)
            }
            out.append(
                .init(
                    type: (re ?? le)!.type, name: name, replicaRows: rk?.count, liveRows: lk?.count,
                    onlyInReplica: onlyR, onlyInLive: onlyL, differingPages: pagesByName[name] ?? 0))
        }
        return out
    }

    static func sortedDifference(_ a: [Int64], _ b: [Int64], limit: Int) -> [Int64] {
        var out: [Int64] = []
        var j = 0
        for x in a {
            while j < b.count && b[j] < x { j += 1 }
            if j >= b.count || b[j] != x {
                out.append(x)
                if out.count >= limit { break }
            }
        }
        return out
    }
}
