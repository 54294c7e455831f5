// The hostile S3 rig: a small S3 server on loopback serving the example 0.5 replica's objects
// (Tests/Fixtures/example-0.5) and misbehaving on demand, with a second listener on another port
// (another origin) that records whether credentials reached it; and a runner for the command
// line with a private TMPDIR, a time bound and the peak memory.

import Foundation
import LiteProof

/// The hostile server. `modes` (each `NAME` or `NAME:SUFFIX`, the suffix naming the objects it
/// applies to):
/// `cutlist` (the listing ends mid-document), `endless` (the same continuation token forever),
/// `unsorted` (page 2 overlaps page 1), `notoken` (truncated without a token), `deepxml`
/// (deeply nested elements), `strictpath` (422 to `/bucket/?list-type=2`), `ctrlkey` (a key
/// with a control character), `redirect` (object GETs: 307 to the other port), `redirecthost`
/// (301 to `localhost:` the other port), `redirectlist` (the listing: 307 to the other port),
/// `nosuchkey:S` / `denied:S` (404 NoSuchKey / 403 AccessDenied), `dead` (object GETs: the
/// connection closed unanswered), `trickle` (every body 1 byte each 0.3 s), `slow:S` (the same for
/// some), `stall` (headers, then nothing), `long:S` (Content-Length 128 MiB and that many bytes).
/// It logs `GET path` per request, `OTHER auth token path` per request to the other port, and
/// `SENT bytes key` after a slow or long body.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class HostileS3: @unchecked Sendable {
    let port: Int
    let otherPort: Int
    let prefixes: [String]
    let process = Process()
    let logPath: String

    static let script = #"""
        import sys, os, time, socket, hashlib, threading, http.server, urllib.parse
        from xml.sax.saxutils import escape

        root, prefixes, modes, port, port2 = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(","), int(sys.argv[4]), int(sys.argv[5])
        mode = set(m.split(":")[0] for m in modes)
        arg = {m.split(":")[0]: m.split(":", 1)[1] for m in modes if ":" in m}
        PAGE = 7
        objects = {}
        for level in sorted(os.listdir(os.path.join(root, "ltx"))):
            for name in sorted(os.listdir(os.path.join(root, "ltx", level))):
                data = open(os.path.join(root, "ltx", level, name), "rb").read()
                for p in prefixes:
                    objects["%s/%04x/%s" % (p, int(level), name)] = data
        if "ctrlkey" in mode:
            objects[prefixes[0] + "/0000/bad\x01name.ltx"] = b"stray"
        keys = sorted(objects, key=lambda k: k.encode())
        lock = threading.Lock()

        def log(*a):
            with lock:
                print(*a, flush=True)

        def listing(q):
            prefix = q.get("prefix", [""])[0]
            enc = q.get("encoding-type", [""])[0] == "url"
            ks = [k for k in keys if k.startswith(prefix)]
            t = q.get("continuation-token", ["t0"])[0]
            start = int(t[1:]) if t[:1] == "t" and t[1:].isdigit() else 0
            if "endless" in mode and "continuation-token" in q:
                ks = []
            if "unsorted" in mode and start > 0:
                start = max(0, start - PAGE)
                page = ks[start:start + PAGE]
                nxt = start + 2 * PAGE
            else:
                page = ks[start:start + PAGE]
                nxt = start + PAGE
            truncated = nxt < len(ks)
            token = "t%d" % nxt
            if "endless" in mode:
                truncated, token = True, "same-token"
            if "cutlist" in mode:
                page, truncated = ks, False
            out = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
                   "<Name>bucket</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys>" % (escape(prefix), len(page)),
                   "<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false")]
            if enc:
                out.append("<EncodingType>url</EncodingType>")
            if truncated and "notoken" not in mode:
                out.append("<NextContinuationToken>%s</NextContinuationToken>" % token)
            for i, k in enumerate(page):
                shown = urllib.parse.quote(k, safe="/") if enc else escape(k)
                out.append("<Contents><Key>%s</Key><LastModified>2026-01-01T00:%02d:%02d.000Z</LastModified><ETag>\"%s\"</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>"
                           % (shown, keys.index(k) // 60, keys.index(k) % 60, hashlib.md5(objects[k]).hexdigest(), len(objects[k])))
            if "deepxml" in mode:
                out.append("<a>" * 20000 + "</a>" * 20000)
            out.append("</ListBucketResult>")
            body = "".join(out).encode()
            if "cutlist" in mode:
                cut = body.index(b"</Contents>", body.index(b"</Contents>") + 1)
                for _ in range(3):
                    cut = body.index(b"</Contents>", cut + 1)
                body = body[: cut + len(b"</Contents>")]
            return body

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            other = False
            def log_message(self, *a): pass
            def answer(self, status, body, ctype="application/xml", headers=()):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for k, v in headers: self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def error(self, status, code):
                self.answer(status, ("<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>hostile %s</Message></Error>" % (code, code)).encode())
            def do_GET(self):
                raw, _, query = self.path.partition("?")
                q = urllib.parse.parse_qs(query, keep_blank_values=True)
                auth = "yes" if self.headers.get("Authorization") else "no"
                token = "yes" if self.headers.get("x-amz-security-token") else "no"
                path = urllib.parse.unquote(raw)
                if self.other:
                    log("OTHER", auth, token, self.path)
                else:
                    log("GET", self.path)
                if "list-type" in q:
                    if raw.endswith("/") and "strictpath" in mode:
                        return self.answer(422, b"unprocessable: /bucket/?list-type=2")
                    if "redirectlist" in mode and not self.other:
                        return self.answer(307, b"", headers=[("Location", "http://127.0.0.1:%d%s" % (port2, self.path))])
                    return self.answer(200, listing(q))
                key = path[len("/bucket/"):] if path.startswith("/bucket/") else None
                if key not in objects:
                    return self.error(404, "NoSuchKey")
                body = objects[key]
                if self.other:
                    return self.answer(200, b"\0" * len(body))
                if "redirect" in mode:
                    return self.answer(307, b"", headers=[("Location", "http://127.0.0.1:%d%s" % (port2, self.path))])
                if "redirecthost" in mode:
                    return self.answer(301, b"", headers=[("Location", "http://localhost:%d%s" % (port2, self.path))])
                if "nosuchkey" in mode and key.endswith(arg["nosuchkey"]):
                    return self.error(404, "NoSuchKey")
                if "denied" in mode and key.endswith(arg["denied"]):
                    return self.error(403, "AccessDenied")
                if "dead" in mode:
                    self.connection.shutdown(socket.SHUT_RDWR); self.close_connection = True; return
                slow = "trickle" in mode or ("slow" in mode and key.endswith(arg["slow"]))
                if slow or "stall" in mode or ("long" in mode and key.endswith(arg["long"])):
                    self.send_response(200)
                    long_ = "long" in mode and key.endswith(arg["long"])
                    self.send_header("Content-Length", str(128 << 20 if long_ else len(body)))
                    self.end_headers(); self.wfile.flush()
                    sent = 0
                    try:
                        if "stall" in mode:
                            time.sleep(120)
                        elif long_:
                            chunk = body + b"\0" * (65536 - len(body) % 65536)
                            # Paced (about 16 MB/s): the byte count then measures how soon the
                            # client stops reading, not a race of a loaded machine's scheduler.
                            while sent < (128 << 20):
                                self.wfile.write(chunk); sent += len(chunk); time.sleep(0.004)
                        else:
                            for b in body:
                                self.wfile.write(bytes([b])); self.wfile.flush(); sent += 1; time.sleep(0.3)
                    except Exception:
                        pass
                    log("SENT", sent, key)
                    self.close_connection = True
                    return
                self.answer(200, body, "application/octet-stream", [("ETag", "\"%s\"" % hashlib.md5(body).hexdigest())])

        class O(H):
            other = True

        s = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        s.daemon_threads = True
        o = http.server.ThreadingHTTPServer(("127.0.0.1", port2), O)
        o.daemon_threads = True
        threading.Thread(target=o.serve_forever, daemon=True).start()
        log("ready")
        s.serve_forever()
        """#

    init(_ modes: [String], prefixes: [String] = ["db"]) throws {
        port = try freeLoopbackPort()
        var other = try freeLoopbackPort()
        while other == port { other = try freeLoopbackPort() }
        otherPort = other
        self.prefixes = prefixes
        logPath = try rigTempDir("hostile-s3") + "/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c", Self.script, Fixtures.packageRoot + "/Tests/Fixtures/example-0.5/replica", prefixes.joined(separator: ","),
            modes.isEmpty ? "ok" : modes.joined(separator: ","), String(port), String(otherPort),
        ]
        try rigLaunch(process, output: log)
        do {
            try waitUntil("the hostile S3 server", timeout: 30) {
                guard process.isRunning else { throw RigError(message: "the hostile S3 server exited: \(self.log)") }
                return self.log.contains("ready")
            }
        } catch {
            stop()
            throw error
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The replica URL of `prefix` (default: the first).
    func url(_ prefix: String? = nil) -> String {
        "s3://bucket/\(prefix ?? prefixes[0])?endpoint=http://127.0.0.1:\(port)&region=us-east-1&forcePathStyle=true"
    }

    /// Requests that reached the other origin, and those of them that carried credentials.
    var offOrigin: (requests: Int, withCredentials: Int) {
        let lines = log.split(separator: "\n").filter { $0.hasPrefix("OTHER ") }
        return (lines.count, lines.filter { $0.hasPrefix("OTHER yes") || $0.contains(" yes ") }.count)
    }

    /// Body bytes the server wrote for slow and long answers.
    var bytesSent: Int {
        log.split(separator: "\n").filter { $0.hasPrefix("SENT ") }.compactMap { Int($0.split(separator: " ")[1]) }.reduce(0, +)
    }

    /// GET requests for objects (not listings).
    var objectGets: [String] {
        log.split(separator: "\n").filter { $0.hasPrefix("GET ") && !$0.contains("list-type=") }.map { String($0.dropFirst(4)) }
    }

    func stop() {
        terminate(process, grace: 3)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}

/// One run of the command line against a hostile server.
struct HostileRun {
    var status: Int32
    var output: String
    var seconds: Double
    /// Peak resident memory (VmHWM) last seen, KiB.
    var peakKiB: Int
    /// What the run left in its private TMPDIR.
    var litter: [String]
    /// The process ended on this signal (else nil).
    var signal: Int32?
}

/// The secret key and session token the hostile runs are given: no output may show them.
let hostileSecret = "hostile-secret-key-d0f4"
let hostileToken = "hostile-session-token-77aa"

/// The transfer policy for hostile runs that must succeed: the test policy's 1 s windows are for
/// runs expected to fail, where one pause of a loaded machine is the point; here it would be a
/// flake.
let patientPolicy = ["LITEPROOF_S3_STALL": "30", "LITEPROOF_S3_DEADLINE": "600"]

/// Runs `liteproof args` with fake credentials (a session token included), a private TMPDIR and
/// the test transfer policy (1 s windows, a 1 KiB/s floor, 3 attempts, a 4 s deadline per
/// object), `environment` on top. `signal` is sent once its condition holds, polled with the run's
/// TMPDIR every 10 ms after `whileRunning` (the run then ends on it): a state, never a delay, since
/// a loaded machine may take any time to reach it.
func runHostile(
    _ args: [String], environment: [String: String] = [:], tmpdir: String? = nil, timeout: TimeInterval = 60,
    signal: (Int32, when: (_ tmp: String) -> Bool)? = nil, whileRunning: ((String) -> Void)? = nil
) throws -> HostileRun {
    let tmp = try tmpdir ?? rigTempDir("hostile-tmp")
    var env = s3ChildEnvironment()
    env["AWS_SECRET_ACCESS_KEY"] = hostileSecret
    env["AWS_SESSION_TOKEN"] = hostileToken
    env["TMPDIR"] = tmp
    env["LITEPROOF_S3_STALL"] = "1"
    env["LITEPROOF_S3_MIN_SPEED"] = "1024"
    env["LITEPROOF_S3_ATTEMPTS"] = "3"
    env["LITEPROOF_S3_DEADLINE"] = "4"
    env.merge(environment) { _, new in new }
    let outPath = try rigTempDir("hostile-run") + "/output.txt"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let p = Process()
    // The test process blocks some signals, and a child inherits the mask: exec'd through a
    // launcher that clears it, so the signals sent here are handled as a user's would be.
    let launcher =
        "import os, signal, sys; signal.signal(signal.SIGPIPE, signal.SIG_DFL); "
        + "signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", launcher, liteproofBinary()] + args
    p.environment = env
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = out
    p.standardError = out
    let start = Date()
    try p.run()
    RigState.register(pid: p.processIdentifier)
    defer { RigState.unregister(pid: p.processIdentifier) }
    var peak = 0
    var signalled = false
    while p.isRunning && Date().timeIntervalSince(start) < timeout {
        if let text = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        {
            peak = max(peak, kib)
        }
        whileRunning?(tmp)
        if let signal, !signalled, signal.when(tmp) {
            kill(p.processIdentifier, signal.0)
            signalled = true
        }
        usleep(10_000)
    }
    let timedOut = p.isRunning
    if timedOut { terminate(p, grace: 3) }
    p.waitUntilExit()
    try? out.close()
    let seconds = Date().timeIntervalSince(start)
    let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    if timedOut { throw RigError(message: "liteproof \(args) ran past \(timeout) s:\n\(output)") }
    return HostileRun(
        status: p.terminationStatus, output: output, seconds: seconds, peakKiB: peak,
        litter: ((try? FileManager.default.subpathsOfDirectory(atPath: tmp)) ?? []).sorted(),
        signal: p.terminationReason == .uncaughtSignal ? p.terminationStatus : nil)
}
