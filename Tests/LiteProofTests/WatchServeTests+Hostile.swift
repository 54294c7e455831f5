import Foundation
import LiteProof
import LiteProofMetrics
import Testing

extension WatchServeTests {
    /// Requests a monitoring endpoint must survive: unknown paths (404), other methods (405),
    /// garbage and an oversized header block (400 or a closed connection), a body on a GET; the
    /// watcher keeps serving and keeps running rounds. A port in use and a bad address: exit 2.
    @Test func hostileRequestsAndBadAddresses() throws {
        let dir = try WatchFixtures.replica(.v05)
        let watch = try WatchProcess(["watch", dir, "--listen", "127.0.0.1:0", "--interval", "0.3", "--json"])
        defer { watch.stop() }
        try waitUntil("a healthy /healthz", timeout: 30) { try http(port: watch.port, "/healthz").status == 200 }
        let port = watch.port

        #expect(try http(port: port, "/nope").status == 404)
        #expect(try http(port: port, "/metrics/../healthz").status == 404)
        #expect(try http("POST", port: port, "/metrics").status == 405)
        #expect(try http("DELETE", port: port, "/healthz").status == 405)
        let head = try http("HEAD", port: port, "/metrics")
        #expect(head.status == 200 && head.body.isEmpty, "\(head)")
        #expect(try http(port: port, "/metrics?name[]=x").status == 200)

        // Not HTTP at all, binary bytes, a header block of 1 MiB, a request line of 1 MiB.
        let hostile: [(String, [UInt8])] = [
            ("garbage", Array("\u{1}\u{2} hello there\r\n\r\n".utf8)),
            ("binary", (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }),
            ("huge header", Array(("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 1 << 20) + "\r\n\r\n").utf8)),
            ("huge URI", Array(("GET /" + String(repeating: "a", count: 1 << 20) + " HTTP/1.1\r\n\r\n").utf8)),
        ]
        for (what, bytes) in hostile {
            let reply = try httpExchange(port: port, bytes, timeout: 10)
            #expect(reply.status == nil || reply.status == 400 || reply.status == 431 || reply.status == 414, "\(what): \(reply.headers)")
            #expect(reply.status != 200, "\(what)")
        }
        // A GET with a 1 MiB body: the body is discarded, the answer is the route's.
        let body = String(repeating: "b", count: 1 << 20)
        let withBody = try httpExchange(
            port: port, Array("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
        #expect(withBody.status == 200, "\(withBody.headers)")

        // A flood of idle connections: past 128 open at once each is closed as it is accepted.
        let before = sample(try http(port: port, "/metrics").body, "liteproof_rounds_total") ?? 0
        do {
            let flood = try idleConnections(port: port, count: 200)
            defer { flood.forEach { close($0) } }
            try waitUntil("the connections past the limit closed", timeout: 10) { closedByPeer(flood) >= 200 - 128 }
            #expect(closedByPeer(flood) == 200 - 128)
        }

        // Still serving, still watching.
        try waitUntil("more rounds", timeout: 20) { (sample(try http(port: port, "/metrics").body, "liteproof_rounds_total") ?? 0) > before + 1 }
        #expect(try http(port: port, "/healthz").status == 200)
        #expect(watch.process.isRunning)
        #expect(watch.stderr.split(separator: "\n").count == 1, "only the listening line: \(watch.stderr)")

        // The same port again: a usage error naming the address; a bad address: the parser's.
        let taken = try runLiteProof(["watch", dir, "--rounds", "1", "--listen", "127.0.0.1:\(port)"])
        #expect(taken.status == 2, "\(taken.stdout)\(taken.stderr)")
        #expect(taken.stderr.contains("cannot listen on 127.0.0.1:\(port)") && taken.stderr.contains("in use"), "\(taken.stderr)")
        for bad in ["nonsense", "127.0.0.1:99999", "127.0.0.1:"] {
            let r = try runLiteProof(["watch", dir, "--rounds", "1", "--listen", bad])
            #expect(r.status == 2 && r.stderr.contains("--listen"), "\(bad): \(r.stderr)")
        }
    }

    /// In process: `/healthz` says `starting` before a round, and the metrics of a damaged
    /// replica (verdict, findings by code, healthy 0) and of the counting storage.
    @Test func healthAndMetricsOfADamagedReplica() throws {
        let dir = try scratchCopy(ofDirectory: try WatchFixtures.replica(.v05))
        let board = WatchBoard(databases: [dir])
        #expect(board.health().status == "starting" && board.health().unhealthy.first?.health == "starting")
        let counts = StorageRequestCounts()
        let w = Watcher(database: dir) { try Replica.open(dir, through: { CountingStorage($0, counts: counts) }) }
        let metrics = WatchMetrics()
        let r1 = w.round()
        metrics.record(r1, requests: counts.current)
        board.post(r1)
        #expect(board.health().healthy)
        let reads = counts.current.filter { $0.key.operation != .list }.values.reduce(0, +)
        #expect(reads >= r1.filesChecked && counts.current[.init(operation: .list, result: .ok)] == 1, "\(counts.current)")

        let victim = try newestFile(dir)
        try flipByte(dir + "/" + victim, at: fileSize(dir + "/" + victim) / 2, preserveMTime: false)
        try bumpTime(dir + "/" + victim)
        let r2 = w.round()
        metrics.record(r2, requests: counts.current)
        board.post(r2)
        #expect(r2.verdict == .damaged)
        let h = board.health()
        #expect(h.status == "unhealthy" && h.unhealthy.first?.health == "damaged" && h.unhealthy.first?.reason.contains(victim) == true, "\(h)")
        let text = metrics.render()
        let db = "database=\"\(dir)\""
        #expect(sample(text, "liteproof_replica_healthy", [db]) == 0)
        #expect(sample(text, "liteproof_replica_verdict", [db, "verdict=\"damaged\""]) == 1)
        #expect(sample(text, "liteproof_replica_verdict", [db, "verdict=\"ok\""]) == 0)
        #expect((sample(text, "liteproof_findings", [db, "severity=\"error\""]) ?? 0) >= 1, "\(text)")
        #expect(sample(text, "liteproof_rounds_total", [db]) == 2)
        #expect(sample(text, "liteproof_verified_bytes_total", [db]) == Double(r1.bytesRead + r2.bytesRead))
        #expect(sample(text, "liteproof_restore_check_duration_seconds") == nil)

        // The two fields another stage fills are exported once set.
        var r3 = w.round()
        r3.restoreCheckSeconds = 1.5
        r3.canaryRoundTripSeconds = 0.25
        metrics.record(r3)
        let text3 = metrics.render()
        #expect(sample(text3, "liteproof_restore_check_duration_seconds", [db]) == 1.5)
        #expect(sample(text3, "liteproof_canary_roundtrip_seconds", [db]) == 0.25)
        let check = try promtoolCheckMetrics(text3)
        #expect(check.status == 0, "\(check.output)")

        // A database no longer watched (SIGHUP without it) leaves no series behind, and the
        // exposition stays valid; another database's series stay.
        var other = r1
        other.database = "other"
        metrics.record(other, requests: counts.current)
        metrics.forget(dir)
        let text4 = metrics.render()
        #expect(!text4.contains(db), "\(text4)")
        #expect(sample(text4, "liteproof_rounds_total", ["database=\"other\""]) == 1)
        let check4 = try promtoolCheckMetrics(text4)
        #expect(check4.status == 0, "\(check4.output)")
    }
}
