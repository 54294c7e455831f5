import Foundation
import LiteProof
import LiteProofStoreAnswers

/// A replica read straight from a bucket, whichever store holds it (S3's and GCS's storages are
/// this class with their client): the listing gives names, sizes and the store's times (the
/// trusted times); each object is downloaded once, when it is first opened or prefetched,
/// streamed into a scratch folder (``ScratchSpace``) that is removed when the storage goes away,
/// at exit or on a signal.
///
/// Only the objects that are opened (or prefetched) are fetched, so a restore reads the plan's
/// files and no others. Memory stays bounded: bodies go to disk, readers `pread` them; only
/// small objects are held in memory instead, within ``memoryBudget``.
// @unchecked: the download states, queue and heads take `condition`; the listing is immutable.
// The state is internal (not private) for the extensions in this module (`+Fetch`, `+Parts`),
// which take `condition` as this file does.
open class ObjectStorage: ReplicaStorage, @unchecked Sendable {
    /// The store's calls.
    public let store: any ObjectStoreClient
    public let location: String
    /// The listing below the prefix, paths relative to it, in ascending UTF-8 order (as stores
    /// list keys; see ``position(_:)``).
    public let listing: [StoredFile]
    /// Each listed object's tag (S3's ETag, GCS's generation), by position in ``listing``.
    let tags: [ListedTag]
    /// The key prefix ``listing``'s paths are relative to (ending in `/`, or empty).
    public let keyPrefix: String
    /// Most GETs in flight at once for prefetches, whole objects and ranged parts together.
    public let concurrency: Int
    /// One slot per GET of a prefetch or a download in flight (whole object or part), so the
    /// connections open at once, and what the transport buffers for each, stay at
    /// ``concurrency`` however many objects are large (8 workers × 4 parts were 32 connections:
    /// a 0.3 restore from SeaweedFS peaked at 100–125 MB, 63 MB from files).
    let connections: DispatchSemaphore
    /// The folder holding the local copies of downloaded objects (removed with the storage).
    public let scratch: String

    enum State {
        case downloading
        /// Downloading in ranged parts into this local file, readable as they land.
        case arriving(String, Arrival)
        case done(String)
        /// Downloaded into memory (a small object; see ``memoryObjectsUpTo``).
        case held([UInt8])
        case failed(Error)
    }

    let condition = NSCondition()
    var states: [String: State] = [:]
    var queue: [String] = []
    var queued = Set<String>()
    var workers = 0
    /// Bytes of the objects prefetching has started (downloading or downloaded) that no reader
    /// has opened yet, and those objects: the read-ahead ``prefetchAhead`` bounds.
    var ahead: Int64 = 0
    var aheadPaths = Set<String>()
    /// Every download and ranged read that failed for good, as it failed (path, error): kept
    /// apart so ``failures`` costs what failed, not the whole listing (a fleet asks once per
    /// replica).
    var failed: [(String, Error)] = []
    /// The first bytes of objects read as a range (at most ``headBytes`` each, so bounded by the
    /// listing): a header is often read again (an LTX header by `inspect`, then by the plan).
    var heads: [String: [UInt8]] = [:]
    /// Objects evicted while still arriving: their local copies go once their downloads end.
    var evictWhenDone = Set<String>()
    static let headBytes = 512
    /// Objects up to this size are downloaded whole even when only part is read: one GET either
    /// way, and the rest is often read next. `Int64.max` turns ranged reads off.
    public var wholeObjectsUpTo: Int64 = 32 << 10
    /// Objects larger than this are downloaded in ranged parts (see ``download(_:to:)``).
    public var partsAbove: Int64 = 16 << 20
    /// The size of those parts, and how many of one object's parts are in flight at once (within
    /// ``concurrency``). 8: a part's connection is capped by the network, not by this side; a
    /// 0.5 update-heavy restore (its snapshot one object of 140 MB) through the shaping proxy at
    /// 100 MB/s per connection took 0.74–0.88 s with 4 and 0.62–0.67 s with 8 at 0 ms, 0.94–0.99 s
    /// and 0.75–0.77 s at 20 ms (12: no faster), for 1 MB more memory.
    public var partSize: Int64 = 8 << 20
    public var partsInFlight = 8
    /// Prefetching starts an object only while the objects it has fetched ahead of the readers
    /// (not yet opened) hold at most this many bytes, one object always: the scratch folder then
    /// follows what is read, not the replica's size, when readers ``evict`` what they are done with
    /// (a 0.3 restore evicts each file once applied).
    public var prefetchAhead: Int64 = 256 << 20
    /// Objects up to this size are downloaded into memory rather than into a scratch file, while
    /// the objects held stay within ``memoryBudget`` bytes (past it, into files as the others).
    /// The store's policy sets it (``TransferPolicy/memoryObjectBytes``, 64 KiB unless changed).
    /// A fleet's objects are a few KiB each: a scratch file made and removed for each cost more
    /// CPU than its transfer (ext4 looks for a free inode past the ones just removed).
    public var memoryObjectsUpTo: Int64 = 64 << 10
    /// Most bytes of objects held in memory at once.
    public var memoryBudget: Int64 = 2 << 20
    /// Bytes of the objects held in memory now (``State/held(_:)``).
    var heldBytes: Int64 = 0
    /// The prefetch threads, joined by `deinit` (see ``JoinableThread``).
    var threads: [JoinableThread] = []

