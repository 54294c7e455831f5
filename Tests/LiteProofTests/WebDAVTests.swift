// The live WebDAV checks: real Litestream 0.5.17 replicates to `webdav://127.0.0.1:P/fleet/app`
// on WsgiDAV while a writer writes; every command reads the server in place; `restore` equals
// `litestream restore` of the same URL byte for byte; a damaged file is named; a server killed
// mid-read ends in exit 2; basic auth from the URL's userinfo, never printed; `webdavs://` with a
// private CA in SSL_CERT_FILE. One server for the suite, the replica made once. Litestream 0.3.13 has no WebDAV replica type: nothing to test there.

import Foundation
import LiteProof
import LiteProofObjectStore
import LiteProofWebDAV
import Testing

/// The suite's server and its replica, made once.
actor WebDAVFixture {
    let server: WsgiDAVServer
    private var v05: Task<Made, Error>?

    struct Made: Sendable {
        let url: String
        let db: String
        let token: String
    }

    init(server: WsgiDAVServer) { self.server = server }

    func v05Replica() async throws -> Made {
        if v05 == nil {
            let server = server
            v05 = Task { try Self.makeV05(server) }
        }
        return try await v05!.value
    }

    /// Litestream 0.5.17 replicating to `webdav://127.0.0.1:P/fleet/app`: several L0 files, an
    /// L1 compaction, and a canary row written last. Progress is read in the server's folder.
    private static func makeV05(_ server: WsgiDAVServer) throws -> Made {
        let dir = try rigTempDir("webdav-v05")
        let db = dir + "/app.db", url = server.url("fleet/app")
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
        func count(_ level: Int) -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: server.root + "/fleet/app/ltx/\(level)")) ?? []).filter { $0.hasSuffix(".ltx") }
                .count
        }
        let writer = try RigDB(db)
        defer { writer.close() }
        try writer.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        let ls = try S3LitestreamProcess(.v05, config: dir + "/litestream.yml", log: dir + "/litestream.log", environment: server.childEnvironment)
        defer { ls.stop() }
        for round in 0..<5 {
            let before = count(0)
            try writer.exec("INSERT INTO t(v) SELECT randomblob(900) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) -- \(round)")
            try waitUntil("L0 file \(round) on the WebDAV server", timeout: 45) { count(0) > before }
        }
        try waitUntil("an L1 file on the WebDAV server", timeout: 45) { count(1) > 0 }
        let last = count(0)
        let canary = try runWithEnvironment(liteproofBinary(), ["canary", "write", db], environment: server.childEnvironment)
        guard canary.status == 0, let token = canary.output.split(separator: "\n").last.map(String.init) else {
            throw RigError(message: "canary write: \(canary.output)")
        }
        try waitUntil("the final L0 file", timeout: 45) { count(0) > last }
        ls.stop()
        return Made(url: url, db: db, token: token)
    }
}

/// Starts WsgiDAV around the whole suite and stops it after, also on failure.
struct WebDAVScope: SuiteTrait, TestScoping {
    @TaskLocal static var fixture: WebDAVFixture?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try WsgiDAVServer()
        defer { server.stop() }
        try await Self.$fixture.withValue(WebDAVFixture(server: server)) { try await function() }
    }

    static func current() throws -> WebDAVFixture {
        guard let fixture else { throw RigError(message: "no WebDAV server: the test runs outside WebDAVScope") }
        return fixture
    }
}

/// Copies the folder `from` below `root` to `to` (below `target`, by default the same root), the
/// file at `flip` (a path below `from`) with one byte inverted at its middle.
func copyDAVFolder(_ root: String, from: String, to: String, target: String? = nil, flip: String? = nil) throws {
    let fm = FileManager.default
    for rel in try fm.subpathsOfDirectory(atPath: root + "/" + from).sorted() {
        let source = root + "/" + from + "/" + rel, dest = (target ?? root) + "/" + to + "/" + rel
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: source, isDirectory: &isDir), !isDir.boolValue else { continue }
        try fm.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var data = try Data(contentsOf: URL(fileURLWithPath: source))
        if rel == flip { data[data.count / 2] ^= 0xFF }
        try data.write(to: URL(fileURLWithPath: dest))
    }
}

