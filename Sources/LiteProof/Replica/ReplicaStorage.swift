/// One file of a replica as its storage lists it.
public struct StoredFile: Sendable, Hashable {
    /// Path relative to the replica root, with `/` separators.
    public var path: String
    public var size: Int64
    /// Modification time (seconds since the epoch), when the storage keeps one.
    public var modified: Double?
    /// The time is the object store's (a bucket listing's LastModified, or the manifest of
    /// `liteproof fetch`), not a file time a copy may have rewritten.
    public var timeTrusted: Bool

    public init(path: String, size: Int64, modified: Double?, timeTrusted: Bool = false) {
        self.path = path
        self.size = size
        self.modified = modified
        self.timeTrusted = timeTrusted
    }
}

/// Where a replica's files live: a folder, or an archive of one. Readers only list and open.
public protocol ReplicaStorage: Sendable {
    /// What to call the replica in reports (a folder path, an archive path).
    var location: String { get }
    /// Every file, relative paths, any order.
    func files() -> [StoredFile]
    /// Opens one listed file for reading.
    func open(_ path: String) throws -> ReadOnlyFile
    /// Says which files are about to be read, in order, so a remote storage can fetch them ahead
    /// (several at once); local storages ignore it.
    func prefetch(_ paths: [String])
    /// Reads `count` bytes at `offset` of one listed file, fewer where the file ends. For reads
    /// that need only part of a file (an LTX header, the start of an LZ4 frame): a remote storage
    /// then fetches that range instead of the whole object.
    func read(_ path: String, offset: Int64, count: Int) throws -> [UInt8]
    /// Says the files will not be read again, so a remote storage can drop the local copies it
    /// made of them (a fleet's disk use then follows the replicas in flight, not the whole
    /// fleet); files already open stay readable. Local storages ignore it.
    func evict(_ paths: [String])
    /// Every read of a listed file that failed for good so far (a remote storage's downloads
    /// and ranged reads). A caller that shrugs off one unreadable read (a header while planning)
    /// still cannot draw a verdict without those bytes: commands end `unreadable` (exit 2) when
    /// this is not empty. Local storages report their failures by throwing and keep none.
    var failures: [LiteProofError] { get }
}

extension ReplicaStorage {
    public func prefetch(_ paths: [String]) {}

    public func evict(_ paths: [String]) {}

    public var failures: [LiteProofError] { [] }

    public func read(_ path: String, offset: Int64, count: Int) throws -> [UInt8] {
        let file = try open(path)
        // The buffer follows the bytes that exist, not the count asked for.
        let n = Int(max(0, min(Int64(max(0, count)), file.size - offset)))
        return n == 0 ? [] : try file.read(count: n, at: offset)
    }
}

/// A replica in a folder: a file replica, or a bucket prefix downloaded from object storage.
public struct DirectoryStorage: ReplicaStorage {
    public let root: String

    public init(root: String) { self.root = root }

    public var location: String { root }

    public func files() -> [StoredFile] {
        FS.walk(root).map { rel in
            let full = root + "/" + rel
            return StoredFile(path: rel, size: FS.fileSize(full) ?? 0, modified: FS.modificationTime(full))
        }
    }

    public func open(_ path: String) throws -> ReadOnlyFile {
        try ReadOnlyFile(root + "/" + path)
    }
}
