import Foundation

/// The verdict on one database of a fleet: one line of `verify --all --json` (JSON Lines).
public struct FleetEntry: Codable, Sendable, Equatable {
    /// `ok`, `damaged`, `undecided` (which generation is the newest cannot be told) or
    /// `unreadable` (the store could not produce a file), as `verify` says it (see ``Outcome``).
    public typealias Verdict = Outcome

    /// The newest canary row in the restored database.
    public struct NewestCanary: Codable, Sendable, Equatable {
        public var token: String
        public var label: String?
        public var createdAt: String
    }

    /// Always "database" (the summary line has "summary").
    public var type = "database"
    /// The replica's path relative to the fleet root ("." for the root itself).
    public var database: String
    public var verdict: Verdict
    /// `litestream-0.3` or `litestream-0.5`; nil when unreadable.
    public var format: String?
    /// The latest restorable position, as `verify` prints it.
    public var position: String?
    /// The time of the latest position (ISO 8601 UTC).
    public var latestTime: String?
    /// Seconds from the latest position's time to this check.
    public var ageSeconds: Double?
    /// The sum of the replica's file sizes.
    public var replicaBytes: Int64
    public var files: Int
    public var bytesRead: Int64
    /// Seconds this database's check took.
    public var seconds: Double
    /// Seconds the trial restore of the latest position took (nil when it did not run).
    public var restoreSeconds: Double?
    /// SQLite's check of the trial restore ("ok" or the problems), nil when not run.
    public var restoreCheck: String?
    public var errors: Int
    public var warnings: Int
    /// The first error finding (or, for an unreadable replica, why it could not be read).
    public var problem: String?
    public var canary: NewestCanary?
    /// Seconds from the newest canary in the replica to this check: how far behind the replica
    /// is at most, when canaries are written regularly.
    public var canaryLagSeconds: Double?
    /// When this check ran (seconds since the epoch).
    public var checkedAt: Double

    public init(
        database: String, verdict: Verdict, format: String? = nil, position: String? = nil, latestTime: String? = nil,
        ageSeconds: Double? = nil, replicaBytes: Int64, files: Int = 0, bytesRead: Int64 = 0, seconds: Double = 0,
        restoreSeconds: Double? = nil, restoreCheck: String? = nil, errors: Int = 0, warnings: Int = 0, problem: String? = nil,
        canary: NewestCanary? = nil, canaryLagSeconds: Double? = nil, checkedAt: Double
    ) {
        self.database = database
        self.verdict = verdict
        self.format = format
        self.position = position
        self.latestTime = latestTime
        self.ageSeconds = ageSeconds
        self.replicaBytes = replicaBytes
        self.files = files
        self.bytesRead = bytesRead
        self.seconds = seconds
        self.restoreSeconds = restoreSeconds
        self.restoreCheck = restoreCheck
        self.errors = errors
        self.warnings = warnings
        self.problem = problem
        self.canary = canary
        self.canaryLagSeconds = canaryLagSeconds
        self.checkedAt = checkedAt
    }
}

/// The last line of `verify --all --json`: what was checked and the exit code it leads to.
public struct FleetSummary: Codable, Sendable, Equatable {
    /// Always "summary".
    public var type = "summary"
    /// The fleet root as given.
    public var root: String
    /// `I/N` when only one shard was checked.
    public var shard: String?
    /// Replicas found below the root (all shards).
    public var discovered: Int
    public var databases: Int
    public var ok: Int
    public var damaged: Int
    public var unreadable: Int
    /// Databases whose latest position cannot be decided (absent in reports of older versions).
    public var undecided: Int?
    public var replicaBytes: Int64
    public var bytesRead: Int64
    public var seconds: Double
    public var checkedAt: Double
    /// 0 all sound, 1 a database is damaged, 2 a database could not be read or decided.
    public var exitCode: Int32
    /// Requests sent to the object store holding the fleet, retries included: the listing's pages
    /// and every object read (nil for a folder, an archive or SFTP, which are not counted).
    public var storageRequests: Int?
    /// Of ``storageRequests``, the listing's: sent once, before any replica is read.
    public var listingRequests: Int?
    /// Response bytes received from the object store (bodies and error answers).
    public var storageBytes: Int64?

    public init(root: String, shard: FleetShard?, discovered: Int, entries: [FleetEntry], seconds: Double, checkedAt: Double) {
        self.root = root
        self.shard = shard?.description
        self.discovered = discovered
        databases = entries.count
        let counts = VerdictCounts(entries)
        ok = counts.ok
        damaged = counts.damaged
        unreadable = counts.unreadable
        undecided = counts.undecided
        replicaBytes = entries.reduce(0) { $0 + $1.replicaBytes }
        bytesRead = entries.reduce(0) { $0 + $1.bytesRead }
        self.seconds = seconds
        self.checkedAt = checkedAt
        // The exit code of the worst verdict: 2 if any database could not be read or decided,
        // else 1 if any is damaged, else 0.
        exitCode = counts.worst.exitCode
    }
}

/// How many databases got each verdict, as the fleet's summaries count them.
public struct VerdictCounts: Sendable, Equatable {
    public var ok = 0
    public var damaged = 0
    public var undecided = 0
    public var unreadable = 0
    /// The worst verdict (``Outcome`` precedence), `ok` for none.
    public var worst = Outcome.ok

    public init(_ entries: [FleetEntry]) {
        for e in entries {
            switch e.verdict {
            case .ok: ok += 1
            case .damaged, .failed: damaged += 1
            case .undecided: undecided += 1
            case .unreadable, .usage, .inconclusive: unreadable += 1
            }
            worst = max(worst, e.verdict)
        }
    }

    /// "N ok, N damaged, N unreadable" (and "N undecided" when there are any).
    public var text: String {
        "\(ok) ok, \(damaged) damaged, " + (undecided > 0 ? "\(undecided) undecided, " : "") + "\(unreadable) unreadable"
    }
}

/// One line of JSON Lines, as `verify --all --json` writes it: compact, keys sorted.
public enum JSONLines {
    public static func encode<T: Encodable>(_ value: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? e.encode(value), let s = String(data: data, encoding: .utf8) else { return "{}" }
        return s
    }
}
