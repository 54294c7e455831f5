import Foundation
import LiteProof
import Testing

extension WatchTests {
    /// State files that cannot be trusted: a warning, a full re-check, the right verdict, and a
    /// sound state written in their place; never a crash.
    @Test func hostileStateFilesAreIgnoredWithAWarning() throws {
        let dir = try WatchFixtures.replica(.v05)
        let folder = try rigTempDir("watch-hostile")
        let good = folder + "/good.json"
        let w = Watcher(database: dir, stateFile: good) { try Replica.open(dir) }
        let first = w.round()
        #expect(first.verdict == .ok)
        let sound = try bytes(of: good)
        let listed = first.filesListed
        var wrongVersion = try #require(try JSONSerialization.jsonObject(with: Data(sound)) as? [String: Any])
        wrongVersion["version"] = 99
        var otherReplica = wrongVersion
        otherReplica["version"] = WatchState.currentVersion
        otherReplica["replica"] = "/somewhere/else"
        var badValues = otherReplica
        badValues["replica"] = dir
        badValues["files"] = ["ltx/0/x.ltx": ["size": "big"]]
        var hugeCount = badValues
        hugeCount["files"] = [:] as [String: Any]
        hugeCount["rounds"] = Int.max
        let cases: [(name: String, bytes: [UInt8], why: String)] = [
            ("rounds", Array(try JSONSerialization.data(withJSONObject: hugeCount)), "impossible round count"),
            ("truncated", Array(sound.prefix(sound.count / 2)), "truncated or corrupt"),
            ("random", (0..<4096).map { _ in UInt8.random(in: 0...255) }, "truncated or corrupt"),
            ("huge", [UInt8](repeating: 0x20, count: 8 << 20), "bytes, more than"),
            ("version", Array(try JSONSerialization.data(withJSONObject: wrongVersion)), "version 99"),
            ("other", Array(try JSONSerialization.data(withJSONObject: otherReplica)), "another replica"),
            ("values", Array(try JSONSerialization.data(withJSONObject: badValues)), "truncated or corrupt"),
            ("empty", [], "truncated or corrupt"),
        ]
        for c in cases {
            let path = folder + "/" + c.name + ".json"
            try write(c.bytes, to: path)
            let hostile = Watcher(database: dir, stateFile: path) { try Replica.open(dir) }
            let r = hostile.round()
            #expect(r.warnings.count == 1 && r.warnings[0].contains("ignored") && r.warnings[0].contains(c.why), "\(c.name): \(r.warnings)")
            #expect(r.filesChecked == listed, "\(c.name): a full re-check")
            #expect(r.verdict == .ok, "\(c.name)")
            #expect(r.round == 1)
            let reread = WatchState.load(from: path, replica: dir, listed: listedFiles(dir))
            #expect(reread.warning == nil && reread.state?.files.count == listed, "\(c.name): \(reread.warning ?? "")")
        }
        // Not a regular file: refused before it is opened (a FIFO would block).
        let fifo = folder + "/fifo.json"
        #expect(mkfifo(fifo, 0o600) == 0)
        let r = Watcher(database: dir, stateFile: fifo) { try Replica.open(dir) }.round()
        #expect(r.warnings.contains { $0.contains("FIFO") }, "\(r.warnings)")
        #expect(r.verdict == .ok)
    }
}

/// The files of the replica at `dir` as its storage lists them.
func listedFiles(_ dir: String) -> [StoredFile] { DirectoryStorage(root: dir).files() }
