import CPlatform
import CSQLite
import Foundation

/// A SQLite connection (one `sqlite3*`), closed in `deinit`. Used to check and query databases
/// LiteProof writes or reads; it never changes a database it did not create.
public final class SQLiteDatabase {
    public enum Mode {
        /// `immutable=1`: no locks, no -wal or -shm, the file is read as it is (scratch files,
        /// restored databases).
        case immutable
        /// `immutable=1` on a file LiteProof wrote itself and nobody changes while it is open (a
        /// restored database before it is renamed into place, a trial restore): reads that run
        /// forward are served from a 256 KiB read-ahead buffer, which makes a whole-file check
        /// about twice as fast as one read system call per page (`ReadAheadVFS.c`).
        case written
        /// Read-only with normal locking (a live database: SQLite's own consistent read).
        case readOnly
        /// Read-write; creates the file if missing.
        case readWrite
    }

    let handle: OpaquePointer
    public let path: String

    public init(path: String, mode: Mode) throws {
        self.path = path
        // SQLite's open(2) blocks on a FIFO: anything but a regular file is refused first.
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            throw LiteProofError.storage(
                .notRegularFile, "\(path) is not a regular file (\(FS.kindName(st.st_mode))); LiteProof opens only regular files as databases")
        }
        var db: OpaquePointer?
        let flags: Int32
        let name: String
        var vfs: String?
        switch mode {
        case .immutable, .written:
            flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
            name = "file:" + SQLiteDatabase.uriEscape(path) + "?immutable=1"
            if mode == .written && liteproof_register_readahead_vfs() == SQLITE_OK { vfs = LITEPROOF_READAHEAD_VFS }
        case .readOnly:
            flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
            name = "file:" + SQLiteDatabase.uriEscape(path) + "?mode=ro"
        case .readWrite:
            flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
            name = path
        }
        let rc = sqlite3_open_v2(name, &db, flags, vfs)
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)  // closes a half-opened handle (sqlite3_open_v2 allocates one even on error)
            throw LiteProofError.storage(.local, "cannot open \(path) with SQLite: \(msg)")
        }
        handle = db
        sqlite3_busy_timeout(db, 5000)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { sqlite3_close_v2(handle) }

    static func uriEscape(_ path: String) -> String {
        var out = ""
        for ch in path.unicodeScalars {
            switch ch {
            case "?", "#", "%": out += String(format: "%%%02X", ch.value)
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// A value read from a result column.
    public enum Value: Equatable, Hashable, Sendable, CustomStringConvertible {
        case null
        case integer(Int64)
        case real(Double)
        case text(String)
        case blob([UInt8])

        public var description: String {
            switch self {
            case .null: return "NULL"
            case .integer(let i): return String(i)
            case .real(let d): return String(d)
            case .text(let s): return s
            case .blob(let b): return "x'" + b.map { $0.hex(width: 2) }.joined() + "'"
            }
        }
    }

    /// Runs `sql` (one statement) with `arguments` bound in order; returns every row.
    @discardableResult
    public func query(_ sql: String, _ arguments: [Value] = []) throws -> [[Value]] {
        var rows: [[Value]] = []
        try forEachRow(sql, arguments) { rows.append($0) }
        return rows
    }

    /// Runs `sql` calling `body` for each row (streaming; nothing accumulates).
    public func forEachRow(_ sql: String, _ arguments: [Value] = [], _ body: ([Value]) throws -> Void) throws {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else {
            throw error("prepare", sql)
        }
        defer { sqlite3_finalize(stmt) }
        for (i, a) in arguments.enumerated() {
            let idx = Int32(i + 1)
            switch a {
            case .null: sqlite3_bind_null(stmt, idx)
            case .integer(let v): sqlite3_bind_int64(stmt, idx, v)
            case .real(let v): sqlite3_bind_double(stmt, idx, v)
            case .text(let v): sqlite3_bind_text(stmt, idx, v, -1, liteproof_sqlite_transient())
            case .blob(let v): _ = v.withUnsafeBytes { sqlite3_bind_blob(stmt, idx, $0.baseAddress, Int32(v.count), liteproof_sqlite_transient()) }
            }
        }
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error("run", sql) }
            var row: [Value] = []
            let n = sqlite3_column_count(stmt)
            row.reserveCapacity(Int(n))
            for c in 0..<n {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(stmt, c)))
                case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(stmt, c)))
                case SQLITE_TEXT: row.append(.text(String(cString: sqlite3_column_text(stmt, c))))
                case SQLITE_BLOB:
                    let count = Int(sqlite3_column_bytes(stmt, c))
                    if count == 0 {
                        row.append(.blob([]))
                    } else {
                        let p = sqlite3_column_blob(stmt, c)!
                        row.append(.blob(Array(UnsafeRawBufferPointer(start: p, count: count))))
                    }
                default: row.append(.null)
                }
            }
            try body(row)
        }
    }

    /// Runs one or more statements with no results (`sqlite3_exec`).
    public func execute(_ sql: String) throws {
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw error("run", sql) }
    }

    /// SQLite's failure as a ``LiteProofError``: a database SQLite finds malformed (SQLITE_CORRUPT,
    /// SQLITE_NOTADB) fails the check on it; anything else is the local side's.
    func error(_ what: String, _ sql: String) -> LiteProofError {
        let code = sqlite3_extended_errcode(handle) & 0xff
        return LiteProofError(
            code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? .checkFailed : .storage(.local),
            "SQLite could not \(what) `\(sql)` on \(path): \(String(cString: sqlite3_errmsg(handle))) (code \(sqlite3_extended_errcode(handle)))")
    }

    /// `PRAGMA quick_check` or `integrity_check`; returns the problems (empty when "ok").
    public func integrityCheck(full: Bool) throws -> [String] {
        let rows = try query(full ? "PRAGMA integrity_check" : "PRAGMA quick_check")
        let lines = rows.compactMap { $0.first?.description }
        return lines == ["ok"] ? [] : lines
    }
}