@Suite(.serialized, WebDAVScope()) struct WebDAVTests {
    @Test func v05EveryCommandReadsTheServer() async throws {
        let fixture = try WebDAVScope.current()
        let server = fixture.server
        let made = try await fixture.v05Replica()
        let env = server.childEnvironment
        let dir = try rigTempDir("webdav-v05-commands")

        let storage = try WebDAVStorage(url: made.url, environment: env)
        let replica = try Replica.open(storage: storage)
        #expect(replica.format == .ltx)
        let report = Verifier(replica: replica, restoreCheck: .quick).run()
        #expect(report.verdict == .ok, "\(report.findings)")
        #expect(report.filesChecked == replica.ltx?.files.count && storage.failures.isEmpty)
        // Sizes from getcontentlength, times from getlastmodified: the files' on the server.
        for file in storage.listing {
            let attributes = try FileManager.default.attributesOfItem(atPath: server.root + "/fleet/app/" + file.path)
            let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            #expect(file.path.hasPrefix("ltx/") && file.size == (attributes[.size] as? Int64) && abs((file.modified ?? 0) - mtime) < 1.5, "\(file)")
        }

        func liteproof(_ args: [String]) throws -> (status: Int32, output: String) {
            try runWithEnvironment(liteproofBinary(), args, environment: env)
        }
        let verify = try liteproof(["verify", "--json", made.url])
        #expect(verify.status == 0, "\(verify.output)")
        let inspect = try liteproof(["inspect", made.url])
        #expect(inspect.status == 0 && inspect.output.contains("level 0"), "\(inspect.output)")
        let ours = try liteproof(["restore", made.url, "-o", dir + "/ours.db"])
        #expect(ours.status == 0, "\(ours.output)")
        let theirs = try runWithEnvironment(try Litestream.binary(.v05), ["restore", "-o", dir + "/theirs.db", made.url], environment: env)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))
        let canary = try liteproof(["canary", "check", made.url, "--token", made.token])
        #expect(canary.status == 0, "\(canary.output)")
        let compare = try liteproof(["compare", made.url, "--live", made.db])
        #expect(compare.status == 0 && compare.output.contains("IDENTICAL"), "\(compare.output)")

        // fetch: the copy verifies and restores the same bytes; a second fetch skips every file.
        let fetched = try liteproof(["fetch", made.url, dir + "/fetched"])
        #expect(fetched.status == 0, "\(fetched.output)")
        let again = try ObjectFetch(storage: try WebDAVStorage(url: made.url, environment: env), destination: dir + "/fetched").run()
        #expect(again.downloaded == 0 && again.skipped == storage.listing.count)
        let local = try Replica.open(dir + "/fetched")
        #expect(Verifier(replica: local).run().verdict == .ok)
        try Restorer(replica: local).restore(to: dir + "/fetched.db")
        #expect(try sameBytes(dir + "/ours.db", dir + "/fetched.db"))

        // verify --all below the fleet folder finds the replica; watch reads it for a round.
        let fleet = try liteproof(["verify", "--all", server.url("fleet"), "--json"])
        #expect(fleet.status == 0 && fleet.output.contains("\"app\"") && fleet.output.contains("\"ok\""), "\(fleet.output)")
        let watch = try liteproof(["watch", made.url, "--rounds", "1", "--interval", "1", "--verbose"])
        #expect(watch.status == 0 && watch.output.contains("ok"), "\(watch.output)")

        // A folder that does not exist holds no replica: a usage error naming it.
        let nothing = try liteproof(["verify", server.url("no/such/folder")])
        #expect(nothing.status == 2 && nothing.output.contains("no/such/folder"), "\(nothing.output)")
    }

    /// A ranged read gets the range alone, with the bytes the server holds.
    @Test func rangedReads() async throws {
        let fixture = try WebDAVScope.current()
        let server = fixture.server
        _ = try await fixture.v05Replica()
        let client = try server.client()
        let listed = try client.list(prefix: "fleet/app/")
        #expect(listed.count >= 7 && listed.allSatisfy { $0.key.hasPrefix("fleet/app/ltx/") })
        let object = try #require(listed.max { $0.size < $1.size })
        let bytes = try Data(contentsOf: URL(fileURLWithPath: server.root + "/" + object.key))
        let dir = try rigTempDir("webdav-range")
        let sentWhole = try client.download(key: object.key, range: 10, length: 100, objectSize: object.size, to: dir + "/part")
        #expect(!sentWhole)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/part")) == bytes[10..<110])
    }

    /// A real file copied with one byte flipped on the server is found and named.
    @Test func damagedFileIsNamed() async throws {
        let fixture = try WebDAVScope.current()
        let server = fixture.server
        _ = try await fixture.v05Replica()
        let victim = try #require(
            try FileManager.default.contentsOfDirectory(atPath: server.root + "/fleet/app/ltx/0").filter { $0.hasSuffix(".ltx") }.sorted().first)
        try copyDAVFolder(server.root, from: "fleet/app", to: "damaged/app", flip: "ltx/0/" + victim)
        let r = try runWithEnvironment(liteproofBinary(), ["verify", server.url("damaged/app")], environment: server.childEnvironment)
        #expect(r.status == 1 && r.output.contains(victim), "\(r.output)")
    }

    /// The server killed while a body is on its way: exit 2 (unreadable), naming the file and
    /// what the connection did, never a verdict on the replica.
    @Test func serverKilledMidReadIsUnreadable() async throws {
        let fixture = try WebDAVScope.current()
        let server = fixture.server
        _ = try await fixture.v05Replica()
        let doomed = try WsgiDAVServer()
        defer { doomed.stop() }
        try copyDAVFolder(server.root, from: "fleet/app", to: "fleet/app", target: doomed.root)
        let proxy = try KillingDAVProxy(upstream: doomed)
        defer { proxy.stop() }
        var env = server.childEnvironment
        env["LITEPROOF_S3_ATTEMPTS"] = "2"
        let started = Date()
        let r = try runWithEnvironment(liteproofBinary(), ["verify", doomed.url("fleet/app", port: proxy.port)], environment: env, timeout: 60)
        #expect(r.status == 2, "\(r.output)")
        #expect(r.output.contains("webdav://127.0.0.1:\(proxy.port)/fleet/app/ltx/") && r.output.contains("127.0.0.1:\(proxy.port)"), "\(r.output)")
        #expect(Date().timeIntervalSince(started) < 60, "\(r.output)")
        // The server was killed mid-read (Foundation notices a child's end a moment later).
        try waitUntil("the killed server to be seen gone", timeout: 10) { !doomed.process.isRunning }
    }

    /// Basic auth from the URL's userinfo: the right user reads (and restores what Litestream
    /// restores); none, or a wrong password, is exit 2 in the server's words; the password is
    /// never printed.
    @Test func basicAuthFromTheURL() async throws {
        let fixture = try WebDAVScope.current()
        let made = try await fixture.v05Replica()
        let password = "pw-7c1e-secret"
        let guarded = try WsgiDAVServer(credentials: "alice:" + password, root: fixture.server.root)
        defer { guarded.stop() }
        let env = guarded.childEnvironment
        let dir = try rigTempDir("webdav-auth")
        let url = guarded.url("fleet/app")
        let verify = try runWithEnvironment(liteproofBinary(), ["verify", url], environment: env)
        #expect(verify.status == 0 && !verify.output.contains(password), "\(verify.output)")
        let ours = try runWithEnvironment(liteproofBinary(), ["restore", url, "-o", dir + "/ours.db"], environment: env)
        let theirs = try runWithEnvironment(try Litestream.binary(.v05), ["restore", "-o", dir + "/theirs.db", url], environment: env)
        #expect(ours.status == 0 && theirs.status == 0, "\(ours.output)\n\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))
        _ = made

        let anonymous = try runWithEnvironment(liteproofBinary(), ["verify", "webdav://127.0.0.1:\(guarded.port)/fleet/app"], environment: env)
        #expect(anonymous.status == 2 && anonymous.output.contains("HTTP 401") && anonymous.output.contains("USER:PASSWORD@"), "\(anonymous.output)")
        let wrong = try runWithEnvironment(
            liteproofBinary(), ["verify", "--json", "webdav://alice:not-\(password)@127.0.0.1:\(guarded.port)/fleet/app"], environment: env)
        #expect(wrong.status == 2 && wrong.output.contains("HTTP 401") && wrong.output.contains("user alice"), "\(wrong.output)")
        #expect(!wrong.output.contains(password), "\(wrong.output)")
    }

    /// `webdavs://` with a private CA, as Litestream reads it: with the certificate in
    /// `SSL_CERT_FILE`, verify passes and restore equals `litestream restore` over the same URL;
    /// without it, exit 2 naming the endpoint and the certificate problem, at once.
    @Test func webdavsWithAPrivateCA() async throws {
        let fixture = try WebDAVScope.current()
        _ = try await fixture.v05Replica()
        let secure = try WsgiDAVServer(root: fixture.server.root, tls: true)
        defer { secure.stop() }
        var env = secure.childEnvironment
        env["SSL_CERT_FILE"] = secure.certFile
        let dir = try rigTempDir("webdavs")
        let url = secure.url("fleet/app")
        #expect(url.hasPrefix("webdavs://"))
        let verify = try runWithEnvironment(liteproofBinary(), ["verify", url], environment: env)
        #expect(verify.status == 0, "\(verify.output)")
        let ours = try runWithEnvironment(liteproofBinary(), ["restore", url, "-o", dir + "/ours.db"], environment: env)
        let theirs = try runWithEnvironment(try Litestream.binary(.v05), ["restore", "-o", dir + "/theirs.db", url], environment: env)
        #expect(ours.status == 0 && theirs.status == 0, "\(ours.output)\n\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))

        let untrusted = try runWithEnvironment(liteproofBinary(), ["verify", url], environment: secure.childEnvironment)
        #expect(untrusted.status == 2, "\(untrusted.output)")
        #expect(untrusted.output.contains("the TLS certificate of 127.0.0.1:\(secure.port) is not trusted"), "\(untrusted.output)")
    }
}
