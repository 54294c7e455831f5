import Foundation

/// Verifies every replica below a fleet root (`liteproof verify --all`): discovers them in one
/// listing, keeps those of the chosen shard, and runs ``Verifier`` on several at once.
///
/// Work and memory are bounded: at most `jobs` replicas are open at a time, each one's files are
/// read as ``Verifier`` reads them, and only a small ``FleetEntry`` per database is kept.
public struct FleetVerifier: Sendable {
    /// Progress of a fleet check, for a terminal display.
    public struct Progress: Sendable {
        public var done: Int
        public var total: Int
        public var damaged: Int
        public var unreadable: Int
        public var bytesRead: Int64
    }

    /// The fleet root, as reports name it.
    public let root: String
    /// Lists and opens every file below the root.
    public let storage: any ReplicaStorage
    /// Only this shard's replicas (nil: all).
    public var shard: FleetShard?
    /// Replicas verified at once, each on its own thread (each ``Verifier`` also reads its files in parallel).
    public var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    /// The trial restore of each sound replica's latest position, with SQLite's check of it.
    public var restoreCheck: RestoreOptions.IntegrityCheck = .quick
    public var progress: (@Sendable (Progress) -> Void)?

    /// A fleet in any storage that can list and open files (a folder, an archive, an object-store prefix).
    public init(root: String, storage: any ReplicaStorage) {
        self.root = root
        self.storage = storage
    }

    /// The fleet below `location`: a folder, a `file://` URL, or a .tar / .tar.zst archive.
    public static func open(_ location: String) throws -> FleetVerifier {
        let path = try Replica.resolve(location)
        let storage: any ReplicaStorage = FS.isDirectory(path) ? DirectoryStorage(root: path) : try ArchiveStorage.open(path)
        return FleetVerifier(root: location, storage: storage)
    }

    /// Every replica below the root (all shards), sorted by name.
    public func discover() -> [DiscoveredReplica] { FleetDiscovery.discover(storage.files()) }

    /// Verifies the replicas of the shard, calling `report` once per database in name order (as
    /// soon as it and every one before it are done), then returns the summary.
    /// `discovered` is ``discover()``'s result when the caller has it already.
    /// Throws (`.usage`) when the root holds no replica at all.
    public func run(discovered: [DiscoveredReplica]? = nil, _ report: (FleetEntry) -> Void) throws -> FleetSummary {
        let started = Date()
        let all = discovered ?? discover()
        if all.isEmpty {
            throw LiteProofError(
                .usage,
                "\(root) holds no Litestream replica at any depth: expected folders holding generations/<id>/… (Litestream 0.3), ltx/<level>/… (0.5) or <level %04x>/… (0.5 on S3)"
            )
        }
        let mine = shard.map { s in all.filter { s.contains($0.name) } } ?? all
        let collector = FleetCollector(count: mine.count, progress: progress)
        let next = Locked(0)
        let workers = max(1, min(jobs, mine.count))
        let fleet = self
        withoutActuallyEscaping(report) { emit in
            // `jobs` threads of our own rather than Dispatch's pool (which runs about one per
            // core): a replica's check may wait on storage (an object store) rather than compute.
            // Each replica's files are still read in parallel on the pool by ``Verifier``.
            // Every thread is joined before this returns, so none outlives the call: a worker
            // may release the last reference to the storage (an S3 client and its session),
            // and that must not race the process's exit (see ``JoinableThread``).
            let output = EmitBox(emit)
            let work: @Sendable () -> Void = {
                while true {
                    let i = next.increment()
                    if i >= mine.count { break }
                    let entry = fleet.check(mine[i])
                    collector.finish(i, entry, emit: output.call)
                }
            }
            JoinableThread.runAll(workers, stackSize: 8 << 20, work)
        }
        return FleetSummary(
            root: root, shard: shard, discovered: all.count, entries: collector.entries,
            seconds: Date().timeIntervalSince(started), checkedAt: started.timeIntervalSince1970)
    }

