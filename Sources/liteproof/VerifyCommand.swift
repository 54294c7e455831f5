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

            With --all, the argument is a folder, an archive or an s3://, gs://, sftp:// or webdav:// prefix holding many \
            replicas at any depth: \
            each is verified (several at once) and gets one line (--json: one JSON object per line, \
            then a summary object); --shard I/N keeps the replicas whose name hashes into shard I \
            of N; --metrics writes Prometheus gauges. Exit 1 if any database is damaged, 2 if any \
            could not be read.

            With Litestream's configuration: `liteproof verify --config /etc/litestream.yml \
            /data/app.db` verifies the replica the file names for that database (the argument \
            may be left out when it lists one); `verify --all --config FILE` verifies every \
            replica it names, one line each.

            Exit codes: 0 sound (warnings allowed) and the latest position restores; 1 findings \
            that break a restore or the data; 2 a file could not be read (unreadable), the \
            latest position cannot be decided (undecided: pass --generation), or a usage error.
            """)

    @OptionGroup var options: ReplicaOptions

    @Option(
        name: .customLong("restore-check"),
        help: "After the file checks, restore the latest position into a scratch folder and run SQLite's check on it: none, quick or full.")
    var restoreCheck: RestoreOptions.IntegrityCheck = .quick

    @Option(help: "A live database: list its canaries that are not in the replica yet (read-only).")
    var live: String?

    @Flag(help: "Verify every replica found below the argument, at any depth (a fleet).")
    var all = false

    @Option(
        help: ArgumentHelp("With --all: only shard I of N (0 ≤ I < N), by a stable hash of each replica's path.", valueName: "I/N"),
        transform: { try FleetShard(parsing: $0) })
    var shard: FleetShard?

    @Option(help: "With --all: replicas verified at once (default: the number of cores).")
    var jobs: Int?

    @Option(help: "With --all: write Prometheus gauges to this file (atomically; for node_exporter's textfile collector).")
    var metrics: String?

    func validate() throws {
        if !all && (shard != nil || jobs != nil || metrics != nil) { throw ValidationError("--shard, --jobs and --metrics need --all") }
        if all && live != nil { throw ValidationError("--live names one database; it does not go with --all") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        if all {
            return try VerifyAll(
                root: options.replica, config: options.configOptions, json: options.json, quiet: options.quiet, shard: shard, jobs: jobs,
                metrics: metrics, restoreCheck: restoreCheck
            ).run()
        }
        let replica: Replica
        do {
            replica = try options.open()
            if let live { try FS.checkInput(live) }
        } catch { throw fail(error, json: options.json) }
        let report: VerifyReport
        do {
            report = try Verifier(
                replica: replica, progress: options.progressHandler(),
                restoreCheck: restoreCheck, live: live
            ).check()
        } catch { throw fail(error, json: options.json) }
        // A file the store could not produce is not damage: the report says `unreadable`, exit 2.
        print(options.json ? JSONOutput.encode(report) : report.renderText())
        if report.verdict != .ok { throw ExitCode(report.verdict.exitCode) }
    }
}
