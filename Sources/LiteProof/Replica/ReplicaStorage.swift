/// One file of a replica as its storage lists it.
public struct StoredFile: Sendable, Hashable {
    /// Path relative to the replica root, with `/` separators.
    public var path: String
    public var size: Int64
    /// Modification time (seconds since the epoch), when the storage keeps one.
    public var modified: Double?

    public init(path: String, size: Int64, modified: Double?) {
        self.path = path
        self.size = size
        self.modified = modified
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
}

extension ReplicaStorage {
    public func prefetch(_ paths: [String]) {}
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
