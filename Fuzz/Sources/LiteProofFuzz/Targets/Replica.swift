import Foundation
@testable import LiteProof

// Targets for what a replica's names and containers hold: the layout scan of file names, tar and
// tar.zst archives (read in place or extracted).

/// A listing that exists only in memory: the names come from the fuzzer; no file can be opened.
private struct ListedStorage: ReplicaStorage {
    let names: [String]
    var location: String { "fuzz" }
    func files() -> [StoredFile] { names.map { StoredFile(path: $0, size: Int64($0.utf8.count), modified: 1_700_000_000) } }
    func open(_ path: String) throws -> ReadOnlyFile { throw LiteProofError.storage(.missing, "\(path): listed only") }
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

/// A replica listing whose fetch manifest holds the fuzzer's bytes; the other files are only listed.
private struct ManifestStorage: ReplicaStorage {
    let manifest: [UInt8]
    var location: String { "fuzz" }
    func files() -> [StoredFile] {
        [StoredFile(path: Replica.fetchManifestName, size: Int64(manifest.count), modified: 1_700_000_000)]
            + fetchManifestNames.map { StoredFile(path: $0, size: 100, modified: 1_700_000_000) }
    }
    func open(_ path: String) throws -> ReadOnlyFile { throw LiteProofError.storage(.missing, "\(path): listed only") }
    func read(_ path: String, offset: Int64, count: Int) throws -> [UInt8] {
        guard path == Replica.fetchManifestName else { throw LiteProofError.storage(.missing, "\(path): listed only") }
        return Array(manifest.dropFirst(Int(clamping: max(0, offset))).prefix(max(0, count)))
    }
}

/// The files the fetch-manifest target lists beside the manifest (its seed names them).
let fetchManifestNames = [
    "generations/0123456789abcdef/snapshots/00000000.snapshot.lz4",
    "generations/0123456789abcdef/wal/00000000_00000000.wal.lz4",
    "generations/0123456789abcdef/wal/00000000_00001000.wal.lz4",
]

/// The manifest `liteproof fetch` writes (`.liteproof-fetch.json`): parsed and applied to a
/// listing when the replica is opened (trusted times, time source, warnings).
let fetchManifestTarget = FuzzTarget(name: "fetch-manifest", summary: "a fetch manifest (.liteproof-fetch.json): Replica.open(storage:)") {
    bytes in
    let manifest = Array(bytes)
    expectCleanError {
        let replica = try Replica.open(storage: ManifestStorage(manifest: manifest))
        _ = replica.timeSource
        _ = try Inventory.make(replica).renderText()
    }
}
