import Foundation
import LiteProof
import Prometheus

/// One database's gauges, as `verify --all --metrics` and `prove --metrics` write them.
public struct DatabaseMetrics: Sendable {
    /// The `database` label: the replica's path relative to the fleet root (`verify --all`) or
    /// the live database's path (`prove`).
    public var database: String
    /// 0 sound / proven, 1 damaged / not proven, 2 could not be read.
    public var verdict: Int
    public var latestAgeSeconds: Double?
    public var restoreSeconds: Double?
    public var canaryLagSeconds: Double?
    public var replicaBytes: Int64?
    /// Seconds since the epoch.
    public var checkedAt: Double

    public init(
        database: String, verdict: Int, latestAgeSeconds: Double? = nil, restoreSeconds: Double? = nil, canaryLagSeconds: Double? = nil,
        replicaBytes: Int64? = nil, checkedAt: Double
    ) {
        self.database = database
        self.verdict = verdict
        self.latestAgeSeconds = latestAgeSeconds
        self.restoreSeconds = restoreSeconds
        self.canaryLagSeconds = canaryLagSeconds
        self.replicaBytes = replicaBytes
        self.checkedAt = checkedAt
    }

    /// The gauges of one database of a fleet check.
    public init(_ e: FleetEntry) {
        self.init(
            database: e.database, verdict: Int(e.verdict.exitCode), latestAgeSeconds: e.ageSeconds, restoreSeconds: e.restoreSeconds,
            canaryLagSeconds: e.canaryLagSeconds, replicaBytes: e.replicaBytes, checkedAt: e.checkedAt)
    }
}

/// Writes gauges in the Prometheus text exposition format, atomically, for node_exporter's
/// textfile collector (which reads `*.prom` files and must never see a half-written one).
public enum MetricsFile {
    /// The gauges, their names and help texts (stable: dashboards and alerts use them).
    enum Gauge: String, CaseIterable {
        case verdict = "liteproof_verdict"
        case latestAge = "liteproof_latest_position_age_seconds"
        case restore = "liteproof_restore_seconds"
        case canaryLag = "liteproof_canary_lag_seconds"
        case replicaBytes = "liteproof_replica_bytes"
        case checked = "liteproof_last_check_timestamp_seconds"

        var help: String {
            switch self {
            case .verdict:
                return "Verdict of the last check: 0 sound (prove: proven), 1 damaged (not proven), 2 could not be read or decided (the exit code of verify)."
            case .latestAge: return "Seconds from the latest restorable position's time to the check."
            case .restore: return "Seconds the trial restore of the latest position took."
            case .canaryLag: return "Seconds from the newest canary found in the replica to the check (prove: the measured replication lag)."
            case .replicaBytes: return "Total size of the replica's files in bytes."
            case .checked: return "When the check ran, in seconds since the Unix epoch."
            }
        }

        /// The name split as Prometheus names are built: `liteproof_<metric>_<unit>`.
        var descriptor: MetricNameDescriptor {
            let parts = rawValue.dropFirst("liteproof_".count).split(separator: "_").map(String.init)
            let unit = ["seconds", "bytes"].contains(parts.last ?? "") ? parts.last! : ""
            let metric = (unit.isEmpty ? parts : Array(parts.dropLast())).joined(separator: "_")
            return MetricNameDescriptor(namespace: "liteproof", metricName: metric, unitName: unit, helpText: help)
        }
    }

    /// The exposition text for `databases` (gauges without a value are left out for that database).
    public static func render(_ databases: [DatabaseMetrics]) -> String {
        let registry = PrometheusCollectorRegistry()
        for d in databases {
            let labels = [("database", d.database)]
            func set(_ g: Gauge, _ value: Double?) {
                guard let value else { return }
                registry.makeGauge(descriptor: g.descriptor, labels: labels).set(value)
            }
            set(.verdict, Double(d.verdict))
            set(.latestAge, d.latestAgeSeconds)
            set(.restore, d.restoreSeconds)
            set(.canaryLag, d.canaryLagSeconds)
            set(.replicaBytes, d.replicaBytes.map(Double.init))
            set(.checked, d.checkedAt)
        }
        return registry.emitToString()
    }

    /// Writes the exposition text to `path` through a temporary file in the same folder (named
    /// `.<name>.tmp.<pid>`, which the textfile collector ignores), fsynced, then renamed over `path`.
    public static func write(_ databases: [DatabaseMetrics], to path: String) throws {
        try write(text: render(databases), to: path)
    }

    /// Writes exposition `text` to `path` as ``write(_:to:)`` does.
    public static func write(text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temp = folder + "/." + url.lastPathComponent + ".tmp.\(getpid())"
        FS.remove(temp)
        do {
            let file = try OutputFile(creating: temp)
            try Array(text.utf8).withUnsafeBytes { try file.write($0, at: 0) }
            try file.sync()
            guard rename(temp, path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw LiteProofError.storage(.local, "cannot rename \(temp) to \(path): \(reason)")
            }
            FS.syncDirectory(folder)
        } catch {
            FS.remove(temp)
            throw error
        }
    }
}
