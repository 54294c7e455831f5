import Foundation
import LiteProof
import Testing

/// Real replica files copied under names whose numbers are huge: the work of `verify`,
/// `timeline` and `inspect` follows the files that exist, never the numbers in their names.
@Suite struct HostileNamesTests {
    static let bound: TimeInterval = 20

    /// Runs the CLI, asserting it ends within the bound (a hang fails here, not after minutes).
    func run(_ args: [String]) throws -> CommandResult {
        let start = Date()
        let r = try runLiteProof(args, timeout: Self.bound)
        #expect(Date().timeIntervalSince(start) < Self.bound, "\(args)")
        #expect(r.status == 0 || r.status == 1, "\(args): exit \(r.status)\n\(r.stderr.prefix(2000))")
        return r
    }

    func findings(_ r: CommandResult) throws -> [[String: Any]] {
        try json(r.stdout)["findings"] as? [[String: Any]] ?? []
    }

    func gaps(_ r: CommandResult) throws -> [[String: Any]] {
        try json(r.stdout)["gaps"] as? [[String: Any]] ?? []
    }

    func copyFile(_ dir: String, _ from: String, _ to: String, modified: Date? = nil) throws {
        try FileManager.default.copyItem(atPath: dir + "/" + from, toPath: dir + "/" + to)
        if let modified { try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: dir + "/" + to) }
    }

    /// No count or position printed below zero.
    func expectNoNegativeNumbers(_ text: String, _ what: String) {
        let negative = text.range(of: #"(^|[\s@(:–…])-[0-9]"#, options: .regularExpression)
        #expect(negative == nil, "\(what): \(negative.map { String(text[$0.lowerBound...].prefix(120)) } ?? "")")
    }

    @Test func v03SegmentAtIndexFFFFFFFFIsOneGapTheLatestRestoreNeeds() throws {
        let dir = try exampleCopy("0.3")
        let wal = "generations/\(Fixtures.v03Generation)/wal/"
        try copyFile(dir, Fixtures.v03Segment("00000000"), wal + "ffffffff_00000000.wal.lz4")
        let v = try run(["verify", dir, "--json"])
        #expect(v.status == 1)
        let missing = try findings(v).filter { $0["code"] as? String == "chain.missing-index" }
        #expect(missing.count == 1, "\(missing)")
        let f = try #require(missing.first)
        #expect(f["severity"] as? String == "error")
        let message = f["message"] as? String ?? ""
        #expect(message.contains("00000001…fffffffe") && message.contains("4294967294 indexes"), "\(message)")
        #expect(try findings(v).count < 10)

        let t = try run(["timeline", dir, "--json"])
        #expect(t.status == 1)
        let g = try gaps(t).filter { $0["kind"] as? String == "missing-index" }
        #expect(g.count == 1 && g.first?["index"] as? Int == 1, "\(g)")
        let text = try run(["timeline", dir])
        #expect(text.stdout.contains("GAP  WAL indexes 00000001…fffffffe (4294967294 indexes)"))
        expectNoNegativeNumbers(text.stdout, "timeline")
    }

    /// After a WAL break (a missing segment), the timeline reads the frame headers of the later
    /// segments for clues. A later segment that decompresses to 1 GiB (zeros: 4 MiB as LZ4) is
    /// streamed, never held whole: `timeline` ends under a 1 GiB address-space limit.
    @Test func timelineStreamsAHugeSegmentAfterAWALBreak() throws {
        let dir = try exampleCopy("0.3")
        try FileManager.default.removeItem(atPath: dir + "/" + Fixtures.v03Segment("00014200"))
        let bomb = dir + "/" + Fixtures.v03Segment("00018260")
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/bin/sh")
        make.arguments = ["-c", "head -c 1073741824 /dev/zero | lz4 -q -z -f - \"$0\"", bomb]
        try make.run()
        make.waitUntilExit()
        try #require(make.terminationStatus == 0)
        #expect(fileSize(bomb) < 8 << 20)
        let started = Date()
        let r = try runLiteProof(["timeline", dir], timeout: Self.bound * 2, addressSpaceKiB: 1 << 20)
        let text = r.stdout + r.stderr
        #expect(r.status == 1, "\(text.prefix(3000))")
        #expect(text.contains("WAL offsets 82432–98912 of index 00000000 are missing"), "the hole is named: \(text.prefix(3000))")
        #expect(Date().timeIntervalSince(started) < Self.bound)
    }

    /// A real snapshot copied to index ffffffff: the indexes before it are missing, which makes
    /// earlier points unreachable but not the latest restore (whichever snapshot it uses).
    @Test(arguments: [-3600.0, 3600.0])
    func v03SnapshotAtIndexFFFFFFFFIsAWarning(_ shift: Double) throws {
        let dir = try exampleCopy("0.3")
        let snapshots = "generations/\(Fixtures.v03Generation)/snapshots/"
        let real = try FileManager.default.attributesOfItem(atPath: dir + "/" + Fixtures.v03Snapshot)[.modificationDate] as? Date
        try copyFile(
            dir, Fixtures.v03Snapshot, snapshots + "ffffffff.snapshot.lz4", modified: (real ?? Date()).addingTimeInterval(shift))
        let v = try run(["verify", dir, "--json"])
        #expect(v.status == 0, "\(v.stdout.prefix(3000))")
        let all = try findings(v)
        let missing = all.filter { $0["code"] as? String == "chain.missing-index" }
        #expect(missing.count == 1 && missing.first?["severity"] as? String == "warning", "\(missing)")
        #expect(!all.contains { $0["severity"] as? String == "error" }, "\(all)")
        let message = missing.first?["message"] as? String ?? ""
        #expect(message.contains("00000001…fffffffe") && message.contains("snapshot ffffffff starts again"), "\(message)")
        let latest = try json(v.stdout)["latest"] as? [String: Any]
        let position = latest?["position"] as? String ?? ""
        #expect(position.hasPrefix("\(Fixtures.v03Generation)/\(shift > 0 ? "ffffffff:0" : "00000000:")"), "\(position)")

        let t = try run(["timeline", dir, "--json"])
        #expect(try gaps(t).filter { $0["kind"] as? String == "missing-index" }.count == 1)
    }

    @Test(arguments: ["ffffffffffffffff-ffffffffffffffff", "00000fffffffffff-00000fffffffffff"])
    func ltxFileAtAHugeTXIDEndsInSeconds(_ name: String) throws {
        let dir = try exampleCopy("0.5")
        try copyFile(dir, "ltx/0/0000000000000007-0000000000000007.ltx", "ltx/0/\(name).ltx")
        let v = try run(["verify", dir, "--json"])
        #expect(v.status == 1)
        let all = try findings(v)
        #expect(all.count < 10, "\(all)")
        #expect(all.contains { $0["code"] as? String == "chain.gap" && $0["severity"] as? String == "error" }, "\(all)")

        let t = try run(["timeline", dir, "--json"])
        #expect(t.status == 1)
        let g = try gaps(t)
        #expect(g.count <= 2, "\(g)")
        let text = try run(["timeline", dir])
        expectNoNegativeNumbers(text.stdout, "timeline")
        #expect(text.stdout.contains("history breaks at       \(name.prefix(16))"), "\(text.stdout.suffix(1500))")
    }

    /// Many L0 files, one of them at TXID 2^64−1: the gap is found by ranges, and the TXID count
    /// saturates rather than wrapping.
    @Test func ltxBothHostileNamesTogether() throws {
        let dir = try exampleCopy("0.5")
        for name in ["ffffffffffffffff-ffffffffffffffff", "00000fffffffffff-00000fffffffffff", "0000000000000100-0000000000000100"] {
            try copyFile(dir, "ltx/0/0000000000000007-0000000000000007.ltx", "ltx/0/\(name).ltx")
        }
        let t = try run(["timeline", dir])
        #expect(t.status == 1)
        expectNoNegativeNumbers(t.stdout, "timeline")
        #expect(t.stdout.contains("TXIDs 0000000000000008–00000000000000ff (248)"), "\(t.stdout.suffix(2500))")
        #expect(t.stdout.contains("TXIDs 0000000000000101–00000ffffffffffe"), "\(t.stdout.suffix(2500))")
        #expect(t.stdout.contains("TXIDs 0000100000000000–fffffffffffffffe"), "\(t.stdout.suffix(2500))")
    }

    @Test func v03SegmentAtOffset7FFFFFFFFFFFFFFF() throws {
        let dir = try exampleCopy("0.3")
        let wal = "generations/\(Fixtures.v03Generation)/wal/"
        try copyFile(dir, Fixtures.v03Segment("00018260"), wal + "00000000_7fffffffffffffff.wal.lz4")
        let i = try run(["inspect", dir])
        expectNoNegativeNumbers(i.stdout, "inspect")
        #expect(i.stdout.contains("@9223372036854775807"), "\(i.stdout)")
        let v = try run(["verify", dir, "--json"])
        #expect(v.status == 1)
        #expect(try findings(v).contains { $0["code"] as? String == "chain.gap" })
        let t = try run(["timeline", dir])
        expectNoNegativeNumbers(t.stdout, "timeline")
    }

    /// Grading on real rig history: a missing WAL index the latest restore does not need (before
    /// the snapshot it starts from, or in a generation it does not use) is a warning and the
    /// verdict stays ok; one it needs is an error.
    @Test func v03MissingIndexIsGradedByTheLatestRestore() async throws {
        let multi = try await ReplicaFactory.shared.replica(.v03Multi)
        let original = try Replica.open(multi.replicaDir)
        let picked = try RestorePlanner(replica: original).chooseGeneration(.latest()).0
        let gens = try #require(original.v03?.generations)
        let start = try #require(try RestorePlanner(replica: original).plan().v03?.snapshot.index)
        try #require(verify(multi.replicaDir).verdict == .ok)

        // Not needed: an index of the picked generation before its latest snapshot, else one in
        // another generation after that generation's first snapshot.
        var unneeded: (V03Generation, UInt32)?
        if let first = picked.snapshots.first?.index, let i = picked.indexes.first(where: { $0 > first && $0 < start }) {
            unneeded = (picked, i)
        } else {
            for g in gens where g.id != picked.id {
                guard let first = g.snapshots.first?.index, let last = g.indexes.last else { continue }
                if let i = g.indexes.first(where: { $0 > first && $0 < last }) { unneeded = (g, i) }
            }
        }
        let (g, victim) = try #require(unneeded, "no WAL index the latest restore does not need in \(gens.map { ($0.id, $0.indexes) })")
        let dir = try scratchCopy(ofDirectory: multi.replicaDir)
        for s in g.segments(of: victim) { try FileManager.default.removeItem(atPath: dir + "/" + s.path) }
        let r = try verify(dir)
        let missing = r.findings(.chainMissingIndex)
        #expect(missing.count == 1 && missing.allSatisfy { $0.severity == .warning }, "\(missing)")
        #expect(missing.first?.message.contains(victim.hex(width: 8)) == true)
        #expect(r.verdict == .ok, "\(r.findings)")

        // Needed: an index between the latest snapshot's and the plan's last, when there is one.
        if let last = picked.indexes.last, let needed = picked.indexes.first(where: { $0 > start && $0 < last }) {
            let dir2 = try scratchCopy(ofDirectory: multi.replicaDir)
            for s in picked.segments(of: needed) { try FileManager.default.removeItem(atPath: dir2 + "/" + s.path) }
            let r2 = try verify(dir2)
            #expect(r2.findings(.chainMissingIndex).contains { $0.severity == .error && $0.message.contains(needed.hex(width: 8)) }, "\(r2.findings)")
            #expect(r2.verdict == .damaged)
        }
    }
}