    /// Lists every object below `prefix` (a key prefix ending in `/`, or empty) with `store`;
    /// `location` names the replica in reports (its URL), `scratchPrefix` the scratch folder.
    /// `concurrency` (nil: the policy's ``TransferPolicy/connections``) bounds the requests in flight.
    public init(store: any ObjectStoreClient, location: String, prefix: String, concurrency: Int? = nil, scratchPrefix: String) throws {
        self.store = store
        memoryObjectsUpTo = store.policy.memoryObjectBytes
        self.concurrency = max(1, concurrency ?? store.policy.connections)
        connections = DispatchSemaphore(value: self.concurrency)
        self.location = location
        // Each object once, as a path, a size, a time and a tag: no dictionary by path and no
        // second copy of each key (a fleet of 10,000 replicas on S3, 115,000 objects, held 30 MB
        // of them); lookups search the sorted listing.
        var files: [StoredFile] = []
        var tags: [ListedTag] = []
        for o in try store.list(prefix: prefix, keep: { $0.key.hasPrefix(prefix) && !$0.key.hasSuffix("/") }) {
            files.append(StoredFile(path: String(o.key.dropFirst(prefix.count)), size: o.size, modified: o.lastModified, timeTrusted: true))
            tags.append(ListedTag(o.etag))
        }
        if !zip(files, files.dropFirst()).allSatisfy({ ListingReader.precedes($0.path, $1.path) }) {
            // Every store lists in ascending UTF-8 order (``ListingReader`` refuses any other);
            // a client that did not would still be searched right.
            let order = files.indices.sorted { ListingReader.precedes(files[$0].path, files[$1].path) }
            files = order.map { files[$0] }
            tags = order.map { tags[$0] }
        }
        listing = files
        self.tags = tags
        keyPrefix = prefix
        scratch = try ScratchSpace.makeFolder(prefix: scratchPrefix)
    }

    /// Writes `liteproof: note: NOTE` on stderr.
    public static func noteOnStderr(_ note: String) {
        FileHandle.standardError.write(Data("liteproof: note: \(note)\n".utf8))
    }

    deinit {
        condition.lock()
        queue.removeAll()
        condition.broadcast()
        while workers > 0 { condition.wait() }
        let started = threads
        threads.removeAll()
        condition.unlock()
        // Each has left `work()`; joining waits for the rest of its end.
        for thread in started { thread.join() }
        ScratchSpace.release(scratch)
    }

    public func files() -> [StoredFile] { listing }

