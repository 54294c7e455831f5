import Foundation
import LiteProof
import Testing

/// LTX files LiteProof can read but Litestream refuses, LTX files of older format versions, and
/// files from an older Litestream release — each from a real replica, rewritten where needed.
@Suite struct LTXCompatibilityTests {
    static let snapshot = "ltx/9/0000000000000001-0000000000000007.ltx"
    static let olderSnapshot = "ltx/9/0000000000000001-0000000000000005.ltx"

    /// The decompressed pages of a real LTX file, in order.
    func pages(_ path: String) throws -> [(UInt32, [UInt8])] {
        var out: [(UInt32, [UInt8])] = []
        try LTX.decode(try ReadOnlyFile(path), name: path) { pgno, page in out.append((pgno, Array(page))) }
        return out
    }

    /// Rewrites a real LTX file as an LTX writer would: the header edited, the pages kept or
    /// dropped, the post-apply checksum set, and the file checksum (CRC-64/ISO over the header,
    /// the page headers and size prefixes, the decompressed pages, the end mark, the page index
    /// and the post-apply field) computed afresh.
    func rewrite(_ path: String, dropPages: Bool = false, post: UInt64 = 0, header edit: (inout [UInt8]) -> Void) throws {
        let b = try bytes(of: path)
        let f = try ReadOnlyFile(path)
        let entries = try LTX.readIndex(f, name: path, header: try LTX.readHeader(f, name: path))
        let decoded = try pages(path)
        var header = Array(b[0..<100])
        edit(&header)
        let trailerAt = b.count - 16
        let indexSize = Int(b[(trailerAt - 8)..<trailerAt].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let indexAt = trailerAt - 8 - indexSize
        var crc = CRC64()
        crc.update(header)
        var body: [UInt8]
        if dropPages {
            body = [0, 0, 0, 0, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 1]  // end mark; empty index (a zero varint) and its size
            crc.update(body)
        } else {
            for (e, (_, page)) in zip(entries, decoded) {
                let at = Int(e.offset)
                let headerSize = b[at + 5] & 1 != 0 ? 10 : 6
                crc.update(Array(b[at..<(at + headerSize)]))
                crc.update(page)
            }
            crc.update(Array(b[(indexAt - 6)..<trailerAt]))
            body = Array(b[100..<trailerAt])
        }
        let postBytes = withUnsafeBytes(of: post.bigEndian) { Array($0) }
        crc.update(postBytes)
        let sum = withUnsafeBytes(of: (crc.value | 1 << 63).bigEndian) { Array($0) }
        try write(header + body + postBytes + sum, to: path)
    }

    /// The database checksum of a snapshot's pages (as its post-apply checksum states it).
    func databaseChecksum(_ path: String) throws -> UInt64 {
        try pages(path).reduce(UInt64(0)) { acc, p in p.1.withUnsafeBytes { acc ^ DatabaseDigest.pageHash(p.0, $0) } } | 1 << 63
    }

    /// Header flags 0 (checksums tracked, as `ltx encode-db` writes) with a correct post-apply
    /// checksum: LiteProof reads and restores it; Litestream 0.5.17 refuses a restore that ends
    /// with it. An error when the latest restore ends with the file, else a warning.
    @Test func checksumsDeclaredAreALitestreamIncompatibility() throws {
        let dir = try exampleCopy("0.5")
        for f in [Self.snapshot, Self.olderSnapshot] {
            let path = dir + "/" + f
            let sum = try databaseChecksum(path)
            try rewrite(path, post: sum) { $0[7] = 0 }
        }
        let r = try verify(dir)
        let hits = r.findings(.ltxLitestreamIncompatible)
        #expect(hits.count == 2, "\(r.findings)")
        let latest = hits.first { $0.file == Self.snapshot }, older = hits.first { $0.file == Self.olderSnapshot }
        #expect(latest?.severity == .error && latest?.message.contains("post-apply checksum not allowed") == true, "\(hits)")
        #expect(latest?.message.contains("Litestream 0.5.17") == true)
        #expect(older?.severity == .warning && older?.message.contains("TXID 0000000000000005") == true, "\(hits)")
        #expect(r.verdict == .damaged)
        #expect(Set(r.findings.map(\.code)) == [.ltxLitestreamIncompatible], "only the compatibility findings: \(r.findings)")

        // LiteProof restores it, to the live database's bytes.
        let out = try rigTempDir("checksums") + "/ours.db"
        let ours = try runLiteProof(["restore", dir, "-o", out])
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(try bytes(of: out) == bytes(of: Fixtures.example("0.5").live))
        // The real Litestream 0.5.17 refuses it, with the words the finding quotes.
        let ls = try litestreamRestore(.v05, replicaDir: dir, output: try rigTempDir("checksums-ls") + "/ls.db")
        #expect(ls.status != 0 && ls.output.contains("post-apply checksum not allowed"), "\(ls.output)")
    }

    /// A wrong post-apply checksum in a snapshot that declares checksums is damage.
    @Test func wrongPostApplyChecksumOfASnapshotWithChecksums() throws {
        let dir = try exampleCopy("0.5"), path = dir + "/" + Self.snapshot
        let sum = try databaseChecksum(path)
        try rewrite(path, post: sum ^ 0x10) { $0[7] = 0 }
        let r = try verify(dir)
        #expect(r.findings(.ltxTrailer).first?.file == Self.snapshot, "\(r.findings)")
    }

    /// A snapshot whose header says commit 0 and that holds no pages restores to a 0-byte file;
    /// Litestream refuses it, and so does LiteProof: damage, restore exit 1 naming the file.
    @Test func commitZeroSnapshotIsDamage() throws {
        let dir = try exampleCopy("0.5")
        // The newest snapshot, alone: the latest restore is that snapshot.
        for f in FS.walk(dir) where !f.hasPrefix("ltx/9/") { try FileManager.default.removeItem(atPath: dir + "/" + f) }
        try rewrite(dir + "/" + Self.snapshot, dropPages: true) { h in for k in 12..<16 { h[k] = 0 } }
        let r = try verify(dir)
        expectFinding(r, .ltxCommit, file: Self.snapshot, offset: 12)
        #expect(r.verdict == .damaged)

        let out = try rigTempDir("commit0") + "/ours.db"
        let ours = try runLiteProof(["restore", dir, "-o", out])
        #expect(ours.status == 1, "\(ours.stdout)\(ours.stderr)")
        #expect(ours.stderr.contains(Self.snapshot) && ours.stderr.contains("commit 0"), "\(ours.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let ls = try litestreamRestore(.v05, replicaDir: dir, output: try rigTempDir("commit0-ls") + "/ls.db")
        #expect(
            ls.status != 0 && ls.output.contains("post-apply checksum must be empty for zero-length database"), "Litestream 0.5.17 refuses it too: \(ls.output)"
        )
        #expect(ours.stderr.contains("post-apply checksum must be empty for zero-length database"), "the finding quotes Litestream's error")
    }

