import ArgumentParser
import Foundation
import LiteProof
import LiteProofMetrics
import LiteProofS3

/// `verify --all ROOT`: every replica below ROOT, one line each, then a summary.
struct VerifyAll {
    var root: String
    var json: Bool
    var quiet: Bool
    var shard: FleetShard?
    var jobs: Int?
    var metrics: String?
    var restoreCheck: RestoreOptions.IntegrityCheck

    func run() throws {
        var fleet: FleetVerifier
        do {
            fleet = try ReplicaLocation(root).openFleet()
        } catch { throw fail(error, json: json) }
        fleet.shard = shard
        if let jobs { fleet.jobs = jobs }
        fleet.restoreCheck = restoreCheck
        let discovered = fleet.discover()
        let table = FleetTable(names: discovered.map(\.name))
        let drawing = !quiet && isatty(2) == 1
        if drawing {
            fleet.progress = { p in
                let line = "\rverify --all: \(p.done)/\(p.total) databases, \(p.damaged) damaged, \(Units.bytes(p.bytesRead)) read\u{1B}[K"
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
        if !json && !discovered.isEmpty { write(table.header) }
        let summary: FleetSummary
        var entries: [FleetEntry] = []
        do {
            summary = try fleet.run(discovered: discovered) { entry in
                entries.append(entry)
                if drawing { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                write(json ? JSONLines.encode(entry) : table.line(entry))
            }
        } catch { throw fail(error, json: json) }
        if drawing { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        write(json ? JSONLines.encode(summary) : "\n" + FleetTable.summary(summary))
        if let metrics {
            do {
                try MetricsFile.write(entries.map(DatabaseMetrics.init), to: metrics)
            } catch { throw fail(error, json: json) }
        }
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }

    /// One line on stdout, unbuffered: each database's line appears as soon as it is known.
    func write(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
