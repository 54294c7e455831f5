import ArgumentParser
import Foundation
import LiteProof

struct EvidenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence",
        abstract: "Bundle the evidence about a replica, or check a replica against a bundle.",
        discussion: """
            `liteproof evidence REPLICA [--live DB] -o BUNDLE.tar.zst` writes one zstd-compressed \
            tar holding manifest.json (the SHA-256 and size of every replica file, the tool's \
            version, the time), verify.json, compare.json (with --live) and restored.db (the \
            latest position, restored with LiteProof's own code).

            `liteproof evidence check BUNDLE.tar.zst REPLICA` re-checks that the replica still \
            matches the manifest and names every file added, removed or changed since. Exit 0 \
            when it matches, 1 when anything changed (or the bundle itself was altered), 2 when \
            it cannot run.
            """,
        subcommands: [Create.self, Check.self],
        defaultSubcommand: Create.self)

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Write an evidence bundle (the default).")

        @OptionGroup var options: ReplicaOptions

        @Option(help: "A live database to compare with (read-only).")
        var live: String?

        @Option(name: [.short, .customLong("output")], help: "The bundle to write (.tar.zst).")
        var output: String

        func run() throws {
            do {
                let m = try Evidence.create(
                    replica: try options.open(), live: live, output: output,
                    tool: "liteproof \(LiteProofVersion.string)", progress: options.progressHandler())
                if options.json {
                    print(JSONOutput.encode(m))
                } else {
                    print("evidence bundle written to \(output)")
                    print("  \(m.files.count) replica files hashed; verify: \(m.verdict); position: \(m.position ?? "none")")
                    print("  members: \(m.members.joined(separator: ", "))")
                    if let e = m.restoreError { print("  restore failed: \(e.escapedForText)") }
                    if let c = m.compareVerdict { print("  compare with \(m.live ?? ""): \(c)") }
                }
            } catch {
                throw fail(error, json: options.json)
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "check", abstract: "Check a replica against a bundle's manifest.")

        @Argument(help: "The evidence bundle (.tar.zst).")
        var bundle: String

        @Argument(help: "The replica to check.")
        var replica: String

        @Flag(name: .long, help: "Print one JSON object instead of text.")
        var json = false

        func run() throws {
            let report: Evidence.CheckReport
            do { report = try Evidence.check(bundle: bundle, replica: replica) } catch { throw fail(error, json: json) }
            print(json ? JSONOutput.encode(report) : report.renderText())
            if !report.matches || !report.bundleIntact { throw ExitCode(1) }
        }
    }
}
