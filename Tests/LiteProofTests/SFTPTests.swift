// The SFTP back end against Debian's OpenSSH server: real Litestream 0.5.17 and 0.3.13
// replicate over SFTP into it; verify, restore (byte for byte equal to `litestream restore` of
// the same replica), inspect, compare, verify --all and watch read it through `sftp://`; a file
// damaged on the server is found and named; host keys are checked; a server that goes away or
// stalls mid-read ends in exit 2. One sshd for the suite, one replica per version made on first
// use and shared.

import Foundation
import LiteProof
import LiteProofSFTP
import Testing

/// The suite's sshd and its replicas, each made once.
actor SFTPFixture {
    let server: SSHServer
    private var replicas: [LitestreamVersion: Task<SFTPReplica, Error>] = [:]

    struct SFTPReplica: Sendable {
        /// The replica's folder on the server (a local path: the server is this machine).
        let folder: String
        let url: String
        /// The live database and the Litestream configuration that replicated it.
        let db: String
        let config: String
    }

    init(server: SSHServer) { self.server = server }

    func replica(_ v: LitestreamVersion) async throws -> SFTPReplica {
        if replicas[v] == nil {
            let server = server
            replicas[v] = Task { try Self.make(v, server) }
        }
        return try await replicas[v]!.value
    }

    /// Litestream `v` replicating a database over SFTP (its `url`, `key-path`, and for 0.5 the
    /// pinned `host-key`) into a folder of the server, with a few commits after the first snapshot.
    private static func make(_ v: LitestreamVersion, _ server: SSHServer) throws -> SFTPReplica {
        let dir = try rigTempDir("sftp-\(v.rawValue)")
        let folder = dir + "/served/replica"
        let db = dir + "/app.db", config = dir + "/litestream.yml"
        let replicaURL = "sftp://\(server.user)@127.0.0.1:\(server.port)\(folder)"
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
                  - url: "\(replicaURL)"
                    key-path: "\(server.userKey)"
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
                  url: "\(replicaURL)"
                  key-path: "\(server.userKey)"
                  host-key: "\(server.hostKeyLine)"
                  sync-interval: 100ms

            """
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        func dataFiles() -> [String] {
            rigListFiles(folder).filter { $0.hasSuffix(".ltx") || $0.hasSuffix(".wal.lz4") }.filter { !$0.contains("/ltx/9/") && !$0.contains("snapshots/") }
        }
        let writer = try RigDB(db)
        defer { writer.close() }
        try writer.exec("PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        try writer.exec("INSERT INTO t(v) SELECT randomblob(3000) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)")
        let ls = try LitestreamProcess(binary: try Litestream.binary(v), config: config, logPath: dir + "/litestream.log")
        defer { ls.stop() }
        try waitUntil("the first \(v.rawValue) files over SFTP", timeout: 45) { !dataFiles().isEmpty }
        for round in 0..<3 {
            let before = dataFiles().count
            try writer.exec("INSERT INTO t(v) SELECT randomblob(3000) FROM (SELECT 1 UNION ALL SELECT 2) -- \(round)")
            try waitUntil("\(v.rawValue) file \(round) over SFTP", timeout: 45) { dataFiles().count > before }
        }
        ls.stop()
        return SFTPReplica(folder: folder, url: server.url(folder), db: db, config: config)
    }
}

/// Starts sshd around the whole suite and stops it after, also on failure.
struct SSHScope: SuiteTrait, TestScoping {
    @TaskLocal static var fixture: SFTPFixture?

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try SSHServer()
        defer { server.stop() }
        try await Self.$fixture.withValue(SFTPFixture(server: server)) { try await function() }
    }

    static func current() throws -> SFTPFixture {
        guard let fixture else { throw RigError(message: "no sshd: the test runs outside SSHScope") }
        return fixture
    }
}

@Suite(.serialized, SSHScope()) struct SFTPTests {
    @Test(arguments: [LitestreamVersion.v05, .v03])
    func verifyAndRestoreEqualLitestream(_ v: LitestreamVersion) async throws {
        let fixture = try SSHScope.current()
        let server = fixture.server
        let made = try await fixture.replica(v)
        let env = server.environment()
        let dir = try rigTempDir("sftp-restore")

        let storage = try SFTPStorage(url: made.url, environment: env)
        #expect(storage.listing.count == rigListFiles(made.folder).count)
        let replica = try Replica.open(storage: storage)
        #expect(replica.format == (v == .v05 ? .ltx : .v03))
        let report = Verifier(replica: replica, restoreCheck: .quick).run()
        #expect(report.verdict == .ok && storage.failures.isEmpty, "\(report.findings)")

        let verify = try runWithEnvironment(liteproofBinary(), ["verify", made.url], environment: env)
        #expect(verify.status == 0, "\(verify.output)")
        // The password is never printed; the key path is not either (reports show the display form).
        #expect(verify.output.contains("sftp://\(server.user)@127.0.0.1:\(server.port)\(made.folder)") && !verify.output.contains("key-path"))
        let ours = try runWithEnvironment(liteproofBinary(), ["restore", made.url, "-o", dir + "/ours.db"], environment: env)
        #expect(ours.status == 0, "\(ours.output)")
        let theirs = try runWithEnvironment(
            try Litestream.binary(v), ["restore", "-config", made.config, "-o", dir + "/theirs.db", made.db], environment: env)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))

        let compare = try runWithEnvironment(liteproofBinary(), ["compare", made.url, "--live", made.db], environment: env)
        #expect(compare.status == 0 && compare.output.contains("IDENTICAL"), "\(compare.output)")
        let inspect = try runWithEnvironment(liteproofBinary(), ["inspect", made.url], environment: env)
        #expect(inspect.status == 0 && inspect.output.contains("latest restorable position"), "\(inspect.output)")
    }

    @Test func fleetWatchAndFetchReadSFTP() async throws {
        let fixture = try SSHScope.current()
        let server = fixture.server
        let made = try await fixture.replica(.v05)
        let env = server.environment()
        // verify --all on the folder above the replica finds it by its folder name.
        let parent = (made.folder as NSString).deletingLastPathComponent
        let fleet = try runWithEnvironment(liteproofBinary(), ["verify", "--all", server.url(parent), "--json"], environment: env)
        #expect(fleet.status == 0 && fleet.output.contains("\"replica\"") && fleet.output.contains("\"ok\""), "\(fleet.output)")
        let watch = try runWithEnvironment(liteproofBinary(), ["watch", made.url, "--rounds", "2", "--interval", "0.2", "--json"], environment: env)
        #expect(watch.status == 0, "\(watch.output)")
        #expect(watch.output.contains("sftp://\(server.user)@127.0.0.1:\(server.port)\(made.folder)") && !watch.output.contains("key-path="))
        // fetch: the copy has the server's files with their times, verifies and restores the
        // same bytes; a second fetch skips them all.
        let dir = try rigTempDir("sftp-fetch")
        let fetched = try runWithEnvironment(liteproofBinary(), ["fetch", made.url, dir + "/copy"], environment: env)
        #expect(fetched.status == 0, "\(fetched.output)")
        #expect(rigListFiles(dir + "/copy") == rigListFiles(made.folder))
        for f in rigListFiles(made.folder) {
            #expect(try bytes(of: dir + "/copy/" + f) == bytes(of: made.folder + "/" + f))
            #expect(FS.modificationTime(dir + "/copy/" + f)?.rounded(.down) == FS.modificationTime(made.folder + "/" + f)?.rounded(.down))
        }
        let again = try runWithEnvironment(liteproofBinary(), ["fetch", made.url, dir + "/copy", "--json"], environment: env)
        #expect(again.status == 0 && again.output.contains("\"downloaded\" : 0"), "\(again.output)")
        let local = try Replica.open(dir + "/copy")
        #expect(Verifier(replica: local).run().verdict == .ok)
    }

    @Test func damageOnTheServerIsFoundAndNamed() async throws {
        let fixture = try SSHScope.current()
        let server = fixture.server
        let made = try await fixture.replica(.v05)
        // A copy of the real replica, served by the same sshd, with one byte of one L0 file changed.
        let copy = try rigTempDir("sftp-damaged") + "/replica"
        try FileManager.default.copyItem(atPath: made.folder, toPath: copy)
        let victim = try #require(rigListFiles(copy).filter { $0.contains("ltx/0/") && $0.hasSuffix(".ltx") }.sorted().last)
        var bytes = try bytes(of: copy + "/" + victim)
        bytes[bytes.count / 2] ^= 0xFF
        try write(bytes, to: copy + "/" + victim)
        let r = try runWithEnvironment(liteproofBinary(), ["verify", server.url(copy)], environment: server.environment())
        #expect(r.status == 1 && r.output.contains(victim), "\(r.output)")

        // Files that change after the listing: one gone (the server's status, `missing`), one
        // grown (refused, never read past the listed size); both among the storage's failures.
        let storage = try SFTPStorage(url: server.url(copy), environment: server.environment())
        let gone = try #require(rigListFiles(copy).first { $0.contains("ltx/0/") && $0 != victim })
        try FileManager.default.removeItem(atPath: copy + "/" + gone)
        #expect {
            _ = try storage.open(gone)
        } throws: { e in
            (e as? LiteProofError)?.storageFailure == .missing && "\(e)".contains("SSH_FX_NO_SUCH_FILE") && "\(e)".contains(gone)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: copy + "/" + victim))
        handle.seekToEndOfFile()
        handle.write(Data([1, 2, 3]))
        try handle.close()
        #expect {
            _ = try storage.open(victim)
        } throws: { e in
            (e as? LiteProofError)?.storageFailure == .transfer && "\(e)".contains("changed since it was listed")
        }
        #expect(storage.failures.count == 2)
    }

    @Test func hostKeysAreChecked() async throws {
        let fixture = try SSHScope.current()
        let server = fixture.server
        let made = try await fixture.replica(.v05)
        let dir = try rigTempDir("sftp-hostkeys")
        // Unknown: refused, naming the key's fingerprint, unless accepting is asked for.
        let empty = dir + "/empty_known_hosts"
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        let unknown = try runWithEnvironment(liteproofBinary(), ["verify", made.url], environment: server.environment(knownHosts: empty))
        #expect(unknown.status == 2 && unknown.output.contains("is not in \(empty)") && unknown.output.contains("SHA256:"), "\(unknown.output)")
        var accepting = server.environment(knownHosts: empty)
        accepting["LITEPROOF_SFTP_ACCEPT_UNKNOWN_HOST_KEY"] = "1"
        let accepted = try runWithEnvironment(liteproofBinary(), ["verify", made.url], environment: accepting)
        #expect(accepted.status == 0, "\(accepted.output)")
        // Wrong: another key on record for [127.0.0.1]:PORT is refused, accepting or not.
        let other = try String(contentsOfFile: server.userKey + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let wrong = dir + "/wrong_known_hosts"
        try "[127.0.0.1]:\(server.port) \(other)\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        var wrongAccepting = server.environment(knownHosts: wrong)
        wrongAccepting["LITEPROOF_SFTP_ACCEPT_UNKNOWN_HOST_KEY"] = "1"
        let mismatch = try runWithEnvironment(liteproofBinary(), ["verify", made.url], environment: wrongAccepting)
        #expect(mismatch.status == 2 && mismatch.output.contains("HOST KEY MISMATCH"), "\(mismatch.output)")
        // Litestream 0.5's host-key pins the key: the right one passes without a known_hosts
        // entry, another is refused.
        let pinned = made.url + "&host-key=" + server.hostKeyLine.replacingOccurrences(of: " ", with: "%20")
        let pinnedOK = try runWithEnvironment(liteproofBinary(), ["verify", pinned], environment: server.environment(knownHosts: empty))
        #expect(pinnedOK.status == 0, "\(pinnedOK.output)")
        let pinnedWrong = made.url + "&host-key=" + other.replacingOccurrences(of: " ", with: "%20")
        let refused = try runWithEnvironment(liteproofBinary(), ["verify", pinnedWrong], environment: server.environment())
        #expect(refused.status == 2 && refused.output.contains("HOST KEY MISMATCH"), "\(refused.output)")
        // A key the server does not take: refused login, in the server's words, exit 2.
        let stranger = try runWithEnvironment(
            liteproofBinary(), ["verify", made.url.replacingOccurrences(of: "key-path=\(server.userKey)", with: "key-path=\(server.dir)/host_key")],
            environment: server.environment())
        #expect(stranger.status == 2 && stranger.output.contains("refused \(server.user)"), "\(stranger.output)")
        // A password the server refuses: exit 2, the password never printed. HOME without keys,
        // so only the password is tried.
        var passwordOnly = server.environment()
        passwordOnly["HOME"] = dir
        let withPassword = "sftp://\(server.user):not-the-password-7f3a@127.0.0.1:\(server.port)\(made.folder)"
        let badPassword = try runWithEnvironment(liteproofBinary(), ["verify", withPassword], environment: passwordOnly)
        #expect(badPassword.status == 2 && badPassword.output.contains("(tried password)"), "\(badPassword.output)")
        #expect(!badPassword.output.contains("not-the-password"), "\(badPassword.output)")
    }

    @Test func serverGoneOrStalledMidReadIsUnreadable() async throws {
        let fixture = try SSHScope.current()
        let server = fixture.server
        let made = try await fixture.replica(.v05)
        var env = server.environment()
        env["LITEPROOF_SFTP_ATTEMPTS"] = "2"
        // 10 s an exchange for the runs that must succeed (a loaded machine may pause for a
        // second or two), 2 s for the cut and the stall below.
        env["LITEPROOF_SFTP_TIMEOUT"] = "10"
        env["LITEPROOF_SFTP_ACCEPT_UNKNOWN_HOST_KEY"] = "1"
        // How many bytes a whole verify takes from the server, through a proxy that passes all.
        let counting = try TCPFaultProxy(upstream: server.port, mode: "cut:1000000000")
        defer { counting.stop() }
        let whole = try runWithEnvironment(liteproofBinary(), ["verify", server.url(made.folder, port: counting.port)], environment: env)
        #expect(whole.status == 0, "\(whole.output)")
        try waitUntil("the proxy's count", timeout: 10) { try !counting.bytesSent().isEmpty }
        let total = try #require(try counting.bytesSent().max())
        // The replica's files come last and are most of the bytes: half of them from the end is mid-read.
        let files = rigListFiles(made.folder).reduce(0) { $0 + fileSize(made.folder + "/" + $1) }
        #expect(total > files)
        // A connection cut once: the read is tried again on a new connection, and the check goes on.
        let blip = try TCPFaultProxy(upstream: server.port, mode: "cutonce:\(total - files / 2)")
        defer { blip.stop() }
        let recovered = try runWithEnvironment(liteproofBinary(), ["verify", server.url(made.folder, port: blip.port)], environment: env)
        #expect(recovered.status == 0 && blip.log.contains("bytes \(total - files / 2)"), "\(recovered.output)")
        for mode in ["cut", "stall"] {
            let proxy = try TCPFaultProxy(upstream: server.port, mode: "\(mode):\(total - files / 2)")
            defer { proxy.stop() }
            let started = Date()
            let r = try runWithEnvironment(
                liteproofBinary(), ["verify", server.url(made.folder, port: proxy.port)], environment: env.merging(["LITEPROOF_SFTP_TIMEOUT": "2"]) { $1 },
                timeout: 60)
            #expect(r.status == 2 && r.output.contains("libssh2 error") && !r.output.contains("damaged"), "\(mode): \(r.output)")
            #expect(r.output.contains(".ltx"), "\(mode): the message names the file: \(r.output)")
            if mode == "stall" {
                #expect(r.output.contains("no answer within 2.0 s"), "\(r.output)")
                #expect(Date().timeIntervalSince(started) < 30)
            }
        }
    }

    @Test func urlsAreReadAsLitestreamNamesThem() throws {
        let l = try SFTPLocation(url: "sftp://backup:s3cr%40t@db.example.com:2222/srv/replicas/app/?key-path=~/.ssh/id&host-key=ssh-ed25519%20AAAA")
        #expect(l.user == "backup" && l.password == "s3cr@t" && l.host == "db.example.com" && l.port == 2222)
        #expect(l.path == "/srv/replicas/app" && l.keyPath == "~/.ssh/id" && l.hostKey == "ssh-ed25519 AAAA")
        #expect(l.display == "sftp://backup@db.example.com:2222/srv/replicas/app" && !l.display.contains("s3cr"))
        #expect(l.knownHostsName == "[db.example.com]:2222")
        let plain = try SFTPLocation(url: "sftp://u@host/data")
        #expect(plain.port == 22 && plain.password == nil && plain.knownHostsName == "host")
        let home = try SFTPLocation(url: "sftp://u@host")
        #expect(home.path == "." && home.display == "sftp://u@host")
        #expect(SFTPLocation.redacted("sftp://u:pw@h/x") == "sftp://u:***@h/x")
        for bad in ["sftp://host/data", "sftp://u@/data", "sftp://u@h/data?concurrency=2"] {
            #expect(throws: LiteProofError.self) { try SFTPLocation(url: bad) }
        }
        do {
            _ = try SFTPLocation(url: "sftp://u:hunter2@h/data?region=x")
            Issue.record("an unknown parameter was accepted")
        } catch let e as LiteProofError {
            #expect(e.message.contains("\"region\"") && !e.message.contains("hunter2"), "\(e.message)")
        }
        let settings = try SFTPSettings.from(environment: ["HOME": "/home/x", "LITEPROOF_SFTP_TIMEOUT": "5", "LITEPROOF_SFTP_KNOWN_HOSTS": "~/kh"])
        #expect(settings.timeout == 5 && settings.knownHosts == "/home/x/kh" && !settings.acceptUnknownHostKey)
        #expect(throws: LiteProofError.self) { try SFTPSettings.from(environment: ["LITEPROOF_SFTP_TIMEOUT": "soon"]) }
    }
}
