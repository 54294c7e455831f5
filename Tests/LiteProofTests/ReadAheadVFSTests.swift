import CPlatform
import Foundation
import LiteProof
import Testing

/// `SQLiteDatabase.Mode.written` reads a database LiteProof wrote through a read-ahead VFS
/// (ReadAheadVFS.c). It must see exactly what SQLite's own reads see: intact, damaged or cut short.
@Suite(.serialized) struct ReadAheadVFSTests {
    /// A database of about `megabytes` MiB: a table of random blobs with an index on random keys
    /// (its pages spread over the file), and a second table.
    static func makeDatabase(megabytes: Int) throws -> String {
        let dir = try rigTempDir("readahead")
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

    /// Both checks' lines, then three queries' results (or the error each step gave).
    static func answers(_ path: String, _ mode: SQLiteDatabase.Mode) throws -> [String] {
        let db = try SQLiteDatabase(path: path, mode: mode)
        var out: [String] = []
        func run(_ step: () throws -> [String]) {
            do { out += try step() } catch let e as LiteProofError { out.append(e.message.replacingOccurrences(of: path, with: "DB")) } catch {
                out.append("\(error)")
            }
        }
        run { ["integrity_check:"] + (try db.integrityCheck(full: true)) }
        run { ["quick_check:"] + (try db.integrityCheck(full: false)) }
        for sql in ["SELECT count(*), sum(length(v)) FROM t", "SELECT count(*), min(b) FROM u", "SELECT k FROM t ORDER BY k LIMIT 3"] {
            run { [try db.query(sql).map { $0.map(\.description).joined(separator: "|") }.joined(separator: ";")] }
        }
        return out
    }

    @Test func readsWhatSQLiteReads() throws {
        let path = try Self.makeDatabase(megabytes: 6)
        let served = liteproof_readahead_vfs_served()
        let ours = try Self.answers(path, .written)
        // Most pages came from the read-ahead buffers (both checks read every page).
        #expect(liteproof_readahead_vfs_served() - served >= 6 << 20)
        #expect(ours == (try Self.answers(path, .immutable)))
        #expect(ours.prefix(3) == ["integrity_check:", "quick_check:", "2048|5120000"])
    }

    /// A damaged b-tree page is reported in SQLite's own words.
    @Test func seesDamageAsSQLiteDoes() throws {
        let path = try Self.makeDatabase(megabytes: 3)
        let fd = open(path, O_RDWR)
        #expect(fd >= 0)
        // Page 5's header and first cell pointers (4096-byte pages), in the middle of table t.
        var junk = [UInt8](repeating: 0xA5, count: 64)
        #expect(pwrite(fd, &junk, junk.count, 4 * 4096 + 8) == junk.count)
        close(fd)
        let ours = try Self.answers(path, .written)
        #expect(ours == (try Self.answers(path, .immutable)))
        #expect(ours[1] != "quick_check:", "the damage is found")
    }

    /// A file cut in the middle of a page: the reads the buffers cannot hold whole go to SQLite's
    /// own VFS, which reports the short read.
    @Test func aFileCutShortReadsAsSQLiteReadsIt() throws {
        let path = try Self.makeDatabase(megabytes: 3)
        let size = try #require(FS.fileSize(path))
        #expect(truncate(path, off_t(size - 4096 * 7 - 1000)) == 0)
        let ours = try Self.answers(path, .written)
        #expect(ours == (try Self.answers(path, .immutable)))
        #expect(ours.prefix(2) != ["integrity_check:", "quick_check:"], "the missing pages are found: \(ours)")
    }
}
