import ArgumentParser
import Foundation
import LiteProof
import LiteProofGCS
import LiteProofMetrics
import LiteProofS3
import LiteProofWebDAV

/// `verify --all ROOT`: every replica below ROOT, one line each, then a summary; with
/// `--config FILE`, every replica the configuration names instead.
struct VerifyAll {
    var root: String?
    var config: ConfigOptions
    var json: Bool
    var quiet: Bool
    var shard: FleetShard?
    var jobs: Int?
    var metrics: String?
    var restoreCheck: RestoreOptions.IntegrityCheck

    func run() throws {
        let drawing = !quiet && isatty(2) == 1
        var progress: (@Sendable (FleetVerifier.Progress) -> Void)?
        if drawing {
            progress = { p in
                let line = "\rverify --all: \(p.done)/\(p.total) databases, \(p.damaged) damaged, \(Units.bytes(p.bytesRead)) read\u{1B}[K"
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
        let names: [String]
        let runFleet: ((FleetEntry) -> Void) throws -> FleetSummary
        // The object store's counts after the listing and at the end (nil: not an object store).
        var traffic: () -> (requests: Int, bytes: Int64)? = { nil }
        var listed: (requests: Int, bytes: Int64)?
        do {
            if let root, config.config != nil {
                throw LiteProofError(.usage, "verify --all --config verifies the replicas the file names; \(root) is not needed")
            }
            if let loaded = try config.load() {
                var fleet = NamedFleet(root: loaded.file, members: ConfigTarget.fleet(loaded))
                fleet.shard = shard
                if let jobs { fleet.jobs = jobs }
                fleet.restoreCheck = restoreCheck
                fleet.progress = progress
                names = fleet.names
                runFleet = { fleet.run($0) }
            } else {
                var fleet = try ReplicaLocation(root ?? "").openFleet()
                let storage = fleet.storage
                traffic = { Self.traffic(of: storage) }
                listed = traffic()
                fleet.shard = shard
                if let jobs { fleet.jobs = jobs }
                fleet.restoreCheck = restoreCheck
                fleet.progress = progress
                let discovered = fleet.discover()
                names = discovered.map(\.name)
                runFleet = { try fleet.run(discovered: discovered, $0) }
            }
        } catch { throw fail(error, json: json) }
        let table = FleetTable(names: names)
        if !json && !names.isEmpty { write(table.header) }
        var summary: FleetSummary
        var entries: [FleetEntry] = []
        do {
            summary = try runFleet { entry in
                if metrics != nil { entries.append(entry) }
                if drawing { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                write(json ? JSONLines.encode(entry) : table.line(entry))
            }
        } catch { throw fail(error, json: json) }
        if let listed, let total = traffic() {
            summary.storageRequests = total.requests
            summary.listingRequests = listed.requests
            summary.storageBytes = total.bytes
        }
        if drawing { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        write(json ? JSONLines.encode(summary) : "\n" + FleetTable.summary(summary))
        if let metrics {
            do {
                try MetricsFile.write(entries.map(DatabaseMetrics.init), to: metrics)
            } catch { throw fail(error, json: json) }
        }
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }

    /// Requests sent to the object store behind `storage` and response bytes received so far
    /// (nil for a folder, an archive or SFTP).
    static func traffic(of storage: any ReplicaStorage) -> (requests: Int, bytes: Int64)? {
        switch storage {
        case let s as S3Storage: return s.client.traffic
        case let s as GCSStorage: return s.client.traffic
        case let s as WebDAVStorage: return s.client.traffic
        default: return nil
        }
    }

    /// One line on stdout, unbuffered: each database's line appears as soon as it is known.
    func write(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
