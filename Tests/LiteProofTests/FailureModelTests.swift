import Foundation
import LiteProofS3
import Testing

@testable import LiteProof

/// The one failure model: every kind of failure, through `verify`, `verify --all`, `restore`,
/// `compare` and `report`, gives one exit code and one wording per kind (``Outcome``).
///
/// Each case starts from a real replica (the example fixtures, or Litestream 0.5 replicating into
/// moto) and breaks one thing: a FIFO or a dangling link in place of a file, an object the store
/// answers NoSuchKey or AccessDenied for, or cuts short, a flipped byte, a path with no replica,
/// and two generations no evidence can order.
@Suite(.serialized) struct FailureModelTests {
    struct Case: CustomStringConvertible {
        var name: String
        /// The replica argument (a folder or an s3:// URL) and the fleet root holding it.
        var replica: String
        var root: String
        var live: String
        var exit: Int32
        /// The verdict word of `verify --json` and of the fleet entry.
        var verdict: String
        /// Words every command's output must hold.
        var says: String
        var environment: [String: String] = s3ChildEnvironment()
        var description: String { name }
    }

    func run(_ args: [String], _ c: Case) throws -> (status: Int32, output: String) {
        try runWithEnvironment(liteproofBinary(), args, environment: c.environment, timeout: 60)
    }

    func objects(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{"), let data = line.data(using: .utf8) else { return nil }
            return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        }
    }

    /// Runs the five commands on one case and checks each gives the case's exit code and words.
    func check(_ c: Case) throws {
        let out = try rigTempDir("failure-out")
        let verify = try run(["verify", c.replica], c)
        #expect(verify.status == c.exit, "\(c) verify: \(verify.output)")
        #expect(verify.output.contains(c.says), "\(c) verify: \(verify.output)")
        if c.exit != 0 { #expect(!verify.output.contains("OK: the replica is sound"), "\(c) verify: \(verify.output)") }

        let verifyJSON = try run(["verify", c.replica, "--json"], c)
        #expect(verifyJSON.status == c.exit, "\(c) verify --json: \(verifyJSON.output)")
        let verdict = (try? JSONSerialization.jsonObject(with: Data(verifyJSON.output.utf8)) as? [String: Any])?["verdict"] as? String
        #expect(verdict == c.verdict, "\(c) verify --json: \(verifyJSON.output)")

        let restore = try run(["restore", c.replica, "-o", out + "/r.db"], c)
        #expect(restore.status == c.exit, "\(c) restore: \(restore.output)")
        #expect(restore.output.contains(c.says), "\(c) restore: \(restore.output)")
        #expect(!FS.exists(out + "/r.db"), "\(c): a failed restore leaves no output")

        let compare = try run(["compare", c.replica, "--live", c.live], c)
        #expect(compare.status == c.exit, "\(c) compare: \(compare.output)")
        #expect(compare.output.contains(c.says), "\(c) compare: \(compare.output)")

        let all = try run(["verify", "--all", c.root, "--json", "--jobs", "2"], c)
        #expect(all.status == c.exit, "\(c) verify --all: \(all.output)")
        let lines = objects(all.output)
        let entries = lines.filter { $0["type"] as? String == "database" }
        #expect(entries.count == 1 && entries.first?["verdict"] as? String == c.verdict, "\(c) verify --all: \(all.output)")
        #expect((entries.first?["problem"] as? String)?.contains(c.says) == true, "\(c) verify --all: \(all.output)")
        #expect(lines.last?["exitCode"] as? Int == Int(c.exit), "\(c) verify --all: \(all.output)")

        let shard = out + "/shard.jsonl"
        try lines.map { String(data: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), encoding: .utf8)! }
            .joined(separator: "\n").write(toFile: shard, atomically: true, encoding: .utf8)
        let report = try run(["report", shard], c)
        #expect(report.status == c.exit, "\(c) report: \(report.output)")
        #expect(report.output.contains(c.verdict.uppercased()), "\(c) report: \(report.output)")
    }

    /// A fleet root holding one copy of an example replica, named `db`.
    func fleetCopy(_ version: String, _ name: String) throws -> (root: String, replica: String) {
        let root = try rigTempDir("failure-\(name)")
        let (status, output) = try runProcess("/bin/cp", ["-a", Fixtures.example(version).replica, root + "/db"], timeout: 60)
        try #require(status == 0, "\(output)")
        return (root, root + "/db")
    }

