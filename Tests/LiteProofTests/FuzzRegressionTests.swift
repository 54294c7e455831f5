import Foundation
import LiteProof
import Testing

@testable import LiteProofStoreAnswers

/// Inputs that trapped in the entry points the libFuzzer targets feed (Fuzz/run.sh), found while
/// writing those targets and checked here through the same entry points: each must end in a
/// result or a clean error, never a trap.
@Suite struct FuzzRegressionTests {
    /// A replica that exists only as names, as the `layout` fuzz target feeds them.
    struct ListedStorage: ReplicaStorage {
        let names: [String]
        var location: String { "listed" }
        func files() -> [StoredFile] { names.map { StoredFile(path: $0, size: 1000, modified: 1_700_000_000) } }
        func open(_ path: String) throws -> ReadOnlyFile { throw LiteProofError.storage(.missing, "\(path): listed only") }
    }

    /// `layout`: an LTX range ending at TXID 2^64−1 made the 0.5 planner compute `have + 1` past
    /// the last TXID (a trap; with unchecked arithmetic, a false `chain.gap`). Litestream 0.5.17
    /// restores such a replica; the plan is the one file.
    @Test func ltxRangeEndingAtTheLastTXID() throws {
        for names in [
            ["ltx/0/0000000000000001-ffffffffffffffff.ltx"],
            ["0009/0000000000000001-0000000000000005.ltx", "0000/0000000000000006-ffffffffffffffff.ltx"],
        ] {
            let replica = try Replica.open(storage: ListedStorage(names: names))
            let plan = try RestorePlanner(replica: replica).plan()
            #expect(plan.files.count == names.count, "\(names): \(plan.files)")
        }
    }

    /// `manifest`: an evidence bundle whose manifest lists one path twice made `Evidence.check`
    /// trap ("Duplicate values for key"). It is now a clean error naming the path.
    @Test func manifestListingAPathTwice() throws {
        let example = Fixtures.example("0.3")
        let dir = NSTemporaryDirectory() + "liteproof-fuzz-regression-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A real bundle's manifest, with its first file listed twice.
        let real = dir + "/real.tar.zst"
        _ = try Evidence.create(replica: try Replica.open(example.replica), live: nil, output: real, tool: "test")
        let member = try ArchiveStorage.open(real).open(Evidence.manifestName)
        var manifest = try JSONDecoder().decode(Evidence.Manifest.self, from: Data(try member.read(count: Int(member.size), at: 0)))
        manifest.files.append(manifest.files[0])
        try FileManager.default.createDirectory(atPath: dir + "/forged", withIntermediateDirectories: true)
        try JSONEncoder().encode(manifest).write(to: URL(fileURLWithPath: dir + "/forged/" + Evidence.manifestName))
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "--zstd", "-cf", dir + "/forged.tar.zst", "-C", dir + "/forged", Evidence.manifestName]
        try tar.run()
        tar.waitUntilExit()
        #expect(tar.terminationStatus == 0)
        let error = #expect(throws: LiteProofError.self) {
            _ = try Evidence.check(bundle: dir + "/forged.tar.zst", replica: example.replica)
        }
        #expect(error?.message.contains("\(manifest.files[0].path) twice") == true, "\(String(describing: error))")
    }

    /// `digest`: a digest whose WAL history names page 0, or lists more pages than hashes, made the
    /// live-history match index out of bounds (page 0 is index −1) or unwrap a missing version.
    @Test func digestHistoryNamingPageZero() throws {
        for commits in [
            #"[{"pageCount": 1, "walOffset": 4152, "pages": [0], "hashes": [5]}]"#,
            #"[{"pageCount": 1, "walOffset": 4152, "pages": [1, 2], "hashes": [5]}]"#,
        ] {
            let text = #"{"filePageCount": 1, "baseHashes": [], "commits": \#(commits)}"#
            let history = try JSONDecoder().decode(LiveHistory.self, from: Data(text.utf8))
            #expect(history.matchingState(latest: [1], replica: [2]) == nil)
            #expect(history.matchingState(latest: [1], replica: [1]) == 1)
        }
    }

    /// `s3-error` and `s3-listing`: an answer whose element name is not UTF-8 (`<\xff\xff\xff\xffestId>`,
    /// or a lone 0xE9) trapped inside Foundation's XMLParser. Such an answer is now no error body
    /// (nil) and a listing that is a transfer failure, never a trap.
    @Test func s3AnswersThatAreNotUTF8() throws {
        let dir = Fixtures.packageRoot + "/Tests/Fixtures/fuzz-regressions"
        let error = try Data(contentsOf: URL(fileURLWithPath: dir + "/s3-error-not-utf8-name.xml"))
        #expect(S3ErrorBody.parse(error) == nil)
        let listing = try Data(contentsOf: URL(fileURLWithPath: dir + "/s3-listing-crash.xml"))
        #expect(throws: LiteProofError.self) { try ListBucketResult.parse(listing, context: "s3://bucket/db/") }
        #expect(S3ErrorBody.parse(listing) == nil)
        // A processing instruction without data (`<?e0ncoding?>`): Foundation's XMLParser passed
        // a null pointer to strlen. The answers are now read by our own scanner, which refuses it.
        for name in ["s3-listing-pi-without-data.xml", "s3-error-pi-without-data.xml"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            #expect(S3ErrorBody.parse(data) == nil)
            #expect(throws: LiteProofError.self) { try ListBucketResult.parse(data, context: "s3://bucket/db/") }
        }
        // A LastModified whose fraction runs to a hundred digits: Foundation's ISO 8601 formatter
        // divided by zero in ICU. Times are now read by our own parser only, which refuses it.
        let longFraction = try Data(contentsOf: URL(fileURLWithPath: dir + "/s3-listing-long-fraction.xml"))
        #expect(throws: LiteProofError.self) { try ListBucketResult.parse(longFraction, context: "s3://bucket/db/") }
        #expect(ListBucketResult.parseTime("2026-01-01T00:00:14." + String(repeating: "5", count: 100) + "Z") == nil)
        #expect(ListBucketResult.parseTime("2026-01-01T01:00:00.5+01:00") == 1_767_225_600.5)
        #expect(ListBucketResult.parseTime("2025-12-31T23:00:00-01:00") == 1_767_225_600)
    }
}
