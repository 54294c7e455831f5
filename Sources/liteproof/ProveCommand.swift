import ArgumentParser
import Foundation
import LiteProof
import LiteProofMetrics

struct ProveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prove",
        abstract: "Run the proof-of-persistence cycle against a running Litestream setup.",
        discussion: """
            Steps: (1) the replica can be read and planned; (2) a canary row is written to the \
            live database (the only write LiteProof makes; see `liteproof canary`); (3) LiteProof \
            polls the replica, restoring it with its own code each time its files change, until \
            the canary is there or --timeout passes; (4) the restored database passes SQLite's \
            quick_check; (5) it is compared with the live database (identical or lagging passes).

            Verdict `proven` (exit 0) or `not-proven` with the step that failed (exit 1), with \
            the replication lag and restore time measured and every step's evidence listed.
            """)

    @Option(help: "The live database Litestream replicates.")
    var db: String

    @Option(help: "The replica LiteProof can read (a folder, a file:// URL, or a downloaded bucket prefix).")
    var replica: String

    @Option(help: "0.3: use this generation (16 hex digits) wherever a restore plan is made, instead of the one LiteProof would choose.")
    var generation: String?

    @Option(help: "Seconds to wait for the canary to reach the replica.")
    var timeout: Double = 60

    @Option(help: "A label stored with the canary.")
    var label: String?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @Option(help: "Write Prometheus gauges to this file (atomically; for node_exporter's textfile collector).")
    var metrics: String?

    func run() throws {
        var proof = ProofOfPersistence(database: db, replica: replica, timeout: timeout)
        proof.label = label
        proof.generation = generation
        if let generation {  // a wrong --generation is a usage error (exit 2), not an unproven replica
            do { _ = try Replica.open(replica).choosing(generation: generation) } catch { throw fail(error, json: json) }
        }
        if !json && isatty(2) == 1 { proof.progress = { FileHandle.standardError.write(Data("\r\($0)…\u{1B}[K".utf8)) } }
        let started = Date().timeIntervalSince1970
        let report: ProofOfPersistence.Report
        do { report = try proof.run() } catch { throw fail(error, json: json) }
        if proof.progress != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(json ? JSONOutput.encode(report) : report.renderText())
        if let metrics {
            do { try MetricsFile.write([proofMetrics(report, checkedAt: started)], to: metrics) } catch { throw fail(error, json: json) }
        }
        if report.verdict != .proven { throw ExitCode(1) }
    }
}

/// The gauges of a proof: the verdict, the measured replication lag and restore time, the replica's size.
func proofMetrics(_ report: ProofOfPersistence.Report, checkedAt: Double) -> DatabaseMetrics {
    let bytes = (try? Replica.open(report.replica))?.storage.files().reduce(Int64(0)) { $0 + $1.size }
    return DatabaseMetrics(
        database: report.database, verdict: report.verdict == .proven ? 0 : 1, restoreSeconds: report.restoreSeconds,
        canaryLagSeconds: report.replicationLag, replicaBytes: bytes, checkedAt: checkedAt)
}
