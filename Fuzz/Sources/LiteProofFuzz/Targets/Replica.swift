import Foundation
@testable import LiteProof

// Targets for what a replica's names and containers hold: the layout scan of file names, tar and
// tar.zst archives (read in place or extracted).

/// A listing that exists only in memory: the names come from the fuzzer; no file can be opened.
private struct ListedStorage: ReplicaStorage {
    let names: [String]
    var location: String { "fuzz" }
    func files() -> [StoredFile] { names.map { StoredFile(path: $0, size: Int64($0.utf8.count), modified: 1_700_000_000) } }
    func open(_ path: String) throws -> ReadOnlyFile { throw LiteProofError(.io, "\(path): listed only") }
}

/// Replica file names, one per line: the layout scan (0.3, 0.5 local, 0.5 S3), the inventory
/// and the restore plan built from names alone.
let layoutTarget = FuzzTarget(name: "layout", summary: "replica file names, one a line: Replica.open(storage:), Inventory, RestorePlanner") {
    bytes in
    let names = bytes.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
    expectCleanError {
        let replica = try Replica.open(storage: ListedStorage(names: names))
        _ = try Inventory.make(replica).renderText()
        _ = try RestorePlanner(replica: replica).plan()
    }
}

/// Small limits, so a member or a decompression bomb is refused after megabytes, not gigabytes.
private let fuzzLimits: ArchiveLimits = {
    var limits = ArchiveLimits()
    limits.maxMembers = 10_000
    limits.maxMemberSize = 64 << 20
    limits.maxExtractBytes = 64 << 20
    limits.minFreeBytes = 0
    return limits
}()

/// Lists and opens every member of an archive, and recognises the replica in it.
private func readArchive(_ path: String) {
    expectCleanError {
        let storage = try ArchiveStorage.open(path, limits: fuzzLimits)
        for f in storage.files() {
            expectCleanError { _ = try storage.open(f.path).read(count: 4096, at: 0) }
        }
        _ = try Replica.open(storage: storage)
    }
}

/// A tar archive of a replica, read in place: ArchiveStorage.open.
let tarTarget = FuzzTarget(name: "tar", summary: "a .tar archive: ArchiveStorage.open, member listing and windows") { bytes in
    readArchive(Scratch.write(bytes, as: "replica.tar"))
}

/// A zstd-compressed tar of a replica, extracted to a scratch folder: ArchiveStorage.open.
let tarZstdTarget = FuzzTarget(name: "tar-zst", summary: "a .tar.zst archive: ArchiveStorage.open (zstd stream, extraction)") { bytes in
    readArchive(Scratch.write(bytes, as: "replica.tar.zst"))
}
