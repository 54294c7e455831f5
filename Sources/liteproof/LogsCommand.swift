import ArgumentParser
import Foundation
import LiteProof

struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Read Litestream's logs and tell how the database started: restored, fresh, replicating only, or failed.",
        discussion: """
            Reads the log of a boot — `litestream restore` then `litestream replicate`, as a \
            platform shows them — from FILE or standard input (-), e.g. `fly logs | liteproof logs -`. \
            Lines may carry a platform's prefix (a timestamp, `app[web.1]:`) and may be interleaved \
            with the application's own lines, which are ignored. A line longer than 1 MiB is \
            skipped (never held in memory) and named in a warning.

            Recognised: Litestream 0.3.13 (key=value on stdout with -config; \
            `2006/01/02 15:04:05 INFO msg k=v` on stderr with a replica URL) and 0.5.x (key=value; \
            `Error: …` on stderr), and either version's `logging: type: json` (0.5 also `pretty`). \
            Evidence, in order with times: `litestream version=` (a boot), `replicating to` (type, \
            path), snapshots, WAL segments (0.3), compactions and LTX files (0.5; LTX uploads are \
            logged at debug level only), restore started / finished / no backup / skipped because \
            the database existed, 0.3 `sync: new generation` and its reason, 0.5 `detected database \
            behind replica`, and errors (ERROR lines, 0.3 `failed to run`, 0.5 `Error: …`).

            Verdict, for the last boot (earlier boots are listed briefly):
              restored          a restore finished: 0.3 "renaming database from
                                temporary location"; 0.5 "restore completed"
                                (replicate -restore-if-db-not-exists) or
                                "post-restore integrity check passed"
                                (restore -integrity-check)
              fresh             no backup existed: "no matching backups found"
                                (restore), 0.5 "no backup found, starting fresh"
              replicating-only  no restore in the boot: none ran, it was skipped
                                because the database existed, or it logged
                                nothing (0.5's `litestream restore` prints no
                                line on success without -integrity-check)
              failed            an error while a restore ran, or Litestream
                                exited with an error before replicating
                                (0.3 "failed to run", 0.5 "Error: …")
            A boot starts at a restore before `litestream version=`, or at that \
            version line.

            Warnings: a 0.3 restore followed by `sync: new generation` (the history \
            before the boot stays in the old generation), new generations for other \
            reasons, a 0.5 database found behind its replica with no restore logged, \
            errors while replicating.

            Exit codes: 0 the verdict is restored, fresh or replicating-only; 1 the verdict is \
            failed; 2 could not run (unreadable input, or no Litestream line in it).
            """)

    @Argument(help: ArgumentHelp("The log file, or - for standard input.", valueName: "file"))
    var file: String

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        do {
            let report = try LogReport.make(path: file)
            print(json ? JSONOutput.encode(report) : report.renderText())
            if report.verdict == .failed { throw ExitCode(1) }
        } catch let e as ExitCode {
            throw e
        } catch {
            throw fail(error, json: json)
        }
    }
}
