import Foundation

/// Keeps proving one replica, a round at a time: each round lists the replica afresh, reads and
/// checks only the files that are new or changed since the round before (with the same per-file
/// checks as ``Verifier``), carries what earlier rounds found for the files that did not change,
/// and judges the latest restore position as `verify` does.
///
/// - A file verified in an earlier round that the storage now lists with another time is read
///   and checked again; with another size (the same name) it is a `file.changed` error:
///   Litestream never writes a file again with other bytes.
/// - A file gone since the last round (Litestream's retention or compaction) is no damage by
///   itself; a removal that breaks the latest restore is, named as `verify` names it (a missing
///   WAL index, a TXID gap; a 0.3 segment gone from an index that keeps others has that index
///   read again, so a hole in its offsets is found).
/// - A store that cannot list or produce a file makes the round `unreadable` (unreachable),
///   never `damaged`; the files it could not read are checked again next round.
///
/// 0.3 WAL segments are checked by index: a segment's WAL checksums continue from the segments
/// before it in the same index, so when any segment of an index is new or changed the whole
/// index is read again. (Carrying the running checksum and salts in the state, so only the new
/// segment is read, is a later optimisation.) Checks that compare files with each other (a WAL
/// page size against its snapshot's, 0.5 page sizes across files) are `verify`'s alone for now.
public final class Watcher {
    /// The replica's name in events, metrics and the state.
    public let database: String
    /// Opens the replica, listing its storage afresh (called once per round).
    private let open: () throws -> Replica
    /// Where the state is kept between runs (nil: in memory only).
    public let stateFile: String?
    /// A latest position older than this many seconds makes the round's ``WatchRound/health``
    /// `failed` (nil: freshness is reported, never judged).
    public var maxLag: Double?
    /// The live database the replica is made from, when known: its deep checks compare with it
    /// (when it is on this machine; read-only), and canaries are written to it.
    public let live: String?
    /// Seconds between deep checks (a trial restore of the latest position with SQLite's
    /// `quick_check`, and a compare with ``live``); nil or 0: never. The first runs at the first
    /// sound round.
    public var restoreEvery: Double?
    /// Seconds between canaries written to ``live`` (nil: none), each looked for in the replica
    /// in the rounds after; one not seen within ``maxLag`` (300 s without it) is `canary.late`.
    public var canaryEvery: Double?
    /// What the watcher has verified so far.
    public private(set) var state: WatchState
    private var stateLoaded: Bool
    /// The state as last written to the state file.
    private var saved: WatchState?

    /// Whether the state differs from the one last written in more than its round counters.
    private var stateChangedSinceSaved: Bool {
        guard var last = saved else { return true }
        last.rounds = state.rounds
        last.lastRoundAt = state.lastRoundAt
        return last != state
    }
    /// Deep checks, canaries and back-off between rounds.
    var schedule = DeepSchedule()

    /// A watcher of the replica `open` returns; with `stateFile`, the state is read at the first
    /// round (once the replica is listed, so its size can be judged) and written after each.
    public init(
        database: String, live: String? = nil, stateFile: String? = nil, maxLag: Double? = nil, open: @escaping () throws -> Replica
    ) {
        self.database = database
        self.live = live
        self.open = open
        self.stateFile = stateFile
        self.maxLag = maxLag
        self.state = WatchState(replica: database)
        self.stateLoaded = stateFile == nil
    }

