import Foundation
import LiteProof
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `verify --all s3://…`: a fleet straight from a bucket (moto's S3 API on loopback), holding the
/// committed example replicas (real Litestream 0.3.13 and 0.5.17) under several prefixes, one of
/// them damaged.
@Suite(.serialized) struct FleetS3Tests {
    /// Uploads every file below `dir` under `prefix` (moto accepts unsigned requests).
    func upload(_ dir: String, to prefix: String, bucket: String, port: Int, damage: (String, inout [UInt8]) -> Void = { _, _ in }) throws {
        for rel in FS.walk(dir) {
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

    @Test func fleetStraightFromABucket() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createBucket("fleet")
        try upload(Fixtures.example("0.3").replica, to: "tenants/a", bucket: "fleet", port: moto.port)
        try upload(Fixtures.example("0.5").replica, to: "tenants/deep/b", bucket: "fleet", port: moto.port)
        // A flipped byte in the middle of one LTX file of a third copy.
        try upload(Fixtures.example("0.5").replica, to: "tenants/c", bucket: "fleet", port: moto.port) { rel, body in
            if rel == "ltx/0/0000000000000007-0000000000000007.ltx" { body[body.count / 2] ^= 0xff }
        }
        let url = "s3://fleet/tenants?endpoint=http://127.0.0.1:\(moto.port)&region=us-east-1&forcePathStyle=true"
        let r = try runWithEnvironment(liteproofBinary(), ["verify", "--all", url, "--json"], environment: moto.childEnvironment)
        #expect(r.status == 1, "\(r.output)")
        let objects = r.output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let verdicts = Dictionary(
            objects.compactMap { o in (o["database"] as? String).map { ($0, o["verdict"] as? String ?? "") } }, uniquingKeysWith: { a, _ in a })
        #expect(verdicts == ["a": "ok", "deep/b": "ok", "c": "damaged"], "\(r.output)")
    }
}
