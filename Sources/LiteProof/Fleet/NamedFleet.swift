import Foundation

/// A fleet given one replica at a time rather than found below one root (the replicas a
/// Litestream configuration names, each in its own storage): verified as ``FleetVerifier``
/// verifies a discovered fleet, with the same shards, entries and summary.
public struct NamedFleet: Sendable {
    /// One replica: its name in the entries, what the shard is chosen by, and how to open it.
    public struct Member: Sendable {
        public var name: String
        /// Hashed by ``FleetShard/contains(_:)`` (the database's path, so all replicas of a
        /// database fall in one shard).
        public var shardKey: String
        public var open: @Sendable () throws -> Replica

        public init(name: String, shardKey: String? = nil, open: @escaping @Sendable () throws -> Replica) {
            self.name = name
            self.shardKey = shardKey ?? name
            self.open = open
        }
    }

    /// What the summary names as the root (the configuration file).
    public let root: String
    public let members: [Member]
    /// Only this shard's members, by ``FleetShard/contains(_:)`` of their ``Member/shardKey`` (nil: all).
    public var shard: FleetShard?
    /// Replicas verified at once.
    public var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    public var restoreCheck: RestoreOptions.IntegrityCheck = .quick
    public var progress: (@Sendable (FleetVerifier.Progress) -> Void)?

    public init(root: String, members: [Member]) {
        self.root = root
        self.members = members
    }

    /// The names of this shard's members, in order.
    public var names: [String] { members.filter { shard?.contains($0.shardKey) ?? true }.map(\.name) }

    /// Verifies this shard's members, calling `report` once per replica in order, then returns
    /// the summary. A replica that cannot be opened gets its entry with the failure's verdict.
    public func run(_ report: (FleetEntry) -> Void) -> FleetSummary {
        let started = Date()
        let mine = members.filter { shard?.contains($0.shardKey) ?? true }
        let collector = FleetCollector(count: mine.count, progress: progress)
        let next = Locked(0)
        let restoreCheck = restoreCheck
        withoutActuallyEscaping(report) { emit in
            let output = EmitBox(emit)
            let work: @Sendable () -> Void = {
                while true {
                    let i = next.increment()
                    if i >= mine.count { break }
                    collector.finish(i, Self.check(mine[i], restoreCheck: restoreCheck), emit: output.call)
                }
            }
            JoinableThread.runAll(max(1, min(jobs, mine.count)), stackSize: 8 << 20, work)
        }
        return FleetSummary(
            root: root, shard: shard, discovered: members.count, entries: collector.entries,
            seconds: Date().timeIntervalSince(started), checkedAt: started.timeIntervalSince1970)
    }

    static func check(_ member: Member, restoreCheck: RestoreOptions.IntegrityCheck) -> FleetEntry {
        let started = Date()
        let replica: Replica
        do {
            replica = try member.open()
        } catch {
            let e = LiteProofError(wrapping: error)
            return FleetEntry(
                database: member.name, verdict: e.outcome, replicaBytes: 0, problem: e.message, checkedAt: started.timeIntervalSince1970)
        }
        let bytes = replica.storage.files().reduce(Int64(0)) { $0 + $1.size }
        return FleetVerifier.check(replica, name: member.name, replicaBytes: bytes, restoreCheck: restoreCheck, started: started)
    }
}
