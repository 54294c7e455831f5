import Foundation
import LiteProof
import LiteProofObjectStore
import LiteProofStoreAnswers
import Testing

/// Objects downloaded in ranged parts are readable as the parts land (``Arrival``): a reader gets
/// the bytes it asks for once they are in the local copy, not after the object's last part, and
/// gets the download's failure for bytes that never came. The store here is a folder served in
/// process, whose parts can be held back or made to fail; the same code over real servers is
/// covered by `SeaweedTests+Memory` (a 64 MB snapshot object in 8 MiB parts, restored and
/// compared with `litestream restore`).
@Suite struct ArrivalTests {
    @Test func prefixGrowsOnlyWithoutHoles() throws {
        let a = Arrival()
        a.landed(8..<16)
        a.landed(24..<32)
        #expect(a.landedPrefix == 0, "bytes 0..<8 have not landed: nothing is readable")
        a.landed(0..<8)
        #expect(a.landedPrefix == 16)
        try a.wait(through: 16)
        a.landed(16..<24)
        #expect(a.landedPrefix == 32)
        a.fail(LiteProofError.storage(.transfer, "gone"))
        try a.wait(through: 32)  // what landed stays readable
        let e = #expect(throws: LiteProofError.self) { try a.wait(through: 33) }
        #expect(e?.message == "gone")
    }

    /// The first bytes of an object are read while its last part is held back by the store.
    @Test func readsBeforeTheLastPartLands() throws {
        let store = try FolderStore(Fixtures.example("0.3").live)
        let size = Int64(store.bytes.count)
        store.held = size / 4096 * 4096 == size ? size - 4096 : size / 4096 * 4096
        let storage = try store.storage()
        let file = try storage.open(FolderStore.name)
        #expect(try file.read(count: 4096, at: 0) == Array(store.bytes[0..<4096]))
        #expect(!store.servedHeldPart, "the first part is read while the last one is held back")
        store.release()
        #expect(try file.read(count: Int(size), at: 0) == store.bytes)
        #expect(storage.failures.isEmpty)
    }

    /// A part that fails for good reaches a reader waiting for its bytes as the store's failure;
    /// the bytes that landed before it were the object's and are read as such. The failing part
    /// is held back until the first part has been read: once a part fails, the download takes no
    /// new part, so without the hold a loaded machine may fail the part at 8192 before any thread
    /// has started the part at 0 (then that read gets the failure, which is right but not tested
    /// here).
    @Test func aFailedPartReachesTheReader() throws {
        let store = try FolderStore(Fixtures.example("0.3").live)
        store.held = 8192
        store.failing = 8192
        let storage = try store.storage()
        let file = try storage.open(FolderStore.name)
        #expect(try file.read(count: 4096, at: 0) == Array(store.bytes[0..<4096]))
        store.release()
        let e = #expect(throws: LiteProofError.self) { try file.read(count: 4096, at: 8192) }
        #expect(e?.storageFailure == .transfer)
        #expect(e?.message.contains("part at 8192 refused") == true, "\(e.map { "\($0)" } ?? "")")
        #expect(storage.failures.count == 1)
    }

    /// Restores through 4 KiB parts (every file of the example replicas larger than a part arrives
    /// in parts and is decoded as it lands) equal restores from the folders.
    @Test(arguments: ["0.3", "0.5"])
    func restoreThroughPartsEqualsRestoreFromTheFolder(_ version: String) throws {
        let root = Fixtures.example(version).replica
        let dir = try rigTempDir("arrival")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let options = RestoreOptions(integrityCheck: .none)
        try Restorer(replica: try Replica.open(root)).restore(to: dir + "/folder.db", options: options)
        let storage = try FolderStore(folder: root).storage()
        #expect(storage.listing.contains { $0.size > 4096 }, "some file arrives in more than one part")
        try Restorer(replica: try Replica.open(storage: storage)).restore(to: dir + "/parts.db", options: options)
        #expect(try bytes(of: dir + "/parts.db") == bytes(of: dir + "/folder.db"))
        #expect(storage.failures.isEmpty)
    }
}

/// A folder served as an object store, in process: whole GETs copy a file, ranged GETs write
/// the range. The part at ``held`` waits for ``release()`` (10 s at most); the part at ``failing``
/// throws (after its hold, if it is held too). Made either from one file (the object ``name``) or
/// from a replica folder.
// @unchecked: `condition` guards the hold and the flag.
final class FolderStore: ObjectStoreClient, @unchecked Sendable {
    static let name = "object"
    let files: [String: String]
    let bytes: [UInt8]
    var held: Int64?
    var failing: Int64?
    var policy = TransferPolicy()
    private let condition = NSCondition()
    private var released = false
    private(set) var servedHeldPart = false

    init(_ file: String) throws {
        files = [Self.name: file]
        bytes = try LiteProofTests.bytes(of: file)
    }

    init(folder: String) throws {
        var files: [String: String] = [:]
        for rel in try FileManager.default.subpathsOfDirectory(atPath: folder) where !FS.isDirectory(folder + "/" + rel) {
            files[rel] = folder + "/" + rel
        }
        self.files = files
        bytes = []
    }

    /// An ``ObjectStorage`` over this store that downloads everything over 4 KiB in 4 KiB parts.
    func storage() throws -> ObjectStorage {
        let s = try ObjectStorage(store: self, location: "folder-store", prefix: "", concurrency: 4, scratchPrefix: "liteproof-arrival")
        s.partsAbove = 4096
        s.partSize = 4096
        return s
    }

    func release() {
        condition.lock()
        released = true
        condition.broadcast()
        condition.unlock()
    }

    func list(prefix: String, keep: @escaping (RemoteObject) -> Bool) throws -> [RemoteObject] {
        files.keys.sorted().map { RemoteObject(key: $0, size: Int64(fileSize(files[$0]!)), lastModified: FS.modificationTime(files[$0]!) ?? 0, etag: "e") }
            .filter(keep)
    }

    func download(key: String, to destination: String, expectedSize: Int64?) throws {
        try write(try LiteProofTests.bytes(of: files[key]!), to: destination)
    }

    func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, to destination: String) throws -> Bool {
        try write(try part(key, offset, length), to: destination)
        return false
    }

    func download(key: String, range offset: Int64, length: Int64, objectSize: Int64, into file: OutputFile) throws {
        try part(key, offset, length).withUnsafeBytes { try file.write($0, at: offset) }
    }

    /// The bytes of one part, after its hold or failure.
    private func part(_ key: String, _ offset: Int64, _ length: Int64) throws -> [UInt8] {
        if offset == held {
            let deadline = Date() + 10
            condition.lock()
            while !released && Date() < deadline { _ = condition.wait(until: deadline) }
            servedHeldPart = true
            condition.unlock()
        }
        if offset == failing { throw LiteProofError.storage(.transfer, "part at \(offset) refused", path: key) }
        let all = try LiteProofTests.bytes(of: files[key]!)
        return Array(all[Int(offset)..<Int(offset + length)])
    }
}
