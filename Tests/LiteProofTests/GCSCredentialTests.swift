// GCS credentials and hostile listings, without the emulator (which ignores credentials): a
// service account's JWT is signed RS256 with a throwaway key made by openssl and verified by
// openssl with the public key; the token exchange and the bearer header run against a loopback
// token server; the JSON listing parser refuses bodies of the wrong shape and a page token that
// repeats forever. Not proven here: that Google's token endpoint accepts the JWT (no network).

import Foundation
import LiteProof
import LiteProofObjectStore
import Testing

@testable import LiteProofGCS
@testable import LiteProofStoreAnswers

/// A loopback stand-in for Google's token endpoint and the JSON API: `POST /token` grants
/// `tok-N` for a JWT (or refuses one whose `iss` starts with `refused`), `user-N` for a refresh
/// token, every request is recorded as a
/// JSON line in `log`; `GET /storage/v1/b/empty/o` lists nothing, `GET /storage/v1/b/loop/o`
/// lists one object (a new one after the first page) with the same next page token every time.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class TokenServer: @unchecked Sendable {
    let port: Int
    let log: String
    let process = Process()

    static let script = #"""
        import sys, json, base64, http.server, urllib.parse
        port, log = int(sys.argv[1]), sys.argv[2]
        grants = [0]
        def record(entry):
            with open(log, "a") as f: f.write(json.dumps(entry) + "\n")
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status); self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
            def do_POST(self):
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                record({"method": "POST", "path": self.path, "form": form})
                if form.get("grant_type") == "refresh_token":
                    grants[0] += 1
                    return self.answer(200, {"access_token": "user-%d" % grants[0], "expires_in": 3599})
                claims = json.loads(base64.urlsafe_b64decode(form.get("assertion", "..").split(".")[1] + "=="))
                if claims.get("iss", "").startswith("refused"):
                    return self.answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
                grants[0] += 1
                self.answer(200, {"access_token": "tok-%d" % grants[0], "expires_in": 3600, "token_type": "Bearer"})
            def do_GET(self):
                record({"method": "GET", "path": self.path, "authorization": self.headers.get("Authorization")})
                if self.path.startswith("/storage/v1/b/loop/o"):
                    name = "app/x1" if "pageToken=" in self.path else "app/x0"
                    return self.answer(200, {"items": [{"name": name, "size": "1", "updated": "2026-01-01T00:00:00Z"}], "nextPageToken": "again"})
                self.answer(200, {"kind": "storage#objects"})
        http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
        """#

    init() throws {
        port = try freeLoopbackPort()
        log = try rigTempDir("token-server") + "/requests.jsonl"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, String(port), log]
        process.standardInput = FileHandle.nullDevice
        try process.run()
        RigState.register(pid: process.processIdentifier)
        let port = port
        try waitUntil("the token server on port \(port)", timeout: 20) { loopbackPortListens(port) }
    }

    var requests: [[String: Any]] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func stop() {
        terminate(process, grace: 3)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}

@Suite struct GCSCredentialTests {
    /// A throwaway 2048-bit key (PKCS#8 PEM, as Google's key files hold it) and its public key.
    func throwawayKey(_ dir: String) throws -> (pem: String, publicKey: String) {
        let env = ProcessInfo.processInfo.environment
        let made = try runWithEnvironment(
            "/usr/bin/env", ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", dir + "/key.pem"], environment: env)
        let pub = try runWithEnvironment("/usr/bin/env", ["openssl", "pkey", "-in", dir + "/key.pem", "-pubout", "-out", dir + "/pub.pem"], environment: env)
        guard made.status == 0 && pub.status == 0 else { throw RigError(message: "openssl: \(made.output) \(pub.output)") }
        return (try String(contentsOfFile: dir + "/key.pem", encoding: .utf8), dir + "/pub.pem")
    }

    func serviceAccountFile(_ dir: String, pem: String, email: String, tokenURI: String) throws -> String {
        let json: [String: String] = [
            "type": "service_account", "project_id": "test", "private_key_id": "kid-1", "private_key": pem, "client_email": email,
            "client_id": "1", "token_uri": tokenURI,
        ]
        let path = dir + "/\(email).json"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Whether openssl verifies `jwt`'s RS256 signature with the public key at `publicKey`.
    func opensslVerifies(_ jwt: String, publicKey: String, dir: String) throws -> Bool {
        let parts = jwt.split(separator: ".").map(String.init)
        guard parts.count == 3, let signature = base64URLDecode(parts[2]) else { return false }
        try Data("\(parts[0]).\(parts[1])".utf8).write(to: URL(fileURLWithPath: dir + "/input"))
        try signature.write(to: URL(fileURLWithPath: dir + "/signature"))
        let r = try runWithEnvironment(
            "/usr/bin/env", ["openssl", "dgst", "-sha256", "-verify", publicKey, "-signature", dir + "/signature", dir + "/input"],
            environment: ProcessInfo.processInfo.environment)
        return r.status == 0 && r.output.contains("Verified OK")
    }

    func base64URLDecode(_ s: String) -> Data? {
        var t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while t.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t)
    }

    @Test func serviceAccountJWTIsSignedRS256() throws {
        let dir = try rigTempDir("gcs-jwt")
        let (pem, publicKey) = try throwawayKey(dir)
        let path = try serviceAccountFile(dir, pem: pem, email: "lp@test.iam.gserviceaccount.com", tokenURI: "https://oauth2.googleapis.com/token")
        guard case .serviceAccount(let account) = try GCSCredentials.load(path: path, source: "test") else {
            Issue.record("not read as a service account")
            return
        }
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let jwt = try account.assertion(now: now)
        #expect(try opensslVerifies(jwt, publicKey: publicKey, dir: dir))
        // A signature with one bit changed does not verify: the check can fail.
        var parts = jwt.split(separator: ".").map(String.init)
        var sig = try #require(base64URLDecode(parts[2]))
        sig[0] ^= 1
        parts[2] = GCSServiceAccount.base64URL(sig)
        #expect(try !opensslVerifies(parts.joined(separator: "."), publicKey: publicKey, dir: dir))

        let headerJSON = try #require(base64URLDecode(parts[0]))
        let header = try #require(try JSONSerialization.jsonObject(with: headerJSON) as? [String: Any])
        #expect(header["alg"] as? String == "RS256" && header["kid"] as? String == "kid-1")
        let claimsJSON = try #require(base64URLDecode(parts[1]))
        let claims = try #require(try JSONSerialization.jsonObject(with: claimsJSON) as? [String: Any])
        #expect(claims["iss"] as? String == "lp@test.iam.gserviceaccount.com")
        #expect(claims["aud"] as? String == "https://oauth2.googleapis.com/token")
        #expect(claims["scope"] as? String == "https://www.googleapis.com/auth/devstorage.read_only")
        #expect(claims["iat"] as? Int == 1_800_000_000 && claims["exp"] as? Int == 1_800_003_600)

        // A file that is not a key, or not a service account, is refused without its contents.
        let broken = try serviceAccountFile(
            dir, pem: "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n", email: "x@y", tokenURI: "https://a/t")
        #expect {
            _ = try GCSCredentials.load(path: broken, source: "test")
        } throws: { e in
            let text = "\(e)"
            return text.contains("private_key") && !text.contains("c2VjcmV0") && (e as? LiteProofError)?.kind == .usage
        }
        #expect(throws: LiteProofError.self) { _ = try GCSCredentials.parse(Data(#"{"type":"external_account"}"#.utf8), source: "test") }
        #expect(throws: LiteProofError.self) {
            _ = try GCSCredentials.parse(
                Data("{\"type\":\"service_account\",\"private_key\":\"x\",\"client_email\":\"a\",\"token_uri\":\"http://example.com/t\"}".utf8), source: "t")
        }
    }

    /// The token is asked for once and sent as a bearer token on every request; a refusal is a
    /// configuration error in the token endpoint's words, without the key or the JWT.
    @Test func tokenExchangeAndBearerHeader() throws {
        let dir = try rigTempDir("gcs-token")
        let (pem, publicKey) = try throwawayKey(dir)
        let server = try TokenServer()
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let good = try GCSCredentials.load(
            path: try serviceAccountFile(dir, pem: pem, email: "lp@test.iam.gserviceaccount.com", tokenURI: base + "/token"), source: "test")
        let client = GCSClient(config: GCSConfig(location: GCSLocation(bucket: "empty", prefix: "app"), endpoint: URL(string: base)!, credentials: good))
        #expect(try client.list(prefix: "app/").isEmpty)
        #expect(try client.list(prefix: "app/").isEmpty)
        let requests = server.requests
        let posts = requests.filter { $0["method"] as? String == "POST" }
        let gets = requests.filter { $0["method"] as? String == "GET" }
        #expect(posts.count == 1 && gets.count == 2, "\(requests)")
        let form = try #require(posts.first?["form"] as? [String: String])
        #expect(form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer")
        let assertion = try #require(form["assertion"])
        #expect(try opensslVerifies(assertion, publicKey: publicKey, dir: dir))
        #expect(gets.allSatisfy { $0["authorization"] as? String == "Bearer tok-1" }, "\(gets)")

        let refused = try GCSCredentials.load(
            path: try serviceAccountFile(dir, pem: pem, email: "refused@test.iam.gserviceaccount.com", tokenURI: base + "/token"), source: "test")
        let denied = GCSClient(config: GCSConfig(location: GCSLocation(bucket: "empty", prefix: "app"), endpoint: URL(string: base)!, credentials: refused))
        #expect {
            _ = try denied.list(prefix: "app/")
        } throws: { e in
            let text = "\(e)"
            return (e as? LiteProofError)?.kind == .usage && text.contains("invalid_grant") && text.contains("refused@test")
                && !text.contains("eyJ") && !text.contains("PRIVATE KEY")
        }
    }

    /// gcloud's application default credentials (a user's refresh token), found under
    /// CLOUDSDK_CONFIG: the refresh token is exchanged, the access token sent.
    @Test func authorizedUserCredentials() throws {
        let server = try TokenServer()
        defer { server.stop() }
        let gcloud = try rigTempDir("gcloud")
        let file: [String: String] = [
            "type": "authorized_user", "client_id": "cid.apps.googleusercontent.com", "client_secret": "s3cret", "refresh_token": "1//refresh",
            "token_uri": "http://127.0.0.1:\(server.port)/token",
        ]
        try JSONSerialization.data(withJSONObject: file).write(to: URL(fileURLWithPath: gcloud + "/application_default_credentials.json"))
        var config = try GCSConfig.resolve(GCSLocation(bucket: "empty", prefix: "app"), environment: ["CLOUDSDK_CONFIG": gcloud])
        #expect(config.notes.isEmpty && config.endpoint == GCSConfig.defaultEndpoint)
        config.endpoint = URL(string: "http://127.0.0.1:\(server.port)")!
        #expect(try GCSClient(config: config).list(prefix: "app/").isEmpty)
        let requests = server.requests
        let form = requests.first { $0["method"] as? String == "POST" }?["form"] as? [String: String]
        #expect(form?["grant_type"] == "refresh_token" && form?["refresh_token"] == "1//refresh" && form?["client_secret"] == "s3cret")
        #expect(requests.contains { $0["method"] as? String == "GET" && $0["authorization"] as? String == "Bearer user-1" }, "\(requests)")
    }

    /// A listing whose page token repeats forever ends in a named transfer failure, not a loop.
    @Test func repeatingPageTokenIsRefused() throws {
        let server = try TokenServer()
        defer { server.stop() }
        let client = GCSClient(
            config: GCSConfig(location: GCSLocation(bucket: "loop", prefix: "app"), endpoint: URL(string: "http://127.0.0.1:\(server.port)")!, credentials: nil)
        )
        let started = Date()
        #expect {
            _ = try client.list(prefix: "app/")
        } throws: { e in
            (e as? LiteProofError)?.kind == .storage(.transfer) && "\(e)".contains("again")
        }
        #expect(Date().timeIntervalSince(started) < 10 && server.requests.count == 2)
    }

    @Test func listingPagesOfTheWrongShapeAreRefused() throws {
        func parse(_ json: String) throws -> GCSListPage { try GCSListPage.parse(Data(json.utf8), context: "gs://b/app/") }
        let ok = try parse(#"{"items":[{"name":"app/a","size":"12","updated":"2026-01-01T00:00:00.5Z","generation":"7"}],"nextPageToken":"t"}"#)
        #expect(ok.objects == [RemoteObject(key: "app/a", size: 12, lastModified: 1_767_225_600.5, etag: "7")] && ok.nextToken == "t")
        #expect(try parse(#"{"items":[{"name":"app/a","size":12,"updated":"2026-01-01T00:00:00Z"}]}"#).objects.first?.size == 12)
        #expect(try parse(#"{"kind":"storage#objects"}"#).objects.isEmpty)
        let hostile = [
            #"not json"#,
            #"[1,2]"#,
            #"{"items":{"name":"app/a"}}"#,
            #"{"items":[{"name":7,"size":"1","updated":"2026-01-01T00:00:00Z"}]}"#,
            #"{"items":[{"name":"app/a","size":"99999999999999999999","updated":"2026-01-01T00:00:00Z"}]}"#,
            #"{"items":[{"name":"app/a","size":1e400,"updated":"2026-01-01T00:00:00Z"}]}"#,
            #"{"items":[{"name":"app/a","size":-1,"updated":"2026-01-01T00:00:00Z"}]}"#,
            #"{"items":[{"name":"app/a","size":"-1","updated":"2026-01-01T00:00:00Z"}]}"#,
            #"{"items":[{"name":"app/a","size":"1"}]}"#,
            #"{"items":[{"name":"app/a","size":"1","updated":"yesterday"}]}"#,
            #"{"items":[{"name":"app/a","size":"1","updated":"2026-01-01T00:00:00Z"}],"nextPageToken":5}"#,
        ]
        for body in hostile {
            #expect(throws: LiteProofError.self, "\(body)") { _ = try parse(body) }
        }
        // Keys must ascend across pages too.
        var reader = ListingReader(context: "gs://b/app/", maxKeys: 100)
        let first = try parse(#"{"items":[{"name":"app/b","size":"1","updated":"2026-01-01T00:00:00Z"}],"nextPageToken":"x"}"#)
        _ = try reader.accept(objects: first.objects, truncated: true, nextToken: first.nextToken)
        let back = try parse(#"{"items":[{"name":"app/a","size":"1","updated":"2026-01-01T00:00:00Z"}]}"#)
        #expect(throws: LiteProofError.self) { _ = try reader.accept(objects: back.objects, truncated: false, nextToken: nil) }
    }

    @Test func locationsAndEmulatorHosts() throws {
        let a = try GCSLocation(url: "gs://bucket//fleet/./x/../app/")
        #expect(a.bucket == "bucket" && a.prefix == "fleet/app" && a.display == "gs://bucket/fleet/app")
        #expect(try GCSLocation(url: "gcs://bucket/db").display == "gcs://bucket/db")
        #expect(throws: LiteProofError.self) { _ = try GCSLocation(url: "gs://bucket/db?endpoint=x") }
        #expect(throws: LiteProofError.self) { _ = try GCSLocation(url: "gs:///db") }
        #expect(throws: LiteProofError.self) { _ = try GCSLocation(url: "gs://Bad_Bucket!/db") }
        let loc = GCSLocation(bucket: "b", prefix: "p")
        #expect(try GCSConfig.resolve(loc, environment: ["STORAGE_EMULATOR_HOST": "127.0.0.1:4443"]).endpoint.absoluteString == "http://127.0.0.1:4443")
        #expect(
            try GCSConfig.resolve(loc, environment: ["STORAGE_EMULATOR_HOST": "https://gcs.local:9000/"]).endpoint.absoluteString == "https://gcs.local:9000")
        let anonymous = try GCSConfig.resolve(loc, environment: ["HOME": "/nonexistent"])
        #expect(anonymous.credentials == nil && anonymous.endpoint == GCSConfig.defaultEndpoint && !anonymous.notes.isEmpty)
        #expect(throws: LiteProofError.self) { _ = try GCSConfig.resolve(loc, environment: ["GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"]) }
        #expect(GCSClient.encode("a/b c/..") == "a%2Fb%20c%2F%2E%2E")
    }
}