    /// Downloads and ranged reads that failed after their retries: storage failures, never
    /// damage in the replica.
    public var failures: [LiteProofError] {
        condition.lock()
        defer { condition.unlock() }
        // Each names the file (relative to the prefix), so a fleet can tell whose it is.
        return failed.map { path, error in
            var e = LiteProofError(wrapping: error)
            if e.path == nil { e.path = path }
            return e
        }
    }

    /// The object's local copy, downloading it unless it is there or on its way; one that is
    /// arriving in parts is readable at once, each read waiting for its own bytes (a 0.3
    /// snapshot then decodes while the rest of it downloads).
    public func open(_ path: String) throws -> ReadOnlyFile {
        defer { opened(path) }
        switch try localCopy(path) {
        case .file(let local):
            return try ReadOnlyFile(local, displayName: path)
        case .arriving(let local, let arrival):
            return try ReadOnlyFile(arriving: local, size: listedSize(path) ?? 0, arrival: arrival, displayName: path)
        case .memory(let bytes):
            return ReadOnlyFile(bytes: bytes, displayName: path)
        }
    }

    /// A reader has `path`: its bytes no longer count as read ahead.
    private func opened(_ path: String) {
        condition.lock()
        if aheadPaths.remove(path) != nil {
            ahead -= listedSize(path) ?? 0
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Starts downloading `paths` in the background, at most ``concurrency`` at once, in order.
    public func prefetch(_ paths: [String]) {
        condition.lock()
        var seen = Set(queue)
        for p in paths where states[p] == nil && position(p) != nil && !seen.contains(p) {
            queue.append(p)
            queued.insert(p)
            seen.insert(p)
        }
        // Threads of earlier prefetches that have all left `work()`: joined now rather than kept.
        if workers == 0 {
            for thread in threads { thread.join() }
            threads.removeAll()
        }
        // The threads hold no reference to the storage: the last one is the owner's, so `deinit`
        // never runs on a prefetch thread (where it would race the process's exit); it waits
        // for them instead. `unowned(unsafe)`: a thread that starts only after the owner let go
        // runs `work()` on the storage while its `deinit` waits for `workers` to reach 0 (the
        // memory stays until then), where a checked `unowned` load would trap ("already
        // destroyed"), as it did when a command ended before its prefetch threads had started.
        for _ in 0..<max(0, min(concurrency - workers, queue.count)) {
            guard let thread = try? JoinableThread(stackSize: 512 << 10, { [unowned(unsafe) self] in self.work() }) else { break }
            threads.append(thread)
            workers += 1
        }
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            // Past the read-ahead bound, wait for a reader to open something (or the queue to go).
            while let next = queue.first, ahead > 0, ahead + (listedSize(next) ?? 0) > prefetchAhead {
                condition.wait()
            }
            guard !queue.isEmpty else {
                workers -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let path = queue.removeFirst()
            queued.remove(path)
            // Claimed under the lock of the dequeue: a path a reader fetched since it was queued
            // (and may have evicted already) is not fetched again.
            guard states[path] == nil, let object = object(path) else {
                condition.unlock()
                continue
            }
            states[path] = .downloading
            ahead += object.size
            aheadPaths.insert(path)
            condition.unlock()
            fetch(object, path)
        }
    }

    /// Part of one object: a `Range:` GET, unless the object is small, nearly all of it (8/9) is asked for, or
    /// it is downloaded, on its way or queued (then the local copy). A range that fails for good
    /// counts among ``failures``, so a caller that shrugs off an unreadable header does not
    /// turn a transfer problem into a verdict.
    public func read(_ path: String, offset: Int64, count: Int) throws -> [UInt8] {
        guard let object = object(path) else {
            throw LiteProofError.storage(.missing, "\(location)/\(path) is not in the bucket's listing")
        }
        let n = max(0, min(Int64(max(0, count)), object.size - offset))
        if n == 0 { return [] }
        condition.lock()
        let wanted = states[path] != nil || queued.contains(path)
        let head = heads[path]
        condition.unlock()
        if let head, offset + n <= Int64(head.count) { return Array(head[Int(offset)..<Int(offset + n)]) }
        if wanted || object.size <= wholeObjectsUpTo || n + n / 8 >= object.size {
            // A read of the local copy counts as opening it (a reader that reads only ranges of
            // what was prefetched must not hold the read-ahead bound).
            return try open(path).read(count: Int(n), at: offset)
        }
        let part = scratch + "/range-" + UUID().uuidString
        defer { FS.remove(part) }
        do {
            if try store.download(key: object.key, range: offset, length: n, objectSize: object.size, to: part) {
                // The server sent the whole object: keep it as the local copy.
                let local = localName(path)
                condition.lock()
                if states[path] == nil, rename(part, local) == 0 {
                    states[path] = .done(local)
                    condition.unlock()
                    return try ReadOnlyFile(local, displayName: path).read(count: Int(n), at: offset)
                }
                condition.unlock()
                return try ReadOnlyFile(part, displayName: path).read(count: Int(n), at: offset)
            }
            let bytes = try ReadOnlyFile(part, displayName: path).read(count: Int(n), at: 0)
            if offset == 0 && bytes.count <= Self.headBytes {
                condition.lock()
                heads[path] = bytes
                condition.unlock()
            }
            return bytes
        } catch {
            condition.lock()
            failed.append((path, error))
            condition.unlock()
            throw error
        }
    }

    /// The local copy of `path` if it was downloaded already (e.g. while planning), else nil.
    package func downloadedCopy(_ path: String) -> String? {
        condition.lock()
        defer { condition.unlock() }
        if case .done(let local) = states[path] { return local }
        return nil
    }

    /// The bytes of `path` if it was downloaded into memory already (e.g. while planning), else nil.
    package func downloadedBytes(_ path: String) -> [UInt8]? {
        condition.lock()
        defer { condition.unlock() }
        if case .held(let bytes) = states[path] { return bytes }
        return nil
    }

    /// The scratch file of `path`: a hash of it (paths differing only in `/` and `_` stay
    /// apart), then the path with `_` for `/`. Built by hand: `String(format:)` and
    /// `replacingOccurrences` cost 4% of a fleet's CPU on S3.
    func localName(_ path: String) -> String {
        let hash = UInt32(truncatingIfNeeded: path.hashValue)
        let digits = String(hash, radix: 16)
        var name = scratch + "/" + String(repeating: "0", count: 8 - digits.count) + digits + "-"
        name.unicodeScalars.append(contentsOf: path.unicodeScalars.lazy.map { $0 == "/" ? "_" : $0 })
        return name
    }

    /// Removes the local copies of `paths` (files already open stay readable until closed) and
    /// forgets them: a later read downloads the object again.
    public func evict(_ paths: [String]) {
        condition.lock()
        // Prefetches still queued for them go too: a prefetch thread that reached one after the
        // reader had fetched it itself and evicted it would download it again (a second GET of
        // the object, and a local copy nobody removes until the storage goes; seen in fleets).
        let evicted = Set(paths)
        if !queued.isDisjoint(with: evicted) {
            queue.removeAll { evicted.contains($0) }
            queued.subtract(evicted)
        }
        var removed: [String] = []
        for p in paths {
            switch states[p] {
            case .done(let local):
                states[p] = nil
                heads[p] = nil
                removed.append(local)
            case .held(let bytes):
                states[p] = nil
                heads[p] = nil
                heldBytes -= Int64(bytes.count)
            case .arriving, .downloading:
                // Its download removes it when it ends (a reader that read all of it may
                // evict it a moment before; a replica that could not be opened evicts the
                // prefetches still on their way, which must not keep their memory).
                evictWhenDone.insert(p)
            default: continue
            }
            if aheadPaths.remove(p) != nil {
                ahead -= listedSize(p) ?? 0
                condition.broadcast()
            }
        }
        condition.unlock()
        for local in removed { FS.remove(local) }
    }
}
