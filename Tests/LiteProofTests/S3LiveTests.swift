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
        #expect(listing.transferFailures.isEmpty)

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
        let (wholeTimeline, rangedTimeline) = try measureTraffic(url, moto) { _ = Timeline.build($0) }
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

    @Test func faultsAreRetriedOrStopTheCommand() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let url = try await makeV05Replica(moto, prefix: "faulty").url
        let dir = try rigTempDir("s3-faults")
        let direct = try Replica.open(storage: try S3Storage(url: url, environment: moto.environment))
        try Restorer(replica: direct).restore(to: dir + "/direct.db")

        // Every object: first a 500, then a connection dropped mid-body, then the object.
        let flaky = try FaultProxy(upstream: moto.port, mode: "flaky")
        defer { flaky.stop() }
        let viaFlaky = url.replacingOccurrences(of: ":\(moto.port)", with: ":\(flaky.port)")
        let storage = try S3Storage(client: fastRetries(viaFlaky, moto), concurrency: 4)
        let replica = try Replica.open(storage: storage)
        #expect(Verifier(replica: replica).run().verdict == .ok)
        #expect(storage.transferFailures.isEmpty)
        let restoredFlaky = try Replica.open(storage: try S3Storage(client: fastRetries(viaFlaky, moto)))
        try Restorer(replica: restoredFlaky).restore(to: dir + "/flaky.db")
        #expect(try sameBytes(dir + "/direct.db", dir + "/flaky.db"))
        #expect(flaky.log.contains("500 ") && flaky.log.contains("drop "), "\(flaky.log)")

        // One object always comes back short (Content-Length honest but smaller than the listing):
        // no verdict and no restore, exit 2 naming the object. The object is the last one the
        // latest restore applies (the newest L0 file may be covered by a compaction and skipped).
        let newest = try #require(try RestorePlanner(replica: direct).plan().files.last)
        let short = try FaultProxy(upstream: moto.port, mode: "truncate:" + newest)
        defer { short.stop() }
        let viaShort = url.replacingOccurrences(of: ":\(moto.port)", with: ":\(short.port)")
        let verify = try runWithEnvironment(liteproofBinary(), ["verify", viaShort], environment: moto.childEnvironment)
        #expect(verify.status == 2, "\(verify.output)")
        #expect(verify.output.contains(newest) && verify.output.contains("the listing says"), "\(verify.output)")
        #expect(!verify.output.contains("OK") && !verify.output.contains("DAMAGED"), "\(verify.output)")
        let restore = try runWithEnvironment(liteproofBinary(), ["restore", viaShort, "-o", dir + "/short.db"], environment: moto.childEnvironment)
        #expect(restore.status == 2, "\(restore.output)")
        #expect(!FS.exists(dir + "/short.db"))

        // Ranged reads (100 bytes of the largest object, every object read as a range): retried
        // after a 500 and a dropped 206 body; a server that ignores Range sends the whole object,
        // which is kept as the local copy; a short 206 body is retried, then refused.
        let largest = try #require(direct.ltx?.files.max { $0.size < $1.size })
        try #require(largest.size > 300)
        let expected = try direct.open(largest.path).read(count: 100, at: 10)
        func rangedRead(_ mode: String) throws -> (S3Storage, Result<[UInt8], Error>, FaultProxy) {
            let proxy = try FaultProxy(upstream: moto.port, mode: mode)
            let s = try S3Storage(client: fastRetries(url.replacingOccurrences(of: ":\(moto.port)", with: ":\(proxy.port)"), moto))
            s.wholeObjectsUpTo = 0
            return (s, Result { try s.read(largest.path, offset: 10, count: 100) }, proxy)
        }
        let (_, afterFaults, flakyRanges) = try rangedRead("flaky")
        defer { flakyRanges.stop() }
        #expect(try afterFaults.get() == expected)
        #expect(flakyRanges.log.contains("500 ") && flakyRanges.log.contains("drop "), "\(flakyRanges.log)")
        let (ignoring, full, noRange) = try rangedRead("norange")
        defer { noRange.stop() }
        #expect(try full.get() == expected)
        let requests = ignoring.client.traffic.requests
        #expect(try ignoring.open(largest.path).read(count: 100, at: 10) == expected)
        #expect(ignoring.client.traffic.requests == requests, "the whole object already came with the ranged read")
        let (cut, cutResult, shortRanges) = try rangedRead("truncate:" + largest.path)
        defer { shortRanges.stop() }
        #expect(throws: (any Error).self) { try cutResult.get() }
        #expect(cut.transferFailures.count == 1)
        #expect(cut.transferFailures.map { "\($0)" }.joined().contains("asked for"), "\(cut.transferFailures)")
    }

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
            #expect(storage.transferFailures.isEmpty, "\(storage.transferFailures)")
            let after = client.traffic
            return (after.requests - listed.requests, after.bytes - listed.bytes)
        }
        return (try run(.max), try run(0))
    }

    // MARK: Helpers

    /// Litestream 0.5.17 replicating a database with several write rounds into `s3://bucket/PREFIX`;
    /// returns the replica URL once Litestream has stopped with every round in the bucket.
    func makeV05Replica(_ moto: MotoServer, prefix: String) async throws -> (url: String, db: String, canary: String) {
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
        let client = S3Client(config: try S3Config.resolve(try S3Location(url: url), environment: moto.environment))
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

func sameBytes(_ a: String, _ b: String) throws -> Bool {
    try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b))
}