    @Test(arguments: ["0.3", "0.5"]) func localFailures(version: String) throws {
        let live = Fixtures.example(version).live
        // The file the latest restore needs, as the fixture's own plan names it.
        let needed = try #require(try RestorePlanner(replica: try Replica.open(Fixtures.example(version).replica)).plan().files.first)

        let fifo = try fleetCopy(version, "fifo")
        #expect(unlink(fifo.replica + "/" + needed) == 0 && mkfifo(fifo.replica + "/" + needed, 0o644) == 0)
        try check(
            Case(
                name: "\(version) FIFO", replica: fifo.replica, root: fifo.root, live: live, exit: 2, verdict: "unreadable",
                says: "is not a regular file"))

        let link = try fleetCopy(version, "link")
        #expect(unlink(link.replica + "/" + needed) == 0 && symlink(link.root + "/nowhere", link.replica + "/" + needed) == 0)
        try check(
            Case(
                name: "\(version) dangling link", replica: link.replica, root: link.root, live: live, exit: 2, verdict: "unreadable",
                says: "No such file or directory"))

        let damaged = try fleetCopy(version, "damaged")
        let file = damaged.replica + "/" + needed
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count / 2] ^= 0x55
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        try check(
            Case(
                name: "\(version) flipped byte", replica: damaged.replica, root: damaged.root, live: live, exit: 1, verdict: "damaged",
                says: version == "0.3" ? "lz4." : "ltx."))
    }

    /// Two generations of the same real replica whose files all carry one time, and whose WAL
    /// headers are the same: nothing can tell which is the newest. No command guesses.
    @Test func undecidedGeneration() throws {
        let copy = try fleetCopy("0.3", "undecided")
        let gen = copy.replica + "/generations/" + Fixtures.v03Generation
        let (status, output) = try runProcess("/bin/cp", ["-a", gen, copy.replica + "/generations/ffffffffffffffff"], timeout: 60)
        try #require(status == 0, "\(output)")
        let stamp = Date(timeIntervalSince1970: 1_700_000_000)
        for f in FS.walk(copy.replica) { try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: copy.replica + "/" + f) }
        try check(
            Case(
                name: "undecided generation", replica: copy.replica, root: copy.root, live: Fixtures.example("0.3").live, exit: 2,
                verdict: "undecided", says: "cannot tell which generation is the newest"))
    }

    /// Usage errors: no replica at the path, for every command.
    @Test func usageErrors() throws {
        let empty = try rigTempDir("failure-usage")
        try Data("x".utf8).write(to: URL(fileURLWithPath: empty + "/notes.txt"))
        let c = Case(
            name: "usage", replica: empty, root: empty, live: Fixtures.example("0.5").live, exit: 2, verdict: "usage", says: "holds no Litestream replica")
        for args in [["verify", empty], ["restore", empty, "-o", empty + "/r.db"], ["compare", empty, "--live", c.live], ["verify", "--all", empty]] {
            let r = try run(args, c)
            #expect(r.status == 2 && r.output.contains(c.says), "\(args): \(r.output)")
        }
        let json = try run(["verify", empty, "--json"], c)
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        #expect(object?["verdict"] as? String == "usage" && object?["kind"] as? String == "usage", "\(json.output)")
        #expect(object?["exitCode"] as? Int == 2, "\(json.output)")
    }

    /// An object store that will not give one object: NoSuchKey, AccessDenied, or a body cut
    /// short. Never damage: unreadable, exit 2, with the store's words.
    @Test func storeFailures() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let made = try await S3LiveTests().makeV05Replica(moto, prefix: "fm/db")
        let url = made.url
        let direct = try Replica.open(storage: try S3Storage(url: url, environment: moto.environment))
        let needed = try #require(try RestorePlanner(replica: direct).plan().files.last as String?)
        let live = made.db
        for (mode, says) in [("nosuchkey:", "NoSuchKey"), ("denied:", "AccessDenied"), ("truncate:", "the listing says")] {
            let proxy = try FaultProxy(upstream: moto.port, mode: mode + needed)
            defer { proxy.stop() }
            let via = url.replacingOccurrences(of: ":\(moto.port)", with: ":\(proxy.port)")
            let root = via.replacingOccurrences(of: "/fm/db?", with: "/fm?")
            try check(
                Case(
                    name: "S3 \(says)", replica: via, root: root, live: live, exit: 2, verdict: "unreadable", says: says,
                    environment: moto.childEnvironment))
        }
    }
}
