import Foundation

/// The verdict of `compare`: is the replica the live database, an earlier state of it, or neither?
public struct CompareReport: Codable, Sendable {
    public enum Verdict: String, Codable, Sendable {
        /// The live database equals the replica's restored position.
        case identical
        /// The replica equals an earlier state of the live database (the file alone, or with a
        /// prefix of its WAL's commits).
        case lagging
        /// The live state (a database read earlier, or a digest) is a point of the replica's
        /// history, and the replica holds later commits: the application went on writing.
        case ahead
        /// No state matches, but the live database shows it has moved on past the replica's last
        /// change (its WAL was reset since, or a checkpoint copied the WAL's pages into the file):
        /// the replica is probably behind, which cannot be proven because the live WAL no longer
        /// holds the replica's state. Neither a pass nor damage (exit 3).
        case laggingUnproven = "lagging-unproven"
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

    public struct Ahead: Codable, Sendable {
        /// The replica point whose database equals the live side's.
        public var position: Position
        /// Commits (0.3) or TXIDs (0.5) the replica holds after that point, up to ``CompareReport/position``.
        public var commitsAhead: Int
        /// When the replica reached the point (0.3: the file time; 0.5: the LTX header time).
        public var time: String?
        /// 0.3: the generation a restore uses, when the point is in an earlier generation whose
        /// WAL it continues; ``commitsAhead`` then counts the earlier generation's commits only.
        public var laterGeneration: String?
        public var description: String
    }

    public struct Unproven: Codable, Sendable {
        /// What shows the live database moved on.
        public var evidence: String
        public var advice: String
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
        /// nil: absent on the live side, or unknown when ``liveKnown`` is false.
        public var liveRows: Int?
        /// False when the live side's tables are not known (a digest without table counts).
        public var liveKnown: Bool
        /// Rowids present only in the replica / only live (first `listLimit`).
        public var onlyInReplica: [Int64]
        public var onlyInLive: [Int64]
        public var differingPages: Int
    }

    public var verdict: Verdict
    public var replica: Side
    public var live: Side
    public var position: Position
    public var lag: Lag?
    public var ahead: Ahead?
    public var unproven: Unproven?
    public var differingPageCount: Int
    public var differingPages: [PageDifference]
    public var tables: [TableDifference]
    public var canaries: CanaryReport?
    public var notes: [String]
    public var seconds: Double
}
