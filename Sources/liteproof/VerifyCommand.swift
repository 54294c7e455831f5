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

            When the files are sound, the latest position is also restored into a scratch folder \
            with LiteProof's own code and checked with SQLite (--restore-check), and the newest \
            canary row in it is reported (with --live, also the live canaries not replicated yet).

            Exit codes: 0 sound (warnings allowed); 1 findings that break a restore or the data; \
            2 could not run.
            """)

    @OptionGroup var options: ReplicaOptions

    @Option(
        name: .customLong("restore-check"),
        help: "After the file checks, restore the latest position into a scratch folder and run SQLite's check on it: none, quick or full.")
    var restoreCheck: String = "quick"

    @Option(help: "A live database: list its canaries that are not in the replica yet (read-only).")
    var live: String?

    func validate() throws {
        if RestoreOptions.IntegrityCheck(rawValue: restoreCheck) == nil { throw ValidationError("--restore-check takes none, quick or full") }
    }

    func run() throws {
        let replica: Replica
        do {
            replica = try options.open()
            if let live { try FS.checkInput(live) }
        } catch { throw fail(error, json: options.json) }
        let report: VerifyReport
        do {
            report = try Verifier(
                replica: replica, progress: options.progressHandler(),
                restoreCheck: RestoreOptions.IntegrityCheck(rawValue: restoreCheck)!, live: live
            ).check()
        } catch { throw fail(error, json: options.json) }
        // A file that could not be downloaded is not damage: no verdict, exit 2.
        if let error = options.transferFailure(replica) { throw fail(error, json: options.json) }
        print(options.json ? JSONOutput.encode(report) : report.renderText())
        if report.verdict == .damaged { throw ExitCode(1) }
    }
}
