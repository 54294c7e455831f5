import Foundation
import LiteProof
import LiteProofStoreAnswers

/// `liteproof fetch`: copies a replica from a bucket (S3 or GCS) into a folder for offline work.
/// Each file gets its object's time (S3's LastModified, GCS's `updated`) as its modification time
/// (the time 0.3 generation choice and `--timestamp` trust), and ``ObjectFetch/manifestName``
/// records key, size, ETag (GCS: generation) and that time.
/// The manifest is rewritten (atomically) as files finish, so a run that is killed resumes where
/// it stopped: a second run skips the files already there with the same size and ETag, and those
/// finished after the last manifest write (same size, and the object's LastModified as file time,
/// which only a finished download gets).
public struct ObjectFetch: ReplicaFetch, Sendable {
    public static let manifestName = Replica.fetchManifestName

    public typealias Entry = FetchManifest.Entry
    public typealias Manifest = FetchManifest

    public typealias Summary = FetchSummary

    public let storage: ObjectStorage
    public let destination: String
    /// Called after each file (done, total).
    public var progress: (@Sendable (Int, Int) -> Void)?
    /// Only these files (paths relative to the prefix), and the position they restore to, for a
    /// partial copy (``limit(to:)``); nil fetches everything.
    public private(set) var only: (files: Set<String>, position: Position)?

    public init(storage: ObjectStorage, destination: String) {
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
        let objects = storage.listing.indices.map { (storage.listing[$0].path, storage.object(at: $0)) }
            .filter { only?.files.contains($0.0) ?? true }
        for (path, _) in objects where path == Self.manifestName || path.split(separator: "/").contains("..") {
            throw LiteProofError(.usage, "refusing to write \(path) from the bucket into \(destination)")
        }
        let summary = Locked(Summary())
        let entries = Locked([String: Entry]())
        let failures = Locked([String]())
        let next = Locked(0)
        summary.withLock { $0.files = objects.count }

        let recorder = ManifestRecorder(
            folder: destination, source: storage.location, partialTo: only?.position.description)
        let workers = min(storage.concurrency, max(1, objects.count))
        // Joined threads (see ``JoinableThread``): none outlives this call, so none releases the
        // storage (its client and URL session) while the process exits.
        let work: @Sendable () -> Void = {
            while true {
                let i = next.withLock { n -> Int in
                    n += 1
                    return n - 1
                }
                guard i < objects.count else { return }
                let (path, o) = objects[i]
                let local = destination + "/" + path
                if FS.fileSize(local) == o.size,
                    previous[path].map({ $0.size == o.size && $0.etag == o.etag })
                        ?? (FS.modificationTime(local).map { abs($0 - o.lastModified) < 1e-5 } ?? false)
                {
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
                        } else if let bytes = storage.downloadedBytes(path), Int64(bytes.count) == o.size {
                            FS.remove(partial)
                            let file = try ScratchSpace.createFile(partial, mode: 0o644)
                            try bytes.withUnsafeBytes { try file.write($0, at: 0) }
                            ScratchSpace.keep(partial)
                        } else {
                            try storage.store.download(key: o.key, to: partial, expectedSize: o.size)
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
                        recorder.record(entries)
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
        try recorder.write(entries.withLock { $0 })
        let failed = failures.withLock { $0 }
        if !failed.isEmpty {
            throw LiteProofError(
                .storage(.transfer),
                "\(failed.count) of \(objects.count) files could not be fetched (run again to resume): \(failed.prefix(3).joined(separator: "; "))")
        }
        return summary.withLock { $0 }
    }

    /// Writes the manifest (to a temporary file, then renamed over it) as files finish: after
    /// each, unless the last write is so recent that writing again would cost more than a twentieth
    /// of the time (a resumed run also finds the files finished since by their time).
    // @unchecked: every access to the entries and the last write's time takes `lock`.
    final class ManifestRecorder: @unchecked Sendable {
        let folder: String
        let source: String
        let partialTo: String?
        private let lock = NSLock()
        private var lastWrite = Date.distantPast
        private var lastCost = 0.0

        init(folder: String, source: String, partialTo: String?) {
            self.folder = folder
            self.source = source
            self.partialTo = partialTo
        }

        func record(_ entries: Locked<[String: Entry]>) {
            lock.lock()
            defer { lock.unlock() }
            guard Date().timeIntervalSince(lastWrite) >= lastCost * 20 else { return }
            try? writeLocked(entries.withLock { $0 })
        }

        func write(_ entries: [String: Entry]) throws {
            lock.lock()
            defer { lock.unlock() }
            try writeLocked(entries)
        }

        private func writeLocked(_ entries: [String: Entry]) throws {
            let start = Date()
            let manifest = Manifest(
                source: source, fetched: LiteProof.formatTime(start.timeIntervalSince1970), files: entries.values.sorted { $0.path < $1.path },
                partialTo: partialTo)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let tmp = folder + "/" + ObjectFetch.manifestName + ".tmp"
            FS.remove(tmp)
            let file = try ScratchSpace.createFile(tmp, mode: 0o644)
            let data = try encoder.encode(manifest)
            try data.withUnsafeBytes { try file.write($0, at: 0) }
            try file.sync()
            guard rename(tmp, folder + "/" + ObjectFetch.manifestName) == 0 else {
                ScratchSpace.release(tmp)
                throw LiteProofError.storage(.local, "cannot write \(folder)/\(ObjectFetch.manifestName)")
            }
            ScratchSpace.keep(tmp)
            lastWrite = Date()
            lastCost = lastWrite.timeIntervalSince(start)
        }
    }

    static func entry(_ path: String, _ o: RemoteObject) -> Entry {
        Entry(path: path, key: o.key, size: o.size, etag: o.etag, lastModified: LiteProof.formatTime(o.lastModified), modified: o.lastModified)
    }

    static func setTime(_ path: String, _ seconds: Double) {
        let whole = seconds.rounded(.down)
        var times = [
            timespec(tv_sec: Int(whole), tv_nsec: Int((seconds - whole) * 1e9)),
            timespec(tv_sec: Int(whole), tv_nsec: Int((seconds - whole) * 1e9)),
        ]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }
}
