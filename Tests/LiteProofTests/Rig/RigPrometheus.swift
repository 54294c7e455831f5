// A real Prometheus server (Debian's `prometheus` package, installed by .ci/setup) on a loopback
// port, scraping a watcher every second and evaluating alert rules every second.

import Foundation

/// `prometheus` on 127.0.0.1, its data in a temp folder; stop it in a defer.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class PrometheusServer: @unchecked Sendable {
    let port: Int
    let process = Process()
    let logPath: String

    /// `prometheus` (and `promtool`) from `LITEPROOF_PROMETHEUS_DIR`, else /usr/bin or PATH.
    static func binary(_ name: String) throws -> String {
        let env = ProcessInfo.processInfo.environment
        let dirs = [env["LITEPROOF_PROMETHEUS_DIR"]].compactMap { $0 } + ["/usr/bin"] + (env["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in dirs where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") { return "\(dir)/\(name)" }
        throw RigError(message: "no `\(name)`: run .ci/setup (installs Debian's prometheus package) or set LITEPROOF_PROMETHEUS_DIR")
    }

    /// Scrapes `job` at 127.0.0.1:`target` every second; `rules` is the text of a rule file
    /// (`groups:` …), evaluated every second.
    init(job: String, target: Int, rules: String) throws {
        let dir = try rigTempDir("prometheus")
        logPath = dir + "/prometheus.log"
        try rules.write(toFile: dir + "/rules.yml", atomically: true, encoding: .utf8)
        let config = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            rule_files:
              - "\(dir)/rules.yml"
            scrape_configs:
              - job_name: "\(job)"
                static_configs:
                  - targets: ["127.0.0.1:\(target)"]

            """
        try config.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        port = try freeLoopbackPort()
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: try Self.binary("prometheus"))
        process.arguments = [
            "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data", "--web.listen-address=127.0.0.1:\(port)",
            "--log.level=warn",
        ]
        try rigLaunch(process, output: log)
        do {
            try waitUntil("Prometheus ready on 127.0.0.1:\(port)", timeout: 60) {
                guard process.isRunning else { throw RigError(message: "prometheus exited: \(self.log)") }
                return try http(port: port, "/-/ready", timeout: 2).status == 200
            }
        } catch {
            stop()
            throw RigError(message: "\(error)\n\(log)")
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The `data` of an API answer (`/api/v1/query?query=…`, `/api/v1/alerts`).
    func api(_ path: String) throws -> [String: Any] {
        let reply = try http(port: port, path, timeout: 5)
        guard reply.status == 200, let data = try json(reply.body)["data"] as? [String: Any] else {
            throw RigError(message: "Prometheus \(path): \(reply.status.map(String.init) ?? "no status") \(reply.body.prefix(300))")
        }
        return data
    }

    /// The samples of an instant query: each one's labels and value.
    func query(_ promql: String) throws -> [(labels: [String: String], value: Double)] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let q = promql.addingPercentEncoding(withAllowedCharacters: allowed) ?? promql
        let result = try api("/api/v1/query?query=\(q)")["result"] as? [[String: Any]] ?? []
        return result.map { r in
            let pair = r["value"] as? [Any] ?? []
            return (r["metric"] as? [String: String] ?? [:], Double(pair.last as? String ?? "") ?? .nan)
        }
    }

    /// The alerts pending or firing: each one's labels and state.
    func alerts() throws -> [(labels: [String: String], state: String)] {
        (try api("/api/v1/alerts")["alerts"] as? [[String: Any]] ?? []).map { ($0["labels"] as? [String: String] ?? [:], $0["state"] as? String ?? "") }
    }

    func stop() {
        terminate(process, grace: 10)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }

    deinit { stop() }
}

/// `promtool check metrics` on `text`: its exit status and what it printed.
func promtoolCheckMetrics(_ text: String) throws -> (status: Int32, output: String) {
    let dir = try rigTempDir("promtool")
    try text.write(toFile: dir + "/metrics.txt", atomically: true, encoding: .utf8)
    return try runProcess("/bin/sh", ["-c", "\"$0\" check metrics < \"$1\" 2>&1", try PrometheusServer.binary("promtool"), dir + "/metrics.txt"])
}
