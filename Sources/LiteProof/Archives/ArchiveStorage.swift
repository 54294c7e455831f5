import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// Replicas inside archives: a `.tar` is read in place (each member is a window onto the archive,
// ``TarStorage``); a `.tar.zst` is decompressed once, as a stream, into a private scratch folder
// (``ZstdTarStorage``). Both read the tar headers with ``TarScanner`` (Formats/TarScanner.swift),
// which refuses archives that could write or point outside the replica.

/// The archive forms a replica can come in, by file name.
public enum ArchiveKind: String, Sendable {
    /// An uncompressed tar (ustar, pax or GNU), read in place.
    case tar
    /// A tar compressed with zstd (`.tar.zst`, `.tar.zstd`, `.tzst`), extracted to a scratch folder.
    case tarZstd = "tar.zst"

    /// The kind named by the end of `fileName` (case-insensitive), or nil.
    public init?(fileName: String) {
        let name = fileName.lowercased()
        if name.hasSuffix(".tar") {
            self = .tar
        } else if name.hasSuffix(".tar.zst") || name.hasSuffix(".tar.zstd") || name.hasSuffix(".tzst") {
            self = .tarZstd
        } else {
            return nil
        }
    }

    /// The extensions LiteProof opens as archives, for messages.
    public static let extensionList = ".tar, .tar.zst, .tar.zstd or .tzst"
}

/// Opens archives of replicas.
public enum ArchiveStorage {
    /// Opens the archive at `path` (an absolute path), by its extension: a ``TarStorage`` or a
    /// ``ZstdTarStorage``. `limits` default to ``ArchiveLimits/fromEnvironment(_:)``.
    public static func open(_ path: String, limits: ArchiveLimits? = nil) throws -> any ReplicaStorage {
        guard let kind = ArchiveKind(fileName: path) else {
            throw LiteProofError(.usage, "not a \(ArchiveKind.extensionList) archive: \(path)")
        }
        switch kind {
        case .tar: return try TarStorage(archive: path, limits: limits)
        case .tarZstd: return try ZstdTarStorage(archive: path, limits: limits)
        }
    }

    /// Whether `path` is a regular file (symbolic links followed).
    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The folder to treat as the replica root: when every file lies in one top folder and the
    /// paths below it are a replica layout (people tar the folder itself), that folder plus `/`;
    /// otherwise "".
    static func commonRoot(_ names: [String]) -> String {
        guard let first = names.first, let slash = first.firstIndex(of: "/") else { return "" }
        let prefix = String(first[...slash])
        guard names.allSatisfy({ $0.hasPrefix(prefix) }) else { return "" }
        let below = names.map { String($0.dropFirst(prefix.count)) }
        return below.contains(where: looksLikeReplicaPath) ? prefix : ""
    }

    /// `generations/…` (Litestream 0.3), `ltx/…` (0.5) or `<level %04x>/…` (0.5 on S3).
    static func looksLikeReplicaPath(_ path: String) -> Bool {
        if path.hasPrefix(V03Layout.generationsFolder + "/") || path.hasPrefix(LTXLayout.Style.file.levelsFolder + "/") { return true }
        guard let slash = path.firstIndex(of: "/") else { return false }
        return isHex(String(path[..<slash]), count: 4)
    }

    /// The listing a storage serves, with the common top folder (if any) stripped.
    static func listing(_ entries: [TarEntry]) -> (root: String, files: [StoredFile], byPath: [String: TarEntry]) {
        let root = commonRoot(entries.map(\.name))
        var files: [StoredFile] = []
        var byPath: [String: TarEntry] = [:]
        files.reserveCapacity(entries.count)
        for entry in entries {
            let rel = String(entry.name.dropFirst(root.count))
            files.append(StoredFile(path: rel, size: entry.size, modified: entry.mtime.value))
            byPath[rel] = entry
        }
        return (root, files, byPath)
    }

    static func refuseEmpty(_ archive: String, _ entries: [TarEntry]) throws {
        if entries.isEmpty { throw LiteProofError(.usage, "\(archive) holds no files (an empty archive)") }
    }
}
