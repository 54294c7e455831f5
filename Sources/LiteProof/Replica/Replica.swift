import Foundation

/// A Litestream replica on disk: a file replica, or a bucket prefix downloaded to a folder.
///
/// Opening only lists and names files (no file is read); ``Verifier`` and ``Restorer`` read them.
public final class Replica: Sendable {
    public enum Format: String, Codable, Sendable {
        /// Litestream 0.3.x: generations, snapshots and WAL segments, each an LZ4 frame.
        case v03 = "litestream-0.3"
        /// Litestream 0.5.x: LTX files by compaction level.
        case ltx = "litestream-0.5"
    }

    /// Where the replica is (a folder or an archive), for reports.
    public let root: String
    /// Lists and opens the replica's files.
    public let storage: any ReplicaStorage
    /// The files of the replica, by the Litestream version that wrote them.
    public let layout: ReplicaLayout
    /// Files below the root that belong to no known layout (relative paths).
    public let strays: [String]
    /// Where trusted file times came from (a bucket listing, a fetch manifest), nil when the
    /// times are the files' own.
    public let timeSource: String?
    /// Warnings about the storage rather than the replica's files (a fetch manifest ignored in
    /// whole or in part).
    public let storageFindings: [Finding]

    /// 0.3: the generation every restore plan uses when its target names none (`--generation`);
    /// nil lets the planner choose. Set with ``choosing(generation:)``.
    public let chosenGeneration: String?

    init(
        storage: any ReplicaStorage, layout: ReplicaLayout, strays: [String], timeSource: String? = nil, storageFindings: [Finding] = [],
        chosenGeneration: String? = nil
    ) {
        self.storage = storage
        self.root = storage.location
        self.layout = layout
        self.strays = strays
        self.timeSource = timeSource
        self.storageFindings = storageFindings
        self.chosenGeneration = chosenGeneration
    }

    /// The same replica with `generation` chosen for every plan made from it (nil: unchanged).
    /// A usage error for a 0.5 replica or a generation the replica does not hold.
    public func choosing(generation: String?) throws -> Replica {
        guard let generation else { return self }
        guard let v03 else {
            throw LiteProofError(.usage, "--generation is for Litestream 0.3 replicas; this one is 0.5 (its history is one TXID sequence)")
        }
        guard v03.generations.contains(where: { $0.id == generation }) else {
            throw LiteProofError(.usage, "no generation \(generation) in the replica; it has \(v03.generations.map(\.id).joined(separator: ", "))")
        }
        return Replica(
            storage: storage, layout: layout, strays: strays, timeSource: timeSource, storageFindings: storageFindings,
            chosenGeneration: generation)
    }

    /// The Litestream version, as reports name it.
    public var format: Format { layout.format }

    /// The 0.3 layout, nil for a 0.5 replica.
    public var v03: V03Layout? {
        if case .v03(let l) = layout { return l }
        return nil
    }

    /// The 0.5 layout, nil for a 0.3 replica.
    public var ltx: LTXLayout? {
        if case .ltx(let l) = layout { return l }
        return nil
    }

    /// Throws the first read of the store that failed for good (see ``ReplicaStorage/failures``):
    /// a command calls it before it states a verdict, so no verdict is drawn without bytes a
    /// caller shrugged off.
    public func checkStorage() throws {
        if let failure = storage.failures.first { throw failure }
    }

    /// Opens a file of the replica, named relative to its root.
    public func open(_ relative: String) throws -> ReadOnlyFile { try storage.open(relative) }

    /// The header of an LTX file, reading its first bytes only (a range of a remote object).
    public func readLTXHeader(_ relative: String) throws -> LTXHeader {
        let bytes = try storage.read(relative, offset: 0, count: LTXHeader.size)
        return try bytes.withUnsafeBytes { try LTXHeader.parse($0, file: relative) }
    }

    /// Opens the replica at `location`: a folder path or a `file://` URL. `through` wraps the
    /// folder's or archive's storage before it is listed (``CountingStorage``, say).
    public static func open(
        _ location: String, through wrap: (any ReplicaStorage) -> any ReplicaStorage = { $0 }
    ) throws -> Replica {
        let path = try resolve(location)
        if !FS.isDirectory(path) {
            // `resolve` lets through only folders and regular files named like an archive.
            return try open(storage: wrap(try ArchiveStorage.open(path)), location: path)
        }
        return try open(storage: wrap(DirectoryStorage(root: path)), location: location)
    }

    /// The manifest `liteproof fetch` writes beside the files it downloads (not part of the replica).
    public static let fetchManifestName = ".liteproof-fetch.json"

