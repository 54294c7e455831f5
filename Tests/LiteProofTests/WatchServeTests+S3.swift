import Foundation
import LiteProof
import Testing

extension WatchServeTests {
    /// An `s3://` replica (the committed 0.5 example, made by real Litestream, in moto's bucket):
    /// the storage's listings and reads are counted, and when the store goes away the replica is
    /// `unreadable` (unreachable) on `/healthz` and in the metrics, its failed listings counted,
    /// never `damaged`.
    @Test func s3ReplicaRequestsCountedAndAnOutageIsUnreadable() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createBucket("watch")
        try FleetS3Tests().upload(Fixtures.example("0.5").replica, to: "app", bucket: "watch", port: moto.port)
        let url = "s3://watch/app?endpoint=http://127.0.0.1:\(moto.port)&region=us-east-1&forcePathStyle=true"
        var env = moto.childEnvironment
        env["LITEPROOF_S3_ATTEMPTS"] = "1"
        let watch = try WatchProcess(["watch", url, "--listen", ":0", "--interval", "0.3", "--json"], environment: env)
        defer { watch.stop() }
        let db = "database=\"\(url)\""
        var metrics = ""
        try waitUntil("a healthy /healthz and two rounds", timeout: 60) {
            metrics = try http(port: watch.port, "/metrics").body
            return try http(port: watch.port, "/healthz").status == 200 && (sample(metrics, "liteproof_rounds_total", [db]) ?? 0) >= 2
        }
        #expect((sample(metrics, "liteproof_storage_requests_total", [db, "op=\"list\"", "result=\"ok\""]) ?? 0) >= 2, "\(metrics)")
        let reads = ["open", "read"].compactMap { sample(metrics, "liteproof_storage_requests_total", [db, "op=\"\($0)\"", "result=\"ok\""]) }
        #expect(reads.reduce(0, +) >= 1, "\(metrics)")
        #expect(
            sample(metrics, "liteproof_verified_bytes_total", [db])
                == Double(FS.walk(Fixtures.example("0.5").replica).map { fileSize(Fixtures.example("0.5").replica + "/" + $0) }.reduce(0, +)))

        moto.stop()
        var reply = HTTPReply(status: nil, headers: "", body: "")
        try waitUntil("/healthz to turn 503", timeout: 60) {
            reply = try http(port: watch.port, "/healthz")
            return reply.status == 503
        }
        let named = try json(reply.body)["unhealthy"] as? [[String: Any]] ?? []
        #expect(named.first?["database"] as? String == url && named.first?["health"] as? String == "unreadable", "\(reply.body)")
        #expect((named.first?["reason"] as? String)?.hasPrefix("unreachable") == true, "\(reply.body)")
        // (The round under way when the store went away may fail on a read, not its listing:
        // the next round's listing fails.)
        try waitUntil("a failed listing counted", timeout: 60) {
            metrics = try http(port: watch.port, "/metrics").body
            return (sample(metrics, "liteproof_storage_requests_total", [db, "op=\"list\"", "result=\"error\""]) ?? 0) >= 1
        }
        #expect(sample(metrics, "liteproof_replica_verdict", [db, "verdict=\"unreadable\""]) == 1)
        #expect(sample(metrics, "liteproof_replica_verdict", [db, "verdict=\"damaged\""]) == 0)
        #expect(watch.stop() == 0, "\(watch.stderr)")
    }
}
