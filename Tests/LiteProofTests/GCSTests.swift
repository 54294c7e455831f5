// The live GCS checks: real Litestream 0.5.17 (`gs://`) and 0.3.13 (`gcs://`) replicate into a GCS
// emulator (fake-gcs-server) through STORAGE_EMULATOR_HOST; every command reads the bucket in
// place; `restore` equals `litestream restore` from the same URL byte for byte; a damaged object
// is named; a server killed mid-read ends in exit 2. One server for the suite, each replica made
// once. The emulator ignores credentials: the token flow is checked in GCSCredentialTests.

import Foundation
import LiteProof
import LiteProofGCS
import LiteProofObjectStore
import Testing

/// The suite's emulator and its replicas, each made once.
actor GCSFixture {
    let server: FakeGCSServer
    private var v05: Task<Made, Error>?
    private var v03: Task<Made, Error>?

    struct Made: Sendable {
        let url: String
        let db: String
        let token: String
    }

    init(server: FakeGCSServer) { self.server = server }

    func v05Replica() async throws -> Made {
        if v05 == nil {
            let server = server
            v05 = Task { try Self.makeV05(server) }
        }
        return try await v05!.value
    }

    func v03Replica() async throws -> Made {
        if v03 == nil {
            let server = server
            v03 = Task { try Self.makeV03(server) }
        }
        return try await v03!.value
    }

    /// Litestream 0.5.17 replicating to `gs://bucket/fleet/app`: several L0 files, an L1
    /// compaction, and a canary row written last.
    private static func makeV05(_ server: FakeGCSServer) throws -> Made {
        let dir = try rigTempDir("gcs-v05")
        let db = dir + "/app.db", url = "gs://bucket/fleet/app"
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
        let client = try server.client()
        func l0() throws -> Int { try client.list(prefix: "fleet/app/ltx/0/").count }
        let writer = try RigDB(db)
        defer { writer.close() }
        try writer.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        let ls = try S3LitestreamProcess(.v05, config: dir + "/litestream.yml", log: dir + "/litestream.log", environment: server.childEnvironment)
        defer { ls.stop() }
        for round in 0..<5 {
            let before = try l0()
            try writer.exec("INSERT INTO t(v) SELECT randomblob(900) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) -- \(round)")
            try waitUntil("L0 file \(round) in the GCS emulator", timeout: 45) { try l0() > before }
        }
        try waitUntil("an L1 file in the GCS emulator", timeout: 45) { try !client.list(prefix: "fleet/app/ltx/1/").isEmpty }
        let last = try l0()
        let canary = try runWithEnvironment(liteproofBinary(), ["canary", "write", db], environment: server.childEnvironment)
        guard canary.status == 0, let token = canary.output.split(separator: "\n").last.map(String.init) else {
            throw RigError(message: "canary write: \(canary.output)")
        }
        try waitUntil("the final L0 file", timeout: 45) { try l0() > last }
        ls.stop()
        return Made(url: url, db: db, token: token)
    }

    /// Litestream 0.3.13 replicating to `gcs://bucket/v03` (its GCS client honours
    /// STORAGE_EMULATOR_HOST too), with a few WAL segments.
    private static func makeV03(_ server: FakeGCSServer) throws -> Made {
        let dir = try rigTempDir("gcs-v03")
        let db = dir + "/app.db", url = "gcs://bucket/v03"
        try """
        dbs:
          - path: "\(db)"
            monitor-interval: 200ms
            replicas:
              - url: "\(url)"
                sync-interval: 100ms

        """.write(toFile: dir + "/litestream.yml", atomically: true, encoding: .utf8)
        let client = try server.client()
        func segments() throws -> Int { try client.list(prefix: "v03/").filter { $0.key.hasSuffix(".wal.lz4") }.count }
        let writer = try RigDB(db)
        defer { writer.close() }
        try writer.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        let ls = try S3LitestreamProcess(.v03, config: dir + "/litestream.yml", log: dir + "/litestream.log", environment: server.childEnvironment)
        defer { ls.stop() }
        try waitUntil("a 0.3 snapshot in the GCS emulator", timeout: 45) { try client.list(prefix: "v03/").contains { $0.key.hasSuffix(".snapshot.lz4") } }
        for round in 0..<3 {
            let before = try segments()
            try writer.exec("INSERT INTO t(v) SELECT randomblob(700) FROM (SELECT 1 UNION ALL SELECT 2) -- \(round)")
            try waitUntil("0.3 segment \(round) in the GCS emulator", timeout: 45) { try segments() > before }
        }
        ls.stop()
        return Made(url: url, db: db, token: "")
    }
}

