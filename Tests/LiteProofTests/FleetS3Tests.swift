import Foundation
import LiteProof
import LiteProofS3
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `verify --all s3://…`: a fleet straight from a bucket (moto's S3 API on loopback), holding the
/// committed example replicas (real Litestream 0.3.13 and 0.5.17) under several prefixes, two of
/// them damaged.
@Suite(.serialized) struct FleetS3Tests {
    /// Uploads every file below `dir` under `prefix` (moto accepts unsigned requests); `keep`
    /// leaves files out, `damage` changes a body before it goes up.
    func upload(
        _ dir: String, to prefix: String, bucket: String, port: Int, keep: (String) -> Bool = { _ in true },
        damage: (String, inout [UInt8]) -> Void = { _, _ in }
    ) throws {
        for rel in FS.walk(dir) where keep(rel) {
            var body = try bytes(of: dir + "/" + rel)
            damage(rel, &body)
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/\(bucket)/\(prefix)/\(rel)")!)
            request.httpMethod = "PUT"
            let done = DispatchSemaphore(value: 0)
            let status = Locked(-1)
            URLSession.shared.uploadTask(with: request, from: Data(body)) { _, response, _ in
                status.update { $0 = (response as? HTTPURLResponse)?.statusCode ?? -1 }
                done.signal()
            }.resume()
            _ = done.wait(timeout: .now() + 30)
            let code = status.update { $0 }
            guard code == 200 else { throw RigError(message: "PUT \(prefix)/\(rel): HTTP \(code)") }
        }
    }

    /// Several replicas checked at once from one S3 client: the verdicts, the exit code, and a
    /// process that ends cleanly every time (the fleet's threads used to outlive the check and
    /// race the process's exit: one run in ten aborted with a corrupted heap).
    @Test func fleetStraightFromABucket() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createBucket("fleet")
        let v03 = Fixtures.example("0.3").replica
        let v05 = Fixtures.example("0.5").replica
        try upload(v03, to: "tenants/a", bucket: "fleet", port: moto.port)
        try upload(v03, to: "tenants/old/a2", bucket: "fleet", port: moto.port)
        try upload(v05, to: "tenants/deep/b", bucket: "fleet", port: moto.port)
        try upload(v05, to: "tenants/b2", bucket: "fleet", port: moto.port)
        // A flipped byte in the middle of one LTX file of a 0.5 copy.
        try upload(
            v05, to: "tenants/c", bucket: "fleet", port: moto.port,
            damage: { rel, body in
                if rel == "ltx/0/0000000000000007-0000000000000007.ltx" { body[body.count / 2] ^= 0xff }
            })
        // A 0.3 copy without a WAL segment the latest restore needs.
        try upload(v03, to: "tenants/d", bucket: "fleet", port: moto.port, keep: { $0 != Fixtures.v03Segment("0000c140") })
        let url = "s3://fleet/tenants?endpoint=http://127.0.0.1:\(moto.port)&region=us-east-1&forcePathStyle=true"
        let expected = ["a": "ok", "old/a2": "ok", "deep/b": "ok", "b2": "ok", "c": "damaged", "d": "damaged"]
        for _ in 0..<3 {
            let r = try runWithEnvironment(liteproofBinary(), ["verify", "--all", url, "--json", "--jobs", "4"], environment: moto.childEnvironment)
            #expect(r.status == 1, "\(r.output)")
            let objects = r.output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let verdicts = Dictionary(
                objects.compactMap { o in (o["database"] as? String).map { ($0, o["verdict"] as? String ?? "") } }, uniquingKeysWith: { a, _ in a })
            #expect(verdicts == expected, "\(r.output)")
            let formats = Dictionary(
                objects.compactMap { o in (o["database"] as? String).map { ($0, o["format"] as? String ?? "") } }, uniquingKeysWith: { a, _ in a })
            #expect(formats["old/a2"] == "litestream-0.3" && formats["deep/b"] == "litestream-0.5", "\(r.output)")
            let summary = objects.first { $0["type"] as? String == "summary" }
            #expect(summary != nil, "\(r.output)")
        }
        // Each replica's local copies are dropped once it is checked: the scratch folder follows
        // the replicas in flight, not the fleet (here, empty at the end, with the storage alive).
        let storage = try S3Storage(url: url, environment: moto.childEnvironment)
        var seen: [String: String] = [:]
        let summary = try FleetVerifier(root: url, storage: storage).run { seen[$0.database] = $0.verdict.rawValue }
        #expect(seen == expected && summary.databases == expected.count)
        let left = FS.walk(storage.scratch).filter { $0 != ScratchSpace.ownerName }  // the folder's owner lock stays with it
        #expect(left.isEmpty, "left in scratch: \(left)")
        // A prefix holding no replica: exit 2, in words.
        let empty = try runWithEnvironment(
            liteproofBinary(), ["verify", "--all", url.replacingOccurrences(of: "/tenants?", with: "/nothing?")], environment: moto.childEnvironment)
        #expect(empty.status == 2 && empty.output.contains("holds no Litestream replica"), "\(empty.output)")
    }

    /// One listing serves the whole fleet: `verify --all` over 20 replicas (trial restores
    /// included) sends the listing's pages and one GET per object, nothing else. A listing per
    /// replica (20 more requests), or an object read twice, fails it.
    @Test func oneListingPassPlusTheObjects() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createBucket("many")
        var objects = 0
        for i in 0..<20 {
            let source = Fixtures.example(i % 2 == 0 ? "0.3" : "0.5").replica
            try upload(source, to: "tenants/\(i % 10)/tenant-\(i)", bucket: "many", port: moto.port)
            objects += FS.walk(source).count
        }
        let url = "s3://many/tenants?endpoint=http://127.0.0.1:\(moto.port)&region=us-east-1&forcePathStyle=true"
        // The CLI's summary counts them: one page lists every key (fewer than 1,000).
        let r = try runWithEnvironment(liteproofBinary(), ["verify", "--all", url, "--json", "--jobs", "4"], environment: moto.childEnvironment)
        #expect(r.status == 0, "\(r.output)")
        let lines = r.output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let summary = try #require(lines.first { $0["type"] as? String == "summary" }, "\(r.output)")
        #expect(summary["databases"] as? Int == 20 && summary["ok"] as? Int == 20, "\(summary)")
        #expect(summary["listingRequests"] as? Int == 1, "\(summary)")
        #expect(summary["storageRequests"] as? Int == 1 + objects, "\(objects) objects: \(summary)")
        // In process, each request by key: the listing once (no key), every object once.
        let config = try S3Config.resolve(try S3Location(url: url), environment: moto.childEnvironment)
        let client = S3Client(config: config)
        let sent = Locked<[String: Int]>([:])
        client.onRequest = { method, key in sent.update { $0[method + " " + key, default: 0] += 1 } }
        let storage = try S3Storage(client: client)
        // Many replicas at once, so the shared prefetch queue lags behind the readers (an
        // evicted object fetched again by a late prefetch was a second GET here).
        var fleet = FleetVerifier(root: url, storage: storage)
        fleet.jobs = 12
        let result = try fleet.run { _ in }
        let counts = sent.update { $0 }
        #expect(result.ok == 20 && counts["GET "] == 1, "\(counts.filter { $0.key.hasSuffix(" ") })")
        #expect(counts.count == 1 + objects && counts.values.allSatisfy { $0 == 1 }, "\(counts.filter { $0.value != 1 })")
        let left = FS.walk(storage.scratch).filter { $0 != ScratchSpace.ownerName }
        #expect(left.isEmpty, "left in scratch: \(left)")
    }
}