    /// Verifies one replica of the fleet.
    public func check(_ found: DiscoveredReplica) -> FleetEntry {
        let started = Date()
        let checkedAt = started.timeIntervalSince1970
        let files = found.files
        let replica: Replica
        do {
            replica = try Replica.open(storage: SubtreeStorage(base: storage, replica: found, files: files))
        } catch {
            storage.evict(files.map { found.prefix + $0.path })
            let e = LiteProofError(wrapping: error)
            return FleetEntry(
                database: found.name, verdict: e.outcome, replicaBytes: found.bytes, files: files.count,
                problem: e.message, checkedAt: checkedAt)
        }
        let entry = Self.check(replica, name: found.name, replicaBytes: found.bytes, restoreCheck: restoreCheck, started: started)
        // Done with this replica's files: an object store's local copies of them go now.
        replica.storage.evict(files.map(\.path))
        return entry
    }

    /// Verifies one opened replica and sums it up as `verify --all` lists it.
    static func check(
        _ replica: Replica, name: String, replicaBytes: Int64, restoreCheck: RestoreOptions.IntegrityCheck, started: Date
    ) -> FleetEntry {
        let checkedAt = started.timeIntervalSince1970
        // Every file checked, then (when sound, unless `restoreCheck` is `.none`) the timed trial
        // restore of the latest position with SQLite's check and the canaries found in it.
        let (report, plan) = Verifier(replica: replica, restoreCheck: restoreCheck).runPlanned()
        // The verdict is `verify`'s: a file that could not be opened or read (gone since the
        // listing, no permission, an I/O error) leaves the replica unjudged rather than damaged.
        let problem =
            report.storageFailures.first?.error ?? report.undecided ?? report.findings.first { $0.severity == .error }?.description
        let newest = report.canaries?.newestInReplica
        let time = plan?.time
        return FleetEntry(
            database: name, verdict: report.verdict, format: replica.format.rawValue,
            position: report.latest?.position.description, latestTime: time.map(formatTime), ageSeconds: time.map { max(0, checkedAt - $0) },
            replicaBytes: replicaBytes, files: report.filesChecked, bytesRead: report.bytesRead,
            seconds: Date().timeIntervalSince(started), restoreSeconds: report.restoreSeconds, restoreCheck: report.restoreCheck,
            errors: report.errorCount, warnings: report.warningCount, problem: problem,
            canary: newest.map { FleetEntry.NewestCanary(token: $0.token, label: $0.label, createdAt: $0.createdAt) },
            canaryLagSeconds: newest?.age, checkedAt: checkedAt)
    }
}

/// Collects the entries of concurrent workers and hands them out in input order.
final class FleetCollector: Sendable {
    private struct State {
        var pending: [Int: FleetEntry] = [:]
        var nextToEmit = 0
        var entries: [FleetEntry] = []
        var progress: FleetVerifier.Progress
    }
    private let state: Locked<State>
    private let progress: (@Sendable (FleetVerifier.Progress) -> Void)?

    init(count: Int, progress: (@Sendable (FleetVerifier.Progress) -> Void)?) {
        self.progress = progress
        var s = State(progress: FleetVerifier.Progress(done: 0, total: count, damaged: 0, unreadable: 0, bytesRead: 0))
        s.entries.reserveCapacity(count)
        state = Locked(s)
    }

    /// The entries emitted so far, in input order.
    var entries: [FleetEntry] { state.withLock { $0.entries } }

    /// Records entry `i`; emits it and any that were waiting on it (under the lock, so output lines never interleave).
    func finish(_ i: Int, _ entry: FleetEntry, emit: (FleetEntry) -> Void) {
        state.withLock { s in
            s.pending[i] = entry
            s.progress.done += 1
            s.progress.bytesRead += entry.bytesRead
            if entry.verdict == .damaged { s.progress.damaged += 1 }
            if entry.verdict == .unreadable { s.progress.unreadable += 1 }
            while let e = s.pending.removeValue(forKey: s.nextToEmit) {
                emit(e)
                s.entries.append(e)
                s.nextToEmit += 1
            }
            progress?(s.progress)
        }
    }
}

/// Carries the caller's output closure to the worker threads; it is called under
/// ``FleetCollector``'s lock only, so never from two threads at once.
// @unchecked: the closure is not @Sendable, but it is only called under FleetCollector's lock.
final class EmitBox: @unchecked Sendable {
    let call: (FleetEntry) -> Void

    init(_ call: @escaping (FleetEntry) -> Void) { self.call = call }
}
