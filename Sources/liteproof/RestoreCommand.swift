import ArgumentParser
import Foundation
import LiteProof

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Rebuild the database from the replica with LiteProof's own code.",
        discussion: """
            Applies the replica's files itself — 0.3: the snapshot, then every committed WAL frame \
            of each index; 0.5: the snapshot and LTX files along Litestream's restore plan — and \
            writes exactly what `litestream restore` writes for the same target. Litestream is \
            never called and SQLite applies nothing (it only runs the integrity check).

            Targets (default: the latest restorable point):
              0.3: --generation ID, --index HEX [--offset N], --timestamp TIME
              0.5: --txid HEX, --timestamp TIME
            TIME is ISO 8601 (2026-11-27T10:00:00Z). 0.3 replicas have no times inside their \
            files: file modification times are used (as Litestream does), with a warning when \
            they look lost by a copy.

            The output is written beside PATH as a temporary file, fsynced and renamed; an \
            existing PATH is refused unless --force. A damaged replica is refused with the \
            finding that stopped it and leaves nothing behind.

            With Litestream's configuration, as `litestream restore -config` takes it: \
            `liteproof restore --config /etc/litestream.yml /data/app.db -o app.db` restores \
            that database from the replica the file names for it (0.3 with several: --replica NAME).

            Exit codes: 0 restored (and the check passed); 1 the replica is damaged or the \
            integrity check failed; 2 could not run.
            """)

    @OptionGroup var options: ReplicaOptions

    @Option(name: [.short, .customLong("output")], help: "Where to write the restored database.")
    var output: String?

    @OptionGroup var targetOptions: RestoreTargetOptions

    @Option(name: .customLong("integrity-check"), help: "SQLite check of the result: none, quick or full.")
    var integrityCheck: RestoreOptions.IntegrityCheck = .quick

    @Flag(help: "Replace an existing output file (and its -wal/-shm/-journal).")
    var force = false

    @Flag(
        name: .customLong("keep-failed"),
        help: ArgumentHelp(
            "Keep the output even if SQLite's integrity check fails on it.",
            discussion:
                "Damage found while applying the replica (a bad frame, a broken checksum) leaves nothing: a half-applied file is no state the database was ever in. Run `liteproof timeline` for the last point that restores cleanly and restore to it (--index/--offset or --txid)."
        ))
    var keepFailed = false

    @Flag(name: .customLong("dry-run"), help: "Print the plan (each file in order) and write nothing.")
    var dryRun = false

    func validate() throws {
        if targetOptions.txid != nil && options.generation != nil { throw ValidationError("--txid is for 0.5 replicas; --generation/--index are for 0.3") }
        if output == nil && !dryRun { throw ValidationError("give -o PATH for the restored database (or --dry-run to see the plan)") }
    }

    func run() throws {
        do {
            let target = targetOptions.target(generation: options.generation)
            let replica = try options.open()
            if replica.format == .v03 && target.txid != nil {
                throw LiteProofError(.usage, "--txid is for Litestream 0.5 replicas; this one is 0.3 (use --generation/--index)")
            }
            if replica.format == .ltx && (target.generation != nil || target.index != nil) {
                throw LiteProofError(.usage, "--generation/--index are for Litestream 0.3 replicas; this one is 0.5 (use --txid)")
            }
            let restorer = Restorer(replica: replica, progress: options.progressHandler())
            if dryRun {
                let plan = try restorer.plan(target)
                let view = PlanView(plan, replica: replica)
                print(options.json ? JSONOutput.encode(view) : view.renderText())
                return
            }
            let opts = RestoreOptions(force: force, integrityCheck: integrityCheck, keepFailed: keepFailed)
            let report = try restorer.restore(target, to: output!, options: opts)
            print(options.json ? JSONOutput.encode(report) : report.renderText())
        } catch let e as ValidationError {
            throw e
        } catch let e as ExitCode {
            throw e
        } catch {
            throw fail(error, json: options.json)
        }
    }
}
