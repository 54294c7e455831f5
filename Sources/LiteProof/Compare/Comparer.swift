import Foundation

/// Compares a replica's restored state with a live database (read consistently, never written)
/// or with a digest of one.
public struct Comparer {
    public let replica: Replica
    public var target: RestoreTarget = .latest()
    public var listLimit = 50
    public var progress: ProgressHandler?

    public init(replica: Replica, target: RestoreTarget = .latest(), progress: ProgressHandler? = nil) {
        self.replica = replica
        self.target = target
        self.progress = progress
    }

    /// Restores the replica into a scratch folder (removed afterwards) and runs `body` on it.
    func withRestored<T>(_ body: (String, RestorePlan) throws -> T) throws -> T {
        let plan = try RestorePlanner(replica: replica).plan(target)
        let scratch = try ScratchSpace.makeFolder(prefix: "liteproof-compare")
        defer { ScratchSpace.release(scratch) }
        let path = try Restorer(replica: replica, progress: progress).restoreToScratch(plan, in: scratch)
        let result = try body(path, plan)
        try replica.checkStorage()
        return result
    }

    /// Against the live database at `livePath`.
    public func compare(live livePath: String) throws -> CompareReport {
        try withRestored { restoredPath, plan in try compare(live: livePath, restored: restoredPath, plan: plan) }
    }

    /// Against the live database at `livePath`, also returning the digest of the state read.
    func compareCapturing(live livePath: String) throws -> (report: CompareReport, live: DatabaseDigest) {
        try withRestored { restoredPath, plan in try compareCapturing(live: livePath, restored: restoredPath, plan: plan, tables: true) }
    }

    /// Against the live database, with the replica already restored (by `plan`) at `restoredPath`.
    public func compare(live livePath: String, restored restoredPath: String, plan: RestorePlan) throws -> CompareReport {
        try compareCapturing(live: livePath, restored: restoredPath, plan: plan, tables: false).report
    }

