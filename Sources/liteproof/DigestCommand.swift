import ArgumentParser
import Foundation
import LiteProof

struct DigestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "Write the page hashes, whole-database checksums and WAL position of a live database.",
        discussion: """
            Run it where the live database is; copy the file to wherever the replica was \
            downloaded and run `liteproof compare REPLICA --digest FILE` there. The database is \
            read consistently and never written. The digest holds one 8-byte hash per page, the \
            SHA-256 of the whole image (equal to `sha256sum` of a quiesced file), the LTX-style \
            CRC-64 database checksum, the WAL's commits, and the entries of every table and index \
            (with a hash of each table's rowids), so `compare` can tell `identical`, `lagging`, \
            `ahead` and `differs` offline and name the tables that differ.
            """)

    @Argument(help: "The live database (read-only).")
    var database: String

    @Option(name: [.short, .customLong("output")], help: "Where to write the digest (JSON).")
    var output: String

    @Flag(help: "Replace an existing digest file.")
    var force = false

    @Flag(name: .long, help: "Print a JSON summary instead of text.")
    var json = false

    func run() throws {
        do {
            try FS.checkOutput(output, force: force)
            let d = try LiveDatabase.read(database) { try Comparer.liveDigest($0, name: database, tables: true) }
            try d.write(to: output, force: force)
            struct Summary: Encodable {
                var output: String; var pageSize: Int; var pageCount: UInt32; var sha256: String; var checksum: String; var walCommits: Int
            }
            let s = Summary(
                output: output, pageSize: d.pageSize, pageCount: d.pageCount, sha256: d.sha256, checksum: d.checksum, walCommits: d.wal?.commits ?? 0)
            if json {
                print(JSONOutput.encode(s))
            } else {
                print("digest of \(database) written to \(output)")
                print("  \(d.pageCount) pages × \(d.pageSize) B, sha256 \(d.sha256), checksum \(d.checksum), \(s.walCommits) WAL commits")
            }
        } catch {
            throw fail(error, json: json)
        }
    }
}
