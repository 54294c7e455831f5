// `--config FILE` with real Litestream: one configuration file, with `$VAR` and `${VAR}` in
// it, that real `litestream replicate -config` 0.3.13 and 0.5.17 run with (file replicas, and
// an S3 replica on moto's server by bucket/path/endpoint fields with the file's own keys); then
// `liteproof verify / restore / compare / inspect / watch / verify --all --config` against it,
// restores byte-equal to `litestream restore -config`.

import Foundation
import LiteProof
import LiteProofS3
import Testing

@Suite(.serialized) struct ConfigLiveTests {
    @Test(arguments: [LitestreamVersion.v03, .v05])
    func fileReplicasFromLitestreamsOwnConfig(_ v: LitestreamVersion) throws {
        let dir = try rigTempDir("config-\(v.rawValue)")
        let db = dir + "/app.db", config = dir + "/litestream.yml"
        var env = ProcessInfo.processInfo.environment
        env["LP_CONFIG_DIR"] = dir
        // 0.3: two replicas (the first is used unless --replica names another); 0.5: one.
        let replicas =
            v == .v03
            ? """
                replicas:
                  - name: primary
                    type: file
                    path: ${LP_CONFIG_DIR}/replica
                    sync-interval: 100ms
                  - name: second
                    url: file://$LP_CONFIG_DIR/replica2
                    sync-interval: 100ms
            """
            : """
                replica:
                  url: file://$LP_CONFIG_DIR/replica
                  sync-interval: 100ms
            """
        try """
        levels:
          - interval: 1h
        snapshot:
          interval: 1h
        dbs:
          - path: ${LP_CONFIG_DIR}/app.db
            monitor-interval: 200ms
            checkpoint-interval: 1h
            min-checkpoint-page-count: 1000000
        \(replicas)

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let writer = try RigDB(db)
        try writer.exec("PRAGMA journal_mode=WAL")
        try writer.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        let ls = try ExpandingLitestream(v, config: config, log: dir + "/litestream.log", environment: env)
        defer { ls.stop() }
        for round in 0..<3 {
            try writer.exec("BEGIN; " + String(repeating: "INSERT INTO t(v) VALUES (hex(randomblob(100)));", count: 20) + " COMMIT; -- \(round)")
        }
        for folder in v == .v03 ? ["replica", "replica2"] : ["replica"] {
            try waitUntil("\(folder) to hold the live database", timeout: 60) {
                try Comparer(replica: try Replica.open(dir + "/" + folder)).compare(live: db).verdict == .identical
            }
        }
        ls.stop()
        writer.close()
        func liteproof(_ args: [String]) throws -> (status: Int32, output: String) {
            try runWithEnvironment(liteproofBinary(), args, environment: env)
        }

        // verify with the only database left out; 0.3 says which of its two replicas it used.
        let verified = try liteproof(["verify", "--config", config])
        #expect(verified.status == 0, "\(verified.output)")
        #expect(verified.output.contains("OK: the replica is sound") && verified.output.contains(dir + "/replica ("))
        #expect(verified.output.contains("using the first, primary") == (v == .v03))
        // Without expansion the paths are read as written ("${LP_CONFIG_DIR}/app.db").
        let literal = try liteproof(["verify", "--config", config, "--no-expand-env", db])
        #expect(literal.status == 2 && literal.output.contains("database not found in \(config)"), "\(literal.output)")

        // restore by database path, byte-equal to `litestream restore -config`.
        let ours = try liteproof(["restore", "--config", config, db, "-o", dir + "/ours.db"])
        #expect(ours.status == 0, "\(ours.output)")
        let theirs = try runWithEnvironment(
            try Litestream.binary(v), ["restore", "-config", config, "-o", dir + "/theirs.db"] + (v == .v03 ? ["-replica", "primary"] : []) + [db],
            environment: env)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))

        // compare: the live database is the configuration's path.
        let compared = try liteproof(["compare", "--config", config, db, "--json"])
        #expect(compared.status == 0, "\(compared.output)")
        #expect(compared.output.contains("\"verdict\":\"identical\"") || compared.output.contains("\"verdict\" : \"identical\""), "\(compared.output)")

        // watch: one round per database, named by its path.
        let watched = try liteproof(["watch", "--config", config, "--rounds", "1", "--json"])
        #expect(watched.status == 0, "\(watched.output)")
        let events = watched.output.split(separator: "\n").compactMap { try? json(String($0)) }
        #expect(events.contains { $0["event"] as? String == "round" && $0["database"] as? String == db && $0["verdict"] as? String == "ok" })

        // verify --all: every replica of the file, named by database (and replica, with several).
        let all = try liteproof(["verify", "--all", "--config", config, "--json"])
        #expect(all.status == 0, "\(all.output)")
        let names = all.output.split(separator: "\n").compactMap { try? json(String($0)) }.compactMap { $0["database"] as? String }
        #expect(names == (v == .v03 ? ["\(db) (primary)", "\(db) (second)"] : [db]), "\(all.output)")

        if v == .v03 {
            let second = try liteproof(["inspect", "--config", config, db, "--replica", "second"])
            #expect(second.status == 0 && second.output.contains("latest restorable position"), "\(second.output)")
            let none = try liteproof(["inspect", "--config", config, db, "--replica", "third"])
            #expect(none.status == 2 && none.output.contains("has no replica named third (its replicas: primary, second)"), "\(none.output)")
        }
    }

    /// An S3 replica given by fields (bucket, path, endpoint, region, force-path-style) with
    /// the keys at the file's top level; no AWS_* keys in either program's environment.
    @Test func s3ReplicaByFieldsWithTheFilesKeys() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createBucket("bucket")
        let dir = try rigTempDir("config-s3")
        let db = dir + "/app.db", config = dir + "/litestream.yml"
        var env = moto.childEnvironment
        env["AWS_ACCESS_KEY_ID"] = nil
        env["AWS_SECRET_ACCESS_KEY"] = nil
        env["LP_PORT"] = String(moto.port)
        try """
        access-key-id: testing
        secret-access-key: testing
        snapshot:
          interval: 1h
        dbs:
          - path: \(db)
            monitor-interval: 200ms
            replica:
              type: s3
              bucket: bucket
              path: app
              endpoint: http://127.0.0.1:${LP_PORT}
              region: us-east-1
              force-path-style: true
              sync-interval: 100ms

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let writer = try RigDB(db)
        try writer.exec("PRAGMA journal_mode=WAL")
        try writer.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        try writer.exec("BEGIN; " + String(repeating: "INSERT INTO t(v) VALUES (hex(randomblob(100)));", count: 50) + " COMMIT;")
        let ls = try ExpandingLitestream(.v05, config: config, log: dir + "/litestream.log", environment: env)
        defer { ls.stop() }
        let url = "s3://bucket/app?endpoint=http://127.0.0.1:\(moto.port)&region=us-east-1&forcePathStyle=true"
        try waitUntil("the bucket to hold the live database", timeout: 60) {
            let replica = try Replica.open(storage: try S3Storage(url: url, environment: moto.environment, notes: { _ in }))
            return try Comparer(replica: replica).compare(live: db).verdict == .identical
        }
        ls.stop()
        writer.close()

        let verified = try runWithEnvironment(liteproofBinary(), ["verify", "--config", config, db], environment: env)
        #expect(verified.status == 0 && verified.output.contains("OK: the replica is sound"), "\(verified.output)")
        #expect(!verified.output.contains("testing"), "a key was printed: \(verified.output)")
        let ours = try runWithEnvironment(liteproofBinary(), ["restore", "--config", config, db, "-o", dir + "/ours.db"], environment: env)
        #expect(ours.status == 0, "\(ours.output)")
        let theirs = try runWithEnvironment(try Litestream.binary(.v05), ["restore", "-config", config, "-o", dir + "/theirs.db", db], environment: env)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))
    }
}

/// `litestream replicate -config FILE` with Litestream's environment expansion on (the rig's
/// launchers pass -no-expand-env); stopped by `stop()`, also from a defer.
// @unchecked: Process is not Sendable in every Foundation; `stopped` is behind a lock.
final class ExpandingLitestream: @unchecked Sendable {
    let process = Process()
    private let stopped = Locked(false)

    init(_ v: LitestreamVersion, config: String, log: String, environment: [String: String]) throws {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: try Litestream.binary(v))
        process.arguments = ["replicate", "-config", config]
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = h
        process.standardError = h
        try process.run()
        RigState.register(pid: process.processIdentifier)
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
