// The live S3 checks against a second S3 implementation, SeaweedFS: real Litestream 0.5.17 and
// 0.3.13 replicate into it; verify, restore (byte for byte equal to `litestream restore` from the
// same URL), fetch and verify --all read it as they read moto; every URL form of Litestream's
// grammar that can point at a local server restores the same bytes with both tools. One server
// for the suite, one replica per version made on first use and shared.

import Foundation
import LiteProof
import LiteProofS3
import Testing

/// The suite's SeaweedFS server and its replicas, each made once.
actor SeaweedFixture {
    let server: SeaweedServer
    private var v05: Task<V05Replica, Error>?
    private var v03: Task<V03Replica, Error>?

    struct V05Replica: Sendable {
        let url: String
        let db: String
        let token: String
    }

    struct V03Replica: Sendable {
        let url: String
        let db: String
        let config: String
    }

    init(server: SeaweedServer) { self.server = server }

    func v05Replica() async throws -> V05Replica {
        if v05 == nil {
            let server = server
            v05 = Task {
                let (url, db, token) = try await S3LiveTests().makeV05Replica(server, prefix: "fleet/app")
                return V05Replica(url: url, db: db, token: token)
            }
        }
        return try await v05!.value
    }

    func v03Replica() async throws -> V03Replica {
        if v03 == nil {
            let server = server
            v03 = Task { try Self.makeV03(server) }
        }
        return try await v03!.value
    }

    /// Litestream 0.3.13 replicating into `s3://bucket/v03` (its endpoint in the configuration
    /// file: 0.3.13 does not read `endpoint=` in a URL), with a few WAL segments.
    private static func makeV03(_ server: SeaweedServer) throws -> V03Replica {
        let dir = try rigTempDir("seaweed-v03")
        let db = dir + "/app.db", config = dir + "/litestream.yml"
        try """
        dbs:
          - path: "\(db)"
            monitor-interval: 200ms
            replicas:
              - type: s3
                bucket: bucket
                path: v03
                endpoint: http://127.0.0.1:\(server.port)
                region: us-east-1
                force-path-style: true
                sync-interval: 100ms

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let url = "s3://bucket/v03?endpoint=127.0.0.1:\(server.port)"
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: server.childEnvironment))
        func segments() throws -> Int { try client.list(prefix: "v03/").filter { $0.key.hasSuffix(".wal.lz4") }.count }
        let writer = try RigDB(db)
        defer { writer.close() }
        try writer.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        let ls = try S3LitestreamProcess(.v03, config: config, log: dir + "/litestream.log", environment: server.childEnvironment)
        defer { ls.stop() }
        try waitUntil("a 0.3 snapshot in SeaweedFS", timeout: 45) { try client.list(prefix: "v03/").contains { $0.key.hasSuffix(".snapshot.lz4") } }
        for round in 0..<3 {
            let before = try segments()
            try writer.exec("INSERT INTO t(v) SELECT randomblob(700) FROM (SELECT 1 UNION ALL SELECT 2) -- \(round)")
            try waitUntil("0.3 segment \(round) in SeaweedFS", timeout: 45) { try segments() > before }
        }
        ls.stop()
        return V03Replica(url: url, db: db, config: config)
    }
}

/// Starts SeaweedFS around the whole suite and stops it after, also on failure.
struct SeaweedScope: SuiteTrait, TestScoping {
    @TaskLocal static var fixture: SeaweedFixture?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try SeaweedServer.start(buckets: ["bucket"], tls: true)
        defer { server.stop() }
        try await Self.$fixture.withValue(SeaweedFixture(server: server)) { try await function() }
    }

    static func current() throws -> SeaweedFixture {
        guard let fixture else { throw RigError(message: "no SeaweedFS server: the test runs outside SeaweedScope") }
        return fixture
    }
}

@Suite(.serialized, SeaweedScope()) struct SeaweedTests {
    @Test func v05VerifyRestoreFetchAndFleet() async throws {
        let fixture = try SeaweedScope.current()
        let server = fixture.server
        let made = try await fixture.v05Replica()
        let env = server.childEnvironment
        let dir = try rigTempDir("seaweed-v05")

        let storage = try S3Storage(url: made.url, environment: env)
        let replica = try Replica.open(storage: storage)
        #expect(replica.format == .ltx)
        let report = Verifier(replica: replica, restoreCheck: .quick).run()
        #expect(report.verdict == .ok, "\(report.findings)")
        #expect(report.filesChecked == replica.ltx?.files.count && storage.failures.isEmpty)
        // SeaweedFS keeps folders for the key prefixes; none of them is listed as an object.
        #expect(storage.listing.allSatisfy { !$0.path.hasSuffix("/") && $0.size > 0 })

        let cli = try runWithEnvironment(liteproofBinary(), ["verify", "--json", made.url], environment: env)
        #expect(cli.status == 0, "\(cli.output)")
        let ours = try runWithEnvironment(liteproofBinary(), ["restore", made.url, "-o", dir + "/ours.db"], environment: env)
        #expect(ours.status == 0, "\(ours.output)")
        let theirs = try runWithEnvironment(try Litestream.binary(.v05), ["restore", "-o", dir + "/theirs.db", made.url], environment: env)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))
        // Objects downloaded in ranged parts (4 KiB, 3 in flight) restore the same bytes, with
        // more requests than whole downloads (one per part); so do objects held in memory.
        let whole = try S3Storage(url: made.url, environment: env)
        whole.memoryObjectsUpTo = 0
        try Restorer(replica: try Replica.open(storage: whole)).restore(to: dir + "/whole.db")
        let parted = try S3Storage(url: made.url, environment: env)
        (parted.partsAbove, parted.partSize, parted.partsInFlight, parted.memoryObjectsUpTo) = (0, 4096, 3, 0)
        try Restorer(replica: try Replica.open(storage: parted)).restore(to: dir + "/parted.db")
        #expect(try sameBytes(dir + "/ours.db", dir + "/whole.db") && sameBytes(dir + "/ours.db", dir + "/parted.db"))
        #expect(parted.client.traffic.requests > whole.client.traffic.requests && parted.failures.isEmpty)
        let held = try S3Storage(url: made.url, environment: env)
        try Restorer(replica: try Replica.open(storage: held)).restore(to: dir + "/held.db")
        #expect(try sameBytes(dir + "/ours.db", dir + "/held.db"))
        #expect(held.client.traffic.requests == whole.client.traffic.requests && held.failures.isEmpty)
        try expectSmallObjectsHeldInMemory(made.url, environment: env)
        let canary = try runWithEnvironment(liteproofBinary(), ["canary", "check", made.url, "--token", made.token], environment: env)
        #expect(canary.status == 0, "\(canary.output)")

        // fetch: the copy verifies and restores to the same bytes; a second fetch skips all.
        let fetched = try runWithEnvironment(liteproofBinary(), ["fetch", made.url, dir + "/fetched"], environment: env)
        #expect(fetched.status == 0, "\(fetched.output)")
        let again = try S3Fetch(storage: try S3Storage(url: made.url, environment: env), destination: dir + "/fetched").run()
        #expect(again.downloaded == 0 && again.skipped == storage.listing.count)
        let local = try Replica.open(dir + "/fetched")
        #expect(Verifier(replica: local).run().verdict == .ok)
        try Restorer(replica: local).restore(to: dir + "/fetched.db")
        #expect(try sameBytes(dir + "/ours.db", dir + "/fetched.db"))

        // verify --all below the fleet prefix finds the replica.
        let fleetURL = made.url.replacingOccurrences(of: "/fleet/app?", with: "/fleet?")
        let fleet = try runWithEnvironment(liteproofBinary(), ["verify", "--all", fleetURL, "--json"], environment: env)
        #expect(fleet.status == 0 && fleet.output.contains("\"app\"") && fleet.output.contains("\"ok\""), "\(fleet.output)")

        // watch: a first round reads every object, the next only what is new (nothing here).
        let watch = try runWithEnvironment(liteproofBinary(), ["watch", made.url, "--rounds", "2", "--interval", "0.1", "--json"], environment: env)
        #expect(watch.status == 0, "\(watch.output)")
        let rounds = watch.output.split(separator: "\n").filter { $0.contains("\"event\":\"round\"") }
        #expect(rounds.count == 2 && rounds.allSatisfy { $0.contains("\"verdict\":\"ok\"") }, "\(watch.output)")
        #expect(rounds.last?.contains("\"bytesRead\":0") == true, "\(watch.output)")

        // The same objects under another prefix, one level-0 file with a byte flipped: found and
        // named (exit 1).
        let l0 = try #require(local.ltx?.files(atLevel: 0).last?.path)
        var objects: [String: Data] = [:]
        for f in local.storage.files() { objects["damaged/app/" + f.path] = try Data(contentsOf: URL(fileURLWithPath: dir + "/fetched/" + f.path)) }
        var bad = try #require(objects["damaged/app/" + l0])
        bad[bad.count / 2] ^= 0xFF
        objects["damaged/app/" + l0] = bad
        try server.put(bytes: objects)
        let damagedURL = made.url.replacingOccurrences(of: "/fleet/app?", with: "/damaged/app?")
        let damaged = try runWithEnvironment(liteproofBinary(), ["verify", damagedURL], environment: env)
        #expect(damaged.status == 1 && damaged.output.contains(l0), "\(damaged.output)")

        // Unlike moto, SeaweedFS checks signatures: a wrong secret and an unknown key are
        // configuration errors (exit 2) in S3's words; a missing bucket too.
        var wrongSecret = env
        wrongSecret["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        let badSig = try runWithEnvironment(liteproofBinary(), ["verify", made.url], environment: wrongSecret)
        #expect(badSig.status == 2 && badSig.output.contains("SignatureDoesNotMatch"), "\(badSig.output)")
        var unknownKey = env
        unknownKey["AWS_ACCESS_KEY_ID"] = "nobody"
        let badKey = try runWithEnvironment(liteproofBinary(), ["verify", made.url], environment: unknownKey)
        #expect(badKey.status == 2 && badKey.output.contains("InvalidAccessKeyId"), "\(badKey.output)")
        let noBucket = try runWithEnvironment(
            liteproofBinary(), ["verify", made.url.replacingOccurrences(of: "s3://bucket/", with: "s3://no-such-bucket/")], environment: env)
        #expect(noBucket.status == 2 && noBucket.output.contains("NoSuchBucket"), "\(noBucket.output)")
    }

    /// Every form of Litestream's URL grammar that can point at a local server: `litestream
    /// restore` and `liteproof restore` of the same URL give the same bytes.
    @Test func urlFormsRestoreTheSameBytesAsLitestream() async throws {
        let fixture = try SeaweedScope.current()
        let server = fixture.server
        _ = try await fixture.v05Replica()
        let p = server.port
        let env = server.childEnvironment
        let dir = try rigTempDir("seaweed-forms")
        let forms = [
            "s3://bucket/fleet/app?endpoint=http://127.0.0.1:\(p)&region=us-east-1&forcePathStyle=true",
            "s3://bucket/fleet/app?endpoint=127.0.0.1:\(p)",
            "s3://bucket/fleet/app?endpoint=localhost:\(p)",
            "s3://bucket/fleet/app?endpoint=127.0.0.1:\(p)&forcePathStyle=1",
            "s3://bucket/fleet/app?endpoint=127.0.0.1:\(p)&forcePathStyle=false",
            "s3://bucket/fleet/app?endpoint=127.0.0.1:\(p)&force-path-style=true&skip-verify=true",
            "s3://bucket/fleet/app?endpoint=127.0.0.1:\(p)&skipVerify=true",
            "s3://bucket/fleet/app?endpoint=127.0.0.1:\(p)&region=eu-west-1",
            "s3://bucket.localhost:\(p)/fleet/app",
            "s3://bucket.127.0.0.1:\(p)/fleet/app",
            "s3://bucket.localhost:\(p)/fleet/app?region=us-west-2",
            "s3://bucket//fleet//app/?endpoint=127.0.0.1:\(p)",
            "s3://bucket/./fleet/x/../app?endpoint=127.0.0.1:\(p)",
            "s3://bucket/fleet/app?endpoint=127.0.0.1:\(p)&storageClass=STANDARD&sign-payload=true&requireContentMD5=false"
                + "&part-size=5242880&concurrency=2",
            "s3://bucket/fleet/app?endpoint=127.0.0.1:\(p)&storage-class=STANDARD&signPayload=false&require-content-md5=true&partSize=5242880",
        ]
        var reference: String?
        for (i, url) in forms.enumerated() {
            let theirs = dir + "/theirs-\(i).db", ours = dir + "/ours-\(i).db"
            let ls = try runWithEnvironment(try Litestream.binary(.v05), ["restore", "-o", theirs, url], environment: env)
            #expect(ls.status == 0, "litestream restore \(url): \(ls.output)")
            let lp = try runWithEnvironment(liteproofBinary(), ["restore", url, "-o", ours], environment: env)
            #expect(lp.status == 0, "liteproof restore \(url): \(lp.output)")
            guard ls.status == 0 && lp.status == 0 else { continue }
            #expect(try sameBytes(ours, theirs), "\(url)")
            if let reference { #expect(try sameBytes(ours, reference), "\(url)") } else { reference = ours }
        }
        // Litestream's own names for the keys.
        var litestreamKeys = env
        litestreamKeys["LITESTREAM_ACCESS_KEY_ID"] = litestreamKeys.removeValue(forKey: "AWS_ACCESS_KEY_ID")
        litestreamKeys["LITESTREAM_SECRET_ACCESS_KEY"] = litestreamKeys.removeValue(forKey: "AWS_SECRET_ACCESS_KEY")
        let url = forms[1]
        let ls = try runWithEnvironment(try Litestream.binary(.v05), ["restore", "-o", dir + "/theirs-env.db", url], environment: litestreamKeys)
        let lp = try runWithEnvironment(liteproofBinary(), ["restore", url, "-o", dir + "/ours-env.db"], environment: litestreamKeys)
        #expect(ls.status == 0 && lp.status == 0, "\(ls.output)\n\(lp.output)")
        #expect(try sameBytes(dir + "/ours-env.db", dir + "/theirs-env.db"))
        // What is read and not applied is said on stderr.
        let noted = try runWithEnvironment(liteproofBinary(), ["verify", forms[13]], environment: env)
        #expect(noted.status == 0 && noted.output.contains("note: storageClass=STANDARD"), "\(noted.output)")
    }

    @Test func v03VerifyAndRestoreAgainstLitestream() async throws {
        let fixture = try SeaweedScope.current()
        let made = try await fixture.v03Replica()
        let env = fixture.server.childEnvironment
        let dir = try rigTempDir("seaweed-v03-restore")
        let replica = try Replica.open(storage: try S3Storage(url: made.url, environment: env))
        #expect(replica.format == .v03 && replica.v03?.generations.count == 1)
        #expect(Verifier(replica: replica).run().verdict == .ok)
        let ours = try runWithEnvironment(liteproofBinary(), ["restore", made.url, "-o", dir + "/ours.db"], environment: env)
        #expect(ours.status == 0, "\(ours.output)")
        let theirs = try runWithEnvironment(
            try Litestream.binary(.v03), ["restore", "-config", made.config, "-o", dir + "/theirs.db", made.db], environment: env)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))
        // 0.3.13 reads no query parameters; its host form for a local server is the same URL to both.
        let hostStyle = "s3://bucket.localhost:\(fixture.server.port)/v03"
        let theirsURL = try runWithEnvironment(try Litestream.binary(.v03), ["restore", "-o", dir + "/theirs-url.db", hostStyle], environment: env)
        let oursURL = try runWithEnvironment(liteproofBinary(), ["restore", hostStyle, "-o", dir + "/ours-url.db"], environment: env)
        #expect(theirsURL.status == 0 && oursURL.status == 0, "\(theirsURL.output)\n\(oursURL.output)")
        #expect(try sameBytes(dir + "/ours-url.db", dir + "/theirs-url.db") && sameBytes(dir + "/ours-url.db", dir + "/ours.db"))
        let fetched = try runWithEnvironment(liteproofBinary(), ["fetch", made.url, dir + "/fetched"], environment: env)
        #expect(fetched.status == 0, "\(fetched.output)")
        try Restorer(replica: try Replica.open(dir + "/fetched")).restore(to: dir + "/fetched.db")
        #expect(try sameBytes(dir + "/ours.db", dir + "/fetched.db"))
    }

    /// What SeaweedFS answers differently from moto: a listing key-encodes a space as `+` (as
    /// S3 does) and pages with the last key as the continuation token; folders it keeps for
    /// key prefixes are not objects; anonymous requests are refused.
    @Test func listingsAndAnswersOfSeaweedFS() async throws {
        let server = try SeaweedScope.current().server
        let env = server.childEnvironment
        var objects = ["odd/a b+c": "1", "odd/é ü": "22", "odd/x%41": "333", "odd/dir/inner": "4444"]
        for i in 0..<1005 { objects[String(format: "many/%04d", i)] = "x" }
        try server.put(objects)
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: "s3://bucket?endpoint=127.0.0.1:\(server.port)"), environment: env))
        let odd = try client.list(prefix: "odd/")
        #expect(Set(odd.map(\.key)) == ["odd/a b+c", "odd/é ü", "odd/x%41", "odd/dir/inner"], "\(odd.map(\.key))")
        #expect(odd.allSatisfy { objects[$0.key]?.utf8.count == Int($0.size) })
        let many = try client.list(prefix: "many/")
        #expect(many.count == 1005 && Set(many.map(\.key)).count == 1005)
        let copy = try rigTempDir("seaweed-odd") + "/copy"
        try client.download(key: "odd/a b+c", to: copy, expectedSize: 1)
        #expect(try String(contentsOfFile: copy, encoding: .utf8) == "1")
        var anonymous = env
        anonymous["AWS_NO_SIGN_REQUEST"] = "true"
        let denied = try runWithEnvironment(liteproofBinary(), ["verify", "s3://bucket/odd?endpoint=127.0.0.1:\(server.port)"], environment: anonymous)
        #expect(denied.status == 2 && denied.output.contains("AccessDenied") && denied.output.contains("no credentials"), "\(denied.output)")
    }

    /// An https endpoint with a self-signed certificate, read by Litestream and LiteProof alike:
    /// with `skipVerify=true` both restore it (LiteProof says on stderr that certificates are not
    /// verified for that endpoint); without it LiteProof stops with exit 2 naming the endpoint
    /// and the certificate problem, at once (no retries); with the certificate in
    /// `SSL_CERT_FILE` (as Go reads it) it verifies.
    @Test func skipVerifyOnASelfSignedEndpoint() async throws {
        let fixture = try SeaweedScope.current()
        let server = fixture.server
        _ = try await fixture.v05Replica()
        let httpsPort = try #require(server.httpsPort)
        let certFile = try #require(server.certFile)
        let env = server.childEnvironment
        let dir = try rigTempDir("seaweed-tls")
        let plain = "s3://bucket/fleet/app?endpoint=https://127.0.0.1:\(httpsPort)"
        let url = plain + "&skipVerify=true"
        let theirs = try runWithEnvironment(try Litestream.binary(.v05), ["restore", "-o", dir + "/theirs.db", url], environment: env)
        #expect(theirs.status == 0, "\(theirs.output)")
        let ours = try runWithEnvironment(liteproofBinary(), ["restore", url, "-o", dir + "/ours.db"], environment: env)
        #expect(ours.status == 0, "\(ours.output)")
        #expect(ours.output.contains("note: skipVerify=true: TLS certificates are not verified for https://127.0.0.1:\(httpsPort)"), "\(ours.output)")
        #expect(FileManager.default.contentsEqual(atPath: dir + "/ours.db", andPath: dir + "/theirs.db"))
        let verified = try runWithEnvironment(liteproofBinary(), ["verify", url], environment: env)
        #expect(verified.status == 0, "\(verified.output)")

        let refused = try runWithEnvironment(liteproofBinary(), ["restore", plain, "-o", dir + "/refused.db"], environment: env)
        #expect(refused.status == 2, "\(refused.output)")
        #expect(refused.output.contains("the TLS certificate of 127.0.0.1:\(httpsPort) is not trusted"), "\(refused.output)")
        #expect(!refused.output.contains("attempts"), "a refused certificate is not retried: \(refused.output)")
        #expect(!FS.exists(dir + "/refused.db"))

        var trusting = env
        trusting["SSL_CERT_FILE"] = certFile
        let trusted = try runWithEnvironment(liteproofBinary(), ["verify", plain], environment: trusting)
        #expect(trusted.status == 0, "\(trusted.output)")
    }
}
