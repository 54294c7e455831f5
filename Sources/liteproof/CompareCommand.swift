import ArgumentParser
import Foundation
import LiteProof

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Prove the replica holds what the live database holds, page by page.",
        discussion: """
            Restores the replica with LiteProof's own code into a scratch folder (removed \
            afterwards) and compares it with the live database, read consistently even while the \
            application writes: the database file overlaid with its WAL's committed frames, salts \
            and checksums checked. The live database is never written: no checkpoint, no -shm or \
            -wal created, no lock taken.

            Verdicts, with their exit codes:
              identical (0)  the live database equals the replica's latest position
              lagging (0; 1 past --max-lag)
                             the replica equals an earlier state of the live
                             database (the file alone, or with a prefix of its
                             WAL's commits): how many commits behind, and where
              ahead (0)      the live state (a database read earlier, or a
                             digest) is point X of the replica's history, and
                             the replica holds N later commits (0.5: TXIDs):
                             the application went on writing
              lagging-unproven (3)
                             no state matches, but the live WAL shows the
                             database moved on past the replica's last change
                             (restarted since, or checkpointed into the file):
                             probably behind, not provable; rerun with --wait
                             or against a digest taken earlier
              differs (1)    no state matches: each differing page is named
                             with the table or index that owns it, with entry
                             counts and rowids per table

            --wait SECONDS reads the replica again (listing, plan, restore) until it is \
            identical to or ahead of the live state, or the time runs out; a live database is \
            read once, at the start. Progress goes to stderr.

            Offline: run `liteproof digest DB -o live.digest` where the database lives, then \
            `liteproof compare REPLICA --digest live.digest` anywhere.

            With Litestream's configuration: `liteproof compare --config /etc/litestream.yml \
            /data/app.db` compares the database at that path (live, read-only) with the replica the file names for it.
            """)

    @OptionGroup var options: ReplicaOptions

    @Option(help: "The live database (read-only).")
    var live: String?

    @Option(help: "A digest written by `liteproof digest` instead of the live database.")
    var digest: String?

    @Option(name: .customLong("max-lag"), help: "With a lagging replica, exit 1 when it is more than this many commits behind.")
    var maxLag: Int?

    @Option(help: "How many differing pages and rowids to list.")
    var limit = 50

    @Option(help: ArgumentHelp("Read the replica again until it holds the live state, for at most this long.", valueName: "seconds"))
    var wait: Double?

    func validate() throws {
        if live != nil && digest != nil { throw ValidationError("give --live DB or --digest FILE, not both") }
        if live == nil && digest == nil && options.configOptions.config == nil {
            throw ValidationError("give --live DB or --digest FILE (with --config, the database's path: is the live one)")
        }
        if let wait, !(wait >= 0 && wait <= 86400) { throw ValidationError("--wait takes 0 to 86400 seconds") }
    }

    func run() throws {
        let report: CompareReport
        do {
            // With --config and neither --live nor --digest: the configuration's database.
            let live = try live ?? (digest == nil ? options.configOptions.target(database: options.replica).database : nil)
            for input in [live, digest].compactMap({ $0 }) { try FS.checkInput(input) }
            let input: Comparer.LiveInput = try live.map { .database($0) } ?? .digest(try DatabaseDigest.read(from: digest!))
            let (limit, progress) = (limit, options.progressHandler())
            let configure: (inout Comparer) -> Void = { c in
                c.listLimit = limit
                c.progress = progress
            }
            if let wait {
                let quiet = options.quiet
                report = try Comparer.waitForReplica(
                    open: options.open, live: input, seconds: wait, configure: configure,
                    status: { line in if !quiet { FileHandle.standardError.write(Data("liteproof: \(line.escapedForText)\n".utf8)) } })
            } else {
                var comparer = Comparer(replica: try options.open())
                configure(&comparer)
                switch input {
                case .database(let path): report = try comparer.compare(live: path)
                case .digest(let d): report = try comparer.compare(digest: d)
                }
            }
        } catch {
            throw fail(error, json: options.json)
        }
        print(options.json ? JSONOutput.encode(report) : report.renderText())
        switch report.verdict {
        case .identical, .ahead: return
        case .lagging: if let m = maxLag, (report.lag?.commitsBehind ?? 0) > m { throw ExitCode(1) }
        case .laggingUnproven: throw ExitCode(3)
        case .differs: throw ExitCode(1)
        }
    }
}
