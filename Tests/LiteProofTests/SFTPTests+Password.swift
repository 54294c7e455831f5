// SFTP with a password that is accepted, against a second SFTP server: SeaweedFS's `weed sftp`,
// which checks passwords from its user store (OpenSSH's sshd, run unprivileged, cannot; see
// SFTPTests). Real Litestream 0.5.17 and 0.3.13 replicate to `sftp://USER:PASSWORD@…`; liteproof
// verifies and restores the same URL (the same bytes as `litestream restore` of it) and never
// prints the password; a wrong password is refused with exit 2. One server for the suite, one
// replica per version made on first use.

import Foundation
import LiteProof
import LiteProofSFTP
import Testing

/// The suite's weed sftp and its replicas, each made once.
actor SeaweedSFTPFixture {
    let server: SeaweedSFTPServer
    private var replicas: [LitestreamVersion: Task<Made, Error>] = [:]

    struct Made: Sendable {
        /// The replica's SFTP path (the user's HomeDir is its root).
        let path: String
        let url: String
        let db: String
    }

    init(server: SeaweedSFTPServer) { self.server = server }

    func replica(_ v: LitestreamVersion) async throws -> Made {
        if replicas[v] == nil {
            let server = server
            replicas[v] = Task { try Self.make(v, server) }
        }
        return try await replicas[v]!.value
    }

    /// Litestream `v` replicating a database to `sftp://USER:PASSWORD@…` (0.5 with the pinned
    /// `host-key`; 0.3.13 checks no host key), with a few commits after the first snapshot.
    private static func make(_ v: LitestreamVersion, _ server: SeaweedSFTPServer) throws -> Made {
        let dir = try rigTempDir("weed-sftp-\(v.rawValue)")
        let path = "/replicas/v" + v.rawValue.replacingOccurrences(of: ".", with: "")
        let db = dir + "/app.db", config = dir + "/litestream.yml"
        let url = server.url(path)
        let text =
            v == .v03
            ? """
            dbs:
              - path: "\(db)"
                monitor-interval: 200ms
                checkpoint-interval: 1h
                min-checkpoint-page-count: 1000000
                max-checkpoint-page-count: 2000000
                replicas:
                  - url: "\(url)"
                    sync-interval: 100ms

            """
            : """
            levels:
              - interval: 2s
            snapshot:
              interval: 1h
            dbs:
              - path: "\(db)"
                monitor-interval: 200ms
                replica:
                  url: "\(url)"
                  host-key: "\(server.hostKeyLine)"
                  sync-interval: 100ms

            """
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        // L0 files and WAL segments: each is new WAL data synced (compactions make others).
        func dataFiles() throws -> [String] {
            try server.files(path).filter { ($0.hasPrefix("ltx/0/") && $0.hasSuffix(".ltx")) || $0.hasSuffix(".wal.lz4") }
        }
        let writer = try RigDB(db)
        defer { writer.close() }
        try writer.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        try writer.exec("INSERT INTO t(v) SELECT randomblob(3000) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)")
        let ls = try LitestreamProcess(binary: try Litestream.binary(v), config: config, logPath: dir + "/litestream.log")
        defer { ls.stop() }
        do {
            try waitUntil("the first \(v.rawValue) files over weed sftp", timeout: 45) { try !dataFiles().isEmpty }
            for round in 0..<2 {
                // The last commit in a later second than the first: a replica whose file times are
                // all equal is one LiteProof warns about, and the test asserts no warning.
                let second = Date().timeIntervalSince1970.rounded(.down)
                if round == 1 { try waitUntil("the next second", timeout: 3) { Date().timeIntervalSince1970 >= second + 1 } }
                let before = try dataFiles().count
                try writer.exec("INSERT INTO t(v) SELECT randomblob(3000) FROM (SELECT 1 UNION ALL SELECT 2) -- \(round)")
                try waitUntil("\(v.rawValue) file \(round) over weed sftp", timeout: 45) { try dataFiles().count > before }
            }
        } catch {
            throw RigError(message: "\(error)\nlitestream:\n\(ls.log)\nweed sftp:\n\(server.log)")
        }
        ls.stop()
        return Made(path: path, url: url, db: db)
    }
}

