import Foundation
import LiteProof
import Testing

/// `prove --metrics` against real `litestream replicate` 0.5.17: the same gauges, for one database.
@Suite struct ProveMetricsTests {
    @Test func proveWritesTheSameGauges() throws {
        let live = try startLiveReplication(.v05, seedRows: 10)
        defer { live.litestream.stop(); live.writer.close() }
        try waitUntil("the first replica files", timeout: 20) { (try? RestorePlanner(replica: Replica.open(live.replica)).plan()) != nil }
        let metrics = try rigTempDir("prove-metrics") + "/prove.prom"
        let r = try runLiteProof(["prove", "--db", live.db, "--replica", live.replica, "--timeout", "30", "--json", "--metrics", metrics])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let obj = try json(r.stdout)
        let samples = try parsePrometheusText(try String(contentsOfFile: metrics, encoding: .utf8))
        func value(_ name: String) -> Double? { samples.first { $0.name == name && $0.labels["database"] == live.db }?.value }
        #expect(value("liteproof_verdict") == 0)
        // The same measurements as the report (up to the last digit of their decimal forms).
        func close(_ a: Double?, _ b: Any?) -> Bool {
            guard let a, let b = b as? Double else { return false }
            return abs(a - b) <= 1e-9 * max(1, abs(b))
        }
        #expect(close(value("liteproof_restore_seconds"), obj["restoreSeconds"]))
        #expect(close(value("liteproof_canary_lag_seconds"), obj["replicationLag"]))
        #expect((value("liteproof_replica_bytes") ?? 0) > 0)
        #expect(abs((value("liteproof_last_check_timestamp_seconds") ?? 0) - Date().timeIntervalSince1970) < 600)
        // No temporary file is left beside it.
        let folder = (metrics as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["prove.prom"])
    }
}

/// One sample of the Prometheus text format.
struct PrometheusSample {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A strict reader of the Prometheus text exposition format (0.0.4) as far as gauges go: every
/// line is `# HELP name text`, `# TYPE name gauge` or `name{label="value",…} number`; a sample's
/// family must have been typed before it; label values use only the escapes \\ \" \n.
func parsePrometheusText(_ text: String) throws -> [PrometheusSample] {
    struct Bad: Error, CustomStringConvertible { var description: String }
    let name = #"[a-zA-Z_:][a-zA-Z0-9_:]*"#
    let help = try NSRegularExpression(pattern: "^# HELP (\(name)) .*$")
    let type = try NSRegularExpression(pattern: "^# TYPE (\(name)) (gauge|counter|histogram|summary|untyped)$")
    let sample = try NSRegularExpression(
        pattern: #"^("# + name + #")(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? ([^ ]+)$"#)
    let label = try NSRegularExpression(pattern: #"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)""#)
    var typed = Set<String>()
    var samples: [PrometheusSample] = []
    guard text.hasSuffix("\n") else { throw Bad(description: "the text does not end with a newline") }
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
        let s = String(line)
        let range = NSRange(s.startIndex..., in: s)
        func group(_ m: NSTextCheckingResult, _ i: Int) -> String? {
            Range(m.range(at: i), in: s).map { String(s[$0]) }
        }
        if help.firstMatch(in: s, range: range) != nil { continue }
        if let m = type.firstMatch(in: s, range: range) {
            typed.insert(group(m, 1)!)
            continue
        }
        guard let m = sample.firstMatch(in: s, range: range), let metric = group(m, 1), let valueText = group(m, 5) else {
            throw Bad(description: "line \(n + 1) is not HELP, TYPE or a sample: \(s)")
        }
        guard typed.contains(metric) else { throw Bad(description: "line \(n + 1): \(metric) has no TYPE line before it") }
        guard let value = Double(valueText) ?? (valueText == "+Inf" ? .infinity : nil) else {
            throw Bad(description: "line \(n + 1): \(valueText) is not a number")
        }
        var labels: [String: String] = [:]
        if let braces = group(m, 2) {
            let r = NSRange(braces.startIndex..., in: braces)
            for lm in label.matches(in: braces, range: r) {
                let k = Range(lm.range(at: 1), in: braces).map { String(braces[$0]) }!
                let v = Range(lm.range(at: 2), in: braces).map { String(braces[$0]) }!
                labels[k] = v.replacingOccurrences(of: #"\""#, with: "\"").replacingOccurrences(of: #"\\"#, with: "\\")
            }
        }
        samples.append(PrometheusSample(name: metric, labels: labels, value: value))
    }
    return samples
}
