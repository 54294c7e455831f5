import Foundation
import LiteProof

/// `liteproof fetch`: copies a replica from a bucket into a folder for offline work. Each file
/// gets its object's LastModified as its modification time (the time 0.3 generation choice and
/// `--timestamp` trust), and ``S3Fetch/manifestName`` records key, size, ETag and LastModified.
/// A second run skips the files already there with the same size and ETag.
public struct S3Fetch: Sendable {
    public static let manifestName = Replica.fetchManifestName

    public typealias Entry = FetchManifest.Entry
    public typealias Manifest = FetchManifest

    public struct Summary: Sendable {
        public var downloaded = 0
        public var skipped = 0
        public var bytesDownloaded: Int64 = 0
        public var files = 0
    }

    public let storage: S3Storage
    public let destination: String
    /// Called after each file (done, total).
    public var progress: (@Sendable (Int, Int) -> Void)?
    /// Only these files (paths relative to the prefix), and the position they restore to, for a
    /// partial copy (``limit(to:)``); nil fetches everything.
    public private(set) var only: (files: Set<String>, position: Position)?

    public init(storage: S3Storage, destination: String) {
        self.storage = storage
        self.destination = destination
    }

    /// Limits the fetch to the files a restore to `position` applies (planned on the bucket's
    /// listing, as `restore` plans it); the manifest then says the copy is partial. Returns the plan.
    @discardableResult
    public mutating func limit(to position: Position) throws -> RestorePlan {
        let plan = try Restorer(replica: try Replica.open(storage: storage)).plan(position.target)
        only = (Set(plan.files), plan.position)
        return plan
    }

    public static func readManifest(_ folder: String) -> Manifest? {
        guard let data = FileManager.default.contents(atPath: folder + "/" + manifestName) else { return nil }
        return try? JSONDecoder().decode(Manifest.self, from: data)
    }

    public func run() throws -> Summary {
        if FS.exists(destination) && !FS.isDirectory(destination) {
            throw LiteProofError(.usage, "\(destination) exists and is not a folder")
        }
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        let previous = Dictionary(
            (Self.readManifest(destination)?.files ?? []).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let objects = storage.listing.compactMap { f in storage.objects[f.path].map { (f.path, $0) } }
            .filter { only?.files.contains($0.0) ?? true }
        for (path, _) in objects where path == Self.manifestName || path.split(separator: "/").contains("..") {
            throw LiteProofError(.usage, "refusing to write \(path) from the bucket into \(destination)")
        }
        let summary = Locked(Summary())
        let entries = Locked([String: Entry]())
        let failures = Locked([String]())
        let next = Locked(0)
        summary.withLock { $0.files = objects.count }

        let workers = min(storage.concurrency, max(1, objects.count))
        // Joined threads (see ``JoinableThread``): none outlives this call, so none releases the
        // storage (its S3 client and URL session) while the process exits.
        let work: @Sendable () -> Void = {
            while true {
                let i = next.withLock { n -> Int in
                    n += 1
                    return n - 1
                }
                guard i < objects.count else { return }
                let (path, o) = objects[i]
                let local = destination + "/" + path
                if let old = previous[path], old.size == o.size, old.etag == o.etag, FS.fileSize(local) == o.size {
                    Self.setTime(local, o.lastModified)
                    entries.withLock { $0[path] = Self.entry(path, o) }
                    summary.withLock { $0.skipped += 1 }
                } else {
                    do {
                        try FileManager.default.createDirectory(
                            atPath: (local as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                        let partial = local + ".liteproof-partial"
                        // Planning `--position` may have downloaded the object already.
                        if let copy = storage.downloadedCopy(path), FS.fileSize(copy) == o.size {
                            FS.remove(partial)
                            try FileManager.default.copyItem(atPath: copy, toPath: partial)
                        } else {
                            try storage.client.download(key: o.key, to: partial, expectedSize: o.size)
                        }
                        Self.setTime(partial, o.lastModified)
                        guard rename(partial, local) == 0 else {
                            throw LiteProofError.storage(.local, "cannot rename \(partial) to \(local): \(String(cString: strerror(errno)))")
                        }
                        entries.withLock { $0[path] = Self.entry(path, o) }
                        summary.withLock {
                            $0.downloaded += 1
                            $0.bytesDownloaded += o.size
                        }
                    } catch {
                        failures.withLock { $0.append("\(path): \(error)") }
                    }
                }
                let done = summary.withLock { $0.downloaded + $0.skipped }
                progress?(done, objects.count)
            }
        }
        JoinableThread.runAll(workers, stackSize: 512 << 10, work)
        // The manifest lists what is in the folder now, so a failed run resumes where it stopped.
        let kept = entries.withLock { $0 }.values.sorted { $0.path < $1.path }
        let manifest = Manifest(
            source: storage.location, fetched: Self.formatTime(Date().timeIntervalSince1970), files: kept, partialTo: only?.position.description)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let tmp = destination + "/" + Self.manifestName + ".tmp"
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, destination + "/" + Self.manifestName) == 0 else {
            throw LiteProofError.storage(.local, "cannot write \(destination)/\(Self.manifestName)")
        }
        let failed = failures.withLock { $0 }
        if !failed.isEmpty {
            throw LiteProofError(
                .storage(.transfer),
                "\(failed.count) of \(objects.count) files could not be fetched (run again to resume): \(failed.prefix(3).joined(separator: "; "))")
        }
        return summary.withLock { $0 }
    }

    static func entry(_ path: String, _ o: S3Object) -> Entry {
        Entry(path: path, key: o.key, size: o.size, etag: o.etag, lastModified: formatTime(o.lastModified), modified: o.lastModified)
    }

    static func setTime(_ path: String, _ seconds: Double) {
        let whole = seconds.rounded(.down)
        var times = [
            timespec(tv_sec: Int(whole), tv_nsec: Int((seconds - whole) * 1e9)),
            timespec(tv_sec: Int(whole), tv_nsec: Int((seconds - whole) * 1e9)),
        ]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    static func formatTime(_ seconds: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: seconds))
    }
}