    /// Recognises the layout of the files in `storage`.
    /// A `fetchManifestName` file among the files (a folder or archive made by `liteproof fetch`)
    /// gives the files their objects' LastModified as trusted times (see ``FetchManifest``).
    public static func open(storage: any ReplicaStorage, location: String? = nil) throws -> Replica {
        let listed = storage.files()
        var files = listed.filter { $0.path != fetchManifestName }.sorted { $0.path < $1.path }
        var findings: [Finding] = []
        var timeSource: String?
        if let manifest = listed.first(where: { $0.path == fetchManifestName }) {
            let applied = FetchManifest.apply(storage: storage, files: files, manifestSize: manifest.size)
            files = applied.files
            findings = applied.findings
            if applied.trusted > 0 {
                timeSource =
                    "S3 LastModified from \(fetchManifestName)" + (applied.source.map { " (fetched from \($0))" } ?? "")
                    + (applied.trusted < files.count ? " for \(applied.trusted) of \(files.count) files" : "")
            }
        } else if !files.isEmpty && files.allSatisfy(\.timeTrusted) {
            timeSource = "the object store's LastModified"
        }
        if files.contains(where: { $0.path.hasPrefix(V03Layout.generationsFolder + "/") }) {
            let (layout, strays) = V03Layout.scan(files: files)
            return Replica(storage: storage, layout: .v03(layout), strays: strays, timeSource: timeSource, storageFindings: findings)
        }
        if let (layout, strays) = LTXLayout.scan(files: files) {
            return Replica(storage: storage, layout: .ltx(layout), strays: strays, timeSource: timeSource, storageFindings: findings)
        }
        let location = location ?? storage.location
        let hint =
            files.isEmpty
            ? "the folder is empty" : "found \(files.count) files, none in a replica layout (e.g. \(files.prefix(3).map(\.path).joined(separator: ", ")))"
        throw LiteProofError(
            .usage,
            "\(location) holds no Litestream replica: expected generations/<id>/… (Litestream 0.3), ltx/<level>/… (0.5) or <level %04x>/… (0.5 on S3); \(hint)")
    }

    static func resolve(_ location: String) throws -> String {
        var path = location
        if location.hasPrefix("file://") {
            guard let url = URL(string: location), url.isFileURL else {
                throw LiteProofError(.usage, "cannot read the URL \(location)")
            }
            path = url.path
        } else if let scheme = location.range(of: "://") {
            let name = location[..<scheme.lowerBound]
            throw LiteProofError(
                .usage,
                name == "s3"
                    ? "Replica.open(_:) reads a folder or archive; an s3:// replica is read in place by the liteproof command, or in code with the LiteProofS3 product: Replica.open(storage: try S3Storage(url: \"\(location)\"))"
                    : name == "gs" || name == "gcs"
                        ? "Replica.open(_:) reads a folder or archive; a \(name):// replica is read in place by the liteproof command, or in code with the LiteProofGCS product: Replica.open(storage: try GCSStorage(url: \"\(location)\"))"
                        : "\(name):// replicas are not supported: pass a folder or archive (or an s3:// or gs:// URL to the liteproof command)"
            )
        }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        guard FS.exists(path) else { throw LiteProofError(.usage, "no such folder or archive: \(path)") }
        guard FS.isDirectory(path) || (ArchiveKind(fileName: path) != nil && ArchiveStorage.isRegularFile(path)) else {
            throw LiteProofError(
                .usage,
                "not a folder or a .tar/.tar.zst archive: \(path) (a replica is a folder of files, or a \(ArchiveKind.extensionList) archive of one)")
        }
        if !path.hasPrefix("/") {
            path = FileManager.default.currentDirectoryPath + "/" + path
        }
        return path
    }
}

/// A replica's files, by the Litestream version that wrote them.
public enum ReplicaLayout: Sendable {
    /// Litestream 0.3.x: generations of snapshots and WAL segments.
    case v03(V03Layout)
    /// Litestream 0.5.x: LTX files by compaction level.
    case ltx(LTXLayout)

    public var format: Replica.Format {
        switch self {
        case .v03: return .v03
        case .ltx: return .ltx
        }
    }
}

// MARK: - Litestream 0.3 layout

public struct V03Layout: Sendable {
    public var generations: [V03Generation]

    static func scan(files: [StoredFile]) -> (V03Layout, [String]) {
        var gens: [String: V03Generation] = [:]
        var strays: [String] = []
        for stored in files {
            let rel = stored.path
            let parts = rel.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4, V03Layout.isGenerationFolder(parts[0], parts[1]) else {
                strays.append(rel)
                continue
            }
            let id = parts[1]
            let size = stored.size
            let mtime = stored.modified
            let trusted = stored.timeTrusted
            if parts[2] == V03Layout.snapshotsFolder, parts[3].hasSuffix(".snapshot.lz4") {
                let stem = String(parts[3].dropLast(".snapshot.lz4".count))
                if isHex(stem, count: 8), let index = UInt32(stem, radix: 16) {
                    gens[id, default: V03Generation(id: id)].snapshots.append(
                        V03File(path: rel, index: index, offset: 0, size: size, modified: mtime, timeTrusted: trusted))
                    continue
                }
            } else if parts[2] == V03Layout.walFolder, parts[3].hasSuffix(".wal.lz4") {
                let stem = parts[3].dropLast(".wal.lz4".count).split(separator: "_").map(String.init)
                if stem.count == 2, isHex(stem[0], count: 8), stem[1].count >= 8, stem[1].count <= 16,
                    isHex(stem[1], count: stem[1].count),
                    let index = UInt32(stem[0], radix: 16), let offset = UInt64(stem[1], radix: 16),
                    offset <= UInt64(Int64.max)
                {
                    gens[id, default: V03Generation(id: id)].segments.append(
                        V03File(path: rel, index: index, offset: Int64(offset), size: size, modified: mtime, timeTrusted: trusted))
                    continue
                }
            }
            strays.append(rel)
        }
        var list = Array(gens.values)
        for i in list.indices {
            list[i].snapshots.sort { $0.index < $1.index }
            list[i].segments.sort { ($0.index, $0.offset) < ($1.index, $1.offset) }
        }
        list.sort { $0.id < $1.id }
        return (V03Layout(generations: list), strays)
    }
}

