import Foundation

/// Whether every watched replica is healthy, as `/healthz` gives it: healthy while each one's
/// last round is `ok` and fresh within `--max-lag` (its ``WatchRound/health`` is `ok`).
public struct WatchHealth: Codable, Sendable, Equatable {
    /// One replica that is not healthy.
    public struct Unhealthy: Codable, Sendable, Equatable {
        public var database: String
        /// The round's health (`failed`: older than --max-lag; `damaged`, `unreadable`, …), or
        /// `starting` before its first round.
        public var health: String
        /// Why (``WatchRound/reason``).
        public var reason: String
        /// The round that said so (nil before the first).
        public var round: Int?
        public var freshnessSeconds: Double?
    }

    /// `ok`, `unhealthy`, or `starting` (some replica has had no round yet, and none is unhealthy).
    public var status: String
    /// How many replicas are watched.
    public var databases: Int
    /// Every replica that is not healthy, in the order they are watched.
    public var unhealthy: [Unhealthy]

    public var healthy: Bool { status == "ok" }
}

/// The last round of every watched replica, shared between the thread that runs the rounds and
/// the threads that serve them (`--listen`).
public final class WatchBoard: Sendable {
    private let databases: Locked<[String]>
    private let rounds = Locked<[String: WatchRound]>([:])

    /// A board for the replicas named `databases` (in the order they are watched).
    public init(databases: [String]) { self.databases = Locked(databases) }

    /// Replaces the replicas watched (SIGHUP with --config): the last rounds of the others are
    /// forgotten.
    public func watch(_ names: [String]) {
        databases.withLock { $0 = names }
        let kept = Set(names)
        rounds.withLock { $0 = $0.filter { kept.contains($0.key) } }
    }

    /// Keeps `r` as its replica's last round.
    public func post(_ r: WatchRound) {
        rounds.withLock { $0[r.database] = r }
    }

    /// The health of every replica as of its last round.
    public func health() -> WatchHealth {
        let last = rounds.current, databases = self.databases.current
        var unhealthy: [WatchHealth.Unhealthy] = []
        var starting = false
        for name in databases {
            guard let r = last[name] else {
                starting = true
                unhealthy.append(.init(database: name, health: "starting", reason: "no round has finished yet"))
                continue
            }
            if r.health != .ok {
                unhealthy.append(
                    .init(database: name, health: r.health.rawValue, reason: r.reason, round: r.round, freshnessSeconds: r.freshnessSeconds))
            }
        }
        let bad = unhealthy.contains { $0.health != "starting" }
        return WatchHealth(status: bad ? "unhealthy" : starting ? "starting" : "ok", databases: databases.count, unhealthy: unhealthy)
    }
}
