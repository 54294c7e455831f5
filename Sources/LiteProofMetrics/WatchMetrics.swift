import Foundation
import LiteProof
import Prometheus

/// The metrics of `liteproof watch`, kept across rounds (counters and the round histogram grow;
/// gauges hold the last round's values), with the database as a label and units in the names.
/// The same text is served on `/metrics` (`--listen`) and written to `--metrics-file`.
///
/// Thread-safe: rounds are recorded on the watcher's thread while the HTTP server renders.
public final class WatchMetrics: Sendable {
    /// Every metric's name and help text (stable: dashboards and alert rules use them).
    public enum Metric: String, CaseIterable, Sendable {
        case healthy = "liteproof_replica_healthy"
        case verdict = "liteproof_replica_verdict"
        case positionTime = "liteproof_replica_position_timestamp_seconds"
        case freshness = "liteproof_replica_freshness_seconds"
        case lastRound = "liteproof_last_round_timestamp_seconds"
        case rounds = "liteproof_rounds_total"
        case verifiedBytes = "liteproof_verified_bytes_total"
        case verifiedFiles = "liteproof_verified_files_total"
        case findings = "liteproof_findings"
        case roundDuration = "liteproof_round_duration_seconds"
        case storageRequests = "liteproof_storage_requests_total"
        case restoreCheck = "liteproof_restore_check_duration_seconds"
        case canaryRoundTrip = "liteproof_canary_roundtrip_seconds"

        public var help: String {
            switch self {
            case .healthy: return "1 while the replica is healthy: verdict ok and its latest position fresher than --max-lag; else 0."
            case .verdict: return "1 for the replica's verdict in the last round (ok, damaged, undecided, unreadable, ...), 0 for the others."
            case .positionTime: return "Time of the latest restorable position, in seconds since the Unix epoch."
            case .freshness: return "Age of the latest restorable position when the metrics were produced, in seconds (the replica's RPO as seen now)."
            case .lastRound: return "When the last round ended, in seconds since the Unix epoch."
            case .rounds: return "Rounds run on the replica."
            case .verifiedBytes: return "Bytes of replica files read and checked."
            case .verifiedFiles: return "Replica files read and checked."
            case .findings: return "Findings about the replica as it is now, by severity and code."
            case .roundDuration: return "How long a round took, in seconds."
            case .storageRequests: return "Requests made to the replica's storage, by operation (list, open, read) and result (ok, error)."
            case .restoreCheck: return "How long the last trial restore of the latest position took, with SQLite's check, in seconds."
            case .canaryRoundTrip: return "How long the last canary took from the live database to the replica, in seconds."
            }
        }

        var descriptor: MetricNameDescriptor { MetricNameDescriptor(metricName: rawValue, unitName: "", helpText: help) }
    }

    /// Upper bounds of the round-duration histogram's buckets, in seconds.
    public static let roundBuckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

    /// What is remembered per database between rounds.
    private struct Database {
        var latestTime: Double?
        /// The freshness series exists (from a round that had a latest position).
        var freshnessShown = false
        var findings: Set<FindingKey> = []
        var requests: [StorageRequestCounts.Key: Int] = [:]
    }

    private struct FindingKey: Hashable {
        var severity: String
        var code: String
    }

    private let registry = PrometheusCollectorRegistry()
    private let databases = Locked<[String: Database]>([:])
    /// The gauges `verify --all --metrics` also writes (kept so `--metrics-file` readers go on working).
    private let legacy = Locked<[String: DatabaseMetrics]>([:])

    public init() {}

