// Replicas read straight from a real S3 API: moto's server on 127.0.0.1 (installed by
// .ci/setup), real Litestream 0.5.17 and 0.3.13 replicating into it, then verify / restore /
// inspect / fetch from the bucket, with restores compared byte for byte with `litestream restore`
// from the same bucket. A fault-injecting proxy in front of moto (500s, dropped connections,
// truncated bodies) must lead to retries or a clear error, never to a wrong verdict.

import Foundation
import LiteProof
import LiteProofS3
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite(.serialized) struct S3LiveTests {
    // MARK: Litestream 0.5.17

    @Test func v05ReplicaStraightFromTheBucket() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let (url, db, token) = try await makeV05Replica(moto, prefix: "app")

        // verify: every file checked, sound.
        let listing = try S3Storage(url: url, environment: moto.environment)
        #expect(listing.listing.count >= 4)
        let replica = try Replica.open(storage: listing)
        #expect(replica.format == .ltx)
        let report = Verifier(replica: replica, restoreCheck: .quick).run()
        #expect(report.verdict == .ok, "\(report.findings)")
        #expect(report.filesChecked == replica.ltx?.files.count)
        #expect(listing.transferFailures.isEmpty)

        // restore reads the plan's files and no others, and matches litestream's restore.
        let gets = Locked<[String]>([])
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.environment))
        client.onRequest = { method, key in if method == "GET" && !key.isEmpty { gets.update { $0.append(key) } } }
        let planned = try Replica.open(storage: try S3Storage(client: client))
        let plan = try Restorer(replica: planned).plan(.latest())
        let dir = try rigTempDir("s3-v05")
        try Restorer(replica: planned).restore(to: dir + "/ours.db")
        let fetched = gets.update { $0 }
        #expect(Set(fetched) == Set(plan.files.map { "app/" + $0 }), "GETs: \(fetched), plan: \(plan.files)")
        #expect(fetched.count == Set(fetched).count, "an object was downloaded twice: \(fetched)")
        #expect(plan.files.count < replica.ltx!.files.count, "the plan should leave files out (L0 covered by L1)")
        let theirs = try runWithEnvironment(
            try Litestream.binary(.v05), ["restore", "-o", dir + "/theirs.db", url], environment: moto.childEnvironment)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))

        // inspect names the S3 level layout.
        let inventory = try Inventory.make(replica)
        #expect(inventory.renderText().contains("s3://bucket/app"))

        // fetch: LastModified as file time, a manifest, resumable; the copy verifies and restores alike.
        let folder = dir + "/fetched"
        let first = try S3Fetch(storage: try S3Storage(url: url, environment: moto.environment), destination: folder).run()
        #expect(first.downloaded == listing.listing.count && first.skipped == 0)
        for f in listing.listing {
            let mtime = try #require(FS.modificationTime(folder + "/" + f.path))
            #expect(abs(mtime - f.modified!) < 0.001, "\(f.path): \(mtime) vs \(f.modified!)")
        }
        let manifest = try #require(S3Fetch.readManifest(folder))
        #expect(manifest.files.count == listing.listing.count && manifest.files.allSatisfy { !$0.etag.isEmpty })
        let again = try S3Fetch(storage: try S3Storage(url: url, environment: moto.environment), destination: folder).run()
        #expect(again.downloaded == 0 && again.skipped == listing.listing.count)
        let local = try Replica.open(folder)
        #expect(local.strays.isEmpty, "the manifest is not part of the replica")
        #expect(Verifier(replica: local).run().verdict == .ok)
        try Restorer(replica: local).restore(to: dir + "/fetched.db")
        #expect(try sameBytes(dir + "/ours.db", dir + "/fetched.db"))

        // The command line: exit 0 from the bucket, exit 2 in S3's words for a missing bucket.
        let cli = try runWithEnvironment(liteproofBinary(), ["verify", "--json", url], environment: moto.childEnvironment)
        #expect(cli.status == 0, "\(cli.output)")
        let missing = url.replacingOccurrences(of: "s3://bucket/", with: "s3://no-such-bucket/")
        let noBucket = try runWithEnvironment(liteproofBinary(), ["verify", missing], environment: moto.childEnvironment)
        #expect(noBucket.status == 2)
        #expect(noBucket.output.contains("NoSuchBucket"), "\(noBucket.output)")
        let canary = try runWithEnvironment(liteproofBinary(), ["canary", "check", url, "--token", token], environment: moto.childEnvironment)
        #expect(canary.status == 0, "\(canary.output)")
        let compare = try runWithEnvironment(liteproofBinary(), ["compare", url, "--live", db, "--json"], environment: moto.childEnvironment)
        #expect(compare.status == 0 && compare.output.contains("identical"), "\(compare.output)")
        let timeline = try runWithEnvironment(liteproofBinary(), ["timeline", url], environment: moto.childEnvironment)
        #expect(timeline.status == 0 && timeline.output.contains("s3://bucket/app"), "\(timeline.output)")
        let cliFetch = try runWithEnvironment(liteproofBinary(), ["fetch", url, dir + "/cli-fetch"], environment: moto.childEnvironment)
        #expect(cliFetch.status == 0 && FS.exists(dir + "/cli-fetch/" + Replica.fetchManifestName), "\(cliFetch.output)")
    }

    @Test func faultsAreRetriedOrStopTheCommand() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let url = try await makeV05Replica(moto, prefix: "faulty").url
        let dir = try rigTempDir("s3-faults")
        let direct = try Replica.open(storage: try S3Storage(url: url, environment: moto.environment))
        try Restorer(replica: direct).restore(to: dir + "/direct.db")

        // Every object: first a 500, then a connection dropped mid-body, then the object.
        let flaky = try FaultProxy(upstream: moto.port, mode: "flaky")
        defer { flaky.stop() }
        let viaFlaky = url.replacingOccurrences(of: ":\(moto.port)", with: ":\(flaky.port)")
        let storage = try S3Storage(client: fastRetries(viaFlaky, moto), concurrency: 4)
        let replica = try Replica.open(storage: storage)
        #expect(Verifier(replica: replica).run().verdict == .ok)
        #expect(storage.transferFailures.isEmpty)
        let restoredFlaky = try Replica.open(storage: try S3Storage(client: fastRetries(viaFlaky, moto)))
        try Restorer(replica: restoredFlaky).restore(to: dir + "/flaky.db")
        #expect(try sameBytes(dir + "/direct.db", dir + "/flaky.db"))
        #expect(flaky.log.contains("500 ") && flaky.log.contains("drop "), "\(flaky.log)")

        // One object always comes back short (Content-Length honest but smaller than the listing):
        // no verdict and no restore, exit 2 naming the object.
        let newest = try #require(direct.ltx?.files.filter { $0.level == 0 }.map(\.path).max())
        let short = try FaultProxy(upstream: moto.port, mode: "truncate:" + newest)
        defer { short.stop() }
        let viaShort = url.replacingOccurrences(of: ":\(moto.port)", with: ":\(short.port)")
        let verify = try runWithEnvironment(liteproofBinary(), ["verify", viaShort], environment: moto.childEnvironment)
        #expect(verify.status == 2, "\(verify.output)")
        #expect(verify.output.contains(newest) && verify.output.contains("the listing says"), "\(verify.output)")
        #expect(!verify.output.contains("OK") && !verify.output.contains("DAMAGED"), "\(verify.output)")
        let restore = try runWithEnvironment(liteproofBinary(), ["restore", viaShort, "-o", dir + "/short.db"], environment: moto.childEnvironment)
        #expect(restore.status == 2, "\(restore.output)")
        #expect(!FS.exists(dir + "/short.db"))
    }

    // MARK: Litestream 0.3.13

    @Test func v03GenerationsStraightFromTheBucket() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createBucket("bucket")
        let dir = try rigTempDir("s3-v03")
        let db = dir + "/app.db"
        let config = dir + "/litestream.yml"
        // 0.3.13 ignores ?endpoint= in a URL: the endpoint goes in the config.
        try """
        dbs:
          - path: "\(db)"
            monitor-interval: 200ms
            checkpoint-interval: 1h
            min-checkpoint-page-count: 1000000
            max-checkpoint-page-count: 2000000
            replicas:
              - type: s3
                bucket: bucket
                path: v03
                endpoint: http://127.0.0.1:\(moto.port)
                region: us-east-1
                force-path-style: true
                sync-interval: 100ms

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let url = "s3://bucket/v03?endpoint=http://127.0.0.1:\(moto.port)&region=us-east-1&forcePathStyle=true"
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.environment))
        func generations() throws -> [String: [S3Object]] {
            Dictionary(grouping: try client.list(prefix: "v03/generations/")) { $0.key.split(separator: "/")[2].description }
        }
        func segments() throws -> Int { try client.list(prefix: "v03/").filter { $0.key.hasSuffix(".wal.lz4") }.count }

        let writer = try RigDB(db)
        try writer.exec("PRAGMA journal_mode=WAL")
        try writer.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        var ls = try S3LitestreamProcess(.v03, config: config, log: dir + "/litestream.log", environment: moto.childEnvironment)
        defer { ls.stop() }
        for round in 0..<3 {
            let before = try segments()
            try writer.exec("INSERT INTO t(v) SELECT randomblob(300) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) -- \(round)")
            try waitUntil("0.3 segment \(round)", timeout: 45) { try segments() > before }
        }
        let first = Set(try generations().keys)
        #expect(first.count == 1)
        ls.stop()
        // A new generation: Litestream is stopped, the app truncates the WAL and writes on.
        _ = try writer.query("PRAGMA wal_checkpoint(TRUNCATE)")
        try writer.exec("INSERT INTO t(v) VALUES (randomblob(500))")
        ls = try S3LitestreamProcess(.v03, config: config, log: dir + "/litestream.log", environment: moto.childEnvironment)
        try waitUntil("a second generation with a snapshot and WAL", timeout: 45) {
            let g = try generations()
            return g.count == 2
                && g.values.allSatisfy { objs in
                    objs.contains { $0.key.hasSuffix(".snapshot.lz4") } && objs.contains { $0.key.hasSuffix(".wal.lz4") }
                }
        }
        let before = try segments()
        try writer.exec("INSERT INTO t(v) VALUES (randomblob(700))")
        try waitUntil("the final segment", timeout: 45) { try segments() > before }
        ls.stop()
        writer.close()
        let second = try #require(Set(try generations().keys).subtracting(first).first)

        let storage = try S3Storage(url: url, environment: moto.environment)
        let replica = try Replica.open(storage: storage)
        #expect(replica.format == .v03 && replica.v03?.generations.count == 2)
        // Times come from the listing (LastModified), as Litestream's generation choice uses them.
        #expect(storage.listing.allSatisfy { $0.modified != nil })
        let plan = try Restorer(replica: replica).plan(.latest())
        #expect(plan.generation == second)
        #expect(Verifier(replica: replica).run().verdict == .ok)
        try Restorer(replica: replica).restore(to: dir + "/ours.db")
        // S3 times have whole seconds: when both generations' newest objects share one, Litestream
        // takes the first by name while LiteProof decides by the WAL headers (the newer one). Compare
        // the same generation's restore.
        let theirs = try runWithEnvironment(
            try Litestream.binary(.v03), ["restore", "-config", config, "-generation", second, "-o", dir + "/theirs.db", db],
            environment: moto.childEnvironment)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))

        // A fetched copy keeps the times, so the same generation is chosen offline.
        _ = try S3Fetch(storage: storage, destination: dir + "/fetched").run()
        let local = try Replica.open(dir + "/fetched")
        #expect(try Restorer(replica: local).plan(.latest()).generation == second)
    }

    // MARK: Helpers

    /// Litestream 0.5.17 replicating a database with several write rounds into `s3://bucket/PREFIX`;
    /// returns the replica URL once Litestream has stopped with every round in the bucket.
    func makeV05Replica(_ moto: MotoServer, prefix: String) async throws -> (url: String, db: String, canary: String) {
        try moto.createBucket("bucket")
        let dir = try rigTempDir("s3-v05-\(prefix)")
        let db = dir + "/app.db"
        let url = "s3://bucket/\(prefix)?endpoint=http://127.0.0.1:\(moto.port)&region=us-east-1&forcePathStyle=true"
        try """
        levels:
          - interval: 2s
        snapshot:
          interval: 1h
        dbs:
          - path: "\(db)"
            monitor-interval: 200ms
            replica:
              url: "\(url)"
              sync-interval: 100ms

        """.write(toFile: dir + "/litestream.yml", atomically: true, encoding: .utf8)
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.environment))
        func l0() throws -> [String] { try client.list(prefix: prefix + "/0000/").map(\.key) }
        let writer = try RigDB(db)
        try writer.exec("PRAGMA journal_mode=WAL")
        try writer.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        let ls = try S3LitestreamProcess(.v05, config: dir + "/litestream.yml", log: dir + "/litestream.log", environment: moto.childEnvironment)
        defer { ls.stop() }
        for round in 0..<5 {
            let before = try l0().count
            try writer.exec("INSERT INTO t(v) SELECT randomblob(900) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) -- \(round)")
            try waitUntil("L0 file \(round)", timeout: 45) { try l0().count > before }
        }
        // An L1 compaction, so a restore's plan leaves some L0 files out.
        try waitUntil("an L1 file", timeout: 45) { try !client.list(prefix: prefix + "/0001/").isEmpty }
        // The last write is a canary row, written by the command line.
        let last = try l0().count
        let canary = try runWithEnvironment(liteproofBinary(), ["canary", "write", db], environment: moto.childEnvironment)
        guard canary.status == 0, let token = canary.output.split(separator: "\n").last.map(String.init) else {
            throw RigError(message: "canary write: \(canary.output)")
        }
        try waitUntil("the final L0 file", timeout: 45) { try l0().count > last }
        ls.stop()
        writer.close()
        return (url, db, token)
    }

    func fastRetries(_ url: String, _ moto: MotoServer) throws -> S3Client {
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.environment))
        client.baseDelay = 0.02
        return client
    }
}

func sameBytes(_ a: String, _ b: String) throws -> Bool {
    try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b))
}

/// A value shared between threads behind a lock.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    @discardableResult func update<R>(_ body: (inout T) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// Runs a program to completion with its own environment; output is stdout+stderr.
func runWithEnvironment(_ executable: String, _ args: [String], environment: [String: String], timeout: TimeInterval = 120) throws -> (
    status: Int32, output: String
) {
    let outPath = try rigTempDir("s3-run") + "/output.txt"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    p.environment = environment
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = out
    p.standardError = out
    try p.run()
    RigState.register(pid: p.processIdentifier)
    defer { RigState.unregister(pid: p.processIdentifier) }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning { terminate(p, grace: 3) }
    p.waitUntilExit()
    try? out.close()
    return (p.terminationStatus, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "")
}

/// The test process's environment for children, with fixed fake credentials and without the
/// variables that would change how AWS tools behave (0.5.17 will not start with AWS_CA_BUNDLE).
func s3ChildEnvironment() -> [String: String] {
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") && !$0.key.lowercased().hasSuffix("_proxy") }
    env["AWS_ACCESS_KEY_ID"] = "testing"
    env["AWS_SECRET_ACCESS_KEY"] = "testing"
    env["AWS_REGION"] = "us-east-1"
    env["AWS_CONFIG_FILE"] = "/nonexistent"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    return env
}

/// A free TCP port on 127.0.0.1 (bound once, then released).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RigError(message: "socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw RigError(message: "bind failed") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Sends one plain (unsigned) request to a loopback server; moto accepts them.
func plainRequest(_ method: String, _ url: String) throws -> Int {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    let done = DispatchSemaphore(value: 0)
    let status = Locked(-1)
    URLSession.shared.dataTask(with: request) { _, response, _ in
        status.update { $0 = (response as? HTTPURLResponse)?.statusCode ?? -1 }
        done.signal()
    }.resume()
    done.wait()
    return status.update { $0 }
}

/// moto's S3 server on a free loopback port; stop it in a defer.
final class MotoServer: @unchecked Sendable {
    let port: Int
    let process = Process()
    let logPath: String
    let childEnvironment = s3ChildEnvironment()
    /// For the library calls: the same credentials, no AWS files.
    var environment: [String: String] { childEnvironment }

    init() throws {
        port = try freeLoopbackPort()
        logPath = try rigTempDir("moto") + "/moto.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        var env = childEnvironment
        // .ci/setup puts moto in .tools/moto when the machine's Python has none.
        if let root = Litestream.packageRoot() {
            env["PYTHONPATH"] = ([root + "/.tools/moto"] + (env["PYTHONPATH"].map { [$0] } ?? [])).joined(separator: ":")
        }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "from moto.server import main; main()", "-H", "127.0.0.1", "-p", String(port)]
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        RigState.register(pid: process.processIdentifier)
        do {
            try waitUntil("moto's server on port \(port)", timeout: 60) {
                guard process.isRunning else { throw RigError(message: "moto exited") }
                return try plainRequest("GET", "http://127.0.0.1:\(port)/") == 200
            }
        } catch {
            stop()
            throw RigError(
                message: "cannot start moto's S3 server (run .ci/setup, which installs moto[server]): \(error)\n"
                    + ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""))
        }
    }

    func createBucket(_ name: String) throws {
        let status = try plainRequest("PUT", "http://127.0.0.1:\(port)/\(name)")
        guard status == 200 else { throw RigError(message: "creating bucket \(name): HTTP \(status)") }
    }

    func stop() {
        terminate(process, grace: 5)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}

/// `litestream replicate -config CONFIG` with its own environment; stop it in a defer.
final class S3LitestreamProcess: @unchecked Sendable {
    let process = Process()
    private var stopped = false

    init(_ v: LitestreamVersion, config: String, log: String, environment: [String: String]) throws {
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        h.seekToEndOfFile()
        process.executableURL = URL(fileURLWithPath: try Litestream.binary(v))
        process.arguments = ["replicate", "-no-expand-env", "-config", config]
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = h
        process.standardError = h
        try process.run()
        RigState.register(pid: process.processIdentifier)
    }

    func stop() {
        if stopped { return }
        stopped = true
        terminate(process, grace: 10)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }

    deinit { stop() }
}

/// A loopback HTTP proxy in front of moto that damages object reads (not listings):
/// `flaky`: each object's 1st GET answers 500, its 2nd drops the connection halfway through the
/// body, later ones pass; `truncate:PATH`: every GET of an object ending in PATH gets half the body
/// with a matching Content-Length. It logs one line per request.
final class FaultProxy: @unchecked Sendable {
    let port: Int
    let process = Process()
    let logPath: String

    static let script = #"""
        import sys, http.server, socket, threading, urllib.request, urllib.error
        upstream, mode, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
        counts, lock = {}, threading.Lock()
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def note(self, what):
                print(what, self.path, flush=True)
            def do_GET(self):
                req = urllib.request.Request(upstream + self.path, headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                try:
                    with urllib.request.urlopen(req) as r:
                        status, headers, body = r.status, r.getheaders(), r.read()
                except urllib.error.HTTPError as e:
                    status, headers, body = e.code, list(e.headers.items()), e.read()
                obj = "list-type=" not in self.path
                with lock:
                    n = counts.get(self.path, 0); counts[self.path] = n + 1
                keep = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server")]
                if obj and mode == "flaky" and n == 0:
                    err = b"<?xml version='1.0'?><Error><Code>InternalError</Code><Message>injected</Message></Error>"
                    self.note("500"); self.send_response(500); self.send_header("Content-Length", str(len(err))); self.end_headers(); self.wfile.write(err); return
                if obj and mode == "flaky" and n == 1 and len(body) > 1:
                    self.note("drop"); self.send_response(status)
                    for k, v in keep: self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body))); self.end_headers()
                    self.wfile.write(body[: len(body) // 2]); self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR); self.close_connection = True; return
                if obj and mode.startswith("truncate:") and self.path.split("?")[0].endswith(mode[len("truncate:"):]):
                    body = body[: len(body) // 2]; self.note("truncate")
                else:
                    self.note("pass")
                self.send_response(status)
                for k, v in keep: self.send_header(k, v)
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        s = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        print("ready", flush=True)
        s.serve_forever()
        """#

    init(upstream: Int, mode: String) throws {
        port = try freeLoopbackPort()
        logPath = try rigTempDir("proxy") + "/proxy.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, "http://127.0.0.1:\(upstream)", mode, String(port)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        RigState.register(pid: process.processIdentifier)
        try waitUntil("the fault proxy", timeout: 30) { self.log.contains("ready") }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() {
        terminate(process, grace: 3)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}