    /// Runs one round (see the type's description) and records it in the state.
    public func round(now: Date = Date()) -> WatchRound {
        let started = now
        var warnings: [String] = []
        var r = WatchRound(
            database: database, round: state.rounds + 1, verdict: .ok, health: .ok, time: started.timeIntervalSince1970, seconds: 0,
            filesListed: 0, filesChecked: 0, bytesRead: 0, filesGone: 0, storageFailures: [], findings: [], warnings: [])
        let replica: Replica
        do {
            replica = try open()
        } catch {
            // Nothing was listed: the state stays as it was, and the verdict is the failure's.
            let e = LiteProofError(wrapping: error)
            r.verdict = e.outcome
            r.storageFailures = [FailureReport(e)]
            return finish(&r, started: started, warnings: warnings)
        }
        let listed = Self.listed(replica.layout)
        r.filesListed = listed.count
        if !stateLoaded, let stateFile {
            stateLoaded = true
            let (loaded, warning) = WatchState.load(from: stateFile, replica: database, listed: listed)
            if let warning { warnings.append(warning) }
            if let loaded {
                state = loaded
                r.round = state.rounds + 1
            }
        }
        // What changed since the last round.
        var changed: [String: Finding] = [:]
        var fresh: Set<String> = []
        for f in listed {
            guard let known = state.files[f.path] else {
                fresh.insert(f.path)
                continue
            }
            if known.differs(from: f) {
                fresh.insert(f.path)
                // The same size and another time is read again, not flagged: Litestream sets a
                // new file's time to its LTX timestamp just after writing it, and writes some
                // files again with the same bytes (snapshots). Damage shows in the bytes read;
                // a valid file put in another's place, in the chain checks. Only a new size is
                // a change Litestream never makes.
                if known.size == f.size { continue }
                changed[f.path] = .error(
                    .fileChanged, file: f.path,
                    "the file changed after it was verified (size \(known.size) → \(f.size), time \(known.modified.map(formatTime) ?? "none") → \(f.modified.map(formatTime) ?? "none")): Litestream never rewrites a file in place"
                )
            }
        }
        let present = Set(listed.map(\.path))
        let gone = state.files.filter { !present.contains($0.key) }.map { StoredFile(path: $0.key, size: $0.value.size, modified: $0.value.modified) }
        r.filesGone = gone.count
        state.files = state.files.filter { present.contains($0.key) }
        state.carries = state.carries?.filter { state.files[$0.value.through] != nil }
        // 0.3: a segment gone from a WAL index that still has others breaks its checksum chain
        // or its offsets: that index is read again (whole indexes gone are the chain check's).
        if case .v03 = replica.layout {
            for g in V03Layout.scan(files: gone).0.generations {
                for i in g.indexes { fresh.formUnion(replica.v03?.generations.first { $0.id == g.id }?.segments(of: i).map(\.path) ?? []) }
            }
        }
        // The latest plan, made once for the checks and the judgement.
        let latestPlan = LatestPlan(replica: replica)
        let checked = check(replica, fresh: fresh, latestPlan: latestPlan)
        r.filesChecked = checked.paths.count
        r.bytesRead = checked.bytes
        r.checkedPaths = checked.paths
        var failures = checked.failures
        // A file removed between the listing and its read (Litestream compacting meanwhile) is a
        // file gone, not an outage: the next round lists without it.
        if failures.contains(where: { $0.storageFailure == .missing }) {
            let now = Set(replica.storage.files().map(\.path))
            failures.removeAll { e in
                guard e.storageFailure == .missing, let p = e.path else { return false }
                return !now.contains { p == $0 || p.hasSuffix("/" + $0) } && present.contains { p == $0 || p.hasSuffix("/" + $0) }
            }
        }
        let byPath = Dictionary(listed.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for (path, found) in checked.findings {
            guard let file = byPath[path] else { continue }
            // A change found earlier stays found when the file is read again with its index.
            let change = changed[path].map { [$0] } ?? state.files[path]?.findings.filter { $0.code == .fileChanged } ?? []
            state.record(file, findings: change + found)
        }
        // 0.3: where each index read to its end now stands; the end of a stream that went on
        // is judged again at its new last segment.
        for p in checked.resumedAfter { state.files[p]?.findings.removeAll { Self.streamEndCodes.contains($0.code) } }
        for (key, carry) in checked.carries { state.setCarry(key, carry) }
        // The replica as it is now: every file's findings, then the chain, then the plan.
        var findings: [Finding] = replica.strays.map {
            .warning(.layoutStray, file: $0, "file belongs to no Litestream \(replica.format.version) layout; a restore ignores it")
        }
        findings += replica.storageFindings
        for f in listed { findings += state.files[f.path]?.findings ?? [] }
        switch replica.layout {
        case .v03(let layout): findings += Verifier.v03ChainFindings(layout, replica: replica, latestPlan: latestPlan)
        case .ltx(let layout): findings += Verifier.overlaps(layout)
        }
        let (latest, brokenBy, undecided) = latestPlan.judge(findings: &findings, failures: &failures)
        for e in replica.storage.failures where !failures.contains(where: { $0.isSameFailure(as: e) }) { failures.append(e) }
        findings.sort { ($1.severity, $0.file, $0.offset ?? -1) < ($0.severity, $1.file, $1.offset ?? -1) }
        r.findings = findings
        r.storageFailures = failures.map(FailureReport.init)
        r.latest = latest
        r.latestBrokenBy = brokenBy
        r.undecided = undecided
        r.latestTime = latestPlan.plan?.time
        r.freshnessSeconds = r.latestTime.map { max(0, started.timeIntervalSince1970 - $0) }
        judgeTime(&r, plan: latestPlan.plan, warnings: &warnings)
        r.verdict = VerifyReport.verdict(findings: findings, storageFailures: r.storageFailures, undecided: undecided, latest: latest)
        deepChecks(&r, replica: replica, plan: latestPlan.plan, started: started)
        replica.storage.evict(checked.paths)
        return finish(&r, started: started, warnings: warnings)
    }

    /// Ends a round: health from the verdict and freshness, the state recorded and written.
    private func finish(_ r: inout WatchRound, started: Date, warnings: [String]) -> WatchRound {
        r.warnings += warnings
        r.health = r.verdict
        if r.verdict == .ok, let maxLag {
            if r.latestTimeTrusted == false {
                r.health = .undecided
            } else if let age = r.freshnessSeconds, age > maxLag {
                r.health = .failed
            }
        }
        if r.verdict == .ok, r.findings.contains(where: { $0.code == .canaryLate }) { r.health = .failed }
        backOff(&r)
        state.verdict = r.verdict
        state.rounds = r.round
        r.seconds = Date().timeIntervalSince(started)
        state.lastRoundAt = started.timeIntervalSince1970 + r.seconds
        // (Never before the state was read: an outage at start must not overwrite it.)
        // A round that changed nothing but the counters writes the state at most once a minute
        // (encoding thousands of files each round was a third of an idle round's time); a
        // restart then counts on from a slightly older round number, and re-reads nothing.
        if stateChangedSinceSaved || state.lastRoundAt ?? 0 >= (saved?.lastRoundAt ?? 0) + 60, let warning = saveState() {
            r.warnings.append(warning)
        }
        return r
    }

    /// Writes the state file if it is behind the state (a watch that ends calls it, so the round
    /// counters a quiet round skipped are kept); the warning when it cannot be written.
    @discardableResult
    public func saveState() -> String? {
        guard let stateFile, stateLoaded, saved != state else { return nil }
        do {
            try state.save(to: stateFile)
            saved = state
            return nil
        } catch {
            return "cannot write the state file \(stateFile): \(LiteProofError(wrapping: error).message)"
        }
    }

    /// The replica's files as its layout lists them (strays aside).
    static func listed(_ layout: ReplicaLayout) -> [StoredFile] {
        switch layout {
        case .v03(let l):
            return l.generations.flatMap(\.allFiles).map { StoredFile(path: $0.path, size: $0.size, modified: $0.modified, timeTrusted: $0.timeTrusted) }
        case .ltx(let l):
            return l.files.map { StoredFile(path: $0.path, size: $0.size, modified: $0.modified) }
        }
    }

    /// Reads and checks the files in `fresh` (for 0.3, every segment of an index any of them is
    /// in, or only its new segments when the state carries the stream to them: see
    /// Watcher+Carry.swift), several at once.
    private func check(_ replica: Replica, fresh: Set<String>, latestPlan: LatestPlan) -> Reads {
        var reads = Reads()
        guard !fresh.isEmpty else { return reads }
        switch replica.layout {
        case .v03(let layout):
            var units: [Verifier.V03Unit] = []
            for g in layout.generations {
                units += g.snapshots.filter { fresh.contains($0.path) }.map { .snapshot($0) }
                for i in g.indexes {
                    let segs = g.segments(of: i)
                    guard segs.contains(where: { fresh.contains($0.path) }) else { continue }
                    let unit = Self.indexUnit(generation: g.id, index: i, segments: segs, fresh: fresh, state: state)
                    if case .indexTail(_, _, let tail, _) = unit, let before = segs.last(where: { $0.offset < tail[0].offset }) {
                        reads.resumedAfter.append(before.path)
                    }
                    units.append(unit)
                }
            }
            let files = units.flatMap(\.files)
            reads.paths = files.map(\.path)
            reads.bytes = files.reduce(0) { $0 + $1.size }
            replica.storage.prefetch(reads.paths)
            var outcomes = parallelMap(units) { Verifier.check($0, in: replica) }
            // An error in segments checked from a carry is confirmed by reading the whole index
            // (the carry came from a state file): the verdict is never the carry's.
            for (n, unit) in units.enumerated() {
                guard case .indexTail(let g, let i, _, _) = unit, case .index(_, let r) = outcomes[n], r.hasErrors,
                    let segs = layout.generations.first(where: { $0.id == g })?.segments(of: i)
                else { continue }
                units[n] = .index(generation: g, index: i, segments: segs)
                outcomes[n] = Verifier.check(units[n], in: replica)
                let read = Set(reads.paths)
                let again = segs.filter { !read.contains($0.path) }
                reads.paths += again.map(\.path)
                reads.bytes += again.reduce(0) { $0 + $1.size }
            }
            for (unit, outcome) in zip(units, outcomes) {
                let found: [Finding]
                switch outcome {
                case .unreadable(let e):
                    reads.failures.append(e)
                    continue
                case .snapshot(let s): found = s.findings
                case .index(let g, let i):
                    found = i.findings
                    reads.carries[Self.carryKey(g, i.index)] = Self.carry(after: i, segments: unit.files)
                }
                // Each finding goes to the file it names (one naming none, to the unit's first file).
                let unitPaths = unit.files.map(\.path)
                for p in unitPaths { reads.findings[p] = [] }
                for f in found { reads.findings[unitPaths.contains(f.file) ? f.file : unitPaths[0], default: []].append(f) }
            }
        case .ltx(let layout):
            let refs = layout.files.filter { fresh.contains($0.path) }
            reads.paths = refs.map(\.path)
            reads.bytes = refs.reduce(0) { $0 + $1.size }
            replica.storage.prefetch(reads.paths)
            let latestLast = latestPlan.plan?.files.last
            let outcomes = parallelMap(refs) { Verifier.check($0, in: replica) }
            for (ref, c) in zip(refs, outcomes) {
                if let e = c.failure {
                    reads.failures.append(e)
                    continue
                }
                var found = c.finding.map { [$0] } ?? []
                if let h = c.summary?.header { found += Verifier.headerFindings(ref, header: h, endsLatest: ref.path == latestLast) }
                reads.findings[ref.path] = found
            }
        }
        return reads
    }

    /// What a round's reads found: each file's findings, what the store could not produce, the
    /// paths and bytes read, and (0.3) the carries of the WAL indexes read to their end (nil:
    /// drop the index's carry) and the segments whose index went on from their carry.
    struct Reads {
        var findings: [String: [Finding]] = [:]
        var failures: [LiteProofError] = []
        var paths: [String] = []
        var bytes: Int64 = 0
        var carries: [String: WatchState.IndexCarry?] = [:]
        var resumedAfter: [String] = []
    }
}
