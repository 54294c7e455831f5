// A hostile or broken object store never yields a wrong verdict, a leak of credentials, a hang or
// litter: the command line against a loopback S3 server (HostileS3) driven into each misbehaviour,
// every run checked for its exit code, its time bound, its private TMPDIR left empty and its
// output free of the secret key and the session token.

import Foundation
import LiteProof
import LiteProofObjectStore
import Testing

@testable import LiteProofS3
@testable import LiteProofStoreAnswers

@Suite(.serialized) struct HostileS3Tests {
    /// The newest snapshot (level 9): every command reads it, a restore reads nothing else.
    static let snapshot = "0009/0000000000000001-0000000000000007.ltx"

    /// Exit 2, within `bound` seconds, nothing left in TMPDIR, no credential in the output, no verdict.
    func expectTransferFailure(
        _ r: HostileRun, within bound: Double, mentioning words: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(r.status == 2, "exit \(r.status): \(r.output)", sourceLocation: sourceLocation)
        #expect(r.seconds < bound, "took \(r.seconds) s (bound \(bound) s): \(r.output)", sourceLocation: sourceLocation)
        expectClean(r, sourceLocation: sourceLocation)
        for word in words { #expect(r.output.contains(word), "no \(word) in: \(r.output)", sourceLocation: sourceLocation) }
        for verdict in ["OK:", "DAMAGED", "BROKEN", "is sound"] {
            #expect(!r.output.contains(verdict), "a verdict from a transfer failure: \(r.output)", sourceLocation: sourceLocation)
        }
    }

    func expectClean(_ r: HostileRun, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.litter.isEmpty, "left in TMPDIR: \(r.litter)", sourceLocation: sourceLocation)
        #expect(
            !r.output.contains(hostileSecret) && !r.output.contains(hostileToken), "a credential in the output", sourceLocation: sourceLocation)
    }

    @Test func aSoundServerGivesASoundReplica() throws {
        let server = try HostileS3([])
        defer { server.stop() }
        for command in [["verify"], ["inspect"], ["timeline"]] {
            let r = try runHostile(command + [server.url()], environment: patientPolicy)
            #expect(r.status == 0, "\(command): \(r.output)")
            expectClean(r)
        }
    }

    // 1: a listing cut off, inconsistent or endless is a transfer failure, never a smaller replica.
    @Test func brokenListingsAreTransferFailures() throws {
        for mode in ["cutlist", "endless", "unsorted", "notoken", "deepxml"] {
            let server = try HostileS3([mode])
            defer { server.stop() }
            let verify = try runHostile(["verify", server.url()])
            expectTransferFailure(verify, within: 10, mentioning: ["listing s3://bucket/db/"])
            let out = try rigTempDir("hostile-restore") + "/out.db"
            let restore = try runHostile(["restore", server.url(), "-o", out])
            expectTransferFailure(restore, within: 10, mentioning: ["listing"])
            #expect(!FS.exists(out), "\(mode): restore wrote \(out)")
        }
    }

    // 2: a redirect is refused, named, and nothing reaches the other origin.
    @Test func redirectsAreRefusedWithoutCredentialsLeaving() throws {
        for mode in ["redirect", "redirecthost", "redirectlist"] {
            let server = try HostileS3([mode])
            defer { server.stop() }
            let out = try rigTempDir("hostile-restore") + "/out.db"
            for args in [["verify", server.url()], ["restore", server.url(), "-o", out], ["fetch", server.url(), out + ".d"]] {
                let r = try runHostile(args)
                expectTransferFailure(r, within: 10, mentioning: ["redirect"])
                #expect(!r.output.contains("NSURLErrorDomain"), "\(r.output)")
            }
            #expect(server.offOrigin.requests == 0, "\(mode): \(server.log)")
            #expect(!FS.exists(out))
        }
    }

    // 3: every command answers a failed read the same way.
    @Test func everyCommandAnswersAFailedReadWithExit2() throws {
        for (mode, words) in [("nosuchkey:", "NoSuchKey"), ("denied:", "AccessDenied")] {
            let server = try HostileS3([mode + Self.snapshot])
            defer { server.stop() }
            let dir = try rigTempDir("hostile-read")
            for args in [
                ["verify", server.url()], ["inspect", server.url()], ["timeline", server.url()], ["restore", server.url(), "-o", dir + "/out.db"],
                ["fetch", server.url(), dir + "/fetched"],
            ] {
                let r = try runHostile(args)
                expectTransferFailure(r, within: 10, mentioning: [words, Self.snapshot])
            }
        }
    }

    // 4: slow, stalled and dead servers end every command within its bound.
    @Test func slowStalledAndDeadServersEndInTime() throws {
        for mode in ["trickle", "stall"] {
            let server = try HostileS3([mode])
            defer { server.stop() }
            let out = try rigTempDir("hostile-restore") + "/out.db"
            expectTransferFailure(try runHostile(["verify", server.url()]), within: 15, mentioning: ["bytes/s"])
            expectTransferFailure(try runHostile(["restore", server.url(), "-o", out]), within: 15)
        }
        // A dead endpoint under `verify --all`: given up after a few failed transfers, every
        // database then named unreadable at once.
        let databases = (1...40).map { "fleet/db\($0)" }
        let dead = try HostileS3(["dead"], prefixes: databases)
        defer { dead.stop() }
        let r = try runHostile(["verify", "--all", dead.url("fleet")])
        expectTransferFailure(r, within: 20, mentioning: ["stopped answering"])
        #expect(r.output.contains("40 unreadable"), "\(r.output)")
        #expect(dead.objectGets.count < 40, "\(dead.objectGets.count) GETs after the endpoint stopped answering")
    }

    // 5: listings are bounded (keys, pages) and cheap per key.
    @Test func listingsAreBoundedAndCheap() throws {
        func page(_ keys: Range<Int>, token: String?) -> Data {
            var xml = "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>\(token != nil)</IsTruncated>"
            if let token { xml += "<NextContinuationToken>\(token)</NextContinuationToken>" }
            for i in keys {
                xml += "<Contents><Key>db/0000/\(String(format: "%016x", i))-x.ltx</Key>"
                xml += "<LastModified>2026-01-01T00:00:00.123Z</LastModified><ETag>\"e\"</ETag><Size>100</Size></Contents>"
            }
            return Data((xml + "</ListBucketResult>").utf8)
        }
        // 1,000,000 keys (1,000 pages of 1,000), keeping one in a thousand; a debug build reads
        // 200,000 (its byte loops are several times slower; the release figure is in the notes).
        #if DEBUG
            let pageCount = 200
        #else
            let pageCount = 1000
        #endif
        let pages = (0..<pageCount).map { p in page(p * 1000..<(p + 1) * 1000, token: p < pageCount - 1 ? "t\(p)" : nil) }
        var reader = ListingReader(context: "s3://bucket/db/", maxKeys: 2_000_000) { $0.key.hasSuffix("0-x.ltx") && $0.key.contains("00000") }
        let clock = ContinuousClock()
        let took = try clock.measure {
            for data in pages { _ = try reader.accept(try ListBucketResult.parse(data, context: "s3://bucket/db/")) }
        }
        #expect(reader.seen == pageCount * 1000)
        #expect(reader.objects.count < pageCount * 100)
        print("listing of \(pageCount * 1000) keys: \(took)")
        #expect(took < .seconds(60), "\(took)")
        #expect(ListBucketResult.parseTime("2026-01-01T00:00:00.123Z") == 1_767_225_600.123)
        #expect(Array("2026-02-30T00:00:00Z".utf8).withUnsafeBufferPointer { ListBucketResult.parseUTCTime($0) } == nil)
        #expect(ListBucketResult.parseTime("2026-01-01T01:00:00+01:00") == 1_767_225_600)

        // More keys than allowed; the same token again; a key out of order.
        var small = ListingReader(context: "x", maxKeys: 1500)
        #expect(throws: LiteProofError.self) {
            for data in pages.prefix(2) { _ = try small.accept(try ListBucketResult.parse(data, context: "x")) }
        }
        var repeated = ListingReader(context: "x", maxKeys: 10_000_000)
        _ = try repeated.accept(try ListBucketResult.parse(page(0..<1, token: "same"), context: "x"))
        #expect(throws: LiteProofError.self) { _ = try repeated.accept(try ListBucketResult.parse(page(1..<2, token: "same"), context: "x")) }
        var backwards = ListingReader(context: "x", maxKeys: 10_000_000)
        _ = try backwards.accept(try ListBucketResult.parse(page(5..<6, token: "a"), context: "x"))
        #expect(throws: LiteProofError.self) { _ = try backwards.accept(try ListBucketResult.parse(page(4..<5, token: nil), context: "x")) }
    }

    // 6: a body longer than the listing says is not read past the listed size.
    @Test func aBodyLongerThanListedIsRefused() throws {
        let server = try HostileS3(["long:" + Self.snapshot])
        defer { server.stop() }
        let out = try rigTempDir("hostile-restore") + "/out.db"
        let r = try runHostile(["restore", server.url(), "-o", out])
        expectTransferFailure(r, within: 10, mentioning: [Self.snapshot, "Content-Length"])
        #expect(server.objectGets.count == 1, "refused, not retried: \(server.objectGets)")
        #expect(server.bytesSent < 32 << 20, "the server sent \(server.bytesSent) bytes")
        #expect(r.peakKiB < 400 << 10, "peak memory \(r.peakKiB) KiB")
    }

    // 7: no litter however a run ends; partial downloads are private.
    @Test func noLitterOnAnyExit() throws {
        let server = try HostileS3(["slow:" + Self.snapshot])
        defer { server.stop() }
        // The snapshot (6.5 KB) is downloaded into a file, not memory, so there is a partial
        // download to see.
        let slow = patientPolicy.merging(["LITEPROOF_STORE_MEMORY_OBJECTS": "0"]) { $1 }
        let modes = Locked<[String: mode_t]>([:])
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            let out = try rigTempDir("hostile-restore") + "/out.db"
            // The signal comes once a partial download is there to leave behind.
            let partial = Locked(false)
            let r = try runHostile(["restore", server.url(), "-o", out], environment: slow, signal: (sig, when: { _ in partial.update { $0 } })) { tmp in
                for (path, mode) in Self.scratchFiles(tmp) {
                    modes.update { $0[path] = mode }
                    partial.update { $0 = true }
                }
            }
            #expect(r.signal == sig || r.status == 128 + sig, "\(r.status) \(r.output)")
            expectClean(r)
            #expect(!FS.exists(out))
        }
        let seen = modes.update { $0 }
        #expect(!seen.isEmpty, "no partial download was seen")
        #expect(seen.values.allSatisfy { $0 & 0o077 == 0 }, "partial downloads readable by others: \(seen)")

        // SIGKILL leaves the scratch folder; the next run removes what the dead run left.
        let tmp = try rigTempDir("hostile-tmp")
        let killed = try runHostile(
            ["restore", server.url(), "-o", tmp + "/../out.db"], environment: slow, tmpdir: tmp, signal: (SIGKILL, when: { !Self.scratchFiles($0).isEmpty }))
        #expect(killed.signal == SIGKILL, "\(killed.output)")
        #expect(!killed.litter.isEmpty)
        let sound = try HostileS3([])
        defer { sound.stop() }
        let next = try runHostile(["inspect", sound.url()], environment: patientPolicy, tmpdir: tmp)
        #expect(next.status == 0, "\(next.output)")
        expectClean(next)
    }

    // 8: fetch records finished files as they finish; after SIGKILL the next run skips them.
    @Test func fetchResumesAfterSIGKILL() throws {
        let dir = try rigTempDir("hostile-fetch") + "/copy"
        do {
            let server = try HostileS3(["slow:" + Self.snapshot])
            defer { server.stop() }
            let r = try runHostile(
                ["fetch", "--concurrency", "2", server.url(), dir], environment: patientPolicy,
                signal: (SIGKILL, when: { _ in Self.finishedFiles(dir) >= 14 && FS.exists(dir + "/" + Replica.fetchManifestName) }))
            #expect(r.signal == SIGKILL, "\(r.output)")
            let manifest = try #require(S3Fetch.readManifest(dir), "no manifest after the kill")
            // Written as files finish (at most one write per twenty times its cost, so the last
            // few may be missing: the next run finds those by their size and file time).
            #expect((1...14).contains(manifest.files.count), "\(manifest.files.map(\.path))")
        }
        let server = try HostileS3([])
        defer { server.stop() }
        let r = try runHostile(["fetch", "--json", server.url(), dir], environment: patientPolicy)
        #expect(r.status == 0, "\(r.output)")
        #expect(server.objectGets.count == 1 && server.objectGets.first?.hasSuffix(Self.snapshot) == true, "\(server.objectGets)")
        #expect(r.output.contains("\"skipped\" : 14"), "\(r.output)")
        #expect(!FS.walk(dir).contains { $0.hasSuffix(".liteproof-partial") })
        #expect(try runLiteProof(["verify", dir]).status == 0)
    }

    /// The regular files a run keeps in its scratch folder `tmp` (its owner mark aside), with
    /// their permission bits.
    static func scratchFiles(_ tmp: String) -> [(String, mode_t)] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: tmp)) ?? []).compactMap { path in
            var st = stat()
            guard !path.hasSuffix(ScratchSpace.ownerName), lstat(tmp + "/" + path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
            return (path, st.st_mode & 0o777)
        }
    }

    /// The files `fetch` has finished in `dir` (not partial, not its manifest or the manifest's
    /// temporary file): 14 once every object but the slow snapshot is there.
    static func finishedFiles(_ dir: String) -> Int {
        FS.walk(dir).filter { !$0.hasSuffix(".liteproof-partial") && !$0.contains(Replica.fetchManifestName) }.count
    }

    // 9: the list request's path, a key with a control character, keys with `./` segments.
    @Test func smallerThings() throws {
        let strict = try HostileS3(["strictpath"])
        defer { strict.stop() }
        let plain = try runHostile(["verify", strict.url()], environment: patientPolicy)
        #expect(plain.status == 0, "\(plain.output)")

        let control = try HostileS3(["ctrlkey"])
        defer { control.stop() }
        let stray = try runHostile(["verify", control.url()], environment: patientPolicy)
        #expect(stray.status == 0 && stray.output.contains("stray"), "\(stray.output)")

        // Litestream cleans `./` out of a replica URL's path, and so does LiteProof (a replica
        // Litestream wrote has no such key); keys that do have a `./` segment are still read
        // as they are named, through the library.
        let dots = try HostileS3([], prefixes: ["a/./db"])
        defer { dots.stop() }
        let dotted = try runHostile(["verify", dots.url()], environment: patientPolicy)
        #expect(dotted.status == 2 && dotted.output.contains("s3://bucket/a/db holds no Litestream replica"), "\(dotted.output)")
        expectClean(dotted)
        let literal = try S3Config.resolve(
            S3Location(bucket: "bucket", prefix: "a/./db", endpoint: "http://127.0.0.1:\(dots.port)", region: "us-east-1", forcePathStyle: true),
            environment: s3ChildEnvironment())
        let dotReplica = try Replica.open(storage: try S3Storage(client: S3Client(config: literal)))
        #expect(Verifier(replica: dotReplica).run().verdict == .ok)

        let config = S3Config(
            location: S3Location(bucket: "bucket", prefix: "db"), endpoint: URL(string: "http://127.0.0.1:9000")!, pathStyle: true,
            region: "us-east-1", credentials: nil)
        let client = S3Client(config: config)
        #expect(client.target(key: nil, query: [("list-type", "2")]).url.absoluteString == "http://127.0.0.1:9000/bucket?list-type=2")
        #expect(client.target(key: "a/./b/../c", query: []).url.absoluteString == "http://127.0.0.1:9000/bucket/a/%2E/b/%2E%2E/c")
    }
}
