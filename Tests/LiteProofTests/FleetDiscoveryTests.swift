import Foundation
import LiteProof
import Testing

@Suite struct FleetDiscoveryTests {
    func listing(_ paths: [String]) -> [StoredFile] { paths.map { StoredFile(path: $0, size: 1, modified: nil) } }

    @Test func findsReplicasAtAnyDepthWithoutDescendingIntoOne() {
        let found = FleetDiscovery.discover(
            listing([
                "a/generations/0123456789abcdef/snapshots/00000000.snapshot.lz4",
                "a/generations/0123456789abcdef/wal/00000000_00000000.wal.lz4",
                "a/nested/ltx/0/0000000000000001-0000000000000001.ltx",
                "x/y/z/ltx/9/0000000000000001-0000000000000003.ltx",
                "s3/0001/0000000000000001-0000000000000003.ltx",
                "beef/0000/0000000000000001-0000000000000001.ltx",
                "notes/readme.txt",
                "ltx/notalevel/0000000000000001-0000000000000001.ltx",
                "generations/short/wal/00000000_00000000.wal.lz4",
            ]))
        #expect(found.map(\.name) == ["a", "beef", "s3", "x/y/z"])
        #expect(found[0].files.map(\.path).contains("nested/ltx/0/0000000000000001-0000000000000001.ltx"))
        #expect(found[3].files.map(\.path) == ["ltx/9/0000000000000001-0000000000000003.ltx"])
    }

    @Test func aReplicaAtTheRootIsNamedDot() {
        let found = FleetDiscovery.discover(listing(["ltx/0/0000000000000001-0000000000000001.ltx", "sub/ltx/0/0000000000000001-0000000000000001.ltx"]))
        #expect(found.map(\.name) == ["."])
        #expect(found[0].files.count == 2)
    }

    @Test func shardHashIsFNV1a64() throws {
        // Published FNV-1a 64 test vectors: the split must never change between versions.
        #expect(FleetShard.hash("") == 0xcbf2_9ce4_8422_2325)
        #expect(FleetShard.hash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(FleetShard.hash("foobar") == 0x8594_4171_f739_67e8)
        #expect(try FleetShard(parsing: "2/5") == FleetShard(index: 2, count: 5))
        #expect(throws: LiteProofError.self) { try FleetShard(parsing: "5/5") }
        #expect(throws: LiteProofError.self) { try FleetShard(parsing: "1/0") }
        #expect(throws: LiteProofError.self) { try FleetShard(parsing: "one/3") }
        let names = (0..<300).map { "tenant-\($0)" }
        let shards = try (0..<4).map { try FleetShard(index: $0, count: 4) }
        for n in names { #expect(shards.filter { $0.contains(n) }.count == 1) }
    }
}
