// The WebDAV rig: WsgiDAV (PyPI's wsgidav with cheroot, installed by .ci/setup into .tools/wsgidav)
// serving a temp folder on a loopback port, anonymous or with one basic-auth user; a proxy that
// kills it in the middle of a download; and a hostile server of the test's own that answers
// PROPFIND with bodies no WebDAV server should send.

import Foundation
import LiteProof
import LiteProofWebDAV

/// WsgiDAV on `127.0.0.1:PORT`, its root a temp folder (``root``) the tests read and damage
/// directly. Stop it in a defer.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class WsgiDAVServer: @unchecked Sendable {
    let port: Int
    let root: String
    let process = Process()
    let logPath: String
    /// `USER:PASSWORD` when the server wants basic auth.
    let credentials: String?
    /// The test process's environment for children, without proxies.
    let childEnvironment: [String: String]
    /// With `tls`: the server's self-signed certificate (PEM, its own CA), for `SSL_CERT_FILE`.
    let certFile: String?

    /// WsgiDAV under cheroot, as its command line runs it, with one change: a request's body is
    /// read before WsgiDAV sees the request. WsgiDAV leaves the body of a PROPFIND it answers 404
    /// unread (Litestream's client sends it chunked, for every level it looks for), and cheroot
    /// then reads that body as the next request on the kept-alive connection ("400 Malformed
    /// Request-Line"), which broke `litestream restore`.
    static let script = #"""
        import io, sys
        from cheroot import wsgi
        from wsgidav.wsgidav_app import WsgiDAVApp
        port, root, user, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
        users = {user.split(":")[0]: {"password": user.split(":", 1)[1]}} if user else True
        app = WsgiDAVApp({
            "host": "127.0.0.1", "port": port, "provider_mapping": {"/": root}, "verbose": 1,
            "logging": {"enable_loggers": []}, "property_manager": True, "lock_storage": True,
            "http_authenticator": {"domain_controller": None, "accept_basic": True, "accept_digest": False, "default_to_digest": False},
            "simple_dc": {"user_mapping": {"*": users}},
        })
        def drained(environ, start_response):
            n = int(environ.get("CONTENT_LENGTH") or 0)
            if n > 0:
                environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(n))
            elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
                body = environ["wsgi.input"].read()
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
            return app(environ, start_response)
        server = wsgi.Server(("127.0.0.1", port), drained)
        if cert:
            from cheroot.ssl.builtin import BuiltinSSLAdapter
            server.ssl_adapter = BuiltinSSLAdapter(cert, key)
        print("ready", flush=True)
        server.start()
        """#

    /// The folder of the wsgidav package: `LITEPROOF_WSGIDAV` (a PYTHONPATH entry), else .tools/wsgidav.
    static func pythonPath() throws -> String {
        if let path = ProcessInfo.processInfo.environment["LITEPROOF_WSGIDAV"], !path.isEmpty { return path }
        if let root = Litestream.packageRoot(), FileManager.default.fileExists(atPath: root + "/.tools/wsgidav/wsgidav") {
            return root + "/.tools/wsgidav"
        }
        throw RigError(message: "no WsgiDAV: run .ci/setup (installs wsgidav and cheroot into .tools/wsgidav) or set LITEPROOF_WSGIDAV")
    }

    /// Serves `root` when given (another server's folder, read by both), else a new folder; with
    /// `tls`, over https only (`webdavs://`), with a self-signed certificate for 127.0.0.1.
    init(credentials: String? = nil, root sharedRoot: String? = nil, tls: Bool = false) throws {
        let path = try Self.pythonPath()
        self.credentials = credentials
        port = try freeLoopbackPort()
        let dir = try rigTempDir("wsgidav")
        root = sharedRoot ?? dir + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        logPath = dir + "/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.lowercased().hasSuffix("_proxy") }
        childEnvironment = env
        certFile = tls ? try rigSelfSignedCertificate(in: dir) : nil
        env["PYTHONPATH"] = path
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, String(port), root, credentials ?? "", certFile ?? "", tls ? dir + "/key.pem" : ""]
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        try rigLaunch(process, output: log)
        do {
            let process = self.process, port = self.port
            try waitUntil("WsgiDAV on port \(port)", timeout: 30) {
                guard process.isRunning else { throw RigError(message: "WsgiDAV exited") }
                return loopbackPortListens(port)
            }
        } catch {
            stop()
            throw RigError(message: "cannot start WsgiDAV: \(error)\n" + ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""))
        }
    }

    /// `webdav://[USER:PASSWORD@]127.0.0.1:PORT/PATH` (`webdavs://` over TLS).
    func url(_ path: String, port: Int? = nil) -> String {
        (certFile == nil ? "webdav://" : "webdavs://") + (credentials.map { $0 + "@" } ?? "") + "127.0.0.1:\(port ?? self.port)/" + path
    }

    /// A client of the server (with its credentials).
    func client() throws -> WebDAVClient { WebDAVClient(location: try WebDAVLocation(url: url(""))) }

    func stop() {
        terminate(process, grace: 5)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}

/// A self-signed certificate for 127.0.0.1 (and localhost) made with `openssl` in `dir`:
/// `dir/cert.pem` (returned; its own CA) and `dir/key.pem`.
func rigSelfSignedCertificate(in dir: String) throws -> String {
    let made = try runWithEnvironment(
        "/usr/bin/env",
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ], environment: ProcessInfo.processInfo.environment)
    guard made.status == 0 else { throw RigError(message: "openssl could not make a certificate: \(made.output)") }
    return dir + "/cert.pem"
}

/// A loopback proxy in front of a WebDAV server that kills it in the middle of the first GET of
/// an `.ltx` file: other requests (PROPFIND included) pass through; that GET gets the server's
/// status line, headers and half the body, then the server is killed (SIGKILL) and the
/// connection dropped; every later connection is dropped too.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class KillingDAVProxy: @unchecked Sendable {
    let port: Int
    let process = Process()

    static let script = #"""
        import sys, os, signal, socket, http.server, urllib.request, urllib.error
        upstream, pid, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        state = {"killed": False}
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def handle_one(self):
                if state["killed"]:
                    # shutdown, not close alone: rfile and wfile keep the socket open.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR); return
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("depth", "range", "authorization", "content-type")}
                try:
                    r = urllib.request.urlopen(urllib.request.Request(upstream + self.path, data=body, method=self.command, headers=headers))
                    status, rh, data = r.status, r.getheaders(), r.read()
                except urllib.error.HTTPError as e:
                    status, rh, data = e.code, e.headers.items(), e.read()
                self.send_response(status)
                for k, v in rh:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"): self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command == "GET" and self.path.endswith(".ltx") and len(data) > 1:
                    self.wfile.write(data[: len(data) // 2]); self.wfile.flush()
                    os.kill(pid, signal.SIGKILL); state["killed"] = True
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR); return
                self.wfile.write(data)
            do_GET = do_PROPFIND = do_OPTIONS = handle_one
        http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
        """#

    init(upstream: WsgiDAVServer) throws {
        port = try freeLoopbackPort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, "http://127.0.0.1:\(upstream.port)", String(upstream.process.processIdentifier), String(port)]
        process.standardInput = FileHandle.nullDevice
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

/// A WebDAV server of the test's own that answers every PROPFIND with one hostile body (`mode`):
/// `outside` (an href above the folder asked for), `otherhost` (an href on another server),
/// `deep` (elements nested 100,000 deep), `endless` (a multistatus that never ends),
/// `doctype` (a document type with an entity that expands), `notdav` (200 and an HTML page),
/// `loop` (every folder lists itself as a child folder under another spelling, forever deeper).
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class HostileDAV: @unchecked Sendable {
    let port: Int
    let process = Process()

    static let script = #"""
        import sys, http.server, urllib.parse
        mode, port = sys.argv[1], int(sys.argv[2])
        def resp(href, coll):
            rt = "<D:collection/>" if coll else ""
            size = "" if coll else "<D:getcontentlength>10</D:getcontentlength>"
            return ("<D:response><D:href>%s</D:href><D:propstat><D:prop><D:resourcetype>%s</D:resourcetype>%s"
                    "<D:getlastmodified>Sun, 06 Dec 2026 20:59:04 GMT</D:getlastmodified></D:prop>"
                    "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>") % (href, rt, size)
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def do_PROPFIND(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n: self.rfile.read(n)
                path = urllib.parse.unquote(self.path)
                head = '<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">' + resp(self.path, True)
                if mode == "endless":
                    self.send_response(207); self.send_header("Content-Type", "application/xml"); self.end_headers()
                    self.wfile.write(head.encode())
                    chunk = (resp(self.path + "f.ltx", False) * 200).encode()
                    try:
                        while True: self.wfile.write(chunk)
                    except Exception: return
                if mode == "outside": body = head + resp("/etc/passwd", False) + "</D:multistatus>"
                elif mode == "otherhost": body = head + resp("http://192.0.2.1" + self.path + "x.ltx", False) + "</D:multistatus>"
                elif mode == "deep": body = '<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">' + "<D:x>" * 100000 + "</D:x>" * 100000 + "</D:multistatus>"
                elif mode == "doctype": body = '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">]><D:multistatus xmlns:D="DAV:">&a;</D:multistatus>'
                elif mode == "loop": body = head + resp(self.path + "d/", True) + "</D:multistatus>"
                else: body = "<html><title>hello</title></html>"
                data = body.encode()
                self.send_response(200 if mode == "notdav" else 207)
                self.send_header("Content-Type", "application/xml"); self.send_header("Content-Length", str(len(data))); self.end_headers()
                self.wfile.write(data)
        s = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        s.daemon_threads = True
        print("ready", flush=True)
        s.serve_forever()
        """#

    init(_ mode: String) throws {
        port = try freeLoopbackPort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, mode, String(port)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        RigState.register(pid: process.processIdentifier)
        let port = port
        do {
            try waitUntil("the hostile WebDAV server on port \(port)", timeout: 20) { loopbackPortListens(port) }
        } catch {
            stop()
            throw error
        }
    }

    func stop() {
        terminate(process, grace: 3)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}