    /// A restore whose last file says commit 0 (a deletion file) would be an empty database;
    /// Litestream 0.5.17 refuses it, and LiteProof reports damage naming the file.
    @Test func restoreEndingWithCommitZeroIsDamage() throws {
        let dir = try exampleCopy("0.5")
        try FileManager.default.removeItem(atPath: dir + "/" + Self.snapshot)
        let last = "ltx/1/0000000000000006-0000000000000007.ltx"
        try rewrite(dir + "/" + last, dropPages: true) { h in for k in 12..<16 { h[k] = 0 } }
        let r = try verify(dir)
        expectFinding(r, .ltxCommit, file: last, offset: 12)
        let out = try rigTempDir("commit0-last") + "/ours.db"
        let ours = try runLiteProof(["restore", dir, "-o", out])
        #expect(ours.status == 1 && ours.stderr.contains(last), "\(ours.stderr)")
        let ls = try litestreamRestore(.v05, replicaDir: dir, output: try rigTempDir("commit0-last-ls") + "/ls.db")
        #expect(ls.status != 0 && ls.output.contains("post-apply checksum must be empty for zero-length database"), "\(ls.output)")
    }

    /// Version 1 (ltx 0.3 and older): 4-byte page headers and raw pages, no page index; or every
    /// page in one LZ4 stream (header flag 0x1). Rebuilt from a real snapshot's pages.
    @Test func ltxVersion1IsNamed() throws {
        let dir = try exampleCopy("0.5"), path = dir + "/" + Self.snapshot
        let b = try bytes(of: path)
        var v1 = Array(b[0..<100])
        for (pgno, page) in try pages(path) { v1 += withUnsafeBytes(of: pgno.bigEndian) { Array($0) } + page }
        v1 += [0, 0, 0, 0] + [UInt8](repeating: 0, count: 8) + Array(b[(b.count - 8)...])
        try write(v1, to: path)
        let r = try verify(dir)
        expectFinding(r, .ltxVersion, file: Self.snapshot, offset: 100)
        let message = r.findings(.ltxVersion).first?.message ?? ""
        #expect(message.contains("LTX version 1") && message.contains("Litestream 0.5.0-beta1"), "\(message)")
        #expect(!message.contains("unknown flags"))

        var compressed = try bytes(of: Fixtures.example("0.5").replica + "/" + Self.snapshot)
        compressed[7] = 0x03
        try write(compressed, to: path)
        let r2 = try verify(dir)
        expectFinding(r2, .ltxVersion, file: Self.snapshot, offset: 4)
        #expect(r2.findings(.ltxVersion).first?.message.contains("LTX version 1") == true)
    }

