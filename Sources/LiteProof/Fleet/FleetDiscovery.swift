/// One replica found below a fleet root.
public struct DiscoveredReplica: Sendable {
    /// The replica's path relative to the fleet root, with `/` separators ("." for the root itself).
    public var name: String
    /// The prefix of its files in the fleet listing ("" for the root itself, else `name/`).
    public var prefix: String
    /// The fleet listing, and where this replica's files are in it, in path order: its files are
    /// made from these when asked for, one replica at a time, rather than a copy of every path
    /// of the fleet held from discovery to the end (10 MB for 10,000 replicas).
    let listing: [StoredFile]
    let members: [Int]
    /// The sum of its files' sizes.
    public let bytes: Int64

    init(name: String, prefix: String, listing: [StoredFile], members: [Int]) {
        self.name = name
        self.prefix = prefix
        self.listing = listing
        self.members = members
        bytes = members.reduce(0) { $0 + listing[$1].size }
    }

    /// Its files, relative to the replica root, sorted by path.
    public var files: [StoredFile] {
        members.map { i in
            var file = listing[i]
            file.path = String(file.path.dropFirst(prefix.count))
            return file
        }
    }
}

/// Finds the replicas in a listing of files (path, size, time) below a fleet root, any depth.
///
/// The listing can come from a folder, an archive or an object-store prefix: discovery reads no
/// file. A replica is a folder holding a Litestream 0.3 layout (`generations/<16 hex>/snapshots|wal/…`)
/// or a 0.5 layout (`ltx/<level>/<min>-<max>.ltx`, or `<level %04x>/<min>-<max>.ltx` as on S3).
/// Discovery does not descend into a replica it found: a layout below another replica's root is
/// part of that replica (a stray there), not a replica of its own.
public enum FleetDiscovery {
    /// The replicas in `listing`, sorted by name; each gets every listed file below its root.
    public static func discover(_ listing: [StoredFile]) -> [DiscoveredReplica] {
        var roots = Set<String>()
        for file in listing {
            if let root = replicaRoot(of: file.path) { roots.insert(root) }
        }
        // Keep the outermost roots only ("" is above everything).
        let sorted = roots.sorted()
        var kept: [String] = []
        for root in sorted where !kept.contains(where: { isAncestor($0, of: root) }) {
            kept.append(root)
        }
        var membersByRoot: [String: [Int]] = [:]
        let keptSet = Set(kept)
        for (i, file) in listing.enumerated() {
            guard let root = owner(of: file.path, roots: keptSet) else { continue }
            membersByRoot[root, default: []].append(i)
        }
        return kept.map { root in
            DiscoveredReplica(
                name: root.isEmpty ? "." : root, prefix: root.isEmpty ? "" : root + "/", listing: listing,
                members: (membersByRoot[root] ?? []).sorted { listing[$0].path < listing[$1].path })
        }
    }

    /// The root (a folder path relative to the listing, "" for the listing's own root) of the
    /// replica layout `path` belongs to, or nil when the file is not part of a layout.
    static func replicaRoot(of path: String) -> String? {
        let c = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let n = c.count
        // A 0.3 file is 4 components below its root, a 0.5 file 3 (`ltx/`) or 2 (S3 style).
        if n >= 4, V03Layout.isGenerationFolder(c[n - 4], c[n - 3]), V03Layout.isFileFolder(c[n - 2]) {
            return join(c[0..<(n - 4)])
        }
        guard n >= 2, LTXLayout.parseName(c[n - 1]) != nil else { return nil }
        if n >= 3, let (style, _) = LTXLayout.Style.level(of: c[(n - 3)..<(n - 1)]), style == .file {
            return join(c[0..<(n - 3)])
        }
        if let (style, _) = LTXLayout.Style.level(of: c[(n - 2)..<(n - 1)]), style == .s3 {
            return join(c[0..<(n - 2)])
        }
        return nil
    }

    static func join(_ parts: ArraySlice<String>) -> String { parts.joined(separator: "/") }

    static func isAncestor(_ a: String, of b: String) -> Bool {
        a != b && (a.isEmpty || b.hasPrefix(a + "/"))
    }

    /// The kept root a file lies below (roots never nest, so there is at most one).
    static func owner(of path: String, roots: Set<String>) -> String? {
        if roots.contains("") { return "" }
        var end = path.endIndex
        while let slash = path[..<end].lastIndex(of: "/") {
            let candidate = String(path[..<slash])
            if roots.contains(candidate) { return candidate }
            end = slash
        }
        return nil
    }
}

/// One of N disjoint parts of a fleet, chosen by a stable hash of each replica's name.
///
/// The hash is FNV-1a 64 of the name's UTF-8 bytes (the path relative to the fleet root, `/`
/// separators, no leading or trailing `/`); a replica is in shard `hash % count`. It depends on
/// nothing but the name, so every machine and every LiteProof version agrees on the split.
public struct FleetShard: Sendable, Hashable, CustomStringConvertible {
    public static let maxCount = 1_000_000

    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, count <= Self.maxCount else {
            throw LiteProofError(.usage, "a shard count must be 1…\(Self.maxCount); got \(count)")
        }
        guard index >= 0, index < count else {
            throw LiteProofError(.usage, "shard index \(index) is out of range for \(count) shards (0…\(count - 1))")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N` (e.g. `0/3`).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw LiteProofError(.usage, "a shard is I/N, e.g. 0/3 (shard index from 0, then the number of shards); got \"\(text)\"")
        }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    public func contains(_ name: String) -> Bool {
        Int(Self.hash(name) % UInt64(count)) == index
    }

    /// FNV-1a, 64 bits.
    public static func hash(_ name: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }
}

/// The files of one replica inside a larger storage (a fleet folder, archive or prefix).
public struct SubtreeStorage: ReplicaStorage {
    public let base: any ReplicaStorage
    /// `name/`, or "" for the base's root.
    public let prefix: String
    let listing: [StoredFile]

    public init(base: any ReplicaStorage, replica: DiscoveredReplica, files: [StoredFile]? = nil) {
        self.base = base
        self.prefix = replica.prefix
        self.listing = files ?? replica.files
    }

    public var location: String { prefix.isEmpty ? base.location : base.location + "/" + prefix.dropLast() }

    public func files() -> [StoredFile] { listing }

    public func open(_ path: String) throws -> ReadOnlyFile { try base.open(prefix + path) }

    public func prefetch(_ paths: [String]) { base.prefetch(paths.map { prefix + $0 }) }

    public func read(_ path: String, offset: Int64, count: Int) throws -> [UInt8] {
        try base.read(prefix + path, offset: offset, count: count)
    }

    public func evict(_ paths: [String]) { base.evict(paths.map { prefix + $0 }) }

    /// The base's failures of files below the prefix, named relative to it.
    public var failures: [LiteProofError] {
        base.failures.compactMap { e in
            guard let path = e.path, path.hasPrefix(prefix) else { return nil }
            var mine = e
            mine.path = String(path.dropFirst(prefix.count))
            return mine
        }
    }
}
