// Test rig: the write load the rig's databases get while real Litestream replicates them
// (see ReplicaFactory.swift).

import Foundation

/// Deterministic-ish write load: table t(id, v) with an index, a WITHOUT ROWID
/// table kv, a scratch table that is filled and emptied (→ freelist pages),
/// inserts, updates and deletes, some values large enough for overflow pages.
struct RigWorkload {
    let db: RigDB
    let pageSize: Int
    private var rng: UInt64
    private var nextID: Int64 = 1
    private(set) var round = 0

    init(db: RigDB, pageSize: Int, seed: UInt64) {
        self.db = db
        self.pageSize = pageSize
        self.rng = seed | 1
    }

    private mutating func next() -> UInt64 {
        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
        return rng
    }

    private mutating func text(_ length: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var s = ""
        s.reserveCapacity(length)
        var x = next()
        for i in 0..<length {
            if i % 10 == 0 { x = next() }
            s.append(alphabet[Int(x % 36)]); x /= 36
        }
        return s
    }

    /// Creates the database: page size, WAL mode, schema, a few rows.
    static func create(path: String, pageSize: Int) throws -> RigDB {
        let db = try RigDB(path)
        try db.exec("PRAGMA page_size=\(pageSize)")
        let mode = try db.query("PRAGMA journal_mode=WAL")
        guard mode.first?.first?.lowercased() == "wal" else { throw RigError("journal_mode=WAL gave \(mode)") }
        try db.exec(
            """
            CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
            CREATE INDEX t_v ON t(v);
            CREATE TABLE kv(k TEXT PRIMARY KEY, n INTEGER NOT NULL, data BLOB) WITHOUT ROWID;
            CREATE TABLE scratch(x BLOB);
            """)
        let ps = try db.query("PRAGMA page_size")
        guard ps.first?.first == String(pageSize) else { throw RigError("page_size is \(ps), wanted \(pageSize)") }
        return db
    }

    /// One write transaction: inserts `rows` rows, updates some (rewriting most
    /// pages of t and its index) unless `update` is false, deletes some older
    /// ones every third round, upserts kv, and fills/empties scratch.
    mutating func runRound(rows: Int, update: Bool = true) throws {
        round += 1
        let r = round
        try db.exec("BEGIN IMMEDIATE")
        do {
            var params: [[RigValue]] = []
            for i in 0..<rows {
                // Mostly small values; every 13th row spills to overflow pages.
                let len = i % 13 == 7 ? pageSize * 2 + 100 : 20 + Int(next() % 200)
                params.append([.int(nextID), .text("r\(r)-\(nextID)-" + text(len))])
                nextID += 1
            }
            try db.run("INSERT INTO t(id, v) VALUES(?, ?)", rows: params)
            if update {
                try db.exec("UPDATE t SET v = v || '.\(r)' WHERE id % 5 = \(r % 5)")
            }
            if update && r % 3 == 0 {
                try db.exec("DELETE FROM t WHERE id IN (SELECT id FROM t ORDER BY id LIMIT \(max(1, rows / 2)))")
            }
            var kv: [[RigValue]] = []
            for _ in 0..<3 {
                let blob = (0..<(40 + Int(next() % 120))).map { _ in UInt8(truncatingIfNeeded: next()) }
                kv.append([.text("key\(next() % 24)"), .blob(blob)])
            }
            try db.run(
                "INSERT INTO kv(k, n, data) VALUES(?, 1, ?) ON CONFLICT(k) DO UPDATE SET n = n + 1, data = excluded.data",
                rows: kv)
            if !update {
                // small round: nothing else
            } else if r % 4 == 1 {
                try db.exec(
                    """
                    INSERT INTO scratch(x) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 6)
                    SELECT randomblob(\(pageSize / 2)) FROM c
                    """)
            } else if r % 4 == 3 {
                try db.exec("DELETE FROM scratch")  // frees pages: they go to the freelist
            }
            try db.exec("COMMIT")
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
    }

    /// The last writes of every scenario: fill scratch and commit, then empty it
    /// (so the final database has freelist pages) and mark kv 'final' = 1.
    func finalWrites() throws {
        try db.exec(
            """
            INSERT INTO scratch(x) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 6)
            SELECT randomblob(\(pageSize / 2)) FROM c
            """)
        try db.exec(
            """
            BEGIN IMMEDIATE;
            DELETE FROM scratch;
            INSERT INTO kv(k, n, data) VALUES('final', 1, x'00') ON CONFLICT(k) DO UPDATE SET n = n + 1;
            COMMIT;
            """)
    }
}
