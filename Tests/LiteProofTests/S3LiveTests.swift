// Replicas read straight from a real S3 API: moto's server on 127.0.0.1 (installed by
// .ci/setup), real Litestream 0.5.17 and 0.3.13 replicating into it, then verify / restore /
// inspect / fetch from the bucket, with restores compared byte for byte with `litestream restore`
// from the same bucket. A fault-injecting proxy in front of moto (500s, dropped connections,
// truncated bodies) must lead to retries or a clear error, never to a wrong verdict.

import Foundation
import LiteProof
import LiteProofS3
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite(.serialized) struct S3LiveTests {
    // MARK: Litestream 0.5.17

    @Test func v05ReplicaStraightFromTheBucket() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let (url, db, token) = try await makeV05Replica(moto, prefix: "app")

        // verify: every file checked, sound.
        let listing = try S3Storage(url: url, environment: moto.environment)
        #expect(listing.listing.count >= 4)
        let replica = try Replica.open(storage: listing)
        #expect(replica.format == .ltx)
        let report = Verifier(replica: replica, restoreCheck: .quick).run()
        #expect(report.verdict == .ok, "\(report.findings)")
        #expect(report.filesChecked == replica.ltx?.files.count)
        #expect(listing.failures.isEmpty)

        // restore reads the plan's files and no others, and matches litestream's restore.
        let gets = Locked<[String]>([])
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.environment))
        client.onRequest = { method, key in if method == "GET" && !key.isEmpty { gets.update { $0.append(key) } } }
        let planned = try Replica.open(storage: try S3Storage(client: client))
        let plan = try Restorer(replica: planned).plan(.latest())
        let dir = try rigTempDir("s3-v05")
        try Restorer(replica: planned).restore(to: dir + "/ours.db")
        let fetched = gets.update { $0 }
        #expect(Set(fetched) == Set(plan.files.map { "app/" + $0 }), "GETs: \(fetched), plan: \(plan.files)")
        #expect(fetched.count == Set(fetched).count, "an object was downloaded twice: \(fetched)")
        #expect(plan.files.count < replica.ltx!.files.count, "the plan should leave files out (L0 covered by L1)")
        let theirs = try runWithEnvironment(
            try Litestream.binary(.v05), ["restore", "-o", dir + "/theirs.db", url], environment: moto.childEnvironment)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))

        // inspect names the S3 level layout.
        let inventory = try Inventory.make(replica)
        #expect(inventory.renderText().contains("s3://bucket/app"))

        // inspect needs only the LTX headers: read as ranges they move fewer bytes, with the same
        // result. timeline replays every file, so it fetches whole objects (prefetched, and its
        // header reads then use those copies): never more traffic than without ranges.
        let outputs = Locked<[String]>([])
        let (whole, ranged) = try measureTraffic(url, moto) { r in
            let text = try Inventory.make(r).renderText()
            outputs.update { $0.append(text) }
        }
        print("S3 traffic, inspect of a 0.5 replica: whole objects \(whole), ranged reads \(ranged)")
        #expect(ranged.bytes < whole.bytes / 10 && ranged.requests <= whole.requests, "\(whole) vs \(ranged)")
        #expect(outputs.update { $0.count == 2 && $0[0] == $0[1] }, "inspect differs with ranged reads")
        let (wholeTimeline, rangedTimeline) = try measureTraffic(url, moto) { _ = try Timeline.build($0) }
        print("S3 traffic, timeline of a 0.5 replica: whole objects \(wholeTimeline), ranged reads \(rangedTimeline)")
        #expect(rangedTimeline.requests <= wholeTimeline.requests && rangedTimeline.bytes <= wholeTimeline.bytes)

        // fetch: LastModified as file time, a manifest, resumable; the copy verifies and restores alike.
        let folder = dir + "/fetched"
        let first = try S3Fetch(storage: try S3Storage(url: url, environment: moto.environment), destination: folder).run()
        #expect(first.downloaded == listing.listing.count && first.skipped == 0)
        for f in listing.listing {
            let mtime = try #require(FS.modificationTime(folder + "/" + f.path))
            #expect(abs(mtime - f.modified!) < 0.001, "\(f.path): \(mtime) vs \(f.modified!)")
        }
        let manifest = try #require(S3Fetch.readManifest(folder))
        #expect(manifest.files.count == listing.listing.count && manifest.files.allSatisfy { !$0.etag.isEmpty })
        let again = try S3Fetch(storage: try S3Storage(url: url, environment: moto.environment), destination: folder).run()
        #expect(again.downloaded == 0 && again.skipped == listing.listing.count)
        let local = try Replica.open(folder)
        #expect(local.strays.isEmpty, "the manifest is not part of the replica")
        #expect(Verifier(replica: local).run().verdict == .ok)
        try Restorer(replica: local).restore(to: dir + "/fetched.db")
        #expect(try sameBytes(dir + "/ours.db", dir + "/fetched.db"))

        // The command line: exit 0 from the bucket, exit 2 in S3's words for a missing bucket.
        let cli = try runWithEnvironment(liteproofBinary(), ["verify", "--json", url], environment: moto.childEnvironment)
        #expect(cli.status == 0, "\(cli.output)")
        let missing = url.replacingOccurrences(of: "s3://bucket/", with: "s3://no-such-bucket/")
        let noBucket = try runWithEnvironment(liteproofBinary(), ["verify", missing], environment: moto.childEnvironment)
        #expect(noBucket.status == 2)
        #expect(noBucket.output.contains("NoSuchBucket"), "\(noBucket.output)")
        let canary = try runWithEnvironment(liteproofBinary(), ["canary", "check", url, "--token", token], environment: moto.childEnvironment)
        #expect(canary.status == 0, "\(canary.output)")
        let compare = try runWithEnvironment(liteproofBinary(), ["compare", url, "--live", db, "--json"], environment: moto.childEnvironment)
        #expect(compare.status == 0 && compare.output.contains("identical"), "\(compare.output)")
        let timeline = try runWithEnvironment(liteproofBinary(), ["timeline", url], environment: moto.childEnvironment)
        #expect(timeline.status == 0 && timeline.output.contains("s3://bucket/app"), "\(timeline.output)")
        let cliFetch = try runWithEnvironment(liteproofBinary(), ["fetch", url, dir + "/cli-fetch"], environment: moto.childEnvironment)
        #expect(cliFetch.status == 0 && FS.exists(dir + "/cli-fetch/" + Replica.fetchManifestName), "\(cliFetch.output)")

        // fetch --position with a TXID: the files of that restore only, and they restore offline to
        // the same bytes as the bucket does.
        let middle = try #require(replica.ltx?.files.filter { $0.level == 0 }.map(\.maxTXID).sorted().dropLast(2).last)
        let position = Position.ltx(txid: middle)
        let partialPlan = try Restorer(replica: replica).plan(position.target)
        let partial = try runWithEnvironment(
            liteproofBinary(), ["fetch", "--json", "--position", position.description, url, dir + "/partial"], environment: moto.childEnvironment)
        #expect(partial.status == 0 && partial.output.contains("\"partialTo\""), "\(partial.output)")
        #expect(Set(FS.walk(dir + "/partial")) == Set(partialPlan.files + [Replica.fetchManifestName]))
        try Restorer(replica: replica).restore(position.target, to: dir + "/txid-bucket.db")
        let offline = try runLiteProof(["restore", dir + "/partial", "--txid", position.description, "-o", dir + "/txid-partial.db"])
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(try sameBytes(dir + "/txid-bucket.db", dir + "/txid-partial.db"))
    }

    // MARK: Helpers

    /// Litestream 0.5.17 replicating a database with several write rounds into `s3://bucket/PREFIX`
    /// of `moto` (or another ``S3TestServer``);
    /// returns the replica URL once Litestream has stopped with every round in the bucket.
    func makeV05Replica(_ moto: some S3TestServer, prefix: String) async throws -> (url: String, db: String, canary: String) {
        try moto.createBucket("bucket")
        let dir = try rigTempDir("s3-v05-\(prefix)")
        let db = dir + "/app.db"
        let url = "s3://bucket/\(prefix)?endpoint=http://127.0.0.1:\(moto.port)&region=us-east-1&forcePathStyle=true"
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
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.childEnvironment))
        func l0() throws -> [String] { try client.list(prefix: prefix + "/0000/").map(\.key) }
        let writer = try RigDB(db)
        try writer.exec("PRAGMA journal_mode=WAL")
        try writer.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        let ls = try S3LitestreamProcess(.v05, config: dir + "/litestream.yml", log: dir + "/litestream.log", environment: moto.childEnvironment)
        defer { ls.stop() }
        for round in 0..<5 {
            let before = try l0().count
            try writer.exec("INSERT INTO t(v) SELECT randomblob(900) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) -- \(round)")
            try waitUntil("L0 file \(round)", timeout: 45) { try l0().count > before }
        }
        // An L1 compaction, so a restore's plan leaves some L0 files out.
        try waitUntil("an L1 file", timeout: 45) { try !client.list(prefix: prefix + "/0001/").isEmpty }
        // The last write is a canary row, written by the command line.
        let last = try l0().count
        let canary = try runWithEnvironment(liteproofBinary(), ["canary", "write", db], environment: moto.childEnvironment)
        guard canary.status == 0, let token = canary.output.split(separator: "\n").last.map(String.init) else {
            throw RigError(message: "canary write: \(canary.output)")
        }
        try waitUntil("the final L0 file", timeout: 45) { try l0().count > last }
        ls.stop()
        writer.close()
        return (url, db, token)
    }

    func fastRetries(_ url: String, _ moto: MotoServer) throws -> S3Client {
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.environment))
        client.baseDelay = 0.02
        return client
    }
}