/// Runs a program to completion with its own environment; output is stdout+stderr.
func runWithEnvironment(_ executable: String, _ args: [String], environment: [String: String], timeout: TimeInterval = 120) throws -> (
    status: Int32, output: String
) {
    let outPath = try rigTempDir("s3-run") + "/output.txt"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    p.environment = environment
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = out
    p.standardError = out
    try p.run()
    RigState.register(pid: p.processIdentifier)
    defer { RigState.unregister(pid: p.processIdentifier) }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning { terminate(p, grace: 3) }
    p.waitUntilExit()
    try? out.close()
    return (p.terminationStatus, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "")
}

/// The test process's environment for children, with fixed fake credentials and without the
/// variables that would change how AWS tools behave (0.5.17 will not start with AWS_CA_BUNDLE).
func s3ChildEnvironment() -> [String: String] {
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") && !$0.key.lowercased().hasSuffix("_proxy") }
    env["AWS_ACCESS_KEY_ID"] = "testing"
    env["AWS_SECRET_ACCESS_KEY"] = "testing"
    env["AWS_REGION"] = "us-east-1"
    env["AWS_CONFIG_FILE"] = "/nonexistent"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    return env
}

/// A free TCP port on 127.0.0.1 (bound once, then released).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RigError(message: "socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw RigError(message: "bind failed") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Sends one plain (unsigned) request to a loopback server; moto accepts them.
func plainRequest(_ method: String, _ url: String) throws -> Int {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    let done = DispatchSemaphore(value: 0)
    let status = Locked(-1)
    URLSession.shared.dataTask(with: request) { _, response, _ in
        status.update { $0 = (response as? HTTPURLResponse)?.statusCode ?? -1 }
        done.signal()
    }.resume()
    done.wait()
    return status.update { $0 }
}

/// moto's S3 server on a free loopback port; stop it in a defer.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class MotoServer: @unchecked Sendable {
    let port: Int
    let process = Process()
    let logPath: String
    let childEnvironment = s3ChildEnvironment()
    /// For the library calls: the same credentials, no AWS files.
    var environment: [String: String] { childEnvironment }

    init() throws {
        port = try freeLoopbackPort()
        logPath = try rigTempDir("moto") + "/moto.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        var env = childEnvironment
        // .ci/setup puts moto in .tools/moto when the machine's Python has none.
        if let root = Litestream.packageRoot() {
            env["PYTHONPATH"] = ([root + "/.tools/moto"] + (env["PYTHONPATH"].map { [$0] } ?? [])).joined(separator: ":")
        }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "from moto.server import main; main()", "-H", "127.0.0.1", "-p", String(port)]
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        RigState.register(pid: process.processIdentifier)
        do {
            try waitUntil("moto's server on port \(port)", timeout: 60) {
                guard process.isRunning else { throw RigError(message: "moto exited") }
                return try plainRequest("GET", "http://127.0.0.1:\(port)/") == 200
            }
        } catch {
            stop()
            throw RigError(
                message: "cannot start moto's S3 server (run .ci/setup, which installs moto[server]): \(error)\n"
                    + ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""))
        }
    }

    func createBucket(_ name: String) throws {
        let status = try plainRequest("PUT", "http://127.0.0.1:\(port)/\(name)")
        guard status == 200 else { throw RigError(message: "creating bucket \(name): HTTP \(status)") }
    }

    func stop() {
        terminate(process, grace: 5)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}

