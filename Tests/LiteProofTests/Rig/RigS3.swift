// The S3 rig: moto's S3 server, Litestream replicating into it with its own environment, a
// fault-injecting proxy, and plain HTTP helpers.

import Foundation
import LiteProof

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

func sameBytes(_ a: String, _ b: String) throws -> Bool {
    try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b))
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
    try rigLaunch(p, output: out)
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
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
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
        try rigLaunch(process, output: log)
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
// @unchecked: Process is not Sendable in every Foundation; `stopped` is behind a lock.
final class S3LitestreamProcess: @unchecked Sendable {
    let process = Process()
    private let stopped = Locked(false)

    init(_ v: LitestreamVersion, config: String, log: String, environment: [String: String]) throws {
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        h.seekToEndOfFile()
        process.executableURL = URL(fileURLWithPath: try Litestream.binary(v))
        process.arguments = ["replicate", "-no-expand-env", "-config", config]
        process.environment = environment
        try rigLaunch(process, output: h)
    }

    func stop() {
        let wasStopped = stopped.update { s in
            defer { s = true }
            return s
        }
        if wasStopped { return }
        terminate(process, grace: 10)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }

    deinit { stop() }
}

/// A loopback HTTP proxy in front of moto that damages object reads (not listings):
/// `flaky`: each object's 1st GET answers 500, its 2nd drops the connection halfway through the
/// body, later ones pass; `truncate:PATH`: every GET of an object ending in PATH gets half the body
/// with a matching Content-Length; `nosuchkey:PATH` / `denied:PATH`: every GET of an object ending
/// in PATH is answered 404 NoSuchKey / 403 AccessDenied. It logs one line per request.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
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
                drop = ("host", "range") if mode == "norange" else ("host",)
                req = urllib.request.Request(upstream + self.path, headers={k: v for k, v in self.headers.items() if k.lower() not in drop})
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
                if obj and mode.split(":")[0] in ("nosuchkey", "denied") and self.path.split("?")[0].endswith(mode.split(":", 1)[1]):
                    code, st = ("NoSuchKey", 404) if mode.startswith("nosuchkey:") else ("AccessDenied", 403)
                    err = ("<?xml version='1.0'?><Error><Code>%s</Code><Message>injected</Message></Error>" % code).encode()
                    self.note(code); self.send_response(st); self.send_header("Content-Length", str(len(err))); self.end_headers(); self.wfile.write(err); return
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

    /// `port`: listen there (a proxy started again where a stopped one was); nil: a free port.
    init(upstream: Int, mode: String, port: Int? = nil) throws {
        self.port = try port ?? freeLoopbackPort()
        logPath = try rigTempDir("proxy") + "/proxy.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, "http://127.0.0.1:\(upstream)", mode, String(self.port)]
        try rigLaunch(process, output: log)
        try waitUntil("the fault proxy", timeout: 30) { self.log.contains("ready") }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() {
        terminate(process, grace: 3)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}