/// Starts the GCS emulator around the whole suite and stops it after, also on failure.
struct GCSScope: SuiteTrait, TestScoping {
    @TaskLocal static var fixture: GCSFixture?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try FakeGCSServer(buckets: ["bucket"])
        defer { server.stop() }
        try await Self.$fixture.withValue(GCSFixture(server: server)) { try await function() }
    }

    static func current() throws -> GCSFixture {
        guard let fixture else { throw RigError(message: "no GCS emulator: the test runs outside GCSScope") }
        return fixture
    }
}

/// Copies every object below `from/` to `to/` (on `target`, by default the same server), the
/// object at `flip` (a path below the prefix) with one byte inverted at its middle.
func copyGCSObjects(_ server: FakeGCSServer, from: String, to: String, target: FakeGCSServer? = nil, flip: String? = nil) throws {
    for o in try server.client().list(prefix: from + "/") {
        var data = try server.download(name: o.key)
        let rel = String(o.key.dropFirst(from.count + 1))
        if rel == flip { data[data.count / 2] ^= 0xFF }
        try (target ?? server).upload(data, name: to + "/" + rel)
    }
}

@Suite(.serialized, GCSScope()) struct GCSTests {
    @Test func v05EveryCommandReadsTheBucket() async throws {
        let fixture = try GCSScope.current()
        let server = fixture.server
        let made = try await fixture.v05Replica()
        let env = server.childEnvironment
        let dir = try rigTempDir("gcs-v05-commands")

        let storage = try GCSStorage(url: made.url, environment: env)
        let replica = try Replica.open(storage: storage)
        #expect(replica.format == .ltx)
        let report = Verifier(replica: replica, restoreCheck: .quick).run()
        #expect(report.verdict == .ok, "\(report.findings)")
        #expect(report.filesChecked == replica.ltx?.files.count && storage.failures.isEmpty)
        #expect(storage.listing.allSatisfy { $0.timeTrusted && $0.path.hasPrefix("ltx/") })

        func liteproof(_ args: [String]) throws -> (status: Int32, output: String) {
            try runWithEnvironment(liteproofBinary(), args, environment: env)
        }
        let verify = try liteproof(["verify", "--json", made.url])
        #expect(verify.status == 0, "\(verify.output)")
        let oldScheme = try liteproof(["verify", made.url.replacingOccurrences(of: "gs://", with: "gcs://")])
        #expect(oldScheme.status == 0, "\(oldScheme.output)")
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

        // fetch: the copy keeps the objects' times, verifies and restores the same bytes; a
        // second fetch skips every file.
        let fetched = try liteproof(["fetch", made.url, dir + "/fetched"])
        #expect(fetched.status == 0, "\(fetched.output)")
        let again = try ObjectFetch(storage: try GCSStorage(url: made.url, environment: env), destination: dir + "/fetched").run()
        #expect(again.downloaded == 0 && again.skipped == storage.listing.count)
        let local = try Replica.open(dir + "/fetched")
        #expect(Verifier(replica: local).run().verdict == .ok)
        try Restorer(replica: local).restore(to: dir + "/fetched.db")
        #expect(try sameBytes(dir + "/ours.db", dir + "/fetched.db"))

        // verify --all below the fleet prefix finds the replica; watch reads it for a round.
        let fleet = try liteproof(["verify", "--all", "gs://bucket/fleet", "--json"])
        #expect(fleet.status == 0 && fleet.output.contains("\"app\"") && fleet.output.contains("\"ok\""), "\(fleet.output)")
        let watch = try liteproof(["watch", made.url, "--rounds", "1", "--interval", "1", "--verbose"])
        #expect(watch.status == 0 && watch.output.contains("ok"), "\(watch.output)")

        // A bucket that does not exist is a configuration error, in GCS's words.
        let noBucket = try liteproof(["verify", "gs://no-such-bucket/fleet/app"])
        #expect(noBucket.status == 2 && noBucket.output.contains("no-such-bucket") && noBucket.output.contains("HTTP 404"), "\(noBucket.output)")
    }

    /// A listing of two objects a page reads every object; a ranged read gets the range alone.
    @Test func pagedListingAndRangedReads() async throws {
        let fixture = try GCSScope.current()
        let server = fixture.server
        _ = try await fixture.v05Replica()
        let whole = try server.client().list(prefix: "fleet/app/")
        let paged = try server.client(prefix: "fleet/app")
        paged.pageSize = 2
        let lists = Locked(0)
        paged.onRequest = { _, name in if name.isEmpty { lists.update { $0 += 1 } } }
        let listed = try paged.list(prefix: "fleet/app/")
        #expect(whole.count >= 7 && listed == whole)
        #expect(lists.update { $0 } == (whole.count + 1) / 2, "one request per page of two")
        let storage = try GCSStorage(client: paged)
        #expect(Verifier(replica: try Replica.open(storage: storage)).run().verdict == .ok)

        let object = try #require(whole.max { $0.size < $1.size })
        let bytes = try server.download(name: object.key)
        let dir = try rigTempDir("gcs-range")
        let sentWhole = try paged.download(key: object.key, range: 10, length: 100, objectSize: object.size, to: dir + "/part")
        #expect(!sentWhole)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/part")) == bytes[10..<110])
    }

    /// A real file re-uploaded with one byte flipped is found and named; an object written again
    /// after the listing is not read in place of the one listed (downloads ask for the listed
    /// generation).
    @Test func damagedObjectIsNamed() async throws {
        let fixture = try GCSScope.current()
        let server = fixture.server
        _ = try await fixture.v05Replica()
        let victim = try #require(try server.client().list(prefix: "fleet/app/ltx/0/").first?.key.dropFirst("fleet/app/".count))
        try copyGCSObjects(server, from: "fleet/app", to: "damaged/app", flip: String(victim))
        let r = try runWithEnvironment(liteproofBinary(), ["verify", "gs://bucket/damaged/app"], environment: server.childEnvironment)
        #expect(r.status == 1 && r.output.contains(String(victim)), "\(r.output)")

        let listed = try GCSStorage(url: "gs://bucket/damaged/app", environment: server.childEnvironment)
        try server.upload(try server.download(name: "fleet/app/" + victim), name: "damaged/app/" + victim)
        #expect {
            _ = try listed.open(String(victim))
        } throws: { e in
            (e as? LiteProofError)?.kind == .storage(.missing) && "\(e)".contains("written again")
        }
    }

    /// The server killed while a body is on its way: exit 2 (unreadable), naming the object and
    /// what the connection did, never a verdict on the replica.
    @Test func serverKilledMidReadIsUnreadable() async throws {
        let fixture = try GCSScope.current()
        let server = fixture.server
        let made = try await fixture.v05Replica()
        let doomed = try FakeGCSServer(buckets: ["bucket"])
        defer { doomed.stop() }
        try copyGCSObjects(server, from: "fleet/app", to: "fleet/app", target: doomed)
        let proxy = try KillingProxy(upstream: doomed)
        defer { proxy.stop() }
        var env = server.childEnvironment
        env["STORAGE_EMULATOR_HOST"] = "127.0.0.1:\(proxy.port)"
        env["LITEPROOF_S3_ATTEMPTS"] = "2"
        let started = Date()
        let r = try runWithEnvironment(liteproofBinary(), ["verify", made.url], environment: env, timeout: 60)
        #expect(r.status == 2, "\(r.output)")
        #expect(r.output.contains("gs://bucket/fleet/app/ltx/") && r.output.contains("127.0.0.1:\(proxy.port)"), "\(r.output)")
        #expect(Date().timeIntervalSince(started) < 60, "\(r.output)")
        // The server was killed mid-read (Foundation notices a child's end a moment later).
        try waitUntil("the killed server to be seen gone", timeout: 10) { !doomed.process.isRunning }
        // watch, with the store gone: unreadable (exit 2), never damaged.
        let watch = try runWithEnvironment(liteproofBinary(), ["watch", made.url, "--rounds", "1", "--interval", "1"], environment: env, timeout: 60)
        #expect(watch.status == 2 && !watch.output.contains("damaged"), "\(watch.output)")
    }

    @Test func v03VerifyAndRestoreAgainstLitestream() async throws {
        let fixture = try GCSScope.current()
        let made = try await fixture.v03Replica()
        let env = fixture.server.childEnvironment
        let dir = try rigTempDir("gcs-v03-restore")
        let replica = try Replica.open(storage: try GCSStorage(url: made.url, environment: env))
        #expect(replica.format == .v03 && replica.v03?.generations.count == 1)
        #expect(Verifier(replica: replica).run().verdict == .ok)
        let verify = try runWithEnvironment(liteproofBinary(), ["verify", made.url], environment: env)
        #expect(verify.status == 0, "\(verify.output)")
        let ours = try runWithEnvironment(liteproofBinary(), ["restore", made.url, "-o", dir + "/ours.db"], environment: env)
        #expect(ours.status == 0, "\(ours.output)")
        let theirs = try runWithEnvironment(try Litestream.binary(.v03), ["restore", "-o", dir + "/theirs.db", made.url], environment: env)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))
    }
}