/// `litestream replicate -config CONFIG` with its own environment; stop it in a defer.
// @unchecked: Process is not Sendable in every Foundation; `stopped` is behind a lock.
final class S3LitestreamProcess: @unchecked Sendable {
    let process = Process()
    private let stopped = Locked(false)

    init(_ v: LitestreamVersion, config: String, log: String, environment: [String: String]) throws {
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        h.seekToEndOfFile()
        process.executableURL = URL(fileURLWithPath: try Litestream.binary(v))
        process.arguments = ["replicate", "-no-expand-env", "-config", config]
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

/// A loopback HTTP proxy in front of moto that damages object reads (not listings):
/// `flaky`: each object's 1st GET answers 500, its 2nd drops the connection halfway through the
/// body, later ones pass; `truncate:PATH`: every GET of an object ending in PATH gets half the body
/// with a matching Content-Length. It logs one line per request.
// @unchecked: Process is not Sendable in every Foundation; everything else is `let`.
final class FaultProxy: @unchecked Sendable {
    let port: Int
    let process = Process()
    let logPath: String

    static let script = #"""
        import sys, http.server, socket, threading, urllib.request, urllib.error
        upstream, mode, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
        counts, lock = {}, threading.Lock()
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def note(self, what):
                print(what, self.path, flush=True)
            def do_GET(self):
                drop = ("host", "range") if mode == "norange" else ("host",)
                req = urllib.request.Request(upstream + self.path, headers={k: v for k, v in self.headers.items() if k.lower() not in drop})
                try:
                    with urllib.request.urlopen(req) as r:
                        status, headers, body = r.status, r.getheaders(), r.read()
                except urllib.error.HTTPError as e:
                    status, headers, body = e.code, list(e.headers.items()), e.read()
                obj = "list-type=" not in self.path
                with lock:
                    n = counts.get(self.path, 0); counts[self.path] = n + 1
                keep = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server")]
                if obj and mode == "flaky" and n == 0:
                    err = b"<?xml version='1.0'?><Error><Code>InternalError</Code><Message>injected</Message></Error>"
                    self.note("500"); self.send_response(500); self.send_header("Content-Length", str(len(err))); self.end_headers(); self.wfile.write(err); return
                if obj and mode == "flaky" and n == 1 and len(body) > 1:
                    self.note("drop"); self.send_response(status)
                    for k, v in keep: self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body))); self.end_headers()
                    self.wfile.write(body[: len(body) // 2]); self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR); self.close_connection = True; return
                if obj and mode.startswith("truncate:") and self.path.split("?")[0].endswith(mode[len("truncate:"):]):
                    body = body[: len(body) // 2]; self.note("truncate")
                else:
                    self.note("pass")
                self.send_response(status)
                for k, v in keep: self.send_header(k, v)
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        s = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        print("ready", flush=True)
        s.serve_forever()
        """#

    init(upstream: Int, mode: String) throws {
        port = try freeLoopbackPort()
        logPath = try rigTempDir("proxy") + "/proxy.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, "http://127.0.0.1:\(upstream)", mode, String(port)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        RigState.register(pid: process.processIdentifier)
        try waitUntil("the fault proxy", timeout: 30) { self.log.contains("ready") }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() {
        terminate(process, grace: 3)
        process.waitUntilExit()
        RigState.unregister(pid: process.processIdentifier)
    }
}
