// Test rig: a tiny private SQLite wrapper (in-process, via CSQLite) plus the
// sqlite helpers offered to tests.

import CSQLite
import Foundation

enum RigValue {
    case int(Int64)
    case text(String)
    case blob([UInt8])
    case null
}

/// Minimal SQLite connection used by the rig. Not thread-safe; one owner at a time.
final class RigDB {
    private var handle: OpaquePointer?
    let path: String

    init(_ path: String, readOnly: Bool = false) throws {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var h: OpaquePointer?
        let rc = sqlite3_open_v2(path, &h, flags | SQLITE_OPEN_FULLMUTEX, nil)
        guard rc == SQLITE_OK, let h else {
            let msg = h.map { String(cString: sqlite3_errmsg($0)) } ?? "rc=\(rc)"
            sqlite3_close_v2(h)
            throw RigError("sqlite open \(path): \(msg)")
        }
        handle = h
        sqlite3_busy_timeout(h, 5000)
    }

    deinit { close() }

    /// Closes the connection. Note: if this is the last connection to a WAL
    /// database, SQLite checkpoints and deletes the -wal file.
    func close() {
        if let h = handle { sqlite3_close_v2(h) }
        handle = nil
    }

    private func db() throws -> OpaquePointer {
        guard let h = handle else { throw RigError("sqlite connection to \(path) is closed") }
        return h
    }

    private func error(_ what: String) -> RigError {
        let msg = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
        return RigError("sqlite \(what) on \(path): \(msg)")
    }

    /// Runs one or more statements, discarding rows.
    func exec(_ sql: String) throws {
        let h = try db()
        var err: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(h, sql, nil, nil, &err) != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "?"
            sqlite3_free(err)
            throw RigError("sqlite exec on \(path): \(msg)\nSQL: \(sql)")
        }
    }

    /// Runs one statement and returns every row as strings
    /// (NULL → "NULL", BLOB → "x'hex'", numbers and text as SQLite prints them).
    func query(_ sql: String, _ params: [RigValue] = []) throws -> [[String]] {
        let stmt = try prepare(sql)
        defer { sqlite3_finalize(stmt) }
        try bind(stmt, params)
        var rows: [[String]] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error("step \(sql)") }
            var row: [String] = []
            for i in 0..<sqlite3_column_count(stmt) {
                switch sqlite3_column_type(stmt, i) {
                case SQLITE_NULL:
                    row.append("NULL")
                case SQLITE_BLOB:
                    let n = Int(sqlite3_column_bytes(stmt, i))
                    var hex = "x'"
                    if n > 0, let p = sqlite3_column_blob(stmt, i) {
                        let bytes = UnsafeRawBufferPointer(start: p, count: n)
                        for b in bytes { hex += String(format: "%02x", b) }
                    }
                    row.append(hex + "'")
                default:
                    row.append(sqlite3_column_text(stmt, i).map { String(cString: $0) } ?? "")
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Runs one prepared statement once per parameter row (no transaction of its own).
    func run(_ sql: String, rows: [[RigValue]]) throws {
        let stmt = try prepare(sql)
        defer { sqlite3_finalize(stmt) }
        for params in rows {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
            try bind(stmt, params)
            let rc = sqlite3_step(stmt)
            guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw error("step \(sql)") }
        }
    }

    private func prepare(_ sql: String) throws -> OpaquePointer {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(try db(), sql, -1, &stmt, nil) == SQLITE_OK, let stmt else {
            throw error("prepare \(sql)")
        }
        return stmt
    }

    private func bind(_ stmt: OpaquePointer, _ params: [RigValue]) throws {
        for (i, v) in params.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32
            switch v {
            case .int(let n): rc = sqlite3_bind_int64(stmt, idx, n)
            case .text(let s): rc = sqlite3_bind_text(stmt, idx, s, -1, liteproof_sqlite_transient())
            case .blob(let b):
                rc = b.withUnsafeBytes {
                    sqlite3_bind_blob(stmt, idx, $0.baseAddress, Int32($0.count), liteproof_sqlite_transient())
                }
            case .null: rc = sqlite3_bind_null(stmt, idx)
            }
            guard rc == SQLITE_OK else { throw error("bind #\(idx)") }
        }
    }
}

// MARK: - Helpers for tests

/// Runs `sql` on `db` opened read-only (SQLITE_OPEN_READONLY) and returns the rows
/// as strings (NULL → "NULL", BLOB → "x'hex'").
func sqliteQuery(_ db: String, _ sql: String) throws -> [[String]] {
    let conn = try RigDB(db, readOnly: true)
    defer { conn.close() }
    return try conn.query(sql)
}

/// Copies `db` (and `db-wal` if present; never -shm) into a fresh temp folder,
/// runs `PRAGMA wal_checkpoint(TRUNCATE)` on the copy and returns the copied db's
/// path. The original is not touched. The result is the database as a reader
/// would see it, as one self-contained file.
func checkpointCopy(of db: String) throws -> String {
    let fm = FileManager.default
    guard fm.fileExists(atPath: db) else { throw RigError("checkpointCopy: no database at \(db)") }
    let dir = try rigTempDir("ckpt")
    let name = (db as NSString).lastPathComponent
    let copy = dir + "/" + name
    try fm.copyItem(atPath: db, toPath: copy)
    if fm.fileExists(atPath: db + "-wal") {
        try fm.copyItem(atPath: db + "-wal", toPath: copy + "-wal")
    }
    let conn = try RigDB(copy)
    let r = try conn.query("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    if let row = r.first, row.first != "0" {
        throw RigError("checkpointCopy: wal_checkpoint(TRUNCATE) on \(copy) returned \(row)")
    }
    // After the last connection closed, SQLite removed (or left empty) the copy's -wal.
    if let size = (try? fm.attributesOfItem(atPath: copy + "-wal"))?[.size] as? Int, size > 0 {
        throw RigError("checkpointCopy: \(copy)-wal still has \(size) bytes after TRUNCATE")
    }
    return copy
}
