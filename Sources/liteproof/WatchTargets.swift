import Foundation
import LiteProof
import LiteProofConfig

/// One replica `watch` keeps proving: its name in events, metrics and the state, the live
/// database beside it (a configuration's `path:`), and where the replica is.
struct WatchTarget: Equatable {
    var name: String
    /// The live database, where the configuration names it (nil for a replica given alone).
    var live: String?
    var location: ReplicaLocation
    /// The configuration's keys for this replica, if it has them (never printed).
    var credentials: ConfiguredCredentials?

    static func == (a: WatchTarget, b: WatchTarget) -> Bool {
        a.name == b.name && a.live == b.live && a.credentials == b.credentials && a.location.name == b.location.name
    }

    /// Opens the replica as it is now (a new listing each round), each request to its storage
    /// counted in `counts`.
    func open(counting counts: StorageRequestCounts) throws -> Replica {
        try location.open(environment: ConfigTarget.environment(credentials), counting: counts)
    }

    /// The targets of `watch`: the replicas on the command line (the `i`-th with the `i`-th of
    /// `live`, --db, if any), then (with --config) each database of the configuration in the
    /// shard, named by its path.
    static func all(replicas: [ReplicaLocation], live: [String] = [], config: ConfigOptions, shard: FleetShard?) throws -> [WatchTarget] {
        var targets = replicas.enumerated().map { i, r in
            WatchTarget(name: r.name, live: i < live.count ? live[i] : nil, location: r, credentials: nil)
        }
        if let loaded = try config.load() {
            for t in try config.targetPerDatabase(loaded) where shard?.contains(t.database) ?? true {
                targets.append(WatchTarget(name: t.database, live: t.database, location: t.location, credentials: t.credentials))
            }
        }
        var seen: Set<String> = []
        for t in targets where !seen.insert(t.name).inserted {
            throw LiteProofError(.usage, "\(t.name) is named twice; each replica is watched once")
        }
        return targets
    }
}

/// The watchers of a `watch`, one per target, in order; ``apply(_:)`` brings them in line with
/// a new list of targets (SIGHUP with --config): new targets start, removed ones stop, changed
/// ones start afresh; the others go on with what they verified.
final class WatchSet {
    private(set) var entries: [(target: WatchTarget, watcher: Watcher)] = []
    let makeWatcher: (WatchTarget) -> Watcher

    init(_ targets: [WatchTarget], makeWatcher: @escaping (WatchTarget) -> Watcher) {
        self.makeWatcher = makeWatcher
        entries = targets.map { ($0, makeWatcher($0)) }
    }

    var watchers: [Watcher] { entries.map(\.watcher) }

    /// What ``apply(_:)`` changed, by name.
    struct Change: Encodable, Equatable {
        var added: [String] = []
        var removed: [String] = []
        var restarted: [String] = []
        var isEmpty: Bool { added.isEmpty && removed.isEmpty && restarted.isEmpty }
    }

    /// Replaces the targets (see the type's summary).
    func apply(_ targets: [WatchTarget]) -> Change {
        var change = Change()
        let old = Dictionary(entries.map { ($0.target.name, $0) }, uniquingKeysWith: { a, _ in a })
        let newNames = Set(targets.map(\.name))
        change.removed = entries.map(\.target.name).filter { !newNames.contains($0) }
        entries = targets.map { t in
            if let kept = old[t.name] {
                if kept.target == t { return kept }
                change.restarted.append(t.name)
            } else {
                change.added.append(t.name)
            }
            return (t, makeWatcher(t))
        }
        return change
    }
}

extension WatchCommand {
    /// SIGHUP: the configuration read again and applied to `set` (see ``WatchSet``); one event
    /// (`config-reloaded`) or line says what changed. A restarted database's state is dropped,
    /// as it may describe another replica. A file that cannot be read changes nothing.
    func reload(_ set: WatchSet, last: inout [String: Outcome], published: WatchPublication) {
        let targets: [WatchTarget]
        do {
            targets = try WatchTarget.all(replicas: replicas, live: deep.databases, config: configOptions, shard: shard)
        } catch {
            let file = configOptions.config ?? ""
            let message = "cannot re-read \(file) (\(LiteProofError(wrapping: error).message)); watching as before"
            FileHandle.standardError.write(Data("liteproof: warning: \(message.escapedForText)\n".utf8))
            return
        }
        let change = set.apply(targets)
        published.watch(set.watchers.map(\.database))
        for name in change.removed + change.restarted {
            last[name] = nil
            if let state { FS.remove(WatchState.path(in: state, replica: name)) }
        }
        var line: String
        if json {
            line = Self.line(WatchEvent(event: "config-reloaded", body: change))
        } else {
            var parts: [String] = []
            if !change.added.isEmpty { parts.append("added \(change.added.joined(separator: ", "))") }
            if !change.removed.isEmpty { parts.append("removed \(change.removed.joined(separator: ", "))") }
            if !change.restarted.isEmpty { parts.append("restarted \(change.restarted.joined(separator: ", "))") }
            line = "\(formatTime(Date().timeIntervalSince1970)) configuration reloaded: \(parts.isEmpty ? "no change" : parts.joined(separator: "; "))"
            line = line.escapedForText
        }
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