    /// Version 2 (ltx 0.4): each page an LZ4 frame after a 4-byte page number. Rebuilt from a file
    /// Litestream 0.5.5 wrote (version 3 with LZ4 frames) by dropping the page flags.
    @Test func ltxVersion2IsNamed() throws {
        let dir = try scratchCopy(ofDirectory: Fixtures.example("0.5.5").replica), path = dir + "/" + Self.snapshot
        let b = try bytes(of: path)
        let entries = try LTX.readIndex(try ReadOnlyFile(path), name: path, header: try LTX.readHeader(try ReadOnlyFile(path), name: path))
        var v2 = Array(b[0..<100])
        for e in entries {
            let at = Int(e.offset)
            v2 += Array(b[at..<(at + 4)]) + Array(b[(at + 6)..<(at + Int(e.size))])
        }
        v2 += [0, 0, 0, 0] + Array(b[(b.count - 16)...])
        try write(v2, to: path)
        let r = try verify(dir)
        expectFinding(r, .ltxVersion, file: Self.snapshot, offset: 100)
        #expect(r.findings(.ltxVersion).first?.message.contains("LTX version 2") == true, "\(r.findings)")
    }

    /// Litestream 0.5.5 (ltx 0.5.1) writes version 3 with every page an LZ4 frame and no page
    /// flag: the committed replica verifies, and restores to the live database's bytes.
    @Test func replicaOfLitestream055() throws {
        let example = Fixtures.example("0.5.5")
        let first = try bytes(of: example.replica + "/" + Self.snapshot)
        #expect(Array(first[104..<110]) == [0, 0, 0x04, 0x22, 0x4D, 0x18], "page 1: flags 0, then an LZ4 frame")
        let r = try verify(example.replica)
        #expect(r.verdict == .ok && r.findings.isEmpty, "\(r.findings)")
        #expect(r.latest?.txid == 7)
        let out = try rigTempDir("ls055") + "/ours.db"
        let ours = try runLiteProof(["restore", example.replica, "-o", out])
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(try bytes(of: out) == bytes(of: example.live))
    }
}
