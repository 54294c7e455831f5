import Foundation
import LiteProof
import Testing

/// `liteproof watch --listen`: `/metrics` and `/healthz` over HTTP while real Litestream 0.5
/// replicates an application's writes, scraped by a real Prometheus server (issue 23, scenarios
/// 2 and 8).
@Suite(.serialized) struct WatchServeTests {
    /// Steady writes: healthy, fresh, bytes and storage requests counted, and `promtool` accepts
    /// the text; Prometheus scrapes it. Then Litestream stops while the application keeps
    /// writing: freshness grows, `/healthz` turns 503 naming the database within --max-lag plus
    /// one round, the event line says so, and the freshness alert fires in Prometheus.
    @Test func healthyThenLitestreamStopsWithPrometheusScraping() throws {
        let live = try startLiveReplication(.v05, seedRows: 50, compacting: false)
        defer { live.litestream.stop(); live.writer.close() }
        try waitUntil("a restorable replica", timeout: 30) { latestPosition(live.replica) != nil }
        let maxLag = 4.0, interval = 0.5
        let watch = try WatchProcess(["watch", live.replica, "--listen", ":0", "--interval", "\(interval)", "--max-lag", "\(maxLag)", "--json"])
        defer { watch.stop() }
        #expect(watch.stderr.contains("liteproof: listening on http://127.0.0.1:\(watch.port)"), "\(watch.stderr)")
        let db = "database=\"\(live.replica)\""
        func write() throws { try live.writer.exec("INSERT INTO orders(item, qty) VALUES (hex(randomblob(100)), 1)") }

        // Steady writes: healthy and fresh.
        var metrics = ""
        try waitUntil("a healthy /healthz and a second round in /metrics", timeout: 60) {
            try write()
            metrics = try http(port: watch.port, "/metrics").body
            return try http(port: watch.port, "/healthz").status == 200 && (sample(metrics, "liteproof_rounds_total", [db]) ?? 0) >= 2
        }
        let health = try json(try http(port: watch.port, "/healthz").body)
        #expect(health["status"] as? String == "ok" && (health["unhealthy"] as? [Any])?.isEmpty == true, "\(health)")
        #expect(sample(metrics, "liteproof_replica_healthy", [db]) == 1, "\(metrics)")
        #expect(sample(metrics, "liteproof_replica_verdict", [db, "verdict=\"ok\""]) == 1)
        #expect(sample(metrics, "liteproof_replica_verdict", [db, "verdict=\"damaged\""]) == 0)
        let fresh = try #require(sample(metrics, "liteproof_replica_freshness_seconds", [db]), "\(metrics)")
        #expect(fresh >= 0 && fresh < maxLag, "sync interval 100 ms, a round every \(interval) s, and healthy: \(fresh) s")
        #expect((sample(metrics, "liteproof_replica_position_timestamp_seconds", [db]) ?? 0) > Date().timeIntervalSince1970 - 60)
        // The counters add up what the round events said (each event is printed before its round
        // is published).
        let rounds = Int(sample(metrics, "liteproof_rounds_total", [db]) ?? 0)
        let events = watch.events.filter { $0["event"] as? String == "round" }.prefix(rounds)
        #expect(events.count == rounds)
        #expect(sample(metrics, "liteproof_verified_bytes_total", [db]) == Double(events.reduce(0) { $0 + ($1["bytesRead"] as? Int ?? 0) }))
        #expect(sample(metrics, "liteproof_verified_files_total", [db]) == Double(events.reduce(0) { $0 + ($1["filesChecked"] as? Int ?? 0) }))
        #expect((sample(metrics, "liteproof_verified_bytes_total", [db]) ?? 0) > 0)
        #expect((sample(metrics, "liteproof_storage_requests_total", [db, "op=\"list\"", "result=\"ok\""]) ?? 0) >= 2)
        #expect((sample(metrics, "liteproof_storage_requests_total", [db, "op=\"read\"", "result=\"ok\""]) ?? 0) >= 1)
        #expect((sample(metrics, "liteproof_round_duration_seconds_count", [db]) ?? 0) >= 2)
        #expect(sample(metrics, "liteproof_round_duration_seconds_bucket", [db, "le=\"+Inf\""]) != nil)
        #expect(sample(metrics, "liteproof_last_round_timestamp_seconds", [db]) != nil)
        let check = try promtoolCheckMetrics(metrics)
        #expect(check.status == 0, "promtool check metrics: \(check.output)")

        // A real Prometheus scrapes the watcher.
        let rules = """
            groups:
              - name: liteproof
                rules:
                  - alert: LiteProofReplicaStale
                    expr: liteproof_replica_freshness_seconds > \(maxLag)
                  - alert: LiteProofReplicaUnhealthy
                    expr: liteproof_replica_healthy == 0

            """
        let prometheus = try PrometheusServer(job: "liteproof", target: watch.port, rules: rules)
        defer { prometheus.stop() }
        var seen = ""
        do {
            try waitUntil("Prometheus scraped the watcher", timeout: 30) {
                try write()
                let up = try prometheus.query("up{job=\"liteproof\"}")
                let healthy = try prometheus.query("liteproof_replica_healthy")
                seen = "up: \(up), healthy: \(healthy)"
                return up.first?.value == 1 && healthy.first?.labels["database"] == live.replica && healthy.first?.value == 1
            }
        } catch {
            let health = (try? http(port: watch.port, "/healthz").body) ?? ""
            throw RigError(
                message: "\(error): /healthz \(health); last seen \(seen); targets: \((try? prometheus.api("/api/v1/targets")) ?? [:])\n\(prometheus.log)")
        }
        #expect(try prometheus.alerts().isEmpty, "no alert while the replica is fresh")

        // Litestream stops; the application goes on writing.
        live.litestream.stop()
        let stopped = Date()
        var samples: [Double] = []
        var reply = HTTPReply(status: nil, headers: "", body: "")
        try waitUntil("/healthz to turn 503", timeout: maxLag + 30) {
            try write()
            if let f = sample(try http(port: watch.port, "/metrics").body, "liteproof_replica_freshness_seconds", [db]) { samples.append(f) }
            reply = try http(port: watch.port, "/healthz")
            return reply.status == 503
        }
        let took = Date().timeIntervalSince(stopped)
        // --max-lag, plus one round (the interval with its jitter, and the round itself), plus slack
        // for a loaded machine (a debug build, Litestream stopping, the polls themselves).
        #expect(took < maxLag + interval * 1.1 + 8, "503 came \(took) s after Litestream stopped")
        #expect(samples.count >= 2 && samples.last! > samples.first!, "freshness grows: \(samples)")
        let body = try json(reply.body)
        let named = body["unhealthy"] as? [[String: Any]] ?? []
        #expect(body["status"] as? String == "unhealthy")
        #expect(named.count == 1 && named.first?["database"] as? String == live.replica, "\(body)")
        #expect(named.first?["health"] as? String == "failed")
        let reason = named.first?["reason"] as? String ?? ""
        #expect(reason.contains("old"), "\(body)")
        let after = try http(port: watch.port, "/metrics").body
        #expect(sample(after, "liteproof_replica_healthy", [db]) == 0)
        #expect((sample(after, "liteproof_replica_freshness_seconds", [db]) ?? 0) > maxLag)
        try waitUntil("the verdict-changed event", timeout: 10) {
            watch.events.contains {
                $0["event"] as? String == "verdict-changed" && $0["to"] as? String == "failed" && $0["database"] as? String == live.replica
            }
        }

        // The freshness alert fires (its expression is true at the next evaluation, no `for`).
        try waitUntil("the freshness alert firing", timeout: 30) {
            try prometheus.alerts().contains {
                $0.labels["alertname"] == "LiteProofReplicaStale" && $0.labels["database"] == live.replica && $0.state == "firing"
            }
        }
        // (Scraped and evaluated a second or two after the round that turned the replica unhealthy.)
        try waitUntil("the unhealthy alert firing", timeout: 30) {
            try prometheus.alerts().contains { $0.labels["alertname"] == "LiteProofReplicaUnhealthy" && $0.state == "firing" }
        }

        // SIGTERM: exit 0, and the server is gone.
        #expect(watch.stop() == 0, "\(watch.stderr)")
        #expect((try? http(port: watch.port, "/healthz", timeout: 2))?.status == nil)
    }
}
