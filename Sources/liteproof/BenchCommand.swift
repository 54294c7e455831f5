import ArgumentParser
import Foundation
import LiteProof

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time restores of a replica, phase by phase, beside `litestream restore`.",
        discussion: """
            Restores the latest position --runs times after one warm-up into a scratch folder \
            (removed afterwards; the replica is only read) and reports median, min and max per \
            phase — listing and planning, reading, decompressing, applying, syncing, integrity \
            check — with throughput and peak memory, and the floor beside them: the time to read \
            and decompress every file of the plan once (on all cores) plus the time to write the \
            result once (one sequential pass and an fsync). With --litestream PATH (or --litestream auto \
            for the `litestream` on PATH), also runs `litestream restore` on the same replica, \
            alternating the two (A B A B …), and reports each median, the ratio, and whether the \
            outputs are byte-identical. Use the Litestream version that wrote the replica.
            """)

    @OptionGroup var options: ReplicaOptions

    @Option(help: "Timed runs (after one warm-up).")
    var runs = 5

    @Option(help: "A litestream binary to run beside LiteProof, or `auto` to use the one on PATH.")
    var litestream: String?

    @Option(name: .customLong("integrity-check"), help: "SQLite check after each LiteProof restore: none, quick or full.")
    var integrityCheck: RestoreOptions.IntegrityCheck = .quick

    func validate() throws {
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
    }

    func run() throws {
        do {
            var bin = litestream
            if bin == "auto" {
                bin = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
                    .map { "\($0)/litestream" }.first { FileManager.default.isExecutableFile(atPath: $0) }
                if bin == nil { throw LiteProofError(.usage, "no litestream on PATH; give --litestream PATH") }
            }
            if let b = bin, !FileManager.default.isExecutableFile(atPath: b) {
                throw LiteProofError(.usage, "\(b) is not an executable")
            }
            var bench = RestoreBenchmark(replica: try options.open(), runs: runs, litestream: bin)
            bench.integrityCheck = integrityCheck
            if !options.json && !options.quiet && isatty(2) == 1 {
                bench.progress = { FileHandle.standardError.write(Data("\r\($0)…\u{1B}[K".utf8)) }
            }
            let report = try bench.run()
            if bench.progress != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            print(options.json ? JSONOutput.encode(report) : report.renderText())
        } catch {
            throw fail(error, json: options.json)
        }
    }
}
