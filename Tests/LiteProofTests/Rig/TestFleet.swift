import Foundation
import LiteProof
import Testing

/// A fleet of 50 real replicas (copies of the rig's Litestream 0.3.13 and 0.5.17 replicas and of
/// the committed examples) at several depths, five of them damaged; built once per test process.
struct TestFleet: Sendable {
    let root: String
    /// Every replica's name (its path relative to the root).
    let names: Set<String>
    /// The damaged ones.
    let damaged: Set<String>
}

actor TestFleetFactory {
    static let shared = TestFleetFactory()
    private var built: Task<TestFleet, Error>?

    func fleet() async throws -> TestFleet {
        if let built { return try await built.value }
        let t = Task { try await Self.build() }
        built = t
        return try await t.value
    }

    static func build() async throws -> TestFleet {
        let v03 = try await ReplicaFactory.shared.replica(.v03Basic)
        let v05 = try await ReplicaFactory.shared.replica(.v05Basic)
        let root = try rigTempDir("fleet") + "/fleet"
        var names: [String] = []
        func copy(_ source: String, as name: String) throws {
            let dest = root + "/" + name
            try FileManager.default.createDirectory(
                atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let (status, out) = try runProcess("/bin/cp", ["-a", source, dest], timeout: 60)
            guard status == 0 else { throw RigError("cp -a \(source) \(dest) failed: \(out)") }
            names.append(name)
        }
        for i in 0..<10 { try copy(v03.replicaDir, as: "rig03-\(i)") }
        for i in 0..<10 { try copy(v05.replicaDir, as: "tenants/rig05-\(i)/db") }
        for i in 0..<14 { try copy(Fixtures.example("0.3").replica, as: "region/eu/tenant-\(i)/main") }
        for i in 0..<15 { try copy(Fixtures.example("0.5").replica, as: "region/us/\(i % 3)/tenant-\(i)") }
        // One 0.5 replica as an S3 bucket prefix holds it: <level %04x>/<min>-<max>.ltx.
        let s3 = root + "/s3/bucket-copy"
        for level in try FileManager.default.contentsOfDirectory(atPath: Fixtures.example("0.5").replica + "/ltx") {
            let dest = s3 + "/" + String(format: "%04x", Int(level)!)
            try FileManager.default.createDirectory(atPath: s3, withIntermediateDirectories: true)
            let (status, out) = try runProcess("/bin/cp", ["-a", Fixtures.example("0.5").replica + "/ltx/" + level, dest], timeout: 60)
            guard status == 0 else { throw RigError("cp failed: \(out)") }
        }
        names.append("s3/bucket-copy")
        // Not replicas: loose files, and a replica layout inside a replica (part of it, a stray there).
        try Data("notes".utf8).write(to: URL(fileURLWithPath: root + "/README.txt"))
        try FileManager.default.createDirectory(atPath: root + "/empty/deeper", withIntermediateDirectories: true)
        let (status, out) = try runProcess(
            "/bin/cp", ["-a", Fixtures.example("0.5").replica, root + "/region/eu/tenant-3/main/old-backup"], timeout: 60)
        guard status == 0 else { throw RigError("cp failed: \(out)") }

        // Damage five, each in a way that breaks a restore.
        var damaged: [String] = []
        let gen = Fixtures.v03Generation
        FS.remove(root + "/region/eu/tenant-1/main/" + Fixtures.v03Segment("000080e0"))
        damaged.append("region/eu/tenant-1/main")
        try flipByte(root + "/region/eu/tenant-2/main/generations/\(gen)/wal/00000000_00018260.wal.lz4", at: 3000)
        damaged.append("region/eu/tenant-2/main")
        try flipByte(root + "/region/us/1/tenant-4/ltx/9/0000000000000001-0000000000000007.ltx", at: 3000)
        damaged.append("region/us/1/tenant-4")
        let rigGen = try #require(v03.generations.last)
        for snap in RigV03Files.snapshots(v03.replicaDir, rigGen) {
            FS.remove(root + "/rig03-7/generations/\(rigGen)/snapshots/\(snap.hex(width: 8)).snapshot.lz4")
        }
        damaged.append("rig03-7")
        let l0 = try #require(RigV05Files.files(v05.replicaDir, level: 0).last)
        let victim = root + "/tenants/rig05-2/db/ltx/0/" + l0.name
        try truncate(victim, to: fileSize(victim) / 2)
        damaged.append("tenants/rig05-2/db")
        #expect(names.count == 50)
        return TestFleet(root: root, names: Set(names), damaged: Set(damaged))
    }
}

/// The JSON Lines of `verify --all --json` (or `report --json`): database objects, then the summary.
func jsonLines(_ text: String) throws -> (databases: [[String: Any]], summary: [String: Any]?) {
    var databases: [[String: Any]] = []
    var summary: [String: Any]?
    for line in text.split(separator: "\n") {
        let obj = try json(String(line))
        if obj["type"] as? String == "database" { databases.append(obj) } else { summary = obj }
    }
    return (databases, summary)
}

func verdicts(_ databases: [[String: Any]]) -> [String: String] {
    Dictionary(databases.map { ($0["database"] as? String ?? "?", $0["verdict"] as? String ?? "?") }, uniquingKeysWith: { a, _ in a })
}
