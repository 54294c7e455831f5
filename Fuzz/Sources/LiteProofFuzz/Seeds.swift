import CLZ4
import Foundation

@testable import LiteProof

/// Writes the starting corpus of every target from real Litestream files: the committed example
/// replicas (Tests/Fixtures/example-0.3, example-0.5, made by Litestream 0.3.13 and 0.5.17), their
/// databases, and the captured Litestream logs. Run by Fuzz/run.sh (LITEPROOF_FUZZ_MAKE_SEEDS).
/// The tar seeds are made by run.sh with the system's `tar`.
enum Seeds {
    static func make(into corpusRoot: String) {
        do {
            try makeAll(corpusRoot)
        } catch {
            FileHandle.standardError.write(Data("cannot make the seeds: \(error)\n".utf8))
            exit(1)
        }
    }

    private static func makeAll(_ corpusRoot: String) throws {
        func put(_ target: String, _ name: String, _ bytes: [UInt8]) throws {
            let dir = corpusRoot + "/" + target
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/seed-" + name.replacingOccurrences(of: "/", with: "_")))
        }
        func contents(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

        for (tag, root) in [("v03", Fixtures.replica03), ("v05", Fixtures.replica05)] {
            let replica = try Replica.open(root)
            let names = replica.storage.files().map(\.path).sorted()
            try put("layout", tag, Array(names.joined(separator: "\n").utf8))
            for name in names {
                let bytes = try contents(root + "/" + name)
                if name.hasSuffix(".ltx") { try put("ltx", name, bytes) }
                if name.hasSuffix(".lz4") {
                    try put("lz4", name, bytes)
                    try put("lz4-blocks", name, bytes)
                }
            }
            // 0.3: each index's segments decompressed and concatenated = the WAL; snapshots decompressed = database images.
            for generation in replica.v03?.generations ?? [] {
                for index in generation.indexes {
                    var wal: [UInt8] = []
                    for segment in generation.segments(of: index) {
                        try LZ4Frame.decompress(try replica.open(segment.path), name: segment.path) { wal += $0 }
                    }
                    try put("wal", "\(generation.id)-\(index)", wal)
                    // The same WAL framed in 64 KiB blocks: many blocks in one file.
                    try put("lz4-blocks", "\(generation.id)-\(index)-64k", wal.withUnsafeBytes { lz4Frame($0, blockSize: LZ4F_max64KB) })
                    try put("wal-segment", "\(generation.id)-\(index)", wal)
                }
                for snapshot in generation.snapshots {
                    var image: [UInt8] = []
                    try LZ4Frame.decompress(try replica.open(snapshot.path), name: snapshot.path) { image += $0 }
                    try put("snapshot", snapshot.path, image)
                    try put("db-header", snapshot.path, image)
                }
            }
        }
        for (tag, live) in [("v03", Fixtures.live03), ("v05", Fixtures.live05)] {
            try put("db-header", "live-\(tag).db", try contents(live))
            try put("snapshot", "live-\(tag).db", try contents(live))
            let digest = Scratch.root + "/seed.digest"
            try? FileManager.default.removeItem(atPath: digest)
            let computed = try LiveDatabase.read(live) { try Comparer.liveDigest($0, name: live) }
            try computed.write(to: digest)
            try put("digest", tag, try contents(digest))
        }

        // An evidence bundle of the example 0.3 replica (with its live database): its manifest.
        let bundle = Scratch.root + "/seed-bundle.tar.zst"
        _ = try Evidence.create(
            replica: try Replica.open(Fixtures.replica03), live: Fixtures.live03, output: bundle, tool: "liteproof-fuzz")
        let storage = try ArchiveStorage.open(bundle)
        let manifest = try storage.open(Evidence.manifestName)
        try put("manifest", "v03", try manifest.read(count: Int(manifest.size), at: 0))
        try put("tar-zst", "evidence-bundle", try contents(bundle))

        // A fetch manifest naming the files the fetch-manifest target lists.
        let fetched = FetchManifest(
            source: "s3://bucket/db", fetched: "2026-01-01T00:00:00Z",
            files: fetchManifestNames.enumerated().map { i, path in
                FetchManifest.Entry(
                    path: path, key: "db/" + path, size: 100, etag: "\"e\(i)\"", lastModified: "2026-01-01T00:00:0\(i)Z",
                    modified: 1_767_225_600 + Double(i))
            })
        try put("fetch-manifest", "v03", Array(try JSONEncoder().encode(fetched)))

        // What an object store answers: ListObjectsV2 pages (the example 0.5 replica's keys, one
        // page whole, one truncated with a token, url-encoded) and error bodies.
        let keys = try Replica.open(Fixtures.replica05).storage.files().map(\.path).sorted()
        func listing(_ keys: [String], token: String?, encoded: Bool) -> [UInt8] {
            var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            xml += "<Name>bucket</Name><Prefix>db/</Prefix><IsTruncated>\(token != nil)</IsTruncated>"
            if encoded { xml += "<EncodingType>url</EncodingType>" }
            if let token { xml += "<NextContinuationToken>\(token)</NextContinuationToken>" }
            for (i, key) in keys.enumerated() {
                xml += "<Contents><Key>db/\(key)</Key><LastModified>2026-01-01T00:00:\(String(format: "%02d", i)).000Z</LastModified>"
                xml += "<ETag>&quot;e\(i)&quot;</ETag><Size>\(100 + i)</Size><StorageClass>STANDARD</StorageClass></Contents>"
            }
            return Array((xml + "</ListBucketResult>").utf8)
        }
        try put("s3-listing", "whole", listing(keys, token: nil, encoded: false))
        try put("s3-listing", "truncated", listing(Array(keys.prefix(5)), token: "1/abc+def==", encoded: true))
        let items = keys.enumerated().map { i, key in
            "{\"name\":\"db/\(key)\",\"size\":\"\(100 + i)\",\"updated\":\"2026-01-01T00:00:\(String(format: "%02d", i)).000Z\",\"generation\":\"\(i + 1)\"}"
        }
        try put("gcs-listing", "whole", Array("{\"kind\":\"storage#objects\",\"items\":[\(items.joined(separator: ","))]}".utf8))
        try put("gcs-listing", "truncated", Array("{\"items\":[\(items.prefix(5).joined(separator: ","))],\"nextPageToken\":\"CgZkYi8wMDU=\"}".utf8))
        for (code, message) in [("NoSuchKey", "The specified key does not exist."), ("AccessDenied", "Access Denied"), ("SlowDown", "Reduce")] {
            try put(
                "s3-error", code,
                Array(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(code)</Code><Message>\(message)</Message><RequestId>1</RequestId></Error>".utf8)
            )
        }

        let logs = repositoryRoot + "/Tests/Fixtures/logs"
        for name in try FileManager.default.contentsOfDirectory(atPath: logs).sorted() where name.hasSuffix(".log") {
            try put("logs", name, try contents(logs + "/" + name))
        }
    }
}