/// One file of a 0.3 replica: a snapshot (offset 0) or a WAL segment.
public struct V03File: Sendable, Hashable, Codable {
    public var path: String
    public var index: UInt32
    public var offset: Int64
    public var size: Int64
    /// File modification time (seconds since the epoch); Litestream uses it as the file's time.
    public var modified: Double?
    /// `modified` is the object store's LastModified (a bucket listing or a fetch manifest).
    public var timeTrusted = false

    public init(path: String, index: UInt32, offset: Int64, size: Int64, modified: Double? = nil, timeTrusted: Bool = false) {
        self.path = path
        self.index = index
        self.offset = offset
        self.size = size
        self.modified = modified
        self.timeTrusted = timeTrusted
    }

    enum CodingKeys: String, CodingKey {
        case path, index, offset, size, modified
    }
}

public struct V03Generation: Sendable {
    public var id: String
    public var snapshots: [V03File] = []
    public var segments: [V03File] = []

    init(id: String) { self.id = id }

    /// WAL indexes present, ascending.
    public var indexes: [UInt32] { Array(Set(segments.map(\.index))).sorted() }

    public func segments(of index: UInt32) -> [V03File] { segments.filter { $0.index == index } }

    public var allFiles: [V03File] { snapshots + segments }

    /// Earliest and latest file time, as Litestream bounds a generation.
    public var timeBounds: (Double, Double)? {
        let times = allFiles.compactMap(\.modified)
        guard let lo = times.min(), let hi = times.max() else { return nil }
        return (lo, hi)
    }

    public var maxIndex: UInt32? { (snapshots.map(\.index) + segments.map(\.index)).max() }
}

// MARK: - Litestream 0.5 layout

public struct LTXLayout: Sendable {
    public enum Style: String, Codable, Sendable {
        /// `ltx/<level decimal>/…` (file, GCS, ABS, SFTP, …)
        case file
        /// `<level %04x>/…` (S3, OSS)
        case s3
    }

    public static let snapshotLevel = 9

    public var style: Style
    public var files: [LTXFileRef]

    public func files(atLevel level: Int) -> [LTXFileRef] { files.filter { $0.level == level } }
    public var levels: [Int] { Array(Set(files.map(\.level))).sorted() }

    static func scan(files: [StoredFile]) -> (LTXLayout, [String])? {
        var refs: [LTXFileRef] = []
        var strays: [String] = []
        var style: Style?
        for stored in files {
            let rel = stored.path
            let parts = rel.split(separator: "/").map(String.init)
            // `ltx/<level>/<name>`, or `<level %04x>/<name>` on S3.
            let folder = (2...3).contains(parts.count) ? Style.level(of: parts.dropLast()) : nil
            if let (s, _) = folder, style == nil { style = s }
            guard let (_, level) = folder, let name = parts.last, let (lo, hi) = parseName(name) else {
                strays.append(rel)
                continue
            }
            refs.append(LTXFileRef(path: rel, level: level, minTXID: lo, maxTXID: hi, size: stored.size, modified: stored.modified))
        }
        guard let style, !refs.isEmpty else { return nil }
        refs.sort { ($0.level, $0.minTXID, $0.maxTXID) < ($1.level, $1.minTXID, $1.maxTXID) }
        return (LTXLayout(style: style, files: refs), strays)
    }

    /// `<min 16 hex>-<max 16 hex>.ltx`
    static func parseName(_ name: String) -> (UInt64, UInt64)? {
        guard name.hasSuffix(".ltx") else { return nil }
        let parts = name.dropLast(4).split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, isHex(parts[0], count: 16), isHex(parts[1], count: 16),
            let lo = UInt64(parts[0], radix: 16), let hi = UInt64(parts[1], radix: 16)
        else { return nil }
        return (lo, hi)
    }
}

public struct LTXFileRef: Sendable, Hashable, Codable {
    public var path: String
    public var level: Int
    public var minTXID: UInt64
    public var maxTXID: UInt64
    public var size: Int64
    public var modified: Double?
}

func isHex(_ s: String, count: Int) -> Bool {
    s.utf8.count == count && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
}
