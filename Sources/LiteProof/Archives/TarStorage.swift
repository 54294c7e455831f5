import Foundation

// MARK: - .tar, read in place

/// A replica in an uncompressed tar: headers are read once; each member is served in place as a
/// window onto the archive (``ReadOnlyFile/init(_:window:displayName:)``), nothing is extracted.
public struct TarStorage: ReplicaStorage {
    /// The archive's path.
    public let archive: String
    /// The top folder stripped from member names ("" or `name/`).
    public let memberPrefix: String
    let listing: [StoredFile]
    let members: [String: TarEntry]

    /// Reads every header of `archive`; throws (`.usage`) when the archive is malformed or hostile.
    public init(archive: String, limits: ArchiveLimits? = nil) throws {
        let limits = try limits ?? .fromEnvironment()
        let file = try ReadOnlyFile(archive)
        if file.size == 0 { throw LiteProofError(.usage, "\(archive) is empty (0 bytes), not a tar archive") }
        var entries: [TarEntry] = []
        try TarScanner(archive: archive, limits: limits).scan(FileTarSource(file)) { entries.append($0) }
        try ArchiveStorage.refuseEmpty(archive, entries)
        let (root, files, byPath) = ArchiveStorage.listing(entries)
        self.archive = archive
        self.memberPrefix = root
        self.listing = files
        self.members = byPath
    }

    public var location: String { archive }

    public func files() -> [StoredFile] { listing }

    public func open(_ path: String) throws -> ReadOnlyFile {
        guard let m = members[path] else { throw LiteProofError.storage(.missing, "\(archive) holds no member \(path)") }
        return try ReadOnlyFile(archive, window: (m.dataOffset, m.size), displayName: "\(archive):\(m.name)")
    }
}