/// Starts weed mini and weed sftp around the whole suite and stops them after, also on failure.
struct SeaweedSFTPScope: SuiteTrait, TestScoping {
    @TaskLocal static var fixture: SeaweedSFTPFixture?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try SeaweedSFTPServer()
        defer { server.stop() }
        try await Self.$fixture.withValue(SeaweedSFTPFixture(server: server)) { try await function() }
    }

    static func current() throws -> SeaweedSFTPFixture {
        guard let fixture else { throw RigError(message: "no weed sftp: the test runs outside SeaweedSFTPScope") }
        return fixture
    }
}

@Suite(.serialized, SeaweedSFTPScope()) struct SFTPPasswordTests {
    /// Every form of the password a report could leak: as set, percent-encoded, and its random part.
    static func leaks(_ output: String, _ password: String) -> Bool {
        let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
        return output.contains(password) || output.contains(encoded) || output.contains(String(password.dropFirst(3).dropLast(2)))
    }

    @Test(arguments: [LitestreamVersion.v05, .v03])
    func passwordLoginVerifiesAndRestores(_ v: LitestreamVersion) async throws {
        let fixture = try SeaweedSFTPScope.current()
        let server = fixture.server
        let made = try await fixture.replica(v)
        let env = try server.environment()
        let dir = try rigTempDir("weed-sftp-restore")

        // The library's listing is the filer's, file for file.
        let storage = try SFTPStorage(url: made.url, environment: env)
        #expect(storage.listing.map(\.path).sorted() == (try server.files(made.path)))

        let verify = try runWithEnvironment(liteproofBinary(), ["verify", made.url], environment: env)
        // No warning either: weed sftp's file times come through (all equal would be one).
        #expect(verify.status == 0 && verify.output.hasPrefix("OK: the replica is sound\n"), "\(verify.output)")
        #expect(verify.output.contains("replica: sftp://\(server.user)@127.0.0.1:\(server.port)\(made.path)"), "\(verify.output)")
        #expect(!Self.leaks(verify.output, server.password), "\(verify.output)")

        let ours = try runWithEnvironment(liteproofBinary(), ["restore", made.url, "-o", dir + "/ours.db"], environment: env)
        #expect(ours.status == 0 && !Self.leaks(ours.output, server.password), "\(ours.output)")
        let theirs = try runWithEnvironment(try Litestream.binary(v), ["restore", "-o", dir + "/theirs.db", made.url], environment: env)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))
        // And what was restored is the live database's last commit.
        let rows = try sqliteQuery(dir + "/ours.db", "SELECT count(*) FROM t")
        #expect(rows == [["7"]], "\(rows)")
    }

    @Test func fleetAndFetchWithPassword() async throws {
        let fixture = try SeaweedSFTPScope.current()
        let server = fixture.server
        let v05 = try await fixture.replica(.v05)
        let v03 = try await fixture.replica(.v03)
        let env = try server.environment()
        // verify --all on the folder above both replicas finds each by its folder name.
        let fleet = try runWithEnvironment(liteproofBinary(), ["verify", "--all", server.url("/replicas")], environment: env)
        #expect(fleet.status == 0 && fleet.output.contains("2 databases: 2 ok"), "\(fleet.output)")
        for made in [v05, v03] { #expect(fleet.output.contains((made.path as NSString).lastPathComponent), "\(fleet.output)") }
        #expect(!Self.leaks(fleet.output, server.password), "\(fleet.output)")
        // fetch: the server's files, then none again.
        let copy = try rigTempDir("weed-sftp-fetch") + "/copy"
        let fetched = try runWithEnvironment(liteproofBinary(), ["fetch", v05.url, copy], environment: env)
        #expect(fetched.status == 0 && !Self.leaks(fetched.output, server.password), "\(fetched.output)")
        #expect(rigListFiles(copy) == (try server.files(v05.path)))
        let again = try runWithEnvironment(liteproofBinary(), ["fetch", v05.url, copy, "--json"], environment: env)
        #expect(again.status == 0 && again.output.contains("\"downloaded\" : 0"), "\(again.output)")
    }

    @Test func wrongPasswordIsRefused() async throws {
        let fixture = try SeaweedSFTPScope.current()
        let server = fixture.server
        let made = try await fixture.replica(.v05)
        let wrong = "not-the-password-7f3a"
        let refused = try runWithEnvironment(
            liteproofBinary(), ["verify", server.url(made.path, password: wrong)], environment: try server.environment())
        #expect(refused.status == 2 && refused.output.contains("refused \(server.user) (tried password)"), "\(refused.output)")
        #expect(!refused.output.contains(wrong) && !Self.leaks(refused.output, server.password), "\(refused.output)")
    }
}
