import CPlatform
import Foundation
import LiteProof
import Testing

/// `SQLiteDatabase.Mode.written` reads a database LiteProof wrote through a memory map
/// (MappedVFS.c). It must see exactly what SQLite's own reads see, intact or damaged, and must
/// not keep the file's pages mapped: a check of a large file stays within a few MiB.
@Suite struct MappedVFSTests {
    /// A database of about `megabytes` MiB: a table of random blobs with an index, and a second table.
    static func makeDatabase(megabytes: Int) throws -> String {
        let dir = try rigTempDir("mapped")
        let path = dir + "/db.sqlite"
        let db = try SQLiteDatabase(path: path, mode: .readWrite)
        try db.execute(
            """
            CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);
            CREATE INDEX t_k ON t(k);
            CREATE TABLE u(a, b);
            BEGIN;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(megabytes * 1024 / 3))
            INSERT INTO t(k, v) SELECT hex(randomblob(8)), randomblob(2500) FROM n;
            INSERT INTO u SELECT id, k FROM t WHERE id % 7 = 0;
            COMMIT;
            """)
        return path
    }

    static func answers(_ path: String, _ mode: SQLiteDatabase.Mode) throws -> [String] {
        let db = try SQLiteDatabase(path: path, mode: mode)
        var out = try db.integrityCheck(full: true) + db.integrityCheck(full: false)
        out += try ["SELECT count(*), sum(length(v)), max(k) FROM t", "SELECT count(*), min(b) FROM u", "SELECT k FROM t ORDER BY k LIMIT 3"]
            .map { try db.query($0).map { $0.map(\.description).joined(separator: "|") }.joined(separator: ";") }
        return out
    }

    @Test func readsWhatSQLiteReads() throws {
        let path = try Self.makeDatabase(megabytes: 6)
        let served = liteproof_mapped_vfs_served()
        let mapped = try Self.answers(path, .written)
        #expect(liteproof_mapped_vfs_served() - served >= 6 << 20)  // the pages came through the map
        #expect(mapped == (try Self.answers(path, .immutable)))
        #expect(mapped.first == "2048|5120000|" + mapped[0].split(separator: "|")[2])  // both checks said "ok" (no lines)
        #expect(try SQLiteDatabase(path: path, mode: .written).integrityCheck(full: true).isEmpty)
    }

    /// A damaged b-tree page is reported through the map in SQLite's own words.
    @Test func seesDamageAsSQLiteDoes() throws {
        let path = try Self.makeDatabase(megabytes: 3)
        let fd = open(path, O_RDWR)
        #expect(fd >= 0)
        // Page 5's header and first cell pointers (4096-byte pages), in the middle of table t.
        var junk = [UInt8](repeating: 0xA5, count: 64)
        #expect(pwrite(fd, &junk, junk.count, 4 * 4096 + 8) == junk.count)
        close(fd)
        let mapped = try Self.answers(path, .written)
        #expect(mapped == (try Self.answers(path, .immutable)))
        #expect(!mapped.isEmpty && mapped.first != "ok")
    }

    #if os(Linux)
        /// Resident file-backed pages of this process (the map's pages count as the process's memory).
        static func rssFileKiB() -> Int {
            let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("RssFile:") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
        }

        @Test func checkingALargeFileKeepsFewPagesMapped() throws {
            let path = try Self.makeDatabase(megabytes: 48)
            let db = try SQLiteDatabase(path: path, mode: .written)
            let before = Self.rssFileKiB()
            let served = liteproof_mapped_vfs_served()
            #expect(try db.integrityCheck(full: false).isEmpty)
            #expect(liteproof_mapped_vfs_served() - served >= 48 << 20)
            let grown = Self.rssFileKiB() - before
            // Every one of the file's 48 MiB was read through the map while the connection is open.
            #expect(before >= 0 && grown < 16 << 10, "resident file pages grew by \(grown) KiB")
        }
    #endif
}
