/// Counts the requests made through a storage, by operation and result: what `watch` reports as
/// `liteproof_storage_requests_total{op,result}`. Shared by every round of one replica (and safe
/// to read from another thread while a round runs).
public final class StorageRequestCounts: Sendable {
    /// One kind of request: a listing, an open of a whole file, a read of a range.
    public enum Operation: String, Sendable, CaseIterable {
        case list, open, read
    }

    /// How a request ended: `ok`, or `error` when it threw (or, for a listing, when the storage
    /// recorded a new failure while it listed).
    public enum Result: String, Sendable, CaseIterable {
        case ok, error
    }

    public struct Key: Hashable, Sendable {
        public var operation: Operation
        public var result: Result

        public init(operation: Operation, result: Result) {
            self.operation = operation
            self.result = result
        }
    }

    private let counts = Locked<[Key: Int]>([:])

    public init() {}

    /// Counts one request.
    public func record(_ operation: Operation, _ result: Result) {
        counts.withLock { $0[Key(operation: operation, result: result), default: 0] += 1 }
    }

    /// The counts so far (requests never made are absent).
    public var current: [Key: Int] { counts.current }
}

/// A storage that forwards every request to `base` and counts it in `counts`; works for every
/// back end (a folder, an archive, S3), since it sees only ``ReplicaStorage``'s requests.
public struct CountingStorage: ReplicaStorage {
    public let base: any ReplicaStorage
    public let counts: StorageRequestCounts

    public init(_ base: any ReplicaStorage, counts: StorageRequestCounts) {
        self.base = base
        self.counts = counts
    }

    public var location: String { base.location }

    public func files() -> [StoredFile] {
        let failuresBefore = base.failures.count
        let listed = base.files()
        counts.record(.list, base.failures.count > failuresBefore ? .error : .ok)
        return listed
    }

    public func open(_ path: String) throws -> ReadOnlyFile {
        try counted(.open) { try base.open(path) }
    }

    public func read(_ path: String, offset: Int64, count: Int) throws -> [UInt8] {
        try counted(.read) { try base.read(path, offset: offset, count: count) }
    }

    public func prefetch(_ paths: [String]) { base.prefetch(paths) }

    public func evict(_ paths: [String]) { base.evict(paths) }

    public var failures: [LiteProofError] { base.failures }

    private func counted<T>(_ operation: StorageRequestCounts.Operation, _ body: () throws -> T) throws -> T {
        do {
            let value = try body()
            counts.record(operation, .ok)
            return value
        } catch {
            counts.record(operation, .error)
            throw error
        }
    }
}
