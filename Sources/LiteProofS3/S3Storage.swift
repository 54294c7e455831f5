import Foundation
import LiteProof

/// A replica read straight from a bucket: the listing gives names, sizes and LastModified (the
/// trusted times); each object is downloaded once, when it is first opened or prefetched,
/// streamed into a scratch folder (``ScratchSpace``) that is removed when the storage goes away, at exit
/// or on a signal.
///
/// Only the objects that are opened (or prefetched) are fetched, so a restore reads the plan's
/// files and no others. Memory stays bounded: bodies go to disk, readers `pread` them.
public final class S3Storage: ReplicaStorage, @unchecked Sendable {
    public let client: S3Client
    public let location: String
    /// The listing below the prefix, paths relative to it.
    public let listing: [StoredFile]
    /// ETags by relative path.
    public let objects: [String: S3Object]
    /// Most GETs in flight at once for prefetches.
    public let concurrency: Int
    let scratch: String

    private enum State {
        case downloading
        case done(String)
        case failed(Error)
    }

    private let condition = NSCondition()
    private var states: [String: State] = [:]
    private var queue: [String] = []
    private var workers = 0
    /// The prefetch threads, joined by `deinit` (see ``JoinableThread``).
    private var threads: [JoinableThread] = []

    /// Lists `s3://…` (`url`, with `?endpoint=&region=&forcePathStyle=`) with credentials from
    /// `environment` and the AWS configuration files.
    public convenience init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment, concurrency: Int = 8) throws {
        let location = try S3Location(url: url)
        try self.init(client: S3Client(config: try S3Config.resolve(location, environment: environment)), concurrency: concurrency)
    }

    public init(client: S3Client, concurrency: Int = 8) throws {
        self.client = client
        self.concurrency = max(1, concurrency)
        let loc = client.config.location
        location = loc.display
        let prefix = loc.prefix.isEmpty ? "" : loc.prefix + "/"
        var files: [StoredFile] = []
        var objects: [String: S3Object] = [:]
        for o in try client.list(prefix: prefix) where o.key.hasPrefix(prefix) && !o.key.hasSuffix("/") {
            let rel = String(o.key.dropFirst(prefix.count))
            files.append(StoredFile(path: rel, size: o.size, modified: o.lastModified))
            objects[rel] = o
        }
        listing = files
        self.objects = objects
        scratch = try ScratchSpace.makeFolder(prefix: "liteproof-s3")
    }

    deinit {
        condition.lock()
        queue.removeAll()
        while workers > 0 { condition.wait() }
        let started = threads
        threads.removeAll()
        condition.unlock()
        // Each has left `work()`; joining waits for the rest of its end.
        for thread in started { thread.join() }
        ScratchSpace.release(scratch)
    }

    public func files() -> [StoredFile] { listing }

    /// Downloads that failed after their retries (a transfer problem, not damage in the replica).
    public var transferFailures: [Error] {
        condition.lock()
        defer { condition.unlock() }
        return listing.compactMap { f in
            if case .failed(let e) = states[f.path] { return e }
            return nil
        }
    }

    public func open(_ path: String) throws -> ReadOnlyFile {
        try ReadOnlyFile(try localCopy(path), displayName: path)
    }

    /// Starts downloading `paths` in the background, at most ``concurrency`` at once, in order.
    public func prefetch(_ paths: [String]) {
        condition.lock()
        var seen = Set(queue)
        for p in paths where states[p] == nil && objects[p] != nil && !seen.contains(p) {
            queue.append(p)
            seen.insert(p)
        }
        // Threads of earlier prefetches that have all left `work()`: joined now rather than kept.
        if workers == 0 {
            for thread in threads { thread.join() }
            threads.removeAll()
        }
        // The threads hold no reference to the storage: the last one is the owner's, so `deinit`
        // never runs on a prefetch thread (where it would race the process's exit); it waits
        // for them instead.
        for _ in 0..<max(0, min(concurrency - workers, queue.count)) {
            guard let thread = try? JoinableThread(stackSize: 512 << 10, { [unowned self] in self.work() }) else { break }
            threads.append(thread)
            workers += 1
        }
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            guard !queue.isEmpty else {
                workers -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let path = queue.removeFirst()
            condition.unlock()
            _ = try? localCopy(path)
        }
    }

    /// The local file holding `path`, downloading it unless it is there or on its way.
    func localCopy(_ path: String) throws -> String {
        guard let object = objects[path] else {
            throw LiteProofError(.io, "\(location)/\(path) is not in the bucket's listing")
        }
        condition.lock()
        while true {
            switch states[path] {
            case .done(let local):
                condition.unlock()
                return local
            case .failed(let error):
                condition.unlock()
                throw error
            case .downloading:
                condition.wait()
            case nil:
                states[path] = .downloading
                condition.unlock()
                let local =
                    scratch + "/" + String(format: "%08x", UInt32(truncatingIfNeeded: path.hashValue)) + "-"
                    + path.replacingOccurrences(of: "/", with: "_")
                let result: State
                do {
                    try client.download(key: object.key, to: local, expectedSize: object.size)
                    result = .done(local)
                } catch {
                    result = .failed(error)
                }
                condition.lock()
                states[path] = result
                condition.broadcast()
            }
        }
    }
}
