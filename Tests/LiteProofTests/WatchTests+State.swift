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

extension WatchTests {
    /// A file listed, then removed before the round reads it (Litestream compacting meanwhile):
    /// a file gone, not an outage; the next round no longer lists it.
    @Test func fileRemovedBetweenListingAndReadIsNoOutage() throws {
        let dir = try scratchCopy(ofDirectory: try WatchFixtures.replica(.v05))
        let victim = try newestFile(dir)
        let aside = try rigTempDir("watch-race") + "/file"
        try FileManager.default.moveItem(atPath: dir + "/" + victim, toPath: aside)
        let storage = RemovingStorage(root: dir, victim: victim)
        let w = Watcher(database: dir) { try Replica.open(storage: storage) }
        #expect(w.round().verdict == .ok)
        try FileManager.default.moveItem(atPath: aside, toPath: dir + "/" + victim)
        let r = w.round()
        #expect(r.storageFailures.isEmpty, "\(r.storageFailures.map(\.error))")
        #expect(r.verdict != .unreadable)
        let next = w.round()
        #expect(next.verdict == .ok, "\(next.reason)")
        #expect(next.filesGone == 0 && next.filesChecked == 0)
    }
}

/// A folder whose one file disappears when it is first opened, as a file compacted away between
/// a listing and the read does.
struct RemovingStorage: ReplicaStorage {
    let inner: DirectoryStorage
    let victim: String
    init(root: String, victim: String) {
        inner = DirectoryStorage(root: root)
        self.victim = victim
    }
    var location: String { inner.location }
    func files() -> [StoredFile] { inner.files() }
    func open(_ path: String) throws -> ReadOnlyFile {
        if path == victim { try? FileManager.default.removeItem(atPath: inner.root + "/" + path) }
        return try inner.open(path)
    }
}
