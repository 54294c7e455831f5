import Foundation

/// Canary rows: identifiable rows written to the live database (`liteproof canary write`), then
/// looked for in the replica — proof that a recent write survived, and a measure of lag.
public struct Canary: Codable, Sendable, Equatable {
    public static let table = "_liteproof_canary"
    public static let createSQL = """
        CREATE TABLE IF NOT EXISTS _liteproof_canary(
          id INTEGER PRIMARY KEY, token TEXT UNIQUE, label TEXT, created_at REAL)
        """

    public var token: String
    public var label: String?
    /// Seconds since the epoch.
    public var createdAt: Double
    public var createdAtText: String { formatTime(createdAt) }

    /// Writes one canary into the live database in a short transaction (the only write LiteProof
    /// ever makes to a live database). With `keeping`, the same transaction deletes the older
    /// canaries with the same label past the newest `keeping` (`watch` prunes its own that way;
    /// canaries with other labels are never touched).
    public static func write(to path: String, label: String?, keeping: Int? = nil) throws -> Canary {
        guard FS.exists(path) else { throw LiteProofError(.usage, "no such database: \(path)") }
        let db = try SQLiteDatabase(path: path, mode: .readWrite)
        var random = SystemRandomNumberGenerator()
        let token = "lp-" + random.next().hex(width: 16) + (UInt32.random(in: 0...UInt32.max, using: &random)).hex(width: 8)
        let now = Date().timeIntervalSince1970
        try db.execute("BEGIN IMMEDIATE")
        do {
            try db.execute(createSQL)
            try db.query(
                "INSERT INTO _liteproof_canary(token, label, created_at) VALUES (?, ?, ?)",
                [.text(token), label.map { .text($0) } ?? .null, .real(now)])
            if let keeping, let label {
                try db.query(
                    "DELETE FROM _liteproof_canary WHERE label = ? AND id NOT IN (SELECT id FROM _liteproof_canary WHERE label = ? ORDER BY id DESC LIMIT ?)",
                    [.text(label), .text(label), .integer(Int64(max(1, keeping)))])
            }
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
        return Canary(token: token, label: label, createdAt: now)
    }

    /// Every canary in a database image, oldest first (read with LiteProof's own b-tree reader).
    public static func all(in source: PageSource) throws -> [Canary]? {
        let reader = try BTreeReader(source)
        guard let entry = try reader.schema().first(where: { $0.type == "table" && $0.name == table }) else { return nil }
        return try reader.rows(ofTable: entry).compactMap { _, v in
            guard v.count >= 4, case .text(let token) = v[1] else { return nil }
            var label: String?
            if case .text(let l) = v[2] { label = l }
            var at = 0.0
            switch v[3] {
            case .real(let d): at = d
            case .integer(let i): at = Double(i)
            default: break
            }
            return Canary(token: token, label: label, createdAt: at)
        }.sorted { $0.createdAt < $1.createdAt }
    }
}

/// What the canaries say: the newest in the replica, and (with the live database) those written
/// but not yet replicated.
public struct CanaryReport: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var token: String
        public var label: String?
        public var createdAt: String
        /// Seconds since it was written.
        public var age: Double
    }

    public var replicaHasTable: Bool
    public var replicaCount: Int
    public var newestInReplica: Entry?
    /// Canaries in the live database, nil without one.
    public var liveCount: Int?
    /// Live canaries missing from the replica (newest first), nil without a live database.
    public var missingFromReplica: [Entry]?
    /// Age of the oldest canary not yet in the replica: how far the replica lags, at least.
    public var lagSeconds: Double?

    static func entry(_ c: Canary, now: Double) -> Entry {
        Entry(token: c.token, label: c.label, createdAt: c.createdAtText, age: max(0, now - c.createdAt))
    }

    public static func make(replica: PageSource, live: PageSource?) throws -> CanaryReport {
        let now = Date().timeIntervalSince1970
        let inReplica = try Canary.all(in: replica)
        var report = CanaryReport(
            replicaHasTable: inReplica != nil, replicaCount: inReplica?.count ?? 0,
            newestInReplica: inReplica?.last.map { entry($0, now: now) })
        if let live {
            let liveCanaries = try Canary.all(in: live) ?? []
            report.liveCount = liveCanaries.count
            let have = Set((inReplica ?? []).map(\.token))
            let missing = liveCanaries.filter { !have.contains($0.token) }
            report.missingFromReplica = missing.reversed().map { entry($0, now: now) }
            report.lagSeconds = missing.first.map { max(0, now - $0.createdAt) }
        }
        return report
    }
}
