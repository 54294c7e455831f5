// S3LiveTests, faults: a fault-injecting proxy in front of moto (500s, dropped connections,
// truncated bodies) must lead to retries or a clear error, never to a wrong verdict.

import Foundation
import LiteProof
import LiteProofS3
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension S3LiveTests {
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
        #expect(storage.failures.isEmpty)
        let restoredFlaky = try Replica.open(storage: try S3Storage(client: fastRetries(viaFlaky, moto)))
        try Restorer(replica: restoredFlaky).restore(to: dir + "/flaky.db")
        #expect(try sameBytes(dir + "/direct.db", dir + "/flaky.db"))
        #expect(flaky.log.contains("500 ") && flaky.log.contains("drop "), "\(flaky.log)")

        // Downloads in parts (every object over 4 KiB, in 4 KiB parts written straight into the
        // local copy), through the same faults and through a server that ignores Range: the same
        // database. A part's 500 and dropped body are retried part by part; a whole object sent
        // for a range is not taken, and the object is asked for once more, whole.
        func inParts(_ via: String) throws -> S3Storage {
            let s = try S3Storage(client: fastRetries(via, moto), concurrency: 4)
            s.partsAbove = 4096
            s.partSize = 4096
            s.memoryObjectsUpTo = 0
            return s
        }
        let partsPlan = try RestorePlanner(replica: direct).plan()
        let inPartsCount = partsPlan.files.filter { f in (direct.storage.files().first { $0.path == f }?.size ?? 0) > 4096 }.count
        try #require(inPartsCount > 0, "the replica has no object large enough to come in parts")
        let partsFlaky = try inParts(viaFlaky)
        try Restorer(replica: try Replica.open(storage: partsFlaky)).restore(to: dir + "/parts-flaky.db")
        #expect(try sameBytes(dir + "/direct.db", dir + "/parts-flaky.db"))
        #expect(partsFlaky.failures.isEmpty)
        let ignoresRanges = try FaultProxy(upstream: moto.port, mode: "norange")
        defer { ignoresRanges.stop() }
        let partsWhole = try inParts(url.replacingOccurrences(of: ":\(moto.port)", with: ":\(ignoresRanges.port)"))
        try Restorer(replica: try Replica.open(storage: partsWhole)).restore(to: dir + "/parts-whole.db")
        #expect(try sameBytes(dir + "/direct.db", dir + "/parts-whole.db"))
        #expect(partsWhole.failures.isEmpty)

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
        #expect(cut.failures.count == 1)
        #expect(cut.failures.map { "\($0)" }.joined().contains("asked for"), "\(cut.failures)")
    }
}
