// S3LiveTests, Litestream 0.3.13: generations replicated into moto, read straight from the bucket,
// fetched (whole and partial) and restored.

import Foundation
import LiteProof
import LiteProofS3
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension S3LiveTests {
    // MARK: Litestream 0.3.13

    @Test func v03GenerationsStraightFromTheBucket() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createBucket("bucket")
        let dir = try rigTempDir("s3-v03")
        let db = dir + "/app.db"
        let config = dir + "/litestream.yml"
        // 0.3.13 ignores ?endpoint= in a URL: the endpoint goes in the config.
        try """
        dbs:
          - path: "\(db)"
            monitor-interval: 200ms
            checkpoint-interval: 1h
            min-checkpoint-page-count: 1000000
            max-checkpoint-page-count: 2000000
            replicas:
              - type: s3
                bucket: bucket
                path: v03
                endpoint: http://127.0.0.1:\(moto.port)
                region: us-east-1
                force-path-style: true
                sync-interval: 100ms

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let url = "s3://bucket/v03?endpoint=http://127.0.0.1:\(moto.port)&region=us-east-1&forcePathStyle=true"
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.environment))
        func generations() throws -> [String: [S3Object]] {
            Dictionary(grouping: try client.list(prefix: "v03/generations/")) { $0.key.split(separator: "/")[2].description }
        }
        func segments() throws -> Int { try client.list(prefix: "v03/").filter { $0.key.hasSuffix(".wal.lz4") }.count }

        let writer = try RigDB(db)
        try writer.exec("PRAGMA journal_mode=WAL")
        try writer.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        // A large first write: the first generation's first WAL segment is larger than an LZ4 block
        // (4 MiB), the most a WAL header needs. Choosing the newest
        // generation reads only its WAL header, as a range of the segment's first bytes.
        try writer.exec("PRAGMA wal_autocheckpoint=0; INSERT INTO t(v) VALUES (randomblob(6000000))")
        var ls = try S3LitestreamProcess(.v03, config: config, log: dir + "/litestream.log", environment: moto.childEnvironment)
        defer { ls.stop() }
        for round in 0..<3 {
            let before = try segments()
            try writer.exec("INSERT INTO t(v) SELECT randomblob(300) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) -- \(round)")
            try waitUntil("0.3 segment \(round)", timeout: 45) { try segments() > before }
        }
        let first = Set(try generations().keys)
        #expect(first.count == 1)
        ls.stop()
        // A new generation: Litestream is stopped, the app truncates the WAL and writes on.
        _ = try writer.query("PRAGMA wal_checkpoint(TRUNCATE)")
        try writer.exec("INSERT INTO t(v) VALUES (randomblob(500))")
        ls = try S3LitestreamProcess(.v03, config: config, log: dir + "/litestream.log", environment: moto.childEnvironment)
        try waitUntil("a second generation with a snapshot and WAL", timeout: 45) {
            let g = try generations()
            return g.count == 2
                && g.values.allSatisfy { objs in
                    objs.contains { $0.key.hasSuffix(".snapshot.lz4") } && objs.contains { $0.key.hasSuffix(".wal.lz4") }
                }
        }
        let before = try segments()
        try writer.exec("INSERT INTO t(v) VALUES (randomblob(700))")
        try waitUntil("the final segment", timeout: 45) { try segments() > before }
        // S3 keeps whole seconds: write on until the new generation's newest object is stamped
        // after the old one's (the fetched copy below is ordered by those times).
        try waitUntil("the new generation stamped after the old one", timeout: 60) {
            let objects = try generations()
            let old = objects.filter { first.contains($0.key) }.flatMap(\.value).map(\.lastModified).max() ?? 0
            let new = objects.filter { !first.contains($0.key) }.flatMap(\.value).map(\.lastModified).max() ?? 0
            if new > old { return true }
            let count = try segments()
            try writer.exec("INSERT INTO t(v) VALUES (randomblob(100))")
            try waitUntil("one more segment", timeout: 45) { try segments() > count }
            return false
        }
        ls.stop()
        writer.close()
        let second = try #require(Set(try generations().keys).subtracting(first).first)

        let storage = try S3Storage(url: url, environment: moto.environment)
        let replica = try Replica.open(storage: storage)
        #expect(replica.format == .v03 && replica.v03?.generations.count == 2)
        // Times come from the listing (LastModified), as Litestream's generation choice uses them.
        #expect(storage.listing.allSatisfy { $0.modified != nil })
        let plan = try Restorer(replica: replica).plan(.latest())
        #expect(plan.generation == second)
        #expect(Verifier(replica: replica).run().verdict == .ok)
        try Restorer(replica: replica).restore(to: dir + "/ours.db")
        // S3 times have whole seconds: when both generations' newest objects share one, Litestream
        // takes the first by name while LiteProof decides by the WAL headers (the newer one). Compare
        // the same generation's restore.
        let theirs = try runWithEnvironment(
            try Litestream.binary(.v03), ["restore", "-config", config, "-generation", second, "-o", dir + "/theirs.db", db],
            environment: moto.childEnvironment)
        #expect(theirs.status == 0, "\(theirs.output)")
        #expect(try sameBytes(dir + "/ours.db", dir + "/theirs.db"))

        // A fetched copy keeps the times, so the same generation is chosen offline.
        _ = try S3Fetch(storage: storage, destination: dir + "/fetched").run()
        let local = try Replica.open(dir + "/fetched")
        #expect(try Restorer(replica: local).plan(.latest()).generation == second)

        let older = try #require(first.first)
        try fetchManifestTimesAreTrusted(dir: dir, first: older, second: second, latest: dir + "/ours.db")
        try hostileManifestsAreIgnored(dir + "/fetched")
        try partialFetch(url: url, moto: moto, dir: dir, generation: older)

        // Planning the latest restore reads the older generation's last WAL header (generation
        // choice) as a range of its segment's first bytes; inspect reads every generation's
        // segments anyway (where each one's history ends), so ranges save it nothing.
        let (whole, ranged) = try measureTraffic(url, moto) { _ = try Restorer(replica: $0).plan(.latest()) }
        print("S3 traffic, planning the latest restore of a 0.3 replica: whole objects \(whole), ranged reads \(ranged)")
        #expect(ranged.bytes < whole.bytes && ranged.requests <= whole.requests, "\(whole) vs \(ranged)")
        let (wholeInspect, rangedInspect) = try measureTraffic(url, moto) { _ = try Inventory.make($0).renderText() }
        print("S3 traffic, inspect of a 0.3 replica: whole objects \(wholeInspect), ranged reads \(rangedInspect)")
        #expect(rangedInspect.bytes <= wholeInspect.bytes)
    }

    /// A copy of a fetched folder whose file times a later copy rewrote: the older generation's
    /// files stamped newer, in descending name order within each generation (nothing looks like
    /// a download in key order). The manifest's times (S3's LastModified) still decide.
    func fetchManifestTimesAreTrusted(dir: String, first: String, second: String, latest: String) throws {
        func restampedCopy(_ folder: String) throws {
            try FileManager.default.copyItem(atPath: dir + "/fetched", toPath: folder)
            var t = 1_800_000_000.0
            for gen in [second, first] {
                let genDir = folder + "/generations/" + gen
                for f in FS.walk(genDir).sorted().reversed() {
                    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: t)], ofItemAtPath: genDir + "/" + f)
                    t += 10
                }
            }
        }
        let restamped = dir + "/restamped"
        try restampedCopy(restamped)
        // Without the manifest the rewritten times mislead: the older generation is chosen (as
        // Litestream itself chooses it), with a warning that the WAL headers disagree.
        let bare = dir + "/restamped-without-manifest"
        try restampedCopy(bare)
        try FileManager.default.removeItem(atPath: bare + "/" + Replica.fetchManifestName)
        let fooled = try Restorer(replica: try Replica.open(bare)).plan(.latest())
        #expect(fooled.generation == first, "\(fooled.reasons)")
        #expect(fooled.warnings.contains { $0.code == .generationOrder }, "\(fooled.warnings)")
        let theirs = dir + "/litestream-restamped.db"
        #expect(try litestreamRestore(.v03, replicaDir: bare, output: theirs).status == 0)
        #expect(try !sameBytes(theirs, latest), "the rewritten times should fool a chooser that trusts file times")

        // With it: the newer generation, by S3's times, and the reason says where they came from.
        let replica = try Replica.open(restamped)
        #expect(replica.strays.isEmpty && replica.storageFindings.isEmpty, "\(replica.strays) \(replica.storageFindings)")
        #expect(replica.timeSource?.contains(Replica.fetchManifestName) == true, "\(replica.timeSource ?? "nil")")
        let plan = try Restorer(replica: replica).plan(.latest())
        #expect(plan.generation == second)
        let why = plan.reasons.joined(separator: "; ")
        #expect(why.contains("updated most recently") && why.contains("S3 LastModified from \(Replica.fetchManifestName)"), "\(why)")
        #expect(plan.warnings.isEmpty, "\(plan.warnings)")
        let cli = try runLiteProof(["restore", restamped, "-o", dir + "/restamped.db"])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(try sameBytes(dir + "/restamped.db", latest))
    }

    /// Manifests that do not match their folder: bad entries are ignored with a warning (the files
    /// keep their own times), a manifest that cannot be read is ignored whole; never a crash.
    func hostileManifestsAreIgnored(_ fetched: String) throws {
        let root = try rigTempDir("hostile-manifest")
        func copy(_ name: String, manifest: (inout [String: Any]) -> Void) throws -> String {
            let folder = root + "/" + name
            try FileManager.default.copyItem(atPath: fetched, toPath: folder)
            let path = folder + "/" + Replica.fetchManifestName
            var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            manifest(&json)
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
            return folder
        }
        let entries = try #require(S3Fetch.readManifest(fetched)?.files)
        let snapshot = try #require(entries.first { $0.path.hasSuffix(".snapshot.lz4") })
        let segment = try #require(entries.first { $0.path.hasSuffix(".wal.lz4") })
        let bad = try copy("entries") { json in
            var files = json["files"] as! [[String: Any]]
            var escape = files[0]
            escape["path"] = "../../outside/" + snapshot.path
            var twice = files.first { $0["path"] as? String == snapshot.path }!
            twice["modified"] = 1.0
            for i in files.indices where files[i]["path"] as? String == segment.path { files[i]["size"] = segment.size + 7 }
            files += [escape, twice]
            json["files"] = files
        }
        let replica = try Replica.open(bad)
        let warning = replica.storageFindings.filter { $0.code == .manifestIgnored }.map(\.message).joined()
        #expect(
            warning.contains("../../outside") && warning.contains("more than once") && warning.contains("the manifest says \(segment.size + 7)"), "\(warning)")
        let files = (replica.v03?.generations ?? []).flatMap(\.allFiles)
        try #require(!files.isEmpty)
        let badSnapshot = try #require(files.first { $0.path == snapshot.path })
        let badSegment = try #require(files.first { $0.path == segment.path })
        #expect(!badSnapshot.timeTrusted && !badSegment.timeTrusted)
        #expect(files.filter { $0.timeTrusted }.count == files.count - 2)
        let report = Verifier(replica: replica).run()
        #expect(report.findings(.manifestIgnored).count == 1, "\(report.renderText())")

        // Not JSON, nested past any parser's depth, duplicate keys, too big: ignored whole.
        let deep = String(repeating: "[", count: 100_000)
        let duplicate =
            #"{"source":"a","source":"b","fetched":"x","files":[{"path":"p","path":"q","key":"k","size":1,"size":2,"etag":"e","lastModified":"t","modified":1}]}"#
        for (name, text) in [("garbage", "\u{0}not json"), ("deep", deep), ("duplicate", duplicate), ("empty", "")] {
            let folder = root + "/" + name
            try FileManager.default.copyItem(atPath: fetched, toPath: folder)
            try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/" + Replica.fetchManifestName))
            let r = try Replica.open(folder)
            #expect(r.strays.isEmpty)
            #expect(r.v03?.generations.flatMap(\.allFiles).allSatisfy { !$0.timeTrusted } == true, "\(name)")
            if name != "duplicate" { #expect(r.storageFindings.contains { $0.code == .manifestIgnored }, "\(name): \(r.storageFindings)") }
        }
        let huge = root + "/huge"
        try FileManager.default.copyItem(atPath: fetched, toPath: huge)
        #expect(truncate(huge + "/" + Replica.fetchManifestName, off_t(FetchManifest.maxBytes) + 1) == 0)
        let r = try Replica.open(huge)
        #expect(r.storageFindings.map(\.message).joined().contains("more than the"), "\(r.storageFindings)")
    }

    /// `fetch --position`: only the files a restore to that position applies; the copy restores
    /// offline to the same bytes as a restore from the bucket, and its manifest says it is partial.
    func partialFetch(url: String, moto: MotoServer, dir: String, generation: String) throws {
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.environment))
        let gets = Locked<[String]>([])
        client.onRequest = { method, key in if method == "GET" && !key.isEmpty { gets.update { $0.append(key) } } }
        let storage = try S3Storage(client: client)
        let bucket = try Replica.open(storage: storage)
        let position = try Restorer(replica: bucket).plan(.latest(generation: generation)).position
        var fetch = S3Fetch(storage: storage, destination: dir + "/partial")
        let plan = try fetch.limit(to: position)
        let summary = try fetch.run()
        #expect(summary.downloaded == plan.files.count && plan.files.count < storage.listing.count)
        let fetched = gets.update { $0 }
        #expect(fetched.count == Set(fetched).count, "planning and fetching downloaded an object twice: \(fetched)")
        #expect(Set(FS.walk(dir + "/partial")) == Set(plan.files + [Replica.fetchManifestName]))
        #expect(S3Fetch.readManifest(dir + "/partial")?.partialTo == position.description)
        try Restorer(replica: bucket).restore(position.target, to: dir + "/from-bucket.db")
        let offline = try runLiteProof(["restore", dir + "/partial", "--generation", generation, "-o", dir + "/from-partial.db"])
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(try sameBytes(dir + "/from-bucket.db", dir + "/from-partial.db"))
        // The command line takes the position as reports print it.
        let cli = try runWithEnvironment(
            liteproofBinary(), ["fetch", "--position", position.description, url, dir + "/partial-cli"], environment: moto.childEnvironment)
        #expect(cli.status == 0 && cli.output.contains("only the files a restore to \(position)"), "\(cli.output)")
        #expect(Set(FS.walk(dir + "/partial-cli")) == Set(plan.files + [Replica.fetchManifestName]))
        let nonsense = try runWithEnvironment(liteproofBinary(), ["fetch", "--position", "zz", url, dir + "/x"], environment: moto.childEnvironment)
        #expect(nonsense.status == 2 && nonsense.output.contains("is not a position"), "\(nonsense.output)")
    }

    /// S3 traffic (requests, bytes after the listing) of `body` over a fresh storage, with whole
    /// objects only and with ranged reads (every object larger than what is read).
    func measureTraffic(_ url: String, _ moto: MotoServer, _ body: (Replica) throws -> Void) throws -> (
        whole: (requests: Int, bytes: Int64), ranged: (requests: Int, bytes: Int64)
    ) {
        func run(_ wholeUpTo: Int64) throws -> (requests: Int, bytes: Int64) {
            let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.environment))
            let storage = try S3Storage(client: client)
            storage.wholeObjectsUpTo = wholeUpTo
            let replica = try Replica.open(storage: storage)
            let listed = client.traffic
            try body(replica)
            #expect(storage.failures.isEmpty, "\(storage.failures)")
            let after = client.traffic
            return (after.requests - listed.requests, after.bytes - listed.bytes)
        }
        return (try run(.max), try run(0))
    }
}