    /// Records one round of one replica; `requests` are the storage's counts so far (cumulative).
    public func record(_ r: WatchRound, requests: [StorageRequestCounts.Key: Int]? = nil) {
        let labels = [("database", r.database)]
        func gauge(_ m: Metric, _ extra: [(String, String)] = []) -> Gauge { registry.makeGauge(descriptor: m.descriptor, labels: labels + extra) }
        func counter(_ m: Metric, _ extra: [(String, String)] = []) -> Counter {
            registry.makeCounter(descriptor: m.descriptor, labels: labels + extra)
        }
        gauge(.healthy).set(to: r.health == .ok ? 1 : 0)
        for o in Outcome.allCases { gauge(.verdict, [("verdict", o.rawValue)]).set(to: o == r.verdict ? 1 : 0) }
        if let t = r.latestTime { gauge(.positionTime).set(to: t) }
        gauge(.lastRound).set(to: r.time + r.seconds)
        counter(.rounds).increment()
        counter(.verifiedBytes).increment(by: r.bytesRead)
        counter(.verifiedFiles).increment(by: Int64(r.filesChecked))
        registry.makeValueHistogram(descriptor: Metric.roundDuration.descriptor, labels: labels, buckets: Self.roundBuckets).record(r.seconds)
        if let s = r.restoreCheckSeconds { gauge(.restoreCheck).set(to: s) }
        if let s = r.canaryRoundTripSeconds { gauge(.canaryRoundTrip).set(to: s) }

        var counts: [FindingKey: Int] = [:]
        for f in r.findings { counts[FindingKey(severity: f.severity.rawValue, code: f.code.rawValue), default: 0] += 1 }
        databases.withLock { all in
            var d = all[r.database] ?? Database()
            // A finding that went away stays as a series at 0 (the set of codes is small and fixed).
            for key in d.findings.union(counts.keys) {
                gauge(.findings, [("severity", key.severity), ("code", key.code)]).set(to: Double(counts[key] ?? 0))
            }
            d.findings.formUnion(counts.keys)
            for (key, n) in requests ?? [:] where n > d.requests[key, default: 0] {
                counter(.storageRequests, [("op", key.operation.rawValue), ("result", key.result.rawValue)])
                    .increment(by: Int64(n - d.requests[key, default: 0]))
                d.requests[key] = n
            }
            // (An unreadable round keeps the last position known: the replica did not get younger.)
            if r.latestTime != nil || r.storageFailures.isEmpty { d.latestTime = r.latestTime }
            d.freshnessShown = d.freshnessShown || d.latestTime != nil
            all[r.database] = d
        }
        legacy.withLock {
            $0[r.database] = DatabaseMetrics(
                database: r.database, verdict: Int(r.health.exitCode), latestAgeSeconds: r.freshnessSeconds, checkedAt: r.time)
        }
    }

    /// Drops every series of `database` (it is no longer watched: SIGHUP re-read a configuration
    /// without it), so dashboards do not go on showing its last values as if they were current.
    public func forget(_ database: String) {
        guard let d = databases.withLock({ $0.removeValue(forKey: database) }) else { return }
        legacy.withLock { _ = $0.removeValue(forKey: database) }
        let labels = [("database", database)]
        func gauge(_ m: Metric, _ extra: [(String, String)] = []) {
            registry.unregisterGauge(registry.makeGauge(descriptor: m.descriptor, labels: labels + extra))
        }
        func counter(_ m: Metric, _ extra: [(String, String)] = []) {
            registry.unregisterCounter(registry.makeCounter(descriptor: m.descriptor, labels: labels + extra))
        }
        for m in [Metric.healthy, .positionTime, .freshness, .lastRound, .restoreCheck, .canaryRoundTrip] { gauge(m) }
        for o in Outcome.allCases { gauge(.verdict, [("verdict", o.rawValue)]) }
        for m in [Metric.rounds, .verifiedBytes, .verifiedFiles] { counter(m) }
        for key in d.findings { gauge(.findings, [("severity", key.severity), ("code", key.code)]) }
        for key in d.requests.keys { counter(.storageRequests, [("op", key.operation.rawValue), ("result", key.result.rawValue)]) }
        registry.unregisterValueHistogram(
            registry.makeValueHistogram(descriptor: Metric.roundDuration.descriptor, labels: labels, buckets: Self.roundBuckets))
    }

    /// The exposition text, freshness computed as of `now`.
    public func render(now: Date = Date()) -> String {
        let times = databases.current
        for (database, d) in times where d.freshnessShown {
            let g = registry.makeGauge(descriptor: Metric.freshness.descriptor, labels: [("database", database)])
            g.set(to: d.latestTime.map { max(0, now.timeIntervalSince1970 - $0) } ?? .nan)
        }
        return registry.emitToString()
    }

    /// The text of ``render(now:)`` followed by the gauges `verify --all --metrics` writes
    /// (`liteproof_verdict`, `liteproof_latest_position_age_seconds`, ...), for `--metrics-file`.
    public func renderWithFleetGauges(now: Date = Date()) -> String {
        render(now: now) + MetricsFile.render(legacy.current.sorted { $0.key < $1.key }.map(\.value))
    }

    /// Writes ``renderWithFleetGauges(now:)`` to `path`, atomically (see ``MetricsFile/write(_:to:)``).
    public func write(to path: String) throws {
        try MetricsFile.write(text: renderWithFleetGauges(), to: path)
    }
}