    /// As ``compare(live:restored:plan:)``, also returning the digest of the live state read
    /// (with table counts when `tables`), for comparing later states of the replica with it.
    func compareCapturing(live livePath: String, restored restoredPath: String, plan: RestorePlan, tables: Bool) throws -> (
        report: CompareReport, live: DatabaseDigest
    ) {
        let started = Date()
        let restored = try FilePageSource(path: restoredPath)
        let replicaDigest = try DatabaseDigest.compute(restored, name: "replica", progress: progress)
        // Everything read from the live database happens inside one consistent read: pages
        // read lazily (digest, history, owners, canaries) are checked after the fact too.
        let read = try LiveDatabase.read(livePath) { live -> (CompareReport, DatabaseDigest, Int) in
            let liveDigest = try Self.liveDigest(live, name: livePath, tables: tables, progress: progress)
            var report = try Self.judge(
                replicaDigest: replicaDigest, liveDigest: liveDigest, position: plan.position,
                replicaSource: restored, liveSource: live, listLimit: listLimit)
            report.canaries = try? CanaryReport.make(replica: restored, live: live)
            return (report, liveDigest, live.retries)
        }
        var report = read.0
        // The replica's history needs only the live digest: searched after the live read, so
        // that a long search does not make the application's writes start the read over.
        refine(&report, live: read.1, plan: plan)
        if read.2 > 0 {
            report.notes.append("the live database changed during the read; read again \(read.2) time(s) for a consistent state")
        }
        report.seconds = Date().timeIntervalSince(started)
        return (report, read.1)
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
            refine(&report, live: digest, plan: plan)
            report.canaries = try? CanaryReport.make(replica: restored, live: nil)
            report.notes.append("compared with the digest of \(digest.source) taken at \(digest.createdAt)")
            report.seconds = Date().timeIntervalSince(started)
            return report
        }
    }

    /// After `differs`: is the live state a point of the replica's history (`ahead`, see
    /// ``HistoryMatch``), or does the live side's WAL show it moved on past the replica's last
    /// change (`lagging-unproven`, see ``MovedOn``)? Either replaces the differences found.
    func refine(_ report: inout CompareReport, live l: DatabaseDigest, plan: RestorePlan) {
        guard report.verdict == .differs, report.replica.pageSize == l.pageSize else { return }
        func become(_ verdict: CompareReport.Verdict) {
            report.verdict = verdict
            report.differingPages = []
            report.tables = []
            report.notes = []
        }
        var historyNote: String?
        do {
            if let a = try HistoryMatch(replica: replica, progress: progress).find(live: l, latest: plan.position) {
                become(.ahead)
                report.ahead = a
                return
            }
        } catch {
            historyNote = "cannot read the replica's history to look for the live state in it: \((error as? LiteProofError)?.message ?? "\(error)")"
        }
        if let mark = MovedOn.replicaMark(replica, plan: plan), let wal = l.wal,
            let evidence = MovedOn.evidence(replica: mark, live: wal.mark, checkpointed: wal.history?.showsCheckpoint ?? false)
        {
            become(.laggingUnproven)
            report.unproven = .init(
                evidence: evidence,
                advice:
                    "the live database moved on past what its WAL remembers, so the replica's state cannot be matched: rerun with --wait SECONDS to let the replica catch up, or compare with a digest taken earlier (`liteproof digest`)"
            )
        }
        if let historyNote { report.notes.append(historyNote) }
    }

    /// A digest of the live database's consistent state, with its WAL history and, with
    /// `tables`, the entries of every table and index.
    public static func liveDigest(_ live: LiveDatabase, name: String, tables: Bool = false, progress: ProgressHandler? = nil) throws
        -> DatabaseDigest
    {
        var position: DatabaseDigest.WALPosition?
        if let h = live.walHeader {
            position = DatabaseDigest.WALPosition(
                salt1: h.salt1, salt2: h.salt2, checkpointSequence: h.checkpointSequence, commits: live.commits.count,
                offset: live.commits.last?.walEnd ?? Int64(WALHeader.size),
                history: try LiveHistory.make(live))
        }
        var digest = try DatabaseDigest.compute(live, name: name, wal: position, progress: progress)
        if tables { digest.tables = DatabaseDigest.tableSummaries(live) }
        return digest
    }

    static func side(_ d: DatabaseDigest, _ description: String) -> CompareReport.Side {
        .init(description: description, pageSize: d.pageSize, pageCount: d.pageCount, sha256: d.sha256, checksum: d.checksum)
    }

    static func judge(
        replicaDigest r: DatabaseDigest, liveDigest l: DatabaseDigest, position: Position,
        replicaSource: PageSource, liveSource: PageSource?, listLimit: Int
    ) throws -> CompareReport {
        var report = CompareReport(
            verdict: .differs, replica: side(r, "replica at \(position)"), live: side(l, l.source), position: position,
            lag: nil, ahead: nil, unproven: nil, differingPageCount: 0, differingPages: [], tables: [], canaries: nil, notes: [], seconds: 0)
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
        let n = Int(max(r.pageCount, l.pageCount))
        var differing: [UInt32] = []
        for i in 0..<n {
            let a = i < r.pageHashes.count ? r.pageHashes[i] : 0
            let b = i < l.pageHashes.count ? l.pageHashes[i] : 0
            if a != b { differing.append(UInt32(i + 1)) }
        }
        report.differingPageCount = differing.count
        // Differs: which pages, whose, and which rows.
        // Damage that stops a b-tree walk is reported as a note: the verdict stands without owners.
        let replicaOwners = attempt("the replica's page owners", &report.notes) { try BTreeReader(replicaSource).owners() } ?? []
        let liveOwners = liveSource.flatMap { l in attempt("the live database's page owners", &report.notes) { try BTreeReader(l).owners() } } ?? []
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
            replicaSource, liveSource, liveTables: l.tables, differing: differing, replicaOwners: replicaOwners, liveOwners: liveOwners,
            listLimit: listLimit, notes: &report.notes)
        if l.wal?.history == nil {
            report.notes.append(
                "the live side has no WAL (or the digest carries no WAL history), so an earlier state could not be matched and nothing shows whether the live database moved on; if the application checkpointed it, rerun with --wait SECONDS"
            )
        }
        return report
    }

    /// Per table and index: entries on each side and rowids on one side only (like `sqldiff --summary`).
    /// Without a live database, the live side is the digest's `liveTables` (counts and rowid
    /// hashes: no rowids listed), or unknown when the digest has none.
    static func tableDifferences(
        _ replica: PageSource, _ live: PageSource?, liveTables: [DatabaseDigest.TableSummary]? = nil, differing: [UInt32],
        replicaOwners: [BTreeReader.Owner], liveOwners: [BTreeReader.Owner], listLimit: Int, notes: inout [String]
    ) -> [CompareReport.TableDifference] {
        /// What one side knows of one table or index.
        struct Keys {
            var type: String
            var count: Int
            var rowids: [Int64]?
            var rowidHash: String?
        }
        let rr = attempt("the replica's schema", &notes) { try BTreeReader(replica) }
        let lr = live.flatMap { l in attempt("the live database's schema", &notes) { try BTreeReader(l) } }
        let rs = rr.flatMap { r in attempt("the replica's schema", &notes) { try r.schema() } } ?? []
        let ls = lr.flatMap { l in attempt("the live database's schema", &notes) { try l.schema() } } ?? []
        let liveKnown = live != nil || liveTables != nil
        if !liveKnown {
            notes.append("the digest holds no table counts (written by an older LiteProof): the live side of the table summary is unknown")
        }
        var byName: [String: (BTreeReader.SchemaEntry?, BTreeReader.SchemaEntry?)] = [:]
        for e in rs where e.rootPage > 0 { byName[e.name, default: (nil, nil)].0 = e }
        for e in ls where e.rootPage > 0 { byName[e.name, default: (nil, nil)].1 = e }
        var digestTables: [String: DatabaseDigest.TableSummary] = [:]
        if live == nil { for t in liveTables ?? [] { digestTables[t.name] = t } }
        var names = Set(byName.keys)
        names.formUnion(digestTables.keys)
        var pagesByName: [String: Int] = [:]
        for p in differing {
            var owned = Set<String>()
            for owners in [replicaOwners, liveOwners] where Int(p) < owners.count {
                switch owners[Int(p)] {
                case .object(_, let n), .overflow(_, let n): owned.insert(n)
                default: break
                }
            }
            for n in owned { pagesByName[n, default: 0] += 1 }
        }
        var out: [CompareReport.TableDifference] = []
        for name in names.sorted() {
            let (re, le) = byName[name] ?? (nil, nil)
            let rk = re.flatMap { e in
                rr.flatMap { r in
                    attempt("the replica's \(e.type) \(name)", &notes) { () -> Keys in
                        let k = try r.keys(of: e)
                        return Keys(type: e.type, count: k.count, rowids: k.rowids, rowidHash: live == nil ? k.rowids.map(DatabaseDigest.rowidHash) : nil)
                    }
                }
            }
            var lk: Keys?
            if let le, let lr {
                lk = attempt("the live database's \(le.type) \(name)", &notes) { () -> Keys in
                    let k = try lr.keys(of: le)
                    return Keys(type: le.type, count: k.count, rowids: k.rowids)
                }
            } else if let t = digestTables[name] {
                lk = Keys(type: t.type, count: t.entries, rowidHash: t.rowidHash)
            }
            var changed = (pagesByName[name] ?? 0) > 0
            if liveKnown {
                changed = changed || rk?.count != lk?.count
                if let a = rk?.rowids, let b = lk?.rowids, a != b { changed = true }
                if let a = rk?.rowidHash, let b = lk?.rowidHash, a != b { changed = true }
            }
            guard changed, let type = rk?.type ?? lk?.type ?? re?.type ?? le?.type else { continue }
            var onlyR: [Int64] = [], onlyL: [Int64] = []
            if let a = rk?.rowids, let b = lk?.rowids {
                onlyR = sortedDifference(a, b, limit: listLimit)
                onlyL = sortedDifference(b, a, limit: listLimit)
            }
            out.append(
                .init(
                    type: type, name: name, replicaRows: rk?.count, liveRows: lk?.count, liveKnown: liveKnown,
                    onlyInReplica: onlyR, onlyInLive: onlyL, differingPages: pagesByName[name] ?? 0))
        }
        return out
    }

    /// Runs a b-tree read; when damage stops it, says so in `notes` ("cannot read WHAT: why") and
    /// returns nil.
    static func attempt<T>(_ what: String, _ notes: inout [String], _ body: () throws -> T) -> T? {
        do {
            return try body()
        } catch {
            let note = "cannot read \(what): \(error)"
            if !notes.contains(note) { notes.append(note) }
            return nil
        }
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
