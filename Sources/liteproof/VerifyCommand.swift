import ArgumentParser
import LiteProof

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Read every file of a replica and check it and the chain of files.",
        discussion: """
            Checks LZ4 frames (content checksums), SQLite WAL headers, salts and checksum chains, \
            snapshot headers, LTX headers, page blocks, page indexes and CRC-64 file checksums; then \
            the chain: WAL segment offsets with no hole or overlap, no missing WAL index, a snapshot \
            to start from, contiguous TXIDs along the restore plan; and files that belong to no layout.

            Each finding has a severity, a stable code (e.g. wal.checksum-mismatch, \
            lz4.content-checksum, ltx.file-checksum, chain.gap), the file, the byte offset and what \
            was expected. Offsets inside LZ4-compressed 0.3 files are offsets in the decompressed data.

            Exit codes: 0 sound (warnings allowed); 1 findings that break a restore or the data; \
            2 could not run.
            """)

    @OptionGroup var options: ReplicaOptions

    func run() throws {
        let replica: Replica
        do { replica = try options.open() } catch { throw fail(error, json: options.json) }
        let report = Verifier(replica: replica, progress: options.progressHandler()).run()
        print(options.json ? JSONOutput.encode(report) : report.renderText())
        if report.verdict == .damaged { throw ExitCode(1) }
    }
}
